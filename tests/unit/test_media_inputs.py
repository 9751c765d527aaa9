"""Bad media input: a clear warning naming the problem, never an exception in the training loop;
what can be kept is kept. Runs the real SDK on the embedded store in this process."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import kiseki
from kiseki.core.errors import ValidationError
from kiseki.core.tablefilter import compile_filter


def _history(run_id: str, key: str) -> list[dict]:
    with kiseki.Api() as api:
        return list(api.run(f"inputs/{run_id}").scan_history(keys=[key]))


def _stored(run_id: str, key: str) -> dict:
    with kiseki.Api() as api:
        backend = api._backend
        return backend.store.get_media("inputs", run_id, key)  # type: ignore[attr-defined]


def test_bad_images_warn_and_never_raise(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    img = np.zeros((32, 48, 3), dtype=np.uint8)
    with kiseki.init(project="inputs", dir=str(tmp_path)) as run:
        # each of these would crash a naive logger; here: a warning, and the loop goes on
        run.log({"huge": kiseki.Image(np.zeros((7000, 7000), dtype=np.uint8)), "loss": 1.0})
        run.log({"complex": kiseki.Image(np.zeros((4, 4), dtype=np.complex64)), "loss": 2.0})
        run.log({"not_an_image": kiseki.Image({"a": 1}), "loss": 3.0})
        run.log({"shape": kiseki.Image(np.zeros((4, 4, 7), dtype=np.uint8))})
        run.log({"masked": kiseki.Image(img, masks={
            "wrong_size": {"mask_data": np.zeros((10, 10), dtype=np.int32)},
            "unknown_ids": {"mask_data": np.full((32, 48), 5, dtype=np.int32),
                            "class_labels": {0: "background"}},
            "negative": {"mask_data": np.full((32, 48), -1, dtype=np.int32)}},
            boxes={"b": {"box_data": [
                {"position": {"minX": 30, "maxX": 10, "minY": 0, "maxY": 5}, "domain": "pixel",
                 "class_id": 1},
                {"position": {"minX": -5, "maxX": 60, "minY": 0, "maxY": 5}, "domain": "pixel",
                 "class_id": 1, "scores": {"confidence": math.nan}},
                {"position": {"middle": [0.5, 0.5], "width": 0.5, "height": 0.5},
                 "class_id": 9}], "class_labels": {1: "car"}}})})
        run.log({"float_range": kiseki.Image(np.full((4, 4), 3.5))})
    err = capfd.readouterr().err
    assert "7000x7000 pixels is over the limit" in err
    assert "dtype complex64 is not supported" in err
    assert "Image() takes a numpy array, a PIL image, a torch tensor or a path, got dict" in err
    assert "(4, 4, 7) has no 1, 3 or 4 channel axis" in err
    assert "mask layer 'wrong_size' is 10x10" in err and "the image is 48x32" in err
    assert "mask layer 'unknown_ids' has class ids [5] not in class_labels" in err
    assert "mask layer 'negative' has class ids from -1" in err
    assert "box 0 has min > max" in err
    assert "1 box(es) extend outside the 48x32 image" in err
    assert "NaN or non-numeric scores" in err
    assert "box layer 'b' has class ids [9] not in class_labels" in err

    assert [r["loss"] for r in _history(run.id, "loss")] == [1.0, 2.0, 3.0]
    assert _history(run.id, "huge") == []  # refused values are not stored at all
    masked = _stored(run.id, "masked")["items"][0]
    assert masked["state"] == "stored"
    desc = masked["data"]
    assert sorted(desc["masks"]) == ["unknown_ids"]  # the broken layers were dropped
    rects = desc["boxes"]["b"]["rects"]
    assert rects[0] is None and rects[1] == [0.0, 0.0, 48.0, 5.0]
    assert rects[2] == [12.0, 8.0, 36.0, 24.0]
    assert any("min > max" in w for w in masked["warnings"])
    image = _history(run.id, "masked")[0]["masked"]
    assert math.isnan(image.boxes["b"]["box_data"][1]["scores"]["confidence"])
    clipped = _history(run.id, "float_range")[0]["float_range"].to_numpy()
    assert (clipped == 4).all()  # 3.5 read on the 0-255 scale, rounded
    assert "float pixels above 1" in err


def test_bad_tables_and_histograms_warn(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    table = kiseki.Table(columns=["a", "b"])
    table.add_data(1)  # ragged: padded
    table.add_data(2, "x", "extra")  # ragged: cut
    table.add_data("three", 3.0)  # mixed column type
    with pytest.raises(ValidationError, match="has 1 values for 3 rows"):
        table.add_column("c", [1])
    with kiseki.init(project="inputs", dir=str(tmp_path)) as run:
        run.log({"t": table, "h": kiseki.Histogram([math.nan, math.inf]),
                 "edges": kiseki.Histogram(np_histogram=([1, 2], [0.0, 1.0])), "x": 1.0})
    err = capfd.readouterr().err
    assert "table row 0 has 1 cells for 2 columns" in err
    assert "table row 1 has 3 cells for 2 columns" in err
    assert "table column 'a' mixes ['number', 'string']" in err
    assert "Histogram() got no finite values" in err
    assert "np_histogram has 2 counts and 2 edges" in err
    stored = _history(run.id, "t")[0]["t"]
    assert stored.data == [[1, None], [2, "x"], ["three", 3.0]]


def test_log_keeps_a_snapshot_of_table_rows(tmp_path: Path) -> None:
    table = kiseki.Table(columns=["i"])
    with kiseki.init(project="inputs", dir=str(tmp_path)) as run:
        table.add_data(1)
        run.log({"t": table})
        table.add_data(2)  # a later row does not change what was logged at step 0
        run.log({"t": table})
    rows = _history(run.id, "t")
    assert [r["t"].data for r in rows] == [[[1]], [[1], [2]]]


@pytest.mark.parametrize("text, expected", [
    ('"bicycle" in gt.classes', [0, 2]),
    ('"bicycle" in gt.classes and iou < 0.5', [0]),
    ("not iou >= 0.5", [0, 1]),
    ('name ~ "CAT"', [1]),
    ("iou != 0.25", [1, 2, 3]),
    ("name in ['dog', 'cat']", [1, 3]),
    ("`odd col` = true", [1, 3]),
    ("img.classes = null", []),
    ('3 in gt.class_ids || iou > 0.8', [2, 3]),
])
def test_table_filter_semantics(text: str, expected: list[int]) -> None:
    def image(classes: dict[str, int]) -> dict:
        return {"_type": "image", "masks": {"gt": {"class_labels": {"1": "bicycle", "3": "cat"},
                                                   "class_counts": classes}}}
    rows = [[0.25, "a-bird", image({"1": 10}), False],
            [0.3, "cat", image({"0": 5}), True],
            [0.6, "x", image({"1": 4, "3": 2}), False],
            [0.9, "dog", image({}), True]]
    pred = compile_filter(text, ["iou", "name", "img", "odd col"], {"img": ["gt"]})
    assert pred is not None
    assert [i for i, row in enumerate(rows) if pred(row)] == expected


@pytest.mark.parametrize("text, message", [
    ("iou <", "syntax error"),
    ("nosuch = 1", "no column 'nosuch'"),
    ("iou < true", "needs a number or a text"),
    ("iou", "syntax error at column 1"),
    (" or ".join(["iou < 1"] * 300), "more than 200 parts"),
])
def test_table_filter_errors(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        compile_filter(text, ["iou"], {})


def test_values_numpy_cannot_bin_warn_instead_of_raising(tmp_path: Path,
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    hist = kiseki.Histogram([-1e308, 1e308])  # np.histogram overflows on this range
    table = kiseki.Table(columns=["a"], data=[1, 2])  # rows that are not lists
    with kiseki.init(project="inputs", dir=str(tmp_path)) as run:
        run.log({"h": hist, "t": table, "x": 1.0})
    err = capfd.readouterr().err
    assert "cannot bin these values" in err
    assert "table row 0 is a int, not a list of cells" in err
    assert _history(run.id, "t")[0]["t"].data == [[1], [2]]


def test_one_log_call_is_one_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step's metrics and its media references go to the run log with one write (what a
    SIGKILL right after log() returns finds there); the pixels follow on the encoder thread."""
    import threading

    from kiseki.sdk import runlog

    writes: list[int] = []
    training_thread = threading.get_ident()
    real_write = runlog.os.write
    img = np.arange(24 * 32 * 3, dtype=np.uint8).reshape(24, 32, 3)
    quiet = {f"capture_{c}": False for c in ("git", "code", "packages", "hardware", "console",
                                               "system_metrics")}
    with kiseki.init(project="inputs", dir=str(tmp_path), settings=quiet) as run:
        run.log({"warm-up": 1.0})  # nothing else writes to the run log while log() runs
        fd = run._writer._fd  # type: ignore[union-attr]

        def counting(target: int, data: bytes) -> int:
            if target == fd and threading.get_ident() == training_thread:
                writes.append(len(data))
            return real_write(target, data)

        monkeypatch.setattr(runlog.os, "write", counting)
        run.log({"loss": 0.5, "img": kiseki.Image(img),
                 "h": kiseki.Histogram([1.0, 2.0, 2.5])})
        monkeypatch.setattr(runlog.os, "write", real_write)
        assert len(writes) == 1
    row = _history(run.id, "img")[0]
    assert row["_step"] == 1
    assert np.array_equal(row["img"].to_numpy(), img)
    with kiseki.Api() as api:
        full = list(api.run(f"inputs/{run.id}").scan_history())[1]
    assert full["loss"] == 0.5 and sum(full["h"].histogram) == 3


