"""The offline plan on Spark (featurestore.offline.spark) answers what the per-row plan and DuckDB answer, row by row.

A property test on random tables, shaped as test_offline_compiled's (keys and times from small sets: ties, several
partitions; NULL keys, times and values; NaN and infinity; int32 and int64 extremes, whose sums wrap around; a
LAST JOIN table), plus windows ordered by a bigint holding int64 extremes, whose ROWS_RANGE bounds leave 64 bits:
the Spark SQL query, the per-row plan and the DuckDB compiled query must agree on every row. Float sums and
averages may differ in the last bits (summation order). One SparkSession serves the whole module.
"""

import datetime
import itertools
import math
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurestore import services
from featurestore import sql as sqlexec
from featurestore.offline import query, spark
from featurestore.offline.duck import connect
from featurestore.offline.options import outfile_options
from featurestore.selectors import table_get
from featurestore.sqlcore.dialect import parse_one
from tests.featurestore.conftest import assert_same_rows, per_row

pytestmark = pytest.mark.django_db

AGGREGATES = (
    "sum(v) OVER w AS s, count(v) OVER w AS c, min(v) OVER w AS lo, max(v) OVER w AS hi, min(d) OVER w AS dlo, "
    "max(d) OVER w AS dhi, avg(d) OVER w AS mean, sum(d) OVER w AS ds, avg(v) OVER w AS vmean, "
    "sum(ts) OVER w AS tsum, count(k) OVER w AS kc, max(k) OVER w AS kmax, sum(b) OVER w AS bs, "
    "min(b) OVER w AS blo, avg(b) OVER w AS bmean, count(*) OVER w AS n"
)
INT64_EXTREMES = [2**63 - 1, -(2**63), 2**62, -(2**62)]

values = st.one_of(st.none(), st.integers(min_value=-5, max_value=5), st.sampled_from([2**31 - 1, -(2**31)]))
bigints = st.one_of(st.none(), st.integers(min_value=-5, max_value=30), st.sampled_from(INT64_EXTREMES))
doubles = st.one_of(st.none(), st.floats(min_value=-10, max_value=10), st.just(math.nan), st.just(math.inf))
rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", None]),
        values,
        st.one_of(st.integers(min_value=0, max_value=30), st.none()),  # ts: small range -> ties
        doubles,
        bigints,
    ),
    min_size=1,
    max_size=25,
)
right_rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", None]),
        st.one_of(st.none(), st.integers(min_value=0, max_value=30)),
        st.integers(min_value=-100, max_value=100),
    ),
    max_size=8,
)


@st.composite
def frames(draw):
    kind = draw(st.sampled_from(["rows", "rows_range"]))
    if kind == "rows":
        start = draw(st.sampled_from(["UNBOUNDED PRECEDING", *(f"{n} PRECEDING" for n in range(0, 5))]))
        if start not in ("UNBOUNDED PRECEDING", "0 PRECEDING") and draw(st.booleans()):
            start = start.replace(" PRECEDING", " OPEN PRECEDING")
        frame = f"ROWS BETWEEN {start} AND CURRENT ROW"
    else:
        offsets = (0, 1, 3, 7, 15, 2**62)
        start = draw(st.sampled_from(["UNBOUNDED PRECEDING", *(f"{n} PRECEDING" for n in offsets)]))
        if start not in ("UNBOUNDED PRECEDING", "0 PRECEDING") and draw(st.booleans()):
            start = start.replace(" PRECEDING", " OPEN PRECEDING")
        frame = f"ROWS_RANGE BETWEEN {start} AND CURRENT ROW"
        extra = draw(st.sampled_from(["", "", "time", "maxsize"]))
        if extra == "time":
            frame += " EXCLUDE CURRENT_TIME"
        elif extra == "maxsize":  # not compiled to Spark SQL: the per-row plan answers
            frame += f" MAXSIZE {draw(st.integers(min_value=1, max_value=5))}"
    if draw(st.booleans()):
        frame += " EXCLUDE CURRENT_ROW"
    return frame


@pytest.fixture(scope="module")
def spark_session():
    from jobs.engines import spark_unavailable

    reason = spark_unavailable()
    if reason is not None:
        pytest.skip(f"Spark cannot run here: {reason}")
    session = spark.session()
    yield session
    spark.stop()


_counter = itertools.count()


