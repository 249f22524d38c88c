"""Read paths of OpenPAI jobs: lookup by name, lists, and the status objects of both API generations.

An undecided job is WAITING until a task of its current attempt has started and RUNNING after; a decided one has
its stored state. Times are epoch milliseconds, as upstream's.

Naming, as in every app: ``<entity>_get(...)`` returns the object or None; ``<entity>_get_or_error(...)`` raises
``NotFoundError`` with OpenPAI's ``NoJobError`` text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Min, Q, QuerySet

from dataplatform.api.exceptions import NotFoundError
from dataplatform.querycache import CompiledQuery
from jobs.models import (
    ACTIVE,
    NON_TERMINAL,
    PAI_FINAL_STATES,
    QUEUED,
    Job,
    JobStatus,
    PaiJob,
    PaiJobState,
    PaiTask,
    RayNode,
)
from jobs.openpai import capacity, protocol

SUB_STATES: dict[str, str] = {
    PaiJobState.WAITING: "FRAMEWORK_WAITING",
    PaiJobState.RUNNING: "APPLICATION_RUNNING",
}


def no_job(name: str) -> NotFoundError:
    return NotFoundError(f"Job {name} is not found.", code="NoJobError")


# The lookups behind every read of one job, compiled once (dataplatform/querycache.py); first() in the model's order.
_JOB_OF_USERNAME = CompiledQuery(
    lambda name, username: PaiJob.objects.filter(name=name, owner__username=username).select_related("owner")[:1],
    name=str,
    username=str,
)
_JOB_OF_OWNER = CompiledQuery(
    lambda name, owner: PaiJob.objects.filter(name=name, owner_id=owner).select_related("owner")[:1],
    name=str,
    owner=int,
)
_NEWEST_JOB = CompiledQuery(
    lambda name: PaiJob.objects.filter(name=name).select_related("owner").order_by("-created_at", "-id")[:1], name=str
)
# A task's job as the status and detail read it: its state, times and exit code, not its code, log or variables.
_TASK_JOB_UNREAD = ("code", "params", "source", "labels", "env", "grants", "progress_info", "error_desc")
_CURRENT_TASKS = CompiledQuery(
    lambda job, attempt: (
        PaiTask.objects.filter(pai_job_id=job, attempt=attempt)
        .select_related("job")
        .defer(*(f"job__{name}" for name in _TASK_JOB_UNREAD))
        .order_by("role", "index")
    ),
    job=int,
    attempt=int,
)


def pai_job_get_or_error(*, name: str, username: str | None = None, viewer=None) -> PaiJob:
    """The job a name means: ``user~job`` or a username names it exactly; otherwise the viewer's own job of that
    name, else the newest job of that name (names are unique per owner, as v0.8+ namespaces them)."""
    if username is None and "~" in name:
        username, name = name.split("~", 1)
    if username is not None:
        found = _JOB_OF_USERNAME.first(name=name, username=username)
    else:
        found = None
        if getattr(viewer, "is_authenticated", False):
            found = _JOB_OF_OWNER.first(name=name, owner=viewer.pk)
        if found is None:
            found = _NEWEST_JOB.first(name=name)
    if found is None:
        raise no_job(name)
    return found


def pai_job_list(*, username: str | None = None) -> QuerySet[PaiJob]:
    """Jobs newest first, each annotated with when its current attempt first started a task."""
    qs = PaiJob.objects.select_related("owner").annotate(
        launched_at=Min("tasks__job__started_at", filter=Q(tasks__attempt=F("attempt")))
    )
    if username:
        qs = qs.filter(owner__username=username)
    return qs.order_by("-created_at", "-id")


_LISTED = CompiledQuery(lambda: pai_job_list())
_LISTED_OF = CompiledQuery(lambda username: pai_job_list(username=username), username=str)


def pai_jobs_listed(*, username: str | None = None) -> list[PaiJob]:
    """``pai_job_list``'s jobs, by queries compiled once (the list routes read them on every poll)."""
    return _LISTED_OF.all(username=username) if username else _LISTED.all()


def _ms(value) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def _launched_at(pai: PaiJob):
    """When the job's current attempt first started a task (annotated by ``pai_job_list``)."""
    return getattr(pai, "launched_at", None)


def _state(pai: PaiJob, launched_at) -> str:
    if pai.is_final:
        return pai.state
    return PaiJobState.RUNNING if launched_at is not None else PaiJobState.WAITING


