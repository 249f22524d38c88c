"""Execute OpenMLDB SQL statements against the catalog and storage (``POST /dbs/{db}``, the jobs ``sql`` engine).

Statements are parsed by ``featurestore.sqlcore.dialect`` into ``featurestore.sqlcore.sqlir`` objects and
dispatched here: DDL and INSERT go through ``featurestore.services``; SELECTs run in one of three ways:
- ``CONFIG (execute_mode = 'request', values = ...)``: request mode for the given rows (no DEPLOY needed);
- a SELECT with windows or LAST JOINs: every row of the main table with its features computed point-in-time, as
  request mode computes them from the rows before it in time order (``featurestore.offline.query``);
- anything else: a scan of the table with WHERE, projections, GROUP BY aggregates, ORDER BY and LIMIT.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cmp_to_key
from typing import Any

from django.conf import settings
from sqlglot import exp

from featurestore import services, storage
from featurestore.errors import CMD_ERROR, FeatureStoreError
from featurestore.jsonx import ConversionError, coerce
from featurestore.offline import data as offline_data
from featurestore.offline import export, load, query, spark
from featurestore.offline import jobs as offline_jobs
from featurestore.offline.duck import connect
from featurestore.offline.options import outfile_options
from featurestore.offline.sources import fetch_rows
from featurestore.selectors import (
    database_get,
    database_list,
    deployment_get,
    deployment_list,
    table_get,
    table_list,
)
from featurestore.sqlcore.dialect import SqlError, parse, parse_one
from featurestore.sqlcore.expressions import ExpressionError, compile_aggregate_args, compile_expression, literal_value
from featurestore.sqlcore.functions import AGGREGATES, FunctionError
from featurestore.sqlcore.sqlir import (
    CreateDatabase,
    CreateProcedure,
    CreateTable,
    Deploy,
    Describe,
    DropDatabase,
    DropDeployment,
    DropTable,
    ExecuteDeployment,
    Insert,
    LoadData,
    Select,
    SelectInto,
    SetVariable,
    Show,
    StopJob,
    UseDatabase,
)

MODES = ("offsync", "offasync", "online", "onsync")
OFFLINE_ENGINES = ("duckdb", "spark", "auto")


@dataclass
class Result:
    """A statement's answer: a result set (``schema`` + ``rows`` of engine values) or none."""

    schema: list[tuple[str, str]] | None = None
    rows: list[list[Any]] = field(default_factory=list)
    job: Any = None  # offasync: the job (jobs.models.Job) that computes the result
    note: str = ""  # how an offline query was computed (the job log prints it)


@dataclass
class Session:
    db: str
    mode: str = "online"
    user: Any = None
    params: list[tuple[Any, str]] = field(default_factory=list)
    inline_limit: int | None = None  # offsync SELECTs answered inline: at most this many rows
    offline_engine: str = ""  # SET @@offline_engine: duckdb | spark | auto ("": FEATURESTORE_OFFLINE_ENGINE)

    @property
    def offline(self) -> bool:
        return self.mode in ("offsync", "offasync")


def execute(*, db: str, sql: str, mode: str = "online", params: list[tuple[Any, str]] | None = None,
            user=None) -> Result:  # fmt: skip
    """Run the one statement of ``sql`` (a request of ``POST /dbs/{db}``) and return its result.

    One statement per request, as with OpenMLDB's APIServer: text holding more (``SELECT * FROM t1; DROP TABLE
    t1``) is refused before anything runs. Scripts are jobs of the ``sql`` engine (``execute_each``).
    """
    statements = _parse(sql)
    if len(statements) > 1:
        raise FeatureStoreError(
            f"one statement per request, got {len(statements)}: nothing was executed "
            "(send them one by one, or run the script as a job of the sql engine)",
            -1,
        )
    session = Session(db=db, mode=mode, user=user, params=list(params or []))
    if mode == "offsync":
        session.inline_limit = settings.FEATURESTORE_OFFLINE_SYNC_ROWS
    if mode == "offasync" and isinstance(statements[-1], Select | SelectInto | LoadData | ExecuteDeployment):
        for statement in statements[:-1]:
            _execute_one(session, statement)
        return _submit_offline_job(session, sql, statements[-1])
    result = Result()
    for statement in statements:
        result = _execute_one(session, statement)
    return result


def execute_each(*, db: str, sql: str, mode: str = "offsync", user=None):
    """Run the statements one by one, yielding ``(number, count, result)`` after each (the jobs ``sql`` engine)."""
    statements = _parse(sql)
    session = Session(db=db, mode=mode, user=user)
    for number, statement in enumerate(statements):
        yield number, len(statements), _execute_one(session, statement)


def _parse(sql: str) -> list:
    try:
        statements = parse(sql)
    except SqlError as exc:
        raise FeatureStoreError(str(exc), CMD_ERROR) from None
    if not statements:
        raise FeatureStoreError("no SQL statement to execute", CMD_ERROR)
    return statements


def _execute_one(session: Session, statement) -> Result:
    try:
        return _dispatch(session, statement)
    except (ExpressionError, FunctionError, ConversionError) as exc:
        raise FeatureStoreError(str(exc), CMD_ERROR) from None


def _dispatch(session: Session, statement) -> Result:
    if isinstance(statement, CreateDatabase):
        services.database_create(name=statement.name, if_not_exists=statement.if_not_exists)
    elif isinstance(statement, DropDatabase):
        services.database_drop(name=statement.name, if_exists=statement.if_exists)
    elif isinstance(statement, UseDatabase):
        if database_get(name=statement.name) is None:
            raise FeatureStoreError(f"database {statement.name} does not exist")
        session.db = statement.name
    elif isinstance(statement, CreateTable):
        services.table_create(db=session.db, statement=statement)
    elif isinstance(statement, DropTable):
        services.table_drop(db=statement.db or session.db, name=statement.name, if_exists=statement.if_exists)
    elif isinstance(statement, DropDeployment):
        services.deployment_drop(db=statement.db or session.db, name=statement.name, if_exists=statement.if_exists,
                                 kind="procedure" if statement.procedure else "deployment")  # fmt: skip
    elif isinstance(statement, CreateProcedure):
        services.procedure_create(db=session.db, statement=statement, user=session.user)
    elif isinstance(statement, Deploy):
        if session.mode not in ("online", "onsync"):
            raise FeatureStoreError("Can not deploy in offline mode, please set @@SESSION.execute_mode='online'")
        services.deployment_create(db=session.db, statement=statement, user=session.user)
    elif isinstance(statement, SetVariable):
        if statement.name.lower() == "execute_mode":
            session.mode = "online" if str(statement.value).lower() == "online" else "offsync"
        elif statement.name.lower() == "offline_engine":
            engine = str(statement.value).lower()
            if engine not in OFFLINE_ENGINES:
                raise FeatureStoreError(f"offline_engine must be {', '.join(OFFLINE_ENGINES)}, got {statement.value}")
            session.offline_engine = engine
    elif isinstance(statement, Insert):
        _insert(session, statement)
    elif isinstance(statement, Show):
        return _show(session, statement)
    elif isinstance(statement, StopJob):
        return Result(offline_jobs.JOB_SCHEMA, offline_jobs.stop_job(user=session.user, job_id=statement.job_id))
    elif isinstance(statement, Describe):
        return _describe(session, statement)
    elif isinstance(statement, Select):
        return select(session.db, statement, params=session.params, offline=session.offline,
                      inline_limit=session.inline_limit, engine=_offline_engine(session))  # fmt: skip
    elif isinstance(statement, SelectInto):
        return _select_into(session, statement)
    elif isinstance(statement, ExecuteDeployment):
        return _execute_deployment(session, statement)
    elif isinstance(statement, LoadData):
        load.load_data(db=session.db, statement=statement, execute_mode=session.mode)
    else:
        raise FeatureStoreError(f"unsupported statement: {_statement_name(statement)}")
    return Result()


def _statement_name(statement) -> str:
    return type(statement).__name__


# --- INSERT -----------------------------------------------------------------------------------------------------
def _insert(session: Session, statement: Insert) -> None:
    db = statement.db or session.db
    table = table_get(db=db, name=statement.table)
    if table is None:
        raise FeatureStoreError(f"fail to get insert info--table with name {statement.table} in db {db} does not exist")
    names = table.column_names
    targets = statement.columns or names
    for name in targets:
        if name not in names:
            raise FeatureStoreError(f"column {name} does not exist in {statement.table}")
    ts_columns = table.ts_columns
    rows = []
    for number, values in enumerate(statement.rows):
        if len(values) != len(targets):
            raise FeatureStoreError(
                f"row {number}: {len(values)} values for {len(targets)} columns of {statement.table}"
            )
        given = {}
        for name, node in zip(targets, values, strict=True):
            given[name] = _constant(_bind(node, session.params))
        row = []
        for column in table.columns:
            value = given.get(column["name"], column.get("default"))
            row.append(_coerce_sql(value, column, number, ts=column["name"] in ts_columns))
        rows.append(row)
    services.rows_insert(table=table, rows=rows)


def _constant(node: exp.Expression) -> Any:
    value, _ = literal_value(node)
    return value


def _coerce_sql(value: Any, column: dict, row: int, *, ts: bool = False) -> Any:
    """SQL literals are looser than JSON: strings for dates, ints for floats, timestamps as ints or dates.

    ``ts``: the column is an index's TS, so its values must stay in the engine's range as timestamps do.
    """
    kind = column["type"]
    if value is None:
        if column.get("not_null"):
            raise FeatureStoreError(f"row {row}: column {column['name']} is NOT NULL")
        return None
    try:
        if kind in ("float", "double") and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        return coerce(value, kind, not_null=bool(column.get("not_null")), ts=ts)
    except ConversionError as exc:
        raise FeatureStoreError(f"row {row}: column {column['name']}: {exc}") from None


def _bind(node: exp.Expression, params: list[tuple[Any, str]]) -> exp.Expression:
    """Replace ``?`` placeholders, in order, by the request's typed parameters."""
    if not params or not any(isinstance(n, exp.Placeholder) for n in node.walk()):
        return node
    values = iter(params)

    def replace(child):
        if isinstance(child, exp.Placeholder):
            try:
                value, _ = next(values)
            except StopIteration:
                raise FeatureStoreError("more ? placeholders than input values") from None
            if value is None:
                return exp.Null()
            if isinstance(value, bool):
                return exp.Boolean(this=value)
            if isinstance(value, int | float):
                return exp.Literal.number(value)
            return exp.Literal.string(str(value))
        return child

    return node.transform(replace)


# --- SHOW / DESC ------------------------------------------------------------------------------------------------
def _show(session: Session, statement: Show) -> Result:
    what = statement.what
    if what == "databases":
        return Result([("Databases", "string")], [[d.name] for d in database_list()])
    if what == "tables":
        db = statement.db or session.db
        return Result([("Tables", "string")], [[t.name] for t in table_list(db=db)])
    if what == "deployments":
        return Result([("DB", "string"), ("Deployment", "string")],
                      [[d.database.name, d.name] for d in deployment_list(db=statement.db or session.db,
                                                                          kind="deployment")])  # fmt: skip
    if what == "deployment":
        found = [d for d in deployment_list(db=statement.db or session.db, kind="deployment")
                 if d.name == statement.name]  # fmt: skip
        if not found:
            raise FeatureStoreError(f"{statement.name} does not exist in {statement.db or session.db}", -1)
        deployment = found[0]
        return Result([("DB", "string"), ("Deployment", "string"), ("SQL", "string")],
                      [[deployment.database.name, deployment.name, deployment.sql]])  # fmt: skip
    if what == "jobs" and (statement.component or "").lower() == "nameserver":
        return Result(offline_jobs.JOB_SCHEMA, [])  # the name server's operations: none here
    if what == "jobs":
        return Result(offline_jobs.JOB_SCHEMA, offline_jobs.show_jobs(user=session.user, pattern=statement.name))
    if what == "job":
        return Result(offline_jobs.JOB_SCHEMA, offline_jobs.show_job(user=session.user, job_id=statement.name or ""))
    if what == "joblog":
        log = offline_jobs.job_log(user=session.user, job_id=statement.name or "")
        return Result([("log", "string")], [[log]])
    raise FeatureStoreError(f"unsupported statement: SHOW {what.upper()}")


