"""Scalar functions: date and time, in UTC+8 (year, dayofweek, date_format, unix_timestamp, datediff...)."""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable
from typing import Any

from featurestore.sqlcore.functions.base import NULL_TYPE
from featurestore.sqlcore.functions.registry import INTS, STR, TIME, TIME_OR_DATE, Kernel, fixed, register_scalar
from featurestore.sqlcore.functions.timeparts import (
    _local_seconds,
    _parse_ts_string,
    date_to_ts,
    ts_to_date,
    ts_to_datetime,
)


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


def register() -> None:
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
        register_scalar(names, (1, 1), fixed("int32", TIME_OR_DATE), _date_part_kernel(fn, negative_null=negative_null))
    register_scalar("hour", (1, 1), fixed("int32", TIME), _time_part_kernel(lambda s: s // 3600))
    register_scalar("minute", (1, 1), fixed("int32", TIME), _time_part_kernel(lambda s: s // 60 % 60))
    register_scalar("second", (1, 1), fixed("int32", TIME), _time_part_kernel(lambda s: s % 60))
    register_scalar("date_format", (2, 2), fixed("string", {"timestamp", "date"}, STR), _date_format_kernel)
    register_scalar(
        "unix_timestamp",
        (0, 1),
        fixed("int64", {"date", "string"}),
        _unix_timestamp_kernel,
        strict=False,
        deterministic=False,
    )
    register_scalar("datediff", (2, 2), fixed("int32", {"date", "string"}), _datediff_kernel)

    def last_day_kernel(types: list[str]) -> Callable[[Any], Any]:
        if types[0] == "date":
            return _last_day_of
        return lambda ts: None if ts < 0 or (d := ts_to_date(ts)) is None else _last_day_of(d)

    register_scalar("last_day", (1, 1), fixed("date", TIME_OR_DATE), last_day_kernel)
    register_scalar("add_months", (2, 2), fixed("date", {"date"}, INTS), lambda types: _add_months)
