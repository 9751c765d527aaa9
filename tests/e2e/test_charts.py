"""Workspace chart panels draw what the SDK logged: values at the cursor, spikes at any zoom,
zoom re-queries, live growth, grouping, NaN/inf, and the saved layout.

Numbers are read from the panel's data attributes (data-xmin/xmax/ymin/ymax/runs/points/state)
and from the legend rows (data-run, data-value), which show the exact values at the cursor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import log_runs, open_app


def panel(page: Any, key: str) -> Any:
    return page.locator(f"[data-testid='panel-{key}']")


def wait_drawn(page: Any, key: str) -> Any:
    page.locator(f"[data-testid='panel-{key}'][data-state='drawn']").wait_for()
    return panel(page, key)


def num(p: Any, attr: str) -> float:
    return float(p.get_attribute(attr))


def api(srv: ServerProcess, path: str) -> Any:
    with urllib.request.urlopen(srv.url + path, timeout=10) as resp:
        return json.loads(resp.read())


def hover_x(page: Any, p: Any, x: float) -> float:
    """Move the mouse over the plot at data x ``x`` (using the drawn x range); returns the x the
    legend snapped to (the nearest point)."""
    box = p.locator(".u-over").bounding_box()
    x0, x1 = num(p, "data-xmin"), num(p, "data-xmax")
    px = box["x"] + (x - x0) / (x1 - x0) * box["width"]
    page.mouse.move(px, box["y"] + box["height"] / 2)
    legend_x = p.locator("[data-testid='legend-x']")
    near = max(1.0, 2 * (x1 - x0) / box["width"])  # two pixels
    page.wait_for_function(
        "([el, x, near]) => el.getAttribute('data-x') !== '' && "
        "Math.abs(Number(el.getAttribute('data-x')) - x) <= near",
        arg=[legend_x.element_handle(), x, near])
    return float(legend_x.get_attribute("data-x"))


def legend_values(p: Any) -> dict[str, float]:
    rows = p.locator(".legend-row")
    return {rows.nth(i).get_attribute("data-name"): float(rows.nth(i).get_attribute("data-value"))
            for i in range(rows.count())}


def test_panels_draw_logged_values(page: Any, web: ServerProcess, tmp_path: Path) -> None:
    log_runs(web, tmp_path, """
for i, scale in enumerate([1.0, 2.0]):
    with kiseki.init(project="charts", name=f"run-{i}") as run:
        for step in range(50):
            run.log({"train/loss": scale / (step + 1), "val/acc": step / 50, "lr": 0.1}, step=step)
""")
    open_app(page, web, "/p/charts")
    p = wait_drawn(page, "train/loss")
    # sections by prefix; "lr" has no prefix and goes to "Charts"
    assert page.locator("[data-section='train'] [data-testid='panel-train/loss']").count() == 1
    assert page.locator("[data-section='val'] [data-testid='panel-val/acc']").count() == 1
    assert page.locator("[data-section='Charts'] [data-testid='panel-lr']").count() == 1
    assert p.get_attribute("data-runs") == "2"
    assert p.get_attribute("data-points") == "100"  # 50 steps x 2 runs, one point per bucket
    assert (num(p, "data-xmin"), num(p, "data-xmax")) == (0, 49)
    assert num(p, "data-ymax") == 2.0  # run-1 at step 0
    assert num(p, "data-ymin") == 1 / 50  # run-0 at step 49

    for step in (9, 30):
        hover_x(page, p, step)
        p.locator(f"[data-testid='legend-x'][data-x='{step}']").wait_for()
        assert legend_values(p) == {"run-0": 1.0 / (step + 1), "run-1": 2.0 / (step + 1)}
    screenshot(page, "charts-workspace")

    # EMA smoothing (workspace default) keeps the raw values in the legend and draws a second,
    # smoothed line over the faint raw one
    page.locator("[data-testid='default-smoothing']").select_option("ema")
    p = wait_drawn(page, "train/loss")
    hover_x(page, p, 30)
    p.locator("[data-testid='legend-x'][data-x='30']").wait_for()
    assert legend_values(p)["run-0"] == 1.0 / 31
    assert p.locator(".legend-extra[title='smoothed']").count() == 2

    # another metric as the x axis: val/acc = step / 50
    page.locator("[data-testid='default-x-axis']").select_option("val/acc")
    page.locator("[data-testid='panel-train/loss'][data-x-axis='val/acc'][data-state='drawn']").wait_for()
    assert (num(p, "data-xmin"), num(p, "data-xmax")) == (0, 49 / 50)
    assert num(p, "data-ymax") == 2.0
    # relative time: seconds since each run started
    page.locator("[data-testid='default-x-axis']").select_option("_runtime")
    page.locator("[data-testid='panel-train/loss'][data-x-axis='_runtime'][data-state='drawn']").wait_for()
    assert 0 <= num(p, "data-xmin") < num(p, "data-xmax") < 60
    page.locator("[data-testid='default-x-axis']").select_option("_timestamp")
    page.locator("[data-testid='panel-train/loss'][data-x-axis='_timestamp'][data-state='drawn']").wait_for()
    assert abs(num(p, "data-xmax") - time.time()) < 600

    # a theme change redraws the canvas with the new colours
    marks = "performance.getEntriesByName('kiseki:panel-drawn:train/loss').length"
    before = page.evaluate(marks)
    page.locator("[data-testid='theme-toggle']").click()
    page.wait_for_function(f"{marks} > {before}")


def test_spike_in_a_million_steps_is_visible_zoomed_out(page: Any, web: ServerProcess,
                                                        tmp_path: Path) -> None:
    log_runs(web, tmp_path, """
