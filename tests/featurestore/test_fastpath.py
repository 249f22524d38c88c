"""The ASGI fast path for deployment requests and inserts answers exactly as the Django views do."""

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async

from featurestore import sql as sqlexec
from featurestore.openmldb.fastpath import OpenMLDBFastPath, _route
from featurestore.selectors import table_get
from featurestore.storage import select_all
from tests.conftest import bearer

pytestmark = pytest.mark.django_db(transaction=True)


async def call(app, method, path, body: bytes, headers=()):
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"content-type", b"application/json"), *headers], "http_version": "1.1",
             "scheme": "http", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000)}  # fmt: skip
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(timeout=30)
    chunks = []
    while True:
        message = await communicator.receive_output(timeout=30)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return start["status"], b"".join(chunks)


class Marker:
    """An inner app that records that the fast path let a request through."""

    def __init__(self):
        self.calls = 0

    async def __call__(self, scope, receive, send):
        self.calls += 1
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"django"})


@pytest.fixture
def deployed(transactional_db):
    sqlexec.execute(db="fs", sql="CREATE DATABASE fs")
    sqlexec.execute(db="fs", sql="CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))")
    sqlexec.execute(db="fs", sql="INSERT INTO t1 VALUES ('a', 1, 1000)")
    sqlexec.execute(db="fs", sql="DEPLOY d SELECT k, sum(v) OVER w AS s FROM t1 WINDOW w AS "
                                 "(PARTITION BY k ORDER BY ts ROWS BETWEEN 5 PRECEDING AND CURRENT ROW)")  # fmt: skip


def test_route_matching_drops_empty_segments():
    assert _route("POST", "/dbs//fs/deployments/d/") == ("deployment", "fs", "d")
    assert _route("PUT", "/dbs/fs/tables/t1") == ("put", "fs", "t1")
    assert _route("GET", "/dbs/fs/tables/t1") is None and _route("POST", "/dbs/fs") is None


@pytest.mark.parametrize(
    "body",
    [
        {"input": [["a", 2, 2000]], "need_schema": True},
        {"input": [{"k": "a", "v": 2, "ts": 2000}]},
        {"input": [["a", "x", 2000]]},
        {"input": []},
    ],
)
async def test_deployment_answers_like_the_django_view(deployed, client, body):
    from dataplatform.asgi import application

    raw = json.dumps(body).encode()
    status, fast = await call(application, "POST", "/dbs/fs/deployments/d", raw)
    slow = await database_sync_to_async(
        lambda: client.post("/dbs/fs/deployments/d", raw, content_type="application/json").content
    )()
    assert status == 200 and fast == slow


async def test_put_answers_like_the_django_view_and_commits(deployed, client):
    from dataplatform.asgi import application

    status, answer = await call(application, "PUT", "/dbs/fs/tables/t1", b'{"value": [["b", 5, 3000]]}')
    assert status == 200 and json.loads(answer) == {"code": 0, "msg": "ok"}
    rows = await database_sync_to_async(lambda: select_all(table_get(db="fs", name="t1")))()
    assert [row[1:] for row in rows] == [("a", 1, 1000), ("b", 5, 3000)]
    status, answer = await call(application, "PUT", "/dbs/fs/tables/t1", b'{"value": [["b", "x", 3000]]}')
    assert json.loads(answer) == {"code": -1, "msg": "conversion failed on col v[2] with value x"}


async def test_cookies_bad_tokens_and_other_routes_go_to_django(deployed, user):
    inner = Marker()
    app = OpenMLDBFastPath(inner)
    body = b'{"input": [["a", 2, 2000]]}'
    assert (await call(app, "POST", "/dbs/fs/deployments/d", body, [(b"cookie", b"sessionid=x")]))[0] == 299
    assert (await call(app, "POST", "/dbs/fs/deployments/d", body, [(b"authorization", b"Bearer nope")]))[0] == 299
    assert (await call(app, "GET", "/dbs/fs/deployments/d", b""))[0] == 299
    token = (await database_sync_to_async(bearer)(user))["HTTP_AUTHORIZATION"].encode()
    status, answer = await call(app, "POST", "/dbs/fs/deployments/d", body, [(b"authorization", token)])
    assert status == 200 and json.loads(answer)["data"]["data"] == [["a", 3]]
    assert inner.calls == 3


