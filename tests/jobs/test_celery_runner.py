"""The celery runner's logic in one process: claims under the per-user limit, the watchdog's decisions."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.db import OperationalError, transaction
from django.utils import timezone

from jobs.models import Job, JobStatus, Worker
from jobs.runners import celery as celery_runner
from jobs.runners.celery import WorkerRunner, dispatch_waiting, fail_lost_workers, redispatch_stale
from jobs.runners.supervisor import JobExecution
from jobs.services import JobSpec, job_submit, job_transition

pytestmark = pytest.mark.django_db


class FakeClock:
    """A monotonic clock the test moves by hand, for the watchdog's ``clock``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_job(owner) -> Job:
    return job_submit(owner=owner, spec=JobSpec(code="print(1)", engine_type="python-python2", run_type="python"))


@pytest.fixture
def sent(monkeypatch):
    """The job ids the runner would send to the workers (no broker needed)."""
    ids: list[int] = []

    def fake_send(job_ids, *, stamped=False):
        ids.extend(job_ids)
        if not stamped:
            Job.objects.filter(pk__in=job_ids).update(dispatched_at=timezone.now())

    monkeypatch.setattr(celery_runner, "send_run", fake_send)
    return ids


def test_claim_takes_a_queued_job_once_and_respects_the_per_user_limit(user, sent):
    runner = WorkerRunner(concurrency=4, max_per_user=1)
    first, second = make_job(user), make_job(user)
    assert runner.claim(first.pk) == (True, user.username)
    assert runner.claim(first.pk) == (False, "")  # a message delivered twice runs the job once
    first.refresh_from_db()
    assert first.status == JobStatus.SCHEDULED and first.runner == runner.identity
    assert first.runner.startswith("celery@")
    assert runner.claim(second.pk) == (False, user.username)  # over the limit: it stays queued
    second.refresh_from_db()
    assert second.status == JobStatus.INITED
    assert second.dispatched_at is None  # with no message in flight


def test_a_freed_slot_sends_only_the_jobs_deferred_over_the_limit(user, sent):
    deferred, in_flight, other = make_job(user), make_job(user), make_job(user)
    Job.objects.filter(pk__in=[deferred.pk, other.pk]).update(dispatched_at=None)
    Job.objects.filter(pk=in_flight.pk).update(dispatched_at=timezone.now())
    dispatch_waiting(user.username, 2)
    assert sent == [deferred.pk, other.pk]  # the job whose message is in flight is not sent twice
    assert Job.objects.filter(pk__in=sent, dispatched_at__isnull=False).count() == 2


def test_a_freed_slot_sends_one_waiting_job_and_two_freed_slots_never_send_the_same_one(user, sent):
    first, second = make_job(user), make_job(user)
    Job.objects.filter(pk__in=[first.pk, second.pk]).update(dispatched_at=None)
    dispatch_waiting(user.username, 1)
    dispatch_waiting(user.username, 1)
    dispatch_waiting(user.username, 1)  # nothing waits any more
    assert sent == [first.pk, second.pk]


