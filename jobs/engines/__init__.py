"""Engine programs: the child processes that execute a job's code, the registry of engines, and how the runner
prepares them.

Engines are registered (``register_engine``), not named here: the job core registers its own below, and another
app adds its engine from its ``AppConfig.ready`` (the feature store registers ``sql``). ``engine_names()`` is the
one list of engines (rights, routes, artifacts' manifests, the console).

The runner calls ``prepare`` to write the job's code into its working directory and get the command to run;
it starts that command as a child in its own process group (cwd = the working directory), in a sandbox
(``jobs.sandbox``), turns stdout into INFO log lines and stderr into ERROR log lines, reads the control channel
(``jobs.engines.control``) and enforces timeouts and kills. Limits are applied by util-linux ``prlimit`` (or
``jobs.engines.launch``) before the engine program starts. The job core's engines:

- python: ``jobs.engines.python_engine`` runs ``code.py``; ``show(...)`` writes table result sets;
- shell: bash runs ``code.sh``; the runner copies its stdout into a text result set;
- duckdb: ``jobs.engines.sql_engine`` runs ``code.sql`` on an in-memory DuckDB;
- spark: ``jobs.engines.spark_engine`` runs ``code.sql`` or ``code.py`` on a local (or ``SPARK_MASTER``) Spark.

The JVM and DuckDB reserve far more address space than they use, so spark and duckdb get no address-space limit:
Spark's heap is ``spark.driver.memory`` and the job's memory limit becomes DuckDB's ``memory_limit``.

Result sets are files in ``<workdir>/result`` (``jobs.engines.resultset``). This package is imported by the
launcher and every engine program before anything else runs, so it imports only light standard-library modules.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

ENGINE_UNAVAILABLE_EXIT = 3
SPARK_RUN_TYPES = {"sql": "code.sql", "python": "code.py"}
# The run types Linkis clients send for Spark, as the spark engine program knows them.
SPARK_RUN_TYPE_ALIASES = {"py": "python", "python3": "python", "pyspark": "python", "hql": "sql", "spark-sql": "sql",
                          "sparksql": "sql", "jdbc": "sql"}  # fmt: skip

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class EngineSettings(NamedTuple):
    """What the platform's settings say to an engine (the runner reads them; engine programs know no Django)."""

    memory_mb: int = 0
    spark_driver_memory: str = "1g"
    spark_master: str = ""


class EngineSpec(NamedTuple):
    """What the job core needs to know of an engine to run a job on it."""

    name: str
    #: ``(run_type, python)`` -> ``(code file, argv)``; ``python`` is the interpreter's argv up to ``-m``.
    command: Callable[[str, list[str]], tuple[str, list[str]]]
    #: Platform code that needs the platform's settings and database, and runs no program of the user's: it gets
    #: the platform's environment and is not sandboxed. Every other engine runs users' code.
    trusted: bool = False
    #: False where RLIMIT_AS would break the program (the JVM, DuckDB reserve far more than they use).
    limit_memory: bool = True
    #: The runner copies the program's stdout into a TEXT result set (shell).
    tee_stdout: bool = False
    #: ``EngineSettings`` -> the engine's own variables.
    env: Callable[[EngineSettings], dict[str, str]] | None = None
    #: None when the engine can run here, otherwise a sentence saying why not.
    unavailable: Callable[[], str | None] | None = None
    #: The run type of a submission that names only the engine (an application's program).
    run_type: str = ""


class EngineCommand(NamedTuple):  # a NamedTuple, not a dataclass: dataclasses costs 10 ms at each engine start
    argv: list[str]  # full argv to exec, with cwd=workdir
    env: dict[str, str]  # the engine's variables, set by the runner over a job environment built from scratch
    tee_stdout_as_text_result: bool  # the runner copies stdout lines into a TEXT result set (shell)
    limit_memory: bool  # see EngineSpec.limit_memory
    trusted: bool = False  # see EngineSpec.trusted


_registry: dict[str, EngineSpec] = {}


def register_engine(spec: EngineSpec) -> None:
    """Make an engine available to jobs (again: the latest registration of a name wins)."""
    _registry[spec.name] = spec


def engine_names() -> tuple[str, ...]:
    """Every registered engine, in the order of registration."""
    return tuple(_registry)


def engine_spec(engine: str) -> EngineSpec:
    """The registered engine ``engine``; ValueError naming the engines when there is none."""
    try:
        return _registry[engine]
    except KeyError:
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(_registry)}") from None


def engine_unavailable_reason(engine: str) -> str | None:
    """Return None when the engine can run here, otherwise a sentence saying why it cannot."""
    spec = engine_spec(engine)
    return spec.unavailable() if spec.unavailable is not None else None


