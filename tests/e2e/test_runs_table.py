"""The workspace's runs table against a real server: filter, search, grouping, sorting,
columns, chart visibility, selection, and markup in user text shown as text."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import log_runs

PROJECT = "tbl"
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_TAG = "<script>alert(2)</script>"
XSS_NOTE = '"><svg onload=alert(3)>'

# name -> (lr, optimizer or None, final val/loss, tags)
RUNS = {
    "alpha": (0.1, "adam", 0.3, ["best"]),
    "beta": (0.01, "sgd", 0.1, []),
    "gamma": (0.1, "sgd", 0.2, []),
    "delta": (0.001, None, 0.5, ["baseline"]),
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module, fed once: the tests only change the view (URL), not data."""
    root = tmp_path_factory.mktemp("runs-table")
    server = ServerProcess(root / "server").start()
    log_runs(server, root, f"""
RUNS = {RUNS!r}
for name, (lr, opt, final, tags) in RUNS.items():
    config = {{"lr": lr, "batch": 32}}
    if opt:
        config["opt"] = {{"name": opt}}
    with kiseki.init(project={PROJECT!r}, name=name, config=config, tags=tags) as run:
        for step in range(3):
            run.log({{"train/loss": 1.0 / (step + 1), "val/loss": final + (2 - step) * 0.5}}, step=step)
with kiseki.init(project="xss", name={XSS_NAME!r}, tags=[{XSS_TAG!r}],
                 config={{"note": {XSS_NOTE!r}}}) as run:
    run.log({{"train/loss": 1.0}}, step=0)
""")
    yield server
    server.stop()


def open_workspace(page: Any, srv: ServerProcess, query: str = "", project: str = PROJECT) -> Any:
    page.goto(f"{srv.url}/p/{project}{query}")
    page.locator("[data-testid=runs-scroll] [data-run-id]").first.wait_for()
    return page


def names(page: Any) -> list[str]:
    """Run names of the rows in table order."""
    return page.eval_on_selector_all(
        "[data-testid=runs-scroll] [data-run-id] [data-col=name]", "els => els.map(e => e.textContent)")


def wait_names(page: Any, expected: list[str]) -> None:
    page.wait_for_function(
        """expected => JSON.stringify([...document.querySelectorAll(
             "[data-testid=runs-scroll] [data-run-id] [data-col=name]")].map(e => e.textContent))
           === JSON.stringify(expected)""", arg=expected)


def ids_by_name(page: Any) -> dict[str, str]:
    return page.eval_on_selector_all(
        "[data-testid=runs-scroll] [data-run-id]",
        "els => Object.fromEntries(els.map(e => "
        "[e.querySelector('[data-col=name]').textContent, e.dataset.runId]))")


def query(page: Any) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query).items()}


def wait_chart_runs(page: Any, metric: str, n: int) -> None:
    """Wait until the chart panel of ``metric`` draws ``n`` lines (its data-runs)."""
    page.locator(f"[data-testid='panel-{metric}']").first.wait_for()
    page.wait_for_function(
        "([m, n]) => document.querySelector(`[data-testid='panel-${m}']`)"
        "?.getAttribute('data-runs') === String(n)", arg=[metric, n])
    runs = page.locator(f"[data-testid='panel-{metric}']").first.get_attribute("data-runs")
    assert runs == str(n)


def test_filter_expression_limits_rows_and_charts(page: Any, srv: ServerProcess) -> None:
    open_workspace(page, srv)
    assert page.get_by_test_id("runs-count").inner_text() == "4 of 4 runs"
    wait_chart_runs(page, "train/loss", 4)
    box = page.get_by_test_id("filter-input")
    box.fill("config.lr > 0.05")
    box.press("Enter")
    page.wait_for_url(re.compile(r"filter="))
    wait_names(page, ["gamma", "alpha"])  # newest first (default order -created_at)
    assert query(page)["filter"] == "config.lr > 0.05"
    assert page.get_by_test_id("runs-count").inner_text() == "2 of 2 runs"
    wait_chart_runs(page, "train/loss", 2)
    # The URL reproduces the view.
    page.reload()
    wait_names(page, ["gamma", "alpha"])
    assert page.get_by_test_id("filter-input").input_value() == "config.lr > 0.05"
    # Clearing brings every run back.
    page.get_by_role("button", name="Clear the filter").click()
    wait_names(page, ["delta", "gamma", "beta", "alpha"])
    assert "filter" not in query(page)


