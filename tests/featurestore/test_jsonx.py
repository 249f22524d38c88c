"""featurestore.jsonx: rapidjson 1.1 reading (acceptance, error codes, numbers), coercion and writing."""

from __future__ import annotations

import datetime
import json
import math
import random
import struct

import pytest

from featurestore import jsonx
from featurestore.jsonx import (
    ConversionError,
    JsonError,
    TsRangeError,
    coerce,
    coerce_param,
    dumps,
    loads,
    output_value,
)
from featurestore.limits import TS_MAX, TS_MIN


def canon(v):
    """A comparable form: NaN equals NaN, -0.0 differs from 0.0, int differs from float."""
    if isinstance(v, float):
        return ("nan",) if math.isnan(v) else ("f", struct.pack("<d", v))
    if isinstance(v, list):
        return ("l", tuple(canon(x) for x in v))
    if isinstance(v, dict):
        return ("d", tuple((k, canon(x)) for k, x in v.items()))
    return (type(v).__name__, v)


def outcome(fn, text):
    try:
        return ("ok", canon(fn(text)))
    except JsonError as e:
        return ("err", e.code, e.offset)


# ------------------------------------------------------------------------------------------------ reading


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NaN", math.nan),
        ("Infinity", math.inf),
        ("-Infinity", -math.inf),
        ("Inf", math.inf),
        ("-Inf", -math.inf),
        ('"NaN"', "NaN"),
        ("true", True),
        ("false", False),
        ("null", None),
        ("[NaN, Inf, -Inf, Infinity, -Infinity]", [math.nan, math.inf, -math.inf, math.inf, -math.inf]),
        ('{"v": [[1, "a", 1.5, null]]}', {"v": [[1, "a", 1.5, None]]}),
        (" \t\r\n[ ] \n", []),
        ("{}", {}),
        ("-0", 0),
        ("-0.0", -0.0),
        ('"\\u00e9\\/\\b\\f\\n\\r\\t\\"\\\\"', 'é/\b\f\n\r\t"\\'),
        ('"\\ud83d\\ude00"', "\U0001f600"),
        # Quirks that follow from rapidjson's ParseNumber: "-NaN" is NaN, digits after NaN/Inf replace it, and the
        # Consume() chain lets a failed "NaN" continue as "Inf".
        ("-NaN", math.nan),
        ("NaN.5", 0.5),
        ("-Inf.25", -0.25),
        ("-Infe2", -0.0),
        ("NInf", math.inf),
        ("NaInfinity", math.inf),
    ],
)
def test_accepted_values(text, expected):
    assert canon(loads(text)) == canon(expected)
    assert canon(jsonx._loads_reference(text)) == canon(expected)


