"""Runners take queued jobs and run them; the API code only talks to them through these functions.

The embedded default runs the ``local`` runner inside the server process (started from ``asgi.py``). Other
processes (management commands, tests without a runner) still submit and kill: the job rows are the queue and
the kill flag, which every runner polls, so nothing depends on the submitter holding the runner. The production
profile's ``celery`` runner (``jobs.runners.celery``) sends jobs to Celery workers instead.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Protocol

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from jobs.models import QUEUED

logger = logging.getLogger(__name__)


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


def oldest_queued(queued: QuerySet, limit: int, *fields: str) -> list[tuple]:
    """The ``fields`` (default: the id) of the ``limit`` oldest of the ``queued`` jobs, oldest first.

    One query per queued status, each along the (status, id) index: one ``ORDER BY id`` over both statuses has the
    database walk the primary key through every finished job instead (15 ms at 20,000 jobs on PostgreSQL, and
    growing with the table; SQLite scans the table too)."""
    fields = fields or ("id",)
    rows: list[tuple] = []
    for status in QUEUED:
        rows += queued.filter(status=status).order_by("id").values_list("id", *fields)[:limit]
    return [row[1:] for row in sorted(rows)[:limit]]


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


def dispatch_stamp(queue: str, user: str) -> dt.datetime | None:
    """A job's ``dispatched_at`` as it is submitted, in its transaction.

    With the celery runner a job is sent to the workers right after its commit (``notify_runner``), so it is
    stamped now, not by a write after the send. A job whose user's jobs already take every slot under
    ``JOB_MAX_RUNNING_PER_USER`` is not sent (a worker would only put it back): it waits unstamped until one of
    them ends and hands it its slot (``jobs.runners.celery.WorkerRunner._ending``).
    """
    if settings.JOB_RUNNER != "celery" or queue != "":
        return None
    from jobs.runners.celery import has_free_slot

    return timezone.now() if has_free_slot(user) else None


def notify_runner(job_id: int | None = None, *, user: str = "", dispatched: bool = True) -> None:
    """Have a queued job taken: by this process's runner or, with the celery runner, by the workers (a web
    process, a management command or a test submits without a runner of its own). ``user`` and ``dispatched``:
    the submitted job's, and whether it was stamped to be sent (``dispatch_stamp``)."""
    if settings.JOB_RUNNER == "celery" and job_id is not None:
        from jobs.runners.celery import send_submitted

        send_submitted(job_id, user=user, dispatched=dispatched)
    elif _runner is not None:
        _runner.notify(job_id)


def slot_freed(user: str) -> None:
    """A queued job of ``user``'s left the queue (cancelled): with the celery runner, the slot its message in flight
    held goes to their oldest job waiting for one."""
    if settings.JOB_RUNNER != "celery":
        return
    from jobs.runners.celery import dispatch_to_free_slots

    try:
        dispatch_to_free_slots({user})
    except Exception as exc:  # the watchdog sends it once it waits longer than JOB_REDISPATCH_SECONDS
        logger.warning("dispatching the waiting jobs of %s failed: %r", user, exc)


def kill_on_runner(job_id: int) -> None:
    if _runner is not None:
        _runner.kill(job_id)
    elif settings.JOB_RUNNER == "celery":
        from jobs.runners.celery import send_kill

        send_kill(job_id)
