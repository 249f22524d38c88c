"""Write paths of the feature store: databases, tables, rows, deployments, TTL expiry; and the plan cache.

Refusals are ``FeatureStoreError`` (``featurestore.errors``, re-exported here), carrying OpenMLDB's status code:
-1 for the APIServer's own checks, 2000 (``kCmdError``) for failed DDL and inserts, as upstream answers them.
Everything created here is named by an OpenMLDB identifier (``featurestore.limits``); dropping goes by any stored
name.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, connection, transaction
from sqlglot import exp

from featurestore import storage
from featurestore.engine import EngineError, RequestPlan
from featurestore.errors import CMD_ERROR, FeatureStoreError  # callers also catch services.FeatureStoreError
from featurestore.limits import name_error
from featurestore.models import Database, Deployment, FeatureTable
from featurestore.offline import data as offline_data
from featurestore.selectors import database_get, deployment_get, table_get
from featurestore.sqlcore.expressions import ExpressionError
from featurestore.sqlcore.functions import FunctionError
from featurestore.sqlcore.sqlir import CreateProcedure, CreateTable, Deploy, IndexDef, Select

# --- plan cache -------------------------------------------------------------------------------------------------
# Deployments compile once per process. Catalog changes made here clear the cache; changes made by another
# process are seen after POST /refresh, as with OpenMLDB's APIServer.
_plans: dict[int, tuple[Deployment, RequestPlan]] = {}
_tables: dict[tuple[str, str], FeatureTable] = {}
_plans_lock = threading.Lock()


def catalog_refresh() -> None:
    """Forget compiled plans and cached tables (POST /refresh, or after a catalog change)."""
    with _plans_lock:
        _plans.clear()
        _tables.clear()


def table_cached(*, db: str, name: str) -> FeatureTable | None:
    """The table's catalog row, read once per process (inserts look it up on every request)."""
    key = (db, name)
    table = _tables.get(key)
    if table is None:
        table = table_get(db=db, name=name)
        if table is not None:
            with _plans_lock:
                _tables[key] = table
    return table


def table_lookup(db: str):
    """Return a function resolving ``[db.]name`` to a feature table, raising EngineError for unknown ones."""

    def lookup(database: str | None, name: str) -> FeatureTable:
        table = table_get(db=database or db, name=name)
        if table is None:
            raise EngineError(f"table {name} does not exist in {database or db}", code=CMD_ERROR)
        return table

    return lookup


def plan_compile(*, db: str, select: Select) -> RequestPlan:
    """Compile a SELECT for request mode, translating planning errors into FeatureStoreError."""
    try:
        return RequestPlan(select, table_lookup(db), db)
    except (ExpressionError, FunctionError) as exc:
        raise FeatureStoreError(str(exc), CMD_ERROR) from None


def deployment_plan(*, db: str, name: str) -> tuple[Deployment, RequestPlan] | None:
    """Return the deployment and its compiled plan (compiled once per process), or None if it does not exist."""
    cached: tuple[Deployment, RequestPlan] | None = None
    with _plans_lock:
        for deployment, plan in _plans.values():
            if deployment.name == name and deployment.database.name == db:
                cached = (deployment, plan)
                break
    if cached is not None:
        return cached
    stored = deployment_get(db=db, name=name)
    if stored is None:
        return None
    from featurestore.sqlcore.dialect import parse_one

    select = parse_one(stored.sql)
    if not isinstance(select, Select):  # a deployment's SQL is a SELECT (deployment_create checked it)
        raise FeatureStoreError(f"deployment {name} does not hold a SELECT", CMD_ERROR)
    plan = plan_compile(db=db, select=select)
    with _plans_lock:
        _plans[stored.pk] = (stored, plan)
    return stored, plan


def _check_names(what: str, *names: str | None) -> None:
    """Refuse a name that is not an OpenMLDB identifier (None: a name the platform generates)."""
    for name in names:
        if name is None:
            continue
        error = name_error(what, name)
        if error is not None:
            raise FeatureStoreError(error)


# --- databases --------------------------------------------------------------------------------------------------
@transaction.atomic
def database_create(*, name: str, if_not_exists: bool = False) -> Database:
    _check_names("database", name)
    existing = database_get(name=name)
    if existing is not None:
        if if_not_exists:
            return existing
        raise FeatureStoreError("Create database failed for database already exists")
    return Database.objects.create(name=name)


