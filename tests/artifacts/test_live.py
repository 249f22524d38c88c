"""Against a real server process: the shipped system artifact is loaded at start, the example archive is
uploaded over real HTTP, an application is created from it and its programs run as jobs and are stopped."""

from pathlib import Path

import pytest
import requests

from tests.conftest import eventually
from tests.live import LiveServer

pytestmark = pytest.mark.live

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "myapp-1.0.0.zip"
NS = "/v3/namespaces/default"
PATIENCE = 120.0  # seconds to wait for a run: generous on a loaded machine, never a speed claim


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("live-artifacts")) as live:
        yield live


@pytest.fixture(scope="module")
def http(server):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {server.token()}"
    return session


def get_json(http, url: str):
    """GET inside a wait: None while the server is slow or refuses (the wait asks again)."""
    try:
        return http.get(url, timeout=30).json()
    except requests.RequestException:
        return None


def wait_status(http, url: str, wanted: str, timeout: float = PATIENCE) -> str:
    seen: list = []

    def reached() -> str | None:
        body = get_json(http, url)
        seen[:] = [body]
        return body["status"] if body and body["status"] == wanted else None

    return eventually(reached, timeout=timeout, interval=0.1, message=lambda: f"{url}: {seen}, not {wanted}")


def test_system_artifacts_are_loaded_at_start(server, http):
    listed = http.get(f"{server.url}{NS}/artifacts?scope=system", timeout=30).json()
    assert {"name": "command-app", "version": "1.0.0", "scope": "SYSTEM", "isSystem": True} in listed


def test_example_archive_to_running_programs(server, http):
    with open(EXAMPLE, "rb") as body:
        response = http.post(f"{server.url}{NS}/artifacts/myapp", data=body, timeout=30)
    assert (response.status_code, response.text) == (200, "Artifact added successfully")
    info = http.get(f"{server.url}{NS}/artifacts/myapp/versions/1.0.0", timeout=30).json()
    assert info["size"] == EXAMPLE.stat().st_size and len(info["checksum"]["sha256"]) == 64

    config = {"table": "purchases", "batchSize": 10}
    request = {"artifact": {"name": "myapp", "version": "[1.0.0,2.0.0)"}, "config": config}
    response = http.put(f"{server.url}{NS}/apps/dump", json=request, timeout=30)
    assert (response.status_code, response.text) == (200, "Deploy Complete")

    # The workflow runs to completion as a job; its output shows the app's config.
    report = f"{server.url}{NS}/apps/dump/workflows/Report"
    assert http.post(f"{report}/start", timeout=30).status_code == 200

    def ended() -> list | None:
        runs = get_json(http, f"{report}/runs")
        return runs if runs and runs[0]["status"] not in ("STARTING", "RUNNING") else None

    runs = eventually(ended, timeout=PATIENCE, interval=0.1, message="the workflow's run did not end")
    assert runs[0]["status"] == "COMPLETED"
    log = http.get(f"{server.url}/api/rest_j/v1/entrance/{runs[0]['jobId']}/log?fromLine=1&size=-1", timeout=30)
    assert "purchase report for table purchases" in str(log.json()["data"]["log"])

    # The worker runs until stopped; a second start is refused; an upgrade waits for it to stop.
    writer = f"{server.url}{NS}/apps/dump/workers/Writer"
    assert http.post(f"{writer}/start", timeout=30).status_code == 200
    wait_status(http, f"{writer}/status", "RUNNING")
    second = http.post(f"{writer}/start", timeout=30)
    assert second.status_code == 409 and "is already running" in second.text
    update = http.post(f"{server.url}{NS}/apps/dump/update", json={"config": {**config, "table": "x"}}, timeout=30)
    assert update.status_code == 409 and "Writer" in update.text
    assert http.post(f"{writer}/stop", timeout=30).status_code == 200
    wait_status(http, f"{writer}/status", "STOPPED")
    update = http.post(f"{server.url}{NS}/apps/dump/update", json={"config": {**config, "table": "x"}}, timeout=30)
    assert (update.status_code, update.text) == (200, "Update complete.")
    history = http.get(f"{server.url}{NS}/apps/dump/history", timeout=30).json()
    assert [change["action"] for change in history] == ["config", "create"]
