"""Restoring image files with a trained image-to-image model: any size in, the same size and bit depth out.

    >>> from keras_geo import restoration
    >>> model = keras.models.load_model("restorer.keras", safe_mode=True)
    >>> restoration.restore_files(model, ["scan_001.tif", "scans/"], "restored/")

A model trained on 64-pixel patches restores a 2048 x 1536 micrograph tile by tile
(:func:`keras_geo.tiling.predict_tiled`: overlapping tiles, blended without seams).
Pixels are read as the training folders read them (:func:`keras_geo.datasets.folders.unit_range`:
8- and 16-bit files by their type's full range, float files by their own range) and
written back the same way: a 16-bit file gives a 16-bit file, an 8-bit one an 8-bit
one, a float TIFF a float TIFF in the input's range. The output keeps the input's file
name and type; JPEG inputs are written as PNG (a restoration should not be recompressed
lossily). The ``keras-geo-hpo restore`` command is this module on the command line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RestoredFile", "image_files", "read_scaled", "restore", "restore_files", "write_scaled"]

_LOSSY = (".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class Scale:
    """How a file's pixels map to [0, 1]: ``value = low + pixel * (high - low)``, stored as ``dtype``."""

    low: float
    high: float
    dtype: np.dtype


@dataclass(frozen=True)
class RestoredFile:
    """One restored file: where it came from, where it went, its size and pixel type."""

    source: Path
    out: Path
    shape: tuple[int, ...]
    dtype: str


def image_files(inputs: Iterable[str | Path]) -> list[Path]:
    """Image files among ``inputs``: files as given, folders expanded to their image files (sorted, not recursive).

    Raises:
        FileNotFoundError: naming an input that does not exist.
    """
    from keras_geo.datasets.folders import IMAGE_SUFFIXES

    files: list[Path] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such image or folder: {path}")
    return files


def read_scaled(path: str | Path, channels: int = 1) -> tuple[np.ndarray, Scale]:
    """An image file as float32 ``(h, w, channels)`` in [0, 1], and the :class:`Scale` to write it back.

    Colour files are converted to grey for a one-channel model and grey files to RGB for a
    three-channel one; an alpha channel is dropped.

    Raises:
        keras_geo.datasets.folders.ImageFolderError: an empty or undecodable file.
    """
    from keras_geo.datasets.folders import convert_pixels, read_raw, unit_range

    if channels not in (1, 3):
        raise ValueError(f"`channels` must be 1 (grey) or 3 (RGB). Received: channels={channels!r}")
    raw = read_raw(path)
    _, (low, high) = unit_range(raw)
    image = convert_pixels(raw, None, "grayscale" if channels == 1 else "rgb")
    return image, Scale(low, high, raw.dtype)


def write_scaled(path: str | Path, image: np.ndarray, scale: Scale) -> Path:
    """Writes ``image`` (float in [0, 1], ``(h, w)`` or ``(h, w, 1 | 3)`` RGB) to ``path`` in ``scale``'s type.

    Integer types are rounded and clipped to their range; RGB is written in OpenCV's BGR order.
    """
    import cv2

    image = np.clip(np.asarray(image, dtype="float64"), 0.0, 1.0)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    values = scale.low + image * (scale.high - scale.low)
    if np.issubdtype(scale.dtype, np.integer):
        info = np.iinfo(scale.dtype)
        pixels = np.clip(np.rint(values), info.min, info.max).astype(scale.dtype)
    else:
        pixels = values.astype("float32")
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    path = Path(path)
    if not cv2.imwrite(str(path), pixels):
        raise OSError(f"{path}: OpenCV could not write a {pixels.dtype} image of shape {pixels.shape} there")
    return path


def _model_channels(model: Any) -> tuple[int, int]:
    """The model's input and output channels; a ValueError unless it maps grey or RGB images to images."""
    in_shape, out_shape = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
    if len(in_shape) != 4 or len(out_shape) != 4:
        raise ValueError(
            f"{model.name} maps {in_shape[1:]} to {out_shape[1:]}: restoring needs a model from images to images"
        )
    channels = (int(in_shape[-1]), int(out_shape[-1]))
    if not set(channels) <= {1, 3}:
        raise ValueError(
            f"{model.name} maps {channels[0]} channels to {channels[1]}: image files are restored from and to "
            "grey (1) or RGB (3)"
        )
    return channels


def restore(model: Any, image: np.ndarray, *, tile: int | None = None, overlap: int | None = None) -> np.ndarray:
    """One image ``(h, w, c)`` in [0, 1] through ``model``, tile by tile; the output ``(h, w, c_out)`` clipped to [0, 1].

    Args:
        model: An image-to-image Keras model (e.g. a U-Net or pix2pix of :mod:`keras_geo.models`).
        image: The image, any height and width.
        tile: Tile size. Defaults to the model's input size (or 256 for a model of any size).
        overlap: Overlap of neighbouring tiles. Defaults to a quarter of the tile.
    """
    from keras_geo.tiling import predict_tiled

    return np.clip(predict_tiled(model, image, tile=tile, overlap=overlap), 0.0, 1.0)


def restore_files(
    model: Any,
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    progress: bool = True,
) -> list[RestoredFile]:
    """Restores image files and folders into ``out_dir`` (same names, same bit depth; JPEG as PNG).

    Args:
        model: An image-to-image Keras model; its input channels decide grey or RGB reading.
        inputs: Image files and folders of images.
        out_dir: Output folder (created). A file may not be written over its own source.
        tile: Tile size (see :func:`restore`). Defaults to the model's input size.
        overlap: Tile overlap. Defaults to a quarter of the tile.
        progress: Show a progress bar over the files. Defaults to `True`.

    Returns:
        One :class:`RestoredFile` per file written, in input order.

    Raises:
        FileNotFoundError: an input that does not exist.
        ValueError: a model that does not map images to images, no image among the inputs,
            or an output that would overwrite its input.
        keras_geo.datasets.folders.ImageFolderError: a file that cannot be read (named).
    """
    from tqdm.auto import tqdm

    channels, _ = _model_channels(model)
    files = image_files(inputs)
    if not files:
        raise ValueError("no image file among the inputs")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in tqdm(files, desc="restoring", unit="image", disable=not progress):
        image, scale = read_scaled(source, channels)
        restored = restore(model, image, tile=tile, overlap=overlap)
        suffix = ".png" if source.suffix.lower() in _LOSSY else source.suffix
        target = out_dir / f"{source.stem}{suffix}"
        if target.resolve() == source.resolve():
            raise ValueError(f"{target} would overwrite its input; choose another output folder")
        write_scaled(target, restored, scale)
        written.append(RestoredFile(source, target, tuple(restored.shape), str(scale.dtype)))
    return written
