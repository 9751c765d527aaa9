"""A tiny per-pixel segmenter in pure numpy, trained for real by hand-written backprop.

Each pixel is classified from the colours of its ``patch x patch`` neighbourhood by a one
hidden layer MLP (ReLU, softmax cross-entropy). Training draws random minibatches of pixels
and updates with Adam or SGD with momentum, after a linear learning-rate warm-up. Everything
runs in float32 on one CPU core in a second or two, which is what ``kiseki demo`` needs:
honest curves, produced quickly.

Example:
    >>> from kiseki.demo.shapes import make_dataset
    >>> train, val = make_dataset(64, seed=0), make_dataset(16, seed=1)
    >>> trainer = Trainer(Hyperparams(epochs=2), train, val)
    >>> loss, acc = trainer.step()
    >>> result = trainer.evaluate()
    >>> 0.0 <= result.miou <= 1.0
    True
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from kiseki.demo.shapes import CLASSES

NUM_CLASSES = len(CLASSES)
# Cross-entropy of a uniform guess is ln(4) ~ 1.39; ten times that means the weights blew up.
DIVERGENCE_LOSS = 10.0 * math.log(NUM_CLASSES)
OPTIMIZERS = ("adam", "sgd")


class TrainingDivergedError(RuntimeError):
    """Raised when the training loss becomes non-finite or explodes (learning rate too high).

    Attributes:
        step: the step whose loss exploded.
        loss: that loss (``inf`` or ``nan`` possible), so a caller can still log the spike.
    """

    def __init__(self, message: str, step: int, loss: float) -> None:
        super().__init__(message)
        self.step = step
        self.loss = loss


@dataclasses.dataclass(frozen=True)
class Hyperparams:
    """Everything that decides a training; logged as the run config.

    Attributes:
        lr: peak learning rate, reached after ``warmup_steps``.
        hidden: hidden units of the MLP.
        batch_size: pixels per minibatch.
        epochs: number of epochs; each is ``steps_per_epoch`` minibatches.
        steps_per_epoch: minibatches between two validations.
        seed: seed of weight init and minibatch sampling.
        weight_decay: L2 penalty added to the weight gradients.
        patch: side of the square neighbourhood each pixel sees (odd).
        optimizer: "adam" or "sgd" (momentum 0.9).
        warmup_steps: steps of linear learning-rate warm-up from 0.
    """

    lr: float = 0.01
    hidden: int = 32
    batch_size: int = 256
    epochs: int = 6
    steps_per_epoch: int = 120
    seed: int = 0
    weight_decay: float = 1e-4
    patch: int = 3
    optimizer: str = "adam"
    warmup_steps: int = 50

    def __post_init__(self) -> None:
        if self.patch < 1 or self.patch % 2 == 0:
            raise ValueError(f"patch must be an odd int >= 1, got {self.patch}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if min(self.hidden, self.batch_size, self.epochs, self.steps_per_epoch) < 1:
            raise ValueError("hidden, batch_size, epochs and steps_per_epoch must be >= 1")

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """Validation metrics of one pass over the validation pixels."""

    loss: float
    pixel_acc: float
    iou: np.ndarray  # per class, NaN for a class absent from both prediction and target

    @property
    def miou(self) -> float:
        return mean_iou(self.iou)


# -- features -------------------------------------------------------------------------------------
def patch_features(images: np.ndarray, patch: int) -> np.ndarray:
    """Per-pixel features: the colours of each pixel's ``patch x patch`` neighbourhood.

    Args:
        images: float ``(n, h, w, c)``.
        patch: odd side length; borders are padded by reflection.

    Returns:
        float32 ``(n * h * w, patch * patch * c)``, pixels in row-major image order.
    """
    n, h, w, c = images.shape
    r = patch // 2
    padded = np.pad(images, ((0, 0), (r, r), (r, r), (0, 0)), mode="reflect")
    shifted = [padded[:, dy:dy + h, dx:dx + w, :] for dy in range(patch) for dx in range(patch)]
    return np.concatenate(shifted, axis=-1).reshape(n * h * w, patch * patch * c).astype(
        np.float32)


# -- metrics --------------------------------------------------------------------------------------
def confusion_matrix(pred: np.ndarray, target: np.ndarray,
                     num_classes: int = NUM_CLASSES) -> np.ndarray:
    """``(num_classes, num_classes)`` counts, rows are targets and columns predictions."""
    flat = target.astype(np.int64).ravel() * num_classes + pred.astype(np.int64).ravel()
    counts = np.bincount(flat, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def per_class_iou(pred: np.ndarray, target: np.ndarray,
                  num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Intersection over union of each class; NaN where a class appears in neither input.

    Example:
        >>> per_class_iou(np.array([0, 1, 1]), np.array([0, 1, 0]), num_classes=2)
        array([0.5, 0.5])
    """
    cm = confusion_matrix(pred, target, num_classes).astype(np.float64)
    inter = np.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - inter
    iou = np.full(num_classes, np.nan)
    present = union > 0
    iou[present] = inter[present] / union[present]
    return iou


