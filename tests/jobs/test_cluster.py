"""The production profile across processes: two web processes, two Celery workers, PostgreSQL and Redis.

Each test is bounded in time; the failure cases (a worker killed with SIGKILL, a web process restarted, Redis
restarted, PostgreSQL unreachable) are checked from the outside, through HTTP and WebSocket clients.
"""

from __future__ import annotations

import json
import os
import pwd
import time

import pytest
import requests
from websockets.sync.client import connect as ws_connect

from tests.cluster import Cluster, service_problem
from tests.conftest import eventually, need_service

pytestmark = [pytest.mark.cluster, pytest.mark.live]

E = "/api/rest_j/v1/entrance"
FINAL = ("Succeed", "Failed", "Cancelled", "Timeout")
PATIENCE = 180.0  # seconds a test waits for a job or a socket: generous on a loaded machine, never a speed claim


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    problem = service_problem()
    if problem:
        need_service(problem)
    running = Cluster(tmp_path_factory.mktemp("cluster")).start()
    try:
        running.start_web("a")
        running.start_web("b")
        running.start_worker("w1")
        running.start_worker("w2")
        yield running
    finally:
        running.stop()


_tokens: dict[tuple[int, str], str] = {}


def headers(cluster, web: str = "a") -> dict[str, str]:
    """A bearer token for ``web``, obtained once (clients keep their token; a login needs no service outage)."""
    key = (id(cluster), web)
    if key not in _tokens:
        _tokens[key] = cluster.token(web)
    return {"Authorization": f"Bearer {_tokens[key]}"}


def submit(cluster, web: str, code: str, run_type: str = "python") -> tuple[str, int]:
    body = {
        "executionContent": {"code": code, "runType": run_type},
        "labels": {"engineType": "python-python2" if run_type == "python" else "shell-1", "userCreator": "test-IDE"},
    }
    answer = requests.post(f"{cluster.url(web)}{E}/submit", json=body, headers=headers(cluster, web), timeout=30)
    data = answer.json()
    assert data["status"] == 0, data
    return data["data"]["execID"], data["data"]["taskID"]


def status(cluster, web: str, exec_id: str) -> str:
    answer = requests.get(f"{cluster.url(web)}{E}/{exec_id}/status", headers=headers(cluster, web), timeout=30)
    return answer.json()["data"]["status"]


def wait_status(cluster, web: str, exec_id: str, wanted, timeout: float = 120) -> str:
    """Wait until the job's status is one of ``wanted`` (a slow or refused answer is asked again)."""
    wanted = (wanted,) if isinstance(wanted, str) else wanted
    seen: list[str] = []

    def reached() -> str | None:
        try:
            seen[:] = [status(cluster, web, exec_id)]
        except requests.RequestException as exc:
            seen[:] = [repr(exc)]
            return None
        return seen[0] if seen[0] in wanted else None

    return eventually(reached, timeout=timeout, interval=0.2, message=lambda: f"{exec_id} is {seen}, not {wanted}")


def log_text(cluster, web: str, exec_id: str) -> str:
    answer = requests.get(
        f"{cluster.url(web)}{E}/{exec_id}/log?fromLine=1&size=-1", headers=headers(cluster, web), timeout=30
    )
    return answer.json()["data"]["log"][3]


def job_row(cluster, task_id: int) -> dict:
    rows = cluster.sql("SELECT status, runner, pid, error_desc FROM jobs_job WHERE id = %s", (task_id,))
    return dict(zip(("status", "runner", "pid", "error_desc"), rows[0], strict=True))


def wait_running_on(cluster, task_id: int, timeout: float = 120) -> dict:
    def running() -> dict | None:
        row = job_row(cluster, task_id)
        return row if row["status"] == "Running" and row["pid"] else None

    def message() -> str:
        return f"job {task_id} did not start: {job_row(cluster, task_id)}"

    return eventually(running, timeout=timeout, interval=0.1, message=message)


