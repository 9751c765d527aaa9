"""The demo project: several real trainings of the shapes segmenter, logged with the SDK.

:func:`populate` logs a small hyperparameter study (baseline, a repeat with another seed, a
wide model, a larger neighbourhood, a learning-rate sweep) plus one run that diverges on
purpose and ends ``failed`` with its traceback. :func:`start_live_run` then keeps one slow
training open in a background thread so the server shows a run that is still running.

Example:
    >>> from kiseki.demo import populate, start_live_run
    >>> ids = populate(settings={"root_dir": "/tmp/kiseki-home"})
    >>> live = start_live_run(settings={"root_dir": "/tmp/kiseki-home"}, seconds=60)
    >>> live.stop()
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import kiseki
from kiseki.core.errors import UsageError
from kiseki.demo import lineage
from kiseki.demo.segmenter import EvalResult, Hyperparams, Trainer, TrainingDivergedError
from kiseki.demo.shapes import CLASSES, make_dataset

DEFAULT_PROJECT = "shapes-segmentation"

ProgressCallback = Callable[[int, int, str], None]
"""Called as ``on_progress(done, total, message)`` after each run of :func:`populate`."""


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """The data set every demo run trains on; logged in each run's config."""

    train_images: int = 128
    val_images: int = 32
    image_size: int = 32
    train_seed: int = 0
    val_seed: int = 1

    def load(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``(train, val)``, each ``(images, masks)``; validation uses its own seed."""
        return (make_dataset(self.train_images, self.image_size, self.train_seed),
                make_dataset(self.val_images, self.image_size, self.val_seed))


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One planned training: its name, tags, notes and hyperparameters."""

    name: str
    hp: Hyperparams
    tags: tuple[str, ...]
    notes: str

    @property
    def group(self) -> str:
        """Runs are grouped by architecture, i.e. by the neighbourhood the model sees."""
        return f"mlp-{self.hp.patch}x{self.hp.patch}"


# -- the plan -------------------------------------------------------------------------------------
_BASE = Hyperparams(lr=0.003, hidden=16, batch_size=256, epochs=10, steps_per_epoch=150,
                    seed=0, weight_decay=1e-4, patch=3, optimizer="adam", warmup_steps=50)

_STUDY: tuple[tuple[str, dict[str, Any], tuple[str, ...], str], ...] = (
    ("baseline", {}, ("baseline",), "3x3 colours, 16 hidden units, Adam 3e-3."),
    ("baseline-seed1", {"seed": 1}, ("baseline", "seed-repeat"),
     "The baseline again with another seed, to see the run-to-run spread."),
    ("wide-64", {"hidden": 64}, ("wide",), "Four times the hidden units."),
    ("context-5x5", {"patch": 5, "hidden": 32}, ("context",),
     "A 5x5 neighbourhood lets the model see edges and corners."),
    ("lr-6e-4", {"lr": 6e-4}, ("lr-sweep",), "Learning rate 5x lower than the baseline."),
    ("lr-1.5e-2", {"lr": 1.5e-2}, ("lr-sweep",), "Learning rate 5x higher than the baseline."),
    ("sgd-momentum", {"optimizer": "sgd", "lr": 0.1}, ("optimizer",),
     "Plain SGD with momentum 0.9 instead of Adam."),
    ("wide-64-seed1", {"hidden": 64, "seed": 1}, ("wide", "seed-repeat"),
     "The wide model again with another seed."),
)

# SGD at lr=3 survives the warm-up for a while, then the loss climbs and blows up.
_DIVERGING = ("lr-3-diverges", {"optimizer": "sgd", "lr": 3.0, "warmup_steps": 300},
              ("lr-sweep", "diverged"), "Learning rate far too high: expected to diverge.")


def plan_runs(runs: int = 6, steps_scale: float = 1.0) -> list[RunSpec]:
    """The successful trainings of the study, first ``runs`` of them (seeds vary past 8)."""
    if runs < 0 or steps_scale <= 0:
        raise UsageError(f"runs must be >= 0 and steps_scale > 0, got {runs}, {steps_scale}")
    specs = []
    for i in range(runs):
        name, changes, tags, notes = _STUDY[i % len(_STUDY)]
        if i >= len(_STUDY):  # more runs than the study: repeat it with fresh seeds
            round_ = i // len(_STUDY)
            name, changes = f"{name}-r{round_}", {**changes, "seed": 100 * round_ + i}
        specs.append(_spec(name, changes, tags, notes, steps_scale))
    return specs


def diverging_run(steps_scale: float = 1.0) -> RunSpec:
    """The run that fails on purpose (its learning rate is far too high)."""
    return _spec(*_DIVERGING, steps_scale)


def _spec(name: str, changes: dict[str, Any], tags: tuple[str, ...], notes: str,
          steps_scale: float) -> RunSpec:
    hp = dataclasses.replace(_BASE, **changes)
    # Scale steps, not epochs: every run keeps all its validation points.
    hp = dataclasses.replace(hp, steps_per_epoch=max(8, round(hp.steps_per_epoch * steps_scale)),
                             warmup_steps=max(1, round(hp.warmup_steps * steps_scale)))
    return RunSpec(name=name, hp=hp, tags=tags, notes=notes)


def run_config(spec: RunSpec, data: DataSpec, n_params: int) -> dict[str, Any]:
    """Everything needed to reproduce a run: hyperparameters, data set and model."""
    return {
        **dataclasses.asdict(spec.hp),
        "total_steps": spec.hp.total_steps,
        "dataset": "shapes",
        **dataclasses.asdict(data),
        "classes": list(CLASSES),
        "model": f"PixelMLP({spec.hp.patch}x{spec.hp.patch}x3 -> {spec.hp.hidden} ReLU -> "
                 f"{len(CLASSES)})",
        "n_params": n_params,
    }


# -- populate -------------------------------------------------------------------------------------
def populate(project: str = DEFAULT_PROJECT, settings: dict[str, Any] | None = None,
             runs: int = 6, steps_scale: float = 1.0,
             on_progress: ProgressCallback | None = None, *, dir: str | None = None,
             echo: bool = True) -> list[str]:
    """Log ``runs`` real trainings plus one that diverges on purpose; return their run ids.

    Args:
        project: project to log into.
        settings: SDK settings (``root_dir``, ``base_url``, ...); system metrics are sampled
            every second unless ``system_metrics_interval`` says otherwise.
        runs: number of successful trainings (the failing one comes on top).
        steps_scale: multiplies the steps per epoch; 0.2 gives a quick smoke run.
        on_progress: called as ``on_progress(done, total, message)`` after each run.
        dir: folder for the local run folders (default: the working directory).
        echo: print one line per epoch (what the run's console capture records).

    Example:
        >>> ids = populate(settings={"root_dir": "/tmp/kiseki-home"}, runs=3)
    """
    settings = _demo_settings(settings)
    data = DataSpec()
    train, val = data.load()
    plan = [*plan_runs(runs, steps_scale), diverging_run(steps_scale)]
    total = len(plan) + 2  # the data preparation and the evaluation runs around the study
    with kiseki.init(project=project, name="prepare-data", job_type="data", dir=dir,
                     settings=settings, config=dataclasses.asdict(data)) as prep:
        lineage.log_dataset(prep, train, val, dataclasses.asdict(data))
    ids: list[str] = [prep.id]
    if on_progress is not None:
        on_progress(1, total, f"prepare-data ({prep.id}) logged {lineage.DATASET}")
    ranking: list[tuple[float, Any]] = []  # (best val/miou, checkpoint) of every finished run
    for done, spec in enumerate(plan, start=2):
        run_id, message = _log_training(spec, data, train, val, project, settings, dir, echo,
                                        ranking)
        ids.append(run_id)
        if on_progress is not None:
            on_progress(done, total, message)
    if ranking:
        ranking.sort(key=lambda item: -item[0])
        with kiseki.init(project=project, name="evaluate-best", job_type="eval", dir=dir,
                         settings=settings) as evaluation:
            miou = lineage.evaluate_best(evaluation, train, val,
                                         ranking[1][1] if len(ranking) > 1 else None)
        ids.append(evaluation.id)
        if on_progress is not None:
            on_progress(total, total, f"evaluate-best ({evaluation.id}): val/miou {miou:.3f}; "
                        f"registry/{lineage.REGISTRY} production and staging linked")
    return ids


def _demo_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    # Demo runs last a second or two: the SDK default of one sample per 10 s would show none.
    return {"system_metrics_interval": 1.0, **(settings or {})}


def _log_training(spec: RunSpec, data: DataSpec, train: tuple[np.ndarray, np.ndarray],
                  val: tuple[np.ndarray, np.ndarray], project: str, settings: dict[str, Any],
                  dir: str | None, echo: bool,
                  ranking: list[tuple[float, Any]] | None = None) -> tuple[str, str]:
    """Train and log one run; a diverging training ends the run ``failed`` and is reported.

    With ``ranking`` the run uses the data set artifact and logs its checkpoint (``best``
    moves to it when it beats every earlier run), appended to ``ranking``."""
    trainer = Trainer(spec.hp, train, val)
    started = time.monotonic()
    run = _init_run(spec, data, trainer, project, settings, dir, job_type="train")
    try:
        with run:  # an exception leaving this block marks the run failed, with its traceback
            if ranking is not None:
                run.use_artifact(f"{lineage.DATASET}:latest", type="dataset")
            best = _train_epochs(run, spec, trainer, echo, val)
            if ranking is not None:  # ranked by the checkpoint's own score: the final weights
                final = trainer.evaluate().miou
                is_best = all(final > score for score, _ in ranking)
                ranking.append((final, lineage.log_checkpoint(run, trainer, final, is_best)))
    except TrainingDivergedError as exc:
        return run.id, f"{spec.name} ({run.id}) failed as planned: {exc}"
    seconds = time.monotonic() - started
    return run.id, f"{spec.name} ({run.id}) finished: best val/miou {best:.3f} in {seconds:.1f}s"


def _init_run(spec: RunSpec, data: DataSpec, trainer: Trainer, project: str,
              settings: dict[str, Any], dir: str | None, job_type: str) -> kiseki.Run:
    run = kiseki.init(project=project, name=spec.name, group=spec.group, job_type=job_type,
                      tags=list(spec.tags), notes=spec.notes, dir=dir, settings=settings,
                      config=run_config(spec, data, trainer.model.n_params))
    run.define_metric("val/miou", summary="max")
    run.define_metric("val/loss", summary="min")
    return run


def _train_epochs(run: kiseki.Run, spec: RunSpec, trainer: Trainer, echo: bool,
                  val: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """Epoch 0 is the untrained model, so every curve starts from chance level."""
    best = _log_eval(run, spec, trainer, epoch=0, echo=echo, val=val)
    for epoch in range(1, spec.hp.epochs + 1):
        for _ in range(spec.hp.steps_per_epoch):
            _log_step(run, trainer)
        best = max(best, _log_eval(run, spec, trainer, epoch=epoch, echo=echo, val=val))
    run.summary["best_miou"] = best
    return best


def _log_step(run: kiseki.Run, trainer: Trainer) -> None:
    lr = trainer.learning_rate()
    try:
        loss, acc = trainer.step()
    except TrainingDivergedError as exc:
        if np.isfinite(exc.loss):  # the spike is the most telling point of the curve
            run.log({"train/loss": exc.loss, "train/lr": lr}, step=exc.step)
        raise
    run.log({"train/loss": loss, "train/pixel_acc": acc, "train/lr": lr},
            step=trainer.steps_done)


def _log_eval(run: kiseki.Run, spec: RunSpec, trainer: Trainer, epoch: int,
              echo: bool, val: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """Validate, log at the step of the last update, print one line; return the mIoU.

    With ``val`` (the validation images and masks) predictions are logged too: a gallery
    with mask and box overlays, a weight histogram, and the predictions table at the end."""
    result = trainer.evaluate()
    values: dict[str, Any] = dict(_eval_metrics(result, epoch))
    if val is not None and np.isfinite(result.loss):
        from kiseki.demo.media import eval_media

        values.update(eval_media(trainer, val, epoch, final=epoch == spec.hp.epochs))
    run.log(values, step=trainer.steps_done)
    if echo:
        print(f"[{spec.name}] epoch {epoch}/{spec.hp.epochs} step {trainer.steps_done} "
              f"val/loss {result.loss:.4f} val/miou {result.miou:.4f} "
              f"pixel_acc {result.pixel_acc:.4f}", flush=True)
    return result.miou


def _eval_metrics(result: EvalResult, epoch: int) -> dict[str, float]:
    metrics = {"epoch": float(epoch), "val/loss": result.loss, "val/miou": result.miou,
               "val/pixel_acc": result.pixel_acc}
    for name, iou in zip(CLASSES, result.iou, strict=True):
        if not np.isnan(iou):  # a class absent from the whole validation set has no IoU
            metrics[f"val/iou/{name}"] = float(iou)
    return metrics


# -- the live run ---------------------------------------------------------------------------------
class LiveRun:
    """A slow training logging from a background thread until stopped or out of time.

    ``start_live_run`` creates and starts it; the thread finishes the run when it ends, so
    :meth:`stop` (or waiting with :meth:`join`) leaves the run ``finished``.
    """

    def __init__(self, run: kiseki.Run, spec: RunSpec, trainer: Trainer, seconds: float,
                 step_interval: float, echo: bool) -> None:
        self.run = run
        self.spec = spec
        self.trainer = trainer
        self.seconds = seconds
        self.step_interval = step_interval
        self.echo = echo
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="kiseki-demo-live", daemon=True)

    @property
    def run_id(self) -> str:
        return self.run.id

    def start(self) -> LiveRun:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the training to end, and wait until it has finished the run."""
        self._stop.set()
        self.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the training to end by itself (``seconds`` elapsed) or after ``stop``."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _main(self) -> None:
        deadline = time.monotonic() + self.seconds
        with self.run:
            try:
                self._loop(deadline)
            except UsageError:
                # log() refuses only when the run is no longer ours to log to: finished by
                # a later kiseki.init() or at interpreter exit. Nothing is left to do.
                return

    def _loop(self, deadline: float) -> None:
        hp = self.spec.hp
        _log_eval(self.run, self.spec, self.trainer, epoch=0, echo=self.echo)
        while not self._stop.is_set() and time.monotonic() < deadline:
            _log_step(self.run, self.trainer)
            if self.trainer.steps_done % hp.steps_per_epoch == 0:
                epoch = self.trainer.steps_done // hp.steps_per_epoch
                _log_eval(self.run, self.spec, self.trainer, epoch=epoch, echo=self.echo)
            self._stop.wait(self.step_interval)  # returns at once when stop() is called


def start_live_run(project: str = DEFAULT_PROJECT, settings: dict[str, Any] | None = None,
                   seconds: float = 600.0, *, step_interval: float = 0.5,
                   steps_per_epoch: int = 20, dir: str | None = None,
                   echo: bool = True) -> LiveRun:
    """Open one run and keep training and logging it in a daemon thread.

    Call it after :func:`populate`: ``kiseki.init`` finishes the process's previous run, so a
    later init would end this one too. Each step sleeps ``step_interval`` seconds, which keeps
    the curves growing for the whole ``seconds`` (the learning rate is low on purpose).

    Example:
        >>> live = start_live_run(settings={"root_dir": "/tmp/kiseki-home"}, seconds=120)
        >>> live.stop()  # finishes the run
    """
    if seconds <= 0 or step_interval < 0 or steps_per_epoch < 1:
        raise UsageError("seconds must be > 0, step_interval >= 0 and steps_per_epoch >= 1, "
                         f"got {seconds}, {step_interval}, {steps_per_epoch}")
    planned_steps = int(seconds / max(step_interval, 1e-3))
    hp = dataclasses.replace(_BASE, lr=3e-4, batch_size=64, steps_per_epoch=steps_per_epoch,
                             epochs=max(1, -(-planned_steps // steps_per_epoch)), seed=7,
                             warmup_steps=20)
    spec = RunSpec(name="live-training", hp=hp, tags=("live",),
                   notes="A slow training that keeps logging while you watch.")
    data = DataSpec()
    train, val = data.load()
    trainer = Trainer(spec.hp, train, val)
    run = _init_run(spec, data, trainer, project, _demo_settings(settings), dir,
                    job_type="live")
    return LiveRun(run, spec, trainer, seconds, step_interval, echo).start()
