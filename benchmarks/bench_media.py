"""Rich media: log() latency with a 512x512 image, two mask layers and 20 boxes every step, and
how fast a 10,000-row table with image cells opens its first page.

1. log(): each step builds ``kiseki.Image(rgb, masks={gt, pred}, boxes={pred: 20 boxes})`` (int64
   masks, as argmax gives them) and logs it with two scalars; the timed region is the Image
   construction plus ``log()`` on the training thread. Three loops: (a) a step of
   ``--step-ms`` ms (sleeping, as a loop waiting on its GPU) between calls, next to the same
   loop logging the two scalars only: on a VM the first calls after any pause pay for cold
   caches, so the scalar loop is the floor to compare with; (b) bursts of 16 images (the queue
   depth) without pauses, the encoder busy in parallel; (c) a loop that never waits: the
   encoder falls behind and ``log()`` waits for the bounded queue (back-pressure), which gives
   the encoder's throughput.
2. Table: a run logs a 10,000-row table (64x64 image + mask + 2 boxes per row, numbers and
   text); a fresh ``kiseki server`` then answers the first page (50 rows), cold (decoding the
   table) and warm, and the first page of a class filter; then the web app's table viewer in
   headless Chromium: navigation to the first page drawn with every on-screen thumbnail's
   overlays (``--no-browser`` skips it; it needs Debian's chromium and a built web app).

    python benchmarks/bench_media.py [--steps 200] [--step-ms 50] [--rows 10000] [--json]
"""

from __future__ import annotations

from common import fresh_home, report, running_server

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--step-ms", type=float, default=50.0)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--no-browser", action="store_true",
                        help="skip the table viewer in Chromium (needs chromium and a built UI)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {**bench_log(args.steps, args.step_ms),
              **bench_table(args.rows, not args.no_browser)}
    report(result, args.json)


def _inputs():  # type: ignore[no-untyped-def]
    import numpy as np

    rng = np.random.default_rng(0)
    # photo-like: smooth gradients, two objects, sensor noise (uniform random noise would be
    # a worst case that no camera produces: PNG cannot compress it and takes ~26 ms)
    yy, xx = np.mgrid[0:512, 0:512] / 512.0
    base = np.stack([0.3 + 0.4 * xx, 0.2 + 0.5 * yy, 0.6 - 0.3 * xx * yy], axis=2)
    base[100:300, 50:250] = (0.8, 0.2, 0.1)
    base[320:480, 300:500] = (0.1, 0.3, 0.8)
    noisy = base * 255 + rng.normal(0, 4, size=base.shape)
    rgb = np.clip(noisy, 0, 255).astype(np.uint8)
    gt = np.zeros((512, 512), dtype=np.int64)
    gt[100:300, 50:250] = 1
    gt[320:480, 300:500] = 2
    pred = np.roll(gt, 7, axis=1)
    boxes = [{"position": {"minX": 20 * i, "maxX": 20 * i + 40, "minY": 10 * i,
                           "maxY": 10 * i + 30}, "domain": "pixel", "class_id": i % 3,
              "scores": {"confidence": 0.5 + i / 50}} for i in range(20)]
    return rgb, gt, pred, boxes


