"""OpenPAI job routes: the seed's ``/api/job[/:jobName]`` (v0.1, ``{error, message}``) and v0.7's
``/api/v1/jobs[...]`` (``{code, message}``), plus v0.8's per-user ``/api/v1/user/:username/jobs[...]``, v0.14's
``POST /api/v2/jobs`` (job protocol v2) and the platform's task log route.

As upstream, the job named in the path is looked up before the token is checked: an unknown job is 404 (v1) or
``JobNotFound`` (seed) with or without credentials; reading jobs needs no token, changing them does.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from dataplatform.api.exceptions import (
    ApplicationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    OpenPAIError,
    OpenPAIV1Error,
)
from dataplatform.api.request import json_loads
from dataplatform.api.responses import text_response
from dataplatform.api.viewsets import OpenPAIAPIView, OpenPAIV1APIView
from jobs.logstore import log_read
from jobs.openpai import protocol, selectors, services
from jobs.openpai.config import JOB_SCHEMA, ConfigError, parse_body

GUEST = "Guest is not allowed to do this operation."
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class LenientReadMixin:
    """Reading jobs needs no token upstream, so a stale or invalid one on a read is ignored (the caller is a
    guest) instead of refused; writes still refuse it."""

    lenient_methods = SAFE_METHODS

    def perform_authentication(self, request):
        try:
            request.user  # noqa: B018 - authenticates
        except AuthenticationFailed:
            if request.method not in self.lenient_methods:
                raise
            request._not_authenticated()


#: The documented bodies are the schemas the parsing uses (``jobs.openpai.config.JOB_SCHEMA``), so they cannot drift.
JOB_BODY = {"application/json": JOB_SCHEMA.json_schema()}
EXECUTION_TYPES = ("START", "STOP")
EXECUTION_TYPE_BODY = {
    "application/json": {
        "type": "object",
        "required": ["value"],
        "properties": {"value": {"type": "string", "enum": list(EXECUTION_TYPES)}},
    }
}


def _raw(request) -> str:
    return request.body.decode("utf-8", errors="replace")


def _status_of(error: ApplicationError) -> int:
    if isinstance(error, services.QueueFullError):
        return 500
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, ForbiddenError):
        return 403
    return 400


def _v1_error(error: ApplicationError) -> OpenPAIV1Error:
    return OpenPAIV1Error(_status_of(error), error.code or "UnknownError", error.message)


# --- the seed: /api/job ----------------------------------------------------------------------------------------
class SeedJobListView(LenientReadMixin, OpenPAIAPIView):
    """``/api/job`` (any method, as upstream's ``route('/').all``): every job, newest first; ``[]`` when none."""

    permission_classes = [AllowAny]
    lenient_methods = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE")

    @extend_schema(summary="List jobs (newest first)", responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response([selectors.seed_list_item(pai) for pai in selectors.pai_jobs_listed()])

    post = put = delete = get


class SeedJobView(LenientReadMixin, OpenPAIAPIView):
    """``/api/job/:jobName``: status (GET), submit or update (PUT), remove (DELETE)."""

    permission_classes = [AllowAny]

    def _job(self, request, name: str):
        try:
            return selectors.pai_job_get_or_error(name=name, viewer=request.user)
        except NotFoundError:
            raise OpenPAIError(500, "JobNotFound", f"could not find job {name}") from None

    def _require_user(self, request) -> None:
        if not request.user.is_authenticated:
            raise NotAuthenticated()  # the generic handler's {message: "No authorization token was found", error: {}}

    @extend_schema(summary="Job status (the seed's flat object)", responses={200: OpenApiTypes.OBJECT})
    def get(self, request, job_name):
        return Response(selectors.job_status(self._job(request, job_name), viewer=request.user))

    @extend_schema(summary="Submit a job config, or replace a finished job of that name", request=JOB_BODY)
    def put(self, request, job_name):
        self._require_user(request)
        try:
            data = parse_body(request.body)
            services.pai_job_submit(
                owner=request.user, data=data, raw=_raw(request), name=job_name, replace_finished=True
            )
        except ConfigError as error:
            raise OpenPAIError(500, "ParameterValidationError", f"could not validate request data: {error}") from None
        except ConflictError:
            raise OpenPAIError(500, "DuplicateJobSubmission", "duplicate job submission") from None
        except InvalidInputError as error:
            raise OpenPAIError(
                500, "ParameterValidationError", f"could not validate request data: {error.message}"
            ) from None
        except (NotFoundError, ForbiddenError, services.QueueFullError) as error:
            raise OpenPAIError(500, "JobUpdateError", f"job updated error: {error.message}") from None
        return Response({"message": f"update job {job_name} successfully"})

    @extend_schema(summary="Stop and remove a job (owner or admin)")
    def delete(self, request, job_name):
        pai = self._job(request, job_name)
        self._require_user(request)
        try:
            services.pai_job_delete(pai=pai, actor=request.user)
        except ForbiddenError:
            raise OpenPAIError(401, "JobDeleteError", "job deleted error, cannot delete other user's job") from None
        return Response({"message": f"deleted job {job_name} successfully"})


# --- v0.7: /api/v1/jobs ----------------------------------------------------------------------------------------
class V1View(LenientReadMixin, OpenPAIV1APIView):
    permission_classes = [AllowAny]

    def require_user(self, request) -> None:
        if not request.user.is_authenticated:
            raise OpenPAIV1Error(401, "UnauthorizedUserError", GUEST)

    def job(self, request, job_name: str, username: str | None = None):
        try:
            return selectors.pai_job_get_or_error(name=job_name, username=username, viewer=request.user)
        except NotFoundError as error:
            raise _v1_error(error) from None

    def submit(self, request, name: str | None, username: str | None = None):
        self.require_user(request)
        owner = request.user
        if username is not None and username != request.user.username:
            if not request.user.is_admin:
                raise OpenPAIV1Error(
                    403, "ForbiddenUserError", f"User {request.user.username} is not allowed to add job for {username}."
                )
            owner = get_user_model().objects.filter(username=username).first()
            if owner is None:
                raise OpenPAIV1Error(404, "NoUserError", f"User {username} is not found.")
        try:
            data = parse_body(request.body)
            pai = services.pai_job_submit(owner=owner, data=data, raw=_raw(request), name=name)
        except ConfigError as error:
            raise OpenPAIV1Error(400, "InvalidParametersError", error.message) from None
        except ApplicationError as error:
            raise _v1_error(error) from None
        return Response({"message": f"update job {pai.name} successfully"}, status=202)


class V1JobListView(V1View):
    @extend_schema(
        summary="List jobs (newest first); no token needed",
        parameters=[OpenApiParameter("username", str, description="Only this user's jobs")],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, username: str | None = None):
        owner = username or request.query_params.get("username") or None
        return Response([selectors.v1_list_item(pai) for pai in selectors.pai_jobs_listed(username=owner)])

    @extend_schema(summary="Submit a job config (202)", request=JOB_BODY, responses={202: OpenApiTypes.OBJECT})
    def post(self, request, username: str | None = None):
        return self.submit(request, None, username)


class V1JobView(V1View):
    @extend_schema(summary="Job detail: jobStatus and per-task status under taskRoles")
    def get(self, request, job_name, username: str | None = None):
        return Response(selectors.job_detail(self.job(request, job_name, username), viewer=request.user))

    @extend_schema(summary="Submit a job config under this name (202)", request=JOB_BODY)
    def put(self, request, job_name, username: str | None = None):
        return self.submit(request, job_name, username)

    @extend_schema(summary="Stop and remove a job (owner or admin; 202)")
    def delete(self, request, job_name, username: str | None = None):
        pai = self.job(request, job_name, username)
        self.require_user(request)
        try:
            services.pai_job_delete(pai=pai, actor=request.user)
        except ApplicationError as error:
            raise _v1_error(error) from None
        return Response({"message": f"deleted job {pai.name} successfully"}, status=202)


class V1JobConfigView(V1View):
    @extend_schema(summary="The job config exactly as submitted", responses={200: OpenApiTypes.OBJECT})
    def get(self, request, job_name, username: str | None = None):
        pai = self.job(request, job_name, username)
        return Response(selectors.job_config(pai, viewer=request.user))


class V1JobSshView(V1View):
    @extend_schema(summary="SSH info (tasks here are host processes: there is none)")
    def get(self, request, job_name, username: str | None = None):
        pai = self.job(request, job_name, username)
        raise OpenPAIV1Error(
            404, "NoJobSshInfoError", f"SSH info of job {pai.name} is not found: its tasks run as host processes."
        )


class V1ExecutionTypeView(V1View):
    """``PUT .../executionType`` ``{"value": "START"|"STOP"}``; the body is checked before the token, as upstream."""

    @extend_schema(summary="Stop (STOP) or keep running (START) a job; 202", request=EXECUTION_TYPE_BODY)
    def put(self, request, job_name, username: str | None = None):
        try:
            body = json_loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise OpenPAIV1Error(400, "InvalidParametersError", '"value" must be an object') from None
        if not isinstance(body, dict) or "value" not in body:
            raise OpenPAIV1Error(400, "InvalidParametersError", 'child "value" fails because ["value" is required]')
        value = body["value"]
        if value not in EXECUTION_TYPES:
            raise OpenPAIV1Error(
                400, "InvalidParametersError", 'child "value" fails because ["value" must be one of [START, STOP]]'
            )
        pai = self.job(request, job_name, username)
        self.require_user(request)
        try:
            services.pai_job_execute(pai=pai, actor=request.user, value=value)
        except ApplicationError as error:
            raise _v1_error(error) from None
        return Response({"message": f"execute job {pai.name} successfully"}, status=202)


# --- v0.14: POST /api/v2/jobs (job protocol v2) -----------------------------------------------------------------
PROTOCOL_BODY = {
    "text/yaml": {
        "type": "string",
        "description": "An OpenPAI job protocol v2 document (protocolVersion 2, name, type job, prerequisites, "
        "taskRoles, parameters, secrets, deployments, defaults, extras), YAML or JSON.",
    }
}


def _protocol_max_bytes() -> int:
    """A protocol is mostly its commands, each role's at most JOB_MAX_CODE_BYTES: twice that bounds the body
    (and the time YAML parsing takes) well below the general limit."""
    return min(settings.MAX_REQUEST_BODY_BYTES, 2 * settings.JOB_MAX_CODE_BYTES)


class V2JobListView(V1View):
    """``POST /api/v2/jobs`` (v0.14 ``controllers/v2/job.js`` ``update``): a job protocol v2 submitted as the
    token's user. It runs as the v1 job config it translates to (``jobs.openpai.protocol``), through the v1
    submit's service, so rights and limits are the same; ``GET /api/v1/user/:user/jobs/:name`` shows it.

    Answers as upstream: 202 ``{status: 202, message: "Update job <name> for user <user> successfully."}``;
    400 ``InvalidProtocolError`` (ajv's error list as JSON text, or upstream's reference sentences); 409
    ``ConflictJobError`` "Job <user>~<name> already exists."; 401 without a token; other refusals as v1's submit.
    """

    max_body_bytes = staticmethod(_protocol_max_bytes)

    @extend_schema(
        summary="Submit a job protocol v2 (YAML) as the token's user (202)",
        request=PROTOCOL_BODY,
        responses={202: OpenApiTypes.OBJECT},
    )
    def post(self, request):
        self.require_user(request)
        user = request.user
        try:
            job = protocol.parse(request.body)
            pai = services.pai_job_submit(owner=user, data=job.config, raw=job.stored_text)
        except protocol.ProtocolError as error:
            raise OpenPAIV1Error(400, "InvalidProtocolError", error.message) from None
        except ConflictError:
            raise OpenPAIV1Error(409, "ConflictJobError", f"Job {user.username}~{job.name} already exists.") from None
        except InvalidInputError as error:  # the translated config breaks a rule of the platform's job config
            raise OpenPAIV1Error(400, "InvalidProtocolError", error.message) from None
        except ApplicationError as error:
            raise _v1_error(error) from None
        message = f"Update job {pai.name} for user {user.username} successfully."
        return Response({"status": 202, "message": message}, status=202)


class V1TaskLogView(V1View):
    """The platform's extension: one task's log (stdout as INFO lines, stderr as ERROR lines), owner or admin."""

    @extend_schema(
        summary="A task's log (text); the latest attempt unless ?attempt=N",
        parameters=[
            OpenApiParameter("attempt", int, description="Attempt number (default: the current one)"),
            OpenApiParameter("fromLine", int, description="First line, 1-based (default 1)"),
            OpenApiParameter("size", int, description="Lines to return (default: all, at most 100000)"),
        ],
        responses={200: OpenApiResponse(OpenApiTypes.STR, description="Log lines, one per line")},
    )
    def get(self, request, job_name, task_role, task_index, username: str | None = None):
        pai = self.job(request, job_name, username)
        self.require_user(request)
        if not (request.user.is_admin or pai.owner_id == request.user.pk):
            raise OpenPAIV1Error(
                403, "ForbiddenUserError", f"User {request.user.username} is not allowed to read job {pai.name}'s logs."
            )
        try:
            attempt = _int_param(request, "attempt", None)
            task = selectors.task_get_or_error(pai=pai, role=task_role, index=task_index, attempt=attempt)
        except ApplicationError as error:
            raise _v1_error(error) from None
        if task.job is None:
            return text_response("")
        from_line = _int_param(request, "fromLine", 1)
        size = _int_param(request, "size", 100000)
        lines = log_read(job_id=task.job_id, from_line=max(from_line, 1), size=min(max(size, 0), 100000))
        return text_response("".join(f"{text}\n" for _, _, text in lines))


def _int_param(request, name: str, default):
    value = request.query_params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise OpenPAIV1Error(400, "InvalidParametersError", f'"{name}" must be a number') from None
