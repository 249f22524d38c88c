"""Job events on the channel layer: what changed, published after the change is committed.

Events are notifications for WebSocket consumers; the database is the truth. A log event carries the lines it
announces (read once by the publisher, not by each of hundreds of consumers) and the number of the first one,
so a consumer whose cursor matches sends them as they are and one that missed an event catches up from the
store. Publishing never raises: a lost push only delays a client until its next catch-up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections import deque
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

EVENT_TYPE = "job.event"

_loop: asyncio.AbstractEventLoop | None = None


def bind_event_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Remember the server's event loop; events from other threads are then sent through it.

    The in-memory channel layer's queues belong to the server's loop and are not thread-safe, and the Redis
    layer keeps its connections per loop, so runner threads hand their sends to that loop instead of spinning
    up a loop of their own per message.
    """
    global _loop
    _loop = loop


def sending_loop(layer) -> asyncio.AbstractEventLoop | None:
    """The running loop this process's sends to ``layer`` go through (None: ``async_to_sync``): the server's, or
    for a layer that keeps connections (Redis) in a process without one (gunicorn's sync workers, where asgiref would
    make a loop, a thread hop and a new Redis connection per send) the process's background loop."""
    loop = _loop
    if (loop is None or not loop.is_running()) and not isinstance(layer, InMemoryChannelLayer):
        loop = _background_loop()
    return loop if loop is not None and loop.is_running() else None


def start_event_loop_thread() -> asyncio.AbstractEventLoop:
    """Run an event loop in a daemon thread and bind it, for a process with no server loop (a Celery worker).

    Every event of the process is then sent through that one loop, so the Redis channel layer keeps one
    connection pool instead of a loop and a connection per message.
    """
    global _loop
    if _loop is not None and _loop.is_running():
        return _loop
    _loop = _background_loop()
    return _loop


# (pid, loop): the process's own sending loop; a forked child (a gunicorn worker) starts its own.
_background: tuple[int, asyncio.AbstractEventLoop] | None = None
_background_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    """The process's sending loop, running in a daemon thread (started on first use)."""
    global _background
    with _background_lock:
        if _background is not None and _background[0] == os.getpid():
            return _background[1]
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            loop.run_forever()

        thread = threading.Thread(target=run, name="job-events", daemon=True)
        thread.start()
        started.wait(5)
        _background = (os.getpid(), loop)
        return loop


def job_group(job_id: int) -> str:
    return f"job.{job_id}"


class _Outbox:
    """The events of one loop, sent one after another in the order they were published.

    A task per event (what ``run_coroutine_threadsafe`` makes) lets two sends overlap, and the Redis layer's
    ``group_send`` takes several round trips: a job's ``Running`` could reach a socket before its ``Scheduled``.
    Publishing hands the event to the loop with ``call_soon_threadsafe`` (first in, first run, from any thread) and
    one task per loop sends the queue in that order.
    """

    def __init__(self) -> None:
        self.pending: deque[tuple[Any, str, dict]] = deque()
        self.sender: asyncio.Task | None = None

    def put(self, layer, group: str, message: dict) -> None:  # on the loop's thread
        self.pending.append((layer, group, message))
        if self.sender is None or self.sender.done():
            self.sender = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while self.pending:
            layer, group, message = self.pending.popleft()
            try:
                await layer.group_send(group, message)
            except Exception as exc:  # a push is best effort; the store keeps the truth
                logger.warning("publishing a job event failed: %r", exc)


_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Outbox] = weakref.WeakKeyDictionary()


def _put(loop: asyncio.AbstractEventLoop, layer, group: str, message: dict) -> None:
    outbox = _outboxes.get(loop)
    if outbox is None:
        outbox = _outboxes[loop] = _Outbox()
    outbox.put(layer, group, message)


def publish_job_event(job_id: int, kind: str, payload: dict[str, Any] | None = None) -> None:
    """Send ``{"type": "job.event", "kind": ..., "job_id": ..., **payload}`` to the job's group.

    The events of a process reach the channel layer in the order they were published (``_Outbox``)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": EVENT_TYPE, "kind": kind, "job_id": job_id, **(payload or {})}
    group = job_group(job_id)
    try:
        loop = sending_loop(layer)
        if loop is not None:
            if asyncio._get_running_loop() is loop:  # on the loop's own thread
                _put(loop, layer, group, message)
            else:
                loop.call_soon_threadsafe(_put, loop, layer, group, message)
            return
        async_to_sync(layer.group_send)(group, message)
    except Exception as exc:  # a push is best effort; the store keeps the truth
        logger.warning("publishing a job event failed: %r", exc)
