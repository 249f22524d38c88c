"""CDAP routes: namespaces, artifacts, plugins, applications and programs, under ``/v3/namespaces/...`` and the
3.1 seed's ``/namespaces/...``.

Views parse the request and render CDAP's shapes; ``artifacts.services`` changes state and ``artifacts.selectors``
reads it. Success texts are CDAP's ("Artifact added successfully", "Deploy Complete"); errors are plain text with
CDAP's statuses (``dataplatform.api.families.render_cdap_problem``). Uploads are read from the request stream in
chunks and never held whole in memory.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.response import Response

from artifacts import selectors, serializers, services
from artifacts.models import SYSTEM_NAMESPACE, Application, Namespace, Plugin
from artifacts.versions import is_valid_namespace
from dataplatform.api.exceptions import ForbiddenError, InvalidInputError, NotFoundError
from dataplatform.api.request import json_loads
from dataplatform.api.responses import text_response
from dataplatform.api.viewsets import CDAPAPIView

UPLOAD_CHUNK = 1024 * 1024


def _artifact_max_bytes() -> int:
    return settings.ARTIFACT_MAX_BYTES


def _body_chunks(request):
    raw = request._request
    while chunk := raw.read(UPLOAD_CHUNK):
        yield chunk


def _raw_body(request, limit: int = 10 * 1024 * 1024) -> bytes:
    data = request._request.read(limit + 1)
    if len(data) > limit:
        raise InvalidInputError(f"Request body is larger than {limit} bytes.")
    return data


def _json_body(request, *, required: bool = True):
    raw = _raw_body(request)
    if not raw.strip():
        if required:
            raise InvalidInputError("Request body is empty: send a JSON object.")
        return None
    try:
        return json_loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"Request body is invalid json: {error}") from None


def _require_admin(request, what: str) -> None:
    if not getattr(request.user, "is_admin", False):
        raise ForbiddenError(f"Only administrators may {what}.", code="admin")


def _paged(page: selectors.Page, items: list) -> Response:
    response = Response(items)
    if page.next_token:
        response["X-Next-Page-Token"] = page.next_token
    return response


class NamespacedView(CDAPAPIView):
    """Resolve ``ns`` (404 ``'namespace:x' was not found.``) before the handler runs."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.namespace: Namespace = selectors.namespace_get(name=kwargs["ns"])

    def scope(self) -> str | None:
        return selectors.parse_scope(self.request.query_params)

    def version(self, name: str, version: str):
        return selectors.artifact_version_get(namespace=self.namespace, name=name, version=version, scope=self.scope())

    def mutable_version(self, name: str, version: str):
        """A version a request may change: system artifacts only for admins."""
        found = self.version(name, version)
        if found.artifact.namespace.name == SYSTEM_NAMESPACE:
            _require_admin(self.request, "change system artifacts")
        return found


# --- namespaces ------------------------------------------------------------------------------------------------
def _namespace_meta(namespace: Namespace) -> dict:
    return {"name": namespace.name, "description": namespace.description, "config": namespace.config or {}}


class NamespaceListView(CDAPAPIView):
    def get(self, request):
        return Response([_namespace_meta(ns) for ns in selectors.namespace_list()])


class NamespaceView(CDAPAPIView):
    def get(self, request, ns):
        return Response(_namespace_meta(selectors.namespace_get(name=ns)))

    def put(self, request, ns):
        if not is_valid_namespace(ns) or len(ns) > services.MAX_NAMESPACE_LENGTH:
            raise InvalidInputError("Namespace id can contain only alphanumeric characters or '_'.")
        body = _raw_body(request, 1024 * 1024)
        data: dict = {}
        if body.strip():
            try:
                data = json_loads(body)
            except (ValueError, UnicodeDecodeError):
                data = None
            if not isinstance(data, dict) or not isinstance(data.get("config") or {}, dict):
                raise InvalidInputError("Invalid json object provided in request body.")
        created = services.namespace_create(
            name=ns, description=data.get("description") or "", config=data.get("config")
        )
        if created:
            return text_response(f"Namespace '{ns}' created successfully.")
        return text_response(f"Namespace '{ns}' already exists.")

    def delete(self, request, ns):
        services.namespace_delete(name=ns, actor=request.user)
        return text_response("")


