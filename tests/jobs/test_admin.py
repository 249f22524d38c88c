"""Jobs in the admin: list with filters, the job page with log and results, the kill action."""

import pytest

from jobs.engines.resultset import ResultSetWriter
from jobs.models import Job, JobStatus
from jobs.services import JobSpec, job_submit, job_transition
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    assert client.post("/admin/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


@pytest.fixture
def job(user):
    return job_submit(owner=user, spec=JobSpec(code="print('admin view')", engine_type="python", run_type="python"))


def test_list_with_filters(admin_client, job, user):
    other = job_submit(owner=user, spec=JobSpec(code="echo x", engine_type="shell", run_type="sh"))
    job_transition(job_id=other.pk, to=JobStatus.CANCELLED)
    response = admin_client.get("/admin/jobs/job/")
    assert response.status_code == 200 and f">{job.pk}<".encode() in response.content
    response = admin_client.get("/admin/jobs/job/?status__exact=Cancelled")
    assert f"/admin/jobs/job/{other.pk}/change/".encode() in response.content
    assert f"/admin/jobs/job/{job.pk}/change/".encode() not in response.content
    response = admin_client.get("/admin/jobs/job/?engine__exact=python&submit_user=alice")
    assert f"/admin/jobs/job/{job.pk}/change/".encode() in response.content


def test_job_page_shows_log_and_results(admin_client, job):
    with ResultSetWriter.table(job.result_dir, [("name", "string"), ("n", "int")]) as writer:
        writer.write_row(["<b>x</b>", 1])
    response = admin_client.get(f"/admin/jobs/job/{job.pk}/change/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "print(&#x27;admin view&#x27;)" in text and "SCRIPT CODE" in text
    assert "_0.dolphin" in text and "&lt;b&gt;x&lt;/b&gt;" in text  # escaped, not rendered


def kill(client, job, confirmed=True):
    data = {"action": "kill_jobs", "_selected_action": [job.pk], **({"post": "yes"} if confirmed else {})}
    return client.post("/admin/jobs/job/", data, follow=True)


def test_kill_action_asks_first_then_kills_and_logs_it(admin_client, job):
    asked = kill(admin_client, job, confirmed=False)
    page = asked.content.decode()
    assert asked.status_code == 200 and "Kill these 1 job?" in page
    assert f"Job {job.pk}</a> (python, alice): Inited" in page
    assert '<input type="hidden" name="post" value="yes">' in page
    assert Job.objects.get(pk=job.pk).status == JobStatus.INITED  # nothing happened yet
    response = kill(admin_client, job)
    assert response.status_code == 200 and b"Asked to kill 1 job(s)." in response.content
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.kill_requested_by == "root"
    history = admin_client.get(f"/admin/jobs/job/{job.pk}/history/").content.decode()
    assert "Asked to kill the job." in history


def test_job_page_shows_code_as_code_and_json_pretty(admin_client, user):
    code = "def f():\n    if True:\n        return 1\n"
    job = job_submit(owner=user, spec=JobSpec(code=code, engine_type="python", run_type="python", params={"a": [1]}))
    text = admin_client.get(f"/admin/jobs/job/{job.pk}/change/").content.decode()
    assert "def f():\n    if True:\n        return 1\n</pre>" in text and "<br>" not in text.split("job-code")[1][:200]
    assert "&quot;a&quot;: [\n    1\n  ]" in text  # indented JSON, escaped


def test_deleting_a_job_summarises_its_log_lines(admin_client, job):
    from jobs.logstore import LogEntry, log_append

    log_append(job_id=job.pk, entries=[LogEntry("INFO", f"line {i}") for i in range(500)], publish=False)
    page = admin_client.post("/admin/jobs/job/", {"action": "delete_selected", "_selected_action": [job.pk]}).content
    text = page.decode()
    assert "line 17" not in text and "job log lines" in text and f"Job {job.pk}" in text
    single = admin_client.get(f"/admin/jobs/job/{job.pk}/delete/").content.decode()
    assert "line 17" not in single and "job log lines" in single
    admin_client.post(f"/admin/jobs/job/{job.pk}/delete/", {"post": "yes"})
    assert not Job.objects.filter(pk=job.pk).exists()


def test_kill_action_on_a_finished_job_warns(admin_client, job):
    job_transition(job_id=job.pk, to=JobStatus.FAILED)
    response = kill(admin_client, job)
    assert b"The job already completed" in response.content
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED
