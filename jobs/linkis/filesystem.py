"""Linkis's filesystem routes over users' workspaces (Scriptis's saved scripts), under ``/api/rest_j/v1/filesystem``.

As Linkis's ``FsRestfulApi`` (``linkis-public-enhancements/linkis-pes-publicservice/src/main/java/org/apache/linkis/
filesystem/restful/api/FsRestfulApi.java``) answers them: ``getUserRootPath``, ``createNewDir``, ``createNewFile``,
``saveScript``, ``rename``, ``deleteDirOrFile``, ``upload``, ``download``, ``isExist`` and ``fileInfo``; and, for
workspace paths, ``getDirFileTrees`` and ``openFile`` (``jobs.linkis.views`` serves them for job result sets and
hands workspace paths to ``workspace_tree`` / ``workspace_open`` here). Errors are Linkis's ``WorkSpaceException``s
(``WorkspaceExceptionManager``): status 1, HTTP 400, ``error code(错误码): 800xx, ...``; a path outside the caller's
workspace is 80010, whatever the route.

Choices where Linkis has none or a bug:
- the workspace directory is created on first use (``linkis.workspace.filesystem.auto.create=true``);
- ``pathType=hdfs`` (and any ``hdfs://`` path) answers as Linkis does without a reachable HDFS: 80002;
- a missing file is 80013 on openFile, rename and fileInfo (Linkis lets an IOException through there); creating a
  file or uploading into a directory that is missing creates the directories between;
- names with control characters are refused (80028; Linkis builds that error and forgets to throw it);
- ``upload`` refuses a name that exists (80006; Linkis fails with an IOException);
- ``download`` is served for POST (Linkis's JSON body ``{path, charset}``) and GET (query parameters) and refuses in
  the envelope (Linkis answers HTTP 200 with ``error(错误):<message>`` as text); it also serves the caller's job
  files (logs, result sets), as Scriptis downloads logs through it;
- the workspace's own directory cannot be deleted (80009) or renamed (80010).
"""

from __future__ import annotations

import codecs
import mimetypes

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.parsers import FormParser, MultiPartParser

from dataplatform.api.authentication import LinkisTicketAuthentication
from dataplatform.api.crosssite import origin_allowed, request_cross_site_reason
from dataplatform.api.exceptions import ApplicationError, LinkisError
from dataplatform.api.responses import linkis_response
from dataplatform.api.schema import LinkisTicketScheme
from dataplatform.api.serializers import LinkisEnvelopeSerializer
from dataplatform.api.viewsets import LinkisAPIView
from jobs import workspace
from jobs.linkis import scripts
from jobs.linkis.errors import (
    ERR_FS_DELETE_DENIED,
    ERR_FS_DELETE_MISSING,
    ERR_FS_DIR_EXISTS,
    ERR_FS_DOWNLOAD_MISSING,
    ERR_FS_FILE_EXISTS,
    ERR_FS_MISSING,
    ERR_FS_NAME,
    ERR_FS_PATH_EMPTY,
    ERR_FS_RENAME_EXISTS,
    ERR_FS_TIMEOUT,
    ERR_FS_TOO_LARGE,
    ERR_FS_USER,
    ERR_INVALID_PARAMETER,
    ERR_PATH_PERMISSION,
    ERR_UNSUPPORTED_FILE,
    FS_TIMEOUT_MS,
    operation_failed,
    workspace_error,
)
from jobs.linkis.serializers import (
    DownloadInputSerializer,
    PathInputSerializer,
    RenameInputSerializer,
    SaveScriptInputSerializer,
)
from jobs.selectors import job_file_open

ENVELOPE = {200: LinkisEnvelopeSerializer}
PATH_PARAM = OpenApiParameter("path", str, required=True, description="file:///<workspace>/<user>/...")
DOWNLOAD_RESPONSES = {
    (200, "application/octet-stream"): OpenApiResponse(response=OpenApiTypes.BINARY, description="the file"),
    (400, "application/json"): LinkisEnvelopeSerializer,
}
DEFAULT_CHARSET = "utf-8"
FILE_INFO_ROWS = 5000


def _body(request) -> dict:
    data = request.data
    if not isinstance(data, dict):
        raise operation_failed("The request body must be a JSON object.")
    return data


