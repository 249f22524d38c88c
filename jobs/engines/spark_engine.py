"""The spark engine: run a job's Spark SQL script or PySpark code on a local (or ``SPARK_MASTER``) Spark.

``python -m jobs.engines.spark_engine --run-type sql|python code.<sql|py>`` first checks that Spark can run
here (pyspark importable, a Java runtime); when it cannot it sends a control ``error`` (40001) and exits with
``ENGINE_UNAVAILABLE_EXIT``. Otherwise it starts a SparkSession (``local[*]`` unless ``SPARK_MASTER`` is set,
no web UI, driver memory from ``PLATFORM_SPARK_DRIVER_MEMORY``) and puts every Spark job of the run in the job
group ``platform-job-<id>``; a poller reports that group's task counts as control ``progress`` twice a second.

- run-type sql: the script is split into statements; each runs with ``spark.sql`` and every one that returns
  rows (queries, SHOW, DESCRIBE, SET, ...) becomes a TABLE result set, streamed from the cluster.
- run-type python: the code runs like in the python engine, with ``spark``, ``sc``, ``show`` (which also takes
  Spark DataFrames) and ``progress`` in scope; a trailing Spark or pandas DataFrame expression is shown.

Spark's JVM logs only warnings and errors, and they reach the job's log as control ``log`` messages at their
own level (not as stderr, which the runner logs as ERROR); Java stack frames are left out. A Spark failure is
reported by its first lines, not by a page of Java trace.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from jobs.engines import ENGINE_UNAVAILABLE_EXIT, control, engine_unavailable_reason
from jobs.engines import python_engine as pyengine
from jobs.engines.resultset import spark_type_name
from jobs.engines.sql_engine import split_statements

ERR_ENGINE_UNAVAILABLE = 40001
PROGRESS_INTERVAL = 0.5
RUNNING_PROGRESS_CAP = 0.99  # 1.0 is the runner's to report, once the job has really finished
ERROR_SUMMARY_LINES = 6

# Warnings and errors only, one line each plus the exception; frames ("\tat ...") are dropped on the way.
LOG4J2_PROPERTIES = """\
status = error
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %p %c{1}: %m%n%ex
logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativecode.level = error
logger.tasksetmanager.name = org.apache.spark.scheduler.TaskSetManager
logger.tasksetmanager.level = error
"""
LOG4J_LEVELS = {"TRACE": "INFO", "DEBUG": "INFO", "INFO": "INFO", "WARN": "WARN", "ERROR": "ERROR", "FATAL": "ERROR"}
# Printed by the JVM itself for the vector module Spark enables; it says nothing about the job.
JVM_NOISE = ("WARNING: Using incubator modules",)


# --- Spark's log --------------------------------------------------------------------------------------------
def _forward_jvm_log(read_fd: int, fallback_fd: int) -> None:
    """Send the JVM's stderr lines to the control channel at their log4j level (to stderr without one)."""
    level = "WARN"
    with open(read_fd, encoding="utf-8", errors="replace") as stream:
        for line in stream:
            text = line.rstrip()
            if not text or line.startswith("\t") or text.startswith(JVM_NOISE):
                continue
            head, _, rest = text.partition(" ")
            if head in LOG4J_LEVELS:
                level, text = LOG4J_LEVELS[head], rest
            if control.is_connected():
                control.log(level, text)
            else:
                os.write(fallback_fd, f"{text}\n".encode())


@contextlib.contextmanager
def jvm_stderr_forwarded() -> Iterator[None]:
    """Give a JVM started inside the block a stderr that is forwarded by ``_forward_jvm_log``."""
    read_fd, write_fd = os.pipe()
    original = os.dup(2)  # stays open: the forwarder's fallback and how fd 2 is restored
    threading.Thread(target=_forward_jvm_log, args=(read_fd, original), name="jvm-log", daemon=True).start()
    sys.stderr.flush()
    os.dup2(write_fd, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)
        os.close(write_fd)


