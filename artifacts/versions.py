"""CDAP artifact versions, version ranges and parent references, with CDAP's exact semantics.

An artifact is identified by a name and a version. The version is free-form text that CDAP splits into
``[major].[minor].[fix](-|.)[suffix]``: the three numeric parts are optional after the first, and the suffix
may contain only letters, digits, ``-`` and ``.``. A version whose suffix starts with "snapshot" (any case)
is a snapshot: snapshot artifacts may be re-uploaded, every other version is immutable.

Versions are ordered by major, minor and fix (a missing part sorts below any number, so ``1.0 < 1.0.0``),
then a snapshot sorts below a release with the same numbers, then suffixes compare as plain strings (a missing
suffix sorts below any suffix, so ``1.0.0 < 1.0.0-beta``, while ``1.0.0-SNAPSHOT < 1.0.0``).

A range such as ``[1.0.0,2.0.0)`` selects versions between two bounds; a square bracket includes its bound and
a parenthesis excludes it. Plugin artifacts name the artifacts they extend ("parents") as ranges prefixed by
an artifact name and optionally a namespace: ``system:cdap-data-pipeline[6.0.0,7.0.0)``.

Sources: ``cdap-api/.../artifact/{ArtifactVersion,ArtifactVersionRange,ArtifactRange}.java``,
``cdap-proto/.../artifact/ArtifactRanges.java``, ``ArtifactHttpHandler.parseExtendsHeader`` and
``DefaultArtifactRepository.validateParentSet`` in cdapio/cdap; the platform's notes are
``contracts/cdap.md`` B.1 and B.4.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ArtifactRange",
    "ArtifactVersion",
    "RangeSpec",
    "VersionError",
    "check_parents",
    "highest",
    "is_valid_id",
    "is_valid_name",
    "is_valid_namespace",
    "parse_parents",
    "parse_range_spec",
]

SYSTEM_NAMESPACE = "system"

# CDAP's VERSION_REGEX, applied with Matcher.matches() (the whole string). Java's \d is ASCII-only, Python's
# is not, hence [0-9]: "١.0" must be invalid here as it is upstream.
_VERSION_RE = re.compile(r"([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?(?:[.\-](.*))?")
_SUFFIX_RE = re.compile(r"[a-zA-Z0-9.\-]+")
_NAME_RE = re.compile(r"[.a-zA-Z0-9_-]+")
_ID_RE = re.compile(r"[a-zA-Z0-9_-]+")
_NAMESPACE_RE = re.compile(r"[a-zA-Z0-9_]+")

# CDAP parses each numeric part with Integer.valueOf and keeps null when that overflows, so such a part
# sorts as missing while the version itself stays valid.
_JAVA_INT_MAX = 2**31 - 1

# Java's String.trim() removes every character up to U+0020, and nothing else (no U+00A0, no U+2003).
_JAVA_TRIM = "".join(chr(c) for c in range(0x21))


class VersionError(ValueError):
    """An invalid artifact version, version range, range reference or parent set."""


def _java_int(digits: str | None) -> int | None:
    if digits is None:
        return None
    value = int(digits)
    return value if value <= _JAVA_INT_MAX else None


def _nullable(value):
    # CDAP compares nullable parts with null below every value; (0,) < (1, anything) encodes that.
    return (0,) if value is None else (1, value)


@functools.total_ordering
class ArtifactVersion:
    """An artifact version, parsed and compared the way CDAP's ``ArtifactVersion`` does."""

    __slots__ = ("text", "major", "minor", "fix", "suffix", "_key")

    text: str
    major: int | None
    minor: int | None
    fix: int | None
    suffix: str | None

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"An artifact version must be a string, not {type(text).__name__}.")
        match = _VERSION_RE.fullmatch(text)
        if match is None:
            # CDAP leaves getVersion() null here; every route then rejects the version with a 400.
            raise VersionError(
                f"Invalid artifact version '{text}'. Expected [major].[minor].[fix](-|.)[suffix] "
                "with numeric major, minor and fix."
            )
        suffix = match.group(4)
        if suffix is not None and not _SUFFIX_RE.fullmatch(suffix):
            # Newer CDAP throws here; an empty suffix ("1.0.0-") fails too because the pattern needs one character.
            raise VersionError(
                f"Invalid artifact version '{text}'. The suffix of the version is not valid. "
                "It should contain only alphanumeric characters, hyphen(-) and dot(.)"
            )
        major, minor, fix = (_java_int(match.group(i)) for i in (1, 2, 3))
        snapshot = suffix is not None and suffix.lower().startswith("snapshot")
        key = (_nullable(major), _nullable(minor), _nullable(fix), not snapshot, _nullable(suffix))
        for attr, value in (
            ("text", text),
            ("major", major),
            ("minor", minor),
            ("fix", fix),
            ("suffix", suffix),
            ("_key", key),
        ):
            object.__setattr__(self, attr, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self):
        # Slots plus a blocked __setattr__ defeat the default pickle/copy protocol; rebuild from the text.
        return (type(self), (self.text,))

    @property
    def is_snapshot(self) -> bool:
        """Return whether the suffix starts with "snapshot", ignoring case (such versions are mutable)."""
        return not self._key[3]

    def compare(self, other: ArtifactVersion) -> int:
        """Return -1, 0 or 1 exactly as CDAP's ``compareTo``; 0 does not imply equal text (``1.0`` vs ``01.0``)."""
        return (self._key > other._key) - (self._key < other._key)

    def __eq__(self, other: object) -> bool:
        # CDAP's equals/hashCode use the version string only, so "1.0.0" != "01.0.0" although compareTo gives 0.
        if not isinstance(other, ArtifactVersion):
            return NotImplemented
        return self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __lt__(self, other: ArtifactVersion) -> bool:
        # CDAP's compareTo is only a preorder (it ties "1.0.0" with "1.00.0" and "1.0.0-a" with "1.0.0.a"),
        # which would make sorting depend on input order. Breaking its ties by the text gives a total order
        # consistent with ==; it never reverses a CDAP comparison, so "highest" still means CDAP's highest.
        if not isinstance(other, ArtifactVersion):
            return NotImplemented
        return (self._key, self.text) < (other._key, other.text)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"ArtifactVersion({self.text!r})"


