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


def test_kill_action(admin_client, job):
    response = admin_client.post("/admin/jobs/job/", {"action": "kill_jobs", "_selected_action": [job.pk]}, follow=True)
    assert response.status_code == 200 and b"Asked to kill 1 job(s)." in response.content
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.kill_requested_by == "root"


def test_kill_action_on_a_finished_job_warns(admin_client, job):
    job_transition(job_id=job.pk, to=JobStatus.FAILED)
    response = admin_client.post("/admin/jobs/job/", {"action": "kill_jobs", "_selected_action": [job.pk]}, follow=True)
    assert b"The job already completed" in response.content
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED
