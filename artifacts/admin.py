"""Artifacts and applications in the admin.

- Artifacts with their versions inline (checksum, size, app class, plugins) and an upload form.
- Artifact versions: manifest, plugins and properties; deleting one goes through the service (409 while in use).
- Plugins, filterable by type.
- Applications with their current version and change history, and three actions that show what will change
  (artifact version and a config diff) before they apply: upgrade, roll back (also a changelist action for
  several apps at once) and edit config, through a form generated from the app class's ``configSchema``.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from artifacts import selectors, services
from artifacts.cdap import parsers
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


class ServiceDeleteMixin:
    """Deletes go through a service, which may refuse (409); a refusal is the only message the user sees."""

    def service_delete(self, request, obj) -> None:
        raise NotImplementedError

    def delete_model(self, request, obj):
        try:
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
              "created_by")  # fmt: skip
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


class UploadForm(forms.Form):
    namespace = forms.ModelChoiceField(queryset=Namespace.objects.order_by("name"), to_field_name="name")
    name = forms.CharField(max_length=255, help_text="Artifact name: letters, digits, '.', '_' and '-'.")
    archive = forms.FileField(help_text="A zip or wheel with artifact.json, or a jar with META-INF/MANIFEST.MF.")
    version = forms.CharField(required=False, help_text="Artifact-Version: overrides the archive's version.")
    extends = forms.CharField(
        required=False, help_text="Artifact-Extends: parents, e.g. system:pipeline[1.0.0,2.0.0), separated by '/'."
    )
    plugins = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Artifact-Plugins: a JSON list of plugins the archive cannot declare (third-party jars).",
    )


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
    # Artifacts are added by uploading an archive (the upload view); versions are deleted one by one (the service
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
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="artifacts_artifact_upload"),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        if not request.user.has_perm("artifacts.add_artifact"):
            self.message_user(request, "You may not upload artifacts.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:index"))
        initial = {"namespace": request.GET.get("namespace", "default"), "name": request.GET.get("name", "")}
        form = UploadForm(request.POST or None, request.FILES or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            allow_system = request.user.is_superuser
            try:
                # The form's fields are CDAP's upload headers, read and refused as those are.
                services.artifact_add_check(
                    namespace=data["namespace"], name=data["name"], version=data["version"] or None,
                    allow_system=allow_system,
                )  # fmt: skip
                upload = parsers.artifact_upload(
                    data["archive"].chunks(),
                    version=data["version"] or None,
                    extends=data["extends"] or None,
                    plugins=data["plugins"] or None,
                    filename=data["archive"].name,
                )
                result = services.artifact_add(
                    namespace=data["namespace"],
                    name=data["name"],
                    upload=upload,
                    actor=request.user,
                    allow_system=allow_system,
                )
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                version = result.version
                verb = "Added" if result.created else "Replaced snapshot"
                self.message_user(
                    request, f"{verb} {version.artifact} version {version.version} (sha256 {version.sha256}).",
                    messages.SUCCESS,
                )  # fmt: skip
                return HttpResponseRedirect(reverse("admin:artifacts_artifact_change", args=[version.artifact_id]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload an artifact",
            "form": form,
            "opts": self.model._meta,
            "system_namespace": SYSTEM_NAMESPACE,
        }
        return TemplateResponse(request, "admin/artifacts/upload.html", context)


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


@admin.register(ArtifactVersion)
class ArtifactVersionAdmin(ReadOnlyAdminMixin, ServiceDeleteMixin, admin.ModelAdmin):
    list_display = ("__str__", "format", "size_text", "sha256", "created_at", "created_by")
    list_filter = ("format", "is_snapshot", "artifact__namespace")
    search_fields = ("artifact__name", "version", "blob__sha256")
    list_select_related = ("artifact__namespace",)
    fields = ("artifact", "version", "is_snapshot", "format", "filename", "size_text", "sha256", "app_class_json",
              "parents", "properties", "used_by", "created_at", "updated_at", "created_by")  # fmt: skip
    readonly_fields = fields
    inlines = [PluginInline]
    admin_add = False
    admin_change = "view"
    admin_delete = True  # through the service, which refuses while applications use the version

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

    def service_delete(self, request, obj) -> None:
        services.artifact_version_delete(version=obj)

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


class ConfigForm(forms.Form):
    """One input per field of the app class's configSchema; values are parsed with the schema's types."""

    def __init__(self, *args, schema: dict, config: dict | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.schema_fields = schema_fields(schema)
        config = config or {}
        for field in self.schema_fields:
            name, required = field["name"], field["required"]
            label = f"{name} ({field['type']})"
            current = config.get(name)
            if field.get("symbols"):
                choices = ([("", "— unset —")] if not required else []) + [(s, s) for s in field["symbols"]]
                form_field: forms.Field = forms.ChoiceField(choices=choices, required=required, label=label)
                initial = current or ""
            elif field["type"] == "boolean":
                choices = ([("", "— unset —")] if not required else []) + [("true", "true"), ("false", "false")]
                form_field = forms.ChoiceField(choices=choices, required=required, label=label)
                initial = "" if current is None else json.dumps(current)
            elif field["type"] in ("string", "int", "long", "float", "double", "bytes"):
                form_field = forms.CharField(required=required, label=label, strip=False)
                initial = "" if current is None else (current if isinstance(current, str) else json.dumps(current))
            else:  # records, arrays, maps and unions: JSON
                form_field = forms.CharField(
                    required=required, label=label, widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
                    help_text="JSON",
                )  # fmt: skip
                initial = "" if current is None else json.dumps(current, indent=2)
            form_field.initial = initial
            self.fields[f"cfg_{name}"] = form_field

    def config(self) -> dict:
        out = {}
        for field in self.schema_fields:
            text = self.cleaned_data.get(f"cfg_{field['name']}", "")
            if text in ("", None) and not field["required"]:
                continue
            try:
                value = coerce_form_value(field["schema"], text or "")
            except ValueError as error:
                self.add_error(f"cfg_{field['name']}", str(error))
                continue
            if value is not None:
                out[field["name"]] = value
        return out


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

    def _page(self, request, app, *, title, form=None, preview=None, error=None, confirm_fields=None):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "app": app,
            "opts": self.model._meta,
            "form": form,
            "preview": preview,
            "error": error,
            "confirm_fields": confirm_fields or {},
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

    def upgrade_view(self, request, pk: int):
        app = self._app(request, pk)
        if not self._can_change(request, app):
            return HttpResponseRedirect(reverse("admin:index"))
        form = UpgradeForm(request.POST or None, app=app)
        title = f"Upgrade {app.namespace.name}.{app.name}"
        if request.method == "POST" and form.is_valid():
            target: ArtifactVersion = form.cleaned_data["version"]
            if "confirm" in request.POST:
                ref = services.ArtifactRef(target.artifact.name, target.version, target.scope)
                try:
                    services.app_update(
                        app=app, ref=ref, config=None, config_given=False, actor=request.user, via="admin upgrade"
                    )
                except ApplicationError as error:
                    return self._page(request, app, title=title, form=form, error=_error_text(error))
                return self._done(request, app, f"Application {app.name} now uses {_version_label(target)}.")
            preview = self._preview(app, target, app.config)
            preview["config_problems"] = services.config_problems(target, app.config)
            return self._page(request, app, title=title, form=form, preview=preview)
        return self._page(request, app, title=title, form=form)

    def rollback_view(self, request, pk: int):
        app = self._app(request, pk)
        if not self._can_change(request, app):
            return HttpResponseRedirect(reverse("admin:index"))
        title = f"Roll back {app.namespace.name}.{app.name}"
        target = services.rollback_target(app)
        if target is None or target.action == ApplicationChange.Action.CREATE:
            return self._page(request, app, title=title, error="There is no earlier version or config to go back to.")
        if request.method == "POST" and "confirm" in request.POST:
            try:
                services.app_rollback(app=app, actor=request.user, via="admin rollback")
            except ApplicationError as error:
                return self._page(request, app, title=title, error=_error_text(error))
            return self._done(request, app, f"Application {app.name} rolled back to {target.from_artifact}.")
        preview = self._preview(app, target.from_version, target.from_config, target.from_artifact)
        preview["undoes"] = target
        return self._page(request, app, title=title, preview=preview, confirm_fields={"rollback": "1"})

    def config_view(self, request, pk: int):
        app = self._app(request, pk)
        if not self._can_change(request, app):
            return HttpResponseRedirect(reverse("admin:index"))
        title = f"Edit the config of {app.namespace.name}.{app.name}"
        schema = (app.artifact_version.app_class or {}).get("configSchema")
        if not schema:
            return self._page(request, app, title=title, error="This application's class declares no configSchema.")
        form = ConfigForm(request.POST or None, schema=schema, config=app.config)
        if request.method == "POST" and form.is_valid():
            config = form.config()
            if form.is_valid():
                if "confirm" in request.POST:
                    try:
                        services.app_update(
                            app=app, ref=None, config=config, config_given=True, actor=request.user,
                            via="admin config",
                        )  # fmt: skip
                    except ApplicationError as error:
                        return self._page(request, app, title=title, form=form, error=_error_text(error))
                    return self._done(request, app, f"Application {app.name}'s config was saved.")
                preview = self._preview(app, app.artifact_version, config)
                return self._page(request, app, title=title, form=form, preview=preview)
        return self._page(request, app, title=title, form=form)

    # --- the changelist action -------------------------------------------------------------------------------
    @admin.action(description="Roll back selected applications to their previous version")
    def rollback_selected(self, request, queryset):
        apps = list(queryset.select_related("namespace", "artifact_version__artifact__namespace"))
        if request.POST.get("confirm"):
            for app in apps:
                if not self._can_change(request, app):
                    self.message_user(request, f"{app.name}: you may not change this application.", messages.ERROR)
                    continue
                try:
                    services.app_rollback(app=app, actor=request.user, via="admin rollback action")
                except ApplicationError as error:
                    self.message_user(request, f"{app.name}: {error.message}", messages.ERROR)
                else:
                    self.message_user(request, f"{app.name}: rolled back.", messages.SUCCESS)
            return None
        plans = []
        for app in apps:
            target = services.rollback_target(app)
            if target is None or target.action == ApplicationChange.Action.CREATE:
                plans.append({"app": app, "error": "no earlier version or config"})
                continue
            plans.append(
                {"app": app, **self._preview(app, target.from_version, target.from_config, target.from_artifact)}
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Roll back applications",
            "opts": self.model._meta,
            "plans": plans,
            "queryset": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/artifacts/application/rollback_selected.html", context)
