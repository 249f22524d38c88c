"""The offline plan on Spark: windows and LAST JOINs as one Spark SQL query (DuckDB's compiler's, for Spark).

``compile_spark(select, plan, relation_names)`` answers the same rows as the DuckDB compiler
(``featurestore.offline.compiler``) and the per-row plan (``featurestore.offline.query.per_row``): every main row, in
``__seq`` order, with its features point-in-time. It reads Spark temp views (``relation_names[table.pk]``) holding
the tables' canonical relations (columns ``c0``.., ``__seq``; ``featurestore.offline.sources``). It compiles
``sum``, ``count`` (and ``count(*)``), ``avg``, ``min`` and ``max`` of columns over ``ROWS`` and ``ROWS_RANGE``
windows (``UNBOUNDED``, ``OPEN PRECEDING``, ``EXCLUDE CURRENT_ROW``, and ``EXCLUDE CURRENT_TIME`` with
``ROWS_RANGE``), plain columns and ``LAST JOIN [ORDER BY]`` on key equalities; anything else (``MAXSIZE``, ``UNION``,
other aggregates, expressions...) raises ``compiler.Unsupported`` naming it, and the per-row plan answers.
``run_spark`` and ``write_spark`` mirror ``query.run`` and ``query.write``: each table's canonical rows are written
by DuckDB to a temporary Parquet file under ``DATA_DIR/spark-tmp`` (deleted afterwards) and registered in Spark as
a temp view; the compiled query runs there, its rows are put in ``__seq`` order on the way back (``run_spark``:
sorted in Python, which spares Spark a global sort; ``write_spark``: Spark writes Parquet, DuckDB reads it in order
and writes the output with ``export.write_sql``'s rules). A query Spark refuses is computed by the per-row plan,
which says why.

How the per-row semantics are kept (the compiler's docstring explains them):
- *Time order with ties by load order*: ROWS frames order by ``ts, __seq`` (with ``EXCLUDE CURRENT_ROW`` the frame
  ends at ``1 PRECEDING``; a ``ROWS`` start beyond 2^31 - 1 rows, Spark's largest, is ``UNBOUNDED``: no Spark window
  partition holds more rows). A ROWS_RANGE window with an unbounded start is the ROWS frame ``UNBOUNDED PRECEDING``
  over ``ts, __seq``. A ROWS_RANGE window ``off PRECEDING`` holds the rows with ``ts - off <= ts' <= ts`` before
  the row itself; Spark's RANGE frames need one ORDER BY column with a constant offset and would take the later
  rows of the same ts too, so the window is computed as two disjoint frames and their aggregates combined:
  *earlier times*, ``RANGE BETWEEN off PRECEDING AND 1 PRECEDING`` over ``ts`` (ts' in [ts - off, ts - 1]), and
  *the same time up to the row*, ``ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`` (``1 PRECEDING`` for
  ``EXCLUDE CURRENT_ROW``) in a partition of the rows of that ts ordered by ``__seq``; with ``EXCLUDE CURRENT_TIME``
  the latter is the current row alone (``ROWS BETWEEN CURRENT ROW AND CURRENT ROW``, or nothing with ``EXCLUDE
  CURRENT_ROW``) and the former starts ``UNBOUNDED`` for an unbounded window. Counts add, sums add (with the
  NULL of an empty part), averages are the parts' double sums over their counts, extremes are ``least`` or
  ``greatest`` of the parts' (which skip NULLs). The RANGE frame orders by ``ts`` as BIGINT when every value lies
  in ±(2^62 - 1) (the engine's ts range: ``ts - off`` then fits 64 bits, ``featurestore.limits``), else as
  ``DECIMAL(20,0)``, so no bound wraps around.
- *A row without time* is in no other row's window: it is alone in its partition (``CASE WHEN ts IS NULL THEN __seq
  END``), and the earlier-times frame orders it by ``coalesce(ts, 0)`` so that it is not its own peer there.
- *The engine's aggregates*: integer and timestamp sums wrap around in the column's type: int16/int32 sums are
  exact BIGINTs wrapped with ``pmod``, int64/timestamp sums wrap in Spark's BIGINT arithmetic, which does so
  silently with ``spark.sql.ansi.enabled=false`` (set on every query's session). Float sums are double sums cast to
  the column's type, averages doubles, counts count non-NULL values. ``min``/``max`` of floats: NaN exactly when the
  newest non-NULL value is NaN (``last(v, true)`` over a frame ordered by time; ``max_by(v, (ts, __seq))`` over
  the earlier-times frame, whose peers are unordered), else the extreme of the non-NaN values (Spark ranks NaN
  above every number, so NaNs are left out). Float sums and averages may differ from the per-row plan in the last
  bits (summation order), as the DuckDB compiler's do.
- *LAST JOIN*: the newest right row of the key (``ORDER BY`` column ``DESC NULLS LAST``, then ``__seq DESC``), keys
  matched with ``<=>`` (a NULL key finds NULL keys).

One SparkSession per process (``session()``), started on first use: ``SPARK_MASTER`` or ``local[*]``, driver memory
``JOB_SPARK_DRIVER_MEMORY``, UTC, no web UI, a local driver bound to 127.0.0.1. Each query runs in its own
``newSession()`` (its temp views and SQL settings are its own; the SparkContext is shared). With a cluster master,
``DATA_DIR`` must be storage the executors share: they read the temporary Parquet files and write the output there.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import duckdb
from django.conf import settings
from sqlglot import exp

from featurestore import services
from featurestore.engine import RequestPlan
from featurestore.errors import FeatureStoreError
from featurestore.limits import TS_MAX, TS_MIN
from featurestore.offline import export, query
from featurestore.offline.compiler import Unsupported, last_join_keys
from featurestore.offline.duck import CANONICAL, column, connect, ident, string
from featurestore.offline.options import OutfileOptions
from featurestore.offline.sources import canonical_sql, fetch_rows
from featurestore.sqlcore.sqlir import LastJoin, Select, WindowDef

logger = logging.getLogger(__name__)

COMPILED = "compiled to Spark SQL"

#: The Spark SQL type of each OpenMLDB column type (timestamps are BIGINT epoch milliseconds, as in DuckDB).
SPARK_TYPES = {
    "bool": "BOOLEAN",
    "int16": "SMALLINT",
    "int32": "INT",
    "int64": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "string": "STRING",
    "date": "DATE",
    "timestamp": "BIGINT",
}
_INTEGERS = ("int16", "int32", "int64", "timestamp")
_NARROW = {"int16": 16, "int32": 32}  # summed exactly in BIGINT, then wrapped into the type
_COMPILED_AGGREGATES = ("sum", "count", "avg", "min", "max")
_ROWS_MAX = 2**31 - 1  # Spark's ROWS offsets are INTs, and no window partition holds more rows

#: SQL settings of every query's session.
SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",  # BIGINT sums wrap around (two's complement) instead of failing
    # DuckDB writes proleptic Gregorian dates; Spark would refuse "ambiguous" ancient ones from a non-Spark writer.
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
}

# The JVM logs warnings and errors only, one line each (no stack frames).
_LOG4J2_PROPERTIES = """\
status = error
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %p %c{1}: %m%n
logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativecode.level = error
logger.conf.name = org.apache.spark.SparkConf
logger.conf.level = error
logger.utils.name = org.apache.spark.util.Utils
logger.utils.level = error
"""


@dataclass
class SparkCompiled:
    sql: str  # SELECT of the output columns (named as the result's), in main-row order unless ``seq``
    names: list[str]
    types: list[str]


@dataclass
class _Window:
    name: str
    definition: WindowDef
    keys: list[str]  # main column SQL
    ts: str
    ts_kind: str
    ts_position: int
    parts: list[tuple[str, bool]] | None = field(default=None)  # (frame spec, ordered by time), newest part first


def _quote(name: str) -> str:
    """A quoted Spark SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def _fold_sum(parts: list[str]) -> str:
    """The sum of the parts' sums, NULL when every part's is (no value)."""
    total = parts[0]
    for part in parts[1:]:
        total = f"(CASE WHEN {total} IS NULL THEN {part} WHEN {part} IS NULL THEN {total} ELSE {total} + {part} END)"
    return total