with kiseki.init(project="spike", name="long") as run:
    for step in range(1_000_000):
        run.log({"loss": 1.0 + (step % 100) / 1000 if step != 654_321 else 1234.5}, step=step)
""", timeout=300)
    open_app(page, web, "/p/spike")
    p = wait_drawn(page, "loss")
    # about one bucket per pixel, not a million points; x runs to the start of the last bucket
    points = int(p.get_attribute("data-points"))
    assert 50 <= points <= 4000
    assert num(p, "data-xmin") == 0
    assert 1_000_000 - 2 * 1_000_000 / points <= num(p, "data-xmax") <= 999_999
    # the spike is inside the min/max band
    assert num(p, "data-ymax") == 1234.5
    assert num(p, "data-ymin") == 1.0
    # the legend at the spike's bucket (the last bucket starting at or before the spike's step)
    # reports the max inside the bucket; buckets on either side do not
    row = p.locator(".legend-row").first
    seen: dict[float, float] = {}
    box = p.locator(".u-over").bounding_box()
    px = box["x"] + 654_321 / num(p, "data-xmax") * box["width"]
    for dx in range(-6, 7):
        page.mouse.move(px + dx, box["y"] + box["height"] / 2)
        page.wait_for_timeout(30)
        at = p.locator("[data-testid='legend-x']").get_attribute("data-x")
        if at:
            seen[float(at)] = float(row.get_attribute("data-max"))
    spike_bucket = max(x for x in seen if x <= 654_321)
    assert seen[spike_bucket] == 1234.5, seen
    assert all(v < 1.1 for x, v in seen.items() if x != spike_bucket), seen
    screenshot(page, "charts-spike")


def test_drag_zoom_requeries_the_range_and_double_click_resets(page: Any, web: ServerProcess,
                                                                tmp_path: Path) -> None:
    log_runs(web, tmp_path, """
with kiseki.init(project="zoom", name="z") as run:
    for step in range(5000):
        run.log({"loss": step}, step=step)
""")
    open_app(page, web, "/p/zoom")
    p = wait_drawn(page, "loss")
    points = int(p.get_attribute("data-points"))
    assert points < 5000  # bucketed; x runs to the start of the last bucket
    assert num(p, "data-xmin") == 0 and 4999 - 2 * 5000 / points <= num(p, "data-xmax") <= 4999
    assert num(p, "data-ymax") == 4999  # the band reaches the last step's value
    full_range = (num(p, "data-xmin"), num(p, "data-xmax"))
    box = p.locator(".u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.30, y, steps=4)
    page.mouse.up()
    page.locator("[data-testid='panel-loss'][data-zoomed='true'][data-state='drawn']").wait_for()
    x0, x1 = num(p, "data-xmin"), num(p, "data-xmax")
    assert 1150 <= x0 <= 1350 and 1400 <= x1 <= 1600, (x0, x1)
    # the server sent the selected range at full resolution: every step is a point, loss == step
    assert int(p.get_attribute("data-points")) == int(x1) - int(x0) + 1
    assert num(p, "data-ymin") == x0 and num(p, "data-ymax") == x1
    at = hover_x(page, p, x0 + 10)
    assert abs(at - (x0 + 10)) <= 1
    assert legend_values(p) == {"z": at}

    page.locator("[data-testid='panel-loss'] .u-over").dblclick()
    page.locator("[data-testid='panel-loss'][data-zoomed='false'][data-state='drawn']").wait_for()
    assert (num(p, "data-xmin"), num(p, "data-xmax")) == full_range


LIVE_SCRIPT = """
import kiseki, time
with kiseki.init(project="live", name="growing") as run:
    for step in range(45):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
        time.sleep(0.2)
