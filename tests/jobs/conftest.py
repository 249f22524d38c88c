"""Helpers for job tests: wait for a job, read its log, find its processes (``runner`` is in tests/conftest.py); the
ASGI application and the server loop bound for job events, for the WebSocket tests."""

import asyncio
import os
from pathlib import Path

import pytest

from jobs.models import TERMINAL, Job
from tests.conftest import eventually


@pytest.fixture
def application():
    from dataplatform.asgi import application

    return application


@pytest.fixture
async def bound_loop():
    """The test's loop bound as the server's: job events from other threads are sent through it."""
    from jobs.events import bind_event_loop

    bind_event_loop(asyncio.get_running_loop())
    yield
    bind_event_loop(None)


@pytest.fixture
def pai_fs(settings, tmp_path):
    """OpenPAI's default file system (``$PAI_DEFAULT_FS_URI``) in the test's own directory."""
    settings.OPENPAI_DEFAULT_FS = tmp_path / "pai-fs"
    return settings.OPENPAI_DEFAULT_FS


@pytest.fixture
def marks(pai_fs):
    """Where OpenPAI tasks and the test talk through files: in alice's own output area."""
    path = pai_fs / "Output" / "alice" / "marks"
    path.mkdir(parents=True)
    return path


def wait_for(job_id: int, statuses=TERMINAL, timeout: float = 60.0) -> Job:
    """Wait until the job reaches one of ``statuses`` and return it; ``timeout`` bounds patience, not speed."""

    def reached() -> Job | None:
        job = Job.objects.get(pk=job_id)
        return job if job.status in statuses else None

    def message() -> str:
        return f"job {job_id} is {Job.objects.get(pk=job_id).status}, not in {list(statuses)} after {timeout} s"

    return eventually(reached, timeout=timeout, message=message)


def log_text(job_id: int) -> str:
    from jobs.logstore import log_read

    return "\n".join(text for _, _, text in log_read(job_id=job_id))


def _ppid(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(text[text.rindex(")") + 2 :].split()[1])


def descendants(pid: int) -> list[int]:
    """The host pids of every live process below ``pid`` (a job's engine or sandbox), found through /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (parent := _ppid(int(name))) is not None:
            children.setdefault(parent, []).append(int(name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    """A process's command line, its arguments joined by spaces ("" when it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ").decode()
    except OSError:
        return ""


def host_pid(sandbox_pid: int, inner_pid: int) -> int:
    """The host pid of the process that is ``inner_pid`` inside the sandbox started as ``sandbox_pid``."""

    def find() -> int | None:
        for pid in descendants(sandbox_pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            ids = next((line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:")), [])
            if ids and int(ids[-1]) == inner_pid:
                return pid
        return None

    return eventually(find, message=f"no process {inner_pid} in the sandbox of {sandbox_pid}")
