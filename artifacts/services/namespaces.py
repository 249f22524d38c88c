"""Namespaces: create (idempotent), delete (admins; the ``default`` namespace is emptied, not removed)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from artifacts.models import (
    DEFAULT_NAMESPACE,
    SYSTEM_NAMESPACE,
    Application,
    ApplicationChange,
    Artifact,
    ArtifactVersion,
    Namespace,
    ProgramRun,
)
from artifacts.selectors import namespace_get_or_error
from artifacts.services.applications import record_change
from artifacts.services.blobs import blob_release
from artifacts.services.common import is_admin
from artifacts.versions import is_valid_namespace
from dataplatform.api.exceptions import ConflictError, ForbiddenError, InvalidInputError
from jobs.models import NON_TERMINAL

RESERVED_NAMESPACES = (DEFAULT_NAMESPACE, SYSTEM_NAMESPACE, "cdap")
MAX_NAMESPACE_LENGTH = 128


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
    if not is_admin(actor):
        raise ForbiddenError(f"Namespace '{name}' can be deleted by administrators only.", code="admin")
    namespace = namespace_get_or_error(name=name)
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
            record_change(app, ApplicationChange.Action.DELETE, actor=actor, via="namespace delete", to=None)
        Application.objects.filter(namespace=namespace).delete()
        blobs = set(ArtifactVersion.objects.filter(artifact__namespace=namespace).values_list("blob_id", flat=True))
        Artifact.objects.filter(namespace=namespace).delete()
        for sha in blobs:
            blob_release(sha)
        if namespace.name != DEFAULT_NAMESPACE:
            namespace.delete()
