"""Benchmark of the feature store (OpenMLDB APIServer routes) on both profiles, side by side with Feast.

Loads ``--rows`` rows over ``--keys`` keys (100 per key by default, spread over 30 days) with batch PUTs, DEPLOYs
a request-mode SQL with three windows (``ROWS 2 PRECEDING``, ``ROWS_RANGE 1d``, one ``LAST JOIN``; 7 features)
and measures, on the embedded default (one daphne process, SQLite) and on the production profile (PostgreSQL,
Redis, a Bearer token since anonymous access is off there):

1. engine only: ``plan.output_row`` in a separate process set up on the same database, p50/p99 in µs;
2. HTTP, one keep-alive connection: sequential deployment requests, p50/p99 in ms;
3. HTTP, ``--connections`` connections (asyncio + aiohttp) for ``--duration`` seconds: requests/s, p50/p99;
4. single-row ``PUT`` with ``--connections`` connections for ``--put-duration`` seconds into a second table: rows/s;
5. batch ``PUT``: the load itself (``--batch`` rows per request, one connection): rows/s.

Feast's feature server (``feast serve``, SQLite online store, in ``bench/.venv-feast``, created from
``bench/requirements-feast.txt`` when missing) serves the same 7 features precomputed for the same keys; it is
measured with the same client code (2 and 3) and the summary gives our figures over Feast's. Feast runs with its
default one worker (the embedded default is one daphne process) but ``--max-requests 0``: its default 1000
recycles that only worker every ~1000 requests (second-long stalls, reset connections), see
``--feast-max-requests``. The client shares the machine's cores with the server it measures.

The production profile is served as ``make run`` serves it: gunicorn with ``--web-processes`` sync workers (default:
one per core), where the deployment route takes the WSGI fast path (``--production-server uvicorn``: one uvicorn
process instead); a sync worker closes each connection, so the one-connection client reconnects per request, as a
client of gunicorn without nginx does. The engine figure also reports the SQL statements sent per request
(``statements_per_request``);
``--repeats`` measures the engine and one-connection figures several times and reports the medians;
``--skip-concurrent`` stops after them.

Usage: ``.venv/bin/python bench/featurestore.py [--rows 1000000] [--keys 10000] [--duration 20]
[--skip-production] [--skip-feast] [--production-anonymous] [--bias] [--repeats 3] [--skip-concurrent]``.
Every loop is bounded in count and time; servers run in temporary folders (and a temporary PostgreSQL database)
and are stopped at the end. JSON lines per measurement (with the load average after it), then a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

from stats import Connection, emit, latency_summary, percentile  # noqa: E402
from stats import code_fingerprint as stats_fingerprint  # noqa: E402

from tests.live import LiveServer, free_port, platform_env  # noqa: E402

FEAST_VENV = BENCH / ".venv-feast"
FEAST_REQUIREMENTS = BENCH / "requirements-feast.txt"
FEAST_REPO = BENCH / "feast_repo"
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"

DB = "bench_fs"
DEPLOYMENT = "fraud"
DAY_MS = 86_400_000
SPAN_MS = 30 * DAY_MS
SEGMENTS = ["new", "regular", "gold", "platinum"]
FEATURES = ["sum_amount_2", "cnt_2", "sum_amount_1d", "avg_amount_1d", "max_amount_1d", "segment", "score"]
COLUMNS = "key string, ts timestamp, amount double, cnt int, INDEX(KEY=key, TS=ts)"
DEPLOY_SQL = """DEPLOY fraud {options}SELECT key, amount,
  sum(amount) OVER w2 AS sum_amount_2, count(amount) OVER w2 AS cnt_2,
  sum(amount) OVER w1d AS sum_amount_1d, avg(amount) OVER w1d AS avg_amount_1d,
  max(amount) OVER w1d AS max_amount_1d,
  profile.segment AS segment, profile.score AS score
