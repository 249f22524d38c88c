"""The console's job pages (list, job page, CSV download of a result set) and OpenPAI pages, through Django's test
client: who sees what, filters, paging, the markup the browser scripts and tests rely on, and escaping."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from django.utils import timezone

from jobs.engines.resultset import ResultSetWriter, iter_resultset
from jobs.models import Job, JobStatus, PaiJob
from jobs.openpai.services import pai_job_execute, pai_job_submit, pai_settle
from jobs.services import JobSpec, job_submit, job_transition

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def admin_console(client, admin_user):
    client.force_login(admin_user)
    return client


def make_job(owner, code="print('hi')", engine="python-python2", run_type="python", **spec) -> Job:
    return job_submit(owner=owner, spec=JobSpec(code=code, engine_type=engine, run_type=run_type, **spec))


def finish(job: Job, status=JobStatus.SUCCEED, **fields) -> Job:
    assert job_transition(job_id=job.pk, to=JobStatus.SCHEDULED)
    assert job_transition(job_id=job.pk, to=JobStatus.RUNNING, started_at=timezone.now())
    assert job_transition(job_id=job.pk, to=status, **fields)
    job.refresh_from_db()
    return job


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def by_testid(page: str, name: str) -> str:
    """The element with that data-testid, from its opening tag to its first closing tag of the same name."""
    match = re.search(rf'<(\w+)[^>]*data-testid="{name}"[^>]*>(.*?)</\1>', page, re.S)
    assert match, f"no element with data-testid={name}"
    return match.group(0)


def listed_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-testid="job-row" data-task-id="(\d+)"', page)]


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.streaming
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body)))


# --- login ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/console/jobs/",
        "/console/jobs/status/?ids=1",
        "/console/jobs/1/",
        "/console/jobs/1/results/0.csv",
        "/console/openpai/",
        "/console/openpai/alice/job1/",
    ],
)
def test_anonymous_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/?next=")


def test_nav_links_to_jobs_and_openpai(console):
    page = text(console.get("/console/jobs/"))
    assert 'href="/console/jobs/" aria-current="page"' in page
    assert 'href="/console/openpai/"' in page


# --- the job list -----------------------------------------------------------------------------------------------
def test_list_shows_own_jobs_only_newest_first(console, user, other_user):
    first, second = make_job(user), make_job(user, code="echo hi", engine="shell-1", run_type="sh")
    theirs = make_job(other_user, code="print('secret of bob')")
    page = text(console.get("/console/jobs/"))
    assert listed_ids(page) == [second.pk, first.pk]
    assert "secret of bob" not in page and f"/console/jobs/{theirs.pk}/" not in page
    assert f'href="/console/jobs/{first.pk}/"' in page
    assert '<th scope="col">Owner</th>' not in page and 'id="id_owner"' not in page
    assert "2 jobs." in by_testid(page, "jobs-count")


def test_admin_sees_everyones_jobs_with_owner(admin_console, user, other_user):
    mine, theirs = make_job(user), make_job(other_user)
    page = text(admin_console.get("/console/jobs/"))
    assert listed_ids(page) == [theirs.pk, mine.pk]
    assert '<th scope="col">Owner</th>' in page and "<td>bob</td>" in page
    assert '<label for="id_owner">Owner (username)</label>' in page


def test_list_rows_mark_unfinished_jobs_live(console, user):
    done, running = finish(make_job(user)), make_job(user)
    page = text(console.get("/console/jobs/"))
    assert f'data-task-id="{running.pk}" data-live="true"' in page
    assert f'data-task-id="{done.pk}">' in page
    assert 'data-status-url="/console/jobs/status/"' in page
    assert 'role="status" aria-live="polite"' in page
    assert "console/jobs.js" in page


def test_filters_by_status_engine_creator_and_source(console, user):
    python = finish(make_job(user))
    shell = make_job(user, code="echo x", engine="shell-1", run_type="sh", creator="nightly")
    pai = make_job(user, code="echo pai", engine="shell-1", run_type="sh", source_api=Job.SourceApi.OPENPAI)
    assert listed_ids(text(console.get("/console/jobs/?status=Succeed"))) == [python.pk]
    assert listed_ids(text(console.get("/console/jobs/?status=unfinished"))) == [pai.pk, shell.pk]
    assert listed_ids(text(console.get("/console/jobs/?engine=shell"))) == [pai.pk, shell.pk]
    assert listed_ids(text(console.get("/console/jobs/?creator=nightly"))) == [shell.pk]
    assert listed_ids(text(console.get("/console/jobs/?source=openpai"))) == [pai.pk]
    page = text(console.get("/console/jobs/?engine=shell&creator=nightly"))
    assert listed_ids(page) == [shell.pk]
    assert "1 job match the filters." in page
    assert '<option value="shell" selected>' in page and 'value="nightly"' in page  # the form keeps its values
    assert "Clear filters" in page


def test_filters_by_date_range_inclusive(console, user):
    old, today = make_job(user), make_job(user)
    Job.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=10))
    day = timezone.localdate()
    since = (day - dt.timedelta(days=1)).isoformat()
    assert listed_ids(text(console.get(f"/console/jobs/?created_from={since}"))) == [today.pk]
    until = (day - dt.timedelta(days=10)).isoformat()
    assert listed_ids(text(console.get(f"/console/jobs/?created_to={until}"))) == [old.pk]
    assert listed_ids(text(console.get(f"/console/jobs/?created_from={day}&created_to={day}"))) == [today.pk]


def test_bad_filter_values_are_reported_and_ignored(console, user):
    job = make_job(user)
    page = text(console.get("/console/jobs/?created_from=yesterday&status=Nope"))
    assert listed_ids(page) == [job.pk]
    assert 'id="id_created_from_error" role="alert"' in page and "Enter a valid date." in page
    assert 'aria-describedby="id_created_from_error"' in page and 'aria-invalid="true"' in page
    page = text(console.get("/console/jobs/?created_from=2030-01-02&created_to=2030-01-01"))
    assert "The end date is before the start date." in page


def test_owner_filter_is_for_admins_only(client, user, other_user, admin_user):
    mine, theirs = make_job(user), make_job(other_user)
    client.force_login(admin_user)
    assert listed_ids(text(client.get("/console/jobs/?owner=bob"))) == [theirs.pk]
    client.force_login(user)
    assert listed_ids(text(client.get("/console/jobs/?owner=bob"))) == [mine.pk]


def test_list_pages_by_fifty_keeping_filters(console, user):
    jobs = [make_job(user) for _ in range(52)]
    page = text(console.get("/console/jobs/?engine=python"))
    assert listed_ids(page) == [job.pk for job in reversed(jobs)][:50]
    assert 'href="?engine=python&amp;page=2"' in page and "Page 1 of 2" in page
    page = text(console.get("/console/jobs/?engine=python&page=2"))
    assert listed_ids(page) == [jobs[1].pk, jobs[0].pk]
    assert 'href="?engine=python&amp;page=1"' in page
    assert listed_ids(text(console.get("/console/jobs/?page=99"))) == [jobs[1].pk, jobs[0].pk]  # the last page


def test_empty_list(console):
    assert "No jobs yet." in by_testid(text(console.get("/console/jobs/")), "jobs-empty")


def test_list_escapes_code(console, user):
    make_job(user, code="print('<script>alert(1)</script>')")
    page = text(console.get("/console/jobs/"))
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_status_json_answers_visible_jobs_only(console, user, other_user):
    done = finish(make_job(user), JobStatus.FAILED, error_code=40000, error_desc="boom", exit_code=1)
    queued, theirs = make_job(user), make_job(other_user)
    response = console.get(f"/console/jobs/status/?ids={done.pk},{queued.pk},{theirs.pk},x")
    assert response.status_code == 200
    jobs = {job["taskID"]: job for job in response.json()["jobs"]}
    assert set(jobs) == {done.pk, queued.pk}
    assert jobs[done.pk]["status"] == "Failed" and jobs[done.pk]["final"] is True
    assert jobs[done.pk]["progress"] == 0.0 and jobs[done.pk]["error"] == "40000: boom"  # where it stopped
    assert jobs[done.pk]["exitCode"] == 1 and jobs[done.pk]["finishedAt"].endswith("UTC")
    assert jobs[queued.pk] == {
        "taskID": queued.pk,
        "status": "Inited",
        "progress": 0.0,
        "final": False,
        "startedAt": None,
        "finishedAt": None,
        "duration": "",
        "error": "",
        "exitCode": None,
    }


# --- the job page -----------------------------------------------------------------------------------------------
def test_job_page_shows_code_metadata_and_live_parts(console, user):
    job = make_job(user, code="x = 1 < 2\nprint('<b>bold</b>', x)", creator="nightly")
    page = text(console.get(f"/console/jobs/{job.pk}/"))
    assert f"<h1>Job #{job.pk}" in page
    code = by_testid(page, "job-code")
    assert code.startswith("<pre") and "x = 1 &lt; 2\nprint(&#x27;&lt;b&gt;bold&lt;/b&gt;&#x27;, x)" in code
    details = by_testid(page, "job-details")
    for expected in ("python", "python-python2", "nightly", "alice", "Linkis"):
        assert expected in details
    status = by_testid(page, "job-status")
    assert "Inited" in status and 'role="status"' in status and 'aria-live="polite"' in status
    assert 'data-testid="job-progress" max="1" value="0.0"' in page
    assert 'data-testid="job-log"' in page and 'data-testid="connection-mode"' in page
    kill = by_testid(page, "kill-button")
    assert "disabled" not in kill
    assert f'data-exec-id="{job.exec_id}"' in page and 'data-final="false"' in page
    assert "The result sets appear here when the job has finished." in page
    for script in ("console/livejob.js", "console/results.js", "console/jobpage.js"):
        assert script in page


def test_job_page_of_a_finished_job(console, user):
    job = finish(make_job(user), JobStatus.FAILED, error_code=40000, error_desc="Engine failed: <oops>", exit_code=2)
    with ResultSetWriter.text(job.result_dir) as writer:
        writer.write_line("partial")
    page = text(console.get(f"/console/jobs/{job.pk}/"))
    assert "disabled" in by_testid(page, "kill-button")
    assert 'data-final="true"' in page and 'data-result-files="1"' in page
    assert 'value="0.0"' in by_testid(page, "job-progress")  # where the failed job stopped
    assert "40000: Engine failed: &lt;oops&gt;" in by_testid(page, "job-error")
    assert "Loading the result…" in page


def test_job_page_of_a_finished_job_without_results(console, user):
    job = finish(make_job(user))
    page = text(console.get(f"/console/jobs/{job.pk}/"))
    assert 'data-result-files="0"' in page and "No result set." in page


def test_job_page_is_404_for_another_users_job(console, other_user):
    job = make_job(other_user)
    assert console.get(f"/console/jobs/{job.pk}/").status_code == 404
    assert console.get("/console/jobs/999999/").status_code == 404


def test_admin_sees_any_job_page(admin_console, other_user):
    job = make_job(other_user)
    assert "bob" in by_testid(text(admin_console.get(f"/console/jobs/{job.pk}/")), "job-details")


# --- CSV download -----------------------------------------------------------------------------------------------
def test_csv_download_of_a_table_result_set(console, user):
    job = finish(make_job(user))
    with ResultSetWriter.text(job.result_dir) as writer:
        writer.write_line("first set")
    with ResultSetWriter.table(job.result_dir, [("name", "string"), ("n", "int"), ("ok", "boolean")]) as writer:
        writer.write_row(['say "hi", all', 1, True])
        writer.write_row(["ünïcode\nline", None, False])
        writer.write_row(["x", 2.5, None])
    response = console.get(f"/console/jobs/{job.pk}/results/1.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="job-{job.pk}-result-1.csv"'
    assert csv_rows(response) == [
        ["name", "n", "ok"],
        ['say "hi", all', "1", "true"],
        ["ünïcode\nline", "NULL", "false"],
        ["x", "2.5", "NULL"],
    ]
    rows = csv_rows(console.get(f"/console/jobs/{job.pk}/results/1.csv?nullValue="))
    assert rows[2] == ["ünïcode\nline", "", "false"]


def test_csv_download_of_a_text_result_set(console, user):
    job = finish(make_job(user))
    with ResultSetWriter.text(job.result_dir) as writer:
        writer.write_line("hello, world")
        writer.write_line("second")
    assert csv_rows(console.get(f"/console/jobs/{job.pk}/results/0.csv")) == [
        ["value"],
        ["hello, world"],
        ["second"],
    ]


def test_csv_download_of_a_large_set_streams_every_row(console, user):
    job = finish(make_job(user))
    with ResultSetWriter.table(job.result_dir, [("i", "bigint")]) as writer:
        for i in range(12000):
            writer.write_row([i])
    rows = csv_rows(console.get(f"/console/jobs/{job.pk}/results/0.csv"))
    assert len(rows) == 12001 and rows[1] == ["0"] and rows[-1] == ["11999"]


def test_csv_download_is_404_when_missing_or_not_visible(client, user, other_user, admin_user):
    job = finish(make_job(other_user))
    with ResultSetWriter.text(job.result_dir) as writer:
        writer.write_line("bob's")
    client.force_login(user)
    assert client.get(f"/console/jobs/{job.pk}/results/0.csv").status_code == 404
    client.force_login(other_user)
    assert client.get(f"/console/jobs/{job.pk}/results/0.csv").status_code == 200
    assert client.get(f"/console/jobs/{job.pk}/results/1.csv").status_code == 404
    assert client.get("/console/jobs/999999/results/0.csv").status_code == 404
    client.force_login(admin_user)
    assert csv_rows(client.get(f"/console/jobs/{job.pk}/results/0.csv")) == [["value"], ["bob's"]]


def test_csv_download_refuses_a_link_out_of_the_job(console, user, other_user, tmp_path):
    theirs = finish(make_job(other_user))
    with ResultSetWriter.text(theirs.result_dir) as writer:
        writer.write_line("bob's secret")
    job = finish(make_job(user))
    job.result_dir.mkdir(parents=True)
    (job.result_dir / "_0.dolphin").symlink_to(theirs.result_dir / "_0.dolphin")
    assert console.get(f"/console/jobs/{job.pk}/results/0.csv").status_code == 404


def test_csv_download_of_a_file_that_is_not_a_result_set(console, user):
    job = finish(make_job(user))
    job.result_dir.mkdir(parents=True)
    (job.result_dir / "_0.dolphin").write_text("not json\n")
    assert console.get(f"/console/jobs/{job.pk}/results/0.csv").status_code == 404


def test_iter_resultset_reads_lazily_and_closes(tmp_path):
    with ResultSetWriter.table(tmp_path, [("a", "string"), ("b", "double")]) as writer:
        writer.write_row(["x", float("nan")])
        writer.write_row([None, 1.5])
    kind, metadata, rows = iter_resultset(tmp_path / "_0.dolphin", null_value="-")
    assert kind == "2" and [column["columnName"] for column in metadata] == ["a", "b"]
    assert next(rows) == ["x", "NaN"]
    rows.close()
    kind, metadata, rows = iter_resultset(tmp_path / "_0.dolphin")
    assert list(rows) == [["x", "NaN"], ["NULL", "1.5"]]
    (tmp_path / "_1.dolphin").write_text("")  # reserved, nothing written yet
    kind, metadata, rows = iter_resultset(tmp_path / "_1.dolphin")
    assert (kind, metadata, list(rows)) == ("1", "NULL", [])
    with pytest.raises(FileNotFoundError):
        iter_resultset(tmp_path / "_9.dolphin")


@pytest.mark.django_db(transaction=True)
def test_csv_download_of_a_real_job(client, user, runner):
    from tests.jobs.conftest import wait_for

    client.force_login(user)
    code = "show([{'name': 'a', 'n': 1}, {'name': 'b,c', 'n': None}])"
    job = wait_for(make_job(user, code=code).pk)
    assert job.status == JobStatus.SUCCEED, job.error_desc
    page = text(client.get(f"/console/jobs/{job.pk}/"))
    assert 'data-result-files="1"' in page
    assert csv_rows(client.get(f"/console/jobs/{job.pk}/results/0.csv")) == [["name", "n"], ["a", "1"], ["b,c", "NULL"]]


# --- OpenPAI ----------------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _pai_settings(settings, tmp_path):
    settings.OPENPAI_DEFAULT_FS = tmp_path / "pai"
    settings.OPENPAI_VIRTUAL_CLUSTERS = ["default"]
    settings.OPENPAI_MAX_TASKS_PER_JOB = 1000


def submit_pai(owner, name="job1", roles=None) -> PaiJob:
    config = {
        "jobName": name,
        "image": "ubuntu:16.04",
        "taskRoles": roles or [{"name": "main", "command": "echo '<hello>'", "taskNumber": 2}],
    }
    raw = json.dumps(config)
    return pai_job_submit(owner=owner, data=json.loads(raw), raw=raw)


def pai_rows(page: str) -> list[tuple[str, str]]:
    return re.findall(r'data-testid="openpai-row" data-name="([^"]+)" data-user="([^"]+)"', page)


def test_openpai_list_shows_every_users_jobs(console, user, other_user):
    submit_pai(user, "mine")
    submit_pai(other_user, "theirs")
    page = text(console.get("/console/openpai/"))
    assert pai_rows(page) == [("theirs", "bob"), ("mine", "alice")]
    assert 'href="/console/openpai/bob/theirs/"' in page
    assert "WAITING" in by_testid(page, "openpai-state")
    assert '<option value="alice">' in page and '<option value="bob">' in page  # the user filter's suggestions


def test_openpai_list_filters_by_user_and_state(console, user, other_user):
    waiting = submit_pai(user, "waiting")
    running = submit_pai(user, "running")
    task = running.tasks.first()
    assert job_transition(job_id=task.job_id, to=JobStatus.SCHEDULED)
    assert job_transition(job_id=task.job_id, to=JobStatus.RUNNING, started_at=timezone.now())
    stopped = submit_pai(other_user, "stopped")
    pai_job_execute(pai=stopped, actor=other_user, value="STOP")
    assert pai_rows(text(console.get("/console/openpai/?user=bob"))) == [("stopped", "bob")]
    assert pai_rows(text(console.get("/console/openpai/?state=RUNNING"))) == [("running", "alice")]
    assert pai_rows(text(console.get("/console/openpai/?state=WAITING"))) == [("waiting", "alice")]
    page = text(console.get("/console/openpai/?state=STOPPED"))
    assert pai_rows(page) == [("stopped", "bob")] and '<td class="num">214</td>' in page
    assert pai_rows(text(console.get("/console/openpai/?user=alice&state=STOPPED"))) == []
    assert waiting.pk and "No OpenPAI job matches the filters." in text(console.get("/console/openpai/?user=nobody"))


def test_openpai_job_page_for_the_owner(console, user):
    pai = submit_pai(
        user, roles=[{"name": "ps", "command": "echo ps"}, {"name": "worker", "command": "echo '<w>'", "taskNumber": 2}]
    )
    page = text(console.get(f"/console/openpai/alice/{pai.name}/"))
    assert "WAITING" in by_testid(page, "openpai-job-state")
    status = by_testid(page, "openpai-job-status")
    assert "FRAMEWORK_WAITING" in status and "START" in status and "application_" in status
    assert [m for m in re.findall(r'data-testid="task-role" data-role="([^"]+)"', page)] == ["ps", "worker"]
    rows = re.findall(r'data-testid="task-row" data-role="([^"]+)" data-index="(\d+)"', page)
    assert rows == [("ps", "0"), ("worker", "0"), ("worker", "1")]
    task = pai.tasks.get(role="worker", index=1)
    assert f'href="/console/jobs/{task.job_id}/"' in page
    assert f'data-log-url="/api/v1/user/alice/jobs/{pai.name}/tasks/worker/1/log"' in page
    assert "echo &#x27;&lt;w&gt;&#x27;" in page  # the command, escaped
    assert "disabled" not in by_testid(page, "openpai-stop-button")
    assert 'data-api-url="/api/v1/user/alice/jobs/job1"' in page
    assert "console/openpai.js" in page
    assert 'data-testid="task-log-denied"' not in page
    # The port of each task is shown.
    ports = task.ports["default"][0]
    assert f"default: {ports}" in page


def test_openpai_job_page_for_another_user(client, user, other_user):
    pai = submit_pai(other_user)
    client.force_login(user)
    page = text(client.get(f"/console/openpai/bob/{pai.name}/"))
    assert 'data-testid="openpai-stop-button"' not in page and 'data-testid="task-log-button"' not in page
    assert "only by the job's owner (bob) or an admin" in by_testid(page, "task-log-denied")
    task = pai.tasks.first()
    assert f"#{task.job_id}" in page and f'href="/console/jobs/{task.job_id}/"' not in page


def test_openpai_job_page_for_an_admin(admin_console, other_user):
    pai = submit_pai(other_user)
    page = text(admin_console.get(f"/console/openpai/bob/{pai.name}/"))
    assert 'data-testid="openpai-stop-button"' in page and 'data-testid="task-log-button"' in page


def test_openpai_finished_job_page(console, user):
    pai = submit_pai(user)
    for task in pai.tasks.all():
        assert job_transition(job_id=task.job_id, to=JobStatus.SCHEDULED)
        assert job_transition(job_id=task.job_id, to=JobStatus.RUNNING, started_at=timezone.now())
        assert job_transition(job_id=task.job_id, to=JobStatus.FAILED, exit_code=3)
    pai_settle(pai_job_id=pai.pk)
    page = text(console.get(f"/console/openpai/alice/{pai.name}/"))
    assert "FAILED" in by_testid(page, "openpai-job-state")
    assert "disabled" in by_testid(page, "openpai-stop-button")
    assert 'data-final="true"' in page
    assert '<td class="num" data-field="containerExitCode">3</td>' in page
    # No task succeeded: the bar shows 0%, not OpenPAI's appProgress of 1.0 for an ended job.
    assert 'data-status="FAILED"' in page and 'value="0.0"' in page and ">0%</progress>" in page


def test_a_stopped_openpai_job_shows_the_share_of_tasks_that_succeeded(console, user):
    pai = submit_pai(user)
    first, second = pai.tasks.order_by("index")
    for task in (first, second):
        assert job_transition(job_id=task.job_id, to=JobStatus.SCHEDULED)
        assert job_transition(job_id=task.job_id, to=JobStatus.RUNNING, started_at=timezone.now())
    assert job_transition(job_id=first.job_id, to=JobStatus.SUCCEED, exit_code=0)
    pai_job_execute(pai=PaiJob.objects.get(pk=pai.pk), actor=user, value="STOP")
    assert job_transition(job_id=second.job_id, to=JobStatus.CANCELLED)  # what the runner does on the kill
    pai_settle(pai_job_id=pai.pk)
    page = text(console.get(f"/console/openpai/alice/{pai.name}/"))
    assert "STOPPED" in by_testid(page, "openpai-job-state")
    assert 'value="0.5"' in page and ">50%</progress>" in page


def test_openpai_job_page_is_404_for_an_unknown_job(console, user):
    submit_pai(user)
    assert console.get("/console/openpai/alice/nope/").status_code == 404
    assert console.get("/console/openpai/bob/job1/").status_code == 404


def test_job_page_of_an_openpai_task_links_back(console, user):
    pai = submit_pai(user)
    task = pai.tasks.get(index=1)
    page = text(console.get(f"/console/jobs/{task.job_id}/"))
    assert f'href="/console/openpai/alice/{pai.name}/"' in page and "index 1" in page


def test_failed_and_cancelled_jobs_show_where_they_stopped(console, user, admin_client):
    from jobs import services

    stopped = {}
    for status in (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SUCCEED):
        job = make_job(user)
        services.job_transition(job_id=job.pk, to=JobStatus.SCHEDULED)
        services.job_transition(job_id=job.pk, to=JobStatus.RUNNING)
        services.job_report_progress(job_id=job.pk, progress=0.4)
        services.job_transition(job_id=job.pk, to=status)
        job.refresh_from_db()
        stopped[status] = job
    assert stopped[JobStatus.FAILED].progress == 0.4 and stopped[JobStatus.CANCELLED].progress == 0.4
    assert stopped[JobStatus.SUCCEED].progress == 1.0
    ids = ",".join(str(job.pk) for job in stopped.values())
    shown = {job["status"]: job["progress"] for job in console.get(f"/console/jobs/status/?ids={ids}").json()["jobs"]}
    assert shown == {"Failed": 0.4, "Cancelled": 0.4, "Succeed": 1.0}
    listed = text(console.get("/console/jobs/"))
    assert '<td class="num progress-Failed" data-field="progress">40%</td>' in listed
    assert '<td class="num progress-Cancelled" data-field="progress">40%</td>' in listed
    assert '<td class="num progress-Succeed" data-field="progress">100%</td>' in listed
    page = text(console.get(f"/console/jobs/{stopped[JobStatus.CANCELLED].pk}/"))
    assert 'data-status="Cancelled"' in page and 'value="0.4"' in page and ">40%</progress>" in page
    admin_list = admin_client.get("/admin/jobs/job/").content.decode()
    assert (
        '<span style="color: #9a6700">40%</span>' in admin_list
        and '<span style="color: #b42318">40%</span>' in admin_list
    )
    # Linkis's own wire keeps upstream's shape: an ended job's progress is 1.0.
    linkis = console.get(f"/api/rest_j/v1/entrance/{stopped[JobStatus.FAILED].exec_id}/progress").json()
    assert linkis["data"]["progress"] == 1.0


def test_the_workbench_names_python_3(console):
    page = text(console.get("/console/"))
    assert 'data-engine-type="python-python3"' in page and "python (python-python3)" in page
    assert "python2" not in page