def log_has(cluster, web: str, exec_id: str, text: str) -> bool:
    """Whether the job's log, read through ``web``, holds ``text`` (False while the answer is slow or refused)."""
    try:
        return text in log_text(cluster, web, exec_id)
    except requests.RequestException:
        return False


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_job_submitted_through_web_a_is_seen_logged_and_killed_through_web_b(cluster):
    exec_id, task_id = submit(cluster, "a", "import time\nprint('started', flush=True)\ntime.sleep(300)\n")
    row = wait_running_on(cluster, task_id)
    assert row["runner"] in {cluster.worker_identity("w1"), cluster.worker_identity("w2")}
    eventually(lambda: log_has(cluster, "b", exec_id, "INFO started"), message="web b never showed the log line")
    assert status(cluster, "b", exec_id) == "Running"
    killed = requests.get(f"{cluster.url('b')}{E}/{exec_id}/kill", headers=headers(cluster, "b"), timeout=30).json()
    assert killed["status"] == 0, killed
    assert wait_status(cluster, "a", exec_id, FINAL) == "Cancelled"
    eventually(lambda: not process_alive(row["pid"]), message="the engine process outlived the kill")


def test_jobs_on_the_workers_run_sandboxed_as_the_job_user(cluster):
    data_dir = cluster.env["DATA_DIR"]
    code = (
        'echo "uid=$(id -u)"\n'
        f'echo "data=$(ls {data_dir} | tr "\\n" " ")"\n'
        f'cat {data_dir}/secret_key >/dev/null 2>&1 && echo "key=read" || echo "key=refused"\n'
        'cat /proc/1/environ >/dev/null 2>&1 && echo "init=read" || echo "init=refused"\n'
        "env | sort\n"
    )
    exec_id, task_id = submit(cluster, "a", code, run_type="sh")
    assert wait_status(cluster, "a", exec_id, FINAL) == "Succeed"
    log = log_text(cluster, "a", exec_id)
    assert f"INFO uid={pwd.getpwnam('platform-job').pw_uid}" in log
    # DATA_DIR holds only the way to the job's own directory; the key and the rest are not there.
    assert "INFO data=jobs " in log and "INFO key=refused" in log and "INFO init=refused" in log
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ADMIN_PASSWORD"):
        assert f"INFO {name}=" not in log and cluster.env[name] not in log
    assert "sandboxed" in log
    health = requests.get(f"{cluster.url('a')}/healthz", timeout=30).json()["sandbox"]
    assert health["state"] == "ok" and set(health["workers"].values()) == {"ok"}, health


def test_a_websocket_client_on_web_b_receives_the_log_of_a_job_on_worker_2(cluster):
    code = "import time\nfor i in range(30):\n    print(f'tick {i}', flush=True)\n    time.sleep(0.1)\n"
    # Two jobs at once: each worker runs one job at a time, so one of them runs on w2.
    jobs = [submit(cluster, "a", code), submit(cluster, "a", code)]
    rows = {task_id: wait_running_on(cluster, task_id) for _, task_id in jobs}
    on_w2 = [
        (exec_id, task_id) for exec_id, task_id in jobs if rows[task_id]["runner"] == cluster.worker_identity("w2")
    ]
    assert on_w2, f"no job ran on w2: {rows}"
    exec_id, _ = on_w2[0]
    pushed: list[str] = []
    final = follow(cluster, "b", exec_id, 1, pushed, time.monotonic() + PATIENCE)
    assert final == "Succeed"
    assert [line.split(" INFO ")[-1] for line in pushed if " INFO tick " in line] == [f"tick {i}" for i in range(30)]
    assert pushed == log_text(cluster, "a", exec_id).split("\n")  # pushed on B as stored by worker 2


def test_a_worker_killed_mid_job_fails_the_job_with_the_reason_and_ends_its_processes(cluster):
    exec_id, task_id = submit(cluster, "a", "import time\nprint('started', flush=True)\ntime.sleep(300)\n")
    row = wait_running_on(cluster, task_id)
    victim = next(name for name in ("w1", "w2") if cluster.worker_identity(name) == row["runner"])
    cluster.kill_worker(victim)
    assert wait_status(cluster, "b", exec_id, FINAL) == "Failed"
    # Failed by the watchdog for the lost worker (not by its own end, nor by a timeout), with the reason.
    runner = row["runner"]
    row = job_row(cluster, task_id)
    assert row["status"] == "Failed", row
    assert "failover" in row["error_desc"] and "stopped responding" in row["error_desc"], row
    assert runner in row["error_desc"], row
    assert "stopped responding" in log_text(cluster, "b", exec_id)
    eventually(lambda: not process_alive(row["pid"]), message="the killed worker's engine process was left running")
    # Another worker takes new jobs meanwhile, and the worker comes back.
    exec_id2, _ = submit(cluster, "a", "print('after the loss')")
    assert wait_status(cluster, "b", exec_id2, FINAL) == "Succeed"
    cluster.start_worker(victim)


