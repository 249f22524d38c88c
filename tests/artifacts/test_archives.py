"""Artifact archives: storing uploads, zip safety checks, artifact.json / wheel / jar manifests, plugin lists."""

import copy
import gzip
import hashlib
import importlib.util
import json
import random
import stat
import struct
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import pytest

from artifacts.archives import (
    ArchiveError,
    Limits,
    Manifest,
    inspect_archive,
    manifest_from_json,
    merge_plugins,
    plugins_from_json,
    resolve_identity,
    store_upload,
)
from artifacts.configschema import validate_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

MANIFEST = {
    "name": "myapp",
    "version": "1.0.0",
    "app": {
        "className": "myapp.app:MyApp",
        "description": "An app.",
        "configSchema": {"type": "record", "name": "MyConfig", "fields": [{"name": "table", "type": "string"}]},
        "programs": [
            {"type": "workers", "name": "Writer", "command": "echo hi"},
            {"type": "workflows", "name": "Report", "engine": "python", "code": "print(1)"},
        ],
    },
    "plugins": [
        {
            "type": "batchsource",
            "name": "csv",
            "className": "myapp.plugins:CsvSource",
            "properties": {"path": {"name": "path", "description": "A path.", "type": "string"}},
        },
        {"type": "batchsink", "name": "csv", "className": "myapp.plugins:CsvSink"},
    ],
    "parents": ["system:cdap-data-pipeline[1.0.0,2.0.0)"],
    "properties": {"author": "me"},
}


def write_zip(path: Path, entries, *, compression=zipfile.ZIP_DEFLATED) -> Path:
    """A zip of (name or ZipInfo, data) pairs, duplicates allowed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about duplicate names; some tests want them
        with zipfile.ZipFile(path, "w", compression=compression) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return path


def manifest_zip(tmp_path: Path, manifest=MANIFEST, *, extra=(), name="artifact.json") -> Path:
    text = manifest if isinstance(manifest, str | bytes) else json.dumps(manifest)
    return write_zip(tmp_path / "a.zip", [(name, text), *extra])


def central_entries(data: bytes):
    """Offsets and names of the central directory headers in a zip's bytes."""
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        yield at, data[at + 46 : at + 46 + name_len].decode()
        at = data.find(b"PK\x01\x02", at + 46 + name_len)


def error_of(func, *args, **kwargs) -> str:
    with pytest.raises(ArchiveError) as err:
        func(*args, **kwargs)
    return str(err.value)


# --- zip safety ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [random.Random(0).randbytes(4096), b"", gzip.compress(b"hello" * 100), b"PK\x03\x04 truncated"],
    ids=["random", "empty", "gzip", "truncated"],
)
def test_not_a_zip(tmp_path, body):
    path = tmp_path / "upload.zip"
    path.write_bytes(body)
    assert error_of(inspect_archive, path) == "not a zip archive"


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "a/..", "/etc/passwd", "C:/x", "c:x", "a\\b", "..\\x"])
def test_unsafe_paths(tmp_path, name):
    path = manifest_zip(tmp_path, extra=[(name, b"x")])
    assert error_of(inspect_archive, path) == f"unsafe path {name}"


def test_dots_inside_names_are_fine(tmp_path):
    path = manifest_zip(tmp_path, extra=[("a/..b/c..", b"x"), ("dir/", b"")])
    assert inspect_archive(path).name == "myapp"


def test_symlinks_are_refused(tmp_path):
    link = zipfile.ZipInfo("link")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = manifest_zip(tmp_path, extra=[(link, "/etc/passwd")])
    assert error_of(inspect_archive, path) == "links are not allowed (link)"


def test_special_files_are_refused(tmp_path):
    fifo = zipfile.ZipInfo("pipe")
    fifo.create_system = 3
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    path = manifest_zip(tmp_path, extra=[(fifo, "")])
    assert error_of(inspect_archive, path) == "special files are not allowed (pipe)"


