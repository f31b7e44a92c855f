"""Low-resolution grids by block averaging, per-tile normalisation and the registered ``bathymetry`` data set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import cv2
import numpy as np

from keras_geo._settings import Range
from keras_geo.datasets._registry import Dataset, register

from ..sem._checks import check_int, check_number, derive_seed
from . import _augment  # a module import: _augment imports this module too
from ._terrain import REGIONS, synthesize_terrain

__all__ = ["bathymetry", "block_average", "make_pairs", "to_metres", "upsample"]

_SPLITS = ("train", "val", "test")
# Seed namespaces after the splits' (0, 1, 2): the target region's low-resolution grids of
# the augmentation, and the augmentation's own draws.
_TARGET_LR, _AUGMENT = 3, 4


def block_average(grid: Any, factor: int) -> np.ndarray:
    """The low-resolution grid: the mean of every ``factor`` x ``factor`` block (what a coarser sounding grid holds).

    Args:
        grid: Array ``(..., H, W)``: the last two axes are the grid (rows, columns).
        factor: Integer block edge in pixels (>= 1), dividing ``H`` and ``W``; the report
            uses 4 and 8.

    Returns:
        float32 array ``(..., H // factor, W // factor)`` (averaged in float64).

    Raises:
        ValueError: a factor that is not an integer >= 1, larger than the grid, or not
            dividing its size.
    """
    factor = check_int("factor", factor, 1)
    grid = np.asarray(grid)
    if grid.ndim < 2:
        raise ValueError(f"`grid` must have at least 2 dimensions (rows, cols). Received: grid of shape {grid.shape}")
    height, width = grid.shape[-2:]
    if factor > min(height, width):
        raise ValueError(
            f"`factor` must not exceed the tile's size. Received: factor={factor} for a {height} x {width} tile"
        )
    if height % factor or width % factor:
        raise ValueError(
            f"`factor` must divide the grid's size. Received: factor={factor} for a {height} x {width} grid"
        )
    blocks = grid.reshape(*grid.shape[:-2], height // factor, factor, width // factor, factor)
    return blocks.mean(axis=(-3, -1), dtype=np.float64).astype(np.float32)


def upsample(grid: Any, factor: int) -> np.ndarray:
    """Bicubic upsampling by ``factor`` (OpenCV ``INTER_CUBIC``, half-pixel aligned): the bicubic baseline.

    A low-resolution pixel's value sits at its block's centre, so ``block_average(upsample(lr,
    f), f)`` is close to ``lr``: exact for a plane (away from the edges); on the synthetic
    terrain the RMS misfit is up to about 5 % (x4) and 16 % (x8) of the low-resolution
    grid's standard deviation (seamount flanks: bicubic is not mean-preserving).

    Args:
        grid: Array ``(..., h, w)``.
        factor: Integer factor (>= 1).

    Returns:
        float32 array ``(..., h * factor, w * factor)``.
    """
    factor = check_int("factor", factor, 1)
    grid = np.asarray(grid, dtype=np.float32)
    if grid.ndim < 2:
        raise ValueError(f"`grid` must have at least 2 dimensions (rows, cols). Received: grid of shape {grid.shape}")
    h, w = grid.shape[-2:]
    flat = grid.reshape(-1, h, w)
    out = np.empty((len(flat), h * factor, w * factor), np.float32)
    for i, tile in enumerate(flat):
        out[i] = cv2.resize(tile, (w * factor, h * factor), interpolation=cv2.INTER_CUBIC)
    return out.reshape(*grid.shape[:-2], h * factor, w * factor)


def make_pairs(hr: Any, scale: int, *, min_std_m: float = 1.0) -> tuple[np.ndarray, np.ndarray, dict[str, list]]:
    """Model inputs and targets from high-resolution tiles: ``(inputs, targets, stats)``.

    The low-resolution tile is ``block_average(hr, scale)``; the input is it upsampled back
    to the tile's size (:func:`upsample`, bicubic), so that a super-resolution network is a
    same-size image-to-image map (SRCNN-style, and the bicubic baseline is the input
    itself). Input and target are normalised with the *low-resolution* tile's mean and
    standard deviation (what is known when super-resolving a survey), the standard
    deviation floored at ``min_std_m`` so that a flat tile is not blown up:
    ``(z - mean) / std``. ``stats`` keeps them, so :func:`to_metres` recovers metres.

    Args:
        hr: Elevations ``(N, H, W)`` in metres.
        scale: Integer factor dividing ``H`` and ``W`` (see :func:`block_average`).
        min_std_m: Floor of the normalising standard deviation in metres (> 0). Defaults
            to `1.0`.

    Returns:
        ``inputs`` and ``targets`` float32 ``(N, H, W, 1)``, and ``stats``: ``{"mean_m":
        [...], "std_m": [...]}``, one value per tile.
    """
    floor = check_number("min_std_m", min_std_m, positive=True)
    hr = np.asarray(hr, dtype=np.float32)
    if hr.ndim != 3:
        raise ValueError(f"`hr` must be a stack of tiles (N, H, W). Received: hr of shape {hr.shape}")
    lr = block_average(hr, scale)
    mean = lr.mean(axis=(1, 2), dtype=np.float64)
    std = np.maximum(lr.std(axis=(1, 2), dtype=np.float64), floor)
    up = upsample(lr, scale)
    m, s = mean[:, None, None], std[:, None, None]
    inputs = ((up - m) / s).astype(np.float32)[..., None]
    targets = ((hr - m) / s).astype(np.float32)[..., None]
    return inputs, targets, {"mean_m": mean.tolist(), "std_m": std.tolist()}


def to_metres(normalised: Any, stats: Mapping[str, Any], split: str | None = None) -> np.ndarray:
    """Elevations in metres from normalised tiles: ``normalised * std_m + mean_m``, tile by tile.

    Args:
        normalised: Tiles ``(N, H, W)`` or ``(N, H, W, C)`` (model inputs, targets or
            outputs), or one tile ``(H, W)`` with scalar statistics.
        stats: ``{"mean_m": ..., "std_m": ...}`` (one value per tile, as :func:`make_pairs`
            returns), or a data set's ``info`` (or the :class:`Dataset`) with ``split``.
        split: The split whose statistics to use when ``stats`` is a data set's info.

    Returns:
        float64 array of the input's shape, in metres.
    """
    if isinstance(stats, Dataset):
        stats = stats.info
    if "stats" in stats:
        if split not in stats["stats"]:
            raise ValueError(f"`split` must be one of {', '.join(stats['stats'])}. Received: split={split!r}")
        stats = stats["stats"][split]
    try:
        mean = np.asarray(stats["mean_m"], dtype=np.float64)
        std = np.asarray(stats["std_m"], dtype=np.float64)
    except (KeyError, TypeError):
        raise ValueError(
            f"`stats` must hold 'mean_m' and 'std_m' (or be a data set's info with a split). Received: {stats!r:.80}"
        ) from None
    x = np.asarray(normalised, dtype=np.float64)
    if mean.ndim == 0:
        return x * std + mean
    if len(mean) != len(x):
        raise ValueError(f"`stats` must have one value per tile. Received: {len(mean)} values for {len(x)} tiles")
    shape = (len(x),) + (1,) * (x.ndim - 1)
    return x * std.reshape(shape) + mean.reshape(shape)


@register("bathymetry", task="image_to_image", task_settings={"max_val": None, "output_activation": None})
def bathymetry(
    n_train: Annotated[int, Range(1)] = 400,
    n_val: Annotated[int, Range(1)] = 100,
    n_test: Annotated[int, Range(1)] = 100,
    tile: Annotated[int, Range(2)] = 64,
    scale: Annotated[int, Range(2)] = 4,
    pixel_m: Annotated[float, Range(0.0, open_low=True)] = 50.0,
    region: Literal["source", "target"] = "source",
    test_region: Literal["source", "target"] | None = "target",
    min_std_m: Annotated[float, Range(0.0, open_low=True)] = 1.0,
    seed: Annotated[int, Range(0)] = 0,
    augment: Literal["none", "stage1", "two_stage"] = "none",
    augment_pool: Annotated[int, Range(1)] = 4,
    augment_target_grids: Annotated[int, Range(1)] = 200,
) -> Dataset:
    """Bathymetry super-resolution pairs (bicubic-upsampled block average, high-resolution tile) of synthetic seafloor.

    Every tile is its own terrain (:func:`synthesize_terrain`, seeded from ``(seed, split,
    index)``, so no two splits share a tile and a tile does not depend on the counts). The
    input is the tile block-averaged by ``scale`` and brought back to ``tile`` pixels by
    bicubic interpolation (:func:`make_pairs`): the networks are same-size maps and the
    bicubic baseline is the input. Both are normalised per tile by the low-resolution
    tile's mean and standard deviation; ``info["stats"][split]`` keeps them
    (``{"mean_m": [...], "std_m": [...]}``) and :func:`to_metres` turns a prediction back
    into metres. Training and validation tiles come from ``region``, test tiles from
    ``test_region`` (the domain shift to bridge; ``None``: the same region).

    Augmentation (the training split only, still ``n_train`` tiles; validation and test
    are unchanged). The target is ``test_region``, known only by a low-resolution survey:
    ``augment_target_grids`` terrains of ``test_region`` seeded from their own stream
    (``(seed, 3, index)``: never a test tile), block-averaged by ``scale`` at once (the
    high-resolution grids are discarded unused).

    * ``"stage1"``: the ``n_train`` training tiles under :func:`transform_tiles`.
    * ``"two_stage"``: :func:`two_stage_augment` of ``augment_pool * n_train`` source tiles
      (the ``n_train`` training tiles first, then more of the same stream) towards the
      target's low-resolution grids, ``n_train`` tiles out.

    ``info["augment"]`` records the mode, the settings and the Jensen-Shannon distances
    (:func:`histogram_distances`) of the slope, roughness and joint histograms, at the
    low resolution, of the source, the stage-1 and (two-stage) the selected tiles to the
    target's grids.

    Args:
        n_train: Training tiles. Defaults to `400`.
        n_val: Validation tiles. Defaults to `100`.
        n_test: Test tiles. Defaults to `100`.
        tile: High-resolution tile edge in pixels; a multiple of `scale`. Defaults to `64`.
        scale: Super-resolution factor (4 and 8 in the report). Defaults to `4`.
        pixel_m: High-resolution pixel size in metres. Defaults to `50.0`.
        region: Region of the training and validation tiles (`"source"` or `"target"`,
            see :data:`REGIONS`). Defaults to `"source"`.
        test_region: Region of the test tiles; `None` for `region`. Defaults to `"target"`.
        min_std_m: Floor of the normalising standard deviation in metres. Defaults to `1.0`.
        seed: Seed of every tile. Defaults to `0`.
        augment: Augmentation of the training tiles: `"none"`, `"stage1"` or
            `"two_stage"`; augmenting needs `tile` >= 3 `scale`. Defaults to `"none"`.
        augment_pool: Source tiles per training tile that `"two_stage"` chooses from.
            Defaults to `4`.
        augment_target_grids: Low-resolution grids of the target region that the
            augmentation measures. Defaults to `200`.
    """
    if tile < scale:
        raise ValueError(f"`tile` must be at least `scale` ({scale}). Received: tile={tile}")
    if tile % scale:
        raise ValueError(f"`tile` must be a multiple of `scale` ({scale}). Received: tile={tile}")
    if augment not in ("none", "stage1", "two_stage"):
        raise ValueError(f"`augment` must be one of none, stage1, two_stage. Received: augment={augment!r}")
    if augment != "none" and tile < 3 * scale:
        raise ValueError(f"`tile` must be at least 3 * `scale` ({3 * scale}) to augment. Received: tile={tile}")
    regions = {"train": region, "val": region, "test": region if test_region is None else test_region}

    def terrain(region_name: str, stream: int, count: int) -> np.ndarray:
        tiles = [
            synthesize_terrain(tile, pixel_m=pixel_m, region=region_name, seed=derive_seed(seed, stream, k))
            for k in range(count)
        ]
        return np.stack(tiles)

    splits = {}
    stats = {}
    augmentation: dict[str, Any] = {"mode": augment}
    for i, (name, count) in enumerate(zip(_SPLITS, (n_train, n_val, n_test))):
        if name == "train" and augment != "none":
            hr, augmentation = _augmented(
                augment,
                terrain,
                n_train=n_train,
                pool=augment_pool,
                n_target=augment_target_grids,
                regions=regions,
                scale=scale,
                pixel_m=pixel_m,
                seed=seed,
            )
        else:
            hr = terrain(regions[name], i, count)
        inputs, targets, stats[name] = make_pairs(hr, scale, min_std_m=min_std_m)
        splits[name] = (inputs, targets)
    info = {
        "source": "generated",
        "tile": tile,
        "scale": scale,
        "pixel_m": pixel_m,
        "lr_pixel_m": pixel_m * scale,
        "regions": regions,
        "terrain": {r: dict(REGIONS[r]) for r in sorted(set(regions.values()))},
        "input": "bicubic upsampling of the block-averaged tile, at the tile's size",
        "normalization": "(z - mean_m) / std_m per tile, from the low-resolution tile; std_m >= min_std_m",
        "units": "m, elevation (negative below sea level)",
        "stats": stats,
        "augment": augmentation,
    }
    return Dataset(splits, info=info)


def _augmented(augment, terrain, *, n_train, pool, n_target, regions, scale, pixel_m, seed) -> tuple[np.ndarray, dict]:
    """The augmented training tiles in metres and ``info["augment"]``."""
    target = block_average(terrain(regions["test"], _TARGET_LR, n_target), scale)
    source = terrain(regions["train"], 0, n_train * (pool if augment == "two_stage" else 1))
    settings = {"mode": augment, "target_region": regions["test"], "n_target_grids": n_target}
    augment_seed = derive_seed(seed, _AUGMENT)
    if augment == "two_stage":
        hr, info = _augment.two_stage_augment(
            source, target, scale=scale, n_out=n_train, pixel_m=pixel_m, seed=augment_seed
        )
        return hr, {**settings, "augment_pool": pool, **info}
    hr = _augment.transform_tiles(source, seed=augment_seed)
    lr_pixel = pixel_m * scale
    distance = {
        "source": _augment.histogram_distances(block_average(source, scale), target, lr_pixel),
        "stage1": _augment.histogram_distances(block_average(hr, scale), target, lr_pixel),
    }
    stage1 = {
        "rotate": True,
        "flip": True,
        "depth_scale": list(_augment._DEPTH_SCALE),
        "slope_stretch": list(_augment._SLOPE_STRETCH),
    }
    return hr, {**settings, **stage1, "distance": distance}