def _describe(session: Session, statement: Describe) -> Result:
    db = statement.db or session.db
    table = table_get(db=db, name=statement.table)
    if table is None:
        raise FeatureStoreError(f"table {statement.table} does not exist in {db}")
    rows = [
        [str(i + 1), column["name"], column["type"], "NO" if column.get("not_null") else "YES"]
        for i, column in enumerate(table.columns)
    ]
    offline = offline_data.table_info(table)
    if offline is not None:
        # The offline data, as upstream's DESC prints it below the columns (here rows marked "offline").
        rows += [
            ["offline", "Data path", offline["path"], ""],
            ["offline", "Symbolic paths", ", ".join(offline["symbolic_paths"]), ""],
            ["offline", "Format", offline["format"], ""],
            ["offline", "Options", ", ".join(f"{k}={v}" for k, v in offline["options"].items()), ""],
            ["offline", "Rows", str(offline_data.row_count(table)), ""],
        ]
    return Result([("#", "string"), ("Field", "string"), ("Type", "string"), ("Null", "string")], rows)


# --- SELECT -----------------------------------------------------------------------------------------------------
def select(db: str, statement: Select, *, params: list[tuple[Any, str]] | None = None, offline: bool = False,
           inline_limit: int | None = None, engine: str = "duckdb") -> Result:  # fmt: skip
    """Run a SELECT and return its rows (engine values).

    Offline (``offline``): windows and LAST JOINs are computed point-in-time over the tables' offline data
    (``featurestore.offline.query``), and a plain SELECT reads the offline data too; both read a table's online
    rows while it has no offline data. ``inline_limit``: more rows than this is an error (offsync over HTTP).
    """
    statement = _bind_select(statement, params or [])
    config = {str(key).lower(): value for key, value in statement.config.items()}
    if str(config.get("execute_mode", "")).lower() == "request":
        return _request_select(db, statement, config.get("values"))
    if statement.windows or statement.joins or statement.source.subquery is not None:
        if statement.where is not None or statement.group_by or statement.order_by:
            raise FeatureStoreError("WHERE, GROUP BY and ORDER BY are not supported together with windows or LAST JOIN")
        limit = statement.limit
        if inline_limit is not None:
            limit = inline_limit + 1 if limit is None else min(limit, inline_limit + 1)
        computed = _offline_run(db, statement, limit, engine)
        result = Result(computed.schema, computed.rows, note=computed.how)
    else:
        result = _plain_select(db, statement, offline=offline, inline_limit=inline_limit)
    if inline_limit is not None and len(result.rows) > inline_limit:
        raise FeatureStoreError(
            f"the result has more than {inline_limit} rows, the most offsync answers inline "
            "(FEATURESTORE_OFFLINE_SYNC_ROWS): add LIMIT, write it with SELECT ... INTO OUTFILE, or run it offasync"
        )
    return result


def _select_into(session: Session, statement: SelectInto) -> Result:
    """``SELECT ... INTO OUTFILE``: the offline query written by DuckDB, a plain SELECT's rows written as a result."""
    options = outfile_options(statement.options)
    chosen = _bind_select(statement.select, session.params)
    if chosen.windows or chosen.joins or chosen.source.subquery is not None:
        if chosen.where is not None or chosen.group_by or chosen.order_by:
            raise FeatureStoreError("WHERE, GROUP BY and ORDER BY are not supported together with windows or LAST JOIN")
        written = _offline_write(session.db, chosen, statement.path, options, _offline_engine(session))
        return Result(note=f"{written.count} rows written to {statement.path} ({written.how})")
    result = _plain_select(session.db, chosen, offline=session.offline)
    count = export.write_rows(result.schema or [], result.rows, statement.path, options)
    return Result(note=f"{count} rows written to {statement.path}")


