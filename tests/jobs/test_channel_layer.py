"""The production profile's channel layer (``dataplatform.channels.ResilientRedisPubSubChannelLayer``) against a
Redis server of the test's own, which a test may stop and start again.

Each layer object stands for one process (a web process with its sockets, or a Celery worker that publishes): it
keeps its own connections and names its own channels, as a process does.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess

import pytest
import redis

from dataplatform.channels import RECONNECTED, ResilientRedisPubSubChannelLayer
from tests.conftest import eventually, need_service
from tests.live import free_port

pytestmark = pytest.mark.redis

WAIT = 60.0  # seconds of patience for a message: generous on a loaded machine, never a claim about speed
GROUP = "job.1"


class RedisServer:
    """``redis-server`` on a free port, nothing on disk."""

    def __init__(self, directory) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = f"redis-server --bind 127.0.0.1 --port {self.port} --appendonly no --dir {self.directory}".split()
        self.process = subprocess.Popen(
            [*argv, "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        eventually(self._accepting, timeout=WAIT, message="redis-server did not start")

    def _accepting(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def clients(self) -> int:
        """How many connections the server has, besides the one asking."""
        with redis.Redis.from_url(self.url) as client:
            return len(client.client_list()) - 1

    def subscribers(self, redis_channel: str) -> int:
        """How many connections listen to ``redis_channel`` (``PUBSUB NUMSUB``)."""
        with redis.Redis.from_url(self.url) as client:
            return dict(client.pubsub_numsub(redis_channel))[redis_channel.encode()]


@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None:
        need_service("redis-server is not installed (these tests run a Redis server of their own)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def layers(redis_server):
    """Make layers ("processes") on the test's Redis; flushed (their connections closed) at the end."""
    made: list[ResilientRedisPubSubChannelLayer] = []

    def make(**config) -> ResilientRedisPubSubChannelLayer:
        made.append(ResilientRedisPubSubChannelLayer(hosts=[redis_server.url], prefix="test", **config))
        return made[-1]

    yield make
    for layer in made:
        await layer.flush()


async def receive(layer, channel) -> dict:
    async with asyncio.timeout(WAIT):
        return await layer.receive(channel)


async def test_every_socket_of_every_process_gets_every_group_message_once_and_in_order(layers, redis_server):
    web_a, web_b, worker = layers(), layers(), layers()
    sockets = {web: [await web.new_channel() for _ in range(100)] for web in (web_a, web_b)}
    # 200 sockets join at once. channels-redis's default layer ran a command per join on a pool of at most 100
    # connections (redis-py 8): under load some joins failed with "Too many connections" and those sockets heard
    # nothing. Here a process keeps two connections however many of its sockets join.
    await asyncio.gather(*(web.group_add(GROUP, channel) for web, channels in sockets.items() for channel in channels))
    assert redis_server.clients() <= 2 * 3
    for number in range(20):
        await worker.group_send(GROUP, {"type": "job.event", "n": number})
    await worker.group_send(GROUP, {"type": "job.end"})
    for web, channels in sockets.items():
        for channel in channels:
            got = [await receive(web, channel) for _ in range(21)]
            assert got == [{"type": "job.event", "n": n} for n in range(20)] + [{"type": "job.end"}]


async def test_a_message_sent_right_after_joining_is_received(layers):
    """Joining returns once Redis has confirmed the subscription: a consumer that joins and then reads the store
    cannot miss what is published after that read."""
    web, worker = layers(), layers()
    for number in range(20):
        channel = await web.new_channel()
        await web.group_add(f"job.{number}", channel)
        await worker.group_send(f"job.{number}", {"type": "job.event", "n": number})
        assert await receive(web, channel) == {"type": "job.event", "n": number}


async def test_a_message_to_one_channel_reaches_it_in_its_process(layers):
    web_a, web_b = layers(), layers()
    a, b = await web_a.new_channel(), await web_b.new_channel()
    await web_b.send(a, {"type": "ping", "to": "a"})
    await web_a.send(b, {"type": "ping", "to": "b"})
    assert await receive(web_a, a) == {"type": "ping", "to": "a"}
    assert await receive(web_b, b) == {"type": "ping", "to": "b"}


async def test_the_layer_outlives_a_redis_restart(layers, redis_server):
    web, worker = layers(), layers()
    early, late = await web.new_channel(), await web.new_channel()
    await web.group_add(GROUP, early)
    await worker.group_send(GROUP, {"type": "job.event", "n": 0})
    assert (await receive(web, early))["n"] == 0

    redis_server.stop()
    await web.group_add(GROUP, late)  # joining while Redis is away neither raises nor waits for it
    with pytest.raises(redis.exceptions.ConnectionError):
        await worker.group_send(GROUP, {"type": "job.event", "n": "lost"})  # the caller logs it; stores keep the truth
    redis_server.start()

    # Once subscribed again, every member is told that messages may have been lost, so it catches up from the store.
    assert await receive(web, early) == {"type": RECONNECTED}
    assert await receive(web, late) == {"type": RECONNECTED}
    await worker.group_send(GROUP, {"type": "job.event", "n": 1})
    assert await receive(web, early) == {"type": "job.event", "n": 1}
    assert await receive(web, late) == {"type": "job.event", "n": 1}


async def test_a_channel_whose_consumer_ended_leaves_its_groups(layers, redis_server):
    web, worker = layers(), layers()
    gone, staying = await web.new_channel(), await web.new_channel()
    await web.group_add(GROUP, gone)
    await web.group_add("job.2", gone)
    await web.group_add("job.2", staying)
    receiving = asyncio.ensure_future(web.receive(gone))
    await asyncio.sleep(0)  # let it wait on its queue
    receiving.cancel()  # Channels cancels a consumer's receive when the consumer ends
    with pytest.raises(asyncio.CancelledError):
        await receiving

    # The process stops listening to the group it was alone in, and keeps the one another socket still follows.
    await asyncio.to_thread(eventually, lambda: redis_server.subscribers(f"test__group__{GROUP}") == 0)
    assert redis_server.subscribers("test__group__job.2") == 1
    await worker.group_send("job.2", {"type": "job.event", "n": 2})
    assert await receive(web, staying) == {"type": "job.event", "n": 2}


async def test_a_channel_that_stops_reading_keeps_only_the_latest_messages(layers):
    web, worker = layers(capacity=100), layers()
    channel, reading = await web.new_channel(), await web.new_channel()
    await web.group_add(GROUP, channel)
    await web.group_add(GROUP, reading)
    for number in range(105):
        await worker.group_send(GROUP, {"type": "job.event", "n": number})
    await worker.group_send(GROUP, {"type": "job.end"})
    while (await receive(web, reading))["type"] != "job.end":  # every message has reached both queues
        pass
    got = [await receive(web, channel) for _ in range(100)]
    # The oldest were dropped (its consumer catches up from the store); the end is there.
    assert [message.get("n") for message in got] == [*range(6, 105), None]


async def test_a_channel_in_no_group_is_not_kept_once_received(layers):
    """A health check's channel: made, sent to, received from, and never used again."""
    web = layers()
    for _ in range(3):
        channel = await web.new_channel("healthz.")
        await web.send(channel, {"type": "healthz.ping"})
        assert await receive(web, channel) == {"type": "healthz.ping"}
    assert web._get_layer().channels == {}
