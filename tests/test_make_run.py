"""``make run`` from the outside: it sets up, serves /healthz, issues a token for the bootstrap admin, and a
second run on the same data starts without re-creating anything."""

import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest
import requests

from tests.conftest import eventually

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.live


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(data_dir: Path, port: int, **extra) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    environ.update(DATA_DIR=str(data_dir), PORT=str(port), **extra)
    for key in ("ADMIN_USERNAME", "ADMIN_PASSWORD"):
        if key not in extra:
            environ.pop(key, None)
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    process.lines = []
    process.reader = threading.Thread(target=lambda: process.lines.extend(process.stdout), daemon=True)
    process.reader.start()
    return process


def wait_healthy(process: subprocess.Popen, port: int, timeout: float = 120) -> requests.Response:
    """Wait for /healthz to answer 200; a refused connection or a slow answer (a loaded machine) is tried again."""

    def healthy() -> requests.Response | None:
        if process.poll() is not None:
            process.reader.join(5)
            raise AssertionError(f"make run exited with {process.returncode}: {''.join(process.lines)}")
        try:
            response = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
        except requests.RequestException:  # not listening yet, or too slow to answer this time
            return None
        return response if response.status_code == 200 else None

    return eventually(healthy, timeout=timeout, interval=0.3, message="the platform did not become healthy in time")


def stop(process: subprocess.Popen) -> str:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    process.reader.join(10)
    return "".join(process.lines)


def test_make_run_serves_and_is_idempotent(tmp_path):
    port = free_port()
    process = start(tmp_path, port, ADMIN_USERNAME="ops", ADMIN_PASSWORD="ops-password")
    try:
        health = wait_healthy(process, port)
        assert health.json()["checks"] == {"database": "ok", "channel_layer": "ok"}
        assert health.json()["profile"] == "embedded"
        response = requests.post(
            f"http://127.0.0.1:{port}/api/auth", json={"username": "ops", "password": "ops-password"}, timeout=30
        )
        assert response.status_code == 200 and response.json()["user"] == "ops"
        token = response.json()["token"]
        # Linkis's instance and execID name the port the server really listens on.
        body = {"executionContent": {"code": "echo hi", "runType": "sh"}, "labels": {"engineType": "shell-1"}}
        submitted = requests.post(f"http://127.0.0.1:{port}/api/rest_j/v1/entrance/submit", json=body,
                                  headers={"Authorization": f"Bearer {token}"}, timeout=30).json()  # fmt: skip
        assert f"linkis-cg-entrance127.0.0.1:{port}IDE_ops_" in submitted["data"]["execID"], submitted
    finally:
        first = stop(process)
    assert "Created admin account 'ops'" in first
    assert (tmp_path / "platform.sqlite3").exists()

    process = start(tmp_path, port, ADMIN_USERNAME="ops", ADMIN_PASSWORD="ops-password")
    try:
        wait_healthy(process, port)
        # the secret key survived the restart, so the earlier token still works
        info = requests.get(
            f"http://127.0.0.1:{port}/api/rest_j/v1/user/userInfo",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert info.json()["data"]["userName"] == "ops"
    finally:
        second = stop(process)
    assert "Created admin account" not in second and "nothing to do" in second


def test_make_run_prints_a_generated_admin_password(tmp_path):
    port = free_port()
    process = start(tmp_path, port)
    try:
        wait_healthy(process, port)
        output = "".join(process.lines)
        password = output.split("Its password is: ")[1].split()[0]
        response = requests.post(
            f"http://127.0.0.1:{port}/api/auth", json={"username": "admin", "password": password}, timeout=30
        )
        assert response.status_code == 200 and response.json()["user"] == "admin"
    finally:
        stop(process)


@pytest.mark.cluster
def test_make_run_with_database_and_redis_urls_starts_the_production_profile(tmp_path):
    """nginx on PORT in front of gunicorn (HTTP) and uvicorn (WebSocket), and a Celery worker: a job submitted
    over HTTP runs on the worker and its log arrives over a WebSocket on the same origin."""
    import json
    import shutil

    from websockets.sync.client import connect as ws_connect

    from tests.cluster import Cluster, service_problem
    from tests.conftest import need_service

    problem = service_problem() or (
        None if shutil.which("nginx") or Path("/usr/sbin/nginx").exists() else "nginx is not installed (make nginx)"
    )
    if problem:
        need_service(problem)
    cluster = Cluster(tmp_path)
    cluster.start_redis()
    cluster._create_database()
    port = free_port()
    environ = {k: v for k, v in cluster.env.items() if k not in ("ADMIN_USERNAME", "ADMIN_PASSWORD")}
    environ.update(PORT=str(port), HTTP_PORT=str(free_port()), WS_PORT=str(free_port()), WEB_PROCESSES="2")
    environ.update(ADMIN_USERNAME="ops", ADMIN_PASSWORD="ops-password")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    process.lines = []
    process.reader = threading.Thread(target=lambda: process.lines.extend(process.stdout), daemon=True)
    process.reader.start()
    url = f"http://127.0.0.1:{port}"
    try:
        health = wait_healthy(process, port, timeout=120)
        assert health.json()["profile"] == "production"
        token = requests.post(
            f"{url}/api/auth", json={"username": "ops", "password": "ops-password"}, timeout=30
        ).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        eventually(
            lambda: cluster.sql("SELECT identity FROM jobs_worker"), timeout=120, message="the worker never registered"
        )
        body = {
            "executionContent": {"code": "for i in 1 2 3; do echo step $i; sleep 0.2; done", "runType": "sh"},
            "labels": {"engineType": "shell-1", "userCreator": "make-IDE"},
        }
        submitted = requests.post(f"{url}/api/rest_j/v1/entrance/submit", json=body, headers=auth, timeout=30).json()
        assert submitted["status"] == 0, submitted
        exec_id = submitted["data"]["execID"]
        lines, final = [], None
        with ws_connect(f"ws://127.0.0.1:{port}/ws/api/entrance/connect", additional_headers=auth) as socket:
            for action, data in (("log", {"fromLine": 1}), ("status", {})):
                method = f"/api/rest_j/v1/entrance/{exec_id}/{action}"
                socket.send(json.dumps({"method": method, "websocketTag": "m", "data": data}))
            while final is None:  # until the job's final status is pushed (a silent socket fails the test)
                frame = json.loads(socket.recv(timeout=120))
                if frame["method"].endswith("/log") and frame["data"]["log"][3]:
                    lines.extend(frame["data"]["log"][3].split("\n"))
                elif frame["method"].endswith("/status") and frame["data"]["status"] in ("Succeed", "Failed"):
                    final = frame["data"]["status"]
        assert final == "Succeed"
        assert [line.split(" INFO ")[-1] for line in lines if " INFO step " in line] == ["step 1", "step 2", "step 3"]
        runner = cluster.sql("SELECT runner FROM jobs_job")[0][0]
        assert runner.startswith("celery@")  # it ran on the worker, not in a web process
    finally:
        output = stop(process)
        cluster.stop()
    for name in ("proxy", "web", "ws", "worker"):
        assert f"{name}." in output or f"{name} " in output, output[-3000:]
