"""Build artifact archives in memory for tests: a manifest plus files, as a zip, wheel or jar."""

from __future__ import annotations

import io
import json
import zipfile

WORKER_CODE = "import time\nfor _ in range(600):\n    time.sleep(0.1)\n"

SCHEMA = {
    "type": "record",
    "name": "AppConfig",
    "fields": [
        {"name": "table", "type": "string"},
        {"name": "stream", "type": ["string", "null"]},
        {"name": "batchSize", "type": ["int", "null"]},
    ],
}


def manifest(name: str = "myapp", version: str | None = "1.0.0", *, app: bool = True, **extra) -> dict:
    doc: dict = {"name": name}
    if version is not None:
        doc["version"] = version
    if app:
        doc["app"] = {
            "className": "myapp.app:MyApp",
            "description": f"{name} application",
            "configSchema": SCHEMA,
            "programs": [
                {"type": "workers", "name": "Writer", "engine": "python", "code": WORKER_CODE},
                {
                    "type": "workflows",
                    "name": "Report",
                    "engine": "python",
                    "code": "import json, os\nfrom myapp import helper\n"
                    "print('table', json.loads(os.environ['PLATFORM_APP_CONFIG'])['table'], helper.VALUE)\n",
                },
                {"type": "services", "name": "Echo", "command": "echo args=$PLATFORM_RUNTIME_ARGS; sleep 60"},
            ],
        }
    doc.update(extra)
    return doc


def plugin(type_: str = "batchsource", name: str = "csv", **properties) -> dict:
    return {
        "type": type_,
        "name": name,
        "className": f"myplugins.{name}:Plugin",
        "description": f"{name} plugin",
        "properties": properties
        or {"path": {"name": "path", "description": "A path.", "type": "string", "required": True}},
    }


def zip_bytes(doc: dict | None, files: dict[str, bytes | str] | None = None, *, manifest_name="artifact.json") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        if doc is not None:
            zf.writestr(manifest_name, json.dumps(doc))
        files = {"myapp/__init__.py": "", "myapp/helper.py": "VALUE = 42\n"} if files is None else files
        for name, content in files.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def jar_bytes(bundle_version: str | None = "2.0.0") -> bytes:
    buffer = io.BytesIO()
    lines = ["Manifest-Version: 1.0"]
    if bundle_version:
        lines.append(f"Bundle-Version: {bundle_version}")
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("META-INF/MANIFEST.MF", "\r\n".join(lines) + "\r\n")
        zf.writestr("com/mysql/jdbc/Driver.class", b"\xca\xfe\xba\xbe")
    return buffer.getvalue()