def make_tables(rows, right):
    services.database_create(name="spk", if_not_exists=True)
    n = next(_counter)
    main, other = f"m{n}", f"r{n}"
    ddl = f"CREATE TABLE {main} (k string, v int, ts timestamp, d double, b bigint, INDEX(KEY=k, TS=ts))"
    sqlexec.execute(db="spk", sql=ddl)
    sqlexec.execute(db="spk", sql=f"CREATE TABLE {other} (k string, ts timestamp, x bigint, INDEX(KEY=k, TS=ts))")
    services.rows_insert(table=table_get(db="spk", name=main), rows=[list(r) for r in rows])
    services.rows_insert(table=table_get(db="spk", name=other), rows=[list(r) for r in right])
    return main, other


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=rows_strategy,
    right=right_rows,
    frame=frames(),
    partition=st.sampled_from(["k", "k, v"]),
    order=st.sampled_from(["ts", "ts", "b"]),
    limit=st.one_of(st.none(), st.integers(min_value=0, max_value=6)),
)
def test_spark_equals_per_row_and_duckdb(spark_session, rows, right, frame, partition, order, limit):
    main, other = make_tables(rows, right)
    select_sql = (
        f"SELECT {main}.k, v, {main}.ts, {AGGREGATES}, {other}.x AS x, {other}.ts AS rts FROM {main} "
        f"LAST JOIN {other} ORDER BY {other}.ts ON {main}.k = {other}.k "
        f"WINDOW w AS (PARTITION BY {partition} ORDER BY {main}.{order} {frame})"
    )
    on_spark = spark.run_spark("spk", parse_one(select_sql), limit=limit)
    if "MAXSIZE" in frame:
        assert on_spark.how == "per-row plan: window w: MAXSIZE is not compiled to set-based SQL"
    else:
        assert on_spark.how == f"{spark.COMPILED} ({spark_session.sparkContext.master})", on_spark.how
    compiled = query.run("spk", parse_one(select_sql), limit=limit)
    assert compiled.how == query.COMPILED
    assert on_spark.schema == compiled.schema
    assert_same_rows(on_spark.rows, per_row("spk", select_sql, limit), ("per-row", frame, order))
    assert_same_rows(on_spark.rows, compiled.rows, ("duckdb", frame, order))


def test_what_is_not_compiled_runs_row_by_row_and_says_why(spark_session):
    services.database_create(name="spk", if_not_exists=True)
    sqlexec.execute(db="spk", sql="CREATE TABLE f1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))")
    services.rows_insert(table=table_get(db="spk", name="f1"), rows=[["a", 1, 1], ["a", 2, 2]])
    select_sql = "SELECT k, lag(v, 1) OVER w AS p FROM f1 WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
    result = spark.run_spark("spk", parse_one(select_sql))
    assert result.rows == [["a", None], ["a", 1]]
    assert result.how == "per-row plan: aggregate lag is not compiled to set-based SQL"
    select_sql = "SELECT k, sum(v) OVER w AS s FROM f1 WINDOW w AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 5 PRECEDING AND CURRENT ROW MAXSIZE 1)"
    result = spark.run_spark("spk", parse_one(select_sql))
    assert result.rows == [["a", 1], ["a", 2]]
    assert result.how == "per-row plan: window w: MAXSIZE is not compiled to set-based SQL"


def test_a_query_spark_refuses_runs_row_by_row_and_says_why(spark_session, monkeypatch):
    services.database_create(name="spk", if_not_exists=True)
    sqlexec.execute(db="spk", sql="CREATE TABLE f2 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))")
    services.rows_insert(table=table_get(db="spk", name="f2"), rows=[["a", 1, 1], ["a", 2, 2]])
    broken = spark.SparkCompiled("SELECT no_such_column FROM no_such_view", ["k", "s"], ["string", "int32"])
    monkeypatch.setattr(spark, "compile_spark", lambda *args, **kwargs: broken)
    select_sql = "SELECT k, sum(v) OVER w AS s FROM f2 WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
    result = spark.run_spark("spk", parse_one(select_sql))
    assert result.rows == [["a", 1], ["a", 3]]
    assert result.how.startswith("per-row plan: what Spark refused ([TABLE_OR_VIEW_NOT_FOUND]"), result.how


