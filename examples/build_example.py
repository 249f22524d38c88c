"""Build ``examples/myapp-1.0.0.zip`` from ``examples/myapp/``, byte for byte the same on every run and machine.

The archive is what a user would upload as an artifact: ``artifact.json`` at the root, the ``myapp`` package next to it.
Reproducibility comes from fixing everything a zip records besides the content: entry order (sorted), timestamps (the
zip epoch, 1980-01-01), permissions (0644, "made on Unix"), line endings (LF, whatever the checkout did), and the
compression: entries are *stored*, because deflate output may differ between zlib builds (zlib-ng, for one).

Usage: ``python examples/build_example.py [--check]``. It prints the archive's sha256; ``--check`` rebuilds in memory
and exits 1 if the committed archive differs.
"""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
SOURCE = EXAMPLES / "myapp"
OUTPUT = EXAMPLES / "myapp-1.0.0.zip"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
SKIPPED_DIRS = {"__pycache__"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def source_files(source: Path = SOURCE) -> list[tuple[str, Path]]:
    """The (archive name, file) pairs to pack, sorted by archive name; caches and compiled files are left out."""
    files = []
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if not path.is_file() or SKIPPED_DIRS.intersection(relative.parts) or path.suffix in SKIPPED_SUFFIXES:
            continue
        files.append((relative.as_posix(), path))
    return sorted(files)


def build_bytes(source: Path = SOURCE) -> bytes:
    """The archive's bytes, built in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, path in source_files(source):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so the mode below means what it says on every platform
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, path.read_bytes().replace(b"\r\n", b"\n"))
    return buffer.getvalue()


def build(source: Path = SOURCE, output: Path = OUTPUT) -> str:
    """Write the archive to ``output`` and return its sha256."""
    data = build_bytes(source)
    output.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str]) -> int:
    """Build the archive (or, with --check, verify it); return the exit status."""
    if "--check" in argv:
        expected = build_bytes()
        if not OUTPUT.exists() or OUTPUT.read_bytes() != expected:
            print(f"{OUTPUT.name} is out of date: run python examples/build_example.py", file=sys.stderr)
            return 1
        print(f"{hashlib.sha256(expected).hexdigest()}  {OUTPUT.name} (up to date)")
        return 0
    print(f"{build()}  {OUTPUT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
