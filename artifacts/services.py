"""Write paths of artifacts and applications.

- Namespaces: create (idempotent), delete (admins; the ``default`` namespace is emptied, not removed).
- Artifacts: an upload is streamed to disk and hashed, checked as a safe zip, its manifest read without running
  anything, then stored once per content hash and recorded with its plugins and parents in one transaction.
  Release versions are immutable; ``-SNAPSHOT`` versions are replaced. A version that an application uses cannot
  be deleted. System artifacts are loaded from ``SYSTEM_ARTIFACTS_DIRS``.
- Applications: created from an artifact (a version or a range, resolved to the highest match) plus a config
  validated against the app class's ``configSchema``; updated, upgraded and rolled back only while none of their
  programs runs; every change is recorded in ``ApplicationChange``.
- Programs: a start submits a job to the job core (``jobs.services.job_submit``), a stop kills it.

Errors are domain errors (``dataplatform.api.exceptions``) carrying CDAP's texts; the CDAP views render them
with CDAP's statuses.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from artifacts.archives import (
    MANIFEST_JSON,
    ArchiveError,
    Limits,
    inspect_archive,
    merge_plugins,
    plugins_from_json,
    resolve_identity,
    store_upload,
)
from artifacts.configschema import validate_config
from artifacts.models import (
    DEFAULT_NAMESPACE,
    SYSTEM_NAMESPACE,
    Application,
    ApplicationChange,
    Artifact,
    ArtifactParent,
    ArtifactVersion,
    Blob,
    Namespace,
    Plugin,
    ProgramRun,
    blob_path,
    unpacked_path,
)
from artifacts.selectors import (
    SINGLE_RUN_TYPES,
    SYSTEM,
    USER,
    active_runs,
    application_entity,
    artifact_entity,
    artifact_highest_in_range,
    namespace_get,
    not_found,
    parse_range,
    parse_version,
    program_entity,
    program_get,
    range_filter,
    version_sort_key,
)
from artifacts.versions import (
    ArtifactRange,
    RangeSpec,
    VersionError,
    check_parents,
    is_valid_id,
    is_valid_name,
    is_valid_namespace,
    parse_parents,
    parse_range_spec,
)
from artifacts.versions import ArtifactVersion as Version
from dataplatform.api.exceptions import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from dataplatform.api.request import json_loads
from jobs.engines import engine_spec
from jobs.models import NON_TERMINAL, Job
from jobs.services import JobSpec, engine_require, job_kill, job_submit

logger = logging.getLogger(__name__)

RESERVED_NAMESPACES = (DEFAULT_NAMESPACE, SYSTEM_NAMESPACE, "cdap")
MAX_NAME_LENGTH = 255  # artifact and application names (the columns' size)
MAX_NAMESPACE_LENGTH = 128
MAX_VERSION_LENGTH = 128


def _actor_name(actor) -> str:
    return getattr(actor, "username", "") or (actor if isinstance(actor, str) else "")


def _is_admin(actor) -> bool:
    return bool(getattr(actor, "is_admin", False))


# --- namespaces ------------------------------------------------------------------------------------------------
def namespace_create(*, name: str, description: str = "", config: dict | None = None) -> bool:
    """Create the namespace; return False when it already exists (CDAP answers 200 either way)."""
    if not is_valid_namespace(name) or len(name) > MAX_NAMESPACE_LENGTH:
        raise InvalidInputError("Namespace id can contain only alphanumeric characters or '_'.", code="name")
    if name in RESERVED_NAMESPACES:
        raise InvalidInputError(
            f"Cannot create the namespace '{name}'. '{name}' is a reserved namespace.", code="reserved"
        )
    if not isinstance(description, str):
        raise InvalidInputError("Invalid json object provided in request body.", code="body")
    try:
        with transaction.atomic():
            _, created = Namespace.objects.get_or_create(
                name=name, defaults={"description": description, "config": config or {}}
            )
    except IntegrityError:
        created = False
    return created


def namespace_delete(*, name: str, actor) -> None:
    """Delete a namespace with its applications and artifacts (admins only); ``default`` is emptied and kept."""
    if not _is_admin(actor):
        raise ForbiddenError(f"Namespace '{name}' can be deleted by administrators only.", code="admin")
    namespace = namespace_get(name=name)
    if namespace.name == SYSTEM_NAMESPACE:
        raise ForbiddenError("The 'system' namespace cannot be deleted.", code="system")
    with transaction.atomic():
        namespace = Namespace.objects.select_for_update().get(pk=namespace.pk)
        if ProgramRun.objects.filter(application__namespace=namespace, job__status__in=NON_TERMINAL).exists():
            raise ConflictError(
                f"'namespace:{name}' could not be deleted. Reason: Some programs are currently running in "
                f"namespace 'namespace:{name}', please stop them before deleting namespace",
                code="running",
            )
        for app in Application.objects.filter(namespace=namespace):
            _record(app, ApplicationChange.Action.DELETE, actor=actor, via="namespace delete", to=None)
        Application.objects.filter(namespace=namespace).delete()
        blobs = set(ArtifactVersion.objects.filter(artifact__namespace=namespace).values_list("blob_id", flat=True))
        Artifact.objects.filter(namespace=namespace).delete()
        for sha in blobs:
            _blob_release(sha)
        if namespace.name != DEFAULT_NAMESPACE:
            namespace.delete()


# --- blobs -----------------------------------------------------------------------------------------------------
def _blob_claim(stored_path: Path, sha256: str, size: int) -> Blob:
    """Inside a transaction: lock (or create) the blob row and put the archive in place under it."""
    blob = Blob.objects.select_for_update().filter(pk=sha256).first()
    if blob is None:
        try:
            with transaction.atomic():
                blob = Blob.objects.create(sha256=sha256, size=size)
        except IntegrityError:
            blob = Blob.objects.select_for_update().get(pk=sha256)
    target = blob_path(sha256)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stored_path, target)
    return blob


def _blob_release(sha256: str) -> None:
    """Inside a transaction: delete the blob's row and file once no version uses it."""
    blob = Blob.objects.select_for_update().filter(pk=sha256).first()
    if blob is None or blob.versions.exists():
        return
    blob.delete()
    blob_path(sha256).unlink(missing_ok=True)
    shutil.rmtree(unpacked_path(sha256), ignore_errors=True)


