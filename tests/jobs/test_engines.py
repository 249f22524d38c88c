"""Engine programs run as the runner runs them: prepared into a work dir, launched with a control pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobs.engines import ENGINE_UNAVAILABLE_EXIT, control, engine_unavailable_reason, prepare
from jobs.engines.python_engine import write_table
from jobs.engines.resultset import (
    ResultSetWriter,
    json_cell,
    list_resultsets,
    next_result_path,
    read_resultset,
)
from jobs.engines.spark_engine import spark_error_summary
from jobs.engines.sql_engine import split_statements


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    control: list[dict]
    results: list[dict]
    workdir: Path


def run_engine(
    tmp_path: Path,
    engine: str,
    code: str,
    *,
    run_type: str = "",
    memory_mb: int = 0,
    cpu_seconds: int = 0,
    env: dict[str, str] | None = None,
    timeout: int = 60,
) -> Run:
    """Prepare and run an engine like the runner does, and collect everything it produced."""
    workdir = tmp_path / "work"
    cmd = prepare(
        engine=engine,
        run_type=run_type or engine,
        code=code,
        workdir=workdir,
        job_id=42,
        memory_mb=memory_mb,
        cpu_seconds=cpu_seconds,
    )
    read_fd, write_fd = os.pipe()
    chunks: list[bytes] = []

    def drain() -> None:
        with open(read_fd, "rb") as pipe:
            chunks.extend(iter(lambda: pipe.read(65536), b""))

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            cmd.argv,
            cwd=workdir,
            env={**os.environ, **cmd.env, **(env or {}), "PLATFORM_CONTROL_FD": str(write_fd)},
            pass_fds=(write_fd,),
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
    finally:
        os.close(write_fd)
    reader.join(timeout=10)
    control = [json.loads(line) for line in b"".join(chunks).decode().splitlines()]
    results = [read_resultset(path) for path in list_resultsets(workdir / "result")]
    return Run(proc.returncode, proc.stdout, proc.stderr, control, results, workdir)


def columns(result: dict) -> list[tuple[str, str]]:
    return [(c["columnName"], c["dataType"]) for c in result["metadata"]]


# --- prepare --------------------------------------------------------------------------------------------------
def test_prepare_writes_code_and_builds_launcher_command(tmp_path):
    cmd = prepare(
        engine="duckdb", run_type="sql", code="select 1", workdir=tmp_path, job_id=5, memory_mb=256, cpu_seconds=9
    )
    assert (tmp_path / "code.sql").read_text() == "select 1"
    assert (tmp_path / "result").is_dir()
    assert cmd.argv[0].endswith("prlimit")
    assert cmd.argv[cmd.argv.index("--") + 1 :] == [sys.executable, "-u", "-m", "jobs.engines.sql_engine", "code.sql"]
    assert cmd.env["PLATFORM_JOB_ID"] == "5"
    assert cmd.env["PLATFORM_RESULT_DIR"] == str(tmp_path / "result")
    assert cmd.env["PYTHONPATH"].split(os.pathsep)[0] == str(Path(__file__).resolve().parents[2])
    assert cmd.env["PYTHONUNBUFFERED"] == "1"
    assert "PLATFORM_CONTROL_FD" not in cmd.env
    assert not cmd.tee_stdout_as_text_result
    # DuckDB gets the memory limit as its own memory_limit, not as an address-space rlimit.
    assert not cmd.limit_memory
    assert not any(arg.startswith("--as=") for arg in cmd.argv) and "--cpu=9:14" in cmd.argv
    assert cmd.env["PLATFORM_MEMORY_MB"] == "256"


def test_prepare_falls_back_to_the_python_launcher_without_prlimit(tmp_path, monkeypatch):
    import shutil

    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "prlimit" else real_which(name))
    cmd = prepare(engine="python", run_type="python", code="x", workdir=tmp_path, job_id=1, memory_mb=64, cpu_seconds=0)
    assert cmd.argv[:3] == [sys.executable, "-m", "jobs.engines.launch"]
    assert cmd.argv[cmd.argv.index("--memory-mb") + 1] == "64"


def test_prepare_without_limits_runs_the_program_directly(tmp_path):
    cmd = prepare(engine="shell", run_type="sh", code="x", workdir=tmp_path, job_id=1, memory_mb=0, cpu_seconds=0)
    assert cmd.argv == ["/bin/bash", "code.sh"]


def test_prepare_spark_and_shell(tmp_path):
    spark = prepare(
        engine="spark",
        run_type="python",
        code="x = 1",
        workdir=tmp_path / "s",
        job_id=1,
        memory_mb=512,
        cpu_seconds=0,
        spark_driver_memory="2g",
        spark_master="local[2]",  # SPARK_MASTER, passed on by the runner from its settings
    )
    assert (tmp_path / "s" / "code.py").exists()
    assert not any(arg.startswith("--as=") for arg in spark.argv)  # the JVM gets no address-space limit
    assert spark.argv[-4:] == ["jobs.engines.spark_engine", "--run-type", "python", "code.py"]
    assert spark.env["PLATFORM_SPARK_DRIVER_MEMORY"] == "2g"
    assert spark.env["SPARK_MASTER"] == "local[2]"
    assert not spark.limit_memory

    shell = prepare(
        engine="shell", run_type="sh", code="echo", workdir=tmp_path / "b", job_id=1, memory_mb=512, cpu_seconds=0
    )
    assert shell.argv[-2:] == ["/bin/bash", "code.sh"]
    assert f"--as={512 * 1024 * 1024}" in shell.argv
    assert shell.tee_stdout_as_text_result and shell.limit_memory

    for alias, program_type in (("py", "python"), ("pyspark", "python"), ("hql", "sql"), ("SQL", "sql")):
        aliased = prepare(engine="spark", run_type=alias, code="", workdir=tmp_path / alias, job_id=1, memory_mb=0,
                          cpu_seconds=0)  # fmt: skip
        assert aliased.argv[-3:-1] == ["--run-type", program_type]
    with pytest.raises(ValueError, match="run_type"):
        prepare(engine="spark", run_type="scala", code="", workdir=tmp_path, job_id=1, memory_mb=0, cpu_seconds=0)
    with pytest.raises(ValueError, match="unknown engine"):
        prepare(engine="cobol", run_type="", code="", workdir=tmp_path, job_id=1, memory_mb=0, cpu_seconds=0)


# --- python ---------------------------------------------------------------------------------------------------
def test_python_print_goes_to_stdout_not_to_results(tmp_path):
    run = run_engine(tmp_path, "python", "print('hello')\nprint(6 * 7)\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "hello\n42\n"
    assert run.stderr == ""
    assert run.results == []


def test_python_show_and_trailing_dataframe_become_tables(tmp_path):
    code = (
        "import pandas as pd\n"
        "show([{'name': 'a', 'n': 1, 'ok': True}, {'name': None, 'n': 2, 'ok': False}])\n"
        "show([(1, 2.5), (2, None)], columns=['k', 'v'])\n"
        "df = pd.DataFrame({'x': [1, 2, 3], 'y': [0.5, float('nan'), 2.0], 's': ['p', 'q', None]})\n"
        "df\n"
    )
    run = run_engine(tmp_path, "python", code)
    assert run.returncode == 0, run.stderr
    dicts, tuples, frame = run.results
    assert columns(dicts) == [("name", "string"), ("n", "bigint"), ("ok", "boolean")]
    assert dicts["fileContent"] == [["a", "1", "true"], ["NULL", "2", "false"]]
    assert columns(tuples) == [("k", "bigint"), ("v", "double")]
    assert tuples["fileContent"] == [["1", "2.5"], ["2", "NULL"]]
    assert columns(frame) == [("x", "bigint"), ("y", "double"), ("s", "string")]
    assert frame["fileContent"] == [["1", "0.5", "p"], ["2", "NaN", "q"], ["3", "2.0", "NULL"]]
    assert frame["type"] == "2" and frame["totalLine"] == 3


def test_python_trailing_non_dataframe_expression_is_not_shown(tmp_path):
    run = run_engine(tmp_path, "python", "x = 3\nx + 1\n")
    assert run.returncode == 0, run.stderr
    assert run.results == []


def test_python_show_duckdb_relation(tmp_path):
    code = "import duckdb\nshow(duckdb.sql(\"select 1::int as a, 'x' as b, date '2024-01-02' as d\"))\n"
    run = run_engine(tmp_path, "python", code)
    assert run.returncode == 0, run.stderr
    assert columns(run.results[0]) == [("a", "int"), ("b", "string"), ("d", "date")]
    assert run.results[0]["fileContent"] == [["1", "x", "2024-01-02"]]


def test_python_exception_exits_1_with_user_traceback(tmp_path):
    code = "x = 1\n\ndef f():\n    return 1 / 0\n\nf()\n"
    run = run_engine(tmp_path, "python", code)
    assert run.returncode == 1
    assert 'File "code.py", line 6, in <module>' in run.stderr
    assert 'File "code.py", line 4, in f' in run.stderr
    assert "return 1 / 0" in run.stderr
    assert run.stderr.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "python_engine" not in run.stderr  # the engine's own frames are not the user's business


def test_python_syntax_error_and_sys_exit(tmp_path):
    run = run_engine(tmp_path, "python", "x = (1\n")
    assert run.returncode == 1
    assert 'File "code.py", line 1' in run.stderr and "SyntaxError" in run.stderr

    run = run_engine(tmp_path / "exit", "python", "import sys\nprint('bye')\nsys.exit(4)\n")
    assert run.returncode == 4
    assert run.stdout == "bye\n"


def test_python_progress_reaches_control_channel(tmp_path):
    code = "progress(0.25)\nprogress(0.5, [{'id': 'step', 'succeedTasks': 1, 'failedTasks': 0, " + (
        "'runningTasks': 1, 'totalTasks': 2}])\n"
    )
    run = run_engine(tmp_path, "python", code)
    assert run.returncode == 0, run.stderr
    assert run.control == [
        {"type": "progress", "progress": 0.25, "progressInfo": []},
        {
            "type": "progress",
            "progress": 0.5,
            "progressInfo": [{"id": "step", "succeedTasks": 1, "failedTasks": 0, "runningTasks": 1, "totalTasks": 2}],
        },
    ]


def test_python_memory_limit(tmp_path):
    run = run_engine(tmp_path, "python", "data = bytearray(600 * 1024 * 1024)\nprint('allocated')\n", memory_mb=200)
    assert run.returncode != 0
    assert "MemoryError" in run.stderr
    assert "allocated" not in run.stdout


def test_cpu_limit_stops_a_busy_loop(tmp_path):
    run = run_engine(tmp_path, "python", "while True:\n    pass\n", cpu_seconds=1, timeout=30)
    assert run.returncode < 0  # killed by SIGXCPU (or SIGKILL at the hard limit)


def test_result_rows_are_capped(tmp_path):
    run = run_engine(tmp_path, "python", "show([(i,) for i in range(20)])\n", env={"PLATFORM_RESULT_MAX_ROWS": "5"})
    assert run.returncode == 0, run.stderr
    assert run.results[0]["totalLine"] == 5
    assert "first 5 rows" in run.stdout


# --- shell and the launcher -----------------------------------------------------------------------------------
def test_shell_stdout_and_control_from_bash(tmp_path):
    code = 'echo "line one"\necho \'{"type":"progress","progress":0.5}\' >&$PLATFORM_CONTROL_FD\necho oops >&2\n'
    run = run_engine(tmp_path, "shell", code)
    assert run.returncode == 0
    assert run.stdout == "line one\n"
    assert run.stderr == "oops\n"
    assert run.control == [{"type": "progress", "progress": 0.5}]


def test_launcher_passes_exit_status_through(tmp_path):
    assert run_engine(tmp_path, "shell", "exit 7\n").returncode == 7
    proc = subprocess.run(
        [sys.executable, "-m", "jobs.engines.launch", "--memory-mb", "0", "--cpu-seconds", "0", "--", "/no/such"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 127
    assert "cannot run /no/such" in proc.stderr


# --- sql ------------------------------------------------------------------------------------------------------
def test_sql_selects_become_numbered_tables(tmp_path):
    code = "select 1::int as a, 'x' as b;\nselect 2.5::double as c, date '2024-01-01' as d, null as n, true as t;"
    run = run_engine(tmp_path, "duckdb", code)
    assert run.returncode == 0, run.stderr
    assert [p.name for p in list_resultsets(run.workdir / "result")] == ["_0.dolphin", "_1.dolphin"]
    first, second = run.results
    assert columns(first) == [("a", "int"), ("b", "string")]
    assert first["fileContent"] == [["1", "x"]]
    assert columns(second) == [("c", "double"), ("d", "date"), ("n", "null"), ("t", "boolean")]
    assert second["fileContent"] == [["2.5", "2024-01-01", "NULL", "true"]]
    assert [m["progress"] for m in run.control] == [0.5, 1.0]


def test_sql_commands_print_ok(tmp_path):
    code = (
        "-- set up; with a semicolon in a comment\n"
        "create table t (a int, s varchar);\n"
        "insert into t values (1, 'a;b'), (2, 'c');\n"
        "select * from t order by a;\n"
    )
    run = run_engine(tmp_path, "duckdb", code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["OK", "OK, 2 rows affected"]
    assert run.results[0]["fileContent"] == [["1", "a;b"], ["2", "c"]]


def test_sql_reads_files_of_the_work_dir(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "data.csv").write_text("k,v\na,1\nb,2\n")
    run = run_engine(tmp_path, "duckdb", "select k, sum(v) as total from read_csv('data.csv') group by k order by k")
    assert run.returncode == 0, run.stderr
    assert run.results[0]["fileContent"] == [["a", "1"], ["b", "2"]]


def test_sql_memory_limit_is_duckdbs_own(tmp_path):
    run = run_engine(tmp_path, "duckdb", "select current_setting('memory_limit') as m", memory_mb=256)
    assert run.returncode == 0, run.stderr
    assert run.results[0]["fileContent"] == [["256.0 MiB"]]


def test_sql_error_names_the_statement(tmp_path):
    run = run_engine(tmp_path, "duckdb", "select 1;\nselect * from missing_table;\nselect 3;")
    assert run.returncode == 1
    assert run.stderr.startswith("SQL error in statement 2: Catalog Error")
    assert len(run.results) == 1

    run = run_engine(tmp_path / "parse", "duckdb", "select 1;\nselec 2;\n")
    assert run.returncode == 1
    assert run.stderr.startswith("SQL error in statement 2: Parser Error")


# --- result sets ----------------------------------------------------------------------------------------------
def test_read_resultset_pages(tmp_path):
    with ResultSetWriter.table(tmp_path, [("i", "int"), ("label", "string")]) as writer:
        for i in range(12):
            writer.write_row([i, f"row {i}"])
    assert writer.rows == 12 and writer.path.name == "_0.dolphin"

    page = read_resultset(writer.path, page=2, page_size=5)
    assert page["totalLine"] == 12 and page["page"] == 2 and page["type"] == "2"
    assert page["fileContent"] == [[str(i), f"row {i}"] for i in range(5, 10)]
    assert read_resultset(writer.path, page=3, page_size=5)["fileContent"] == [["10", "row 10"], ["11", "row 11"]]
    assert read_resultset(writer.path, page=4, page_size=5)["fileContent"] == []


def test_text_resultset(tmp_path):
    with ResultSetWriter.text(tmp_path) as writer:
        writer.write_line("first line")
        writer.write_line('{"not": "parsed"}')
        writer.write_line("")
    result = read_resultset(writer.path)
    assert result == {
        "type": "1",
        "metadata": "NULL",
        "fileContent": [["first line"], ['{"not": "parsed"}'], [""]],
        "totalLine": 3,
        "page": 1,
    }


def test_resultset_cells_and_null_value(tmp_path):
    import datetime as dt
    from decimal import Decimal

    values = [None, True, 3, 1.25, float("nan"), float("-inf"), Decimal("1.50"), dt.date(2024, 5, 6), [1, 2], {"k": 1}]
    with ResultSetWriter.table(tmp_path, [(f"c{i}", "string") for i in range(len(values))]) as writer:
        writer.write_row(values)
    row = read_resultset(writer.path, null_value="")["fileContent"][0]
    assert row == ["", "true", "3", "1.25", "NaN", "-Infinity", "1.50", "2024-05-06", "[1,2]", '{"k":1}']
    assert json_cell(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)) == "2024-01-02 03:04:05+00:00"
    with pytest.raises(ValueError, match="columns"):
        ResultSetWriter.table(tmp_path, [("a", "int")]).write_row([1, 2])


def test_list_resultsets_orders_numerically_and_names_do_not_collide(tmp_path):
    for n in (10, 2):
        (tmp_path / f"_{n}.dolphin").write_text('{"type": "1", "metadata": "NULL"}\n')
    (tmp_path / "notes.txt").write_text("")
    assert [p.name for p in list_resultsets(tmp_path)] == ["_2.dolphin", "_10.dolphin"]

    reserved = next_result_path(tmp_path)
    assert reserved.name == "_11.dolphin" and reserved.exists()
    with ResultSetWriter.text(tmp_path) as writer:
        writer.write_line("x")
    assert writer.path.name == "_12.dolphin"
    assert read_resultset(reserved)["totalLine"] == 0  # reserved but not written yet


def test_split_statements():
    script = [
        "select ';' as a; -- c;omment\n",
        'select "x;y", `b;c` from t /* ; */ ;\n\n',
        "-- only a comment;\n select 'it''s;'",
    ]
    assert split_statements("".join(script)) == [
        "select ';' as a",
        '-- c;omment\nselect "x;y", `b;c` from t /* ; */',
        "-- only a comment;\n select 'it''s;'",
    ]
    assert split_statements("select 'a\\';b'; select 2") == ["select 'a\\';b'", "select 2"]
    assert split_statements("  ;; -- nothing\n") == []


def test_failed_table_leaves_no_partial_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PLATFORM_RESULT_DIR", str(tmp_path))

    def rows():
        yield (1,)
        raise RuntimeError("query failed")

    with pytest.raises(RuntimeError):
        write_table([("a", "int")], rows())
    assert list_resultsets(tmp_path) == []


# --- control channel ------------------------------------------------------------------------------------------
def test_control_without_channel_or_reader_never_raises(monkeypatch):
    monkeypatch.setattr(control, "_broken", False)
    monkeypatch.delenv("PLATFORM_CONTROL_FD", raising=False)
    control.progress(0.5)  # no channel: nothing happens
    monkeypatch.setenv("PLATFORM_CONTROL_FD", "not-a-number")
    control.log("INFO", "x")

    read_fd, write_fd = os.pipe()
    monkeypatch.setenv("PLATFORM_CONTROL_FD", str(write_fd))
    control.error(40000, "first")
    assert os.read(read_fd, 1000) == b'{"type":"error","code":40000,"desc":"first"}\n'
    os.close(read_fd)
    control.progress(2.0)  # the runner is gone: a broken pipe turns the channel off
    assert not control.is_connected()
    os.close(write_fd)
    with pytest.raises(ValueError, match="level"):
        control.log("DEBUG", "x")


def test_spark_error_summary_drops_java_frames():
    class Py4JJavaError(Exception):
        __module__ = "py4j.protocol"

    trace = (
        "An error occurred while calling o45.toLocalIterator.\n"
        ": org.apache.spark.SparkException: Exception thrown in awaitResult:\n"
        "\tat org.apache.spark.util.SparkThreadUtils$.awaitResult(SparkThreadUtils.scala:56)\n"
        "Caused by: org.apache.spark.SparkRuntimeException: [USER_RAISED_EXCEPTION] boom SQLSTATE: P0001\n"
        "\t... 12 more\n"
    )
    assert spark_error_summary(Py4JJavaError(trace)) == (
        "org.apache.spark.SparkException: Exception thrown in awaitResult:\n"
        "Caused by: org.apache.spark.SparkRuntimeException: [USER_RAISED_EXCEPTION] boom SQLSTATE: P0001"
    )
    assert spark_error_summary(ValueError("plain Python")) is None


# --- spark ----------------------------------------------------------------------------------------------------
def test_spark_unavailable_without_java(tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    reason = engine_unavailable_reason("spark")
    assert reason is not None and "Java" in reason

    run = run_engine(tmp_path, "spark", "select 1", run_type="sql")
    assert run.returncode == ENGINE_UNAVAILABLE_EXIT
    assert run.control == [{"type": "error", "code": 40001, "desc": reason}]
    assert reason in run.stderr


def test_spark_unavailable_reason_is_none_for_other_engines():
    assert engine_unavailable_reason("python") is None
    assert engine_unavailable_reason("sql") is None and engine_unavailable_reason("duckdb") is None
    assert engine_unavailable_reason("shell") is None


def skip_without_spark() -> None:
    reason = engine_unavailable_reason("spark")
    if reason:
        pytest.skip(reason)


def test_spark_sql_real_run(tmp_path):
    skip_without_spark()
    code = "SELECT id, id*2 AS twice FROM range(10);\nCREATE TEMPORARY VIEW v AS SELECT 1 AS one;\nSELECT * FROM nope;"
    run = run_engine(tmp_path, "spark", code, run_type="sql", env={"SPARK_MASTER": "local[1]"}, timeout=120)
    assert run.returncode == 1
    assert run.stdout == "OK\n"
    assert run.stderr.startswith("SQL error in statement 3: [TABLE_OR_VIEW_NOT_FOUND]")
    assert "\tat " not in run.stderr and len(run.stderr.splitlines()) <= 7
    (table,) = run.results
    assert columns(table) == [("id", "bigint"), ("twice", "bigint")]
    assert table["totalLine"] == 10
    assert table["fileContent"][3] == ["3", "6"]
    progress = [m for m in run.control if m["type"] == "progress"]
    assert any(info["totalTasks"] > 0 for m in progress for info in m["progressInfo"])
    assert all(0 <= m["progress"] <= 0.99 for m in progress)
    assert [m["progress"] for m in progress] == sorted(m["progress"] for m in progress)


def test_spark_python_real_run(tmp_path):
    skip_without_spark()
    code = "print(sc.parallelize(range(10), 2).sum())\nshow(spark.range(3))\nspark.range(2).toDF('n')\n"
    run = run_engine(tmp_path, "spark", code, run_type="python", env={"SPARK_MASTER": "local[1]"}, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "45\n"
    first, trailing = run.results
    assert columns(first) == [("id", "bigint")]
    assert first["fileContent"] == [["0"], ["1"], ["2"]]
    assert columns(trailing) == [("n", "bigint")] and trailing["totalLine"] == 2
    assert run.stderr == ""
