"""Generated detection scenes: shapes of COCO's three size bins, clutter, and a context rule (report 001).

Each image holds up to ``max_objects`` filled shapes on a smooth, noisy background with
unlabelled clutter (thin lines and dots). Six classes:

* ``square``, ``disc``, ``triangle``: any size, anywhere;
* ``ring``: an annulus, medium or large, in about half of the images;
* ``buoy`` and ``rock``: the same cross, drawn alike. A cross is a ``buoy`` in an image
  with a ring and a ``rock`` in an image without one.

The last rule is the context a detector's regions can share: a cross alone cannot tell
which of the two it is, the other regions of its image can. Relation modules between
regions of interest (self-attention, a Lambda layer) can learn it; a detector that
classifies each region on its own cannot do better than chance between the two.

Objects fall into COCO's area bins in pixels of the image (``keras_geo.detection``):
small sides of 10-28 px (areas below 32 x 32), medium 36-88 px, large from 100 px (the
image must be at least 128 px for them). Boxes are the extent of each shape's pixels
(those at least half covered), ``[x_min, y_min, x_max, y_max]`` with ``x_max``
exclusive. Shapes overlap little: two boxes share less than 15 % of the smaller one, so
no shape hides another.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import cv2
import numpy as np

from keras_geo._settings import Range
from keras_geo.datasets._registry import Dataset, register

__all__ = ["CLASSES", "SIDES", "draw_scene", "generate_scenes", "scenes"]

CLASSES = ("square", "disc", "triangle", "ring", "buoy", "rock")
"""The class names, in label order."""

SIDES = {"small": (10, 28), "medium": (36, 88), "large": (100, 150)}
"""The side of a shape's box in pixels, per COCO area bin (large: at most the image side less 16)."""

# How often each size bin is drawn (the ring: medium or large only).
_BIN_WEIGHTS = {"small": 0.4, "medium": 0.4, "large": 0.2}
_RING_BIN_WEIGHTS = {"medium": 0.6, "large": 0.4}
_SHAPES = ("square", "disc", "triangle", "cross")
_MAX_OVERLAP = 0.15  # of two objects' boxes: their intersection over the smaller box (none hides another)
_PLACEMENT_TRIES = 60
_SUPERSAMPLE = 4  # shapes are drawn at 4 x the resolution with 2 fractional bits: smooth edges


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"`{name}` must be an integer >= {low}. Received: {name}={value!r}")
    return int(value)


