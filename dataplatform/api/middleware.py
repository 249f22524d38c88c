"""Middleware for API paths."""

from __future__ import annotations

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.contrib.sessions.middleware import SessionMiddleware
from django.utils.functional import SimpleLazyObject, empty

from dataplatform.api.bodylimit import view_body_limit
from dataplatform.api.crosssite import SAFE_METHODS, cookie_authenticated, request_cross_site_reason
from dataplatform.api.families import family_for_path, rest_server_path
from dataplatform.api.problems import Problem
from dataplatform.api.request import content_length


class RequestBodyLimitMiddleware:
    """Refuse a request body larger than the view accepts, before the view reads it, in the family's envelope.

    Under ASGI, ``dataplatform.api.bodylimit.BodyLimitGuard`` already refused it before the server read the body;
    this check covers WSGI and the test client.

    The limit is the view's ``max_body_bytes`` (artifact uploads raise it) or ``MAX_REQUEST_BODY_BYTES``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        length = content_length(request)
        if not length:
            return None
        limit = view_body_limit(view_func)
        if length <= limit:
            return None
        family = family_for_path(request.path)
        if family is None:
            return None  # HTML pages: Django's own DATA_UPLOAD_MAX_MEMORY_SIZE check applies
        problem = Problem("too_large", f"Request body of {length} bytes is larger than the {limit} bytes allowed.")
        return family.render_problem(request, problem)


class RestServerPrefixMiddleware:
    """Serve OpenPAI's routes under ``/rest-server/`` too, as OpenPAI's pylon proxy does (it strips the prefix).

    OpenPAI's Python SDK and web portal address the REST server as ``<host>/rest-server/api/...``. The request goes
    on as the OpenPAI route it stands for (``/rest-server/api/v1/token`` is ``/api/v1/token``), so views, errors and
    the cross-site and body-size checks are exactly those of the route; the schema lists each route once. Other
    ``/rest-server/...`` paths are the REST server's 404 (``family_for_path``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        inner = rest_server_path(request.path_info)
        if inner is not None:
            outer = request.path_info
            request.path_info = inner
            request.path = request.path[: len(request.path) - len(outer)] + inner
        return self.get_response(request)


class OpenMLDBPathMiddleware:
    """Drop empty segments from OpenMLDB paths (``/dbs//d/`` is ``/dbs/d``), as the APIServer's brpc router does.

    Django would otherwise answer ``/dbs/`` with an APPEND_SLASH redirect or a 404 where OpenMLDB serves the route.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(("/dbs", "/refresh")) and ("//" in path or (path.endswith("/") and len(path) > 1)):
            normalized = "/" + "/".join(part for part in path.split("/") if part)
            request.path_info = normalized
            request.path = request.path[: len(request.path) - len(path)] + normalized
        return self.get_response(request)


class CrossSiteGuardMiddleware:
    """Refuse API requests from other sites' pages that would change state (``dataplatform.api.crosssite``).

    Runs before any view of the families (and before Django's CSRF check, which the API views are exempt from),
    so the rule holds whatever authenticates the request. Console and admin pages keep Django's own CSRF check.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        family = family_for_path(request.path)
        if family is None:
            return None
        if request.method in SAFE_METHODS:
            view_class = getattr(view_func, "view_class", None) or getattr(view_func, "cls", None)
            if not (getattr(view_class, "changes_state_on_get", False) and cookie_authenticated(request)):
                return None
        reason = request_cross_site_reason(request)
        if reason is None:
            return None
        return family.render_problem(request, Problem("csrf", f"CSRF Failed: {reason}."))


class LazyMessageMiddleware(MessageMiddleware):
    """Django's ``MessageMiddleware`` with the request's message storage made when first used.

    Django builds it for every request (a fallback storage of a cookie storage, whose signer is looked up by import
    path, and a session storage): 7% of an API read's time, and an API read never shows a message. The console
    and the admin use it as before; a response is updated only when the request's storage was used.
    """

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = request.__dict__.get("_messages")
        if type(messages) is SimpleLazyObject and messages._wrapped is empty:
            return response
        return super().process_response(request, response)


class LazySessionMiddleware(SessionMiddleware):
    """Django's ``SessionMiddleware`` with the request's session store made when first used.

    Django makes one for every request (the cached-db store looks its cache up through a thread-local registry), and
    a program calling the API sends no session cookie and never touches it. A request that sends the cookie, or
    whose code used the session (a login, the console, the admin), is answered exactly as by Django's middleware.
    """

    def process_request(self, request):
        session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        request.session = SimpleLazyObject(lambda: self.SessionStore(session_key))

    def process_response(self, request, response):
        session = request.__dict__.get("session")
        if (
            type(session) is SimpleLazyObject
            and session._wrapped is empty
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
            and not settings.SESSION_SAVE_EVERY_REQUEST
        ):
            return response  # never used, nothing to delete or save: Django's middleware would change nothing
        return super().process_response(request, response)
