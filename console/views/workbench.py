"""Console pages: each renders a template from selectors; the live parts (logs, statuses, feature requests) run
in the browser against the platform's own APIs (Linkis's WebSocket and HTTP routes, OpenMLDB's routes)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from jobs.selectors import user_engines
from jobs.services import DEFAULT_ENGINE_VERSIONS

#: What the workbench offers: engine -> (engineType label, run types, CodeMirror mode).
WORKBENCH_ENGINES = {
    "python": (DEFAULT_ENGINE_VERSIONS["python"], ["python"], "python"),
    "shell": (DEFAULT_ENGINE_VERSIONS["shell"], ["sh", "shell"], "shell"),
    "sql": (DEFAULT_ENGINE_VERSIONS["sql"], ["sql"], "text/x-sql"),
    "duckdb": (DEFAULT_ENGINE_VERSIONS["duckdb"], ["sql"], "text/x-sql"),
    "spark": (DEFAULT_ENGINE_VERSIONS["spark"], ["sql", "python"], "text/x-sql"),
}


@login_required(login_url="console:login")
def workbench(request):
    """The workbench, offering only the engines the user was granted."""
    allowed = set(user_engines(request.user))
    engines = [
        {"name": name, "engine_type": engine_type, "run_types": run_types, "mode": mode}
        for name, (engine_type, run_types, mode) in WORKBENCH_ENGINES.items()
        if name in allowed
    ]
    return render(request, "console/workbench.html", {"engines": engines, "debug": settings.DEBUG})
