"""OpenPAI's job protocol v2 (``POST /api/v2/jobs``, v0.14), read into the platform's v1 job config.

Upstream (microsoft/pai v0.14.0, ``src/rest-server/src/middlewares/v2/protocol.js`` and ``config/v2/protocol.js``)
loads the body with js-yaml, validates it with ajv 6 (``allErrors``) against the protocol schema, checks the
references between its parts, and renders every task role's ``commands`` into one entrypoint: the role's
deployment ``preCommands``, its commands and ``postCommands``, each trimmed, joined with `` && ``, with
``<% $parameters.x %>``, ``<% $secrets.x %>``, ``<% $script.x %>``, ``<% $output.x %>`` and ``<% $data.uri[0] %>``
replaced (mustache names with ``<%``/``%>`` tags; a missing value renders as nothing). This module does the same:

- a schema violation is ``ProtocolError`` whose message is ajv's error list as JSON text, exactly as upstream's
  ``createError`` stringifies it (``[{"keyword":"required","dataPath":"","schemaPath":"#/required",...}]``);
  the validator below walks the schema in ajv's order (type, then the number, string, array and object keywords,
  then ``$ref``/``enum``/``oneOf``; required properties are checked where ``properties`` visits them), so the
  list is the one ajv gives, item for item;
- the reference checks give upstream's sentences (``Prerequisite x does not exist.``, ``Duplicate dockerimage
  prerequisites x.``, ``Default deployment x does not exist.``, ``Duplicate deployments x.``).

Where the platform differs from upstream, on purpose:
- Any Content-Type is read as YAML (JSON is YAML). Upstream parsed only ``text/*`` bodies as text; openpaisdk
  sends ``Content-Type: text/yaml`` with a JSON body, which is what matters.
- A body that is not YAML is a 400 ``InvalidProtocolError`` naming the line and column; upstream let js-yaml's
  exception reach its generic handler (500 with ``{message}`` and no code). Mustache syntax errors likewise.
- Scalars resolve as js-yaml's YAML 1.2 core schema does (``yes``/``on`` stay text, ``1e3`` is a number);
  timestamps stay text, and values JSON cannot hold (``!!binary``, ``!!set``) are refused. Duplicate keys are
  refused, as js-yaml does. Aliases may not expand a document beyond ``MAX_NODES`` values, and mappings and
  lists nest at most ``MAX_JSON_DEPTH`` levels (as JSON bodies elsewhere).
- What the platform cannot run is refused before anything is submitted, in the protocol's own terms (numbers a
  database integer cannot hold, completion counts below 1 or above ``instances``, roles that name different
  data, output or script prerequisites...).

The translation (``JobProtocol.config``): ``name`` -> ``jobName``; ``defaults.virtualCluster`` -> ``virtualCluster``
(``default`` when absent, as upstream); ``jobRetryCount`` -> ``retryCount``; each task role -> one v1 role with
``instances`` (default 1) -> ``taskNumber``, ``resourcePerInstance`` {cpu, memoryMB, gpu} -> ``cpuNumber``,
``memoryMB``, ``gpuNumber``, ``ports`` {label: count} -> ``portList`` (ports of count 0 are none),
``extraContainerOptions.shmMB`` -> ``shmMB``, ``completion`` {minFailedInstances (default 1), minSucceededInstances
(default null)} -> ``minFailedTaskCount``/``minSucceededTaskCount``, the rendered entrypoint -> ``command``. The first
role's docker image becomes the job's ``image`` (recorded: tasks run as host processes). A ``data``, ``output`` or
``script`` prerequisite the roles use becomes ``dataDir`` (its first uri), ``outputDir`` or ``codeDir``, so the task
sees it as a v1 task sees those directories. ``taskRetryCount``, ``extras``, ``version``, ``contributor`` and
docker ``auth`` are kept in the stored protocol only: upstream v0.14 (YARN) did not use them either.

What is stored as the config "as submitted" (``stored_text``): the body's text, unless its ``secrets`` are not
empty; then the secrets are masked as upstream's ``protocolSecret.mask`` does (``secrets: "******"``), on the text
when its line-based rewrite works (block-style YAML), else on a YAML dump of the document (upstream's regex cannot
mask a JSON body, and openpaisdk puts the cluster's password in ``secrets``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import yaml
from django.conf import settings

from dataplatform.api.request import MAX_JSON_DEPTH
from jobs.openpai.config import INT_MAX

#: Values (mappings, lists and scalars) a document may hold once its aliases are expanded.
MAX_NODES = 100_000
MASK = "******"


class ProtocolError(ValueError):
    """The body is not a job protocol the platform runs; ``message`` is what the client is told."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- YAML ------------------------------------------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with js-yaml's scalars: YAML 1.2 booleans and floats, no timestamps, no ``=``."""

    def construct_mapping(self, node, deep=False):
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = _js_key(self.construct_object(key_node, deep=False))
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicated mapping key {key!r}",
                                                            key_node.start_mark)  # fmt: skip
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_DROPPED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:float", "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}  # fmt: skip
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(  # PyYAML's (and js-yaml's) integers: 0b, 0x, leading-0 octal, base 60, underscores
    "tag:yaml.org,2002:int",
    re.compile(
        r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0[0-7_]+
        |[-+]?(?:0|[1-9][0-9_]*)
        |[-+]?0x[0-9a-fA-F_]+
        |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$""",
        re.X,
    ),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(  # js-yaml 3's float: an exponent needs no dot, ".5" and base 60 count
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:0|[1-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def js_number(value: int | float) -> str:
    """A number as JavaScript's ``String(n)`` writes it (``1.0`` -> ``1``, ``1e21`` -> ``1e+21``)."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = int(exponent)
    if -7 < power < 21:
        return format(Decimal(text), "f")
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def js_string(value: Any) -> str:
    """``String(value)`` in JavaScript, for what a rendered ``<% name %>`` puts in a command."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if item is None else js_string(item) for item in value)
    if value is None:
        return "null"
    return "[object Object]"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: str) -> str:
    """A string with the surrogate pairs of ``"\\ud83d\\ude00"`` escapes joined (as JavaScript's UTF-16 strings
    hold them; openpaisdk's JSON escapes every non-ASCII character); a lone surrogate is refused."""
    if not _SURROGATE.search(value):
        return value
    try:
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        raise ProtocolError("the request body is not a valid job protocol: a string holds a lone surrogate") from None


def _js_key(key: Any) -> str:
    if isinstance(key, str):
        return _text(key)
    if isinstance(key, bool | int | float) or key is None:
        return js_string(key)
    raise ProtocolError(f"the request body is not a valid job protocol: a mapping key is a {type(key).__name__}")


def _plain(document: Any) -> Any:
    """The loaded document as JSON values with string keys (as JavaScript sees it); aliases expanded, bounded."""
    holder: dict[str, Any] = {}
    stack: list[tuple[Any, Any, Any, int]] = [(document, holder, "root", 1)]
    budget = MAX_NODES
    while stack:
        node, parent, key, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise ProtocolError(f"the request body is too large: it holds more than {MAX_NODES} values")
        out: Any
        if isinstance(node, dict | list | tuple) and depth > MAX_JSON_DEPTH:
            raise ProtocolError(f"the request body nests mappings and lists deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(node, dict):
            out = {}
            for item_key, item in node.items():
                name = _js_key(item_key)
                if name in out:
                    raise ProtocolError(f"the request body is not valid YAML: duplicated mapping key {name!r}")
                out[name] = None
                stack.append((item, out, name, depth + 1))
        elif isinstance(node, list | tuple):
            out = [None] * len(node)
            stack.extend((item, out, index, depth + 1) for index, item in enumerate(node))
        elif isinstance(node, str):
            out = _text(node)
        elif node is None or isinstance(node, bool | int | float):
            out = node
        else:
            raise ProtocolError(f"the request body is not a valid job protocol: a value is a {type(node).__name__}")
        parent[key] = out
    return holder["root"]


def load(text: str) -> Any:
    """The YAML (or JSON) document in ``text``, as JSON values; ``ProtocolError`` when it is not one."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a subclass of SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = ", ".join(part for part in (error.context, error.problem) if part) or "invalid YAML"
        raise ProtocolError(f"the request body is not valid YAML: {problem}{where}") from None
    except yaml.YAMLError as error:
        raise ProtocolError(f"the request body is not valid YAML: {error}") from None
    except RecursionError:
        raise ProtocolError("the request body is not valid YAML: it is nested too deeply") from None
    return _plain(document)


# --- the schema (config/v2/protocol.js), in upstream's key order: ajv reports errors in that order --------------
BASE = {
    "protocolVersion": {"enum": ["2", 2]},
    "name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]+$"},
    "version": {"type": ["string", "number"]},
    "contributor": {"type": "string"},
    "description": {"type": "string"},
}
REFS = {f"base.json#/properties/{key}": schema for key, schema in BASE.items()}


def _ref(key: str) -> dict:
    return {"$ref": f"base.json#/properties/{key}"}


def _prerequisite(kinds: list[str], extra: dict, uri: dict) -> dict:
    """A ``$merge`` of base.json with the kind's properties (RFC 7396: new keys go last)."""
    return {
        "$merge": {
            "type": "object",
            "properties": {**BASE, "type": {"type": "string", "enum": kinds}, **extra, "uri": uri},
            "required": ["name", "type", "uri"],
            "additionalProperties": False,
        }
    }


ROLE_PATTERN = "^[a-zA-Z_][a-zA-Z0-9_]*$"
INTEGER_OR_NULL = {"type": ["integer", "null"]}
DOCKER_AUTH = {
    "type": "object",
    "properties": {"username": {"type": "string"}, "password": {"type": "string"}, "registryuri": {"type": "string"}},
}
SCHEMA: dict = {
    "type": "object",
    "properties": {
        "protocolVersion": _ref("protocolVersion"),
        "name": _ref("name"),
        "type": {"type": "string", "enum": ["job"]},
        "version": _ref("version"),
        "contributor": _ref("contributor"),
        "description": _ref("description"),
        "prerequisites": {
            "type": "array",
            "items": {
                "type": "object",
                "oneOf": [
                    _prerequisite(["script", "output"], {}, {"type": "string"}),
                    _prerequisite(["data"], {}, {"type": "array", "items": {"type": "string"}}),
                    _prerequisite(["dockerimage"], {"auth": DOCKER_AUTH}, {"type": "string"}),
                ],
            },
            "minItems": 1,
        },
        "parameters": {"type": "object", "additionalProperties": True},
        "secrets": {"type": "object", "additionalProperties": True},
        "jobRetryCount": {"type": "integer", "minimum": 0},
        "taskRoles": {
            "patternProperties": {
                ROLE_PATTERN: {
                    "type": "object",
                    "properties": {
                        "protocolVersion": _ref("protocolVersion"),
                        "instances": {"type": "integer", "minimum": 1},
                        "completion": {
                            "type": "object",
                            # Upstream's schema puts additionalProperties inside properties: a property so named
                            # is refused (a false schema), any other is allowed. Kept as it is.
                            "properties": {
                                "minFailedInstances": INTEGER_OR_NULL,
                                "minSucceededInstances": INTEGER_OR_NULL,
                                "additionalProperties": False,
                            },
                        },
                        "taskRetryCount": {"type": "integer"},
                        "dockerImage": {"type": "string"},
                        "data": {"type": "string"},
                        "output": {"type": "string"},
                        "script": {"type": "string"},
                        "extraContainerOptions": {
                            "type": "object",
                            "properties": {"shmMB": {"type": "integer"}, "additionalProperties": False},
                        },
                        "resourcePerInstance": {
                            "type": "object",
                            "properties": {
                                "cpu": {"type": "integer"},
                                "memoryMB": {"type": "integer"},
                                "gpu": {"type": "integer"},
                                "ports": {
                                    "patternProperties": {ROLE_PATTERN: {"type": "integer"}},
                                    "minProperties": 1,
                                    "additionalProperties": False,
                                },
                            },
                            "required": ["cpu", "memoryMB", "gpu"],
                            "additionalProperties": False,
                        },
                        "commands": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    },
                    "required": ["dockerImage", "resourcePerInstance", "commands"],
                    "additionalProperties": False,
                }
            },
            "minProperties": 1,
            "additionalProperties": False,
        },
        "deployments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "protocolVersion": _ref("protocolVersion"),
                    "name": _ref("name"),
                    "taskRoles": {
                        "patternProperties": {
                            "^[A-Za-z0-9._~]+$": {
                                "type": "object",
                                "properties": {
                                    "preCommands": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                                    "postCommands": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                                },
                                "additionalProperties": False,
                            }
                        },
                        "minProperties": 1,
                        "additionalProperties": False,
                    },
                },
                "required": ["name", "taskRoles"],
            },
            "minItems": 1,
        },
        "defaults": {"type": "object", "properties": {"deployment": {"type": "string"}}},
        "extras": {"type": "object"},
    },
    "required": ["protocolVersion", "name", "type", "taskRoles"],
    "additionalProperties": False,
}


# --- an ajv 6 validator for the keywords above (allErrors, no coercion, no defaults) ---------------------------
_GROUPS = (
    ("number", ("minimum",)),
    ("string", ("pattern",)),
    ("array", ("minItems", "items")),
    ("object", ("minProperties", "required", "properties", "additionalProperties", "patternProperties")),
)
_GROUP_TYPES = {group for group, _ in _GROUPS}
_IDENTIFIER = re.compile(r"^[a-z$_][a-z$_0-9]*$", re.I)
_PATTERNS: dict[str, re.Pattern] = {}


def _pattern(source: str) -> re.Pattern:
    """A JavaScript regular expression of the schema as Python's (``$`` is the end of the text there)."""
    if source not in _PATTERNS:
        _PATTERNS[source] = re.compile(source[:-1] + r"\Z" if source.endswith("$") else source, re.ASCII)
    return _PATTERNS[source]


def _is(kind: str, value: Any) -> bool:
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "integer":
        return _is("number", value) and (isinstance(value, int) or math.isinf(value) or value.is_integer())
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "boolean":
        return isinstance(value, bool)
    return value is None  # "null"


def _js_equal(a: Any, b: Any) -> bool:
    if _is("number", a) and _is("number", b):
        return a == b
    return type(a) is type(b) and a == b


def _js_keys(mapping: dict) -> list[str]:
    """``for (key in object)`` order: array-index keys ascending first, then the others as inserted."""

    def index(key: str) -> int | None:
        return int(key) if key.isdigit() and str(int(key)) == key and int(key) < 2**32 - 1 else None

    numeric = sorted((key for key in mapping if index(key) is not None), key=int)
    return numeric + [key for key in mapping if index(key) is None]


def _fragment(key: str) -> str:
    return quote(key.replace("~", "~0").replace("/", "~1"), safe="-_.!~*'()")


def _non_empty(schema: Any) -> bool:
    return schema is False or (isinstance(schema, dict) and bool(schema))


class _Validator:
    def __init__(self) -> None:
        self.errors: list[dict] = []

    def error(self, keyword: str, path: str, schema_path: str, params: dict, message: str) -> None:
        self.errors.append(
            {"keyword": keyword, "dataPath": path, "schemaPath": schema_path, "params": params, "message": message}
        )

    def validate(self, schema: Any, data: Any, path: str, schema_path: str) -> None:
        if schema is True:
            return
        if schema is False:
            self.error("false schema", path, schema_path + "/false schema", {}, "boolean schema is false")
            return
        if "$ref" in schema:
            self.validate(REFS[schema["$ref"]], data, path, schema["$ref"])
            return
        kind = schema.get("type")
        if isinstance(kind, list) and len(kind) == 1:
            kind = kind[0]
        used = {group for group, keywords in _GROUPS if any(keyword in schema for keyword in keywords)}
        if kind is not None and (isinstance(kind, list) or kind not in _GROUP_TYPES or kind not in used):
            kinds = kind if isinstance(kind, list) else [kind]
            if not any(_is(each, data) for each in kinds):
                self.type_error(kinds, path, schema_path)
        for group, _ in _GROUPS:
            if group not in used:
                continue
            if _is(group, data):
                getattr(self, f"_{group}")(schema, data, path, schema_path)
            elif kind == group:
                self.type_error([group], path, schema_path)
        if "enum" in schema and not any(_js_equal(data, allowed) for allowed in schema["enum"]):
            self.error("enum", path, schema_path + "/enum", {"allowedValues": schema["enum"]},
                       "should be equal to one of the allowed values")  # fmt: skip
        if "oneOf" in schema:
            self._one_of(schema["oneOf"], data, path, schema_path + "/oneOf")
        if "$merge" in schema:  # ajv-merge-patch's macro: the merged schema's errors, then the keyword's own
            before = len(self.errors)
            self.validate(schema["$merge"], data, path, schema_path)
            if len(self.errors) > before:
                self.error("$merge", path, schema_path + "/$merge", {"keyword": "$merge"},
                           'should pass "$merge" keyword validation')  # fmt: skip

    def type_error(self, kinds: list[str], path: str, schema_path: str) -> None:
        names = ",".join(kinds)
        self.error("type", path, schema_path + "/type", {"type": names}, f"should be {names}")

    def _number(self, schema: dict, data: Any, path: str, schema_path: str) -> None:
        limit = schema["minimum"]
        if data < limit:
            self.error("minimum", path, schema_path + "/minimum",
                       {"comparison": ">=", "limit": limit, "exclusive": False}, f"should be >= {limit}")  # fmt: skip

    def _string(self, schema: dict, data: Any, path: str, schema_path: str) -> None:
        source = schema["pattern"]
        if not _pattern(source).search(data):
            self.error("pattern", path, schema_path + "/pattern", {"pattern": source},
                       f'should match pattern "{source}"')  # fmt: skip

    def _array(self, schema: dict, data: list, path: str, schema_path: str) -> None:
        if "minItems" in schema and len(data) < schema["minItems"]:
            limit = schema["minItems"]
            self.error("minItems", path, schema_path + "/minItems", {"limit": limit},
                       f"should NOT have fewer than {limit} items")  # fmt: skip
        if "items" in schema:
            for index, item in enumerate(data):
                self.validate(schema["items"], item, f"{path}[{index}]", schema_path + "/items")

    def _object(self, schema: dict, data: dict, path: str, schema_path: str) -> None:
        if "minProperties" in schema and len(data) < schema["minProperties"]:
            limit = schema["minProperties"]
            self.error("minProperties", path, schema_path + "/minProperties", {"limit": limit},
                       f"should NOT have fewer than {limit} properties")  # fmt: skip
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        for name in required:  # those without a schema of their own; properties checks the others
            if not _non_empty(properties.get(name)) and name not in data:
                self.missing(name, path, schema_path)
        patterns = schema.get("patternProperties", {})
        additional = schema.get("additionalProperties")
        if additional is False or (isinstance(additional, dict) and additional):
            for key in _js_keys(data):
                if key in properties or any(_pattern(source).search(key) for source in patterns):
                    continue
                if additional is False:
                    self.error("additionalProperties", path, schema_path + "/additionalProperties",
                               {"additionalProperty": key}, "should NOT have additional properties")  # fmt: skip
                else:
                    self.validate(additional, data[key], f"{path}['{key}']", schema_path + "/additionalProperties")
        for name, sub in properties.items():
            if not _non_empty(sub):
                continue
            if name not in data:
                if name in required:
                    self.missing(name, path, schema_path)
                continue
            where = f"{path}.{name}" if _IDENTIFIER.match(name) else f"{path}['{name}']"
            self.validate(sub, data[name], where, f"{schema_path}/properties/{_fragment(name)}")
        for source, sub in patterns.items():
            if _non_empty(sub):
                for key in _js_keys(data):
                    if _pattern(source).search(key):
                        self.validate(
                            sub, data[key], f"{path}['{key}']", f"{schema_path}/patternProperties/{_fragment(source)}"
                        )

    def missing(self, name: str, path: str, schema_path: str) -> None:
        self.error("required", path, schema_path + "/required", {"missingProperty": name},
                   f"should have required property '{name}'")  # fmt: skip

    def _one_of(self, branches: list, data: Any, path: str, schema_path: str) -> None:
        before = len(self.errors)
        passing: list[int] = []
        for index, branch in enumerate(branches):
            mark = len(self.errors)
            self.validate(branch, data, path, f"{schema_path}/{index}")
            if len(self.errors) == mark:
                passing.append(index)
        if len(passing) == 1:
            del self.errors[before:]
            return
        self.error("oneOf", path, schema_path, {"passingSchemas": passing[:2] if passing else None},
                   "should match exactly one schema in oneOf")  # fmt: skip


def schema_errors(document: Any) -> list[dict]:
    """ajv's errors for ``document`` against the protocol schema, in ajv's order (empty when it is valid)."""
    validator = _Validator()
    validator.validate(SCHEMA, document, "", "#")
    return validator.errors


# --- rendering (the middleware's render(): mustache names, <% %> tags) -------------------------------------------
_TAG_TYPES = "#^/>{&=!"


def _lookup(name: str, view: dict) -> Any:
    name = re.sub(r"\[(\d+)\]", r".\1", name)
    if name.find(".") <= 0:
        return view.get(name)
    value: Any = view
    for part in name.split("."):
        if value is None:
            return None
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list | str):
            if part == "length":
                value = len(value)
            elif part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                value = None
        else:
            value = None
    return value


