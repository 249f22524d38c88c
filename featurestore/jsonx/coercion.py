"""Coercion between parsed JSON values and engine values, by the APIServer's per-type rules.

:func:`coerce` applies ``AppendJsonValue``'s rules to a column value (plus the platform's ts range,
``featurestore.limits``), :func:`coerce_param` the query route's typed parameters, :func:`output_value` turns an
engine value back into its response form.
"""

from __future__ import annotations

import datetime
import math
import struct
from typing import Any

from featurestore.jsonx.writer import dumps
from featurestore.limits import TS_MAX, TS_MIN, TS_RANGE_ERROR

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1


class ConversionError(ValueError):
    """A JSON value a column (or query parameter) of ``type`` does not accept; callers build the wire message."""

    def __init__(self, value: Any, type: str, reason: str):
        super().__init__(f"cannot convert {_value_text(value)} to {type}: {reason}")
        self.value = value
        self.type = type
        self.reason = reason

    @property
    def value_text(self) -> str:
        """The value for "... with value <v>" messages: strings as-is (upstream GetString()), others as JSON text."""
        return _value_text(self.value)


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return dumps(value).decode("utf-8", "replace")
    except (TypeError, ValueError):
        return repr(value)


class TsRangeError(ConversionError):
    """A ts value the JSON type accepts but the window engine cannot compute on (``featurestore.limits``)."""


def int_range(type: str, *, ts: bool = False) -> tuple[int, int]:
    """The integers a column of an integer ``type`` stores (int16 takes int32 input and wraps, as upstream)."""
    if type == "timestamp" or (ts and type == "int64"):
        return TS_MIN, TS_MAX
    if type == "int64":
        return _INT64_MIN, _INT64_MAX
    return _INT32_MIN, _INT32_MAX


# ---------------------------------------------------------------------------------------------------------------
# Coercion of input values (AppendJsonValue) and query parameters.

_F32 = struct.Struct("<f")