@pytest.mark.parametrize(
    ("text", "code", "offset"),
    [
        ("", 1, 0),
        ("   \n", 1, 4),
        ("nan", 3, 1),
        ("+Inf", 3, 0),
        ("True", 3, 0),
        ("NULL", 3, 1),
        ("Null", 3, 1),
        ("TRUE", 3, 0),
        ("inf", 3, 0),
        ("infinity", 3, 0),
        ("-nan", 3, 1),
        ("Infin", 3, 5),
        ("Infinit", 3, 7),
        ("tru", 3, 3),
        ("nul", 3, 3),
        ("-", 3, 1),
        ("--1", 3, 1),
        ("[1,]", 3, 3),  # after a comma a value is expected: "]" goes to ParseNumber
        ("[", 3, 1),
        ('{"a":}', 3, 5),
        ("[1", 7, 2),
        ("[1 2]", 7, 3),
        ("[1:2]", 7, 2),
        ("{", 4, 1),
        ('{"a":1,}', 4, 7),
        ("{1:2}", 4, 1),
        ("{'a':1}", 4, 1),
        ('{"a" 1}', 5, 5),
        ('{"a":1 "b":2}', 6, 7),
        ('{"a":1]', 6, 6),
        ("1 2", 2, 2),
        ("{} x", 2, 3),
        ("[]]", 2, 2),
        ("01", 2, 1),
        ("NaNx", 2, 3),
        ('"abc', 11, 4),
        ('"\\', 10, 1),
        ('"\\x"', 10, 1),
        ('"\\u12G4"', 8, 1),
        ('"\\u12"', 8, 1),
        ('"\\ud800"', 9, 1),
        ('"\\ud800\\u0041"', 9, 1),
        ('"\\ud800\\n"', 9, 1),
        ('"\\ud800\\uZZZZ"', 8, 1),
        ('"a\x01b"', 10, 2),
        ('"a\tb"', 10, 2),
        ("1.", 14, 2),
        ("1.e5", 14, 2),
        ("-.5", 3, 1),
        (".5", 3, 0),
        ("1e", 15, 2),
        ("1e+", 15, 3),
        ("1E-x", 15, 3),
        ("1e1000", 13, 0),
        ("[0, -1e309]", 13, 4),
        ("0e400", 13, 0),
        ("1e309", 13, 0),
        ("9" * 400, 13, 0),
        ("9" * 400 + ".", 13, 0),  # the integer part overflows before the missing fraction is seen
        ("\ufeff{}", 3, 0),  # a BOM is not whitespace to rapidjson
    ],
)
def test_rejected_with_rapidjson_code(text, code, offset):
    with pytest.raises(JsonError) as ei:
        loads(text)
    assert (ei.value.code, ei.value.offset) == (code, offset)
    assert isinstance(ei.value, ValueError)
    assert outcome(jsonx._loads_reference, text) == ("err", code, offset)


def test_error_offsets_are_utf8_bytes():
    with pytest.raises(JsonError) as ei:
        loads('["é",]')
    assert (ei.value.code, ei.value.offset) == (3, 6)  # "é" is two bytes
    with pytest.raises(JsonError) as ei:
        loads('["é",]'.encode())
    assert ei.value.offset == 6


def test_a_nul_byte_ends_the_document():
    # The APIServer parses req_body.to_string().c_str().
    assert loads(b'{"a":1}\x00garbage') == {"a": 1}
    assert loads("[1]\x00]]") == [1]
    assert outcome(loads, b"\x00{}") == ("err", 1, 0)
    assert outcome(loads, b'"ab\x00c"') == ("err", 11, 3)
    assert loads('"\\u0000"') == "\x00"  # an escaped NUL is just a character


def test_undecodable_bytes_are_kept_as_replacement_characters():
    assert loads(b'{"k\xff": "a\xc3b"}') == {"k\ufffd": "a\ufffdb"}
    assert outcome(loads, b"[\xff]") == ("err", 3, 1)
    assert outcome(loads, b'["\xc3\xa9", \xff]') == ("err", 3, 7)


def test_unpaired_low_surrogate_escape_becomes_replacement_character():
    assert loads('"a\\udc00b"') == "a\ufffdb"
    # An escaped backslash in front of "ud800" text must not pair with a real low surrogate.
    assert loads('"\\\\ud800\\udc00"') == "\\ud800\ufffd"
    assert loads('"\\\\\\ud800\\udc00"') == "\\\U00010000"


def test_duplicate_keys_first_wins_in_first_position():
    # rapidjson keeps both members; FindMember (every APIServer lookup) returns the first.
    assert list(loads('{"a":1,"b":2,"a":3}').items()) == [("a", 1), ("b", 2)]
    assert loads('{"x":{"a":[1],"a":[2]}}') == {"x": {"a": [1]}}
    assert jsonx._loads_reference('{"a":1,"b":2,"a":3}') == {"a": 1, "b": 2}
    assert list(loads('{"b":1,"a":2}')) == ["b", "a"]