def _text(value, name: str) -> str | None:
    """A string field of a JSON body (None when absent); JSON may spell lone surrogates, which no path holds."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise operation_failed(f"{name} must be a string.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise operation_failed(f"{name} is not valid Unicode text (a lone surrogate).") from None
    return value


def _linkis_error(request, exc: ApplicationError, **codes: int) -> LinkisError:
    """The Linkis error for a workspace refusal; ``codes`` give the route's own number for ``exists`` and
    ``missing`` (``path`` names the path concerned)."""
    path = exc.extra.get("path")
    code = exc.code
    if code == workspace.PATH_EMPTY:
        return workspace_error(ERR_FS_PATH_EMPTY, path)
    if code == workspace.OUTSIDE:
        return workspace_error(ERR_PATH_PERMISSION, request.user.get_username(), path)
    if code == workspace.NO_HDFS:
        return workspace_error(ERR_FS_TIMEOUT, FS_TIMEOUT_MS)
    if code == workspace.NO_WORKSPACE:
        return workspace_error(ERR_FS_USER, request.user.get_username())
    if code == workspace.BAD_NAME:
        return workspace_error(ERR_FS_NAME)
    if code == workspace.UNSUPPORTED_TYPE:
        return workspace_error(ERR_UNSUPPORTED_FILE)
    if code in codes:
        return workspace_error(codes[code], path)  # texts without a {0} ignore the path
    if code == workspace.IS_ROOT:
        return workspace_error(ERR_PATH_PERMISSION, request.user.get_username(), path)
    if code == workspace.MISSING:
        return workspace_error(ERR_FS_MISSING, path)
    if code == workspace.TOO_LARGE:
        return LinkisError(exc.message, http_status=413)
    return operation_failed(f"IOException: {exc.message}")


def _call(request, operation, /, *, codes: dict[str, int] | None = None, **kwargs):
    """Run a workspace operation as the caller, its refusals turned into Linkis errors."""
    try:
        return operation(user=request.user, **kwargs)
    except ApplicationError as exc:
        raise _linkis_error(request, exc, **(codes or {})) from None


# --- getDirFileTrees and openFile, for paths in a workspace -----------------------------------------------------
def workspace_tree(request, path: str):
    """``getDirFileTrees`` of a workspace directory: Linkis's ``DirFileTree`` (directories have empty
    ``properties``, files ``size`` and ``modifytime``; ``children`` of a child is null), or null if missing."""
    listing = _call(request, workspace.workspace_list, path=path)
    if listing is None:
        return linkis_response(request, {"dirFileTrees": None})
    children = [
        {
            "name": entry.name,
            "path": entry.uri,
            "properties": {} if entry.is_dir else {"size": str(entry.size), "modifytime": str(entry.modified_ms)},
            "children": None,
            "isLeaf": not entry.is_dir,
            "parentPath": listing.uri,
        }
        for entry in listing.children
    ]
    tree = {
        "name": listing.name,
        "path": listing.uri,
        "properties": None,
        "children": children,
        "isLeaf": False,
        "parentPath": None,
    }
    return linkis_response(request, {"dirFileTrees": tree})


def _charset(name: str | None) -> str:
    try:
        return codecs.lookup(name or DEFAULT_CHARSET).name
    except (LookupError, ValueError):  # unknown, or a name Python refuses outright (a NUL byte in it)
        raise operation_failed(f"UnsupportedCharsetException: {name}") from None


def workspace_open(request, path: str, page: int):
    """``openFile`` of a script or text file: ``metadata`` is the script's params, ``fileContent`` one cell with
    the whole content (every line ended by ``\\n``), ``type`` ``script/text``, as Linkis's ``TextFileSource``."""
    name, raw = _call(request, workspace.workspace_read, path=path, codes={workspace.TOO_LARGE: ERR_FS_TOO_LARGE})
    text = raw.decode(_charset(request.query_params.get("charset")), errors="replace")
    opened = scripts.parse(name, text)
    data = {
        "metadata": opened.params,
        "fileContent": [[opened.content]],
        "type": "script/text",
        "totalLine": opened.total_lines,
        "page": page,
        "totalPage": 0,
    }
    return linkis_response(request, data)


# --- the routes ---------------------------------------------------------------------------------------------------
class UserRootPathView(LinkisAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("pathType", str, description="file (default), hdfs (not available) or s3")],
        responses=ENVELOPE,
    )
    def get(self, request):
        """The caller's workspace directory (``userLocalRootPath``), created on first use."""
        path_type = (request.query_params.get("pathType") or "").lower()
        if path_type == "hdfs":
            raise workspace_error(ERR_FS_TIMEOUT, FS_TIMEOUT_MS)
        key = "userS3RootPath" if path_type == "s3" else "userLocalRootPath"
        return linkis_response(request, {key: _call(request, workspace.workspace_root_uri)})


class CreateNewDirView(LinkisAPIView):
    @extend_schema(request=PathInputSerializer, responses=ENVELOPE)
    def post(self, request):
        """Create a directory (and missing parents) in the workspace."""
        path = _text(_body(request).get("path"), "path")
        _call(request, workspace.workspace_create_dir, path=path, codes={workspace.EXISTS: ERR_FS_DIR_EXISTS})
        return linkis_response(request)


