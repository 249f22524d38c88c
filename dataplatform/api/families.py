"""The four API families (plus the platform's own endpoints): path prefixes and error envelopes.

| family      | paths                                       | error body                          |
|-------------|---------------------------------------------|-------------------------------------|
| linkis      | /api/rest_j/                                | {method, status, message, data}     |
| openpai_v1  | /api/v1, /api/v2                            | {code, message}                     |
| openpai     | /api/ (auth, job, anything else)            | {error, message} / {message, error} |
| cdap        | /v3/, /namespaces/                          | plain text, upstream status         |
| openmldb    | /dbs, /refresh                              | {code, msg}, always HTTP 200        |
| platform    | /healthz, /api/schema/, /api/docs/          | {detail}                            |

OpenPAI's routes are also served under ``/rest-server/`` (``rest_server_path``), where OpenPAI's SDK and web portal
address the REST server through its pylon proxy; any other ``/rest-server/...`` path is the REST server's 404.
A path no family owns is a page (console, admin): errors there are Django's pages for browsers and the platform's
``{detail}`` for other clients (``dataplatform.api.views``).

``render_problem`` turns a ``Problem`` into the family's response; the DRF exception handlers, the catch-all
routes, the body-size middleware, the CSRF failure view and the 404/500 handlers all go through it, so a
family answers the same way whichever layer noticed the problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.urls import get_script_prefix

from dataplatform.api.exceptions import (
    CDAPError,
    LinkisError,
    OpenMLDBError,
    OpenPAIError,
    OpenPAIV1Error,
    WireError,
)
from dataplatform.api.problems import Problem
from dataplatform.api.renderers import encode_json

JSON = "application/json"
# OpenPAI's pylon proxy serves the REST server at /rest-server/ (it strips the prefix); OpenPAI's SDK and portal use it.
REST_SERVER_PREFIX = "/rest-server"


def _json_response(body: object, status: int, *, allow_nan: bool = False, headers: dict | None = None) -> HttpResponse:
    return HttpResponse(
        encode_json(body, allow_nan=allow_nan), status=status, content_type=f"{JSON}; charset=utf-8", headers=headers
    )


def _retry_headers(problem: Problem) -> dict | None:
    wait = problem.extra.get("wait")
    return {"Retry-After": str(wait)} if problem.kind == "throttled" and wait else None


# --- Linkis ---------------------------------------------------------------------------------------------------
LINKIS_HTTP_STATUS = {-1: 401, 0: 200, 1: 400, 2: 412, 3: 403, 4: 206}
LINKIS_NOT_LOGGED_IN = "You are not logged in, please login first(您尚未登录，请先登录)!"
LINKIS_CROSS_SITE = "Unallowed cross-site request(不允许的跨站请求)！"


def linkis_method(request: HttpRequest) -> str:
    """Return the ``method`` Linkis's controllers put in an answer: ``/api`` + the path after ``/api/rest_j/v1``."""
    path = request.path
    prefix = "/api/rest_j/v1"
    return "/api" + path[len(prefix) :] if path.startswith(prefix) else path


def linkis_envelope(*, method: str | None, status: int, message: str, data: dict | None = None) -> dict:
    return {"method": method, "status": status, "message": message, "data": data if data is not None else {}}


def linkis_error_message(err_code: int, desc: str) -> str:
    return f"error code(错误码): {err_code}, error message(错误信息): {desc}."


def linkis_error_info(err_code: int, desc: str) -> dict:
    """Return ``data.errorMsg`` as Linkis's ``catchMsg`` fills it for an ErrorException."""
    host, _, port = settings.LINKIS_ENTRANCE_ADDRESS.rpartition(":")
    return {
        "errCode": err_code,
        "desc": desc,
        "level": 2,
        "ip": host or settings.LINKIS_ENTRANCE_ADDRESS,
        "port": int(port) if port.isdigit() else 0,
        "serviceKind": "linkis-cg-entrance",
    }


def render_linkis_error(request: HttpRequest, error: LinkisError) -> HttpResponse:
    data = dict(error.data)
    message = error.message
    if error.err_code is not None:
        data["errorMsg"] = linkis_error_info(error.err_code, error.message)
        message = linkis_error_message(error.err_code, error.message)
    http_status = error.http_status or LINKIS_HTTP_STATUS[error.status]
    body = linkis_envelope(method=error.method, status=error.status, message=message, data=data)
    return _json_response(body, http_status)