def _execute_deployment(session: Session, statement: ExecuteDeployment) -> Result:
    """A deployment's features for every row of its main table's offline data, point-in-time: the training set
    that agrees with what the deployment answers online (``EXECUTE DEPLOYMENT``, an extension)."""
    if not session.offline:
        raise FeatureStoreError(
            "EXECUTE DEPLOYMENT computes a training set from offline data: run it in offsync or offasync mode"
        )
    db = statement.db or session.db
    deployment = deployment_get(db=db, name=statement.name)
    if deployment is None:
        raise FeatureStoreError(f"deployment {statement.name} does not exist in {db}")
    chosen = parse_one(deployment.sql)
    if not isinstance(chosen, Select):
        raise FeatureStoreError(f"deployment {statement.name} does not hold a SELECT", CMD_ERROR)
    if statement.limit is not None:
        chosen.limit = statement.limit
    engine = _offline_engine(session)
    if statement.path is not None:
        written = _offline_write(db, chosen, statement.path, outfile_options(statement.options), engine)
        return Result(note=f"{written.count} rows written to {statement.path} ({written.how})")
    return select(db, chosen, offline=True, inline_limit=session.inline_limit, engine=engine)


def _offline_engine(session: Session) -> str:
    """Where offline queries run: ``SET @@offline_engine``, else FEATURESTORE_OFFLINE_ENGINE; ``auto`` is Spark when
    SPARK_MASTER is set, DuckDB otherwise."""
    chosen = session.offline_engine or settings.FEATURESTORE_OFFLINE_ENGINE
    if chosen == "auto":
        return "spark" if settings.SPARK_MASTER else "duckdb"
    return chosen


def _offline_run(db: str, statement: Select, limit: int | None, engine: str) -> query.OfflineResult:
    """An offline query's rows: on Spark what it compiles, else on DuckDB (and the per-row plan for the rest)."""
    if engine == "spark":
        why = spark.spark_unsupported(db, statement)
        if why is None:
            return spark.run_spark(db, statement, limit=limit)
        computed = query.run(db, statement, limit=limit)
        computed.how = f"{computed.how}; Spark does not compile {why}"
        return computed
    return query.run(db, statement, limit=limit)


def _offline_write(db: str, statement: Select, uri: str, options, engine: str) -> query.OfflineResult:
    if engine == "spark":
        why = spark.spark_unsupported(db, statement)
        if why is None:
            return spark.write_spark(db, statement, uri, options)
        written = query.write(db, statement, uri, options)
        written.how = f"{written.how}; Spark does not compile {why}"
        return written
    return query.write(db, statement, uri, options)


def _bind_select(statement: Select, params: list[tuple[Any, str]]) -> Select:
    if not params:
        return statement
    statement.projections = [type(p)(_bind(p.expression, params), p.alias) for p in statement.projections]
    if statement.where is not None:
        statement.where = _bind(statement.where, params)
    return statement


def _request_select(db: str, statement: Select, values) -> Result:
    """Request mode without a deployment (OpenMLDB #3938): compute the output rows for the given input rows."""
    statement.config = {}
    plan = services.plan_compile(db=db, select=statement)
    if values is None:
        raise FeatureStoreError("CONFIG execute_mode='request' needs values = (...)")
    rows = values if values and isinstance(values[0], list | tuple) else [values]
    schema = plan.input_schema
    ts_columns = plan.main.ts_columns
    output = []
    for number, row in enumerate(rows):
        if len(row) != len(schema):
            raise FeatureStoreError(
                f"request row {number} has {len(row)} values; {plan.main.name} has {len(schema)} columns"
            )
        converted = [
            _coerce_sql(value, {"name": name, "type": kind}, number, ts=name in ts_columns)
            for value, (name, kind) in zip(row, schema, strict=True)
        ]
        output.append(plan.output_row(converted))
    return Result(plan.output_schema, output)