def test_encrypted_entries_are_refused(tmp_path):
    path = manifest_zip(tmp_path, extra=[("secret.txt", b"data")])
    data = bytearray(path.read_bytes())
    for at, name in central_entries(bytes(data)):
        if name == "secret.txt":
            struct.pack_into("<H", data, at + 8, struct.unpack_from("<H", data, at + 8)[0] | 0x1)
    path.write_bytes(bytes(data))
    assert error_of(inspect_archive, path) == "encrypted entries are not allowed (secret.txt)"


def test_too_many_entries(tmp_path):
    path = manifest_zip(tmp_path, extra=[(f"f{i}", b"x") for i in range(3)])
    assert error_of(inspect_archive, path, limits=Limits(max_entries=3)) == "too many entries (4 > 3)"
    assert inspect_archive(path, limits=Limits(max_entries=4)).name == "myapp"


def test_too_many_entries_even_when_the_end_record_lies(tmp_path):
    path = manifest_zip(tmp_path, extra=[(f"f{i}", b"x") for i in range(3)])
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 1, 1)  # "1 entry", while the central directory holds 4
    path.write_bytes(bytes(data))
    assert error_of(inspect_archive, path, limits=Limits(max_entries=3)) == "too many entries (4 > 3)"


def test_zip64_end_record_is_read_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)  # makes zipfile write a zip64 end record for 3 entries
    path = manifest_zip(tmp_path, extra=[("a", b"1"), ("b", b"2")])
    monkeypatch.undo()
    assert inspect_archive(path).name == "myapp"
    data = bytearray(path.read_bytes())
    end64 = data.rfind(b"PK\x06\x06")
    assert end64 >= 0
    struct.pack_into("<QQ", data, end64 + 24, 10**6, 10**6)  # claim a million entries
    path.write_bytes(bytes(data))
    # The claim is refused from the end record alone; zipfile itself would have found 3 entries.
    assert error_of(inspect_archive, path) == "too many entries (1000000 > 10000)"


def test_central_directory_size_is_bounded_before_parsing(tmp_path):
    path = manifest_zip(tmp_path, extra=[("a" * 40_000, b""), ("b" * 40_000, b"")])
    message = error_of(inspect_archive, path, limits=Limits(max_entries=3))
    assert message.startswith("central directory is too large (")
    assert inspect_archive(path).name == "myapp"  # the default allowance is per entry, generous


def test_high_compression_ratio_is_a_bomb(tmp_path):
    path = manifest_zip(tmp_path, extra=[("zeros", b"\0" * (2 * 1024 * 1024))])
    assert error_of(inspect_archive, path) == "archive expands too much (zip bomb?)"
    # Small entries may compress as well as they like.
    small = manifest_zip(tmp_path, extra=[("zeros", b"\0" * (512 * 1024))])
    assert inspect_archive(small).name == "myapp"


def test_total_uncompressed_size_is_bounded(tmp_path):
    path = write_zip(
        tmp_path / "a.zip", [("artifact.json", "{}"), ("big", b"x" * 2000)], compression=zipfile.ZIP_STORED
    )
    assert error_of(inspect_archive, path, limits=Limits(max_uncompressed=1000)) == (
        "archive expands too much (zip bomb?)"
    )
    assert inspect_archive(path, limits=Limits(max_uncompressed=3000)).kind == "artifact.json"


def test_duplicate_entries(tmp_path):
    path = manifest_zip(tmp_path, extra=[("a.txt", b"1"), ("a.txt", b"2")])
    assert error_of(inspect_archive, path) == "duplicate entry a.txt"
    dup_manifest = write_zip(tmp_path / "b.zip", [("artifact.json", "{}"), ("artifact.json", json.dumps(MANIFEST))])
    assert error_of(inspect_archive, dup_manifest) == "duplicate entry artifact.json"


def test_safety_is_checked_before_any_member_is_read(tmp_path, monkeypatch):
    path = manifest_zip(tmp_path, "not json", extra=[("../evil", b"x")])
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, *a, **kw: opened.append(a) or real_open(self, *a, **kw))
    assert error_of(inspect_archive, path) == "unsafe path ../evil"
    assert opened == []