FROM t1 LAST JOIN profile ORDER BY profile.ts ON t1.key = profile.key
WINDOW w2 AS (PARTITION BY key ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
       w1d AS (PARTITION BY key ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)"""
# What every OpenMLDB demo deploys with (``--bias``). Not needed here: the tables' index TTL is the default
# (absolute 0, keep forever), which DEPLOY keeps since an unbounded TTL wins the merge, so nothing expires.
BIAS = "OPTIONS(RANGE_BIAS='inf', ROWS_BIAS='inf') "


def code_fingerprint() -> str:
    return stats_fingerprint("featurestore")


def latency_ms(values: list[float]) -> dict:
    return latency_summary(values, unit_suffix="", digits=3)


def key_name(index: int) -> str:
    return f"k{index:06d}"


# --- data -------------------------------------------------------------------------------------------------------
class Dataset:
    """``rows`` rows over ``keys`` keys, timestamps spread over the 30 days before ``now_ms``, in time order."""

    def __init__(self, rows: int, keys: int, now_ms: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.keys = [key_name(i) for i in range(keys)]
        self.now_ms = now_ms
        start = now_ms - SPAN_MS - 60_000
        data = [[self.keys[i % keys], start + rng.randrange(SPAN_MS), round(rng.uniform(1, 500), 2),
                 rng.randrange(1, 10)] for i in range(rows)]  # fmt: skip
        data.sort(key=lambda row: row[1])
        self.rows = data
        self.profile = [[key, start + rng.randrange(SPAN_MS), rng.choice(SEGMENTS), round(rng.random(), 4)]
                        for key in self.keys]  # fmt: skip
        self.profile_of = {row[0]: row for row in self.profile}
        # per key: (ts, amount) in time order, for the expected values and Feast's precomputed features
        self.history: dict[str, list[tuple[int, float]]] = {key: [] for key in self.keys}
        for key, ts, amount, _ in data:
            self.history[key].append((ts, amount))

    def batches(self, size: int) -> list[bytes]:
        return [json.dumps({"value": self.rows[i : i + size]}).encode() for i in range(0, len(self.rows), size)]

    def expected(self, key: str, ts: int, amount: float) -> list:
        """The deployment's 7 features for a request row newer than every stored row."""
        history = self.history[key]
        last2 = [a for _, a in history[-2:]]
        day = [a for t, a in history if t >= ts - DAY_MS] + [amount]
        segment, score = self.profile_of[key][2:]
        return [amount + sum(last2), len(last2) + 1, sum(day), sum(day) / len(day), max(day), segment, score]

    def feast_features(self) -> list[dict]:
        """The 7 features per key as of ``now_ms`` (stored rows only), what a batch job would precompute."""
        out = []
        for (key, history), profile in zip(self.history.items(), self.profile, strict=True):
            last2 = [a for _, a in history[-2:]]
            day = [a for t, a in history if t >= self.now_ms - DAY_MS]
            out.append({
                "key": key, "event_ms": self.now_ms - 60_000,
                "sum_amount_2": float(sum(last2)), "cnt_2": len(last2), "sum_amount_1d": float(sum(day)),
                "avg_amount_1d": sum(day) / len(day) if day else 0.0, "max_amount_1d": max(day) if day else 0.0,
                "segment": profile[2], "score": profile[3],
            })  # fmt: skip
        return out


def request_row(keys: list[str], rng: random.Random) -> list:
    return [rng.choice(keys), int(time.time() * 1000), round(rng.uniform(1, 500), 2), rng.randrange(1, 10)]


# --- HTTP clients -----------------------------------------------------------------------------------------------
def check_ours(status: int, data: bytes) -> str | None:
    """None if the answer is HTTP 200 with ``code`` 0, else a short description of what came back."""
    if status != 200:
        return f"HTTP {status}: {data[:200]!r}"
    answer = json.loads(data)
    return None if answer.get("code") == 0 else f"code {answer.get('code')}: {answer.get('msg')}"


def check_feast(status: int, data: bytes) -> str | None:
    if status != 200:
        return f"HTTP {status}: {data[:200]!r}"
    answer = json.loads(data)
    statuses = [s for result in answer["results"] for s in result["statuses"]]
    return None if all(s == "PRESENT" for s in statuses) else f"statuses {statuses}"


def one_connection(url, method, path, make_body, check, count, warmup, headers=None) -> dict:
    """``count`` sequential requests on one keep-alive connection after ``warmup`` unmeasured ones."""
    conn = Connection(url, headers)
    latencies, errors = [], []
    deadline = time.monotonic() + 300
    for i in range(warmup + count):
        if time.monotonic() > deadline:
            break
        seconds, status, data = conn.call(method, path, make_body())
        problem = check(status, data)
        if problem:
            errors.append(problem)
        elif i >= warmup:
            latencies.append(seconds)
    conn.close()
    return {"requests": len(latencies), **{f"{k}_ms": v for k, v in latency_ms(latencies).items() if k != "count"},
            "errors": len(errors), "first_error": errors[0] if errors else None,
            "loadavg_after": [round(value, 2) for value in os.getloadavg()]}  # fmt: skip


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of a process tree, with its reaped children (a recycled worker), from /proc."""
    total = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: everything but idle and iowait)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def concurrent(url, method, path, make_body, check, connections, duration, server_pid, headers=None,
               warmup=1.0) -> dict:  # fmt: skip
    """``connections`` keep-alive connections (aiohttp, one event loop) sending back to back for ``duration`` s."""
    import aiohttp

    async def run() -> dict:
        latencies: list[float] = []
        errors: list[str] = []
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        connector = aiohttp.TCPConnector(limit=connections, force_close=False)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, headers=all_headers, timeout=timeout) as session:
            begin = time.perf_counter()
            measure_from = begin + warmup
            stop_at = measure_from + duration
            marks: dict[str, float] = {}
            warm_ok = [0]

            async def mark() -> None:
                await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
                marks.update(busy=machine_busy_seconds(), client=time.process_time())
                marks["server"] = tree_cpu_seconds(server_pid)

            async def worker() -> None:
                while time.perf_counter() < stop_at:
                    body = make_body()
                    started = time.perf_counter()
                    try:
                        async with session.request(method, url + path, data=body) as response:
                            data = await response.read()
                            status = response.status
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        errors.append(repr(exc))
                        continue
                    finished = time.perf_counter()
                    problem = check(status, data)
                    if started < measure_from:
                        warm_ok[0] += problem is None
                    elif problem:
                        errors.append(problem)
                    else:
                        latencies.append(finished - started)

            await asyncio.gather(mark(), *(worker() for _ in range(connections)))
            elapsed = time.perf_counter() - measure_from
            server_cpu = tree_cpu_seconds(server_pid) - marks["server"]
            client_cpu = time.process_time() - marks["client"]
            other_cpu = machine_busy_seconds() - marks["busy"] - server_cpu - client_cpu
        summary = latency_ms(latencies)
        return {
            "connections": connections,
            "duration_s": round(elapsed, 1),
            "requests": len(latencies),
            "rps": round(len(latencies) / elapsed, 1),
            **{f"{k}_ms": v for k, v in summary.items() if k != "count"},
            "errors": len(errors),
            "first_error": errors[0] if errors else None,
            "acknowledged_with_warmup": warm_ok[0] + len(latencies),
            "server_cpu_pct": round(100 * server_cpu / elapsed, 1),
            "client_cpu_pct": round(100 * client_cpu / elapsed, 1),
            "other_cpu_pct": round(100 * other_cpu / elapsed, 1),
        }

    return asyncio.run(run())


# --- the platform -----------------------------------------------------------------------------------------------
class Platform:
    """One profile's server plus the OpenMLDB calls the benchmark makes."""

    def __init__(self, server: LiveServer, headers: dict[str, str]) -> None:
        self.server = server
        self.url = server.url
        self.headers = headers
        self.conn = Connection(server.url, headers)

    def call(self, method: str, path: str, body: dict | bytes) -> dict:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        _, status, data = self.conn.call(method, path, raw)
        if status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {status} {data[:300]!r}")
        return json.loads(data)

    def sql(self, statement: str) -> dict:
        answer = self.call("POST", f"/dbs/{DB}", {"mode": "online", "sql": statement})
        if answer.get("code") != 0:
            raise RuntimeError(f"SQL failed: code {answer.get('code')}, msg {answer.get('msg')!r}: {statement}")
        return answer

    def setup(self, bias: bool) -> None:
        self.sql(f"CREATE DATABASE {DB}")
        self.sql(f"CREATE TABLE t1 ({COLUMNS})")
        self.sql(f"CREATE TABLE t1_put ({COLUMNS})")
        self.sql("CREATE TABLE profile (key string, ts timestamp, segment string, score double, INDEX(KEY=key, TS=ts))")
        self.sql(DEPLOY_SQL.format(options=BIAS if bias else ""))

    def put(self, table: str, body: bytes) -> dict:
        return self.call("PUT", f"/dbs/{DB}/tables/{table}", body)


def load(platform: Platform, data: Dataset, batch: int) -> dict:
    answer = platform.put("profile", json.dumps({"value": data.profile}).encode())
    if answer.get("code") != 0:
        raise RuntimeError(f"profile PUT failed: {answer}")
    bodies = data.batches(batch)
    started = time.perf_counter()
    latencies = []
    for body in bodies:
        t0 = time.perf_counter()
        answer = platform.put("t1", body)
        latencies.append(time.perf_counter() - t0)
        if answer.get("code") != 0:
            raise RuntimeError(f"batch PUT failed: code {answer.get('code')}, msg {answer.get('msg')!r}")
    elapsed = time.perf_counter() - started
    return {
        "rows": len(data.rows),
        "batch_rows": batch,
        "requests": len(bodies),
        "load_seconds": round(elapsed, 2),
        "put_batch_rows_per_s": round(len(data.rows) / elapsed),
        "per_request_ms": {k: v for k, v in latency_ms(latencies).items() if k != "count"},
    }


def spot_check(platform: Platform, data: Dataset, count: int = 50) -> dict:
    """Compare a few deployment answers with the features computed here from the loaded rows."""
    rng = random.Random(11)
    mismatches = []
    for _ in range(count):
        row = request_row(data.keys, rng)
        answer = platform.call("POST", f"/dbs/{DB}/deployments/{DEPLOYMENT}", {"input": [row]})
        if answer.get("code") != 0:
            mismatches.append({"row": row, "answer": answer})
            continue
        got = answer["data"]["data"][0]
        want = [row[0], row[2], *data.expected(row[0], row[1], row[2])]
        same = len(got) == len(want) and all(
            abs(g - w) < 1e-6 * max(1, abs(w)) if isinstance(w, float) and isinstance(g, int | float) else g == w
            for g, w in zip(got, want, strict=False)
        )
        if not same:
            mismatches.append({"row": row, "got": got, "want": want})
    return {"checked": count, "mismatches": len(mismatches), "first_mismatch": mismatches[0] if mismatches else None}


def engine_only(env: dict[str, str], keys: int, calls: int) -> dict:
    """Run the in-process engine measurement in a child process set up on the server's database."""
    spec = json.dumps({"keys": keys, "calls": calls})
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--engine-child", spec],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"engine child failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def engine_child(spec: dict) -> None:
    import django

    from dataplatform.profiles import default_settings_module

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_settings_module())
    django.setup()
    from django.conf import settings
    from django.db import connection

    from featurestore import services

    found = services.deployment_plan(db=DB, name=DEPLOYMENT)
    if found is None:
        raise SystemExit(f"deployment {DEPLOYMENT} not found in {DB}")
    _, plan = found
    keys = [key_name(i) for i in range(spec["keys"])]
    rng = random.Random(5)
    warmup = min(500, spec["calls"])
    timings = []
    for i in range(warmup + spec["calls"]):
        row = request_row(keys, rng)
        started = time.perf_counter_ns()
        plan.output_row(list(row))
        elapsed = time.perf_counter_ns() - started
        if i >= warmup:
            timings.append(elapsed / 1000)
    print(json.dumps({
        "settings": settings.SETTINGS_MODULE, "database": connection.vendor, "calls": len(timings),
        "statements_per_request": statements_per_request(plan, keys, rng),
        "p50": round(percentile(timings, 50), 1), "p99": round(percentile(timings, 99), 1),
        "max": round(max(timings), 1), "mean": round(statistics.fmean(timings), 1),
        "loadavg_after": [round(value, 2) for value in os.getloadavg()],
    }))  # fmt: skip