def test_deep_nesting_beyond_python_recursion():
    depth = 50_000
    v = loads("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        assert len(v) == 1
        v = v[0]
    assert v == []
    assert outcome(loads, "[" * depth) == ("err", 3, depth)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2147483647", 2147483647),
        ("-2147483648", -2147483648),
        ("4294967295", 4294967295),
        ("9223372036854775807", 9223372036854775807),
        ("-9223372036854775808", -9223372036854775808),
        ("18446744073709551615", 18446744073709551615),
        ("-9223372036854775809", -9.223372036854776e18),
        ("18446744073709551616", 1.8446744073709552e19),
        ("1.797693134862316e308", math.inf),  # parses, rounds to Inf as rapidjson does
        ("10e308", math.inf),  # exponent 308 is allowed, the product overflows
        ("1e308", 1e308),
        ("1e-400", 0.0),
        ("-1e-400", -0.0),
        ("0.1", 0.1),
        ("1.5e300", 1.5e300),
        ("1E2", 100.0),
        ("1e0", 1.0),
        ("12345678901234567890123", 1.2345678901234568e22),
    ],
)
def test_numbers(text, expected):
    v = loads(text)
    assert canon(v) == canon(expected)
    assert canon(jsonx._loads_reference(text)) == canon(expected)


@pytest.mark.parametrize(
    ("text", "rapidjson_arithmetic"),
    [
        # Normal precision: significand * 10^p or / 10^-p with the Pow10 table, not correctly rounded.
        ("61686933e-34", 61686933 / 1e34),
        ("384958e231", 384958 * 1e231),
        ("1574703e169", 1574703 * 1e169),
        # Integers past uint64: double arithmetic digit by digit.
        ("123456789012345678901234567890", None),
    ],
)
def test_doubles_follow_rapidjson_not_correct_rounding(text, rapidjson_arithmetic):
    v = loads(text)
    assert v != float(text)
    if rapidjson_arithmetic is not None:
        assert v == rapidjson_arithmetic
    assert v == jsonx._loads_reference(text)


def test_seventeen_digit_decimals_use_rapidjson_rounding():
    rng = random.Random(3)
    toks = [repr(rng.random() * 1000) for _ in range(3000)]
    fast = loads("[" + ",".join(toks) + "]")
    ref = jsonx._loads_reference("[" + ",".join(toks) + "]")
    assert [canon(x) for x in fast] == [canon(x) for x in ref]
    assert any(f != float(t) for f, t in zip(fast, toks, strict=True))  # the difference is real
    assert all(abs(f - float(t)) <= abs(float(t)) * 2**-51 for f, t in zip(fast, toks, strict=True))


def _random_number(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return str(rng.randint(-(2**70), 2**70))
    if kind == 1:
        return repr(rng.uniform(-1e6, 1e6))
    if kind == 2:
        return f"{rng.randint(0, 10 ** rng.randint(1, 25))}e{rng.randint(-340, 320)}"
    if kind == 3:
        return f"-{rng.randint(0, 99)}.{rng.randint(0, 10**30):0{rng.randint(1, 31)}d}E+{rng.randint(0, 30)}"
    if kind == 4:
        return rng.choice(["NaN", "Infinity", "-Infinity", "Inf", "-Inf", "0", "-0", "0.0", "1e1000"])
    return repr(struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]).replace("inf", "1e400")


def _random_doc(rng, depth=0):
    r = rng.random()
    if depth > 3 or r < 0.4:
        return rng.choice(
            [_random_number(rng), '"s\\u00e9\\ud83d\\ude00"', "true", "false", "null", '"1e400, 3e5"', '"\\\\u0041"']
        )
    if r < 0.7:
        return "[" + ", ".join(_random_doc(rng, depth + 1) for _ in range(rng.randrange(4))) + "]"
    keys = ["a", "b", "a", "c"]
    items = [f'"{rng.choice(keys)}": {_random_doc(rng, depth + 1)}' for _ in range(rng.randrange(4))]
    return "{" + ",".join(items) + "}"


