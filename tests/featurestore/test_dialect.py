"""OpenMLDB SQL dialect: statements, SELECT extensions (LAST JOIN, windows, CONFIG), units and errors."""

from __future__ import annotations

import datetime

import pytest
from sqlglot import exp

from featurestore.sqlcore import sqlir
from featurestore.sqlcore.dialect import SqlError, parse, parse_expression, parse_one


def select(sql: str) -> sqlir.Select:
    statement = parse_one(sql)
    assert isinstance(statement, sqlir.Select)
    return statement


def frame_of(window_sql: str, name: str = "w") -> sqlir.Frame:
    sql = f"SELECT sum(c) OVER {name} FROM t WINDOW {name} AS ({window_sql})"  # noqa: S608 (test input, not a query)
    return select(sql).windows[name].frame


def column(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table)


# --- real-world queries ----------------------------------------------------------------------------------------


def test_quick_start_deploy():
    sql = (
        "SELECT c1, c3, sum(c4) OVER w1 as w1_c4_sum FROM t1 "
        "WINDOW w1 AS (PARTITION BY t1.c1 ORDER BY t1.c7 ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
    )
    deploy = parse_one(f"DEPLOY demo_data_service {sql};")
    assert isinstance(deploy, sqlir.Deploy)
    assert (deploy.name, deploy.db, deploy.options, deploy.if_not_exists) == ("demo_data_service", None, {}, False)
    assert deploy.sql == sql
    query = deploy.select
    assert [p.alias for p in query.projections] == [None, None, "w1_c4_sum"]
    assert query.projections[0].expression == column("c1")
    aggregate = query.projections[2].expression
    assert isinstance(aggregate, exp.Window) and aggregate.alias == "w1"
    assert isinstance(aggregate.this, exp.Anonymous) and aggregate.this.name == "sum"
    assert query.source == sqlir.TableRef(name="t1")
    window = query.windows["w1"]
    assert window.partition_by == [column("c1", "t1")]
    assert window.order_by.table == "t1" and window.order_by.name == "c7"
    assert window.frame == sqlir.Frame(
        kind="rows", start=sqlir.FrameBound("preceding", 2), end=sqlir.FrameBound("current_row")
    )


