"""Rich media end to end: a script logs images (masks, boxes), galleries, tables and histograms
with the real SDK; the real server (SQLite and PostgreSQL) or the embedded store keeps them;
the read API gives back exactly what was logged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

import kiseki
from tests.conftest import ServerProcess, run_script

SCRIPT = r"""
import os, numpy as np, kiseki
from PIL import Image as PILImage

rng = np.random.default_rng(7)
rgb = rng.integers(0, 256, size=(40, 60, 3), dtype=np.uint8)
rgba = rng.integers(0, 256, size=(20, 30, 4), dtype=np.uint8)
grey_float = rng.random((16, 24))
mask = np.zeros((40, 60), dtype=np.int64); mask[5:15, 10:30] = 1; mask[20:30, 40:50] = 2
wide = (rng.integers(0, 70000, size=(40, 60))).astype(np.int64)
boxes = {"predictions": {"box_data": [
    {"position": {"minX": 2, "maxX": 20, "minY": 3, "maxY": 18}, "domain": "pixel",
     "class_id": 1, "box_caption": "bike 0.9", "scores": {"confidence": 0.9}},
    {"position": {"middle": [0.5, 0.5], "width": 0.2, "height": 0.4}, "class_id": 2,
     "scores": {"confidence": 0.4, "iou": 0.7}}],
    "class_labels": {1: "bicycle", 2: "car"}}}
PILImage.fromarray(rgb).save("on_disk.png")
np.savez("expected.npz", rgb=rgb, rgba=rgba, grey_float=grey_float, mask=mask, wide=wide)

with kiseki.init(project="media", name="media-run") as run:
    run.log({"seg": kiseki.Image(rgb, caption="step 0", boxes=boxes, masks={
        "ground_truth": {"mask_data": mask, "class_labels": {0: "background", 1: "bicycle",
                                                              2: "car"}},
        "wide": {"mask_data": wide, "class_labels": {}}}), "loss": 0.5})
    run.log({"seg": kiseki.Image(rgba, caption="step 1"), "loss": 0.25,
             "grey": kiseki.Image(grey_float), "file": kiseki.Image("on_disk.png"),
             "pil": kiseki.Image(PILImage.fromarray(rgb)),
             "gallery": [kiseki.Image(rgb), kiseki.Image(rgba, caption="second")]})
    table = kiseki.Table(columns=["id", "image", "iou", "label", "dist"])
    for i in range(30):
        m = np.zeros((8, 8), dtype=np.uint8)
        if i % 3 == 0:
            m[2:4, 2:4] = 1  # a bicycle in every third image
        table.add_data(i, kiseki.Image(rgb[:8, :8], masks={"ground_truth": {
            "mask_data": m, "class_labels": {0: "background", 1: "bicycle"}}}),
            i / 30, "even" if i % 2 == 0 else "odd",
            kiseki.Histogram(np_histogram=([i, 1], [0.0, 0.5, 1.0])))
    run.log({"preds": table})
    for step in range(3):
        run.log({"weights": kiseki.Histogram(rng.normal(step, 1.0, 1000), num_bins=16)})
