"""Fixtures for job tests: a real local runner (threads and child processes) and a way to wait for a job."""

import time

import pytest

from jobs.models import TERMINAL, Job


@pytest.fixture
def runner(transactional_db, settings):
    from jobs.runners import start_runner, stop_runner
    from jobs.runners.local import LocalRunner

    started = start_runner(
        LocalRunner(max_running=settings.JOB_MAX_RUNNING, max_per_user=settings.JOB_MAX_RUNNING_PER_USER)
    )
    yield started
    stop_runner(timeout=15)


def wait_for(job_id: int, statuses=TERMINAL, timeout: float = 30.0) -> Job:
    """Poll the database until the job reaches one of ``statuses``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.status in statuses:
            return job
        time.sleep(0.05)
    job = Job.objects.get(pk=job_id)
    raise AssertionError(f"job {job_id} is {job.status}, not in {list(statuses)} after {timeout} s")


def log_text(job_id: int) -> str:
    from jobs.logstore import log_read

    return "\n".join(text for _, _, text in log_read(job_id=job_id))
