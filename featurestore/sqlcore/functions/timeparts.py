"""Time helpers: OpenMLDB breaks timestamps down in a fixed UTC+8 zone (hybridse's ``TZ = 8``)."""

from __future__ import annotations

import datetime as _dt

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
