"""A corpus of bad input that once answered 500: each is now a 4xx in its family's envelope, or works.

JSON nested 1,000 deep (every route that reads a body, including the anonymous logins), numbers that overflow
(``1e999``, huge page numbers and dates), NUL bytes in paths, ids with digits ``int`` refuses, and chunked
request bodies, which must simply work (against a real server: Django's test client does not chunk). The
routes the OpenAPI schema describes are also fuzzed by ``tests/test_fuzz.py``; these are the inputs a
generator from the schema does not reach.
"""

import io
import json

import pytest
import requests
from django.contrib.auth import get_user_model
from django.db import DataError
from rest_framework.exceptions import ParseError

from artifacts.models import Namespace
from dataplatform.api.bodylimit import BodyLimitGuard
from dataplatform.api.families import family_for_path
from dataplatform.api.parsers import LenientJSONParser, StrictJSONParser
from dataplatform.api.problems import problem_from_exception
from dataplatform.api.request import MAX_JSON_DEPTH, JSONInputError, json_loads
from jobs.linkis.errors import refusal_code
from jobs.models import Job
from jobs.services import JobRequestError, JobSpec, job_submit
from tests.conftest import bearer
from tests.live import ADMIN, LiveServer

L = "/api/rest_j/v1"
SUBMIT = f"{L}/entrance/submit"


def nested(depth: int, *, kind: str = "array") -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def submit_body(**labels) -> dict:
    return {
        "executionContent": {"code": "print(1)", "runType": "python"},
        "labels": {"engineType": "python-python2", **labels},
    }


def assert_refused(response, path: str, status: int = 400) -> dict | str:
    """A 4xx (``status``) in the envelope of the family that owns ``path``; return the parsed body."""
    assert response.status_code == status, response.content
    family = family_for_path(path).name
    if family == "cdap":
        assert response["Content-Type"].startswith("text/plain")
        return response.content.decode()
    body = json.loads(response.content)
    if family == "linkis":
        assert set(body) == {"method", "status", "message", "data"} and body["status"] == 1, body
    elif family == "openpai":
        assert set(body) == {"message", "error"}, body
    else:
        assert set(body) == {"code", "message"}, body
        assert status == 404 or body["code"] == "InvalidParametersError", body
    return body


# --- JSON nested too deeply -----------------------------------------------------------------------------------
# (method, path, anonymous): every route that parses a body, by the shared parser or by itself.
DEEP_ROUTES = [
    ("post", "/api/auth", True),
    ("put", "/api/auth", False),
    ("post", "/api/v1/token", True),
    ("put", "/api/v1/user", False),
    ("put", "/api/v1/user/alice/virtualClusters", False),
    ("post", f"{L}/user/login", True),
    ("post", f"{L}/entrance/execute", False),
    ("post", SUBMIT, False),
    ("post", f"{L}/entrance/1/killJobs", False),
    ("put", "/api/job/j1", False),
    ("post", "/api/v1/jobs", False),
    ("put", "/api/v1/jobs/j1", False),
    ("put", "/api/v1/jobs/j1/executionType", True),  # upstream checks this body before the token
    ("put", "/api/v1/user/root/jobs/j1/executionType", False),
    ("put", "/v3/namespaces/deep", False),
    ("put", "/namespaces/deep", False),
]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize(("method", "path", "anonymous"), DEEP_ROUTES)
def test_json_nested_1000_deep_is_a_parse_error(client, admin_user, method, path, anonymous, kind):
    headers = {} if anonymous else bearer(admin_user)
    response = getattr(client, method)(path, nested(1000, kind=kind), content_type="application/json", **headers)
    assert_refused(response, path)
    assert not Job.objects.exists() and not Namespace.objects.filter(name="deep").exists()
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["root"]


@pytest.mark.django_db
def test_nesting_is_refused_past_the_limit_and_accepted_within(client, admin_user):
    body = submit_body()
    body["source"] = json.loads(nested(MAX_JSON_DEPTH + 1, kind="object"))
    response = client.post(SUBMIT, json.dumps(body), content_type="application/json", **bearer(admin_user))
    message = assert_refused(response, SUBMIT)["message"]
    assert f"nested deeper than {MAX_JSON_DEPTH} levels" in message
    assert not Job.objects.exists()

    body["source"] = json.loads(nested(MAX_JSON_DEPTH - 1, kind="object"))
    response = client.post(SUBMIT, json.dumps(body), content_type="application/json", **bearer(admin_user))
    assert response.status_code == 200, response.content
    assert Job.objects.get().source == body["source"]


