"""One rule for requests from other sites, shared by every API family over HTTP, the feature store's fast path and
the WebSocket.

A request is cross-site when the browser says so (``Sec-Fetch-Site: cross-site``) or when it names an ``Origin``
that is neither this server's own (scheme, host and port, as Django's CSRF check compares them) nor one of
``CSRF_TRUSTED_ORIGINS``. ``Origin: null`` (sandboxed frames, files) is foreign. Programs (curl, the SDKs, Linkis's
Java client) send neither header and are unaffected; a page on another site cannot leave both out.

Where it applies:
- every state-changing request (any method but GET, HEAD, OPTIONS, TRACE) on an API path, whatever its
  authentication, anonymous included: a foreign page could otherwise make a visitor's browser create or drop
  feature-store objects on an intranet server (``dataplatform.api.middleware.CrossSiteGuardMiddleware``);
- GET routes that change state (Linkis's ``entrance/{id}/kill`` and ``pause``, ``user/logout``: views with
  ``changes_state_on_get = True``) when a cookie authenticates them (Lax cookies ride top-level GETs); token clients
  keep using them as Linkis documents;
- WebSocket handshakes (``dataplatform.api.websocket``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


def origin_allowed(origin: str, *, scheme: str, host: str) -> bool:
    """Whether ``origin`` is this server's own (``scheme://host[:port]``) or a CSRF-trusted one."""
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parts = urlsplit(origin)
    if not (parts.scheme and parts.netloc):
        return False
    return f"{parts.scheme}://{parts.netloc}".lower() == f"{scheme}://{host}".lower()


def cross_site_reason(*, origin: str | None, fetch_site: str | None, scheme: str, host: str) -> str | None:
    """Why a request comes from another site, or None when it does not (or the client is not a browser)."""
    if (fetch_site or "").strip().lower() == "cross-site":
        return "cross-site request (Sec-Fetch-Site: cross-site)"
    if origin is not None and not origin_allowed(origin.strip(), scheme=scheme, host=host):
        return f"origin {origin.strip() or '(empty)'} is not allowed"
    return None


def request_cross_site_reason(request) -> str | None:
    """``cross_site_reason`` of a Django request."""
    try:
        host = request.get_host()
    except Exception:  # a Host Django refuses: judged by Origin alone, which then cannot match
        host = ""
    return cross_site_reason(
        origin=request.META.get("HTTP_ORIGIN"),
        fetch_site=request.META.get("HTTP_SEC_FETCH_SITE"),
        scheme=request.scheme,
        host=host,
    )


def cookie_authenticated(request) -> bool:
    """Whether only a cookie (the Django session or Linkis's ticket) could authenticate the request: no
    ``Authorization`` or ``Token-Code``/``Token-User`` header, which a cross-site page cannot send."""
    meta = request.META
    if meta.get("HTTP_AUTHORIZATION") or (meta.get("HTTP_TOKEN_CODE") and meta.get("HTTP_TOKEN_USER")):
        return False
    cookies = request.COOKIES
    return bool(cookies.get(settings.SESSION_COOKIE_NAME) or cookies.get(settings.LINKIS_TICKET_COOKIE))
