"""OpenMLDB APIServer routes (contracts/openmldb.md §3): every answer is HTTP 200 with ``{code, msg, ...}``.

Bodies are read with OpenMLDB's extended JSON (``featurestore.jsonx``: unquoted NaN/Infinity, rapidjson's error
codes) straight from the request, not through DRF's parsers, and checked in the order upstream checks them so
the same bad body gets the same message. Beyond upstream (issue 4): ``PUT`` takes many rows, all or nothing;
``GET /dbs/{db}/deployments`` lists deployments; errors name the row as well as the column and value.

Bad input (issue 13): a ts value outside the range the window engine computes on (``featurestore.limits``) is
refused by inserts and requests alike, with upstream's conversion message followed by ``--ts out of range [..]``;
``POST /dbs/{db}`` runs one statement per request (``featurestore.sql.execute``); names of what SQL creates are
OpenMLDB identifiers (``featurestore.services``).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from dataplatform.api.exceptions import OpenMLDBError
from dataplatform.api.parsers import RawBodyParser
from dataplatform.api.viewsets import OpenMLDBAPIView
from featurestore import services
from featurestore import sql as sqlexec
from featurestore.engine import EngineError
from featurestore.jsonx import (
    ConversionError,
    JsonError,
    TsRangeError,
    coerce,
    coerce_param,
    dumps,
    fe_type_enum,
    int_range,
    loads,
    output_value,
    proto_type_name,
    schema_type_name,
    sdk_type_enum,
)
from featurestore.selectors import database_get, database_list, deployment_get, deployment_list, table_get, table_list

OK = {"code": 0, "msg": "ok"}
SCHEMA = {"request": OpenApiTypes.OBJECT, "responses": {200: OpenApiTypes.OBJECT}}


def _ok(**extra) -> Response:
    return Response({**OK, **extra})


class FeatureStoreView(OpenMLDBAPIView):
    parser_classes = [RawBodyParser]  # the views read request.body in upstream's order

    def get_permissions(self):
        # OpenMLDB's APIServer has no HTTP authentication; clients written for it send none. The platform lets
        # them in unless OPENMLDB_ALLOW_ANONYMOUS is off (the production profile's default); tokens always work.
        if settings.OPENMLDB_ALLOW_ANONYMOUS:
            return [AllowAny()]
        return [IsAuthenticated()]

    def body(self, request) -> Any:
        return loads(request.body)


# --- PUT /dbs/{db}/tables/{table} ------------------------------------------------------------------------------
def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, allow_nan=True)


class TableView(FeatureStoreView):
    """``GET`` a table's TableInfo; ``PUT`` rows (``{"value": [[...], ...]}``)."""

    @extend_schema(**SCHEMA, summary="Table info")
    def get(self, request, db: str, table: str):
        if database_get(name=db) is None:
            raise OpenMLDBError(-1, "DB not found")
        found = table_get(db=db, name=table)
        if found is None:
            raise OpenMLDBError(-1, "Table not found")
        return _ok(table=table_info(found))

    @extend_schema(
        **SCHEMA,
        summary="Insert rows (one per upstream; many rows here, all or nothing)",
        examples=[OpenApiExample("one row", value={"value": [["aaa", 11, 22, 1.2, 1.3, 1635247427000, "2021-05-20"]]})],
    )
    def put(self, request, db: str, table: str):
        return Response(put_rows(db, table, request.body))


def put_rows(db: str, table: str, raw: bytes) -> dict:
    """Insert the rows of a ``PUT /dbs/{db}/tables/{table}`` body, checked in upstream's order; all or nothing."""
    try:
        body = loads(raw)
    except JsonError as exc:
        raise OpenMLDBError(-1, f"Json parse failed, error code: {exc.code}") from None
    rows = body.get("value") if isinstance(body, dict) else None
    if not isinstance(rows, list) or not rows or not all(isinstance(row, list) for row in rows):
        raise OpenMLDBError(-1, "Invalid value in body, only support to put one row")
    found = services.table_cached(db=db, name=table)
    if found is None:
        raise OpenMLDBError(2000, f"fail to get insert info--table with name {table} in db {db} does not exist")
    columns = found.columns
    converters = _converters(found)
    converted = []
    for number, row in enumerate(rows):
        if len(row) == len(columns):
            try:
                converted.append([convert(value) for convert, value in zip(converters, row, strict=True)])
                continue
            except (_Slow, ConversionError):
                pass
        where = f" in row {number}" if len(rows) > 1 else ""
        converted.append(_convert_row(table, columns, found.ts_columns, row, where))
    services.rows_insert(table=found, rows=converted)
    return dict(OK)


