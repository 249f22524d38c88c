"""The workbench's workspace and tabs in a real browser (Playwright against tests/live.py's server): scripts created,
saved with their variables, reopened, renamed and deleted from the workspace tree, the files on disk following; and
several open scripts in tabs, their unsaved code kept across a reload.

The server, browser, page and screenshot folder are test_browser.py's fixtures.
"""

from __future__ import annotations

import pytest

from tests.console import test_browser as browser
from tests.console.test_browser import expect_status, log_in, wait_until
from tests.live import ADMIN

# test_browser's fixtures: a live server for this module, the browser, a page, the screenshot folder.
server = browser.server
chromium = browser.chromium
page = browser.page
shots = browser.shots

pytestmark = [pytest.mark.browser, pytest.mark.live]

CODE = "print('hello ${who}')\n"


def home(server):
    """The admin's workspace on disk (LINKIS_WORKSPACE_ROOT defaults to DATA_DIR/workspace)."""
    return server.data_dir / "workspace" / ADMIN[0]


def node(page, name: str):
    return page.locator(f'[data-testid="ws-node"][data-name="{name}"]')


def tab(page, name: str):
    return page.locator(f'[data-testid="editor-tab"][data-name="{name}"]')


def answer(page, text: str) -> None:
    """Type into the workspace's prompt (New file, New folder, Save as, Rename) and confirm."""
    field = page.get_by_test_id("ws-prompt-input")
    field.wait_for()
    field.fill(text)
    page.get_by_test_id("ws-prompt-ok").click()


def code(page) -> str:
    return page.evaluate("() => window.workbenchEditor.getValue()")


def set_code(page, text: str) -> None:
    page.evaluate("text => window.workbenchEditor.setValue(text)", text)


def tree_loaded(page) -> None:
    page.locator('#ws-tree [data-testid="ws-node"], #ws-tree [data-testid="ws-empty"]').first.wait_for()


