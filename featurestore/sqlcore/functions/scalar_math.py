"""Scalar functions: math (abs, round, log, pow, mod, trigonometry...)."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from featurestore.sqlcore.functions.base import (
    _WRAPS,
    INT_TYPES,
    NULL_TYPE,
    FunctionError,
    _wrap32,
    _wrap64,
    promote,
    to_float32,
)
from featurestore.sqlcore.functions.registry import (
    NUM,
    NUM_OR_BOOL,
    Kernel,
    accepts,
    fixed,
    register_scalar,
    same_as_first,
    unsupported,
)


def _math_rt(float_out: str | None, int_out: str, double_out: str = "double") -> Callable[[str, list[str]], str]:
    """Result type of hybridse's math externals: ints -> int_out, float -> float_out, double -> double_out."""

    def rt(name: str, types: list[str]) -> str:
        t = types[0]
        if t not in NUM_OR_BOOL and t != NULL_TYPE:
            raise unsupported(name, types)
        if t in INT_TYPES:
            return int_out
        if t == "float" and float_out is not None:
            return float_out
        return double_out

    return rt


def _float_result_kernel(fn: Callable[[float], float]) -> Kernel:
    """Kernel for double-valued C math: float arguments use the float32 variant (result rounded)."""

    def kernel(types: list[str]) -> Callable[..., Any]:
        def guarded(*args: float) -> float | None:
            try:
                return fn(*args)
            except (ValueError, OverflowError, ZeroDivisionError):
                return _c_math_error(fn, *args)

        if types and all(t == "float" for t in types):
            return lambda *a: None if (r := guarded(*a)) is None else to_float32(r)
        return guarded

    return kernel


def _c_math_error(fn: Callable[..., float], *args: float) -> float | None:
    """C libm returns inf/nan where Python raises; mimic the common cases so results stay numeric."""
    if fn in (math.log, math.log2, math.log10):
        x = args[0]
        return -math.inf if x == 0 else math.nan
    if fn is math.sqrt or fn in (math.acos, math.asin):
        return math.nan
    if fn is math.exp:
        return math.inf
    if fn is math.pow:
        return math.inf if abs(args[0]) > 1 or args[0] == 0 else math.nan
    return None


def _abs_kernel(types: list[str]) -> Callable[[Any], Any]:
    t = types[0]
    if t in ("int16", "int32"):
        return lambda v: _wrap32(abs(v))
    if t == "int64":
        return lambda v: _wrap64(abs(v))
    return lambda v: abs(float(v))


def _round_half_up_int(x: float) -> float:
    # C round(): halfway cases away from zero.
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def _round_kernel(types: list[str]) -> Callable[..., Any]:
    t = types[0]
    wrap = _WRAPS.get("int32" if t in ("int16", "int32", "bool") else t)
    if t in INT_TYPES or t == "bool":

        def round_int(v: int, d: int = 0) -> int:
            if d >= 0:
                return wrap(int(v))
            step = 10 ** (-d)
            q, r = divmod(abs(v), step)
            q += 1 if 2 * r >= step else 0  # HALF_UP
            return wrap(q * step if v >= 0 else -q * step)

        return round_int

    def round_float(v: float, d: int = 0) -> float:
        if v != v or v in (math.inf, -math.inf):
            return v
        if d == 0:
            return float(_round_half_up_int(v))
        # HALF_UP on the shortest decimal representation (like Java's BigDecimal.valueOf), so 1.005 -> 1.01.
        try:
            return float(Decimal(repr(v)).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP))
        except InvalidOperation:
            return v

    return round_float


def _truncate_kernel(types: list[str]) -> Callable[[Any], Any]:
    if types[0] in INT_TYPES or types[0] == "bool":
        return int
    return lambda v: float(math.trunc(v)) if v == v and v not in (math.inf, -math.inf) else v


def _ceil_floor_kernel(fn: Callable[[float], int]) -> Kernel:
    def kernel(types: list[str]) -> Callable[[Any], Any]:
        if types[0] in INT_TYPES:
            return lambda v: v  # hybridse casts the integer to int64: ceil of an integer is itself
        return lambda v: float(fn(v)) if v == v and v not in (math.inf, -math.inf) else v

    return kernel


def _pow_rt(name: str, types: list[str]) -> str:
    accepts(NUM_OR_BOOL, NUM_OR_BOOL)(name, types)
    return "float" if types[0] == "float" and types[1] == "float" else "double"


def _log_rt(name: str, types: list[str]) -> str:
    accepts(NUM_OR_BOOL, NUM_OR_BOOL)(name, types)
    if len(types) == 2:
        return "double"
    return "float" if types[0] == "float" else "double"


def _log_kernel(types: list[str]) -> Callable[..., Any]:
    if len(types) == 2:
        ln = _float_result_kernel(math.log)(["double"])

        # log(base, x) = ln(x) / ln(base), computed in double (hybridse's expression udf).
        def log2args(base: float, x: float) -> float | None:
            lx, lb = ln(x), ln(base)
            if lx is None or lb is None:
                return None
            if lb == 0:
                return math.copysign(math.inf, lx) if lx else math.nan
            return lx / lb

        return log2args
    return _float_result_kernel(math.log)(types)


def mod_kernel(types: list[str]) -> Callable[[Any, Any], Any]:
    out = promote(types[0], types[1])
    if out in INT_TYPES:
        wrap = _WRAPS[out]

        def imod(a: int, b: int) -> int | None:
            if b == 0:
                return None
            r = abs(a) % abs(b)  # C remainder: the sign follows the dividend
            return wrap(-r if a < 0 else r)

        return imod

    def fmod(a: float, b: float) -> float | None:
        if b == 0:
            return None
        r = math.fmod(a, b)
        return to_float32(r) if out == "float" else r

    return fmod


def _pmod_kernel(types: list[str]) -> Callable[[Any, Any], Any]:
    mod = mod_kernel(types)

    def pmod(a: Any, b: Any) -> Any:
        r = mod(a, b)
        if r is None:
            return None
        if r < 0:
            r = mod(r + b, b)
        return r

    return pmod


def _intlike_rt(name: str, types: list[str]) -> str:
    """abs/round/truncate: int16/int32 -> int32 (hybridse's *32 variants), int64 -> int64, others -> double."""
    t = types[0]
    if t not in NUM_OR_BOOL and t != NULL_TYPE:
        raise unsupported(name, types)
    if len(types) > 1 and types[1] not in INT_TYPES and types[1] != NULL_TYPE:
        raise unsupported(name, types)
    return {"int16": "int32", "int32": "int32", "int64": "int64"}.get(t, "double")


def _atan_rt(name: str, types: list[str]) -> str:
    return _pow_rt(name, types) if len(types) == 2 else _math_rt("float", "double")(name, types)


def _atan_kernel(types: list[str]) -> Callable[..., Any]:
    return _float_result_kernel(math.atan2 if len(types) == 2 else math.atan)(types)


def _cot(x: float) -> float:
    return math.cos(x) / math.sin(x)


def _inc_kernel(types: list[str]) -> Callable[[Any], Any]:
    t = types[0]
    if t in INT_TYPES:
        wrap = _WRAPS[t]
        return lambda v: wrap(v + 1)
    if t == "float":
        return lambda v: to_float32(v + 1.0)
    return lambda v: v + 1.0


def register() -> None:
    register_scalar("abs", (1, 1), _intlike_rt, _abs_kernel)
    for names, fn in ((("ceil", "ceiling"), math.ceil), (("floor",), math.floor)):
        register_scalar(names, (1, 1), _math_rt("double", "int64"), _ceil_floor_kernel(fn))
    register_scalar("exp", (1, 1), _math_rt("float", "double"), _float_result_kernel(math.exp))
    register_scalar("sqrt", (1, 1), _math_rt("float", "double"), _float_result_kernel(math.sqrt))
    register_scalar("ln", (1, 1), _math_rt("float", "double"), _float_result_kernel(math.log))
    register_scalar("log", (1, 2), _log_rt, _log_kernel)
    register_scalar("log2", (1, 1), _math_rt("float", "double"), _float_result_kernel(math.log2))
    register_scalar("log10", (1, 1), _math_rt("float", "double"), _float_result_kernel(math.log10))
    register_scalar(("pow", "power"), (2, 2), _pow_rt, _float_result_kernel(math.pow))
    register_scalar("round", (1, 2), _intlike_rt, _round_kernel)
    register_scalar("truncate", (1, 1), _intlike_rt, _truncate_kernel)
    for name, fn in (
        ("sin", math.sin),
        ("cos", math.cos),
        ("tan", math.tan),
        ("asin", math.asin),
        ("acos", math.acos),
        ("cot", _cot),
    ):
        register_scalar(name, (1, 1), _math_rt("float", "double"), _float_result_kernel(fn))
    register_scalar("atan", (1, 2), _atan_rt, _atan_kernel)  # atan(y, x) is atan2
    register_scalar("atan2", (2, 2), _pow_rt, _float_result_kernel(math.atan2))
    register_scalar("degrees", (1, 1), fixed("double", NUM_OR_BOOL), lambda types: math.degrees)
    register_scalar("radians", (1, 1), fixed("double", NUM_OR_BOOL), lambda types: math.radians)
    register_scalar("mod", (2, 2), _arith_rt, mod_kernel)  # same as the % operator
    register_scalar("pmod", (2, 2), _arith_rt, _pmod_kernel)
    register_scalar("inc", (1, 1), same_as_first(NUM), _inc_kernel)


def _arith_rt(name: str, types: list[str]) -> str:
    try:
        return promote(types[0], types[1])
    except FunctionError:
        raise unsupported(name, types) from None
