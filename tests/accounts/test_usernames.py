"""One rule for user names, everywhere (issue 16, item 12).

The rule is OpenPAI's ``Joi.string().token()`` (ASCII letters, digits, underscore), the strictest of the four
upstreams, checked by the ``username`` field's validator: the admin's forms, ``createsuperuser``, ``bootstrap_admin``
and every API that creates users refuse any other name, with the same words. Users named before the rule keep their
names and keep working: every family's login (OpenPAI's token routes included) accepts any existing user's name,
and an admin can still edit, reset or remove them; only a new name must follow the rule.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client

from dataplatform.accounts.models import User
from dataplatform.accounts.services import user_create
from jobs.models import PaiJob
from tests.accounts.factories import PASSWORD, UserFactory
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

INVALID = ["erin.smith", "erin-smith", "erin@example.com", "erin+1", "érin", "erin smith"]
RULE = "Enter a valid username."
JOI_TOKEN = 'child "username" fails because ["username" must only contain alpha-numeric and underscore characters]'


@pytest.fixture
def legacy(db) -> User:
    """A user named before the rule (the admin used to accept such names); created without validation."""
    return UserFactory(username="erin.smith")


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


# --- the rule, in every place that names a new user --------------------------------------------------------------
@pytest.mark.parametrize("name", INVALID)
def test_the_admin_add_form_refuses_a_name_openpai_refuses(admin_client, name):
    form = {"username": name, "password1": "erin-pass", "password2": "erin-pass", "usable_password": "true"}
    response = admin_client.post("/admin/accounts/user/add/", form)
    assert response.status_code == 200
    assert RULE in response.content.decode()
    assert not User.objects.filter(username=name).exists()


def test_the_admin_add_form_accepts_a_name_every_family_accepts(admin_client):
    form = {"username": "erin_smith2", "password1": "erin-pass", "password2": "erin-pass", "usable_password": "true"}
    response = admin_client.post("/admin/accounts/user/add/", form)
    assert response.status_code == 302
    assert User.objects.get(username="erin_smith2").check_password("erin-pass")
    token = Client().post("/api/v1/token", {"username": "erin_smith2", "password": "erin-pass"}, "application/json")
    assert token.status_code == 200 and token.json()["user"] == "erin_smith2"


def _change_form(user: User, **fields) -> dict:
    return {
        "username": user.username,
        "is_active": "on",
        "virtual_clusters": "default",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        **fields,
    }


def test_the_admin_change_form_refuses_a_rename_to_an_invalid_name(admin_client, user):
    response = admin_client.post(f"/admin/accounts/user/{user.pk}/change/", _change_form(user, username="alice.b"))
    assert response.status_code == 200 and RULE in response.content.decode()
    user.refresh_from_db()
    assert user.username == "alice"


@pytest.mark.parametrize("name", INVALID)
def test_createsuperuser_refuses_the_name(name):
    with pytest.raises(CommandError, match=RULE):
        call_command("createsuperuser", interactive=False, username=name, email="e@example.com", stdout=StringIO())
    assert not User.objects.filter(username=name).exists()


def test_bootstrap_admin_refuses_the_name(monkeypatch):
    monkeypatch.setenv("ADMIN_USERNAME", "erin.smith")
    monkeypatch.setenv("ADMIN_PASSWORD", "erin-pass")
    with pytest.raises(CommandError, match=RULE):
        call_command("bootstrap_admin", stdout=StringIO())
    assert not User.objects.exists()


@pytest.mark.parametrize("name", INVALID)
def test_the_user_service_refuses_the_name(name):
    with pytest.raises(ValidationError) as refused:
        user_create(username=name, password="erin-pass")
    assert RULE in str(refused.value.message_dict["username"])
    assert not User.objects.filter(username=name).exists()


def test_openpai_v1_user_creation_refuses_the_name(admin_user):
    body = {"username": "erin.jones", "password": "erin-pass", "modify": False}
    response = Client().put("/api/v1/user", body, "application/json", **bearer(admin_user))
    assert response.status_code == 400
    assert response.json() == {"code": "InvalidParametersError", "message": JOI_TOKEN}
    assert not User.objects.filter(username="erin.jones").exists()


def test_openpai_seed_user_creation_refuses_the_name(admin_user):
    body = {"username": "erin.jones", "password": "erin-pass", "modify": False}
    response = Client().put("/api/auth", body, "application/json", **bearer(admin_user))
    assert response.status_code == 500
    assert response.json() == {"error": "ParameterValidationError", "message": "could not validate request data"}
    assert not User.objects.filter(username="erin.jones").exists()


def test_an_unknown_invalid_name_stays_upstreams_validation_error(db):
    response = Client().post("/api/v1/token", {"username": "erin.jones", "password": "erin-pass"}, "application/json")
    assert response.status_code == 400
    assert response.json() == {"code": "InvalidParametersError", "message": JOI_TOKEN}


# --- users named before the rule keep working --------------------------------------------------------------------
def test_a_legacy_user_gets_a_token_from_both_openpai_token_routes(legacy):
    client = Client()
    seed = client.post("/api/auth", {"username": "erin.smith", "password": PASSWORD}, "application/json")
    assert seed.status_code == 200 and seed.json()["user"] == "erin.smith"
    v1 = client.post("/rest-server/api/v1/token", {"username": "erin.smith", "password": PASSWORD}, "application/json")
    assert v1.status_code == 200 and v1.json()["user"] == "erin.smith"
    wrong = client.post("/api/v1/token", {"username": "erin.smith", "password": "wrong-pass"}, "application/json")
    assert (wrong.status_code, wrong.json()["code"]) == (400, "IncorrectPasswordError")
    token = v1.json()["token"]
    config = {"jobName": "legacy_job", "image": "ubuntu:16.04", "taskRoles": [{"name": "main", "command": "echo hi"}]}
    submitted = client.post(
        "/api/v1/user/erin.smith/jobs", config, "application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert submitted.status_code == 202
    assert PaiJob.objects.get(name="legacy_job").owner == legacy


def test_a_legacy_user_logs_in_to_linkis_and_the_console(legacy):
    linkis = Client().post(
        "/api/rest_j/v1/user/login", {"userName": "erin.smith", "password": PASSWORD}, "application/json"
    )
    assert linkis.status_code == 200 and linkis.json()["data"]["userName"] == "erin.smith"
    console = Client()
    response = console.post("/console/login/", {"username": "erin.smith", "password": PASSWORD})
    assert response.status_code == 302 and console.session["_auth_user_id"] == str(legacy.pk)


def test_an_admin_manages_a_legacy_user_through_openpai(admin_user, legacy):
    client = Client()
    body = {"username": "erin.smith", "password": "new-password", "modify": True}
    changed = client.put("/api/v1/user", body, "application/json", **bearer(admin_user))
    assert changed.status_code == 201
    legacy.refresh_from_db()
    assert legacy.check_password("new-password")
    recreated = client.put(
        "/api/v1/user", {**body, "modify": False}, "application/json", **bearer(admin_user)
    )  # the name is taken, and says so as upstream does
    assert recreated.status_code == 409 and recreated.json()["code"] == "ConflictUserError"
    removed = client.delete("/api/v1/user", {"username": "erin.smith"}, "application/json", **bearer(admin_user))
    assert removed.status_code == 200
    assert not User.objects.filter(username="erin.smith").exists()


def test_the_admin_saves_a_legacy_user_without_renaming_them(admin_client, legacy):
    response = admin_client.post(
        f"/admin/accounts/user/{legacy.pk}/change/", _change_form(legacy, is_superuser="on", is_staff="on")
    )
    assert response.status_code == 302, response.content[:2000]
    legacy.refresh_from_db()
    assert legacy.username == "erin.smith" and legacy.is_admin
    # but a legacy user cannot be renamed to another invalid name
    response = admin_client.post(
        f"/admin/accounts/user/{legacy.pk}/change/", _change_form(legacy, username="erin.jones")
    )
    assert response.status_code == 200 and RULE in response.content.decode()
    assert User.objects.filter(username="erin.smith").exists()


def test_a_legacy_user_passes_model_validation_until_renamed(legacy):
    legacy.full_clean()  # an unchanged name is kept
    legacy.username = "erin.jones"
    with pytest.raises(ValidationError, match=RULE):
        legacy.full_clean()
