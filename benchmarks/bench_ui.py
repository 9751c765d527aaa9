"""The web app under load (issue #3): first charts, zoom, and scrolling 1,000 runs.

Workload: project ``ui-bench`` with 100 runs x 10 metrics x 100,000 steps (100M points) and
project ``ui-table`` with 1,000 small runs. Both are written once through the store's real
ingest path (``SQLStore.ingest`` with SDK-sized batches of Metrics records) into a SQLite store
cached under ``~/.cache/kiseki-bench/`` (keyed by the shape; ``--regen`` rebuilds it), then a
real ``kiseki server`` serves it to headless Chromium (Debian's, driven by Playwright).

Figures:
  * ``query_series`` of one key over all runs, as a chart panel asks for it (HTTP, median);
  * first charts: ms from navigation start to the first panel drawn and to every panel in the
    viewport drawn (``kiseki:panel-drawn:<key>`` performance marks; target <= 1,500 ms);
  * zoom: ms from the mouseup of a drag-select on a chart to that panel's next draw
    (target <= 300 ms);
  * table: the runs table of ``ui-table`` scrolled by requestAnimationFrame for 2 s at 3,000 px/s
    (``table_``) and top to bottom and back (``table_sweep_``); frame intervals, p95 and frames
    over 1.5 x 16.7 ms ("dropped"; target 0).

    python benchmarks/bench_ui.py [--steps 100000] [--runs 100] [--metrics 10]
        [--table-runs 1000] [--repeat 3] [--no-browser] [--regen] [--json]

See benchmarks/README.md for the figures and what each one means.

``--steps 10000`` makes a 10M-point store in about 20 s for a quick look. The web app bundle
is the one the server serves (``KISEKI_UI_DIR`` or the package's static folder).
"""

from __future__ import annotations

from common import report, running_server

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

PROJECT = "ui-bench"
TABLE_PROJECT = "ui-table"
KEYS = ["train/loss", "train/accuracy", "train/lr", "train/grad_norm", "train/tokens_per_s",
        "val/loss", "val/accuracy", "val/perplexity", "eval/bleu", "eval/f1"]
BATCH = 2_000  # entries per ingest batch, as the SDK's sender sends them
FRAME_MS = 1000 / 60
RESULTS = Path(__file__).parent / "results"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]


# ----------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------

def data_dir(args: argparse.Namespace) -> Path:
    root = Path(args.cache or os.environ.get("KISEKI_BENCH_CACHE")
                or Path.home() / ".cache" / "kiseki-bench")
    return root / (f"ui-v1-{args.runs}r-{len(KEYS[:args.metrics])}m-{args.steps}s-"
                   f"{args.table_runs}t")


