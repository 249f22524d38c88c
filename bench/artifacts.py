"""Benchmark of the CDAP artifact API on the embedded default, against a real server process.

Measures, and prints as JSON lines:
1. upload of a ``--upload-mb`` MiB artifact (a zip with ``artifact.json`` and STORED members of random bytes, so
   it expands by a ratio of 1), streamed from a file to ``POST /v3/namespaces/default/artifacts/big``: the server
   process's RSS sampled from ``/proc/<pid>/status`` every ``--sample-ms`` during the upload, its ``VmHWM`` (reset
   through ``/proc/<pid>/clear_refs`` before the upload when the kernel allows it), the growth over the baseline
   taken after a warm-up upload, the upload time and MiB/s, and how a small GET fares meanwhile; the answer and
   the stored sha256 are checked;
2. ``--versions`` versions of one artifact (``big2``), created over HTTP by ``--threads`` threads uploading the
   same small archive with different ``Artifact-Version`` headers (stored once: the platform deduplicates by
   content), in a shuffled order and with several version forms (``2.13``, ``2.13.0-SNAPSHOT``, ``2.13.0``,
   ``2.13.0-beta``) so that the order is CDAP's, not the text's or the insertion's;
3. paging through all of them with ``?limit=--page-size&order=DESC`` following ``X-Next-Page-Token``, ``--rounds``
   times: per-page p50/p99/max, each version exactly once and in descending CDAP order
   (``artifacts.versions.ArtifactVersion``);
4. ``--range-samples`` single pages (``limit``, ``artifactVersion=[lo,hi)``, ASC or DESC) checked against the
   expected versions, plus the worst cases (a range at the far end of the scan direction);
5. for information: the unpaginated list (every version in one answer), and paging the namespace's list.

Usage: ``.venv/bin/python bench/artifacts.py [--upload-mb 200] [--versions 10000] [--page-size 100]
[--threads 8]``. Every loop is bounded in count and time (``--populate-timeout`` bounds the creation of versions);
the server runs in a temporary DATA_DIR and is stopped at the end; the archive is built in a temporary folder.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stats import code_fingerprint as stats_fingerprint  # noqa: E402
from stats import emit, latency_summary, percentile  # noqa: E402

from artifacts.versions import ArtifactRange, ArtifactVersion  # noqa: E402
from tests.live import LiveServer  # noqa: E402

MiB = 1024 * 1024
NS = "/v3/namespaces/default"
UPLOAD_TARGET_MIB = 64  # peak RSS growth while uploading
PAGE_TARGET_MS = 50.0  # p99 of one page of the version list
MEMBER_MIB = 32  # size of each random member of the big archive


def code_fingerprint() -> str:
    return stats_fingerprint("artifacts")


def latency_ms(values: list[float]) -> dict:
    return latency_summary(values)


# --- the server's memory ---------------------------------------------------------------------------------------
def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (the machine is shared; this is its own work)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_hwm(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux >= 4.0: ``echo 5 > /proc/<pid>/clear_refs``)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class RssSampler(threading.Thread):
    """Samples VmRSS of one process every ``interval`` seconds until stopped (bounded by ``limit`` seconds)."""

    def __init__(self, pid: int, interval: float, limit: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.limit = pid, interval, limit
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        while not self.done.is_set() and time.monotonic() - start < self.limit:
            try:
                self.samples.append((time.monotonic() - start, proc_status(self.pid)["VmRSS"]))
            except (OSError, KeyError):
                return
            self.done.wait(self.interval)

    def stop(self) -> list[tuple[float, int]]:
        self.done.set()
        self.join(5)
        return self.samples


class Prober(threading.Thread):
    """Times a small authenticated GET every ``interval`` seconds until stopped: how other requests fare."""

    def __init__(self, url: str, headers: dict, interval: float, limit: float) -> None:
        super().__init__(daemon=True)
        self.url, self.interval, self.limit = url, interval, limit
        self.session = requests.Session()
        self.session.headers.update(headers)
        self.times: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        while not self.done.is_set() and time.monotonic() - start < self.limit:
            sent = time.perf_counter()
            try:
                self.session.get(self.url, timeout=60).raise_for_status()
            except requests.RequestException:
                return
            self.times.append(time.perf_counter() - sent)
            self.done.wait(self.interval)

    def stop(self) -> list[float]:
        self.done.set()
        self.join(65)
        return self.times


# --- archives --------------------------------------------------------------------------------------------------
def build_big_archive(path: Path, name: str, version: str, total_mib: int) -> dict:
    """A zip of about ``total_mib`` MiB: artifact.json plus STORED members of random bytes (ratio 1, no bomb)."""
    manifest = {"name": name, "version": version, "properties": {"bench": "upload"}}
    started = time.perf_counter()
    remaining = total_mib * MiB
    members = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr("artifact.json", json.dumps(manifest))
        while remaining > 0:
            size = min(MEMBER_MIB * MiB, remaining)
            info = zipfile.ZipInfo(f"data/part-{members:03d}.bin", date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            with zf.open(info, "w", force_zip64=True) as out:
                written = 0
                while written < size:
                    block = os.urandom(min(MiB, size - written))
                    out.write(block)
                    written += len(block)
            remaining -= size
            members += 1
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(4 * MiB):
            digest.update(block)
    return {
        "bytes": path.stat().st_size,
        "members": members + 1,
        "sha256": digest.hexdigest(),
        "built_in_s": round(time.perf_counter() - started, 1),
    }


def small_archive(name: str) -> bytes:
    """A few hundred bytes: a manifest without a version (the Artifact-Version header gives it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("artifact.json", json.dumps({"name": name, "properties": {"bench": "listing"}}))
        zf.writestr("lib/readme.txt", "benchmark artifact\n")
    return buffer.getvalue()


def version_texts(count: int) -> list[str]:
    """``count`` distinct versions, four forms per (major, minor) so that CDAP's order differs from the text's:
    ``M.m`` < ``M.m.0-SNAPSHOT`` < ``M.m.0`` < ``M.m.0-beta``; 50 minors per major, so ``10.x`` follows ``9.x``."""
    out = []
    for i in range(count):
        base, form = divmod(i, 4)
        major, minor = divmod(base, 50)
        out.append(
            (f"{major}.{minor}", f"{major}.{minor}.0-SNAPSHOT", f"{major}.{minor}.0", f"{major}.{minor}.0-beta")[form]
        )
    return out


# --- 1. upload memory ------------------------------------------------------------------------------------------
def upload_memory(server: LiveServer, headers: dict, args, work: Path) -> dict:
    pid = server.process.pid
    archive = work / "big.zip"
    built = build_big_archive(archive, "big", "1.0.0", args.upload_mb)
    emit({"measure": "archive", **built})
    session = requests.Session()
    session.headers.update(headers)
    # Warm-up: an upload and a read, so the code paths are imported and the baseline is the serving state.
    warm = session.post(
        f"{server.url}{NS}/artifacts/warmup",
        data=small_archive("warmup"),
        headers={"Content-Type": "application/octet-stream", "Artifact-Version": "1.0.0"},
        timeout=30,
    )
    warm.raise_for_status()
    session.get(f"{server.url}{NS}/artifacts/warmup/versions/1.0.0", timeout=30).raise_for_status()
    time.sleep(1.0)
    baseline_samples = []
    for _ in range(10):
        baseline_samples.append(proc_status(pid)["VmRSS"])
        time.sleep(0.05)
    baseline = int(statistics.median(baseline_samples))
    probe_url = f"{server.url}{NS}/artifacts/warmup/versions/1.0.0"
    idle_probe = Prober(probe_url, headers, 0.05, limit=60)
    idle_probe.start()
    time.sleep(2.0)
    idle_times = idle_probe.stop()
    before = proc_status(pid)
    hwm_reset = reset_hwm(pid)
    hwm_before = proc_status(pid)["VmHWM"]

    sampler = RssSampler(pid, args.sample_ms / 1000, limit=args.upload_timeout + 30)
    sampler.start()
    probe = Prober(probe_url, headers, 0.05, limit=args.upload_timeout + 30)
    probe.start()
    started = time.perf_counter()
    with open(archive, "rb") as body:
        response = session.post(
            f"{server.url}{NS}/artifacts/big",
            data=body,
            headers={"Content-Type": "application/octet-stream", "X-Archive-Name": "big.zip"},
            timeout=args.upload_timeout,
        )
    elapsed = time.perf_counter() - started
    samples = sampler.stop()
    busy_times = probe.stop()
    after = proc_status(pid)
    info = session.get(f"{server.url}{NS}/artifacts/big/versions/1.0.0", timeout=30)
    stored_sha = info.json().get("checksum", {}).get("sha256") if info.status_code == 200 else None
    incoming = server.data_dir / "artifacts" / "incoming"
    leftovers = sum(1 for p in incoming.rglob("*") if p.is_file()) if incoming.exists() else 0
    peak_sampled = max([rss for _, rss in samples] + [after["VmRSS"]])
    peak = max(peak_sampled, after["VmHWM"]) if hwm_reset else peak_sampled
    growth = peak - baseline
    result = {
        "archive_bytes": built["bytes"],
        "archive_mib": round(built["bytes"] / MiB, 1),
        "status": response.status_code,
        "answer": response.text[:200],
        "answer_ok": response.status_code == 200 and response.text.strip() == "Artifact added successfully",
        "sha256_ok": stored_sha == built["sha256"],
        "upload_s": round(elapsed, 2),
        "upload_mib_per_s": round(built["bytes"] / MiB / elapsed, 1),
        "baseline_rss_mib": round(baseline / MiB, 1),
        "peak_rss_sampled_mib": round(peak_sampled / MiB, 1),
        "vmhwm_before_mib": round(before["VmHWM"] / MiB, 1),
        "vmhwm_reset": hwm_reset,
        "vmhwm_after_reset_mib": round(hwm_before / MiB, 1),
        "vmhwm_after_mib": round(after["VmHWM"] / MiB, 1),
        "rss_after_mib": round(after["VmRSS"] / MiB, 1),
        "peak_growth_mib": round(growth / MiB, 1),
        "samples": len(samples),
        "sample_interval_ms": args.sample_ms,
        "incoming_files_left": leftovers,
        "other_get_idle": latency_ms(idle_times),
        "other_get_during_upload": latency_ms(busy_times),
        "target_growth_mib": UPLOAD_TARGET_MIB,
    }
    result["target_met"] = result["answer_ok"] and result["sha256_ok"] and growth < UPLOAD_TARGET_MIB * MiB
    archive.unlink()
    return result


# --- 2. many versions ------------------------------------------------------------------------------------------
def populate(server: LiveServer, headers: dict, name: str, versions: list[str], threads: int, timeout: float) -> dict:
    body = small_archive(name)
    order = list(versions)
    random.Random(7).shuffle(order)
    position = 0
    lock = threading.Lock()
    created: list[str] = []
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + timeout

    def worker() -> None:
        nonlocal position
        session = requests.Session()
        session.headers.update(headers)
        session.headers["Content-Type"] = "application/octet-stream"
        while time.monotonic() < deadline:
            with lock:
                if position >= len(order):
                    return
                version = order[position]
                position += 1
            sent = time.perf_counter()
            try:
                response = session.post(
                    f"{server.url}{NS}/artifacts/{name}", data=body, headers={"Artifact-Version": version}, timeout=60
                )
            except requests.RequestException as exc:
                with lock:
                    errors.append(f"{version}: {exc}"[:200])
                continue
            took = time.perf_counter() - sent
            with lock:
                latencies.append(took)
                if response.status_code == 200:
                    created.append(version)
                else:
                    errors.append(f"{version}: {response.status_code} {response.text[:150]}")

    pid = server.process.pid
    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout + 120)
    elapsed = time.monotonic() - started
    cpu_used = cpu_seconds(pid) - cpu_before
    sha = hashlib.sha256(body).hexdigest()
    stored = set()
    for version in created[:1] + created[-1:]:
        answer = requests.get(f"{server.url}{NS}/artifacts/{name}/versions/{version}", headers=headers, timeout=30)
        stored.add(answer.json().get("checksum", {}).get("sha256") if answer.status_code == 200 else None)
    blobs = server.data_dir / "artifacts" / "blobs"
    return {
        "artifact": name,
        "wanted": len(versions),
        "created": len(created),
        "errors": len(errors),
        "first_errors": errors[:5],
        "threads": threads,
        "archive_bytes": len(body),
        "elapsed_s": round(elapsed, 1),
        "uploads_per_s": round(len(created) / elapsed, 1) if elapsed else None,
        "per_upload": latency_ms(latencies),
        # does an upload get slower as the artifact gets more versions? (latencies in completion order)
        "p50_ms_first_tenth": round(percentile(latencies[: max(1, len(latencies) // 10)], 50) * 1000, 2)
        if latencies
        else None,
        "p50_ms_last_tenth": round(percentile(latencies[-max(1, len(latencies) // 10) :], 50) * 1000, 2)
        if latencies
        else None,
        "server_cpu_ms_per_upload": round(cpu_used / max(1, len(latencies)) * 1000, 2),
        "one_stored_archive": stored == {sha},
        "timed_out": time.monotonic() >= deadline and len(created) + len(errors) < len(versions),
        "blob_files": sum(1 for p in blobs.rglob("*.zip")) if blobs.exists() else None,
        "_created": created,
    }


# --- 3. paging -------------------------------------------------------------------------------------------------
def page_through(session: requests.Session, url: str, params: dict, max_pages: int) -> tuple[list, list, str | None]:
    """Follow X-Next-Page-Token; returns (items, per-page seconds, error)."""
    items: list = []
    times: list[float] = []
    token = None
    for _ in range(max_pages):
        query = dict(params)
        if token:
            query["pageToken"] = token
        sent = time.perf_counter()
        response = session.get(url, params=query, timeout=30)
        body = response.content
        times.append(time.perf_counter() - sent)
        if response.status_code != 200:
            return items, times, f"{response.status_code} {body[:200]!r}"
        items.extend(json.loads(body))
        token = response.headers.get("X-Next-Page-Token")
        if not token:
            return items, times, None
    return items, times, f"still a next page after {max_pages} pages"


def paging(server: LiveServer, headers: dict, name: str, created: list[str], page_size: int, rounds: int) -> dict:
    session = requests.Session()
    session.headers.update(headers)
    expected = [v.text for v in sorted((ArtifactVersion(t) for t in created), reverse=True)]
    max_pages = len(expected) // page_size + 3
    url = f"{server.url}{NS}/artifacts/{name}"
    all_times: list[float] = []
    checks = []
    cpu_before = cpu_seconds(server.process.pid)
    for _ in range(rounds):
        items, times, error = page_through(session, url, {"limit": page_size, "order": "DESC"}, max_pages)
        all_times.extend(times)
        got = [item["version"] for item in items]
        descending = all(ArtifactVersion(b) < ArtifactVersion(a) for a, b in zip(got, got[1:], strict=False))
        checks.append(
            {
                "pages": len(times),
                "items": len(got),
                "error": error,
                "each_once": len(got) == len(set(got)) and set(got) == set(expected),
                "descending_cdap_order": descending,
                "equals_expected": got == expected,
                "full_pages": all(
                    len(items[i : i + page_size]) == page_size for i in range(0, len(got) - page_size, page_size)
                ),
            }
        )
    ok = all(
        c["error"] is None and c["each_once"] and c["descending_cdap_order"] and c["equals_expected"] for c in checks
    )
    stats = latency_ms(all_times)
    cpu_used = cpu_seconds(server.process.pid) - cpu_before
    stats["server_cpu_ms_per_page"] = round(cpu_used / max(1, len(all_times)) * 1000, 2)
    return {
        "versions": len(expected),
        "page_size": page_size,
        "rounds": rounds,
        "per_page": stats,
        "checks": checks,
        "correct": ok,
        "target_p99_ms": PAGE_TARGET_MS,
        "target_met": ok and stats.get("p99_ms", 1e9) <= PAGE_TARGET_MS,
    }


# --- 4. range pages --------------------------------------------------------------------------------------------
def range_pages(server: LiveServer, headers: dict, name: str, created: list[str], page_size: int, samples: int) -> dict:
    session = requests.Session()
    session.headers.update(headers)
    ordered = sorted(ArtifactVersion(t) for t in created)
    n = len(ordered)
    rng = random.Random(11)
    cases = []
    for _ in range(samples):
        lo, hi = sorted(rng.sample(range(n), 2))
        cases.append((ordered[lo], ordered[hi], rng.choice(["ASC", "DESC"])))
    # worst cases for a scan in order: the range at the far end of the direction of the scan
    tail = max(2, page_size + 1)
    worst = [
        (ordered[max(0, n - tail)], ordered[n - 1], "ASC"),
        (ordered[0], ordered[min(n - 1, tail)], "DESC"),
    ]
    url = f"{server.url}{NS}/artifacts/{name}"

    def run(lower, upper, order) -> tuple[float, bool]:
        text = f"[{lower.text},{upper.text})"
        version_range = ArtifactRange.parse(text)
        want = [v.text for v in ordered if version_range.contains(v)]
        if order == "DESC":
            want.reverse()
        want = want[:page_size]
        params = {"limit": page_size, "order": order, "artifactVersion": text}
        sent = time.perf_counter()
        response = session.get(url, params=params, timeout=30)
        body = response.content
        took = time.perf_counter() - sent
        ok = response.status_code == 200 and [item["version"] for item in json.loads(body)] == want
        return took, ok

    sample_times, sample_ok = [], 0
    cpu_before = cpu_seconds(server.process.pid)
    for lower, upper, order in cases:
        took, ok = run(lower, upper, order)
        sample_times.append(took)
        sample_ok += ok
    cpu_used = cpu_seconds(server.process.pid) - cpu_before
    worst_out = []
    for lower, upper, order in worst:
        times, oks = [], True
        for _ in range(5):
            took, ok = run(lower, upper, order)
            times.append(took)
            oks = oks and ok
        worst_out.append({"range": f"[{lower.text},{upper.text})", "order": order, "correct": oks, **latency_ms(times)})
    return {
        "samples": samples,
        "page_size": page_size,
        "per_request": {
            **latency_ms(sample_times),
            "server_cpu_ms_per_request": round(cpu_used / max(1, len(cases)) * 1000, 2),
        },
        "correct": sample_ok == len(cases) and all(w["correct"] for w in worst_out),
        "correct_samples": sample_ok,
        "worst_cases": worst_out,
    }


# --- 5. for information ----------------------------------------------------------------------------------------
def full_list(server: LiveServer, headers: dict, name: str, expected_count: int, repeats: int = 3) -> dict:
    session = requests.Session()
    session.headers.update(headers)
    times, sizes, counts = [], [], []
    for _ in range(repeats):
        sent = time.perf_counter()
        response = session.get(f"{server.url}{NS}/artifacts/{name}", timeout=120)
        body = response.content
        times.append(time.perf_counter() - sent)
        sizes.append(len(body))
        counts.append(len(json.loads(body)) if response.status_code == 200 else -1)
    return {
        "items": counts[-1],
        "complete": all(c == expected_count for c in counts),
        "bytes": sizes[-1],
        **latency_ms(times),
    }


def namespace_paging(server: LiveServer, headers: dict, page_size: int, expected_min: int) -> dict:
    session = requests.Session()
    session.headers.update(headers)
    items, times, error = page_through(
        session, f"{server.url}{NS}/artifacts", {"limit": page_size}, expected_min // page_size + 50
    )
    keys = [(i["scope"], i["name"], i["version"]) for i in items]
    return {
        "items": len(items),
        "pages": len(times),
        "error": error,
        "each_once": len(keys) == len(set(keys)),
        "per_page": latency_ms(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upload-mb", type=int, default=200, help="size of the big archive, MiB")
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=8, help="client threads creating the versions")
    parser.add_argument("--rounds", type=int, default=3, help="times to page through every version")
    parser.add_argument("--range-samples", type=int, default=100)
    parser.add_argument("--sample-ms", type=float, default=20.0, help="RSS sampling interval during the upload")
    parser.add_argument("--upload-timeout", type=float, default=600.0)
    parser.add_argument("--populate-timeout", type=float, default=900.0, help="bound on creating the versions, s")
    parser.add_argument("--only", choices=["upload", "listing"], action="append", help="run only these parts")
    args = parser.parse_args()

    wall = time.perf_counter()
    fingerprint = code_fingerprint()
    parts = set(args.only or ["upload", "listing"])
    summary: dict = {
        "command": " ".join(sys.argv),
        "machine": {"cores": os.cpu_count(), "loadavg_at_start": os.getloadavg(), "note": "client and server share"},
    }
    max_bytes = str(max(512 * MiB, (args.upload_mb + 64) * MiB))
    with tempfile.TemporaryDirectory(prefix="bench-artifacts-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        with LiveServer(Path(tmp) / "data", ARTIFACT_MAX_BYTES=max_bytes, LOG_LEVEL="WARNING") as server:
            headers = {"Authorization": f"Bearer {server.token()}"}
            summary["server"] = {"pid": server.process.pid, "ARTIFACT_MAX_BYTES": int(max_bytes)}
            if "upload" in parts:
                summary["upload"] = upload_memory(server, headers, args, work)
                emit({"measure": "upload", **summary["upload"]})
            if "listing" in parts:
                made = populate(
                    server, headers, "big2", version_texts(args.versions), args.threads, args.populate_timeout
                )
                created = made.pop("_created")
                summary["populate"] = made
                emit({"measure": "populate", **made})
                if created:
                    summary["paging"] = paging(server, headers, "big2", created, args.page_size, args.rounds)
                    emit({"measure": "paging", **summary["paging"]})
                    summary["range_pages"] = range_pages(
                        server, headers, "big2", created, args.page_size, args.range_samples
                    )
                    emit({"measure": "range_pages", **summary["range_pages"]})
                    summary["full_list"] = full_list(server, headers, "big2", len(created))
                    emit({"measure": "full_list", **summary["full_list"]})
                    summary["namespace_paging"] = namespace_paging(server, headers, args.page_size, len(created))
                    emit({"measure": "namespace_paging", **summary["namespace_paging"]})
            summary["server_rss_end_mib"] = round(proc_status(server.process.pid)["VmRSS"] / MiB, 1)
    targets = {}
    if "upload" in summary:
        up = summary["upload"]
        targets["upload_peak_growth_under_64_mib"] = {
            "measured_mib": up["peak_growth_mib"],
            "met": up["target_met"],
        }
    if "paging" in summary:
        pg = summary["paging"]
        targets["page_p99_le_50_ms"] = {
            "measured_p99_ms": pg["per_page"].get("p99_ms"),
            "versions": pg["versions"],
            "met": pg["target_met"] and pg["versions"] >= args.versions,
        }
    summary["targets"] = targets
    summary["wall_s"] = round(time.perf_counter() - wall, 1)
    summary["code_fingerprint"] = fingerprint
    summary["code_changed_during_run"] = code_fingerprint() != fingerprint
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
