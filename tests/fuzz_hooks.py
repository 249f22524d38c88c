"""Schemathesis hooks of the fuzz pass (``tests/test_fuzz.py``), loaded by its CLI through ``SCHEMATHESIS_HOOKS``.

One check: no answer is a server error (5xx), except the OpenPAI seed's documented 500s. The seed answers ordinary
refusals (an unknown job, a body that fails validation, a failed update or removal) with HTTP 500 and a named
``error``; those are its contract (contracts/openpai.md), not crashes.
"""

from __future__ import annotations

import json

import schemathesis

OPENPAI_SEED_500S = frozenset({"JobNotFound", "ParameterValidationError", "UpdateFailed", "RemoveFailed"})
OPENPAI_SEED_PATHS = ("/api/auth", "/api/job")


def documented_server_error(path: str, status: int, content: bytes) -> bool:
    """Whether a 5xx answer is one the OpenPAI seed documents: HTTP 500 with one of its named errors."""
    if status != 500 or not path.startswith(OPENPAI_SEED_PATHS):
        return False
    try:
        body = json.loads(content)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") in OPENPAI_SEED_500S


@schemathesis.check
def no_undocumented_server_error(ctx, response, case):
    """Fail on any 5xx answer but the OpenPAI seed's documented 500s."""
    if response.status_code < 500 or documented_server_error(case.path, response.status_code, response.content):
        return None
    raise AssertionError(f"Server error {response.status_code}: {response.content[:500].decode(errors='replace')}")
