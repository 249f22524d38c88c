"""Applications: created from an artifact (a version or a range, resolved to the highest match) plus a config
validated against the app class's ``configSchema``; updated, upgraded and rolled back only while none of their
programs runs; every change is recorded in ``ApplicationChange``. CDAP's one-call deploy adds an archive as an
artifact and creates the application from it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from artifacts.configschema import validate_config
from artifacts.models import SYSTEM_NAMESPACE, Application, ApplicationChange, ArtifactVersion, Namespace
from artifacts.selectors import (
    SYSTEM,
    USER,
    active_runs,
    application_entity,
    application_last_change,
    artifact_entity,
    artifact_highest_in_range,
    not_found,
    parse_range,
    parse_version,
)
from artifacts.services.artifacts import ArtifactUpload, artifact_add, artifact_version_delete
from artifacts.services.common import MAX_NAME_LENGTH, actor_name
from artifacts.versions import ArtifactVersion as Version
from artifacts.versions import VersionError, is_valid_id, is_valid_name
from dataplatform.api.exceptions import ApplicationError, ConflictError, InvalidInputError


@dataclass
class ArtifactRef:
    """``AppRequest.artifact``: a name, a version or range (None: any version), and a scope."""

    name: str
    version: str | None = None
    scope: str | None = None  # USER, SYSTEM or None (the namespace first, then system)


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


def _config_text(config: Any) -> str:
    """The config as compact JSON text, keys in the order given (what ``Application.config_text`` keeps)."""
    return "" if config is None else json.dumps(config, separators=(",", ":"), ensure_ascii=False)


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


def record_change(app: Application, action: str, *, actor, via: str, to: tuple | None, before: tuple | None = None,
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
        actor=actor_name(actor),
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
                        config_text=_config_text(config),
                        owner=actor if getattr(actor, "pk", None) else None,
                        created_at=now,
                        updated_at=now,
                    )
            except IntegrityError:
                raise ConflictError(f"Application '{name}' was created concurrently; retry.") from None
            record_change(app, ApplicationChange.Action.CREATE, actor=actor, via=via, to=(version, config))
            return app, True
        _apply(app, version, config, ref.version or "", actor=actor, via=via)
        return app, False


def _apply(app: Application, version: ArtifactVersion, config: Any, request: str, *, actor, via: str,
           action: str | None = None, summary: str = "", text: str | None = None) -> ApplicationChange:  # fmt: skip
    """Inside a transaction holding the app's row lock: point the app at a version and config, record it.

    ``text`` is the config's text when it is the one the app keeps (None: the text of ``config`` as given)."""
    _refuse_while_running(app, "updated")
    before = (app.artifact_version, app.config)
    chosen = action or _classify(app.artifact_version, version, app.config, config)
    app.artifact_version = version
    app.artifact_request = request
    app.config = config
    app.config_text = _config_text(config) if text is None else text
    app.description = (version.app_class or {}).get("description", app.description)
    app.updated_at = timezone.now()
    app.save()
    return record_change(app, chosen, actor=actor, via=via, before=before, to=(version, config), summary=summary)


def app_update(
    *,
    app: Application,
    ref: ArtifactRef | None,
    config: Any,
    config_given: bool,
    actor,
    via: str,
    version_only: bool = False,
    based_on: int | None = None,
) -> Application:
    """Point an application at another artifact version and/or config (absent parts are kept), in one transaction.

    Everything is decided under the application's row lock, from its state at that moment, so a change
    committed meanwhile (another upgrade, a config edit in the admin) is never silently reverted. A caller that
    showed a preview passes ``based_on``, the id of the latest change it saw (``application_last_change``): if the
    application changed since, the update is refused (409, code ``stale``) rather than applied over that change.
    """
    with transaction.atomic():
        locked = (
            Application.objects.select_for_update()
            .select_related("namespace", "artifact_version__artifact__namespace")
            .get(pk=app.pk)
        )
        _refuse_if_changed(locked, based_on)
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
        kept_text = None if config_given else locked.config_text
        _apply(locked, version, new_config, request, actor=actor, via=via, text=kept_text)
    return locked


def _refuse_if_changed(app: Application, based_on: int | None) -> None:
    if based_on is None:
        return
    latest = application_last_change(app=app)
    if latest is not None and latest.pk != based_on:
        raise ConflictError(
            f"Application '{app.name}' changed after this change was prepared ({latest.action} by "
            f"{latest.actor or 'someone'} at {latest.at:%Y-%m-%d %H:%M:%S}): review the change again.",
            code="stale",
            extra={"latest_change": latest.pk},
        )


@dataclass
class ConfigCarryOver:
    """A config moved to another version's ``configSchema`` (``config_carry_over``): top-level field names."""

    config: Any  # what the version would get: the fields it knows kept, new fields at their schema defaults
    kept: list[str]
    added: list[str]  # fields the version declares that the config does not set (set to a default, or unset)
    defaulted: list[str]  # of ``added``, those set from the schema's ``default``
    dropped: dict[str, Any]  # fields of the config the version does not know, with their values