def test_claimed_sizes_bound_the_read(tmp_path):
    """A member that inflates to more than its declared size fails instead of being read further."""
    path = manifest_zip(tmp_path, json.dumps(MANIFEST) + " " * 5000)
    data = bytearray(path.read_bytes())
    for at, name in central_entries(bytes(data)):
        if name == "artifact.json":
            struct.pack_into("<L", data, at + 24, 100)  # uncompressed size: 100 bytes
    path.write_bytes(bytes(data))
    assert error_of(inspect_archive, path).startswith("artifact.json cannot be read (")


# --- artifact.json -------------------------------------------------------------------------------------------------


def test_artifact_json_is_read_and_normalized(tmp_path):
    manifest = inspect_archive(manifest_zip(tmp_path))
    assert manifest.kind == "artifact.json"
    assert (manifest.name, manifest.version) == ("myapp", "1.0.0")
    assert manifest.app == {
        "className": "myapp.app:MyApp",
        "description": "An app.",
        "configSchema": MANIFEST["app"]["configSchema"],
        "programs": [
            {"type": "workers", "name": "Writer", "description": "", "command": "echo hi"},
            {"type": "workflows", "name": "Report", "description": "", "engine": "python", "code": "print(1)"},
        ],
    }
    assert manifest.plugins[0] == {
        "type": "batchsource",
        "name": "csv",
        "description": "",
        "className": "myapp.plugins:CsvSource",
        "configFieldName": "config",
        "properties": {
            "path": {
                "name": "path",
                "description": "A path.",
                "type": "string",
                "required": True,
                "macroSupported": False,
                "macroEscapingEnabled": False,
                "children": [],
            }
        },
        "requirements": {"datasetTypes": [], "capabilities": []},
    }
    assert manifest.plugins[1]["properties"] == {}
    assert manifest.parents == ["system:cdap-data-pipeline[1.0.0,2.0.0)"]
    assert manifest.properties == {"author": "me"}


def test_everything_is_optional():
    assert manifest_from_json({}) == Manifest(None, None, "artifact.json", None, [], [], {})
    nulls = {"name": None, "version": None, "app": None, "plugins": None, "parents": None, "properties": None}
    assert manifest_from_json(nulls) == Manifest(None, None, "artifact.json", None, [], [], {})
    app = manifest_from_json({"app": {"className": "m:C"}}).app
    assert app == {"className": "m:C", "description": "", "configSchema": None, "programs": []}


def test_plugin_extras_are_kept():
    plugin = {
        "type": "sparkcompute",
        "name": "Wrangler",
        "className": "io.cdap.wrangler.Wrangler$Inner",
        "category": "transform",
        "configFieldName": "conf",
        "requirements": {"datasetTypes": ["table"], "capabilities": []},
        "properties": {
            "conn": {"type": "string", "children": ["host", "port"]},
            "host": {"type": "string", "macroSupported": True, "macroEscapingEnabled": True},
            "port": {"type": "int", "required": False},
        },
    }
    [normalized] = manifest_from_json({"plugins": [plugin]}).plugins
    assert normalized["category"] == "transform"
    assert normalized["configFieldName"] == "conf"
    assert normalized["requirements"] == {"datasetTypes": ["table"], "capabilities": []}
    assert normalized["properties"]["conn"]["children"] == ["host", "port"]
    assert normalized["properties"]["host"]["macroEscapingEnabled"] is True
    assert normalized["properties"]["port"]["required"] is False
    assert normalized["properties"]["port"]["name"] == "port"


