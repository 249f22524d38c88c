"""The OpenMLDB APIServer routes from outside (contracts/openmldb.md §3): codes, messages, HTTP 200 always."""

import json

import pytest

from featurestore.selectors import table_get
from featurestore.storage import select_all
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

T0 = 1635247427000
ROW = ["aaa", 11, 22, 1.2, 1.3, T0, "2021-05-20"]
DDL = "CREATE TABLE t1 (c1 string, c2 int, c3 bigint, c4 float, c5 double, c6 timestamp, c7 date, INDEX(KEY=c1, TS=c6))"
DEPLOY = (
    "DEPLOY demo SELECT c1, c2, sum(c3) OVER w1 AS w1_c3_sum FROM t1 "
    "WINDOW w1 AS (PARTITION BY t1.c1 ORDER BY t1.c6 ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
)


def post(client, path, body):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    response = client.post(path, data, content_type="application/json")
    assert response.status_code == 200
    return response.json()


def put(client, path, body):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    response = client.put(path, data, content_type="application/json")
    assert response.status_code == 200
    return response.json()


def sql(client, text, db="demo_db", mode="online"):
    return post(client, f"/dbs/{db}", {"mode": mode, "sql": text})


@pytest.fixture
def demo(client, db):
    assert sql(client, "CREATE DATABASE demo_db") == {"code": 0, "msg": "ok"}
    assert sql(client, DDL) == {"code": 0, "msg": "ok"}
    for row in (ROW, ["aaa", 12, 22, 2.2, 2.3, T0 + 1, "2021-05-21"], ["bbb", 13, 23, 3.2, 3.3, T0 + 2, "2021-05-22"]):
        assert put(client, "/dbs/demo_db/tables/t1", {"value": [row]}) == {"code": 0, "msg": "ok"}
    assert sql(client, DEPLOY) == {"code": 0, "msg": "ok"}
    return client


# --- PUT /dbs/{db}/tables/{table} --------------------------------------------------------------------------------
def test_put_commits_the_row(demo):
    rows = select_all(table_get(db="demo_db", name="t1"))
    assert len(rows) == 3 and rows[0][1:3] == ("aaa", 11)


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        ("{", "Json parse failed, error code: 4"),
        ("", "Json parse failed, error code: 1"),
        ('{"value": [1e1000]}', "Json parse failed, error code: 13"),
        ({"value": [1, 2]}, "Invalid value in body, only support to put one row"),
        ({"value": []}, "Invalid value in body, only support to put one row"),
        ({"x": [ROW]}, "Invalid value in body, only support to put one row"),
        ({"value": [ROW + [1]]}, "column size != schema size"),
        ({"value": [[1, 11, 22, 1.2, 1.3, T0, "2021-05-20"]]}, "value is not string for col c1"),
        ({"value": [["aaa", "x", 22, 1.2, 1.3, T0, "2021-05-20"]]}, "conversion failed on col c2[2] with value x"),
        ({"value": [["aaa", 2**40, 22, 1.2, 1.3, T0, "2021-05-20"]]},
         f"conversion failed on col c2[2] with value {2**40}"),
        ({"value": [["aaa", 1, 22, 1.2, 1.3, "2021-01-01", "2021-05-20"]]},
         "conversion failed on col c6[8] with value 2021-01-01"),
        ({"value": [["aaa", 1, 22, 1.2, 1.3, T0, "2021-5-x"]]}, "conversion failed on col c7[7] with value 2021-5-x"),
    ],
)  # fmt: skip
def test_put_errors(demo, body, msg):
    assert put(demo, "/dbs/demo_db/tables/t1", body) == {"code": -1, "msg": msg}
    assert len(select_all(table_get(db="demo_db", name="t1"))) == 3


def test_put_fewer_values_is_2000(demo):
    body = put(demo, "/dbs/demo_db/tables/t1", {"value": [["aaa", 1]]})
    assert body == {
        "code": 2000,
        "msg": "fail to get insert info--get default value map of insert into t1 values(?,?); failed",
    }


def test_put_unknown_table_or_db(demo):
    body = put(demo, "/dbs/demo_db/tables/nope", {"value": [ROW]})
    assert body == {"code": 2000, "msg": "fail to get insert info--table with name nope in db demo_db does not exist"}
    body = put(demo, "/dbs/nodb/tables/t1", {"value": [ROW]})
    assert body["code"] == 2000 and "in db nodb does not exist" in body["msg"]


