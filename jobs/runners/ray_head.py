"""A Ray head on this machine, for ``RAY_ADDRESS=local``, the tests and the benchmarks.

It is started as ``ray start --head --block`` in a process group of its own, bound to 127.0.0.1 (no port of it is
reachable from another machine), with every port it listens on chosen free (so that several heads, or an OpenPAI
task's fixed ports, never collide) and workers on ports the kernel picks. Ray's token authentication is on, with a
token of its own (a file only root reads, in the head's directory): a local process that is not the platform cannot
drive it either, as connecting to a Ray cluster means running code on it. It is stopped through its process group:
SIGTERM, then SIGKILL after a short grace; never ``ray stop``, which would stop every Ray on the machine.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobs.procs import free_ports

HOST = "127.0.0.1"


def _free_ports(count: int) -> list[int]:
    return free_ports(HOST, count)


def ray_program() -> str:
    return str(Path(sys.executable).parent / "ray")


# A node joining a head on 127.0.0.1 (a second "machine" on this one, for tests): Ray refuses to join a cluster
# while it keeps loopback addresses, and rewrites 127.0.0.1 to the machine's address when allowed to join. This
# starts ``ray start`` allowed to join, keeping the addresses it is given.
_JOIN_ON_LOOPBACK = (
    "import ray._private.services as services; services.resolve_ip_for_localhost = lambda host: host; "
    "from ray.scripts.scripts import main; main()"
)


class RayProcess:
    """One ``ray start --block`` process (a head or a worker node) in its own process group."""

    def __init__(self, args: list[str], *, log: Path, env: dict[str, str] | None = None, join: bool = False) -> None:
        self.log = log
        environment = {
            **os.environ,
            "RAY_USAGE_STATS_ENABLED": "0",
            # Keep 127.0.0.1 as given (Ray would otherwise name the machine's own address and listen on every one).
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            **(env or {}),
        }
        with open(log, "ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - Ray's own program, with arguments built here
                [*self._program(join), "start", "--block", "--disable-usage-stats", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                start_new_session=True,
            )

    @staticmethod
    def _program(join: bool) -> list[str]:
        return [sys.executable, "-c", _JOIN_ON_LOOPBACK] if join else [ray_program()]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 3.0) -> None:
        """End the node: SIGTERM to its process group, SIGKILL to the group after ``grace`` seconds."""
        pgid = self.process.pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def kill(self) -> None:
        """End the node at once, as a machine that is lost (SIGKILL to its whole process group)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


def _node_args(*, num_cpus: int, num_gpus: int, memory_mb: int | None, resources: str | None = None) -> list[str]:
    ports = _free_ports(7)
    args = [
        "--node-ip-address",
        HOST,
        "--num-cpus",
        str(num_cpus),
        "--num-gpus",
        str(num_gpus),
        "--object-store-memory",
        str(100 * 1024 * 1024),
        "--node-manager-port",
        str(ports[0]),
        "--object-manager-port",
        str(ports[1]),
        "--dashboard-agent-listen-port",
        str(ports[2]),
        "--dashboard-agent-grpc-port",
        str(ports[3]),
        "--metrics-export-port",
        str(ports[4]),
        "--runtime-env-agent-port",
        str(ports[5]),
        "--min-worker-port",
        "0",
        "--max-worker-port",
        "0",
    ]
    if memory_mb:
        args += ["--memory", str(memory_mb * 1024 * 1024)]
    if resources:
        args += ["--resources", resources]
    return args


class LocalRayHead:
    """A Ray head (and optionally more nodes) on 127.0.0.1, each in its own process group."""

    def __init__(self, *, num_cpus: int, num_gpus: int = 0, memory_mb: int | None = None, temp_dir: str = "") -> None:
        self.num_cpus, self.num_gpus, self.memory_mb = num_cpus, num_gpus, memory_mb
        # Ray names unix sockets under its temp dir: keep the path short.
        self.temp_dir = temp_dir or tempfile.mkdtemp(prefix="ray", dir="/tmp")
        self.port = _free_ports(1)[0]
        self.address = f"{HOST}:{self.port}"
        token = Path(self.temp_dir) / "auth_token"
        token.touch(mode=0o600)
        token.write_text(secrets.token_hex(32))
        #: What a driver of this head (the dispatcher) needs in its environment before it imports Ray.
        self.env = {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(token),
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        }
        self.head: RayProcess | None = None
        self.nodes: list[RayProcess] = []

    def start(self, timeout: float = 120.0) -> str:
        args = [
            "--head",
            "--port",
            str(self.port),
            "--include-dashboard",
            "false",
            "--temp-dir",
            self.temp_dir,
            *_node_args(num_cpus=self.num_cpus, num_gpus=self.num_gpus, memory_mb=self.memory_mb),
        ]
        self.head = RayProcess(args, log=Path(self.temp_dir) / "head.out", env=self.env)
        self._wait_listening(self.port, timeout, self.head)
        return self.address

    def add_node(self, *, num_cpus: int, num_gpus: int = 0, memory_mb: int | None = None, timeout: float = 120.0):
        """Join another node to this head (a second "machine" on this one); return it (``kill()`` loses it)."""
        args = [
            "--address",
            self.address,
            *_node_args(num_cpus=num_cpus, num_gpus=num_gpus, memory_mb=memory_mb),
        ]
        node = RayProcess(
            args,
            log=Path(self.temp_dir) / f"node-{len(self.nodes) + 1}.out",
            env={**self.env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"},
            join=True,
        )
        self.nodes.append(node)
        return node

    def _wait_listening(self, port: int, timeout: float, process: RayProcess) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process.alive():
                raise RuntimeError(f"the Ray head exited: {process.log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1.0):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the Ray head did not listen on {HOST}:{port} within {timeout} s")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self.head is not None:
            self.head.stop()