def ensure_data(args: argparse.Namespace) -> Path:
    """The cached store for this shape, generated first when missing or incomplete."""
    home = data_dir(args)
    marker = home / "shape.json"
    if marker.is_file() and not args.regen:
        return home
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    from kiseki.store.sqlstore import SQLStore

    points = args.runs * args.metrics * args.steps
    print(f"generating {points:,} points ({args.runs} runs x {args.metrics} metrics x "
          f"{args.steps:,} steps) + {args.table_runs} table runs in {home}", file=sys.stderr)
    store = SQLStore.open(f"sqlite:///{home / 'kiseki.db'}")
    t0 = time.perf_counter()
    try:
        for r in range(args.runs):
            _big_run(store, r, args.metrics, args.steps)
            if r % 10 == 9:
                done = (r + 1) * args.metrics * args.steps
                rate = done / (time.perf_counter() - t0)
                print(f"  {r + 1}/{args.runs} runs, {rate / 1e3:.0f}k points/s, "
                      f"~{(points - done) / rate:.0f} s left", file=sys.stderr)
        gen_s = time.perf_counter() - t0
        for r in range(args.table_runs):
            _table_run(store, r)
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    shape = {"runs": args.runs, "metrics": args.metrics, "steps": args.steps, "points": points,
             "table_runs": args.table_runs, "generate_s": round(gen_s, 1),
             "generate_points_per_s": round(points / gen_s),
             "db_bytes": (home / "kiseki.db").stat().st_size}
    marker.write_text(json.dumps(shape, indent=1))
    print(f"generated in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return home


def _curves(rng: np.random.Generator, r: int, steps: np.ndarray, n_keys: int) -> np.ndarray:
    """Plausible training curves: decaying losses, saturating accuracies, noise, rare spikes."""
    s = steps.astype(np.float64)
    total = 100_000.0
    tau = total * (0.08 + 0.04 * (r % 7))
    decay = np.exp(-s / tau)
    noise = rng.normal(size=(len(s), 10))
    lr0 = 1e-3 * (1 + r % 5)
    out = np.empty((len(s), 10))
    out[:, 0] = 2.3 * decay + 0.2 + 0.02 * r / 100 + 0.05 * noise[:, 0]
    out[:, 1] = 0.95 - 0.85 * decay + 0.01 * noise[:, 1]
    out[:, 2] = lr0 * np.minimum(1.0, s / 2000.0) * (0.5 + 0.5 * np.cos(np.pi * s / total))
    out[:, 3] = np.abs(1.5 * decay + 0.3 + 0.2 * noise[:, 3])
    out[:, 4] = 5.2e4 + 800 * noise[:, 4]
    out[:, 5] = 2.4 * decay + 0.28 + 0.03 * r / 100 + 0.02 * noise[:, 5]
    out[:, 6] = 0.93 - 0.83 * decay + 0.005 * noise[:, 6]
    out[:, 7] = np.exp(out[:, 5])
    out[:, 8] = 35 * (1 - decay) + 0.3 * noise[:, 8]
    out[:, 9] = 0.9 * (1 - decay) + 0.01 * noise[:, 9]
    spikes = rng.random(len(s)) < 2e-5  # a handful of loss spikes per run
    out[spikes, 0] *= 20
    return out[:, :n_keys]


def _big_run(store: Any, r: int, n_keys: int, n_steps: int) -> None:
    from kiseki.core import records as rec

    run_id = f"run{r:03d}"
    names = KEYS[:n_keys]
    created = 1.75e9 + r * 3600.0
    rng = np.random.default_rng(r)
    seq = 1
    store.ingest(PROJECT, run_id, "bench", [(seq, rec.RunStart(
        project=PROJECT, run_id=run_id, name=f"resnet-{r:03d}", created_at=created,
        config={"lr": 1e-3 * (1 + r % 5), "batch_size": 32 << (r % 4), "seed": r,
                "optimizer": ["adam", "sgd", "adamw"][r % 3], "model": {"depth": 18 + r % 3 * 16}},
        tags=["baseline"] if r % 10 == 0 else [], group=f"sweep-{r // 25}"))], live=False)
    for start in range(0, n_steps, BATCH):
        steps = np.arange(start, min(start + BATCH, n_steps))
        values = _curves(rng, r, steps, n_keys).tolist()
        ts = (created + steps * 0.05).tolist()
        entries: list[tuple[int, Any]] = []
        for i, step in enumerate(steps.tolist()):
            seq += 1
            entries.append((seq, rec.Metrics(step, ts[i], dict(zip(names, values[i])))))
        store.ingest(PROJECT, run_id, "bench", entries, live=False)
    seq += 1
    store.ingest(PROJECT, run_id, "bench", [(seq, rec.Finish(
        state="finished", exit_code=0, ts=created + n_steps * 0.05))], live=False)


def _table_run(store: Any, r: int) -> None:
    from kiseki.core import records as rec

    run_id = f"t{r:04d}"
    created = 1.75e9 + r * 60.0
    rng = np.random.default_rng(10_000 + r)
    entries: list[tuple[int, Any]] = [(1, rec.RunStart(
        project=TABLE_PROJECT, run_id=run_id, name=f"trial-{r:04d}", created_at=created,
        config={"lr": float(10 ** rng.uniform(-5, -1)), "batch_size": int(2 ** rng.integers(4, 10)),
                "dropout": round(float(rng.uniform(0, 0.5)), 3), "layers": int(rng.integers(2, 48)),
                "optimizer": ["adam", "sgd", "adamw", "lion"][r % 4], "seed": r},
        tags=[["sweep"], ["sweep", "best"], []][r % 3], group=f"g{r % 8}"))]
    loss = 2.0 * np.exp(-np.arange(50) / rng.uniform(5, 30)) + rng.uniform(0.1, 0.5)
    for step in range(50):
        entries.append((step + 2, rec.Metrics(step, created + step, {
            "train/loss": float(loss[step]), "val/loss": float(loss[step] * 1.1),
            "val/accuracy": float(1 - loss[step] / 2.5)})))
    entries.append((52, rec.Finish(state=["finished", "failed", "crashed"][int(r % 17 == 0) + int(r % 29 == 0)],
                                   exit_code=0, ts=created + 60)))
    store.ingest(TABLE_PROJECT, run_id, "bench", entries, live=False)


# ----------------------------------------------------------------------------------------------
# server: query_series as a chart panel sends it
# ----------------------------------------------------------------------------------------------

def bench_server(url: str, args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    run_ids = [f"run{r:03d}" for r in range(args.runs)]
    path = f"{url}/api/v1/projects/{PROJECT}/series"
    out: dict[str, Any] = {}
    # (buckets, x_min, x_max): whole runs in 350 buckets (about what a panel of the default
    # layout asks for: summaries), in 1,000 (raw points when runs are < 256,000 steps), zooms
    views = {"full_350": (350, None, None), "full_1000": (1000, None, None),
             "zoom_40pct": (1000, args.steps * 0.2, args.steps * 0.6),
             "zoom_1000_steps": (1000, args.steps * 0.4, args.steps * 0.4 + 1000)}
    with httpx.Client(timeout=120) as client:
        for name, (buckets, lo, hi) in views.items():
            body = {"runs": run_ids, "keys": [KEYS[0]], "buckets": buckets, "x_axis": "step",
                    "x_min": lo, "x_max": hi}
            samples = []
            for i in range(args.server_repeat + 1):
                t = time.perf_counter()
                res = client.post(path, json=body)
                res.raise_for_status()
                if i:  # the first one warms the page cache
                    samples.append((time.perf_counter() - t) * 1000)
            series = res.json()["series"]
            out[f"query_series_{name}_ms"] = statistics.median(samples)
            out[f"query_series_{name}_points"] = sum(len(s["x"]) for s in series)
            out[f"query_series_{name}_kb"] = len(res.content) / 1024
    return out


# ----------------------------------------------------------------------------------------------
# browser
# ----------------------------------------------------------------------------------------------

# Fallback for builds without the panel hooks: a mark when a panel first holds a canvas.
FALLBACK_MARKS = """
(() => {
  const seen = new Set();
  const check = () => {
    for (const el of document.querySelectorAll('[data-testid^="panel-"][data-metric]')) {
      const id = el.getAttribute('data-testid').slice(6);
      if (!seen.has(id) && el.querySelector('canvas')) {
        seen.add(id);
        performance.mark('kiseki-bench:canvas:' + id);
      }
    }
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true});
})();
"""

# Chart panels (data-testid="panel-<id>" with data-metric): draw marks (ms since navigation
# start), data-state, which are in the viewport, and the /series requests made so far.
PANEL_STATE = """
() => {
  const hook = {}, canvas = {};
  for (const e of performance.getEntriesByType('mark')) {
    if (e.name.startsWith('kiseki:panel-drawn:')) {
      (hook[e.name.slice(19)] ??= []).push(e.startTime);
    } else if (e.name.startsWith('kiseki-bench:canvas:')) {
      (canvas[e.name.slice(20)] ??= []).push(e.startTime);
    }
  }
  const useHook = Object.keys(hook).length > 0;
  const visible = [], states = {}, points = {};
  for (const el of document.querySelectorAll('[data-testid^="panel-"][data-metric]')) {
    const id = el.getAttribute('data-testid').slice(6);
    states[id] = el.getAttribute('data-state');
    points[id] = el.getAttribute('data-points');
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight && r.right > 0
        && r.left < innerWidth) visible.push(id);
  }
  const series = performance.getEntriesByType('resource')
    .filter((e) => e.name.includes('/series'))
    .map((e) => ({start: e.startTime, end: e.responseEnd, bytes: e.transferSize}));
  return {method: useHook ? 'hook' : 'canvas', marks: useHook ? hook : canvas, visible, states,
          points, series, now: performance.now()};
}
"""

# requestAnimationFrame timestamps while scrolling ``sel``: at ``speed`` px/s (bouncing at the
# ends), or with speed 0 from the top to the bottom and back within the duration.
SCROLL = """
async ([sel, durationMs, speed]) => {
  const el = document.querySelector(sel);
  const max = el.scrollHeight - el.clientHeight;
  return await new Promise((resolve) => {
    const times = [];
    let t0 = null;
    const frame = (t) => {
      if (t0 === null) t0 = t;
      times.push(t);
      const p = (t - t0) / durationMs;
      if (p >= 1) { el.scrollTop = 0; resolve({times, max}); return; }
      let y;
      if (speed > 0) {
        const d = (speed * (t - t0) / 1000) % (2 * max);
        y = d <= max ? d : 2 * max - d;
      } else {
        y = (p < 0.5 ? 2 * p : 2 - 2 * p) * max;
      }
      el.scrollTop = y;
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
}
"""

IDLE_FRAMES = """
async (durationMs) => await new Promise((resolve) => {
  const times = [];
  const frame = (t) => {
    times.push(t);
    if (t - times[0] < durationMs) requestAnimationFrame(frame); else resolve(times);
  };
  requestAnimationFrame(frame);
})
"""


def chromium_path() -> str:
    path = os.environ.get("KISEKI_CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")
    if not path:
        raise SystemExit("Chromium not found: apt-get install chromium, or set KISEKI_CHROMIUM")
    return path


def _settled(page: Any, timeout_s: float, quiet_ms: float = 500, since: float = 0.0,
             only: str | None = None) -> dict[str, Any]:
    """Panel state once every visible panel (or ``only``) has drawn after ``since``, is no
    longer loading (when the build sets data-state) and no mark came for ``quiet_ms``."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = page.evaluate(PANEL_STATE)
        marks = state["marks"]
        want = [only] if only else state["visible"]
        last = max((t for k in want for t in marks.get(k, []) if t > since), default=None)
        done = bool(want) and all(any(t > since for t in marks.get(k, [])) for k in want) and \
            all(state["states"].get(k) in (None, "drawn", "empty", "error") for k in want)
        if done and last is not None and state["now"] - last >= quiet_ms:
            return state
        if time.monotonic() > deadline:
            state["timed_out"] = True
            return state
        time.sleep(0.05)


def _last_draw(state: dict[str, Any], panel: str, since: float = 0.0) -> float | None:
    """When ``panel`` was last drawn (after ``since``): its final picture, data included."""
    return max((t for t in state["marks"].get(panel, []) if t > since), default=None)


def _open_workspace(browser: Any, url: str) -> tuple[Any, Any]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    page.add_init_script(FALLBACK_MARKS)
    page.goto(f"{url}/p/{PROJECT}", wait_until="commit")
    return ctx, page


def bench_first_charts(browser: Any, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Fresh browser contexts (empty HTTP cache) opening the workspace, ``--repeat`` times."""
    firsts, alls, counts, methods, requests, sizes, arrived = [], [], [], set(), [], [], []
    points = None
    for i in range(args.repeat):
        ctx, page = _open_workspace(browser, url)
        state = _settled(page, timeout_s=60)
        ctx.close()
        if state.get("timed_out"):
            print(f"  first charts {i + 1}: timed out waiting for the visible panels "
                  f"({state['states']})", file=sys.stderr)
        methods.add(state["method"])
        drawn = {k: t for k in state["visible"] if (t := _last_draw(state, k)) is not None}
        if not drawn:
            continue
        firsts.append(min(drawn.values()))
        alls.append(max(drawn.values()))
        counts.append(len(state["visible"]))
        if state["series"]:
            requests.append(max(s["end"] - s["start"] for s in state["series"]))
            sizes.append(max(s["bytes"] for s in state["series"]))
            arrived.append(max(s["end"] for s in state["series"]))
        points = state["points"].get(state["visible"][0])
    return {
        "first_panel_ms_cold": firsts[0] if firsts else None,
        "first_panel_ms": statistics.median(firsts) if firsts else None,
        "visible_panels_ms_cold": alls[0] if alls else None,
        "visible_panels_ms": statistics.median(alls) if alls else None,
        "visible_panels": max(counts) if counts else 0,
        "series_requests": len(state["series"]),
        "series_all_arrived_ms": statistics.median(arrived) if arrived else None,
        "slowest_series_request_ms": statistics.median(requests) if requests else None,
        "largest_series_response_kb": max(sizes) / 1024 if sizes else None,
        "points_per_panel": points,
        "draw_signal": "/".join(sorted(methods)),
    }


def bench_zoom(browser: Any, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Drag-selects on the first visible chart, each inside the last: mouseup to redraw."""
    ctx, page = _open_workspace(browser, url)
    state = _settled(page, timeout_s=60)
    if state["method"] != "hook" or not state["visible"]:
        ctx.close()
        return {"zoom_ms": None, "zoom_note": "no kiseki:panel-drawn marks in this build"}
    panel = state["visible"][0]
    over = page.locator(f'[data-testid="panel-{panel}"] .u-over').first
    page.evaluate("""() => { window.__kbUp = []; addEventListener('mouseup',
        () => window.__kbUp.push(performance.now()), true); }""")
    samples, requests, ranges = [], [], []
    for i in range(args.zooms):
        box = over.bounding_box()
        y = box["y"] + box["height"] / 2
        x0, x1 = box["x"] + box["width"] * 0.35, box["x"] + box["width"] * 0.5
        page.mouse.move(x0, y)
        page.mouse.down()
        page.mouse.move(x1, y, steps=6)
        page.mouse.up()
        up = page.evaluate("() => window.__kbUp[window.__kbUp.length - 1]")
        after = _settled(page, timeout_s=20, since=up, only=panel)
        drawn = _last_draw(after, panel, since=up)
        if after.get("timed_out") or drawn is None:
            print(f"  zoom {i + 1}: no redraw of {panel} after mouseup", file=sys.stderr)
            continue
        samples.append(drawn - up)
        ranges.append(page.locator(f'[data-testid="panel-{panel}"]').first.evaluate(
            "(el) => [el.dataset.xmin, el.dataset.xmax, el.dataset.points]"))
        req = [s["end"] - s["start"] for s in after["series"] if s["start"] >= up]
        if req:
            requests.append(max(req))
    ctx.close()
    return {
        "zoom_panel": panel,
        "zoom_ms": statistics.median(samples) if samples else None,
        "zoom_ms_max": max(samples) if samples else None,
        "zoom_ms_all": [round(s) for s in samples],
        "zoom_ranges": ranges,
        "zoom_requests": len(requests),
        "zoom_request_ms": statistics.median(requests) if requests else None,
    }


def _frames(intervals: np.ndarray, prefix: str) -> dict[str, Any]:
    return {f"{prefix}_frames": int(len(intervals)),
            f"{prefix}_frame_p50_ms": float(np.percentile(intervals, 50)),
            f"{prefix}_frame_p95_ms": float(np.percentile(intervals, 95)),
            f"{prefix}_frame_max_ms": float(intervals.max()),
            f"{prefix}_dropped_frames": int((intervals > 1.5 * FRAME_MS).sum())}


def bench_table(browser: Any, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Scroll the runs table of the 1,000-run project: at a brisk constant speed (``table_``)
    and top to bottom and back in the same time (``table_sweep_``, every frame new rows)."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    page.set_content("<div style='height:5000px'>idle</div>")
    idle = np.diff(page.evaluate(IDLE_FRAMES, 1000))
    page.goto(f"{url}/p/{TABLE_PROJECT}")
    sel = '[data-testid="runs-scroll"]'
    try:
        page.wait_for_selector(sel, timeout=30_000)
    except Exception:  # an older build: the table's own scroll container
        sel = '[data-testid="runs-table"]'
        page.wait_for_selector(sel, timeout=30_000)
    # every run loaded: the table's scroll height stops growing
    last, stable = -1, 0
    for _ in range(300):
        h = page.evaluate(f"() => document.querySelector('{sel}').scrollHeight")
        stable = stable + 1 if h == last else 0
        last = h
        if stable >= 6:
            break
        time.sleep(0.1)
    # The charts of the same page (1,000 runs each) must be drawn first: this measures the
    # table, not the chart panels still loading behind it.
    try:
        page.wait_for_function(
            "() => { const p = [...document.querySelectorAll('[data-testid^=\"panel-\"]')];"
            " return p.length > 0 && p.every(e => e.dataset.state !== 'loading'); }",
            timeout=60_000)
    except Exception:  # noqa: BLE001 - panels off screen stay "loading" (lazy): go on
        pass
    page.wait_for_timeout(1000)
    page.evaluate(SCROLL, [sel, 1000, 0])  # warm-up (JIT, first paint of every row kind)
    page.wait_for_timeout(500)
    out: dict[str, Any] = {"idle_frame_p50_ms": float(np.percentile(idle, 50))}
    for prefix, speed in (("table", args.scroll_speed), ("table_sweep", 0)):
        runs = []
        for _ in range(args.repeat):
            runs.append(page.evaluate(SCROLL, [sel, args.scroll_ms, speed]))
            page.wait_for_timeout(300)
        out.update(_frames(np.concatenate([np.diff(r["times"]) for r in runs]), prefix))
    out["table_scroll_px"] = runs[0]["max"]
    out["table_rows_in_dom"] = page.evaluate(
        f"() => document.querySelector('{sel}').querySelectorAll('tr, [role=row]').length")
    ctx.close()
    return out


def bench_browser(url: str, args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                     args=CHROMIUM_FLAGS)
        try:
            out.update(bench_first_charts(browser, url, args))
            out.update(bench_zoom(browser, url, args))
            out.update(bench_table(browser, url, args))
        finally:
            browser.close()
    return out


# ----------------------------------------------------------------------------------------------

TARGETS = [("visible_panels_ms", "<= 1500 ms", lambda v: v <= 1500),
           ("zoom_ms_max", "<= 300 ms", lambda v: v <= 300),
           ("table_dropped_frames", "0", lambda v: v == 0)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--metrics", type=int, default=10, choices=range(1, len(KEYS) + 1))
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--table-runs", type=int, default=1000)
    parser.add_argument("--cache", default=None, help="folder for generated stores")
    parser.add_argument("--regen", action="store_true", help="generate the store again")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server-repeat", type=int, default=5)
    parser.add_argument("--zooms", type=int, default=4)
    parser.add_argument("--scroll-ms", type=int, default=2000)
    parser.add_argument("--scroll-speed", type=int, default=3000,
                        help="px/s of the constant-speed table scroll (a brisk wheel fling)")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = ensure_data(args)
    shape = json.loads((home / "shape.json").read_text())
    result: dict[str, Any] = {"points": shape["points"], "runs": args.runs,
                              "steps": args.steps, "table_runs": args.table_runs,
                              "ui_dir": os.environ.get("KISEKI_UI_DIR") or "(package static)"}
    with running_server(str(home)) as url:
        result.update(bench_server(url, args))
        if not args.no_browser:
            result.update(bench_browser(url, args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"ui-{stamp}.json").write_text(json.dumps({**result, "shape": shape}, indent=1))
    if args.json:
        report(result, True)
        return
    report(result, False)
    print("\ntarget                 measured      goal")
    for name, goal, ok in TARGETS:
        value = result.get(name)
        verdict = "n/a" if value is None else ("ok" if ok(value) else "MISSED")
        shown = "-" if value is None else (f"{value:.0f}" if isinstance(value, float) else value)
        print(f"{name:<22} {shown:<13} {goal:<11} {verdict}")


if __name__ == "__main__":
    main()
