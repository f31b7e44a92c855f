"""The registered ``sem`` data set: (degraded, clean) pairs to learn SEM restoration."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import numpy as np

from keras_geo._settings import Exists, Range
from keras_geo.datasets._registry import Dataset, register
from keras_geo.datasets.folders import ImageFolderError

from ._checks import derive_seed
from ._degrade import degrade
from ._pairs import folder_splits
from ._render import render_sem

__all__ = ["sem"]

# The one place the defaults live: the signatures of render_sem and degrade.
_RENDER = {name: p.default for name, p in inspect.signature(render_sem).parameters.items()}
_DEGRADE = {name: p.default for name, p in inspect.signature(degrade).parameters.items()}
_Positive = Range(0.0, open_low=True)
_Fraction = Range(0.0, 1.0, open_high=True)
_SPLITS = ("train", "val", "test")
# Offsets of the degradation seeds from the rendering seeds of the splits.
_DEGRADE_STREAM = 10


@register("sem", task="image_to_image")
def sem(
    n_train: Annotated[int, Range(1)] = 400,
    n_val: Annotated[int, Range(1)] = 100,
    n_test: Annotated[int, Range(1)] = 100,
    image_size: Annotated[int, Range(8)] = _RENDER["image_size"],
    fov_nm: Annotated[float, _Positive] = _RENDER["fov_nm"],
    radius_nm: Annotated[float, _Positive] = _RENDER["radius_nm"],
    volume_fraction: Annotated[float, Range(0.0, 0.5, open_low=True)] = _RENDER["volume_fraction"],
    slices_per_structure: Annotated[int, Range(1)] = _RENDER["slices_per_structure"],
    edge_gain: Annotated[float, Range(0.0)] = _RENDER["edge_gain"],
    blur_sigma_px: Annotated[float, Range(0.0)] = _DEGRADE["blur_sigma_px"],
    downsample: Annotated[int, Range(0)] = _DEGRADE["downsample"],
    jitter_px: Annotated[float, Range(0.0)] = _DEGRADE["jitter_px"],
    drift: Annotated[float, Range(0.0)] = _DEGRADE["drift"],
    poisson_peak: Annotated[float, _Positive] | None = _DEGRADE["poisson_peak"],
    gaussian_std: Annotated[float, Range(0.0)] = _DEGRADE["gaussian_std"],
    seed: Annotated[int, Range(0)] = 0,
    clean_dir: Annotated[str, Exists("folder")] | None = None,
    degraded_dir: Annotated[str, Exists("folder")] | None = None,
    val_fraction: Annotated[float, _Fraction] = 0.15,
    test_fraction: Annotated[float, _Fraction] = 0.15,
) -> Dataset:
    """SEM restoration pairs (low-cost-SEM input, clean target): generated, or your clean (and degraded) folders.

    Generated (no folders): each split renders its own filler structures with
    :func:`render_sem` (``n_train``, ``n_val``, ``n_test`` images; seeds derived from
    ``seed`` and the split, so no test image is a slice of a training structure) and
    degrades them with :func:`degrade`. ``info["particles"]`` holds each image's particle
    sections, ``[[row, col, radius_px], ...]``.

    Folders: ``clean_dir`` alone is degraded on the fly with the degradation settings;
    ``clean_dir`` with ``degraded_dir`` gives real pairs. The images are cut into patches
    of ``image_size`` and split by source image with ``val_fraction`` and
    ``test_fraction`` (see :func:`split_images`); the counts and rendering settings are
    then unused.

    Args:
        n_train: Generated training images. Defaults to `400`.
        n_val: Generated validation images. Defaults to `100`.
        n_test: Generated test images. Defaults to `100`.
        image_size: Image (or patch) edge in pixels. Defaults to `64`.
        fov_nm: Field of view of a generated image in nm. Defaults to `160.0`
            (2.5 nm pixels at 64 px).
        radius_nm: Mean particle radius in nm. Defaults to `10.0`.
        volume_fraction: Filler volume fraction. Defaults to `0.15`.
        slices_per_structure: Images cut from one structure. Defaults to `50`.
        edge_gain: Brightening of a particle's rim (edge effect). Defaults to `0.25`.
        blur_sigma_px: Beam spot (see :func:`degrade`). Defaults to `1.0`.
        downsample: Resolution loss factor. Defaults to `2`.
        jitter_px: Scan-line jitter. Defaults to `0.3`.
        drift: Charging drift amplitude. Defaults to `0.05`.
        poisson_peak: Electrons per pixel at full brightness; None for no shot noise.
            Defaults to `100.0`.
        gaussian_std: Read noise. Defaults to `0.02`.
        seed: Seed of the images, their degradation and the folder split. Defaults to `0`.
        clean_dir: Folder of your clean images. Defaults to `None` (generate).
        degraded_dir: Folder of their degraded partners (needs `clean_dir`). Defaults to `None`.
        val_fraction: Fraction of source images for validation (folders). Defaults to `0.15`.
        test_fraction: Fraction of source images for testing (folders). Defaults to `0.15`.
    """
    degradation: dict[str, Any] = {
        "blur_sigma_px": blur_sigma_px,
        "downsample": downsample,
        "jitter_px": jitter_px,
        "drift": drift,
        "poisson_peak": poisson_peak,
        "gaussian_std": gaussian_std,
    }
    if degraded_dir is not None and clean_dir is None:
        raise ImageFolderError(f"{degraded_dir}: degraded_dir needs clean_dir, the folder of their clean partners")
    if clean_dir is not None:
        splits, info = folder_splits(
            clean_dir,
            degraded_dir,
            image_size=image_size,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            seed=seed,
            degradation=degradation,
        )
        info["degrade"] = degradation if degraded_dir is None else None
        return Dataset(splits, info=info)

    rendering = {
        "image_size": image_size,
        "fov_nm": fov_nm,
        "pixel_nm": fov_nm / image_size,
        "radius_nm": radius_nm,
        "volume_fraction": volume_fraction,
        "slices_per_structure": slices_per_structure,
        "edge_gain": edge_gain,
    }
    splits = {}
    particles: dict[str, list] = {}
    kinds: dict[str, list[str]] = {}
    for i, (name, count) in enumerate(zip(_SPLITS, (n_train, n_val, n_test))):
        rendered = render_sem(
            count,
            image_size,
            fov_nm=fov_nm,
            radius_nm=radius_nm,
            volume_fraction=volume_fraction,
            slices_per_structure=slices_per_structure,
            edge_gain=edge_gain,
            seed=derive_seed(seed, i),
        )
        degraded = degrade(rendered.images, seed=derive_seed(seed, _DEGRADE_STREAM + i), **degradation)
        splits[name] = (degraded[..., None], rendered.images[..., None])
        particles[name] = [np.round(p.astype(np.float64), 3).tolist() for p in rendered.particles]
        kinds[name] = list(rendered.kinds)
    info = {"source": "generated", "render": rendering, "degrade": degradation, "particles": particles, "kinds": kinds}
    return Dataset(splits, info=info)