# --- artifacts -------------------------------------------------------------------------------------------------
class ArtifactListView(NamespacedView):
    def get(self, request, ns):
        params = request.query_params
        scope = self.scope()
        if scope is None and params.get("includeSystem") not in (None, ""):
            if not selectors.parse_bool(params["includeSystem"], "includeSystem"):
                scope = selectors.USER
        page = selectors.artifact_summaries(
            namespace=self.namespace,
            scope=scope,
            limit=selectors.parse_limit(params.get("limit")),
            token=params.get("pageToken") or None,
        )
        return _paged(page, [serializers.summary_row(row) for row in page.items])

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
        params = request.query_params
        rng = params.get("artifactVersion")
        page = selectors.artifact_versions(
            namespace=self.namespace,
            name=name,
            scope=self.scope(),
            version_range=selectors.parse_range(rng) if rng else None,
            limit=selectors.parse_limit(params.get("limit")),
            order=selectors.parse_order(params.get("order")),
            token=params.get("pageToken") or None,
        )
        return _paged(page, [serializers.summary_row(row) for row in page.items])

    def post(self, request, ns, name):
        headers = request.headers
        upload = services.ArtifactUpload(
            chunks=_body_chunks(request),
            version=headers.get("Artifact-Version"),
            extends=headers.get("Artifact-Extends"),
            plugins=headers.get("Artifact-Plugins"),
            filename=headers.get("X-Archive-Name", ""),
        )
        services.artifact_add(
            namespace=self.namespace,
            name=name,
            upload=upload,
            actor=request.user,
            allow_system=getattr(request.user, "is_admin", False),
        )
        return text_response("Artifact added successfully")


class ArtifactVersionView(NamespacedView):
    def get(self, request, ns, name, version):
        found = self.version(name, version)
        plugins = list(found.plugins.order_by("type", "name"))
        return Response(serializers.artifact_info(found, plugins))

    def delete(self, request, ns, name, version):
        services.artifact_version_delete(version=self.mutable_version(name, version))
        return text_response("")


class ArtifactPluginsView(NamespacedView):
    def put(self, request, ns, name, version):
        found = self.mutable_version(name, version)
        services.artifact_plugins_set(version=found, body=_raw_body(request))
        return text_response("Plugins updated successfully")


class ArtifactPropertiesView(NamespacedView):
    def get(self, request, ns, name, version):
        properties = self.version(name, version).properties or {}
        keys = request.query_params.get("keys")
        if keys:
            wanted = [key.strip() for key in keys.split(",") if key.strip()]
            properties = {key: properties[key] for key in wanted if key in properties}
        return Response(properties)

    def put(self, request, ns, name, version):
        services.artifact_properties_replace(version=self.mutable_version(name, version), body=_raw_body(request))
        return text_response("")

    def delete(self, request, ns, name, version):
        services.artifact_properties_delete(version=self.mutable_version(name, version))
        return text_response("")


class ArtifactPropertyView(NamespacedView):
    def get(self, request, ns, name, version, key):
        properties = self.version(name, version).properties or {}
        if key not in properties:
            raise NotFoundError(f"'property:{key}' was not found.")
        return text_response(properties[key])

    def put(self, request, ns, name, version, key):
        value = _raw_body(request).decode("utf-8", errors="replace")
        services.artifact_property_set(version=self.mutable_version(name, version), key=key, value=value)
        return text_response("")

    def delete(self, request, ns, name, version, key):
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
        parent = self.version(name, version)
        plugins = selectors.plugins_for_parent(parent=parent, namespace=self.namespace).filter(type=plugin_type)
        return Response([serializers.plugin_summary(p) for p in plugins])


