"""The console in a real browser: Debian's chromium driven by Playwright against a platform server on 127.0.0.1.

The server is the embedded default in a child process (tests/live.py). Each test logs in through the login form
and works the pages as a person would; the WebSocket cut is made by Playwright's WebSocket routing, which sits
between the page and the server and can close the socket and refuse new ones.

Screenshots of the main pages are written to ``CONSOLE_SCREENSHOT_DIR`` when it is set (``docs/screenshots`` for
the README), to the test's temporary folder otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import requests

from tests.conftest import eventually, need_service
from tests.live import ADMIN, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: How long a test waits for something the page should show (ms): patience on a loaded machine, not a speed claim.
WAIT_MS = 60_000
LINE = re.compile(r"\bline (\d+)\b")


def lines_code(*counts: int) -> str:
    """Python that prints ``line 1``, ``line 2``, ... in groups of ``counts``; before each group after the first it
    waits until the test lets it go (``release``), so what the page shows while the job runs does not depend on
    how fast anything is."""
    return (
        "import os, time\n"
        f"counts = {list(counts)}\n"
        "n = 0\n"
        "for group, count in enumerate(counts):\n"
        "    while group and not os.path.exists(f'go-{group}'):\n"
        "        time.sleep(0.05)\n"
        "    for _ in range(count):\n"
        "        n += 1\n"
        "        print(f'line {n}', flush=True)\n"
        "        time.sleep(0.05)\n"
    )


def release(server, task_id: str, group: int) -> None:
    """Let a ``lines_code`` job print its group ``group`` (a file in the job's working directory)."""
    (server.data_dir / "jobs" / str(task_id) / f"go-{group}").touch()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("console-live")) as live:
        yield live


@pytest.fixture(scope="module")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need_service("Playwright is not installed (pip install -r requirements-dev.txt)")
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        need_service(f"chromium is not installed at {CHROMIUM} (make browser installs Debian's chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("CONSOLE_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(chromium, server):
    context = chromium.new_context(viewport={"width": 1366, "height": 860}, base_url=server.url)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


def log_in(page, username: str = ADMIN[0], password: str = ADMIN[1]) -> None:
    page.goto("/console/")
    assert "/console/login/" in page.url  # the console asks who you are first
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(re.compile(r"/console/$"))


def run_code(page, code: str, engine: str = "python") -> str:
    """Type code into the workbench's editor and run it; return the task id the page shows."""
    page.get_by_test_id("engine-select").select_option(engine)
    page.locator(".CodeMirror").click()
    page.evaluate("code => window.workbenchEditor.setValue(code)", code)
    page.get_by_test_id("run-button").click()
    link = page.locator("#job-ident a")
    link.wait_for()
    return link.inner_text()


def log_numbers(page) -> list[int]:
    return [int(match) for match in LINE.findall(page.get_by_test_id("job-log").inner_text())]


def wait_until(predicate, timeout: float = WAIT_MS / 1000, what: str = "the condition"):
    return eventually(predicate, timeout=timeout, interval=0.1, message=f"{what} did not happen in {timeout} s")


def expect_status(page, status: str) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("job-status")).to_have_text(status, timeout=WAIT_MS)


def test_login_refuses_a_wrong_password_and_lets_the_right_one_in(page, shots):
    page.goto("/console/jobs/")
    page.get_by_test_id("login-username").fill(ADMIN[0])
    page.get_by_test_id("login-password").fill("not-the-password")
    page.screenshot(path=shots / "login.png")
    page.get_by_test_id("login-submit").click()
    assert "didn't match" in page.get_by_test_id("login-error").inner_text()
    page.get_by_test_id("login-password").fill(ADMIN[1])
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(re.compile(r"/console/jobs/$"))  # back to the page that asked
    assert page.get_by_test_id("user-name").inner_text().startswith(ADMIN[0])


