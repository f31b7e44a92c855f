"""Image folders: one sub-folder per class (``flowers/daisy/*.jpg``, ``flowers/rose/*.jpg``), read with OpenCV.

Real folders hold junk: zero-byte files, truncated downloads, text files, images in
grey, with an alpha channel, in 16 bits, of every size. :func:`load_image_folder`
reads every file OpenCV can decode, converts it to the requested colour mode and
size, and skips the rest with one warning naming each skipped file (or raises
:class:`ImageFolderError` at the first one with ``strict=True``).
:func:`to_dataset` turns the arrays into a ``tf.data`` pipeline with optional
augmentation (Keras preprocessing layers).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np

from keras_geo._settings import Exists, Range
from keras_geo.datasets._registry import Dataset, register

# How many skipped files the warning names (one line, however many files a folder holds).
_NAMED_SKIPS = 5

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageFolder",
    "ImageFolderError",
    "augmentation",
    "convert_pixels",
    "folder",
    "load_image_folder",
    "read_image",
    "read_raw",
    "split",
    "to_dataset",
    "unit_range",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class ImageFolderError(ValueError):
    """A folder or file that cannot be used; the message names it."""


class ImageFolder(NamedTuple):
    """Images ``x`` (n, h, w, c) float32 in [0, 1], labels ``y``, the class names, the files read and skipped."""

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    paths: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]


def read_raw(path: str | Path) -> np.ndarray:
    """A file's pixels as OpenCV decodes them: any depth, BGR/BGRA or grey, unscaled.

    Raises:
        ImageFolderError: if the file is empty or OpenCV cannot decode it.
    """
    import cv2

    path = Path(path)
    if path.stat().st_size == 0:
        raise ImageFolderError(f"{path}: empty file")
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    if raw is None or raw.size == 0:
        raise ImageFolderError(f"{path}: not an image OpenCV can read (corrupt, truncated or another format)")
    return raw


def read_image(
    path: str | Path, image_size: tuple[int, int] | int | None = None, *, color_mode: str = "rgb"
) -> np.ndarray:
    """One image file as float32 in [0, 1]: ``(h, w, 3)`` RGB or ``(h, w, 1)`` grey, resized if asked.

    8- and 16-bit files, grey, BGR and BGRA are converted; ``image_size`` is
    ``(height, width)`` or one side.

    Raises:
        ImageFolderError: if the file is empty or OpenCV cannot decode it.
    """
    import cv2

    if color_mode not in ("rgb", "grayscale"):
        raise ValueError(f"color_mode must be 'rgb' or 'grayscale'. Received: color_mode={color_mode!r}")
    raw = read_raw(path)
    try:
        return convert_pixels(raw, image_size, color_mode)
    except cv2.error as error:
        raise ImageFolderError(f"{path}: cannot convert its {raw.dtype} {raw.shape} pixels: {error}") from None


def unit_range(raw: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Pixels as float32 in [0, 1], and the ``(low, high)`` of the file's values mapped to 0 and 1.

    8- and 16-bit images map their type's full range (``(0, 255)``, ``(0, 65535)``), so
    brightness means the same in every file; other types (float TIFF) map their own
    minimum and maximum. ``low + image * (high - low)`` gives the file's values back.
    """
    if raw.dtype == np.uint16:
        return raw.astype("float32") / 65535.0, (0.0, 65535.0)
    if raw.dtype == np.uint8:
        return raw.astype("float32") / 255.0, (0.0, 255.0)
    image = raw.astype("float32")
    low, high = float(image.min()), float(image.max())
    if high > low:
        return (image - low) / (high - low), (low, high)
    return np.zeros_like(image), (low, low + 1.0)


