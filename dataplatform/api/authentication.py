"""Authentication classes of the API families.

Every family accepts a JWT bearer token (``BearerJWTAuthentication``) and the Django session cookie of a
logged-in browser (DRF's ``SessionAuthentication``, which enforces CSRF on unsafe methods). Linkis clients also
use the ``linkis_user_session_ticket_id_v1`` cookie from ``/api/rest_j/v1/user/login`` and
``Token-Code``/``Token-User`` headers (or cookies) backed by API tokens that staff manage in the admin.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed as JWTAuthenticationFailed

from dataplatform.api.crosssite import SAFE_METHODS, request_cross_site_reason
from dataplatform.api.request import client_ip

# Content types a cross-site HTML form can send without a CORS preflight.
_SIMPLE_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


#: The JWT claim holding the user's ``credentials_epoch`` when the token was issued.
EPOCH_CLAIM = "epoch"


class BearerJWTAuthentication(JWTAuthentication):
    """``Authorization: Bearer <jwt>`` as issued by ``POST /api/auth`` and ``POST /api/v1/token``.

    A token is refused once its user's credentials were revoked after it was issued (its ``epoch`` claim is behind
    the user's ``credentials_epoch``), as after a password change.
    """

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if int(validated_token.get(EPOCH_CLAIM, 0)) != getattr(user, "credentials_epoch", 0):
            raise JWTAuthenticationFailed("The token was revoked.", code="token_revoked")
        return user


def enforce_cookie_csrf(request) -> None:
    """Refuse a cross-site request that carries a Linkis ticket cookie.

    Linkis clients (UJESClient, linkis-cli, the Python SDK, linkis-web) send JSON and never a CSRF token, so the
    ticket cookie cannot use Django's token check. It is protected instead by what a cross-site page cannot do:
    browsers mark its requests ``Sec-Fetch-Site: cross-site`` and send a foreign ``Origin``
    (``dataplatform.api.crosssite``), and without a CORS preflight it can only POST form or text bodies, which are
    refused here.
    """
    reason = request_cross_site_reason(request)
    if reason is not None:
        raise exceptions.PermissionDenied(f"CSRF Failed: {reason}, carrying the Linkis ticket cookie.")
    if request.method not in SAFE_METHODS:
        content_type = (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if content_type in _SIMPLE_CONTENT_TYPES:
            raise exceptions.PermissionDenied(
                f"CSRF Failed: a cookie-authenticated {request.method} must send JSON, not {content_type}."
            )


class LinkisTicketAuthentication(BaseAuthentication):
    """The Linkis login cookie; an unknown or expired ticket is simply not a login."""

    def authenticate(self, request):
        ticket = request.COOKIES.get(settings.LINKIS_TICKET_COOKIE)
        if not ticket:
            return None
        from dataplatform.accounts.services import linkis_ticket_resolve

        user = linkis_ticket_resolve(ticket=ticket)
        if user is None:
            return None
        enforce_cookie_csrf(request._request)
        return user, ticket


LINKIS_TOKEN_MISSING = "请在Header或Cookie中同时指定Token-Code 和 Token-User，以便完成token认证！"  # noqa: S105


class LinkisTokenAuthentication(BaseAuthentication):
    """``Token-Code`` and ``Token-User`` headers (or cookies), as Linkis's gateway TokenAuthentication."""

    def authenticate(self, request):
        headers = request._request.headers
        cookies = request._request.COOKIES
        if "Token-Code" in headers and "Token-User" in headers:
            code, username = headers["Token-Code"], headers["Token-User"]
        elif "Token-Code" in cookies and "Token-User" in cookies:
            code, username = cookies["Token-Code"], cookies["Token-User"]
        else:
            return None
        code, username = code.strip(), username.strip()
        if not code or not username:
            raise exceptions.AuthenticationFailed(LINKIS_TOKEN_MISSING)
        from dataplatform.accounts.services import api_token_authenticate
        from dataplatform.api.exceptions import AuthenticationError

        try:
            user, token = api_token_authenticate(code=code, username=username, host=client_ip(request._request))
        except AuthenticationError as exc:
            # Linkis echoes the token; only its first characters are echoed here, never the whole secret.
            raise exceptions.AuthenticationFailed(
                f"Token Authentication Failed, token: {code[:4]}…，tokenUser: {username}, reason: {exc.message}"
            ) from None
        return user, token

    def authenticate_header(self, request):
        return "Token-Code"
