"""Linkis gateway user endpoints, the ticket cookie and Token-Code/Token-User (contracts/linkis.md §2)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dataplatform.accounts.models import ApiToken, User
from dataplatform.accounts.services import api_token_create
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

TICKET = "linkis_user_session_ticket_id_v1"
NOT_LOGGED_IN = "You are not logged in, please login first(您尚未登录，请先登录)!"


def login(client, username="alice", password="secret-pass"):
    return client.post(
        "/api/rest_j/v1/user/login", {"userName": username, "password": password}, content_type="application/json"
    )


def test_login_sets_ticket_cookie_and_answers_envelope(client, user):
    response = login(client)
    assert response.status_code == 200
    assert response.json() == {
        "method": None,
        "status": 0,
        "message": "login successful(登录成功)！",
        "data": {"userName": "alice", "isAdmin": False, "sessionTimeOut": 7200000, "enableWatermark": False},
    }
    cookie = response.cookies[TICKET]
    assert cookie.value and cookie["path"] == "/" and cookie["httponly"]


def test_login_admin_flag(client, admin_user):
    assert login(client, "root").json()["data"]["isAdmin"] is True


def test_login_with_query_parameters(client, user):
    url = "/api/rest_j/v1/user/login?userName=alice&password=secret-pass"
    response = client.post(url, content_type="application/json")
    assert response.json()["status"] == 0


def test_login_json_without_content_type(client, user):
    response = client.generic("POST", "/api/rest_j/v1/user/login", b'{"userName":"alice","password":"secret-pass"}')
    assert response.status_code == 200 and response.json()["status"] == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"password": "secret-pass"}, "Username can not be empty(用户名不能为空)！"),
        ({"userName": "  ", "password": "secret-pass"}, "Username can not be empty(用户名不能为空)！"),
        ({"userName": "alice"}, "Password can not be blank(密码不能为空)！"),
        ({"userName": "alice", "password": "nope"}, "wrong user name or password(用户名或密码错误)！"),
        ({"userName": "ghost", "password": "secret-pass"}, "wrong user name or password(用户名或密码错误)！"),
    ],
)
def test_login_errors_are_status_1_http_400(client, user, body, message):
    response = client.post("/api/rest_j/v1/user/login", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"method": None, "status": 1, "message": message, "data": {}}
    assert TICKET not in response.cookies


def test_ticket_authenticates_user_info(client, user):
    login(client)
    response = client.get("/api/rest_j/v1/user/userInfo")
    assert response.status_code == 200
    assert response.json() == {
        "method": None,
        "status": 0,
        "message": "get user information succeed!",
        "data": {"userName": "alice"},
    }


def test_second_login_says_already_logged_in(client, user):
    login(client)
    response = login(client)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == 0
    assert body["message"] == "aliceAlready logged in, please log out before signing in(已经登录，请先退出再进行登录)！"
    assert body["data"] == {"userName": "alice"}


def test_user_info_without_login_is_minus_1_with_full_uri(client, db):
    response = client.get("/api/rest_j/v1/user/userInfo?x=1")
    assert response.status_code == 401
    assert response.json() == {
        "method": "/api/rest_j/v1/user/userInfo",
        "status": -1,
        "message": NOT_LOGGED_IN,
        "data": {},
    }


def test_logout_ends_the_ticket(client, user):
    login(client)
    ticket = client.cookies[TICKET].value
    response = client.post("/api/rest_j/v1/user/logout", content_type="application/json")
    assert response.json()["message"] == "Logout successful(退出登录成功)！"
    assert response.cookies[TICKET].value == ""
    replay = Client()
    replay.cookies[TICKET] = ticket
    assert replay.get("/api/rest_j/v1/user/userInfo").status_code == 401


def test_heartbeat(client, user):
    assert client.get("/api/rest_j/v1/user/heartbeat").json()["status"] == -1
    login(client)
    body = client.get("/api/rest_j/v1/user/heartbeat").json()
    assert body["status"] == 0 and body["message"] == "Maintain heartbeat success(维系心跳成功)"


def test_password_change_ends_tickets(client, user):
    login(client)
    user.set_password("changed-password")
    user.save()
    assert client.get("/api/rest_j/v1/user/userInfo").status_code == 401


def test_expired_ticket_is_not_a_login(client, user, settings):
    settings.LINKIS_SESSION_TIMEOUT = 60
    login(client)
    from django.contrib.sessions.models import Session

    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    from django.core.cache import cache

    cache.clear()  # cached_db sessions: drop the cached copy too
    assert client.get("/api/rest_j/v1/user/userInfo").status_code == 401


def test_ticket_refused_cross_site(client, user):
    login(client)
    response = client.get("/api/rest_j/v1/user/userInfo", HTTP_SEC_FETCH_SITE="cross-site")
    assert response.status_code == 412
    body = response.json()
    assert body["status"] == 2 and body["message"].startswith("Unallowed cross-site request(不允许的跨站请求)！")


def test_ticket_refused_from_foreign_origin(client, user):
    login(client)
    response = client.post("/api/rest_j/v1/user/heartbeat", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 412


def test_ticket_unsafe_form_post_refused_json_allowed(client, user):
    login(client)
    response = client.post("/api/rest_j/v1/user/heartbeat", "a=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 412
    response = client.post("/api/rest_j/v1/user/heartbeat", {}, content_type="application/json")
    assert response.status_code == 200


# --- Token-Code / Token-User ------------------------------------------------------------------------------------
@pytest.fixture
def token_code(user, admin_user):
    _, code = api_token_create(name="client-a", created_by=admin_user, legal_users="alice,bob", legal_hosts="127.0.0.1")
    return code


def test_token_headers_authenticate(client, token_code):
    response = client.get("/api/rest_j/v1/user/userInfo", HTTP_TOKEN_CODE=token_code, HTTP_TOKEN_USER="alice")
    assert response.status_code == 200
    assert response.json()["data"]["userName"] == "alice"
    assert ApiToken.objects.get().last_used_at is not None


def test_token_cookies_authenticate(client, token_code):
    client.cookies["Token-Code"] = token_code
    client.cookies["Token-User"] = "alice"
    assert client.get("/api/rest_j/v1/user/userInfo").status_code == 200


def test_token_stored_only_as_hash(token_code):
    token = ApiToken.objects.get()
    assert token_code not in (token.key_hash, token.name) and token.key_prefix == token_code[:8]


@pytest.mark.parametrize(
    ("code", "username", "reason"),
    [
        ("wrong-code", "alice", "the token is not registered"),
        (None, "root", "user root is not a legal user of this token"),
        (None, "bob", "user bob does not exist or is inactive"),
    ],
)
def test_token_failures_are_minus_1(client, token_code, code, username, reason):
    response = client.get("/api/rest_j/v1/user/userInfo", HTTP_TOKEN_CODE=code or token_code, HTTP_TOKEN_USER=username)
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == -1 and body["method"] == "/api/rest_j/v1/user/userInfo"
    assert body["message"].startswith("Token Authentication Failed, token: ")
    assert body["message"].endswith(f"reason: {reason}")
    assert token_code not in body["message"]


def test_token_blank_values(client, token_code):
    response = client.get("/api/rest_j/v1/user/userInfo", HTTP_TOKEN_CODE=" ", HTTP_TOKEN_USER="alice")
    assert response.status_code == 401
    assert response.json()["message"] == "请在Header或Cookie中同时指定Token-Code 和 Token-User，以便完成token认证！"


def test_token_from_illegal_host(client, token_code):
    response = client.get(
        "/api/rest_j/v1/user/userInfo", HTTP_TOKEN_CODE=token_code, HTTP_TOKEN_USER="alice", REMOTE_ADDR="10.1.2.3"
    )
    assert response.status_code == 401
    assert "host 10.1.2.3 is not a legal host" in response.json()["message"]


def test_token_expired_or_disabled(client, token_code):
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get("/api/rest_j/v1/user/userInfo", HTTP_TOKEN_CODE=token_code, HTTP_TOKEN_USER="alice")
    assert response.json()["message"].endswith("the token has expired")
    ApiToken.objects.update(expires_at=None, is_active=False)
    response = client.get("/api/rest_j/v1/user/userInfo", HTTP_TOKEN_CODE=token_code, HTTP_TOKEN_USER="alice")
    assert response.json()["message"].endswith("the token is disabled")


def test_token_network_legal_host(client, user, admin_user):
    _, code = api_token_create(name="net", created_by=admin_user, legal_hosts="10.0.0.0/8")
    response = client.get(
        "/api/rest_j/v1/user/userInfo", HTTP_TOKEN_CODE=code, HTTP_TOKEN_USER="alice", REMOTE_ADDR="10.9.9.9"
    )
    assert response.status_code == 200


def test_token_login_sets_ticket(client, token_code):
    response = client.post("/api/rest_j/v1/user/token-login", HTTP_TOKEN_CODE=token_code, HTTP_TOKEN_USER="alice")
    assert response.status_code == 200
    assert response.json()["data"]["userName"] == "alice"
    follow = Client()
    follow.cookies[TICKET] = response.cookies[TICKET].value
    assert follow.get("/api/rest_j/v1/user/userInfo").json()["data"]["userName"] == "alice"


def test_token_login_needs_token_and_post(client, token_code):
    response = client.post("/api/rest_j/v1/user/token-login")
    assert response.status_code == 401
    assert response.json()["message"].startswith("请在Header或Cookie中同时指定Token-Code")
    response = client.get("/api/rest_j/v1/user/token-login", HTTP_TOKEN_CODE=token_code, HTTP_TOKEN_USER="alice")
    assert response.status_code == 400
    assert response.json()["message"] == "Only support method POST"


def test_bearer_jwt_accepted_by_linkis(client, user):
    response = client.get("/api/rest_j/v1/user/userInfo", **bearer(user))
    assert response.json()["data"]["userName"] == "alice"


def test_inactive_user_cannot_use_any_linkis_login(client, user, token_code):
    login(client)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert client.get("/api/rest_j/v1/user/userInfo").status_code == 401
    response = Client().get("/api/rest_j/v1/user/userInfo", HTTP_TOKEN_CODE=token_code, HTTP_TOKEN_USER="alice")
    assert response.status_code == 401
