"""Request-mode semantics (contracts/openmldb.md §4), case by case, with hand-computed values."""

import datetime as dt

import pytest

from featurestore import services
from featurestore import sql as sqlexec
from featurestore.selectors import table_get
from featurestore.sqlcore.dialect import parse_one

pytestmark = pytest.mark.django_db

T0 = 1_700_000_000_000  # a timestamp in ms
DAY = 86_400_000


def run(text: str, db: str = "fs"):
    return sqlexec.execute(db=db, sql=text)


@pytest.fixture
def db():
    run("CREATE DATABASE fs")
    return "fs"


def table(db, name="t1", ddl=None, rows=()):
    run(ddl or f"CREATE TABLE {name} (k string, v int, ts timestamp, d double, INDEX(KEY=k, TS=ts))")
    found = table_get(db=db, name=name)
    if rows:
        services.rows_insert(table=found, rows=[list(row) for row in rows])
    return found


def request(db, select: str, row, **kwargs):
    plan = services.plan_compile(db=db, select=parse_one(select))
    return plan.output_row(list(row), **kwargs)


def window_sum(frame: str, rows, req, db, extra: str = "") -> list:
    table(db, rows=rows)
    select = (
        f"SELECT sum(v) OVER w AS s, count(v) OVER w AS c FROM t1 "
        f"WINDOW w AS (PARTITION BY k ORDER BY ts {frame}{extra})"
    )
    return request(db, select, req)


# --- the request row and the stored rows --------------------------------------------------------------------------
def test_request_row_is_never_stored(db):
    table(db, rows=[("a", 1, T0, 0.0)])
    select = "SELECT sum(v) OVER w AS s FROM t1 WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)"
    assert request(db, select, ("a", 10, T0 + 1, 0.0)) == [11]
    assert request(db, select, ("a", 100, T0 + 1, 0.0)) == [101]  # not 111: the first request was not stored


def test_other_keys_and_future_rows_are_invisible(db):
    rows = [("a", 1, T0, 0.0), ("b", 1000, T0, 0.0), ("a", 500, T0 + 10, 0.0)]
    assert window_sum("ROWS BETWEEN 10 PRECEDING AND CURRENT ROW", rows, ("a", 10, T0 + 5, 0.0), db) == [11, 2]


def test_stored_rows_with_the_same_ts_count_as_preceding(db):
    rows = [("a", 1, T0, 0.0), ("a", 2, T0, 0.0), ("a", 4, T0 - 1, 0.0)]
    # ROWS 1 PRECEDING: the request row and the newest stored row among those with ts <= T0 (the later insert)
    assert window_sum("ROWS BETWEEN 1 PRECEDING AND CURRENT ROW", rows, ("a", 10, T0, 0.0), db) == [12, 2]


