"""Bathymetry super-resolution with a trained model: a coarse survey grid in, a fine grid in metres out.

    >>> from keras_geo import bathymetry
    >>> model = keras.models.load_model("edsr_x4.keras", safe_mode=True)  # trained on ``bathymetry``
    >>> fine = bathymetry.super_resolve(model, coarse, scale=4)           # (h, w) -> (4 h, 4 w), metres
    >>> bathymetry.consistency(fine, coarse, scale=4)                      # RMS misfit to the coarse grid, m
    >>> bathymetry.plot_super_resolution(coarse, fine, scale=4, hr=truth)   # maps with colour bars in metres

:func:`super_resolve` feeds the model what the ``bathymetry`` data set trained it on
(:mod:`keras_geo.datasets.bathymetry`): the low-resolution grid upsampled bicubically to
the high-resolution size, normalised per tile by the mean and standard deviation of the
*low-resolution* cells under the tile (standard deviation floored at ``min_std_m``). The
whole grid is upsampled in one pass (so tiles see bicubic values computed with their
neighbours' cells, not a tile's own edge extrapolation), then cut into overlapping tiles,
each normalised by its own low-resolution statistics, run through the model and brought
back to metres, and the tiles are blended in metres by :func:`keras_geo.tiling.predict_tiled`
(raised-cosine windows over the overlaps). Tiles are aligned with the low-resolution
cells (``tile`` and ``overlap`` are multiples of ``scale``), so each tile's statistics are
exactly those of whole low-resolution cells, as in training. A model that commutes with
an affine change of units (``f(a x + b) = a f(x) + b``) therefore gives the one-pass
result wherever its receptive field stays within a quarter of the overlap; a real network
does not quite, and the blending hides the small differences between the tiles'
normalisations (no seams). At the grid's own border the model's zero padding is in
normalised units (the tile's mean), as in training, not zero metres.

No-data cells (NaN, or masked in a masked array) are filled with the nearest valid cell
for the model, and the output is NaN on every high-resolution cell of a no-data cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_geo.datasets.bathymetry import block_average, upsample
from keras_geo.tiling import _call, _is_int, _model_input, predict_tiled

__all__ = ["DEFAULT_TILE", "consistency", "plot_super_resolution", "seam_mask", "super_resolve"]

#: High-resolution tile size for a model that takes any size (the data set's default tile).
DEFAULT_TILE = 64


def _as_grid(name: str, grid: Any) -> np.ndarray:
    """A float64 ``(rows, cols)`` array with NaN where there is no data (masked cells included)."""
    if np.ma.isMaskedArray(grid):
        grid = np.ma.filled(grid.astype(np.float64), np.nan)
    array = np.asarray(grid, dtype=np.float64)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"`{name}` must be one grid (rows, cols). Received shape: {np.shape(grid)}")
    return array


def _fill_nearest(grid: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``grid`` with every missing cell set to its nearest valid cell's value."""
    if not missing.any():
        return grid
    from scipy import ndimage

    indices = ndimage.distance_transform_edt(missing, return_distances=False, return_indices=True)
    return grid[tuple(indices)]


