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
"""

from __future__ import annotations

import datetime
import json
import math
import re
import struct
from typing import Any

from featurestore.limits import TS_MAX, TS_MIN, TS_RANGE_ERROR

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

# rapidjson ParseErrorCode values that the reader can produce with the APIServer's flags. Code 12 (invalid encoding)
# needs kParseValidateEncodingFlag and 16 (termination) a handler that says stop; the Document handler never does.
DOCUMENT_EMPTY = 1
ROOT_NOT_SINGULAR = 2
VALUE_INVALID = 3
OBJECT_MISS_NAME = 4
OBJECT_MISS_COLON = 5
OBJECT_MISS_COMMA_OR_CURLY = 6
ARRAY_MISS_COMMA_OR_SQUARE = 7
STRING_UNICODE_ESCAPE_INVALID_HEX = 8
STRING_UNICODE_SURROGATE_INVALID = 9
STRING_ESCAPE_INVALID = 10
STRING_MISS_QUOTATION_MARK = 11
NUMBER_TOO_BIG = 13
NUMBER_MISS_FRACTION = 14
NUMBER_MISS_EXPONENT = 15

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1


class JsonError(ValueError):
    """A body rapidjson 1.1 would refuse: ``code`` is its ParseErrorCode, ``offset`` the UTF-8 byte offset."""

    def __init__(self, code: int, offset: int):
        super().__init__(f"JSON parse error {code} at offset {offset}")
        self.code = code
        self.offset = offset


class ConversionError(ValueError):
    """A JSON value a column (or query parameter) of ``type`` does not accept; callers build the wire message."""

    def __init__(self, value: Any, type: str, reason: str):
        super().__init__(f"cannot convert {_value_text(value)} to {type}: {reason}")
        self.value = value
        self.type = type
        self.reason = reason

    @property
    def value_text(self) -> str:
        """The value for "... with value <v>" messages: strings as-is (upstream GetString()), others as JSON text."""
        return _value_text(self.value)


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return dumps(value).decode("utf-8", "replace")
    except (TypeError, ValueError):
        return repr(value)


class TsRangeError(ConversionError):
    """A ts value the JSON type accepts but the window engine cannot compute on (``featurestore.limits``)."""


def int_range(type: str, *, ts: bool = False) -> tuple[int, int]:
    """The integers a column of an integer ``type`` stores (int16 takes int32 input and wraps, as upstream)."""
    if type == "timestamp" or (ts and type == "int64"):
        return TS_MIN, TS_MAX
    if type == "int64":
        return _INT64_MIN, _INT64_MAX
    return _INT32_MIN, _INT32_MAX


class _TooBig(ValueError):
    """rapidjson's kParseErrorNumberTooBig, raised from inside number emulation (also through json's hooks)."""


# ---------------------------------------------------------------------------------------------------------------
# Numbers: exact emulation of rapidjson 1.1 GenericReader::ParseNumber without kParseFullPrecisionFlag.

# internal::Pow10(n) is a table of the literals 1e+0..1e+308, i.e. correctly rounded doubles.
_POW10 = [float(f"1e{n}") for n in range(309)]
_TWO53_MINUS_1 = 0x1FFFFFFFFFFFFF
_DBL_MAX_DIV10 = 1.7976931348623157e307


def _fast_path(d: float, exp: int) -> float:
    if exp < -308:
        return 0.0
    if exp >= 0:
        return d * _POW10[exp]  # overflows to inf like the C multiplication
    return d / _POW10[-exp]


def _strtod_normal(d: float, p: int) -> float:
    if p < -308:
        # rapidjson splits very small exponents in two steps so Pow10 stays in range.
        return _fast_path(_fast_path(d, -308), p + 308)
    return _fast_path(d, p)


class _Num:
    """ParseNumber's local state, filled stage by stage so errors come out in rapidjson's order."""

    __slots__ = ("d", "i", "i64", "sig", "use64", "use_double")

    def __init__(self) -> None:
        self.i = 0
        self.i64 = 0
        self.use64 = False
        self.use_double = False
        self.d = 0.0
        self.sig = 0


def _int_stage(minus: bool, digits: str) -> _Num:
    """Integer part: 32-bit, then 64-bit accumulation, then double arithmetic (code 13 past DBL_MAX / 10)."""
    st = _Num()
    n = len(digits)
    if n <= 9:
        # Nine digits never reach the 32-bit overflow checks; the first digit does not count as significant.
        st.i = int(digits)
        st.sig = n - 1
        return st
    i = ord(digits[0]) - 48
    sig = 0
    pos = 1
    limit, last = (214748364, 8) if minus else (429496729, 5)
    while pos < n:
        c = ord(digits[pos]) - 48
        if i >= limit and (i != limit or c > last):
            st.i64 = i
            st.use64 = True
            break
        i = i * 10 + c
        sig += 1
        pos += 1
    st.i = i
    if st.use64:
        i64 = st.i64
        limit, last = (0x0CCCCCCCCCCCCCCC, 8) if minus else (0x1999999999999999, 5)
        while pos < n:
            c = ord(digits[pos]) - 48
            if i64 >= limit and (i64 != limit or c > last):
                st.d = float(i64)
                st.use_double = True
                break
            i64 = i64 * 10 + c
            sig += 1
            pos += 1
        st.i64 = i64
    if st.use_double:
        d = st.d
        while pos < n:
            if d >= _DBL_MAX_DIV10:
                raise _TooBig
            d = d * 10 + (ord(digits[pos]) - 48)
            pos += 1
        st.d = d
    st.sig = sig
    return st


def _frac_stage(st: _Num, frac: str) -> int:
    """Fraction digits: up to 2^53 exactly in i64, then at most 17 significant digits in double; returns expFrac."""
    exp_frac = 0
    pos = 0
    n = len(frac)
    sig = st.sig
    if not st.use_double:
        i64 = st.i64 if st.use64 else st.i
        while pos < n:
            if i64 > _TWO53_MINUS_1:
                break
            i64 = i64 * 10 + (ord(frac[pos]) - 48)
            exp_frac -= 1
            if i64 != 0:
                sig += 1
            pos += 1
        st.i64 = i64
        st.d = float(i64)
        st.use_double = True
    d = st.d
    while pos < n and sig < 17:  # once 17 significant digits are in, the rest is skipped
        d = d * 10.0 + (ord(frac[pos]) - 48)
        exp_frac -= 1
        if d > 0.0:
            sig += 1
        pos += 1
    st.d = d
    st.sig = sig
    return exp_frac


def _exp_value(st: _Num, exp_minus: bool, digits: str, exp_frac: int) -> int:
    """Exponent digits: a positive exponent past 308 - expFrac is code 13; a negative one saturates."""
    if not st.use_double:
        st.d = float(st.i64 if st.use64 else st.i)
        st.use_double = True
    exp = ord(digits[0]) - 48
    if exp_minus:
        for ch in digits[1:]:
            exp = exp * 10 + (ord(ch) - 48)
            if exp >= 214748364:  # rapidjson stops accumulating (issue #313) and skips the remaining digits
                break
        return -exp
    max_exp = 308 - exp_frac
    for ch in digits[1:]:
        exp = exp * 10 + (ord(ch) - 48)
        if exp > max_exp:
            raise _TooBig
    return exp


def _finish(st: _Num, minus: bool, special: float | None, exp: int, exp_frac: int) -> int | float:
    if st.use_double:
        d = _strtod_normal(st.d, exp + exp_frac)
        return -d if minus else d
    if special is not None:
        return special
    if st.use64:
        return -st.i64 if minus else st.i64
    return -st.i if minus else st.i


_NUMBER_RE = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([-+]?)([0-9]+))?")


def _number_from_token(tok: str) -> int | float:
    """The value rapidjson reads for a grammatical JSON number token (raises _TooBig for code 13)."""
    m = _NUMBER_RE.fullmatch(tok)
    if m is None:  # cannot happen for tokens the json scanner hands over
        raise ValueError(tok)
    minus, intd, frac, esign, expd = m.groups()
    st = _int_stage(bool(minus), intd)
    exp_frac = _frac_stage(st, frac) if frac is not None else 0
    exp = _exp_value(st, esign == "-", expd, exp_frac) if expd is not None else 0
    return _finish(st, bool(minus), None, exp, exp_frac)


def _float_hook(tok: str) -> float | int:
    """json parse_float hook: float(tok) when provably equal to rapidjson's result, else exact emulation."""
    if len(tok) < 16 and "e" not in tok and "E" not in tok:
        # At most 14 digits and 14 decimals: the cheap case of the proof below.
        return float(tok)
    m = _NUMBER_RE.fullmatch(tok)
    if m is not None:
        _minus, intd, frac, esign, expd = m.groups()
        mant = intd + (frac or "")
        if len(mant) <= 40 and (expd is None or len(expd) <= 4):
            p = (-int(expd) if esign == "-" else int(expd)) if expd is not None else 0
            p -= len(frac or "")
            # An exact significand below 2^53 times an exact power of ten <= 1e22 is a single correctly rounded
            # operation in rapidjson, which is what float() computes.
            if -22 <= p <= 22 and int(mant) <= _TWO53_MINUS_1:
                return float(tok)
    return _number_from_token(tok)


