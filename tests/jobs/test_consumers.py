"""The entrance WebSocket with Channels' communicator: frames, pushes, reconnect catch-up, kill, errors."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from jobs.models import Job, JobStatus
from tests.conftest import bearer

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/api/entrance/connect"
PREFIX = "/api/rest_j/v1/entrance/"
WAIT = 60.0  # seconds of patience for a frame: generous on a loaded machine, never a claim about speed


async def connect(application, user=None, headers=None):
    headers = list(headers or [])
    if user is not None:
        token = await database_sync_to_async(bearer)(user)
        headers.append((b"authorization", token["HTTP_AUTHORIZATION"].encode()))
    communicator = WebsocketCommunicator(application, PATH, headers=headers)
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected
    return communicator


async def frames_until(communicator, predicate, wait=WAIT):
    """Collect frames until one satisfies ``predicate``; return all of them (``wait`` bounds patience, not speed)."""
    frames = []
    try:
        async with asyncio.timeout(wait):
            while True:
                frame = await communicator.receive_json_from(timeout=wait)
                frames.append(frame)
                if predicate(frame):
                    return frames
    except TimeoutError:
        raise AssertionError(f"no matching frame in {wait} s; got {[f['method'] for f in frames]}") from None


def execute_frame(code, tag="tab-1", app="python", run_type="python"):
    return {
        "method": PREFIX + "execute",
        "websocketTag": tag,
        "data": {"executeApplicationName": app, "executionCode": code, "runType": run_type, "params": {}},
    }


def is_final_status(frame):
    return frame["method"].endswith("/status") and frame["data"]["status"] in ("Succeed", "Failed", "Cancelled")


def pushed_lines(frames, exec_id):
    lines = []
    for frame in frames:
        if frame["method"] == f"{PREFIX}{exec_id}/log" and frame["data"]["log"][3]:
            lines.extend(frame["data"]["log"][3].split("\n"))
    return lines


async def stored_lines(job_id):
    from jobs.logstore import log_read

    rows = await database_sync_to_async(log_read)(job_id=job_id)
    return [text for _, _, text in rows]


async def test_unauthenticated_frames_get_minus_1(application, db):
    communicator = await connect(application)
    await communicator.send_json_to(execute_frame("print(1)", tag="t9"))
    frame = await communicator.receive_json_from(timeout=WAIT)
    assert frame["status"] == -1 and frame["data"] == {"websocketTag": "t9"}
    assert frame["message"].startswith("You are not logged in")
    await communicator.disconnect()


async def test_bad_frames_get_errors_and_keep_the_socket(application, user):
    communicator = await connect(application, user)
    await communicator.send_to(text_data="{}")
    assert (await communicator.receive_json_from(timeout=WAIT))["message"] == "Empty message!"
    await communicator.send_to(text_data="not json")
    assert (await communicator.receive_json_from(timeout=WAIT))["status"] == 1
    await communicator.send_json_to({"method": "/api/rest_j/v1/entrance/nope", "websocketTag": "x"})
    frame = await communicator.receive_json_from(timeout=WAIT)
    assert frame["status"] == 1 and frame["message"].startswith("Unresolvable webSocket request")
    await communicator.send_json_to(execute_frame("", tag="x"))
    frame = await communicator.receive_json_from(timeout=WAIT)
    assert frame["status"] == 1 and frame["data"]["errorMsg"]["errCode"] == 20007
    await communicator.disconnect()


def catch_ups() -> dict[str, int]:
    from jobs.linkis.consumers import websocket_report

    return websocket_report()["catch_ups"]


async def test_execute_over_socket_pushes_status_log_and_progress(application, user, runner, bound_loop):
    before = catch_ups()
    communicator = await connect(application, user)
    code = "import time\nfor i in range(5):\n    print(f'line {i}', flush=True)\n    time.sleep(0.05)\nprogress(0.5)"
    await communicator.send_json_to(execute_frame(code))
    ack = await communicator.receive_json_from(timeout=WAIT)
    assert ack["method"] == PREFIX + "execute" and ack["status"] == 0
    assert ack["message"] == "Request execution succeeded(请求执行成功)" and ack["data"]["websocketTag"] == "tab-1"
    exec_id, task_id = ack["data"]["execID"], ack["data"]["taskID"]
    assert exec_id.startswith("exec_id") and isinstance(task_id, int)
    frames = await frames_until(communicator, is_final_status)
    statuses = [f["data"]["status"] for f in frames if f["method"] == f"{PREFIX}{exec_id}/status"]
    order = ["Inited", "Scheduled", "Running", "Succeed"]
    ranks = [order.index(status) for status in statuses]
    assert ranks == sorted(ranks) and statuses[-1] == "Succeed"  # the current status first, then each change
    assert all(f["data"]["websocketTag"] == "tab-1" and f["data"]["taskID"] == task_id for f in frames)
    assert pushed_lines(frames, exec_id) == await stored_lines(task_id)  # every line once, in order
    assert not any(f["method"].endswith("/log") and not any(f["data"]["log"]) for f in frames)  # no empty frames

    def final_progress(frame):  # pushed as /progress, then /progressWithResource, once the job ends
        return frame["method"] == f"{PREFIX}{exec_id}/progressWithResource" and frame["data"]["progress"] == 1.0

    if not any(final_progress(f) for f in frames):
        frames += await frames_until(communicator, final_progress)
    methods = {f["method"] for f in frames}
    assert f"{PREFIX}{exec_id}/progress" in methods and f"{PREFIX}{exec_id}/progressWithResource" in methods
    final = [f for f in frames if f["method"].endswith("/progress")][-1]
    assert final["data"]["progress"] == 1.0
    assert catch_ups() == before  # every line came with its push: nothing to make up from the store
    await communicator.disconnect()


async def test_reconnect_catches_up_from_the_cursor(application, user, runner, bound_loop):
    first = await connect(application, user)
    code = "import time\nfor i in range(30):\n    print(f'n{i}', flush=True)\n    time.sleep(0.02)"
    await first.send_json_to(execute_frame(code, tag="a"))
    ack = await first.receive_json_from(timeout=WAIT)
    exec_id, task_id = ack["data"]["execID"], ack["data"]["taskID"]
    frames = await frames_until(first, lambda f: f["method"].endswith("/log") and "n3" in f["data"]["log"][3])
    received = pushed_lines(frames, exec_id)
    cursor = frames[-1]["data"]["fromLine"]
    await first.disconnect()  # the socket drops mid-job

    second = await connect(application, user)
    await second.send_json_to({"method": f"{PREFIX}{exec_id}/log", "websocketTag": "b", "data": {"fromLine": cursor}})
    await second.send_json_to({"method": f"{PREFIX}{exec_id}/status", "websocketTag": "b"})
    frames = await frames_until(second, is_final_status)
    received += pushed_lines(frames, exec_id)
    assert received == await stored_lines(task_id)
    assert any(line.endswith(" INFO n29") for line in received)
    await second.disconnect()


async def test_kill_over_socket(application, user, runner, bound_loop):
    communicator = await connect(application, user)
    await communicator.send_json_to(execute_frame("sleep 60", app="shell", run_type="sh"))
    ack = await communicator.receive_json_from(timeout=WAIT)
    exec_id = ack["data"]["execID"]
    await frames_until(communicator, lambda f: f["method"].endswith("/status") and f["data"]["status"] == "Running")
    await communicator.send_json_to({"method": f"{PREFIX}{exec_id}/kill", "websocketTag": "tab-1"})
    frames = await frames_until(communicator, is_final_status)
    kill_answer = next(f for f in frames if f["method"] == f"{PREFIX}{exec_id}/kill")
    assert kill_answer["status"] == 0 and kill_answer["message"] == "Successfully killed the job(成功kill了job)"
    assert frames[-1]["data"]["status"] == "Cancelled"
    job = await database_sync_to_async(Job.objects.get)(pk=ack["data"]["taskID"])
    assert job.status == JobStatus.CANCELLED
    await communicator.disconnect()


async def test_other_users_jobs_are_invisible(application, user, other_user, runner):
    from jobs.services import JobSpec, job_submit

    job = await database_sync_to_async(job_submit)(
        owner=user, spec=JobSpec(code="print(1)", engine_type="python", run_type="python")
    )
    communicator = await connect(application, other_user)
    for action in ("status", "log", "kill"):
        await communicator.send_json_to({"method": f"{PREFIX}{job.exec_id}/{action}", "websocketTag": "z"})
        frame = await communicator.receive_json_from(timeout=WAIT)
        assert frame["status"] == 1 and frame["message"].startswith("Can't find execID")
    await communicator.disconnect()


async def handshake(application, headers) -> bool:
    communicator = WebsocketCommunicator(application, PATH, headers=headers)
    connected, _ = await communicator.connect(timeout=WAIT)
    if connected:
        await communicator.disconnect()
    return connected


async def test_foreign_origin_is_refused_and_missing_origin_allowed(application, user):
    host = (b"host", b"localhost:8000")
    assert not await handshake(application, [host, (b"origin", b"https://evil.example")])
    assert await handshake(application, [host, (b"origin", b"http://localhost:8000")])
    assert await handshake(application, [host])  # a program: no Origin
    assert await handshake(application, [])


async def test_the_origin_must_match_scheme_host_and_port_as_for_http(application, settings):
    host = (b"host", b"127.0.0.1:8000")
    # The same host on another port is another site (HTTP's CSRF check says so too).
    assert not await handshake(application, [host, (b"origin", b"http://127.0.0.1:9999")])
    assert not await handshake(application, [host, (b"origin", b"https://127.0.0.1:8000")])
    assert not await handshake(application, [host, (b"origin", b"null")])
    assert not await handshake(application, [host, (b"sec-fetch-site", b"cross-site")])
    # DNS rebinding: a page of evil.example resolved to this server sends its own name as Host and Origin.
    assert not await handshake(application, [(b"host", b"evil.example"), (b"origin", b"http://evil.example")])
    settings.CSRF_TRUSTED_ORIGINS = ["http://127.0.0.1:9999"]
    assert await handshake(application, [host, (b"origin", b"http://127.0.0.1:9999")])


async def test_ticket_cookie_authenticates_the_socket(application, user):
    from dataplatform.accounts.services import linkis_ticket_create

    ticket = await database_sync_to_async(linkis_ticket_create)(user=user)
    communicator = await connect(
        application, headers=[(b"cookie", f"linkis_user_session_ticket_id_v1={ticket}".encode())]
    )
    await communicator.send_json_to({"method": f"{PREFIX}999/status", "websocketTag": "q"})
    frame = await communicator.receive_json_from(timeout=WAIT)
    assert frame["status"] == 1  # authenticated (not -1), the job just does not exist
    await communicator.disconnect()


def test_frames_are_utf8_json():
    from jobs.linkis.consumers import EntranceConsumer

    text = asyncio.run(EntranceConsumer.encode_json({"message": "成功"}))
    assert json.loads(text) == {"message": "成功"} and "成功" in text


async def test_pushes_the_channel_layer_lost_are_made_up_from_the_store(application, user, bound_loop, monkeypatch):
    """Lines and a final status stored without any push (as if the channel layer dropped them) reach the socket
    within the resync interval."""
    from jobs.linkis import consumers
    from jobs.logstore import LogEntry, log_append
    from jobs.services import JobSpec, job_submit, job_transition

    monkeypatch.setattr(consumers, "RESYNC_SECONDS", 0.2)
    before = catch_ups()
    job = await database_sync_to_async(job_submit)(
        owner=user, spec=JobSpec(code="print(1)", engine_type="python-python2", run_type="python")
    )
    communicator = await connect(application, user)
    await communicator.send_json_to({"method": f"{PREFIX}{job.exec_id}/log", "data": {"fromLine": 1}})
    first = await frames_until(communicator, lambda f: f["method"].endswith("/log"))
    cursor = first[-1]["data"]["fromLine"]

    def store_silently():
        monkeypatch.setattr("jobs.services.publish_job_event", lambda *args, **kwargs: None)
        monkeypatch.setattr("jobs.logstore.publish_job_event", lambda *args, **kwargs: None, raising=False)
        log_append(job_id=job.pk, entries=[LogEntry("INFO", "lost push 1"), LogEntry("INFO", "lost push 2")])
        assert job_transition(job_id=job.pk, to=JobStatus.SCHEDULED)
        assert job_transition(job_id=job.pk, to=JobStatus.RUNNING)
        assert job_transition(job_id=job.pk, to=JobStatus.SUCCEED)

    await database_sync_to_async(store_silently)()
    frames = await frames_until(communicator, is_final_status)
    lines = pushed_lines(frames, job.exec_id)
    assert [line.split(" INFO ")[-1] for line in lines if "lost push" in line] == ["lost push 1", "lost push 2"]
    assert frames[-1]["data"]["status"] == "Succeed"
    log_frames = [f for f in frames if f["method"].endswith("/log")]
    assert log_frames[0]["data"]["fromLine"] > cursor
    counted = catch_ups()
    assert counted["resync"] > before["resync"] and counted["gap"] == before["gap"]  # the resync's catch-up counts
    await communicator.disconnect()


async def follow_log(application, user, job):
    """A socket following ``job``'s log from its first line; returns it and the frames of that first answer."""
    communicator = await connect(application, user)
    await communicator.send_json_to({"method": f"{PREFIX}{job.exec_id}/log", "data": {"fromLine": 1}})
    return communicator, await frames_until(communicator, lambda f: f["method"].endswith("/log"))


