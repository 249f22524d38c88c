"""Linkis's filesystem API over users' workspaces (Scriptis's saved scripts), from outside over HTTP.

Shapes and texts as ``FsRestfulApi`` and ``WorkspaceExceptionManager`` answer them (linkis-pes-publicservice).
"""

import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.models import Job
from jobs.services import JobSpec, job_submit
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

FS = "/api/rest_j/v1/filesystem"


@pytest.fixture(autouse=True)
def workspaces(settings, tmp_path) -> Path:
    settings.LINKIS_WORKSPACE_ROOT = tmp_path / "workspace"
    return Path(os.path.realpath(tmp_path)) / "workspace"


@pytest.fixture
def home(workspaces) -> Path:
    """Alice's workspace directory (created by the first request that needs it)."""
    return workspaces / "alice"


@pytest.fixture
def uri(home):
    def build(relative: str = "") -> str:
        return f"file://{home}" + (f"/{relative}" if relative else "")

    return build


@pytest.fixture
def bob_file(client, other_user, workspaces) -> Path:
    """A script in Bob's workspace that Alice must never reach."""
    client.get(f"{FS}/getUserRootPath", **bearer(other_user))
    secret = workspaces / "bob" / "secret.sql"
    secret.write_text("select 'bob only'")
    return secret


def post(client, user, route, body):
    return client.post(f"{FS}/{route}", body, content_type="application/json", **bearer(user))


def get(client, user, route, **params):
    return client.get(f"{FS}/{route}", params, **bearer(user))