class GunicornServer(LiveServer):
    """The production profile's HTTP as ``make run`` serves it (``scripts/run_production.py``): gunicorn with
    ``workers`` sync WSGI workers, where the OpenMLDB hot routes take the WSGI fast path. Without nginx in front:
    the benchmark measures the web process."""

    def __init__(self, data_dir: Path, workers: int, **env: str) -> None:
        super().__init__(data_dir, **env)
        self.workers = workers

    def start(self, timeout: float = 120) -> LiveServer:
        self._manage("migrate", "--noinput")
        self._manage("bootstrap_admin")
        argv = [sys.executable, "-m", "gunicorn", "dataplatform.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers), "--worker-class", "sync", "--timeout", "600"]  # fmt: skip
        self.process = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
        threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {''.join(self.lines)[-3000:]}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=10).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not become healthy in time")


def medians(runs: list[dict], *keys: str, names: tuple[str, ...] | None = None) -> dict:
    """The median over the runs of each figure (one run: its figures)."""
    names = names or keys
    return {name: round(statistics.median(run[key] for run in runs), 3) for key, name in zip(keys, names, strict=True)}


def statements_per_request(plan, keys: list[str], rng: random.Random, calls: int = 20) -> float:
    """SQL statements the engine sends per request, counted on the DB-API cursors it takes from storage (and, since
    issue 19, at ``storage.fetch_all``, which every request-mode read goes through)."""
    from featurestore import storage

    counted = [0]
    original_connection = storage.raw_connection
    original_fetch = getattr(storage, "fetch_all", None)

    class CountingCursor:
        def __init__(self, cursor) -> None:
            self.cursor = cursor

        def execute(self, *args, **kwargs):
            counted[0] += 1
            return self.cursor.execute(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(self.cursor, name)

    class Counting:
        def __init__(self, raw) -> None:
            self.raw = raw

        def cursor(self, *args, **kwargs):
            return CountingCursor(self.raw.cursor(*args, **kwargs))

    if original_fetch is not None:

        def counting_fetch(*args, **kwargs):
            counted[0] += 1
            return original_fetch(*args, **kwargs)

        storage.fetch_all = counting_fetch
    else:  # the code before issue 19: a DB-API cursor per scan
        storage.raw_connection = lambda: Counting(original_connection())
    try:
        for _ in range(calls):
            plan.output_row(request_row(keys, rng))
    finally:
        storage.raw_connection = original_connection
        if original_fetch is not None:
            storage.fetch_all = original_fetch
    return counted[0] / calls


def measure_profile(name: str, env: dict[str, str], data: Dataset, args, token: bool) -> dict:
    result: dict = {"profile": name}
    with tempfile.TemporaryDirectory(prefix=f"bench-fs-{name}-") as data_dir:
        if name == "production" and args.production_server == "gunicorn":
            server: LiveServer = GunicornServer(Path(data_dir), args.web_processes, LOG_LEVEL="WARNING", **env)
            result["server"] = f"gunicorn, {args.web_processes} sync workers (WSGI fast path)"
        else:
            server = LiveServer(Path(data_dir), LOG_LEVEL="WARNING", **env)
            result["server"] = "uvicorn, one process (ASGI fast path)"
        with server:
            headers = {"Authorization": f"Bearer {server.token()}"} if token else {}
            result["auth"] = "Bearer token" if token else "anonymous"
            platform = Platform(server, headers)
            platform.setup(bias=args.bias)
            loaded = load(platform, data, args.batch)
            result.update(load_seconds=loaded["load_seconds"], put_batch_rows_per_s=loaded["put_batch_rows_per_s"])
            emit({"profile": name, "measure": "batch_put_load", **loaded})
            check = spot_check(platform, data)
            result["spot_check"] = check
            emit({"profile": name, "measure": "spot_check", **check})

            engine_env = platform_env(Path(data_dir), **env)
            engines = []
            for run in range(args.repeats):
                engine = engine_only(engine_env, len(data.keys), args.engine_calls)
                engines.append(engine)
                emit({"profile": name, "measure": "engine_us", "run": run + 1, **engine})
            result["engine_us"] = medians(engines, "p50", "p99")
            result["engine_us"]["statements_per_request"] = engines[0]["statements_per_request"]
            if args.repeats > 1:
                result["engine_us"]["runs_p99"] = [engine["p99"] for engine in engines]

            rng = random.Random(3)
            path = f"/dbs/{DB}/deployments/{DEPLOYMENT}"

            def feature_body() -> bytes:
                return json.dumps({"input": [request_row(data.keys, rng)]}).encode()

            ones = []
            for run in range(args.repeats):
                one = one_connection(server.url, "POST", path, feature_body, check_ours, args.requests, 200, headers)
                ones.append(one)
                emit({"profile": name, "measure": "http_1conn", "run": run + 1, **one})
            result["http_1conn_ms"] = medians(ones, "p50_ms", "p99_ms", names=("p50", "p99"))
            if args.repeats > 1:
                result["http_1conn_ms"]["runs_p99"] = [one["p99_ms"] for one in ones]
            if args.skip_concurrent:
                return result

            pid = server.process.pid
            many = concurrent(server.url, "POST", path, feature_body, check_ours, args.connections, args.duration,
                              pid, headers)  # fmt: skip
            result["http_16conn"] = {"rps": many["rps"], "p50_ms": many["p50_ms"], "p99_ms": many["p99_ms"]}
            emit({"profile": name, "measure": f"http_{args.connections}conn", **many})

            def put_body() -> bytes:
                return json.dumps({"value": [request_row(data.keys, rng)]}).encode()

            puts = concurrent(server.url, "PUT", f"/dbs/{DB}/tables/t1_put", put_body, check_ours, args.connections,
                              args.put_duration, pid, headers)  # fmt: skip
            try:
                stored = platform.sql("SELECT count(*) AS n FROM t1_put")["data"]["data"][0][0]
            except (RuntimeError, KeyError, IndexError) as exc:
                stored = f"not counted: {exc}"
            puts["rows_in_table"] = stored
            result["put_single_rows_per_s"] = puts["rps"]
            result["put_single"] = puts
            emit({"profile": name, "measure": f"put_single_{args.connections}conn", **puts})
            result["server_output_lines"] = len(server.lines)
            errors = [line.strip() for line in server.lines if " ERROR " in line]
            result["server_error_lines"] = len(errors)
            # distinct messages, without the leading date and time
            result["server_errors"] = list(dict.fromkeys(line[24:324] for line in errors))[:5]
    return result


def production_env(anonymous: bool) -> tuple[dict[str, str], Callable[[], None]]:
    """A fresh PostgreSQL database and the production profile's environment; returns (env, cleanup).

    Redis keys get a prefix of their own (the cache and channel layer share DB 14 with other users), removed at
    the end with the database.
    """
    import psycopg
    import redis

    name = f"bench_featurestore_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{name}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])

    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CACHE_KEY_PREFIX": name,
        "CHANNEL_LAYER_PREFIX": name,
    }
    if anonymous:
        env["OPENMLDB_ALLOW_ANONYMOUS"] = "true"
    return env, drop