def _combine(function: str, parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{function}({', '.join(parts)})"


class _Compiler:
    def __init__(self, select: Select, plan: RequestPlan, relation_names: dict[int, str], limit: int | None,
                 seq: bool, bounded: frozenset[int]) -> None:  # fmt: skip
        self.select = select
        self.plan = plan
        self.relation_names = relation_names
        self.limit = limit
        self.seq = seq
        self.bounded = bounded
        self.main = plan.main
        self.names = plan.main.column_names
        self.types = [c["type"] for c in plan.main.columns]
        self.windows: dict[str, _Window] = {}
        self.raw: dict[str, str] = {}  # window function SQL -> its column of ``w``
        self.joins: list[tuple[str, str | None, list[str]]] = []  # (CTE name, the query's alias, column names)

    # --- columns ------------------------------------------------------------------------------------------------
    def main_position(self, node: exp.Column) -> int:
        table = node.table or None
        if table is not None and table not in self.plan.main_aliases:
            raise Unsupported(f"column {node.sql()} of another table here")
        if node.name not in self.names:
            raise Unsupported(f"column {node.sql()}")
        return self.names.index(node.name)

    def main_column(self, node: exp.Column) -> str:
        return f"m.{column(self.main_position(node))}"

    def column_ref(self, node: exp.Column) -> str:
        table = node.table or None
        if (table is None or table in self.plan.main_aliases) and node.name in self.names:
            return f"w.{column(self.names.index(node.name))}"
        matches = [
            (cte, names.index(node.name))
            for cte, alias, names in self.joins
            if (table is None or table == alias) and node.name in names
        ]
        if len(matches) != 1:
            raise Unsupported(f"column {node.sql()}")
        cte, position = matches[0]
        return f"{cte}.{column(position)}"

    def relation(self, pk: int) -> str:
        return _quote(self.relation_names[pk])

    # --- windows ------------------------------------------------------------------------------------------------
    def window(self, name: str) -> _Window:
        found = self.windows.get(name)
        if found is not None:
            return found
        definition = self.select.windows[name]
        frame = definition.frame
        if definition.union or frame.instance_not_in_window:
            raise Unsupported(f"window {name}: WINDOW ... UNION")
        if frame.exclude_current_time and (frame.kind == "rows" or frame.maxsize is not None):
            raise Unsupported(f"window {name}: EXCLUDE CURRENT_TIME with ROWS or MAXSIZE")
        if frame.maxsize is not None:
            raise Unsupported(f"window {name}: MAXSIZE")
        if frame.end.kind != "current_row":
            raise Unsupported(f"window {name}: a frame that ends before the current row")
        if definition.order_by is None:
            raise Unsupported(f"window {name} without ORDER BY")
        if frame.start.kind not in ("preceding", "unbounded"):
            raise Unsupported(f"window {name}: a frame that starts at the current row")
        keys = [self.main_column(c) for c in definition.partition_by]
        position = self.main_position(definition.order_by)
        found = _Window(name, definition, keys, f"m.{column(position)}", self.types[position], position)
        self.windows[name] = found
        return found

    def parts(self, window: _Window) -> list[tuple[str, bool]]:
        """The window as disjoint Spark frames, newest first, each with whether it is ordered by (ts, __seq)."""
        if window.parts is not None:
            return window.parts
        frame = window.definition.frame
        start = frame.start
        offset = None
        if start.kind == "preceding":
            offset = int(start.offset or 0) - (1 if start.open else 0)
            if offset < 0:
                raise Unsupported(f"window {window.name}: an open frame start at the current row")
        ts = window.ts
        partition = ", ".join([*window.keys, f"CASE WHEN {ts} IS NULL THEN m.__seq END"])
        end = "1 PRECEDING" if frame.exclude_current_row else "CURRENT ROW"
        if frame.kind == "rows" or (offset is None and not frame.exclude_current_time):
            if offset is not None and offset == 0 and frame.exclude_current_row:
                window.parts = []  # no row at all
                return window.parts
            bound = "UNBOUNDED PRECEDING" if offset is None or offset >= _ROWS_MAX else f"{offset} PRECEDING"
            window.parts = [(f"PARTITION BY {partition} ORDER BY {ts}, m.__seq ROWS BETWEEN {bound} AND {end}", True)]
            return window.parts
        # ROWS_RANGE: the rows of the current time (those up to this one; with EXCLUDE CURRENT_TIME this one alone),
        # then the rows of the earlier times in range.
        if window.ts_kind in ("int64", "timestamp") and window.ts_position not in self.bounded:
            order, kind = f"CAST(coalesce({ts}, 0) AS DECIMAL(20,0))", "DECIMAL(20,0)"
        else:
            order, kind = f"CAST(coalesce({ts}, 0) AS BIGINT)", "BIGINT"
        window.parts = []
        if not frame.exclude_current_time:
            same_time = f"PARTITION BY {partition}, {ts} ORDER BY m.__seq ROWS BETWEEN UNBOUNDED PRECEDING AND {end}"
            window.parts.append((same_time, True))
        elif not frame.exclude_current_row:
            itself = f"PARTITION BY {partition} ORDER BY {order} ROWS BETWEEN CURRENT ROW AND CURRENT ROW"
            window.parts.append((itself, True))
        if offset is None or offset >= 1:
            bound = "UNBOUNDED" if offset is None else f"CAST({offset} AS {kind})"
            earlier = f"PARTITION BY {partition} ORDER BY {order} RANGE BETWEEN {bound} PRECEDING AND 1 PRECEDING"
            window.parts.append((earlier, False))
        return window.parts

    def column_of(self, sql: str) -> str:
        """A window function computed in ``w``: its column there."""
        name = self.raw.get(sql)
        if name is None:
            name = self.raw[sql] = f"__x{len(self.raw)}"
        return f"w.{name}"

    def over(self, function: str, parts: list[tuple[str, bool]]) -> list[str]:
        return [self.column_of(f"{function} OVER ({spec})") for spec, _ in parts]

    def aggregate(self, node: exp.Window) -> str:
        call = node.this
        name = call.name.lower() if isinstance(call, exp.Anonymous) else ""
        if name not in _COMPILED_AGGREGATES:
            raise Unsupported(f"aggregate {name or call.sql()}")
        args = call.expressions
        star = len(args) == 1 and (
            isinstance(args[0], exp.Star) or (isinstance(args[0], exp.Column) and isinstance(args[0].this, exp.Star))
        )
        if name == "count" and star:  # count(*): the rows of the window
            parts = self.parts(self.window(node.text("alias")))
            return " + ".join(self.over("count(1)", parts)) if parts else "CAST(0 AS BIGINT)"
        if len(args) != 1 or not isinstance(args[0], exp.Column) or star:
            raise Unsupported(f"{name}() of an expression")
        window = self.window(node.text("alias"))
        value = self.main_column(args[0])
        kind = self.types[self.names.index(args[0].name)]
        if name == "count":
            parts = self.parts(window)
            return " + ".join(self.over(f"count({value})", parts)) if parts else "CAST(0 AS BIGINT)"
        if name == "avg":
            if kind not in ("int16", "int32", "int64", "float", "double"):
                raise Unsupported(f"avg() of {kind}")
            parts = self.parts(window)
            if not parts:
                return "CAST(NULL AS DOUBLE)"
            if len(parts) == 1:
                return self.over(f"avg(CAST({value} AS DOUBLE))", parts)[0]
            sums = [f"coalesce({s}, CAST(0 AS DOUBLE))" for s in self.over(f"sum(CAST({value} AS DOUBLE))", parts)]
            count = f"({' + '.join(self.over(f'count({value})', parts))})"
            return f"(CASE WHEN {count} = 0 THEN CAST(NULL AS DOUBLE) ELSE ({' + '.join(sums)}) / {count} END)"
        if name == "sum":
            if kind in _INTEGERS:
                function = f"sum({value})"
            elif kind in ("float", "double"):
                function = f"sum(CAST({value} AS DOUBLE))"
            else:
                raise Unsupported(f"sum() of {kind}")
            parts = self.parts(window)
            if not parts:
                return "NULL"
            total = _fold_sum(self.over(function, parts))
            if kind in _NARROW:
                half, full = 2 ** (_NARROW[kind] - 1), 2 ** _NARROW[kind]
                total = f"(pmod({total} + CAST({half} AS BIGINT), CAST({full} AS BIGINT)) - CAST({half} AS BIGINT))"
            return total
        # min, max
        pick = "least" if name == "min" else "greatest"
        parts = self.parts(window)
        if not parts:
            return "NULL"
        if kind not in ("float", "double"):
            return _combine(pick, self.over(f"{name}({value})", parts))
        newest = []
        for spec, timed in parts:
            if timed:
                newest.append(self.column_of(f"last({value}, true) OVER ({spec})"))
            else:
                order = f"CASE WHEN {value} IS NOT NULL THEN struct({window.ts}, m.__seq) END"
                newest.append(self.column_of(f"max_by({value}, {order}) OVER ({spec})"))
        extreme = _combine(pick, self.over(f"{name}(CASE WHEN isnan({value}) THEN NULL ELSE {value} END)", parts))
        nan = f"CAST('NaN' AS {SPARK_TYPES[kind]})"
        return f"(CASE WHEN isnan({_combine('coalesce', newest)}) THEN {nan} ELSE {extreme} END)"

    # --- joins --------------------------------------------------------------------------------------------------
    def join(self, number: int, join: LastJoin) -> tuple[str, str]:
        keys = last_join_keys(self.plan, number, join)
        alias = f"j{number}"
        names = keys.table.column_names
        conditions = [f"{alias}.{column(position)} <=> w.{self.main_column(main)[2:]}" for position, main in keys.pairs]
        order, right_keys, table = keys.order, keys.partition, keys.table
        self.joins.append((alias, keys.alias, names))
        columns = ", ".join([*(column(i) for i in range(len(names))), "__seq"])
        cte = (
            f"{alias} AS (SELECT {columns} FROM (SELECT *, row_number() OVER (PARTITION BY {', '.join(right_keys)} "
            f"ORDER BY {order}) AS __rn FROM {self.relation(table.pk)}) AS r WHERE __rn = 1)"
        )
        return cte, " AND ".join(conditions)

    # --- the whole query ----------------------------------------------------------------------------------------
    def compile(self) -> SparkCompiled:
        select, plan = self.select, self.plan
        if plan.inner is not None:
            raise Unsupported("a subquery as the main table")
        if select.where is not None or select.group_by or select.order_by or select.having is not None:
            raise Unsupported("WHERE, GROUP BY or ORDER BY")
        joins = [self.join(number, join) for number, join in enumerate(select.joins)]
        outputs: list[str] = []
        for projection in select.projections:
            outputs.extend(self.projection(projection.expression))
        schema = plan.output_schema
        if len(outputs) != len(schema):
            raise Unsupported("the projections")
        columns = [
            f"CAST({sql} AS {SPARK_TYPES[kind]}) AS {_quote(name)}"
            for sql, (name, kind) in zip(outputs, schema, strict=True)
        ]
        if self.seq:
            columns.append("w.__seq AS __seq")
        calls = "".join(f", {sql} AS {name}" for sql, name in self.raw.items())
        windowed = f"SELECT m.*{calls} FROM {self.relation(self.main.pk)} AS m"
        with_sql = "WITH " + ", ".join([f"w AS ({windowed})", *(cte for cte, _ in joins)]) + " "
        from_sql = "w" + "".join(f" LEFT JOIN j{number} ON {on}" for number, (_, on) in enumerate(joins))
        order = "" if self.seq and self.limit is None else " ORDER BY w.__seq"
        limit = f" LIMIT {int(self.limit)}" if self.limit is not None else ""
        sql = f"{with_sql}SELECT {', '.join(columns)} FROM {from_sql}{order}{limit}"
        return SparkCompiled(sql, [name for name, _ in schema], [kind for _, kind in schema])

    def projection(self, node: exp.Expression) -> list[str]:
        if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            table = node.table if isinstance(node, exp.Column) else None
            out = []
            if not table or table in self.plan.main_aliases:
                out += [f"w.{column(i)}" for i in range(len(self.names))]
            for number, (alias, names, _) in enumerate(self.plan.join_aliases):
                if not table or table == alias:
                    out += [f"j{number}.{column(i)}" for i in range(len(names))]
            return out
        if isinstance(node, exp.Column):
            return [self.column_ref(node)]
        if isinstance(node, exp.Window):
            return [self.aggregate(node)]
        raise Unsupported(f"the expression {node.sql()}")


def compile_spark(select: Select, plan: RequestPlan, relation_names: dict[int, str], *, limit: int | None = None,
                  seq: bool = False, bounded: frozenset[int] = frozenset()) -> SparkCompiled:  # fmt: skip
    """Spark SQL computing ``select`` offline (at most ``limit`` rows) over the temp views ``relation_names[pk]``
    of the tables' canonical relations, or ``Unsupported`` naming what it cannot express.

    ``seq``: also answer the main row's ``__seq`` as a last column (not in ``names``), and leave the row order to
    the reader unless there is a limit. ``bounded``: positions of the main table's int64/timestamp columns known to
    hold only values within ±(2^62 - 1); their ROWS_RANGE windows order by BIGINT instead of DECIMAL(20,0).
    """
    return _Compiler(select, plan, relation_names, limit, seq, bounded).compile()


# --- the session ------------------------------------------------------------------------------------------------
_lock = threading.Lock()
_session: Any = None


def session() -> Any:
    """The process's SparkSession, started on first use (``FeatureStoreError`` when Spark cannot run here)."""
    global _session
    with _lock:
        if _session is None or getattr(_session.sparkContext, "_jsc", None) is None:
            _session = _start()
        return _session


def stop() -> None:
    """Stop the process's SparkSession (a later query starts a new one)."""
    global _session
    with _lock:
        if _session is not None:
            _session.stop()
            _session = None


def _start() -> Any:
    # Imported here: the jobs package is imported by every engine process, Spark only where it runs.
    from jobs.engines import spark_unavailable

    reason = spark_unavailable()
    if reason is not None:
        raise FeatureStoreError(reason)
    master = getattr(settings, "SPARK_MASTER", "") or "local[*]"
    fd, log_config = tempfile.mkstemp(prefix="featurestore-spark-log4j2-", suffix=".properties")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(_LOG4J2_PROPERTIES)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
            from pyspark.logger import PySparkLogger
            from pyspark.sql import SparkSession

            # PySpark logs every SQL error it raises as a JSON record on stderr; the caller reports them itself.
            for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
                PySparkLogger.getLogger(name).disabled = True
            logging.getLogger("py4j").setLevel(logging.WARNING)  # a line per connection opened or closed
            builder = (
                SparkSession.builder.master(master)
                .appName("featurestore-offline")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log_config}")
            )
            for key, value in SQL_CONF.items():
                builder = builder.config(key, value)
            if master.startswith("local"):
                # A local driver needs no address others can reach; a cluster's executors must reach the driver.
                local = Path(settings.DATA_DIR) / "spark-tmp" / "local"
                local.mkdir(parents=True, exist_ok=True)
                builder = (
                    builder.config("spark.driver.host", "127.0.0.1")
                    .config("spark.driver.bindAddress", "127.0.0.1")
                    .config("spark.local.dir", str(local))
                )
            memory = getattr(settings, "JOB_SPARK_DRIVER_MEMORY", "")
            if memory:
                builder = builder.config("spark.driver.memory", memory)
            spark = builder.getOrCreate()
    finally:
        Path(log_config).unlink(missing_ok=True)
    spark.sparkContext.setLogLevel("WARN")
    return spark


