"""The admin: users with the admin flag, password reset, API tokens created with a code shown once."""

import re

import pytest

from dataplatform.accounts.models import ApiToken, hash_token_code
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_admin_login_and_index(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert b"API tokens" in response.content and b"Users" in response.content


def test_non_staff_cannot_log_into_admin(client, user):
    response = client.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_user_list_shows_flags(admin_client, user):
    response = admin_client.get("/admin/accounts/user/")
    assert response.status_code == 200 and b"alice" in response.content


def test_admin_resets_a_password(admin_client, user):
    url = f"/admin/accounts/user/{user.pk}/password/"
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url, {"password1": "reset-by-admin", "password2": "reset-by-admin", "usable_password": "true"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("reset-by-admin")


def test_admin_deactivates_and_grants_admin(admin_client, user):
    url = f"/admin/accounts/user/{user.pk}/change/"
    form = {
        "username": "alice",
        "is_superuser": "on",
        "is_staff": "on",
        "virtual_clusters": "default",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    user.refresh_from_db()
    assert user.is_admin and not user.is_active


def test_admin_creates_token_and_sees_code_once(admin_client, user):
    response = admin_client.post(
        "/admin/accounts/apitoken/add/",
        {"name": "scheduler", "code": "", "legal_users": "alice", "legal_hosts": "*"},
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    match = re.search(r"Token code for scheduler: (\S+) ", text)
    assert match, text[:3000]
    code = match.group(1)
    token = ApiToken.objects.get(name="scheduler")
    assert token.key_hash == hash_token_code(code) and token.created_by.username == "root"
    change = admin_client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert code not in change
    info = admin_client.get("/api/rest_j/v1/user/userInfo", HTTP_TOKEN_CODE=code, HTTP_TOKEN_USER="alice")
    assert info.json()["data"]["userName"] == "alice"


def test_admin_token_with_chosen_code_and_duplicate_refused(admin_client):
    form = {"name": "linkis", "code": "LINKIS-AUTH-0123456789", "legal_users": "*", "legal_hosts": "*"}
    assert admin_client.post("/admin/accounts/apitoken/add/", form).status_code == 302
    form["name"] = "again"
    response = admin_client.post("/admin/accounts/apitoken/add/", form)
    assert response.status_code == 200 and b"A token with this code already exists." in response.content
    assert ApiToken.objects.count() == 1
