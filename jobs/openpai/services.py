"""Write paths of OpenPAI jobs: submit, stop, delete, and the completion policy that decides a job's end.

Each task instance (role, index) of an attempt is one job-core job: a shell process running the role's
``command`` with OpenPAI's environment variables. When a task's job ends, ``pai_task_finished`` (a job-core
finish listener) applies the completion policy under the OpenPAI job's row lock:

- a role whose failed tasks reach its ``minFailedTaskCount`` fails the job (the failing task's exit code and
  the tail of its stderr become ``appExitCode`` and ``appExitDiagnostics``);
- a role whose succeeded tasks reach its ``minSucceededTaskCount`` makes it succeed;
- otherwise the job succeeds once every task has ended (failures below a role's threshold are tolerated);
- when it is decided, the tasks still running are killed; a failure with retries left starts a new attempt
  (every task again) instead; a STOP ends every task and the job as STOPPED (exit code 214, as upstream).

Errors carry OpenPAI v0.7's codes (``NoJobError``, ``ConflictJobError``...); the seed's views rename them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from dataplatform.api.exceptions import (
    ApplicationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from jobs.models import (
    NON_TERMINAL,
    PAI_FINAL_STATES,
    QUEUED,
    Job,
    JobErrorCode,
    JobLogLine,
    JobStatus,
    PaiJob,
    PaiJobState,
    PaiTask,
    RayNode,
)
from jobs.openpai import capacity
from jobs.openpai.config import ConfigError, resolve_dirs, validate_config
from jobs.procs import free_ports
from jobs.sandbox import Grants
from jobs.services import JobQueueFullError, JobSpec, engine_require, job_kill, job_submit, job_transition

logger = logging.getLogger(__name__)

STOPPED_EXIT_CODE = 214  # FrameworkLauncher's exit code of a stopped framework (upstream: STOPPED)
HOST = "127.0.0.1"
DIAGNOSTIC_LINES = 20
SUCCEEDED_TASK = (JobStatus.SUCCEED,)
FAILED_TASK = (JobStatus.FAILED, JobStatus.TIMEOUT, JobStatus.CANCELLED)


class QueueFullError(ApplicationError):
    """The job core's queue cannot take the job's tasks now (a temporary condition: retry later)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="UnknownError")


def _is_admin(user) -> bool:
    return bool(getattr(user, "is_admin", False))


def user_virtual_clusters(user) -> list[str]:
    return [vc.strip() for vc in (getattr(user, "virtual_clusters", "") or "").split(",") if vc.strip()]


# --- submit ----------------------------------------------------------------------------------------------------
def pai_job_submit(*, owner, data, raw: str, name: str | None = None, replace_finished: bool = False) -> PaiJob:
    """Validate a job config and start its first attempt; refuse (409) a name the owner already uses.

    ``replace_finished`` (the seed's PUT, "submit or update"): a finished job of that name is replaced.
    """
    try:
        config = validate_config(data, name=name)
    except ConfigError as error:
        raise InvalidInputError(error.message, code="InvalidParametersError") from None
    try:
        engine_require(user=owner, engine="shell")  # every task runs its command on the shell engine
    except ForbiddenError as error:
        raise ForbiddenError(error.message, code="ForbiddenUserError") from None
    vc = config["virtualCluster"] or "default"
    if vc not in settings.OPENPAI_VIRTUAL_CLUSTERS:
        raise NotFoundError(f"Virtual cluster {vc} is not found.", code="NoVirtualClusterError")
    if not _is_admin(owner) and vc not in user_virtual_clusters(owner):
        raise ForbiddenError(f"User {owner.username} is not allowed to do operation in {vc}", code="ForbiddenUserError")
    if settings.OPENPAI_RUNNER == "ray":
        _check_capacity(config, vc)
    default_fs = str(settings.OPENPAI_DEFAULT_FS)
    resolved = resolve_dirs(config, username=owner.username, default_fs=default_fs)
    job_name = config["jobName"]
    # The outputDir exists before any task can start (a task's sandbox mounts it only if it does).
    for output in task_grants(resolved, username=owner.username).read_write:
        with contextlib.suppress(OSError):
            Path(output).mkdir(parents=True, exist_ok=True)
    with transaction.atomic():
        existing = PaiJob.objects.select_for_update().filter(owner=owner, name=job_name).first()
        if existing is not None:
            if not (replace_finished and existing.is_final):
                raise ConflictError(f"Job name {job_name} already exists", code="ConflictJobError")
            existing.delete()
        try:
            with transaction.atomic():
                pai = PaiJob.objects.create(
                    owner=owner,
                    name=job_name,
                    config_raw=raw,
                    config=resolved,
                    virtual_cluster=vc,
                    image=config["image"],
                    retry_count=config["retryCount"],
                )
        except IntegrityError:
            raise ConflictError(f"Job name {job_name} already exists", code="ConflictJobError") from None
        try:
            _submit_attempt(pai)
        except JobQueueFullError as error:
            raise QueueFullError(f"{error.message} The job was not submitted; retry later.") from None
    return pai


