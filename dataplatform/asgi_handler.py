"""Django's HTTP under ASGI with a WSGI server's request path: one hop to a pooled thread per request.

Django's own ``ASGIHandler`` loads the middleware in async mode. Every sync middleware, every sync ``process_view``
and the sync view itself is then a hop between the event loop and a thread, each request runs in a
``ThreadSensitiveContext`` that starts a thread of its own, and the ``request_started``/``request_finished``
receivers hop once more. The platform's views and middleware are all sync, so a status read paid four to six thread
hops and a new database connection (with its PRAGMAs) per request: 4-8 ms where Django itself needs about 1 ms.

``PooledASGIHandler`` loads the middleware in sync mode, as a WSGI server does, and runs each request's whole sync
part (``request_started``, the request, middleware, view and rendering) in one call on a bounded pool of long-lived
threads (``ASGI_REQUEST_THREADS``). A thread keeps its database connection across requests as a WSGI worker does
(``CONN_MAX_AGE``; ``request_started`` drops one that went bad or grew old). Reading the body and sending the response
stay on the event loop, streaming responses included. ``response.close()`` (``request_finished``) runs on the thread
that ran the request, before the content is sent (it is complete), or on the pool once a streaming one was sent.

**One lane first.** Python runs one thread at a time, and every thread that lets go of the GIL (each SQLite call,
each socket write) has to win it back: with eight requests running on eight threads, those hand-overs cost about as
much as the requests' own work (issue 19: a status read took 495 µs of the server's CPU, 215 µs of it in Django).
So a request is queued on the lane first (``ASGI_LANE_THREADS``, one thread), whose thread takes the next request as
soon as it is done with one. A request the lane has not started within ``ASGI_LANE_WAIT_MS`` (the lane is busy with
a slow one, or the queue is long) is taken off its queue and runs on the pool, so a slow request holds the others up
by at most that wait; once the lane has started a request, it finishes there. ``ASGI_LANE_THREADS=0`` sends every
request to the pool.

What is not kept: Django's cancelling of a view when the client disconnects (a sync view cannot be interrupted
anyway; its response is then sent to nobody).
"""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

from dataplatform.routes import CachedResolveMixin


class PooledASGIHandler(CachedResolveMixin, ASGIHandler):
    def __init__(self) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.executor = ThreadPoolExecutor(max_workers=settings.ASGI_REQUEST_THREADS, thread_name_prefix="request")
        lane = settings.ASGI_LANE_THREADS
        self.lane = ThreadPoolExecutor(max_workers=lane, thread_name_prefix="request-lane") if lane else None
        self.lane_wait = settings.ASGI_LANE_WAIT_MS / 1000
        self.lane_overflows = 0  # requests that waited their longest for the lane and ran on the pool

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def _in_pool(self, function, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, contextvars.copy_context().run, function, *args)

    async def _in_lane(self, function, *args):
        """Run on the lane, or on the pool if the lane has not started it within ``lane_wait`` (see the module's
        docstring). Requests queue in the lane's executor itself, so that its thread takes the next one as soon as
        it is done with one."""
        if self.lane is None:
            return await self._in_pool(function, *args)
        loop = asyncio.get_running_loop()
        queued = self.lane.submit(contextvars.copy_context().run, function, *args)
        moved = False

        def overflow() -> None:
            nonlocal moved
            moved = queued.cancel()  # only while it waits: once the lane has started it, it finishes there

        timer = loop.call_later(self.lane_wait, overflow)
        try:
            return await asyncio.wrap_future(queued)
        except asyncio.CancelledError:
            if not moved:
                raise  # the request itself was cancelled
        finally:
            timer.cancel()
        self.lane_overflows += 1
        return await self._in_pool(function, *args)

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await self._in_lane(self._respond, scope, body_file)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away while the response was being sent
            finally:
                if response.streaming:  # its content was produced while it was sent: closed after that
                    await self._in_pool(response.close)
        finally:
            body_file.close()

    def _respond(self, scope, body_file):
        """The request's sync part, on a pool thread: what a WSGI server's worker does for one request."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            return error_response
        response = self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if not response.streaming:
            # Its content is complete: close it here (request_finished), on the thread that ran the request, so that
            # the request's database connection is given back (or kept, per CONN_MAX_AGE) as under WSGI.
            response.close()
        return response


def get_pooled_asgi_application() -> PooledASGIHandler:
    import django

    django.setup(set_prefix=False)
    return PooledASGIHandler()
