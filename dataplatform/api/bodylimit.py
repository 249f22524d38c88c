"""Refuse a request body before the server reads it.

Django's ASGI handler reads the whole body into a temporary file before any middleware or view runs, so
``RequestBodyLimitMiddleware`` alone would let a client fill the disk with a body the route then refuses. This
ASGI wrapper decides from the headers, before a byte of the body is read:

- a declared ``Content-Length`` above what the route takes (the view's ``max_body_bytes``, or
  ``MAX_REQUEST_BODY_BYTES``) is answered 413 in the route family's envelope;
- a body larger than ``MAX_REQUEST_BODY_BYTES`` (only upload routes take one) sent without any credentials
  (no ``Authorization``, cookie or Linkis token header) is answered 401 before it is received;
- a body without ``Content-Length`` (chunked) is cut off once it passes the largest limit of any route.

Small requests (the common case) pass through after one integer comparison.
"""

from __future__ import annotations

import io
import logging

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.urls import Resolver404, resolve

from dataplatform.api.families import family_for_path
from dataplatform.api.problems import Problem

logger = logging.getLogger(__name__)

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
        return view_body_limit(resolve(path).func)
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
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            receive = self._capped(receive, largest_body_limit())
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

    @staticmethod
    def _capped(receive, cap: int):
        received = 0

        async def capped_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    logger.warning("chunked request body cut off past %d bytes", cap)
                    return {"type": "http.disconnect"}
            return message

        return capped_receive