print("RUN_ID", run.id)
"""


def _run_id(stdout: str) -> str:
    return next(line.split()[1] for line in stdout.splitlines() if line.startswith("RUN_ID"))


def _check_round_trip(api: kiseki.Api, run_id: str, tmp_path: Path) -> None:
    exp = np.load(tmp_path / "expected.npz")
    run = api.run(f"media/{run_id}")
    rows = list(run.scan_history(keys=["seg", "loss"]))
    assert [r["_step"] for r in rows] == [0, 1]
    assert rows[0]["loss"] == 0.5
    seg = rows[0]["seg"]
    assert isinstance(seg, kiseki.Image) and seg.state == "stored"
    assert (seg.width, seg.height, seg.caption) == (60, 40, "step 0")
    assert np.array_equal(seg.to_numpy(), exp["rgb"])
    gt = seg.masks["ground_truth"]
    assert np.array_equal(gt["mask_data"], exp["mask"])
    assert gt["class_labels"] == {0: "background", 1: "bicycle", 2: "car"}
    assert np.array_equal(seg.masks["wide"]["mask_data"], exp["wide"])  # ids above 255
    box_data = seg.boxes["predictions"]["box_data"]
    assert box_data[0]["position"] == {"minX": 2, "maxX": 20, "minY": 3, "maxY": 18}
    assert box_data[1]["position"] == {"middle": [0.5, 0.5], "width": 0.2, "height": 0.4}
    assert box_data[0]["scores"] == {"confidence": 0.9} and box_data[0]["box_caption"] == "bike 0.9"
    assert seg.boxes["predictions"]["class_labels"] == {1: "bicycle", 2: "car"}
    assert np.array_equal(rows[1]["seg"].to_numpy(), exp["rgba"])

    step1 = next(run.scan_history(keys=["grey", "file", "pil", "gallery"]))
    grey = step1["grey"].to_numpy()
    assert grey.shape == (16, 24)
    assert np.array_equal(grey, np.rint(exp["grey_float"] * 255).astype(np.uint8))
    assert np.array_equal(step1["file"].to_numpy(), exp["rgb"])
    assert np.array_equal(step1["pil"].to_numpy(), exp["rgb"])
    gallery = step1["gallery"]
    assert [g.caption for g in gallery] == [None, "second"]
    assert np.array_equal(gallery[1].to_numpy(), exp["rgba"])

    table = next(run.scan_history(keys=["preds"]))["preds"]
    assert isinstance(table, kiseki.Table)
    assert table.columns == ["id", "image", "iou", "label", "dist"]
    frame = table.get_dataframe()
    assert list(frame["id"]) == list(range(30))
    assert list(frame["iou"]) == [i / 30 for i in range(30)]
    cell = table.data[3][1]
    assert cell.masks["ground_truth"]["mask_data"][2, 2] == 1
    assert table.data[4][4].histogram == [4.0, 1.0]

    hist_rows = list(run.scan_history(keys=["weights"]))
    assert len(hist_rows) == 3
    hist = hist_rows[2]["weights"]
    assert isinstance(hist, kiseki.Histogram) and sum(hist.histogram) == 1000
    assert len(hist.bins) == 17


def test_media_round_trip_through_server(tmp_path: Path, any_server: ServerProcess) -> None:
    proc = run_script(SCRIPT, tmp_path, env={"KISEKI_BASE_URL": any_server.url})
    run_id = _run_id(proc.stdout)
    api = kiseki.Api(settings={"base_url": any_server.url})
    try:
        _check_round_trip(api, run_id, tmp_path)
    finally:
        api.close()
    base = f"{any_server.url}/api/v1/projects/media"
    keys = httpx.get(f"{base}/media/keys").json()["keys"]
    assert {(k["key"], k["kind"]) for k in keys} == {
        ("seg", "image"), ("grey", "image"), ("file", "image"), ("pil", "image"),
        ("gallery", "images"), ("preds", "table"), ("weights", "histogram")}
    at = httpx.get(f"{base}/runs/{run_id}/media", params={"key": "seg", "step": 0}).json()
    assert at["steps"] == [0, 1] and at["step"] == 0
    desc = at["items"][0]["data"]
    assert desc["masks"]["ground_truth"]["class_counts"] == {"0": 2400 - 200 - 100, "1": 200,
                                                             "2": 100}
    assert desc["boxes"]["predictions"]["rects"][1] == [24.0, 12.0, 36.0, 28.0]
    blob = httpx.get(f"{base}/blobs/{desc['sha256']}")
    assert blob.status_code == 200 and blob.headers["content-type"] == "image/png"
    assert blob.headers["x-content-type-options"] == "nosniff"
    hist = httpx.get(f"{base}/runs/{run_id}/histograms", params={"key": "weights"}).json()
    assert hist["steps"] == [3, 4, 5] and [sum(c) for c in hist["counts"]] == [1000] * 3


def test_media_round_trip_embedded(tmp_path: Path) -> None:
    proc = run_script(SCRIPT, tmp_path)
    api = kiseki.Api()
    try:
        _check_round_trip(api, _run_id(proc.stdout), tmp_path)
    finally:
        api.close()


TABLE_SCRIPT = r"""
import numpy as np, kiseki
table = kiseki.Table(columns=["id", "image", "iou", "split"])
for i in range(200):
    gt = np.zeros((6, 6), dtype=np.uint8)
    if i % 4 == 0:
        gt[0:2, 0:2] = 3                      # bicycle
    if i % 5 == 0:
        gt[3:5, 3:5] = 7                      # person
    pred_boxes = [{"position": {"minX": 0, "maxX": 2, "minY": 0, "maxY": 2}, "domain": "pixel",
                   "class_id": 7, "scores": {"confidence": 0.5}}] if i % 7 == 0 else []
    image = kiseki.Image(np.full((6, 6, 3), i % 256, dtype=np.uint8),
        masks={"ground_truth": {"mask_data": gt,
                                "class_labels": {0: "background", 3: "bicycle", 7: "person"}}},
        boxes={"predictions": {"box_data": pred_boxes, "class_labels": {7: "person"}}})
    table.add_data(i, image, (i * 37 % 100) / 100, "val" if i % 2 else "train")
