"""Shared by the feature store tests: equal rows (floats to the last bits), the per-row plan's rows, and the
request-mode read statements sent (``statements_sent``)."""

import math

import pytest

from featurestore import services, storage
from featurestore.offline import query
from featurestore.offline.duck import connect
from featurestore.offline.sources import fetch_rows
from featurestore.sqlcore.dialect import parse_one


def same(a, b):
    """Equal values; floats may differ in the last bits (the offline query sums in another order)."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b and type(a) is type(b)


def assert_same_rows(got_rows, want_rows, what):
    assert len(got_rows) == len(want_rows), what
    for got, want in zip(got_rows, want_rows, strict=True):
        bad = [i for i, (a, b) in enumerate(zip(got, want, strict=True)) if not same(a, b)]
        assert not bad, (what, bad, got, want)


def per_row(db, select_sql, limit=None):
    """The per-row plan's rows for ``select_sql`` over the tables' offline rows."""
    plan = services.plan_compile(db=db, select=parse_one(select_sql))
    con = connect()
    try:
        tables = {pk: fetch_rows(con, table) for pk, table in query.plan_tables(plan).items()}
    finally:
        con.close()
    return query.per_row(plan, tables, limit=limit)


@pytest.fixture
def statements_sent(monkeypatch):
    """The SQL of every request-mode read statement, as sent (``featurestore.storage.fetch_all``)."""
    sent: list[str] = []
    original = storage.fetch_all

    def counting(raw, sql, params):
        sent.append(sql)
        return original(raw, sql, params)

    monkeypatch.setattr(storage, "fetch_all", counting)
    return sent
