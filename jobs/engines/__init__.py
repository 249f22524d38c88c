"""Engine programs: the child processes that execute a job's code, and how the runner prepares them.

The runner calls ``prepare`` to write the job's code into its working directory and get the command to run;
it starts that command as a child in its own process group (cwd = the working directory), turns stdout into
INFO log lines and stderr into ERROR log lines, reads the control channel (``jobs.engines.control``) and
enforces timeouts and kills. Every command goes through ``jobs.engines.launch``, which applies the CPU limit
and the memory limit (an address-space rlimit) and then execs the engine program:

- python: ``jobs.engines.python_engine`` runs ``code.py``; ``show(...)`` writes table result sets;
- shell: bash runs ``code.sh``; the runner copies its stdout into a text result set;
- sql: ``featurestore.jobengine`` runs ``code.sql`` as the feature store's SQL over its tables (offline mode);
- duckdb: ``jobs.engines.sql_engine`` runs ``code.sql`` on an in-memory DuckDB;
- spark: ``jobs.engines.spark_engine`` runs ``code.sql`` or ``code.py`` on a local (or ``SPARK_MASTER``) Spark.

The JVM and DuckDB reserve far more address space than they use, so spark and sql get no address-space limit:
Spark's heap is ``spark.driver.memory`` and the job's memory limit becomes DuckDB's ``memory_limit``.

Result sets are files in ``<workdir>/result`` (``jobs.engines.resultset``). This package is imported by the
launcher before anything else runs, so it imports only light standard-library modules.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NamedTuple

ENGINE_UNAVAILABLE_EXIT = 3
ENGINES = ("python", "shell", "sql", "duckdb", "spark")
SPARK_RUN_TYPES = {"sql": "code.sql", "python": "code.py"}
# The run types Linkis clients send for Spark, as the spark engine program knows them.
SPARK_RUN_TYPE_ALIASES = {"py": "python", "python3": "python", "pyspark": "python", "hql": "sql", "spark-sql": "sql",
                          "sparksql": "sql", "jdbc": "sql"}  # fmt: skip

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class EngineCommand(NamedTuple):  # a NamedTuple, not a dataclass: dataclasses costs 10 ms at each engine start
    argv: list[str]  # full argv to exec, with cwd=workdir
    env: dict[str, str]  # the engine's variables, set by the runner over a job environment built from scratch
    tee_stdout_as_text_result: bool  # the runner copies stdout lines into a TEXT result set (shell)
    # False for spark and duckdb: the JVM and DuckDB reserve far more address space than they use, so RLIMIT_AS
    # breaks them; the JVM gets spark.driver.memory and DuckDB its memory_limit instead.
    limit_memory: bool
    # The feature store's SQL engine runs platform code only (no user program), so it gets the platform's
    # database settings; every other engine runs user code and gets none of the platform's secrets.
    trusted: bool = False


def engine_unavailable_reason(engine: str) -> str | None:
    """Return None when the engine can run here, otherwise a sentence saying why it cannot."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if engine == "shell" and not os.access("/bin/bash", os.X_OK):
        return "Shell is not available: /bin/bash is missing."
    if engine != "spark":
        return None
    # Imported here, not at the top: the launcher and every engine import this package before they run.
    import importlib.util
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        return "Spark is not available: pyspark is not installed."
    # Spark's launcher uses $JAVA_HOME/bin/java when JAVA_HOME is set and `java` from PATH only otherwise.
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        java = Path(java_home, "bin", "java")
        if not os.access(java, os.X_OK):
            return f"Spark is not available: JAVA_HOME is {java_home} but {java} is not an executable."
    elif shutil.which("java") is None:
        return "Spark is not available: no Java runtime found (install Java 17+ or set JAVA_HOME)."
    return None


