"""The sandbox around every process that runs users' code: bubblewrap, as an unprivileged OS identity.

Every engine that runs a program a user wrote (``python``, ``shell``, ``duckdb``, ``spark``, and through them
OpenPAI task commands and CDAP programs) starts as ``bwrap ... -- <engine command>``, on the local runner and on
Celery workers alike, and as ``JOB_OS_USER`` (never root, never the server's user). Inside:

- **Processes**: new PID, IPC, UTS and cgroup namespaces. The job sees only its own processes: the server and its
  ``/proc/<pid>/environ`` do not exist there. ``--die-with-parent``: the sandbox dies with the runner that started
  it, and when the sandbox's first process ends the kernel kills every process left in it.
- **Files**: a new root holding the system read-only (``/usr``, ``/etc`` and the ``/bin``, ``/lib`` links), the
  Python runtime and the engine programs (``jobs/engines``) read-only, ``/proc`` of its own, a minimal ``/dev``, and
  a private ``/tmp`` (a directory of its own on disk, deleted with the job). ``DATA_DIR``, the project checkout,
  other jobs' directories, artifact blobs, ``/root`` and ``/home`` are absent. Granted, at their real paths: the
  job's working directory (read-write, holding its result sets) and what the job's service granted
  (``Job.grants``: the application's unpacked artifact read-only; the OpenPAI ``dataDir``/``codeDir`` read-only
  and ``outputDir`` read-write, within that user's area), each checked again here against the roots such grants
  may come from.
- **Privileges**: no capabilities, ``no_new_privs`` (set-uid programs do not raise privileges), the environment
  built from scratch (no server variable reaches a job), resource limits from ``jobs.engines.prepare``.
- **Network**: shared with the host by default (jobs read data and talk to Spark); ``JOB_SANDBOX_NETWORK=off``
  gives each job an empty network namespace (loopback only).

The runner (root) starts bubblewrap, which builds the sandbox with root's rights (an unprivileged bubblewrap could
only mount what the job user may reach, and the Python runtime may live under ``/root``), keeping no capability
but CAP_SETUID/CAP_SETGID and CAP_DAC_READ_SEARCH (to enter the job's directory, which belongs to the job's user);
inside, ``setpriv`` becomes ``JOB_OS_USER`` with no supplementary groups, and
``unshare --user`` gives the job a user namespace of its own, in which ``JOB_MAX_PROCESSES`` (RLIMIT_NPROC)
counts only that job's processes (where user namespaces are off, the limit counts all jobs together). No code
of the user's runs before the identity changed. bubblewrap's pid is the job's ``pid``. A kill sends SIGTERM to
the processes inside (not to bubblewrap, whose end would end them all at once without a chance to clean up),
then SIGKILL to bubblewrap, which ends the sandbox.

The job's working directory belongs to ``JOB_OS_USER`` while the job runs; once the sandbox is gone the runner
takes it back (``workdir_reclaim``): owned by the server's user again, mode 0700, with nothing but regular files
and directories under ``result/``, so that the platform, which reads result sets and writes ``job.log`` there,
never follows a link the job left behind.

Where the sandbox cannot run (bubblewrap missing, no user namespaces, the server not root, no job user), users'
code does not run: the job fails with the reason, which names ``JOB_SANDBOX=off``, the setting an operator may
choose knowingly (jobs then run unsandboxed as the platform). There is no silent fallback.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from jobs.engines import PROJECT_ROOT
from jobs.procs import exit_status, signal_inside  # noqa: F401 - re-exported: the sandbox ends processes this way

# The system a job may read: bound read-only where they are directories, recreated where they are symlinks
# (a merged /usr). Nothing else of the host's file system is visible.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# Variables a job inherits from the platform's environment (everything else is built from scratch).
INHERITED_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "JAVA_HOME")
# The sandbox's own /tmp and /dev/shm: fresh for every job, never the host's.
SANDBOX_TMP = "/tmp"  # noqa: S108
SANDBOX_SHM = "/dev/shm"  # noqa: S108
PROBE_TIMEOUT = 15.0
# A failed probe is repeated after this long, so that installing bubblewrap needs no restart.
PROBE_RETRY_SECONDS = 30.0
OFF_REASON = "off (JOB_SANDBOX=off): users' code runs unsandboxed, as the platform"


class SandboxUnavailable(Exception):
    """The sandbox cannot start users' code here; the message names the missing piece."""