def refused(response, code: int, desc: str | None = None) -> dict:
    """A WorkSpaceException as Linkis's catchMsg renders it: HTTP 400, status 1, method null, data.errorMsg."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"method", "status", "message", "data"} and body["status"] == 1 and body["method"] is None
    error = body["data"]["errorMsg"]
    assert error["errCode"] == code and error["serviceKind"] == "linkis-ps-publicservice" and error["level"] == 2
    if desc is not None:
        assert error["desc"] == desc
        assert body["message"] == f"error code(错误码): {code}, error message(错误信息): {desc}."
    return body


def no_permission(path) -> str:
    return (
        f"The user: alice has no permission to view the contents of the directory:{path}"
        f"(该用户:alice无权限查看该目录:{path}的内容)."
    )


def ok(response, data=None) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == 0 and body["message"] == "OK", body
    if data is not None:
        assert body["data"] == data
    return body


# --- getUserRootPath --------------------------------------------------------------------------------------------
def test_user_root_path_is_created_and_named_as_linkis_names_it(client, user, home):
    response = get(client, user, "getUserRootPath", pathType="file")
    assert response.json() == {
        "method": "/api/filesystem/getUserRootPath",
        "status": 0,
        "message": "OK",
        "data": {"userLocalRootPath": f"file://{home}"},
    }
    assert home.is_dir()
    assert get(client, user, "getUserRootPath").json()["data"] == {"userLocalRootPath": f"file://{home}"}
    assert get(client, user, "getUserRootPath", pathType="s3").json()["data"] == {"userS3RootPath": f"file://{home}"}


def test_hdfs_root_path_answers_as_linkis_without_hdfs(client, user):
    desc = (
        "The user has obtained the filesystem for more than 10,000 ms. Please contact the administrator"
        "(用户获取filesystem的时间超过10,000 ms，请联系管理员)"
    )
    refused(get(client, user, "getUserRootPath", pathType="hdfs"), 80002, desc)
    refused(post(client, user, "createNewDir", {"path": "hdfs:///tmp/alice/linkis/x"}), 80002, desc)


def test_a_user_whose_name_cannot_be_a_directory_has_no_workspace(client, workspaces):
    from tests.accounts.factories import UserFactory

    dots = UserFactory(username="..")
    refused(get(client, dots, "getUserRootPath"), 80031, "User: .. not initialized(用户:..未初始化)")
    refused(post(client, dots, "createNewDir", {"path": f"file://{workspaces.parent}/x"}), 80031)
    assert not workspaces.exists() and not (workspaces.parent / "x").exists()


def test_requests_without_credentials_are_refused(client, uri):
    response = client.post(f"{FS}/createNewDir", {"path": uri("d")}, content_type="application/json")
    assert response.status_code == 401 and response.json()["status"] == -1


# --- createNewDir, createNewFile --------------------------------------------------------------------------------
def test_create_dir_and_file(client, user, home, uri):
    ok(post(client, user, "createNewDir", {"path": uri("scripts/nested")}), {})
    assert (home / "scripts" / "nested").is_dir()
    ok(post(client, user, "createNewFile", {"path": uri("scripts/a.sql")}), {})
    assert (home / "scripts" / "a.sql").read_bytes() == b""
    ok(post(client, user, "createNewFile", {"path": uri("new/dirs/b.py")}))
    assert (home / "new" / "dirs" / "b.py").is_file()
    response = post(client, user, "createNewDir", {"path": uri("scripts")})
    refused(
        response, 80005, f"The created folder name:{uri('scripts')} is duplicated(创建的文件夹名:{uri('scripts')} 重复)"
    )
    response = post(client, user, "createNewFile", {"path": uri("scripts/a.sql")})
    refused(
        response,
        80006,
        f"The file name:{uri('scripts/a.sql')} created is duplicated(创建的文件名:{uri('scripts/a.sql')} 重复)",
    )
    refused(post(client, user, "createNewFile", {"path": uri("scripts")}), 80006)
    refused(post(client, user, "createNewDir", {"path": uri()}), 80005)


@pytest.mark.parametrize("route", ["createNewDir", "createNewFile", "deleteDirOrFile", "saveScript"])
def test_a_missing_or_empty_path_is_80004(client, user, route):
    refused(post(client, user, route, {}), 80004, "The path:null is empty(路径:null 为空)!")
    refused(post(client, user, route, {"path": ""}), 80004, "The path: is empty(路径: 为空)!")


@pytest.mark.parametrize("name", ["bad\nname.sql", "tab\there", "bell\x07.py", ".linkis-tmp-mine"])
def test_names_with_control_characters_are_refused(client, user, uri, home, name):
    refused(post(client, user, "createNewFile", {"path": uri(name)}), 80028)
    refused(post(client, user, "createNewDir", {"path": uri(f"{name}/sub")}), 80028)
    assert sorted(os.listdir(home)) == []


# --- saveScript and openFile ------------------------------------------------------------------------------------
PARAMS = {
    "variable": {"a": 1, "b": "x y", "flag": True},
    "configuration": {
        "startup": {"spark.executor.memory": "2g", "contextID": "dropped"},
        "runtime": {"wds.linkis.rm.yarnqueue": "default"},
        "special": {"spark": {"k": "v", "nodeName": "dropped"}},
    },
}
PARAMS_BACK = {
    "variable": {"a": "1", "b": "x y", "flag": "true"},
    "configuration": {
        "startup": {"spark.executor.memory": "2g"},
        "runtime": {"wds.linkis.rm.yarnqueue": "default"},
        "special": {"spark": {"k": "v"}},
    },
}


def save(client, user, path, content, params=None, **extra):
    return post(client, user, "saveScript", {"path": path, "scriptContent": content, "params": params or {}, **extra})


@pytest.mark.parametrize(
    ("name", "prefix", "conf", "symbol"),
    [("q.sql", "--@set", "--conf@set", "--"), ("p.py", "#@set", "#conf@set", "#"), ("s.sh", "#@set", "#conf@set", "#"),
     ("c.scala", "//@set", "//conf@set", "//"), ("h.hql", "--@set", "--conf@set", "--")],
)  # fmt: skip
def test_save_script_writes_params_as_linkis_script_header(client, user, uri, home, name, prefix, conf, symbol):
    ok(post(client, user, "createNewFile", {"path": uri(name)}))
    ok(save(client, user, uri(name), "line 1\n\nline 3\n", PARAMS), {})
    assert (home / name).read_text() == (
        f"{prefix} a=1\n{prefix} b=x y\n{prefix} flag=true\n"
        f"{conf} configuration startup spark.executor.memory=2g\n"
        f"{conf} configuration runtime wds.linkis.rm.yarnqueue=default\n"
        f"{conf} special spark k=v\n"
        f"{symbol}\n"
        "line 1\n\nline 3"  # as Linkis splits on \n: the trailing newline is not written
    )
    body = ok(get(client, user, "openFile", path=uri(name)))
    assert body["method"] == "/api/filesystem/openFile"
    assert body["data"] == {
        "metadata": PARAMS_BACK,
        "fileContent": [["line 1\n\nline 3\n"]],
        "type": "script/text",
        "totalLine": 3,
        "page": 1,
        "totalPage": 0,
    }


def test_a_script_without_params_or_of_another_type_has_no_header(client, user, uri, home):
    for name in ("plain.sql", "notes.txt"):
        ok(post(client, user, "createNewFile", {"path": uri(name)}))
    ok(save(client, user, uri("plain.sql"), "select 1", {}))
    ok(save(client, user, uri("notes.txt"), "hello", {"variable": {"a": "1"}}))
    assert (home / "plain.sql").read_text() == "select 1"
    assert (home / "notes.txt").read_text() == "hello"  # a .txt has no comment syntax: Linkis stores no params
    data = ok(get(client, user, "openFile", path=uri("plain.sql")))["data"]
    assert (data["metadata"], data["fileContent"], data["totalLine"]) == ({}, [["select 1\n"]], 1)


def test_save_script_needs_an_existing_file(client, user, uri, home):
    path = uri("never-created.sql")
    refused(save(client, user, path, "select 1"), 80013, f"File: {path} does not exist(文件:{path}不存在)")
    assert not (home / "never-created.sql").exists()
    ok(post(client, user, "createNewDir", {"path": uri("folder.sql")}))
    assert "IOException" in save(client, user, uri("folder.sql"), "x").json()["message"]


def test_save_script_overwrites_atomically_and_leaves_no_temporary_files(client, user, uri, home):
    ok(post(client, user, "createNewFile", {"path": uri("a.sql")}))
    for round_ in range(3):
        ok(save(client, user, uri("a.sql"), f"select {round_}"))
    assert (home / "a.sql").read_text() == "select 2"
    assert os.listdir(home) == ["a.sql"]


def test_save_script_charset_and_bad_params(client, user, uri, home):
    ok(post(client, user, "createNewFile", {"path": uri("gbk.sql")}))
    ok(save(client, user, uri("gbk.sql"), "select '中文'", charset="GBK"))
    assert (home / "gbk.sql").read_bytes() == "select '中文'".encode("gbk")
    data = ok(get(client, user, "openFile", path=uri("gbk.sql"), charset="gbk"))["data"]
    assert data["fileContent"] == [["select '中文'\n"]]
    body = save(client, user, uri("gbk.sql"), "x", charset="no-such-charset").json()
    assert body["status"] == 1 and "UnsupportedCharsetException: no-such-charset" in body["message"]
    for response in (  # found by the fuzz pass: Python's codec lookup refuses a NUL byte with a ValueError
        save(client, user, uri("gbk.sql"), "x", charset="utf\x008"),
        get(client, user, "download", path=uri("gbk.sql"), charset="utf\x008"),
        get(client, user, "openFile", path=uri("gbk.sql"), charset="utf\x008"),
    ):
        assert response.status_code == 400 and "UnsupportedCharsetException" in response.json()["message"]
    refused(save(client, user, uri("gbk.sql"), "x", {"variable": ["not", "a", "map"]}), 65000)
    refused(save(client, user, uri("gbk.sql"), "x", {"variable": {"a": "1\n--@set injected=1"}}), 65000)
    assert (home / "gbk.sql").read_bytes() == "select '中文'".encode("gbk")  # refusals leave the file alone


def test_save_script_body_above_the_limit_is_413_in_the_envelope(client, user, uri, home, settings):
    settings.LINKIS_WORKSPACE_SCRIPT_MAX_BYTES = 2048
    ok(post(client, user, "createNewFile", {"path": uri("big.sql")}))
    response = save(client, user, uri("big.sql"), "x" * 4096)
    assert response.status_code == 413
    body = response.json()
    assert body["status"] == 1 and "larger than the 2048 bytes allowed" in body["message"]
    assert (home / "big.sql").read_bytes() == b""
    ok(save(client, user, uri("big.sql"), "x" * 1000))


def test_open_file_refusals(client, user, uri, home):
    get(client, user, "getUserRootPath")
    (home / "blob.bin").write_bytes(b"\x00\x01")
    refused(
        get(client, user, "openFile", path=uri("blob.bin")), 54001, "Unsupported open file type(不支持打开的文件类型)"
    )
    refused(get(client, user, "openFile", path=uri("gone.sql")), 80013)
    with open(home / "huge.log", "wb") as file:
        file.truncate(30 * 1024 * 1024 + 1)  # sparse: nothing is really written
    refused(get(client, user, "openFile", path=uri("huge.log")), 80032)


# --- getDirFileTrees --------------------------------------------------------------------------------------------
def test_dir_file_trees_of_the_workspace(client, user, uri, home):
    ok(post(client, user, "createNewDir", {"path": uri("dir")}))
    ok(post(client, user, "createNewFile", {"path": uri("a.sql")}))
    ok(save(client, user, uri("a.sql"), "select 1"))
    stat = (home / "a.sql").stat()
    body = ok(get(client, user, "getDirFileTrees", path=uri()))
    assert body["method"] == "/api/filesystem/getDirFileTrees"
    assert body["data"] == {
        "dirFileTrees": {
            "name": "alice",
            "path": uri(),
            "properties": None,
            "children": [
                {
                    "name": "a.sql",
                    "path": uri("a.sql"),
                    "properties": {"size": "8", "modifytime": str(int(stat.st_mtime * 1000))},
                    "children": None,
                    "isLeaf": True,
                    "parentPath": uri(),
                },
                {
                    "name": "dir",
                    "path": uri("dir"),
                    "properties": {},
                    "children": None,
                    "isLeaf": False,
                    "parentPath": uri(),
                },
            ],
            "isLeaf": False,
            "parentPath": None,
        }
    }
    assert ok(get(client, user, "getDirFileTrees", path=uri("dir")))["data"]["dirFileTrees"]["children"] == []
    assert ok(get(client, user, "getDirFileTrees", path=uri("missing")))["data"] == {"dirFileTrees": None}
    # Trailing slashes and "." components name the same directory.
    tree = ok(get(client, user, "getDirFileTrees", path=uri("./dir/")))["data"]["dirFileTrees"]
    assert tree["path"] == uri("dir")


def test_result_set_trees_still_work_beside_the_workspace(client, user):
    job = job_submit(owner=user, spec=JobSpec(code="print(1)", engine_type="python-python2", run_type="python"))
    job.result_dir.mkdir(parents=True)
    (job.result_dir / "_0.dolphin").write_text('{"type": "1", "metadata": "NULL"}\n"hello"\n')
    tree = ok(get(client, user, "getDirFileTrees", path=f"file://{job.result_dir}"))["data"]["dirFileTrees"]
    assert [child["name"] for child in tree["children"]] == ["_0.dolphin"]
    opened = ok(get(client, user, "openFile", path=tree["children"][0]["path"]))["data"]
    assert opened["fileContent"] == [["hello"]] and opened["type"] == "1"


# --- rename, deleteDirOrFile ------------------------------------------------------------------------------------
def test_rename_and_move(client, user, uri, home):
    ok(post(client, user, "createNewFile", {"path": uri("a.sql")}))
    ok(post(client, user, "createNewDir", {"path": uri("dir")}))
    ok(post(client, user, "rename", {"oldDest": uri("a.sql"), "newDest": uri("b.sql")}), {})
    assert not (home / "a.sql").exists() and (home / "b.sql").is_file()
    ok(post(client, user, "rename", {"oldDest": uri("b.sql"), "newDest": uri("dir/b.sql")}))
    assert (home / "dir" / "b.sql").is_file()
    ok(post(client, user, "rename", {"oldDest": uri("dir"), "newDest": uri("folder")}))
    assert (home / "folder" / "b.sql").is_file()
    ok(post(client, user, "createNewFile", {"path": uri("c.sql")}))
    refused(
        post(client, user, "rename", {"oldDest": uri("c.sql"), "newDest": uri("folder/b.sql")}),
        80007,
        f"The renamed name:{uri('folder/b.sql')} is repeated,(重命名的名字:{uri('folder/b.sql')} 重复)",
    )
    refused(post(client, user, "rename", {"oldDest": uri("nope.sql"), "newDest": uri("x.sql")}), 80013)
    refused(post(client, user, "rename", {"oldDest": "", "newDest": uri("x.sql")}), 80004)
    refused(post(client, user, "rename", {"oldDest": uri("c.sql"), "newDest": ""}), 80010, no_permission(""))
    refused(post(client, user, "rename", {"oldDest": uri(), "newDest": uri("moved")}), 80010, no_permission(uri()))
    assert (
        "IOException"
        in post(client, user, "rename", {"oldDest": uri("folder"), "newDest": uri("folder/in")}).json()["message"]
    )
    assert sorted(os.listdir(home)) == ["c.sql", "folder"]


def test_delete_file_and_directory(client, user, uri, home):
    ok(post(client, user, "createNewFile", {"path": uri("dir/sub/a.sql")}))
    ok(post(client, user, "createNewFile", {"path": uri("b.sql")}))
    ok(post(client, user, "deleteDirOrFile", {"path": uri("b.sql")}), {})
    assert not (home / "b.sql").exists()
    ok(post(client, user, "deleteDirOrFile", {"path": uri("dir")}))
    assert os.listdir(home) == []
    refused(
        post(client, user, "deleteDirOrFile", {"path": uri("dir")}),
        80008,
        "The deleted file or folder does not exist(删除的文件or文件夹不存在)!",
    )
    for root in (uri(), uri() + "/", uri("."), f"{home}"):
        refused(
            post(client, user, "deleteDirOrFile", {"path": root}),
            80009,
            "This user does not have permission to delete this file or folder(该用户无权删除此文件或文件夹)!",
        )
    assert home.is_dir()


# --- upload, download, isExist, fileInfo ------------------------------------------------------------------------
def upload(client, user, path, *files):
    data = {"file": list(files)}
    if path is not None:
        data["path"] = path
    return client.post(f"{FS}/upload", data, **bearer(user))


def test_upload_stores_each_file_in_the_directory(client, user, uri, home):
    ok(post(client, user, "createNewDir", {"path": uri("in")}))
    response = upload(
        client, user, uri("in"), SimpleUploadedFile("a.sql", b"select 1"), SimpleUploadedFile("b.py", b"print(2)")
    )
    ok(response, {})
    assert (home / "in" / "a.sql").read_bytes() == b"select 1" and (home / "in" / "b.py").read_bytes() == b"print(2)"
    refused(upload(client, user, uri("in"), SimpleUploadedFile("a.sql", b"again")), 80006)
    assert (home / "in" / "a.sql").read_bytes() == b"select 1"
    refused(upload(client, user, None, SimpleUploadedFile("c.sql", b"x")), 80004)
    refused(upload(client, user, uri("no-such-dir"), SimpleUploadedFile("c.sql", b"x")), 80013)
    body = client.post(f"{FS}/upload", {"path": uri("in")}, **bearer(user)).json()
    assert body["status"] == 1 and "Required request part 'file' is not present" in body["message"]
    assert sorted(os.listdir(home / "in")) == ["a.sql", "b.py"]


def test_upload_names_cannot_climb_out(client, user, uri, home, workspaces):
    """Django keeps only the last component of an uploaded file's name; the service refuses any other."""
    ok(post(client, user, "createNewDir", {"path": uri("in")}))
    for name in ("../../escaped.sql", "a/../../b.sql", "..\\..\\c.sql"):
        upload(client, user, uri("in"), SimpleUploadedFile(name, b"x"))
    found = {str(path.relative_to(workspaces.parent)) for path in workspaces.parent.rglob("*") if path.is_file()}
    assert found <= {"workspace/alice/in/escaped.sql", "workspace/alice/in/b.sql", "workspace/alice/in/c.sql"}


