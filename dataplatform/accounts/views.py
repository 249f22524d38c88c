"""Account routes of three families: OpenPAI's seed ``/api/auth``, OpenPAI ``/api/v1/{token,user}`` and the
Linkis gateway's ``/api/rest_j/v1/user/*``.

Each view parses its family's body, calls one account service, and translates the service's domain error into
the family's own error (name, text and status as upstream answers them).

User names: OpenPAI's rule (``token()``) is the platform's rule for new names (``dataplatform.accounts.models``);
where a route names a user who exists (logging in, changing or removing a user), a name from before the rule is
accepted as well, so that such a user can still get a token and be managed here.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from dataplatform.accounts import services
from dataplatform.accounts.login import authenticate_request
from dataplatform.accounts.selectors import user_exists, user_list
from dataplatform.accounts.serializers import (
    LinkisLoginInputSerializer,
    OpenPAIAuthRemoveInputSerializer,
    OpenPAIErrorSerializer,
    OpenPAIMessageSerializer,
    OpenPAITokenOutputSerializer,
    OpenPAIV1ErrorSerializer,
    OpenPAIV1TokenOutputSerializer,
    OpenPAIV1UserOutputSerializer,
)
from dataplatform.api import joi
from dataplatform.api.authentication import LINKIS_TOKEN_MISSING, LinkisTokenAuthentication
from dataplatform.api.exceptions import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    LinkisError,
    NotFoundError,
    OpenPAIError,
    OpenPAIV1Error,
)
from dataplatform.api.responses import linkis_response, text_response
from dataplatform.api.serializers import LinkisEnvelopeSerializer
from dataplatform.api.viewsets import LinkisAPIView, OpenPAIAPIView, OpenPAIV1APIView


def json_body(schema: joi.Object) -> dict:
    """``extend_schema(request=...)`` of a JSON body: the Joi schema that validates it, so the two cannot drift."""
    return {"application/json": schema.json_schema()}


class Username(joi.String):
    """OpenPAI's ``Joi.string().token()`` for a user name, which also accepts the name of any existing user.

    Every user created here has a ``token()`` name; users named before the platform enforced it keep their
    names, and must still be able to log in and be managed through OpenPAI's routes.
    """

    def __init__(self) -> None:
        super().__init__(required=True, token=True)

    def check(self, value, label):
        try:
            return super().check(value, label)
        except joi.JoiError:
            if isinstance(value, str) and value and user_exists(username=value):
                return value
            raise


# --- OpenPAI seed: /api/auth ----------------------------------------------------------------------------------

# One schema for POST and PUT, as upstream's config/auth.js: even a login is length-checked; a login's password
# that fails the check is answered as the failed login it is (OpenPAIAuthView.post).
OPENPAI_AUTH_SCHEMA = joi.Object(
    keys={
        "username": Username(),
        "password": joi.String(required=True, min=6),
        "expiration": joi.Number(integer=True, min=60, max=604800, default=settings.JWT_DEFAULT_EXPIRATION),
        "admin": joi.Boolean(),
        "modify": joi.Boolean(),
    }
)


def _request_body(request) -> object:
    """Return the parsed body, or query parameters when the body is empty (Linkis and OpenPAI accept both)."""
    data = request.data
    if not data and request.query_params:
        return request.query_params.dict()
    return data


class OpenPAIAuthView(OpenPAIAPIView):
    """OpenPAI v0.1 ``/api/auth``: log in (POST), create or update a user (PUT), remove a user (DELETE)."""

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    def _validated(self, request, *, login: bool = False) -> dict:
        body = _request_body(request)
        try:
            return joi.validate(body, OPENPAI_AUTH_SCHEMA)
        except joi.JoiError as exc:
            if login and exc.key == "password" and isinstance(body, dict) and "password" in body:
                # A password the rule refuses (shorter than 6 characters, empty, not a string) is nobody's
                # password: the seed's answer to a failed login, 401 AuthenticationFailed (controllers/auth.js).
                # A body without a password, or with another bad field, stays upstream's 500.
                raise OpenPAIError(401, "AuthenticationFailed", "authentication failed") from None
            raise OpenPAIError(500, "ParameterValidationError", "could not validate request data") from None

    @extend_schema(
        request=json_body(OPENPAI_AUTH_SCHEMA),
        responses={200: OpenPAITokenOutputSerializer, 401: OpenPAIErrorSerializer, 500: OpenPAIErrorSerializer},
        summary="Log in and get an access token",
        auth=[],
    )
    def post(self, request):
        body = self._validated(request, login=True)
        try:
            user = authenticate_request(request, username=body["username"], password=body["password"])
        except AuthenticationError:
            raise OpenPAIError(401, "AuthenticationFailed", "authentication failed") from None
        token = services.token_issue(user=user, expiration=body["expiration"])
        return Response({"token": token, "user": user.username})

    @extend_schema(
        request=json_body(OPENPAI_AUTH_SCHEMA),
        responses={200: OpenPAIMessageSerializer, 401: OpenPAIErrorSerializer, 500: OpenPAIErrorSerializer},
        summary="Create (modify=false) or update (modify=true) a user; admin only",
    )
    def put(self, request):
        body = self._validated(request)
        try:
            services.user_update(
                actor=request.user,
                username=body["username"],
                password=body["password"],
                admin=body.get("admin"),
                modify=body.get("modify"),
                self_service=False,
            )
        except ForbiddenError as exc:
            if exc.code == "non_admin":
                raise OpenPAIError(401, "NotAuthorized", "not authorized") from None
            raise OpenPAIError(500, "UpdateFailed", "update failed") from None
        except (ConflictError, NotFoundError):
            raise OpenPAIError(500, "UpdateFailed", "update failed") from None
        return Response({"message": "update successfully"})

    @extend_schema(
        request=OpenPAIAuthRemoveInputSerializer,
        responses={200: OpenPAIMessageSerializer, 401: OpenPAIErrorSerializer, 500: OpenPAIErrorSerializer},
        summary="Remove a user; admin only, admins cannot be removed",
    )
    def delete(self, request):
        body = _request_body(request)
        username = body.get("username") if isinstance(body, dict) else None
        try:
            services.user_remove(actor=request.user, username=username if isinstance(username, str) else "")
        except ForbiddenError as exc:
            if exc.code == "non_admin":
                raise OpenPAIError(401, "NotAuthorized", "not authorized") from None
            raise OpenPAIError(500, "RemoveFailed", "remove failed") from None
        except NotFoundError:
            raise OpenPAIError(500, "RemoveFailed", "remove failed") from None
        return Response({"message": "remove successfully"})


# --- OpenPAI /api/v1 ------------------------------------------------------------------------------------------

OPENPAI_V1_TOKEN_SCHEMA = joi.Object(
    keys={
        "username": Username(),
        "password": joi.String(required=True, min=6),
        "expiration": joi.Number(integer=True, min=60, max=604800, default=settings.JWT_DEFAULT_EXPIRATION),
    }
)
OPENPAI_V1_USER_PUT_SCHEMA = joi.Object(
    keys={
        "username": Username(),
        "password": joi.String(required=True, min=6),
        "admin": joi.Boolean(),
        "modify": joi.Boolean(required=True),
    }
)
OPENPAI_V1_USER_DELETE_SCHEMA = joi.Object(keys={"username": Username()})
OPENPAI_V1_VC_SCHEMA = joi.Object(keys={"virtualClusters": joi.String(required=True, allow_empty=True)})


def _v1_validated(request, schema: joi.Object) -> dict:
    try:
        return joi.validate(_request_body(request), schema)
    except joi.JoiError as exc:
        raise OpenPAIV1Error(400, "InvalidParametersError", exc.message) from None


def _v1_domain_error(exc: Exception) -> OpenPAIV1Error:
    """Translate an account service's refusal into OpenPAI v0.7's code and status."""
    if isinstance(exc, ForbiddenError):
        code = "RemoveAdminError" if exc.code == "remove_admin" else "ForbiddenUserError"
        return OpenPAIV1Error(403, code, exc.message)
    if isinstance(exc, NotFoundError):
        return OpenPAIV1Error(404, "NoUserError", exc.message)
    if isinstance(exc, ConflictError):
        return OpenPAIV1Error(409, "ConflictUserError", exc.message)
    raise exc


class OpenPAIV1RootView(OpenPAIV1APIView):
    """``GET /api/v1``: the REST server's banner."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: OpenApiResponse(OpenApiTypes.STR, description="`<pre>PAI RESTful API</pre>`")})
    def get(self, request):
        """The REST server's banner."""
        return text_response("<pre>PAI RESTful API</pre>")


