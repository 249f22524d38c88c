"""Artifacts and applications at a glance: namespaces, artifacts with their versions, applications with what
they run. Read-only: changes are made in the admin (linked for staff) or through the CDAP routes."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from artifacts import selectors
from artifacts.models import SYSTEM_NAMESPACE, Application

#: How long an application's config summary may get before it is cut (the admin shows the whole config).
CONFIG_SUMMARY_CHARS = 80


def size_text(num: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if num < 1024 or unit == "GiB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1024
    return str(num)  # pragma: no cover - the loop always returns


def config_summary(config: Any) -> str:
    """``key=value, ...`` of an app's config (strings bare, other values as JSON), cut to a line."""
    if config is None or config == {}:
        return "—"
    if isinstance(config, dict):
        text = ", ".join(
            f"{key}={value if isinstance(value, str) else json.dumps(value)}" for key, value in config.items()
        )
    else:
        text = json.dumps(config)
    return text if len(text) <= CONFIG_SUMMARY_CHARS else text[: CONFIG_SUMMARY_CHARS - 1] + "…"


def _namespaces() -> list:
    system = selectors.namespace_get(name=SYSTEM_NAMESPACE)
    return [system, *selectors.namespace_list()] if system is not None else list(selectors.namespace_list())


def _artifacts() -> list[dict]:
    """Every artifact with its versions, newest first (one query)."""
    versions = selectors.catalog_versions()
    grouped: dict[int, dict] = {}
    for version in versions:
        entry = grouped.setdefault(version.artifact_id, {"artifact": version.artifact, "versions": []})
        entry["versions"].append(
            {
                "version": version,
                "size": size_text(version.size),
                "sha256_short": version.sha256[:12],
                "app_class": (version.app_class or {}).get("className", ""),
            }
        )
    return list(grouped.values())


def _applications(namespaces: list) -> list[dict]:
    apps: list[Application] = []
    for namespace in namespaces:
        if namespace.name != SYSTEM_NAMESPACE:  # applications cannot be deployed in the system namespace
            apps.extend(selectors.application_list(namespace=namespace).select_related("namespace"))
    running = selectors.running_programs(apps)
    return [
        {"app": app, "config": config_summary(app.config), "running": sorted(running.get(app.pk, ()))} for app in apps
    ]


@login_required(login_url="console:login")
def artifacts(request):
    namespaces = _namespaces()
    artifact_rows = _artifacts()
    app_rows = _applications(namespaces)
    artifact_counts: dict[str, int] = {}
    for row in artifact_rows:
        name = row["artifact"].namespace.name
        artifact_counts[name] = artifact_counts.get(name, 0) + 1
    app_counts: dict[str, int] = {}
    for row in app_rows:
        app_counts[row["app"].namespace.name] = app_counts.get(row["app"].namespace.name, 0) + 1
    namespace_rows = [
        {"namespace": ns, "artifacts": artifact_counts.get(ns.name, 0), "applications": app_counts.get(ns.name, 0)}
        for ns in namespaces
    ]
    context = {"namespaces": namespace_rows, "artifacts": artifact_rows, "applications": app_rows}
    return render(request, "console/artifacts.html", context)
