"""The offline plan compiled to DuckDB SQL answers what the per-row plan answers, row by row.

A property test on random tables (keys and times from small sets: ties, several partitions; NULL keys, times and
values; NaN): the compiled query (featurestore.offline.compiler) and the per-row plan (request mode over the rows
before each row) must agree on every row. Float sums and averages may differ in the last bits (summation order).
"""

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurestore import services
from featurestore import sql as sqlexec
from featurestore.offline import query
from featurestore.selectors import table_get
from featurestore.sqlcore.dialect import parse_one
from tests.featurestore.conftest import assert_same_rows, per_row

pytestmark = pytest.mark.django_db

AGGREGATES = (
    "sum(v) OVER w AS s, count(v) OVER w AS c, min(v) OVER w AS lo, max(v) OVER w AS hi, min(d) OVER w AS dlo, "
    "max(d) OVER w AS dhi, avg(d) OVER w AS mean, sum(d) OVER w AS ds, avg(v) OVER w AS vmean, "
    "sum(ts) OVER w AS tsum, count(k) OVER w AS kc, max(k) OVER w AS kmax, "
    # expressions: evaluated by the engine's functions over what DuckDB computed
    "sum(v) OVER w * 2 + v AS expr, concat(k, '-', cast(count(v) OVER w AS string)) AS label, "
    "if(d > 1, d, 0.0) AS clipped, "
    # other aggregates: the engine's own, over the frame's values gathered by DuckDB
    "lag(v, 1) OVER w AS prev, distinct_count(v) OVER w AS dc, first_value(d) OVER w AS fv, "
    "count(*) OVER w AS n, max(d) OVER w AS dmax2, "
    # aggregates of expressions: the engine computes the arguments row by row first
    "count_where(v, v > 2) OVER w AS big, sum(v * 2) OVER w AS s2, avg_where(d, v > 0 AND d < 5) OVER w AS aw"
)

values = st.one_of(st.none(), st.integers(min_value=-5, max_value=5), st.sampled_from([2**31 - 1, -(2**31)]))
doubles = st.one_of(st.none(), st.floats(min_value=-10, max_value=10), st.just(math.nan), st.just(math.inf))
rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", None]),
        values,
        st.one_of(st.integers(min_value=0, max_value=30), st.none()),  # ts: small range -> ties
        doubles,
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
        start = draw(st.sampled_from(["UNBOUNDED PRECEDING", "CURRENT ROW", *(f"{n} PRECEDING" for n in range(0, 5))]))
        if start not in ("UNBOUNDED PRECEDING", "CURRENT ROW", "0 PRECEDING") and draw(st.booleans()):
            start = start.replace(" PRECEDING", " OPEN PRECEDING")
        frame = f"ROWS BETWEEN {start} AND CURRENT ROW"
    else:
        start = draw(
            st.sampled_from(["UNBOUNDED PRECEDING", "CURRENT ROW", *(f"{n} PRECEDING" for n in (0, 1, 3, 7, 15))])
        )
        if start not in ("UNBOUNDED PRECEDING", "CURRENT ROW", "0 PRECEDING") and draw(st.booleans()):
            start = start.replace(" PRECEDING", " OPEN PRECEDING")
        frame = f"ROWS_RANGE BETWEEN {start} AND CURRENT ROW"
        extra = draw(st.sampled_from(["", "maxsize", "time"]))
        if extra == "maxsize":
            frame += f" MAXSIZE {draw(st.integers(min_value=1, max_value=5))}"
        elif extra == "time":
            frame += " EXCLUDE CURRENT_TIME"
    if draw(st.booleans()):
        frame += " EXCLUDE CURRENT_ROW"
    return frame


_counter = itertools.count()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy, right=right_rows, frame=frames(), partition=st.sampled_from(["k", "k, v"]))
def test_compiled_equals_per_row(rows, right, frame, partition):
    services.database_create(name="cmp", if_not_exists=True)
    n = next(_counter)
    main, other = f"m{n}", f"r{n}"
    sqlexec.execute(db="cmp", sql=f"CREATE TABLE {main} (k string, v int, ts timestamp, d double, INDEX(KEY=k, TS=ts))")
    sqlexec.execute(db="cmp", sql=f"CREATE TABLE {other} (k string, ts timestamp, x bigint, INDEX(KEY=k, TS=ts))")
    services.rows_insert(table=table_get(db="cmp", name=main), rows=[list(r) for r in rows])
    services.rows_insert(table=table_get(db="cmp", name=other), rows=[list(r) for r in right])
    select_sql = (
        f"SELECT {main}.k, v, {main}.ts, {AGGREGATES}, {other}.x AS x, {other}.ts AS rts FROM {main} "
        f"LAST JOIN {other} ORDER BY {other}.ts ON {main}.k = {other}.k "
        f"WINDOW w AS (PARTITION BY {partition} ORDER BY {main}.ts {frame})"
    )
    compiled = query.run("cmp", parse_one(select_sql))
    assert compiled.how == query.COMPILED
    assert_same_rows(compiled.rows, per_row("cmp", select_sql), (frame, rows))


def test_what_is_not_compiled_runs_row_by_row_and_says_why():
    services.database_create(name="cmp", if_not_exists=True)
    for name in ("f1", "f2"):
        sqlexec.execute(db="cmp", sql=f"CREATE TABLE {name} (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))")
    services.rows_insert(table=table_get(db="cmp", name="f1"), rows=[["a", 1, 1], ["a", 2, 3]])
    services.rows_insert(table=table_get(db="cmp", name="f2"), rows=[["a", 10, 2]])
    select_sql = "SELECT k, sum(v) OVER w AS s FROM f1 WINDOW w AS (UNION f2 PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW INSTANCE_NOT_IN_WINDOW)"
    result = query.run("cmp", parse_one(select_sql))
    assert result.rows == [["a", 1], ["a", 12]]
    assert result.how == (
        "per-row plan: window w: INSTANCE_NOT_IN_WINDOW with ROWS, MAXSIZE or without UNION is not compiled to "
        "set-based SQL"
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy, unioned=rows_strategy, other=rows_strategy, frame=frames(), instance=st.booleans())
def test_union_windows_compiled_equal_per_row(rows, unioned, other, frame, instance):
    services.database_create(name="cmp", if_not_exists=True)
    n = next(_counter)
    names = (f"m{n}", f"u{n}", f"o{n}")
    for name in names:
        sqlexec.execute(
            db="cmp", sql=f"CREATE TABLE {name} (k string, v int, ts timestamp, d double, INDEX(KEY=k, TS=ts))"
        )
    for name, data in zip(names, (rows, unioned, other), strict=True):
        services.rows_insert(table=table_get(db="cmp", name=name), rows=[list(r) for r in data])
    main, union, second = names
    if "ROWS_RANGE" in frame and "MAXSIZE" not in frame and instance:
        frame += " INSTANCE_NOT_IN_WINDOW"
    select_sql = (
        f"SELECT k, v, ts, sum(v) OVER w AS s, count(v) OVER w AS c, max(d) OVER w AS dmax, lag(v, 1) OVER w AS prev, "
        f"avg(d) OVER w AS mean, count(*) OVER w AS n FROM {main} WINDOW w AS (UNION {union}, {second} PARTITION BY k ORDER BY ts {frame})"
    )
    compiled = query.run("cmp", parse_one(select_sql))
    assert compiled.how == query.COMPILED
    assert_same_rows(compiled.rows, per_row("cmp", select_sql), frame)