class OpenPAIV1TokenView(OpenPAIV1APIView):
    """``POST /api/v1/token``: log in and get an access token."""

    permission_classes = [AllowAny]

    @extend_schema(
        request=json_body(OPENPAI_V1_TOKEN_SCHEMA),
        responses={200: OpenPAIV1TokenOutputSerializer, 400: OpenPAIV1ErrorSerializer},
        summary="Log in and get an access token",
        auth=[],
    )
    def post(self, request):
        body = _v1_validated(request, OPENPAI_V1_TOKEN_SCHEMA)
        try:
            user = authenticate_request(request, username=body["username"], password=body["password"])
        except AuthenticationError as exc:
            if exc.code == "incorrect_password":
                raise OpenPAIV1Error(400, "IncorrectPasswordError", "Password is incorrect.") from None
            raise OpenPAIV1Error(400, "NoUserError", f"User {body['username']} is not found.") from None
        token = services.token_issue(user=user, expiration=body["expiration"])
        return Response({"user": user.username, "token": token, "admin": user.is_admin})


class OpenPAIV1UserView(OpenPAIV1APIView):
    """``/api/v1/user``: list (GET, admin), create or update (PUT), remove (DELETE, admin)."""

    @extend_schema(responses={200: OpenPAIV1UserOutputSerializer(many=True), 403: OpenPAIV1ErrorSerializer})
    def get(self, request):
        if not request.user.is_admin:
            raise OpenPAIV1Error(403, "ForbiddenUserError", services.NON_ADMIN)
        return Response(OpenPAIV1UserOutputSerializer(user_list(), many=True).data)

    @extend_schema(
        request=json_body(OPENPAI_V1_USER_PUT_SCHEMA),
        responses={201: OpenPAIMessageSerializer, 400: OpenPAIV1ErrorSerializer, 403: OpenPAIV1ErrorSerializer,
                   404: OpenPAIV1ErrorSerializer, 409: OpenPAIV1ErrorSerializer},
        summary="Create (modify=false) or update (modify=true) a user",
    )  # fmt: skip
    def put(self, request):
        body = _v1_validated(request, OPENPAI_V1_USER_PUT_SCHEMA)
        try:
            services.user_update(
                actor=request.user,
                username=body["username"],
                password=body["password"],
                admin=body.get("admin"),
                modify=body["modify"],
                self_service=True,
            )
        except (ForbiddenError, NotFoundError, ConflictError) as exc:
            raise _v1_domain_error(exc) from None
        return Response({"message": "update successfully"}, status=201)

    @extend_schema(
        request=json_body(OPENPAI_V1_USER_DELETE_SCHEMA),
        responses={200: OpenPAIMessageSerializer, 403: OpenPAIV1ErrorSerializer, 404: OpenPAIV1ErrorSerializer},
        summary="Remove a user; admin only, admins cannot be removed",
    )
    def delete(self, request):
        body = _v1_validated(request, OPENPAI_V1_USER_DELETE_SCHEMA)
        try:
            services.user_remove(actor=request.user, username=body["username"])
        except (ForbiddenError, NotFoundError) as exc:
            raise _v1_domain_error(exc) from None
        return Response({"message": "remove successfully"})


