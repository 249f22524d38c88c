"""A request's stored rows in one statement (issue 19): every window's and LAST JOIN's scan read ahead together.

On PostgreSQL request mode reads all the scans a request row determines in one ``UNION ALL`` statement
(``featurestore.storage.read``, prepared once per connection) before computing; on SQLite each scan is read when
needed. Both ways must give the rows the engine gave before: these tests compute the same requests reading ahead,
reading each scan, and reading windows as before issue 19 (``RowSourceBefore``), on whichever database the suite
runs on (so the one-statement SQL runs on SQLite too), and count the statements a request sends on PostgreSQL.
"""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurestore import services, storage
from featurestore import sql as sqlexec
from featurestore.engine import RowSource
from featurestore.selectors import table_get
from featurestore.sqlcore.dialect import parse_one
from tests.featurestore.conftest import assert_same_rows

pytestmark = pytest.mark.django_db

BASE = 1_700_000_000_000
NOW = BASE + 150_000  # the TTL's "now": an absolute TTL of 1m keeps rows with ts >= BASE + 90s
STEP = 10_000


def run(text: str, db: str = "ra"):
    return sqlexec.execute(db=db, sql=text)


def compute(plan, requests, *, ahead: bool, monkeypatch) -> list[list]:
    monkeypatch.setattr(storage, "reads_ahead", lambda: ahead)
    return [plan.output_row(list(row), now_ms=NOW) for row in requests]


class RowSourceBefore(RowSource):
    """Windows read as before issue 19, the reference: the key's rows newer than the request counted first (a
    latest TTL), then the window's rows read with the limit that count leaves; one statement per scan."""

    def window(self, source, ts, keys, upper, lower, limit, now_ms):
        table, index = source.table, source.index
        key_pairs = list(zip(source.key_positions, keys, strict=True))
        before = self._before(table)
        ttl_type = (index or {}).get("ttl_type") or "absolute"
        abs_ttl = (index or {}).get("abs_ttl") or 0 if index and index.get("ts") else 0
        lat_ttl = (index or {}).get("lat_ttl") or 0 if index else 0
        cutoff = now_ms - abs_ttl * 60_000 if abs_ttl else None
        uses_abs = cutoff is not None and ttl_type in ("absolute", "absorlat", "absandlat")
        uses_lat = bool(lat_ttl) and ttl_type in ("latest", "absorlat", "absandlat")
        ts_position = source.ts_position
        newer = 0
        if uses_lat:
            newer = len(storage.scan(table, keys=key_pairs, ts=ts_position, lower=ts + 1, limit=lat_ttl,
                                     before_id=before))  # fmt: skip
        if ttl_type == "absandlat" and uses_abs and uses_lat:
            rows = storage.scan(table, keys=key_pairs, ts=ts_position, upper=upper, lower=lower, limit=limit,
                                before_id=before)  # fmt: skip
            position = ts_position + 1
            return [row for i, row in enumerate(rows) if row[position] >= cutoff or newer + i < lat_ttl]
        if uses_abs and ttl_type != "latest":
            lower = cutoff if lower is None else max(lower, cutoff)
        if uses_lat and ttl_type != "absolute":
            alive = max(lat_ttl - newer, 0)
            limit = alive if limit is None else min(limit, alive)
            if limit == 0:
                return []
        return storage.scan(table, keys=key_pairs, ts=ts_position, upper=upper, lower=lower, limit=limit,
                            before_id=before)  # fmt: skip


# --- the same answers, read ahead or not --------------------------------------------------------------------------
FRAMES = [
    "ROWS BETWEEN 2 PRECEDING AND CURRENT ROW",
    "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
    "ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING",
    "ROWS BETWEEN CURRENT ROW AND CURRENT ROW",
    "ROWS_RANGE BETWEEN 30s PRECEDING AND CURRENT ROW",
    "ROWS_RANGE BETWEEN 30s OPEN PRECEDING AND CURRENT ROW",
    "ROWS_RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
    "ROWS_RANGE BETWEEN 1m PRECEDING AND 10s PRECEDING",
    "ROWS_RANGE BETWEEN CURRENT ROW AND CURRENT ROW",
    "ROWS_RANGE BETWEEN 1m PRECEDING AND CURRENT ROW MAXSIZE 2",
]
TTLS = ["", ", TTL=2, TTL_TYPE=latest", ", TTL=1m, TTL_TYPE=absolute", ", TTL=(1m, 2), TTL_TYPE=absandlat",
        ", TTL=(1m, 2), TTL_TYPE=absorlat"]  # fmt: skip
