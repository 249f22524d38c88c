"""The celery runner: jobs run on Celery workers (``make worker``), on this machine or others.

- **Dispatch**: a submitted job is sent as a ``jobs.run_job`` task to the ``jobs`` queue on Redis. A worker
  thread takes it, claims the job with a conditional UPDATE (``Inited`` -> ``Scheduled``), so a message delivered
  twice runs the job once, and runs it with the local runner's ``JobExecution``: the same engines, logs,
  progress, limits and endings. Logs, progress and statuses go to the database and, after commit, to the Redis
  channel layer, where any web process's WebSocket consumers receive them.
- **Limits**: a worker runs as many jobs as it has threads (``--concurrency``); ``JOB_MAX_RUNNING_PER_USER``
  holds across workers: the claim takes a per-user lock (a row lock on PostgreSQL) and counts the user's
  running jobs. A job over the limit stays queued and is sent again when one of the user's jobs ends.
- **Kill**: the job row's kill flag (polled every second by the job's thread) and a ``jobs.kill_job`` broadcast
  that reaches every worker at once; the one running the job ends its process group.
- **Failures**: each worker beats in the ``Worker`` table every ``JOB_HEARTBEAT_SECONDS``. The watchdog, in every
  worker and every web process, ends the jobs of a worker silent for ``JOB_WORKER_TIMEOUT_SECONDS`` as
  ``Failed`` with the reason (a job that had not started is queued again), and sends again queued jobs that no
  worker took for ``JOB_REDISPATCH_SECONDS`` (a message lost with a Redis restart). A worker restarted on the
  same host also ends the engine processes its predecessor left (the local runner's reconciliation).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from jobs.models import ACTIVE, QUEUED, Job, JobStatus, Worker
from jobs.runners.recovery import pid_alive, prepare_host, settle_orphaned_job
from jobs.runners.supervisor import ExecutionPool
from jobs.sandbox import sandbox_state
from jobs.services import job_transition, run_finish_sweeps

logger = logging.getLogger(__name__)

RUN_TASK = "jobs.run_job"
KILL_TASK = "jobs.kill_job"
BROADCAST_QUEUE = "jobs.control"
WORKER_PREFIX = "celery@"


def celery_app():
    from dataplatform.celery import app

    return app


def send_run(job_ids: list[int]) -> None:
    """Send ``run_job`` for each job and stamp ``dispatched_at`` (sending never raises: the watchdog resends)."""
    if not job_ids:
        return
    app = celery_app()
    sent = []
    for job_id in job_ids:
        try:
            app.send_task(RUN_TASK, args=[job_id], queue=settings.CELERY_TASK_DEFAULT_QUEUE)
            sent.append(job_id)
        except Exception as exc:  # the broker is down: the watchdog sends it again later
            logger.warning("sending job %s to the workers failed: %r", job_id, exc)
            break
    if sent:
        Job.objects.filter(pk__in=sent, status__in=QUEUED).update(dispatched_at=timezone.now())


def ping_workers(nodes: list[str], timeout: float = 1.0) -> set[str] | None:
    """The Celery nodes among ``nodes`` that answer a control ping (through Redis); None when the broker is away."""
    if not nodes:
        return set()
    try:
        replies = celery_app().control.ping(destination=nodes, timeout=timeout)
    except Exception as exc:
        logger.warning("pinging workers %s failed: %r", nodes, exc)
        return None
    return {node for reply in replies for node in reply}


def send_kill(job_id: int) -> None:
    try:
        celery_app().send_task(KILL_TASK, args=[job_id], exchange=BROADCAST_QUEUE, routing_key=BROADCAST_QUEUE)
    except Exception as exc:  # the kill flag in the database still reaches the job within a second
        logger.warning("broadcasting the kill of job %s failed: %r", job_id, exc)


class Watchdog:
    """Ends the jobs of lost workers and resends queued jobs that no worker took; runs in a thread of its own."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        # The clock that measures how long a worker has been watched not beating (tests pass a fake one).
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # identity -> (the heartbeat last read, when this watchdog first read it, by its clock)
        self._seen: dict[str, tuple[dt.datetime, float]] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="job-watchdog", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        interval = max(1.0, settings.JOB_HEARTBEAT_SECONDS)
        while not self._stop.wait(interval):
            self.round()
        connection.close()

    def round(self) -> bool:
        """One watchdog round; False when it failed (the database or the broker is away: next round retries)."""
        try:
            self.check()
        except Exception as exc:
            logger.warning("job watchdog round failed: %r", exc)
            # What this watchdog could not watch does not count: after the outage every watch starts afresh.
            self._seen.clear()
            with contextlib.suppress(Exception):
                connection.close()
            return False
        return True

    def check(self) -> None:
        fail_lost_workers(lost=self.lost_workers())
        redispatch_stale()

    def lost_workers(self) -> set[str]:
        """Workers whose heartbeat is stale in the database *and* that this watchdog has watched not beat for a
        whole timeout. Heartbeats stop during a database outage too; judged by the database alone, every worker
        would look lost just after one, while a live worker beats again within a heartbeat."""
        timeout = settings.JOB_WORKER_TIMEOUT_SECONDS
        cutoff = timezone.now() - dt.timedelta(seconds=timeout)
        watched = self._clock()
        silent: dict[str, str] = {}
        rows = {identity: (beat, node) for identity, beat, node in Worker.objects.values_list(
            "identity", "heartbeat_at", "node")}  # fmt: skip
        for identity, (beat, node) in rows.items():
            seen = self._seen.get(identity)
            if seen is None or seen[0] != beat:
                self._seen[identity] = (beat, watched)
            elif beat < cutoff and watched - seen[1] >= timeout:
                silent[identity] = node
        for identity in set(self._seen) - set(rows):
            del self._seen[identity]
        if not silent:
            return set()
        # A worker whose heartbeat cannot reach the database (its connections still recovering from an outage)
        # is alive if it answers Celery's control ping; one that cannot be asked is given the benefit of the doubt.
        answered = ping_workers(sorted({node for node in silent.values() if node}))
        if answered is None:
            return set()
        return {identity for identity, node in silent.items() if not node or node not in answered}


