"""The admin's upgrade page in a real browser (Debian's chromium through Playwright, against tests/live.py's server):
an application moves to an artifact version whose configSchema adds a required field, through the target version's
config form prefilled from the current config, with the diff shown before it applies.

A screenshot of the upgrade page is written to ``CONSOLE_SCREENSHOT_DIR`` when it is set (``docs/screenshots`` for the
README, as tests/console/test_browser.py does), to the test's temporary folder otherwise.
"""

from __future__ import annotations

import json
import re

import pytest
import requests

from tests.artifacts.factories import manifest, zip_bytes
from tests.console import test_browser as browser
from tests.console.test_browser import WAIT_MS
from tests.live import ADMIN, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]

# tests/console/test_browser's browser and screenshot folder; a server of this module's own.
chromium = browser.chromium
shots = browser.shots
NS = "/v3/namespaces/default"

V1_SCHEMA = {
    "type": "record",
    "name": "ShopConfig",
    "fields": [{"name": "table", "type": "string"}, {"name": "stream", "type": ["string", "null"]}],
}
#: 2.0.0 keeps "table", adds a required "dataset" and drops "stream".
V2_SCHEMA = {
    "type": "record",
    "name": "ShopConfig",
    "fields": [{"name": "table", "type": "string"}, {"name": "dataset", "type": "string"}],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("admin-live")) as live:
        yield live


@pytest.fixture
def page(chromium, server):
    context = chromium.new_context(viewport={"width": 1366, "height": 1000}, base_url=server.url)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture(scope="module")
def http(server):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {server.token()}"
    return session


def upload(http, server, version: str, schema: dict) -> None:
    doc = manifest("shopapp", version)
    doc["app"]["configSchema"] = schema
    response = http.post(
        f"{server.url}{NS}/artifacts/shopapp",
        data=zip_bytes(doc),
        headers={"Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert response.status_code == 200, response.text


def test_upgrade_to_a_version_whose_schema_adds_a_required_field(page, server, http, shots):
    from playwright.sync_api import expect

    upload(http, server, "1.0.0", V1_SCHEMA)
    upload(http, server, "2.0.0", V2_SCHEMA)
    artifact = {"name": "shopapp", "version": "1.0.0", "scope": "USER"}
    body = {"artifact": artifact, "config": {"table": "t1", "stream": "s"}}
    response = http.put(f"{server.url}{NS}/apps/shop", json=body, timeout=60)
    assert response.status_code == 200, response.text

    # Log into the admin and open the application's upgrade page from the list.
    page.goto("/admin/login/")
    page.locator("#id_username").fill(ADMIN[0])
    page.locator("#id_password").fill(ADMIN[1])
    page.locator("input[type=submit]").click()
    page.wait_for_url(re.compile(r"/admin/$"))
    page.goto("/admin/artifacts/application/?q=shop")
    page.get_by_role("link", name="Upgrade", exact=True).click()
    page.wait_for_url(re.compile(r"/admin/artifacts/application/\d+/upgrade/$"))
    expect(page.locator("h1")).to_contain_text("Upgrade or downgrade default.shop")

    # Choose 2.0.0: its config form appears, prefilled from the current config.
    page.locator("select[name=version]").select_option(label="shopapp 2.0.0 (user)")
    page.locator("#preview-button").click()
    expect(page.locator("#config-heading")).to_have_text("Config for shopapp 2.0.0 (user)")
    expect(page.locator("input[name=cfg_table]")).to_have_value("t1")
    dataset = page.locator("input[name=cfg_dataset]")
    expect(dataset).to_have_value("")
    expect(page.locator("#config-form")).to_contain_text("New in shopapp 2.0.0 (user).")
    expect(page.locator("#config-dropped")).to_contain_text('stream = "s"')
    expect(page.locator("#config-problems")).to_contain_text("config.dataset: required field is missing")
    expect(page.locator("#apply-button")).to_have_count(0)

    # Fill the new field and preview: the diff shows the versions and the config, old and new.
    dataset.fill("orders")
    page.locator("#preview-button").click()
    preview = page.locator("#change-preview")
    expect(preview).to_contain_text("shopapp 1.0.0 (user)")
    expect(preview).to_contain_text("shopapp 2.0.0 (user)")
    added, removed = preview.locator("tr.config-added"), preview.locator("tr.config-removed")
    expect(added.locator("th")).to_have_text("config.dataset (added)")
    expect(added.locator("td")).to_have_text(["", '"orders"'])
    expect(removed.locator("th")).to_have_text("config.stream (removed)")
    expect(removed.locator("td")).to_have_text(['"s"', ""])
    expect(page.locator("#config-problems")).to_have_count(0)
    expect(page.locator("input[name=cfg_dataset]")).to_have_value("orders")
    page.screenshot(path=str(shots / "admin-upgrade.png"), full_page=True)

    # Apply: the application's page shows the new version and config, and so does the API.
    page.locator("#apply-button").click()
    page.wait_for_url(re.compile(r"/admin/artifacts/application/\d+/change/$"))
    expect(page.locator(".messagelist")).to_contain_text("Application shop now uses shopapp 2.0.0 (user).")
    expect(page.locator(".field-artifact_label")).to_contain_text("shopapp 2.0.0 (user)")
    expect(page.locator(".field-config_json")).to_contain_text('"dataset": "orders"')
    detail = http.get(f"{server.url}{NS}/apps/shop", timeout=30).json()
    assert detail["artifact"]["version"] == "2.0.0"
    assert json.loads(detail["configuration"]) == {"table": "t1", "dataset": "orders"}
    history = http.get(f"{server.url}{NS}/apps/shop/history", timeout=30).json()
    assert [(h["action"], h["via"]) for h in history][:1] == [("upgrade", "admin upgrade")]