def test_put_many_rows_is_all_or_nothing(demo):
    good = ["ccc", 1, 2, 1.0, 1.0, T0, "2021-05-20"]
    bad = ["ccc", "x", 2, 1.0, 1.0, T0, "2021-05-20"]
    body = put(demo, "/dbs/demo_db/tables/t1", {"value": [good, bad]})
    assert body == {"code": -1, "msg": "conversion failed on col c2[2] with value x in row 1"}
    assert len(select_all(table_get(db="demo_db", name="t1"))) == 3
    assert put(demo, "/dbs/demo_db/tables/t1", {"value": [good, good]}) == {"code": 0, "msg": "ok"}
    assert len(select_all(table_get(db="demo_db", name="t1"))) == 5


def test_put_nan_infinity_and_nulls(demo):
    body = '{"value": [["nan", null, null, NaN, -Infinity, 1635247427009, null]]}'
    assert put(demo, "/dbs/demo_db/tables/t1", body) == {"code": 0, "msg": "ok"}
    data = sql(demo, "select c4, c5, c7 from t1 where c1 = 'nan'")["data"]
    assert data == {"schema": ["Float", "Double", "Date"], "data": [[None, None, None]]} or data["data"][0][2] is None


def test_nan_written_bare_or_null(demo):
    put(demo, "/dbs/demo_db/tables/t1", '{"value": [["n", 1, 2, NaN, Infinity, 1635247427009, "2021-12-01"]]}')
    raw = demo.post("/dbs/demo_db", json.dumps({"mode": "online", "sql": "select c4, c5, c7 from t1 where c1 = 'n'"}),
                    content_type="application/json").content  # fmt: skip
    assert b'"data":[[NaN,Infinity,"2021-12-1"]]' in raw
    raw = demo.post("/dbs/demo_db", json.dumps({"mode": "online", "sql": "select c4, c5 from t1 where c1 = 'n'",
                                                "write_nan_and_inf_null": True}),
                    content_type="application/json").content  # fmt: skip
    assert b'"data":[[null,null]]' in raw


# --- POST /dbs/{db}/deployments/{name} ---------------------------------------------------------------------------
def test_deployment_array_rows(demo):
    body = post(demo, "/dbs/demo_db/deployments/demo", {"input": [ROW, ["bbb", 1, 5, 1.0, 1.0, T0 + 10, "2021-01-01"]]})
    # the stored aaa row with the request's ts counts as a preceding row: 22 + 22
    assert body == {"code": 0, "msg": "ok", "data": {"data": [["aaa", 11, 44], ["bbb", 1, 28]]}}


def test_deployment_object_rows_and_schema(demo):
    row = dict(
        zip(["c1", "c2", "c3", "c4", "c5", "c6", "c7", "extra"], [*ROW[:5], T0 + 5, ROW[6], "ignored"], strict=True)
    )
    body = post(demo, "/dbs/demo_db/deployments/demo", {"input": [row], "need_schema": True})
    assert body["data"] == {
        "data": [{"c1": "aaa", "c2": 11, "w1_c3_sum": 66}],
        "schema": [{"name": "c1", "type": "string"}, {"name": "c2", "type": "int32"},
                   {"name": "w1_c3_sum", "type": "int64"}],
    }  # fmt: skip


def test_deployment_non_bool_flags_are_false(demo):
    body = post(demo, "/dbs/demo_db/deployments/demo", {"input": [ROW], "need_schema": "yes"})
    assert "schema" not in body["data"]


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        ("{bad", "Request body json parse failed"),
        ({}, "Field input is invalid"),
        ({"input": []}, "Field input is invalid"),
        ({"input": "x"}, "Field input is invalid"),
        ({"input": [ROW[:3]]}, "Invalid input data size in row 0"),
        ({"input": [ROW, ["aaa", "x", 22, 1.2, 1.3, T0, "2021-05-20"]]},
         "Translate to request row failed in array row 1, INVALID_ARGUMENT: trans failed on c2(2): x"),
        ({"input": [{"c2": 1}]}, "Translate to request row failed in map row 0, INVALID_ARGUMENT: can't find col c1"),
        ({"input": [dict(zip(["c1", "c2", "c3", "c4", "c5", "c7"], ROW[:5] + [ROW[6]], strict=True))]},
         "Translate to request row failed in map row 0, INVALID_ARGUMENT: can't find c6"),
        ({"input": [7]}, "Must be array or map, row 0"),
    ],
)  # fmt: skip
def test_deployment_errors(demo, body, msg):
    assert post(demo, "/dbs/demo_db/deployments/demo", body) == {"code": -1, "msg": msg}


