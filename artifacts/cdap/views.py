"""CDAP routes: namespaces, artifacts, plugins, applications and programs, under ``/v3/namespaces/...`` and the
3.1 seed's ``/namespaces/...``; and the authentication handshake of CDAP clients (the router's ``/ping`` and the
authentication server's ``/token``).

Each handler parses the request (``artifacts.cdap.parsers``, ``artifacts.cdap.pages``), calls
``artifacts.services`` to change state or ``artifacts.selectors`` to read it, and renders CDAP's shapes
(``artifacts.cdap.serializers``). Success texts are CDAP's ("Artifact added successfully", "Deploy Complete");
errors are plain text with CDAP's statuses (``dataplatform.api.families.render_cdap_problem``). Uploads are read
from the request stream in chunks and never held whole in memory.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from artifacts import selectors, services
from artifacts.cdap import pages, parsers, serializers
from artifacts.models import SYSTEM_NAMESPACE, Namespace, Plugin
from artifacts.versions import is_valid_id, is_valid_name, is_valid_namespace
from dataplatform.accounts.login import authenticate_request
from dataplatform.accounts.services import token_issue
from dataplatform.api.exceptions import AuthenticationError, ForbiddenError, InvalidInputError, NotFoundError
from dataplatform.api.families import CDAP_REALM
from dataplatform.api.responses import text_response
from dataplatform.api.viewsets import CDAPAPIView


def _artifact_max_bytes() -> int:
    return settings.ARTIFACT_MAX_BYTES


def _header(name: str, description: str, *, required: bool = False) -> OpenApiParameter:
    return OpenApiParameter(name, str, OpenApiParameter.HEADER, required=required, description=description)


ARCHIVE_NAME = _header("X-Archive-Name", "The archive's file name, <name>-<version>.jar|.zip|.whl", required=True)
APP_CONFIG = _header("X-App-Config", "The application's config, as JSON")
UPLOAD_HEADERS = [
    _header("Artifact-Version", "The version (overrides the archive's)"),
    _header("Artifact-Extends", "Parents, '/'-separated, e.g. system:pipeline[1.0.0,2.0.0)"),
    _header("Artifact-Plugins", "A JSON list of plugins the archive cannot declare"),
    _header("X-Archive-Name", "The archive's file name (tells a wheel from a zip)"),
]


def _require_admin(request, what: str) -> None:
    if not getattr(request.user, "is_admin", False):
        raise ForbiddenError(f"Only administrators may {what}.", code="admin")


class NamespacedView(CDAPAPIView):
    """Resolve ``ns`` (404 ``'namespace:x' was not found.``) before the handler runs."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.namespace: Namespace = selectors.namespace_get_or_error(name=kwargs["ns"])

    def scope(self) -> str | None:
        return parsers.parse_scope(self.request.query_params)

    def version(self, name: str, version: str):
        return selectors.artifact_version_get_or_error(
            namespace=self.namespace, name=name, version=version, scope=self.scope()
        )

    def app(self, name: str):
        return selectors.application_get_or_error(namespace=self.namespace, name=name)

    def mutable_version(self, name: str, version: str):
        """A version a write may change: the path's namespace names it, whatever ``scope`` says.

        As CDAP's ArtifactHttpHandler: ``scope`` only chooses where reads look; a write through
        ``/namespaces/{ns}`` changes that namespace's own artifacts, so a system artifact is 404 there (for
        admins too, and without a 403 that would tell others it exists). System artifacts are changed through
        ``/namespaces/system/...``, by admins.
        """
        found = selectors.artifact_version_get_or_error(
            namespace=self.namespace, name=name, version=version, scope=selectors.USER
        )
        if self.namespace.name == SYSTEM_NAMESPACE:
            _require_admin(self.request, "change system artifacts")
        return found


# --- namespaces ------------------------------------------------------------------------------------------------
class NamespaceListView(CDAPAPIView):
    def get(self, request):
        """List namespaces."""
        return Response([serializers.namespace_meta(ns) for ns in selectors.namespace_list()])


