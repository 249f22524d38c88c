"""Expression compiler: sqlglot trees -> per-row closures with OpenMLDB types, NULL semantics and output names."""

from __future__ import annotations

import datetime as dt
import operator

import pytest
import sqlglot
from sqlglot import exp

from featurestore.sqlcore.expressions import (
    Compiled,
    ExpressionError,
    compile_aggregate_args,
    compile_expression,
    literal_value,
)
from featurestore.sqlcore.functions import to_float32

TS = 1590115420000  # 2020-05-22 10:43:40 UTC+8

COLUMNS = {
    "a": "int32",
    "b": "int32",
    "big": "int64",
    "small": "int16",
    "f": "float",
    "d": "double",
    "s": "string",
    "t": "timestamp",
    "day": "date",
    "flag": "bool",
    "trx_amt": "float",
    "card_no": "string",
}
ROW = {
    "a": 5,
    "b": 3,
    "big": 10,
    "small": 2,
    "f": to_float32(1.5),
    "d": 2.25,
    "s": "hello",
    "t": TS,
    "day": dt.date(2020, 5, 22),
    "flag": True,
    "trx_amt": to_float32(1.1),
    "card_no": "aaaaaaaaaa",
}
NULL_ROW = dict.fromkeys(ROW)


class DictScope:
    """Rows are dicts; ``t.col`` and ``col`` resolve to the same column; window calls return a canned value."""

    def __init__(self) -> None:
        self.window_calls: list[exp.Window] = []

    def column(self, table, name):
        if table not in (None, "t1") or name not in COLUMNS:
            raise ExpressionError(f"unknown column {table + '.' if table else ''}{name}")
        return operator.itemgetter(name), COLUMNS[name]

    def window_call(self, node):
        self.window_calls.append(node)
        return (lambda row: 42.0), "double"


def parse(sql: str) -> exp.Expression:
    return sqlglot.parse_one(f"SELECT {sql}").expressions[0]


def compile_(sql: str) -> Compiled:
    return compile_expression(parse(sql), DictScope())


def ev(sql: str, row: dict | None = None):
    return compile_(sql).fn(ROW if row is None else row)


def typ(sql: str) -> str:
    return compile_(sql).type


# --- leaves and literals ----------------------------------------------------------------------------------


def test_columns_resolve_through_the_scope_with_or_without_qualifier():
    c = compile_("t1.a")
    assert (c.fn(ROW), c.type, c.name) == (5, "int32", "a")
    with pytest.raises(ExpressionError, match="nope"):
        compile_("nope + 1")


def test_literal_types():
    assert literal_value(parse("1")) == (1, "int32")
    assert literal_value(parse("2147483648")) == (2147483648, "int64")
    assert literal_value(parse("-2147483648")) == (-2147483648, "int32")
    assert literal_value(parse("-5")) == (-5, "int32")
    assert literal_value(parse("1.5")) == (1.5, "double")
    assert literal_value(parse("'x'")) == ("x", "string")
    assert literal_value(parse("true")) == (True, "bool")
    assert literal_value(parse("NULL")) == (None, "null")
    assert literal_value(parse("timestamp('2020-05-22 10:43:40')")) == (TS, "timestamp")
    assert literal_value(parse("date('2020-05-22')")) == (dt.date(2020, 5, 22), "date")
    assert literal_value(parse("CAST('2020-05-22' AS date)")) == (dt.date(2020, 5, 22), "date")
    assert literal_value(parse("1 + 2 * 3")) == (7, "int32")
    with pytest.raises(ExpressionError, match="a"):
        literal_value(parse("a + 1"))


# --- arithmetic --------------------------------------------------------------------------------------------


def test_arithmetic_promotes_types():
    assert (ev("a + b"), typ("a + b")) == (8, "int32")
    assert typ("small + a") == "int32"
    assert (ev("a + big"), typ("a + big")) == (15, "int64")
    assert (ev("a * f"), typ("a * f")) == (7.5, "float")
    assert (ev("f + d"), typ("f + d")) == (3.75, "double")
    assert (ev("a - 1.5"), typ("a - 1.5")) == (3.5, "double")
    assert typ("flag + 1") == "int32"


def test_integer_overflow_wraps_like_c():
    assert ev("2147483647 + 1") == -2147483648
    assert ev("a * 1000000000") == 705032704  # 5e9 wrapped to int32
    assert ev("big * 1000000000000000000") == -8446744073709551616  # 1e19 wrapped to int64
    assert ev("-(-2147483647 - 1)") == -2147483648


