"""Heatmaps drawn over images with OpenCV's colormaps (JET: red = attended), and labelled grids as PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["colorize", "overlay", "save_grid", "to_uint8_rgb"]


def to_uint8_rgb(image: Any) -> np.ndarray:
    """An image as ``(h, w, 3)`` uint8 RGB: grey is repeated, floats are scaled from their range.

    Floats in [0, 1] are taken as they are; any other float range is stretched to 0..255
    (e.g. images standardised for a network).
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ValueError(f"expected an (h, w), (h, w, 1), (h, w, 3) or (h, w, 4) image; received {array.shape}")
    array = array[..., :3]
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    array = array.astype("float32")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return np.ascontiguousarray(np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8))


def colorize(heatmap: Any, colormap: int | None = None) -> np.ndarray:
    """A heatmap in [0, 1] as an ``(h, w, 3)`` uint8 RGB image through an OpenCV colormap (default JET)."""
    import cv2

    colormap = cv2.COLORMAP_JET if colormap is None else colormap
    heat = np.asarray(heatmap, dtype="float32")
    if heat.ndim != 2:
        raise ValueError(f"a heatmap is (h, w); received {heat.shape}")
    levels = np.clip(np.rint(np.nan_to_num(heat) * 255.0), 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, colormap), cv2.COLOR_BGR2RGB)


def overlay(image: Any, heatmap: Any, alpha: float = 0.4, colormap: int | None = None) -> np.ndarray:
    """The heatmap, coloured (red = attended with JET), blended over the image.

    Args:
        image: ``(h, w)``, ``(h, w, 1)`` or ``(h, w, 3)`` RGB, uint8 or float.
        heatmap: ``(h', w')`` in [0, 1]; resized to the image if its size differs.
        alpha: Weight of the heatmap in the blend, in [0, 1]. Defaults to `0.4`.
        colormap: An OpenCV colormap. Defaults to `cv2.COLORMAP_JET`.

    Returns:
        ``(h, w, 3)`` uint8 RGB.
    """
    import cv2

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]. Received: alpha={alpha}")
    base = to_uint8_rgb(image)
    heat = np.asarray(heatmap, dtype="float32")
    if heat.shape != base.shape[:2]:
        heat = cv2.resize(heat, (base.shape[1], base.shape[0]), interpolation=cv2.INTER_LINEAR)
    return cv2.addWeighted(colorize(heat, colormap), alpha, base, 1.0 - alpha, 0.0)


def save_grid(
    path: str | Path,
    images: Any,
    heatmaps: Any,
    *,
    true_labels: Sequence[str] | None = None,
    predicted_labels: Sequence[str] | None = None,
    title: str | None = None,
    alpha: float = 0.4,
    colormap: int | None = None,
) -> Path:
    """Saves a PNG grid: one row per image (original, heatmap, overlay), labelled with true / predicted class.

    Args:
        path: Output PNG; folders are created.
        images: ``n`` images (any form :func:`overlay` takes).
        heatmaps: ``n`` heatmaps in [0, 1].
        true_labels: Class name of each image, if known.
        predicted_labels: The model's class for each image.
        title: A title over the grid.
        alpha: Heatmap weight in the overlays. Defaults to `0.4`.
        colormap: An OpenCV colormap. Defaults to JET.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images, heatmaps = list(images), list(heatmaps)
    if len(images) != len(heatmaps) or not images:
        raise ValueError(f"need as many heatmaps as images (at least one); received {len(images)} and {len(heatmaps)}")
    n = len(images)
    fig, axes = plt.subplots(n, 3, figsize=(7.5, 2.5 * n + (0.4 if title else 0)), squeeze=False)
    for row, (image, heat) in enumerate(zip(images, heatmaps)):
        labels = []
        if true_labels is not None:
            labels.append(f"true: {true_labels[row]}")
        if predicted_labels is not None:
            labels.append(f"predicted: {predicted_labels[row]}")
        panels = (to_uint8_rgb(image), colorize(heat, colormap), overlay(image, heat, alpha, colormap))
        for col, (panel, name) in enumerate(zip(panels, ("image", "heatmap", "overlay"))):
            axes[row, col].imshow(panel, interpolation="nearest")
            axes[row, col].set_xticks([])
            axes[row, col].set_yticks([])
            if row == 0:
                axes[row, col].set_title(name, fontsize=10)
        if labels:
            axes[row, 0].set_ylabel("\n".join(labels), fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
