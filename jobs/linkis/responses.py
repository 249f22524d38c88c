"""The ``data`` of Linkis's status, progress and log answers, the same over REST and the WebSocket."""

from __future__ import annotations

from jobs.logstore import log_read
from jobs.models import Job


def status_data(job: Job, ident: str) -> dict:
    """``data`` of a status answer: the id as the client gave it; a bare taskID also gets the real execID."""
    if ident.isascii() and ident.isdigit():
        return {"status": job.status, "execID": job.exec_id, "taskID": job.pk}
    return {"status": job.status, "execID": ident}


def progress_data(job: Job, ident: str, *, with_resource: bool = False) -> dict:
    info = [entry for entry in (job.progress_info or []) if isinstance(entry, dict) and entry.get("totalTasks", 0) > 0]
    data = {"progress": 1.0 if job.is_terminal else float(job.progress), "progressInfo": info, "execID": ident}
    if with_resource:
        data["yarnResource"] = None
    return data


def log_page(job: Job, from_line: int, size: int) -> tuple[list[tuple[str, str]], int]:
    """Return (level, text) lines from ``from_line`` and the next cursor: 1-based, ``0`` reads as ``1``.

    Linkis returns ``fromLine + lines read``, so a client starting at 0 sees its last line again on the next
    call; here the cursor is always the number of the next unread line, whatever the client started from.
    """
    start = max(from_line, 1)
    rows = log_read(job_id=job.pk, from_line=start, size=size)
    return [(level, text) for _, level, text in rows], start + len(rows)