def _int_hook(tok: str) -> int | float:
    """json parse_int hook: ints in [-2^63, 2^64-1] stay exact; others become rapidjson's double (or code 13)."""
    if len(tok) <= 18:
        return int(tok)
    v = int(tok)
    if _INT64_MIN <= v <= _UINT64_MAX:
        return v
    return _number_from_token(tok)


# ---------------------------------------------------------------------------------------------------------------
# The reference scanner: rapidjson's recursive descent, made iterative (rapidjson's native stack goes far deeper
# than Python's recursion limit).

_WS = re.compile(r"[ \t\n\r]*")
_DIGITS = re.compile(r"[0-9]+")
_STR_CHUNK = re.compile(r'[^"\\\x00-\x1f]*')
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# surrogateescape turns each undecodable body byte into U+DC80..U+DCFF; rapidjson stores the byte, we store U+FFFD.
_ESCAPED_BYTES = {cp: "\ufffd" for cp in range(0xDC80, 0xDD00)}


class _Reader:
    __slots__ = ("s", "raw_bytes")

    def __init__(self, text: str, raw_bytes: bool):
        self.s = text + "\0"  # rapidjson reads a NUL-terminated string: Peek() == '\0' means end of input
        self.raw_bytes = raw_bytes

    def error(self, code: int, pos: int) -> JsonError:
        return JsonError(code, _byte_offset(self.s, pos))

    def parse(self) -> Any:
        s = self.s
        i = _WS.match(s, 0).end()
        if s[i] == "\0":
            raise self.error(DOCUMENT_EMPTY, i)
        # Each frame is [container, pending key]; a dict frame's key is set once its name and colon are read.
        stack: list[list[Any]] = []
        while True:
            c = s[i]
            if c == "{":
                i = _WS.match(s, i + 1).end()
                if s[i] == "}":
                    value: Any = {}
                    i += 1
                else:
                    key, i = self.member_name(i)
                    stack.append([{}, key])
                    continue
            elif c == "[":
                i = _WS.match(s, i + 1).end()
                if s[i] == "]":
                    value = []
                    i += 1
                else:
                    stack.append([[], None])
                    continue
            elif c == '"':
                value, i = self.string(i)
            elif c == "n":
                value, i = self.literal(i, "null", None)
            elif c == "t":
                value, i = self.literal(i, "true", True)
            elif c == "f":
                value, i = self.literal(i, "false", False)
            else:
                value, i = self.number(i)
            # Hand the finished value to its container, closing every container that ends here.
            while True:
                if not stack:
                    i = _WS.match(s, i).end()
                    if s[i] != "\0":
                        raise self.error(ROOT_NOT_SINGULAR, i)
                    return value
                frame = stack[-1]
                container = frame[0]
                i = _WS.match(s, i).end()
                if isinstance(container, list):
                    container.append(value)
                    if s[i] == ",":
                        i = _WS.match(s, i + 1).end()
                        break
                    if s[i] != "]":
                        raise self.error(ARRAY_MISS_COMMA_OR_SQUARE, i)
                else:
                    container.setdefault(frame[1], value)  # first member wins, as FindMember sees it
                    if s[i] == ",":
                        frame[1], i = self.member_name(_WS.match(s, i + 1).end())
                        break
                    if s[i] != "}":
                        raise self.error(OBJECT_MISS_COMMA_OR_CURLY, i)
                i += 1
                value = container
                stack.pop()

    def member_name(self, i: int) -> tuple[str, int]:
        s = self.s
        if s[i] != '"':
            raise self.error(OBJECT_MISS_NAME, i)
        key, i = self.string(i)
        i = _WS.match(s, i).end()
        if s[i] != ":":
            raise self.error(OBJECT_MISS_COLON, i)
        return key, _WS.match(s, i + 1).end()

    def literal(self, i: int, word: str, value: Any) -> tuple[Any, int]:
        s = self.s
        i += 1
        for ch in word[1:]:
            if s[i] != ch:
                raise self.error(VALUE_INVALID, i)
            i += 1
        return value, i

    def string(self, i: int) -> tuple[str, int]:
        s = self.s
        i += 1
        parts: list[str] = []
        while True:
            j = _STR_CHUNK.match(s, i).end()
            if j > i:
                parts.append(s[i:j])
            c = s[j]
            if c == '"':
                out = "".join(parts)
                if self.raw_bytes:
                    out = out.translate(_ESCAPED_BYTES)
                return out, j + 1
            if c == "\\":
                esc = j
                e = s[j + 1]
                simple = _SIMPLE_ESCAPES.get(e)
                if simple is not None:
                    parts.append(simple)
                    i = j + 2
                    continue
                if e != "u":
                    raise self.error(STRING_ESCAPE_INVALID, esc)
                cp, i = self.hex4(j + 2, esc)
                if 0xD800 <= cp <= 0xDBFF:
                    if s[i] != "\\" or s[i + 1] != "u":
                        raise self.error(STRING_UNICODE_SURROGATE_INVALID, esc)
                    cp2, i = self.hex4(i + 2, esc)
                    if not 0xDC00 <= cp2 <= 0xDFFF:
                        raise self.error(STRING_UNICODE_SURROGATE_INVALID, esc)
                    cp = (((cp - 0xD800) << 10) | (cp2 - 0xDC00)) + 0x10000
                elif 0xDC00 <= cp <= 0xDFFF:
                    cp = 0xFFFD  # rapidjson stores the invalid 3-byte sequence; a str cannot carry it usefully
                parts.append(chr(cp))
                continue
            if c == "\0":
                raise self.error(STRING_MISS_QUOTATION_MARK, j)
            raise self.error(STRING_ESCAPE_INVALID, j)  # raw control character

    def hex4(self, i: int, esc: int) -> tuple[int, int]:
        m = _HEX4.match(self.s, i)
        if m is None:
            raise self.error(STRING_UNICODE_ESCAPE_INVALID_HEX, esc)
        return int(m.group(), 16), i + 4

    def number(self, i: int) -> tuple[int | float, int]:
        s = self.s
        start = i
        minus = s[i] == "-"
        if minus:
            i += 1
        c = s[i]
        special: float | None = None
        try:
            if c == "0":
                st = _int_stage(minus, "0")
                i += 1
            elif "1" <= c <= "9":
                j = _DIGITS.match(s, i).end()
                st = _int_stage(minus, s[i:j])
                i = j
            elif c == "N" or c == "I":
                special, i = self._nan_or_inf(i, minus)
                st = _Num()
            else:
                raise self.error(VALUE_INVALID, i)
            # Whatever came first (even NaN/Inf), rapidjson goes on to look for a fraction and an exponent.
            exp_frac = 0
            if s[i] == ".":
                i += 1
                m = _DIGITS.match(s, i)
                if m is None:
                    raise self.error(NUMBER_MISS_FRACTION, i)
                exp_frac = _frac_stage(st, m.group())
                i = m.end()
            exp = 0
            if s[i] == "e" or s[i] == "E":
                i += 1
                exp_minus = False
                if s[i] == "+":
                    i += 1
                elif s[i] == "-":
                    exp_minus = True
                    i += 1
                m = _DIGITS.match(s, i)
                if m is None:
                    raise self.error(NUMBER_MISS_EXPONENT, i)
                exp = _exp_value(st, exp_minus, m.group(), exp_frac)
                i = m.end()
        except _TooBig:
            raise self.error(NUMBER_TOO_BIG, start) from None
        return _finish(st, minus, special, exp, exp_frac), i

    def _nan_or_inf(self, i: int, minus: bool) -> tuple[float, int]:
        # Literal transcription of the Consume() chain: a failed 'N','a','N' keeps what it consumed and then tries
        # 'I','n','f' from there, so e.g. "NInf" reads as Infinity.
        s = self.s
        if s[i] == "N":
            i += 1
            if s[i] == "a":
                i += 1
                if s[i] == "N":
                    return math.nan, i + 1
        if s[i] == "I":
            i += 1
            if s[i] == "n":
                i += 1
                if s[i] == "f":
                    i += 1
                    if s[i] == "i":
                        for ch in "inity":
                            if s[i] != ch:
                                raise self.error(VALUE_INVALID, i)
                            i += 1
                    return (-math.inf if minus else math.inf), i
        raise self.error(VALUE_INVALID, i)


