"""The sql engine: run a job's SQL script on an in-memory DuckDB.

``python -m jobs.engines.sql_engine code.sql`` runs the script's statements in order. Every statement that
returns rows (SELECT, SHOW, DESCRIBE, EXPLAIN, ... RETURNING) becomes its own TABLE result set; any other prints
``OK`` or ``OK, N rows affected``. Progress is reported after each statement. The first failing statement stops
the script: ``SQL error in statement <i>: <message>`` on stderr and exit status 1.

The working directory is the job's, so ``read_csv('data.csv')`` reads the job's files and DuckDB spills to
``./.tmp`` when a query outgrows memory; no other file is reachable from SQL except the paths granted to the job
(``connect``). The job's memory limit (``PLATFORM_MEMORY_MB``) becomes DuckDB's own
``memory_limit``: DuckDB reserves far more address space than it uses, so an address-space rlimit would crash
it instead of making it spill.

``split_statements`` is the small SQL splitter the spark engine uses as well.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from jobs.engines import control
from jobs.engines.python_engine import read_code, write_table
from jobs.engines.resultset import duckdb_type_name

FETCH_ROWS = 1000


def split_statements(sql: str, *, backslash_escapes: bool = True) -> list[str]:
    """Split a script on semicolons outside quotes and comments; drop statements with nothing but comments."""
    statements: list[str] = []
    start = i = 0
    has_content = False
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            has_content = True
            i += 1
            while i < n and sql[i] != ch:
                i += 2 if backslash_escapes and sql[i] == "\\" else 1
            i += 1  # past the closing quote; a doubled quote just opens the next quoted part
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if ch == ";":
            if has_content:
                statements.append(sql[start:i].strip())
            start, has_content = i + 1, False
        elif not ch.isspace():
            has_content = True
        i += 1
    if has_content:
        statements.append(sql[start:].strip())
    return statements


def _fetch(connection: Any) -> Iterator[Sequence[Any]]:
    while rows := connection.fetchmany(FETCH_ROWS):
        yield from rows


def run_statement(connection: Any, statement: Any) -> None:
    """Execute one parsed statement, writing its rows as a result set or printing what it did."""
    import duckdb

    connection.execute(statement)
    names = [d[0] for d in connection.description or ()]
    expected = statement.expected_result_type
    if duckdb.ExpectedResultType.QUERY_RESULT not in expected or not names:
        print("OK")
    elif duckdb.ExpectedResultType.CHANGED_ROWS in expected and names == ["Count"]:
        row = connection.fetchone()
        print("OK" if row is None else f"OK, {row[0]} rows affected")
    else:
        columns = [(str(d[0]), duckdb_type_name(d[1])) for d in connection.description]
        write_table(columns, _fetch(connection))


def _failing_statement(sql: str) -> int:
    """Find which statement of a script DuckDB cannot parse (1-based), by parsing them one by one."""
    import duckdb

    for number, text in enumerate(split_statements(sql, backslash_escapes=False), start=1):
        try:
            duckdb.extract_statements(text)
        except duckdb.Error:
            return number
    return 1


def allowed_directories() -> list[str]:
    """The directories a job's SQL may read and write: its working directory (which holds its result sets and
    DuckDB's spill files) and the paths granted to the job (``PLATFORM_GRANTED_PATHS``)."""
    granted = [p for p in os.environ.get("PLATFORM_GRANTED_PATHS", "").split(os.pathsep) if p]
    return [os.path.join(os.path.abspath(p), "") for p in (os.getcwd(), *granted)]


def connect(memory_mb: int) -> Any:
    """Open the in-memory DuckDB database a job runs on.

    The file system is closed to the job's SQL outside ``allowed_directories()``: ``read_text``, ``COPY ... TO``,
    ``ATTACH`` and extension installs are refused elsewhere, and the configuration is locked so that no
    statement can open it again. (The sandbox hides the platform's files as well; this holds without it too.)
    """
    import duckdb

    config: dict[str, str | bool | int | float | list[str]] = (
        {"memory_limit": f"{memory_mb}MiB"} if memory_mb > 0 else {}
    )
    connection = duckdb.connect(":memory:", config=config)
    # The progress bar would draw over the job's log.
    connection.execute("SET enable_progress_bar = false")
    connection.execute("SET temp_directory = ?", [os.path.join(os.getcwd(), ".tmp")])
    connection.execute("SET allowed_directories = ?", [allowed_directories()])
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


def run_script(sql: str, memory_mb: int = 0) -> int:
    """Run a SQL script on a fresh DuckDB; return the exit status."""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        print(f"SQL error in statement {_failing_statement(sql)}: {exc}", file=sys.stderr)
        return 1
    if not statements:
        print("No SQL statements to run.")
        return 0
    connection = connect(memory_mb)
    try:
        for number, statement in enumerate(statements, start=1):
            try:
                run_statement(connection, statement)
            except (duckdb.Error, MemoryError) as exc:
                print(f"SQL error in statement {number}: {exc}", file=sys.stderr)
                return 1
            control.progress(number / len(statements))
    finally:
        connection.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the SQL file named by the last argument; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m jobs.engines.sql_engine code.sql", file=sys.stderr)
        return 2
    try:
        memory_mb = int(os.environ.get("PLATFORM_MEMORY_MB") or 0)
    except ValueError:
        memory_mb = 0
    return run_script(read_code(args[-1]), memory_mb)


if __name__ == "__main__":
    sys.exit(main())
