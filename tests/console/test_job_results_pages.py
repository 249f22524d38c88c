"""The console's job page parts for looking at results, through Django's test client: the log download (who may
have it, what it holds), the data "Run again" and "Open in workbench" use, and the scripts the pages load."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone

from jobs.logstore import LogEntry, log_append, log_read
from jobs.models import Job, JobLogLine, JobStatus
from jobs.services import JobSpec, job_submit, job_transition

pytestmark = pytest.mark.django_db

CHART_JS = "console/vendor/chartjs-4.6.2/chart.umd.min.js"


def make_job(owner, code="print('hi')", engine="python-python3", run_type="python", **spec) -> Job:
    return job_submit(owner=owner, spec=JobSpec(code=code, engine_type=engine, run_type=run_type, **spec))


def finish(job: Job) -> Job:
    assert job_transition(job_id=job.pk, to=JobStatus.SCHEDULED)
    assert job_transition(job_id=job.pk, to=JobStatus.RUNNING, started_at=timezone.now())
    assert job_transition(job_id=job.pk, to=JobStatus.SUCCEED)
    job.refresh_from_db()
    return job


def body(response) -> str:
    assert response.status_code == 200, response.status_code
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8")


def rerun_data(page: str) -> dict | None:
    match = re.search(r'<script id="job-rerun" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(match.group(1)) if match else None


# --- the log download -------------------------------------------------------------------------------------------
def test_log_download_is_the_whole_log_as_text(client, user):
    job = make_job(user, code="print('ünïcode')")
    log_append(job_id=job.pk, entries=[LogEntry("INFO", "first"), LogEntry("WARN", "second\nthird")])
    log_append(job_id=job.pk, entries=[LogEntry("ERROR", "last")])
    client.force_login(user)
    response = client.get(f"/console/jobs/{job.pk}/log.txt")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="job-{job.pk}.log"'
    assert response["X-Content-Type-Options"] == "nosniff"
    text = body(response)
    stored = [line for _, _, line in log_read(job_id=job.pk)]
    assert text == "".join(f"{line}\n" for line in stored)
    assert "print('ünïcode')" in text  # the code echoed at submission
    lines = text.splitlines()
    assert [line.split(" ", 2)[2] for line in lines[-4:]] == ["INFO first", "WARN second", "WARN third", "ERROR last"]


def test_log_download_reads_a_long_log_page_by_page(client, user, settings):
    settings.JOB_LOG_MAX_LINES = 20_000
    job = make_job(user)
    before = len(log_read(job_id=job.pk))
    log_append(job_id=job.pk, entries=[LogEntry("INFO", "\n".join(f"line {n}" for n in range(12_000)))])
    client.force_login(user)
    lines = body(client.get(f"/console/jobs/{job.pk}/log.txt")).splitlines()
    assert len(lines) == before + 12_000
    assert lines[before].endswith(" INFO line 0") and lines[-1].endswith(" INFO line 11999")


def test_log_download_of_an_empty_log(client, user):
    job = make_job(user)
    JobLogLine.objects.filter(job_id=job.pk).delete()
    client.force_login(user)
    assert body(client.get(f"/console/jobs/{job.pk}/log.txt")) == ""


def test_log_download_is_for_the_owner_and_admins_only(client, user, other_user, admin_user):
    job = make_job(other_user)
    log_append(job_id=job.pk, entries=[LogEntry("INFO", "bob's secret")])
    assert client.get(f"/console/jobs/{job.pk}/log.txt").status_code == 302  # to the login page
    client.force_login(user)
    assert client.get(f"/console/jobs/{job.pk}/log.txt").status_code == 404
    assert client.get("/console/jobs/999999/log.txt").status_code == 404
    client.force_login(other_user)
    assert "bob's secret" in body(client.get(f"/console/jobs/{job.pk}/log.txt"))
    client.force_login(admin_user)
    assert "bob's secret" in body(client.get(f"/console/jobs/{job.pk}/log.txt"))


def test_log_download_answers_get_only(client, user):
    job = make_job(user)
    client.force_login(user)
    assert client.post(f"/console/jobs/{job.pk}/log.txt").status_code == 405


# --- the job page -----------------------------------------------------------------------------------------------
def test_job_page_has_log_tools_stages_and_rerun(client, user):
    job = finish(
        make_job(
            user,
            code="print('</script><b>')",
            params={"variable": {"day": "2024-01-01"}},
            labels={"engineType": "python-python3", "userCreator": "alice-nightly", "codeType": "python"},
            creator="nightly",
        )
    )
    client.force_login(user)
    page = client.get(f"/console/jobs/{job.pk}/").content.decode()
    for testid in ("log-search", "log-level", "log-count", "log-download", "job-stages", "rerun-button"):
        assert f'data-testid="{testid}"' in page, testid
    assert f'href="/console/jobs/{job.pk}/log.txt" download' in page
    assert f'href="/console/?from={job.pk}"' in page
    assert re.search(r'<ol id="job-stages"[^>]*hidden>', page)
    # The data of "Run again", escaped for the page (the code cannot end the script element).
    assert "</script><b>" not in page
    assert rerun_data(page) == {
        "code": "print('</script><b>')",
        "runType": "python",
        "labels": {"engineType": "python-python3", "userCreator": "alice-nightly", "codeType": "python"},
        "params": {"variable": {"day": "2024-01-01"}},
        "engine": "python",
    }
    assert page.index(CHART_JS) < page.index("console/results.js")


def test_rerun_labels_name_the_engine_and_creator_when_the_job_had_none(client, user):
    job = make_job(user, code="echo hi", engine="shell-1", run_type="sh")
    Job.objects.filter(pk=job.pk).update(labels={})
    client.force_login(user)
    data = rerun_data(client.get(f"/console/jobs/{job.pk}/").content.decode())
    assert data["labels"] == {"engineType": "shell-1", "userCreator": "alice-IDE"}
    assert data["engine"] == "shell" and data["runType"] == "sh" and data["params"] == {}


def test_a_job_a_platform_service_started_is_not_offered_to_run_again(client, user):
    job = make_job(user)
    Job.objects.filter(pk=job.pk).update(env={"APP_CONFIG": "/srv/app.json"})
    client.force_login(user)
    page = client.get(f"/console/jobs/{job.pk}/").content.decode()
    assert rerun_data(page) is None
    assert 'data-testid="rerun-button"' not in page and 'data-testid="open-in-workbench"' not in page
    assert 'data-testid="log-download"' in page


def test_the_workbench_loads_chart_js_and_has_log_tools(client, user):
    client.force_login(user)
    page = client.get("/console/").content.decode()
    assert page.index(CHART_JS) < page.index("console/results.js")
    for testid in ("log-search", "log-level", "log-download", "job-stages"):
        assert f'data-testid="{testid}"' in page, testid


def test_other_pages_do_not_load_chart_js(client, user):
    client.force_login(user)
    assert CHART_JS not in client.get("/console/jobs/").content.decode()