def test_upload_above_the_limit_is_413_and_writes_nothing(client, user, uri, home, settings):
    settings.LINKIS_WORKSPACE_UPLOAD_MAX_BYTES = 4096
    ok(post(client, user, "createNewDir", {"path": uri("in")}))
    response = upload(client, user, uri("in"), SimpleUploadedFile("big.sql", b"x" * 8192))
    assert response.status_code == 413 and response.json()["status"] == 1
    assert os.listdir(home / "in") == []


def test_download_by_get_and_by_linkis_post_body(client, user, uri):
    ok(post(client, user, "createNewFile", {"path": uri("a.py")}))
    ok(save(client, user, uri("a.py"), "print('hi')"))
    for response in (
        get(client, user, "download", path=uri("a.py")),
        post(client, user, "download", {"path": uri("a.py"), "charset": "utf-8"}),
    ):
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"print('hi')"
        assert response["Content-Disposition"] == 'attachment; filename="a.py"'
        assert response["Content-Length"] == "11"
    refused(
        get(client, user, "download", path=uri("gone.py")),
        80011,
        f"Downloaded file: {uri('gone.py')} does not exist(下载的文件:{uri('gone.py')}不存在)",
    )
    assert get(client, user, "download", path=uri()).json()["status"] == 1  # a directory is not downloaded


