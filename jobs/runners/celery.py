"""The celery runner: jobs run on Celery workers (``make worker``), on this machine or others.

- **Dispatch**: a submitted job is sent as a ``jobs.run_job`` task to the ``jobs`` queue on Redis, right after the
  submission commits (stamped ``dispatched_at`` in that transaction). A worker thread takes it, claims the job with
  a conditional UPDATE (``Inited`` -> ``Scheduled``), so a message delivered twice runs the job once, and runs it
  with the local runner's ``JobExecution``: the same engines, logs, progress, limits and endings. Logs, progress
  and statuses go to the database and, after commit, to the Redis channel layer, where any web process's
  WebSocket consumers receive them.
- **Limits**: a worker runs as many jobs as it has threads (``--concurrency``); ``JOB_MAX_RUNNING_PER_USER``
  holds across workers. A user's slots are taken by their claimed and running jobs and by their jobs whose
  message is in flight, counted under a per-user lock (an advisory lock on PostgreSQL). A submission that finds
  them all taken is not sent: it waits, unstamped, and the next of the user's jobs to end hands it its slot in the
  transaction that ends it (``WorkerRunner._ending``): the thread that ran the ending job claims it and runs it
  next, or, when other messages wait for a thread, sends it to the queue behind them. So one user's backlog
  costs no message per job, and a claim over the limit (the job then waits the same way) is rare.
- **Kill**: the job row's kill flag (polled every second by the job's thread) and a ``jobs.kill_job`` broadcast
  that reaches every worker at once; the one running the job ends its process group.
- **Failures**: each worker beats in the ``Worker`` table every ``JOB_HEARTBEAT_SECONDS``. The watchdog, in every
  worker and every web process, ends the jobs of a worker silent for ``JOB_WORKER_TIMEOUT_SECONDS`` as
  ``Failed`` with the reason (a job that had not started is queued again), sends again queued jobs whose message
  went out ``JOB_REDISPATCH_SECONDS`` ago (lost with a Redis restart), and sends waiting jobs of users with a
  free slot that nothing handed on (a send that failed). A worker restarted on the same host also ends the
  engine processes its predecessor left (the local runner's reconciliation).
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
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from jobs.models import ACTIVE, QUEUED, Job, JobStatus, Worker
from jobs.runners import oldest_queued
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


def send_run(job_ids: list[int], *, stamped: bool = False) -> None:
    """Send ``run_job`` for each job (sending never raises: the watchdog resends).

    The jobs sent get ``dispatched_at`` now, unless the caller stamped them already (``stamped``: a submission does
    it in its own transaction, ``jobs.runners.dispatch_stamp``). A stamped job that could not be sent loses its
    stamp, so that whatever looks for jobs with no message in flight (a worker starting, a slot freeing up, the
    watchdog) sends it.
    """
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
    if sent and not stamped:
        Job.objects.filter(pk__in=sent, status__in=QUEUED).update(dispatched_at=timezone.now())
    unsent = job_ids[len(sent) :]
    if unsent and stamped:
        try:
            Job.objects.filter(pk__in=unsent, status__in=QUEUED).update(dispatched_at=None)
        except Exception as exc:  # the database is away too: the watchdog resends once the stamp is old
            logger.warning("unstamping jobs %s failed: %r", unsent, exc)


def taken_slots(users: set[str]) -> dict[str, int]:
    """How many slots under ``JOB_MAX_RUNNING_PER_USER`` each of ``users`` has taken: jobs claimed or running, and
    queued jobs whose message to the workers is in flight."""
    taken = Job.objects.filter(
        Q(status__in=ACTIVE) | Q(status__in=QUEUED, queue="", dispatched_at__isnull=False), submit_user__in=users
    )
    return dict(taken.order_by().values_list("submit_user").annotate(n=Count("id")))


def has_free_slot(user: str) -> bool:
    """Whether ``user`` has a slot that no job of theirs has taken (``taken_slots``), counted under the user's lock
    (``lock_user``) by a submission's transaction: so submissions and jobs ending (``WorkerRunner._ending``) see
    each other's writes, and a job held back for lack of a slot is always seen by the job that frees one."""
    lock_user(user)
    with connection.cursor() as cursor:  # a statement per submission: written out, not built by the ORM each time
        cursor.execute(_TAKEN, [user, *ACTIVE, *QUEUED])
        return cursor.fetchone()[0] < settings.JOB_MAX_RUNNING_PER_USER


_TAKEN = (
    "SELECT COUNT(*) FROM jobs_job WHERE submit_user = %s AND (status IN (%s, %s) "
    "OR (status IN (%s, %s) AND queue = '' AND dispatched_at IS NOT NULL))"
)


