"""OpenMLDB APIServer routes (contracts/openmldb.md §3): every answer is HTTP 200 with ``{code, msg, ...}``.

Bodies are read with OpenMLDB's extended JSON (``featurestore.jsonx``: unquoted NaN/Infinity, rapidjson's error
codes) straight from the request, not through DRF's parsers, and checked in the order upstream checks them so
the same bad body gets the same message (``featurestore.openmldb.bodies``, which also gives the OpenAPI schemas).
Beyond upstream (issue 4): ``PUT`` takes many rows, all or nothing; ``GET /dbs/{db}/deployments`` lists
deployments; errors name the row as well as the column and value.

Bad input (issue 13): a ts value outside the range the window engine computes on (``featurestore.limits``) is
refused by inserts and requests alike, with upstream's conversion message followed by ``--ts out of range [..]``;
``POST /dbs/{db}`` runs one statement per request (``featurestore.sql.execute``); names of what SQL creates are
OpenMLDB identifiers (``featurestore.services``).
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from dataplatform.api.exceptions import OpenMLDBError
from dataplatform.api.parsers import RawBodyParser
from dataplatform.api.viewsets import OpenMLDBAPIView
from featurestore import services
from featurestore import sql as sqlexec
from featurestore.jsonx import output_value, proto_type_name, schema_type_name
from featurestore.openmldb.bodies import CALL_DEPLOYMENT, PUT_ROWS, QUERY, Body, read_query
from featurestore.openmldb.errors import ok, wire_error
from featurestore.openmldb.rows import call_deployment, call_procedure, json_response, put_rows
from featurestore.selectors import (
    database_get,
    database_list,
    deployment_get,
    deployment_list,
    offline_table_info,
    table_get,
    table_list,
)

RESPONSES = {200: OpenApiTypes.OBJECT}


def _body_schema(body: Body, summary: str, example: str) -> dict:
    """``extend_schema`` arguments for a route that reads ``body``: its schema and example come from it."""
    return {
        "request": body.request(),
        "responses": RESPONSES,
        "summary": summary,
        "examples": [OpenApiExample(example, value=body.example, request_only=True)],
    }


class FeatureStoreView(OpenMLDBAPIView):
    parser_classes = [RawBodyParser]  # the views read request.body in upstream's order

    def get_permissions(self):
        # OpenMLDB's APIServer has no HTTP authentication; clients written for it send none. The platform lets
        # them in unless OPENMLDB_ALLOW_ANONYMOUS is off (the production profile's default); tokens always work.
        if settings.OPENMLDB_ALLOW_ANONYMOUS:
            return [AllowAny()]
        return [IsAuthenticated()]

    def handle_exception(self, exc):
        # The services' refusals carry OpenMLDB's status code: answer them as {code, msg} like the wire's own.
        return super().handle_exception(wire_error(exc))


def _ok(**extra) -> Response:
    return Response(ok(**extra))


# --- tables -----------------------------------------------------------------------------------------------------
class TableView(FeatureStoreView):
    """``GET`` a table's TableInfo; ``PUT`` rows (``{"value": [[...], ...]}``)."""

    @extend_schema(request=None, responses=RESPONSES, summary="Table info")
    def get(self, request, db: str, table: str):
        if database_get(name=db) is None:
            raise OpenMLDBError(-1, "DB not found")
        found = table_get(db=db, name=table)
        if found is None:
            raise OpenMLDBError(-1, "Table not found")
        return _ok(table=table_info(found))

    @extend_schema(
        **_body_schema(PUT_ROWS, "Insert rows (one per upstream; many rows here, all or nothing)", "one row")
    )
    def put(self, request, db: str, table: str):
        return Response(put_rows(db, table, request.body))


def table_info(table) -> dict:
    """OpenMLDB's TableInfo for a table (the fields the APIServer prints, in its order: rest_api.md's example).

    ``format_version`` is 1 for every table created through SQL, as upstream's SDK sets it; ``partition_key`` and
    ``schema_versions`` stay empty (no table is partitioned by other columns, and no ``ALTER TABLE ... ADD COLUMN``
    has made a second schema version).
    """
    partitions = int(table.options.get("PARTITIONNUM", 1) or 1)
    return {
        "name": table.name,
        "table_partition_size": partitions,
        "tid": table.pk,
        "partition_num": partitions,
        "replica_num": int(table.options.get("REPLICANUM", 1) or 1),
        "compress_type": "nocompress",
        "column_desc": [
            {
                "name": column["name"],
                "data_type": proto_type_name(column["type"]),
                "not_null": bool(column.get("not_null")),
            }
            for column in table.columns
        ],
        "column_key": [
            {
                "index_name": index["name"],
                "col_name": list(index["keys"]),
                **({"ts_name": index["ts"]} if index.get("ts") else {}),
                "ttl": {
                    "ttl_type": index.get("ttl_type") or "absolute",
                    "abs_ttl": index.get("abs_ttl") or 0,
                    "lat_ttl": index.get("lat_ttl") or 0,
                },
            }
            for index in table.indexes
        ],
        "added_column_desc": [],
        "format_version": 1,
        "db": table.database.name,
        "partition_key": [],
        "schema_versions": [],
        **({"offline_table_info": offline} if (offline := offline_table_info(table)) else {}),
    }


