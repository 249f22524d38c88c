"""CDAP record schemas for app configs: schema checks, config checks with field paths, form descriptions, form input."""

import pytest

from artifacts.configschema import coerce_form_value, schema_fields, validate_config, validate_schema

READER = {
    "type": "record",
    "name": "ReaderConfig",
    "fields": [{"name": "name", "type": "string"}, {"name": "limit", "type": ["long", "null"]}],
}
SCHEMA = {
    "type": "record",
    "name": "MyConfig",
    "fields": [
        {"name": "table", "type": "string"},
        {"name": "stream", "type": ["string", "null"]},
        {"name": "batchSize", "type": "int"},
        {"name": "ratio", "type": "double"},
        {"name": "enabled", "type": ["boolean", "null"]},
        {"name": "reader", "type": READER},
        {"name": "tags", "type": ["null", {"type": "array", "items": "string"}]},
        {"name": "options", "type": [{"type": "map", "keys": "string", "values": "int"}, "null"]},
        {"name": "mode", "type": [{"type": "enum", "symbols": ["FAST", "SAFE"]}, "null"]},
        {"name": "backup", "type": ["ReaderConfig", "null"]},
    ],
}
GOOD = {"table": "t", "batchSize": 10, "ratio": 0.5, "reader": {"name": "r"}}


# --- validate_schema -------------------------------------------------------------------------------------------------


A = {"type": "record", "name": "A", "fields": []}
B = {"type": "record", "name": "B", "fields": [{"name": "y", "type": "int"}]}


@pytest.mark.parametrize(
    ("schema", "config", "field_names"),
    [
        (SCHEMA, GOOD, [f["name"] for f in SCHEMA["fields"]]),
        ({"type": "record", "name": "Empty", "fields": []}, {}, []),
        (
            {"type": "record", "name": "C", "fields": [{"name": "x", "type": {"type": "int"}, "doc": "ok"}]},
            {"x": 1},
            ["x"],
        ),
        # A record may refer to itself by name (a linked list).
        (
            {"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["Node", "null"]}]},
            {"next": {"next": {"next": None}}},
            ["next"],
        ),
        # Records of different names may share a union.
        ({"type": "record", "name": "C", "fields": [{"name": "x", "type": [A, B, "null"]}]}, {"x": {"y": 1}}, ["x"]),
    ],
    ids=["full", "empty", "type-object-and-doc", "recursive", "union-of-records"],
)
def test_valid_schemas(schema, config, field_names):
    """A valid schema is accepted, and a config that follows it checks clean and describes its fields."""
    assert validate_schema(schema) is None
    assert validate_config(schema, config) == []
    assert [f["name"] for f in schema_fields(schema)] == field_names


def one_field(field_type, name="x"):
    """A record schema with one field of the given type."""
    return {"type": "record", "name": "C", "fields": [{"name": name, "type": field_type}]}


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("string", "configSchema: must be a record schema"),
        ({"type": "array", "items": "string"}, "configSchema.type: must be 'record', got 'array'"),
        ({"type": "record", "fields": []}, "configSchema.name: a record needs a non-empty name"),
        ({"type": "record", "name": "C"}, "configSchema.fields: must be a list"),
        ({"type": "record", "name": "C", "fields": ["x"]}, "configSchema.fields[0]: must be an object"),
        ({"type": "record", "name": "C", "fields": [{"type": "int"}]}, "configSchema.fields[0].name: must be a non"),
        ({"type": "record", "name": "C", "fields": [{"name": "x"}]}, "configSchema.fields[0].type is required"),
        (
            {"type": "record", "name": "C", "fields": [{"name": "x", "type": "int"}, {"name": "x", "type": "int"}]},
            "configSchema.fields[1].name: duplicate field 'x'",
        ),
        (one_field("strin"), "configSchema.fields[0].type: unknown type 'strin'"),
        (one_field([]), "configSchema.fields[0].type: a union needs at least one type"),
        (one_field(["int", ["string"]]), "configSchema.fields[0].type[1]: a union cannot contain another union"),
        (one_field(["int", "null", "int"]), "configSchema.fields[0].type[2]: int is already in the union (at [0])"),
        (one_field(5), "configSchema.fields[0].type: must be a type name, a union list or a schema object"),
        (one_field({}), "configSchema.fields[0].type.type is required"),
        (one_field({"type": "fixed"}), "configSchema.fields[0].type.type: unknown type 'fixed'"),
        (one_field({"type": "array"}), "configSchema.fields[0].type.items is required"),
        (one_field({"type": "map", "keys": "int", "values": "int"}), "fields[0].type.keys: map keys must be string"),
        (one_field({"type": "map", "keys": "string"}), "configSchema.fields[0].type.values is required"),
        (one_field({"type": "enum", "symbols": []}), "fields[0].type.symbols: an enum needs a non-empty list"),
        (one_field({"type": "enum", "symbols": ["A", "A"]}), "fields[0].type.symbols[1]: duplicate symbol 'A'"),
        (one_field({"type": "enum", "symbols": ["A", 1]}), "fields[0].type.symbols[1]: must be a non-empty string"),
        (one_field(one_field("int")), "configSchema.fields[0].type.name: record C is defined twice, differently"),
        (one_field({"type": "record", "name": "int", "fields": []}), "'int' is a type keyword, not a record name"),
        (
            # A name is only known after its definition (as in Avro).
            {
                "type": "record",
                "name": "C",
                "fields": [{"name": "x", "type": "Later"}, {"name": "y", "type": one_field("int") | {"name": "Later"}}],
            },
            "configSchema.fields[0].type: unknown type 'Later'",
        ),
    ],
)
def test_invalid_schemas(schema, message):
    with pytest.raises(ValueError) as err:
        validate_schema(schema)
    assert message in str(err.value)