# --- artifacts -------------------------------------------------------------------------------------------------
def _limits() -> Limits:
    return Limits(
        max_entries=settings.ARTIFACT_MAX_ENTRIES,
        max_uncompressed=settings.ARTIFACT_MAX_UNCOMPRESSED_BYTES,
    )


@dataclass
class ArtifactUpload:
    """What an upload route hands over: the body as chunks plus CDAP's optional headers."""

    chunks: Iterable[bytes]
    version: str | None = None  # Artifact-Version
    extends: str | None = None  # Artifact-Extends
    plugins: str | None = None  # Artifact-Plugins
    filename: str = ""


@dataclass
class AddResult:
    version: ArtifactVersion
    created: bool  # False: a snapshot was replaced


def _parse_header_parents(header: str | None) -> list[RangeSpec] | None:
    if not header:
        return None
    try:
        return parse_parents(header)
    except VersionError as error:
        raise InvalidInputError(str(error), code="parents") from None


def artifact_add(
    *, namespace: Namespace, name: str, upload: ArtifactUpload, actor, allow_system: bool = False
) -> AddResult:
    """Store an uploaded archive as a new artifact version (or replace a snapshot); see the module docstring."""
    if namespace.name == SYSTEM_NAMESPACE and not allow_system:
        raise ForbiddenError(
            "System artifacts cannot be added over REST: put them in the system artifacts directory and "
            "POST /v3/namespaces/system/artifacts.",
            code="system",
        )
    if not is_valid_name(name) or len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError("Invalid artifact name.", code="name")
    if upload.version:
        parse_version(upload.version)
    header_parents = _parse_header_parents(upload.extends)
    header_plugins = []
    if upload.plugins:
        try:
            header_plugins = plugins_from_json(upload.plugins)
        except ArchiveError as error:
            raise InvalidInputError(f"Artifact-Plugins header '{upload.plugins}' is invalid: {error}") from None

    incoming = Path(settings.ARTIFACTS_DIR) / "incoming" / uuid.uuid4().hex
    try:
        try:
            stored = store_upload(upload.chunks, root=incoming, max_bytes=settings.ARTIFACT_MAX_BYTES)
            manifest = inspect_archive(stored.path, limits=_limits())
            _, version_text = resolve_identity(manifest, url_name=name, header_version=upload.version)
            plugins = merge_plugins(manifest.plugins, header_plugins)
        except ArchiveError as error:
            raise InvalidInputError(f"Invalid artifact: {error}", code="archive") from None
        version = parse_version(version_text)
        if len(version.text) > MAX_VERSION_LENGTH:
            raise InvalidInputError("Invalid artifact version.", code="version")
        for item in plugins:
            if len(item["type"]) > 128 or len(item["name"]) > 128 or len(item["className"]) > 512:
                raise InvalidInputError(
                    f"Invalid artifact: plugin {item['type']}:{item['name']}: type and name are limited to 128 "
                    "characters, className to 512.",
                    code="archive",
                )
        if header_parents is not None:
            parents = header_parents
        else:
            try:
                parents = [parse_range_spec(text) for text in manifest.parents]
            except VersionError as error:
                raise InvalidInputError(f"Invalid artifact: {MANIFEST_JSON}: parents: {error}") from None
        own_ns = namespace.name
        try:
            check_parents(name, parents, namespace=own_ns)
        except VersionError as error:
            raise InvalidInputError(str(error), code="parents") from None
        parents = [RangeSpec(p.namespace or own_ns, p.name, p.range) for p in parents]
        fmt = _format_of(manifest.kind, stored.path, upload.filename)
        return _artifact_record(
            namespace=namespace,
            name=name,
            version=version,
            stored_path=stored.path,
            sha256=stored.sha256,
            size=stored.size,
            fmt=fmt,
            app=manifest.app,
            plugins=plugins,
            parents=parents,
            properties=manifest.properties,
            actor=actor,
            filename=upload.filename,
        )
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


