"""Read paths of artifacts and applications: lookups by CDAP's coordinates, scopes, version order and ranges,
plugin visibility through parents, and program state from the jobs that programs ran as.

Lookups come in two names (one convention for every entity):

- ``<entity>_get(...)`` returns the object or ``None``;
- ``<entity>_get_or_error(...)`` returns the object or raises ``NotFoundError`` with CDAP's 404 text
  (``'namespace:x' was not found.``), for callers that answer "not found" with exactly that.

Lists are ``<entity>_list``/``<entity>s_...`` and return querysets or pages. Nothing here knows HTTP: scopes,
limits and orders arrive parsed (``artifacts.cdap.parsers``), and a page continues ``after`` the position the
previous page ended at (``Page.after``), which the wire turns into its page tokens (``artifacts.cdap.pages``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from artifacts.models import (
    SYSTEM_NAMESPACE,
    Application,
    ApplicationChange,
    ArtifactParent,
    ArtifactVersion,
    Namespace,
    Plugin,
    ProgramRun,
)
from artifacts.versions import ArtifactRange, VersionError
from artifacts.versions import ArtifactVersion as Version
from dataplatform.api.exceptions import InvalidInputError, NotFoundError
from dataplatform.querycache import CompiledQuery
from jobs.models import NON_TERMINAL, JobStatus

USER, SYSTEM = "USER", "SYSTEM"

#: URL segment -> CDAP ProgramType name; ``flows`` and ``mapreduce`` are accepted and have no programs here.
PROGRAM_TYPES = {
    "workers": "Worker",
    "workflows": "Workflow",
    "services": "Service",
    "spark": "Spark",
    "mapreduce": "Mapreduce",
    "flows": "Flow",
}
#: An application's one version id: CDAP 4.x's default version (``ApplicationId.DEFAULT_VERSION``), mutable.
APP_VERSION = "-SNAPSHOT"
#: Program types of which one run at a time is allowed (CDAP: services and workers).
SINGLE_RUN_TYPES = ("workers", "services")


# --- entity ids, as CDAP prints them in messages -----------------------------------------------------------------
def artifact_entity(namespace: str, name: str, version: str) -> str:
    return f"artifact:{namespace}.{name}.{version}"


def application_entity(namespace: str, app: str, version: str | None = None) -> str:
    return f"application:{namespace}.{app}.{version or APP_VERSION}"


def program_entity(namespace: str, app: str, program_type: str, program: str) -> str:
    kind = PROGRAM_TYPES.get(program_type, program_type).lower()
    return f"program:{namespace}.{app}.-SNAPSHOT.{kind}.{program}"


def not_found(entity: str) -> NotFoundError:
    return NotFoundError(f"'{entity}' was not found.", code="not_found")


# --- namespaces ------------------------------------------------------------------------------------------------
# Every namespaced CDAP call looks its namespace up first: compiled once (dataplatform/querycache.py).
_NAMESPACE = CompiledQuery(lambda name: Namespace.objects.filter(name=name)[:1], name=str)
# One namespace's artifact versions, for a listing without a page (the usual call).
_SUMMARIES = CompiledQuery(
    lambda namespace: (
        ArtifactVersion.objects.filter(artifact__namespace__name=namespace)
        .values_list("artifact__namespace__name", "artifact__name", "version", "sort_key")
        .order_by("artifact__name", "sort_key")
    ),
    namespace=str,
)

# An artifact version and an application by their names (the detail routes): compiled once as well.
_VERSION = CompiledQuery(
    lambda namespace, name, version: (
        _versions().filter(artifact__namespace__name=namespace, artifact__name=name, version=version).order_by()[:1]
    ),
    namespace=str,
    name=str,
    version=str,
)
_APPLICATION = CompiledQuery(
    lambda namespace, name: (
        Application.objects.select_related("namespace", "artifact_version__artifact__namespace")
        .filter(namespace_id=namespace, name=name)
        .order_by()[:1]
    ),
    namespace=int,
    name=str,
)


# An artifact version's plugins, in CDAP's order (the artifact and application details).
_PLUGINS = CompiledQuery(
    lambda version: Plugin.objects.filter(artifact_version_id=version).order_by("type", "name"), version=int
)


def artifact_plugins(*, version: ArtifactVersion) -> list[Plugin]:
    """The version's plugins by type and name, each holding ``version`` as its ``artifact_version``."""
    plugins = _PLUGINS.all(version=version.pk)
    for plugin in plugins:
        plugin.artifact_version = version
    return plugins


def namespace_get(*, name: str) -> Namespace | None:
    return _NAMESPACE.first(name=name)