class _Slow(Exception):
    """A value the fast converter does not take as is: the checked path decides (and words the error)."""


def _converters(table) -> list:
    """Per column, a quick conversion for the common case (right JSON type, in range); anything else is _Slow."""
    out = []
    ts_columns = table.ts_columns
    for column in table.columns:
        kind, nullable, ts = column["type"], not column.get("not_null"), column["name"] in ts_columns

        def checked(value, kind=kind, not_null=not nullable, ts=ts):
            return coerce(value, kind, not_null=not_null, ts=ts)

        if kind == "string":

            def convert(value, nullable=nullable):
                if type(value) is str or (value is None and nullable):
                    return value
                raise _Slow

        elif kind in ("int32", "int64", "timestamp"):
            low, high = int_range(kind, ts=ts)  # the range coerce() checks: ts values stay in the engine's

            def convert(value, low=low, high=high, nullable=nullable):
                if type(value) is int and low <= value <= high or (value is None and nullable):
                    return value
                raise _Slow

        elif kind == "double":

            def convert(value, nullable=nullable, checked=checked):
                if type(value) is float or (value is None and nullable):
                    return value
                return checked(value)

        else:
            convert = checked
        out.append(convert)
    return out


def _convert_row(table: str, columns: list, ts_columns: frozenset[str], row: list, where: str) -> list:
    """Convert one row value by value, raising upstream's error for the first bad one."""
    if len(row) < len(columns):
        marks = ",".join("?" * len(row))
        raise OpenMLDBError(
            2000,
            f"fail to get insert info--get default value map of insert into {table} values({marks}); failed{where}",
        )
    if len(row) > len(columns):
        raise OpenMLDBError(-1, f"column size != schema size{where}")
    values = []
    for value, column in zip(row, columns, strict=True):
        name, kind = column["name"], column["type"]
        if kind == "string" and value is not None and not isinstance(value, str):
            raise OpenMLDBError(-1, f"value is not string for col {name}{where}")
        try:
            values.append(coerce(value, kind, not_null=bool(column.get("not_null")), ts=name in ts_columns))
        except ConversionError as exc:
            raise OpenMLDBError(
                -1,
                f"conversion failed on col {name}[{sdk_type_enum(kind)}] with value {_value_text(value)}{where}"
                f"{_reason(exc)}",
            ) from None
    return values


def _reason(exc: ConversionError) -> str:
    """Upstream's conversion messages give no reason; a ts out of the engine's range says so, chained with ``--``
    as the SDK chains statuses, so the message still starts as upstream's does."""
    return f"--{exc.reason}" if isinstance(exc, TsRangeError) else ""


def table_info(table) -> dict:
    """OpenMLDB's TableInfo for a table (the fields the APIServer prints)."""
    return {
        "name": table.name,
        "tid": table.pk,
        "partition_num": int(table.options.get("PARTITIONNUM", 1) or 1),
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
        "db": table.database.name,
    }


class TablesView(FeatureStoreView):
    @extend_schema(**SCHEMA, summary="Tables of a database")
    def get(self, request, db: str):
        if database_get(name=db) is None:
            raise OpenMLDBError(-1, "DB not found")
        return _ok(tables=[table_info(table) for table in table_list(db=db)])


class DatabasesView(FeatureStoreView):
    @extend_schema(**SCHEMA, summary="Databases")
    def get(self, request):
        return _ok(dbs=[database.name for database in database_list()])


class RefreshView(FeatureStoreView):
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, summary="Refresh the catalog cache")
    def post(self, request):
        services.catalog_refresh()
        return _ok()


# --- deployments ------------------------------------------------------------------------------------------------
def deployment_info(deployment) -> dict:
    return {
        "name": deployment.name,
        "procedure": deployment.sql,
        "input_schema": deployment.input_schema,
        "input_common_cols": [],
        "output_schema": deployment.output_schema,
        "output_common_cols": [],
        "dbs": sorted({name.split(".", 1)[0] for name in deployment.tables} | {deployment.database.name}),
        "tables": [name.split(".", 1)[1] for name in deployment.tables],
    }