class NamespaceView(CDAPAPIView):
    def get(self, request, ns):
        """A namespace's metadata."""
        return Response(serializers.namespace_meta(selectors.namespace_get_or_error(name=ns)))

    @extend_schema(request=parsers.json_request(parsers.NAMESPACE_META_BODY))
    def put(self, request, ns):
        """Create a namespace."""
        if not is_valid_namespace(ns) or len(ns) > services.MAX_NAMESPACE_LENGTH:
            raise InvalidInputError("Namespace id can contain only alphanumeric characters or '_'.")
        data = parsers.namespace_meta(parsers.raw_body(request, 1024 * 1024))
        created = services.namespace_create(
            name=ns, description=data.get("description") or "", config=data.get("config")
        )
        if created:
            return text_response(f"Namespace '{ns}' created successfully.")
        return text_response(f"Namespace '{ns}' already exists.")

    def delete(self, request, ns):
        """Delete a namespace and everything in it (admins)."""
        services.namespace_delete(name=ns, actor=request.user)
        return text_response("")


# --- artifacts -------------------------------------------------------------------------------------------------
class ArtifactListView(NamespacedView):
    def get(self, request, ns):
        """List artifacts (scope USER, SYSTEM or both)."""
        params = request.query_params
        scope = self.scope()
        if scope is None and params.get("includeSystem") not in (None, ""):
            if not parsers.parse_bool(params["includeSystem"], "includeSystem"):
                scope = selectors.USER
        limit = parsers.parse_limit(params.get("limit"))
        token = params.get("pageToken") or None
        after = pages.summaries_after(token)
        with pages.token_errors(token):
            page = selectors.artifact_summaries(namespace=self.namespace, scope=scope, limit=limit, after=after)
        return pages.page_response(page, [serializers.summary_row(row) for row in page.items])

    def post(self, request, ns):
        """``POST /v3/namespaces/system/artifacts``: reload the system artifacts directories (admins)."""
        if self.namespace.name != SYSTEM_NAMESPACE:
            self.http_method_not_allowed(request)
        _require_admin(request, "load system artifacts")
        report = services.system_artifacts_load()
        if report.failed:
            lines = "; ".join(f"{name}: {message}" for name, message in report.failed)
            return text_response(f"Some system artifacts could not be loaded: {lines}", status=500)
        return text_response("")


class ArtifactView(NamespacedView):
    max_body_bytes = staticmethod(_artifact_max_bytes)

    def get(self, request, ns, name):
        """An artifact's versions."""
        params = request.query_params
        rng = params.get("artifactVersion")
        page = selectors.artifact_versions(
            namespace=self.namespace,
            name=name,
            scope=self.scope(),
            version_range=selectors.parse_range(rng) if rng else None,
            limit=parsers.parse_limit(params.get("limit")),
            order=parsers.parse_order(params.get("order")),
            after=pages.versions_after(params.get("pageToken") or None),
        )
        return pages.page_response(page, [serializers.summary_row(row) for row in page.items])

    @extend_schema(request=parsers.ARCHIVE_BODY, parameters=UPLOAD_HEADERS)
    def post(self, request, ns, name):
        """Upload an artifact version (a JAR or zip body; Artifact-Version and Artifact-Extends headers)."""
        headers = request.headers
        allow_system = getattr(request.user, "is_admin", False)
        version = headers.get("Artifact-Version")
        # What no archive can fix is refused before the headers are read, as it always was.
        services.artifact_add_check(namespace=self.namespace, name=name, version=version, allow_system=allow_system)
        upload = parsers.artifact_upload(
            parsers.body_chunks(request),
            version=version,
            extends=headers.get("Artifact-Extends"),
            plugins=headers.get("Artifact-Plugins"),
            filename=headers.get("X-Archive-Name", ""),
        )
        services.artifact_add(
            namespace=self.namespace, name=name, upload=upload, actor=request.user, allow_system=allow_system
        )
        return text_response("Artifact added successfully")


class ArtifactVersionView(NamespacedView):
    def get(self, request, ns, name, version):
        """An artifact version: classes, properties, parents."""
        found = self.version(name, version)
        plugins = selectors.artifact_plugins(version=found)
        return Response(serializers.artifact_info(found, plugins))

    def delete(self, request, ns, name, version):
        """Delete an artifact version no application uses."""
        services.artifact_version_delete(version=self.mutable_version(name, version))
        return text_response("")


