"""Authentication of WebSocket connections: the same credentials the HTTP families accept.

Browsers send cookies (the Django session, or Linkis's ticket); programs may also send ``Token-Code`` and
``Token-User`` headers, or ``Authorization: Bearer <jwt>``. The first that names an active user wins; without
any, ``scope["user"]`` stays what Django's session middleware found (possibly anonymous).
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator as _ChannelsOriginValidator
from django.conf import settings


def _headers(scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header means no cookies, as for HTTP
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


def resolve_user(scope):
    """Return the user named by the connection's token, ticket or JWT, or None."""
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

    from dataplatform.accounts.services import api_token_authenticate, linkis_ticket_resolve
    from dataplatform.api.exceptions import AuthenticationError

    headers = _headers(scope)
    cookies = _cookies(headers)
    code = headers.get("token-code") or cookies.get("Token-Code")
    username = headers.get("token-user") or cookies.get("Token-User")
    if code and username:
        host = (scope.get("client") or ["", 0])[0]
        try:
            return api_token_authenticate(code=code.strip(), username=username.strip(), host=host)[0]
        except AuthenticationError:
            return None
    ticket = cookies.get(settings.LINKIS_TICKET_COOKIE)
    if ticket:
        user = linkis_ticket_resolve(ticket=ticket)
        if user is not None:
            return user
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        backend = JWTAuthentication()
        try:
            return backend.get_user(backend.get_validated_token(authorization[7:].strip()))
        except (InvalidToken, AuthenticationFailed):
            return None
    return None


class PlatformWebSocketAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        user = await database_sync_to_async(resolve_user)(scope)
        if user is not None:
            scope = dict(scope, user=user)
        return await super().__call__(scope, receive, send)


class OriginValidator(_ChannelsOriginValidator):
    """Refuse browser pages from other sites (a foreign ``Origin``), allow clients that send no Origin at all.

    Cookie-carrying cross-site WebSocket hijacking needs a browser, and browsers always send ``Origin``;
    programs (Linkis's Java client, scripts) often send none and cannot be tricked into using someone's cookies.
    """

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)


def origin_validator(application):
    """Allow ALLOWED_HOSTS (and the CSRF-trusted origins) as WebSocket origins."""
    from urllib.parse import urlsplit

    hosts = list(settings.ALLOWED_HOSTS) + [urlsplit(origin).netloc for origin in settings.CSRF_TRUSTED_ORIGINS]
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]
    return OriginValidator(application, hosts)
