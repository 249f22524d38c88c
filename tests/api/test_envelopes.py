"""The envelope mapping of each API family, from outside, with DEBUG off.

For every family: an unknown route, a wrong method, a malformed body, an unauthenticated call, an unexpected
exception (inside and outside DRF), an oversized body and a CSRF failure all answer in the family's own envelope;
a JWT bearer token and a logged-in session cookie are accepted by every family.
"""

import json

import pytest
from django.test import Client

from tests.conftest import bearer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]

PROBE = {
    "linkis": "/api/rest_j/v1/probe",
    "openpai": "/api/probe",
    "openpai_v1": "/api/v1/probe",
    "cdap": "/v3/namespaces/default/probe",
    "openmldb": "/dbs/probe_db/probe",
}
UNKNOWN = {
    "linkis": "/api/rest_j/v1/no/such/route",
    "openpai": "/api/no/such/route",
    "openpai_v1": "/api/v1/no/such/route?x=1",
    "cdap": "/v3/namespaces/default/no-such",
    "openmldb": "/dbs/a/b/c/d/e/f",
}
FAMILIES = list(PROBE)
NOT_LOGGED_IN = "You are not logged in, please login first(您尚未登录，请先登录)!"


def body_of(response):
    if response["Content-Type"].startswith("text/plain"):
        return response.content.decode()
    return json.loads(response.content)


def assert_linkis(response, http, status, message_start, method=None):
    assert response.status_code == http
    assert response["Content-Type"].startswith("application/json")
    body = body_of(response)
    assert set(body) == {"method", "status", "message", "data"}
    assert body["status"] == status and body["method"] == method and isinstance(body["data"], dict)
    assert body["message"].startswith(message_start), body["message"]


def assert_openmldb(response, msg_start):
    assert response.status_code == 200
    body = body_of(response)
    assert set(body) == {"code", "msg"} and body["code"] == -1
    assert body["msg"].startswith(msg_start), body["msg"]


@pytest.mark.parametrize("family", FAMILIES)
def test_unknown_route(client, family):
    response = client.get(UNKNOWN[family])
    body = body_of(response)
    if family == "linkis":
        assert_linkis(response, 404, 1, "No such API(接口不存在): GET /api/rest_j/v1/no/such/route")
    elif family == "openpai":
        assert (response.status_code, body) == (404, {"message": "API not found", "error": {}})
    elif family == "openpai_v1":
        assert response.status_code == 404
        assert body == {"code": "NoApiError", "message": "API /api/v1/no/such/route?x=1 is not found."}
    elif family == "cdap":
        assert response.status_code == 404
        assert body == "Problem accessing: /v3/namespaces/default/no-such. Reason: Not Found"
    else:
        assert_openmldb(response, "no match method")
        assert_openmldb(client.delete(UNKNOWN[family]), "unsupported method")


@pytest.mark.parametrize("family", FAMILIES)
def test_unknown_route_with_debug_on_is_still_the_envelope(client, family, settings):
    settings.DEBUG = True
    response = client.get(UNKNOWN[family])
    assert b"<html" not in response.content.lower()


@pytest.mark.parametrize("family", FAMILIES)
def test_wrong_method(client, user, family):
    response = client.delete(PROBE[family], **bearer(user))
    body = body_of(response)
    if family == "linkis":
        assert_linkis(response, 405, 1, "Request method 'DELETE' not supported")
    elif family == "openpai":
        assert (response.status_code, body) == (404, {"message": "API not found", "error": {}})
    elif family == "openpai_v1":
        assert response.status_code == 404 and body["code"] == "NoApiError"
    elif family == "cdap":
        assert response.status_code == 405
        assert body == "Problem accessing: /v3/namespaces/default/probe. Reason: Method Not Allowed"
    else:
        assert_openmldb(response, "unsupported method")
        assert_openmldb(client.put(PROBE[family], **bearer(user)), "no match method")


@pytest.mark.parametrize("family", FAMILIES)
def test_malformed_body(client, user, family):
    response = client.post(PROBE[family], '{"a": ', content_type="application/json", **bearer(user))
    body = body_of(response)
    if family == "linkis":
        assert_linkis(response, 400, 1, "operation failed(操作失败)s！the reason(原因)：JSON parse error")
    elif family == "openpai":
        assert response.status_code == 400
        assert body["error"] == {} and body["message"].startswith("JSON parse error")
    elif family == "openpai_v1":
        assert response.status_code == 400 and body["code"] == "InvalidParametersError"
    elif family == "cdap":
        assert response.status_code == 400 and "JSON parse error" in body
    else:
        assert_openmldb(response, "JSON parse error")