class ArtifactPluginsView(NamespacedView):
    @extend_schema(request=parsers.json_request(parsers.PLUGINS_BODY))
    def put(self, request, ns, name, version):
        """Declare an artifact version's plugins."""
        found = self.mutable_version(name, version)
        services.artifact_plugins_set(version=found, plugins=parsers.plugins(parsers.raw_body(request)))
        return text_response("Plugins updated successfully")


class ArtifactPropertiesView(NamespacedView):
    def get(self, request, ns, name, version):
        """An artifact version's properties (optionally some keys)."""
        properties = self.version(name, version).properties or {}
        keys = request.query_params.get("keys")
        if keys:
            wanted = [key.strip() for key in keys.split(",") if key.strip()]
            properties = {key: properties[key] for key in wanted if key in properties}
        return Response(properties)

    @extend_schema(request=parsers.json_request(parsers.PROPERTIES_BODY))
    def put(self, request, ns, name, version):
        """Replace an artifact version's properties."""
        found = self.mutable_version(name, version)
        services.artifact_properties_replace(version=found, properties=parsers.properties(parsers.raw_body(request)))
        return text_response("")

    def delete(self, request, ns, name, version):
        """Delete an artifact version's properties."""
        services.artifact_properties_delete(version=self.mutable_version(name, version))
        return text_response("")


class ArtifactPropertyView(NamespacedView):
    def get(self, request, ns, name, version, key):
        """One property of an artifact version."""
        properties = self.version(name, version).properties or {}
        if key not in properties:
            raise NotFoundError(f"'property:{key}' was not found.")
        return text_response(properties[key])

    @extend_schema(request=parsers.PROPERTY_BODY)
    def put(self, request, ns, name, version, key):
        """Set one property of an artifact version."""
        value = parsers.raw_body(request).decode("utf-8", errors="replace")
        services.artifact_property_set(version=self.mutable_version(name, version), key=key, value=value)
        return text_response("")

    def delete(self, request, ns, name, version, key):
        """Delete one property of an artifact version."""
        services.artifact_properties_delete(version=self.mutable_version(name, version), key=key)
        return text_response("")


class ArtifactExtensionsView(NamespacedView):
    """Plugin types usable by apps of this artifact version."""

    def get(self, request, ns, name, version):
        parent = self.version(name, version)
        plugins = selectors.plugins_for_parent(parent=parent, namespace=self.namespace)
        return Response(sorted(set(plugins.values_list("type", flat=True))))


class ArtifactExtensionTypeView(NamespacedView):
    def get(self, request, ns, name, version, plugin_type):
        """Plugins of one type usable by apps of this artifact version."""
        parent = self.version(name, version)
        plugins = selectors.plugins_for_parent(parent=parent, namespace=self.namespace).filter(type=plugin_type)
        return Response([serializers.plugin_summary(p) for p in plugins])


def _plugin_filters(request, plugins: list[Plugin]) -> list[Plugin]:
    params = request.query_params
    if params.get("artifactName"):
        plugins = [p for p in plugins if p.artifact_version.artifact.name == params["artifactName"]]
    if params.get("artifactScope"):
        scope = params["artifactScope"].upper()
        if scope not in parsers.SCOPES:
            raise InvalidInputError(f"Invalid scope {params['artifactScope']}")
        plugins = [p for p in plugins if p.artifact_version.scope == scope]
    if params.get("artifactVersion"):
        rng = selectors.parse_range(params["artifactVersion"])
        plugins = [p for p in plugins if rng.contains(selectors.Version(p.artifact_version.version))]
    order = parsers.parse_order(params.get("order"))
    if order != "UNORDERED":
        plugins.sort(
            key=lambda p: (p.artifact_version.artifact.name, p.artifact_version.sort_key), reverse=order == "DESC"
        )
    limit = parsers.parse_limit(params.get("limit"))
    return plugins[:limit] if limit else plugins