def send_submitted(job_id: int, *, user: str, dispatched: bool) -> None:
    """After a submission's commit: send the job, stamped in its transaction. A job held back because its user's
    slots were all taken (``jobs.runners.dispatch_stamp``) is sent by the first of their jobs to end."""
    if dispatched:
        send_run([job_id], stamped=True)


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
    """Send again the queued jobs that waited longer than ``JOB_REDISPATCH_SECONDS``: those whose message went out
    that long ago (lost with a Redis restart, say), and those with none in flight whose user has a free slot (a slot
    freed where the waiting job could not be sent). Jobs waiting for a slot of their user's are left alone."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.JOB_REDISPATCH_SECONDS)
    old = Job.objects.filter(status__in=QUEUED, queue="", created_at__lt=cutoff)
    lost = [job_id for (job_id,) in oldest_queued(old.filter(dispatched_at__lt=cutoff), 500)]
    send_run(lost)
    waiting = old.filter(dispatched_at__isnull=True).order_by().values_list("submit_user", flat=True).distinct()
    users = set(waiting[:500])
    return sorted(lost + dispatch_to_free_slots(users, older_than=cutoff))


def dispatch_to_free_slots(
    users: set[str], *, limit: int | None = None, older_than: dt.datetime | None = None
) -> list[int]:
    """For each of ``users``, send as many of their jobs waiting with no message in flight as they have slots under
    ``limit`` (``JOB_MAX_RUNNING_PER_USER``) that neither a claimed job nor a message in flight will take (jobs
    created before ``older_than``, if given); return their ids."""
    if not users:
        return []
    limit = settings.JOB_MAX_RUNNING_PER_USER if limit is None else limit
    taken = taken_slots(users)
    sent = []
    for user in sorted(users):
        free = limit - taken.get(user, 0)
        if free > 0:
            sent += dispatch_waiting(user, free, older_than=older_than)
    return sent


def dispatch_waiting(user: str, slots: int, *, older_than: dt.datetime | None = None) -> list[int]:
    """Send up to ``slots`` of ``user``'s oldest jobs waiting with no message in flight; return their ids.

    Each is taken by a conditional UPDATE of its ``dispatched_at``, so that two processes freeing slots at once
    never both send it (a send that fails gives the job back, ``send_run``)."""
    waiting = undispatched_jobs().filter(submit_user=user)
    if older_than is not None:
        waiting = waiting.filter(created_at__lt=older_than)
    taken: list[int] = []
    for (job_id,) in oldest_queued(waiting, slots + 4):  # a few more, in case others take some first
        stamp = timezone.now()
        if Job.objects.filter(pk=job_id, status__in=QUEUED, dispatched_at__isnull=True).update(dispatched_at=stamp):
            taken.append(job_id)
            if len(taken) == slots:
                break
    send_run(taken, stamped=True)
    return taken


USER_LOCK = 7317  # the first key of the per-user advisory locks of job claims and slots


def lock_user(user: str) -> None:
    """Take the transaction's lock on ``user``'s job slots (PostgreSQL; SQLite's IMMEDIATE transactions are
    serialized already)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [USER_LOCK, user])


