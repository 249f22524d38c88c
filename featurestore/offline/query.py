"""Offline SELECTs with windows or LAST JOINs: every row of the main table, with its features point-in-time.

The request plan (``featurestore.engine.RequestPlan``) checks and types the query. The rows are then computed by
one set-based DuckDB query (``featurestore.offline.compiler``) over the tables' canonical relations
(``featurestore.offline.sources``); a query the compiler cannot express, or one DuckDB fails on (an integer
overflow, say), is computed by the per-row plan instead: request mode for each main row over the rows before it,
held in memory. ``OfflineResult.how`` says which ran, and for the per-row plan which construct forced it; jobs
print it in their log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
from duckdb.func import FunctionNullHandling

from featurestore import services
from featurestore.engine import RequestPlan
from featurestore.models import FeatureTable
from featurestore.offline import export
from featurestore.offline.compiler import DERIVED, Compiled, Unsupported, compile_select
from featurestore.offline.duck import connect
from featurestore.offline.options import OutfileOptions
from featurestore.offline.sources import MemoryRowSource, canonical_sql, fetch_rows, register_rows, rows_sql
from featurestore.sqlcore.sqlir import Select

logger = logging.getLogger(__name__)

COMPILED = "compiled to DuckDB SQL"


@dataclass
class OfflineResult:
    schema: list[tuple[str, str]]
    rows: list[list[Any]] = field(default_factory=list)
    how: str = ""  # what computed it, for the job log
    count: int = 0  # rows written (export)


def plan_tables(plan: RequestPlan) -> dict[int, FeatureTable]:
    """Every table a plan reads: the main table, union tables, LAST JOIN tables (nested plans too)."""
    found = {plan.main.pk: plan.main}
    for window in plan.windows.values():
        for source in window.sources:
            found[source.table.pk] = source.table
    for join in plan.joins:
        if join.table is not None:
            found[join.table.pk] = join.table
        if join.subplan is not None:
            found.update(plan_tables(join.subplan))
    if plan.inner is not None:
        found.update(plan_tables(plan.inner))
    return found


class _Offline:
    """One offline query: its plan, a DuckDB connection and the tables' relations in it."""

    def __init__(self, db: str, select: Select, limit: int | None) -> None:
        self.plan = services.plan_compile(db=db, select=select)
        self.select = select
        self.limit = limit
        self.con = connect()
        self.tables = plan_tables(self.plan)
        self.relations = {pk: canonical_sql(self.con, table) for pk, table in self.tables.items()}
        self.compiled: Compiled | None = None
        self.how = COMPILED
        try:
            self.compiled = compile_select(select, self.plan, self.relations, limit=limit)
        except Unsupported as exc:
            self.fall_back(str(exc))
        if self.compiled is not None and self.compiled.derived:
            self.derive(self.compiled.derived)
        if self.compiled is not None:
            for udf in self.compiled.udfs:
                self.con.create_function(
                    udf.name, udf.fn, [duckdb.sqltype(t) for t in udf.parameters], duckdb.sqltype(udf.result),
                    null_handling=FunctionNullHandling.SPECIAL, side_effects=False,
                )  # fmt: skip

    def derive(self, derived: list) -> None:
        """Compute the values of the main rows the compiled query reads from ``DERIVED``, by the engine."""
        rows = fetch_rows(self.con, self.plan.main, self.relations[self.plan.main.pk])
        values = [[fn(row[1:]) for _, fn, _ in derived] for row in rows]
        register_rows(self.con, "__derived_rows", [kind for _, _, kind in derived], values, seq=[r[0] for r in rows])
        names = [name for name, _, _ in derived]
        select = rows_sql("__derived_rows", [kind for _, _, kind in derived], seq=True, names=names)
        self.con.execute(f"CREATE TEMP TABLE {DERIVED} AS {select}")

    def fall_back(self, why: str) -> None:
        self.compiled = None
        self.how = f"per-row plan: {why} is not compiled to set-based SQL"
        logger.info("offline query computed row by row: %s", why)

    def rows(self, progress: Callable[[float], None] | None) -> list[list[Any]]:
        if self.compiled is not None:
            try:
                fetched = self.con.execute(self.compiled.sql).fetchall()
                fns = self.compiled.row_fns
                if fns is None:
                    return [list(row) for row in fetched]
                return [[fn(row) for fn in fns] for row in fetched]
            except duckdb.Error as exc:
                self.fall_back(f"what DuckDB refused ({str(exc).splitlines()[0]})")
        tables = {pk: fetch_rows(self.con, table, self.relations[pk]) for pk, table in self.tables.items()}
        return per_row(self.plan, tables, limit=self.limit, progress=progress)

    def close(self) -> None:
        self.con.close()


def run(db: str, select: Select, *, limit: int | None = None,
        progress: Callable[[float], None] | None = None) -> OfflineResult:  # fmt: skip
    """Compute the offline result of ``select`` (at most ``limit`` rows)."""
    query = _Offline(db, select, limit)
    try:
        rows = query.rows(progress)
        return OfflineResult(query.plan.output_schema, rows, query.how, len(rows))
    finally:
        query.close()


def write(db: str, select: Select, uri: str, options: OutfileOptions) -> OfflineResult:
    """Compute the offline result of ``select`` into files at ``uri`` (``featurestore.offline.export``)."""
    query = _Offline(db, select, select.limit)
    try:
        schema = query.plan.output_schema
        if query.compiled is not None and query.compiled.row_fns is None:
            try:
                count = export.write_sql(query.con, query.compiled.sql, uri, options)
                return OfflineResult(schema, [], query.how, count)
            except duckdb.Error as exc:
                query.fall_back(f"what DuckDB refused ({str(exc).splitlines()[0]})")
        rows = query.rows(None)
        return OfflineResult(schema, [], query.how, export.write_rows(schema, rows, uri, options))
    finally:
        query.close()


def per_row(plan: RequestPlan, tables: dict[int, list[tuple]], *, limit: int | None = None,
            progress: Callable[[float], None] | None = None) -> list[list[Any]]:  # fmt: skip
    """The per-row plan: each main row computed by request mode over the rows before it."""
    source = MemoryRowSource(tables, plan.main.pk)
    main = tables[plan.main.pk]
    if limit is not None:
        main = main[:limit]
    now = int(time.time() * 1000)
    out = []
    step = max(len(main) // 100, 1000)
    for number, row in enumerate(main):
        source.current = row
        out.append(plan.output_row(row[1:], source, now))
        if progress is not None and number % step == 0:
            progress(number / max(len(main), 1))
    return out