def _set(path: str, value):
    """A mutation of MANIFEST: set (or, with value=..., delete) the value at a dotted path with [i] indexes."""

    def mutate(doc):
        keys = [int(k) if k.isdigit() else k for k in path.replace("[", ".").replace("]", "").split(".")]
        target = doc
        for key in keys[:-1]:
            target = target[key]
        if value is ...:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_set("name", "my app"), "artifact.json: name 'my app' is not a valid artifact name ([.a-zA-Z0-9_-]+)"),
        (_set("name", 5), "artifact.json: name must be a string, got number"),
        (_set("version", "abc"), "artifact.json: version 'abc' is not a valid artifact version"),
        (_set("version", "1.0.0-"), "artifact.json: version '1.0.0-' is not a valid artifact version"),
        (_set("version", "1.0 beta"), "artifact.json: version '1.0 beta' is not a valid artifact version"),
        (_set("version", ""), "artifact.json: version '' is not a valid artifact version"),
        (_set("plugin", []), "artifact.json: plugin is not a known field (expected name, version, app"),
        (_set("app", []), "artifact.json: app must be an object, got list"),
        (_set("app.className", ...), "artifact.json: app.className is required"),
        (_set("app.className", "not a class"), "artifact.json: app.className 'not a class' is not a valid class name"),
        (_set("app.entrypoint", "m:C"), "artifact.json: app.entrypoint is not a known field (use className)"),
        (_set("app.description", 3), "artifact.json: app.description must be a string, got number"),
        (
            _set("app.configSchema.fields[0].type", "strin"),
            "artifact.json: app.configSchema.fields[0].type: unknown type 'strin'",
        ),
        (_set("app.configSchema", {"type": "map"}), "artifact.json: app.configSchema.type: must be 'record'"),
        (_set("app.programs", {}), "artifact.json: app.programs must be a list, got object"),
        (_set("app.programs[0]", "x"), "artifact.json: app.programs[0] must be an object, got string"),
        (_set("app.programs[0].type", ...), "artifact.json: app.programs[0].type is required"),
        (
            _set("app.programs[0].type", "mapreduce"),
            "artifact.json: app.programs[0].type 'mapreduce' is not one of workers, workflows, services, spark",
        ),
        (_set("app.programs[0].name", ...), "artifact.json: app.programs[0].name is required"),
        (
            _set("app.programs[0].name", "bad name"),
            "artifact.json: app.programs[0].name 'bad name' is not a valid program name ([a-zA-Z0-9_-]+)",
        ),
        (_set("app.programs[0].engine", "shell"), "artifact.json: app.programs[0] has both command and engine/code"),
        (_set("app.programs[0].command", ...), "artifact.json: app.programs[0].command is required (or engine and"),
        (_set("app.programs[0].command", ""), "artifact.json: app.programs[0].command must not be empty"),
        (_set("app.programs[1].code", ...), "artifact.json: app.programs[1].code is required"),
        (_set("app.programs[1].engine", ...), "artifact.json: app.programs[1].engine is required"),
        (
            _set("app.programs[1].engine", "ruby"),
            "artifact.json: app.programs[1].engine 'ruby' is not one of python, shell, duckdb, spark, sql",
        ),
        (_set("app.programs[1].args", []), "artifact.json: app.programs[1].args is not a known field"),
        (
            _set("app.programs[1]", {"type": "workers", "name": "Writer", "command": "x"}),
            "artifact.json: app.programs[1]: duplicate program workers/Writer (also programs[0])",
        ),
        (_set("plugins", {}), "artifact.json: plugins must be a list, got object"),
        (_set("plugins[0]", "csv"), "artifact.json: plugins[0] must be an object, got string"),
        (_set("plugins[1].type", ...), "artifact.json: plugins[1].type is required"),
        (_set("plugins[1].type", "batch sink"), "artifact.json: plugins[1].type 'batch sink' is not a valid plugin"),
        (_set("plugins[0].name", ...), "artifact.json: plugins[0].name is required"),
        (_set("plugins[0].className", ...), "artifact.json: plugins[0].className is required"),
        (_set("plugins[0].className", "a:b:c"), "artifact.json: plugins[0].className 'a:b:c' is not a valid class"),
        (
            _set("plugins[1].type", "batchsource"),
            "artifact.json: plugins[1]: duplicate plugin batchsource:csv (also plugins[0])",
        ),
        (_set("plugins[0].properties", []), "artifact.json: plugins[0].properties must be an object, got list"),
        (_set("plugins[0].properties.path", "x"), "artifact.json: plugins[0].properties.path must be an object"),
        (_set("plugins[0].properties.path.type", ...), "artifact.json: plugins[0].properties.path.type is required"),
        (
            _set("plugins[0].properties.path.type", "char"),
            "artifact.json: plugins[0].properties.path.type 'char' is not one of string, int, long, float, double, "
            "boolean, bytes",
        ),
        (
            _set("plugins[0].properties.path.name", "file"),
            "artifact.json: plugins[0].properties.path.name 'file' differs from its key 'path'",
        ),
        (
            _set("plugins[0].properties.path.required", "yes"),
            "artifact.json: plugins[0].properties.path.required must be true or false, got string",
        ),
        (
            _set("plugins[0].properties.path.macroSupported", 1),
            "artifact.json: plugins[0].properties.path.macroSupported must be true or false, got number",
        ),
        (
            _set("plugins[0].properties.path.children", ["nope"]),
            "artifact.json: plugins[0].properties.path.children[0]: 'nope' is not another property",
        ),
        (
            _set("plugins[0].properties.path.default", "x"),
            "artifact.json: plugins[0].properties.path.default is not a known field",
        ),
        (
            _set("plugins[0].requirements", {"datasetTypes": "table"}),
            "artifact.json: plugins[0].requirements.datasetTypes must be a list, got string",
        ),
        (_set("parents", "p[1,2)"), "artifact.json: parents must be a list, got string"),
        (_set("parents[0]", 5), "artifact.json: parents[0] must be a string, got number"),
        (_set("properties", []), "artifact.json: properties must be an object, got list"),
        (_set("properties.author", 5), "artifact.json: properties.author must be a string, got number"),
    ],
)
def test_manifest_field_errors_name_the_field(mutate, message):
    doc = copy.deepcopy(MANIFEST)
    mutate(doc)
    assert error_of(manifest_from_json, doc).startswith(message)


