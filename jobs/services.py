"""Write paths of the job core: submit, move through statuses, report progress, kill.

Every API (Linkis REST and WebSocket, OpenPAI, CDAP programs, the feature store's offline jobs, the admin)
submits and kills through these functions, so queue limits, permissions and the status rules hold whatever the
entry point. A status changes only through ``job_transition``, a conditional UPDATE that succeeds only from an
allowed previous status; the caller learns whether it won.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone

from dataplatform.api.exceptions import ConflictError, ForbiddenError, InvalidInputError
from jobs.engines import engine_names, engine_unavailable_reason
from jobs.events import publish_job_event
from jobs.logstore import LogEntry, log_append, log_start
from jobs.models import ACTIVE, QUEUED, TERMINAL, TRANSITIONS, Job, JobStatus
from jobs.runners import dispatch_stamp, kill_on_runner, notify_runner, slot_freed
from jobs.selectors import user_engines

logger = logging.getLogger(__name__)

# Why a submission is refused (``JobRequestError.code``); each API family says it in its own terms (Linkis:
# ``jobs.linkis.errors``).
REFUSED_CODE = "code"  # the code is empty or too large
REFUSED_NO_CODE = "no_code"  # the request carries no code at all
REFUSED_PARAMS = "params"  # params (variables, configuration) of the wrong shape
REFUSED_LABELS = "labels"  # an unknown engine or run type, a bad timeout
REFUSED_QUEUE_FULL = "queue_full"  # the queue is at JOB_QUEUE_CAPACITY


class JobRequestError(InvalidInputError):
    """A submission refused before any job row exists; ``code`` is one of the ``REFUSED_*`` reasons."""

    def __init__(self, code: str, desc: str) -> None:
        super().__init__(desc, code=code)


class JobQueueFullError(JobRequestError):
    def __init__(self, waiting: int) -> None:
        super().__init__(
            REFUSED_QUEUE_FULL,
            f"Submitting the query failed(提交查询失败)! The job queue is full ({waiting} jobs waiting); retry later.",
        )


# --- Routing --------------------------------------------------------------------------------------------------
SQL_RUN_TYPES = {"sql", "hql", "jdbc", "spark-sql", "sparksql", "duckdb"}
PYTHON_RUN_TYPES = {"python", "py", "python3", "pyspark"}
SHELL_RUN_TYPES = {"sh", "shell", "bash"}
DEFAULT_ENGINE_VERSIONS = {
    "python": "python-python3",  # the engine runs Python 3 (clients' python-python2 labels are taken as they are)
    "shell": "shell-1",
    "spark": "spark-2.4.3",
    "hive": "hive-2.3.3",
    "jdbc": "jdbc-4",
    "sql": "sql-1",
    "duckdb": "duckdb-2",
}
ENGINE_NAMES = sorted(DEFAULT_ENGINE_VERSIONS)


@dataclass(frozen=True)
class Route:
    engine: str  # python, shell, sql or spark
    run_type: str  # normalized run type given to the engine
    note: str  # the first log line: which engine runs the job and why


def route(*, engine_type: str, run_type: str) -> Route:
    """Choose the engine for a Linkis engine label and run type, or raise JobRequestError saying what to change."""
    name = engine_type.split("-")[0].strip().lower()
    kind = (run_type or "").strip().lower()
    if name not in DEFAULT_ENGINE_VERSIONS:
        raise JobRequestError(
            REFUSED_LABELS,
            f"Label params invalid: engineType {engine_type!r} is not supported here; "
            f"use one of {', '.join(ENGINE_NAMES)} (e.g. python-python3, spark-2.4.3).",
        )
    unsupported = JobRequestError(
        REFUSED_LABELS,
        f"Label params invalid: runType {run_type!r} is not supported by the {name} engine here; "
        f"use {_run_types_of(name)}.",
    )
    if name == "python":
        if kind not in PYTHON_RUN_TYPES - {"pyspark"}:
            raise unsupported
        return Route("python", "python", f"Engine: python (engineType {engine_type}, runType {run_type}).")
    if name == "shell":
        if kind not in SHELL_RUN_TYPES:
            raise unsupported
        return Route("shell", "shell", f"Engine: shell (engineType {engine_type}, runType {run_type}).")
    if name in ("jdbc", "sql"):
        if kind not in SQL_RUN_TYPES:
            raise unsupported
        note = f"Engine: sql, the feature store's SQL (engineType {engine_type}, runType {run_type})."
        return Route("sql", "sql", note)
    if name == "duckdb":
        if kind not in SQL_RUN_TYPES:
            raise unsupported
        return Route("duckdb", "sql", f"Engine: duckdb (engineType {engine_type}, runType {run_type}).")
    # spark and hive
    if kind in SQL_RUN_TYPES:
        reason = engine_unavailable_reason("spark")
        if reason is None:
            return Route("spark", "sql", f"Engine: spark (engineType {engine_type}, runType {run_type}).")
        return Route(
            "sql", "sql", f"Engine: sql ({reason} The {name} SQL request of runType {run_type} runs on the sql engine.)"
        )
    if name == "spark" and kind in PYTHON_RUN_TYPES:
        return Route("spark", "python", f"Engine: spark (engineType {engine_type}, runType {run_type}).")
    raise unsupported


def _run_types_of(name: str) -> str:
    return {
        "python": "python or py",
        "shell": "sh or shell",
        "jdbc": "sql or jdbc",
        "sql": "sql",
        "duckdb": "sql",
        "hive": "sql or hql",
        "spark": "sql, hql, python, py or pyspark",
    }[name]


class EngineForbiddenError(ForbiddenError):
    """The user has no right to the engine; ``engine`` names it."""

    def __init__(self, message: str, *, engine: str) -> None:
        super().__init__(message, code="engine")
        self.engine = engine


def engine_require(*, user, engine: str) -> None:
    """Raise EngineForbiddenError unless ``user`` may run jobs on ``engine`` (see ``user_engines``)."""
    allowed = user_engines(user)
    if engine not in allowed:
        name = getattr(user, "username", "anonymous")
        granted = ", ".join(allowed) if allowed else "none"
        raise EngineForbiddenError(
            f"User {name} may not run jobs on the {engine} engine (allowed: {granted}); an admin grants engines "
            'in the admin (Users or Groups: permission "Can run jobs on the ... engine").',
            engine=engine,
        )


def engine_permissions_ensure(**kwargs) -> None:
    """Make the permission ``jobs.use_engine_<engine>`` of every registered engine (after migrate; idempotent)."""
    content_type = ContentType.objects.get_for_model(Job)
    for engine in engine_names():
        Permission.objects.get_or_create(
            content_type=content_type,
            codename=f"use_engine_{engine}",
            defaults={"name": f"Can run jobs on the {engine} engine"},
        )


def engine_grants_set(*, principal, engines: list[str]) -> None:
    """Make ``engines`` exactly the engines granted directly to a user or a group (its other permissions stay)."""
    known = engine_names()
    unknown = sorted(set(engines) - set(known))
    if unknown:
        raise InvalidInputError(f"Unknown engines: {', '.join(unknown)}; the engines are {', '.join(known)}.")
    permissions = principal.permissions if isinstance(principal, Group) else principal.user_permissions
    engine_permissions_ensure()
    engine_permissions = Permission.objects.filter(
        content_type__app_label="jobs", codename__in=[f"use_engine_{engine}" for engine in known]
    )
    with transaction.atomic():
        permissions.remove(*engine_permissions)
        permissions.add(*engine_permissions.filter(codename__in=[f"use_engine_{engine}" for engine in engines]))


# --- Variables ------------------------------------------------------------------------------------------------
_VARIABLE = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}")


def builtin_variables(now: dt.datetime | None = None) -> dict[str, str]:
    """Linkis's built-in date variables: ``run_date`` is yesterday (yyyyMMdd), as in Linkis."""
    today = timezone.localtime(now).date()
    yesterday = today - dt.timedelta(days=1)
    return {
        "run_date": yesterday.strftime("%Y%m%d"),
        "run_date_std": yesterday.isoformat(),
        "run_today": today.strftime("%Y%m%d"),
        "run_today_std": today.isoformat(),
    }