async def test_browsers_go_to_django_where_the_cross_site_rule_applies(deployed):
    inner = Marker()
    app = OpenMLDBFastPath(inner)
    body = b'{"value": [["b", 5, 3000]]}'
    for header in ((b"origin", b"http://evil.example"), (b"sec-fetch-site", b"cross-site"),
                   (b"origin", b"http://127.0.0.1:8000")):  # fmt: skip
        assert (await call(app, "PUT", "/dbs/fs/tables/t1", body, [header]))[0] == 299
    assert inner.calls == 3
    from dataplatform.asgi import application

    status, answer = await call(application, "PUT", "/dbs/fs/tables/t1", b'{"value": [["b", 5, 3000]]}',
                                [(b"origin", b"http://evil.example")])  # fmt: skip
    assert status == 200 and json.loads(answer)["code"] == -1 and "CSRF Failed" in json.loads(answer)["msg"]
    rows = await database_sync_to_async(lambda: select_all(table_get(db="fs", name="t1")))()
    assert [row[1:] for row in rows] == [("a", 1, 1000)]  # refused by Django: nothing inserted


async def test_anonymous_requests_go_to_django_when_not_allowed(deployed, settings):
    settings.OPENMLDB_ALLOW_ANONYMOUS = False
    inner = Marker()
    assert (await call(OpenMLDBFastPath(inner), "POST", "/dbs/fs/deployments/d", b"{}"))[0] == 299


async def test_oversized_bodies_go_to_django(deployed, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1024
    inner = Marker()
    assert (await call(OpenMLDBFastPath(inner), "PUT", "/dbs/fs/tables/t1", b" " * 2048))[0] == 299


# --- the WSGI fast path (the production profile's gunicorn processes) ------------------------------------------
def wsgi_call(app, method: str, path: str, body: bytes, **headers):
    import io

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_LENGTH": str(len(body)),
               "CONTENT_TYPE": "application/json", "wsgi.input": io.BytesIO(body), **headers}  # fmt: skip
    started = {}

    def start_response(status, response_headers):
        started["status"], started["headers"] = status, dict(response_headers)

    payload = b"".join(app(environ, start_response))
    return started["status"], started["headers"], payload, environ


def test_wsgi_fast_path_answers_as_django_and_lets_the_rest_through(deployed, user):
    from django.core.wsgi import get_wsgi_application

    from featurestore.openmldb.fastpath import OpenMLDBWSGIFastPath

    inner_calls = []
    django_app = get_wsgi_application()

    def inner(environ, start_response):
        inner_calls.append(environ["PATH_INFO"])
        return django_app(environ, start_response)

    app = OpenMLDBWSGIFastPath(inner)
    body = json.dumps({"input": [["a", 2, 2000]]}).encode()
    status, headers, payload, _ = wsgi_call(app, "POST", "/dbs/fs/deployments/d", body)
    assert status == "200 OK" and headers["Content-Type"] == "application/json"
    assert json.loads(payload) == {"code": 0, "msg": "ok", "data": {"data": [["a", 3]]}}
    assert inner_calls == []  # answered without Django
    token = bearer(user)["HTTP_AUTHORIZATION"]
    status, _, payload, _ = wsgi_call(app, "POST", "/dbs/fs/deployments/d", body, HTTP_AUTHORIZATION=token)
    assert status == "200 OK" and json.loads(payload)["data"]["data"] == [["a", 3]] and inner_calls == []
    # A cookie (CSRF to check), another scheme, or another route: Django answers, with the body intact.
    status, _, payload, _ = wsgi_call(app, "POST", "/dbs/fs/deployments/d", body, HTTP_AUTHORIZATION="Basic eA==")
    assert inner_calls == ["/dbs/fs/deployments/d"]
    status, _, payload, _ = wsgi_call(
        app, "POST", "/dbs/fs", json.dumps({"sql": "SELECT 1", "mode": "online"}).encode()
    )
    assert inner_calls[-1] == "/dbs/fs"
    status, _, payload, _ = wsgi_call(app, "PUT", "/dbs/fs/tables/t1", json.dumps({"value": [["b", 5, 3000]]}).encode())
    assert json.loads(payload) == {"code": 0, "msg": "ok"} and len(inner_calls) == 2
    assert [tuple(row[1:]) for row in select_all(table_get(db="fs", name="t1"))] == [("a", 1, 1000), ("b", 5, 3000)]
    # A browser's write goes to Django, where another site's page is refused.
    status, _, payload, _ = wsgi_call(app, "PUT", "/dbs/fs/tables/t1", json.dumps({"value": [["c", 1, 4000]]}).encode(),
                                      HTTP_ORIGIN="http://evil.example", SERVER_NAME="127.0.0.1", SERVER_PORT="8000",
                                      HTTP_HOST="127.0.0.1:8000")  # fmt: skip
    assert len(inner_calls) == 3 and "CSRF Failed" in json.loads(payload)["msg"]
    assert len(select_all(table_get(db="fs", name="t1"))) == 2


