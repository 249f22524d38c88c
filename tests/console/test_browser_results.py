"""Results people look at, in a real browser (Debian's chromium through Playwright against tests/live.py's server):
sortable result tables with formatted numbers, a chart of a result set, per-stage progress, run again and open in
the workbench from a job page, and the log's search, level filter and download.

The server, browser and screenshot folder are test_browser.py's fixtures. Screenshots (a job page with a chart, the
stage progress) go to ``CONSOLE_SCREENSHOT_DIR`` when it is set, to the test's temporary folder otherwise.
"""

from __future__ import annotations

import re

import pytest
import requests

from tests.console import test_browser as browser
from tests.console.test_browser import WAIT_MS, expect_status, log_in, release, run_code, wait_until

# test_browser's fixtures: a live server for this module, the browser, the screenshot folder.
server = browser.server
chromium = browser.chromium
shots = browser.shots

pytestmark = [pytest.mark.browser, pytest.mark.live]

CITIES_CODE = """\
from decimal import Decimal
show([
    {"city": "Oslo", "population": 709037, "area": 454.03, "exact": Decimal("12345678901234567.125"),
     "code": "0150", "label": "12"},
    {"city": "Bergen", "population": 291189, "area": 465.28, "exact": Decimal("-0.5"), "code": "5003", "label": "3"},
    {"city": "Tromsø", "population": None, "area": 2521.0, "exact": None, "code": "9008", "label": "100"},
    {"city": "Ålesund", "population": 67114, "area": 632.0, "exact": Decimal("1000"), "code": "6002", "label": "7"},
    {"city": "Bodø", "population": 53712, "area": 1395.2, "exact": Decimal("2.50"), "code": "8001", "label": "45"},
])
show([{"i": i, "square": i * i} for i in range(6000)])
"""
CITIES = ["Oslo", "Bergen", "Tromsø", "Ålesund", "Bodø"]


@pytest.fixture
def page(chromium, server):
    """test_browser's page, in an English locale: the numbers' separators are the locale's."""
    context = chromium.new_context(viewport={"width": 1366, "height": 860}, base_url=server.url, locale="en-US")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


def submit(server, code: str, engine_type: str = "python-python3", run_type: str = "python", **body) -> str:
    """Submit a job as the admin through Linkis's submit route; return its task id."""
    payload = {"executionContent": {"code": code, "runType": run_type}, "labels": {"engineType": engine_type}, **body}
    answer = requests.post(
        f"{server.url}/api/rest_j/v1/entrance/submit",
        json=payload,
        headers={"Authorization": f"Bearer {server.token()}"},
        timeout=30,
    ).json()
    assert answer["status"] == 0, answer
    return str(answer["data"]["taskID"])


def column(table, index: int) -> list[str]:
    return table.locator(f"tbody tr td:nth-child({index + 1})").all_inner_texts()


def chart_state(canvas) -> dict:
    """What Chart.js drew on the canvas: type, labels, datasets, and whether any pixel was painted."""
    return canvas.evaluate(
        """canvas => {
            const chart = Chart.getChart(canvas);
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted += 1;
            return {
                type: chart.config.type,
                labels: chart.data.labels || null,
                datasets: chart.data.datasets.map(d => ({label: d.label, data: d.data})),
                xScale: chart.scales.x.type,
                painted,
                aria: canvas.getAttribute("aria-label"),
            };
        }"""
    )


def open_job(page, task_id: str) -> None:
    page.goto(f"/console/jobs/{task_id}/")
    expect_status(page, "Succeed")