def test_talkingdata():
    query = select(
        "select ip, count(channel) over w1 as ip_channel_count, count(channel) over w2 as ip_app_count, "
        "hour(click_time) as hour, day(click_time) as day from train "
        "window w1 as (partition by ip order by click_time ROWS_RANGE BETWEEN 1h PRECEDING AND CURRENT ROW), "
        "w2 as(partition by ip, app order by click_time ROWS_RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    )
    assert [p.alias for p in query.projections] == [None, "ip_channel_count", "ip_app_count", "hour", "day"]
    assert query.windows["w1"].frame.start == sqlir.FrameBound("preceding", 3_600_000)
    assert query.windows["w2"].partition_by == [column("ip"), column("app")]
    assert query.windows["w2"].frame.start == sqlir.FrameBound("unbounded")
    assert query.windows["w2"].frame.kind == "rows_range"


def test_taxi():
    query = select(
        "select trip_duration, passenger_count, sum(pickup_latitude) over w as vendor_sum_pl, max(pickup_latitude) "
        "over w as vendor_max_pl, min(pickup_latitude) over w as vendor_min_pl, avg(pickup_latitude) over w as "
        "vendor_avg_pl, sum(pickup_latitude) over w2 as pc_sum_pl, count(vendor_id) over w2 as pc_cnt from t1 window "
        "w as (partition by vendor_id order by pickup_datetime ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW), w2 as "
        "(partition by passenger_count order by pickup_datetime ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)"
    )
    calls = [(p.expression.this.name, p.expression.alias) for p in query.projections[2:]]
    assert calls == [("sum", "w"), ("max", "w"), ("min", "w"), ("avg", "w"), ("sum", "w2"), ("count", "w2")]
    assert set(query.windows) == {"w", "w2"}
    assert query.windows["w2"].frame.start.offset == 86_400_000
    assert query.windows["w2"].order_by == column("pickup_datetime")


JD_QUERY = """
select * from
(
select
    `reqId` as reqId_1,
    distinct_count(`pair_id`) over w as pair_id_unique_count,
    top1_ratio(`pair_id`) over w as pair_id_top1_ratio,
    topn_frequency(`pair_id`, 3) over w as pair_id_top3,
    count_where(`pair_id`, `pair_id` > 0) over w as pair_id_positive,
    dayofweek(timestamp(`eventTime`)) as eventTime_dayofweek,
    case when `age` > 30 then 'old' when `age` is null then "unknown" else 'young' end as age_group
from
    (select `eventTime`, `reqId`, `pair_id`, int(0) as `age` from `flattenRequest`) as fr
    WINDOW w AS (UNION t2 PARTITION BY reqId ORDER BY eventTime ROWS_RANGE BETWEEN 14d PRECEDING AND CURRENT ROW
                 MAXSIZE 100 INSTANCE_NOT_IN_WINDOW)
) as a
LAST JOIN (select reqId, ts, max(`bibv`) over bo as bibv_max from t3 window bo as (
    UNION (select `ts`, `reqId`, 0.0 as `bibv` from `bo_user`)
    partition by `reqId` order by `ts` rows_range between 1209600000 preceding and 0s preceding)) as b
ORDER BY b.ts ON a.reqId_1 = b.reqId;
"""


def test_jd_style_query():
    query = select(JD_QUERY)
    assert query.projections == [sqlir.Projection(exp.Star(), None)]
    inner = query.source.subquery
    assert query.source.alias == "a" and inner is not None
    names = [p.expression.this.name for p in inner.projections[1:5]]
    assert names == ["distinct_count", "top1_ratio", "topn_frequency", "count_where"]
    count_where = inner.projections[4].expression.this
    assert isinstance(count_where.expressions[1], exp.GT)
    dayofweek = inner.projections[5].expression
    assert (dayofweek.name, dayofweek.expressions[0].name) == ("dayofweek", "timestamp")
    case = inner.projections[6].expression
    assert isinstance(case, exp.Case) and case.args["ifs"][1].args["true"] == exp.Literal.string("unknown")
    assert inner.source.alias == "fr" and inner.source.subquery.projections[3].alias == "age"
    window = inner.windows["w"]
    assert window.union == [sqlir.TableRef(name="t2")]
    assert window.frame == sqlir.Frame(
        kind="rows_range",
        start=sqlir.FrameBound("preceding", 14 * 86_400_000),
        end=sqlir.FrameBound("current_row"),
        maxsize=100,
        instance_not_in_window=True,
    )
    (join,) = query.joins
    assert join.right.alias == "b" and join.right.subquery.source == sqlir.TableRef(name="t3")
    assert join.order_by == column("ts", "b")
    assert join.on == exp.column("reqId_1", "a").eq(exp.column("reqId", "b"))
    union_window = join.right.subquery.windows["bo"]
    assert union_window.union[0].subquery.source == sqlir.TableRef(name="bo_user")
    assert union_window.frame.start.offset == 1_209_600_000
    assert union_window.frame.end == sqlir.FrameBound("preceding", 0)


def test_last_join_with_order():
    query = select("select * from t1 last join t2 order by t2.c7 on t1.c1 = t2.c1")
    assert query.source == sqlir.TableRef(name="t1")
    assert query.joins == [
        sqlir.LastJoin(
            right=sqlir.TableRef(name="t2"),
            on=exp.column("c1", "t1").eq(exp.column("c1", "t2")),
            order_by=column("c7", "t2"),
        )
    ]


def test_window_attributes_in_any_order():
    query = select(
        "SELECT c1, sum(c4) OVER w1 AS s FROM t1 WINDOW w1 AS (PARTITION BY c1 ORDER BY c7 "
        "ROWS_RANGE BETWEEN 2s PRECEDING AND CURRENT ROW EXCLUDE CURRENT_TIME MAXSIZE 5 EXCLUDE CURRENT_ROW)"
    )
    assert query.windows["w1"].frame == sqlir.Frame(
        kind="rows_range",
        start=sqlir.FrameBound("preceding", 2000),
        end=sqlir.FrameBound("current_row"),
        maxsize=5,
        exclude_current_row=True,
        exclude_current_time=True,
    )


def test_create_table_with_indexes_and_options():
    statement = parse_one(
        "CREATE TABLE t1 (c1 string, c3 int, c4 bigint, c5 float, c6 double, c7 timestamp, c8 date, "
        "INDEX(KEY=c1, TS=c7, TTL=1d, TTL_TYPE=absolute), INDEX(KEY=(c1, c3), TS=c7, TTL=(10m, 100), "
        "TTL_TYPE=absorlat)) OPTIONS(PARTITIONNUM=1, REPLICANUM=1);"
    )
    assert isinstance(statement, sqlir.CreateTable)
    assert [(c.name, c.type) for c in statement.columns] == [
        ("c1", "string"),
        ("c3", "int32"),
        ("c4", "int64"),
        ("c5", "float"),
        ("c6", "double"),
        ("c7", "timestamp"),
        ("c8", "date"),
    ]
    assert statement.indexes == [
        sqlir.IndexDef(keys=["c1"], ts="c7", ttl_type="absolute", abs_ttl=1440),
        sqlir.IndexDef(keys=["c1", "c3"], ts="c7", ttl_type="absorlat", abs_ttl=10, lat_ttl=100),
    ]
    assert statement.options == {"PARTITIONNUM": 1, "REPLICANUM": 1}
    assert (statement.db, statement.if_not_exists) == (None, False)


def test_insert_multiple_rows():
    statement = parse_one(
        "INSERT INTO t1 VALUES ('aaa', 11, 22, 1.2, 1.3, 1635247427000, '2021-05-20'), "
        "('bbb', -1, 2, 1.0, 2.0, 1635247427001, '2021-05-21');"
    )
    assert isinstance(statement, sqlir.Insert)
    assert (statement.table, statement.db, statement.columns) == ("t1", None, None)
    assert [len(row) for row in statement.rows] == [7, 7]
    assert statement.rows[0][0] == exp.Literal.string("aaa")
    assert statement.rows[1][1] == exp.Neg(this=exp.Literal.number(1))
    assert statement.rows[1][5] == exp.Literal.number(1635247427001)


def test_select_with_config():
    query = select("SELECT c1, c3 FROM t1 CONFIG (execute_mode = 'request', values = ('a', 1))")
    assert query.source == sqlir.TableRef(name="t1")
    assert query.config == {"execute_mode": "request", "values": ["a", 1]}


# --- other statements ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("CREATE DATABASE d1", sqlir.CreateDatabase("d1")),
        ("create database if not exists `D1`", sqlir.CreateDatabase("D1", if_not_exists=True)),
        ("DROP DATABASE d1", sqlir.DropDatabase("d1")),
        ("drop database IF EXISTS d1", sqlir.DropDatabase("d1", if_exists=True)),
        ("USE d1", sqlir.UseDatabase("d1")),
        ("DROP TABLE t1", sqlir.DropTable("t1")),
        ("DROP TABLE IF EXISTS d1.t1", sqlir.DropTable("t1", db="d1", if_exists=True)),
        ("DROP DEPLOYMENT dep", sqlir.DropDeployment("dep")),
        ("drop deployment if exists d1.dep", sqlir.DropDeployment("dep", db="d1", if_exists=True)),
        ("SHOW DATABASES", sqlir.Show("databases")),
        ("SHOW TABLES", sqlir.Show("tables")),
        ("SHOW TABLES FROM d1", sqlir.Show("tables", db="d1")),
        ("show deployments", sqlir.Show("deployments")),
        ("SHOW DEPLOYMENT dep", sqlir.Show("deployment", name="dep")),
        ("SHOW DEPLOYMENT d1.dep", sqlir.Show("deployment", name="dep", db="d1")),
        ("SHOW TABLE STATUS", sqlir.Show("table_status")),
        ("SHOW SESSION VARIABLES", sqlir.Show("variables")),
        ("DESC t1", sqlir.Describe("t1")),
        ("DESCRIBE d1.t1", sqlir.Describe("t1", db="d1")),
        ("SET @@execute_mode='online'", sqlir.SetVariable("execute_mode", "online")),
        ("SET @@session.execute_mode = 'request'", sqlir.SetVariable("execute_mode", "request")),
        ("SET @@SESSION.sync_job = true", sqlir.SetVariable("sync_job", True)),
        ("SET @@global.job_timeout = 600000", sqlir.SetVariable("job_timeout", 600000, scope="global")),
        ("SET GLOBAL enable_trace = false", sqlir.SetVariable("enable_trace", False, scope="global")),
        ("SET execute_mode = 'offline'", sqlir.SetVariable("execute_mode", "offline")),
    ],
)
def test_simple_statements(sql, expected):
    assert parse_one(sql) == expected