def bench_log(steps: int, step_ms: float) -> dict[str, float]:
    import kiseki
    from kiseki.sdk.encoder import default_threads
    from kiseki.sdk.settings import load_settings

    home = fresh_home()
    rgb, gt, pred, boxes = _inputs()
    labels = {0: "background", 1: "bicycle", 2: "person"}
    clock = time.perf_counter_ns

    def image() -> kiseki.Image:
        return kiseki.Image(rgb, masks={
            "ground_truth": {"mask_data": gt, "class_labels": labels},
            "predictions": {"mask_data": pred, "class_labels": labels}},
            boxes={"predictions": {"box_data": boxes, "class_labels": labels}})

    def new_run() -> kiseki.Run:
        return kiseki.init(project="bench-media", dir=home,
                           settings={"capture_console": False, "finish_timeout": 600})

    def paused(n: int, with_image: bool) -> list[int]:
        run = new_run()
        lat = []
        for step in range(n):
            t0 = clock()
            data = {"loss": 1.0 / (step + 1), "acc": step / n}
            if with_image:
                data["pred"] = image()
            run.log(data)
            lat.append(clock() - t0)
            time.sleep(step_ms / 1000)
        run.finish()
        return sorted(lat)

    def bursts(rounds: int) -> list[int]:
        from kiseki.sdk.encoder import MAX_QUEUE

        run = new_run()
        lat = []
        for _ in range(rounds):
            for step in range(MAX_QUEUE):  # a burst the queue holds: no back-pressure wait
                t0 = clock()
                run.log({"pred": image(), "loss": 1.0})
                lat.append(clock() - t0)
            run._encoder.drain(600)  # type: ignore[attr-defined]
        run.finish()
        return sorted(lat)

    def flood(n: int) -> tuple[float, list[int]]:
        run = new_run()
        lat = []
        t_loop = time.perf_counter()
        for _ in range(n):
            t0 = clock()
            run.log({"pred": image(), "loss": 1.0})
            lat.append(clock() - t0)
        run._encoder.drain(600)  # type: ignore[attr-defined]
        rate = n / (time.perf_counter() - t_loop)
        run.finish()
        return rate, sorted(lat)

    def med(lat: list[int]) -> float:
        return lat[len(lat) // 2] / 1000

    paused(3, True)  # warm-up: imports, encoder thread, sender process
    with_image = paused(steps, True)
    scalars_only = paused(steps, False)
    burst = bursts(10)
    rate, flooded = flood(min(steps, 100))
    return {
        "paused_loop_log_image_median_us": med(with_image),
        "paused_loop_log_image_p99_us": with_image[int(len(with_image) * 0.99)] / 1000,
        "paused_loop_log_scalars_only_median_us": med(scalars_only),
        "warm_loop_log_image_median_us": med(burst),
        "warm_loop_log_image_p99_us": burst[int(len(burst) * 0.99)] / 1000,
        "steps": float(steps), "step_ms": step_ms,
        "encoder_images_per_s": rate,
        "encoder_threads": float(load_settings().media_encoder_threads or default_threads()),
        "log_image_median_us_when_encoder_behind": med(flooded),
    }


def bench_table(rows: int, browser: bool = True) -> dict[str, float]:
    import httpx
    import numpy as np

    import kiseki

    home = fresh_home()
    rng = np.random.default_rng(1)
    table = kiseki.Table(columns=["id", "image", "iou", "split"])
    labels = {0: "background", 1: "bicycle", 2: "person", 3: "car"}
    for i in range(rows):
        picture = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
        mask = np.zeros((64, 64), dtype=np.uint8)
        mask[8:24, 8:24] = 1 + i % 3
        box = [{"position": {"minX": 30, "maxX": 60, "minY": 30, "maxY": 60}, "domain": "pixel",
                "class_id": 1 + (i * 7) % 3, "scores": {"confidence": float(rng.random())}}]
        table.add_data(i, kiseki.Image(picture, masks={"ground_truth": {
            "mask_data": mask, "class_labels": labels}},
            boxes={"predictions": {"box_data": box, "class_labels": labels}}),
            float(rng.random()), "val" if i % 4 else "train")
    t0 = time.perf_counter()
    with kiseki.init(project="bench-table", dir=home,
                     settings={"capture_console": False, "finish_timeout": 600}) as run:
        run.log({"predictions": table})
    stored_s = time.perf_counter() - t0
    with running_server(home) as url:
        page_url = f"{url}/api/v1/projects/bench-table/runs/{run.id}/table"
        timings = {}
        for name, params in (("first_page_cold_s", {}), ("first_page_warm_s", {}),
                             ("filtered_first_page_s",
                              {"filter": '"bicycle" in ground_truth.classes and iou < 0.5'}),
                             ("filtered_next_page_s",
                              {"filter": '"bicycle" in ground_truth.classes and iou < 0.5',
                               "offset": 50})):
            t0 = time.perf_counter()
            resp = httpx.get(page_url, params={"key": "predictions", "limit": 50, **params},
                             timeout=120)
            timings[name] = time.perf_counter() - t0
            resp.raise_for_status()
            if name == "first_page_cold_s":
                first = resp.json()
                assert len(first["rows"]) == 50 and first["rows_total"] == rows, first.keys()
                sha = first["rows"][0]["cells"][1]["sha256"]
                t0 = time.perf_counter()
                httpx.get(f"{url}/api/v1/projects/bench-table/blobs/{sha}").raise_for_status()
                timings["one_thumbnail_s"] = time.perf_counter() - t0
        if browser:
            timings.update(_browser_first_page(url, run.id))
    return {"table_rows": float(rows), "table_logged_and_stored_s": stored_s, **timings}


FIRST_PAGE_DRAWN = """() => {
  const viewer = document.querySelector("[data-testid=table-viewer][data-key='predictions']");
  if (!viewer) return false;
  const rows = viewer.querySelectorAll("[data-testid=table-row]");
  const images = viewer.querySelectorAll("[data-testid=table-image]");
  if (rows.length < 50 || images.length < 50) return false;
  const tall = window.innerHeight;
  for (const img of images) {  // every thumbnail on screen is drawn with its overlays
    const box = img.getBoundingClientRect();
    if (box.top < tall && img.getAttribute("data-state") !== "drawn") return false;
  }
  return true;
}"""


def _browser_first_page(url: str, run_id: str) -> dict[str, float]:
    """Time from navigation to the table viewer's first page drawn, thumbnails on screen
    drawn with their overlays (headless Chromium, 1440x900; the server's first decode of the
    table is part of it: a fresh server process was started for this measurement)."""
    from bench_ui import CHROMIUM_FLAGS, chromium_path
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                     args=CHROMIUM_FLAGS)
        try:
            for label in ("browser_first_page_s", "browser_first_page_again_s"):
                page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
                t0 = time.perf_counter()
                page.goto(f"{url}/p/bench-table/r/{run_id}?tab=media")
                page.wait_for_function(FIRST_PAGE_DRAWN, timeout=60_000, polling=16)
                out[label] = time.perf_counter() - t0
                page.context.close()
        finally:
            browser.close()
    return out


if __name__ == "__main__":
    main()