def test_deployment_unknown(demo):
    assert post(demo, "/dbs/demo_db/deployments/nope", {"input": [ROW]}) == {
        "code": -1,
        "msg": "nope does not exist in demo_db",
    }


def test_get_deployment(demo):
    body = demo.get("/dbs/demo_db/deployments/demo").json()
    assert body["code"] == 0
    data = body["data"]
    assert data["name"] == "demo" and data["procedure"].startswith("SELECT c1, c2, sum(c3)")
    assert data["input_schema"][0] == {"name": "c1", "type": "string"} and len(data["input_schema"]) == 7
    assert data["output_schema"][-1] == {"name": "w1_c3_sum", "type": "int64"}
    assert data["dbs"] == ["demo_db"] and data["tables"] == ["t1"]
    assert demo.get("/dbs/demo_db/deployments/nope").json() == {"code": -1, "msg": "nope does not exist in demo_db"}
    assert demo.get("/dbs/demo_db/procedures/demo").json() == {"code": -1, "msg": "procedure not found"}


def test_list_deployments_extension(demo):
    assert demo.get("/dbs/demo_db/deployments").json() == {"code": 0, "msg": "ok",
                                                           "deployments": [{"name": "demo", "db": "demo_db"}]}  # fmt: skip


# --- POST /dbs/{db} ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "msg"),
    [
        ("not json", "Json parse failed, INVALID_ARGUMENT: req is not object"),
        ('{"mode": "online", "sql": 1e1000}', "Json parse failed, INVALID_ARGUMENT: req is not object"),
        ({"sql": "select 1"}, "Json parse failed, INVALID_ARGUMENT: mode parse failed"),
        ({"mode": "online"}, "Json parse failed, INVALID_ARGUMENT: sql parse failed"),
        ({"mode": "online", "sql": "x", "timeout": "1"}, "Json parse failed, INVALID_ARGUMENT: timeout parse failed"),
        ({"mode": "online", "sql": "x", "input": 3}, "Json parse failed, INVALID_ARGUMENT: input parse failed"),
        ({"mode": "online", "sql": "x", "write_nan_and_inf_null": 1},
         "Json parse failed, INVALID_ARGUMENT: write_nan_and_inf_null parse failed"),
        ({"mode": "online", "sql": "x", "input": {"schema": ["int"], "data": [1, 2]}},
         "Json parse failed, INVALID_ARGUMENT: data size 2 != schema size 1"),
        ({"mode": "online", "sql": "x", "input": {"schema": ["varchar"], "data": [1]}},
         "Json parse failed, INVALID_ARGUMENT: invalid type VARCHAR"),
        ({"mode": "online", "sql": "x", "input": {"schema": ["int"], "data": ["a"]}},
         "Json parse failed, INVALID_ARGUMENT: append failed on 0 type 3"),
        ({"mode": "nope", "sql": "select 1"}, "Invalid mode nope"),
    ],
)  # fmt: skip
def test_query_parse_errors(demo, body, msg):
    assert post(demo, "/dbs/demo_db", body) == {"code": -1, "msg": msg}


def test_query_result_set_and_parameters(demo):
    body = post(demo, "/dbs/demo_db", {"mode": "online", "sql": "select c1, c2 from t1 where c2 > ? and c1 = ?",
                                       "input": {"schema": ["Int32", "String"], "data": [11, "aaa"]}})  # fmt: skip
    assert body == {"code": 0, "msg": "ok", "data": {"schema": ["String", "Int32"], "data": [["aaa", 12]]}}


