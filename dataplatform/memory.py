"""Keeping a long-running server process's memory flat: glibc's ``malloc`` set up for it, its free memory given back.

Under a mixed load (bench/soak.py: HTTP reads, job submissions that run to completion, feature-store writes and
deployment requests, all at once) the embedded server's RSS grew by 1-2.5 MB a minute and stayed there once the
load stopped, yet nothing in the program grew: the live Python objects, pymalloc's arenas, SQLite's memory and the
bytes glibc's ``malloc`` had handed out were flat. What grew was the memory ``malloc`` held *free* in its arenas (15
MB at the end of warm-up, 30-40 MB fifteen minutes later; bench/README.md, "Memory under load"), for two reasons:

- **Arenas**: glibc gives each thread an arena of its own, up to eight per core (16 here), and the server has many
  short- and long-lived threads (a request pool, the fast path's pool, one thread per running job, the runner).
  Each arena keeps the high-water mark of what its threads once held at the same time, and memory freed below a
  block that is still live is never given back, so every arena's share of free memory creeps up on its own.
- **The mmap threshold**: a block of 128 KB or more is ``mmap``-ed and given back when freed, until the first such
  block is freed; glibc then raises the threshold to that block's size (4 MB here, a few minutes into the load),
  and every later block below it (query results, log pages, responses) is carved out of the arenas instead.

Neither load alone grew it; together they did, about 3-4 KB per job at the soak's mix. At server start
(``configure_malloc``) the process caps the arenas at ``MEMORY_MALLOC_ARENAS`` (2; Python threads take turns at the
interpreter lock anyway) and fixes the mmap threshold at glibc's starting value, 128 KB (which also fixes the trim
threshold), unless glibc's own environment variables (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``) say
otherwise. And every ``MEMORY_TRIM_INTERVAL`` seconds a thread calls ``malloc_trim(0)``, which returns the free pages
of every arena to the system wherever they lie (a few milliseconds, outside the interpreter lock; a page used again
is faulted back in), so that the RSS comes back down once a burst of load is over.

Where the C library is not glibc (musl, macOS), nothing is done.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

# <malloc.h>
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024  # glibc's starting value (DEFAULT_MMAP_THRESHOLD_MIN)

_libc: Any = None
_looked_up = False
_thread: threading.Thread | None = None
_stop = threading.Event()


def _glibc() -> Any:
    """The process's C library if it is glibc (it has ``malloc_trim`` and ``mallopt``), else None."""
    global _libc, _looked_up
    if not _looked_up:
        _looked_up = True
        try:
            libc = ctypes.CDLL(None)  # the C library the process already runs on
            libc.malloc_trim.argtypes = [ctypes.c_size_t]
            libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        except (OSError, AttributeError):
            return None
        _libc = libc
    return _libc


def configure_malloc() -> dict[str, int]:
    """Cap glibc's arenas and fix its mmap threshold (see the module docstring); return what was set.

    Call it before the process starts threads: an arena limit holds for arenas made after it.
    """
    libc = _glibc()
    done: dict[str, int] = {}
    if libc is None:
        return done
    arenas = settings.MEMORY_MALLOC_ARENAS
    if arenas > 0 and "MALLOC_ARENA_MAX" not in os.environ and libc.mallopt(M_ARENA_MAX, arenas) == 1:
        done["arena_max"] = arenas
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1:
        done["mmap_threshold"] = MMAP_THRESHOLD
    return done


def release_free_memory() -> bool:
    """Return the free memory of every ``malloc`` arena to the system; False where the C library cannot."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def _loop(interval: float) -> None:
    while not _stop.wait(interval):
        try:
            release_free_memory()
        except Exception:  # never end the thread over one call
            logger.exception("releasing free memory failed")


def start_memory_trimmer() -> bool:
    """Start the thread that releases free memory every ``MEMORY_TRIM_INTERVAL`` seconds, once per process.

    Returns whether it runs (not when the interval is 0 or the C library is not glibc).
    """
    global _thread
    interval = settings.MEMORY_TRIM_INTERVAL
    if interval <= 0 or _glibc() is None:
        return False
    if _thread is None or not _thread.is_alive():
        _stop.clear()
        _thread = threading.Thread(target=_loop, args=(float(interval),), name="memory-trim", daemon=True)
        _thread.start()
    return True


def stop_memory_trimmer(timeout: float = 5.0) -> None:
    global _thread
    thread, _thread = _thread, None
    _stop.set()
    if thread is not None:
        thread.join(timeout)


def memory_at_server_start() -> None:
    """The server start hook (``dataplatform.startup``, run before the other apps' hooks start their threads)."""
    configure_malloc()
    start_memory_trimmer()