class TablesView(FeatureStoreView):
    @extend_schema(request=None, responses=RESPONSES, summary="Tables of a database")
    def get(self, request, db: str):
        if database_get(name=db) is None:
            raise OpenMLDBError(-1, "DB not found")
        return _ok(tables=[table_info(table) for table in table_list(db=db)])


class DatabasesView(FeatureStoreView):
    @extend_schema(request=None, responses=RESPONSES, summary="Databases")
    def get(self, request):
        return _ok(dbs=[database.name for database in database_list()])


class RefreshView(FeatureStoreView):
    @extend_schema(request=None, responses=RESPONSES, summary="Refresh the catalog cache")
    def post(self, request):
        services.catalog_refresh()
        return _ok()


# --- deployments ------------------------------------------------------------------------------------------------
def deployment_info(deployment) -> dict:
    return {
        "name": deployment.name,
        "procedure": deployment.sql,
        "input_schema": deployment.input_schema,
        "input_common_cols": list(deployment.common_columns),
        "output_schema": deployment.output_schema,
        "output_common_cols": list(deployment.output_common_columns),
        "dbs": sorted({name.split(".", 1)[0] for name in deployment.tables} | {deployment.database.name}),
        "tables": [name.split(".", 1)[1] for name in deployment.tables],
    }


class DeploymentView(FeatureStoreView):
    """``GET`` a deployment's SQL and schemas; ``POST`` request rows to compute their features."""

    kind = "deployment"

    @extend_schema(request=None, responses=RESPONSES, summary="Deployment info")
    def get(self, request, db: str, name: str):
        deployment = deployment_get(db=db, name=name)
        if deployment is None:
            raise OpenMLDBError(-1, f"{name} does not exist in {db}")
        if deployment.kind != self.kind:
            raise OpenMLDBError(-1, f"{self.kind} not found")
        return _ok(data=deployment_info(deployment))

    @extend_schema(**_body_schema(CALL_DEPLOYMENT, "Compute features for request rows", "rows"))
    def post(self, request, db: str, name: str):
        return call_deployment(db, name, request.body)


class ProcedureView(DeploymentView):
    """``GET`` a procedure (``CREATE PROCEDURE``) with its common columns; ``POST`` request rows with
    ``common_cols`` (upstream's ``ExecuteProcedure``)."""

    kind = "procedure"

    @extend_schema(**_body_schema(CALL_DEPLOYMENT, "Call a procedure: request rows and their common columns", "rows"))
    def post(self, request, db: str, name: str):
        return call_procedure(db, name, request.body)


class DeploymentListView(FeatureStoreView):
    @extend_schema(
        request=None,
        responses=RESPONSES,
        summary="Deployments of a database (an extension; upstream has no such route)",
    )
    def get(self, request, db: str):
        if database_get(name=db) is None:
            raise OpenMLDBError(-1, "DB not found")
        return _ok(deployments=[{"name": d.name, "db": db} for d in deployment_list(db=db, kind="deployment")])


# --- POST /dbs/{db}: SQL --------------------------------------------------------------------------------------
class QueryView(FeatureStoreView):
    @extend_schema(**_body_schema(QUERY, "Execute SQL (mode offsync, offasync, online or onsync)", "query"))
    def post(self, request, db: str):
        query = read_query(request.body)
        result = sqlexec.execute(db=db, sql=query.sql, mode=query.mode, params=query.params, user=request.user)
        if result.schema is None:
            return _ok()
        schema = [schema_type_name(kind) for _, kind in result.schema]
        rows = [[output_value(value, kind) for value, (_, kind) in zip(row, result.schema, strict=True)]
                for row in result.rows]  # fmt: skip
        return json_response(ok(data={"schema": schema, "data": rows}), query.nan_null)