def test_download_serves_the_callers_job_files_only(client, user, other_user):
    job = job_submit(owner=user, spec=JobSpec(code="print(1)", engine_type="python-python2", run_type="python"))
    job.workdir.mkdir(parents=True, exist_ok=True)
    job.log_file.write_text("the log\n")
    response = get(client, user, "download", path=f"file://{job.log_file}")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"the log\n"
    refused(get(client, other_user, "download", path=f"file://{job.log_file}"), 80010)
    os.symlink("/etc/passwd", job.workdir / "passwd")
    refused(get(client, user, "download", path=f"file://{job.workdir / 'passwd'}"), 80010)
    assert Job.objects.count() == 1


def test_is_exist_and_file_info(client, user, uri):
    ok(post(client, user, "createNewFile", {"path": uri("a.sql")}))
    ok(save(client, user, uri("a.sql"), "one\ntwo\nthree"))
    assert ok(get(client, user, "isExist", path=uri("a.sql")))["data"] == {"isExist": True}
    assert ok(get(client, user, "isExist", path=uri("b.sql")))["data"] == {"isExist": False}
    data = ok(get(client, user, "fileInfo", path=uri("a.sql")))["data"]
    assert data == {"path": uri("a.sql"), "colNumber": 1, "rowNumber": 3}
    assert ok(get(client, user, "fileInfo", path=uri("a.sql"), pageSize=2))["data"]["rowNumber"] == 2
    refused(get(client, user, "isExist"), 80004)
    refused(get(client, user, "fileInfo", path=uri("b.sql")), 80013)