@transaction.atomic
def database_drop(*, name: str, if_exists: bool = False) -> None:
    database = database_get(name=name)
    if database is None:
        if if_exists:
            return
        raise FeatureStoreError(f"database {name} does not exist")
    if database.tables.exists() or database.deployments.exists():
        raise FeatureStoreError(f"database {name} is not empty: drop its deployments and tables first")
    database.delete()
    catalog_refresh()


# --- tables -----------------------------------------------------------------------------------------------------
def _index_dict(index: IndexDef, position: int) -> dict:
    return {
        "name": index.name or f"INDEX_{position}",
        "keys": list(index.keys),
        "ts": index.ts,
        "ttl_type": index.ttl_type or "absolute",
        "abs_ttl": index.abs_ttl or 0,
        "lat_ttl": index.lat_ttl or 0,
    }


@transaction.atomic
def table_create(*, db: str, statement: CreateTable) -> FeatureTable:
    """Create a table: its catalog row and its physical table with one B-tree index per OpenMLDB index."""
    _check_names("table", statement.name)
    _check_names("column", *(column.name for column in statement.columns))
    _check_names("index", *(index.name for index in statement.indexes))
    database = database_get(name=statement.db or db)
    if database is None:
        raise FeatureStoreError(f"database {statement.db or db} does not exist")
    if table_get(db=database.name, name=statement.name) is not None:
        existing = table_get(db=database.name, name=statement.name)
        if statement.if_not_exists and existing is not None:
            return existing
        raise FeatureStoreError(f"table {statement.name} already exists in {database.name}")
    names = [column.name for column in statement.columns]
    if len(set(names)) != len(names):
        raise FeatureStoreError(f"table {statement.name} has duplicate column names")
    types = dict(zip(names, (column.type for column in statement.columns), strict=True))
    indexes = statement.indexes or [IndexDef(keys=[names[0]])]  # OpenMLDB indexes the first column by default
    for index in indexes:
        for key in index.keys:
            if key not in types:
                raise FeatureStoreError(f"index key {key} is not a column of {statement.name}")
        if index.ts is not None:
            if index.ts not in types:
                raise FeatureStoreError(f"index ts {index.ts} is not a column of {statement.name}")
            if types[index.ts] not in ("timestamp", "int64"):
                raise FeatureStoreError(
                    f"index ts column {index.ts} must be timestamp or bigint, not {types[index.ts]}"
                )
    table = FeatureTable(
        database=database,
        name=statement.name,
        columns=[
            {"name": c.name, "type": c.type, "not_null": c.not_null, "default": _json_default(c.default)}
            for c in statement.columns
        ],
        indexes=[_index_dict(index, i) for i, index in enumerate(indexes)],
        options=dict(statement.options),
        storage_table=f"fs_tmp_{time.time_ns()}",
    )
    try:
        with transaction.atomic():
            table.save()
    except IntegrityError:
        raise FeatureStoreError(f"table {statement.name} already exists in {database.name}") from None
    table.storage_table = storage.physical_name(table.pk)
    table.save(update_fields=["storage_table"])
    storage.create_table(table)
    catalog_refresh()
    return table