def test_map_keys_default_to_string():
    schema = one_field({"type": "map", "values": "int"})
    assert validate_schema(schema) is None
    [field] = schema_fields(schema)
    assert field["type"] == "map<string, int>"
    assert validate_config(schema, {"x": {"a key": 1}}) == []
    assert validate_config(schema, {"x": {"a key": "one"}}) == ['config.x["a key"]: expected int, got string']


def test_where_prefixes_messages():
    with pytest.raises(ValueError, match=r"^app\.configSchema\.fields\[0\]\.type: unknown type 'x'$"):
        validate_schema(one_field("x"), where="app.configSchema")


# --- validate_config -------------------------------------------------------------------------------------------------


def test_a_good_config_has_no_errors():
    assert validate_config(SCHEMA, GOOD) == []
    full = {
        **GOOD,
        "stream": None,
        "enabled": True,
        "tags": ["a", "b"],
        "options": {"x": 1, "a key": 2},
        "mode": "SAFE",
        "backup": {"name": "b", "limit": 2**40},
        "ratio": 3,  # an int is a fine double
    }
    assert validate_config(SCHEMA, full) == []


def test_each_error_kind_names_its_path():
    config = {
        "table": 5,
        "batchSize": "10",
        "ratio": True,
        "reader": {"limit": "x", "extra": 1},
        "tags": ["a", 3],
        "options": {"a key": "one"},
        "mode": "SLOW",
        "extra": 1,
    }
    assert validate_config(SCHEMA, config) == [
        "config.table: expected string, got int",
        "config.batchSize: expected int, got string",
        "config.ratio: expected double, got boolean",
        "config.reader.name: required field is missing",
        "config.reader.limit: expected long, got string",
        "config.reader.extra: not a field of ReaderConfig",
        "config.tags[1]: expected string, got int",
        'config.options["a key"]: expected int, got string',
        "config.mode: 'SLOW' is not one of FAST, SAFE",
        "config.extra: not a field of MyConfig",
    ]


def test_missing_required_and_null_for_non_nullable():
    assert validate_config(SCHEMA, {**GOOD, "table": None}) == ["config.table: expected string, got null"]
    without = {k: v for k, v in GOOD.items() if k != "table"}
    assert validate_config(SCHEMA, without) == ["config.table: required field is missing"]


def test_nullable_unions_accept_null_and_absence():
    schema = {"type": "record", "name": "C", "fields": [{"name": "s", "type": ["string", "null"]}]}
    assert validate_config(schema, {"s": None}) == []
    assert validate_config(schema, {}) == []
    assert validate_config(schema, None) == []  # no config at all: every field unset
    assert validate_config(schema, {"s": 1}) == ["config.s: expected string, got int"]


def test_config_must_be_an_object():
    assert validate_config(SCHEMA, ["x"]) == ["config: expected MyConfig object, got array"]
    assert validate_config(SCHEMA, None) == [
        "config.table: required field is missing",
        "config.batchSize: required field is missing",
        "config.ratio: required field is missing",
        "config.reader: required field is missing",
    ]


def test_number_ranges_and_kinds():
    schema = {
        "type": "record",
        "name": "N",
        "fields": [{"name": n, "type": n} for n in ("int", "long", "float", "double", "bytes", "boolean")],
    }
    base = {"int": 1, "long": 1, "float": 1.5, "double": 2, "bytes": "AAE=", "boolean": False}
    assert validate_config(schema, base) == []
    assert validate_config(schema, {**base, "int": 2**31}) == [f"config.int: {2**31} is out of range for int"]
    assert validate_config(schema, {**base, "long": -(2**63) - 1}) == [
        f"config.long: {-(2**63) - 1} is out of range for long"
    ]
    assert validate_config(schema, {**base, "int": 5.0}) == ["config.int: expected int, got float"]
    assert validate_config(schema, {**base, "int": True}) == ["config.int: expected int, got boolean"]
    assert validate_config(schema, {**base, "float": 1e39}) == ["config.float: 1e+39 is out of range for float"]
    assert validate_config(schema, {**base, "double": float("nan")}) == ["config.double: nan is not a finite number"]
    assert validate_config(schema, {**base, "double": 10**400}) == [
        f"config.double: {10**400} is out of range for double"
    ]
    assert validate_config(schema, {**base, "bytes": [0, 255]}) == []  # Gson's byte[] form
    assert validate_config(schema, {**base, "bytes": 3}) == ["config.bytes: expected bytes (a string), got int"]
    assert validate_config(schema, {**base, "boolean": "true"}) == ["config.boolean: expected boolean, got string"]


def test_nested_records_recurse():
    schema = {
        "type": "record",
        "name": "Outer",
        "fields": [
            {
                "name": "inner",
                "type": {
                    "type": "record",
                    "name": "Inner",
                    "fields": [{"name": "deep", "type": one_field("int") | {"name": "Deep"}}],
                },
            }
        ],
    }
    assert validate_config(schema, {"inner": {"deep": {"x": 1}}}) == []
    assert validate_config(schema, {"inner": {"deep": {"x": "1"}}}) == ["config.inner.deep.x: expected int, got string"]
    assert validate_config(schema, {"inner": {"deep": {}}}) == ["config.inner.deep.x: required field is missing"]
    assert validate_config(schema, {"inner": "x"}) == ["config.inner: expected Inner object, got string"]


def test_recursive_records():
    schema = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "value", "type": "int"}, {"name": "next", "type": ["Node", "null"]}],
    }
    assert validate_config(schema, {"value": 1, "next": {"value": 2, "next": None}}) == []
    assert validate_config(schema, {"value": 1, "next": {"value": "2"}}) == [
        "config.next.value: expected int, got string"
    ]


def test_arrays_maps_enums():
    schema = {
        "type": "record",
        "name": "C",
        "fields": [
            {"name": "matrix", "type": {"type": "array", "items": {"type": "array", "items": "int"}}},
            {"name": "limits", "type": {"type": "map", "keys": "string", "values": READER}},
            {"name": "level", "type": {"type": "enum", "symbols": ["LOW", "HIGH"]}},
        ],
    }
    good = {"matrix": [[1], [2, 3]], "limits": {"a": {"name": "x"}}, "level": "LOW"}
    assert validate_config(schema, good) == []
    assert validate_config(schema, {**good, "matrix": [[1], [2, "3"]]}) == [
        "config.matrix[1][1]: expected int, got string"
    ]
    assert validate_config(schema, {**good, "matrix": {"a": 1}}) == [
        "config.matrix: expected array<array<int>>, got object"
    ]
    assert validate_config(schema, {**good, "limits": {"a": {}}}) == ["config.limits.a.name: required field is missing"]
    assert validate_config(schema, {**good, "limits": []}) == [
        "config.limits: expected map<string, ReaderConfig> object, got array"
    ]
    assert validate_config(schema, {**good, "level": 1}) == ["config.level: expected one of LOW, HIGH, got int"]


def test_multi_branch_unions():
    schema = {
        "type": "record",
        "name": "C",
        "fields": [{"name": "v", "type": ["int", "string", READER, "null"]}, {"name": "w", "type": ["int", "string"]}],
    }
    for value in (1, "x", {"name": "n"}, None):
        assert validate_config(schema, {"v": value, "w": 1}) == []
    # Only the record branch takes objects, so its own errors explain the problem.
    assert validate_config(schema, {"v": {"name": 1}, "w": 1}) == ["config.v.name: expected string, got int"]
    assert validate_config(schema, {"v": True, "w": 1}) == [
        "config.v: expected int | string | ReaderConfig | null, got boolean"
    ]
    assert validate_config(schema, {"w": None}) == ["config.w: expected int | string, got null"]
    assert validate_config(schema, {}) == ["config.w: required field is missing"]


def test_validate_config_rejects_a_bad_schema():
    with pytest.raises(ValueError, match="configSchema"):
        validate_config({"type": "record"}, {})


# --- schema_fields ---------------------------------------------------------------------------------------------------