def test_result_tables_sort_and_format_numbers(page, server):
    task_id = submit(server, CITIES_CODE)
    log_in(page)
    open_job(page, task_id)
    tables = page.get_by_test_id("result-table")
    wait_until(lambda: tables.count() == 2, what="both result sets")
    table = tables.nth(0)
    assert table.locator("thead th").all_inner_texts() == ["city", "population", "area", "exact", "code", "label"]
    # Numbers by type (population, area, exact) and by value (label's texts are all numbers); a code with a
    # leading zero is not a number.
    numeric = table.locator("thead th").evaluate_all("ths => ths.map(th => th.classList.contains('num'))")
    assert numeric == [False, True, True, True, False, True]
    first = table.locator("tbody tr").first.locator("td")
    assert first.all_inner_texts() == ["Oslo", "709,037", "454.03", "12,345,678,901,234,567.125", "0150", "12"]
    assert first.nth(3).get_attribute("title") == "12345678901234567.125"  # every digit, as stored
    assert first.nth(1).get_attribute("title") == "709037"
    assert column(table, 2) == ["454.03", "465.28", "2,521.0", "632.0", "1,395.2"]
    assert column(table, 3) == ["12,345,678,901,234,567.125", "-0.5", "NULL", "1,000", "2.50"]
    aligns = first.evaluate_all("tds => tds.map(td => getComputedStyle(td).textAlign)")
    assert aligns == ["left", "right", "right", "right", "left", "right"]

    # A click sorts ascending, the next descending; NULL stays last either way.
    population = table.locator("thead th").nth(1)
    assert population.get_attribute("aria-sort") is None
    population.get_by_role("button").click()
    assert population.get_attribute("aria-sort") == "ascending"
    assert column(table, 1) == ["53,712", "67,114", "291,189", "709,037", "NULL"]
    assert column(table, 0) == ["Bodø", "Ålesund", "Bergen", "Oslo", "Tromsø"]
    population.get_by_role("button").click()
    assert population.get_attribute("aria-sort") == "descending"
    assert column(table, 1) == ["709,037", "291,189", "67,114", "53,712", "NULL"]
    note = page.get_by_test_id("result-sort-note").nth(0)
    assert note.inner_text().startswith("Sorted by population, descending: all 5 rows of the set")
    # Texts that are all numbers sort as numbers; one sorted column at a time.
    label = table.locator("thead th").nth(5)
    label.get_by_role("button").click()
    assert column(table, 5) == ["3", "7", "12", "45", "100"]
    assert label.get_attribute("aria-sort") == "ascending" and population.get_attribute("aria-sort") is None
    table.locator("thead th").nth(3).get_by_role("button").click()  # decimals, full precision
    assert column(table, 3) == ["-0.5", "2.50", "1,000", "12,345,678,901,234,567.125", "NULL"]

    # The big set: only the loaded page is sorted, and the note says so; paging keeps the order asked for.
    big = tables.nth(1)
    assert "6,000 rows" in page.locator(".result-set").nth(1).locator("h3").inner_text()
    big.locator("thead th").nth(1).get_by_role("button").click()
    big.locator("thead th").nth(1).get_by_role("button").click()
    assert column(big, 1)[:2] == ["2,401", "2,304"]
    big_note = page.get_by_test_id("result-sort-note").nth(1).inner_text()
    assert "only the 50 rows of page 1 are sorted" in big_note, big_note
    page.locator(".result-set").nth(1).locator('[data-page="next"]').click()
    wait_until(lambda: column(big, 1)[:1] == ["9,801"], what="page 2, sorted")
    assert "Page 2 of 120" in page.locator(".result-set").nth(1).inner_text()

    # The CSV downloads keep the stored values and the result's order.
    csv_text = page.request.get(page.get_by_test_id("result-download").nth(0).get_attribute("href")).text()
    assert csv_text.splitlines()[:2] == [
        "city,population,area,exact,code,label",
        "Oslo,709037,454.03,12345678901234567.125,0150,12",
    ]
    assert (
        page.get_by_test_id("result-download").nth(1).get_attribute("href") == f"/console/jobs/{task_id}/results/1.csv"
    )


