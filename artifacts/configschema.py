"""CDAP record schemas for application configs: checking a schema, checking a config against it, building forms.

An application class declares the shape of its config as a CDAP schema (the JSON form of ``io.cdap.cdap.api.data.schema
.Schema``, itself a dialect of Avro). The top level is always a record::

    {"type": "record", "name": "MyConfig", "fields": [{"name": "table", "type": "string"},
                                                      {"name": "stream", "type": ["string", "null"]}]}

A type is one of:

- a primitive name: ``string``, ``int``, ``long``, ``float``, ``double``, ``boolean``, ``bytes``, ``null``
  (``{"type": "int"}`` is accepted as a spelling of ``"int"``);
- a union, written as a list (``["string", "null"]``). A union that contains ``null`` makes the field *nullable*: it may
  be omitted or set to null, and it is not *required*. Unions cannot nest, and hold each kind at most once (two records
  must differ by name), as in Avro; this keeps "which branch does this value belong to?" unambiguous;
- ``{"type": "record", "name", "fields"}``: nested records. Once defined, a record's name can be used as a type
  elsewhere, including inside itself (a linked list), as CDAP's parser resolves named references;
- ``{"type": "array", "items": <type>}``;
- ``{"type": "map", "keys": "string", "values": <type>}``. Configs are JSON, whose object keys are always strings, so
  any other key type is rejected;
- ``{"type": "enum", "symbols": ["A", "B"]}``.

Other keys (``doc``, ``default``, ...) are ignored, as CDAP's parser ignores them.

Configs arrive as JSON (``AppRequest.config``), so a value is checked against its JSON form: ``int``/``long`` take JSON
integers within the Java range (a JSON float such as ``5.0`` is rejected, even though Gson would accept it: a config is
validated, not coerced); ``float``/``double`` take integers or floats; ``bytes`` takes a string (or the array of 0-255
numbers that Gson writes for ``byte[]``). A missing config (``None``) is checked as ``{}``, which CDAP also treats as
"every field unset": only nullable fields may then be absent.

Every problem is reported with the path of the value, rooted at ``config`` (``config.reader.name``, ``config.tags[2]``,
``config.options["a key"]``), so a form or an API client can put it next to the right input.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

PRIMITIVES = ("string", "int", "long", "float", "double", "boolean", "bytes", "null")
COMPLEX = ("record", "array", "map", "enum")

_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_FLOAT_MAX = 3.4028234663852886e38  # Java Float.MAX_VALUE: a JSON number beyond it cannot become a float field
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")

Names = dict[str, dict]


def validate_schema(schema: Any, *, where: str = "configSchema") -> None:
    """Raise ValueError naming the bad part (``configSchema.fields[1].type: ...``) unless schema is a record schema."""
    _check_top(schema, where)


def validate_config(schema: dict, config: Any) -> list[str]:
    """Check a JSON config against a record schema; return one message per bad value, each naming its path."""
    names = _check_top(schema, "configSchema")
    return _check_value(schema, {} if config is None else config, "config", names)


def schema_fields(schema: dict) -> list[dict]:
    """Describe a record's fields for building a form: name, display type, required, raw schema, and nested fields."""
    names = _check_top(schema, "configSchema")
    return _fields_of(schema, names, (schema["name"],))


def coerce_form_value(field_type: Any, text: str) -> Any:
    """Parse a form's text input into the JSON value for ``field_type`` (a schema type); ValueError says why not."""
    names: Names = {}
    _check_type(field_type, "type", names)
    return _coerce(field_type, text, names)


# --- schema checking -----------------------------------------------------------------------------------------------


def _check_top(schema: Any, where: str) -> Names:
    if not isinstance(schema, dict):
        raise ValueError(f'{where}: must be a record schema {{"type": "record", ...}}, got {_json_kind(schema)}')
    if schema.get("type") != "record":
        raise ValueError(f"{where}.type: must be 'record', got {_show(schema.get('type'))}")
    names: Names = {}
    _check_type(schema, where, names)
    return names