def test_schema_fields_for_a_nested_record():
    fields = schema_fields(SCHEMA)
    by_name = {f["name"]: f for f in fields}
    assert [f["name"] for f in fields] == [f["name"] for f in SCHEMA["fields"]]
    assert by_name["table"] == {"name": "table", "type": "string", "required": True, "schema": "string"}
    assert by_name["stream"] == {"name": "stream", "type": "string", "required": False, "schema": ["string", "null"]}
    assert by_name["reader"]["type"] == "ReaderConfig"
    assert by_name["reader"]["required"] is True
    assert by_name["reader"]["fields"] == [
        {"name": "name", "type": "string", "required": True, "schema": "string"},
        {"name": "limit", "type": "long", "required": False, "schema": ["long", "null"]},
    ]
    assert by_name["tags"]["type"] == "array<string>"
    assert by_name["options"]["type"] == "map<string, int>"
    assert by_name["mode"]["symbols"] == ["FAST", "SAFE"]
    # A reference by name is resolved, so the field's schema stands alone (e.g. for coerce_form_value).
    assert by_name["backup"]["schema"] == [READER, "null"]
    assert by_name["backup"]["fields"] == by_name["reader"]["fields"]


def test_schema_fields_stops_at_recursion():
    schema = {"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["Node", "null"]}]}
    [field] = schema_fields(schema)
    assert field["type"] == "Node"
    assert field["recursive"] is True
    assert "fields" not in field


# --- coerce_form_value -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field_type", "text", "value"),
    [
        ("string", " a b ", " a b "),
        ("string", "", ""),
        (["string", "null"], "", None),
        (["string", "null"], "x", "x"),
        ("int", " 42 ", 42),
        ("int", "-7", -7),
        ("long", str(2**40), 2**40),
        ("double", "1.5", 1.5),
        ("double", "2", 2.0),
        ("float", "-1e3", -1000.0),
        ("boolean", "true", True),
        ("boolean", "Off", False),
        ("boolean", "1", True),
        ("bytes", "AAE=", "AAE="),
        ("null", "", None),
        ({"type": "int"}, "3", 3),
        (["int", "null"], "  ", None),
        (["int", "string"], "5", 5),  # declared order decides
        (["string", "int"], "5", "5"),
        (["int", "string"], "five", "five"),
        ({"type": "enum", "symbols": ["A", "B"]}, " B ", "B"),
        ({"type": "array", "items": "int"}, "[1, 2]", [1, 2]),
        ({"type": "map", "keys": "string", "values": "string"}, '{"a": "b"}', {"a": "b"}),
        (READER, '{"name": "x"}', {"name": "x"}),
        ([READER, "null"], "", None),
    ],
)
def test_coerce_form_value(field_type, text, value):
    result = coerce_form_value(field_type, text)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("field_type", "text", "message"),
    [
        ("int", "abc", "'abc' is not a valid int"),
        ("int", "1.5", "'1.5' is not a valid int"),
        ("int", "", "a value is required (int)"),
        ("int", "2147483648", "2147483648 is out of range for int"),
        ("double", "nan", "'nan' is not a valid double"),
        ("double", "1e999", "1e999 is out of range for double"),
        ("boolean", "maybe", "'maybe' is not a valid boolean (use true or false)"),
        ("null", "x", "expected an empty value (null)"),
        (["int", "null"], "x", "'x' is not a valid int"),
        (["int", "boolean"], "x", "'x' is not a valid int | boolean"),
        ({"type": "enum", "symbols": ["A", "B"]}, "C", "'C' is not one of A, B"),
        ({"type": "array", "items": "int"}, "[1, 'a']", "expected array<int> as JSON: Expecting value"),
        ({"type": "array", "items": "int"}, '[1, "a"]', "value[1]: expected int, got string"),
        ({"type": "array", "items": "int"}, "", "a value is required (array<int> as JSON)"),
        (READER, "{}", "value.name: required field is missing"),
        ("Unknown", "x", "type: unknown type 'Unknown'"),
    ],
)
def test_coerce_form_value_errors(field_type, text, message):
    with pytest.raises(ValueError) as err:
        coerce_form_value(field_type, text)
    assert message in str(err.value)


def test_form_fields_and_coercion_together():
    """What a form does: describe the fields, parse each input, and check the whole config."""
    inputs = {"table": "purchases", "stream": "", "batchSize": "100", "ratio": "0.25", "reader": '{"name": "r"}'}
    by_name = {f["name"]: f for f in schema_fields(SCHEMA)}
    config = {name: coerce_form_value(by_name[name]["schema"], text) for name, text in inputs.items()}
    assert config == {"table": "purchases", "stream": None, "batchSize": 100, "ratio": 0.25, "reader": {"name": "r"}}
    assert validate_config(SCHEMA, config) == []
