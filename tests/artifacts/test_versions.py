"""CDAP artifact versions, ranges and parent references (``artifacts.versions``), checked against contract B.1/B.4."""

import copy
import pickle
import random
import re
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from artifacts.versions import (
    ArtifactRange,
    ArtifactVersion,
    RangeSpec,
    VersionError,
    check_parents,
    highest,
    is_valid_id,
    is_valid_name,
    is_valid_namespace,
    parse_parents,
    parse_range_spec,
)

V = ArtifactVersion
R = ArtifactRange.parse
PROPERTY = settings(max_examples=300, deadline=None)


# --- versions: parsing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "major", "minor", "fix", "suffix", "snapshot"),
    [
        ("1", 1, None, None, None, False),
        ("1.0", 1, 0, None, None, False),
        ("1.0.0", 1, 0, 0, None, False),
        ("3.2.0-SNAPSHOT", 3, 2, 0, "SNAPSHOT", True),
        # The developers' manual examples: suffix after '.' or '-', snapshot only when the suffix starts with it.
        ("1.2.3.SNAPSHOT-test", 1, 2, 3, "SNAPSHOT-test", True),
        ("1.2.3-hadoop2", 1, 2, 3, "hadoop2", False),
        ("1.0.0-snapshot", 1, 0, 0, "snapshot", True),
        ("1.0.0-SnapShots2", 1, 0, 0, "SnapShots2", True),
        ("1.0.0-my-snapshot", 1, 0, 0, "my-snapshot", False),
        ("1.0.0.0", 1, 0, 0, "0", False),
        ("1-SNAPSHOT", 1, None, None, "SNAPSHOT", True),
        ("1.0-2.3", 1, 0, None, "2.3", False),
        ("007.010.0", 7, 10, 0, None, False),
        # The regex backtracks: "1..0" is major 1 with the suffix ".0", which the suffix rule accepts.
        ("1..0", 1, None, None, ".0", False),
        # Integer.valueOf overflows to null upstream: the part counts as missing, the version stays valid.
        ("2147483647.0.0", 2147483647, 0, 0, None, False),
        ("2147483648.1.2", None, 1, 2, None, False),
    ],
)
def test_valid_versions(text, major, minor, fix, suffix, snapshot):
    version = V(text)
    assert (version.major, version.minor, version.fix, version.suffix) == (major, minor, fix, suffix)
    assert version.is_snapshot is snapshot
    assert str(version) == version.text == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "latest",
        "v1.0.0",
        "-1.0",
        ".1",
        " 1.0.0",
        "1.0.0 ",
        "1.0.0\n",
        "1.0.0-",  # an empty suffix fails the suffix rule
        "1.",
        "1.0.0_beta",
        "1.0.0-beta_1",
        "1.0.0-a b",
        "1.0.0+build",
        "1.0.0-β",
        "١.٠",  # Java's \d is ASCII-only
        "[1.0.0,2.0.0)",
    ],
)
def test_invalid_versions(text):
    with pytest.raises(VersionError, match="Invalid artifact version"):
        V(text)


def test_version_error_names_the_text_and_the_problem():
    with pytest.raises(VersionError, match=r"'1\.0\.0_x'\. The suffix of the version is not valid"):
        V("1.0.0_x")
    with pytest.raises(VersionError, match=r"'latest'\. Expected \[major\]"):
        V("latest")


def test_non_string_version_is_a_type_error():
    with pytest.raises(TypeError):
        V(None)


def test_versions_are_immutable_and_picklable():
    version = V("1.0.0")
    with pytest.raises(AttributeError):
        version.major = 2
    with pytest.raises(AttributeError):
        del version.text
    assert pickle.loads(pickle.dumps(version)) == version  # noqa: S301 (our own bytes)
    assert copy.deepcopy(version) == version


def test_equality_and_hash_use_the_text_like_cdap():
    assert V("1.0.0") == V("1.0.0")
    assert len({V("1.0.0"), V("1.0.0"), V("1.00.0")}) == 2
    # compareTo ties these, equals does not; Python's order breaks the tie by text so it stays total.
    assert V("1.0.0").compare(V("1.00.0")) == 0
    assert V("1.0.0") != V("1.00.0")
    assert V("1.0.0-1").compare(V("1.0.0.1")) == 0
    assert V("1.0.0-1") < V("1.0.0.1")
    assert V("1.0.0") != "1.0.0"


