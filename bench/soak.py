"""Soak of the embedded default under a mixed load, watching the server's memory (issue 19, part 5).

Starts the platform as ``make run`` serves it (one uvicorn process, SQLite in WAL mode, the in-memory channel
layer, the in-process job runner; tests/live.py's ``LiveServer`` in a temporary DATA_DIR), sets up what the
read routes need as bench/http_routes.py does (a Linkis shell job, an OpenPAI job ``bench``, a feature-store
database with its deployment) plus a table ``soak_put`` for the single-row writes, and then, for ``--duration``
seconds, runs at once (every client closed-loop on a keep-alive connection):

- ``--readers`` threads reading, in turn: Linkis status, progress and log of a recent job, the Linkis job history,
  the OpenPAI job ``bench`` and the OpenPAI job list, the CDAP artifact and application lists;
- ``--submitters`` threads submitting Linkis shell jobs (``echo ok``) over HTTP, each polling its job's status
  until it is final, so that every job runs to completion;
- ``--ws-submitters`` WebSocket clients submitting the same jobs with ``execute`` frames and waiting for the final
  status frame (a new socket every ``--ws-jobs-per-socket`` jobs: the consumer joins and leaves job groups);
- ``--putters`` threads writing single-row ``PUT``s into ``soak_put``, a new key per row;
- ``--deployers`` threads calling the deployment (two windows and a ``LAST JOIN``).

Every ``--interval`` seconds (10) it samples the server process's RSS (``VmRSS`` of the uvicorn process: that
process is the whole server, runner included; the job processes it starts are children that live for a job's few
milliseconds, so they are sampled apart, as ``children_mb``, and left out of the figures), its threads and open
descriptors, and what the clients counted; the samples go to ``--csv`` and a table on stderr. After the load it
keeps sampling for ``--cooldown`` seconds (memory kept once the load stops), then checks that every job is final
(counted by final status from the job history) and that every acknowledged ``PUT`` row is in the table.

Figures: RSS at the end of ``--warmup`` (default a fifth of the duration), at the end of the load and after the
cooldown; the growth after warm-up in % and in MB per minute (least squares over the samples after warm-up);
KB kept per job and per thousand requests after warm-up.

Diagnosis: ``--probe`` gives the server a hook (a ``sitecustomize`` on its PYTHONPATH, nothing in the platform)
that on SIGUSR2 collects garbage and records the live objects per type, glibc's ``mallinfo2`` (bytes in use and
free in malloc's arenas), pymalloc's blocks and the threads; after the cooldown it also calls ``malloc_trim(0)``
and records the RSS after it (memory malloc held free, not memory kept by the program). The soak probes at the end
of warm-up, at the end of the load and after the cooldown, and prints the figures and the types that grew.
``--tracemalloc N`` does the same and starts tracemalloc (N frames) at the first probe, so that every later one
holds what was allocated after warm-up and is still alive, by allocation site; tracing costs CPU and memory (its
own tables grow with every new traceback), so measure the slope without it.

Usage: ``.venv/bin/python bench/soak.py --duration 1800 [--warmup 300] [--csv soak.csv] [--probe | --tracemalloc 25]``.
Every loop is bounded in count and time; the server runs in a temporary DATA_DIR and is stopped at the end. One
JSON document on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import csv
import http.client
import importlib.util
import json
import os
import random
import signal
import sys
import tempfile
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

from stats import Connection, code_fingerprint, latency_summary  # noqa: E402

from tests.live import LiveServer  # noqa: E402


def _bench_module(name: str):
    """A sibling benchmark loaded by path (``jobs`` and ``featurestore`` are also the platform's packages)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


http_routes = _bench_module("http_routes")
bench_jobs = _bench_module("jobs")
bench_fs = _bench_module("featurestore")

E = http_routes.E
DB = http_routes.DB
FINAL = http_routes.FINAL
PREFIX = f"{E}/"
PUT_TABLE = "soak_put"
SHELL_BODY = json.dumps(
    {"executionContent": {"code": "echo ok", "runType": "sh"}, "labels": {"engineType": "shell-1"}}
).encode()

# The server-side hook of --probe: a sitecustomize on the server's PYTHONPATH (only the uvicorn process).
SITECUSTOMIZE = """
import os, sys

if os.environ.get("SOAK_PROBE_DIR") and "uvicorn" in " ".join(getattr(sys, "orig_argv", sys.argv)):
    import collections, ctypes, gc, json, signal, threading, time, tracemalloc

    _count = [0]
    _frames = int(os.environ.get("SOAK_TRACEMALLOC_FRAMES", "0"))
    _fields = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    _fields += ("keepcost",)

    class _MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in _fields]

    _libc = ctypes.CDLL("libc.so.6")
    _libc.mallinfo2.restype = _MallInfo2
    _libc.malloc_trim.argtypes = [ctypes.c_size_t]
    _libc.fopen.restype = ctypes.c_void_p
    _libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    _libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    _libc.fclose.argtypes = [ctypes.c_void_p]
    try:
        _sqlite = ctypes.CDLL("libsqlite3.so.0")
    except OSError:
        _sqlite = None

    def _sqlite_memory():
        if _sqlite is None:
            return None
        current, highest = ctypes.c_int64(), ctypes.c_int64()
        _sqlite.sqlite3_status64(0, ctypes.byref(current), ctypes.byref(highest), 0)  # SQLITE_STATUS_MEMORY_USED
        return [current.value, highest.value]

    def _name(kind):
        return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', kind.__name__)}"

    def _rss_kb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    def _pymalloc():  # what sys._debugmallocstats() says of pymalloc's arenas (it writes to the C stderr)
        import tempfile

        with tempfile.TemporaryFile(mode="w+") as out:
            saved = os.dup(2)
            os.dup2(out.fileno(), 2)
            try:
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            out.seek(0)
            text = out.read()
        figures = {}
        for line in text.splitlines():
            name, equals, value = line.rpartition("=")
            if equals and name.startswith("#"):
                try:
                    figures[" ".join(name.strip("# ").split())] = int(value.strip().replace(",", ""))
                except ValueError:
                    pass
        return figures

    def _take():
        gc.collect()
        _count[0] += 1
        base = os.path.join(os.environ["SOAK_PROBE_DIR"], f"probe-{_count[0]}")
        if tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot()
            snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)]).dump(base + ".snapshot")
        info = _libc.mallinfo2()
        found = {
            "types": dict(collections.Counter(_name(type(o)) for o in gc.get_objects())),
            "mallinfo2": {name: getattr(info, name) for name in _fields},
            "allocated_blocks": sys.getallocatedblocks(),
            "sqlite_memory": _sqlite_memory(),
            "pymalloc": _pymalloc(),
            "threads": sorted(t.name for t in threading.enumerate()),
            "traced": tracemalloc.get_traced_memory() if tracemalloc.is_tracing() else None,
            "rss_kb": _rss_kb(),
        }
        if os.environ.get("SOAK_PROBE_TRIM") and _count[0] >= 3:  # what malloc_trim gives back after the cooldown
            started = time.perf_counter()
            _libc.malloc_trim(0)
            found["malloc_trim_ms"] = (time.perf_counter() - started) * 1000
            found["rss_after_malloc_trim_kb"] = _rss_kb()
        stream = _libc.fopen((base + ".malloc.xml").encode(), b"w")
        if stream:
            _libc.malloc_info(0, stream)
            _libc.fclose(stream)
        with open(base + ".tmp", "w") as out:
            json.dump(found, out)
        if _frames and not tracemalloc.is_tracing():
            tracemalloc.start(_frames)
        os.rename(base + ".tmp", base + ".json")

    def _probe(signum, frame):
        try:  # an exception here would end the server's event loop
            _take()
        except Exception as exc:
            print(f"soak probe failed: {exc!r}", file=sys.stderr, flush=True)

    signal.signal(signal.SIGUSR2, _probe)
"""


# --- the server's memory ----------------------------------------------------------------------------------------
def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and its parts (anonymous, file-backed, shared memory; kB) and Threads of a process, from /proc."""
    found: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return found
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"):
            found[name] = int(value.split()[0])
    return found


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def children_rss_kb(pid: int) -> int:
    total = 0
    for child in bench_fs.process_tree(pid)[1:]:
        total += proc_status(child).get("VmRSS", 0)
    return total


# --- the load ---------------------------------------------------------------------------------------------------
class Counters:
    """What the clients did, shared between their threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.first_errors: list[str] = []
        self.job_ids: list[int] = []
        self.job_final: collections.Counter[str] = collections.Counter()
        self.recent_jobs: collections.deque[str] = collections.deque(maxlen=500)
        self.acked_rows: list[str] = []
        self.latencies: dict[str, list[float]] = collections.defaultdict(list)

    def request(self, kind: str, seconds: float | None = None) -> None:
        with self.lock:
            self.requests[kind] += 1
            if seconds is not None and len(self.latencies[kind]) < 200_000:
                self.latencies[kind].append(seconds)

    def error(self, kind: str, detail: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            if len(self.first_errors) < 20:
                self.first_errors.append(f"{kind}: {detail[:300]}")

    def total_requests(self) -> int:
        with self.lock:
            return sum(self.requests.values())

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {
                "requests": sum(self.requests.values()),
                "errors": sum(self.errors.values()),
                "jobs": len(self.job_ids),
                "jobs_final": sum(self.job_final.values()),
                "rows": len(self.acked_rows),
            }


class Load:
    def __init__(self, url: str, ws_url: str, token: str, pai_name: str, deploy_row: list, keys: int) -> None:
        self.url, self.ws_url, self.token = url, ws_url, token
        self.headers = {"Authorization": f"Bearer {token}"}
        self.pai_name = pai_name
        self.deploy_row = deploy_row
        self.keys = keys
        self.counters = Counters()
        self.stop = threading.Event()
        self.fixed_job: str | None = None  # Linkis reads of this job only, instead of recent ones

    def _call(self, conn: Connection, kind: str, method: str, path: str, body: bytes | None, check) -> dict | None:
        """One request; counted, its problem (``check``) counted as an error. The parsed JSON body, or None."""
        try:
            seconds, status, data = conn.call(method, path, body)
        except (OSError, http.client.HTTPException) as exc:
            self.counters.error(kind, repr(exc))
            conn.close()  # the next request opens a new connection
            time.sleep(0.5)
            return None
        problem = check(status, data)
        if problem:
            self.counters.error(kind, problem)
            return None
        self.counters.request(kind, seconds)
        try:
            return json.loads(data)
        except ValueError:
            return {}

    @staticmethod
    def _linkis(status: int, data: bytes) -> str | None:
        return http_routes.Route("", "", "linkis").problem(status, data)

    @staticmethod
    def _openmldb(status: int, data: bytes) -> str | None:
        return http_routes.Route("", "", "openmldb").problem(status, data)

    @staticmethod
    def _plain(status: int, data: bytes) -> str | None:
        return http_routes.Route("", "", "plain").problem(status, data)

    # --- readers ---
    def reader(self, seed: int) -> None:
        rng = random.Random(seed)
        conn = Connection(self.url, self.headers)
        routes = [
            ("linkis_status", "{job}/status", self._linkis),
            ("linkis_progress", "{job}/progress", self._linkis),
            ("linkis_log", "{job}/log?fromLine=1&size=100", self._linkis),
            ("linkis_history", "/api/rest_j/v1/jobhistory/list", self._linkis),
            ("pai_job", f"/api/v1/jobs/{self.pai_name}", self._plain),
            ("pai_jobs", "/api/v1/jobs", self._plain),
            ("cdap_artifacts", "/v3/namespaces/default/artifacts", self._plain),
            ("cdap_apps", "/v3/namespaces/default/apps", self._plain),
        ]
        while not self.stop.is_set():
            for kind, path, check in routes:
                if "{job}" in path:
                    with self.counters.lock:
                        recent = [self.fixed_job] if self.fixed_job else list(self.counters.recent_jobs)
                    if not recent:
                        continue
                    path = f"{E}/" + path.format(job=rng.choice(recent))
                self._call(conn, kind, "GET", path, None, check)
        conn.close()

    # --- jobs ---
    def _job_done(self, task_id: int, exec_id: str, status: str | None) -> None:
        with self.counters.lock:
            self.counters.job_final[status if status in FINAL else "not_final"] += 1
            self.counters.recent_jobs.append(exec_id)

    def submitter(self) -> None:
        conn = Connection(self.url, self.headers)
        while not self.stop.is_set():
            answer = self._call(conn, "linkis_submit", "POST", f"{E}/submit", SHELL_BODY, self._linkis)
            if answer is None:
                time.sleep(0.5)
                continue
            exec_id, task_id = answer["data"]["execID"], answer["data"]["taskID"]
            with self.counters.lock:
                self.counters.job_ids.append(task_id)
            status = None
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                answer = self._call(conn, "linkis_status", "GET", f"{E}/{exec_id}/status", None, self._linkis)
                status = answer["data"]["status"] if answer else None
                if status in FINAL:
                    break
                time.sleep(0.05)
            self._job_done(task_id, exec_id, status)
        conn.close()

    def ws_submitter(self, per_socket: int) -> None:
        asyncio.run(self._ws_submitter(per_socket))

    async def _ws_submitter(self, per_socket: int) -> None:
        while not self.stop.is_set():
            try:
                async with websockets.connect(
                    f"{self.ws_url}/ws/api/entrance/connect", additional_headers=self.headers, max_queue=None
                ) as ws:
                    for index in range(per_socket):
                        if self.stop.is_set():
                            break
                        await self._ws_job(ws, index)
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                self.counters.error("ws", repr(exc))
                await asyncio.sleep(0.5)

    async def _ws_job(self, ws, index: int) -> None:
        frame = bench_jobs.execute_frame("echo ok", "shell", "sh", f"w{index}")
        sent = time.perf_counter()
        await ws.send(frame)
        exec_id = task_id = status = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(ws.recv(), 300))
            method = message.get("method")
            if method == PREFIX + "execute":
                if message.get("status") != 0:
                    self.counters.error("ws_execute", json.dumps(message)[:300])
                    return
                exec_id, task_id = message["data"]["execID"], message["data"]["taskID"]
                self.counters.request("ws_execute", time.perf_counter() - sent)
                with self.counters.lock:
                    self.counters.job_ids.append(task_id)
            elif exec_id and method == f"{PREFIX}{exec_id}/status" and message["data"]["status"] in FINAL:
                status = message["data"]["status"]
                break
        if task_id is not None:
            self._job_done(task_id, exec_id, status)

    # --- feature store ---
    def putter(self, worker: int) -> None:
        conn = Connection(self.url, self.headers)
        path = f"/dbs/{DB}/tables/{PUT_TABLE}"
        number = 0
        while not self.stop.is_set():
            number += 1
            key = f"s{worker}-{number}"
            body = json.dumps({"value": [[key, int(time.time() * 1000), 1.5, number % 1000]]}).encode()
            if self._call(conn, "put_row", "PUT", path, body, self._openmldb) is not None:
                with self.counters.lock:
                    self.counters.acked_rows.append(key)
        conn.close()

    def deployer(self, seed: int) -> None:
        rng = random.Random(seed)
        conn = Connection(self.url, self.headers)
        path = f"/dbs/{DB}/deployments/{http_routes.DEPLOYMENT}"
        while not self.stop.is_set():
            row = list(self.deploy_row)
            row[0] = f"k{rng.randrange(self.keys):05d}"
            row[1] = int(time.time() * 1000)
            self._call(conn, "deployment", "POST", path, json.dumps({"input": [row]}).encode(), self._openmldb)
        conn.close()


# --- diagnosis --------------------------------------------------------------------------------------------------
def _as_diff(stat: tracemalloc.Statistic) -> tracemalloc.StatisticDiff:
    return tracemalloc.StatisticDiff(stat.traceback, stat.size, stat.size, stat.count, stat.count)


def malloc_arenas(path: Path) -> list[list[float]] | None:
    """Per glibc arena, from ``malloc_info``: [its system memory, the free bytes it holds] in MB."""
    if not path.exists():
        return None
    import xml.etree.ElementTree as ElementTree

    arenas = []
    for heap in ElementTree.parse(path).getroot().iter("heap"):  # noqa: S314 - written by the server we started
        system = sum(int(node.get("size")) for node in heap.iter("system") if node.get("type") == "current")
        free = sum(int(node.get("size")) for node in heap.iter("total") if node.get("type") in ("fast", "rest"))
        arenas.append([round(system / 2**20, 1), round(free / 2**20, 1)])
    return arenas


class Probes:
    """Asks the server (started with the hook) for probes and compares them.

    Each probe collects garbage and records the live objects per type, glibc's ``mallinfo2`` (bytes in use and
    free in malloc's arenas), pymalloc's allocated blocks and the threads. With tracemalloc, the first probe starts
    tracing (so the server starts and warms up at full speed) and every later one writes a snapshot as well.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken: list[tuple[str, Path]] = []

    def take(self, pid: int, label: str, timeout: float = 600) -> None:
        number = len(self.taken) + 1
        path = self.folder / f"probe-{number}.json"
        os.kill(pid, signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        if path.exists():
            self.taken.append((label, path))
        else:
            print(f"no probe {number} ({label}) within {timeout} s", file=sys.stderr, flush=True)

    def compare(self, top: int = 25) -> dict:
        probes = {}
        for label, path in self.taken:
            found = json.loads(path.read_text())
            info = found["mallinfo2"]
            pymalloc = found.get("pymalloc") or {}
            probes[label] = {
                "rss_mb": round(found["rss_kb"] / 1024, 1),
                "malloc_in_use_mb": round(info["uordblks"] / 2**20, 1),
                "malloc_free_mb": round(info["fordblks"] / 2**20, 1),
                "malloc_mmapped_mb": round(info["hblkhd"] / 2**20, 1),
                "malloc_arena_mb": round(info["arena"] / 2**20, 1),
                "pymalloc_blocks": found["allocated_blocks"],
                "pymalloc_arenas_mb": pymalloc.get("arenas allocated current"),  # 1 MiB each
                "pymalloc_in_blocks_mb": round(pymalloc.get("bytes in allocated blocks", 0) / 2**20, 1),
                "sqlite_in_use_mb": round(found["sqlite_memory"][0] / 2**20, 1) if found.get("sqlite_memory") else None,
                "gc_objects": sum(found["types"].values()),
                "threads": collections.Counter(name.rstrip("0123456789_-") for name in found["threads"]),
                "arenas": malloc_arenas(path.with_suffix(".malloc.xml")),
                **({"rss_after_malloc_trim_mb": round(found["rss_after_malloc_trim_kb"] / 1024, 1),
                    "malloc_trim_ms": round(found["malloc_trim_ms"], 2)} if "malloc_trim_ms" in found else {}),
            }  # fmt: skip
        comparisons = []
        for (label_a, a), (label_b, b) in zip(self.taken, self.taken[1:], strict=False):
            counts_a, counts_b = json.loads(a.read_text())["types"], json.loads(b.read_text())["types"]
            grown = sorted(
                ((name, counts_b.get(name, 0) - counts_a.get(name, 0)) for name in set(counts_a) | set(counts_b)),
                key=lambda item: -item[1],
            )
            comparison = {
                "between": [label_a, label_b],
                "types_grown": [{"type": name, "diff": diff} for name, diff in grown[:top] if diff > 0],
            }
            snap_a, snap_b = a.with_suffix(".snapshot"), b.with_suffix(".snapshot")
            if snap_b.exists():
                second = tracemalloc.Snapshot.load(str(snap_b))
                if snap_a.exists():
                    by_site = second.compare_to(tracemalloc.Snapshot.load(str(snap_a)), "traceback")
                else:  # tracing started with the first: what the second holds was allocated since and is alive
                    by_site = [_as_diff(stat) for stat in second.statistics("traceback")]
                comparison["traced_sites_grown"] = [
                    {"size_diff_kb": round(stat.size_diff / 1024, 1), "count_diff": stat.count_diff,
                     "traceback": [f"{f.filename.removeprefix(str(ROOT) + '/')}:{f.lineno}" for f in stat.traceback]}
                    for stat in by_site[:top]
                ]  # fmt: skip
            comparisons.append(comparison)
        return {"probes": probes, "comparisons": comparisons}


# --- figures ----------------------------------------------------------------------------------------------------
def slope_per_minute(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if not var:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var * 60


def rows_stored(api, acked: list[str]) -> dict:
    """Check that every acknowledged row is in the table: its count, and every key read back."""
    count = api.sql("SELECT count(*) AS n FROM soak_put")["data"]["data"][0][0]
    stored = {row[0] for row in api.sql("SELECT key FROM soak_put")["data"]["data"]}
    missing = [key for key in acked if key not in stored]
    return {"acknowledged": len(acked), "in_table": count, "keys_read_back": len(stored), "missing": len(missing),
            "first_missing": missing[:5], "every_acknowledged_row_stored": not missing}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds of load")
    parser.add_argument("--warmup", type=float, default=None, help="seconds counted as warm-up (a fifth by default)")
    parser.add_argument("--cooldown", type=float, default=60.0, help="seconds sampled after the load stops")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--readers", type=int, default=3)
    parser.add_argument("--submitters", type=int, default=2, help="HTTP clients submitting jobs")
    parser.add_argument("--ws-submitters", type=int, default=1, help="WebSocket clients submitting jobs")
    parser.add_argument("--ws-jobs-per-socket", type=int, default=50)
    parser.add_argument("--fixed-reads", action="store_true", help="Linkis reads of one job instead of recent ones")
    parser.add_argument("--putters", type=int, default=1)
    parser.add_argument("--deployers", type=int, default=1)
    parser.add_argument("--rows", type=int, default=1000, help="feature-store rows behind the deployment")
    parser.add_argument("--keys", type=int, default=100, help="feature-store keys")
    parser.add_argument("--csv", type=Path, default=None, help="write the samples here as CSV")
    parser.add_argument("--probe", action="store_true", help="diagnose: see the docstring")
    parser.add_argument("--probe-every", type=float, default=0.0, metavar="SECONDS", help="also probe during the load")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES", help="--probe with tracemalloc")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE", help="extra server env")
    args = parser.parse_args()
    warmup = args.duration / 5 if args.warmup is None else args.warmup

    fingerprint = code_fingerprint("jobs", "artifacts", "featurestore")
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmpdir:
        folder = Path(tmpdir)
        (folder / "data").mkdir()
        env = dict(item.split("=", 1) for item in args.server_env)
        probes = None
        if args.probe or args.tracemalloc:
            (folder / "hook").mkdir()
            (folder / "hook" / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE))
            (folder / "probes").mkdir()
            pythonpath = os.pathsep.join(p for p in (str(folder / "hook"), os.environ.get("PYTHONPATH", "")) if p)
            env.update(PYTHONPATH=pythonpath, SOAK_PROBE_DIR=str(folder / "probes"),
                       SOAK_TRACEMALLOC_FRAMES=str(args.tracemalloc), SOAK_PROBE_TRIM="1")  # fmt: skip
            probes = Probes(folder / "probes")
        server = LiveServer(folder / "data", LOG_LEVEL="WARNING", JOB_QUEUE_CAPACITY="100000", **env)
        with server:
            pid = server.process.pid
            token = server.token()
            api = http_routes.Api(server.url, token)
            first_job = http_routes.linkis_job(api)
            http_routes.pai_job(api)
            deploy_row = http_routes.feature_store(api, args.rows, args.keys)
            api.sql(f"CREATE TABLE {PUT_TABLE} ({http_routes.COLUMNS})")
            load = Load(server.url, server.ws_url, token, "bench", deploy_row, args.keys)
            load.counters.recent_jobs.append(first_job)
            load.fixed_job = first_job if args.fixed_reads else None
            rss_start = proc_status(pid)["VmRSS"] / 1024

            threads = [threading.Thread(target=load.reader, args=(i,), daemon=True) for i in range(args.readers)]
            threads += [threading.Thread(target=load.submitter, daemon=True) for _ in range(args.submitters)]
            threads += [threading.Thread(target=load.ws_submitter, args=(args.ws_jobs_per_socket,), daemon=True)
                        for _ in range(args.ws_submitters)]  # fmt: skip
            threads += [threading.Thread(target=load.putter, args=(i,), daemon=True) for i in range(args.putters)]
            threads += [threading.Thread(target=load.deployer, args=(i,), daemon=True) for i in range(args.deployers)]
            started = time.monotonic()
            for thread in threads:
                thread.start()

            samples: list[dict] = []
            header = (
                f"{'t_s':>6} {'rss_mb':>7} {'anon':>6} {'file':>5} {'shm':>5} {'wal':>5} {'child_mb':>8} {'thr':>4} "
            )
            header += f"{'fds':>5} {'requests':>9} {'jobs':>6} "
            print(header + f"{'rows':>7} {'errors':>6} phase", file=sys.stderr, flush=True)

            def sample(phase: str) -> dict:
                status = proc_status(pid)
                wal = server.data_dir / "platform.sqlite3-wal"
                row = {"t_s": round(time.monotonic() - started, 1), "phase": phase,
                       "rss_mb": round(status.get("VmRSS", 0) / 1024, 1),
                       "anon_mb": round(status.get("RssAnon", 0) / 1024, 1),
                       "file_mb": round(status.get("RssFile", 0) / 1024, 1),
                       "shmem_mb": round(status.get("RssShmem", 0) / 1024, 1),
                       "wal_mb": round(wal.stat().st_size / 2**20, 1) if wal.exists() else 0.0,
                       "children_mb": round(children_rss_kb(pid) / 1024, 1), "threads": status.get("Threads", 0),
                       "fds": open_fds(pid), **load.counters.snapshot()}  # fmt: skip
                samples.append(row)
                print(f"{row['t_s']:>6.0f} {row['rss_mb']:>7.1f} {row['anon_mb']:>6.1f} {row['file_mb']:>5.1f} "
                      f"{row['shmem_mb']:>5.1f} {row['wal_mb']:>5.1f} {row['children_mb']:>8.1f} {row['threads']:>4} "
                      f"{row['fds']:>5} {row['requests']:>9} {row['jobs']:>6} {row['rows']:>7} {row['errors']:>6} "
                      f"{phase}", file=sys.stderr, flush=True)  # fmt: skip
                return row

            warm_taken = False
            next_sample = started
            end = started + args.duration
            while time.monotonic() < end:
                phase = "warmup" if time.monotonic() - started < warmup else "load"
                if phase == "load" and not warm_taken:
                    warm_taken = True
                    warm_row = sample("warmup_end")
                    if probes is not None:
                        probes.take(pid, "warmup_end")
                else:
                    sample(phase)
                    if probes is not None and args.probe_every and phase == "load":
                        since = time.monotonic() - started - warmup
                        if since // args.probe_every > (since - args.interval) // args.probe_every:
                            probes.take(pid, f"load_{since:.0f}s")
                next_sample += args.interval
                time.sleep(max(0.0, min(next_sample, end) - time.monotonic()))
            if not warm_taken:
                warm_row = sample("warmup_end")
            load.stop.set()
            for thread in threads:
                thread.join(330)
            load_end = sample("load_end")
            load_seconds = time.monotonic() - started
            if probes is not None:
                probes.take(pid, "load_end")
            cooldown_end = started + load_seconds + args.cooldown
            while time.monotonic() < cooldown_end:
                time.sleep(max(0.0, min(args.interval, cooldown_end - time.monotonic())))
                sample("cooldown")
            after = samples[-1]
            if probes is not None:
                probes.take(pid, "cooldown_end")

            counters = load.counters
            final_statuses = bench_jobs.wait_all_final(server, token, counters.job_ids, timeout=600)
            rows = rows_stored(api, counters.acked_rows)
            server_alive = server.process.poll() is None
            server_output = server.lines[-20:]
            diagnosis = probes.compare() if probes is not None else None

    points = [(s["t_s"], s["rss_mb"]) for s in samples if s["phase"] in ("warmup_end", "load", "load_end")]
    jobs_after = load_end["jobs"] - warm_row["jobs"]
    requests_after = load_end["requests"] - warm_row["requests"]
    grown_mb = load_end["rss_mb"] - warm_row["rss_mb"]
    slope = slope_per_minute(points)
    document = {
        "server": {
            "profile": "embedded: one uvicorn process (httptools), SQLite (WAL), in-memory channel layer, local runner",
            "command": " ".join(sys.argv),
            "cores": os.cpu_count(),
            "rss_of": "the uvicorn process (VmRSS); job processes (its short-lived children) apart as children_mb",
            "tracemalloc_frames": args.tracemalloc or None,
            "extra_env": env if args.server_env else None,
            "code_fingerprint": fingerprint,
            "code_changed_during_run": code_fingerprint("jobs", "artifacts", "featurestore") != fingerprint,
            "alive_at_end": server_alive,
        },
        "load": {
            "seconds": round(load_seconds, 1),
            "warmup_s": warmup,
            "requests": counters.total_requests(),
            "requests_per_s": round(counters.total_requests() / load_seconds, 1),
            "requests_by_kind": dict(counters.requests),
            "errors": dict(counters.errors),
            "first_errors": counters.first_errors,
            "jobs_submitted": len(counters.job_ids),
            "jobs_final_seen_by_clients": dict(counters.job_final),
            "jobs_final_statuses": final_statuses,
            "every_job_succeeded": final_statuses.get("Succeed", 0) == len(counters.job_ids),
            "rows": rows,
            "latency_ms": {kind: latency_summary(values, digits=2) for kind, values in counters.latencies.items()},
        },
        "memory": {
            "rss_start_mb": round(rss_start, 1),
            "rss_warmup_end_mb": warm_row["rss_mb"],
            "rss_load_end_mb": load_end["rss_mb"],
            "rss_after_cooldown_mb": after["rss_mb"],
            "rss_max_mb": max(s["rss_mb"] for s in samples),
            "growth_after_warmup_pct": round(100 * grown_mb / warm_row["rss_mb"], 1) if warm_row["rss_mb"] else None,
            "slope_after_warmup_mb_per_min": round(slope, 3) if slope is not None else None,
            "jobs_after_warmup": jobs_after,
            "requests_after_warmup": requests_after,
            "kb_per_job_after_warmup": round(grown_mb * 1024 / jobs_after, 2) if jobs_after else None,
            "kb_per_1000_requests_after_warmup": round(grown_mb * 1024 * 1000 / requests_after, 2)
            if requests_after
            else None,
            "threads_at_end": load_end["threads"],
            "fds_at_end": load_end["fds"],
        },
        "server_output_tail": server_output,
    }
    if diagnosis is not None:
        document["probes"] = diagnosis
    if args.csv:
        with args.csv.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(samples[0]))
            writer.writeheader()
            writer.writerows(samples)
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