def _json_default(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@transaction.atomic
def table_drop(*, db: str, name: str, if_exists: bool = False) -> None:
    table = table_get(db=db, name=name)
    if table is None:
        if if_exists:
            return
        raise FeatureStoreError(f"table {name} does not exist in {db}")
    users = [d.name for d in Deployment.objects.filter(database__name=db) if f"{db}.{name}" in d.tables]
    if users:
        raise FeatureStoreError(f"table {name} is used by deployment(s) {', '.join(users)}; drop them first")
    storage.drop_table(table)
    offline_data.drop(table)
    table.delete()
    catalog_refresh()


# SQLite lets one writer in at a time and makes the others sleep and retry with growing pauses; queueing this
# process's inserts on a lock instead keeps single-row PUTs from many connections free of those long tails.
_sqlite_writes = threading.Lock()


def rows_insert(*, table: FeatureTable, rows: Sequence[Sequence[Any]]) -> int:
    """Insert rows (engine values in schema order) all or nothing; return how many were committed."""
    lock = _sqlite_writes if connection.vendor == "sqlite" else contextlib.nullcontext()
    with lock, transaction.atomic():
        storage.insert_rows(table, rows)
    return len(rows)


def rows_insert_stored(*, table: FeatureTable, batches: Iterable[Sequence[Sequence[Any]]]) -> int:
    """Insert batches of rows already in stored form (``storage.encoders``), all or nothing; return the count."""
    lock = _sqlite_writes if connection.vendor == "sqlite" else contextlib.nullcontext()
    count = 0
    with lock, transaction.atomic(), storage.bulk_load():
        for batch in batches:
            storage.insert_stored(table, batch)
            count += len(batch)
    return count


# --- deployments ------------------------------------------------------------------------------------------------
def _bias(value: str | None, *, rows: bool) -> int | None:
    """OPTIONS(ROWS_BIAS / RANGE_BIAS): None = no bias, 0 = infinite (keep everything), else rows or minutes."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text == "inf":
        return 0
    units = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    multiplier = 1
    if not rows and text and text[-1] in units:
        multiplier, text = units[text[-1]], text[:-1]
    try:
        number = int(text)
    except ValueError:
        raise FeatureStoreError(f"invalid {'ROWS' if rows else 'RANGE'}_BIAS {value!r}") from None
    return number if rows else math.ceil(number * multiplier / 60_000)


def _ttl_components(index: dict | None) -> tuple[int | None, int | None]:
    """(absolute minutes, latest rows) an index keeps by; None = that dimension does not apply, 0 = unbounded."""
    if not index:
        return None, None
    ttl_type, abs_ttl, lat_ttl = (
        index.get("ttl_type") or "absolute",
        index.get("abs_ttl") or 0,
        index.get("lat_ttl") or 0,
    )
    if ttl_type == "absolute":
        return abs_ttl, None
    if ttl_type == "latest":
        return None, lat_ttl
    if ttl_type == "absorlat":  # expired by either rule: an unbounded dimension simply never triggers
        return (abs_ttl or None), (lat_ttl or None)
    return abs_ttl, lat_ttl  # absandlat


def _merge_ttl(index: dict | None, abs_need: int | None, lat_need: int | None) -> dict:
    """Return the index's TTL widened so that every row it or a deployment needs stays (0 = unbounded wins).

    OpenMLDB's DEPLOY takes the larger TTL per dimension. Mixing an absolute and a latest need keeps a row that
    either keeps (absandlat: expired only when both say so); an unbounded dimension then keeps every row.
    """

    def bigger(a, b):
        if a is None or b is None:
            return b if a is None else a
        return 0 if a == 0 or b == 0 else max(a, b)

    current = _ttl_components(index)
    abs_ttl, lat_ttl = bigger(current[0], abs_need), bigger(current[1], lat_need)
    merged = dict(index or {})
    if abs_ttl == 0 or lat_ttl == 0 or (abs_ttl is None and lat_ttl is None):
        merged.update(ttl_type="absolute", abs_ttl=0, lat_ttl=0)
    elif abs_ttl is not None and lat_ttl is not None:
        merged.update(ttl_type="absandlat", abs_ttl=abs_ttl, lat_ttl=lat_ttl)
    elif abs_ttl is not None:
        merged.update(ttl_type="absolute", abs_ttl=abs_ttl, lat_ttl=0)
    else:
        merged.update(ttl_type="latest", abs_ttl=0, lat_ttl=lat_ttl)
    if index and (abs_need, lat_need) == (None, None):
        return dict(index)
    if index and index.get("ttl_type") == "absorlat" and _ttl_components(merged) == current:
        return dict(index)
    return merged


def _index_needs(plan: RequestPlan, options: dict) -> list[tuple[FeatureTable, list[str], str | None, int | None,
                                                                   int | None]]:  # fmt: skip
    """(table, keys, ts, abs minutes, lat rows) for every window source and LAST JOIN of the plan."""
    rows_bias, range_bias = _bias(options.get("ROWS_BIAS"), rows=True), _bias(options.get("RANGE_BIAS"), rows=False)
    needs: list[tuple[FeatureTable, list[str], str | None, int | None, int | None]] = []
    for window in plan.windows.values():
        frame = window.frame
        abs_need = lat_need = None
        if frame.kind == "rows":
            lat_need = 0 if frame.start.kind == "unbounded" else frame.start.offset
            if rows_bias is not None and lat_need:
                lat_need = 0 if rows_bias == 0 else lat_need + rows_bias
        else:
            abs_need = 0 if frame.start.kind == "unbounded" else max(1, math.ceil((frame.start.offset or 0) / 60_000))
            if range_bias is not None and abs_need:
                abs_need = 0 if range_bias == 0 else abs_need + range_bias
        for source in window.sources:
            keys = [source.table.column_names[i] for i in source.key_positions]
            window_ts = source.table.column_names[source.ts_position] if source.ts_position is not None else None
            needs.append((source.table, keys, window_ts, abs_need, lat_need))
    for join in plan.joins:
        if join.table is not None:
            keys = [join.names[i] for i, _ in join.keys]
            ts = join.names[join.order_position] if join.order_position is not None else None
            needs.append((join.table, keys, ts, None, 1))
    return needs


@transaction.atomic
def deployment_create(*, db: str, statement: Deploy, user=None, procedure: CreateProcedure | None = None) -> Deployment:
    """Deploy a SELECT: compile it once (refusing what cannot run), add or widen the indexes it needs, store it.

    ``procedure``: ``CREATE PROCEDURE``; its parameters must be the main table's columns (names and types, in
    order), and its ``const`` ones are the common columns of each call.
    """
    kind = "procedure" if procedure is not None else "deployment"
    _check_names(kind, statement.name)
    database = database_get(name=statement.db or db)
    if database is None:
        raise FeatureStoreError(f"database {statement.db or db} does not exist")
    existing = deployment_get(db=database.name, name=statement.name)
    if existing is not None:
        if statement.if_not_exists:
            return existing
        raise FeatureStoreError(f"{existing.kind} {statement.name} already exists in {database.name}")
    plan = plan_compile(db=database.name, select=statement.select)
    common: list[str] = []
    output_common: list[str] = []
    if procedure is not None:
        common = _procedure_common(procedure, plan)
        output_common = _output_common(statement.select, plan, set(common))
    options = {key.upper(): str(value) for key, value in statement.options.items()}
    if options.get("SKIP_INDEX_CHECK", "").lower() != "true":
        for table, keys, ts, abs_need, lat_need in _index_needs(plan, options):
            _ensure_index(table, keys, ts, abs_need, lat_need)
    tables = sorted({f"{database.name}.{plan.main.name}"} | _tables_of(plan, database.name))
    deployment = Deployment.objects.create(
        database=database,
        name=statement.name,
        sql=statement.sql,
        options=options,
        input_schema=[{"name": name, "type": kind} for name, kind in plan.input_schema],
        output_schema=[{"name": name, "type": kind} for name, kind in plan.output_schema],
        tables=tables,
        kind=kind,
        common_columns=common,
        output_common_columns=output_common,
        created_by=user if getattr(user, "pk", None) else None,
    )
    catalog_refresh()
    return deployment


def procedure_create(*, db: str, statement: CreateProcedure, user=None) -> Deployment:
    """``CREATE PROCEDURE``: a deployment whose ``const`` columns are sent once per call (``common_cols``)."""
    deploy = Deploy(name=statement.name, select=statement.select, sql=statement.sql, db=statement.db)
    return deployment_create(db=db, statement=deploy, user=user, procedure=statement)


def _procedure_common(procedure: CreateProcedure, plan: RequestPlan) -> list[str]:
    declared = [(param.name, param.type) for param in procedure.params]
    if declared != list(plan.input_schema):
        expected = ", ".join(f"{name} {kind}" for name, kind in plan.input_schema)
        raise FeatureStoreError(
            f"the parameters of procedure {procedure.name} must be the columns of {plan.main.name}, in order: "
            f"({expected})"
        )
    return [param.name for param in procedure.params if param.const]


def _output_common(select: Select, plan: RequestPlan, common: set[str]) -> list[str]:
    """The output columns computed from common input columns only (no window, no other column), as upstream's
    planner marks them constant; none when the projections cannot be matched to the output one to one."""
    main_names = {plan.main.name, select.source.alias} - {None}
    marks: list[bool] = []
    for projection in select.projections:
        node = projection.expression
        star = isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star))
        if star:
            if select.joins or (isinstance(node, exp.Column) and node.table and node.table not in main_names):
                return []
            marks.extend(column["name"] in common for column in plan.main.columns)
            continue
        columns = list(node.find_all(exp.Column))
        marks.append(
            bool(columns)
            and node.find(exp.Window) is None
            and all(column.name in common and (not column.table or column.table in main_names) for column in columns)
        )
    if len(marks) != len(plan.output_schema):
        return []
    return [name for (name, _), mark in zip(plan.output_schema, marks, strict=True) if mark]


def _tables_of(plan: RequestPlan, db: str) -> set[str]:
    names = set()
    for window in plan.windows.values():
        names |= {f"{source.table.database.name}.{source.table.name}" for source in window.sources}
    for join in plan.joins:
        if join.table is not None:
            names.add(f"{join.table.database.name}.{join.table.name}")
        elif join.subplan is not None:
            names |= _tables_of(join.subplan, db)
    if plan.inner is not None:
        names |= _tables_of(plan.inner, db)
    return names


def _ensure_index(table: FeatureTable, keys: list[str], ts: str | None, abs_need, lat_need) -> None:
    table = FeatureTable.objects.select_for_update().get(pk=table.pk)
    for position, index in enumerate(table.indexes):
        if sorted(index["keys"]) == sorted(keys) and index.get("ts") == ts:
            merged = _merge_ttl(index, abs_need, lat_need)
            if merged != index:
                table.indexes[position] = merged
                table.save(update_fields=["indexes"])
            return
    index = {"name": f"INDEX_{len(table.indexes)}", "keys": keys, "ts": ts, **_merge_ttl(None, abs_need, lat_need)}
    table.indexes = [*table.indexes, index]
    table.save(update_fields=["indexes"])
    storage.create_index(table, index, len(table.indexes) - 1)


@transaction.atomic
def deployment_drop(*, db: str, name: str, if_exists: bool = False, kind: str = "deployment") -> None:
    """``DROP DEPLOYMENT`` (``kind`` deployment) or ``DROP PROCEDURE`` (procedure): each drops only its own kind."""
    deployment = deployment_get(db=db, name=name)
    if deployment is None or deployment.kind != kind:
        if if_exists:
            return
        raise FeatureStoreError(f"{kind} {name} does not exist in {db}")
    deployment.delete()
    catalog_refresh()


# --- TTL expiry -------------------------------------------------------------------------------------------------
def ttl_expire(*, table: FeatureTable, now_ms: int | None = None) -> int:
    """Delete the rows every index of the table considers expired; return how many were deleted.

    A row is kept while any index keeps it (OpenMLDB keeps per-index data; here rows are shared).
    """
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    keeps_all = any(
        not index.get("ts") or not (index.get("abs_ttl") or index.get("lat_ttl")) for index in table.indexes
    )
    if keeps_all or not table.indexes:
        return 0
    doomed: set[int] | None = None
    for index in table.indexes:
        expired = _expired_ids(table, index, now)
        doomed = expired if doomed is None else doomed & expired
    with transaction.atomic():
        deleted = 0
        ids = sorted(doomed or ())
        for start in range(0, len(ids), 500):
            deleted += storage.delete_ids(table, ids[start : start + 500])
    return deleted


def _expired_ids(table: FeatureTable, index: dict, now: int) -> set[int]:
    ts = table.position(index["ts"])
    keys = [table.position(key) for key in index["keys"]]
    ttl_type, abs_ttl, lat_ttl = (
        index.get("ttl_type") or "absolute",
        index.get("abs_ttl") or 0,
        index.get("lat_ttl") or 0,
    )
    cutoff = now - abs_ttl * 60_000 if abs_ttl else None
    groups: dict[tuple, list[tuple[int, int]]] = {}
    for row in storage.select_all(table):
        groups.setdefault(tuple(row[1 + k] for k in keys), []).append((row[1 + ts] or 0, row[0]))
    expired = set()
    for rows in groups.values():
        rows.sort(reverse=True)
        for rank, (ts_value, row_id) in enumerate(rows):
            old = cutoff is not None and ts_value < cutoff
            beyond = bool(lat_ttl) and rank >= lat_ttl
            dead = {
                "absolute": old,
                "latest": beyond,
                "absandlat": old and beyond,
                "absorlat": old or beyond,
            }[ttl_type]
            if dead:
                expired.add(row_id)
    return expired
