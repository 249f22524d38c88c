"""A table's rows as offline queries see them, and the per-row plan's row source over them.

Offline queries read a table's offline data (``featurestore.offline.data``); a table that has none yet is read from
its online rows instead (so rows inserted with INSERT are queryable offline too, as they always were here; upstream
would find no offline data). Either way the rows are *canonical* (``featurestore.offline.duck``) and ordered by
``__seq``: load order for offline data, insertion order for online rows.

Offline windows are *point-in-time*: the rows are put in time order (the window's ORDER BY column, ties by
``__seq``) and each row's window holds only the rows before it in that order, which is what request mode computed
for it if the rows arrived in time order. (Upstream's offline engine does the same over rows sorted by time.)
TTL is not applied offline: it expires online rows as time passes, while offline data is history.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from featurestore import storage
from featurestore.engine import RowSource
from featurestore.models import FeatureTable
from featurestore.offline import data
from featurestore.offline.duck import CANONICAL, column

_INF = math.inf


def canonical_sql(con: duckdb.DuckDBPyConnection, table: FeatureTable) -> str:
    """SQL reading the rows offline queries see for ``table`` (canonical columns and ``__seq``)."""
    if data.has_offline(table):
        return data.relation(con, table)
    rows = storage.select_all(table)
    name = f"__online_{table.pk}"
    types = [c["type"] for c in table.columns]
    register_rows(con, name, types, [row[1:] for row in rows], seq=[row[0] for row in rows])
    return rows_sql(name, types, seq=True)


def register_rows(con: duckdb.DuckDBPyConnection, name: str, types: Sequence[str], rows: Sequence[Sequence[Any]],
                  *, seq: Sequence[int] | None = None) -> None:  # fmt: skip
    """Make engine-value ``rows`` a DuckDB view ``name`` (read back with ``rows_sql``).

    DuckDB's pandas scan turns a float NaN into NULL, so float columns carry a mask of their NaNs beside them.
    """
    frame: dict[str, Any] = {}
    for i, kind in enumerate(types):
        values = [row[i] for row in rows]
        if kind in ("float", "double"):
            frame[f"v{i}"] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            frame[f"n{i}"] = np.array([v is not None and math.isnan(v) for v in values], dtype=bool)
        elif kind == "bool":
            frame[f"v{i}"] = pd.array(values, dtype="boolean")
        elif kind in ("int16", "int32", "int64", "timestamp"):
            frame[f"v{i}"] = pd.array(values, dtype="Int64")
        else:
            frame[f"v{i}"] = pd.array(values, dtype=object)
    if seq is not None:
        frame["__seq"] = np.array(seq, dtype=np.int64)
    con.register(name, pd.DataFrame(frame, index=pd.RangeIndex(len(rows))))


def rows_sql(name: str, types: Sequence[str], *, seq: bool = False, names: Sequence[str] | None = None) -> str:
    """SELECT of a view made by ``register_rows``: canonical columns (or ``names``), in order."""
    out = []
    for i, kind in enumerate(types):
        target = CANONICAL[kind]
        value = f"CAST(v{i} AS {target})"
        if kind in ("float", "double"):
            value = f"CASE WHEN n{i} THEN 'NaN'::{target} ELSE {value} END"
        alias = names[i] if names is not None else column(i)
        out.append(f'{value} AS "{alias}"')
    if seq:
        out.append("__seq")
    return f"SELECT {', '.join(out)} FROM {name}"


def fetch_rows(con: duckdb.DuckDBPyConnection, table: FeatureTable, relation: str | None = None, *,
               limit: int | None = None) -> list[tuple]:  # fmt: skip
    """The table's canonical rows (``relation``: its ``canonical_sql``) as ``(__seq, v0, v1, ...)`` by ``__seq``
    (the first ``limit`` of them)."""
    names = ", ".join(column(i) for i in range(len(table.columns)))
    relation = relation or canonical_sql(con, table)
    bound = f" LIMIT {int(limit)}" if limit is not None else ""
    return con.execute(f"SELECT __seq, {names} FROM ({relation}) ORDER BY __seq{bound}").fetchall()


class _Keyed:
    """One table's rows grouped by the key columns of a window or join, each group in (ts, seq) order.

    Windows leave out rows without a time (SQL: ``ts <= bound`` is never true); joins keep them as the oldest.
    """

    def __init__(self, rows: list[tuple], key_positions: tuple[int, ...], ts_position: int | None,
                 skip_null_ts: bool) -> None:  # fmt: skip
        groups: dict[tuple, list[tuple]] = {}
        for row in rows:
            if skip_null_ts and ts_position is not None and row[ts_position + 1] is None:
                continue
            groups.setdefault(tuple(row[p + 1] for p in key_positions), []).append(row)
        self.groups: dict[tuple, tuple[list[tuple], list[tuple]]] = {}
        for key, members in groups.items():
            order = [(_time(r, ts_position), r[0]) for r in members]
            ranked = sorted(zip(order, members, strict=True), key=lambda pair: pair[0])
            self.groups[key] = ([o for o, _ in ranked], [m for _, m in ranked])


def _time(row: Sequence[Any], ts_position: int | None) -> Any:
    if ts_position is None:
        return 0
    value = row[ts_position + 1]
    return -_INF if value is None else value


class MemoryRowSource(RowSource):
    """Windows and joins over tables' offline rows held in memory, for the per-row plan (``RequestPlan``).

    ``current`` is the main-table row being computed, ``(ts, seq)``: of the main table, only rows before it in
    time order are visible (its own window and a LAST JOIN of the main table to itself).
    """

    def __init__(self, tables: dict[int, list[tuple]], main_table_id: int) -> None:
        self.tables = tables  # table pk -> rows (seq, v0, ...)
        self.main_table_id = main_table_id
        self.current: Sequence[Any] | None = None  # the main row being computed, (seq, v0, ...)
        self._keyed: dict[tuple, _Keyed] = {}

    def _group(self, table: FeatureTable, keys: Sequence[tuple[int, Any]], ts_position: int | None, skip: bool):
        spec = (table.pk, tuple(p for p, _ in keys), ts_position, skip)
        keyed = self._keyed.get(spec)
        if keyed is None:
            keyed = self._keyed[spec] = _Keyed(self.tables[table.pk], spec[1], ts_position, skip)
        return keyed.groups.get(tuple(v for _, v in keys), ([], []))

    def _visible(self, table: FeatureTable, order: list[tuple], ts_position: int | None) -> int:
        """How many of a group's rows lie before the current row in its time order (all, for other tables)."""
        if table.pk != self.main_table_id or self.current is None:
            return len(order)
        return bisect_left(order, (_time(self.current, ts_position), self.current[0]))

    def window(self, source, ts, keys, upper, lower, limit, now_ms: int) -> list[tuple]:
        pairs = list(zip(source.key_positions, keys, strict=True))
        order, members = self._group(source.table, pairs, source.ts_position, True)
        high = bisect_right(order, (upper, _INF)) if upper is not None else len(order)
        high = min(high, self._visible(source.table, order, source.ts_position))
        low = bisect_left(order, (lower, -_INF)) if lower is not None else 0
        if high <= low:
            return []
        start = low if limit is None else max(low, high - limit)
        return members[start:high][::-1]

    def join(self, table: FeatureTable, keys, ts_position, limit, codecs) -> list[tuple]:
        order, members = self._group(table, keys, ts_position, False)
        high = self._visible(table, order, ts_position)
        start = 0 if limit is None else max(0, high - limit)
        return members[start:high][::-1]
