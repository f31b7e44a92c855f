"""Two-stage augmentation of source tiles towards a target region's low-resolution statistics.

After Murakami et al. (2024, JAMSTEC), "Adaptive super-resolution for ocean bathymetric
maps using a DNN and data augmentation": a super-resolution model is trained on a
region with high-resolution surveys (the source) and applied to a region that has only a
low-resolution survey (the target). The training tiles are augmented in two stages:

1. :func:`transform_tiles` changes each source tile: a random dihedral transform
   (rotation by a multiple of 90 degrees, mirror), a depth scaling (the tile's mean
   depth times a factor) and a slope stretch (its relief about the mean times a factor:
   a vertical exaggeration, which multiplies the tangent of every slope).
2. :func:`compose_tiles` composes pairs of transformed tiles into new ones (a mosaic of
   the two under a smooth random mask) and then draws the training tiles from this pool
   so that their slope and roughness histograms follow the target's.

The target's statistics come from **low-resolution** grids only (what a coarse survey
holds), and every candidate is measured at the same resolution, on its block average
(:func:`~keras_geo.datasets.bathymetry.block_average` by ``scale``): like is compared
with like, and no high-resolution target tile is ever needed. :func:`two_stage_augment`
runs both stages; :func:`slope_roughness`, :func:`histograms` and
:func:`histogram_distance` (:func:`histogram_distances`) are the measures.

Not done: a horizontal stretch (resampling a sub-window up). The enlarged tile's fine
scales would be interpolated, not surveyed, and a super-resolution network trained on
such targets learns to blur.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ..sem._checks import check_int, check_number, check_seed, rng
from . import _dataset  # a module import: _dataset imports this module too

__all__ = [
    "ROUGHNESS_EDGES_M",
    "SLOPE_EDGES_DEG",
    "compose_tiles",
    "histogram_distance",
    "histogram_distances",
    "histograms",
    "slope_roughness",
    "transform_tiles",
    "two_stage_augment",
]

#: Bin edges of slope in degrees (per pixel and per tile mean). Values outside the edges
#: count in the first or last bin.
SLOPE_EDGES_DEG: tuple[float, ...] = (0.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 17.5, 20.0, 25.0, 30.0, 40.0, 90.0)
#: Bin edges of roughness in metres (per pixel ``|residual|`` and per tile RMS residual),
#: about a factor 1.4 apart. Values outside the edges count in the first or last bin.
ROUGHNESS_EDGES_M: tuple[float, ...] = (0.0, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0, 1000.0)

# Stage-1 ranges by default (the loader's too).
_DEPTH_SCALE = (0.8, 1.25)
_SLOPE_STRETCH = (0.5, 2.0)

# Independent random streams of the stages.
_DIHEDRAL, _DEPTH, _STRETCH, _PAIRS, _MASKS, _SELECT, _ORDER = range(7)


# --- checks ------------------------------------------------------------------------------------------------------


def _tiles(name: str, tiles: Any, *, square: bool = False) -> np.ndarray:
    """A finite float64 stack ``(N, H, W)`` with N >= 1, or a one-line ValueError naming ``name``."""
    array = np.asarray(tiles, dtype=np.float64)
    if array.ndim != 3:
        raise ValueError(f"`{name}` must be a stack of tiles (N, H, W). Received: {name} of shape {array.shape}")
    if len(array) == 0:
        raise ValueError(f"`{name}` must hold at least one tile. Received: {name} of shape {array.shape}")
    if square and array.shape[1] != array.shape[2]:
        raise ValueError(f"`{name}` must be square tiles to rotate them. Received: {name} of shape {array.shape}")
    if not np.isfinite(array).all():
        bad = int(np.sum(~np.isfinite(array).all(axis=(1, 2))))
        raise ValueError(f"`{name}` must be finite. Received: {bad} of {len(array)} tiles with NaN or inf")
    return array


def _factor_range(name: str, value: Any) -> tuple[float, float]:
    """A pair ``(lo, hi)`` with ``0 < lo <= hi``, both finite."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a pair (lo, hi) of factors. Received: {name}={value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"`{name}` must be a pair (lo, hi) with 0 < lo <= hi. Received: {name}={value!r}")
    return lo, hi


