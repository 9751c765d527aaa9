"""The demo's artifacts: a lineage a newcomer can click through on first start.

``prepare-data`` logs the data set as an artifact; every training run uses it and logs its
final checkpoint as a version of one model artifact (``best`` follows the best validation
mIoU); ``evaluate-best`` uses the best checkpoint, predicts the validation set and logs the
predictions table as an artifact; the best and the runner-up are linked into the registry as
``production`` and ``staging``. Family tree: dataset -> training runs -> model versions ->
evaluation -> predictions.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Any

import numpy as np

import kiseki
from kiseki.demo.segmenter import Hyperparams, Trainer

DATASET = "shapes-dataset"
MODEL = "shapes-segmenter"
REGISTRY = "shapes-segmenter"
PREDICTIONS = "val-predictions"


def log_dataset(run: kiseki.Run, train: tuple[np.ndarray, np.ndarray],
                val: tuple[np.ndarray, np.ndarray], metadata: dict[str, Any]) -> None:
    art = kiseki.Artifact(DATASET, type="dataset", metadata=metadata,
                          description="Coloured shapes on noise with per-pixel class masks.")
    with tempfile.TemporaryDirectory(prefix="kiseki-demo-") as tmp:
        for split, (images, masks) in (("train", train), ("val", val)):
            path = os.path.join(tmp, f"{split}.npz")
            np.savez_compressed(path, images=images, masks=masks)
            art.add_file(path)
        run.log_artifact(art, aliases=["v1-release"])
        art.wait()


def log_checkpoint(run: kiseki.Run, trainer: Trainer, miou: float, is_best: bool) -> Any:
    """The final parameters as a version of the model artifact (their validation mIoU and the
    hyperparameters in its metadata, so an evaluation can rebuild the model)."""
    art = kiseki.Artifact(MODEL, type="model", metadata={
        "val/miou": round(miou, 4), "run": run.name,
        "hyperparams": dataclasses.asdict(trainer.hp)})
    with tempfile.TemporaryDirectory(prefix="kiseki-demo-") as tmp:
        path = os.path.join(tmp, "params.npz")
        np.savez(path, **trainer.model.params)  # type: ignore[arg-type]
        art.add_file(path)
        run.log_artifact(art, aliases=["best"] if is_best else [])
        art.wait()
    return art


def evaluate_best(run: kiseki.Run, train: tuple[np.ndarray, np.ndarray],
                  val: tuple[np.ndarray, np.ndarray], runner_up: Any) -> float:
    """Use the best checkpoint, log its predictions table, link it (and the runner-up) into
    the registry. Returns the mIoU it measured."""
    from kiseki.demo.media import eval_media

    model = run.use_artifact(f"{MODEL}:best", type="model")
    run.use_artifact(f"{DATASET}:latest", type="dataset")
    hp = Hyperparams(**model.metadata["hyperparams"])
    trainer = Trainer(hp, train, val)
    with tempfile.TemporaryDirectory(prefix="kiseki-demo-") as tmp:
        with np.load(os.path.join(model.download(tmp), "params.npz")) as params:
            trainer.model.params = {k: params[k] for k in params.files}
    result = trainer.evaluate()
    media = eval_media(trainer, val, epoch=hp.epochs, final=True)
    run.log({"val/miou": result.miou, "val/pixel_acc": result.pixel_acc,
             "val/predictions": media["val/predictions"]})
    predictions = kiseki.Artifact(PREDICTIONS, type="predictions",
                                  metadata={"model": model.qualified_name,
                                            "val/miou": round(result.miou, 4)})
    predictions.add(media["val/predictions"], "val")
    run.log_artifact(predictions)
    run.link_artifact(model, f"registry/{REGISTRY}", aliases=["production"])
    if runner_up is not None:
        run.link_artifact(runner_up, f"registry/{REGISTRY}", aliases=["staging"])
    return result.miou