class ArtifactPluginView(NamespacedView):
    def get(self, request, ns, name, version, plugin_type, plugin_name):
        """One plugin's detail with its typed properties."""
        parent = self.version(name, version)
        plugins = list(
            selectors.plugins_for_parent(parent=parent, namespace=self.namespace).filter(
                type=plugin_type, name=plugin_name
            )
        )
        plugins = _plugin_filters(request, plugins)
        if not plugins:
            raise NotFoundError(f"'{parent.artifact.namespace.name}:{plugin_type}:{plugin_name}' was not found.")
        return Response([serializers.plugin_info(p) for p in plugins])


class PluginTypesView(NamespacedView):
    """The 3.1 seed's ``GET /namespaces/{ns}/plugintypes`` (and ``extensions``): plugin types in the namespace."""

    def get(self, request, ns):
        plugins = selectors.plugins_in_namespace(namespace=self.namespace)
        return Response(sorted(set(plugins.values_list("type", flat=True))))


class PluginsOfTypeView(NamespacedView):
    def get(self, request, ns, plugin_type):
        """Plugins of one type in the namespace."""
        plugins = selectors.plugins_in_namespace(namespace=self.namespace, plugin_type=plugin_type)
        return Response([serializers.plugin_summary(p) for p in plugins])


class PluginDetailView(NamespacedView):
    def get(self, request, ns, plugin_type, plugin_name):
        """One plugin's detail in the namespace."""
        plugins = list(
            selectors.plugins_in_namespace(namespace=self.namespace, plugin_type=plugin_type, name=plugin_name)
        )
        plugins = _plugin_filters(request, plugins)
        if not plugins:
            raise NotFoundError(f"'{ns}:{plugin_type}:{plugin_name}' was not found.")
        return Response([serializers.plugin_info(p) for p in plugins])


class AppClassesView(NamespacedView):
    def get(self, request, ns):
        """Application classes in the namespace's artifacts."""
        versions = selectors.app_classes(namespace=self.namespace, scope=self.scope())
        return Response([serializers.app_class_summary(v, with_schema=False) for v in versions])


class AppClassView(NamespacedView):
    def get(self, request, ns, class_name):
        """One application class with its config schema."""
        versions = selectors.app_classes(namespace=self.namespace, scope=self.scope(), class_name=class_name)
        return Response([serializers.app_class_summary(v, with_schema=True) for v in versions])


class ArtifactPropertiesBatchView(NamespacedView):
    """``POST .../artifactproperties``: properties of several artifacts (a version or range each) at once."""

    @extend_schema(request=parsers.json_request(parsers.ARTIFACT_PROPERTIES_BODY))
    def post(self, request, ns):
        """Properties of several artifacts at once."""
        requests = parsers.artifact_property_requests(parsers.json_body(request))
        order = parsers.parse_order(request.query_params.get("order"))
        out = []
        for ref, keys in requests:
            try:
                if order == "ASC" and ref.version and ref.version[:1] in "[(":
                    rows = selectors.artifact_versions(
                        namespace=self.namespace, name=ref.name, scope=ref.scope,
                        version_range=selectors.parse_range(ref.version), limit=1, order="ASC",
                    ).items  # fmt: skip
                    found = self.version(ref.name, rows[0][2]) if rows else None
                else:
                    found = services.resolve_artifact(namespace=self.namespace, ref=ref)
            except NotFoundError:
                continue  # artifacts not found are skipped, as upstream
            if found is None:
                continue
            props = found.properties or {}
            if keys:
                props = {k: props[k] for k in keys if k in props}
            out.append(
                {"name": found.artifact.name, "version": found.version, "scope": found.scope, "properties": props}
            )
        return Response(out)


# --- applications ----------------------------------------------------------------------------------------------
class AppListView(NamespacedView):
    max_body_bytes = staticmethod(_artifact_max_bytes)

    def get(self, request, ns):
        """List applications (filter by artifactName, artifactVersion)."""
        names = [n for n in (request.query_params.get("artifactName") or "").split(",") if n]
        apps = selectors.applications_listed(
            namespace=self.namespace,
            artifact_names=names or None,
            artifact_version=request.query_params.get("artifactVersion") or None,
        )
        return Response([serializers.application_record(app) for app in apps])

    @extend_schema(request=parsers.ARCHIVE_BODY, parameters=[ARCHIVE_NAME, APP_CONFIG])
    def post(self, request, ns):
        """Deploy an application from an archive."""
        archive_name = request.headers.get("X-Archive-Name")
        name, version = parsers.archive_name(archive_name)
        app = services.app_deploy_archive(
            namespace=self.namespace,
            chunks=parsers.body_chunks(request),
            name=name,
            version=version,
            filename=archive_name,
            config=parsers.app_config(request.headers),
            actor=request.user,
        )
        return text_response(f"Successfully deployed app {app.name}")

    def delete(self, request, ns):
        """Delete every application in the namespace."""
        services.apps_delete_all(namespace=self.namespace, actor=request.user)
        return text_response("")


