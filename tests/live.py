"""A real platform server in a child process, for tests that need real sockets (HTTP, WebSocket, SDKs).

It runs the embedded default in its own ``DATA_DIR`` (its own SQLite database, secret key, job files): migrate,
bootstrap an admin, then uvicorn with the in-process runner, on a free port of 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import requests

from tests.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ("ops", "ops-password")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def platform_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh embedded-default process: no test settings, no service URLs."""
    drop = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "ADMIN_USERNAME", "ADMIN_PASSWORD", "TEST_DATA_DIR")
    environ = {key: value for key, value in os.environ.items() if key not in drop}
    environ.update(DATA_DIR=str(data_dir), **extra)
    return environ


class LiveServer:
    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.env = platform_env(data_dir, ADMIN_USERNAME=ADMIN[0], ADMIN_PASSWORD=ADMIN[1], **env)
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []

    def _manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True, timeout=120
        )

    def start(self, timeout: float = 120) -> LiveServer:
        self._manage("migrate", "--noinput")
        self._manage("bootstrap_admin")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--lifespan",
                "off",
                "--http",
                "httptools",
                "--ws",
                "websockets",
                "--no-access-log",
                "--no-proxy-headers",  # as make run serves the embedded default: no proxy, no forwarded headers
                "dataplatform.asgi:application",
            ],  # fmt: skip
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True).start()

        def healthy() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {''.join(self.lines)}")
            try:  # a first answer may be slow on a loaded machine: ask again rather than fail
                return requests.get(f"{self.url}/healthz", timeout=10).status_code == 200
            except requests.RequestException:
                return False

        try:
            eventually(healthy, timeout=timeout, interval=0.2, message="the server did not become healthy in time")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        self.process = None

    def token(self, username: str = ADMIN[0], password: str = ADMIN[1]) -> str:
        response = requests.post(f"{self.url}/api/auth", json={"username": username, "password": password}, timeout=30)
        response.raise_for_status()
        return response.json()["token"]

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
