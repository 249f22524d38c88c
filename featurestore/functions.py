"""OpenMLDB's built-in SQL functions: scalar functions and window aggregates, with upstream semantics.

A deployed SELECT computes its features per request: every ``agg(x) OVER w`` sees the values of ``x`` on the
window's rows and folds them into one value; every scalar call maps one row's values to one value. This module
is the function library behind both, re-implemented from OpenMLDB's documentation (``udfs_8h.md``) and its
hybridse sources (``default_udf_library.cc``, ``udf.cc``, ``containers.h`` and the ``*_by_category_def.cc``
files), so that outputs and output types match what an OpenMLDB APIServer returns.

Values follow the engine's representation: bool -> ``bool``; int16/int32/int64 -> ``int``; float/double ->
``float`` (a ``float`` value is already rounded to float32); string -> ``str``; date -> ``datetime.date``;
timestamp -> ``int`` milliseconds since the epoch; NULL -> ``None``.

Each function is registered with a *kernel factory*: given the argument types it returns a raw implementation
specialised for them (integer wrap-around width, float32 rounding, how a timestamp key is printed...). The
expression compiler binds kernels once at compile time so nothing dispatches on types per row.
``Scalar.compute`` / ``Aggregate.compute`` are the generic, type-guessing entry points; ``Aggregate.bind``
returns an ``Aggregate`` whose ``compute`` is specialised for known argument types.

Upstream conventions worth knowing:

* aggregates skip NULL values; an empty (or all-NULL) window gives NULL, except ``count`` (0), ``top1_ratio``
  (0.0) and the string-valued aggregates (``*_cate*``, ``topn_frequency``, ``top``), which give ``""``.
* aggregate arguments arrive NEWEST FIRST (row 0 is the current row); sums accumulate in that order, in the
  input type, exactly like hybridse's update loop.
* timestamps are broken into dates and times in a fixed UTC+8 zone (hybridse's ``TZ = 8``).
* doubles inside string results (``avg_cate``, ratios, double keys) are printed with ``%f`` (six decimals);
  ``string(x)`` of a float/double uses C++ stream formatting (``%g``, six significant digits).
"""

from __future__ import annotations

import datetime as _dt
import math
import operator
import re
import struct
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import reduce
from typing import Any

from featurestore.sqlir import TYPES

__all__ = [
    "AGGREGATES",
    "SCALARS",
    "Aggregate",
    "FunctionError",
    "NULL_TYPE",
    "Scalar",
    "TYPES",
    "aggregate",
    "cast_kernel",
    "date_to_ts",
    "fmt_double",
    "format_value",
    "guess_type",
    "is_numeric",
    "like_match",
    "like_regex",
    "mod_kernel",
    "promote",
    "scalar",
    "to_float32",
    "ts_to_date",
    "ts_to_datetime",
    "unify",
    "widen_kernel",
    "wrap_int",
]


class FunctionError(ValueError):
    """A function cannot be used as written: unknown name, wrong number of arguments or unsupported types."""


# ---------------------------------------------------------------------------------------------------------
# Type helpers (shared with the expression compiler)
# ---------------------------------------------------------------------------------------------------------

#: Type of an untyped NULL literal while compiling; it fits any argument slot.
NULL_TYPE = "null"

INT_TYPES = frozenset({"int16", "int32", "int64"})
FLOAT_TYPES = frozenset({"float", "double"})
NUMERIC_TYPES = INT_TYPES | FLOAT_TYPES
#: Category key types accepted by the *_cate functions (hybridse registers these only).
CATE_KEY_TYPES = frozenset({"int16", "int32", "int64", "date", "timestamp", "string"})
#: Types min/max/top1_ratio/topn_frequency accept besides numbers.
ORDERED_TYPES = NUMERIC_TYPES | {"date", "timestamp", "string"}

_RANK = {"bool": 0, "int16": 1, "int32": 2, "int64": 3, "float": 4, "double": 5}


def is_numeric(t: str) -> bool:
    """True for int16/int32/int64/float/double."""
    return t in NUMERIC_TYPES


def promote(a: str, b: str) -> str:
    """Arithmetic result type of two operands: int16 < int32 < int64 < float < double (bool counts as int)."""
    if a == NULL_TYPE:
        a = b
    if b == NULL_TYPE:
        b = a
    ra, rb = _RANK.get(a), _RANK.get(b)
    if ra is None or rb is None:
        raise FunctionError(f"arithmetic is not defined on types {a} and {b}")
    t = a if ra >= rb else b
    # bool operands behave like C integers: the arithmetic happens in int32 at least.
    return "int32" if t == "bool" else t


def _wrap16(v: int) -> int:
    return v if -32768 <= v <= 32767 else ((v + 32768) & 0xFFFF) - 32768


def _wrap32(v: int) -> int:
    return v if -2147483648 <= v <= 2147483647 else ((v + 2147483648) & 0xFFFFFFFF) - 2147483648


def _wrap64(v: int) -> int:
    if -9223372036854775808 <= v <= 9223372036854775807:
        return v
    return ((v + 9223372036854775808) & 0xFFFFFFFFFFFFFFFF) - 9223372036854775808


_WRAPS: dict[str, Callable[[int], int]] = {"int16": _wrap16, "int32": _wrap32, "int64": _wrap64, "timestamp": _wrap64}


def wrap_int(t: str) -> Callable[[int], int]:
    """The C two's-complement wrap-around for integer type ``t`` (int16/int32/int64/timestamp)."""
    return _WRAPS[t]


_F32 = struct.Struct("<f")