def _check_type(t: Any, path: str, names: Names, *, in_union: bool = False) -> None:
    """Check one type, registering record names as they are defined so later (and recursive) references resolve."""
    if isinstance(t, str):
        if t not in PRIMITIVES and t not in names:
            raise ValueError(f"{path}: unknown type {_show(t)}")
        return
    if isinstance(t, list):
        _check_union(t, path, names, in_union)
        return
    if not isinstance(t, dict):
        raise ValueError(f"{path}: must be a type name, a union list or a schema object, got {_json_kind(t)}")
    kind = t.get("type")
    if kind is None:
        raise ValueError(f"{path}.type is required")
    if not isinstance(kind, str):
        raise ValueError(f"{path}.type: must be a type name, got {_json_kind(kind)}")
    if kind in PRIMITIVES:
        return
    if kind == "record":
        _check_record(t, path, names)
    elif kind == "array":
        if "items" not in t:
            raise ValueError(f"{path}.items is required for an array")
        _check_type(t["items"], f"{path}.items", names)
    elif kind == "map":
        if _plain(t.get("keys", "string")) != "string":
            raise ValueError(f"{path}.keys: map keys must be string (config maps are JSON objects)")
        if "values" not in t:
            raise ValueError(f"{path}.values is required for a map")
        _check_type(t["values"], f"{path}.values", names)
    elif kind == "enum":
        symbols = t.get("symbols")
        if not isinstance(symbols, list) or not symbols:
            raise ValueError(f"{path}.symbols: an enum needs a non-empty list of symbols")
        for i, symbol in enumerate(symbols):
            if not isinstance(symbol, str) or not symbol:
                raise ValueError(f"{path}.symbols[{i}]: must be a non-empty string")
            if symbols.index(symbol) != i:
                raise ValueError(f"{path}.symbols[{i}]: duplicate symbol {_show(symbol)}")
    else:
        raise ValueError(f"{path}.type: unknown type {_show(kind)}")


def _check_union(t: list, path: str, names: Names, in_union: bool) -> None:
    if in_union:
        raise ValueError(f"{path}: a union cannot contain another union")
    if not t:
        raise ValueError(f"{path}: a union needs at least one type")
    seen: dict[str, int] = {}
    for i, branch in enumerate(t):
        _check_type(branch, f"{path}[{i}]", names, in_union=True)
        key = _branch_key(branch, names)
        if key in seen:
            raise ValueError(f"{path}[{i}]: {key} is already in the union (at [{seen[key]}])")
        seen[key] = i


def _check_record(t: dict, path: str, names: Names) -> None:
    name = t.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{path}.name: a record needs a non-empty name")
    if name in PRIMITIVES or name in COMPLEX:
        raise ValueError(f"{path}.name: {_show(name)} is a type keyword, not a record name")
    if name in names and names[name] != t:
        raise ValueError(f"{path}.name: record {name} is defined twice, differently")
    names[name] = t  # before the fields: a field may refer to its own record
    fields = t.get("fields")
    if not isinstance(fields, list):
        raise ValueError(f"{path}.fields: must be a list of {{name, type}} objects")
    seen: set[str] = set()
    for i, f in enumerate(fields):
        fpath = f"{path}.fields[{i}]"
        if not isinstance(f, dict):
            raise ValueError(f"{fpath}: must be an object with name and type, got {_json_kind(f)}")
        fname = f.get("name")
        if not isinstance(fname, str) or not fname:
            raise ValueError(f"{fpath}.name: must be a non-empty string")
        if fname in seen:
            raise ValueError(f"{fpath}.name: duplicate field {_show(fname)}")
        seen.add(fname)
        if "type" not in f:
            raise ValueError(f"{fpath}.type is required")
        _check_type(f["type"], f"{fpath}.type", names)


def _branch_key(branch: Any, names: Names) -> str:
    """What makes two union branches "the same kind": the primitive, the record's name, or array/map/enum."""
    t = _resolve(branch, names)
    if isinstance(t, str):
        return t
    if t["type"] == "record":
        return f"record {t['name']}"
    return t["type"]


# --- config checking -----------------------------------------------------------------------------------------------


def _check_value(t: Any, value: Any, path: str, names: Names) -> list[str]:
    t = _resolve(t, names)
    if isinstance(t, list):
        return _check_union_value(t, value, path, names)
    if isinstance(t, str):
        problem = _primitive_problem(t, value)
        return [f"{path}: {problem}"] if problem else []
    kind = t["type"]
    if kind == "record":
        if not isinstance(value, dict):
            return [f"{path}: expected {t['name']} object, got {_json_kind(value)}"]
        errors: list[str] = []
        declared = set()
        for f in t["fields"]:
            declared.add(f["name"])
            fpath = _key_path(path, f["name"])
            if f["name"] not in value:
                if not _nullable(f["type"], names):
                    errors.append(f"{fpath}: required field is missing")
                continue
            errors += _check_value(f["type"], value[f["name"]], fpath, names)
        errors += [f"{_key_path(path, k)}: not a field of {t['name']}" for k in value if k not in declared]
        return errors
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected {_display(t, names)}, got {_json_kind(value)}"]
        return [e for i, item in enumerate(value) for e in _check_value(t["items"], item, f"{path}[{i}]", names)]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected {_display(t, names)} object, got {_json_kind(value)}"]
        return [e for k, v in value.items() for e in _check_value(t["values"], v, _key_path(path, k), names)]
    # enum
    if not isinstance(value, str):
        return [f"{path}: expected one of {', '.join(t['symbols'])}, got {_json_kind(value)}"]
    if value not in t["symbols"]:
        return [f"{path}: {_show(value)} is not one of {', '.join(t['symbols'])}"]
    return []


