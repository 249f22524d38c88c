"""The admin in a real browser (Debian's chromium through Playwright): a feature-store database named in the admin's
Add form (an empty name refused on the form), then listed by the console's feature explorer."""

from __future__ import annotations

import re

import pytest

from tests.console import test_browser as browser
from tests.live import ADMIN

# test_browser's fixtures: a live server for this module, the browser, the screenshot folder, a page.
server = browser.server
chromium = browser.chromium
shots = browser.shots
page = browser.page

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_a_database_is_named_in_the_admin_and_shown_in_the_console(page, shots):
    page.goto("/admin/login/?next=/admin/featurestore/database/add/")
    page.locator("#id_username").fill(ADMIN[0])
    page.locator("#id_password").fill(ADMIN[1])
    page.locator("input[type=submit]").click()
    page.wait_for_url(re.compile(r"/admin/featurestore/database/add/$"))
    name = page.locator("#id_name")
    assert name.is_visible()  # the Add form names the database
    page.locator("input[name=_save]").click()
    assert "This field is required." in page.locator(".errorlist").first.inner_text()
    name.fill("../etc")
    page.locator("input[name=_save]").click()
    assert "Not an OpenMLDB name" in page.locator(".errorlist").first.inner_text()
    page.locator("#id_name").fill("shop_features")
    page.locator("input[name=_save]").click()
    page.wait_for_url(re.compile(r"/admin/featurestore/database/$"))
    assert "shop_features" in page.locator("#result_list").inner_text()
    page.screenshot(path=shots / "admin-database-added.png")
    page.goto("/console/features/")
    assert "shop_features" in page.locator("main").inner_text()