class _TableScope:
    def __init__(self, table, alias: str) -> None:
        self.names = table.column_names
        self.types = [column["type"] for column in table.columns]
        self.aliases = {table.name, alias}
        self.aggregates: list[tuple[Any, list]] = []

    def column(self, table, name):
        if table and table not in self.aliases:
            raise ExpressionError(f"table {table} is not in the query")
        if name not in self.names:
            raise ExpressionError(f"column {name} does not exist")
        position = self.names.index(name) + 1
        return (lambda row: row[position]), self.types[position - 1]

    def window_call(self, node):
        if node.text("alias") != "__group":
            raise ExpressionError(f"window {node.text('alias')} is not defined")
        aggregate, args = compile_aggregate_args(node.this, _RowOnly(self))
        slot = len(self.aggregates)
        self.aggregates.append((aggregate, args))
        return (lambda group: group.values[slot]), aggregate.result_type([arg.type for arg in args])


class _RowOnly:
    def __init__(self, scope: _TableScope) -> None:
        self.scope = scope

    def column(self, table, name):
        return self.scope.column(table, name)

    def window_call(self, node):
        raise ExpressionError(f"aggregates cannot be nested: {node.sql()}")


@dataclass
class _Group:
    """A GROUP BY group as projections see it: its aggregates, and its first row's columns for the rest."""

    first: tuple
    values: list[Any] = field(default_factory=list)

    def __getitem__(self, position: int) -> Any:
        return self.first[position]


def _function_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return None


def _mark_aggregates(node: exp.Expression) -> tuple[exp.Expression, bool]:
    """Wrap plain aggregate calls (``count(*)``, ``sum(x)`` without OVER) as group windows."""
    found = False

    def mark(child):
        nonlocal found
        if isinstance(child, exp.Window):
            return child
        name = _function_name(child)
        if name and name in AGGREGATES and not isinstance(child.parent, exp.Window):
            found = True
            return exp.Window(this=child.copy(), alias=exp.to_identifier("__group"))
        return child

    return node.transform(mark), found


class _NoTable:
    """The scope of a SELECT without FROM: constants, parameters and functions, no columns."""

    def column(self, table, name):
        raise ExpressionError(f"column {name} does not exist: the SELECT has no FROM")

    def window_call(self, node):
        raise ExpressionError(f"{node.sql()} needs a table: the SELECT has no FROM")


def _constant_select(statement: Select) -> Result:
    """``SELECT 1``, ``SELECT ?+1 AS x, 'z' AS b``: one row of constants (none when WHERE is false or LIMIT 0)."""
    if statement.windows or statement.joins or statement.group_by or statement.having is not None:
        raise FeatureStoreError("a SELECT without FROM takes no WINDOW, JOIN, GROUP BY or HAVING")
    scope = _NoTable()
    projections = []
    for projection in statement.projections:
        node = projection.expression
        if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            raise FeatureStoreError("SELECT * needs a table: the SELECT has no FROM")
        compiled = compile_expression(node, scope)
        projections.append((projection.alias or compiled.name, compiled.fn, compiled.type))
    row: tuple = (None,)
    rows = [row]
    if statement.where is not None and compile_expression(statement.where, scope).fn(row) is not True:
        rows = []
    if statement.limit is not None:
        rows = rows[: statement.limit]
    return Result([(name, kind) for name, _, kind in projections], [[fn(r) for _, fn, _ in projections] for r in rows])


