"""A table's offline data, as OpenMLDB keeps it: a deep copy (Parquet files the feature store owns) and soft copies.

The catalog (``FeatureTable.offline``) records upstream's ``offline_table_info``: the *data path* (the deep copy's
directory, ``FEATURESTORE_OFFLINE_DIR/<db>/<table>_<id>``), its format and the *symbolic paths* (clients' files
registered by ``LOAD DATA ... OPTIONS(deep_copy=false)``, read in place with the recorded format and options), plus
what upstream keeps implicit: the deep copy's part files in load order and their row count.

A deep copy is written as a new part file (``part-NNNNN-<random>.parquet``, written under a temporary name and
renamed when complete); the catalog lists the parts it holds, so a file that is not listed (a load that failed or
was stopped half-way) is never read. ``overwrite`` replaces the list and deletes the old parts after the catalog
change commits; ``append`` adds a part; ``error_if_exists`` refuses when the table has any offline data.

``relation(con, table)`` is the SQL reading all of it as canonical rows with ``__seq`` (deep-copy rows first, by
part and row; then each symbolic path's rows in file order).
"""

from __future__ import annotations

import logging
import secrets
import shutil
from pathlib import Path
from typing import Any

import duckdb
from django.conf import settings
from django.db import transaction

from featurestore.errors import FeatureStoreError
from featurestore.files import input_files
from featurestore.models import FeatureTable
from featurestore.offline.duck import CANONICAL, column, ident, string, string_list
from featurestore.offline.options import CsvOptions
from featurestore.offline.reader import Input, InputReader

logger = logging.getLogger(__name__)

#: __seq of a soft copy's rows: source number << SOURCE_SHIFT | row number (deep copies: part << SHIFT | row).
SOURCE_SHIFT = 40


def data_dir(table: FeatureTable) -> Path:
    return Path(settings.FEATURESTORE_OFFLINE_DIR) / table.database.name / f"{table.name}_{table.pk}"


def has_offline(table: FeatureTable) -> bool:
    info = table.offline or {}
    return bool(info.get("path") or info.get("symbolic_paths"))


def table_info(table: FeatureTable) -> dict[str, Any] | None:
    """Upstream's ``offline_table_info`` for GET /dbs/{db}/tables/{t} (None when the table has no offline data)."""
    if not has_offline(table):
        return None
    info = table.offline
    return {
        "path": info.get("path", ""),
        "format": info.get("format", "parquet"),
        "deep_copy": bool(info.get("path")),
        "options": dict(info.get("options") or {}),
        "symbolic_paths": list(info.get("symbolic_paths") or []),
    }


def row_count(table: FeatureTable) -> int | None:
    """Rows in the deep copy (soft copies are counted only by reading them); None without offline data."""
    return int(table.offline.get("rows", 0)) if has_offline(table) else None


# --- reading ----------------------------------------------------------------------------------------------------
def relation(con: duckdb.DuckDBPyConnection, table: FeatureTable) -> str:
    """SQL reading the table's offline data as canonical columns c0.. and ``__seq``."""
    info = table.offline or {}
    selects = []
    parts = [str(data_dir(table) / part) for part in info.get("parts") or []]
    if parts:
        names = ", ".join(f"{ident(c['name'])} AS {column(i)}" for i, c in enumerate(table.columns))
        selects.append(
            f"SELECT {names}, (list_position({string_list(parts)}, filename)::BIGINT << {SOURCE_SHIFT}) "
            f"+ file_row_number AS __seq FROM read_parquet({string_list(parts)}, filename = true, "
            "file_row_number = true)"
        )
    fmt = info.get("format", "parquet")
    options = CsvOptions.from_dict(info.get("options") or {})
    for number, uri in enumerate(info.get("symbolic_paths") or []):
        source = Input(files=input_files(uri), format=fmt, csv=options)
        reader = InputReader(con, table, source)
        temp = f"__soft_{number}"
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {temp} AS {reader.sql()}")
        except duckdb.Error as exc:
            raise FeatureStoreError(f"offline data of {table.name} at {uri}: {reader.failure(exc).msg}") from None
        seq = f"(({number + len(parts) + 1})::BIGINT << {SOURCE_SHIFT}) + rowid"
        selects.append(f"SELECT *, {seq} AS __seq FROM {temp}")
    if not selects:
        nothing = ", ".join(f"NULL::{CANONICAL[c['type']]} AS {column(i)}" for i, c in enumerate(table.columns))
        return f"SELECT {nothing}, 0::BIGINT AS __seq WHERE false"
    return " UNION ALL ".join(selects)


# --- writing ----------------------------------------------------------------------------------------------------
def _refuse_existing(table: FeatureTable, mode: str) -> None:
    if mode == "error_if_exists" and has_offline(table):
        raise FeatureStoreError(
            f"table {table.name} already has offline data (mode error_if_exists): "
            "load with OPTIONS(mode='append') or mode='overwrite'"
        )