def _request_rows(rows: list, schema: list[tuple[str, str]], ts_columns: frozenset[str]) -> list[list]:
    """Convert the ``input`` rows (arrays in schema order, or objects by column name) to engine values; the main
    table's ts columns are checked as its stored rows are."""
    converted = []
    for number, row in enumerate(rows):
        values = []
        if isinstance(row, list):
            if len(row) != len(schema):
                raise OpenMLDBError(-1, f"Invalid input data size in row {number}")
            for value, (name, kind) in zip(row, schema, strict=True):
                values.append(_request_value(value, name, kind, name in ts_columns, f"array row {number}"))
        elif isinstance(row, dict):
            for name, kind in schema:
                if name not in row:
                    missing = f"can't find col {name}" if kind == "string" else f"can't find {name}"
                    raise OpenMLDBError(
                        -1, f"Translate to request row failed in map row {number}, INVALID_ARGUMENT: {missing}"
                    )
                values.append(_request_value(row[name], name, kind, name in ts_columns, f"map row {number}"))
        else:
            raise OpenMLDBError(-1, f"Must be array or map, row {number}")
        converted.append(values)
    return converted


def _request_value(value: Any, name: str, kind: str, ts: bool, where: str) -> Any:
    try:
        return coerce(value, kind, ts=ts)
    except ConversionError as exc:
        raise OpenMLDBError(
            -1,
            f"Translate to request row failed in {where}, INVALID_ARGUMENT: trans failed on "
            f"{name}({sdk_type_enum(kind)}): {_value_text(value)}{_reason(exc)}",
        ) from None


class DeploymentView(FeatureStoreView):
    """``GET`` a deployment's SQL and schemas; ``POST`` request rows to compute their features."""

    procedure_route = False

    @extend_schema(**SCHEMA, summary="Deployment info")
    def get(self, request, db: str, name: str):
        deployment = deployment_get(db=db, name=name)
        if deployment is None:
            raise OpenMLDBError(-1, f"{name} does not exist in {db}")
        if self.procedure_route:
            raise OpenMLDBError(-1, "procedure not found")
        return _ok(data=deployment_info(deployment))

    @extend_schema(
        **SCHEMA,
        summary="Compute features for request rows",
        examples=[
            OpenApiExample(
                "rows", value={"input": [["aaa", 11, 22, 1.2, 1.3, 1635247427000, "2021-05-20"]], "need_schema": True}
            )
        ],  # fmt: skip
    )
    def post(self, request, db: str, name: str):
        return call_deployment(db, name, request.body)


def call_deployment(db: str, name: str, raw: bytes) -> HttpResponse:
    """Compute the features of the request rows of a ``POST /dbs/{db}/deployments/{name}`` body."""
    try:
        body = loads(raw)
    except JsonError:
        raise OpenMLDBError(-1, "Request body json parse failed") from None
    rows = body.get("input") if isinstance(body, dict) else None
    if not isinstance(rows, list) or not rows:
        raise OpenMLDBError(-1, "Field input is invalid")
    try:
        found = services.deployment_plan(db=db, name=name)
    except services.FeatureStoreError as exc:
        raise OpenMLDBError(exc.code, exc.msg) from None
    if found is None:
        raise OpenMLDBError(-1, f"{name} does not exist in {db}")
    _, plan = found
    need_schema = body.get("need_schema") is True
    nan_null = body.get("write_nan_and_inf_null") is True
    converted = _request_rows(rows, plan.input_schema, plan.main.ts_columns)
    try:
        outputs = [plan.output_row(row) for row in converted]
    except EngineError as exc:
        raise OpenMLDBError(exc.code, exc.msg) from None
    schema = plan.output_schema
    as_objects = isinstance(rows[0], dict)
    data_rows = []
    for output in outputs:
        values = [output_value(value, kind) for value, (_, kind) in zip(output, schema, strict=True)]
        data_rows.append(dict(zip((n for n, _ in schema), values, strict=True)) if as_objects else values)
    data: dict[str, Any] = {"data": data_rows}
    if need_schema:
        data["schema"] = [{"name": column, "type": kind} for column, kind in schema]
    return _json_response({**OK, "data": data}, nan_null)