def _edges(name: str, value: Any) -> np.ndarray:
    edges = np.asarray(value, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or not np.isfinite(edges).all() or np.any(np.diff(edges) <= 0):
        raise ValueError(f"`{name}` must be at least 2 finite, increasing bin edges. Received: {name}={value!r}")
    return edges


def _scale_for(tiles: np.ndarray, scale: Any, name: str) -> int:
    """``scale`` checked against the tiles: it divides them and leaves low-resolution grids of at least 3 x 3."""
    scale = check_int("scale", scale, 1)
    height, width = tiles.shape[-2:]
    if scale > min(height, width):
        raise ValueError(
            f"`scale` must not exceed the tile's size. Received: scale={scale} for {height} x {width} tiles"
        )
    if height % scale or width % scale:
        raise ValueError(f"`scale` must divide the tile's size. Received: scale={scale} for {height} x {width} tiles")
    if min(height, width) // scale < 3:
        raise ValueError(
            f"`scale` must leave low-resolution grids of at least 3 x 3 cells. "
            f"Received: scale={scale} for {height} x {width} tiles ({name})"
        )
    return scale


def _target_grids(target_lr_grids: Any, shape: tuple[int, int]) -> tuple[np.ndarray, int]:
    """The target's low-resolution grids as a finite stack, and how many were dropped for no-data cells.

    A 2-D grid (one survey) is cut into non-overlapping windows of ``shape`` (the candidates'
    low-resolution size). Grids or windows holding a NaN or inf are dropped.
    """
    array = np.asarray(target_lr_grids, dtype=np.float64)
    if array.ndim == 2:
        h, w = shape
        rows, cols = array.shape[0] // h, array.shape[1] // w
        if rows == 0 or cols == 0:
            raise ValueError(
                f"`target_lr_grids` must be at least one low-resolution tile ({h} x {w}) large. "
                f"Received: target_lr_grids of shape {array.shape}"
            )
        array = array[: rows * h, : cols * w].reshape(rows, h, cols, w).swapaxes(1, 2).reshape(-1, h, w)
    if array.ndim != 3 or len(array) == 0 or min(array.shape[1:]) < 3:
        raise ValueError(
            "`target_lr_grids` must be a low-resolution grid (h, w) or a stack (N, h, w) of at least 3 x 3 cells. "
            f"Received: target_lr_grids of shape {array.shape}"
        )
    finite = np.isfinite(array).all(axis=(1, 2))
    if not finite.any():
        raise ValueError(
            f"`target_lr_grids` must hold a grid without no-data cells. Received: {len(array)} grids, all with NaN or inf"
        )
    return array[finite], int(np.sum(~finite))


# --- stage 1 -----------------------------------------------------------------------------------------------------


def _dihedral(tiles: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Each tile under its dihedral transform ``index`` (0-7): ``index % 4`` quarter turns, then a mirror if >= 4."""
    out = np.empty_like(tiles)
    for d in np.unique(index):
        chosen = index == d
        moved = np.rot90(tiles[chosen], k=int(d) % 4, axes=(1, 2))
        out[chosen] = moved[:, :, ::-1] if d >= 4 else moved
    return out


def _log_uniform(generator: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    lo, hi = bounds
    return np.exp(generator.uniform(math.log(lo), math.log(hi), size=n)) if hi > lo else np.full(n, lo)


def transform_tiles(
    tiles: Any,
    *,
    seed: int = 0,
    rotate: bool = True,
    flip: bool = True,
    depth_scale: Sequence[float] = _DEPTH_SCALE,
    slope_stretch: Sequence[float] = _SLOPE_STRETCH,
) -> np.ndarray:
    """Stage 1: each tile under a random dihedral transform, depth scaling and slope stretch.

    Tile ``i`` with mean ``m_i`` becomes ``a_i * m_i + s_i * (D_i(z_i) - m_i)``:

    * ``D_i``: one of the 8 symmetries of the square, drawn uniformly among those allowed
      (quarter turns with ``rotate``, a mirror with ``flip``). It permutes the pixels, so
      the elevation histogram and the slope and roughness statistics are unchanged.
    * ``a_i``, the depth scaling: the mean depth times a factor (0.8 turns a trough at
      -4500 m into one at -3600 m); the relief is left alone.
    * ``s_i``, the slope stretch: the relief about the mean times a factor, a vertical
      exaggeration. The tangent of every slope and every roughness are multiplied by
      ``s_i``.

    Both factors are drawn log-uniformly between the bounds of their range (so that a
    range like ``(0.5, 2.0)`` is as likely to halve as to double). Per-tile normalisation
    (:func:`~keras_geo.datasets.bathymetry.make_pairs`) divides both out again: what the
    stretch changes for a super-resolution model is which tiles stage 2 picks.

    Args:
        tiles: Elevations ``(N, H, W)`` in metres (square tiles when ``rotate``).
        seed: Non-negative integer seed. Defaults to `0`.
        rotate: Draw quarter turns. Defaults to `True`.
        flip: Draw mirror images. Defaults to `True`.
        depth_scale: Range ``(lo, hi)`` of the mean-depth factor, ``0 < lo <= hi``;
            `(1, 1)` switches it off. Defaults to `(0.8, 1.25)`.
        slope_stretch: Range ``(lo, hi)`` of the relief factor, ``0 < lo <= hi``;
            `(1, 1)` switches it off. Defaults to `(0.5, 2.0)`.

    Returns:
        float32 array ``(N, H, W)`` in metres.

    Raises:
        ValueError: tiles that are not a finite non-empty stack (square to rotate), or a
            range with ``lo > hi`` or a factor <= 0, naming the setting.
    """
    array = _tiles("tiles", tiles, square=bool(rotate))
    seed = check_seed(seed)
    depth = _factor_range("depth_scale", depth_scale)
    stretch = _factor_range("slope_stretch", slope_stretch)
    n = len(array)
    turns = rng(seed, _DIHEDRAL).integers(0, 4, size=n) if rotate else np.zeros(n, np.int64)
    mirrors = rng(seed, _DIHEDRAL, 1).integers(0, 2, size=n) if flip else np.zeros(n, np.int64)
    moved = _dihedral(array, turns + 4 * mirrors)
    a = _log_uniform(rng(seed, _DEPTH), depth, n)[:, None, None]
    s = _log_uniform(rng(seed, _STRETCH), stretch, n)[:, None, None]
    mean = moved.mean(axis=(1, 2), keepdims=True)
    return (a * mean + s * (moved - mean)).astype(np.float32)


# --- statistics --------------------------------------------------------------------------------------------------


def slope_roughness(grids: Any, pixel_m: float, *, per_tile: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Slope and roughness of every pixel (or of every tile) of elevation grids.

    * Slope: ``atan(|grad z|)`` in degrees, the gradient in metres per metre from central
      differences (one-sided at the edges).
    * Roughness: the residual of ``z`` from its 3 x 3 moving average, in metres (the
      moving average is the least-squares plane of the 3 x 3 window at its centre; the
      grid is extended by odd reflection, so that a plane has no roughness anywhere).

    Measure grids of the same pixel size and similar extent against each other: for the
    augmentation, low-resolution target grids against block-averaged candidates.

    Args:
        grids: Elevations ``(H, W)`` or ``(N, H, W)`` in metres, at least 3 x 3.
        pixel_m: The grids' pixel size in metres (> 0).
        per_tile: Reduce to one value per grid: the mean slope and the RMS roughness.
            Defaults to `False`.

    Returns:
        ``(slope_deg, roughness_m)``: per pixel, of the grids' shape, the roughness as
        ``|residual|``; with ``per_tile``, of shape ``(N,)`` (``()`` for one grid).
        float64.
    """
    pixel = check_number("pixel_m", pixel_m, positive=True)
    z = np.asarray(grids, dtype=np.float64)
    if z.ndim not in (2, 3) or min(z.shape[-2:]) < 3:
        raise ValueError(f"`grids` must be (H, W) or (N, H, W) of at least 3 x 3. Received: grids of shape {z.shape}")
    gy, gx = np.gradient(z, pixel, axis=(-2, -1))
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    pad = [(0, 0)] * (z.ndim - 2) + [(1, 1), (1, 1)]
    padded = np.pad(z, pad, mode="reflect", reflect_type="odd")
    h, w = z.shape[-2:]
    smooth = sum(padded[..., i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0
    residual = z - smooth
    if per_tile:
        return slope.mean(axis=(-2, -1)), np.sqrt(np.mean(residual**2, axis=(-2, -1)))
    return slope, np.abs(residual)


def _bin(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value, those outside the edges in the first or last bin."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def _joint_bins(features: tuple[np.ndarray, np.ndarray], slope_edges: np.ndarray, roughness_edges: np.ndarray):
    return _bin(features[0], slope_edges) * (len(roughness_edges) - 1) + _bin(features[1], roughness_edges)


def histograms(
    grids: Any,
    pixel_m: float,
    *,
    slope_edges: Sequence[float] = SLOPE_EDGES_DEG,
    roughness_edges: Sequence[float] = ROUGHNESS_EDGES_M,
) -> dict[str, np.ndarray]:
    """Normalised slope and roughness histograms of grids, with fixed bin edges.

    Args:
        grids: Elevations ``(N, H, W)`` in metres (see :func:`slope_roughness`).
        pixel_m: The grids' pixel size in metres.
        slope_edges: Slope bin edges in degrees. Defaults to :data:`SLOPE_EDGES_DEG`.
        roughness_edges: Roughness bin edges in metres. Defaults to :data:`ROUGHNESS_EDGES_M`.

    Returns:
        ``{"slope": ..., "roughness": ...}``: per-pixel histograms (sum 1), and ``"joint"``:
        the 2-D histogram ``(slope bins, roughness bins)`` of the tiles' mean slope and RMS
        roughness (sum 1), the space in which :func:`compose_tiles` matches the target.
    """
    s_edges = _edges("slope_edges", slope_edges)
    r_edges = _edges("roughness_edges", roughness_edges)
    z = np.asarray(grids, dtype=np.float64)
    z = z[None] if z.ndim == 2 else z
    slope, rough = slope_roughness(z, pixel_m)
    ns, nr = len(s_edges) - 1, len(r_edges) - 1
    joint = np.bincount(_joint_bins(slope_roughness(z, pixel_m, per_tile=True), s_edges, r_edges), minlength=ns * nr)
    return {
        "slope": np.bincount(_bin(slope.ravel(), s_edges), minlength=ns) / slope.size,
        "roughness": np.bincount(_bin(rough.ravel(), r_edges), minlength=nr) / rough.size,
        "joint": joint.reshape(ns, nr) / len(z),
    }


def histogram_distance(p: Any, q: Any) -> float:
    """The Jensen-Shannon divergence (base 2) of two histograms: 0 for equal ones, 1 for disjoint ones.

    Each histogram is normalised to sum 1 first; they must have the same shape.
    """
    p = np.asarray(p, dtype=np.float64).ravel()
    q = np.asarray(q, dtype=np.float64).ravel()
    if p.shape != q.shape or p.sum() <= 0 or q.sum() <= 0 or np.any(p < 0) or np.any(q < 0):
        raise ValueError(
            f"`p` and `q` must be non-negative histograms of the same shape. Received: {p.shape}, {q.shape}"
        )
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a):
        keep = a > 0
        return float(np.sum(a[keep] * np.log2(a[keep] / m[keep])))

    return max(0.0, 0.5 * kl(p) + 0.5 * kl(q))


def histogram_distances(
    grids: Any,
    reference: Any,
    pixel_m: float,
    *,
    slope_edges: Sequence[float] = SLOPE_EDGES_DEG,
    roughness_edges: Sequence[float] = ROUGHNESS_EDGES_M,
) -> dict[str, float]:
    """Jensen-Shannon distances of the slope, roughness and joint :func:`histograms` of two sets of grids.

    Args:
        grids: Elevations ``(N, H, W)`` in metres, e.g. block-averaged training tiles.
        reference: Elevations ``(M, h, w)`` of the same pixel size, e.g. a target's
            low-resolution grids.
        pixel_m: The pixel size of both in metres.
        slope_edges: Slope bin edges in degrees. Defaults to :data:`SLOPE_EDGES_DEG`.
        roughness_edges: Roughness bin edges in metres. Defaults to :data:`ROUGHNESS_EDGES_M`.

    Returns:
        ``{"slope": ..., "roughness": ..., "joint": ...}``, rounded to 5 decimals.
    """
    edges = {"slope_edges": slope_edges, "roughness_edges": roughness_edges}
    a, b = histograms(grids, pixel_m, **edges), histograms(reference, pixel_m, **edges)
    return {key: round(histogram_distance(a[key], b[key]), 5) for key in ("slope", "roughness", "joint")}


# --- stage 2 -----------------------------------------------------------------------------------------------------


def _smooth_masks(generator: np.random.Generator, n: int, height: int, width: int, length: float) -> np.ndarray:
    """``n`` smooth random masks in [0, 1]: Gaussian-filtered noise (sigma ``length`` x the tile), a soft threshold.

    The noise sits on a coarse lattice of spacing sigma reaching 2 sigma beyond the tile,
    and is filtered by a separable Gaussian (two matrix products, no FFT: fast, and not
    periodic). Most of a mask is near 0 or 1 (a patch of one tile or the other), with
    smooth borders between them: a mosaic with feathered seams of random shape.
    """
    sigma = length * min(height, width)

    def kernel(size: int) -> np.ndarray:
        centres = np.arange(-2.0 * sigma, size + 2.0 * sigma, sigma)
        return np.exp(-0.5 * ((np.arange(size)[:, None] + 0.5 - centres[None, :]) / sigma) ** 2)

    ky, kx = kernel(height), kernel(width)
    field = ky @ generator.standard_normal((n, ky.shape[1], kx.shape[1])) @ kx.T
    field -= field.mean(axis=(1, 2), keepdims=True)
    field /= np.maximum(field.std(axis=(1, 2), keepdims=True), 1e-12)
    return 0.5 * (1.0 + np.tanh(2.0 * field))


def _compose(candidates: np.ndarray, n: int, seed: int, mask_length: float) -> np.ndarray:
    """``n`` mosaics of two distinct candidates ``a``, ``b``: ``mean(a) + m (a - mean a) + (1 - m) (b - mean b)``."""
    generator = rng(seed, _PAIRS)
    first = generator.integers(0, len(candidates), size=n)
    second = (first + generator.integers(1, len(candidates), size=n)) % len(candidates)
    a, b = candidates[first], candidates[second]
    mean_a = a.mean(axis=(1, 2), keepdims=True)
    mean_b = b.mean(axis=(1, 2), keepdims=True)
    m = _smooth_masks(rng(seed, _MASKS), n, *candidates.shape[1:], mask_length)
    return mean_a + m * (a - mean_a) + (1.0 - m) * (b - mean_b)


def _profiles(lr_grids: np.ndarray, pixel_m: float, s_edges: np.ndarray, r_edges: np.ndarray):
    """Each grid's joint (mean slope x RMS roughness) bin, and its per-pixel slope and roughness histograms side by side."""
    ns, nr = len(s_edges) - 1, len(r_edges) - 1
    n, cells = len(lr_grids), lr_grids.shape[1] * lr_grids.shape[2]
    slope, rough = slope_roughness(lr_grids, pixel_m)
    offsets = (np.arange(n) * (ns + nr))[:, None]
    counts = np.bincount(
        np.concatenate(
            [offsets + _bin(slope.reshape(n, -1), s_edges), offsets + ns + _bin(rough.reshape(n, -1), r_edges)], axis=1
        ).ravel(),
        minlength=n * (ns + nr),
    )
    per_tile = (slope.mean(axis=(1, 2)), np.sqrt(np.mean(rough**2, axis=(1, 2))))
    return _joint_bins(per_tile, s_edges, r_edges), counts.reshape(n, ns + nr) / cells


def _assign(target_bins: np.ndarray, covered: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The pool bin standing in for each target grid's bin: the same bin if the pool reaches it, else the nearest it reaches."""
    cells = np.argwhere(covered.reshape(shape))
    flat = np.flatnonzero(covered)
    out = target_bins.copy()
    for index in np.unique(target_bins[~covered[target_bins]]):
        here = np.array(np.unravel_index(index, shape))
        out[target_bins == index] = flat[np.argmin(np.sum((cells - here) ** 2, axis=1))]
    return out


def _quotas(assigned: np.ndarray, size: int, n_out: int) -> np.ndarray:
    """Tiles per bin: the target grids' share of ``n_out`` by largest remainders."""
    exact = np.bincount(assigned, minlength=size) / len(assigned) * n_out
    quota = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[: n_out - quota.sum()]] += 1
    return quota


def compose_tiles(
    candidates: Any,
    target_lr_grids: Any,
    *,
    scale: int,
    n_out: int,
    pixel_m: float = 50.0,
    seed: int = 0,
    compose_ratio: float = 1.0,
    mask_length: float = 0.15,
    within: Literal["closest", "random"] = "closest",
    slope_edges: Sequence[float] = SLOPE_EDGES_DEG,
    roughness_edges: Sequence[float] = ROUGHNESS_EDGES_M,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Stage 2: compose candidates into a pool and draw ``n_out`` tiles whose statistics follow the target's.

    The rule:

    1. Composition: ``round(compose_ratio * len(candidates))`` new tiles, each a mosaic of
       two distinct random candidates ``a`` and ``b`` under a smooth random mask ``m``
       (Gaussian-filtered noise of correlation length ``mask_length`` x the tile edge,
       soft-thresholded to [0, 1]): ``mean(a) + m (a - mean a) + (1 - m) (b - mean b)``.
       The pool is the candidates and the mosaics.
    2. Measurement, at the target's resolution: every pool tile's block average by
       ``scale`` gives its mean slope and RMS roughness (:func:`slope_roughness`), binned
       on the joint (slope x roughness) grid of ``slope_edges`` x ``roughness_edges``;
       the target's low-resolution grids give the target's joint histogram.
    3. Selection by importance: each joint bin gets the target grids' share of the
       ``n_out`` tiles (largest remainders); a target grid whose bin the pool does not
       reach counts for the nearest bin it reaches (``info["coverage"]``: the share of
       target grids whose bin is reached). With ``within="closest"`` a bin's pool tiles
       are taken in order of the L1 distance of their per-pixel slope and roughness
       histograms to the mean of those of the bin's target grids (so that the per-pixel
       histograms follow the target's too, not just the tile means); with ``"random"``
       in random order. When a bin needs more tiles than it holds, the repeats come
       under another symmetry of the square (same statistics, another tile) and are
       counted in ``info["repeats"]``.

    Args:
        candidates: Stage-1 tiles ``(N, H, W)`` in metres, N >= 2 when composing; ``H``
            and ``W`` multiples of ``scale``.
        target_lr_grids: The target region's low-resolution grids ``(M, h, w)`` in metres,
            best of the candidates' low-resolution size ``(H / scale, W / scale)``; or one
            survey grid ``(h, w)``, cut into windows of that size. Grids or windows with
            NaN (no data) are left out.
        scale: Integer factor between the candidates' and the target grids' pixels.
        n_out: Tiles to return (>= 1).
        pixel_m: The candidates' pixel size in metres (the target grids' is ``scale``
            times it). Defaults to `50.0`.
        seed: Non-negative integer seed. Defaults to `0`.
        compose_ratio: Mosaics per candidate (>= 0; 0 selects among the candidates
            only). Defaults to `1.0`.
        mask_length: Correlation length of the mosaic masks as a fraction of the tile
            edge (> 0). Defaults to `0.15`.
        within: Order of the tiles drawn within a joint bin: `"closest"` or
            `"random"`. Defaults to `"closest"`.
        slope_edges: Slope bin edges in degrees. Defaults to :data:`SLOPE_EDGES_DEG`.
        roughness_edges: Roughness bin edges in metres. Defaults to
            :data:`ROUGHNESS_EDGES_M`.

    Returns:
        ``(tiles, info)``: float32 ``(n_out, H, W)`` in metres, shuffled; ``info`` with the
        settings, ``n_pool``, ``n_composed``, ``n_target_grids``, ``coverage``,
        ``repeats`` and ``distance``: Jensen-Shannon distances (:func:`histogram_distance`)
        of the ``"pool"`` and the ``"selected"`` tiles to the target, per-pixel
        ``"slope"`` and ``"roughness"`` and per-tile ``"joint"`` histograms.
    """
    cands = _tiles("candidates", candidates)
    scale = _scale_for(cands, scale, "candidates")
    n_out = check_int("n_out", n_out, 1)
    pixel = check_number("pixel_m", pixel_m, positive=True)
    seed = check_seed(seed)
    ratio = check_number("compose_ratio", compose_ratio)
    length = check_number("mask_length", mask_length, positive=True)
    if within not in ("closest", "random"):
        raise ValueError(f"`within` must be one of closest, random. Received: within={within!r}")
    s_edges = _edges("slope_edges", slope_edges)
    r_edges = _edges("roughness_edges", roughness_edges)
    lr_shape = (cands.shape[1] // scale, cands.shape[2] // scale)
    target, dropped = _target_grids(target_lr_grids, lr_shape)
    n_composed = int(round(ratio * len(cands)))
    if n_composed and len(cands) < 2:
        raise ValueError(f"`candidates` must hold at least 2 tiles to compose. Received: 1 tile, compose_ratio={ratio}")

    pool = np.concatenate([cands, _compose(cands, n_composed, seed, length)]) if n_composed else cands
    lr_pixel = pixel * scale
    lr_pool = _dataset.block_average(pool, scale)
    shape = (len(s_edges) - 1, len(r_edges) - 1)
    bins, profiles = _profiles(lr_pool, lr_pixel, s_edges, r_edges)
    target_bins, target_profiles = _profiles(target, lr_pixel, s_edges, r_edges)
    covered = np.bincount(bins, minlength=shape[0] * shape[1]) > 0
    assigned = _assign(target_bins, covered, shape)
    quota = _quotas(assigned, covered.size, n_out)

    select = rng(seed, _SELECT)
    chosen, copies = [], []
    for index in np.flatnonzero(quota):
        members = select.permutation(np.flatnonzero(bins == index))
        if within == "closest":
            wanted = target_profiles[assigned == index].mean(axis=0)
            members = members[np.argsort(np.abs(profiles[members] - wanted).sum(axis=1), kind="stable")]
        draw = np.arange(quota[index])
        chosen.append(members[draw % len(members)])
        copies.append(draw // len(members))
    chosen, copies = np.concatenate(chosen), np.concatenate(copies)
    tiles = pool[chosen]
    repeated = copies > 0
    if repeated.any():
        # Copy c of a tile comes under symmetry c of the square (1-7; for oblong tiles the
        # half turn and the two mirrors): the statistics are unchanged, the tile is not.
        # Beyond 7 copies (3 oblong) a tile recurs.
        c = copies[repeated] - 1
        symmetry = 1 + c % 7 if tiles.shape[1] == tiles.shape[2] else np.array([2, 4, 6])[c % 3]
        tiles[repeated] = _dihedral(tiles[repeated], symmetry)
    tiles = tiles[rng(seed, _ORDER).permutation(n_out)]

    def distance(grids):
        return histogram_distances(grids, target, lr_pixel, slope_edges=s_edges, roughness_edges=r_edges)

    info = {
        "rule": "pool: candidates and mosaics of two under smooth random masks; tiles drawn per joint bin of "
        "(mean slope, RMS roughness) in the target grids' proportions, measured on block averages at the "
        f"target's resolution; within a bin {'closest per-pixel histograms first' if within == 'closest' else 'at random'}",
        "scale": scale,
        "pixel_m": pixel,
        "compose_ratio": ratio,
        "mask_length": length,
        "within": within,
        "slope_edges_deg": s_edges.tolist(),
        "roughness_edges_m": r_edges.tolist(),
        "n_pool": len(pool),
        "n_composed": n_composed,
        "n_target_grids": len(target),
        "n_target_grids_dropped": dropped,
        "coverage": round(float(np.mean(covered[target_bins])), 5),
        "repeats": int(repeated.sum()),
        "distance": {"pool": distance(lr_pool), "selected": distance(_dataset.block_average(tiles, scale))},
    }
    return tiles.astype(np.float32), info


def two_stage_augment(
    source_tiles: Any,
    target_lr_grids: Any,
    *,
    scale: int,
    n_out: int,
    pixel_m: float = 50.0,
    seed: int = 0,
    rotate: bool = True,
    flip: bool = True,
    depth_scale: Sequence[float] = _DEPTH_SCALE,
    slope_stretch: Sequence[float] = _SLOPE_STRETCH,
    compose_ratio: float = 1.0,
    mask_length: float = 0.15,
    within: Literal["closest", "random"] = "closest",
    slope_edges: Sequence[float] = SLOPE_EDGES_DEG,
    roughness_edges: Sequence[float] = ROUGHNESS_EDGES_M,
) -> tuple[np.ndarray, dict[str, Any]]:
    """High-resolution training tiles from source tiles, matched to a target region's low-resolution statistics.

    Stage 1 (:func:`transform_tiles`) transforms every source tile once; stage 2
    (:func:`compose_tiles`) composes them and draws ``n_out`` tiles whose slope and
    roughness histograms, at the target's resolution, follow the target's. A pool several
    times ``n_out`` (4 source tiles per output tile, say) lets stage 2 choose.

    Args:
        source_tiles: High-resolution source tiles ``(N, H, W)`` in metres, square when
            ``rotate``, ``H`` and ``W`` multiples of ``scale``.
        target_lr_grids: The target region's low-resolution grids (see
            :func:`compose_tiles`); never high-resolution target tiles.
        scale: Integer factor between the two resolutions (the super-resolution factor).
        n_out: Tiles to return (>= 1).
        pixel_m: The source tiles' pixel size in metres. Defaults to `50.0`.
        seed: Non-negative integer seed. Defaults to `0`.
        rotate: See :func:`transform_tiles`. Defaults to `True`.
        flip: See :func:`transform_tiles`. Defaults to `True`.
        depth_scale: See :func:`transform_tiles`. Defaults to `(0.8, 1.25)`.
        slope_stretch: See :func:`transform_tiles`. Defaults to `(0.5, 2.0)`.
        compose_ratio: See :func:`compose_tiles`. Defaults to `1.0`.
        mask_length: See :func:`compose_tiles`. Defaults to `0.15`.
        within: See :func:`compose_tiles`. Defaults to `"closest"`.
        slope_edges: See :func:`compose_tiles`. Defaults to :data:`SLOPE_EDGES_DEG`.
        roughness_edges: See :func:`compose_tiles`. Defaults to :data:`ROUGHNESS_EDGES_M`.

    Returns:
        ``(tiles, info)``: float32 ``(n_out, H, W)`` in metres, and :func:`compose_tiles`'s
        info plus the stage-1 settings and ``distance["source"]`` and
        ``distance["stage1"]``: the source tiles' and the stage-1 tiles' distances to the
        target (``distance["selected"]`` is the output's).
    """
    source = _tiles("source_tiles", source_tiles, square=bool(rotate))
    scale = _scale_for(source, scale, "source_tiles")
    seed = check_seed(seed)
    stage1 = transform_tiles(
        source, seed=seed, rotate=rotate, flip=flip, depth_scale=depth_scale, slope_stretch=slope_stretch
    )
    tiles, info = compose_tiles(
        stage1,
        target_lr_grids,
        scale=scale,
        n_out=n_out,
        pixel_m=pixel_m,
        seed=seed,
        compose_ratio=compose_ratio,
        mask_length=mask_length,
        within=within,
        slope_edges=slope_edges,
        roughness_edges=roughness_edges,
    )
    lr_pixel = info["pixel_m"] * scale
    target, _ = _target_grids(target_lr_grids, (source.shape[1] // scale, source.shape[2] // scale))

    def distance(grids):
        edges = {"slope_edges": info["slope_edges_deg"], "roughness_edges": info["roughness_edges_m"]}
        return histogram_distances(_dataset.block_average(grids, scale), target, lr_pixel, **edges)

    info["distance"] = {"source": distance(source), "stage1": distance(stage1), **info["distance"]}
    info.update(
        n_source=len(source),
        rotate=bool(rotate),
        flip=bool(flip),
        depth_scale=list(_factor_range("depth_scale", depth_scale)),
        slope_stretch=list(_factor_range("slope_stretch", slope_stretch)),
    )
    return tiles, info
