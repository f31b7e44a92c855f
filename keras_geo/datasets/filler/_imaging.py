"""Imaging effects: Gaussian blur (finite resolution) and additive noise."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ._validation import _check_float, _check_seed


def _as_image_stack(images: Any, name: str = "images") -> tuple[np.ndarray, tuple[int, ...]]:
    arr = np.asarray(images)
    shape = arr.shape
    if arr.ndim == 2:
        stack = arr[None]
    elif arr.ndim == 3:
        stack = arr
    elif arr.ndim == 4 and arr.shape[-1] == 1:
        stack = arr[..., 0]
    else:
        raise ValueError(f"`{name}` must have shape (H, W), (N, H, W) or (N, H, W, 1). Received: {name}.shape={shape}")
    if not np.issubdtype(arr.dtype, np.number) or arr.dtype.kind == "c":
        raise ValueError(f"`{name}` must hold real numbers. Received: {name}.dtype={arr.dtype}")
    return stack.astype(np.float32, copy=False), shape


def apply_imaging(
    images: Any,
    *,
    blur_sigma_px: float = 0.0,
    noise_std: float = 0.0,
    seed: int = 0,
    clip: bool = True,
) -> np.ndarray:
    """Optional imaging effects: Gaussian blur (finite resolution) and noise.

    Blur is ``cv2.GaussianBlur`` with reflecting borders; noise is additive,
    Gaussian, independent per pixel. With both at 0 the input is returned as
    float32 (a copy).

    Args:
        images: `(H, W)`, `(N, H, W)` or `(N, H, W, 1)` array.
        blur_sigma_px: Standard deviation of the blur in pixels (>= 0).
            Defaults to `0.0`.
        noise_std: Standard deviation of the noise (>= 0), in image units.
            Defaults to `0.0`.
        seed: Non-negative integer seed of the noise. Defaults to `0`.
        clip: Clip the result to ``[0, 1]`` so it stays a valid image (noise
            on the 0-valued matrix is then half-rectified). Defaults to `True`.

    Returns:
        float32 array of the input's shape.
    """
    stack, shape = _as_image_stack(images)
    sigma = _check_float("blur_sigma_px", blur_sigma_px, low=0.0, low_open=False)
    noise = _check_float("noise_std", noise_std, low=0.0, low_open=False)
    seed = _check_seed(seed)
    out = np.array(stack, dtype=np.float32, copy=True)
    if sigma > 0:
        for i in range(len(out)):
            out[i] = cv2.GaussianBlur(out[i], (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    if noise > 0:
        rng = np.random.default_rng(seed)
        out += rng.normal(0.0, noise, size=out.shape).astype(np.float32)
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out.reshape(shape)
