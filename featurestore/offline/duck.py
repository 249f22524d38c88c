"""DuckDB as the offline engine: connections, the canonical column types, literals.

Offline work (loading files, offline tables' data, compiled offline queries, exports) runs in an in-memory DuckDB
per operation, spilling to ``DATA_DIR/duckdb-tmp`` when it runs out of ``FEATURESTORE_DUCKDB_MEMORY``.

Inside DuckDB a table's rows are *canonical*: column i of the table is ``c<i>`` with the type below, timestamps
are BIGINT epoch milliseconds (the engine's own representation), and ``__seq`` orders rows by insertion (the
online rows' ``_id``; for offline data, the order the rows were loaded in). Parquet files the feature store
writes hold the same types under the table's column names: timestamps stay INT64 milliseconds, because the
engine's timestamps span far more than Parquet's (and DuckDB's) TIMESTAMP can hold.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from django.conf import settings

from featurestore.files import register_filesystems

#: The canonical DuckDB type of each OpenMLDB column type.
CANONICAL = {
    "bool": "BOOLEAN",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "date": "DATE",
    "timestamp": "BIGINT",
}


def connect() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB for one offline operation."""
    con = duckdb.connect(":memory:")
    temp = Path(settings.DATA_DIR) / "duckdb-tmp"
    temp.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = {string(str(temp))}")
    con.execute("SET preserve_insertion_order = true")
    memory = getattr(settings, "FEATURESTORE_DUCKDB_MEMORY", "")
    if memory:
        con.execute(f"SET memory_limit = {string(memory)}")
    register_filesystems(con)
    return con


def ident(name: str) -> str:
    """A quoted DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def string(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


def string_list(values: list[str]) -> str:
    return "[" + ", ".join(string(value) for value in values) + "]"


def column(i: int) -> str:
    return f"c{i}"
