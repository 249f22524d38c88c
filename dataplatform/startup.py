"""Work a server process does when it starts, registered by each app from its ``AppConfig.ready``.

An app registers ``server_start_hook(name, function, enabled=...)``; the ASGI entry point (``dataplatform.asgi``)
calls ``run_server_start_hooks()`` once Django is set up. Each hook has a setting of its own that turns it off
(tests and management commands run none of them: they never import the ASGI application):

- ``system-artifacts`` (artifacts, ``SYSTEM_ARTIFACTS_LOAD_AT_START``): load the system artifacts;
- ``job-runner`` (jobs, ``JOB_RUNNER_AUTOSTART``): start this process's job runner;
- ``ttl-expiry`` (featurestore, ``FEATURESTORE_TTL_AUTOSTART``): delete rows every index's TTL has expired;
- ``memory`` (dataplatform, ``MEMORY_MALLOC_ARENAS`` or ``MEMORY_TRIM_INTERVAL`` > 0; it runs first): set up
  glibc's ``malloc`` for a long-running server and give its free memory back now and then (``dataplatform.memory``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple

logger = logging.getLogger(__name__)


class _Hook(NamedTuple):
    name: str
    function: Callable[[], object]
    enabled: Callable[[], bool]


_hooks: dict[str, _Hook] = {}


def server_start_hook(name: str, function: Callable[[], object], *, enabled: Callable[[], bool]) -> None:
    """Register ``function`` to run when a server process starts, if ``enabled()`` then says so."""
    _hooks[name] = _Hook(name, function, enabled)


def run_server_start_hooks() -> list[str]:
    """Run every enabled hook, in the order the apps registered them; return the names of those that ran."""
    ran = []
    for hook in list(_hooks.values()):
        if hook.enabled():
            hook.function()
            ran.append(hook.name)
    return ran