def _byte_offset(s: str, pos: int) -> int:
    head = s[:pos]
    try:
        return len(head.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return len(head.encode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------------------------------------------------------
# loads


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        d = {}
        for k, v in pairs:
            d.setdefault(k, v)
    return d


# The C scanner does the work; the hooks (one Python call per number, cheaper than any pre-scan of the body for
# risky tokens) keep ints exact, reproduce rapidjson's doubles and raise code 13 where rapidjson does.
_DECODER = json.JSONDecoder(object_pairs_hook=_first_wins, parse_float=_float_hook, parse_int=_int_hook)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# An unpaired surrogate escape (rapidjson: code 9 for a high one, raw bytes for a low one); json accepts both.
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def loads(text: str | bytes | bytearray | memoryview) -> Any:
    """Parse a request body exactly as rapidjson 1.1 with kParseNanAndInfFlag would; raise JsonError otherwise."""
    if isinstance(text, str):
        s = text
        nul = s.find("\0")
        if nul >= 0:
            s = s[:nul]
    else:
        b = bytes(text)
        nul = b.find(b"\0")
        if nul >= 0:
            b = b[:nul]
        try:
            s = b.decode("utf-8")
        except UnicodeDecodeError:
            return _Reader(b.decode("utf-8", "surrogateescape"), True).parse()
    if _SURROGATE_ESCAPE.search(s) and ("\\\\" in s or _LONE_SURROGATE.search(s)):
        # Escaped backslashes can disguise a lone surrogate from the regex; let the reference scanner decide.
        return _Reader(s, False).parse()
    try:
        return _DECODER.decode(s)
    except (ValueError, RecursionError):
        return _Reader(s, False).parse()


def _loads_reference(text: str | bytes) -> Any:
    """The scanner alone, without the json fast path (for tests)."""
    if isinstance(text, str):
        return _Reader(text.split("\0", 1)[0], False).parse()
    b = bytes(text).split(b"\0", 1)[0]
    return _Reader(b.decode("utf-8", "surrogateescape"), True).parse()


# ---------------------------------------------------------------------------------------------------------------
# Coercion of input values (AppendJsonValue) and query parameters.

_F32 = struct.Struct("<f")


def to_float32(x: float) -> float:
    """Round a double to float32 like a C static_cast<float> (overflow gives a signed infinity)."""
    try:
        return _F32.unpack(_F32.pack(x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)  # JSON true/false are not numbers


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _wrap_int16(v: int) -> int:
    return ((v + 0x8000) & 0xFFFF) - 0x8000


def _is_lossless_double(v: int) -> bool:
    # rapidjson Value::IsLosslessDouble for integers: the double must convert back to the same integer.
    try:
        d = float(v)
    except OverflowError:
        return False
    if 0 <= v <= _UINT64_MAX:
        return d < 18446744073709551616.0 and int(d) == v
    if _INT64_MIN <= v < 0:
        return d >= -9223372036854775808.0 and int(d) == v
    return False


def _parse_date(value: Any, type: str) -> datetime.date:
    if not isinstance(value, str):
        raise ConversionError(value, type, "not a string")
    text = value.split("\0", 1)[0]  # upstream splits GetString(), a C string
    # base::SplitString drops empty pieces, so "2020--5-1" and "-2020-5-1" still have three parts.
    parts = [p for p in text.split("-") if p]
    if len(parts) != 3:
        raise ConversionError(value, type, "expected Y-M-D")
    nums = []
    for p in parts:
        # std::from_chars<int32_t> over the whole piece: ASCII digits only (no sign, no spaces).
        if not (p.isascii() and p.isdigit()):
            raise ConversionError(value, type, "date parts must be integers")
        n = int(p)
        if n > _INT32_MAX:
            raise ConversionError(value, type, "date part out of int32 range")
        nums.append(n)
    year, month, day = nums
    # Upstream's row builder rejects years outside 1900..9999 and months/days outside 1..12/1..31, but would store
    # 2021-02-30; we also reject days the month does not have, since a date value must be a real date.
    if not 1900 <= year <= 9999:
        raise ConversionError(value, type, "year out of range 1900..9999")
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise ConversionError(value, type, "not a valid date") from None


def coerce(value: Any, type: str, *, not_null: bool = False, ts: bool = False) -> Any:
    """Convert a parsed JSON value for a column of ``type`` by AppendJsonValue's rules; raise ConversionError.

    A timestamp, and an int64 that is a window ts (``ts``: an index's TS column), must also lie within the range
    the engine computes windows on (``featurestore.limits``); outside it TsRangeError is raised.
    """
    if value is None:
        if not_null:
            raise ConversionError(value, type, "null for a NOT NULL column")
        return None
    if type == "bool":
        if isinstance(value, bool):
            return value
        raise ConversionError(value, type, "not a JSON bool")
    if type == "int16":
        # IsInt() then a plain cast: 70000 is accepted and wraps to 4464, as upstream does.
        if _is_int(value) and _INT32_MIN <= value <= _INT32_MAX:
            return _wrap_int16(value)
        raise ConversionError(value, type, "not an int32 integer")
    if type == "int32":
        if _is_int(value) and _INT32_MIN <= value <= _INT32_MAX:
            return value
        raise ConversionError(value, type, "not an int32 integer")
    if type == "int64" or type == "timestamp":
        if _is_int(value) and _INT64_MIN <= value <= _INT64_MAX:
            if (ts or type == "timestamp") and not TS_MIN <= value <= TS_MAX:
                raise TsRangeError(value, type, TS_RANGE_ERROR)
            return value
        raise ConversionError(value, type, "not an int64 integer")
    if type == "float":
        if _is_number(value):
            try:
                return to_float32(float(value))
            except OverflowError:
                raise ConversionError(value, type, "number out of range") from None
        raise ConversionError(value, type, "not a number")
    if type == "double":
        if isinstance(value, float):
            return value
        if _is_int(value) and _is_lossless_double(value):
            return float(value)
        raise ConversionError(value, type, "not a number representable as a double")
    if type == "string":
        if isinstance(value, str):
            return value
        raise ConversionError(value, type, "not a string")
    if type == "date":
        return _parse_date(value, type)
    raise ValueError(f"unknown column type {type!r}")


_PARAM_TYPES = {
    "BOOL": "bool",
    "SMALLINT": "int16",
    "INT16": "int16",
    "INT": "int32",
    "INT32": "int32",
    "BIGINT": "int64",
    "INT64": "int64",
    "FLOAT": "float",
    "DOUBLE": "double",
    "STRING": "string",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
}
# std::toupper in the C locale touches ASCII letters only (str.upper() would turn "ınt" into "INT").
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def date_to_packed(d: datetime.date) -> int:
    """OpenMLDB's row encoding of a date: (year - 1900) << 16 | (month - 1) << 8 | day."""
    return ((d.year - 1900) << 16) | ((d.month - 1) << 8) | d.day


def date_from_packed(v: int) -> datetime.date:
    """Decode OpenMLDB's packed date int; raise ValueError if it is not a real date."""
    if not 0 <= v <= _INT32_MAX:
        raise ValueError(f"packed date out of range: {v}")
    return datetime.date((v >> 16) + 1900, ((v >> 8) & 0xFF) + 1, v & 0xFF)


def coerce_param(value: Any, type_name: str) -> tuple[Any, str]:
    """Convert one query-route parameter (``input.schema``/``input.data``); returns (value, canonical type)."""
    upper = type_name.translate(_ASCII_UPPER)
    canonical = _PARAM_TYPES.get(upper)
    if canonical is None:
        raise ValueError(f"invalid type {upper}")
    # These follow JsonReader's operator& overloads: nulls are never accepted, numbers are not range-checked beyond
    # what IsInt()/IsInt64() imply, and DOUBLE takes any number (GetDouble(), not IsLosslessDouble()).
    if value is None:
        raise ConversionError(value, canonical, "null parameter")
    if canonical == "double":
        if _is_number(value):
            try:
                return float(value), canonical
            except OverflowError:
                raise ConversionError(value, canonical, "number out of range") from None
        raise ConversionError(value, canonical, "not a number")
    if canonical == "date":
        # DATE parameters are read as an int32 and appended unchanged as the packed row encoding.
        if _is_int(value) and _INT32_MIN <= value <= _INT32_MAX:
            try:
                return date_from_packed(value), canonical
            except ValueError:
                raise ConversionError(value, canonical, "not a valid packed date") from None
        raise ConversionError(value, canonical, "not an int32 integer")
    return coerce(value, canonical), canonical


# ---------------------------------------------------------------------------------------------------------------
# Writing


def format_double(x: float) -> str:
    """A double as rapidjson's Writer prints it: shortest digits in dtoa's Prettify layout (1e21, 0.00001)."""
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    r = repr(x)
    sign = ""
    if r[0] == "-":
        sign = "-"
        r = r[1:]
    mant, _, e = r.partition("e")
    ip, _, fp = mant.partition(".")
    digits = (ip + fp).lstrip("0")
    k = (int(e) if e else 0) - len(fp)
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits = stripped
    if not digits:
        return sign + "0.0"
    length = len(digits)
    kk = length + k  # 10^(kk-1) <= |x| < 10^kk
    if 0 <= k and kk <= 21:
        out = digits + "0" * k + ".0"
    elif 0 < kk <= 21:
        out = digits[:kk] + "." + digits[kk:]
    elif -6 < kk <= 0:
        out = "0." + "0" * -kk + digits
    elif length == 1:
        out = f"{digits}e{kk - 1}"
    else:
        out = f"{digits[0]}.{digits[1:]}e{kk - 1}"
    return sign + out


def _default(o: Any) -> Any:
    if isinstance(o, datetime.date) and not isinstance(o, datetime.datetime):
        return f"{o.year}-{o.month}-{o.day}"
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True, default=_default)
# Tokens of json's output that rapidjson writes differently: strings (control escapes are upper-case hex there),
# NaN/Infinity (null on request) and exponent-form numbers (Prettify layout). Strings are matched whole first so
# nothing inside them is touched.
_OUTPUT_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|-?Infinity|NaN|-?[0-9]+(?:\.[0-9]+)?[eE][-+]?[0-9]+')
_LOWER_CONTROL_ESCAPE = re.compile(r"\\u00(?:0[bef]|1[a-f])|\\.")


def _upper_escape(m: re.Match[str]) -> str:
    g = m.group()
    return "\\u00" + g[4:].upper() if len(g) == 6 else g


def _fix_token(m: re.Match[str], nan_and_inf_null: bool) -> str:
    t = m.group()
    c = t[0]
    if c == '"':
        return _LOWER_CONTROL_ESCAPE.sub(_upper_escape, t) if "\\u00" in t else t
    if c == "N" or t[-1] == "y":
        return "null" if nan_and_inf_null else t
    return format_double(float(t))


def dumps(value: Any, *, nan_and_inf_null: bool = False) -> bytes:
    """Compact UTF-8 JSON as the APIServer writes it: bare NaN/Infinity/-Infinity (or null), rapidjson doubles."""
    text = _ENCODER.encode(value)
    if "e+" in text or "e-" in text or "\\u00" in text or (nan_and_inf_null and ("NaN" in text or "Infinity" in text)):
        text = _OUTPUT_TOKEN.sub(lambda m: _fix_token(m, nan_and_inf_null), text)
    # No surrogates come out of loads(); any from elsewhere are passed through as rapidjson passes raw bytes.
    return text.encode("utf-8", "surrogatepass")


def output_value(value: Any, type: str) -> Any:
    """An engine value of column ``type`` in its response form (float widened from float32, date "Y-M-D")."""
    if value is None:
        return None
    if type == "float":
        return to_float32(float(value))
    if type == "double":
        return float(value)
    if type in ("int16", "int32", "int64", "timestamp"):
        return int(value)
    if type == "bool":
        return bool(value)
    if type == "string":
        return value
    if type == "date":
        return f"{value.year}-{value.month}-{value.day}"  # "%d-%d-%d": no zero padding
    raise ValueError(f"unknown column type {type!r}")


# ---------------------------------------------------------------------------------------------------------------
# Type names and enums used in responses and error messages (keys are featurestore.sqlir.TYPES).

_SCHEMA_NAMES = {
    "bool": "Bool",
    "int16": "Int16",
    "int32": "Int32",
    "int64": "Int64",
    "float": "Float",
    "double": "Double",
    "string": "String",
    "date": "Date",
    "timestamp": "Timestamp",
}
_SDK_ENUM = {
    "bool": 0,
    "int16": 1,
    "int32": 2,
    "int64": 3,
    "float": 4,
    "double": 5,
    "string": 6,
    "date": 7,
    "timestamp": 8,
}
_FE_ENUM = {
    "bool": 0,
    "int16": 1,
    "int32": 3,
    "int64": 5,
    "float": 7,
    "double": 8,
    "string": 9,
    "date": 10,
    "timestamp": 11,
}
_PROTO_NAMES = {
    "bool": "kBool",
    "int16": "kSmallInt",
    "int32": "kInt",
    "int64": "kBigInt",
    "float": "kFloat",
    "double": "kDouble",
    "string": "kVarchar",
    "date": "kDate",
    "timestamp": "kTimestamp",
}


def _lookup(table: dict[str, Any], type: str) -> Any:
    try:
        return table[type]
    except KeyError:
        raise ValueError(f"unknown column type {type!r}") from None


def schema_type_name(type: str) -> str:
    """The query route's result schema name ("Int64", "Timestamp", ...)."""
    return _lookup(_SCHEMA_NAMES, type)


def sdk_type_enum(type: str) -> int:
    """hybridse::sdk::DataType, as in "conversion failed on col <c>[<enum>]" and "trans failed on <c>(<enum>)"."""
    return _lookup(_SDK_ENUM, type)


def fe_type_enum(type: str) -> int:
    """hybridse::type::Type (fe_type.proto), as in "append failed on <idx> type <enum>"."""
    return _lookup(_FE_ENUM, type)


def proto_type_name(type: str) -> str:
    """TableInfo column_desc data_type enum name ("kVarchar", "kBigInt", ...)."""
    return _lookup(_PROTO_NAMES, type)
