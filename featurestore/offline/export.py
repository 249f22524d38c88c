"""``SELECT ... INTO OUTFILE 'path' OPTIONS(...)``: a query's result written as CSV or Parquet files.

As Spark (upstream's offline engine) writes it, the path is a *directory of part files*
(``part-NNNNN-<random>.csv`` or ``.parquet``): ``mode='error_if_exists'`` (the default) refuses a path that
exists, ``overwrite`` replaces the directory (the new one is written beside it and swapped in when complete), and
``append`` adds a part file. A part is written under a temporary name and renamed when complete, so a reader never
sees half a file. CSV: ``header`` (default true), ``delimiter``, ``quote``, ``null_value`` (default ``null``) as
for LOAD DATA; timestamps are written as epoch milliseconds and dates as ``yyyy-MM-dd``, so the files load back
with LOAD DATA unchanged.

A remote path (under ``FEATURESTORE_REMOTE_ROOTS``) is a directory of part files too, but an object store has no
rename: each part is written under its final name (an object appears whole when its upload completes), and
``overwrite`` deletes the old parts once the new one is complete.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from featurestore.errors import FeatureStoreError
from featurestore.files import RemoteOutput, is_remote, output_path, reach_error, remote_output
from featurestore.offline.duck import connect, string
from featurestore.offline.options import OutfileOptions
from featurestore.offline.sources import register_rows, rows_sql


def write_rows(schema: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]], uri: str,
               options: OutfileOptions) -> int:  # fmt: skip
    """Write engine-value rows (a result set) to ``uri``; return the row count."""
    con = connect()
    try:
        types = [kind for _, kind in schema]
        register_rows(con, "__out", types, rows)
        return write_sql(con, rows_sql("__out", types, names=[name for name, _ in schema]), uri, options)
    except duckdb.Error as exc:
        raise FeatureStoreError(f"cannot write {uri}: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


def write_sql(con: duckdb.DuckDBPyConnection, select_sql: str, uri: str, options: OutfileOptions) -> int:
    """Write what ``select_sql`` answers (its columns named as the result's) to ``uri``; return the row count.

    DuckDB's errors are raised as they are (the caller knows what they mean); nothing is left behind.
    """
    target = remote_output(uri) if is_remote(uri) else output_path(uri)
    names = [row[0] for row in con.execute(f"DESCRIBE {select_sql}").fetchall()]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise FeatureStoreError(
            f"the result has more than one column named {', '.join(duplicates)}: name them apart with AS before "
            "writing it to a file"
        )
    if isinstance(target, RemoteOutput):
        return _write_remote(con, select_sql, target, options)
    if target.exists() and options.mode == "error_if_exists":
        raise FeatureStoreError(
            f"the output path {uri} already exists (mode error_if_exists): use OPTIONS(mode='overwrite') to replace "
            "it or mode='append' to add to it"
        )
    if target.exists() and not target.is_dir():
        if options.mode == "append":
            raise FeatureStoreError(f"the output path {uri} is a file, not a directory of part files: cannot append")
    extension = "csv" if options.format == "csv" else "parquet"
    part = f"part-{{number:05d}}-{secrets.token_hex(6)}.{extension}"
    if options.mode == "append" and target.is_dir():
        number = sum(1 for child in target.iterdir() if child.name.startswith("part-"))
        return _write_part(con, select_sql, target, part.format(number=number), options)
    staging = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    staging.mkdir(parents=True)
    try:
        count = _write_part(con, select_sql, staging, part.format(number=0), options)
        if target.exists():
            retired = target.parent / f".{target.name}.{secrets.token_hex(4)}.old"
            target.rename(retired)
            staging.rename(target)
            if retired.is_dir():
                shutil.rmtree(retired, ignore_errors=True)
            else:
                retired.unlink(missing_ok=True)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return count


def _write_remote(con: duckdb.DuckDBPyConnection, select_sql: str, target: RemoteOutput,
                  options: OutfileOptions) -> int:  # fmt: skip
    try:
        exists, is_dir = target.exists(), target.is_dir()
        old = target.children() if is_dir else ([target.uri] if exists else [])
    except Exception as exc:  # noqa: BLE001 - any filesystem's failure (network, credentials) becomes a refusal
        raise reach_error(target.uri, exc) from None
    if exists and options.mode == "error_if_exists":
        raise FeatureStoreError(
            f"the output path {target.uri} already exists (mode error_if_exists): use OPTIONS(mode='overwrite') to "
            "replace it or mode='append' to add to it"
        )
    if exists and not is_dir and options.mode == "append":
        raise FeatureStoreError(f"the output path {target.uri} is a file, not a directory of part files: cannot append")
    extension = "csv" if options.format == "csv" else "parquet"
    number = sum(1 for uri in old if uri.rsplit("/", 1)[-1].startswith("part-")) if options.mode == "append" else 0
    name = f"part-{number:05d}-{secrets.token_hex(6)}.{extension}"
    part = f"{target.uri}/{name}"
    try:
        copy = f"COPY ({select_sql}) TO {string(part)} ({', '.join(_copy_settings(options))})"
        written = con.execute(copy).fetchone()
    except BaseException:
        with contextlib.suppress(Exception):
            target.remove([part])
        raise
    if options.mode == "overwrite":
        if exists and not is_dir:
            target.fs.rm(target.uri)  # the single object the directory replaces (its key is the parts' prefix)
        else:
            target.remove([uri for uri in old if uri != part])
    return int(written[0]) if written else 0


def _copy_settings(options: OutfileOptions) -> list[str]:
    if options.format != "csv":
        return ["FORMAT parquet", "COMPRESSION zstd"]
    csv = options.csv
    settings = [
        "FORMAT csv",
        f"HEADER {str(csv.header).lower()}",
        f"DELIMITER {string(csv.delimiter)}",
        f"NULLSTR {string(csv.null_value)}",
    ]
    if csv.quote:
        settings += [f"QUOTE {string(csv.quote)}", f"ESCAPE {string(csv.quote)}"]
    settings.append("DATEFORMAT '%Y-%m-%d'")
    return settings


def _write_part(con: duckdb.DuckDBPyConnection, select_sql: str, directory: Path, name: str,
                options: OutfileOptions) -> int:  # fmt: skip
    temporary = directory / f".{name}.tmp"
    try:
        written = con.execute(
            f"COPY ({select_sql}) TO {string(str(temporary))} ({', '.join(_copy_settings(options))})"
        ).fetchone()
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.rename(directory / name)
    return int(written[0]) if written else 0
