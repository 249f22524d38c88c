"""The control channel: structured messages from an engine process to the runner.

Besides stdout (INFO log lines) and stderr (ERROR log lines), the runner gives every engine a pipe whose write
end is the file descriptor named in ``PLATFORM_CONTROL_FD``. Each message is one JSON object on one line:

- ``{"type": "progress", "progress": 0.5, "progressInfo": [{"id": "...", "succeedTasks": 1, "failedTasks": 0,
  "runningTasks": 1, "totalTasks": 4}]}`` -- the job's progress (``progressInfo`` may be empty);
- ``{"type": "log", "level": "INFO" | "WARN" | "ERROR", "text": "..."}`` -- an engine-internal log line;
- ``{"type": "error", "code": 40001, "desc": "..."}`` -- the structured reason of a failure, sent before the
  engine exits non-zero; the runner records it as the job's error code and text.

Python code calls the helpers below (user code gets ``progress`` in its namespace). Shell code writes the lines
itself, for example::

    echo '{"type":"progress","progress":0.5}' >&$PLATFORM_CONTROL_FD

Without the variable (an engine started by hand) every helper is a no-op, and a runner that stopped reading
never makes an engine fail: a broken pipe just turns the channel off.
"""

from __future__ import annotations

import json
import os
import threading

LEVELS = ("INFO", "WARN", "ERROR")

_lock = threading.Lock()
_broken = False


def _fd() -> int | None:
    if _broken:
        return None
    try:
        fd = int(os.environ.get("PLATFORM_CONTROL_FD", ""))
    except ValueError:
        return None
    return fd if fd >= 0 else None


def is_connected() -> bool:
    """Tell whether a control channel was given to this process."""
    return _fd() is not None


def emit(message: dict) -> None:
    """Write one message to the control channel; do nothing when there is none or it is gone."""
    global _broken
    data = (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    # The lock keeps lines from two threads (an engine's progress poller and its main thread) whole.
    with _lock:
        fd = _fd()
        if fd is None:
            return
        try:
            while data:
                data = data[os.write(fd, data) :]
        except OSError:
            _broken = True


def progress(fraction: float, info: list[dict] | None = None) -> None:
    """Report the job's progress as a fraction between 0 and 1, with optional per-task details."""
    emit({"type": "progress", "progress": min(max(float(fraction), 0.0), 1.0), "progressInfo": list(info or [])})


def log(level: str, text: str) -> None:
    """Send an engine-internal log line at INFO, WARN or ERROR."""
    level = level.upper()
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    emit({"type": "log", "level": level, "text": str(text)})


def error(code: int, desc: str) -> None:
    """Send the structured reason the job is about to fail."""
    emit({"type": "error", "code": int(code), "desc": str(desc)})