def test_rows_n_preceding(db):
    rows = [("a", v, T0 + v, 0.0) for v in (1, 2, 4, 8)]
    assert window_sum("ROWS BETWEEN 2 PRECEDING AND CURRENT ROW", rows, ("a", 100, T0 + 100, 0.0), db) == [112, 3]


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("ROWS BETWEEN CURRENT ROW AND CURRENT ROW", [100, 1]),  # the request row only, not unbounded
        ("ROWS_RANGE BETWEEN CURRENT ROW AND CURRENT ROW", [104, 2]),  # and the stored rows of its time
    ],
)
def test_a_frame_starting_at_the_current_row(db, frame, expected):
    rows = [("a", v, T0 + (v // 4) * 100, 0.0) for v in (1, 2, 4)]
    assert window_sum(frame, rows, ("a", 100, T0 + 100, 0.0), db) == expected


def test_rows_unbounded(db):
    rows = [("a", v, T0 + v, 0.0) for v in (1, 2, 4, 8)]
    assert window_sum("ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW", rows, ("a", 100, T0 + 100, 0.0), db) == [
        115,
        5,
    ]


def test_rows_range_lower_bound_is_inclusive(db):
    rows = [("a", 1, T0 - 3000, 0.0), ("a", 2, T0 - 2000, 0.0), ("a", 4, T0 - 1999, 0.0)]
    assert window_sum("ROWS_RANGE BETWEEN 2s PRECEDING AND CURRENT ROW", rows, ("a", 100, T0, 0.0), db) == [106, 3]


def test_rows_range_open_preceding_excludes_the_bound(db):
    rows = [("a", 2, T0 - 2000, 0.0), ("a", 4, T0 - 1999, 0.0)]
    assert window_sum("ROWS_RANGE BETWEEN 2s OPEN PRECEDING AND CURRENT ROW", rows, ("a", 100, T0, 0.0), db) == [104, 2]


@pytest.mark.parametrize(("unit", "span"), [("", 5), ("s", 5_000), ("m", 300_000), ("h", 18_000_000), ("d", 5 * DAY)])
def test_rows_range_units(db, unit, span):
    rows = [("a", 1, T0 - span, 0.0), ("a", 2, T0 - span - 1, 0.0)]
    assert window_sum(f"ROWS_RANGE BETWEEN 5{unit} PRECEDING AND CURRENT ROW", rows, ("a", 10, T0, 0.0), db) == [11, 2]


def test_rows_range_unbounded(db):
    rows = [("a", 1, 0, 0.0), ("a", 2, T0, 0.0), ("a", 4, T0 + 1, 0.0)]
    assert window_sum("ROWS_RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW", rows, ("a", 10, T0, 0.0), db) == [13, 3]


def test_pure_history_windows(db):
    rows = [("a", v, T0 - v * 1000, 0.0) for v in (1, 2, 4, 8)]
    # ROWS: positions 1..3 before the request row, skipping position 0 (the request) and 1
    assert window_sum("ROWS BETWEEN 3 PRECEDING AND 2 PRECEDING", rows, ("a", 100, T0, 0.0), db) == [6, 2]
    # ROWS_RANGE: ts in [T0 - 4s, T0 - 2s]
    run("DROP TABLE t1", db)
    assert window_sum("ROWS_RANGE BETWEEN 4s PRECEDING AND 2s PRECEDING", rows, ("a", 100, T0, 0.0), db) == [6, 2]


def test_exclude_current_row(db):
    rows = [("a", v, T0 - v, 0.0) for v in (1, 2, 4)]
    frame = "ROWS BETWEEN 2 PRECEDING AND CURRENT ROW"
    assert window_sum(frame, rows, ("a", 100, T0, 0.0), db, " EXCLUDE CURRENT_ROW") == [3, 2]


def test_exclude_current_time(db):
    rows = [("a", 1, T0, 0.0), ("a", 2, T0 - 1, 0.0), ("a", 4, T0 - 2, 0.0)]
    frame = "ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW"
    assert window_sum(frame, rows, ("a", 100, T0, 0.0), db, " EXCLUDE CURRENT_TIME") == [106, 3]


def test_maxsize_counts_the_request_row(db):
    rows = [("a", v, T0 - v, 0.0) for v in (1, 2, 4, 8)]
    frame = "ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW"
    assert window_sum(frame, rows, ("a", 100, T0, 0.0), db, " MAXSIZE 3") == [103, 3]
    run("DROP TABLE t1", db)
    both = " MAXSIZE 3 EXCLUDE CURRENT_ROW"
    assert window_sum(frame, rows, ("a", 100, T0, 0.0), db, both) == [7, 3]


def test_null_ts_or_key(db):
    rows = [("a", 1, T0, 0.0), (None, 2, T0, 0.0)]
    assert window_sum("ROWS BETWEEN 5 PRECEDING AND CURRENT ROW", rows, (None, 10, T0, 0.0), db) == [12, 2]


def test_aggregates_skip_nulls_and_count_zero(db):
    table(db, rows=[("a", None, T0 - 1, None)])
    select = (
        "SELECT sum(d) OVER w AS s, count(d) OVER w AS c, avg(v) OVER w AS a, max(v) OVER w AS m FROM t1 "
        "WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 5 PRECEDING AND CURRENT ROW)"
    )
    assert request(db, select, ("a", None, T0, None)) == [None, 0, None, None]
    assert request(db, select, ("a", 3, T0, 1.5)) == [1.5, 1, 3.0, 3]


# --- WINDOW UNION ------------------------------------------------------------------------------------------------
def test_window_union_and_instance_not_in_window(db):
    table(db, rows=[("a", 1, T0 - 10, 0.0)])
    table(db, "t2", "CREATE TABLE t2 (k string, v int, ts timestamp, d double, INDEX(KEY=k, TS=ts))",
          rows=[("a", 100, T0 - 5, 0.0), ("a", 1000, T0 + 5, 0.0)])  # fmt: skip
    union = "SELECT sum(v) OVER w AS s FROM t1 WINDOW w AS (UNION t2 PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 1m PRECEDING AND CURRENT ROW{})"
    assert request(db, union.format(""), ("a", 10, T0, 0.0)) == [111]  # future union row excluded
    assert request(db, union.format(" INSTANCE_NOT_IN_WINDOW"), ("a", 10, T0, 0.0)) == [110]


# --- LAST JOIN ---------------------------------------------------------------------------------------------------
@pytest.fixture
def joined(db):
    table(db, rows=[("a", 1, T0, 0.0)])
    table(db, "t2", "CREATE TABLE t2 (k string, label string, ts timestamp, INDEX(KEY=k, TS=ts))",
          rows=[("a", "old", T0 - 100, ), ("a", "future", T0 + 100), ("a", "mid", T0)])  # fmt: skip
    table(db, "t3", "CREATE TABLE t3 (k string, label string, ts timestamp, INDEX(KEY=k))",
          rows=[("a", "first", T0 + 100), ("a", "last inserted", T0 - 100)])  # fmt: skip
    return db


def test_last_join_order_by_takes_the_largest_even_in_the_future(joined):
    select = "SELECT t1.v, t2.label FROM t1 LAST JOIN t2 ORDER BY t2.ts ON t1.k = t2.k"
    assert request(joined, select, ("a", 7, T0, 0.0)) == [7, "future"]


def test_last_join_without_order_by_uses_the_index_ts_order(joined):
    select = "SELECT t2.label FROM t1 LAST JOIN t2 ON t1.k = t2.k"
    assert request(joined, select, ("a", 7, T0, 0.0)) == ["future"]


def test_last_join_without_ts_takes_the_most_recent_insert(joined):
    select = "SELECT t3.label FROM t1 LAST JOIN t3 ON t1.k = t3.k"
    assert request(joined, select, ("a", 7, T0, 0.0)) == ["last inserted"]


def test_last_join_without_match_gives_nulls(joined):
    select = "SELECT t1.v, t2.label, t2.ts FROM t1 LAST JOIN t2 ORDER BY t2.ts ON t1.k = t2.k"
    assert request(joined, select, ("zzz", 7, T0, 0.0)) == [7, None, None]


def test_last_join_with_extra_condition(joined):
    select = "SELECT t2.label FROM t1 LAST JOIN t2 ORDER BY t2.ts ON t1.k = t2.k AND t2.ts <= t1.ts"
    assert request(joined, select, ("a", 7, T0, 0.0)) == ["mid"]


def test_subquery_sides_over_the_request_table(db):
    table(db, rows=[("a", 1, T0 - 2, 0.0), ("a", 2, T0 - 1, 0.0)])
    select = (
        "SELECT x.k, x.s, y.c FROM "
        "(SELECT k, sum(v) OVER w AS s FROM t1 WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)) AS x "
        "LAST JOIN "
        "(SELECT k, count(v) OVER w2 AS c FROM t1 WINDOW w2 AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 1m PRECEDING AND CURRENT ROW)) AS y "
        "ON x.k = y.k"
    )
    assert request(db, select, ("a", 10, T0, 0.0)) == ["a", 12, 3]


# --- functions in request mode -----------------------------------------------------------------------------------
def test_time_functions_use_utc_plus_8(db):
    table(db)
    select = "SELECT hour(ts) AS h, dayofweek(ts) AS dow, date(ts) AS d FROM t1"
    # 1590777000000 = 2020-05-29 18:30 UTC = 2020-05-30 02:30 UTC+8, a Saturday (dayofweek 7)
    assert request(db, select, ("a", 1, 1590777000000, 0.0)) == [2, 7, dt.date(2020, 5, 30)]


def test_topn_frequency_and_lag(db):
    table(db, rows=[("a", v, T0 - i, 0.0) for i, v in enumerate([3, 3, 1, 2, 2, 2])])
    select = (
        "SELECT topn_frequency(v, 2) OVER w AS top, lag(v, 1) OVER w AS prev, distinct_count(v) OVER w AS n "
        "FROM t1 WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)"
    )
    assert request(db, select, ("a", 9, T0 + 1, 0.0)) == ["2,3", 3, 4]


# --- TTL ---------------------------------------------------------------------------------------------------------
def test_absolute_ttl_hides_rows_older_than_now(db):
    now = T0 + 10 * DAY
    table(db, ddl="CREATE TABLE t1 (k string, v int, ts timestamp, d double, INDEX(KEY=k, TS=ts, TTL=1d, TTL_TYPE=absolute))",
          rows=[("a", 1, now - 2 * DAY, 0.0), ("a", 2, now - 1000, 0.0)])  # fmt: skip
    select = "SELECT sum(v) OVER w AS s FROM t1 WINDOW w AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    assert request(db, select, ("a", 10, now, 0.0), now_ms=now) == [12]


def test_latest_ttl_keeps_the_newest_rows_of_a_key(db):
    table(db, ddl="CREATE TABLE t1 (k string, v int, ts timestamp, d double, INDEX(KEY=k, TS=ts, TTL=2, TTL_TYPE=latest))",
          rows=[("a", v, T0 + v, 0.0) for v in (1, 2, 4, 8)])  # fmt: skip
    select = "SELECT sum(v) OVER w AS s FROM t1 WINDOW w AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    assert request(db, select, ("a", 100, T0 + 100, 0.0)) == [112]
    # a request older than the newest rows sees none of the expired ones
    assert request(db, select, ("a", 100, T0 + 3, 0.0)) == [100]


def test_last_join_projection_subquery_with_where(joined):
    select = (
        "SELECT t1.v, b.lbl FROM t1 LAST JOIN (SELECT k, label AS lbl, ts FROM t2 WHERE label != 'future') AS b "
        "ORDER BY b.ts ON t1.k = b.k"
    )
    assert request(joined, select, ("a", 7, T0, 0.0)) == [7, "mid"]


def test_last_join_subquery_key_must_be_a_column(joined):
    from featurestore.services import FeatureStoreError

    select = "SELECT b.x FROM t1 LAST JOIN (SELECT concat(k, 'x') AS x FROM t2) AS b ON t1.k = b.x"
    with pytest.raises(FeatureStoreError, match="must be a plain column"):
        request(joined, select, ("a", 7, T0, 0.0))
