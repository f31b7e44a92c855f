"""Tiled inference: a model trained on small patches, applied to an image of any size without seams.

Restoration models (:func:`~keras_geo.models.build_unet`, pix2pix generators) are fully
convolutional but usually built for the size of their training patches (64x64, say);
an SEM image is larger. :func:`predict_tiled` cuts the image into overlapping tiles of
the model's size, runs them through the model in batches, and blends the outputs:

    >>> from keras_geo.tiling import predict_tiled
    >>> restored = predict_tiled(model, image)          # (H, W) or (H, W, C) -> (H, W, C_out)

How the tiles are laid out and blended:

* Along each axis the tiles start every ``tile - overlap`` pixels, the last one aligned
  with the image's edge (it may overlap its neighbour more). An axis shorter than a tile
  is reflect-padded at its end (bottom, right) to the tile size and cropped back, so the
  model only ever sees tiles of the one size (a multiple of ``multiple``, which a U-Net
  of any input size still needs).
* Each tile's output is weighted by a separable window that is 1 except towards an edge
  shared with another tile: there it is 0 over the outer quarter of the overlap (where a
  convolution's zero padding at the tile's edge corrupts the output), rises as a raised
  cosine over the middle half and is 1 beyond. Tile edges on the image's border keep
  weight 1. The outputs are averaged with these weights, so neighbouring tiles fade into
  each other (no visible seams), and every pixel has a tile whose weight there is at
  least 1/2.
* Hence a fully convolutional model whose receptive field reaches at most
  ``overlap // 4`` pixels from the centre (four 3x3 convolutions for the default overlap
  of 16 px on 64 px tiles) gives exactly the whole image's result; a model that sees
  farther (a U-Net) gives the blend of tiles that each saw most of the context.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["predict_tiled"]

#: Tile size for a model that takes any size (rounded down to ``multiple``).
DEFAULT_TILE = 256


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _pair(name: str, value: Any) -> tuple[int, int]:
    """``(rows, cols)`` from an int or a pair of ints; a ValueError echoing the value otherwise."""
    values = (value, value) if _is_int(value) else value
    try:
        rows, cols = values
    except (TypeError, ValueError):
        rows = cols = None
    if not (_is_int(rows) and _is_int(cols)):
        raise ValueError(f"`{name}` must be an integer or a pair of integers (rows, cols). Received: {name}={value!r}")
    return int(rows), int(cols)


def _keras_layer(model: Any) -> bool:
    """Whether ``model`` is a Keras layer or model (without importing Keras when nothing did)."""
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(model, keras.layers.Layer)


def _model_input(model: Any) -> tuple[int | None, int | None, int | None]:
    """``(height, width, channels)`` of the model's input, ``None`` where free or unknown."""
    try:
        shape = tuple(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None, None, None
    if len(shape) != 4:
        return None, None, None
    return tuple(None if d is None else int(d) for d in shape[1:])  # type: ignore[return-value]


def _rise(distance: np.ndarray, overlap: int) -> np.ndarray:
    """Weight by distance from a shared tile edge: 0 over a quarter of the overlap, a raised cosine over half."""
    if overlap == 0:
        return np.ones_like(distance)
    margin, width = overlap / 4, overlap / 2
    u = np.clip((distance - margin) / width, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * u)


def _axis_plan(size: int, tile: int, overlap: int) -> tuple[list[int], int]:
    """``(tile starts, padded size)`` along one axis of ``size`` pixels."""
    padded = max(size, tile)
    if padded == tile:
        return [0], padded
    return list(range(0, padded - tile, tile - overlap)) + [padded - tile], padded


def _windows(starts: Sequence[int], tile: int, padded: int, overlap: int) -> list[np.ndarray]:
    """The blending window of each tile along one axis: ramps only at edges shared with a neighbour."""
    centre = np.arange(tile) + 0.5
    windows = []
    for start in starts:
        window = np.ones(tile)
        if start > 0:
            window = np.minimum(window, _rise(centre, overlap))
        if start + tile < padded:
            window = np.minimum(window, _rise(tile - centre, overlap))
        windows.append(window)
    return windows


def _call(model: Any, batch: np.ndarray) -> np.ndarray:
    if _keras_layer(model):
        import keras

        return keras.ops.convert_to_numpy(model(batch, training=False))
    output = model(batch)
    keras = sys.modules.get("keras")
    return keras.ops.convert_to_numpy(output) if keras is not None else np.asarray(output)


def predict_tiled(
    model: Callable[..., Any],
    image: Any,
    *,
    tile: int | Sequence[int] | None = None,
    overlap: int | Sequence[int] | None = None,
    multiple: int = 1,
    batch_size: int = 16,
    progress: bool = False,
) -> np.ndarray:
    """The model's output for an image of any size, computed on overlapping tiles and blended.

    See the module docstring for the layout of the tiles and the blending window.

    Args:
        model: A Keras model (called as ``model(batch, training=False)``, eagerly: not
            ``model.predict``, which traces a new function per model) or any callable
            mapping a batch ``(B, rows, cols, C)`` of float32 tiles to ``(B, rows, cols, C_out)``.
        image: One image, ``(height, width)`` (grey) or ``(height, width, channels)``; a
            batch ``(N, height, width, channels)`` is done image by image.
        tile: Tile size, an int or ``(rows, cols)``. Defaults to `None`: the model's input
            size where it is fixed, else 256 rounded down to ``multiple``. A model with a
            fixed input size accepts only that size.
        overlap: Overlap of neighbouring tiles in pixels, an int or ``(rows, cols)``,
            ``0 <= overlap < tile``. Defaults to `None` (a quarter of the tile).
        multiple: Tile sizes must be multiples of this (``2**depth`` for a U-Net of that
            depth). Defaults to `1`.
        batch_size: Tiles per call of the model. Defaults to `16`.
        progress: Show a tqdm progress bar over the tiles. Defaults to `False`.

    Returns:
        A float32 array ``(height, width, C_out)`` (``(N, height, width, C_out)`` for a batch).
    """
    array = np.asarray(image)
    if array.ndim not in (2, 3, 4) or array.size == 0:
        raise ValueError(
            "`image` must be one image, (height, width) or (height, width, channels), or a batch "
            f"(N, height, width, channels). Received shape: {np.shape(image)}"
        )
    if not (_is_int(multiple) and multiple >= 1):
        raise ValueError(f"`multiple` must be an integer >= 1. Received: multiple={multiple!r}")
    if not (_is_int(batch_size) and batch_size >= 1):
        raise ValueError(f"`batch_size` must be an integer >= 1. Received: batch_size={batch_size!r}")
    images = array[None] if array.ndim < 4 else array
    if images.ndim == 3:
        images = images[..., None]
    height, width, channels = images.shape[1:]

    fixed = _model_input(model)
    if fixed[2] is not None and fixed[2] != channels:
        raise ValueError(
            f"The model takes images of {fixed[2]} channels. Received: an image of shape {np.shape(image)}"
        )
    if tile is None:
        free = max(multiple, DEFAULT_TILE // multiple * multiple)
        tile = tuple(free if size is None else size for size in fixed[:2])
    tiles = _pair("tile", tile)
    for size, model_size in zip(tiles, fixed[:2]):
        if size < 1 or size % multiple:
            raise ValueError(
                f"`tile` must be positive multiples of `multiple`. Received: tile={tile!r}, multiple={multiple}"
            )
        if model_size is not None and size != model_size:
            raise ValueError(
                f"The model takes tiles of {fixed[0]}x{fixed[1]} pixels only (its input size); build it with "
                f"None height and width for other tile sizes. Received: tile={tile!r}"
            )
    overlaps = tuple(t // 4 for t in tiles) if overlap is None else _pair("overlap", overlap)
    if not all(0 <= o < t for o, t in zip(overlaps, tiles)):
        raise ValueError(
            f"`overlap` must be >= 0 and smaller than `tile`. Received: overlap={overlap!r}, tile={tile!r}"
        )

    tile_rows, tile_cols = tiles
    row_starts, padded_rows = _axis_plan(height, tile_rows, overlaps[0])
    col_starts, padded_cols = _axis_plan(width, tile_cols, overlaps[1])
    row_windows = _windows(row_starts, tile_rows, padded_rows, overlaps[0])
    col_windows = _windows(col_starts, tile_cols, padded_cols, overlaps[1])
    corners = [(i, j) for i in range(len(row_starts)) for j in range(len(col_starts))]

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(images) * len(corners), desc="tiles", unit="tile")
    results = []
    try:
        for one in images:
            padded = np.pad(
                one.astype(np.float32),
                ((0, padded_rows - height), (0, padded_cols - width), (0, 0)),
                mode="reflect",
            )
            total = weights = None
            for begin in range(0, len(corners), batch_size):
                chosen = corners[begin : begin + batch_size]
                batch = np.stack(
                    [
                        padded[row_starts[i] : row_starts[i] + tile_rows, col_starts[j] : col_starts[j] + tile_cols]
                        for i, j in chosen
                    ]
                )
                output = _call(model, batch)
                if output.ndim != 4 or output.shape[:3] != batch.shape[:3]:
                    raise ValueError(
                        f"The model must map a batch of tiles {batch.shape} to (batch, {tile_rows}, {tile_cols}, "
                        f"channels). Received output shape: {output.shape}"
                    )
                if total is None:
                    total = np.zeros((padded_rows, padded_cols, output.shape[-1]))
                    weights = np.zeros((padded_rows, padded_cols))
                for (i, j), values in zip(chosen, output):
                    window = np.outer(row_windows[i], col_windows[j])
                    rows = slice(row_starts[i], row_starts[i] + tile_rows)
                    cols = slice(col_starts[j], col_starts[j] + tile_cols)
                    total[rows, cols] += window[..., None] * values
                    weights[rows, cols] += window
                if bar is not None:
                    bar.update(len(chosen))
            results.append((total / weights[..., None])[:height, :width].astype(np.float32))
    finally:
        if bar is not None:
            bar.close()
    return results[0] if array.ndim < 4 else np.stack(results)