def append_log(job, *texts, publish=True) -> None:
    from jobs.logstore import LogEntry, log_append

    log_append(job_id=job.pk, entries=[LogEntry("INFO", text) for text in texts], publish=publish)


async def test_a_push_after_a_lost_one_sends_the_lost_lines_too_and_counts_a_gap(application, user, bound_loop):
    from jobs.services import JobSpec, job_submit

    job = await database_sync_to_async(job_submit)(
        owner=user, spec=JobSpec(code="print(1)", engine_type="python-python2", run_type="python")
    )
    communicator, _ = await follow_log(application, user, job)
    before = catch_ups()
    await database_sync_to_async(append_log)(job, "lost 1", "lost 2", publish=False)  # as if the push was lost
    await database_sync_to_async(append_log)(job, "pushed 3")
    frames = await frames_until(communicator, lambda f: f["method"].endswith("/log") and "pushed 3" in str(f))
    texts = [line.split(" INFO ")[-1] for line in pushed_lines(frames, job.exec_id)]
    assert texts == ["lost 1", "lost 2", "pushed 3"]  # in order, each once
    assert catch_ups() == {**before, "gap": before["gap"] + 1}
    await communicator.disconnect()


async def test_after_a_channel_layer_outage_each_socket_catches_up_and_it_is_counted(application, user, bound_loop):
    from channels.layers import get_channel_layer

    from dataplatform.channels import RECONNECTED
    from jobs.events import job_group
    from jobs.services import JobSpec, job_submit

    job = await database_sync_to_async(job_submit)(
        owner=user, spec=JobSpec(code="print(1)", engine_type="python-python2", run_type="python")
    )
    communicator, _ = await follow_log(application, user, job)
    before = catch_ups()
    await database_sync_to_async(append_log)(job, "during the outage", publish=False)
    await get_channel_layer().group_send(job_group(job.pk), {"type": RECONNECTED})  # what the layer says after one
    frames = await frames_until(communicator, lambda f: f["method"].endswith("/log") and "outage" in str(f))
    assert [line.split(" INFO ")[-1] for line in pushed_lines(frames, job.exec_id)] == ["during the outage"]
    assert catch_ups() == {**before, "reconnected": before["reconnected"] + 1}
    await communicator.disconnect()