def _check_capacity(config: dict, vc: str) -> None:
    """Refuse a job that could never start on the Ray cluster as the dispatcher last saw it: a role no node could
    hold one task of, or needs beyond its virtual cluster's share (``InvalidParametersError``, naming them)."""
    nodes = [node.total for node in RayNode.objects.filter(alive=True)]
    if not nodes:
        return  # no cluster seen yet: the dispatcher checks when it places the job
    reason = capacity.job_never_fits(config["taskRoles"], nodes)
    if reason is not None:
        raise InvalidInputError(f"The job cannot be placed: {reason}.", code="InvalidParametersError")
    share = capacity.configured_shares().get(vc)
    if share is None:
        return
    limit = capacity.vc_capacity(share, capacity.total(nodes))
    missing = capacity.short(capacity.job_resources(config["taskRoles"]), limit)
    if missing:
        raise InvalidInputError(
            f"The job needs more than virtual cluster {vc}'s share of the cluster: {'; '.join(missing)} "
            "(free in the whole share).",
            code="InvalidParametersError",
        )


def user_area(username: str) -> Path:
    """The part of ``$PAI_DEFAULT_FS_URI`` that only ``username``'s tasks may write: ``Output/<username>``."""
    return Path(settings.OPENPAI_DEFAULT_FS) / "Output" / username