def render(template: str, view: dict) -> str:
    """Upstream's ``render``: text kept, ``<% name %>`` replaced by its value (nothing when missing), sections,
    comments, partials and unescaped tags dropped; the result trimmed. Mustache's syntax errors are refused."""
    out: list[str] = []
    sections: list[str] = []
    position = 0
    while True:
        start = template.find("<%", position)
        if start < 0:
            if sections:
                raise ProtocolError(f'Unclosed section "{sections[-1]}" at {len(template)}')
            if not sections:
                out.append(template[position:])
            break
        if not sections:
            out.append(template[position:start])
        cursor = start + 2
        while cursor < len(template) and template[cursor].isspace():
            cursor += 1
        kind = template[cursor] if cursor < len(template) and template[cursor] in _TAG_TYPES else "name"
        if kind != "name":
            cursor += 1
        end = template.find("%>", cursor)
        if end < 0:
            raise ProtocolError(f"Unclosed tag at {len(template)}")
        value = template[cursor:end].strip()
        if kind == "{" and value.endswith("}"):
            value = value[:-1].strip()
        position = end + 2
        if kind in "#^":
            sections.append(value)
        elif kind == "/":
            if not sections:
                raise ProtocolError(f'Unopened section "{value}" at {start}')
            opened = sections.pop()
            if opened != value:
                raise ProtocolError(f'Unclosed section "{opened}" at {start}')
        elif kind == "name" and not sections:
            found = _lookup(value, view)
            if found is not None:
                out.append(js_string(found))
    return "".join(out).strip()


