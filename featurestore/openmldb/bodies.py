"""The request bodies of the APIServer's routes, described once: they are read through these descriptions, and
the OpenAPI document is generated from the same descriptions, so the two cannot drift apart.

A ``Body`` lists its fields in the order the APIServer checks them. A field's ``schema`` is written in
OpenAPI's terms and is also the check the reader applies: ``type`` (the JSON type rapidjson's ``IsString()``,
``IsInt()``... asks for; a bool is not an integer), ``nullable``, ``minItems`` and ``items``. A value that fails it
is refused with the route's own message for that field (upstream's wording, which is contract), or, for a
``lenient`` field, read as absent. Other keywords (``properties``, ``default``) only document: the members of the
query route's ``input`` are checked by that field's ``read`` function, and the values of rows against a table's or
a deployment's columns by the route (``featurestore.openmldb.rows``), both in upstream's order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dataplatform.api.exceptions import OpenMLDBError
from featurestore.jsonx import ConversionError, JsonError, coerce_param, fe_type_enum, loads
from featurestore.sql import MODES

#: The JSON types a schema's ``type`` names, as the APIServer's reader tells them apart.
JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "array": lambda value: isinstance(value, list),
    "object": lambda value: isinstance(value, dict),
}


def checker(schema: dict[str, Any]) -> Callable[[Any], bool]:
    """Return the check ``schema`` stands for: its ``type``, ``nullable``, ``minItems`` and ``items``."""
    is_type = JSON_TYPES[schema["type"]] if "type" in schema else None
    nullable = schema.get("nullable", False) or is_type is None
    min_items = schema.get("minItems")
    items = checker(schema["items"]) if schema.get("items") else None  # ``items: {}`` is any value
    if is_type is not None and not nullable and min_items is None and items is None:
        return is_type  # one call per value: the rows of a PUT are checked this way

    def check(value: Any) -> bool:
        if value is None:
            return nullable
        if is_type is not None and not is_type(value):
            return False
        if min_items is not None and len(value) < min_items:
            return False
        return items is None or all(map(items, value))

    return check


@dataclass(frozen=True)
class Field:
    name: str
    schema: dict[str, Any]
    description: str
    required: bool = False
    #: A value that fails the check is read as absent instead of refused (upstream reads such flags as ``== true``).
    lenient: bool = False
    #: Turns a value that passed the check into what the route uses, refusing it in its own words if need be.
    read: Callable[[Any], Any] | None = None
    check: Callable[[Any], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "check", checker(self.schema))

    def openapi(self) -> dict[str, Any]:
        return {**self.schema, "description": self.description}


@dataclass(frozen=True)
class Body:
    fields: tuple[Field, ...]
    example: dict[str, Any]

    def parse(self, body: Any, refuse: Callable[[Field], Exception]) -> dict[str, Any]:
        """Return the fields of a parsed JSON body that are present, checked and read in order.

        ``refuse(field)`` builds the error raised for the first field that is missing but required or fails its
        check. A body that is not an object has no fields.
        """
        given = body if isinstance(body, dict) else {}
        values: dict[str, Any] = {}
        for spec in self.fields:
            if spec.name not in given:
                if spec.required:
                    raise refuse(spec)
                continue
            value = given[spec.name]
            if not spec.check(value):
                if spec.lenient:
                    continue
                raise refuse(spec)
            values[spec.name] = value if spec.read is None else spec.read(value)
        return values

    def openapi(self) -> dict[str, Any]:
        """The body's OpenAPI schema (an object with these fields)."""
        schema: dict[str, Any] = {"type": "object", "properties": {f.name: f.openapi() for f in self.fields}}
        required = [f.name for f in self.fields if f.required]
        if required:
            schema["required"] = required
        return schema

    def request(self) -> dict[str, Any]:
        """``extend_schema(request=...)``: the schema as the ``application/json`` body, which it always is."""
        return {"application/json": self.openapi()}


# --- PUT /dbs/{db}/tables/{table} -------------------------------------------------------------------------------
PUT_ROWS = Body(
    fields=(
        Field(
            "value",
            {"type": "array", "minItems": 1, "items": {"type": "array", "items": {}}},
            "Rows to insert, each an array of values in the table's column order. Upstream takes one row; here many "
            "rows are inserted all or nothing.",
            required=True,
        ),
    ),
    example={"value": [["aaa", 11, 22, 1.2, 1.3, 1635247427000, "2021-05-20"]]},
)


def read_put_rows(raw: bytes) -> list[list]:
    """The rows of a ``PUT /dbs/{db}/tables/{table}`` body (their values are checked against the table later)."""
    try:
        body = loads(raw)
    except JsonError as exc:
        raise OpenMLDBError(-1, f"Json parse failed, error code: {exc.code}") from None
    values = PUT_ROWS.parse(body, lambda field: OpenMLDBError(-1, "Invalid value in body, only support to put one row"))
    return values["value"]


