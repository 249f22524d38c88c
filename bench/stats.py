"""What the benchmark scripts share: percentiles, latency summaries, JSON output, a code fingerprint."""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path

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
