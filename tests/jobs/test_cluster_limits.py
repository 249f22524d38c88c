"""Per-user limits and the queue hold across Celery workers: two workers with two threads each, one job at a time
per user (``JOB_MAX_RUNNING_PER_USER=1``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.cluster import Cluster, service_problem
from tests.conftest import eventually, need_service

pytestmark = [pytest.mark.cluster, pytest.mark.live]

E = "/api/rest_j/v1/entrance"
# Each job runs until the test lets it go (a file in its working directory), so the test decides what overlaps.
GATED = "while [ ! -e go ]; do sleep 0.05; done"


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

    def submit(token: str) -> int:
        body = {
            "executionContent": {"code": GATED, "runType": "sh"},
            "labels": {"engineType": "shell-1", "userCreator": "limit-IDE"},
        }
        answer = requests.post(
            f"{cluster.url('a')}{E}/submit", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ).json()
        assert answer["status"] == 0, answer
        return answer["data"]["taskID"]

    def statuses() -> dict[int, str]:
        return dict(cluster.sql("SELECT id, status FROM jobs_job WHERE id = ANY(%s)", (mine + [theirs],)))

    def wait_running(job_id: int) -> None:
        eventually(lambda: statuses()[job_id] == "Running", timeout=120, message=lambda: f"{job_id}: {statuses()}")

    def release(job_id: int) -> None:
        (Path(cluster.env["DATA_DIR"]) / "jobs" / str(job_id) / "go").touch()

    admin_token = admin["Authorization"].split()[1]
    mine = [submit(admin_token) for _ in range(3)]
    theirs = submit(bob)
    # Bob's job runs beside the other user's first one: he does not wait for that user's queue.
    wait_running(mine[0])
    wait_running(theirs)
    for current, step in enumerate(mine):
        wait_running(step)
        now = statuses()
        # Never two of one user's jobs at once, on any worker: the rest of the queue waits, unclaimed.
        assert [now[job_id] for job_id in mine[current + 1 :]] == ["Inited"] * (len(mine) - current - 1), now
        assert all(now[job_id] == "Succeed" for job_id in mine[:current]), now
        release(step)
    release(theirs)
    eventually(lambda: set(statuses().values()) == {"Succeed"}, timeout=120, message=lambda: str(statuses()))
    finished = dict(cluster.sql(
        "SELECT id, extract(epoch FROM finished_at) FROM jobs_job WHERE id = ANY(%s)", (mine,)))  # fmt: skip
    started = dict(cluster.sql(
        "SELECT id, extract(epoch FROM started_at) FROM jobs_job WHERE id = ANY(%s)", (mine,)))  # fmt: skip
    order = sorted(mine, key=lambda job_id: started[job_id])
    assert order == mine  # the queue's order held
    for earlier, later in zip(order, order[1:], strict=False):
        assert started[later] >= finished[earlier]
