"""The function library's foundation: ``FunctionError`` and the type helpers shared with the expression compiler."""

from __future__ import annotations

import datetime as _dt
import math
import struct
from collections.abc import Callable
from typing import Any


class FunctionError(ValueError):
    """A function cannot be used as written: unknown name, wrong number of arguments or unsupported types."""


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
