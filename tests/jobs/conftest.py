"""Helpers for job tests: wait for a job, read its log (the ``runner`` fixture is in tests/conftest.py)."""

import time

from jobs.models import TERMINAL, Job


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
