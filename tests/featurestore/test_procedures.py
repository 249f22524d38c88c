"""CREATE PROCEDURE and the APIServer's procedure routes, replaying upstream's api_server_test.cc (procedure)."""

import json

import pytest

from featurestore.models import Deployment
from tests.featurestore.test_api import OK, post, sql

pytestmark = pytest.mark.django_db

TABLE = (
    "create table trans(c1 string, c3 int, c4 bigint, c5 float, c6 double, c7 timestamp, c8 date, "
    "index(key=c1, ts=c7));"
)
SELECT = (
    "SELECT c1, c3, sum(c4) OVER w1 as w1_c4_sum FROM trans WINDOW w1 AS"
    " (PARTITION BY trans.c1 ORDER BY trans.c7 ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
)
PROCEDURE = (
    "create procedure sp (const c1 string, const c3 int, c4 bigint, c5 float, c6 double, const c7 timestamp, c8 date)"
    f" begin {SELECT}; end;"
)
CALL = {
    "common_cols": ["bb", 23, 1590738994000],
    "input": [[123, 5.1, 6.1, "2021-08-01"], [234, 5.2, 6.2, "2021-08-02"]],
}


@pytest.fixture
def sp(client, db):
    assert sql(client, "CREATE DATABASE demo_db") == OK
    assert sql(client, TABLE) == OK
    assert sql(client, 'insert into trans values("bb",24,34,1.5,2.5,1590738994000,"2020-05-05");') == OK
    assert sql(client, PROCEDURE) == OK
    return client


def test_show_procedure(sp):
    body = sp.get("/dbs/demo_db/procedures/sp").json()
    assert body["code"] == 0 and body["msg"] == "ok"
    data = body["data"]
    assert data["name"] == "sp" and data["procedure"] == SELECT
    assert len(data["input_schema"]) == 7 and data["input_common_cols"] == ["c1", "c3", "c7"]
    assert len(data["output_schema"]) == 3 and data["output_common_cols"] == ["c1", "c3"]
    assert data["dbs"] == ["demo_db"] and data["tables"] == ["trans"]
    stored = Deployment.objects.get(name="sp")
    assert stored.kind == "procedure" and stored.common_columns == ["c1", "c3", "c7"]


def test_call_procedure_with_and_without_schema(sp):
    body = post(sp, "/dbs/demo_db/procedures/sp", {**CALL, "need_schema": True})
    assert body["code"] == 0 and body["msg"] == "ok"
    # The stored row (34) and each request row itself: the window holds the rows before it in time and the row.
    assert body["data"] == {
        "schema": [{"name": "c1", "type": "string"}, {"name": "c3", "type": "int32"},
                   {"name": "w1_c4_sum", "type": "int64"}],
        "data": [[157], [268]],
        "common_cols_data": ["bb", 23],
    }  # fmt: skip
    body = post(sp, "/dbs/demo_db/procedures/sp", {**CALL, "need_schema": False})
    assert body == {"code": 0, "msg": "ok", "data": {"data": [[157], [268]], "common_cols_data": ["bb", 23]}}
    # Rows as objects by name: the answer's rows are objects too.
    objects = {"common_cols": CALL["common_cols"], "input": [{"c4": 1, "c5": 1.0, "c6": 2.0, "c8": "2021-08-01"}]}
    assert post(sp, "/dbs/demo_db/procedures/sp", objects)["data"] == {
        "data": [{"w1_c4_sum": 35}], "common_cols_data": ["bb", 23]}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        ('{"common_cols":["bb", 23, 1590738994000], "input": [[123, 5.1, 6.1, "20 21-08-01"]],}',
         "Request body json parse failed"),  # upstream's "invalid date" case: the trailing comma
        ({**CALL, "common_cols": "bb"}, "common_cols is not array"),
        ({**CALL, "common_cols": ["bb", 23]}, "Invalid common cols size"),
        ({"common_cols": CALL["common_cols"], "input": []}, "Field input is invalid"),
        ({"common_cols": CALL["common_cols"], "input": [[1, 2.0, 3.0]]}, "Invalid input data size in row 0"),
        ({"common_cols": CALL["common_cols"], "input": [5]}, "Must be array or map, row 0"),
        ({"common_cols": ["bb", "x", 1590738994000], "input": CALL["input"]},
         "Translate to request row failed in array row 0, INVALID_ARGUMENT: trans const failed on c3(2): x"),
    ],
)  # fmt: skip
def test_call_procedure_errors(sp, body, msg):
    data = body if isinstance(body, str) else json.dumps(body)
    response = sp.post("/dbs/demo_db/procedures/sp", data, content_type="application/json")
    assert response.status_code == 200 and response.json() == {"code": -1, "msg": msg}


def test_procedures_and_deployments_keep_to_their_routes(sp):
    deploy = "DEPLOY dep " + SELECT
    assert sql(sp, deploy) == OK
    assert sp.get("/dbs/demo_db/deployments/sp").json() == {"code": -1, "msg": "deployment not found"}
    assert sp.get("/dbs/demo_db/procedures/dep").json() == {"code": -1, "msg": "procedure not found"}
    assert [d["name"] for d in sp.get("/dbs/demo_db/deployments").json()["deployments"]] == ["dep"]
    shown = sql(sp, "SHOW DEPLOYMENTS")
    assert shown["data"]["data"] == [["demo_db", "dep"]]
    # A deployment called through the procedure route: no common columns, every output column in data.
    body = post(sp, "/dbs/demo_db/procedures/dep", {"input": [["bb", 23, 1, 1.0, 2.0, 1590738994000, "2021-08-01"]]})
    assert body["data"] == {"data": [["bb", 23, 35]]}
    again = sql(sp, PROCEDURE)
    assert again == {"code": 2000, "msg": "procedure sp already exists in demo_db"}


def test_drop_procedure(sp):
    assert sql(sp, "DROP DEPLOYMENT sp") == {"code": 2000, "msg": "deployment sp does not exist in demo_db"}
    assert sql(sp, "drop procedure sp;") == OK
    assert not Deployment.objects.filter(name="sp").exists()
    assert sp.get("/dbs/demo_db/procedures/sp").json()["code"] == -1


def test_parameters_must_be_the_tables_columns(client, db):
    assert sql(client, "CREATE DATABASE demo_db") == OK
    assert sql(client, TABLE) == OK
    wrong = PROCEDURE.replace("c8 date", "c8 string")
    body = sql(client, wrong)
    assert body["code"] == 2000 and "must be the columns of trans, in order" in body["msg"], body
    assert not Deployment.objects.exists()