class CreateNewFileView(LinkisAPIView):
    @extend_schema(request=PathInputSerializer, responses=ENVELOPE)
    def post(self, request):
        """Create an empty file in the workspace."""
        path = _text(_body(request).get("path"), "path")
        _call(request, workspace.workspace_create_file, path=path, codes={workspace.EXISTS: ERR_FS_FILE_EXISTS})
        return linkis_response(request)


def _script_max_bytes() -> int:
    return settings.LINKIS_WORKSPACE_SCRIPT_MAX_BYTES


class SaveScriptView(LinkisAPIView):
    max_body_bytes = staticmethod(_script_max_bytes)

    @extend_schema(request=SaveScriptInputSerializer, responses=ENVELOPE)
    def post(self, request):
        """Save a script's content and params (a header of ``@set`` lines) over an existing file."""
        body = _body(request)
        path = _text(body.get("path"), "path")
        if not path:
            raise workspace_error(ERR_FS_PATH_EMPTY, path)
        charset = _charset(_text(body.get("charset"), "charset"))
        content = _text(body.get("scriptContent"), "scriptContent")
        try:
            text = scripts.compose(path.rstrip("/").rsplit("/", 1)[-1], content, body.get("params"))
        except scripts.ScriptParamsError:
            raise workspace_error(ERR_INVALID_PARAMETER) from None
        try:
            encoded = text.encode(charset)
        except UnicodeEncodeError as exc:
            raise operation_failed(f"UnmappableCharacterException: {exc.reason} in {charset}") from None
        _call(
            request, workspace.workspace_write, path=path, content=encoded,
            limit=settings.LINKIS_WORKSPACE_SCRIPT_MAX_BYTES,
        )  # fmt: skip
        return linkis_response(request)


class RenameView(LinkisAPIView):
    @extend_schema(request=RenameInputSerializer, responses=ENVELOPE)
    def post(self, request):
        """Rename or move a file or directory within the workspace."""
        body = _body(request)
        old, new = _text(body.get("oldDest"), "oldDest"), _text(body.get("newDest"), "newDest")
        try:
            workspace.workspace_rename(user=request.user, old=old, new=new)
        except ApplicationError as exc:
            if exc.code == workspace.PATH_EMPTY and exc.extra.get("path") == new:
                # Linkis checks newDest against the user's directories first: an empty one is not among them.
                raise workspace_error(ERR_PATH_PERMISSION, request.user.get_username(), new) from None
            raise _linkis_error(request, exc, exists=ERR_FS_RENAME_EXISTS) from None
        return linkis_response(request)


class DeleteDirOrFileView(LinkisAPIView):
    @extend_schema(request=PathInputSerializer, responses=ENVELOPE)
    def post(self, request):
        """Delete a file, or a directory and everything in it."""
        path = _text(_body(request).get("path"), "path")
        codes = {workspace.MISSING: ERR_FS_DELETE_MISSING, workspace.IS_ROOT: ERR_FS_DELETE_DENIED}
        _call(request, workspace.workspace_delete, path=path, codes=codes)
        return linkis_response(request)


class IsExistView(LinkisAPIView):
    @extend_schema(parameters=[PATH_PARAM], responses=ENVELOPE)
    def get(self, request):
        """Whether a path exists in the workspace."""
        exists = _call(request, workspace.workspace_exists, path=request.query_params.get("path"))
        return linkis_response(request, {"isExist": exists})


class FileInfoView(LinkisAPIView):
    @extend_schema(
        parameters=[PATH_PARAM, OpenApiParameter("pageSize", int, description="lines to count at most (5000)")],
        responses=ENVELOPE,
    )
    def get(self, request):
        """A file's columns (1 for a script) and lines (counted up to pageSize)."""
        path = request.query_params.get("path")
        raw_size = request.query_params.get("pageSize") or str(FILE_INFO_ROWS)
        if not raw_size.isascii() or not raw_size.isdigit() or not 0 < int(raw_size) <= 2**31 - 1:
            raise operation_failed(f"pageSize must be a positive integer, got {raw_size[:40]!r}.")
        rows = _call(request, workspace.workspace_line_count, path=path, limit=int(raw_size))
        return linkis_response(request, {"path": path, "colNumber": 1, "rowNumber": rows})


def _upload_max_bytes() -> int:
    return settings.LINKIS_WORKSPACE_UPLOAD_MAX_BYTES


def _same_origin(request) -> bool:
    """Whether the browser says the request comes from a page of this server: an allowed ``Origin`` (browsers send
    one with every POST, a cross-site form's included) or ``Sec-Fetch-Site: same-origin``."""
    if (request.META.get("HTTP_SEC_FETCH_SITE") or "").strip().lower() == "same-origin":
        return True
    origin = (request.META.get("HTTP_ORIGIN") or "").strip()
    try:
        host = request.get_host()
    except Exception:  # a Host Django refuses: nothing can match it
        return False
    return bool(origin) and origin_allowed(origin, scheme=request.scheme, host=host)


