"""Linkis entrance, job history and filesystem routes (contracts/linkis.md §3), under ``/api/rest_j/v1``.

Views parse Linkis's bodies and query parameters, call the job services and selectors, and answer Linkis
envelopes. ``method`` is what Linkis's controllers set: ``/api/entrance/<id>/<action>`` for the entrance (note:
without ``rest_j/v1``), ``/api`` + the path for history and filesystem, and null for errors raised as exceptions.
"""

from __future__ import annotations

import math

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ParseError

from dataplatform.accounts.models import ApiToken
from dataplatform.api.exceptions import ConflictError, ForbiddenError, LinkisError
from dataplatform.api.responses import linkis_response
from dataplatform.api.serializers import LinkisEnvelopeSerializer
from dataplatform.api.viewsets import LinkisAPIView
from jobs import services
from jobs.engines.resultset import list_resultsets, read_resultset
from jobs.linkis.errors import ERR_PAGE_SIZE, ERR_PATH_PERMISSION, refusal_code
from jobs.linkis.filesystem import workspace_open, workspace_tree
from jobs.linkis.parsers import spec_from_execute, spec_from_submit
from jobs.linkis.responses import log_page, progress_data, status_data
from jobs.linkis.serializers import (
    ExecuteInputSerializer,
    KillJobsInputSerializer,
    QueryTaskVOSerializer,
    SubmitInputSerializer,
)
from jobs.logstore import split_levels
from jobs.models import Job
from jobs.selectors import (
    file_uri,
    job_for_path,
    job_get_for_user,
    job_history_page,
    job_resolve,
    job_running_count,
    job_task_counts,
)
from jobs.workspace import is_workspace_path

LOG_SIZE_DEFAULT = 100
LOG_SIZE_ALL = 10000
RESULT_PAGE_MAX = 5000
HISTORY_PAGE_MAX = 500

ENVELOPE = {200: LinkisEnvelopeSerializer}
ID_PARAM = OpenApiParameter("ident", str, OpenApiParameter.PATH, description="execID (either format) or taskID")
TASK_ID_PARAM = OpenApiParameter("taskID", int, description="taskID, used when the execID is not found")


def _body(request) -> dict:
    data = request.data
    if not isinstance(data, dict):
        raise ParseError("The request body must be a JSON object.")
    return data


def _may_act_as_others(request) -> bool:
    return isinstance(request.auth, ApiToken) and request.auth.is_admin_token


def _submit(request, build_spec, method: str):
    try:
        spec = build_spec(_body(request))
        job = services.job_submit(owner=request.user, spec=spec, may_act_as_others=_may_act_as_others(request))
    except services.JobRequestError as exc:
        raise LinkisError(exc.message, err_code=refusal_code(exc.code)) from None
    except services.EngineForbiddenError as exc:
        raise LinkisError(exc.message, status=3) from None  # Linkis's "authorization failed" (鉴权失败)
    except ForbiddenError as exc:
        raise LinkisError(exc.message, status=1) from None
    return linkis_response(request, {"execID": job.exec_id, "taskID": job.pk}, method=method)


class ExecuteView(LinkisAPIView):
    """``POST /entrance/execute``: the 0.x body."""

    @extend_schema(request=ExecuteInputSerializer, responses=ENVELOPE, summary="Submit code (Linkis 0.x body)")
    def post(self, request):
        return _submit(request, spec_from_execute, "/api/entrance/execute")


class SubmitView(LinkisAPIView):
    """``POST /entrance/submit``: the 1.x body."""

    @extend_schema(request=SubmitInputSerializer, responses=ENVELOPE, summary="Submit code (Linkis 1.x body)")
    def post(self, request):
        return _submit(request, spec_from_submit, "/api/entrance/submit")


def _job_or_error(request, ident: str, message: str, action: str) -> Job:
    """The job of a status, progress or log read (only its state is read: ``STATE_FIELDS``)."""
    task_id = request.query_params.get("taskID")
    job = job_get_for_user(user=request.user, ident=ident, task_id=task_id, state_only=True)
    if job is None:
        raise LinkisError(message, method=f"/api/entrance/{ident}/{action}")
    return job