def test_a_job_ending_hands_its_slot_to_its_users_oldest_waiting_job_in_the_same_transaction(
    user, other_user, sent, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(celery_runner, "broker_backlog", lambda: 3)  # others' jobs wait: the next one is queued
    runner = WorkerRunner(concurrency=4, max_per_user=1)
    running = make_job(user)
    assert runner.claim(running.pk) == (True, user.username)
    runner._users[running.pk] = user.username
    waiting = [make_job(user) for _ in range(2)]
    Job.objects.filter(pk__in=[job.pk for job in waiting]).update(dispatched_at=None)
    someone_else = make_job(other_user)
    Job.objects.filter(pk=someone_else.pk).update(dispatched_at=None)

    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            job_transition(job_id=running.pk, to=JobStatus.RUNNING)
            job_transition(job_id=running.pk, to=JobStatus.SUCCEED)
            runner._ending(running.pk)
            # The slot stays taken: the next job is in flight before the ending job's commit.
            assert Job.objects.get(pk=waiting[0].pk).dispatched_at is not None
            assert sent == []  # sent only once committed

    assert sent == [waiting[0].pk]  # one slot freed, one job sent: the user's oldest
    assert Job.objects.get(pk=waiting[1].pk).dispatched_at is None


class InstantExecution(JobExecution):
    """A job that starts and succeeds at once: its runner's part without an engine."""

    def _run(self) -> None:
        job_transition(job_id=self.job_id, to=JobStatus.RUNNING, only_from=(JobStatus.SCHEDULED,))
        self._final_transition(to=JobStatus.SUCCEED)


@pytest.fixture
def instant_runner(monkeypatch):
    runner = WorkerRunner(concurrency=4, max_per_user=1)
    add = runner.pool.add
    monkeypatch.setattr(runner.pool, "add", lambda job_id: add(job_id, factory=InstantExecution))
    return runner


@pytest.mark.django_db(transaction=True)
def test_a_tasks_thread_runs_its_users_waiting_jobs_one_after_another_when_nothing_else_waits(
    user, sent, instant_runner, monkeypatch
):
    monkeypatch.setattr(celery_runner, "broker_backlog", lambda: 0)
    first, *waiting = [make_job(user) for _ in range(3)]
    Job.objects.filter(pk__in=[job.pk for job in waiting]).update(dispatched_at=None)  # held back at submission

    assert instant_runner.run(first.pk) == "ran 3"

    assert sent == []  # no message to the workers and back
    jobs = Job.objects.filter(pk__in=[first.pk, *[job.pk for job in waiting]]).order_by("id")
    assert [job.status for job in jobs] == [JobStatus.SUCCEED] * 3
    assert {job.runner for job in jobs} == {instant_runner.identity}


@pytest.mark.django_db(transaction=True)
def test_a_tasks_thread_leaves_the_next_job_to_the_queue_when_other_messages_wait_or_the_worker_stops(
    user, sent, instant_runner, monkeypatch
):
    backlog = [2]
    monkeypatch.setattr(celery_runner, "broker_backlog", lambda: backlog[0])
    first, second, third = [make_job(user) for _ in range(3)]
    Job.objects.filter(pk__in=[second.pk, third.pk]).update(dispatched_at=None)

    assert instant_runner.run(first.pk) == "ran"  # other jobs wait for a thread: this one goes back to the queue
    assert sent == [second.pk]
    backlog[0] = 0
    instant_runner.draining.set()  # shutting down
    assert instant_runner.run(second.pk) == "ran"
    assert sent == [second.pk, third.pk]


def test_a_job_held_back_at_submission_waits_unsent_until_a_slot_frees(user, sent, settings):
    settings.JOB_RUNNER = "celery"
    settings.JOB_MAX_RUNNING_PER_USER = 1
    first = make_job(user)
    assert first.dispatched_at is not None  # a free slot: stamped in its transaction, sent after commit
    second = make_job(user)
    assert second.dispatched_at is None  # the first one's message holds the user's only slot


def test_a_lost_workers_running_job_fails_with_the_reason_and_an_unstarted_one_is_queued_again(user, sent, settings):
    settings.JOB_WORKER_TIMEOUT_SECONDS = 30  # the healthy worker's "now" stays fresh however slow the machine
    old = timezone.now() - dt.timedelta(seconds=60)
    Worker.objects.create(identity="celery@elsewhere:1", host="elsewhere", pid=1, heartbeat_at=old)
    Worker.objects.create(identity="celery@elsewhere:2", host="elsewhere", pid=2, heartbeat_at=timezone.now())
    running = make_job(user)
    Job.objects.filter(pk=running.pk).update(
        status=JobStatus.RUNNING, runner="celery@elsewhere:1", pid=999999, scheduled_at=old
    )
    unstarted = make_job(user)
    Job.objects.filter(pk=unstarted.pk).update(
        status=JobStatus.SCHEDULED, runner="celery@elsewhere:1", scheduled_at=old
    )
    healthy = make_job(user)
    Job.objects.filter(pk=healthy.pk).update(status=JobStatus.RUNNING, runner="celery@elsewhere:2", scheduled_at=old)
    local = make_job(user)
    Job.objects.filter(pk=local.pk).update(status=JobStatus.RUNNING, runner="elsewhere:3", scheduled_at=old)

    ended = fail_lost_workers()

    assert sorted(ended) == sorted([running.pk, unstarted.pk])
    running.refresh_from_db()
    assert running.status == JobStatus.FAILED
    assert "worker celery@elsewhere:1 stopped responding" in running.error_desc
    unstarted.refresh_from_db()
    assert unstarted.status == JobStatus.WAIT_FOR_RETRY and unstarted.runner == ""
    assert Job.objects.get(pk=healthy.pk).status == JobStatus.RUNNING  # its worker beats
    assert Job.objects.get(pk=local.pk).status == JobStatus.RUNNING  # a local runner's job is not the watchdog's
    assert list(Worker.objects.values_list("identity", flat=True)) == ["celery@elsewhere:2"]


def test_queued_jobs_nobody_took_are_sent_again_after_the_redispatch_delay(user, sent, settings):
    settings.JOB_REDISPATCH_SECONDS = 30
    old = timezone.now() - dt.timedelta(seconds=120)
    lost = make_job(user)
    Job.objects.filter(pk=lost.pk).update(created_at=old, dispatched_at=old)
    never = make_job(user)
    Job.objects.filter(pk=never.pk).update(created_at=old, dispatched_at=None)
    fresh = make_job(user)
    Job.objects.filter(pk=fresh.pk).update(created_at=old, dispatched_at=timezone.now())
    new = make_job(user)

    assert redispatch_stale() == [lost.pk, never.pk]
    assert sent == [lost.pk, never.pk]
    assert fresh.pk not in sent and new.pk not in sent


def test_jobs_waiting_for_a_slot_of_their_user_are_not_sent_again_by_the_watchdog(user, other_user, sent, settings):
    settings.JOB_REDISPATCH_SECONDS = 30
    settings.JOB_MAX_RUNNING_PER_USER = 2
    old = timezone.now() - dt.timedelta(seconds=120)
    busy = [make_job(user) for _ in range(2)]
    Job.objects.filter(pk__in=[job.pk for job in busy]).update(status=JobStatus.RUNNING, runner="celery@h:1")
    deferred = [make_job(user) for _ in range(3)]
    Job.objects.filter(pk__in=[job.pk for job in deferred]).update(created_at=old, dispatched_at=None)
    others = [make_job(other_user) for _ in range(3)]
    Job.objects.filter(pk__in=[job.pk for job in others]).update(created_at=old, dispatched_at=None)

    # alice's slots are all taken: her jobs wait for one; bob has two free slots: his two oldest go.
    assert redispatch_stale() == [others[0].pk, others[1].pk]
    assert redispatch_stale() == []  # their messages are in flight now
    assert sent == [others[0].pk, others[1].pk]


def test_the_watchdog_judges_a_worker_lost_only_after_watching_it_not_beat_for_a_timeout(settings):
    from jobs.runners.celery import Watchdog

    settings.JOB_WORKER_TIMEOUT_SECONDS = 5
    clock = FakeClock()
    stale = timezone.now() - dt.timedelta(seconds=60)
    Worker.objects.create(identity="celery@h:1", host="h", pid=1, heartbeat_at=stale)
    watchdog = Watchdog(clock=clock)
    # Stale in the database (as every worker is just after a database outage), but not yet watched.
    assert watchdog.lost_workers() == set()
    clock.advance(4)
    assert watchdog.lost_workers() == set()
    # The worker beats again (the outage is over): the watch starts afresh.
    Worker.objects.filter(identity="celery@h:1").update(heartbeat_at=stale + dt.timedelta(seconds=1))
    clock.advance(2)
    assert watchdog.lost_workers() == set()
    clock.advance(5)  # silent for a whole timeout under watch: lost
    assert watchdog.lost_workers() == {"celery@h:1"}


def test_a_watchdog_round_that_fails_restarts_every_watch(settings, monkeypatch):
    from jobs.runners.celery import Watchdog

    settings.JOB_WORKER_TIMEOUT_SECONDS = 5
    clock = FakeClock()
    stale = timezone.now() - dt.timedelta(seconds=60)
    Worker.objects.create(identity="celery@h:1", host="h", pid=1, heartbeat_at=stale)
    watchdog = Watchdog(clock=clock)
    assert watchdog.lost_workers() == set()

    def database_away():
        raise OperationalError("connection refused")

    monkeypatch.setattr(celery_runner, "redispatch_stale", database_away)
    monkeypatch.setattr(celery_runner, "connection", SimpleNamespace(close=lambda: None))  # keep the test database
    assert watchdog.round() is False  # the database was away for this round
    clock.advance(10)
    assert watchdog.lost_workers() == set()  # the outage's time was not watched
    clock.advance(5)
    assert watchdog.lost_workers() == {"celery@h:1"}


def test_a_silent_worker_that_answers_celerys_ping_is_not_lost(settings, monkeypatch):
    from jobs.runners.celery import Watchdog

    settings.JOB_WORKER_TIMEOUT_SECONDS = 5
    clock = FakeClock()
    stale = timezone.now() - dt.timedelta(seconds=60)
    Worker.objects.create(identity="celery@h:1", node="w1@h", host="h", pid=1, heartbeat_at=stale)
    Worker.objects.create(identity="celery@h:2", node="w2@h", host="h", pid=2, heartbeat_at=stale)
    pinged = []

    def ping(nodes, timeout=1.0):
        pinged.append(nodes)
        return answers

    monkeypatch.setattr(celery_runner, "ping_workers", ping)
    watchdog = Watchdog(clock=clock)
    answers = {"w1@h"}
    assert watchdog.lost_workers() == set() and pinged == []  # not watched long enough: nobody is asked
    clock.advance(6)
    # w1 cannot reach the database (its heartbeat is stale) but answers over Redis; w2 answers nothing.
    assert watchdog.lost_workers() == {"celery@h:2"}
    assert pinged == [["w1@h", "w2@h"]]
    answers = None  # the broker is away too: nobody can be judged
    assert watchdog.lost_workers() == set()