def _format_of(kind: str, path: Path, filename: str) -> str:
    if kind != MANIFEST_JSON:
        return ArtifactVersion.Format.JAR
    if filename.endswith(".whl"):
        return ArtifactVersion.Format.WHEEL
    with zipfile.ZipFile(path) as zf:
        if MANIFEST_JSON not in zf.namelist():
            return ArtifactVersion.Format.WHEEL
    return ArtifactVersion.Format.ZIP


def _check_parent_graph(*, namespace: str, name: str, version: Version, parents: list[RangeSpec]) -> None:
    """CDAP's repository rules for parents: at least one exists, no cycles, no grandparents with parents."""
    entity = artifact_entity(namespace, name, version.text)
    found: list[ArtifactVersion] = []
    for spec in parents:
        candidates = ArtifactVersion.objects.filter(
            range_filter(spec.range), artifact__namespace__name=spec.namespace, artifact__name=spec.name
        ).select_related("artifact__namespace")
        found.extend(c for c in candidates if spec.range.contains(Version(c.version)))
    if parents and not found:
        joined = "/".join(str(p) for p in parents)
        raise NotFoundError(f"Artifact {entity} extends artifacts '{joined}' that do not exist", code="parent")
    for parent in found:
        parent_entity = artifact_entity(parent.artifact.namespace.name, parent.artifact.name, parent.version)
        for link in parent.parent_ranges.all():
            if link.namespace == namespace and link.name == name and _contains(link.range, version):
                raise InvalidInputError(
                    f"Invalid parent '{parent_entity}' for artifact '{entity}'. The parent extends the artifact, "
                    "which creates a cyclic dependency.",
                    code="parents",
                )
            grandparents = ArtifactVersion.objects.filter(
                artifact__namespace__name=link.namespace, artifact__name=link.name, parent_ranges__isnull=False
            ).distinct()
            with contextlib.suppress(VersionError):
                grandparents = grandparents.filter(range_filter(ArtifactRange.parse(link.range)))
            for grandparent in grandparents:
                if _contains(link.range, Version(grandparent.version)):
                    raise InvalidInputError(
                        f"Invalid parent '{parent_entity}' for artifact '{entity}'. Its parent "
                        f"'{link.namespace}:{link.name}:{grandparent.version}' has parents of its own; "
                        "only one level of grandparents is supported.",
                        code="parents",
                    )


def _contains(range_text: str, version: Version) -> bool:
    try:
        return ArtifactRange.parse(range_text).contains(version)
    except VersionError:
        return False


def _artifact_record(
    *,
    namespace: Namespace,
    name: str,
    version: Version,
    stored_path: Path,
    sha256: str,
    size: int,
    fmt: str,
    app: dict | None,
    plugins: list[dict],
    parents: list[RangeSpec],
    properties: dict,
    actor,
    filename: str,
) -> AddResult:
    now = timezone.now()
    with transaction.atomic():
        _check_parent_graph(namespace=namespace.name, name=name, version=version, parents=parents)
        artifact, _ = Artifact.objects.get_or_create(namespace=namespace, name=name)
        existing = ArtifactVersion.objects.select_for_update().filter(artifact=artifact, version=version.text).first()
        if existing is not None and not version.is_snapshot:
            raise ConflictError(
                f"Artifact {artifact_entity(namespace.name, name, version.text)} already exists.", code="exists"
            )
        blob = _blob_claim(stored_path, sha256, size)
        fields = {
            "blob": blob,
            "size": size,
            "format": fmt,
            "filename": filename[:255],
            "app_class": app,
            "parents": [str(p) for p in parents],
            "properties": properties,
            "updated_at": now,
        }
        if existing is None:
            row = ArtifactVersion.objects.create(
                artifact=artifact,
                version=version.text,
                sort_key=version_sort_key(version),
                is_snapshot=version.is_snapshot,
                created_at=now,
                created_by=_actor_name(actor),
                **fields,
            )
        else:
            old_blob = existing.blob_id
            for key, value in fields.items():
                setattr(existing, key, value)
            existing.save()
            existing.plugins.all().delete()
            existing.parent_ranges.all().delete()
            row = existing
            if old_blob != sha256:
                _blob_release(old_blob)
        _save_plugins(row, plugins)
        ArtifactParent.objects.bulk_create(
            [ArtifactParent(child=row, namespace=p.namespace, name=p.name, range=str(p.range)) for p in parents]
        )
    return AddResult(row, existing is None)


def _save_plugins(version: ArtifactVersion, plugins: list[dict]) -> None:
    Plugin.objects.bulk_create(
        [
            Plugin(
                artifact_version=version,
                type=p["type"],
                name=p["name"],
                class_name=p["className"],
                description=p.get("description") or "",
                category=p.get("category") or "",
                config_field_name=p.get("configFieldName") or "config",
                properties=p.get("properties") or {},
            )
            for p in plugins
        ]
    )


