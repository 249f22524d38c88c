"""Per-user limits and the queue hold across Celery workers: two workers with two threads each, one job at a time
per user (``JOB_MAX_RUNNING_PER_USER=1``)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.cluster import Cluster, service_problem
from tests.conftest import need_service
from tests.live import ADMIN

pytestmark = [pytest.mark.cluster, pytest.mark.live]

E = "/api/rest_j/v1/entrance"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    problem = service_problem()
    if problem:
        need_service(problem)
    running = Cluster(tmp_path_factory.mktemp("limits"), worker_concurrency=2, JOB_MAX_RUNNING_PER_USER="1").start()
    try:
        running.start_web("a")
        running.start_worker("w1")
        running.start_worker("w2")
        yield running
    finally:
        running.stop()


def test_one_users_jobs_run_one_at_a_time_across_workers_while_another_users_run_beside(cluster):
    admin = {"Authorization": f"Bearer {cluster.token('a')}"}
    created = requests.put(
        f"{cluster.url('a')}/api/v1/user",
        json={"username": "bob", "password": "bob-password", "admin": False, "modify": False},
        headers=admin,
        timeout=30,
    )
    assert created.status_code in (200, 201), created.text
    bob = requests.post(
        f"{cluster.url('a')}/api/auth", json={"username": "bob", "password": "bob-password"}, timeout=30
    ).json()["token"]

    def submit(token: str, seconds: float) -> int:
        body = {
            "executionContent": {"code": f"sleep {seconds}", "runType": "sh"},
            "labels": {"engineType": "shell-1", "userCreator": "limit-IDE"},
        }
        answer = requests.post(
            f"{cluster.url('a')}{E}/submit", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ).json()
        assert answer["status"] == 0, answer
        return answer["data"]["taskID"]

    admin_token = admin["Authorization"].split()[1]
    mine = [submit(admin_token, 1.5) for _ in range(3)]
    theirs = submit(bob, 1.5)
    most_at_once = {ADMIN[0]: 0, "bob": 0}
    runners = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        rows = cluster.sql("SELECT submit_user, status, runner FROM jobs_job WHERE id = ANY(%s)", (mine + [theirs],))
        for user in most_at_once:
            running = sum(1 for who, status, _ in rows if who == user and status in ("Scheduled", "Running"))
            most_at_once[user] = max(most_at_once[user], running)
        runners.update(runner for who, _, runner in rows if who == ADMIN[0] and runner)
        if all(status == "Succeed" for _, status, _ in rows):
            break
        assert not any(status in ("Failed", "Cancelled", "Timeout") for _, status, _ in rows), rows
        time.sleep(0.05)
    else:
        raise AssertionError(f"the jobs did not all finish: {rows}")
    assert most_at_once == {ADMIN[0]: 1, "bob": 1}  # never two of one user's jobs at once, on any worker
    finished = dict(cluster.sql(
        "SELECT id, extract(epoch FROM finished_at) FROM jobs_job WHERE id = ANY(%s)", (mine,)))  # fmt: skip
    started = dict(cluster.sql(
        "SELECT id, extract(epoch FROM started_at) FROM jobs_job WHERE id = ANY(%s)", (mine,)))  # fmt: skip
    order = sorted(mine, key=lambda job_id: started[job_id])
    assert order == mine  # the queue's order held
    for earlier, later in zip(order, order[1:], strict=False):
        assert started[later] >= finished[earlier]
    bob_row = cluster.sql("SELECT extract(epoch FROM started_at) FROM jobs_job WHERE id = %s", (theirs,))[0][0]
    assert bob_row < finished[mine[0]]  # bob did not wait for the other user's queue
