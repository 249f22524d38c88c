"""The append-only, line-numbered log of each job.

Writers (the submission service, the runner's output pump, kill requests) append batches of lines in one
transaction each; the job row's ``log_lines`` counter hands out line numbers, so numbers are dense and never
reused. Readers page by line number: the Linkis log API, ``openLog``, the WebSocket catch-up and the admin all
read the same rows, during the run, after it and after a restart.

Lines are stored as shown: engine output is stamped ``YYYY-MM-DD HH:MM:SS.mmm LEVEL text`` so that Linkis
clients can classify them; the script code echoed at submission is stored raw, as Linkis pushes it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from jobs.events import publish_job_event
from jobs.models import Job, JobLogLine

LEVELS = ("ERROR", "WARN", "INFO")
# Linkis's LogReader classification: a stamped line's level, anything else INFO.
_STAMPED = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} (?:SYSTEM-)?(ERROR|WARN|INFO) ")


@dataclass(frozen=True)
class LogEntry:
    level: str
    text: str
    stamped: bool = True


def stamp(level: str, text: str) -> str:
    now = timezone.localtime()
    return f"{now:%Y-%m-%d %H:%M:%S}.{now.microsecond // 1000:03d} {level} {text}"


def classify(line: str) -> str:
    match = _STAMPED.match(line)
    return match.group(1) if match else "INFO"


def _physical_lines(entries: Iterable[LogEntry]) -> list[tuple[str, str]]:
    limit = settings.JOB_LOG_MAX_LINE_CHARS
    lines = []
    for entry in entries:
        for part in entry.text.split("\n"):
            part = part.rstrip("\r")
            if len(part) > limit:
                part = f"{part[:limit]}…[{len(part) - limit} more characters truncated]"
            lines.append((entry.level, stamp(entry.level, part) if entry.stamped else part))
    return lines


def log_append(*, job_id: int, entries: Iterable[LogEntry], publish: bool = True, batch: str = "") -> int:
    """Append lines to a job's log; return how many were stored (the rest fell past the per-job cap).

    One transaction per batch. Past ``JOB_LOG_MAX_LINES`` a single marker line says the log was truncated and
    later lines are only counted in ``log_dropped``. ``batch``: a token naming this batch, kept on the job with
    it, so that a writer whose commit may or may not have happened (the connection broke) can retry it safely:
    a batch already stored is not stored again.
    """
    lines = _physical_lines(entries)
    if not lines:
        return 0
    cap = settings.JOB_LOG_MAX_LINES
    with transaction.atomic():
        job = Job.objects.select_for_update().only("id", "log_lines", "log_dropped", "log_batch").get(pk=job_id)
        if batch and job.log_batch == batch:
            return 0
        room = max(cap - job.log_lines, 0)
        kept, dropped = lines[:room], len(lines) - min(room, len(lines))
        if dropped and job.log_dropped == 0:
            kept.append(
                ("WARN", stamp("WARN", f"Log truncated: a job keeps at most {cap} lines; further lines are dropped."))
            )
        first = job.log_lines + 1
        JobLogLine.objects.bulk_create(
            JobLogLine(job_id=job_id, line_no=first + i, level=level, text=text) for i, (level, text) in enumerate(kept)
        )
        marked = {"log_batch": batch} if batch else {}
        Job.objects.filter(pk=job_id).update(
            log_lines=F("log_lines") + len(kept), log_dropped=F("log_dropped") + dropped, **marked
        )
        if publish and kept:
            payload = {"from_line": first, "lines": [[level, text] for level, text in kept]}
            transaction.on_commit(lambda: publish_job_event(job_id, "log", payload))
    return len(kept)


def log_read(*, job_id: int, from_line: int = 1, size: int | None = None) -> list[tuple[int, str, str]]:
    """Return ``(line_no, level, text)`` from ``from_line`` (1-based) on, at most ``size`` lines."""
    query = JobLogLine.objects.filter(job_id=job_id, line_no__gte=max(from_line, 1)).order_by("line_no")
    if size is not None:
        query = query[:size]
    return list(query.values_list("line_no", "level", "text"))


def split_levels(lines: Iterable[tuple[str, str]]) -> list[str]:
    """Return Linkis's 4-array ``[error, warn, info, all]``, each joined by newlines, from (level, text) pairs."""
    buckets: dict[str, list[str]] = {"ERROR": [], "WARN": [], "INFO": []}
    everything = []
    for level, text in lines:
        buckets.get(level, buckets["INFO"]).append(text)
        everything.append(text)
    return ["\n".join(buckets["ERROR"]), "\n".join(buckets["WARN"]), "\n".join(buckets["INFO"]), "\n".join(everything)]


def log_dump_to_file(*, job: Job) -> None:
    """Write the whole log to the job's ``job.log`` (the file Linkis's ``logPath`` names)."""
    job.workdir.mkdir(parents=True, exist_ok=True)
    # Private to the server, and never written through a link (the job's directory was the job's own).
    fd = os.open(job.log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with open(fd, "w", encoding="utf-8") as handle:
        start = 1
        while True:
            chunk = log_read(job_id=job.pk, from_line=start, size=5000)
            if not chunk:
                break
            handle.writelines(f"{text}\n" for _, _, text in chunk)
            start = chunk[-1][0] + 1
