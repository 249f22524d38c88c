"""Views that answer for a whole family: unknown routes, CSRF failures, Django's error handlers, and ``/``.

An API path answers in its family's envelope even when no view of the family ran: the URLconf ends each
family's prefix with a catch-all route, and Django's 400/403/404/500 handlers and the CSRF failure view
dispatch on the path's family.

A path no family owns (the console, the admin, anything unknown) is a page: a browser (``text/html`` in
``Accept``) gets Django's HTML page, any other client the platform's neutral JSON envelope ``{"detail": "..."}``
with the same status (e.g. 404 ``{"detail": "Not found: GET /nowhere"}``), so that API clients that stray off
the families' prefixes still read a JSON error.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import TemplateView

from dataplatform.api.families import PLATFORM, family_for_path
from dataplatform.api.negotiation import accepts_html
from dataplatform.api.problems import Problem, internal_problem

PLATFORM_NAME = "dataplatform"


@method_decorator(csrf_exempt, name="dispatch")
class HomeView(TemplateView):
    """``/``: the home page for people; ``POST /`` says which server this is, as JSON.

    HTTP clients check a connection by posting to the bare base URL (the OpenMLDB Airflow provider's
    ``test_connection`` does, and counts any 2xx/3xx as success): they get ``{name, version}``. It changes
    nothing, so it needs no CSRF token and no credentials.
    """

    template_name = "index.html"

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return JsonResponse({"name": PLATFORM_NAME, "version": settings.PLATFORM_VERSION})


@csrf_exempt
def route_not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """Answer an unknown API route in the envelope of the family that owns its prefix."""
    family = family_for_path(request.path) or PLATFORM
    return family.render_problem(request, Problem("no_route", f"No such API: {request.method} {request.path}"))


def _page_or_json(request: HttpRequest, page: Callable[[], HttpResponse], problem: Problem) -> HttpResponse:
    """A path no family owns: Django's HTML page for browsers, the platform's ``{detail}`` for other clients."""
    if accepts_html(request):
        return page()
    return PLATFORM.render_problem(request, problem)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    family = family_for_path(request.path)
    problem = Problem("csrf", f"CSRF Failed: {reason}")
    if family is None:
        return _page_or_json(request, lambda: django_csrf_failure(request, reason=reason), problem)
    return family.render_problem(request, problem)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    family = family_for_path(request.path)
    if family is None:  # as Django's page: no detail (a DisallowedHost text names the settings)
        problem = Problem("bad_request", "Bad request.")
        return _page_or_json(request, lambda: defaults.bad_request(request, exception), problem)
    return family.render_problem(request, Problem("bad_request", str(exception or "") or "Bad request."))


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    family = family_for_path(request.path)
    if family is None:  # as Django's page: no detail
        problem = Problem("forbidden", "Forbidden.")
        return _page_or_json(request, lambda: defaults.permission_denied(request, exception), problem)
    return family.render_problem(request, Problem("forbidden", str(exception or "") or "Forbidden."))


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    family = family_for_path(request.path)
    if family is None:
        # The same words whether no route matched or a page's view found no object: nothing internal leaks.
        problem = Problem("not_found", f"Not found: {request.method} {request.path}")
        return _page_or_json(request, lambda: defaults.page_not_found(request, exception), problem)
    return family.render_problem(request, Problem("no_route", f"No such API: {request.method} {request.path}"))


def handler500(request: HttpRequest) -> HttpResponse:
    family = family_for_path(request.path)
    if family is None:
        if accepts_html(request):
            return defaults.server_error(request)
        return PLATFORM.render_problem(request, internal_problem())
    return family.render_problem(request, internal_problem())
