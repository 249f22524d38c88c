"""Runners take queued jobs and run them; the API code only talks to them through these functions.

The embedded default runs the ``local`` runner inside the server process (started from ``asgi.py``). Other
processes (management commands, tests without a runner) still submit and kill: the job rows are the queue and
the kill flag, which every runner polls, so nothing depends on the submitter holding the runner. The production
profile's ``celery`` runner (``jobs.runners.celery``) sends jobs to Celery workers instead.
"""

from __future__ import annotations

import threading
from typing import Protocol

from django.conf import settings


class Runner(Protocol):
    def start(self) -> None:
        """Reconcile jobs left non-terminal by a crash, then begin taking queued jobs."""

    def notify(self, job_id: int | None = None) -> None:
        """A job was queued (``job_id``) or a slot may have freed up: have it taken."""

    def kill(self, job_id: int) -> None:
        """End the process tree of a job this runner is running (no-op otherwise)."""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs and end the running ones."""


_runner: Runner | None = None
_lock = threading.Lock()


def _build() -> Runner:
    if settings.JOB_RUNNER == "local":
        from jobs.runners.local import LocalRunner

        return LocalRunner(max_running=settings.JOB_MAX_RUNNING, max_per_user=settings.JOB_MAX_RUNNING_PER_USER)
    if settings.JOB_RUNNER == "celery":
        from jobs.runners.celery import CeleryRunner

        return CeleryRunner()
    raise ValueError(f"Unknown JOB_RUNNER {settings.JOB_RUNNER!r}; use 'local' or 'celery'.")


def start_runner(runner: Runner | None = None) -> Runner:
    """Start this process's runner (once) and return it."""
    global _runner
    with _lock:
        if _runner is None:
            _runner = runner or _build()
            _runner.start()
        return _runner


def stop_runner(timeout: float = 10.0) -> None:
    global _runner
    with _lock:
        runner, _runner = _runner, None
    if runner is not None:
        runner.stop(timeout)


def current_runner() -> Runner | None:
    return _runner


def notify_runner(job_id: int | None = None) -> None:
    """Have a queued job taken: by this process's runner, or, with the celery runner, by the workers directly
    (a management command or a test submits without a runner of its own)."""
    if _runner is not None:
        _runner.notify(job_id)
    elif settings.JOB_RUNNER == "celery" and job_id is not None:
        from jobs.runners.celery import send_run

        send_run([job_id])


def kill_on_runner(job_id: int) -> None:
    if _runner is not None:
        _runner.kill(job_id)
    elif settings.JOB_RUNNER == "celery":
        from jobs.runners.celery import send_kill

        send_kill(job_id)
