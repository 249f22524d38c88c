"""Every login route shares one failed-login throttle (dataplatform/accounts/throttling.py): per username and
client with a doubling wait, per address and per username for clients not known there, never locking a known
address or device out because of somebody else's failures."""

import pytest
from django.test import Client

from dataplatform.accounts import throttling
from dataplatform.accounts.throttling import LoginClient, login_throttle_check
from dataplatform.api.exceptions import ThrottledError
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ROUTES = {
    "/api/auth": "username",
    "/api/v1/token": "username",
    "/api/rest_j/v1/user/login": "userName",
}


FIRST_WAIT = 60  # long enough that no pause of a loaded machine lets a wait run out between two requests


@pytest.fixture(autouse=True)
def _small_limits(settings, monkeypatch):
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 6
    settings.LOGIN_MAX_FAILURES_PER_USER = 6
    settings.LOGIN_FAILURE_WINDOW = 600
    settings.LOGIN_BACKOFF_FIRST_SECONDS = FIRST_WAIT
    settings.LOGIN_BACKOFF_MAX_SECONDS = 3600
    # The throttle's clock stands still: waits are exact whatever the machine's speed.
    monkeypatch.setattr(throttling, "clock", lambda: 1_700_000_000.0)


def login(client, username, password, path="/api/auth", address="127.0.0.1"):
    return client.post(
        path, {ROUTES[path]: username, "password": password}, content_type="application/json", REMOTE_ADDR=address
    )


def fail(client, username, times, path="/api/auth", address="127.0.0.1"):
    for _ in range(times):
        assert login(client, username, "wrong-pass", path, address).status_code in (400, 401, 429)


def test_openpai_seed_login_throttled_with_a_retry_after(client, user):
    fail(client, "alice", 3)
    response = login(client, "alice", PASSWORD)
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "TooManyRequests" and "retry in" in body["message"]
    assert int(response["Retry-After"]) == FIRST_WAIT  # the first wait; it doubles with each further failure


def test_openpai_v1_token_throttled(client, user):
    fail(client, "alice", 3, "/api/v1/token")
    response = login(client, "alice", PASSWORD, "/api/v1/token")
    assert response.status_code == 429 and response.json()["code"] == "TooManyRequestsError"


def test_linkis_login_throttled(client, user):
    fail(client, "alice", 3, "/api/rest_j/v1/user/login")
    response = login(client, "alice", PASSWORD, "/api/rest_j/v1/user/login")
    assert response.status_code == 429
    body = response.json()
    assert body["status"] == 1 and body["message"].startswith("Too many failed login attempts")


def test_console_login_is_throttled_and_shares_the_count(client, user):
    for _ in range(3):
        response = client.post("/console/login/", {"username": "alice", "password": "wrong-pass"})
        assert response.status_code == 200 and "_auth_user_id" not in client.session
    response = client.post("/console/login/", {"username": "alice", "password": PASSWORD})
    assert b"Too many failed login attempts" in response.content and "_auth_user_id" not in client.session
    assert login(client, "alice", PASSWORD).status_code == 429  # the API routes see the console's failures


def test_admin_login_form_is_throttled(client, admin_user):
    for _ in range(3):
        client.post("/admin/login/", {"username": "root", "password": "wrong-pass"})
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 200  # the form again, with the error
    assert b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_the_wait_doubles_with_each_failure(settings, user):
    client = LoginClient(address="10.0.0.1")
    from dataplatform.accounts.throttling import login_failure_record

    waits = []
    for _ in range(6):
        login_failure_record(client=client, username="alice")
        try:
            login_throttle_check(client=client, username="alice")
            waits.append(0)
        except ThrottledError as exc:
            waits.append(exc.wait)
    assert waits == [0, 0, FIRST_WAIT, 2 * FIRST_WAIT, 4 * FIRST_WAIT, 8 * FIRST_WAIT]
    settings.LOGIN_BACKOFF_MAX_SECONDS = 500
    login_failure_record(client=client, username="alice")
    with pytest.raises(ThrottledError) as caught:
        login_throttle_check(client=client, username="alice")
    assert caught.value.wait == 500


def test_another_users_failures_from_the_same_address_do_not_lock_alice_out(client, user):
    UserFactory(username="mallory")
    fail(client, "mallory", 5)  # as in the embedded default: everybody is 127.0.0.1
    assert login(client, "mallory", PASSWORD).status_code == 429
    assert login(client, "alice", PASSWORD).status_code == 200


def test_failures_from_one_address_do_not_lock_the_user_out_elsewhere(client, admin_user):
    fail(client, "root", 5, address="203.0.113.7")
    assert login(client, "root", PASSWORD, address="203.0.113.7").status_code == 429
    assert login(client, "root", PASSWORD, address="198.51.100.2").status_code == 200


def test_a_spraying_address_is_slowed_for_names_not_known_there(client, user, other_user):
    assert login(client, "alice", PASSWORD).status_code == 200  # alice is known at 127.0.0.1
    for name in ("u1", "u2", "u3", "u4", "u5", "u6"):
        fail(client, name, 1)
    assert login(client, "bob", PASSWORD).status_code == 429  # never logged in from here: slowed
    assert login(client, "alice", PASSWORD).status_code == 200  # known here: not slowed
    assert login(client, "bob", PASSWORD, address="10.9.9.9").status_code == 200  # another address: not slowed


def test_a_distributed_guess_slows_only_unknown_addresses(client, user):
    assert login(client, "alice", PASSWORD, address="192.0.2.10").status_code == 200  # her usual address
    for n in range(6):
        fail(Client(), "alice", 1, address=f"198.51.100.{n}")
    assert login(Client(), "alice", PASSWORD, address="198.51.100.99").status_code == 429
    assert login(Client(), "alice", PASSWORD, address="192.0.2.10").status_code == 200  # known address
    assert login(client, "alice", PASSWORD, address="198.51.100.99").status_code == 200  # her device, anywhere


def test_a_browser_that_logged_in_before_is_not_locked_out_by_guesses_from_its_address(user):
    browser, attacker = Client(), Client()
    response = login(browser, "alice", PASSWORD)
    assert response.status_code == 200 and response.cookies["platform_login_device"]["httponly"]
    fail(attacker, "alice", 5)
    assert login(attacker, "alice", PASSWORD).status_code == 429
    assert login(browser, "alice", PASSWORD).status_code == 200
    # The device's own guesses are limited too (a stolen device cookie is no master key).
    fail(browser, "alice", 3)
    assert login(browser, "alice", PASSWORD).status_code == 429


def test_a_device_cookie_of_another_user_or_forged_counts_for_nothing(client, user, other_user):
    assert login(client, "bob", PASSWORD).status_code == 200  # the cookie is bob's
    fail(Client(), "alice", 3)
    assert login(client, "alice", PASSWORD).status_code == 429
    client.cookies["platform_login_device"] = "forged"
    assert login(client, "alice", PASSWORD).status_code == 429


def test_successful_logins_do_not_count(client, user):
    for _ in range(5):
        assert login(client, "alice", PASSWORD).status_code == 200


def test_a_success_clears_its_own_count(client, user):
    fail(client, "alice", 2)
    assert login(client, "alice", PASSWORD).status_code == 200
    fail(client, "alice", 2)
    assert login(client, "alice", PASSWORD).status_code == 200