def test_field_errors_come_through_inspect_archive(tmp_path):
    doc = copy.deepcopy(MANIFEST)
    del doc["plugins"][1]["type"]
    assert error_of(inspect_archive, manifest_zip(tmp_path, doc)) == "artifact.json: plugins[1].type is required"


@pytest.mark.parametrize("version", ["1", "1.2", "1.2.3", "1.0.0-SNAPSHOT", "2.0.0.rc1", "10.20.30-alpha.1"])
def test_valid_versions(version):
    assert manifest_from_json({"version": version}).version == version


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "artifact.json: invalid JSON (Expecting property name enclosed in double quotes at line 1"),
        (b"[]", "artifact.json: the document must be an object, got list"),
        (b'{"name": "a", "name": "b"}', "artifact.json: invalid JSON (duplicate key 'name')"),
        (b"\xff\xfe{}", "artifact.json: not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "artifact.json: invalid JSON (nested too deeply)"),
    ],
)
def test_bad_artifact_json(tmp_path, body, message):
    assert error_of(inspect_archive, manifest_zip(tmp_path, body)).startswith(message)


def test_artifact_json_with_a_bom(tmp_path):
    assert inspect_archive(manifest_zip(tmp_path, b"\xef\xbb\xbf" + json.dumps(MANIFEST).encode())).name == "myapp"


def test_artifact_json_is_read_with_a_size_cap(tmp_path):
    body = json.dumps(MANIFEST) + " " * (1024 * 1024)
    path = write_zip(tmp_path / "a.zip", [("artifact.json", body)], compression=zipfile.ZIP_STORED)
    assert error_of(inspect_archive, path) == "artifact.json is larger than 1048576 bytes"


def test_no_manifest(tmp_path):
    path = write_zip(tmp_path / "a.zip", [("readme.txt", "hi"), ("sub/artifact.json", "{}")])
    assert error_of(inspect_archive, path).startswith("no artifact.json (or *.dist-info/artifact.json, or META-INF")


# --- wheels and jars -----------------------------------------------------------------------------------------------