def test_float_results_are_float32():
    assert ev("trx_amt + trx_amt") == to_float32(to_float32(1.1) * 2)
    assert ev("trx_amt * 3") == to_float32(to_float32(1.1) * 3)


def test_division_modulo_and_integer_division():
    assert (ev("a / b"), typ("a / b")) == (5 / 3, "double")
    assert typ("a / 2") == "double"
    assert ev("a / 0") is None
    assert ev("d / 0.0") is None
    assert (ev("a DIV b"), typ("a DIV b")) == (1, "int32")
    assert ev("-7 DIV 2") == -3  # truncates toward zero
    assert ev("-7 % 3") == -1  # the sign follows the dividend
    assert ev("7 % -3") == 1
    assert ev("a % 0") is None
    assert ev("d % 2") == 0.25


def test_timestamps_behave_as_int64_milliseconds():
    assert (ev("t + 1000"), typ("t + 1000")) == (TS + 1000, "timestamp")
    assert (ev("t - t"), typ("t - t")) == (0, "int64")
    with pytest.raises(ExpressionError, match="string"):
        compile_("s + 1")


def test_null_propagates_through_arithmetic_and_comparisons():
    for sql in ("a + b", "a * 2", "-a", "a / b", "a % b", "a DIV b", "a > 1", "a = b", "a + b * 2 > 10"):
        assert ev(sql, NULL_ROW) is None, sql
    assert ev("a + NULL") is None
    assert typ("a + NULL") == "int32"


# --- comparisons and logic -----------------------------------------------------------------------------


def test_comparisons():
    assert ev("a + b * 2 > 10") is True
    assert ev("a = 5") is True
    assert ev("a != 5") is False
    assert ev("a <> 4") is True
    assert ev("a >= 5") is True
    assert ev("a < 5.5") is True
    assert ev("s = 'hello'") is True
    assert ev("day = '2020-05-22'") is True  # the string literal is read as a date
    assert ev("t > '2020-05-22 00:00:00'") is True
    assert ev("t = timestamp('2020-05-22 10:43:40')") is True
    assert typ("a > 1") == "bool"


THREE_VALUED = [
    (True, True, True, True),
    (True, False, False, True),
    (True, None, None, True),
    (False, False, False, False),
    (False, None, False, None),
    (None, None, None, None),
]


@pytest.mark.parametrize(("x", "y", "and_", "or_"), THREE_VALUED)
def test_three_valued_and_or(x, y, and_, or_):
    cols = {"x": "bool", "y": "bool"}

    class Scope(DictScope):
        def column(self, table, name):
            return operator.itemgetter(name), cols[name]

    for left, right in ((x, y), (y, x)):
        row = {"x": left, "y": right}
        assert compile_expression(parse("x AND y"), Scope()).fn(row) is and_
        assert compile_expression(parse("x OR y"), Scope()).fn(row) is or_


def test_not_and_is_null():
    assert ev("NOT flag") is False
    assert ev("NOT flag", NULL_ROW) is None
    assert ev("a IS NULL") is False
    assert ev("a IS NULL", NULL_ROW) is True
    assert ev("a IS NOT NULL", NULL_ROW) is False
    assert ev("flag IS TRUE") is True
    assert ev("flag IS TRUE", NULL_ROW) is False
    assert ev("isnull(a)", NULL_ROW) is True


def test_like_ilike_and_escapes():
    assert ev("s LIKE 'he%'") is True
    assert ev("s LIKE 'h_llo'") is True
    assert ev("s LIKE 'h_lo'") is False
    assert ev("s LIKE 'HE%'") is False
    assert ev("s ILIKE 'HE%'") is True
    assert ev("s NOT LIKE 'x%'") is True
    # (sqlglot's default dialect keeps backslashes verbatim: the pattern below is a, backslash, %, b.)
    assert ev("'a%b' LIKE 'a\\%b'") is True  # the backslash escapes the %
    assert ev("'axb' LIKE 'a\\%b'") is False
    assert ev("'axb' LIKE 'a%b'") is True
    assert ev("'a%b' LIKE 'a#%b' ESCAPE '#'") is True
    assert ev("s LIKE 'he%'", NULL_ROW) is None
    assert ev("s LIKE NULL") is None
    assert ev("s LIKE s") is True  # non-constant pattern


