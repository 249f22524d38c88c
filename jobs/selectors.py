"""Read paths of the job core: resolve Linkis ids, list history, find result files."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import stat
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import django_filters
from django.conf import settings
from django.contrib.auth.models import Group
from django.db.models import Q, QuerySet
from django.utils import timezone

from dataplatform.api.exceptions import InvalidInputError
from dataplatform.querycache import CompiledQuery
from jobs.engines import engine_names
from jobs.engines.resultset import TABLE, iter_resultset, list_resultsets
from jobs.models import ACTIVE, NON_TERMINAL, QUEUED, Job, PaiJob, Worker

_TRAILING_TASK_ID = re.compile(r"_(\d+)$")


# --- engine rights --------------------------------------------------------------------------------------------
def engine_permission(engine: str) -> str:
    """The permission (``app_label.codename``) that lets a user run jobs on ``engine``."""
    return f"jobs.use_engine_{engine}"


def engines_granted(principal) -> list[str]:
    """The engines granted directly to a user or a group (its own ``jobs.use_engine_*`` permissions)."""
    permissions = principal.permissions if isinstance(principal, Group) else principal.user_permissions
    codenames = set(permissions.filter(content_type__app_label="jobs").values_list("codename", flat=True))
    return [engine for engine in engine_names() if f"use_engine_{engine}" in codenames]


def user_engines(user) -> list[str]:
    """The engines ``user`` may run jobs on, in the registry's order.

    Admins may use every engine. Anyone else gets the engines granted to them or to one of their groups
    (``jobs.use_engine_<engine>`` permissions, edited in the admin); a user granted none gets
    ``JOB_DEFAULT_ENGINES``.
    """
    if user is None or not getattr(user, "is_active", False):
        return []
    if getattr(user, "is_admin", False):
        return list(engine_names())
    permissions = user.get_all_permissions()  # cached on the user object for the rest of the request
    granted = [engine for engine in engine_names() if engine_permission(engine) in permissions]
    if granted:
        return granted
    return [engine for engine in engine_names() if engine in settings.JOB_DEFAULT_ENGINES]


def _digits(text: str) -> bool:
    """Whether ``text`` is ASCII digits: ``str.isdigit`` also accepts "¹", which ``int`` refuses."""
    return text.isascii() and text.isdigit()


def parse_job_ident(ident: str) -> tuple[int | None, str | None]:
    """Return ``(taskID, short exec id)`` for a REST execID, a deprecated-format execID or a bare taskID.

    REST: ``exec_id`` + len3(app) + len3(instance) + app + instance + short id. Deprecated (WebSocket, Linkis
    0.x): len2(creator) + len2(app) + len2(instance) + creator + app + instance + short id. The platform's short
    ids end in ``_<taskID>``.
    """
    ident = (ident or "").strip()
    short: str | None = None
    if _digits(ident):
        return int(ident), None
    if ident.startswith("exec_id"):
        rest = ident[7:]
        if len(rest) > 6 and _digits(rest[:6]):
            short = rest[6 + int(rest[:3]) + int(rest[3:6]) :]
    elif len(ident) > 6 and _digits(ident[:6]):
        short = ident[6 + int(ident[:2]) + int(ident[2:4]) + int(ident[4:6]) :]
    if short:
        match = _TRAILING_TASK_ID.search(short)
        if match:
            return int(match.group(1)), short
    return None, None


# The job behind every status, progress and log read: compiled once (dataplatform/querycache.py).
_JOB_BY_PK = CompiledQuery(lambda pk: Job.objects.filter(pk=pk).order_by(), pk=int)
# What those three reads look at: the job's ids and owner, its status and progress (not its code, variables or
# environment, whose decoding was a fifth of a status read). Any other field is read from the row when first used.
STATE_FIELDS = (
    *("id", "owner", "creator", "execute_user", "engine_type", "instance"),
    *("status", "progress", "progress_info"),
)
_JOB_STATE_BY_PK = CompiledQuery(lambda pk: Job.objects.filter(pk=pk).only(*STATE_FIELDS).order_by(), pk=int)


def job_resolve(*, ident: str, task_id: str | int | None = None, state_only: bool = False) -> Job | None:
    """Return the job an execID (either format) or taskID names, falling back to ``?taskID=``; None if none.

    ``state_only``: only ``STATE_FIELDS`` are read (the polled status, progress and log reads)."""
    number, short = parse_job_ident(ident)
    if number is not None:
        job = (_JOB_STATE_BY_PK if state_only else _JOB_BY_PK).first(pk=number)
        if job is not None and (short is None or job.short_exec_id == short):
            return job
    if task_id not in (None, ""):
        try:
            return Job.objects.filter(pk=int(task_id)).first()
        except (TypeError, ValueError):
            return None
    return None


def job_visible(*, user, job: Job) -> bool:
    return bool(getattr(user, "is_admin", False) or job.owner_id == user.pk)


def job_get_for_user(*, user, ident: str, task_id: str | int | None = None, state_only: bool = False) -> Job | None:
    """Return the job if it exists and the user may see it (their own, or any for an admin); ``state_only`` as for
    ``job_resolve``."""
    job = job_resolve(ident=ident, task_id=task_id, state_only=state_only)
    if job is None or not job_visible(user=user, job=job):
        return None
    return job


def job_running_count() -> int:
    return Job.objects.filter(status__in=ACTIVE).count()


def job_task_counts(*, user: str | None, creator: str | None, engine: str | None) -> dict[str, int]:
    """Counts for Linkis's ``metrics/taskinfo``: unfinished, running and queued jobs matching the filters."""
    query = Job.objects.filter(status__in=(*QUEUED, *ACTIVE))
    if user:
        query = query.filter(execute_user=user)
    if creator:
        query = query.filter(creator=creator)
    if engine:
        query = query.filter(engine_type__startswith=engine.split("-")[0])
    running = query.filter(status__in=ACTIVE).count()
    queued = query.filter(status__in=QUEUED).count()
    return {"taskNumber": running + queued, "runningNumber": running, "queuedNumber": queued}