def to_float32(x: float) -> float:
    """Round a double to float32 like a C static_cast<float> (overflow gives a signed infinity)."""
    try:
        return _F32.unpack(_F32.pack(x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)  # JSON true/false are not numbers


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _wrap_int16(v: int) -> int:
    return ((v + 0x8000) & 0xFFFF) - 0x8000


def _is_lossless_double(v: int) -> bool:
    # rapidjson Value::IsLosslessDouble for integers: the double must convert back to the same integer.
    try:
        d = float(v)
    except OverflowError:
        return False
    if 0 <= v <= _UINT64_MAX:
        return d < 18446744073709551616.0 and int(d) == v
    if _INT64_MIN <= v < 0:
        return d >= -9223372036854775808.0 and int(d) == v
    return False


def _parse_date(value: Any, type: str) -> datetime.date:
    if not isinstance(value, str):
        raise ConversionError(value, type, "not a string")
    text = value.split("\0", 1)[0]  # upstream splits GetString(), a C string
    # base::SplitString drops empty pieces, so "2020--5-1" and "-2020-5-1" still have three parts.
    parts = [p for p in text.split("-") if p]
    if len(parts) != 3:
        raise ConversionError(value, type, "expected Y-M-D")
    nums = []
    for p in parts:
        # std::from_chars<int32_t> over the whole piece: ASCII digits only (no sign, no spaces).
        if not (p.isascii() and p.isdigit()):
            raise ConversionError(value, type, "date parts must be integers")
        n = int(p)
        if n > _INT32_MAX:
            raise ConversionError(value, type, "date part out of int32 range")
        nums.append(n)
    year, month, day = nums
    # Upstream's row builder rejects years outside 1900..9999 and months/days outside 1..12/1..31, but would store
    # 2021-02-30; we also reject days the month does not have, since a date value must be a real date.
    if not 1900 <= year <= 9999:
        raise ConversionError(value, type, "year out of range 1900..9999")
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise ConversionError(value, type, "not a valid date") from None


def coerce(value: Any, type: str, *, not_null: bool = False, ts: bool = False) -> Any:
    """Convert a parsed JSON value for a column of ``type`` by AppendJsonValue's rules; raise ConversionError.

    A timestamp, and an int64 that is a window ts (``ts``: an index's TS column), must also lie within the range
    the engine computes windows on (``featurestore.limits``); outside it TsRangeError is raised.
    """
    if value is None:
        if not_null:
            raise ConversionError(value, type, "null for a NOT NULL column")
        return None
    if type == "bool":
        if isinstance(value, bool):
            return value
        raise ConversionError(value, type, "not a JSON bool")
    if type == "int16":
        # IsInt() then a plain cast: 70000 is accepted and wraps to 4464, as upstream does.
        if _is_int(value) and _INT32_MIN <= value <= _INT32_MAX:
            return _wrap_int16(value)
        raise ConversionError(value, type, "not an int32 integer")
    if type == "int32":
        if _is_int(value) and _INT32_MIN <= value <= _INT32_MAX:
            return value
        raise ConversionError(value, type, "not an int32 integer")
    if type == "int64" or type == "timestamp":
        if _is_int(value) and _INT64_MIN <= value <= _INT64_MAX:
            if (ts or type == "timestamp") and not TS_MIN <= value <= TS_MAX:
                raise TsRangeError(value, type, TS_RANGE_ERROR)
            return value
        raise ConversionError(value, type, "not an int64 integer")
    if type == "float":
        if _is_number(value):
            try:
                return to_float32(float(value))
            except OverflowError:
                raise ConversionError(value, type, "number out of range") from None
        raise ConversionError(value, type, "not a number")
    if type == "double":
        if isinstance(value, float):
            return value
        if _is_int(value) and _is_lossless_double(value):
            return float(value)
        raise ConversionError(value, type, "not a number representable as a double")
    if type == "string":
        if isinstance(value, str):
            return value
        raise ConversionError(value, type, "not a string")
    if type == "date":
        return _parse_date(value, type)
    raise ValueError(f"unknown column type {type!r}")


_PARAM_TYPES = {
    "BOOL": "bool",
    "SMALLINT": "int16",
    "INT16": "int16",
    "INT": "int32",
    "INT32": "int32",
    "BIGINT": "int64",
    "INT64": "int64",
    "FLOAT": "float",
    "DOUBLE": "double",
    "STRING": "string",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
}
# std::toupper in the C locale touches ASCII letters only (str.upper() would turn "ınt" into "INT").
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def date_to_packed(d: datetime.date) -> int:
    """OpenMLDB's row encoding of a date: (year - 1900) << 16 | (month - 1) << 8 | day."""
    return ((d.year - 1900) << 16) | ((d.month - 1) << 8) | d.day


def date_from_packed(v: int) -> datetime.date:
    """Decode OpenMLDB's packed date int; raise ValueError if it is not a real date."""
    if not 0 <= v <= _INT32_MAX:
        raise ValueError(f"packed date out of range: {v}")
    return datetime.date((v >> 16) + 1900, ((v >> 8) & 0xFF) + 1, v & 0xFF)


def coerce_param(value: Any, type_name: str) -> tuple[Any, str]:
    """Convert one query-route parameter (``input.schema``/``input.data``); returns (value, canonical type)."""
    upper = type_name.translate(_ASCII_UPPER)
    canonical = _PARAM_TYPES.get(upper)
    if canonical is None:
        raise ValueError(f"invalid type {upper}")
    # These follow JsonReader's operator& overloads: nulls are never accepted, numbers are not range-checked beyond
    # what IsInt()/IsInt64() imply, and DOUBLE takes any number (GetDouble(), not IsLosslessDouble()).
    if value is None:
        raise ConversionError(value, canonical, "null parameter")
    if canonical == "double":
        if _is_number(value):
            try:
                return float(value), canonical
            except OverflowError:
                raise ConversionError(value, canonical, "number out of range") from None
        raise ConversionError(value, canonical, "not a number")
    if canonical == "date":
        # DATE parameters are read as an int32 and appended unchanged as the packed row encoding.
        if _is_int(value) and _INT32_MIN <= value <= _INT32_MAX:
            try:
                return date_from_packed(value), canonical
            except ValueError:
                raise ConversionError(value, canonical, "not a valid packed date") from None
        raise ConversionError(value, canonical, "not an int32 integer")
    return coerce(value, canonical), canonical


def output_value(value: Any, type: str) -> Any:
    """An engine value of column ``type`` in its response form (float widened from float32, date "Y-M-D")."""
    if value is None:
        return None
    if type == "float":
        return to_float32(float(value))
    if type == "double":
        return float(value)
    if type in ("int16", "int32", "int64", "timestamp"):
        return int(value)
    if type == "bool":
        return bool(value)
    if type == "string":
        return value
    if type == "date":
        return f"{value.year}-{value.month}-{value.day}"  # "%d-%d-%d": no zero padding
    raise ValueError(f"unknown column type {type!r}")
