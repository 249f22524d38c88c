"""Issue 17 in the admin: upgrades and downgrades across config schemas (the target's form, prefilled), the admin log
of every change, and the bulk rollback page that says which applications can be rolled back."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType

from artifacts import services
from artifacts.admin import ConfigForm
from artifacts.models import Application, ApplicationChange, ArtifactVersion
from jobs.models import JobStatus
from tests.accounts.factories import PASSWORD
from tests.artifacts.factories import SCHEMA
from tests.artifacts.test_admin import APP, VERSION, add, deploy, error_text, messages_of, rows, running, staff, table

pytestmark = pytest.mark.django_db

#: myapp 3.0.0: keeps "table", adds a required "dataset" (no default) and "retries" (default 3) and a required enum
#: "mode" (no default); drops "stream" and "batchSize".
V3_SCHEMA = {
    "type": "record",
    "name": "AppConfig",
    "fields": [
        {"name": "table", "type": "string"},
        {"name": "dataset", "type": "string"},
        {"name": "retries", "type": "int", "default": 3},
        {"name": "mode", "type": {"type": "enum", "name": "Mode", "symbols": ["FAST", "SAFE"]}},
    ],
}
V1_CONFIG = {"table": "t1", "stream": "s", "batchSize": 5}


@pytest.fixture
def admin_client(client, admin_user):
    assert client.post("/admin/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


def page_of(response) -> str:
    return html.unescape(response.content.decode())


def field_errors(page: str) -> dict[str, str]:
    return dict(re.findall(r'<ul class="errorlist" id="id_cfg_(\w+)_error"><li>(.*?)</li>', page))


def hidden(page: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    return match.group(1) if match else ""


def log_entries(obj) -> list[tuple[int, str]]:
    content_type = ContentType.objects.get_for_model(type(obj))
    entries = LogEntry.objects.filter(content_type=content_type, object_id=str(obj.pk)).order_by("id")
    return [(entry.action_flag, entry.get_change_message()) for entry in entries]


@pytest.fixture
def cross(db):
    """myapp 1.0.0 (the factories' schema) and 3.0.0 (V3_SCHEMA); app1 on 1.0.0 with V1_CONFIG."""
    add(version="1.0.0")
    add(version="3.0.0", schema=V3_SCHEMA)
    return deploy(config=V1_CONFIG)


def v(version: str) -> ArtifactVersion:
    return ArtifactVersion.objects.get(artifact__name="myapp", version=version)


# --- 1. upgrade and downgrade across config schemas ------------------------------------------------------------
def test_choosing_a_version_shows_its_config_form_prefilled_from_the_current_config(admin_client, cross):
    app = cross
    response = admin_client.post(f"{APP}{app.pk}/upgrade/", {"version": v("3.0.0").pk})
    page = page_of(response)
    assert response.status_code == 200
    # The target's fields: "table" kept, "dataset" new and empty, "retries" at its default, "mode" to choose.
    assert re.search(r'<input type="text" name="cfg_table" value="t1"[^>]*required', page)
    assert re.search(r'<input type="text" name="cfg_dataset"(?![^>]*value=)[^>]*required', page)
    assert re.search(r'<input type="text" name="cfg_retries" value="3"', page)
    mode = re.search(r'<select name="cfg_mode".*?</select>', page, re.S).group(0)
    assert '<option value="" selected>— choose —</option>' in mode
    assert "New in myapp 3.0.0 (user); set to its default." in page
    # What the prefilled config lacks is said next to the field, as well as above the Apply button.
    assert page.count("New in myapp 3.0.0 (user). To fix: required field is missing.") == 2  # dataset and mode
    assert 'name="cfg_stream"' not in page and 'name="cfg_batchSize"' not in page
    dropped = re.search(r'<div class="help" id="config-dropped">(.*?)</div>', page, re.S).group(1)
    assert "<code>batchSize</code> = <code>5</code>" in dropped and '<code>stream</code> = <code>"s"</code>' in dropped
    # The diff of what the prefilled config would do, and what is still missing: no Apply yet.
    preview = rows(table(page, "change-preview"))
    assert "artifact|myapp 1.0.0 (user)|myapp 3.0.0 (user)" in preview
    assert "config.batchSize (removed)|5|" in preview and 'config.stream (removed)|"s"|' in preview
    assert "config.retries (added)||3" in preview
    problems = re.search(r'id="config-problems">(.*?)</div>', page, re.S).group(1)
    assert "config.dataset: required field is missing" in problems and "config.mode: required field" in problems
    assert 'name="confirm"' not in page
    assert hidden(page, "config_for") == str(v("3.0.0").pk)
    app.refresh_from_db()
    assert (app.artifact_version.version, app.config, app.changes.count()) == ("1.0.0", V1_CONFIG, 1)


def test_upgrade_fill_in_the_new_fields_preview_and_apply(admin_client, cross):
    app = cross
    url = f"{APP}{app.pk}/upgrade/"
    target = v("3.0.0")
    form = {"version": target.pk, "config_for": target.pk, "cfg_table": "t1", "cfg_retries": "3"}

    # Errors are on the fields, not a bare message.
    page = page_of(admin_client.post(url, {**form, "cfg_dataset": "", "cfg_mode": "", "confirm": "Apply"}))
    errors = field_errors(page)
    assert errors == {"dataset": "This field is required.", "mode": "This field is required."}
    assert 'id="change-preview"' not in page and 'name="confirm"' not in page and error_text(page) == ""
    page = page_of(admin_client.post(url, {**form, "cfg_dataset": "d1", "cfg_mode": "FAST", "cfg_retries": "x"}))
    assert field_errors(page) == {"retries": "'x' is not a valid int"}
    app.refresh_from_db()
    assert app.artifact_version.version == "1.0.0" and app.changes.count() == 1

    # Filled in: the preview shows both sides, with the Apply button and the change it was based on.
    form.update(cfg_dataset="d1", cfg_mode="SAFE")
    page = page_of(admin_client.post(url, form))
    preview = rows(table(page, "change-preview"))
    assert preview[1:] == [
        "artifact|myapp 1.0.0 (user)|myapp 3.0.0 (user)",
        "config.batchSize (removed)|5|",
        'config.dataset (added)||"d1"',
        'config.mode (added)||"SAFE"',
        "config.retries (added)||3",
        'config.stream (removed)|"s"|',
    ]
    assert 'name="confirm"' in page and 'id="config-problems"' not in page
    based_on = hidden(page, "based_on")
    assert based_on == str(app.changes.get().pk)

    response = admin_client.post(url, {**form, "based_on": based_on, "confirm": "Apply"})
    assert response.status_code == 302 and response["Location"] == f"{APP}{app.pk}/change/"
    app.refresh_from_db()
    assert app.artifact_version_id == target.pk
    assert app.config == {"table": "t1", "dataset": "d1", "retries": 3, "mode": "SAFE"}
    change = app.changes.order_by("-id").first()
    assert (change.action, change.via, change.actor) == ("upgrade", "admin upgrade", "root")
    assert (change.from_config, change.to_config) == (V1_CONFIG, app.config)
    assert any("now uses myapp 3.0.0 (user)" in m for m in messages_of(admin_client.get(response["Location"])))

    # 2. The admin log has it, with the versions and the config keys.
    assert log_entries(app) == [
        (
            CHANGE,
            "Upgraded: user:myapp:1.0.0 → user:myapp:3.0.0; config removed batchSize stream, added dataset mode "
            f"retries (change {change.pk}, via admin upgrade).",
        )
    ]
    history = page_of(admin_client.get(f"{APP}{app.pk}/history/"))
    assert "Upgraded: user:myapp:1.0.0 → user:myapp:3.0.0" in history


def test_downgrade_shows_the_older_form_and_drops_the_newer_fields(admin_client, cross):
    app = cross
    config = {"table": "t1", "dataset": "d1", "retries": 4, "mode": "FAST"}
    services.app_update(
        app=app, ref=services.ArtifactRef("myapp", "3.0.0"), config=config, config_given=True, actor="api", via="api"
    )
    url = f"{APP}{app.pk}/upgrade/"
    page = page_of(admin_client.post(url, {"version": v("1.0.0").pk}))
    assert re.search(r'<input type="text" name="cfg_table" value="t1"', page)
    assert re.search(r'<input type="text" name="cfg_stream"(?![^>]*value=)', page)  # optional, unset
    assert 'name="cfg_dataset"' not in page
    dropped = re.search(r'id="config-dropped">(.*?)</div>', page, re.S).group(1)
    assert all(f"<code>{name}</code>" in dropped for name in ("dataset", "retries", "mode"))
    assert 'name="confirm"' in page  # the old schema takes the carried config as it is

    response = admin_client.post(
        url, {"version": v("1.0.0").pk, "config_for": v("1.0.0").pk, "cfg_table": "t1", "cfg_batchSize": "9",
              "based_on": hidden(page, "based_on"), "confirm": "Apply"},
    )  # fmt: skip
    assert response.status_code == 302
    app.refresh_from_db()
    assert (app.artifact_version.version, app.config) == ("1.0.0", {"table": "t1", "batchSize": 9})
    change = app.changes.order_by("-id").first()
    assert change.action == "downgrade"
    (flag, message), = log_entries(app)  # fmt: skip
    assert flag == CHANGE and message.startswith("Downgraded: user:myapp:3.0.0 → user:myapp:1.0.0; config ")
    assert "removed dataset mode retries" in message and "added batchSize" in message


def test_a_kept_value_of_another_type_is_an_error_on_its_field(admin_client, cross):
    app = cross
    add(version="4.0.0", schema={"type": "record", "name": "C", "fields": [{"name": "table", "type": "int"}]})
    url = f"{APP}{app.pk}/upgrade/"
    target = v("4.0.0")
    page = page_of(admin_client.post(url, {"version": target.pk}))
    assert "config.table: expected int, got string" in page and 'name="confirm"' not in page
    assert "To fix: expected int, got string." in page
    page = page_of(admin_client.post(url, {"version": target.pk, "config_for": target.pk, "cfg_table": "t1"}))
    assert field_errors(page) == {"table": "'t1' is not a valid int"}
    response = admin_client.post(
        url, {"version": target.pk, "config_for": target.pk, "cfg_table": "7", "confirm": "Apply"}
    )
    assert response.status_code == 302
    app.refresh_from_db()
    assert (app.artifact_version.version, app.config) == ("4.0.0", {"table": 7})


def test_switching_the_version_prefills_the_new_target_again(admin_client, cross):
    """Posted config fields belong to the version they were shown for (config_for); another version starts over."""
    app = cross
    url = f"{APP}{app.pk}/upgrade/"
    page = page_of(
        admin_client.post(url, {"version": v("3.0.0").pk, "config_for": v("1.0.0").pk, "cfg_table": "other"})
    )
    assert re.search(r'<input type="text" name="cfg_table" value="t1"', page) and field_errors(page) == {}


def test_a_version_in_the_query_string_opens_its_form(admin_client, cross):
    page = page_of(admin_client.get(f"{APP}{cross.pk}/upgrade/", {"version": v("3.0.0").pk}))
    assert 'name="cfg_dataset"' in page and f'<option value="{v("3.0.0").pk}" selected>' in page


def test_upgrade_to_a_version_without_config_schema_keeps_the_config(admin_client, cross):
    app = cross
    bare = add(version="5.0.0", schema=None)
    page = page_of(admin_client.post(f"{APP}{app.pk}/upgrade/", {"version": bare.pk}))
    assert "declares no configSchema: the config is kept as it is" in page and 'name="cfg_' not in page
    assert "config|unchanged" in rows(table(page, "change-preview"))
    assert admin_client.post(f"{APP}{app.pk}/upgrade/", {"version": bare.pk, "confirm": "Apply"}).status_code == 302
    app.refresh_from_db()
    assert (app.artifact_version_id, app.config) == (bare.pk, V1_CONFIG)


def test_a_change_made_after_the_preview_refuses_the_apply(admin_client, cross):
    app = cross
    url = f"{APP}{app.pk}/upgrade/"
    target = v("3.0.0")
    form = {"version": target.pk, "config_for": target.pk, "cfg_table": "t1", "cfg_dataset": "d", "cfg_retries": "3",
            "cfg_mode": "FAST"}  # fmt: skip
    seen = hidden(page_of(admin_client.post(url, form)), "based_on")
    services.app_update(app=app, ref=None, config={"table": "t9"}, config_given=True, actor="bob", via="api")
    response = admin_client.post(url, {**form, "based_on": seen, "confirm": "Apply"})
    page = page_of(response)
    assert response.status_code == 200
    assert "changed after this change was prepared (config by bob" in error_text(page)
    app.refresh_from_db()
    assert (app.artifact_version.version, app.config) == ("1.0.0", {"table": "t9"})
    assert log_entries(app) == []
    # The page shows the application as it is now, and the next Apply is based on that.
    assert 'config.table (changed)|"t9"|"t1"' in rows(table(page, "change-preview"))
    assert hidden(page, "based_on") == str(app.changes.order_by("-id").first().pk)


def test_a_refused_upgrade_applies_and_logs_nothing(admin_client, cross):
    app = cross
    running(app)
    response = admin_client.post(f"{APP}{app.pk}/upgrade/", {"version": v("1.0.0").pk, "confirm": "Apply"})
    assert "programs are still running: Writer" in error_text(page_of(response))
    app.refresh_from_db()
    assert app.changes.count() == 1 and log_entries(app) == []


def test_config_form_puts_schema_problems_on_their_fields():
    form = ConfigForm({"cfg_table": "t", "cfg_stream": "", "cfg_batchSize": ""}, schema=SCHEMA, config=None)
    assert form.is_valid()
    form.add_problems(["config.table: too short", "config.batchSize.x: odd", 'config["a b"]: unknown', "config: bad"])
    assert form.errors["cfg_table"] == ["too short"]
    assert form.errors["cfg_batchSize"] == ["batchSize.x: odd"]
    assert form.non_field_errors() == ['config["a b"]: unknown', "config: bad"]


# --- 2. the admin log ------------------------------------------------------------------------------------------
def test_config_edit_and_rollback_are_in_the_admin_log(admin_client, cross):
    app = cross
    response = admin_client.post(
        f"{APP}{app.pk}/config/", {"cfg_table": "t2", "cfg_stream": "s", "cfg_batchSize": "", "confirm": "Apply"}
    )
    assert response.status_code == 302
    config_change = app.changes.order_by("-id").first()
    assert admin_client.post(f"{APP}{app.pk}/rollback/", {"confirm": "Apply"}).status_code == 302
    rollback = app.changes.order_by("-id").first()
    assert log_entries(app) == [
        (
            CHANGE,
            "Edited the config: version user:myapp:1.0.0 unchanged; config removed batchSize, changed table "
            f"(change {config_change.pk}, via admin config).",
        ),
        (
            CHANGE,
            "Rolled back: version user:myapp:1.0.0 unchanged; config added batchSize, changed table; Undid change "
            f"{config_change.pk} (config to user:myapp:1.0.0) (change {rollback.pk}, via admin rollback).",
        ),
    ]
    entry = LogEntry.objects.filter(object_id=str(app.pk)).latest("id")
    assert entry.user.username == "root" and entry.object_repr == "default.app1"
    history = page_of(admin_client.get(f"{APP}{app.pk}/history/"))
    assert "Edited the config: version user:myapp:1.0.0 unchanged" in history and "Rolled back:" in history


def test_a_refused_config_edit_logs_nothing(admin_client, cross):
    app = cross
    running(app)
    admin_client.post(f"{APP}{app.pk}/config/", {"cfg_table": "t2", "confirm": "Apply"})
    assert log_entries(app) == []


def test_deleting_an_app_is_logged_and_a_refused_delete_is_not(admin_client, cross):
    app = cross
    run = running(app)
    admin_client.post(f"{APP}{app.pk}/delete/", {"post": "yes"})
    assert Application.objects.filter(pk=app.pk).exists() and log_entries(app) == []
    run.job.status = JobStatus.SUCCEED
    run.job.save()
    assert admin_client.post(f"{APP}{app.pk}/delete/", {"post": "yes"}).status_code == 302
    assert log_entries(app) == [(DELETION, "Deleted application default.app1 (it used myapp 1.0.0 (user)).")]


def test_deleting_versions_is_logged_on_the_version_and_its_artifact(admin_client, cross):
    used, other = v("1.0.0"), v("3.0.0")
    artifact = used.artifact
    # In use: refused, and nothing logged.
    admin_client.post(f"{VERSION}{used.pk}/delete/", {"post": "yes"})
    assert log_entries(used) == [] and log_entries(artifact) == []
    assert admin_client.post(f"{VERSION}{other.pk}/delete/", {"post": "yes"}).status_code == 302
    message = f"Deleted version 3.0.0 (sha256 {other.sha256})."
    assert log_entries(other) == [(DELETION, message)]
    assert log_entries(artifact) == [(CHANGE, message)]
    # The last version takes the artifact with it.
    services.app_delete(app=cross, actor="api")
    assert admin_client.post(f"{VERSION}{used.pk}/delete/", {"post": "yes"}).status_code == 302
    assert log_entries(artifact)[-1] == (DELETION, f"Deleted version 1.0.0 (sha256 {used.sha256}).")


def test_bulk_delete_of_versions_logs_each_one(admin_client, cross):
    first, second = add(version="7.0.0"), add(version="8.0.0")
    response = admin_client.post(
        VERSION, {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert [flag for flag, _ in log_entries(first)] == [DELETION] and [flag for flag, _ in log_entries(second)] == [
        DELETION
    ]
    assert [flag for flag, _ in log_entries(first.artifact)] == [CHANGE, CHANGE]


def test_a_delete_the_service_refuses_is_not_logged(rf, admin_user, cross):
    """A deploy that races the delete page: the service refuses, and the log entry is rolled back with it."""
    from django.contrib import admin as django_admin
    from django.contrib.messages.storage.fallback import FallbackStorage

    version = v("1.0.0")
    request = rf.post("/")
    request.user = admin_user
    request.session = {}
    request._messages = FallbackStorage(request)
    django_admin.site._registry[ArtifactVersion].delete_model(request, version)
    assert ArtifactVersion.objects.filter(pk=version.pk).exists()
    assert log_entries(version) == [] and log_entries(version.artifact) == []
    assert not LogEntry.objects.filter(action_flag=ADDITION).exists()


# --- 3. the bulk rollback page ---------------------------------------------------------------------------------
def test_bulk_rollback_with_nothing_to_roll_back_offers_no_button(admin_client, cross):
    fresh = deploy("app2")
    response = admin_client.post(APP, {"action": "rollback_selected", "_selected_action": [cross.pk, fresh.pk]})
    page = page_of(response)
    assert response.status_code == 200
    assert "None of the 2 selected applications can be rolled back." in page
    plans = rows(table(page, "rollback-plans"))
    assert "default.app1|no: Application 'app1' has no earlier version or config to roll back to.|—" in plans
    assert "default.app2|no: Application 'app2' has no earlier version or config to roll back to.|—" in plans
    assert 'type="submit"' not in page.split('id="rollback-plans"')[1]
    assert 'name="_selected_action"' not in page and "Back to the applications" in page


def test_bulk_rollback_says_why_each_app_cannot_and_rolls_back_only_the_others(admin_client, cross):
    ok = cross
    config = {**V1_CONFIG, "table": "t2"}
    services.app_update(app=ok, ref=None, config=config, config_given=True, actor="api", via="api")
    busy = deploy("busy")
    services.app_update(app=busy, ref=None, config={"table": "b2"}, config_given=True, actor="api", via="api")
    running(busy)
    gone = deploy("gone", version="3.0.0", config={"table": "t", "dataset": "d", "retries": 1, "mode": "FAST"})
    add(version="6.0.0", schema=V3_SCHEMA)
    services.app_update(
        app=gone, ref=services.ArtifactRef("myapp", "6.0.0"), config=None, config_given=False, actor="api", via="api"
    )
    services.artifact_version_delete(version=v("3.0.0"))  # the version "gone" would go back to
    fresh = deploy("fresh")
    selected = [ok.pk, busy.pk, gone.pk, fresh.pk]

    page = page_of(admin_client.post(APP, {"action": "rollback_selected", "_selected_action": selected}))
    assert "1 of 4 selected applications can be rolled back; the others are left as they are." in page
    plans = {row.split("|")[0]: row for row in rows(table(page, "rollback-plans"))[1:]}
    assert plans["default.app1"] == 'default.app1|yes|myapp 1.0.0 (user) → myapp 1.0.0 (user)|config.table: "t2" → "t1"'
    assert "no: 'application:default.busy.-SNAPSHOT' could not be updated" in plans["default.busy"]
    assert "programs are still running: Writer" in plans["default.busy"]
    assert "the artifact version it used before (user:myapp:3.0.0) was deleted" in plans["default.gone"]
    assert "no earlier version or config" in plans["default.fresh"]
    assert re.findall(r'name="_selected_action" value="(\d+)"', page) == [str(ok.pk)]
    assert hidden(page, f"based_on_{ok.pk}") == str(ok.changes.order_by("-id").first().pk)
    assert 'value="Roll back 1 application"' in page

    # Confirming rolls back the one that can; a forged selection of the others rolls back nothing of theirs.
    response = admin_client.post(
        APP, {"action": "rollback_selected", "_selected_action": selected, "confirm": "yes"}, follow=True
    )
    shown = messages_of(response)
    assert "app1: rolled back to user:myapp:1.0.0." in shown
    assert any(m.startswith("busy: not rolled back: ") for m in shown)
    assert any(m.startswith("gone: not rolled back: ") for m in shown)
    for app, config in ((ok, V1_CONFIG), (busy, {"table": "b2"}), (gone, None)):
        app.refresh_from_db()
        if config is not None:
            assert app.config == config
    assert gone.artifact_version.version == "6.0.0"
    assert [flag for flag, _ in log_entries(ok)] == [CHANGE]
    assert log_entries(busy) == [] and log_entries(gone) == [] and log_entries(fresh) == []
    assert ApplicationChange.objects.filter(action="rollback").count() == 1


def test_bulk_rollback_shows_who_may_not(cross):
    services.app_update(app=cross, ref=None, config={"table": "t2"}, config_given=True, actor="api", via="api")
    c = staff("viewer", "view_application")
    page = page_of(c.post(APP, {"action": "rollback_selected", "_selected_action": [cross.pk]}))
    assert "default.app1|no: You may not change this application.|—" in rows(table(page, "rollback-plans"))
    assert 'id="rollback-submit"' not in page


def test_bulk_rollback_refuses_an_app_changed_since_the_page(admin_client, cross):
    app = cross
    services.app_update(app=app, ref=None, config={"table": "t2"}, config_given=True, actor="api", via="api")
    page = page_of(admin_client.post(APP, {"action": "rollback_selected", "_selected_action": [app.pk]}))
    seen = hidden(page, f"based_on_{app.pk}")
    services.app_update(app=app, ref=None, config={"table": "t3"}, config_given=True, actor="bob", via="api")
    response = admin_client.post(
        APP,
        {"action": "rollback_selected", "_selected_action": [app.pk], f"based_on_{app.pk}": seen, "confirm": "yes"},
        follow=True,
    )
    assert any(m.startswith("app1: Application 'app1' changed after") for m in messages_of(response))
    app.refresh_from_db()
    assert app.config == {"table": "t3"}


def test_single_rollback_to_a_deleted_version_offers_no_apply(admin_client, cross):
    app = cross
    services.app_update(
        app=app, ref=services.ArtifactRef("myapp", "3.0.0"),
        config={"table": "t", "dataset": "d", "retries": 1, "mode": "FAST"}, config_given=True, actor="api", via="api",
    )  # fmt: skip
    services.app_update(
        app=app, ref=services.ArtifactRef("myapp", "1.0.0"), config={"table": "t"}, config_given=True, actor="api",
        via="api",
    )  # fmt: skip
    services.artifact_version_delete(version=v("3.0.0"))
    page = page_of(admin_client.get(f"{APP}{app.pk}/rollback/"))
    assert "(user:myapp:3.0.0) was deleted" in error_text(page) and 'name="confirm"' not in page
    response = admin_client.post(f"{APP}{app.pk}/rollback/", {"confirm": "Apply"})
    assert "was deleted" in error_text(page_of(response))
    app.refresh_from_db()
    assert app.artifact_version.version == "1.0.0"


def test_rollback_to_a_replaced_snapshot_that_takes_another_config_links_to_the_upgrade_page(admin_client, cross):
    app = cross
    snapshot = add(version="2.0.0-SNAPSHOT")
    services.app_update(
        app=app, ref=services.ArtifactRef("myapp", "2.0.0-SNAPSHOT"), config=None, config_given=False, actor="api",
        via="api",
    )  # fmt: skip
    services.app_update(
        app=app, ref=services.ArtifactRef("myapp", "3.0.0"), config={"table": "t", "dataset": "d", "retries": 1,
        "mode": "FAST"}, config_given=True, actor="api", via="api",
    )  # fmt: skip
    add(version="2.0.0-SNAPSHOT", schema=V3_SCHEMA)  # the snapshot again, now with 3.0.0's schema
    page = page_of(admin_client.get(f"{APP}{app.pk}/rollback/"))
    assert error_text(page).startswith("Invalid application config: config.dataset: required field is missing")
    assert 'name="confirm"' not in page
    link = re.search(r'<p id="change-alternative"><a href="([^"]+)">(.*?)</a>', page)
    assert link.group(1) == f"{APP}{app.pk}/upgrade/?version={snapshot.pk}"
    assert link.group(2) == "Change to myapp 2.0.0-SNAPSHOT (user) with a config that fits it"
    # The link opens the upgrade page on that version, with its form.
    target = page_of(admin_client.get(link.group(1)))
    assert 'name="cfg_dataset"' in target and "Config for myapp 2.0.0-SNAPSHOT (user)" in target
    plans = rows(table(page_of(admin_client.post(APP, {"action": "rollback_selected", "_selected_action": [app.pk]})),
                       "rollback-plans"))  # fmt: skip
    assert plans[1].startswith("default.app1|no: Invalid application config: config.dataset: required field")


# --- the services behind the pages -----------------------------------------------------------------------------
def test_config_carry_over(cross):
    carried = services.config_carry_over(version=v("3.0.0"), config=V1_CONFIG)
    assert carried.config == {"table": "t1", "retries": 3}
    assert (carried.kept, carried.added, carried.defaulted) == (["table"], ["dataset", "retries", "mode"], ["retries"])
    assert carried.dropped == {"stream": "s", "batchSize": 5}
    assert services.config_carry_over(version=v("1.0.0"), config=None).config is None
    bare = add(version="5.0.0", schema=None)
    assert services.config_carry_over(version=bare, config=V1_CONFIG).config == V1_CONFIG


def test_based_on_refuses_a_stale_update_and_rollback(cross):
    from dataplatform.api.exceptions import ConflictError

    app = cross
    seen = app.changes.get().pk
    services.app_update(app=app, ref=None, config={"table": "t2"}, config_given=True, actor="bob", via="api")
    with pytest.raises(ConflictError) as refused:
        services.app_update(app=app, ref=None, config={"table": "t3"}, config_given=True, actor="a", via="x",
                            based_on=seen)  # fmt: skip
    assert refused.value.code == "stale"
    with pytest.raises(ConflictError):
        services.app_rollback(app=app, actor="a", via="x", based_on=seen)
    latest = app.changes.order_by("-id").first().pk
    services.app_rollback(app=app, actor="a", via="x", based_on=latest)
    app.refresh_from_db()
    assert app.config == V1_CONFIG