def test_fast_path_matches_reference_scanner_on_valid_documents():
    rng = random.Random(11)
    for _ in range(3000):
        text = _random_doc(rng)
        assert outcome(loads, text) == outcome(jsonx._loads_reference, text), text


def test_fast_path_matches_reference_scanner_on_token_soup():
    pieces = [
        "[", "]", "{", "}", ",", ":", " ", '"a"', '"\\u00e9"', '"\\ud83d\\ude00"', '"\\ud800"', '"\\udc01"', "1", "-",
        "0", ".", "e", "E", "+", "5", "NaN", "Inf", "inity", "null", "true", "fals", "N", "I", '"', "\\", "1e400",
        "12345678901234567890", "x", "\t", "\n", "é", "2.5e-3", "1.7976931348623157e308",
    ]  # fmt: skip
    rng = random.Random(5)
    accepted = 0
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        got = outcome(loads, text)
        assert got == outcome(jsonx._loads_reference, text), text
        accepted += got[0] == "ok"
    assert accepted > 500


def test_bytes_and_str_inputs_agree():
    text = '{"k": ["é", 1.5, NaN, -Inf, 12345678901234567890]}'
    assert canon(loads(text)) == canon(loads(text.encode())) == canon(loads(bytearray(text.encode())))


def test_loads_reads_a_one_megabyte_body_as_the_reference_does():
    """How fast is for bench/; here, a request body of a megabyte reads as the reference reader reads it."""
    rng = random.Random(7)
    rows = [
        [
            f"user_{k:06d}_{rng.getrandbits(30):x}",
            rng.randint(-(2**31), 2**31 - 1),
            1590738989000 + k * 1000,
            round(rng.random() * 1000, 3),
            rng.random(),
            rng.choice([True, False]),
            None,
            f"2021-12-{rng.randint(1, 28)}",
            rng.randint(0, 32767),
            "x" * rng.randint(1, 12),
        ]
        for k in range(10_000)
    ]
    body = json.dumps({"input": rows, "need_schema": True}, separators=(",", ":")).encode()
    assert 1.0e6 < len(body) < 1.2e6
    parsed = loads(body)
    assert len(parsed["input"]) == 10_000 and parsed["need_schema"] is True
    assert canon(parsed) == canon(jsonx._loads_reference(body.decode()))


# ------------------------------------------------------------------------------------------------ coercion


def test_bool():
    assert coerce(True, "bool") is True
    assert coerce(False, "bool") is False
    for bad in (1, 0, "true", 1.0):
        with pytest.raises(ConversionError):
            coerce(bad, "bool")


def test_int16_is_an_unchecked_cast_of_an_int32():
    assert coerce(70000, "int16") == 4464  # upstream static_cast<int16_t>, as the contract notes
    assert coerce(-32769, "int16") == 32767
    assert coerce(32767, "int16") == 32767
    assert coerce(-5, "int16") == -5
    for bad in (2**31, -(2**31) - 1, 1.0, True, "1", math.nan):
        with pytest.raises(ConversionError):
            coerce(bad, "int16")


def test_int32_range():
    assert coerce(2**31 - 1, "int32") == 2**31 - 1
    assert coerce(-(2**31), "int32") == -(2**31)
    for bad in (2**31, -(2**31) - 1, 1.5, 2.0, True, "3"):
        with pytest.raises(ConversionError):
            coerce(bad, "int32")


def test_int64_and_timestamp_take_int64_only():
    assert coerce(2**63 - 1, "int64") == 2**63 - 1
    assert coerce(-(2**63), "int64") == -(2**63)
    for t in ("int64", "timestamp"):
        assert coerce(1590738989000, t) == 1590738989000
        for bad in (2**63, 1.0, True, "2020-05-29", "1590738989000"):
            with pytest.raises(ConversionError) as raised:
                coerce(bad, t)
            assert not isinstance(raised.value, TsRangeError)