def task_grants(config: dict, *, username: str) -> Grants:
    """What a task's sandbox shows of ``$PAI_DEFAULT_FS_URI``, as HDFS permissions would allow upstream.

    ``dataDir`` and ``codeDir`` are readable (read-only) anywhere in it except other users' ``Output/<user>``
    areas (and not the whole file system, which holds them); ``outputDir`` is writable inside the user's own
    ``Output/<username>``. Other paths are not shown: the task fails to read or write them, in its own log.
    """
    fs = Path(settings.OPENPAI_DEFAULT_FS)
    own = user_area(username)

    def inside(raw: str) -> Path | None:
        if not raw:
            return None
        path = Path(os.path.normpath(raw))
        return path if path.is_absolute() and path.is_relative_to(fs) and path != fs else None

    read_only = []
    for key in ("dataDir", "codeDir"):
        path = inside(config.get(key) or "")
        if path is None or path == fs / "Output":
            continue
        if path.is_relative_to(fs / "Output") and not path.is_relative_to(own):
            continue
        read_only.append(str(path))
    output = inside(config.get("outputDir") or "")
    read_write = [str(output)] if output is not None and output.is_relative_to(own) else []
    return Grants(read_only=tuple(dict.fromkeys(read_only)), read_write=tuple(read_write))


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on this host right now."""
    return free_ports(HOST, count)


def _random_port_count(role: dict) -> int:
    port_list = role["portList"] or [{"label": "default", "beginAt": 0, "portNumber": 1}]
    return sum(port["portNumber"] for port in port_list if not port["beginAt"]) * role["taskNumber"]


def _task_ports(role: dict, pool, first_index: int = 0) -> list[dict[str, list[int]]]:
    """Ports of each task of the role: {label: [ports]}; a role without portList gets one ``default`` port.

    Every task runs on this host, so a fixed ``beginAt`` is given out task by task (task i starts at
    ``beginAt + i * portNumber``), and the other ports come from ``pool`` (free ports, distinct within the job).
    """
    port_list = role["portList"] or [{"label": "default", "beginAt": 0, "portNumber": 1}]
    out = []
    for index in range(first_index, first_index + role["taskNumber"]):
        ports: dict[str, list[int]] = {}
        for port in port_list:
            if port["beginAt"]:
                start = port["beginAt"] + index * port["portNumber"]
                ports[port["label"]] = list(range(start, start + port["portNumber"]))
            else:
                ports[port["label"]] = [next(pool) for _ in range(port["portNumber"])]
        out.append(ports)
    return out


TaskKey = tuple[str, int]  # (role, index)


def _task_environments(
    pai: PaiJob,
    hosts: dict[TaskKey, str],
    ports: dict[str, list[dict[str, list[int]]]],
    gpus: dict[TaskKey, list[str]] | None = None,
) -> dict[TaskKey, dict[str, str]]:
    """OpenPAI's environment of every task instance (role, index): the job's, its peers' hosts and ports, its own."""
    config = pai.config
    roles = pai.roles()
    common = {
        "PAI_JOB_NAME": pai.name,
        "PAI_USER_NAME": pai.owner.username,
        "PAI_DEFAULT_FS_URI": str(settings.OPENPAI_DEFAULT_FS),
        "PAI_DATA_DIR": config["dataDir"],
        "PAI_OUTPUT_DIR": config["outputDir"],
        "PAI_CODE_DIR": config["codeDir"],
        "PAI_AUTH_FILE": config["authFile"],
        "PAI_JOB_VC_NAME": pai.virtual_cluster,
        "PAI_JOB_ATTEMPT": str(pai.attempt),
        "PAI_TASK_ROLE_COUNT": str(len(roles)),
        "PAI_TASK_ROLE_LIST": ",".join(role["name"] for role in roles),
    }
    for role in roles:
        common[f"PAI_TASK_ROLE_TASK_COUNT_{role['name']}"] = str(role["taskNumber"])
        common[f"PAI_TASK_ROLE_{role['name']}_HOST_LIST"] = ",".join(
            f"{hosts[role['name'], index]}:{next(iter(task_ports.values()))[0]}"
            for index, task_ports in enumerate(ports[role["name"]])
        )
    out = {}
    for role in roles:
        for index, task_ports in enumerate(ports[role["name"]]):
            first_port = next(iter(task_ports.values()))[0]
            host = hosts[role["name"], index]
            env = {
                **config.get("jobEnvs", {}),
                **common,
                "PAI_CURRENT_TASK_ROLE_NAME": role["name"],
                "PAI_CURRENT_TASK_ROLE_CURRENT_TASK_INDEX": str(index),
                "PAI_CURRENT_TASK_ROLE_CPU_COUNT": str(role["cpuNumber"]),
                "PAI_CURRENT_TASK_ROLE_MEM_MB": str(role["memoryMB"]),
                "PAI_CURRENT_TASK_ROLE_SHM_MB": str(role["shmMB"]),
                "PAI_CURRENT_TASK_ROLE_GPU_COUNT": str(role["gpuNumber"]),
                "PAI_CURRENT_CONTAINER_IP": host,
                "PAI_CURRENT_CONTAINER_PORT": str(first_port),
                "PAI_CONTAINER_HOST_IP": host,
                "PAI_CONTAINER_HOST_PORT": str(first_port),
                "PAI_CONTAINER_HOST_PORT_LIST": ";".join(
                    f"{label}:{','.join(map(str, values))}" for label, values in task_ports.items()
                ),
            }
            for label, values in task_ports.items():
                env[f"PAI_CONTAINER_HOST_{label}_PORT_LIST"] = ",".join(map(str, values))
            if gpus is not None:
                # Only its own GPUs: the ids Ray gave the task's bundle (none at all for a role without GPUs).
                env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus.get((role["name"], index), []))
                env["PAI_CURRENT_TASK_ROLE_GPU_LIST"] = env["CUDA_VISIBLE_DEVICES"]
            out[role["name"], index] = env
    return out


