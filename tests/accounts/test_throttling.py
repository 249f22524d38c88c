"""Every login endpoint counts failures per address and per username and refuses guessing."""

import pytest

from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_FAILURE_WINDOW = 60


def _fail_three_times(client, path, body_key="username"):
    for _ in range(3):
        client.post(path, {body_key: "alice", "password": "wrong-pass"}, content_type="application/json")


def test_openpai_seed_login_throttled(client, user):
    _fail_three_times(client, "/api/auth")
    response = client.post("/api/auth", {"username": "alice", "password": PASSWORD}, content_type="application/json")
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "TooManyRequests" and "retry in" in body["message"]
    assert 1 <= int(response["Retry-After"]) <= 61


def test_openpai_v1_token_throttled(client, user):
    _fail_three_times(client, "/api/v1/token")
    response = client.post(
        "/api/v1/token", {"username": "alice", "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 429 and response.json()["code"] == "TooManyRequestsError"


def test_linkis_login_throttled(client, user):
    _fail_three_times(client, "/api/rest_j/v1/user/login", body_key="userName")
    response = client.post(
        "/api/rest_j/v1/user/login", {"userName": "alice", "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 429
    body = response.json()
    assert body["status"] == 1 and body["message"].startswith("Too many failed login attempts")


def test_failures_on_one_endpoint_count_on_all(client, user):
    _fail_three_times(client, "/api/auth")
    response = client.post(
        "/api/rest_j/v1/user/login", {"userName": "alice", "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 429


def test_username_is_protected_from_other_addresses(client, user):
    _fail_three_times(client, "/api/auth")
    response = client.post(
        "/api/auth", {"username": "alice", "password": PASSWORD}, content_type="application/json",
        REMOTE_ADDR="10.0.0.9",
    )  # fmt: skip
    assert response.status_code == 429


def test_address_is_blocked_for_other_usernames(client, user, other_user):
    _fail_three_times(client, "/api/auth")
    response = client.post("/api/auth", {"username": "bob", "password": PASSWORD}, content_type="application/json")
    assert response.status_code == 429


def test_successful_logins_do_not_count(client, user):
    for _ in range(5):
        response = client.post(
            "/api/auth", {"username": "alice", "password": PASSWORD}, content_type="application/json"
        )
        assert response.status_code == 200


def test_admin_login_form_is_throttled(client, admin_user):
    for _ in range(3):
        client.post("/admin/login/", {"username": "root", "password": "wrong-pass"})
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 200  # the form again, with the error
    assert b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session