def test_insert_with_columns_and_expressions():
    statement = parse_one("insert into d1.t1 (c1, c7) values ('a', timestamp(1590738989000)), (\"b\", null)")
    assert (statement.table, statement.db, statement.columns) == ("t1", "d1", ["c1", "c7"])
    call = statement.rows[0][1]
    assert isinstance(call, exp.Anonymous) and call.name == "timestamp"
    assert statement.rows[1] == [exp.Literal.string("b"), exp.Null()]


def test_deploy_with_options_keeps_the_select_text():
    text = (
        "select c1,\n  sum(c4) over (partition by c1 order by c7 rows between 10 preceding and current row) as s\n"
        "from t1"
    )
    deploy = parse_one(
        f"  DEPLOY IF NOT EXISTS d1.dep OPTIONS(range_bias='inf', ROWS_BIAS=\"20\", SKIP_INDEX_CHECK='true')\n{text} ;"
    )
    assert (deploy.name, deploy.db, deploy.if_not_exists) == ("dep", "d1", True)
    assert deploy.options == {"RANGE_BIAS": "inf", "ROWS_BIAS": "20", "SKIP_INDEX_CHECK": "true"}
    assert deploy.sql == text
    assert deploy.select.windows["__w0"].frame.start.offset == 10


def test_deploy_requires_a_select():
    with pytest.raises(SqlError, match="SELECT"):
        parse_one("DEPLOY dep INSERT INTO t VALUES (1)")