def super_resolve(
    model: Any,
    lr_grid: Any,
    *,
    scale: int,
    tile: int | None = None,
    overlap: int = 16,
    min_std_m: float = 1.0,
    batch_size: int = 16,
    progress: bool = False,
) -> np.ndarray:
    """The super-resolved grid in metres of a low-resolution grid, computed tile by tile and blended.

    See the module docstring for the normalisation, the tiling and the no-data cells.

    Args:
        model: A trained same-size super-resolution model (``srcnn``, ``edsr``, a U-Net...)
            taking one-channel normalised bicubic inputs, as trained on the ``bathymetry``
            data set; a Keras model or a callable ``(B, tile, tile, 1) -> (B, tile, tile, 1)``.
        lr_grid: Low-resolution elevations ``(h, w)`` in metres; NaN (or masked) where there
            is no data.
        scale: Super-resolution factor the model was trained for (the data set's ``scale``);
            the output is ``(h * scale, w * scale)``.
        tile: High-resolution tile edge in pixels, a multiple of ``scale``. Defaults to
            `None`: the model's input size where it is fixed, else 64.
        overlap: Overlap of neighbouring tiles in high-resolution pixels, a multiple of
            ``scale`` (0 allowed) smaller than ``tile``. Defaults to `16`.
        min_std_m: Floor of each tile's normalising standard deviation in metres, as the
            data set's ``min_std_m``. Defaults to `1.0`.
        batch_size: Tiles per call of the model. Defaults to `16`.
        progress: Show a progress bar over the tiles. Defaults to `False`.

    Returns:
        float32 array ``(h * scale, w * scale)`` in metres, NaN under no-data cells.

    Raises:
        ValueError: a bad setting (one line naming it), a grid whose high-resolution size
            is smaller than a tile, or a grid without any valid cell.
    """

    if not (_is_int(scale) and scale >= 1):
        raise ValueError(f"`scale` must be an integer >= 1. Received: scale={scale!r}")
    if not (isinstance(min_std_m, (int, float)) and not isinstance(min_std_m, bool) and min_std_m > 0):
        raise ValueError(f"`min_std_m` must be a number > 0. Received: min_std_m={min_std_m!r}")
    lr = _as_grid("lr_grid", lr_grid)
    fixed = _model_input(model)
    if fixed[2] is not None and fixed[2] != 1:
        raise ValueError(f"The model must take one-channel grids. Received: a model of {fixed[2]} input channels")
    if tile is None:
        sizes = {size for size in fixed[:2] if size is not None}
        if len(sizes) > 1:
            raise ValueError(f"The model takes {fixed[0]}x{fixed[1]} inputs; square tiles only. Pass `tile`")
        tile = sizes.pop() if sizes else DEFAULT_TILE
    if not _is_int(tile):
        raise ValueError(f"`tile` must be an integer. Received: tile={tile!r}")
    if tile < scale:
        raise ValueError(f"`tile` must be at least `scale` ({scale}). Received: tile={tile}")
    if tile % scale:
        raise ValueError(f"`tile` must be a multiple of `scale` ({scale}). Received: tile={tile}")
    if any(size is not None and size != tile for size in fixed[:2]):
        raise ValueError(f"`tile` must be the model's input size {fixed[0]}x{fixed[1]}. Received: tile={tile}")
    if not (_is_int(overlap) and 0 <= overlap < tile and overlap % scale == 0):
        raise ValueError(
            f"`overlap` must be a multiple of `scale` ({scale}), >= 0 and smaller than `tile` ({tile}). "
            f"Received: overlap={overlap!r}"
        )
    rows, cols = lr.shape[0] * scale, lr.shape[1] * scale
    if min(rows, cols) < tile:
        raise ValueError(
            f"`lr_grid` of {lr.shape[0]} x {lr.shape[1]} cells is {rows} x {cols} pixels at x{scale}, smaller "
            f"than a tile ({tile} pixels); use a smaller `tile` (and a model that takes it)"
        )
    missing = ~np.isfinite(lr)
    if missing.all():
        raise ValueError("`lr_grid` has no valid cell (all NaN or masked)")

    filled = _fill_nearest(lr, missing)
    up = upsample(filled.astype(np.float32), scale)
    # The low-resolution cells repeated over their blocks: a tile's mean and standard deviation of this
    # channel are exactly those of the low-resolution cells under it (the tiles are aligned with them).
    blocks = np.kron(filled, np.ones((scale, scale))).astype(np.float32)
    floor = float(min_std_m)

    def normalised(batch: np.ndarray) -> np.ndarray:
        z, cells = batch[..., :1].astype(np.float64), batch[..., 1:].astype(np.float64)
        mean = cells.mean(axis=(1, 2, 3), keepdims=True)
        std = np.maximum(cells.std(axis=(1, 2, 3), keepdims=True), floor)
        output = np.asarray(_call(model, ((z - mean) / std).astype(np.float32)), dtype=np.float64)
        if output.ndim != 4 or output.shape[-1] != 1:
            raise ValueError(f"The model must return one-channel grids. Received output shape: {output.shape}")
        return output * std + mean

    result = predict_tiled(
        normalised,
        np.stack([up, blocks], axis=-1),
        tile=tile,
        overlap=overlap,
        batch_size=batch_size,
        progress=progress,
    )[..., 0]
    result[np.kron(missing, np.ones((scale, scale), dtype=bool))] = np.nan
    return result.astype(np.float32)


def consistency(sr_grid: Any, lr_grid: Any, scale: int) -> float:
    """Spatial consistency: RMS difference in metres between ``block_average(sr_grid, scale)`` and ``lr_grid``.

    A super-resolved grid averaged back over the low-resolution cells should give the
    low-resolution grid; 0 is perfect. Cells that are NaN (or masked) on either side, or
    whose block holds a NaN, are left out.

    Args:
        sr_grid: High-resolution grid ``(h * scale, w * scale)`` in metres.
        lr_grid: Low-resolution grid ``(h, w)`` in metres.
        scale: The super-resolution factor.

    Returns:
        The RMS difference in metres (a float).

    Raises:
        ValueError: grids whose shapes do not match at ``scale``, or no cell valid on both sides.
    """
    if not (_is_int(scale) and scale >= 1):
        raise ValueError(f"`scale` must be an integer >= 1. Received: scale={scale!r}")
    sr, lr = _as_grid("sr_grid", sr_grid), _as_grid("lr_grid", lr_grid)
    if sr.shape != (lr.shape[0] * scale, lr.shape[1] * scale):
        raise ValueError(
            f"`sr_grid` must be `lr_grid`'s shape times `scale` ({scale}). Received: sr_grid {sr.shape}, "
            f"lr_grid {lr.shape}"
        )
    difference = block_average(sr, scale).astype(np.float64) - lr
    valid = np.isfinite(difference)
    if not valid.any():
        raise ValueError("`sr_grid` and `lr_grid` have no cell valid in both")
    return float(np.sqrt(np.mean(difference[valid] ** 2)))


