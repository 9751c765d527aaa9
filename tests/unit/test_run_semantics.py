"""wandb's step/commit semantics, flattening, config and summary, read back from the run log."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import kiseki
from kiseki.core import records as rec
from kiseki.sdk.runlog import RunLogReader


def _offline(tmp_path: Path, **kw: object) -> kiseki.Run:
    return kiseki.init(project="sem", dir=str(tmp_path), mode="offline",
                       settings={"capture_console": False, "capture_system_metrics": False},
                       **kw)


def _metrics(run: kiseki.Run) -> list[tuple[int, dict[str, float]]]:
    assert run.log_path is not None
    return [(e.record.step, e.record.values) for e in RunLogReader(run.log_path).read_all()
            if isinstance(e.record, rec.Metrics)]


def test_step_and_commit_follow_wandb(tmp_path: Path) -> None:
    run = _offline(tmp_path)
    run.log({"a": 1})                    # step 0, commits
    run.log({"b": 2}, commit=False)      # step 1, stays open
    run.log({"c": 3})                    # step 1, commits
    run.log({"d": 4}, step=5)            # jumps to 5, open
    run.log({"e": 5}, step=5)            # same step
    run.log({"f": 6})                    # still step 5, commits -> next is 6
    run.log({"g": 7})
    assert _metrics(run) == [(0, {"a": 1.0}), (1, {"b": 2.0}), (1, {"c": 3.0}), (5, {"d": 4.0}),
                             (5, {"e": 5.0}), (5, {"f": 6.0}), (6, {"g": 7.0})]
    assert run.step == 7
    run.finish()


def test_lower_step_is_refused_loudly(tmp_path: Path) -> None:
    run = _offline(tmp_path)
    run.log({"a": 1}, step=10)
    with pytest.raises(kiseki.StepOrderError, match="below the run's current step 10"):
        run.log({"a": 2}, step=3)
    with pytest.raises(kiseki.ValidationError, match="step must be an int"):
        run.log({"a": 2}, step=-1)
    run.finish()


def test_nested_dicts_flatten_and_scalars_coerce(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    run = _offline(tmp_path)
    run.log({"train": {"loss": np.float32(0.5), "acc": np.array([0.25])}, "ok": True,
             "n": np.int64(3)})
    assert _metrics(run) == [(0, {"train.loss": 0.5, "train.acc": 0.25, "ok": 1.0, "n": 3.0})]
    run.finish()


def test_config_and_summary(tmp_path: Path) -> None:
    run = _offline(tmp_path, config={"lr": 0.1})
    run.config.batch_size = 32
    run.config.update({"layers": [64, 32]})
    assert run.config["lr"] == 0.1 and run.config.batch_size == 32
    run.define_metric("loss", summary="min")
    for v in (3.0, 1.0, math.nan, 2.0):
        run.log({"loss": v, "acc": v})
    assert run.summary["loss"] == 1.0
    assert run.summary["acc"] == 2.0
    run.summary["best"] = "epoch-3"
    assert run.summary["best"] == "epoch-3"
    records = [e.record for e in RunLogReader(run.log_path or "").read_all()]
    assert any(isinstance(r, rec.SummaryUpdate) and r.values == {"best": "epoch-3"}
               for r in records)
    assert any(isinstance(r, rec.ConfigUpdate) and r.values == {"batch_size": 32}
               for r in records)
    run.finish()


def test_module_level_api_follows_current_run(tmp_path: Path) -> None:
    with pytest.raises(kiseki.UsageError, match="Call kiseki.init"):
        kiseki.log({"a": 1})
    run = _offline(tmp_path)
    kiseki.log({"x": 1.5})
    kiseki.config.update({"k": 1})
    assert kiseki.run is run and kiseki.config["k"] == 1
    kiseki.finish()
    assert _metrics(run) == [(0, {"x": 1.5})]
    with pytest.raises(kiseki.UsageError, match="finished"):
        run.log({"x": 2})


def test_disabled_mode_records_nothing(tmp_path: Path) -> None:
    run = kiseki.init(project="sem", mode="disabled", dir=str(tmp_path))
    run.log({"a": 1})
    run.finish()
    assert not (tmp_path / "kiseki-runs").exists()


def test_invalid_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(kiseki.ValidationError, match="project"):
        kiseki.init(project="../etc", mode="offline", dir=str(tmp_path))
    with pytest.raises(kiseki.ValidationError, match="run id"):
        kiseki.init(project="ok", id="x:v3", mode="offline", dir=str(tmp_path))


def test_config_before_init_says_what_to_do() -> None:
    with pytest.raises(kiseki.UsageError, match="Call kiseki.init"):
        kiseki.config.update({"a": 1})
