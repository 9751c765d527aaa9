"""Demo content for ``kiseki demo``: real, tiny trainings logged with the kiseki SDK.

A toy segmentation task (:mod:`kiseki.demo.shapes`), a per-pixel MLP trained by hand in numpy
(:mod:`kiseki.demo.segmenter`) and the project that logs a small study of it
(:mod:`kiseki.demo.project`). Every curve comes from an actual training; nothing is invented.

Example:
    >>> from kiseki.demo import populate, start_live_run
    >>> settings = {"root_dir": "/tmp/kiseki-home"}
    >>> run_ids = populate(settings=settings)
    >>> live = start_live_run(settings=settings, seconds=300)
    >>> live.stop()

Importing this package loads numpy; ``import kiseki`` never imports it.
"""

from __future__ import annotations

from kiseki.demo.project import (
    DEFAULT_PROJECT,
    LiveRun,
    ProgressCallback,
    populate,
    start_live_run,
)
from kiseki.demo.segmenter import Hyperparams, Trainer, TrainingDivergedError
from kiseki.demo.shapes import CLASSES, make_dataset

__all__ = [
    "CLASSES", "DEFAULT_PROJECT", "Hyperparams", "LiveRun", "ProgressCallback", "Trainer",
    "TrainingDivergedError", "make_dataset", "populate", "start_live_run",
]