def test_ts_values_stay_in_the_window_engines_range():
    """Timestamps, and bigints that are an index's TS, are refused beyond ±(2^62 - 1): ts - offset - 1 must fit."""
    assert (TS_MIN, TS_MAX) == (-(2**62 - 1), 2**62 - 1)
    for t, ts in (("timestamp", False), ("timestamp", True), ("int64", True)):
        assert coerce(TS_MAX, t, ts=ts) == TS_MAX and coerce(TS_MIN, t, ts=ts) == TS_MIN
        assert jsonx.int_range(t, ts=ts) == (TS_MIN, TS_MAX)
        for bad in (TS_MAX + 1, TS_MIN - 1, 2**63 - 1, -(2**63)):
            with pytest.raises(TsRangeError, match=r"ts out of range \[-4611686018427387903, 4611686018427387903\]$"):
                coerce(bad, t, ts=ts)
    assert coerce(-(2**63), "int64", ts=False) == -(2**63)  # a bigint that is no index's TS takes all of int64
    assert jsonx.int_range("int64") == (-(2**63), 2**63 - 1)
    with pytest.raises(TsRangeError):
        coerce_param(-(2**63), "TIMESTAMP")  # a timestamp parameter too


def test_float_rounds_to_float32():
    assert coerce(1.1, "float") == struct.unpack("f", struct.pack("f", 1.1))[0] == 1.100000023841858
    assert coerce(1, "float") == 1.0
    assert coerce(2**64 - 1, "float") == 1.8446744073709552e19
    assert coerce(3.5e38, "float") == math.inf  # > FLT_MAX
    assert coerce(-3.5e38, "float") == -math.inf
    assert coerce(3.4028235e38, "float") == 3.4028234663852886e38
    assert coerce(math.inf, "float") == math.inf
    assert math.isnan(coerce(math.nan, "float"))
    for bad in (True, "1.5", [1.0]):
        with pytest.raises(ConversionError):
            coerce(bad, "float")


def test_double_needs_a_lossless_number():
    assert coerce(1.5, "double") == 1.5
    assert coerce(2**53, "double") == 2.0**53
    assert coerce(-(2**63), "double") == -(2.0**63)
    assert coerce(2**63, "double") == 2.0**63  # uint64, exactly representable
    assert math.isnan(coerce(math.nan, "double"))
    assert coerce(-math.inf, "double") == -math.inf
    for bad in (2**53 + 1, -(2**53) - 1, 2**64 - 1, True, "1.5"):
        with pytest.raises(ConversionError):
            coerce(bad, "double")
    # Through the reader: a 2^53+1 literal is an int and is refused; 2^64 is already a double.
    assert coerce(loads("18446744073709551616"), "double") == 2.0**64
    with pytest.raises(ConversionError):
        coerce(loads("9007199254740993"), "double")


def test_string_takes_json_strings_only():
    assert coerce("x", "string") == "x"
    assert coerce("", "string") == ""
    for bad in (1, 1.5, True, ["x"]):
        with pytest.raises(ConversionError):
            coerce(bad, "string")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-05-01", datetime.date(2020, 5, 1)),
        ("2020-5-1", datetime.date(2020, 5, 1)),
        ("2021-12-01", datetime.date(2021, 12, 1)),
        ("2020-02-29", datetime.date(2020, 2, 29)),
        ("9999-12-31", datetime.date(9999, 12, 31)),
        ("1900-01-01", datetime.date(1900, 1, 1)),
        ("0002020-005-0001", datetime.date(2020, 5, 1)),
        # base::SplitString drops empty pieces, so these still have three parts upstream.
        ("2020--5-1", datetime.date(2020, 5, 1)),
        ("-2020-5-1-", datetime.date(2020, 5, 1)),
        ("2020-5-1\x00junk", datetime.date(2020, 5, 1)),  # GetString() is a C string
    ],
)
def test_date_accepted(text, expected):
    assert coerce(text, "date") == expected