def test_scripts_are_created_saved_reopened_renamed_and_deleted_from_the_tree(page, server, shots):
    from playwright.sync_api import expect

    log_in(page)
    tree_loaded(page)
    page.get_by_test_id("engine-select").select_option("python")

    # A folder, then a file in it: the engine's suffix is added to a name without one.
    page.get_by_test_id("ws-new-dir").click()
    answer(page, "reports")
    node(page, "reports").wait_for()
    assert (home(server) / "reports").is_dir()
    page.get_by_test_id("ws-new-file").click()
    answer(page, "daily")
    tab(page, "daily.py").wait_for()
    assert (home(server) / "reports" / "daily.py").read_text() == ""
    expect(node(page, "reports")).to_have_attribute("aria-expanded", "true")
    node(page, "daily.py").wait_for()

    # A file that exists is refused in the page, in the envelope's words.
    node(page, "reports").focus()
    page.keyboard.press("ArrowLeft")  # the keyboard closes the folder (it stays selected: new files go in it)...
    expect(node(page, "reports")).to_have_attribute("aria-expanded", "false")
    page.get_by_test_id("ws-new-file").click()
    answer(page, "daily.py")
    error = page.get_by_test_id("ws-error")
    expect(error).not_to_be_empty()
    assert "80" in error.inner_text() and not error.inner_text().startswith("{")

    # Code with a variable, filled in and saved: the unsaved marker comes and goes.
    page.locator(".CodeMirror").click()
    set_code(page, CODE)
    dirty = tab(page, "daily.py").get_by_test_id("tab-dirty")
    expect(dirty).to_be_visible()
    page.get_by_test_id("variable-input").fill("world")
    page.get_by_test_id("ws-save").click()
    expect(page.get_by_test_id("ws-status")).to_have_text("Saved reports/daily.py.")
    expect(dirty).to_be_hidden()
    assert (home(server) / "reports" / "daily.py").read_text() == "#@set who=world\n#\nprint('hello ${who}')"

    # Run from the tab.
    page.get_by_test_id("run-button").click()
    page.locator("#job-ident a").wait_for()
    expect_status(page, "Succeed")
    assert "hello world" in page.get_by_test_id("job-log").inner_text().split("SCRIPT CODE")[-1]

    # Closed (it was saved: nothing asks) and the page reloaded: the tree has the file, with its code and value.
    tab(page, "daily.py").get_by_test_id("tab-close").click()
    expect(tab(page, "daily.py")).to_have_count(0)
    page.reload()
    tree_loaded(page)
    node(page, "reports").press("ArrowRight")  # ...and opens it
    node(page, "daily.py").click()
    tab(page, "daily.py").wait_for()
    wait_until(lambda: code(page) == CODE, what="the saved script's code")
    expect(page.get_by_test_id("variable-input")).to_have_value("world")
    assert page.get_by_test_id("engine-select").input_value() == "python"

    # A second tab: each keeps its own code.
    page.get_by_test_id("new-tab").click()
    wait_until(lambda: code(page) == "", what="an empty untitled tab")
    set_code(page, "print(2)\n")
    untitled = page.locator('[data-testid="editor-tab"].active')
    untitled_name = untitled.get_attribute("data-name")
    tab(page, "daily.py").get_by_role("tab").click()
    assert code(page) == CODE
    tab(page, untitled_name).get_by_role("tab").click()
    assert code(page) == "print(2)\n"
    tab(page, untitled_name).get_by_role("tab").press("ArrowLeft")  # the tablist's keys
    assert code(page) == CODE
    assert tab(page, "daily.py").get_by_role("tab").get_attribute("aria-selected") == "true"

    # An edit marks the file's tab; Ctrl+S in the editor saves it.
    page.locator(".CodeMirror").click()
    set_code(page, CODE + "print('again')\n")
    expect(dirty).to_be_visible()
    page.locator(".CodeMirror textarea").press("Control+s")
    expect(dirty).to_be_hidden()
    assert (home(server) / "reports" / "daily.py").read_text().endswith("print('again')")
    page.screenshot(path=shots / "workbench-workspace.png", full_page=True)

    # Rename through the tree: the file on disk and its tab follow.
    node(page, "daily.py").click()
    page.get_by_test_id("ws-rename").click()
    answer(page, "weekly.py")
    node(page, "weekly.py").wait_for()
    assert not (home(server) / "reports" / "daily.py").exists()
    assert "print('again')" in (home(server) / "reports" / "weekly.py").read_text()
    tab(page, "weekly.py").wait_for()
    assert tab(page, "weekly.py").get_attribute("data-path").endswith("/reports/weekly.py")

    # Delete the folder (after a confirmation): gone from disk and from the tree; the tab keeps the code, unsaved.
    node(page, "reports").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("ws-delete").click()
    page.get_by_test_id("ws-empty").wait_for()
    assert not (home(server) / "reports").exists()
    deleted = tab(page, "weekly.py (deleted)")
    expect(deleted.get_by_test_id("tab-dirty")).to_be_visible()

    # Closing a tab with unsaved changes asks first: dismissed it stays, accepted it goes.
    page.once("dialog", lambda dialog: dialog.dismiss())
    deleted.get_by_test_id("tab-close").click()
    expect(deleted).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    deleted.get_by_test_id("tab-close").click()
    expect(deleted).to_have_count(0)


def test_unsaved_tabs_come_back_after_a_reload_and_the_old_draft_is_still_read(page, server):
    from playwright.sync_api import expect

    log_in(page)
    tree_loaded(page)
    set_code(page, "print('first tab')\n")
    page.get_by_test_id("new-tab").click()
    page.get_by_test_id("engine-select").select_option("shell")
    set_code(page, "echo second\n")
    wait_until(
        lambda: (
            page.evaluate("() => JSON.parse(localStorage.getItem('console.workbench.draft') || '{}').code")
            == "echo second\n"
        ),
        what="the draft saved in the browser",
    )
    page.reload()
    tree_loaded(page)
    tabs = page.get_by_test_id("editor-tab")
    expect(tabs).to_have_count(2)
    assert code(page) == "echo second\n" and page.get_by_test_id("engine-select").input_value() == "shell"
    expect(tabs.nth(1).get_by_test_id("tab-dirty")).to_be_visible()
    tabs.nth(0).get_by_role("tab").click()
    assert code(page) == "print('first tab')\n"
    assert page.get_by_test_id("engine-select").input_value() == "python"

    # A draft from before the tabs (only the single-draft key) opens as one tab. It is written from another page:
    # the workbench writes its tabs when it is left.
    page.goto("/console/jobs/")
    page.evaluate(
        "() => { localStorage.removeItem('console.workbench.tabs');"
        " localStorage.setItem('console.workbench.draft',"
        " JSON.stringify({code: 'echo old\\n', engine: 'shell', runType: 'sh'})); }"
    )
    page.goto("/console/")
    tree_loaded(page)
    expect(tabs).to_have_count(1)
    assert code(page) == "echo old\n"
    assert page.get_by_test_id("engine-select").input_value() == "shell"
    assert page.get_by_test_id("runtype-select").input_value() == "sh"