class StatusView(LinkisAPIView):
    @extend_schema(parameters=[ID_PARAM, TASK_ID_PARAM], responses=ENVELOPE)
    def get(self, request, ident: str):
        """A job's status."""
        job = _job_or_error(
            request,
            ident,
            "ID The corresponding job is empty and cannot obtain the corresponding task status."
            "(ID 对应的job为空，不能获取相应的任务状态)",
            "status",
        )
        return linkis_response(request, status_data(job, ident), method=f"/api/entrance/{ident}/status")


PROGRESS_MISSING = (
    "The job corresponding to the ID is empty, and the corresponding task progress cannot be obtained."
    "(ID 对应的job为空，不能获取相应的任务进度)"
)


class ProgressView(LinkisAPIView):
    @extend_schema(parameters=[ID_PARAM], responses=ENVELOPE)
    def get(self, request, ident: str):
        """A job's progress."""
        job = _job_or_error(request, ident, PROGRESS_MISSING, "progress")
        return linkis_response(request, progress_data(job, ident), method=f"/api/entrance/{ident}/progress")


class ProgressWithResourceView(LinkisAPIView):
    @extend_schema(parameters=[ID_PARAM], responses=ENVELOPE)
    def get(self, request, ident: str):
        """A job's progress with its per-stage progress and resources."""
        job = _job_or_error(request, ident, PROGRESS_MISSING, "progressWithResource")
        data = progress_data(job, ident, with_resource=True)
        return linkis_response(request, data, method=f"/api/entrance/{ident}/progressWithResource")


# Linkis declares these query parameters as Java ``Integer``s: a value outside that range is a parameter error
# there, and here too (rather than a page offset the database cannot hold).
JAVA_INT_MIN, JAVA_INT_MAX = -(2**31), 2**31 - 1


