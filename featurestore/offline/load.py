"""``LOAD DATA INFILE 'path' INTO TABLE t OPTIONS(...)``: clients' CSV or Parquet files into a table.

Offline modes (``offsync``, ``offasync``) write the table's offline data: a deep copy (a new Parquet part, by
``mode``) or, with ``deep_copy=false``, the path registered as a soft copy after every row has been checked. Online
modes (``online``, ``onsync``) insert the rows into the online table through the batch insert path; as upstream,
only ``mode='append'`` with a deep copy ("import to online storage, can't do soft copy, and mode must be append"),
and ``load_mode='local'`` only online. Either way the whole file is read and checked before anything is written
(``featurestore.offline.reader``), and the write is one transaction: a bad row leaves the table as it was.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb

from featurestore import services, storage
from featurestore.errors import FeatureStoreError
from featurestore.files import input_files, normalized
from featurestore.models import FeatureTable
from featurestore.offline import data
from featurestore.offline.duck import column, connect
from featurestore.offline.options import LoadOptions, load_options
from featurestore.offline.reader import Input, InputReader
from featurestore.selectors import table_get
from featurestore.sqlcore.sqlir import LoadData

ONLINE_MODES = ("online", "onsync")
BATCH = 50_000


def load_data(*, db: str, statement: LoadData, execute_mode: str) -> int:
    """Run the statement; return the rows loaded (a soft copy: the rows checked)."""
    options = load_options(statement.options)
    table = table_get(db=statement.db or db, name=statement.table)
    if table is None:
        raise FeatureStoreError(f"table {statement.table} does not exist in {statement.db or db}")
    online = execute_mode in ONLINE_MODES
    if online and (options.mode != "append" or not options.deep_copy):
        raise FeatureStoreError("import to online storage, can't do soft copy, and mode must be append")
    if not online and options.load_mode == "local":
        raise FeatureStoreError("local load only supports loading data to online storage")
    if options.put_if_absent:
        raise FeatureStoreError("put_if_absent is not supported here: load into an empty table, or without it")
    if not online and not options.deep_copy:
        data.check_soft_copy(table, options.format, _soft_options(options), mode=options.mode)
    source = Input(files=input_files(statement.path), format=options.format, csv=options.csv)
    con = connect()
    try:
        reader = InputReader(con, table, source)
        select_sql = reader.sql()
        if online:
            return _load_online(con, table, reader, select_sql)
        if options.deep_copy:
            return data.write_deep_copy(con, table, select_sql, mode=options.mode, failure=reader.failure)
        return _register_soft_copy(con, table, reader, select_sql, statement.path, options)
    finally:
        con.close()


def _register_soft_copy(con: duckdb.DuckDBPyConnection, table: FeatureTable, reader: InputReader, select_sql: str,
                        path: str, options: LoadOptions) -> int:  # fmt: skip
    try:
        row = con.execute(f"SELECT count(*) FROM ({select_sql})").fetchone()
    except duckdb.Error as exc:
        raise reader.failure(exc) from None
    data.register_soft_copy(table, normalized(path), options.format, _soft_options(options), mode=options.mode)
    return int(row[0]) if row else 0


def _soft_options(options: LoadOptions) -> dict[str, str]:
    return options.csv.as_dict() if options.format == "csv" else {}


def _load_online(con: duckdb.DuckDBPyConnection, table: FeatureTable, reader: InputReader, select_sql: str) -> int:
    # Materialize first, so that every row is checked before the first one is inserted.
    try:
        con.execute(f"CREATE TEMP TABLE __load AS {select_sql}")
    except duckdb.Error as exc:
        raise reader.failure(exc) from None
    # The stored form (storage.encoders) is computed by DuckDB where it can be: dates as ordinals, bools as
    # integers; SQLite's 'NaN' text only for float columns that hold a NaN (Python encodes those).
    types = [column["type"] for column in table.columns]
    codecs = storage.encoders(types)
    selected, active = [], []
    for i, (kind, codec) in enumerate(zip(types, codecs, strict=True)):
        value = column(i)
        if kind == "date":
            value = f"date_diff('day', DATE '0001-01-01', {value}) + 1"
        elif kind == "bool":
            value = f"{value}::INTEGER"
        elif codec is not None:
            found = con.execute(f"SELECT count(*) FROM __load WHERE isnan({value})").fetchone()
            if found and found[0]:
                active.append((i, codec))
        selected.append(value)
    cursor = con.execute(f"SELECT {', '.join(selected)} FROM __load")

    def batches() -> Iterator[list]:
        while True:
            rows = cursor.fetchmany(BATCH)
            if not rows:
                return
            if not active:
                yield rows
                continue
            encoded = []
            for row in rows:
                values = list(row)
                for i, codec in active:
                    if values[i] is not None:
                        values[i] = codec(values[i])
                encoded.append(values)
            yield encoded

    return services.rows_insert_stored(table=table, batches=batches())