def test_several_encoder_threads_store_every_image(tmp_path: Path) -> None:
    import threading

    images = [np.full((16, 16, 3), i, dtype=np.uint8) for i in range(24)]
    masks = [np.eye(16, dtype=np.int64) * (i % 3) for i in range(24)]
    labels = {0: "bg", 1: "a", 2: "b"}
    with kiseki.init(project="inputs", dir=str(tmp_path),
                     settings={"media_encoder_threads": 3}) as run:
        for i in range(24):
            run.log({"img": kiseki.Image(images[i], masks={
                "p": {"mask_data": masks[i], "class_labels": labels}})})
        names = {t.name for t in threading.enumerate()}
        assert {"kiseki-media", "kiseki-media-1", "kiseki-media-2"} <= names
    rows = _history(run.id, "img")
    assert [r["_step"] for r in rows] == list(range(24))
    for i, row in enumerate(rows):
        assert np.array_equal(row["img"].to_numpy(), images[i])
        assert np.array_equal(row["img"].masks["p"]["mask_data"], masks[i])

    # the same pixels under several keys and steps: threads store one blob at the same time
    same = np.random.default_rng(0).integers(0, 256, (384, 384, 3), dtype=np.uint8)
    with kiseki.init(project="inputs", dir=str(tmp_path),
                     settings={"media_encoder_threads": 4}) as run:
        for _ in range(6):
            run.log({k: kiseki.Image(same) for k in ("a", "b", "c", "d")})
    with kiseki.Api() as api:
        rows = list(api.run(f"inputs/{run.id}").scan_history(keys=["a", "b", "c", "d"]))
    assert len(rows) == 6
    assert all(np.array_equal(r[k].to_numpy(), same) for r in rows for k in "abcd")


