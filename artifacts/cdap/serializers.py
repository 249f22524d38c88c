"""CDAP's JSON shapes (Gson field names; absent values are left out, as Gson drops nulls).

Plain functions rather than DRF serializers: listing 10,000 artifact versions builds 10,000 small dicts, and
these run in a few microseconds each.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

from artifacts.models import (
    SYSTEM_NAMESPACE,
    Application,
    ApplicationChange,
    ArtifactVersion,
    Namespace,
    Plugin,
    ProgramRun,
)
from artifacts.selectors import PROGRAM_TYPES, run_status


def namespace_meta(namespace: Namespace) -> dict:
    return {"name": namespace.name, "description": namespace.description, "config": namespace.config or {}}


def _scope(namespace: str) -> str:
    return "SYSTEM" if namespace == SYSTEM_NAMESPACE else "USER"


def summary_row(row: tuple) -> dict:
    """ArtifactSummary from a ``(namespace, name, version, ...)`` row, with the 3.1 seed's ``isSystem`` flag."""
    scope = _scope(row[0])
    return {"name": row[1], "version": row[2], "scope": scope, "isSystem": scope == "SYSTEM"}


def artifact_summary(version: ArtifactVersion) -> dict:
    return summary_row((version.artifact.namespace.name, version.artifact.name, version.version))


def _ms(value) -> int:
    return int(value.timestamp() * 1000)


def app_class(version: ArtifactVersion) -> dict:
    cls = version.app_class or {}
    out = {"className": cls.get("className", ""), "description": cls.get("description", "")}
    if cls.get("configSchema") is not None:
        out["configSchema"] = cls["configSchema"]
    out["programs"] = [
        {k: program[k] for k in ("type", "name", "description") if program.get(k) is not None}
        for program in cls.get("programs") or []
    ]
    return out


def plugin_class(plugin: Plugin) -> dict:
    out = {"type": plugin.type, "name": plugin.name}
    if plugin.category:
        out["category"] = plugin.category
    out.update(
        description=plugin.description,
        className=plugin.class_name,
        configFieldName=plugin.config_field_name or "config",
        properties=plugin.properties or {},
        requirements={"datasetTypes": [], "capabilities": []},
    )
    return out


def artifact_info(version: ArtifactVersion, plugins: list[Plugin]) -> dict:
    """ArtifactInfo, plus the stored archive's checksum, size and format (the platform's extension)."""
    out = artifact_summary(version)
    out["classes"] = {
        "apps": [app_class(version)] if version.app_class else [],
        "plugins": [plugin_class(p) for p in plugins],
    }
    out["properties"] = version.properties or {}
    out["parents"] = list(version.parents or [])
    out["meta"] = {"created": str(_ms(version.created_at)), "updated": str(_ms(version.updated_at))}
    out["checksum"] = {"sha256": version.sha256}
    out["size"] = version.size
    out["format"] = version.format
    return out


def plugin_summary(plugin: Plugin) -> dict:
    out = {"name": plugin.name, "type": plugin.type}
    if plugin.category:
        out["category"] = plugin.category
    out.update(description=plugin.description, className=plugin.class_name)
    out["artifact"] = {
        k: v for k, v in artifact_summary(plugin.artifact_version).items() if k in ("name", "version", "scope")
    }
    return out


def plugin_info(plugin: Plugin) -> dict:
    out = plugin_summary(plugin)
    out.update(configFieldName=plugin.config_field_name or "config", properties=plugin.properties or {}, endpoints=[])
    return out


def app_class_summary(version: ArtifactVersion, *, with_schema: bool) -> dict:
    summary = {k: v for k, v in artifact_summary(version).items() if k in ("name", "version", "scope")}
    out = {"artifact": summary, "className": (version.app_class or {}).get("className", "")}
    if with_schema and (version.app_class or {}).get("configSchema") is not None:
        out["configSchema"] = version.app_class["configSchema"]
    return out


def _artifact_ref(app: Application) -> dict:
    version = app.artifact_version
    return {"name": version.artifact.name, "version": version.version, "scope": version.scope}


def application_record(app: Application) -> dict:
    """ApplicationRecord as CDAP 3.x writes it: ``version`` is the artifact's version."""
    return {
        "type": "App",
        "id": app.name,
        "name": app.name,
        "version": app.artifact_version.version,
        "appVersion": "-SNAPSHOT",
        "description": app.description,
        "artifact": _artifact_ref(app),
    }


def program_record(app: Application, program: dict) -> dict:
    return {
        "type": PROGRAM_TYPES.get(program["type"], program["type"]),
        "app": app.name,
        "id": program["name"],
        "name": program["name"],
        "description": program.get("description", ""),
        "appVersion": "-SNAPSHOT",
    }