def namespace_get_or_error(*, name: str) -> Namespace:
    """Return the namespace, or raise CDAP's 404 (``'namespace:x' was not found.``)."""
    namespace = namespace_get(name=name)
    if namespace is None:
        raise not_found(f"namespace:{name}")
    return namespace


def namespace_list() -> QuerySet[Namespace]:
    return Namespace.objects.exclude(name=SYSTEM_NAMESPACE).order_by("name")


# --- scopes ----------------------------------------------------------------------------------------------------
def scope_namespaces(namespace: Namespace, scope: str | None) -> list[str]:
    """Namespace names to look in, in lookup order."""
    if namespace.name == SYSTEM_NAMESPACE or scope == SYSTEM:
        return [SYSTEM_NAMESPACE]
    if scope == USER:
        return [namespace.name]
    return [namespace.name, SYSTEM_NAMESPACE]


def parse_version(text: str) -> Version:
    try:
        return Version(text)
    except VersionError as error:
        raise InvalidInputError(str(error), code="version") from None


def parse_range(text: str) -> ArtifactRange:
    try:
        return ArtifactRange.parse(text)
    except VersionError as error:
        raise InvalidInputError(str(error), code="range") from None


# --- version order and pages -----------------------------------------------------------------------------------
def _int_key(value: int | None) -> str:
    return "0" if value is None else f"1{value:08x}"


def version_order_prefix(version: Version) -> str:
    """The part of the sort key that CDAP's comparison sees; versions that compare equal share it.

    Fields: major, minor, fix (a missing part sorts first), release after snapshot, then the suffix (a missing
    suffix first; ``00`` ends a suffix so that a shorter suffix sorts before its extensions). The encoding is
    prefix-free, so the keys of the versions tied with ``version`` are exactly those starting with this prefix.
    """
    suffix = "0" if version.suffix is None else "1" + version.suffix.encode().hex() + "00"
    parts = (_int_key(version.major), _int_key(version.minor), _int_key(version.fix))
    return "".join(parts) + ("0" if version.is_snapshot else "1") + suffix


def version_sort_key(version: Version) -> str:
    """CDAP's version order as hex digits, so the database orders versions by plain comparison; the text itself
    ends the key to break CDAP's ties (``1.0.0`` vs ``01.0.0``) the way ``ArtifactVersion.__lt__`` does."""
    return version_order_prefix(version) + version.text.encode().hex()


def range_filter(version_range: ArtifactRange) -> Q:
    """The sort-key bounds of a range ("g" sorts after every hex digit, so ``P + "g"`` ends the keys tied at P).

    The database narrows the rows with this; ``ArtifactRange.contains`` still decides each one.
    """
    lower, upper = version_order_prefix(version_range.lower), version_order_prefix(version_range.upper)
    q = Q(sort_key__gte=lower) if version_range.lower_inclusive else Q(sort_key__gt=lower + "g")
    q &= Q(sort_key__lt=upper + "g") if version_range.upper_inclusive else Q(sort_key__lt=upper)
    return q


# --- artifacts -------------------------------------------------------------------------------------------------
def _versions() -> QuerySet[ArtifactVersion]:
    return ArtifactVersion.objects.select_related("artifact__namespace")


@dataclass
class Page:
    """Rows of one page; ``after`` is where the next page starts (None: this is the last page)."""

    items: list
    after: tuple | None


def artifact_summaries(
    *, namespace: Namespace, scope: str | None, limit: int | None, after: tuple[int, str, str] | None = None
) -> Page:
    """Every artifact version visible in the namespace: system ones first when no scope is asked (as CDAP).

    Pages walk namespace by namespace, each by (name, version order); ``after`` is (the namespace's position in
    that walk, artifact name, sort key). A position outside the walk is an ``InvalidInputError`` with code
    ``page_after``.
    """
    names = scope_namespaces(namespace, scope) if scope else [SYSTEM_NAMESPACE, namespace.name]
    if namespace.name == SYSTEM_NAMESPACE:
        names = [SYSTEM_NAMESPACE]
    rank = {name: str(i) for i, name in enumerate(dict.fromkeys(names))}
    rows: list = []
    order = list(rank)
    start_ns, last = 0, None
    if after is not None:
        position, name, sort_key = after
        if not 0 <= position < len(order):
            raise InvalidInputError("The page starts after a namespace this listing does not walk.", code="page_after")
        start_ns, last = position, (name, sort_key)
    for index in range(start_ns, len(order)):
        if limit is None and last is None:
            rows.extend(_SUMMARIES.all(namespace=order[index]))
            continue
        # A page: the compiled listing's queryset, built here, not up front (the ORM's building was 40% of an unpaged
        # list's time).
        part = _SUMMARIES.build(namespace=order[index])
        if last is not None and index == start_ns:
            part = part.filter(Q(artifact__name__gt=last[0]) | Q(artifact__name=last[0], sort_key__gt=last[1]))
        want = None if limit is None else limit + 1 - len(rows)
        rows.extend(part[:want] if want is not None else part)
        if limit is not None and len(rows) > limit:
            break
    next_after = None
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        final = rows[-1]
        next_after = (int(rank[final[0]]), final[1], final[3])
    return Page(rows, next_after)


