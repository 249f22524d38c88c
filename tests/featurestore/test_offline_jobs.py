"""offasync statements run as jobs of the job core; SHOW JOBS, SHOW JOB and STOP JOB as upstream answers them."""

import json

import pytest

from jobs.models import JobStatus
from tests.conftest import bearer
from tests.jobs.conftest import log_text, wait_for

JOB_COLUMNS = [
    "Int32", "String", "String", "Timestamp", "Timestamp", "String", "String", "String", "String", "String", "String",
    "Int32", "String", "String",
]  # fmt: skip


def sql(client, text, mode="offsync", user=None, db="fs"):
    headers = bearer(user) if user is not None else {}
    body = json.dumps({"mode": mode, "sql": text})
    response = client.post(f"/dbs/{db}", body, content_type="application/json", **headers)
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def fs(client, runner, settings, tmp_path, monkeypatch):
    root = tmp_path / "files"
    root.mkdir()
    settings.FEATURESTORE_FILE_ROOTS = [str(root)]
    settings.FEATURESTORE_OFFLINE_DIR = tmp_path / "offline"
    # The sql engine's process (platform code) reads the platform's settings from the environment, as the server.
    monkeypatch.setenv("FEATURESTORE_FILE_ROOTS", str(root))
    monkeypatch.setenv("FEATURESTORE_OFFLINE_DIR", str(tmp_path / "offline"))
    (root / "rows.csv").write_text("k,v,ts\na,1,1000\na,2,2000\nb,3,1500\n")
    assert sql(client, "CREATE DATABASE fs")["code"] == 0
    assert sql(client, "CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))")["code"] == 0
    return root


def test_offasync_load_and_export_are_jobs_with_upstreams_job_rows(client, user, fs):
    answer = sql(client, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1", mode="offasync", user=user)
    assert answer["code"] == 0 and answer["data"]["schema"] == JOB_COLUMNS
    (row,) = answer["data"]["data"]
    assert row[1] == "ImportOfflineData" and row[5] == "LOAD DATA INFILE 'rows.csv' INTO TABLE t1"
    assert row[9] == "fs" and row[13] == "TaskManager"
    job = wait_for(row[0])
    assert job.status == JobStatus.SUCCEED, log_text(job.pk)
    assert len(sql(client, "SELECT * FROM t1", user=user)["data"]["data"]) == 3

    query = "SELECT k, sum(v) OVER w AS s FROM t1 WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"
    answer = sql(client, f"{query} INTO OUTFILE 'out'", mode="offasync", user=user)
    job = wait_for(answer["data"]["data"][0][0])
    assert job.status == JobStatus.SUCCEED and answer["data"]["data"][0][1] == "ExportOfflineData"
    assert "3 rows written to out (compiled to DuckDB SQL)" in log_text(job.pk)
    assert next((fs / "out").iterdir()).read_text().splitlines() == ["k,s", "a,1", "a,3", "b,3"]

    shown = sql(client, f"SHOW JOB {job.pk}", user=user)["data"]["data"]
    assert shown[0][:3] == [job.pk, "ExportOfflineData", "FINISHED"] and shown[0][3] is not None
    assert [r[0] for r in sql(client, "SHOW JOBS", user=user)["data"]["data"]] == [row[0], job.pk]
    assert sql(client, "SHOW JOBS FROM NAMESERVER", user=user)["data"]["data"] == []
    log = sql(client, f"SHOW JOBLOG {job.pk}", user=user)["data"]["data"][0][0]
    assert "3 rows written to out (compiled to DuckDB SQL)" in log


def test_jobs_are_the_callers_own_and_ids_must_parse(client, user, other_user, fs):
    answer = sql(client, "SELECT * FROM t1", mode="offasync", user=user)
    job_id = answer["data"]["data"][0][0]
    wait_for(job_id)
    assert sql(client, "SHOW JOBS", user=other_user)["data"]["data"] == []
    assert sql(client, f"SHOW JOB {job_id}", user=other_user) == {"code": 2000, "msg": f"Job not found: {job_id}"}
    assert sql(client, f"STOP JOB {job_id}", user=other_user) == {"code": 2000, "msg": f"Job not found: {job_id}"}
    assert sql(client, "SHOW JOB abc", user=user) == {"code": 2000, "msg": "Failed to parse job id: abc"}
    # STOP JOB of a finished job leaves it as it is and answers its row
    assert sql(client, f"STOP JOB {job_id}", user=user)["data"]["data"][0][2] == "FINISHED"


def test_anonymous_offasync_runs_as_the_service_account_or_is_refused(client, user, fs, settings):
    answer = sql(client, "SELECT * FROM t1", mode="offasync")
    job = wait_for(answer["data"]["data"][0][0])
    assert job.owner.username == settings.OPENMLDB_SERVICE_ACCOUNT == "openmldb"
    assert not job.owner.has_usable_password() and not job.owner.is_admin
    assert [r[0] for r in sql(client, "SHOW JOBS")["data"]["data"]] == [job.pk]
    assert sql(client, "SHOW JOBS", user=user)["data"]["data"] == []
    settings.OPENMLDB_ALLOW_ANONYMOUS = False
    answer = sql(client, "SELECT * FROM t1", mode="offasync")
    assert answer["code"] != 0