def render_linkis_problem(request: HttpRequest, problem: Problem) -> HttpResponse:
    kind = problem.kind
    if kind == "unauthenticated":
        # Linkis's security filter answers with the full request URI (no query string) as ``method``; rejected
        # credentials (a bad token) say why, missing ones ask the client to log in.
        message = problem.message if problem.extra.get("credentials") else LINKIS_NOT_LOGGED_IN
        error = LinkisError(message, status=-1, method=request.path)
    elif kind == "csrf":
        error = LinkisError(f"{LINKIS_CROSS_SITE} {problem.message}", status=2)
    elif kind == "forbidden":
        error = LinkisError(problem.message, status=3)
    elif kind == "no_route":
        error = LinkisError(f"No such API(接口不存在): {request.method} {request.path}", http_status=404)
    elif kind == "method_not_allowed":
        error = LinkisError(f"Request method '{request.method}' not supported", http_status=405)
    elif kind in ("bad_request", "internal", "unavailable"):
        # Linkis's catchMsg wording for exceptions that are not Linkis ErrorExceptions.
        error = LinkisError(
            f"operation failed(操作失败)s！the reason(原因)：{problem.message}",
            http_status=None if kind == "bad_request" else problem.status,
        )
    elif kind in ("invalid", "not_found", "conflict"):
        error = LinkisError(problem.message)
    else:  # too_large, throttled, unsupported_media_type
        error = LinkisError(problem.message, http_status=problem.status)
    response = render_linkis_error(request, error)
    for key, value in (_retry_headers(problem) or {}).items():
        response[key] = value
    return response


# --- OpenPAI seed (v0.1: /api/auth, /api/job) -----------------------------------------------------------------
def render_openpai_error(request: HttpRequest, error: OpenPAIError) -> HttpResponse:
    response = _json_response({"error": error.error, "message": error.message}, error.http_status)
    # The seed answers ordinary refusals (an unknown job, a duplicate name) with 500: they are not server errors,
    # so Django must not log them as "Internal Server Error".
    response._has_been_logged = True
    return response


def render_openpai_problem(request: HttpRequest, problem: Problem) -> HttpResponse:
    # The seed's express app sends errors without a code of their own through one generic handler,
    # ``{message, error: {}}`` (config/express.js); validation and role errors have names.
    kind = problem.kind
    if kind == "unauthenticated":
        if not problem.extra.get("credentials"):
            message = "No authorization token was found"
        elif problem.extra.get("expired"):
            message = "jwt expired"
        else:
            message = "invalid token"
        return _json_response({"message": message, "error": {}}, 401)
    if kind == "forbidden":
        return render_openpai_error(request, OpenPAIError(401, "NotAuthorized", "not authorized"))
    if kind == "csrf":
        return _json_response({"message": f"invalid csrf token: {problem.message}", "error": {}}, 403)
    if kind in ("no_route", "method_not_allowed"):
        return _json_response({"message": "API not found", "error": {}}, 404)
    if kind == "invalid":
        return render_openpai_error(
            request, OpenPAIError(500, "ParameterValidationError", "could not validate request data")
        )
    if kind == "throttled":
        return _json_response(
            {"error": "TooManyRequests", "message": problem.message}, 429, headers=_retry_headers(problem)
        )
    if kind == "too_large":
        return _json_response({"message": "request entity too large", "error": {}}, 413)
    return _json_response({"message": problem.message, "error": {}}, problem.status)


# --- OpenPAI /api/v1 (v0.7) -----------------------------------------------------------------------------------
def render_openpai_v1_error(request: HttpRequest, error: OpenPAIV1Error) -> HttpResponse:
    return _json_response({"code": error.code, "message": error.message}, error.http_status)


_OPENPAI_V1_CODES = {
    "unauthenticated": "UnauthorizedUserError",
    "forbidden": "ForbiddenUserError",
    "csrf": "ForbiddenUserError",
    "bad_request": "InvalidParametersError",
    "invalid": "InvalidParametersError",
    "not_found": "NotFoundError",
    "conflict": "ConflictError",
    "too_large": "PayloadTooLargeError",
    "unsupported_media_type": "InvalidParametersError",
    "throttled": "TooManyRequestsError",
    "internal": "UnknownError",
    "unavailable": "UnknownError",
}