# --- versions: ordering -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("1.0", "1.0.0"),  # a missing part is lower than any number
        ("1", "1.0"),
        ("1.0.0-SNAPSHOT", "1.0.0"),  # snapshot < release
        ("1.0-SNAPSHOT", "1.0"),
        ("1.0", "1.0.0-SNAPSHOT"),  # numbers decide before snapshot-ness
        ("1.0.0", "1.0.0-alpha"),  # a missing suffix is lower than any suffix
        ("1.0.0-SNAPSHOT", "1.0.0-alpha"),  # snapshot < any release suffix
        ("1.0.0-alpha", "1.0.0-beta"),
        ("1.0.0-RC1", "1.0.0-RC2"),
        ("1.0.0-Z", "1.0.0-a"),  # plain string comparison: upper case first
        ("1.0.0-10", "1.0.0-9"),  # ... and not numeric
        ("1.0.0-SNAPSHOT", "1.0.0-snapshot"),  # two snapshots compare by suffix
        ("1.0.0-SNAPSHOT", "1.0.0-SNAPSHOT-2"),
        ("1.9.9", "1.10.0"),  # numeric parts compare as numbers
        ("2147483648.0.0", "0.0.0"),  # an overflowed part compares as missing
        ("0.9", "1-SNAPSHOT"),
    ],
)
def test_ordering_pairs(low, high):
    assert V(low) < V(high)
    assert V(high) > V(low)
    assert V(low).compare(V(high)) == -1
    assert V(high).compare(V(low)) == 1


def test_sorting_a_shuffled_list_gives_the_hand_sorted_order():
    expected = [
        "0.9",
        "1",
        "1.0-SNAPSHOT",
        "1.0",
        "1.0.0-SNAPSHOT",
        "1.0.0-snapshot",
        "1.0.0",
        "1.0.0-alpha",
        "1.0.0-beta",
        "1.0.1-SNAPSHOT",
        "1.0.1",
        "1.2",
        "1.10.0",
        "2.0.0-SNAPSHOT",
        "2.0.0",
        "10.0.0",
    ]
    shuffled = expected[:]
    random.Random(7).shuffle(shuffled)
    assert [str(v) for v in sorted(map(V, shuffled))] == expected
    assert [str(v) for v in sorted(map(V, shuffled), reverse=True)] == expected[::-1]


# --- ranges -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lower", "upper", "lower_inclusive", "upper_inclusive", "canonical"),
    [
        ("[1.0.0,2.0.0)", "1.0.0", "2.0.0", True, False, "[1.0.0,2.0.0)"),
        ("(1,2]", "1", "2", False, True, "(1,2]"),
        ("[1,2]", "1", "2", True, True, "[1,2]"),
        ("(1,2)", "1", "2", False, False, "(1,2)"),
        ("1.0.0", "1.0.0", "1.0.0", True, True, "[1.0.0,1.0.0]"),
        ("3.2.0-SNAPSHOT", "3.2.0-SNAPSHOT", "3.2.0-SNAPSHOT", True, True, "[3.2.0-SNAPSHOT,3.2.0-SNAPSHOT]"),
        ("[ 1.0 , 2.0\t)", "1.0", "2.0", True, False, "[1.0,2.0)"),  # the bounds are trimmed
        ("[1.0.0,1.0.0]", "1.0.0", "1.0.0", True, True, "[1.0.0,1.0.0]"),
        # Upstream refuses only "[v,v)"; "(v,v]" and "(v,v)" parse and match nothing.
        ("(1.0.0,1.0.0]", "1.0.0", "1.0.0", False, True, "(1.0.0,1.0.0]"),
        ("(1.0.0,1.0.0)", "1.0.0", "1.0.0", False, False, "(1.0.0,1.0.0)"),
        ("[1.0.0-SNAPSHOT,1.0.0)", "1.0.0-SNAPSHOT", "1.0.0", True, False, "[1.0.0-SNAPSHOT,1.0.0)"),
    ],
)
def test_parse_ranges(text, lower, upper, lower_inclusive, upper_inclusive, canonical):
    rng = R(text)
    assert (rng.lower, rng.upper) == (V(lower), V(upper))
    assert (rng.lower_inclusive, rng.upper_inclusive) == (lower_inclusive, upper_inclusive)
    assert str(rng) == canonical
    assert R(canonical) == rng


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1.0.0)", "Invalid version range [1.0.0). Could not find ',' separating lower and upper verions."),
        ("(1.0.0", "Could not find ',' separating lower and upper verions."),
        ("[1.0.0,2.0.0", "Invalid version range [1.0.0,2.0.0. Could not find enclosing ']' or ')'."),
        ("[1.0.0,2.0.0)x", "There are extra characters after enclosing ']' or ')'."),
        ("[1.0.0,2.0.0) ", "There are extra characters after enclosing ']' or ')'."),
        ("[1.0.0,2.0.0])", "There are extra characters after enclosing ']' or ')'."),
        (
            "[2.0.0,1.0.0)",
            "Invalid version range [2.0.0,1.0.0). Lower version 2.0.0 is greater than upper version 1.0.0.",
        ),
        ("[1.0.0,1.0.0-SNAPSHOT]", "Lower version 1.0.0 is greater than upper version 1.0.0-SNAPSHOT."),
        (
            "[1.0.0,1.0.0)",
            "Invalid version range [1.0.0,1.0.0). Lower and upper versions 1.0.0 are equal, "
            "but lower is inclusive and upper is exclusive.",
        ),
        # CDAP's compareTo ties "1.0" with "01.0", so this is the same "[v,v)" error.
        ("[1.0,01.0)", "Lower and upper versions 1.0 are equal"),
        ("[latest,2.0.0)", "Invalid version range [latest,2.0.0). Lower version latest is invalid."),
        ("[,2.0.0)", "Lower version  is invalid."),
        ("[1.0.0,2.0.0_x)", "Upper version 2.0.0_x is invalid."),
        ("[1.0.0,2.0,3.0)", "Upper version 2.0,3.0 is invalid."),
        ("latest", "Could not parse 'latest' as an artifact version."),
        ("", "Could not parse '' as an artifact version."),
        (" 1.0.0", "Could not parse ' 1.0.0' as an artifact version."),  # a bare version is not trimmed
        ("1.0.0,2.0.0", "Could not parse '1.0.0,2.0.0' as an artifact version."),
    ],
)
def test_range_parse_errors(text, message):
    with pytest.raises(VersionError) as info:
        R(text)
    assert message in str(info.value)