# Epoch milliseconds of the first and the last instant a datetime can hold (years 1 to 9999).
EPOCH_MS_MIN, EPOCH_MS_MAX = -62135596800000, 253402300799999
_EPOCH_MS_RANGE = {"min_value": EPOCH_MS_MIN, "max_value": EPOCH_MS_MAX}
JAVA_LONG_MAX = 2**63 - 1  # Linkis's taskID is a Java Long


class JobHistoryFilter(django_filters.FilterSet):
    """Linkis ``jobhistory/list`` query parameters (dates in epoch milliseconds, ``status`` comma-separated)."""

    startDate = django_filters.NumberFilter(method="filter_start", **_EPOCH_MS_RANGE)  # noqa: N815 - wire names
    endDate = django_filters.NumberFilter(method="filter_end", **_EPOCH_MS_RANGE)  # noqa: N815
    status = django_filters.CharFilter(method="filter_status")
    taskID = django_filters.NumberFilter(field_name="id", min_value=0, max_value=JAVA_LONG_MAX)  # noqa: N815
    executeApplicationName = django_filters.CharFilter(method="filter_engine")  # noqa: N815
    creator = django_filters.CharFilter(field_name="creator")
    proxyUser = django_filters.CharFilter(field_name="execute_user")  # noqa: N815
    runType = django_filters.CharFilter(field_name="run_type")  # noqa: N815

    class Meta:
        model = Job
        fields: list[str] = []

    def filter_start(self, queryset, name, value):
        return queryset.filter(created_at__gte=_from_ms(value))

    def filter_end(self, queryset, name, value):
        return queryset.filter(created_at__lte=_from_ms(value))

    def filter_status(self, queryset, name, value):
        statuses = [part.strip() for part in value.split(",") if part.strip()]
        return queryset.filter(status__in=statuses) if statuses else queryset

    def filter_engine(self, queryset, name, value):
        return queryset.filter(engine_type__startswith=value.split("-")[0])