with kiseki.init(project="tables") as run:
    run.log({"eval": table})
print("RUN_ID", run.id)
"""


def test_table_filter_sort_group_pages(tmp_path: Path, server: ServerProcess) -> None:
    proc = run_script(TABLE_SCRIPT, tmp_path, env={"KISEKI_BASE_URL": server.url})
    url = f"{server.url}/api/v1/projects/tables/runs/{_run_id(proc.stdout)}/table"

    def page(**params: object) -> dict:
        resp = httpx.get(url, params={"key": "eval", **params})
        assert resp.status_code == 200, resp.text
        return resp.json()

    iou = {i: (i * 37 % 100) / 100 for i in range(200)}
    expected = [i for i in range(200) if i % 4 == 0 and iou[i] < 0.5]
    got = page(filter='"bicycle" in ground_truth.classes and iou < 0.5', limit=1000)
    assert got["total"] == len(expected) and got["rows_total"] == 200
    assert [r["cells"][0] for r in got["rows"]] == expected
    # box classes and explicit image column; not; membership lists
    got = page(filter='"person" in image.predictions.classes and not split = "train"', limit=1000)
    assert [r["cells"][0] for r in got["rows"]] == [i for i in range(200) if i % 7 == 0 and i % 2]
    got = page(filter="id in [3, 5, 8] or id >= 198", limit=1000)
    assert [r["cells"][0] for r in got["rows"]] == [3, 5, 8, 198, 199]
    # sort descending by iou, paginated
    first = page(sort="iou", desc="true", limit=10)
    second = page(sort="iou", desc="true", limit=10, offset=10)
    ordered = sorted(range(200), key=lambda i: -iou[i])
    got_ids = [r["cells"][0] for r in first["rows"] + second["rows"]]
    assert [iou[i] for i in got_ids] == [iou[i] for i in ordered[:20]]
    assert first["types"] == {"id": "number", "image": "image", "iou": "number",
                              "split": "string"}
    # groups with counts and means
    groups = {g["value"]: g for g in page(group="split")["groups"]}
    assert groups["train"]["count"] == 100 and groups["val"]["count"] == 100
    mean_train = sum(iou[i] for i in range(0, 200, 2)) / 100
    assert groups["train"]["means"]["iou"] == pytest.approx(mean_train)
    # a bad expression: 400 naming the problem; nothing breaks
    bad = httpx.get(url, params={"key": "eval", "filter": "nosuch > 1"})
    assert bad.status_code == 400 and "no column 'nosuch'" in bad.json()["detail"]
    bad = httpx.get(url, params={"key": "eval", "filter": "iou <"})
    assert bad.status_code == 400 and "syntax error" in bad.json()["detail"]


def test_blobs_are_verified_and_scoped_to_their_project(tmp_path: Path,
                                                        server: ServerProcess) -> None:
    run_script("""
