"""Media in the browser: images with overlays, tables, histograms, side by side across runs.

A real server fed by the real SDK (``kiseki.Image``, ``kiseki.Table``, ``kiseki.Histogram``);
what is drawn is read back from the canvases' pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import os
import re
import signal
import subprocess
import sys

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import ServerProcess, run_script
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import log_runs, open_app
from tests.e2e.test_run_page import run_ids

BLUE = (0, 0, 255)

# A 64x64 plain blue image; mask "ground_truth": the square x, y in [16, 32) is class 1
# ("bicycle"), a small square class 5 (no label), the rest class 0 ("background"); boxes
# "predictions": one pixel-domain box of class 2 ("car") from (36, 8) to (56, 28), score 0.9.
IMAGE_SCRIPT = """
import numpy as np
img = np.zeros((64, 64, 3), np.uint8)
img[..., 2] = 255
mask = np.zeros((64, 64), np.int64)
mask[16:32, 16:32] = 1
mask[48:56, 40:48] = 5
def sample(caption):
    return kiseki.Image(img, caption=caption,
        masks={"ground_truth": {"mask_data": mask,
                                "class_labels": {0: "background", 1: "bicycle"}}},
        boxes={"predictions": {"box_data": [
            {"position": {"minX": 36, "maxX": 56, "minY": 8, "maxY": 28}, "domain": "pixel",
             "class_id": 2, "scores": {"score": 0.9}}],
            "class_labels": {2: "car"}}})
"""

# Reads canvas pixels (canvas coordinates) as [r, g, b, a].
PIXEL = """([sel, x, y]) => {
  const c = document.querySelector(sel);
  return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data);
}"""


def hex_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def close(a: Any, b: Any, tol: int = 3) -> bool:
    return all(abs(int(x) - int(y)) <= tol for x, y in zip(a, b))


def mixed(colour: tuple[int, int, int], under: tuple[int, int, int], opacity: float) -> tuple:
    alpha = round(opacity * 255) / 255
    return tuple(round(c * alpha + u * (1 - alpha)) for c, u in zip(colour, under))


class Canvas:
    """The media canvas of a panel, read in image pixel coordinates."""

    def __init__(self, page: Any, selector: str) -> None:
        self.page = page
        self.selector = selector
        self.loc = page.locator(selector)
        expect(self.loc).to_have_attribute("data-state", "drawn")
        self.scale = float(self.loc.get_attribute("data-scale") or "0")
        assert self.scale > 0

    def canvas_px(self, cx: int, cy: int) -> tuple[int, ...]:
        return tuple(self.page.evaluate(PIXEL, [self.selector, cx, cy])[:3])

    def at(self, x: float, y: float) -> tuple[int, ...]:
        """The colour at the centre of image pixel (x, y)."""
        return self.canvas_px(int((x + 0.5) * self.scale), int((y + 0.5) * self.scale))

    def wait_at(self, x: float, y: float, want: Any, what: str) -> None:
        """Waits until pixel (x, y) is ``want`` (within 3 per channel)."""
        cx, cy = int((x + 0.5) * self.scale), int((y + 0.5) * self.scale)
        self.page.wait_for_function(
            """([sel, x, y, want]) => {
                const c = document.querySelector(sel);
                if (!c) return false;
                const d = c.getContext('2d').getImageData(x, y, 1, 1).data;
                return want.every((v, i) => Math.abs(d[i] - v) <= 3);
            }""", arg=[self.selector, cx, cy, list(want)], timeout=10_000)
        assert close(self.canvas_px(cx, cy), want), what


def test_media_tab_draws_masks_boxes_and_their_toggles(page: Any, web: ServerProcess,
                                                     tmp_path: Path) -> None:
    log_runs(web, tmp_path, IMAGE_SCRIPT + """
with kiseki.init(project="media", name="seg") as run:
    for step in (0, 5, 10):
        run.log({"sample": sample(f"step {step} <b>x</b>"),
                 "gallery": [sample(f"g{i}") for i in range(3)],
                 "weights": kiseki.Histogram(np.arange(100) * (step + 1) / 10)}, step=step)
""")
    run = run_ids(web, "media")["seg"]
    open_app(page, web, f"/p/media/r/{run}?tab=media")
    panel = page.locator("[data-testid=media-panel][data-key='sample']")
    expect(panel).to_have_attribute("data-step", "10")
    sel = "[data-testid=media-panel][data-key='sample'] [data-testid=media-canvas]"
    canvas = Canvas(page, sel)
    assert canvas.loc.get_attribute("data-width") == "64"
    assert canvas.loc.get_attribute("data-boxes") == "1"
    assert panel.get_by_test_id("media-caption").inner_text() == "step 10 <b>x</b>"
    assert panel.locator("b").count() == 0

    mask_class = ("[data-testid=class-toggle][data-kind=mask][data-layer=ground_truth]"
                  "[data-class='{}']")
    bicycle = panel.locator(mask_class.format(1))
    background = panel.locator(mask_class.format(0))
    assert bicycle.locator("xpath=..").inner_text().strip() == "bicycle"
    bike = hex_rgb(bicycle.get_attribute("data-color") or "")
    grey = hex_rgb(background.get_attribute("data-color") or "")
    car_toggle = panel.locator("[data-testid=class-toggle][data-kind=box][data-class='2']")
    car = hex_rgb(car_toggle.get_attribute("data-color") or "")
    assert car_toggle.locator("xpath=..").inner_text().strip() == "car"
    # A class id without a label is named by its id; the SDK's warning about it is shown.
    assert panel.locator(mask_class.format(5)).locator("xpath=..").inner_text().strip() == \
        "class 5"
    assert "not in class_labels" in panel.get_by_test_id("media-warnings").text_content()

    # Inside the mask square, with the layer on: the image mixed with the class colour (50%).
    assert close(canvas.at(24, 24), mixed(bike, BLUE, 0.5)), canvas.at(24, 24)
    assert close(canvas.at(4, 60), mixed(grey, BLUE, 0.5)), canvas.at(4, 60)
    # The box's left edge (drawn inside the box) is the class colour, mid-height.
    edge = (int(36 * canvas.scale) + 1, int(18 * canvas.scale))
    assert close(canvas.canvas_px(*edge), car), canvas.canvas_px(*edge)

    # Class 1 off: the plain image inside the square; the background class still drawn.
    bicycle.uncheck()
    page.wait_for_url("**mo.sample=**")
    canvas.wait_at(24, 24, BLUE, "class 1 off leaves the plain image")
    assert close(canvas.at(4, 60), mixed(grey, BLUE, 0.5))
    bicycle.check()
    canvas.wait_at(24, 24, mixed(bike, BLUE, 0.5), "class 1 back on")
    # Full opacity: exactly the class colour; the mask layer off: the plain image everywhere.
    panel.get_by_test_id("mask-opacity").fill("1")
    canvas.wait_at(24, 24, bike, "opacity 1 draws the class colour")
    panel.locator("[data-testid=layer-toggle][data-kind=mask][data-layer=ground_truth]").uncheck()
    canvas.wait_at(24, 24, BLUE, "mask layer off")
    assert close(canvas.at(4, 60), BLUE)
    panel.locator("[data-testid=layer-toggle][data-kind=mask][data-layer=ground_truth]").check()
    panel.get_by_test_id("mask-opacity").fill("0.5")
    canvas.wait_at(24, 24, mixed(bike, BLUE, 0.5), "mask back at 50%")

    # A score threshold above 0.9 removes the box; at 0.9 it stays (inclusive).
    threshold = panel.locator("[data-testid=score-threshold][data-score=score]")
    threshold.fill("0.9")
    expect(canvas.loc).to_have_attribute("data-boxes", "1")
    threshold.fill("0.95")
    expect(canvas.loc).to_have_attribute("data-boxes", "0")
    assert not close(canvas.canvas_px(*edge), car)
    assert close(canvas.canvas_px(*edge), mixed(grey, BLUE, 0.5))
    panel.scroll_into_view_if_needed()
    screenshot(page, "media-tab")
    threshold.fill("0")
    expect(canvas.loc).to_have_attribute("data-boxes", "1")

    # The settings are in the URL: a reload draws the same.
    bicycle.uncheck()
    canvas.wait_at(24, 24, BLUE, "class 1 off again")
    page.reload()
    canvas = Canvas(page, sel)
    canvas.wait_at(24, 24, BLUE, "class 1 still off after a reload")

    # Step slider: the first step, then back to the latest.
    panel.get_by_test_id("step-slider").fill("0")
    expect(panel).to_have_attribute("data-step", "0")
    assert panel.get_by_test_id("media-caption").inner_text() == "step 0 <b>x</b>"
    panel.get_by_test_id("step-latest").click()
    expect(panel).to_have_attribute("data-step", "10")

    # A gallery: three images in a grid, all with the overlays; click one to zoom.
    gallery = page.locator("[data-testid=media-panel][data-key='gallery']")
    gallery.scroll_into_view_if_needed()
    cells = gallery.get_by_test_id("media-canvas")
    expect(cells).to_have_count(3)
    cells.nth(1).click()
    zoom = page.get_by_test_id("media-zoom")
    zoom.wait_for()
    big = Canvas(page, "[data-testid=media-zoom-canvas]")
    assert big.scale > float(cells.nth(1).get_attribute("data-scale") or "0")
    assert close(big.at(40, 18), mixed(grey, BLUE, 0.5)) or close(big.at(40, 18), BLUE)
    assert zoom.get_by_test_id("media-caption").inner_text() == "g1"
    page.keyboard.press("Escape")
    expect(zoom).to_have_count(0)

    # The histogram key as a heat-map over its three steps.
    heat = page.locator("[data-testid=media-panel][data-key='weights']")
    heat.scroll_into_view_if_needed()
    heatmap = heat.get_by_test_id("histogram-heatmap")
    expect(heatmap).to_have_attribute("data-steps", "3")
    assert float(heatmap.get_attribute("data-max") or "0") > 0
    # Hovering the right end of the plot reads the last step's cell.
    box = heatmap.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] - 20, box["y"] + box["height"] / 2)
    expect(heat.get_by_test_id("heatmap-tooltip")).to_contain_text("step 10 ·")


def test_table_filter_sort_group_and_pages(page: Any, web: ServerProcess, tmp_path: Path,
                                           request: pytest.FixtureRequest) -> None:
    request.node.allowed_console_errors = ("the server responded with a status of 400",)
    n = 120
    iou = [((i * 37) % 100) / 100 for i in range(n)]
    has_bicycle = [i % 3 == 0 for i in range(n)]
    log_runs(web, tmp_path, f"""