def _from_ms(value):
    import datetime as dt

    return dt.datetime.fromtimestamp(float(value) / 1000, tz=dt.UTC)


def job_history(*, user, filters: dict, admin_view: bool = False) -> QuerySet[Job]:
    """Jobs for Linkis's history list, newest first; admins see everyone's only when asking for the admin view.

    Raises InvalidInputError naming the filters that are not valid (a date out of range, a text with a NUL).
    """
    query = Job.objects.all() if admin_view and getattr(user, "is_admin", False) else Job.objects.filter(owner=user)
    filterset = JobHistoryFilter(filters, queryset=query.order_by("-id"))
    if not filterset.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items())
        raise InvalidInputError(f"Invalid parameters of the job history: {problems}")
    return filterset.qs


# A history page shows neither a job's environment and grants nor its per-stage progress: not read.
_HISTORY_UNREAD = ("env", "grants", "progress_info")
_HISTORY_ALL = CompiledQuery(lambda: Job.objects.defer(*_HISTORY_UNREAD).order_by("-id"))
_HISTORY_OF = CompiledQuery(
    lambda owner: Job.objects.filter(owner_id=owner).defer(*_HISTORY_UNREAD).order_by("-id"), owner=int
)


def job_history_page(*, user, filters: dict, admin_view: bool, page: int, size: int) -> tuple[int, list[Job]]:
    """(how many jobs ``job_history`` finds, those on the 1-based ``page`` of ``size``). The usual page, without
    filters, by queries compiled once (a console polls it)."""
    offset = (page - 1) * size
    if any(name in filters for name in JobHistoryFilter.base_filters):
        query = job_history(user=user, filters=filters, admin_view=admin_view)
        jobs, count = list(query[offset : offset + size]), query.count
    elif admin_view and getattr(user, "is_admin", False):
        jobs, count = _HISTORY_ALL.all(limit=size, offset=offset), _HISTORY_ALL.count
    else:
        jobs = _HISTORY_OF.all(owner=user.pk, limit=size, offset=offset)
        count = functools.partial(_HISTORY_OF.count, owner=user.pk)
    # A page that is not full and not past the end is the last one: it tells the total without counting.
    if len(jobs) < size and (jobs or offset == 0):
        return offset + len(jobs), jobs
    return count(), jobs


# --- files ----------------------------------------------------------------------------------------------------
def file_uri(path: Path) -> str:
    return "file://" + str(path)


def job_for_path(*, user, path: str) -> tuple[Job, Path] | None:
    """Map a ``file://`` path inside a job's working directory to that job, if the user may see it."""
    raw = urlsplit(path).path if path.startswith("file:") else path
    if not raw or "\x00" in raw:  # no file has a NUL in its name (the OS refuses such a path outright)
        return None
    resolved = Path(raw).resolve()
    root = Path(settings.JOBS_DIR).resolve()
    try:
        relative = resolved.relative_to(root)
    except ValueError:
        return None
    if not relative.parts or not _digits(relative.parts[0]):
        return None
    job = Job.objects.filter(pk=int(relative.parts[0])).first()
    if job is None or not job_visible(user=user, job=job):
        return None
    return job, resolved