def artifact_plugins_set(*, version: ArtifactVersion, body: bytes) -> None:
    """Replace the plugins a version declares (the 3.1 seed's ``PUT .../versions/{v}/plugins``, for third-party
    jars whose plugins cannot be read from the archive)."""
    try:
        plugins = plugins_from_json(body, where="plugins")
    except ArchiveError as error:
        raise InvalidInputError(str(error), code="plugins") from None
    with transaction.atomic():
        version.plugins.all().delete()
        _save_plugins(version, plugins)
        ArtifactVersion.objects.filter(pk=version.pk).update(updated_at=timezone.now())


def _string_map(body: bytes) -> dict[str, str]:
    try:
        data = json_loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InvalidInputError(
            "Json Syntax Error while parsing properties from request. Please check that the properties are a "
            "json map from string to string.",
            code="properties",
        )
    return data


def artifact_properties_replace(*, version: ArtifactVersion, body: bytes) -> None:
    version.properties = _string_map(body)
    version.updated_at = timezone.now()
    version.save(update_fields=["properties", "updated_at"])


def artifact_property_set(*, version: ArtifactVersion, key: str, value: str) -> None:
    with transaction.atomic():
        row = ArtifactVersion.objects.select_for_update().get(pk=version.pk)
        row.properties = {**(row.properties or {}), key: value}
        row.updated_at = timezone.now()
        row.save(update_fields=["properties", "updated_at"])


def artifact_properties_delete(*, version: ArtifactVersion, key: str | None = None) -> None:
    with transaction.atomic():
        row = ArtifactVersion.objects.select_for_update().get(pk=version.pk)
        row.properties = {} if key is None else {k: v for k, v in (row.properties or {}).items() if k != key}
        row.updated_at = timezone.now()
        row.save(update_fields=["properties", "updated_at"])


def artifact_version_delete(*, version: ArtifactVersion) -> None:
    """Delete a version and, when nothing else uses it, its archive; refused (409) while applications use it."""
    with transaction.atomic():
        row = ArtifactVersion.objects.select_for_update().select_related("artifact__namespace").get(pk=version.pk)
        users = list(
            Application.objects.filter(artifact_version=row)
            .order_by("namespace__name", "name")
            .values_list("namespace__name", "name")
        )
        if users:
            names = ", ".join(f"{ns}.{app}" for ns, app in users)
            entity = artifact_entity(row.artifact.namespace.name, row.artifact.name, row.version)
            raise ConflictError(
                f"Artifact {entity} cannot be deleted because it is used by the applications: {names}. "
                "Upgrade or delete them first.",
                code="in_use",
                extra={"applications": [f"{ns}.{app}" for ns, app in users]},
            )
        artifact, sha = row.artifact, row.blob_id
        row.delete()
        _blob_release(sha)
        if not artifact.versions.exists():
            artifact.delete()


# --- system artifacts ------------------------------------------------------------------------------------------
@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


_ARCHIVE_NAME = re.compile(r"(?P<name>.+?)-(?P<version>[0-9][^-]*(?:-[A-Za-z0-9.]+)?)\.(?:jar|zip|whl)")


def system_artifacts_load(*, directories: Iterable[str | Path] | None = None) -> LoadReport:
    """Load every archive of the system artifacts directories into the ``system`` namespace.

    A release version already loaded with the same bytes is left alone; a snapshot is reloaded (as CDAP's
    refresh does). An optional ``<archive>.json`` sidecar (CDAP's format: ``parents``, ``plugins``,
    ``properties``) supplies what a jar cannot say. Bad archives are reported and skipped, never fatal.
    """
    report = LoadReport()
    system = Namespace.objects.get(name=SYSTEM_NAMESPACE)
    pending: list[Path] = []
    for directory in directories if directories is not None else settings.SYSTEM_ARTIFACTS_DIRS:
        root = Path(directory)
        if not root.is_dir():
            continue
        for path in sorted(root.iterdir()):
            is_source_dir = path.is_dir() and (path / MANIFEST_JSON).is_file()
            if is_source_dir or (path.is_file() and path.suffix in (".zip", ".jar", ".whl")):
                pending.append(path)
    # Plugin artifacts need their parents loaded first; whatever order the names sort in, passes repeat while
    # they make progress (CDAP loads parents before children), and only what never loads is reported.
    while pending:
        failures: list[tuple[Path, str]] = []
        for path in pending:
            try:
                outcome = (_load_system_source_dir if path.is_dir() else _load_one_system_artifact)(system, path)
            except (InvalidInputError, NotFoundError, ConflictError, OSError) as error:
                failures.append((path, getattr(error, "message", str(error))))
                continue
            (report.loaded if outcome else report.unchanged).append(path.name)
        if len(failures) == len(pending):
            for path, message in failures:
                logger.warning("system artifact %s not loaded: %s", path, message)
                report.failed.append((path.name, message))
            break
        pending = [path for path, _ in failures]
    return report