def test_a_chart_of_a_result_set(page, server, shots):
    task_id = submit(server, CITIES_CODE)
    log_in(page)
    open_job(page, task_id)
    wait_until(lambda: page.get_by_test_id("result-table").count() == 2, what="both result sets")
    cities = page.locator(".result-set").nth(0)
    toggle = cities.get_by_test_id("result-chart-toggle")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    form = cities.get_by_test_id("chart-form")
    form.wait_for()
    # Only numeric columns are offered for Y; the first one that is not X is chosen.
    ys = form.get_by_test_id("chart-y")
    assert ys.evaluate_all("boxes => boxes.map(b => b.parentElement.textContent.trim())") == [
        "population",
        "area",
        "exact",
        "label",
    ]
    assert ys.evaluate_all("boxes => boxes.filter(b => b.checked).map(b => b.value)") == ["1"]
    form.get_by_test_id("chart-type").select_option("bar")
    form.get_by_test_id("chart-x").select_option(label="city")
    form.get_by_label("area").check()
    form.get_by_test_id("chart-draw").click()
    canvas = cities.get_by_test_id("chart-canvas")
    canvas.wait_for()
    state = chart_state(canvas)
    assert state["type"] == "bar" and state["labels"] == CITIES
    assert [d["label"] for d in state["datasets"]] == ["population", "area"]
    assert state["datasets"][0]["data"] == [709037, 291189, None, 67114, 53712]
    assert state["datasets"][1]["data"] == [454.03, 465.28, 2521, 632, 1395.2]
    assert state["painted"] > 1000 and state["aria"] == "Bar chart of population, area by city"
    assert cities.get_by_test_id("chart-note").inner_text() == "The chart shows all 5 rows of the set."

    # Scatter of two numeric columns: points on a linear X axis.
    form.get_by_test_id("chart-type").select_option("scatter")
    form.get_by_test_id("chart-x").select_option(label="area")
    form.get_by_label("area").uncheck()
    form.get_by_test_id("chart-draw").click()
    wait_until(lambda: chart_state(canvas)["type"] == "scatter", what="the scatter chart")
    state = chart_state(canvas)
    assert state["xScale"] == "linear"
    assert state["datasets"] == [
        {
            "label": "population",
            "data": [
                {"x": 454.03, "y": 709037},
                {"x": 465.28, "y": 291189},
                {"x": 2521, "y": None},
                {"x": 632, "y": 67114},
                {"x": 1395.2, "y": 53712},
            ],
        }
    ]

    # A set larger than one chart's rows: the first 5,000 are drawn, and the note says so.
    squares = page.locator(".result-set").nth(1)
    squares.get_by_test_id("result-chart-toggle").click()
    squares.get_by_test_id("chart-form").wait_for()
    assert squares.get_by_test_id("chart-x").input_value() == "0"  # i
    squares.get_by_test_id("chart-draw").click()
    big_canvas = squares.get_by_test_id("chart-canvas")
    big_canvas.wait_for()
    state = chart_state(big_canvas)
    assert state["type"] == "line" and [d["label"] for d in state["datasets"]] == ["square"]
    data = state["datasets"][0]["data"]
    assert len(data) == 5000 and data[-1] == {"x": 4999, "y": 4999 * 4999}
    note = squares.get_by_test_id("chart-note").inner_text()
    assert note.startswith("The chart shows the first 5,000 of the set's 6,000 rows."), note

    # Back to the bar chart of the cities for the picture.
    form.get_by_test_id("chart-type").select_option("bar")
    form.get_by_test_id("chart-x").select_option(label="city")
    form.get_by_test_id("chart-draw").click()
    wait_until(lambda: chart_state(canvas)["type"] == "bar", what="the bar chart again")
    cities.scroll_into_view_if_needed()
    page.screenshot(path=shots / "job-chart.png", full_page=True)

    # Closing the panel hides it; the table and pager are still there.
    toggle.click()
    assert not cities.get_by_test_id("result-chart").is_visible()
    assert cities.get_by_test_id("result-table").is_visible()


STAGES_CODE = """\
import os, time

def stage(n, done, total, running=0, failed=0):
    return {"id": f"jobId-{n}", "succeedTasks": done, "failedTasks": failed, "runningTasks": running,
            "totalTasks": total}

progress(0.4, [stage(1, 4, 4), stage(2, 3, 8, running=2, failed=1)])
print("stages reported", flush=True)
while not os.path.exists("go-1"):
    time.sleep(0.05)
progress(0.9, [stage(1, 4, 4), stage(2, 8, 8), stage(3, 1, 2, running=1)])
print("more stages", flush=True)
while not os.path.exists("go-2"):
    time.sleep(0.05)
"""


def stages(page) -> list[dict]:
    return page.get_by_test_id("job-stage").evaluate_all(
        "items => items.map(li => ({id: li.dataset.stageId, done: +li.dataset.succeed, running: +li.dataset.running,"
        " failed: +li.dataset.failed, total: +li.dataset.total, text: li.querySelector('.stage-count').textContent}))"
    )


FIRST_STAGES = [
    {"id": "jobId-1", "done": 4, "running": 0, "failed": 0, "total": 4, "text": "4 of 4 tasks done"},
    {
        "id": "jobId-2",
        "done": 3,
        "running": 2,
        "failed": 1,
        "total": 8,
        "text": "3 of 8 tasks done, 2 running, 1 failed",
    },
]
LATER_STAGES = [
    {"id": "jobId-1", "done": 4, "running": 0, "failed": 0, "total": 4, "text": "4 of 4 tasks done"},
    {"id": "jobId-2", "done": 8, "running": 0, "failed": 0, "total": 8, "text": "8 of 8 tasks done"},
    {"id": "jobId-3", "done": 1, "running": 1, "failed": 0, "total": 2, "text": "1 of 2 tasks done, 1 running"},
]


