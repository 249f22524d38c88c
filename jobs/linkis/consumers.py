"""Linkis's entrance WebSocket, ``/ws/api/entrance/connect`` (contracts/linkis.md §4).

A client sends frames ``{"method": "/api/rest_j/v1/entrance/execute", "websocketTag": ..., "data": {...}}``
(also ``.../{execID}/status|log|progress|kill|pause``) and gets envelopes back with the full ``method``. Every
job the connection submitted or asked about is subscribed: status changes, new log lines and progress are
pushed (progress under both ``/progress`` and ``/progressWithResource``), as Linkis frames echoing the
client's ``websocketTag``.

Pushes and HTTP polling read the same store. A log event carries the committed lines and the number of the
first; the consumer keeps a cursor per job and sends exactly the lines after it, reading the store to fill a
gap (a dropped channel message, a reconnect asking ``log`` with ``fromLine``) and once more when the job ends,
so a client never misses or repeats a line.

A push that never arrives is made up from the store, and counted (``catch_ups``, reported by ``/healthz`` of the
process): by the next push of the job, whose lines start past the cursor, or the final status, when the log holds
lines no push brought (``gap``); by the resync below (``resync``); or by the channel layer's ``layer.reconnected``
after a Redis outage (``reconnected``). The first two should stay at zero: they mean the channel layer lost pushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import weakref
from collections import Counter
from dataclasses import dataclass
from json.encoder import encode_basestring

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from websockets.exceptions import ConnectionClosed

from dataplatform.api.exceptions import ConflictError, ForbiddenError
from dataplatform.api.families import LINKIS_NOT_LOGGED_IN, linkis_error_info, linkis_error_message
from dataplatform.api.request import json_loads
from dataplatform.api.websocket import credential_user
from jobs import services
from jobs.events import EVENT_TYPE, job_group
from jobs.linkis.errors import refusal_code
from jobs.linkis.parsers import spec_from_execute, spec_from_submit
from jobs.linkis.responses import log_page, progress_data
from jobs.logstore import split_levels
from jobs.models import TERMINAL, Job
from jobs.selectors import job_get_for_user

logger = logging.getLogger(__name__)

#: The close code (in the application range) of a socket whose credentials stopped holding.
CLOSE_CREDENTIALS_GONE = 4401
CREDENTIALS_GONE = (
    "Your login is no longer valid (the user was removed or deactivated, the password changed, or the token or "
    "session ended); log in again(登录已失效，请重新登录)."
)

PREFIX = "/api/rest_j/v1/entrance/"
#: Every this many seconds a connection checks its unfinished jobs against the store, so that a push the channel
#: layer lost (a full channel, a broker hiccup) delays a line or a final status by at most this long; 0: never.
RESYNC_SECONDS = settings.WEBSOCKET_RESYNC_SECONDS

#: Catch-ups of this process that found a socket behind the store, by what found it (see the module docstring).
catch_ups: Counter[str] = Counter()


def websocket_report() -> dict:
    """This process's open entrance sockets and catch-ups, for ``/healthz``."""
    return {"sockets": len(_live_consumers), "catch_ups": {kind: catch_ups[kind] for kind in CATCH_UP_KINDS}}


@dataclass
class Subscription:
    job_id: int
    exec_id: str
    tag: str | None
    cursor: int  # number of the next log line to send
    final: bool = False  # a final status was sent
    heard: float = 0.0  # when the last push for the job arrived (loop time)


async def dispatch_in_turn(sources, dispatch) -> None:
    """Hand the messages of ``sources`` (awaitable callables) to ``dispatch`` one at a time, in order of arrival.

    What Channels' ``await_many_dispatch`` does, without its new task and ``asyncio.wait`` per message: a third of a
    push's cost to a socket, paid once per socket when one event goes to hundreds. A task per source reads on into a
    queue of one message; each source is read no further ahead than one message, as there.
    """
    inbox: asyncio.Queue = asyncio.Queue(maxsize=1)

    async def read(source) -> None:
        while True:
            try:
                message = await source()
            except Exception as exc:  # raised where Channels raises it: in the dispatching loop
                await inbox.put(_Failure(exc))
                return
            await inbox.put(message)

    readers = [asyncio.ensure_future(read(source)) for source in sources]
    try:
        while True:
            message = await inbox.get()
            if isinstance(message, _Failure):
                raise message.error
            await dispatch(message)
    finally:
        for reader in readers:
            reader.cancel()
        for reader in readers:
            with contextlib.suppress(asyncio.CancelledError):
                await reader


