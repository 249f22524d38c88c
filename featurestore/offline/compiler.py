"""The offline plan as one set-based DuckDB query: windows as SQL window functions, LAST JOIN as a join.

``compile_select(select, plan, relations)`` turns a SELECT the request plan accepted into DuckDB SQL over the
tables' canonical relations (``featurestore.offline.sources``), answering exactly what the per-row plan answers
(``featurestore.offline.query.per_row``): every main row, in ``__seq`` order, with its features point-in-time.
What it cannot express raises ``Unsupported`` naming the construct; the caller then runs the per-row plan.

How the per-row semantics are kept:
- *Time order with ties by load order*: a row's window holds the rows before it by ``(ts, __seq)``. ROWS frames
  order by ``ts, __seq``. ROWS_RANGE frames need a single ORDER BY key for their range, so they order by
  ``__ord = ts * 2^63 + __seq`` (unique per row, as ``0 <= __seq < 2^63``; within HUGEINT) with a per-row
  start ``off * 2^63 + __seq PRECEDING``: exactly the rows with ``ts' >= ts - off`` before the row itself. In a
  union window the rows of one time order by ``__src`` first, so there ``__ord = ts * 2^32 + r`` with ``r`` the
  row's rank among its partition's rows of that time.
- *A row without time* is in no other row's window, and its own window holds only itself: rows whose ts is NULL
  are each put in a partition of their own (``CASE WHEN ts IS NULL THEN __seq END``).
- *The engine's aggregates*: integer and timestamp sums wrap around in the column's type (the engine's C
  accumulator); float sums are rounded to float32; ``min``/``max`` of a float window is NaN exactly when the
  newest non-NULL value is NaN (the engine folds newest first, and NaN compares false), else the extreme of the
  other values. Float sums and averages may differ from the per-row plan in the last bits (summation order).
- *LAST JOIN*: the newest right row of the key (by the join's ORDER BY column, NULLs oldest, then load order),
  keys matched with ``IS NOT DISTINCT FROM`` (a NULL key finds NULL keys, as the online index scan does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlglot import exp

from featurestore.engine import RequestPlan, conjuncts
from featurestore.models import FeatureTable
from featurestore.offline.duck import CANONICAL, column
from featurestore.sqlcore.expressions import (
    ExpressionError,
    call_parts,
    compile_aggregate_args,
    compile_expression,
)
from featurestore.sqlcore.sqlir import Frame, FrameBound, LastJoin, Select, WindowDef

DERIVED = "__derived"
SHIFT = 4294967296  # 2^32: room for the rank of a row among rows of the same time
# 2^63: room for __seq (0 <= __seq < 2^63); ts * 2^63 + __seq, and a range bound (ts - off) * 2^63 with off <= 2^62,
# stay within HUGEINT for every BIGINT ts.
SEQ_SHIFT = 9223372036854775808
_BITS = {"int16": 16, "int32": 32, "int64": 64, "timestamp": 64}
_COMPILED_AGGREGATES = ("sum", "count", "avg", "min", "max")
_NUMBERS = {"int16", "int32", "int64", "float", "double"}
#: The column types each aggregate is written natively in SQL for (others go through ``generic``).
_NATIVE_TYPES = {
    "count": {"bool", "int16", "int32", "int64", "float", "double", "string", "date", "timestamp"},
    "avg": _NUMBERS,
    "sum": _NUMBERS | {"timestamp"},
    "min": _NUMBERS | {"string", "date", "timestamp", "bool"},
    "max": _NUMBERS | {"string", "date", "timestamp", "bool"},
}


class Unsupported(Exception):  # noqa: N818 - a reason, not a failure: the per-row plan takes over
    """The query holds a construct the compiler does not translate (the message names it)."""


@dataclass
class Compiled:
    """The query: ``sql`` answers the output columns (named as the result's) in main-row order, or, when
    ``row_fns`` is set, the values those functions compute each output column from (projections holding
    expressions: evaluated by the engine's own functions, row by row, over what DuckDB computed)."""

    sql: str
    names: list[str]
    types: list[str]
    row_fns: list[Callable[[tuple], Any]] | None = None
    udfs: list[Udf] = field(default_factory=list)
    #: Values of the main table's rows the query reads from the view ``DERIVED`` (``__seq`` and each column):
    #: (column, fn(row values), type), computed by the caller before running ``sql``.
    derived: list[tuple[str, Callable[[tuple], Any], str]] = field(default_factory=list)


@dataclass
class Udf:
    """A Python function the query calls (an aggregate of the engine over a frame's value lists)."""

    name: str
    fn: Callable[..., Any]
    parameters: list[str]  # DuckDB types
    result: str


@dataclass
class _Group:
    """Windows computed over the same rows: the main table's (``w``), or one window's union with other tables
    (``u<n>``: the main rows and the union tables' rows, ``__src`` 0 for main rows, -1, -2... for each union table
    in order, which is how ties order: at the same time a union table's rows are older than the main rows)."""

    name: str
    union: list[tuple[int, list[int]]] = field(default_factory=list)  # (table pk, its columns in main order)
    ranks: dict[tuple[str, ...], str] = field(default_factory=dict)  # (keys..., ts) -> rank column
    range_specs: set[tuple[str, ...]] = field(default_factory=set)  # (keys..., ts) of ROWS_RANGE windows
    counts: dict[str, str] = field(default_factory=dict)  # MAXSIZE: SQL counting rows in range -> its column
    calls: list[str] = field(default_factory=list)


@dataclass
class _Window:
    name: str
    definition: WindowDef
    keys: list[str]  # main column SQL
    ts: str
    group: _Group


def _wrap(value: str, kind: str) -> str:
    """An integer sum wrapped around into the type's range (two's complement), as the engine's accumulator does."""
    bits = _BITS[kind]
    half, full = 2 ** (bits - 1), 2**bits
    return f"((((({value})::HUGEINT + {half}) % {full}) + {full}) % {full} - {half})"


class _Compiler:
    def __init__(self, select: Select, plan: RequestPlan, relations: dict[int, str], limit: int | None) -> None:
        self.limit = limit
        self.select = select
        self.plan = plan
        self.relations = relations
        self.main = plan.main
        self.names = plan.main.column_names
        self.types = [c["type"] for c in plan.main.columns]
        self.windows: dict[str, _Window] = {}
        self.main_group = _Group("w")
        self.groups: list[_Group] = [self.main_group]
        self.joins: list[tuple[str, str | None, list[str], list[str]]] = []  # (CTE, the query's alias, names, types)
        self.slots: dict[str, tuple[int, str]] = {}  # SQL of a value the row functions read -> (position, type)
        self.udfs: list[Udf] = []
        self.derived: dict[str, tuple[str, Callable, str]] = {}  # argument SQL -> (column, fn(row), type)

    # --- columns ------------------------------------------------------------------------------------------------
    def main_column(self, node: exp.Column) -> str:
        table = node.table or None
        if table is not None and table not in self.plan.main_aliases:
            raise Unsupported(f"column {node.sql()} of another table here")
        if node.name not in self.names:
            raise Unsupported(f"column {node.sql()}")
        return f"m.{column(self.names.index(node.name))}"

    def column_ref(self, node: exp.Column) -> tuple[str, str]:
        table = node.table or None
        if (table is None or table in self.plan.main_aliases) and node.name in self.names:
            position = self.names.index(node.name)
            return f"w.{column(position)}", self.types[position]
        matches = [
            (cte, names.index(node.name), types[names.index(node.name)])
            for cte, alias, names, types in self.joins
            if (table is None or table == alias) and node.name in names
        ]
        if len(matches) != 1:
            raise Unsupported(f"column {node.sql()}")
        cte, position, kind = matches[0]
        return f"{cte}.{column(position)}", kind

    # --- windows ------------------------------------------------------------------------------------------------
    def window(self, name: str) -> _Window:
        found = self.windows.get(name)
        if found is not None:
            return found
        definition = self.select.windows[name]
        frame = definition.frame
        if frame.instance_not_in_window and (not definition.union or frame.kind == "rows" or frame.maxsize):
            raise Unsupported(f"window {name}: INSTANCE_NOT_IN_WINDOW with ROWS, MAXSIZE or without UNION")
        if frame.exclude_current_time and (frame.kind == "rows" or frame.maxsize is not None):
            raise Unsupported(f"window {name}: EXCLUDE CURRENT_TIME with ROWS or MAXSIZE")
        if frame.end.kind != "current_row":
            raise Unsupported(f"window {name}: a frame that ends before the current row")
        if definition.order_by is None:
            raise Unsupported(f"window {name} without ORDER BY")
        keys = [self.main_column(c) for c in definition.partition_by]
        group = self.main_group
        if definition.union:
            group = _Group(f"u{len(self.groups) - 1}", self.union_tables(name, definition))
            self.groups.append(group)
        found = _Window(name, definition, keys, self.main_column(definition.order_by), group)
        if frame.kind == "rows_range":
            group.range_specs.add((*keys, found.ts))
        self.windows[name] = found
        return found

    def union_tables(self, name: str, definition: WindowDef) -> list[tuple[int, list[int]]]:
        tables = []
        planned = self.plan.windows[name]
        for source in planned.sources:
            if source.mapping is None:
                continue  # the main table
            if source.table.pk == self.main.pk:
                raise Unsupported(f"window {name}: a UNION of the main table with itself")
            tables.append((source.table.pk, list(source.mapping)))
        return tables

    def over(self, window: _Window) -> str:
        frame: Frame = window.definition.frame
        group = window.group
        partition = [*window.keys, f"CASE WHEN {window.ts} IS NULL THEN m.__seq END"]
        if group.union:
            partition.append(f"CASE WHEN {window.ts} IS NULL THEN m.__src END")
        exclude = " EXCLUDE CURRENT ROW" if frame.exclude_current_row else ""
        start = frame.start
        if start.kind == "current_row":  # as "0 PRECEDING": the current row (ROWS), the current time (ROWS_RANGE)
            start = FrameBound("preceding", 0)
        offset = 0
        if start.kind == "preceding":
            offset = int(start.offset or 0) - (1 if start.open else 0)
            if offset < 0:
                raise Unsupported(f"window {window.name}: an open frame start at the current row")
        if frame.kind == "rows":
            bound = "UNBOUNDED PRECEDING" if start.kind == "unbounded" else f"{offset} PRECEDING"
            # The same order as ``__ord`` when a ROWS_RANGE window of the partition computes it: one sort for both.
            spec = (*window.keys, window.ts)
            order = self.order(window) if spec in group.range_specs else f"{window.ts}, {_tie(group)}"
            return f"PARTITION BY {', '.join(partition)} ORDER BY {order} ROWS BETWEEN {bound} AND CURRENT ROW{exclude}"
        if frame.exclude_current_time:
            # The rows of earlier times in range, and the current row (unless excluded): ordered by time alone,
            # EXCLUDE TIES drops the other rows of the current time, EXCLUDE GROUP the current row too.
            bound = "UNBOUNDED PRECEDING" if start.kind == "unbounded" else f"{offset} PRECEDING"
            exclude = " EXCLUDE GROUP" if frame.exclude_current_row else " EXCLUDE TIES"
            return (
                f"PARTITION BY {', '.join(partition)} ORDER BY {window.ts}::HUGEINT "  # ts - offset never overflows
                f"RANGE BETWEEN {bound} AND CURRENT ROW{exclude}"
            )
        order = self.order(window)
        if start.kind == "unbounded":
            bound = "UNBOUNDED PRECEDING"
        else:
            bound = f"({offset}::HUGEINT * {self.shift(window)} + {self.tie_rank(window)}) PRECEDING"
        ranged = f"PARTITION BY {', '.join(partition)} ORDER BY {order} RANGE BETWEEN {bound} AND CURRENT ROW"
        if frame.maxsize is None:
            return ranged + exclude
        # MAXSIZE: the newest stored rows in range, at most maxsize with the current row. Two passes: count the
        # stored rows in range, then a ROWS frame reaching back that many (capped).
        stored = self.count(group, f"count(*) OVER ({ranged}) - 1")
        keep = int(frame.maxsize) - (0 if frame.exclude_current_row else 1)
        return (
            f"PARTITION BY {', '.join(partition)} ORDER BY {order} "
            f"ROWS BETWEEN least({stored}, {keep}) PRECEDING AND CURRENT ROW{exclude}"
        )

    def count(self, group: _Group, sql: str) -> str:
        if sql not in group.counts:
            group.counts[sql] = f"__n{len(group.counts)}"
        return f"m.{group.counts[sql]}"

    def order(self, window: _Window) -> str:
        """``__ord``: time, then the row's place among the rows of its time, in one HUGEINT (unique per row)."""
        return f"({window.ts}::HUGEINT * {self.shift(window)} + {self.tie_rank(window)})"

    def shift(self, window: _Window) -> int:
        return SHIFT if window.group.union else SEQ_SHIFT

    def tie_rank(self, window: _Window) -> str:
        """The main table's rows order by ``__seq`` within a time, and ``__seq`` (0 <= __seq < 2^63) fits below the
        time's bits: no rank needs computing (a sort less). With a union, ``__src`` orders first: a rank does it."""
        return self.rank(window) if window.group.union else "m.__seq"

    def rank(self, window: _Window) -> str:
        spec = (*window.keys, window.ts)
        ranks = window.group.ranks
        if spec not in ranks:
            ranks[spec] = f"__r{len(ranks)}"
        return f"m.{ranks[spec]}"

    def aggregate(self, node: exp.Window) -> tuple[str, str]:
        call = node.this
        try:
            name, args = call_parts(call)
        except ExpressionError:
            raise Unsupported(f"aggregate {call.sql()}") from None
        window = self.window(node.text("alias"))
        over = f"OVER ({self.over(window)})"
        if window.definition.frame.instance_not_in_window:
            return self.generic(node, window, over)
        if name == "count" and len(args) == 1 and isinstance(args[0], exp.Star):
            return self._slot_call(window, f"count(*) {over}"), "int64"
        first = args[0] if len(args) == 1 else None
        if name not in _COMPILED_AGGREGATES or not isinstance(first, exp.Column) or first.name not in self.names:
            return self.generic(node, window, over)
        kind = self.types[self.names.index(first.name)]
        if kind not in _NATIVE_TYPES[name]:
            return self.generic(node, window, over)
        value = self.main_column(first)
        if name == "count":
            sql, result = f"count({value}) {over}", "int64"
        elif name == "avg":
            if kind not in ("int16", "int32", "int64", "float", "double"):
                raise Unsupported(f"avg() of {kind}")
            sql, result = f"avg({value}::DOUBLE) {over}", "double"
        elif name == "sum":
            if kind in _BITS:
                sql = _wrap(f"sum({value}) {over}", kind)
            elif kind in ("float", "double"):
                sql = f"sum({value}::DOUBLE) {over}"
            else:
                raise Unsupported(f"sum() of {kind}")
            result = kind
        else:
            if kind in ("float", "double"):
                newest = f"last_value({value} IGNORE NULLS) {over}"
                extreme = f"{name}({value}) FILTER (WHERE NOT isnan({value})) {over}"
                sql = f"CASE WHEN isnan({newest}) THEN 'NaN'::{CANONICAL[kind]} ELSE {extreme} END"
            else:
                sql = f"{name}({value}) {over}"
            result = kind
        return self._slot_call(window, sql), result

    def derive(self, node: exp.Expression) -> str:
        """An aggregate's argument that is an expression of the row: computed by the engine for every main row
        before the query (``Compiled.derived``), read as a column of ``__derived``."""
        key = node.sql()
        if key not in self.derived:
            try:
                compiled = compile_expression(node, _RowScope(self))
            except ExpressionError as exc:
                raise Unsupported(f"the expression {key} ({exc})") from None
            self.derived[key] = (f"__x{len(self.derived)}", compiled.fn, compiled.type)
        return f"m.{self.derived[key][0]}"

    def _slot_call(self, window: _Window, sql: str) -> str:
        slot = f"__a{sum(len(g.calls) for g in self.groups)}"
        window.group.calls.append(f"{sql} AS {slot}")
        return f"{window.group.name}.{slot}"

    def generic(self, node: exp.Window, window: _Window, over: str) -> tuple[str, str]:
        """Any other aggregate of the engine: DuckDB gathers each argument's values over the frame (newest
        first), the engine's own ``Aggregate.compute`` folds them (a Python function DuckDB calls per row)."""
        try:
            aggregate, args = compile_aggregate_args(node.this, _TypeScope(self))
        except ExpressionError as exc:
            raise Unsupported(f"the aggregate {node.this.sql()} ({exc})") from None
        _, arg_nodes = call_parts(node.this)
        order = f"{window.ts} DESC{', m.__src DESC' if window.group.union else ''}, m.__seq DESC"
        frame = window.definition.frame
        # INSTANCE_NOT_IN_WINDOW: the frame's union rows only (other main rows are left out), then the current row.
        instance = frame.instance_not_in_window
        only_union = " FILTER (WHERE m.__src <> 0)" if instance else ""

        def gathered(value: str, kind: str) -> str:
            frame_values = f"list({value} ORDER BY {order}){only_union} {over}"
            if not instance:
                return frame_values
            frame_values = f"coalesce({frame_values}, []::{kind}[])"
            return frame_values if frame.exclude_current_row else f"list_prepend({value}, {frame_values})"

        lists: list[str] = []
        parameters: list[str] = []
        constants: list[tuple[int, Any]] = []
        for arg, arg_node in zip(args, arg_nodes, strict=True):
            if arg.constant:
                constants.append((len(constants) + len(lists), arg.value))
                continue
            if not isinstance(arg_node, exp.Column) and window.group.union:
                raise Unsupported(f"window {window.name}: WINDOW ... UNION with {node.this.sql()} of an expression")
            value = self.main_column(arg_node) if isinstance(arg_node, exp.Column) else self.derive(arg_node)
            lists.append(gathered(value, CANONICAL[arg.type]))
            parameters.append(f"{CANONICAL[arg.type]}[]")
        if not lists:  # only constants: a list gives the frame's size
            lists.append(gathered("m.__seq", "BIGINT"))
            parameters.append("BIGINT[]")
            positions: list[int | None] = [None]
        else:
            positions = [i for i in range(len(args)) if i not in {p for p, _ in constants}]
        result = aggregate.result_type([arg.type for arg in args])
        compute = aggregate.compute
        count = len(args)
        fixed = dict(constants)

        def fold(*values: list | None) -> Any:
            size = len(values[0] or ())
            columns: list[list[Any]] = [[]] * count
            for position, value in zip(positions, values, strict=True):
                if position is not None:
                    columns[position] = list(value or ())
            for position, constant in fixed.items():
                columns[position] = [constant] * size
            return compute(columns)

        if result in ("float", "double"):
            # DuckDB turns a NaN a Python function returns into NULL: floats travel as their repr() text.
            def folded(*values: list | None) -> str | None:
                value = fold(*values)
                return None if value is None else repr(value)

            udf = Udf(f"__agg{len(self.udfs)}", _arity(folded, len(lists)), parameters, "VARCHAR")
            call = f"CAST({udf.name}({', '.join(lists)}) AS {CANONICAL[result]})"
        else:
            udf = Udf(f"__agg{len(self.udfs)}", _arity(fold, len(lists)), parameters, CANONICAL[result])
            call = f"{udf.name}({', '.join(lists)})"
        self.udfs.append(udf)
        return self._slot_call(window, call), result

    # --- joins --------------------------------------------------------------------------------------------------
    def join(self, number: int, join: LastJoin) -> tuple[str, str]:
        """The CTE of the join's newest right row per key, and the join's condition."""
        keys = last_join_keys(self.plan, number, join)
        alias = f"j{number}"
        conditions = " AND ".join(
            f"{alias}.{column(position)} IS NOT DISTINCT FROM w.{self.main_column(main)[2:]}"
            for position, main in keys.pairs
        )
        table = keys.table
        self.joins.append((alias, keys.alias, table.column_names, [c["type"] for c in table.columns]))
        cte = (
            f"{alias} AS (SELECT * EXCLUDE (__rn) FROM (SELECT *, row_number() OVER (PARTITION BY "
            f"{', '.join(keys.partition)} ORDER BY {keys.order}) AS __rn FROM ({self.relations[table.pk]})) "
            "WHERE __rn = 1)"
        )
        return cte, conditions

    # --- the whole query ----------------------------------------------------------------------------------------
    def compile(self) -> Compiled:
        select, plan = self.select, self.plan
        if plan.inner is not None:
            raise Unsupported("a subquery as the main table")
        if select.where is not None or select.group_by or select.order_by or select.having is not None:
            raise Unsupported("WHERE, GROUP BY or ORDER BY")
        for definition in select.windows.values():
            if definition.frame.kind == "rows_range" and definition.order_by is not None and not definition.union:
                try:
                    keys = [self.main_column(c) for c in definition.partition_by]
                    self.main_group.range_specs.add((*keys, self.main_column(definition.order_by)))
                except Unsupported:
                    pass  # reported if the window is used
        joins = [self.join(number, join) for number, join in enumerate(select.joins)]
        items: list[tuple[str | None, Callable | None]] = []
        for projection in select.projections:
            items.extend(self.projection(projection.expression))
        schema = plan.output_schema
        if len(items) != len(schema):
            raise Unsupported("the projections")
        row_fns: list[Callable[[tuple], Any]] | None = None
        if all(sql is not None for sql, _ in items):
            selected = [
                f'CAST({sql} AS {CANONICAL[kind]}) AS "{_quote(name)}"'
                for (sql, _), (name, kind) in zip(items, schema, strict=True)
            ]
        else:
            row_fns = []
            for (sql, fn), (_, kind) in zip(items, schema, strict=True):
                row_fns.append(itemgetter(self.slot(sql, kind)) if sql is not None else fn)  # type: ignore[arg-type]
            ordered = sorted(self.slots.items(), key=lambda item: item[1][0])
            selected = [f"CAST({sql} AS {CANONICAL[kind]}) AS s{position}" for sql, (position, kind) in ordered]
        main = self.relations[self.main.pk]
        if self.derived:
            names = "".join(f", d.{name}" for name, _, _ in self.derived.values())
            main = f"SELECT m.*{names} FROM ({main}) AS m JOIN {DERIVED} AS d ON d.__seq = m.__seq"
        ctes = [f"w AS ({self.windowed(self.main_group, main)})"]
        for group in self.groups[1:]:
            ctes.append(f"{group.name} AS ({self.windowed(group, self.combined(group))} QUALIFY m.__src = 0)")
        ctes += [cte for cte, _ in joins]
        from_sql = "w" + "".join(f" LEFT JOIN {g.name} ON {g.name}.__seq = w.__seq" for g in self.groups[1:])
        from_sql += "".join(f" LEFT JOIN j{number} ON {conditions}" for number, (_, conditions) in enumerate(joins))
        with_sql = "WITH " + ", ".join(ctes) + " "
        limit = f" LIMIT {int(self.limit)}" if self.limit is not None else ""
        sql = f"{with_sql}SELECT {', '.join(selected)} FROM {from_sql} ORDER BY w.__seq{limit}"
        derived = list(self.derived.values())
        return Compiled(sql, [name for name, _ in schema], [kind for _, kind in schema], row_fns, self.udfs, derived)

    def windowed(self, group: _Group, relation: str) -> str:
        """The rows of ``relation`` with the group's window calls (after its ranks and MAXSIZE counts)."""
        tie = _tie(group)
        ranks = "".join(
            f", row_number() OVER (PARTITION BY {', '.join(spec)} ORDER BY {tie}) - 1 AS {name}"
            for spec, name in group.ranks.items()
        )
        base = f"SELECT *{ranks} FROM ({relation}) AS m"
        if group.counts:
            counted = "".join(f", {sql} AS {name}" for sql, name in group.counts.items())
            base = f"SELECT m.*{counted} FROM ({base}) AS m"
        keep = "m.*" if group is self.main_group else "m.__seq, m.__src"
        return f"SELECT {keep}{''.join(', ' + c for c in group.calls)} FROM ({base}) AS m"

    def combined(self, group: _Group) -> str:
        """The main rows and the union tables' rows, in the main table's columns, with ``__src``."""
        count = len(self.names)
        names = ", ".join(column(i) for i in range(count))
        parts = [f"SELECT {names}, __seq, 0 AS __src FROM ({self.relations[self.main.pk]})"]
        for number, (pk, mapping) in enumerate(group.union):
            values = ", ".join(f"{column(mapping[i])} AS {column(i)}" for i in range(count))
            parts.append(f"SELECT {values}, __seq, {-(number + 1)} AS __src FROM ({self.relations[pk]})")
        return " UNION ALL ".join(parts)

    def slot(self, sql: str, kind: str) -> int:
        if sql not in self.slots:
            self.slots[sql] = (len(self.slots), kind)
        return self.slots[sql][0]

    def projection(self, node: exp.Expression) -> list[tuple[str | None, Callable | None]]:
        if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            table = node.table if isinstance(node, exp.Column) else None
            out: list[tuple[str | None, Callable | None]] = []
            if not table or table in self.plan.main_aliases:
                out += [(f"w.{column(i)}", None) for i in range(len(self.names))]
            for number, (alias, names, _) in enumerate(self.plan.join_aliases):
                if not table or table == alias:
                    out += [(f"j{number}.{column(i)}", None) for i in range(len(names))]
            return out
        if isinstance(node, exp.Column):
            return [(self.column_ref(node)[0], None)]
        if isinstance(node, exp.Window):
            return [(self.aggregate(node)[0], None)]
        # Any other expression: the engine's own functions evaluate it on each output row, over the columns and
        # aggregates it reads (computed by DuckDB).
        try:
            compiled = compile_expression(node, _SlotScope(self))
        except ExpressionError as exc:  # the request plan compiled it, so this is a gap here, not a user error
            raise Unsupported(f"the expression {node.sql()} ({exc})") from None
        return [(None, compiled.fn)]


class _RowScope:
    """Main-table columns of one row (the row's values, in schema order), for ``derive``."""

    def __init__(self, compiler: _Compiler) -> None:
        self.compiler = compiler

    def column(self, table, name):
        node = exp.Column(this=exp.to_identifier(name), table=exp.to_identifier(table) if table else None)
        self.compiler.main_column(node)
        position = self.compiler.names.index(name)
        return itemgetter(position), self.compiler.types[position]

    def window_call(self, node):
        raise Unsupported(f"an aggregate inside an aggregate: {node.sql()}")


class _TypeScope:
    """Main-table columns by type only (to type an aggregate's arguments)."""

    def __init__(self, compiler: _Compiler) -> None:
        self.compiler = compiler

    def column(self, table, name):
        node = exp.Column(this=exp.to_identifier(name), table=exp.to_identifier(table) if table else None)
        self.compiler.main_column(node)
        return (lambda row: None), self.compiler.types[self.compiler.names.index(name)]

    def window_call(self, node):
        raise Unsupported(f"an aggregate inside an aggregate: {node.sql()}")


class _SlotScope:
    """Columns and window aggregates of a projection's expression, read from the compiled query's slots."""

    def __init__(self, compiler: _Compiler) -> None:
        self.compiler = compiler

    def column(self, table, name):
        node = exp.Column(this=exp.to_identifier(name), table=exp.to_identifier(table) if table else None)
        sql, kind = self.compiler.column_ref(node)
        return itemgetter(self.compiler.slot(sql, kind)), kind

    def window_call(self, node):
        sql, kind = self.compiler.aggregate(node)
        return itemgetter(self.compiler.slot(sql, kind)), kind


def _tie(group: _Group) -> str:
    """How rows of the same time order: by load order, and with a union, union tables' rows before main rows."""
    return "m.__src, m.__seq" if group.union else "m.__seq"


def _arity(fn: Callable[..., Any], count: int) -> Callable[..., Any]:
    """``fn`` taking exactly ``count`` positional parameters (DuckDB counts a Python function's parameters)."""
    wrappers: dict[int, Callable[..., Any]] = {
        1: lambda a: fn(a),
        2: lambda a, b: fn(a, b),
        3: lambda a, b, c: fn(a, b, c),
        4: lambda a, b, c, d: fn(a, b, c, d),
        5: lambda a, b, c, d, e: fn(a, b, c, d, e),
    }
    if count not in wrappers:
        raise Unsupported(f"an aggregate of {count} arguments")
    return wrappers[count]


def _is_alias(node: exp.Expression, alias: str | None) -> bool:
    return isinstance(node, exp.Column) and node.table == alias


@dataclass
class JoinKeys:
    """A LAST JOIN both compilers can express: key equalities only, a plain table other than the main one."""

    table: FeatureTable
    alias: str | None  # the right side's name in the query
    pairs: list[tuple[int, exp.Column]]  # (right table's column position, the main table's column it equals)
    partition: list[str]  # the right table's key columns
    order: str  # newest first: the ORDER BY column (NULLs oldest), then load order


def last_join_keys(plan: RequestPlan, number: int, join: LastJoin) -> JoinKeys:
    """The keys of the plan's ``number``-th LAST JOIN, or ``Unsupported`` naming why it cannot be a SQL join."""
    planned = plan.joins[number]
    table = planned.table
    if table is None or planned.subplan is not None or planned.project is not None:
        raise Unsupported("LAST JOIN of a subquery")
    if table.pk == plan.main.pk:
        raise Unsupported("LAST JOIN of the main table to itself")
    if planned.residual_node is not None:
        raise Unsupported("LAST JOIN ON with conditions other than key equalities")
    names = table.column_names
    pairs = []
    for term in conjuncts(join.on):
        if not isinstance(term, exp.EQ):
            raise Unsupported("LAST JOIN ON with conditions other than key equalities")
        left, right = term.this, term.expression
        if _is_alias(right, planned.alias) and not _is_alias(left, planned.alias):
            left, right = right, left
        if not (_is_alias(left, planned.alias) and isinstance(right, exp.Column)) or left.name not in names:
            raise Unsupported("LAST JOIN ON an expression")
        pairs.append((names.index(left.name), right))
    if not pairs:
        raise Unsupported("LAST JOIN without key equalities")
    order = "__seq DESC"
    if planned.order_position is not None:
        order = f"{column(planned.order_position)} DESC NULLS LAST, __seq DESC"
    partition = [column(planned.base[position]) for position, _ in planned.keys]
    return JoinKeys(table, planned.alias, pairs, partition, order)


def _quote(name: str) -> str:
    return name.replace('"', '""')


def compile_select(select: Select, plan: RequestPlan, relations: dict[int, str], *,
                   limit: int | None = None) -> Compiled:  # fmt: skip
    """DuckDB SQL computing ``select`` offline (at most ``limit`` rows), or ``Unsupported`` naming what it cannot
    express."""
    return _Compiler(select, plan, relations, limit).compile()
