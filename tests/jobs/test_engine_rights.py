"""Engine rights: which engines a user may run jobs on (``jobs.use_engine_*`` permissions on users and groups, edited
in the admin; ``JOB_DEFAULT_ENGINES`` for users granted none; admins may use all). A refused submission answers in
each family's envelope and leaves no job behind."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Group

from jobs.models import Job, PaiJob
from jobs.selectors import user_engines
from jobs.services import engine_grants_set
from tests.accounts.factories import PASSWORD
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

E = "/api/rest_j/v1/entrance"


@pytest.fixture(autouse=True)
def _python_by_default(settings):
    settings.JOB_DEFAULT_ENGINES = ["python"]


def submit(client, user, engine="shell-1", run_type="sh", code="echo hi"):
    body = {"executionContent": {"code": code, "runType": run_type}, "labels": {"engineType": engine}}
    return client.post(f"{E}/submit", body, content_type="application/json", **bearer(user))


def test_a_user_with_no_grant_gets_the_default_engines(client, user):
    assert user_engines(user) == ["python"]
    assert submit(client, user, "python-python3", "python", "print(1)").json()["status"] == 0
    response = submit(client, user)
    body = response.json()
    assert response.status_code == 403 and body["status"] == 3
    assert body["message"].startswith("User alice may not run jobs on the shell engine (allowed: python)")
    assert Job.objects.filter(engine="shell").count() == 0


def test_a_users_own_grant_replaces_the_defaults(client, user):
    engine_grants_set(principal=user, engines=["shell"])
    assert user_engines(user) == ["shell"]
    assert submit(client, user).json()["status"] == 0
    assert submit(client, user, "python-python3", "python", "print(1)").status_code == 403


def test_a_group_grant_adds_engines(client, user, other_user):
    analysts = Group.objects.create(name="analysts")
    engine_grants_set(principal=analysts, engines=["duckdb", "sql"])
    user.groups.add(analysts)
    engine_grants_set(principal=user, engines=["shell"])
    assert user_engines(type(user).objects.get(pk=user.pk)) == ["shell", "duckdb", "sql"]
    assert submit(client, user, "duckdb-2", "sql", "select 1").json()["status"] == 0
    assert user_engines(other_user) == ["python"]  # not in the group
    assert submit(client, other_user, "duckdb-2", "sql", "select 1").status_code == 403


def test_admins_may_use_every_engine_and_inactive_users_none(client, admin_user, user):
    assert user_engines(admin_user) == ["python", "shell", "duckdb", "spark", "sql"]  # the registry's order
    assert submit(client, admin_user).json()["status"] == 0
    user.is_active = False
    assert user_engines(user) == []


def test_an_empty_default_leaves_ungranted_users_without_engines(client, user, settings):
    settings.JOB_DEFAULT_ENGINES = []
    response = submit(client, user, "python-python3", "python", "print(1)")
    assert response.status_code == 403 and "(allowed: none)" in response.json()["message"]


@pytest.mark.django_db(transaction=True)
async def test_the_websocket_refuses_with_linkis_status_3(user):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from dataplatform.asgi import application

    token = await database_sync_to_async(bearer)(user)
    communicator = WebsocketCommunicator(
        application, "/ws/api/entrance/connect", headers=[(b"authorization", token["HTTP_AUTHORIZATION"].encode())]
    )
    assert (await communicator.connect(timeout=30))[0]
    await communicator.send_json_to({
        "method": f"{E}/execute",
        "websocketTag": "t1",
        "data": {"executeApplicationName": "shell", "executionCode": "echo hi", "runType": "sh", "params": {}},
    })  # fmt: skip
    frame = await communicator.receive_json_from(timeout=30)
    assert frame["status"] == 3 and "may not run jobs on the shell engine" in frame["message"]
    assert frame["data"] == {"websocketTag": "t1"}
    await communicator.disconnect()


def test_openpai_needs_the_shell_right(api_client, user):
    body = {"jobName": "train", "image": "x", "taskRoles": [{"name": "main", "taskNumber": 1, "command": "echo"}]}
    response = api_client.post("/api/v1/jobs", data=json.dumps(body), content_type="application/json", **bearer(user))
    assert response.status_code == 403
    assert response.json()["code"] == "ForbiddenUserError"
    assert "may not run jobs on the shell engine" in response.json()["message"]
    assert not PaiJob.objects.exists() and not Job.objects.exists()
    engine_grants_set(principal=user, engines=["shell"])
    response = api_client.post("/api/v1/jobs", data=json.dumps(body), content_type="application/json", **bearer(user))
    assert response.status_code == 202, response.content


def test_cdap_programs_need_the_shell_right(client, user):
    from artifacts.models import Namespace
    from tests.artifacts.factories import manifest, zip_bytes

    Namespace.objects.get_or_create(name="default", defaults={"description": "Default Namespace"})
    response = client.post("/v3/namespaces/default/artifacts/myapp", data=zip_bytes(manifest("myapp", "1.0.0")),
                           content_type="application/octet-stream", **bearer(user))  # fmt: skip
    assert response.status_code == 200, response.content
    request = {"artifact": {"name": "myapp", "version": "1.0.0"}, "config": {"table": "t"}}
    response = client.put("/v3/namespaces/default/apps/app1", data=json.dumps(request),
                          content_type="application/json", **bearer(user))  # fmt: skip
    assert response.status_code == 200, response.content
    start = "/v3/namespaces/default/apps/app1/workflows/Report/start"  # a python program
    response = client.post(start, data="", content_type="application/json", **bearer(user))
    assert response.status_code == 403 and "may not run jobs on the shell engine" in response.content.decode()
    assert not Job.objects.exists()
    engine_grants_set(principal=user, engines=["shell", "python"])
    response = client.post(start, data="", content_type="application/json", **bearer(user))
    assert response.status_code == 200, response.content


def test_the_console_offers_only_granted_engines(client, user):
    client.force_login(user)
    page = client.get("/console/").content.decode()
    assert 'value="python"' in page and 'value="shell"' not in page
    engine_grants_set(principal=user, engines=[])
    from django.test import override_settings

    with override_settings(JOB_DEFAULT_ENGINES=[]):
        page = client.get("/console/").content.decode()
    assert 'data-testid="no-engines"' in page


@pytest.fixture
def admin_client(client, admin_user):
    assert client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


def test_the_admin_edits_a_users_engines(admin_client, user):
    url = f"/admin/accounts/user/{user.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'name="engines"' in page and 'value="spark"' in page
    form = {"username": "alice", "is_active": "on", "virtual_clusters": "default", "engines": ["shell", "spark"],
            "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}  # fmt: skip
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content[:3000]
    assert user_engines(type(user).objects.get(pk=user.pk)) == ["shell", "spark"]
    page = admin_client.get(url).content.decode()
    assert re.search(r'value="shell"[^>]*checked', page) and not re.search(r'value="python"[^>]*checked', page)


def test_the_admin_edits_a_groups_engines(admin_client, user):
    response = admin_client.post("/admin/auth/group/add/", {"name": "engineers", "engines": ["spark"]})
    assert response.status_code == 302, response.content[:3000]
    group = Group.objects.get(name="engineers")
    user.groups.add(group)
    assert user_engines(type(user).objects.get(pk=user.pk)) == ["spark"]
    response = admin_client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "engineers", "engines": []})
    assert response.status_code == 302
    assert user_engines(type(user).objects.get(pk=user.pk)) == ["python"]  # back to the default


def test_unknown_default_engines_stop_start_up(settings):
    from jobs.apps import check_job_settings

    settings.JOB_DEFAULT_ENGINES = ["python", "cobol"]
    [error] = check_job_settings()
    assert error.id == "jobs.E001" and "cobol" in error.msg
