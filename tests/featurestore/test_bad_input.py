"""Bad input the feature store refuses (issue 13, item 10): ts values the window engine cannot compute on, names
that are not OpenMLDB identifiers, and more than one SQL statement per request. Rows and names stored before
these rules existed must not break anything either."""

import json

import pytest
from django.core.exceptions import ValidationError

from featurestore import services, storage
from featurestore import sql as sqlexec
from featurestore.limits import INT64_MAX, INT64_MIN, TS_MAX, TS_MIN, WINDOW_OFFSET_MAX
from featurestore.models import Database, Deployment, FeatureTable
from featurestore.selectors import database_get, deployment_get, table_get
from jobs.models import Job

pytestmark = pytest.mark.django_db

OK = {"code": 0, "msg": "ok"}
RANGE = f"ts out of range [{TS_MIN}, {TS_MAX}]"
NAME_RULE = "a name is letters, digits and underscores, not starting with a digit"


def post(client, path, body):
    response = client.post(path, json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    return response.json()


def put(client, path, body):
    response = client.put(path, body if isinstance(body, str) else json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    return response.json()


def sql(client, text, db="fs", mode="online"):
    return post(client, f"/dbs/{db}", {"mode": mode, "sql": text})


def stored(table="t"):
    return [row[1:] for row in storage.select_all(table_get(db="fs", name=table))]


@pytest.fixture
def fs(client, db):
    assert sql(client, "CREATE DATABASE fs") == OK
    assert sql(client, "CREATE TABLE t (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))") == OK
    return client


# --- ts values ---------------------------------------------------------------------------------------------------
def test_the_range_leaves_room_for_every_window_bound():
    # The engine computes ts - offset - 1 at most (OPEN ... PRECEDING ends); with the largest offset the parser
    # accepts, the smallest accepted ts gives exactly INT64_MIN, and ts + 1 stays below INT64_MAX.
    assert TS_MIN - WINDOW_OFFSET_MAX - 1 == INT64_MIN
    assert TS_MAX + WINDOW_OFFSET_MAX == INT64_MAX
    assert (TS_MIN, TS_MAX) == (-4611686018427387903, 4611686018427387903)


@pytest.mark.parametrize("ts", [INT64_MIN, TS_MIN - 1, TS_MAX + 1, INT64_MAX])
def test_put_refuses_a_ts_out_of_the_engines_range(fs, ts):
    body = put(fs, "/dbs/fs/tables/t", {"value": [["a", 1, ts]]})
    assert body == {"code": -1, "msg": f"conversion failed on col ts[8] with value {ts}--{RANGE}"}
    assert stored() == []


def test_put_of_many_rows_names_the_row_with_the_bad_ts(fs):
    body = put(fs, "/dbs/fs/tables/t", {"value": [["a", 1, 1000], ["a", 2, INT64_MIN]]})
    assert body == {"code": -1, "msg": f"conversion failed on col ts[8] with value {INT64_MIN} in row 1--{RANGE}"}
    assert stored() == []


def test_rows_range_windows_work_at_both_ends_of_the_range(fs):
    rows = [["lo", 1, TS_MIN], ["lo", 2, TS_MIN + 1], ["hi", 1, TS_MAX - 1], ["hi", 2, TS_MAX]]
    assert put(fs, "/dbs/fs/tables/t", {"value": rows}) == OK
    # Every bound the engine computes, at the largest offset: ts - offset, ts - 1 (EXCLUDE CURRENT_TIME),
    # ts - offset + 1 (OPEN start) and ts - offset - 1 (OPEN end, exactly INT64_MIN for TS_MIN).
    text = (
        "SELECT k, ts, sum(v) OVER w1 AS s1, count(v) OVER w2 AS n2, count(v) OVER w3 AS n3 FROM t WINDOW "
        f"w1 AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN {WINDOW_OFFSET_MAX} PRECEDING AND CURRENT ROW "
        "EXCLUDE CURRENT_TIME), "
        f"w2 AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN {WINDOW_OFFSET_MAX} OPEN PRECEDING AND 0 PRECEDING), "
        f"w3 AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN UNBOUNDED PRECEDING AND {WINDOW_OFFSET_MAX} OPEN "
        "PRECEDING)"
    )
    expected = [["lo", TS_MIN, 1, 0, 0], ["lo", TS_MIN + 1, 3, 1, 0], ["hi", TS_MAX - 1, 1, 0, 0],
                ["hi", TS_MAX, 3, 1, 0]]  # fmt: skip
    assert sql(fs, text)["data"]["data"] == expected
    # The jobs' sql engine runs the same statements (offline mode), one by one.
    [(_, _, result)] = list(sqlexec.execute_each(db="fs", sql=text))
    assert result.rows == expected


def test_deployment_requests_at_the_ends_of_the_range_and_beyond(fs):
    assert put(fs, "/dbs/fs/tables/t", {"value": [["hi", 1, TS_MAX - 1], ["hi", 2, TS_MAX]]}) == OK
    deploy = (
        "DEPLOY d OPTIONS(RANGE_BIAS='inf') SELECT k, sum(v) OVER w AS s FROM t WINDOW w AS (PARTITION BY k "
        f"ORDER BY ts ROWS_RANGE BETWEEN {WINDOW_OFFSET_MAX} PRECEDING AND CURRENT ROW EXCLUDE CURRENT_TIME)"
    )
    assert sql(fs, deploy) == OK
    body = post(fs, "/dbs/fs/deployments/d", {"input": [["hi", 10, TS_MAX], ["lo", 10, TS_MIN]]})
    assert body == {"code": 0, "msg": "ok", "data": {"data": [["hi", 11], ["lo", 10]]}}
    body = post(fs, "/dbs/fs/deployments/d", {"input": [{"k": "hi", "v": 1, "ts": TS_MAX + 1}]})
    assert body == {
        "code": -1,
        "msg": f"Translate to request row failed in map row 0, INVALID_ARGUMENT: trans failed on ts(8): "
        f"{TS_MAX + 1}--{RANGE}",
    }


def test_sql_insert_and_request_values_refuse_it_too(fs):
    body = sql(fs, f"INSERT INTO t VALUES ('a', 1, {INT64_MAX})")
    assert body == {"code": 2000, "msg": f"row 0: column ts: cannot convert {INT64_MAX} to timestamp: {RANGE}"}
    assert stored() == []
    text = (
        "SELECT k, count(v) OVER w AS n FROM t WINDOW w AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 1d "
        f"PRECEDING AND CURRENT ROW) CONFIG (execute_mode = 'request', values = ('a', 1, {TS_MAX + 1}))"
    )
    body = sql(fs, text)
    assert body == {"code": 2000, "msg": f"row 0: column ts: cannot convert {TS_MAX + 1} to timestamp: {RANGE}"}
    body = post(fs, "/dbs/fs", {"mode": "online", "sql": "SELECT k FROM t WHERE ts > ?",
                                "input": {"schema": ["timestamp"], "data": [INT64_MIN]}})  # fmt: skip
    assert body == {"code": -1, "msg": "Json parse failed, INVALID_ARGUMENT: append failed on 0 type 11"}


def test_a_bigint_is_range_checked_when_it_is_an_index_ts(fs):
    ddl = "CREATE TABLE b (k string, seq bigint, n bigint, INDEX(KEY=k, TS=seq))"
    assert sql(fs, ddl) == OK
    body = put(fs, "/dbs/fs/tables/b", {"value": [["a", INT64_MAX, 1]]})
    assert body == {"code": -1, "msg": f"conversion failed on col seq[3] with value {INT64_MAX}--{RANGE}"}
    # Other bigints keep all of int64 (ids, hashes).
    assert put(fs, "/dbs/fs/tables/b", {"value": [["a", TS_MAX, INT64_MIN], ["a", TS_MIN, INT64_MAX]]}) == OK
    assert stored("b") == [("a", TS_MAX, INT64_MIN), ("a", TS_MIN, INT64_MAX)]


def test_a_bigint_becomes_range_checked_when_a_deploy_indexes_it_as_ts(fs):
    assert sql(fs, "CREATE TABLE b (k string, seq bigint, v int, INDEX(KEY=k))") == OK
    assert put(fs, "/dbs/fs/tables/b", {"value": [["a", INT64_MAX, 1]]}) == OK
    deploy = ("DEPLOY d SELECT k, sum(v) OVER w AS s FROM b WINDOW w AS (PARTITION BY k ORDER BY seq "
              "ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)")  # fmt: skip
    assert sql(fs, deploy) == OK
    assert table_get(db="fs", name="b").ts_columns == {"seq"}
    body = put(fs, "/dbs/fs/tables/b", {"value": [["a", INT64_MAX, 1]]})
    assert body == {"code": -1, "msg": f"conversion failed on col seq[3] with value {INT64_MAX}--{RANGE}"}
    # The row stored before the deploy still computes: the deploy gave the index a latest TTL, whose look-ahead
    # (ts + 1) leaves int64 for it, and the engine answers that bound without overflowing.
    assert table_get(db="fs", name="b").indexes[-1]["ttl_type"] == "latest"
    assert sql(fs, deploy.split(" ", 2)[2])["data"]["data"] == [["a", 1]]
    body = post(fs, "/dbs/fs/deployments/d", {"input": [["a", TS_MAX, 5]]})
    assert body["data"]["data"] == [["a", 5]]


def test_rows_stored_before_the_rule_do_not_break_queries(fs):
    assert sql(fs, "CREATE TABLE old (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts, TTL=10, TTL_TYPE=latest))")
    # As legacy data: written without the checks, at the very ends of int64.
    storage.insert_rows(table_get(db="fs", name="old"), [["lo", 1, INT64_MIN], ["lo", 2, INT64_MIN + 5],
                                                         ["hi", 4, INT64_MAX]])  # fmt: skip
    text = (
        "SELECT k, sum(v) OVER w1 AS s1, sum(v) OVER w2 AS s2 FROM old WINDOW "
        "w1 AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW EXCLUDE CURRENT_TIME), "
        "w2 AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 10s OPEN PRECEDING AND 1 OPEN PRECEDING)"
    )
    body = sql(fs, text)
    assert body == {"code": 0, "msg": "ok",
                    "data": {"schema": ["String", "Int32", "Int32"], "data": [["lo", 1, None], ["lo", 3, 1],
                                                                               ["hi", 4, None]]}}  # fmt: skip
    [(_, _, result)] = list(sqlexec.execute_each(db="fs", sql=text))
    assert result.rows == body["data"]["data"]


def test_window_offsets_beyond_the_limit_are_refused(fs):
    for frame in (
        f"ROWS_RANGE BETWEEN {WINDOW_OFFSET_MAX + 1} PRECEDING AND CURRENT ROW",
        f"ROWS BETWEEN {WINDOW_OFFSET_MAX + 1} PRECEDING AND CURRENT ROW",
        f"ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW MAXSIZE {WINDOW_OFFSET_MAX + 1}",
        f"ROWS_RANGE BETWEEN {WINDOW_OFFSET_MAX // 86_400_000 + 1}d PRECEDING AND CURRENT ROW",
    ):
        body = sql(fs, f"SELECT k, count(v) OVER w AS n FROM t WINDOW w AS (PARTITION BY k ORDER BY ts {frame})")
        assert body["code"] == 2000 and f"is too large: at most {WINDOW_OFFSET_MAX}" in body["msg"], frame


# --- names -------------------------------------------------------------------------------------------------------
BAD_NAMES = ["../../etc", "a'b", "1abc", "a-b", "a b", "é", "x" * 129]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_create_database_refuses_a_name_that_is_not_an_identifier(client, db, name):
    body = sql(client, f"CREATE DATABASE `{name}`", db="any")
    problem = "a name is at most 128 characters" if len(name) > 128 else NAME_RULE
    assert body == {"code": 2000, "msg": f"invalid database name `{name}`: {problem}"}
    assert not Database.objects.exists()


@pytest.mark.parametrize(
    ("ddl", "what", "name"),
    [
        ("CREATE TABLE `../../etc` (k string, ts timestamp)", "table", "../../etc"),
        ("CREATE TABLE fs.`a'b` (k string, ts timestamp)", "table", "a'b"),
        ("CREATE TABLE t2 (`a'b` string, ts timestamp)", "column", "a'b"),
        ("CREATE TABLE t2 (k string, `2x` timestamp, INDEX(KEY=k, TS=`2x`))", "column", "2x"),
        ("CREATE TABLE t2 (k string, ts timestamp, INDEX `a/b` (KEY=k, TS=ts))", "index", "a/b"),
    ],
)
def test_create_table_refuses_bad_table_column_and_index_names(fs, ddl, what, name):
    tables = set(FeatureTable.objects.values_list("storage_table", flat=True))
    assert sql(fs, ddl) == {"code": 2000, "msg": f"invalid {what} name `{name}`: {NAME_RULE}"}
    assert set(FeatureTable.objects.values_list("storage_table", flat=True)) == tables


def test_deploy_refuses_a_bad_name_and_changes_nothing(fs):
    indexes = table_get(db="fs", name="t").indexes
    deploy = ("DEPLOY `a'b` SELECT k, count(v) OVER w AS n FROM t WINDOW w AS (PARTITION BY k ORDER BY ts "
              "ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)")  # fmt: skip
    assert sql(fs, deploy) == {"code": 2000, "msg": f"invalid deployment name `a'b`: {NAME_RULE}"}
    assert not Deployment.objects.exists() and table_get(db="fs", name="t").indexes == indexes


def test_identifiers_backquoted_keywords_and_128_characters_are_names(fs):
    long = "x" * 128
    assert sql(fs, f"CREATE DATABASE {long}") == OK
    assert sql(fs, "CREATE TABLE `Key` (`select` string, _ts2 timestamp, INDEX idx_1 (KEY=`select`, TS=_ts2))") == OK
    assert sql(fs, "DEPLOY `limit` SELECT `select` FROM `Key`") == OK
    assert database_get(name=long) and deployment_get(db="fs", name="limit")
    assert table_get(db="fs", name="Key").column_names == ["select", "_ts2"]


def test_names_stored_before_the_rule_can_still_be_used_and_dropped(fs):
    # As legacy data: written bypassing every check.
    legacy = Database.objects.create(name="a'b")
    FeatureTable.objects.filter(name="t").update(name="a'b t")
    services.catalog_refresh()
    assert put(fs, "/dbs/fs/tables/a'b%20t", {"value": [["a", 1, 1000]]}) == OK
    assert sql(fs, "SELECT k, v FROM `a'b t`")["data"]["data"] == [["a", 1]]
    assert sql(fs, "DROP TABLE `a'b t`") == OK and not FeatureTable.objects.exists()
    assert sql(fs, "DROP DATABASE `a'b`") == OK
    assert not Database.objects.filter(pk=legacy.pk).exists()


def test_the_models_validate_names(db):
    database = Database.objects.create(name="d1")
    for model, extra in ((Database, {}), (FeatureTable, {"database": database}), (Deployment, {"database": database})):
        with pytest.raises(ValidationError) as raised:
            model(name="../../etc", **extra).full_clean()
        assert raised.value.message_dict["name"] == [f"Not an OpenMLDB name: {NAME_RULE}."]
        try:
            model(name="ok_name", **extra).full_clean()
        except ValidationError as exc:  # other required fields are left empty here; the name must not be refused
            assert "name" not in exc.message_dict


def test_the_admin_names_a_new_database_by_the_rule(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/admin/featurestore/database/add/", {"name": "../../etc"})
    assert response.status_code == 200 and "Not an OpenMLDB name" in response.content.decode()
    assert not Database.objects.exists()
    response = client.post("/admin/featurestore/database/add/", {"name": "from_admin"})
    assert response.status_code == 302 and Database.objects.filter(name="from_admin").exists()
    page = client.get(f"/admin/featurestore/database/{database_get(name='from_admin').pk}/change/").content.decode()
    assert 'name="name"' not in page  # named once: the name is read-only afterwards


# --- one statement per request -----------------------------------------------------------------------------------
def test_several_statements_in_one_request_are_refused_and_none_runs(fs):
    assert put(fs, "/dbs/fs/tables/t", {"value": [["a", 1, 1000]]}) == OK
    body = sql(fs, "SELECT * FROM t; DROP TABLE t")
    assert body == {
        "code": -1,
        "msg": "one statement per request, got 2: nothing was executed "
        "(send them one by one, or run the script as a job of the sql engine)",
    }
    assert table_get(db="fs", name="t") is not None and stored() == [("a", 1, 1000)]
    assert sql(fs, "CREATE DATABASE x1; CREATE DATABASE x2")["code"] == -1
    assert not Database.objects.filter(name__in=["x1", "x2"]).exists()


def test_offasync_with_several_statements_submits_no_job(fs, user):
    fs.force_login(user)
    body = sql(fs, "INSERT INTO t VALUES ('a', 1, 1000); SELECT * FROM t", mode="offasync")
    assert body["code"] == -1 and not Job.objects.exists() and stored() == []


def test_one_statement_with_semicolons_around_it_runs(fs):
    assert sql(fs, ";INSERT INTO t VALUES ('a', 1, 1000);;") == OK
    assert sql(fs, "SELECT k, v FROM t;")["data"]["data"] == [["a", 1]]


def test_scripts_still_run_as_jobs_of_the_sql_engine(fs):
    script = "INSERT INTO t VALUES ('a', 1, 1000); INSERT INTO t VALUES ('a', 2, 2000); SELECT count(v) AS n FROM t"
    results = list(sqlexec.execute_each(db="fs", sql=script))
    assert [(number, count) for number, count, _ in results] == [(0, 3), (1, 3), (2, 3)]
    assert results[-1][2].rows == [[2]]