def _queued_row_locking_user(job_id: int) -> tuple[str, str] | None:
    """``(status, submit_user)`` of a job of the runner's queue, taking the transaction's lock on that user's job
    slots in the same statement (``lock_user``)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT status, submit_user, pg_advisory_xact_lock(%s, hashtext(submit_user)) FROM jobs_job "
                "WHERE id = %s AND queue = ''",
                [USER_LOCK, job_id],
            )
        else:
            cursor.execute("SELECT status, submit_user FROM jobs_job WHERE id = %s AND queue = ''", [job_id])
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


_UNDER_LIMIT = "(SELECT COUNT(*) FROM jobs_job AS mine WHERE mine.submit_user = %s AND mine.status IN (%s, %s)) < %s"


def undispatched_jobs():
    """Queued jobs with no message to the workers in flight (``jobs.runners.oldest_queued``: the oldest first)."""
    return Job.objects.filter(status__in=QUEUED, queue="", dispatched_at__isnull=True)


# The user's oldest job waiting with no message in flight: each queued status read along the (status, id) index (see
# ``jobs.runners.oldest_queued``), in one statement.
_OLDEST_WAITING = (
    "SELECT id FROM (SELECT id FROM jobs_job WHERE status = %s AND submit_user = %s AND queue = '' "
    "AND dispatched_at IS NULL ORDER BY id LIMIT 1) AS inited "
    "UNION ALL "
    "SELECT id FROM (SELECT id FROM jobs_job WHERE status = %s AND submit_user = %s AND queue = '' "
    "AND dispatched_at IS NULL ORDER BY id LIMIT 1) AS retry "
    "ORDER BY id LIMIT 1"
)


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
        self.pool = ExecutionPool(on_finished=self._finished, on_ending=self._ending)
        self._users: dict[int, str] = {}  # the submit user of each job this worker runs
        self._next: dict[int, int] = {}  # thread id -> the job that thread claimed as its job ended (``_ending``)
        self._users_lock = threading.Lock()
        self.draining = threading.Event()  # set as the worker shuts down: no more jobs taken on a task's thread
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
        # Queued jobs with no message in flight (requeued above, or never sent) of users with free slots; jobs
        # deferred over their user's limit wait for a slot.
        users = undispatched_jobs().order_by().values_list("submit_user", flat=True).distinct()[:500]
        dispatch_to_free_slots(set(users), limit=self.max_per_user)

    def stop(self, timeout: float = 10.0) -> None:
        self.draining.set()
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
        """Claim a queued job for this worker under the per-user limit: ``(claimed, submit_user)``; the user is ""
        when the job was not queued (any more).

        Two statements under the user's lock: read the job's user, then one conditional UPDATE that claims the job
        only if it is still queued and the user's running jobs, counted after the lock, leave a slot."""
        with transaction.atomic():
            row = _queued_row_locking_user(job_id)
            if row is None or row[0] not in QUEUED:
                return False, ""
            user = row[1]
            claimed = job_transition(
                job_id=job_id,
                to=JobStatus.SCHEDULED,
                only_from=QUEUED,
                # Counted under the lock, in the same statement: two workers cannot both take the user's last slot.
                where=(_UNDER_LIMIT, [user, *ACTIVE, self.max_per_user]),
                runner=self.identity,
                scheduled_at=timezone.now(),
                pid=None,
            )
            if claimed:
                return True, user
            # Over the limit (or taken meanwhile): the message is spent, and the job waits with none in flight
            # until one of the user's jobs ends and hands it its slot (``_ending``, which takes the same lock).
            deferred = Job.objects.filter(pk=job_id, status__in=QUEUED).update(dispatched_at=None)
        return False, (user if deferred else "")

    def run(self, job_id: int) -> str:
        """Run one job to its end on this thread (the task's); return what happened, for the task's result.

        As a job ends, this thread may take the next job of the same user that waits for a slot (``_ending``) and
        run it too, without a message to the workers and back."""
        try:
            claimed, user = self.claim(job_id)
        except BaseException:
            connection.close()
            raise
        if not claimed:
            connection.close()  # back to the pool: this thread may wait long for its next task
            return "over-limit" if user else "not-queued"
        ran = 0
        thread = threading.get_ident()
        next_job: int | None = job_id
        while next_job is not None:
            with self._users_lock:
                self._users[next_job] = user
            # On this thread and connection; as it ends, its slot goes to the user's next waiting job (``_ending``).
            self.pool.add(next_job).run()
            ran += 1
            with self._users_lock:
                next_job = self._next.pop(thread, None)
        return "ran" if ran == 1 else f"ran {ran}"

    def _ending(self, job_id: int) -> None:
        """In the transaction that makes the job final: hand its slot to its user's oldest job waiting for one.

        Under the user's lock, as submissions count slots (``has_free_slot``): a submission either sees this job
        final, or its held-back job is seen here. The slot stays taken across the commit (one job ends, the next is
        taken), so a submission at that moment cannot take it as well and be put back by a worker.

        The next job is claimed for this thread, which runs it after this one (``run``), unless the worker is
        shutting down or messages wait in the queue for a thread (then the job is sent to the queue behind them,
        so that other users' jobs are not kept waiting)."""
        with self._users_lock:
            user = self._users.get(job_id)
        if user is None:
            return
        lock_user(user)
        with connection.cursor() as cursor:  # a statement per job: written out, not built by the ORM each time
            cursor.execute(_OLDEST_WAITING, [QUEUED[0], user, QUEUED[1], user])
            row = cursor.fetchone()
        if row is None:
            return
        waiting, now = row[0], timezone.now()
        thread = threading.get_ident()
        if not self.draining.is_set() and broker_backlog() == 0:
            taken = job_transition(
                job_id=waiting,
                to=JobStatus.SCHEDULED,
                only_from=QUEUED,
                where=("dispatched_at IS NULL", []),
                runner=self.identity,
                scheduled_at=now,
                dispatched_at=now,
                pid=None,
            )
            if taken:
                transaction.on_commit(lambda: self._chain(thread, waiting))
                return
        if Job.objects.filter(pk=waiting, status__in=QUEUED, dispatched_at__isnull=True).update(dispatched_at=now):
            transaction.on_commit(lambda: send_run([waiting], stamped=True))

    def _chain(self, thread: int, job_id: int) -> None:
        with self._users_lock:
            self._next[thread] = job_id

    def _finished(self, job_id: int) -> None:
        with self._users_lock:
            self._users.pop(job_id, None)


_broker: Any = None


def broker_backlog() -> int | None:
    """How many messages wait in the jobs queue for a worker's thread (None when the broker cannot say)."""
    global _broker
    try:
        if _broker is None:
            import redis

            _broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
        return int(_broker.llen(settings.CELERY_TASK_DEFAULT_QUEUE))
    except Exception as exc:
        logger.warning("reading the length of the jobs queue failed: %r", exc)
        return None