# --- the whole protocol ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobProtocol:
    """A valid protocol: its ``name``, the v1 job ``config`` it runs as, and the ``stored_text``."""

    name: str
    document: dict
    config: dict
    stored_text: str


def _references(document: dict) -> tuple[dict[str, dict[str, dict]], dict[str, dict]]:
    """Prerequisites by type and name and deployments by name, after upstream's checks (with its sentences)."""
    prerequisites: dict[str, dict[str, dict]] = {kind: {} for kind in ("script", "output", "data", "dockerimage")}
    for item in document.get("prerequisites") or []:
        if item["name"] in prerequisites[item["type"]]:
            raise ProtocolError(f"Duplicate {item['type']} prerequisites {item['name']}.")
        prerequisites[item["type"]][item["name"]] = item
    deployments: dict[str, dict] = {}
    for item in document.get("deployments") or []:
        if item["name"] in deployments:
            raise ProtocolError(f"Duplicate deployments {item['name']}.")
        deployments[item["name"]] = item
    for role in document["taskRoles"].values():
        for field in ("script", "output", "data", "dockerImage"):
            if field in role and role[field] not in prerequisites[field.lower()]:
                raise ProtocolError(f"Prerequisite {role[field]} does not exist.")
    default = (document.get("defaults") or {}).get("deployment")
    if "deployment" in (document.get("defaults") or {}) and default not in deployments:
        raise ProtocolError(f"Default deployment {default} does not exist.")
    return prerequisites, deployments


