"""Writing as the APIServer's rapidjson ``Writer<..., kWriteNanAndInfFlag>`` does, and the type names it prints.

:func:`dumps` gives compact UTF-8 JSON with bare ``NaN``/``Infinity`` (or null on request) and doubles in rapidjson's
layout (:func:`format_double`); the type names and enums are those of responses and error messages.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from typing import Any


def format_double(x: float) -> str:
    """A double as rapidjson's Writer prints it: shortest digits in dtoa's Prettify layout (1e21, 0.00001)."""
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    r = repr(x)
    sign = ""
    if r[0] == "-":
        sign = "-"
        r = r[1:]
    mant, _, e = r.partition("e")
    ip, _, fp = mant.partition(".")
    digits = (ip + fp).lstrip("0")
    k = (int(e) if e else 0) - len(fp)
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits = stripped
    if not digits:
        return sign + "0.0"
    length = len(digits)
    kk = length + k  # 10^(kk-1) <= |x| < 10^kk
    if 0 <= k and kk <= 21:
        out = digits + "0" * k + ".0"
    elif 0 < kk <= 21:
        out = digits[:kk] + "." + digits[kk:]
    elif -6 < kk <= 0:
        out = "0." + "0" * -kk + digits
    elif length == 1:
        out = f"{digits}e{kk - 1}"
    else:
        out = f"{digits[0]}.{digits[1:]}e{kk - 1}"
    return sign + out


def _default(o: Any) -> Any:
    if isinstance(o, datetime.date) and not isinstance(o, datetime.datetime):
        return f"{o.year}-{o.month}-{o.day}"
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True, default=_default)
# Tokens of json's output that rapidjson writes differently: strings (control escapes are upper-case hex there),
# NaN/Infinity (null on request) and exponent-form numbers (Prettify layout). Strings are matched whole first so
# nothing inside them is touched.
_OUTPUT_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|-?Infinity|NaN|-?[0-9]+(?:\.[0-9]+)?[eE][-+]?[0-9]+')
_LOWER_CONTROL_ESCAPE = re.compile(r"\\u00(?:0[bef]|1[a-f])|\\.")


def _upper_escape(m: re.Match[str]) -> str:
    g = m.group()
    return "\\u00" + g[4:].upper() if len(g) == 6 else g


def _fix_token(m: re.Match[str], nan_and_inf_null: bool) -> str:
    t = m.group()
    c = t[0]
    if c == '"':
        return _LOWER_CONTROL_ESCAPE.sub(_upper_escape, t) if "\\u00" in t else t
    if c == "N" or t[-1] == "y":
        return "null" if nan_and_inf_null else t
    return format_double(float(t))


def dumps(value: Any, *, nan_and_inf_null: bool = False) -> bytes:
    """Compact UTF-8 JSON as the APIServer writes it: bare NaN/Infinity/-Infinity (or null), rapidjson doubles."""
    text = _ENCODER.encode(value)
    if "e+" in text or "e-" in text or "\\u00" in text or (nan_and_inf_null and ("NaN" in text or "Infinity" in text)):
        text = _OUTPUT_TOKEN.sub(lambda m: _fix_token(m, nan_and_inf_null), text)
    # No surrogates come out of loads(); any from elsewhere are passed through as rapidjson passes raw bytes.
    return text.encode("utf-8", "surrogatepass")


_SCHEMA_NAMES = {
    "bool": "Bool",
    "int16": "Int16",
    "int32": "Int32",
    "int64": "Int64",
    "float": "Float",
    "double": "Double",
    "string": "String",
    "date": "Date",
    "timestamp": "Timestamp",
}
_SDK_ENUM = {
    "bool": 0,
    "int16": 1,
    "int32": 2,
    "int64": 3,
    "float": 4,
    "double": 5,
    "string": 6,
    "date": 7,
    "timestamp": 8,
}
_FE_ENUM = {
    "bool": 0,
    "int16": 1,
    "int32": 3,
    "int64": 5,
    "float": 7,
    "double": 8,
    "string": 9,
    "date": 10,
    "timestamp": 11,
}
_PROTO_NAMES = {
    "bool": "kBool",
    "int16": "kSmallInt",
    "int32": "kInt",
    "int64": "kBigInt",
    "float": "kFloat",
    "double": "kDouble",
    "string": "kVarchar",
    "date": "kDate",
    "timestamp": "kTimestamp",
}


def _lookup(table: dict[str, Any], type: str) -> Any:
    try:
        return table[type]
    except KeyError:
        raise ValueError(f"unknown column type {type!r}") from None


def schema_type_name(type: str) -> str:
    """The query route's result schema name ("Int64", "Timestamp", ...)."""
    return _lookup(_SCHEMA_NAMES, type)


def sdk_type_enum(type: str) -> int:
    """hybridse::sdk::DataType, as in "conversion failed on col <c>[<enum>]" and "trans failed on <c>(<enum>)"."""
    return _lookup(_SDK_ENUM, type)


def fe_type_enum(type: str) -> int:
    """hybridse::type::Type (fe_type.proto), as in "append failed on <idx> type <enum>"."""
    return _lookup(_FE_ENUM, type)


def proto_type_name(type: str) -> str:
    """TableInfo column_desc data_type enum name ("kVarchar", "kBigInt", ...)."""
    return _lookup(_PROTO_NAMES, type)