def artifact_versions(
    *,
    namespace: Namespace,
    name: str,
    scope: str | None,
    version_range: ArtifactRange | None,
    limit: int | None,
    order: str,
    after: tuple[str] | None = None,
) -> Page:
    """The versions of one artifact, in CDAP's version order (``order``: ASC, DESC or UNORDERED), starting after
    the sort key ``after`` names; 404 when no scope has the name at all."""
    after_key = after[0] if after else None
    for ns_name in scope_namespaces(namespace, scope):
        base = ArtifactVersion.objects.filter(artifact__namespace__name=ns_name, artifact__name=name)
        descending = order == "DESC"
        qs = base.order_by("-sort_key" if descending else "sort_key").values_list(
            "artifact__namespace__name", "artifact__name", "version", "sort_key"
        )
        if after_key is not None:
            qs = qs.filter(sort_key__lt=after_key) if descending else qs.filter(sort_key__gt=after_key)
        if version_range is None:
            rows = list(qs[: limit + 1] if limit is not None else qs)
        else:
            # The database narrows the rows to the range's sort-key bounds; CDAP's own comparison decides.
            qs = qs.filter(range_filter(version_range))
            rows = []
            for row in qs.iterator(chunk_size=2000):
                if version_range.contains(Version(row[2])):
                    rows.append(row)
                    if limit is not None and len(rows) > limit:
                        break
        if not rows and not base.exists():
            continue  # no such artifact in this scope: try the next one
        next_after = None
        if limit is not None and len(rows) > limit:
            rows = rows[:limit]
            next_after = (rows[-1][3],)
        return Page(rows, next_after)
    if version_range is not None:
        return Page([], None)  # as upstream: a range filter answers [] rather than 404
    raise not_found(f"{namespace.name if scope != SYSTEM else SYSTEM_NAMESPACE}:{name}")


def artifact_version_get(*, namespace: Namespace, name: str, version: str, scope: str | None) -> ArtifactVersion | None:
    """The version as seen from the namespace: its own first, then system (unless ``scope`` says which)."""
    for ns_name in scope_namespaces(namespace, scope):
        found = _VERSION.first(namespace=ns_name, name=name, version=version)
        if found is not None:
            return found
    return None


def artifact_version_get_or_error(
    *, namespace: Namespace, name: str, version: str, scope: str | None
) -> ArtifactVersion:
    """As ``artifact_version_get``; an invalid version is CDAP's 400, a missing one its 404."""
    parse_version(version)
    found = artifact_version_get(namespace=namespace, name=name, version=version, scope=scope)
    if found is None:
        raise not_found(artifact_entity(namespace.name if scope != SYSTEM else SYSTEM_NAMESPACE, name, version))
    return found


def artifact_highest_in_range(*, namespace: str, name: str, version_range: ArtifactRange) -> ArtifactVersion | None:
    """The highest version of ``namespace:name`` within the range (CDAP resolves an app's range this way)."""
    rows = ArtifactVersion.objects.filter(
        range_filter(version_range), artifact__namespace__name=namespace, artifact__name=name
    ).order_by("-sort_key")
    for candidate in rows.select_related("artifact__namespace").iterator(chunk_size=500):
        if version_range.contains(Version(candidate.version)):
            return candidate
    return None


# --- plugins ---------------------------------------------------------------------------------------------------
def plugins_for_parent(*, parent: ArtifactVersion, namespace: Namespace) -> QuerySet[Plugin]:
    """Plugins an app of ``parent`` can use: its own, and those of artifacts (in the namespace or system) that
    extend it with a range containing its version."""
    parent_version = Version(parent.version)
    parent_ns = parent.artifact.namespace.name
    child_ids = [
        link.child_id
        for link in ArtifactParent.objects.filter(
            namespace=parent_ns,
            name=parent.artifact.name,
            child__artifact__namespace__name__in={namespace.name, SYSTEM_NAMESPACE},
        ).only("child_id", "range")
        if _range_contains(link.range, parent_version)
    ]
    return (
        Plugin.objects.filter(Q(artifact_version=parent) | Q(artifact_version_id__in=child_ids))
        .select_related("artifact_version__artifact__namespace")
        .order_by("type", "name", "artifact_version__artifact__name", "artifact_version__sort_key")
    )