@dataclass
class _Failure:
    error: Exception


def envelope(method: str | None, status: int, message: str, data: dict) -> dict:
    return {"method": method, "status": status, "message": message, "data": data}


class EntranceConsumer(AsyncJsonWebsocketConsumer):
    closed = False
    _send_frame = None  # ``send`` past Channels' session middleware (``__call__``)

    async def __call__(self, scope, receive, send) -> None:
        """Channels' ``AsyncConsumer.__call__``, with ``dispatch_in_turn`` in place of its ``await_many_dispatch``."""
        # Channels' session middleware wraps ``send`` to save the session with an HTTP response; a frame it only
        # passes on, after reading the (lazy) session twice, a tenth of a push's cost. Frames go past it.
        self._send_frame = getattr(getattr(send, "__self__", None), "real_send", send)
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        if self.channel_layer is None:
            await super().__call__(scope, receive, send)
            return
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        self.base_send = send
        with contextlib.suppress(StopConsumer):
            await dispatch_in_turn((receive, self.channel_receive), self.dispatch)

    async def connect(self) -> None:
        """Accept the socket; authentication is checked per frame, as Linkis's gateway does."""
        self.subscriptions: dict[int, Subscription] = {}
        await self.accept()
        _live_consumers.add(self)
        _ensure_resync_task()

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        """Send, unless the client has gone: a page that leaves closes its socket while pushes (a log line, a
        resync) may still be on their way to it; those are dropped quietly, not logged as errors."""
        if self.closed:
            return
        try:
            if text_data is not None and not close:
                await (self._send_frame or self.base_send)({"type": "websocket.send", "text": text_data})
            else:
                await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except (OSError, ConnectionClosed):  # uvicorn's ClientDisconnected is an OSError
            self.closed = True

    async def send_json(self, content, close=False) -> None:
        # AsyncJsonWebsocketConsumer.send_json calls its parent's send, past the one above.
        await self.send(text_data=await self.encode_json(content), close=close)

    async def disconnect(self, code) -> None:
        """Leave every job group this connection joined."""
        self.closed = True
        _live_consumers.discard(self)
        for job_id in list(self.subscriptions):
            await self.channel_layer.group_discard(job_group(job_id), self.channel_name)

    async def dispatch(self, message) -> None:
        # Channels closes stale database connections (a thread hop) before every handler; pushes touch no
        # database on their fast path, so they skip it (that hop is most of the fan-out cost to 200 clients).
        if message.get("type") == EVENT_TYPE:
            await self.job_event(message)
            return
        await super().dispatch(message)

    @classmethod
    async def encode_json(cls, content) -> str:
        return _encode(content)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """Parse a frame; an empty or malformed one gets Linkis's error envelope instead of a closed socket."""
        if not text_data and not bytes_data:
            await self.send_json(envelope(None, 1, "Empty message!", {}))
            return
        try:
            frame = json_loads(text_data if text_data is not None else bytes_data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            await self.send_json(envelope(None, 1, "The WebSocket frame is not a JSON object.", {}))
            return
        if not isinstance(frame, dict) or not frame:
            await self.send_json(envelope(None, 1, "Empty message!", {}))
            return
        await self.receive_json(frame)

    async def receive_json(self, content, **kwargs) -> None:
        method = str(content.get("method") or "")
        data = content.get("data") if isinstance(content.get("data"), dict) else {}
        tag = content.get("websocketTag") or data.get("websocketTag")
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.send_json(envelope(method or None, -1, LINKIS_NOT_LOGGED_IN, {"websocketTag": tag}))
            return
        # Whatever opened the socket must still hold: the user, its password, its token or session.
        user = await database_sync_to_async(credential_user)(self.scope)
        if user is None:
            await self.send_json(envelope(method or None, -1, CREDENTIALS_GONE, {"websocketTag": tag}))
            await self.close(code=CLOSE_CREDENTIALS_GONE, reason="credentials no longer valid")
            return
        self.scope["user"] = user
        path = method[len(PREFIX) :] if method.startswith(PREFIX) else method.removeprefix("/api/entrance/")
        try:
            if path in ("execute", "submit"):
                await self._execute(user, method, path, data, tag)
                return
            ident, _, action = path.rpartition("/")
            if ident and action in ("status", "log", "progress", "progressWithResource", "kill", "pause"):
                await self._job_action(user, method, ident, action, data, tag)
                return
        except Exception:  # one bad frame must not end the connection
            logger.exception("WebSocket frame %s failed", method)
            await self.send_json(
                envelope(method, 1, "operation failed(操作失败)s！the reason(原因)：internal error", {})
            )
            return
        await self.send_json(
            envelope(method or None, 1, f"Unresolvable webSocket request(无法解析的webSocket请求): {method}",
                     {"websocketTag": tag})
        )  # fmt: skip

    # --- requests from the client -----------------------------------------------------------------------------
    async def _execute(self, user, method: str, path: str, data: dict, tag) -> None:
        try:
            spec = spec_from_execute(data) if path == "execute" else spec_from_submit(data)
            job = await database_sync_to_async(services.job_submit)(owner=user, spec=spec)
        except services.JobRequestError as exc:
            await self.send_json(
                envelope(method, 1, linkis_error_message(refusal_code(exc.code), exc.message),
                         {"errorMsg": linkis_error_info(refusal_code(exc.code), exc.message), "websocketTag": tag})
            )  # fmt: skip
            return
        except ForbiddenError as exc:
            status = 3 if isinstance(exc, services.EngineForbiddenError) else 1
            await self.send_json(envelope(method, status, exc.message, {"websocketTag": tag}))
            return
        await self.send_json(
            envelope(method, 0, "Request execution succeeded(请求执行成功)",
                     {"execID": job.exec_id, "taskID": job.pk, "websocketTag": tag})
        )  # fmt: skip
        subscription = await self._subscribe(job, job.exec_id, tag, from_line=1)
        await self._send_status(subscription, job.status)
        if job.status in TERMINAL:
            await self._forget(subscription)

    async def _job_action(self, user, method: str, ident: str, action: str, data: dict, tag) -> None:
        job = await database_sync_to_async(job_get_for_user)(user=user, ident=ident, task_id=data.get("taskID"))
        if job is None:
            await self.send_json(
                envelope(
                    method, 1, f"Can't find execID(不能找到execID): {ident}", {"execID": ident, "websocketTag": tag}
                )
            )
            return
        if action == "kill":
            try:
                await database_sync_to_async(services.job_kill)(job=job, actor=user)
            except (ForbiddenError, ConflictError) as exc:
                await self.send_json(envelope(method, 1, exc.message, {"execID": ident, "websocketTag": tag}))
                return
            await self.send_json(
                envelope(
                    method, 0, "Successfully killed the job(成功kill了job)", {"execID": ident, "websocketTag": tag}
                )
            )
            await self._subscribe(job, ident, tag, from_line=None)
            return
        if action == "pause":
            await self.send_json(
                envelope(method, 0, "success to pause job (成功pause了job)", {"execID": ident, "websocketTag": tag})
            )
            return
        if action == "log":
            try:
                from_line = int(data.get("fromLine") or 1)
            except (TypeError, ValueError):
                from_line = 1
            await self._subscribe(job, ident, tag, from_line=from_line)
            return
        subscription = await self._subscribe(job, ident, tag, from_line=None)
        if action == "status":
            if job.status in TERMINAL:
                await self._catch_up(subscription)  # the last lines, should their push still be on its way
            await self._send_status(subscription, job.status, method=method)
            if job.status in TERMINAL:
                await self._forget(subscription)
        else:
            await self._send_progress(subscription, job)

    async def _subscribe(self, job: Job, exec_id: str, tag, *, from_line: int | None) -> Subscription:
        """Join the job's group, then (when asked) send the log from ``from_line`` and set the cursor after it.

        Joining first means no committed line can fall between the read and the first push; a line both read
        here and pushed later is recognised by its number and not sent twice.
        """
        subscription = self.subscriptions.get(job.pk)
        if subscription is None:
            await self.channel_layer.group_add(job_group(job.pk), self.channel_name)
            subscription = Subscription(job.pk, exec_id, tag, cursor=1)
            self.subscriptions[job.pk] = subscription
            if from_line is None:
                from_line = 1
        else:
            subscription.tag = tag or subscription.tag
        if from_line is not None:
            subscription.cursor = max(from_line, 1)
            await self._catch_up(subscription)
        return subscription

    # --- pushes -----------------------------------------------------------------------------------------------
    async def job_event(self, event: dict) -> None:
        """Forward one job event (``status``, ``log`` or ``progress``) to the client as Linkis frames."""
        subscription = self.subscriptions.get(event.get("job_id"))
        if subscription is None:
            return
        subscription.heard = asyncio.get_running_loop().time()
        kind = event.get("kind")
        if kind == "log":
            first, lines = event["from_line"], event["lines"]
            if first > subscription.cursor:
                # A missed event: the store has those lines and these.
                if await self._catch_up(subscription):
                    catch_ups["gap"] += 1
                return
            start = subscription.cursor - first
            if start < len(lines):
                await self._send_log(subscription, lines, first + len(lines), start)
        elif kind == "status":
            status = event.get("status")
            if status in TERMINAL and await self._catch_up(subscription):
                catch_ups["gap"] += 1  # the job's last lines were never pushed
            await self._send_status(subscription, status)
            if status in TERMINAL:
                await self._send_progress_values(subscription, 1.0, [])
                await self._forget(subscription)
        elif kind == "progress":
            await self._send_progress_values(subscription, event.get("progress", 0.0), event.get("progress_info", []))

    async def resync(self, subscription: Subscription, status: str | None, lines: int, reason: str = "resync") -> None:
        """Catch a subscription up with the store: one that heard no push for a while (``_resync_all``), or every
        subscription after a channel layer outage; count it under ``reason`` when it was behind."""
        with contextlib.suppress(Exception):  # the socket closed meanwhile, the database away: next round
            behind = lines >= subscription.cursor and await self._catch_up(subscription) > 0
            if status in TERMINAL and not subscription.final:
                behind = True
                await self._send_status(subscription, status)
                await self._send_progress_values(subscription, 1.0, [])
            if behind:
                catch_ups[reason] += 1
            if status in TERMINAL:
                await self._forget(subscription)

    async def layer_reconnected(self, message: dict) -> None:
        """The channel layer came back from an outage (``dataplatform.channels``): pushes made meanwhile were lost,
        so every subscription catches up from the store, and a job that ended meanwhile says so."""
        subscriptions = list(self.subscriptions.values())
        states = await database_sync_to_async(_job_states)([s.job_id for s in subscriptions])
        for subscription in subscriptions:
            await self.resync(subscription, *states.get(subscription.job_id, (None, 0)), reason="reconnected")

    async def _forget(self, subscription: Subscription) -> None:
        """Leave the group of a job whose final status and whole log were sent, and drop its subscription.

        A final status is final, so nothing more is pushed for the job; without this a socket that runs job after
        job would keep a subscription here and a group membership in the channel layer for every one of them, for
        as long as it stays open. Asking about the job again subscribes anew.
        """
        if self.subscriptions.get(subscription.job_id) is subscription:
            del self.subscriptions[subscription.job_id]
            await self.channel_layer.group_discard(job_group(subscription.job_id), self.channel_name)

    async def _catch_up(self, subscription: Subscription) -> int:
        """Send every stored line from the cursor on (in pages), as one or more log frames; return how many.

        A push may be handled while the store is read (the resync loop runs beside the message handlers): the
        lines it already sent are left out, since the cursor only moves forward."""
        sent = 0
        while True:
            start = subscription.cursor
            lines, next_line = await database_sync_to_async(_read_log)(subscription.job_id, start)
            page_full = len(lines) >= CATCH_UP_PAGE
            lines = lines[max(subscription.cursor - start, 0) :]
            if lines and next_line > subscription.cursor:
                await self._send_log(subscription, lines, next_line)
                sent += len(lines)
            if not page_full:
                return sent

    async def _send_log(self, subscription: Subscription, lines, next_line: int, start: int = 0) -> None:
        """Send ``lines[start:]`` as one log frame; the cursor moves to ``next_line``."""
        subscription.cursor = next_line
        await self.send(text_data=_log_frame(subscription, lines, start, next_line))

    async def _send_status(self, subscription: Subscription, status, method: str | None = None) -> None:
        if status in TERMINAL:
            subscription.final = True
        await self.send_json(
            envelope(
                method or f"{PREFIX}{subscription.exec_id}/status", 0, "return status information(返回状态信息)",
                {"execID": subscription.exec_id, "status": status, "websocketTag": subscription.tag,
                 "taskID": subscription.job_id},
            )
        )  # fmt: skip

    async def _send_progress(self, subscription: Subscription, job: Job) -> None:
        data = progress_data(job, subscription.exec_id)
        await self._send_progress_values(subscription, data["progress"], data["progressInfo"])

    async def _send_progress_values(self, subscription: Subscription, progress, info) -> None:
        for name in ("progress", "progressWithResource"):
            data = {"progress": progress, "progressInfo": info or [], "execID": subscription.exec_id,
                    "websocketTag": subscription.tag, "taskID": subscription.job_id}  # fmt: skip
            if name == "progressWithResource":
                data["yarnResource"] = None
            await self.send_json(
                envelope(f"{PREFIX}{subscription.exec_id}/{name}", 0, "return progress information(返回进度信息)", data)
            )


CATCH_UP_PAGE = 2000
CATCH_UP_KINDS = ("gap", "resync", "reconnected")


# --- log frames -------------------------------------------------------------------------------------------------
# A push reaches every socket of a process that follows the job, each of which sends the same lines in a frame that
# differs only by the client's tag. The last frame's text is kept split around the tag, so the lines are grouped and
# encoded once per push and process, not once per socket.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_TAG = "\0websocketTag\0"
_ENCODED_TAG = _encode(_TAG)
_rendered: tuple | None = None  # (lines, start, exec_id, job_id, next_line, text before the tag, text after it)


def _encode_tag(tag) -> str:
    return encode_basestring(tag) if isinstance(tag, str) else _encode(tag)


def _log_frame(subscription: Subscription, lines, start: int, next_line: int) -> str:
    """The text of the log frame of ``lines[start:]`` (``(level, text)`` pairs) for ``subscription``."""
    global _rendered
    key = (start, subscription.exec_id, subscription.job_id, next_line)
    rendered = _rendered
    if rendered is None or rendered[0] is not lines or rendered[1:5] != key:
        exec_id = subscription.exec_id
        content = envelope(
            f"{PREFIX}{exec_id}/log", 0, "return log information(返回日志信息)",
            {"execID": exec_id, "log": split_levels((level, text) for level, text in lines[start:]),
             "fromLine": next_line, "websocketTag": _TAG, "taskID": subscription.job_id},
        )  # fmt: skip
        before, _, after = _encode(content).rpartition(_ENCODED_TAG)  # the tag comes after the lines
        rendered = _rendered = (lines, *key, before, after)
    return rendered[5] + _encode_tag(subscription.tag) + rendered[6]


# --- resync -----------------------------------------------------------------------------------------------------
# One task per process checks every connection's quiet, unfinished subscriptions against the store in one query
# every RESYNC_SECONDS; only the connections that fell behind read the store themselves. (A query per connection
# every few seconds would queue hundreds of sockets on the database pool and hold their pushes up.)
_live_consumers: weakref.WeakSet[EntranceConsumer] = weakref.WeakSet()
_resync_task: asyncio.Task | None = None


def _ensure_resync_task() -> None:
    global _resync_task
    loop = asyncio.get_running_loop()
    if RESYNC_SECONDS > 0 and (_resync_task is None or _resync_task.done() or _resync_task.get_loop() is not loop):
        _resync_task = loop.create_task(_resync_all())


async def _resync_all() -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(RESYNC_SECONDS)
        quiet_since = loop.time() - RESYNC_SECONDS
        pending = [
            (consumer, subscription)
            for consumer in list(_live_consumers)
            for subscription in list(consumer.subscriptions.values())
            if not subscription.final and subscription.heard <= quiet_since
        ]
        if not pending:
            continue
        try:
            states = await database_sync_to_async(_job_states)(sorted({sub.job_id for _, sub in pending}))
        except Exception as exc:  # the database away: next round
            logger.warning("websocket resync failed: %r", exc)
            continue
        behind = 0
        for consumer, subscription in pending:
            status, lines = states.get(subscription.job_id, (None, 0))
            if lines >= subscription.cursor or (status in TERMINAL and not subscription.final):
                behind += 1
                loop.create_task(consumer.resync(subscription, status, lines))
        if behind:
            logger.warning(
                "websocket resync: %d subscriptions heard no push for %s s and are behind the store; catch-ups of "
                "this process so far: %s", behind, RESYNC_SECONDS, dict(catch_ups),
            )  # fmt: skip


def _job_states(job_ids: list[int]) -> dict[int, tuple[str, int]]:
    """``{job_id: (status, stored log lines)}`` in one query."""
    rows = Job.objects.filter(pk__in=job_ids).values_list("id", "status", "log_lines")
    return {job_id: (status, lines) for job_id, status, lines in rows}


def _read_log(job_id: int, cursor: int):
    job = Job(pk=job_id)
    return log_page(job, cursor, CATCH_UP_PAGE)