def test_wsgi_fast_path_keeps_its_database_connection(deployed, statements_sent):
    """A worker answers every deployment request on the connection it took first, in one statement each: the
    connection is not given back to the pool and taken again per request (PostgreSQL's pool counts requests)."""
    from django.db import connection

    from featurestore.openmldb.fastpath import OpenMLDBWSGIFastPath

    app = OpenMLDBWSGIFastPath(lambda environ, start_response: pytest.fail("went to Django"))
    body = json.dumps({"input": [["a", 2, 2000]]}).encode()
    wsgi_call(app, "POST", "/dbs/fs/deployments/d", body)
    first = connection.connection
    pool = connection.pool if connection.vendor == "postgresql" else None
    taken = pool.get_stats().get("requests_num", 0) if pool else 0
    statements_sent.clear()
    for _ in range(3):
        status, _, payload, _ = wsgi_call(app, "POST", "/dbs/fs/deployments/d", body)
        assert json.loads(payload)["data"]["data"] == [["a", 3]]
        assert connection.connection is first
    assert len(statements_sent) == 3
    if pool:
        assert pool.get_stats().get("requests_num", 0) == taken


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/dbs/fs/tables/t1", {"value": [["b", 5, -(2**63)]]}),
        ("PUT", "/dbs/fs/tables/t1", {"value": [["b", 5, 3000], ["b", 6, 2**62]]}),
        ("PUT", "/dbs/fs/tables/t2", {"value": [["b", 2**63 - 1]]}),
        ("POST", "/dbs/fs/deployments/d", {"input": [["a", 2, 2**63 - 1]]}),
    ],
)
async def test_ts_out_of_the_engines_range_is_refused_as_through_django(deployed, client, method, path, body):
    """The fast path converts values with the views' functions: the same ts range, the same message, no row."""
    from dataplatform.asgi import application

    await database_sync_to_async(sqlexec.execute)(db="fs", sql="CREATE TABLE t2 (k string, seq bigint, "
                                                               "INDEX(KEY=k, TS=seq))")  # fmt: skip
    raw = json.dumps(body).encode()
    status, fast = await call(application, method, path, raw)
    answer = json.loads(fast)
    assert status == 200 and answer["code"] == -1
    assert answer["msg"].endswith("--ts out of range [-4611686018427387903, 4611686018427387903]")
    send = {"PUT": client.put, "POST": client.post}[method]
    slow = await database_sync_to_async(lambda: send(path, raw, content_type="application/json").content)()
    assert fast == slow
    counts = await database_sync_to_async(
        lambda: [len(select_all(table_get(db="fs", name=name))) for name in ("t1", "t2")]
    )()
    assert counts == [1, 0]  # the fixture's row only
