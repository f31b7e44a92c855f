"""Boxes drawn on images (OpenCV): ground truth and detections with their class and score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

__all__ = ["PALETTE", "detections_of", "draw_boxes"]

PALETTE = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
)
"""RGB colours of the classes, in turn (Sasha Trubetskoy's distinct colours)."""


def detections_of(predicted: Mapping[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """A detector's padded output (``boxes``, ``scores``, ``classes``, ``count``) as one dict per image."""
    counts = np.asarray(predicted["count"]).astype(int)
    return [
        {
            "boxes": np.asarray(predicted["boxes"][i][:k], dtype=np.float32),
            "scores": np.asarray(predicted["scores"][i][:k], dtype=np.float32),
            "classes": np.asarray(predicted["classes"][i][:k]).astype(np.int64),
        }
        for i, k in enumerate(counts)
    ]


def _uint8_rgb(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = np.clip(np.round(np.asarray(array, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return np.ascontiguousarray(array[..., :3])


def draw_boxes(
    image: np.ndarray,
    found: Mapping[str, Any],
    *,
    class_names: Sequence[str] | None = None,
    truth: Mapping[str, Any] | None = None,
    min_score: float = 0.0,
    scale: int = 1,
) -> np.ndarray:
    """The image with its boxes: detections in their class's colour with ``class score``, ground truth in white.

    Args:
        image: ``(height, width)`` or ``(height, width, 1 or 3)``, float in [0, 1] or uint8.
        found: ``{"boxes": (k, 4), "classes": (k,)}`` and, for detections, ``"scores"``.
        class_names: Names of the classes for the labels. Defaults to `None` (numbers).
        truth: Ground-truth objects, drawn first as thin white boxes. Defaults to `None`.
        min_score: Detections below this score are left out. Defaults to `0.0`.
        scale: Upscale the image this many times first (small images, readable labels).
            Defaults to `1`.

    Returns:
        uint8 RGB ``(height * scale, width * scale, 3)``.
    """
    scale = max(1, int(scale))
    canvas = _uint8_rgb(image)
    if scale > 1:
        canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    if truth is not None:
        for box in np.asarray(truth["boxes"], dtype=np.float32).reshape(-1, 4):
            x0, y0, x1, y1 = (int(round(v * scale)) for v in box)
            cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), (255, 255, 255), 1, cv2.LINE_8)
    boxes = np.asarray(found["boxes"], dtype=np.float32).reshape(-1, 4)
    classes = np.asarray(found["classes"]).reshape(-1).astype(int)
    scores = np.asarray(found["scores"], dtype=np.float32).reshape(-1) if "scores" in found else None
    order = np.argsort(scores) if scores is not None else np.arange(len(boxes))  # best drawn last, on top
    for i in order:
        if scores is not None and scores[i] < min_score:
            continue
        colour = PALETTE[classes[i] % len(PALETTE)]
        x0, y0, x1, y1 = (int(round(v * scale)) for v in boxes[i])
        cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), colour, 2 if scale > 1 else 1, cv2.LINE_8)
        name = (
            class_names[classes[i]]
            if class_names is not None and 0 <= classes[i] < len(class_names)
            else str(classes[i])
        )
        label = name if scores is None else f"{name} {scores[i]:.2f}"
        (width, height), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        top = max(y0 - height - 3, 0)
        cv2.rectangle(canvas, (x0, top), (x0 + width + 2, top + height + 3), colour, -1)
        cv2.putText(canvas, label, (x0 + 1, top + height + 1), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas
