"""Window aggregates: sums, counts, averages, extremes, the ``*_where`` variants, statistics and the ``*_cate`` family.

Arguments arrive NEWEST FIRST (row 0 is the current row); sums accumulate in that order, in the input type.
"""

from __future__ import annotations

import math
import operator
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import reduce
from typing import Any

from featurestore.sqlcore.functions.base import _WRAPS, CATE_KEY_TYPES, INT_TYPES, ORDERED_TYPES
from featurestore.sqlcore.functions.formatting import fmt_double, format_value
from featurestore.sqlcore.functions.registry import (
    ANY,
    INTS,
    NUM,
    Kernel,
    fixed,
    register_aggregate,
    same_as_first,
)

if sys.version_info < (3, 12):
    _plain_fsum: Callable[[Iterable[float]], float] = sum  # left-to-right, like the C accumulator
else:  # 3.12's sum() compensates float rounding, which hybridse does not

    def _plain_fsum(values: Iterable[float]) -> float:
        return reduce(operator.add, values, 0.0)


def _non_null(col: list[Any]) -> list[Any]:
    return col if None not in col else [v for v in col if v is not None]


def _sum_values(t: str) -> Callable[[list[Any]], Any]:
    """Sum non-empty non-NULL values in list order, in type ``t`` (C accumulator semantics)."""
    if t in INT_TYPES or t == "timestamp":
        wrap = _WRAPS[t]
        return lambda vals: wrap(sum(vals))
    if t == "float":

        def f32sum(vals: list[float]) -> float:
            # A one-slot C float array: every store rounds to float32, exactly like hybridse's float accumulator
            # (a double sum of two float32 values rounded once equals the float32 sum).
            acc = array("f", (0.0,))
            for v in vals:
                acc[0] += v
            return acc[0]

        return f32sum
    return _plain_fsum


