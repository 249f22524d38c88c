"""Read paths of the feature store: the catalog, and stored rows as clients see them.

``<entity>_get`` returns the object or None, never raises: what a missing one means is the caller's to say (the
OpenMLDB wire answers upstream's message, the console a 404). The services' cached reads follow the same rule
(``services.table_cached``, ``services.deployment_plan``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from featurestore import storage
from featurestore.jsonx import output_value
from featurestore.models import Database, Deployment, FeatureTable
from featurestore.offline import data as offline_data
from featurestore.offline.duck import column as name_of
from featurestore.offline.duck import connect
from jobs.selectors import job_list_from


def database_get(*, name: str) -> Database | None:
    return Database.objects.filter(name=name).first()


def database_list() -> QuerySet[Database]:
    return Database.objects.order_by("name")


def table_get(*, db: str, name: str) -> FeatureTable | None:
    return FeatureTable.objects.select_related("database").filter(database__name=db, name=name).first()


def table_list(*, db: str) -> QuerySet[FeatureTable]:
    return FeatureTable.objects.select_related("database").filter(database__name=db).order_by("name")


def deployment_get(*, db: str, name: str) -> Deployment | None:
    return Deployment.objects.select_related("database").filter(database__name=db, name=name).first()


def deployment_list(*, db: str | None = None, kind: str | None = None) -> QuerySet[Deployment]:
    """Deployments and procedures (``kind``: only ``deployment`` or ``procedure``)."""
    query = Deployment.objects.select_related("database")
    if db is not None:
        query = query.filter(database__name=db)
    if kind is not None:
        query = query.filter(kind=kind)
    return query.order_by("database__name", "name")


def table_row_count(table: FeatureTable) -> int:
    """How many rows the table holds."""
    return storage.count_rows(table)


def table_newest_rows(table: FeatureTable, *, limit: int) -> list[list[Any]]:
    """The table's ``limit`` newest rows, newest first, each value as the APIServer outputs it (JSON-native:
    timestamps as ms, dates as text, NaN as a float)."""
    types = [column["type"] for column in table.columns]
    rows = storage.select_all(table, limit=limit, newest_first=True)
    return [[output_value(value, kind) for value, kind in zip(row[1:], types, strict=True)] for row in rows]


def deployment_main_table(deployment: Deployment) -> FeatureTable | None:
    """The table whose rows are the deployment's requests: the one of its tables with its input schema."""
    wanted = [(column["name"], column["type"]) for column in deployment.input_schema]
    for qualified in deployment.tables:
        db, _, name = qualified.partition(".")
        table = table_get(db=db, name=name)
        if table is not None and [(c["name"], c["type"]) for c in table.columns] == wanted:
            return table
    return None


def offline_table_info(table: FeatureTable) -> dict[str, Any] | None:
    """Upstream's ``offline_table_info`` of a table (path, format, deep_copy, options, symbolic_paths), or None."""
    return offline_data.table_info(table)


def offline_first_rows(table: FeatureTable, *, limit: int) -> list[list[Any]]:
    """The first ``limit`` rows of the table's offline data in load order (APIServer output values); [] without."""
    if not offline_data.has_offline(table):
        return []
    types = [column["type"] for column in table.columns]
    con = connect()
    try:
        names = ", ".join(name_of(i) for i in range(len(types)))
        relation = offline_data.relation(con, table)
        rows = con.execute(f"SELECT {names} FROM ({relation}) ORDER BY __seq LIMIT {int(limit)}").fetchall()  # noqa: S608
    finally:
        con.close()
    return [[output_value(value, kind) for value, kind in zip(row, types, strict=True)] for row in rows]


def offline_row_count(table: FeatureTable) -> int | None:
    """Rows in the table's deep copy (soft copies are counted only when read); None without offline data."""
    return offline_data.row_count(table)


def feature_jobs(*, user, db: str | None = None) -> list:
    """The feature store's jobs (offasync statements) the user may see, newest first, of database ``db``."""
    jobs = job_list_from(user=user, source_api="featurestore").order_by("-pk")
    if db is None:
        return list(jobs)
    return [job for job in jobs if (((job.params or {}).get("configuration") or {}).get("runtime") or {}).get(
        "openmldb.db") == db]  # fmt: skip


#: A value of each type for a request row when the deployment's main table has no row to copy.
PLACEHOLDERS: dict[str, Any] = {"bool": False, "int16": 0, "int32": 0, "int64": 0, "float": 0.0, "double": 0.0,
                                "string": ""}  # fmt: skip


def deployment_example_row(deployment: Deployment) -> list[Any]:
    """A request row the deployment accepts: its main table's newest row, or a placeholder per input column (now
    for timestamps, today in UTC+8 for dates, as OpenMLDB's time functions count)."""
    table = deployment_main_table(deployment)
    if table is not None:
        newest = table_newest_rows(table, limit=1)
        if newest:
            return newest[0]
    now = timezone.now()
    today = now.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    date = f"{today.year}-{today.month}-{today.day}"  # OpenMLDB's spelling: no zero padding
    placeholders = {**PLACEHOLDERS, "timestamp": int(now.timestamp() * 1000), "date": date}
    return [placeholders[column["type"]] for column in deployment.input_schema]


def table_rows_by_key(table: FeatureTable, *, index: dict, values: list[Any], limit: int) -> list[list[Any]]:
    """The newest ``limit`` rows whose index key columns equal ``values`` (engine values), newest first by the
    index's ts, each value as the APIServer outputs it."""
    keys = [(table.position(name), value) for name, value in zip(index["keys"], values, strict=True)]
    ts = table.position(index["ts"]) if index.get("ts") else None
    rows = storage.scan(table, keys=keys, ts=ts, limit=limit)
    types = [column["type"] for column in table.columns]
    return [[output_value(value, kind) for value, kind in zip(row[1:], types, strict=True)] for row in rows]


def table_ts_columns(table: FeatureTable) -> frozenset[str]:
    """The columns some index of the table orders by (their values are epoch milliseconds in a range)."""
    return frozenset(index["ts"] for index in table.indexes if index.get("ts"))