def _check_bounds(
    text: str, lower: ArtifactVersion, upper: ArtifactVersion, lower_inclusive: bool, upper_inclusive: bool
):
    cmp = lower.compare(upper)
    if cmp > 0:
        raise VersionError(
            f"Invalid version range {text}. Lower version {lower} is greater than upper version {upper}."
        )
    # Only "[v,v)" is refused upstream; "(v,v]" and "(v,v)" are accepted and simply match nothing.
    if cmp == 0 and lower_inclusive and not upper_inclusive:
        raise VersionError(
            f"Invalid version range {text}. Lower and upper versions {lower} are equal, "
            "but lower is inclusive and upper is exclusive."
        )


@dataclass(frozen=True)
class ArtifactRange:
    """A version range; the defaults match CDAP's two-bound constructor (lower inclusive, upper exclusive)."""

    lower: ArtifactVersion
    upper: ArtifactVersion
    lower_inclusive: bool = True
    upper_inclusive: bool = False

    def __post_init__(self) -> None:
        # CDAP's constructor does not validate, only parse() does; validating here keeps every instance
        # printable as text that parses back to it.
        _check_bounds(str(self), self.lower, self.upper, self.lower_inclusive, self.upper_inclusive)

    @classmethod
    def parse(cls, text: str) -> ArtifactRange:
        """Parse ``[l,u)``-style text, or a bare version meaning ``[v,v]``, as CDAP's ``ArtifactVersionRange.parse``."""
        if not isinstance(text, str):
            raise TypeError(f"An artifact version range must be a string, not {type(text).__name__}.")
        if not text.startswith(("[", "(")):
            # Upstream does not trim a bare version, so " 1.0.0" is invalid while "[ 1.0.0,2.0.0)" is not.
            # (Upstream formats this message with the null version object and prints 'null'; we print the text.)
            try:
                version = ArtifactVersion(text)
            except VersionError:
                raise VersionError(f"Could not parse '{text}' as an artifact version.") from None
            return cls(version, version, True, True)

        lower_inclusive = text[0] == "["
        comma = text.find(",", 1)
        if comma < 0:
            # "verions" is upstream's spelling; the message is part of the 400 body clients see.
            raise VersionError(f"Invalid version range {text}. Could not find ',' separating lower and upper verions.")
        lower_text = text[1:comma].strip(_JAVA_TRIM)
        try:
            lower = ArtifactVersion(lower_text)
        except VersionError:
            raise VersionError(f"Invalid version range {text}. Lower version {lower_text} is invalid.") from None

        end = next((i for i in range(comma + 1, len(text)) if text[i] in "])"), -1)
        if end < 0:
            raise VersionError(f"Invalid version range {text}. Could not find enclosing ']' or ')'.")
        if end != len(text) - 1:
            raise VersionError(f"Invalid version range {text}. There are extra characters after enclosing ']' or ')'.")
        upper_text = text[comma + 1 : end].strip(_JAVA_TRIM)
        try:
            upper = ArtifactVersion(upper_text)
        except VersionError:
            raise VersionError(f"Invalid version range {text}. Upper version {upper_text} is invalid.") from None
        upper_inclusive = text[end] == "]"

        _check_bounds(text, lower, upper, lower_inclusive, upper_inclusive)
        return cls(lower, upper, lower_inclusive, upper_inclusive)

    def contains(self, version: ArtifactVersion) -> bool:
        """Return whether the version lies within the bounds, using CDAP's comparison (``versionIsInRange``)."""
        lower_cmp = version.compare(self.lower)
        upper_cmp = version.compare(self.upper)
        lower_ok = lower_cmp >= 0 if self.lower_inclusive else lower_cmp > 0
        upper_ok = upper_cmp <= 0 if self.upper_inclusive else upper_cmp < 0
        return lower_ok and upper_ok

    def __str__(self) -> str:
        # Always the bracketed form, as ArtifactRange.toString; a bare version therefore prints as "[v,v]".
        return f"{'[' if self.lower_inclusive else '('}{self.lower},{self.upper}{']' if self.upper_inclusive else ')'}"


