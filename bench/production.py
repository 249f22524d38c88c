"""Benchmark of the production profile: HTTP scaling across web processes, the serving choice, and job throughput
across Celery workers, on PostgreSQL and Redis.

    .venv/bin/python bench/production.py [--duration 10] [--connections 16] [--jobs 200]

It starts the production profile in child processes (``tests/cluster.py``: a fresh PostgreSQL database, a Redis
server of its own, web processes and ``manage.py worker`` processes) and measures with ``wrk`` (Debian's
package: ``apt-get install wrk``), a load generator in C, so that the client costs little of the 2 cores:

1. requests/s of ``POST /dbs/{db}/deployments/{name}`` (request-mode features) and of Linkis's
   ``GET .../entrance/{execID}/status`` under gunicorn (sync WSGI workers) with one and with two processes, and
   under one uvicorn (ASGI) process, the choice ``make run`` makes;
2. jobs/s: ``--jobs`` shell jobs (``echo ok``) submitted over HTTP as fast as 8 threads can, until every one is
   ``Succeed``, with one and with two workers;
3. submit -> ``Running`` latency over the WebSocket with the celery runner (20 runs), as bench/jobs.py measures
   it on the embedded default.

Each figure is printed as a JSON line; the summary goes to bench/README.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataplatform.settings.test")

from stats import code_fingerprint, emit, latency_summary  # noqa: E402

from tests.cluster import PG_HOST, PG_PORT, Cluster, service_problem  # noqa: E402
from tests.live import ROOT, free_port  # noqa: E402

E = "/api/rest_j/v1/entrance"


def wrk(url: str, script: Path, connections: int, duration: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)

    def ms(match) -> float | None:
        if match is None:
            return None
        value, unit = float(match.group(1)), match.group(2)
        return round(value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)

    return {"rps": round(rps, 1), "non_2xx": int(errors.group(1)) if errors else 0, "p50_ms": ms(p50),
            "p99_ms": ms(p99)}  # fmt: skip


def start_server(cluster: Cluster, kind: str, processes: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    if kind == "gunicorn":
        argv = [sys.executable, "-m", "gunicorn", "dataplatform.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", str(processes), "--worker-class", "sync", "--log-level", "warning"]  # fmt: skip
    else:
        argv = [sys.executable, "-m", "uvicorn", "dataplatform.asgi:application", "--port", str(port),
                "--workers", str(processes), "--lifespan", "off", "--http", "httptools", "--ws", "websockets",
                "--no-access-log", "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(argv, cwd=ROOT, env=cluster.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{kind} did not start")


def stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def prepare_data(url: str, auth: dict) -> str:
    """A feature table with rows, a deployment, and a finished job; return the job's execID."""

    def sql(statement: str) -> None:
        answer = requests.post(f"{url}/dbs/bench", json={"sql": statement, "mode": "online"}, headers=auth, timeout=60)
        assert answer.json()["code"] == 0, answer.text

    sql("CREATE DATABASE bench")
    sql("CREATE TABLE t (k string, v double, ts timestamp, INDEX(KEY=k, TS=ts, TTL_TYPE=latest, TTL=100))")
    rows = [[f"k{i % 100}", float(i), 1_000 + i] for i in range(10_000)]
    for start in range(0, len(rows), 2_000):
        answer = requests.put(f"{url}/dbs/bench/tables/t", json={"value": rows[start : start + 2_000]}, headers=auth,
                              timeout=60)  # fmt: skip
        assert answer.json()["code"] == 0, answer.text
    sql(
        "DEPLOY d SELECT k, sum(v) OVER w AS s, count(v) OVER w AS n, max(v) OVER w AS m FROM t "
        "WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)"
    )
    body = {"executionContent": {"code": "echo ok", "runType": "sh"},
            "labels": {"engineType": "shell-1", "userCreator": "bench-IDE"}}  # fmt: skip
    exec_id = requests.post(f"{url}{E}/submit", json=body, headers=auth, timeout=30).json()["data"]["execID"]
    deadline = time.monotonic() + 60
    while requests.get(f"{url}{E}/{exec_id}/status", headers=auth, timeout=30).json()["data"]["status"] != "Succeed":
        assert time.monotonic() < deadline, "the warm-up job did not finish"
        time.sleep(0.2)
    return exec_id