def test_wheel_with_dist_info_artifact_json(tmp_path):
    path = write_zip(
        tmp_path / "myapp-1.0.0-py3-none-any.whl",
        [
            ("myapp/__init__.py", ""),
            ("myapp-1.0.0.dist-info/METADATA", "Name: myapp\n"),
            ("myapp-1.0.0.dist-info/artifact.json", json.dumps(MANIFEST)),
        ],
    )
    manifest = inspect_archive(path)
    assert (manifest.kind, manifest.name, manifest.version) == ("artifact.json", "myapp", "1.0.0")
    assert len(manifest.plugins) == 2


def test_wheel_errors_name_the_member(tmp_path):
    doc = copy.deepcopy(MANIFEST)
    del doc["plugins"][0]["type"]
    path = write_zip(tmp_path / "a.whl", [("myapp-1.0.0.dist-info/artifact.json", json.dumps(doc))])
    assert error_of(inspect_archive, path) == "myapp-1.0.0.dist-info/artifact.json: plugins[0].type is required"


def test_wheel_with_two_dist_infos(tmp_path):
    path = write_zip(tmp_path / "a.whl", [("b-1.dist-info/artifact.json", "{}"), ("a-1.dist-info/artifact.json", "{}")])
    assert error_of(inspect_archive, path) == (
        "more than one *.dist-info/artifact.json (a-1.dist-info/artifact.json, b-1.dist-info/artifact.json)"
    )


def test_root_artifact_json_wins(tmp_path):
    path = write_zip(
        tmp_path / "a.zip",
        [
            ("x-1.dist-info/artifact.json", '{"name": "other"}'),
            ("META-INF/MANIFEST.MF", "Bundle-Version: 9\n"),
            ("artifact.json", '{"name": "root"}'),
        ],
    )
    assert inspect_archive(path).name == "root"


JAR_MANIFEST = (
    "Manifest-Version: 1.0\r\n"
    "Bundle-Version: 2.1.\r\n"
    " 0-SNAPSHOT\r\n"
    "Export-Package: io.cdap.plugin.first,io.cdap.plugin.second,io.cdap.plug\r\n"
    " in.third\r\n"
    "Created-By: Apache Maven\r\n"
    "\r\n"
    "Name: io/cdap/plugin/first/Source.class\r\n"
    "Bundle-Version: 9.9.9\r\n"
)


def test_jar_manifest_with_continuation_lines(tmp_path):
    path = write_zip(tmp_path / "a.jar", [("META-INF/MANIFEST.MF", JAR_MANIFEST), ("io/cdap/A.class", b"\xca\xfe")])
    manifest = inspect_archive(path)
    assert manifest == Manifest(
        name=None,
        version="2.1.0-SNAPSHOT",
        kind="jar",
        app=None,
        plugins=[],
        parents=[],
        properties={},
        attributes={
            "Manifest-Version": "1.0",
            "Bundle-Version": "2.1.0-SNAPSHOT",
            "Export-Package": "io.cdap.plugin.first,io.cdap.plugin.second,io.cdap.plugin.third",
            "Created-By": "Apache Maven",
        },
    )


def test_jar_manifest_line_endings_and_case(tmp_path):
    path = write_zip(tmp_path / "a.jar", [("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nbundle-version:  3.0.0 \n")])
    assert inspect_archive(path).version == "3.0.0"


def test_jar_manifest_repeated_names_keep_the_last(tmp_path):
    text = "Bundle-Version: 1.0\nCreated-By: x\nBUNDLE-VERSION: 2.0\n"
    manifest = inspect_archive(write_zip(tmp_path / "a.jar", [("META-INF/MANIFEST.MF", text)]))
    assert manifest.version == "2.0"
    assert manifest.attributes == {"Created-By": "x", "BUNDLE-VERSION": "2.0"}


def test_jar_without_bundle_version(tmp_path):
    path = write_zip(tmp_path / "a.jar", [("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n")])
    manifest = inspect_archive(path)
    assert (manifest.kind, manifest.version) == ("jar", None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Manifest-Version: 1.0\nnot a header\n", "META-INF/MANIFEST.MF: line 2 is not 'Name: value'"),
        ("Manifest-Version:1.0\n", "META-INF/MANIFEST.MF: line 1 is not 'Name: value'"),
        (" continued\n", "META-INF/MANIFEST.MF: line 1 continues nothing"),
        (b"Bundle-Version: \xff\n", "META-INF/MANIFEST.MF: not UTF-8"),
    ],
)
def test_bad_jar_manifests(tmp_path, text, message):
    path = write_zip(tmp_path / "a.jar", [("META-INF/MANIFEST.MF", text)])
    assert error_of(inspect_archive, path) == message