def test_health_reports_the_sockets_and_catch_ups_of_the_process(client):
    report = client.get("/healthz").json()["websocket"]
    assert report == {"sockets": report["sockets"], "catch_ups": catch_ups()}
    assert set(report["catch_ups"]) == {"gap", "resync", "reconnected"}


async def test_a_catch_up_racing_a_push_leaves_out_the_lines_the_push_sent(monkeypatch):
    from jobs.linkis import consumers

    consumer = consumers.EntranceConsumer()
    sent = []

    async def send(text_data=None, bytes_data=None, close=False):
        sent.append(json.loads(text_data))

    consumer.send = send
    subscription = consumers.Subscription(job_id=1, exec_id="e", tag=None, cursor=1)
    stored = [("INFO", f"line {n}") for n in range(1, 6)]

    def read_log(job_id, cursor):
        subscription.cursor = 4  # a push sent lines 1-3 while the store was read
        return stored[cursor - 1 :], 6

    monkeypatch.setattr(consumers, "_read_log", read_log)
    await consumer._catch_up(subscription)
    assert [frame["data"]["log"][3] for frame in sent] == ["line 4\nline 5"]
    assert subscription.cursor == 6


# --- a socket never outlives its credentials ---------------------------------------------------------------------
async def assert_refused_and_closed(communicator, frame: dict) -> None:
    await communicator.send_json_to(frame)
    answer = await communicator.receive_json_from(timeout=WAIT)
    assert answer["status"] == -1 and "no longer valid" in answer["message"]
    closed = await communicator.receive_output(timeout=WAIT)
    assert closed == {"type": "websocket.close", "code": 4401, "reason": "credentials no longer valid"}


