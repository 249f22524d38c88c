"""System artifacts: archives (or source directories) under ``SYSTEM_ARTIFACTS_DIRS`` loaded into the ``system``
namespace, at start-up, by ``manage.py load_system_artifacts`` and by ``POST /v3/namespaces/system/artifacts``."""

from __future__ import annotations

import json
import logging
import re
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from artifacts.archives import MANIFEST_JSON, ArchiveError, inspect_archive, plugins_from_json
from artifacts.models import SYSTEM_NAMESPACE, ArtifactVersion, Namespace
from artifacts.services.artifacts import ArtifactUpload, archive_limits, artifact_add, artifact_add_check
from artifacts.services.properties import artifact_properties_replace
from artifacts.versions import VersionError, parse_parents
from dataplatform.api.exceptions import ConflictError, InvalidInputError, NotFoundError

logger = logging.getLogger(__name__)


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
    artifact_add_check(namespace=system, name=name, version=version, allow_system=True)
    upload = _sidecar_upload(meta, chunks=_file_chunks(path), version=version, filename=path.name)
    result = artifact_add(namespace=system, name=name, upload=upload, actor="system", allow_system=True)
    if meta.get("properties"):
        artifact_properties_replace(version=result.version, properties=meta["properties"])
    return True


def _sidecar_upload(meta: dict, *, chunks, version: str | None, filename: str) -> ArtifactUpload:
    """The upload a sidecar describes: its ``parents`` and ``plugins`` stand for the Artifact-Extends and
    Artifact-Plugins headers of an upload, and are read (and refused, with the same texts) as those are."""
    extends = "/".join(meta.get("parents") or [])
    try:
        parents = parse_parents(extends) if extends else None
    except VersionError as error:
        raise InvalidInputError(str(error), code="parents") from None
    plugins: list[dict] = []
    if meta.get("plugins"):
        text = json.dumps(meta["plugins"])
        try:
            plugins = plugins_from_json(text)
        except ArchiveError as error:
            raise InvalidInputError(f"Artifact-Plugins header '{text}' is invalid: {error}") from None
    return ArtifactUpload(chunks=chunks, version=version, parents=parents, plugins=plugins, filename=filename)


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
        return inspect_archive(path, limits=archive_limits())
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