@pytest.mark.parametrize(
    "type_name, canonical",
    [
        ("bool", "bool"),
        ("smallint", "int16"),
        ("int16", "int16"),
        ("int", "int32"),
        ("INT32", "int32"),
        ("integer", "int32"),
        ("bigint", "int64"),
        ("int64", "int64"),
        ("float", "float"),
        ("double", "double"),
        ("string", "string"),
        ("VARCHAR", "string"),
        ("date", "date"),
        ("Timestamp", "timestamp"),
    ],
)
def test_column_types(type_name, canonical):
    assert parse_one(f"CREATE TABLE t (c {type_name})").columns == [sqlir.ColumnDef("c", canonical)]


def test_column_not_null_and_defaults():
    statement = parse_one(
        "CREATE TABLE IF NOT EXISTS db1.`T` (`Col A` string NOT NULL DEFAULT 'x', b int DEFAULT -5, "
        "c double default 1, d date default '2021-05-20', e bool default true, f bigint NOT NULL, g timestamp NULL)"
    )
    assert (statement.name, statement.db, statement.if_not_exists) == ("T", "db1", True)
    assert statement.columns == [
        sqlir.ColumnDef("Col A", "string", not_null=True, default="x"),
        sqlir.ColumnDef("b", "int32", default=-5),
        sqlir.ColumnDef("c", "double", default=1.0),
        sqlir.ColumnDef("d", "date", default=datetime.date(2021, 5, 20)),
        sqlir.ColumnDef("e", "bool", default=True),
        sqlir.ColumnDef("f", "int64", not_null=True),
        sqlir.ColumnDef("g", "timestamp"),
    ]
    assert statement.indexes == []


def test_table_options_keep_values():
    statement = parse_one(
        "create table t1 (col0 string, col1 int) options (partitionnum=8, storage_mode='HDD', "
        "DISTRIBUTION=[('127.0.0.1:30921', ['127.0.0.1:30922', '127.0.0.1:30923'])])"
    )
    assert statement.options == {
        "PARTITIONNUM": 8,
        "STORAGE_MODE": "HDD",
        "DISTRIBUTION": [["127.0.0.1:30921", ["127.0.0.1:30922", "127.0.0.1:30923"]]],
    }


@pytest.mark.parametrize(
    "index_sql, expected",
    [
        ("INDEX(KEY=c1)", sqlir.IndexDef(keys=["c1"])),
        ("INDEX(key=c1, ts=c7)", sqlir.IndexDef(keys=["c1"], ts="c7")),
        ("INDEX(KEY=(c1, c2), TS=c7, TTL=100m)", sqlir.IndexDef(["c1", "c2"], "c7", "absolute", abs_ttl=100)),
        ("INDEX(KEY=c1, TTL_TYPE=absolute, TTL=12h)", sqlir.IndexDef(["c1"], None, "absolute", abs_ttl=720)),
        ("INDEX(KEY=c1, TTL=30)", sqlir.IndexDef(["c1"], ttl_type="absolute", abs_ttl=30)),
        ("INDEX(KEY=c1, TTL=0)", sqlir.IndexDef(["c1"], ttl_type="absolute", abs_ttl=0)),
        ("INDEX(KEY=c1, TTL=30s)", sqlir.IndexDef(["c1"], ttl_type="absolute", abs_ttl=1)),
        ("INDEX(KEY=c1, TTL=90s)", sqlir.IndexDef(["c1"], ttl_type="absolute", abs_ttl=2)),
        ("INDEX(KEY=c1, TS=c7, TTL_TYPE=LATEST, TTL=10)", sqlir.IndexDef(["c1"], "c7", "latest", lat_ttl=10)),
        ("INDEX(KEY=c1, TTL=(30d, 10), TTL_TYPE=absandlat)", sqlir.IndexDef(["c1"], None, "absandlat", 43200, 10)),
        ("INDEX(KEY=c1, TTL_TYPE=absorlat)", sqlir.IndexDef(["c1"], ttl_type="absorlat")),
        ("INDEX idx1 (KEY=c1)", sqlir.IndexDef(["c1"], name="idx1")),
    ],
)
def test_index_ttl(index_sql, expected):
    statement = parse_one(f"CREATE TABLE t (c1 string, c2 int, c7 timestamp, {index_sql})")
    assert statement.indexes == [expected]


@pytest.mark.parametrize(
    "index_sql, message",
    [
        ("INDEX(TS=c7)", "KEY"),
        ("INDEX(KEY=c9)", "unknown column c9"),
        ("INDEX(KEY=c1, TS=c1)", "TS column c1"),
        ("INDEX(KEY=c1, TTL=10ms)", "invalid time unit"),
        ("INDEX(KEY=c1, TTL=1d, TTL_TYPE=latest)", "row count"),
        ("INDEX(KEY=c1, TTL=10m, TTL_TYPE=absorlat)", r"TTL=\(10m, 100\)"),
        ("INDEX(KEY=c1, TTL=(10m, 100))", "single TTL value"),
        ("INDEX(KEY=c1, TTL_TYPE=forever)", "unsupported TTL_TYPE"),
        ("INDEX(KEY=c1, VERSION=c7)", "unsupported index option: VERSION"),
    ],
)
def test_index_errors(index_sql, message):
    with pytest.raises(SqlError, match=message):
        parse_one(f"CREATE TABLE t (c1 string, c7 timestamp, {index_sql})")


@pytest.mark.parametrize(
    "sql, message",
    [
        ("CREATE TABLE t (c1 int PRIMARY KEY)", "unsupported: PRIMARY KEY"),
        ("CREATE TABLE t (c1 int, PRIMARY KEY (c1))", "unsupported: PRIMARY KEY"),
        ("CREATE TABLE t (c1 int UNIQUE)", "unsupported: UNIQUE"),
        ("CREATE TABLE t (c1 datetime)", "unsupported column type for c1"),
        ("CREATE TABLE t (c1 int, c1 string)", "duplicate column"),
        ("CREATE TABLE t (c1 int DEFAULT 'x')", "does not fit column c1"),
        ("CREATE TABLE t (c1 date DEFAULT 'May 20')", "does not fit column c1"),
        ("CREATE TABLE t (c1 int) ENGINE=x", "unsupported table property"),
        ("CREATE TABLE t1 LIKE HIVE 'hive://hive_db.t1'", "unsupported statement: CREATE TABLE t1 LIKE HIVE"),
        ("CREATE TABLE t AS SELECT 1", "unsupported statement"),
    ],
)
def test_create_table_errors(sql, message):
    with pytest.raises(SqlError, match=message):
        parse_one(sql)


# --- SELECT ----------------------------------------------------------------------------------------------------


def test_projections_and_clauses():
    query = select(
        "SELECT t1.*, c1 AS `Name`, c2 + 1 total, c3 * 2 >= 10 AND NOT c4 OR c5 <> 'x', "
        "CASE WHEN c1 LIKE 'a%' THEN 1 ELSE 0 END AS k, CAST(c2 AS string), c6 IS NOT NULL, c7 IN (1, 2) "
        "FROM db1.t1 AS x WHERE c2 > -1 GROUP BY c1, c2 HAVING count(*) > 1 ORDER BY c1, c2 DESC LIMIT 10"
    )
    expressions = [p.expression for p in query.projections]
    assert expressions[0] == exp.Column(this=exp.Star(), table=exp.to_identifier("t1"))
    assert [p.alias for p in query.projections] == [None, "Name", "total", None, "k", None, None, None]
    assert isinstance(expressions[2], exp.Add)
    assert isinstance(expressions[3], exp.Or) and isinstance(expressions[3].this, exp.And)
    assert isinstance(expressions[4], exp.Case) and isinstance(expressions[4].find(exp.Like), exp.Like)
    assert isinstance(expressions[5], exp.Cast) and expressions[5].to.this == exp.DType.TEXT
    assert isinstance(expressions[6], exp.Not) and isinstance(expressions[6].this, exp.Is)
    assert isinstance(expressions[7], exp.In)
    assert query.source == sqlir.TableRef(name="t1", db="db1", alias="x")
    assert isinstance(query.where, exp.GT)
    assert query.group_by == [column("c1"), column("c2")]
    assert isinstance(query.having, exp.GT) and query.having.this.name == "count"
    assert query.order_by == [(column("c1"), False), (column("c2"), True)]
    assert query.limit == 10


def test_identifiers_keep_case_keywords_do_not_and_double_quotes_are_strings():
    query = select(
        'sElEcT `MyCol`, MyOther, "MyCol", SUM(x) oVeR w FrOm `T` wInDoW w As (PaRtItIoN bY k '
        "OrDeR bY ts RoWs_RaNgE bEtWeEn 1H pReCeDiNg AnD cUrReNt RoW)"
    )
    expressions = [p.expression for p in query.projections]
    assert expressions[0].this == exp.to_identifier("MyCol", quoted=True)
    assert expressions[1].name == "MyOther"
    assert expressions[2] == exp.Literal.string("MyCol")
    assert expressions[3].this.name == "sum"
    assert query.source.name == "T"
    assert query.windows["w"].frame.start.offset == 3_600_000


def test_functions_stay_anonymous_with_lower_case_names():
    names = [
        "count_where(c, c > 1)",
        "topn_frequency(c, 3)",
        "distinct_count(c)",
        "top1_ratio(c)",
        "lag(c, 1)",
        "at(c, 1)",
        "ew_avg(c, 0.5)",
        "drawdown(c)",
        "count_cate(c, k)",
        "HOUR(ts)",
        "dayofweek(ts)",
        "substr(s, 1, 2)",
        "concat_ws('-', a, b)",
        "if_null(a, b)",
        "timestamp(1590738989000)",
        "Count(*)",
    ]
    query = select(f"SELECT {', '.join(names)} FROM t")  # noqa: S608 (test input, not a query)
    for call, text in zip((p.expression for p in query.projections), names, strict=True):
        assert isinstance(call, exp.Anonymous)
        assert call.name == text.split("(")[0].lower()