def _submit_attempt(pai: PaiJob) -> None:
    """Inside a transaction: submit every task instance of the job's current attempt to the job core.

    With the ``ray`` runner the tasks queue for the gang dispatcher, which gives them their hosts, ports and GPUs
    once the job's placement group is placed (``pai_gang_placed``); otherwise they run on this host.
    """
    config = pai.config
    roles = pai.roles()
    on_ray = settings.OPENPAI_RUNNER == "ray"
    ports: dict[str, list[dict[str, list[int]]]]
    if on_ray:
        ports = {role["name"]: [{} for _ in range(role["taskNumber"])] for role in roles}
        environments: dict[tuple[str, int], dict[str, str]] = {}
    else:
        pool = iter(_free_ports(sum(_random_port_count(role) for role in roles)))
        ports = {role["name"]: _task_ports(role, pool) for role in roles}
        hosts = {(role["name"], index): HOST for role in roles for index in range(role["taskNumber"])}
        environments = _task_environments(pai, hosts, ports)
    tasks = []
    grants = task_grants(config, username=pai.owner.username).to_json()
    for role in roles:
        for index, task_ports in enumerate(ports[role["name"]]):
            spec = JobSpec(
                code=role["command"],
                engine_type="shell-1",
                run_type="shell",
                creator="OpenPAI",
                source={
                    "openpai": {
                        "job": pai.name,
                        "user": pai.owner.username,
                        "role": role["name"],
                        "index": index,
                        "attempt": pai.attempt,
                    }
                },  # fmt: skip
                labels={"openpai.job": f"{pai.owner.username}~{pai.name}"},
                source_api=Job.SourceApi.OPENPAI,
                timeout_seconds=settings.JOB_MAX_TIMEOUT,
                env=environments.get((role["name"], index), {}),
                grants=grants,
                queue="ray" if on_ray else "",
            )
            job = job_submit(owner=pai.owner, spec=spec)
            tasks.append(PaiTask(pai_job=pai, attempt=pai.attempt, role=role["name"], index=index, job=job,
                                 ports=task_ports))  # fmt: skip
    PaiTask.objects.bulk_create(tasks)
    if on_ray:  # until the dispatcher says more (or places it)
        pai.waiting_reason = "Queued for the Ray cluster: the gang dispatcher has not placed the job yet."
        PaiJob.objects.filter(pk=pai.pk).update(waiting_reason=pai.waiting_reason)


# --- the ray runner: placement ------------------------------------------------------------------------------------
def pai_gang_placed(*, pai_job_id: int, attempt: int, nodes: dict[tuple[str, int], dict]) -> bool:
    """The job's placement group is placed: give each task its node, ports and GPUs, and its environment.

    ``nodes``: for each task (role, index) ``{"ip", "gpus", "free_ports"}`` (free ports on its node, enough for
    its role's random ports). Return False when the attempt is no longer current (stopped, retried, deleted).
    """
    with transaction.atomic():
        pai = PaiJob.objects.select_for_update().select_related("owner").filter(pk=pai_job_id).first()
        if pai is None or pai.is_final or pai.attempt != attempt or pai.execution_type == "STOP":
            return False
        roles = pai.roles()
        ports: dict[str, list[dict[str, list[int]]]] = {}
        for role in roles:
            ports[role["name"]] = []
            for index in range(role["taskNumber"]):
                pool = iter(nodes[role["name"], index]["free_ports"])
                ports[role["name"]] += _task_ports({**role, "taskNumber": 1}, pool, first_index=index)
        hosts = {key: node["ip"] for key, node in nodes.items()}
        gpus = {key: list(node["gpus"]) for key, node in nodes.items()}
        environments = _task_environments(pai, hosts, ports, gpus)
        for task in pai.tasks.filter(attempt=attempt).select_related("job"):
            key = (task.role, task.index)
            task.host, task.gpus = hosts[key], gpus[key]
            task.ports = ports[task.role][task.index]
            task.save(update_fields=["host", "gpus", "ports"])
            if task.job is not None:
                Job.objects.filter(pk=task.job.pk).update(env=environments[key])
        if pai.waiting_reason:
            pai.waiting_reason = ""
            pai.save(update_fields=["waiting_reason"])
    return True


def pai_gang_waiting(*, pai_job_id: int, reason: str) -> None:
    """Say why the job's gang waits (which resource is short); "" once it no longer waits."""
    PaiJob.objects.filter(pk=pai_job_id).exclude(waiting_reason=reason).update(waiting_reason=reason)


