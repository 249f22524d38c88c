"""Clients' files (CSV, Parquet) read as a table's canonical rows, every value checked against the table's schema.

``InputReader(con, table, source).sql()`` is a DuckDB SELECT producing the file's rows as canonical columns
(``featurestore.offline.duck``). A value that does not fit its column stops the query (DuckDB ``error()``);
``failure(exc)`` then turns DuckDB's error into a message naming the file, the line (CSV) or row (Parquet), the
column and the value, found by reading the file again from the start. Nothing is written by the reader: callers
write what the SELECT produces only once it has completed, so a bad row leaves no partial table.

CSV rules (upstream's cluster loader, ``docs/*/openmldb_sql/dml/LOAD_DATA_STATEMENT.md``, made strict where
upstream silently stores NULL for a value it cannot parse):
- columns are matched by position; ``header=true`` skips the first line of each file;
- an empty, unquoted field and the ``null_value`` string are NULL; a quoted empty field (``""``) is an empty string;
  inside quotes the quote character is escaped by doubling it;
- bool is ``true``/``false`` (any case); integers are decimal digits with an optional sign, within the type's
  range; float and double are numbers (``nan``, ``inf`` too); a date is ``yyyy-MM-dd`` (an optional time is
  ignored), years 1900..9999;
- a timestamp column takes either integers (epoch milliseconds) or ``yyyy-MM-dd HH:mm:ss[.SSS]`` strings read as
  UTC+8 wall-clock time (the zone the engine's time functions use); the first non-NULL value of the column
  chooses which, and every value must then follow it;
- NOT NULL columns refuse NULLs; timestamps and an index's bigint TS stay within the engine's ts range.

Parquet files are matched by column name; each column's type must convert to the table's without loss of kind
(any integer for an integer column, numbers for float/double, TIMESTAMP or BIGINT milliseconds for a timestamp...).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from featurestore.errors import FeatureStoreError
from featurestore.files import RemoteFile
from featurestore.limits import TS_MAX, TS_MIN
from featurestore.models import FeatureTable
from featurestore.offline.duck import ident, string, string_list
from featurestore.offline.options import CsvOptions

INT_RANGES = {"int16": (-(2**15), 2**15 - 1), "int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
UTC8_MS = 8 * 3_600_000
_MARK = "fsbad:"
_INT = re.compile(r"[+-]?[0-9]+")
_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})( [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]*)?)?")
_TS_TEXT = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]{1,6})?")
_TS_FORMATS = "['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M:%S.%g', '%Y-%m-%d %H:%M:%S.%f']"
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "UHUGEINT"}  # fmt: skip
_NUMBER_TYPES = _INTEGER_TYPES | {"FLOAT", "DOUBLE"}


@dataclass
class Input:
    """What LOAD DATA reads: files of one format, and how CSV splits them."""

    files: list[Path] | list[RemoteFile]
    format: str  # csv | parquet
    csv: CsvOptions = field(default_factory=CsvOptions)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


class InputReader:
    def __init__(self, con: duckdb.DuckDBPyConnection, table: FeatureTable, source: Input) -> None:
        self.con = con
        self.table = table
        self.source = source
        self.columns = table.columns
        self.ts_columns = table.ts_columns
        self.ts_text: dict[int, bool] = {}  # timestamp column -> values are strings (else integer milliseconds)
        self.parquet_types: dict[str, str] = {}

    # --- the SELECT ---------------------------------------------------------------------------------------------
    def sql(self) -> str:
        if self.source.format == "parquet":
            return self._parquet_sql()
        return self._csv_sql()

    def _raw_csv(self) -> str:
        options = self.source.csv
        names = "{" + ", ".join(f"'r{i}': 'VARCHAR'" for i in range(len(self.columns))) + "}"
        quote = options.quote
        return (
            f"read_csv({string_list([str(f) for f in self.source.files])}, auto_detect = false, "
            f"header = {str(options.header).lower()}, delim = {string(options.delimiter)}, quote = {string(quote)}, "
            f"escape = {string(quote)}, columns = {names}, nullstr = {string_list([options.null_value, ''])}, "
            "allow_quoted_nulls = false, strict_mode = true, null_padding = false)"
        )

    def _csv_sql(self) -> str:
        raw = self._raw_csv()
        for i, column in enumerate(self.columns):
            if column["type"] == "timestamp":
                first = self._run(f"SELECT r{i} FROM {raw} WHERE r{i} IS NOT NULL LIMIT 1").fetchone()
                self.ts_text[i] = first is not None and not _INT.fullmatch(first[0])
        expressions = [f"{self._csv_value(i, column)} AS c{i}" for i, column in enumerate(self.columns)]
        return f"SELECT {', '.join(expressions)} FROM {raw}"

    def _csv_value(self, i: int, column: dict) -> str:
        x = f"r{i}"
        kind = column["type"]
        bad = f"error('{_MARK}{i}')"
        if kind == "string":
            value = x
        elif kind == "bool":
            value = f"CASE lower({x}) WHEN 'true' THEN true WHEN 'false' THEN false ELSE {bad} END"
        elif kind in INT_RANGES or (kind == "timestamp" and not self.ts_text.get(i)):
            low, high = INT_RANGES.get(kind, (TS_MIN, TS_MAX))
            if kind == "int64" and column["name"] in self.ts_columns:
                low, high = TS_MIN, TS_MAX
            target = "BIGINT" if kind == "timestamp" else {"int16": "SMALLINT", "int32": "INTEGER"}.get(kind, "BIGINT")
            value = (
                f"CASE WHEN regexp_full_match({x}, '[+-]?[0-9]+') AND TRY_CAST({x} AS HUGEINT) BETWEEN {low} AND "
                f"{high} THEN CAST({x} AS {target}) ELSE {bad} END"
            )
        elif kind in ("float", "double"):
            target = "FLOAT" if kind == "float" else "DOUBLE"
            value = f"coalesce(TRY_CAST({x} AS {target}), {bad})"
        elif kind == "date":
            value = (
                f"CASE WHEN regexp_full_match({x}, '{_DATE.pattern}') AND "
                f"year(TRY_CAST({x} AS DATE)) BETWEEN 1900 AND 9999 THEN CAST({x} AS DATE) ELSE {bad} END"
            )
        else:  # timestamp written as text: UTC+8 wall-clock time
            value = f"coalesce(epoch_ms(try_strptime({x}, {_TS_FORMATS})) - {UTC8_MS}, {bad})"
        if kind != "string":
            value = f"CASE WHEN {x} IS NULL THEN NULL ELSE {value} END"
        if column.get("not_null"):
            value = f"CASE WHEN {x} IS NULL THEN {bad} ELSE {value} END"
        return value

    def _parquet_sql(self) -> str:
        files = string_list([str(f) for f in self.source.files])
        described = self._run(f"DESCRIBE SELECT * FROM read_parquet({files}, union_by_name = true)").fetchall()
        self.parquet_types = {row[0]: str(row[1]).upper() for row in described}
        expressions = []
        for i, column in enumerate(self.columns):
            name = column["name"]
            if name not in self.parquet_types:
                have = ", ".join(self.parquet_types) or "none"
                raise FeatureStoreError(
                    f"the Parquet data has no column {name} of table {self.table.name} (it has {have})"
                )
            expressions.append(f"{self._parquet_value(i, column, self.parquet_types[name])} AS c{i}")
        return f"SELECT {', '.join(expressions)} FROM read_parquet({files}, union_by_name = true)"

    def _parquet_value(self, i: int, column: dict, found: str) -> str:
        x = ident(column["name"])
        kind = column["type"]
        bad = f"error('{_MARK}{i}')"
        base = found.split("(")[0]
        refuse = FeatureStoreError(
            f"column {column['name']}: the Parquet data holds {found} values, which do not fit the table's "
            f"{kind} column"
        )
        if kind == "bool":
            if base != "BOOLEAN":
                raise refuse
            value = x
        elif kind in INT_RANGES or (kind == "timestamp" and base in _INTEGER_TYPES):
            if base not in _INTEGER_TYPES:
                raise refuse
            low, high = INT_RANGES.get(kind, (TS_MIN, TS_MAX))
            if kind == "int64" and column["name"] in self.ts_columns:
                low, high = TS_MIN, TS_MAX
            target = {"int16": "SMALLINT", "int32": "INTEGER"}.get(kind, "BIGINT")
            value = f"CASE WHEN {x}::HUGEINT BETWEEN {low} AND {high} THEN CAST({x} AS {target}) ELSE {bad} END"
        elif kind in ("float", "double"):
            if base not in _NUMBER_TYPES and base != "DECIMAL":
                raise refuse
            value = f"CAST({x} AS {'FLOAT' if kind == 'float' else 'DOUBLE'})"
        elif kind == "string":
            if base != "VARCHAR":
                raise refuse
            value = x
        elif kind == "date":
            if base != "DATE":
                raise refuse
            value = f"CASE WHEN year({x}) BETWEEN 1900 AND 9999 THEN {x} ELSE {bad} END"
        else:  # timestamp from a TIMESTAMP column
            if not base.startswith("TIMESTAMP"):
                raise refuse
            value = f"epoch_ms({x})"
        value = f"CASE WHEN {x} IS NULL THEN NULL ELSE {value} END"
        if column.get("not_null"):
            value = f"CASE WHEN {x} IS NULL THEN {bad} ELSE {value} END"
        return value

    # --- errors -------------------------------------------------------------------------------------------------
    def _run(self, sql: str) -> duckdb.DuckDBPyConnection:
        try:
            return self.con.execute(sql)
        except duckdb.Error as exc:
            raise self.failure(exc) from None

    def failure(self, exc: Exception) -> FeatureStoreError:
        """The load's error for DuckDB's ``exc``: a bad value located in its file, or DuckDB's own reason."""
        text = str(exc)
        found = re.search(_MARK + r"(\d+)", text)
        if found:
            position = int(found.group(1))
            located = self._locate(position)
            column = self.columns[position]["name"]
            return FeatureStoreError(located or f"column {column}: a value does not fit the column's type")
        csv_error = re.search(r"CSV Error on Line: (\d+)", text)
        if csv_error:
            reason = re.search(r"\n(Expected Number of Columns: \d+ Found: \d+|[^\n]*quote[^\n]*)", text)
            file_name = re.search(r"\n\s*file = ([^\n]+)", text)
            where = Path(file_name.group(1).strip()).name if file_name else "the file"
            why = reason.group(1).strip() if reason else text.split("\n", 1)[0]
            count = re.match(r"Expected Number of Columns: (\d+) Found: (\d+)", why)
            if count:
                why = f"expected {count.group(1)} columns (the table's), found {count.group(2)}"
            return FeatureStoreError(f"line {csv_error.group(1)} of {where}: {why}")
        first = text.split("\n", 1)[0]
        first = re.sub(r"^[A-Za-z ]*Error: ", "", first)
        return FeatureStoreError(f"cannot read {self._names()}: {first}")

    def _names(self) -> str:
        names = [path.name for path in self.source.files[:3]]
        return ", ".join(names) + (f" and {len(self.source.files) - 3} more" if len(self.source.files) > 3 else "")

    def _locate(self, position: int) -> str | None:
        if self.source.format == "parquet":
            return self._locate_parquet(position)
        return self._locate_csv(position)

    def _locate_csv(self, position: int) -> str | None:
        options = self.source.csv
        column = self.columns[position]
        for path in self.source.files:
            with path.open(newline="", encoding="utf-8", errors="replace") as handle:
                reader = csv.reader(
                    handle,
                    delimiter=options.delimiter[0],
                    quotechar=options.quote or None,
                    quoting=csv.QUOTE_MINIMAL if options.quote else csv.QUOTE_NONE,
                    doublequote=True,
                    strict=False,
                )
                if options.header:
                    next(reader, None)
                for record in reader:
                    if len(record) <= position:
                        continue
                    raw = record[position]
                    value = None if raw in ("", options.null_value) else raw
                    why = self._csv_problem(position, column, value)
                    if why:
                        return f"line {reader.line_num} of {path.name}: column {column['name']}: {why}"
        return None

    def _csv_problem(self, position: int, column: dict, value: str | None) -> str | None:
        kind = column["type"]
        if value is None:
            return "NULL in a NOT NULL column" if column.get("not_null") else None
        shown = f"'{_short(value)}'"
        if kind == "bool" and value.lower() not in ("true", "false"):
            return f"{shown} is not a bool (true or false)"
        if kind in INT_RANGES or (kind == "timestamp" and not self.ts_text.get(position)):
            low, high = INT_RANGES.get(kind, (TS_MIN, TS_MAX))
            if kind == "int64" and column["name"] in self.ts_columns:
                low, high = TS_MIN, TS_MAX
            if not _INT.fullmatch(value):
                if kind == "timestamp":
                    return f"{shown} is not epoch milliseconds, as the column's first value is"
                return f"{shown} is not an integer"
            if not low <= int(value) <= high:
                return f"{shown} is out of range [{low}, {high}]"
            return None
        if kind in ("float", "double"):
            try:
                float(value)
            except ValueError:
                return f"{shown} is not a number"
            return None
        if kind == "date":
            match = _DATE.fullmatch(value)
            if not match or not 1900 <= int(match.group(1)) <= 9999:
                return f"{shown} is not a date (yyyy-MM-dd, years 1900..9999)"
            return None
        if kind == "timestamp" and not _TS_TEXT.fullmatch(value):
            return f"{shown} is not a timestamp yyyy-MM-dd HH:mm:ss, as the column's first value is"
        return None

    def _locate_parquet(self, position: int) -> str | None:
        column = self.columns[position]
        x = ident(column["name"])
        kind = column["type"]
        if column.get("not_null"):
            condition = f"{x} IS NULL"
        elif kind in INT_RANGES or kind == "timestamp":
            low, high = INT_RANGES.get(kind, (TS_MIN, TS_MAX))
            if kind == "int64" and column["name"] in self.ts_columns:
                low, high = TS_MIN, TS_MAX
            condition = f"NOT ({x}::HUGEINT BETWEEN {low} AND {high})"
        elif kind == "date":
            condition = f"NOT (year({x}) BETWEEN 1900 AND 9999)"
        else:
            return None
        for path in self.source.files:
            try:
                row = self.con.execute(
                    f"SELECT file_row_number, {x}::VARCHAR FROM read_parquet({string(str(path))}, "
                    f"file_row_number = true) WHERE {condition} ORDER BY file_row_number LIMIT 1"
                ).fetchone()
            except duckdb.Error:
                continue
            if row is not None:
                why = "NULL in a NOT NULL column" if row[1] is None else f"'{_short(row[1])}' is out of range"
                return f"row {row[0] + 1} of {path.name}: column {column['name']}: {why}"
        return None