@pytest.mark.parametrize(
    "bad",
    [
        "2021-02-30",  # upstream stores it; we refuse impossible dates
        "2021-04-31",
        "2021-13-01",
        "2021-00-10",
        "2021-01-00",
        "1899-12-31",  # the row codec refuses years before 1900
        "10000-01-01",
        "2020-5",
        "2020-5-1-2",
        "2020/05/01",
        " 2020-05-01",
        "2020-05-01 ",
        "+2020-5-1",
        "2020-5-1T00",
        "２０２０-5-1",
        "2020-05-99999999999",
        "",
        20200501,
        7932673,
        True,
    ],
)
def test_date_rejected(bad):
    with pytest.raises(ConversionError):
        coerce(bad, "date")


def test_nulls():
    for t in ("bool", "int16", "int32", "int64", "float", "double", "string", "date", "timestamp"):
        assert coerce(None, t) is None
        with pytest.raises(ConversionError) as ei:
            coerce(None, t, not_null=True)
        assert ei.value.type == t
        assert ei.value.value_text == "null"


def test_conversion_error_carries_value_and_type():
    with pytest.raises(ConversionError) as ei:
        coerce("2020-13-45", "date")
    assert (ei.value.value, ei.value.type, ei.value.value_text) == ("2020-13-45", "date", "2020-13-45")
    with pytest.raises(ConversionError) as ei:
        coerce(1.5, "int32")
    assert ei.value.value_text == "1.5"
    assert isinstance(ei.value, ValueError)
    with pytest.raises(ValueError, match="unknown column type"):
        coerce(1, "varchar")


def test_query_params():
    assert coerce_param(5, "INT") == (5, "int32")
    assert coerce_param(5, "int32") == (5, "int32")
    assert coerce_param(70000, "SMALLINT") == (4464, "int16")
    assert coerce_param(1, "Int16") == (1, "int16")
    assert coerce_param(2**40, "bigint") == (2**40, "int64")
    assert coerce_param(2**40, "INT64") == (2**40, "int64")
    assert coerce_param(True, "BOOL") == (True, "bool")
    assert coerce_param(1.1, "FLOAT") == (1.100000023841858, "float")
    assert coerce_param(2**53 + 1, "DOUBLE") == (2.0**53, "double")  # JsonReader takes any number for double
    assert coerce_param("x", "string") == ("x", "string")
    assert coerce_param(1590738989000, "timestamp") == (1590738989000, "timestamp")
    # DATE parameters are read as an int: OpenMLDB's packed date encoding.
    assert coerce_param(7932673, "DATE") == (datetime.date(2021, 12, 1), "date")
    assert jsonx.date_to_packed(datetime.date(2021, 12, 1)) == 7932673
    for value, name in [("2021-12-01", "DATE"), (0, "DATE"), (None, "INT"), (1, "BOOL"), (1.5, "INT"), (True, "INT")]:
        with pytest.raises(ConversionError):
            coerce_param(value, name)
    # Names are upper-cased as std::toupper does (ASCII only) and reported that way.
    for name, shown in [("VARCHAR", "VARCHAR"), ("int8", "INT8"), ("ınt", "ıNT"), ("", "")]:
        with pytest.raises(ValueError, match=f"^invalid type {shown}$"):
            coerce_param(1, name)


# ------------------------------------------------------------------------------------------------ writing


def test_output_values():
    assert output_value(1.1, "float") == 1.100000023841858
    assert dumps([output_value(1.1, "float"), output_value(2.2, "double")]) == b"[1.100000023841858,2.2]"
    assert output_value(datetime.date(2021, 12, 1), "date") == "2021-12-1"
    assert output_value(datetime.date(1900, 1, 1), "date") == "1900-1-1"
    assert output_value(1590738989000, "timestamp") == 1590738989000
    assert output_value(-5, "int16") == -5
    assert output_value(True, "bool") is True
    assert output_value("s", "string") == "s"
    for t in ("bool", "int16", "float", "date", "string", "timestamp"):
        assert output_value(None, t) is None
    row = [output_value(v, t) for v, t in [(True, "bool"), (None, "int32"), (datetime.date(2021, 1, 9), "date")]]
    assert dumps(row) == b'[true,null,"2021-1-9"]'