import numpy as np
n = {n}
with kiseki.init(project="tables", name="eval") as run:
    table = kiseki.Table(columns=["id", "image", "iou"])
    for i in range(n):
        mask = np.zeros((16, 16), np.int64)
        if i % 3 == 0:
            mask[4:8, 4:8] = 1
        img = kiseki.Image(np.full((16, 16, 3), 10 + i, np.uint8), masks={{"ground_truth": {{
            "mask_data": mask, "class_labels": {{0: "background", 1: "bicycle"}}}}}})
        table.add_data(i, img, ((i * 37) % 100) / 100)
    run.log({{"predictions": table}}, step=3)
""")
    run = run_ids(web, "tables")["eval"]
    blob_requests: list[str] = []
    page.on("request", lambda r: blob_requests.append(f"{r.method} {r.url.split('/api/v1')[-1]}")
            if "/blobs" in r.url else None)
    open_app(page, web, f"/p/tables/r/{run}?tab=media")
    viewer = page.locator("[data-testid=table-viewer][data-key='predictions']")
    expect(viewer).to_have_attribute("data-total", str(n))
    expect(viewer.get_by_test_id("table-row")).to_have_count(50)
    # Image cells are thumbnails drawn with their mask overlay.
    first = viewer.locator("[data-testid=table-row][data-index='0'] [data-testid=table-image]")
    expect(first).to_have_attribute("data-masks", "1")
    # The page's 50 thumbnails and 2 distinct masks came in one batch request, not one request
    # per canvas, and each thumbnail shows its own pixels: row i is grey 10 + i under the same
    # half-transparent background class, so the drawn grey grows with i at one rate.
    grey = {}
    for i in (0, 7, 49):
        cell = f"[data-testid=table-viewer] [data-testid=table-row][data-index='{i}'] " \
               "[data-testid=table-image]"
        viewer.locator(f"[data-testid=table-row][data-index='{i}']").scroll_into_view_if_needed()
        grey[i] = Canvas(page, cell).at(14, 14)[0]
    rate = (grey[49] - grey[0]) / 49
    assert rate > 0.2 and abs(grey[7] - (grey[0] + 7 * rate)) <= 2, grey
    assert blob_requests == ["POST /projects/tables/blobs/batch"], blob_requests

    # Filter (evaluated by the server): exactly the expected rows.
    expected = [i for i in range(n) if has_bicycle[i] and iou[i] < 0.5]
    box = viewer.get_by_test_id("table-filter")
    box.fill('"bicycle" in ground_truth.classes and iou < 0.5')
    box.press("Enter")
    expect(viewer).to_have_attribute("data-total", str(len(expected)))
    ids = viewer.locator("[data-testid=table-row] td[data-col=id]")
    expect(ids).to_have_text([str(i) for i in expected])
    assert "(filtered from 120)" in viewer.get_by_test_id("table-range").inner_text()
    screenshot(page, "media-table")

    # Sort by a header click: ascending, then descending.
    viewer.locator("[data-testid=table-header][data-col=iou] button").click()
    expect(viewer.locator("[data-testid=table-header][data-col=iou]")).to_have_attribute(
        "data-sort", "asc")
    by_iou = sorted(expected, key=lambda i: iou[i])
    # (the rows shown before the answer are the unsorted ones: wait for the whole order)
    expect(ids).to_have_text([str(i) for i in by_iou])
    viewer.locator("[data-testid=table-header][data-col=iou] button").click()
    expect(ids).to_have_text([str(i) for i in reversed(by_iou)])

    # A bad expression: the server's message under the box, as text.
    box.fill("iou < <b>")
    box.press("Enter")
    error = viewer.get_by_test_id("table-filter-error")
    error.wait_for()
    detail = httpx.get(f"{web.url}/api/v1/projects/tables/runs/{run}/table",
                       params={"key": "predictions", "filter": "iou < <b>"}).json()["detail"]
    assert error.inner_text() == detail
    assert viewer.locator("[data-testid=table-filter-error] b").count() == 0

    # Clear; pages of 50 from the server.
    viewer.get_by_test_id("table-filter-clear").click()
    expect(viewer).to_have_attribute("data-total", str(n))
    viewer.get_by_test_id("table-next").click()
    expect(viewer).to_have_attribute("data-offset", "50")
    expect(viewer.get_by_test_id("table-range")).to_have_text("51–100 of 120")
    viewer.get_by_test_id("table-next").click()
    expect(viewer.get_by_test_id("table-row")).to_have_count(20)
    expect(viewer.get_by_test_id("table-next")).to_be_disabled()

    # Back to the first page: its thumbnails were fetched once already, nothing is asked again.
    for row in viewer.get_by_test_id("table-row").all()[:5]:
        expect(row.get_by_test_id("table-image")).to_have_attribute("data-state", "drawn")
    seen = len(blob_requests)
    viewer.get_by_test_id("table-prev").click()
    viewer.get_by_test_id("table-prev").click()
    expect(viewer).to_have_attribute("data-offset", "0")
    expect(viewer.get_by_test_id("table-image").first).to_have_attribute("data-state", "drawn")
    assert blob_requests[seen:] == [], blob_requests[seen:]


def test_table_groups_and_compare_across_runs(page: Any, web: ServerProcess,
                                              tmp_path: Path) -> None:
    log_runs(web, tmp_path, """