# --- confinement ------------------------------------------------------------------------------------------------
def escapes(home: Path, workspaces: Path) -> list[str]:
    """Paths that must never reach outside Alice's workspace, as clients could send them (already decoded)."""
    return [
        f"file://{home}/../bob/secret.sql",
        f"file://{home}/sub/../../bob/secret.sql",
        f"file://{workspaces}/bob/secret.sql",
        f"{workspaces}/bob/secret.sql",
        f"file://{workspaces}",
        f"file://{workspaces}/alicex/secret.sql",
        "file:///etc/passwd",
        "/etc/passwd",
        "file:///etc",
        f"file://localhost{home}/a.sql",
        "relative/a.sql",
        "a.sql",
        f"file://{home}/a.sql\x00.txt",
        f"s3://{home}/a.sql",
        f"file://{home}/link-out/passwd",
        f"file://{home}/link-out",
        f"file://{home}/bob-link.sql",
        f"file://{home}/link-dir/secret.sql",
    ]


@pytest.fixture
def planted(client, user, home, workspaces, bob_file, tmp_path) -> Path:
    """Links planted inside Alice's workspace that lead out of it (to /etc, to Bob's file, to Bob's directory)."""
    get(client, user, "getUserRootPath")
    os.symlink("/etc", home / "link-out")
    os.symlink(bob_file, home / "bob-link.sql")
    os.symlink(bob_file.parent, home / "link-dir")
    (workspaces / "alicex").mkdir()
    (workspaces / "alicex" / "secret.sql").write_text("not alice's")
    return bob_file