def test_stage_progress_shows_under_the_progress_bar(page, server, shots):
    log_in(page)
    assert not page.get_by_test_id("job-stages").is_visible()  # nothing to show before a run
    task_id = run_code(page, STAGES_CODE)
    wait_until(lambda: stages(page) == FIRST_STAGES, what="the stages on the workbench (WebSocket)")
    assert page.get_by_test_id("job-stages").is_visible()
    assert page.get_by_test_id("connection-mode").inner_text() == "websocket"
    bars = page.locator('[data-stage-id="jobId-2"] .stage-bar > span').evaluate_all(
        "spans => spans.map(s => s.style.width)"
    )
    assert bars == ["37.5%", "25%", "12.5%"]
    page.locator("#run-form").screenshot(path=shots / "workbench-stages.png")

    # The job page, following by polling (no WebSocket): the stages come from progressWithResource.
    polled = page.context.new_page()
    polled.route_web_socket(re.compile(r"/ws/"), lambda ws: ws.close())
    polled.goto(f"/console/jobs/{task_id}/")
    wait_until(lambda: stages(polled) == FIRST_STAGES, what="the stages on the job page (polling)")
    assert polled.get_by_test_id("connection-mode").inner_text() == "polling"
    polled.screenshot(path=shots / "job-stage-progress.png", full_page=True)

    release(server, task_id, 1)
    wait_until(lambda: stages(page) == LATER_STAGES, what="the workbench's stages moving on")
    wait_until(lambda: stages(polled) == LATER_STAGES, what="the job page's stages moving on")
    release(server, task_id, 2)
    expect_status(page, "Succeed")
    expect_status(polled, "Succeed")
    assert stages(page) == LATER_STAGES  # where the stages ended
    polled.close()

    # A finished job's page shows the stages it last reported; a job that reports none shows no list.
    page.goto(f"/console/jobs/{task_id}/")
    expect_status(page, "Succeed")
    wait_until(lambda: stages(page) == LATER_STAGES, what="the finished job's stages")
    plain = submit(server, "print('no stages')")
    page.goto(f"/console/jobs/{plain}/")
    expect_status(page, "Succeed")
    assert page.get_by_test_id("job-stage").count() == 0 and not page.get_by_test_id("job-stages").is_visible()


def test_run_again_submits_the_same_job_and_opens_it(page, server):
    code = "print('again and again', 6 * 7)\n"
    task_id = submit(server, code, params={"configuration": {"runtime": {"note": "kept"}}})
    log_in(page)
    open_job(page, task_id)
    page.get_by_test_id("rerun-button").click()
    page.wait_for_url(lambda url: re.search(r"/console/jobs/(\d+)/$", url) and not url.endswith(f"/{task_id}/"))
    new_id = re.search(r"/console/jobs/(\d+)/$", page.url).group(1)
    assert int(new_id) > int(task_id)
    expect_status(page, "Succeed")
    assert page.get_by_test_id("job-code").inner_text().strip() == code.strip()
    wait_until(lambda: "again and again 42" in page.get_by_test_id("job-log").inner_text(), what="the new job's log")
    details = page.get_by_test_id("job-details").inner_text()
    assert "python-python3" in details and "Run type\npython" in details.replace("\t", "\n")
    history = requests.get(
        f"{server.url}/api/rest_j/v1/jobhistory/{new_id}/get",
        headers={"Authorization": f"Bearer {server.token()}"},
        timeout=30,
    ).json()["data"]["task"]
    assert history["executionCode"] == code and history["runType"] == "python"
    assert '"note": "kept"' in history["paramsJson"]


def test_open_in_workbench_loads_the_jobs_code_engine_and_run_type(page, server):
    code = "echo from-the-shell\n"
    task_id = submit(server, code, engine_type="shell-1", run_type="sh")
    log_in(page)
    open_job(page, task_id)
    page.get_by_test_id("open-in-workbench").click()
    page.wait_for_url(re.compile(r"/console/$"))  # ?from= is dropped once read: a reload keeps the draft
    wait_until(lambda: page.evaluate("() => window.workbenchEditor.getValue()") == code, what="the job's code")
    assert page.get_by_test_id("engine-select").input_value() == "shell"
    assert page.get_by_test_id("runtype-select").input_value() == "sh"
    assert f"Loaded the code of job #{task_id}." in page.locator("#job-ident").inner_text()
    draft = page.evaluate("() => JSON.parse(localStorage.getItem('console.workbench.draft'))")
    assert draft == {"code": code, "engine": "shell", "runType": "sh"}
    page.reload()
    assert page.evaluate("() => window.workbenchEditor.getValue()") == code
    assert page.get_by_test_id("engine-select").input_value() == "shell"