# --- Feast ------------------------------------------------------------------------------------------------------
def ensure_feast_venv() -> Path:
    """Create bench/.venv-feast from requirements-feast.txt unless it already matches them."""
    digest = hashlib.sha256(FEAST_REQUIREMENTS.read_bytes()).hexdigest()
    marker = FEAST_VENV / "requirements.sha256"
    if marker.exists() and marker.read_text().strip() == digest and (FEAST_VENV / "bin" / "feast").exists():
        return FEAST_VENV
    if not (FEAST_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(FEAST_VENV)], check=True, timeout=300)
    pip = [str(FEAST_VENV / "bin" / "python"), "-m", "pip", "install", "-qq", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(FEAST_REQUIREMENTS)], check=True, timeout=1800)
    marker.write_text(digest + "\n")
    return FEAST_VENV


class FeastServer:
    """``feast serve`` on 127.0.0.1 for a repo made in a temporary folder from bench/feast_repo."""

    def __init__(self, workdir: Path, features: list[dict], workers: int, max_requests: int) -> None:
        self.repo = workdir / "repo"
        self.features = features
        self.workers = workers
        self.max_requests = max_requests
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = workdir / "feast-serve.log"

    def _run(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run(
            args, cwd=self.repo, capture_output=True, text=True, timeout=timeout, check=False, env=self._env()
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {result.stdout[-1500:]} {result.stderr[-1500:]}")
        return result.stdout

    def _env(self) -> dict[str, str]:
        drop = ("VIRTUAL_ENV", "PYTHONPATH", "DJANGO_SETTINGS_MODULE")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env["PATH"] = f"{FEAST_VENV / 'bin'}:{env.get('PATH', '')}"
        env["FEAST_USAGE"] = "False"
        return env

    def prepare(self) -> dict:
        venv = ensure_feast_venv()
        feast = str(venv / "bin" / "feast")
        (self.repo / "data").mkdir(parents=True)
        for name in ("feature_store.yaml", "features.py"):
            shutil.copy(FEAST_REPO / name, self.repo / name)
        lines = self.repo.parent / "features.jsonl"
        lines.write_text("".join(json.dumps(row) + "\n" for row in self.features))
        started = time.perf_counter()
        self._run(str(venv / "bin" / "python"), str(FEAST_REPO / "make_data.py"), str(lines),
                  str(self.repo / "data" / "features.parquet"))  # fmt: skip
        self._run(feast, "apply")
        event = min(row["event_ms"] for row in self.features)
        start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(event / 1000 - 3600))
        end = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 60))
        self._run(feast, "materialize", start, end)
        version = self._run(str(venv / "bin" / "python"), "-c", "import feast; print(feast.__version__)").strip()
        return {"feast_version": version, "setup_s": round(time.perf_counter() - started, 1)}

    def start(self, timeout: float = 120) -> None:
        command = [str(FEAST_VENV / "bin" / "feast"), "serve", "-h", "127.0.0.1", "-p", str(self.port),
                   "--no-access-log", "-w", str(self.workers), "--max-requests", str(self.max_requests)]  # fmt: skip
        self.command = " ".join(["feast", *command[1:]])
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, cwd=self.repo, env=self._env(), stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"feast serve exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"feast serve did not become healthy: {self.log.read_text()[-2000:]}")

    def worker_processes(self) -> int:
        return len(process_tree(self.process.pid)) - 1 if self.process else 0

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        self.process = None


