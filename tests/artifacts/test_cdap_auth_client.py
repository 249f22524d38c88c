"""CDAP's Python authentication client (PyPI ``cdap-auth-client`` 1.0.2) against a real server process.

What the client does, read from its source (``AbstractAuthenticationClient``, ``BasicAuthenticationClient``):
``is_auth_enabled()`` GETs ``<http|https>://host:port/v2/ping`` and, on a 401, picks one URL of the JSON body's
``auth_uri`` list; ``get_access_token()`` GETs that URL with ``Authorization: Basic base64(user:password)`` (and
``verify=`` the ``security_ssl_cert_check`` property, default True) and reads ``access_token``, ``token_type`` and
``expires_in`` from the JSON answer, which must all be non-empty.

It is Python 2 code. Its package ``__init__`` imports its modules as top-level names (``from
BasicAuthenticationClient import ...``), so ``import cdap_auth_client`` fails on Python 3; and
``RestClientUtils.verify_response_code`` tests ``status is httplib.OK``, which Python 3 never satisfies
(``http.client.OK`` is an ``HTTPStatus`` member), so it raises on every answer, 200 included. Hence two tests:

- ``test_replayed_handshake`` sends exactly the client's requests with ``requests``;
- ``test_client_modules_drive_the_handshake`` runs the client's own modules, unchanged, loaded from its directory as
  Python 2 found them, given the one thing Python 2 gave them: httplib's status codes as plain ints.
"""

from __future__ import annotations

import base64
import http
import importlib
import importlib.util
import json
import sys
import types

import pytest
import requests

from tests.live import ADMIN, LiveServer

pytestmark = pytest.mark.live

CLIENT_MODULES = (
    "AccessToken",
    "AuthenticationClient",
    "Credential",
    "RestClientUtils",
    "AbstractAuthenticationClient",
    "BasicAuthenticationClient",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("live-cdap-auth")) as live:
        yield live


@pytest.fixture
def client_modules(monkeypatch) -> dict[str, types.ModuleType]:
    """The client's modules, imported by the top-level names its own imports use."""
    spec = importlib.util.find_spec("cdap_auth_client")  # finds the package without running its __init__
    assert spec is not None and spec.submodule_search_locations, "cdap-auth-client is not installed"
    monkeypatch.syspath_prepend(spec.submodule_search_locations[0])
    modules = {name: importlib.import_module(name) for name in CLIENT_MODULES}
    python2_httplib = types.SimpleNamespace(**{status.name: int(status) for status in http.HTTPStatus})
    monkeypatch.setattr(modules["RestClientUtils"], "hl", python2_httplib)
    yield modules
    for name in CLIENT_MODULES:
        sys.modules.pop(name, None)


def basic_client(modules, server, username: str, password: str):
    client = modules["BasicAuthenticationClient"].BasicAuthenticationClient()
    client.set_connection_info("127.0.0.1", server.port, False)
    client.configure({"security_auth_client_username": username, "security_auth_client_password": password})
    return client


def test_replayed_handshake(server):
    # is_auth_enabled(): the ping, without credentials
    ping = requests.get(f"{server.url}/v2/ping", verify=True, timeout=30)
    assert ping.status_code == 401
    assert ping.json() == {"auth_uri": [f"{server.url}/token"]}
    assert ping.headers["WWW-Authenticate"] == 'Bearer realm="dataplatform"'
    # get_access_token(): Basic credentials to one of the auth_uri, headers passed through json as the client does
    auth_url = ping.json()["auth_uri"][0]
    encoded = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode("utf-8")
    headers = json.loads(json.dumps({"Authorization": f"Basic {encoded}"}))
    granted = requests.get(auth_url, headers=headers, verify=True, timeout=30)
    assert granted.status_code == 200
    body = granted.json()
    assert sorted(body) == ["access_token", "expires_in", "token_type"]
    assert body["access_token"] and (body["token_type"], body["expires_in"]) == ("Bearer", 86400)
    # the token on /v3: a namespace is created and then listed
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    created = requests.put(f"{server.url}/v3/namespaces/authns", headers=bearer, timeout=30)
    assert (created.status_code, created.text) == (200, "Namespace 'authns' created successfully.")
    listed = requests.get(f"{server.url}/v3/namespaces", headers=bearer, timeout=30)
    assert "authns" in [namespace["name"] for namespace in listed.json()]
    pinged = requests.get(f"{server.url}/v2/ping", headers=bearer, timeout=30)
    assert (pinged.status_code, pinged.text) == (200, "OK.\n")


def test_client_modules_drive_the_handshake(server, client_modules):
    client = basic_client(client_modules, server, *ADMIN)
    assert client.is_auth_enabled() is True
    assert client.auth_url == f"{server.url}/token"
    token = client.get_access_token()
    assert (token.token_type, token.expires_in) == ("Bearer", 86400)
    headers = {"Authorization": f"{token.token_type} {token.value}"}
    created = requests.put(f"{server.url}/v3/namespaces/clientns", headers=headers, timeout=30)
    assert (created.status_code, created.text) == (200, "Namespace 'clientns' created successfully.")
    found = requests.get(f"{server.url}/v3/namespaces/clientns", headers=headers, timeout=30)
    assert (found.status_code, found.json()["name"]) == (200, "clientns")


def test_client_modules_report_wrong_credentials(server, client_modules):
    client = basic_client(client_modules, server, "nobody", "wrong")
    assert client.is_auth_enabled() is True
    with pytest.raises(client_modules["RestClientUtils"].UnauthorizedError):
        client.get_access_token()
