"""The plugins an artifact version declares: recorded with the version, or replaced afterwards (the 3.1 seed's
``PUT .../versions/{v}/plugins``, for third-party jars whose plugins cannot be read from the archive)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from artifacts.archives import ArchiveError, plugins_from_data
from artifacts.models import ArtifactVersion, Plugin
from dataplatform.api.exceptions import InvalidInputError


def save_plugins(version: ArtifactVersion, plugins: list[dict]) -> None:
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


def artifact_plugins_set(*, version: ArtifactVersion, plugins: Any) -> None:
    """Replace the plugins a version declares with ``plugins``, a JSON list of plugin objects (checked here)."""
    try:
        plugins = plugins_from_data(plugins, where="plugins")
    except ArchiveError as error:
        raise InvalidInputError(str(error), code="plugins") from None
    with transaction.atomic():
        version.plugins.all().delete()
        save_plugins(version, plugins)
        ArtifactVersion.objects.filter(pk=version.pk).update(updated_at=timezone.now())
