"""Small helpers that read facts about an incoming request."""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest

#: The deepest nesting of arrays and objects a JSON request body may have. Code that walks a parsed body
#: recursively (copying, validating, encoding it again) spends a Python frame or more per level, so a body nested
#: close to the interpreter's recursion limit (1,000 frames) would fail there, as a server error, instead of here.
MAX_JSON_DEPTH = 100


class JSONInputError(ValueError):
    """A request body that is not JSON the platform accepts (a ``ValueError``, as ``json.loads`` raises)."""


def client_ip(request: HttpRequest) -> str:
    """Return the client's address, trusting ``NUM_PROXIES`` hops of X-Forwarded-For and no more."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return remote


def content_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _refuse_constant(name: str):
    raise JSONInputError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JSONInputError(f"number {text[:40]} is out of range")
    return value


def _nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays and objects in ``value`` nest deeper than ``limit`` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def json_loads(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON request body, refusing what the platform could not handle later with ``JSONInputError``.

    Refused, besides malformed JSON: ``NaN`` and ``Infinity`` (not JSON), numbers that overflow a float
    (``1e999``), and arrays or objects nested deeper than ``max_depth``. Every refusal is a ``ValueError``, so
    callers that catch ``json.loads``'s errors catch these too.
    """
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise JSONInputError(f"arrays and objects are nested deeper than {max_depth} levels") from None
    if isinstance(value, dict | list):
        brackets = text.count(b"[") + text.count(b"{") if isinstance(text, bytes) else text.count("[") + text.count("{")
        if brackets > max_depth and _nesting_exceeds(value, max_depth):
            raise JSONInputError(f"arrays and objects are nested deeper than {max_depth} levels")
    return value