class AppView(NamespacedView):
    max_body_bytes = staticmethod(_artifact_max_bytes)

    def get(self, request, ns, app):
        """An application's detail: artifact, configuration, programs."""
        found = self.app(app)
        plugins = selectors.artifact_plugins(version=found.artifact_version)
        return Response(serializers.application_detail(found, plugins))

    @extend_schema(
        request={**parsers.json_request(parsers.APP_REQUEST_BODY), **parsers.ARCHIVE_BODY},
        parameters=[_header("X-Archive-Name", "With an archive: its file name, <name>-<version>.jar"), APP_CONFIG],
        description="Deploy (or redeploy) from an artifact (JSON), or from an archive sent as the body.",
    )
    def put(self, request, ns, app):
        """Create or update an application from an artifact and a config."""
        if not parsers.is_json(request):
            # CDAP 3.x: any other content type is the older archive upload, named by X-Archive-Name.
            archive_name = request.headers.get("X-Archive-Name")
            name, version = parsers.archive_name(archive_name)
            services.app_deploy_archive(
                namespace=self.namespace,
                chunks=parsers.body_chunks(request),
                name=name,
                version=version,
                filename=archive_name,
                config=parsers.app_config(request.headers),
                actor=request.user,
                app_name=app,
                via="PUT /apps/{app}",
            )
            return text_response("Deploy Complete")
        ref, config, _ = parsers.app_request(parsers.json_body(request))
        if ref is None:
            raise InvalidInputError('Request is missing the artifact: send {"artifact": {"name", "version"}}.')
        services.app_deploy(namespace=self.namespace, name=app, ref=ref, config=config, actor=request.user)
        return text_response("Deploy Complete")

    def delete(self, request, ns, app):
        """Delete an application."""
        services.app_delete(app=self.app(app), actor=request.user)
        return text_response("")


class AppVersionsView(NamespacedView):
    """``GET /apps/{app}/versions``: the app's version ids; an application here has one, ``-SNAPSHOT``."""

    def get(self, request, ns, app):
        """An application's version ids."""
        return Response(selectors.application_versions(app=self.app(app)))


def _app_version_id(app: str, version: str) -> None:
    """CDAP's ``validateApplicationVersionId``: 400 for an invalid app name or version id."""
    if not is_valid_id(app):
        raise InvalidInputError(f"Invalid app name '{app}'")
    if not is_valid_name(version):
        raise InvalidInputError(f"Invalid version '{version}'")


class AppVersionView(NamespacedView):
    """``GET|DELETE /apps/{app}/versions/{version}``: the one version there is, or CDAP's 404 naming the version."""

    def version_of(self, app: str, version: str):
        _app_version_id(app, version)
        return selectors.application_version_get_or_error(namespace=self.namespace, name=app, version=version)

    def get(self, request, ns, app, version):
        """One version of an application."""
        found = self.version_of(app, version)
        plugins = selectors.artifact_plugins(version=found.artifact_version)
        return Response(serializers.application_detail(found, plugins))

    def delete(self, request, ns, app, version):
        """Delete one version of an application."""
        found = self.version_of(app, version)
        services.app_delete(app=found, actor=request.user, via="DELETE /apps/{app}/versions/{v}")
        return text_response("")