def _int_param(request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise LinkisError(f"{name} must be an integer, got {raw[:40]!r}.") from None
    if not JAVA_INT_MIN <= value <= JAVA_INT_MAX:
        raise LinkisError(f"{name} must be an integer between {JAVA_INT_MIN} and {JAVA_INT_MAX}, got {raw[:40]}.")
    return value


class LogView(LinkisAPIView):
    @extend_schema(
        parameters=[
            ID_PARAM,
            OpenApiParameter("fromLine", int, description="first line to read, 1-based (default 1)"),
            OpenApiParameter("size", int, description="lines to read (default 100; negative: all, up to 10000)"),
            OpenApiParameter("distinctLevel", bool, description="false: one string instead of the 4-array"),
        ],
        responses=ENVELOPE,
    )
    def get(self, request, ident: str):
        """A job's log from a line on (fromLine, size)."""
        job = _job_or_error(
            request,
            ident,
            f"Can't find execID(不能找到execID): {ident}Corresponding job, can not get the corresponding log"
            "(对应的job，不能获得对应的日志)",
            "log",
        )
        from_line = _int_param(request, "fromLine", 1)
        size = _int_param(request, "size", LOG_SIZE_DEFAULT)
        size = LOG_SIZE_ALL if size < 0 else min(size, LOG_SIZE_ALL)
        lines, next_line = log_page(job, from_line, size)
        if request.query_params.get("distinctLevel") == "false":
            log = "\n".join(text for _, text in lines)
        else:
            log = split_levels(lines)
        data = {"log": log, "fromLine": next_line, "execID": ident}
        return linkis_response(request, data, method=f"/api/entrance/{ident}/log")


def kill_message(request, ident: str, task_id) -> dict:
    """Kill one job and return its Linkis envelope (used by kill and, per job, by killJobs)."""
    method = f"/api/entrance/{ident}/kill"
    job = job_resolve(ident=ident, task_id=task_id)
    if job is None:
        return {"method": method, "status": 1, "message": "Get job by ID error, kill failed.", "data": {}}
    try:
        services.job_kill(job=job, actor=request.user)
    except (ForbiddenError, ConflictError) as exc:
        return {"method": method, "status": 1, "message": exc.message, "data": {"execID": ident}}
    return {"method": method, "status": 0, "message": "Successfully killed the job(成功kill了job)",
            "data": {"execID": ident}}  # fmt: skip


class KillView(LinkisAPIView):
    changes_state_on_get = True  # a cookie-authenticated GET from another site is refused (dataplatform.api.crosssite)

    @extend_schema(parameters=[ID_PARAM, TASK_ID_PARAM], responses=ENVELOPE)
    def get(self, request, ident: str):
        """Kill a job (GET, as Linkis 0.x clients send it)."""
        envelope = kill_message(request, ident, request.query_params.get("taskID"))
        return linkis_response(
            request, envelope["data"], message=envelope["message"], status=envelope["status"],
            method=envelope["method"],
        )  # fmt: skip

    @extend_schema(parameters=[ID_PARAM, TASK_ID_PARAM], request=None, responses=ENVELOPE)
    def post(self, request, ident: str):
        """Kill a job."""
        return self.get(request, ident)


class KillJobsView(LinkisAPIView):
    @extend_schema(request=KillJobsInputSerializer, responses=ENVELOPE)
    def post(self, request, ident: str):
        """Kill several jobs (taskIDs and execIDs in the body)."""
        body = _body(request)
        ids, task_ids = body.get("idList"), body.get("taskIDList")
        if not isinstance(ids, list) or not isinstance(task_ids, list):
            raise LinkisError("Request parameter error, please use array(请求参数错误，请使用数组)")
        if len(ids) != len(task_ids):
            raise LinkisError(
                "The length of the ID list does not match the length of the TASKID list"
                "(id列表的长度与taskId列表的长度不一致)"
            )
        messages = [kill_message(request, str(one), task) for one, task in zip(ids, task_ids, strict=True)]
        return linkis_response(request, {"messages": messages}, message="success")


class PauseView(LinkisAPIView):
    changes_state_on_get = True

    @extend_schema(parameters=[ID_PARAM], responses=ENVELOPE)
    def get(self, request, ident: str):
        """Pause a job (Linkis answers success and the job goes on)."""
        job = job_get_for_user(user=request.user, ident=ident)
        method = f"/api/entrance/{ident}/pause"
        if job is None:
            raise LinkisError(
                f"can not find the job of exexID :{ident} can not pause "
                f"(不能找到execID: {ident}对应的job，不能进行pause)",
                method=method,
            )
        # Linkis answers success and does nothing; so does the platform (a paused process would hold its slot).
        return linkis_response(
            request, {"execID": ident}, message="success to pause job (成功pause了job)", method=method
        )


class RunningTaskMetricView(LinkisAPIView):
    @extend_schema(responses=ENVELOPE)
    def get(self, request):
        """How many jobs are running."""
        running = job_running_count()
        return linkis_response(request, {"runningTaskNumber": running, "isCompleted": running == 0})


class TaskInfoMetricView(LinkisAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("user", str), OpenApiParameter("creator", str), OpenApiParameter("ecType", str)],
        responses=ENVELOPE,
    )
    def get(self, request):
        """Jobs by state for a user and creator."""
        user = request.query_params.get("user") or request.user.username
        if user != request.user.username and not request.user.is_admin:
            raise LinkisError(f"Only admins may view the task info of other users (user {user}).")
        counts = job_task_counts(
            user=user, creator=request.query_params.get("creator"), engine=request.query_params.get("ecType")
        )
        return linkis_response(request, counts)


class JobHistoryGetView(LinkisAPIView):
    @extend_schema(responses=ENVELOPE, summary="One job as Linkis's QueryTaskVO")
    def get(self, request, task_id: int):
        job = job_get_for_user(user=request.user, ident=str(task_id))
        if job is None:
            raise LinkisError(
                "The corresponding job was not found, or you have no permission to view it"
                "(没有找到对应的job，或没有查看该job的权限)"
            )
        return linkis_response(request, {"task": QueryTaskVOSerializer(job).data})


