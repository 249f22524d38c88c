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
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from dataplatform.querycache import CompiledQuery
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


def _capped(lines: list[tuple[str, str]], *, stored: int, dropped_before: int) -> tuple[list[tuple[str, str]], int]:
    """The lines of a batch that fit under ``JOB_LOG_MAX_LINES`` (plus the truncation marker, once) and how many
    were dropped."""
    cap = settings.JOB_LOG_MAX_LINES
    room = max(cap - stored, 0)
    kept, dropped = lines[:room], len(lines) - min(room, len(lines))
    if dropped and dropped_before == 0:
        kept.append(
            ("WARN", stamp("WARN", f"Log truncated: a job keeps at most {cap} lines; further lines are dropped."))
        )
    return kept, dropped


def _store(job_id: int, first: int, kept: list[tuple[str, str]], publish: bool) -> None:
    """Insert the lines numbered from ``first`` (one statement per 1,000 lines), and publish them after commit."""
    table, columns = JobLogLine._meta.db_table, ("job_id", "line_no", "level", "text")
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for start in range(0, len(kept), 1000):
            part = kept[start : start + 1000]
            cursor.execute(
                f"INSERT INTO {quote(table)} ({', '.join(map(quote, columns))}) VALUES "  # noqa: S608 - names only
                + ", ".join(["(%s, %s, %s, %s)"] * len(part)),
                [value for i, (level, text) in enumerate(part, first + start) for value in (job_id, i, level, text)],
            )
    if publish and kept:
        payload = {"from_line": first, "lines": [[level, text] for level, text in kept]}
        transaction.on_commit(lambda: publish_job_event(job_id, "log", payload))


def _reserve(job_id: int, count: int, batch: str) -> int | None:
    """Number the next ``count`` lines of the job in one UPDATE that also locks its row: the first number, or None
    when the lines do not all fit under the cap, the batch is stored already, or there is no such job (the caller
    then reads the row and decides)."""
    if not connection.features.can_return_columns_from_insert:  # no UPDATE ... RETURNING here
        return None
    quote = connection.ops.quote_name
    lines, stored = quote("log_lines"), quote("log_batch")
    sets, checks = f"{lines} = {lines} + %s", f"{quote('id')} = %s AND {lines} + %s <= %s"
    params: list = [count, job_id, count, settings.JOB_LOG_MAX_LINES]
    if batch:
        sets += f", {stored} = %s"
        checks += f" AND {stored} <> %s"
        params = [count, batch, job_id, count, settings.JOB_LOG_MAX_LINES, batch]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(Job._meta.db_table)} SET {sets} WHERE {checks} RETURNING {lines}",  # noqa: S608 - names
            params,
        )
        row = cursor.fetchone()
    return None if row is None else row[0] - count + 1


def log_append(*, job_id: int, entries: Iterable[LogEntry], publish: bool = True, batch: str = "") -> int:
    """Append lines to a job's log; return how many were stored (the rest fell past the per-job cap).

    One transaction per batch (or part of the caller's). Past ``JOB_LOG_MAX_LINES`` a single marker line says the
    log was truncated and later lines are only counted in ``log_dropped``. ``batch``: a token naming this batch,
    kept on the job with it, so that a writer whose commit may or may not have happened (the connection broke) can
    retry it safely: a batch already stored is not stored again.
    """
    lines = _physical_lines(entries)
    if not lines:
        return 0
    # No savepoint inside a caller's transaction: a failure here fails the caller's whole write anyway.
    with transaction.atomic(savepoint=False):
        first = _reserve(job_id, len(lines), batch)
        if first is not None:  # the usual case: two statements
            _store(job_id, first, lines, publish)
            return len(lines)
        job = Job.objects.select_for_update().only("id", "log_lines", "log_dropped", "log_batch").get(pk=job_id)
        if batch and job.log_batch == batch:
            return 0
        kept, dropped = _capped(lines, stored=job.log_lines, dropped_before=job.log_dropped)
        first = job.log_lines + 1
        _store(job_id, first, kept, publish)
        marked = {"log_batch": batch} if batch else {}
        Job.objects.filter(pk=job_id).update(
            log_lines=F("log_lines") + len(kept), log_dropped=F("log_dropped") + dropped, **marked
        )
    return len(kept)


def log_start(job: Job, entries: Callable[[], list[LogEntry]]) -> Callable[[], None]:
    """The first lines of a job about to be saved, which may name its id: count them on ``job`` now (nobody else
    knows the job yet, so there is no row to lock or update), and return the function that stores them once the job
    is saved, in its transaction (``entries()`` is called again then, with the id known)."""
    kept, dropped = _capped(_physical_lines(entries()), stored=0, dropped_before=0)
    job.log_lines, job.log_dropped = len(kept), dropped

    def store() -> None:
        lines, _ = _capped(_physical_lines(entries()), stored=0, dropped_before=0)
        # The id changes words, never how many lines there are.
        _store(job.pk, 1, lines[: job.log_lines], publish=True)

    return store


def log_read(*, job_id: int, from_line: int = 1, size: int | None = None) -> list[tuple[int, str, str]]:
    """Return ``(line_no, level, text)`` from ``from_line`` (1-based) on, at most ``size`` lines."""
    return _LOG_LINES.all(job=job_id, start=max(from_line, 1), limit=size)


# Every log read and push catch-up runs this: compiled once (dataplatform/querycache.py).
_LOG_LINES = CompiledQuery(
    lambda job, start: (
        JobLogLine.objects.filter(job_id=job, line_no__gte=start)
        .order_by("line_no")
        .values_list("line_no", "level", "text")
    ),
    job=int,
    start=int,
)


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
        start, size = 1, 5000
        while True:
            chunk = log_read(job_id=job.pk, from_line=start, size=size)
            handle.writelines(f"{text}\n" for _, _, text in chunk)
            if len(chunk) < size:  # the last page: no query for the empty one after it
                break
            start = chunk[-1][0] + 1