class AppVersionCreateView(NamespacedView):
    """``POST /apps/{app}/versions/{version}/create``: deploy from an AppRequest; upstream ignores the version
    id once it is valid (``createAppVersion``), so this is ``PUT /apps/{app}`` under another name."""

    @extend_schema(request=parsers.json_request(parsers.APP_REQUEST_BODY))
    def post(self, request, ns, app, version):
        """Deploy a version of an application from an artifact and a config."""
        _app_version_id(app, version)
        ref, config, _ = parsers.app_request(parsers.json_body(request))
        if ref is None:
            raise InvalidInputError('Request is missing the artifact: send {"artifact": {"name", "version"}}.')
        services.app_deploy(
            namespace=self.namespace, name=app, ref=ref, config=config, actor=request.user,
            via="POST .../versions/{v}/create",
        )  # fmt: skip
        return text_response("Deploy Complete")


class AppPropertiesView(NamespacedView):
    """The 3.1 seed's update, upgrade and rollback: ``PUT /apps/{app}/properties`` with ``{artifact, config}``."""

    @extend_schema(request=parsers.json_request(parsers.APP_REQUEST_BODY))
    def put(self, request, ns, app):
        found = self.app(app)
        ref, config, config_given = parsers.app_request(parsers.json_body(request))
        services.app_update(
            app=found, ref=ref, config=config, config_given=config_given, actor=request.user,
            via="PUT /apps/{app}/properties",
        )  # fmt: skip
        return text_response("Update complete.")

    post = put


class AppUpdateView(NamespacedView):
    """CDAP GA's ``POST /apps/{app}/update``: only the artifact's version (and the config) may change."""

    @extend_schema(request=parsers.json_request(parsers.APP_REQUEST_BODY))
    def post(self, request, ns, app):
        found = self.app(app)
        ref, config, config_given = parsers.app_request(parsers.json_body(request, required=False) or {})
        services.app_update(
            app=found, ref=ref, config=config, config_given=config_given, actor=request.user,
            via="POST /apps/{app}/update", version_only=True,
        )  # fmt: skip
        return text_response("Update complete.")


class AppRollbackView(NamespacedView):
    """The platform's one-call rollback: back to the version and config before the latest change."""

    def post(self, request, ns, app):
        rolled = services.app_rollback(app=self.app(app), actor=request.user, via="POST /apps/{app}/rollback")
        version = rolled.artifact_version
        return text_response(
            f"Rollback complete. Application '{rolled.name}' uses {version.artifact.name} {version.version}."
        )


class AppHistoryView(NamespacedView):
    def get(self, request, ns, app):
        """An application's changes: versions and configs, newest first."""
        self.app(app)
        changes = selectors.application_changes(namespace=self.namespace.name, app_name=app)
        return Response([serializers.change_record(change) for change in changes])


# --- programs --------------------------------------------------------------------------------------------------
class ProgramActionView(NamespacedView):
    @extend_schema(request=parsers.json_request(parsers.RUNTIME_ARGS_BODY))
    def post(self, request, ns, app, program_type, program, action):
        """Start or stop a program."""
        found = self.app(app)
        program_type = parsers.parse_program_type(program_type)
        if action == "start":
            body = parsers.raw_body(request)
            # An unknown program is a 404 whatever the body says.
            selectors.program_get_or_error(app=found, program_type=program_type, name=program)
            services.program_start(
                app=found, program_type=program_type, name=program, runtime_args=parsers.runtime_args(body),
                actor=request.user,
            )  # fmt: skip
        elif action == "stop":
            services.program_stop(app=found, program_type=program_type, name=program, actor=request.user)
        else:
            raise NotFoundError(f"{action} action was not found")
        return text_response("")


class ProgramStatusView(NamespacedView):
    def get(self, request, ns, app, program_type, program):
        """A program's status."""
        found = self.app(app)
        selectors.program_get_or_error(app=found, program_type=parsers.parse_program_type(program_type), name=program)
        run = selectors.latest_run(app=found, program_type=program_type, name=program)
        return Response({"status": selectors.program_status(run)})


class ProgramRunsView(NamespacedView):
    def get(self, request, ns, app, program_type, program):
        """A program's runs (status, start and end, limit)."""
        found = self.app(app)
        selectors.program_get_or_error(app=found, program_type=parsers.parse_program_type(program_type), name=program)
        params = request.query_params
        status = parsers.parse_run_status(params.get("status"))
        runs = selectors.program_runs(
            app=found,
            program_type=program_type,
            name=program,
            limit=parsers.parse_limit(params.get("limit")) or 100,
            status=status,
            start=parsers.parse_epoch_seconds(params.get("start"), "start"),
            end=parsers.parse_epoch_seconds(params.get("end"), "end"),
        )
        return Response([serializers.run_record(run) for run in runs])


