"""Views that answer for a whole family: unknown routes, CSRF failures and Django's error handlers.

An API path answers in its family's envelope even when no view of the family ran: the URLconf ends each
family's prefix with a catch-all route, and Django's 400/403/404/500 handlers and the CSRF failure view
dispatch on the path's family before falling back to plain pages for the console and the admin.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.csrf import csrf_exempt

from dataplatform.api.families import PLATFORM, family_for_path
from dataplatform.api.problems import Problem, internal_problem


@csrf_exempt
def route_not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """Answer an unknown API route in the envelope of the family that owns its prefix."""
    family = family_for_path(request.path) or PLATFORM
    return family.render_problem(request, Problem("no_route", f"No such API: {request.method} {request.path}"))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    family = family_for_path(request.path)
    if family is None:
        return django_csrf_failure(request, reason=reason)
    return family.render_problem(request, Problem("csrf", f"CSRF Failed: {reason}"))


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    family = family_for_path(request.path)
    if family is None:
        return defaults.bad_request(request, exception)
    return family.render_problem(request, Problem("bad_request", str(exception or "") or "Bad request."))


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    family = family_for_path(request.path)
    if family is None:
        return defaults.permission_denied(request, exception)
    return family.render_problem(request, Problem("forbidden", str(exception or "") or "Forbidden."))


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    family = family_for_path(request.path)
    if family is None:
        return defaults.page_not_found(request, exception)
    return family.render_problem(request, Problem("no_route", f"No such API: {request.method} {request.path}"))


def handler500(request: HttpRequest) -> HttpResponse:
    family = family_for_path(request.path)
    if family is None:
        return defaults.server_error(request)
    return family.render_problem(request, internal_problem())