def follow(cluster, web: str, exec_id: str, cursor: int, pushed: list[str], until: float) -> str | None:
    """Follow a job over web's socket from ``cursor`` until it ends (its final status) or the socket drops."""
    token = cluster.token(web)
    try:
        with ws_connect(
            f"{cluster.ws_url(web)}/ws/api/entrance/connect", additional_headers={"Authorization": f"Bearer {token}"}
        ) as socket:
            for action, data in (("log", {"fromLine": cursor}), ("status", {})):
                socket.send(json.dumps({"method": f"{E}/{exec_id}/{action}", "websocketTag": "t", "data": data}))
            while time.monotonic() < until:
                frame = json.loads(socket.recv(timeout=max(until - time.monotonic(), 0.1)))
                if frame["method"].endswith("/log") and frame["data"]["log"][3]:
                    pushed.extend(frame["data"]["log"][3].split("\n"))
                elif frame["method"].endswith("/status") and frame["data"]["status"] in FINAL:
                    return frame["data"]["status"]
    except (OSError, TimeoutError, ConnectionError) as exc:  # the server went away: the caller reconnects
        return f"dropped: {type(exc).__name__}"
    except Exception as exc:  # websockets' ConnectionClosed
        return f"dropped: {type(exc).__name__}"
    return None


TICKS = "import time\nfor i in range({n}):\n    print(f'tick {{i}}', flush=True)\n    time.sleep({pause})\n"


def ticks(lines: list[str]) -> list[str]:
    return [line.split(" INFO ")[-1] for line in lines if " INFO tick " in line]


def test_a_restarted_web_process_loses_nothing_for_a_client_that_reconnects(cluster):
    import threading

    exec_id, task_id = submit(cluster, "a", TICKS.format(n=60, pause=0.1))
    wait_running_on(cluster, task_id)
    pushed: list[str] = []
    outcome: list[str | None] = []
    until = time.monotonic() + PATIENCE
    reader = threading.Thread(target=lambda: outcome.append(follow(cluster, "a", exec_id, 1, pushed, until)))
    reader.start()
    eventually(lambda: len(ticks(pushed)) >= 5, message=lambda: f"fewer than 5 ticks pushed: {pushed} {outcome}")
    port = cluster.stop_web("a")
    reader.join(PATIENCE)
    assert outcome and str(outcome[0]).startswith("dropped"), outcome
    cluster.start_web("a", port=port)
    final = follow(cluster, "a", exec_id, len(pushed) + 1, pushed, time.monotonic() + PATIENCE)
    assert final == "Succeed"
    assert ticks(pushed) == [f"tick {i}" for i in range(60)]  # nothing lost, nothing twice
    assert pushed == log_text(cluster, "b", exec_id).split("\n")


def test_redis_restarted_polling_never_stops_and_pushes_resume(cluster):
    import threading

    exec_id, task_id = submit(cluster, "a", TICKS.format(n=80, pause=0.1))
    wait_running_on(cluster, task_id)
    headers(cluster, "b")  # the polling client's token, obtained before the outage
    # A socket client on B stays connected through the restart.
    pushed: list[str] = []
    outcome: list[str | None] = []
    until = time.monotonic() + PATIENCE
    reader = threading.Thread(target=lambda: outcome.append(follow(cluster, "b", exec_id, 1, pushed, until)))
    reader.start()
    eventually(lambda: ticks(pushed), message=lambda: f"no push before the restart: {outcome}")
    cluster.stop_redis()
    try:
        for _ in range(10):  # HTTP polling goes on while Redis is down
            assert status(cluster, "b", exec_id) == "Running"
            assert " INFO tick " in log_text(cluster, "b", exec_id)
    finally:
        cluster.start_redis()
    reader.join(PATIENCE)
    assert outcome == ["Succeed"]  # the same socket, never closed
    assert ticks(pushed) == [f"tick {i}" for i in range(80)]  # what the outage held back came after it
    # Jobs submitted after the restart are dispatched and pushed as before.
    exec_id2, _ = submit(cluster, "a", TICKS.format(n=3, pause=0.05))
    pushed2: list[str] = []
    assert follow(cluster, "b", exec_id2, 1, pushed2, time.monotonic() + PATIENCE) == "Succeed"
    assert ticks(pushed2) == ["tick 0", "tick 1", "tick 2"]