import random
for name, seed in (("a", 1), ("b", 2)):
    rnd = random.Random(seed)
    with kiseki.init(project="cmp-tables", name=name) as run:
        table = kiseki.Table(columns=["id", "split", "score"])
        ids = list(range(30)) if name == "a" else [i for i in range(30) if i != 7]
        rnd.shuffle(ids)
        for i in ids:
            table.add_data(i, "val" if i % 3 == 0 else "train", i * (1 if name == "a" else 2))
        run.log({"scores": table})
""")
    ids = run_ids(web, "cmp-tables")
    a, b = ids["a"], ids["b"]
    open_app(page, web, f"/p/cmp-tables/r/{a}?tab=media")
    viewer = page.locator("[data-testid=table-viewer][data-key='scores']")
    expect(viewer).to_have_attribute("data-total", "30")

    # Group by split: counts and means.
    viewer.get_by_test_id("table-group-select").select_option("split")
    groups = viewer.locator("[data-testid=table-group]")
    expect(groups).to_have_count(2)
    val = viewer.locator("[data-testid=table-group][data-value='val']")
    assert val.get_attribute("data-count") == "10"
    assert val.locator("td[data-col=score]").inner_text() == "13.5"  # mean of 0, 3, ..., 27
    # A group value click filters to it.
    val.get_by_role("button").click()
    expect(viewer).to_have_attribute("data-total", "10")
    viewer.get_by_test_id("table-filter-clear").click()
    viewer.get_by_test_id("table-group-select").select_option("")

    # Compare with run b, rows matched by id (b has no id 7, and its rows are in other order).
    viewer.get_by_test_id("compare-run").select_option(b)
    viewer.get_by_test_id("compare-key").select_option("id")
    rows = viewer.locator("[data-testid=compare-row]")
    expect(rows).to_have_count(30)
    expect(viewer.get_by_test_id("compare-table")).to_have_attribute("data-matched", "29")
    # rows in key order (the page is re-read sorted by the key column)
    for i in range(3):
        expect(rows.nth(i)).to_have_attribute("data-key", str(i))
    row5 = viewer.locator("[data-testid=compare-row][data-key='5']")
    expect(row5.locator("td[data-col=score][data-side=a]")).to_have_text("5")
    expect(row5.locator("td[data-col=score][data-side=b]")).to_have_text("10")
    expect(row5.locator("td[data-col=score][data-side=a]")).to_have_class(re.compile("differs"))
    expect(row5.locator("td[data-col=split][data-side=b]")).to_have_text("train")
    expect(row5.locator("td[data-col=split][data-side=a]")).not_to_have_class(
        re.compile("differs"))
    expect(viewer.locator("[data-testid=compare-row][data-key='7']")).to_have_attribute(
        "data-matched", "false")
    screenshot(page, "media-table-compare")


def test_workspace_shows_an_image_key_across_runs_at_one_step(page: Any, web: ServerProcess,
                                                              tmp_path: Path) -> None:
    log_runs(web, tmp_path, IMAGE_SCRIPT + """
