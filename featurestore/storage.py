"""Physical storage of feature tables: one real table per feature table, in the project's database.

Each feature table ``T`` is a table ``fs_<id>`` with an insertion-ordered ``_id`` and one column per schema
column (``c0``, ``c1``...), and one composite B-tree index per OpenMLDB index: ``(key columns..., ts, _id)``.
A window is then one index range scan: key equality, ``ts <= request ts`` (and a lower bound for ROWS_RANGE),
newest first, with a LIMIT for ROWS. Only generated identifiers ever appear in the SQL text here; every value
is a query parameter. A scan is a value (``Scan``); ``read`` reads several in one statement, which is how request
mode on PostgreSQL makes one round trip per request, and on PostgreSQL every read is a prepared statement
(``fetch_all``).

Values are stored as: bool and integers as BIGINT, float and double as double precision, string as TEXT, date
as its proleptic ordinal (INTEGER), timestamp as BIGINT milliseconds. SQLite cannot store a float NaN (it
becomes NULL), so on SQLite a NaN is stored as the text ``'NaN'`` in a column without type affinity.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections

from dataplatform import querycache
from featurestore.limits import INT64_MAX, INT64_MIN
from featurestore.models import FeatureTable

SQL_TYPES = {
    "sqlite": {"int": "BIGINT", "float": "", "text": "TEXT", "id": "INTEGER PRIMARY KEY AUTOINCREMENT"},
    "postgresql": {"int": "BIGINT", "float": "DOUBLE PRECISION", "text": "TEXT", "id": "BIGSERIAL PRIMARY KEY"},
}
_KIND = {
    "bool": "int",
    "int16": "int",
    "int32": "int",
    "int64": "int",
    "timestamp": "int",
    "date": "int",
    "float": "float",
    "double": "float",
    "string": "text",
}


def physical_name(table_id: int) -> str:
    return f"fs_{table_id}"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


_VENDOR: str | None = None


def _vendor() -> str:
    global _VENDOR
    if _VENDOR is None:
        _VENDOR = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    return _VENDOR


def raw_connection():
    """This thread's DB-API connection, without Django's wrappers (opened if needed).

    The request-mode scans are the hot path (one per window per request); Django's cursor wrapper, its
    placeholder rewriting and its debug hooks cost more than the indexed read itself. Callers that scan several
    times take the connection once (``RowSource``) and pass it to ``scan``.
    """
    wrapper = connections[DEFAULT_DB_ALIAS]
    if wrapper.connection is None:
        wrapper.ensure_connection()
    return wrapper.connection


# --- encoding ---------------------------------------------------------------------------------------------------
def _encode_float_sqlite(value):
    if value is not None and math.isnan(value):
        return "NaN"
    return value


def _decode_float(value):
    if isinstance(value, str):
        return float(value)
    return value


def _encode_date(value):
    return None if value is None else value.toordinal()


def _decode_date(value):
    return None if value is None else dt.date.fromordinal(value)


def _encode_bool(value):
    return None if value is None else int(value)


def _decode_bool(value):
    return None if value is None else bool(value)


def encoders(types: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    """Per column: a function turning an engine value into a stored one (None: store as is)."""
    sqlite = _vendor() == "sqlite"
    table = {"date": _encode_date, "bool": _encode_bool}
    if sqlite:
        table.update(float=_encode_float_sqlite, double=_encode_float_sqlite)
    return [table.get(t) for t in types]


def decoders(types: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    table = {"date": _decode_date, "bool": _decode_bool}
    if _vendor() == "sqlite":
        table.update(float=_decode_float, double=_decode_float)
    return [table.get(t) for t in types]


def encode_row(row: Sequence[Any], codecs: Sequence[Callable | None]) -> list[Any]:
    return [value if codec is None or value is None else codec(value) for value, codec in zip(row, codecs, strict=True)]


def decode_rows(rows: Iterable[Sequence[Any]], codecs: Sequence[Callable | None]) -> list[tuple]:
    """Decode fetched rows ``(_id, c0, c1, ...)`` into ``(_id, v0, v1, ...)``."""
    active = [(i + 1, codec) for i, codec in enumerate(codecs) if codec is not None]
    if not active:
        return [row if type(row) is tuple else tuple(row) for row in rows]
    decoded = []
    for row in rows:
        values = list(row)
        for i, codec in active:
            if values[i] is not None:
                values[i] = codec(values[i])
        decoded.append(tuple(values))
    return decoded


# --- DDL --------------------------------------------------------------------------------------------------------
def create_table(table: FeatureTable) -> None:
    """Create the physical table and one index per OpenMLDB index (inside the caller's transaction)."""
    types = SQL_TYPES[_vendor()]
    columns = [f"{_q('_id')} {types['id']}"]
    for i, column in enumerate(table.columns):
        columns.append(f"{_q(f'c{i}')} {types[_KIND[column['type']]]}".rstrip())
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {_q(table.storage_table)} ({', '.join(columns)})")
    for position, index in enumerate(table.indexes):
        create_index(table, index, position)


def index_columns(table: FeatureTable, index: dict) -> list[str]:
    names = [f"c{table.position(key)}" for key in index["keys"]]
    if index.get("ts"):
        names.append(f"c{table.position(index['ts'])}")
    return [*names, "_id"]


def create_index(table: FeatureTable, index: dict, position: int) -> None:
    name = f"{table.storage_table}_i{position}"
    columns = ", ".join(_q(column) for column in index_columns(table, index))
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX {_q(name)} ON {_q(table.storage_table)} ({columns})")


def drop_table(table: FeatureTable) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_q(table.storage_table)}")


