"""A small synthetic 5-class image set: one coloured shape on a textured background, its place known.

No image set can be downloaded at run time (and the seed's flower photographs are
not ours to ship), so keras-geo generates one for tests, notebooks and the
explanation examples. Each image holds one object of its class (cross, disc,
ring, square, triangle) of random size, colour and place over smooth random
texture and noise; only the object's shape decides the class. The object's mask
comes with each image, which lets tests check that Grad-CAM looks at the object.

:func:`write_image_folder` writes the set as PNG files in one sub-folder per class,
the layout of the seed's flower folders, for :mod:`keras_geo.datasets.folders`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NamedTuple

import numpy as np

from keras_geo._settings import Range
from keras_geo.datasets._registry import Dataset, register

__all__ = ["CLASSES", "Shapes", "make_shapes", "shapes", "write_image_folder"]

# Sorted, so that the labels match an image folder of them read back (sub-folders in name order).
CLASSES = ("cross", "disc", "ring", "square", "triangle")


class Shapes(NamedTuple):
    """Images ``x`` (n, h, w, 3) float32 in [0, 1], labels ``y`` (n,), object ``masks`` (n, h, w) bool."""

    x: np.ndarray
    y: np.ndarray
    masks: np.ndarray
    class_names: tuple[str, ...]


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth random colour texture: coarse noise upsampled, plus fine noise."""
    import cv2

    coarse = rng.uniform(0.2, 0.8, size=(4, 4, 3)).astype("float32")
    smooth = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth + rng.normal(0.0, 0.05, size=(size, size, 3)), 0.0, 1.0).astype("float32")


def _mask(kind: str, size: int, centre: tuple[float, float], radius: float, angle: float) -> np.ndarray:
    import cv2

    mask = np.zeros((size, size), dtype=np.uint8)
    cx, cy = centre
    scale = 16  # sub-pixel precision for OpenCV's integer coordinates
    c = (int(round(cx * scale)), int(round(cy * scale)))
    r = int(round(radius * scale))
    if kind == "disc":
        cv2.circle(mask, c, r, 1, thickness=-1, lineType=cv2.LINE_8, shift=4)
    elif kind == "ring":
        cv2.circle(mask, c, r, 1, thickness=max(2, int(radius * 0.4)), lineType=cv2.LINE_8, shift=4)  # pixels
    else:
        if kind == "square":
            corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype="float64") * 0.8
        elif kind == "triangle":
            corners = np.array([[0, -1], [0.87, 0.5], [-0.87, 0.5]], dtype="float64")
        else:  # cross: two bars
            w = 0.33
            corners = np.array(
                [
                    [-w, -1],
                    [w, -1],
                    [w, -w],
                    [1, -w],
                    [1, w],
                    [w, w],
                    [w, 1],
                    [-w, 1],
                    [-w, w],
                    [-1, w],
                    [-1, -w],
                    [-w, -w],
                ],
                dtype="float64",
            )
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        points = (corners @ rotation.T) * radius + np.array([cx, cy])
        cv2.fillPoly(mask, [np.rint(points * scale).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def make_shapes(
    n_per_class: int,
    image_size: int = 64,
    *,
    seed: int = 0,
    classes: tuple[str, ...] = CLASSES,
    object_size: tuple[float, float] = (0.15, 0.3),
    noise: float = 0.04,
) -> Shapes:
    """Generates ``n_per_class`` images of each class, shuffled, with each object's mask.

    Args:
        n_per_class: Images per class.
        image_size: Pixels per side. Defaults to `64`.
        seed: Random seed; the same seed gives the same images. Defaults to `0`.
        classes: Which shapes, a subset of :data:`CLASSES`. Defaults to all five.
        object_size: Range of the object's radius as a fraction of the image side.
            Defaults to `(0.15, 0.3)`.
        noise: Standard deviation of the pixel noise added last. Defaults to `0.04`.

    Returns:
        :class:`Shapes`.
    """
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be >= 1. Received: n_per_class={n_per_class}")
    if image_size < 16:
        raise ValueError(f"image_size must be >= 16. Received: image_size={image_size}")
    unknown = [c for c in classes if c not in CLASSES]
    if unknown:
        raise ValueError(f"unknown shape class(es) {unknown}; allowed: {', '.join(CLASSES)}")
    rng = np.random.default_rng(seed)
    n = n_per_class * len(classes)
    x = np.empty((n, image_size, image_size, 3), dtype="float32")
    masks = np.empty((n, image_size, image_size), dtype=bool)
    y = np.repeat(np.arange(len(classes)), n_per_class)
    rng.shuffle(y)
    for i, label in enumerate(y):
        radius = rng.uniform(*object_size) * image_size
        margin = radius + 1
        centre = (rng.uniform(margin, image_size - margin), rng.uniform(margin, image_size - margin))
        mask = _mask(classes[label], image_size, centre, radius, rng.uniform(0, 2 * np.pi))
        image = _texture(rng, image_size)
        colour = rng.uniform(0.0, 1.0, size=3).astype("float32")
        # A colour that stands out from the texture under it: push it away from the mean.
        under = image[mask].mean(axis=0) if mask.any() else image.mean(axis=(0, 1))
        colour = np.where(np.abs(colour - under) < 0.3, np.where(under > 0.5, under - 0.45, under + 0.45), colour)
        image[mask] = np.clip(colour, 0.0, 1.0)
        x[i] = np.clip(image + rng.normal(0.0, noise, size=image.shape), 0.0, 1.0)
        masks[i] = mask
    return Shapes(x, y.astype("int64"), masks, tuple(classes))


def write_image_folder(root: str | Path, n_per_class: int, image_size: int = 64, *, seed: int = 0) -> Path:
    """Writes :func:`make_shapes` images as PNG files, one sub-folder per class (``root/disc/0000.png``, ...).

    Returns:
        ``root``.
    """
    import cv2

    root = Path(root)
    shapes = make_shapes(n_per_class, image_size, seed=seed)
    counts = dict.fromkeys(shapes.class_names, 0)
    for image, label in zip(shapes.x, shapes.y):
        name = shapes.class_names[label]
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        bgr = cv2.cvtColor(np.rint(image * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(str(folder / f"{counts[name]:04d}.png"), bgr):
            raise OSError(f"could not write {folder / f'{counts[name]:04d}.png'}")
        counts[name] += 1
    return root


@register("shapes", task="classification")
def shapes(
    n_train: Annotated[int, Range(1)] = 100,
    n_val: Annotated[int, Range(1)] = 40,
    n_test: Annotated[int, Range(1)] = 40,
    image_size: Annotated[int, Range(16)] = 64,
    seed: Annotated[int, Range(0)] = 0,
) -> Dataset:
    """The synthetic 5-class shapes (images per class in each split; three independent draws)."""
    # Draws seed, seed + 1, seed + 2: no image is in two splits.
    parts = {
        split: make_shapes(count, image_size, seed=seed + i)
        for i, (split, count) in enumerate((("train", n_train), ("val", n_val), ("test", n_test)))
    }
    return Dataset({split: (part.x, part.y) for split, part in parts.items()}, class_names=CLASSES)