"""


def test_live_run_chart_grows_without_reload(page: Any, web: ServerProcess, tmp_path: Path) -> None:
    script = tmp_path / "live.py"
    script.write_text(LIVE_SCRIPT)
    env = {**os.environ, "KISEKI_BASE_URL": web.url, "KISEKI_CAPTURE_SYSTEM": "false"}
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the metric exists before the page opens
            try:
                items = api(web, "/api/v1/projects/live/runs")["items"]
                if items and (items[0].get("last_step") or 0) >= 2:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        open_app(page, web, "/p/live")
        p = wait_drawn(page, "loss")
        first = num(p, "data-xmax")
        assert first < 40
        # grows while the page stays open (the test's own timeout bounds the wait)
        page.wait_for_function(
            "([el, x]) => Number(el.getAttribute('data-xmax')) >= x && "
            "el.getAttribute('data-state') === 'drawn'",
            arg=[p.element_handle(), first + 10], timeout=20_000)
        assert num(p, "data-ymax") == 1.0
        assert num(p, "data-ymin") == pytest.approx(1.0 / (num(p, "data-xmax") + 1))
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""


def test_grouped_runs_draw_one_line_per_group(page: Any, web: ServerProcess,
                                              tmp_path: Path) -> None:
    log_runs(web, tmp_path, """
for opt, base in [("adam", 1.0), ("sgd", 10.0)]:
    for seed in range(2):
        with kiseki.init(project="groups", name=f"{opt}-{seed}",
                         config={"opt": opt, "seed": seed}) as run:
            for step in range(20):
                run.log({"loss": base + seed + step}, step=step)
""")
    open_app(page, web, "/p/groups")
    p = wait_drawn(page, "loss")
    assert p.get_attribute("data-runs") == "4"
    open_app(page, web, "/p/groups?group=opt")
    p = wait_drawn(page, "loss")
    assert p.get_attribute("data-runs") == "2"
    # band from the lowest to the highest run; lines are the group means
    assert num(p, "data-ymin") == 1.0 and num(p, "data-ymax") == 11.0 + 19
    hover_x(page, p, 5)
    p.locator("[data-testid='legend-x'][data-x='5']").wait_for()
    rows = p.locator(".legend-row")
    values = {rows.nth(i).get_attribute("data-run"): float(rows.nth(i).get_attribute("data-value"))
              for i in range(rows.count())}
    assert values == {"adam": 1.5 + 5, "sgd": 10.5 + 5}


def test_nan_and_inf_values_do_not_break_the_chart(page: Any, web: ServerProcess,
                                                   tmp_path: Path) -> None:
    log_runs(web, tmp_path, """
with kiseki.init(project="bad", name="weird") as run:
    for step in range(30):
        v = float(step)
        if step == 10: v = float("nan")
        if step == 20: v = float("inf")
        if step == 25: v = float("-inf")
        run.log({"loss": v}, step=step)
""")
    open_app(page, web, "/p/bad")
    p = wait_drawn(page, "loss")
    assert num(p, "data-ymax") == 29 and num(p, "data-ymin") == 0  # non-finite are gaps
    for step, text in ((10, "NaN"), (20, "inf"), (25, "-inf"), (11, "11")):
        hover_x(page, p, step)
        p.locator(f"[data-testid='legend-x'][data-x='{step}']").wait_for()
        row = p.locator(".legend-row").first
        assert row.get_attribute("data-value") == text
        assert row.locator(".legend-value").inner_text() == text
    # smoothing skips them too
    page.locator("[data-testid='default-smoothing']").select_option("avg")
    wait_drawn(page, "loss")


def test_off_screen_panels_load_when_scrolled_into_view(page: Any, web: ServerProcess,
                                                        tmp_path: Path) -> None:
    log_runs(web, tmp_path, """
with kiseki.init(project="lazy", name="r") as run:
    for step in range(10):
        run.log({f"m{k:02d}": k * 100 + step for k in range(16)}, step=step)
