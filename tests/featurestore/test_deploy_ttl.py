"""DEPLOY adds or widens the indexes a deployment needs (TTL merge, biases), and TTL expiry deletes rows."""

import pytest

from featurestore import services
from featurestore import sql as sqlexec
from featurestore.selectors import deployment_get, table_get
from featurestore.services import _merge_ttl
from featurestore.storage import select_all

pytestmark = pytest.mark.django_db

NOW = 1_700_000_000_000
DAY = 86_400_000


def run(text, mode="online"):
    return sqlexec.execute(db="fs", sql=text, mode=mode)


@pytest.fixture
def fs(db):
    run("CREATE DATABASE fs")


def indexes(name="t1"):
    return [
        (i["keys"], i["ts"], i["ttl_type"], i["abs_ttl"], i["lat_ttl"]) for i in table_get(db="fs", name=name).indexes
    ]


def deploy(frame: str, options: str = "", name: str = "d1", partition: str = "k"):
    run(f"DEPLOY {name} {options} SELECT sum(v) OVER w AS s FROM t1 "
        f"WINDOW w AS (PARTITION BY {partition} ORDER BY ts {frame})")  # fmt: skip


def test_rows_window_on_an_index_with_a_ttl_widens_it(fs):
    run("CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts, TTL=3, TTL_TYPE=latest))")
    deploy("ROWS BETWEEN 10 PRECEDING AND CURRENT ROW")
    assert indexes() == [(["k"], "ts", "latest", 0, 10)]


def test_default_keep_forever_wins(fs):
    run("CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))")
    deploy("ROWS_RANGE BETWEEN 2d PRECEDING AND CURRENT ROW")
    assert indexes() == [(["k"], "ts", "absolute", 0, 0)]


def test_range_window_sets_minutes_rounded_up(fs):
    run("CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts, TTL=10m, TTL_TYPE=absolute))")
    deploy("ROWS_RANGE BETWEEN 90s PRECEDING AND CURRENT ROW")
    assert indexes() == [(["k"], "ts", "absolute", 10, 0)]  # the larger stays
    deploy("ROWS_RANGE BETWEEN 1h PRECEDING AND CURRENT ROW", name="d2")
    assert indexes() == [(["k"], "ts", "absolute", 60, 0)]


def test_mixed_needs_keep_what_either_keeps(fs):
    run("CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts, TTL=1d, TTL_TYPE=absolute))")
    deploy("ROWS BETWEEN 5 PRECEDING AND CURRENT ROW")
    assert indexes() == [(["k"], "ts", "absandlat", 1440, 5)]


def test_missing_index_is_created(fs):
    run("CREATE TABLE t1 (k string, k2 int, v int, ts timestamp, INDEX(KEY=k, TS=ts))")
    run("INSERT INTO t1 VALUES ('a', 1, 5, 1000)")
    deploy("ROWS BETWEEN 3 PRECEDING AND CURRENT ROW", partition="k, k2")
    assert indexes()[1] == (["k", "k2"], "ts", "latest", 0, 3)
    out = run("SELECT sum(v) OVER w AS s FROM t1 WINDOW w AS (PARTITION BY k, k2 ORDER BY ts ROWS BETWEEN 3 "
              "PRECEDING AND CURRENT ROW) CONFIG (execute_mode='request', values=('a', 1, 1, 2000))")  # fmt: skip
    assert out.rows == [[6]]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("OPTIONS(RANGE_BIAS='inf')", ("absolute", 0, 0)),
        ("OPTIONS(RANGE_BIAS='1h')", ("absolute", 120, 0)),
        ("OPTIONS(SKIP_INDEX_CHECK='true')", ("absolute", 5, 0)),
    ],
)
def test_range_bias_and_skip_index_check(fs, options, expected):
    run("CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts, TTL=5m, TTL_TYPE=absolute))")
    deploy("ROWS_RANGE BETWEEN 1h PRECEDING AND CURRENT ROW", options)
    assert indexes()[0][2:] == expected


def test_rows_bias(fs):
    run("CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts, TTL=1, TTL_TYPE=latest))")
    deploy("ROWS BETWEEN 10 PRECEDING AND CURRENT ROW", "OPTIONS(ROWS_BIAS='5')")
    assert indexes()[0][2:] == ("latest", 0, 15)
    deploy("ROWS BETWEEN 10 PRECEDING AND CURRENT ROW", "OPTIONS(ROWS_BIAS='inf')", name="d2")
    assert indexes()[0][2:] == ("absolute", 0, 0)


def test_last_join_gets_a_latest_1_index(fs):
    run("CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))")
    run("CREATE TABLE t2 (k string, x int, ts timestamp, INDEX(KEY=x, TS=ts))")
    run("DEPLOY j SELECT t1.v, t2.x FROM t1 LAST JOIN t2 ORDER BY t2.ts ON t1.k = t2.k")
    assert indexes("t2")[1] == (["k"], "ts", "latest", 0, 1)
    assert deployment_get(db="fs", name="j").tables == ["fs.t1", "fs.t2"]


def test_merge_ttl_unit():
    assert _merge_ttl({"ttl_type": "absorlat", "abs_ttl": 10, "lat_ttl": 5}, None, None)["ttl_type"] == "absorlat"
    merged = _merge_ttl({"ttl_type": "absorlat", "abs_ttl": 10, "lat_ttl": 5}, 20, None)
    assert (merged["ttl_type"], merged["abs_ttl"], merged["lat_ttl"]) == ("absandlat", 20, 5)
    assert _merge_ttl(None, None, 1)["ttl_type"] == "latest"


def test_refused_deployments_leave_nothing(fs):
    run("CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))")
    with pytest.raises(services.FeatureStoreError, match="nope"):
        run("DEPLOY bad SELECT sum(nope) OVER w AS s FROM t1 WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 "
            "PRECEDING AND CURRENT ROW)")  # fmt: skip
    assert deployment_get(db="fs", name="bad") is None
    assert indexes() == [(["k"], "ts", "absolute", 0, 0)]


# --- expiry ------------------------------------------------------------------------------------------------------
def test_expiry_deletes_rows_all_indexes_expired(fs):
    run("CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts, TTL=1d, TTL_TYPE=absolute))")
    table = table_get(db="fs", name="t1")
    services.rows_insert(table=table, rows=[["a", 1, NOW - 2 * DAY], ["a", 2, NOW - 1000], ["b", 3, NOW - 3 * DAY]])
    assert services.ttl_expire(table=table, now_ms=NOW) == 2
    assert [row[2] for row in select_all(table)] == [2]


def test_expiry_latest_keeps_newest_per_key(fs):
    run("CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts, TTL=2, TTL_TYPE=latest))")
    table = table_get(db="fs", name="t1")
    services.rows_insert(table=table, rows=[["a", v, NOW + v] for v in (1, 2, 3)] + [["b", 9, NOW]])
    assert services.ttl_expire(table=table, now_ms=NOW) == 1
    assert sorted(row[2] for row in select_all(table)) == [2, 3, 9]


def test_expiry_keeps_rows_another_index_keeps(fs):
    run("CREATE TABLE t1 (k string, k2 string, v int, ts timestamp, "
        "INDEX(KEY=k, TS=ts, TTL=1d, TTL_TYPE=absolute), INDEX(KEY=k2, TS=ts))")  # fmt: skip
    table = table_get(db="fs", name="t1")
    services.rows_insert(table=table, rows=[["a", "x", 1, NOW - 2 * DAY]])
    assert services.ttl_expire(table=table, now_ms=NOW) == 0