def test_every_route_refuses_every_escape(client, user, home, workspaces, planted):
    before = {path: path.read_bytes() for path in (planted, workspaces / "alicex" / "secret.sql")}
    for path in escapes(home, workspaces):
        attempts = [
            get(client, user, "getDirFileTrees", path=path),
            get(client, user, "openFile", path=path),
            get(client, user, "isExist", path=path),
            get(client, user, "fileInfo", path=path),
            get(client, user, "download", path=path),
            post(client, user, "download", {"path": path}),
            post(client, user, "createNewDir", {"path": path + "/new-dir"}),
            post(client, user, "createNewFile", {"path": path + "/new.sql"}),
            save(client, user, path, "overwritten"),
            post(client, user, "rename", {"oldDest": path, "newDest": f"file://{home}/taken.sql"}),
            post(client, user, "rename", {"oldDest": f"file://{home}/mine.sql", "newDest": path}),
            post(client, user, "deleteDirOrFile", {"path": path}),
            upload(client, user, path, SimpleUploadedFile("dropped.sql", b"x")),
        ]
        for response in attempts:
            assert response.status_code == 400, (path, response.content)
            body = response.json()
            # The result-set routes keep their own wording for paths outside every workspace (errCode 80010 too).
            assert body["status"] == 1 and body["data"]["errorMsg"]["errCode"] == 80010, (path, body)
    assert {path: path.read_bytes() for path in before} == before
    assert Path("/etc/passwd").is_file() and os.path.islink(home / "link-out")
    assert not list(workspaces.parent.rglob("dropped.sql")) and not list(workspaces.parent.rglob("new*"))
    assert sorted(os.listdir(home)) == ["bob-link.sql", "link-dir", "link-out"]


