"""Anchor boxes of a feature pyramid: one grid of anchors per level, in pixels of the image.

Level ``l`` has stride ``strides[l]`` (pixels of the image per cell) and anchors of one
size, ``sizes[l]`` (the side of the square anchor), at every aspect ratio of ``ratios``
(height over width, the area kept): ``len(ratios)`` anchors per cell, centred on the
cell's centre ``((j + 0.5) * stride, (i + 0.5) * stride)``. The order is level-major,
then row, column and ratio, as the region proposal network's outputs are flattened.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["anchor_grid", "anchors", "feature_sizes"]


def _positive(name: str, values: Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(v) for v in values)
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"`{name}` must be positive numbers. Received: {name}={values!r}")
    return values


def feature_sizes(image_size: Sequence[int], strides: Sequence[int]) -> list[tuple[int, int]]:
    """``(rows, columns)`` of each level's grid: ``ceil(side / stride)``, as 'same'-padded strided layers give."""
    height, width = (int(v) for v in image_size)
    return [(math.ceil(height / int(s)), math.ceil(width / int(s))) for s in strides]


def anchor_grid(rows: int, columns: int, stride: float, size: float, ratios: Sequence[float]) -> np.ndarray:
    """The anchors of one level: float32 ``(rows * columns * len(ratios), 4)``, ``[x_min, y_min, x_max, y_max]``."""
    ratios = np.asarray(_positive("ratios", ratios))
    heights = size * np.sqrt(ratios)  # height / width = ratio, height * width = size**2
    widths = size / np.sqrt(ratios)
    cy = (np.arange(rows) + 0.5) * stride
    cx = (np.arange(columns) + 0.5) * stride
    cy, cx = np.meshgrid(cy, cx, indexing="ij")
    centres = np.stack([cx, cy], axis=-1).reshape(-1, 1, 2)
    half = np.stack([widths, heights], axis=-1).reshape(1, -1, 2) / 2.0
    boxes = np.concatenate([centres - half, centres + half], axis=-1)
    return boxes.reshape(-1, 4).astype(np.float32)


def anchors(
    image_size: Sequence[int],
    strides: Sequence[int] = (8, 16, 32),
    sizes: Sequence[float] = (16, 48, 128),
    ratios: Sequence[float] = (0.5, 1.0, 2.0),
) -> tuple[np.ndarray, list[int]]:
    """Every level's anchors for an image of ``image_size`` pixels, concatenated.

    Args:
        image_size: ``(height, width)`` of the images.
        strides: Each level's stride in pixels. Defaults to `(8, 16, 32)`.
        sizes: Each level's anchor side in pixels (the square root of its area). Defaults
            to `(16, 48, 128)`: COCO's small, medium and large objects of a 192-pixel image.
        ratios: Aspect ratios, height over width. Defaults to `(0.5, 1.0, 2.0)`.

    Returns:
        ``(boxes, counts)``: float32 ``(n_anchors, 4)`` boxes, and the number of anchors of
        each level.

    Raises:
        ValueError: one line, for strides and sizes of different lengths, or values that
            are not positive.
    """
    strides = _positive("strides", strides)
    sizes = _positive("sizes", sizes)
    if len(strides) != len(sizes):
        raise ValueError(
            f"`sizes` must give one anchor size per level ({len(strides)} strides). Received: sizes={sizes!r}"
        )
    grids = [
        anchor_grid(rows, columns, stride, size, ratios)
        for (rows, columns), stride, size in zip(feature_sizes(image_size, [int(s) for s in strides]), strides, sizes)
    ]
    return np.concatenate(grids), [len(g) for g in grids]