def _plugin_filters(request, plugins: list[Plugin]) -> list[Plugin]:
    params = request.query_params
    if params.get("artifactName"):
        plugins = [p for p in plugins if p.artifact_version.artifact.name == params["artifactName"]]
    if params.get("artifactScope"):
        scope = params["artifactScope"].upper()
        if scope not in (selectors.USER, selectors.SYSTEM):
            raise InvalidInputError(f"Invalid scope {params['artifactScope']}")
        plugins = [p for p in plugins if p.artifact_version.scope == scope]
    if params.get("artifactVersion"):
        rng = selectors.parse_range(params["artifactVersion"])
        plugins = [p for p in plugins if rng.contains(selectors.Version(p.artifact_version.version))]
    order = selectors.parse_order(params.get("order"))
    if order != "UNORDERED":
        plugins.sort(
            key=lambda p: (p.artifact_version.artifact.name, p.artifact_version.sort_key), reverse=order == "DESC"
        )
    limit = selectors.parse_limit(params.get("limit"))
    return plugins[:limit] if limit else plugins


class ArtifactPluginView(NamespacedView):
    def get(self, request, ns, name, version, plugin_type, plugin_name):
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
        plugins = selectors.plugins_in_namespace(namespace=self.namespace, plugin_type=plugin_type)
        return Response([serializers.plugin_summary(p) for p in plugins])


class PluginDetailView(NamespacedView):
    def get(self, request, ns, plugin_type, plugin_name):
        plugins = list(
            selectors.plugins_in_namespace(namespace=self.namespace, plugin_type=plugin_type, name=plugin_name)
        )
        plugins = _plugin_filters(request, plugins)
        if not plugins:
            raise NotFoundError(f"'{ns}:{plugin_type}:{plugin_name}' was not found.")
        return Response([serializers.plugin_info(p) for p in plugins])


class AppClassesView(NamespacedView):
    def get(self, request, ns):
        versions = selectors.app_classes(namespace=self.namespace, scope=self.scope())
        return Response([serializers.app_class_summary(v, with_schema=False) for v in versions])


class AppClassView(NamespacedView):
    def get(self, request, ns, class_name):
        versions = selectors.app_classes(namespace=self.namespace, scope=self.scope(), class_name=class_name)
        return Response([serializers.app_class_summary(v, with_schema=True) for v in versions])


class ArtifactPropertiesBatchView(NamespacedView):
    """``POST .../artifactproperties``: properties of several artifacts (a version or range each) at once."""

    def post(self, request, ns):
        body = _json_body(request)
        if not isinstance(body, list):
            raise InvalidInputError("Unable to parse request: expected a JSON array.")
        order = selectors.parse_order(request.query_params.get("order"))
        out = []
        for item in body:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise InvalidInputError("Unable to parse request: each item needs a name.")
            ref = services.ArtifactRef(item["name"], item.get("version"), (item.get("scope") or "USER").upper())
            try:
                if order == "ASC" and ref.version and ref.version[:1] in "[(":
                    rows = selectors.artifact_versions(
                        namespace=self.namespace, name=ref.name, scope=ref.scope,
                        version_range=selectors.parse_range(ref.version), limit=1, order="ASC", token=None,
                    ).items  # fmt: skip
                    found = self.version(ref.name, rows[0][2]) if rows else None
                else:
                    found = services.resolve_artifact(namespace=self.namespace, ref=ref)
            except NotFoundError:
                continue  # artifacts not found are skipped, as upstream
            if found is None:
                continue
            keys = item.get("properties") or []
            props = found.properties or {}
            if keys:
                props = {k: props[k] for k in keys if k in props}
            out.append(
                {"name": found.artifact.name, "version": found.version, "scope": found.scope, "properties": props}
            )
        return Response(out)


# --- applications ----------------------------------------------------------------------------------------------
def _app_request(body) -> tuple[services.ArtifactRef | None, object, bool]:
    if not isinstance(body, dict):
        raise InvalidInputError("Request body is invalid json, please check that it is a json object.")
    ref = services.parse_artifact_ref(body["artifact"]) if body.get("artifact") is not None else None
    return ref, body.get("config"), "config" in body


def _is_json(request) -> bool:
    return (request.content_type or "").split(";")[0].strip().lower() == "application/json"