def prepare(
    *,
    engine: str,
    run_type: str,
    code: str,
    workdir: Path,
    job_id: int,
    memory_mb: int,
    cpu_seconds: int,
    max_processes: int = 0,
    spark_driver_memory: str = "1g",
    extra_env: dict[str, str] | None = None,
) -> EngineCommand:
    """Write the job's code into workdir and return the command that runs it (0 limits mean unlimited).

    ``extra_env`` (the job's own variables: OpenPAI's, an application's) come first; the platform's variables
    (``PLATFORM_*``, the engine's ``PYTHONPATH``) are set over them. The ``sql`` engine is platform code: it takes
    only the ``PLATFORM_*`` variables, and nothing on its path that a job could have supplied.
    """
    trusted = engine == "sql"
    # -P: the working directory is not put on sys.path (the platform's own sql engine must import only its code).
    engine_module = [sys.executable, "-u", *(["-P"] if trusted else []), "-m"]
    if engine == "python":
        filename, program = "code.py", [*engine_module, "jobs.engines.python_engine", "code.py"]
    elif engine == "shell":
        filename, program = "code.sh", ["/bin/bash", "code.sh"]
    elif engine == "duckdb":
        filename, program = "code.sql", [*engine_module, "jobs.engines.sql_engine", "code.sql"]
    elif engine == "sql":
        filename, program = "code.sql", [*engine_module, "featurestore.jobengine", "code.sql"]
    elif engine == "spark":
        run_type = SPARK_RUN_TYPE_ALIASES.get(run_type.lower(), run_type.lower())
        if run_type not in SPARK_RUN_TYPES:
            raise ValueError(f"spark run_type must be 'sql' or 'python', not {run_type!r}")
        filename = SPARK_RUN_TYPES[run_type]
        program = [*engine_module, "jobs.engines.spark_engine", "--run-type", run_type, filename]
    else:
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")

    workdir = Path(workdir).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / filename).write_text(code, encoding="utf-8")
    result_dir = workdir / "result"
    result_dir.mkdir(exist_ok=True)

    limit_memory = engine not in ("spark", "duckdb")
    extra = {str(k): str(v) for k, v in (extra_env or {}).items()}
    job_path = extra.pop("PYTHONPATH", "")
    if trusted:
        env = {key: value for key, value in extra.items() if key.startswith("PLATFORM_")}
        env["PYTHONPATH"] = str(PROJECT_ROOT)
    else:
        env = extra
        # A job's own PYTHONPATH (an application's unpacked artifact) goes in front of the engines', never instead.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (job_path, str(PROJECT_ROOT)) if p)
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "PLATFORM_JOB_ID": str(job_id),
            "PLATFORM_RESULT_DIR": str(result_dir),
        }
    )
    if engine == "duckdb":
        env["PLATFORM_MEMORY_MB"] = str(memory_mb)
    if engine == "shell":
        # `python` in a shell job is the platform's interpreter (the one with the platform's libraries).
        interpreter_dir = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join((interpreter_dir, extra.get("PATH") or "/usr/local/bin:/usr/bin:/bin"))
    if engine == "spark":
        env["PLATFORM_SPARK_DRIVER_MEMORY"] = spark_driver_memory
        if os.environ.get("SPARK_MASTER"):
            env["SPARK_MASTER"] = os.environ["SPARK_MASTER"]
    argv = _limited(program, memory_mb if limit_memory else 0, cpu_seconds, 0 if trusted else max_processes)
    return EngineCommand(
        argv=argv,
        env=env,
        tee_stdout_as_text_result=engine == "shell",
        limit_memory=limit_memory,
        trusted=trusted,
    )


def _limited(program: list[str], memory_mb: int, cpu_seconds: int, max_processes: int = 0) -> list[str]:
    """Wrap the program so that it starts under the limits: util-linux ``prlimit`` (a C program, about a
    millisecond) when present, else the Python launcher (an extra interpreter start, tens of milliseconds)."""
    if memory_mb <= 0 and cpu_seconds <= 0 and max_processes <= 0:
        return program
    import shutil

    prlimit = shutil.which("prlimit")
    if prlimit is None:
        return [sys.executable, "-m", "jobs.engines.launch", "--memory-mb", str(memory_mb),
                "--cpu-seconds", str(cpu_seconds), "--processes", str(max_processes), "--", *program]  # fmt: skip
    limits = []
    if memory_mb > 0:
        limits.append(f"--as={memory_mb * 1024 * 1024}")
    if cpu_seconds > 0:
        limits.append(f"--cpu={cpu_seconds}:{cpu_seconds + 5}")
    if max_processes > 0:
        limits.append(f"--nproc={max_processes}")
    return [prlimit, *limits, "--", *program]