def _query_session() -> Any:
    """A session of its own for one query (temp views, SQL settings) on the process's SparkContext."""
    spark = session().newSession()
    for key, value in SQL_CONF.items():
        spark.conf.set(key, value)
    return spark


def _spark_errors() -> tuple[type[BaseException], ...]:
    """The errors of a query Spark refused (none without pyspark: then Spark never ran)."""
    try:
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException
    except ImportError:
        return ()
    return PySparkException, Py4JJavaError


def _first_line(exc: BaseException) -> str:
    for line in str(exc).splitlines():
        line = line.strip().removeprefix(": ").strip()
        if line and not line.startswith("An error occurred while calling "):
            return line
    return type(exc).__name__


# --- running ----------------------------------------------------------------------------------------------------
class _SparkOffline:
    """One offline query on Spark: its plan, a DuckDB connection with the tables' relations, temporary files."""

    def __init__(self, db: str, select: Select, limit: int | None) -> None:
        self.plan = services.plan_compile(db=db, select=select)
        self.select = select
        self.limit = limit
        self.con = connect()
        self.tables = query.plan_tables(self.plan)
        self.relations = {pk: canonical_sql(self.con, table) for pk, table in self.tables.items()}
        self.views = {pk: f"featurestore_offline_{pk}" for pk in self.tables}
        self.compiled: SparkCompiled | None = None
        self.how = COMPILED
        self.temp: Path | None = None
        self.spark: Any = None
        try:
            self.compiled = compile_spark(select, self.plan, self.views, limit=limit, seq=True)
        except Unsupported as exc:
            self.fall_back(str(exc))

    def fall_back(self, why: str) -> None:
        self.compiled = None
        self.how = f"per-row plan: {why} is not compiled to set-based SQL"
        logger.info("offline query computed row by row: %s", why)

    def frame(self) -> Any:
        """The compiled query as a Spark DataFrame over the tables' rows, written to temporary Parquet files."""
        assert self.compiled is not None  # noqa: S101 - only called for a compiled query
        self.temp = Path(settings.DATA_DIR) / "spark-tmp" / secrets.token_hex(8)
        self.temp.mkdir(parents=True)
        paths = {}
        for pk in self.tables:
            paths[pk] = self.temp / f"t{pk}.parquet"
            self.con.execute(f"COPY ({self.relations[pk]}) TO {string(str(paths[pk]))} (FORMAT parquet)")
        bounded = self.bounded(paths[self.plan.main.pk])
        if bounded:
            self.compiled = compile_spark(self.select, self.plan, self.views, limit=self.limit, seq=True,
                                          bounded=bounded)  # fmt: skip
        self.spark = _query_session()
        for pk, path in paths.items():
            self.spark.read.parquet(str(path)).createOrReplaceTempView(self.views[pk])
        self.how = f"{COMPILED} ({self.spark.sparkContext.master})"
        return self.spark.sql(self.compiled.sql)

    def bounded(self, path: Path) -> frozenset[int]:
        """The main table's int64/timestamp columns whose values all lie within the engine's ts range."""
        positions = [i for i, c in enumerate(self.plan.main.columns) if c["type"] in ("int64", "timestamp")]
        if not positions:
            return frozenset()
        checks = ", ".join(f"coalesce(bool_and({column(i)} BETWEEN {TS_MIN} AND {TS_MAX}), true)" for i in positions)
        row = self.con.execute(f"SELECT {checks} FROM read_parquet({string(str(path))})").fetchone()
        return frozenset(i for i, ok in zip(positions, row or (), strict=True) if ok)

    def rows(self, progress: Callable[[float], None] | None) -> list[list[Any]]:
        if self.compiled is not None:
            try:
                # Unordered, with __seq: sorting the collected rows here spares Spark a range shuffle (and the
                # sampling pass that recomputes the windows); with a limit Spark keeps the first rows itself.
                collected = sorted(self.frame().collect(), key=itemgetter(-1))
                return [list(row)[:-1] for row in collected]
            except _spark_errors() as exc:
                self.fall_back(f"what Spark refused ({_first_line(exc)})")
        tables = {pk: fetch_rows(self.con, table, self.relations[pk]) for pk, table in self.tables.items()}
        return query.per_row(self.plan, tables, limit=self.limit, progress=progress)

    def write_parquet(self) -> str:
        """Run the compiled query into Parquet files (output columns ``o0``.., then ``__seq``); their glob."""
        frame = self.frame()
        assert self.compiled is not None and self.temp is not None  # noqa: S101 - set by frame()
        out = self.temp / "out"
        frame.toDF(*(f"o{i}" for i in range(len(self.compiled.names))), "__seq").write.parquet(str(out))
        return str(out / "*.parquet")

    def close(self) -> None:
        if self.spark is not None:
            with contextlib.suppress(Exception):  # the session may be gone; its views go with it
                for name in self.views.values():
                    self.spark.catalog.dropTempView(name)
        if self.temp is not None:
            shutil.rmtree(self.temp, ignore_errors=True)
        self.con.close()