def test_types_come_back_as_engine_values(spark_session):
    services.database_create(name="spk", if_not_exists=True)
    ddl = "CREATE TABLE t1 (k string, s smallint, f float, day date, ok bool, ts timestamp, INDEX(KEY=k, TS=ts))"
    sqlexec.execute(db="spk", sql=ddl)
    rows = [
        ["a", 32767, 1.5, datetime.date(2024, 1, 2), True, 5],
        ["a", 2, math.nan, datetime.date(1, 1, 1), False, 6],
        ["b", None, None, None, None, None],
    ]
    services.rows_insert(table=table_get(db="spk", name="t1"), rows=rows)
    select_sql = (
        "SELECT k, s, f, day, ok, ts, sum(s) OVER w AS ss, max(f) OVER w AS fmax, sum(f) OVER w AS fs, "
        "min(day) OVER w AS dmin, count(ok) OVER w AS okc FROM t1 "
        "WINDOW w AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"
    )
    on_spark = spark.run_spark("spk", parse_one(select_sql))
    assert on_spark.how.startswith(spark.COMPILED)
    compiled = query.run("spk", parse_one(select_sql))
    assert on_spark.schema == compiled.schema
    assert_same_rows(on_spark.rows, per_row("spk", select_sql), "per-row")
    assert_same_rows(on_spark.rows, compiled.rows, "duckdb")
    assert on_spark.rows[1][6] == -32767  # 32767 + 2 wraps around in int16


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_spark_writes_what_query_write_writes(spark_session, settings, tmp_path, fmt):
    settings.FEATURESTORE_FILE_ROOTS = [str(tmp_path)]
    main, other = make_tables(
        [("a", 1, 3, 0.5, 1), ("a", 2, 3, math.nan, None), (None, 3, None, None, 7), ("b", 4, 1, -1.0, 2)],
        [("a", 2, 10), ("a", None, 11)],
    )
    select_sql = (
        f"SELECT {main}.k, {AGGREGATES}, {other}.x AS x FROM {main} LAST JOIN {other} ON {main}.k = {other}.k "
        f"WINDOW w AS (PARTITION BY k ORDER BY {main}.ts ROWS_RANGE BETWEEN 2 PRECEDING AND CURRENT ROW)"
    )
    options = outfile_options({"format": fmt})
    written = spark.write_spark("spk", parse_one(select_sql), "spark_out", options)
    assert written.how.startswith(spark.COMPILED) and written.count == 4
    assert query.write("spk", parse_one(select_sql), "duck_out", options).count == 4
    (spark_part,) = (tmp_path / "spark_out").iterdir()
    (duck_part,) = (tmp_path / "duck_out").iterdir()
    assert spark_part.name.startswith("part-00000-") and spark_part.suffix == f".{fmt}"
    con = connect()
    read = f"read_{fmt}"
    assert_same_rows(
        con.execute(f"SELECT * FROM {read}('{spark_part}')").fetchall(),
        con.execute(f"SELECT * FROM {read}('{duck_part}')").fetchall(),
        fmt,
    )
    con.close()
    assert {p.name for p in (Path(django_settings.DATA_DIR) / "spark-tmp").iterdir()} <= {"local"}  # cleaned up
    limited = spark.write_spark("spk", parse_one(f"{select_sql} LIMIT 2"), "spark_limited", options)
    assert limited.count == 2
    empty = spark.write_spark("spk", parse_one(f"{select_sql} LIMIT 0"), "spark_empty", options)
    assert empty.how.startswith(spark.COMPILED) and empty.count == 0
    assert len(list((tmp_path / "spark_empty").iterdir())) == 1


def test_the_session_chooses_spark_and_what_spark_cannot_compile_runs_on_duckdb(spark_session, settings):
    services.database_create(name="spk", if_not_exists=True)
    sqlexec.execute(db="spk", sql="CREATE TABLE f3 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))")
    services.rows_insert(table=table_get(db="spk", name="f3"), rows=[["a", 1, 1], ["a", 2, 2]])
    window = "WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
    script = f"SET @@offline_engine = 'spark'; SELECT k, sum(v) OVER w AS s FROM f3 {window}; SELECT k, lag(v, 1) OVER w AS p FROM f3 {window}"
    results = [result for _, _, result in sqlexec.execute_each(db="spk", sql=script)]
    assert results[1].rows == [["a", 1], ["a", 3]] and results[1].note.startswith("compiled to Spark SQL (local")
    assert results[2].rows == [["a", None], ["a", 1]]
    assert results[2].note == "compiled to DuckDB SQL; Spark does not compile aggregate lag"
    settings.SPARK_MASTER = ""
    settings.FEATURESTORE_OFFLINE_ENGINE = "auto"  # no SPARK_MASTER: DuckDB
    assert (
        sqlexec.execute(db="spk", sql=f"SELECT k, sum(v) OVER w AS s FROM f3 {window}", mode="offsync").note
        == "compiled to DuckDB SQL"
    )
    with pytest.raises(Exception, match="offline_engine must be duckdb, spark, auto, got flink"):
        list(sqlexec.execute_each(db="spk", sql="SET @@offline_engine = 'flink'"))
