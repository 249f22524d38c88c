"""The parsed form of OpenMLDB SQL statements, as the feature store executes them.

``featurestore.sqlcore.dialect.parse`` turns SQL text into these objects; the catalog, storage and request-mode engine
only ever see them. Expressions (projections, conditions, join keys, literal values) stay sqlglot expression
trees, with these conventions:
- every function call is ``exp.Anonymous`` with its lower-case name (``sum``, ``lag``, ``substr``...); only
  ``CAST``, ``CASE`` and ``IF`` are typed nodes; a call named after a type (``int(x)``, ``timestamp(x)``) is a
  cast, as in OpenMLDB;
- an aggregate over a window is ``exp.Window(this=<function call>, alias=<window name>)``; inline
  ``OVER (...)`` specs are given generated names (``__w0``, ``__w1``...) and listed in ``Select.windows``;
- a SELECT without FROM has an empty ``TableRef()`` as its source;
- ``ColumnDef.default`` is already in the engine's representation (a ``datetime.date`` for dates, epoch
  milliseconds for timestamps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

#: OpenMLDB column types, by their canonical (APIServer schema) names.
TYPES = ("bool", "int16", "int32", "int64", "float", "double", "string", "date", "timestamp")


@dataclass
class ColumnDef:
    name: str
    type: str  # one of TYPES (smallint -> int16, int -> int32, bigint -> int64, varchar -> string)
    not_null: bool = False
    default: Any = None  # a Python value already converted to the column's type, or None


@dataclass
class IndexDef:
    keys: list[str]  # KEY=c or KEY=(c1, c2)
    ts: str | None = None  # TS=c (a timestamp or int64 column)
    ttl_type: str | None = None  # absolute | latest | absandlat | absorlat (None: not given)
    abs_ttl: int | None = None  # minutes (absolute part), 0 = unbounded
    lat_ttl: int | None = None  # rows (latest part), 0 = unbounded
    name: str | None = None


@dataclass
class CreateDatabase:
    name: str
    if_not_exists: bool = False


@dataclass
class DropDatabase:
    name: str
    if_exists: bool = False


@dataclass
class UseDatabase:
    name: str


@dataclass
class CreateTable:
    name: str
    columns: list[ColumnDef]
    indexes: list[IndexDef]
    db: str | None = None
    if_not_exists: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # PARTITIONNUM, REPLICANUM, STORAGE_MODE...


@dataclass
class DropTable:
    name: str
    db: str | None = None
    if_exists: bool = False


@dataclass
class DropDeployment:
    name: str
    db: str | None = None
    if_exists: bool = False
    procedure: bool = False  # DROP PROCEDURE


@dataclass
class Show:
    what: str  # databases | tables | deployments | deployment | table_status | variables | jobs | job | joblog
    name: str | None = None  # SHOW DEPLOYMENT <name>; SHOW JOB <id>; SHOW JOBS LIKE '<pattern>'
    db: str | None = None
    component: str | None = None  # SHOW JOBS FROM TASKMANAGER | NAMESERVER


@dataclass
class StopJob:
    job_id: str  # as written (SHOW JOB / STOP JOB answer "Failed to parse job id: <x>" for a non-number)


@dataclass
class ExecuteDeployment:
    """``EXECUTE DEPLOYMENT [db.]name [LIMIT n] [INTO OUTFILE 'path' [OPTIONS(...)]]`` (an extension): the
    deployment's features for every row of its main table's offline data, point-in-time (a training set)."""

    name: str
    db: str | None = None
    limit: int | None = None
    path: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadData:
    """``LOAD DATA INFILE 'path' INTO TABLE [db.]t [OPTIONS(...)]`` (option keys lower-case, values literals)."""

    path: str
    table: str
    db: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Describe:
    table: str
    db: str | None = None


@dataclass
class SetVariable:
    name: str  # e.g. execute_mode
    value: Any
    scope: str = "session"  # session | global


@dataclass
class Insert:
    table: str
    rows: list[list[exp.Expression]]  # one list of value expressions per row
    columns: list[str] | None = None  # INSERT INTO t (a, b) VALUES ...
    db: str | None = None


@dataclass
class FrameBound:
    kind: str  # unbounded | preceding | current_row
    offset: int | None = None  # rows for ROWS; milliseconds for ROWS_RANGE (units s, m, h, d converted)
    open: bool = False  # "x OPEN PRECEDING": the bound itself is excluded


@dataclass
class Frame:
    kind: str  # rows | rows_range
    start: FrameBound
    end: FrameBound
    maxsize: int | None = None
    exclude_current_row: bool = False
    exclude_current_time: bool = False
    instance_not_in_window: bool = False


@dataclass
class TableRef:
    """A FROM item, a join's right side or a window UNION source: a table, or a subquery with an alias."""

    name: str | None = None  # table name, when not a subquery
    db: str | None = None
    alias: str | None = None
    subquery: Select | None = None


@dataclass
class WindowDef:
    name: str
    partition_by: list[exp.Column]
    order_by: exp.Column | None
    frame: Frame
    union: list[TableRef] = field(default_factory=list)


@dataclass
class LastJoin:
    right: TableRef
    on: exp.Expression  # the ON condition
    order_by: exp.Column | None = None


@dataclass
class Projection:
    expression: exp.Expression
    alias: str | None  # AS name; None when not aliased (the output name is then derived, e.g. the column)


@dataclass
class Select:
    projections: list[Projection]  # ``*`` and ``t.*`` are exp.Star / exp.Column(this=exp.Star())
    source: TableRef
    joins: list[LastJoin] = field(default_factory=list)
    windows: dict[str, WindowDef] = field(default_factory=dict)
    where: exp.Expression | None = None
    group_by: list[exp.Expression] = field(default_factory=list)
    having: exp.Expression | None = None
    order_by: list[tuple[exp.Expression, bool]] = field(default_factory=list)  # (expression, descending)
    limit: int | None = None
    config: dict[str, Any] = field(default_factory=dict)  # CONFIG (execute_mode = 'request', values = (...))
    options: dict[str, Any] = field(default_factory=dict)  # OPTIONS(...) after a SELECT (mode, ...)


@dataclass
class Deploy:
    name: str
    select: Select
    sql: str  # the SELECT's text as written (stored as the deployment's SQL)
    options: dict[str, str] = field(
        default_factory=dict
    )  # RANGE_BIAS, ROWS_BIAS, SKIP_INDEX_CHECK... (upper-case keys)
    if_not_exists: bool = False
    db: str | None = None


@dataclass
class ProcedureParam:
    name: str
    type: str
    const: bool = False  # a common column: one value for every request row of a call


@dataclass
class CreateProcedure:
    """``CREATE PROCEDURE name (const c1 string, c2 int, ...) BEGIN <select>; END``: a deployment whose request rows
    share their ``const`` columns (sent once per call as ``common_cols``)."""

    name: str
    params: list[ProcedureParam]
    select: Select
    sql: str  # the SELECT's text as written
    db: str | None = None


@dataclass
class SelectInto:
    """``<select> INTO OUTFILE 'path' [OPTIONS(...)]`` (option keys lower-case, values literals)."""

    select: Select
    path: str
    options: dict[str, Any] = field(default_factory=dict)
    sql: str = ""  # the SELECT's text, as written


Statement = (
    CreateDatabase | DropDatabase | UseDatabase | CreateTable | DropTable | DropDeployment | Show | Describe
    | SetVariable | Insert | Deploy | Select | SelectInto | LoadData | StopJob | ExecuteDeployment | CreateProcedure
)  # fmt: skip
