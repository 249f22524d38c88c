"""Scalar functions: strings (substr, concat, like, regexp_like, hex, trim...)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from featurestore.sqlcore.functions.formatting import _to_string_kernel
from featurestore.sqlcore.functions.registry import INTS, NUM, STR, Kernel, fixed, register_scalar
from featurestore.sqlcore.functions.scalar_math import _round_half_up_int

_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _substr(s: str, pos: int, length: int | None = None) -> str:
    """hybridse sub_string: 1-based ``pos``; negative counts from the end; pos 0 or len < 1 -> ''."""
    n = len(s)
    if length is None:
        length = n
    if pos == 0 or length < 1 or pos > n or pos < -n:
        return ""
    start = n + pos if pos < 0 else pos - 1
    return s[start : start + length]


def _strcmp(a: str, b: str) -> int:
    return 0 if a == b else (-1 if a < b else 1)


def _replace(s: str, search: str, rep: str = "") -> str:
    # absl::StrReplaceAll ignores an empty search string.
    return s if search == "" else s.replace(search, rep)


def _char_length(s: str) -> int:
    # hybridse returns the byte length ("multibyte character string is not supported").
    return len(s) if s.isascii() else len(s.encode("utf-8"))


def _int_to_char(v: int) -> str:
    # C: (char)(val % 256), the remainder keeping the dividend's sign; as a byte that is val & 0xFF.
    return chr(v & 0xFF)


def _hex_kernel(types: list[str]) -> Callable[[Any], str]:
    t = types[0]
    if t == "string":
        # ostream << hex << (int)char: no zero padding, bytes >= 0x80 are negative chars.
        def hex_str(s: str) -> str:
            return "".join(format(b if b < 128 else (b - 256) & 0xFFFFFFFF, "X") for b in s.encode("utf-8"))

        return hex_str

    def hex_num(v: Any) -> str:
        n = int(_round_half_up_int(v)) if isinstance(v, float) else int(v)
        return format(n & 0xFFFFFFFFFFFFFFFF if n < 0 else n, "X")

    return hex_num


def _unhex(s: str) -> str | None:
    if not all(c in "0123456789abcdefABCDEF" for c in s):
        return None
    if len(s) % 2:
        s = "0" + s
    return bytes.fromhex(s).decode("latin-1")


_LIKE_CACHE: dict[tuple[str, str | None, bool], re.Pattern[str] | None] = {}


def like_regex(pattern: str, escape: str | None = "\\", ignore_case: bool = False) -> re.Pattern[str] | None:
    """Compile a LIKE pattern (``%`` any run, ``_`` one character, ``escape`` quotes the next one).

    Returns None for a pattern that can never match (it ends with the escape character, as upstream).
    """
    key = (pattern, escape, ignore_case)
    if key in _LIKE_CACHE:
        return _LIKE_CACHE[key]
    out: list[str] = []
    i, n = 0, len(pattern)
    compiled: re.Pattern[str] | None
    while i < n:
        c = pattern[i]
        if escape and c == escape:
            if i + 1 == n:
                out = []
                break
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    else:
        flags = re.DOTALL | ((re.IGNORECASE | re.ASCII) if ignore_case else 0)
        compiled = re.compile("".join(out), flags)
        if len(_LIKE_CACHE) < 4096:
            _LIKE_CACHE[key] = compiled
        return compiled
    _LIKE_CACHE[key] = None
    return None


def like_match(name: str, pattern: str, escape: str | None = "\\", ignore_case: bool = False) -> bool:
    """SQL LIKE / ILIKE with hybridse's rules (an escape string longer than one character never matches)."""
    if escape is not None and len(escape) >= 2:
        return False
    rx = like_regex(pattern, escape or None, ignore_case)
    return rx is not None and rx.fullmatch(name) is not None


def _like_kernel(ignore_case: bool) -> Kernel:
    def kernel(types: list[str]) -> Callable[..., Any]:
        def match(name: str, pattern: str, escape: str = "\\") -> bool:
            return like_match(name, pattern, escape, ignore_case)

        return match

    return kernel


def _regexp_like(name: str, pattern: str, flags: str = "c") -> bool | None:
    opts = 0
    for f in flags:
        if f == "c":
            opts &= ~re.IGNORECASE
        elif f == "i":
            opts |= re.IGNORECASE
        elif f == "m":
            opts |= re.MULTILINE
        elif f == "s":
            opts |= re.DOTALL
    try:
        return re.fullmatch(pattern, name, opts) is not None
    except re.error:
        return None  # RE2 reports the error and returns NULL


def _concat_kernel(types: list[str]) -> Callable[..., str]:
    convs = [_to_string_kernel(t) for t in types]

    def concat(*args: Any) -> str:
        return "".join([c(v) for c, v in zip(convs, args, strict=True)])

    return concat


def _concat_ws_kernel(types: list[str]) -> Callable[..., str]:
    sep_conv = _to_string_kernel(types[0])
    convs = [_to_string_kernel(t) for t in types[1:]]

    def concat_ws(sep: Any, *args: Any) -> str:
        return sep_conv(sep).join([c(v) for c, v in zip(convs, args, strict=True)])

    return concat_ws


def _trim_kernel(chars_fn: str) -> Kernel:
    def kernel(types: list[str]) -> Callable[..., str]:
        method = getattr(str, chars_fn)
        return lambda s, chars=" ": method(s, chars)

    return kernel


def register() -> None:
    register_scalar(("substring", "substr"), (2, 3), fixed("string", STR, INTS), lambda types: _substr)
    register_scalar("concat", (0, 99), fixed("string"), _concat_kernel)
    register_scalar("concat_ws", (1, 99), fixed("string"), _concat_ws_kernel)
    register_scalar(("upper", "ucase"), (1, 1), fixed("string", STR), lambda t: lambda s: s.translate(_ASCII_UPPER))
    register_scalar(("lower", "lcase"), (1, 1), fixed("string", STR), lambda t: lambda s: s.translate(_ASCII_LOWER))
    register_scalar(
        ("char_length", "character_length", "length"), (1, 1), fixed("int32", STR), lambda types: _char_length
    )
    register_scalar("strcmp", (2, 2), fixed("int32", STR, STR), lambda types: _strcmp)
    register_scalar("replace", (2, 3), fixed("string", STR, STR, STR), lambda types: _replace)
    register_scalar("reverse", (1, 1), fixed("string", STR), lambda types: lambda s: s[::-1])
    # Not in OpenMLDB's list; provided with SQL's meaning (spaces only) for convenience.
    register_scalar("trim", (1, 2), fixed("string", STR, STR), _trim_kernel("strip"))
    register_scalar("ltrim", (1, 2), fixed("string", STR, STR), _trim_kernel("lstrip"))
    register_scalar("rtrim", (1, 2), fixed("string", STR, STR), _trim_kernel("rstrip"))
    register_scalar("char", (1, 1), fixed("string", INTS), lambda types: _int_to_char)
    register_scalar("hex", (1, 1), fixed("string", NUM | STR), _hex_kernel)
    register_scalar("unhex", (1, 1), fixed("string", STR), lambda types: _unhex)
    register_scalar("like_match", (2, 3), fixed("bool", STR, STR, STR), _like_kernel(False))
    register_scalar("ilike_match", (2, 3), fixed("bool", STR, STR, STR), _like_kernel(True))
    register_scalar("regexp_like", (2, 3), fixed("bool", STR, STR, STR), lambda types: _regexp_like)
