"""Reading request bodies exactly as the APIServer's rapidjson 1.1 (``kParseNanAndInfFlag``) does: :func:`loads`.

The fast path is the stdlib ``json`` C scanner with hooks that emulate rapidjson's numbers; anything it refuses is
read by a scanner that follows rapidjson's ``GenericReader`` step by step, the authority for acceptance and for
the error code and offset of :class:`JsonError` (see the package docstring).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

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

_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1


class JsonError(ValueError):
    """A body rapidjson 1.1 would refuse: ``code`` is its ParseErrorCode, ``offset`` the UTF-8 byte offset."""

    def __init__(self, code: int, offset: int):
        super().__init__(f"JSON parse error {code} at offset {offset}")
        self.code = code
        self.offset = offset


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