def _entrypoints(document: dict, prerequisites: dict, deployments: dict) -> dict[str, str]:
    default = (document.get("defaults") or {}).get("deployment")
    deployment = deployments.get(default) if default is not None else None
    out = {}
    for name, role in document["taskRoles"].items():
        commands = list(role["commands"])
        extra = None
        if deployment is not None:
            targets = deployment["taskRoles"]  # the schema gives it no type: upstream's `in` throws on a non-object
            if not isinstance(targets, dict | list):
                raise ProtocolError(f"deployment {default}: taskRoles must be a mapping")
            extra = targets.get(name) if isinstance(targets, dict) else None
        if extra is not None:
            commands = list(extra.get("preCommands") or []) + commands + list(extra.get("postCommands") or [])
        view = {
            "$parameters": document.get("parameters"),
            "$secrets": document.get("secrets"),
            "$script": prerequisites["script"].get(role.get("script")),
            "$output": prerequisites["output"].get(role.get("output")),
            "$data": prerequisites["data"].get(role.get("data")),
        }
        out[name] = render(" && ".join(command.strip() for command in commands), view)
    return out


def _int(value: Any, where: str, low: int, high: int = INT_MAX) -> int:
    if not (low <= value <= high) or (isinstance(value, float) and not value.is_integer()):
        raise ProtocolError(f"{where} is {js_string(value)}; the platform takes {low} to {high}")
    return int(value)