def seam_mask(shape: tuple[int, int], tile: int, width: int = 2) -> np.ndarray:
    """Pixels within ``width`` of an inner edge of the non-overlapping ``tile`` x ``tile`` grid of ``shape``.

    Where a tile-by-tile result without overlap can jump from one tile to the next: the
    pixels a seam error is measured on (compare the error there with the error elsewhere).
    """
    if not (_is_int(tile) and tile >= 1 and _is_int(width) and width >= 1):
        raise ValueError(f"`tile` and `width` must be integers >= 1. Received: tile={tile!r}, width={width!r}")
    mask = np.zeros(shape, dtype=bool)
    for axis, size in enumerate(shape):
        for edge in range(tile, size, tile):
            index = [slice(None), slice(None)]
            index[axis] = slice(max(edge - width, 0), edge + width)
            mask[tuple(index)] = True
    return mask


def plot_super_resolution(
    lr_grid: Any,
    sr_grid: Any,
    *,
    scale: int,
    hr: Any = None,
    path: Any = None,
    title: str = "",
    pixel_m: float | None = None,
):
    """Maps in metres: the low-resolution grid, its bicubic upsampling, the super-resolved grid and,
    with ``hr``, the truth and both errors (bicubic - truth, SR - truth) with their RMSE.

    Elevations share one colour scale and colour bar (m); the errors share a diverging one.

    Args:
        lr_grid: Low-resolution grid ``(h, w)`` in metres.
        sr_grid: Super-resolved grid ``(h * scale, w * scale)`` in metres.
        scale: The super-resolution factor.
        hr: The true high-resolution grid, when known. Defaults to `None`.
        path: Where to save a PNG. Defaults to `None` (not saved).
        title: A title over the figure. Defaults to `""`.
        pixel_m: High-resolution pixel size, to label the axes in km. Defaults to `None` (pixels).

    Returns:
        The matplotlib ``Figure``.
    """
    from matplotlib.figure import Figure

    lr, sr = _as_grid("lr_grid", lr_grid), _as_grid("sr_grid", sr_grid)
    if sr.shape != (lr.shape[0] * scale, lr.shape[1] * scale):
        raise ValueError(
            f"`sr_grid` must be `lr_grid`'s shape times `scale` ({scale}). Received: {sr.shape}, {lr.shape}"
        )
    missing = np.kron(~np.isfinite(lr), np.ones((scale, scale), dtype=bool))
    bicubic = upsample(_fill_nearest(lr, ~np.isfinite(lr)).astype(np.float32), scale).astype(np.float64)
    bicubic[missing] = np.nan  # holes as wide as the super-resolved grid's
    panels = [("low resolution", np.kron(lr, np.ones((scale, scale)))), ("bicubic", bicubic), ("super-resolved", sr)]
    errors = []
    if hr is not None:
        truth = _as_grid("hr", hr)
        if truth.shape != sr.shape:
            raise ValueError(f"`hr` must have `sr_grid`'s shape {sr.shape}. Received: {truth.shape}")
        panels.append(("truth", truth))
        for label, grid in (("bicubic", bicubic), ("super-resolved", sr)):
            error = grid - truth
            errors.append((f"{label} - truth, RMSE {np.sqrt(np.nanmean(error**2)):.2f} m", error))
    extent = None
    if pixel_m is not None:
        extent = (0, sr.shape[1] * pixel_m / 1000, sr.shape[0] * pixel_m / 1000, 0)
    columns = len(panels)
    rows = 2 if errors else 1
    figure = Figure(figsize=(3.3 * columns + 1, 3.2 * rows + (0.4 if title else 0)), layout="constrained")
    low, high = np.nanmin(panels[-1][1]), np.nanmax(panels[-1][1])
    axes, shown = [], None
    for j, (label, grid) in enumerate(panels):
        axes.append(figure.add_subplot(rows, columns, j + 1))
        shown = axes[-1].imshow(grid, cmap="viridis", vmin=low, vmax=high, extent=extent)
        axes[-1].set_title(label)
        axes[-1].tick_params(labelsize=7)
        if extent is not None:
            axes[-1].set_xlabel("km", fontsize=8)
    figure.colorbar(shown, ax=axes, label="elevation (m)", shrink=0.9)
    if errors:
        limit = max(float(np.nanpercentile(np.abs(e), 99)) for _, e in errors) or 1.0
        axes = []
        for j, (label, error) in enumerate(errors):
            axes.append(figure.add_subplot(rows, columns, columns + j + 1))
            shown = axes[-1].imshow(error, cmap="RdBu_r", vmin=-limit, vmax=limit, extent=extent)
            axes[-1].set_title(label, fontsize=9)
            axes[-1].tick_params(labelsize=7)
        figure.colorbar(shown, ax=axes, label="error (m)", location="bottom", shrink=0.9)
    if title:
        figure.suptitle(title)
    if path is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(figure)
        figure.savefig(path, dpi=90)
    return figure