def test_the_exact_refusal_text(client, user, home, workspaces, bob_file):
    path = f"file://{workspaces}/bob/secret.sql"
    refused(get(client, user, "openFile", path=path), 80010, no_permission(path))
    refused(post(client, user, "deleteDirOrFile", {"path": path}), 80010, no_permission(path))
    assert bob_file.exists()


def test_encoded_tricks_stay_inside(client, user, home, workspaces, bob_file):
    """Query strings are decoded once, as Linkis's servlet container does; what remains is a literal name."""
    get(client, user, "getUserRootPath")
    # %2e%2e decodes to "..": refused.
    response = client.get(f"{FS}/openFile?path=file://{home}/%2e%2e/bob/secret.sql", **bearer(user))
    refused(response, 80010)
    response = client.get(f"{FS}/openFile?path=file://{home}/..%2fbob%2fsecret.sql", **bearer(user))
    refused(response, 80010)
    # %252e%252e decodes to the name "%2e%2e", a directory that does not exist inside Alice's workspace.
    response = client.get(f"{FS}/openFile?path=file://{home}/%252e%252e/bob/secret.sql", **bearer(user))
    refused(response, 80013)
    response = client.get(f"{FS}/openFile?path=file://{home}/x.sql%00/../../bob/secret.sql", **bearer(user))
    assert response.json()["status"] == 1 and "bob only" not in response.content.decode()
    # A JSON body's escapes decode to the same characters as the query's.
    refused(post(client, user, "deleteDirOrFile", {"path": f"file://{home}/\u002e\u002e/bob/secret.sql"}), 80010)
    assert bob_file.read_text() == "select 'bob only'"


def test_listing_leaves_out_links_that_lead_outside(client, user, home, planted):
    ok(post(client, user, "createNewFile", {"path": f"file://{home}/mine.sql"}))
    os.symlink(home / "mine.sql", home / "inside-link.sql")
    children = ok(get(client, user, "getDirFileTrees", path=f"file://{home}"))["data"]["dirFileTrees"]["children"]
    assert [child["name"] for child in children] == ["inside-link.sql", "mine.sql"]
    # A link that stays inside is followed.
    ok(save(client, user, f"file://{home}/inside-link.sql", "select 3"))
    assert (home / "mine.sql").read_text() == "select 3"
    ok(post(client, user, "deleteDirOrFile", {"path": f"file://{home}/inside-link.sql"}))
    assert (home / "mine.sql").exists() and not os.path.lexists(home / "inside-link.sql")


