"""The files the feature store reads and writes for its clients (``LOAD DATA INFILE``, ``SELECT ... INTO OUTFILE``),
confined to ``FEATURESTORE_FILE_ROOTS`` and, for object stores and HDFS, ``FEATURESTORE_REMOTE_ROOTS``.

A client names a path; the server reads or writes it with the platform's rights. So a path is taken only when it
lies, after every symlink is followed, inside one of the roots (colon-separated directories; default
``DATA_DIR/files``): ``..`` that climbs out, an absolute path elsewhere, a symlink pointing out of a root, a URI
scheme other than ``file://`` are refused with a message naming the roots. A relative path is relative to the first
root. An input may be a file, a directory (its files, sorted) or a pattern with ``*`` (``glob`` within the root);
an output is a file or a directory to create inside a root.

Remote data (``s3://``, ``s3a://``, ``hdfs://``, ... any fsspec filesystem) is taken only under a configured
*remote root*: ``FEATURESTORE_REMOTE_ROOTS``, comma-separated URI prefixes such as ``s3://bucket/features/`` (empty
by default: then every URI but ``file://`` is refused). A remote path must start with a root and hold no ``.`` or
``..`` segment and no ``?``, ``[`` or ``#``; ``*`` patterns and directories are listed as for local files, and each
file found must lie under the root too. The filesystems' credentials and endpoints come from their own standard
configuration (for S3: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ...), never from the
client. DuckDB reads and writes them through fsspec (``register_filesystems``), so every engine (DuckDB, and Spark,
which the offline queries feed through DuckDB) sees the same files.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

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


def _checked(uri: str) -> str:
    text = uri.strip()
    if not text:
        raise FeatureStoreError("the file path is empty")
    if "\x00" in text:
        raise FeatureStoreError("the file path holds a NUL character")
    return text


def is_remote(uri: str) -> bool:
    """Whether ``uri`` names a remote file (a scheme other than ``file://``)."""
    text = uri.strip()
    return "://" in text and not text.startswith(SCHEMES)


def _local(uri: str) -> str:
    text = _checked(uri)
    for scheme in SCHEMES:
        if text.startswith(scheme):
            return text[len(scheme) :]
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise _refuse(text, f"uses the scheme {scheme}:// (only local files and the remote roots are read here)")
    return text


def _absolute(text: str, roots: list[Path]) -> Path:
    path = Path(text)
    if any(part == ".." for part in path.parts):
        raise _refuse(text, "climbs out with ..")
    return path if path.is_absolute() else roots[0] / path


def input_files(uri: str) -> list[Path] | list[RemoteFile]:
    """The files ``uri`` names for reading: a file, a directory's files or a ``*`` pattern; each inside a root.

    Raises FeatureStoreError when the path is refused or matches no file.
    """
    if is_remote(uri):
        return _remote_inputs(uri)
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
    """``uri`` as the catalog records it: ``file://`` and an absolute path (relative paths under the first root),
    or the remote URI as it is."""
    if is_remote(uri):
        return _remote(uri)
    return "file://" + str(_absolute(_local(uri), file_roots()))


# --- remote files -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RemoteFile:
    """A file in a remote filesystem, with what the loaders use of a ``Path``: ``str()``, ``name``, ``open()``."""

    uri: str

    def __str__(self) -> str:
        return self.uri

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]

    def open(self, newline: str | None = None, encoding: str | None = None, errors: str | None = None) -> IO[Any]:
        return _filesystem(_scheme(self.uri)).open(self.uri, "rt", newline=newline, encoding=encoding, errors=errors)


def remote_roots() -> list[str]:
    """The configured remote roots, each ending with ``/``."""
    return [root if root.endswith("/") else root + "/" for root in settings.FEATURESTORE_REMOTE_ROOTS]


def _scheme(uri: str) -> str:
    return uri.split("://", 1)[0].lower()


