"""Artifacts and applications in the admin: upload, versions, plugins, and upgrade/rollback/config with a preview."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from artifacts import services
from artifacts.models import Application, ApplicationChange, Artifact, ArtifactVersion, Namespace, Plugin, ProgramRun
from tests.accounts.factories import PASSWORD, UserFactory
from tests.artifacts.factories import SCHEMA, manifest, plugin, zip_bytes
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

APP = "/admin/artifacts/application/"
ARTIFACT = "/admin/artifacts/artifact/"
VERSION = "/admin/artifacts/artifactversion/"
PLUGIN = "/admin/artifacts/plugin/"
UPLOAD = "/admin/artifacts/artifact/upload/"

#: A schema with one field of every kind the config form handles.
RICH_SCHEMA = {
    "type": "record",
    "name": "RichConfig",
    "fields": [
        {"name": "table", "type": "string"},
        {"name": "stream", "type": ["string", "null"]},
        {"name": "batchSize", "type": "int"},
        {"name": "enabled", "type": "boolean"},
        {"name": "mode", "type": {"type": "enum", "name": "Mode", "symbols": ["FAST", "SAFE"]}},
        {"name": "options", "type": ["null", {"type": "map", "keys": "string", "values": "string"}]},
        {
            "name": "target",
            "type": {"type": "record", "name": "Target", "fields": [{"name": "host", "type": "string"}]},
        },
    ],
}
RICH_CONFIG = {"table": "t1", "batchSize": 5, "enabled": True, "mode": "FAST", "target": {"host": "h1"}}

#: Version 3.0.0 renames "table" to "dataset": the current config no longer validates.
STRICT_SCHEMA = {"type": "record", "name": "AppConfig", "fields": [{"name": "dataset", "type": "string"}]}


# --- helpers ---------------------------------------------------------------------------------------------------
@pytest.fixture
def admin_client(client, admin_user):
    assert client.post("/admin/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


def ns(name: str = "default") -> Namespace:
    return Namespace.objects.get(name=name)


def add(name="myapp", version="1.0.0", *, namespace="default", schema=SCHEMA, plugins=None, app=True, actor="root"):
    """Add an artifact version through the service (unique bytes per version: the version is in the manifest)."""
    doc = manifest(name, version, app=app)
    if app:
        doc["app"]["configSchema"] = schema
        doc["app"]["description"] = f"{name} {version}"
    if plugins:
        doc["plugins"] = plugins
    upload = services.ArtifactUpload(chunks=[zip_bytes(doc)], filename=f"{name}-{version}.zip")
    return services.artifact_add(
        namespace=ns(namespace), name=name, upload=upload, actor=actor, allow_system=namespace == "system"
    ).version


def deploy(name="app1", *, version="1.0.0", artifact="myapp", config=None, actor="root"):
    app, _ = services.app_deploy(
        namespace=ns(),
        name=name,
        ref=services.ArtifactRef(artifact, version, "USER"),
        config={"table": "t1"} if config is None else config,
        actor=actor,
    )
    return app


def text(response) -> str:
    return response.content.decode()


def table(page: str, table_id: str) -> str:
    """The HTML of the table with that id ('' when the page has none)."""
    match = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S)
    return match.group(1) if match else ""


def rows(fragment: str) -> list[str]:
    """The rows of a table fragment as plain text, cells separated by '|'."""
    out = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", fragment, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        out.append("|".join(html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells))
    return out


def error_text(page: str) -> str:
    match = re.search(r'<p class="errornote" role="alert" id="change-error">(.*?)</p>', page, re.S)
    return html.unescape(match.group(1)) if match else ""


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def blob_files() -> list[Path]:
    root = Path(settings.ARTIFACTS_DIR) / "blobs"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def running(app: Application, program: str = "Writer") -> ProgramRun:
    """A program run whose job is Running, created directly in the database."""
    from jobs.models import Job, JobStatus

    job = Job.objects.create(
        submit_user="root", execute_user="root", source_api=Job.SourceApi.CDAP, creator="CDAP",
        engine_type="python-python3", run_type="python", engine="python", instance="localhost:1", code="pass",
        status=JobStatus.RUNNING,
    )  # fmt: skip
    return ProgramRun.objects.create(
        application=app, program_type="workers", program_name=program, run_id=f"run-{job.pk}", job=job,
        artifact_version=app.artifact_version, started_by="root",
    )  # fmt: skip


def staff(username="staffer", *perms: str):
    """A staff user (not a superuser) with the given artifacts permissions, logged into a new client."""
    from django.test import Client

    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="artifacts", codename__in=perms))
    c = Client()
    assert c.post("/admin/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return c


@pytest.fixture
def upgradable(db):
    """myapp 1.0.0 and 2.0.0 (same schema), and app1 on 1.0.0 with config {"table": "t1"}."""
    add(version="1.0.0")
    add(version="2.0.0")
    return deploy()


# --- artifacts -------------------------------------------------------------------------------------------------
def test_artifact_changelist_links_to_the_upload_form(admin_client):
    add()
    page = text(admin_client.get(ARTIFACT))
    assert "Upload an artifact" in page and f'href="{UPLOAD}"' in page
    assert "myapp" in page
    form = admin_client.get(UPLOAD)
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in text(form)
    assert 'name="archive"' in text(form) and 'name="namespace"' in text(form)


def test_upload_creates_a_version_and_shows_it_inline(admin_client):
    data = zip_bytes(manifest("myapp", "1.0.0"))
    archive = SimpleUploadedFile("myapp-1.0.0.zip", data, content_type="application/zip")
    response = admin_client.post(UPLOAD, {"namespace": "default", "name": "myapp", "archive": archive})
    version = ArtifactVersion.objects.get(artifact__namespace__name="default", artifact__name="myapp")
    assert response.status_code == 302 and response["Location"] == f"{ARTIFACT}{version.artifact_id}/change/"
    assert version.version == "1.0.0" and version.size == len(data) and version.created_by == "root"
    assert version.filename == "myapp-1.0.0.zip" and version.format == "zip"
    assert version.blob_path.read_bytes() == data

    page = admin_client.get(response["Location"], follow=True)
    body = text(page)
    assert any("Added default:myapp version 1.0.0" in m and version.sha256 in m for m in messages_of(page))
    assert f'title="{version.sha256}"' in body and version.sha256[:16] in body
    assert f"{len(data)} B" in body
    assert f'href="{VERSION}{version.pk}/change/"' in body
    assert "myapp.app:MyApp" in body


def test_upload_with_a_version_override_and_a_second_version(admin_client):
    add(version="1.0.0")
    archive = SimpleUploadedFile("x.zip", zip_bytes(manifest("myapp", "1.0.0")))
    response = admin_client.post(
        UPLOAD, {"namespace": "default", "name": "myapp", "archive": archive, "version": "1.5.0"}
    )
    assert response.status_code == 302
    versions = list(ArtifactVersion.objects.filter(artifact__name="myapp").order_by("sort_key"))
    assert [v.version for v in versions] == ["1.0.0", "1.5.0"]
    page = text(admin_client.get(response["Location"]))
    assert all(f'title="{v.sha256}"' in page for v in versions)


def test_upload_of_a_snapshot_again_replaces_it(admin_client):
    first = add(version="1.1.0-SNAPSHOT")
    old_path = first.blob_path
    archive = SimpleUploadedFile("s.zip", zip_bytes(manifest("myapp", "1.1.0-SNAPSHOT"), {"myapp/new.py": "N = 1"}))
    response = admin_client.post(UPLOAD, {"namespace": "default", "name": "myapp", "archive": archive}, follow=True)
    assert any(m.startswith("Replaced snapshot default:myapp version 1.1.0-SNAPSHOT") for m in messages_of(response))
    version = ArtifactVersion.objects.get(pk=first.pk)
    assert version.sha256 != first.sha256 and version.blob_path.exists() and not old_path.exists()


def test_upload_of_a_non_zip_shows_the_error_and_stores_nothing(admin_client):
    archive = SimpleUploadedFile("notes.zip", b"this is not a zip file", content_type="application/zip")
    response = admin_client.post(UPLOAD, {"namespace": "default", "name": "myapp", "archive": archive})
    page = text(response)
    assert response.status_code == 200 and 'class="errornote"' in page and "Invalid artifact" in page
    assert not Artifact.objects.filter(name="myapp").exists() and not ArtifactVersion.objects.exists()
    assert blob_files() == []
    incoming = Path(settings.ARTIFACTS_DIR) / "incoming"
    assert not incoming.exists() or not any(incoming.iterdir())


def test_upload_of_an_existing_release_shows_409_and_stores_nothing(admin_client):
    first = add(version="1.0.0")
    before = blob_files()
    other = zip_bytes(manifest("myapp", "1.0.0"), {"myapp/other.py": "X = 1\n"})
    archive = SimpleUploadedFile("myapp-1.0.0.zip", other)
    response = admin_client.post(UPLOAD, {"namespace": "default", "name": "myapp", "archive": archive})
    page = html.unescape(text(response))
    assert response.status_code == 200 and 'class="errornote"' in page
    assert "Artifact artifact:default.myapp.1.0.0 already exists." in page
    assert list(ArtifactVersion.objects.values_list("pk", "blob_id")) == [(first.pk, first.sha256)]
    assert blob_files() == before


def test_upload_form_errors_without_an_archive(admin_client):
    response = admin_client.post(UPLOAD, {"namespace": "default", "name": "myapp"})
    assert response.status_code == 200 and "This field is required" in text(response)
    assert not ArtifactVersion.objects.exists()


def test_staff_cannot_upload_into_the_system_namespace_but_a_superuser_can(admin_client):
    c = staff("staffer", "view_artifact", "add_artifact")
    data = zip_bytes(manifest("sysapp", "1.0.0"))
    response = c.post(UPLOAD, {"namespace": "system", "name": "sysapp", "archive": SimpleUploadedFile("a.zip", data)})
    assert response.status_code == 200 and 'class="errornote"' in text(response)
    assert "System artifacts cannot be added" in text(response)
    assert not ArtifactVersion.objects.filter(artifact__name="sysapp").exists()

    other = zip_bytes(manifest("userapp", "1.0.0"))
    response = c.post(
        UPLOAD, {"namespace": "default", "name": "userapp", "archive": SimpleUploadedFile("b.zip", other)}
    )
    assert response.status_code == 302
    assert ArtifactVersion.objects.get(artifact__name="userapp").created_by == "staffer"

    response = admin_client.post(
        UPLOAD, {"namespace": "system", "name": "sysapp", "archive": SimpleUploadedFile("a.zip", data)}
    )
    assert response.status_code == 302
    assert ArtifactVersion.objects.get(artifact__name="sysapp").scope == "SYSTEM"


def test_view_only_staff_cannot_upload():
    c = staff("viewer", "view_artifact")
    data = zip_bytes(manifest("myapp", "1.0.0"))
    c.post(UPLOAD, {"namespace": "default", "name": "myapp", "archive": SimpleUploadedFile("a.zip", data)})
    assert not ArtifactVersion.objects.exists()


def test_version_page_shows_app_class_plugins_and_users(admin_client):
    version = add(plugins=[plugin("batchsource", "csv"), plugin("sink", "table")])
    app = deploy()
    page = text(admin_client.get(f"{VERSION}{version.pk}/change/"))
    assert "<pre>" in page and "&quot;className&quot;: &quot;myapp.app:MyApp&quot;" in page
    assert "&quot;configSchema&quot;" in page
    assert "batchsource" in page and "myplugins.csv:Plugin" in page and "myplugins.table:Plugin" in page
    assert f'<a href="{APP}{app.pk}/change/">default.app1</a>' in page
    assert f"({version.size} bytes)" in page and version.sha256 in page


def test_version_page_of_an_unused_plugin_only_version(admin_client):
    version = add("plugins-only", "1.0.0", app=False, plugins=[plugin()])
    page = text(admin_client.get(f"{VERSION}{version.pk}/change/"))
    assert page.count("—") >= 2  # no app class, used by no application


def test_deleting_a_version_used_by_an_app_is_refused_and_keeps_the_row(admin_client):
    version = add()
    deploy()
    response = admin_client.post(f"{VERSION}{version.pk}/delete/", {"post": "yes"}, follow=True)
    page = html.unescape(text(response))
    assert response.status_code == 200 and "Cannot delete artifact version" in page
    assert "would require deleting the following protected related objects" in page
    assert f'Application: <a href="{APP}{Application.objects.get().pk}/change/">default.app1</a>' in page
    assert ArtifactVersion.objects.filter(pk=version.pk).exists() and version.blob_path.exists()
    assert not any("deleted successfully" in m for m in messages_of(response))


def test_deleting_a_version_in_use_through_the_service_path_shows_the_error(admin_client, rf, admin_user):
    """The admin's delete_model goes through the service: a race with a deploy is an error message, not a 500."""
    from django.contrib import admin as django_admin
    from django.contrib.messages.storage.fallback import FallbackStorage

    version = add()
    deploy()
    request = rf.post("/")
    request.user = admin_user
    request.session = {}
    request._messages = FallbackStorage(request)
    django_admin.site._registry[ArtifactVersion].delete_model(request, version)
    assert ArtifactVersion.objects.filter(pk=version.pk).exists()
    assert any("used by the applications: default.app1" in str(m) for m in request._messages)