class ProcedureView(DeploymentView):
    """OpenMLDB procedures; the platform has none, so a deployment name answers as upstream does for it."""

    procedure_route = True


class DeploymentListView(FeatureStoreView):
    @extend_schema(**SCHEMA, summary="Deployments of a database (an extension; upstream has no such route)")
    def get(self, request, db: str):
        if database_get(name=db) is None:
            raise OpenMLDBError(-1, "DB not found")
        return _ok(deployments=[{"name": d.name, "db": db} for d in deployment_list(db=db)])


def _json_response(body: dict, nan_null: bool) -> HttpResponse:
    return HttpResponse(dumps(body, nan_and_inf_null=nan_null), content_type="application/json")


# --- POST /dbs/{db}: SQL --------------------------------------------------------------------------------------
class QueryView(FeatureStoreView):
    @extend_schema(
        **SCHEMA,
        summary="Execute SQL (mode offsync, offasync, online or onsync)",
        examples=[OpenApiExample("query", value={"mode": "online", "sql": "select c1, c3 from t1 limit 2"})],
    )
    def post(self, request, db: str):
        def failed(reason: str) -> OpenMLDBError:
            return OpenMLDBError(-1, f"Json parse failed, INVALID_ARGUMENT: {reason}")

        try:
            body = self.body(request)
        except JsonError:
            raise failed("req is not object") from None
        if not isinstance(body, dict):
            raise failed("req is not object")
        mode, sql = body.get("mode"), body.get("sql")
        if not isinstance(mode, str):
            raise failed("mode parse failed")
        if not isinstance(sql, str):
            raise failed("sql parse failed")
        if "timeout" in body and (not isinstance(body["timeout"], int) or isinstance(body["timeout"], bool)):
            raise failed("timeout parse failed")
        params = self._params(body, failed)
        nan_null = body.get("write_nan_and_inf_null", False)
        if not isinstance(nan_null, bool):
            raise failed("write_nan_and_inf_null parse failed")
        mode = mode.lower()
        if mode not in sqlexec.MODES:
            raise OpenMLDBError(-1, f"Invalid mode {mode}")
        try:
            result = sqlexec.execute(db=db, sql=sql, mode=mode, params=params, user=request.user)
        except services.FeatureStoreError as exc:
            raise OpenMLDBError(exc.code, exc.msg) from None
        if result.job is not None:
            return _ok(data={"job": result.job})
        if result.schema is None:
            return _ok()
        schema = [schema_type_name(kind) for _, kind in result.schema]
        rows = [[output_value(value, kind) for value, (_, kind) in zip(row, result.schema, strict=True)]
                for row in result.rows]  # fmt: skip
        return _json_response({**OK, "data": {"schema": schema, "data": rows}}, nan_null)

    def _params(self, body: dict, failed) -> list[tuple[Any, str]]:
        given = body.get("input")
        if given is None:
            return []
        if not isinstance(given, dict):
            raise failed("input parse failed")
        types, data = given.get("schema"), given.get("data")
        if types is None or data is None:
            return []  # upstream ignores an input without both
        if not isinstance(types, list) or not isinstance(data, list):
            raise failed("input parse failed")
        if len(types) != len(data):
            raise failed(f"data size {len(data)} != schema size {len(types)}")
        params = []
        for index, (type_name, value) in enumerate(zip(types, data, strict=True)):
            if not isinstance(type_name, str):
                raise failed("input parse failed")
            try:
                params.append(coerce_param(value, type_name))
            except ConversionError:
                raise failed(f"append failed on {index} type {fe_type_enum(_canonical(type_name))}") from None
            except ValueError as exc:
                raise failed(str(exc)) from None
        return params


def _canonical(type_name: str) -> str:
    names = {"BOOL": "bool", "SMALLINT": "int16", "INT16": "int16", "INT": "int32", "INT32": "int32",
             "BIGINT": "int64", "INT64": "int64", "FLOAT": "float", "DOUBLE": "double", "STRING": "string",
             "DATE": "date", "TIMESTAMP": "timestamp"}  # fmt: skip
    return names.get(type_name.upper(), "string")
