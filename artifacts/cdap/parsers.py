"""CDAP requests into the domain's values: query parameters, headers and bodies, read as CDAP's router reads them.

Every parser turns a problem into the ``InvalidInputError`` (400) with the text CDAP clients see; what the
parsers return (scopes, limits, ``ArtifactRef``s, plain JSON values, ``ArtifactUpload``s) is what
``artifacts.selectors`` and ``artifacts.services`` take. Rules about the values themselves (a valid name, a
config that fits its schema, runtime arguments of scalars) are the services', not checked here.

Next to each body parser sits the JSON schema of what it takes (``*_BODY``, each with an ``example``); the views
hand exactly these to the OpenAPI document (``extend_schema(request=...)``), the parsers read their enums and
required keys from the same constants, and ``tests/artifacts/test_cdap_parsers.py`` checks that every example
gets through its parser, so the document and the parsing cannot drift apart unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from typing import Any

from artifacts.archives import PLUGIN_KEYS, ArchiveError, json_document, plugins_from_json
from artifacts.models import SYSTEM_NAMESPACE
from artifacts.selectors import PROGRAM_TYPES, SYSTEM, USER
from artifacts.services import PROPERTIES_ERROR, RUNTIME_ARGS_ERROR, ArtifactRef, ArtifactUpload
from artifacts.versions import VersionError, is_valid_name, parse_parents
from dataplatform.api.exceptions import InvalidInputError
from dataplatform.api.request import json_loads

UPLOAD_CHUNK = 1024 * 1024
MAX_JSON_BODY = 10 * 1024 * 1024

#: CDAP's limits are Java ints; larger values mean "no limit" rather than an error.
MAX_LIMIT = 2**31 - 1

SCOPES = (USER, SYSTEM)
ORDERS = ("ASC", "DESC", "UNORDERED")


def json_request(schema: dict) -> dict:
    """``extend_schema(request=...)`` for a JSON body described by ``schema``."""
    return {"application/json": schema}


#: An archive (zip, wheel or jar) sent as the body, read in chunks.
ARCHIVE_BODY = {"application/octet-stream": {"type": "string", "format": "binary"}}


# --- query parameters ------------------------------------------------------------------------------------------
def parse_scope(params) -> str | None:
    """The scope a request asks for: GA's ``scope=user|system`` or the 3.1 seed's ``isSystem=true|false``.

    None means "not said": lists then show both scopes, lookups try the namespace first and then system.
    """
    scope = params.get("scope")
    if scope not in (None, ""):
        upper = str(scope).upper()
        if upper not in SCOPES:
            raise InvalidInputError(f"Invalid scope {scope}", code="scope")
        return upper
    flag = params.get("isSystem")
    if flag not in (None, ""):
        return SYSTEM if parse_bool(flag, "isSystem") else USER
    return None


def parse_bool(value, name: str) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise InvalidInputError(f"Invalid value '{value}' for {name}: expected true or false.", code="bool")


def parse_limit(value, name: str = "limit") -> int | None:
    if value in (None, ""):
        return None
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"Invalid {name} '{value}': expected a positive integer.", code=name) from None
    if limit <= 0:
        raise InvalidInputError(f"Invalid {name} '{value}': expected a positive integer.", code=name)
    return min(limit, MAX_LIMIT)


def parse_order(value) -> str:
    order = (value or "UNORDERED").upper()
    if order not in ORDERS:
        raise InvalidInputError(f"Invalid sort order {value}", code="order")
    return order


def parse_epoch_seconds(value, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"Invalid {name} '{value}': expected epoch seconds.") from None
    return max(0, min(seconds, 253402300799))  # within what a datetime holds


#: The run statuses ``GET .../runs?status=`` filters by.
RUN_STATUSES = ("ALL", "STARTING", "RUNNING", "COMPLETED", "FAILED", "KILLED")


def parse_run_status(value) -> str | None:
    if value and value.upper() not in RUN_STATUSES:
        raise InvalidInputError("Supported options for status of runs are running/completed/failed")
    return value


def parse_program_type(value: str) -> str:
    """A program type segment of a route (``workers``, ``services``...)."""
    if value not in PROGRAM_TYPES:
        raise InvalidInputError(f"Unknown program type '{value}'")
    return value


_PRETTY_TYPES = {pretty.lower(): segment for segment, pretty in PROGRAM_TYPES.items()}


def program_type_segment(name: str) -> str | None:
    """The route segment of a program type as a body names it (``Worker``, ``worker`` or ``workers``)."""
    return _PRETTY_TYPES.get(name.lower()) or (name if name in PROGRAM_TYPES else None)


# --- bodies ----------------------------------------------------------------------------------------------------
def body_chunks(request) -> Iterator[bytes]:
    """The request body in chunks, read from the stream (an upload is never held whole in memory)."""
    raw = request._request
    while chunk := raw.read(UPLOAD_CHUNK):
        yield chunk


def raw_body(request, limit: int = MAX_JSON_BODY) -> bytes:
    data = request._request.read(limit + 1)
    if len(data) > limit:
        raise InvalidInputError(f"Request body is larger than {limit} bytes.")
    return data


def json_body(request, *, required: bool = True) -> Any:
    raw = raw_body(request)
    if not raw.strip():
        if required:
            raise InvalidInputError("Request body is empty: send a JSON object.")
        return None
    try:
        return json_loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"Request body is invalid json: {error}") from None


def is_json(request) -> bool:
    return (request.content_type or "").split(";")[0].strip().lower() == "application/json"


NAMESPACE_META_BODY = {
    "type": "object",
    "description": "NamespaceMeta; an empty body creates the namespace with no description.",
    "properties": {"description": {"type": "string"}, "config": {"type": "object"}},
    "example": {"description": "the team's artifacts", "config": {}},
}


def namespace_meta(body: bytes) -> dict:
    """``PUT /namespaces/{ns}``'s NamespaceMeta: an object whose ``config`` (if any) is an object; may be empty."""
    if not body.strip():
        return {}
    try:
        data = json_loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("config") or {}, dict):
        raise InvalidInputError("Invalid json object provided in request body.")
    return data