@dataclass(frozen=True)
class Grants:
    """Paths of the host a job may see besides its working directory: read-only and read-write."""

    read_only: tuple[str, ...] = ()
    read_write: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> Grants:
        data = data if isinstance(data, dict) else {}
        return cls(
            read_only=tuple(str(p) for p in data.get("read_only") or ()),
            read_write=tuple(str(p) for p in data.get("read_write") or ()),
        )

    def to_json(self) -> dict[str, list[str]]:
        return {"read_only": list(self.read_only), "read_write": list(self.read_write)}

    @property
    def paths(self) -> tuple[str, ...]:
        return self.read_only + self.read_write


@dataclass(frozen=True)
class SandboxState:
    """Whether users' code can run here, and as whom."""

    enabled: bool  # JOB_SANDBOX
    ready: bool  # users' code may run (sandboxed, or knowingly unsandboxed)
    detail: str  # "ok", the reason it cannot run, or OFF_REASON
    bwrap: str = ""
    setpriv: str = ""
    unshare: str = ""  # empty where user namespaces are off: the process limit then counts all jobs together
    user: str = ""
    uid: int = -1
    gid: int = -1

    @property
    def sandboxed(self) -> bool:
        return self.enabled and self.ready

    def require(self) -> SandboxState:
        """Return self when users' code may run; raise SandboxUnavailable otherwise."""
        if not self.ready:
            raise SandboxUnavailable(self.detail)
        return self


_lock = threading.Lock()
_cached: tuple[float, tuple, SandboxState] | None = None


def _settings_key() -> tuple:
    return (settings.JOB_SANDBOX, settings.JOB_OS_USER, settings.JOB_SANDBOX_NETWORK)


def sandbox_state(*, refresh: bool = False) -> SandboxState:
    """The sandbox's state, probed once per process (a failure is probed again after PROBE_RETRY_SECONDS)."""
    global _cached
    key = _settings_key()
    with _lock:
        if not refresh and _cached is not None:
            checked_at, cached_key, state = _cached
            if cached_key == key and (state.ready or time.monotonic() - checked_at < PROBE_RETRY_SECONDS):
                return state
        state = _probe()
        _cached = (time.monotonic(), key, state)
        return state


def _unavailable(reason: str) -> SandboxState:
    return SandboxState(
        enabled=True,
        ready=False,
        detail=f"The sandbox for users' code cannot start: {reason} Users' code does not run until this is fixed "
        "(`make run` and `make worker` set it up when run as root), or until an operator sets JOB_SANDBOX=off "
        "to run it unsandboxed, as the platform itself.",
    )


def _probe() -> SandboxState:
    if not settings.JOB_SANDBOX:
        return SandboxState(enabled=False, ready=True, detail=OFF_REASON)
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return _unavailable("bubblewrap (bwrap) is not installed (Debian's package bubblewrap).")
    setpriv, unshare = shutil.which("setpriv"), shutil.which("unshare")
    if setpriv is None or unshare is None:
        return _unavailable("util-linux's setpriv and unshare are missing (Debian's package util-linux).")
    name = settings.JOB_OS_USER
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return _unavailable(
            f"the OS user {name!r} (JOB_OS_USER) does not exist; create it with "
            f"`useradd --system --no-create-home --shell /usr/sbin/nologin {name}`."
        )
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        return _unavailable(f"JOB_OS_USER {name!r} is root or in group root; jobs must run unprivileged.")
    if os.geteuid() != 0:
        if entry.pw_uid == os.geteuid():
            return _unavailable(f"JOB_OS_USER {name!r} is the server's own user; jobs must run as another user.")
        return _unavailable(
            f"the platform runs as uid {os.geteuid()}, not root, so it cannot start jobs as JOB_OS_USER {name!r}."
        )
    state = SandboxState(enabled=True, ready=True, detail="ok", bwrap=bwrap, setpriv=setpriv, unshare=unshare,
                         user=name, uid=entry.pw_uid, gid=entry.pw_gid)  # fmt: skip
    failure = _try(state)
    if failure is None:
        return state
    note = "ok (no user namespaces: JOB_MAX_PROCESSES counts all jobs together)"
    without_userns = SandboxState(**{**state.__dict__, "unshare": "", "detail": note})
    if _try(without_userns) is None:
        return without_userns
    return _unavailable(f"bubblewrap failed to create a sandbox ({failure}).")