def measure_feast(data: Dataset, args) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-fs-feast-") as workdir:
        server = FeastServer(Path(workdir), data.feast_features(), args.feast_workers, args.feast_max_requests)
        result = server.prepare()
        try:
            server.start()
            result.update(
                command=server.command,
                workers_option=args.feast_workers,
                max_requests_option=args.feast_max_requests,
                processes=1 + server.worker_processes(),
                server="gunicorn master + uvicorn_worker.UvicornWorker worker(s)",
            )
            emit({"profile": "feast", "measure": "setup", **result})
            rng = random.Random(3)
            refs = [f"fraud:{name}" for name in FEATURES]

            def body() -> bytes:
                return json.dumps({"features": refs, "entities": {"key": [rng.choice(data.keys)]}}).encode()

            sample = Connection(server.url).call("POST", "/get-online-features", body())
            result["sample_answer"] = json.loads(sample[2])
            one = one_connection(server.url, "POST", "/get-online-features", body, check_feast, args.requests, 200)
            result["http_1conn_ms"] = {"p50": one["p50_ms"], "p99": one["p99_ms"]}
            emit({"profile": "feast", "measure": "http_1conn", **one})
            many = concurrent(server.url, "POST", "/get-online-features", body, check_feast, args.connections,
                              args.duration, server.process.pid)  # fmt: skip
            result["http_16conn"] = {"rps": many["rps"], "p50_ms": many["p50_ms"], "p99_ms": many["p99_ms"]}
            emit({"profile": "feast", "measure": f"http_{args.connections}conn", **many})
            result["processes_after"] = 1 + server.worker_processes()
        finally:
            server.stop()
    return result