AGGREGATES = "sum(v) OVER {w} AS s{n}, count(v) OVER {w} AS c{n}, lag(d, 1) OVER {w} AS l{n}, min(ts) OVER {w} AS m{n}"

row_values = st.tuples(
    st.sampled_from(["a", "a", "b", None]),
    st.one_of(st.none(), st.integers(min_value=-5, max_value=5)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=20).map(lambda n: BASE + n * STEP)),
    st.one_of(st.none(), st.floats(min_value=-10, max_value=10, allow_nan=False)),
)


@st.composite
def deployments(draw):
    frame = draw(st.sampled_from(FRAMES))
    if draw(st.booleans()):
        frame += draw(st.sampled_from([" EXCLUDE CURRENT_ROW", " EXCLUDE CURRENT_TIME"]))
    union = draw(st.sampled_from(["", "UNION {u} ", "UNION {u} "]))
    if union and draw(st.booleans()):
        frame += " INSTANCE_NOT_IN_WINDOW"
    return {
        "frame1": frame,
        "union": union,
        "frame2": draw(st.sampled_from(FRAMES)),
        "ttl": draw(st.sampled_from(TTLS)),
        "join_condition": draw(st.sampled_from(["", " AND {p}.ts <= {t}.ts"])),
    }


_counter = itertools.count()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spec=deployments(),
    stored=st.lists(row_values, min_size=1, max_size=20),
    unioned=st.lists(row_values, max_size=8),
    profiles=st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.sampled_from(["x", "y", "z"]),
            st.integers(min_value=0, max_value=20).map(lambda n: BASE + n * STEP),
        ),
        max_size=6,
    ),  # fmt: skip
    requests=st.lists(row_values, min_size=2, max_size=6),
)
def test_reading_ahead_answers_as_reading_each_scan(monkeypatch, spec, stored, unioned, profiles, requests):
    services.database_create(name="ra", if_not_exists=True)
    n = next(_counter)
    t, u, p, q = f"t{n}", f"u{n}", f"p{n}", f"q{n}"
    for name in (t, u):
        run(f"CREATE TABLE {name} (k string, v int, ts timestamp, d double, INDEX(KEY=k, TS=ts{spec['ttl']}))")
    run(f"CREATE TABLE {p} (k string, label string, ts timestamp, INDEX(KEY=k, TS=ts))")
    run(f"CREATE TABLE {q} (label string, n int, INDEX(KEY=label))")
    for name, rows in ((t, stored), (u, unioned), (p, profiles), (q, [("x", 1), ("y", 2), ("x", 3)])):
        if rows:
            services.rows_insert(table=table_get(db="ra", name=name), rows=[list(row) for row in rows])
    union = spec["union"].format(u=u)
    condition = spec["join_condition"].format(p=p, t=t)
    select = (
        f"SELECT {t}.k, {t}.v, {AGGREGATES.format(w='w1', n=1)}, {AGGREGATES.format(w='w2', n=2)}, "
        f"{p}.label AS label, {q}.n AS n FROM {t} "
        f"LAST JOIN {p} ORDER BY {p}.ts ON {t}.k = {p}.k{condition} "
        f"LAST JOIN {q} ON {q}.label = {p}.label "  # keyed on the first join's row: read after it
        f"WINDOW w1 AS ({union}PARTITION BY k ORDER BY ts {spec['frame1']}), "
        f"w2 AS (PARTITION BY k ORDER BY ts {spec['frame2']})"
    )
    plan = services.plan_compile(db="ra", select=parse_one(select))
    before = [plan.output_row(list(row), RowSourceBefore(main_table_id=plan.main.pk), NOW) for row in requests]
    each = compute(plan, requests, ahead=False, monkeypatch=monkeypatch)
    ahead = compute(plan, requests, ahead=True, monkeypatch=monkeypatch)
    assert_same_rows(each, before, select)
    assert_same_rows(ahead, before, select)


@pytest.fixture
def db():
    run("CREATE DATABASE ra")
    run("CREATE TABLE t1 (k string, v int, ts timestamp, d double, INDEX(KEY=k, TS=ts))")
    run("CREATE TABLE t2 (k string, label string, ts timestamp, INDEX(KEY=k, TS=ts))")
    run("CREATE TABLE t3 (label string, n int, INDEX(KEY=label))")
    rows = [["a", v, BASE + v * STEP, v / 2] for v in range(8)] + [["b", 100, BASE, 1.5], ["a", 50, None, 0.0]]
    services.rows_insert(table=table_get(db="ra", name="t1"), rows=rows)
    services.rows_insert(table=table_get(db="ra", name="t2"), rows=[["a", "x", BASE], ["a", "y", BASE + STEP]])
    services.rows_insert(table=table_get(db="ra", name="t3"), rows=[["y", 7]])
    return "ra"