def mean_iou(iou: np.ndarray) -> float:
    """Mean over the classes that have an IoU (NaN entries are skipped)."""
    valid = iou[~np.isnan(iou)]
    return float(valid.mean()) if valid.size else 0.0


# -- model ----------------------------------------------------------------------------------------
class PixelMLP:
    """``features -> hidden (ReLU) -> class logits``, with its own forward and backward."""

    def __init__(self, n_in: int, hidden: int, rng: np.random.Generator) -> None:
        # He initialisation keeps ReLU activations at a sane scale from the first step.
        self.params: dict[str, np.ndarray] = {
            "w1": (rng.normal(size=(n_in, hidden)) * math.sqrt(2.0 / n_in)).astype(np.float32),
            "b1": np.zeros(hidden, dtype=np.float32),
            "w2": (rng.normal(size=(hidden, NUM_CLASSES)) * math.sqrt(1.0 / hidden)).astype(
                np.float32),
            "b2": np.zeros(NUM_CLASSES, dtype=np.float32),
        }

    @property
    def n_params(self) -> int:
        return sum(int(p.size) for p in self.params.values())

    def logits(self, x: np.ndarray) -> np.ndarray:
        hidden = np.maximum(x @ self.params["w1"] + self.params["b1"], 0.0)
        out: np.ndarray = hidden @ self.params["w2"] + self.params["b2"]
        return out

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray, weight_decay: float
                       ) -> tuple[float, float, dict[str, np.ndarray]]:
        """Mean cross-entropy, minibatch accuracy and the gradients of every parameter."""
        p = self.params
        pre = x @ p["w1"] + p["b1"]
        hidden = np.maximum(pre, 0.0)
        logits = hidden @ p["w2"] + p["b2"]
        loss, dlogits = softmax_cross_entropy(logits, y)
        acc = float((logits.argmax(axis=1) == y).mean())
        dhidden = (dlogits @ p["w2"].T) * (pre > 0)
        grads = {
            "w2": hidden.T @ dlogits + weight_decay * p["w2"],
            "b2": dlogits.sum(axis=0),
            "w1": x.T @ dhidden + weight_decay * p["w1"],
            "b1": dhidden.sum(axis=0),
        }
        return loss, acc, grads


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of integer labels and its gradient with respect to the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)  # stable log-sum-exp
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    loss = float(-log_probs[rows, y].mean())
    grad = np.exp(log_probs)
    grad[rows, y] -= 1.0
    return loss, grad / len(y)


# -- optimisers -----------------------------------------------------------------------------------
class AdamOptimizer:
    """Adam (Kingma & Ba) with bias correction, updating parameters in place."""

    def __init__(self, params: dict[str, np.ndarray], beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
               lr: float) -> None:
        self.t += 1
        scale = lr * math.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        for key, grad in grads.items():
            self.m[key] = self.beta1 * self.m[key] + (1 - self.beta1) * grad
            self.v[key] = self.beta2 * self.v[key] + (1 - self.beta2) * grad * grad
            params[key] -= (scale * self.m[key] / (np.sqrt(self.v[key]) + self.eps)).astype(
                np.float32)