def test_postgresql_briefly_unreachable_gives_503s_in_each_envelope_then_recovers(cluster):
    exec_id, task_id = submit(cluster, "a", TICKS.format(n=50, pause=0.1))
    wait_running_on(cluster, task_id)
    auth = headers(cluster, "a")
    routes = {
        "linkis": f"{E}/{exec_id}/status",
        "openpai": "/api/v1/jobs",
        "cdap": "/v3/namespaces",
        "openmldb": "/dbs",
    }

    def answers_from_every_route(expected: int) -> dict[str, requests.Response] | None:
        try:
            answers = {
                name: requests.get(cluster.url("a") + path, headers=auth, timeout=30) for name, path in routes.items()
            }
        except requests.RequestException as exc:
            codes[:] = [repr(exc)]
            return None
        codes[:] = [{name: answer.status_code for name, answer in answers.items()}]
        return answers if {answer.status_code for answer in answers.values()} == {expected} else None

    codes: list = []
    cluster.relay.cut()
    try:  # every route notices the database is gone (a pooled connection breaks on its next use)
        answers = eventually(lambda: answers_from_every_route(503), message=lambda: f"not all 503: {codes}")
    finally:
        cluster.relay.restore()
    for name, answer in answers.items():
        kind = "text/plain" if name == "cdap" else "application/json"  # CDAP's errors are plain text
        assert answer.headers["content-type"].startswith(kind), (name, answer.headers)
    assert answers["linkis"].json()["status"] != 0 and answers["linkis"].json()["message"]
    assert answers["openpai"].json()["code"] and answers["openpai"].json()["message"]
    assert answers["openmldb"].json()["code"] != 0 and answers["openmldb"].json()["msg"]
    assert "unavailable" in answers["cdap"].text.lower() or "database" in answers["cdap"].text.lower()
    # Recovery without a restart.
    recovered = eventually(
        lambda: answers_from_every_route(200), timeout=PATIENCE, interval=0.5, message=lambda: f"not all 200: {codes}"
    )
    assert set(recovered) == set(routes)
    # The job that ran through the outage ends with every line.
    assert wait_status(cluster, "b", exec_id, FINAL) == "Succeed", job_row(cluster, task_id)
    assert ticks(log_text(cluster, "b", exec_id).split("\n")) == [f"tick {i}" for i in range(50)]


def test_the_feature_store_is_served_by_both_web_processes_from_one_database(cluster):
    from concurrent.futures import ThreadPoolExecutor

    auth = headers(cluster, "a")

    def sql(web: str, statement: str) -> dict:
        answer = requests.post(
            f"{cluster.url(web)}/dbs/shared", json={"sql": statement, "mode": "online"}, headers=auth, timeout=30
        )
        return answer.json()

    assert sql("a", "CREATE DATABASE shared")["code"] == 0
    assert sql("b", "CREATE TABLE t (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))")["code"] == 0
    deploy = "DEPLOY s SELECT k, sum(v) OVER w AS total, count(v) OVER w AS n FROM t WINDOW w AS "
    deploy += "(PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 1000000s PRECEDING AND CURRENT ROW)"
    assert sql("a", deploy)["code"] == 0

    def put(index: int) -> int:
        web = "ab"[index % 2]
        body = {"value": [["k", 1, 1_000 + index]]}
        return requests.put(f"{cluster.url(web)}/dbs/shared/tables/t", json=body, headers=auth, timeout=30).json()[
            "code"
        ]

    with ThreadPoolExecutor(8) as pool:  # inserts through both processes at once
        assert set(pool.map(put, range(200))) == {0}
    for web in ("a", "b"):  # both see every row, through the table's cache and the deployment's plan
        answer = requests.post(
            f"{cluster.url(web)}/dbs/shared/deployments/s", json={"input": [["k", 5, 10_000]]}, headers=auth, timeout=30
        ).json()
        assert answer["code"] == 0, answer
        assert answer["data"]["data"] == [["k", 205, 201]]
    rows = sql("b", "SELECT count(*) AS c FROM t")
    assert rows["code"] == 0 and rows["data"]["data"] == [[200]], rows
