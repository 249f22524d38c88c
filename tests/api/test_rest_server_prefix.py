"""OpenPAI's routes under ``/rest-server/``, where OpenPAI's pylon proxy serves the REST server (issue 16, item 11).

openpaisdk (microsoft/pai ``contrib/python-sdk``, v0.14.0, ``openpaisdk/cluster.py`` ``ClusterClient``) builds
every URL as ``{pai_uri}/rest-server/api/...``; its ``utils.get_response`` sends ``json=body`` whatever the method
(so its GETs carry ``{}`` as a JSON body) and accepts only the listed statuses. The requests below are those it
sends: ``rest_api_token`` (``POST /rest-server/api/v1/token`` with ``{username, password, expiration}``),
``rest_api_submit`` of a v1 job (``POST /rest-server/api/v1/user/{user}/jobs``, Bearer, 201 or 202) and
``rest_api_jobs`` (``GET /rest-server/api/v1/user/{user}/jobs[/{job}[/config|/ssh]]``, no token).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from django.test import Client

from dataplatform.accounts.models import User
from jobs.models import Job, PaiJob
from tests.accounts.factories import PASSWORD
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

NO_API = "NoApiError"


@pytest.fixture(autouse=True)
def _pai_settings(settings, tmp_path):
    settings.OPENPAI_DEFAULT_FS = tmp_path / "pai"
    settings.OPENPAI_VIRTUAL_CLUSTERS = ["default"]


def job_config(name: str = "sdk_job") -> dict:
    """A v1 job config as the SDK submits it (``Job.get_config``: the JSON protocol without ``protocolVersion``)."""
    return {
        "jobName": name,
        "image": "ubuntu:16.04",
        "taskRoles": [{"name": "main", "taskNumber": 1, "cpuNumber": 1, "memoryMB": 512, "command": "echo hi"}],
    }


def sdk(client: Client, method: str, path: str, body=None, headers: dict | None = None):
    """``openpaisdk.utils.get_response``: ``json=body`` (default ``{}``), with the SDK's headers."""
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in (headers or {}).items()}
    content_type = (headers or {}).get("Content-Type", "application/json")
    extra.pop("HTTP_CONTENT_TYPE", None)
    return client.generic(method, path, json.dumps(body if body is not None else {}), content_type, **extra)


