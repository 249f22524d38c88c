"""OpenMLDB APIServer "extended JSON": rapidjson 1.1 reading, per-column value coercion and rapidjson-style writing.

The APIServer parses every request body with rapidjson 1.1 (``kParseNanAndInfFlag``, normal precision) and writes
responses with ``Writer<..., kWriteNanAndInfFlag>`` (contract §2). What goes on the wire therefore includes
rapidjson's quirks, not just JSON: the parse error *code* is part of the PUT error message, bare ``NaN``/``Inf``/
``-Infinity`` are values, ``1e1000`` is an error (code 13) while ``10e308`` is Infinity, and doubles are computed by
rapidjson's fast-path arithmetic (not always correctly rounded).

Reading (:func:`loads`) has two paths that give identical results:

* the fast path is the stdlib ``json`` C scanner with hooks: number tokens that rapidjson might read differently
  (17-digit decimals, exponents, integers past 64 bits, code 13) go through exact emulation, and objects keep the
  *first* of duplicate keys (rapidjson keeps all members but ``FindMember`` returns the first one, and every
  APIServer lookup uses it);
* anything the C scanner refuses (errors, ``Inf``, ``-NaN``, deep nesting, invalid UTF-8) and bodies with a lone
  surrogate escape (which ``json`` accepts) are read by a small iterative scanner that follows rapidjson's
  ``GenericReader`` step by step, so it is the authority for both acceptance and the error code/offset.

Documented choices where upstream behaviour cannot be represented: body bytes that are not UTF-8 and unpaired
low-surrogate escapes (``"\\udc00"``), both stored raw by rapidjson, become U+FFFD; offsets are UTF-8 byte offsets
like rapidjson's ``GetErrorOffset()``; as with ``Parse(body.c_str())`` a NUL byte ends the document.

Values: bool, int (int16/int32/int64/timestamp ms), float (float columns hold float32-rounded values), str,
``datetime.date`` and None. :func:`coerce` applies ``AppendJsonValue``'s per-type rules, plus one of the platform's
own: a ts value (every timestamp, and a bigint that is an index's TS) must lie in the range the window engine
computes on (``featurestore.limits``); :func:`coerce_param` the query route's typed parameters,
:func:`output_value`/:func:`dumps` the response side.

The package is split accordingly: ``reader`` (:func:`loads`, :class:`JsonError`), ``coercion`` (:func:`coerce`,
:func:`coerce_param`, :func:`output_value`, :class:`ConversionError`) and ``writer`` (:func:`dumps`, the type names
and enums); the names below are re-exported here, so ``from featurestore.jsonx import loads`` is the way in.
"""

from __future__ import annotations

from featurestore.jsonx.coercion import (
    ConversionError,
    TsRangeError,
    coerce,
    coerce_param,
    date_from_packed,
    date_to_packed,
    int_range,
    output_value,
    to_float32,
)
from featurestore.jsonx.reader import JsonError, loads
from featurestore.jsonx.reader import _loads_reference as _loads_reference  # the scanner alone, for tests
from featurestore.jsonx.writer import (
    dumps,
    fe_type_enum,
    format_double,
    proto_type_name,
    schema_type_name,
    sdk_type_enum,
)

__all__ = [
    "ConversionError",
    "JsonError",
    "TsRangeError",
    "coerce",
    "coerce_param",
    "date_from_packed",
    "date_to_packed",
    "dumps",
    "fe_type_enum",
    "format_double",
    "int_range",
    "loads",
    "output_value",
    "proto_type_name",
    "schema_type_name",
    "sdk_type_enum",
    "to_float32",
]
