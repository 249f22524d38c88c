"""What runs on a Ray node for OpenPAI tasks: the node's agent (``NodeAgent``) and each task's process
(``TaskProcess``).

The gang dispatcher (``jobs.runners.ray_gang``) keeps one ``NodeAgent`` per node: a threaded actor pinned to the node,
holding no resources (the job's placement group reserves its bundles' CPUs, GPUs and memory; ``bundle_gpus``, a short
task scheduled into a bundle, tells which GPUs are the bundle's). The dispatcher builds the sandboxed command line
(the nodes run the platform's install at the same paths and share its data directory) and, for each task, the agent:

- prepares it (``prepare``): a memory cgroup of its own when the node's memory controller is writable (v2
  ``memory.max`` or v1 ``memory.limit_in_bytes`` of the role's ``memoryMB``: the kernel ends a task that uses more)
  and free ports on the node;
- starts it as a child in its own session, in that cgroup, with the control pipe the engines report progress on;
- buffers its stdout, stderr and control output until the dispatcher reads it (``read``), which the dispatcher
  turns into the job's log lines exactly as for a local process, with what it uses now when asked;
- signals it (``signal``: SIGTERM to the processes inside the sandbox, SIGKILL to the sandbox), and reports its
  exit status with what it used (CPU seconds, from the cgroup or the whole reaped tree; peak memory).

Only the standard library and ``jobs.procs`` here: a Ray worker imports this module without Django.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from jobs.procs import free_ports, signal_inside

READ_SIZE = 65536
#: Output held for the dispatcher before the task's writes block (the dispatcher reads it every few ms).
BUFFER_LIMIT = 8 * 1024 * 1024
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _own_cgroup_v1(controller: str) -> str:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if controller in names.split(","):
                return path
    except (OSError, ValueError):
        pass
    return "/"


class MemoryCgroup:
    """A memory cgroup of one task (v2, else v1), or nothing where the node does not let the platform make one."""

    def __init__(self, name: str, limit_bytes: int) -> None:
        self.path: Path | None = None
        self.cpu_path: Path | None = None
        self.version = 0
        if limit_bytes <= 0:
            return
        candidates = []
        if (CGROUP_ROOT / "cgroup.controllers").exists() and "memory" in (
            CGROUP_ROOT / "cgroup.controllers"
        ).read_text().split():
            candidates.append((2, CGROUP_ROOT / name, "memory.max"))
        v1 = CGROUP_ROOT / "memory"
        if (v1 / "memory.limit_in_bytes").exists():
            own = v1 / _own_cgroup_v1("memory").lstrip("/")
            candidates.append((1, own / name, "memory.limit_in_bytes"))
        for version, path, limit_file in candidates:
            try:
                path.mkdir(exist_ok=True)
                (path / limit_file).write_text(str(limit_bytes))
                if version == 1:
                    with contextlib.suppress(OSError):  # no swap beyond the limit, where swap accounting is on
                        (path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            self.path, self.version = path, version
            if version == 1:  # CPU time from v1's cpuacct controller, where the node has it mounted
                with contextlib.suppress(OSError):
                    cpu = CGROUP_ROOT / "cpuacct" / _own_cgroup_v1("cpuacct").lstrip("/") / name
                    cpu.mkdir(exist_ok=True)
                    self.cpu_path = cpu
            return

    def wrap(self, argv: list[str]) -> list[str]:
        """The command line that joins the cgroup and then becomes ``argv`` (so nothing runs outside it)."""
        if self.path is None:
            return argv
        joins = [str(path / "cgroup.procs") for path in (self.path, self.cpu_path) if path is not None]
        script = " && ".join(f'echo $$ > "${{{index + 1}}}"' for index in range(len(joins)))
        return ["/bin/sh", "-c", f'{script} && shift {len(joins)} && exec "$@"', "task", *joins, *argv]

    def cpu_seconds(self) -> float | None:
        """CPU time of every process the task had, from the cgroup (None where the node has no such account)."""
        try:
            if self.version == 2 and self.path is not None:
                for line in (self.path / "cpu.stat").read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "usage_usec":
                        return int(value) / 1e6
            if self.cpu_path is not None:
                return int((self.cpu_path / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            pass
        return None

    def current_bytes(self) -> int | None:
        return self._read_int("memory.current" if self.version == 2 else "memory.usage_in_bytes")

    def _read_int(self, name: str) -> int | None:
        if self.path is None:
            return None
        try:
            return int((self.path / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def peak_bytes(self) -> int | None:
        return self._read_int("memory.peak" if self.version == 2 else "memory.max_usage_in_bytes")

    def oom_killed(self) -> bool:
        if self.path is None:
            return False
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return False

    def remove(self) -> None:
        for path in (self.path, self.cpu_path):
            if path is None:
                continue
            for _ in range(50):  # the last processes of the tree may still be leaving
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


class TaskProcess:
    """One OpenPAI task's process on the node holding its bundle (kept by the node's ``NodeAgent``)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._chunks: list[tuple[str, bytes]] = []
        self._buffered = 0
        self._open_streams = 0
        self._process: subprocess.Popen | None = None
        self._returncode: int | None = None
        self._usage: dict | None = None
        self._cgroup: MemoryCgroup | None = None
        self._notes: list[bytes] = []

    def prepare(self, name: str, memory_bytes: int) -> bool:
        """Make the task's memory cgroup ready, if the node lets the platform make one; say whether it did."""
        self._cgroup = MemoryCgroup(f"dataplatform-{name}", memory_bytes)
        return self._cgroup.path is not None

    # --- the task's life -----------------------------------------------------------------------------------------
    def start(self, argv: list[str], env: dict[str, str], cwd: str) -> dict:
        """Start the task's command (in its memory cgroup, if ``prepare`` made one); answer its pid."""
        if self._cgroup is None:
            self._cgroup = MemoryCgroup("", 0)
        control_read, control_write = os.pipe()
        env = {**env, "PLATFORM_CONTROL_FD": str(control_write)}
        try:
            self._process = subprocess.Popen(  # noqa: S603 - the platform built the (sandboxed) command line
                self._cgroup.wrap(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(control_write,),
                start_new_session=True,
            )
        finally:
            os.close(control_write)
        process = self._process
        assert process.stdout is not None and process.stderr is not None  # noqa: S101
        streams = [("out", process.stdout.fileno()), ("err", process.stderr.fileno()), ("ctl", control_read)]
        self._open_streams = len(streams)
        for kind, fd in streams:
            threading.Thread(target=self._drain, args=(kind, fd), daemon=True).start()
        threading.Thread(target=self._reap, daemon=True).start()
        return {"pid": process.pid}

    def _drain(self, kind: str, fd: int) -> None:
        try:
            while True:
                data = os.read(fd, READ_SIZE)
                if not data:
                    break
                with self._cond:
                    while self._buffered > BUFFER_LIMIT:
                        self._cond.wait(0.5)
                    self._chunks.append((kind, data))
                    self._buffered += len(data)
                    self._cond.notify_all()
        except OSError:
            pass
        finally:
            if kind == "ctl":
                with contextlib.suppress(OSError):
                    os.close(fd)
            with self._cond:
                self._open_streams -= 1
                self._cond.notify_all()

    def _reap(self) -> None:
        process = self._process
        assert process is not None  # noqa: S101
        _, status, rusage = os.wait4(process.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        process.returncode = code  # reaped here, with its rusage: Popen must not wait for it again
        cgroup = self._cgroup
        peak = cgroup.peak_bytes() if cgroup is not None else None
        cpu = cgroup.cpu_seconds() if cgroup is not None else None
        usage = {
            "cpuSeconds": round(cpu if cpu is not None else rusage.ru_utime + rusage.ru_stime, 3),
            "maxMemoryMB": round((peak if peak is not None else rusage.ru_maxrss * 1024) / 1048576, 1),
            "memoryLimited": cgroup is not None and cgroup.path is not None,
        }
        if cgroup is not None and cgroup.oom_killed():
            self._notes.append(b"The task used more memory than its role's memoryMB and the kernel ended it.\n")
        with self._cond:
            self._returncode = code
            self._usage = usage
            self._cond.notify_all()

    def live_usage(self) -> dict | None:
        """What the running task uses now (from its cgroup; None where it has none): CPU seconds so far, memory now
        and at its peak."""
        cgroup = self._cgroup
        if cgroup is None or cgroup.path is None or self._returncode is not None:
            return None
        cpu, now, peak = cgroup.cpu_seconds(), cgroup.current_bytes(), cgroup.peak_bytes()
        usage: dict = {"memoryLimited": True, "running": True}
        if cpu is not None:
            usage["cpuSeconds"] = round(cpu, 3)
        if now is not None:
            usage["memoryMB"] = round(now / 1048576, 1)
        if peak is not None:
            usage["maxMemoryMB"] = round(peak / 1048576, 1)
        return usage

    def read(self, wait: float, with_usage: bool = False) -> dict:
        """What the task wrote since the last read (waiting up to ``wait`` s for something), and its end once every
        stream is closed: ``{"chunks": [(kind, bytes)], "done": bool, "returncode", "usage"}``; ``usage`` is what it
        used once it ended, and, asked ``with_usage``, what it uses now while it runs."""
        deadline = time.monotonic() + wait
        with self._cond:
            while not self._chunks and not self._finished():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            chunks, self._chunks, self._buffered = self._chunks, [], 0
            done = self._finished()
            self._cond.notify_all()
        if done:
            chunks += [("err", note) for note in self._notes]
            self._notes = []
            if self._cgroup is not None:
                self._cgroup.remove()
        usage = self._usage if self._usage is not None or not with_usage else self.live_usage()
        return {"chunks": chunks, "done": done, "returncode": self._returncode, "usage": usage}

    def _finished(self) -> bool:
        return self._returncode is not None and self._open_streams == 0

    def signal(self, signum: int, sandboxed: bool) -> None:
        """SIGTERM: to the processes inside the sandbox (or the whole group, unsandboxed); SIGKILL: the group."""
        process = self._process
        if process is None or (self._returncode is not None and signum != signal.SIGKILL):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if signum == signal.SIGKILL or not (sandboxed and signal_inside(process.pid, signum)):
                os.killpg(process.pid, signum)


def bundle_gpus() -> list[str]:
    """The GPU ids Ray gave the bundle this runs in (a short Ray task, scheduled into a task's bundle)."""
    import ray

    return [str(gpu) for gpu in ray.get_gpu_ids()]


class NodeAgent:
    """The platform's agent on one Ray node (a threaded actor pinned to it, holding no resources): it runs the
    processes of the tasks whose bundles the node holds. The placement group reserves the bundles; the agent only
    starts, reads, signals and reaps, so a task starts without a Ray worker process of its own."""

    def __init__(self) -> None:
        self._tasks: dict[int, TaskProcess] = {}
        self._lock = threading.Lock()

    def ping(self) -> dict:
        import ray

        return {"ip": ray.util.get_node_ip_address(), "node_id": ray.get_runtime_context().get_node_id()}

    def prepare(self, job_id: int, memory_bytes: int, ip: str, port_count: int) -> dict:
        """Get a task ready: its memory cgroup (``memoryLimited``) and ``port_count`` free ports on this node."""
        task = TaskProcess()
        limited = task.prepare(f"job-{job_id}", memory_bytes)
        with self._lock:
            self._tasks[job_id] = task
        return {"memoryLimited": limited, "ports": free_ports(ip, port_count)}

    def _task(self, job_id: int) -> TaskProcess:
        with self._lock:
            task = self._tasks.get(job_id)
        if task is None:
            raise KeyError(f"no task of job {job_id} on this node")
        return task

    def start(self, job_id: int, argv: list[str], env: dict[str, str], cwd: str) -> dict:
        return self._task(job_id).start(argv, env, cwd)

    def read(self, job_id: int, wait: float, with_usage: bool = False) -> dict:
        answer = self._task(job_id).read(wait, with_usage)
        if answer["done"]:
            with self._lock:
                self._tasks.pop(job_id, None)
        return answer

    def signal(self, job_id: int, signum: int, sandboxed: bool) -> None:
        with self._lock:
            task = self._tasks.get(job_id)
        if task is not None:
            task.signal(signum, sandboxed)

    def discard(self, job_id: int) -> None:
        """Forget a task that will not start (its cgroup too); end its processes if it did start."""
        with self._lock:
            task = self._tasks.pop(job_id, None)
        if task is not None:
            task.signal(signal.SIGKILL, False)
            if task._cgroup is not None:
                task._cgroup.remove()