def test_parsers_refuse_what_json_loads_would_pass_on():
    deep = nested(MAX_JSON_DEPTH + 1)
    for text in (deep, deep.encode(), '{"a": 1e999}', "[NaN]", "-Infinity"):
        with pytest.raises(JSONInputError):
            json_loads(text)
    assert json_loads(nested(MAX_JSON_DEPTH)) == json.loads(nested(MAX_JSON_DEPTH))
    assert json_loads('{"a": [1.5, "[[[[", {"b": null}]}') == {"a": [1.5, "[[[[", {"b": None}]}
    for parser in (LenientJSONParser(), StrictJSONParser()):
        with pytest.raises(ParseError, match="nested deeper than"):
            parser.parse(io.BytesIO(nested(1000).encode()), "application/json", {})


def test_errors_of_views_that_parse_their_own_way_are_client_errors():
    """The net under code that parses without the shared parsers: recursion and values the database refuses."""
    try:
        json.loads(nested(100_000))
    except RecursionError as exc:
        problem = problem_from_exception(exc)
    assert (problem.kind, problem.status, problem.message) == ("bad_request", 400, "Request data is nested too deeply.")
    problem = problem_from_exception(DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"))
    assert (problem.kind, problem.status) == ("invalid", 400) and "cannot contain NUL" in problem.message


# --- numbers that overflow --------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"jobRunningTimeout": 1e999}', "number 1e999 is out of range"),
        ('{"jobQueuingTimeout": -1e999}', "number -1e999 is out of range"),
        ('{"jobRunningTimeout": NaN}', "NaN is not a JSON number"),
        ('{"jobRunningTimeout": Infinity}', "Infinity is not a JSON number"),
    ],
)
def test_non_finite_numbers_are_a_parse_error(client, admin_user, raw, fragment):
    labels = '{"engineType": "python-python2", ' + raw[1:]
    text = '{"executionContent": {"code": "print(1)", "runType": "python"}, "labels": ' + labels + "}"
    response = client.post(SUBMIT, text, content_type="application/json", **bearer(admin_user))
    body = assert_refused(response, SUBMIT)
    assert body["message"].startswith("operation failed(操作失败)s！the reason(原因)：JSON parse error")
    assert fragment in body["message"]
    assert not Job.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("labels", "fragment"),
    [
        ({"jobRunningTimeout": 10**30}, "jobRunningTimeout must be at most 2147483647 seconds"),
        ({"jobQueuingTimeout": 10**30}, "jobQueuingTimeout must be at most 2147483647 seconds"),
        ({"jobRunningTimeout": "1e999"}, "jobRunningTimeout must be seconds"),
    ],
)
def test_huge_timeouts_are_label_errors(client, admin_user, labels, fragment):
    response = client.post(SUBMIT, submit_body(**labels), content_type="application/json", **bearer(admin_user))
    body = assert_refused(response, SUBMIT)
    assert body["data"]["errorMsg"]["errCode"] == 20009 and fragment in body["message"]
    assert not Job.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_infinite_timeout_from_any_entry_point_is_a_label_error(admin_user, value):
    """The WebSocket and other callers parse JSON their own way; the service refuses 1e999 (inf) itself."""
    spec = JobSpec(code="print(1)", engine_type="python-python2", run_type="python", timeout_seconds=value)
    with pytest.raises(JobRequestError) as caught:
        job_submit(owner=admin_user, spec=spec)
    assert refusal_code(caught.value.code) == 20009 and "jobRunningTimeout must be seconds" in caught.value.message
    assert not Job.objects.exists()


HISTORY = f"{L}/jobhistory/list"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("pageNow=21134460061&pageSize=44763102688", "pageNow must be an integer between"),
        ("pageNow=1&pageSize=44763102688", "pageSize must be an integer between"),
        ("pageNow=" + "9" * 5000, "pageNow must be an integer, got"),
        ("startDate=99999999999999999999", "startDate: Ensure this value is less than or equal to"),
        ("endDate=-99999999999999999999", "endDate: Ensure this value is greater than or equal to"),
        ("startDate=1e400", "startDate: Ensure this value is less than or equal to"),
        ("endDate=NaN", "endDate: Enter a number."),
        ("taskID=99999999999999999999", "taskID: Ensure this value is less than or equal to"),
        ("creator=a%00b", "creator: Null characters are not allowed."),
    ],
)
def test_job_history_parameters_out_of_range_are_parameter_errors(client, user, query, fragment):
    response = client.get(f"{HISTORY}?{query}", **bearer(user))
    assert fragment in assert_refused(response, HISTORY)["message"]