ARTIFACT_REF = {
    "description": "An artifact: an object, or the 3.1 seed's 'name-version' string.",
    "oneOf": [
        {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "version": {"type": "string", "description": "A version, or a range such as [1.0.0,2.0.0)."},
                "scope": {"type": "string", "enum": list(SCOPES)},
                "isSystem": {"type": "boolean"},
                "namespace": {"type": "string"},
            },
        },
        {"type": "string", "pattern": "^.+?-[0-9].*$"},
    ],
}
APP_REQUEST_BODY = {
    "type": "object",
    "description": "AppRequest: the artifact to run and the application's config (checked against its schema).",
    "properties": {"artifact": ARTIFACT_REF, "config": {"type": "object"}},
    "example": {"artifact": {"name": "myapp", "version": "1.0.0", "scope": "USER"}, "config": {}},
}


def artifact_ref(value: Any) -> ArtifactRef:
    """Read AppRequest's ``artifact`` (an object, or the seed's ``"name-version"`` string)."""
    if isinstance(value, str):
        match = re.fullmatch(r"(?P<name>.+?)-(?P<version>[0-9].*)", value)
        if not match:
            raise InvalidInputError(f"Invalid artifact '{value}': expected an object with name and version.")
        return ArtifactRef(match["name"], match["version"])
    if not isinstance(value, dict):
        raise InvalidInputError('Request is missing the artifact: send {"artifact": {"name", "version"}}.')
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInputError("artifact.name is required.", code="artifact")
    version = value.get("version")
    if version is not None and not isinstance(version, str):
        raise InvalidInputError("artifact.version must be a string (a version or a range).", code="artifact")
    scope = value.get("scope")
    if scope is not None:
        if not isinstance(scope, str) or scope.upper() not in SCOPES:
            raise InvalidInputError(f"Invalid scope {scope}", code="scope")
        scope = scope.upper()
    if value.get("isSystem") is True or value.get("namespace") == SYSTEM_NAMESPACE:
        scope = SYSTEM
    elif value.get("isSystem") is False and scope is None:
        scope = USER
    return ArtifactRef(name, version or None, scope)


