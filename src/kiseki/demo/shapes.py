"""A deterministic toy segmentation data set: coloured shapes on a noisy background.

Each image is ``size x size x 3`` float32 in ``[0, 1]`` with one to three shapes painted on a
dim, noisy, slowly varying background; its mask holds one class id per pixel (see
:data:`CLASSES`). Shapes that overlap paint over each other, and the mask follows the paint.

Colour is a strong but deliberately imperfect cue: each class has a "home" hue that most of its
shapes use, the rest get any hue. A per-pixel model therefore learns quickly from colour and
then has to use the neighbourhood (edges, corners) to do better, which gives training curves
that rise fast and keep creeping up instead of jumping to 1.0.
"""

from __future__ import annotations

import numpy as np

CLASSES: tuple[str, ...] = ("background", "circle", "square", "triangle")
"""Class names by id: mask value 0 is background, 1 circle, 2 square, 3 triangle."""

# Home hues (fraction of the colour wheel): warm circles, green squares, blue triangles.
_HOME_HUE = {1: 0.02, 2: 0.33, 3: 0.62}
_HOME_HUE_PROB = 0.65
_NOISE_SIGMA = 0.10


def make_dataset(n: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``n`` images and their class masks; the same seed gives the same data.

    Args:
        n: number of images.
        size: side length in pixels (images are square).
        seed: seed of the random generator.

    Returns:
        ``(images, masks)``: float32 ``(n, size, size, 3)`` in ``[0, 1]`` and uint8
        ``(n, size, size)`` with values in ``range(len(CLASSES))``.

    Example:
        >>> images, masks = make_dataset(8, size=32, seed=0)
        >>> images.shape, masks.shape
        ((8, 32, 32, 3), (8, 32, 32))
    """
    if n < 1 or size < 8:
        raise ValueError(f"make_dataset needs n >= 1 and size >= 8, got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=np.uint8)
    for i in range(n):
        images[i], masks[i] = _make_image(rng, size)
    return images, masks


def _make_image(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    image = _background(rng, size)
    mask = np.zeros((size, size), dtype=np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        cls = int(rng.integers(1, len(CLASSES)))
        inside = _shape_mask(rng, cls, size)
        image[inside] = _shape_colour(rng, cls)
        mask[inside] = cls
    # Noise after painting, so shapes are as noisy as the background around them.
    image += rng.normal(0.0, _NOISE_SIGMA, image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0), mask


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A dim, low-saturation colour with a gentle linear gradient across the image."""
    base = rng.uniform(0.15, 0.45) + rng.uniform(-0.05, 0.05, 3)
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction) + 1e-9
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
    ramp = (direction[0] * yy + direction[1] * xx) * rng.uniform(0.0, 0.2)
    background: np.ndarray = (base[None, None, :] + ramp[..., None]).astype(np.float32)
    return background


def _shape_colour(rng: np.random.Generator, cls: int) -> np.ndarray:
    if rng.random() < _HOME_HUE_PROB:
        hue = (_HOME_HUE[cls] + rng.normal(0.0, 0.05)) % 1.0
    else:
        hue = rng.random()
    return _hsv_to_rgb(hue, rng.uniform(0.55, 0.95), rng.uniform(0.6, 1.0))


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    # The usual six-sector formula, for one colour.
    sector = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][sector]
    return np.asarray(rgb, dtype=np.float32)


def _shape_mask(rng: np.random.Generator, cls: int, size: int) -> np.ndarray:
    """Boolean mask of one shape of class ``cls`` with a random centre and size."""
    radius = rng.uniform(size * 0.12, size * 0.28)
    cy, cx = rng.uniform(radius * 0.6, size - radius * 0.6, 2)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    if cls == 1:
        inside: np.ndarray = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        return inside
    if cls == 2:
        half = radius * 0.85  # same area scale as the circle
        square: np.ndarray = (np.abs(yy - cy) <= half) & (np.abs(xx - cx) <= half)
        return square
    return _triangle_mask(yy, xx, cy, cx, radius * 1.2, rng.uniform(0, 2 * np.pi))


def _triangle_mask(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, radius: float,
                   angle: float) -> np.ndarray:
    """An equilateral triangle inscribed in a circle, rotated by ``angle``."""
    corners = [(cy + radius * np.sin(angle + k * 2 * np.pi / 3),
                cx + radius * np.cos(angle + k * 2 * np.pi / 3)) for k in range(3)]
    signs = []
    for (y0, x0), (y1, x1) in zip(corners, corners[1:] + corners[:1], strict=True):
        signs.append((x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0) >= 0)
    # Inside when the point is on the same side of all three edges, whatever the winding.
    inside: np.ndarray = (signs[0] & signs[1] & signs[2]) | ~(signs[0] | signs[1] | signs[2])
    return inside