def test_range_constructor_validates_and_defaults_like_cdap():
    rng = ArtifactRange(V("1.0.0"), V("2.0.0"))
    assert str(rng) == "[1.0.0,2.0.0)"
    with pytest.raises(VersionError, match="greater than"):
        ArtifactRange(V("2.0.0"), V("1.0.0"))
    with pytest.raises(VersionError, match="are equal"):
        ArtifactRange(V("1.0.0"), V("1.0.0"))
    assert pickle.loads(pickle.dumps(rng)) == rng  # noqa: S301 (our own bytes)
    assert hash(R("[1,2)")) == hash(R("[1,2)"))
    assert R("[1,2)") != R("[1,2]")


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        (
            "[1.0.0,2.0.0)",
            ["1.0.0", "1.5", "1.99.99", "2.0.0-SNAPSHOT", "1.0.0-beta"],
            ["1.0.0-SNAPSHOT", "2.0.0", "0.9"],
        ),
        ("(1.0.0,2.0.0]", ["1.0.0-beta", "1.0.1", "2.0.0"], ["1.0.0", "2.0.0-beta", "2.0.1"]),
        ("[1.0,1.0.0]", ["1.0", "1.0.0-SNAPSHOT", "1.0.0"], ["1", "1.0-SNAPSHOT", "1.0.0-rc1"]),
        ("1.0.0", ["1.0.0", "01.0.0", "1.00.0"], ["1.0.0-SNAPSHOT", "1.0", "1.0.1"]),
        ("(1.0.0,1.0.0]", [], ["1.0.0", "1.0.0-SNAPSHOT", "1.0.1"]),
    ],
)
def test_range_contains(text, inside, outside):
    rng = R(text)
    assert [v for v in inside if not rng.contains(V(v))] == []
    assert [v for v in outside if rng.contains(V(v))] == []


