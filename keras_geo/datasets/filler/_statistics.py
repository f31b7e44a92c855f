"""Per-image morphology statistics of filler slices."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ._imaging import _as_image_stack
from ._validation import _check_float, _check_int


def class_statistics(images: Any, *, threshold: float = 0.5, windows: int = 4) -> dict[str, np.ndarray]:
    """Simple per-image morphology statistics.

    Args:
        images: `(H, W)`, `(N, H, W)` or `(N, H, W, 1)` array.
        threshold: Pixels above it are filler. Defaults to `0.5`.
        windows: The image is cut into ``windows x windows`` sub-windows for
            the heterogeneity measure. Defaults to `4`.

    Returns:
        Dict of `(N,)` float64 arrays:

        * ``"area_fraction"``: mean pixel value (filler area fraction).
        * ``"n_components"``: number of 4-connected filler regions
          ("discs"; touching sections merge).
        * ``"mean_component_area"``: their mean area in pixels (0 if none).
        * ``"max_component_area"``: the largest one's area in pixels.
        * ``"heterogeneity"``: coefficient of variation (std / mean) of the
          area fraction over the sub-windows; NaN for an empty image (use
          ``np.nanmean`` to average).
    """
    stack, _ = _as_image_stack(images)
    thr = _check_float("threshold", threshold, low=None)
    w = _check_int("windows", windows, 1)
    n, h, wd = stack.shape
    if h < w or wd < w:
        raise ValueError(f"`windows` must not exceed the image size. Received: windows={windows!r}")
    area = stack.mean(axis=(1, 2)).astype(np.float64)
    n_comp = np.zeros(n)
    mean_area = np.zeros(n)
    max_area = np.zeros(n)
    binary = (stack > thr).astype(np.uint8)
    for i in range(n):
        k, _, stats, _ = cv2.connectedComponentsWithStats(binary[i], connectivity=4)
        areas = stats[1:, cv2.CC_STAT_AREA]
        n_comp[i] = k - 1
        if len(areas):
            mean_area[i] = areas.mean()
            max_area[i] = areas.max()
    hh, ww = (h // w) * w, (wd // w) * w
    sub = stack[:, :hh, :ww].reshape(n, w, hh // w, w, ww // w).mean(axis=(2, 4)).reshape(n, -1)
    mean = sub.mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        het = np.where(mean > 0, sub.std(axis=1) / np.where(mean > 0, mean, 1.0), np.nan)
    return {
        "area_fraction": area,
        "n_components": n_comp,
        "mean_component_area": mean_area,
        "max_component_area": max_area,
        "heterogeneity": het.astype(np.float64),
    }