def _range_contains(text: str, version: Version) -> bool:
    try:
        return ArtifactRange.parse(text).contains(version)
    except VersionError:
        return False


def plugins_in_namespace(*, namespace: Namespace, plugin_type: str | None = None, name: str | None = None):
    """Plugins of every artifact visible in the namespace (its own and system)."""
    qs = Plugin.objects.filter(artifact_version__artifact__namespace__name__in={namespace.name, SYSTEM_NAMESPACE})
    if plugin_type is not None:
        qs = qs.filter(type=plugin_type)
    if name is not None:
        qs = qs.filter(name=name)
    return qs.select_related("artifact_version__artifact__namespace").order_by(
        "type", "name", "artifact_version__artifact__name", "artifact_version__sort_key"
    )


def app_classes(*, namespace: Namespace, scope: str | None, class_name: str | None = None) -> list[ArtifactVersion]:
    names = [SYSTEM_NAMESPACE, namespace.name] if scope is None else scope_namespaces(namespace, scope)
    qs = _versions().filter(artifact__namespace__name__in=set(names), app_class__isnull=False)
    versions = [v for v in qs.order_by("artifact__name", "sort_key") if v.app_class]
    if class_name is not None:
        versions = [v for v in versions if (v.app_class or {}).get("className") == class_name]
    return versions


# --- applications ----------------------------------------------------------------------------------------------
def application_get(*, namespace: Namespace, name: str) -> Application | None:
    return _APPLICATION.first(namespace=namespace.pk, name=name)


def application_get_or_error(*, namespace: Namespace, name: str) -> Application:
    app = application_get(namespace=namespace, name=name)
    if app is None:
        raise not_found(application_entity(namespace.name, name))
    return app


def application_versions(*, app: Application) -> list[str]:
    """The application's version ids (``GET /apps/{app}/versions``)."""
    return [APP_VERSION]


def application_version_get_or_error(*, namespace: Namespace, name: str, version: str) -> Application:
    """The application at ``version``; any other version than its one is CDAP's 404 naming that version."""
    if version != APP_VERSION:
        raise not_found(application_entity(namespace.name, name, version))
    return application_get_or_error(namespace=namespace, name=name)


_APPLICATIONS = CompiledQuery(lambda namespace: application_list(namespace=namespace), namespace=int)


def applications_listed(
    *, namespace: Namespace, artifact_names: Iterable[str] | None = None, artifact_version: str | None = None
) -> list[Application]:
    """``application_list``'s applications; the unfiltered list (every poll of it) by a query compiled once."""
    if artifact_names or artifact_version:
        return list(
            application_list(namespace=namespace, artifact_names=artifact_names, artifact_version=artifact_version)
        )
    return _APPLICATIONS.all(namespace=namespace.pk)


def application_list(
    *, namespace: Namespace | int, artifact_names: Iterable[str] | None = None, artifact_version: str | None = None
) -> QuerySet[Application]:
    qs = Application.objects.filter(namespace=namespace).select_related("artifact_version__artifact__namespace")
    if artifact_names:
        qs = qs.filter(artifact_version__artifact__name__in=list(artifact_names))
    if artifact_version:
        qs = qs.filter(artifact_version__version=artifact_version)
    return qs.order_by("name")


def application_changes(*, namespace: str, app_name: str) -> QuerySet[ApplicationChange]:
    return ApplicationChange.objects.filter(namespace=namespace, app_name=app_name).order_by("-id")


def application_last_change(*, app: Application) -> ApplicationChange | None:
    """The application's latest recorded change (what a page that previews a change was based on)."""
    return ApplicationChange.objects.filter(application=app).order_by("-id").first()


def program_get(*, app: Application, program_type: str, name: str) -> dict | None:
    """The program's entry in the application's manifest."""
    if program_type not in PROGRAM_TYPES:
        return None
    for program in app.programs:
        if program.get("type") == program_type and program.get("name") == name:
            return program
    return None


def program_get_or_error(*, app: Application, program_type: str, name: str) -> dict:
    program = program_get(app=app, program_type=program_type, name=name)
    if program is None:
        raise not_found(program_entity(app.namespace.name, app.name, program_type, name))
    return program