def convert_pixels(
    raw: np.ndarray, image_size: tuple[int, int] | int | None = None, color_mode: str = "rgb"
) -> np.ndarray:
    """Decoded pixels (OpenCV's BGR/BGRA/grey, any depth) as float32 ``(h, w, 3)`` RGB or ``(h, w, 1)`` grey in [0, 1].

    Values are scaled by :func:`unit_range`; ``image_size`` (``(height, width)`` or one
    side) resizes, by area when shrinking.
    """
    import cv2

    image, _ = unit_range(raw)
    if image.ndim == 3 and image.shape[-1] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if color_mode == "grayscale":
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    else:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image_size is not None:
        height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
        if image.shape[:2] != (height, width):
            shrinking = image.shape[0] > height or image.shape[1] > width
            image = cv2.resize(
                image, (int(width), int(height)), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
            )
    if image.ndim == 2:
        image = image[..., None]
    return np.clip(image, 0.0, 1.0).astype("float32")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def load_image_folder(
    root: str | Path,
    image_size: tuple[int, int] | int = 224,
    *,
    color_mode: str = "rgb",
    class_names: Sequence[str] | None = None,
    strict: bool = False,
) -> ImageFolder:
    """Reads a folder with one sub-folder per class; the class is the sub-folder's name.

    Args:
        root: The folder.
        image_size: ``(height, width)`` or one side; every image is resized to it. Defaults to `224`.
        color_mode: ``"rgb"`` (3 channels) or ``"grayscale"`` (1). Defaults to `"rgb"`.
        class_names: Which sub-folders, in label order. Defaults to all, sorted by name.
        strict: Raise at the first file that cannot be read instead of skipping it with a
            warning. Defaults to `False`.

    Returns:
        :class:`ImageFolder`; labels follow ``class_names``.

    Raises:
        ImageFolderError: if ``root`` is missing, has no class sub-folders, a named class is
            missing, no image could be read, or (``strict``) a file cannot be read.
    """
    root = Path(root)
    if not root.is_dir():
        raise ImageFolderError(f"{root}: no such folder")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if class_names is None:
        class_names = found
    missing = [c for c in class_names if c not in found]
    if missing:
        raise ImageFolderError(f"{root}: no sub-folder for class(es) {missing}; found {found}")
    if not class_names:
        raise ImageFolderError(f"{root}: no class sub-folders (expected {root}/CLASS/IMAGE files)")
    images, labels, paths, skipped = [], [], [], []
    for label, name in enumerate(class_names):
        for path in _files(root / name):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                reason = f"not an image file ({path.suffix or 'no suffix'})"
            else:
                try:
                    images.append(read_image(path, image_size, color_mode=color_mode))
                    labels.append(label)
                    paths.append(str(path))
                    continue
                except ImageFolderError as error:
                    reason = str(error).split(": ", 1)[-1]
            if strict:
                raise ImageFolderError(f"{path}: {reason}")
            skipped.append((str(path), reason))
    if skipped:
        listing = "; ".join(f"{path} ({reason})" for path, reason in skipped[:_NAMED_SKIPS])
        if len(skipped) > _NAMED_SKIPS:
            listing += f"; and {len(skipped) - _NAMED_SKIPS} more (strict=True stops at the first)"
        warnings.warn(f"skipped {len(skipped)} file(s) of {root} that are not readable images: {listing}", stacklevel=2)
    if not images:
        raise ImageFolderError(f"{root}: no readable image in {', '.join(class_names)}")
    return ImageFolder(
        np.stack(images), np.asarray(labels, dtype="int64"), tuple(class_names), tuple(paths), tuple(skipped)
    )


def split(
    x: np.ndarray, y: np.ndarray, validation_split: float = 0.2, *, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A stratified train/validation split (scikit-learn): ``{"train": (x, y), "val": (x, y)}``."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be in (0, 1). Received: validation_split={validation_split}")
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=validation_split, random_state=seed, stratify=y)
    return {"train": (x_train, y_train), "val": (x_val, y_val)}


def augmentation(
    *, flip: str | None = "horizontal", rotation: float = 0.0, zoom: float = 0.0, contrast: float = 0.0, seed: int = 0
) -> Any:
    """Keras preprocessing layers for training-time augmentation (a ``keras.Sequential``).

    Args:
        flip: ``"horizontal"``, ``"vertical"``, ``"horizontal_and_vertical"`` or ``None``.
        rotation: Maximum rotation as a fraction of a full turn (``0.1`` = 36 degrees).
        zoom: Maximum zoom in or out, as a fraction.
        contrast: Maximum contrast change, as a fraction.
        seed: Seed of the random transformations.
    """
    import keras

    steps = []
    if flip:
        steps.append(keras.layers.RandomFlip(flip, seed=seed))
    if rotation:
        steps.append(keras.layers.RandomRotation(rotation, fill_mode="reflect", seed=seed))
    if zoom:
        steps.append(keras.layers.RandomZoom(zoom, fill_mode="reflect", seed=seed))
    if contrast:
        steps.append(keras.layers.RandomContrast(contrast, seed=seed))
    return keras.Sequential(steps, name="augmentation")


def to_dataset(
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = 0,
    augment: Any = None,
    n_classes: int | None = None,
) -> Any:
    """A batched ``tf.data.Dataset`` of (images, one-hot labels), shuffled and augmented if asked.

    Args:
        x: Images, float32.
        y: Integer labels.
        batch_size: Defaults to `32`.
        shuffle: Reshuffle each epoch (seeded). Defaults to `True`.
        seed: Defaults to `0`.
        augment: ``None``, ``True`` (horizontal flips and small rotations) or a model from
            :func:`augmentation`, applied to training batches only.
        n_classes: For the one-hot labels. Defaults to ``max(y) + 1``.
    """
    import tensorflow as tf

    n_classes = int(n_classes or int(np.max(y)) + 1)
    data = tf.data.Dataset.from_tensor_slices((x.astype("float32"), np.eye(n_classes, dtype="float32")[y]))
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if augment is True:
        augment = augmentation(rotation=0.05, seed=seed)
    if augment:
        data = data.map(
            lambda images, labels: (augment(images, training=True), labels), num_parallel_calls=tf.data.AUTOTUNE
        )
    return data.prefetch(tf.data.AUTOTUNE)


@register("folder", task="classification")
def folder(
    path: Annotated[str, Exists("folder")],
    image_size: Annotated[int, Range(16)] = 96,
    color_mode: Literal["rgb", "grayscale"] = "rgb",
    validation_split: Annotated[float, Range(0, 1, open_low=True, open_high=True)] = 0.2,
    seed: Annotated[int, Range(0)] = 0,
) -> Dataset:
    """Your own images: one sub-folder per class, split stratified into training and validation."""
    found = load_image_folder(path, image_size, color_mode=color_mode)
    return Dataset(
        split(found.x, found.y, validation_split, seed=seed),
        class_names=found.class_names,
        info={"skipped": len(found.skipped)},
    )