# --- Progress -----------------------------------------------------------------------------------------------
class ProgressReporter:
    """Poll Spark's status tracker for the job group's tasks and report them as control progress."""

    def __init__(self, spark_context: Any, group: str) -> None:
        self._tracker = spark_context.statusTracker()
        self._group = group
        self._jobs: dict[int, dict[str, Any]] = {}  # every Spark job seen, kept after Spark forgets it
        self._fraction = 0.0
        self._last: tuple | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="spark-progress", daemon=True)

    def start(self) -> None:
        """Start polling in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and send a last snapshot."""
        self._stopped.set()
        self._thread.join(timeout=10)
        with contextlib.suppress(Exception):
            self.report(force=True)

    def _poll(self) -> None:
        while not self._stopped.wait(PROGRESS_INTERVAL):
            # A poll racing the session's shutdown may fail; the next one (or the final snapshot) catches up.
            with contextlib.suppress(Exception):
                self.report()

    def _job_entry(self, job_id: int) -> dict[str, Any] | None:
        info = self._tracker.getJobInfo(job_id)
        if info is None:
            return None
        total = done = running = failed = 0
        for stage_id in info.stageIds:
            stage = self._tracker.getStageInfo(stage_id)
            if stage is not None:
                total += stage.numTasks
                done += stage.numCompletedTasks
                running += stage.numActiveTasks
                failed += stage.numFailedTasks
        if info.status == "SUCCEEDED":
            done = total  # stages skipped because their output was reused never count their tasks
        return {
            "id": f"jobId-{job_id}",
            "succeedTasks": min(done, total),
            "failedTasks": failed,
            "runningTasks": running,
            "totalTasks": total,
        }

    def report(self, *, force: bool = False) -> None:
        """Send the group's progress when it changed since the last report (or anyway, with force)."""
        for job_id in self._tracker.getJobIdsForGroup(self._group):
            entry = self._job_entry(job_id)
            if entry is not None:
                self._jobs[job_id] = entry
        entries = [self._jobs[job_id] for job_id in sorted(self._jobs)]
        total = sum(e["totalTasks"] for e in entries)
        if total:
            done = sum(e["succeedTasks"] for e in entries)
            self._fraction = max(self._fraction, min(done / total, RUNNING_PROGRESS_CAP))
        snapshot = (self._fraction, tuple(tuple(e.values()) for e in entries))
        if entries and (force or snapshot != self._last):
            self._last = snapshot
            control.progress(self._fraction, entries)


def cancel_group_on_term(spark_context: Any, group: str) -> None:
    """On SIGTERM (a kill or a timeout from the runner), cancel the job group on the cluster before exiting.

    Killing the driver alone leaves a cluster's executors to notice it is gone; cancelling the group stops the
    group's running tasks at once (``interruptOnCancel``), and the user's code then fails with Spark's
    cancellation, ending the run. The runner's SIGKILL after its grace period remains the backstop.
    """

    def cancel(signum, frame) -> None:
        control.log("INFO", f"Cancelling the Spark job group {group}.")
        with contextlib.suppress(Exception):
            spark_context.cancelJobGroup(group)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the driver at once

    signal.signal(signal.SIGTERM, cancel)


# --- Results and errors -------------------------------------------------------------------------------------
def is_spark_frame(value: Any) -> bool:
    """Tell whether value is a Spark DataFrame."""
    sql = sys.modules.get("pyspark.sql")
    return sql is not None and isinstance(value, sql.DataFrame)


def spark_table(frame: Any) -> tuple[pyengine.Columns, Iterable[Sequence[Any]]]:
    """Return a Spark DataFrame's columns and a stream of its rows (no more than a result set keeps, plus one)."""
    columns = [(field.name, spark_type_name(field.dataType)) for field in frame.schema.fields]
    return columns, frame.limit(pyengine.max_result_rows() + 1).toLocalIterator()


def show(obj: Any, columns: Sequence[str] | None = None) -> None:
    """Write obj (a Spark DataFrame, or anything the python engine's show takes) as the next TABLE result set."""
    if not is_spark_frame(obj):
        pyengine.show(obj, columns)
        return
    if columns is not None:
        obj = obj.toDF(*columns)
    pyengine.write_table(*spark_table(obj))


def spark_error_summary(exc: BaseException) -> str | None:
    """Return a Spark (or Py4J) error's first lines and root cause, without Java frames; None for other errors."""
    if not type(exc).__module__.startswith(("pyspark.", "py4j.")):
        return None
    lines: list[str] = []
    root_cause = None
    in_trace = False
    for line in str(exc).splitlines():
        if line.startswith("Caused by: "):
            root_cause = line.rstrip()
        in_trace = in_trace or line.startswith("\tat ") or line.strip() == "JVM stacktrace:"
        if in_trace or len(lines) > ERROR_SUMMARY_LINES:
            continue
        if line.startswith("An error occurred while calling "):  # Py4J's preamble names only a proxy object
            continue
        line = line.removeprefix(": ").rstrip()
        if "SQLSTATE" in line and line.endswith(";"):
            lines.append(line[:-1])  # the analyzed plan follows: internals, not the user's error
            in_trace = True
        elif line:
            lines.append(line)
    if len(lines) > ERROR_SUMMARY_LINES:
        lines = [*lines[:ERROR_SUMMARY_LINES], "..."]
    if root_cause:
        lines.append(root_cause)
    return "\n".join(lines) or type(exc).__name__


