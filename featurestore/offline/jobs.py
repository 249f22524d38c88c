"""Offline statements run as jobs (``offasync``), and upstream's job statements: SHOW JOBS, SHOW JOB, STOP JOB.

An ``offasync`` LOAD DATA, SELECT INTO or SELECT is submitted to the job core as a job of the ``sql`` engine
(``featurestore.jobengine``: it runs the statement in ``offsync`` and keeps a SELECT's rows as the job's result
set), with progress and logs as every job has. The answer is upstream's job result set (``JOB_SCHEMA``, one row),
as its TaskManager answers: ``job_id`` is the job's id in the job core, ``state`` maps the job's status
(Submitted, RUNNING, FINISHED, FAILED, STOPPED), ``application_id`` is its Linkis exec id.

A caller sees only their own jobs (an admin all); anonymous callers, where ``OPENMLDB_ALLOW_ANONYMOUS`` lets them in
(the airflow provider sends no credentials), act as the service account ``OPENMLDB_SERVICE_ACCOUNT``.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from django.conf import settings

from dataplatform.accounts.services import service_account_get_or_create
from dataplatform.api.exceptions import ApplicationError
from featurestore.errors import CMD_ERROR, FeatureStoreError
from jobs.logstore import log_read
from jobs.models import Job, JobStatus
from jobs.selectors import job_list_from
from jobs.services import JobSpec, job_kill, job_submit

SOURCE_API = "featurestore"
JOB_SCHEMA = [
    ("job_id", "int32"),
    ("job_type", "string"),
    ("state", "string"),
    ("start_time", "timestamp"),
    ("end_time", "timestamp"),
    ("parameter", "string"),
    ("cluster", "string"),
    ("application_id", "string"),
    ("error", "string"),
    ("db", "string"),
    ("name", "string"),
    ("pid", "int32"),
    ("cur_task", "string"),
    ("component", "string"),
]
STATES: dict[str, str] = {
    JobStatus.INITED: "Submitted",
    JobStatus.WAIT_FOR_RETRY: "Submitted",
    JobStatus.SCHEDULED: "Submitted",
    JobStatus.RUNNING: "RUNNING",
    JobStatus.SUCCEED: "FINISHED",
    JobStatus.FAILED: "FAILED",
    JobStatus.TIMEOUT: "FAILED",
    JobStatus.CANCELLED: "STOPPED",
}


def job_owner(user):
    """Whom an offline job runs as: the caller, or the service account for an anonymous caller let in."""
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    if settings.OPENMLDB_ALLOW_ANONYMOUS:
        return service_account_get_or_create(username=settings.OPENMLDB_SERVICE_ACCOUNT)
    raise FeatureStoreError("offasync needs an authenticated user: the job's owner", -1)


def submit(*, user, db: str, sql: str, job_type: str) -> Job:
    """Submit ``sql`` (statements ending with the offline one) as a job; return it."""
    try:
        return job_submit(
            owner=job_owner(user),
            spec=JobSpec(
                code=sql,
                engine_type="sql",
                run_type="sql",
                creator="featurestore",
                params={
                    "variable": {},
                    "configuration": {"runtime": {"openmldb.db": db, "openmldb.job_type": job_type}},
                },
                source_api=SOURCE_API,
            ),
        )
    except ApplicationError as exc:
        raise FeatureStoreError(f"the offline job was refused: {exc}", -1) from None


def _ms(value) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def job_row(job: Job) -> list[Any]:
    runtime = ((job.params or {}).get("configuration") or {}).get("runtime") or {}
    return [
        job.pk,
        runtime.get("openmldb.job_type", "RunBatchAndShow"),
        STATES.get(job.status, job.status),
        _ms(job.started_at),
        _ms(job.finished_at),
        job.code,
        settings.SPARK_MASTER or "local",
        job.exec_id,
        job.error_desc or None,
        runtime.get("openmldb.db"),
        None,
        None,
        None,
        "TaskManager",
    ]


def _visible_user(user):
    return job_owner(user)


def _find(user, text: str) -> Job:
    try:
        job_id = int(text)
    except ValueError:
        raise FeatureStoreError(f"Failed to parse job id: {text}", CMD_ERROR) from None
    job = job_list_from(user=_visible_user(user), source_api=SOURCE_API).filter(pk=job_id).first()
    if job is None:
        raise FeatureStoreError(f"Job not found: {job_id}", CMD_ERROR)
    return job


def show_jobs(*, user, pattern: str | None = None) -> list[list[Any]]:
    """SHOW JOBS [LIKE 'pattern']: the caller's offline jobs (a pattern with % or _ matches the job id)."""
    if pattern and not any(char in pattern for char in "%_"):
        return [job_row(_find(user, pattern))]
    jobs = job_list_from(user=_visible_user(user), source_api=SOURCE_API)
    rows = [job_row(job) for job in jobs]
    if pattern:
        glob = pattern.replace("%", "*").replace("_", "?")
        rows = [row for row in rows if fnmatch.fnmatchcase(str(row[0]), glob)]
    return rows


def show_job(*, user, job_id: str) -> list[list[Any]]:
    return [job_row(_find(user, job_id))]


def job_log(*, user, job_id: str) -> str:
    """SHOW JOBLOG id: the job's log, one line per line."""
    job = _find(user, job_id)
    return "\n".join(text for _, _, text in log_read(job_id=job.pk))


def stop_job(*, user, job_id: str) -> list[list[Any]]:
    """STOP JOB id: kill the job (a finished one is left as it is); answer its row."""
    job = _find(user, job_id)
    if not job.is_terminal:
        try:
            job = job_kill(job=job, actor=_visible_user(user))
        except ApplicationError:
            job.refresh_from_db()
    return [job_row(job)]
