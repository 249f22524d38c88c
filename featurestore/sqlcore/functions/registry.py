"""The registry: ``Scalar`` and ``Aggregate``, the ``SCALARS``/``AGGREGATES`` tables and the result-type rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from featurestore.sqlcore.functions.base import (
    INT_TYPES,
    NULL_TYPE,
    NUMERIC_TYPES,
    FunctionError,
    _guess_column_type,
    guess_type,
)

Kernel = Callable[[list[str]], Callable[..., Any]]


@dataclass(frozen=True)
class Aggregate:
    """A window aggregate: ``compute`` folds one list per argument (values NEWEST FIRST) into one value."""

    name: str
    arity: tuple[int, int]
    result_type: Callable[[list[str]], str]
    compute: Callable[[list[list[Any]]], Any]
    kernel: Kernel | None = field(default=None, repr=False, compare=False)

    def bind(self, arg_types: list[str]) -> Aggregate:
        """This aggregate with ``compute`` specialised for ``arg_types`` (validates them, like result_type)."""
        self.result_type(arg_types)
        if self.kernel is None:
            return self
        return replace(self, compute=self.kernel(list(arg_types)))


@dataclass(frozen=True)
class Scalar:
    """A scalar function: ``compute`` maps one value per argument to one value."""

    name: str
    arity: tuple[int, int]
    result_type: Callable[[list[str]], str]
    compute: Callable[..., Any]
    kernel: Kernel | None = field(default=None, repr=False, compare=False)
    #: True: any NULL argument makes the result NULL, and the kernel's function never sees None.
    strict: bool = field(default=True, compare=False)
    #: False for functions whose result changes between calls (unix_timestamp('')): never constant-folded.
    deterministic: bool = field(default=True, compare=False)

    def bind(self, arg_types: list[str]) -> Callable[..., Any]:
        """The raw implementation specialised for ``arg_types`` (strict ones expect no None arguments)."""
        self.result_type(arg_types)
        assert self.kernel is not None  # noqa: S101 - every registered scalar has a kernel
        return self.kernel(list(arg_types))


AGGREGATES: dict[str, Aggregate] = {}
SCALARS: dict[str, Scalar] = {}


def aggregate(name: str) -> Aggregate:
    """The window aggregate called ``name`` (case-insensitive)."""
    try:
        return AGGREGATES[name.lower()]
    except KeyError:
        if name.lower() in SCALARS:
            raise FunctionError(f"{name}() is not an aggregate function and cannot be used over a window") from None
        raise FunctionError(f"unknown aggregate function {name}()") from None


def scalar(name: str) -> Scalar:
    """The scalar function called ``name`` (case-insensitive)."""
    try:
        return SCALARS[name.lower()]
    except KeyError:
        if name.lower() in AGGREGATES:
            raise FunctionError(f"aggregate function {name}() needs an OVER window") from None
        raise FunctionError(f"unknown function {name}()") from None


def _check_arity(name: str, arity: tuple[int, int], n: int) -> None:
    lo, hi = arity
    if not lo <= n <= hi:
        want = str(lo) if lo == hi else (f"at least {lo}" if hi >= 99 else f"{lo} to {hi}")
        raise FunctionError(f"{name}() takes {want} argument{'s' if want != '1' else ''}, got {n}")


def unsupported(name: str, types: list[str]) -> FunctionError:
    return FunctionError(f"{name}() does not support argument types ({', '.join(types)})")


def register_scalar(
    names: str | tuple[str, ...],
    arity: tuple[int, int],
    result_type: Callable[[str, list[str]], str],
    kernel: Kernel,
    *,
    strict: bool = True,
    deterministic: bool = True,
) -> None:
    for name in (names,) if isinstance(names, str) else names:

        def rt(types: list[str], _name: str = name) -> str:
            _check_arity(_name, arity, len(types))
            return result_type(_name, list(types))

        def compute(*args: Any, _rt: Callable[[list[str]], str] = rt) -> Any:
            if strict and any(a is None for a in args):
                return None
            types = [guess_type(a) for a in args]
            _rt(types)
            return kernel(types)(*args)

        SCALARS[name] = Scalar(name, arity, rt, compute, kernel, strict, deterministic)


def register_aggregate(
    names: str | tuple[str, ...],
    arity: tuple[int, int],
    result_type: Callable[[str, list[str]], str],
    kernel: Kernel,
) -> None:
    for name in (names,) if isinstance(names, str) else names:

        def rt(types: list[str], _name: str = name) -> str:
            _check_arity(_name, arity, len(types))
            return result_type(_name, list(types))

        def compute(cols: list[list[Any]], _rt: Callable[[list[str]], str] = rt) -> Any:
            # Generic entry point: argument types are guessed from the values (timestamps look like int64).
            types = [_guess_column_type(c) for c in cols]
            types = [("int64" if t == NULL_TYPE else t) for t in types]
            _rt(types)
            return kernel(types)(cols)

        AGGREGATES[name] = Aggregate(name, arity, rt, compute, kernel)


# Result-type rule builders ------------------------------------------------------------------------------


def accepts(*allowed: frozenset[str] | set[str] | None) -> Callable[[str, list[str]], None]:
    """Check each argument's type against a set (None: anything; NULL literals always fit)."""

    def check(name: str, types: list[str]) -> None:
        for i, t in enumerate(types):
            ok = allowed[min(i, len(allowed) - 1)]
            if ok is not None and t != NULL_TYPE and t not in ok:
                raise unsupported(name, types)

    return check


def fixed(out: str, *allowed: frozenset[str] | set[str] | None) -> Callable[[str, list[str]], str]:
    check = accepts(*allowed) if allowed else None

    def rt(name: str, types: list[str]) -> str:
        if check is not None:
            check(name, types)
        return out

    return rt


def same_as_first(*allowed: frozenset[str] | set[str] | None) -> Callable[[str, list[str]], str]:
    check = accepts(*allowed)

    def rt(name: str, types: list[str]) -> str:
        check(name, types)
        return types[0] if types[0] != NULL_TYPE else "double"

    return rt


NUM = NUMERIC_TYPES
NUM_OR_BOOL = NUMERIC_TYPES | {"bool"}
INTS = INT_TYPES
TIME = frozenset({"timestamp", "int64"})
TIME_OR_DATE = frozenset({"timestamp", "int64", "date"})
STR = frozenset({"string"})
ANY = None
