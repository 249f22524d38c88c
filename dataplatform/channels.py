"""Channel layers: the embedded default's in-memory layer without its per-message full scan, and the production
profile's Redis layer that outlives a Redis restart.

Channels' ``InMemoryChannelLayer`` walks every channel and group to expire old messages on *each* receive and
group send, so fanning one event out to N subscribed WebSockets costs O(N²): with 200 clients that scan is
most of the push latency. This subclass expires at most once a second and sends to a group's channels
directly instead of through one task each. Semantics are otherwise unchanged (capacity, expiry, groups).
"""

from __future__ import annotations

import asyncio
import logging
import time

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
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

_OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)
RECONNECTED = "layer.reconnected"


class ResilientRedisChannelLayer(RedisChannelLayer):
    """channels-redis's layer, made to outlive a Redis restart.

    Redis keeps nothing on disk here, so a restart loses the group memberships of every open socket, and the
    layer's receive raises on its broken connections, which ends the consumer and closes the socket. This layer
    remembers the groups this process's channels joined; its ``receive`` waits out an outage (retrying with a
    growing pause), joins those groups again, and then hands the consumer one ``layer.reconnected`` message so
    that it can catch up from the stores on what the outage kept from it. Joining or leaving a group during an
    outage is remembered and done on reconnection.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._memberships: dict[str, set[str]] = {}
        self._lost: set[str] = set()

    async def group_add(self, group, channel) -> None:
        self._memberships.setdefault(channel, set()).add(group)
        try:
            await super().group_add(group, channel)
        except _OUTAGE as exc:
            logger.warning("joining %s failed (%r); it is joined again when Redis answers", group, exc)
            self._lost.add(channel)

    async def group_discard(self, group, channel) -> None:
        groups = self._memberships.get(channel)
        if groups is not None:
            groups.discard(group)
            if not groups:
                self._memberships.pop(channel, None)
                self._lost.discard(channel)
        try:
            await super().group_discard(group, channel)
        except _OUTAGE:
            pass  # the membership expires on its own (group_expiry)

    async def receive(self, channel):
        pause = 0.1
        while True:
            if channel in self._lost and await self._rejoin(channel):
                self._lost.discard(channel)
                return {"type": RECONNECTED}
            try:
                return await super().receive(channel)
            except _OUTAGE as exc:
                if channel in self._memberships:
                    self._lost.add(channel)
                logger.warning("the channel layer lost Redis (%r); retrying in %.1f s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    async def _rejoin(self, channel) -> bool:
        try:
            for group in list(self._memberships.get(channel, ())):
                await super().group_add(group, channel)
        except _OUTAGE:
            return False
        return True