class AppListView(NamespacedView):
    max_body_bytes = staticmethod(_artifact_max_bytes)

    def get(self, request, ns):
        names = [n for n in (request.query_params.get("artifactName") or "").split(",") if n]
        apps = selectors.application_list(
            namespace=self.namespace,
            artifact_names=names or None,
            artifact_version=request.query_params.get("artifactVersion") or None,
        )
        return Response([serializers.application_record(app) for app in apps])

    def post(self, request, ns):
        app = services.app_deploy_archive(
            namespace=self.namespace,
            chunks=_body_chunks(request),
            archive_name=request.headers.get("X-Archive-Name"),
            config_header=request.headers.get("X-App-Config") or request.headers.get("Application-Config"),
            actor=request.user,
        )
        return text_response(f"Successfully deployed app {app.name}")

    def delete(self, request, ns):
        services.apps_delete_all(namespace=self.namespace, actor=request.user)
        return text_response("")


class AppView(NamespacedView):
    max_body_bytes = staticmethod(_artifact_max_bytes)

    def get(self, request, ns, app):
        found = selectors.application_get(namespace=self.namespace, name=app)
        plugins = list(found.artifact_version.plugins.order_by("type", "name"))
        return Response(serializers.application_detail(found, plugins))

    def put(self, request, ns, app):
        if not _is_json(request):
            # CDAP 3.x: any other content type is the older archive upload, named by X-Archive-Name.
            services.app_deploy_archive(
                namespace=self.namespace,
                chunks=_body_chunks(request),
                archive_name=request.headers.get("X-Archive-Name"),
                config_header=request.headers.get("X-App-Config") or request.headers.get("Application-Config"),
                actor=request.user,
                app_name=app,
                via="PUT /apps/{app}",
            )
            return text_response("Deploy Complete")
        ref, config, _ = _app_request(_json_body(request))
        if ref is None:
            raise InvalidInputError('Request is missing the artifact: send {"artifact": {"name", "version"}}.')
        services.app_deploy(namespace=self.namespace, name=app, ref=ref, config=config, actor=request.user)
        return text_response("Deploy Complete")

    def delete(self, request, ns, app):
        found = selectors.application_get(namespace=self.namespace, name=app)
        services.app_delete(app=found, actor=request.user)
        return text_response("")


class AppPropertiesView(NamespacedView):
    """The 3.1 seed's update, upgrade and rollback: ``PUT /apps/{app}/properties`` with ``{artifact, config}``."""

    def put(self, request, ns, app):
        found = selectors.application_get(namespace=self.namespace, name=app)
        ref, config, config_given = _app_request(_json_body(request))
        services.app_update(
            app=found, ref=ref, config=config, config_given=config_given, actor=request.user,
            via="PUT /apps/{app}/properties",
        )  # fmt: skip
        return text_response("Update complete.")

    post = put


class AppUpdateView(NamespacedView):
    """CDAP GA's ``POST /apps/{app}/update``: only the artifact's version (and the config) may change."""

    def post(self, request, ns, app):
        found = selectors.application_get(namespace=self.namespace, name=app)
        ref, config, config_given = _app_request(_json_body(request, required=False) or {})
        services.app_update(
            app=found, ref=ref, config=config, config_given=config_given, actor=request.user,
            via="POST /apps/{app}/update", version_only=True,
        )  # fmt: skip
        return text_response("Update complete.")


class AppRollbackView(NamespacedView):
    """The platform's one-call rollback: back to the version and config before the latest change."""

    def post(self, request, ns, app):
        found = selectors.application_get(namespace=self.namespace, name=app)
        rolled = services.app_rollback(app=found, actor=request.user, via="POST /apps/{app}/rollback")
        version = rolled.artifact_version
        return text_response(
            f"Rollback complete. Application '{rolled.name}' uses {version.artifact.name} {version.version}."
        )


class AppHistoryView(NamespacedView):
    def get(self, request, ns, app):
        selectors.application_get(namespace=self.namespace, name=app)
        changes = selectors.application_changes(namespace=self.namespace.name, app_name=app)
        return Response([serializers.change_record(change) for change in changes])


# --- programs --------------------------------------------------------------------------------------------------
def _program_type(value: str) -> str:
    if value not in selectors.PROGRAM_TYPES:
        raise InvalidInputError(f"Unknown program type '{value}'")
    return value