def _check_union_value(t: list, value: Any, path: str, names: Names) -> list[str]:
    branches = [b for b in t if _resolve(b, names) != "null"]
    if value is None and len(branches) < len(t):
        return []
    if len(branches) == 1:
        # The usual nullable field: report as the one real type would ("expected string, got int").
        return _check_value(branches[0], value, path, names)
    if any(not _check_value(b, value, path, names) for b in branches):
        return []
    # Several branches: explain through the one branch of the value's JSON kind, when there is exactly one.
    fitting = [b for b in branches if _same_json_kind(_resolve(b, names), value)]
    if len(fitting) == 1:
        return _check_value(fitting[0], value, path, names)
    return [f"{path}: expected {_display(t, names)}, got {_json_kind(value)}"]


def _primitive_problem(t: str, value: Any) -> str | None:
    """Why ``value`` is not a JSON value of primitive type ``t`` (None when it is)."""
    got = _json_kind(value)
    if t == "null":
        return None if value is None else f"expected null, got {got}"
    if t == "string":
        return None if isinstance(value, str) else f"expected string, got {got}"
    if t == "boolean":
        return None if isinstance(value, bool) else f"expected boolean, got {got}"
    if t == "bytes":
        if isinstance(value, str):
            return None
        if isinstance(value, list) and all(type(b) is int and 0 <= b <= 255 for b in value):
            return None
        return f"expected bytes (a string), got {got}"
    if t in ("int", "long"):
        if type(value) is not int:  # bool is an int subclass, and true is no number
            return f"expected {t}, got {got}"
        low, high = _RANGES[t]
        return None if low <= value <= high else f"{value} is out of range for {t}"
    # float, double
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected {t}, got {got}"
    try:
        number = float(value)
    except OverflowError:
        return f"{value} is out of range for {t}"
    if not math.isfinite(number):
        return f"{value} is not a finite number"  # NaN or infinity: Python's json reads them, JSON has no such values
    if t == "float" and abs(number) > _FLOAT_MAX:
        return f"{value} is out of range for {t}"
    return None


def _same_json_kind(t: Any, value: Any) -> bool:
    """Whether a value of this JSON kind could belong to the (resolved) type at all."""
    kind = t if isinstance(t, str) else t["type"]
    if isinstance(value, bool):
        return kind == "boolean"
    if isinstance(value, int | float):
        return kind in ("int", "long", "float", "double")
    if isinstance(value, str):
        return kind in ("string", "bytes", "enum")
    if isinstance(value, list):
        return kind in ("array", "bytes")
    if isinstance(value, dict):
        return kind in ("record", "map")
    return False


# --- forms ---------------------------------------------------------------------------------------------------------


def _fields_of(record: dict, names: Names, stack: tuple[str, ...]) -> list[dict]:
    out = []
    for f in record["fields"]:
        inner = _without_null(f["type"], names)
        entry: dict[str, Any] = {
            "name": f["name"],
            "type": _display(inner, names) if inner is not None else "null",
            "required": not _nullable(f["type"], names),
            "schema": _resolved_top(f["type"], names),
        }
        if isinstance(inner, dict) and inner["type"] == "record":
            # A recursive record would describe itself forever; its repeated occurrence gets no sub-form.
            if inner["name"] in stack:
                entry["recursive"] = True
            else:
                entry["fields"] = _fields_of(inner, names, (*stack, inner["name"]))
        elif isinstance(inner, dict) and inner["type"] == "enum":
            entry["symbols"] = list(inner["symbols"])
        out.append(entry)
    return out