def write_deep_copy(con: duckdb.DuckDBPyConnection, table: FeatureTable, select_sql: str, *, mode: str,
                    failure=None) -> int:  # fmt: skip
    """Write the canonical rows of ``select_sql`` as a new part of the table's deep copy; return the row count.

    ``failure(exc)`` turns a DuckDB error while reading into the refusal to raise (the reader's located message).
    """
    _refuse_existing(table, mode)
    info = table.offline or {}
    if mode == "append" and info.get("symbolic_paths") and info.get("format", "parquet") != "parquet":
        raise FeatureStoreError(
            f"can't do deep copy in existed paths' format or options in mode append: table {table.name}'s "
            f"offline data is {info.get('format')} files; deep copies are parquet (use mode='overwrite')"
        )
    directory = data_dir(table)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"part-{len(info.get('parts') or []) if mode == 'append' else 0:05d}-{secrets.token_hex(6)}.parquet"
    temporary = directory / f".{name}.tmp"
    names = ", ".join(f"{column(i)} AS {ident(c['name'])}" for i, c in enumerate(table.columns))
    try:
        written = con.execute(
            f"COPY (SELECT {names} FROM ({select_sql})) TO {string(str(temporary))} (FORMAT parquet, COMPRESSION zstd)"
        ).fetchone()
        rows = int(written[0]) if written else 0
    except duckdb.Error as exc:
        temporary.unlink(missing_ok=True)
        raise (failure(exc) if failure else FeatureStoreError(str(exc).split("\n", 1)[0])) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    final = directory / name
    temporary.rename(final)
    try:
        _record_deep_copy(table, name, rows, mode)
    except BaseException:
        final.unlink(missing_ok=True)
        raise
    return rows


def _record_deep_copy(table: FeatureTable, part: str, rows: int, mode: str) -> None:
    with transaction.atomic():
        current = FeatureTable.objects.select_for_update().get(pk=table.pk)
        _refuse_existing(current, mode)
        info = dict(current.offline or {})
        old_parts = list(info.get("parts") or [])
        if mode == "overwrite":
            info = {"path": f"file://{data_dir(table)}", "parts": [part], "rows": rows, "format": "parquet",
                    "options": {}, "symbolic_paths": []}  # fmt: skip
            obsolete = old_parts
        else:
            info.setdefault("symbolic_paths", [])
            info.setdefault("options", {})
            info["format"] = info.get("format") or "parquet"
            info.update(path=f"file://{data_dir(table)}", parts=[*old_parts, part],
                        rows=int(info.get("rows", 0)) + rows)  # fmt: skip
            obsolete = []
        current.offline = info
        current.save(update_fields=["offline"])
        table.offline = info
        directory = data_dir(table)
        transaction.on_commit(lambda: _delete_parts(directory, obsolete))


def _delete_parts(directory: Path, parts: list[str]) -> None:
    for part in parts:
        try:
            (directory / part).unlink(missing_ok=True)
        except OSError:
            logger.warning("could not delete the old offline part %s", directory / part, exc_info=True)


def check_soft_copy(table: FeatureTable, fmt: str, options: dict[str, str], *, mode: str) -> None:
    """Refuse a soft copy the table's offline data cannot take (checked again when it is recorded)."""
    _refuse_existing(table, mode)
    if mode == "overwrite" or not has_offline(table):
        return
    info = table.offline
    old_format, old_options = info.get("format", "parquet"), dict(info.get("options") or {})
    if old_format != fmt or old_options != options:
        raise FeatureStoreError(
            f"format and options must be the same with existed, but old is {old_format}, {old_options}, "
            f"new is {fmt}, {options}"
        )


def register_soft_copy(table: FeatureTable, uri: str, fmt: str, options: dict[str, str], *, mode: str) -> None:
    """Record ``uri`` as a symbolic path (``deep_copy=false``), by upstream's rules for each mode."""
    with transaction.atomic():
        current = FeatureTable.objects.select_for_update().get(pk=table.pk)
        _refuse_existing(current, mode)
        info = dict(current.offline or {})
        obsolete: list[str] = []
        if mode == "overwrite" or not has_offline(current):
            obsolete = list(info.get("parts") or [])
            info = {"path": "", "parts": [], "rows": 0, "format": fmt, "options": options, "symbolic_paths": [uri]}
        else:
            check_soft_copy(current, fmt, options, mode=mode)
            paths = list(info.get("symbolic_paths") or [])
            if uri not in paths:  # the same path (string-equal) is not added twice, as upstream
                paths.append(uri)
            info["symbolic_paths"] = paths
        current.offline = info
        current.save(update_fields=["offline"])
        table.offline = info
        directory = data_dir(table)
        transaction.on_commit(lambda: _delete_parts(directory, obsolete))


def drop(table: FeatureTable) -> None:
    """Delete the deep copy's files once the table's drop commits (soft copies are clients' files: kept)."""
    directory = data_dir(table)
    transaction.on_commit(lambda: shutil.rmtree(directory, ignore_errors=True))