def test_deleting_an_unused_version_removes_the_row_and_the_blob(admin_client):
    used = add(version="1.0.0")
    unused = add(version="2.0.0")
    deploy()
    path = unused.blob_path
    assert path.exists()
    assert "Are you sure" in text(admin_client.get(f"{VERSION}{unused.pk}/delete/"))
    response = admin_client.post(f"{VERSION}{unused.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, text(response)[:3000]
    assert not ArtifactVersion.objects.filter(pk=unused.pk).exists() and not path.exists()
    assert ArtifactVersion.objects.filter(pk=used.pk).exists() and used.blob_path.exists()


def test_deleting_an_unused_version_with_plugins_removes_it(admin_client):
    add(version="1.0.0")
    unused = add(version="2.0.0", plugins=[plugin()])
    deploy()
    path = unused.blob_path
    response = admin_client.post(f"{VERSION}{unused.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not ArtifactVersion.objects.filter(pk=unused.pk).exists() and not path.exists()
    assert not Plugin.objects.filter(artifact_version_id=unused.pk).exists()


def test_artifacts_are_deleted_version_by_version(admin_client):
    """Deleting a whole artifact would bypass the service that frees archives; versions are deleted one by one."""
    from artifacts.models import Blob

    version = add(version="1.0.0")
    response = admin_client.post(f"{ARTIFACT}{version.artifact_id}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Artifact.objects.filter(pk=version.artifact_id).exists()
    assert Blob.objects.count() == 1 and len(blob_files()) == 1


def test_deleting_the_last_version_of_an_artifact_removes_the_artifact(admin_client):
    version = add(version="1.0.0")
    response = admin_client.post(f"{VERSION}{version.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Artifact.objects.filter(name="myapp").exists() and blob_files() == []


# --- plugins ---------------------------------------------------------------------------------------------------
def test_plugins_filter_by_type_and_show_properties(admin_client):
    add(
        "plugs",
        "1.0.0",
        app=False,
        plugins=[
            plugin("batchsource", "csv"),
            plugin(
                "batchsink",
                "tablesink",
                table={"name": "table", "description": "Target <table>.", "type": "string", "required": True},
                batch={"name": "batch", "description": "Rows per batch.", "type": "int", "required": False},
            ),
        ],
    )
    page = text(admin_client.get(PLUGIN))
    assert "myplugins.csv:Plugin" in page and "myplugins.tablesink:Plugin" in page
    assert "?type=batchsink" in page or "?type__exact=batchsink" in page  # the type filter
    page = text(admin_client.get(PLUGIN, {"type": "batchsink"}))
    assert "myplugins.tablesink:Plugin" in page and "myplugins.csv:Plugin" not in page
    page = text(admin_client.get(PLUGIN, {"type__exact": "batchsource"}))
    assert "myplugins.csv:Plugin" in page and "myplugins.tablesink:Plugin" not in page

    sink = Plugin.objects.get(name="tablesink")
    page = text(admin_client.get(f"{PLUGIN}{sink.pk}/change/"))
    assert "<th>name</th><th>type</th><th>required</th><th>description</th>" in page
    assert "<tr><td>batch</td><td>int</td><td>no</td><td>Rows per batch.</td></tr>" in page
    assert "<tr><td>table</td><td>string</td><td>yes</td><td>Target &lt;table&gt;.</td></tr>" in page


# --- applications: list and change page ------------------------------------------------------------------------
def test_application_changelist_and_page(admin_client, upgradable):
    app = upgradable
    services.app_update(
        app=app, ref=services.ArtifactRef("myapp", "2.0.0"), config=None, config_given=False, actor="api", via="api"
    )
    run = running(app)
    page = text(admin_client.get(APP))
    assert "app1" in page and "myapp 2.0.0 (user)" in page
    assert f"{APP}{app.pk}/upgrade/" in page and f"{APP}{app.pk}/rollback/" in page and f"{APP}{app.pk}/config/" in page
    assert "rollback_selected" in page

    page = text(admin_client.get(f"{APP}{app.pk}/change/"))
    assert "myapp 2.0.0 (user)" in page
    assert "&quot;table&quot;: &quot;t1&quot;" in page
    assert ">Upgrade</a>" in page and ">Roll back</a>" in page and ">Edit config</a>" in page
    history = page[page.index('id="changes-group"') : page.index('id="runs-group"')]
    assert "create" in history and "upgrade" in history
    assert "user:myapp:1.0.0" in history and "user:myapp:2.0.0" in history
    assert run.run_id in page and "RUNNING" in page and f"/admin/jobs/job/{run.job_id}/change/" in page


# --- upgrade ---------------------------------------------------------------------------------------------------
def test_upgrade_get_lists_the_versions(admin_client, upgradable):
    app = upgradable
    v1, v2 = ArtifactVersion.objects.filter(artifact__name="myapp").order_by("sort_key")
    page = text(admin_client.get(f"{APP}{app.pk}/upgrade/"))
    assert '<select name="version"' in page
    assert f'<option value="{v2.pk}">myapp 2.0.0 (user)</option>' in page
    assert f'<option value="{v1.pk}" selected>myapp 1.0.0 (user) — current</option>' in page
    assert 'id="change-preview"' not in page
    add(version="2.5.0", app=False, plugins=[plugin()])  # no app class: not a target
    assert "myapp 2.5.0" not in text(admin_client.get(f"{APP}{app.pk}/upgrade/"))


def test_upgrade_preview_then_confirm(admin_client, upgradable):
    app = upgradable
    v2 = ArtifactVersion.objects.get(artifact__name="myapp", version="2.0.0")
    url = f"{APP}{app.pk}/upgrade/"
    page = text(admin_client.post(url, {"version": v2.pk}))
    preview = rows(table(page, "change-preview"))
    assert "artifact|myapp 1.0.0 (user)|myapp 2.0.0 (user)" in preview
    assert "config|unchanged" in preview
    assert 'name="confirm"' in page
    app.refresh_from_db()
    assert app.artifact_version.version == "1.0.0" and app.changes.count() == 1

    response = admin_client.post(url, {"version": v2.pk, "confirm": "Apply"})
    assert response.status_code == 302 and response["Location"] == f"{APP}{app.pk}/change/"
    app.refresh_from_db()
    assert app.artifact_version_id == v2.pk and app.config == {"table": "t1"}
    change = app.changes.order_by("-id").first()
    assert (change.action, change.via, change.actor) == ("upgrade", "admin upgrade", "root")
    assert (change.from_artifact, change.to_artifact) == ("user:myapp:1.0.0", "user:myapp:2.0.0")
    follow = admin_client.get(response["Location"])
    assert any("now uses myapp 2.0.0 (user)" in m for m in messages_of(follow))


def test_upgrade_to_a_system_version(admin_client, upgradable):
    app = upgradable
    system = add(version="5.0.0", namespace="system")
    page = text(admin_client.get(f"{APP}{app.pk}/upgrade/"))
    assert f'<option value="{system.pk}">myapp 5.0.0 (system)</option>' in page
    response = admin_client.post(f"{APP}{app.pk}/upgrade/", {"version": system.pk, "confirm": "Apply"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.artifact_version_id == system.pk
    assert app.changes.order_by("-id").first().to_artifact == "system:myapp:5.0.0"


def test_upgrade_to_a_version_that_rejects_the_config_shows_the_form_to_fix_it(admin_client, upgradable):
    """Confirming without filling in the target's form applies nothing: the page says what the config still lacks."""
    app = upgradable
    v3 = add(version="3.0.0", schema=STRICT_SCHEMA)
    response = admin_client.post(f"{APP}{app.pk}/upgrade/", {"version": v3.pk, "confirm": "Apply"})
    assert response.status_code == 200
    page = html.unescape(text(response))
    assert "config.dataset: required field is missing" in page and 'id="config-problems"' in page
    assert 'name="cfg_dataset"' in page and 'name="confirm"' not in page
    assert '<code>table</code> = <code>"t1"</code>' in page  # the field 3.0.0 does not know: dropped
    app.refresh_from_db()
    assert app.artifact_version.version == "1.0.0" and app.changes.count() == 1


def test_upgrade_rejects_a_version_of_another_artifact(admin_client, upgradable):
    app = upgradable
    other = add("otherapp", "9.0.0")
    response = admin_client.post(f"{APP}{app.pk}/upgrade/", {"version": other.pk, "confirm": "Apply"})
    assert response.status_code == 200 and "Select a valid choice" in text(response)
    app.refresh_from_db()
    assert app.artifact_version.version == "1.0.0"


# --- rollback --------------------------------------------------------------------------------------------------
def test_rollback_preview_then_confirm(admin_client, upgradable):
    app = upgradable
    services.app_update(
        app=app, ref=services.ArtifactRef("myapp", "2.0.0"), config={"table": "t2", "stream": "s"},
        config_given=True, actor="api", via="api",
    )  # fmt: skip
    url = f"{APP}{app.pk}/rollback/"
    page = text(admin_client.get(url))
    preview = rows(table(page, "change-preview"))
    assert "artifact|myapp 2.0.0 (user)|myapp 1.0.0 (user)" in preview
    assert 'config.stream (removed)|"s"|' in preview
    assert 'config.table (changed)|"t2"|"t1"' in preview
    assert 'name="confirm"' in page and "This undoes change" in page
    app.refresh_from_db()
    assert app.artifact_version.version == "2.0.0"

    response = admin_client.post(url, {"rollback": "1"})  # no confirm: still the preview
    assert response.status_code == 200 and 'id="change-preview"' in text(response)
    app.refresh_from_db()
    assert app.artifact_version.version == "2.0.0"

    response = admin_client.post(url, {"rollback": "1", "confirm": "Apply"})
    assert response.status_code == 302 and response["Location"] == f"{APP}{app.pk}/change/"
    app.refresh_from_db()
    assert app.artifact_version.version == "1.0.0" and app.config == {"table": "t1"}
    change = app.changes.order_by("-id").first()
    assert (change.action, change.via, change.actor) == ("rollback", "admin rollback", "root")
    assert app.changes.get(action="upgrade").undone_by_id == change.pk


def test_rollback_with_nothing_to_undo(admin_client, upgradable):
    app = upgradable
    response = admin_client.post(f"{APP}{app.pk}/rollback/", {"rollback": "1", "confirm": "Apply"})
    page = text(response)
    assert response.status_code == 200 and error_text(page) == "There is no earlier version or config to go back to."
    assert 'id="change-preview"' not in page and 'name="confirm"' not in page
    assert app.changes.count() == 1


def test_two_rollbacks_walk_back_two_changes(admin_client, upgradable):
    app = upgradable
    services.app_update(
        app=app, ref=services.ArtifactRef("myapp", "2.0.0"), config=None, config_given=False, actor="api", via="api"
    )
    app.refresh_from_db()
    services.app_update(
        app=app, ref=None, config={"table": "t2", "batchSize": 7}, config_given=True, actor="api", via="api"
    )
    url = f"{APP}{app.pk}/rollback/"
    preview = rows(table(text(admin_client.get(url)), "change-preview"))
    assert "artifact|myapp 2.0.0 (user)|unchanged" in preview
    assert "config.batchSize (removed)|7|" in preview and 'config.table (changed)|"t2"|"t1"' in preview
    assert admin_client.post(url, {"confirm": "Apply"}).status_code == 302
    app.refresh_from_db()
    assert (app.artifact_version.version, app.config) == ("2.0.0", {"table": "t1"})

    preview = rows(table(text(admin_client.get(url)), "change-preview"))
    assert "artifact|myapp 2.0.0 (user)|myapp 1.0.0 (user)" in preview and "config|unchanged" in preview
    assert admin_client.post(url, {"confirm": "Apply"}).status_code == 302
    app.refresh_from_db()
    assert (app.artifact_version.version, app.config) == ("1.0.0", {"table": "t1"})

    page = text(admin_client.post(url, {"confirm": "Apply"}))
    assert "There is no earlier version or config to go back to." in page
    assert list(app.changes.order_by("id").values_list("action", flat=True)) == [
        "create", "upgrade", "config", "rollback", "rollback",
    ]  # fmt: skip


# --- config ----------------------------------------------------------------------------------------------------
@pytest.fixture
def rich_app(db):
    add("richapp", "1.0.0", schema=RICH_SCHEMA)
    return deploy("rich", artifact="richapp", config=RICH_CONFIG)


def config_post(**values) -> dict:
    data = {
        "cfg_table": "t1",
        "cfg_stream": "",
        "cfg_batchSize": "5",
        "cfg_enabled": "true",
        "cfg_mode": "FAST",
        "cfg_options": "",
        "cfg_target": '{"host": "h1"}',
    }
    data.update({f"cfg_{k}": v for k, v in values.items()})
    return data


def test_config_form_has_one_input_per_schema_field(admin_client, rich_app):
    page = text(admin_client.get(f"{APP}{rich_app.pk}/config/"))
    assert re.search(r'<input type="text" name="cfg_table" value="t1"[^>]*required', page)
    assert re.search(r'<input type="text" name="cfg_stream"(?![^>]*required)[^>]*>', page)
    assert re.search(r'<input type="text" name="cfg_batchSize" value="5"[^>]*required', page)
    enabled = re.search(r'<select name="cfg_enabled".*?</select>', page, re.S).group(0)
    assert '<option value="true" selected>true</option>' in enabled and 'value=""' not in enabled
    mode = re.search(r'<select name="cfg_mode".*?</select>', page, re.S).group(0)
    assert '<option value="FAST" selected>FAST</option>' in mode and '<option value="SAFE">SAFE</option>' in mode
    assert re.search(r'<textarea name="cfg_options"[^>]*>\s*</textarea>', page)
    target = re.search(r'<textarea name="cfg_target"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert json.loads(html.unescape(target)) == {"host": "h1"}
    assert "table (string)" in page and "batchSize (int)" in page and "options (map&lt;string, string&gt;)" in page
    assert len(re.findall(r'name="cfg_', page)) == len(RICH_SCHEMA["fields"])


def test_config_form_shows_field_errors(admin_client, rich_app):
    url = f"{APP}{rich_app.pk}/config/"
    response = admin_client.post(url, config_post(batchSize="abc", options="[1, 2]", target="{"))
    page = html.unescape(text(response))
    assert response.status_code == 200 and 'id="change-preview"' not in page and 'name="confirm"' not in page
    errors = dict(re.findall(r'<ul class="errorlist" id="id_cfg_(\w+)_error"><li>(.*?)</li>', page))
    assert errors["batchSize"] == "'abc' is not a valid int"
    assert errors["options"] == "value: expected map<string, string> object, got array"
    assert errors["target"].startswith("expected Target as JSON")
    assert set(errors) == {"batchSize", "options", "target"}
    response = admin_client.post(url, {**config_post(mode="SLOW"), "confirm": "Apply"})
    assert "Select a valid choice. SLOW is not one of the available choices." in text(response)
    response = admin_client.post(url, {**config_post(batchSize="2147483648"), "confirm": "Apply"})
    assert 'id="id_cfg_batchSize_error"' in text(response)
    response = admin_client.post(url, config_post(table=""))
    assert "This field is required." in text(response)
    rich_app.refresh_from_db()
    assert rich_app.config == RICH_CONFIG and rich_app.changes.count() == 1


def test_config_preview_then_confirm(admin_client, rich_app):
    url = f"{APP}{rich_app.pk}/config/"
    data = config_post(stream="s1", batchSize="10", enabled="false", options='{"a": "b"}', target='{"host": "h2"}')
    data["cfg_table"] = "t1"
    page = text(admin_client.post(url, data))
    preview = table(page, "change-preview")
    assert rows(preview)[2:] == [
        "config.batchSize (changed)|5|10",
        "config.enabled (changed)|true|false",
        'config.options (added)||{"a": "b"}',
        'config.stream (added)||"s1"',
        'config.target.host (changed)|"h1"|"h2"',
    ]
    assert 'class="config-added"' in preview and 'class="config-changed"' in preview
    assert "artifact|richapp 1.0.0 (user)|unchanged" in rows(preview)
    rich_app.refresh_from_db()
    assert rich_app.config == RICH_CONFIG and rich_app.changes.count() == 1

    response = admin_client.post(url, {**data, "confirm": "Apply"})
    assert response.status_code == 302 and response["Location"] == f"{APP}{rich_app.pk}/change/"
    rich_app.refresh_from_db()
    assert rich_app.config == {
        "table": "t1", "stream": "s1", "batchSize": 10, "enabled": False, "mode": "FAST",
        "options": {"a": "b"}, "target": {"host": "h2"},
    }  # fmt: skip
    change = rich_app.changes.order_by("-id").first()
    assert (change.action, change.via, change.actor) == ("config", "admin config", "root")
    assert change.from_config == RICH_CONFIG


def test_config_preview_shows_removed_fields(admin_client, rich_app):
    services.app_update(
        app=rich_app, ref=None, config={**RICH_CONFIG, "stream": "s"}, config_given=True, actor="api", via="api"
    )
    page = text(admin_client.post(f"{APP}{rich_app.pk}/config/", config_post(stream="")))
    preview = table(page, "change-preview")
    assert 'class="config-removed"' in preview and 'config.stream (removed)|"s"|' in rows(preview)


def test_config_of_an_app_without_schema(admin_client):
    add(schema=None)
    app = deploy(config={})
    page = text(admin_client.get(f"{APP}{app.pk}/config/"))
    assert "declares no configSchema" in page and 'name="cfg_' not in page


# --- the changelist action -------------------------------------------------------------------------------------
def test_rollback_selected_action(admin_client, upgradable):
    app1 = upgradable
    services.app_update(
        app=app1, ref=services.ArtifactRef("myapp", "2.0.0"), config=None, config_given=False, actor="api", via="api"
    )
    app2 = deploy("app2", version="2.0.0", config={"table": "x"})
    services.app_update(app=app2, ref=None, config={"table": "y"}, config_given=True, actor="api", via="api")
    fresh = deploy("app3")
    selected = [app1.pk, app2.pk, fresh.pk]
    response = admin_client.post(APP, {"action": "rollback_selected", "_selected_action": selected, "index": 0})
    assert response.status_code == 200
    page = text(response)
    plans = rows(table(page, "rollback-plans"))
    assert plans[0] == "application|roll back?|artifact|config"
    assert "default.app1|yes|myapp 2.0.0 (user) → myapp 1.0.0 (user)|unchanged" in plans
    assert 'default.app2|yes|myapp 2.0.0 (user) → myapp 2.0.0 (user)|config.table: "y" → "x"' in plans
    assert "default.app3|no: Application 'app3' has no earlier version or config to roll back to.|—" in plans
    assert 'name="confirm" value="yes"' in page and "Roll back 2 applications" in page
    assert sum(a.changes.count() for a in (app1, app2, fresh)) == 5  # nothing applied yet

    response = admin_client.post(
        APP, {"action": "rollback_selected", "_selected_action": selected, "confirm": "yes"}, follow=True
    )
    assert response.status_code == 200
    app1.refresh_from_db()
    app2.refresh_from_db()
    assert app1.artifact_version.version == "1.0.0" and app2.config == {"table": "x"}
    assert app1.changes.order_by("-id").first().via == "admin rollback action"
    shown = messages_of(response)
    assert "app1: rolled back to user:myapp:1.0.0." in shown and "app2: rolled back to user:myapp:2.0.0." in shown
    assert any(m.startswith("app3:") and "no earlier version or config" in m for m in shown)


# --- running programs ------------------------------------------------------------------------------------------
def test_changes_are_refused_while_a_program_runs(admin_client, upgradable):
    app = upgradable
    v2 = ArtifactVersion.objects.get(artifact__name="myapp", version="2.0.0")
    services.app_update(app=app, ref=None, config={"table": "t2"}, config_given=True, actor="api", via="api")
    running(app, "Writer")
    expected = "could not be updated. Reason: The following programs are still running: Writer"

    page = text(admin_client.get(f"{APP}{app.pk}/upgrade/"))
    assert "Programs running now: Writer" in page

    page = text(admin_client.post(f"{APP}{app.pk}/upgrade/", {"version": v2.pk, "confirm": "Apply"}))
    assert expected in error_text(page) and "Programs running now: Writer" in page
    page = text(admin_client.post(f"{APP}{app.pk}/rollback/", {"confirm": "Apply"}))
    assert expected in error_text(page) and "Programs running now: Writer" in page
    page = text(admin_client.post(f"{APP}{app.pk}/config/", {"cfg_table": "t3", "confirm": "Apply"}))
    assert expected in error_text(page) and "Programs running now: Writer" in page

    app.refresh_from_db()
    assert (app.artifact_version.version, app.config) == ("1.0.0", {"table": "t2"})
    assert app.changes.count() == 2

    response = admin_client.post(APP, {"action": "rollback_selected", "_selected_action": [app.pk], "confirm": "yes"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.config == {"table": "t2"}


def test_finished_runs_do_not_block(admin_client, upgradable):
    from jobs.models import JobStatus

    app = upgradable
    run = running(app)
    run.job.status = JobStatus.SUCCEED
    run.job.save()
    v2 = ArtifactVersion.objects.get(artifact__name="myapp", version="2.0.0")
    page = text(admin_client.get(f"{APP}{app.pk}/upgrade/"))
    assert "Programs running now" not in page
    assert admin_client.post(f"{APP}{app.pk}/upgrade/", {"version": v2.pk, "confirm": "Apply"}).status_code == 302


# --- access ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", [ARTIFACT, UPLOAD, APP, "{app}upgrade/", "{app}rollback/", "{app}config/", "{app}change/"]
)
def test_non_staff_is_sent_to_the_admin_login(client, user, upgradable, url):
    url = url.format(app=f"{APP}{upgradable.pk}/")
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    response = client.post(url, {"confirm": "Apply"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    upgradable.refresh_from_db()
    assert upgradable.changes.count() == 1


def test_view_only_staff_cannot_change_an_app(upgradable):
    c = staff("viewer", "view_application", "view_artifactversion")
    v2 = ArtifactVersion.objects.get(artifact__name="myapp", version="2.0.0")
    app = upgradable
    assert c.get(f"{APP}{app.pk}/change/").status_code == 200
    for url, data in [
        (f"{APP}{app.pk}/upgrade/", {"version": v2.pk, "confirm": "Apply"}),
        (f"{APP}{app.pk}/config/", {"cfg_table": "t9", "confirm": "Apply"}),
    ]:
        response = c.post(url, data)
        assert response.status_code == 302 and response["Location"] == "/admin/"
    app.refresh_from_db()
    assert app.artifact_version.version == "1.0.0" and app.changes.count() == 1


def test_view_only_staff_cannot_roll_back_through_the_action(upgradable):
    app = upgradable
    services.app_update(
        app=app, ref=services.ArtifactRef("myapp", "2.0.0"), config=None, config_given=False, actor="api", via="api"
    )
    c = staff("viewer", "view_application")
    c.post(APP, {"action": "rollback_selected", "_selected_action": [app.pk], "confirm": "yes"})
    app.refresh_from_db()
    assert app.artifact_version.version == "2.0.0"


# --- end to end: the HTTP API and the admin on one application --------------------------------------------------
def test_upgrade_rollback_and_history_end_to_end(admin_client, api_client, admin_user):
    headers = bearer(admin_user)
    for version in ("1.0.0", "2.0.0"):
        response = api_client.post(
            "/v3/namespaces/default/artifacts/myapp",
            data=zip_bytes(manifest("myapp", version)),
            content_type="application/octet-stream",
            **headers,
        )
        assert response.status_code == 200, response.content
    body = {"artifact": {"name": "myapp", "version": "1.0.0", "scope": "USER"}, "config": {"table": "t1"}}
    response = api_client.put("/v3/namespaces/default/apps/e2e", data=body, format="json", **headers)
    assert response.status_code == 200, response.content
    app = Application.objects.get(name="e2e")
    v2 = ArtifactVersion.objects.get(artifact__name="myapp", version="2.0.0")

    assert admin_client.post(f"{APP}{app.pk}/upgrade/", {"version": v2.pk, "confirm": "Apply"}).status_code == 302
    response = admin_client.post(f"{APP}{app.pk}/config/", {"cfg_table": "t2", "cfg_batchSize": "3", "confirm": "1"})
    assert response.status_code == 302
    assert admin_client.post(f"{APP}{app.pk}/rollback/", {"confirm": "Apply"}).status_code == 302

    detail = api_client.get("/v3/namespaces/default/apps/e2e", **headers).json()
    assert detail["artifact"]["version"] == "2.0.0" and json.loads(detail["configuration"]) == {"table": "t1"}
    history = api_client.get("/v3/namespaces/default/apps/e2e/history", **headers).json()
    assert [(h["action"], h["via"], h["actor"]) for h in history] == [
        ("rollback", "admin rollback", "root"),
        ("config", "admin config", "root"),
        ("upgrade", "admin upgrade", "root"),
        ("create", "PUT /apps/{app}", "root"),
    ]
    assert [h["undone"] for h in history] == [False, True, False, False]

    page = text(admin_client.get(f"{APP}{app.pk}/change/"))
    assert "admin rollback" in page and "admin config" in page and "admin upgrade" in page
    assert admin_client.post(f"{APP}{app.pk}/rollback/", {"confirm": "Apply"}).status_code == 302
    app.refresh_from_db()
    assert app.artifact_version.version == "1.0.0"
    assert ApplicationChange.objects.filter(application=app, action="rollback").count() == 2


# --- deleting applications -------------------------------------------------------------------------------------
def test_deleting_an_app_records_the_change(admin_client, upgradable):
    app = upgradable
    response = admin_client.post(f"{APP}{app.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Application.objects.filter(pk=app.pk).exists()
    change = ApplicationChange.objects.get(app_name="app1", action="delete")
    assert (change.via, change.actor) == ("admin", "root")


def test_deleting_an_app_while_a_program_runs_is_refused(admin_client, upgradable):
    app = upgradable
    running(app)
    response = admin_client.post(f"{APP}{app.pk}/delete/", {"post": "yes"}, follow=True)
    shown = messages_of(response)
    assert Application.objects.filter(pk=app.pk).exists()
    assert any("programs are still running: Writer" in m for m in shown)
    assert not any("deleted successfully" in m for m in shown)


# --- more bugs ---------------------------------------------------------------------------------------------------
def test_history_renders_without_deprecated_calls(admin_client, upgradable):
    import warnings

    from django.utils.deprecation import RemovedInDjango60Warning

    app = upgradable
    services.app_update(
        app=app, ref=None, config={"table": "t2", "batchSize": 1}, config_given=True, actor="api", via="api"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RemovedInDjango60Warning)
        page = text(admin_client.get(f"{APP}{app.pk}/change/"))
    assert 'config.batchSize: ∅ → 1<br>config.table: "t1" → "t2"' in html.unescape(page)


def test_config_edit_from_a_stale_read_keeps_a_concurrent_upgrade(upgradable):
    stale = Application.objects.get(pk=upgradable.pk)  # what the admin's config view read
    services.app_update(
        app=Application.objects.get(pk=upgradable.pk), ref=services.ArtifactRef("myapp", "2.0.0"), config=None,
        config_given=False, actor="api", via="api",
    )  # fmt: skip
    services.app_update(app=stale, ref=None, config={"table": "t2"}, config_given=True, actor="root", via="admin")
    upgradable.refresh_from_db()
    assert (upgradable.artifact_version.version, upgradable.config) == ("2.0.0", {"table": "t2"})


def test_read_only_pages_offer_no_save_buttons(admin_client):
    version = add()
    deploy()
    for url in (f"{VERSION}{version.pk}/change/", f"{APP}{Application.objects.get().pk}/change/"):
        page = admin_client.get(url)
        assert page.status_code == 200
        assert b'name="_save"' not in page.content and b'name="_continue"' not in page.content, url