def to_float32(x: float) -> float:
    """Round a Python float to the nearest float32 (what a C ``float`` holds); overflow gives +-inf."""
    try:
        return _F32.unpack(_F32.pack(x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def guess_type(v: Any) -> str:
    """Best-effort type of a Python value (timestamps are indistinguishable from int64 and guessed as such)."""
    if v is None:
        return NULL_TYPE
    if v is True or v is False:
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, _dt.date):
        return "date"
    raise FunctionError(f"unsupported value {v!r}")


def _guess_column_type(col: list[Any]) -> str:
    for v in col:
        if v is not None:
            return guess_type(v)
    return NULL_TYPE


# ---------------------------------------------------------------------------------------------------------
# Time helpers: OpenMLDB breaks timestamps down in a fixed UTC+8 zone
# ---------------------------------------------------------------------------------------------------------

TZ_OFFSET_MS = 8 * 3600 * 1000
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_EPOCH = _dt.datetime(1970, 1, 1)  # noqa: DTZ001 - naive on purpose: it carries UTC+8 wall-clock time


def _local_seconds(ts: int) -> int:
    """Seconds since the epoch of the UTC+8 wall clock, truncated toward zero like hybridse's ``(ts+TZ)/1000``."""
    ms = ts + TZ_OFFSET_MS
    return ms // 1000 if ms >= 0 else -((-ms) // 1000)


def ts_to_date(ts: int) -> _dt.date | None:
    """The UTC+8 calendar date of a timestamp (NULL when out of range)."""
    try:
        return _dt.date.fromordinal(_EPOCH_ORDINAL + _local_seconds(ts) // 86400)
    except (ValueError, OverflowError):
        return None


def ts_to_datetime(ts: int) -> _dt.datetime | None:
    """The UTC+8 wall-clock datetime (naive) of a timestamp, to the second."""
    try:
        return _EPOCH + _dt.timedelta(seconds=_local_seconds(ts))
    except (ValueError, OverflowError):
        return None


def date_to_ts(d: _dt.date) -> int:
    """Midnight UTC+8 of a date, in epoch milliseconds."""
    return (d.toordinal() - _EPOCH_ORDINAL) * 86400000 - TZ_OFFSET_MS


def _datetime_to_ts(d: _dt.datetime) -> int:
    delta = d - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 - TZ_OFFSET_MS


def _format_ts(ts: int) -> str | None:
    d = ts_to_datetime(ts)
    if d is None:
        return None
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d}:{d.second:02d}"


def _format_date(d: _dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def _parse_date_string(s: str) -> _dt.date | None:
    """hybridse ``string_to_date``: 'yyyy-mm-dd hh:mm:ss', 'yyyy-mm-dd' or 'yyyymmdd'; years before 1900 -> NULL."""
    n = len(s)
    try:
        if n == 19:
            d = _dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S").date()  # noqa: DTZ007 - wall-clock UTC+8
        elif n == 10:
            d = _dt.datetime.strptime(s, "%Y-%m-%d").date()  # noqa: DTZ007
        elif n == 8 and s.isdigit():
            d = _dt.date(int(s[:4]), int(s[4:6]), int(s[6:]))
        else:
            return None
    except ValueError:
        return None
    return d if d.year >= 1900 else None


def _parse_ts_string(s: str) -> int | None:
    """hybridse ``string_to_timestamp``: the same three layouts, read as UTC+8 wall-clock time."""
    n = len(s)
    try:
        if n == 19:
            d = _dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 - wall-clock UTC+8
        elif n == 10:
            d = _dt.datetime.strptime(s, "%Y-%m-%d")  # noqa: DTZ007
        elif n == 8 and s.isdigit():
            d = _dt.datetime(int(s[:4]), int(s[4:6]), int(s[6:]))  # noqa: DTZ001
        else:
            return None
    except ValueError:
        return None
    if d.year < 1900:
        return None
    return _datetime_to_ts(d)


# ---------------------------------------------------------------------------------------------------------
# Value formatting and casts
# ---------------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------------
# Registry types
# ---------------------------------------------------------------------------------------------------------

Kernel = Callable[[list[str]], Callable[..., Any]]


@dataclass(frozen=True)
class Aggregate:
    """A window aggregate: ``compute`` folds one list per argument (values NEWEST FIRST) into one value."""

    name: str
    arity: tuple[int, int]
    result_type: Callable[[list[str]], str]
    compute: Callable[[list[list[Any]]], Any]
    kernel: Kernel | None = field(default=None, repr=False, compare=False)

    def bind(self, arg_types: list[str]) -> Aggregate:
        """This aggregate with ``compute`` specialised for ``arg_types`` (validates them, like result_type)."""
        self.result_type(arg_types)
        if self.kernel is None:
            return self
        return replace(self, compute=self.kernel(list(arg_types)))


@dataclass(frozen=True)
class Scalar:
    """A scalar function: ``compute`` maps one value per argument to one value."""

    name: str
    arity: tuple[int, int]
    result_type: Callable[[list[str]], str]
    compute: Callable[..., Any]
    kernel: Kernel | None = field(default=None, repr=False, compare=False)
    #: True: any NULL argument makes the result NULL, and the kernel's function never sees None.
    strict: bool = field(default=True, compare=False)
    #: False for functions whose result changes between calls (unix_timestamp('')): never constant-folded.
    deterministic: bool = field(default=True, compare=False)

    def bind(self, arg_types: list[str]) -> Callable[..., Any]:
        """The raw implementation specialised for ``arg_types`` (strict ones expect no None arguments)."""
        self.result_type(arg_types)
        assert self.kernel is not None  # noqa: S101 - every registered scalar has a kernel
        return self.kernel(list(arg_types))


AGGREGATES: dict[str, Aggregate] = {}
SCALARS: dict[str, Scalar] = {}


def aggregate(name: str) -> Aggregate:
    """The window aggregate called ``name`` (case-insensitive)."""
    try:
        return AGGREGATES[name.lower()]
    except KeyError:
        if name.lower() in SCALARS:
            raise FunctionError(f"{name}() is not an aggregate function and cannot be used over a window") from None
        raise FunctionError(f"unknown aggregate function {name}()") from None


def scalar(name: str) -> Scalar:
    """The scalar function called ``name`` (case-insensitive)."""
    try:
        return SCALARS[name.lower()]
    except KeyError:
        if name.lower() in AGGREGATES:
            raise FunctionError(f"aggregate function {name}() needs an OVER window") from None
        raise FunctionError(f"unknown function {name}()") from None


def _check_arity(name: str, arity: tuple[int, int], n: int) -> None:
    lo, hi = arity
    if not lo <= n <= hi:
        want = str(lo) if lo == hi else (f"at least {lo}" if hi >= 99 else f"{lo} to {hi}")
        raise FunctionError(f"{name}() takes {want} argument{'s' if want != '1' else ''}, got {n}")


def _unsupported(name: str, types: list[str]) -> FunctionError:
    return FunctionError(f"{name}() does not support argument types ({', '.join(types)})")


def _register_scalar(
    names: str | tuple[str, ...],
    arity: tuple[int, int],
    result_type: Callable[[str, list[str]], str],
    kernel: Kernel,
    *,
    strict: bool = True,
    deterministic: bool = True,
) -> None:
    for name in (names,) if isinstance(names, str) else names:

        def rt(types: list[str], _name: str = name) -> str:
            _check_arity(_name, arity, len(types))
            return result_type(_name, list(types))

        def compute(*args: Any, _rt: Callable[[list[str]], str] = rt) -> Any:
            if strict and any(a is None for a in args):
                return None
            types = [guess_type(a) for a in args]
            _rt(types)
            return kernel(types)(*args)

        SCALARS[name] = Scalar(name, arity, rt, compute, kernel, strict, deterministic)


def _register_aggregate(
    names: str | tuple[str, ...],
    arity: tuple[int, int],
    result_type: Callable[[str, list[str]], str],
    kernel: Kernel,
) -> None:
    for name in (names,) if isinstance(names, str) else names:

        def rt(types: list[str], _name: str = name) -> str:
            _check_arity(_name, arity, len(types))
            return result_type(_name, list(types))

        def compute(cols: list[list[Any]], _rt: Callable[[list[str]], str] = rt) -> Any:
            # Generic entry point: argument types are guessed from the values (timestamps look like int64).
            types = [_guess_column_type(c) for c in cols]
            types = [("int64" if t == NULL_TYPE else t) for t in types]
            _rt(types)
            return kernel(types)(cols)

        AGGREGATES[name] = Aggregate(name, arity, rt, compute, kernel)


# Result-type rule builders ------------------------------------------------------------------------------


def _accepts(*allowed: frozenset[str] | set[str] | None) -> Callable[[str, list[str]], None]:
    """Check each argument's type against a set (None: anything; NULL literals always fit)."""

    def check(name: str, types: list[str]) -> None:
        for i, t in enumerate(types):
            ok = allowed[min(i, len(allowed) - 1)]
            if ok is not None and t != NULL_TYPE and t not in ok:
                raise _unsupported(name, types)

    return check


def _fixed(out: str, *allowed: frozenset[str] | set[str] | None) -> Callable[[str, list[str]], str]:
    check = _accepts(*allowed) if allowed else None

    def rt(name: str, types: list[str]) -> str:
        if check is not None:
            check(name, types)
        return out

    return rt


def _same_as_first(*allowed: frozenset[str] | set[str] | None) -> Callable[[str, list[str]], str]:
    check = _accepts(*allowed)

    def rt(name: str, types: list[str]) -> str:
        check(name, types)
        return types[0] if types[0] != NULL_TYPE else "double"

    return rt


_NUM = NUMERIC_TYPES
_NUM_OR_BOOL = NUMERIC_TYPES | {"bool"}
_INTS = INT_TYPES
_TIME = frozenset({"timestamp", "int64"})
_TIME_OR_DATE = frozenset({"timestamp", "int64", "date"})
_STR = frozenset({"string"})
_ANY = None


# ---------------------------------------------------------------------------------------------------------
# Scalar functions: math
# ---------------------------------------------------------------------------------------------------------


def _math_rt(float_out: str | None, int_out: str, double_out: str = "double") -> Callable[[str, list[str]], str]:
    """Result type of hybridse's math externals: ints -> int_out, float -> float_out, double -> double_out."""

    def rt(name: str, types: list[str]) -> str:
        t = types[0]
        if t not in _NUM_OR_BOOL and t != NULL_TYPE:
            raise _unsupported(name, types)
        if t in INT_TYPES:
            return int_out
        if t == "float" and float_out is not None:
            return float_out
        return double_out

    return rt


def _float_result_kernel(fn: Callable[[float], float]) -> Kernel:
    """Kernel for double-valued C math: float arguments use the float32 variant (result rounded)."""

    def kernel(types: list[str]) -> Callable[..., Any]:
        def guarded(*args: float) -> float | None:
            try:
                return fn(*args)
            except (ValueError, OverflowError, ZeroDivisionError):
                return _c_math_error(fn, *args)

        if types and all(t == "float" for t in types):
            return lambda *a: None if (r := guarded(*a)) is None else to_float32(r)
        return guarded

    return kernel


def _c_math_error(fn: Callable[..., float], *args: float) -> float | None:
    """C libm returns inf/nan where Python raises; mimic the common cases so results stay numeric."""
    if fn in (math.log, math.log2, math.log10):
        x = args[0]
        return -math.inf if x == 0 else math.nan
    if fn is math.sqrt or fn in (math.acos, math.asin):
        return math.nan
    if fn is math.exp:
        return math.inf
    if fn is math.pow:
        return math.inf if abs(args[0]) > 1 or args[0] == 0 else math.nan
    return None


def _abs_kernel(types: list[str]) -> Callable[[Any], Any]:
    t = types[0]
    if t in ("int16", "int32"):
        return lambda v: _wrap32(abs(v))
    if t == "int64":
        return lambda v: _wrap64(abs(v))
    return lambda v: abs(float(v))


def _round_half_up_int(x: float) -> float:
    # C round(): halfway cases away from zero.
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def _round_kernel(types: list[str]) -> Callable[..., Any]:
    t = types[0]
    wrap = _WRAPS.get("int32" if t in ("int16", "int32", "bool") else t)
    if t in INT_TYPES or t == "bool":

        def round_int(v: int, d: int = 0) -> int:
            if d >= 0:
                return wrap(int(v))
            step = 10 ** (-d)
            q, r = divmod(abs(v), step)
            q += 1 if 2 * r >= step else 0  # HALF_UP
            return wrap(q * step if v >= 0 else -q * step)

        return round_int

    def round_float(v: float, d: int = 0) -> float:
        if v != v or v in (math.inf, -math.inf):
            return v
        if d == 0:
            return float(_round_half_up_int(v))
        # HALF_UP on the shortest decimal representation (like Java's BigDecimal.valueOf), so 1.005 -> 1.01.
        try:
            return float(Decimal(repr(v)).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP))
        except InvalidOperation:
            return v

    return round_float


def _truncate_kernel(types: list[str]) -> Callable[[Any], Any]:
    if types[0] in INT_TYPES or types[0] == "bool":
        return int
    return lambda v: float(math.trunc(v)) if v == v and v not in (math.inf, -math.inf) else v


def _ceil_floor_kernel(fn: Callable[[float], int]) -> Kernel:
    def kernel(types: list[str]) -> Callable[[Any], Any]:
        if types[0] in INT_TYPES:
            return lambda v: v  # hybridse casts the integer to int64: ceil of an integer is itself
        return lambda v: float(fn(v)) if v == v and v not in (math.inf, -math.inf) else v

    return kernel


def _pow_rt(name: str, types: list[str]) -> str:
    _accepts(_NUM_OR_BOOL, _NUM_OR_BOOL)(name, types)
    return "float" if types[0] == "float" and types[1] == "float" else "double"


def _log_rt(name: str, types: list[str]) -> str:
    _accepts(_NUM_OR_BOOL, _NUM_OR_BOOL)(name, types)
    if len(types) == 2:
        return "double"
    return "float" if types[0] == "float" else "double"


def _log_kernel(types: list[str]) -> Callable[..., Any]:
    if len(types) == 2:
        ln = _float_result_kernel(math.log)(["double"])

        # log(base, x) = ln(x) / ln(base), computed in double (hybridse's expression udf).
        def log2args(base: float, x: float) -> float | None:
            lx, lb = ln(x), ln(base)
            if lx is None or lb is None:
                return None
            if lb == 0:
                return math.copysign(math.inf, lx) if lx else math.nan
            return lx / lb

        return log2args
    return _float_result_kernel(math.log)(types)


def mod_kernel(types: list[str]) -> Callable[[Any, Any], Any]:
    out = promote(types[0], types[1])
    if out in INT_TYPES:
        wrap = _WRAPS[out]

        def imod(a: int, b: int) -> int | None:
            if b == 0:
                return None
            r = abs(a) % abs(b)  # C remainder: the sign follows the dividend
            return wrap(-r if a < 0 else r)

        return imod

    def fmod(a: float, b: float) -> float | None:
        if b == 0:
            return None
        r = math.fmod(a, b)
        return to_float32(r) if out == "float" else r

    return fmod


def _pmod_kernel(types: list[str]) -> Callable[[Any, Any], Any]:
    mod = mod_kernel(types)

    def pmod(a: Any, b: Any) -> Any:
        r = mod(a, b)
        if r is None:
            return None
        if r < 0:
            r = mod(r + b, b)
        return r

    return pmod


def _intlike_rt(name: str, types: list[str]) -> str:
    """abs/round/truncate: int16/int32 -> int32 (hybridse's *32 variants), int64 -> int64, others -> double."""
    t = types[0]
    if t not in _NUM_OR_BOOL and t != NULL_TYPE:
        raise _unsupported(name, types)
    if len(types) > 1 and types[1] not in INT_TYPES and types[1] != NULL_TYPE:
        raise _unsupported(name, types)
    return {"int16": "int32", "int32": "int32", "int64": "int64"}.get(t, "double")


def _atan_rt(name: str, types: list[str]) -> str:
    return _pow_rt(name, types) if len(types) == 2 else _math_rt("float", "double")(name, types)


def _atan_kernel(types: list[str]) -> Callable[..., Any]:
    return _float_result_kernel(math.atan2 if len(types) == 2 else math.atan)(types)


def _cot(x: float) -> float:
    return math.cos(x) / math.sin(x)


def _inc_kernel(types: list[str]) -> Callable[[Any], Any]:
    t = types[0]
    if t in INT_TYPES:
        wrap = _WRAPS[t]
        return lambda v: wrap(v + 1)
    if t == "float":
        return lambda v: to_float32(v + 1.0)
    return lambda v: v + 1.0


def _register_math() -> None:
    _register_scalar("abs", (1, 1), _intlike_rt, _abs_kernel)
    for names, fn in ((("ceil", "ceiling"), math.ceil), (("floor",), math.floor)):
        _register_scalar(names, (1, 1), _math_rt("double", "int64"), _ceil_floor_kernel(fn))
    _register_scalar("exp", (1, 1), _math_rt("float", "double"), _float_result_kernel(math.exp))
    _register_scalar("sqrt", (1, 1), _math_rt("float", "double"), _float_result_kernel(math.sqrt))
    _register_scalar("ln", (1, 1), _math_rt("float", "double"), _float_result_kernel(math.log))
    _register_scalar("log", (1, 2), _log_rt, _log_kernel)
    _register_scalar("log2", (1, 1), _math_rt("float", "double"), _float_result_kernel(math.log2))
    _register_scalar("log10", (1, 1), _math_rt("float", "double"), _float_result_kernel(math.log10))
    _register_scalar(("pow", "power"), (2, 2), _pow_rt, _float_result_kernel(math.pow))
    _register_scalar("round", (1, 2), _intlike_rt, _round_kernel)
    _register_scalar("truncate", (1, 1), _intlike_rt, _truncate_kernel)
    for name, fn in (
        ("sin", math.sin),
        ("cos", math.cos),
        ("tan", math.tan),
        ("asin", math.asin),
        ("acos", math.acos),
        ("cot", _cot),
    ):
        _register_scalar(name, (1, 1), _math_rt("float", "double"), _float_result_kernel(fn))
    _register_scalar("atan", (1, 2), _atan_rt, _atan_kernel)  # atan(y, x) is atan2
    _register_scalar("atan2", (2, 2), _pow_rt, _float_result_kernel(math.atan2))
    _register_scalar("degrees", (1, 1), _fixed("double", _NUM_OR_BOOL), lambda types: math.degrees)
    _register_scalar("radians", (1, 1), _fixed("double", _NUM_OR_BOOL), lambda types: math.radians)
    _register_scalar("mod", (2, 2), _arith_rt, mod_kernel)  # same as the % operator
    _register_scalar("pmod", (2, 2), _arith_rt, _pmod_kernel)
    _register_scalar("inc", (1, 1), _same_as_first(_NUM), _inc_kernel)


def _arith_rt(name: str, types: list[str]) -> str:
    try:
        return promote(types[0], types[1])
    except FunctionError:
        raise _unsupported(name, types) from None


# ---------------------------------------------------------------------------------------------------------
# Scalar functions: NULL handling and logic
# ---------------------------------------------------------------------------------------------------------


def _if_null_rt(name: str, types: list[str]) -> str:
    try:
        out = unify(name, types)
    except FunctionError:
        raise FunctionError(f"{name}(): the default value must have the type of the input, got {types}") from None
    return "string" if out == NULL_TYPE else out


def _coalesce_kernel(types: list[str]) -> Callable[..., Any]:
    out = unify("coalesce", types)
    convs = [widen_kernel(t, out) for t in types]

    def coalesce(*args: Any) -> Any:
        for v, conv in zip(args, convs, strict=True):
            if v is not None:
                return conv(v) if conv is not None else v
        return None

    return coalesce


def _nvl2_rt(name: str, types: list[str]) -> str:
    return _if_null_rt(name, types[1:])


def _nvl2_kernel(types: list[str]) -> Callable[..., Any]:
    out = unify("nvl2", types[1:])
    c2, c3 = widen_kernel(types[1], out), widen_kernel(types[2], out)

    def nvl2(a: Any, b: Any, c: Any) -> Any:
        v, conv = (b, c2) if a is not None else (c, c3)
        return conv(v) if conv is not None and v is not None else v

    return nvl2


def _minmax2_kernel(pick_first: Callable[[Any, Any], bool]) -> Kernel:
    def kernel(types: list[str]) -> Callable[[Any, Any], Any]:
        out = unify("maximum", types)
        c1, c2 = widen_kernel(types[0], out), widen_kernel(types[1], out)

        def f(a: Any, b: Any) -> Any:
            if c1 is not None:
                a = c1(a)
            if c2 is not None:
                b = c2(b)
            return a if pick_first(a, b) else b

        return f

    return kernel


def _register_logic() -> None:
    _register_scalar(("if_null", "ifnull", "nvl"), (2, 2), _if_null_rt, _coalesce_kernel, strict=False)
    _register_scalar("coalesce", (1, 99), _if_null_rt, _coalesce_kernel, strict=False)
    _register_scalar("nvl2", (3, 3), _nvl2_rt, _nvl2_kernel, strict=False)
    _register_scalar(("is_null", "isnull"), (1, 1), _fixed("bool"), lambda types: lambda v: v is None, strict=False)
    _register_scalar("identity", (1, 1), _same_as_first(_ANY), lambda types: lambda v: v)
    _register_scalar("add", (2, 2), _arith_rt, lambda types: _add_kernel(types))
    _register_scalar("maximum", (2, 2), _if_null_rt, _minmax2_kernel(operator.gt))
    _register_scalar("minimum", (2, 2), _if_null_rt, _minmax2_kernel(operator.lt))


def _add_kernel(types: list[str]) -> Callable[[Any, Any], Any]:
    out = promote(types[0], types[1])
    if out in INT_TYPES:
        wrap = _WRAPS[out]
        return lambda a, b: wrap(a + b)
    if out == "float":
        return lambda a, b: to_float32(a + b)
    return lambda a, b: float(a + b)


# ---------------------------------------------------------------------------------------------------------
# Scalar functions: strings
# ---------------------------------------------------------------------------------------------------------

_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _substr(s: str, pos: int, length: int | None = None) -> str:
    """hybridse sub_string: 1-based ``pos``; negative counts from the end; pos 0 or len < 1 -> ''."""
    n = len(s)
    if length is None:
        length = n
    if pos == 0 or length < 1 or pos > n or pos < -n:
        return ""
    start = n + pos if pos < 0 else pos - 1
    return s[start : start + length]


def _strcmp(a: str, b: str) -> int:
    return 0 if a == b else (-1 if a < b else 1)


def _replace(s: str, search: str, rep: str = "") -> str:
    # absl::StrReplaceAll ignores an empty search string.
    return s if search == "" else s.replace(search, rep)


def _char_length(s: str) -> int:
    # hybridse returns the byte length ("multibyte character string is not supported").
    return len(s) if s.isascii() else len(s.encode("utf-8"))


def _int_to_char(v: int) -> str:
    # C: (char)(val % 256), the remainder keeping the dividend's sign; as a byte that is val & 0xFF.
    return chr(v & 0xFF)


def _hex_kernel(types: list[str]) -> Callable[[Any], str]:
    t = types[0]
    if t == "string":
        # ostream << hex << (int)char: no zero padding, bytes >= 0x80 are negative chars.
        def hex_str(s: str) -> str:
            return "".join(format(b if b < 128 else (b - 256) & 0xFFFFFFFF, "X") for b in s.encode("utf-8"))

        return hex_str

    def hex_num(v: Any) -> str:
        n = int(_round_half_up_int(v)) if isinstance(v, float) else int(v)
        return format(n & 0xFFFFFFFFFFFFFFFF if n < 0 else n, "X")

    return hex_num


def _unhex(s: str) -> str | None:
    if not all(c in "0123456789abcdefABCDEF" for c in s):
        return None
    if len(s) % 2:
        s = "0" + s
    return bytes.fromhex(s).decode("latin-1")


_LIKE_CACHE: dict[tuple[str, str | None, bool], re.Pattern[str] | None] = {}


def like_regex(pattern: str, escape: str | None = "\\", ignore_case: bool = False) -> re.Pattern[str] | None:
    """Compile a LIKE pattern (``%`` any run, ``_`` one character, ``escape`` quotes the next one).

    Returns None for a pattern that can never match (it ends with the escape character, as upstream).
    """
    key = (pattern, escape, ignore_case)
    if key in _LIKE_CACHE:
        return _LIKE_CACHE[key]
    out: list[str] = []
    i, n = 0, len(pattern)
    compiled: re.Pattern[str] | None
    while i < n:
        c = pattern[i]
        if escape and c == escape:
            if i + 1 == n:
                out = []
                break
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    else:
        flags = re.DOTALL | ((re.IGNORECASE | re.ASCII) if ignore_case else 0)
        compiled = re.compile("".join(out), flags)
        if len(_LIKE_CACHE) < 4096:
            _LIKE_CACHE[key] = compiled
        return compiled
    _LIKE_CACHE[key] = None
    return None


def like_match(name: str, pattern: str, escape: str | None = "\\", ignore_case: bool = False) -> bool:
    """SQL LIKE / ILIKE with hybridse's rules (an escape string longer than one character never matches)."""
    if escape is not None and len(escape) >= 2:
        return False
    rx = like_regex(pattern, escape or None, ignore_case)
    return rx is not None and rx.fullmatch(name) is not None


def _like_kernel(ignore_case: bool) -> Kernel:
    def kernel(types: list[str]) -> Callable[..., Any]:
        def match(name: str, pattern: str, escape: str = "\\") -> bool:
            return like_match(name, pattern, escape, ignore_case)

        return match

    return kernel


def _regexp_like(name: str, pattern: str, flags: str = "c") -> bool | None:
    opts = 0
    for f in flags:
        if f == "c":
            opts &= ~re.IGNORECASE
        elif f == "i":
            opts |= re.IGNORECASE
        elif f == "m":
            opts |= re.MULTILINE
        elif f == "s":
            opts |= re.DOTALL
    try:
        return re.fullmatch(pattern, name, opts) is not None
    except re.error:
        return None  # RE2 reports the error and returns NULL


def _concat_kernel(types: list[str]) -> Callable[..., str]:
    convs = [_to_string_kernel(t) for t in types]

    def concat(*args: Any) -> str:
        return "".join([c(v) for c, v in zip(convs, args, strict=True)])

    return concat


def _concat_ws_kernel(types: list[str]) -> Callable[..., str]:
    sep_conv = _to_string_kernel(types[0])
    convs = [_to_string_kernel(t) for t in types[1:]]

    def concat_ws(sep: Any, *args: Any) -> str:
        return sep_conv(sep).join([c(v) for c, v in zip(convs, args, strict=True)])

    return concat_ws


def _trim_kernel(chars_fn: str) -> Kernel:
    def kernel(types: list[str]) -> Callable[..., str]:
        method = getattr(str, chars_fn)
        return lambda s, chars=" ": method(s, chars)

    return kernel


def _register_strings() -> None:
    _register_scalar(("substring", "substr"), (2, 3), _fixed("string", _STR, _INTS), lambda types: _substr)
    _register_scalar("concat", (0, 99), _fixed("string"), _concat_kernel)
    _register_scalar("concat_ws", (1, 99), _fixed("string"), _concat_ws_kernel)
    _register_scalar(("upper", "ucase"), (1, 1), _fixed("string", _STR), lambda t: lambda s: s.translate(_ASCII_UPPER))
    _register_scalar(("lower", "lcase"), (1, 1), _fixed("string", _STR), lambda t: lambda s: s.translate(_ASCII_LOWER))
    _register_scalar(
        ("char_length", "character_length", "length"), (1, 1), _fixed("int32", _STR), lambda types: _char_length
    )
    _register_scalar("strcmp", (2, 2), _fixed("int32", _STR, _STR), lambda types: _strcmp)
    _register_scalar("replace", (2, 3), _fixed("string", _STR, _STR, _STR), lambda types: _replace)
    _register_scalar("reverse", (1, 1), _fixed("string", _STR), lambda types: lambda s: s[::-1])
    # Not in OpenMLDB's list; provided with SQL's meaning (spaces only) for convenience.
    _register_scalar("trim", (1, 2), _fixed("string", _STR, _STR), _trim_kernel("strip"))
    _register_scalar("ltrim", (1, 2), _fixed("string", _STR, _STR), _trim_kernel("lstrip"))
    _register_scalar("rtrim", (1, 2), _fixed("string", _STR, _STR), _trim_kernel("rstrip"))
    _register_scalar("char", (1, 1), _fixed("string", _INTS), lambda types: _int_to_char)
    _register_scalar("hex", (1, 1), _fixed("string", _NUM | _STR), _hex_kernel)
    _register_scalar("unhex", (1, 1), _fixed("string", _STR), lambda types: _unhex)
    _register_scalar("like_match", (2, 3), _fixed("bool", _STR, _STR, _STR), _like_kernel(False))
    _register_scalar("ilike_match", (2, 3), _fixed("bool", _STR, _STR, _STR), _like_kernel(True))
    _register_scalar("regexp_like", (2, 3), _fixed("bool", _STR, _STR, _STR), lambda types: _regexp_like)


# ---------------------------------------------------------------------------------------------------------
# Scalar functions: date and time (UTC+8)
# ---------------------------------------------------------------------------------------------------------


def _date_part_kernel(from_date: Callable[[_dt.date], int], *, negative_null: bool = False) -> Kernel:
    def kernel(types: list[str]) -> Callable[[Any], Any]:
        if types[0] == "date":
            return from_date

        def from_ts(ts: int) -> int | None:
            if negative_null and ts < 0:
                return None
            d = ts_to_date(ts)
            return None if d is None else from_date(d)

        return from_ts

    return kernel


def _time_part_kernel(part: Callable[[int], int]) -> Kernel:
    # hour/minute/second of the UTC+8 wall clock; seconds of day computed like gmtime (floor).
    return lambda types: lambda ts: part(_local_seconds(ts) % 86400)


def _date_format_kernel(types: list[str]) -> Callable[[Any, str], Any]:
    if types[0] == "date":
        return lambda d, fmt: d.strftime(fmt)

    def fmt_ts(ts: int, fmt: str) -> str | None:
        d = ts_to_datetime(ts)
        return None if d is None else d.strftime(fmt)

    return fmt_ts


def _unix_timestamp_kernel(types: list[str]) -> Callable[..., Any]:
    t = types[0] if types else NULL_TYPE

    def unix_timestamp(v: Any = None) -> int | None:
        # NULL or '' means "now" upstream.
        if v is None or v == "":
            return int(time.time())
        ms = date_to_ts(v) if t == "date" else _parse_ts_string(v)
        if ms is None:
            return None
        return ms // 1000 if ms >= 0 else -((-ms) // 1000)

    return unix_timestamp


def _rfc3339_or_layout_day(s: str) -> _dt.date | None:
    """hybridse string_to_time for datediff: the layouts are read as UTC, then the UTC+8 civil day is taken."""
    n = len(s)
    try:
        if n == 19:
            d = _dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=_dt.UTC)
        elif n == 10:
            d = _dt.datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=_dt.UTC)
        elif n == 8 and s.isdigit():
            d = _dt.datetime(int(s[:4]), int(s[4:6]), int(s[6:]), tzinfo=_dt.UTC)
        else:
            d = _dt.datetime.fromisoformat(s)
            if d.tzinfo is None:
                return None
    except ValueError:
        return None
    return (d.astimezone(_dt.UTC) + _dt.timedelta(hours=8)).date()


