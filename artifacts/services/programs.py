"""Programs: a start submits a job to the job core (``jobs.services.job_submit``), a stop kills it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from artifacts.models import Application, ArtifactVersion, ProgramRun, unpacked_path
from artifacts.selectors import SINGLE_RUN_TYPES, active_runs, program_entity, program_get_or_error
from artifacts.services.common import actor_name
from dataplatform.api.exceptions import ConflictError, InvalidInputError
from jobs.engines import engine_spec
from jobs.models import Job
from jobs.services import JobSpec, engine_require, job_kill, job_submit


def _readable_by_jobs(top: Path) -> None:
    """Let the sandboxed job user read an unpacked artifact (mounted read-only into its programs' sandboxes);
    ARTIFACTS_DIR itself stays private to the server (0700), so nothing else reaches it."""
    os.chmod(top, 0o755)  # noqa: S103 - read-only code for the jobs' user, in a private directory
    for root, dirs, files in os.walk(top):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)  # noqa: S103
        for name in files:
            path = os.path.join(root, name)
            os.chmod(path, os.stat(path).st_mode & 0o777 | 0o644)


def unpack_artifact(version: ArtifactVersion) -> Path:
    """Extract the version's archive once (atomically) and return the directory programs run from."""
    target = unpacked_path(version.blob_id)
    if target.is_dir():
        if target.stat().st_mode & 0o005 != 0o005:  # unpacked before programs ran sandboxed
            _readable_by_jobs(target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
    try:
        with zipfile.ZipFile(version.blob_path) as zf:
            zf.extractall(scratch)  # the archive passed inspect_archive: no traversal, links or bombs
        _readable_by_jobs(scratch)
        try:
            os.replace(scratch, target)
        except OSError:
            if not target.is_dir():  # anything but "another process unpacked it first"
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


RUNTIME_ARGS_ERROR = "Runtime arguments must be a JSON object of name: value."


def _runtime_args(value: Any) -> dict[str, str]:
    """Runtime arguments as the job's variables: names to strings (null is "", booleans are JSON's)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or any(isinstance(v, dict | list) for v in value.values()):
        raise InvalidInputError(RUNTIME_ARGS_ERROR, code="args")
    return {str(k): "" if v is None else (json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in value.items()}


def program_start(
    *, app: Application, program_type: str, name: str, runtime_args: dict[str, Any] | None, actor
) -> ProgramRun:
    """Start a program: submit its job (cwd: the job's directory; the unpacked artifact on PYTHONPATH).

    ``runtime_args`` maps names to scalar values (None: no arguments).
    """
    program = program_get_or_error(app=app, program_type=program_type, name=name)
    args = _runtime_args(runtime_args)
    # A command program runs on the shell engine; another on the engine its manifest names, with that engine's
    # default run type (an application's program is Python code on spark, SQL on sql and duckdb).
    engine = "shell" if program.get("command") else program["engine"]
    code = program["command"] if program.get("command") else program["code"]
    engine_type, run_type = engine, engine_spec(engine).run_type
    # A program runs the artifact's code, which may start any process: it needs the shell right as well as
    # the right to its own engine (job_submit checks that one too).
    engine_require(user=actor, engine="shell")
    engine_require(user=actor, engine=engine)
    artifact_dir = unpack_artifact(app.artifact_version)
    run_id = str(uuid.uuid1())
    entity = program_entity(app.namespace.name, app.name, program_type, name)
    env = {
        "PYTHONPATH": str(artifact_dir),
        "PLATFORM_ARTIFACT_DIR": str(artifact_dir),
        "PLATFORM_APP_CONFIG": json.dumps(app.config if app.config is not None else {}),
        "PLATFORM_RUNTIME_ARGS": json.dumps(args),
        "PLATFORM_NAMESPACE": app.namespace.name,
        "PLATFORM_APP_NAME": app.name,
        "PLATFORM_PROGRAM_TYPE": program_type,
        "PLATFORM_PROGRAM_NAME": name,
        "PLATFORM_RUN_ID": run_id,
    }
    long_running = program_type in SINGLE_RUN_TYPES
    spec = JobSpec(
        code=code,
        engine_type=engine_type,
        run_type=run_type,
        creator="CDAP",
        params={"variable": args},
        source={
            "cdap": {
                "namespace": app.namespace.name,
                "app": app.name,
                "programType": program_type,
                "program": name,
                "runId": run_id,
            }
        },  # fmt: skip
        labels={"cdap.program": entity},
        source_api=Job.SourceApi.CDAP,
        timeout_seconds=settings.JOB_MAX_TIMEOUT if long_running else None,
        env=env,
        grants={"read_only": [str(artifact_dir)]},
    )
    with transaction.atomic():
        locked = Application.objects.select_for_update().select_related("namespace").get(pk=app.pk)
        if locked.artifact_version_id != app.artifact_version_id:
            raise ConflictError(f"Application '{app.name}' changed while the program was starting; retry.")
        if long_running and active_runs(app=locked, program_type=program_type, name=name).exists():
            raise ConflictError(f"Program {entity} is already running", code="running")
        job = job_submit(owner=actor, spec=spec)
        return ProgramRun.objects.create(
            application=locked,
            program_type=program_type,
            program_name=name,
            run_id=run_id,
            job=job,
            runtime_args=args,
            artifact_version=locked.artifact_version,
            started_by=actor_name(actor),
        )


def program_stop(*, app: Application, program_type: str, name: str, actor) -> list[ProgramRun]:
    """Stop every active run of the program (its jobs are killed); 400 when none runs, as CDAP 4."""
    program_get_or_error(app=app, program_type=program_type, name=name)
    runs = list(active_runs(app=app, program_type=program_type, name=name))
    if not runs:
        entity = program_entity(app.namespace.name, app.name, program_type, name)
        raise InvalidInputError(f"Program '{entity}' is not running.", code="not_running")
    for run in runs:
        with contextlib.suppress(ConflictError):  # it finished meanwhile
            job_kill(job=run.job, actor=actor, authorized=True)
    return runs
