"""The duckdb engine returns time-zone-aware values: DuckDB hands TIMESTAMPTZ to Python through pytz."""

import datetime as dt

import pytest

from jobs.models import JobStatus
from tests.conftest import bearer
from tests.jobs.conftest import log_text, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

E = "/api/rest_j/v1/entrance"
FS = "/api/rest_j/v1/filesystem"


def test_timestamptz_values_make_a_table_result(client, user, runner):
    code = "select now() as t, TIMESTAMPTZ '2026-01-02 03:04:05+00' as fixed, now() - now() as zero;"
    body = {"executionContent": {"code": code, "runType": "sql"}, "labels": {"engineType": "duckdb"}}
    response = client.post(f"{E}/submit", body, content_type="application/json", **bearer(user))
    assert response.json()["status"] == 0, response.json()
    job = wait_for(response.json()["data"]["taskID"])
    assert job.status == JobStatus.SUCCEED, log_text(job.pk)
    assert "No module named" not in log_text(job.pk)

    tree = client.get(f"{FS}/getDirFileTrees?path=file://{job.result_dir}", **bearer(user)).json()["data"]
    path = tree["dirFileTrees"]["children"][-1]["path"]
    result = client.get(f"{FS}/openFile?path={path}", **bearer(user)).json()["data"]
    columns = [(column["columnName"], column["dataType"]) for column in result["metadata"]]
    assert columns[:2] == [("t", "timestamp"), ("fixed", "timestamp")]
    [[now, fixed, _]] = result["fileContent"]
    # Rendered in the session's time zone, whatever it is: compare instants, not text.
    assert dt.datetime.fromisoformat(fixed) == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    started = dt.datetime.fromisoformat(now)
    assert started.tzinfo is not None and abs(started - job.started_at) < dt.timedelta(minutes=5)