def test_encoder_threads_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from kiseki.core.errors import UsageError
    from kiseki.sdk.settings import load_settings

    monkeypatch.setenv("KISEKI_MEDIA_ENCODER_THREADS", "2")
    assert load_settings().media_encoder_threads == 2
    monkeypatch.setenv("KISEKI_MEDIA_ENCODER_THREADS", "two")
    with pytest.raises(UsageError, match="KISEKI_MEDIA_ENCODER_THREADS must be a whole number"):
        load_settings()
    monkeypatch.delenv("KISEKI_MEDIA_ENCODER_THREADS")
    assert load_settings({"media_encoder_threads": "3"}).media_encoder_threads == 3
    for bad in ("x", -1, 500):
        with pytest.raises(UsageError, match="media_encoder_threads must be"):
            load_settings({"media_encoder_threads": bad})


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (7, 1), (33, 64), (2, 3, 1), (31, 17, 3),
                                   (64, 48, 4)])
def test_png_encoding_is_lossless_for_every_layout(shape: tuple[int, ...]) -> None:
    import io

    from PIL import Image as PILImage

    from kiseki.sdk.media import _png

    pixels = np.random.default_rng(len(shape) * 100 + shape[0]).integers(
        0, 256, size=shape, dtype=np.uint8)
    payload = _png(pixels)
    with PILImage.open(io.BytesIO(payload)) as check:
        check.verify()  # chunk CRCs and structure
    with PILImage.open(io.BytesIO(payload)) as image:
        assert image.mode == {1: "L", 3: "RGB", 4: "RGBA"}[shape[2] if len(shape) == 3 else 1]
        assert np.array_equal(np.asarray(image), pixels.reshape(image.height, image.width, -1)
                              .squeeze(axis=2) if image.mode == "L" else pixels)