def _plain_select(db: str, statement: Select, *, offline: bool = False, inline_limit: int | None = None) -> Result:
    source = statement.source
    if source.name is None and source.subquery is None:
        return _constant_select(statement)
    table = table_get(db=source.db or db, name=source.name)
    if table is None:
        raise FeatureStoreError(f"table {source.name} does not exist in {source.db or db}")
    scope = _TableScope(table, source.alias or source.name)
    where = compile_expression(statement.where, scope).fn if statement.where is not None else None
    projections: list[tuple[str, Any, str]] = []
    grouped = bool(statement.group_by)
    for projection in statement.projections:
        node = projection.expression
        if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            for i, name in enumerate(scope.names):
                projections.append((name, (lambda position: lambda row: row[position])(i + 1), scope.types[i]))
            continue
        marked, has_aggregate = _mark_aggregates(node)
        grouped = grouped or has_aggregate
        compiled = compile_expression(marked, scope)
        name = projection.alias or (_aggregate_name(node) if has_aggregate else compile_expression(node, scope).name)
        projections.append((name, compiled.fn, compiled.type))
    having = None
    if statement.having is not None:
        marked, has_aggregate = _mark_aggregates(statement.having)
        grouped = True
        having = compile_expression(marked, scope).fn
    # Without WHERE, grouping or ORDER BY only the first rows are needed: read no more (a big table is not loaded
    # into memory to answer its first rows, or to find that it has more than offsync answers inline).
    scan_limit = None
    if where is None and not grouped and not statement.order_by:
        scan_limit = statement.limit
        if inline_limit is not None:
            scan_limit = inline_limit + 1 if scan_limit is None else min(scan_limit, inline_limit + 1)
    if offline and offline_data.has_offline(table):
        con = connect()
        try:
            rows = fetch_rows(con, table, limit=scan_limit)
        finally:
            con.close()
    else:
        rows = storage.select_all(table, limit=scan_limit)
    if where is not None:
        rows = [row for row in rows if where(row) is True]
    if grouped:
        keys = [compile_expression(node, _RowOnly(scope)).fn for node in statement.group_by]
        groups: dict[tuple, list[tuple]] = {}
        for row in rows:
            groups.setdefault(tuple(key(row) for key in keys), []).append(row)
        if not groups and not keys:
            groups[()] = []
        output_rows = []
        for members in groups.values():
            newest_first = list(reversed(members))
            group = _Group(first=members[0] if members else ())
            for aggregate, args in scope.aggregates:
                group.values.append(aggregate.compute([[arg.fn(row) for row in newest_first] for arg in args]))
            if having is not None and having(group) is not True:
                continue
            output_rows.append([fn(group) for _, fn, _ in projections])
        result_rows = output_rows
    else:
        result_rows = [[fn(row) for _, fn, _ in projections] for row in rows]
    schema = [(name, kind) for name, _, kind in projections]
    if statement.order_by:
        result_rows = _order(result_rows, schema, statement.order_by, scope)
    if statement.limit is not None:
        result_rows = result_rows[: statement.limit]
    return Result(schema, result_rows)


def _aggregate_name(node: exp.Expression) -> str:
    """The output name of an unaliased projection holding an aggregate: its SQL, the function in lower case."""
    text = node.sql()
    found = re.match(r"([A-Za-z_]\w*)\((.*)\)$", text, re.S)
    return f"{found.group(1).lower()}({found.group(2)})" if found else text


def _order(rows, schema, order_by, scope):
    names = [name for name, _ in schema]
    keys = []
    for node, descending in order_by:
        if isinstance(node, exp.Column) and node.name in names and not node.table:
            position = names.index(node.name)
        elif isinstance(node, exp.Literal) and node.is_int:
            position = int(node.name) - 1
        else:
            raise FeatureStoreError(f"ORDER BY {node.sql()} must name an output column")
        keys.append((position, descending))

    def compare(a, b):
        for position, descending in keys:
            x, y = a[position], b[position]
            if x == y:
                continue
            if x is None or y is None:
                result = -1 if x is None else 1
            else:
                result = -1 if x < y else 1
            return -result if descending else result
        return 0

    return sorted(rows, key=cmp_to_key(compare))


# --- offasync ---------------------------------------------------------------------------------------------------
def _job_type(statement) -> str:
    if isinstance(statement, LoadData):
        return "ImportOfflineData"
    if isinstance(statement, SelectInto) or (isinstance(statement, ExecuteDeployment) and statement.path):
        return "ExportOfflineData"
    return "RunBatchAndShow"


def _submit_offline_job(session: Session, sql: str, statement) -> Result:
    """Submit the statements as a job of the job core (engine ``sql``); answer upstream's job result set."""
    job = offline_jobs.submit(user=session.user, db=session.db, sql=sql, job_type=_job_type(statement))
    return Result(offline_jobs.JOB_SCHEMA, [offline_jobs.job_row(job)], job=job)
