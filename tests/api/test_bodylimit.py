"""The ASGI body guard refuses bodies from the headers alone, before the server reads a byte of them."""

import pytest

from dataplatform.api.bodylimit import BodyLimitGuard, route_body_limit
from tests.asgi import http_scope

GIB = 1024**3


class Inner:
    """The wrapped application: records whether it ran and what body it received."""

    def __init__(self):
        self.called = False
        self.body = b""
        self.disconnected = False

    async def __call__(self, scope, receive, send):
        self.called = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                return
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(path: str, headers: dict[str, str], chunks=(b"",)):
    inner, sent = Inner(), []
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)
    ]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await BodyLimitGuard(inner)(http_scope(path, headers), receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return inner, status, body


def test_route_limits(settings):
    settings.ARTIFACT_MAX_BYTES = 5 * GIB
    assert route_body_limit("/v3/namespaces/default/artifacts/myapp") == 5 * GIB
    assert route_body_limit("/api/rest_j/v1/entrance/submit") == settings.MAX_REQUEST_BODY_BYTES
    assert route_body_limit("/no/such/route") == settings.MAX_REQUEST_BODY_BYTES


@pytest.mark.django_db
async def test_oversized_declared_body_is_413_in_the_family_envelope_before_reading(settings):
    settings.ARTIFACT_MAX_BYTES = GIB
    inner, status, body = await call(
        "/v3/namespaces/default/artifacts/myapp", {"Content-Length": str(2 * GIB), "Authorization": "Bearer x"}
    )
    assert not inner.called
    assert status == 413 and body.decode() == f"Request body of {2 * GIB} bytes is larger than the {GIB} bytes allowed."

    inner, status, body = await call("/api/rest_j/v1/entrance/submit", {"Content-Length": str(50 * 1024 * 1024)})
    assert not inner.called and status == 413  # Linkis: HTTP 413 with its envelope
    assert b'"status":1' in body.replace(b" ", b"")


@pytest.mark.django_db
async def test_large_body_without_credentials_is_401_before_reading(settings):
    inner, status, body = await call("/v3/namespaces/default/artifacts/myapp", {"Content-Length": str(200 * 2**20)})
    assert not inner.called and status == 401


async def test_small_and_credentialed_bodies_pass_through(settings):
    inner, status, body = await call("/v3/namespaces/default/artifacts/myapp", {"Content-Length": "2"}, (b"ok",))
    assert inner.called and inner.body == b"ok" and status == 200
    headers = {"Content-Length": str(20 * 2**20), "Authorization": "Bearer x"}
    inner, status, _ = await call("/v3/namespaces/default/artifacts/myapp", headers, (b"a", b"b"))
    assert inner.called and status == 200


@pytest.mark.django_db
async def test_chunked_body_past_the_route_limit_is_refused_before_the_app_runs(settings):
    settings.MAX_REQUEST_BODY_BYTES = 10
    settings.ARTIFACT_MAX_BYTES = 20
    headers = {"Transfer-Encoding": "chunked", "Authorization": "Bearer x"}
    inner, status, body = await call("/v3/namespaces/default/artifacts/a", headers, (b"x" * 8,) * 5)
    assert not inner.called and status == 413
    assert body.decode() == "Request body of 24 bytes is larger than the 20 bytes allowed."
    inner, status, _ = await call("/v3/namespaces/default/artifacts/a", headers, (b"x" * 8,) * 2)
    assert inner.called and status == 200 and inner.body == b"x" * 16
