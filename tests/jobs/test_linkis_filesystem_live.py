"""Scriptis's workspace calls against a real server: Linkis login cookie, JSON and multipart bodies over real HTTP,
the body limits enforced before the view, and paths sent percent-encoded on the wire."""

import pytest
import requests

from tests.live import ADMIN, LiveServer

pytestmark = pytest.mark.live

FS = "/api/rest_j/v1/filesystem"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    limits = {"LINKIS_WORKSPACE_SCRIPT_MAX_BYTES": "4096", "LINKIS_WORKSPACE_UPLOAD_MAX_BYTES": "65536"}
    with LiveServer(tmp_path_factory.mktemp("live-workspace"), **limits) as live:
        yield live


@pytest.fixture
def session(server) -> requests.Session:
    """Logged in as Scriptis logs in: ``user/login``, then the ticket cookie on every call."""
    session = requests.Session()
    body = session.post(
        f"{server.url}/api/rest_j/v1/user/login", json={"userName": ADMIN[0], "password": ADMIN[1]}, timeout=30
    ).json()
    assert body["status"] == 0
    return session


def call(session, server, method: str, route: str, **kwargs) -> dict:
    response = session.request(method, f"{server.url}{FS}/{route}", timeout=30, **kwargs)
    body = response.json()
    assert response.status_code == (200 if body["status"] == 0 else 400), (response.status_code, body)
    return body


def test_scriptis_flow_over_http(server, session):
    root = call(session, server, "GET", "getUserRootPath", params={"pathType": "file"})["data"]["userLocalRootPath"]
    assert root == f"file://{server.data_dir.resolve()}/workspace/{ADMIN[0]}"
    folder, script = f"{root}/live", f"{root}/live/job.py"
    assert call(session, server, "POST", "createNewDir", json={"path": folder})["status"] == 0
    assert call(session, server, "POST", "createNewFile", json={"path": script})["status"] == 0
    params = {"variable": {"n": 3}, "configuration": {"startup": {"spark.driver.memory": "1g"}}}
    body = {"path": script, "scriptContent": "for i in range(${n}):\n    print(i)\n", "params": params}
    assert call(session, server, "POST", "saveScript", json=body) == {
        "method": "/api/filesystem/saveScript", "status": 0, "message": "OK", "data": {},
    }  # fmt: skip
    tree = call(session, server, "GET", "getDirFileTrees", params={"path": folder})["data"]["dirFileTrees"]
    assert [(c["name"], c["isLeaf"], c["parentPath"]) for c in tree["children"]] == [("job.py", True, folder)]
    opened = call(session, server, "GET", "openFile", params={"path": script})["data"]
    assert opened["metadata"] == {"variable": {"n": "3"}, "configuration": {"startup": {"spark.driver.memory": "1g"}}}
    assert opened["fileContent"] == [["for i in range(${n}):\n    print(i)\n"]] and opened["type"] == "script/text"
    files = [("file", ("data.txt", b"1\n2\n", "text/plain")), ("file", ("more.txt", b"3\n", "text/plain"))]
    page = {"Origin": server.url}  # Scriptis's uploader is a form posted from the platform's own page
    assert call(session, server, "POST", "upload", data={"path": folder}, files=files, headers=page)["status"] == 0
    renamed = f"{folder}/renamed.py"
    assert call(session, server, "POST", "rename", json={"oldDest": script, "newDest": renamed})["status"] == 0
    downloaded = session.post(f"{server.url}{FS}/download", json={"path": renamed, "charset": "utf-8"}, timeout=30)
    assert downloaded.status_code == 200 and downloaded.content.startswith(b"#@set n=3\n#conf@set configuration")
    assert session.get(f"{server.url}{FS}/download", params={"path": f"{folder}/data.txt"}).content == b"1\n2\n"
    assert call(session, server, "POST", "deleteDirOrFile", json={"path": folder})["status"] == 0
    tree = call(session, server, "GET", "getDirFileTrees", params={"path": root})["data"]["dirFileTrees"]
    assert tree["children"] == []


def test_bodies_above_the_limits_are_refused_in_the_envelope(server, session):
    root = call(session, server, "GET", "getUserRootPath")["data"]["userLocalRootPath"] + "/limits"
    call(session, server, "POST", "createNewDir", json={"path": root})
    call(session, server, "POST", "createNewFile", json={"path": f"{root}/big.sql"})
    response = session.post(
        f"{server.url}{FS}/saveScript", json={"path": f"{root}/big.sql", "scriptContent": "x" * 8192}, timeout=30
    )
    assert response.status_code == 413 and response.json()["status"] == 1
    files = [("file", ("big.bin", b"x" * 200_000, "application/octet-stream"))]
    response = session.post(
        f"{server.url}{FS}/upload", data={"path": root}, files=files, headers={"Origin": server.url}, timeout=30
    )
    assert response.status_code == 413 and response.json()["status"] == 1
    tree = call(session, server, "GET", "getDirFileTrees", params={"path": root})["data"]["dirFileTrees"]
    assert [(child["name"], child["properties"]["size"]) for child in tree["children"]] == [("big.sql", "0")]


def test_a_cookie_upload_needs_a_page_of_this_server(server, session):
    """The ticket cookie with a multipart body: accepted from the platform's pages, refused from any other."""
    root = call(session, server, "GET", "getUserRootPath")["data"]["userLocalRootPath"]
    call(session, server, "POST", "createNewDir", json={"path": f"{root}/csrf"})
    for headers in ({}, {"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site", "Origin": server.url}):
        files = [("file", ("forged.sql", b"drop table t", "text/plain"))]
        response = session.post(
            f"{server.url}{FS}/upload", data={"path": f"{root}/csrf"}, files=files, headers=headers, timeout=30
        )
        assert response.status_code in (403, 412) and response.json()["status"] in (2, 3), (headers, response.text)
    files = [("file", ("fine.sql", b"select 1", "text/plain"))]
    headers = {"Sec-Fetch-Site": "same-origin"}
    response = session.post(
        f"{server.url}{FS}/upload", data={"path": f"{root}/csrf"}, files=files, headers=headers, timeout=30
    )
    assert response.json()["status"] == 0
    tree = call(session, server, "GET", "getDirFileTrees", params={"path": f"{root}/csrf"})["data"]["dirFileTrees"]
    assert [child["name"] for child in tree["children"]] == ["fine.sql"]


def test_paths_encoded_on_the_wire_stay_inside(server, session):
    root = call(session, server, "GET", "getUserRootPath")["data"]["userLocalRootPath"]
    workspaces = root.rsplit("/", 1)[0]
    for query in (
        f"path={root}/%2e%2e/%2e%2e/platform.sqlite3",
        f"path={root}/..%2F..%2Fplatform.sqlite3",
        f"path={root}%2F..%2F..%2Fsecret_key",
        f"path={workspaces}",
        "path=file:///etc/passwd",
        f"path={root}/a%00.sql",
    ):
        for route in ("openFile", "download", "getDirFileTrees", "isExist"):
            response = session.get(f"{server.url}{FS}/{route}?{query}", timeout=30)
            body = response.json()
            assert response.status_code == 400 and body["status"] == 1, (route, query, body)
            assert body["data"]["errorMsg"]["errCode"] == 80010, (route, query, body)
    # Encoded twice, "%2e%2e" is a name inside the workspace: nothing there, nothing read from outside.
    body = session.get(f"{server.url}{FS}/openFile?path={root}/%252e%252e/%252e%252e/platform.sqlite3").json()
    assert body["data"]["errorMsg"]["errCode"] == 80013
