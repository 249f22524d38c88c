"""Job events on the channel layer: what changed, published after the change is committed.

Events are notifications for WebSocket consumers; the database is the truth. A log event carries the lines it
announces (read once by the publisher, not by each of hundreds of consumers) and the number of the first one,
so a consumer whose cursor matches sends them as they are and one that missed an event catches up from the
store. Publishing never raises: a lost push only delays a client until its next catch-up.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

EVENT_TYPE = "job.event"

_loop: asyncio.AbstractEventLoop | None = None
_loop_thread: int | None = None


def bind_event_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Remember the server's event loop; events from other threads are then sent through it.

    The in-memory channel layer's queues belong to the server's loop and are not thread-safe, and the Redis
    layer keeps its connections per loop, so runner threads hand their sends to that loop instead of spinning
    up a loop of their own per message.
    """
    global _loop, _loop_thread
    _loop, _loop_thread = loop, (threading.get_ident() if loop is not None else None)


def start_event_loop_thread() -> asyncio.AbstractEventLoop:
    """Run an event loop in a daemon thread and bind it, for a process with no server loop (a Celery worker).

    Every event of the process is then sent through that one loop, so the Redis channel layer keeps one
    connection pool instead of a loop and a connection per message.
    """
    global _loop, _loop_thread
    if _loop is not None and _loop.is_running():
        return _loop
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(started.set)
        loop.run_forever()

    thread = threading.Thread(target=run, name="job-events", daemon=True)
    thread.start()
    started.wait(5)
    _loop, _loop_thread = loop, thread.ident
    return loop


def job_group(job_id: int) -> str:
    return f"job.{job_id}"


def _log_failure(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("publishing a job event failed: %r", future.exception())


def publish_job_event(job_id: int, kind: str, payload: dict[str, Any] | None = None) -> None:
    """Send ``{"type": "job.event", "kind": ..., "job_id": ..., **payload}`` to the job's group."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": EVENT_TYPE, "kind": kind, "job_id": job_id, **(payload or {})}
    group = job_group(job_id)
    try:
        loop = _loop
        if loop is not None and loop.is_running():
            if threading.get_ident() == _loop_thread:
                loop.create_task(layer.group_send(group, message))
            else:
                asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).add_done_callback(_log_failure)
            return
        async_to_sync(layer.group_send)(group, message)
    except Exception as exc:  # a push is best effort; the store keeps the truth
        logger.warning("publishing a job event failed: %r", exc)