def substitute_variables(code: str, variables: dict[str, Any]) -> str:
    """Replace ``${name}`` for the job's variables and the built-ins; leave other ``${...}`` (shell's) alone."""
    values = {**builtin_variables(), **{str(k): "" if v is None else str(v) for k, v in variables.items()}}
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), code)


# --- Submission -----------------------------------------------------------------------------------------------
@dataclass
class JobSpec:
    """What any API asks the job core to run."""

    code: str
    engine_type: str
    run_type: str
    creator: str = "IDE"
    params: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    execute_user: str | None = None
    source_api: str = Job.SourceApi.LINKIS
    timeout_seconds: int | None = None
    queue_timeout_seconds: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    grants: dict[str, list[str]] = field(default_factory=dict)  # see Job.grants
    queue: str = ""  # see Job.queue


#: The longest timeout a label may ask for (about 68 years): a bound that keeps absurd values out of the database.
MAX_LABEL_SECONDS = 2**31 - 1


def _positive_seconds(value: Any, label: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        seconds = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a float infinity (1e999 in JSON)
        raise JobRequestError(
            REFUSED_LABELS, f"Label params invalid: {label} must be seconds, got {value!r}."
        ) from None
    if seconds <= 0:
        raise JobRequestError(REFUSED_LABELS, f"Label params invalid: {label} must be positive, got {seconds}.")
    if seconds > MAX_LABEL_SECONDS:
        raise JobRequestError(
            REFUSED_LABELS, f"Label params invalid: {label} must be at most {MAX_LABEL_SECONDS} seconds."
        )
    return seconds


#: ``params.configuration``'s sections, each an object of settings (contracts/linkis.md §3.1).
CONFIGURATION_SECTIONS = ("startup", "runtime", "special")
#: Runtime settings the platform reads itself, and which must be text (the feature store database of a sql job).
TEXT_RUNTIME_SETTINGS = ("openmldb.db", "wds.linkis.openmldb.db")


def _params_check(params: Any) -> dict[str, Any]:
    """Return ``params.variable``, or raise JobRequestError (20008) naming the first part of the wrong type."""
    if not isinstance(params, dict):
        raise JobRequestError(REFUSED_PARAMS, "params must be an object with variable and configuration.")
    variables = params.get("variable") or {}
    if not isinstance(variables, dict):
        raise JobRequestError(REFUSED_PARAMS, "params.variable must be an object of name: value.")
    configuration = params.get("configuration")
    if configuration in (None, ""):
        return variables
    if not isinstance(configuration, dict):
        raise JobRequestError(
            REFUSED_PARAMS, f"params.configuration must be an object of {', '.join(CONFIGURATION_SECTIONS)}."
        )
    for section in CONFIGURATION_SECTIONS:
        value = configuration.get(section)
        if value not in (None, "") and not isinstance(value, dict):
            raise JobRequestError(REFUSED_PARAMS, f"params.configuration.{section} must be an object of name: value.")
    runtime = configuration.get("runtime") or {}
    for name in TEXT_RUNTIME_SETTINGS:
        value = runtime.get(name)
        if value is not None and not isinstance(value, str):
            raise JobRequestError(
                REFUSED_PARAMS, f"params.configuration.runtime.{name} must be a string, got {value!r}."
            )
    return variables


def job_submit(*, owner, spec: JobSpec, may_act_as_others: bool = False) -> Job:
    """Validate a submission, store it as an ``Inited`` job with its first log lines, and wake the runner.

    ``spec.execute_user`` may name another user only for admins or when ``may_act_as_others`` (a Linkis admin
    token). A refused submission raises JobRequestError and leaves no row behind.
    """
    if not isinstance(spec.code, str) or not spec.code.strip():
        raise JobRequestError(REFUSED_CODE, "The param executionCode cannot be empty (参数 executionCode 不能为空)")
    size = len(spec.code.encode("utf-8"))
    if size > settings.JOB_MAX_CODE_BYTES:
        raise JobRequestError(
            REFUSED_CODE,
            f"The param executionCode is {size} bytes, over the limit of {settings.JOB_MAX_CODE_BYTES} bytes.",
        )
    variables = _params_check(spec.params)
    chosen = route(engine_type=spec.engine_type, run_type=spec.run_type)
    engine_require(user=owner, engine=chosen.engine)
    execute_user = spec.execute_user or owner.username
    if execute_user != owner.username and not (may_act_as_others or getattr(owner, "is_admin", False)):
        raise ForbiddenError(f"User {owner.username} may not submit jobs as {execute_user}.", code="execute_user")
    timeout = _positive_seconds(spec.timeout_seconds, "jobRunningTimeout") or settings.JOB_DEFAULT_TIMEOUT
    timeout = min(timeout, settings.JOB_MAX_TIMEOUT)
    queue_timeout = _positive_seconds(spec.queue_timeout_seconds, "jobQueuingTimeout")
    code = substitute_variables(spec.code, variables)

    with transaction.atomic():
        waiting = Job.objects.filter(status__in=QUEUED).count()
        if waiting >= settings.JOB_QUEUE_CAPACITY:
            raise JobQueueFullError(waiting)
        job = Job(
            owner=owner,
            submit_user=owner.username,
            execute_user=execute_user,
            source_api=spec.source_api,
            creator=spec.creator or "IDE",
            engine_type=spec.engine_type,
            run_type=spec.run_type,
            engine=chosen.engine,
            instance=settings.LINKIS_ENTRANCE_ADDRESS,
            code=code,
            params=spec.params,
            source=spec.source,
            labels=spec.labels,
            env={str(key): str(value) for key, value in spec.env.items()},
            grants=spec.grants,
            timeout_seconds=timeout,
            queue_timeout_seconds=queue_timeout,
            queue=spec.queue,
            dispatched_at=dispatch_stamp(spec.queue, owner.username),
        )
        # The fields' own checks; the table's CHECK constraint (progress in [0, 1], here 0) is the database's to
        # enforce, not worth a query per submission.
        job.full_clean(exclude=["owner"], validate_constraints=False)

        def first_lines() -> list[LogEntry]:
            stars = "*" * 36 + "SCRIPT CODE" + "*" * 36
            return [
                LogEntry("INFO", chosen.note),
                LogEntry("INFO", "You have submitted a new job, script code (after variable substitution) is"),
                LogEntry("INFO", stars, stamped=False),
                LogEntry("INFO", code, stamped=False),
                LogEntry("INFO", stars, stamped=False),
                LogEntry(
                    "INFO",
                    f"Your job is accepted,  jobID is {job.exec_id} and taskID is {job.pk} in "
                    f"{job.instance}. Please wait it to be scheduled",
                ),
            ]

        store_log = log_start(job, first_lines)
        job.save()
        store_log()
        job_id, user, dispatched = job.pk, job.submit_user, job.dispatched_at is not None
        transaction.on_commit(lambda: _after_submit(job_id, spec.queue, user=user, dispatched=dispatched))
    return job


def _after_submit(job_id: int, queue: str = "", *, user: str = "", dispatched: bool = True) -> None:
    publish_job_event(job_id, "status", {"status": JobStatus.INITED})
    if queue == "ray":
        from jobs.runners.ray_gang import wake_dispatcher

        wake_dispatcher()
    else:
        notify_runner(job_id, user=user, dispatched=dispatched)


# --- Finish listeners -----------------------------------------------------------------------------------------
# The APIs that run on the job core (OpenPAI's task roles, CDAP's programs) learn of their jobs' ends here:
# ``listener(job_id)`` runs after the commit that made a job of its source API terminal, and ``sweep()`` when the
# runner starts (a crash may have lost finish events).
_finish_listeners: dict[str, Callable[[int], None]] = {}
_sweeps: dict[str, Callable[[], object]] = {}


def on_job_finished(source_api: str, listener: Callable[[int], None], *, sweep: Callable[[], object] | None = None):
    _finish_listeners[source_api] = listener
    if sweep is not None:
        _sweeps[source_api] = sweep


def run_finish_sweeps() -> None:
    for source_api, sweep in list(_sweeps.items()):
        try:
            sweep()
        except Exception:
            logger.exception("finish sweep of %s failed", source_api)


def _job_finished(job_id: int, source_api: str | None = None) -> None:
    if not _finish_listeners:
        return
    if source_api is None:
        source_api = Job.objects.filter(pk=job_id).values_list("source_api", flat=True).first()
    listener = _finish_listeners.get(source_api) if source_api is not None else None
    if listener is None:
        return
    try:
        listener(job_id)
    except Exception:  # a listener's failure must not break the runner; the sweep settles it later
        logger.exception("finish listener of %s failed for job %s", source_api, job_id)


# --- Status ---------------------------------------------------------------------------------------------------
def job_transition(
    *,
    job_id: int,
    to: str,
    log: str | None = None,
    level: str = "INFO",
    only_from: tuple[str, ...] | None = None,
    where: tuple[str, list] | None = None,
    source_api: str | None = None,
    **fields: Any,
) -> bool:
    """Move a job to ``to`` if its current status allows it; return whether this call made the change.

    ``only_from`` narrows the allowed previous statuses further, and ``where`` (SQL and its parameters: a condition
    on the job's row) adds a condition of the caller's to the same UPDATE. Terminal statuses are final: a kill
    after ``Succeed`` keeps ``Succeed``. Reaching a terminal status sets ``finished_at``; ``Succeed`` sets progress
    1.0, and a job that failed, was cancelled or timed out keeps the progress it had reached. Subscribers hear of
    the change after commit. ``source_api``: the job's, when the caller knows it (finish listeners need not look it
    up).
    """
    allowed = tuple(s for s in TRANSITIONS.get(to, ()) if only_from is None or s in only_from)
    now = timezone.now()
    updates: dict[str, Any] = {"status": to, "updated_at": now, **fields}
    if to in (JobStatus.SUCCEED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMEOUT):
        updates.setdefault("finished_at", now)
    if to == JobStatus.SUCCEED:
        updates.setdefault("progress", 1.0)
    # No savepoint inside a caller's transaction (a claim): a failure here fails the caller's whole write anyway.
    with transaction.atomic(savepoint=False):
        changed = _update_job(job_id, allowed, updates, where) == 1
        if changed:
            if log:
                log_append(job_id=job_id, entries=[LogEntry(level, log)])
            payload = {"status": str(to)}
            if "progress" in updates:
                payload["progress"] = updates["progress"]
            transaction.on_commit(lambda: publish_job_event(job_id, "status", payload))
            if to in TERMINAL:
                transaction.on_commit(lambda: _job_finished(job_id, source_api))
    return changed


_JOB_FIELDS = {field.name: field for field in Job._meta.concrete_fields}


def _update_job(job_id: int, allowed: tuple[str, ...], updates: dict[str, Any], where: tuple[str, list] | None) -> int:
    """``UPDATE`` the job's row (plain values, no expressions) if its status is one of ``allowed`` and ``where``
    holds; return the number of rows changed.

    Written out from the fields' definitions rather than built by the ORM: building the query costs about ten
    times what PostgreSQL spends on it, and every job changes status three times or more."""
    if not allowed:
        return 0
    quote = connection.ops.quote_name
    fields = [_JOB_FIELDS[name] for name in updates]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    statuses = ", ".join(["%s"] * len(allowed))
    sql = f"UPDATE {quote(Job._meta.db_table)} SET {assignments} WHERE id = %s AND status IN ({statuses})"  # noqa: S608
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, updates.values(), strict=True)]
    params += [job_id, *allowed]
    if where is not None:
        sql += f" AND ({where[0]})"
        params += where[1]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def job_report_progress(*, job_id: int, progress: float, progress_info: list | None = None) -> bool:
    """Record a running job's progress (clamped to [0, 1], never backwards) and notify subscribers."""
    value = min(max(float(progress), 0.0), 1.0)
    fields: dict[str, Any] = {"progress": value}
    if progress_info is not None:
        fields["progress_info"] = progress_info
    changed = Job.objects.filter(pk=job_id, status__in=ACTIVE, progress__lte=value).update(**fields) == 1
    if changed:
        publish_job_event(job_id, "progress", {"progress": value, "progress_info": progress_info or []})
    return changed