def test_from_subquery_and_several_last_joins():
    query = select(
        "SELECT a.c1, b.c2, c.c3 FROM (SELECT c1, ts FROM t1) a "
        "LAST JOIN t2 AS b ON a.c1 = b.c1 "
        "last join (select c1, c3 from db2.t3) as c order by c.ts on a.c1 = c.c1 and a.ts > c.ts"
    )
    assert query.source.alias == "a" and query.source.subquery.source == sqlir.TableRef(name="t1")
    assert [join.right.alias for join in query.joins] == ["b", "c"]
    assert query.joins[0].right == sqlir.TableRef(name="t2", alias="b") and query.joins[0].order_by is None
    assert query.joins[1].right.subquery.source == sqlir.TableRef(name="t3", db="db2")
    assert query.joins[1].order_by == column("ts", "c") and isinstance(query.joins[1].on, exp.And)


def test_inline_windows_get_generated_names():
    query = select(
        "SELECT sum(c) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS s, "
        "max(c) OVER w AS m, "
        "min(c) OVER (PARTITION BY k, j ORDER BY ts ROWS_RANGE BETWEEN 10m PRECEDING AND CURRENT ROW) + 1 AS n "
        "FROM t WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    )
    assert list(query.windows) == ["w", "__w0", "__w1"]
    first, named, third = (p.expression for p in query.projections)
    assert first == exp.Window(this=first.this, alias=exp.to_identifier("__w0")) and first.this.name == "sum"
    assert named.alias == "w"
    assert third.this.alias == "__w1" and third.this.args.get("spec") is None
    assert query.windows["__w0"].frame.start == sqlir.FrameBound("preceding", 3)
    assert query.windows["__w1"].partition_by == [column("k"), column("j")]
    assert query.windows["__w1"].frame.start.offset == 600_000


def test_window_union_of_tables_and_subqueries():
    query = select(
        "SELECT col1, sum(col2) OVER w1 AS s FROM t1 WINDOW w1 AS "
        '(UNION t2, db.t3, (select c1 as col1, c2 as col2, "NA" as col6 from t4) AS t4x '
        "PARTITION BY col1 ORDER BY col5 ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"
    )
    union = query.windows["w1"].union
    assert union[:2] == [sqlir.TableRef(name="t2"), sqlir.TableRef(name="t3", db="db")]
    assert union[2].alias == "t4x" and union[2].subquery.projections[2].expression == exp.Literal.string("NA")


@pytest.mark.parametrize(
    "offset, millis",
    [("2s", 2_000), ("10m", 600_000), ("3h", 10_800_000), ("1d", 86_400_000), ("2d", 172_800_000), ("1500", 1500)],
)
def test_rows_range_units(offset, millis):
    frame = frame_of(f"PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN {offset} PRECEDING AND CURRENT ROW")
    assert frame.start == sqlir.FrameBound("preceding", millis)


def test_open_preceding_bounds():
    frame = frame_of("PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 3d OPEN PRECEDING AND 1h PRECEDING")
    assert frame.start == sqlir.FrameBound("preceding", 3 * 86_400_000, open=True)
    assert frame.end == sqlir.FrameBound("preceding", 3_600_000)
    frame = frame_of("PARTITION BY k ORDER BY ts ROWS BETWEEN 10 OPEN PRECEDING AND CURRENT ROW")
    assert frame.start == sqlir.FrameBound("preceding", 10, open=True)


def test_window_offsets_and_maxsize_are_at_most_2_to_the_62():
    """Larger offsets would take the engine's ts - offset - 1 out of int64 (featurestore.limits)."""
    most = 2**62
    frame = frame_of(f"PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN {most} PRECEDING AND {most} OPEN PRECEDING "
                     f"MAXSIZE {most}")  # fmt: skip
    assert (frame.start.offset, frame.end.offset, frame.maxsize) == (most, most, most)
    assert frame_of(f"PARTITION BY k ORDER BY ts ROWS BETWEEN {most} PRECEDING AND CURRENT ROW").start.offset == most
    for window, message in [
        (f"ROWS_RANGE BETWEEN {most + 1} PRECEDING AND CURRENT ROW", f"window offset {most + 1} is too large"),
        (f"ROWS_RANGE BETWEEN 1d PRECEDING AND {most + 1} PRECEDING", f"window offset {most + 1} is too large"),
        ("ROWS_RANGE BETWEEN 53375995584d PRECEDING AND CURRENT ROW", "window offset 53375995584d is too large"),
        (f"ROWS BETWEEN {most + 1} PRECEDING AND CURRENT ROW", f"window offset {most + 1} is too large"),
        (f"ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW MAXSIZE {most + 1}", f"MAXSIZE {most + 1} is too large"),
    ]:
        with pytest.raises(SqlError, match=f"^{message}: at most {most} \\(rows, or milliseconds for ROWS_RANGE\\)$"):
            frame_of(f"PARTITION BY k ORDER BY ts {window}")


def test_window_without_order_by():
    query = select(
        "SELECT count(c) OVER w FROM t WINDOW w AS (PARTITION BY k ROWS BETWEEN 5 PRECEDING AND CURRENT ROW)"
    )
    assert query.windows["w"].order_by is None


@pytest.mark.parametrize(
    "window_sql, message",
    [
        ("PARTITION BY k ORDER BY ts ROWS BETWEEN 1 FOLLOWING AND CURRENT ROW", "FOLLOWING is not supported"),
        ("PARTITION BY k ORDER BY ts ROWS BETWEEN 1 PRECEDING AND UNBOUNDED FOLLOWING", "FOLLOWING"),
        ("PARTITION BY k ORDER BY ts ROWS BETWEEN 5 PRECEDING AND CURRENT ROW MAXSIZE 2", "MAXSIZE is only"),
        ("PARTITION BY k ORDER BY ts ROWS BETWEEN 1s PRECEDING AND CURRENT ROW", "use ROWS_RANGE"),
        ("PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 10ms PRECEDING AND CURRENT ROW", "invalid time unit"),
        ("PARTITION BY k ORDER BY ts DESC ROWS BETWEEN 1 PRECEDING AND CURRENT ROW", "DESC is not supported"),
        ("PARTITION BY k ORDER BY ts, x ROWS BETWEEN 1 PRECEDING AND CURRENT ROW", "exactly one column"),
        ("PARTITION BY k ORDER BY ts RANGE BETWEEN 1 PRECEDING AND CURRENT ROW", "RANGE frames are not"),
        ("ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW", "PARTITION BY"),
        ("PARTITION BY k + 1 ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW", "PARTITION BY"),
        ("PARTITION BY k ORDER BY ts", "syntax error: Expected ROWS or ROWS_RANGE"),
        ("PARTITION BY k ORDER BY ts ROWS 1 PRECEDING", "syntax error: Expected BETWEEN"),
        ("PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW MAXSIZE", "MAXSIZE"),
    ],
)
def test_window_errors(window_sql, message):
    with pytest.raises(SqlError, match=message):
        frame_of(window_sql)


def test_window_reference_errors():
    with pytest.raises(SqlError, match="window w2 is not defined"):
        select("SELECT sum(c) OVER w2 FROM t")
    with pytest.raises(SqlError, match="defined twice"):
        frame_of(
            "PARTITION BY k ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), w AS (PARTITION BY k ROWS BETWEEN "
            "1 PRECEDING AND CURRENT ROW"
        )


def test_config_values_and_options():
    query = select(
        "SELECT c1 FROM t1 LIMIT 5 "
        "CONFIG (execute_mode = 'request', values = [('a', -1, 2.5, true), ('b', 2, 0.0, null)])"
    )
    assert query.limit == 5
    assert query.config == {"execute_mode": "request", "values": [["a", -1, 2.5, True], ["b", 2, 0.0, None]]}
    assert select("SELECT c1 FROM t1 CONFIG (execute_mode = 'request', values = (7))").config["values"] == [7]
    query = select("SELECT c1 FROM t1 OPTIONS(mode='overwrite', Delimiter=',')")
    assert query.options == {"mode": "overwrite", "delimiter": ","}


def test_select_without_from():
    query = select('SELECT substr("hello world", 2)')
    assert query.source == sqlir.TableRef()
    assert query.projections[0].expression.name == "substr"


@pytest.mark.parametrize(
    "sql, message",
    [
        ("SELECT a FROM t LEFT JOIN t2 ON t.a = t2.a", "LEFT JOIN"),
        ("SELECT a FROM t, t2", "comma join"),
        ("SELECT DISTINCT a FROM t", "SELECT DISTINCT"),
        ("SELECT a FROM t UNION SELECT b FROM t2", "UNION"),
        ("SELECT * INTO t2 FROM t", "unsupported statement: SELECT INTO"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "unsupported statement: WITH"),
        ("SELECT sum(c) OVER FROM t", "syntax error: Expected a window name"),
    ],
)
def test_select_errors(sql, message):
    with pytest.raises(SqlError, match=message):
        parse_one(sql)


def test_load_data_select_into_and_jobs_statements():
    load = parse_one(
        "LOAD DATA INFILE 'file:///d/a.csv' INTO TABLE db1.t1 OPTIONS(format='csv', header=false, Mode='append')"
    )
    assert load == sqlir.LoadData("file:///d/a.csv", "t1", "db1", {"format": "csv", "header": False, "mode": "append"})
    assert parse_one("LOAD DATA INFILE 'a.csv' INTO TABLE t1") == sqlir.LoadData("a.csv", "t1", None, {})
    into = parse_one("SELECT c1 FROM t1 INTO OUTFILE 'out' OPTIONS(mode='overwrite', delimiter='|')")
    assert isinstance(into, sqlir.SelectInto) and into.path == "out"
    assert into.options == {"mode": "overwrite", "delimiter": "|"} and into.select.source.name == "t1"
    assert parse_one("SHOW JOBS") == sqlir.Show("jobs")
    assert parse_one("SHOW JOB 12") == sqlir.Show("job", name="12")
    assert parse_one("STOP JOB 7") == sqlir.StopJob("7")


# --- statements in general, errors -----------------------------------------------------------------------------


def test_several_statements_and_empty_ones():
    statements = parse("USE d1;; SET @@execute_mode='online' ;\n SELECT 1; ")
    assert [type(s) for s in statements] == [sqlir.UseDatabase, sqlir.SetVariable, sqlir.Select]
    assert parse("") == [] and parse(" ; ; ") == []


def test_parse_one_needs_exactly_one_statement():
    with pytest.raises(SqlError, match="exactly one statement, got 2"):
        parse_one("USE a; USE b")
    with pytest.raises(SqlError, match="exactly one statement, got 0"):
        parse_one(";")


@pytest.mark.parametrize(
    "sql, name",
    [
        ("DELETE FROM t1 WHERE c1 = 'a'", "DELETE"),
        ("UPDATE t1 SET c1 = 1", "UPDATE"),
        ("ALTER TABLE t1 ADD COLUMN c9 int", "ALTER TABLE"),
        ("CREATE INDEX idx ON t1 (c1) OPTIONS (ts=c7)", "CREATE INDEX"),
        ("SHOW CREATE TABLE t1", "SHOW CREATE"),
        ("DROP INDEX t1.idx", "DROP INDEX"),
        ("EXPLAIN SELECT 1", "EXPLAIN"),
    ],
)
def test_unsupported_statements(sql, name):
    with pytest.raises(SqlError, match=f"^unsupported statement: {name}$"):
        parse(sql)


@pytest.mark.parametrize(
    "sql",
    ["SELECT * FROM t1 WHERE", "SELECT (1 FROM t", "INSERT INTO t1 VALUES (1, 2", "SELECT 'unterminated FROM t"],
)
def test_syntax_errors_are_plain_text(sql):
    with pytest.raises(SqlError, match="^syntax error: ") as raised:
        parse(sql)
    assert "\x1b" not in str(raised.value)


def test_syntax_error_names_the_position():
    with pytest.raises(SqlError, match=r"Expecting \) at line 1, column 14 near 'SELECT \(1 FROM'"):
        parse("SELECT (1 FROM t")


def test_set_needs_a_system_variable():
    with pytest.raises(SqlError, match="user variables are not supported"):
        parse_one("SET @x = 1")


# --- parse_expression ------------------------------------------------------------------------------------------


def test_parse_expression():
    assert parse_expression("-1") == exp.Neg(this=exp.Literal.number(1))
    values = parse_expression("(1, 'a', \"b\", true, null)")
    assert isinstance(values, exp.Tuple) and values.expressions[2] == exp.Literal.string("b")
    rows = parse_expression("[(1, 'a'), (2, 'b')]")
    assert isinstance(rows, exp.Array) and len(rows.expressions) == 2
    call = parse_expression("TIMESTAMP(1590738989000)")
    assert isinstance(call, exp.Anonymous) and call.name == "timestamp"
    with pytest.raises(SqlError, match="exactly one expression"):
        parse_expression("")
    with pytest.raises(SqlError, match="syntax error"):
        parse_expression("(1,")


def test_create_and_drop_procedure():
    (created,) = parse("CREATE PROCEDURE db1.sp (const c1 string, c2 int) BEGIN SELECT c1 FROM t1 AS t; END;")
    assert isinstance(created, sqlir.CreateProcedure) and (created.name, created.db) == ("sp", "db1")
    assert [(p.name, p.type, p.const) for p in created.params] == [("c1", "string", True), ("c2", "int32", False)]
    assert created.sql == "SELECT c1 FROM t1 AS t" and created.select.source.alias == "t"
    dropped, after = parse("DROP PROCEDURE IF EXISTS sp; SELECT 1")
    assert dropped == sqlir.DropDeployment(name="sp", if_exists=True, procedure=True)
    assert isinstance(after, sqlir.Select)
    with pytest.raises(SqlError, match="Expected BEGIN"):
        parse("CREATE PROCEDURE sp (c1 string) SELECT c1 FROM t1")