def _load_one_system_artifact(system: Namespace, path: Path) -> bool:
    sidecar = path.with_suffix(".json")
    meta: dict[str, Any] = {}
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        except ValueError as error:
            raise InvalidInputError(f"{sidecar.name}: invalid JSON: {error}") from None
        if not isinstance(meta, dict):
            raise InvalidInputError(f"{sidecar.name}: expected a JSON object")
    name, version = _name_version_from_archive(path)
    if name is None:
        manifest = _manifest_or_error(path)
        name, version = manifest.name, manifest.version
        if not name:
            raise InvalidInputError(f"{path.name}: cannot tell the artifact name (name it <name>-<version>.zip)")
    existing = ArtifactVersion.objects.filter(
        artifact__namespace=system, artifact__name=name, version=version or ""
    ).first()
    if existing is not None and not existing.is_snapshot:
        return False  # releases are immutable; CDAP leaves them as they are
    upload = ArtifactUpload(
        chunks=_file_chunks(path),
        version=version,
        extends="/".join(meta.get("parents") or []) or None,
        plugins=json.dumps(meta["plugins"]) if meta.get("plugins") else None,
        filename=path.name,
    )
    result = artifact_add(namespace=system, name=name, upload=upload, actor="system", allow_system=True)
    if meta.get("properties"):
        artifact_properties_replace(version=result.version, body=json.dumps(meta["properties"]).encode())
    return True


def _load_system_source_dir(system: Namespace, directory: Path) -> bool:
    """A directory holding ``artifact.json`` and its files is zipped (the same bytes every time) and loaded."""
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / f"{directory.name}.zip"
        write_reproducible_zip(directory, archive)
        manifest = _manifest_or_error(archive)
        if not manifest.name or not manifest.version:
            raise InvalidInputError(f"{directory.name}/{MANIFEST_JSON}: name and version are required here")
        existing = ArtifactVersion.objects.filter(
            artifact__namespace=system, artifact__name=manifest.name, version=manifest.version
        ).first()
        if existing is not None and not existing.is_snapshot:
            return False
        upload = ArtifactUpload(chunks=_file_chunks(archive), filename=archive.name)
        artifact_add(namespace=system, name=manifest.name, upload=upload, actor="system", allow_system=True)
    return True


