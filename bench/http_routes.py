"""Benchmark of the ordinary read routes side by side with the OpenMLDB deployment route, against a real server.

Creates, through the APIs and with the admin's JWT: a Linkis shell job (``echo hi``, waited until final), an
OpenPAI job ``bench`` (waited until ``SUCCEEDED``), a CDAP application ``bench`` of the system artifact
``command-app``, a feature-store database with ``--rows`` rows over ``--keys``
keys and the deployment of bench/featurestore.py (two windows and a ``LAST JOIN``). Then, route by route (each
first checked to answer 200, with Linkis's ``status`` and OpenMLDB's ``code`` 0):

1. ``--connections`` connections (8): ``wrk -t2 -c8 -d{duration}s --latency``: requests/s, p50 and p99 in ms;
2. one keep-alive connection (http.client): ``--single`` sequential requests after a short warm-up, p50/p99 ms;

and each route's requests/s with 8 connections over the deployment route's (the target: every read route
≥ 0.5 of it; the Linkis status read, one connection, p50 ≤ 1.5 ms). Every authenticated request sends
``Authorization: Bearer <jwt>``; the deployment route is a POST whose method, body and Content-Type a wrk Lua
script sets. Prints one JSON document on stdout and a compact table on stderr.

(Not ``bench/http.py``: a script run from ``bench/`` has that folder first on ``sys.path``, where a ``http.py`` would
shadow the standard library's ``http`` for every benchmark script, ``requests`` included.)

Usage: ``.venv/bin/python bench/http_routes.py [--duration 10] [--single 500] [--production [--workers 1]]``. Needs
``wrk`` (Debian: ``apt-get install -y wrk``). Every loop is bounded in count and time; the server runs in a
temporary DATA_DIR and is stopped at the end.

``--production`` measures the production profile as bench/jobs.py starts it (gunicorn sync workers, one per
core, PostgreSQL, Redis, ``--workers`` Celery workers).

``rps_per_web_core``: a route's requests under wrk over the CPU seconds the HTTP server's processes spent meanwhile
(gunicorn's workers, or the uvicorn process): what one server process serves with a core to itself, which wrk,
PostgreSQL and the workers sharing this machine's cores do not let it have.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

from stats import Connection, code_fingerprint, latency_summary  # noqa: E402

from tests.live import ADMIN, LiveServer  # noqa: E402

E = "/api/rest_j/v1/entrance"
CDAP = "/v3/namespaces/default"
FINAL = {"Succeed", "Failed", "Cancelled", "Timeout"}
PAI_FINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
DB = "bench_http"
DEPLOYMENT = "fraud"
DAY_MS = 86_400_000
SPAN_MS = 30 * DAY_MS
COLUMNS = "key string, ts timestamp, amount double, cnt int, INDEX(KEY=key, TS=ts)"
# The deployment of bench/featurestore.py: two windows (rows and a day) and a LAST JOIN, 7 features.
DEPLOY_SQL = """DEPLOY fraud SELECT key, amount,
  sum(amount) OVER w2 AS sum_amount_2, count(amount) OVER w2 AS cnt_2,
  sum(amount) OVER w1d AS sum_amount_1d, avg(amount) OVER w1d AS avg_amount_1d,
  max(amount) OVER w1d AS max_amount_1d,
  profile.segment AS segment, profile.score AS score
