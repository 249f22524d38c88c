"""Requests from other sites' pages (a foreign ``Origin`` or ``Sec-Fetch-Site: cross-site``) cannot change state on
any API family, whatever authenticates them (dataplatform/api/crosssite.py); programs, which send neither header,
and the platform's own pages are unaffected."""

import json

import pytest

from featurestore.models import Database
from jobs.models import Job, JobStatus
from jobs.services import JobSpec, job_submit
from tests.accounts.factories import PASSWORD
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

EVIL = {"HTTP_ORIGIN": "http://evil.example"}
CROSS = {"HTTP_SEC_FETCH_SITE": "cross-site"}


def create_database(client, name: str, content_type: str = "text/plain", **headers):
    body = json.dumps({"mode": "offsync", "sql": f"CREATE DATABASE {name}"})
    return client.post("/dbs/default", data=body, content_type=content_type, **headers)


@pytest.mark.parametrize("headers", [EVIL, CROSS, {"HTTP_ORIGIN": "null"}, {"HTTP_ORIGIN": "http://testserver:8080"}],
                         ids=["origin", "sec-fetch-site", "null-origin", "other-port"])  # fmt: skip
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/json"])
def test_feature_store_writes_from_another_site_are_refused(client, headers, content_type):
    response = create_database(client, "evil", content_type, **headers)
    assert response.status_code == 200  # the APIServer's errors are all HTTP 200
    assert response.json()["code"] == -1 and "CSRF Failed" in response.json()["msg"]
    assert not Database.objects.filter(name="evil").exists()


def test_programs_and_the_platforms_own_pages_still_write(client):
    assert create_database(client, "from_curl", "application/json").json()["code"] == 0
    same = {"HTTP_ORIGIN": "http://testserver", "HTTP_SEC_FETCH_SITE": "same-origin"}
    assert create_database(client, "from_console", "application/json", **same).json()["code"] == 0
    assert set(Database.objects.values_list("name", flat=True)) >= {"from_curl", "from_console"}


def test_trusted_origins_may_write(client, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://portal.example"]
    response = create_database(client, "portal", "application/json", HTTP_ORIGIN="https://portal.example")
    assert response.json()["code"] == 0


def test_a_foreign_origin_is_refused_even_with_a_token(client, user):
    response = client.post(
        "/api/rest_j/v1/entrance/submit",
        {"executionContent": {"code": "print(1)", "runType": "python"}, "labels": {"engineType": "python-python3"}},
        content_type="application/json", **EVIL, **bearer(user),
    )  # fmt: skip
    assert response.status_code == 412 and response.json()["status"] == 2
    assert not Job.objects.exists()


def test_cdap_and_openpai_writes_from_another_site_are_refused(client, admin_user):
    response = client.put("/v3/namespaces/evil", data="", content_type="text/plain", **CROSS, **bearer(admin_user))
    assert response.status_code == 403 and "CSRF Failed" in response.content.decode()
    response = client.post("/api/v1/jobs", data="{}", content_type="text/plain", **EVIL)
    assert response.status_code == 403 and response.json()["code"] == "ForbiddenUserError"


def _running_job(user) -> Job:
    job = job_submit(owner=user, spec=JobSpec(code="sleep 60", engine_type="shell-1", run_type="sh"))
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    return job


def test_a_kill_by_get_is_refused_for_a_cookie_session_from_another_site(client, user):
    job = _running_job(user)
    assert client.login(username="alice", password=PASSWORD)
    response = client.get(f"/api/rest_j/v1/entrance/{job.pk}/kill", **CROSS)
    assert response.status_code == 412 and response.json()["status"] == 2
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.kill_requested_at is None
    # the same GET from the platform's own page, or with no browser header at all, still kills
    response = client.get(f"/api/rest_j/v1/entrance/{job.pk}/kill", HTTP_SEC_FETCH_SITE="same-origin")
    assert response.json()["status"] == 0
    job.refresh_from_db()
    assert job.kill_requested_at is not None


def test_a_kill_by_get_with_a_token_keeps_working_as_linkis_documents(client, user):
    job = _running_job(user)
    response = client.get(f"/api/rest_j/v1/entrance/{job.pk}/kill", **CROSS, **bearer(user))
    assert response.json()["status"] == 0


def test_a_cross_site_logout_by_get_is_refused(client, user):
    login = client.post("/api/rest_j/v1/user/login", {"userName": "alice", "password": PASSWORD},
                        content_type="application/json")  # fmt: skip
    assert login.json()["status"] == 0
    assert client.get("/api/rest_j/v1/user/logout", **CROSS).status_code == 412
    assert client.get("/api/rest_j/v1/user/userInfo").json()["status"] == 0  # still logged in
