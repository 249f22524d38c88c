"""Result sets: the files a job leaves in ``<workdir>/result`` for clients to page through.

Linkis clients read result sets only through the platform's API, so the file format is the platform's own:
``_0.dolphin``, ``_1.dolphin``, ... numbered in creation order. A file is UTF-8 text; its first line is a JSON
header and every further line is one JSON value:

- TABLE (type ``"2"``): header ``{"type": "2", "metadata": [{"columnName": "id", "dataType": "bigint",
  "comment": "NULL"}, ...]}``, then one JSON array per row. Cells are JSON-native (string, number, boolean,
  null); dates, decimals and the like are stored as strings, NaN and infinities as "NaN", "Infinity" and
  "-Infinity", arrays, maps and structs as their compact JSON text.
- TEXT (type ``"1"``): header ``{"type": "1", "metadata": "NULL"}``, then one JSON string per line.

Column types use the Linkis/Hive names (``TYPE_NAMES``); the ``*_type_name`` functions map DuckDB, numpy/pandas
and Spark types onto them. Writers stream rows to disk and readers stream them back, so a result set may be
far larger than memory.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

TABLE = "2"
TEXT = "1"
TYPE_NAMES = (
    "string",
    "int",
    "bigint",
    "smallint",
    "tinyint",
    "float",
    "double",
    "decimal",
    "boolean",
    "date",
    "timestamp",
    "binary",
    "array",
    "map",
    "struct",
    "null",
)

_NAME = re.compile(r"_(\d+)\.dolphin")


# --- Files ----------------------------------------------------------------------------------------------------
def list_resultsets(result_dir: str | os.PathLike) -> list[Path]:
    """Return the result set files of a directory in creation order (by the number in ``_N.dolphin``).

    Only regular files count: a link or a FIFO a job left under that name is not a result set.
    """
    directory = Path(result_dir)
    if not directory.is_dir():
        return []
    found = [
        (int(m.group(1)), Path(entry.path))
        for entry in os.scandir(directory)
        if (m := _NAME.fullmatch(entry.name)) and entry.is_file(follow_symlinks=False)
    ]
    return [p for _, p in sorted(found)]


def _reserve(result_dir: Path, dir_fd: int | None = None) -> tuple[Path, int]:
    """Create the next free ``_N.dolphin`` (after every existing one) and return it with an open descriptor.

    ``dir_fd``: an open descriptor of the directory, for a writer that must not follow a link a job put in
    place of it or of the file (the runner writing into a sandboxed job's directory).
    """
    names = os.listdir(dir_fd) if dir_fd is not None else os.listdir(result_dir)
    numbers = [int(m.group(1)) for name in names if (m := _NAME.fullmatch(name))]
    n = max(numbers) + 1 if numbers else 0
    while True:
        name = f"_{n}.dolphin"
        try:
            # O_EXCL makes the name ours even when another writer (or the runner) picks at the same moment, and
            # with O_CREAT it never follows a symlink.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            return result_dir / name, os.open(name if dir_fd is not None else result_dir / name, flags, 0o644,
                                              dir_fd=dir_fd)  # fmt: skip
        except FileExistsError:
            n += 1


def next_result_path(result_dir: str | os.PathLike) -> Path:
    """Reserve the next result set file by creating it empty, and return its path."""
    path, fd = _reserve(Path(result_dir))
    os.close(fd)
    return path


class ResultSetWriter:
    """Write one result set file, row by row; use ``table`` or ``text`` to open one, as a context manager."""

    def __init__(
        self, result_dir: str | os.PathLike, kind: str, metadata: list[dict] | str, *, dir_fd: int | None = None
    ) -> None:
        directory = Path(result_dir)
        if dir_fd is None:
            directory.mkdir(parents=True, exist_ok=True)
        self.path, fd = _reserve(directory, dir_fd)
        self.kind = kind
        self.rows = 0
        self._width = len(metadata) if isinstance(metadata, list) else 1
        self._file: IO[str] = open(fd, "w", encoding="utf-8", newline="\n")
        self._write({"type": kind, "metadata": metadata})

    @classmethod
    def table(cls, result_dir: str | os.PathLike, columns: list[tuple[str, str]]) -> ResultSetWriter:
        """Open a TABLE result set with (name, Linkis type) columns."""
        metadata = [{"columnName": str(name), "dataType": str(type_), "comment": "NULL"} for name, type_ in columns]
        return cls(result_dir, TABLE, metadata)

    @classmethod
    def text(cls, result_dir: str | os.PathLike, *, dir_fd: int | None = None) -> ResultSetWriter:
        """Open a TEXT result set (``dir_fd``: see ``_reserve``)."""
        return cls(result_dir, TEXT, "NULL", dir_fd=dir_fd)

    def _write(self, value: Any) -> None:
        self._file.write(json.dumps(value, ensure_ascii=False, allow_nan=False))
        self._file.write("\n")

    def write_row(self, values: Iterable[Any]) -> None:
        """Append one row of a TABLE result set."""
        if self.kind != TABLE:
            raise TypeError("write_row is for TABLE result sets; use write_line")
        row = [json_cell(v) for v in values]
        if len(row) != self._width:
            raise ValueError(f"row has {len(row)} values but the result set has {self._width} columns")
        self._write(row)
        self.rows += 1

    def write_line(self, line: str) -> None:
        """Append one line of a TEXT result set."""
        if self.kind != TEXT:
            raise TypeError("write_line is for TEXT result sets; use write_row")
        self._write(str(line))
        self.rows += 1

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()

    def __enter__(self) -> ResultSetWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- Reading --------------------------------------------------------------------------------------------------
def _text_cell(value: Any, null_value: str) -> str:
    if value is None:
        return null_value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _data_lines(file: IO[str]) -> Iterator[str]:
    for line in file:
        # A line without its newline is still being written by a running job; it is not part of the set yet.
        if line.endswith("\n") and line.strip():
            yield line


def read_resultset(path: str | os.PathLike, *, page: int = 1, page_size: int = 5000, null_value: str = "NULL") -> dict:
    """Return one page (1-based) of a result set file in the Linkis ``openFile`` shape, with cells as strings."""
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size must be positive")
    first, stop = (page - 1) * page_size, page * page_size
    content: list[list[str]] = []
    total = 0
    with open(path, encoding="utf-8") as file:
        lines = _data_lines(file)
        header_line = next(lines, None)
        # A reserved file that got no header yet (nothing written) reads as an empty TEXT result set.
        header = json.loads(header_line) if header_line else {"type": TEXT, "metadata": "NULL"}
        kind = str(header.get("type", TEXT))
        for line in lines:
            if first <= total < stop:
                value = json.loads(line)
                if kind == TABLE:
                    content.append([_text_cell(v, null_value) for v in value])
                else:
                    content.append([_text_cell(value, null_value)])
            total += 1
    metadata = header.get("metadata", "NULL") if kind == TABLE else "NULL"
    return {"type": kind, "metadata": metadata, "fileContent": content, "totalLine": total, "page": page}


class ResultSetRows:
    """The rows of an open result set file, each a list of strings; closes the file when exhausted or closed."""

    def __init__(self, file: IO[str], lines: Iterator[str], kind: str, null_value: str) -> None:
        self._file, self._lines, self._kind, self._null = file, lines, kind, null_value

    def __iter__(self) -> ResultSetRows:
        return self

    def __next__(self) -> list[str]:
        try:
            value = json.loads(next(self._lines))
        except BaseException:  # StopIteration at the end, or an unreadable line
            self.close()
            raise
        if self._kind == TABLE:
            return [_text_cell(v, self._null) for v in value]
        return [_text_cell(value, self._null)]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultSetRows:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def iter_resultset(path: str | os.PathLike, *, null_value: str = "NULL") -> tuple[str, list[dict] | str, ResultSetRows]:
    """Return ``(type, metadata, rows)`` of a whole result set file, its rows read lazily with cells as strings.

    Unlike ``read_resultset`` (one page, the file scanned to count lines), this reads the file once, row by row,
    for a download of the whole set. The header is read at once, so a missing or unreadable file raises here
    (OSError, ValueError) rather than halfway through the rows. The file stays open until ``rows`` is exhausted
    or closed.
    """
    file = open(path, encoding="utf-8")  # ResultSetRows closes it
    try:
        lines = _data_lines(file)
        header_line = next(lines, None)
        # A reserved file that got no header yet (nothing written) reads as an empty TEXT result set.
        header = json.loads(header_line) if header_line else {"type": TEXT, "metadata": "NULL"}
        if not isinstance(header, dict):
            raise ValueError(f"{path} is not a result set file")
    except BaseException:
        file.close()
        raise
    kind = str(header.get("type", TEXT))
    metadata = header.get("metadata", "NULL") if kind == TABLE else "NULL"
    return kind, metadata, ResultSetRows(file, lines, kind, null_value)


# --- Values ---------------------------------------------------------------------------------------------------
def _float_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _plain(value: Any) -> Any:
    """Turn a value into plain JSON data: scalars become JSON scalars, containers lists and objects."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _float_text(value)
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing values (NaT is also a datetime)
        return None
    if isinstance(value, dt.datetime | dt.date | dt.time | decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):  # numpy scalars and arrays
        return _plain(value.tolist())
    if hasattr(value, "asDict"):  # a Spark Row: the value of a struct column
        value = value.asDict()
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


def json_cell(value: Any) -> Any:
    """Convert one cell to what a result set stores: a JSON string, number, boolean or null."""
    plain = _plain(value)
    if isinstance(plain, list | dict):
        # Arrays, maps and structs are shown the way Hive prints them: compact JSON text.
        return json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
    return plain


# --- Types ----------------------------------------------------------------------------------------------------
_DUCKDB_TYPES = {
    "BOOLEAN": "boolean",
    "TINYINT": "tinyint",
    "SMALLINT": "smallint",
    "INTEGER": "int",
    "BIGINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "int",
    "UINTEGER": "bigint",
    # 64-bit unsigned and 128-bit integers do not fit Hive's bigint.
    "UBIGINT": "decimal",
    "HUGEINT": "decimal",
    "UHUGEINT": "decimal",
    "FLOAT": "float",
    "DOUBLE": "double",
    "VARCHAR": "string",
    "BLOB": "binary",
    "DATE": "date",
    "NULL": "null",
}


def duckdb_type_name(duckdb_type: object) -> str:
    """Map a DuckDB type (or its name, e.g. ``DECIMAL(10,2)`` or ``INTEGER[]``) to a Linkis type name."""
    name = str(duckdb_type).strip('"').upper()
    if name.endswith("]"):
        return "array"
    for prefix, linkis in (("DECIMAL", "decimal"), ("STRUCT", "struct"), ("MAP", "map"), ("TIMESTAMP", "timestamp")):
        if name.startswith(prefix):
            return linkis
    return _DUCKDB_TYPES.get(name, "string")


def numpy_type_name(dtype: Any) -> str:
    """Map a numpy or pandas dtype to a Linkis type name."""
    kind, size = getattr(dtype, "kind", "O"), getattr(dtype, "itemsize", 8)
    if kind == "b":
        return "boolean"
    if kind in "iu":
        size = size * 2 if kind == "u" else size  # an unsigned type needs the next wider signed one
        return {1: "tinyint", 2: "smallint", 4: "int"}.get(size, "bigint" if size == 8 else "decimal")
    if kind == "f":
        return "double" if size >= 8 else "float"
    if kind == "M":
        return "timestamp"
    return "string"


_SPARK_TYPES = {
    "int": "int",
    "bigint": "bigint",
    "smallint": "smallint",
    "tinyint": "tinyint",
    "float": "float",
    "double": "double",
    "decimal": "decimal",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp_ntz": "timestamp",
    "binary": "binary",
    "array": "array",
    "map": "map",
    "struct": "struct",
    "void": "null",
}


def spark_type_name(data_type: Any) -> str:
    """Map a Spark SQL DataType (``simpleString`` is already Hive-like) to a Linkis type name."""
    simple = data_type.simpleString() if hasattr(data_type, "simpleString") else str(data_type)
    return _SPARK_TYPES.get(re.split(r"[(<]", simple, maxsplit=1)[0].strip().lower(), "string")


def python_type_name(value: Any) -> str:
    """Guess the Linkis type name of a column from one of its (non-null) Python values."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    if isinstance(value, dt.datetime):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, bytes | bytearray | memoryview):
        return "binary"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list | tuple | set | frozenset):
        return "array"
    if type(value).__module__ == "numpy" and hasattr(value, "dtype"):
        return numpy_type_name(value.dtype)
    return "string"
