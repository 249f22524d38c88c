"""Artifacts and applications in the admin.

- Artifacts with their versions inline (checksum, size, app class, plugins), an upload form for a new artifact, and
  on each artifact's page a form to upload a new version of it (archive, version, parents, plugins, properties: what
  CDAP's upload takes, through the same service as ``POST /v3/namespaces/{ns}/artifacts/{name}``).
- Artifact versions: manifest, plugins and properties, a download link for the archive (an attachment, staff with
  view permission only); deleting one goes through the service (409 while in use).
- Plugins, filterable by type.
- Applications with their current version and change history, and three actions that show what will change
  (artifact version and a config diff) before they apply: upgrade (or downgrade), roll back (also a changelist action
  for several apps at once) and edit config, through a form generated from the ``configSchema`` of the version the
  app will run. Upgrading shows the *target* version's form, prefilled from the current config (fields both schemas
  know keep their values, new fields get their defaults, fields the target does not know are listed as dropped), and
  applies version and config in one service call. A preview records the app's latest change; applying refuses if the
  app changed since (``based_on``), so a preview is never applied over a change it did not show.

Every change made here is also written to Django's admin log (``LogEntry``), so an object's *History* page lists
it: application upgrades, rollbacks and config edits (the versions and the config keys), artifact version uploads
and deletions (on the version and on its artifact), application deletions. A delete the service refuses is not
logged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from artifacts import selectors, services
from artifacts.archives import ArchiveError, json_document, plugins_from_json
from artifacts.configschema import coerce_form_value, schema_fields
from artifacts.models import (
    SYSTEM_NAMESPACE,
    Application,
    ApplicationChange,
    Artifact,
    ArtifactVersion,
    Namespace,
    Plugin,
    ProgramRun,
)
from artifacts.versions import VersionError, parse_parents
from dataplatform.admin import ReadOnlyAdminMixin
from dataplatform.api.exceptions import ApplicationError


def _error_text(error: ApplicationError) -> str:
    problems = error.extra.get("problems") if error.extra else None
    return error.message if not problems else "Invalid application config: " + "; ".join(problems)


def _size(num: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if num < 1024 or unit == "GiB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1024
    return str(num)


# --- diffs -----------------------------------------------------------------------------------------------------
def config_changes(old: Any, new: Any, prefix: str = "config") -> list[tuple[str, str, str, str]]:
    """(path, change, before, after) for every value that differs between two configs; objects are walked."""
    if isinstance(old, dict) and isinstance(new, dict):
        rows = []
        for key in sorted(set(old) | set(new), key=str):
            path_ = f"{prefix}.{key}"
            if key not in old:
                rows.append((path_, "added", "", json.dumps(new[key])))
            elif key not in new:
                rows.append((path_, "removed", json.dumps(old[key]), ""))
            else:
                rows.extend(config_changes(old[key], new[key], path_))
        return rows
    if old == new:
        return []
    return [(prefix, "changed", json.dumps(old), json.dumps(new))]


def _version_label(version: ArtifactVersion | None, fallback: str = "") -> str:
    if version is None:
        return fallback or "(deleted)"
    return f"{version.artifact.name} {version.version} ({version.scope.lower()})"


_LOG_VERBS = {
    ApplicationChange.Action.UPGRADE: "Upgraded",
    ApplicationChange.Action.DOWNGRADE: "Downgraded",
    ApplicationChange.Action.CONFIG: "Edited the config",
    ApplicationChange.Action.ROLLBACK: "Rolled back",
    ApplicationChange.Action.REDEPLOY: "Redeployed",
}


def change_log_message(change: ApplicationChange) -> str:
    """The admin log's text for an application change: the versions, then the config keys by kind of change."""
    verb = _LOG_VERBS.get(change.action, str(change.action).capitalize())
    if change.from_artifact != change.to_artifact:
        parts = [f"{verb}: {change.from_artifact or '(deleted)'} → {change.to_artifact}"]
    else:
        parts = [f"{verb}: version {change.to_artifact} unchanged"]
    keys: dict[str, list[str]] = {}
    for path_, kind, _, _ in config_changes(change.from_config or {}, change.to_config or {}):
        keys.setdefault(kind, []).append(path_.removeprefix("config."))
    if keys:
        parts.append("config " + ", ".join(f"{kind} {' '.join(names)}" for kind, names in keys.items()))
    else:
        parts.append("config unchanged")
    if change.summary:
        parts.append(change.summary.rstrip("."))
    return "; ".join(parts) + f" (change {change.pk}, via {change.via})."


def _log(request, obj, flag: int, message: str) -> None:
    """One admin log entry for ``obj`` (of any model: an upload logs the version and its artifact)."""
    LogEntry.objects.log_actions(
        user_id=request.user.pk, queryset=[obj], action_flag=flag, change_message=message, single_object=True
    )


def _based_on(data, key: str = "based_on") -> int | None:
    """The id of the latest change a preview showed, posted back with its confirmation (None: not given)."""
    try:
        return int(data.get(key, ""))
    except (TypeError, ValueError):
        return None


