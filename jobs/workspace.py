"""Users' workspaces: a directory of saved scripts and files per user, and every file operation on it.

Each user has one directory, ``LINKIS_WORKSPACE_ROOT/<username>``, created on first use. Clients name paths in it
as Linkis does, ``file:///<root>/<username>/<rest>`` (or the same path without the scheme); nothing here knows any
other wire format. Every function takes the client's path as given and confines it first (``_locate``):

- a NUL byte, a scheme other than ``file`` (``hdfs`` is refused with its own reason: there is no HDFS here), a
  ``file://`` authority, a relative path or any ``..`` component is refused;
- the path must lie, component by component, inside the caller's own directory (not the root of all workspaces,
  not a sibling whose name starts alike);
- symbolic links are followed only where they stay inside: the real path of what is read or written, and of the
  directory an entry is created, renamed or deleted in, must be inside the caller's directory too. Files are read
  through a descriptor whose real path is checked again after it was opened.

Percent signs are not decoded again: ``%2e%2e`` is a name, as in Linkis's ``FsPath``. Nothing but this module writes
a workspace (job code runs sandboxed with ``DATA_DIR`` hidden), so a path checked here stays what it was checked as.

Writes are atomic: content goes to a temporary file in the same directory (its name starts with ``TEMP_PREFIX`` and
is never listed), which is then renamed over the target (``saveScript``) or linked to a name that must not exist yet
(``createNewFile``, ``upload``). The module holds the workspace's reads as well as its writes, since both go through
the same confinement; it raises the ``ApplicationError`` family with the ``code`` values below and never builds a
wire answer.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from django.conf import settings

from dataplatform.api.exceptions import (
    ApplicationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)

# ``code`` of the errors raised here (the wire maps each to its own numbers and texts).
PATH_EMPTY = "path_empty"  # no path given
OUTSIDE = "outside"  # the path is not inside the caller's workspace
NO_HDFS = "no_hdfs"  # an hdfs:// path: this platform has no HDFS
NO_WORKSPACE = "no_workspace"  # the user's name cannot be a directory name
EXISTS = "exists"  # the target of a create or rename exists
MISSING = "missing"  # the file or directory does not exist
IS_ROOT = "is_root"  # the workspace's own directory cannot be renamed or deleted
BAD_NAME = "bad_name"  # a name with control characters, or reserved
NOT_A_FILE = "not_a_file"  # a directory where a file is needed
NOT_A_DIR = "not_a_dir"  # a file where a directory is needed
UNSUPPORTED_TYPE = "unsupported_type"  # openFile of a file type Linkis does not open
TOO_LARGE = "too_large"  # a file above the size this operation accepts
IO_FAILED = "io_failed"  # the operating system refused (the message says why)

SCHEME = "file://"
TEMP_PREFIX = ".linkis-tmp-"
COPY_CHUNK = 1024 * 1024

#: Suffixes Linkis's ``FileSource`` opens (``wds.linkis.storage.file.type``).
OPENABLE_SUFFIXES = "dolphin,sql,scala,py,py3,hql,python,out,log,text,sh,jdbc,ngql,psql,fql,tsql,txt,aisql".split(",")
#: Largest file ``openFile`` shows (``linkis.filesystem.file.size.limit``, 30M); bigger ones are downloaded.
OPEN_MAX_BYTES = 30 * 1024 * 1024

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


@dataclass(frozen=True)
class Location:
    """A confined path: ``uri`` as clients name it, ``entry`` (the directory entry itself: its parent's real path
    and its name, so a link is renamed or deleted as a link) and ``real`` (what it points to)."""

    root: Path
    entry: Path
    real: Path
    uri: str

    @property
    def is_root(self) -> bool:
        return self.entry == self.root

    def check_new_names(self, raw: str | None) -> None:
        """Refuse to create a path with a name that is not allowed in any of its components."""
        for name in Path(self.uri[len(SCHEME) :]).relative_to(self.root).parts:
            _check_name(name, raw)


@dataclass(frozen=True)
class Entry:
    name: str
    uri: str
    is_dir: bool
    size: int
    modified_ms: int


@dataclass(frozen=True)
class Listing:
    name: str
    uri: str
    children: list[Entry]


def _error(kind: type[ApplicationError], code: str, message: str, path: str | None = None) -> ApplicationError:
    return kind(message, code=code, extra={"path": path})


def workspaces_root() -> Path:
    """The directory holding every user's workspace (its real path)."""
    return Path(os.path.realpath(settings.LINKIS_WORKSPACE_ROOT))


