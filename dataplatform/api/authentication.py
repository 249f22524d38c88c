"""Authentication classes of the API families.

Every family accepts a JWT bearer token (``BearerJWTAuthentication``) and the Django session cookie of a
logged-in browser (DRF's ``SessionAuthentication``, which enforces CSRF on unsafe methods). Linkis clients also
use the ``linkis_user_session_ticket_id_v1`` cookie from ``/api/rest_j/v1/user/login`` and
``Token-Code``/``Token-User`` headers (or cookies) backed by API tokens that staff manage in the admin.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from django.conf import settings
from django.db import transaction
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed as JWTAuthenticationFailed
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from dataplatform.api.crosssite import SAFE_METHODS, request_cross_site_reason
from dataplatform.api.request import client_ip

# Content types a cross-site HTML form can send without a CORS preflight.
_SIMPLE_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


#: The JWT claim holding the user's ``credentials_epoch`` when the token was issued.
EPOCH_CLAIM = "epoch"


class _Recent:
    """A small thread-safe map of recent answers, each kept until its own deadline (``time.monotonic()``)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            deadline, value = item
            if deadline <= time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key, value, deadline: float) -> None:
        with self._lock:
            self._items[key] = (deadline, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def discard(self, key) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


#: Tokens whose signature and claims were checked, until their ``exp`` (the same bytes verify the same way).
_validated_tokens = _Recent(4096)
#: Users read for a token, for ``JWT_USER_CACHE_SECONDS``; a save of the user in this process drops its entry.
_token_users = _Recent(4096)


def forget_all() -> None:
    """Drop every cached token and user (tests, between databases)."""
    _validated_tokens.clear()
    _token_users.clear()


def forget_user(user_id) -> None:
    """Drop a user's cached row (it was saved or deleted): the next request reads it again. Called inside a
    transaction, it drops it again once the transaction commits (a request in between may have read the old row)."""
    _token_users.discard(str(user_id))
    transaction.on_commit(lambda: _token_users.discard(str(user_id)))


def forget_changed_user(sender, instance, **kwargs) -> None:
    """``post_save``/``post_delete`` of the user model (connected in ``AccountsConfig.ready``)."""
    forget_user(instance.pk)


class BearerJWTAuthentication(JWTAuthentication):
    """``Authorization: Bearer <jwt>`` as issued by ``POST /api/auth`` and ``POST /api/v1/token``.

    A token is refused once its user's credentials were revoked after it was issued (its ``epoch`` claim is behind
    the user's ``credentials_epoch``), as after a password change.

    The request path keeps what it checked: a token's signature and claims until the token expires, and its user's
    row for ``JWT_USER_CACHE_SECONDS`` (a second; dropped at once when the user is saved or deleted in this process,
    so a revoke, a deactivation or a password change in the admin holds at the next request here, and within that
    second in other processes). Every request still checks the user's ``is_active``, password and epoch.
    """

    def get_validated_token(self, raw_token):
        key = raw_token.encode() if isinstance(raw_token, str) else bytes(raw_token)
        token = _validated_tokens.get(key)
        if token is not None:
            return token
        token = super().get_validated_token(raw_token)
        exp = token.get("exp")
        if isinstance(exp, int | float):
            _validated_tokens.put(key, token, time.monotonic() + max(0.0, exp - time.time()))
        return token

    def get_user(self, validated_token):
        seconds = settings.JWT_USER_CACHE_SECONDS
        claim = validated_token.get(jwt_settings.USER_ID_CLAIM)
        user_id = None if claim is None else str(claim)
        cached = _token_users.get(user_id) if seconds > 0 and user_id is not None else None
        if cached is not None and self._accepts(cached, validated_token):
            return _own_copy(cached)
        # Not cached, or the cached row refuses the token: the database decides (a refusal is never from the cache).
        user = super().get_user(validated_token)
        if int(validated_token.get(EPOCH_CLAIM, 0)) != getattr(user, "credentials_epoch", 0):
            raise JWTAuthenticationFailed("The token was revoked.", code="token_revoked")
        if seconds > 0 and user_id is not None:
            _token_users.put(user_id, user, time.monotonic() + seconds)
        return _own_copy(user)

    @staticmethod
    def _accepts(user, validated_token) -> bool:
        """What ``get_user`` checks of a user row, on a cached one: active, the password and the epoch unchanged."""
        if jwt_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            return False
        if jwt_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            jwt_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            return False
        return int(validated_token.get(EPOCH_CLAIM, 0)) == getattr(user, "credentials_epoch", 0)


def _own_copy(user):
    """A copy of a cached user row for one request, as ``copy.copy`` makes it (``Model.__getstate__``: its own
    ``__dict__``, state and related-object cache, so permission caches and the like stay the request's own), without
    copy's pickling protocol."""
    state = user.__getstate__()
    for name, value in state.pop("_memoryview_attrs", ()):
        state[name] = memoryview(value)
    clone = user.__class__.__new__(user.__class__)
    clone.__dict__.update(state)
    return clone


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
        meta = request._request.META  # the headers as the server gave them: no HttpHeaders built per request
        cookies = request._request.COOKIES
        if "HTTP_TOKEN_CODE" in meta and "HTTP_TOKEN_USER" in meta:
            code, username = meta["HTTP_TOKEN_CODE"], meta["HTTP_TOKEN_USER"]
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