def test_a_python_job_streams_its_log_while_it_runs_and_shows_its_result(page, server, shots):
    log_in(page)
    code = lines_code(6, 6) + "show([{'word': 'alpha', 'n': 1}, {'word': 'beta, gamma', 'n': 2}])\n"
    task_id = run_code(page, code)
    # Lines arrive while the job still runs (it waits for the test after line 6).
    wait_until(lambda: log_numbers(page) == list(range(1, 7)), what="the first six log lines")
    assert page.get_by_test_id("job-status").inner_text() == "Running"
    assert page.get_by_test_id("connection-mode").inner_text() == "websocket"
    release(server, task_id, 1)
    expect_status(page, "Succeed")
    assert log_numbers(page) == list(range(1, 13))
    assert page.get_by_test_id("job-progress").get_attribute("value") == "1"
    table = page.get_by_test_id("result-table")
    table.wait_for()
    assert table.locator("thead th").all_inner_texts() == ["word", "n"]
    assert table.locator("tbody tr").first.locator("td").all_inner_texts() == ["alpha", "1"]
    download = page.get_by_test_id("result-download").first
    href = download.get_attribute("href")
    assert href == f"/console/jobs/{task_id}/results/0.csv"
    csv_text = page.request.get(href).text()
    assert csv_text.splitlines() == ["word,n", "alpha,1", '"beta, gamma",2']
    # The run is listed among the recent runs.
    assert f"#{task_id}" in page.get_by_test_id("recent-runs").inner_text()
    page.screenshot(path=shots / "workbench.png", full_page=True)

    # Its page in the job monitor shows code, final status and the same log.
    page.goto(f"/console/jobs/{task_id}/")
    expect_status(page, "Succeed")
    assert "show([{'word'" in page.get_by_test_id("job-code").inner_text()
    wait_until(lambda: log_numbers(page) == list(range(1, 13)), what="the job page's log")
    page.get_by_test_id("result-table").wait_for()
    page.screenshot(path=shots / "job.png", full_page=True)
    page.goto("/console/jobs/")
    row = page.get_by_test_id("job-row").first
    assert task_id in row.inner_text() and "Succeed" in row.inner_text()
    page.screenshot(path=shots / "jobs.png", full_page=True)


def test_kill_ends_a_long_job_cancelled(page, server):
    log_in(page)
    run_code(page, "import time\nprint('line', 1, flush=True)\ntime.sleep(300)\n")  # the log echoes the code
    wait_until(lambda: log_numbers(page) == [1], what="the job's first line")
    kill = page.get_by_test_id("kill-button")
    assert kill.is_enabled()
    kill.click()
    expect_status(page, "Cancelled")
    assert kill.is_disabled()
    # Where it stopped, not 100% (Linkis's progress says 1.0 for any ended job), in the Cancelled colour.
    bar = page.get_by_test_id("job-progress")
    wait_until(lambda: bar.get_attribute("value") == "0", what="the cancelled job's bar showing where it stopped")
    assert bar.text_content() == "0%" and bar.get_attribute("data-status") == "Cancelled"


def test_leaving_pages_with_open_websockets_logs_no_error(page, server):
    log_in(page)
    task_id = run_code(page, lines_code(3, 3))
    wait_until(lambda: log_numbers(page) == [1, 2, 3], what="the first three log lines")
    before = len(server.lines)
    for _ in range(3):  # leave the job page (its socket open and subscribed) for another page, and come back
        page.goto(f"/console/jobs/{task_id}/")
        wait_until(lambda: log_numbers(page) == [1, 2, 3], what="the job page's log")
        page.goto("/console/jobs/")
    release(server, task_id, 1)
    page.goto(f"/console/jobs/{task_id}/")
    expect_status(page, "Succeed")
    page.goto("/console/jobs/")
    logged = "".join(server.lines[before:])
    assert "ERROR" not in logged and "Traceback" not in logged, logged


