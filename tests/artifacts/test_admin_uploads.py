"""Issue 17, item 4: uploading a new version from an artifact's admin page, and downloading a version's archive."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile

from artifacts.admin import download_filename
from artifacts.models import Artifact, ArtifactParent, ArtifactVersion
from tests.accounts.factories import PASSWORD
from tests.artifacts.factories import manifest, plugin, zip_bytes
from tests.artifacts.test_admin import ARTIFACT, UPLOAD, VERSION, add, blob_files, messages_of, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    assert client.post("/admin/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


def page_of(response) -> str:
    return html.unescape(response.content.decode())


def field_error(page: str, name: str) -> str:
    match = re.search(rf'<ul class="errorlist" id="id_{name}_error"><li>(.*?)</li>', page, re.S)
    return match.group(1) if match else ""


def log_entries(obj) -> list[tuple[int, str]]:
    content_type = ContentType.objects.get_for_model(type(obj))
    entries = LogEntry.objects.filter(content_type=content_type, object_id=str(obj.pk)).order_by("id")
    return [(entry.action_flag, entry.get_change_message()) for entry in entries]


def archive(name="myapp", version="1.1.0", filename=None, **extra) -> SimpleUploadedFile:
    data = zip_bytes(manifest(name, version, app=False, **extra), {"pkg/__init__.py": f"V = {version!r}\n"})
    return SimpleUploadedFile(filename or f"{name}-{version}.zip", data, content_type="application/zip")


@pytest.fixture
def plugins_artifact(db):
    """system:pipeline 1.0.0 (a parent) and default:myplugins 1.0.0 (plugins only)."""
    add("pipeline", "1.0.0", namespace="system")
    return add("myplugins", "1.0.0", app=False, plugins=[plugin("batchsource", "csv")]).artifact


def upload_url(artifact: Artifact) -> str:
    return f"{ARTIFACT}{artifact.pk}/upload/"


# --- upload from the artifact's page ---------------------------------------------------------------------------
def test_artifact_page_has_the_version_upload_form(admin_client, plugins_artifact):
    page = page_of(admin_client.get(f"{ARTIFACT}{plugins_artifact.pk}/change/"))
    form = re.search(r'<form method="post" enctype="multipart/form-data" action="([^"]+)" id="version-upload-form">'
                     r"(.*?)</form>", page, re.S)  # fmt: skip
    assert form and form.group(1) == upload_url(plugins_artifact)
    for name in ("archive", "version", "extends", "plugins", "properties"):
        assert f'name="{name}"' in form.group(2)
    assert 'name="namespace"' not in form.group(2) and 'name="name"' not in form.group(2)
    assert f'href="{upload_url(plugins_artifact)}" class="addlink">Upload a new version</a>' in page
    standalone = page_of(admin_client.get(upload_url(plugins_artifact)))
    assert "Upload a new version of default:myplugins" in standalone and 'name="archive"' in standalone


def test_upload_a_version_with_parents_plugins_and_properties(admin_client, plugins_artifact):
    extra = [
        {"type": "batchsink", "name": "tablesink", "className": "myplugins.sink:Sink"},
    ]
    response = admin_client.post(
        upload_url(plugins_artifact),
        {
            "archive": archive("myplugins", "1.0.0", filename="plugins.zip", plugins=[plugin("batchsource", "csv")]),
            "version": "1.1.0",
            "extends": "system:pipeline[1.0.0,2.0.0)",
            "plugins": json.dumps(extra),
            "properties": '{"owner": "team-a", "tier": "gold"}',
        },
    )
    assert response.status_code == 302 and response["Location"] == f"{ARTIFACT}{plugins_artifact.pk}/change/"
    version = ArtifactVersion.objects.get(artifact=plugins_artifact, version="1.1.0")
    assert version.created_by == "root" and version.filename == "plugins.zip"
    assert version.parents == ["system:pipeline[1.0.0,2.0.0)"]
    assert list(ArtifactParent.objects.filter(child=version).values_list("namespace", "name", "range")) == [
        ("system", "pipeline", "[1.0.0,2.0.0)")
    ]
    assert sorted(version.plugins.values_list("type", "name")) == [("batchsink", "tablesink"), ("batchsource", "csv")]
    assert version.properties == {"owner": "team-a", "tier": "gold"}
    follow = admin_client.get(response["Location"])
    assert any(m.startswith("Added default:myplugins version 1.1.0") for m in messages_of(follow))

    message = (
        f"Uploaded version 1.1.0; archive plugins.zip, {version.size} B, sha256 {version.sha256}; parents "
        "system:pipeline[1.0.0,2.0.0); plugins batchsink:tablesink, batchsource:csv; properties owner, tier."
    )
    assert log_entries(version) == [(ADDITION, message)]
    assert log_entries(plugins_artifact) == [(CHANGE, message)]
    history = page_of(admin_client.get(f"{ARTIFACT}{plugins_artifact.pk}/history/"))
    assert "Uploaded version 1.1.0" in history


def test_upload_errors_are_on_their_fields(admin_client, plugins_artifact):
    url = upload_url(plugins_artifact)
    page = page_of(admin_client.post(url, {"archive": archive("myplugins"), "extends": "pipeline[1.0.0"}))
    assert field_error(page, "extends") and 'class="errornote"' in page
    page = page_of(admin_client.post(url, {"archive": archive("myplugins"), "plugins": "[{}]"}))
    assert field_error(page, "plugins").startswith("plugins")
    page = page_of(admin_client.post(url, {"archive": archive("myplugins"), "properties": '{"a": 1}'}))
    assert field_error(page, "properties") == "Properties must be a JSON object whose values are strings."
    page = page_of(admin_client.post(url, {"archive": archive("myplugins"), "version": "1.0.0"}))
    assert field_error(page, "version") == "Artifact artifact:default.myplugins.1.0.0 already exists."
    page = page_of(admin_client.post(url, {"archive": archive("myplugins", "1.0.0")}))
    assert field_error(page, "archive") == "Artifact artifact:default.myplugins.1.0.0 already exists."
    bad = SimpleUploadedFile("x.zip", b"not a zip")
    page = page_of(admin_client.post(url, {"archive": bad, "version": "2.0.0"}))
    assert field_error(page, "archive").startswith("Invalid artifact:")
    page = page_of(admin_client.post(url, {"archive": archive("otherapp"), "version": "2.0.0"}))
    assert "names the artifact 'otherapp', but it is uploaded as 'myplugins'" in field_error(page, "archive")
    page = page_of(admin_client.post(url, {"archive": archive("myplugins"), "extends": "system:nothing[1.0.0,2.0.0)"}))
    assert "that do not exist" in field_error(page, "extends")
    assert list(ArtifactVersion.objects.filter(artifact=plugins_artifact).values_list("version", flat=True)) == [
        "1.0.0"
    ]
    assert not LogEntry.objects.filter(action_flag=ADDITION).exists()


def test_upload_of_a_snapshot_again_is_logged_as_a_change(admin_client, plugins_artifact):
    url = upload_url(plugins_artifact)
    assert admin_client.post(url, {"archive": archive("myplugins", "2.0.0-SNAPSHOT")}).status_code == 302
    again = SimpleUploadedFile("s.zip", zip_bytes(manifest("myplugins", "2.0.0-SNAPSHOT", app=False), {"n.py": "1"}))
    assert admin_client.post(url, {"archive": again}).status_code == 302
    version = ArtifactVersion.objects.get(artifact=plugins_artifact, version="2.0.0-SNAPSHOT")
    flags = [flag for flag, _ in log_entries(version)]
    assert flags == [ADDITION, CHANGE]
    replaced = log_entries(version)[1][1]
    assert replaced.startswith("Replaced the archive of snapshot version 2.0.0-SNAPSHOT; archive s.zip")


def test_the_general_upload_logs_a_new_artifact_as_an_addition(admin_client):
    response = admin_client.post(UPLOAD, {"namespace": "default", "name": "newapp", "archive": archive("newapp")})
    assert response.status_code == 302
    version = ArtifactVersion.objects.get(artifact__name="newapp")
    assert [flag for flag, _ in log_entries(version.artifact)] == [ADDITION]
    assert [flag for flag, _ in log_entries(version)] == [ADDITION]


def test_upload_to_a_system_artifact_needs_a_superuser(plugins_artifact):
    system = Artifact.objects.get(namespace__name="system", name="pipeline")
    c = staff("uploader", "view_artifact", "add_artifact")
    page = page_of(c.post(upload_url(system), {"archive": archive("pipeline", "1.5.0")}))
    assert "System artifacts cannot be added" in page and 'class="errornote"' in page
    assert not ArtifactVersion.objects.filter(artifact=system, version="1.5.0").exists()
    assert c.post(upload_url(plugins_artifact), {"archive": archive("myplugins", "1.5.0")}).status_code == 302
    assert ArtifactVersion.objects.get(artifact=plugins_artifact, version="1.5.0").created_by == "uploader"


def test_view_only_staff_see_no_upload_form_and_cannot_upload(plugins_artifact):
    c = staff("viewer", "view_artifact")
    page = page_of(c.get(f"{ARTIFACT}{plugins_artifact.pk}/change/"))
    assert 'id="version-upload-form"' not in page and "Upload a new version" not in page
    response = c.post(upload_url(plugins_artifact), {"archive": archive("myplugins", "1.5.0")})
    assert response.status_code == 302 and response["Location"] == f"{ARTIFACT}{plugins_artifact.pk}/change/"
    assert not ArtifactVersion.objects.filter(version="1.5.0").exists() and len(blob_files()) == 2


# --- download --------------------------------------------------------------------------------------------------
def download_url(version: ArtifactVersion) -> str:
    return f"{VERSION}{version.pk}/download/"


def test_download_a_version_archive(admin_client):
    version = add("myapp", "1.0.0")
    page = page_of(admin_client.get(f"{VERSION}{version.pk}/change/"))
    assert f'<a href="{download_url(version)}" download>Download myapp-1.0.0.zip</a>' in page
    inline = page_of(admin_client.get(f"{ARTIFACT}{version.artifact_id}/change/"))
    assert f'href="{download_url(version)}"' in inline

    response = admin_client.get(download_url(version))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="myapp-1.0.0.zip"'
    assert response["Content-Type"] == "application/zip" and response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == version.blob_path.read_bytes()


def test_download_names_are_safe(admin_client):
    upload = SimpleUploadedFile("évil name;x=1.whl", zip_bytes(manifest("myapp", "1.0.0")))
    admin_client.post(UPLOAD, {"namespace": "default", "name": "myapp", "archive": upload})
    wheel = ArtifactVersion.objects.get(artifact__name="myapp")
    assert wheel.format == "wheel" and wheel.filename == "évil name;x=1.whl"
    response = admin_client.get(download_url(wheel))
    assert response["Content-Disposition"] == 'attachment; filename="vil_name_x_1.whl"'
    assert b"".join(response.streaming_content) == wheel.blob_path.read_bytes()

    for stored, expected in [
        ("../../etc/passwd.whl", "passwd.whl"),
        ("..\\..\\.whl", "myapp-1.0.0.whl"),
        ('a"b\r\nContent-Type: text/html.whl', "html.whl"),
        ("myapp-1.0.0-py3-none-any.whl", "myapp-1.0.0-py3-none-any.whl"),
        ("not-a-wheel.zip", "myapp-1.0.0.whl"),
    ]:
        wheel.filename = stored
        assert download_filename(wheel) == expected, stored
    wheel.format = "jar"
    wheel.filename = "x.whl"
    assert download_filename(wheel) == "myapp-1.0.0.jar"


def test_download_is_for_staff_with_view_permission(client, user, admin_client):
    version = add("myapp", "1.0.0")
    client.force_login(user)
    response = client.get(download_url(version))
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert staff("nobody").get(download_url(version)).status_code == 403
    assert staff("viewer", "view_artifactversion").get(download_url(version)).status_code == 200


def test_download_of_a_missing_archive_is_404(admin_client):
    version = add("myapp", "1.0.0")
    version.blob_path.unlink()
    assert admin_client.get(download_url(version)).status_code == 404
    assert admin_client.get(f"{VERSION}999999/download/").status_code == 404
