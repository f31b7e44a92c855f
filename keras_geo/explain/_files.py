"""Explanations written to files: an overlay PNG per image and one labelled grid (CLI ``explain`` and reports)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from keras_geo.explain._cam import cam, grad_cam, grad_cam_plus_plus
from keras_geo.explain._overlay import overlay, save_grid

__all__ = ["ExplainedImages", "METHODS", "explain_to_files", "pick_per_class"]

METHODS = {"gradcam": grad_cam, "gradcam++": grad_cam_plus_plus, "cam": cam}
_TITLES = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "cam": "CAM"}


@dataclass
class ExplainedImages:
    """What :func:`explain_to_files` wrote and found."""

    grid: Path
    overlays: list[Path] = field(default_factory=list)
    predicted: list[int] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    heatmaps: np.ndarray | None = None


def pick_per_class(y: np.ndarray, per_class: int = 2) -> np.ndarray:
    """Indices of the first ``per_class`` examples of each class, in class order (a small, fair sample)."""
    y = np.asarray(y)
    return np.concatenate([np.flatnonzero(y == c)[:per_class] for c in np.unique(y)]).astype(int)


def explain_to_files(
    model: Any,
    images: np.ndarray,
    out_dir: str | Path,
    *,
    method: str = "gradcam",
    class_index: int | Sequence[int] | None = None,
    layer: str | None = None,
    class_names: Sequence[str] | None = None,
    true_labels: Sequence[int] | None = None,
    names: Sequence[str] | None = None,
    grid_name: str = "grid.png",
    grid_rows: int = 8,
    title: str | None = None,
    overlays: bool = True,
    batch_size: int = 32,
) -> ExplainedImages:
    """Explains ``images`` with ``method`` and writes the overlays and a grid PNG into ``out_dir``.

    Args:
        model: A Keras classifier.
        images: ``(n, h, w, c)`` as the model takes them.
        out_dir: Output folder (created).
        method: ``"gradcam"``, ``"gradcam++"`` or ``"cam"``. Defaults to `"gradcam"`.
        class_index: Class to explain (one, or one per image). Defaults to the predicted class.
        layer: Feature layer name. Defaults to the last 4-D layer.
        class_names: Names of the model's classes, for the labels.
        true_labels: True class of each image, if known.
        names: A file stem per image for the overlays. Defaults to ``image_0000`` ...
        grid_name: File name of the grid. Defaults to `"grid.png"`.
        grid_rows: At most this many images in the grid. Defaults to `8`.
        title: Title of the grid. Defaults to the method's name.
        overlays: Also write one overlay PNG per image. Defaults to `True`.
        batch_size: Images per gradient pass. Defaults to `32`.
    """
    import cv2

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}. Received: method={method!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = np.asarray(images, dtype="float32")
    per_image = None if class_index is None else np.broadcast_to(np.asarray(class_index), (len(images),))
    heat_parts, predicted, confidence = [], [], []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        target = None if per_image is None else per_image[start : start + batch_size]
        heat_parts.append(METHODS[method](model, chunk, target, layer))
        probabilities = np.asarray(model(chunk, training=False))
        predicted += probabilities.argmax(-1).tolist()
        confidence += probabilities.max(-1).astype(float).tolist()
    heatmaps = np.concatenate(heat_parts)

    def label(index: int) -> str:
        return class_names[index] if class_names is not None and index < len(class_names) else str(index)

    written = []
    if overlays:
        for i, (image, heat) in enumerate(zip(images, heatmaps)):
            stem = names[i] if names is not None else f"image_{i:04d}"
            path = out / f"{stem}_{method.replace('+', 'pp')}.png"
            cv2.imwrite(str(path), cv2.cvtColor(overlay(image, heat), cv2.COLOR_RGB2BGR))
            written.append(path)
    shown = slice(0, grid_rows)
    grid = save_grid(
        out / grid_name,
        images[shown],
        heatmaps[shown],
        true_labels=None if true_labels is None else [label(int(t)) for t in list(true_labels)[shown]],
        predicted_labels=[f"{label(p)} ({c:.0%})" for p, c in zip(predicted[shown], confidence[shown])],
        title=title or _TITLES[method],
    )
    return ExplainedImages(grid, written, predicted, confidence, heatmaps)
