"""Your own SEM images: folders of (degraded, clean) pairs, or clean images alone, cut into patches.

Files pair by name stem (``degraded/a.png`` with ``clean/a.tif``), any suffix of
:data:`keras_geo.datasets.folders.IMAGE_SUFFIXES`; other files (the ``.txt`` sidecars
SEM software writes next to each image, say) and hidden files are ignored. Images are
read in grey, 8 or 16 bits to ``[0, 1]``, and cut into aligned patches; the patches of one
source image always go to the same split. Every bad input raises
:class:`~keras_geo.datasets.folders.ImageFolderError`, one line naming the file(s).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from keras_geo.datasets.folders import IMAGE_SUFFIXES, ImageFolderError, read_image

from ._checks import check_int, check_number, rng
from ._degrade import degrade

__all__ = ["cut_patches", "folder_splits", "patch_starts", "read_folders", "split_images"]

_SPLITS = ("train", "val", "test")
# Key of the generator that assigns source images to splits (apart from the degradation's).
_SPLIT_STREAM = 3


def patch_starts(length: int, size: int) -> list[int]:
    """Starts of non-overlapping windows of ``size`` along ``length``, the last one flush with the end.

    When ``size`` does not divide ``length``, the last window is moved back to end at the
    edge (overlapping its neighbour), so that no pixel is lost.

    Args:
        length: Length of the axis, in pixels (>= `size`).
        size: Window length, in pixels (>= 1).

    Returns:
        The window starts, increasing.
    """
    size = check_int("size", size, 1)
    if length < size:
        raise ValueError(f"`length` must be at least size={size}. Received: length={length!r}")
    starts = list(range(0, length - size + 1, size))
    if starts[-1] + size < length:
        starts.append(length - size)
    return starts


def cut_patches(image: np.ndarray, size: int) -> np.ndarray:
    """Aligned ``size`` x ``size`` patches of a 2-D image, row by row (see :func:`patch_starts`).

    Args:
        image: `(H, W)` array, both sides at least `size`.
        size: Patch edge in pixels (>= 1).

    Returns:
        `(n, size, size)` array of the image's dtype.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"`image` must have shape (H, W). Received: image.shape={image.shape}")
    rows, cols = patch_starts(image.shape[0], size), patch_starts(image.shape[1], size)
    return np.stack([image[r : r + size, c : c + size] for r in rows for c in cols])


def split_images(n: int, val_fraction: float, test_fraction: float, seed: int) -> dict[str, list[int]]:
    """Which source images go to which split: a seeded shuffle cut by the fractions.

    With 3 images or more, validation and test each get ``round(fraction * n)`` images but
    at least one (none for a fraction of 0), and training keeps at least one. With 2
    images, one trains and one validates (no test split); with 1, it trains alone (no
    validation or test split).

    Args:
        n: Number of source images (>= 1).
        val_fraction: Fraction of images for validation, in ``[0, 1)``.
        test_fraction: Fraction of images for testing, in ``[0, 1)``; the two fractions
            sum to less than 1.
        seed: Non-negative integer seed.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``: sorted image indices; empty
        lists for the splits that get no image.
    """
    n = check_int("n", n, 1)
    val = check_number("val_fraction", val_fraction)
    test = check_number("test_fraction", test_fraction)
    if val + test >= 1.0:
        raise ValueError(
            "`val_fraction` + `test_fraction` must be < 1 (training needs images). "
            f"Received: val_fraction={val_fraction!r}, test_fraction={test_fraction!r}"
        )
    n_val = max(1, round(val * n)) if val > 0 and n >= 2 else 0
    n_test = max(1, round(test * n)) if test > 0 and n >= 3 else 0
    while n_val + n_test > n - 1:  # training keeps one image at least
        if n_test > (1 if n_val else 0):
            n_test -= 1
        else:
            n_val -= 1
    order = rng(seed, _SPLIT_STREAM).permutation(n)
    test_ids, val_ids, train_ids = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return {"train": sorted(train_ids.tolist()), "val": sorted(val_ids.tolist()), "test": sorted(test_ids.tolist())}


