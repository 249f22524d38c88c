"""Processes and ports of a machine: ending a sandboxed process tree, finding free ports. Standard library only, so
that a Ray node's agent (``jobs.runners.ray_node``) and a local Ray head (``jobs.runners.ray_head``) use them without
the platform's settings.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path


def free_ports(host: str, count: int) -> list[int]:
    """``count`` distinct ports free on ``host`` right now (held open together so that they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _stat_fields(pid: int) -> tuple[int, int] | None:
    """(ppid, pgrp) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[2])


def signal_inside(bwrap_pid: int, signum: int) -> int:
    """Send ``signum`` to the processes inside the sandbox started as ``bwrap_pid``; return how many got it.

    bubblewrap itself and its reaper (pid 1 inside) are left alone: either ending would end the whole sandbox at
    once, without the job's chance to clean up. A process that left the job's process group is ended later
    with the sandbox.
    """
    sent = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = _stat_fields(pid)
        if fields is None or pid == bwrap_pid:
            continue
        ppid, pgrp = fields
        if pgrp != bwrap_pid or ppid == bwrap_pid:
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)
            sent += 1
    return sent


def exit_status(returncode: int) -> int:
    """bubblewrap reports a program killed by signal N as 128 + N; give it back as -N, as subprocess does."""
    if 128 < returncode < 128 + 65:
        return -(returncode - 128)
    return returncode