def pai_gang_refused(*, pai_job_id: int, attempt: int, reason: str) -> bool:
    """The job's gang can never be placed (the cluster has no node that could hold a task): end it FAILED, with
    the reason, without retries (another attempt would not fit either)."""
    with transaction.atomic():
        pai = PaiJob.objects.select_for_update().select_related("owner").filter(pk=pai_job_id).first()
        if pai is None or pai.is_final or pai.attempt != attempt:
            return False
        pai.waiting_reason = ""
        pai.save(update_fields=["waiting_reason"])
        for job_id in pai.tasks.filter(attempt=attempt, job__status__in=NON_TERMINAL).values_list("job_id", flat=True):
            job_transition(
                job_id=job_id,
                to=JobStatus.FAILED,
                only_from=QUEUED,
                log=reason,
                level="ERROR",
                error_code=JobErrorCode.ENGINE_UNAVAILABLE,
                error_desc=reason,
            )
        return _finish(pai, PaiJobState.FAILED, 1, reason, "NON_TRANSIENT")


# --- stop, start, delete ---------------------------------------------------------------------------------------
def _check_owner(pai: PaiJob, actor, verb: str) -> None:
    if not (_is_admin(actor) or pai.owner_id == getattr(actor, "pk", None)):
        raise ForbiddenError(
            f"User {actor.username} is not allowed to {verb} job {pai.name}.", code="ForbiddenUserError"
        )


def _kill_live_tasks(pai: PaiJob, actor) -> None:
    for task in pai.tasks.filter(attempt=pai.attempt, job__status__in=NON_TERMINAL).select_related("job"):
        if task.job is None:
            continue
        with contextlib.suppress(ConflictError):  # it ended meanwhile
            job_kill(job=task.job, actor=actor, authorized=True)


def pai_job_execute(*, pai: PaiJob, actor, value: str) -> PaiJob:
    """``executionType``: STOP ends every task and the job (STOPPED); START on a live job changes nothing."""
    _check_owner(pai, actor, "execute")
    with transaction.atomic():
        locked = PaiJob.objects.select_for_update().select_related("owner").get(pk=pai.pk)
        if locked.is_final:
            raise ConflictError(
                f"Job {locked.name} has already completed ({locked.state}); submit it again to run it.",
                code="ConflictJobError",
            )
        if value == "START":
            if locked.execution_type == "STOP":
                raise ConflictError(f"Job {locked.name} is stopping; it cannot be started.", code="ConflictJobError")
            return locked
        locked.execution_type = "STOP"
        locked.exit_diagnostics = f"Stopped by {actor.username}."
        locked.save(update_fields=["execution_type", "exit_diagnostics"])
        _kill_live_tasks(locked, actor)
    pai_settle(pai_job_id=locked.pk)
    locked.refresh_from_db()
    return locked


def pai_job_delete(*, pai: PaiJob, actor) -> None:
    """Stop the job's tasks and forget the job (its tasks stay in the job history)."""
    _check_owner(pai, actor, "remove")
    with transaction.atomic():
        locked = PaiJob.objects.select_for_update().filter(pk=pai.pk).first()
        if locked is None:
            return
        _kill_live_tasks(locked, actor)
        locked.delete()


# --- the completion policy -------------------------------------------------------------------------------------
def pai_task_finished(job_id: int) -> None:
    """Job-core finish listener: a task's job ended, so its OpenPAI job may be decided."""
    pai_job_id = PaiTask.objects.filter(job_id=job_id).values_list("pai_job_id", flat=True).first()
    if pai_job_id is not None:
        pai_settle(pai_job_id=pai_job_id)


def pai_settle_all() -> int:
    """Decide every undecided job whose tasks have all ended (after a restart lost their finish events)."""
    settled = 0
    for pai_id in PaiJob.objects.exclude(state__in=PAI_FINAL_STATES).values_list("pk", flat=True):
        settled += pai_settle(pai_job_id=pai_id)
    return settled


_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [A-Z]+ ")


def _stderr_tail(job: Job | None) -> list[str]:
    """The task's last stderr lines (its ERROR log lines without stamps, minus the runner's closing summary)."""
    if job is None:
        return []
    rows = JobLogLine.objects.filter(job=job, level="ERROR").order_by("-line_no")[: DIAGNOSTIC_LINES + 1]
    lines = [_STAMP.sub("", row.text) for row in reversed(rows)]
    if lines and job.error_desc and lines[-1] == job.error_desc.strip():
        lines.pop()  # the runner's own "the job failed: <last stderr line>" entry
    return lines[-DIAGNOSTIC_LINES:]


