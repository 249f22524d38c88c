"""An artifact version's properties: a map of string to string, replaced whole or one key at a time."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from artifacts.models import ArtifactVersion
from dataplatform.api.exceptions import InvalidInputError

#: CDAP's answer to properties that are not a map of string to string (whether or not they parsed as JSON).
PROPERTIES_ERROR = (
    "Json Syntax Error while parsing properties from request. Please check that the properties are a json map "
    "from string to string."
)


def artifact_properties_replace(*, version: ArtifactVersion, properties: Any) -> None:
    """Replace the version's properties with ``properties``, which must be a map of string to string."""
    if not isinstance(properties, dict) or not all(isinstance(v, str) for v in properties.values()):
        raise InvalidInputError(PROPERTIES_ERROR, code="properties")
    version.properties = properties
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
