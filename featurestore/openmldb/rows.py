"""The per-event routes' work, shared by the DRF views and the fast path (``featurestore.openmldb.fastpath``).

``put_rows`` inserts the rows of ``PUT /dbs/{db}/tables/{table}`` (many rows here, all or nothing; upstream takes
one); ``call_deployment`` computes the features of the request rows of ``POST /dbs/{db}/deployments/{name}``.
Both take the raw body and answer the APIServer's body, byte for byte the same whichever entry point calls them;
they raise ``OpenMLDBError`` for what the wire refuses and let the services' ``FeatureStoreError`` through (both
callers answer it with ``featurestore.openmldb.errors``). Errors name the row as well as the column and value
(issue 4); a ts value outside the range the window engine computes on (``featurestore.limits``) is refused with
upstream's conversion message followed by ``--ts out of range [..]`` (issue 13).
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

from dataplatform.api.exceptions import OpenMLDBError
from featurestore import services
from featurestore.jsonx import (
    ConversionError,
    JsonError,
    TsRangeError,
    coerce,
    dumps,
    int_range,
    loads,
    output_value,
    sdk_type_enum,
)
from featurestore.openmldb.bodies import read_call, read_put_rows
from featurestore.openmldb.errors import OK, ok


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, allow_nan=True)


def _reason(exc: ConversionError) -> str:
    """Upstream's conversion messages give no reason; a ts out of the engine's range says so, chained with ``--``
    as the SDK chains statuses, so the message still starts as upstream's does."""
    return f"--{exc.reason}" if isinstance(exc, TsRangeError) else ""


def json_response(body: dict, nan_null: bool = False) -> HttpResponse:
    """An answer written as the APIServer writes it (``featurestore.jsonx.dumps``)."""
    return HttpResponse(dumps(body, nan_and_inf_null=nan_null), content_type="application/json")


# --- PUT /dbs/{db}/tables/{table} -------------------------------------------------------------------------------
def put_rows(db: str, table: str, raw: bytes) -> dict:
    """Insert the rows of a ``PUT /dbs/{db}/tables/{table}`` body, checked in upstream's order; all or nothing."""
    rows = read_put_rows(raw)
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


# --- POST /dbs/{db}/deployments/{name} --------------------------------------------------------------------------
def call_deployment(db: str, name: str, raw: bytes) -> HttpResponse:
    """Compute the features of the request rows of a ``POST /dbs/{db}/deployments/{name}`` body."""
    call = read_call(raw)
    found = services.deployment_plan(db=db, name=name)
    if found is None:
        raise OpenMLDBError(-1, f"{name} does not exist in {db}")
    _, plan = found
    converted = _request_rows(call.rows, plan.input_schema, plan.main.ts_columns)
    outputs = [plan.output_row(row) for row in converted]
    schema = plan.output_schema
    as_objects = isinstance(call.rows[0], dict)
    data_rows = []
    for output in outputs:
        values = [output_value(value, kind) for value, (_, kind) in zip(output, schema, strict=True)]
        data_rows.append(dict(zip((n for n, _ in schema), values, strict=True)) if as_objects else values)
    data: dict[str, Any] = {"data": data_rows}
    if call.need_schema:
        data["schema"] = [{"name": column, "type": kind} for column, kind in schema]
    return json_response(ok(data=data), call.nan_null)


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


def _request_value(value: Any, name: str, kind: str, ts: bool, where: str, what: str = "trans failed on") -> Any:
    try:
        return coerce(value, kind, ts=ts)
    except ConversionError as exc:
        raise OpenMLDBError(
            -1,
            f"Translate to request row failed in {where}, INVALID_ARGUMENT: {what} "
            f"{name}({sdk_type_enum(kind)}): {_value_text(value)}{_reason(exc)}",
        ) from None


def call_procedure(db: str, name: str, raw: bytes) -> HttpResponse:
    """``POST /dbs/{db}/procedures/{name}``: request rows of the non-common columns, ``common_cols`` once.

    As upstream's ``ExecuteProcedure``: the rows (arrays of the non-``const`` input columns in order, or objects by
    name) share the ``common_cols`` values; ``data`` holds the output's non-common columns and
    ``common_cols_data`` (procedures only) the common ones, computed once; ``need_schema`` adds the whole output
    schema.
    """
    try:
        body = loads(raw)
    except JsonError:
        raise OpenMLDBError(-1, "Request body json parse failed") from None
    if not isinstance(body, dict):
        raise OpenMLDBError(-1, "Request body json parse failed")
    common_values = body.get("common_cols", [])
    if not isinstance(common_values, list):
        raise OpenMLDBError(-1, "common_cols is not array")
    rows = body.get("input")
    if not isinstance(rows, list) or not rows:
        raise OpenMLDBError(-1, "Field input is invalid")
    found = services.deployment_plan(db=db, name=name)
    if found is None:
        raise OpenMLDBError(-1, f"{name} does not exist in {db}")
    deployment, plan = found
    common = set(deployment.common_columns)
    if len(common_values) != len(common):
        raise OpenMLDBError(-1, "Invalid common cols size")
    ts_columns = plan.main.ts_columns
    schema = plan.input_schema
    expected = len(schema) - len(common)
    converted = []
    for number, row in enumerate(rows):
        if isinstance(row, list):
            if len(row) != expected:
                raise OpenMLDBError(-1, f"Invalid input data size in row {number}")
            where, given = f"array row {number}", iter(row)
        elif isinstance(row, dict):
            where, given = f"map row {number}", None
        else:
            raise OpenMLDBError(-1, f"Must be array or map, row {number}")
        commons = iter(common_values)
        values = []
        for column, kind in schema:
            ts = column in ts_columns
            if column in common:
                values.append(_request_value(next(commons), column, kind, ts, where, "trans const failed on"))
            elif given is not None:
                values.append(_request_value(next(given), column, kind, ts, where))
            elif column not in row:
                missing = f"can't find col {column}" if kind == "string" else f"can't find {column}"
                raise OpenMLDBError(-1, f"Translate to request row failed in {where}, INVALID_ARGUMENT: {missing}")
            else:
                values.append(_request_value(row[column], column, kind, ts, where))
        converted.append(values)
    outputs = [plan.output_row(values) for values in converted]
    output_schema = plan.output_schema
    output_common = set(deployment.output_common_columns)
    as_objects = isinstance(rows[0], dict)
    data_rows = []
    for output in outputs:
        pairs = [
            (column, output_value(value, kind))
            for value, (column, kind) in zip(output, output_schema, strict=True)
            if column not in output_common
        ]
        data_rows.append(dict(pairs) if as_objects else [value for _, value in pairs])
    data: dict[str, Any] = {}
    if body.get("need_schema") is True:
        data["schema"] = [{"name": column, "type": kind} for column, kind in output_schema]
    data["data"] = data_rows
    if deployment.kind == "procedure":
        data["common_cols_data"] = [
            output_value(value, kind)
            for value, (column, kind) in zip(outputs[0], output_schema, strict=True)
            if column in output_common
        ]
    return json_response(ok(data=data), body.get("write_nan_and_inf_null") is True)
