"""Against a real server process: a real WebSocket client, the unchanged ``linkis-python-sdk`` 0.2.0, a restart."""

import json
import os
import signal

import pytest
import requests
from websockets.sync.client import connect as ws_connect

from tests.conftest import eventually
from tests.live import ADMIN, LiveServer

pytestmark = pytest.mark.live

E = "/api/rest_j/v1/entrance"
PATIENCE = 120.0  # seconds to wait for an answer or a job: generous on a loaded machine, never a speed claim


def is_final_status(frame: dict) -> bool:
    return frame["method"].endswith("/status") and frame["data"]["status"] in ("Succeed", "Failed", "Cancelled")


def get_json(session, url: str, **kwargs) -> dict | None:
    """GET inside a wait: None while the server is slow or refuses (the wait asks again)."""
    try:
        return session.get(url, timeout=30, **kwargs).json()
    except requests.RequestException:
        return None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("live")) as live:
        yield live


def login_session(server) -> requests.Session:
    session = requests.Session()
    body = session.post(
        f"{server.url}/api/rest_j/v1/user/login", json={"userName": ADMIN[0], "password": ADMIN[1]}, timeout=30
    ).json()
    assert body["status"] == 0
    return session


def test_real_websocket_client_gets_every_line_pushed(server):
    token = server.token()
    frames = []
    with ws_connect(
        f"{server.ws_url}/ws/api/entrance/connect", additional_headers={"Authorization": f"Bearer {token}"}
    ) as socket:
        code = "import time\nfor i in range(20):\n    print(f'tick {i}', flush=True)\n    time.sleep(0.02)"
        socket.send(json.dumps({
            "method": "/api/rest_j/v1/entrance/execute", "websocketTag": "w1",
            "data": {"executeApplicationName": "python", "executionCode": code, "runType": "python"},
        }))  # fmt: skip
        while not (frames and is_final_status(frames[-1])):  # until the job's final status is pushed
            frames.append(json.loads(socket.recv(timeout=PATIENCE)))
    ack = frames[0]
    assert ack["status"] == 0 and ack["data"]["websocketTag"] == "w1"
    exec_id = ack["data"]["execID"]
    assert frames[-1]["data"]["status"] == "Succeed"
    pushed = []
    for frame in frames:
        if frame["method"] == f"/api/rest_j/v1/entrance/{exec_id}/log":
            pushed.extend(frame["data"]["log"][3].split("\n"))
    polled = (
        requests.get(
            f"{server.url}{E}/{exec_id}/log?fromLine=1&size=-1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        .json()["data"]["log"][3]
        .split("\n")
    )
    assert pushed == polled  # the socket and HTTP polling read the same store
    assert sum(1 for line in pushed if " INFO tick " in line) == 20


def test_linkis_python_sdk_runs_unchanged(server):
    from linkis_python_sdk.client import LinkisClient
    from linkis_python_sdk.config.config import LinkisConfig

    # the jdbc engine runs the feature store's SQL over its tables (database "default" unless the job says)
    for statement in (
        "CREATE DATABASE IF NOT EXISTS default",
        "CREATE TABLE IF NOT EXISTS people (id int, name string, ts timestamp, INDEX(KEY=id, TS=ts))",
    ):
        body = requests.post(f"{server.url}/dbs/default", json={"mode": "online", "sql": statement}, timeout=30).json()
        assert body["code"] == 0, body
    rows = {"value": [[2, "two", 1000], [1, "one", 1000]]}
    assert requests.put(f"{server.url}/dbs/default/tables/people", json=rows, timeout=30).json()["code"] == 0
    client = LinkisClient(LinkisConfig(base_url=f"{server.url}/api/rest_j/v1", username=ADMIN[0], password=ADMIN[1]))
    data, total, error = client.execute_code(
        "select id, name from people order by id",
        {"columns": [{"column": "id"}, {"column": "name"}]},
        engine_type="jdbc-4",
        run_type="sql",
    )
    assert error == "" and total == 2
    assert data == [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]


def test_linkis_python_sdk_reports_a_failed_job(server):
    from linkis_python_sdk.client import LinkisClient
    from linkis_python_sdk.config.config import LinkisConfig

    client = LinkisClient(LinkisConfig(base_url=f"{server.url}/api/rest_j/v1", username=ADMIN[0], password=ADMIN[1]))
    data, total, error = client.execute_code("select * from no_such_table", {"columns": []}, "jdbc-4", "sql")
    assert data == [] and total == 0 and "no_such_table" in error


def test_cookie_login_then_submit_poll_and_results(server):
    session = login_session(server)
    body = session.post(
        f"{server.url}{E}/submit",
        json={"executionContent": {"code": "echo a\necho b", "runType": "sh"}, "labels": {"engineType": "shell-1"}},
        timeout=30,
    ).json()
    task_id = body["data"]["taskID"]

    def ended() -> dict | None:
        body = get_json(session, f"{server.url}/api/rest_j/v1/jobhistory/{task_id}/get")
        task = body and body["data"]["task"]
        return task if task and task["status"] in ("Succeed", "Failed", "Cancelled", "Timeout") else None

    task = eventually(ended, timeout=PATIENCE, interval=0.2, message=f"job {task_id} did not end")
    assert task["status"] == "Succeed"
    tree = session.get(
        f"{server.url}/api/rest_j/v1/filesystem/getDirFileTrees", params={"path": task["resultLocation"]}, timeout=30
    ).json()["data"]["dirFileTrees"]
    opened = session.get(
        f"{server.url}/api/rest_j/v1/filesystem/openFile", params={"path": tree["children"][0]["path"]}, timeout=30
    ).json()["data"]
    assert opened["type"] == "1" and opened["fileContent"] == [["a"], ["b"]]


def test_restart_fails_running_jobs_kills_orphans_and_keeps_logs(tmp_path):
    live = LiveServer(tmp_path).start()
    headers = {"Authorization": f"Bearer {live.token()}"}
    try:
        body = requests.post(
            f"{live.url}{E}/submit", headers=headers, timeout=30,
            json={"executionContent": {"code": "echo before\nsleep 300", "runType": "sh"},
                  "labels": {"engineType": "shell-1"}},
        ).json()  # fmt: skip
        exec_id, task_id = body["data"]["execID"], body["data"]["taskID"]

        def logged_before() -> bool:
            log = get_json(requests, f"{live.url}{E}/{exec_id}/log?size=-1", headers=headers)
            return bool(log) and " INFO before" in log["data"]["log"][3]

        eventually(logged_before, timeout=PATIENCE, interval=0.1, message="the job never logged its first line")
        task = requests.get(f"{live.url}/api/rest_j/v1/jobhistory/{task_id}/get", headers=headers, timeout=30)
        engine_pid = int(task.json()["data"]["task"]["engineInstance"].split(":")[1])
        os.killpg(live.process.pid, signal.SIGKILL)  # the platform crashes; the engine survives in its own session
        live.process.wait(timeout=30)
        live.process = None
        os.kill(engine_pid, 0)  # still alive
    finally:
        live.stop()
    restarted = LiveServer(tmp_path)
    restarted.port, restarted.url = live.port, live.url
    restarted.start()
    try:
        task = requests.get(f"{restarted.url}/api/rest_j/v1/jobhistory/{task_id}/get", headers=headers, timeout=30)
        task = task.json()["data"]["task"]
        assert task["status"] == "Failed" and task["errCode"] == 30001
        log = requests.get(f"{restarted.url}{E}/{exec_id}/log?size=-1", headers=headers, timeout=30).json()
        assert " INFO before" in log["data"]["log"][3] and "The platform stopped" in log["data"]["log"][0]

        def engine_gone() -> bool:
            try:
                os.kill(engine_pid, 0)
            except ProcessLookupError:
                return True
            return False

        eventually(engine_gone, message="the orphaned engine process survived the restart")
    finally:
        restarted.stop()