import numpy as np, kiseki
with kiseki.init(project="alpha") as run:
    run.log({"img": kiseki.Image(np.zeros((4, 4, 3), dtype=np.uint8))})
with kiseki.init(project="beta") as run:
    run.log({"x": 1.0})
""", tmp_path, env={"KISEKI_BASE_URL": server.url})
    alpha = httpx.get(f"{server.url}/api/v1/projects/alpha/media/keys").json()
    assert alpha["keys"][0]["key"] == "img"
    runs = httpx.get(f"{server.url}/api/v1/projects/alpha/runs").json()["items"]
    desc = httpx.get(f"{server.url}/api/v1/projects/alpha/runs/{runs[0]['id']}/media",
                     params={"key": "img"}).json()["items"][0]["data"]
    sha = desc["sha256"]
    assert httpx.get(f"{server.url}/api/v1/projects/alpha/blobs/{sha}").status_code == 200
    assert httpx.get(f"{server.url}/api/v1/projects/beta/blobs/{sha}").status_code == 404
    bad = httpx.put(f"{server.url}/api/v1/blobs/{'0' * 64}", content=b"not matching")
    assert bad.status_code == 400 and "sha256" in bad.json()["detail"]
    bad = httpx.put(f"{server.url}/api/v1/blobs/..%2F..%2Fetc%2Fpasswd", content=b"x")
    assert bad.status_code in (400, 404, 405)  # never reaches storage
    bad = httpx.put(f"{server.url}/api/v1/blobs/{'A' * 64}", content=b"x")
    assert bad.status_code == 400 and "not a lowercase hex sha256" in bad.json()["detail"]


CRASH_SCRIPT = r"""
import os, signal, time, numpy as np, kiseki
from kiseki.sdk import media

real = media.encode_image
def slow(image, blobs):
    if image.caption == "never":
        time.sleep(60)
    return real(image, blobs)
media.encode_image = slow

run = kiseki.init(project="crash", mode="offline")
img = np.zeros((8, 8, 3), dtype=np.uint8)
run.log({"img": kiseki.Image(img, caption="kept"), "loss": 1.0})
deadline = time.time() + 20
while time.time() < deadline:  # wait until the first image is stored
    folder = os.path.join(run.dir, "media")
    if os.path.isdir(folder) and os.listdir(folder):
        break
    time.sleep(0.05)
time.sleep(0.5)
run.log({"img": kiseki.Image(img, caption="never"), "loss": 2.0})
for step in range(100):
    run.log({"loss": float(step)})
print("RUN_ID", run.id, run.dir, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_crash_while_encoding_reports_missing_never_fails_sync(tmp_path: Path,
                                                               server: ServerProcess) -> None:
    proc = run_script(CRASH_SCRIPT, tmp_path, check=False)
    assert proc.returncode == -signal.SIGKILL
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RUN_ID"))
    _, run_id, run_dir = line.split()
    env = {**os.environ, "KISEKI_BASE_URL": server.url}
    sync = subprocess.run([sys.executable, "-m", "kiseki", "sync", run_dir], capture_output=True,
                          text=True, env=env, timeout=120)
    assert sync.returncode == 0, sync.stderr
    assert "1 media value(s) missing" in sync.stdout
    api = kiseki.Api(settings={"base_url": server.url})
    try:
        run = api.run(f"crash/{run_id}")
        losses = [r["loss"] for r in run.scan_history(keys=["loss"])]
        assert losses == [1.0, 2.0] + [float(s) for s in range(100)]  # scalars: all there
        images = [r["img"] for r in run.scan_history(keys=["img"])]
        assert [i.state for i in images] == ["stored", "missing"]
        assert images[0].to_numpy().shape == (8, 8, 3)
        with pytest.raises(kiseki.NotFoundError, match="process ended"):
            images[1].to_numpy()
    finally:
        api.close()
    media = httpx.get(f"{server.url}/api/v1/projects/crash/runs/{run_id}/media",
                      params={"key": "img"}).json()
    assert media["items"][0]["state"] == "missing"
    assert "process ended" in media["items"][0]["error"]