@pytest.mark.parametrize(
    ("body", "data"),
    [
        ({"mode": "online", "sql": "select 1"}, {"schema": ["Int32"], "data": [[1]]}),  # rest_api.md, example 1
        ({"mode": "online", "sql": "select 1 as a, 'z' as b"}, {"schema": ["Int32", "String"], "data": [[1, "z"]]}),
        ({"mode": "online", "sql": "select ?+1", "input": {"schema": ["Int32"], "data": [1]}},
         {"schema": ["Int32"], "data": [[2]]}),
        ({"mode": "offsync", "sql": "select 1.5 as d, true as b, 2147483648 as big"},
         {"schema": ["Double", "Bool", "Int64"], "data": [[1.5, True, 2147483648]]}),
        ({"mode": "online", "sql": "select 1 where false"}, {"schema": ["Int32"], "data": []}),
        ({"mode": "online", "sql": "select 1 limit 0"}, {"schema": ["Int32"], "data": []}),
    ],
)  # fmt: skip
def test_a_select_without_from_answers_one_row_of_constants(client, db, body, data):
    assert post(client, "/dbs/any_db", body) == {"code": 0, "msg": "ok", "data": data}


@pytest.mark.parametrize(
    ("text", "msg"),
    [
        ("select x", "column x does not exist: the SELECT has no FROM"),
        ("select *", "SELECT * needs a table: the SELECT has no FROM"),
    ],
)
def test_a_select_without_from_names_what_needs_a_table(client, db, text, msg):
    assert sql(client, text) == {"code": 2000, "msg": msg}


def test_query_mode_is_case_insensitive_and_ddl_answers_ok(demo):
    assert sql(demo, "CREATE TABLE t9 (a int, b timestamp, INDEX(KEY=a, TS=b))", mode="OFFSYNC") == OK


OK = {"code": 0, "msg": "ok"}


def test_query_errors_carry_2000(demo):
    assert sql(demo, "CREATE DATABASE demo_db") == {
        "code": 2000, "msg": "Create database failed for database already exists"}  # fmt: skip
    body = sql(demo, "select nope from t1")
    assert body["code"] == 2000 and "nope" in body["msg"]
    body = sql(demo, "DELETE FROM t1")
    assert body["code"] == 2000 and "unsupported statement: DELETE" in body["msg"]


def test_offline_window_query_computes_every_row(demo):
    body = sql(demo, DEPLOY.split(" ", 2)[2], mode="offsync")
    assert body["data"] == {
        "schema": ["String", "Int32", "Int64"],
        "data": [["aaa", 11, 22], ["aaa", 12, 44], ["bbb", 13, 23]],
    }


def test_request_mode_query_without_deploy(demo):
    text = (
        "SELECT c1, sum(c3) OVER w AS s FROM t1 WINDOW w AS (PARTITION BY c1 ORDER BY c6 "
        f"ROWS BETWEEN 5 PRECEDING AND CURRENT ROW) CONFIG (execute_mode = 'request', values = ('aaa', 1, 100, 1.0, 1.0, {T0 + 9}, '2021-01-01'))"
    )
    assert sql(demo, text)["data"] == {"schema": ["String", "Int64"], "data": [["aaa", 144]]}


def test_show_and_drop(demo):
    assert sql(demo, "SHOW DEPLOYMENTS")["data"]["data"] == [["demo_db", "demo"]]
    assert sql(demo, "SHOW TABLES")["data"]["data"] == [["t1"]]
    assert sql(demo, "DROP TABLE t1")["code"] == 2000  # used by a deployment
    assert sql(demo, "DROP DEPLOYMENT demo") == OK
    assert sql(demo, "DROP TABLE t1") == OK
    assert demo.get("/dbs/demo_db/tables").json() == {"code": 0, "msg": "ok", "tables": []}


def test_deploy_refused_in_offline_mode(demo):
    body = sql(demo, DEPLOY.replace("demo", "demo2", 1), mode="offsync")
    assert body["code"] == 2000 and "Can not deploy in offline mode" in body["msg"]


