"""``eventually``: the one way tests wait for something that happens in another thread or process.

It lives here, free of Django, so that tests/live.py and tests/cluster.py (which bench/ imports too) can use it;
tests import it from tests.conftest as well.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(predicate, *, timeout: float = 30.0, interval: float = 0.05, message: str | Callable[[], str] = ""):
    """Call ``predicate`` until it returns something truthy and return that; fail after ``timeout`` seconds.

    The one way tests wait for something that happens in another thread or process: generous on a loaded
    machine, and quick when the answer is already there. ``timeout`` is the bound of patience, never a claim
    about speed (that is measured in bench/). ``message`` may be a callable, to describe the state at the end.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = message() if callable(message) else message
            raise AssertionError(detail or f"not true after {timeout} s: {predicate}")
        time.sleep(interval)
