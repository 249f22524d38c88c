"""OpenMLDB built-in functions: expected values come from OpenMLDB's udfs documentation and hybridse sources.

Aggregate inputs are lists NEWEST FIRST (row 0 is the current row). The documentation's example tables list
rows oldest first, so they appear reversed here where the order matters.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from featurestore.sqlcore import functions as F
from featurestore.sqlcore.functions import FunctionError, aggregate, scalar, to_float32

TS = 1590115420000  # 2020-05-22 10:43:40 in UTC+8 (a Friday)


def agg(name: str, *cols: list, types: list[str] | None = None):
    """Run an aggregate, bound to explicit argument types when given."""
    a = aggregate(name)
    if types is not None:
        a = a.bind(types)
    return a.compute([list(c) for c in cols])


def call(name: str, types: list[str], *args):
    """Run a scalar bound to explicit argument types (NULL handling as the expression compiler does)."""
    s = scalar(name)
    if s.strict and any(a is None for a in args):
        return None
    return s.bind(types)(*args)


# --- registry -------------------------------------------------------------------------------------------


def test_lookup_is_case_insensitive_and_aliases_resolve():
    assert aggregate("SUM").name == "sum"
    assert scalar("Substr").name == "substr"
    assert aggregate("std").result_type(["int32"]) == "double"
    assert scalar("ifnull").result_type(["int32", "int32"]) == "int32"


def test_unknown_function_wrong_arity_and_unsupported_types_raise():
    with pytest.raises(FunctionError, match="no_such_fn"):
        aggregate("no_such_fn")
    with pytest.raises(FunctionError, match="no_such_fn"):
        scalar("no_such_fn")
    with pytest.raises(FunctionError, match="topn_frequency"):
        aggregate("topn_frequency").result_type(["string"])
    with pytest.raises(FunctionError, match="sum"):
        aggregate("sum").result_type(["string"])
    with pytest.raises(FunctionError, match="hour"):
        scalar("hour").result_type(["string"])
    with pytest.raises(FunctionError, match="over a window"):
        aggregate("substr")
    with pytest.raises(FunctionError, match="OVER"):
        scalar("sum")


# --- basic aggregates -----------------------------------------------------------------------------------


def test_sum_count_avg_min_max_doc_examples():
    values = [4, 3, 2, 1, 0]
    assert agg("sum", values) == 10
    assert agg("count", values) == 5
    assert agg("avg", values) == 2.0
    assert agg("min", values) == 0
    assert agg("max", values) == 4


def test_aggregates_skip_nulls_and_empty_windows_give_null_except_count():
    assert agg("sum", [1, None, 2]) == 3
    assert agg("avg", [None, 1, 2]) == 1.5
    assert agg("count", [None, 1, None]) == 1
    assert agg("count", [1, 1, 1]) == 3  # count(*) gets one constant per row
    for name in ("sum", "avg", "min", "max", "median", "stddev", "var_pop", "drawdown", "ew_avg"):
        cols = [[None, None]] + ([[0.5, 0.5]] if name == "ew_avg" else [])
        assert agg(name, *cols, types=["int32"] + (["double"] if name == "ew_avg" else [])) is None, name
    assert agg("count", [], types=["int32"]) == 0
    assert agg("sum", [], types=["int32"]) is None


def test_output_types():
    rt = {name: aggregate(name).result_type for name in F.AGGREGATES}
    assert rt["count"](["string"]) == "int64"
    assert rt["count_where"](["string", "bool"]) == "int64"
    assert rt["distinct_count"](["date"]) == "int64"
    for name in ("avg", "median", "stddev", "stddev_pop", "var_samp", "var_pop", "drawdown", "top1_ratio"):
        assert rt[name](["int32"]) == "double", name
    assert rt["avg_where"](["int16", "bool"]) == "double"
    assert rt["ew_avg"](["int64", "double"]) == "double"
    for t in ("int16", "int32", "int64", "float", "double"):
        assert rt["sum"]([t]) == t
        assert rt["sum_where"]([t, "bool"]) == t
        assert rt["min_where"]([t, "bool"]) == t
    assert rt["sum"](["timestamp"]) == "timestamp"
    for t in ("string", "date", "timestamp"):
        assert rt["min"]([t]) == t
        assert rt["max"]([t]) == t
    for t in ("bool", "string", "date", "timestamp", "float"):
        assert rt["lag"]([t, "int32"]) == t
        assert rt["at"]([t, "int64"]) == t
        assert rt["first_value"]([t]) == t
    assert rt["topn_frequency"](["string", "int32"]) == "string"
    assert rt["count_cate"](["int32", "string"]) == "string"
    assert rt["top_n_value_avg_cate_where"](["double", "bool", "date", "int64"]) == "string"


def test_min_max_on_strings_dates_timestamps():
    assert agg("min", ["b", "a", None, "c"]) == "a"
    assert agg("max", [dt.date(2020, 1, 2), dt.date(2021, 1, 1)]) == dt.date(2021, 1, 1)
    assert agg("max", [TS, TS + 1], types=["timestamp"]) == TS + 1


def test_sum_keeps_the_input_type_with_c_wrap_around_and_float32_accumulation():
    assert agg("sum", [2147483647, 1], types=["int32"]) == -2147483648
    assert agg("sum", [2147483647, 1], types=["int64"]) == 2147483648
    assert agg("sum", [32767, 1], types=["int16"]) == -32768
    a, b = to_float32(1.1), to_float32(2.2)
    assert agg("sum", [a, b], types=["float"]) == to_float32(to_float32(a) + b)
    assert agg("sum", [1.5, 2.25], types=["double"]) == 3.75


def test_where_aggregates_doc_examples():
    values = [4, 3, 2, 1, 0]
    gt2 = [v > 2 for v in values]
    assert agg("count_where", values, gt2) == 2
    assert agg("sum_where", values, gt2) == 7
    assert agg("avg_where", values, gt2) == 3.5
    assert agg("min_where", values, gt2) == 3
    assert agg("max_where", values, [v <= 2 for v in values]) == 2
    # NULL conditions do not match, NULL values are skipped, no matching row gives NULL (count: 0).
    assert agg("sum_where", [1, None, 5], [None, True, True]) == 5
    assert agg("avg_where", [1, 2], [False, False]) is None
    assert agg("count_where", [1, 2], [False, None]) == 0


def test_distinct_count_and_top1_ratio():
    assert agg("distinct_count", [4, 2, 2, 0, 0]) == 3
    assert agg("distinct_count", [None, 1, None]) == 1
    # Doc: keys 1, 2, NULL in arrival order; the ratio at each row over the growing window.
    assert agg("top1_ratio", [1]) == 1.0
    assert agg("top1_ratio", [2, 1]) == 0.5
    assert agg("top1_ratio", [None, 2, 1]) == 0.5
    assert agg("top1_ratio", [None], types=["int32"]) == 0.0  # no non-NULL value: 0, not NULL


def test_topn_frequency_orders_by_count_then_smaller_key_and_pads_with_null():
    assert agg("topn_frequency", [3, 1, 2, 3, 1, 1], [2] * 6) == "1,3"
    # Ties: the smaller key first.
    assert agg("topn_frequency", ["b", "a", "c", "b", "a"], [3] * 5) == "a,b,c"
    # Fewer distinct keys than n: padded with NULL.
    assert agg("topn_frequency", [5, 5, None], [4] * 3) == "5,NULL,NULL,NULL"
    assert agg("topn_frequency", [1, 2], [0, 0]) == ""
    # Doubles print with %f, timestamps in UTC+8.
    assert agg("topn_frequency", [1.5, 1.5], [1, 1], types=["double", "int32"]) == "1.500000"
    assert agg("topn_frequency", [TS], [1], types=["timestamp", "int32"]) == "2020-05-22 10:43:40"


def test_first_value_lag_and_at_count_from_the_newest_row():
    window = [30, 20, 10]  # current row 30, then older rows
    assert agg("first_value", window) == 30
    assert agg("first_value", [None, 20]) is None  # the newest row's value, even when NULL
    assert agg("lag", window, [0] * 3) == 30
    assert agg("lag", window, [1] * 3) == 20
    assert agg("at", window, [2] * 3) == 10
    assert agg("lag", window, [3] * 3) is None  # past the window start
    # Doc example, partition c2=2 with c1 = 2, 3, 4: lag(c1, 1) is NULL, 2, 3.
    assert agg("lag", [2], [1]) is None
    assert agg("lag", [3, 2], [1, 1]) == 2
    assert agg("lag", [4, 3, 2], [1, 1, 1]) == 3


def test_nth_value_where_doc_example():
    # Doc: col1 1..4 with cond true, false, NULL, true; nth_value_where(col1, 2, cond) is 4 at the last row.
    assert agg("nth_value_where", [4, 3, 2, 1], [2] * 4, [True, None, False, True]) == 4
    assert agg("nth_value_where", [3, 2, 1], [2] * 3, [None, False, True]) is None
    assert agg("nth_value_where", [4, 3, 2, 1], [-1] * 4, [True, None, False, True]) == 4
    assert agg("nth_value_where", [4, 3, 2, 1], [-2] * 4, [True, None, False, True]) == 1


def test_median_doc_example():
    assert agg("median", [4, 3, 2, 1]) == 2.5
    assert agg("median", [5, None, 1, 3]) == 3.0


def test_ew_avg_follows_pandas_on_the_chronological_order():
    # Doc: values 0..4 (oldest first), alpha 0.5 -> 3.161290
    assert round(agg("ew_avg", [4, 3, 2, 1, 0], [0.5] * 5), 6) == 3.161290
    # NULLs are skipped (ignore_na=True): same as without them.
    assert agg("ew_avg", [4, None, 3, 2, 1, 0], [0.5] * 6) == agg("ew_avg", [4, 3, 2, 1, 0], [0.5] * 5)
    # The newest value weighs most: reversing the history changes the result.
    assert round(agg("ew_avg", [0, 1, 2, 3, 4], [0.5] * 5), 6) == round(4 - 3.161290322580645, 6)
    # alpha NULL or 0 falls back to the plain average.
    assert agg("ew_avg", [4, 3, 2, 1, 0], [0.0] * 5) == 2.0
    assert agg("ew_avg", [4, 3, 2, 1, 0], [None] * 5, types=["int32", "double"]) == 2.0


def test_drawdown_doc_example_uses_chronological_order_and_ignores_negatives():
    # Doc: 1, 8, 5, 2, 10, 4 (oldest first) -> 0.75, the decline from 8 to 2.
    assert agg("drawdown", [4, 10, 2, 5, 8, 1]) == 0.75
    assert agg("drawdown", [1, 8, 2, 8]) == 0.875  # newest first: the history is 8, 2, 8, 1 -> (8 - 1) / 8
    assert agg("drawdown", [4, 10, -5, 2, 5, 8, 1]) == 0.75
    assert agg("drawdown", [3, 2, 1]) == 0.0  # only rising: no drawdown
    # hybridse udaf_test.cc vectors (listed oldest first there, so reversed here).
    for history, expected in [
        ([1], 0.0),
        ([1, 8], 0.0),
        ([1, 0.0], 1.0),
        ([0.0, 0.0], 0.0),
        ([10, 1, 0.0, 20, 20, 10], 1.0),
        ([10, 4, 5, 20, 50, 10], 0.8),
        ([-1, 2, -2, 1], 0.5),
        ([1, 8, 5, 2, None, 10, 4], 0.75),
    ]:
        assert agg("drawdown", list(reversed(history)), types=["double"]) == expected, history
    assert agg("drawdown", [-1, -2, -1], types=["double"]) is None  # nothing but negatives


def test_stddev_and_variance_doc_examples():
    assert round(agg("stddev", [4, 3, 2, 1]), 6) == 1.290994
    assert round(agg("std", [4, 3, 2, 1]), 6) == 1.290994
    assert round(agg("stddev_samp", [4, 3, 2, 1]), 6) == 1.290994
    assert round(agg("stddev_pop", [4, 3, 2, 1]), 6) == 1.118034
    assert agg("var_pop", [6, 3, 0]) == 6.0
    assert agg("var_samp", [6, 3, 0]) == 9.0
    assert agg("variance", [6, 3, 0]) == 9.0
    assert agg("stddev", [5]) is None  # sample statistics need two values
    assert agg("var_pop", [5]) == 0.0


def test_entropy_and_top():
    assert agg("entropy", [3, 2, 1, 1]) == 1.5
    assert agg("top", [4, 4, 3, 2, 1], [3] * 5) == "4,4,3"
    assert agg("top", [1.5, 2.5], [5, 5], types=["double", "int32"]) == "2.500000,1.500000"


# --- *_cate family (doc examples) --------------------------------------------------------------------------

CATE_VALUES = [4, 3, 2, 1, 0]  # doc rows 0..4, newest first
CATE_KEYS = ["x", "y", "x", "y", "x"]
CATE_CONDS = [True, True, False, False, True]  # doc: true, false, false, true, true (oldest first)


def test_cate_functions_sort_keys_ascending():
    assert agg("count_cate", CATE_VALUES, CATE_KEYS) == "x:3,y:2"
    assert agg("sum_cate", CATE_VALUES, CATE_KEYS) == "x:6,y:4"
    assert agg("min_cate", CATE_VALUES, CATE_KEYS) == "x:0,y:1"
    assert agg("max_cate", CATE_VALUES, CATE_KEYS) == "x:4,y:3"
    # Averages are doubles, printed with %f like hybridse's format_string (the doc abbreviates to "x:2,y:2").
    assert agg("avg_cate", CATE_VALUES, CATE_KEYS) == "x:2.000000,y:2.000000"


def test_cate_where_functions():
    assert agg("count_cate_where", CATE_VALUES, CATE_CONDS, CATE_KEYS) == "x:2,y:1"
    assert agg("sum_cate_where", CATE_VALUES, CATE_CONDS, CATE_KEYS) == "x:4,y:3"
    assert agg("max_cate_where", CATE_VALUES, CATE_CONDS, CATE_KEYS) == "x:4,y:3"
    assert agg("avg_cate_where", CATE_VALUES, CATE_CONDS, CATE_KEYS) == "x:2.000000,y:3.000000"
    # Doc min_cate_where example: rows (0,T,x) (1,F,y) (2,F,x) (1,T,y) (4,T,x) (3,T,y).
    rows = [(3, True, "y"), (4, True, "x"), (1, True, "y"), (2, False, "x"), (1, False, "y"), (0, True, "x")]
    assert agg("min_cate_where", *map(list, zip(*rows, strict=True))) == "x:0,y:1"


def _doc_rows(rows: list[tuple]) -> list[list]:
    """Doc rows (oldest first) -> per-argument lists newest first, with n = 2 appended."""
    rows = list(reversed(rows))
    cols = [list(c) for c in zip(*rows, strict=True)]
    return [*cols, [2] * len(rows)]


def test_top_n_key_cate_where_keeps_the_largest_keys_descending():
    rows = [
        (0, True, "x"),
        (1, True, "y"),
        (2, False, "x"),
        (3, True, "y"),
        (4, False, "x"),
        (5, True, "z"),
        (6, True, "z"),
    ]
    assert agg("top_n_key_count_cate_where", *_doc_rows(rows)) == "z:2,y:2"
    assert agg("top_n_key_sum_cate_where", *_doc_rows(rows)) == "z:11,y:4"
    assert agg("top_n_key_min_cate_where", *_doc_rows(rows)) == "z:5,y:1"
    rows = [
        (0, True, "x"),
        (1, False, "y"),
        (2, False, "x"),
        (3, True, "y"),
        (4, True, "x"),
        (5, True, "z"),
        (6, False, "z"),
    ]
    assert agg("top_n_key_max_cate_where", *_doc_rows(rows)) == "z:5,y:3"
    assert agg("top_n_key_avg_cate_where", *_doc_rows(rows)) == "z:5.000000,y:3.000000"


def test_top_n_value_cate_where_orders_by_value_descending():
    rows = [
        (0, True, "x"),
        (1, True, "y"),
        (2, True, "x"),
        (3, False, "y"),
        (4, True, "x"),
        (5, True, "z"),
        (6, True, "z"),
    ]
    # The doc prints "x:3,y:2", but its own table gives y a single matching row; z's two rows rank second.
    assert agg("top_n_value_count_cate_where", *_doc_rows(rows)) == "x:3,z:2"
    rows = [
        (0, True, "x"),
        (1, True, "y"),
        (2, False, "x"),
        (3, False, "y"),
        (4, True, "x"),
        (5, True, "z"),
        (6, True, "z"),
    ]
    assert agg("top_n_value_sum_cate_where", *_doc_rows(rows)) == "z:11,x:4"
    rows = [
        (0, True, "x"),
        (1, False, "y"),
        (2, False, "x"),
        (3, True, "y"),
        (4, True, "x"),
        (5, True, "z"),
        (6, False, "z"),
    ]
    assert agg("top_n_value_max_cate_where", *_doc_rows(rows)) == "z:5,x:4"
    rows = [
        (0, True, "x"),
        (1, False, "y"),
        (2, False, "x"),
        (3, False, "y"),
        (4, True, "x"),
        (5, True, "z"),
        (6, False, "z"),
    ]
    # The doc prints "z:5,x:4", but x's matching rows are 0 and 4: their average is 2.
    assert agg("top_n_value_avg_cate_where", *_doc_rows(rows)) == "z:5.000000,x:2.000000"
    rows = [
        (0, True, "x"),
        (1, True, "y"),
        (2, True, "x"),
        (3, True, "y"),
        (4, False, "x"),
        (5, True, "z"),
        (6, True, "z"),
    ]
    # The doc prints "z:5,x:2", but x's matching rows are 0 and 2 (min 0) and y's are 1 and 3 (min 1).
    assert agg("top_n_value_min_cate_where", *_doc_rows(rows)) == "z:5,y:1"


# hybridse's udaf_test.cc vectors (these aggregates do not depend on row order).
UT_VALUES = [1, 2, 3, 4, 5, 6, 7, 8, 9]
UT_KEYS = [0, 1, 2, 0, 1, 2, 0, 1, 2]
UT_NULL_VALUES = [1, 2, 3, 4, 5, 6, None]
UT_NULL_CONDS = [False, None, True, True, True, True, True]
UT_NULL_KEYS = ["x", "y", "z", "x", "y", None, "x"]


@pytest.mark.parametrize(
    ("name", "conds", "expected", "expected_with_nulls"),
    [
        ("top_n_key_count_cate_where", [True] * 6 + [False] * 3, "2:2,1:2", "z:1,y:1"),
        ("top_n_key_sum_cate_where", [True] * 6 + [False] * 3, "2:9,1:7", "z:3,y:5"),
        ("top_n_key_min_cate_where", [True] * 6 + [False] * 3, "2:3,1:2", "z:3,y:5"),
        ("top_n_key_max_cate_where", [True] * 6 + [False] * 3, "2:6,1:5", "z:3,y:5"),
        ("top_n_key_avg_cate_where", [True] * 6 + [False] * 3, "2:4.500000,1:3.500000", "z:3.000000,y:5.000000"),
        ("top_n_value_max_cate_where", [True] * 7 + [False] * 2, "0:7,2:6", "y:5,x:4"),
        ("top_n_value_min_cate_where", [True] * 7 + [False] * 2, "2:3,1:2", "y:5,x:4"),
        ("top_n_value_sum_cate_where", [True] * 7 + [False] * 2, "0:12,2:9", "y:5,x:4"),
        ("top_n_value_avg_cate_where", [True] * 7 + [False] * 2, "2:4.500000,0:4.000000", "y:5.000000,x:4.000000"),
    ],
)
def test_top_n_cate_where_matches_hybridse_unit_tests(name, conds, expected, expected_with_nulls):
    assert agg(name, UT_VALUES, conds, UT_KEYS, [2] * 9) == expected
    assert agg(name, UT_NULL_VALUES, UT_NULL_CONDS, UT_NULL_KEYS, [2] * 7) == expected_with_nulls
    assert agg(name, [], [], [], [], types=["int32", "bool", "int32", "int32"]) == ""


def test_top_n_value_count_ties_prefer_the_larger_key():
    values = [1, 2, 3, 4, 5, 6, None, 7]
    conds = [False, None, True, True, True, True, True, True]
    keys = ["x", "y", "z", "x", "y", None, "x", "y"]
    assert agg("top_n_value_count_cate_where", values, conds, keys, [2] * 8) == "y:2,z:1"


def test_ratio_cate_doc_examples():
    rows = [
        (0, True, "x"),
        (2, True, "x"),
        (4, True, "x"),
        (1, True, "y"),
        (3, False, "y"),
        (5, True, "z"),
        (6, True, "z"),
    ]
    assert agg("top_n_key_ratio_cate", *_doc_rows(rows)) == "z:1.000000,y:0.500000"
    # Equal ratios: the larger key first.
    assert agg("top_n_value_ratio_cate", *_doc_rows(rows)) == "z:1.000000,x:1.000000"


def test_cate_formatting_of_keys_and_empty_windows():
    assert agg("count_cate", [1, 2, 3], [TS, TS, None], types=["int32", "timestamp"]) == "2020-05-22 10:43:40:2"
    assert agg("sum_cate", [1.5, 2.0], [7, 7], types=["double", "int32"]) == "7:3.500000"
    assert agg("count_cate", [], [], types=["int32", "string"]) == ""
    assert agg("count_cate_where", [1], [False], ["x"]) == ""
    # n < 0 keeps every key.
    assert agg("top_n_key_count_cate_where", [1, 2, 3], [True] * 3, ["a", "b", "c"], [-1] * 3) == "c:1,b:1,a:1"


# --- scalar functions -------------------------------------------------------------------------------------


def test_date_parts_use_a_fixed_utc8_zone():
    assert scalar("hour").compute(1590777000000) == 2  # 2020-05-29 18:30 UTC is 02:30 the next day in UTC+8
    assert call("hour", ["timestamp"], TS) == 10
    assert call("minute", ["timestamp"], TS) == 43
    assert call("second", ["timestamp"], TS) == 40
    assert call("year", ["timestamp"], TS) == 2020
    assert call("month", ["timestamp"], TS) == 5
    assert call("day", ["timestamp"], TS) == 22
    assert call("dayofmonth", ["timestamp"], TS) == 22
    assert call("dayofweek", ["timestamp"], TS) == 6
    assert call("dayofyear", ["timestamp"], TS) == 143
    assert call("dayofyear", ["int64"], TS) == 143
    assert call("weekofyear", ["timestamp"], TS) == 21
    assert call("week", ["timestamp"], TS) == 21
    # 2020-05-21 16:00:00 UTC is already 2020-05-22 in UTC+8.
    assert call("day", ["timestamp"], 1590076800000) == 22
    assert call("hour", ["timestamp"], 1590076800000) == 0


def test_dayofweek_sunday_is_one_and_dates_use_the_date():
    assert call("dayofweek", ["date"], dt.date(2020, 5, 24)) == 1  # Sunday
    assert call("dayofweek", ["date"], dt.date(2020, 5, 23)) == 7  # Saturday
    assert call("dayofyear", ["date"], dt.date(2020, 5, 22)) == 143
    assert call("year", ["date"], dt.date(1999, 12, 31)) == 1999


def test_date_and_timestamp_conversions():
    assert call("date", ["timestamp"], TS) == dt.date(2020, 5, 22)
    assert call("date", ["string"], "2020-05-22") == dt.date(2020, 5, 22)
    assert call("date", ["string"], "20200522") == dt.date(2020, 5, 22)
    assert call("date", ["string"], "2020-05-32") is None
    assert call("timestamp", ["string"], "2020-05-22") == 1590076800000
    assert call("timestamp", ["string"], "2020-05-22 10:43:40") == TS
    assert call("timestamp", ["int64"], TS) == TS
    assert call("timestamp", ["date"], dt.date(2020, 5, 22)) == 1590076800000
    assert call("timestamp", ["string"], "not a time") is None
    assert call("date_format", ["timestamp", "string"], TS, "%Y-%m-%d %H:%M:%S") == "2020-05-22 10:43:40"
    assert call("date_format", ["date", "string"], dt.date(2020, 5, 22), "%Y-%m-%d") == "2020-05-22"
    assert call("unix_timestamp", ["string"], "2020-05-22 10:43:40") == 1590115420
    assert call("datediff", ["string", "string"], "2021-05-10", "2021-05-01") == 9
    assert call("datediff", ["date", "date"], dt.date(2021, 4, 10), dt.date(2021, 5, 1)) == -21
    assert call("last_day", ["date"], dt.date(2020, 2, 12)) == dt.date(2020, 2, 29)
    assert call("add_months", ["date", "int32"], dt.date(2016, 8, 31), 1) == dt.date(2016, 9, 30)


def test_casts():
    assert call("int", ["string"], "12") == 12
    assert call("int32", ["string"], " -7 ") == -7
    assert call("int", ["string"], "0x1F") == 31
    assert call("int", ["string"], "12abc") is None
    assert call("int", ["string"], "99999999999") is None  # out of int32 range
    assert call("bigint", ["string"], "1590115420000") == 1590115420000
    assert call("smallint", ["string"], "40000") is None
    assert call("int", ["double"], -1.9) == -1  # C truncation
    assert call("int16", ["int32"], 70000) == 4464  # C wrap-around
    assert call("float", ["string"], "1.23") == to_float32(1.23)
    assert call("double", ["string"], "1.23") == 1.23
    assert call("double", ["string"], "1.23x") is None
    assert call("bool", ["string"], "true") is True
    assert call("bool", ["string"], "N") is False
    assert call("bool", ["string"], "maybe") is None
    assert call("bool", ["int32"], 3) is True


def test_string_conversion_formats():
    assert call("string", ["bool"], True) == "true"
    assert call("string", ["int64"], 123) == "123"
    assert call("string", ["double"], 1.23) == "1.23"
    assert call("string", ["double"], 1.0 / 3) == "0.333333"  # C++ stream: 6 significant digits
    assert call("string", ["double"], 1e20) == "1e+20"
    assert call("string", ["float"], to_float32(1.1)) == "1.1"
    assert call("string", ["date"], dt.date(2021, 5, 2)) == "2021-05-02"
    assert call("string", ["timestamp"], TS) == "2020-05-22 10:43:40"
    for name in ("int", "bigint", "smallint", "float", "double", "string", "bool", "date", "timestamp"):
        assert scalar(name).result_type(["string"]) == F.SCALARS[name].result_type(["string"])
    assert scalar("int").result_type(["string"]) == "int32"
    assert scalar("bigint").result_type(["string"]) == "int64"
    assert scalar("smallint").result_type(["string"]) == "int16"
    with pytest.raises(FunctionError):
        scalar("date").result_type(["double"])


def test_string_functions():
    assert call("substr", ["string", "int32", "int32"], "hello world", 3, 6) == "llo wo"
    assert call("substring", ["string", "int32"], "hello world", 2) == "ello world"
    assert call("substr", ["string", "int32"], "hello world", -5) == "world"
    assert call("substr", ["string", "int32", "int32"], "hello", 0, 2) == ""
    assert call("substr", ["string", "int32", "int32"], "hello", 2, 0) == ""
    assert call("substr", ["string", "int32"], "hello", 9) == ""
    types = ["string", "int32", "int32", "int32", "double", "double", "timestamp"]
    assert call("concat", types, "1", 2, 3, 4, 5.6, 7.8, TS) == "12345.67.82020-05-22 10:43:40"
    assert call("concat", ["string", "string"], "a", None) is None
    assert (
        call("concat_ws", ["string", *types], "-", "1", 2, 3, 4, 5.6, 7.8, TS) == "1-2-3-4-5.6-7.8-2020-05-22 10:43:40"
    )
    assert call("upper", ["string"], "Sql é") == "SQL é"  # ASCII only, like hybridse
    assert call("lcase", ["string"], "SQl") == "sql"
    assert call("char_length", ["string"], "Spark SQL ") == 10
    assert call("strcmp", ["string", "string"], "text", "text1") == -1
    assert call("strcmp", ["string", "string"], "text1", "text") == 1
    assert call("strcmp", ["string", "string"], "text", "text") == 0
    assert call("replace", ["string", "string"], "ABCabc", "abc") == "ABC"
    assert call("replace", ["string", "string", "string"], "ABCabc", "abc", "ABC") == "ABCABC"
    assert call("reverse", ["string"], "abc") == "cba"
    assert call("char", ["int32"], 65) == "A"
    assert call("hex", ["string"], "Spark SQL") == "537061726B2053514C"
    assert call("unhex", ["string"], "537061726B2053514C") == "Spark SQL"
    assert call("unhex", ["string"], "zfk") is None
    assert call("trim", ["string"], "  a b  ") == "a b"


def test_like_match_rules():
    assert call("like_match", ["string", "string", "string"], "Mike", "Mi_e", "\\") is True
    assert call("like_match", ["string", "string", "string"], "Mike", "Mi\\_e", "\\") is False
    assert call("like_match", ["string", "string", "string"], "Mi_e", "Mi\\_e", "\\") is True
    assert call("like_match", ["string", "string", "string"], "Mi\\ke", "Mi\\_e", "") is True  # escape disabled
    assert call("like_match", ["string", "string"], "Mike", "mi_e") is False
    assert call("ilike_match", ["string", "string"], "Mike", "mi_e") is True
    assert call("like_match", ["string", "string"], "abc", "%") is True
    assert call("like_match", ["string", "string"], "abc", "abc\\") is False  # dangling escape never matches
    assert call("regexp_like", ["string", "string"], "append", "ap*end") is True


def test_null_handling_functions():
    assert call("ifnull", ["string", "string"], "hello", "default") == "hello"
    assert call("if_null", ["string", "string"], None, "default") == "default"
    assert call("nvl", ["int32", "int32"], None, 3) == 3
    assert call("nvl2", ["int32", "int32", "int32"], None, 2, 1) == 1
    assert call("nvl2", ["int32", "int32", "int32"], 0, 2, 1) == 2
    assert call("isnull", ["int32"], None) is True
    assert call("is_null", ["int32"], 0) is False
    assert scalar("ifnull").result_type(["int32", "double"]) == "double"
    assert call("ifnull", ["int32", "double"], 3, 1.5) == 3.0
    with pytest.raises(FunctionError, match="ifnull"):
        scalar("ifnull").result_type(["string", "int32"])


def test_math_functions_and_types():
    assert call("abs", ["int32"], -32) == 32
    assert scalar("abs").result_type(["int16"]) == "int32"
    assert scalar("abs").result_type(["int64"]) == "int64"
    assert call("ceil", ["double"], 1.23) == 2.0
    assert scalar("ceil").result_type(["int32"]) == "int64"
    assert call("floor", ["double"], 1.23) == 1.0
    assert call("floor", ["double"], -1.23) == -2.0
    assert call("pow", ["int32", "int32"], 2, 10) == 1024.0
    assert scalar("pow").result_type(["int32", "int32"]) == "double"
    assert scalar("pow").result_type(["float", "float"]) == "float"
    assert math.isclose(call("log", ["int32", "int32"], 10, 100), 2.0)
    assert call("log", ["int32"], 1) == 0.0
    assert call("log2", ["int32"], 65536) == 16.0
    assert call("log10", ["int32"], 100) == 2.0
    assert call("ln", ["double"], 0.0) == -math.inf  # C log(0), no exception
    assert call("exp", ["int32"], 0) == 1.0
    assert call("sqrt", ["int32"], 100) == 10.0
    assert call("round", ["double"], 1.23) == 1.0
    assert call("round", ["double", "int32"], 1.23, 1) == 1.2
    assert call("round", ["int32", "int32"], 123, -1) == 120
    assert scalar("round").result_type(["int32", "int32"]) == "int32"
    assert call("round", ["double"], 2.5) == 3.0  # HALF_UP
    assert call("round", ["double"], -2.5) == -3.0
    assert call("truncate", ["double"], 1.23) == 1.0
    assert call("truncate", ["double"], -1.7) == -1.0
    assert call("cot", ["int32"], 1) == pytest.approx(0.6420926159343306)
    assert call("mod", ["int32", "int32"], -7, 3) == -1
    assert call("mod", ["int32", "int32"], 7, 0) is None
    assert call("pmod", ["int32", "int32"], -10, 3) == 2
    assert call("pmod", ["int32", "int32"], 10, -3) == 1
    assert call("pmod", ["int32", "int32"], -10, 0) is None
    assert call("sin", ["int32"], 0) == 0.0
    assert scalar("sin").result_type(["float"]) == "float"