def _agg_sum(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    add = _sum_values(types[0])

    def agg(cols: list[list[Any]]) -> Any:
        vals = _non_null(cols[0])
        return add(vals) if vals else None

    return agg


def _agg_count(types: list[str]) -> Callable[[list[list[Any]]], int]:
    def agg(cols: list[list[Any]]) -> int:
        col = cols[0]
        return len(col) - col.count(None) if None in col else len(col)

    return agg


def _agg_avg(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> float | None:
        vals = _non_null(cols[0])
        if not vals:
            return None
        return _plain_fsum(map(float, vals)) / len(vals)

    return agg


def _agg_extreme(fn: Callable[[list[Any]], Any]) -> Kernel:
    def kernel(types: list[str]) -> Callable[[list[list[Any]]], Any]:
        def agg(cols: list[list[Any]]) -> Any:
            vals = _non_null(cols[0])
            return fn(vals) if vals else None

        return agg

    return kernel


def _where_rows(cols: list[list[Any]]) -> list[Any]:
    # Rows whose condition is TRUE (NULL conditions do not match) and whose value is not NULL.
    return [v for v, c in zip(cols[0], cols[1], strict=False) if c is True and v is not None]


def _agg_where(kernel_of_values: Callable[[list[str]], Callable[[list[Any]], Any]], empty: Any = None) -> Kernel:
    def kernel(types: list[str]) -> Callable[[list[list[Any]]], Any]:
        fold = kernel_of_values(types)

        def agg(cols: list[list[Any]]) -> Any:
            vals = _where_rows(cols)
            return fold(vals) if vals else empty

        return agg

    return kernel


def _agg_distinct_count(types: list[str]) -> Callable[[list[list[Any]]], int]:
    def agg(cols: list[list[Any]]) -> int:
        s = set(cols[0])
        s.discard(None)
        return len(s)

    return agg


def _agg_top1_ratio(types: list[str]) -> Callable[[list[list[Any]]], float]:
    def agg(cols: list[list[Any]]) -> float:
        vals = _non_null(cols[0])
        if not vals:
            return 0.0  # upstream returns 0 (not NULL) when there is no non-NULL value
        return max(Counter(vals).values()) / len(vals)

    return agg


_MAX_TOPN = 1024  # hybridse FZTopNFrequency::MAXIMUM_TOPN


def _first_int(col: list[Any]) -> int | None:
    """The value of a constant per-row argument (n of topn_frequency...): the newest row's."""
    return col[0] if col else None


def _agg_topn_frequency(types: list[str]) -> Callable[[list[list[Any]]], str]:
    fmt = format_value(types[0])

    def agg(cols: list[list[Any]]) -> str:
        if not cols[0]:
            return ""  # no update ever ran, so upstream's top_n stays 0
        n = _first_int(cols[1]) or 0
        if n == 0:
            return ""
        # n is read into a size_t upstream: a negative n becomes huge and is capped like any large n.
        n = _MAX_TOPN if n < 0 or n > _MAX_TOPN else n
        counts = Counter(_non_null(cols[0]))
        # Most frequent first; equal counts: the smaller key first.
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        keys = [fmt(k) for k, _ in ranked]
        keys.extend(["NULL"] * (n - len(keys)))
        return ",".join(keys)

    return agg


def _agg_first_value(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    # OpenMLDB < 0.9 (and the udfs doc this follows): first_value is the LATEST row's value, NULL included.
    return lambda cols: cols[0][0] if cols[0] else None


def _agg_lag(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> Any:
        col = cols[0]
        if not col:
            return None
        n = cols[1][0]
        if n is None:
            return None
        if n < 0:  # hybridse AtList: a negative position counts from the window start (oldest row)
            n += len(col)
            if n < 0:
                return None
        return col[n] if n < len(col) else None

    return agg


def _agg_median(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> float | None:
        vals = sorted(_non_null(cols[0]))
        n = len(vals)
        if n == 0:
            return None
        mid = n // 2
        if n % 2:
            return float(vals[mid])
        return (vals[mid - 1] + vals[mid]) / 2.0

    return agg


def _agg_ew_avg(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> float | None:
        vals = _non_null(cols[0])
        if not vals:
            return None
        alpha = _first_int(cols[1])
        if not alpha:  # NULL or 0: plain average
            return _plain_fsum(map(float, vals)) / len(vals)
        # pandas ewm(alpha, adjust=True, ignore_na=True).mean()[-1], fed in chronological order (oldest first).
        factor = 1.0 - alpha
        it = reversed(vals)
        weighted = float(next(it))
        old_wt = 1.0
        for cur in it:
            old_wt *= factor
            if weighted != cur:
                weighted = (old_wt * weighted + cur) / (old_wt + 1.0)
            old_wt += 1.0
        return weighted

    return agg


def _agg_drawdown(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> float | None:
        peak = None
        worst = 0.0
        seen = False
        for v in reversed(cols[0]):  # chronological order
            if v is None or v < 0:  # negative values are ignored
                continue
            seen = True
            if peak is None or v > peak:
                peak = v
            elif peak > 0:
                dd = (peak - v) / peak
                if dd > worst:
                    worst = dd
        return float(worst) if seen else None

    return agg


def _agg_std(kind: str) -> Kernel:
    def kernel(types: list[str]) -> Callable[[list[list[Any]]], Any]:
        def agg(cols: list[list[Any]]) -> float | None:
            vals = _non_null(cols[0])
            n = len(vals)
            if n == 0:
                return None
            fvals = [float(v) for v in vals]
            avg = _plain_fsum(fvals) / n
            total = _plain_fsum([(x - avg) ** 2 for x in fvals])
            if kind in ("samp_std", "samp_var"):
                if n <= 1:
                    return None
                total /= n - 1
            else:
                total /= n
            return math.sqrt(total) if kind.endswith("std") else total

        return agg

    return kernel


def _agg_entropy(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> float | None:
        vals = _non_null(cols[0])
        if not vals:
            return None
        n = float(len(vals))
        out = 0.0
        for c in Counter(vals).values():
            p = c / n
            out -= p * math.log2(p)
        return out

    return agg


def _agg_top(types: list[str]) -> Callable[[list[list[Any]]], str]:
    fmt = format_value(types[0])

    def agg(cols: list[list[Any]]) -> str:
        vals = _non_null(cols[0])
        k = _first_int(cols[1]) if cols[1] else 0
        if not vals or not k or k <= 0:
            return ""
        return ",".join(fmt(v) for v in sorted(vals, reverse=True)[:k])

    return agg


def _agg_nth_value_where(types: list[str]) -> Callable[[list[list[Any]]], Any]:
    def agg(cols: list[list[Any]]) -> Any:
        values, idx_col, conds = cols
        if not values:
            return None
        idx = idx_col[0]
        if not idx:
            return None
        matched = [v for v, c in zip(values, conds, strict=False) if c is True]  # newest first
        if idx > 0:  # counted from the window start (oldest row)
            return matched[-idx] if idx <= len(matched) else None
        return matched[-idx - 1] if -idx <= len(matched) else None

    return agg


# *_cate family -------------------------------------------------------------------------------------------

_MAX_OUTPUT_STR = 4096  # hybridse BoundedGroupByDict::MAX_OUTPUT_STR_SIZE


def _join_kv(pairs: list[tuple[str, str]]) -> str:
    """'k:v' entries joined by ',', stopping before the output would exceed hybridse's 4096-byte cap."""
    total = 0
    parts = []
    for k, v in pairs:
        total += len(k) + len(v) + 2
        if total > _MAX_OUTPUT_STR:
            break
        parts.append(f"{k}:{v}")
    return ",".join(parts)


@dataclass(frozen=True)
class _CateOp:
    """How one category's values are folded and printed."""

    fold: Callable[[list[Any]], Any]  # values of one category, newest first -> state
    sort_key: Callable[[Any], Any]  # state -> comparable value (top_n_value ordering)
    show: Callable[[Any], str]  # state -> text


def _cate_op(op: str, value_type: str) -> _CateOp:
    if op == "count":
        return _CateOp(len, lambda s: s, str)
    if op == "avg":

        def avg(vals: list[Any]) -> float:
            return _plain_fsum(map(float, vals)) / len(vals)

        return _CateOp(avg, lambda s: s, fmt_double)
    if op == "ratio":  # state: (matching count, total count)
        return _CateOp(lambda s: s, lambda s: s[0] / s[1], lambda s: fmt_double(s[0] / s[1]))
    fmt = format_value(value_type)
    fold = {"sum": _sum_values(value_type), "min": min, "max": max}[op]
    return _CateOp(fold, lambda s: s, fmt)


def _cate_kernel(op: str, *, where: bool, top: str | None) -> Kernel:
    """count/sum/avg/min/max _cate, _cate_where, top_n_key_*_cate_where and top_n_value_*_cate_where."""

    def kernel(types: list[str]) -> Callable[[list[list[Any]]], str]:
        key_type = types[2] if where else types[1]
        fmt_key = format_value(key_type)
        cop = _cate_op(op, types[0])

        def agg(cols: list[list[Any]]) -> str:
            values = cols[0]
            keys = cols[2] if where else cols[1]
            groups: dict[Any, list[Any]] = {}
            if op == "ratio":
                ratio: dict[Any, list[int]] = {}
                for v, c, k in zip(values, cols[1], keys, strict=False):
                    if k is None or v is None:
                        continue
                    st = ratio.setdefault(k, [0, 0])
                    st[1] += 1
                    if c is True:
                        st[0] += 1
                states = {k: (s[0], s[1]) for k, s in ratio.items()}
            else:
                if where:
                    rows = zip(values, cols[1], keys, strict=False)
                    for v, c, k in rows:
                        if c is True and v is not None and k is not None:
                            groups.setdefault(k, []).append(v)
                else:
                    for v, k in zip(values, keys, strict=False):
                        if v is not None and k is not None:
                            groups.setdefault(k, []).append(v)
                states = {k: cop.fold(vs) for k, vs in groups.items()}
            if not states:
                return ""  # upstream outputs an empty string, not NULL
            if top is None:
                ordered = sorted(states.items())
            else:
                n = _first_int(cols[3])
                n = -1 if n is None else n
                if top == "key":  # the n largest keys, largest first
                    ordered = sorted(states.items(), reverse=True)
                else:  # the n largest aggregates; ties: the larger key first
                    ordered = sorted(states.items(), key=lambda kv: (cop.sort_key(kv[1]), kv[0]), reverse=True)
                if n >= 0:
                    ordered = ordered[:n]
            return _join_kv([(fmt_key(k), cop.show(s)) for k, s in ordered])

        return agg

    return kernel


def _cate_rt(value_types: frozenset[str] | None, *, where: bool, top: bool) -> Callable[[str, list[str]], str]:
    layout: list[frozenset[str] | set[str] | None] = [value_types]
    if where:
        layout.append({"bool"})
    layout.append(CATE_KEY_TYPES)
    if top:
        layout.append(INT_TYPES)
    return fixed("string", *layout)


def register() -> None:
    register_aggregate("sum", (1, 1), same_as_first(NUM | {"timestamp"}), _agg_sum)
    register_aggregate("count", (1, 1), fixed("int64"), _agg_count)
    register_aggregate("avg", (1, 1), fixed("double", NUM), _agg_avg)
    register_aggregate("min", (1, 1), same_as_first(ORDERED_TYPES), _agg_extreme(min))
    register_aggregate("max", (1, 1), same_as_first(ORDERED_TYPES), _agg_extreme(max))
    register_aggregate("count_where", (2, 2), fixed("int64", ANY, {"bool"}), _agg_where(lambda t: len, 0))
    register_aggregate("sum_where", (2, 2), same_as_first(NUM, {"bool"}), _agg_where(lambda t: _sum_values(t[0])))
    register_aggregate(
        "avg_where",
        (2, 2),
        fixed("double", NUM, {"bool"}),
        _agg_where(lambda t: lambda vals: _plain_fsum(map(float, vals)) / len(vals)),
    )
    register_aggregate("min_where", (2, 2), same_as_first(NUM, {"bool"}), _agg_where(lambda t: min))
    register_aggregate("max_where", (2, 2), same_as_first(NUM, {"bool"}), _agg_where(lambda t: max))
    register_aggregate("distinct_count", (1, 1), fixed("int64"), _agg_distinct_count)
    register_aggregate("top1_ratio", (1, 1), fixed("double", ORDERED_TYPES), _agg_top1_ratio)
    register_aggregate("topn_frequency", (2, 2), fixed("string", ORDERED_TYPES, INTS), _agg_topn_frequency)
    register_aggregate(("first_value", "last_value"), (1, 1), same_as_first(ANY), _agg_first_value)
    register_aggregate(("lag", "at"), (2, 2), same_as_first(ANY, INTS), _agg_lag)
    register_aggregate("median", (1, 1), fixed("double", NUM), _agg_median)
    register_aggregate("ew_avg", (2, 2), fixed("double", NUM, NUM), _agg_ew_avg)
    register_aggregate("drawdown", (1, 1), fixed("double", NUM), _agg_drawdown)
    register_aggregate(("stddev", "std", "stddev_samp"), (1, 1), fixed("double", NUM), _agg_std("samp_std"))
    register_aggregate("stddev_pop", (1, 1), fixed("double", NUM), _agg_std("pop_std"))
    register_aggregate(("var_samp", "variance"), (1, 1), fixed("double", NUM), _agg_std("samp_var"))
    register_aggregate("var_pop", (1, 1), fixed("double", NUM), _agg_std("pop_var"))
    register_aggregate("entropy", (1, 1), fixed("double"), _agg_entropy)
    register_aggregate("top", (2, 2), fixed("string", ORDERED_TYPES, INTS), _agg_top)
    register_aggregate("nth_value_where", (3, 3), same_as_first(ANY, INTS, {"bool"}), _agg_nth_value_where)
    for op in ("count", "sum", "avg", "min", "max"):
        values = None if op == "count" else NUM
        register_aggregate(
            f"{op}_cate", (2, 2), _cate_rt(values, where=False, top=False), _cate_kernel(op, where=False, top=None)
        )
        register_aggregate(
            f"{op}_cate_where", (3, 3), _cate_rt(values, where=True, top=False), _cate_kernel(op, where=True, top=None)
        )
        for top in ("key", "value"):
            register_aggregate(
                f"top_n_{top}_{op}_cate_where",
                (4, 4),
                _cate_rt(values, where=True, top=True),
                _cate_kernel(op, where=True, top=top),
            )
    for top in ("key", "value"):
        register_aggregate(
            f"top_n_{top}_ratio_cate",
            (4, 4),
            _cate_rt(None, where=True, top=True),
            _cate_kernel("ratio", where=True, top=top),
        )