def app_request(body: Any) -> tuple[ArtifactRef | None, Any, bool]:
    """AppRequest (``{artifact, config}``): the artifact (None when absent), the config, and whether it was sent."""
    if not isinstance(body, dict):
        raise InvalidInputError("Request body is invalid json, please check that it is a json object.")
    ref = artifact_ref(body["artifact"]) if body.get("artifact") is not None else None
    return ref, body.get("config"), "config" in body


RUNTIME_ARGS_BODY = {
    "type": "object",
    "description": "Runtime arguments, name: value (the program's variables); the body may be empty.",
    "additionalProperties": {"nullable": True, "oneOf": [{"type": t} for t in ("string", "number", "boolean")]},
    "example": {"input": "/data/in", "retries": 2},
}


def runtime_args(body: bytes) -> Any:
    """A program start's body: runtime arguments as JSON (None when there is none)."""
    if not body:
        return None
    try:
        return json_loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError(RUNTIME_ARGS_ERROR) from None


PROPERTIES_BODY = {
    "type": "object",
    "description": "The version's properties, replaced whole.",
    "additionalProperties": {"type": "string"},
    "example": {"owner": "team-a"},
}
PROPERTY_BODY = {"text/plain": {"type": "string"}}


def properties(body: bytes) -> Any:
    """``PUT .../properties``: the properties as JSON (the service checks that they map strings to strings)."""
    try:
        return json_loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError(PROPERTIES_ERROR, code="properties") from None


PLUGINS_BODY = {
    "type": "array",
    "description": "The plugins the version declares, replacing those it declared.",
    "items": {
        "type": "object",
        "required": ["type", "name", "className"],
        "properties": {
            key: {"type": "object" if key in ("properties", "requirements") else "string"} for key in PLUGIN_KEYS
        },
        "additionalProperties": False,
    },
    "example": [{"type": "batchsource", "name": "csv", "className": "plugins.csv:CSVSource"}],
}


def plugins(body: bytes) -> Any:
    """The 3.1 seed's ``PUT .../plugins``: a JSON list of plugins (the service checks each one)."""
    try:
        return json_document(body, where="plugins")
    except ArchiveError as error:
        raise InvalidInputError(str(error), code="plugins") from None


ARTIFACT_PROPERTIES_BODY = {
    "type": "array",
    "description": "Artifacts whose properties to read: a version or a range each (unknown ones are skipped), and "
    "the property names to pick (all when absent).",
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string", "description": "a version, or a range such as [1.0.0,2.0.0)"},
            "scope": {"type": "string", "enum": ["USER", "SYSTEM", "user", "system"]},
            "properties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "example": [{"name": "myapp", "version": "[1.0.0,2.0.0)", "scope": "USER", "properties": ["team"]}],
}


def artifact_property_requests(body: Any) -> Iterator[tuple[ArtifactRef, list]]:
    """``POST .../artifactproperties``: (artifact, property keys) per item, each item read when the caller reaches
    it (as CDAP does, an item is refused only after the ones before it were looked up)."""
    if not isinstance(body, list):
        raise InvalidInputError("Unable to parse request: expected a JSON array.")
    return (_artifact_property_request(item) for item in body)