class ProgramRunView(NamespacedView):
    def get(self, request, ns, app, program_type, program, run_id):
        """One run of a program."""
        found = self.app(app)
        selectors.program_get_or_error(app=found, program_type=parsers.parse_program_type(program_type), name=program)
        run = selectors.program_run_get_or_error(app=found, program_type=program_type, name=program, run_id=run_id)
        return Response(serializers.run_record(run))


class BatchStatusView(NamespacedView):
    """``POST /v3/namespaces/{ns}/status`` with ``[{appId, programType, programId}]``."""

    @extend_schema(request=parsers.json_request(parsers.PROGRAM_STATUS_BODY))
    def post(self, request, ns):
        """Statuses of several programs at once."""
        items = parsers.program_status_requests(parsers.json_body(request))
        apps = {
            app.name: app for app in selectors.application_list(namespace=self.namespace).select_related("namespace")
        }
        out = []
        for item in items:
            segment = parsers.program_type_segment(item["programType"])
            result = dict(item)
            app = apps.get(item["appId"])
            if segment is None:
                result.update(statusCode=400, error=f"Invalid program type provided: {item['programType']}")
            elif app is None:
                entity = selectors.application_entity(ns, item["appId"])
                result.update(statusCode=404, error=f"'{entity}' was not found.")
            elif selectors.program_get(app=app, program_type=segment, name=item["programId"]) is None:
                entity = selectors.program_entity(ns, app.name, segment, item["programId"])
                result.update(statusCode=404, error=f"'{entity}' was not found.")
            else:
                run = selectors.latest_run(app=app, program_type=segment, name=item["programId"])
                result.update(statusCode=200, status=selectors.program_status(run))
            out.append(result)
        return Response(out)


# --- authentication: the router's ping and the authentication server's token --------------------------------------
class PingView(CDAPAPIView):
    """``GET /ping`` (and 2.x's ``/v2/ping``, which cdap-auth-client sends first): "OK.\\n" to a caller with a token.

    Without one it is the router's 401 naming ``auth_uri`` (``dataplatform.api.families``), which is how a client
    learns that authentication is on and where to get a token.
    """

    def get(self, request):
        """Ping the router (with a token)."""
        return text_response("OK.\n")


TOKEN_BODY = {
    "type": "object",
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string", "enum": ["Bearer"]},
        "expires_in": {"type": "integer", "description": "seconds"},
    },
}


class TokenView(CDAPAPIView):
    """``GET /token``: CDAP's authentication server (``GrantAccessToken``): HTTP Basic credentials in, a Bearer
    token for ``/v3`` out, ``{"access_token", "token_type": "Bearer", "expires_in": <seconds>}``.

    The token is the platform's JWT (as ``POST /api/auth`` issues) for the default lifetime; wrong or missing
    credentials are 401 with a Basic challenge, as the authentication server's Jetty answers; failed attempts
    count in the login throttle every login route shares.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Get an access token with HTTP Basic credentials (CDAP's authentication server)",
        responses={200: TOKEN_BODY, 401: {"type": "string"}},
        auth=[],
    )
    def get(self, request):
        credentials = parsers.basic_credentials(request.headers.get("Authorization"))
        if credentials is None:
            return _basic_challenge()
        try:
            user = authenticate_request(request, username=credentials[0], password=credentials[1])
        except AuthenticationError:
            return _basic_challenge()
        lifetime = min(settings.JWT_DEFAULT_EXPIRATION, settings.JWT_MAX_EXPIRATION)
        body = {
            "access_token": token_issue(user=user, expiration=lifetime),
            "token_type": "Bearer",
            "expires_in": lifetime,
        }
        return HttpResponse(
            json.dumps(body, separators=(",", ":")),
            content_type="application/json;charset=UTF-8",
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )


def _basic_challenge() -> HttpResponse:
    response = text_response("Unauthorized", status=401)
    response["WWW-Authenticate"] = f'Basic realm="{CDAP_REALM}"'
    return response