class ProgramActionView(NamespacedView):
    def post(self, request, ns, app, program_type, program, action):
        found = selectors.application_get(namespace=self.namespace, name=app)
        program_type = _program_type(program_type)
        if action == "start":
            services.program_start(
                app=found, program_type=program_type, name=program, runtime_args=_raw_body(request),
                actor=request.user,
            )  # fmt: skip
        elif action == "stop":
            services.program_stop(app=found, program_type=program_type, name=program, actor=request.user)
        else:
            raise NotFoundError(f"{action} action was not found")
        return text_response("")


class ProgramStatusView(NamespacedView):
    def get(self, request, ns, app, program_type, program):
        found = selectors.application_get(namespace=self.namespace, name=app)
        selectors.program_get(app=found, program_type=_program_type(program_type), name=program)
        run = selectors.latest_run(app=found, program_type=program_type, name=program)
        return Response({"status": selectors.program_status(run)})


class ProgramRunsView(NamespacedView):
    def get(self, request, ns, app, program_type, program):
        found = selectors.application_get(namespace=self.namespace, name=app)
        selectors.program_get(app=found, program_type=_program_type(program_type), name=program)
        status = request.query_params.get("status")
        if status and status.upper() not in ("ALL", "STARTING", "RUNNING", "COMPLETED", "FAILED", "KILLED"):
            raise InvalidInputError("Supported options for status of runs are running/completed/failed")
        runs = selectors.program_runs(
            app=found,
            program_type=program_type,
            name=program,
            limit=selectors.parse_limit(request.query_params.get("limit")) or 100,
            status=status,
            start=_epoch_seconds(request.query_params.get("start"), "start"),
            end=_epoch_seconds(request.query_params.get("end"), "end"),
        )
        return Response([serializers.run_record(run) for run in runs])


def _epoch_seconds(value, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"Invalid {name} '{value}': expected epoch seconds.") from None
    return max(0, min(seconds, 253402300799))  # within what a datetime holds


class ProgramRunView(NamespacedView):
    def get(self, request, ns, app, program_type, program, run_id):
        found = selectors.application_get(namespace=self.namespace, name=app)
        selectors.program_get(app=found, program_type=_program_type(program_type), name=program)
        run = selectors.program_run_get(app=found, program_type=program_type, name=program, run_id=run_id)
        return Response(serializers.run_record(run))


_PRETTY_TYPES = {pretty.lower(): segment for segment, pretty in selectors.PROGRAM_TYPES.items()}


class BatchStatusView(NamespacedView):
    """``POST /v3/namespaces/{ns}/status`` with ``[{appId, programType, programId}]``."""

    def post(self, request, ns):
        body = _json_body(request)
        if not isinstance(body, list):
            raise InvalidInputError("Request body is invalid json, please check that it is a json array.")
        apps = {
            app.name: app
            for app in Application.objects.filter(namespace=self.namespace).select_related(
                "namespace", "artifact_version"
            )
        }
        out = []
        for item in body:
            if not isinstance(item, dict):
                raise InvalidInputError("Must provide valid appId, programType, and programId for each object")
            for key in ("appId", "programType", "programId"):
                if not isinstance(item.get(key), str) or not item[key]:
                    raise InvalidInputError(
                        f"Must provide valid appId, programType, and programId for each object: "
                        f"'{key}' must be specified."
                    )
            segment = _PRETTY_TYPES.get(item["programType"].lower()) or (
                item["programType"] if item["programType"] in selectors.PROGRAM_TYPES else None
            )
            result = dict(item)
            app = apps.get(item["appId"])
            if segment is None:
                result.update(statusCode=400, error=f"Invalid program type provided: {item['programType']}")
            elif app is None:
                entity = selectors.application_entity(ns, item["appId"])
                result.update(statusCode=404, error=f"'{entity}' was not found.")
            else:
                try:
                    selectors.program_get(app=app, program_type=segment, name=item["programId"])
                except NotFoundError as error:
                    result.update(statusCode=404, error=error.message)
                else:
                    run = selectors.latest_run(app=app, program_type=segment, name=item["programId"])
                    result.update(statusCode=200, status=selectors.program_status(run))
            out.append(result)
        return Response(out)
