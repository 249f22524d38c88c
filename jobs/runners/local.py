"""The local runner: a dispatcher thread and one thread per running job, inside the server process.

How one job runs is ``jobs.runners.supervisor``; what happens to jobs a dead runner left, ``jobs.runners.recovery``.

- **Queue**: the ``Inited``/``WaitForRetry`` rows, oldest first. The dispatcher claims one with a conditional
  UPDATE to ``Scheduled`` (so two runners on one database never take the same job), skipping users already at
  ``JOB_MAX_RUNNING_PER_USER`` while at most ``JOB_MAX_RUNNING`` jobs run. It wakes when notified and polls every
  second, so jobs queued by other processes start too.
- **Execution**: each job's engine runs as a child in its own session and process group, in the job's working
  directory. One thread multiplexes its stdout (INFO lines), stderr (ERROR lines) and control pipe (progress,
  engine log lines, a structured error), appending log lines in batches every 20 ms.
- **Ending**: exit 0 is ``Succeed``; a non-zero exit is ``Failed`` with the engine's reason; a kill sends SIGTERM
  to the whole process group and SIGKILL after ``JOB_KILL_GRACE_SECONDS`` and ends ``Cancelled``; running past
  the job's timeout ends ``Timeout`` the same way. Processes left in the group after the engine exits are killed:
  a job's processes never outlive it.
- **Restart**: on start, jobs that a dead runner on this host left ``Scheduled`` are re-queued (their code never
  started) and those left ``Running`` fail with a reason, after their leftover process group is killed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter

from django.db import close_old_connections, connection
from django.utils import timezone

from jobs.models import ACTIVE, QUEUED, Job, JobErrorCode, JobStatus
from jobs.runners import oldest_queued
from jobs.runners.recovery import pid_alive, prepare_host, settle_orphaned_job
from jobs.runners.supervisor import ExecutionPool
from jobs.services import job_transition, run_finish_sweeps

logger = logging.getLogger(__name__)


class LocalRunner:
    def __init__(self, *, max_running: int, max_per_user: int) -> None:
        self.max_running = max_running
        self.max_per_user = max_per_user
        self.host = socket.gethostname()
        self.identity = f"{self.host}:{os.getpid()}"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.pool = ExecutionPool(on_finished=lambda job_id: self._wake.set())
        self._dispatcher: threading.Thread | None = None
        self._last_queue_check = 0.0

    # --- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> None:
        prepare_host()
        try:
            self.reconcile()
        finally:
            connection.close()
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="job-dispatcher", daemon=True)
        self._dispatcher.start()

    def stop(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        # The dispatcher first, so that no job starts after the running ones were collected.
        if self._dispatcher is not None:
            self._dispatcher.join(max(deadline - time.monotonic(), 0.1))
        for execution in self.pool.stop_all():
            execution.thread.join(max(deadline - time.monotonic(), 0.1))

    def notify(self, job_id: int | None = None) -> None:
        self._wake.set()

    def kill(self, job_id: int) -> None:
        self.pool.kill(job_id)

    def running_count(self) -> int:
        return self.pool.running_count()

    def kill_requested(self, job_id: int) -> bool:
        return self.pool.kill_requested(job_id)

    # --- restart reconciliation ---------------------------------------------------------------------------------
    def reconcile(self) -> None:
        """Settle jobs that a runner on this host left in flight when it died."""
        for job in Job.objects.filter(status__in=ACTIVE).only("id", "status", "runner", "pid"):
            runner_host, _, runner_pid = job.runner.rpartition(":")
            if runner_host and runner_host != self.host:
                continue  # another machine's runner answers for it
            if runner_pid.isdigit() and int(runner_pid) != os.getpid() and pid_alive(int(runner_pid)):
                continue  # a live runner on this host holds it
            settle_orphaned_job(
                job,
                requeue_log="The platform restarted before the job started; it is queued again.",
                fail_log=f"The platform stopped while the job was {job.status}; it was ended. Submit it again.",
                fail_desc=f"Job {job.pk} failover: the platform stopped while the job was {job.status}.",
            )
        run_finish_sweeps()

    # --- dispatching ------------------------------------------------------------------------------------------
    def _dispatch_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self._expire_queued()
                self._dispatch_once()
            except Exception:  # a database hiccup must not kill the dispatcher
                logger.exception("job dispatcher iteration failed")
                close_old_connections()
                time.sleep(0.5)
        connection.close()

    def _expire_queued(self) -> None:
        """End queued jobs that waited longer than their ``jobQueuingTimeout``."""
        now = time.monotonic()
        if now - self._last_queue_check < 1.0:
            return
        self._last_queue_check = now
        candidates = Job.objects.filter(queue="", status__in=QUEUED, queue_timeout_seconds__isnull=False).values_list(
            "id", "created_at", "queue_timeout_seconds"
        )
        current = timezone.now()
        for job_id, created_at, limit in candidates:
            if (current - created_at).total_seconds() > limit:
                job_transition(
                    job_id=job_id,
                    to=JobStatus.TIMEOUT,
                    only_from=QUEUED,
                    log=f"The job waited in the queue longer than its jobQueuingTimeout of {limit} s.",
                    level="ERROR",
                    error_code=JobErrorCode.TIMEOUT,
                    error_desc=f"The job waited in the queue longer than {limit} s.",
                )

    def _dispatch_once(self) -> None:
        while not self._stopping.is_set():
            free = self.max_running - self.running_count()
            if free <= 0:
                return
            candidates = oldest_queued(Job.objects.filter(queue=""), free * 8 + 16, "id", "submit_user")
            if not candidates:
                return
            active = Counter(Job.objects.filter(status__in=ACTIVE).values_list("submit_user", flat=True))
            started = 0
            for job_id, user in candidates:
                if free <= 0 or self._stopping.is_set():
                    break
                if active[user] >= self.max_per_user:
                    continue
                claimed = job_transition(
                    job_id=job_id,
                    to=JobStatus.SCHEDULED,
                    runner=self.identity,
                    scheduled_at=timezone.now(),
                    pid=None,
                )
                if not claimed:
                    continue  # cancelled meanwhile, or another runner took it
                active[user] += 1
                free -= 1
                started += 1
                self._start_execution(job_id)
            if not started:
                return  # everything queued belongs to users at their limit

    def _start_execution(self, job_id: int) -> None:
        self.pool.add(job_id).thread.start()