# --- POST /dbs/{db}/deployments/{name} --------------------------------------------------------------------------
CALL_DEPLOYMENT = Body(
    fields=(
        Field(
            "input",
            {"type": "array", "minItems": 1, "items": {}},
            "Request rows, each an array in the deployment's input schema order or an object keyed by column name; "
            "the first row's shape is the shape of the output rows.",
            required=True,
        ),
        Field(
            "need_schema",
            {"type": "boolean", "default": False},
            "Also answer the output schema (only a JSON true turns it on).",
            lenient=True,
        ),
        Field(
            "write_nan_and_inf_null",
            {"type": "boolean", "default": False},
            "Write NaN and infinite doubles as null (only a JSON true turns it on).",
            lenient=True,
        ),
    ),
    example={"input": [["aaa", 11, 22, 1.2, 1.3, 1635247427000, "2021-05-20"]], "need_schema": True},
)


class Call(NamedTuple):
    rows: list
    need_schema: bool
    nan_null: bool


def read_call(raw: bytes) -> Call:
    """The request rows and flags of a ``POST /dbs/{db}/deployments/{name}`` body."""
    try:
        body = loads(raw)
    except JsonError:
        raise OpenMLDBError(-1, "Request body json parse failed") from None
    values = CALL_DEPLOYMENT.parse(body, lambda field: OpenMLDBError(-1, "Field input is invalid"))
    return Call(
        rows=values["input"],
        need_schema=values.get("need_schema") is True,
        nan_null=values.get("write_nan_and_inf_null") is True,
    )


# --- POST /dbs/{db} ---------------------------------------------------------------------------------------------
def _query_failed(reason: str) -> OpenMLDBError:
    return OpenMLDBError(-1, f"Json parse failed, INVALID_ARGUMENT: {reason}")


def _query_params(given: Any) -> list[tuple[Any, str]]:
    """The typed values of ``input`` (``schema`` and ``data``), checked as upstream's JsonReader reads them."""
    if given is None:
        return []
    types, data = given.get("schema"), given.get("data")
    if types is None or data is None:
        return []  # upstream ignores an input without both
    if not isinstance(types, list) or not isinstance(data, list):
        raise _query_failed("input parse failed")
    if len(types) != len(data):
        raise _query_failed(f"data size {len(data)} != schema size {len(types)}")
    params = []
    for index, (type_name, value) in enumerate(zip(types, data, strict=True)):
        if not isinstance(type_name, str):
            raise _query_failed("input parse failed")
        try:
            params.append(coerce_param(value, type_name))
        except ConversionError:
            raise _query_failed(f"append failed on {index} type {fe_type_enum(_canonical(type_name))}") from None
        except ValueError as exc:
            raise _query_failed(str(exc)) from None
    return params


def _canonical(type_name: str) -> str:
    names = {"BOOL": "bool", "SMALLINT": "int16", "INT16": "int16", "INT": "int32", "INT32": "int32",
             "BIGINT": "int64", "INT64": "int64", "FLOAT": "float", "DOUBLE": "double", "STRING": "string",
             "DATE": "date", "TIMESTAMP": "timestamp"}  # fmt: skip
    return names.get(type_name.upper(), "string")


QUERY = Body(
    fields=(
        Field("mode", {"type": "string"}, f"{', '.join(MODES)} (in any case).", required=True),
        Field("sql", {"type": "string"}, "One SQL statement.", required=True),
        Field("timeout", {"type": "integer"}, "Accepted as upstream accepts it; not used."),
        Field(
            "input",
            {
                "type": "object",
                "nullable": True,
                "properties": {
                    "schema": {"type": "array", "items": {"type": "string"}},
                    "data": {"type": "array", "items": {}},
                },
            },
            "Values of the statement's ? placeholders: ``schema`` names their types (BOOL, SMALLINT, INT, BIGINT, "
            "FLOAT, DOUBLE, STRING, DATE, TIMESTAMP), ``data`` gives the values in the same order; ignored unless "
            "both are given. Its members are checked as the route reads them, not by this schema.",
            read=_query_params,
        ),
        Field(
            "write_nan_and_inf_null", {"type": "boolean", "default": False}, "Write NaN and infinite doubles as null."
        ),
    ),
    example={"mode": "online", "sql": "select c1, c3 from t1 limit 2"},
)


class Query(NamedTuple):
    mode: str
    sql: str
    params: list[tuple[Any, str]]
    nan_null: bool


def read_query(raw: bytes) -> Query:
    """The statement, mode and parameters of a ``POST /dbs/{db}`` body, refused in upstream's order and words."""
    try:
        body = loads(raw)
    except JsonError:
        raise _query_failed("req is not object") from None
    if not isinstance(body, dict):
        raise _query_failed("req is not object")
    values = QUERY.parse(body, lambda field: _query_failed(f"{field.name} parse failed"))
    mode = values["mode"].lower()
    if mode not in MODES:
        raise OpenMLDBError(-1, f"Invalid mode {mode}")
    return Query(
        mode=mode,
        sql=values["sql"],
        params=values.get("input", []),
        nan_null=values.get("write_nan_and_inf_null", False),
    )
