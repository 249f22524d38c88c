"""Artifact archives: storing uploads, checking that a zip is safe to open, and reading its manifest.

An *artifact* is a versioned archive holding at most one application class and any number of plugins (CDAP's artifact
repository). CDAP finds them by loading the jar's classes; this platform never imports or runs uploaded code to learn
what is inside. It reads a static manifest instead:

- ``artifact.json`` at the root of a zip, or in the single ``*.dist-info/`` directory of a wheel::

      {"name": "myapp", "version": "1.0.0",
       "app": {"className": "myapp.app:MyApp", "description": "", "configSchema": {<CDAP record schema>},
               "programs": [{"type": "workers", "name": "Writer", "command": "python -m myapp.writer"},
                            {"type": "workflows", "name": "Report", "engine": "python", "code": "print(1)"}]},
       "plugins": [{"type": "batchsource", "name": "csv", "className": "myapp.plugins:CsvSource", "description": "",
                    "properties": {"path": {"name": "path", "description": "", "type": "string",
                                            "required": true, "macroSupported": true}}}],
       "parents": ["system:cdap-data-pipeline[1.0.0,2.0.0)"],
       "properties": {"author": "x"}}

- or, for a jar, ``META-INF/MANIFEST.MF``: only ``Bundle-Version`` is used (as the version). A jar declares its plugins
  with the ``Artifact-Plugins`` upload header or a later ``PUT .../versions/{v}/plugins`` (see ``plugins_from_json``),
  the way CDAP handles third-party jars without annotations. A jar has no app and no parents of its own.

When a zip holds several, the root ``artifact.json`` wins over a ``*.dist-info/artifact.json``, and both over a jar
manifest.

Rules where CDAP had none to copy (they apply to every archive, whatever the route):

- Identity (``resolve_identity``). The upload route names the artifact; a ``name`` in artifact.json is optional, and
  when present it must equal the route's name, or the upload fails with both names in the message. The version comes
  from the ``Artifact-Version`` header, else artifact.json's ``version`` (or a jar's ``Bundle-Version``), else the
  upload fails. A header version silently overrides the file's, as in CDAP, so one archive can be uploaded under
  several versions.
- Parents and plugins from headers: an ``Artifact-Extends`` header replaces the ``parents`` of artifact.json (the
  header is the more specific statement); ``Artifact-Plugins`` plugins are *added* to the manifest's
  (``merge_plugins``), and the (type, name) pairs must stay unique across both.
- Validation is strict: unknown keys are errors (so a typo such as ``"plugin"`` is not silently ignored), each naming
  the path of the field (``artifact.json: plugins[1].type is required``). JSON ``null`` counts as "absent".
- A program has a ``type`` (workers, workflows, services, spark), a ``name`` (``[a-zA-Z0-9_-]+``, unique per type), an
  optional ``description``, and either a ``command`` (a shell command) or an ``engine`` (python, shell, sql, spark) plus
  its ``code``, never both.
- A plugin has ``type`` and ``name`` (``[a-zA-Z0-9_.-]+``: they appear in URLs), a ``className`` (a Python
  ``module:Qualified.Name`` or a dotted Java class name), and optional ``description``, ``category``,
  ``configFieldName`` (default ``"config"``), ``requirements`` and ``properties``. A property's ``type`` is one of the
  CDAP names string, int, long, float, double, boolean, bytes; ``required`` defaults to true, ``macroSupported`` and
  ``macroEscapingEnabled`` to false, ``children`` (names of other properties of the same plugin) to ``[]``. A property's
  ``name`` may be omitted; it defaults to its key, and must equal it when given.
- Versions in artifact.json must parse as CDAP artifact versions (``artifacts.versions.ArtifactVersion``: ``1``,
  ``1.2.3``, ``1.2.3-SNAPSHOT``...); a jar's ``Bundle-Version`` is passed through unchecked, since a header version may
  replace it anyway (the caller checks whichever version wins).
- ``parents`` are returned as written (strings); the caller parses and checks them with ``artifacts.versions``.

Safety: uploads are untrusted. ``inspect_archive`` checks the whole central directory before reading any member
(paths, links, encryption, entry count, expansion), reads at most 1 MiB of the manifest, never extracts to disk and
never imports anything. The path, link and size rules are also what a later extraction by the runtime relies on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import struct
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artifacts.configschema import validate_schema
from artifacts.versions import ArtifactVersion, VersionError
from jobs.engines import engine_names

MANIFEST_JSON = "artifact.json"
JAR_MANIFEST = "META-INF/MANIFEST.MF"
MAX_MANIFEST_BYTES = 1024 * 1024
BOMB_MIN_ENTRY_SIZE = 1024 * 1024  # small entries compress absurdly well (a run of zeros); only big ones are a risk
# The central directory is parsed whole (into Python objects, ~10x its size) before entries can be counted, so its
# size is bounded first: generous per entry, with a floor so that a small max_entries does not reject long names.
CENTRAL_DIRECTORY_BYTES_PER_ENTRY = 1024
CENTRAL_DIRECTORY_MIN_BYTES = 64 * 1024

PROGRAM_TYPES = ("workers", "workflows", "services", "spark")
PROPERTY_TYPES = ("string", "int", "long", "float", "double", "boolean", "bytes")

_ARTIFACT_NAME = re.compile(r"[.a-zA-Z0-9_-]+")
_PROGRAM_NAME = re.compile(r"[a-zA-Z0-9_-]+")
_PLUGIN_ID = re.compile(r"[a-zA-Z0-9_.-]+")
_IDENT = r"[A-Za-z_$][A-Za-z0-9_$]*"
_CLASS_NAME = re.compile(rf"{_IDENT}(?:\.{_IDENT})*(?::{_IDENT}(?:\.{_IDENT})*)?")
_DIST_INFO_MANIFEST = re.compile(r"[^/]+\.dist-info/artifact\.json")
_DRIVE = re.compile(r"[A-Za-z]:")
_HEADER_NAME = re.compile(r"[A-Za-z0-9_-]{1,70}")

_APP_KEYS = ("className", "description", "configSchema", "programs")
_TOP_KEYS = ("name", "version", "app", "plugins", "parents", "properties")
_PROGRAM_KEYS = ("type", "name", "description", "command", "engine", "code")
PLUGIN_KEYS = ("type", "name", "className", "description", "category", "configFieldName", "properties", "requirements")
_PROPERTY_KEYS = ("name", "description", "type", "required", "macroSupported", "macroEscapingEnabled", "children")
_REQUIREMENT_KEYS = ("datasetTypes", "capabilities")
# Names from the first proposal of this format (contracts/cdap.md B.4), pointed at their replacements.
_RENAMED = {"entrypoint": "className", "pluginPackages": "plugins"}


class ArchiveError(ValueError):
    """An upload that is not a valid artifact archive; the message names the problem (and the field, for manifests)."""


@dataclass(frozen=True)
class StoredArchive:
    path: Path
    sha256: str
    size: int


def store_upload(chunks: Iterable[bytes], *, root: Path, max_bytes: int) -> StoredArchive:
    """Stream an upload to ``root/<sha[:2]>/<sha>.zip`` (deduplicated by content), refusing more than max_bytes."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    # The temp file lives in root so the final rename stays on one file system (atomic, no copy).
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".upload-", suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ArchiveError(f"archive is larger than {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())  # the bytes are on disk before the name points at them
        sha = digest.hexdigest()
        final = root / sha[:2] / f"{sha}.zip"
        final.parent.mkdir(exist_ok=True)
        if final.exists():
            tmp.unlink()  # same content already stored: content-addressed, so nothing to replace
        else:
            tmp.chmod(0o644)  # mkstemp makes 0600; stored archives are read by the runtime like other uploads
            os.replace(tmp, final)
            _fsync_dir(final.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)  # also on a client disconnect (the chunk iterator raising)
        raise
    return StoredArchive(path=final, sha256=sha, size=size)


@dataclass(frozen=True)
class Limits:
    max_entries: int = 10_000
    max_uncompressed: int = 2 * 1024**3
    max_ratio: int = 200


DEFAULT_LIMITS = Limits()


@dataclass
class Manifest:
    name: str | None
    version: str | None
    kind: str  # "artifact.json" or "jar"
    app: dict | None
    plugins: list[dict]
    parents: list[str]
    properties: dict[str, str]
    attributes: dict[str, str] = field(default_factory=dict)  # a jar's main manifest attributes, as written


def inspect_archive(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> Manifest:
    """Check that the archive at ``path`` is a safe zip, then read and validate its manifest (ArchiveError if not)."""
    with open(path, "rb") as fp:
        _check_end_record(fp, limits)
        try:
            zf = zipfile.ZipFile(fp)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError):
            raise ArchiveError("not a zip archive") from None
        with zf:
            infos = _check_entries(zf, limits)
            return _read_manifest(zf, infos)


def manifest_from_json(data: Any, *, where: str = MANIFEST_JSON) -> Manifest:
    """Validate and normalize a parsed artifact.json; errors are ArchiveError("<where>: <field path> ...")."""
    check = _Check(where)
    doc = check.obj(data, "", _TOP_KEYS)
    name = check.string(doc, "name", "name", pattern=_ARTIFACT_NAME, what="artifact name")
    version = check.string(doc, "version", "version")
    if version is not None:
        try:
            ArtifactVersion(version)
        except VersionError:
            raise check.error(
                f"version {_quoted(version)} is not a valid artifact version ([major].[minor].[fix](-|.)[suffix])"
            ) from None
    app = _app(check, doc.get("app"), "app") if doc.get("app") is not None else None
    plugins = _plugins(check, check.array(doc, "plugins", "plugins"), "plugins")
    parents = [check.text(p, f"parents[{i}]") for i, p in enumerate(check.array(doc, "parents", "parents"))]
    raw_properties = doc.get("properties")
    properties = {}
    if raw_properties is not None:
        for key, value in check.obj(raw_properties, "properties").items():
            if not key:
                raise check.error("properties: keys must not be empty")
            properties[key] = check.text(value, f"properties.{key}", allow_empty=True)
    return Manifest(name, version, MANIFEST_JSON, app, plugins, parents, properties)


def json_document(text: str | bytes, *, where: str) -> Any:
    """Parse JSON text the way manifests are read (UTF-8, a BOM allowed, duplicate keys refused)."""
    return _Check(where).parse_json(text)


def plugins_from_data(data: Any, *, where: str = "Artifact-Plugins") -> list[dict]:
    """Validate a parsed JSON list of plugins and return them normalized; ArchiveError names the bad part."""
    check = _Check(where)
    if not isinstance(data, list):
        raise check.error(f"expected a JSON list of plugins, got {_json_kind(data)}")
    return _plugins(check, data, "")


def plugins_from_json(text: str | bytes, *, where: str = "Artifact-Plugins") -> list[dict]:
    """Parse and validate a JSON list of plugins (the Artifact-Plugins header, or a PUT .../plugins body)."""
    return plugins_from_data(json_document(text, where=where), where=where)


def merge_plugins(plugins: list[dict], extra: list[dict], *, where: str = "Artifact-Plugins") -> list[dict]:
    """The manifest's plugins followed by ``extra`` (from a header); a repeated (type, name) is an ArchiveError."""
    seen = {(p["type"], p["name"]) for p in plugins}
    for i, plugin in enumerate(extra):
        if (plugin["type"], plugin["name"]) in seen:
            raise ArchiveError(f"{where}: [{i}] plugin {plugin['type']}:{plugin['name']} is already in the archive")
        seen.add((plugin["type"], plugin["name"]))
    return [*plugins, *extra]


def resolve_identity(manifest: Manifest, *, url_name: str, header_version: str | None) -> tuple[str, str]:
    """The artifact's (name, version): the route's name and the header's version win (see the module docstring)."""
    if manifest.name is not None and manifest.name != url_name:
        raise ArchiveError(f"{manifest.kind} names the artifact '{manifest.name}', but it is uploaded as '{url_name}'")
    version = (header_version or "").strip() or manifest.version
    if not version:
        source = "version in artifact.json" if manifest.kind == MANIFEST_JSON else f"Bundle-Version in {JAR_MANIFEST}"
        raise ArchiveError(f"no artifact version: send the Artifact-Version header or set {source}")
    return url_name, version


# --- zip safety ----------------------------------------------------------------------------------------------------

_END = struct.Struct("<4s4H2LH")  # end of central directory record
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")


def _check_end_record(fp, limits: Limits) -> None:
    """Bound the central directory from its end record, before zipfile parses all of it into memory.

    The record is found as zipfile finds it (no comment first, else the last signature in the last 64 KiB), so both
    read the same numbers. Anything unparseable is left to zipfile, which then refuses the file.
    """
    fp.seek(0, os.SEEK_END)
    file_size = fp.tell()
    tail_size = min(file_size, _END.size + (1 << 16))
    fp.seek(file_size - tail_size)
    tail = fp.read(tail_size)
    start = len(tail) - _END.size
    if start < 0:
        return
    if not (tail[start : start + 4] == b"PK\x05\x06" and tail[-2:] == b"\0\0"):
        start = tail.rfind(b"PK\x05\x06")
        if start < 0 or start + _END.size > len(tail):
            return
    _sig, _disk, _cd_disk, _here, entries, cd_size, _cd_offset, _comment = _END.unpack_from(tail, start)
    locator_at = file_size - tail_size + start - _END64_LOCATOR.size
    if locator_at >= _END64.size:
        fp.seek(locator_at)
        locator = fp.read(_END64_LOCATOR.size)
        if locator[:4] == b"PK\x06\x07":
            fp.seek(locator_at - _END64.size)
            record = fp.read(_END64.size)
            if record[:4] == b"PK\x06\x06":
                entries, cd_size = _END64.unpack(record)[7:9]
    if entries > limits.max_entries:
        raise ArchiveError(f"too many entries ({entries} > {limits.max_entries})")
    max_cd = max(limits.max_entries * CENTRAL_DIRECTORY_BYTES_PER_ENTRY, CENTRAL_DIRECTORY_MIN_BYTES)
    if cd_size > max_cd:
        raise ArchiveError(f"central directory is too large ({cd_size} > {max_cd} bytes)")


def _check_entries(zf: zipfile.ZipFile, limits: Limits) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise ArchiveError(f"too many entries ({len(infos)} > {limits.max_entries})")
    seen: set[str] = set()
    total = 0
    for info in infos:
        # orig_filename is the name as stored; zipfile's filename has already been cut at a NUL byte.
        name = info.orig_filename
        if _unsafe_path(name):
            raise ArchiveError(f"unsafe path {_shown(name)}")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"links are not allowed ({_shown(name)})")
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise ArchiveError(f"special files are not allowed ({_shown(name)})")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"encrypted entries are not allowed ({_shown(name)})")
        if info.filename in seen:
            raise ArchiveError(f"duplicate entry {_shown(name)}")
        seen.add(info.filename)
        total += info.file_size
        if info.file_size > BOMB_MIN_ENTRY_SIZE and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ArchiveError("archive expands too much (zip bomb?)")
    # The sizes are the archive's own claims; reading a member never yields more than its claimed size (zipfile stops
    # there and then fails the CRC), so bounding the claims bounds the work.
    if total > limits.max_uncompressed:
        raise ArchiveError("archive expands too much (zip bomb?)")
    return infos