def test_nan_and_infinity_bare_or_null():
    values = {"a": math.nan, "b": math.inf, "c": [-math.inf, 1.5], "d": "NaN Infinity"}
    assert dumps(values) == b'{"a":NaN,"b":Infinity,"c":[-Infinity,1.5],"d":"NaN Infinity"}'
    assert dumps(values, nan_and_inf_null=True) == b'{"a":null,"b":null,"c":[null,1.5],"d":"NaN Infinity"}'
    assert canon(loads(dumps(values))) == canon(values)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (100.0, "100.0"),
        (2.2, "2.2"),
        (-1.5, "-1.5"),
        (0.001234, "0.001234"),
        (1e-5, "0.00001"),
        (1.5e-6, "0.0000015"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e16, "10000000000000000.0"),
        (1.2345e20, "123450000000000000000.0"),
        (1e21, "1e21"),
        (1.5e300, "1.5e300"),
        (-1.7976931348623157e308, "-1.7976931348623157e308"),
        (5e-324, "5e-324"),
        (123456.789, "123456.789"),
    ],
)
def test_doubles_are_written_in_rapidjson_layout(value, text):
    assert jsonx.format_double(value) == text
    assert dumps(value) == text.encode()
    assert dumps([value]) == f"[{text}]".encode()


def test_format_double_round_trips_and_matches_repr_where_repr_is_positional():
    rng = random.Random(9)
    for _ in range(20000):
        x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if not math.isfinite(x):
            continue
        text = jsonx.format_double(x)
        assert float(text) == x
        if "e" not in repr(x):
            assert text == repr(x)


def test_strings_are_escaped_like_rapidjson():
    assert dumps('a\x1f\x0b\x00\n\t"\\/é') == '"a\\u001F\\u000B\\u0000\\n\\t\\"\\\\/é"'.encode()
    assert dumps("\\u001f") == b'"\\\\u001f"'  # literal text, not an escape: left alone
    assert dumps({"1e+16": "2.5e-07"}) == b'{"1e+16":"2.5e-07"}'
    assert dumps("\x7f") == b'"\x7f"'


def test_dumps_other_values():
    assert dumps({"code": 0, "msg": "ok", "data": {"data": [[1, None, True]]}}) == (
        b'{"code":0,"msg":"ok","data":{"data":[[1,null,true]]}}'
    )
    assert dumps(2**64 - 1) == b"18446744073709551615"
    assert dumps((1, 2)) == b"[1,2]"
    assert dumps(datetime.date(2021, 12, 1)) == b'"2021-12-1"'
    with pytest.raises(TypeError):
        dumps(object())


# ------------------------------------------------------------------------------------------------ type names


def test_type_tables_cover_the_column_types():
    from featurestore.sqlcore.sqlir import TYPES

    assert [jsonx.schema_type_name(t) for t in TYPES] == [
        "Bool", "Int16", "Int32", "Int64", "Float", "Double", "String", "Date", "Timestamp",
    ]  # fmt: skip
    assert [jsonx.sdk_type_enum(t) for t in TYPES] == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert [jsonx.fe_type_enum(t) for t in TYPES] == [0, 1, 3, 5, 7, 8, 9, 10, 11]
    assert [jsonx.proto_type_name(t) for t in TYPES] == [
        "kBool", "kSmallInt", "kInt", "kBigInt", "kFloat", "kDouble", "kVarchar", "kDate", "kTimestamp",
    ]  # fmt: skip
    for fn in (jsonx.schema_type_name, jsonx.sdk_type_enum, jsonx.fe_type_enum, jsonx.proto_type_name):
        with pytest.raises(ValueError):
            fn("varchar")