# --- DML --------------------------------------------------------------------------------------------------------
COPY_THRESHOLD = 100


def insert_rows(table: FeatureTable, rows: Sequence[Sequence[Any]]) -> None:
    """Insert rows (engine values in schema order) in one statement batch (PostgreSQL: COPY for big batches)."""
    codecs = encoders([column["type"] for column in table.columns])
    insert_stored(table, [encode_row(row, codecs) for row in rows])


def insert_stored(table: FeatureTable, rows: Sequence[Sequence[Any]]) -> None:
    """Insert rows already in their stored form (``encoders``): one statement batch, or COPY on PostgreSQL."""
    names = ", ".join(_q(f"c{i}") for i in range(len(table.columns)))
    if _vendor() == "postgresql" and len(rows) >= COPY_THRESHOLD:
        # COPY streams rows in one command, several times faster than a batch of INSERTs.
        with (
            raw_connection().cursor() as cursor,
            cursor.copy(f"COPY {_q(table.storage_table)} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join(["%s"] * len(table.columns))
    sql = f"INSERT INTO {_q(table.storage_table)} ({names}) VALUES ({marks})"
    if _vendor() == "sqlite":
        # The DB-API cursor itself: Django's wrapper rewrites the SQL and checks every row, at a high cost here.
        cursor = raw_connection().cursor()
        try:
            cursor.executemany(sql.replace("%s", "?"), rows)
        finally:
            cursor.close()
        return
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


@contextlib.contextmanager
def bulk_load(cache_kib: int = 262_144):
    """A bulk insert's connection settings: on SQLite a page cache big enough to keep the indexes' pages while many
    rows go in (a third faster for a big load), restored afterwards."""
    if _vendor() != "sqlite":
        yield
        return
    cursor = raw_connection().cursor()
    previous = cursor.execute("PRAGMA cache_size").fetchone()[0]
    try:
        cursor.execute(f"PRAGMA cache_size = {-int(cache_kib)}")
        yield
    finally:
        cursor.execute(f"PRAGMA cache_size = {int(previous)}")
        cursor.close()


def count_rows(table: FeatureTable) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {_q(table.storage_table)}")
        return cursor.fetchone()[0]


def select_all(table: FeatureTable, *, limit: int | None = None, newest_first: bool = False) -> list[tuple]:
    """All rows as ``(_id, v0, v1, ...)`` in insertion order (or newest first)."""
    names = ", ".join([_q("_id"), *(_q(f"c{i}") for i in range(len(table.columns)))])
    order = "DESC" if newest_first else "ASC"
    sql = f"SELECT {names} FROM {_q(table.storage_table)} ORDER BY {_q('_id')} {order}"
    params: list[Any] = []
    if limit is not None:
        sql += " LIMIT %s"
        params.append(min(limit, INT64_MAX))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return decode_rows(rows, decoders([column["type"] for column in table.columns]))


# --- request-mode reads -----------------------------------------------------------------------------------------
class Layout:
    """What reading a table's rows takes: its physical name, its columns' storage kinds (``int``, ``float``,
    ``text``) and their decoders. Computed once per table by a plan."""

    __slots__ = ("codecs", "kinds", "storage")

    def __init__(self, table: FeatureTable, codecs: Sequence[Callable | None] | None = None) -> None:
        types = [column["type"] for column in table.columns]
        self.storage = table.storage_table
        self.kinds = tuple(_KIND[kind] for kind in types)
        self.codecs = tuple(decoders(types) if codecs is None else codecs)


class Scan:
    """One index range scan, as a value: rows whose key columns equal the values, ``lower <= ts <= upper``,
    inserted before ``before_id``, newest first by ts then insertion, at most ``limit``.

    Two scans with the same ``key`` read the same rows, so a request's scans can be read together in one
    statement (``read``) and looked up again by value. The key holds each key value's type too: ``1`` and ``True``
    are equal in Python but not to the database.
    """

    __slots__ = ("_key", "before_id", "keys", "layout", "limit", "lower", "ts", "upper")

    def __init__(self, layout: Layout, keys: tuple, ts: int | None, upper: int | None, lower: int | None,
                 limit: int | None, before_id: int | None) -> None:  # fmt: skip
        self.layout = layout
        self.keys = keys
        self.ts = ts
        self.upper = upper
        self.lower = lower
        self.limit = limit
        self.before_id = before_id
        self._key: tuple | None = None

    @property
    def key(self) -> tuple:
        if self._key is None:
            typed = tuple([(position, type(value), value) for position, value in self.keys])
            self._key = (self.layout.storage, typed, self.ts, self.upper, self.lower, self.limit, self.before_id)
        return self._key

    def shape(self) -> tuple:
        """What the SQL text depends on: the values are parameters, but the row limit is written into the statement.
        A limit is a constant of the deployment (a frame's offset or MAXSIZE, a latest TTL, a join's), and as a
        parameter it made PostgreSQL plan every execution anew: under an unknown LIMIT it estimates the generic plan
        at a tenth of the key's rows, dearer than each custom plan, so it kept making custom plans."""
        keys = tuple([(position, value is None) for position, value in self.keys])
        bounds = (self.upper is not None, self.lower is not None, self.before_id is not None, self.limit)
        return (self.layout.storage, self.layout.kinds, keys, self.ts, *bounds)

    def params(self) -> list[Any]:
        params = [value for _, value in self.keys if value is not None]
        if self.upper is not None:
            params.append(self.upper)
        if self.lower is not None:
            params.append(self.lower)
        if self.before_id is not None:
            params.append(self.before_id)
        return params


def make_scan(
    layout: Layout,
    keys: Sequence[tuple[int, Any]],
    ts: int | None = None,
    upper: int | None = None,
    lower: int | None = None,
    limit: int | None = None,
    before_id: int | None = None,
) -> Scan | None:
    """The scan of ``scan``'s arguments, or None when no stored row can match (a bound beyond int64).

    Bounds are exact whatever their size: stored values are int64, so a bound beyond int64 (from a ts stored
    before ``featurestore.limits`` was enforced, a huge TTL or bias) either keeps every row or none, and is
    narrowed to int64 or answered without a query rather than overflowing the database's parameter.
    """
    if (upper is not None and upper < INT64_MIN) or (lower is not None and lower > INT64_MAX):
        return None
    if ts is None:
        upper = lower = None  # bounds apply to a ts column only
    if lower is not None and lower < INT64_MIN:
        lower = INT64_MIN  # not None: "ts >= INT64_MIN" still leaves out rows whose ts is NULL
    if upper is not None and upper > INT64_MAX:
        upper = INT64_MAX
    if limit is not None and limit > INT64_MAX:
        limit = INT64_MAX
    return Scan(layout, tuple(keys), ts, upper, lower, limit, before_id)


def _where_order(shape: tuple) -> tuple[str, str]:
    _, _, keys, ts, upper, lower, before, _ = shape
    where = [f"{_q(f'c{i}')} IS NULL" if is_null else f"{_q(f'c{i}')} = %s" for i, is_null in keys]
    if ts is not None and upper:
        where.append(f"{_q(f'c{ts}')} <= %s")
    if ts is not None and lower:
        where.append(f"{_q(f'c{ts}')} >= %s")
    if before:
        where.append(f"{_q('_id')} < %s")
    order = f"{_q(f'c{ts}')} DESC, {_q('_id')} DESC" if ts is not None else f"{_q('_id')} DESC"
    return (" WHERE " + " AND ".join(where)) if where else "", order


@lru_cache(maxsize=4096)
def _scan_sql(shape: tuple, vendor: str) -> str:
    storage, kinds = shape[0], shape[1]
    names = ", ".join([_q("_id"), *(_q(f"c{i}") for i in range(len(kinds)))])
    where, order = _where_order(shape)
    sql = f"SELECT {names} FROM {_q(storage)}{where} ORDER BY {order}"
    if shape[-1] is not None:
        sql += f" LIMIT {shape[-1]:d}"
    return sql.replace("%s", "?") if vendor == "sqlite" else sql


_NULLS = {
    "postgresql": {"int": "NULL::bigint", "float": "NULL::double precision", "text": "NULL::text"},
    "sqlite": {"int": "NULL", "float": "NULL", "text": "NULL"},
}


@lru_cache(maxsize=1024)
def _read_sql(shapes: tuple[tuple, ...], vendor: str) -> tuple[str, tuple[Callable, ...]]:
    """One statement reading every scan: ``UNION ALL`` of one subquery per scan (its own WHERE, ORDER BY and
    LIMIT, so each stays an index range scan), then ordered by scan, ts and insertion as each scan orders.

    A row is ``(scan number, ts, _id, slots...)``. Scans of different tables have different columns, so each
    column goes to a slot of its storage kind (the n-th int column of any scan to the n-th int slot, and so on)
    and a scan's unused slots are typed NULLs. Returns the SQL and, per scan, a function taking its
    ``(_id, c0, c1, ...)`` out of a row.
    """
    slots: list[tuple[str, int]] = []
    for kind in ("int", "float", "text"):
        slots += [(kind, n) for n in range(max(shape[1].count(kind) for shape in shapes))]
    slot_of = {slot: 3 + i for i, slot in enumerate(slots)}
    nulls = _NULLS[vendor]
    arms, getters = [], []
    for number, shape in enumerate(shapes):
        kinds, ts = shape[1], shape[3]
        seen: dict[str, int] = {}
        mine = {}  # slot -> column position
        for i, kind in enumerate(kinds):
            mine[(kind, seen.get(kind, 0))] = i
            seen[kind] = seen.get(kind, 0) + 1
        columns = [_q(f"c{mine[slot]}") if slot in mine else nulls[slot[0]] for slot in slots]
        getters.append(itemgetter(2, *(slot_of[slot] for slot in sorted(mine, key=mine.__getitem__))))
        ts_column = _q(f"c{ts}") if ts is not None else nulls["int"]
        where, order = _where_order(shape)
        arm = f"SELECT {number} AS s, {ts_column} AS t, {_q('_id')}, {', '.join(columns)} FROM {_q(shape[0])}{where}"
        arm += f" ORDER BY {order}" + (f" LIMIT {shape[-1]:d}" if shape[-1] is not None else "")
        arms.append(f"({arm})" if vendor == "postgresql" else f"SELECT * FROM ({arm})")
    # NULL ts sort as each scan sorts them (first on PostgreSQL, last on SQLite): the same column, the same order.
    sql = " UNION ALL ".join(arms) + " ORDER BY 1, 2 DESC, 3 DESC"
    return (sql.replace("%s", "?") if vendor == "sqlite" else sql), tuple(getters)


def reads_ahead() -> bool:
    """Whether request mode reads a request's scans in one statement (``read``) before computing it: on
    PostgreSQL, where every statement is a round trip to the server. SQLite runs in this process: there one small
    statement per scan is as fast, and reading ahead would only add work."""
    return _vendor() == "postgresql"


def fetch_all(raw, sql: str, params: Sequence[Any]) -> list[tuple]:
    """Run one read statement; every request-mode read goes through here.

    On PostgreSQL through ``dataplatform.querycache.fetch``: the statement binds its values on the server and is
    prepared once per connection (``DATABASE_PREPARED_STATEMENTS``), so the server parses and plans it once, and a
    failure is Django's ``DatabaseError`` (the fast path then gives the broken connection back). On SQLite on the
    DB-API connection ``raw`` itself: Django's cursor wrapper costs more than the indexed read.
    """
    if _vendor() == "postgresql":
        return querycache.fetch(connections[DEFAULT_DB_ALIAS], sql, list(params))
    cursor = raw.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchall()
    finally:
        cursor.close()


def read(scans: Sequence[Scan | None], raw=None) -> list[list[tuple]]:
    """The rows ``(_id, v0, ...)`` of each scan (None: no row), all in one statement."""
    wanted = [scan for scan in scans if scan is not None]
    if not wanted:
        return [[] for _ in scans]
    raw = raw or raw_connection()
    vendor = _vendor()
    if len(wanted) == 1:
        scan = wanted[0]
        rows = decode_rows(fetch_all(raw, _scan_sql(scan.shape(), vendor), scan.params()), scan.layout.codecs)
        return [rows if item is not None else [] for item in scans]
    sql, getters = _read_sql(tuple([scan.shape() for scan in wanted]), vendor)
    params = [value for scan in wanted for value in scan.params()]
    found: list[list[tuple]] = [[] for _ in wanted]
    for row in fetch_all(raw, sql, params):
        number = row[0]
        found[number].append(getters[number](row))
    decoded = iter([decode_rows(rows, scan.layout.codecs) for rows, scan in zip(found, wanted, strict=True)])
    return [next(decoded) if item is not None else [] for item in scans]


def scan(
    table: FeatureTable,
    *,
    keys: Sequence[tuple[int, Any]],
    ts: int | None = None,
    upper: int | None = None,
    lower: int | None = None,
    limit: int | None = None,
    before_id: int | None = None,
    codecs: Sequence[Callable | None] | None = None,
    raw=None,
) -> list[tuple]:
    """Rows ``(_id, v0, ...)`` whose key columns equal the values, newest first by ``ts`` then insertion.

    ``keys`` are ``(column position, value)``; ``upper``/``lower`` bound the ts column (inclusive);
    ``before_id`` keeps only rows inserted before that row (offline mode: what a request then would have seen).
    Bounds beyond int64 are handled as ``make_scan`` says.
    """
    found = make_scan(Layout(table, codecs), keys, ts, upper, lower, limit, before_id)
    return read([found], raw)[0]


def delete_where(table: FeatureTable, *, ts: int, older_than: int) -> int:
    """Delete rows whose ts column is older than ``older_than`` (absolute TTL expiry); return how many."""
    sql = f"DELETE FROM {_q(table.storage_table)} WHERE {_q(f'c{ts}')} < %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [older_than])
        return cursor.rowcount


def delete_ids(table: FeatureTable, ids: Sequence[int]) -> int:
    if not ids:
        return 0
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_q(table.storage_table)} WHERE {_q('_id')} IN ({marks})", list(ids))
        return cursor.rowcount