# --- the job core's engines -----------------------------------------------------------------------------------
def _shell_unavailable() -> str | None:
    return None if os.access("/bin/bash", os.X_OK) else "Shell is not available: /bin/bash is missing."


def spark_unavailable() -> str | None:
    """Why Spark cannot run here (pyspark or Java missing), or None."""
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


def _spark_command(run_type: str, python: list[str]) -> tuple[str, list[str]]:
    run_type = SPARK_RUN_TYPE_ALIASES.get(run_type.lower(), run_type.lower())
    if run_type not in SPARK_RUN_TYPES:
        raise ValueError(f"spark run_type must be 'sql' or 'python', not {run_type!r}")
    filename = SPARK_RUN_TYPES[run_type]
    return filename, [*python, "jobs.engines.spark_engine", "--run-type", run_type, filename]


def _spark_env(engine_settings: EngineSettings) -> dict[str, str]:
    env = {"PLATFORM_SPARK_DRIVER_MEMORY": engine_settings.spark_driver_memory}
    if engine_settings.spark_master:
        env["SPARK_MASTER"] = engine_settings.spark_master
    return env


def python_module_command(module: str, filename: str) -> Callable[[str, list[str]], tuple[str, list[str]]]:
    """The ``command`` of an engine that is a Python module run on the job's code file."""
    return lambda run_type, python: (filename, [*python, module, filename])


register_engine(EngineSpec("python", python_module_command("jobs.engines.python_engine", "code.py"), run_type="python"))
register_engine(
    EngineSpec(
        "shell",
        lambda run_type, python: ("code.sh", ["/bin/bash", "code.sh"]),
        tee_stdout=True,
        unavailable=_shell_unavailable,
        run_type="shell",
    )  # fmt: skip
)


def _duckdb_env(engine_settings: EngineSettings) -> dict[str, str]:
    return {"PLATFORM_MEMORY_MB": str(engine_settings.memory_mb)}


register_engine(
    EngineSpec(
        "duckdb",
        python_module_command("jobs.engines.sql_engine", "code.sql"),
        limit_memory=False,
        env=_duckdb_env,
        run_type="sql",
    )  # fmt: skip
)
register_engine(
    EngineSpec(
        "spark", _spark_command, limit_memory=False, env=_spark_env, unavailable=spark_unavailable, run_type="python"
    )  # fmt: skip
)


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
    spark_master: str = "",
    extra_env: dict[str, str] | None = None,
) -> EngineCommand:
    """Write the job's code into workdir and return the command that runs it (0 limits mean unlimited).

    ``extra_env`` (the job's own variables: OpenPAI's, an application's) come first; the platform's variables
    (``PLATFORM_*``, the engine's ``PYTHONPATH``) are set over them. A trusted engine is platform code: it takes
    only the ``PLATFORM_*`` variables, and nothing on its path that a job could have supplied.
    """
    spec = engine_spec(engine)
    trusted = spec.trusted
    # -P: the working directory is not put on sys.path (trusted platform code must import only the platform's).
    python = [sys.executable, "-u", *(["-P"] if trusted else []), "-m"]
    filename, program = spec.command(run_type, python)

    workdir = Path(workdir).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / filename).write_text(code, encoding="utf-8")
    result_dir = workdir / "result"
    result_dir.mkdir(exist_ok=True)

    extra = {str(k): str(v) for k, v in (extra_env or {}).items()}
    job_path = extra.pop("PYTHONPATH", "")
    if trusted:
        env = {key: value for key, value in extra.items() if key.startswith("PLATFORM_")}
        env["PYTHONPATH"] = str(PROJECT_ROOT)
    else:
        env = extra
        # A job's own PYTHONPATH (an application's unpacked artifact) goes in front of the engines', never instead.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (job_path, str(PROJECT_ROOT)) if p)
    env.update({"PYTHONUNBUFFERED": "1", "PLATFORM_JOB_ID": str(job_id), "PLATFORM_RESULT_DIR": str(result_dir)})
    if spec.env is not None:
        env.update(spec.env(EngineSettings(memory_mb, spark_driver_memory, spark_master)))
    if engine == "shell":
        # `python` in a shell job is the platform's interpreter (the one with the platform's libraries).
        interpreter_dir = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join((interpreter_dir, extra.get("PATH") or "/usr/local/bin:/usr/bin:/bin"))
    argv = _limited(program, memory_mb if spec.limit_memory else 0, cpu_seconds, 0 if trusted else max_processes)
    return EngineCommand(
        argv=argv,
        env=env,
        tee_stdout_as_text_result=spec.tee_stdout,
        limit_memory=spec.limit_memory,
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