def pai_settle(*, pai_job_id: int) -> bool:
    """Apply the completion policy to the job's current attempt; return whether the job was decided."""
    with transaction.atomic():
        pai = PaiJob.objects.select_for_update().select_related("owner").filter(pk=pai_job_id).first()
        if pai is None or pai.is_final:
            return False
        tasks = list(pai.tasks.filter(attempt=pai.attempt).select_related("job"))
        live = [t for t in tasks if t.job is not None and t.job.status in NON_TERMINAL]
        if pai.execution_type == "STOP":
            if live:
                return False
            return _finish(pai, PaiJobState.STOPPED, STOPPED_EXIT_CODE, pai.exit_diagnostics, "NON_TRANSIENT")

        ended = sorted(
            (t for t in tasks if t.job is None or t.job.status not in NON_TERMINAL),
            key=lambda t: t.job.finished_at if t.job and t.job.finished_at else timezone.now(),
        )
        outcome, culprit = None, None
        failed: dict[str, int] = {}
        succeeded: dict[str, int] = {}
        rules = {role["name"]: role for role in pai.roles()}
        for task in ended:  # in the order the tasks ended: the first rule reached decides
            status = task.job.status if task.job else JobStatus.FAILED
            role = rules.get(task.role, {})
            if status in SUCCEEDED_TASK:
                succeeded[task.role] = succeeded.get(task.role, 0) + 1
                threshold = role.get("minSucceededTaskCount")
                if threshold is not None and succeeded[task.role] >= threshold:
                    outcome = PaiJobState.SUCCEEDED
            else:
                failed[task.role] = failed.get(task.role, 0) + 1
                threshold = role.get("minFailedTaskCount")
                if threshold is not None and failed[task.role] >= threshold:
                    outcome, culprit = PaiJobState.FAILED, task
            if outcome is not None:
                break
        if outcome is None:
            if live:
                return False
            outcome = PaiJobState.SUCCEEDED
        if live:
            _kill_live_tasks(pai, pai.owner)
        if outcome == PaiJobState.SUCCEEDED:
            return _finish(pai, outcome, 0, "", "SUCCEEDED")

        job = culprit.job if culprit else None
        exit_code = job.exit_code if job is not None and job.exit_code is not None else 1
        where = f"Task {culprit.role}[{culprit.index}]" if culprit else "A task"
        diagnostics = f"{where} failed with exit code {exit_code}."
        tail = _stderr_tail(job)
        if tail:
            diagnostics += "\nstderr (last lines):\n" + "\n".join(tail)
        elif job is not None and job.error_desc:
            diagnostics += f" {job.error_desc}"
        if _retries_left(pai):
            try:
                with transaction.atomic():
                    pai.attempt += 1
                    pai.retries += 1
                    pai.exit_code = exit_code
                    pai.exit_diagnostics = f"Attempt {pai.attempt - 1}: {diagnostics}"
                    pai.exit_type = "TRANSIENT_NORMAL"
                    pai.save(update_fields=["attempt", "retries", "exit_code", "exit_diagnostics", "exit_type"])
                    _submit_attempt(pai)
                return False
            except (JobQueueFullError, ForbiddenError) as error:  # the queue is full, or the shell right revoked
                pai.refresh_from_db()  # the attempt was rolled back with its savepoint
                diagnostics += f"\nThe retry could not be queued: {error.message}"
        return _finish(pai, PaiJobState.FAILED, exit_code, diagnostics, "NON_TRANSIENT")


def _retries_left(pai: PaiJob) -> bool:
    if pai.retry_count == -1:
        return pai.retries < settings.OPENPAI_MAX_RETRIES
    return pai.retries < max(pai.retry_count, 0)


def _finish(pai: PaiJob, state: str, exit_code: int, diagnostics: str, exit_type: str) -> bool:
    pai.state = state
    pai.exit_code = exit_code
    pai.exit_diagnostics = diagnostics
    pai.exit_type = exit_type
    pai.completed_at = timezone.now()
    pai.save(update_fields=["state", "exit_code", "exit_diagnostics", "exit_type", "completed_at"])
    logger.info("OpenPAI job %s ended %s (exit code %s)", pai, state, exit_code)
    return True