# --- range specs and parents --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "namespace", "name", "canonical"),
    [
        ("cdap-data-pipeline[3.2.0,4.0.0)", None, "cdap-data-pipeline", "cdap-data-pipeline[3.2.0,4.0.0)"),
        ("system:cdap-data-pipeline[3.2.0,4.0.0)", "system", "cdap-data-pipeline", None),
        ("my_ns:my.plugins_v2(1,2]", "my_ns", "my.plugins_v2", None),
        ("etl[ 1.0 ,2.0 )", None, "etl", "etl[1.0,2.0)"),
    ],
)
def test_parse_range_spec(text, namespace, name, canonical):
    spec = parse_range_spec(text)
    assert (spec.namespace, spec.name) == (namespace, name)
    assert str(spec) == (canonical or text)
    assert parse_range_spec(str(spec)) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("etl", "Could not find '[' or '(' indicating start of artifact lower version."),
        ("etl1.0.0", "Could not find '[' or '('"),
        ("system:etl", "Could not find '[' or '('"),
        ("[1.0.0,2.0.0)", "Artifact name '' is invalid."),
        ("my etl[1.0.0,2.0.0)", "Artifact name 'my etl' is invalid."),
        ("a:b:c[1,2)", "Artifact name 'b:c' is invalid."),
        ("my-ns:etl[1.0.0,2.0.0)", "Invalid namespace ID: my-ns."),
        (":etl[1.0.0,2.0.0)", "Invalid namespace ID: ."),
        ("etl[2.0.0,1.0.0)", "Lower version 2.0.0 is greater than upper version 1.0.0."),
        ("etl[1.0.0,2.0.0", "Could not find enclosing ']' or ')'."),
        ("etl[1.0.0,2.0.0)/", "There are extra characters"),
    ],
)
def test_parse_range_spec_errors(text, message):
    with pytest.raises(VersionError) as info:
        parse_range_spec(text)
    assert message in str(info.value)
    assert text in str(info.value)


def test_parse_parents_header():
    header = "cdap-data-pipeline[3.2.0,4.0.0)/ system:cdap-etl-realtime[3.2.0,4.0.0) "
    assert parse_parents(header) == [
        RangeSpec(None, "cdap-data-pipeline", R("[3.2.0,4.0.0)")),
        RangeSpec("system", "cdap-etl-realtime", R("[3.2.0,4.0.0)")),
    ]
    assert parse_parents("") == []
    assert parse_parents(None) == []
    # Upstream keeps parents in a Set: an identical repeat is merged, a different range is kept (and refused later).
    assert len(parse_parents("a[1,2)/a[1,2)")) == 1
    assert len(parse_parents("a[1,2)/a[1,2]")) == 2


@pytest.mark.parametrize("header", ["   ", "a[1,2)/", "a[1,2)//b[1,2)", "a[1,2)/b"])
def test_parse_parents_rejects_empty_or_bad_parts(header):
    with pytest.raises(VersionError, match="Invalid artifact range"):
        parse_parents(header)


def accepts(own_name: str, parents: str | list[RangeSpec], **kwargs) -> bool:
    """Whether ``check_parents`` accepts the parents (a header or specs); it refuses with a VersionError."""
    try:
        check_parents(own_name, parse_parents(parents) if isinstance(parents, str) else parents, **kwargs)
    except VersionError:
        return False
    return True


def test_check_parents_accepts_distinct_parents():
    assert accepts("my-plugins", "cdap-data-pipeline[1,2)/system:cdap-etl-realtime[1,2)")
    assert accepts("my-plugins", [])
    assert not accepts("my-plugins", "cdap-data-pipeline[1,2)/system:cdap-data-pipeline[1,2)")  # one name, twice


def test_check_parents_one_range_per_name():
    with pytest.raises(VersionError) as info:
        check_parents(
            "plugins", parse_parents("etlbatch[1.0.0,2.0.0)/etlbatch[3.0.0,4.0.0)/etlbatch[5,6)/x[1,2)/x[2,3)")
        )
    assert str(info.value) == (
        "Invalid parents field. Only one version range for parent 'etlbatch' can be present."
        " Only one version range for parent 'x' can be present."
    )
    # The rule is keyed on the name only, so different namespaces still clash.
    with pytest.raises(VersionError, match="Only one version range for parent 'etl'"):
        check_parents("plugins", parse_parents("system:etl[1,2)/etl[1,2)"))


def test_check_parents_merges_identical_specs_like_a_set():
    spec = parse_range_spec("etl[1,2)")
    assert accepts("plugins", [spec, spec])
    assert not accepts("plugins", [spec, parse_range_spec("etl[1,2]")])  # another range of the same parent
    # With the namespace known, "etl[...]" and "default:etl[...]" are the same parent; without it, two.
    assert accepts("plugins", "etl[1,2)/default:etl[1,2)", namespace="default")
    assert not accepts("plugins", "etl[1,2)/default:etl[1,2)")


