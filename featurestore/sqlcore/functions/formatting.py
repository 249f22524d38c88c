"""Value formatting and casts: how hybridse prints values inside strings, ``CAST`` and implicit widening."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from featurestore.sqlcore.functions.base import (
    _RANK,
    _WRAPS,
    FLOAT_TYPES,
    INT_TYPES,
    NULL_TYPE,
    NUMERIC_TYPES,
    FunctionError,
    promote,
    to_float32,
)
from featurestore.sqlcore.functions.timeparts import (
    _format_date,
    _format_ts,
    _parse_date_string,
    _parse_ts_string,
    date_to_ts,
    ts_to_date,
)


def _fmt_g(v: float) -> str:
    # C++ ``ostream << double`` (hybridse's ToString): %g with six significant digits.
    return "%g" % v  # noqa: UP031 - printf semantics are the point


def fmt_double(v: float) -> str:
    # hybridse ``format_string<double>``: snprintf("%f").
    return "%f" % v  # noqa: UP031


def format_value(t: str) -> Callable[[Any], str]:
    """How hybridse's ``format_string`` prints a value of type ``t`` inside string results (keys, *_cate values)."""
    if t in INT_TYPES:
        return str
    if t in FLOAT_TYPES:
        return fmt_double
    if t == "date":
        return _format_date
    if t == "timestamp":
        return lambda v: _format_ts(v) or ""
    if t == "string":
        return lambda v: v
    if t == "bool":
        return lambda v: "true" if v else "false"
    raise FunctionError(f"cannot format values of type {t}")


def _to_string_kernel(t: str) -> Callable[[Any], Any]:
    """``string(x)`` / CAST(x AS string), per hybridse ToString, bool_to_string, timestamp/date_to_string."""
    if t == "string":
        return lambda v: v
    if t in INT_TYPES:
        return str
    if t in FLOAT_TYPES:
        return _fmt_g
    if t == "bool":
        return lambda v: "true" if v else "false"
    if t == "timestamp":
        return _format_ts
    if t == "date":
        return _format_date
    if t == NULL_TYPE:
        return lambda v: None
    raise FunctionError(f"cannot convert {t} to string")


_INT_RE = re.compile(r"\s*([+-])?(0[xX])?([0-9a-fA-F]+)\s*")
_FLOAT_RE = re.compile(
    r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", re.IGNORECASE
)  # strtod: leading blanks allowed, nothing may follow the number
_INT_RANGE = {"int16": (-32768, 32767), "int32": (-2147483648, 2147483647), "int64": (-(2**63), 2**63 - 1)}


def _parse_int(s: str, t: str) -> int | None:
    """hybridse StrToIntegral: optional sign, optional 0x (base 16), else base 10; out of range -> NULL."""
    m = _INT_RE.fullmatch(s)
    if m is None:
        return None
    sign, hexa, digits = m.groups()
    if hexa is None and not digits.isdigit():
        return None
    v = int(digits, 16 if hexa else 10)
    if sign == "-":
        v = -v
    lo, hi = _INT_RANGE[t]
    return v if lo <= v <= hi else None


def _parse_float(s: str) -> float | None:
    if not s or _FLOAT_RE.fullmatch(s) is None:
        return None
    return float(s)


_TRUE_STRINGS = frozenset({"y", "yes", "1", "t", "true"})
_FALSE_STRINGS = frozenset({"n", "no", "0", "f", "false"})


def _parse_bool(s: str) -> bool | None:
    low = s.lower()
    if low in _TRUE_STRINGS:
        return True
    if low in _FALSE_STRINGS:
        return False
    return None


def _float_to_int(t: str) -> Callable[[float], int | None]:
    wrap = _WRAPS[t]

    def conv(v: float) -> int | None:
        # C's static_cast truncates toward zero; NaN/inf are undefined behaviour there, NULL here.
        if v != v or v in (math.inf, -math.inf):
            return None
        return wrap(int(v))

    return conv


def cast_kernel(src: str, dst: str) -> Callable[[Any], Any]:
    """Raw conversion of a non-NULL ``src`` value to ``dst`` (CAST and the cast functions); may return NULL."""
    if src == NULL_TYPE:
        return lambda v: None
    if dst == "string":
        return _to_string_kernel(src)
    if src == dst:
        return lambda v: v
    if dst in INT_TYPES:
        if src in INT_TYPES or src == "timestamp":
            return _WRAPS[dst]
        if src == "bool":
            return int
        if src in FLOAT_TYPES:
            return _float_to_int(dst)
        if src == "string":
            return lambda v: _parse_int(v, dst)
    elif dst == "float":
        if src in NUMERIC_TYPES or src in ("bool", "timestamp"):
            return lambda v: to_float32(float(v))
        if src == "string":
            return lambda v: None if (f := _parse_float(v)) is None else to_float32(f)
    elif dst == "double":
        if src in NUMERIC_TYPES or src in ("bool", "timestamp"):
            return float
        if src == "string":
            return _parse_float
    elif dst == "bool":
        if src in NUMERIC_TYPES or src == "timestamp":
            return lambda v: v != 0
        if src == "string":
            return _parse_bool
    elif dst == "date":
        if src == "timestamp":
            return ts_to_date
        if src == "string":
            return _parse_date_string
    elif dst == "timestamp":
        if src in INT_TYPES:
            return lambda v: v
        if src == "bool":
            return int
        if src in FLOAT_TYPES:
            return _float_to_int("int64")
        if src == "date":
            return date_to_ts
        if src == "string":
            return _parse_ts_string
    raise FunctionError(f"cannot cast {src} to {dst}")


def widen_kernel(src: str, dst: str) -> Callable[[Any], Any] | None:
    """Implicit conversion of a value to a wider type (int -> double...); None when no conversion is needed."""
    if src == dst or src == NULL_TYPE:
        return None
    if dst == "float" and src != "float":
        return lambda v: to_float32(float(v))
    if dst == "double" and src != "double":
        return float
    if dst in INT_TYPES and src == "bool":
        return int
    return None


def unify(name: str, types: list[str]) -> str:
    """Common type of values that share one output slot (CASE branches, ifnull arguments)."""
    known = [t for t in types if t != NULL_TYPE]
    if not known:
        return NULL_TYPE
    out = known[0]
    for t in known[1:]:
        if t == out:
            continue
        if t in _RANK and out in _RANK:
            out = promote(out, t)
        elif {t, out} <= {"timestamp", "int16", "int32", "int64"}:
            out = "timestamp" if "timestamp" in (t, out) else promote(out, t)
        else:
            raise FunctionError(f"{name}: incompatible types {out} and {t}")
    return out