class ServiceDeleteMixin:
    """Deletes go through a service, which may refuse (409); a refusal is the only message the user sees.

    The admin log gets a deletion only for what the service deleted: Django logs before it deletes, so the entry is
    written here, in one transaction with the service's delete (a refusal rolls it back)."""

    def service_delete(self, request, obj) -> None:
        raise NotImplementedError

    def deletion_message(self, obj) -> str:
        return f"Deleted {obj}."

    def log_deletions(self, request, queryset):
        return []  # logged by delete_model, once the service has deleted the object

    def delete_model(self, request, obj):
        try:
            with transaction.atomic():
                _log(request, obj, DELETION, self.deletion_message(obj))
                self.service_delete(request, obj)
        except ApplicationError as error:
            request._service_refusals = [*getattr(request, "_service_refusals", []), error.message]
            self.message_user(request, error.message, messages.ERROR)
        else:
            request._service_deleted = getattr(request, "_service_deleted", 0) + 1

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, "_service_refusals", None):
            return HttpResponseRedirect(request.path.rsplit("/delete/", 1)[0] + "/change/")
        return super().response_delete(request, obj_display, obj_id)

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        refusals = getattr(request, "_service_refusals", None)
        if refusals and level == messages.SUCCESS and str(message).startswith("Successfully deleted"):
            deleted = getattr(request, "_service_deleted", 0)
            if not deleted:
                return
            message = f"Deleted {deleted} of {deleted + len(refusals)}."
        super().message_user(request, message, level, *args, **kwargs)


# --- namespaces and artifacts ----------------------------------------------------------------------------------
@admin.register(Namespace)
class NamespaceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "description", "artifact_count", "application_count", "created_at")
    search_fields = ("name",)
    readonly_fields = ("created_at",)
    admin_add = True
    admin_change = "yes"
    admin_delete = False  # DELETE /v3/unrecoverable/namespaces/{ns}: it refuses while programs run

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_artifacts=Count("artifacts", distinct=True), n_apps=Count("applications", distinct=True))
        )

    @admin.display(description="artifacts", ordering="n_artifacts")
    def artifact_count(self, namespace) -> int:
        return namespace.n_artifacts

    @admin.display(description="applications", ordering="n_apps")
    def application_count(self, namespace) -> int:
        return namespace.n_apps

    def get_readonly_fields(self, request, obj=None):
        return ("name", "created_at") if obj else ("created_at",)


class VersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ArtifactVersion
    fields = ("version_link", "format", "size_text", "checksum", "app_class_name", "plugin_count", "created_at",
              "created_by", "download")  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-sort_key",)
    show_change_link = False
    admin_change = "yes"
    admin_delete = True  # can_delete is False: no version is deleted from here

    @admin.display(description="version")
    def version_link(self, version: ArtifactVersion) -> str:
        url = reverse("admin:artifacts_artifactversion_change", args=[version.pk])
        return format_html('<a href="{}">{}</a>', url, version.version)

    @admin.display(description="size")
    def size_text(self, version: ArtifactVersion) -> str:
        return _size(version.size)

    @admin.display(description="sha256")
    def checksum(self, version: ArtifactVersion) -> str:
        return format_html('<code title="{}">{}…</code>', version.sha256, version.sha256[:16])

    @admin.display(description="app class")
    def app_class_name(self, version: ArtifactVersion) -> str:
        return (version.app_class or {}).get("className", "—")

    @admin.display(description="plugins")
    def plugin_count(self, version: ArtifactVersion) -> int:
        return version.plugins.count()

    @admin.display(description="archive")
    def download(self, version: ArtifactVersion) -> str:
        return _download_link(version, "download")


# --- uploads -----------------------------------------------------------------------------------------------------
class VersionUploadForm(forms.Form):
    """A new artifact version: the archive and what CDAP's upload headers say beyond it, parsed as those are."""

    archive = forms.FileField(help_text="A zip or wheel with artifact.json, or a jar with META-INF/MANIFEST.MF.")
    version = forms.CharField(required=False, help_text="Artifact-Version: overrides the archive's version.")
    extends = forms.CharField(
        required=False,
        help_text="Artifact-Extends: parents, e.g. system:pipeline[1.0.0,2.0.0), separated by '/' (replaces the "
        "archive's parents).",
    )
    plugins = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Artifact-Plugins: a JSON list of plugins the archive cannot declare (third-party jars).",
    )
    properties = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text='A JSON object of string properties, e.g. {"owner": "team-a"}: replaces the archive\'s, as a '
        "PUT of the version's properties right after the upload would.",
    )

    #: Which field a refusal of the upload service belongs to, by its code (else the form's own errors).
    SERVICE_FIELDS = {"archive": "archive", "version": "version", "exists": "version", "parents": "extends",
                      "parent": "extends", "properties": "properties", "name": "name"}  # fmt: skip

    def clean_version(self) -> str | None:
        return self.cleaned_data["version"].strip() or None

    def clean_extends(self):
        text = self.cleaned_data["extends"].strip()
        if not text:
            return None
        try:
            return parse_parents(text)
        except VersionError as error:
            raise forms.ValidationError(str(error)) from None

    def clean_plugins(self) -> list[dict]:
        text = self.cleaned_data["plugins"].strip()
        if not text:
            return []
        try:
            return plugins_from_json(text, where="plugins")
        except ArchiveError as error:
            raise forms.ValidationError(str(error)) from None

    def clean_properties(self) -> dict[str, str] | None:
        text = self.cleaned_data["properties"].strip()
        if not text:
            return None
        try:
            value = json_document(text, where="properties")
        except ArchiveError as error:
            raise forms.ValidationError(str(error)) from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError("Properties must be a JSON object whose values are strings.")
        return value

    def upload(self) -> services.ArtifactUpload:
        data = self.cleaned_data
        return services.ArtifactUpload(
            chunks=data["archive"].chunks(),
            version=data["version"],
            parents=data["extends"],
            plugins=data["plugins"],
            filename=data["archive"].name,
            properties=data["properties"],
        )

    def add_service_error(self, error: ApplicationError) -> None:
        """Put a refusal of the upload next to the input it is about (the archive, when it came from there)."""
        target = self.SERVICE_FIELDS.get(error.code)
        if target in ("version", "extends") and not self.cleaned_data.get(target):
            target = "archive"  # the archive's own version or parents
        self.add_error(target if target in self.fields else None, error.message)