def render_openpai_v1_problem(request: HttpRequest, problem: Problem) -> HttpResponse:
    kind = problem.kind
    if kind in ("no_route", "method_not_allowed"):
        # The REST server names the URL it was sent: behind pylon, without the /rest-server prefix.
        url = request.get_full_path()
        if url.startswith(REST_SERVER_PREFIX + "/"):
            url = url[len(REST_SERVER_PREFIX) :]
        error = OpenPAIV1Error(404, "NoApiError", f"API {url} is not found.")
    elif kind == "unauthenticated":
        error = OpenPAIV1Error(401, "UnauthorizedUserError", "Guest is not allowed to do this operation.")
    else:
        status = 400 if kind == "unsupported_media_type" else problem.status
        error = OpenPAIV1Error(status, problem.extra.get("code") or _OPENPAI_V1_CODES[kind], problem.message)
    response = render_openpai_v1_error(request, error)
    for key, value in (_retry_headers(problem) or {}).items():
        response[key] = value
    return response


# --- CDAP -----------------------------------------------------------------------------------------------------
def _text_response(text: str, status: int, headers: dict | None = None) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8", headers=headers)


def render_cdap_error(request: HttpRequest, error: CDAPError) -> HttpResponse:
    return _text_response(error.message, error.http_status)


def render_cdap_problem(request: HttpRequest, problem: Problem) -> HttpResponse:
    if problem.kind == "no_route":
        return _text_response(f"Problem accessing: {request.path}. Reason: Not Found", 404)
    if problem.kind == "method_not_allowed":
        return _text_response(f"Problem accessing: {request.path}. Reason: Method Not Allowed", 405)
    if problem.kind == "unauthenticated":
        return render_cdap_unauthenticated(request, problem)
    return _text_response(problem.message, problem.status, headers=_retry_headers(problem))


#: The path of CDAP's token endpoint (the authentication server's ``GET /token``, served by this project).
CDAP_TOKEN_PATH = "/token"  # noqa: S105 - a URL path, not a secret
CDAP_REALM = "dataplatform"


def cdap_auth_uris(request: HttpRequest) -> list[str]:
    """``auth_uri``: where a client gets a token; this server's own ``/token``, as the client reached it."""
    path = get_script_prefix().rstrip("/") + CDAP_TOKEN_PATH
    try:
        return [request.build_absolute_uri(path)]
    except DisallowedHost:  # refused before any view ran (the body-size guard): no host to name
        return [path]


def render_cdap_unauthenticated(request: HttpRequest, problem: Problem) -> HttpResponse:
    """CDAP router's 401 (``AuthenticationHandler``): a JSON body naming ``auth_uri`` and a Bearer challenge;
    a token that was sent but refused adds ``invalid_token`` with ``TokenState``'s text."""
    body: dict = {}
    challenge = f'Bearer realm="{CDAP_REALM}"'
    if problem.extra.get("credentials"):
        reason = "Expired token." if problem.extra.get("expired") else "Invalid token signature."
        body = {"error": "invalid_token", "error_description": reason}
        challenge += f' error="invalid_token" error_description="{reason}"'
    body["auth_uri"] = cdap_auth_uris(request)
    return HttpResponse(
        json.dumps(body, separators=(",", ":")),
        status=401,
        content_type="application/json;charset=UTF-8",
        headers={"WWW-Authenticate": challenge},
    )


# --- OpenMLDB -------------------------------------------------------------------------------------------------
def render_openmldb_error(request: HttpRequest, error: OpenMLDBError) -> HttpResponse:
    return _json_response({"code": error.code, "msg": error.msg}, 200, allow_nan=True)


