"""Authentication of WebSocket connections: the same credentials the HTTP families accept, checked again on every
frame that acts, and the same cross-site rule as HTTP for the handshake.

Browsers send cookies (the Django session, or Linkis's ticket); programs may also send ``Token-Code`` and
``Token-User`` headers, or ``Authorization: Bearer <jwt>``. The first that names an active user wins; without
any, ``scope["user"]`` stays what Django's session middleware found (possibly anonymous).
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
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
    """Return ``(user, credential)`` for the connection's token, ticket or JWT, or ``(None, None)``.

    ``credential`` is what ``credential_user`` checks again on every frame: ``("token", code, username, host)``,
    ``("ticket", ticket)`` or ``("jwt", raw_token)``.
    """
    from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

    from dataplatform.accounts.services import api_token_authenticate, linkis_ticket_resolve
    from dataplatform.api.authentication import BearerJWTAuthentication
    from dataplatform.api.exceptions import AuthenticationError

    headers = _headers(scope)
    cookies = _cookies(headers)
    code = headers.get("token-code") or cookies.get("Token-Code")
    username = headers.get("token-user") or cookies.get("Token-User")
    if code and username:
        host = (scope.get("client") or ["", 0])[0]
        credential = ("token", code.strip(), username.strip(), host)
        try:
            return api_token_authenticate(code=credential[1], username=credential[2], host=host)[0], credential
        except AuthenticationError:
            return None, None
    ticket = cookies.get(settings.LINKIS_TICKET_COOKIE)
    if ticket:
        user = linkis_ticket_resolve(ticket=ticket)
        if user is not None:
            return user, ("ticket", ticket)
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        raw = authorization[7:].strip()
        backend = BearerJWTAuthentication()
        try:
            return backend.get_user(backend.get_validated_token(raw)), ("jwt", raw)
        except (InvalidToken, AuthenticationFailed):
            return None, None
    return None, None


def credential_user(scope):
    """The connection's user, looked up again now, or None when its credentials no longer hold.

    Checked on every frame that acts, so that a socket never outlives what opened it: the user deleted or
    deactivated, the password changed (which revokes tokens, tickets and sessions), the API token disabled or
    expired, the Linkis ticket or the session logged out, the JWT expired.
    """
    from django.contrib.auth import SESSION_KEY, get_user_model
    from django.utils.crypto import constant_time_compare

    record = scope.get("platform_credential")
    if not record:
        return None
    kind, user_id, stamp = record["kind"], record["user_id"], record["stamp"]
    if kind == "session":
        session = scope.get("session")
        key = getattr(session, "session_key", None)
        # Read the session again: a logout elsewhere deleted it.
        if not key or str(session.__class__(session_key=key).get(SESSION_KEY, "")) != str(user_id):
            return None
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    else:
        user, credential = resolve_user(scope)
        if user is None or user.pk != user_id or credential != record["credential"]:
            return None
    if user is None or not constant_time_compare(user.get_session_auth_hash(), stamp):
        return None
    return user


class PlatformWebSocketAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        user, credential = await database_sync_to_async(resolve_user)(scope)
        if user is not None:
            scope = dict(scope, user=user)
            kind = credential[0]
        else:
            user = scope.get("user")
            kind, credential = "session", None
        if user is not None and user.is_authenticated:
            stamp = await database_sync_to_async(user.get_session_auth_hash)()
            record = {"kind": kind, "user_id": user.pk, "stamp": stamp, "credential": credential}
            scope = dict(scope, platform_credential=record)
        return await super().__call__(scope, receive, send)


class SameOriginValidator:
    """Refuse a handshake from another site's page: the rule HTTP uses (``dataplatform.api.crosssite``), with the
    Host header checked against ``ALLOWED_HOSTS``. Clients that send no Origin (programs) are let through: browsers
    always send it, and cookie-carrying cross-site WebSocket hijacking needs a browser."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        from channels.security.websocket import WebsocketDenier
        from django.http.request import split_domain_port, validate_host

        from dataplatform.api.crosssite import cross_site_reason

        headers = _headers(scope)
        host = headers.get("host", "")
        domain, _ = split_domain_port(host)
        allowed = list(settings.ALLOWED_HOSTS) or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
        scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
        # A browser always sends Host (checked, against DNS rebinding); a program may not.
        reason = None if not host or (domain and validate_host(domain, allowed)) else f"host {host} is not allowed"
        reason = reason or cross_site_reason(
            origin=headers.get("origin"), fetch_site=headers.get("sec-fetch-site"), scheme=scheme, host=host
        )
        if reason is None:
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def origin_validator(application):
    """The WebSocket's origin and host check (``SameOriginValidator``)."""
    return SameOriginValidator(application)
