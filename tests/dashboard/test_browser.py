"""Headless Chromium logs in to Airflow, opens the dashboard, checks it and takes screenshots."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.airflow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(os.environ.get("DASHBOARD_SCREENSHOT_DIR") or Path(__file__).resolve().parents[2] / "docs" / "screenshots")
STATUS_TEXT = {
    "vi": {"OK": "Dùng được", "DEGRADED": "Có vấn đề với dịch vụ này", "BROKEN": "Mất kết nối",
           "NO_DATA": "Không có dữ liệu", "NOT_CHECKED": "Chưa kiểm tra"},
    "en": {"OK": "Usable", "DEGRADED": "Problem for this service", "BROKEN": "Connection broken",
           "NO_DATA": "No data", "NOT_CHECKED": "Not checked yet"},
}


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def page(browser, airflow_server):  # type: ignore[no-untyped-def]
    """A page logged in through Airflow's own login form."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{airflow_server.base_url}/plugin/integration-monitor")
    page.wait_for_url(re.compile(r"/auth/login"))
    page.fill("input[name=username]", airflow_server.username)
    page.fill("input[name=password]", airflow_server.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/plugin/integration-monitor"))
    yield page
    context.close()


def expected_marks(catalog, store_url: str) -> dict[int, tuple[list[str], str]]:  # type: ignore[no-untyped-def]
    """Read each service's marks and verdict from the CLI report of the same store."""
    from integration_monitor.report import format_matrix, load_snapshot

    text = format_matrix(catalog, load_snapshot(catalog, store_url), "en")
    width = len(catalog.databases) * 3 - 1
    rows = {}
    for line in text.splitlines():
        match = re.match(r"^\s*(\d+)\. ", line)
        verdict = line[4 + width:].strip()
        # The list of reasons under the matrix also starts with "NN. "; only matrix rows carry a verdict.
        if match is None or not verdict.startswith(("READY", "NOT READY", "NO RESULT")):
            continue
        rows[int(match.group(1))] = (line[4:4 + width].split(), verdict)
    return rows


def contrast(foreground: str, background: str) -> float:
    from integration_monitor.dashboard.palette import contrast_ratio

    return contrast_ratio(_hex(foreground), _hex(background))


def _hex(css_colour: str) -> str:
    red, green, blue = (int(value) for value in re.findall(r"\d+", css_colour)[:3])
    return f"#{red:02x}{green:02x}{blue:02x}"


def test_dashboard_in_airflow_matches_store(page, airflow_server, catalog):
    frame_element = page.wait_for_selector("iframe[src='/integration-monitor/']")
    frame = frame_element.content_frame()
    frame.wait_for_selector("#status-matrix")
    assert frame.evaluate("document.documentElement.lang") == "vi"
    assert frame.inner_text("h1") == "Dịch vụ công nào đang thực hiện được toàn trình"

    expected = expected_marks(catalog, airflow_server.store_url)
    assert sorted(expected) == list(range(1, 26))
    rows = frame.eval_on_selector_all(
        "#status-matrix tbody tr",
        "rows => rows.map(row => ({service: Number(row.dataset.service), ready: row.dataset.ready,"
        " marks: [...row.querySelectorAll('td.cell')].map(cell => cell.dataset.mark)}))",
    )
    assert len(rows) == 25
    verdicts = {"READY": "true", "NOT READY": "false", "NO RESULT": "unknown"}
    for row in rows:
        marks, verdict = expected[row["service"]]
        assert row["marks"] == marks, row["service"]
        assert row["ready"] == next(value for key, value in verdicts.items() if verdict.startswith(key)), row["service"]

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"))


def test_matrix_markup_is_accessible(page):
    frame = page.wait_for_selector("iframe[src='/integration-monitor/']").content_frame()
    frame.wait_for_selector("#status-matrix")

    headers_without_scope = frame.eval_on_selector_all("table th:not([scope])", "items => items.length")
    assert headers_without_scope == 0
    cells = frame.eval_on_selector_all(
        "#status-matrix td.cell",
        "cells => cells.map(cell => ({status: cell.dataset.status || 'NOT_USED', text: cell.textContent.trim(),"
        " title: cell.title, colour: getComputedStyle(cell).color, background: getComputedStyle(cell).backgroundColor}))",
    )
    assert len(cells) == 25 * 16
    for cell in cells:
        assert cell["text"], cell
        if cell["status"] == "NOT_USED":
            assert "không dùng" in cell["text"]
            continue
        assert STATUS_TEXT["vi"][cell["status"]] in cell["text"], cell
        assert STATUS_TEXT["vi"][cell["status"]] in cell["title"], cell
        assert contrast(cell["colour"], cell["background"]) >= 4.5, cell

    unnamed_links = frame.eval_on_selector_all("a", "links => links.filter(link => !link.textContent.trim()).length")
    assert unnamed_links == 0
    assert frame.eval_on_selector_all("h1", "items => items.length") == 1


def test_language_switch_is_remembered(page, airflow_server):
    frame = page.wait_for_selector("iframe[src='/integration-monitor/']").content_frame()
    frame.click("a.language-switch")
    frame.wait_for_selector("html[lang=en]")
    assert frame.inner_text("h1") == "Which public services can run end to end now"
    cell_text = frame.eval_on_selector("#status-matrix td.cell[data-status]", "cell => cell.textContent")
    assert any(label in cell_text for label in STATUS_TEXT["en"].values())
    page.screenshot(path=str(SCREENSHOTS / "dashboard-en.png"))

    frame.click("nav a[href$='/tasks']")
    frame.wait_for_selector("#tasks")
    assert frame.evaluate("document.documentElement.lang") == "en"
    assert frame.inner_text("h1") == "Appendix tasks and live evidence"

    frame.click("a.language-switch")
    frame.wait_for_selector("html[lang=vi]")
    assert frame.inner_text("h1") == "Nhiệm vụ theo Phụ lục và số liệu giám sát"
    summary = frame.inner_text("#tasks tbody tr[data-service='1'] .evidence")
    assert summary.startswith("Hạn 30/6/2025 đã qua")


def test_service_and_database_pages(page, airflow_server):
    page.goto(f"{airflow_server.dashboard_url}/services/1")
    page.wait_for_selector("svg#timeline-24h")
    assert page.evaluate("document.documentElement.lang") == "vi"
    for window in ("24h", "7d", "30d"):
        labelled = page.get_attribute(f"svg#timeline-{window}", "aria-labelledby")
        assert labelled and all(page.query_selector(f"[id='{part}']") for part in labelled.split())
    assert page.query_selector_all("article.database-card") != []
    page.screenshot(path=str(SCREENSHOTS / "service.png"))

    page.goto(f"{airflow_server.dashboard_url}/databases/kham_chua_benh?window=7d")
    page.wait_for_selector("#availability")
    windows = page.eval_on_selector_all("#availability tbody tr", "rows => rows.map(row => row.dataset.window)")
    assert windows == ["24h", "7d", "30d"]
    availability = page.inner_text("#availability tbody tr[data-window='24h'] td.availability")
    assert re.fullmatch(r"\d{1,3},\d{2}%", availability), availability
    for chart in ("latency-chart", "completeness-chart"):
        assert page.get_attribute(f"svg#{chart}", "role") == "img"
    page.screenshot(path=str(SCREENSHOTS / "database.png"))


def test_export_form_fields_have_labels(page, airflow_server):
    page.goto(f"{airflow_server.dashboard_url}/exports")
    unlabelled = page.eval_on_selector_all(
        "form input:not([type=hidden]), form select",
        "fields => fields.filter(field => !(field.labels && field.labels.length)).map(field => field.name)",
    )
    assert unlabelled == []
    with page.expect_download() as download:
        page.click("button[formaction$='history.csv']")
    assert download.value.suggested_filename.endswith("-databases.csv")
