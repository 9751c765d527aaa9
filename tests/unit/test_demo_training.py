"""The demo content: real trainings that learn, one planned failure, a live run that stops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kiseki
from kiseki.demo import CLASSES, make_dataset, populate, start_live_run
from kiseki.demo.segmenter import DIVERGENCE_LOSS, mean_iou, per_class_iou

PROJECT = "shapes-demo"


def fast_settings(tmp_path: Path) -> dict[str, Any]:
    return {"root_dir": str(tmp_path / "home"), "capture_console": False,
            "capture_system_metrics": False}


def column(run: Any, key: str) -> list[float]:
    return [row[key] for row in run.scan_history(keys=[key])]


def test_make_dataset_is_deterministic_and_draws_every_class() -> None:
    images, masks = make_dataset(16, size=32, seed=3)
    again, again_masks = make_dataset(16, size=32, seed=3)
    other, _ = make_dataset(16, size=32, seed=4)

    assert images.shape == (16, 32, 32, 3) and masks.shape == (16, 32, 32)
    assert np.array_equal(images, again) and np.array_equal(masks, again_masks)
    assert not np.array_equal(images, other)
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert set(np.unique(masks)) == set(range(len(CLASSES)))


def test_iou_counts_overlap_per_class_and_skips_absent_classes() -> None:
    target = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])

    iou = per_class_iou(pred, target, num_classes=4)

    assert iou[:3] == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert np.isnan(iou[3])  # triangle in neither: no IoU, and no drag on the mean
    assert mean_iou(iou) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)


def test_populate_logs_real_trainings_and_one_planned_failure(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path)
    progress: list[tuple[int, int]] = []

    ids = populate(PROJECT, settings=settings, runs=4, steps_scale=0.2, dir=str(tmp_path),
                   echo=False, on_progress=lambda done, total, _msg: progress.append((done, total)))

    with kiseki.Api(settings={"root_dir": settings["root_dir"]}) as api:
        runs = {r.id: r for r in api.runs(PROJECT)}
        # prepare-data, 4 trainings, the diverging one, evaluate-best
        assert sorted(runs) == sorted(ids) and len(ids) == 7
        assert progress == [(i, 7) for i in range(1, 8)]
        assert [runs[i].job_type for i in ids] == ["data"] + ["train"] * 5 + ["eval"]
        failed = [r for r in runs.values() if r.state == "failed"]
        assert len(failed) == 1
        assert "TrainingDivergedError" in failed[0].error and "too high" in failed[0].error
        assert column(failed[0], "train/loss")[-1] > DIVERGENCE_LOSS  # the spike is on the chart
        assert {r.state for r in runs.values() if r is not failed[0]} == {"finished"}

        best = max((r for r in runs.values() if r.state == "finished" and r.job_type == "train"),
                   key=lambda r: r.summary["val/miou"])
        miou = column(best, "val/miou")
        loss = column(best, "train/loss")
        assert len(miou) == best.config["epochs"] + 1  # epoch 0 is the untrained model
        assert miou[-1] > miou[0] + 0.3  # learned well beyond chance
        assert best.summary["val/miou"] == pytest.approx(max(miou))  # define_metric max
        assert np.mean(loss[-10:]) < 0.5 * np.mean(loss[:10])
        assert {"lr", "hidden", "batch_size", "epochs", "seed", "weight_decay", "patch",
                "train_images", "model"} <= set(best.config)
        assert best.group == f"mlp-{best.config['patch']}x{best.config['patch']}"

        # lineage: dataset -> trainings -> checkpoints -> evaluation -> predictions, registry
        dataset = api.artifact(f"{PROJECT}/shapes-dataset:latest")
        assert dataset.logged_by().id == ids[0]
        assert {r.id for r in dataset.used_by()} == set(ids[1:5]) | {ids[5], ids[6]}
        model = api.artifact(f"{PROJECT}/shapes-segmenter:best")
        finished = [runs[i] for i in ids[1:5]]
        scores = {r.name: a.metadata["val/miou"] for r in finished for a in r.logged_artifacts()}
        assert model.metadata["val/miou"] == max(scores.values())
        assert [r.id for r in model.used_by()] == [ids[6]]
        evaluation = runs[ids[6]]
        assert [a.name for a in evaluation.logged_artifacts()] == ["val-predictions"]
        registry = api.registry("shapes-segmenter")
        assert set(registry.aliases) == {"latest", "production", "staging"}
        production = next(v for v in registry.versions
                          if v.registry_aliases and "production" in v.registry_aliases)
        assert production.version == model.version
        # media: predictions with overlays at every evaluation, the table at the end
        examples = next(best.scan_history(keys=["val/examples"]))["val/examples"]
        assert len(examples) == 4 and set(examples[0].masks) == {"ground_truth", "predictions"}
        table = next(evaluation.scan_history(keys=["val/predictions"]))["val/predictions"]
        assert len(table.data) == 32 and table.columns[:3] == ["id", "image", "miou"]


def test_live_run_keeps_logging_until_its_time_is_up(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path)

    live = start_live_run(PROJECT, settings, seconds=0.5, step_interval=0.01,
                          steps_per_epoch=5, dir=str(tmp_path), echo=False)
    live.join(timeout=30)

    assert not live.is_alive()
    with kiseki.Api(settings={"root_dir": settings["root_dir"]}) as api:
        run = api.run(f"{PROJECT}/{live.run_id}")
        assert run.state == "finished"
        assert len(column(run, "train/loss")) >= 5
        assert len(column(run, "val/miou")) >= 2


def test_live_run_stop_finishes_the_run_at_once(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path)

    live = start_live_run(PROJECT, settings, seconds=600, step_interval=0.5, dir=str(tmp_path),
                          echo=False)
    live.stop(timeout=30)

    assert not live.is_alive()
    with kiseki.Api(settings={"root_dir": settings["root_dir"]}) as api:
        assert api.run(f"{PROJECT}/{live.run_id}").state == "finished"
