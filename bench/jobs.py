"""Benchmark of the job core on the embedded default, against a real server process.

Measures, and prints as JSON:
1. submit -> Running latency, as a WebSocket client sees it (execute frame sent -> ``Running`` status frame);
2. one line printed by a job -> received by each of 200 subscribed WebSocket clients (timestamps printed by the
   job, compared on arrival; same machine clock), ``--runs`` times in a row: p50/p99, deliveries lost or repeated,
   and the catch-ups the server counted (pushes it had to make up from the store; ``/healthz``);
3. sustained submissions per second over HTTP for ``--duration`` seconds, then waits until every job is final
   and checks that none was lost;
4. ``--drain`` jobs queued at once, drained: time until all are ``Succeed``, none lost;
5. an OpenPAI job of ``--pai-tasks`` instances: submit -> ``RUNNING``; with ``--ray`` on Ray (``OPENPAI_RUNNER=ray``,
   a local head the server starts), then ``--pai-drain`` one-task OpenPAI jobs queued at once, drained.

Usage: ``.venv/bin/python bench/jobs.py [--duration 60] [--clients 200] [--runs 1] [--drain 1000] [--production]``.
Every loop is bounded in count and time; the server runs in a temporary DATA_DIR and is stopped at the end.

``--production`` measures the same on the production profile (``tests/cluster.py``), served as ``make run`` serves
it: HTTP by gunicorn (one sync worker per core), WebSocket by one uvicorn process (``--ws-processes`` of them for
the fan-out, its clients spread evenly), ``--workers`` Celery workers, PostgreSQL, the Redis channel layer and broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stats import latency_summary  # noqa: E402

from tests.live import LiveServer  # noqa: E402

E = "/api/rest_j/v1/entrance"
PREFIX = "/api/rest_j/v1/entrance/"
FINAL = {"Succeed", "Failed", "Cancelled", "Timeout"}


def summary_ms(values: list[float]) -> dict:
    return latency_summary(values, digits=1)


def execute_frame(code: str, app: str, run_type: str, tag: str) -> str:
    data = {"executeApplicationName": app, "executionCode": code, "runType": run_type}
    return json.dumps({"method": PREFIX + "execute", "websocketTag": tag, "data": data})


async def submit_to_running(server: LiveServer, token: str, count: int) -> dict:
    """submit -> ``Running`` and submit -> ``Succeed`` of ``count`` shell jobs running ``true``, one at a time.

    The second includes everything a job costs besides its code: the sandbox's start and end (bubblewrap, the
    identity change, taking the directory back) and the job's last writes.
    """
    headers = {"Authorization": f"Bearer {token}"}
    to_running, to_final = [], []
    async with websockets.connect(f"{server.ws_url}/ws/api/entrance/connect", additional_headers=headers) as ws:
        for i in range(count):
            sent = time.perf_counter()
            await ws.send(execute_frame("true", "shell", "sh", f"s{i}"))
            deadline = sent + 30
            exec_id = None
            while time.perf_counter() < deadline:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if frame["method"] == PREFIX + "execute":
                    exec_id = frame["data"]["execID"]
                elif exec_id and frame["method"] == f"{PREFIX}{exec_id}/status":
                    status = frame["data"]["status"]
                    if status in ("Running", *FINAL) and len(to_running) == i:
                        to_running.append(time.perf_counter() - sent)
                    if status in FINAL:
                        assert status == "Succeed", frame
                        to_final.append(time.perf_counter() - sent)
                        break
    return {"to_running": summary_ms(to_running), "to_succeed": summary_ms(to_final)}


async def log_fanout(server, token: str, clients: int, lines: int, interval: float) -> dict:
    """One run: a job prints ``lines`` timestamped lines ``interval`` s apart once ``clients`` sockets (spread over
    the server's WebSocket processes) are subscribed; each line's latency to each socket, the deliveries that never
    came or came twice, and the catch-ups the web processes counted meanwhile (their ``/healthz``)."""
    headers = {"Authorization": f"Bearer {token}"}
    targets = ws_targets(server)
    # A job that waits until the clients are subscribed, then prints timestamped lines.
    code = (
        "import time, os\n"
        "while not os.path.exists('go'):\n    time.sleep(0.01)\n"
        f"for i in range({lines}):\n    print(f'T {{time.time():.6f}} {{i}}', flush=True)\n    time.sleep({interval})\n"
    )
    body = {"executionContent": {"code": code, "runType": "python"}, "labels": {"engineType": "python-python2"}}
    response = await asyncio.to_thread(requests.post, f"{server.url}{E}/submit", json=body, headers=headers, timeout=10)
    data = response.json()["data"]
    exec_id, task_id = data["execID"], data["taskID"]
    before = await asyncio.to_thread(catch_up_counts, targets)
    latencies: list[float] = []
    received: list[list[int]] = [[] for _ in range(clients)]
    ready = asyncio.Event()
    subscribed = 0

    async def client(index: int) -> None:
        nonlocal subscribed
        ws_url = targets[index % len(targets)][0]
        async with websockets.connect(
            f"{ws_url}/ws/api/entrance/connect", additional_headers=headers, max_queue=None
        ) as ws:
            await ws.send(json.dumps({"method": f"{PREFIX}{exec_id}/status", "websocketTag": f"c{index}"}))
            answered = False
            deadline = time.time() + 120
            while time.time() < deadline:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                now = time.time()
                if frame["method"].endswith("/log"):
                    for line in frame["data"]["log"][3].split("\n"):
                        parts = line.split(" INFO T ")
                        if len(parts) == 2:
                            stamp, number = parts[1].split()[:2]
                            latencies.append(now - float(stamp))
                            received[index].append(int(number))
                elif frame["method"].endswith("/status"):
                    if not answered:  # the answer to the status request: the socket is subscribed
                        answered = True
                        subscribed += 1
                        if subscribed == clients:
                            ready.set()
                    if frame["data"]["status"] in FINAL:
                        return

    tasks = [asyncio.create_task(client(i)) for i in range(clients)]
    await asyncio.wait_for(ready.wait(), 120)
    workdir = server.data_dir / "jobs" / str(task_id)
    deadline = time.time() + 30
    while not workdir.exists() and time.time() < deadline:  # noqa: ASYNC110 - polling a file another process makes
        await asyncio.sleep(0.05)
    cpu_before = ws_cpu_seconds(server)
    (workdir / "go").write_text("go")
    await asyncio.wait_for(asyncio.gather(*tasks), 180)
    cpu = ws_cpu_seconds(server) - cpu_before
    after = await asyncio.to_thread(catch_up_counts, targets)
    result = summary_ms(latencies)
    unique = sum(len(set(got)) for got in received)
    result.update(
        clients=clients,
        ws_processes=len(targets),
        lines_per_client=lines,
        line_interval_s=interval,
        drops=clients * lines - unique,
        duplicates=sum(len(got) for got in received) - unique,
        catch_ups={kind: after[kind] - before[kind] for kind in after},
        # CPU time of the WebSocket processes per delivered line (from the first line on): what contention multiplies
        ws_cpu_us_per_delivery=round(cpu / max(len(latencies), 1) * 1e6, 1),
    )
    return result


def ws_targets(server) -> list[tuple[str, str]]:
    """``(WebSocket base URL, HTTP base URL)`` of each process that serves the sockets."""
    return getattr(server, "ws_targets", None) or [(server.ws_url, server.url)]


def ws_cpu_seconds(server) -> float:
    """User and system CPU time so far of the processes serving the sockets (their threads included)."""
    pids = getattr(server, "ws_pids", None) or [server.process.pid]
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def catch_up_counts(targets: list[tuple[str, str]]) -> dict[str, int]:
    """The catch-ups the WebSocket processes counted so far (``/healthz``: ``websocket.catch_ups``), summed."""
    total: dict[str, int] = {}
    for _, url in targets:
        report = requests.get(f"{url}/healthz", timeout=30).json()["websocket"]["catch_ups"]
        for kind, count in report.items():
            total[kind] = total.get(kind, 0) + count
    return total


def fanout_runs(server, token: str, args) -> dict:
    """``--runs`` fan-out runs in a row on the same server; each run's figures and a summary against the target."""
    runs = []
    for number in range(1, args.runs + 1):
        run = asyncio.run(log_fanout(server, token, args.clients, args.lines, args.line_interval))
        runs.append(run)
        print(json.dumps({"log_line_to_client": {"run": number, **run}}), flush=True)
    p99s = [run["p99_ms"] for run in runs]
    summary = {
        "runs": len(runs),
        "p50_ms": [run["p50_ms"] for run in runs],
        "p99_ms": p99s,
        "max_ms": max(run["max_ms"] for run in runs),
        "drops": sum(run["drops"] for run in runs),
        "duplicates": sum(run["duplicates"] for run in runs),
        "catch_ups": {kind: sum(run["catch_ups"][kind] for run in runs) for kind in runs[0]["catch_ups"]},
    }
    summary["target_met"] = (  # p99 <= 100 ms, nothing lost or repeated, no catch-up needed, in every run
        max(p99s) <= 100.0 and summary["drops"] == 0 and summary["duplicates"] == 0
        and sum(summary["catch_ups"].values()) == 0
    )  # fmt: skip
    return {"summary": summary, "each_run": runs}


def pai_submit_to_running(server: LiveServer, token: str, runs: int, tasks: int) -> dict:
    """An OpenPAI job of ``tasks`` instances (two roles) submitted over /api/v1/jobs → its state is RUNNING.

    The state is polled every 5 ms on a second connection; each job is left to finish before the next one, so
    every measurement starts from an idle runner.
    """
    headers = {"Authorization": f"Bearer {token}"}
    submit, poll = requests.Session(), requests.Session()
    latencies: list[float] = []
    launched: list[float] = []
    for run in range(runs):
        name = f"bench{run}"
        config = {
            "jobName": name,
            "image": "bench",
            "taskRoles": [
                {"name": "ps", "taskNumber": 2, "command": "sleep 0.2"},
                {"name": "worker", "taskNumber": tasks - 2, "command": "sleep 0.2"},
            ],
        }
        sent = time.perf_counter()
        response = submit.post(f"{server.url}/api/v1/jobs", json=config, headers=headers, timeout=10)
        response.raise_for_status()
        state = None
        deadline = sent + 30
        while time.perf_counter() < deadline:
            status = poll.get(f"{server.url}/api/v1/jobs/{name}", headers=headers, timeout=10).json()["jobStatus"]
            state = status["state"]
            if state != "WAITING":
                latencies.append(time.perf_counter() - sent)
                break
            time.sleep(0.005)
        while state not in ("SUCCEEDED", "FAILED", "STOPPED") and time.perf_counter() < deadline:
            time.sleep(0.05)
            status = poll.get(f"{server.url}/api/v1/jobs/{name}", headers=headers, timeout=10).json()["jobStatus"]
            state = status["state"]
        if state != "SUCCEEDED":
            raise RuntimeError(f"{name} ended {state}: {status}")
        launched.append((status["appLaunchedTime"] - status["createdTime"]) / 1000)
    result = summary_ms(latencies)
    result.update(tasks_per_job=tasks, server_created_to_first_task_started=summary_ms(launched))
    result["each_ms"] = [round(value * 1000, 1) for value in latencies]
    return result


def pai_wait_ready(server: LiveServer, token: str, timeout: float = 180.0) -> float:
    """Submit a one-task OpenPAI job until one succeeds (the Ray head and the dispatcher are up); return seconds."""
    headers = {"Authorization": f"Bearer {token}"}
    session = requests.Session()
    started = time.perf_counter()
    config = {"jobName": "warm-up", "image": "bench", "taskRoles": [{"name": "w", "taskNumber": 1, "command": "true"}]}
    session.post(f"{server.url}/api/v1/jobs", json=config, headers=headers, timeout=10).raise_for_status()
    while time.perf_counter() - started < timeout:
        state = session.get(f"{server.url}/api/v1/jobs/warm-up", headers=headers, timeout=10).json()["jobStatus"]
        if state["state"] == "SUCCEEDED":
            return time.perf_counter() - started
        if state["state"] in ("FAILED", "STOPPED"):
            raise RuntimeError(f"the warm-up job ended {state}")
        time.sleep(0.1)
    raise RuntimeError(f"no OpenPAI job ran within {timeout} s")


def pai_drain(server: LiveServer, token: str, count: int, threads: int = 8, timeout: float = 600.0) -> dict:
    """``count`` one-task OpenPAI jobs (``true``) submitted at once: time until every one is final, none lost."""
    headers = {"Authorization": f"Bearer {token}"}
    names = [f"drain{i}" for i in range(count)]
    started = time.perf_counter()

    def worker(part: list[str]) -> None:
        session = requests.Session()
        for name in part:
            role = {"name": "w", "taskNumber": 1, "command": "true"}
            config = {"jobName": name, "image": "bench", "taskRoles": [role]}
            session.post(f"{server.url}/api/v1/jobs", json=config, headers=headers, timeout=30).raise_for_status()

    pool = [threading.Thread(target=worker, args=(names[i::threads],)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    submitted = time.perf_counter() - started
    session = requests.Session()
    states: dict[str, str] = {}
    while time.perf_counter() - started < timeout:
        jobs = session.get(f"{server.url}/api/v1/jobs", headers=headers, timeout=30).json()
        states = {job["name"]: job["state"] for job in jobs if job["name"] in set(names)}
        if len(states) == count and all(state in ("SUCCEEDED", "FAILED", "STOPPED") for state in states.values()):
            break
        time.sleep(0.25)
    elapsed = time.perf_counter() - started
    counts: dict[str, int] = {}
    for name in names:
        state = states.get(name, "missing")
        counts[state] = counts.get(state, 0) + 1
    return {"jobs": count, "submitted_s": round(submitted, 2), "drained_s": round(elapsed, 2),
            "jobs_per_s": round(count / elapsed, 1), "states": counts}  # fmt: skip


def wait_all_final(server: LiveServer, token: str, task_ids: list[int], timeout: float) -> dict[str, int]:
    """Wait until the user has no unfinished job (one cheap request per poll), then count final statuses."""
    headers = {"Authorization": f"Bearer {token}"}
    session = requests.Session()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = session.get(f"{server.url}{E}/operation/metrics/taskinfo", headers=headers, timeout=10).json()
        if info["data"]["taskNumber"] == 0:
            break
        time.sleep(0.25)
    wanted = set(task_ids)
    counts: dict[str, int] = {}
    page = 1
    while True:
        data = session.get(
            f"{server.url}/api/rest_j/v1/jobhistory/list",
            params={"pageNow": page, "pageSize": 500},
            headers=headers,
            timeout=30,
        ).json()["data"]
        for task in data["tasks"]:
            if task["taskID"] in wanted:
                status = task["status"] if task["status"] in FINAL else "not_final"
                counts[status] = counts.get(status, 0) + 1
                wanted.discard(task["taskID"])
        if not data["tasks"] or page * 500 >= data["totalPage"]:
            break
        page += 1
    if wanted:
        counts["missing"] = len(wanted)
    return counts


def sustained(server: LiveServer, token: str, duration: float, threads: int) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    body = {"executionContent": {"code": "echo ok", "runType": "sh"}, "labels": {"engineType": "shell-1"}}
    task_ids: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker() -> None:
        session = requests.Session()
        while time.monotonic() < stop_at:
            try:
                answer = session.post(f"{server.url}{E}/submit", json=body, headers=headers, timeout=30).json()
            except requests.RequestException as exc:
                with lock:
                    errors.append(str(exc))
                continue
            with lock:
                if answer.get("status") == 0:
                    task_ids.append(answer["data"]["taskID"])
                else:
                    errors.append(answer.get("message", "?"))

    cpu_before = server.cpu_seconds() if hasattr(server, "cpu_seconds") else None
    started = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(duration + 60)
    elapsed = time.monotonic() - started
    drain_start = time.monotonic()
    counts = wait_all_final(server, token, task_ids, timeout=600)
    result = {
        "duration_s": round(elapsed, 1),
        "submitted": len(task_ids),
        "submissions_per_s": round(len(task_ids) / elapsed, 1),
        "errors": len(errors),
        "final_statuses": counts,
        "drain_after_s": round(time.monotonic() - drain_start, 1),
        "nothing_lost": counts.get("Succeed", 0) == len(task_ids),
    }
    if cpu_before is not None and task_ids:
        # CPU time per job of each kind of process, submissions and drain included: what a shared machine's load
        # changes least (the rates above move with whatever else runs).
        cpu_after = server.cpu_seconds()
        per_job = {
            kind: round(
                sum(cpu - cpu_before[kind].get(pid, 0.0) for pid, cpu in pids.items()) * 1000 / len(task_ids), 1
            )
            for kind, pids in cpu_after.items()
        }
        result["cpu_ms_per_job"] = {**per_job, "total": round(sum(per_job.values()), 1)}
    return result


def drain(server: LiveServer, token: str, count: int, threads: int = 8) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    body = {"executionContent": {"code": "echo drained", "runType": "sh"}, "labels": {"engineType": "shell-1"}}
    task_ids: list[int] = []
    lock = threading.Lock()
    per_thread = count // threads

    def worker(n: int) -> None:
        session = requests.Session()
        for _ in range(n):
            answer = session.post(f"{server.url}{E}/submit", json=body, headers=headers, timeout=30).json()
            if answer.get("status") == 0:
                with lock:
                    task_ids.append(answer["data"]["taskID"])

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(per_thread + (1 if i < count % threads else 0),))
            for i in range(threads)]  # fmt: skip
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(600)
    queued_in = time.monotonic() - started
    counts = wait_all_final(server, token, task_ids, timeout=900)
    total = time.monotonic() - started
    return {
        "jobs": count,
        "accepted": len(task_ids),
        "queued_in_s": round(queued_in, 1),
        "all_final_after_s": round(total, 1),
        "jobs_per_s": round(len(task_ids) / total, 1),
        "final_statuses": counts,
        "nothing_lost": counts.get("Succeed", 0) == count,
    }


def direct_database_url(cluster) -> str:
    """The cluster's database on the PostgreSQL server itself, not through its relay."""
    from tests.cluster import PG_HOST, PG_PORT

    return f"postgres://postgres@{PG_HOST}:{PG_PORT}/{cluster.db_name}"


class ProductionServer:
    """The production profile seen through LiveServer's attributes: gunicorn for HTTP, uvicorn ``a`` for WebSocket."""

    def __init__(self, base_dir: Path, workers: int, ws_processes: int = 1, **env: str) -> None:
        from tests.cluster import Cluster, service_problem

        problem = service_problem()
        if problem:
            sys.exit(problem)
        self.cluster = Cluster(base_dir, JOB_QUEUE_CAPACITY="100000", LOG_LEVEL="WARNING", **env)
        # Straight to PostgreSQL, as a deployment connects: the cluster's TCP relay (there for the tests that cut
        # the database off) runs in this process, whose GIL it shares with the load's client threads, and costs
        # every query of every process a detour through Python (about 8 ms of CPU per job here).
        self.cluster.env["DATABASE_URL"] = direct_database_url(self.cluster)
        self.cluster.worker_concurrency = 0  # 0: each worker runs JOB_MAX_RUNNING (twice the cores) at once
        self.workers = workers
        self.ws_processes = ws_processes
        self.data_dir = base_dir / "data"

    def __enter__(self) -> ProductionServer:
        self.cluster.start()
        names = [chr(ord("a") + index) for index in range(self.ws_processes)]
        for name in names:
            self.cluster.start_web(name)
        self.ws_url = self.cluster.ws_url("a")
        self.ws_targets = [(self.cluster.ws_url(name), self.cluster.url(name)) for name in names]
        self.ws_pids = [self.cluster.webs[name][1].pid for name in names]
        self.url = self.cluster.start_http("http", processes=os.cpu_count() or 1)
        for index in range(self.workers):
            self.cluster.start_worker(f"bench{index}")
        return self

    def __exit__(self, *exc) -> None:
        self.cluster.stop()

    def token(self) -> str:
        return self.cluster.token("a")

    def cpu_seconds(self) -> dict[str, dict[int, float]]:
        """CPU seconds so far of each HTTP process, worker (with the jobs' processes it waited for), WebSocket
        process, PostgreSQL backend of the cluster's database and of its Redis server, by kind and pid."""
        http = self.cluster.webs["http"][1].pid
        gunicorn = [int(pid) for pid in Path(f"/proc/{http}/task/{http}/children").read_text().split()]
        sql = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        kinds = {
            "web": gunicorn,
            "workers": [process.pid for process in self.cluster.workers.values()],
            "websocket": self.ws_pids,
            "postgresql": [row[0] for row in self.cluster.sql(sql)],
            "redis": [self.cluster.redis.pid] if self.cluster.redis else [],
        }
        return {kind: {pid: _cpu_seconds(pid) for pid in pids} for kind, pids in kinds.items()}


def _cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and of the children it waited for (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-runs", type=int, default=100)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--line-interval", type=float, default=0.25, help="seconds between the job's lines")
    parser.add_argument("--runs", type=int, default=1, help="fan-out runs in a row (each a new job and new sockets)")
    parser.add_argument(
        "--ws-processes",
        type=int,
        default=2,
        help="with --production: uvicorn processes serving the WebSocket clients (spread evenly over them)",
    )
    parser.add_argument(
        "--only",
        choices=["latency", "fanout", "sustained", "drain", "pai", "pai-drain"],
        action="append",
        help="run only these parts",
    )
    parser.add_argument("--pai-runs", type=int, default=20, help="OpenPAI jobs submitted one after another")
    parser.add_argument("--pai-tasks", type=int, default=10, help="task instances per OpenPAI job")
    parser.add_argument("--pai-drain", type=int, default=100, help="one-task OpenPAI jobs queued at once")
    parser.add_argument(
        "--ray",
        action="store_true",
        help="OpenPAI jobs on Ray (OPENPAI_RUNNER=ray; the server starts a local head): the pai and pai-drain parts",
    )
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--drain", type=int, default=1000)
    parser.add_argument("--production", action="store_true", help="the production profile (PostgreSQL, Redis, Celery)")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers with --production")
    parser.add_argument(
        "--sandbox", choices=["on", "off"], default="on", help="JOB_SANDBOX of the server (off: to measure its cost)"
    )
    args = parser.parse_args()

    default_parts = ["pai", "pai-drain"] if args.ray else ["latency", "fanout", "sustained", "drain", "pai"]
    parts = set(args.only or default_parts)
    ws_processes = args.ws_processes if "fanout" in parts else 1  # the other parts use one
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as data_dir:
        if args.production:
            context = ProductionServer(
                Path(data_dir), args.workers, ws_processes=ws_processes, JOB_SANDBOX=args.sandbox
            )
        else:
            # A 10-task job of one CPU each needs 10 logical CPUs: the local head declares 16 on this 2-core machine.
            ray_env = {"OPENPAI_RUNNER": "ray", "RAY_ADDRESS": "local", "RAY_LOCAL_NUM_CPUS": "16"} if args.ray else {}
            context = LiveServer(
                Path(data_dir), JOB_QUEUE_CAPACITY="100000", LOG_LEVEL="WARNING", JOB_SANDBOX=args.sandbox, **ray_env
            )
        with context as server:
            token = server.token()
            profile = (
                f"production, {args.workers} workers, {ws_processes} WebSocket processes"
                if args.production
                else "embedded"
            )
            results: dict = {
                "server": {"profile": profile, "JOB_MAX_RUNNING": "default (twice the cores)", "sandbox": args.sandbox}
            }
            if args.ray:
                results["server"]["openpai_runner"] = "ray (a local head: one node, 16 logical CPUs)"
                results["ray_ready_s"] = round(pai_wait_ready(server, token), 2)
            if "latency" in parts:
                results["submit_to_running"] = asyncio.run(submit_to_running(server, token, args.latency_runs))
                print(json.dumps({"submit_to_running": results["submit_to_running"]}), flush=True)
            if "pai" in parts:
                results["pai_submit_to_running"] = pai_submit_to_running(server, token, args.pai_runs, args.pai_tasks)
                print(json.dumps({"pai_submit_to_running": results["pai_submit_to_running"]}), flush=True)
            if "pai-drain" in parts:
                results["pai_drain"] = pai_drain(server, token, args.pai_drain)
                print(json.dumps({"pai_drain": results["pai_drain"]}), flush=True)
            if "fanout" in parts:
                results["log_line_to_client"] = fanout_runs(server, token, args)
                print(json.dumps({"log_line_to_client": results["log_line_to_client"]["summary"]}), flush=True)
            if "sustained" in parts:
                results["sustained"] = sustained(server, token, args.duration, args.threads)
                print(json.dumps({"sustained": results["sustained"]}), flush=True)
            if "drain" in parts:
                results["drain"] = drain(server, token, args.drain)
                print(json.dumps({"drain": results["drain"]}), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