def test_check_parents_refuses_self_parent():
    with pytest.raises(VersionError, match=r"Invalid parent 'plugins\[1,2\)' for artifact 'plugins'\. .*extend itself"):
        check_parents("plugins", parse_parents("etl[1,2)/plugins[1,2)"))
    # Self-parent wins over the duplicate rule, as upstream raises it inside the loop.
    with pytest.raises(VersionError, match="cannot extend itself"):
        check_parents("plugins", parse_parents("etl[1,2)/etl[2,3)/plugins[1,2)"))
    # Without the artifact's namespace every same-named parent is refused ...
    with pytest.raises(VersionError, match="cannot extend itself"):
        check_parents("plugins", parse_parents("system:plugins[1,2)"))
    # ... with it, only the same namespace is "itself", as upstream.
    assert accepts("plugins", "system:plugins[1,2)", namespace="default")
    with pytest.raises(VersionError, match=r"Invalid parent 'default:plugins\[1,2\)'"):
        check_parents("plugins", parse_parents("plugins[1,2)"), namespace="default")


def test_check_parents_namespace_rule_when_namespace_given():
    assert accepts("p", "default:etl[1,2)/system:base[1,2)/local[1,2)", namespace="default")
    with pytest.raises(
        VersionError, match=r"Parent artifact other:etl\[1,2\) must be in the same namespace or a system"
    ):
        check_parents("p", parse_parents("other:etl[1,2)"), namespace="default")


# --- highest and identifiers --------------------------------------------------------------------------------------


def test_highest():
    versions = [V(t) for t in ["1.0.0", "1.5.0-SNAPSHOT", "1.5.0", "2.0.0-SNAPSHOT", "2.0.0", "0.9"]]
    assert highest(versions) == V("2.0.0")
    assert highest(versions, R("[1.0.0,2.0.0)")) == V("2.0.0-SNAPSHOT")
    assert highest(versions, R("[1.0.0,1.5.0]")) == V("1.5.0")
    assert highest(versions, R("[3,4)")) is None
    assert highest([]) is None
    assert highest(iter(versions), R("1.0.0")) == V("1.0.0")


@pytest.mark.parametrize(
    ("value", "name", "ident", "namespace"),
    [
        ("abc", True, True, True),
        ("a_b", True, True, True),
        ("a-b", True, True, False),
        ("a.b", True, False, False),
        ("cdap-data-pipeline", True, True, False),
        ("", False, False, False),
        ("a:b", False, False, False),
        ("a b", False, False, False),
        ("a\n", False, False, False),
        ("é", False, False, False),
        ("a$b", False, False, False),
    ],
)
def test_identifier_rules(value, name, ident, namespace):
    assert is_valid_name(value) is name
    assert is_valid_id(value) is ident
    assert is_valid_namespace(value) is namespace


# --- properties ---------------------------------------------------------------------------------------------------

# Numbers include leading zeros and the Java int limit so that CDAP's ties and overflows come up often.
numbers = st.one_of(
    st.integers(0, 3).map(str),
    st.text("0123", min_size=1, max_size=3),
    st.sampled_from(["10", "2147483647", "2147483648"]),
)
suffixes = st.one_of(
    st.sampled_from(["SNAPSHOT", "snapshot", "SNAPSHOT-1", "Snapshot.2", "alpha", "beta", "RC1", "Z", "a", "1", "10"]),
    st.text(string.ascii_letters + string.digits + "-.", min_size=1, max_size=5),
)


@st.composite
def version_texts(draw):
    text = draw(numbers)
    for _ in range(draw(st.integers(0, 2))):
        text += "." + draw(numbers)
    if draw(st.booleans()):
        text += draw(st.sampled_from(".-")) + draw(suffixes)
    return text


def _parses(text: str) -> bool:
    try:
        V(text)
    except VersionError:
        return False
    return True


# A generated text is occasionally outside the grammar (a suffix of separators only); keep the valid ones.
versions = version_texts().filter(_parses).map(V)


def reference_key(version):
    """Contract B.1's order, written independently: missing part < any number; snapshot < release; suffix text."""
    snapshot = version.suffix is not None and version.suffix.lower().startswith("snapshot")
    parts = tuple(-1 if part is None else part for part in (version.major, version.minor, version.fix))
    return (*parts, not snapshot, version.suffix or "")


@st.composite
def ranges(draw):
    a, b = sorted([draw(versions), draw(versions)], key=reference_key)
    lower_inclusive, upper_inclusive = draw(st.booleans()), draw(st.booleans())
    assume(not (reference_key(a) == reference_key(b) and lower_inclusive and not upper_inclusive))
    return ArtifactRange(a, b, lower_inclusive, upper_inclusive)