class UploadForm(VersionUploadForm):
    """A version of any artifact: the namespace and name first (a new name creates the artifact)."""

    namespace = forms.ModelChoiceField(queryset=Namespace.objects.order_by("name"), to_field_name="name")
    name = forms.CharField(max_length=255, help_text="Artifact name: letters, digits, '.', '_' and '-'.")
    field_order = ["namespace", "name", "archive", "version", "extends", "plugins", "properties"]


def _upload_log_message(result: services.AddResult) -> str:
    version = result.version
    parts = [
        f"{'Uploaded' if result.created else 'Replaced the archive of snapshot'} version {version.version}",
        f"archive {version.filename or '(unnamed)'}, {_size(version.size)}, sha256 {version.sha256}",
    ]
    if version.parents:
        parts.append("parents " + " / ".join(version.parents))
    plugins = [f"{p.type}:{p.name}" for p in version.plugins.order_by("type", "name")]
    if plugins:
        parts.append("plugins " + ", ".join(plugins))
    if version.properties:
        parts.append("properties " + ", ".join(sorted(version.properties)))
    return "; ".join(parts) + "."


@admin.register(Artifact)
class ArtifactAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "namespace", "scope_label", "version_count", "latest_version", "created_at")
    list_filter = ("namespace",)
    search_fields = ("name",)
    list_select_related = ("namespace",)
    fields = ("namespace", "name", "created_at")
    readonly_fields = fields
    inlines = [VersionInline]
    change_list_template = "admin/artifacts/artifact/change_list.html"
    change_form_template = "admin/artifacts/artifact/change_form.html"
    # Artifacts are added by uploading an archive (the upload views); versions are deleted one by one (the service
    # frees their archives), and the last one takes the name with it.
    admin_add = False
    admin_delete = False
    admin_change = "view"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_versions=Count("versions"))

    @admin.display(description="scope")
    def scope_label(self, artifact: Artifact) -> str:
        return artifact.scope

    @admin.display(description="versions", ordering="n_versions")
    def version_count(self, artifact: Artifact) -> int:
        return artifact.n_versions

    @admin.display(description="latest")
    def latest_version(self, artifact: Artifact) -> str:
        latest = artifact.versions.order_by("-sort_key").first()
        return latest.version if latest else "—"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload_view), name="artifacts_artifact_upload"),
            path("<int:pk>/upload/", view(self.version_upload_view), name="artifacts_artifact_upload_version"),
            *super().get_urls(),
        ]

    def _may_upload(self, request) -> bool:
        return request.user.has_perm("artifacts.add_artifact")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if self._may_upload(request):
            extra_context["version_upload_form"] = VersionUploadForm()
        return super().change_view(request, object_id, form_url, extra_context)

    def _upload(self, request, form: VersionUploadForm, *, namespace: Namespace, name: str):
        """Add the form's archive as a version of ``namespace:name`` and log it; None (errors on the form) if
        refused. The service is the CDAP upload route's, with its refusals and their texts."""
        existed = Artifact.objects.filter(namespace=namespace, name=name).exists()
        try:
            result = services.artifact_add(
                namespace=namespace, name=name, upload=form.upload(), actor=request.user,
                allow_system=request.user.is_superuser,
            )  # fmt: skip
        except ApplicationError as error:
            form.add_service_error(error)
            return None
        version = result.version
        message = _upload_log_message(result)
        _log(request, version, ADDITION if result.created else CHANGE, message)
        _log(request, version.artifact, CHANGE if existed else ADDITION, message)
        verb = "Added" if result.created else "Replaced snapshot"
        self.message_user(
            request, f"{verb} {version.artifact} version {version.version} (sha256 {version.sha256}).", messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:artifacts_artifact_change", args=[version.artifact_id]))

    def _upload_page(self, request, form, *, title: str, artifact: Artifact | None = None):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "artifact": artifact,
            "opts": self.model._meta,
            "system_namespace": SYSTEM_NAMESPACE,
        }
        return TemplateResponse(request, "admin/artifacts/upload.html", context)

    def upload_view(self, request):
        if not self._may_upload(request):
            self.message_user(request, "You may not upload artifacts.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:index"))
        initial = {"namespace": request.GET.get("namespace", "default"), "name": request.GET.get("name", "")}
        form = UploadForm(request.POST or None, request.FILES or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            done = self._upload(request, form, namespace=data["namespace"], name=data["name"])
            if done is not None:
                return done
        return self._upload_page(request, form, title="Upload an artifact")

    def version_upload_view(self, request, pk: int):
        artifact = get_object_or_404(Artifact.objects.select_related("namespace"), pk=pk)
        if not self._may_upload(request):
            self.message_user(request, "You may not upload artifacts.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:artifacts_artifact_change", args=[artifact.pk]))
        form = VersionUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            done = self._upload(request, form, namespace=artifact.namespace, name=artifact.name)
            if done is not None:
                return done
        return self._upload_page(request, form, title=f"Upload a new version of {artifact}", artifact=artifact)


class PluginInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Plugin
    fields = ("type", "name", "class_name", "description", "property_names")
    readonly_fields = fields
    extra = 0
    can_delete = False
    admin_change = "yes"
    admin_delete = True  # can_delete is False: no plugin is deleted from here

    @admin.display(description="properties")
    def property_names(self, plugin: Plugin) -> str:
        return ", ".join(sorted(plugin.properties or {})) or "—"


# --- downloads ---------------------------------------------------------------------------------------------------
_EXTENSIONS = {"zip": ".zip", "wheel": ".whl", "jar": ".jar"}  # by ArtifactVersion.Format
_CONTENT_TYPES = {".zip": "application/zip", ".whl": "application/zip", ".jar": "application/java-archive"}
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._+-]+")


def download_filename(version: ArtifactVersion) -> str:
    """The name a downloaded archive is saved under: ASCII letters, digits and ``._+-`` only, never a path.

    ``<artifact>-<version>.zip|.jar``; a wheel keeps the name it was uploaded under when that is a ``.whl`` name
    (pip reads a wheel's tags from its file name).
    """
    ext = _EXTENSIONS.get(version.format, ".zip")

    def clean(text: str) -> str:
        return _UNSAFE_FILENAME.sub("_", text).strip("._-")[:150]

    if ext == ".whl":
        original = clean(PurePosixPath(version.filename.replace("\\", "/")).name)
        if original.endswith(".whl") and len(original) > len(".whl"):
            return original
    return (clean(f"{version.artifact.name}-{version.version}") or "artifact") + ext


def _download_link(version: ArtifactVersion, label: str) -> str:
    url = reverse("admin:artifacts_artifactversion_download", args=[version.pk])
    return format_html('<a href="{}" download>{}</a>', url, label)


@admin.register(ArtifactVersion)
class ArtifactVersionAdmin(ReadOnlyAdminMixin, ServiceDeleteMixin, admin.ModelAdmin):
    list_display = ("__str__", "format", "size_text", "sha256", "created_at", "created_by")
    list_filter = ("format", "is_snapshot", "artifact__namespace")
    search_fields = ("artifact__name", "version", "blob__sha256")
    list_select_related = ("artifact__namespace",)
    fields = ("artifact", "version", "is_snapshot", "format", "filename", "download", "size_text", "sha256",
              "app_class_json", "parents", "properties", "used_by", "created_at", "updated_at",
              "created_by")  # fmt: skip
    readonly_fields = fields
    inlines = [PluginInline]
    admin_add = False
    admin_change = "view"
    admin_delete = True  # through the service, which refuses while applications use the version

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/download/", view(self.download_view), name="artifacts_artifactversion_download"),
            *super().get_urls(),
        ]

    def download_view(self, request, pk: int):
        """The version's archive as an attachment (staff with view permission: ``admin_view`` and the check)."""
        version = get_object_or_404(ArtifactVersion.objects.select_related("artifact__namespace"), pk=pk)
        if not self.has_view_permission(request, version):
            raise PermissionDenied
        try:
            handle = version.blob_path.open("rb")
        except FileNotFoundError:
            raise Http404("The archive of this version is missing from the artifact store.") from None
        filename = download_filename(version)
        response = FileResponse(
            handle, as_attachment=True, filename=filename, content_type=_CONTENT_TYPES[PurePosixPath(filename).suffix]
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @admin.display(description="archive")
    def download(self, version: ArtifactVersion) -> str:
        return _download_link(version, f"Download {download_filename(version)}")

    @admin.display(description="size")
    def size_text(self, version: ArtifactVersion) -> str:
        return f"{_size(version.size)} ({version.size} bytes)"

    @admin.display(description="app class")
    def app_class_json(self, version: ArtifactVersion) -> str:
        if not version.app_class:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(version.app_class, indent=2))

    @admin.display(description="used by applications")
    def used_by(self, version: ArtifactVersion) -> str:
        apps = version.applications.select_related("namespace").order_by("name")
        links = (
            (reverse("admin:artifacts_application_change", args=[app.pk]), f"{app.namespace.name}.{app.name}")
            for app in apps
        )
        return format_html_join(", ", '<a href="{}">{}</a>', links) or "—"

    def deletion_message(self, obj) -> str:
        return f"Deleted version {obj.version} (sha256 {obj.sha256})."

    def service_delete(self, request, obj) -> None:
        artifact = obj.artifact
        last = not artifact.versions.exclude(pk=obj.pk).exists()
        services.artifact_version_delete(version=obj)
        # The artifact's History says so too; the last version takes the artifact with it.
        _log(request, artifact, DELETION if last else CHANGE, self.deletion_message(obj))

    def get_deleted_objects(self, objs, request):
        # A version's plugins go with it; deleting them needs no permission of its own (plugins are read-only).
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(Plugin._meta.verbose_name)
        return deleted, counts, perms_needed, protected


