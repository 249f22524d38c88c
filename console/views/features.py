"""The feature explorer: databases, tables (schema, indexes, sample rows) and deployments, read through the feature
store's selectors. Sending a request row and the online SQL box run in the browser against the
OpenMLDB routes (``POST /dbs/{db}/deployments/{name}``, ``POST /dbs/{db}``), so they answer as clients see them."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404
from django.shortcuts import render

from featurestore.offline.jobs import job_row
from featurestore.selectors import (
    database_get,
    database_list,
    deployment_example_row,
    deployment_get,
    deployment_list,
    feature_jobs,
    offline_first_rows,
    offline_row_count,
    offline_table_info,
    table_get,
    table_list,
    table_newest_rows,
    table_row_count,
)

#: How many of a table's newest rows its page shows (as the admin does).
SAMPLE_ROWS = 20
#: How many of the newest offline jobs a database's page lists.
JOB_ROWS = 50

#: A value per column type for an example request row when the main table has no rows yet.


def _json(value: Any) -> str:
    """JSON text as OpenMLDB writes it (NaN and Infinity unquoted)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=True)


def _cell(value: Any) -> str | None:
    """A value as the page shows it: strings as they are, other values in JSON's spelling (true, NaN)."""
    if value is None or isinstance(value, str):
        return value
    return _json(value)


@login_required(login_url="console:login")
def features(request):
    databases = database_list().annotate(
        table_count=Count("tables", distinct=True), deployment_count=Count("deployments", distinct=True)
    )
    return render(request, "console/features.html", {"databases": databases})


@login_required(login_url="console:login")
def feature_db(request, db: str):
    database = database_get(name=db)
    if database is None:
        raise Http404(f"No database {db}.")
    tables = [
        {"table": table, "column_count": len(table.columns), "index_count": len(table.indexes)}
        for table in table_list(db=db)
    ]
    jobs = [
        {"id": job.pk, "type": row[1], "state": row[2], "sql": job.code, "created_at": job.created_at}
        for job, row in ((job, job_row(job)) for job in feature_jobs(user=request.user, db=db)[:JOB_ROWS])
    ]
    context = {"database": database, "tables": tables, "deployments": deployment_list(db=db), "jobs": jobs}
    return render(request, "console/feature_db.html", context)


@login_required(login_url="console:login")
def feature_table(request, db: str, table: str):
    found = table_get(db=db, name=table)
    if found is None:
        raise Http404(f"No table {table} in {db}.")
    samples = [[_cell(value) for value in row] for row in table_newest_rows(found, limit=SAMPLE_ROWS)]
    indexes = [
        {
            "name": index["name"],
            "keys": ", ".join(index["keys"]),
            "ts": index.get("ts") or "",
            "ttl_type": index.get("ttl_type") or "absolute",
            "abs_ttl": index.get("abs_ttl") or 0,
            "lat_ttl": index.get("lat_ttl") or 0,
        }
        for index in found.indexes
    ]
    name = f"{db}.{found.name}"
    offline = offline_table_info(found)
    context = {
        "offline": offline,
        "offline_rows": offline_row_count(found) if offline else None,
        "offline_samples": [[_cell(v) for v in row] for row in offline_first_rows(found, limit=SAMPLE_ROWS)],
        "table": found,
        "database": found.database,
        "indexes": indexes,
        "row_count": table_row_count(found),
        "samples": samples,
        "sample_limit": SAMPLE_ROWS,
        "deployments": [d for d in deployment_list() if name in d.tables],
    }
    return render(request, "console/feature_table.html", context)


@login_required(login_url="console:login")
def feature_deployment(request, db: str, name: str):
    deployment = deployment_get(db=db, name=name)
    if deployment is None:
        raise Http404(f"No deployment {name} in {db}.")
    context = {
        "deployment": deployment,
        "database": deployment.database,
        "example": _json(deployment_example_row(deployment)),
        "tables": [
            {"db": qualified.partition(".")[0], "name": qualified.partition(".")[2]} for qualified in deployment.tables
        ],
    }
    return render(request, "console/feature_deployment.html", context)