@pytest.mark.django_db
def test_job_history_accepts_the_extremes_of_the_range(client, user):
    for query in ("pageNow=2147483647&pageSize=2147483647", "startDate=-62135596800000&endDate=253402300799999"):
        response = client.get(f"{HISTORY}?{query}", **bearer(user))
        assert response.status_code == 200 and response.json()["data"] == {"tasks": [], "totalPage": 0}


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["fromLine=99999999999", "size=-99999999999"])
def test_log_cursor_out_of_range_is_a_parameter_error(client, user, query):
    data = client.post(SUBMIT, submit_body(), content_type="application/json", **bearer(user)).json()["data"]
    path = f"{L}/entrance/{data['taskID']}/log"
    body = assert_refused(client.get(f"{path}?{query}", **bearer(user)), path)
    assert "must be an integer between" in body["message"]


# --- NUL bytes and odd digits -----------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("route", ["openFile", "openLog", "getDirFileTrees"])
@pytest.mark.parametrize("path", ["%00", "file:///tmp/%00", "file://%2Fjobs%00/1/_0.dolphin"])
def test_nul_byte_in_a_file_path_is_a_permission_error(client, user, route, path):
    url = f"{L}/filesystem/{route}"
    body = assert_refused(client.get(f"{url}?path={path}", **bearer(user)), url)
    assert body["data"]["errorMsg"]["errCode"] == 80010 and "has no permission to access path" in body["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        f"{L}/entrance/operation/metrics/taskinfo?user=root&creator=a%00b&ecType=a%00b",
        f"{L}/entrance/a%00b/status",
        "/api/v1/jobs/a%00b",
        "/api/v1/user/a%00b/jobs",
        "/api/v1/jobs?username=a%00b",
        "/v3/namespaces/a%00b/artifacts",
        "/v3/namespaces/default/artifacts/a%00b/versions/1.0.0",
    ],
)
def test_nul_byte_in_a_path_or_query_is_never_a_server_error(client, admin_user, path):
    """SQLite stores and compares a NUL character; PostgreSQL refuses it (the second pass of ``make test``)."""
    response = client.get(path, **bearer(admin_user))
    if response.status_code != 200:
        body = assert_refused(response, path.split("?")[0], status=response.status_code)
        assert response.status_code in (400, 404), body


@pytest.mark.django_db
@pytest.mark.parametrize("ident", ["%C2%B9", "exec_id%C2%B9%C2%B2%C2%B3000IDE_alice_python_1", "١٢"])
@pytest.mark.parametrize("action", ["status", "progress", "log", "kill"])
def test_ids_with_digits_int_refuses_name_no_job(client, user, ident, action):
    """``"¹".isdigit()`` is true but ``int("¹")`` fails: such an id (found by the fuzz pass) names no job."""
    path = f"{L}/entrance/{ident}/{action}"
    response = client.get(f"{path}?taskID=500", **bearer(user))
    assert_refused(response, path)