def _image_files(folder: Path, setting: str) -> dict[str, Path]:
    """``stem -> file`` for the image files of a folder (not recursive)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if path.stem in found:
            raise ImageFolderError(
                f"{found[path.stem]} and {path}: two images named {path.stem!r} in {setting}; keep one"
            )
        found[path.stem] = path
    if not found:
        raise ImageFolderError(f"{folder}: no image file in {setting} (suffixes {', '.join(IMAGE_SUFFIXES)})")
    return found


def _read_grey(path: Path) -> np.ndarray:
    return read_image(path, color_mode="grayscale")[..., 0]


def read_folders(
    clean_dir: str | Path, degraded_dir: str | Path | None = None, *, image_size: int = 64
) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """The clean images of a folder and, if given, their degraded partners, checked.

    Args:
        clean_dir: Folder of clean (high-quality) images.
        degraded_dir: Folder of the same scenes degraded (low-cost SEM); each file's
            partner in `clean_dir` has the same name stem. Defaults to `None` (clean only).
        image_size: The patch edge: every image must be at least this large. Defaults to `64`.

    Returns:
        ``(stem, clean, degraded)`` per image, sorted by stem: `(H, W)` float32 in ``[0, 1]``,
        ``degraded`` None without `degraded_dir`.

    Raises:
        ImageFolderError: an empty folder, a name without a partner (naming the folder that
            lacks it), two files of one name in a folder, an unreadable file, a pair of
            different sizes, an image smaller than `image_size`, a constant clean image.
    """
    size = check_int("image_size", image_size, 1)
    clean_dir = Path(clean_dir)
    clean_files = _image_files(clean_dir, "clean_dir")
    degraded_files: Mapping[str, Path] = {}
    if degraded_dir is not None:
        degraded_dir = Path(degraded_dir)
        degraded_files = _image_files(degraded_dir, "degraded_dir")
        for stem, path in sorted(degraded_files.items()):
            if stem not in clean_files:
                raise ImageFolderError(f"{path}: no partner named {stem!r} in clean_dir {clean_dir}")
        for stem, path in sorted(clean_files.items()):
            if stem not in degraded_files:
                raise ImageFolderError(f"{path}: no partner named {stem!r} in degraded_dir {degraded_dir}")
    out: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    for stem, path in sorted(clean_files.items()):
        clean = _read_grey(path)
        degraded = None
        if stem in degraded_files:
            partner = degraded_files[stem]
            degraded = _read_grey(partner)
            if degraded.shape != clean.shape:
                raise ImageFolderError(
                    f"{partner} ({_size(degraded)}) and {path} ({_size(clean)}): a degraded image and its clean "
                    "partner must have the same size"
                )
        if min(clean.shape) < size:
            raise ImageFolderError(f"{path}: {_size(clean)} pixels is smaller than image_size={size}")
        if float(clean.max()) == float(clean.min()):
            raise ImageFolderError(
                f"{path}: constant image (every pixel {float(clean[0, 0]):.4g}): nothing to restore, SSIM undefined"
            )
        out.append((stem, clean, degraded))
    return out


def _size(image: np.ndarray) -> str:
    return f"{image.shape[1]}x{image.shape[0]}"


def folder_splits(
    clean_dir: str | Path,
    degraded_dir: str | Path | None,
    *,
    image_size: int,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    degradation: Mapping[str, Any],
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, Any]]:
    """``(splits, info)`` of patch pairs from folders (see :func:`read_folders`, :func:`split_images`).

    Without `degraded_dir`, each whole clean image ``k`` (in stem order) is degraded with
    :func:`degrade` and ``degradation``, seeded ``(seed, k)``, before it is cut: the scan's
    drift and jitter span the whole image, as in a real scan.

    Returns:
        Splits ``name -> (degraded, clean)``, each `(N, image_size, image_size, 1)` float32;
        only the splits that get images. ``info`` names the files of each split and counts
        the patches.
    """
    images = read_folders(clean_dir, degraded_dir, image_size=image_size)
    assignment = split_images(len(images), val_fraction, test_fraction, seed)
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    files: dict[str, list[str]] = {}
    for name in _SPLITS:
        if not assignment[name]:
            continue
        inputs, targets = [], []
        for k in assignment[name]:
            _, clean, degraded = images[k]
            if degraded is None:
                degraded = degrade(clean, seed=seed, first_index=k, **degradation)
            inputs.append(cut_patches(degraded, image_size))
            targets.append(cut_patches(clean, image_size))
        splits[name] = (
            np.concatenate(inputs)[..., None].astype(np.float32),
            np.concatenate(targets)[..., None].astype(np.float32),
        )
        files[name] = [images[k][0] for k in assignment[name]]
    info = {
        "source": "folders",
        "clean_dir": str(clean_dir),
        "degraded_dir": None if degraded_dir is None else str(degraded_dir),
        "images": files,
        "patches": {name: int(len(x)) for name, (x, _) in splits.items()},
    }
    return splits, info