SELECT = (
    "SELECT k, sum(v) OVER w2 AS s2, count(v) OVER w2 AS c2, sum(v) OVER w1m AS s1m, t2.label AS label FROM t1 "
    "LAST JOIN t2 ORDER BY t2.ts ON t1.k = t2.k "
    "WINDOW w2 AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), "
    "w1m AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 1m PRECEDING AND CURRENT ROW)"
)


def test_subqueries_over_the_request_table_read_ahead_too(db, monkeypatch):
    select = (
        "SELECT x.k, x.s, y.c, y.label FROM "
        "(SELECT k, sum(v) OVER w AS s FROM t1 WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 1 PRECEDING "
        "AND CURRENT ROW)) AS x LAST JOIN "
        "(SELECT t1.k, count(v) OVER w2 AS c, t2.label AS label FROM t1 LAST JOIN t2 ON t1.k = t2.k "
        "WINDOW w2 AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 1m PRECEDING AND CURRENT ROW)) AS y "
        "ON x.k = y.k"
    )
    plan = services.plan_compile(db=db, select=parse_one(select))
    requests = [["a", 10, BASE + 7 * STEP, 0.0], ["b", 1, BASE + STEP, 0.0]]
    each = compute(plan, requests, ahead=False, monkeypatch=monkeypatch)
    assert compute(plan, requests, ahead=True, monkeypatch=monkeypatch) == each
    assert each[0] == ["a", 17, 8, "y"]


def test_one_statement_reads_windows_and_joins(db, monkeypatch, statements_sent):
    plan = services.plan_compile(db=db, select=parse_one(SELECT))
    monkeypatch.setattr(storage, "reads_ahead", lambda: True)
    assert plan.output_row(["a", 10, BASE + 7 * STEP, 0.0]) == ["a", 23, 3, 38, "y"]
    assert len(statements_sent) == 1 and statements_sent[0].count("UNION ALL") == 2  # two windows and a LAST JOIN


def test_a_join_keyed_on_another_join_is_read_after_it(db, monkeypatch, statements_sent):
    select = "SELECT t2.label, t3.n FROM t1 LAST JOIN t2 ON t1.k = t2.k LAST JOIN t3 ON t3.label = t2.label"
    plan = services.plan_compile(db=db, select=parse_one(select))
    monkeypatch.setattr(storage, "reads_ahead", lambda: True)
    assert plan.output_row(["a", 10, BASE, 0.0]) == ["y", 7]
    assert len(statements_sent) == 2


def test_reading_each_scan_sends_one_statement_per_scan(db, monkeypatch, statements_sent):
    plan = services.plan_compile(db=db, select=parse_one(SELECT))
    monkeypatch.setattr(storage, "reads_ahead", lambda: False)
    assert plan.output_row(["a", 10, BASE + 7 * STEP, 0.0]) == ["a", 23, 3, 38, "y"]
    assert len(statements_sent) == 3 and not any("UNION" in sql for sql in statements_sent)


def test_a_row_source_limited_to_earlier_rows_reads_ahead_within_them(db, monkeypatch, statements_sent):
    """A row source that sees only the main table's rows inserted before a row (``before_id``) reads ahead too."""
    plan = services.plan_compile(db=db, select=parse_one(SELECT))
    monkeypatch.setattr(storage, "reads_ahead", lambda: True)
    first_b = storage.select_all(table_get(db=db, name="t1"))[8][0]  # the "b" row: only "a" rows before it
    source = RowSource(before_id=first_b, main_table_id=plan.main.pk)
    assert plan.output_row(["a", 10, BASE + 7 * STEP, 0.0], source) == ["a", 23, 3, 38, "y"]
    source = RowSource(before_id=1, main_table_id=plan.main.pk)
    assert plan.output_row(["a", 10, BASE + 7 * STEP, 0.0], source) == ["a", 10, 1, 10, "y"]
    assert len(statements_sent) == 2