def job_kill(*, job: Job, actor, authorized: bool = False) -> Job:
    """Cancel a queued job at once, or ask the runner to end a running one's process tree.

    Raises ForbiddenError for another user's job (unless admin, or ``authorized``: the calling service has
    checked the actor's right, e.g. to stop a shared application's program) and ConflictError for a finished one.
    """
    if not (authorized or getattr(actor, "is_admin", False) or job.owner_id == actor.pk):
        raise ForbiddenError(
            f"You have no permission to kill this job, excecute by user:{job.execute_user}", code="not_owner"
        )
    job.refresh_from_db(fields=["status"])
    if job.is_terminal:
        raise ConflictError("The job already completed. Do not support kill.", code="completed")
    now = timezone.now()
    if job_transition(
        job_id=job.pk,
        to=JobStatus.CANCELLED,
        log=f"Job {job.pk} was kill by user successfully(任务{job.pk}已成功取消)",
        kill_requested_at=now,
        kill_requested_by=actor.username,
        only_from=QUEUED,
    ):
        transaction.on_commit(lambda: slot_freed(job.submit_user))
        job.refresh_from_db()
        return job
    with transaction.atomic():
        requested = (
            Job.objects.filter(pk=job.pk, status__in=ACTIVE, kill_requested_at__isnull=True).update(
                kill_requested_at=now, kill_requested_by=actor.username
            )
            == 1
        )
        if requested:
            log_append(job_id=job.pk, entries=[LogEntry("INFO", f"Kill requested by {actor.username}.")])
    transaction.on_commit(lambda: kill_on_runner(job.pk))
    job.refresh_from_db()
    return job
