"""What the benchmark scripts share: percentiles, latency summaries, JSON output, a code fingerprint, a keep-alive
HTTP connection."""

from __future__ import annotations

import hashlib
import http.client
import json
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of ``values``."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def latency_summary(values: list[float], *, unit_suffix: str = "_ms", digits: int = 2) -> dict:
    """count, p50, p99, max and mean of durations in seconds, shown in milliseconds."""
    if not values:
        return {"count": 0}

    def ms(value: float) -> float:
        return round(value * 1000, digits)

    return {
        "count": len(values),
        f"p50{unit_suffix}": ms(percentile(values, 50)),
        f"p99{unit_suffix}": ms(percentile(values, 99)),
        f"max{unit_suffix}": ms(max(values)),
        f"mean{unit_suffix}": ms(statistics.fmean(values)),
    }


def code_fingerprint(*packages: str) -> str:
    """A digest of the measured code (``dataplatform`` plus ``packages``): others may edit it during a run."""
    digest = hashlib.sha256()
    files = sorted(path for package in ("dataplatform", *packages) for path in (ROOT / package).rglob("*.py"))
    for path in files:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class Connection:
    """One keep-alive HTTP/1.1 connection (http.client); reconnects once if the server closed it."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def call(self, method: str, path: str, body: bytes) -> tuple[float, int, bytes]:
        for attempt in (1, 2):
            try:
                started = time.perf_counter()
                self.conn.request(method, path, body, self.headers)
                response = self.conn.getresponse()
                data = response.read()
                return time.perf_counter() - started, response.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()