def fail_lost_workers(*, lost: set[str] | None = None) -> list[int]:
    """End the jobs claimed by lost workers; return their ids.

    ``lost``: the identities the caller judged lost (``Watchdog.lost_workers``); None judges by the database's
    heartbeats alone. A job whose worker has no row at all (another watchdog removed it) is lost too.
    """
    cutoff = timezone.now() - dt.timedelta(seconds=settings.JOB_WORKER_TIMEOUT_SECONDS)
    workers = dict(Worker.objects.values_list("identity", "heartbeat_at"))
    if lost is None:
        lost = {identity for identity, beat in workers.items() if beat < cutoff}
    alive = set(workers) - lost
    host = socket.gethostname()
    ended = []
    # Only workers' jobs (``celery@host:pid``): a local runner's reconciliation answers for its own.
    candidates = Job.objects.filter(status__in=ACTIVE, scheduled_at__lt=cutoff, runner__startswith=WORKER_PREFIX)
    for job in candidates.only("id", "status", "runner", "pid"):
        if job.runner in alive:
            continue
        runner_host = job.runner.removeprefix(WORKER_PREFIX).rpartition(":")[0]
        reason = (
            f"Job {job.pk} failover: worker {job.runner} stopped responding (no heartbeat for "
            f"{settings.JOB_WORKER_TIMEOUT_SECONDS} s) while the job was {job.status}."
        )
        settled = settle_orphaned_job(
            job,
            requeue_log=f"Worker {job.runner} was lost before the job started; it is queued again.",
            fail_log=reason + " Submit it again.",
            fail_desc=reason,
            on_this_host=runner_host == host,
        )
        if settled == "requeued":
            transaction.on_commit(lambda job_id=job.pk: send_run([job_id]))
        if settled:
            ended.append(job.pk)
    if lost:
        Worker.objects.filter(identity__in=lost, heartbeat_at__lt=cutoff).delete()
    if ended:
        run_finish_sweeps()
    return ended


def redispatch_stale(now: dt.datetime | None = None) -> list[int]:
    """Send again the queued jobs whose last dispatch is older than ``JOB_REDISPATCH_SECONDS``."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.JOB_REDISPATCH_SECONDS)
    stale = Job.objects.filter(
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=cutoff), status__in=QUEUED, queue="", created_at__lt=cutoff
    )
    job_ids = list(stale.order_by("id").values_list("id", flat=True)[:500])
    send_run(job_ids)
    return job_ids


def lock_user(user: str) -> None:
    """Take the transaction's lock on ``user``'s job claims (PostgreSQL; SQLite's IMMEDIATE transactions are
    serialized already)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [7317, user])


def undispatched_jobs():
    """Queued jobs with no message to the workers in flight, oldest first."""
    return Job.objects.filter(status__in=QUEUED, queue="", dispatched_at__isnull=True).order_by("id")


class CeleryRunner:
    """The runner of a web process: sends jobs and kills to the workers and keeps a watchdog."""

    def __init__(self) -> None:
        self.watchdog = Watchdog()

    def start(self) -> None:
        self.watchdog.start()

    def notify(self, job_id: int | None = None) -> None:
        if job_id is not None:
            send_run([job_id])

    def kill(self, job_id: int) -> None:
        send_kill(job_id)

    def stop(self, timeout: float = 10.0) -> None:
        self.watchdog.stop(timeout)


