"""Request body parsers shared by the API families.

Every JSON body goes through ``dataplatform.api.request.json_loads``: malformed JSON, ``NaN``/``Infinity``,
numbers that overflow (``1e999``) and nesting deeper than ``MAX_JSON_DEPTH`` are parse errors (400 in each
family's envelope), never a crash further down.
"""

from __future__ import annotations

import codecs
import re

from django.conf import settings
from django.http import QueryDict
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.parsers import JSONParser as DRFJSONParser

from dataplatform.api.request import json_loads

# "a=1&b=two": what curl -d sends, even when the client also claims Content-Type: application/json.
_FORM_BODY = re.compile(r"^[^=&{}\[\]\"\s]+=[^&]*(&[^=&{}\[\]\"\s]+=[^&]*)*$")


class LenientJSONParser(BaseParser):
    """Parse JSON whatever the declared content type, and url-encoded forms where the body is one.

    Linkis's gateway reads the raw body as JSON regardless of Content-Type, and the OpenPAI seed's own example
    (``curl -H "Content-Type: application/json" -d "username=..." -d "password=..."``) sends a form body labelled
    JSON; both work here. A body that is neither is a parse error naming the JSON problem.
    """

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"Request body is not valid {encoding} text: {exc}") from None
        if not text.strip():
            return {}
        try:
            return json_loads(text)
        except ValueError as exc:
            if _FORM_BODY.match(text.strip()):
                return QueryDict(text.strip(), encoding=encoding).dict()
            raise ParseError(f"JSON parse error - {exc}") from None


class StrictJSONParser(DRFJSONParser):
    """DRF's ``application/json`` parser with the platform's limits (see ``json_loads``)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json_loads(codecs.getreader(encoding)(stream).read())
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


class RawBodyParser(BaseParser):
    """Accept any body and leave it unread, for views that read ``request.body`` themselves.

    DRF parses on the first touch of ``request.data`` or ``request.POST``, and session authentication's CSRF
    check touches ``request.POST``: with no parser at all that check would answer "Unsupported media type" to a
    browser's JSON POST. This parser answers with no data and does not read the stream, so the view still gets
    the raw bytes from ``request.body``.
    """

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}