def config_carry_over(*, version: ArtifactVersion, config: Any) -> ConfigCarryOver:
    """The config an application would take to ``version``: fields in both schemas keep their values, fields new
    in ``version`` get their ``default`` (when the schema gives one), fields it does not know are dropped.

    Values are carried as they are, not converted: a kept value whose type changed is for the caller's validation
    (``config_problems``) to report. Without a ``configSchema`` the config is carried whole.
    """
    schema = (version.app_class or {}).get("configSchema")
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(fields, list) or not (config is None or isinstance(config, dict)):
        kept = sorted(config) if isinstance(config, dict) else []
        return ConfigCarryOver(config=config, kept=kept, added=[], defaulted=[], dropped={})
    old = config or {}
    known = [f for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str)]
    names = {f["name"] for f in known}
    new: dict[str, Any] = {}
    kept, added, defaulted = [], [], []
    for f in known:
        name = f["name"]
        if name in old:
            new[name] = old[name]
            kept.append(name)
            continue
        added.append(name)
        if f.get("default") is not None:  # an Avro default of null means "unset"
            new[name] = f["default"]
            defaulted.append(name)
    dropped = {key: value for key, value in old.items() if key not in names}
    return ConfigCarryOver(
        config=None if config is None and not new else new, kept=kept, added=added, defaulted=defaulted,
        dropped=dropped,
    )  # fmt: skip


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


@dataclass
class RollbackPlan:
    """What rolling an application back would do (``target``: the change it undoes), or why it cannot."""

    app: Application
    target: ApplicationChange | None
    refusal: str = ""  # empty when the application can be rolled back
    code: str = ""  # the refusal's code: no_history, deleted, config or running

    @property
    def possible(self) -> bool:
        return not self.refusal


def _rollback_refusal(app: Application, target: ApplicationChange | None) -> ApplicationError | None:
    """Why ``app_rollback`` would refuse to undo ``target`` now (None: it would not)."""
    if target is None or target.action == ApplicationChange.Action.CREATE:
        return ConflictError(
            f"Application '{app.name}' has no earlier version or config to roll back to.", code="no_history"
        )
    if target.from_version is None:
        return ConflictError(
            f"Application '{app.name}' cannot be rolled back: the artifact version it used before "
            f"({target.from_artifact}) was deleted.",
            code="deleted",
        )
    try:
        # A -SNAPSHOT version may have been replaced by one whose configSchema the earlier config does not fit.
        _check_config(target.from_version, target.from_config)
        _refuse_while_running(app, "updated")
    except ApplicationError as error:
        return error
    return None


def rollback_plan(app: Application) -> RollbackPlan:
    """Whether ``app_rollback`` could roll the application back now, to what, and if not, why not."""
    target = rollback_target(app)
    error = _rollback_refusal(app, target)
    if error is None:
        return RollbackPlan(app, target)
    return RollbackPlan(app, target, refusal=error.message, code=error.code)


def app_rollback(*, app: Application, actor, via: str, based_on: int | None = None) -> Application:
    """Put the application back to the version and config it had before its latest change (``based_on``: as in
    ``app_update``, the latest change the caller's preview showed)."""
    with transaction.atomic():
        locked = Application.objects.select_for_update().select_related("namespace").get(pk=app.pk)
        _refuse_if_changed(locked, based_on)
        target = rollback_target(locked)
        error = _rollback_refusal(locked, target)
        if error is not None:
            raise error
        target = cast(ApplicationChange, target)  # _rollback_refusal refuses a missing target or version
        from_version = cast(ArtifactVersion, target.from_version)
        change = _apply(
            locked,
            from_version,
            target.from_config,
            from_version.version,
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
        record_change(locked, ApplicationChange.Action.DELETE, actor=actor, via=via, to=None)
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
            record_change(app, ApplicationChange.Action.DELETE, actor=actor, via="DELETE /apps", to=None)
            app.delete()


# --- deploy from an archive --------------------------------------------------------------------------------------
def app_deploy_archive(
    *, namespace: Namespace, chunks: Iterable[bytes], name: str, version: str | None, filename: str, config: Any,
    actor, app_name: str | None = None, via: str = "POST /apps",
) -> Application:  # fmt: skip
    """CDAP's one-call deploy: add the archive as artifact ``name`` ``version``, then create the application from it.

    The application is named after the artifact unless ``app_name`` names it. If creating the application fails,
    the artifact just added is removed again, as CDAP does.
    """
    target = app_name or re.sub(r"[^a-zA-Z0-9_-]", "_", name)
    _check_app_name(namespace, target)
    existing = ArtifactVersion.objects.filter(
        artifact__namespace=namespace, artifact__name=name, version=version or ""
    ).first()
    if existing is not None and not existing.is_snapshot:
        raise ConflictError(
            f"Artifact '{artifact_entity(namespace.name, name, version or '')}' already exists. Please use the API "
            "that creates an application from an existing artifact. If you are trying to replace the artifact, "
            "please delete it and then try again.",
            code="exists",
        )
    result = artifact_add(
        namespace=namespace,
        name=name,
        upload=ArtifactUpload(chunks=chunks, version=version, filename=filename),
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
