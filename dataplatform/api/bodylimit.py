"""Refuse a request body before the server reads it.

Django's ASGI handler reads the whole body into a temporary file before any middleware or view runs, so
``RequestBodyLimitMiddleware`` alone would let a client fill the disk with a body the route then refuses. This
ASGI wrapper decides from the headers, before a byte of the body is read:

- a declared ``Content-Length`` above what the route takes (the view's ``max_body_bytes``, or
  ``MAX_REQUEST_BODY_BYTES``) is answered 413 in the route family's envelope;
- a body larger than ``MAX_REQUEST_BODY_BYTES`` (only upload routes take one) sent without any credentials
  (no ``Authorization``, cookie or Linkis token header) is answered 401 before it is received;
- a chunked body (``Transfer-Encoding: chunked``, no ``Content-Length``) is received here in full, spooled to
  memory or a temporary file as Django spools bodies, under the same two rules (413 once it passes the route's
  limit, 401 once it passes ``MAX_REQUEST_BODY_BYTES`` without credentials), and handed on with the
  ``Content-Length`` it turned out to have. Django and DRF read a request's body only up to its declared length,
  so without this a chunked body reached every view as an empty one.

Small requests (the common case) pass through after one integer comparison.
"""

from __future__ import annotations

import io
import tempfile

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.urls import Resolver404, resolve

from dataplatform.api.families import family_for_path, rest_server_path
from dataplatform.api.problems import Problem

_CREDENTIAL_HEADERS = (b"authorization", b"cookie", b"token-code")


def view_body_limit(view_func) -> int:
    """The largest body a view accepts: its class's ``max_body_bytes`` (a number or a callable), or the default."""
    view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    limit = getattr(view_class, "max_body_bytes", None)
    if callable(limit):
        limit = limit()
    return limit or settings.MAX_REQUEST_BODY_BYTES


def route_body_limit(path: str) -> int:
    """The largest body the view serving ``path`` accepts."""
    try:
        return view_body_limit(resolve(rest_server_path(path) or path).func)
    except Resolver404:
        return settings.MAX_REQUEST_BODY_BYTES


def largest_body_limit() -> int:
    return max(settings.MAX_REQUEST_BODY_BYTES, settings.ARTIFACT_MAX_BYTES)


def _headers(scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers", [])}


class BodyLimitGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        raw_length = headers.get(b"content-length")
        if raw_length is not None:
            try:
                length = int(raw_length)
            except ValueError:
                length = 0  # the server itself refuses a malformed length
            if length > settings.MAX_REQUEST_BODY_BYTES:
                refusal = self._refusal(scope, headers, length)
                if refusal is not None:
                    return await self._send(send, *refusal)
        elif b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            return await self._chunked(scope, receive, send, headers)
        return await self.app(scope, receive, send)

    def _refusal(self, scope, headers: dict[bytes, bytes], length: int):
        family = family_for_path(scope["path"])
        if family is None:
            return None  # pages: Django's own DATA_UPLOAD_MAX_MEMORY_SIZE check applies
        limit = route_body_limit(scope["path"])
        if length > limit:
            problem = Problem("too_large", f"Request body of {length} bytes is larger than the {limit} bytes allowed.")
        elif not any(headers.get(name) for name in _CREDENTIAL_HEADERS):
            problem = Problem(
                "unauthenticated", "Authentication required before a large body is accepted.",
                extra={"credentials": False},
            )  # fmt: skip
        else:
            return None
        request = ASGIRequest(scope, io.BytesIO())
        response = family.render_problem(request, problem)
        return response.status_code, list(response.items()), response.content

    @staticmethod
    async def _send(send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        raw.append((b"connection", b"close"))  # the client may still be sending the body
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    async def _chunked(self, scope, receive, send, headers: dict[bytes, bytes]) -> None:
        """Receive a chunked body in full, then hand the request on with the ``Content-Length`` it has."""
        family = family_for_path(scope["path"])
        limit: int | None = None  # looked up once the body passes the default limit
        spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
        try:
            size, more = 0, True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client went away: nobody to answer
                chunk = message.get("body", b"")
                size += len(chunk)
                more = message.get("more_body", False)
                if size > settings.MAX_REQUEST_BODY_BYTES and (limit is None or size > limit):
                    if family is None:  # pages: only the largest limit of any route
                        limit = largest_body_limit()
                        if size > limit:
                            text = f"Request body is larger than the {limit} bytes allowed.".encode()
                            return await self._send(send, 413, [("Content-Type", "text/plain; charset=utf-8")], text)
                    else:
                        refusal = self._refusal(scope, headers, size)
                        if refusal is not None:
                            return await self._send(send, *refusal)
                        limit = route_body_limit(scope["path"])
                spool.write(chunk)
            spool.seek(0)
            kept = [(name, value) for name, value in scope.get("headers", []) if name.lower() != b"transfer-encoding"]
            scope = dict(scope, headers=[*kept, (b"content-length", str(size).encode("latin-1"))])
            return await self.app(scope, self._replay(spool, size, receive), send)
        finally:
            spool.close()

    @staticmethod
    def _replay(spool, size: int, receive, chunk_size: int = 64 * 1024):
        """A receive callable that hands over the spooled body, then passes on whatever the server sends next."""
        remaining = size
        sent = False

        async def replayed():
            nonlocal remaining, sent
            if sent:
                return await receive()  # after the body: the server's http.disconnect
            chunk = spool.read(min(chunk_size, remaining))
            remaining -= len(chunk)
            sent = remaining <= 0 or not chunk
            return {"type": "http.request", "body": chunk, "more_body": not sent}

        return replayed
