"""Offline mode computes each row point-in-time: as request mode computed it when the rows arrived in time order.

A property test on random tables: rows, in time order (ties in drawing order), are sent one by one as requests
(and the output kept) and then inserted; afterwards an offline query over the table must give the same output for
every row. Keys and timestamps are drawn from small sets, so ties and several partitions are common.
"""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurestore import services
from featurestore import sql as sqlexec
from featurestore.selectors import table_get
from featurestore.sqlcore.dialect import parse_one
from tests.featurestore.conftest import assert_same_rows

pytestmark = pytest.mark.django_db

AGGREGATES = (
    "sum(v) OVER w AS s, count(v) OVER w AS c, min(v) OVER w AS lo, max(d) OVER w AS hi, "
    "avg(d) OVER w AS mean, lag(v, 1) OVER w AS prev, distinct_count(v) OVER w AS dc, "
    "count_where(v, v > 2) OVER w AS big"
)

rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.one_of(st.none(), st.integers(min_value=-5, max_value=5)),
        st.integers(min_value=0, max_value=30),  # ts: small range -> ties
        st.one_of(st.none(), st.floats(min_value=-10, max_value=10, allow_nan=False)),
    ),
    min_size=1,
    max_size=25,
)


@st.composite
def frames(draw):
    kind = draw(st.sampled_from(["rows", "rows_range"]))
    if kind == "rows":
        start = draw(st.sampled_from(["UNBOUNDED PRECEDING", *(f"{n} PRECEDING" for n in range(0, 5))]))
        frame = f"ROWS BETWEEN {start} AND CURRENT ROW"
    else:
        start = draw(st.sampled_from(["UNBOUNDED PRECEDING", *(f"{n} PRECEDING" for n in (0, 1, 3, 7, 15))]))
        if start != "UNBOUNDED PRECEDING" and draw(st.booleans()):
            start = start.replace(" PRECEDING", " OPEN PRECEDING")
        frame = f"ROWS_RANGE BETWEEN {start} AND CURRENT ROW"
        if draw(st.booleans()):
            frame += f" MAXSIZE {draw(st.integers(min_value=1, max_value=5))}"
    if draw(st.booleans()):
        frame += " EXCLUDE CURRENT_ROW"
    if draw(st.booleans()):
        frame += " EXCLUDE CURRENT_TIME"
    return frame


_counter = itertools.count()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy, frame=frames())
def test_offline_equals_online(rows, frame):
    services.database_create(name="prop", if_not_exists=True)
    name = f"t{next(_counter)}"
    sqlexec.execute(
        db="prop", sql=f"CREATE TABLE {name} (k string, v int, ts timestamp, d double, INDEX(KEY=k, TS=ts))"
    )
    table = table_get(db="prop", name=name)
    select_sql = f"SELECT k, v, ts, {AGGREGATES} FROM {name} WINDOW w AS (PARTITION BY k ORDER BY ts {frame})"
    plan = services.plan_compile(db="prop", select=parse_one(select_sql))

    rows = sorted(rows, key=lambda row: row[2])  # time order; sorted() is stable, so ties keep drawing order
    online = []
    for row in rows:
        online.append(plan.output_row(list(row)))
        services.rows_insert(table=table, rows=[list(row)])

    offline = sqlexec.execute(db="prop", sql=select_sql, mode="offsync").rows
    assert_same_rows(offline, online, frame)