def run_spark(db: str, select: Select, *, limit: int | None = None,
              progress: Callable[[float], None] | None = None) -> query.OfflineResult:  # fmt: skip
    """Compute the offline result of ``select`` (at most ``limit`` rows) on Spark, as ``query.run`` does."""
    offline = _SparkOffline(db, select, limit)
    try:
        rows = offline.rows(progress)
        return query.OfflineResult(offline.plan.output_schema, rows, offline.how, len(rows))
    finally:
        offline.close()


def write_spark(db: str, select: Select, uri: str, options: OutfileOptions) -> query.OfflineResult:
    """Compute the offline result of ``select`` on Spark into files at ``uri``, as ``query.write`` does."""
    offline = _SparkOffline(db, select, select.limit)
    try:
        schema = offline.plan.output_schema
        if offline.compiled is not None:
            try:
                parts = offline.write_parquet()
            except _spark_errors() as exc:
                offline.fall_back(f"what Spark refused ({_first_line(exc)})")
            else:
                outputs = ", ".join(
                    f"CAST(o{i} AS {CANONICAL[kind]}) AS {ident(name)}" for i, (name, kind) in enumerate(schema)
                )
                select_sql = f"SELECT {outputs} FROM read_parquet({string(parts)}) ORDER BY __seq"
                try:
                    count = export.write_sql(offline.con, select_sql, uri, options)
                    return query.OfflineResult(schema, [], offline.how, count)
                except duckdb.Error as exc:
                    offline.fall_back(f"what DuckDB refused ({str(exc).splitlines()[0]})")
        rows = offline.rows(None)
        return query.OfflineResult(schema, [], offline.how, export.write_rows(schema, rows, uri, options))
    finally:
        offline.close()


def spark_unsupported(db: str, select: Select) -> str | None:
    """Why ``select`` cannot run on Spark (the construct ``compile_spark`` refuses), or None when it can."""
    plan = services.plan_compile(db=db, select=select)
    views = {pk: f"featurestore_offline_{pk}" for pk in query.plan_tables(plan)}
    try:
        compile_spark(select, plan, views, seq=True)
    except Unsupported as exc:
        return str(exc)
    return None