@dataclass(frozen=True)
class RangeSpec:
    """One reference to a range of another artifact's versions, such as a parent in ``Artifact-Extends``."""

    namespace: str | None
    name: str
    range: ArtifactRange

    def __str__(self) -> str:
        spec = f"{self.name}{self.range}"
        return spec if self.namespace is None else f"{self.namespace}:{spec}"


def is_valid_name(name: str) -> bool:
    """Return whether ``name`` is a valid artifact name (``[.a-zA-Z0-9_-]+``)."""
    return isinstance(name, str) and _NAME_RE.fullmatch(name) is not None


def is_valid_id(name: str) -> bool:
    """Return whether ``name`` is a valid application or program id (``[a-zA-Z0-9_-]+``)."""
    return isinstance(name, str) and _ID_RE.fullmatch(name) is not None


def is_valid_namespace(name: str) -> bool:
    """Return whether ``name`` is a valid namespace id (``[a-zA-Z0-9_]+``)."""
    return isinstance(name, str) and _NAMESPACE_RE.fullmatch(name) is not None


def parse_range_spec(text: str) -> RangeSpec:
    """Parse ``name[l,u)``, ``ns:name[l,u)`` or ``system:name[l,u)`` into a ``RangeSpec``."""
    if not isinstance(text, str):
        raise TypeError(f"An artifact range must be a string, not {type(text).__name__}.")
    namespace = None
    rest = text
    # Upstream tries "ns:name[...]" first and falls back to "name[...]" on any failure. No valid unnamespaced
    # spec contains ':' (names and versions cannot), so splitting on the first ':' decides the same cases;
    # it reports the namespaced error rather than the fallback's "Artifact name 'ns:name' is invalid".
    colon = text.find(":")
    if colon >= 0:
        namespace, rest = text[:colon], text[colon + 1 :]
        if not is_valid_namespace(namespace):
            raise VersionError(
                f"Invalid artifact range {text}. Invalid namespace ID: {namespace}. "
                "Should only contain alphanumeric characters or _."
            )

    start = next((i for i, char in enumerate(rest) if char in "[("), -1)
    if start < 0:
        raise VersionError(
            f"Invalid artifact range {text}. Could not find '[' or '(' indicating start of artifact lower version."
        )
    name = rest[:start]
    if not is_valid_name(name):
        raise VersionError(f"Invalid artifact range {text}. Artifact name '{name}' is invalid.")
    try:
        rng = ArtifactRange.parse(rest[start:])
    except VersionError as error:
        # The handler wraps range errors the same way, so the message names the whole reference.
        raise VersionError(f"Invalid artifact range {text}: {error}") from None
    return RangeSpec(namespace, name, rng)


