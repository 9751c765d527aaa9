"""What the demo logs besides scalars: validation predictions a newcomer can look at.

At each evaluation: a gallery of validation images with the ground-truth and predicted masks
and boxes (one box per connected shape, predicted boxes scored by the model's mean confidence)
and a histogram of the first layer's weights. After the last epoch: a predictions table with
one row per validation image (its overlays, IoU per class, the classes present), the table
users filter to find where the model fails (``"triangle" in ground_truth.classes and miou <
0.5``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import kiseki
from kiseki.demo.segmenter import Trainer, per_class_iou
from kiseki.demo.shapes import CLASSES

SCALE = 4  # 32x32 images are shown 128x128, so shapes and boxes are easy to see
GALLERY = 4
LABELS = dict(enumerate(CLASSES))


def _components(mask: np.ndarray, cls: int) -> list[tuple[int, int, int, int]]:
    """Bounding boxes ``(x0, y0, x1, y1)`` of each 4-connected region of class ``cls``."""
    todo = mask == cls
    boxes = []
    for y, x in zip(*np.nonzero(todo), strict=True):
        if not todo[y, x]:
            continue
        stack, ys, xs = [(int(y), int(x))], [], []
        todo[y, x] = False
        while stack:
            cy, cx = stack.pop()
            ys.append(cy)
            xs.append(cx)
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and todo[ny, nx]:
                    todo[ny, nx] = False
                    stack.append((ny, nx))
        if len(ys) >= 4:  # specks are noise, not objects
            boxes.append((min(xs), min(ys), max(xs) + 1, max(ys) + 1))
    return boxes


def _boxes(mask: np.ndarray, confidence: np.ndarray | None) -> dict[str, Any]:
    data = []
    for cls in range(1, len(CLASSES)):
        for x0, y0, x1, y1 in _components(mask, cls):
            box: dict[str, Any] = {
                "position": {"minX": x0 * SCALE, "maxX": x1 * SCALE, "minY": y0 * SCALE,
                             "maxY": y1 * SCALE},
                "domain": "pixel", "class_id": cls, "box_caption": CLASSES[cls]}
            if confidence is not None:
                score = float(confidence[y0:y1, x0:x1][mask[y0:y1, x0:x1] == cls].mean())
                box["scores"] = {"confidence": round(score, 3)}
                box["box_caption"] = f"{CLASSES[cls]} {score:.2f}"
            data.append(box)
    return {"box_data": data, "class_labels": LABELS}


def _upscale(array: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(array, SCALE, axis=0), SCALE, axis=1)


def _image(picture: np.ndarray, truth: np.ndarray, pred: np.ndarray, confidence: np.ndarray,
           caption: str) -> kiseki.Image:
    return kiseki.Image(
        _upscale(picture), caption=caption,
        masks={"ground_truth": {"mask_data": _upscale(truth), "class_labels": LABELS},
               "predictions": {"mask_data": _upscale(pred), "class_labels": LABELS}},
        boxes={"ground_truth": _boxes(truth, None), "predictions": _boxes(pred, confidence)})


def predictions(trainer: Trainer, val: tuple[np.ndarray, np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class and its probability per validation pixel, shaped like the masks."""
    images, masks = val
    with np.errstate(over="ignore", invalid="ignore"):
        logits = trainer.model.logits(trainer.val_x)
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
    pred = logits.argmax(axis=1).reshape(masks.shape).astype(np.uint8)
    return pred, probs.max(axis=1).reshape(masks.shape)


def eval_media(trainer: Trainer, val: tuple[np.ndarray, np.ndarray], epoch: int,
               final: bool) -> dict[str, Any]:
    """Media to log with an evaluation: gallery and weight histogram; the table when final."""
    images, masks = val
    pred, confidence = predictions(trainer, val)
    gallery = [_image(images[i], masks[i], pred[i], confidence[i],
                      f"val #{i}, epoch {epoch}") for i in range(min(GALLERY, len(images)))]
    out: dict[str, Any] = {
        "val/examples": gallery,
        "weights/w1": kiseki.Histogram(trainer.model.params["w1"], num_bins=48),
    }
    if final:
        out["val/predictions"] = _table(images, masks, pred, confidence)
    return out


def _table(images: np.ndarray, masks: np.ndarray, pred: np.ndarray,
           confidence: np.ndarray) -> kiseki.Table:
    columns = ["id", "image", "miou", "pixel_acc", "shapes",
               *[f"iou/{name}" for name in CLASSES[1:]]]
    table = kiseki.Table(columns=columns)
    for i in range(len(images)):
        iou = per_class_iou(pred[i].reshape(-1), masks[i].reshape(-1).astype(np.int64))
        present = [CLASSES[c] for c in range(1, len(CLASSES)) if (masks[i] == c).any()]
        scores = [float(v) for v in iou[1:]]
        valid = [v for v in iou if not np.isnan(v)]
        table.add_data(i, _image(images[i], masks[i], pred[i], confidence[i], f"val #{i}"),
                       round(float(np.mean(valid)), 4) if valid else None,
                       round(float((pred[i] == masks[i]).mean()), 4), ", ".join(present),
                       *[None if np.isnan(v) else round(v, 4) for v in scores])
    return table
