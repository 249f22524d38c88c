"""OpenMLDB's built-in SQL functions: scalar functions and window aggregates, with upstream semantics.

A deployed SELECT computes its features per request: every ``agg(x) OVER w`` sees the values of ``x`` on the
window's rows and folds them into one value; every scalar call maps one row's values to one value. This module
is the function library behind both, re-implemented from OpenMLDB's documentation (``udfs_8h.md``) and its
hybridse sources (``default_udf_library.cc``, ``udf.cc``, ``containers.h`` and the ``*_by_category_def.cc``
files), so that outputs and output types match what an OpenMLDB APIServer returns.

Values follow the engine's representation: bool -> ``bool``; int16/int32/int64 -> ``int``; float/double ->
``float`` (a ``float`` value is already rounded to float32); string -> ``str``; date -> ``datetime.date``;
timestamp -> ``int`` milliseconds since the epoch; NULL -> ``None``.

Each function is registered with a *kernel factory*: given the argument types it returns a raw implementation
specialised for them (integer wrap-around width, float32 rounding, how a timestamp key is printed...). The
expression compiler binds kernels once at compile time so nothing dispatches on types per row.
``Scalar.compute`` / ``Aggregate.compute`` are the generic, type-guessing entry points; ``Aggregate.bind``
returns an ``Aggregate`` whose ``compute`` is specialised for known argument types.

Upstream conventions worth knowing:

* aggregates skip NULL values; an empty (or all-NULL) window gives NULL, except ``count`` (0), ``top1_ratio``
  (0.0) and the string-valued aggregates (``*_cate*``, ``topn_frequency``, ``top``), which give ``""``.
* aggregate arguments arrive NEWEST FIRST (row 0 is the current row); sums accumulate in that order, in the
  input type, exactly like hybridse's update loop.
* timestamps are broken into dates and times in a fixed UTC+8 zone (hybridse's ``TZ = 8``).
* doubles inside string results (``avg_cate``, ratios, double keys) are printed with ``%f`` (six decimals);
  ``string(x)`` of a float/double uses C++ stream formatting (``%g``, six significant digits).

The library is split along its families (each module is one section of what used to be one file):

* ``base``: ``FunctionError`` and the type helpers shared with the expression compiler;
* ``timeparts``: timestamps broken down in UTC+8; ``formatting``: value printing, ``CAST`` and widening;
* ``registry``: ``Scalar``, ``Aggregate``, the ``SCALARS``/``AGGREGATES`` tables and the result-type rules;
* ``scalar_math``, ``scalar_logic``, ``scalar_strings``, ``scalar_time``, ``scalar_casts``: scalar functions;
* ``aggregates``: window aggregates, the ``*_cate`` family included.

Importing the package fills the registry, family by family in that order (a later registration of a name wins).
"""

from __future__ import annotations

from featurestore.sqlcore.functions import (
    aggregates,
    scalar_casts,
    scalar_logic,
    scalar_math,
    scalar_strings,
    scalar_time,
)
from featurestore.sqlcore.functions.base import (
    FLOAT_TYPES,
    INT_TYPES,
    NULL_TYPE,
    NUMERIC_TYPES,
    FunctionError,
    guess_type,
    is_numeric,
    promote,
    to_float32,
    wrap_int,
)
from featurestore.sqlcore.functions.formatting import cast_kernel, fmt_double, format_value, unify, widen_kernel
from featurestore.sqlcore.functions.registry import AGGREGATES, SCALARS, Aggregate, Scalar, aggregate, scalar
from featurestore.sqlcore.functions.scalar_math import mod_kernel
from featurestore.sqlcore.functions.scalar_strings import like_match, like_regex
from featurestore.sqlcore.functions.timeparts import date_to_ts, ts_to_date, ts_to_datetime
from featurestore.sqlcore.sqlir import TYPES

__all__ = [
    "AGGREGATES",
    "FLOAT_TYPES",
    "INT_TYPES",
    "NULL_TYPE",
    "NUMERIC_TYPES",
    "SCALARS",
    "TYPES",
    "Aggregate",
    "FunctionError",
    "Scalar",
    "aggregate",
    "cast_kernel",
    "date_to_ts",
    "fmt_double",
    "format_value",
    "guess_type",
    "is_numeric",
    "like_match",
    "like_regex",
    "mod_kernel",
    "promote",
    "scalar",
    "to_float32",
    "ts_to_date",
    "ts_to_datetime",
    "unify",
    "widen_kernel",
    "wrap_int",
]

for _family in (scalar_math, scalar_logic, scalar_strings, scalar_time, scalar_casts, aggregates):
    _family.register()