def _user_root(user) -> Path:
    name = user.get_username()
    if not name or name in (".", "..") or "/" in name or _CONTROL.search(name):
        raise _error(ApplicationError, NO_WORKSPACE, f"User {name!r} cannot have a workspace.", name)
    return workspaces_root() / name


def _ensure_root(root: Path) -> None:
    """Create a user's directory on first use; refuse one that is not a real directory of its own."""
    try:
        root.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the root of all workspaces: the server's alone
        root.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise _io_error(exc, str(root)) from None
    if os.path.realpath(root) != str(root) or not root.is_dir():
        raise _error(ForbiddenError, OUTSIDE, "The workspace directory is not a directory of its own.", str(root))


def _parse(raw: str | None) -> str:
    """The absolute, normalised local path a client's path names (no scheme, no ``.``/``..``/empty components)."""
    if raw is None or raw == "":
        raise _error(InvalidInputError, PATH_EMPTY, "The path is empty.", raw)
    if "\x00" in raw:
        raise _error(ForbiddenError, OUTSIDE, "A path cannot contain a NUL byte.", raw)
    rest = raw
    scheme = _SCHEME.match(raw)
    if scheme:
        name = scheme.group(0)[:-1].lower()
        if name == "hdfs":
            raise _error(ApplicationError, NO_HDFS, "There is no HDFS on this platform.", raw)
        if name != "file":
            raise _error(ForbiddenError, OUTSIDE, f"Paths of scheme {name} are not served here.", raw)
        rest = raw[len(scheme.group(0)) :]
        if rest.startswith("//"):
            rest = rest[2:]  # file:///x: an empty authority; file://host/x is left relative, so refused below
    if not rest.startswith("/"):
        raise _error(ForbiddenError, OUTSIDE, "The path must be absolute.", raw)
    parts = [part for part in rest.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _error(ForbiddenError, OUTSIDE, "The path cannot contain '..'.", raw)
    return "/" + "/".join(parts)


def _inside(path: str | Path, root: Path) -> bool:
    path = str(path)
    return path == str(root) or path.startswith(str(root) + "/")


def is_workspace_path(raw: str | None) -> bool:
    """Whether a client's path addresses the workspaces at all (any user's, even with ``..`` or a NUL byte in it), so
    a route serving other files too (job result sets) knows which it is asked about. Paths under ``JOBS_DIR`` never
    are; ``hdfs://`` paths are (they are refused here, with their own reason)."""
    if not raw:
        return False
    rest = raw
    scheme = _SCHEME.match(raw)
    if scheme:
        name = scheme.group(0)[:-1].lower()
        if name != "file":
            return name == "hdfs"
        rest = raw[len(scheme.group(0)) :]
        rest = rest[2:] if rest.startswith("//") else rest
    if not rest.startswith("/"):
        return False
    local = "/" + "/".join(part for part in rest.split("/") if part not in ("", "."))
    jobs = settings.JOBS_DIR
    if _inside(local, Path(os.path.abspath(jobs))) or _inside(local, Path(os.path.realpath(jobs))):
        return False
    return any(_inside(local, base) for base in _bases())


def _bases() -> list[Path]:
    configured = Path(os.path.abspath(settings.LINKIS_WORKSPACE_ROOT))
    real = workspaces_root()
    return [configured] if configured == real else [configured, real]


def _locate(user, raw: str | None) -> Location:
    local = _parse(raw)
    root = _user_root(user)
    for base in _bases():
        if _inside(local, base):
            candidate = Path(str(workspaces_root()) + local[len(str(base)) :])
            break
    else:
        raise _error(ForbiddenError, OUTSIDE, "The path is outside the user's workspace.", raw)
    if not _inside(candidate, root):
        raise _error(ForbiddenError, OUTSIDE, "The path is outside the user's workspace.", raw)
    _ensure_root(root)
    if candidate == root:
        return Location(root=root, entry=root, real=root, uri=SCHEME + str(root))
    parent = Path(os.path.realpath(candidate.parent))
    real = Path(os.path.realpath(candidate))
    if not _inside(parent, root) or not _inside(real, root):
        raise _error(ForbiddenError, OUTSIDE, "The path leads outside the user's workspace.", raw)
    return Location(root=root, entry=parent / candidate.name, real=real, uri=SCHEME + str(candidate))


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _io_error(exc: OSError, path: str | None) -> ApplicationError:
    """The operating system's refusal, in its words (``strerror``: no file name, which the client gave anyway)."""
    return _error(ApplicationError, IO_FAILED, exc.strerror or type(exc).__name__, path)


def _check_name(name: str, raw: str | None) -> None:
    if _CONTROL.search(name) or name.startswith(TEMP_PREFIX):
        raise _error(InvalidInputError, BAD_NAME, f"The name {name!r} is not allowed.", raw)
    if len(name.encode("utf-8", "surrogateescape")) > 255:
        raise _error(InvalidInputError, BAD_NAME, "The name is longer than 255 bytes.", raw)


# --- reads ------------------------------------------------------------------------------------------------------
def workspace_root_uri(*, user) -> str:
    """The user's workspace as clients name it (``file:///<root>/<username>``), created on first use."""
    root = _user_root(user)
    _ensure_root(root)
    return SCHEME + str(root)


def workspace_exists(*, user, path: str | None) -> bool:
    return os.path.lexists(_locate(user, path).entry)


def workspace_list(*, user, path: str | None) -> Listing | None:
    """A directory's entries (directories and files, by name), or None when it does not exist.

    Links that lead outside the workspace are left out, as are the temporary files of writes under way.
    """
    location = _locate(user, path)
    if not location.real.exists():
        return None
    children: list[Entry] = []
    if location.real.is_dir():
        try:
            scanned = sorted(os.scandir(location.real), key=lambda entry: entry.name)
        except OSError as exc:
            raise _io_error(exc, path) from None
        for entry in scanned:
            if entry.name.startswith(TEMP_PREFIX) or not _utf8(entry.name):
                continue  # a write under way; a name that is not UTF-8 (not made here: clients could not name it)
            if entry.is_symlink() and not _inside(os.path.realpath(entry.path), location.root):
                continue
            try:
                info = entry.stat()
            except OSError:
                continue  # a dangling link, or gone since the scan
            children.append(
                Entry(
                    name=entry.name,
                    uri=location.uri + "/" + entry.name,
                    is_dir=stat.S_ISDIR(info.st_mode),
                    size=info.st_size,
                    modified_ms=int(info.st_mtime * 1000),
                )
            )
    return Listing(name=Path(location.uri[len(SCHEME) :]).name, uri=location.uri, children=children)


def _open_confined(location: Location, raw: str | None) -> BinaryIO:
    """Open a file for reading and check again, on the open descriptor, that it is a file inside the workspace."""
    if not os.path.lexists(location.entry):
        raise _error(NotFoundError, MISSING, "The file does not exist.", raw)
    if location.real.is_dir():
        raise _error(InvalidInputError, NOT_A_FILE, "The path is a directory.", raw)
    try:
        fd = os.open(location.real, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise _io_error(exc, raw) from None
    try:
        opened = os.fstat(fd)
        held = f"/proc/self/fd/{fd}"
        real = os.readlink(held) if os.path.exists(held) else str(location.real)
        if not stat.S_ISREG(opened.st_mode) or not _inside(real, location.root):
            raise _error(ForbiddenError, OUTSIDE, "The path leads outside the user's workspace.", raw)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def workspace_read(*, user, path: str | None) -> tuple[str, bytes]:
    """A file that ``openFile`` shows: its name and bytes (Linkis's openable types, up to ``OPEN_MAX_BYTES``)."""
    location = _locate(user, path)
    name = location.entry.name
    if not any(name.endswith("." + suffix) for suffix in OPENABLE_SUFFIXES):
        if not os.path.lexists(location.entry):
            raise _error(NotFoundError, MISSING, "The file does not exist.", path)
        raise _error(InvalidInputError, UNSUPPORTED_TYPE, "Unsupported open file type.", path)
    with _open_confined(location, path) as file:
        if os.fstat(file.fileno()).st_size > OPEN_MAX_BYTES:
            raise _error(InvalidInputError, TOO_LARGE, "The file is too large to open.", path)
        return name, file.read(OPEN_MAX_BYTES + 1)


def workspace_open_download(*, user, path: str | None) -> tuple[BinaryIO, str, int]:
    """An open file to download, its name and size (the caller closes it)."""
    location = _locate(user, path)
    file = _open_confined(location, path)
    return file, location.entry.name, os.fstat(file.fileno()).st_size


def workspace_line_count(*, user, path: str | None, limit: int) -> int:
    """How many lines a file has, counting up to ``limit`` (``fileInfo``)."""
    with _open_confined(_locate(user, path), path) as file:
        count, last = 0, b"\n"
        while count < limit and (chunk := file.read(COPY_CHUNK)):
            count += chunk.count(b"\n")
            last = chunk[-1:]
        if count < limit and last != b"\n":
            count += 1  # a last line without its newline
        return min(count, limit)


# --- writes -----------------------------------------------------------------------------------------------------
def workspace_create_dir(*, user, path: str | None) -> str:
    """Create a directory, and its missing parents (Linkis's ``mkdirs``); the path must not exist yet."""
    location = _locate(user, path)
    location.check_new_names(path)
    if os.path.lexists(location.entry):
        raise _error(ConflictError, EXISTS, "The directory exists.", path)
    try:
        os.makedirs(location.real, mode=0o755)
    except FileExistsError:
        raise _error(ConflictError, EXISTS, "The directory exists.", path) from None
    except OSError as exc:
        raise _io_error(exc, path) from None
    return location.uri


def _parent_dir(location: Location, raw: str | None) -> Path:
    parent = location.entry.parent
    if not parent.is_dir():
        try:
            os.makedirs(parent, mode=0o755, exist_ok=True)
        except FileExistsError:
            raise _error(InvalidInputError, NOT_A_DIR, "A parent of the path is a file.", raw) from None
        except OSError as exc:
            raise _io_error(exc, raw) from None
    if not _inside(os.path.realpath(parent), location.root):
        raise _error(ForbiddenError, OUTSIDE, "The path leads outside the user's workspace.", raw)
    return parent


def _write_temp(directory: Path, chunks: Iterable[bytes], *, limit: int, raw: str | None) -> Path:
    """Write chunks to a new temporary file in ``directory`` (flushed to disk); refuse more than ``limit`` bytes."""
    temp = directory / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise _io_error(exc, raw) from None
    try:
        written = 0
        with os.fdopen(fd, "wb") as file:
            for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise _error(InvalidInputError, TOO_LARGE, f"The file is larger than {limit} bytes.", raw)
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise _io_error(exc, raw) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _place_new(temp: Path, target: Path, raw: str | None) -> None:
    """Give a written temporary file its name, which must not exist yet: a hard link fails on an existing name.

    Where the filesystem has no hard links, the name is reserved with an exclusive create and the content renamed
    over it (readers may then see it empty for that moment, never half written).
    """
    try:
        try:
            os.link(temp, target, follow_symlinks=False)
        except FileExistsError:
            raise _error(ConflictError, EXISTS, "The file exists.", raw) from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
                raise _io_error(exc, raw) from None
            try:
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
            except FileExistsError:
                raise _error(ConflictError, EXISTS, "The file exists.", raw) from None
            except OSError as reserve:
                raise _io_error(reserve, raw) from None
            try:
                os.replace(temp, target)
            except OSError as exc2:
                raise _io_error(exc2, raw) from None
    finally:
        temp.unlink(missing_ok=True)


def workspace_create_file(*, user, path: str | None) -> str:
    """Create an empty file (and missing parent directories); the path must not exist yet."""
    location = _locate(user, path)
    location.check_new_names(path)
    if os.path.lexists(location.entry):
        raise _error(ConflictError, EXISTS, "The file exists.", path)
    parent = _parent_dir(location, path)
    _place_new(_write_temp(parent, [], limit=0, raw=path), location.entry, path)
    return location.uri


def workspace_write(*, user, path: str | None, content: bytes, limit: int) -> str:
    """Replace an existing file's content atomically (``saveScript``: the file must exist and be a file)."""
    location = _locate(user, path)
    if not os.path.lexists(location.entry):
        raise _error(NotFoundError, MISSING, "The file does not exist.", path)
    if location.real.is_dir():
        raise _error(InvalidInputError, NOT_A_FILE, "The path is a directory.", path)
    if len(content) > limit:
        raise _error(InvalidInputError, TOO_LARGE, f"The file is larger than {limit} bytes.", path)
    directory = location.real.parent  # through a link inside the workspace, the file it points to is replaced
    temp = _write_temp(directory, [content], limit=limit, raw=path)
    try:
        os.replace(temp, location.real)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise _io_error(exc, path) from None
    return location.uri


def _chunks(source: Readable) -> Iterator[bytes]:
    while chunk := source.read(COPY_CHUNK):
        yield chunk


def workspace_upload(*, user, path: str | None, files: list[tuple[str, Readable]], limit: int) -> list[str]:
    """Store uploaded files in a directory of the workspace, each under its own name, none over an existing one.

    Every name is checked (a bare name: no ``/``, not ``.`` or ``..``) and every target must be free before the
    first is written; each file is then written atomically.
    """
    location = _locate(user, path)
    if not location.real.exists():
        raise _error(NotFoundError, MISSING, "The directory does not exist.", path)
    if not location.real.is_dir():
        raise _error(InvalidInputError, NOT_A_DIR, "The path is not a directory.", path)
    targets = []
    for name, source in files:
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            raise _error(InvalidInputError, BAD_NAME, f"The file name {name!r} is not allowed.", path)
        _check_name(name, path)
        target = location.real / name
        if os.path.lexists(target):
            raise _error(ConflictError, EXISTS, "The file exists.", f"{location.uri}/{name}")
        targets.append((target, source, f"{location.uri}/{name}"))
    stored = []
    for target, source, uri in targets:
        _place_new(_write_temp(location.real, _chunks(source), limit=limit, raw=uri), target, uri)
        stored.append(uri)
    return stored


def workspace_rename(*, user, old: str | None, new: str | None) -> str:
    """Rename (or move) a file or directory within the workspace; the new path must not exist."""
    target = _locate(user, new)
    source = _locate(user, old)
    if source.is_root:
        raise _error(ForbiddenError, IS_ROOT, "The workspace directory cannot be renamed.", old)
    target.check_new_names(new)
    if os.path.lexists(target.entry):
        raise _error(ConflictError, EXISTS, "The new path exists.", new)
    if not os.path.lexists(source.entry):
        raise _error(NotFoundError, MISSING, "The file does not exist.", old)
    if not source.entry.is_symlink() and source.entry.is_dir() and _inside(target.real, source.entry):
        raise _error(InvalidInputError, NOT_A_DIR, "A directory cannot be moved into itself.", new)
    _parent_dir(target, new)
    try:
        os.rename(source.entry, target.entry)  # on an existing name this would replace it: checked just above
    except OSError as exc:
        raise _io_error(exc, new) from None
    return target.uri


def workspace_delete(*, user, path: str | None) -> None:
    """Delete a file, or a directory with everything in it; a link is deleted, not what it points to."""
    location = _locate(user, path)
    if location.is_root:
        raise _error(ForbiddenError, IS_ROOT, "The workspace directory cannot be deleted.", path)
    entry = location.entry
    if not os.path.lexists(entry):
        raise _error(NotFoundError, MISSING, "The file or directory does not exist.", path)
    try:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    except OSError as exc:
        raise _io_error(exc, path) from None
