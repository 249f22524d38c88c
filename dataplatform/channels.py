"""Channel layers: the embedded default's in-memory layer without its per-message full scan, and the production
profile's Redis pub/sub layer that delivers every group message and outlives a Redis restart.

Channels' ``InMemoryChannelLayer`` walks every channel and group to expire old messages on *each* receive and
group send, so fanning one event out to N subscribed WebSockets costs O(N²): with 200 clients that scan is
most of the push latency. This subclass expires at most once a second and sends to a group's channels
directly instead of through one task each. Semantics are otherwise unchanged (capacity, expiry, groups).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _close_redis, _consistent_hash, _wrap_close, create_pool, decode_hosts
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

CLEAN_INTERVAL = 1.0
logger = logging.getLogger(__name__)


class FastInMemoryChannelLayer(InMemoryChannelLayer):
    _last_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_clean < CLEAN_INTERVAL:
            return
        self._last_clean = now
        super()._clean_expired()
        # Channels' expiry takes a channel out of its groups but leaves a group it emptied behind: drop those.
        for group in [group for group, members in self.groups.items() if not members]:
            del self.groups[group]

    async def group_send(self, group, message) -> None:
        assert isinstance(message, dict), "Message is not a dict"  # noqa: S101 - the API contract of Channels
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, {})):
            try:
                await self.send(channel, message)
            except ChannelFull:
                pass  # as Channels does: a full channel misses the message; subscribers catch up from the store


# --- The production profile's layer ---------------------------------------------------------------------------

RECONNECTED = "layer.reconnected"
#: How long joining a group (or making the first channel) waits for Redis to confirm the subscription.
CONFIRM_SECONDS = 5.0
#: After this many quiet seconds the subscriber pings Redis; a second quiet period with no answer is an outage.
PING_SECONDS = 15.0
_OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)
_TARGET = "__asgi_channel__"


class ResilientRedisPubSubChannelLayer(RedisPubSubChannelLayer):
    """channels-redis's pub/sub layer, made to deliver every group message and to outlive a Redis restart.

    On each event loop of a process the layer keeps one subscriber connection. A group is a Redis pub/sub
    channel, subscribed once per process however many of its sockets joined it, and ``group_send`` is one
    ``PUBLISH`` that Redis hands to each subscribed process, which puts the message on the queue of each member
    channel there. A process's own channels (``new_channel``) share one Redis channel, so opening a socket costs
    no Redis command. Nothing is stored in Redis: nothing expires, fills up or needs cleaning.

    What the stock pub/sub layer lacks, added here:

    - Joining a group returns once Redis has confirmed the subscription, so a consumer that joins and then reads
      the store cannot miss a message published in between.
    - When the subscriber connection breaks (a Redis restart), the layer reconnects with a growing pause,
      subscribes every group of the process again, waits for Redis to confirm, and then hands every channel that
      is in a group one ``layer.reconnected`` message, so that its consumer catches up from the stores on what
      the outage kept from it. Joining or leaving a group meanwhile never raises; it is done on reconnection. A
      connection that stops answering (no data, then no answer to a ping) counts as broken.
    - A channel's queue holds at most ``capacity`` messages (past that the oldest is dropped: a consumer that
      stopped reading catches up from the store). A channel whose receive was cancelled (its consumer ended)
      leaves its groups; as in Channels' in-memory layer, a channel in no group keeps a queue only while it holds
      messages or a receive waits on it (a health check's channel is not kept).

    Why not channels-redis's default layer (``channels_redis.core``): a web process pulls every message through
    one shared Redis queue, four round trips each, and hands it on through a lock and a pair of tasks per waiting
    consumer; and every ``group_add`` is a command on a pool of at most 100 connections (redis-py 8), so 200
    sockets joining at once failed with "Too many connections" and then heard nothing (bench/README.md).
    """

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = self._layers[loop] = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
            return layer


class _LoopLayer:
    """The layer on one event loop: local channels' queues, group memberships, one ``_Shard`` per Redis host."""

    extensions = ["groups", "flush"]

    def __init__(self, hosts=None, prefix="asgi", capacity=1000, channel_layer=None, **kwargs) -> None:
        self.prefix = prefix
        self.capacity = capacity
        self.channel_layer = channel_layer
        self.client = uuid.uuid4().hex  # names this loop's own channels: {prefix}{kind}{client}!{unique}
        self.channels: dict[str, asyncio.Queue] = {}
        self.groups: dict[str, set[str]] = {}  # Redis channel of a group -> local member channels
        self.memberships: dict[str, set[str]] = {}  # local channel -> Redis channels of its groups
        self._shards = [_Shard(host, self) for host in decode_hosts(hosts)]

    def _shard(self, name: str) -> _Shard:
        return self._shards[_consistent_hash(name, len(self._shards))]

    def _group_channel(self, group: str) -> str:
        return f"{self.prefix}__group__{group}"

    @staticmethod
    def _route(channel: str) -> str:
        """The Redis channel a channel's messages travel on: a process's own channels share one per kind."""
        return channel[: channel.index("!") + 1] if "!" in channel else channel

    # --- the channel layer API -----------------------------------------------------------------------------------
    async def new_channel(self, prefix="specific."):
        channel = f"{self.prefix}{prefix}{self.client}!{uuid.uuid4().hex}"
        self.channels[channel] = asyncio.Queue()
        route = self._route(channel)
        await self._shard(route).subscribe(route)
        return channel

    async def send(self, channel, message):
        route = self._route(channel)
        if route != channel:
            message = {**message, _TARGET: channel}
        await self._shard(route).publish(route, self.channel_layer.serialize(message))

    async def receive(self, channel):
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue()
            route = self._route(channel)
            await self._shard(route).subscribe(route)
        try:
            message = await queue.get()
        except (asyncio.CancelledError, GeneratorExit):
            # Channels cancels a consumer's receive when the consumer ends: the channel is gone.
            self._close_channel(channel)
            raise
        if queue.empty() and channel not in self.memberships and self.channels.get(channel) is queue:
            del self.channels[channel]  # e.g. a health check's channel: nothing more will come to it
        return message

    async def group_add(self, group, channel):
        group_channel = self._group_channel(group)
        self.groups.setdefault(group_channel, set()).add(channel)
        self.memberships.setdefault(channel, set()).add(group_channel)
        await self._shard(group_channel).subscribe(group_channel)

    async def group_discard(self, group, channel):
        group_channel = self._group_channel(group)
        self._leave(group_channel, channel)

    async def group_send(self, group, message):
        group_channel = self._group_channel(group)
        await self._shard(group_channel).publish(group_channel, self.channel_layer.serialize(message))

    async def flush(self):
        self.channels, self.groups, self.memberships = {}, {}, {}
        for shard in self._shards:
            await shard.flush()

    # --- what the shards call ------------------------------------------------------------------------------------
    def deliver(self, route: str, data: bytes) -> None:
        """Put a message that arrived on the Redis channel ``route`` on the queues of the local channels it is for."""
        members = self.groups.get(route)
        if members is not None:
            message = self.channel_layer.deserialize(data)
            for channel in members:
                self._put(channel, dict(message))
            return
        message = self.channel_layer.deserialize(data)
        channel = message.pop(_TARGET, route)
        if channel.startswith(route):
            self._put(channel, message)

    def reconnected(self) -> None:
        """Tell every channel in a group that messages may have been lost (see the class docstring)."""
        for channel in self.memberships:
            self._put(channel, {"type": RECONNECTED})

    def _put(self, channel: str, message: dict) -> None:
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue()
        elif queue.qsize() >= self.capacity:
            queue.get_nowait()  # a consumer that stopped reading: it catches up from the store
        queue.put_nowait(message)

    def _close_channel(self, channel: str) -> None:
        self.channels.pop(channel, None)
        if self._route(channel) == channel:  # a general channel (not one of new_channel's) has a route of its own
            self._shard(channel).unsubscribe_soon(channel)
        for group_channel in list(self.memberships.get(channel, ())):
            self._leave(group_channel, channel)

    def _leave(self, group_channel: str, channel: str) -> None:
        members = self.groups.get(group_channel)
        if members is None or channel not in members:
            return
        members.discard(channel)
        groups = self.memberships.get(channel)
        if groups is not None:
            groups.discard(group_channel)
            if not groups:
                del self.memberships[channel]
        if not members:
            del self.groups[group_channel]
            self._shard(group_channel).unsubscribe_soon(group_channel)


class _Shard:
    """One Redis server as seen from one event loop: a connection that publishes, and a subscriber connection
    read by a task of its own, which owns (re)connecting and subscribing again."""

    def __init__(self, host: dict, layer: _LoopLayer) -> None:
        self.host = host
        self.layer = layer
        self._wanted: set[str] = set()  # the Redis channels this loop listens to
        self._subscribed: set[str] = set()  # ... of which Redis confirmed these on the current connection
        self._confirming: dict[str, asyncio.Future] = {}  # SUBSCRIBEs sent, their confirmation awaited
        self._commands = asyncio.Lock()  # one writer at a time on the subscriber connection
        self._publishing = asyncio.Lock()  # one publisher connection, messages in order
        self._publisher: aioredis.Redis | None = None
        self._subscriber: aioredis.Redis | None = None
        self._pubsub = None  # while connected
        self._task: asyncio.Task | None = None
        self._down = False  # the last connection attempt failed: joining does not wait for Redis
        self._lost = False  # a connection broke: tell the channels once connected again
        self._notice_after: str | None = None  # the last channel subscribed again; its confirmation ends the outage
        self._pinged = False
        self._chores: set[asyncio.Task] = set()

    async def publish(self, channel: str, message: bytes) -> None:
        async with self._publishing:
            if self._publisher is None:
                self._publisher = aioredis.Redis(connection_pool=create_pool(self.host))
            await self._publisher.publish(channel, message)

    async def subscribe(self, channel: str) -> None:
        """Listen to ``channel``; return once Redis confirmed it, or at once while Redis is away."""
        self._wanted.add(channel)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._read())
        if channel not in self._subscribed and channel not in self._confirming:
            async with self._commands:
                if channel in self._wanted and channel not in self._subscribed and channel not in self._confirming:
                    if self._pubsub is not None:
                        self._confirming[channel] = asyncio.get_running_loop().create_future()
                        with contextlib.suppress(*_OUTAGE):  # the reading task reconnects and subscribes it
                            await self._pubsub.subscribe(channel)
                    elif not self._down:  # connecting: the reading task subscribes everything wanted
                        self._confirming[channel] = asyncio.get_running_loop().create_future()
        waiter = self._confirming.get(channel)
        if waiter is not None:
            await asyncio.wait([waiter], timeout=CONFIRM_SECONDS)

    async def unsubscribe(self, channel: str) -> None:
        async with self._commands:
            if channel in self._wanted or self._pubsub is None:
                return
            if channel in self._subscribed or channel in self._confirming:
                self._subscribed.discard(channel)
                with contextlib.suppress(*_OUTAGE):  # a new connection does not subscribe it again
                    await self._pubsub.unsubscribe(channel)

    def unsubscribe_soon(self, channel: str) -> None:
        """Stop listening to ``channel``, from code that cannot wait for it (a cancelled receive)."""
        self._wanted.discard(channel)
        task = asyncio.ensure_future(self.unsubscribe(channel))
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def flush(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._disconnect()
        for client in (self._subscriber, self._publisher):
            if client is not None:
                await _close_redis(client)
        self._subscriber = self._publisher = None
        self._wanted.clear()
        self._down = self._lost = False

    # --- the subscriber connection -------------------------------------------------------------------------------
    async def _read(self) -> None:
        pause = 0.1
        while True:
            try:
                if self._pubsub is None:
                    await self._connect()
                    pause = 0.1
                message = await self._pubsub.get_message(timeout=PING_SECONDS)
                if message is None:
                    await self._ping()
                else:
                    self._pinged = False
                    self._handle(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an outage, or a connection redis-py gave up on: reconnect either way
                if not self._lost:
                    logger.warning("the channel layer lost Redis (%r); reconnecting", exc)
                self._lost = self._down = True
                await self._disconnect()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    async def _connect(self) -> None:
        async with self._commands:
            if self._subscriber is None:
                self._subscriber = aioredis.Redis(connection_pool=create_pool(self.host))
            pubsub = self._subscriber.pubsub()
            try:
                await pubsub.connect()
                wanted = sorted(self._wanted)
                if wanted:
                    loop = asyncio.get_running_loop()
                    for channel in wanted:
                        self._confirming.setdefault(channel, loop.create_future())
                    await pubsub.subscribe(*wanted)
            except BaseException:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
            self._pubsub, self._down, self._pinged = pubsub, False, False
            if self._lost:
                self._lost = False
                logger.warning("the channel layer reached Redis again")
                if wanted:
                    self._notice_after = wanted[-1]  # Redis confirms them in order
                else:
                    self.layer.reconnected()

    def _handle(self, message: dict) -> None:
        kind, name = message["type"], message["channel"]
        if isinstance(name, bytes):
            name = name.decode()
        if kind == "message":
            self.layer.deliver(name, message["data"])
        elif kind == "subscribe":
            self._subscribed.add(name)
            waiter = self._confirming.pop(name, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(True)
            if name == self._notice_after:
                self._notice_after = None
                self.layer.reconnected()

    async def _ping(self) -> None:
        if self._pinged:
            raise RedisConnectionError(f"Redis did not answer a ping within {PING_SECONDS} s")
        self._pinged = True
        async with self._commands:
            await self._pubsub.ping()

    async def _disconnect(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        self._subscribed.clear()
        self._notice_after = None
        for waiter in self._confirming.values():  # joiners stop waiting; they are told on reconnection
            if not waiter.done():
                waiter.set_result(False)
        self._confirming.clear()
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