FROM t1 LAST JOIN profile ORDER BY profile.ts ON t1.key = profile.key
WINDOW w2 AS (PARTITION BY key ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
       w1d AS (PARTITION BY key ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)"""
WRK_INSTALL = "wrk is not installed; on Debian: apt-get install -y wrk"


def fail(message: str) -> None:
    raise SystemExit(f"bench/http_routes.py: {message}")


# --- data -------------------------------------------------------------------------------------------------------
class Api:
    """The admin's keep-alive session for setting up the data."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def json(self, method: str, path: str, body: dict | None = None) -> dict:
        response = self.session.request(method, self.url + path, json=body, timeout=60)
        if not 200 <= response.status_code < 300:  # OpenPAI answers a submission 202
            fail(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}")
        return response.json()

    def sql(self, statement: str) -> dict:
        answer = self.json("POST", f"/dbs/{DB}", {"mode": "online", "sql": statement})
        if answer.get("code") != 0:
            fail(f"SQL failed: code {answer.get('code')}, msg {answer.get('msg')!r}: {statement}")
        return answer


def linkis_job(api: Api, timeout: float = 120) -> str:
    """Submit ``echo hi`` as the admin, wait until it is final; its execID."""
    body = {
        "executionContent": {"code": "echo hi", "runType": "sh"},
        "labels": {"engineType": "shell-1", "userCreator": f"{ADMIN[0]}-IDE"},
    }
    answer = api.json("POST", f"{E}/submit", body)
    if answer.get("status") != 0:
        fail(f"Linkis submit refused: {answer}")
    exec_id = answer["data"]["execID"]
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = api.json("GET", f"{E}/{exec_id}/status")["data"]["status"]
        if status in FINAL:
            return exec_id
        time.sleep(0.1)
    fail(f"the Linkis job {exec_id} was not final after {timeout} s (last status {status})")
    raise AssertionError("unreachable")


def pai_job(api: Api, name: str = "bench", timeout: float = 180) -> None:
    config = {"jobName": name, "image": "x", "taskRoles": [{"name": "w", "taskNumber": 1, "command": "true"}]}
    api.json("POST", "/api/v1/jobs", config)
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = api.json("GET", f"/api/v1/jobs/{name}")["jobStatus"]["state"]
        if state == "SUCCEEDED":
            return
        if state in PAI_FINAL:
            fail(f"the OpenPAI job {name} ended {state}")
        time.sleep(0.1)
    fail(f"the OpenPAI job {name} did not succeed within {timeout} s (last state {state})")


def cdap_app(api: Api, name: str = "bench") -> None:
    """An application ``name`` from the system artifact ``command-app`` (loaded at server start)."""
    body = {"artifact": {"name": "command-app", "version": "1.0.0", "scope": "SYSTEM"}, "config": {"command": "true"}}
    # The production profile's test cluster does not load system artifacts at start: have them loaded (admins).
    api.session.post(f"{api.url}/v3/namespaces/system/artifacts", timeout=120).raise_for_status()
    response = api.session.put(f"{api.url}/v3/namespaces/default/apps/{name}", json=body, timeout=60)
    if response.status_code != 200:
        fail(f"creating the CDAP app {name}: HTTP {response.status_code} {response.text[:500]}")


def feature_store(api: Api, rows: int, keys: int, seed: int = 7) -> list:
    """Database, tables, ``rows`` rows over ``keys`` keys (30 days), the deployment; a request row for it."""
    rng = random.Random(seed)
    now_ms = int(time.time() * 1000)
    start = now_ms - SPAN_MS - 60_000
    names = [f"k{i:05d}" for i in range(keys)]
    api.sql(f"CREATE DATABASE {DB}")
    api.sql(f"CREATE TABLE t1 ({COLUMNS})")
    api.sql("CREATE TABLE profile (key string, ts timestamp, segment string, score double, INDEX(KEY=key, TS=ts))")
    api.sql(DEPLOY_SQL)
    segments = ["new", "regular", "gold", "platinum"]
    profile = [[key, start + rng.randrange(SPAN_MS), rng.choice(segments), round(rng.random(), 4)] for key in names]
    data = sorted(
        ([names[i % keys], start + rng.randrange(SPAN_MS), round(rng.uniform(1, 500), 2), rng.randrange(1, 10)]
         for i in range(rows)),
        key=lambda row: row[1],
    )  # fmt: skip
    for table, values in (("profile", profile), *(("t1", data[i : i + 500]) for i in range(0, len(data), 500))):
        answer = api.json("PUT", f"/dbs/{DB}/tables/{table}", {"value": values})
        if answer.get("code") != 0:
            fail(f"PUT {table} failed: {answer}")
    return [names[keys // 2], now_ms, 42.5, 3]


# --- measuring --------------------------------------------------------------------------------------------------
class Route:
    def __init__(self, name: str, path: str, kind: str, body: bytes | None = None) -> None:
        self.name, self.path, self.kind, self.body = name, path, kind, body
        self.method = "POST" if body is not None else "GET"

    def problem(self, status: int, data: bytes) -> str | None:
        """None if the answer is what a working route says, else what came back."""
        if status != 200:
            return f"HTTP {status}: {data[:500]!r}"
        if self.kind in ("linkis", "openmldb"):
            try:
                answer = json.loads(data)
            except ValueError:
                return f"not JSON: {data[:500]!r}"
            field = "status" if self.kind == "linkis" else "code"
            if not isinstance(answer, dict) or answer.get(field) != 0:
                return f"{field} not 0: {data[:500]!r}"
        return None


def one_connection(url: str, token: str, route: Route, count: int, warmup: int = 20, limit: float = 120) -> dict:
    """``count`` sequential requests on one connection after ``warmup`` unmeasured ones, at most ``limit`` s."""
    conn = Connection(url, {"Authorization": f"Bearer {token}"})
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + limit
    for i in range(warmup + count):
        if time.monotonic() > deadline:
            break
        seconds, status, data = conn.call(route.method, route.path, route.body)
        problem = route.problem(status, data)
        if problem:
            errors.append(problem)
        elif i >= warmup:
            latencies.append(seconds)
    conn.close()
    summary = latency_summary(latencies, digits=3)
    return {"requests": len(latencies), "p50_ms": summary.get("p50_ms"), "p99_ms": summary.get("p99_ms"),
            "errors": len(errors), "first_error": errors[0] if errors else None}  # fmt: skip


UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk(output: str) -> dict:
    """Requests/s, the 50% and 99% latencies (ms), the request count and the errors from ``wrk --latency``."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(\w+)", output, re.M)
    if not rps or not total:
        fail(f"could not read wrk's output:\n{output}")
    percentiles = {}
    for q in ("50", "99"):
        found = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M)
        percentiles[q] = round(float(found.group(1)) * UNIT_MS[found.group(2)], 3) if found else None
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "rps": float(rps.group(1)),
        "requests": int(total.group(1)),
        "p50_ms": percentiles["50"],
        "p99_ms": percentiles["99"],
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(n) for n in sockets.groups()) if sockets else 0,
    }


def lua_script(route: Route, folder: Path) -> Path:
    """A wrk script sending ``route``'s method and JSON body (wrk keeps the -H headers it was given)."""
    path = folder / f"{route.name}.lua"
    path.write_text(
        f"wrk.method = {json.dumps(route.method)}\n"
        f"wrk.body = {json.dumps(route.body.decode())}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return path


def wrk(url: str, token: str, route: Route, connections: int, threads: int, duration: float, folder: Path) -> dict:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "30s",
               "-H", f"Authorization: Bearer {token}"]  # fmt: skip
    if route.body is not None:
        command += ["-s", str(lua_script(route, folder))]
    result = subprocess.run(
        [*command, url + route.path], capture_output=True, text=True, timeout=duration + 90, check=False
    )
    if result.returncode != 0:
        fail(f"wrk failed on {route.name}: {result.stdout[-1500:]} {result.stderr[-1500:]}")
    return parse_wrk(result.stdout)


def check_routes(url: str, token: str, routes: list[Route]) -> None:
    conn = Connection(url, {"Authorization": f"Bearer {token}"})
    for route in routes:
        _, status, data = conn.call(route.method, route.path, route.body)
        problem = route.problem(status, data)
        if problem:
            fail(f"{route.name} ({route.method} {route.path}) does not answer as it should: {problem}")
    conn.close()


def table(results: dict, connections: int) -> str:
    header = f"{'route':<18}{'rps_' + str(connections):>10}{'p50_ms':>9}{'p99_ms':>9}{'1c_p50':>9}{'1c_p99':>9}"
    lines = [header + f"{'ratio':>8}{'rps/core':>10}"]
    for name, r in results.items():
        lines.append(
            f"{name:<18}{r['rps_8']:>10.1f}{r['p50_ms_8']:>9}{r['p99_ms_8']:>9}{r['p50_ms_1']:>9}{r['p99_ms_1']:>9}"
            f"{r['ratio_to_deployment']:>8.2f}{r['rps_per_web_core'] or 0:>10}"
        )
    return "\n".join(lines)


@functools.cache
def bench_jobs():
    """bench/jobs.py, loaded by path (``jobs`` is also the platform's job package)."""
    spec = importlib.util.spec_from_file_location("bench_jobs", BENCH / "jobs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def production_server(base_dir: Path, workers: int):
    """bench/jobs.py's ProductionServer."""
    return bench_jobs().ProductionServer(base_dir, workers)


def web_cpu_seconds(server) -> float:
    """CPU seconds used so far by the HTTP server's processes: gunicorn's workers on the production profile,
    the uvicorn process on the embedded default."""
    if hasattr(server, "cpu_seconds"):
        return sum(server.cpu_seconds()["web"].values())
    return bench_jobs()._cpu_seconds(server.process.pid)


def wrk_version() -> str:
    result = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10, check=False)
    return (result.stdout + result.stderr).split("\n", 1)[0].split(" Copyright")[0].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of wrk per route")
    parser.add_argument("--single", type=int, default=500, help="sequential requests on one connection per route")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--rows", type=int, default=1000, help="feature-store rows")
    parser.add_argument("--keys", type=int, default=100, help="feature-store keys")
    parser.add_argument("--production", action="store_true", help="the production profile (PostgreSQL, Redis, Celery)")
    parser.add_argument("--workers", type=int, default=1, help="Celery workers with --production")
    parser.add_argument(
        "--route", action="append", default=[], metavar="NAME", help="measure only these routes (and the deployment)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        fail(WRK_INSTALL)

    fingerprint = code_fingerprint("jobs", "artifacts", "featurestore")
    load_before = os.getloadavg()
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmpdir:
        folder = Path(tmpdir)
        if args.production:
            (folder / "server").mkdir()
            context = production_server(folder / "server", args.workers)
            profile = f"production: gunicorn sync workers (one per core), PostgreSQL, Redis, {args.workers} Celery"
        else:
            (folder / "data").mkdir()
            context = LiveServer(folder / "data", LOG_LEVEL="WARNING")
            profile = "embedded: one uvicorn process (httptools), SQLite (WAL), in-process runner"
        with context as server:
            token = server.token()
            api = Api(server.url, token)
            exec_id = linkis_job(api)
            pai_job(api)
            cdap_app(api)
            request_row = feature_store(api, args.rows, args.keys)
            deploy_body = json.dumps({"input": [request_row]}).encode()
            routes = [
                Route("linkis_status", f"{E}/{exec_id}/status", "linkis"),
                Route("linkis_progress", f"{E}/{exec_id}/progress", "linkis"),
                Route("linkis_log", f"{E}/{exec_id}/log?fromLine=1&size=100", "linkis"),
                Route("linkis_history", "/api/rest_j/v1/jobhistory/list", "linkis"),
                Route("pai_job", "/api/v1/jobs/bench", "plain"),
                Route("pai_jobs", "/api/v1/jobs", "plain"),
                Route("cdap_artifacts", "/v3/namespaces/default/artifacts", "plain"),
                Route("cdap_apps", "/v3/namespaces/default/apps", "plain"),
                Route(
                    "cdap_artifact", "/v3/namespaces/default/artifacts/command-app/versions/1.0.0?scope=system", "plain"
                ),
                Route("cdap_app", "/v3/namespaces/default/apps/bench", "plain"),
                Route("healthz", "/healthz", "plain"),
                Route("openmldb_dbs", "/dbs", "openmldb"),
                Route("deployment", f"/dbs/{DB}/deployments/{DEPLOYMENT}", "openmldb", deploy_body),
            ]
            if args.route:
                unknown = set(args.route) - {route.name for route in routes}
                if unknown:
                    fail(f"unknown routes: {sorted(unknown)}; known: {[route.name for route in routes]}")
                routes = [route for route in routes if route.name in args.route or route.name == "deployment"]
            check_routes(server.url, token, routes)
            measured: dict[str, dict] = {}
            errors: dict[str, dict] = {}
            for route in routes:
                cpu_before = web_cpu_seconds(server)
                many = wrk(server.url, token, route, args.connections, args.threads, args.duration, folder)
                web_cpu = web_cpu_seconds(server) - cpu_before
                one = one_connection(server.url, token, route, args.single)
                measured[route.name] = {
                    "rps_8": many["rps"],
                    # Requests per CPU-second of the HTTP server's processes under wrk: what one process would
                    # serve with a core to itself (wrk, PostgreSQL and the rest take the others' share here).
                    "rps_per_web_core": round(many["requests"] / web_cpu) if web_cpu > 0 else None,
                    "p50_ms_8": many["p50_ms"],
                    "p99_ms_8": many["p99_ms"],
                    "p50_ms_1": one["p50_ms"],
                    "p99_ms_1": one["p99_ms"],
                }
                if many["non_2xx"] or many["socket_errors"] or one["errors"]:
                    errors[route.name] = {
                        "wrk_non_2xx": many["non_2xx"],
                        "wrk_socket_errors": many["socket_errors"],
                        "single_errors": one["errors"],
                        "first_error": one["first_error"],
                    }
                progress = f"{route.name}: {many['rps']} req/s ({many['requests']} requests), 1 conn {one['p50_ms']} ms"
                print(progress, file=sys.stderr, flush=True)
    reference = measured["deployment"]["rps_8"]
    for result in measured.values():
        result["ratio_to_deployment"] = round(result["rps_8"] / reference, 2) if reference else None
    reads = [name for name in measured if name != "deployment"]
    status = measured.get("linkis_status")
    document = {
        "server": {
            "profile": profile,
            "command": " ".join(sys.argv),
            "cores": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in load_before],
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
            "note": "wrk, the one-connection client and the server share these cores",
            "wrk": wrk_version(),
            "wrk_options": f"-t{args.threads} -c{args.connections} -d{args.duration:g}s --latency",
            "single_requests": args.single,
            "feature_rows": args.rows,
            "feature_keys": args.keys,
            "wall_s": round(time.perf_counter() - wall, 1),
            "code_fingerprint": fingerprint,
            "code_changed_during_run": code_fingerprint("jobs", "artifacts", "featurestore") != fingerprint,
        },
        "routes": measured,
        "targets_met": {
            "every_read_rps_ge_half_deployment": all(measured[n]["ratio_to_deployment"] >= 0.5 for n in reads),
            "below_half": [n for n in reads if measured[n]["ratio_to_deployment"] < 0.5],
            "linkis_status_1conn_p50_le_1_5ms": status["p50_ms_1"] <= 1.5 if status else None,
            "linkis_status_rps_per_web_core": status["rps_per_web_core"] if status else None,
        },
        "errors": errors,
    }
    print(table(measured, args.connections), file=sys.stderr, flush=True)
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