# --- chunked request bodies ---------------------------------------------------------------------------------------
class App:
    """An ASGI application that records the request it was given."""

    def __init__(self):
        self.scope = None
        self.body = b""

    async def __call__(self, scope, receive, send):
        self.scope = scope
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def guarded(path: str, headers: dict[str, str], chunks: list[bytes], *, disconnect: bool = False):
    """Send ``chunks`` as a chunked body through the guard; return the app, the answer's status and body."""
    app, sent = App(), []
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    if disconnect:
        messages[-1] = {"type": "http.disconnect"}
    scope = {
        "type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1234),
        "http_version": "1.1",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {"Transfer-Encoding": "chunked", **headers}.items()],
    }  # fmt: skip

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await BodyLimitGuard(app)(scope, receive, send)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    return app, status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def test_chunked_body_reaches_the_app_whole_with_its_length(settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 16  # the spool moves to a temporary file past this
    chunks = [b'{"a": ', b"1" * 100_000, b"}"]
    app, status, _ = await guarded(SUBMIT, {}, chunks)
    assert status == 200 and app.body == b"".join(chunks)
    headers = dict(app.scope["headers"])
    assert headers[b"content-length"] == str(100_007).encode() and b"transfer-encoding" not in headers


async def test_empty_chunked_body_has_length_zero():
    app, status, _ = await guarded(SUBMIT, {}, [b""])
    assert status == 200 and app.body == b"" and dict(app.scope["headers"])[b"content-length"] == b"0"


@pytest.mark.django_db
async def test_chunked_body_past_the_route_limit_is_413_in_the_family_envelope(settings):
    settings.MAX_REQUEST_BODY_BYTES = 10
    app, status, body = await guarded(SUBMIT, {"Authorization": "Bearer x"}, [b"x" * 8, b"x" * 8])
    assert app.scope is None and status == 413
    assert json.loads(body)["message"] == "Request body of 16 bytes is larger than the 10 bytes allowed."


@pytest.mark.django_db
async def test_large_chunked_upload_without_credentials_is_401_before_the_rest_is_read(settings):
    settings.MAX_REQUEST_BODY_BYTES = 10
    app, status, body = await guarded("/v3/namespaces/default/artifacts/a", {}, [b"x" * 8, b"x" * 8, b"x" * 8])
    assert app.scope is None and status == 401 and json.loads(body)["auth_uri"][0].endswith("/token")


async def test_chunked_body_of_a_client_that_goes_away_reaches_nobody():
    app, status, _ = await guarded(SUBMIT, {}, [b"x", b"y"], disconnect=True)
    assert app.scope is None and status is None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("live-bad-input"), JOB_RUNNER_AUTOSTART="false") as live:
        yield live


def chunked(data: bytes, size: int = 7):
    """A generator body: requests sends it with Transfer-Encoding: chunked and no Content-Length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.live
def test_chunked_bodies_work_on_a_real_server(server):
    credentials = json.dumps({"username": ADMIN[0], "password": ADMIN[1]}).encode()
    response = requests.post(
        f"{server.url}/api/auth", data=chunked(credentials), headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 200 and response.json()["user"] == ADMIN[0]
    auth = {"Authorization": f"Bearer {response.json()['token']}"}

    submitted = requests.post(
        f"{server.url}{SUBMIT}", data=chunked(json.dumps(submit_body()).encode()), headers=auth, timeout=10
    )
    assert submitted.status_code == 200 and submitted.json()["status"] == 0, submitted.text
    task_id = submitted.json()["data"]["taskID"]
    task = requests.get(f"{server.url}{L}/jobhistory/{task_id}/get", headers=auth, timeout=10).json()["data"]["task"]
    assert task["executionCode"] == "print(1)" and "engineType:python-python2" in task["labels"]

    deep = requests.post(f"{server.url}{SUBMIT}", data=chunked(nested(1000).encode()), headers=auth, timeout=10)
    assert deep.status_code == 400 and deep.json()["status"] == 1 and "nested deeper" in deep.json()["message"]


def test_a_namespace_config_with_nan_is_refused_not_silently_dropped(client, admin_user):
    response = client.put("/v3/namespaces/nsnan", data='{"config": {"a": NaN}}', content_type="application/json",
                          **bearer(admin_user))  # fmt: skip
    assert response.status_code == 400 and not Namespace.objects.filter(name="nsnan").exists()


@pytest.mark.django_db(transaction=True)
async def test_a_websocket_frame_nested_1000_deep_gets_an_error_frame_and_keeps_the_socket(admin_user):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from dataplatform.asgi import application

    token = (await database_sync_to_async(bearer)(admin_user))["HTTP_AUTHORIZATION"].encode()
    communicator = WebsocketCommunicator(application, "/ws/api/entrance/connect", headers=[(b"authorization", token)])
    assert (await communicator.connect(timeout=30))[0]
    await communicator.send_to(text_data=nested(1000))
    frame = await communicator.receive_json_from(timeout=30)
    assert frame["status"] == 1 and "not a JSON object" in frame["message"]
    await communicator.send_json_to({"method": f"{L}/entrance/999/status", "websocketTag": "t"})
    assert (await communicator.receive_json_from(timeout=30))["status"] == 1  # still answering
    await communicator.disconnect()