def test_a_cut_websocket_falls_back_to_polling_without_losing_or_repeating_lines(page, server, shots):
    from playwright.sync_api import expect

    state = {"blocked": False, "open": []}

    def handler(route):
        if state["blocked"]:
            route.close()  # the socket cannot open: the page sees it close at once
            return
        route.connect_to_server()
        state["open"].append(route)

    page.route_web_socket(re.compile(r"/ws/"), handler)
    log_in(page)
    task_id = run_code(page, lines_code(5, 10, 25))
    wait_until(lambda: log_numbers(page) == list(range(1, 6)), what="five lines over the socket")
    mode = page.get_by_test_id("connection-mode")
    assert mode.inner_text() == "websocket"

    # Cut the socket and refuse new ones: the page polls from its cursor.
    state["blocked"] = True
    for route in state["open"]:
        route.close()
    state["open"].clear()
    expect(mode).to_have_text("polling", timeout=WAIT_MS)
    release(server, task_id, 1)  # the job goes on while the page polls
    wait_until(lambda: log_numbers(page) == list(range(1, 16)), what="the log advancing while polling")
    assert mode.inner_text() == "polling"
    page.screenshot(path=shots / "workbench-polling.png")

    # The socket comes back: the page returns to it and carries on from its cursor.
    state["blocked"] = False
    expect(mode).to_have_text("websocket", timeout=WAIT_MS)
    release(server, task_id, 2)
    expect_status(page, "Succeed")
    assert log_numbers(page) == list(range(1, 41))


def test_a_deployment_is_called_from_the_explorer(page, server, shots):
    token = server.token()
    headers = {"Authorization": f"Bearer {token}"}

    def sql(statement: str, db: str = "shop") -> dict:
        answer = requests.post(
            f"{server.url}/dbs/{db}", json={"sql": statement, "mode": "online"}, headers=headers, timeout=30
        ).json()
        assert answer["code"] == 0, answer
        return answer

    sql("CREATE DATABASE shop")
    sql("CREATE TABLE orders (user_id string, amount double, ts timestamp, INDEX(KEY=user_id, TS=ts))")
    for amount, ts in ((10.0, 1_000), (20.5, 2_000), (7.25, 3_000)):
        answer = requests.put(
            f"{server.url}/dbs/shop/tables/orders", json={"value": [["u1", amount, ts]]}, headers=headers, timeout=30
        ).json()
        assert answer["code"] == 0, answer
    sql(
        "DEPLOY spend SELECT user_id, sum(amount) OVER w AS total, count(amount) OVER w AS orders FROM orders "
        "WINDOW w AS (PARTITION BY user_id ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
    )

    log_in(page)
    page.goto("/console/features/")
    page.get_by_role("link", name="shop").click()
    page.get_by_role("link", name="spend").click()
    page.get_by_test_id("deployment-input").fill('["u1", 100.0, 4000]')  # one request row
    page.get_by_test_id("deployment-submit").click()
    output = page.get_by_test_id("deployment-output")
    wait_until(lambda: "total" in output.inner_text(), what="the computed features")
    text = output.inner_text()
    # The window holds the request row and the two stored rows before it: 20.5 + 7.25 + 100.
    assert re.search(r"total\s+double\s+127\.75", text), text
    assert re.search(r"orders\s+int64\s+3\b", text), text
    page.screenshot(path=shots / "feature-deployment.png", full_page=True)

    page.goto("/console/features/shop/tables/orders/")
    assert "3" in page.get_by_test_id("table-row-count").inner_text()
    page.screenshot(path=shots / "feature-table.png", full_page=True)


def test_the_layout_works_in_a_narrow_window_and_from_the_keyboard(page, server, shots):
    log_in(page)
    page.set_viewport_size({"width": 420, "height": 860})
    nav = page.locator("#site-nav")
    toggle = page.get_by_test_id("nav-toggle")
    assert toggle.is_visible() and not nav.is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true" and nav.is_visible()
    page.screenshot(path=shots / "narrow.png")
    page.set_viewport_size({"width": 1366, "height": 860})
    page.goto("/console/artifacts/")
    # The first Tab reaches the skip link, which is visible when focused.
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "Skip to content"
    page.screenshot(path=shots / "artifacts.png", full_page=True)


