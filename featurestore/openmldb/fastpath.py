"""The hot OpenMLDB routes served without Django's request machinery.

``POST /dbs/{db}/deployments/{name}`` (request-mode features) and ``PUT /dbs/{db}/tables/{table}`` (inserts) are
the routes clients call per event. Through Django they pay the middleware stack, DRF's dispatch and a hop to
Django's one thread for sync views, several milliseconds in all under daphne. This ASGI wrapper answers them
directly: it reads the body on the event loop and runs the same functions the DRF views run
(``featurestore.openmldb.rows.call_deployment`` / ``put_rows``) on a small thread pool of its own, so answers are
byte-for-byte the same as through Django.

Only requests the fast path can authenticate by itself are taken: anonymous ones while
``OPENMLDB_ALLOW_ANONYMOUS`` is on, and ``Authorization: Bearer`` JWTs. Anything else (a session cookie, which
needs CSRF checks; a browser's request, which the cross-site rule checks; other methods and routes) goes to Django
unchanged.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import DatabaseError, connection

from dataplatform.api.exceptions import OpenMLDBError
from dataplatform.api.problems import internal_problem
from featurestore.errors import FeatureStoreError
from featurestore.jsonx import dumps
from featurestore.openmldb.errors import error_body

logger = logging.getLogger(__name__)

JSON_HEADERS = [(b"content-type", b"application/json")]


def _route(method: str, path: str) -> tuple[str, str, str] | None:
    """``(kind, db, name)`` for the two hot routes, with empty path segments dropped as brpc does."""
    parts = [part for part in path.split("/") if part]
    if len(parts) == 4 and parts[0] == "dbs":
        if method == "POST" and parts[2] == "deployments":
            return "deployment", parts[1], parts[3]
        if method == "PUT" and parts[2] == "tables":
            return "put", parts[1], parts[3]
    return None


def _bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header; "" for another scheme; None without the header."""
    if authorization is None:
        return None
    return authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""


def _takes(browser: bool, token: str | None) -> bool:
    """Whether the fast path may answer: a bearer token, or no credentials while anonymous calls are allowed. A
    cookie or a browser (CSRF and cross-site rules to check) or another scheme goes to Django."""
    if browser or token == "":
        return False
    return token is not None or settings.OPENMLDB_ALLOW_ANONYMOUS


def _credentials(scope) -> tuple[bool, str | None]:
    """(has a cookie or comes from a browser, the bearer token if any).

    A browser's request (it sends ``Origin`` or ``Sec-Fetch-Site``) goes to Django, where the cross-site rule of
    every API family applies (``dataplatform.api.crosssite``); per-event clients send neither.
    """
    browser, token = False, None
    for name, value in scope.get("headers", []):
        if name in (b"cookie", b"origin", b"sec-fetch-site"):
            browser = True
        elif name == b"authorization":
            token = _bearer(value.decode("latin-1"))
    return browser, token


# A token that checked out is trusted for a few seconds without looking its user up again: per-event clients
# send the same token thousands of times a minute. A deactivated user or changed password takes effect within
# TOKEN_CACHE_SECONDS on this path (at once everywhere else).
TOKEN_CACHE_SECONDS = 10.0
_trusted: dict[str, float] = {}


def _authenticated(token: str) -> bool:
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

    now = time.monotonic()
    if _trusted.get(token, 0.0) > now:
        return True
    backend = JWTAuthentication()
    try:
        validated = backend.get_validated_token(token.encode())
        user = backend.get_user(validated)
    except (InvalidToken, AuthenticationFailed):
        return False
    if not (user and user.is_active):
        return False
    if len(_trusted) > 10_000:
        _trusted.clear()
    expires_in = float(validated["exp"]) - time.time()
    _trusted[token] = now + max(0.0, min(TOKEN_CACHE_SECONDS, expires_in))
    return True


def _handle(kind: str, db: str, name: str, token: str | None, body: bytes) -> tuple[int, bytes] | None:
    """Run the route in a worker thread: ``(status, body)``, or None to let Django answer (credentials it must
    check itself). The status is 200, as upstream answers errors too, except 503 when the database is away."""
    from featurestore.openmldb.rows import call_deployment, put_rows

    try:
        if token is not None and not _authenticated(token):
            return None  # Django answers with the family's authentication error
        if kind == "deployment":
            return 200, call_deployment(db, name, body).content
        return 200, dumps(put_rows(db, name, body))
    except (OpenMLDBError, FeatureStoreError) as exc:
        return 200, dumps(error_body(exc))
    except DatabaseError as exc:
        # A broken connection must not stay broken for the next request on this thread.
        connection.close()
        problem = internal_problem(exc)
        return (503 if problem.kind == "unavailable" else 200), dumps({"code": -1, "msg": problem.message})
    except Exception as exc:  # the same envelope as the Django path gives an unexpected failure
        problem = internal_problem(exc)
        return 200, dumps({"code": -1, "msg": problem.message})


class OpenMLDBFastPath:
    def __init__(self, app, threads: int | None = None) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(
            max_workers=threads or settings.FEATURESTORE_FASTPATH_THREADS, thread_name_prefix="openmldb"
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not settings.FEATURESTORE_FASTPATH:
            return await self.app(scope, receive, send)
        route = _route(scope["method"], scope["path"])
        if route is None:
            return await self.app(scope, receive, send)
        cookie, token = _credentials(scope)
        if not _takes(cookie, token):
            return await self.app(scope, receive, send)
        body, more, messages = b"", True, []
        limit = settings.MAX_REQUEST_BODY_BYTES
        while more:
            message = await receive()
            messages.append(message)
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                break
        if len(body) > limit:
            return await self.app(scope, _replay(messages, receive), send)  # Django answers 413-style
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(self.executor, _handle, *route, token, body)
        if answer is None:
            return await self.app(scope, _replay(messages, receive), send)
        status, payload = answer
        await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": payload})


def _replay(messages: list, receive):
    """A receive callable that hands back the messages already read, then the rest."""
    pending = list(messages)

    async def replayed():
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class OpenMLDBWSGIFastPath:
    """The same fast path for the WSGI entry point (the production profile's HTTP processes, ``gunicorn``).

    A sync worker answers the hot routes on its own thread, without Django's middleware stack and DRF's dispatch;
    everything else, and every request the fast path cannot authenticate by itself, goes to Django unchanged.
    """

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        if not settings.FEATURESTORE_FASTPATH:
            return self.app(environ, start_response)
        route = _route(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
        if route is None:
            return self.app(environ, start_response)
        token = _bearer(environ.get("HTTP_AUTHORIZATION"))
        browser = any(key in environ for key in ("HTTP_COOKIE", "HTTP_ORIGIN", "HTTP_SEC_FETCH_SITE"))
        if not _takes(browser, token):
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self.app(environ, start_response)
        if length <= 0 or length > settings.MAX_REQUEST_BODY_BYTES:
            return self.app(environ, start_response)  # Django answers (an empty, chunked or oversized body)
        body = environ["wsgi.input"].read(length)
        answer = _handle(*route, token, body)
        if answer is None:
            environ["wsgi.input"] = io.BytesIO(body)
            return self.app(environ, start_response)
        status, payload = answer
        reason = "OK" if status == 200 else "Service Unavailable"
        start_response(
            f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        )
        return [payload]
