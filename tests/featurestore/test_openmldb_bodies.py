"""featurestore.openmldb.bodies: one description per request body gives both the reading and the OpenAPI schema."""

from __future__ import annotations

import json

import pytest

from dataplatform.api.exceptions import OpenMLDBError
from featurestore.openmldb.bodies import (
    CALL_DEPLOYMENT,
    PUT_ROWS,
    QUERY,
    checker,
    read_call,
    read_put_rows,
    read_query,
)


def _refusal(read, body) -> str:
    with pytest.raises(OpenMLDBError) as caught:
        read(json.dumps(body).encode())
    return caught.value.msg


def test_each_documented_example_is_read_without_refusal():
    assert read_put_rows(json.dumps(PUT_ROWS.example).encode()) == PUT_ROWS.example["value"]
    call = read_call(json.dumps(CALL_DEPLOYMENT.example).encode())
    assert call.rows == CALL_DEPLOYMENT.example["input"] and call.need_schema is True and call.nan_null is False
    query = read_query(json.dumps(QUERY.example).encode())
    assert (query.mode, query.sql, query.params, query.nan_null) == ("online", QUERY.example["sql"], [], False)


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("/dbs/{db}", "post", QUERY),
        ("/dbs/{db}/tables/{table}", "put", PUT_ROWS),
        ("/dbs/{db}/deployments/{name}", "post", CALL_DEPLOYMENT),
        ("/dbs/{db}/procedures/{name}", "post", CALL_DEPLOYMENT),
    ],
)
@pytest.mark.django_db
def test_the_openapi_document_shows_the_schema_the_reader_checks(client, path, method, body):
    document = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    content = document["paths"][path][method]["requestBody"]["content"]
    assert list(content) == ["application/json"]
    assert content["application/json"]["schema"] == body.openapi()
    assert [example["value"] for example in content["application/json"]["examples"].values()] == [body.example]


def test_a_schema_is_its_own_check():
    assert checker({"type": "integer"})(1) and not checker({"type": "integer"})(True)
    assert not checker({"type": "string"})(None) and checker({"type": "object", "nullable": True})(None)
    rows = checker({"type": "array", "minItems": 1, "items": {"type": "array", "items": {}}})
    assert rows([[1, None]]) and not rows([]) and not rows([[1], 2]) and not rows(None)
    assert checker({})(None) and checker({"items": {}})("anything")


def test_query_fields_are_refused_in_upstreams_order():
    prefix = "Json parse failed, INVALID_ARGUMENT: "
    bad_input = {"schema": ["int", "int"], "data": [1]}
    assert _refusal(read_query, {"mode": 1, "sql": 2}) == prefix + "mode parse failed"
    assert _refusal(read_query, {"mode": "online", "sql": "x", "timeout": None}) == prefix + "timeout parse failed"
    assert (
        _refusal(read_query, {"mode": "x", "sql": "x", "input": bad_input, "write_nan_and_inf_null": 1})
        == prefix + "data size 1 != schema size 2"
    )
    assert (
        _refusal(read_query, {"mode": "x", "sql": "x", "input": None, "write_nan_and_inf_null": None})
        == prefix + "write_nan_and_inf_null parse failed"
    )
    assert _refusal(read_query, {"mode": "Nope", "sql": "x", "input": {"schema": ["int"]}}) == "Invalid mode nope"


def test_lenient_flags_read_anything_but_true_as_false():
    call = read_call(b'{"input": [[1]], "need_schema": "yes", "write_nan_and_inf_null": 1}')
    assert (call.need_schema, call.nan_null) == (False, False)
    assert _refusal(read_call, {"input": []}) == "Field input is invalid"
    assert _refusal(read_put_rows, {"value": [[1], 2]}) == "Invalid value in body, only support to put one row"
