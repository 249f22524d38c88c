"""What a runner does about jobs a dead runner left behind, and the set-up every process that runs jobs does.

A job left ``Scheduled`` never started: it is queued again. One left ``Running`` is ended ``Failed`` with a reason
(``JobErrorCode.FAILOVER``) after its leftover sandbox or process group on this host is killed, and its directory
is taken back from the job's OS user.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from pathlib import Path

from jobs.models import ACTIVE, Job, JobErrorCode, JobStatus
from jobs.sandbox import sandbox_state, secure_platform_files, tmpdir_for, workdir_reclaim
from jobs.services import job_transition

logger = logging.getLogger(__name__)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def settle_orphaned_job(
    job: Job, *, requeue_log: str, fail_log: str, fail_desc: str, on_this_host: bool = True
) -> str | None:
    """Settle a job whose runner is gone: queued again when its code never started, else ended ``Failed``
    (``JobErrorCode.FAILOVER``) after its leftover engine process group is killed (``on_this_host``: the job's ``pid``
    is a process of this machine).

    Returns ``"requeued"``, ``"failed"``, or None when the job had moved on meanwhile.
    """
    if job.status == JobStatus.SCHEDULED and job.pid is None:
        requeued = job_transition(
            job_id=job.pk,
            to=JobStatus.WAIT_FOR_RETRY,
            only_from=(JobStatus.SCHEDULED,),
            log=requeue_log,
            runner="",
            dispatched_at=None,  # its message was spent: the celery runner sends it again
        )
        return "requeued" if requeued else None
    if on_this_host and job.pid and _is_engine_process(job.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(job.pid, signal.SIGKILL)
    if on_this_host:
        with contextlib.suppress(OSError):
            workdir_reclaim(job.workdir, tmpdir_for(job.workdir))
    failed = job_transition(
        job_id=job.pk,
        to=JobStatus.FAILED,
        only_from=ACTIVE,
        log=fail_log,
        level="ERROR",
        error_code=JobErrorCode.FAILOVER,
        error_desc=fail_desc,
    )
    return "failed" if failed else None


def _is_engine_process(pid: int) -> bool:
    """Whether ``pid`` is still one of our engine processes (and not a recycled pid of something else)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"jobs.engines" in cmdline or b"code.sh" in cmdline


def prepare_host() -> None:
    """What every process that runs jobs does first: lock the platform's files away, and say whether users' code
    can run here (and why not)."""
    secure_platform_files()
    state = sandbox_state()
    if not state.ready:
        logger.error("%s", state.detail)
    elif not state.enabled:
        logger.warning("The sandbox is %s.", state.detail)