def _try(state: SandboxState) -> str | None:
    """Start ``true`` in a sandbox; return None when it ran, else what went wrong."""
    true = shutil.which("true") or "/bin/true"
    argv = sandbox_argv(state, [true], workdir=None, tmpdir=None, grants=Grants())
    try:
        result = subprocess.run(  # noqa: S603 - our own argv
            argv, env=job_environment(state, home="/"), stdin=subprocess.DEVNULL, capture_output=True,
            timeout=PROBE_TIMEOUT, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap could not be started: {exc}"
    if result.returncode == 0:
        return None
    said = result.stderr.decode(errors="replace").strip().splitlines()
    return said[-1] if said else f"exit status {result.returncode}"


# --- the command line ---------------------------------------------------------------------------------------
def _under(path: str, parents: list[str]) -> bool:
    return any(path == parent or path.startswith(parent.rstrip("/") + "/") for parent in parents)


def _runtime_paths() -> list[str]:
    """The Python runtime (the venv and the interpreter it points at) and the Java runtime, when set."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        paths.add(java_home)
    return sorted(p for p in paths if p and os.path.isdir(p))


def hidden_paths() -> list[str]:
    """The platform's own directories: never visible in a sandbox, whatever is bound around them."""
    return sorted(
        {
            str(PROJECT_ROOT),
            str(settings.DATA_DIR),
            str(settings.JOBS_DIR),
            str(settings.ARTIFACTS_DIR),
            str(settings.OPENPAI_DEFAULT_FS),
        }
    )


def sandbox_argv(
    state: SandboxState,
    program: list[str],
    *,
    workdir: Path | None,
    tmpdir: Path | None,
    grants: Grants,
) -> list[str]:
    """The bubblewrap command line that runs ``program`` in ``workdir`` inside the sandbox, as the job's user."""
    args = [state.bwrap, "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
            "--cap-add", "CAP_DAC_READ_SEARCH"]  # fmt: skip
    if not settings.JOB_SANDBOX_NETWORK:
        args.append("--unshare-net")
    visible = []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
            visible.append(path)
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", SANDBOX_SHM]
    args += ["--bind", str(tmpdir), SANDBOX_TMP] if tmpdir is not None else ["--tmpfs", SANDBOX_TMP]
    # The platform's directories lie under no system path on a usual install; where one does, it is covered.
    for path in hidden_paths():
        if _under(path, visible):
            args += ["--tmpfs", path]
    binds: list[tuple[str, str]] = [("--ro-bind", path) for path in _runtime_paths()]
    engines = PROJECT_ROOT / "jobs"
    binds += [("--ro-bind", str(engines / "__init__.py")), ("--ro-bind", str(engines / "engines"))]
    binds += [("--ro-bind-try", path) for path in grants.read_only]
    binds += [("--bind-try", path) for path in grants.read_write]
    if workdir is not None:
        binds.append(("--bind", str(workdir)))
    # bubblewrap (as root) would create the directories leading to a mount point for root only: create them
    # readable, so that the job's user can walk down to what is mounted there.
    made = {"/", SANDBOX_TMP, *visible}
    for _, path in binds:
        for parent in reversed(Path(path).parents):
            name = str(parent)
            if name not in made and not _under(name, visible):
                made.add(name)
                args += ["--perms", "0755", "--dir", name]
    for option, path in binds:
        args += [option, path, path]
    if workdir is not None:
        args += ["--chdir", str(workdir)]
    # Root's rights end here: setpriv becomes the job's user for good before the engine (or anything of the
    # user's) starts, and unshare gives the job a user namespace of its own (its own RLIMIT_NPROC count).
    identity = [state.setpriv, f"--reuid={state.uid}", f"--regid={state.gid}", "--clear-groups", "--inh-caps=-all"]
    if state.unshare:
        identity += ["--", state.unshare, "--user", f"--map-user={state.uid}", f"--map-group={state.gid}"]
    return [*args, "--", *identity, "--", *program]


def job_environment(state: SandboxState, *, home: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A job's environment, built from scratch: a few of the platform's locale variables, then the engine's."""
    interpreter_dir = os.path.dirname(sys.executable)
    env = {
        "PATH": os.pathsep.join((interpreter_dir, "/usr/local/bin", "/usr/bin", "/bin")),
        "HOME": home,
        "TMPDIR": SANDBOX_TMP,
        "LANG": "C.UTF-8",
    }
    if state.user:
        env["USER"] = env["LOGNAME"] = state.user
    env.update({name: os.environ[name] for name in INHERITED_ENV if os.environ.get(name)})
    env.update(extra or {})
    return env


# --- grants -------------------------------------------------------------------------------------------------
def checked_grants(grants: Grants, *, read_only_roots: list[Path], read_write_roots: list[Path]) -> Grants:
    """Keep only the grants that lie, without any symlink on the way, under the roots they may come from.

    A service computed them, but a path is checked again where it is mounted: a symlink a job left in a granted
    directory must not lead a later job's grant out of it.
    """

    def kept(paths: tuple[str, ...], roots: list[Path]) -> tuple[str, ...]:
        out = []
        for raw in paths:
            path = os.path.normpath(raw)
            if not os.path.isabs(path) or os.path.realpath(path) != path:
                continue
            if any(Path(path).is_relative_to(root) and Path(path) != root for root in roots):
                out.append(path)
        return tuple(out)

    return Grants(
        read_only=kept(grants.read_only, read_only_roots), read_write=kept(grants.read_write, read_write_roots)
    )


# --- the platform's files ---------------------------------------------------------------------------------------
def secure_platform_files() -> None:
    """Keep the platform's files out of the job user's reach even without the sandbox.

    ``DATA_DIR``, the job, artifact and OpenPAI directories are the server user's alone (0700: no other user can
    even walk into them), and the secret key and the SQLite database files are 0600. What a job may see is
    mounted into its sandbox from inside them.
    """
    from django.db import connection

    for directory in (settings.DATA_DIR, settings.JOBS_DIR, settings.ARTIFACTS_DIR, settings.OPENPAI_DEFAULT_FS):
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.stat().st_uid == os.geteuid():
            path.chmod(0o700)
    files = [Path(settings.DATA_DIR) / "secret_key"]
    if connection.vendor == "sqlite":
        database = Path(str(connection.settings_dict["NAME"]))
        files += [database, Path(f"{database}-wal"), Path(f"{database}-shm"), Path(f"{database}-journal")]
    for path in files:
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_uid == os.geteuid():
                path.chmod(0o600)


# --- the job's directories --------------------------------------------------------------------------------------
def _walk(top: Path):
    """Every entry under ``top`` (not ``top`` itself), without following symlinks."""
    for root, dirs, files in os.walk(top, followlinks=False):
        for name in dirs + files:
            yield Path(root, name)


def workdir_hand_over(state: SandboxState, workdir: Path, tmpdir: Path, grants: Grants) -> None:
    """Give the job's directories (and its read-write grants) to the job's OS user before it starts."""
    tmpdir.mkdir(parents=True, exist_ok=True)
    for top in (workdir, tmpdir, *map(Path, grants.read_write)):
        if not top.is_dir() or top.is_symlink():
            continue
        for path in (top, *(_walk(top) if top in (workdir, tmpdir) else ())):
            os.lchown(path, state.uid, state.gid)
        os.chmod(top, 0o700)


def workdir_reclaim(workdir: Path, tmpdir: Path | None = None) -> None:
    """Take the job's directory back once its sandbox is gone: owned by the server, 0700, links made harmless.

    Under ``result/`` only regular files and directories stay (a link or a FIFO there could make the platform
    read something else); ``job.log`` is removed whatever it is (the platform writes it next); ``result`` itself
    is a real directory afterwards.
    """
    if tmpdir is not None:
        shutil.rmtree(tmpdir, ignore_errors=True)
    if not workdir.is_dir() or workdir.is_symlink():
        return
    uid, gid = os.geteuid(), os.getegid()
    for name in ("job.log", "result"):
        path = workdir / name
        with contextlib.suppress(FileNotFoundError):
            mode = path.lstat().st_mode
            if name == "result" and stat.S_ISDIR(mode):
                continue
            if stat.S_ISDIR(mode):
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()
    result = workdir / "result"
    for path in list(_walk(result)) if result.is_dir() else ():
        mode = path.lstat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            path.unlink()
    for path in (workdir, *_walk(workdir)):
        with contextlib.suppress(FileNotFoundError):
            mode = path.lstat().st_mode
            os.lchown(path, uid, gid)
            if not stat.S_ISLNK(mode):
                os.chmod(path, stat.S_IMODE(mode) & 0o700 | (0o700 if stat.S_ISDIR(mode) else 0o600))
    result.mkdir(mode=0o700, exist_ok=True)


def tmpdir_for(workdir: Path) -> Path:
    """The job's private /tmp on disk: beside the job directories, never inside one a client can list."""
    return workdir.parent / ".tmp" / workdir.name
