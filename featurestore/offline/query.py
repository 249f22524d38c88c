"""Offline SELECTs with windows or LAST JOINs: every row of the main table, with its features point-in-time.

``run(db, select)`` answers the main table's offline rows (``featurestore.offline.sources``) in ``__seq`` order,
each with the features request mode computes for it from the rows before it in time order. The request plan
(``featurestore.engine.RequestPlan``) checks and types the query; the rows are computed by the per-row plan over
the rows held in memory (``MemoryRowSource``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from featurestore import services
from featurestore.engine import RequestPlan
from featurestore.models import FeatureTable
from featurestore.offline.duck import connect
from featurestore.offline.sources import MemoryRowSource, fetch_rows
from featurestore.sqlcore.sqlir import Select

logger = logging.getLogger(__name__)


@dataclass
class OfflineResult:
    schema: list[tuple[str, str]]
    rows: list[list[Any]] = field(default_factory=list)
    how: str = ""  # what computed it, for the job log


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


def run(db: str, select: Select, *, limit: int | None = None, con: duckdb.DuckDBPyConnection | None = None,
        progress: Callable[[float], None] | None = None) -> OfflineResult:  # fmt: skip
    """Compute the offline result of ``select`` (at most ``limit`` rows)."""
    plan = services.plan_compile(db=db, select=select)
    own = con is None
    con = con or connect()
    try:
        tables = {pk: fetch_rows(con, table) for pk, table in plan_tables(plan).items()}
    finally:
        if own:
            con.close()
    return OfflineResult(plan.output_schema, per_row(plan, tables, limit=limit, progress=progress), "per-row plan")


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