def job_file_open(*, user, path: str) -> tuple[BinaryIO, str, int] | None:
    """Open a regular file inside a job's directory the user may see (a log, a result set) to download it.

    ``(file, name, size)``, or None when the path names no such file. The check is made again on the open
    descriptor, since job code may have swapped a path component for a link since ``job_for_path`` resolved it.
    """
    found = job_for_path(user=user, path=path)
    if found is None:
        return None
    job, resolved = found
    try:
        fd = os.open(resolved, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    held = f"/proc/self/fd/{fd}"
    real = os.readlink(held) if os.path.exists(held) else str(resolved)
    job_dir = Path(settings.JOBS_DIR).resolve() / str(job.pk)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or not (real + "/").startswith(str(job_dir) + "/"):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb"), resolved.name, info.st_size


# --- the console's job monitor ----------------------------------------------------------------------------------
#: ``status`` value of ``job_search`` for every job that has not finished yet.
UNFINISHED = "unfinished"


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def job_search(*, user, filters: dict, admin: bool = False) -> QuerySet[Job]:
    """The jobs ``user`` may see, newest first, narrowed by the console's filters (each optional).

    ``filters``: ``status`` (a status or ``UNFINISHED``), ``engine``, ``creator``, ``source`` (source API),
    ``created_from`` / ``created_to`` (dates, both inclusive) and, for admins only, ``owner`` (a username).
    """
    queryset = Job.objects.for_user(user).select_related("owner")
    status = filters.get("status")
    if status == UNFINISHED:
        queryset = queryset.filter(status__in=NON_TERMINAL)
    elif status:
        queryset = queryset.filter(status=status)
    if filters.get("engine"):
        queryset = queryset.filter(engine=filters["engine"])
    if filters.get("creator"):
        queryset = queryset.filter(creator=filters["creator"].strip())
    if filters.get("source"):
        queryset = queryset.filter(source_api=filters["source"])
    if filters.get("created_from"):
        queryset = queryset.filter(created_at__gte=_day_start(filters["created_from"]))
    if filters.get("created_to"):
        # The end date is inclusive: everything before the next day's start.
        queryset = queryset.filter(created_at__lt=_day_start(filters["created_to"] + dt.timedelta(days=1)))
    if admin and filters.get("owner"):
        owner = filters["owner"].strip()
        queryset = queryset.filter(Q(owner__username=owner) | Q(owner__isnull=True, submit_user=owner))
    return queryset.order_by("-id")


def job_list_by_ids(*, user, ids: list[int]) -> QuerySet[Job]:
    """The jobs among ``ids`` that ``user`` may see (others are left out, not refused)."""
    return Job.objects.for_user(user).filter(pk__in=ids)


def worker_sandboxes() -> dict[str, str]:
    """Each live Celery worker's sandbox state (``Worker.sandbox``), by identity."""
    return dict(Worker.objects.order_by("identity").values_list("identity", "sandbox"))


# --- result sets ---------------------------------------------------------------------------------------------------
def job_result_count(job: Job) -> int:
    """How many result sets the job has left."""
    return len(list_resultsets(job.result_dir))


def job_result_table(job: Job, index: int, *, null_value: str = "NULL"):
    """``(column names, rows)`` of the job's result set ``index``, its rows read lazily (cells as strings; close
    ``rows`` when done), or None when there is no such result set. A TEXT result set has one column, ``value``.

    The job's own code wrote into its directory: a link leading outside it names no result set.
    """
    path = job.result_dir / f"_{index}.dolphin"
    try:
        if not (path.is_file() and path.resolve().is_relative_to(job.workdir.resolve())):
            return None
        kind, metadata, rows = iter_resultset(path, null_value=null_value)
    except (OSError, ValueError):
        return None
    if kind == TABLE and isinstance(metadata, list):
        names = [str(column.get("columnName", "")) if isinstance(column, dict) else str(column) for column in metadata]
    else:
        names = ["value"]
    return names, rows


def job_list_from(*, user, source_api: str) -> QuerySet[Job]:
    """Jobs an API family submitted that the user may see (their own, or all for an admin), oldest first."""
    query = Job.objects.filter(source_api=source_api).order_by("pk")
    if not getattr(user, "is_admin", False):
        query = query.filter(owner_id=user.pk)
    return query


def job_submit_users(limit: int = 5000) -> list[str]:
    """The names jobs were submitted as, sorted (the admin's user filter suggests them)."""
    names = Job.objects.order_by("submit_user").values_list("submit_user", flat=True).distinct()
    return list(names[:limit])


def owned_job_counts(user) -> tuple[int, int]:
    """How many jobs and OpenPAI jobs ``user`` owns."""
    return Job.objects.filter(owner=user).count(), PaiJob.objects.filter(owner=user).count()