def http_scaling(cluster: Cluster, token: str, exec_id: str, args, work: Path) -> dict:
    deployment = work / "deployment.lua"
    deployment.write_text(
        'wrk.method = "POST"\n'
        'wrk.body = \'{"input": [["k7", 3.5, 20000]]}\'\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    status = work / "status.lua"
    status.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    figures: dict = {}
    for kind, processes in (("gunicorn", 1), ("gunicorn", 2), ("uvicorn", 1)):
        process, url = start_server(cluster, kind, processes)
        try:
            for name, path, script in (("deployment", "/dbs/bench/deployments/d", deployment),
                                       ("job_status", f"{E}/{exec_id}/status", status)):  # fmt: skip
                wrk(url + path, script, args.connections, 2)  # warm-up: connections, plan caches
                result = wrk(url + path, script, args.connections, args.duration)
                figures[f"{name}:{kind}x{processes}"] = result
                emit({"figure": "http", "route": name, "server": kind, "processes": processes, **result})
        finally:
            stop_server(process)
    for name in ("deployment", "job_status"):
        one, two = figures[f"{name}:gunicornx1"]["rps"], figures[f"{name}:gunicornx2"]["rps"]
        figures[f"{name}:scaling"] = round(two / one, 2)
        emit({"figure": "scaling", "route": name, "one": one, "two": two, "factor": round(two / one, 2)})
    return figures


def submit_many(url: str, auth: dict, count: int) -> tuple[list[str], float]:
    body = {"executionContent": {"code": "echo ok", "runType": "sh"},
            "labels": {"engineType": "shell-1", "userCreator": "bench-IDE"}}  # fmt: skip
    session_local = threading.local()

    def one(_: int) -> str:
        session = getattr(session_local, "session", None) or requests.Session()
        session_local.session = session
        answer = session.post(f"{url}{E}/submit", json=body, headers=auth, timeout=60).json()
        assert answer["status"] == 0, answer
        return answer["data"]["execID"]

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        exec_ids = list(pool.map(one, range(count)))
    return exec_ids, started


def job_throughput(cluster: Cluster, web_url: str, auth: dict, workers: int, count: int) -> dict:
    names = [f"bw{i}" for i in range(workers)]
    for name in names:
        cluster.start_worker(name)
    try:
        first = cluster.sql("SELECT coalesce(max(id), 0) FROM jobs_job")[0][0]
        exec_ids, started = submit_many(web_url, auth, count)
        submitted = time.monotonic() - started
        deadline = time.monotonic() + 600
        while True:
            done = cluster.sql(
                "SELECT count(*) FILTER (WHERE status = 'Succeed'), count(*) FILTER (WHERE status IN "
                "('Failed', 'Cancelled', 'Timeout')), max(finished_at) - min(created_at) FROM jobs_job WHERE id > %s",
                (first,),
            )[0]
            if done[0] + done[1] >= count:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"jobs did not finish: {done}")
            time.sleep(0.2)
        span = done[2].total_seconds()
        per_worker = dict(cluster.sql(
            "SELECT runner, count(*) FROM jobs_job WHERE id > %s GROUP BY runner", (first,)))  # fmt: skip
        result = {"workers": workers, "jobs": count, "succeeded": done[0], "failed": done[1],
                  "submit_seconds": round(submitted, 2), "first_submit_to_last_finish_s": round(span, 2),
                  "jobs_per_s": round(count / span, 1), "per_worker": sorted(per_worker.values())}  # fmt: skip
        emit({"figure": "jobs", **result})
        return result
    finally:
        for name in names:
            cluster.stop_worker(name)


def submit_to_running(cluster: Cluster, web: str, token: str, runs: int) -> dict:
    from websockets.sync.client import connect as ws_connect

    cluster.start_worker("lat")
    latencies = []
    try:
        with ws_connect(f"{cluster.ws_url(web)}/ws/api/entrance/connect",
                        additional_headers={"Authorization": f"Bearer {token}"}) as socket:  # fmt: skip
            for run in range(runs):
                data = {"executeApplicationName": "shell", "executionCode": "echo ok", "runType": "sh"}
                frame = {"method": f"{E}/execute", "websocketTag": f"l{run}", "data": data}
                sent = time.monotonic()
                socket.send(json.dumps(frame))
                while True:
                    message = json.loads(socket.recv(timeout=60))
                    if message["method"].endswith("/status") and message["data"].get("status") == "Running":
                        latencies.append(time.monotonic() - sent)
                        break
                time.sleep(0.3)  # let the job finish: one at a time
    finally:
        cluster.stop_worker("lat")
    result = latency_summary(latencies)
    emit({"figure": "submit_to_running", "runner": "celery", **result})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per HTTP figure")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=200, help="jobs per throughput figure")
    parser.add_argument("--latency-runs", type=int, default=20)
    args = parser.parse_args()
    problem = service_problem() or (None if shutil.which("wrk") else "wrk is not installed (apt-get install wrk)")
    if problem:
        sys.exit(problem)
    emit({"figure": "setup", "code": code_fingerprint("jobs", "featurestore"), "cores": os.cpu_count(), **vars(args)})
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(Path(tmp))
        # Straight to PostgreSQL, as a deployment connects, not through the cluster's TCP relay in this process
        # (there for the tests that cut the database off): it would cost every query a detour through Python.
        cluster.env["DATABASE_URL"] = f"postgres://postgres@{PG_HOST}:{PG_PORT}/{cluster.db_name}"
        cluster.start()
        try:
            url = cluster.start_web("a")
            token = cluster.token("a")
            auth = {"Authorization": f"Bearer {token}"}
            cluster.start_worker("w0")
            exec_id = prepare_data(url, auth)
            cluster.stop_worker("w0")
            http_scaling(cluster, token, exec_id, args, Path(tmp))
            for workers in (1, 2):
                job_throughput(cluster, url, auth, workers, args.jobs)
            submit_to_running(cluster, "a", token, args.latency_runs)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
