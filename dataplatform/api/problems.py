"""A family-neutral description of what went wrong with a request, and how to get one from an exception.

Every failure on an API path (an unknown route, a wrong method, a malformed or oversized body, missing
credentials, a refused permission, a domain rule, a crash) is first turned into a ``Problem``; each API family
then renders the problem in its own envelope (``dataplatform.api.families``). Keeping the classification in one
place is what makes the four families agree on *what* happened while differing on *how* they say it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf

from dataplatform.api.exceptions import (
    ApplicationError,
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    ThrottledError,
)

logger = logging.getLogger("dataplatform.api")

# kind -> the HTTP status the situation calls for (families may answer differently on the wire).
KINDS: dict[str, int] = {
    "unauthenticated": 401,  # no credentials, or credentials that were rejected
    "forbidden": 403,  # authenticated, not allowed
    "csrf": 403,  # a cookie-authenticated unsafe request without a valid CSRF token
    "no_route": 404,  # no such API path
    "not_found": 404,  # the path exists, the object it names does not
    "method_not_allowed": 405,
    "bad_request": 400,  # the body cannot be parsed
    "invalid": 400,  # the body parses, its values break a rule
    "conflict": 409,
    "too_large": 413,
    "unsupported_media_type": 415,
    "throttled": 429,
    "internal": 500,
    "unavailable": 503,  # a backing service (the database) does not answer
}


@dataclass
class Problem:
    kind: str
    message: str
    status: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.status:
            self.status = KINDS[self.kind]


def _detail_text(detail: Any) -> str:
    """Flatten a DRF error detail (string, list or dict, possibly nested) into one readable line."""
    if isinstance(detail, dict):
        if "detail" in detail and set(detail) <= {"detail", "code", "messages"}:  # simplejwt's InvalidToken
            reasons = [str(m.get("message")) for m in detail.get("messages", []) if isinstance(m, dict)]
            text = _detail_text(detail["detail"])
            return f"{text}: {reasons[0]}" if reasons else text
        parts = []
        for key, value in detail.items():
            text = _detail_text(value)
            parts.append(text if key == "non_field_errors" else f"{key}: {text}")
        return "; ".join(parts)
    if isinstance(detail, list | tuple):
        return "; ".join(_detail_text(item) for item in detail)
    return str(detail)


def _django_validation_text(exc: DjangoValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items())
    return " ".join(exc.messages)


def problem_from_exception(exc: BaseException) -> Problem:
    """Classify an exception raised while serving an API request."""
    if isinstance(exc, drf.NotAuthenticated):
        return Problem("unauthenticated", _detail_text(exc.detail), extra={"credentials": False})
    if isinstance(exc, drf.AuthenticationFailed):
        text = _detail_text(exc.detail)
        return Problem("unauthenticated", text, extra={"credentials": True, "expired": "expired" in text.lower()})
    if isinstance(exc, drf.PermissionDenied):
        text = _detail_text(exc.detail)
        return Problem("csrf" if text.startswith("CSRF Failed") else "forbidden", text)
    if isinstance(exc, drf.MethodNotAllowed):
        return Problem("method_not_allowed", _detail_text(exc.detail))
    if isinstance(exc, drf.ParseError):
        return Problem("bad_request", _detail_text(exc.detail))
    if isinstance(exc, drf.UnsupportedMediaType):
        return Problem("unsupported_media_type", _detail_text(exc.detail))
    if isinstance(exc, drf.Throttled):
        return Problem("throttled", _detail_text(exc.detail), extra={"wait": int(exc.wait or 0)})
    if isinstance(exc, drf.NotFound | Http404):
        detail = getattr(exc, "detail", None) or str(exc) or "Not found."
        return Problem("not_found", _detail_text(detail))
    if isinstance(exc, drf.ValidationError):
        return Problem("invalid", _detail_text(exc.detail))
    if isinstance(exc, drf.APIException):
        kind = next((k for k, status in KINDS.items() if status == exc.status_code), "internal")
        return Problem(kind, _detail_text(exc.detail), status=exc.status_code)
    if isinstance(exc, ThrottledError):
        return Problem("throttled", exc.message, extra={"wait": exc.wait})
    if isinstance(exc, AuthenticationError):
        return Problem("unauthenticated", exc.message, extra={"credentials": True, "code": exc.code})
    if isinstance(exc, NotFoundError):
        return Problem("not_found", exc.message, extra={"code": exc.code})
    if isinstance(exc, ConflictError):
        return Problem("conflict", exc.message, extra={"code": exc.code})
    if isinstance(exc, ForbiddenError):
        return Problem("forbidden", exc.message, extra={"code": exc.code})
    if isinstance(exc, InvalidInputError):
        return Problem("invalid", exc.message, extra={"code": exc.code})
    if isinstance(exc, ApplicationError):
        return Problem("invalid", exc.message, extra={"code": exc.code})
    if isinstance(exc, DjangoValidationError):
        return Problem("invalid", _django_validation_text(exc))
    if isinstance(exc, DjangoPermissionDenied):
        return Problem("forbidden", str(exc) or "You do not have permission to perform this action.")
    if isinstance(exc, RequestDataTooBig):
        return Problem("too_large", "Request body is larger than this API accepts.")
    if isinstance(exc, SuspiciousOperation):
        return Problem("bad_request", str(exc) or "Bad request.")
    if isinstance(exc, RecursionError):
        # The request parsers refuse bodies nested deeper than MAX_JSON_DEPTH; this is the net under views that
        # parse a body their own way. Logged with its traceback: it may also be a bug of the platform's own.
        logger.warning("request data nested too deeply: %s", exc, exc_info=(type(exc), exc, exc.__traceback__))
        return Problem("bad_request", "Request data is nested too deeply.")
    if isinstance(exc, OperationalError | InterfaceError):
        logger.error("database unavailable: %s", exc)
        return Problem("unavailable", "The database is unavailable; retry shortly.")
    if isinstance(exc, DataError):
        # A value the database cannot hold or compare (PostgreSQL: a NUL character in text, a number out of range,
        # a string too long): it came with the request and slipped past validation. Logged with its traceback.
        logger.warning("value refused by the database: %s", exc, exc_info=(type(exc), exc, exc.__traceback__))
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "a value is out of range"
        return Problem("invalid", f"A value in the request is not valid here: {reason}")
    return internal_problem(exc)


def internal_problem(exc: BaseException | None = None) -> Problem:
    """Log an unexpected failure with a reference the client can quote, and describe it without internals."""
    reference = uuid.uuid4().hex[:12]
    if exc is not None:
        logger.error("unexpected error, reference %s", reference, exc_info=(type(exc), exc, exc.__traceback__))
    else:
        logger.error("unexpected error, reference %s", reference)
    if isinstance(exc, DatabaseError):
        return Problem("internal", f"Database error (reference {reference}).", extra={"reference": reference})
    return Problem("internal", f"Internal server error (reference {reference}).", extra={"reference": reference})