@pytest.mark.parametrize("family", FAMILIES)
def test_unauthenticated(client, family):
    response = client.get(PROBE[family] + "?q=1")
    body = body_of(response)
    if family == "linkis":
        assert_linkis(response, 401, -1, NOT_LOGGED_IN, method="/api/rest_j/v1/probe")
    elif family == "openpai":
        assert (response.status_code, body) == (401, {"message": "No authorization token was found", "error": {}})
    elif family == "openpai_v1":
        assert response.status_code == 401
        assert body == {"code": "UnauthorizedUserError", "message": "Guest is not allowed to do this operation."}
    elif family == "cdap":
        assert (response.status_code, body) == (401, {"auth_uri": ["http://testserver/token"]})
        assert response["WWW-Authenticate"].startswith("Bearer")
    else:
        assert_openmldb(response, "Authentication required")


def _assert_internal(response, family):
    assert b"secret internal detail" not in response.content and b"Traceback" not in response.content
    body = body_of(response)
    if family == "linkis":
        assert_linkis(
            response, 500, 1, "operation failed(操作失败)s！the reason(原因)：Internal server error (reference "
        )
    elif family == "openpai":
        assert response.status_code == 500 and body["error"] == {}
        assert body["message"].startswith("Internal server error (reference ")
    elif family == "openpai_v1":
        assert response.status_code == 500 and body["code"] == "UnknownError"
    elif family == "cdap":
        assert response.status_code == 500 and body.startswith("Internal server error (reference ")
    else:
        assert_openmldb(response, "Internal server error (reference ")


@pytest.mark.parametrize("family", FAMILIES)
def test_unexpected_exception_in_a_view(client, family):
    _assert_internal(client.get(PROBE[family] + "/boom"), family)


@pytest.mark.parametrize("family", FAMILIES)
def test_unexpected_exception_outside_drf(family):
    client = Client(raise_request_exception=False)
    _assert_internal(client.get(PROBE[family] + "/django-boom"), family)


@pytest.mark.parametrize("family", FAMILIES)
def test_oversized_body(client, user, family, settings):
    settings.MAX_REQUEST_BODY_BYTES = 2048
    payload = json.dumps({"blob": "x" * 4096})
    response = client.post(PROBE[family], payload, content_type="application/json", **bearer(user))
    body = body_of(response)
    if family == "linkis":
        assert_linkis(response, 413, 1, "Request body of ")
    elif family == "openpai":
        assert (response.status_code, body) == (413, {"message": "request entity too large", "error": {}})
    elif family == "openpai_v1":
        assert response.status_code == 413 and body["code"] == "PayloadTooLargeError"
    elif family == "cdap":
        assert response.status_code == 413 and "larger than" in body
    else:
        assert_openmldb(response, "Request body of ")


@pytest.mark.parametrize("family", FAMILIES)
def test_session_cookie_unsafe_request_needs_csrf_token(user, family):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(PROBE[family], {"a": 1}, content_type="application/json")
    body = body_of(response)
    if family == "linkis":
        assert_linkis(response, 412, 2, "Unallowed cross-site request(不允许的跨站请求)！ CSRF Failed")
    elif family == "openpai":
        assert response.status_code == 403 and body["message"].startswith("invalid csrf token")
    elif family == "openpai_v1":
        assert response.status_code == 403 and body["code"] == "ForbiddenUserError"
    elif family == "cdap":
        assert response.status_code == 403 and body.startswith("CSRF Failed")
    else:
        assert_openmldb(response, "CSRF Failed")


@pytest.mark.parametrize("family", FAMILIES)
def test_session_cookie_with_csrf_token_is_accepted(user, family):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/login/")  # any page that sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(PROBE[family], {"a": 1}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    body = body_of(response)
    data = body["data"] if family == "linkis" else body
    assert data == {"user": "alice", "echo": {"a": 1}}


@pytest.mark.parametrize("family", FAMILIES)
def test_jwt_is_accepted_without_csrf(user, family):
    client = Client(enforce_csrf_checks=True)
    response = client.post(PROBE[family], {"a": 1}, content_type="application/json", **bearer(user))
    assert response.status_code == 200
    body = body_of(response)
    data = body["data"] if family == "linkis" else body
    assert data == {"user": "alice", "echo": {"a": 1}}


@pytest.mark.parametrize("family", FAMILIES)
def test_browser_accept_header_still_gets_the_family_format(client, user, family):
    response = client.get(PROBE[family], HTTP_ACCEPT="text/html,application/xhtml+xml", **bearer(user))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")


def test_linkis_success_envelope_method_drops_rest_j_v1(client, user):
    body = client.get(PROBE["linkis"], **bearer(user)).json()
    assert body == {"method": "/api/probe", "status": 0, "message": "OK", "data": {"user": "alice"}}


def test_non_api_pages_keep_html_errors_for_browsers(client):
    response = Client(raise_request_exception=False).get("/no-such-page", HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
