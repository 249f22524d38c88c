"""Success responses in each family's shape (errors are raised, see ``dataplatform.api.exceptions``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from rest_framework.response import Response

from dataplatform.api.families import LINKIS_HTTP_STATUS, linkis_envelope, linkis_method

AUTO = object()


def linkis_response(
    request, data: dict[str, Any] | None = None, *, message: str = "OK", status: int = 0, method: Any = AUTO
) -> Response:
    """Return a Linkis envelope; ``method`` defaults to what Linkis's controllers put there for this path."""
    resolved = linkis_method(request) if method is AUTO else method
    body = linkis_envelope(method=resolved, status=status, message=message, data=data)
    return Response(body, status=LINKIS_HTTP_STATUS[status])


def text_response(text: str, status: int = 200) -> HttpResponse:
    """Return a plain-text answer (CDAP's "Deploy Complete", OpenPAI's API banner)."""
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