def test_the_sdks_token_submit_and_queries_work_under_rest_server(user):
    client = Client()
    token_response = sdk(
        client, "POST", "/rest-server/api/v1/token", {"username": "alice", "password": PASSWORD, "expiration": 3600}
    )
    assert token_response.status_code == 200
    body = token_response.json()
    assert set(body) == {"user", "token", "admin"} and body["user"] == "alice" and body["admin"] is False
    token = body["token"]

    config = job_config()
    submit = sdk(
        client, "POST", "/rest-server/api/v1/user/alice/jobs", config,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert submit.status_code == 202
    assert submit.json() == {"message": "update job sdk_job successfully"}
    pai = PaiJob.objects.get()
    assert (pai.owner, pai.name, pai.virtual_cluster) == (user, "sdk_job", "default")
    assert Job.objects.filter(owner=user).count() == 1

    listed = sdk(client, "GET", "/rest-server/api/v1/user/alice/jobs", headers={})
    assert listed.status_code == 200
    assert [item["name"] for item in listed.json()] == ["sdk_job"]
    detail = sdk(client, "GET", "/rest-server/api/v1/user/alice/jobs/sdk_job", headers={})
    assert detail.status_code == 200
    assert detail.json()["name"] == "sdk_job" and detail.json()["jobStatus"]["state"] == "WAITING"
    stored = sdk(client, "GET", "/rest-server/api/v1/user/alice/jobs/sdk_job/config", headers={})
    assert (stored.status_code, stored.json()) == (200, config)
    ssh = sdk(client, "GET", "/rest-server/api/v1/user/alice/jobs/sdk_job/ssh", headers={})
    assert ssh.status_code == 404 and ssh.json()["code"] == "NoJobSshInfoError"

    # the same requests without the prefix answer the same
    job = "/api/v1/user/alice/jobs/sdk_job"
    for path in ("/api/v1/user/alice/jobs", job, job + "/config", job + "/ssh", "/api/v1/jobs", "/api/v1", "/api/job",
                 "/api/job/sdk_job"):  # fmt: skip
        direct, prefixed = client.get(path), client.get("/rest-server" + path)
        assert (prefixed.status_code, prefixed.content) == (direct.status_code, direct.content), path


def test_every_openpai_route_family_is_served(user, admin_user):
    client = Client()
    # the seed: /api/auth (with item 10's answer to a short password) and /api/job
    seed_login = client.post("/rest-server/api/auth", {"username": "alice", "password": PASSWORD}, "application/json")
    assert seed_login.status_code == 200 and seed_login.json()["user"] == "alice"
    short = client.post("/rest-server/api/auth", {"username": "alice", "password": "abc"}, "application/json")
    assert short.status_code == 401
    assert short.json() == {"error": "AuthenticationFailed", "message": "authentication failed"}
    put = client.put("/rest-server/api/job/seed_job", job_config("seed_job"), "application/json", **bearer(user))
    assert put.status_code == 200 and put.json() == {"message": "update job seed_job successfully"}
    assert PaiJob.objects.filter(name="seed_job", owner=user).exists()
    # v1 users: an admin creates one through the prefix
    created = client.put(
        "/rest-server/api/v1/user", {"username": "carol", "password": "carol-pass", "modify": False},
        "application/json", **bearer(admin_user),
    )  # fmt: skip
    assert created.status_code == 201 and created.json() == {"message": "update successfully"}
    assert User.objects.get(username="carol").check_password("carol-pass")
    vcs = client.put(
        "/rest-server/api/v1/user/carol/virtualClusters", {"virtualClusters": "default"}, "application/json",
        **bearer(admin_user),
    )  # fmt: skip
    assert vcs.status_code == 201
    # v1 jobs: executionType through the prefix
    client.post("/rest-server/api/v1/jobs", job_config("v1_job"), "application/json", **bearer(user))
    stop = client.put("/rest-server/api/v1/jobs/v1_job/executionType", {"value": "STOP"}, "application/json",
                      **bearer(user))  # fmt: skip
    assert stop.status_code == 202 and stop.json() == {"message": "execute job v1_job successfully"}
    assert PaiJob.objects.get(name="v1_job").execution_type == "STOP"


def no_api(path: str) -> dict:
    return {"code": NO_API, "message": f"API {path} is not found."}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "expected"),
    [
        ("POST", "/rest-server/api/v1/token", {"username": "alice", "password": "wrong-pass"}, 400,
         {"code": "IncorrectPasswordError", "message": "Password is incorrect."}),
        ("POST", "/rest-server/api/v1/user/alice/jobs", job_config(), 401,
         {"code": "UnauthorizedUserError", "message": "Guest is not allowed to do this operation."}),
        ("GET", "/rest-server/api/v1/user/alice/jobs/nope", None, 404,
         {"code": "NoJobError", "message": "Job nope is not found."}),
        ("GET", "/rest-server/api/v1/nope?x=1", None, 404, no_api("/api/v1/nope?x=1")),
        ("DELETE", "/rest-server/api/v1/token", None, 404, no_api("/api/v1/token")),
        ("GET", "/rest-server/api/v2/jobs", None, 404, no_api("/api/v2/jobs")),
        ("GET", "/rest-server/api/nope", None, 404, {"message": "API not found", "error": {}}),
        ("PUT", "/rest-server/api/job/x", job_config("x"), 401,
         {"message": "No authorization token was found", "error": {}}),
        # whatever is not an OpenPAI route is the REST server's 404, named as the REST server sees it behind pylon
        ("GET", "/rest-server/", None, 404, no_api("/")),
        ("GET", "/rest-server/healthz", None, 404, no_api("/healthz")),
        ("GET", "/rest-server/api/schema/", None, 404, no_api("/api/schema/")),
        ("GET", "/rest-server/dbs", None, 404, no_api("/dbs")),
        ("GET", "/rest-server/v3/namespaces", None, 404, no_api("/v3/namespaces")),
    ],
)  # fmt: skip
def test_errors_under_rest_server_are_openpais(user, method, path, body, status, expected):
    before = (PaiJob.objects.count(), User.objects.count())
    response = sdk(Client(), method, path, body)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == expected
    assert (PaiJob.objects.count(), User.objects.count()) == before


def test_linkis_is_not_served_under_rest_server(user):
    client = Client()
    response = client.post(
        "/rest-server/api/rest_j/v1/user/login", {"userName": "alice", "password": PASSWORD}, "application/json"
    )
    assert response.status_code == 404
    assert response.json() == {"code": NO_API, "message": "API /api/rest_j/v1/user/login is not found."}
    assert not response.cookies  # no Linkis ticket, no session
    assert client.get("/api/rest_j/v1/user/userInfo").json()["status"] == -1


def test_the_cross_site_rule_holds_under_rest_server(user):
    foreign = {"HTTP_ORIGIN": "https://evil.example"}
    response = Client().post("/rest-server/api/v1/jobs", job_config(), "application/json", **foreign, **bearer(user))
    assert response.status_code == 403 and response.json()["code"] == "ForbiddenUserError"
    assert not PaiJob.objects.exists()


def test_the_body_limit_holds_under_rest_server(user, settings):
    settings.MAX_REQUEST_BODY_BYTES = 2048
    config = job_config()
    config["taskRoles"][0]["command"] = "echo " + "x" * 4096
    response = Client().post("/rest-server/api/v1/jobs", config, "application/json", **bearer(user))
    assert response.status_code == 413 and response.json()["code"] == "PayloadTooLargeError"
    assert not PaiJob.objects.exists()


def test_the_schema_lists_each_route_once_and_none_under_rest_server():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/token" in schema["paths"]
    assert not [path for path in schema["paths"] if path.startswith("/rest-server")]
    operation_ids = Counter(
        operation["operationId"] for item in schema["paths"].values() for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    )  # fmt: skip
    assert [name for name, count in operation_ids.items() if count > 1] == []