# --- plugins_from_json, merge_plugins, resolve_identity --------------------------------------------------------------


def test_plugins_from_json():
    body = json.dumps([{"name": "Table", "type": "batchsource", "className": "io.cdap.plugin.Table"}]).encode()
    assert plugins_from_json(body) == [
        {
            "type": "batchsource",
            "name": "Table",
            "description": "",
            "className": "io.cdap.plugin.Table",
            "configFieldName": "config",
            "properties": {},
            "requirements": {"datasetTypes": [], "capabilities": []},
        }
    ]
    assert plugins_from_json("[]") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[{", "Artifact-Plugins: invalid JSON ("),
        ('{"name": "a"}', "Artifact-Plugins: expected a JSON list of plugins, got object"),
        ("[5]", "Artifact-Plugins: [0] must be an object, got number"),
        ('[{"name": "a", "className": "A"}]', "Artifact-Plugins: [0].type is required"),
        ('[{"name": "a", "type": "t"}]', "Artifact-Plugins: [0].className is required"),
        (
            '[{"name": "a", "type": "t", "className": "A", "properties": {"p": {"type": "list"}}}]',
            "Artifact-Plugins: [0].properties.p.type 'list' is not one of string",
        ),
        (
            '[{"name": "a", "type": "t", "className": "A"}, {"name": "a", "type": "t", "className": "B"}]',
            "Artifact-Plugins: [1]: duplicate plugin t:a (also [0])",
        ),
    ],
)
def test_plugins_from_json_errors(text, message):
    assert error_of(plugins_from_json, text).startswith(message)


def test_plugins_from_json_where():
    assert error_of(plugins_from_json, "{}", where="plugins body") == (
        "plugins body: expected a JSON list of plugins, got object"
    )


def test_merge_plugins():
    own = manifest_from_json(MANIFEST).plugins
    extra = plugins_from_json('[{"name": "t", "type": "batchsink", "className": "a.B"}]')
    assert [(p["type"], p["name"]) for p in merge_plugins(own, extra)] == [
        ("batchsource", "csv"),
        ("batchsink", "csv"),
        ("batchsink", "t"),
    ]
    clash = plugins_from_json('[{"name": "csv", "type": "batchsink", "className": "a.B"}]')
    assert error_of(merge_plugins, own, clash) == "Artifact-Plugins: [0] plugin batchsink:csv is already in the archive"


def test_resolve_identity():
    manifest = manifest_from_json(MANIFEST)
    assert resolve_identity(manifest, url_name="myapp", header_version=None) == ("myapp", "1.0.0")
    assert resolve_identity(manifest, url_name="myapp", header_version="2.0.0") == ("myapp", "2.0.0")
    assert error_of(resolve_identity, manifest, url_name="other", header_version="1.0.0") == (
        "artifact.json names the artifact 'myapp', but it is uploaded as 'other'"
    )
    nameless = manifest_from_json({})
    assert resolve_identity(nameless, url_name="any", header_version=" 3.0 ") == ("any", "3.0")
    assert error_of(resolve_identity, nameless, url_name="any", header_version="") == (
        "no artifact version: send the Artifact-Version header or set version in artifact.json"
    )
    jar = Manifest(None, None, "jar", None, [], [], {})
    assert error_of(resolve_identity, jar, url_name="j", header_version=None).endswith(
        "Bundle-Version in META-INF/MANIFEST.MF"
    )


# --- store_upload --------------------------------------------------------------------------------------------------


def test_store_upload_writes_the_content_under_its_hash(tmp_path):
    chunks = [b"hello ", b"", b"world"]
    stored = store_upload(iter(chunks), root=tmp_path / "store", max_bytes=100)
    sha = hashlib.sha256(b"hello world").hexdigest()
    assert stored.sha256 == sha
    assert stored.size == 11
    assert stored.path == tmp_path / "store" / sha[:2] / f"{sha}.zip"
    assert stored.path.read_bytes() == b"hello world"
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o644


def test_store_upload_deduplicates(tmp_path):
    first = store_upload([b"same"], root=tmp_path, max_bytes=100)
    mtime = first.path.stat().st_mtime_ns
    second = store_upload([b"sa", b"me"], root=tmp_path, max_bytes=100)
    assert second == first
    assert first.path.stat().st_mtime_ns == mtime  # the stored file was kept, not replaced
    other = store_upload([b"other"], root=tmp_path, max_bytes=100)
    assert other.path != first.path
    # Nothing but the two archives (no temp files left behind).
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted([first.path.name, other.path.name])


def test_store_upload_size_cap(tmp_path):
    assert store_upload([b"12345", b"67890"], root=tmp_path, max_bytes=10).size == 10
    with pytest.raises(ArchiveError, match=r"^archive is larger than 9 bytes$"):
        store_upload([b"12345", b"67890"], root=tmp_path / "capped", max_bytes=9)
    assert [p for p in (tmp_path / "capped").rglob("*")] == []


def test_store_upload_cleans_up_when_the_stream_fails(tmp_path):
    def chunks():
        yield b"partial"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store_upload(chunks(), root=tmp_path, max_bytes=100)
    assert list(tmp_path.iterdir()) == []


def test_store_upload_streams_in_small_memory(tmp_path):
    chunk = random.Random(1).randbytes(64 * 1024)
    count = 800  # 50 MiB

    def chunks():
        for _ in range(count):
            yield chunk

    tracemalloc.start()
    try:
        stored = store_upload(chunks(), root=tmp_path, max_bytes=100 * 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024
    assert stored.size == count * len(chunk)
    expected = hashlib.sha256()
    for _ in range(count):
        expected.update(chunk)
    assert stored.sha256 == expected.hexdigest()


def test_stored_upload_inspects(tmp_path):
    body = manifest_zip(tmp_path).read_bytes()
    stored = store_upload([body[i : i + 100] for i in range(0, len(body), 100)], root=tmp_path / "s", max_bytes=10**6)
    assert inspect_archive(stored.path).name == "myapp"


# --- the example artifact ------------------------------------------------------------------------------------------


def test_example_archive_inspects_cleanly():
    manifest = inspect_archive(EXAMPLES / "myapp-1.0.0.zip")
    source = json.loads((EXAMPLES / "myapp" / "artifact.json").read_text())
    assert manifest == manifest_from_json(source)
    assert (manifest.name, manifest.version) == ("myapp", "1.0.0")
    assert manifest.app["className"] == "myapp.app:PurchaseDump"
    assert [(p["type"], p["name"]) for p in manifest.app["programs"]] == [
        ("workers", "Writer"),
        ("workflows", "Report"),
    ]
    assert "$PLATFORM_APP_CONFIG" in manifest.app["programs"][0]["command"]
    assert manifest.app["programs"][1]["engine"] == "python"
    assert [(p["type"], p["name"]) for p in manifest.plugins] == [("batchsource", "csv")]
    assert len(manifest.plugins[0]["properties"]) == 2
    assert manifest.properties == {"author": "examples"}
    schema = manifest.app["configSchema"]
    assert validate_config(schema, {"table": "purchases", "batchSize": 100}) == []
    assert validate_config(schema, {"table": "purchases"}) == ["config.batchSize: required field is missing"]


def test_example_archive_is_reproducible():
    spec = importlib.util.spec_from_file_location("build_example", EXAMPLES / "build_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build_bytes()
    assert built == (EXAMPLES / "myapp-1.0.0.zip").read_bytes(), "run python examples/build_example.py"
    with zipfile.ZipFile(EXAMPLES / "myapp-1.0.0.zip") as zf:
        assert zf.namelist() == ["artifact.json", "myapp/__init__.py", "myapp/app.py", "myapp/plugins.py"]
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