@admin.register(Plugin)
class PluginAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("type", "name", "class_name", "artifact_version", "scope")
    list_filter = ("type", "artifact_version__artifact__namespace")
    search_fields = ("type", "name", "class_name", "artifact_version__artifact__name")
    list_select_related = ("artifact_version__artifact__namespace",)
    ordering = ("type", "name")
    fields = ("type", "name", "class_name", "description", "category", "config_field_name", "artifact_version",
              "property_table")  # fmt: skip
    readonly_fields = fields
    admin_add = False
    admin_change = "view"
    admin_delete = False

    @admin.display(description="scope")
    def scope(self, plugin: Plugin) -> str:
        return plugin.artifact_version.scope

    @admin.display(description="properties")
    def property_table(self, plugin: Plugin) -> str:
        rows = (
            (name, p.get("type", ""), "yes" if p.get("required", True) else "no", p.get("description", ""))
            for name, p in sorted((plugin.properties or {}).items())
        )
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            "<table><thead><tr><th>name</th><th>type</th><th>required</th><th>description</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            body,
        )


# --- applications ----------------------------------------------------------------------------------------------
class ChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ApplicationChange
    fk_name = "application"
    fields = ("at", "action", "actor", "via", "from_artifact", "to_artifact", "config_change", "undone")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-id",)
    verbose_name_plural = "history"
    admin_change = "yes"
    admin_delete = True  # can_delete is False: the history is never deleted from here

    @admin.display(description="config")
    def config_change(self, change: ApplicationChange) -> str:
        rows = config_changes(change.from_config or {}, change.to_config or {})
        if not rows:
            return "unchanged"
        return format_html_join(mark_safe("<br>"), "{}: {} → {}", ((p, b or "∅", a or "∅") for p, _, b, a in rows))

    @admin.display(description="undone", boolean=True)
    def undone(self, change: ApplicationChange) -> bool:
        return change.undone_by_id is not None