@cache
def _filesystem(scheme: str) -> Any:
    import fsspec  # only where remote roots are configured

    try:
        # No listings cache: a directory listed after another process wrote to it must show the new files.
        return fsspec.filesystem(scheme, use_listings_cache=False, skip_instance_cache=True)
    except (ImportError, ValueError) as exc:
        raise FeatureStoreError(f"cannot use {scheme}:// files here: {exc}") from None


def register_filesystems(con: Any) -> None:
    """Let a DuckDB connection read and write the remote roots' filesystems (nothing without remote roots)."""
    for scheme in sorted({_scheme(root) for root in remote_roots()}):
        con.register_filesystem(_filesystem(scheme))


def _refuse_remote(uri: str, why: str) -> FeatureStoreError:
    roots = ", ".join(remote_roots()) or "none configured"
    return FeatureStoreError(
        f"path {uri} {why}; remote files are read and written only under {roots} (FEATURESTORE_REMOTE_ROOTS)"
    )


def _remote(uri: str, *, output: bool = False) -> str:
    """``uri`` checked against the remote roots (the error names them)."""
    text = _checked(uri)
    scheme, rest = text.split("://", 1)
    if not remote_roots():
        raise _refuse(text, f"uses the scheme {scheme}:// and no remote roots are configured")
    if any(segment in (".", "..") for segment in rest.split("/")):
        raise _refuse_remote(text, "climbs out with . or ..")
    if any(char in text for char in "?[#"):
        raise _refuse_remote(text, "holds ?, [ or # (only * patterns are listed)")
    if output and "*" in text:
        raise _refuse_remote(text, "holds a pattern (an output is one file or directory)")
    inside = [root for root in remote_roots() if text.startswith(root) or (not output and text + "/" == root)]
    if not inside:
        raise _refuse_remote(text, "is outside the remote roots")
    return text


def reach_error(uri: str, exc: Exception) -> FeatureStoreError:
    return FeatureStoreError(f"cannot reach {uri}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")


def _remote_inputs(uri: str) -> list[RemoteFile]:
    text = _remote(uri)
    scheme = _scheme(text)
    fs = _filesystem(scheme)
    try:
        if "*" in text:
            found = [(path, fs.isfile(path)) for path in fs.glob(text)]
        elif fs.isdir(text):
            found = [(entry["name"], entry["type"] == "file") for entry in fs.ls(text, detail=True)]
        else:
            found = [(text, fs.isfile(text))]
    except Exception as exc:  # noqa: BLE001 - any filesystem's failure (network, credentials) becomes a refusal
        raise reach_error(text, exc) from None
    files = []
    for path, is_file in sorted(found):
        full = path if "://" in path else f"{scheme}://{path}"
        name = full.rstrip("/").rsplit("/", 1)[-1]
        if not is_file or (full != text and name.startswith((".", "_"))):
            continue
        if not any(full.startswith(root) for root in remote_roots()):
            raise _refuse_remote(full, "is outside the remote roots")
        files.append(RemoteFile(full))
    if not files:
        raise FeatureStoreError(f"no file found at {text}")
    return files


@dataclass(frozen=True)
class RemoteOutput:
    """Where a remote output goes: its URI and filesystem (for listing and deleting part files)."""

    uri: str
    fs: Any

    def exists(self) -> bool:
        return bool(self.fs.exists(self.uri))

    def is_dir(self) -> bool:
        return bool(self.fs.isdir(self.uri))

    def children(self) -> list[str]:
        """The full URIs of the directory's files."""
        scheme = _scheme(self.uri)
        names = self.fs.ls(self.uri, detail=False) if self.is_dir() else []
        return sorted(name if "://" in name else f"{scheme}://{name}" for name in names)

    def remove(self, uris: list[str]) -> None:
        for uri in uris:
            self.fs.rm(uri, recursive=True)


def remote_output(uri: str) -> RemoteOutput:
    """Where a remote ``uri`` says to write (refused outside the remote roots, or at a root itself)."""
    text = _remote(uri, output=True).rstrip("/")
    if text + "/" in remote_roots():
        raise _refuse_remote(text, "is a remote root itself")
    return RemoteOutput(text, _filesystem(_scheme(text)))