LOG_CODE = """\
import json, os, sys

def control_log(level, text):
    message = json.dumps({"type": "log", "level": level, "text": text}) + "\\n"
    os.write(int(os.environ["PLATFORM_CONTROL_FD"]), message.encode())

print("apple pie", flush=True)
control_log("WARN", "low on apples")
print("banana bread", flush=True)
print("Apple crumble is burnt", file=sys.stderr, flush=True)
print("cherry tart", flush=True)
"""


def shown_lines(page) -> list[str]:
    return page.locator("#job-log > span:not([hidden])").evaluate_all("spans => spans.map(s => s.logLine)")


def test_log_search_level_filter_and_download(page, server):
    task_id = submit(server, LOG_CODE)
    log_in(page)
    open_job(page, task_id)
    log = page.get_by_test_id("job-log")
    # The job has ended (open_job waits for Succeed), so its stored log is whole: wait until the page shows all of it.
    every = page.request.get(f"/console/jobs/{task_id}/log.txt").text().splitlines()
    assert any("cherry tart" in line for line in every)
    wait_until(lambda: shown_lines(page) == every, what="the whole log on the page")
    assert any(line.endswith(" INFO banana bread") for line in every)

    page.get_by_test_id("log-level").select_option("WARN")
    wait_until(lambda: len(shown_lines(page)) == 1, what="only the WARN line")
    assert shown_lines(page)[0].endswith(" WARN low on apples")
    assert page.get_by_test_id("log-count").inner_text() == f"Showing 1 of {len(every)} lines."
    page.get_by_test_id("log-level").select_option("ERROR")
    wait_until(lambda: [line[-22:] for line in shown_lines(page)] == ["Apple crumble is burnt"], what="the ERROR line")
    assert " ERROR " in shown_lines(page)[0]

    # A literal, case-insensitive search, within the level (here all levels), the matches marked.
    page.get_by_test_id("log-level").select_option("")
    page.get_by_test_id("log-search").fill("apple")
    wait_until(lambda: len(shown_lines(page)) < len(every), what="the search filtering the log")
    shown = shown_lines(page)
    assert all("apple" in line.lower() for line in shown)
    for text in ("INFO apple pie", "WARN low on apples", "ERROR Apple crumble is burnt"):
        assert any(line.endswith(text) for line in shown), (text, shown)
    assert not any("banana bread" in line or "cherry tart" in line for line in shown if "print" not in line)
    marks = page.locator("#job-log mark").all_inner_texts()
    assert marks and {mark.lower() for mark in marks} == {"apple"} and "Apple" in marks
    assert not log.locator("span", has_text="INFO banana bread").is_visible()
    page.get_by_test_id("log-search").fill("")
    wait_until(lambda: len(shown_lines(page)) == len(every), what="every line back")
    assert page.locator("#job-log mark").count() == 0 and page.get_by_test_id("log-count").inner_text() == ""

    # The whole log as a text file, as the page has it.
    download = page.get_by_test_id("log-download")
    assert download.get_attribute("href") == f"/console/jobs/{task_id}/log.txt"
    response = page.request.get(download.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-disposition"] == f'attachment; filename="job-{task_id}.log"'
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text().splitlines() == every
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename == f"job-{task_id}.log"

    # The workbench's log has the same tools, and its download link follows the run.
    page.goto("/console/")
    assert not page.get_by_test_id("log-download").is_visible()
    run_id = run_code(page, "print('one fish')\nprint('two fish')\nprint('red herring')\n")
    expect_status(page, "Succeed")
    wait_until(lambda: "red herring" in page.get_by_test_id("job-log").inner_text(), what="the workbench's log")
    page.get_by_test_id("log-search").fill("FISH")
    wait_until(
        lambda: [line[-8:] for line in shown_lines(page) if "print(" not in line] == ["one fish", "two fish"],
        what="the workbench's log filtered",
    )
    assert page.get_by_test_id("log-download").get_attribute("href") == f"/console/jobs/{run_id}/log.txt"
