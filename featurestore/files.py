"""The files the feature store reads and writes for its clients (``LOAD DATA INFILE``, ``SELECT ... INTO OUTFILE``),
confined to ``FEATURESTORE_FILE_ROOTS``.

A client names a path; the server reads or writes it with the platform's rights. So a path is taken only when it
lies, after every symlink is followed, inside one of the roots (colon-separated directories; default
``DATA_DIR/files``): ``..`` that climbs out, an absolute path elsewhere, a symlink pointing out of a root, a URI
scheme other than ``file://`` are refused with a message naming the roots. A relative path is relative to the first
root. An input may be a file, a directory (its files, sorted) or a pattern with ``*`` (``glob`` within the root);
an output is a file or a directory to create inside a root.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from django.conf import settings

from featurestore.errors import FeatureStoreError

SCHEMES = ("file://",)


def file_roots() -> list[Path]:
    """The directories clients' files may live in (created when missing), each fully resolved."""
    roots = []
    for raw in settings.FEATURESTORE_FILE_ROOTS:
        root = Path(raw).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        roots.append(root.resolve())
    return roots


def _refuse(path: str, why: str) -> FeatureStoreError:
    roots = ":".join(str(root) for root in file_roots())
    return FeatureStoreError(
        f"path {path} {why}; files are read and written only under {roots} (FEATURESTORE_FILE_ROOTS)"
    )


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _local(uri: str) -> str:
    text = uri.strip()
    if not text:
        raise FeatureStoreError("the file path is empty")
    if "\x00" in text:
        raise FeatureStoreError("the file path holds a NUL character")
    for scheme in SCHEMES:
        if text.startswith(scheme):
            return text[len(scheme) :]
    if "://" in text:
        raise _refuse(text, f"uses the scheme {text.split('://', 1)[0]}:// (only local files are read here)")
    return text


def _absolute(text: str, roots: list[Path]) -> Path:
    path = Path(text)
    if any(part == ".." for part in path.parts):
        raise _refuse(text, "climbs out with ..")
    return path if path.is_absolute() else roots[0] / path


def input_files(uri: str) -> list[Path]:
    """The files ``uri`` names for reading: a file, a directory's files or a ``*`` pattern; each inside a root.

    Raises FeatureStoreError when the path is refused or matches no file.
    """
    roots = file_roots()
    text = _local(uri)
    path = _absolute(text, roots)
    if "*" in str(path) or "?" in str(path) or "[" in str(path):
        candidates = sorted(Path(match) for match in glob.glob(str(path)))
    elif path.is_dir():
        candidates = sorted(child for child in path.iterdir() if not child.name.startswith((".", "_")))
    else:
        candidates = [path]
    files = []
    for candidate in candidates:
        real = Path(os.path.realpath(candidate))
        if not _inside(real, roots):
            raise _refuse(str(candidate), "is outside the file roots")
        if real.is_file():
            files.append(real)
    if not files:
        if not _inside(Path(os.path.realpath(path)), roots):
            raise _refuse(text, "is outside the file roots")
        raise FeatureStoreError(f"no file found at {text}")
    return files


def output_path(uri: str) -> Path:
    """Where ``uri`` says to write, inside a root (the path itself may not exist yet; no symlink is followed out)."""
    roots = file_roots()
    text = _local(uri)
    path = _absolute(text, roots)
    if any(char in str(path) for char in "*?["):
        raise _refuse(text, "holds a pattern (an output is one file or directory)")
    # The deepest existing ancestor, resolved, must be inside a root; so must the path if it exists (a link).
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    real = Path(os.path.realpath(existing)) / path.relative_to(existing)
    if not _inside(real, roots) or real in roots:
        raise _refuse(text, "is outside the file roots")
    return real


def normalized(uri: str) -> str:
    """``uri`` as the catalog records it: ``file://`` and an absolute path (relative paths under the first root)."""
    return "file://" + str(_absolute(_local(uri), file_roots()))