def write_reproducible_zip(source: Path, target: Path) -> None:
    """Zip a directory with sorted entries, fixed timestamps and modes, so equal trees give equal bytes."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            zf.writestr(info, path.read_bytes())


def _manifest_or_error(path: Path):
    try:
        return inspect_archive(path, limits=_limits())
    except ArchiveError as error:
        raise InvalidInputError(f"{path.name}: {error}") from None


def _name_version_from_archive(path: Path) -> tuple[str | None, str | None]:
    if path.suffix == ".whl":
        parts = path.stem.split("-")
        return (parts[0], parts[1]) if len(parts) >= 2 else (None, None)
    match = _ARCHIVE_NAME.fullmatch(path.name)
    return (match["name"], match["version"]) if match else (None, None)


def _file_chunks(path: Path, size: int = 1024 * 1024):
    with open(path, "rb") as fp:
        while chunk := fp.read(size):
            yield chunk


# --- applications ----------------------------------------------------------------------------------------------
@dataclass
class ArtifactRef:
    """``AppRequest.artifact``: a name, a version or range (None: any version), and a scope."""

    name: str
    version: str | None = None
    scope: str | None = None  # USER, SYSTEM or None (the namespace first, then system)


def parse_artifact_ref(value: Any) -> ArtifactRef:
    """Read AppRequest's ``artifact`` (an object, or the seed's ``"name-version"`` string)."""
    if isinstance(value, str):
        match = re.fullmatch(r"(?P<name>.+?)-(?P<version>[0-9].*)", value)
        if not match:
            raise InvalidInputError(f"Invalid artifact '{value}': expected an object with name and version.")
        return ArtifactRef(match["name"], match["version"])
    if not isinstance(value, dict):
        raise InvalidInputError('Request is missing the artifact: send {"artifact": {"name", "version"}}.')
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInputError("artifact.name is required.", code="artifact")
    version = value.get("version")
    if version is not None and not isinstance(version, str):
        raise InvalidInputError("artifact.version must be a string (a version or a range).", code="artifact")
    scope = value.get("scope")
    if scope is not None:
        if not isinstance(scope, str) or scope.upper() not in (USER, SYSTEM):
            raise InvalidInputError(f"Invalid scope {scope}", code="scope")
        scope = scope.upper()
    if value.get("isSystem") is True or value.get("namespace") == SYSTEM_NAMESPACE:
        scope = SYSTEM
    elif value.get("isSystem") is False and scope is None:
        scope = USER
    return ArtifactRef(name, version or None, scope)


def resolve_artifact(*, namespace: Namespace, ref: ArtifactRef) -> ArtifactVersion:
    """The artifact version a request means: an exact version, or the highest version in a range (or at all)."""
    if not is_valid_name(ref.name):
        raise InvalidInputError("Invalid artifact name.", code="name")
    if ref.scope == SYSTEM:
        places = [SYSTEM_NAMESPACE]
    elif ref.scope == USER:
        places = [namespace.name]
    else:
        places = [namespace.name, SYSTEM_NAMESPACE]
    if ref.version is None or ref.version[:1] in ("[", "("):
        version_range = parse_range(ref.version) if ref.version else None
        for place in places:
            if version_range is None:
                found = (
                    ArtifactVersion.objects.filter(artifact__namespace__name=place, artifact__name=ref.name)
                    .select_related("artifact__namespace")
                    .order_by("-sort_key")
                    .first()
                )
            else:
                found = artifact_highest_in_range(namespace=place, name=ref.name, version_range=version_range)
            if found is not None:
                return found
        raise not_found(f"{places[0]}:{ref.name}{ref.version or ''}")
    parse_version(ref.version)
    for place in places:
        found = (
            ArtifactVersion.objects.filter(
                artifact__namespace__name=place, artifact__name=ref.name, version=ref.version
            )
            .select_related("artifact__namespace")
            .first()
        )
        if found is not None:
            return found
    raise not_found(artifact_entity(places[0], ref.name, ref.version))


def _check_config(version: ArtifactVersion, config: Any) -> None:
    if not version.app_class:
        raise InvalidInputError(
            "No application classes found in artifact "
            f"'{artifact_entity(version.artifact.namespace.name, version.artifact.name, version.version)}'.",
            code="no_app",
        )
    schema = version.app_class.get("configSchema")
    if config is not None and not isinstance(config, dict):
        raise InvalidInputError("config must be a JSON object.", code="config")
    if schema:
        problems = validate_config(schema, config)
        if problems:
            raise InvalidInputError(
                "Invalid application config: " + "; ".join(problems), code="config", extra={"problems": problems}
            )


def _coordinates(version: ArtifactVersion | None) -> str:
    if version is None:
        return ""
    return f"{version.scope.lower()}:{version.artifact.name}:{version.version}"


def _classify(old: ArtifactVersion, new: ArtifactVersion, old_config, new_config) -> str:
    if old.pk == new.pk:
        return ApplicationChange.Action.CONFIG if old_config != new_config else ApplicationChange.Action.REDEPLOY
    if old.artifact_id != new.artifact_id:
        return ApplicationChange.Action.UPGRADE
    older = Version(new.version).compare(Version(old.version)) < 0
    return ApplicationChange.Action.DOWNGRADE if older else ApplicationChange.Action.UPGRADE


def _record(app: Application, action: str, *, actor, via: str, to: tuple | None, before: tuple | None = None,
            summary: str = "") -> ApplicationChange:  # fmt: skip
    """Record a change; ``before``/``to`` are (ArtifactVersion, config) pairs."""
    if before is None and action != ApplicationChange.Action.CREATE:
        before = (app.artifact_version, app.config)
    from_version, from_config = before if before else (None, None)
    to_version, to_config = to if to else (None, None)
    return ApplicationChange.objects.create(
        application=app if action != ApplicationChange.Action.DELETE else None,
        namespace=app.namespace.name,
        app_name=app.name,
        action=action,
        actor=_actor_name(actor),
        via=via,
        summary=summary,
        from_version=from_version,
        from_artifact=_coordinates(from_version),
        from_config=from_config,
        to_version=to_version,
        to_artifact=_coordinates(to_version),
        to_config=to_config,
    )


def _running_programs(app: Application) -> list[str]:
    return sorted({run.program_name for run in active_runs(app=app)})


def _refuse_while_running(app: Application, verb: str) -> None:
    running = _running_programs(app)
    if running:
        raise ConflictError(
            f"'{application_entity(app.namespace.name, app.name)}' could not be {verb}. Reason: The following "
            f"programs are still running: {','.join(running)}",
            code="running",
            extra={"programs": running},
        )


def _check_app_name(namespace: Namespace, name: str) -> None:
    if not is_valid_id(name) or len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"Invalid app name '{name}': Invalid Application ID.", code="name")
    if namespace.name == SYSTEM_NAMESPACE:
        raise InvalidInputError("Applications cannot be deployed in the 'system' namespace.", code="system")


def app_deploy(
    *, namespace: Namespace, name: str, ref: ArtifactRef, config: Any, actor, via: str = "PUT /apps/{app}"
) -> tuple[Application, bool]:
    """Create the application, or redeploy it (CDAP's PUT is an upsert); return (app, created)."""
    _check_app_name(namespace, name)
    if not is_valid_id(name):
        raise InvalidInputError(f"Invalid app name '{name}': Invalid Application ID.", code="name")
    version = resolve_artifact(namespace=namespace, ref=ref)
    _check_config(version, config)
    now = timezone.now()
    with transaction.atomic():
        app = Application.objects.select_for_update().filter(namespace=namespace, name=name).first()
        if app is None:
            try:
                with transaction.atomic():
                    app = Application.objects.create(
                        namespace=namespace,
                        name=name,
                        description=(version.app_class or {}).get("description", ""),
                        artifact_version=version,
                        artifact_request=ref.version or "",
                        config=config,
                        owner=actor if getattr(actor, "pk", None) else None,
                        created_at=now,
                        updated_at=now,
                    )
            except IntegrityError:
                raise ConflictError(f"Application '{name}' was created concurrently; retry.") from None
            _record(app, ApplicationChange.Action.CREATE, actor=actor, via=via, to=(version, config))
            return app, True
        _apply(app, version, config, ref.version or "", actor=actor, via=via)
        return app, False


def _apply(app: Application, version: ArtifactVersion, config: Any, request: str, *, actor, via: str,
           action: str | None = None, summary: str = "") -> ApplicationChange:  # fmt: skip
    """Inside a transaction holding the app's row lock: point the app at a version and config, record it."""
    _refuse_while_running(app, "updated")
    before = (app.artifact_version, app.config)
    chosen = action or _classify(app.artifact_version, version, app.config, config)
    app.artifact_version = version
    app.artifact_request = request
    app.config = config
    app.description = (version.app_class or {}).get("description", app.description)
    app.updated_at = timezone.now()
    app.save()
    return _record(app, chosen, actor=actor, via=via, before=before, to=(version, config), summary=summary)


def app_update(
    *,
    app: Application,
    ref: ArtifactRef | None,
    config: Any,
    config_given: bool,
    actor,
    via: str,
    version_only: bool = False,
) -> Application:
    """Point an application at another artifact version and/or config (absent parts are kept).

    Everything is decided under the application's row lock, from its state at that moment, so a change
    committed meanwhile (another upgrade, a config edit in the admin) is never silently reverted.
    """
    with transaction.atomic():
        locked = (
            Application.objects.select_for_update()
            .select_related("namespace", "artifact_version__artifact__namespace")
            .get(pk=app.pk)
        )
        current = locked.artifact_version
        if ref is None:
            version = current
        else:
            if version_only and ref.name != current.artifact.name:
                raise InvalidInputError(
                    "Only artifact version updates are allowed. Cannot change from artifact "
                    f"'{current.artifact.name}' to '{ref.name}'.",
                    code="artifact_name",
                )
            if version_only and ref.scope is not None and ref.scope != current.scope:
                raise InvalidInputError(
                    "Only artifact version updates are allowed. Cannot change from a non-system artifact to a "
                    "system artifact or vice versa.",
                    code="artifact_scope",
                )
            if ref.scope is None:
                ref = ArtifactRef(ref.name, ref.version, current.scope)
            if ref.version is not None and ref.version[:1] not in ("[", "("):
                try:
                    Version(ref.version)
                except VersionError:
                    raise InvalidInputError(
                        f"Requested artifact version '{ref.version}' is invalid", code="version"
                    ) from None
            version = resolve_artifact(namespace=locked.namespace, ref=ref)
        new_config = config if config_given else locked.config
        _check_config(version, new_config)
        request = (ref.version or "") if ref is not None else locked.artifact_request
        _apply(locked, version, new_config, request, actor=actor, via=via)
    return locked


def config_problems(version: ArtifactVersion, config: Any) -> list[str]:
    """What is wrong with using ``config`` with ``version``'s app class (empty when nothing is)."""
    try:
        _check_config(version, config)
    except InvalidInputError as error:
        return list((error.extra or {}).get("problems") or [error.message])
    return []


def rollback_target(app: Application) -> ApplicationChange | None:
    """The change a rollback undoes: the latest one not undone yet (rollbacks walk back one change at a time)."""
    return (
        ApplicationChange.objects.filter(application=app, undone_by__isnull=True)
        .exclude(action__in=(ApplicationChange.Action.ROLLBACK, ApplicationChange.Action.DELETE))
        .select_related("from_version__artifact__namespace")
        .order_by("-id")
        .first()
    )


def app_rollback(*, app: Application, actor, via: str) -> Application:
    """Put the application back to the version and config it had before its latest change."""
    with transaction.atomic():
        locked = Application.objects.select_for_update().select_related("namespace").get(pk=app.pk)
        target = rollback_target(locked)
        if target is None or target.action == ApplicationChange.Action.CREATE:
            raise ConflictError(
                f"Application '{locked.name}' has no earlier version or config to roll back to.", code="no_history"
            )
        if target.from_version is None:
            raise ConflictError(
                f"Application '{locked.name}' cannot be rolled back: the artifact version it used before "
                f"({target.from_artifact}) was deleted.",
                code="deleted",
            )
        _check_config(target.from_version, target.from_config)
        change = _apply(
            locked,
            target.from_version,
            target.from_config,
            target.from_version.version,
            actor=actor,
            via=via,
            action=ApplicationChange.Action.ROLLBACK,
            summary=f"Undid change {target.pk} ({target.action} to {target.to_artifact}).",
        )
        target.undone_by = change
        target.save(update_fields=["undone_by"])
    return locked


def app_delete(*, app: Application, actor, via: str = "DELETE /apps/{app}") -> None:
    with transaction.atomic():
        locked = Application.objects.select_for_update().select_related("namespace").get(pk=app.pk)
        _refuse_while_running(locked, "deleted")
        _record(locked, ApplicationChange.Action.DELETE, actor=actor, via=via, to=None)
        locked.delete()


def apps_delete_all(*, namespace: Namespace, actor) -> None:
    with transaction.atomic():
        apps = list(Application.objects.select_for_update().filter(namespace=namespace).select_related("namespace"))
        running = [f"{app.name}: {prog}" for app in apps for prog in _running_programs(app)]
        if running:
            raise ConflictError(
                f"'namespace:{namespace.name}' could not be deleted. Reason: The following programs are still "
                f"running: {','.join(running)}",
                code="running",
            )
        for app in apps:
            _record(app, ApplicationChange.Action.DELETE, actor=actor, via="DELETE /apps", to=None)
            app.delete()


# --- deploy from an archive --------------------------------------------------------------------------------------
_DEPLOY_NAME = re.compile(r"(?P<name>[.a-zA-Z0-9_-]+?)-(?P<version>[0-9][.a-zA-Z0-9_-]*)")


def parse_archive_name(archive_name: str | None) -> tuple[str, str | None]:
    """``X-Archive-Name``: ``<name>-<version>.jar|.zip|.whl`` -> (artifact name, version)."""
    if not archive_name:
        raise InvalidInputError(
            "X-Archive-Name header not present. Please include the header and set its value to the jar name.",
            code="archive_name",
        )
    base, dot, ext = archive_name.rpartition(".")
    if not dot or ext not in ("jar", "zip", "whl"):
        raise InvalidInputError(f"Artifact name '{archive_name}' does not end in .jar, .zip or .whl", code="ext")
    if ext == "whl":
        parts = base.split("-")
        if len(parts) >= 2 and is_valid_name(parts[0]):
            return parts[0], parts[1]
    match = _DEPLOY_NAME.fullmatch(base)
    if not match:
        raise InvalidInputError(
            f"Artifact name '{base}' is not of the form {{name}}-{{version}}.{ext}", code="archive_name"
        )
    return match["name"], match["version"]


def app_deploy_archive(
    *, namespace: Namespace, chunks: Iterable[bytes], archive_name: str | None, config_header: str | None,
    actor, app_name: str | None = None, via: str = "POST /apps",
) -> Application:  # fmt: skip
    """CDAP's one-call deploy: add the archive as an artifact, then create the application from it.

    The application is named after the artifact unless the route names it. If creating the application fails,
    the artifact just added is removed again, as CDAP does.
    """
    name, version = parse_archive_name(archive_name)
    config = None
    if config_header:
        try:
            config = json_loads(config_header)
        except ValueError:
            raise InvalidInputError("X-App-Config header is not valid JSON.", code="config") from None
    target = app_name or re.sub(r"[^a-zA-Z0-9_-]", "_", name)
    _check_app_name(namespace, target)
    existing = ArtifactVersion.objects.filter(
        artifact__namespace=namespace, artifact__name=name, version=version or ""
    ).first()
    if existing is not None and not existing.is_snapshot:
        raise ConflictError(
            f"Artifact '{artifact_entity(namespace.name, name, version)}' already exists. Please use the API that "
            "creates an application from an existing artifact. If you are trying to replace the artifact, please "
            "delete it and then try again.",
            code="exists",
        )
    result = artifact_add(
        namespace=namespace,
        name=name,
        upload=ArtifactUpload(chunks=chunks, version=version, filename=archive_name or ""),
        actor=actor,
    )
    try:
        app, _ = app_deploy(
            namespace=namespace,
            name=target,
            ref=ArtifactRef(name, result.version.version, USER),
            config=config,
            actor=actor,
            via=via,
        )
    except Exception:
        if result.created:
            with contextlib.suppress(ConflictError):
                artifact_version_delete(version=result.version)
        raise
    return app


# --- programs --------------------------------------------------------------------------------------------------

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


def _runtime_args(body: Any) -> dict[str, str]:
    if body in (None, b"", ""):
        return {}
    if isinstance(body, bytes | str):
        try:
            body = json_loads(body)
        except (ValueError, UnicodeDecodeError):
            raise InvalidInputError("Runtime arguments must be a JSON object of name: value.") from None
    if body is None:
        return {}
    if not isinstance(body, dict) or any(isinstance(v, dict | list) for v in body.values()):
        raise InvalidInputError("Runtime arguments must be a JSON object of name: value.", code="args")
    return {str(k): "" if v is None else (json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in body.items()}


def program_start(*, app: Application, program_type: str, name: str, runtime_args: Any, actor) -> ProgramRun:
    """Start a program: submit its job (cwd: the job's directory; the unpacked artifact on PYTHONPATH)."""
    program = program_get(app=app, program_type=program_type, name=name)
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
            started_by=_actor_name(actor),
        )


def program_stop(*, app: Application, program_type: str, name: str, actor) -> list[ProgramRun]:
    """Stop every active run of the program (its jobs are killed); 400 when none runs, as CDAP 4."""
    program_get(app=app, program_type=program_type, name=name)
    runs = list(active_runs(app=app, program_type=program_type, name=name))
    if not runs:
        entity = program_entity(app.namespace.name, app.name, program_type, name)
        raise InvalidInputError(f"Program '{entity}' is not running.", code="not_running")
    for run in runs:
        with contextlib.suppress(ConflictError):  # it finished meanwhile
            job_kill(job=run.job, actor=actor, authorized=True)
    return runs


def load_system_artifacts_at_start() -> None:
    """Load the system artifacts when the server starts; a failure is logged, never fatal to the server."""
    try:
        report = system_artifacts_load()
    except Exception:  # the database may not be migrated yet: the server still starts
        logger.exception("system artifacts were not loaded")
        return
    if report.loaded or report.failed:
        logger.info(
            "system artifacts: %d loaded, %d unchanged, %d failed",
            len(report.loaded), len(report.unchanged), len(report.failed),
        )  # fmt: skip