def parse_parents(header: str) -> list[RangeSpec]:
    """Parse an ``Artifact-Extends`` header (specs separated by ``/``) into parent specs, dropping exact repeats."""
    # Upstream: a missing or empty header means no parents, but a blank one is an empty (invalid) spec.
    if not header:
        return []
    parents: list[RangeSpec] = []
    for part in header.split("/"):
        spec = parse_range_spec(part.strip(_JAVA_TRIM))
        # Upstream collects parents in a Set, so an identical repeat is silently merged, not an error.
        if spec not in parents:
            parents.append(spec)
    return parents


def check_parents(own_name: str, parents: list[RangeSpec], *, namespace: str | None = None) -> None:
    """Enforce CDAP's repository-free parent rules: one range per name, no self-parent, parents in ns or system."""
    # With ``namespace`` (the artifact's own), specs without a namespace resolve to it and the rules are exactly
    # upstream's: a parent is "itself" only in the same namespace, and parents must be in that namespace or
    # system. Without it, any parent with the artifact's own name counts as itself (stricter than upstream).
    resolved: list[RangeSpec] = []
    for spec in parents:
        if namespace is not None and spec.namespace is None:
            spec = RangeSpec(namespace, spec.name, spec.range)
        if spec not in resolved:  # upstream holds parents in a Set: identical specs are one parent
            resolved.append(spec)

    # Upstream checks the namespace while parsing the header, before the other rules.
    if namespace is not None:
        for spec in resolved:
            if spec.namespace not in (namespace, SYSTEM_NAMESPACE):
                raise VersionError(f"Parent artifact {spec} must be in the same namespace or a system artifact.")
    for spec in resolved:
        if spec.name == own_name and (namespace is None or spec.namespace == namespace):
            raise VersionError(f"Invalid parent '{spec}' for artifact '{own_name}'. An artifact cannot extend itself.")

    # Upstream keys this rule on the name alone, so "system:x[1,2)" and "x[2,3)" clash too.
    seen: set[str] = set()
    dupes: list[str] = []
    for spec in resolved:
        if spec.name in seen and spec.name not in dupes:
            dupes.append(spec.name)
        seen.add(spec.name)
    if dupes:
        raise VersionError(
            "Invalid parents field."
            + "".join(f" Only one version range for parent '{name}' can be present." for name in dupes)
        )


def highest(versions: Iterable[ArtifactVersion], rng: ArtifactRange | None = None) -> ArtifactVersion | None:
    """Return the highest version, among those in ``rng`` if given, or None when there is none."""
    candidates = versions if rng is None else (v for v in versions if rng.contains(v))
    return max(candidates, default=None)
