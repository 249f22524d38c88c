"""Request mode: a deployed SELECT compiled once into a plan, then run per request row (contracts/openmldb.md §4).

A plan answers one request row with one output row. Each window costs one index range scan of the stored rows
with the request row's key (``ts <= request ts``, newest first, bounded by the frame) and the aggregates are
computed in Python over the request row plus those rows; each LAST JOIN costs one index lookup. No general SQL
query runs per request. On PostgreSQL the scans a request row determines are sent together, one statement and one
round trip per request (``RowSource.prefetch``, ``featurestore.storage.read``); on SQLite, in the process, each
is read when needed.

Offline mode runs the same plan for every stored row of the main table, with the scans limited to rows
inserted before it (``before_id``): each row gets exactly what a request carrying it would have got just before
it was stored. Sharing the plan is what makes offline and online agree.

Semantics (OpenMLDB's ``RequestUnionRunner``): the request row is the current row and is never stored; stored
rows with the same ts count as preceding rows (the request row is the newest); ``ROWS n PRECEDING`` is the
request row plus up to n stored rows; ``ROWS_RANGE x PRECEDING`` keeps stored rows with ts >= request ts - x
(lower bound inclusive, ``OPEN`` exclusive); ``EXCLUDE CURRENT_ROW`` drops the request row, ``EXCLUDE
CURRENT_TIME`` drops stored rows with the request's ts; ``MAXSIZE`` caps the rows counted with the request row;
``UNION`` adds other tables' rows and ``INSTANCE_NOT_IN_WINDOW`` drops the main table's; aggregates see rows
newest first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from featurestore import storage
from featurestore.errors import FeatureStoreError
from featurestore.models import FeatureTable
from featurestore.sqlcore.expressions import Compiled, ExpressionError, compile_aggregate_args, compile_expression
from featurestore.sqlcore.functions import AGGREGATES
from featurestore.sqlcore.sqlir import Frame, LastJoin, Select, TableRef, WindowDef


class EngineError(FeatureStoreError):
    """A query the engine cannot plan or run; ``code`` is the OpenMLDB status code to answer with."""

    def __init__(self, msg: str, code: int = -1) -> None:
        super().__init__(msg, code)


TableLookup = Callable[[str | None, str], FeatureTable]  # (db, name) -> table, raising EngineError


@dataclass
class Ctx:
    """What the projection closures read: the request (or current) row, joined rows and window results."""

    req: Sequence[Any]
    request: Sequence[Any] = ()  # the request row as received (subqueries over the request table start from it)
    joins: list[Sequence[Any] | None] = field(default_factory=list)
    wins: list[Any] = field(default_factory=list)
    now_ms: int = 0


# --- scopes -----------------------------------------------------------------------------------------------------
class _RowScope:
    """Columns of one row schema, read from a tuple at a fixed offset (window rows, join candidates)."""

    def __init__(self, names: Sequence[str], types: Sequence[str], aliases: set[str], offset: int = 0) -> None:
        self.positions = {name: i for i, name in enumerate(names)}
        self.types = list(types)
        self.aliases = aliases
        self.offset = offset

    def column(self, table, name):
        if table and table not in self.aliases:
            raise ExpressionError(f"column {table}.{name} is not in the window's table ({', '.join(self.aliases)})")
        if name not in self.positions:
            raise ExpressionError(f"column {name} does not exist")
        position = self.positions[name] + self.offset
        return (lambda row: row[position]), self.types[self.positions[name]]

    def window_call(self, node):
        raise ExpressionError(f"a window function cannot be nested in a window: {node.sql()}")


def _row_getter(position: int):
    return lambda row: row[position]


def _req_getter(position: int):
    return lambda ctx: ctx.req[position]


def _join_getter(join: int, position: int):
    def get(ctx):
        row = ctx.joins[join]
        return None if row is None else row[position]

    return get


class _QueryScope:
    """Columns of the request row and of the joined rows; window calls are registered for the plan.

    ``request_only`` stays true while what was compiled reads only the (current) request row: a LAST JOIN whose
    keys are such can be read before any other join or window is computed (``RequestPlan.scans``).
    """

    def __init__(self, plan: RequestPlan) -> None:
        self.plan = plan
        self.request_only = True

    def column(self, table, name):
        plan = self.plan
        if not ((table is None or table in plan.main_aliases) and name in plan.row_names):
            self.request_only = False
        return plan.resolve_column(table, name)

    def window_call(self, node):
        self.request_only = False
        return self.plan.register_window_call(node)


# --- windows ----------------------------------------------------------------------------------------------------
@dataclass
class _Source:
    table: FeatureTable
    key_positions: list[int]  # in this table's schema
    ts_position: int | None
    mapping: list[int] | None  # this table's column positions in the main schema order (None: same table)
    index: dict | None  # the OpenMLDB index used (for TTL)
    codecs: list
    layout: storage.Layout = field(init=False)
    # the index's TTL as the window reads it (RowSource.window_scans)
    ttl_type: str = field(init=False)
    abs_ttl: int = field(init=False)
    lat_ttl: int = field(init=False)

    def __post_init__(self) -> None:
        index = self.index
        self.layout = storage.Layout(self.table, self.codecs)
        self.ttl_type = (index or {}).get("ttl_type") or "absolute"
        self.abs_ttl = (index or {}).get("abs_ttl") or 0 if index and index.get("ts") else 0
        self.lat_ttl = (index or {}).get("lat_ttl") or 0 if index else 0


class WindowPlan:
    def __init__(self, plan: RequestPlan, window: WindowDef) -> None:
        self.plan = plan
        self.name = window.name
        self.frame: Frame = window.frame
        # the request row is in the window when the frame ends at CURRENT ROW and does not exclude it
        self.include_req = self.frame.end.kind == "current_row" and not self.frame.exclude_current_row
        main = plan.main
        if window.order_by is None:
            raise EngineError(f"window {window.name} needs ORDER BY")
        partition = [self._main_column(column) for column in window.partition_by]
        order = self._main_column(window.order_by)
        self.req_keys = [main.position(name) for name in partition]
        self.req_ts = main.position(order)
        self.sources: list[_Source] = []
        if not self.frame.instance_not_in_window:
            self.sources.append(plan.make_source(main, partition, order, None))
        for ref in window.union:
            if ref.subquery is not None or ref.name is None:
                raise EngineError("WINDOW UNION of a subquery is not supported; union tables directly")
            table = plan.lookup(ref.db, ref.name)
            mapping = []
            for name in main.column_names:
                try:
                    mapping.append(table.position(name))
                except KeyError:
                    raise EngineError(
                        f"union table {table.name} has no column {name} of {main.name}; "
                        "union tables need the same schema"
                    ) from None
            self.sources.append(plan.make_source(table, partition, order, mapping))
        self.aggregates: list[tuple[Any, list[Compiled]]] = []
        self.row_scope = _RowScope(main.column_names, plan.main_types, plan.main_aliases | self._union_aliases(window))
        self._check_frame()

    def _union_aliases(self, window: WindowDef) -> set[str]:
        return {ref.alias or ref.name for ref in window.union if ref.name}

    def _main_column(self, column: exp.Column) -> str:
        table = column.table or None
        if table and table not in self.plan.main_aliases:
            raise EngineError(f"window {self.name} uses {table}.{column.name}; windows partition the main table")
        if column.name not in self.plan.main.column_names:
            raise EngineError(f"window {self.name}: column {column.name} does not exist in {self.plan.main.name}")
        return column.name

    def _check_frame(self) -> None:
        frame = self.frame
        if frame.kind == "rows" and frame.maxsize is not None:
            raise EngineError("MAXSIZE is only allowed with ROWS_RANGE")
        ts_type = self.plan.main_types[self.req_ts]
        if ts_type not in ("timestamp", "int64", "int32", "int16"):
            raise EngineError(f"window {self.name}: ORDER BY column must be a timestamp or integer, not {ts_type}")

    def add(self, call: exp.Expression) -> int:
        aggregate, args = compile_aggregate_args(call, self.row_scope)
        self.aggregates.append((aggregate, args))
        return len(self.aggregates) - 1

    # -- evaluation --
    def rows(self, req: Sequence[Any], source_rows: RowSource, now_ms: int) -> list[Sequence[Any]]:
        """The window's rows, newest first, in the main table's column order.

        ROWS frames count positions (0 = the request row, 1 = the newest stored row...); ROWS_RANGE frames bound
        the stored rows' ts. The request row is in the window when the frame ends at CURRENT ROW and it is not
        excluded.
        """
        ts = req[self.req_ts]
        read = None if ts is None else self._read(req, ts)
        if read is None:
            stored: list = []
        else:
            keys, upper, lower, limit, skip = read
            stored = self._fetch(ts, keys, upper, lower, limit, source_rows, now_ms)[skip:]
        return [req, *stored] if self.include_req else stored

    def scans(self, req: Sequence[Any], source_rows: RowSource, now_ms: int) -> list[storage.Scan | None]:
        """The scans ``rows`` will read for this request row (each source's)."""
        ts = req[self.req_ts]
        read = None if ts is None else self._read(req, ts)
        if read is None:
            return []
        keys, upper, lower, limit, _ = read
        found: list[storage.Scan | None] = []
        for source in self.sources:
            found += source_rows.window_scans(source, ts, keys, upper, lower, limit, now_ms)[:2]
        return found

    def _read(self, req: Sequence[Any], ts: int) -> tuple[list, int, int | None, int | None, int] | None:
        """``(keys, upper, lower, limit, skip)`` of the stored rows the frame takes (the newest ``limit`` rows of
        the key with ``lower <= ts <= upper``, less the ``skip`` newest), or None when it takes none."""
        frame = self.frame
        start, end = frame.start, frame.end
        keys = [req[i] for i in self.req_keys]
        upper = ts - 1 if frame.exclude_current_time else ts
        lower = limit = None
        skip = 0
        if frame.kind == "rows":
            end_pos = 0 if end.kind == "current_row" else end.offset + (1 if end.open else 0)
            skip = max(end_pos - 1, 0)
            if start.kind == "preceding":
                limit = start.offset - (1 if start.open else 0)  # the oldest position, = stored rows to read
            elif start.kind == "current_row":
                limit = 0  # the frame starts at the current row: no stored row
        else:
            if start.kind == "preceding":
                lower = ts - start.offset + (1 if start.open else 0)
            elif start.kind == "current_row":
                lower = ts  # the rows of the current time
            if end.kind == "preceding":
                upper = min(upper, ts - end.offset - (1 if end.open else 0))
            if frame.maxsize is not None:
                limit = frame.maxsize - (1 if self.include_req else 0)
        if limit is not None and limit <= skip:
            return None
        return keys, upper, lower, limit, skip

    def _fetch(self, ts, keys, upper, lower, limit, source_rows: RowSource, now_ms: int) -> list[Sequence[Any]]:
        merged: list[tuple] = []
        for order, source in enumerate(self.sources):
            rows = source_rows.window(source, ts, keys, upper, lower, limit, now_ms)
            for row in rows:
                values = row[1:] if source.mapping is None else tuple(row[1:][i] for i in source.mapping)
                ts_value = values[self.req_ts]
                merged.append((ts_value, -order, row[0], values))
        if len(self.sources) > 1:
            merged.sort(key=lambda item: (item[0], item[1], item[2]), reverse=True)
            if limit is not None:
                merged = merged[:limit]
        return [item[3] for item in merged]

    def compute(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        results = []
        for aggregate, args in self.aggregates:
            columns = [[arg.fn(row) for row in rows] for arg in args]
            results.append(aggregate.compute(columns))
        return results


# --- row sources ------------------------------------------------------------------------------------------------
class RowSource:
    """Stored rows for windows and joins: the live tables (request mode), or in offline mode only the rows of
    the main table inserted before the row being computed (``before_id``).

    A request's reads are known before any of them is made (``RequestPlan.scans``), so on PostgreSQL ``prefetch``
    reads them all in one statement, one round trip to the server; ``window`` and ``join`` then find their rows
    among those read (a scan is a value: the same scan, the same rows) and read only what was not foreseen, such as
    a LAST JOIN keyed on another join's columns. On SQLite, in this process, each scan is read when needed
    (``storage.reads_ahead``). A subclass that reads rows elsewhere overrides ``window`` and ``join`` (offline's
    ``MemoryRowSource``) and reads nothing ahead.
    """

    def __init__(self, before_id: int | None = None, main_table_id: int | None = None) -> None:
        self.before_id = before_id
        self.main_table_id = main_table_id
        self.raw = storage.raw_connection()
        self.ahead: dict[tuple, list[tuple]] = {}  # Scan.key -> rows, read ahead

    def reads_ahead(self) -> bool:
        """Whether ``prefetch`` applies: the database is one where it pays (``storage.reads_ahead``) and the rows
        come from it through this class's ``window`` and ``join``."""
        cls = type(self)
        return cls.window is RowSource.window and cls.join is RowSource.join and storage.reads_ahead()

    def prefetch(self, scans: Sequence[storage.Scan | None]) -> None:
        """Read the scans' rows in one statement and keep them until ``forget``."""
        ahead = self.ahead
        wanted = {scan.key: scan for scan in scans if scan is not None and scan.key not in ahead}
        if wanted:
            ahead.update(zip(wanted, storage.read(list(wanted.values()), self.raw), strict=True))

    def forget(self) -> None:
        self.ahead = {}

    def rows(self, scan: storage.Scan | None) -> list[tuple]:
        """The scan's rows: as read ahead, else read now."""
        if scan is None:
            return []
        found = self.ahead.get(scan.key) if self.ahead else None
        return found if found is not None else storage.read([scan], self.raw)[0]

    def _before(self, table: FeatureTable) -> int | None:
        if self.before_id is None:
            return None
        return self.before_id if table.pk == self.main_table_id else None

    def window_scans(self, source: _Source, ts, keys, upper, lower, limit, now_ms: int):
        """``(newer, scan, finish)``: the key's rows newer than the request that a latest TTL counts (None when
        no TTL counts them), the window's rows to read, and ``finish(newer_count, rows)`` giving the visible rows.

        TTL (OpenMLDB ``INDEX(... TTL, TTL_TYPE)``): absolute expires rows older than now - ttl; latest keeps the
        newest N rows of a key (rows newer than the request count too); absorlat expires by either rule and
        absandlat only by both. Expired rows always form the oldest end of the key's rows. With a latest TTL the
        scan reads up to the TTL's N rows and ``finish`` keeps as many as the newer rows leave alive, so that both
        scans are known before either is read.
        """
        key_pairs = list(zip(source.key_positions, keys, strict=True))
        before = self._before(source.table)
        ttl_type, abs_ttl, lat_ttl = source.ttl_type, source.abs_ttl, source.lat_ttl
        cutoff = now_ms - abs_ttl * 60_000 if abs_ttl else None
        uses_abs = cutoff is not None and ttl_type in ("absolute", "absorlat", "absandlat")
        uses_lat = bool(lat_ttl) and ttl_type in ("latest", "absorlat", "absandlat")
        ts_position, layout = source.ts_position, source.layout
        newer = None
        if uses_lat:
            newer = storage.make_scan(layout, key_pairs, ts_position, None, ts + 1, lat_ttl, before)
        if ttl_type == "absandlat" and uses_abs and uses_lat:
            scan = storage.make_scan(layout, key_pairs, ts_position, upper, lower, limit, before)
            position = ts_position + 1

            def both(newer_count: int, rows: list[tuple]) -> list[tuple]:
                return [row for i, row in enumerate(rows) if row[position] >= cutoff or newer_count + i < lat_ttl]

            return newer, scan, both
        if uses_abs:
            lower = cutoff if lower is None else max(lower, cutoff)
        if not uses_lat:
            return None, storage.make_scan(layout, key_pairs, ts_position, upper, lower, limit, before), _all_rows
        read_limit = lat_ttl if limit is None else min(limit, lat_ttl)  # at least as many as stay alive
        scan = storage.make_scan(layout, key_pairs, ts_position, upper, lower, read_limit, before)

        def latest(newer_count: int, rows: list[tuple]) -> list[tuple]:
            alive = max(lat_ttl - newer_count, 0)
            return rows[: alive if limit is None else min(limit, alive)]

        return newer, scan, latest

    def window(self, source: _Source, ts, keys, upper, lower, limit, now_ms: int) -> list[tuple]:
        """Stored rows of the key within the bounds, newest first, as the index's TTL leaves them visible."""
        newer, scan, finish = self.window_scans(source, ts, keys, upper, lower, limit, now_ms)
        return finish(len(self.rows(newer)), self.rows(scan))

    def join_scan(self, table: FeatureTable, keys, ts_position, limit, codecs) -> storage.Scan | None:
        """The scan of a LAST JOIN's candidates (``codecs``: the table's decoders, or its ``storage.Layout``)."""
        layout = codecs if isinstance(codecs, storage.Layout) else storage.Layout(table, codecs)
        return storage.make_scan(layout, keys, ts_position, None, None, limit, self._before(table))

    def join(self, table: FeatureTable, keys, ts_position, limit, codecs) -> list[tuple]:
        return self.rows(self.join_scan(table, keys, ts_position, limit, codecs))


def _all_rows(newer_count: int, rows: list[tuple]) -> list[tuple]:
    return rows


# --- joins ------------------------------------------------------------------------------------------------------
class JoinPlan:
    """One LAST JOIN: the newest matching right row by the ORDER BY column (or insertion), or NULLs."""

    def __init__(self, plan: RequestPlan, join: LastJoin, number: int) -> None:
        self.plan = plan
        self.number = number
        right = join.right
        self.subplan: RequestPlan | None = None
        self.table: FeatureTable | None = None
        self.project: list[Callable] | None = None  # a projection subquery's output columns
        self.filter: Callable | None = None  # and its WHERE
        if right.subquery is not None:
            sub = right.subquery
            if sub.source.subquery is None and sub.source.name == plan.main.name and (sub.windows or not sub.where):
                # a window subquery over the request table: computed for the same request row
                self.subplan = RequestPlan(sub, plan.lookup, plan.db)
                self.alias = right.alias
                self.names = [name for name, _ in self.subplan.output_schema]
                self.types = [kind for _, kind in self.subplan.output_schema]
            else:
                self._projection(sub, right.alias)
        else:
            self.table = plan.lookup(right.db, right.name)
            self.alias = right.alias or right.name
            self.names = self.table.column_names
            self.types = [column["type"] for column in self.table.columns]
            self.base = list(range(len(self.names)))
        if self.table is not None:
            self.layout = storage.Layout(self.table)
        plan.join_aliases.append((self.alias, self.names, self.types))
        self.order_position = None
        if join.order_by is not None:
            if join.order_by.name not in self.names:
                raise EngineError(f"LAST JOIN ORDER BY column {join.order_by.sql()} is not in {self.alias}")
            self.order_position = self._base(self.names.index(join.order_by.name), "ORDER BY")
        # Split ON into right-column = left-expression equalities (index keys) and a residual condition.
        self.keys: list[tuple[int, Compiled]] = []
        self.keys_request_only = True  # the keys read only the request row (the lookup can be read ahead)
        residual = []
        for term in conjuncts(join.on):
            pair = self._key_pair(term)
            if pair is None:
                residual.append(term)
            else:
                self.keys.append(pair)
        self.residual = None
        self.residual_node = None
        if residual:
            condition = residual[0]
            for term in residual[1:]:
                condition = exp.and_(condition, term)
            self.residual_node = condition
        if self.table is not None:
            self.scan_keys = [(self._base(i, "key"), compiled) for i, compiled in self.keys]
            if self.order_position is None:
                index = plan.find_index(self.table, sorted(self.table.column_names[b] for b, _ in self.scan_keys))
                if index and index.get("ts"):
                    self.order_position = self.table.position(index["ts"])

    def _projection(self, sub: Select, alias: str | None) -> None:
        """A right side ``(SELECT cols FROM t [WHERE ...]) AS b``: look rows up in t, filter, then project."""
        if sub.source.subquery is not None or sub.source.name is None or sub.windows or sub.joins or sub.group_by:
            raise EngineError(
                "LAST JOIN subqueries must be window queries over the request table or simple projections of a "
                "table (SELECT columns FROM t [WHERE ...])"
            )
        self.table = self.plan.lookup(sub.source.db, sub.source.name)
        self.alias = alias or self.table.name
        types = [column["type"] for column in self.table.columns]
        scope = _RowScope(self.table.column_names, types, {self.table.name, sub.source.alias or self.table.name})
        self.names, self.types, self.base, self.project = [], [], [], []
        for projection in sub.projections:
            node = projection.expression
            if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
                for i, name in enumerate(self.table.column_names):
                    self.names.append(name)
                    self.types.append(types[i])
                    self.base.append(i)
                    self.project.append(_row_getter(i))
                continue
            compiled = compile_expression(node, scope)
            self.names.append(projection.alias or compiled.name)
            self.types.append(compiled.type)
            plain = isinstance(node, exp.Column) and node.name in self.table.column_names
            self.base.append(self.table.position(node.name) if plain else None)
            self.project.append(compiled.fn)
        self.filter = compile_expression(sub.where, scope).fn if sub.where is not None else None

    def _base(self, position: int, what: str) -> int:
        base = self.base[position] if self.table is not None else position
        if base is None:
            raise EngineError(f"LAST JOIN {what} column {self.names[position]} must be a plain column of the table")
        return base

    def compile_residual(self) -> None:
        if self.residual_node is not None:
            self.residual = compile_expression(self.residual_node, _QueryScope(self.plan)).fn

    def _is_right(self, column: exp.Expression) -> bool:
        return isinstance(column, exp.Column) and (column.table == self.alias) and column.name in self.names

    def _key_pair(self, term: exp.Expression) -> tuple[int, Compiled] | None:
        if not isinstance(term, exp.EQ):
            return None
        left, right = term.this, term.expression
        for mine, other in ((left, right), (right, left)):
            if self._is_right(mine) and not any(self._is_right(c) for c in other.find_all(exp.Column)):
                scope = _QueryScope(self.plan)
                compiled = compile_expression(other, scope)
                self.keys_request_only = self.keys_request_only and scope.request_only
                return self.names.index(mine.name), compiled
        return None

    def _limit(self) -> int:
        return 1 if self.residual is None and self.filter is None else 1000

    def scans(self, request: Sequence[Any], ctx: Ctx | None, source: RowSource, now: int, out: list) -> None:
        """Add the scans ``lookup`` will read that the request row alone determines (``ctx``: the request row as
        the plan's row, no join or window computed yet; None when the plan's row is a subquery's output)."""
        if self.subplan is not None:
            self.subplan.scans(request, source, now, out)  # a window query over the request row itself
            return
        if ctx is None or not self.keys_request_only:
            return
        try:
            keys = [(position, compiled.fn(ctx)) for position, compiled in self.scan_keys]
        except Exception:  # the lookup computes the keys again and reports what went wrong
            return
        out.append(source.join_scan(self.table, keys, self.order_position, self._limit(), self.layout))

    def lookup(self, ctx: Ctx, source: RowSource) -> Sequence[Any] | None:
        if self.subplan is not None:
            candidates = [self.subplan.compute(ctx.request, source, ctx.now_ms)]
        else:
            keys = [(position, compiled.fn(ctx)) for position, compiled in self.scan_keys]
            projected = self.project
            rows = source.join(self.table, keys, self.order_position, self._limit(), self.layout)
            candidates = [row[1:] for row in rows]
            if projected is not None:
                if self.filter is not None:
                    candidates = [row for row in candidates if self.filter(row) is True]
                candidates = [tuple(fn(row) for fn in projected) for row in candidates]
        for row in candidates:
            if self.subplan is not None:
                # keys compare the computed row with the left side
                if any(row[position] != compiled.fn(ctx) for position, compiled in self.keys):
                    continue
            if self.residual is None:
                return row
            ctx.joins[self.number] = row
            if self.residual(ctx):
                return row
            ctx.joins[self.number] = None
        return None


def conjuncts(node: exp.Expression) -> list[exp.Expression]:
    node = node.unnest() if isinstance(node, exp.Paren) else node
    if isinstance(node, exp.And):
        return conjuncts(node.this) + conjuncts(node.expression)
    return [node]


# --- the plan ---------------------------------------------------------------------------------------------------
class RequestPlan:
    """A SELECT compiled for one main table; ``output_row`` answers a request row."""

    def __init__(self, select: Select, lookup: TableLookup, db: str) -> None:
        self.select = select
        self.lookup = lookup
        self.db = db
        source = select.source
        self.inner: RequestPlan | None = None
        if source.subquery is not None:
            self.inner = RequestPlan(source.subquery, lookup, db)
            self.main = self.inner.main
            self.main_alias = source.alias
            self.row_names = [name for name, _ in self.inner.output_schema]
            self.row_types = [kind for _, kind in self.inner.output_schema]
            if select.windows:
                raise EngineError("windows over a subquery are not supported; put the window in the subquery")
        else:
            self.main = lookup(source.db, source.name)
            self.main_alias = source.alias or source.name
            self.row_names = self.main.column_names
            self.row_types = [column["type"] for column in self.main.columns]
        self.main_types = [column["type"] for column in self.main.columns]
        self.main_aliases = {self.main.name, self.main_alias} if source.subquery is None else {self.main_alias}
        self.join_aliases: list[tuple[str, list[str], list[str]]] = []
        self.windows: dict[str, WindowPlan] = {}
        self.window_calls: list[tuple[WindowPlan, int]] = []
        self.joins = [JoinPlan(self, join, i) for i, join in enumerate(select.joins)]
        for join in self.joins:
            join.compile_residual()
        if select.where is not None:
            raise EngineError("WHERE is not supported in request mode (a request row always gives one output row)")
        if select.group_by or select.having is not None:
            raise EngineError("GROUP BY is not supported in request mode; use a window")
        self.projections: list[tuple[str, Callable, str]] = []
        scope = _QueryScope(self)
        for projection in select.projections:
            for name, fn, kind in self._expand(projection, scope):
                self.projections.append((name, fn, kind))
        self.output_schema = [(name, kind) for name, _, kind in self.projections]
        self._fns = [fn for _, fn, _ in self.projections]

    # -- planning helpers --
    @property
    def input_schema(self) -> list[tuple[str, str]]:
        if self.inner is not None:
            return self.inner.input_schema
        return [(column["name"], column["type"]) for column in self.main.columns]

    def find_index(self, table: FeatureTable, keys: list[str], ts: str | None = None) -> dict | None:
        best = None
        for index in table.indexes:
            if sorted(index["keys"]) != sorted(keys):
                continue
            if ts is not None and index.get("ts") != ts:
                continue
            best = index
            break
        return best

    def make_source(self, table: FeatureTable, partition: list[str], order: str, mapping) -> _Source:
        index = self.find_index(table, partition, order)
        return _Source(
            table=table,
            key_positions=[table.position(name) for name in partition],
            ts_position=table.position(order),
            mapping=mapping,
            index=index,
            codecs=storage.decoders([column["type"] for column in table.columns]),
        )

    def resolve_column(self, table: str | None, name: str):
        if table is None or table in self.main_aliases:
            if name in self.row_names:
                position = self.row_names.index(name)
                return _req_getter(position), self.row_types[position]
            if table is not None:
                raise ExpressionError(f"column {table}.{name} does not exist")
        matches = []
        for number, (alias, names, types) in enumerate(self.join_aliases):
            if (table is None or table == alias) and name in names:
                matches.append((number, names.index(name), types[names.index(name)]))
        if not matches:
            where = f"{table}.{name}" if table else name
            raise ExpressionError(f"column {where} does not exist")
        if len(matches) > 1 and table is None:
            raise ExpressionError(f"column {name} is ambiguous; qualify it with a table name")
        number, position, kind = matches[0]
        return _join_getter(number, position), kind

    def register_window_call(self, node: exp.Window):
        name = node.text("alias")
        window_def = self.select.windows.get(name)
        if window_def is None:
            raise ExpressionError(f"window {name} is not defined")
        if name not in self.windows:
            self.windows[name] = WindowPlan(self, window_def)
        window = self.windows[name]
        slot = len(self.window_calls)
        self.window_calls.append((window, window.add(node.this)))
        aggregate_type = window.aggregates[-1][0].result_type([arg.type for arg in window.aggregates[-1][1]])
        return (lambda ctx: ctx.wins[slot]), aggregate_type

    def _expand(self, projection, scope):
        node = projection.expression
        if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            table = node.table if isinstance(node, exp.Column) else None
            out = []
            if not table or table in self.main_aliases:
                out += [(name, _req_getter(i), self.row_types[i]) for i, name in enumerate(self.row_names)]
            for number, (alias, names, types) in enumerate(self.join_aliases):
                if not table or table == alias:
                    out += [(name, _join_getter(number, i), types[i]) for i, name in enumerate(names)]
            return out
        compiled = compile_expression(node, scope)
        return [(projection.alias or compiled.name, compiled.fn, compiled.type)]

    # -- running --
    def output_row(self, request: Sequence[Any], source: RowSource | None = None, now_ms: int | None = None) -> list:
        """Compute the output row for one request row (engine values in the input schema's order).

        Reading from storage, every scan the request row determines is read first, in one statement
        (``RowSource.prefetch``); the computation then finds its rows there.
        """
        source = source or RowSource(main_table_id=self.main.pk)
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        if not source.reads_ahead():
            return self.compute(request, source, now)
        scans: list[storage.Scan | None] = []
        self.scans(request, source, now, scans)
        source.prefetch(scans)
        try:
            return self.compute(request, source, now)
        finally:
            source.forget()

    def scans(self, request: Sequence[Any], source: RowSource, now: int, out: list[storage.Scan | None]) -> None:
        """Add the scans ``compute`` will read for this request row that the row alone determines: every window's
        (here and in subqueries), and the LAST JOINs' whose keys read only the request row."""
        ctx = None
        if self.inner is None:
            ctx = Ctx(req=request, request=request, joins=[None] * len(self.joins), now_ms=now)
        else:
            self.inner.scans(request, source, now, out)
        for join in self.joins:
            join.scans(request, ctx, source, now, out)
        for window in self.windows.values():
            out += window.scans(request, source, now)

    def compute(self, request: Sequence[Any], source: RowSource, now: int) -> list:
        """``output_row`` without reading ahead (a subquery's row, computed within its query's)."""
        row = request if self.inner is None else self.inner.compute(request, source, now)
        ctx = Ctx(req=row, request=request, joins=[None] * len(self.joins), now_ms=now)
        for join in self.joins:
            ctx.joins[join.number] = join.lookup(ctx, source)
        if self.window_calls:
            computed: dict[str, list[Any]] = {}
            for name, window in self.windows.items():
                computed[name] = window.compute(window.rows(request, source, now))
            ctx.wins = [computed[window.name][index] for window, index in self.window_calls]
        return [fn(ctx) for fn in self._fns]


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


__all__ = ["AGGREGATES", "EngineError", "RequestPlan", "RowSource", "TableRef"]
