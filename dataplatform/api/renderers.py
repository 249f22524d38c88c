"""One renderer per API family; each also exposes ``encode`` for error bodies built outside DRF views."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.renderers import BaseRenderer
from rest_framework.utils.encoders import JSONEncoder


def encode_json(data: Any, *, allow_nan: bool = False, ensure_ascii: bool = False) -> bytes:
    """Encode compact UTF-8 JSON the way every family expects (dates, decimals, UUIDs handled by DRF's encoder)."""
    return json.dumps(
        data, cls=JSONEncoder, ensure_ascii=ensure_ascii, allow_nan=allow_nan, separators=(",", ":")
    ).encode("utf-8")


class _JSONFamilyRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = "utf-8"
    allow_nan = False

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        if isinstance(data, bytes):
            return data
        return encode_json(data, allow_nan=self.allow_nan)


class PlatformRenderer(_JSONFamilyRenderer):
    """The platform's own endpoints (/healthz, extensions): plain JSON."""


class LinkisRenderer(_JSONFamilyRenderer):
    """Linkis envelopes ``{method, status, message, data}``; nulls kept, non-ASCII (bilingual texts) kept as is."""


class OpenPAIRenderer(_JSONFamilyRenderer):
    """OpenPAI bodies, seed and /api/v1 alike."""


class OpenMLDBRenderer(_JSONFamilyRenderer):
    """OpenMLDB's extended JSON: NaN and ±Infinity are written as bare ``NaN``/``Infinity``/``-Infinity``."""

    allow_nan = True


class CDAPRenderer(_JSONFamilyRenderer):
    """CDAP objects as JSON; CDAP's text answers ("Deploy Complete") go out as plain-text responses."""
