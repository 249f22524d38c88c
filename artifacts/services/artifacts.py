"""Artifacts: an upload is streamed to disk and hashed, checked as a safe zip, its manifest read without running
anything, then stored once per content hash and recorded with its plugins and parents in one transaction.
Release versions are immutable; ``-SNAPSHOT`` versions are replaced. A version that an application uses cannot
be deleted.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from artifacts.archives import (
    MANIFEST_JSON,
    ArchiveError,
    Limits,
    inspect_archive,
    merge_plugins,
    resolve_identity,
    store_upload,
)
from artifacts.models import SYSTEM_NAMESPACE, Application, Artifact, ArtifactParent, ArtifactVersion, Namespace
from artifacts.selectors import artifact_entity, parse_version, range_filter, version_sort_key
from artifacts.services.blobs import blob_claim, blob_release
from artifacts.services.common import MAX_NAME_LENGTH, actor_name
from artifacts.services.plugins import save_plugins
from artifacts.services.properties import PROPERTIES_ERROR
from artifacts.versions import ArtifactRange, RangeSpec, VersionError, check_parents, is_valid_name, parse_range_spec
from artifacts.versions import ArtifactVersion as Version
from dataplatform.api.exceptions import ConflictError, ForbiddenError, InvalidInputError, NotFoundError

MAX_VERSION_LENGTH = 128


def archive_limits() -> Limits:
    return Limits(
        max_entries=settings.ARTIFACT_MAX_ENTRIES,
        max_uncompressed=settings.ARTIFACT_MAX_UNCOMPRESSED_BYTES,
    )


@dataclass
class ArtifactUpload:
    """An archive to add: its bytes as chunks, and what the uploader says beyond the archive's own manifest."""

    chunks: Iterable[bytes]
    version: str | None = None  # overrides the manifest's version
    parents: list[RangeSpec] | None = None  # replace the manifest's parents (None: the manifest's)
    plugins: list[dict] = field(default_factory=list)  # validated plugins (archives.plugins_from_json) to add
    filename: str = ""
    #: Replace the manifest's properties (None: the manifest's), as a ``PUT .../properties`` right after the upload
    #: would, but in the same transaction (the admin's upload form takes them; CDAP's upload headers do not).
    properties: dict[str, str] | None = None


@dataclass
class AddResult:
    version: ArtifactVersion
    created: bool  # False: a snapshot was replaced


def artifact_add_check(*, namespace: Namespace, name: str, version: str | None, allow_system: bool = False) -> None:
    """Refuse an upload that cannot be added whatever its archive: to ``system`` (unless allowed), a bad name or
    version. ``artifact_add`` checks this first; callers check it before parsing what else the uploader sent, so
    that the refusals come in the same order whatever the route."""
    if namespace.name == SYSTEM_NAMESPACE and not allow_system:
        raise ForbiddenError(
            "System artifacts cannot be added over REST: put them in the system artifacts directory and "
            "POST /v3/namespaces/system/artifacts.",
            code="system",
        )
    if not is_valid_name(name) or len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError("Invalid artifact name.", code="name")
    if version:
        parse_version(version)


def artifact_add(
    *, namespace: Namespace, name: str, upload: ArtifactUpload, actor, allow_system: bool = False
) -> AddResult:
    """Store an uploaded archive as a new artifact version (or replace a snapshot); see the module docstring."""
    artifact_add_check(namespace=namespace, name=name, version=upload.version, allow_system=allow_system)
    if upload.properties is not None and not _is_string_map(upload.properties):
        raise InvalidInputError(PROPERTIES_ERROR, code="properties")
    incoming = Path(settings.ARTIFACTS_DIR) / "incoming" / uuid.uuid4().hex
    try:
        try:
            stored = store_upload(upload.chunks, root=incoming, max_bytes=settings.ARTIFACT_MAX_BYTES)
            manifest = inspect_archive(stored.path, limits=archive_limits())
            _, version_text = resolve_identity(manifest, url_name=name, header_version=upload.version)
            plugins = merge_plugins(manifest.plugins, upload.plugins)
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
        if upload.parents is not None:
            parents = upload.parents
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
            properties=manifest.properties if upload.properties is None else upload.properties,
            actor=actor,
            filename=upload.filename,
        )
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


def _is_string_map(value) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


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
        blob = blob_claim(stored_path, sha256, size)
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
                created_by=actor_name(actor),
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
                blob_release(old_blob)
        save_plugins(row, plugins)
        ArtifactParent.objects.bulk_create(
            [
                ArtifactParent(child=row, namespace=p.namespace or namespace.name, name=p.name, range=str(p.range))
                for p in parents
            ]
        )
    return AddResult(row, existing is None)


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
        blob_release(sha)
        if not artifact.versions.exists():
            artifact.delete()