def active_runs(*, app: Application, program_type: str | None = None, name: str | None = None):
    qs = ProgramRun.objects.filter(application=app, job__status__in=NON_TERMINAL)
    if program_type is not None:
        qs = qs.filter(program_type=program_type)
    if name is not None:
        qs = qs.filter(program_name=name)
    return qs.select_related("job")


def latest_run(*, app: Application, program_type: str, name: str) -> ProgramRun | None:
    return (
        ProgramRun.objects.filter(application=app, program_type=program_type, program_name=name)
        .select_related("job")
        .order_by("-id")
        .first()
    )


def program_status(run: ProgramRun | None) -> str:
    """CDAP's program status from the latest run's job: STARTING, RUNNING, STOPPING, STOPPED or FAILED."""
    if run is None or run.job is None:
        return "STOPPED"
    job = run.job
    if job.status in (JobStatus.INITED, JobStatus.WAIT_FOR_RETRY, JobStatus.SCHEDULED):
        return "STOPPING" if job.kill_requested_at else "STARTING"
    if job.status == JobStatus.RUNNING:
        return "STOPPING" if job.kill_requested_at else "RUNNING"
    if job.status in (JobStatus.FAILED, JobStatus.TIMEOUT):
        return "FAILED"
    return "STOPPED"


def run_status(run: ProgramRun) -> str:
    """CDAP's run record status: STARTING, RUNNING, COMPLETED, KILLED or FAILED."""
    job = run.job
    if job is None:
        return "FAILED"
    statuses: dict[str, str] = {
        JobStatus.INITED: "STARTING",
        JobStatus.WAIT_FOR_RETRY: "STARTING",
        JobStatus.SCHEDULED: "STARTING",
        JobStatus.RUNNING: "RUNNING",
        JobStatus.SUCCEED: "COMPLETED",
        JobStatus.CANCELLED: "KILLED",
        JobStatus.FAILED: "FAILED",
        JobStatus.TIMEOUT: "FAILED",
    }
    return statuses[job.status]


def program_runs(
    *,
    app: Application,
    program_type: str,
    name: str,
    limit: int | None,
    status: str | None,
    start: int | None = None,
    end: int | None = None,
):
    """Run records, newest first, started in ``[start, end)`` (epoch seconds) and of ``status`` if given."""
    qs = (
        ProgramRun.objects.filter(application=app, program_type=program_type, program_name=name)
        .select_related("job")
        .order_by("-id")
    )
    if start is not None:
        qs = qs.filter(created_at__gte=dt.datetime.fromtimestamp(start, tz=dt.UTC))
    if end is not None:
        qs = qs.filter(created_at__lt=dt.datetime.fromtimestamp(end, tz=dt.UTC))
    runs = list(qs[:limit] if limit and not status else qs)
    if status:
        wanted = status.upper()
        runs = [run for run in runs if wanted == "ALL" or run_status(run) == wanted]
        if limit:
            runs = runs[:limit]
    return runs


def program_run_get(*, app: Application, program_type: str, name: str, run_id: str) -> ProgramRun | None:
    return (
        ProgramRun.objects.filter(application=app, program_type=program_type, program_name=name, run_id=run_id)
        .select_related("job")
        .first()
    )


def program_run_get_or_error(*, app: Application, program_type: str, name: str, run_id: str) -> ProgramRun:
    run = program_run_get(app=app, program_type=program_type, name=name, run_id=run_id)
    if run is None:
        entity = program_entity(app.namespace.name, app.name, program_type, name)
        raise not_found(f"program_run:{entity.removeprefix('program:')}.{run_id}")
    return run


# --- the console's overview -------------------------------------------------------------------------------------
def catalog_versions() -> QuerySet[ArtifactVersion]:
    """Every artifact version of every namespace with its plugin count, by namespace, artifact, newest first."""
    return (
        ArtifactVersion.objects.select_related("artifact__namespace")
        .annotate(plugin_count=Count("plugins"))
        .order_by("artifact__namespace__name", "artifact__name", "-sort_key")
    )


def running_programs(applications: Iterable[Application]) -> dict[int, set[str]]:
    """The names of the programs with an unfinished run, by application id (one query for them all)."""
    running: dict[int, set[str]] = {}
    active = ProgramRun.objects.filter(application__in=list(applications), job__status__in=NON_TERMINAL)
    for app_id, name in active.values_list("application_id", "program_name"):
        running.setdefault(app_id, set()).add(name)
    return running


def application_count_for_owner(user) -> int:
    """How many applications ``user`` owns (the user admin links to them)."""
    return Application.objects.filter(owner=user).count()