def test_other_users_cannot_see_alices_scripts(client, user, other_user, home):
    ok(post(client, user, "createNewFile", {"path": f"file://{home}/a.sql"}))
    ok(save(client, user, f"file://{home}/a.sql", "select 'alice only'"))
    for response in (
        client.get(f"{FS}/openFile", {"path": f"file://{home}/a.sql"}, **bearer(other_user)),
        client.get(f"{FS}/getDirFileTrees", {"path": f"file://{home}"}, **bearer(other_user)),
        client.get(f"{FS}/download", {"path": f"file://{home}/a.sql"}, **bearer(other_user)),
    ):
        body = refused(response, 80010)
        assert "alice only" not in str(body)
    assert "has no permission" in body["message"] and "The user: bob" in body["message"]


# --- the Scriptis flow ------------------------------------------------------------------------------------------
def test_scriptis_flow(client, user, home):
    """What Scriptis's workspace sidebar and workbench send, in order (DataSphereStudio web/packages/scriptis)."""
    root = ok(get(client, user, "getUserRootPath", pathType="file"))["data"]["userLocalRootPath"]
    folder = f"{root}/reports"
    script = f"{folder}/daily.sql"
    ok(post(client, user, "createNewDir", {"path": folder}))
    ok(post(client, user, "createNewFile", {"path": script}))
    params = {"variable": {"day": "2024-01-01"}, "configuration": {"runtime": {"spark.sql.shuffle.partitions": 8}}}
    ok(save(client, user, script, "select * from t where d = '${day}'", params, charset="utf-8"))
    tree = ok(get(client, user, "getDirFileTrees", path=root))["data"]["dirFileTrees"]
    assert [(c["name"], c["isLeaf"]) for c in tree["children"]] == [("reports", False)]
    tree = ok(get(client, user, "getDirFileTrees", path=tree["children"][0]["path"]))["data"]["dirFileTrees"]
    assert [(c["name"], c["path"], c["isLeaf"]) for c in tree["children"]] == [("daily.sql", script, True)]
    opened = ok(get(client, user, "openFile", path=script))["data"]
    assert opened["metadata"] == {
        "variable": {"day": "2024-01-01"},
        "configuration": {"runtime": {"spark.sql.shuffle.partitions": "8"}},
    }
    assert opened["fileContent"][0][0] == "select * from t where d = '${day}'\n"
    renamed = f"{folder}/weekly.sql"
    assert ok(get(client, user, "isExist", path=renamed))["data"] == {"isExist": False}
    ok(post(client, user, "rename", {"oldDest": script, "newDest": renamed}))
    downloaded = post(client, user, "download", {"path": renamed})
    assert b"".join(downloaded.streaming_content) == (
        b"--@set day=2024-01-01\n--conf@set configuration runtime spark.sql.shuffle.partitions=8\n--\n"
        b"select * from t where d = '${day}'"
    )
    ok(post(client, user, "deleteDirOrFile", {"path": folder}))
    assert ok(get(client, user, "getDirFileTrees", path=root))["data"]["dirFileTrees"]["children"] == []
    assert os.listdir(home) == []


def test_lone_surrogates_and_undecodable_names_are_never_server_errors(client, user, home, uri):
    """JSON can spell a lone surrogate, which no file name holds; a name on disk may not be UTF-8."""
    for route in ("createNewDir", "createNewFile", "deleteDirOrFile", "saveScript", "download"):
        for path in ("\\udc80", uri("a\\udc80b"), uri("\\ud800")):
            response = client.post(
                f"{FS}/{route}", '{"path": "' + path + '"}', content_type="application/json", **bearer(user)
            )
            assert response.status_code == 400 and "lone surrogate" in response.json()["message"], route
    ok(post(client, user, "createNewFile", {"path": uri("a.sql")}))
    response = client.post(
        f"{FS}/saveScript",
        '{"path": "' + uri("a.sql") + '", "scriptContent": "x", "params": {"variable": {"k": "\\udc80"}}}',
        content_type="application/json",
        **bearer(user),
    )
    assert response.status_code == 400 and response.json()["status"] == 1
    open(os.fsencode(home) + b"/bad\xff.sql", "w").close()
    children = ok(get(client, user, "getDirFileTrees", path=uri()))["data"]["dirFileTrees"]["children"]
    assert [child["name"] for child in children] == ["a.sql"]