def application_detail(app: Application, plugins: list[Plugin]) -> dict:
    return {
        "name": app.name,
        "appVersion": "-SNAPSHOT",
        "version": app.artifact_version.version,
        "description": app.description,
        "configuration": configuration(app),
        "streams": [],
        "datasets": [],
        "programs": [program_record(app, program) for program in app.programs],
        "plugins": [{"id": f"{p.type}.{p.name}", "name": p.name, "type": p.type} for p in plugins],
        "artifact": _artifact_ref(app),
        "artifactRequest": app.artifact_request,
        "created": _ms(app.created_at),
        "updated": _ms(app.updated_at),
    }


# --- the config as CDAP echoes it ------------------------------------------------------------------------------
# ``PUT /apps/{app}`` reads its body with ``gson.fromJson(reader, AppRequest.class)``: the raw class, so ``config``
# is read as a plain ``Object`` (objects become LinkedTreeMaps in the order sent, every number a Double), and the
# handler writes it back with ``new Gson().toJson(config)`` into the spec's ``configuration`` (no config: "").
# So the text is compact, keeps the keys' order, drops object members that are null (``serializeNulls`` is off),
# writes numbers as Java's ``Double.toString`` does, and escapes as Gson's HTML-safe JsonWriter does. Sources:
# ``AppLifecycleHttpHandler.deployAppFromArtifact``, ``InMemoryConfigurator``, Gson's ``ObjectTypeAdapter`` and
# ``JsonWriter`` (REPLACEMENT_CHARS, HTML_SAFE_REPLACEMENT_CHARS, and U+2028/U+2029 always escaped). The key order
# comes from ``Application.config_text`` (a jsonb column keeps none). One difference: an archive deploy's
# ``X-App-Config`` header is echoed verbatim upstream; here it is echoed in the same Gson form as any config.
_GSON_ESCAPES = {chr(code): f"\\u{code:04x}" for code in range(0x20)}
_GSON_ESCAPES.update({
    '"': '\\"', "\\": "\\\\", "\t": "\\t", "\b": "\\b", "\n": "\\n", "\r": "\\r", "\f": "\\f",
    "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "=": "\\u003d", "'": "\\u0027",
    "\u2028": "\\u2028", "\u2029": "\\u2029",
})  # fmt: skip
_GSON_SPECIAL = re.compile("[" + re.escape("".join(_GSON_ESCAPES)) + "]")


def _gson_string(text: str) -> str:
    return '"' + _GSON_SPECIAL.sub(lambda match: _GSON_ESCAPES[match.group()], text) + '"'


def java_double(value: float) -> str:
    """``Double.toString``: plain between 10^-3 and 10^7 (``10.0``), else ``1.0E7``, ``1.5E-5``."""
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        return repr(value)  # Python's shortest digits, always with a fraction in this range
    _, digits, exponent = Decimal(repr(abs(value))).as_tuple()
    power = len(digits) - 1 + int(exponent)
    significant = "".join(map(str, digits)).rstrip("0") or "0"
    return f"{'-' if value < 0 else ''}{significant[0]}.{significant[1:] or '0'}E{power}"


def gson_json(value: Any) -> str:
    """``value`` (as ``json.loads`` gives it) the way Gson writes what it read as an ``Object``."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int | float):
        try:
            return java_double(float(value))
        except OverflowError:  # beyond a double: Gson would fail; the digits are the nearest honest answer
            return str(value)
    if isinstance(value, str):
        return _gson_string(value)
    if isinstance(value, dict):
        members = (f"{_gson_string(str(key))}:{gson_json(item)}" for key, item in value.items() if item is not None)
        return "{" + ",".join(members) + "}"
    return "[" + ",".join(gson_json(item) for item in value) + "]"


def configuration(app: Application) -> str:
    """``ApplicationDetail.configuration``: the config as CDAP's handler re-serializes it ("" without one)."""
    if app.config_text:
        return gson_json(json.loads(app.config_text))
    return "" if app.config is None else gson_json(app.config)


def change_record(change: ApplicationChange) -> dict:
    return {
        "id": change.pk,
        "action": change.action,
        "actor": change.actor,
        "at": _ms(change.at),
        "via": change.via,
        "summary": change.summary,
        "from": {"artifact": change.from_artifact, "config": change.from_config} if change.from_artifact else None,
        "to": {"artifact": change.to_artifact, "config": change.to_config} if change.to_artifact else None,
        "undone": change.undone_by_id is not None,
    }


def _seconds(value) -> int | None:
    return None if value is None else int(value.timestamp())


def run_record(run: ProgramRun) -> dict:
    job = run.job
    out = {"runid": run.run_id, "starting": _seconds(run.created_at)}
    if job is not None and job.started_at:
        out["start"] = _seconds(job.started_at)
    if job is not None and job.finished_at:
        out["end"] = _seconds(job.finished_at)
    out["status"] = run_status(run)
    out["properties"] = {"runtimeArgs": json.dumps(run.runtime_args or {})}
    if job is not None:
        out["jobId"] = job.pk
        out["execID"] = job.exec_id
    return out
