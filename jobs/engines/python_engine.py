"""The python engine, and the pieces every engine program shares.

``python -m jobs.engines.python_engine code.py`` runs a job's Python code the way ``python code.py`` would
(``__name__ == "__main__"``, the working directory on ``sys.path``), with three extra names in scope:

- ``show(obj, columns=None)`` writes a TABLE result set from a pandas DataFrame, a DuckDB relation, a list of
  dicts or a list of tuples/lists;
- ``progress(fraction, info=None)`` reports progress over the control channel;
- ``spark`` is None (the spark engine binds a SparkSession there).

``print`` output is the job's log, not a result. As in a notebook, when the last top-level statement is an
expression whose value is a pandas DataFrame, the engine shows it. A failure prints a traceback that starts at
the user's code (``code.py``, line N), not inside the engine, and exits with status 1.

The shared pieces (``write_table``, ``show``, ``run_code``, ``print_user_exception``) are reused by the sql and
spark engines. Heavy libraries (pandas, DuckDB) are never imported here: an object is recognised only when the
user's code has already imported its library, so a job that does not use them starts fast.
"""

from __future__ import annotations

import ast
import builtins
import linecache
import os
import sys
import traceback
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from jobs.engines import control
from jobs.engines.resultset import ResultSetWriter, duckdb_type_name, numpy_type_name, python_type_name

DEFAULT_MAX_ROWS = 100_000

Columns = list[tuple[str, str]]

_replaced_mains: list[types.ModuleType | None] = []


# --- Result sets ----------------------------------------------------------------------------------------------
def result_dir() -> Path:
    """Return the directory result sets go to (PLATFORM_RESULT_DIR, or ./result)."""
    return Path(os.environ.get("PLATFORM_RESULT_DIR") or "result")


def max_result_rows() -> int:
    """Return how many rows one result set may hold (PLATFORM_RESULT_MAX_ROWS, default 100000)."""
    try:
        return max(int(os.environ.get("PLATFORM_RESULT_MAX_ROWS", "")), 1)
    except ValueError:
        return DEFAULT_MAX_ROWS


def write_table(columns: Columns, rows: Iterable[Sequence[Any]]) -> Path:
    """Write rows as the next TABLE result set, keeping at most max_result_rows(); return the file."""
    limit = max_result_rows()
    with ResultSetWriter.table(result_dir(), columns) as writer:
        try:
            for row in rows:
                if writer.rows >= limit:
                    print(
                        f"Result set {writer.path.name} holds only the first {limit} rows (PLATFORM_RESULT_MAX_ROWS)."
                    )
                    break
                writer.write_row(row)
        except BaseException:
            # Rows that stopped coming (a failing query, a kill) leave no half result behind.
            writer.close()
            writer.path.unlink(missing_ok=True)
            raise
    return writer.path


def _column_types(names: list[str], rows: list[Sequence[Any]]) -> Columns:
    """Name each column's type after its first non-null value."""
    columns = []
    for i, name in enumerate(names):
        value = next((row[i] for row in rows if i < len(row) and row[i] is not None), None)
        columns.append((name, python_type_name(value)))
    return columns


def _frame_table(frame: Any) -> tuple[Columns, Iterable[Sequence[Any]]]:
    # A named index (a groupby key, a set_index column) is data the user expects to see.
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    columns = []
    for i, (name, dtype) in enumerate(frame.dtypes.items()):
        type_name = numpy_type_name(dtype)
        if dtype.kind == "O":  # object columns hold anything: look at a value
            series = frame.iloc[:, i]
            value = next((v for v in series if v is not None and v == v), None)
            type_name = python_type_name(value) if value is not None else "string"
        columns.append((str(name), type_name))
    # Outside float columns a NaN is pandas' marker of a missing value (pandas 3 strings use it): a NULL.
    nan_is_null = [dtype.kind not in "fc" for dtype in frame.dtypes]

    def rows() -> Iterator[tuple]:
        for row in frame.itertuples(index=False, name=None):
            yield tuple(
                None if null and isinstance(v, float) and v != v else v
                for v, null in zip(row, nan_is_null, strict=True)
            )

    return columns, rows()