def test_in_and_between():
    assert ev("a IN (1, 5)") is True
    assert ev("a IN (1, 2)") is False
    assert ev("a IN (1, NULL)") is None  # not found, and the list holds a NULL
    assert ev("a IN (5, NULL)") is True
    assert ev("a IN (1, 2)", NULL_ROW) is None
    assert ev("a NOT IN (1, 2)") is True
    assert ev("a IN (b, 5)") is True
    assert ev("s IN ('x', 'hello')") is True
    assert ev("a BETWEEN 1 AND 5") is True
    assert ev("a BETWEEN 6 AND 9") is False
    assert ev("a NOT BETWEEN 6 AND 9") is True
    assert ev("a BETWEEN 1 AND NULL") is None


def test_case_if_and_coalesce():
    assert ev("CASE WHEN a > 3 THEN 'big' ELSE 'small' END") == "big"
    assert ev("CASE WHEN a > 9 THEN 'big' END") is None
    assert ev("CASE WHEN a > 9 THEN 'big' WHEN a > 4 THEN 'mid' ELSE 'small' END") == "mid"
    assert ev("CASE WHEN a > 3 THEN 'big' ELSE 'small' END", NULL_ROW) == "small"  # NULL condition: not taken
    assert ev("CASE a WHEN 5 THEN 'five' WHEN 6 THEN 'six' END") == "five"
    c = compile_("CASE a WHEN 5 THEN 1 ELSE 2.5 END")
    assert (c.fn(ROW), c.type) == (1.0, "double")
    assert ev("if(a > 1, 'y', 'n')") == "y"
    assert ev("ifnull(a, 0)", NULL_ROW) == 0
    assert ev("coalesce(a, b, 7)", NULL_ROW) == 7
    assert ev("nvl2(a, 1, 2)", NULL_ROW) == 2


def test_casts():
    assert (ev("CAST(a AS string)"), typ("CAST(a AS string)")) == ("5", "string")
    assert (ev("CAST('12' AS int)"), typ("CAST('12' AS int)")) == (12, "int32")
    assert ev("CAST('x' AS int)") is None
    assert (ev("CAST(1.9 AS bigint)"), typ("CAST(1.9 AS bigint)")) == (1, "int64")
    assert ev("CAST(70000 AS smallint)") == 4464
    assert ev("CAST(t AS date)") == dt.date(2020, 5, 22)
    assert ev("CAST(day AS timestamp)") == 1590076800000
    assert ev("CAST(flag AS string)") == "true"
    assert ev("CAST(d AS float)") == to_float32(2.25)
    assert ev("string(day)") == "2020-05-22"
    assert ev("int('12')") == 12
    assert ev("bigint('1590115420000')") == 1590115420000
    with pytest.raises(ExpressionError, match="date"):
        compile_("CAST(day AS double)")


# --- function calls --------------------------------------------------------------------------------------


def test_functions_parsed_into_sqlglot_classes_map_back_to_openmldb():
    assert ev("substr(s, 1, 3)") == "hel"
    assert ev("substring(s, -3)") == "llo"
    assert ev("concat(s, '-', a)") == "hello-5"
    assert ev("concat(s, NULL)") is None
    assert ev("concat_ws('-', s, a)") == "hello-5"
    assert ev("abs(-a)") == 5
    assert ev("lower('ABC')") == "abc"
    assert ev("lcase('ABC')") == "abc"
    assert ev("upper(s)") == "HELLO"
    assert ev("length(s)") == 5
    assert ev("char_length(s)") == 5
    assert ev("pow(2, 10)") == 1024.0
    assert ev("ln(1)") == 0.0
    assert ev("log(10, 100)") == pytest.approx(2.0)
    assert ev("floor(d)") == 2.0
    assert ev("ceil(d)") == 3.0
    assert ev("round(d, 1)") == 2.3
    assert ev("truncate(d)") == 2.0
    assert ev("reverse(s)") == "olleh"
    assert ev("replace(s, 'l', 'L')") == "heLLo"