class WorkerRunner:
    """The runner inside a Celery worker: runs the jobs its tasks hand it, on the task's own thread, in a pool of
    executions of its own (``jobs.runners.supervisor``)."""

    def __init__(self, *, concurrency: int, max_per_user: int, node: str = "") -> None:
        self.max_per_user = max_per_user
        self.host = socket.gethostname()
        self.pool = ExecutionPool()
        self.node = node
        self.identity = f"{WORKER_PREFIX}{self.host}:{os.getpid()}"
        self.concurrency = concurrency
        self.watchdog = Watchdog()
        self._beating = threading.Event()
        self._beat_thread: threading.Thread | None = None

    def start(self) -> None:
        from jobs.events import start_event_loop_thread

        start_event_loop_thread()
        prepare_host()
        self.beat()
        try:
            self.reconcile()
        finally:
            connection.close()
        self._beat_thread = threading.Thread(target=self._beat_loop, name="worker-heartbeat", daemon=True)
        self._beat_thread.start()
        self.watchdog.start()
        # Queued jobs with no message in flight: requeued above, deferred over a user's limit, or never sent.
        send_run(list(undispatched_jobs().values_list("id", flat=True)[:500]))

    def stop(self, timeout: float = 10.0) -> None:
        self._beating.set()
        self.watchdog.stop(timeout)
        deadline = time.monotonic() + timeout
        self.pool.stop_all()
        while self.pool.running_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(Exception):
            Worker.objects.filter(identity=self.identity).delete()
        connection.close()

    notify = CeleryRunner.notify  # a job queued from inside a worker goes to the workers like any other

    def kill(self, job_id: int) -> None:
        """End the job's processes if this worker runs it (every worker hears every kill)."""
        self.pool.kill(job_id, remember=False)

    def running_count(self) -> int:
        return self.pool.running_count()

    # --- heartbeat ----------------------------------------------------------------------------------------------
    def beat(self) -> None:
        now = timezone.now()
        sandbox = sandbox_state().detail
        Worker.objects.update_or_create(
            identity=self.identity,
            defaults={"heartbeat_at": now, "node": self.node, "concurrency": self.concurrency, "sandbox": sandbox},
            create_defaults={
                "node": self.node,
                "host": self.host,
                "pid": os.getpid(),
                "concurrency": self.concurrency,
                "sandbox": sandbox,
                "heartbeat_at": now,
                "started_at": now,
            },
        )

    def _beat_loop(self) -> None:
        while not self._beating.wait(settings.JOB_HEARTBEAT_SECONDS):
            try:
                self.beat()
            except Exception:
                logger.exception("worker heartbeat failed")
                close_old_connections()
        connection.close()

    def reconcile(self) -> None:
        """Settle the jobs a dead worker on this host left (identities ``celery@host:pid``)."""
        for job in Job.objects.filter(status__in=ACTIVE, runner__startswith=f"{WORKER_PREFIX}{self.host}:").only(
            "id", "status", "runner", "pid"
        ):
            pid = job.runner.rpartition(":")[2]
            if pid.isdigit() and int(pid) != os.getpid() and pid_alive(int(pid)):
                continue
            reason = f"Job {job.pk} failover: worker {job.runner} stopped while the job was {job.status}."
            settle_orphaned_job(
                job,
                requeue_log="The worker restarted before the job started; it is queued again.",
                fail_log=reason + " Submit it again.",
                fail_desc=reason,
            )
        run_finish_sweeps()

    # --- running ------------------------------------------------------------------------------------------------
    def claim(self, job_id: int) -> tuple[bool, str]:
        """Claim a queued job for this worker under the per-user limit: ``(claimed, submit_user)``."""
        with transaction.atomic():
            row = Job.objects.filter(pk=job_id, queue="").values_list("status", "submit_user").first()
            if row is None or row[0] not in QUEUED:
                return False, ""
            user = row[1]
            lock_user(user)  # two workers cannot both take the user's last slot
            running = Job.objects.filter(status__in=ACTIVE, submit_user=user).count()
            if running >= self.max_per_user:
                # The message is spent: the job waits with none in flight until one of the user's jobs ends.
                Job.objects.filter(pk=job_id, status__in=QUEUED).update(dispatched_at=None)
                return False, user
            claimed = job_transition(
                job_id=job_id,
                to=JobStatus.SCHEDULED,
                only_from=QUEUED,
                runner=self.identity,
                scheduled_at=timezone.now(),
                pid=None,
            )
            return bool(claimed), user

    def run(self, job_id: int) -> str:
        """Run one job to its end on this thread (the task's); return what happened, for the task's result."""
        try:
            claimed, user = self.claim(job_id)
        finally:
            close_old_connections()
        if not claimed:
            return "over-limit" if user else "not-queued"
        execution = self.pool.add(job_id)
        try:
            execution.run()
        finally:
            self._dispatch_waiting(user)
        return "ran"

    def _dispatch_waiting(self, user: str) -> None:
        """A slot of ``user`` freed up: send their oldest jobs deferred over the limit (the claim re-checks it).

        Jobs whose message is still in flight are not sent again. The user's lock orders this after a claim
        deferring a job at the same moment, so that job is seen here."""
        try:
            with transaction.atomic():
                lock_user(user)
                waiting = list(
                    undispatched_jobs().filter(submit_user=user).values_list("id", flat=True)[: self.max_per_user]
                )
            send_run(waiting)
        except Exception:
            logger.exception("dispatching the waiting jobs of %s failed", user)
        finally:
            connection.close()
