"""Training targets of a two-stage detector, batched in ``keras.ops``: IoU, box deltas, matching, sampling.

Ground truth enters a batch padded: ``boxes (batch, max_objects, 4)`` and ``classes
(batch, max_objects)`` with class ``-1`` for padding. Everything here keeps the batch's
static shapes, so it runs inside a compiled ``train_step``.

Box deltas are Faster R-CNN's (Girshick, 2015), of a box against a reference box (anchor
or proposal) of centre ``(x_a, y_a)`` and size ``(w_a, h_a)``, with weights
``(w_x, w_y, w_w, w_h)``:

    dx = w_x (x - x_a) / w_a      dy = w_y (y - y_a) / h_a
    dw = w_w log(w / w_a)         dh = w_h log(h / h_a)

and decoding clamps ``dw / w_w`` and ``dh / w_h`` at ``log(1000 / 16)``, as Detectron2
and torchvision do, so that an untrained head cannot overflow ``exp``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import ops

__all__ = [
    "CLAMP",
    "RPN_WEIGHTS",
    "HEAD_WEIGHTS",
    "decode",
    "encode",
    "match",
    "pairwise_iou",
    "sample",
]

RPN_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
"""Delta weights of the region proposal network (Detectron2's)."""
HEAD_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
"""Delta weights of the box head (Detectron2's)."""
CLAMP = math.log(1000.0 / 16.0)
"""The largest ``dw``, ``dh`` (unweighted) that decoding applies."""


def _centres(boxes):
    widths = boxes[..., 2] - boxes[..., 0]
    heights = boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + 0.5 * widths, boxes[..., 1] + 0.5 * heights, widths, heights


def pairwise_iou(a, b):
    """IoU of every box of ``a`` ``(..., n, 4)`` with every box of ``b`` ``(..., m, 4)``: ``(..., n, m)``.

    Continuous coordinates, no ``+ 1`` (as pycocotools); 0 where the union is empty.
    """
    a, b = a[..., :, None, :], b[..., None, :, :]
    width = ops.maximum(ops.minimum(a[..., 2], b[..., 2]) - ops.maximum(a[..., 0], b[..., 0]), 0.0)
    height = ops.maximum(ops.minimum(a[..., 3], b[..., 3]) - ops.maximum(a[..., 1], b[..., 1]), 0.0)
    inter = width * height
    area_a = ops.maximum(a[..., 2] - a[..., 0], 0.0) * ops.maximum(a[..., 3] - a[..., 1], 0.0)
    area_b = ops.maximum(b[..., 2] - b[..., 0], 0.0) * ops.maximum(b[..., 3] - b[..., 1], 0.0)
    union = area_a + area_b - inter
    return ops.where(union > 0.0, inter / ops.maximum(union, 1e-9), 0.0)


def encode(boxes, references, weights: Sequence[float] = HEAD_WEIGHTS):
    """The deltas ``(..., 4)`` that take ``references`` to ``boxes`` (both ``(..., 4)``, positive sizes)."""
    x, y, w, h = _centres(boxes)
    xa, ya, wa, ha = _centres(references)
    wa, ha = ops.maximum(wa, 1e-6), ops.maximum(ha, 1e-6)
    wx, wy, ww, wh = (float(v) for v in weights)
    return ops.stack(
        [
            wx * (x - xa) / wa,
            wy * (y - ya) / ha,
            ww * ops.log(ops.maximum(w, 1e-6) / wa),
            wh * ops.log(ops.maximum(h, 1e-6) / ha),
        ],
        axis=-1,
    )


def decode(deltas, references, weights: Sequence[float] = HEAD_WEIGHTS):
    """The boxes ``(..., 4)`` that ``deltas`` make of ``references`` (inverse of :func:`encode`, sizes clamped)."""
    xa, ya, wa, ha = _centres(references)
    wx, wy, ww, wh = (float(v) for v in weights)
    dx, dy = deltas[..., 0] / wx, deltas[..., 1] / wy
    dw = ops.minimum(deltas[..., 2] / ww, CLAMP)
    dh = ops.minimum(deltas[..., 3] / wh, CLAMP)
    x, y = xa + dx * wa, ya + dy * ha
    w, h = wa * ops.exp(dw), ha * ops.exp(dh)
    return ops.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], axis=-1)


def match(iou, valid, *, high: float, low: float, keep_best: bool):
    """Matches each of ``n`` boxes (anchors, proposals) with the object it overlaps best.

    Args:
        iou: ``(batch, n, m)`` IoU of the boxes with the objects.
        valid: ``(batch, m)`` bool, False for padded objects.
        high: IoU at or above which a box is positive.
        low: IoU below which a box is negative; between ``low`` and ``high`` it is ignored.
        keep_best: Also make positive, for each object, the boxes that overlap it best (its
            only chance when no box reaches ``high``; Faster R-CNN's RPN rule).

    Returns:
        ``(index, label)``: int32 ``(batch, n)`` the matched object of each box (0 when
        there is none), and int32 ``(batch, n)`` labels: 1 positive, 0 negative, -1 ignored.
    """
    iou = ops.where(valid[:, None, :], iou, -1.0)
    best = ops.max(iou, axis=2)
    index = ops.cast(ops.argmax(iou, axis=2), "int32")
    label = ops.where(best >= high, 1, ops.where(best < low, 0, -1))
    if keep_best:
        per_object = ops.max(iou, axis=1, keepdims=True)  # (batch, 1, m)
        is_best = ops.logical_and(ops.equal(iou, per_object), per_object > 0.0)
        is_best = ops.logical_and(is_best, valid[:, None, :])
        label = ops.where(ops.any(is_best, axis=2), 1, label)
    has_object = ops.any(valid, axis=1, keepdims=True)
    label = ops.where(has_object, label, 0)  # an image without objects: every box is background
    return index, ops.cast(label, "int32")


def sample(label, count: int, positive_fraction: float, seed: keras.random.SeedGenerator):
    """Chooses ``count`` boxes per image for the loss: positives first (at most ``positive_fraction``), then negatives.

    Among equals the choice is random (seeded), without replacement; ignored boxes
    (label -1) are never chosen. Fewer than ``count`` are chosen when there are not enough.

    Args:
        label: int32 ``(batch, n)``: 1 positive, 0 negative, -1 ignored.
        count: Boxes per image.
        positive_fraction: The largest share of positives.
        seed: The generator of the random order.

    Returns:
        float32 ``(batch, n)``: 1 for the chosen boxes, 0 otherwise.
    """
    noise = keras.random.uniform(ops.shape(label), seed=seed)
    positive = ops.equal(label, 1)
    negative = ops.equal(label, 0)
    # Each box's rank among its kind in a random order (the other kinds sorted after it): argsort of argsort.
    rank_pos = ops.argsort(ops.argsort(ops.where(positive, noise, 2.0), axis=1), axis=1)
    rank_neg = ops.argsort(ops.argsort(ops.where(negative, noise, 2.0), axis=1), axis=1)
    n_pos = ops.minimum(ops.sum(ops.cast(positive, "int32"), axis=1, keepdims=True), int(count * positive_fraction))
    n_neg = ops.minimum(ops.sum(ops.cast(negative, "int32"), axis=1, keepdims=True), count - n_pos)
    chosen = ops.logical_or(
        ops.logical_and(positive, rank_pos < n_pos),
        ops.logical_and(negative, rank_neg < n_neg),
    )
    return ops.cast(chosen, "float32")