class RunInline(admin.TabularInline):
    model = ProgramRun
    fields = ("program_type", "program_name", "run_id", "job_link", "status", "started_by", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-id",)
    max_num = 0
    verbose_name_plural = "program runs"

    @admin.display(description="job")
    def job_link(self, run: ProgramRun) -> str:
        if run.job_id is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:jobs_job_change", args=[run.job_id]), run.job_id)

    @admin.display(description="status")
    def status(self, run: ProgramRun) -> str:
        return selectors.run_status(run)


class UpgradeForm(forms.Form):
    version = forms.ModelChoiceField(queryset=ArtifactVersion.objects.none(), empty_label=None)

    def __init__(self, *args, app: Application, **kwargs):
        super().__init__(*args, **kwargs)
        current = app.artifact_version
        self.fields["version"].queryset = (
            ArtifactVersion.objects.filter(
                artifact__name=current.artifact.name,
                artifact__namespace__name__in=(app.namespace.name, SYSTEM_NAMESPACE),
                app_class__isnull=False,
            )
            .select_related("artifact__namespace")
            .order_by("artifact__namespace__name", "-sort_key")
        )
        self.fields["version"].label_from_instance = lambda v: (
            _version_label(v) + (" — current" if v.pk == current.pk else "")
        )
        self.fields["version"].initial = current.pk
        self.fields["version"].help_text = "A higher version upgrades the application, a lower one downgrades it."


class ConfigForm(forms.Form):
    """One input per field of the app class's configSchema; values are parsed with the schema's types.

    ``notes`` add a line of help to some fields (what an upgrade does to them). A required enum or boolean with no
    value yet offers an empty choice, so that the form never picks one for the user.
    """

    def __init__(self, *args, schema: dict, config: dict | None, notes: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.schema_fields = schema_fields(schema)
        config = config or {}
        notes = notes or {}
        for field_ in self.schema_fields:
            name, required = field_["name"], field_["required"]
            label = f"{name} ({field_['type']})"
            current = config.get(name)
            blank = [("", "— unset —")] if not required else ([("", "— choose —")] if current is None else [])
            help_text = ""
            if field_.get("symbols"):
                choices = blank + [(s, s) for s in field_["symbols"]]
                form_field: forms.Field = forms.ChoiceField(choices=choices, required=required, label=label)
                initial = current or ""
            elif field_["type"] == "boolean":
                choices = blank + [("true", "true"), ("false", "false")]
                form_field = forms.ChoiceField(choices=choices, required=required, label=label)
                initial = "" if current is None else json.dumps(current)
            elif field_["type"] in ("string", "int", "long", "float", "double", "bytes"):
                form_field = forms.CharField(required=required, label=label, strip=False)
                initial = "" if current is None else (current if isinstance(current, str) else json.dumps(current))
            else:  # records, arrays, maps and unions: JSON
                form_field = forms.CharField(
                    required=required, label=label, widget=forms.Textarea(attrs={"rows": 3, "cols": 80})
                )
                initial = "" if current is None else json.dumps(current, indent=2)
                help_text = "JSON"
            form_field.help_text = " ".join(part for part in (notes.get(name, ""), help_text) if part)
            form_field.initial = initial
            self.fields[f"cfg_{name}"] = form_field

    def config(self) -> dict:
        out = {}
        for field_ in self.schema_fields:
            text = self.cleaned_data.get(f"cfg_{field_['name']}", "")
            if text in ("", None) and not field_["required"]:
                continue
            try:
                value = coerce_form_value(field_["schema"], text or "")
            except ValueError as error:
                self.add_error(f"cfg_{field_['name']}", str(error))
                continue
            if value is not None:
                out[field_["name"]] = value
        return out

    def add_problems(self, problems: list[str]) -> None:
        """Put each problem of the config (``config.x.y: why``) on the input of its top-level field."""
        for problem in problems:
            name, message = problem_field(problem)
            if name is None or f"cfg_{name}" not in self.fields:
                self.add_error(None, problem)
            else:
                self.add_error(f"cfg_{name}", message)


#: ``config.name...`` or ``config["a name"]...`` at the start of a problem of ``validate_config``.
_PROBLEM_PATH = re.compile(r'config(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[("(?:[^"\\]|\\.)*")\])(.*)', re.S)


def problem_field(problem: str) -> tuple[str | None, str]:
    """The top-level config field a problem is about (None: the config as a whole), and the problem as said there:
    ``config.table: why`` -> (``table``, ``why``); ``config.target.host: why`` -> (``target``, ``target.host: why``)."""
    match = _PROBLEM_PATH.fullmatch(problem)
    if not match:
        return None, problem
    name = match[1] if match[1] is not None else json.loads(match[2])
    rest = match[3]
    return name, rest[2:] if rest.startswith(": ") else f"{name}{rest}"


@dataclass
class ConfigStep:
    """The config part of an upgrade: the target's form prefilled from the current config, and where it stands."""

    target: ArtifactVersion
    carry: services.ConfigCarryOver
    form: ConfigForm | None  # None: the target declares no configSchema, and the config is carried whole
    config: Any = None  # the config to apply (when ``valid``, or when previewing the carried config)
    valid: bool = False
    problems: list[str] = field(default_factory=list)  # the carried config's, while the form is not filled in yet

    @property
    def dropped(self) -> list[tuple[str, str]]:
        return [(key, json.dumps(value)) for key, value in self.carry.dropped.items()]


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdminMixin, ServiceDeleteMixin, admin.ModelAdmin):
    list_display = ("name", "namespace", "artifact_label", "updated_at", "owner", "action_links")
    list_filter = ("namespace", "artifact_version__artifact__name")
    search_fields = ("name", "artifact_version__artifact__name")
    list_select_related = ("namespace", "artifact_version__artifact__namespace", "owner")
    fields = ("namespace", "name", "description", "artifact_label", "artifact_request", "config_json", "owner",
              "created_at", "updated_at", "action_links")  # fmt: skip
    readonly_fields = fields
    inlines = [ChangeInline, RunInline]
    actions = ["rollback_selected"]
    admin_add = False  # PUT /v3/namespaces/{ns}/apps/{app}: an app needs an artifact and a validated config
    admin_change = "view"  # the change page's actions (upgrade, roll back, edit config) call the services
    admin_delete = True  # through the service, which refuses while programs run

    def service_delete(self, request, obj) -> None:
        services.app_delete(app=obj, actor=request.user, via="admin")

    def deletion_message(self, obj) -> str:
        return f"Deleted application {obj} (it used {_version_label(obj.artifact_version)})."

    @admin.display(description="artifact")
    def artifact_label(self, app: Application) -> str:
        return _version_label(app.artifact_version)

    @admin.display(description="config")
    def config_json(self, app: Application) -> str:
        return format_html("<pre>{}</pre>", json.dumps(app.config, indent=2))

    @admin.display(description="actions")
    def action_links(self, app: Application) -> str:
        links = [
            (reverse("admin:artifacts_application_upgrade", args=[app.pk]), "Upgrade"),
            (reverse("admin:artifacts_application_rollback", args=[app.pk]), "Roll back"),
            (reverse("admin:artifacts_application_config", args=[app.pk]), "Edit config"),
        ]
        return format_html_join(" | ", '<a href="{}">{}</a>', links)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/upgrade/", view(self.upgrade_view), name="artifacts_application_upgrade"),
            path("<int:pk>/rollback/", view(self.rollback_view), name="artifacts_application_rollback"),
            path("<int:pk>/config/", view(self.config_view), name="artifacts_application_config"),
            *super().get_urls(),
        ]

    # --- the three change views: a form (or nothing), a preview with the diff, then apply ---------------------
    def _app(self, request, pk: int) -> Application:
        app = get_object_or_404(
            Application.objects.select_related("namespace", "artifact_version__artifact__namespace"), pk=pk
        )
        return app

    def _page(self, request, app, *, title, form=None, step=None, preview=None, error=None, can_apply=False,
              confirm_fields=None, alternative=None):  # fmt: skip
        latest = selectors.application_last_change(app=app)
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "app": app,
            "opts": self.model._meta,
            "form": form,
            "step": step,
            "target_label": _version_label(step.target) if step else "",
            "preview": preview,
            "error": error,
            "can_apply": can_apply,
            "confirm_fields": {**(confirm_fields or {}), "based_on": latest.pk if latest else ""},
            "alternative": alternative,  # (url, text): another way to make the change
            "running": sorted({run.program_name for run in selectors.active_runs(app=app)}),
        }
        return TemplateResponse(request, "admin/artifacts/application/change_step.html", context)

    def _done(self, request, app, message: str):
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:artifacts_application_change", args=[app.pk]))

    def _preview(self, app: Application, version: ArtifactVersion | None, config, label: str = "") -> dict:
        return {
            "from_version": _version_label(app.artifact_version),
            "to_version": _version_label(version, label),
            "version_changes": version is None or version.pk != app.artifact_version_id,
            "config_rows": config_changes(app.config or {}, config or {}),
        }

    def _can_change(self, request, app) -> bool:
        # The staff member's own change permission: has_change_permission is the read-only mixin's (GET only).
        opts = self.model._meta
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")

    def _apply_and_log(self, request, apply: Callable[[], Application]) -> Application:
        """Run one service call and write its change to the admin log, in one transaction."""
        with transaction.atomic():
            app = apply()
            change = selectors.application_last_change(app=app)
            if change is not None:
                self.log_change(request, app, change_log_message(change))
        return app

    def _config_step(self, request, app: Application, target: ArtifactVersion) -> ConfigStep:
        """The target's config form: bound to what was posted for this target, else prefilled from the app."""
        carry = services.config_carry_over(version=target, config=app.config)
        schema = (target.app_class or {}).get("configSchema")
        if not schema:
            return ConfigStep(target, carry, None, carry.config, valid=True)
        label = _version_label(target)
        notes = {name: f"New in {label}; set to its default." for name in carry.defaulted}
        for name in carry.added:
            notes.setdefault(name, f"New in {label}.")
        bound = request.method == "POST" and request.POST.get("config_for") == str(target.pk)
        if not bound:
            # Not filled in yet: what the prefilled config lacks is said next to each field, and above the form.
            problems = services.config_problems(target, carry.config)
            for problem in problems:
                name, message = problem_field(problem)
                if name is not None:
                    notes[name] = " ".join(part for part in (notes.get(name), f"To fix: {message}.") if part)
            form = ConfigForm(schema=schema, config=carry.config, notes=notes)
            return ConfigStep(target, carry, form, carry.config, valid=not problems, problems=problems)
        form = ConfigForm(request.POST, schema=schema, config=carry.config, notes=notes)
        if not form.is_valid():
            return ConfigStep(target, carry, form)
        config = form.config()
        if form.is_valid():
            form.add_problems(services.config_problems(target, config))
        return ConfigStep(target, carry, form, config, valid=form.is_valid())

    def upgrade_view(self, request, pk: int):
        app = self._app(request, pk)
        if not self._can_change(request, app):
            return HttpResponseRedirect(reverse("admin:index"))
        title = f"Upgrade or downgrade {app.namespace.name}.{app.name}"
        # A version may come in the query string (a link from the rollback page): the first step is then shown.
        data = request.POST if request.method == "POST" else (request.GET if "version" in request.GET else None)
        form = UpgradeForm(data, app=app)
        if data is None or not form.is_valid():
            return self._page(request, app, title=title, form=form)
        target: ArtifactVersion = form.cleaned_data["version"]
        step = self._config_step(request, app, target)
        error = None
        if request.method == "POST" and "confirm" in request.POST and step.valid:
            ref = services.ArtifactRef(target.artifact.name, target.version, target.scope)
            try:
                self._apply_and_log(
                    request,
                    lambda: services.app_update(
                        app=app, ref=ref, config=step.config, config_given=step.config != app.config,
                        actor=request.user, via="admin upgrade", based_on=_based_on(request.POST),
                    ),
                )  # fmt: skip
            except ApplicationError as exc:
                problems = exc.extra.get("problems")
                app = self._app(request, pk)  # as it is now (the refusal may be that it changed)
                if problems and step.form is not None and step.form.is_bound:
                    step.form.add_problems(problems)
                    step.valid = False
                else:
                    error = _error_text(exc)
                    if step.form is None or not step.form.is_bound:
                        step = self._config_step(request, app, target)  # prefilled from the config as it is now
            else:
                return self._done(request, app, f"Application {app.name} now uses {_version_label(target)}.")
        preview = self._preview(app, target, step.config) if step.valid or step.problems else None
        return self._page(
            request, app, title=title, form=form, step=step, preview=preview, error=error,
            can_apply=step.valid, confirm_fields={"config_for": target.pk},
        )  # fmt: skip

    def rollback_view(self, request, pk: int):
        app = self._app(request, pk)
        if not self._can_change(request, app):
            return HttpResponseRedirect(reverse("admin:index"))
        title = f"Roll back {app.namespace.name}.{app.name}"
        plan = services.rollback_plan(app)
        error = None
        # Programs running is the one refusal left to the service at confirmation: the page says so already.
        if request.method == "POST" and "confirm" in request.POST and (plan.possible or plan.code == "running"):
            try:
                self._apply_and_log(
                    request,
                    lambda: services.app_rollback(
                        app=app, actor=request.user, via="admin rollback", based_on=_based_on(request.POST)
                    ),
                )
            except ApplicationError as exc:
                error = _error_text(exc)
                app = self._app(request, pk)  # as it is now (the refusal may be that it changed)
                plan = services.rollback_plan(app)
            else:
                target = plan.target.from_artifact if plan.target else ""
                return self._done(request, app, f"Application {app.name} rolled back to {target}.")
        target = plan.target
        if target is None or plan.code == "no_history":
            return self._page(request, app, title=title, error="There is no earlier version or config to go back to.")
        preview = self._preview(app, target.from_version, target.from_config, target.from_artifact)
        preview["undoes"] = target
        if plan.code in ("deleted", "config"):
            # Nothing to roll back to as it was: the version is gone, or (a replaced snapshot) takes another config.
            alternative = None
            if target.from_version is not None:
                url = reverse("admin:artifacts_application_upgrade", args=[app.pk])
                url += "?" + urlencode({"version": target.from_version.pk})
                alternative = (url, f"Change to {_version_label(target.from_version)} with a config that fits it")
            return self._page(request, app, title=title, preview=preview, error=plan.refusal, alternative=alternative)
        return self._page(
            request, app, title=title, preview=preview, error=error, can_apply=True, confirm_fields={"rollback": "1"}
        )

    def config_view(self, request, pk: int):
        app = self._app(request, pk)
        if not self._can_change(request, app):
            return HttpResponseRedirect(reverse("admin:index"))
        title = f"Edit the config of {app.namespace.name}.{app.name}"
        schema = (app.artifact_version.app_class or {}).get("configSchema")
        if not schema:
            return self._page(request, app, title=title, error="This application's class declares no configSchema.")
        form = ConfigForm(request.POST or None, schema=schema, config=app.config)
        if request.method != "POST" or not form.is_valid():
            return self._page(request, app, title=title, form=form)
        config = form.config()
        if form.is_valid():
            form.add_problems(services.config_problems(app.artifact_version, config))
        if not form.is_valid():
            return self._page(request, app, title=title, form=form)
        error = None
        if "confirm" in request.POST:
            try:
                self._apply_and_log(
                    request,
                    lambda: services.app_update(
                        app=app, ref=None, config=config, config_given=True, actor=request.user, via="admin config",
                        based_on=_based_on(request.POST),
                    ),
                )  # fmt: skip
            except ApplicationError as exc:
                problems = exc.extra.get("problems")
                if problems:
                    form.add_problems(problems)
                    return self._page(request, app, title=title, form=form)
                error = _error_text(exc)
                app = self._app(request, pk)
            else:
                return self._done(request, app, f"Application {app.name}'s config was saved.")
        preview = self._preview(app, app.artifact_version, config)
        return self._page(request, app, title=title, form=form, preview=preview, error=error, can_apply=True)

    # --- the changelist action -------------------------------------------------------------------------------
    def _rollback_plan(self, request, app: Application) -> services.RollbackPlan:
        if not self._can_change(request, app):
            return services.RollbackPlan(app, None, refusal="You may not change this application.", code="permission")
        return services.rollback_plan(app)

    @admin.action(description="Roll back selected applications to their previous version")
    def rollback_selected(self, request, queryset):
        apps = list(queryset.select_related("namespace", "artifact_version__artifact__namespace"))
        plans = [self._rollback_plan(request, app) for app in apps]
        if request.POST.get("confirm"):
            for plan in plans:
                app = plan.app
                if not plan.possible:
                    self.message_user(request, f"{app.name}: not rolled back: {plan.refusal}", messages.WARNING)
                    continue
                try:
                    self._apply_and_log(
                        request,
                        lambda app=app: services.app_rollback(
                            app=app, actor=request.user, via="admin rollback action",
                            based_on=_based_on(request.POST, f"based_on_{app.pk}"),
                        ),
                    )  # fmt: skip
                except ApplicationError as error:
                    self.message_user(request, f"{app.name}: {error.message}", messages.ERROR)
                else:
                    target = plan.target.from_artifact if plan.target else ""
                    self.message_user(request, f"{app.name}: rolled back to {target}.", messages.SUCCESS)
            return None
        rows = []
        for plan in plans:
            row: dict[str, Any] = {"app": plan.app, "possible": plan.possible, "refusal": plan.refusal}
            if plan.target is not None and plan.code not in ("no_history", "permission"):
                target = plan.target
                row.update(self._preview(plan.app, target.from_version, target.from_config, target.from_artifact))
            latest = selectors.application_last_change(app=plan.app)
            row["based_on"] = latest.pk if latest else ""
            rows.append(row)
        context = {
            **self.admin_site.each_context(request),
            "title": "Roll back applications",
            "opts": self.model._meta,
            "plans": rows,
            "possible": [row for row in rows if row["possible"]],
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/artifacts/application/rollback_selected.html", context)