class JobHistoryListView(LinkisAPIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(name, kind)
            for name, kind in (
                ("startDate", int),
                ("endDate", int),
                ("status", str),
                ("pageNow", int),
                ("pageSize", int),
                ("taskID", int),
                ("executeApplicationName", str),
                ("creator", str),
                ("proxyUser", str),
                ("isAdminView", bool),
                ("runType", str),
            )
        ],  # fmt: skip
        responses=ENVELOPE,
    )
    def get(self, request):
        """Job history: the user's jobs, filtered and paged."""
        page = max(_int_param(request, "pageNow", 1), 1)
        size = min(max(_int_param(request, "pageSize", 20), 1), HISTORY_PAGE_MAX)
        admin_view = request.query_params.get("isAdminView") == "true"
        total, jobs = job_history_page(
            user=request.user, filters=request.query_params, admin_view=admin_view, page=page, size=size
        )
        serializer = QueryTaskVOSerializer()  # one for the page: DRF's many=True builds a serializer per call
        tasks = [serializer.to_representation(job) for job in jobs]
        return linkis_response(request, {"tasks": tasks, "totalPage": total})


def _path_or_error(request):
    path = request.query_params.get("path") or ""
    found = job_for_path(user=request.user, path=path)
    if found is None:
        raise LinkisError(
            f"User {request.user.username} has no permission to access path {path or '(empty)'}",
            err_code=ERR_PATH_PERMISSION,
        )
    return found


class DirFileTreesView(LinkisAPIView):
    @extend_schema(parameters=[OpenApiParameter("path", str, required=True)], responses=ENVELOPE)
    def get(self, request):
        """A directory's tree of files: a workspace directory, or a job's result sets."""
        if is_workspace_path(request.query_params.get("path")):
            return workspace_tree(request, request.query_params["path"])
        job, directory = _path_or_error(request)
        if not directory.is_dir():
            return linkis_response(request, {"dirFileTrees": None})
        children = []
        for path in list_resultsets(directory):
            stat = path.stat()
            children.append(
                {
                    "name": path.name,
                    "path": file_uri(path),
                    "properties": {"size": str(stat.st_size), "modifytime": str(int(stat.st_mtime * 1000))},
                    "children": None,
                    "isLeaf": True,
                    "parentPath": file_uri(directory),
                }
            )
        tree = {
            "name": directory.name,
            "path": file_uri(directory),
            "properties": None,
            "children": children,
            "isLeaf": False,
            "parentPath": None,
        }
        return linkis_response(request, {"dirFileTrees": tree})


class OpenFileView(LinkisAPIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("path", str, required=True),
            OpenApiParameter("page", int),
            OpenApiParameter("pageSize", int),
            OpenApiParameter("nullValue", str),
            OpenApiParameter("charset", str),
        ],
        responses=ENVELOPE,
    )
    def get(self, request):
        """Open a result set, a page at a time, or a script or text file of the workspace."""
        if is_workspace_path(request.query_params.get("path")):
            return workspace_open(request, request.query_params["path"], max(_int_param(request, "page", 1), 1))
        _, path = _path_or_error(request)
        page = max(_int_param(request, "page", 1), 1)
        size = _int_param(request, "pageSize", RESULT_PAGE_MAX)
        if size < 1 or size > RESULT_PAGE_MAX:
            raise LinkisError(f"pageSize must be between 1 and {RESULT_PAGE_MAX}, got {size}.", err_code=ERR_PAGE_SIZE)
        if not path.is_file() or not path.name.endswith(".dolphin"):
            raise LinkisError(f"No result set at {request.query_params.get('path')}.")
        result = read_resultset(
            path, page=page, page_size=size, null_value=request.query_params.get("nullValue") or "NULL"
        )
        result["totalPage"] = math.ceil(result["totalLine"] / size) if result["totalLine"] else 0
        return linkis_response(request, result)


class OpenLogView(LinkisAPIView):
    @extend_schema(parameters=[OpenApiParameter("path", str, required=True)], responses=ENVELOPE)
    def get(self, request):
        """A finished job's whole log, by level."""
        job, _ = _path_or_error(request)
        lines, _ = log_page(job, 1, None)
        return linkis_response(request, {"log": split_levels(lines)})
