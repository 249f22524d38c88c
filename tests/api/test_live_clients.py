"""Real clients against a real server process (issue 16, items 4 and 11).

- OpenMLDB's Airflow provider (``airflow-provider-openmldb`` 0.0.1, unchanged): ``OpenMLDBHook.test_connection()``
  calls ``run()`` with no endpoint, i.e. ``POST`` of the bare base URL with no body, and reports success when the
  answer is 2xx or 3xx (``check_response`` is ``raise_for_status``). Apache Airflow itself is not installed
  (``requirements-nodeps.txt``); ``airflow`` below stands in for the two names the hook imports, as in
  ``tests/featurestore/test_airflow_provider.py``.
- openpaisdk v0.14 (microsoft/pai ``contrib/python-sdk/openpaisdk``): ``ClusterClient`` addresses the REST server as
  ``{pai_uri}/rest-server/api/...`` and ``utils.get_response`` sends ``requests.request(method, url,
  headers=headers, json=body)``, asserting the status is one it allows; ``sdk_request`` below is that function.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.airflow_standin import CONNECTIONS, Connection, provider_imported
from tests.live import ADMIN, LiveServer

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def hook_class():
    """``OpenMLDBHook``, imported over the stand-in ``airflow`` package (both removed afterwards)."""
    with provider_imported() as provider:
        yield provider.hooks.OpenMLDBHook


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("live-clients")) as live:
        yield live


# --- the Airflow provider's connection test -----------------------------------------------------------------
def test_airflow_hook_test_connection_succeeds(hook_class, server):
    CONNECTIONS["openmldb_default"] = Connection("openmldb_default", host="127.0.0.1", schema="http", port=server.port)
    assert hook_class().test_connection() == (True, "Connection successfully tested")


def test_airflow_hook_test_connection_with_credentials_succeeds(hook_class, server):
    token = server.token()
    CONNECTIONS["openmldb_token"] = Connection(
        "openmldb_token", host=f"http://127.0.0.1:{server.port}", extra=json.dumps({"Authorization": f"Bearer {token}"})
    )
    CONNECTIONS["openmldb_basic"] = Connection(
        "openmldb_basic", host="127.0.0.1", port=server.port, login=ADMIN[0], password=ADMIN[1]
    )
    assert hook_class(openmldb_conn_id="openmldb_token").test_connection() == (True, "Connection successfully tested")
    assert hook_class(openmldb_conn_id="openmldb_basic").test_connection() == (True, "Connection successfully tested")


def test_what_the_connection_test_reads(server):
    # the request test_connection() sends: POST of the base URL, no body, requests' default Accept (*/*)
    response = requests.post(server.url, timeout=30)
    assert response.status_code == 200
    assert response.json()["name"] == "dataplatform" and response.json()["version"]
    assert "csrftoken" not in response.cookies and "sessionid" not in response.cookies
    # an unknown path: JSON for such a client, HTML for a browser
    missing = requests.get(f"{server.url}/nowhere", timeout=30)
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not found: GET /nowhere"})
    page = requests.get(f"{server.url}/nowhere", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")


# --- openpaisdk v0.14 -------------------------------------------------------------------------------------------
def sdk_request(path: str, headers: dict | None = None, body: dict | None = None, method: str = "POST",
                allowed_status: tuple[int, ...] = (200,)) -> requests.Response:  # fmt: skip
    """``openpaisdk.utils.get_response``: JSON body (``{}`` by default), one try, the status must be allowed."""
    headers = {"Content-Type": "application/json"} if headers is None else headers
    response = requests.request(method, path, headers=headers, json=body if body is not None else {}, timeout=60)
    assert response.status_code in allowed_status, (response.status_code, response.reason, response.text)
    return response


def test_openpaisdk_v0_14_requests_work_against_the_platform_alone(server):
    pai_uri, user = server.url, ADMIN[0]
    # ClusterClient.rest_api_token
    token = sdk_request(
        f"{pai_uri}/rest-server/api/v1/token", body={"username": user, "password": ADMIN[1], "expiration": 3600}
    ).json()["token"]
    # ClusterClient.rest_api_submit, a v1 job (protocolVersion 1: JSON to the user's jobs)
    config = {"jobName": "sdk_live", "image": "ubuntu:16.04", "taskRoles": [{"name": "main", "command": "echo hi"}]}
    submitted = sdk_request(
        f"{pai_uri}/rest-server/api/v1/user/{user}/jobs",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body=config,
        allowed_status=(202, 201),
    )
    assert submitted.json() == {"message": "update job sdk_live successfully"}
    # ClusterClient.rest_api_jobs: the list, one job, its config
    jobs = sdk_request(f"{pai_uri}/rest-server/api/v1/user/{user}/jobs", headers={}, method="GET").json()
    assert [job["name"] for job in jobs] == ["sdk_live"]
    detail = sdk_request(f"{pai_uri}/rest-server/api/v1/user/{user}/jobs/sdk_live", headers={}, method="GET")
    assert detail.json()["name"] == "sdk_live" and detail.json()["jobStatus"]["username"] == user
    stored = sdk_request(f"{pai_uri}/rest-server/api/v1/user/{user}/jobs/sdk_live/config", headers={}, method="GET")
    assert stored.json() == config
    # errors keep OpenPAI's envelope
    wrong = sdk_request(
        f"{pai_uri}/rest-server/api/v1/token", body={"username": user, "password": "wrong-pass"}, allowed_status=(400,)
    )
    assert wrong.json() == {"code": "IncorrectPasswordError", "message": "Password is incorrect."}
    unknown = sdk_request(f"{pai_uri}/rest-server/api/v1/nowhere", headers={}, method="GET", allowed_status=(404,))
    assert unknown.json() == {"code": "NoApiError", "message": "API /api/v1/nowhere is not found."}
