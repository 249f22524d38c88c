"""The workspace service (jobs.workspace): confinement and atomic file operations, below any wire format."""

import errno
import os
from pathlib import Path

import pytest

from dataplatform.api.exceptions import ApplicationError
from jobs import workspace
from jobs.workspace import (
    BAD_NAME,
    EXISTS,
    IS_ROOT,
    MISSING,
    NO_HDFS,
    NOT_A_FILE,
    OUTSIDE,
    PATH_EMPTY,
    TEMP_PREFIX,
    TOO_LARGE,
    is_workspace_path,
    workspace_create_dir,
    workspace_create_file,
    workspace_delete,
    workspace_exists,
    workspace_list,
    workspace_open_download,
    workspace_read,
    workspace_rename,
    workspace_root_uri,
    workspace_upload,
    workspace_write,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def workspaces(settings, tmp_path) -> Path:
    settings.LINKIS_WORKSPACE_ROOT = tmp_path / "workspace"
    return Path(os.path.realpath(tmp_path)) / "workspace"


@pytest.fixture
def home(user, workspaces) -> Path:
    workspace_root_uri(user=user)
    return workspaces / "alice"


def code_of(call, **kwargs) -> str:
    with pytest.raises(ApplicationError) as raised:
        call(**kwargs)
    return raised.value.code


def test_root_uri_creates_a_private_directory(user, workspaces):
    assert workspace_root_uri(user=user) == f"file://{workspaces}/alice"
    assert (workspaces / "alice").is_dir() and (workspaces / "alice").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize(
    ("relative", "code"),
    [
        ("", PATH_EMPTY),
        ("../bob/x.sql", OUTSIDE),
        ("sub/../../bob", OUTSIDE),
        ("a\x00b", OUTSIDE),
    ],
)
def test_confinement_of_paths_inside_the_tree(user, home, relative, code):
    path = f"file://{home}/{relative}" if relative else ""
    assert code_of(workspace_exists, user=user, path=path) == code


@pytest.mark.parametrize(
    "path",
    ["file:///etc/passwd", "/etc", "etc", "file://host/x", "file:relative", "ftp:///x", "file:///", "/", "file://"],
)
def test_confinement_of_paths_elsewhere(user, home, path):
    assert code_of(workspace_exists, user=user, path=path) == OUTSIDE


def test_hdfs_paths_have_their_own_refusal(user):
    assert code_of(workspace_exists, user=user, path="hdfs:///tmp/linkis/alice") == NO_HDFS
    assert code_of(workspace_exists, user=user, path="HDFS://nn:8020/x") == NO_HDFS


def test_schemes_and_spellings_of_one_path(user, home):
    (home / "a.sql").write_text("x")
    for path in (f"file://{home}/a.sql", f"{home}/a.sql", f"file:{home}/a.sql", f"FILE://{home}//./a.sql"):
        assert workspace_exists(user=user, path=path), path


def test_siblings_and_the_root_of_all_workspaces_are_outside(user, other_user, workspaces, home):
    workspace_root_uri(user=other_user)
    for path in (f"file://{workspaces}", f"file://{workspaces}/bob", f"file://{workspaces}/alicex/a.sql"):
        assert code_of(workspace_list, user=user, path=path) == OUTSIDE


def test_a_workspace_directory_replaced_by_a_link_is_refused(user, workspaces, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    workspaces.mkdir()
    os.symlink(elsewhere, workspaces / "alice")
    assert code_of(workspace_create_file, user=user, path=f"file://{workspaces}/alice/a.sql") == OUTSIDE
    assert os.listdir(elsewhere) == []


def test_links_are_followed_only_inside(user, home, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.sql").write_text("secret")
    os.symlink(outside, home / "out")
    os.symlink(outside / "secret.sql", home / "secret.sql")
    (home / "real.sql").write_text("mine")
    os.symlink(home / "real.sql", home / "alias.sql")
    for call, kwargs in [
        (workspace_read, {"path": f"{home}/secret.sql"}),
        (workspace_read, {"path": f"{home}/out/secret.sql"}),
        (workspace_list, {"path": f"{home}/out"}),
        (workspace_write, {"path": f"{home}/secret.sql", "content": b"x", "limit": 10}),
        (workspace_create_file, {"path": f"{home}/out/new.sql"}),
        (workspace_create_dir, {"path": f"{home}/out/new"}),
        (workspace_delete, {"path": f"{home}/out"}),
        (workspace_rename, {"old": f"{home}/real.sql", "new": f"{home}/out/real.sql"}),
        (workspace_upload, {"path": f"{home}/out", "files": [], "limit": 10}),
    ]:
        assert code_of(call, user=user, **kwargs) == OUTSIDE, (call, kwargs)
    assert sorted(os.listdir(outside)) == ["secret.sql"] and (outside / "secret.sql").read_text() == "secret"
    assert workspace_read(user=user, path=f"{home}/alias.sql") == ("alias.sql", b"mine")
    names = [entry.name for entry in workspace_list(user=user, path=str(home)).children]
    assert names == ["alias.sql", "real.sql"]


def test_a_link_swapped_in_after_the_check_is_caught_on_the_open_descriptor(user, home, tmp_path, monkeypatch):
    """Reads check the real path of the descriptor they opened, not only the path they resolved before."""
    (tmp_path / "secret.sql").write_text("secret")
    (home / "a.sql").write_text("mine")
    real_open = os.open

    def swap_then_open(path, flags, *args):
        if str(path) == str(home / "a.sql"):
            os.replace(home / "a.sql", home / "kept.sql")
            os.symlink(tmp_path / "secret.sql", home / "a.sql")
            path = tmp_path / "secret.sql"  # as if the kernel had followed a link swapped into a parent directory
        return real_open(path, flags, *args)

    monkeypatch.setattr(workspace.os, "open", swap_then_open)
    assert code_of(workspace_read, user=user, path=f"{home}/a.sql") == OUTSIDE


def test_a_fifo_is_not_read(user, home):
    os.mkfifo(home / "pipe.log")
    assert code_of(workspace_read, user=user, path=f"{home}/pipe.log") == OUTSIDE
    assert code_of(workspace_open_download, user=user, path=f"{home}/pipe.log") == OUTSIDE


def test_create_refuses_existing_names_and_control_characters(user, home):
    workspace_create_file(user=user, path=f"{home}/a.sql")
    assert code_of(workspace_create_file, user=user, path=f"{home}/a.sql") == EXISTS
    assert code_of(workspace_create_dir, user=user, path=f"{home}/a.sql") == EXISTS
    assert code_of(workspace_create_dir, user=user, path=f"{home}/new\nline") == BAD_NAME
    assert code_of(workspace_create_file, user=user, path=f"{home}/{TEMP_PREFIX}x") == BAD_NAME
    assert code_of(workspace_create_file, user=user, path=f"{home}/{'x' * 256}") == BAD_NAME
    assert os.listdir(home) == ["a.sql"]


def test_write_is_atomic_and_bounded(user, home):
    workspace_create_file(user=user, path=f"{home}/a.sql")
    workspace_write(user=user, path=f"{home}/a.sql", content=b"first", limit=100)
    assert code_of(workspace_write, user=user, path=f"{home}/a.sql", content=b"x" * 101, limit=100) == TOO_LARGE
    assert (home / "a.sql").read_bytes() == b"first" and os.listdir(home) == ["a.sql"]
    assert code_of(workspace_write, user=user, path=f"{home}/b.sql", content=b"x", limit=100) == MISSING
    workspace_create_dir(user=user, path=f"{home}/d")
    assert code_of(workspace_write, user=user, path=f"{home}/d", content=b"x", limit=100) == NOT_A_FILE


def test_an_interrupted_upload_leaves_neither_the_file_nor_its_temporary(user, home):
    class Broken:
        def __init__(self):
            self.calls = 0

        def read(self, size=-1):
            self.calls += 1
            if self.calls > 2:
                raise OSError(errno.EIO, "client went away")
            return b"x" * 10

    assert code_of(workspace_upload, user=user, path=str(home), files=[("a.sql", Broken())], limit=1000) == (
        workspace.IO_FAILED
    )
    assert os.listdir(home) == []


def test_upload_checks_every_name_before_writing(user, home):
    import io

    for name in ("", ".", "..", "a/b.sql", "a\\b.sql", "new\nline.sql"):
        files = [("ok.sql", io.BytesIO(b"1")), (name, io.BytesIO(b"2"))]
        assert code_of(workspace_upload, user=user, path=str(home), files=files, limit=10) == BAD_NAME
    files = [("big.sql", io.BytesIO(b"x" * 11))]
    assert code_of(workspace_upload, user=user, path=str(home), files=files, limit=10) == TOO_LARGE
    assert os.listdir(home) == []


def test_new_files_are_placed_without_hard_links_where_the_filesystem_has_none(user, home, monkeypatch):
    def no_links(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(workspace.os, "link", no_links)
    workspace_create_file(user=user, path=f"{home}/a.sql")
    assert code_of(workspace_create_file, user=user, path=f"{home}/a.sql") == EXISTS
    import io

    workspace_upload(user=user, path=str(home), files=[("b.sql", io.BytesIO(b"bee"))], limit=10)
    assert (home / "b.sql").read_bytes() == b"bee" and sorted(os.listdir(home)) == ["a.sql", "b.sql"]


def test_listing_hides_writes_under_way(user, home):
    (home / f"{TEMP_PREFIX}123").write_bytes(b"half")
    (home / "a.sql").write_text("x")
    assert [entry.name for entry in workspace_list(user=user, path=str(home)).children] == ["a.sql"]


def test_rename_and_delete_guard_the_root_and_themselves(user, home):
    workspace_create_dir(user=user, path=f"{home}/d/e")
    assert code_of(workspace_rename, user=user, old=str(home), new=f"{home}/x") == IS_ROOT
    assert code_of(workspace_rename, user=user, old=f"{home}/d", new=f"{home}/d/e/f") == workspace.NOT_A_DIR
    assert code_of(workspace_rename, user=user, old=f"{home}/d", new=str(home)) == EXISTS
    assert code_of(workspace_delete, user=user, path=f"file://{home}/") == IS_ROOT
    workspace_rename(user=user, old=f"{home}/d/e", new=f"{home}/moved/e2")
    assert (home / "moved" / "e2").is_dir()
    workspace_delete(user=user, path=f"{home}/d")
    assert sorted(os.listdir(home)) == ["moved"]


def test_which_paths_address_the_workspaces(settings, workspaces, tmp_path):
    settings.JOBS_DIR = tmp_path / "jobs"
    assert is_workspace_path(f"file://{workspaces}/alice/x.sql")
    assert is_workspace_path(f"{workspaces}/alice/../bob")
    assert is_workspace_path(f"file://{workspaces}")
    assert is_workspace_path("hdfs:///tmp/linkis/alice")
    assert not is_workspace_path(f"file://{tmp_path}/jobs/1/result")
    assert not is_workspace_path("file:///etc/passwd")
    assert not is_workspace_path("")
    assert not is_workspace_path(None)
    assert not is_workspace_path("relative/x")
    settings.LINKIS_WORKSPACE_ROOT = tmp_path
    assert not is_workspace_path(f"file://{tmp_path}/jobs/1/result")  # job files stay job files
