"""The database's version order: hex sort keys order versions exactly as ``ArtifactVersion`` does, and a range's
sort-key bounds keep exactly the versions ``ArtifactRange.contains`` keeps."""

from hypothesis import given
from hypothesis import strategies as st

from artifacts.selectors import range_filter, version_order_prefix, version_sort_key
from tests.artifacts.test_versions import PROPERTY, ranges, versions


@PROPERTY
@given(versions, versions)
def test_sort_keys_order_like_versions(a, b):
    assert (version_sort_key(a) < version_sort_key(b)) == (a < b)
    assert (version_sort_key(a) == version_sort_key(b)) == (a == b)
    assert set(version_sort_key(a)) <= set("0123456789abcdef")  # safe under any database collation
    assert (version_order_prefix(a) == version_order_prefix(b)) == (a.compare(b) == 0)


def _within(q, key: str) -> bool:
    """Evaluate range_filter's Q (an AND of sort_key comparisons) on one key, as the database would."""
    ops = {"gte": key.__ge__, "gt": key.__gt__, "lt": key.__lt__}
    return all(ops[lookup.split("__")[1]](bound) for lookup, bound in q.children)


@PROPERTY
@given(ranges(), st.lists(versions, min_size=1, max_size=20))
def test_range_bounds_keep_exactly_the_versions_in_range(version_range, candidates):
    q = range_filter(version_range)
    for version in [*candidates, version_range.lower, version_range.upper]:
        assert _within(q, version_sort_key(version)) == version_range.contains(version)
