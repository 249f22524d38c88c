"""The ASGI handler runs requests on one lane thread first and on its pool when the lane is held up (issue 19).

Threads contending for the GIL cost about as much as the requests' work, so a request runs on the lane when the lane
takes it within ``ASGI_LANE_WAIT_MS``; one the lane would keep waiting (a slow request holds it) runs on the pool, so
a slow request cannot hold the others up for longer than that wait.
"""

import asyncio

import pytest
from asgiref.testing import ApplicationCommunicator

from dataplatform.asgi_handler import PooledASGIHandler
from tests.api import urls as probe_urls
from tests.asgi import http_scope

pytestmark = pytest.mark.urls("tests.api.urls")


async def start(handler: PooledASGIHandler, path: str) -> ApplicationCommunicator:
    communicator = ApplicationCommunicator(handler, http_scope(path, {"Host": "testserver"}, method="GET"))
    await communicator.send_input({"type": "http.request", "body": b""})
    return communicator


async def answer(communicator: ApplicationCommunicator) -> tuple[int, str]:
    head = await communicator.receive_output(timeout=60)
    body = await communicator.receive_output(timeout=60)
    await communicator.wait(timeout=60)
    return head["status"], body["body"].decode()


@pytest.fixture
def gate():
    probe_urls.LANE_GATE.clear()
    probe_urls.LANE_HELD.clear()
    yield probe_urls.LANE_GATE
    probe_urls.LANE_GATE.set()  # never leave a lane thread held


@pytest.fixture
def patient(settings):
    """A lane wait no loaded machine reaches: a request the lane is free for always runs there."""
    settings.ASGI_LANE_WAIT_MS = 120_000


async def test_a_request_runs_on_the_lane_when_it_is_free(patient):
    handler = PooledASGIHandler()
    for _ in range(3):
        status, thread = await answer(await start(handler, "/probe-thread"))
        assert status == 200 and thread.startswith("request-lane")
    assert handler.lane_overflows == 0


async def test_a_request_the_lane_keeps_waiting_runs_on_the_pool_and_nothing_is_lost(patient, gate):
    handler = PooledASGIHandler()
    held = await start(handler, "/probe-held")  # takes the lane and keeps it
    assert await asyncio.to_thread(probe_urls.LANE_HELD.wait, 60)
    handler.lane_wait = 0.02  # from now on a request waits for the lane 20 ms at most
    waiting = await start(handler, "/probe-thread")
    status, thread = await answer(waiting)  # answered while the lane is still held
    assert status == 200 and thread.startswith("request_") and not thread.startswith("request-lane")
    assert not held.output_queue.qsize() and handler.lane_overflows == 1
    gate.set()
    status, thread = await answer(held)
    assert status == 200 and thread.startswith("request-lane")
    handler.lane_wait = 120
    status, thread = await answer(await start(handler, "/probe-thread"))  # the lane is free again
    assert thread.startswith("request-lane")


async def test_requests_queued_for_the_lane_are_each_answered_once(patient):
    handler = PooledASGIHandler()
    communicators = [await start(handler, "/probe-thread") for _ in range(20)]
    answers = await asyncio.gather(*(answer(communicator) for communicator in communicators))
    assert answers == [(200, answers[0][1])] * 20 and answers[0][1].startswith("request-lane")
    assert all(communicator.output_queue.empty() for communicator in communicators)


async def test_without_a_lane_every_request_runs_on_the_pool(settings):
    settings.ASGI_LANE_THREADS = 0
    handler = PooledASGIHandler()
    status, thread = await answer(await start(handler, "/probe-thread"))
    assert status == 200 and thread.startswith("request_")