def _current_tasks(pai: PaiJob) -> list[PaiTask]:
    tasks = _CURRENT_TASKS.all(job=pai.pk, attempt=pai.attempt)
    for task in tasks:
        task.pai_job = pai  # as the related manager sets it
    return tasks


def _app_id(pai: PaiJob) -> str:
    return f"application_{_ms(pai.created_at)}_{pai.pk:04d}"


def tracking_url(pai: PaiJob) -> str:
    return f"/api/v1/user/{pai.owner.username}/jobs/{pai.name}"


def seed_list_item(pai: PaiJob) -> dict:
    return {
        "name": pai.name,
        "username": pai.owner.username,
        "state": _state(pai, _launched_at(pai)),
        "retries": pai.retries,
        "createdTime": _ms(pai.created_at),
        "completedTime": _ms(pai.completed_at),
        "appTrackingUrl": tracking_url(pai),
        "appExitType": pai.exit_type or None,
    }


def v1_list_item(pai: PaiJob) -> dict:
    state = _state(pai, _launched_at(pai))
    return {
        "name": pai.name,
        "username": pai.owner.username,
        "state": state,
        "subState": SUB_STATES.get(state, "FRAMEWORK_COMPLETED"),
        "executionType": pai.execution_type,
        "retries": pai.retries,
        "createdTime": _ms(pai.created_at),
        "completedTime": _ms(pai.completed_at),
        "appExitCode": pai.exit_code if pai.is_final else None,
        "virtualCluster": pai.virtual_cluster,
    }


# --- what only the owner and admins see ----------------------------------------------------------------------------
#: Reading a job needs no login, as upstream; its private parts are the owner's and admins' only.
REDACTED = "******"
_DIAGNOSTICS_HEAD = re.compile(r"^(.*?failed with exit code -?\d+\.)", re.DOTALL)


def sees_private(pai: PaiJob, viewer) -> bool:
    """Whether ``viewer`` may see the job's environment values and its tasks' stderr (owner or admin)."""
    if viewer is None or not getattr(viewer, "is_authenticated", False):
        return False
    return bool(getattr(viewer, "is_admin", False) or pai.owner_id == viewer.pk)


def exit_diagnostics(pai: PaiJob, viewer=None) -> str:
    """``appExitDiagnostics``: in full for the owner and admins; for others only which task failed with which
    exit code (what follows, the task's stderr or its engine's error, may hold anything the job printed)."""
    text = pai.exit_diagnostics or ""
    if sees_private(pai, viewer):
        return text
    match = _DIAGNOSTICS_HEAD.match(text)
    if match is None or match.group(1) == text:
        return text
    return f"{match.group(1)} (Details are shown to the job's owner and admins.)"


def job_config(pai: PaiJob, viewer=None):
    """The config body as it was submitted (a v2 protocol's YAML read as v0.14 reads it, its secrets masked when
    stored); for anyone but the owner and admins, ``jobEnvs`` values are hidden (the keys and the shape stay)."""
    try:
        config = json.loads(pai.config_raw)
    except ValueError:
        try:
            config = protocol.load(pai.config_raw)
        except protocol.ProtocolError:
            config = pai.config_raw
    if sees_private(pai, viewer):
        return config
    if isinstance(config, dict) and isinstance(config.get("jobEnvs"), dict):
        return {**config, "jobEnvs": dict.fromkeys(config["jobEnvs"], REDACTED)}
    if not isinstance(config, dict):
        return REDACTED
    return config


def job_status(pai: PaiJob, tasks: list[PaiTask] | None = None, viewer=None) -> dict:
    """The flat status object (the seed's GET /api/job/:jobName, and v1's ``jobStatus``), as ``viewer`` may see it."""
    tasks = _current_tasks(pai) if tasks is None else tasks
    started = [t.job.started_at for t in tasks if t.job is not None and t.job.started_at is not None]
    launched = min(started) if started else None
    state = _state(pai, launched)
    ended = sum(1 for t in tasks if t.job is None or t.job.status not in NON_TERMINAL)
    return {
        "name": pai.name,
        "username": pai.owner.username,
        "state": state,
        "subState": SUB_STATES.get(state, "FRAMEWORK_COMPLETED"),
        "executionType": pai.execution_type,
        "retries": pai.retries,
        "createdTime": _ms(pai.created_at),
        "completedTime": _ms(pai.completed_at),
        "appId": _app_id(pai),
        "appProgress": 1.0 if pai.is_final else round(ended / len(tasks), 4) if tasks else 0.0,
        "appTrackingUrl": tracking_url(pai),
        "appLaunchedTime": _ms(launched),
        "appCompletedTime": _ms(pai.completed_at),
        "appExitCode": pai.exit_code if pai.is_final or pai.retries else None,
        "appExitDiagnostics": exit_diagnostics(pai, viewer),
        "appExitType": pai.exit_type or None,
        "virtualCluster": pai.virtual_cluster,
        **({"waitingReason": pai.waiting_reason} if state == PaiJobState.WAITING and pai.waiting_reason else {}),
    }