def test_bad_filter_shows_server_message(page: Any, srv: ServerProcess,
                                         request: pytest.FixtureRequest) -> None:
    # The browser logs the failed request (4xx) on its console: that is expected here.
    request.node.allowed_console_errors = ("the server responded with a status of 4",)
    bad = "config.lr >> 1"
    url = f"{srv.url}/api/v1/projects/{PROJECT}/runs?" + urllib.parse.urlencode({"filter": bad})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url)
    detail = json.loads(err.value.read())["detail"]
    assert isinstance(detail, str) and detail

    open_workspace(page, srv)
    box = page.get_by_test_id("filter-input")
    box.fill(bad)
    box.press("Enter")
    error = page.get_by_test_id("filter-error")
    error.wait_for()
    assert error.inner_text() == detail
    assert box.get_attribute("aria-invalid") == "true"
    # The page still works: the toolbar is there and fixing the filter recovers.
    assert page.locator("[data-run-id]").count() == 0
    assert page.get_by_test_id("runs-count").inner_text() == "0 of 0 runs"
    box.fill("config.lr < 0.05")
    box.press("Enter")
    wait_names(page, ["delta", "beta"])
    assert page.get_by_test_id("filter-error").count() == 0
    screenshot(page, "runs-table-filtered")


def test_quick_search(page: Any, srv: ServerProcess) -> None:
    open_workspace(page, srv)
    page.get_by_test_id("quick-search").fill("gam")
    wait_names(page, ["gamma"])
    page.wait_for_url(re.compile(r"q=gam"))
    assert page.get_by_test_id("runs-count").inner_text() == "1 of 4 runs"
    wait_chart_runs(page, "train/loss", 1)
    # Tags are searched too.
    page.get_by_test_id("quick-search").fill("BASELINE")
    wait_names(page, ["delta"])


def test_grouping_by_config_key(page: Any, srv: ServerProcess) -> None:
    open_workspace(page, srv)
    page.get_by_test_id("group-select").select_option("config.lr")
    page.locator("[data-group]").first.wait_for()
    assert query(page)["group"] == "config.lr"
    groups = page.eval_on_selector_all(
        "[data-group]", "els => els.map(e => [e.dataset.group, Number(e.dataset.count)])")
    assert groups == [["0.001", 1], ["0.01", 1], ["0.1", 2]]
    assert names(page) == ["delta", "beta", "gamma", "alpha"]
    # The group row carries the mean of the summary columns: val/loss of gamma and alpha.
    lr01 = page.locator("[data-group='0.1']")
    assert lr01.locator("[data-col='summary.val/loss']").inner_text() == "0.25"
    assert "2 runs" in lr01.inner_text()
    # Collapsing hides the group's runs; the count stays.
    lr01.get_by_test_id("group-toggle").click()
    wait_names(page, ["delta", "beta"])
    assert page.locator("[data-group='0.1']").get_attribute("data-count") == "2"
    # Nested config keys group too; runs without the key go last under (none).
    page.get_by_test_id("group-select").select_option("config.opt.name")
    page.locator("[data-group=adam]").wait_for()
    groups = page.eval_on_selector_all(
        "[data-group]", "els => els.map(e => [e.dataset.group, Number(e.dataset.count)])")
    assert groups == [["adam", 1], ["sgd", 2], ["(none)", 1]]


def test_sort_by_summary_column(page: Any, srv: ServerProcess) -> None:
    open_workspace(page, srv)
    header = page.get_by_test_id("sort-summary.val/loss")
    header.click()
    wait_names(page, ["beta", "gamma", "alpha", "delta"])  # 0.1, 0.2, 0.3, 0.5
    assert query(page)["order"] == "summary.val/loss"
    cell = page.locator("[role=columnheader][data-col='summary.val/loss']")
    assert cell.get_attribute("aria-sort") == "ascending"
    values = page.eval_on_selector_all(
        "[data-run-id] [data-col='summary.val/loss']", "els => els.map(e => e.textContent)")
    assert values == ["0.1", "0.2", "0.3", "0.5"]
    header.click()
    wait_names(page, ["delta", "alpha", "gamma", "beta"])
    assert query(page)["order"] == "-summary.val/loss"
    assert cell.get_attribute("aria-sort") == "descending"
    # Sorting by name, from the keyboard.
    page.get_by_test_id("sort-name").focus()
    page.keyboard.press("Enter")
    wait_names(page, ["alpha", "beta", "delta", "gamma"])
    assert query(page)["order"] == "name"