def _location(roles: dict, prerequisites: dict, kind: str) -> str:
    """The one ``kind`` prerequisite the roles use, as a v1 directory ('' when none)."""
    used = sorted({role[kind] for role in roles.values() if kind in role})
    if len(used) > 1:
        raise ProtocolError(
            f"taskRoles use different {kind} prerequisites ({', '.join(used)}); "
            f"the platform gives a job one {kind} location"
        )
    if not used:
        return ""
    uri = prerequisites[kind][used[0]]["uri"]
    return (uri[0] if uri else "") if kind == "data" else uri


def _role_config(name: str, role: dict, command: str) -> dict:
    where = f"taskRoles.{name}"
    resources = role["resourcePerInstance"]
    count = _int(role.get("instances") or 1, f"{where}.instances", 1, settings.OPENPAI_MAX_TASKS_PER_JOB)
    memory = _int(resources["memoryMB"], f"{where}.resourcePerInstance.memoryMB", 0)
    config: dict[str, Any] = {
        "name": name,
        "taskNumber": count,
        "cpuNumber": _int(resources["cpu"], f"{where}.resourcePerInstance.cpu", 0),
        "memoryMB": memory,
        "gpuNumber": _int(resources["gpu"], f"{where}.resourcePerInstance.gpu", 0),
        "portList": [
            {
                "label": label,
                "beginAt": 0,
                "portNumber": _int(number, f"{where}.resourcePerInstance.ports.{label}", 1, 100),
            }
            for label, number in (resources.get("ports") or {}).items()
            if number != 0  # upstream asked the launcher for no port
        ],
        "command": command,
    }
    if not command:
        raise ProtocolError(f"{where}.commands render to an empty command")
    if len(command.encode()) > settings.JOB_MAX_CODE_BYTES:
        raise ProtocolError(f"{where}.commands render to more than {settings.JOB_MAX_CODE_BYTES} bytes")
    options = role.get("extraContainerOptions") or {}
    if "shmMB" in options:
        config["shmMB"] = _int(options["shmMB"], f"{where}.extraContainerOptions.shmMB", 0, memory)
    completion = role.get("completion") or {}
    for field, key, default in (("minFailedInstances", "minFailedTaskCount", 1),
                                ("minSucceededInstances", "minSucceededTaskCount", None)):  # fmt: skip
        value = completion.get(field, default)
        config[key] = None if value is None else _int(value, f"{where}.completion.{field}", 1, count)
    return config