for name, steps in (("one", (0, 10, 20)), ("two", (0, 5, 10))):
    with kiseki.init(project="ws-media", name=name) as run:
        for step in steps:
            run.log({"sample": sample(f"{name} {step}"), "loss": 1.0}, step=step)
""")
    ids = run_ids(web, "ws-media")
    assert set(ids) == {"one", "two"}, ids
    open_app(page, web, "/p/ws-media")
    panel = page.locator("[data-testid=media-compare][data-key='sample']")
    panel.scroll_into_view_if_needed()
    columns = panel.get_by_test_id("media-column")
    expect(columns).to_have_count(2)
    one = panel.locator(f"[data-testid=media-column][data-run='{ids['one']}']")
    two = panel.locator(f"[data-testid=media-column][data-run='{ids['two']}']")
    expect(one).to_have_attribute("data-step", "20")
    expect(two).to_have_attribute("data-step", "10")
    # The shared slider runs over every run's steps (0, 5, 10, 20): at 5, run "one" shows its
    # closest earlier step (0).
    expect(panel.get_by_test_id("step-slider")).to_have_attribute("max", "3")
    panel.get_by_test_id("step-slider").fill("1")
    expect(two).to_have_attribute("data-step", "5")
    expect(one).to_have_attribute("data-step", "0")
    assert "closest" in one.inner_text()
    panel.get_by_test_id("step-slider").fill("2")
    expect(one).to_have_attribute("data-step", "10")
    expect(two).to_have_attribute("data-step", "10")
    # One overlay setting for both columns.
    panel.locator("[data-testid=class-toggle][data-kind=mask][data-class='1']").uncheck()
    for run in ("one", "two"):
        sel = (f"[data-testid=media-compare][data-key='sample'] "
               f"[data-testid=media-column][data-run='{ids[run]}'] [data-testid=media-canvas]")
        Canvas(page, sel).wait_at(24, 24, BLUE, f"class 1 off in run {run}")
    screenshot(page, "workspace-media")


# An offline run whose second image never finishes encoding (the process is killed): once
# synced, that item is "missing" (the same crash as tests/api/test_media.py).
CRASH_SCRIPT = r"""
import os, signal, time, numpy as np, kiseki
from kiseki.sdk import media

