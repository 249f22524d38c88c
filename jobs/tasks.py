"""Celery tasks of the ``celery`` job runner; they run in ``make worker`` processes (``jobs.runners.celery``)."""

from __future__ import annotations

import threading

from celery import shared_task
from celery.signals import worker_init, worker_ready, worker_shutdown, worker_shutting_down
from django.conf import settings

from jobs.runners.celery import KILL_TASK, RUN_TASK, WorkerRunner

_runner: WorkerRunner | None = None
_lock = threading.Lock()
_node = ""  # this worker's Celery node name, e.g. celery@host


@worker_init.connect
def _remember_node(sender=None, **kwargs) -> None:
    global _node
    _node = getattr(sender, "hostname", "") or ""


def worker_runner() -> WorkerRunner:
    """This worker process's runner, started on first use (reconciliation, heartbeat, watchdog)."""
    global _runner
    with _lock:
        if _runner is None:
            _runner = WorkerRunner(
                concurrency=settings.JOB_MAX_RUNNING, max_per_user=settings.JOB_MAX_RUNNING_PER_USER, node=_node
            )
            _runner.start()
        return _runner


@worker_ready.connect
def _start(**kwargs) -> None:
    worker_runner()


@worker_shutting_down.connect
def _drain(**kwargs) -> None:
    """Shutting down: a task's thread runs no job after the one it runs (the worker waits for running tasks)."""
    if _runner is not None:
        _runner.draining.set()


@worker_shutdown.connect
def _stop(**kwargs) -> None:
    global _runner
    with _lock:
        runner, _runner = _runner, None
    if runner is not None:
        runner.stop(timeout=settings.JOB_KILL_GRACE_SECONDS + 5)


@shared_task(name=RUN_TASK, acks_late=True, ignore_result=True)
def run_job(job_id: int) -> str:
    """Claim the job and run it to its end on this task's thread; a job not queued any more is left alone."""
    return worker_runner().run(int(job_id))


@shared_task(name=KILL_TASK, ignore_result=True)
def kill_job(job_id: int) -> None:
    """Every worker hears this; the one running the job ends its process group."""
    worker_runner().kill(int(job_id))