def _change_password(user) -> None:
    user.set_password("a-new-password")
    user.save()


def _deactivate(user) -> None:
    user.is_active = False
    user.save()


@pytest.mark.parametrize("revoke", [_change_password, _deactivate, lambda user: user.delete()],
                         ids=["password-changed", "deactivated", "deleted"])  # fmt: skip
async def test_a_jwt_socket_stops_acting_once_its_user_changes(application, user, revoke):
    communicator = await connect(application, user)
    await communicator.send_json_to({"method": f"{PREFIX}999/status", "websocketTag": "q"})
    assert (await communicator.receive_json_from(timeout=WAIT))["status"] == 1  # it acts while the credentials hold
    await database_sync_to_async(revoke)(user)
    await assert_refused_and_closed(communicator, execute_frame("print('must not run')"))
    assert not await database_sync_to_async(Job.objects.exists)()


async def test_a_ticket_socket_stops_at_logout_and_a_token_socket_when_its_token_is_disabled(application, user):
    from dataplatform.accounts.models import ApiToken
    from dataplatform.accounts.services import api_token_create, linkis_ticket_create, linkis_ticket_delete

    ticket = await database_sync_to_async(linkis_ticket_create)(user=user)
    communicator = await connect(
        application, headers=[(b"cookie", f"linkis_user_session_ticket_id_v1={ticket}".encode())]
    )
    await database_sync_to_async(linkis_ticket_delete)(ticket=ticket)
    await assert_refused_and_closed(communicator, execute_frame("print(1)"))

    token, code = await database_sync_to_async(api_token_create)(name="ci", created_by=None, legal_users="alice")
    communicator = await connect(application, headers=[(b"token-code", code.encode()), (b"token-user", b"alice")])
    await communicator.send_json_to({"method": f"{PREFIX}999/status", "websocketTag": "q"})
    assert (await communicator.receive_json_from(timeout=WAIT))["status"] == 1
    await database_sync_to_async(ApiToken.objects.filter(pk=token.pk).update)(is_active=False)
    await assert_refused_and_closed(communicator, {"method": f"{PREFIX}999/kill", "websocketTag": "k"})