def _datediff_kernel(types: list[str]) -> Callable[[Any, Any], Any]:
    def day(t: str) -> Callable[[Any], _dt.date | None]:
        return (lambda v: v) if t == "date" else _rfc3339_or_layout_day

    d1, d2 = day(types[0]), day(types[1])

    def datediff(a: Any, b: Any) -> int | None:
        x, y = d1(a), d2(b)
        if x is None or y is None:
            return None
        return (x - y).days

    return datediff


def _last_day_of(d: _dt.date) -> _dt.date:
    nxt = _dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - _dt.timedelta(days=1)


def _add_months(d: _dt.date, n: int) -> _dt.date | None:
    m = d.month - 1 + n
    year, month = d.year + m // 12, m % 12 + 1
    if not 1 <= year <= 9999:
        return None
    last = _last_day_of(_dt.date(year, month, 1)).day
    return _dt.date(year, month, min(d.day, last))


def _register_time() -> None:
    def dow(d: _dt.date) -> int:
        return d.isoweekday() % 7 + 1  # Sunday = 1 ... Saturday = 7

    parts: list[tuple[tuple[str, ...], Callable[[_dt.date], int], bool]] = [
        (("year",), lambda d: d.year, False),
        (("month",), lambda d: d.month, False),
        (("dayofmonth", "day"), lambda d: d.day, False),
        (("dayofweek",), dow, False),
        (("dayofyear",), lambda d: d.timetuple().tm_yday, True),
        (("weekofyear", "week"), lambda d: d.isocalendar()[1], False),  # boost week_number(): ISO 8601 week
    ]
    for names, fn, negative_null in parts:
        _register_scalar(
            names, (1, 1), _fixed("int32", _TIME_OR_DATE), _date_part_kernel(fn, negative_null=negative_null)
        )
    _register_scalar("hour", (1, 1), _fixed("int32", _TIME), _time_part_kernel(lambda s: s // 3600))
    _register_scalar("minute", (1, 1), _fixed("int32", _TIME), _time_part_kernel(lambda s: s // 60 % 60))
    _register_scalar("second", (1, 1), _fixed("int32", _TIME), _time_part_kernel(lambda s: s % 60))
    _register_scalar("date_format", (2, 2), _fixed("string", {"timestamp", "date"}, _STR), _date_format_kernel)
    _register_scalar(
        "unix_timestamp",
        (0, 1),
        _fixed("int64", {"date", "string"}),
        _unix_timestamp_kernel,
        strict=False,
        deterministic=False,
    )
    _register_scalar("datediff", (2, 2), _fixed("int32", {"date", "string"}), _datediff_kernel)

    def last_day_kernel(types: list[str]) -> Callable[[Any], Any]:
        if types[0] == "date":
            return _last_day_of
        return lambda ts: None if ts < 0 or (d := ts_to_date(ts)) is None else _last_day_of(d)

    _register_scalar("last_day", (1, 1), _fixed("date", _TIME_OR_DATE), last_day_kernel)
    _register_scalar("add_months", (2, 2), _fixed("date", {"date"}, _INTS), lambda types: _add_months)


# ---------------------------------------------------------------------------------------------------------
# Scalar functions: casts
# ---------------------------------------------------------------------------------------------------------


def _register_casts() -> None:
    targets = {
        ("int", "int32"): "int32",
        ("bigint", "int64"): "int64",
        ("smallint", "int16"): "int16",
        ("float",): "float",
        ("double",): "double",
        ("string",): "string",
        ("bool",): "bool",
        ("date",): "date",
        ("timestamp",): "timestamp",
    }
    for names, dst in targets.items():

        def rt(name: str, types: list[str], _dst: str = dst) -> str:
            try:
                cast_kernel(types[0], _dst)
            except FunctionError:
                raise _unsupported(name, types) from None
            return _dst

        _register_scalar(names, (1, 1), rt, lambda types, _dst=dst: cast_kernel(types[0], _dst))


_register_math()
_register_logic()
_register_strings()
_register_time()
_register_casts()


# ---------------------------------------------------------------------------------------------------------
# Aggregates
# ---------------------------------------------------------------------------------------------------------

if sys.version_info < (3, 12):
    _plain_fsum: Callable[[Iterable[float]], float] = sum  # left-to-right, like the C accumulator
else:  # 3.12's sum() compensates float rounding, which hybridse does not

    def _plain_fsum(values: Iterable[float]) -> float:
        return reduce(operator.add, values, 0.0)


def _non_null(col: list[Any]) -> list[Any]:
    return col if None not in col else [v for v in col if v is not None]


def _sum_values(t: str) -> Callable[[list[Any]], Any]:
    """Sum non-empty non-NULL values in list order, in type ``t`` (C accumulator semantics)."""
    if t in INT_TYPES or t == "timestamp":
        wrap = _WRAPS[t]
        return lambda vals: wrap(sum(vals))
    if t == "float":

        def f32sum(vals: list[float]) -> float:
            # A one-slot C float array: every store rounds to float32, exactly like hybridse's float accumulator
            # (a double sum of two float32 values rounded once equals the float32 sum).
            acc = array("f", (0.0,))
            for v in vals:
                acc[0] += v
            return acc[0]

        return f32sum
    return _plain_fsum


def _agg_sum(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    add = _sum_values(types[0])

    def agg(cols: list[list[Any]]) -> Any:
        vals = _non_null(cols[0])
        return add(vals) if vals else None

    return agg


def _agg_count(types: list[str]) -> Callable[[list[list[Any]]], int]:
    def agg(cols: list[list[Any]]) -> int:
        col = cols[0]
        return len(col) - col.count(None) if None in col else len(col)

    return agg


def _agg_avg(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> float | None:
        vals = _non_null(cols[0])
        if not vals:
            return None
        return _plain_fsum(map(float, vals)) / len(vals)

    return agg


def _agg_extreme(fn: Callable[[list[Any]], Any]) -> Kernel:
    def kernel(types: list[str]) -> Callable[[list[list[Any]]], Any]:
        def agg(cols: list[list[Any]]) -> Any:
            vals = _non_null(cols[0])
            return fn(vals) if vals else None

        return agg

    return kernel


def _where_rows(cols: list[list[Any]]) -> list[Any]:
    # Rows whose condition is TRUE (NULL conditions do not match) and whose value is not NULL.
    return [v for v, c in zip(cols[0], cols[1], strict=False) if c is True and v is not None]


def _agg_where(kernel_of_values: Callable[[list[str]], Callable[[list[Any]], Any]], empty: Any = None) -> Kernel:
    def kernel(types: list[str]) -> Callable[[list[list[Any]]], Any]:
        fold = kernel_of_values(types)

        def agg(cols: list[list[Any]]) -> Any:
            vals = _where_rows(cols)
            return fold(vals) if vals else empty

        return agg

    return kernel


def _agg_distinct_count(types: list[str]) -> Callable[[list[list[Any]]], int]:
    def agg(cols: list[list[Any]]) -> int:
        s = set(cols[0])
        s.discard(None)
        return len(s)

    return agg


def _agg_top1_ratio(types: list[str]) -> Callable[[list[list[Any]]], float]:
    def agg(cols: list[list[Any]]) -> float:
        vals = _non_null(cols[0])
        if not vals:
            return 0.0  # upstream returns 0 (not NULL) when there is no non-NULL value
        return max(Counter(vals).values()) / len(vals)

    return agg


_MAX_TOPN = 1024  # hybridse FZTopNFrequency::MAXIMUM_TOPN


def _first_int(col: list[Any]) -> int | None:
    """The value of a constant per-row argument (n of topn_frequency...): the newest row's."""
    return col[0] if col else None


def _agg_topn_frequency(types: list[str]) -> Callable[[list[list[Any]]], str]:
    fmt = format_value(types[0])

    def agg(cols: list[list[Any]]) -> str:
        if not cols[0]:
            return ""  # no update ever ran, so upstream's top_n stays 0
        n = _first_int(cols[1]) or 0
        if n == 0:
            return ""
        # n is read into a size_t upstream: a negative n becomes huge and is capped like any large n.
        n = _MAX_TOPN if n < 0 or n > _MAX_TOPN else n
        counts = Counter(_non_null(cols[0]))
        # Most frequent first; equal counts: the smaller key first.
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        keys = [fmt(k) for k, _ in ranked]
        keys.extend(["NULL"] * (n - len(keys)))
        return ",".join(keys)

    return agg


def _agg_first_value(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    # OpenMLDB < 0.9 (and the udfs doc this follows): first_value is the LATEST row's value, NULL included.
    return lambda cols: cols[0][0] if cols[0] else None


def _agg_lag(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> Any:
        col = cols[0]
        if not col:
            return None
        n = cols[1][0]
        if n is None:
            return None
        if n < 0:  # hybridse AtList: a negative position counts from the window start (oldest row)
            n += len(col)
            if n < 0:
                return None
        return col[n] if n < len(col) else None

    return agg


def _agg_median(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> float | None:
        vals = sorted(_non_null(cols[0]))
        n = len(vals)
        if n == 0:
            return None
        mid = n // 2
        if n % 2:
            return float(vals[mid])
        return (vals[mid - 1] + vals[mid]) / 2.0

    return agg


def _agg_ew_avg(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> float | None:
        vals = _non_null(cols[0])
        if not vals:
            return None
        alpha = _first_int(cols[1])
        if not alpha:  # NULL or 0: plain average
            return _plain_fsum(map(float, vals)) / len(vals)
        # pandas ewm(alpha, adjust=True, ignore_na=True).mean()[-1], fed in chronological order (oldest first).
        factor = 1.0 - alpha
        it = reversed(vals)
        weighted = float(next(it))
        old_wt = 1.0
        for cur in it:
            old_wt *= factor
            if weighted != cur:
                weighted = (old_wt * weighted + cur) / (old_wt + 1.0)
            old_wt += 1.0
        return weighted

    return agg


def _agg_drawdown(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> float | None:
        peak = None
        worst = 0.0
        seen = False
        for v in reversed(cols[0]):  # chronological order
            if v is None or v < 0:  # negative values are ignored
                continue
            seen = True
            if peak is None or v > peak:
                peak = v
            elif peak > 0:
                dd = (peak - v) / peak
                if dd > worst:
                    worst = dd
        return float(worst) if seen else None

    return agg


def _agg_std(kind: str) -> Kernel:
    def kernel(types: list[str]) -> Callable[[list[list[Any]]], Any]:
        def agg(cols: list[list[Any]]) -> float | None:
            vals = _non_null(cols[0])
            n = len(vals)
            if n == 0:
                return None
            fvals = [float(v) for v in vals]
            avg = _plain_fsum(fvals) / n
            total = _plain_fsum([(x - avg) ** 2 for x in fvals])
            if kind in ("samp_std", "samp_var"):
                if n <= 1:
                    return None
                total /= n - 1
            else:
                total /= n
            return math.sqrt(total) if kind.endswith("std") else total

        return agg

    return kernel


def _agg_entropy(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> float | None:
        vals = _non_null(cols[0])
        if not vals:
            return None
        n = float(len(vals))
        out = 0.0
        for c in Counter(vals).values():
            p = c / n
            out -= p * math.log2(p)
        return out

    return agg


def _agg_top(types: list[str]) -> Callable[[list[list[Any]]], str]:
    fmt = format_value(types[0])

    def agg(cols: list[list[Any]]) -> str:
        vals = _non_null(cols[0])
        k = _first_int(cols[1]) if cols[1] else 0
        if not vals or not k or k <= 0:
            return ""
        return ",".join(fmt(v) for v in sorted(vals, reverse=True)[:k])

    return agg


def _agg_nth_value_where(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> Any:
        values, idx_col, conds = cols
        if not values:
            return None
        idx = idx_col[0]
        if not idx:
            return None
        matched = [v for v, c in zip(values, conds, strict=False) if c is True]  # newest first
        if idx > 0:  # counted from the window start (oldest row)
            return matched[-idx] if idx <= len(matched) else None
        return matched[-idx - 1] if -idx <= len(matched) else None

    return agg


# *_cate family -------------------------------------------------------------------------------------------

_MAX_OUTPUT_STR = 4096  # hybridse BoundedGroupByDict::MAX_OUTPUT_STR_SIZE


def _join_kv(pairs: list[tuple[str, str]]) -> str:
    """'k:v' entries joined by ',', stopping before the output would exceed hybridse's 4096-byte cap."""
    total = 0
    parts = []
    for k, v in pairs:
        total += len(k) + len(v) + 2
        if total > _MAX_OUTPUT_STR:
            break
        parts.append(f"{k}:{v}")
    return ",".join(parts)


@dataclass(frozen=True)
class _CateOp:
    """How one category's values are folded and printed."""

    fold: Callable[[list[Any]], Any]  # values of one category, newest first -> state
    sort_key: Callable[[Any], Any]  # state -> comparable value (top_n_value ordering)
    show: Callable[[Any], str]  # state -> text


def _cate_op(op: str, value_type: str) -> _CateOp:
    if op == "count":
        return _CateOp(len, lambda s: s, str)
    if op == "avg":

        def avg(vals: list[Any]) -> float:
            return _plain_fsum(map(float, vals)) / len(vals)

        return _CateOp(avg, lambda s: s, fmt_double)
    if op == "ratio":  # state: (matching count, total count)
        return _CateOp(lambda s: s, lambda s: s[0] / s[1], lambda s: fmt_double(s[0] / s[1]))
    fmt = format_value(value_type)
    fold = {"sum": _sum_values(value_type), "min": min, "max": max}[op]
    return _CateOp(fold, lambda s: s, fmt)


def _cate_kernel(op: str, *, where: bool, top: str | None) -> Kernel:
    """count/sum/avg/min/max _cate, _cate_where, top_n_key_*_cate_where and top_n_value_*_cate_where."""

    def kernel(types: list[str]) -> Callable[[list[list[Any]]], str]:
        key_type = types[2] if where else types[1]
        fmt_key = format_value(key_type)
        cop = _cate_op(op, types[0])

        def agg(cols: list[list[Any]]) -> str:
            values = cols[0]
            keys = cols[2] if where else cols[1]
            groups: dict[Any, list[Any]] = {}
            if op == "ratio":
                ratio: dict[Any, list[int]] = {}
                for v, c, k in zip(values, cols[1], keys, strict=False):
                    if k is None or v is None:
                        continue
                    st = ratio.setdefault(k, [0, 0])
                    st[1] += 1
                    if c is True:
                        st[0] += 1
                states = {k: (s[0], s[1]) for k, s in ratio.items()}
            else:
                if where:
                    rows = zip(values, cols[1], keys, strict=False)
                    for v, c, k in rows:
                        if c is True and v is not None and k is not None:
                            groups.setdefault(k, []).append(v)
                else:
                    for v, k in zip(values, keys, strict=False):
                        if v is not None and k is not None:
                            groups.setdefault(k, []).append(v)
                states = {k: cop.fold(vs) for k, vs in groups.items()}
            if not states:
                return ""  # upstream outputs an empty string, not NULL
            if top is None:
                ordered = sorted(states.items())
            else:
                n = _first_int(cols[3])
                n = -1 if n is None else n
                if top == "key":  # the n largest keys, largest first
                    ordered = sorted(states.items(), reverse=True)
                else:  # the n largest aggregates; ties: the larger key first
                    ordered = sorted(states.items(), key=lambda kv: (cop.sort_key(kv[1]), kv[0]), reverse=True)
                if n >= 0:
                    ordered = ordered[:n]
            return _join_kv([(fmt_key(k), cop.show(s)) for k, s in ordered])

        return agg

    return kernel


def _cate_rt(value_types: frozenset[str] | None, *, where: bool, top: bool) -> Callable[[str, list[str]], str]:
    layout: list[frozenset[str] | set[str] | None] = [value_types]
    if where:
        layout.append({"bool"})
    layout.append(CATE_KEY_TYPES)
    if top:
        layout.append(INT_TYPES)
    return _fixed("string", *layout)


def _register_aggregates() -> None:
    _register_aggregate("sum", (1, 1), _same_as_first(_NUM | {"timestamp"}), _agg_sum)
    _register_aggregate("count", (1, 1), _fixed("int64"), _agg_count)
    _register_aggregate("avg", (1, 1), _fixed("double", _NUM), _agg_avg)
    _register_aggregate("min", (1, 1), _same_as_first(ORDERED_TYPES), _agg_extreme(min))
    _register_aggregate("max", (1, 1), _same_as_first(ORDERED_TYPES), _agg_extreme(max))
    _register_aggregate("count_where", (2, 2), _fixed("int64", _ANY, {"bool"}), _agg_where(lambda t: len, 0))
    _register_aggregate("sum_where", (2, 2), _same_as_first(_NUM, {"bool"}), _agg_where(lambda t: _sum_values(t[0])))
    _register_aggregate(
        "avg_where",
        (2, 2),
        _fixed("double", _NUM, {"bool"}),
        _agg_where(lambda t: lambda vals: _plain_fsum(map(float, vals)) / len(vals)),
    )
    _register_aggregate("min_where", (2, 2), _same_as_first(_NUM, {"bool"}), _agg_where(lambda t: min))
    _register_aggregate("max_where", (2, 2), _same_as_first(_NUM, {"bool"}), _agg_where(lambda t: max))
    _register_aggregate("distinct_count", (1, 1), _fixed("int64"), _agg_distinct_count)
    _register_aggregate("top1_ratio", (1, 1), _fixed("double", ORDERED_TYPES), _agg_top1_ratio)
    _register_aggregate("topn_frequency", (2, 2), _fixed("string", ORDERED_TYPES, _INTS), _agg_topn_frequency)
    _register_aggregate(("first_value", "last_value"), (1, 1), _same_as_first(_ANY), _agg_first_value)
    _register_aggregate(("lag", "at"), (2, 2), _same_as_first(_ANY, _INTS), _agg_lag)
    _register_aggregate("median", (1, 1), _fixed("double", _NUM), _agg_median)
    _register_aggregate("ew_avg", (2, 2), _fixed("double", _NUM, _NUM), _agg_ew_avg)
    _register_aggregate("drawdown", (1, 1), _fixed("double", _NUM), _agg_drawdown)
    _register_aggregate(("stddev", "std", "stddev_samp"), (1, 1), _fixed("double", _NUM), _agg_std("samp_std"))
    _register_aggregate("stddev_pop", (1, 1), _fixed("double", _NUM), _agg_std("pop_std"))
    _register_aggregate(("var_samp", "variance"), (1, 1), _fixed("double", _NUM), _agg_std("samp_var"))
    _register_aggregate("var_pop", (1, 1), _fixed("double", _NUM), _agg_std("pop_var"))
    _register_aggregate("entropy", (1, 1), _fixed("double"), _agg_entropy)
    _register_aggregate("top", (2, 2), _fixed("string", ORDERED_TYPES, _INTS), _agg_top)
    _register_aggregate("nth_value_where", (3, 3), _same_as_first(_ANY, _INTS, {"bool"}), _agg_nth_value_where)
    for op in ("count", "sum", "avg", "min", "max"):
        values = None if op == "count" else _NUM
        _register_aggregate(
            f"{op}_cate", (2, 2), _cate_rt(values, where=False, top=False), _cate_kernel(op, where=False, top=None)
        )
        _register_aggregate(
            f"{op}_cate_where", (3, 3), _cate_rt(values, where=True, top=False), _cate_kernel(op, where=True, top=None)
        )
        for top in ("key", "value"):
            _register_aggregate(
                f"top_n_{top}_{op}_cate_where",
                (4, 4),
                _cate_rt(values, where=True, top=True),
                _cate_kernel(op, where=True, top=top),
            )
    for top in ("key", "value"):
        _register_aggregate(
            f"top_n_{top}_ratio_cate",
            (4, 4),
            _cate_rt(None, where=True, top=True),
            _cate_kernel("ratio", where=True, top=top),
        )


_register_aggregates()