def test_an_openpai_job_shows_its_task_roles_and_task_logs_and_stops(page, server, shots):
    from playwright.sync_api import expect

    headers = {"Authorization": f"Bearer {server.token()}"}
    config = {
        "jobName": "console-pai",
        "image": "ubuntu:16.04",
        "taskRoles": [
            {"name": "ps", "taskNumber": 1, "command": "echo ps-$PAI_CURRENT_TASK_ROLE_CURRENT_TASK_INDEX; sleep 300"},
            {"name": "worker", "taskNumber": 2, "command": "echo worker-$PAI_CURRENT_TASK_ROLE_CURRENT_TASK_INDEX"},
        ],
    }
    answer = requests.post(f"{server.url}/api/v1/jobs", json=config, headers=headers, timeout=30)
    assert answer.status_code == 202, answer.text

    log_in(page)
    page.goto("/console/openpai/")
    page.get_by_role("link", name="console-pai").click()
    assert page.locator('[data-testid="task-role"]').evaluate_all("roles => roles.map(r => r.dataset.role)") == [
        "ps",
        "worker",
    ]
    worker = page.locator('[data-testid="task-row"][data-role="worker"][data-index="1"]')
    expect(worker.get_by_test_id("task-state")).to_have_text("SUCCEEDED", timeout=WAIT_MS)
    worker.get_by_test_id("task-log-button").click()
    expect(page.locator("#task-log-2-2 pre")).to_contain_text("worker-1", timeout=WAIT_MS)
    page.screenshot(path=shots / "openpai-job.png", full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())  # Stop asks to confirm
    page.get_by_test_id("openpai-stop-button").click()
    expect(page.get_by_test_id("openpai-job-state")).to_have_text("STOPPED", timeout=WAIT_MS)
    final = requests.get(f"{server.url}/api/v1/jobs/console-pai", headers=headers, timeout=30).json()
    assert final["jobStatus"]["state"] == "STOPPED"


def test_an_ended_session_asks_to_log_in_again_and_keeps_the_code(page, server):
    log_in(page)
    code = "print('kept across the login')\n"
    page.evaluate("code => window.workbenchEditor.setValue(code)", code)
    wait_until(
        lambda: page.evaluate("() => JSON.parse(localStorage.getItem('console.workbench.draft') || '{}').code") == code,
        what="the draft saved in the browser",
    )
    from django.conf import settings as django_settings

    page.context.clear_cookies(name=django_settings.SESSION_COOKIE_NAME)  # the session ends (expiry, logout elsewhere)
    page.get_by_test_id("run-button").click()
    dialog = page.get_by_test_id("session-ended")
    dialog.wait_for()
    assert "Your session has ended" in dialog.inner_text() and "您" not in dialog.inner_text()
    assert page.get_by_test_id("run-error").inner_text() == ""  # not Linkis's raw message
    page.get_by_test_id("session-login").click()
    page.get_by_test_id("login-username").fill(ADMIN[0])
    page.get_by_test_id("login-password").fill(ADMIN[1])
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(re.compile(r"/console/$"))
    assert page.evaluate("() => window.workbenchEditor.getValue()") == code


def test_variables_are_asked_for_and_the_selection_runs_alone(page, server):
    log_in(page)
    code = "print('first')\nprint('hello ${who} on ${run_date}')\n"
    page.evaluate("code => window.workbenchEditor.setValue(code)", code)
    variables = page.get_by_test_id("variables")
    variables.wait_for()
    inputs = page.get_by_test_id("variable-input")
    assert inputs.count() == 1 and inputs.first.get_attribute("name") == "who"  # run_date is the platform's
    inputs.first.fill("world")
    # Select the second line only: the button says so, and only that line runs.
    page.evaluate("() => window.workbenchEditor.setSelection({line: 1, ch: 0}, {line: 1, ch: 100})")
    assert page.get_by_test_id("run-button").inner_text() == "Run selection"
    page.get_by_test_id("run-button").click()
    page.locator("#job-ident a").wait_for()
    expect_status(page, "Succeed")
    log = page.get_by_test_id("job-log").inner_text()
    assert "hello world on 20" in log  # ${who} from the form, ${run_date} a date
    assert "first" not in log.split("SCRIPT CODE")[-1]  # the first line did not run