def task_state(task: PaiTask) -> str:
    job = task.job
    if job is None:
        return PaiJobState.FAILED
    if job.status in NON_TERMINAL:
        return PaiJobState.RUNNING if job.status == JobStatus.RUNNING else PaiJobState.WAITING
    if job.status == JobStatus.SUCCEED:
        return PaiJobState.SUCCEEDED
    if job.status == JobStatus.CANCELLED:
        return PaiJobState.STOPPED
    return PaiJobState.FAILED


def gpu_bitmap(gpus: list) -> int:
    """``containerGpus`` as upstream: a bitmap of the task's GPU ids (GPUs 0 and 2: 5)."""
    bitmap = 0
    for gpu in gpus or []:
        if str(gpu).isdigit():
            bitmap |= 1 << int(gpu)
    return bitmap


def task_log_url(pai: PaiJob, task: PaiTask) -> str:
    return f"/api/v1/user/{pai.owner.username}/jobs/{pai.name}/tasks/{task.role}/{task.index}/log"


def job_detail(pai: PaiJob, viewer=None) -> dict:
    """v1's ``GET /api/v1/jobs/:jobName``: ``{name, jobStatus, taskRoles}`` with per-task status."""
    tasks = _current_tasks(pai)
    roles: dict[str, dict] = {
        role["name"]: {"taskRoleStatus": {"name": role["name"]}, "taskStatuses": []} for role in pai.roles()
    }
    for task in tasks:
        job = task.job
        roles.setdefault(task.role, {"taskRoleStatus": {"name": task.role}, "taskStatuses": []})
        roles[task.role]["taskStatuses"].append(
            {
                "taskIndex": task.index,
                "taskState": task_state(task),
                "containerId": f"container_{job.pk}" if job else None,
                "containerIp": task.host or "127.0.0.1",
                "containerPorts": {label: ",".join(map(str, ports)) for label, ports in task.ports.items()},
                "containerGpus": gpu_bitmap(task.gpus),
                "containerLog": task_log_url(pai, task),
                "containerExitCode": job.exit_code if job else None,
                "attempt": task.attempt,
                "jobId": job.pk if job else None,
                **({"containerUsage": task.usage} if task.usage else {}),
            }
        )
    return {"name": pai.name, "jobStatus": job_status(pai, tasks, viewer), "taskRoles": roles}


def task_get_or_error(*, pai: PaiJob, role: str, index: int, attempt: int | None = None) -> PaiTask:
    attempt = pai.attempt if attempt is None else attempt
    task = PaiTask.objects.filter(pai_job=pai, role=role, index=index, attempt=attempt).select_related("job").first()
    if task is None:
        message = f"Task {role}[{index}] of job {pai.name} (attempt {attempt}) is not found."
        raise NotFoundError(message, code="NoJobError")
    return task


def pai_job_search(*, username: str | None = None, state: str | None = None) -> QuerySet[PaiJob]:
    """``pai_job_list`` narrowed to the state the API shows (an undecided job: by whether it has started)."""
    queryset = pai_job_list(username=username)
    if state in PAI_FINAL_STATES:
        return queryset.filter(state=state)
    undecided = queryset.exclude(state__in=PAI_FINAL_STATES)
    if state == PaiJobState.RUNNING:
        return undecided.filter(launched_at__isnull=False)  # type: ignore[misc] # annotated by pai_job_list
    if state == PaiJobState.WAITING:
        return undecided.filter(launched_at__isnull=True)  # type: ignore[misc]
    return queryset