@PROPERTY
@given(versions, versions, versions)
def test_order_is_total_and_consistent_with_equality(a, b, c):
    assert (a < b) + (a == b) + (a > b) == 1
    assert (a == b) == (a.text == b.text) == (hash(a) == hash(b) and a.text == b.text)
    if a <= b and b <= a:
        assert a == b
    if a <= b and b <= c:
        assert a <= c
    if a.compare(b) == 0:
        assert a.compare(c) == b.compare(c)


@PROPERTY
@given(versions, versions)
def test_order_refines_the_contract_order(a, b):
    expected = (reference_key(a) > reference_key(b)) - (reference_key(a) < reference_key(b))
    assert a.compare(b) == expected
    if expected:
        assert (a < b) == (expected < 0)


@PROPERTY
@given(st.lists(versions, max_size=12), st.randoms(use_true_random=False))
def test_sorting_is_independent_of_input_order(items, rnd):
    shuffled = items[:]
    rnd.shuffle(shuffled)
    assert [v.text for v in sorted(shuffled)] == [v.text for v in sorted(items)]


@PROPERTY
@given(ranges(), versions)
def test_range_contains_exactly_the_versions_between_its_bounds(rng, version):
    key, low, high = reference_key(version), reference_key(rng.lower), reference_key(rng.upper)
    above = key >= low if rng.lower_inclusive else key > low
    below = key <= high if rng.upper_inclusive else key < high
    assert rng.contains(version) == (above and below)


@PROPERTY
@given(ranges())
def test_range_text_round_trips(rng):
    text = str(rng)
    assert str(R(text)) == text
    assert R(text) == rng
    padded = f"{text[0]} {rng.lower}\t, {rng.upper} {text[-1]}"
    assert R(padded) == rng


@PROPERTY
@given(versions, versions, st.booleans(), st.booleans())
def test_inverted_or_half_open_empty_ranges_are_refused(a, b, lower_inclusive, upper_inclusive):
    text = f"{'[' if lower_inclusive else '('}{a},{b}{']' if upper_inclusive else ')'}"
    refused = reference_key(a) > reference_key(b) or (
        reference_key(a) == reference_key(b) and lower_inclusive and not upper_inclusive
    )
    if refused:
        with pytest.raises(VersionError):
            R(text)
    else:
        assert str(R(text)) == text


@PROPERTY
@given(st.lists(versions, max_size=12), st.none() | ranges())
def test_highest_is_the_max_of_the_contained_versions(items, rng):
    contained = [v for v in items if rng is None or rng.contains(v)]
    best = highest(items, rng)
    if not contained:
        assert best is None
    else:
        assert best == max(contained)
        assert all(v <= best for v in contained)
        assert all(v.compare(best) <= 0 for v in contained)


@PROPERTY
@given(st.text(max_size=30))
def test_parsers_fail_only_with_version_error(text):
    for parse, kind in ((V, ArtifactVersion), (R, ArtifactRange), (parse_range_spec, RangeSpec), (parse_parents, list)):
        try:
            result = parse(text)
        except VersionError as error:
            assert str(error)  # a refusal says why
        else:
            assert isinstance(result, kind)
            if kind is list:
                assert all(isinstance(spec, RangeSpec) for spec in result)


@PROPERTY
@given(st.text(string.printable, max_size=20))
def test_valid_versions_match_the_contract_grammar(text):
    grammar = re.fullmatch(r"([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?(?:[.\-]([a-zA-Z0-9.\-]+))?", text)
    try:
        V(text)
    except VersionError:
        assert grammar is None
    else:
        assert grammar is not None


@PROPERTY
@given(version_texts(), versions)
def test_cdap_ties_are_ordered_by_text_but_still_match_ranges(text, other):
    # A leading zero changes the text but not CDAP's compareTo: the two must differ yet sit in the same ranges.
    a, b = V(text), V("0" + text)
    assert a.compare(b) == 0
    assert a != b
    assert (a < b) != (b < a)
    assert sorted([b, a, other]) == sorted([a, other, b])
    assert R(str(a)).contains(b)
    assert R(f"[{other},{a}]").contains(b) if other.compare(a) <= 0 else R(f"[{a},{other}]").contains(b)
    with pytest.raises(VersionError, match="are equal"):
        R(f"[{a},{b})")
