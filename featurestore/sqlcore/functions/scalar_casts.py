"""Scalar functions: casts (``int(x)``, ``timestamp(x)``...: a call named after a type is a cast)."""

from __future__ import annotations

from featurestore.sqlcore.functions.base import FunctionError
from featurestore.sqlcore.functions.formatting import cast_kernel
from featurestore.sqlcore.functions.registry import register_scalar, unsupported


def register() -> None:
    targets = {
        ("int", "int32"): "int32",
        ("bigint", "int64"): "int64",
        ("smallint", "int16"): "int16",
        ("float",): "float",
        ("double",): "double",
        ("string",): "string",
        ("bool",): "bool",
        ("date",): "date",
        ("timestamp",): "timestamp",
    }
    for names, dst in targets.items():

        def rt(name: str, types: list[str], _dst: str = dst) -> str:
            try:
                cast_kernel(types[0], _dst)
            except FunctionError:
                raise unsupported(name, types) from None
            return _dst

        register_scalar(names, (1, 1), rt, lambda types, _dst=dst: cast_kernel(types[0], _dst))
