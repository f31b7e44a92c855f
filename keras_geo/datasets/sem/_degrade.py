"""Seeded degradation of clean SEM images to the quality of a low-cost SEM.

A bench-top or low-cost SEM has a wide beam spot, few pixels per field of view,
an unsteady scan, a sample that charges and a weak detector. `degrade` applies
these, in the order they happen, each one switched off by 0 (``None`` for the shot
noise).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from ..filler._imaging import _as_image_stack
from ._checks import check_int, check_number, check_seed, rng

__all__ = ["degrade"]

# Independent random streams per step: switching one step off leaves the others' draws unchanged.
_JITTER, _DRIFT, _SHOT, _READ = range(4)
# Drift: at most this many cycles of the slow brightness wave across the image.
_DRIFT_CYCLES = (0.25, 0.75)


def _as_stack(images: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    """A float32 copy of the images as a stack ``(N, H, W)``, and the input's shape; finite values only."""
    stack, shape = _as_image_stack(images)
    if not np.all(np.isfinite(stack)):
        raise ValueError("`images` must be finite. Received: images with NaN or infinite values")
    return np.array(stack, dtype=np.float32, copy=True), shape


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)


def _lower_resolution(image: np.ndarray, factor: int) -> np.ndarray:
    """Area-average ``factor`` x ``factor`` blocks, then back to the original size, bilinear.

    The image is first extended by reflection to a multiple of ``factor`` (then cropped),
    so any size works.
    """
    height, width = image.shape
    ph, pw = -height % factor, -width % factor
    padded = np.pad(image, ((0, ph), (0, pw)), mode="symmetric") if ph or pw else image
    h, w = padded.shape
    coarse = padded.reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3), dtype=np.float64)
    # Bilinear with half-pixel alignment: a coarse pixel's value sits at its block's centre.
    up = cv2.resize(coarse.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return up[:height, :width]


def _jitter(image: np.ndarray, std: float, generator: np.random.Generator) -> np.ndarray:
    """Shift each row right by its own N(0, std) offset in pixels, linearly interpolated (edges repeated)."""
    height, width = image.shape
    shifts = generator.normal(0.0, std, size=(height, 1))
    source = np.clip(np.arange(width)[None, :] - shifts, 0.0, width - 1.0)
    left = np.floor(source).astype(np.int64)
    right = np.minimum(left + 1, width - 1)
    weight = (source - left).astype(np.float32)
    rows = np.arange(height)[:, None]
    return image[rows, left] * (1.0 - weight) + image[rows, right] * weight


def _drift(shape: tuple[int, int], amplitude: float, generator: np.random.Generator) -> np.ndarray:
    """A slow brightness wave: ``amplitude * sin(2 pi f s + phase)`` along a random direction ``s``.

    ``s`` runs over [-0.5, 0.5] across the image along the random direction, and ``f`` is
    0.25-0.75 cycles per image: never more than one slow swell across the scan.
    """
    angle, phase = generator.uniform(0.0, 2.0 * math.pi, size=2)
    cycles = generator.uniform(*_DRIFT_CYCLES)
    height, width = shape
    y = (np.arange(height) - 0.5 * (height - 1))[:, None]
    x = (np.arange(width) - 0.5 * (width - 1))[None, :]
    extent = abs(math.cos(angle)) * max(width - 1, 1) + abs(math.sin(angle)) * max(height - 1, 1)
    s = (x * math.cos(angle) + y * math.sin(angle)) / extent
    return (amplitude * np.sin(2.0 * math.pi * cycles * s + phase)).astype(np.float32)


def degrade(
    images: Any,
    *,
    blur_sigma_px: float = 1.0,
    downsample: int = 2,
    jitter_px: float = 0.3,
    drift: float = 0.05,
    poisson_peak: float | None = 100.0,
    gaussian_std: float = 0.02,
    seed: int = 0,
    first_index: int = 0,
) -> np.ndarray:
    """Degrade clean SEM images to the quality of a low-cost SEM, reproducibly.

    The steps, in the order the physics applies them (each off at 0, the shot noise at
    ``None``):

    1. **Beam spot** (point-spread function): Gaussian blur of standard deviation
       ``blur_sigma_px`` pixels (reflecting borders).
    2. **Lower resolution**: ``downsample`` x ``downsample`` blocks are averaged (the
       detector integrates over a coarse pixel), then the image is brought back to its
       size by bilinear interpolation, as a low-resolution scan shown at the clean image's
       size: bilinear rather than nearest, because nearest adds block edges (false high
       frequencies) that no microscope makes. 0 and 1 leave the resolution alone.
    3. **Scan-line jitter**: each row is shifted horizontally by its own random offset of
       standard deviation ``jitter_px`` pixels, linearly interpolated (edge pixels repeated).
    4. **Charging drift**: a slow brightness wave of amplitude ``drift`` is added, along a
       random direction with a random phase and 0.25-0.75 cycles across the image.
    5. **Shot noise**: ``Poisson(image * poisson_peak) / poisson_peak``, i.e.
       ``poisson_peak`` secondary electrons per pixel at full brightness (negative values
       count as 0).
    6. **Read noise**: Gaussian, standard deviation ``gaussian_std``.
    7. The result is clipped to ``[0, 1]``.

    Every image has its own generators, seeded from ``(seed, first_index + k, step)`` for
    the ``k``-th image of the input: degrading image ``i`` alone (with ``first_index=i``)
    gives the same result as degrading it within a batch, and switching a step off does
    not change the other steps' draws.

    The defaults make a clearly degraded but still informative image: on the default
    :func:`render_sem` images the PSNR against the clean image is about 20 dB.

    Args:
        images: `(H, W)`, `(N, H, W)` or `(N, H, W, 1)` array of finite values, nominally
            in ``[0, 1]``.
        blur_sigma_px: Standard deviation of the beam's point-spread function in pixels
            (>= 0). Defaults to `1.0`.
        downsample: Integer factor of the resolution loss (>= 0). Defaults to `2`.
        jitter_px: Standard deviation of the per-row horizontal shift in pixels (>= 0).
            Defaults to `0.3`.
        drift: Amplitude of the charging drift in grey levels (>= 0). Defaults to `0.05`.
        poisson_peak: Electrons per pixel at full brightness (> 0); `None` means no shot
            noise. Defaults to `100.0`.
        gaussian_std: Standard deviation of the read noise in grey levels (>= 0).
            Defaults to `0.02`.
        seed: Non-negative integer seed. Defaults to `0`.
        first_index: Index of the input's first image in the stream of images the seed
            degrades (>= 0). Defaults to `0`.

    Returns:
        float32 array of the input's shape, in ``[0, 1]``.

    Raises:
        ValueError: for a bad shape, non-finite pixels or a setting out of range, naming it
            and echoing the value.
    """
    stack, shape = _as_stack(images)
    sigma = check_number("blur_sigma_px", blur_sigma_px)
    factor = check_int("downsample", downsample, 0)
    jitter = check_number("jitter_px", jitter_px)
    amplitude = check_number("drift", drift)
    peak = None if poisson_peak is None else check_number("poisson_peak", poisson_peak, positive=True)
    read = check_number("gaussian_std", gaussian_std)
    seed = check_seed(seed)
    first = check_int("first_index", first_index, 0)
    out = np.empty_like(stack)
    for k, image in enumerate(stack):
        index = first + k
        if sigma > 0:
            image = _blur(image, sigma)
        if factor > 1:
            image = _lower_resolution(image, factor)
        if jitter > 0:
            image = _jitter(image, jitter, rng(seed, index, _JITTER))
        if amplitude > 0:
            image = image + _drift(image.shape, amplitude, rng(seed, index, _DRIFT))
        if peak is not None:
            counts = rng(seed, index, _SHOT).poisson(np.maximum(image, 0.0).astype(np.float64) * peak)
            image = (counts / peak).astype(np.float32)
        if read > 0:
            image = image + rng(seed, index, _READ).normal(0.0, read, size=image.shape).astype(np.float32)
        out[k] = np.clip(image, 0.0, 1.0)
    return out.reshape(shape)