def test_hide_and_select_runs(page: Any, srv: ServerProcess) -> None:
    open_workspace(page, srv)
    ids = ids_by_name(page)
    wait_chart_runs(page, "train/loss", 4)
    row = page.locator(f"[data-run-id='{ids['alpha']}']")
    row.get_by_test_id("show-run").uncheck()
    page.wait_for_url(re.compile(r"hide="))
    assert query(page)["hide"] == ids["alpha"]
    wait_chart_runs(page, "train/loss", 3)
    # Still listed in the table, with its box unticked.
    assert not row.get_by_test_id("show-run").is_checked()
    # Select two runs: show only them, then compare them.
    for name in ("beta", "gamma"):
        page.locator(f"[data-run-id='{ids[name]}']").get_by_test_id("select-run").check()
    assert page.get_by_test_id("selected-count").inner_text() == "2 selected"
    page.get_by_test_id("show-only-selected").click()
    page.wait_for_function(
        "expected => new URLSearchParams(location.search).get('hide') === expected",
        arg=",".join(sorted([ids["alpha"], ids["delta"]])))
    wait_chart_runs(page, "train/loss", 2)
    page.get_by_test_id("show-all").click()
    page.wait_for_function("() => !new URLSearchParams(location.search).has('hide')")
    wait_chart_runs(page, "train/loss", 4)
    page.get_by_test_id("hide-selected").click()
    page.wait_for_function(
        "expected => new URLSearchParams(location.search).get('hide') === expected",
        arg=",".join(sorted([ids["beta"], ids["gamma"]])))
    page.get_by_test_id("compare-selected").click()
    page.wait_for_url(re.compile(r"/p/tbl/compare\?"))
    assert sorted(query(page)["runs"].split(",")) == sorted([ids["beta"], ids["gamma"]])


def test_column_picker_adds_config_column(page: Any, srv: ServerProcess) -> None:
    open_workspace(page, srv)
    assert page.locator("[role=columnheader][data-col='config.opt.name']").count() == 0
    page.get_by_test_id("columns-button").click()
    page.get_by_test_id("column-search").fill("opt")
    page.locator("[data-column='config.opt.name']").check()
    page.keyboard.press("Escape")
    page.locator("[role=columnheader][data-col='config.opt.name']").wait_for()
    assert "config.opt.name" in urllib.parse.unquote(query(page)["cols"])
    ids = ids_by_name(page)
    cell = "[data-col='config.opt.name']"
    assert page.locator(f"[data-run-id='{ids['alpha']}'] {cell}").inner_text() == "adam"
    assert page.locator(f"[data-run-id='{ids['beta']}'] {cell}").inner_text() == "sgd"
    assert page.locator(f"[data-run-id='{ids['delta']}'] {cell}").inner_text() == "–"
    # The chosen columns survive a reload (they are in the URL).
    page.reload()
    page.locator(f"[data-run-id='{ids['alpha']}'] {cell}").wait_for()
    assert page.locator(f"[data-run-id='{ids['alpha']}'] {cell}").inner_text() == "adam"


def test_markup_in_names_and_tags_is_text(page: Any, srv: ServerProcess) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    open_workspace(page, srv, "?cols=" + urllib.parse.quote("config.note"), project="xss")
    row = page.locator("[data-run-id]").first
    assert row.locator("[data-col=name]").inner_text() == XSS_NAME
    assert row.locator("[data-col=tags]").inner_text() == XSS_TAG
    assert row.locator("[data-col='config.note']").inner_text() == XSS_NOTE
    assert row.locator("img, script, svg").count() == 0
    # Grouped by the same value: the group label is text too.
    page.get_by_test_id("group-select").select_option("config.note")
    page.locator("[data-group]").first.wait_for()
    assert page.locator("[data-group]").first.get_attribute("data-group") == XSS_NOTE
    assert page.locator("[data-testid=runs-table] svg, [data-testid=runs-table] img").count() == 0
    # The run page title.
    row.locator("[data-col=name] a").click()
    page.wait_for_url(re.compile(r"/p/xss/r/"))
    heading = page.locator("[data-testid=run-page] h1").first
    heading.wait_for()
    assert XSS_NAME in heading.inner_text()
    assert page.locator("[data-testid=run-page] img[src=x]").count() == 0
    assert dialogs == []