def _unsafe_path(name: str) -> bool:
    if not name or "\0" in name or "\\" in name or name.startswith("/") or _DRIVE.match(name):
        return True
    return ".." in name.split("/")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int = MAX_MANIFEST_BYTES) -> bytes:
    if info.file_size > cap:
        raise ArchiveError(f"{info.filename} is larger than {cap} bytes")
    try:
        with zf.open(info) as fh:
            data = fh.read(cap + 1)
    except Exception as exc:  # zlib.error, lzma.LZMAError, BadZipFile, ...: all mean a corrupt member
        raise ArchiveError(f"{info.filename} cannot be read ({exc})") from None
    if len(data) > cap:
        raise ArchiveError(f"{info.filename} is larger than {cap} bytes")
    return data


def _read_manifest(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> Manifest:
    by_name = {info.filename: info for info in infos}
    if MANIFEST_JSON in by_name:
        return _json_manifest(zf, by_name[MANIFEST_JSON])
    wheel = sorted(name for name in by_name if _DIST_INFO_MANIFEST.fullmatch(name))
    if len(wheel) > 1:
        raise ArchiveError(f"more than one *.dist-info/artifact.json ({', '.join(wheel)})")
    if wheel:
        return _json_manifest(zf, by_name[wheel[0]])
    if JAR_MANIFEST in by_name:
        attributes = _parse_jar_manifest(_read_member(zf, by_name[JAR_MANIFEST]))
        version = _attribute(attributes, "Bundle-Version")
        return Manifest(None, version or None, "jar", None, [], [], {}, attributes)
    raise ArchiveError(f"no {MANIFEST_JSON} (or *.dist-info/{MANIFEST_JSON}, or {JAR_MANIFEST}) in the archive")


def _json_manifest(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Manifest:
    where = info.filename
    data = _Check(where).parse_json(_read_member(zf, info))
    return manifest_from_json(data, where=where)


def _parse_jar_manifest(raw: bytes) -> dict[str, str]:
    """The main section of a jar manifest: ``Name: value`` lines, continued by lines starting with one space."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArchiveError(f"{JAR_MANIFEST}: not UTF-8") from None
    attributes: dict[str, str] = {}
    spelled: dict[str, str] = {}  # lower-cased name -> the spelling kept in attributes
    last: str | None = None
    # Only CR, LF and CRLF end lines in a manifest (str.splitlines would also split on form feeds and the like).
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text), 1):
        if not line:
            break  # the main section ends at the first blank line; per-entry sections follow
        if line.startswith(" "):
            if last is None:
                raise ArchiveError(f"{JAR_MANIFEST}: line {number} continues nothing")
            attributes[last] += line[1:]
            continue
        key, sep, value = line.partition(": ")
        if not sep or not _HEADER_NAME.fullmatch(key):
            raise ArchiveError(f"{JAR_MANIFEST}: line {number} is not 'Name: value'")
        # Names are case-insensitive (java.util.jar.Attributes.Name); a repeat replaces the earlier value, as in Java.
        previous = spelled.pop(key.lower(), None)
        if previous is not None:
            del attributes[previous]
        spelled[key.lower()] = key
        attributes[key] = value
        last = key
    return attributes


def _attribute(attributes: dict[str, str], name: str) -> str | None:
    for key, value in attributes.items():
        if key.lower() == name.lower():
            return value.strip()
    return None


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable; directories cannot be opened for this on every platform, so it is best effort."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- manifest validation -------------------------------------------------------------------------------------------


class _Check:
    """Field readers that raise ArchiveError("<where>: <path> <problem>")."""

    def __init__(self, where: str):
        self.where = where

    def error(self, message: str) -> ArchiveError:
        return ArchiveError(f"{self.where}: {message}")

    def parse_json(self, text: str | bytes) -> Any:
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise self.error("not UTF-8") from None
        try:
            return json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except _DuplicateKey as exc:
            raise self.error(f"invalid JSON (duplicate key '{exc}')") from None
        except json.JSONDecodeError as exc:
            raise self.error(f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        except RecursionError:
            raise self.error("invalid JSON (nested too deeply)") from None

    def obj(self, value: Any, path: str, allowed: tuple[str, ...] | None = None) -> dict:
        if not isinstance(value, dict):
            raise self.error(f"{path or 'the document'} must be an object, got {_json_kind(value)}")
        for key in value if allowed is not None else ():
            if key not in allowed:
                hint = f"use {_RENAMED[key]}" if key in _RENAMED else f"expected {', '.join(allowed)}"
                raise self.error(f"{_join(path, key)} is not a known field ({hint})")
        return value

    def text(self, value: Any, path: str, *, allow_empty: bool = False) -> str:
        if not isinstance(value, str):
            raise self.error(f"{path} must be a string, got {_json_kind(value)}")
        if not allow_empty and not value.strip():
            raise self.error(f"{path} must not be empty")
        return value

    def string(
        self,
        doc: dict,
        key: str,
        path: str,
        *,
        required: bool = False,
        default: str | None = None,
        pattern: re.Pattern | None = None,
        what: str = "",
        choices: tuple[str, ...] = (),
    ) -> Any:
        value = doc.get(key)
        if value is None:
            if required:
                raise self.error(f"{path} is required")
            return default
        value = self.text(value, path, allow_empty=pattern is None and not choices and not required)
        if pattern is not None and not pattern.fullmatch(value):
            raise self.error(f"{path} {_quoted(value)} is not a valid {what} ({pattern.pattern})")
        if choices and value not in choices:
            raise self.error(f"{path} {_quoted(value)} is not one of {', '.join(choices)}")
        return value

    def boolean(self, doc: dict, key: str, path: str, default: bool) -> bool:
        value = doc.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(f"{path} must be true or false, got {_json_kind(value)}")
        return value

    def array(self, doc: dict, key: str, path: str) -> list:
        value = doc.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(f"{path} must be a list, got {_json_kind(value)}")
        return value


def _app(check: _Check, value: Any, path: str) -> dict:
    doc = check.obj(value, path, _APP_KEYS)
    class_name = check.string(doc, "className", f"{path}.className", required=True, pattern=_CLASS_NAME,
                              what="class name")  # fmt: skip
    description = check.string(doc, "description", f"{path}.description", default="")
    schema = doc.get("configSchema")
    if schema is not None:
        try:
            validate_schema(schema, where=f"{path}.configSchema")
        except ValueError as exc:
            raise check.error(str(exc)) from None
    programs = []
    seen: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(check.array(doc, "programs", f"{path}.programs")):
        program = _program(check, raw, f"{path}.programs[{i}]")
        key = (program["type"], program["name"])
        if key in seen:
            raise check.error(f"{path}.programs[{i}]: duplicate program {key[0]}/{key[1]} (also programs[{seen[key]}])")
        seen[key] = i
        programs.append(program)
    return {"className": class_name, "description": description, "configSchema": schema, "programs": programs}


def _program(check: _Check, value: Any, path: str) -> dict:
    doc = check.obj(value, path, _PROGRAM_KEYS)
    program = {
        "type": check.string(doc, "type", f"{path}.type", required=True, choices=PROGRAM_TYPES),
        "name": check.string(doc, "name", f"{path}.name", required=True, pattern=_PROGRAM_NAME, what="program name"),
        "description": check.string(doc, "description", f"{path}.description", default=""),
    }
    has_command = doc.get("command") is not None
    has_engine = doc.get("engine") is not None or doc.get("code") is not None
    if has_command and has_engine:
        raise check.error(f"{path} has both command and engine/code (give one)")
    if has_command:
        program["command"] = check.string(doc, "command", f"{path}.command", required=True)
    elif has_engine:
        program["engine"] = check.string(doc, "engine", f"{path}.engine", required=True, choices=engine_names())
        program["code"] = check.string(doc, "code", f"{path}.code", required=True)
    else:
        raise check.error(f"{path}.command is required (or engine and code)")
    return program


def _plugins(check: _Check, values: list, path: str) -> list[dict]:
    plugins = []
    seen: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(values):
        plugin = _plugin(check, raw, f"{path}[{i}]")
        key = (plugin["type"], plugin["name"])
        if key in seen:
            raise check.error(f"{path}[{i}]: duplicate plugin {key[0]}:{key[1]} (also {path}[{seen[key]}])")
        seen[key] = i
        plugins.append(plugin)
    return plugins


def _plugin(check: _Check, value: Any, path: str) -> dict:
    doc = check.obj(value, path, PLUGIN_KEYS)
    plugin: dict[str, Any] = {
        "type": check.string(doc, "type", f"{path}.type", required=True, pattern=_PLUGIN_ID, what="plugin type"),
        "name": check.string(doc, "name", f"{path}.name", required=True, pattern=_PLUGIN_ID, what="plugin name"),
    }
    category = check.string(doc, "category", f"{path}.category")
    if category is not None:
        plugin["category"] = category
    plugin["description"] = check.string(doc, "description", f"{path}.description", default="")
    plugin["className"] = check.string(doc, "className", f"{path}.className", required=True, pattern=_CLASS_NAME,
                                       what="class name")  # fmt: skip
    plugin["configFieldName"] = check.string(doc, "configFieldName", f"{path}.configFieldName", default="config")
    properties: dict[str, dict] = {}
    raw_properties = doc.get("properties")
    if raw_properties is not None:
        for key, prop in check.obj(raw_properties, f"{path}.properties").items():
            properties[key] = _property(check, key, prop, f"{path}.properties.{key}")
        for key, prop in properties.items():
            for j, child in enumerate(prop["children"]):
                if child == key or child not in properties:
                    raise check.error(f"{path}.properties.{key}.children[{j}]: '{child}' is not another property")
    plugin["properties"] = properties
    plugin["requirements"] = _requirements(check, doc.get("requirements"), f"{path}.requirements")
    return plugin


def _property(check: _Check, key: str, value: Any, path: str) -> dict:
    if not key:
        raise check.error(f"{path}: property names must not be empty")
    doc = check.obj(value, path, _PROPERTY_KEYS)
    name = check.string(doc, "name", f"{path}.name", default=key)
    if name != key:
        raise check.error(f"{path}.name '{name}' differs from its key '{key}'")
    children = check.array(doc, "children", f"{path}.children")
    return {
        "name": name,
        "description": check.string(doc, "description", f"{path}.description", default=""),
        "type": check.string(doc, "type", f"{path}.type", required=True, choices=PROPERTY_TYPES),
        "required": check.boolean(doc, "required", f"{path}.required", True),
        "macroSupported": check.boolean(doc, "macroSupported", f"{path}.macroSupported", False),
        "macroEscapingEnabled": check.boolean(doc, "macroEscapingEnabled", f"{path}.macroEscapingEnabled", False),
        "children": [check.text(c, f"{path}.children[{j}]") for j, c in enumerate(children)],
    }


def _requirements(check: _Check, value: Any, path: str) -> dict:
    if value is None:
        return {"datasetTypes": [], "capabilities": []}
    doc = check.obj(value, path, _REQUIREMENT_KEYS)
    return {
        key: [check.text(v, f"{path}.{key}[{j}]") for j, v in enumerate(check.array(doc, key, f"{path}.{key}"))]
        for key in _REQUIREMENT_KEYS
    }


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    """Reject repeated keys: JSON keeps the last silently, which would hide a half-edited manifest."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _shown(value: str) -> str:
    """A name or value for a message: as is when printable, else its escaped repr."""
    return value if value.isprintable() and value.strip() == value and value else repr(value)


def _quoted(value: str) -> str:
    return f"'{value}'" if value.isprintable() and "'" not in value else repr(value)