def test_date_functions_use_utc8():
    assert ev("hour(t)") == 10
    assert ev("hour(1590777000000)") == 2
    assert ev("minute(t)") == 43
    assert ev("second(t)") == 40
    assert ev("year(t)") == 2020
    assert ev("month(t)") == 5
    assert ev("day(t)") == 22
    assert ev("dayofmonth(day)") == 22
    assert ev("dayofweek(t)") == 6
    assert ev("dayofweek(date('2020-05-24'))") == 1  # Sunday
    assert ev("dayofyear(day)") == 143
    assert ev("weekofyear(t)") == 21
    assert ev("date(t)") == dt.date(2020, 5, 22)
    assert ev("date_format(t, '%Y-%m-%d %H:%M:%S')") == "2020-05-22 10:43:40"
    assert typ("hour(t)") == "int32"


def test_function_errors_name_the_function():
    with pytest.raises(ExpressionError, match="no_such_fn"):
        compile_("no_such_fn(a)")
    with pytest.raises(ExpressionError, match="substr"):
        compile_("substr(a, 1)")  # int32 is not a string
    with pytest.raises(ExpressionError, match="sum"):
        compile_("sum(a)")  # an aggregate without OVER
    with pytest.raises(ExpressionError, match="count_where"):
        compile_("count_where(a, a > 1)")


def test_constant_subexpressions_are_folded():
    c = compile_("substr('hello world', 3, 6)")
    assert c.constant and c.value == "llo wo"
    assert not compile_("a + 1").constant


# --- window calls and aggregate arguments --------------------------------------------------------------


def test_window_calls_go_through_the_scope():
    scope = DictScope()
    c = compile_expression(parse("sum(trx_amt) over w30d + 1"), scope)
    assert c.fn(ROW) == 43.0
    assert c.type == "double"
    assert len(scope.window_calls) == 1
    assert isinstance(scope.window_calls[0].this, exp.Sum)


def test_compile_aggregate_args_binds_the_aggregate_to_the_argument_types():
    scope = DictScope()
    agg, args = compile_aggregate_args(parse("count(*) over w"), scope)
    assert agg.name == "count"
    assert [(a.type, a.constant, a.value) for a in args] == [("int32", True, 1)]
    assert agg.compute([[1, 1, 1]]) == 3

    agg, args = compile_aggregate_args(parse("sum(trx_amt) over w"), scope)
    assert agg.result_type([a.type for a in args]) == "float"
    values = [to_float32(1.1), to_float32(2.2)]
    assert agg.compute([values]) == to_float32(values[0] + values[1])

    agg, args = compile_aggregate_args(parse("topn_frequency(s, 2) over w"), scope)
    assert [a.type for a in args] == ["string", "int32"]
    assert args[1].constant and args[1].fn(ROW) == 2

    # The key is a timestamp: the bound aggregate prints it as a UTC+8 date-time.
    agg, args = compile_aggregate_args(parse("count_cate_where(a, a > 1, t) over w"), scope)
    row_values = [[a.fn(r) for a in args] for r in (ROW, ROW)]
    cols = [list(c) for c in zip(*row_values, strict=True)]
    assert agg.compute(cols) == "2020-05-22 10:43:40:2"

    with pytest.raises(ExpressionError, match="substr"):
        compile_aggregate_args(parse("substr(s, 1) over w"), scope)
    with pytest.raises(ExpressionError, match="sum"):
        compile_aggregate_args(parse("sum(s) over w"), scope)


# --- default output names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        ("t1.card_no", "card_no"),
        ("sum(trx_amt) over w30d", "sum(trx_amt)over w30d"),
        ("count(a) over w10d", "count(a)over w10d"),
        ("count(*) over w", "count(*)over w"),
        ("count_where(a, a > 1) over w", "count_where(a, a > 1)over w"),
        ("sum(a) over __w0", "sum(a)over ANONYMOUS_WINDOW "),
        ("substr(card_no, 1, 6)", "substr(card_no, 1, 6)"),
        ("a + 1", "a + 1"),
        ("t1.a + 1", "t1.a + 1"),
        ("(a + 1) * 2", "(a + 1) * 2"),
        ("a / 2", "a / 2"),
        ("1.5", "1.500000"),
        ("'abc'", "abc"),
        ("CAST(a AS bigint)", "int64(a)"),
        ("a > 1 AND flag", "a > 1 AND flag"),
    ],
)
def test_default_names_follow_openmldb(sql, name):
    assert compile_(sql).name == name


def test_alias_names_the_output():
    assert compile_("a + 1 AS a_plus_one").name == "a_plus_one"
