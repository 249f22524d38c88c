"""DRF exception handlers, one per API family.

Each maps whatever a view raised onto its family's envelope: a ``WireError`` of that family as it is, anything
else through ``problem_from_exception``. Unknown exceptions are logged and answered in the envelope too (500,
with a reference), never left to Django's HTML error page; the transaction is rolled back either way.
"""

from __future__ import annotations

from django.http import HttpResponse
from rest_framework.views import set_rollback

from dataplatform.api.exceptions import WireError
from dataplatform.api.families import FAMILIES, Family, render_wire_error
from dataplatform.api.problems import problem_from_exception


def _handle(family: Family, exc: Exception, context: dict) -> HttpResponse:
    set_rollback()
    request = context["request"]
    if isinstance(exc, WireError) and exc.family == family.name:
        return render_wire_error(request, exc)
    return family.render_problem(request, problem_from_exception(exc))


def linkis_exception_handler(exc: Exception, context: dict) -> HttpResponse:
    return _handle(FAMILIES["linkis"], exc, context)


def openpai_exception_handler(exc: Exception, context: dict) -> HttpResponse:
    return _handle(FAMILIES["openpai"], exc, context)


def openpai_v1_exception_handler(exc: Exception, context: dict) -> HttpResponse:
    return _handle(FAMILIES["openpai_v1"], exc, context)


def cdap_exception_handler(exc: Exception, context: dict) -> HttpResponse:
    return _handle(FAMILIES["cdap"], exc, context)


def openmldb_exception_handler(exc: Exception, context: dict) -> HttpResponse:
    return _handle(FAMILIES["openmldb"], exc, context)


def platform_exception_handler(exc: Exception, context: dict) -> HttpResponse:
    return _handle(FAMILIES["platform"], exc, context)


HANDLERS = {
    "linkis": linkis_exception_handler,
    "openpai": openpai_exception_handler,
    "openpai_v1": openpai_v1_exception_handler,
    "cdap": cdap_exception_handler,
    "openmldb": openmldb_exception_handler,
    "platform": platform_exception_handler,
}
