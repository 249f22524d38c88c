"""Scalar functions: NULL handling and logic (ifnull, coalesce, nvl2, is_null, add, maximum...)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from featurestore.sqlcore.functions.base import _WRAPS, INT_TYPES, NULL_TYPE, FunctionError, promote, to_float32
from featurestore.sqlcore.functions.formatting import unify, widen_kernel
from featurestore.sqlcore.functions.registry import ANY, Kernel, fixed, register_scalar, same_as_first
from featurestore.sqlcore.functions.scalar_math import _arith_rt


def _if_null_rt(name: str, types: list[str]) -> str:
    try:
        out = unify(name, types)
    except FunctionError:
        raise FunctionError(f"{name}(): the default value must have the type of the input, got {types}") from None
    return "string" if out == NULL_TYPE else out


def _coalesce_kernel(types: list[str]) -> Callable[..., Any]:
    out = unify("coalesce", types)
    convs = [widen_kernel(t, out) for t in types]

    def coalesce(*args: Any) -> Any:
        for v, conv in zip(args, convs, strict=True):
            if v is not None:
                return conv(v) if conv is not None else v
        return None

    return coalesce


def _nvl2_rt(name: str, types: list[str]) -> str:
    return _if_null_rt(name, types[1:])


def _nvl2_kernel(types: list[str]) -> Callable[..., Any]:
    out = unify("nvl2", types[1:])
    c2, c3 = widen_kernel(types[1], out), widen_kernel(types[2], out)

    def nvl2(a: Any, b: Any, c: Any) -> Any:
        v, conv = (b, c2) if a is not None else (c, c3)
        return conv(v) if conv is not None and v is not None else v

    return nvl2


def _minmax2_kernel(pick_first: Callable[[Any, Any], bool]) -> Kernel:
    def kernel(types: list[str]) -> Callable[[Any, Any], Any]:
        out = unify("maximum", types)
        c1, c2 = widen_kernel(types[0], out), widen_kernel(types[1], out)

        def f(a: Any, b: Any) -> Any:
            if c1 is not None:
                a = c1(a)
            if c2 is not None:
                b = c2(b)
            return a if pick_first(a, b) else b

        return f

    return kernel


def register() -> None:
    register_scalar(("if_null", "ifnull", "nvl"), (2, 2), _if_null_rt, _coalesce_kernel, strict=False)
    register_scalar("coalesce", (1, 99), _if_null_rt, _coalesce_kernel, strict=False)
    register_scalar("nvl2", (3, 3), _nvl2_rt, _nvl2_kernel, strict=False)
    register_scalar(("is_null", "isnull"), (1, 1), fixed("bool"), lambda types: lambda v: v is None, strict=False)
    register_scalar("identity", (1, 1), same_as_first(ANY), lambda types: lambda v: v)
    register_scalar("add", (2, 2), _arith_rt, lambda types: _add_kernel(types))
    register_scalar("maximum", (2, 2), _if_null_rt, _minmax2_kernel(operator.gt))
    register_scalar("minimum", (2, 2), _if_null_rt, _minmax2_kernel(operator.lt))


def _add_kernel(types: list[str]) -> Callable[[Any, Any], Any]:
    out = promote(types[0], types[1])
    if out in INT_TYPES:
        wrap = _WRAPS[out]
        return lambda a, b: wrap(a + b)
    if out == "float":
        return lambda a, b: to_float32(a + b)
    return lambda a, b: float(a + b)
