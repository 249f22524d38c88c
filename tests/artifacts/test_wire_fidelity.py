"""Issue 16, items 5-9: CDAP wire details that real clients rely on, from outside over HTTP.

- 5: a write through ``/namespaces/{ns}/artifacts/...`` names that namespace's artifacts only; a system artifact is
  404 there (for admins too, and not a 403 for others), and is changed through ``/namespaces/system/...``
  (``ArtifactHttpHandler``: ``scope`` is read on GET routes only);
- 6: every route also answers with one trailing slash, as netty-http's router drops one, without a redirect;
- 7: ``ApplicationDetail.configuration`` is the config as CDAP's handler writes it back with Gson;
- 8: ``/apps/{app}/versions``, ``/apps/{app}/versions/{version}`` (GET, DELETE) and ``.../versions/{v}/create``
  (``AppLifecycleHttpHandler``; contracts/cdap.md B.3);
- 9: the authentication handshake: a 401 naming ``auth_uri``, ``GET /token`` with HTTP Basic credentials, and its
  token as ``Authorization: Bearer`` (the router's ``AuthenticationHandler``, ``GrantAccessToken``). The handshake
  of the cdap-auth-client package itself is driven against a live server in ``test_cdap_auth_client.py``.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, resolve
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from artifacts import services
from artifacts.models import Application, ApplicationChange, ArtifactVersion, Namespace, Plugin
from artifacts.urls import urlpatterns as cdap_urlpatterns
from tests.accounts.factories import PASSWORD
from tests.artifacts.factories import manifest, plugin, zip_bytes
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

V3 = "/v3/namespaces"
SEED = "/namespaces"
BOTH = pytest.mark.parametrize("prefix", [V3, SEED], ids=["v3", "seed"])


@pytest.fixture(autouse=True)
def _namespaces(db):
    Namespace.objects.get_or_create(name="default", defaults={"description": "Default Namespace"})
    Namespace.objects.get_or_create(name="system", defaults={"description": "System artifacts"})


@pytest.fixture
def client(api_client, user) -> APIClient:
    api_client.credentials(**bearer(user))
    return api_client


@pytest.fixture
def admin_client(admin_user) -> APIClient:
    c = APIClient()
    c.credentials(**bearer(admin_user))
    return c


def text(response) -> str:
    return response.content.decode()


def archive(name: str = "myapp", version: str = "1.0.0", *, schema: bool = True, **kwargs) -> bytes:
    doc = manifest(name, version, **kwargs)
    if not schema:
        del doc["app"]["configSchema"]  # any object is a valid config
    return zip_bytes(doc)


def add(client, name: str = "myapp", body: bytes | None = None, ns: str = "default") -> None:
    response = client.post(
        f"{V3}/{ns}/artifacts/{name}", data=body or archive(name), content_type="application/octet-stream"
    )
    assert (response.status_code, text(response)) == (200, "Artifact added successfully"), text(response)


def system_artifact(name: str = "command-app", version: str = "1.0.0", **kwargs) -> ArtifactVersion:
    upload = services.ArtifactUpload(chunks=[archive(name, version, **kwargs)])
    system = Namespace.objects.get(name="system")
    return services.artifact_add(namespace=system, name=name, upload=upload, actor="system", allow_system=True).version


def deploy(client, app: str = "app1", *, name: str = "myapp", version: str = "1.0.0", config=None, prefix=V3):
    body: dict = {"artifact": {"name": name, "version": version}}
    if config is not None:
        body["config"] = config
    return client.put(f"{prefix}/default/apps/{app}", data=json.dumps(body), content_type="application/json")


# --- 5: system artifacts are not changed through a user namespace ------------------------------------------------
SYSTEM_VERSION = "/default/artifacts/command-app/versions/1.0.0"
NOT_FOUND = "'artifact:default.command-app.1.0.0' was not found."
WRITES = [
    pytest.param("delete", "", None, id="delete-version"),
    pytest.param("put", "/properties", {"owner": "x"}, id="put-properties"),
    pytest.param("delete", "/properties", None, id="delete-properties"),
    pytest.param("put", "/properties/owner", "x", id="put-property"),
    pytest.param("delete", "/properties/owner", None, id="delete-property"),
    pytest.param("put", "/plugins", [plugin("batchsink", "other")], id="put-plugins"),
]


def _send(client, method: str, path: str, body):
    if body is None:
        return getattr(client, method)(path)
    data = body if isinstance(body, str) else json.dumps(body)
    content_type = "text/plain" if isinstance(body, str) else "application/json"
    return getattr(client, method)(path, data=data, content_type=content_type)


def _system_state() -> tuple:
    found = ArtifactVersion.objects.get(artifact__namespace__name="system", artifact__name="command-app")
    plugins = sorted(Plugin.objects.filter(artifact_version=found).values_list("type", "name"))
    return found.version, found.properties, plugins


@BOTH
@pytest.mark.parametrize("who", ["admin", "user"])
@pytest.mark.parametrize("scope", ["", "?scope=system", "?isSystem=true"], ids=["no-scope", "scope", "isSystem"])
@pytest.mark.parametrize("method, tail, body", WRITES)
def test_writes_through_a_user_namespace_do_not_reach_system_artifacts(
    client, admin_client, prefix, who, scope, method, tail, body
):
    system_artifact(properties={"owner": "ops"}, plugins=[plugin("batchsource", "csv")])
    before = _system_state()
    caller = admin_client if who == "admin" else client
    response = _send(caller, method, f"{prefix}{SYSTEM_VERSION}{tail}{scope}", body)
    assert (response.status_code, text(response)) == (404, NOT_FOUND)
    assert _system_state() == before


def test_admin_changes_system_artifacts_through_the_system_namespace(admin_client):
    system_artifact(properties={"owner": "ops"})
    path = f"{V3}/system/artifacts/command-app/versions/1.0.0"
    assert admin_client.put(f"{path}/properties/owner", data="team", content_type="text/plain").status_code == 200
    assert _system_state()[1] == {"owner": "team"}
    response = admin_client.delete(path)
    assert (response.status_code, text(response)) == (200, "")
    assert not ArtifactVersion.objects.filter(artifact__name="command-app").exists()


def test_a_write_through_a_namespace_changes_its_own_artifact_of_a_system_name(client):
    system_artifact("pipeline")
    add(client, "pipeline", archive("pipeline"))
    response = client.delete(f"{V3}/default/artifacts/pipeline/versions/1.0.0?scope=system")
    assert (response.status_code, text(response)) == (200, "")
    assert sorted(ArtifactVersion.objects.values_list("artifact__namespace__name", flat=True)) == ["system"]


@BOTH
def test_reads_of_system_artifacts_with_scope_still_work(client, prefix):
    system_artifact(properties={"owner": "ops"})
    response = client.get(f"{prefix}{SYSTEM_VERSION}", {"scope": "system"})
    assert response.status_code == 200 and response.json()["scope"] == "SYSTEM"
    response = client.get(f"{prefix}{SYSTEM_VERSION}/properties", {"scope": "system"})
    assert (response.status_code, response.json()) == (200, {"owner": "ops"})


# --- 6: one trailing slash is accepted everywhere, without a redirect --------------------------------------------
def _endpoints(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _endpoints(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


CDAP_ROUTES = sorted(set(_endpoints(cdap_urlpatterns)))


@pytest.mark.parametrize("route", CDAP_ROUTES)
def test_every_cdap_route_resolves_with_a_trailing_slash(route):
    path = "/" + route.replace("<str:", "<").replace("<", "").replace(">", "")
    plain, slashed = resolve(path), resolve(path + "/")
    assert hasattr(plain.func, "cls"), f"{path} is not a CDAP view"
    assert (slashed.func, slashed.kwargs) == (plain.func, plain.kwargs)


@BOTH
def test_delete_artifact_version_with_a_trailing_slash(client, prefix):
    add(client)
    response = client.delete(f"{prefix}/default/artifacts/myapp/versions/1.0.0/")
    assert (response.status_code, text(response)) == (200, "")
    assert not ArtifactVersion.objects.exists()


@BOTH
def test_delete_all_apps_with_a_trailing_slash(client, prefix):
    add(client)
    assert deploy(client, "app1", config={"table": "t"}).status_code == 200
    assert deploy(client, "app2", config={"table": "t"}).status_code == 200
    response = client.delete(f"{prefix}/default/apps/")
    assert (response.status_code, text(response)) == (200, "")
    assert not Application.objects.exists()
    assert ApplicationChange.objects.filter(action="delete").count() == 2


def test_trailing_slash_reads_and_writes_answer_without_redirects(client):
    assert client.get(f"{V3}/").json() == client.get(V3).json()
    response = client.put(f"{V3}/team/")
    assert (response.status_code, text(response)) == (200, "Namespace 'team' created successfully.")
    assert Namespace.objects.filter(name="team").exists()
    add(client)
    response = client.get(f"{V3}/default/artifacts/myapp/versions/1.0.0/properties/")
    assert (response.status_code, response.json()) == (200, {})
    response = client.get(f"{SEED}/default/artifacts/")
    assert response.status_code == 200 and [row["name"] for row in response.json()] == ["myapp"]


def test_only_one_trailing_slash_is_dropped(client):
    response = client.get(f"{V3}/default/apps//")
    assert (response.status_code, text(response)) == (
        404,
        "Problem accessing: /v3/namespaces/default/apps//. Reason: Not Found",
    )


# --- 7: the configuration string as Gson writes it ---------------------------------------------------------------
def _configuration(client, app: str = "app1") -> str:
    response = client.get(f"{V3}/default/apps/{app}")
    assert response.status_code == 200, text(response)
    return response.json()["configuration"]


@pytest.mark.parametrize(
    "config, expected",
    [
        ({"streamName": "abc", "tableName": "def"}, '{"streamName":"abc","tableName":"def"}'),
        # the keys in the order sent (a LinkedTreeMap), whatever the database keeps
        ({"zeta": "1", "alpha": "2", "mid": "3"}, '{"zeta":"1","alpha":"2","mid":"3"}'),
        # HTML-safe escapes, U+2028/U+2029 escaped, other non-ASCII as is
        (
            {"q": "<a href='x'>&=</a>", "u": "é\u2028\u2029", "c": 'tab\t"\\\x01'},
            '{"q":"\\u003ca href\\u003d\\u0027x\\u0027\\u003e\\u0026\\u003d\\u003c/a\\u003e",'
            '"u":"é\\u2028\\u2029","c":"tab\\t\\"\\\\\\u0001"}',
        ),
        # numbers read as Double; null members dropped (serializeNulls is off), nulls in arrays kept
        (
            {"n": 10, "f": 2.5, "big": 100000000000000000000, "small": 0.00001, "none": None, "l": [1, None, True]},
            '{"n":10.0,"f":2.5,"big":1.0E20,"small":1.0E-5,"l":[1.0,null,true]}',
        ),
        ({"nested": {"b": {"x": []}, "a": None}}, '{"nested":{"b":{"x":[]}}}'),
    ],
    ids=["upstream-example", "key-order", "escapes", "numbers-and-nulls", "nested"],
)
def test_configuration_is_gson_compact_text(client, config, expected):
    add(client, body=archive(schema=False))
    assert deploy(client, config=config).status_code == 200
    assert _configuration(client) == expected
    app = Application.objects.get(name="app1")
    assert app.config == config and json.loads(app.config_text) == config


def test_configuration_without_a_config_is_empty(client):
    add(client, body=archive(schema=False))
    assert deploy(client).status_code == 200
    assert _configuration(client) == ""
    assert Application.objects.get(name="app1").config is None


def test_configuration_keeps_its_order_through_an_update_without_config(client):
    add(client, body=archive(schema=False))
    add(client, body=archive(version="1.1.0", schema=False))
    assert deploy(client, config={"zeta": "1", "alpha": "2"}).status_code == 200
    response = client.post(
        f"{V3}/default/apps/app1/update",
        data=json.dumps({"artifact": {"name": "myapp", "version": "1.1.0"}}),
        content_type="application/json",
    )
    assert (response.status_code, text(response)) == (200, "Update complete.")
    assert _configuration(client) == '{"zeta":"1","alpha":"2"}'
    assert Application.objects.get(name="app1").artifact_version.version == "1.1.0"


# --- 8: application versions ---------------------------------------------------------------------------------------
@BOTH
def test_list_app_versions(client, prefix):
    add(client)
    assert deploy(client, config={"table": "t"}).status_code == 200
    response = client.get(f"{prefix}/default/apps/app1/versions")
    assert (response.status_code, response.json()) == (200, ["-SNAPSHOT"])
    response = client.get(f"{prefix}/default/apps/nope/versions")
    assert (response.status_code, text(response)) == (404, "'application:default.nope.-SNAPSHOT' was not found.")


@BOTH
def test_get_app_version(client, prefix):
    add(client)
    assert deploy(client, config={"table": "t"}).status_code == 200
    response = client.get(f"{prefix}/default/apps/app1/versions/-SNAPSHOT")
    assert response.status_code == 200
    assert response.json() == client.get(f"{prefix}/default/apps/app1").json()
    assert response.json()["appVersion"] == "-SNAPSHOT"
    response = client.get(f"{prefix}/default/apps/app1/versions/1.0.0")
    assert (response.status_code, text(response)) == (404, "'application:default.app1.1.0.0' was not found.")
    response = client.get(f"{prefix}/default/apps/app1/versions/b@d")
    assert (response.status_code, text(response)) == (400, "Invalid version 'b@d'")
    response = client.get(f"{prefix}/default/apps/b@d/versions/-SNAPSHOT")
    assert (response.status_code, text(response)) == (400, "Invalid app name 'b@d'")


@BOTH
def test_delete_app_version(client, prefix):
    add(client)
    assert deploy(client, config={"table": "t"}).status_code == 200
    response = client.delete(f"{prefix}/default/apps/app1/versions/2.0")
    assert (response.status_code, text(response)) == (404, "'application:default.app1.2.0' was not found.")
    assert Application.objects.filter(name="app1").exists()
    response = client.delete(f"{prefix}/default/apps/app1/versions/-SNAPSHOT")
    assert (response.status_code, text(response)) == (200, "")
    assert not Application.objects.exists()
    change = ApplicationChange.objects.get(action="delete")
    assert (change.app_name, change.via) == ("app1", "DELETE /apps/{app}/versions/{v}")
    response = client.delete(f"{prefix}/default/apps/app1/versions/-SNAPSHOT")
    assert (response.status_code, text(response)) == (404, "'application:default.app1.-SNAPSHOT' was not found.")


@BOTH
def test_create_app_version_deploys_from_an_app_request(client, prefix):
    add(client)
    add(client, body=archive(version="1.1.0"))
    path = f"{prefix}/default/apps/app1/versions/v1/create"
    request = {"artifact": {"name": "myapp", "version": "1.0.0"}, "config": {"table": "t"}}
    response = client.post(path, data=json.dumps(request), content_type="application/json")
    assert (response.status_code, text(response)) == (200, "Deploy Complete")
    app = Application.objects.get(name="app1")
    assert (app.artifact_version.version, app.config) == ("1.0.0", {"table": "t"})
    # the version id is not kept (upstream ignores it): the app is redeployed, and still has its one version
    request["artifact"]["version"] = "1.1.0"
    response = client.post(path, data=json.dumps(request), content_type="application/json")
    assert (response.status_code, text(response)) == (200, "Deploy Complete")
    assert Application.objects.get(name="app1").artifact_version.version == "1.1.0"
    assert client.get(f"{prefix}/default/apps/app1/versions").json() == ["-SNAPSHOT"]
    assert [c.via for c in ApplicationChange.objects.order_by("id")] == ["POST .../versions/{v}/create"] * 2


def test_create_app_version_refusals(client):
    add(client)
    request = json.dumps({"artifact": {"name": "myapp", "version": "1.0.0"}, "config": {"table": "t"}})
    response = client.post(f"{V3}/default/apps/app1/versions/b@d/create", data=request, content_type="application/json")
    assert (response.status_code, text(response)) == (400, "Invalid version 'b@d'")
    missing = json.dumps({"artifact": {"name": "gone", "version": "1.0.0"}})
    response = client.post(f"{V3}/default/apps/app1/versions/v1/create", data=missing, content_type="application/json")
    assert (response.status_code, text(response)) == (404, "'artifact:default.gone.1.0.0' was not found.")
    assert not Application.objects.exists()


# --- 9: the authentication handshake -------------------------------------------------------------------------------
AUTH_URI = b'{"auth_uri":["http://testserver/token"]}'


def basic(username: str, password: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@pytest.mark.parametrize("path", ["/v3/namespaces", "/namespaces/default/apps", "/v2/ping", "/ping"])
def test_a_call_without_a_token_is_told_where_to_get_one(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 401
    assert response.content == AUTH_URI
    assert response["Content-Type"] == "application/json;charset=UTF-8"
    assert response["WWW-Authenticate"] == 'Bearer realm="dataplatform"'


def test_a_refused_token_is_invalid_token(api_client, user):
    response = api_client.get(V3, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401
    assert json.loads(response.content) == {
        "error": "invalid_token",
        "error_description": "Invalid token signature.",
        "auth_uri": ["http://testserver/token"],
    }
    assert response["WWW-Authenticate"] == (
        'Bearer realm="dataplatform" error="invalid_token" error_description="Invalid token signature."'
    )
    expired = AccessToken.for_user(user)
    expired.set_exp(from_time=timezone.now() - timedelta(hours=2), lifetime=timedelta(hours=1))
    response = api_client.get(V3, HTTP_AUTHORIZATION=f"Bearer {expired}")
    assert response.status_code == 401
    assert json.loads(response.content)["error_description"] == "Expired token."


def test_token_endpoint_grants_a_bearer_token_for_basic_credentials(api_client, user):
    response = api_client.get("/token", **basic(user.username, PASSWORD))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json;charset=UTF-8"
    assert (response["Cache-Control"], response["Pragma"]) == ("no-store", "no-cache")
    body = json.loads(response.content)
    assert list(body) == ["access_token", "token_type", "expires_in"]
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 86400)
    # the token works on /v3 (and on /ping)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {body['access_token']}"}
    response = api_client.put(f"{V3}/team", **auth)
    assert (response.status_code, text(response)) == (200, "Namespace 'team' created successfully.")
    assert Namespace.objects.filter(name="team").exists()
    assert (api_client.get("/v2/ping", **auth).content, api_client.get("/ping", **auth).status_code) == (b"OK.\n", 200)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Basic !!!"},
        {"HTTP_AUTHORIZATION": "Bearer x"},
        basic("alice", "wrong"),
        basic("nobody", PASSWORD),
        basic("al\x00ice", PASSWORD),
    ],
    ids=["none", "malformed", "not-basic", "wrong-password", "unknown-user", "nul"],
)
def test_token_endpoint_refuses_without_valid_credentials(api_client, user, headers):
    response = api_client.get("/token", **headers)
    assert (response.status_code, text(response)) == (401, "Unauthorized")
    assert response["WWW-Authenticate"] == 'Basic realm="dataplatform"'
