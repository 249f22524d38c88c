"""A production-profile platform on 127.0.0.1, in child processes: web processes, Celery workers, its own Redis.

Everything runs with ``DATABASE_URL`` and ``REDIS_URL`` set, as ``make run`` starts the production profile: a
fresh PostgreSQL database per cluster (on the machine's server, reached through a TCP relay the tests can cut),
and a Redis server of the cluster's own (``redis-server`` on a free port, so that a test can restart it without
touching anyone else's). Web processes are uvicorn (HTTP and WebSocket); workers are ``manage.py worker``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import requests

from tests.live import ADMIN, ROOT, free_port
from tests.waiting import eventually

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", f"postgres://postgres@{PG_HOST}:{PG_PORT}/postgres")


def service_problem() -> str | None:
    """Why a cluster cannot start here (PostgreSQL or redis-server missing), or None."""
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            pass
    except OSError as exc:
        return f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT} ({exc})"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (the cluster tests run a Redis server of their own)"
    return None


class Relay:
    """A TCP relay in a thread: ``127.0.0.1:<port>`` -> target. ``cut()`` drops every connection and refuses new
    ones until ``restore()``: a database that is briefly unreachable, as its clients see it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.open = True
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server = None
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _pipe(self, reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_reader, client_writer) -> None:
        if not self.open:
            client_writer.close()
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self._writers.update((client_writer, server_writer))
        await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))
        self._writers.difference_update((client_writer, server_writer))

    def cut(self) -> None:
        async def drop() -> None:
            self.open = False
            for writer in list(self._writers):
                writer.transport.abort()

        asyncio.run_coroutine_threadsafe(drop(), self._loop).result(10)

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._server.close)


class Cluster:
    def __init__(self, base_dir: Path, *, worker_concurrency: int = 1, **env: str) -> None:
        self.base_dir = base_dir
        self.db_name = f"platform_cluster_{uuid.uuid4().hex[:10]}"
        self.relay = Relay(PG_HOST, PG_PORT)
        self.redis_port = free_port()
        self.redis: subprocess.Popen | None = None
        self.worker_concurrency = worker_concurrency
        self.webs: dict[str, tuple[int, subprocess.Popen]] = {}
        self.workers: dict[str, subprocess.Popen] = {}
        self.outputs: dict[str, list[str]] = {}
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DJANGO_SETTINGS_MODULE", "TEST_DATA_DIR", "ADMIN_USERNAME", "ADMIN_PASSWORD")
        }
        self.env.update(
            DATABASE_URL=f"postgres://postgres@127.0.0.1:{self.relay.port}/{self.db_name}",
            REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_COOKIES="0",
            DATA_DIR=str(base_dir / "data"),
            ADMIN_USERNAME=ADMIN[0],
            ADMIN_PASSWORD=ADMIN[1],
            JOB_HEARTBEAT_SECONDS="1",
            JOB_WORKER_TIMEOUT_SECONDS="4",
            JOB_REDISPATCH_SECONDS="5",
            JOB_KILL_GRACE_SECONDS="2",
            OPENMLDB_ALLOW_ANONYMOUS="1",
            SYSTEM_ARTIFACTS_LOAD_AT_START="0",
        )
        self.env.update(env)

    # --- services -------------------------------------------------------------------------------------------------
    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.base_dir),
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

        def accepting() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=5):
                    return True
            except OSError:
                return False

        eventually(accepting, timeout=60, message="redis-server did not start")

    def stop_redis(self) -> None:
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait(10)
            self.redis = None

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')

    def _drop_database(self) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Read the cluster's database directly (not through the relay)."""
        import psycopg

        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.db_name}"
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    # --- processes ------------------------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        lines = self.outputs.setdefault(name, [])
        threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
        return process

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True, timeout=180
        )

    def start_web(self, name: str, port: int | None = None) -> str:
        port = port or free_port()
        argv = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
                "--http", "httptools", "--ws", "websockets", "--no-access-log",
                "dataplatform.asgi:application"]  # fmt: skip
        self.webs[name] = (port, self._spawn(name, argv))
        url = self.url(name)
        self._wait(lambda: requests.get(f"{url}/healthz", timeout=10).status_code == 200, name)
        return url

    def start_http(self, name: str, processes: int = 2) -> str:
        """HTTP as ``make run``'s production profile serves it: gunicorn with sync WSGI workers (no WebSocket)."""
        port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "dataplatform.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", str(processes), "--worker-class", "sync", "--timeout", "600"]  # fmt: skip
        self.webs[name] = (port, self._spawn(name, argv))
        url = self.url(name)
        self._wait(lambda: requests.get(f"{url}/healthz", timeout=10).status_code == 200, name)
        return url

    def start_worker(self, name: str) -> subprocess.Popen:
        argv = [sys.executable, "manage.py", "worker", f"--hostname={name}@%h"]
        if self.worker_concurrency:  # 0: the command's default, JOB_MAX_RUNNING
            argv.append(f"--concurrency={self.worker_concurrency}")
        process = self._spawn(name, argv)
        self.workers[name] = process
        self._wait(lambda: self.worker_identity(name) is not None, name)
        return process

    def worker_identity(self, name: str) -> str | None:
        process = self.workers[name]
        rows = self.sql("SELECT identity FROM jobs_worker WHERE pid = %s", (process.pid,))
        return rows[0][0] if rows else None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.webs[name][0]}"

    def ws_url(self, name: str) -> str:
        return f"ws://127.0.0.1:{self.webs[name][0]}"

    def _wait(self, ready, name: str, timeout: float = 120) -> None:
        """Wait until ``ready()`` (a server may not be up yet, or slow to answer at first); fail if ``name`` exits."""

        def output() -> str:
            return "".join(self.outputs.get(name, []))[-3000:]

        def check() -> bool:
            process = self.webs[name][1] if name in self.webs else self.workers[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited: {output()}")
            try:
                return bool(ready())
            except (requests.RequestException, OSError):
                return False

        eventually(check, timeout=timeout, interval=0.1, message=lambda: f"{name} did not become ready: {output()}")

    @staticmethod
    def _end(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def stop_web(self, name: str) -> int:
        port, process = self.webs.pop(name)
        self._end(process)
        return port

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker process only (its jobs' engine processes are left to the platform to end)."""
        process = self.workers.pop(name)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_worker(self, name: str) -> None:
        self._end(self.workers.pop(name))

    # --- the whole ------------------------------------------------------------------------------------------------
    def start(self) -> Cluster:
        self.start_redis()
        self._create_database()
        self.manage("migrate", "--noinput")
        self.manage("bootstrap_admin")
        return self

    def stop(self) -> None:
        for name in list(self.webs):
            self.stop_web(name)
        for name in list(self.workers):
            self.stop_worker(name)
        self.stop_redis()
        self.relay.close()
        try:
            self._drop_database()
        except Exception:  # noqa: S110 - a leftover test database is not worth failing the run for
            pass

    def token(self, web: str) -> str:
        answer = requests.post(
            f"{self.url(web)}/api/auth", json={"username": ADMIN[0], "password": ADMIN[1]}, timeout=30
        )
        answer.raise_for_status()
        return answer.json()["token"]
