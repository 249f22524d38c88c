"""The celery runner's logic in one process: claims under the per-user limit, the watchdog's decisions."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.db import OperationalError
from django.utils import timezone

from jobs.models import Job, JobStatus, Worker
from jobs.runners import celery as celery_runner
from jobs.runners.celery import WorkerRunner, fail_lost_workers, redispatch_stale
from jobs.services import JobSpec, job_submit

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

    def fake_send(job_ids):
        ids.extend(job_ids)
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
    runner = WorkerRunner(concurrency=4, max_per_user=2)
    deferred, in_flight, other = make_job(user), make_job(user), make_job(user)
    Job.objects.filter(pk__in=[deferred.pk, other.pk]).update(dispatched_at=None)
    Job.objects.filter(pk=in_flight.pk).update(dispatched_at=timezone.now())
    runner._dispatch_waiting(user.username)
    assert sent == [deferred.pk, other.pk]  # the job whose message is in flight is not sent twice


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