def _coerce(t: Any, text: str, names: Names) -> Any:
    t = _resolve(t, names)
    stripped = text.strip()
    if isinstance(t, list):
        branches = [b for b in t if _resolve(b, names) != "null"]
        if len(branches) < len(t) and not stripped:
            return None  # a blank input for a nullable field means "unset", even for strings
        problems = []
        for branch in branches:  # in declared order: ["int", "string"] makes "5" an int, ["string", "int"] a string
            try:
                return _coerce(branch, text, names)
            except ValueError as exc:
                problems.append(str(exc))
        if len(problems) == 1:
            raise ValueError(problems[0])
        raise ValueError(f"{_show(text)} is not a valid {_display(t, names)}")
    if isinstance(t, str):
        return _coerce_primitive(t, text, stripped)
    display = _display(t, names)
    if t["type"] == "enum":
        if stripped not in t["symbols"]:
            raise ValueError(f"{_show(text)} is not one of {', '.join(t['symbols'])}")
        return stripped
    # Records, arrays and maps have no single text form; the input holds their JSON.
    if not stripped:
        raise ValueError(f"a value is required ({display} as JSON)")
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise ValueError(f"expected {display} as JSON: {exc.msg} at column {exc.colno}") from None
    errors = _check_value(t, value, "value", names)
    if errors:
        raise ValueError("; ".join(errors))
    return value


def _coerce_primitive(t: str, text: str, stripped: str) -> Any:
    if t in ("string", "bytes"):
        return text
    if t == "null":
        if stripped:
            raise ValueError(f"expected an empty value (null), got {_show(text)}")
        return None
    if not stripped:
        raise ValueError(f"a value is required ({t})")
    if t == "boolean":
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
        raise ValueError(f"{_show(text)} is not a valid boolean (use true or false)")
    if t in ("int", "long"):
        if not _INTEGER_TEXT.fullmatch(stripped):
            raise ValueError(f"{_show(text)} is not a valid {t}")
        value = int(stripped)
    else:
        if not _NUMBER_TEXT.fullmatch(stripped):
            raise ValueError(f"{_show(text)} is not a valid {t}")
        value = float(stripped)
        if not math.isfinite(value):
            raise ValueError(f"{stripped} is out of range for {t}")
    problem = _primitive_problem(t, value)
    if problem:
        raise ValueError(problem)
    return value


# --- helpers -------------------------------------------------------------------------------------------------------


def _plain(t: Any) -> Any:
    """``{"type": "int"}`` -> ``"int"``; anything else unchanged."""
    if isinstance(t, dict) and t.get("type") in PRIMITIVES:
        return t["type"]
    return t


def _resolve(t: Any, names: Names) -> Any:
    """A checked type with primitive objects unwrapped and record names replaced by their definitions."""
    t = _plain(t)
    if isinstance(t, str) and t not in PRIMITIVES:
        return names[t]
    return t


def _resolved_top(t: Any, names: Names) -> Any:
    """The type with its outer references resolved, so it can be used without the enclosing schema."""
    if isinstance(t, list):
        return [_resolve(b, names) for b in t]
    return _resolve(t, names)


def _nullable(t: Any, names: Names) -> bool:
    t = _resolve(t, names)
    if isinstance(t, list):
        return any(_resolve(b, names) == "null" for b in t)
    return t == "null"


def _without_null(t: Any, names: Names) -> Any:
    """The type a nullable field holds when set: the one non-null branch, the union minus null, or None for null."""
    t = _resolve(t, names)
    if not isinstance(t, list):
        return None if t == "null" else t
    branches = [_resolve(b, names) for b in t if _resolve(b, names) != "null"]
    if not branches:
        return None
    return branches[0] if len(branches) == 1 else branches


def _display(t: Any, names: Names) -> str:
    """A short name for a type: ``string``, ``string | null``, ``array<int>``, ``map<string, long>``, a record name."""
    t = _plain(t)
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        return " | ".join(_display(b, names) for b in t)
    kind = t["type"]
    if kind == "record":
        return t["name"]
    if kind == "array":
        return f"array<{_display(t['items'], names)}>"
    if kind == "map":
        return f"map<string, {_display(t['values'], names)}>"
    return kind


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENTIFIER.fullmatch(key) else f"{path}[{json.dumps(key)}]"


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: Any) -> str:
    """Quote a user-supplied value for a message, escaping anything unprintable."""
    if isinstance(value, str):
        return f"'{value}'" if value.isprintable() and "'" not in value else repr(value)
    return json.dumps(value) if isinstance(value, int | float | bool | type(None)) else _json_kind(value)