def _quiet_python_side() -> None:
    # PySpark logs every captured SQL error as a JSON record on stderr, and warns about the pandas version
    # on import; the engine reports errors itself, once.
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")


# --- Running ------------------------------------------------------------------------------------------------
def start_session(job_id: str) -> Any:
    """Start the SparkSession of a job, logging only warnings and errors."""
    _quiet_python_side()
    from pyspark.sql import SparkSession

    master = os.environ.get("SPARK_MASTER") or "local[*]"
    if master.startswith("local"):
        # A local driver needs no external address (and Spark warns when the hostname resolves to loopback).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    fd, log_config = tempfile.mkstemp(prefix="platform-spark-log4j2-", suffix=".properties")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(LOG4J2_PROPERTIES)
        builder = (
            SparkSession.builder.master(master)
            .appName(f"platform-job-{job_id}")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", os.environ.get("PLATFORM_SPARK_DRIVER_MEMORY") or "1g")
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log_config}")
        )
        with jvm_stderr_forwarded():
            spark = builder.getOrCreate()
    finally:
        Path(log_config).unlink(missing_ok=True)
    spark.sparkContext.setLogLevel("WARN")
    return spark


def run_sql(spark: Any, sql: str) -> int:
    """Run a Spark SQL script statement by statement; return the exit status."""
    statements = split_statements(sql)
    if not statements:
        print("No SQL statements to run.")
        return 0
    for number, statement in enumerate(statements, start=1):
        try:
            frame = spark.sql(statement)
            # Commands (CREATE, INSERT, ...) run inside spark.sql and return no columns; the rest are results.
            if frame.columns:
                pyengine.write_table(*spark_table(frame))
            else:
                print("OK")
        except Exception as exc:
            print(f"SQL error in statement {number}: {spark_error_summary(exc) or exc}", file=sys.stderr)
            return 1
    return 0


def run_python(spark: Any, source: str, filename: str) -> int:
    """Run PySpark code with spark, sc, show and progress in scope; return the exit status."""
    namespace = pyengine.main_namespace(
        filename, spark=spark, sc=spark.sparkContext, show=show, progress=control.progress
    )
    return pyengine.run_code(
        source,
        filename,
        namespace,
        auto_show=lambda value: is_spark_frame(value) or pyengine.is_pandas_frame(value),
        show_value=show,
        summarize=spark_error_summary,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the Spark SQL or PySpark file named by the last argument; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m jobs.engines.spark_engine")
    parser.add_argument("--run-type", choices=("sql", "python"), required=True)
    parser.add_argument("code_file")
    args = parser.parse_args(argv)

    reason = engine_unavailable_reason("spark")
    if reason:
        print(reason, file=sys.stderr)
        control.error(ERR_ENGINE_UNAVAILABLE, reason)
        return ENGINE_UNAVAILABLE_EXIT
    source = pyengine.read_code(args.code_file)
    job_id = os.environ.get("PLATFORM_JOB_ID", "0")
    try:
        spark = start_session(job_id)
    except Exception as exc:
        reason = f"Spark could not start: {spark_error_summary(exc) or exc}"
        print(reason, file=sys.stderr)
        control.error(ERR_ENGINE_UNAVAILABLE, reason)
        return ENGINE_UNAVAILABLE_EXIT

    group = f"platform-job-{job_id}"
    sc = spark.sparkContext
    # The group is per thread: it covers the Spark jobs started from this (the main) thread, the user's code.
    sc.setJobGroup(group, f"Platform job {job_id}", interruptOnCancel=True)
    cancel_group_on_term(sc, group)
    reporter = ProgressReporter(sc, group)
    reporter.start()
    try:
        if args.run_type == "sql":
            return run_sql(spark, source)
        return run_python(spark, source, os.path.basename(args.code_file))
    finally:
        reporter.stop()
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
