"""What a long-running server keeps of jobs once they are over: nothing (issue 19, part 5; bench/soak.py).

A socket that runs job after job leaves no subscription and no channel-layer group behind for the finished ones,
the in-memory layer drops the groups its expiry emptied, and the runner forgets every job it ran or killed.
"""

import asyncio

import pytest
from channels.layers import get_channel_layer

from dataplatform.channels import FastInMemoryChannelLayer
from jobs.events import job_group
from jobs.linkis import consumers
from jobs.models import JobStatus
from tests.conftest import bearer, eventually
from tests.jobs.conftest import wait_for
from tests.jobs.test_consumers import PREFIX, WAIT, connect, execute_frame, frames_until

pytestmark = pytest.mark.django_db(transaction=True)

E = "/api/rest_j/v1/entrance"


async def connect_and_find(application, user):
    """A socket, and the consumer behind it (the one that was not live before)."""
    before = set(consumers._live_consumers)
    communicator = await connect(application, user)
    (consumer,) = set(consumers._live_consumers) - before
    return communicator, consumer


async def until(predicate, message: str):
    """Await ``predicate()`` true, the consumer running meanwhile on this loop (``WAIT`` bounds patience)."""
    async with asyncio.timeout(WAIT):
        while not predicate():  # noqa: ASYNC110 - state the consumer changes on this loop
            await asyncio.sleep(0.01)
    assert predicate(), message


def job_groups(job_ids) -> list[str]:
    layer = get_channel_layer()
    return [job_group(job_id) for job_id in job_ids if job_group(job_id) in getattr(layer, "groups", {})]


async def run_over_socket(communicator, code, tag) -> tuple[int, str]:
    """Submit ``code`` on the socket and read frames until the job's final progress frame; its ids."""
    await communicator.send_json_to(execute_frame(code, tag=tag))
    ack = await communicator.receive_json_from(timeout=WAIT)
    assert ack["status"] == 0, ack
    exec_id = ack["data"]["execID"]

    def final_progress(frame):  # the last frame a job's end pushes
        return frame["method"] == f"{PREFIX}{exec_id}/progressWithResource" and frame["data"]["progress"] == 1.0

    frames = await frames_until(communicator, final_progress)
    statuses = [f["data"]["status"] for f in frames if f["method"] == f"{PREFIX}{exec_id}/status"]
    assert statuses[-1] == "Succeed", statuses
    return ack["data"]["taskID"], exec_id


async def test_a_socket_running_job_after_job_keeps_nothing_of_the_finished_ones(application, user, runner, bound_loop):
    communicator, consumer = await connect_and_find(application, user)
    jobs = [await run_over_socket(communicator, f"print({n})", tag=f"t{n}") for n in range(4)]
    assert consumer.subscriptions == {}
    if isinstance(get_channel_layer(), FastInMemoryChannelLayer):  # the Redis layer keeps its groups in Redis
        assert job_groups(job_id for job_id, _ in jobs) == []
    # A finished job asked about again answers as before, and is let go once its final status is sent.
    await communicator.send_json_to({"method": f"{PREFIX}{jobs[0][1]}/status", "websocketTag": "again"})
    frames = await frames_until(communicator, lambda f: f["method"].endswith("/status"))
    assert frames[-1]["data"]["status"] == "Succeed" and frames[-1]["data"]["websocketTag"] == "again"
    await until(lambda: consumer.subscriptions == {}, "a finished job asked about again stayed subscribed")
    await communicator.disconnect()


async def test_a_running_job_stays_subscribed_until_it_ends(application, user, runner, bound_loop):
    communicator, consumer = await connect_and_find(application, user)
    await communicator.send_json_to(execute_frame("import time\nprint('started', flush=True)\ntime.sleep(600)"))
    ack = await communicator.receive_json_from(timeout=WAIT)
    job_id, exec_id = ack["data"]["taskID"], ack["data"]["execID"]
    await frames_until(communicator, lambda f: f["method"] == f"{PREFIX}{exec_id}/log" and "started" in str(f["data"]))
    assert list(consumer.subscriptions) == [job_id]
    await communicator.send_json_to({"method": f"{PREFIX}{exec_id}/kill", "websocketTag": "k"})
    frames = await frames_until(
        communicator, lambda f: f["method"] == f"{PREFIX}{exec_id}/status" and f["data"]["status"] == "Cancelled"
    )
    assert frames[-1]["data"]["status"] == "Cancelled"
    await frames_until(communicator, lambda f: f["method"] == f"{PREFIX}{exec_id}/progressWithResource")
    await until(lambda: consumer.subscriptions == {}, "the cancelled job stayed subscribed")
    await communicator.disconnect()


async def test_the_in_memory_layer_drops_the_groups_its_expiry_emptied():
    layer = FastInMemoryChannelLayer(expiry=-1)  # every message has expired as soon as it is sent
    channel = await layer.new_channel()
    await layer.group_add("job.1", channel)
    await layer.group_add("job.2", channel)
    await layer.send(channel, {"type": "job.event"})
    layer._last_clean = float("-inf")
    layer._clean_expired()  # the channel that stopped reading leaves every group, and the groups go with it
    assert layer.groups == {} and layer.channels == {}


def submit(client, user, code):
    body = {"executionContent": {"code": code, "runType": "python"}, "labels": {"engineType": "python-python2"}}
    response = client.post(f"{E}/submit", body, content_type="application/json", **bearer(user))
    assert response.json()["status"] == 0, response.json()
    return response.json()["data"]


def test_the_runner_forgets_every_job_it_ran_or_killed(client, user, runner):
    done = [submit(client, user, f"print({n})")["taskID"] for n in range(3)]
    long = submit(client, user, "import time\ntime.sleep(600)")
    wait_for(long["taskID"], {JobStatus.RUNNING})
    assert client.get(f"{E}/{long['execID']}/kill", **bearer(user)).json()["status"] == 0
    assert wait_for(long["taskID"]).status == JobStatus.CANCELLED
    assert all(wait_for(job_id).status == JobStatus.SUCCEED for job_id in done)

    def forgotten():
        return runner.running_count() == 0 and not runner.pool._kills and not runner.pool.executions()

    eventually(forgotten, message=lambda: f"the runner still holds {runner.pool._running} and {runner.pool._kills}")
