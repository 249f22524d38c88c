"""CDAP's page tokens (``pageToken`` in, ``X-Next-Page-Token`` out) over the selectors' ``Page.after`` positions.

A token is the position's values joined by U+001F, base64url without padding; it means nothing outside this
module. Listing all artifacts continues after (namespace position, artifact name, sort key), listing one
artifact's versions after (sort key,).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from contextlib import contextmanager

from rest_framework.response import Response

from artifacts.selectors import Page
from dataplatform.api.exceptions import InvalidInputError

_SORT_KEY = re.compile(r"[0-9a-f]+")
_POSITION = re.compile(r"0|[1-9][0-9]*")


def encode_page_token(*values: str) -> str:
    return base64.urlsafe_b64encode("\x1f".join(values).encode()).decode().rstrip("=")


def decode_page_token(token: str, parts: int) -> list[str]:
    """The values a page token carries; 400 for anything this module did not make."""
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = None
    values = raw.split("\x1f") if raw is not None else []
    # The last value is always a sort key (hex digits); the others are names.
    if len(values) != parts or not _SORT_KEY.fullmatch(values[-1]) or not all(values):
        raise invalid_token(token)
    return values


def invalid_token(token: str) -> InvalidInputError:
    return InvalidInputError(f"Invalid pageToken '{token}'.", code="page_token")


def summaries_after(token: str | None) -> tuple[int, str, str] | None:
    """Where a page of ``artifact_summaries`` starts: (namespace position, artifact name, sort key)."""
    if not token:
        return None
    position, name, sort_key = decode_page_token(token, 3)
    if not _POSITION.fullmatch(position):
        raise invalid_token(token)
    return int(position), name, sort_key


def versions_after(token: str | None) -> tuple[str] | None:
    """Where a page of ``artifact_versions`` starts: (sort key,)."""
    return (decode_page_token(token, 1)[0],) if token else None


@contextmanager
def token_errors(token: str | None) -> Iterator[None]:
    """Around a paging selector: a position it does not walk came from a token this module would not have made."""
    try:
        yield
    except InvalidInputError as error:
        if error.code == "page_after" and token:
            raise invalid_token(token) from None
        raise


def page_response(page: Page, items: list) -> Response:
    """The page's items, with ``X-Next-Page-Token`` when more follow."""
    response = Response(items)
    if page.after is not None:
        response["X-Next-Page-Token"] = encode_page_token(*(str(value) for value in page.after))
    return response
