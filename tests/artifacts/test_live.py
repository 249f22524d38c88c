"""Against a real server process: the shipped system artifact is loaded at start, the example archive is
uploaded over real HTTP, an application is created from it and its programs run as jobs and are stopped."""

import time
from pathlib import Path

import pytest
import requests

from tests.live import LiveServer

pytestmark = pytest.mark.live

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "myapp-1.0.0.zip"
NS = "/v3/namespaces/default"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("live-artifacts")) as live:
        yield live


@pytest.fixture(scope="module")
def http(server):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {server.token()}"
    return session


def wait_status(http, url: str, wanted: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = http.get(url, timeout=10).json()["status"]
        if status == wanted:
            return status
        time.sleep(0.1)
    raise AssertionError(f"{url}: {status}, not {wanted} after {timeout} s")


def test_system_artifacts_are_loaded_at_start(server, http):
    listed = http.get(f"{server.url}{NS}/artifacts?scope=system", timeout=10).json()
    assert {"name": "command-app", "version": "1.0.0", "scope": "SYSTEM", "isSystem": True} in listed


def test_example_archive_to_running_programs(server, http):
    with open(EXAMPLE, "rb") as body:
        response = http.post(f"{server.url}{NS}/artifacts/myapp", data=body, timeout=30)
    assert (response.status_code, response.text) == (200, "Artifact added successfully")
    info = http.get(f"{server.url}{NS}/artifacts/myapp/versions/1.0.0", timeout=10).json()
    assert info["size"] == EXAMPLE.stat().st_size and len(info["checksum"]["sha256"]) == 64

    config = {"table": "purchases", "batchSize": 10}
    request = {"artifact": {"name": "myapp", "version": "[1.0.0,2.0.0)"}, "config": config}
    response = http.put(f"{server.url}{NS}/apps/dump", json=request, timeout=10)
    assert (response.status_code, response.text) == (200, "Deploy Complete")

    # The workflow runs to completion as a job; its output shows the app's config.
    report = f"{server.url}{NS}/apps/dump/workflows/Report"
    assert http.post(f"{report}/start", timeout=10).status_code == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = http.get(f"{report}/runs", timeout=10).json()
        if runs and runs[0]["status"] not in ("STARTING", "RUNNING"):
            break
        time.sleep(0.1)
    assert runs[0]["status"] == "COMPLETED"
    log = http.get(f"{server.url}/api/rest_j/v1/entrance/{runs[0]['jobId']}/log?fromLine=1&size=-1", timeout=10)
    assert "purchase report for table purchases" in str(log.json()["data"]["log"])

    # The worker runs until stopped; a second start is refused; an upgrade waits for it to stop.
    writer = f"{server.url}{NS}/apps/dump/workers/Writer"
    assert http.post(f"{writer}/start", timeout=10).status_code == 200
    wait_status(http, f"{writer}/status", "RUNNING")
    second = http.post(f"{writer}/start", timeout=10)
    assert second.status_code == 409 and "is already running" in second.text
    update = http.post(f"{server.url}{NS}/apps/dump/update", json={"config": {**config, "table": "x"}}, timeout=10)
    assert update.status_code == 409 and "Writer" in update.text
    assert http.post(f"{writer}/stop", timeout=10).status_code == 200
    wait_status(http, f"{writer}/status", "STOPPED")
    update = http.post(f"{server.url}{NS}/apps/dump/update", json={"config": {**config, "table": "x"}}, timeout=10)
    assert (update.status_code, update.text) == (200, "Update complete.")
    history = http.get(f"{server.url}{NS}/apps/dump/history", timeout=10).json()
    assert [change["action"] for change in history] == ["config", "create"]