def _mask(shape: str, side: int, rng: np.random.Generator) -> np.ndarray:
    """The coverage (float32 in [0, 1]) of one shape in a ``side`` x ``side`` square."""
    big = side * _SUPERSAMPLE
    canvas = np.zeros((big, big), dtype=np.uint8)
    shift = 2  # fractional bits of the points below
    scale = 1 << shift

    def pts(points: np.ndarray) -> np.ndarray:
        return np.round(points * scale).astype(np.int32)

    if shape == "square":
        cv2.fillPoly(canvas, [pts(np.array([[0, 0], [big, 0], [big, big], [0, big]], float))], 255, cv2.LINE_8, shift)
    elif shape == "disc":
        cv2.circle(canvas, (big * scale // 2, big * scale // 2), big * scale // 2, 255, -1, cv2.LINE_8, shift)
    elif shape == "triangle":
        apex = rng.uniform(0.2, 0.8) * big  # the apex anywhere along the top: not always isosceles
        cv2.fillPoly(canvas, [pts(np.array([[apex, 0], [big, big], [0, big]], float))], 255, cv2.LINE_8, shift)
    elif shape == "ring":
        centre, radius = big * scale // 2, big * scale // 2
        cv2.circle(canvas, (centre, centre), radius, 255, -1, cv2.LINE_8, shift)
        inner = int(radius * rng.uniform(0.55, 0.75))
        cv2.circle(canvas, (centre, centre), inner, 0, -1, cv2.LINE_8, shift)
    elif shape == "cross":
        arm = big * rng.uniform(0.22, 0.34)
        low, high = (big - arm) / 2, (big + arm) / 2
        cv2.fillPoly(
            canvas, [pts(np.array([[low, 0], [high, 0], [high, big], [low, big]], float))], 255, cv2.LINE_8, shift
        )
        cv2.fillPoly(
            canvas, [pts(np.array([[0, low], [big, low], [big, high], [0, high]], float))], 255, cv2.LINE_8, shift
        )
    else:  # pragma: no cover - the callers draw from _SHAPES and "ring"
        raise ValueError(f"unknown shape {shape!r}")
    return cv2.resize(canvas, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _background(rng: np.random.Generator, size: int, channels: int) -> np.ndarray:
    """A smooth random field (low-frequency noise) around a random mid level, per channel."""
    coarse = rng.normal(size=(max(2, size // 24), max(2, size // 24), channels)).astype(np.float32)
    field = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).reshape(size, size, channels)
    level = rng.uniform(0.25, 0.55)
    return level + 0.06 * field


def _clutter(image: np.ndarray, rng: np.random.Generator, amount: float) -> None:
    """Unlabelled thin lines and dots (at most 5 pixels across, half the smallest object), drawn in place."""
    size = image.shape[0]
    for _ in range(int(rng.poisson(6.0 * amount))):
        colour = rng.uniform(0.0, 1.0, image.shape[2]).astype(np.float32)
        canvas = np.zeros((size, size), dtype=np.uint8)
        if rng.random() < 0.5:
            start, end = rng.integers(0, size, 2), rng.integers(0, size, 2)
            cv2.line(canvas, (int(start[0]), int(start[1])), (int(end[0]), int(end[1])), 255, 1, cv2.LINE_AA)
        else:
            centre = rng.integers(0, size, 2)
            cv2.circle(canvas, (int(centre[0]), int(centre[1])), int(rng.integers(1, 3)), 255, -1, cv2.LINE_AA)
        alpha = (canvas.astype(np.float32) / 255.0)[..., None]
        image *= 1.0 - alpha
        image += alpha * colour


def _colour(rng: np.random.Generator, background: float, channels: int) -> np.ndarray:
    """A colour whose mean differs from the background's by at least 0.25."""
    colour = rng.uniform(0.0, 1.0, channels)
    mean = float(colour.mean())
    if abs(mean - background) < 0.25:
        target = background + (0.3 if background < 0.5 else -0.3)
        colour = np.clip(colour + (target - mean), 0.0, 1.0)
    return colour.astype(np.float32)


def _overlap(box: np.ndarray, boxes: list[np.ndarray]) -> float:
    """The largest intersection of ``box`` with one of ``boxes``, over the smaller box's area (0 without boxes)."""
    if not boxes:
        return 0.0
    others = np.asarray(boxes)
    x0, y0 = np.maximum(box[0], others[:, 0]), np.maximum(box[1], others[:, 1])
    x1, y1 = np.minimum(box[2], others[:, 2]), np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return float((inter / np.minimum(area, areas)).max())


def _side(rng: np.random.Generator, weights: dict[str, float], size: int) -> int:
    bins = [b for b in weights if b != "large" or size >= 128]
    p = np.array([weights[b] for b in bins])
    low, high = SIDES[str(rng.choice(bins, p=p / p.sum()))]
    return int(rng.integers(low, min(high, size - 16) + 1))


def draw_scene(
    objects: list[tuple[str, int, int, int]],
    *,
    image_size: int = 192,
    channels: int = 3,
    clutter: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draws shapes at given places on a generated background: the building block of :func:`generate_scenes`.

    Args:
        objects: ``(shape, side, x, y)`` per shape, in drawing order: ``shape`` one of
            ``"square"``, ``"disc"``, ``"triangle"``, ``"ring"``, ``"cross"``; ``side`` its
            box side in pixels; ``(x, y)`` the box's top-left pixel.
        image_size: Pixels per side. Defaults to `192`.
        channels: 1 (grey) or 3 (RGB). Defaults to `3`.
        clutter: Expected unlabelled lines and dots per image, divided by 6. Defaults to `0.5`.
        seed: Seed of the background, clutter, colours and shape details. Defaults to `0`.

    Returns:
        ``(image, boxes)``: float32 ``(image_size, image_size, channels)`` in [0, 1] and
        float32 ``(len(objects), 4)`` boxes (each shape's half-covered pixels; the box of a
        shape hidden by later ones is still its own).

    Raises:
        ValueError: for an unknown shape, or a shape that does not fit in the image.
    """
    image_size = _check_int("image_size", image_size, 32)
    if channels not in (1, 3):
        raise ValueError(f"`channels` must be 1 or 3. Received: channels={channels!r}")
    if not 0.0 <= float(clutter) <= 10.0:
        raise ValueError(f"`clutter` must be in [0, 10]. Received: clutter={clutter!r}")
    rng = np.random.default_rng(seed)
    image = _background(rng, image_size, channels)
    level = float(image.mean())
    _clutter(image, rng, float(clutter))
    boxes = np.zeros((len(objects), 4), dtype=np.float32)
    for k, (shape, side, x, y) in enumerate(objects):
        if shape not in (*_SHAPES, "ring"):
            raise ValueError(f"`objects[{k}]`: unknown shape {shape!r}; use one of {', '.join((*_SHAPES, 'ring'))}")
        side, x, y = int(side), int(x), int(y)
        if side < 4 or x < 0 or y < 0 or x + side > image_size or y + side > image_size:
            raise ValueError(
                f"`objects[{k}]`: a {shape} of side {side} at ({x}, {y}) does not fit in {image_size} x {image_size}"
            )
        alpha = _mask(shape, side, rng)
        colour = _colour(rng, level, channels)
        region = image[y : y + side, x : x + side]
        region *= 1.0 - alpha[..., None]
        region += alpha[..., None] * colour
        rows, cols = np.nonzero(alpha >= 0.5)
        boxes[k] = [x + cols.min(), y + rows.min(), x + cols.max() + 1, y + rows.max() + 1]
    image += rng.normal(scale=0.02, size=image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0).astype(np.float32), boxes


def _layout(rng: np.random.Generator, size: int, max_objects: int, ring_fraction: float) -> list:
    """Shapes, sides and places of one scene: ``[(shape, class, side, x, y), ...]``."""
    with_ring = max_objects >= 2 and rng.random() < ring_fraction
    wanted = ["ring"] if with_ring else []
    wanted += [str(rng.choice(_SHAPES)) for _ in range(int(rng.integers(1, max_objects + 1 - len(wanted))))]
    placed: list[tuple[str, int, int, int, int]] = []
    boxes: list[np.ndarray] = []
    for shape in wanted:
        for _ in range(_PLACEMENT_TRIES):
            side = _side(rng, _RING_BIN_WEIGHTS if shape == "ring" else _BIN_WEIGHTS, size)
            x, y = (int(v) for v in rng.integers(2, size - side - 1, 2))
            box = np.array([x, y, x + side, y + side], dtype=np.float64)
            if _overlap(box, boxes) < _MAX_OVERLAP:
                label = shape if shape != "cross" else ("buoy" if with_ring else "rock")
                placed.append((shape, CLASSES.index(label), side, x, y))
                boxes.append(box)
                break
        else:
            if shape == "ring":  # no room for the ring: a scene without one, crosses are rocks
                with_ring = False
    return placed


def generate_scenes(
    n: int,
    *,
    image_size: int = 192,
    max_objects: int = 6,
    ring_fraction: float = 0.5,
    clutter: float = 0.5,
    channels: int = 3,
    seed: int = 0,
) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
    """``n`` generated scenes and their objects (see the module docstring for the classes and the rule).

    The same arguments give the same scenes.

    Args:
        n: Scenes to draw.
        image_size: Pixels per side, at least 64 (128 for large objects). Defaults to `192`.
        max_objects: Objects per scene at most (1 to ``max_objects``, the ring included).
            Defaults to `6`.
        ring_fraction: Share of scenes with a ring (when ``max_objects >= 2``). Defaults to `0.5`.
        clutter: Unlabelled lines and dots, 6 x ``clutter`` per image on average. Defaults to `0.5`.
        channels: 1 (grey) or 3 (RGB). Defaults to `3`.
        seed: Random seed (an integer >= 0). Defaults to `0`.

    Returns:
        ``(images, objects)``: float32 ``(n, image_size, image_size, channels)`` in [0, 1], and
        per scene ``{"boxes": float32 (k, 4), "classes": int64 (k,)}``.

    Raises:
        ValueError: one line, for a bad count, size, fraction or seed.
    """
    n = _check_int("n", n, 0)
    image_size = _check_int("image_size", image_size, 64)
    max_objects = _check_int("max_objects", max_objects, 1)
    seed = _check_int("seed", seed, 0)
    if channels not in (1, 3):
        raise ValueError(f"`channels` must be 1 or 3. Received: channels={channels!r}")
    if not 0.0 <= float(ring_fraction) <= 1.0:
        raise ValueError(f"`ring_fraction` must be in [0, 1]. Received: ring_fraction={ring_fraction!r}")
    images = np.empty((n, image_size, image_size, channels), dtype=np.float32)
    objects = []
    # One stream per scene: a scene does not change when the count changes.
    for k, stream in enumerate(np.random.SeedSequence(seed).spawn(n)):
        rng = np.random.default_rng(stream)
        layout = _layout(rng, image_size, max_objects, float(ring_fraction))
        images[k], boxes = draw_scene(
            [(shape, side, x, y) for shape, _, side, x, y in layout],
            image_size=image_size,
            channels=channels,
            clutter=clutter,
            seed=int(rng.integers(2**31)),
        )
        objects.append({"boxes": boxes, "classes": np.array([c for _, c, *_ in layout], dtype=np.int64)})
    return images, objects


@register("scenes", task="detection")
def scenes(
    n_train: Annotated[int, Range(1)] = 300,
    n_val: Annotated[int, Range(1)] = 60,
    n_test: Annotated[int, Range(1)] = 60,
    image_size: Annotated[int, Range(64)] = 192,
    max_objects: Annotated[int, Range(1)] = 6,
    ring_fraction: Annotated[float, Range(0.0, 1.0)] = 0.5,
    clutter: Annotated[float, Range(0.0, 10.0)] = 0.5,
    channels: Literal[1, 3] = 3,
    seed: Annotated[int, Range(0)] = 0,
) -> Dataset:
    """Generated detection scenes: 6 classes of shapes in COCO's size bins, clutter, and a context rule."""
    splits = {}
    # Draws seed, seed + 1, seed + 2: no scene is in two splits.
    for i, (split, count) in enumerate((("train", n_train), ("val", n_val), ("test", n_test))):
        splits[split] = generate_scenes(
            count,
            image_size=image_size,
            max_objects=max_objects,
            ring_fraction=ring_fraction,
            clutter=clutter,
            channels=channels,
            seed=seed + i,
        )
    return Dataset(
        splits,
        class_names=CLASSES,
        info={"context_rule": "a cross is a buoy in a scene with a ring, a rock in a scene without one"},
    )