def pai_owner_names() -> list[str]:
    """The usernames that own at least one OpenPAI job, sorted."""
    return sorted(PaiJob.objects.order_by().values_list("owner__username", flat=True).distinct())


def pai_task_jobs(pai: PaiJob) -> dict[int, Job]:
    """The job-core jobs of the current attempt's tasks, by id."""
    return {job.pk: job for job in Job.objects.filter(pai_tasks__pai_job=pai, pai_tasks__attempt=pai.attempt)}


def pai_task_gpus(pai: PaiJob) -> dict[tuple[str, int], list[str]]:
    """The GPU ids each task (role, index) of the current attempt was given (``containerGpus`` is their bitmap)."""
    rows = PaiTask.objects.filter(pai_job=pai, attempt=pai.attempt).values_list("role", "index", "gpus")
    return {(role, index): [str(gpu) for gpu in gpus or []] for role, index, gpus in rows}


def pai_task_of_job(job: Job) -> PaiTask | None:
    """The OpenPAI task a job-core job runs, if it runs one."""
    return job.pai_tasks.select_related("pai_job__owner").first()


# --- the Ray cluster and its virtual clusters (``OPENPAI_RUNNER=ray``) ----------------------------------------------
def share_text(share: dict[str, float] | None) -> str:
    """A VC's share as people read it: "the whole cluster", "25% of the cluster", "CPU 8, GPU 2, memoryMB 16384"."""
    if share is None:
        return "the whole cluster"
    if "fraction" in share:
        return f"{capacity.amount(round(share['fraction'] * 100, 2))}% of the cluster"
    return ", ".join(f"{key} {capacity.amount(share[key])}" for key in capacity.RESOURCES if key in share)


def _pai_jobs_with_current_task(statuses: tuple[str, ...]) -> QuerySet[PaiJob]:
    """Undecided jobs with a task of their current attempt on the Ray queue in one of ``statuses``."""
    tasks = PaiTask.objects.filter(attempt=F("pai_job__attempt"), job__queue="ray", job__status__in=statuses).values(
        "pai_job_id"
    )
    return PaiJob.objects.exclude(state__in=PAI_FINAL_STATES).filter(pk__in=tasks)


def vc_usage() -> dict[str, Any]:
    """The Ray cluster's nodes (alive first), their live totals, and per virtual cluster of
    ``OPENPAI_VIRTUAL_CLUSTERS`` its share, what it may use, what its running jobs hold, and its running and waiting
    jobs. A job runs while a task of its current attempt is Scheduled or Running; it waits while one is queued and
    none runs. Three queries, whatever the number of jobs."""
    nodes = list(RayNode.objects.order_by("-alive", "host", "node_id"))
    cluster = capacity.total(
        {key: float((node.total or {}).get(key) or 0) for key in capacity.RESOURCES} for node in nodes if node.alive
    )
    shares = capacity.configured_shares()
    names = list(settings.OPENPAI_VIRTUAL_CLUSTERS)
    used = {name: dict.fromkeys(capacity.RESOURCES, 0.0) for name in names}
    running = dict.fromkeys(names, 0)
    active = _pai_jobs_with_current_task(ACTIVE).filter(virtual_cluster__in=names)
    for vc, config in active.values_list("virtual_cluster", "config"):
        roles = (config.get("taskRoles") or []) if isinstance(config, dict) else []
        used[vc] = capacity.add(used[vc], capacity.job_resources(roles))
        running[vc] += 1
    queued = _pai_jobs_with_current_task(QUEUED).filter(virtual_cluster__in=names).exclude(pk__in=active.values("pk"))
    waiting: dict[str, int] = dict(
        queued.order_by().values("virtual_cluster").annotate(count=Count("pk")).values_list("virtual_cluster", "count")
    )
    virtual_clusters = []
    for name in names:
        share = shares.get(name)
        limit = capacity.vc_capacity(share, cluster)
        virtual_clusters.append(
            {
                "name": name,
                "share": share_text(share),
                "capacity": limit,
                "used": used[name],
                "running_jobs": running[name],
                "waiting_jobs": waiting.get(name, 0),
                "percent": {
                    key: round(100 * used[name][key] / limit[key]) if limit[key] else None for key in capacity.RESOURCES
                },
            }
        )
    return {
        "runner": settings.OPENPAI_RUNNER,
        "nodes": nodes,
        "cluster": cluster,
        "virtual_clusters": virtual_clusters,
    }
