"""Contract tests of CDAP's namespace and artifact REST API, from outside, over HTTP.

Sources: ``contracts/cdap.md`` B.1, B.2 and B.4, ``contracts/openpai_cdap_notes.md`` items 2-4 (the 3.1 seed's routes
under ``/namespaces/`` next to GA's ``/v3/namespaces/``, 409 for deleting a version an app uses, plain-text errors)
and upstream's texts (``ArtifactHttpHandler``, ``NamespaceHttpHandler``, ``DefaultArtifactRepository``).

Every test talks to the API through DRF's test client and checks the status, the body (CDAP errors and many
successes are plain text) and what the database and ``ARTIFACTS_DIR`` hold afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient

from artifacts.models import (
    Application,
    Artifact,
    ArtifactParent,
    ArtifactVersion,
    Blob,
    Namespace,
    Plugin,
    blob_path,
)
from tests.artifacts.factories import SCHEMA, jar_bytes, manifest, plugin, zip_bytes
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
V3 = "/v3/namespaces"
SEED = "/namespaces"


# --- helpers ---------------------------------------------------------------------------------------------------
@pytest.fixture(params=[V3, SEED], ids=["v3", "seed"])
def prefix(request) -> str:
    """Both route prefixes: GA's ``/v3/namespaces`` and the 3.1 seed's ``/namespaces``."""
    return request.param


@pytest.fixture
def client(api_client, user) -> APIClient:
    api_client.credentials(**bearer(user))
    return api_client


@pytest.fixture
def other_client(other_user) -> APIClient:
    c = APIClient()
    c.credentials(**bearer(other_user))
    return c


@pytest.fixture
def admin_client(admin_user) -> APIClient:
    c = APIClient()
    c.credentials(**bearer(admin_user))
    return c


@pytest.fixture
def system_dir() -> Path:
    """The first system artifacts directory (the autouse fixture points it at ``tmp_path/system-artifacts``)."""
    path = Path(settings.SYSTEM_ARTIFACTS_DIRS[0])
    path.mkdir(parents=True, exist_ok=True)
    return path


def text(response) -> str:
    return response.content.decode()


def archive(name: str = "myapp", version: str | None = "1.0.0", **kwargs) -> bytes:
    return zip_bytes(manifest(name, version, **kwargs))


def plugin_archive(name: str = "plugs", version: str | None = "1.0.0", **kwargs) -> bytes:
    kwargs.setdefault("plugins", [plugin("batchsource", "csv"), plugin("batchsink", "table")])
    return zip_bytes(manifest(name, version, app=False, **kwargs), files={})


def upload(
    client,
    name: str = "myapp",
    body: bytes | None = None,
    *,
    prefix: str = V3,
    ns: str = "default",
    version: str | None = None,
    extends: str | None = None,
    plugins: str | None = None,
):
    headers = {}
    if version is not None:
        headers["HTTP_ARTIFACT_VERSION"] = version
    if extends is not None:
        headers["HTTP_ARTIFACT_EXTENDS"] = extends
    if plugins is not None:
        headers["HTTP_ARTIFACT_PLUGINS"] = plugins
    body = archive(name) if body is None else body
    return client.post(f"{prefix}/{ns}/artifacts/{name}", data=body, content_type="application/octet-stream", **headers)


def add(client, name: str = "myapp", body: bytes | None = None, **kwargs) -> None:
    response = upload(client, name, body, **kwargs)
    assert response.status_code == 200, text(response)
    assert text(response) == "Artifact added successfully"


def versions_of(name: str, ns: str = "default") -> list[str]:
    rows = ArtifactVersion.objects.filter(artifact__namespace__name=ns, artifact__name=name)
    return sorted(rows.values_list("version", flat=True))


def row(name: str, version: str, ns: str = "default") -> ArtifactVersion:
    return ArtifactVersion.objects.get(artifact__namespace__name=ns, artifact__name=name, version=version)


def incoming_entries() -> list[Path]:
    incoming = Path(settings.ARTIFACTS_DIR) / "incoming"
    return sorted(incoming.rglob("*")) if incoming.exists() else []


def blob_files() -> list[Path]:
    blobs = Path(settings.ARTIFACTS_DIR) / "blobs"
    return sorted(p for p in blobs.rglob("*") if p.is_file()) if blobs.exists() else []


def load_system(admin_client, system_dir: Path, files: dict[str, bytes | str]):
    """Put archives (or sidecars) in the system artifacts directory and reload it over REST."""
    for filename, content in files.items():
        target = system_dir / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content)
        else:
            target.write_bytes(content)
    response = admin_client.post(f"{V3}/system/artifacts")
    assert response.status_code == 200, text(response)
    return response


def deploy_app(client, app: str, name: str = "myapp", version: str = "1.0.0", ns: str = "default"):
    response = client.put(
        f"{V3}/{ns}/apps/{app}",
        {"artifact": {"name": name, "version": version}, "config": {"table": "t"}},
        format="json",
    )
    assert response.status_code == 200, text(response)
    assert text(response) == "Deploy Complete"
    return response


# --- authentication --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/v3/namespaces"),
        ("get", "/namespaces/default"),
        ("put", "/v3/namespaces/team"),
        ("get", "/v3/namespaces/default/artifacts"),
        ("post", "/v3/namespaces/default/artifacts/myapp"),
        ("get", "/namespaces/default/artifacts/myapp/versions/1.0.0"),
        ("delete", "/v3/namespaces/default/artifacts/myapp/versions/1.0.0"),
        ("post", "/v3/namespaces/system/artifacts"),
        ("delete", "/v3/unrecoverable/namespaces/team"),
    ],
)
def test_unauthenticated_requests_get_401(api_client, method, path):
    response = getattr(api_client, method)(path)
    assert response.status_code == 401
    # CDAP router's AuthenticationHandler: JSON naming the token endpoints, and a Bearer challenge
    assert response["Content-Type"] == "application/json;charset=UTF-8"
    assert response.content == b'{"auth_uri":["http://testserver/token"]}'
    assert response["WWW-Authenticate"] == 'Bearer realm="dataplatform"'
    assert not Namespace.objects.filter(name="team").exists()


def test_unauthenticated_upload_stores_nothing(api_client):
    response = upload(api_client)
    assert response.status_code == 401
    assert not Artifact.objects.exists()
    assert incoming_entries() == [] and blob_files() == []


# --- namespaces ------------------------------------------------------------------------------------------------
def test_namespace_list_hides_system(client, prefix):
    client.put(f"{prefix}/team")
    response = client.get(prefix)
    assert response.status_code == 200
    names = [ns["name"] for ns in response.json()]
    assert "default" in names and "team" in names
    assert "system" not in names
    assert all({"name", "description", "config"} <= set(ns) for ns in response.json())


def test_namespace_get(client, prefix):
    response = client.get(f"{prefix}/default")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "default"
    assert body["description"] == "Default Namespace"
    assert isinstance(body["config"], dict)


def test_namespace_get_unknown_is_404(client, prefix):
    response = client.get(f"{prefix}/nope")
    assert response.status_code == 404
    assert text(response) == "'namespace:nope' was not found."


def test_namespace_put_is_idempotent(client, prefix):
    first = client.put(f"{prefix}/team1", {"description": "Team one"}, format="json")
    assert first.status_code == 200
    assert text(first) == "Namespace 'team1' created successfully."
    again = client.put(f"{prefix}/team1", {"description": "changed"}, format="json")
    assert again.status_code == 200
    assert text(again) == "Namespace 'team1' already exists."
    assert Namespace.objects.filter(name="team1").count() == 1
    assert Namespace.objects.get(name="team1").description == "Team one"
    assert client.get(f"{prefix}/team1").json()["description"] == "Team one"


def test_namespace_put_with_empty_body(client, prefix):
    response = client.put(f"{prefix}/team2")
    assert response.status_code == 200
    assert text(response) == "Namespace 'team2' created successfully."
    assert Namespace.objects.get(name="team2").description == ""


@pytest.mark.parametrize("name", ["default", "system", "cdap"])
def test_namespace_put_reserved_name_is_400(client, prefix, name):
    before = Namespace.objects.count()
    response = client.put(f"{prefix}/{name}")
    assert response.status_code == 400
    assert text(response) == f"Cannot create the namespace '{name}'. '{name}' is a reserved namespace."
    assert Namespace.objects.count() == before


@pytest.mark.parametrize("name", ["bad-name", "bad.name", "bad%40name"])
def test_namespace_put_bad_name_is_400(client, prefix, name):
    response = client.put(f"{prefix}/{name}")
    assert response.status_code == 400
    assert text(response) == "Namespace id can contain only alphanumeric characters or '_'."
    assert not Namespace.objects.exclude(name__in=["default", "system"]).exists()


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"', '{"config": 5}'])
def test_namespace_put_bad_json_is_400(client, prefix, body):
    response = client.put(f"{prefix}/team3", data=body, content_type="application/json")
    assert response.status_code == 400
    assert text(response) == "Invalid json object provided in request body."
    assert not Namespace.objects.filter(name="team3").exists()


@pytest.mark.parametrize(
    "method, route",
    [
        ("get", "artifacts"),
        ("get", "artifacts/myapp"),
        ("post", "artifacts/myapp"),
        ("get", "artifacts/myapp/versions/1.0.0"),
        ("get", "artifacts/myapp/versions/1.0.0/properties"),
        ("get", "artifacts/myapp/versions/1.0.0/extensions"),
        ("delete", "artifacts/myapp/versions/1.0.0"),
        ("get", "plugintypes"),
        ("get", "extensions"),
        ("get", "classes/apps"),
        ("get", "apps"),
        ("get", "apps/app1"),
        ("put", "apps/app1"),
    ],
)
def test_unknown_namespace_is_404_on_artifact_and_app_routes(client, prefix, method, route):
    kwargs = {}
    if method == "post":
        kwargs = {"data": archive(), "content_type": "application/octet-stream"}
    elif method == "put":
        kwargs = {"data": {"artifact": {"name": "myapp", "version": "1.0.0"}}, "format": "json"}
    response = getattr(client, method)(f"{prefix}/nope/{route}", **kwargs)
    assert response.status_code == 404
    assert text(response) == "'namespace:nope' was not found."
    assert not Artifact.objects.exists()


def test_namespace_delete_is_admin_only(client, admin_client):
    admin_client.put(f"{V3}/team")
    response = client.delete("/v3/unrecoverable/namespaces/team")
    assert response.status_code == 403
    assert Namespace.objects.filter(name="team").exists()


def test_namespace_delete_removes_namespace_and_its_artifacts(client, admin_client):
    client.put(f"{V3}/team")
    add(client, ns="team")
    files = blob_files()
    assert len(files) == 1
    response = admin_client.delete("/v3/unrecoverable/namespaces/team")
    assert response.status_code == 200
    assert text(response) == ""
    assert not Namespace.objects.filter(name="team").exists()
    assert not Artifact.objects.filter(namespace__name="team").exists()
    assert not Blob.objects.exists()
    assert blob_files() == []
    assert text(client.get(f"{V3}/team")) == "'namespace:team' was not found."


def test_namespace_delete_only_under_unrecoverable(admin_client, prefix):
    admin_client.put(f"{V3}/team")
    response = admin_client.delete(f"{prefix}/team")
    assert response.status_code == 405
    assert Namespace.objects.filter(name="team").exists()


def test_namespace_delete_keeps_blobs_other_namespaces_use(client, admin_client):
    body = archive()
    client.put(f"{V3}/team")
    add(client, body=body, ns="team")
    add(client, body=body)
    assert Blob.objects.count() == 1
    assert admin_client.delete("/v3/unrecoverable/namespaces/team").status_code == 200
    kept = row("myapp", "1.0.0")
    assert kept.blob_path.is_file()
    assert blob_files() == [kept.blob_path]


def test_namespace_delete_unknown_is_404(admin_client):
    response = admin_client.delete("/v3/unrecoverable/namespaces/nope")
    assert response.status_code == 404
    assert text(response) == "'namespace:nope' was not found."


def test_namespace_delete_default_empties_but_keeps_it(client, admin_client):
    add(client)
    deploy_app(client, "app1")
    response = admin_client.delete("/v3/unrecoverable/namespaces/default")
    assert response.status_code == 200
    assert Namespace.objects.filter(name="default").exists()
    assert not Artifact.objects.filter(namespace__name="default").exists()
    assert not Application.objects.filter(namespace__name="default").exists()
    assert blob_files() == []
    assert client.get(f"{V3}/default/artifacts").json() == []
    assert client.get(f"{V3}/default").status_code == 200


# --- upload ----------------------------------------------------------------------------------------------------
def test_upload_success(client, prefix):
    body = archive(properties={"author": "me"})
    response = upload(client, body=body, prefix=prefix)
    assert response.status_code == 200
    assert text(response) == "Artifact added successfully"
    found = row("myapp", "1.0.0")
    assert found.scope == "USER"
    assert found.format == "zip"
    assert found.size == len(body)
    assert found.sha256 == hashlib.sha256(body).hexdigest()
    assert found.created_by == "alice"
    assert found.properties == {"author": "me"}
    assert found.app_class["className"] == "myapp.app:MyApp"
    assert incoming_entries() == []


def test_upload_version_header_overrides_manifest(client, prefix):
    add(client, body=archive(version="1.0.0"), version="3.1.4", prefix=prefix)
    assert versions_of("myapp") == ["3.1.4"]


def test_upload_without_any_version_is_400(client, prefix):
    response = upload(client, body=archive(version=None), prefix=prefix)
    assert response.status_code == 400
    assert "version" in text(response)
    assert not Artifact.objects.exists()


@pytest.mark.parametrize("name", ["bad@name", "bad%20name", "bad:name"])
def test_upload_invalid_name_is_400(client, prefix, name):
    response = client.post(
        f"{prefix}/default/artifacts/{name}", data=archive(name=None), content_type="application/octet-stream"
    )
    assert response.status_code == 400
    assert text(response) == "Invalid artifact name."
    assert not Artifact.objects.exists()


@pytest.mark.parametrize("version", ["v1", "abc", "1.0.0-", "1.0.0-a_b", "latest"])
def test_upload_invalid_version_header_is_400(client, prefix, version):
    response = upload(client, version=version, prefix=prefix)
    assert response.status_code == 400
    assert text(response).startswith(f"Invalid artifact version '{version}'")
    assert not Artifact.objects.exists()


@pytest.mark.parametrize("what", ["version", "name", "namespace"])
def test_over_long_identifiers_are_400(client, what):
    if what == "namespace":
        response = client.put(f"{V3}/{'n' * 129}")
    elif what == "name":
        response = upload(client, "n" * 256, archive(None))
    else:
        response = upload(client, version="1.0.0-" + "a" * 123)
    assert response.status_code == 400
    assert not Artifact.objects.exists()
    assert not Namespace.objects.exclude(name__in=["default", "system"]).exists()


def test_upload_invalid_version_in_manifest_names_the_field(client):
    response = upload(client, body=archive(version="v1"))
    assert response.status_code == 400
    assert "artifact.json: version 'v1' is not a valid artifact version" in text(response)


@pytest.mark.parametrize("body", [b"this is not a zip", b"", b"PK\x03\x04garbage"])
def test_upload_non_zip_body_is_400(client, prefix, body):
    response = upload(client, body=body, prefix=prefix)
    assert response.status_code == 400
    assert "zip" in text(response).lower()
    assert not Artifact.objects.exists()


@pytest.mark.parametrize(
    "doc, field",
    [
        (manifest(plugins=[{"name": "csv", "className": "a.b:C"}]), "plugins[0].type is required"),
        (manifest(plugins=[plugin("batchsource", "csv"), plugin("batchsource", "csv")]), "plugins[1]"),
        (manifest(plugin=[]), "plugin is not a known field"),
        (manifest(properties={"a": 1}), "properties.a must be a string"),
        (manifest(parents="x[1.0.0,2.0.0)"), "parents must be a list"),
        ({"name": "myapp", "version": "1.0.0", "app": {"description": "x"}}, "app.className is required"),
    ],
    ids=["plugin-type", "duplicate-plugin", "unknown-key", "property-type", "parents-type", "app-class"],
)
def test_upload_manifest_errors_name_the_field(client, doc, field):
    response = upload(client, body=zip_bytes(doc))
    assert response.status_code == 400
    assert "artifact.json" in text(response)
    assert field in text(response)
    assert not Artifact.objects.exists()


def test_upload_zip_without_manifest_is_400(client):
    response = upload(client, body=zip_bytes(None), version="1.0.0")
    assert response.status_code == 400
    assert "artifact.json" in text(response)


def test_upload_manifest_name_must_match_the_route(client):
    response = upload(client, "other", body=archive("myapp"))
    assert response.status_code == 400
    assert "'myapp'" in text(response) and "'other'" in text(response)
    assert not Artifact.objects.exists()


def test_upload_release_twice_is_409(client, prefix):
    add(client, body=archive(properties={"n": "1"}), prefix=prefix)
    before = row("myapp", "1.0.0")
    response = upload(client, body=archive(properties={"n": "2"}), prefix=prefix)
    assert response.status_code == 409
    assert text(response) == "Artifact artifact:default.myapp.1.0.0 already exists."
    after = row("myapp", "1.0.0")
    assert after.sha256 == before.sha256 and after.properties == {"n": "1"}
    assert len(blob_files()) == 1


def test_upload_snapshot_twice_replaces_it(client, prefix):
    add(client, body=archive(version="1.0.0-SNAPSHOT", properties={"n": "1"}), prefix=prefix)
    first = row("myapp", "1.0.0-SNAPSHOT")
    old_file = first.blob_path
    assert old_file.is_file()
    second_body = archive(version="1.0.0-SNAPSHOT", properties={"n": "2"})
    add(client, body=second_body, prefix=prefix)
    second = row("myapp", "1.0.0-SNAPSHOT")
    assert ArtifactVersion.objects.count() == 1
    assert second.pk == first.pk
    assert second.sha256 == hashlib.sha256(second_body).hexdigest() != first.sha256
    assert second.properties == {"n": "2"}
    assert not old_file.exists()
    assert blob_files() == [second.blob_path]
    detail = client.get(f"{prefix}/default/artifacts/myapp/versions/1.0.0-SNAPSHOT").json()
    assert detail["checksum"]["sha256"] == second.sha256


def test_upload_snapshot_twice_replaces_plugins_and_parents(client):
    add(client, "pipeline", archive("pipeline"))
    add(client, "other", archive("other"))
    first = plugin_archive(version="1.0.0-SNAPSHOT", plugins=[plugin("batchsource", "csv")])
    add(client, "plugs", first, extends="pipeline[1.0.0,2.0.0)")
    second = plugin_archive(version="1.0.0-SNAPSHOT", plugins=[plugin("batchsink", "table")])
    add(client, "plugs", second, extends="other[1.0.0,2.0.0)")
    found = row("plugs", "1.0.0-SNAPSHOT")
    assert list(found.plugins.values_list("type", "name")) == [("batchsink", "table")]
    assert list(found.parent_ranges.values_list("name", flat=True)) == ["other"]
    assert Plugin.objects.count() == 1 and ArtifactParent.objects.count() == 1


def test_upload_snapshot_twice_keeps_a_blob_another_version_uses(client):
    body = archive()
    add(client, body=body, version="1.0.0")
    add(client, body=body, version="1.1.0-SNAPSHOT")
    shared = row("myapp", "1.0.0").blob_path
    add(client, body=archive(properties={"n": "2"}), version="1.1.0-SNAPSHOT")
    assert shared.is_file()
    assert row("myapp", "1.1.0-SNAPSHOT").blob_id != row("myapp", "1.0.0").blob_id
    assert Blob.objects.count() == 2 and len(blob_files()) == 2


def test_upload_lowercase_snapshot_is_mutable(client):
    add(client, version="2.0.0-snapshot")
    add(client, body=archive(properties={"n": "2"}), version="2.0.0-snapshot")
    assert row("myapp", "2.0.0-snapshot").properties == {"n": "2"}


def test_upload_plain_zip_records_files_and_blob(client, prefix):
    body = archive()
    add(client, body=body, prefix=prefix)
    found = row("myapp", "1.0.0")
    path = blob_path(found.sha256)
    assert path.is_file()
    assert Path(settings.ARTIFACTS_DIR) in path.parents
    assert path.read_bytes() == body
    detail = client.get(f"{prefix}/default/artifacts/myapp/versions/1.0.0").json()
    assert detail["checksum"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert detail["size"] == len(body)


def test_identical_bytes_under_two_versions_share_one_blob(client):
    body = archive()
    add(client, body=body, version="1.0.0")
    add(client, body=body, version="1.0.1")
    first, second = row("myapp", "1.0.0"), row("myapp", "1.0.1")
    assert first.blob_id == second.blob_id
    assert Blob.objects.count() == 1
    assert blob_files() == [first.blob_path]


# --- upload: parents -------------------------------------------------------------------------------------------
def test_upload_with_parents_header(client, prefix):
    add(client, "pipeline", archive("pipeline"), prefix=prefix)
    add(client, "plugs", plugin_archive(), extends="pipeline[1.0.0,2.0.0)", prefix=prefix)
    links = list(ArtifactParent.objects.filter(child=row("plugs", "1.0.0")).values_list("namespace", "name", "range"))
    assert links == [("default", "pipeline", "[1.0.0,2.0.0)")]
    detail = client.get(f"{prefix}/default/artifacts/plugs/versions/1.0.0").json()
    assert detail["parents"] == ["default:pipeline[1.0.0,2.0.0)"]


def test_upload_parents_from_manifest(client):
    add(client, "pipeline", archive("pipeline"))
    add(client, "plugs", plugin_archive(parents=["default:pipeline[1.0.0,2.0.0)"]))
    assert ArtifactParent.objects.filter(child=row("plugs", "1.0.0"), name="pipeline").exists()


def test_upload_parents_header_replaces_manifest_parents(client):
    add(client, "pipeline", archive("pipeline"))
    add(client, "other", archive("other"))
    add(client, "plugs", plugin_archive(parents=["pipeline[1.0.0,2.0.0)"]), extends="other[1.0.0,2.0.0)")
    names = set(ArtifactParent.objects.filter(child=row("plugs", "1.0.0")).values_list("name", flat=True))
    assert names == {"other"}


def test_upload_missing_parent_is_404(client, prefix):
    add(client, "pipeline", archive("pipeline"))
    response = upload(client, "plugs", plugin_archive(), extends="pipeline[2.0.0,3.0.0)", prefix=prefix)
    assert response.status_code == 404
    assert text(response) == (
        "Artifact artifact:default.plugs.1.0.0 extends artifacts 'default:pipeline[2.0.0,3.0.0)' that do not exist"
    )
    assert not Artifact.objects.filter(name="plugs").exists()


def test_upload_one_existing_parent_of_several_is_enough(client):
    add(client, "pipeline", archive("pipeline"))
    add(client, "plugs", plugin_archive(), extends="pipeline[1.0.0,2.0.0)/system:gone[1.0.0,2.0.0)")
    assert ArtifactParent.objects.filter(child=row("plugs", "1.0.0")).count() == 2


def test_upload_parent_outside_namespace_or_system_is_400(client, prefix):
    client.put(f"{V3}/team")
    add(client, "pipeline", archive("pipeline"), ns="team")
    response = upload(client, "plugs", plugin_archive(), extends="team:pipeline[1.0.0,2.0.0)", prefix=prefix)
    assert response.status_code == 400
    assert text(response) == (
        "Parent artifact team:pipeline[1.0.0,2.0.0) must be in the same namespace or a system artifact."
    )
    assert not Artifact.objects.filter(name="plugs").exists()


@pytest.mark.parametrize("extends", ["myapp[1.0.0,2.0.0)", "default:myapp[1.0.0,2.0.0)"])
def test_upload_self_parent_is_400(client, prefix, extends):
    add(client, version="0.9.0")
    response = upload(client, extends=extends, prefix=prefix)
    assert response.status_code == 400
    assert "cannot extend itself" in text(response)
    assert versions_of("myapp") == ["0.9.0"]


@pytest.mark.parametrize(
    "extends", ["pipeline[1.0.0,2.0.0)/pipeline[3.0.0,4.0.0)", "pipeline[1.0.0,2.0.0)/system:pipeline[3.0.0,4.0.0)"]
)
def test_upload_two_ranges_for_one_parent_is_400(client, prefix, extends):
    add(client, "pipeline", archive("pipeline"))
    response = upload(client, "plugs", plugin_archive(), extends=extends, prefix=prefix)
    assert response.status_code == 400
    assert text(response) == "Invalid parents field. Only one version range for parent 'pipeline' can be present."
    assert not Artifact.objects.filter(name="plugs").exists()


@pytest.mark.parametrize(
    "extends, message",
    [
        ("pipeline", "Could not find '[' or '('"),
        ("pipeline[1.0.0", "Could not find ','"),
        ("pipeline[1.0.0,2.0.0", "Could not find enclosing ']' or ')'"),
        ("pipeline[2.0.0,1.0.0)", "Lower version 2.0.0 is greater than upper version 1.0.0"),
        ("pipe line[1.0.0,2.0.0)", "Artifact name 'pipe line' is invalid"),
        ("pipeline[x,2.0.0)", "Lower version x is invalid"),
    ],
)
def test_upload_bad_parent_range_is_400(client, extends, message):
    response = upload(client, "plugs", plugin_archive(), extends=extends)
    assert response.status_code == 400
    assert text(response).startswith(f"Invalid artifact range {extends}")
    assert message in text(response)
    assert not Artifact.objects.exists()


def test_upload_grandparent_with_parents_is_400(client, prefix):
    add(client, "root", archive("root"))
    add(client, "grand", archive("grand"), extends="root[1.0.0,2.0.0)")
    # one level of grandparents is fine: "parent" extends "grand", and "grand"'s parent has none
    add(client, "parent", archive("parent"), extends="grand[1.0.0,2.0.0)")
    response = upload(client, "child", plugin_archive("child"), extends="parent[1.0.0,2.0.0)", prefix=prefix)
    assert response.status_code == 400
    assert "grand" in text(response)
    assert not Artifact.objects.filter(name="child").exists()


def test_upload_cycle_is_400(client, prefix):
    add(client, "b", archive("b"))
    add(client, "a", plugin_archive("a"), extends="b[1.0.0,2.0.0)")
    response = upload(client, "b", archive("b", "1.5.0"), extends="a[1.0.0,2.0.0)", prefix=prefix)
    assert response.status_code == 400
    assert "cyclic" in text(response)
    assert versions_of("b") == ["1.0.0"]


# --- upload: plugins header and jars ---------------------------------------------------------------------------
def test_upload_plugins_header_adds_plugins(client, prefix):
    extra = [plugin("batchsink", "table"), plugin("transform", "js")]
    add(client, body=archive(plugins=[plugin("batchsource", "csv")]), plugins=json.dumps(extra), prefix=prefix)
    found = row("myapp", "1.0.0")
    assert sorted(found.plugins.values_list("type", "name")) == [
        ("batchsink", "table"),
        ("batchsource", "csv"),
        ("transform", "js"),
    ]
    detail = client.get(f"{prefix}/default/artifacts/myapp/versions/1.0.0").json()
    assert [(p["type"], p["name"]) for p in detail["classes"]["plugins"]] == [
        ("batchsink", "table"),
        ("batchsource", "csv"),
        ("transform", "js"),
    ]


@pytest.mark.parametrize("header", ["{not json", '{"type": "x"}', '[{"type": "batchsource"}]', "[1]"])
def test_upload_bad_plugins_header_is_400(client, prefix, header):
    response = upload(client, plugins=header, prefix=prefix)
    assert response.status_code == 400
    assert text(response).startswith(f"Artifact-Plugins header '{header}' is invalid: ")
    assert not Artifact.objects.exists()
    assert incoming_entries() == []


def test_upload_duplicate_plugin_in_header_is_400(client):
    header = json.dumps([plugin("batchsource", "csv"), plugin("batchsource", "csv")])
    response = upload(client, plugins=header)
    assert response.status_code == 400
    assert "duplicate plugin batchsource:csv" in text(response)
    assert not Artifact.objects.exists()


def test_upload_header_plugin_duplicating_manifest_plugin_is_400(client):
    body = archive(plugins=[plugin("batchsource", "csv")])
    response = upload(client, body=body, plugins=json.dumps([plugin("batchsource", "csv")]))
    assert response.status_code == 400
    assert "batchsource:csv" in text(response)
    assert not Artifact.objects.exists()


def test_upload_jar_uses_bundle_version(client, prefix):
    add(client, "mysql-connector-java", jar_bytes("5.1.38"), prefix=prefix)
    found = row("mysql-connector-java", "5.1.38")
    assert found.format == "jar"
    assert found.app_class is None
    detail = client.get(f"{prefix}/default/artifacts/mysql-connector-java/versions/5.1.38").json()
    assert detail["classes"] == {"apps": [], "plugins": []}


def test_upload_jar_header_version_wins(client):
    add(client, "driver", jar_bytes("5.1.38"), version="5.2.0")
    assert versions_of("driver") == ["5.2.0"]


def test_upload_jar_without_bundle_version_is_400(client):
    response = upload(client, "driver", jar_bytes(None))
    assert response.status_code == 400
    assert "Bundle-Version" in text(response)
    assert not Artifact.objects.exists()


def test_upload_jar_with_plugins_header(client):
    jdbc = {"type": "jdbc", "name": "mysql", "className": "com.mysql.jdbc.Driver", "description": "MySQL"}
    add(client, "driver", jar_bytes("5.1.38"), plugins=json.dumps([jdbc]))
    plugins = list(row("driver", "5.1.38").plugins.values_list("type", "name", "class_name"))
    assert plugins == [("jdbc", "mysql", "com.mysql.jdbc.Driver")]


def test_put_plugins_of_a_jar(client, prefix):
    add(client, "driver", jar_bytes("5.1.38"))
    url = f"{prefix}/default/artifacts/driver/versions/5.1.38/plugins"
    jdbc = [{"type": "jdbc", "name": "mysql", "className": "com.mysql.jdbc.Driver", "description": "MySQL"}]
    response = client.put(url, jdbc, format="json")
    assert response.status_code == 200, text(response)
    detail = client.get(f"{prefix}/default/artifacts/driver/versions/5.1.38").json()
    assert [(p["type"], p["name"], p["className"]) for p in detail["classes"]["plugins"]] == [
        ("jdbc", "mysql", "com.mysql.jdbc.Driver")
    ]
    # a second PUT replaces the list
    response = client.put(url, [{"type": "jdbc", "name": "mariadb", "className": "org.mariadb.Driver"}], format="json")
    assert response.status_code == 200
    assert list(Plugin.objects.values_list("name", flat=True)) == ["mariadb"]


@pytest.mark.parametrize("body", ["{not json", '{"type": "jdbc"}', '[{"type": "jdbc", "name": "x"}]'])
def test_put_plugins_bad_body_is_400(client, body):
    add(client, "driver", jar_bytes("5.1.38"))
    url = f"{V3}/default/artifacts/driver/versions/5.1.38/plugins"
    response = client.put(url, data=body, content_type="application/json")
    assert response.status_code == 400
    assert not Plugin.objects.exists()


def test_put_plugins_of_unknown_version_is_404(client):
    response = client.put(f"{V3}/default/artifacts/driver/versions/1.0.0/plugins", [], format="json")
    assert response.status_code == 404
    assert text(response) == "'artifact:default.driver.1.0.0' was not found."


# --- failed uploads leave nothing behind -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "case",
    [
        "not-zip",
        "bad-manifest",
        "no-version",
        "exists",
        "missing-parent",
        "bad-parent",
        "cycle",
        "bad-plugins",
        "unsafe-path",
        "too-large",
    ],
)
def test_failed_upload_leaves_no_rows_and_no_files(client, settings, case):
    add(client, "pipeline", archive("pipeline"))
    artifacts, versions, blobs, files = (
        Artifact.objects.count(),
        ArtifactVersion.objects.count(),
        Blob.objects.count(),
        blob_files(),
    )
    kwargs = {}
    name, body = "myapp", archive()
    if case == "not-zip":
        body = b"not a zip at all"
    elif case == "bad-manifest":
        body = zip_bytes(manifest(app=True, plugins=[{"type": "x"}]))
    elif case == "no-version":
        body = archive(version=None)
    elif case == "exists":
        name, body = "pipeline", archive("pipeline", properties={"x": "y"})
    elif case == "missing-parent":
        kwargs["extends"] = "pipeline[5.0.0,6.0.0)"
    elif case == "bad-parent":
        kwargs["extends"] = "myapp[1.0.0,2.0.0)"
    elif case == "cycle":
        add(client, "child", plugin_archive("child"), extends="pipeline[1.0.0,2.0.0)")
        artifacts, versions, blobs, files = (
            Artifact.objects.count(),
            ArtifactVersion.objects.count(),
            Blob.objects.count(),
            blob_files(),
        )
        name, body = "pipeline", archive("pipeline", "1.5.0")
        kwargs["extends"] = "child[1.0.0,2.0.0)"
    elif case == "unsafe-path":
        body = zip_bytes(manifest(), files={"../evil.py": "x = 1\n"})
    elif case == "bad-plugins":
        body = archive(plugins=[plugin("batchsource", "csv")])
        kwargs["plugins"] = json.dumps([plugin("batchsource", "csv")])
    elif case == "too-large":
        settings.ARTIFACT_MAX_BYTES = 2048
        body = zip_bytes(
            manifest(), files={"big.bin": b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(200))}
        )
    response = upload(client, name, body, **kwargs)
    assert 400 <= response.status_code < 500, text(response)
    assert Artifact.objects.count() == artifacts
    assert ArtifactVersion.objects.count() == versions
    assert Blob.objects.count() == blobs
    assert blob_files() == files
    assert incoming_entries() == []


# --- listing ---------------------------------------------------------------------------------------------------
@pytest.fixture
def listed(client, admin_client, system_dir):
    """User artifacts myapp 1.0.0/1.0.1 and plugs 1.0.0; system artifacts pipeline 1.0.0 and zeta 2.0.0."""
    load_system(
        admin_client,
        system_dir,
        {"pipeline-1.0.0.zip": archive("pipeline"), "zeta-2.0.0.zip": archive("zeta", "2.0.0")},
    )
    add(client, version="1.0.1")
    add(client, version="1.0.0")
    add(client, "plugs", plugin_archive())


USER_ROWS = [
    {"name": "myapp", "version": "1.0.0", "scope": "USER"},
    {"name": "myapp", "version": "1.0.1", "scope": "USER"},
    {"name": "plugs", "version": "1.0.0", "scope": "USER"},
]
SYSTEM_ROWS = [
    {"name": "pipeline", "version": "1.0.0", "scope": "SYSTEM"},
    {"name": "zeta", "version": "2.0.0", "scope": "SYSTEM"},
]


def summaries(response) -> list[dict]:
    assert response.status_code == 200, text(response)
    return [{k: item[k] for k in ("name", "version", "scope")} for item in response.json()]


def test_list_artifacts_queries_do_not_grow_with_the_artifacts(client, listed, django_assert_max_num_queries):
    added = [0]

    def add_artifacts(count: int) -> None:
        for _ in range(count):
            index = added[0] = added[0] + 1
            if index % 2:
                add(client, f"app{index}", version=f"1.{index}.0")
            else:  # a plugin artifact that extends an application artifact
                add(client, f"plugs{index}", plugin_archive(f"plugs{index}"), extends="myapp[1.0.0,2.0.0)")

    path = f"{V3}/default/artifacts"
    client.get(path)  # first-request caches do not count
    with django_assert_max_num_queries(4) as few:
        assert len(client.get(path).json()) == 5  # the listed fixture: three user and two system artifacts
    few = len(few)  # counted now: a later request starts the connection's query log afresh
    add_artifacts(20)
    with django_assert_max_num_queries(few):
        assert len(client.get(path).json()) == 25


def test_list_artifacts_shows_system_first(client, prefix, listed):
    response = client.get(f"{prefix}/default/artifacts")
    assert summaries(response) == SYSTEM_ROWS + USER_ROWS
    assert [item["isSystem"] for item in response.json()] == [True, True, False, False, False]


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"includeSystem": "true"}, SYSTEM_ROWS + USER_ROWS),
        ({"includeSystem": "false"}, USER_ROWS),
        ({"scope": "user"}, USER_ROWS),
        ({"scope": "USER"}, USER_ROWS),
        ({"scope": "system"}, SYSTEM_ROWS),
        ({"isSystem": "true"}, SYSTEM_ROWS),
        ({"isSystem": "false"}, USER_ROWS),
    ],
)
def test_list_artifacts_by_scope(client, prefix, listed, query, expected):
    assert summaries(client.get(f"{prefix}/default/artifacts", query)) == expected


def test_list_artifacts_of_empty_namespace_sees_system(client, listed):
    client.put(f"{V3}/team")
    assert summaries(client.get(f"{V3}/team/artifacts")) == SYSTEM_ROWS
    assert summaries(client.get(f"{V3}/team/artifacts", {"scope": "user"})) == []


@pytest.mark.parametrize("scope", ["x", "both", "users"])
def test_list_artifacts_bad_scope_is_400(client, prefix, scope):
    response = client.get(f"{prefix}/default/artifacts", {"scope": scope})
    assert response.status_code == 400
    assert text(response) == f"Invalid scope {scope}"


def test_list_artifacts_pages_with_token(client, prefix, listed):
    seen, pages = walk(client, f"{prefix}/default/artifacts", {"limit": 2})
    assert seen == [(r["name"], r["version"], r["scope"]) for r in SYSTEM_ROWS + USER_ROWS]
    assert pages == 3


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        base64.urlsafe_b64encode(b"7\x1fmyapp\x1f00").decode(),
        base64.urlsafe_b64encode(b"0\x1f\x1f").decode(),
    ],
)
def test_list_artifacts_invalid_page_token_is_400(client, listed, token):
    response = client.get(f"{V3}/default/artifacts", {"limit": 2, "pageToken": token})
    assert response.status_code == 400
    assert text(response) == f"Invalid pageToken '{token}'."


def walk(client, url: str, params: dict) -> tuple[list[tuple], int]:
    """Follow X-Next-Page-Token until the last page; return every (name, version, scope) and the page count."""
    seen: list[tuple] = []
    token, pages = None, 0
    while True:
        query = dict(params, **({"pageToken": token} if token else {}))
        response = client.get(url, query)
        assert response.status_code == 200, text(response)
        seen.extend((item["name"], item["version"], item["scope"]) for item in response.json())
        pages += 1
        token = response.headers.get("X-Next-Page-Token")
        if not token:
            return seen, pages
        assert len(response.json()) == params["limit"]
        assert pages < 20


# CDAP's order: a snapshot below its release, numeric parts compared as numbers.
CDAP_ORDER = ["0.9.0", "1.0.0-SNAPSHOT", "1.0.0", "1.0.1", "1.2.0", "1.10.0"]


@pytest.fixture
def many_versions(client):
    body = archive()
    for version in ["1.10.0", "1.0.0", "1.0.1", "1.0.0-SNAPSHOT", "1.2.0", "0.9.0"]:
        add(client, body=body, version=version)


def test_list_versions_default_order(client, prefix, many_versions):
    response = client.get(f"{prefix}/default/artifacts/myapp")
    assert [r["version"] for r in summaries(response)] == CDAP_ORDER
    assert {r["scope"] for r in summaries(response)} == {"USER"}
    assert "X-Next-Page-Token" not in response.headers


@pytest.mark.parametrize(
    "order, expected", [("ASC", CDAP_ORDER), ("DESC", CDAP_ORDER[::-1]), ("desc", CDAP_ORDER[::-1])]
)
def test_list_versions_order(client, prefix, many_versions, order, expected):
    response = client.get(f"{prefix}/default/artifacts/myapp", {"order": order})
    assert [r["version"] for r in summaries(response)] == expected


def test_list_versions_latest_is_desc_limit_1(client, prefix, many_versions):
    response = client.get(f"{prefix}/default/artifacts/myapp", {"order": "DESC", "limit": 1})
    assert [r["version"] for r in summaries(response)] == ["1.10.0"]


def test_list_versions_limit(client, prefix, many_versions):
    response = client.get(f"{prefix}/default/artifacts/myapp", {"order": "ASC", "limit": 3})
    assert [r["version"] for r in summaries(response)] == CDAP_ORDER[:3]


@pytest.mark.parametrize(
    "rng, expected",
    [
        ("[1.0.0,1.2.0)", ["1.0.0", "1.0.1"]),
        ("[1.0.0,1.2.0]", ["1.0.0", "1.0.1", "1.2.0"]),
        ("(1.0.0,2.0.0)", ["1.0.1", "1.2.0", "1.10.0"]),
        ("[1.0.0-SNAPSHOT,1.0.0]", ["1.0.0-SNAPSHOT", "1.0.0"]),
        ("1.0.1", ["1.0.1"]),
        ("[5.0.0,6.0.0)", []),
    ],
)
def test_list_versions_range_filter(client, prefix, many_versions, rng, expected):
    response = client.get(f"{prefix}/default/artifacts/myapp", {"artifactVersion": rng, "order": "ASC"})
    assert [r["version"] for r in summaries(response)] == expected


def test_list_versions_range_on_unknown_name_is_empty(client, prefix):
    response = client.get(f"{prefix}/default/artifacts/nope", {"artifactVersion": "[1.0.0,2.0.0)"})
    assert response.status_code == 200
    assert response.json() == []


def test_list_versions_unknown_name_is_404(client, prefix):
    response = client.get(f"{prefix}/default/artifacts/nope")
    assert response.status_code == 404
    assert text(response) == "'default:nope' was not found."


@pytest.mark.parametrize(
    "rng", ["[1.0.0", "[1.0.0,2.0.0", "[2.0.0,1.0.0)", "[1.0.0,1.0.0)", "latest", "[x,2.0.0)", "[1.0.0,2.0.0)x"]
)
def test_list_versions_bad_range_is_400(client, prefix, many_versions, rng):
    response = client.get(f"{prefix}/default/artifacts/myapp", {"artifactVersion": rng})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert text(response)


@pytest.mark.parametrize("query", [{"order": "SIDEWAYS"}, {"limit": "0"}, {"limit": "-1"}, {"limit": "x"}])
def test_list_versions_bad_order_or_limit_is_400(client, many_versions, query):
    assert client.get(f"{V3}/default/artifacts/myapp", query).status_code == 400


@pytest.mark.parametrize("route", ["artifacts", "artifacts/myapp"])
@pytest.mark.parametrize("limit", ["9223372036854775807", "99999999999999999999"])
def test_list_huge_limit_is_never_500(client, many_versions, route, limit):
    response = client.get(f"{V3}/default/{route}", {"limit": limit})
    assert response.status_code in (200, 400), text(response)
    if response.status_code == 200:
        assert [r["version"] for r in response.json()] == CDAP_ORDER


@pytest.mark.parametrize("order, expected", [("ASC", CDAP_ORDER), ("DESC", CDAP_ORDER[::-1])])
@pytest.mark.parametrize("limit", [1, 2, 4])
def test_list_versions_pages_walk_every_version_once(client, prefix, many_versions, order, expected, limit):
    seen, pages = walk(client, f"{prefix}/default/artifacts/myapp", {"limit": limit, "order": order})
    assert [version for _, version, _ in seen] == expected
    assert pages == -(-len(expected) // limit)


def test_list_versions_pages_in_fine_grained_cdap_order(client):
    # a missing part sorts below any number, a snapshot below its release (any case), a release below its suffixes
    expected = [
        "1",
        "1.0",
        "1.0.0-SNAPSHOT",
        "1.0.0",
        "1.0.0-alpha",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0-snapshot",
        "2.0.0",
        "10.0.0",
    ]
    body = archive()
    for version in reversed(expected[::2] + expected[1::2]):
        add(client, body=body, version=version)
    seen, pages = walk(client, f"{V3}/default/artifacts/myapp", {"limit": 3, "order": "ASC"})
    assert [version for _, version, _ in seen] == expected
    assert pages == 5
    seen, _ = walk(client, f"{SEED}/default/artifacts/myapp", {"limit": 5, "order": "DESC"})
    assert [version for _, version, _ in seen] == expected[::-1]
    assert Blob.objects.count() == 1


def test_list_versions_pages_with_range(client, many_versions):
    seen, pages = walk(client, f"{V3}/default/artifacts/myapp", {"limit": 1, "artifactVersion": "[1.0.0,2.0.0)"})
    assert [version for _, version, _ in seen] == ["1.0.0", "1.0.1", "1.2.0", "1.10.0"]
    assert pages == 4


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        base64.urlsafe_b64encode(b"a\x1fb\x1fc").decode(),
        "***",
        "%%%",
        base64.urlsafe_b64encode(b"not-a-key").decode(),
        base64.urlsafe_b64encode(b"\x00").decode(),
    ],
)
def test_list_versions_invalid_page_token_is_400(client, many_versions, token):
    response = client.get(f"{V3}/default/artifacts/myapp", {"limit": 2, "pageToken": token})
    assert response.status_code == 400
    assert text(response)


def test_list_versions_of_system_artifact(client, admin_client, system_dir, prefix):
    load_system(admin_client, system_dir, {"pipeline-1.0.0.zip": archive("pipeline")})
    response = client.get(f"{prefix}/default/artifacts/pipeline", {"scope": "system"})
    assert summaries(response) == [{"name": "pipeline", "version": "1.0.0", "scope": "SYSTEM"}]
    response = client.get(f"{prefix}/default/artifacts/pipeline", {"scope": "user"})
    assert response.status_code == 404
    assert text(response) == "'default:pipeline' was not found."
    response = client.get(f"{prefix}/default/artifacts/nope", {"scope": "system"})
    assert response.status_code == 404
    assert text(response) == "'system:nope' was not found."


# --- detail ----------------------------------------------------------------------------------------------------
def test_artifact_detail(client, prefix):
    add(client, "pipeline", archive("pipeline"))
    doc = manifest(plugins=[plugin("batchsource", "csv")], properties={"author": "me"})
    body = zip_bytes(doc)
    add(client, body=body, extends="pipeline[1.0.0,2.0.0)")
    response = client.get(f"{prefix}/default/artifacts/myapp/versions/1.0.0")
    assert response.status_code == 200
    detail = response.json()
    assert detail["name"] == "myapp" and detail["version"] == "1.0.0" and detail["scope"] == "USER"
    (app,) = detail["classes"]["apps"]
    assert app["className"] == "myapp.app:MyApp"
    assert app["description"] == "myapp application"
    assert app["configSchema"] == SCHEMA
    (plug,) = detail["classes"]["plugins"]
    assert plug["type"] == "batchsource" and plug["name"] == "csv"
    assert plug["className"] == "myplugins.csv:Plugin"
    assert plug["description"] == "csv plugin"
    assert plug["configFieldName"] == "config"
    path = plug["properties"]["path"]
    assert path["name"] == "path" and path["type"] == "string" and path["required"] is True
    assert path["macroSupported"] is False and path["children"] == []
    assert detail["parents"] == ["default:pipeline[1.0.0,2.0.0)"]
    assert detail["properties"] == {"author": "me"}
    assert detail["checksum"] == {"sha256": hashlib.sha256(body).hexdigest()}
    assert detail["size"] == len(body)


def test_artifact_detail_unknown_version_is_404(client, prefix):
    add(client)
    response = client.get(f"{prefix}/default/artifacts/myapp/versions/9.9.9")
    assert response.status_code == 404
    assert text(response) == "'artifact:default.myapp.9.9.9' was not found."
    response = client.get(f"{prefix}/default/artifacts/nope/versions/1.0.0")
    assert response.status_code == 404
    assert text(response) == "'artifact:default.nope.1.0.0' was not found."
    response = client.get(f"{prefix}/default/artifacts/myapp/versions/1.0.0", {"scope": "system"})
    assert response.status_code == 404
    assert text(response) == "'artifact:system.myapp.1.0.0' was not found."


@pytest.mark.parametrize("version", ["v1", "abc", "1.0.0-"])
def test_artifact_detail_bad_version_is_400(client, prefix, version):
    add(client)
    response = client.get(f"{prefix}/default/artifacts/myapp/versions/{version}")
    assert response.status_code == 400
    assert version in text(response)


def test_artifact_detail_bad_scope_is_400(client):
    add(client)
    response = client.get(f"{V3}/default/artifacts/myapp/versions/1.0.0", {"scope": "x"})
    assert response.status_code == 400
    assert text(response) == "Invalid scope x"


# --- properties ------------------------------------------------------------------------------------------------
@pytest.fixture
def with_properties(client):
    add(client, body=archive(properties={"a": "1", "b": "2", "c": "3"}))
    return "default/artifacts/myapp/versions/1.0.0/properties"


def test_properties_get(client, prefix, with_properties):
    response = client.get(f"{prefix}/{with_properties}")
    assert response.status_code == 200
    assert response.json() == {"a": "1", "b": "2", "c": "3"}


def test_properties_get_keys_filter(client, prefix, with_properties):
    response = client.get(f"{prefix}/{with_properties}", {"keys": "a, c,missing"})
    assert response.status_code == 200
    assert response.json() == {"a": "1", "c": "3"}


def test_properties_put_replaces_all(client, prefix, with_properties):
    response = client.put(f"{prefix}/{with_properties}", {"x": "10", "a": "new"}, format="json")
    assert response.status_code == 200
    assert text(response) == ""
    assert row("myapp", "1.0.0").properties == {"x": "10", "a": "new"}
    assert client.get(f"{prefix}/{with_properties}").json() == {"x": "10", "a": "new"}


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '{"a": 1}', '{"a": {"b": "c"}}', ""])
def test_properties_put_bad_json_is_400(client, prefix, with_properties, body):
    response = client.put(f"{prefix}/{with_properties}", data=body, content_type="application/json")
    assert response.status_code == 400
    assert text(response) == (
        "Json Syntax Error while parsing properties from request. Please check that the properties are a json "
        "map from string to string."
    )
    assert row("myapp", "1.0.0").properties == {"a": "1", "b": "2", "c": "3"}


def test_property_get_put_delete_one_key(client, prefix, with_properties):
    url = f"{prefix}/{with_properties}"
    response = client.get(f"{url}/b")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert text(response) == "2"

    response = client.put(f"{url}/b", data=b"two words", content_type="text/plain")
    assert response.status_code == 200
    assert text(client.get(f"{url}/b")) == "two words"
    response = client.put(f"{url}/d", data=b"4", content_type="text/plain")
    assert response.status_code == 200
    assert row("myapp", "1.0.0").properties == {"a": "1", "b": "two words", "c": "3", "d": "4"}

    response = client.delete(f"{url}/a")
    assert response.status_code == 200
    assert row("myapp", "1.0.0").properties == {"b": "two words", "c": "3", "d": "4"}
    response = client.get(f"{url}/a")
    assert response.status_code == 404


def test_properties_delete_all(client, prefix, with_properties):
    response = client.delete(f"{prefix}/{with_properties}")
    assert response.status_code == 200
    assert row("myapp", "1.0.0").properties == {}
    assert client.get(f"{prefix}/{with_properties}").json() == {}


def test_properties_of_unknown_version_is_404(client, prefix):
    add(client)
    for method in ("get", "put", "delete"):
        response = getattr(client, method)(f"{prefix}/default/artifacts/myapp/versions/2.0.0/properties")
        assert response.status_code == 404
        assert text(response) == "'artifact:default.myapp.2.0.0' was not found."


# --- plugins and app classes -----------------------------------------------------------------------------------
@pytest.fixture
def plugin_tree(client):
    """pipeline 1.0.0 and 2.0.0 (apps); plugs 1.0.0 extends pipeline[1.0.0,2.0.0) with a source and a sink."""
    add(client, "pipeline", archive("pipeline"))
    add(client, "pipeline", archive("pipeline", "2.0.0"))
    add(client, "plugs", plugin_archive(), extends="pipeline[1.0.0,2.0.0)")


def test_extensions_list_plugin_types_of_children_in_range(client, prefix, plugin_tree):
    response = client.get(f"{prefix}/default/artifacts/pipeline/versions/1.0.0/extensions")
    assert response.status_code == 200
    assert sorted(response.json()) == ["batchsink", "batchsource"]


def test_extensions_exclude_children_outside_the_range(client, prefix, plugin_tree):
    response = client.get(f"{prefix}/default/artifacts/pipeline/versions/2.0.0/extensions")
    assert response.status_code == 200
    assert response.json() == []
    response = client.get(f"{prefix}/default/artifacts/pipeline/versions/2.0.0/extensions/batchsource")
    assert response.status_code == 200
    assert response.json() == []


def test_extensions_of_unknown_artifact_is_404(client, prefix):
    response = client.get(f"{prefix}/default/artifacts/pipeline/versions/1.0.0/extensions")
    assert response.status_code == 404
    assert text(response) == "'artifact:default.pipeline.1.0.0' was not found."


def test_extensions_of_a_type(client, prefix, plugin_tree):
    response = client.get(f"{prefix}/default/artifacts/pipeline/versions/1.0.0/extensions/batchsource")
    assert response.status_code == 200
    assert response.json() == [
        {
            "name": "csv",
            "type": "batchsource",
            "description": "csv plugin",
            "className": "myplugins.csv:Plugin",
            "artifact": {"name": "plugs", "version": "1.0.0", "scope": "USER"},
        }
    ]
    response = client.get(f"{prefix}/default/artifacts/pipeline/versions/1.0.0/extensions/nosuchtype")
    assert response.status_code == 200
    assert response.json() == []


def test_extension_plugin_detail(client, prefix, plugin_tree):
    response = client.get(f"{prefix}/default/artifacts/pipeline/versions/1.0.0/extensions/batchsink/plugins/table")
    assert response.status_code == 200
    (info,) = response.json()
    assert info["name"] == "table" and info["type"] == "batchsink"
    assert info["className"] == "myplugins.table:Plugin"
    assert info["artifact"] == {"name": "plugs", "version": "1.0.0", "scope": "USER"}
    assert info["configFieldName"] == "config"
    assert set(info["properties"]) == {"path"}
    assert "endpoints" in info


def test_extension_plugin_missing_is_404(client, prefix, plugin_tree):
    response = client.get(f"{prefix}/default/artifacts/pipeline/versions/1.0.0/extensions/batchsink/plugins/nope")
    assert response.status_code == 404
    assert text(response) == "'default:batchsink:nope' was not found."
    # present in plugs, but plugs does not extend pipeline 2.0.0
    response = client.get(f"{prefix}/default/artifacts/pipeline/versions/2.0.0/extensions/batchsink/plugins/table")
    assert response.status_code == 404
    assert text(response) == "'default:batchsink:table' was not found."


def test_extension_plugin_filters(client, plugin_tree):
    add(client, "plugs", plugin_archive(version="1.1.0"), extends="pipeline[1.0.0,2.0.0)")
    url = f"{V3}/default/artifacts/pipeline/versions/1.0.0/extensions/batchsource/plugins/csv"
    assert [p["artifact"]["version"] for p in client.get(url, {"order": "ASC"}).json()] == ["1.0.0", "1.1.0"]
    assert [p["artifact"]["version"] for p in client.get(url, {"order": "DESC", "limit": 1}).json()] == ["1.1.0"]
    found = client.get(url, {"artifactVersion": "[1.1.0,2.0.0)"}).json()
    assert [p["artifact"]["version"] for p in found] == ["1.1.0"]
    assert client.get(url, {"artifactName": "other"}).status_code == 404
    assert client.get(url, {"artifactScope": "system"}).status_code == 404
    assert client.get(url, {"artifactVersion": "[1.0.0"}).status_code == 400


def test_user_plugins_extend_a_system_artifact(client, admin_client, system_dir, prefix):
    load_system(admin_client, system_dir, {"pipeline-1.0.0.zip": archive("pipeline")})
    add(client, "plugs", plugin_archive(), extends="system:pipeline[1.0.0,2.0.0)")
    url = f"{prefix}/default/artifacts/pipeline/versions/1.0.0/extensions"
    assert sorted(client.get(url, {"scope": "system"}).json()) == ["batchsink", "batchsource"]
    # another namespace does not see default's plugins
    client.put(f"{V3}/team")
    assert client.get(f"{prefix}/team/artifacts/pipeline/versions/1.0.0/extensions", {"scope": "system"}).json() == []


def test_namespace_plugin_types(client, prefix, plugin_tree):
    add(client, "more", plugin_archive("more", plugins=[plugin("transform", "js")]), extends="pipeline[2.0.0,3.0.0)")
    for route in ("plugintypes", "extensions"):
        response = client.get(f"{prefix}/default/{route}")
        assert response.status_code == 200
        assert sorted(response.json()) == ["batchsink", "batchsource", "transform"]


def test_namespace_plugins_of_a_type(client, prefix, plugin_tree):
    for route in ("plugintypes", "extensions"):
        response = client.get(f"{prefix}/default/{route}/batchsource")
        assert response.status_code == 200
        assert [(p["name"], p["artifact"]["name"]) for p in response.json()] == [("csv", "plugs")]
        response = client.get(f"{prefix}/default/{route}/batchsource/plugins/csv")
        assert response.status_code == 200
        (info,) = response.json()
        assert info["className"] == "myplugins.csv:Plugin" and "properties" in info
        response = client.get(f"{prefix}/default/{route}/batchsource/plugins/nope")
        assert response.status_code == 404
        assert text(response) == "'default:batchsource:nope' was not found."


def test_app_classes(client, admin_client, system_dir, prefix):
    load_system(admin_client, system_dir, {"pipeline-1.0.0.zip": archive("pipeline")})
    add(client)
    add(client, "plugs", plugin_archive())
    response = client.get(f"{prefix}/default/classes/apps")
    assert response.status_code == 200
    assert response.json() == [
        {"artifact": {"name": "myapp", "version": "1.0.0", "scope": "USER"}, "className": "myapp.app:MyApp"},
        {"artifact": {"name": "pipeline", "version": "1.0.0", "scope": "SYSTEM"}, "className": "myapp.app:MyApp"},
    ]
    user_only = client.get(f"{prefix}/default/classes/apps", {"scope": "user"}).json()
    assert [c["artifact"]["name"] for c in user_only] == ["myapp"]
    assert client.get(f"{prefix}/default/classes/apps", {"scope": "x"}).status_code == 400


def test_app_class_detail(client, prefix):
    add(client)
    response = client.get(f"{prefix}/default/classes/apps/myapp.app:MyApp")
    assert response.status_code == 200
    assert response.json() == [
        {
            "artifact": {"name": "myapp", "version": "1.0.0", "scope": "USER"},
            "className": "myapp.app:MyApp",
            "configSchema": SCHEMA,
        }
    ]
    response = client.get(f"{prefix}/default/classes/apps/no.such:Class")
    assert response.status_code == 200
    assert response.json() == []


# --- system artifacts ------------------------------------------------------------------------------------------
def test_non_admin_cannot_upload_to_system_namespace(client):
    response = upload(client, "pipeline", archive("pipeline"), ns="system")
    assert response.status_code == 403
    assert not Artifact.objects.exists()
    assert incoming_entries() == [] and blob_files() == []


def test_non_admin_cannot_reload_system_artifacts(client, system_dir, prefix):
    (system_dir / "pipeline-1.0.0.zip").write_bytes(archive("pipeline"))
    response = client.post(f"{prefix}/system/artifacts")
    assert response.status_code == 403
    assert not Artifact.objects.exists()


def test_reload_system_artifacts_is_only_for_the_system_namespace(admin_client):
    response = admin_client.post(f"{V3}/default/artifacts")
    assert response.status_code == 405


def test_admin_loads_system_archives_and_source_dirs(client, admin_client, system_dir):
    source = system_dir / "tool"
    source.mkdir()
    (source / "artifact.json").write_text(json.dumps(manifest("tool", "0.1.0", properties={"kind": "dir"})))
    (source / "myapp").mkdir()
    (source / "myapp" / "__init__.py").write_text("")
    sidecar = {
        "parents": ["system:pipeline[1.0.0,2.0.0)"],
        "plugins": [{"type": "jdbc", "name": "mysql", "className": "com.mysql.jdbc.Driver"}],
        "properties": {"vendor": "oracle"},
    }
    response = load_system(
        admin_client,
        system_dir,
        {
            "pipeline-1.0.0.zip": archive("pipeline"),
            "pipeline-1.1.0-SNAPSHOT.zip": archive("pipeline", "1.1.0-SNAPSHOT"),
            "z-mysql-5.1.38.jar": jar_bytes("5.1.38"),
            "z-mysql-5.1.38.json": json.dumps(sidecar),
            "README.md": "not an artifact",
        },
    )
    assert text(response) == ""
    assert versions_of("pipeline", "system") == ["1.0.0", "1.1.0-SNAPSHOT"]
    assert versions_of("tool", "system") == ["0.1.0"]
    assert row("tool", "0.1.0", "system").properties == {"kind": "dir"}
    jar = row("z-mysql", "5.1.38", "system")
    assert jar.format == "jar"
    assert list(jar.plugins.values_list("type", "name")) == [("jdbc", "mysql")]
    assert jar.properties == {"vendor": "oracle"}
    assert list(jar.parent_ranges.values_list("namespace", "name", "range")) == [
        ("system", "pipeline", "[1.0.0,2.0.0)")
    ]
    assert all(v.blob_path.is_file() for v in ArtifactVersion.objects.all())
    assert incoming_entries() == []
    # visible from a user namespace with scope=system
    listed = summaries(client.get(f"{V3}/default/artifacts", {"scope": "system"}))
    assert listed == [
        {"name": "pipeline", "version": "1.0.0", "scope": "SYSTEM"},
        {"name": "pipeline", "version": "1.1.0-SNAPSHOT", "scope": "SYSTEM"},
        {"name": "tool", "version": "0.1.0", "scope": "SYSTEM"},
        {"name": "z-mysql", "version": "5.1.38", "scope": "SYSTEM"},
    ]
    detail = client.get(f"{V3}/default/artifacts/z-mysql/versions/5.1.38", {"scope": "system"}).json()
    assert detail["scope"] == "SYSTEM" and detail["isSystem"] is True
    assert detail["parents"] == ["system:pipeline[1.0.0,2.0.0)"]
    types = client.get(f"{V3}/default/artifacts/pipeline/versions/1.0.0/extensions", {"scope": "system"}).json()
    assert types == ["jdbc"]


def test_reloading_system_artifacts_leaves_releases_unchanged(admin_client, system_dir):
    load_system(admin_client, system_dir, {"pipeline-1.0.0.zip": archive("pipeline")})
    before = row("pipeline", "1.0.0", "system")
    # the file on disk changes, but a release is immutable: the reload leaves it as it was
    (system_dir / "pipeline-1.0.0.zip").write_bytes(archive("pipeline", properties={"changed": "yes"}))
    response = admin_client.post(f"{SEED}/system/artifacts")
    assert response.status_code == 200
    assert text(response) == ""
    after = row("pipeline", "1.0.0", "system")
    assert ArtifactVersion.objects.count() == 1
    assert (after.pk, after.sha256, after.updated_at, after.properties) == (
        before.pk,
        before.sha256,
        before.updated_at,
        before.properties,
    )


def test_reloading_system_artifacts_replaces_snapshots(admin_client, system_dir):
    load_system(admin_client, system_dir, {"pipeline-1.1.0-SNAPSHOT.zip": archive("pipeline", "1.1.0-SNAPSHOT")})
    before = row("pipeline", "1.1.0-SNAPSHOT", "system")
    new_body = archive("pipeline", "1.1.0-SNAPSHOT", properties={"changed": "yes"})
    load_system(admin_client, system_dir, {"pipeline-1.1.0-SNAPSHOT.zip": new_body})
    after = row("pipeline", "1.1.0-SNAPSHOT", "system")
    assert ArtifactVersion.objects.count() == 1
    assert after.sha256 == hashlib.sha256(new_body).hexdigest() != before.sha256
    assert not before.blob_path.exists()


def test_system_plugin_artifact_loads_even_when_it_sorts_before_its_parent(admin_client, system_dir):
    sidecar = {"parents": ["system:pipeline[1.0.0,2.0.0)"]}
    load_system(
        admin_client,
        system_dir,
        {
            "database-plugins-1.0.0.zip": plugin_archive("database-plugins"),
            "database-plugins-1.0.0.json": json.dumps(sidecar),
            "pipeline-1.0.0.zip": archive("pipeline"),
        },
    )
    assert versions_of("database-plugins", "system") == ["1.0.0"]


def test_bad_system_archive_is_reported_and_others_still_load(admin_client, system_dir):
    (system_dir / "broken-1.0.0.zip").write_bytes(b"not a zip")
    (system_dir / "pipeline-1.0.0.zip").write_bytes(archive("pipeline"))
    response = admin_client.post(f"{V3}/system/artifacts")
    assert response.status_code == 500
    assert "broken-1.0.0.zip" in text(response)
    assert versions_of("pipeline", "system") == ["1.0.0"]
    assert not Artifact.objects.filter(name="broken").exists()
    assert incoming_entries() == []


def test_load_system_artifacts_command(system_dir):
    (system_dir / "pipeline-1.0.0.zip").write_bytes(archive("pipeline"))
    out = io.StringIO()
    call_command("load_system_artifacts", stdout=out)
    assert "loaded pipeline-1.0.0.zip" in out.getvalue()
    assert "1 loaded, 0 unchanged, 0 failed." in out.getvalue()
    assert versions_of("pipeline", "system") == ["1.0.0"]
    before = row("pipeline", "1.0.0", "system")
    out = io.StringIO()
    call_command("load_system_artifacts", stdout=out)
    assert "0 loaded, 1 unchanged, 0 failed." in out.getvalue()
    assert row("pipeline", "1.0.0", "system").updated_at == before.updated_at


def test_repository_command_app_loads(client):
    out = io.StringIO()
    call_command("load_system_artifacts", str(REPO / "system-artifacts"), stdout=out)
    assert "loaded command-app" in out.getvalue()
    assert "0 failed" in out.getvalue()
    found = row("command-app", "1.0.0", "system")
    assert found.app_class["className"] == "command_app:CommandApp"
    detail = client.get(f"{V3}/default/artifacts/command-app/versions/1.0.0", {"scope": "system"}).json()
    assert detail["scope"] == "SYSTEM"
    assert detail["properties"] == {"provider": "platform"}
    assert [p["name"] for p in detail["classes"]["apps"][0]["programs"]] == ["Run", "Worker"]
    # loading the same tree again is a no-op (the source dir is zipped reproducibly)
    out = io.StringIO()
    call_command("load_system_artifacts", str(REPO / "system-artifacts"), stdout=out)
    assert "unchanged command-app" in out.getvalue()
    assert row("command-app", "1.0.0", "system").sha256 == found.sha256


# --- delete a version ------------------------------------------------------------------------------------------
def test_delete_version(client, prefix):
    add(client, version="1.0.0")
    add(client, body=archive(properties={"x": "y"}), version="1.0.1")
    gone = row("myapp", "1.0.0")
    response = client.delete(f"{prefix}/default/artifacts/myapp/versions/1.0.0")
    assert response.status_code == 200
    assert text(response) == ""
    assert versions_of("myapp") == ["1.0.1"]
    assert not gone.blob_path.exists()
    assert not Blob.objects.filter(pk=gone.sha256).exists()
    assert not Plugin.objects.filter(artifact_version_id=gone.pk).exists()
    response = client.get(f"{prefix}/default/artifacts/myapp/versions/1.0.0")
    assert response.status_code == 404
    # the last version takes the artifact with it
    client.delete(f"{prefix}/default/artifacts/myapp/versions/1.0.1")
    assert not Artifact.objects.exists()
    assert blob_files() == []
    assert text(client.get(f"{prefix}/default/artifacts/myapp")) == "'default:myapp' was not found."


def test_delete_version_keeps_a_shared_blob(client):
    body = archive()
    add(client, body=body, version="1.0.0")
    add(client, body=body, version="1.0.1")
    shared = row("myapp", "1.0.1").blob_path
    assert client.delete(f"{V3}/default/artifacts/myapp/versions/1.0.0").status_code == 200
    assert shared.is_file()
    assert client.delete(f"{V3}/default/artifacts/myapp/versions/1.0.1").status_code == 200
    assert not shared.exists()
    assert not Blob.objects.exists()


def test_delete_unknown_version_is_404(client, prefix):
    response = client.delete(f"{prefix}/default/artifacts/myapp/versions/1.0.0")
    assert response.status_code == 404
    assert text(response) == "'artifact:default.myapp.1.0.0' was not found."


def test_delete_version_used_by_apps_is_409(client, prefix):
    add(client)
    deploy_app(client, "app2")
    deploy_app(client, "app1")
    response = client.delete(f"{prefix}/default/artifacts/myapp/versions/1.0.0")
    assert response.status_code == 409
    assert "default.app1" in text(response) and "default.app2" in text(response)
    assert "artifact:default.myapp.1.0.0" in text(response)
    found = row("myapp", "1.0.0")
    assert found.blob_path.is_file()
    # once the apps are gone, the version can go
    assert client.delete(f"{V3}/default/apps/app1").status_code == 200
    assert client.delete(f"{V3}/default/apps/app2").status_code == 200
    assert client.delete(f"{prefix}/default/artifacts/myapp/versions/1.0.0").status_code == 200
    assert not found.blob_path.exists()


def test_delete_system_version_used_by_an_app_is_409(client, admin_client, system_dir):
    load_system(admin_client, system_dir, {"pipeline-1.0.0.zip": archive("pipeline")})
    deploy_app(client, "app1", name="pipeline")
    response = admin_client.delete(f"{V3}/system/artifacts/pipeline/versions/1.0.0")
    assert response.status_code == 409
    assert "default.app1" in text(response)
    assert versions_of("pipeline", "system") == ["1.0.0"]


def test_non_admin_cannot_delete_a_system_artifact_version(client, admin_client, system_dir, prefix):
    load_system(admin_client, system_dir, {"pipeline-1.0.0.zip": archive("pipeline")})
    response = client.delete(f"{prefix}/system/artifacts/pipeline/versions/1.0.0")
    assert response.status_code == 403
    # through a user namespace it is not there at all (scope only chooses where reads look)
    response = client.delete(f"{prefix}/default/artifacts/pipeline/versions/1.0.0?scope=system")
    assert (response.status_code, text(response)) == (404, "'artifact:default.pipeline.1.0.0' was not found.")
    assert versions_of("pipeline", "system") == ["1.0.0"]
    # properties of system artifacts are the admins' too
    response = client.put(f"{prefix}/system/artifacts/pipeline/versions/1.0.0/properties", {"a": "b"}, format="json")
    assert response.status_code == 403
    response = admin_client.delete(f"{prefix}/system/artifacts/pipeline/versions/1.0.0")
    assert response.status_code == 200
    assert not Artifact.objects.exists()
    assert blob_files() == []