class OpenPAIV1UserVirtualClustersView(OpenPAIV1APIView):
    """``PUT /api/v1/user/:username/virtualClusters``: set the virtual clusters a user may use (admin)."""

    @extend_schema(
        request=json_body(OPENPAI_V1_VC_SCHEMA),
        responses={201: OpenPAIMessageSerializer, 400: OpenPAIV1ErrorSerializer, 403: OpenPAIV1ErrorSerializer,
                   404: OpenPAIV1ErrorSerializer},
    )  # fmt: skip
    def put(self, request, username: str):
        """Set the virtual clusters a user may use (admin)."""
        body = _v1_validated(request, OPENPAI_V1_VC_SCHEMA)
        try:
            services.user_set_virtual_clusters(
                actor=request.user, username=username, virtual_clusters=body["virtualClusters"]
            )
        except NotFoundError as exc:
            if exc.code == "no_virtual_cluster":
                raise OpenPAIV1Error(400, "NoVirtualClusterError", exc.message) from None
            raise _v1_domain_error(exc) from None
        except ForbiddenError as exc:
            raise _v1_domain_error(exc) from None
        return Response({"message": "update user virtual clusters successfully"}, status=201)


# --- Linkis gateway: /api/rest_j/v1/user/* -------------------------------------------------------------------


LINKIS_ALREADY_LOGGED_IN = "Already logged in, please log out before signing in(已经登录，请先退出再进行登录)！"