async def test_a_session_socket_stops_when_the_session_ends(application, user, settings):
    from importlib import import_module

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    def open_session() -> str:
        store = import_module(settings.SESSION_ENGINE).SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        return store.session_key

    key = await database_sync_to_async(open_session)()
    cookie = (b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode())
    communicator = await connect(application, headers=[cookie])
    await communicator.send_json_to({"method": f"{PREFIX}999/status", "websocketTag": "q"})
    assert (await communicator.receive_json_from(timeout=WAIT))["status"] == 1
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    await database_sync_to_async(store.delete)()  # logged out in another tab
    await assert_refused_and_closed(communicator, execute_frame("print(1)"))


async def test_pushes_to_a_client_that_has_gone_are_dropped_quietly():
    """A page that leaves closes its socket while a push may be on its way: no exception, no ERROR in the log."""
    from uvicorn.protocols.utils import ClientDisconnected
    from websockets.exceptions import ConnectionClosedOK
    from websockets.frames import Close

    from jobs.linkis.consumers import EntranceConsumer

    sent = []

    async def gone(message):
        sent.append(message)
        raise ClientDisconnected from ConnectionClosedOK(Close(1001, ""), Close(1001, ""), True)

    consumer = EntranceConsumer()
    consumer.base_send = gone
    await consumer.send_json({"method": "x"})  # the first send finds the client gone: no exception
    await consumer.send_json({"method": "y"})  # later pushes are not even tried
    assert consumer.closed and len(sent) == 1