# --- GET routes and refresh --------------------------------------------------------------------------------------
def test_get_dbs_and_tables(demo):
    assert demo.get("/dbs").json() == {"code": 0, "msg": "ok", "dbs": ["demo_db"]}
    assert demo.get("/dbs/").json()["dbs"] == ["demo_db"]  # empty segments are dropped, as brpc does
    tables = demo.get("/dbs/demo_db/tables").json()["tables"]
    assert [t["name"] for t in tables] == ["t1"]
    info = demo.get("/dbs//demo_db/tables/t1").json()["table"]
    assert info["column_desc"][0] == {"name": "c1", "data_type": "kVarchar", "not_null": False}
    assert info["column_key"][0]["col_name"] == ["c1"] and info["column_key"][0]["ts_name"] == "c6"
    assert info["db"] == "demo_db" and info["tid"] > 0
    # The seed's (rest_api.md's) fields, in its order.
    assert list(info)[:3] == ["name", "table_partition_size", "tid"]
    assert info["format_version"] == 1 and info["partition_key"] == [] and info["schema_versions"] == []
    assert list(info).index("added_column_desc") < list(info).index("format_version") < list(info).index("db")
    assert list(info)[-2:] == ["partition_key", "schema_versions"]
    assert tables[0] == info
    assert demo.get("/dbs/nodb/tables").json() == {"code": -1, "msg": "DB not found"}
    assert demo.get("/dbs/nodb/tables/t1").json() == {"code": -1, "msg": "DB not found"}
    assert demo.get("/dbs/demo_db/tables/nope").json() == {"code": -1, "msg": "Table not found"}


# --- query counts: the list routes read the catalog in a bounded number of queries --------------------------------
def _add_db(client, index: int) -> None:
    assert sql(client, f"CREATE DATABASE qdb{index}", db=f"qdb{index}") == OK


def _add_table(client, index: int) -> None:
    ddl = f"CREATE TABLE q{index} (k string, v int, w double, ts timestamp, INDEX(KEY=k, TS=ts), INDEX(KEY=v, TS=ts))"
    assert sql(client, ddl) == OK


def _add_deployment(client, index: int) -> None:
    assert sql(client, DEPLOY.replace("DEPLOY demo", f"DEPLOY d{index}", 1)) == OK


@pytest.mark.parametrize(
    ("path", "key", "add", "most"),
    [
        ("/dbs", "dbs", _add_db, 1),
        ("/dbs/demo_db/tables", "tables", _add_table, 2),
        ("/dbs/demo_db/deployments", "deployments", _add_deployment, 2),
    ],
    ids=["dbs", "tables", "deployments"],
)
def test_list_queries_do_not_grow_with_the_catalog(demo, django_assert_max_num_queries, path, key, add, most):
    for index in range(2):  # with the demo fixture's database, table and deployment: three of each
        add(demo, index)
    demo.get(path)  # first-request caches do not count
    with django_assert_max_num_queries(most) as few:
        assert len(demo.get(path).json()[key]) == 3
    few = len(few)  # counted now: a later request starts the connection's query log afresh
    for index in range(2, 22):
        add(demo, index)
    with django_assert_max_num_queries(few):
        assert len(demo.get(path).json()[key]) == 23


def test_refresh(demo):
    assert post(demo, "/refresh", "") == OK


def test_unknown_routes_and_methods(demo):
    assert demo.get("/dbs/demo_db/nothing/here/at/all").json() == {"code": -1, "msg": "no match method"}
    assert demo.delete("/dbs/demo_db/tables/t1").json() == {"code": -1, "msg": "unsupported method"}
    assert post(demo, "/dbs/demo_db/tables/t1", {}) == {"code": -1, "msg": "no match method"}


def test_anonymous_access_follows_the_setting(client, db, settings, user):
    settings.OPENMLDB_ALLOW_ANONYMOUS = False
    body = client.get("/dbs").json()
    assert body["code"] == -1 and body["msg"].startswith("Authentication required")
    assert client.get("/dbs", **bearer(user)).json()["code"] == 0


def test_put_a_large_batch(demo):
    """Big batches take PostgreSQL's COPY path; every value must come back as sent."""
    rows = [[f"k{i}", i, i * 10, 0.5, float(i), T0 + i, "2021-05-20" if i % 2 else None] for i in range(150)]
    rows[3][4] = None
    assert put(demo, "/dbs/demo_db/tables/t1", {"value": rows}) == OK
    body = sql(demo, "select c1, c2, c3, c4, c5, c6, c7 from t1 where c1 = 'k3' or c1 = 'k4'")
    assert sorted(body["data"]["data"]) == [
        ["k3", 3, 30, 0.5, None, T0 + 3, "2021-5-20"],
        ["k4", 4, 40, 0.5, 4.0, T0 + 4, None],
    ]
    assert len(select_all(table_get(db="demo_db", name="t1"))) == 153