def _artifact_property_request(item: Any) -> tuple[ArtifactRef, list]:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise InvalidInputError("Unable to parse request: each item needs a name.")
    for key in ("version", "scope"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise InvalidInputError(f"Unable to parse request: '{key}' of artifact '{item['name']}' must be a string.")
    keys = item.get("properties") or []
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise InvalidInputError(
            f"Unable to parse request: 'properties' of artifact '{item['name']}' must be a list of property names."
        )
    ref = ArtifactRef(item["name"], item.get("version"), (item.get("scope") or "USER").upper())
    return ref, keys


PROGRAM_STATUS_KEYS = ("appId", "programType", "programId")
PROGRAM_STATUS_BODY = {
    "type": "array",
    "description": "The programs whose status to tell; programType is Worker, Service, Workflow, Spark...",
    "items": {
        "type": "object",
        "required": list(PROGRAM_STATUS_KEYS),
        "properties": {key: {"type": "string", "minLength": 1} for key in PROGRAM_STATUS_KEYS},
    },
    "example": [{"appId": "myapp", "programType": "Worker", "programId": "ingest"}],
}


def program_status_requests(body: Any) -> list[dict]:
    """``POST /namespaces/{ns}/status``: ``[{appId, programType, programId}]``, each a non-empty string."""
    if not isinstance(body, list):
        raise InvalidInputError("Request body is invalid json, please check that it is a json array.")
    for item in body:
        if not isinstance(item, dict):
            raise InvalidInputError("Must provide valid appId, programType, and programId for each object")
        for key in PROGRAM_STATUS_KEYS:
            if not isinstance(item.get(key), str) or not item[key]:
                raise InvalidInputError(
                    f"Must provide valid appId, programType, and programId for each object: '{key}' must be specified."
                )
    return body


# --- headers ---------------------------------------------------------------------------------------------------
def artifact_upload(
    chunks: Iterable[bytes], *, version: str | None, extends: str | None, plugins: str | None, filename: str = ""
) -> ArtifactUpload:
    """An upload from CDAP's headers: Artifact-Version, Artifact-Extends (parents, ``/``-separated) and
    Artifact-Plugins (a JSON list of plugins the archive cannot declare)."""
    parents = None
    if extends:
        try:
            parents = parse_parents(extends)
        except VersionError as error:
            raise InvalidInputError(str(error), code="parents") from None
    extra_plugins: list[dict] = []
    if plugins:
        try:
            extra_plugins = plugins_from_json(plugins)
        except ArchiveError as error:
            raise InvalidInputError(f"Artifact-Plugins header '{plugins}' is invalid: {error}") from None
    return ArtifactUpload(chunks=chunks, version=version, parents=parents, plugins=extra_plugins, filename=filename)


_DEPLOY_NAME = re.compile(r"(?P<name>[.a-zA-Z0-9_-]+?)-(?P<version>[0-9][.a-zA-Z0-9_-]*)")


def archive_name(header: str | None) -> tuple[str, str | None]:
    """``X-Archive-Name``: ``<name>-<version>.jar|.zip|.whl`` -> (artifact name, version)."""
    if not header:
        raise InvalidInputError(
            "X-Archive-Name header not present. Please include the header and set its value to the jar name.",
            code="archive_name",
        )
    base, dot, ext = header.rpartition(".")
    if not dot or ext not in ("jar", "zip", "whl"):
        raise InvalidInputError(f"Artifact name '{header}' does not end in .jar, .zip or .whl", code="ext")
    if ext == "whl":
        parts = base.split("-")
        if len(parts) >= 2 and is_valid_name(parts[0]):
            return parts[0], parts[1]
    match = _DEPLOY_NAME.fullmatch(base)
    if not match:
        raise InvalidInputError(
            f"Artifact name '{base}' is not of the form {{name}}-{{version}}.{ext}", code="archive_name"
        )
    return match["name"], match["version"]


def app_config(headers) -> Any:
    """The config an archive deploy sends in ``X-App-Config`` (or the older ``Application-Config``); None if none."""
    header = headers.get("X-App-Config") or headers.get("Application-Config")
    if not header:
        return None
    try:
        return json_loads(header)
    except ValueError:
        raise InvalidInputError("X-App-Config header is not valid JSON.", code="config") from None


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic base64(user:password)`` (RFC 7617) -> (username, password); None if not that."""
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon and username and "\x00" not in decoded else None