def render_openmldb_problem(request: HttpRequest, problem: Problem) -> HttpResponse:
    # The APIServer answers every error with HTTP 200 and code -1. Its router says "unsupported method" for an
    # HTTP method it has no route for at all, and "no match method" when no route pattern matches the path.
    # A database outage keeps that body but says 503, so that load balancers and retrying clients see it.
    if problem.kind in ("no_route", "method_not_allowed"):
        msg = "no match method" if request.method in ("GET", "POST", "PUT") else "unsupported method"
    elif problem.kind == "unauthenticated":
        msg = f"Authentication required: {problem.message}"
    else:
        msg = problem.message
    if problem.kind == "unavailable":
        return _json_response({"code": -1, "msg": msg}, 503, allow_nan=True)
    return render_openmldb_error(request, OpenMLDBError(-1, msg))


# --- Platform's own endpoints ---------------------------------------------------------------------------------
def render_platform_problem(request: HttpRequest, problem: Problem) -> HttpResponse:
    if problem.kind == "no_route":
        message = f"No such API: {request.method} {request.path}"
    elif problem.kind == "method_not_allowed":
        message = f"Method {request.method} is not allowed here."
    else:
        message = problem.message
    return _json_response({"detail": message}, problem.status, headers=_retry_headers(problem))


@dataclass(frozen=True)
class Family:
    name: str
    render_problem: Callable[[HttpRequest, Problem], HttpResponse]
    render_error: Callable[[HttpRequest, WireError], HttpResponse] | None = None


LINKIS = Family("linkis", render_linkis_problem, render_linkis_error)
OPENPAI = Family("openpai", render_openpai_problem, render_openpai_error)
OPENPAI_V1 = Family("openpai_v1", render_openpai_v1_problem, render_openpai_v1_error)
CDAP = Family("cdap", render_cdap_problem, render_cdap_error)
OPENMLDB = Family("openmldb", render_openmldb_problem, render_openmldb_error)
PLATFORM = Family("platform", render_platform_problem)

FAMILIES = {family.name: family for family in (LINKIS, OPENPAI, OPENPAI_V1, CDAP, OPENMLDB, PLATFORM)}

# Longest match first; a path that matches none of these is not an API path (console, admin, static).
_PREFIXES: tuple[tuple[str, Family], ...] = (
    ("/api/rest_j/", LINKIS),
    ("/api/schema", PLATFORM),
    ("/api/docs", PLATFORM),
    ("/api/v1/", OPENPAI_V1),
    ("/api/v2/", OPENPAI_V1),
    ("/api/", OPENPAI),
    ("/v3/", CDAP),
    ("/namespaces/", CDAP),
    ("/healthz", PLATFORM),
)
_EXACT: dict[str, Family] = {"/api/v1": OPENPAI_V1, "/api/v2": OPENPAI_V1, "/api": OPENPAI, "/v3": CDAP}


def rest_server_path(path: str) -> str | None:
    """Return the OpenPAI route that a ``/rest-server/...`` path stands for, or None.

    Only OpenPAI's own routes are served there (``/rest-server/api/v1/token`` is ``/api/v1/token``); the other
    families' paths under the prefix (``/rest-server/api/rest_j/...``) are not, as behind OpenPAI's pylon.
    """
    if not path.startswith(REST_SERVER_PREFIX + "/"):
        return None
    inner = path[len(REST_SERVER_PREFIX) :]
    return inner if _family_for_path(inner) in (OPENPAI, OPENPAI_V1) else None


def family_for_path(path: str) -> Family | None:
    """Return the API family that owns ``path``, or None for non-API paths."""
    if path == REST_SERVER_PREFIX or path.startswith(REST_SERVER_PREFIX + "/"):
        inner = rest_server_path(path)
        # Anything else there is answered by OpenPAI's REST server (v0.7+): 404 NoApiError.
        return _family_for_path(inner) if inner is not None else OPENPAI_V1
    return _family_for_path(path)


def _family_for_path(path: str) -> Family | None:
    if path in _EXACT:
        return _EXACT[path]
    if path == "/dbs" or path.startswith("/dbs/") or path == "/refresh" or path.startswith("/refresh/"):
        return OPENMLDB
    for prefix, family in _PREFIXES:
        if path.startswith(prefix):
            return family
    return None


def render_wire_error(request: HttpRequest, error: WireError) -> HttpResponse:
    """Render an error that a view raised in one family's own terms."""
    family = FAMILIES[error.family]
    assert family.render_error is not None  # noqa: S101 - every family with a WireError type has a renderer
    return family.render_error(request, error)