# --- storage.read -------------------------------------------------------------------------------------------------
def test_read_gives_each_scan_what_it_reads_alone(db):
    t1, t2 = table_get(db=db, name="t1"), table_get(db=db, name="t2")
    l1, l2 = storage.Layout(t1), storage.Layout(t2)
    scans = [
        storage.make_scan(l1, [(0, "a")], 2, BASE + 5 * STEP, None, 3),
        storage.make_scan(l2, [(0, "a")], 2, None, None, 1),
        None,
        storage.make_scan(l1, [(0, "a")], None, None, None, 100),  # insertion order, the NULL ts row included
        storage.make_scan(l1, [(0, "a")], 2, None, BASE + 6 * STEP),
        storage.make_scan(l1, [(0, None)], 2),  # no key is NULL: no row
        storage.make_scan(l1, [(0, "a")], 2, 2**70, -(2**70)),  # bounds beyond int64: every row with a ts
        storage.make_scan(l1, [(0, "a")], 2, -(2**70)),  # an upper bound below int64: no row, no scan
        storage.make_scan(l1, [(0, "b")], 2, before_id=1),
    ]
    assert scans[7] is None
    together = storage.read(scans)
    alone = [storage.read([scan])[0] for scan in scans]
    assert together == alone
    assert [row[2] for row in together[0]] == [5, 4, 3]
    assert together[1][0][1:] == ("a", "y", BASE + STEP)
    assert together[3][0][2] == 50 and len(together[3]) == 9
    assert together[2] == together[5] == together[7] == together[8] == []
    assert len(together[6]) == 8


def test_read_without_scans_sends_nothing(statements_sent):
    assert storage.read([None, None]) == [[], []]
    assert statements_sent == []


# --- PostgreSQL: one round trip, prepared -------------------------------------------------------------------------
@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (scripts/test_services.py runs it)")


def test_postgresql_reads_a_request_in_one_prepared_statement(postgres, db):
    """One statement per request (counted with Django's CaptureQueriesContext), prepared once."""
    plan = services.plan_compile(db=db, select=parse_one(SELECT))
    with CaptureQueriesContext(connection) as queries:  # Django's cursor runs (and logs) them while capturing
        for _ in range(3):
            assert plan.output_row(["a", 10, BASE + 7 * STEP, 0.0]) == ["a", 23, 3, 38, "y"]
    assert [query["sql"].count("UNION ALL") for query in queries.captured_queries] == [2, 2, 2]  # one per request
    assert plan.output_row(["a", 10, BASE + 7 * STEP, 0.0]) == ["a", 23, 3, 38, "y"]
    assert prepared_reads() == 1


def prepared_reads() -> int:
    """The feature store's one-statement reads prepared on this connection (the test's transaction began with none:
    psycopg deallocates its statements when a transaction rolls back)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%UNION ALL%'")
        return cursor.fetchone()[0]


def test_postgresql_prepares_nothing_when_turned_off(postgres, db, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    plan = services.plan_compile(db=db, select=parse_one(SELECT))
    assert plan.output_row(["a", 10, BASE + 7 * STEP, 0.0]) == ["a", 23, 3, 38, "y"]
    assert prepared_reads() == 0


def test_postgresql_statement_keeps_one_prepared_form_whatever_the_values(postgres, db):
    """Integers go as int8, so small and large values share the prepared statement."""
    plan = services.plan_compile(db=db, select=parse_one(SELECT))
    for ts in (BASE + 7 * STEP, 5, 2**40):
        plan.output_row(["a", 10, ts, 0.0])
    assert prepared_reads() == 1


def test_postgresql_plans_a_request_read_once_not_per_request(postgres, db):
    """The server plans the one statement once (its generic plan), not anew for each request's values: with the
    frames' row limits as parameters, PostgreSQL's estimate of the generic plan (a tenth of the rows under an unknown
    LIMIT) stayed above the custom plans', so it planned every execution again. Limits are the deployment's own
    constants, so they are written into the statement."""
    t1, t2 = table_get(db=db, name="t1"), table_get(db=db, name="t2")
    keys = [f"k{n}" for n in range(12)]  # a table the planner knows, with many rows a key
    services.rows_insert(table=t1, rows=[[keys[n % 12], n, BASE + n * 1000, 0.5] for n in range(24_000)])
    services.rows_insert(table=t2, rows=[[key, "x", BASE] for key in keys])
    plan = services.plan_compile(db=db, select=parse_one(SELECT))
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{t1.storage_table}", "{t2.storage_table}"')
    for step in range(12):
        assert plan.output_row([keys[step], 10, BASE + 24_000_000 + step, 0.0])[0] == keys[step]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%UNION ALL%'"
        )
        [(generic, custom)] = cursor.fetchall()
    assert generic >= 12 - 5 and custom <= 5  # PostgreSQL tries five custom plans before it weighs the generic one


def test_postgresql_read_failures_are_djangos_database_errors(postgres, db):
    """The fast path gives a connection that failed back to the pool on DatabaseError (featurestore.openmldb.fastpath)."""
    from django.db import DatabaseError

    t1 = table_get(db=db, name="t1")
    layout = storage.Layout(t1)
    layout.storage = "fs_missing"
    with pytest.raises(DatabaseError):
        storage.read([storage.make_scan(layout, [(0, "a")], 2), storage.make_scan(layout, [(0, "b")], 2)])