# --- summary ----------------------------------------------------------------------------------------------------
def ratios(ours: dict, feast: dict) -> dict:
    return {
        "rps_ours_over_feast": round(ours["http_16conn"]["rps"] / feast["http_16conn"]["rps"], 2),
        "p99_16conn_ours_over_feast": round(ours["http_16conn"]["p99_ms"] / feast["http_16conn"]["p99_ms"], 2),
        "p99_1conn_ours_over_feast": round(ours["http_1conn_ms"]["p99"] / feast["http_1conn_ms"]["p99"], 2),
    }


def targets(ours: dict, feast: dict | None) -> dict:
    met = {
        "engine_p99_le_200us": ours["engine_us"]["p99"] <= 200,
        "http_1conn_p99_le_5ms": ours["http_1conn_ms"]["p99"] <= 5,
        "put_batch_ge_50000_rows_s": ours["put_batch_rows_per_s"] >= 50_000,
    }
    if "put_single_rows_per_s" in ours:
        met["put_single_ge_1000_rows_s"] = ours["put_single_rows_per_s"] >= 1000
    if ours["profile"] == "production":  # issue 19: one round trip per request on PostgreSQL
        met["pg_engine_p99_le_300us"] = ours["engine_us"]["p99"] <= 300
        met["pg_http_1conn_p99_le_3ms"] = ours["http_1conn_ms"]["p99"] <= 3
    if feast and "http_16conn" in feast and "http_16conn" in ours:
        met["rps_ge_feast"] = ours["http_16conn"]["rps"] >= feast["http_16conn"]["rps"]
        met["p99_16conn_le_feast"] = ours["http_16conn"]["p99_ms"] <= feast["http_16conn"]["p99_ms"]
        met["p99_1conn_le_feast"] = ours["http_1conn_ms"]["p99"] <= feast["http_1conn_ms"]["p99"]
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--production-rows", type=int, help="rows for the production profile (default: --rows)")
    parser.add_argument("--batch", type=int, default=10_000, help="rows per batch PUT")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the concurrent feature requests")
    parser.add_argument("--put-duration", type=float, default=10.0, help="seconds of the single-row PUTs")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000, help="sequential requests on one connection")
    parser.add_argument("--engine-calls", type=int, default=5000)
    parser.add_argument("--bias", action="store_true", help="DEPLOY with OPTIONS(RANGE_BIAS, ROWS_BIAS='inf')")
    parser.add_argument(
        "--production-anonymous", action="store_true", help="OPENMLDB_ALLOW_ANONYMOUS=true instead of a Bearer token"
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs of the engine and 1-connection figures (medians)")
    parser.add_argument(
        "--production-server", choices=("gunicorn", "uvicorn"), default="gunicorn",
        help="the production profile's HTTP server (make run: gunicorn sync workers)",
    )  # fmt: skip
    parser.add_argument("--web-processes", type=int, default=os.cpu_count() or 1, help="gunicorn workers")
    parser.add_argument("--skip-concurrent", action="store_true", help="only the engine and one-connection figures")
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--skip-production", action="store_true")
    parser.add_argument("--skip-feast", action="store_true")
    parser.add_argument("--feast-workers", type=int, default=1, help="feast serve -w (its default is 1)")
    parser.add_argument(
        "--feast-max-requests", type=int, default=0, help="feast serve --max-requests (its default 1000; 0: never)"
    )
    parser.add_argument("--engine-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine_child:
        engine_child(json.loads(args.engine_child))
        return

    wall = time.perf_counter()
    fingerprint = code_fingerprint()
    load_before = os.getloadavg()
    now_ms = int(time.time() * 1000)
    data = Dataset(args.rows, args.keys, now_ms)
    emit({"measure": "dataset", "rows": args.rows, "keys": args.keys, "span_days": 30,
          "made_in_s": round(time.perf_counter() - wall, 1)})  # fmt: skip
    summary: dict = {
        "command": " ".join(sys.argv),
        "machine": {
            "cores": os.cpu_count(),
            "loadavg_at_start": load_before,
            "note": "client and servers share these cores",
        },
        "rows": args.rows,
        "keys": args.keys,
        "deploy_options": BIAS.strip() if args.bias else "none",
    }
    profiles = {}
    if not args.skip_embedded:
        profiles["embedded"] = measure_profile("embedded", {}, data, args, token=False)
    if not args.skip_production:
        prod_data = data
        if args.production_rows and args.production_rows != args.rows:
            prod_data = Dataset(args.production_rows, args.keys, now_ms)
        env, drop = production_env(args.production_anonymous)
        try:
            token = not args.production_anonymous
            profiles["production"] = measure_profile("production", env, prod_data, args, token=token)
            profiles["production"]["rows"] = len(prod_data.rows)
        finally:
            drop()
    feast = None
    if not args.skip_feast:
        try:
            feast = measure_feast(data, args)
        except Exception as exc:  # report Feast's failure with our figures rather than losing them
            feast = {"error": f"{type(exc).__name__}: {exc}"[:3000]}
            emit({"profile": "feast", "measure": "error", **feast})
        summary["feast"] = {k: v for k, v in feast.items() if k != "sample_answer"}
    for result in profiles.values():
        if feast and "http_16conn" in feast and "http_16conn" in result:
            result["ours_over_feast"] = ratios(result, feast)
        result["targets_met"] = targets(result, feast)
    summary["profiles"] = profiles
    summary["wall_s"] = round(time.perf_counter() - wall, 1)
    summary["code_fingerprint"] = fingerprint
    summary["code_changed_during_run"] = code_fingerprint() != fingerprint
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