def parse(raw: bytes) -> JobProtocol:
    """Read a protocol body into what the platform submits; ``ProtocolError`` with upstream's message otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProtocolError(f"the request body is not UTF-8 text: {error}") from None
    document = load(text)
    errors = schema_errors(document)
    if errors:
        raise ProtocolError(json.dumps(errors, ensure_ascii=False, separators=(",", ":")))
    roles = document["taskRoles"]
    if not isinstance(roles, dict) or not roles:  # the schema gives taskRoles no type: [] and null pass it
        raise ProtocolError("taskRoles must be a mapping of at least one task role")
    prerequisites, deployments = _references(document)
    entrypoints = _entrypoints(document, prerequisites, deployments)
    name = document["name"]
    if len(name) > 255:
        raise ProtocolError(f"name is {len(name)} characters long; the platform takes at most 255")
    defaults = document.get("defaults") or {}
    virtual_cluster = defaults.get("virtualCluster")
    if virtual_cluster is not None and not isinstance(virtual_cluster, str):
        raise ProtocolError("defaults.virtualCluster must be a string")
    first = next(iter(roles.values()))
    image = prerequisites["dockerimage"][first["dockerImage"]]["uri"]
    if not image or len(image) > 1024:
        raise ProtocolError("the docker image's uri must be 1 to 1024 characters long")
    config = {
        "jobName": name,
        "image": image,
        "virtualCluster": virtual_cluster or "default",
        "retryCount": _int(document.get("jobRetryCount") or 0, "jobRetryCount", 0),
        "dataDir": _location(roles, prerequisites, "data"),
        "outputDir": _location(roles, prerequisites, "output"),
        "codeDir": _location(roles, prerequisites, "script"),
        "taskRoles": [_role_config(role_name, role, entrypoints[role_name]) for role_name, role in roles.items()],
    }
    return JobProtocol(name=name, document=document, config=config, stored_text=stored_text(text, document))


def _upstream_mask(text: str) -> str:
    """``protocolSecret.mask``: the top-level ``secrets:`` block replaced, line-wise, by ``secrets: "******"``."""
    masked = re.sub(r"(^secrets:)[\s\S]*?(^\w)", r'\1 "******"\n\2', text + "\nZ", count=1, flags=re.M | re.A)
    return masked[:-2]


def stored_text(text: str, document: dict) -> str:
    """The text kept as the job's config: the body, with non-empty ``secrets`` masked."""
    if not document.get("secrets"):
        return text
    wanted = {**document, "secrets": MASK}
    masked = _upstream_mask(text)
    try:
        if load(masked) == wanted:
            return masked
    except ProtocolError:
        pass
    return yaml.safe_dump(wanted, sort_keys=False, allow_unicode=True, width=200)