class SGDOptimizer:
    """SGD with heavy-ball momentum, updating parameters in place."""

    def __init__(self, params: dict[str, np.ndarray], momentum: float = 0.9) -> None:
        self.momentum = momentum
        self.velocity = {k: np.zeros_like(v) for k, v in params.items()}

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
               lr: float) -> None:
        for key, grad in grads.items():
            self.velocity[key] = self.momentum * self.velocity[key] + grad
            params[key] -= (lr * self.velocity[key]).astype(np.float32)


# -- training -------------------------------------------------------------------------------------
class Trainer:
    """One training of :class:`PixelMLP` on a data set; the caller drives it step by step.

    The caller owns the loop so it can log, print or sleep between steps: ``step()`` runs one
    minibatch update and ``evaluate()`` one validation pass. ``step()`` raises
    :class:`TrainingDivergedError` once the loss is no longer finite or explodes.
    """

    def __init__(self, hp: Hyperparams, train: tuple[np.ndarray, np.ndarray],
                 val: tuple[np.ndarray, np.ndarray]) -> None:
        self.hp = hp
        self.rng = np.random.default_rng(hp.seed)
        train_x = patch_features(train[0], hp.patch)
        # Standardise with training statistics only, as a real pipeline would.
        self.mean = train_x.mean(axis=0)
        self.std = train_x.std(axis=0) + 1e-6
        self.train_x = (train_x - self.mean) / self.std
        self.train_y = train[1].reshape(-1).astype(np.int64)
        self.val_x = (patch_features(val[0], hp.patch) - self.mean) / self.std
        self.val_y = val[1].reshape(-1).astype(np.int64)
        self.model = PixelMLP(self.train_x.shape[1], hp.hidden, self.rng)
        self.optimizer = (AdamOptimizer(self.model.params) if hp.optimizer == "adam"
                          else SGDOptimizer(self.model.params))
        self.steps_done = 0

    def learning_rate(self) -> float:
        """The learning rate of the next step (linear warm-up, then constant)."""
        warm = min(1.0, (self.steps_done + 1) / max(1, self.hp.warmup_steps))
        return self.hp.lr * warm

    def step(self) -> tuple[float, float]:
        """One minibatch update; returns the minibatch loss and pixel accuracy."""
        idx = self.rng.integers(0, len(self.train_y), self.hp.batch_size)
        lr = self.learning_rate()
        # Overflow is how divergence shows itself; it is reported below as an error of its own
        # rather than as numpy warnings (which pytest turns into errors anyway).
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss, acc, grads = self.model.loss_and_grads(
                self.train_x[idx], self.train_y[idx], self.hp.weight_decay)
            if math.isfinite(loss) and loss <= DIVERGENCE_LOSS:
                self.optimizer.update(self.model.params, grads, lr)
        self.steps_done += 1
        if not math.isfinite(loss) or loss > DIVERGENCE_LOSS:
            raise TrainingDivergedError(
                f"training diverged at step {self.steps_done}: train/loss={loss:.4g} "
                f"(limit {DIVERGENCE_LOSS:.3g}) with learning rate {lr:.4g}; "
                f"lr={self.hp.lr:g} is far too high for {self.hp.optimizer}, try 10-100x lower",
                step=self.steps_done, loss=loss)
        return loss, acc

    def evaluate(self) -> EvalResult:
        """Loss, pixel accuracy and per-class IoU over every validation pixel."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            logits = self.model.logits(self.val_x)
            loss, _ = softmax_cross_entropy(logits, self.val_y)
        pred = logits.argmax(axis=1)
        return EvalResult(loss=loss, pixel_acc=float((pred == self.val_y).mean()),
                          iou=per_class_iou(pred, self.val_y))