""")
    open_app(page, web, "/p/lazy")
    first = wait_drawn(page, "m00")
    assert num(first, "data-ymax") == 9
    last = panel(page, "m15")
    assert last.get_attribute("data-state") == "loading"  # below the fold: not fetched yet
    assert page.evaluate("performance.getEntriesByName('kiseki:panel-drawn:m15').length") == 0
    last.scroll_into_view_if_needed()
    wait_drawn(page, "m15")
    assert (num(last, "data-ymin"), num(last, "data-ymax")) == (1500, 1509)


def put_workspace(srv: ServerProcess, project: str, layout: dict[str, Any], base: int) -> None:
    req = urllib.request.Request(f"{srv.url}/api/v1/projects/{project}/workspace", method="PUT",
                                 data=json.dumps({"layout": layout, "base_version": base}).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()


def saved_charts(srv: ServerProcess, project: str, ready: Any) -> dict[str, Any]:
    """The saved ``layout.charts`` once ``ready(charts)`` holds (saving is debounced)."""
    deadline = time.monotonic() + 10
    charts: dict[str, Any] = {}
    while time.monotonic() < deadline:
        charts = api(srv, f"/api/v1/projects/{project}/workspace")["layout"].get("charts", {})
        if ready(charts):
            break
        time.sleep(0.2)
    return charts


def test_layout_is_saved_per_project(page: Any, web: ServerProcess, tmp_path: Path,
                                     request: pytest.FixtureRequest) -> None:
    # the browser logs the expected 409 of the save that races another tab
    request.node.allowed_console_errors = ("409 (Conflict)",)
    log_runs(web, tmp_path, """
with kiseki.init(project="layout", name="l") as run:
    for step in range(10):
        run.log({"train/a": step, "train/b": -step, "val/c": 1}, step=step)
""")
    open_app(page, web, "/p/layout")
    wait_drawn(page, "train/a")
    panel(page, "train/b").locator("[data-testid='panel-remove']").click()
    panel(page, "train/a").locator("[data-testid='panel-settings']").click()
    panel(page, "train/a").locator("[data-testid='panel-size-l']").click()
    panel(page, "train/a").locator("[data-testid='panel-log-y']").check()
    page.locator("[data-testid='section-toggle-val']").click()
    page.locator("[data-testid='add-panel']").click()
    page.locator("[data-testid='add-panel-keys']").select_option(["train/a", "train/b"])
    page.locator("[data-testid='add-panel-form'] button[type=submit]").click()
    custom = wait_drawn(page, "custom:1")
    assert custom.get_attribute("data-runs") == "2"  # one line per key
    assert num(custom, "data-ymin") == -9 and num(custom, "data-ymax") == 9
    # saved (debounced) on the server
    charts = saved_charts(web, "layout", lambda c: c.get("custom") and c.get("collapsed"))
    assert charts["hidden"] == ["train/b"]
    assert charts["collapsed"] == ["val"]
    assert charts["panels"]["train/a"] == {"size": "l", "logY": True}
    assert charts["custom"][0]["keys"] == ["train/a", "train/b"]

    page.reload()
    a = wait_drawn(page, "train/a")
    assert "size-l" in a.get_attribute("class")
    assert panel(page, "train/b").count() == 0
    assert page.locator("[data-section='val']").get_attribute("data-collapsed") == "true"
    assert panel(page, "val/c").count() == 0
    wait_drawn(page, "custom:1")
    # log scale: the non-positive values of train/a (step 0) are left out of the y range
    assert num(a, "data-ymin") == 1 and num(a, "data-ymax") == 9

    # another tab saves in between (expands "val", keeps a key of its own): this page's next
    # change gets 409, reloads their layout and applies the change again on top of it
    ws = api(web, "/api/v1/projects/layout/workspace")
    theirs = {**ws["layout"], "other": {"kept": True},
              "charts": {**ws["layout"]["charts"], "collapsed": []}}
    put_workspace(web, "layout", theirs, ws["version"])
    panel(page, "train/a").locator("[data-testid='panel-settings']").click()
    panel(page, "train/a").locator("[data-testid='panel-size-s']").click()
    charts = saved_charts(web, "layout",
                          lambda c: c.get("panels", {}).get("train/a", {}).get("size") == "s")
    layout = api(web, "/api/v1/projects/layout/workspace")["layout"]
    assert layout["other"] == {"kept": True}
    assert charts["collapsed"] == []  # theirs
    assert charts["panels"]["train/a"] == {"size": "s", "logY": True}  # ours on top
    assert charts["hidden"] == ["train/b"]
    wait_drawn(page, "val/c")  # the page now shows their expanded section