def _linkis_login_data(user) -> dict:
    return {
        "userName": user.username,
        "isAdmin": user.is_admin,
        "sessionTimeOut": settings.LINKIS_SESSION_TIMEOUT * 1000,
        "enableWatermark": False,
    }


def _set_ticket_cookie(request, response, user) -> None:
    ticket = services.linkis_ticket_create(user=user)
    response.set_cookie(
        settings.LINKIS_TICKET_COOKIE,
        ticket,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.is_secure() or settings.SESSION_COOKIE_SECURE,
    )


class LinkisLoginView(LinkisAPIView):
    """``POST /api/rest_j/v1/user/login`` with ``{userName, password}`` (or query parameters)."""

    permission_classes = [AllowAny]

    @extend_schema(request=LinkisLoginInputSerializer, responses={200: LinkisEnvelopeSerializer}, auth=[])
    def post(self, request):
        """Log in with userName and password; sets the ticket cookie."""
        ticket = request.COOKIES.get(settings.LINKIS_TICKET_COOKIE)
        current = services.linkis_ticket_resolve(ticket=ticket) if ticket else None
        if current is not None:
            return linkis_response(
                request,
                {"userName": current.username},
                message=f"{current.username}{LINKIS_ALREADY_LOGGED_IN}",
                method=None,
            )
        body = _request_body(request)
        body = body if isinstance(body, dict) else {}
        username = body.get("userName")
        password = body.get("password") or body.get("passwdEncrypt")
        if not isinstance(username, str) or not username.strip():
            raise LinkisError("Username can not be empty(用户名不能为空)！")
        if not isinstance(password, str) or not password.strip():
            raise LinkisError("Password can not be blank(密码不能为空)！")
        try:
            user = authenticate_request(request, username=username, password=password)
        except AuthenticationError:
            raise LinkisError("wrong user name or password(用户名或密码错误)！") from None
        response = linkis_response(
            request, _linkis_login_data(user), message="login successful(登录成功)！", method=None
        )
        _set_ticket_cookie(request, response, user)
        return response


class LinkisTokenLoginView(LinkisAPIView):
    """``POST /api/rest_j/v1/user/token-login``: exchange Token-Code/Token-User for a ticket cookie."""

    authentication_classes = [LinkisTokenAuthentication]
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={200: LinkisEnvelopeSerializer})
    def post(self, request):
        """Exchange Token-Code and Token-User for a ticket cookie."""
        if not request.user.is_authenticated:
            raise AuthenticationFailed(LINKIS_TOKEN_MISSING)
        response = linkis_response(
            request, _linkis_login_data(request.user), message="login successful(登录成功)！", method=None
        )
        _set_ticket_cookie(request, response, request.user)
        return response

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise LinkisError("Only support method POST")


class LinkisLogoutView(LinkisAPIView):
    """``/api/rest_j/v1/user/logout``: end the ticket's session and clear the cookie."""

    permission_classes = [AllowAny]
    changes_state_on_get = True  # a cookie-authenticated GET from another site is refused (dataplatform.api.crosssite)

    @extend_schema(request=None, responses={200: LinkisEnvelopeSerializer})
    def post(self, request):
        ticket = request.COOKIES.get(settings.LINKIS_TICKET_COOKIE)
        if ticket:
            services.linkis_ticket_delete(ticket=ticket)
        response = linkis_response(request, message="Logout successful(退出登录成功)！", method=None)
        response.delete_cookie(settings.LINKIS_TICKET_COOKIE, path="/", samesite="Lax")
        return response

    @extend_schema(request=None, responses={200: LinkisEnvelopeSerializer})
    def get(self, request):
        return self.post(request)


class LinkisUserInfoView(LinkisAPIView):
    """``GET /api/rest_j/v1/user/userInfo``: who is logged in."""

    @extend_schema(responses={200: LinkisEnvelopeSerializer})
    def get(self, request):
        """Who is logged in."""
        return linkis_response(
            request, {"userName": request.user.username}, message="get user information succeed!", method=None
        )


class LinkisHeartbeatView(LinkisAPIView):
    """``/api/rest_j/v1/user/heartbeat``: keep the ticket's session alive."""

    @extend_schema(request=None, responses={200: LinkisEnvelopeSerializer})
    def get(self, request):
        return linkis_response(request, message="Maintain heartbeat success(维系心跳成功)", method=None)

    @extend_schema(request=None, responses={200: LinkisEnvelopeSerializer})
    def post(self, request):
        return self.get(request)