real = media.encode_image
def slow(image, blobs):
    if image.caption == "never":
        time.sleep(60)
    return real(image, blobs)
media.encode_image = slow

run = kiseki.init(project="crash", name="crashed", mode="offline")
img = np.zeros((8, 8, 3), dtype=np.uint8)
run.log({"img": kiseki.Image(img, caption="kept")}, step=0)
deadline = time.time() + 20
while time.time() < deadline:  # wait until the first image is stored
    folder = os.path.join(run.dir, "media")
    if os.path.isdir(folder) and os.listdir(folder):
        break
    time.sleep(0.05)
time.sleep(0.5)
run.log({"img": kiseki.Image(img, caption="never")}, step=1)
print("RUN_ID", run.id, run.dir, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_missing_image_says_why(page: Any, web: ServerProcess, tmp_path: Path) -> None:
    proc = run_script(CRASH_SCRIPT, tmp_path, env={"KISEKI_CAPTURE_SYSTEM": "false"},
                      check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    _, run, run_dir = next(x for x in proc.stdout.splitlines() if x.startswith("RUN_ID")).split()
    sync = subprocess.run([sys.executable, "-m", "kiseki", "sync", run_dir], capture_output=True,
                          text=True, env={**os.environ, "KISEKI_BASE_URL": web.url},
                          timeout=120)
    assert sync.returncode == 0, sync.stderr
    open_app(page, web, f"/p/crash/r/{run}?tab=media")
    panel = page.locator("[data-testid=media-panel][data-key='img']")
    expect(panel).to_have_attribute("data-step", "1")
    note = panel.get_by_test_id("media-note")
    expect(note).to_have_attribute("data-state", "missing")
    assert note.inner_text() == "image missing: the process ended before it was stored"
    assert panel.get_by_test_id("media-canvas").count() == 0
    # The step before it was stored and is drawn.
    panel.get_by_test_id("step-slider").fill("0")
    expect(panel).to_have_attribute("data-step", "0")
    expect(panel.get_by_test_id("media-canvas")).to_have_attribute("data-state", "drawn")
    assert panel.get_by_test_id("media-note").count() == 0
