"""Boxes in numpy: format conversions, area, clipping, scaling, COCO's size bins.

IoU and the Faster R-CNN deltas are in :mod:`keras_geo.detection.targets` (``keras.ops``, which
take numpy arrays too).

Boxes are ``[x_min, y_min, x_max, y_max]`` in continuous pixel coordinates (see
:mod:`keras_geo.detection`); the other formats are COCO's ``[x, y, width, height]``
(``xywh``) and centre-size ``[cx, cy, width, height]`` (``cxcywh``). Every function takes
``(..., 4)`` arrays (``(k, 4)`` with ``k = 0`` included, lists too) and returns float32.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "AREA_BINS",
    "area",
    "clip",
    "cxcywh_to_xyxy",
    "pairwise_iou",
    "scale",
    "size_bin",
    "xywh_to_xyxy",
    "xyxy_to_cxcywh",
    "xyxy_to_xywh",
]

# COCO's area bins in pixels of the image, as [low, high) intervals: each box gets exactly one
# bin, so a box of area exactly 32**2 is "medium" and one of 96**2 is "large". pycocotools'
# COCOeval (cocoeval.py, Params.setDetParams and evaluateImg) uses the same limits but closed
# intervals -- a ground truth is ignored when `area < lo or area > hi` -- so there a box of area
# exactly 32**2 counts in both the small and the medium AP; the two agree everywhere else.
AREA_BINS = {"small": (0, 32**2), "medium": (32**2, 96**2), "large": (96**2, math.inf)}


def _boxes(boxes, name: str = "boxes") -> np.ndarray:
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim == 0 or array.shape[-1] != 4:
        raise ValueError(f"`{name}` must have shape (..., 4). Received: {name}.shape={array.shape}")
    return array


def _stack(a, b, c, d) -> np.ndarray:
    return np.stack([a, b, c, d], axis=-1).astype(np.float32)


def xyxy_to_xywh(boxes) -> np.ndarray:
    """``[x_min, y_min, x_max, y_max]`` to COCO's ``[x_min, y_min, width, height]``.

    Args:
        boxes: ``(..., 4)`` boxes.

    Returns:
        float32 ``(..., 4)``.
    """
    b = _boxes(boxes)
    return _stack(b[..., 0], b[..., 1], b[..., 2] - b[..., 0], b[..., 3] - b[..., 1])


def xywh_to_xyxy(boxes) -> np.ndarray:
    """COCO's ``[x_min, y_min, width, height]`` to ``[x_min, y_min, x_max, y_max]``.

    Args:
        boxes: ``(..., 4)`` boxes.

    Returns:
        float32 ``(..., 4)``.
    """
    b = _boxes(boxes)
    return _stack(b[..., 0], b[..., 1], b[..., 0] + b[..., 2], b[..., 1] + b[..., 3])


def xyxy_to_cxcywh(boxes) -> np.ndarray:
    """``[x_min, y_min, x_max, y_max]`` to ``[cx, cy, width, height]``.

    Args:
        boxes: ``(..., 4)`` boxes.

    Returns:
        float32 ``(..., 4)``.
    """
    b = _boxes(boxes)
    return _stack(
        (b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2, b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    )


def cxcywh_to_xyxy(boxes) -> np.ndarray:
    """``[cx, cy, width, height]`` to ``[x_min, y_min, x_max, y_max]``.

    Args:
        boxes: ``(..., 4)`` boxes.

    Returns:
        float32 ``(..., 4)``.
    """
    b = _boxes(boxes)
    half_w, half_h = b[..., 2] / 2, b[..., 3] / 2
    return _stack(b[..., 0] - half_w, b[..., 1] - half_h, b[..., 0] + half_w, b[..., 1] + half_h)


def _area(b: np.ndarray) -> np.ndarray:
    return np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)


def pairwise_iou(a, b) -> np.ndarray:
    """The intersection over union of every box of ``a`` with every box of ``b``, in float64.

    The numpy twin of :func:`keras_geo.detection.targets.pairwise_iou` (``keras.ops``, for
    training), for loops over frames where a tensor per call would cost more than the sum.

    Args:
        a: ``(n, 4)`` boxes.
        b: ``(m, 4)`` boxes.

    Returns:
        float64 ``(n, m)``; 0 where the union is empty.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)[:, None, :]
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)[None, :, :]
    corner_low = np.maximum(a[..., :2], b[..., :2])
    corner_high = np.minimum(a[..., 2:], b[..., 2:])
    inter = np.prod(np.clip(corner_high - corner_low, 0, None), axis=-1)
    union = _area(a) + _area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def area(boxes) -> np.ndarray:
    """Areas in square pixels, 0 for boxes whose ``x_max <= x_min`` or ``y_max <= y_min``.

    Args:
        boxes: ``(..., 4)`` boxes.

    Returns:
        float32 ``(...)``.
    """
    return _area(_boxes(boxes)).astype(np.float32)


def clip(boxes, height: float, width: float) -> np.ndarray:
    """Boxes clipped to the image: x to ``[0, width]``, y to ``[0, height]``.

    A box wholly outside becomes a zero-area box on the edge (see :func:`area`).

    Args:
        boxes: ``(..., 4)`` boxes.
        height: The image's height in pixels.
        width: The image's width in pixels.

    Returns:
        float32 ``(..., 4)``.
    """
    b = _boxes(boxes)
    return _stack(
        np.clip(b[..., 0], 0, width),
        np.clip(b[..., 1], 0, height),
        np.clip(b[..., 2], 0, width),
        np.clip(b[..., 3], 0, height),
    )


def scale(boxes, sy: float, sx: float) -> np.ndarray:
    """Boxes of an image resized by ``sy`` vertically and ``sx`` horizontally.

    For an image resized from ``(h, w)`` to ``(new_h, new_w)``, ``sy = new_h / h`` and
    ``sx = new_w / w`` (continuous coordinates scale exactly).

    Args:
        boxes: ``(..., 4)`` boxes.
        sy: Factor of the y coordinates.
        sx: Factor of the x coordinates.

    Returns:
        float32 ``(..., 4)``.
    """
    b = _boxes(boxes)
    return (b * np.array([sx, sy, sx, sy])).astype(np.float32)


def size_bin(boxes) -> np.ndarray:
    """Each box's COCO size bin by area: ``"small"`` below 32**2, ``"medium"`` below 96**2, else ``"large"``.

    The bins are :data:`AREA_BINS`, half-open: area exactly ``32**2`` is medium (pycocotools
    counts such a box in both small and medium, see :data:`AREA_BINS`).

    Args:
        boxes: ``(..., 4)`` boxes, in pixels of the image.

    Returns:
        A string array ``(...)`` of ``"small"``, ``"medium"`` and ``"large"``.
    """
    areas = _area(_boxes(boxes))
    bins = np.full(areas.shape, "large", dtype="<U6")
    bins[areas < AREA_BINS["large"][0]] = "medium"
    bins[areas < AREA_BINS["medium"][0]] = "small"
    return bins