class UploadTicketAuthentication(LinkisTicketAuthentication):
    """The Linkis ticket cookie on ``upload``, whose body is multipart (Scriptis's uploader sends a form).

    Elsewhere the ticket cookie is refused with a form body, which a page of another site can send without a CORS
    preflight (``dataplatform.api.authentication.enforce_cookie_csrf``). Here a multipart body is accepted when the
    browser proves it comes from this server's own pages (``_same_origin``), and refused otherwise: a cross-site
    form carries a foreign ``Origin``, and a request without any proof is refused too.
    """

    def authenticate(self, request):
        content_type = (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if content_type != "multipart/form-data" or not request.COOKIES.get(settings.LINKIS_TICKET_COOKIE):
            return super().authenticate(request)
        from dataplatform.accounts.services import linkis_ticket_resolve

        user = linkis_ticket_resolve(ticket=request.COOKIES[settings.LINKIS_TICKET_COOKIE])
        if user is None:
            return None
        reason = request_cross_site_reason(request._request)
        if reason is not None or not _same_origin(request._request):
            raise exceptions.PermissionDenied(
                f"CSRF Failed: {reason or 'no Origin of this server'}, carrying the Linkis ticket cookie with a "
                "multipart body."
            )
        return user, request.COOKIES[settings.LINKIS_TICKET_COOKIE]


class UploadTicketScheme(LinkisTicketScheme):
    """The OpenAPI security scheme of ``UploadTicketAuthentication``: the same ticket cookie."""

    target_class = "jobs.linkis.filesystem.UploadTicketAuthentication"
    name = "linkisTicketUpload"

    def get_security_definition(self, auto_schema):
        definition = dict(super().get_security_definition(auto_schema))
        definition["description"] += " With a multipart body, only from a page of this server (its Origin)."
        return definition


class UploadView(LinkisAPIView):
    parser_classes = [MultiPartParser, FormParser]
    authentication_classes = [
        UploadTicketAuthentication if one is LinkisTicketAuthentication else one
        for one in LinkisAPIView.authentication_classes
    ]
    max_body_bytes = staticmethod(_upload_max_bytes)

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "the directory to store the files in"},
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                },
                "required": ["path", "file"],
            }
        },
        responses=ENVELOPE,
    )
    def post(self, request):
        """Upload files (form field ``file``, repeated) into a workspace directory (``path``)."""
        path = request.data.get("path") or request.query_params.get("path")
        if not path:
            raise workspace_error(ERR_FS_PATH_EMPTY, path)
        files = request.FILES.getlist("file")
        if not files:
            raise operation_failed("Required request part 'file' is not present")
        _call(
            request, workspace.workspace_upload, path=path, files=[(one.name, one) for one in files],
            limit=settings.LINKIS_WORKSPACE_UPLOAD_MAX_BYTES, codes={workspace.EXISTS: ERR_FS_FILE_EXISTS},
        )  # fmt: skip
        return linkis_response(request)


class DownloadView(LinkisAPIView):
    @extend_schema(
        parameters=[PATH_PARAM, OpenApiParameter("charset", str)],
        responses=DOWNLOAD_RESPONSES,
    )
    def get(self, request):
        """Download a file of the workspace (or of one of the caller's jobs)."""
        return self._download(request, request.query_params.get("path"), request.query_params.get("charset"))

    @extend_schema(
        request=DownloadInputSerializer,
        responses=DOWNLOAD_RESPONSES,
    )
    def post(self, request):
        """Download a file (Linkis's body: ``{path, charset}``)."""
        body = _body(request)
        return self._download(request, _text(body.get("path"), "path"), _text(body.get("charset"), "charset"))

    def _download(self, request, path: str | None, charset: str | None):
        if not path:
            raise workspace_error(ERR_FS_PATH_EMPTY, path)
        charset = _charset(charset)
        if workspace.is_workspace_path(path):
            codes = {workspace.MISSING: ERR_FS_DOWNLOAD_MISSING}
            file, name, size = _call(request, workspace.workspace_open_download, path=path, codes=codes)
        else:
            opened = job_file_open(user=request.user, path=path)
            if opened is None:
                raise workspace_error(ERR_PATH_PERMISSION, request.user.get_username(), path)
            file, name, size = opened
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if content_type.startswith("text/"):
            content_type += f"; charset={charset}"
        response = FileResponse(file, as_attachment=True, filename=name, content_type=content_type)
        response["Content-Length"] = str(size)
        return response