def table_of(obj: Any, columns: Sequence[str] | None = None) -> tuple[Columns, Iterable[Sequence[Any]]]:
    """Return the (name, Linkis type) columns and the rows of something ``show`` accepts."""
    pandas, duckdb = sys.modules.get("pandas"), sys.modules.get("duckdb")
    if pandas is not None and isinstance(obj, pandas.DataFrame):
        table, rows = _frame_table(obj)
    elif duckdb is not None and isinstance(obj, duckdb.DuckDBPyRelation):
        table = [(str(n), duckdb_type_name(t)) for n, t in zip(obj.columns, obj.types, strict=True)]
        # Fetch no more than a result set keeps (plus one, to tell that it was cut).
        rows = obj.limit(max_result_rows() + 1).fetchall()
    elif isinstance(obj, list | tuple) and obj and all(isinstance(r, dict) for r in obj):
        names = [str(k) for k in (columns or obj[0].keys())]
        rows = [[r.get(k) for k in (columns or obj[0].keys())] for r in obj]
        return _column_types(names, rows), rows
    elif isinstance(obj, list | tuple) and all(isinstance(r, list | tuple) for r in obj):
        rows = list(obj)
        width = len(rows[0]) if rows else len(columns or ())
        table = _column_types([f"c{i}" for i in range(width)], rows)
    else:
        raise TypeError(
            "show() takes a pandas DataFrame, a DuckDB relation, a list of dicts or a list of tuples/lists, "
            f"not {type(obj).__name__}"
        )
    if columns is not None:
        if len(columns) != len(table):
            raise ValueError(f"show() got {len(columns)} column names for {len(table)} columns")
        table = [(str(name), type_name) for name, (_, type_name) in zip(columns, table, strict=True)]
    return table, rows


def show(obj: Any, columns: Sequence[str] | None = None) -> None:
    """Write obj as the job's next TABLE result set (columns: names to use, or keys to pick from dicts)."""
    write_table(*table_of(obj, columns))


def is_pandas_frame(value: Any) -> bool:
    """Tell whether value is a pandas DataFrame (without importing pandas)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


# --- Running user code ----------------------------------------------------------------------------------------
def main_namespace(filename: str, **names: Any) -> dict[str, Any]:
    """Install a fresh ``__main__`` module for the user's code and return its namespace."""
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=os.path.abspath(filename), __builtins__=builtins, **names)
    # pickle and multiprocessing look up the user's functions and classes in sys.modules["__main__"]; the
    # module it held (the engine itself when run with -m) is kept alive for the functions still running in it.
    _replaced_mains.append(sys.modules.get("__main__"))
    sys.modules["__main__"] = module
    sys.argv = [filename]
    return module.__dict__


def print_user_exception(
    exc: BaseException, filename: str, summarize: Callable[[BaseException], str | None] | None = None
) -> None:
    """Print exc's traceback to stderr from the first frame of the user's file on (summarize may shorten it)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    if tb is None:
        tb = exc.__traceback__
    summary = summarize(exc) if summarize else None
    if summary is None:
        traceback.print_exception(type(exc), exc, tb)
        return
    kind = type(exc).__qualname__
    if type(exc).__module__ != "builtins":
        kind = f"{type(exc).__module__}.{kind}"
    lines = ["Traceback (most recent call last):\n", *traceback.format_tb(tb), f"{kind}: {summary}\n"]
    sys.stderr.write("".join(lines))


def exit_status(exc: SystemExit) -> int:
    """Return the process status a SystemExit raised by user code asks for."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def run_code(
    source: str,
    filename: str,
    namespace: dict[str, Any],
    *,
    auto_show: Callable[[Any], bool] = is_pandas_frame,
    show_value: Callable[[Any], None] = show,
    summarize: Callable[[BaseException], str | None] | None = None,
) -> int:
    """Run the user's code in namespace, showing a trailing DataFrame expression; return the exit status."""
    # Registering the source lets tracebacks quote the user's lines whatever the current directory.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    try:
        tree = ast.parse(source, filename)
        last = None
        final = tree.body[-1] if tree.body else None
        if isinstance(final, ast.Expr):
            tree.body.pop()
            last = compile(ast.Expression(final.value), filename, "eval")
        body = compile(tree, filename, "exec")
    except SyntaxError as exc:
        sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
        return 1
    try:
        exec(body, namespace)  # noqa: S102 -- running the job's code is this engine's purpose
        if last is not None:
            value = eval(last, namespace)  # noqa: S307 -- the job's own last expression
            if auto_show(value):
                show_value(value)
    except SystemExit as exc:
        return exit_status(exc)
    except Exception as exc:
        print_user_exception(exc, filename, summarize)
        return 1
    return 0


def read_code(path: str) -> str:
    """Read a job's code file (UTF-8, a byte-order mark tolerated)."""
    return Path(path).read_text(encoding="utf-8-sig")


def main(argv: list[str] | None = None) -> int:
    """Run the Python file named by the last argument; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m jobs.engines.python_engine code.py", file=sys.stderr)
        return 2
    path = args[-1]
    filename = os.path.basename(path)
    namespace = main_namespace(filename, show=show, progress=control.progress, spark=None)
    return run_code(read_code(path), filename, namespace)


if __name__ == "__main__":
    sys.exit(main())
