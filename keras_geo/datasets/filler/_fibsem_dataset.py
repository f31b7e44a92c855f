"""FIB-SEM-like labelled data sets: `make_fibsem_dataset`, `make_fibsem_splits`, data set ``filler_fibsem``.

As `make_dataset`, but every structure realisation is turned into a FIB-SEM-like
stack (`fibsem_volume`) and the images are slices of that stack
(`slice_volume`, random positions and orientations) instead of exact sections
of the spheres. Structures are shared with the ``filler`` data set's cache
(same seeds); the stacks themselves are not cached (hundreds of MB each), the
finished data sets are.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np

from keras_geo._settings import Range
from keras_geo.datasets._registry import Dataset, register

from ._cache import _filler, _save_npz
from ._dataset import _cached_arrays, _check_imaging_and_params, _class_slices, _make_splits
from ._fibsem import _check_effects, _voxels_per_edge
from ._render import _check_fov
from ._structures import CLASSES, Structure
from ._validation import _check_float, _check_int, _derive_seed

# Bump whenever a change alters the FIB-SEM arrays produced for the same parameters
# (it is part of their cache keys, next to GENERATOR_VERSION).
FIBSEM_VERSION = "fibsem-1"


def make_fibsem_dataset(
    n_per_class: int,
    *,
    fov_nm: float = 1000.0,
    image_size: int = 64,
    voxel_nm: float = 2.0,
    radius_nm: float = 10.0,
    volume_fraction: float = 0.15,
    box_nm: float | None = None,
    filler_level: float = 0.75,
    matrix_level: float = 0.25,
    slice_blur_nm: float = 3.0,
    curtain_std: float = 0.05,
    curtain_width_nm: float = 8.0,
    curtain_length_nm: float = 200.0,
    drift_std: float = 0.03,
    charging_std: float = 0.03,
    drift_length_nm: float = 250.0,
    shot_dose: float | None = 40.0,
    noise_std: float = 0.02,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: bool = False,
    structure_params: Mapping[str, Mapping[str, Any]] | None = None,
    slices_per_structure: int = 100,
    max_memory_gib: float = 4.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A labelled data set of random slices of FIB-SEM-like stacks of the three filler classes.

    Each class uses ``ceil(n_per_class / slices_per_structure)`` independent
    structures (seeded as in `make_dataset`, so they come from the same
    structure cache); each is made into a stack by `fibsem_volume` (one stack
    in memory at a time) and sliced by `slice_volume` with ``periodic=True``
    at random positions and orientations; the examples are shuffled
    deterministically. Cached as `make_dataset` (``dataset-fibsem-*.npz``).

    Args:
        n_per_class: Slices per class (>= 1).
        fov_nm: Field of view in nm. Defaults to `1000.0` (the study's
            FIB-SEM images are 1000 nm square).
        image_size: Image edge in pixels (>= 8). Defaults to `64`.
        voxel_nm: Voxel edge of the stacks in nm; must divide the box.
            Defaults to `2.0` (the study's; see `fibsem_volume` for time and
            memory).
        radius_nm: Mean primary-particle radius. Defaults to `10.0`.
        volume_fraction: Filler volume fraction. Defaults to `0.15`.
        box_nm: Structure box edge in nm; `None` means
            ``max(1000, fov_nm)``. Defaults to `None`.
        filler_level: Grey level of the filler. Defaults to `0.75`.
        matrix_level: Grey level of the rubber. Defaults to `0.25`.
        slice_blur_nm: See `apply_fibsem`. Defaults to `3.0`.
        curtain_std: See `apply_fibsem`. Defaults to `0.05`.
        curtain_width_nm: See `apply_fibsem`. Defaults to `8.0`.
        curtain_length_nm: See `apply_fibsem`. Defaults to `200.0`.
        drift_std: See `apply_fibsem`. Defaults to `0.03`.
        charging_std: See `apply_fibsem`. Defaults to `0.03`.
        drift_length_nm: See `apply_fibsem`. Defaults to `250.0`.
        shot_dose: See `apply_fibsem`. Defaults to `40.0`.
        noise_std: See `apply_fibsem`. Defaults to `0.02`.
        seed: Non-negative integer seed. Defaults to `0`.
        cache_dir: Cache directory (see `make_dataset`). Defaults to `None`.
        use_cache: Read and write the cache. Defaults to `True`.
        progress: Show a tqdm progress bar. Defaults to `False`.
        structure_params: Per-class generator parameters (see
            `make_dataset`). Defaults to `None`.
        slices_per_structure: Slices taken from one stack. Defaults to `100`.
        max_memory_gib: Largest estimated peak memory of one stack, in GiB
            (see `fibsem_volume`). Defaults to `4.0`.

    Returns:
        ``(x, y)``: `x` is `(3 * n_per_class, image_size, image_size, 1)`
        float32 in ``[0, 1]``, `y` is `(3 * n_per_class,)` int64 indices
        into `CLASSES`.
    """
    n_per_class = _check_int("n_per_class", n_per_class, 1)
    size = _check_int("image_size", image_size, 8)
    fov = _check_float("fov_nm", fov_nm, low=0.0)
    voxel = _check_float("voxel_nm", voxel_nm, low=0.0)
    radius = _check_float("radius_nm", radius_nm, low=0.0)
    phi = _check_float("volume_fraction", volume_fraction, low=0.0, high=0.5)
    box = max(1000.0, fov) if box_nm is None else _check_float("box_nm", box_nm, low=0.0)
    _check_fov(fov, box)
    filler = _check_float("filler_level", filler_level)
    matrix = _check_float("matrix_level", matrix_level)
    per_structure = _check_int("slices_per_structure", slices_per_structure, 1)
    limit = _check_float("max_memory_gib", max_memory_gib, low=0.0)
    effects = _check_effects(locals())
    _, _, seed, sp = _check_imaging_and_params(0.0, 0.0, seed, structure_params)
    _voxels_per_edge(box, voxel, voxel_nm, limit)  # before any slow work
    payload = {
        "function": "make_fibsem_dataset",
        "fibsem_version": FIBSEM_VERSION,
        "n_per_class": n_per_class,
        "fov_nm": fov,
        "image_size": size,
        "voxel_nm": voxel,
        "radius_nm": radius,
        "volume_fraction": phi,
        "box_nm": box,
        "filler_level": filler,
        "matrix_level": matrix,
        **effects,
        "seed": seed,
        "structure_params": {k: sp.get(k, {}) for k in CLASSES},
        "slices_per_structure": per_structure,
    }
    cache, path, meta, data = _cached_arrays("dataset-fibsem", payload, ("x", "y"), use_cache, cache_dir)
    if data is not None:
        return data["x"], data["y"]

    def images(structure: Structure, ci: int, j: int, n_here: int) -> np.ndarray:
        stack = _filler().fibsem_volume(
            structure,
            voxel_nm=voxel,
            filler_level=filler,
            matrix_level=matrix,
            **effects,
            seed=_derive_seed(seed, ci, 12, j) % 2**63,
            clip=True,
            max_memory_gib=limit,
        )
        return _filler().slice_volume(
            stack,
            n_here,
            voxel_nm=voxel,
            fov_nm=fov,
            image_size=size,
            seed=_derive_seed(seed, ci, 11, j) % 2**63,
            periodic=True,
        )  # one stack in memory at a time: it is freed on return

    structures = {"box_nm": box, "radius_nm": radius, "volume_fraction": phi, "cache_dir": cache}
    x, y = _class_slices(n_per_class, per_structure, seed, structures, sp, images, progress, "FIB-SEM data set")
    x = np.clip(x, 0.0, 1.0)[..., None].astype(np.float32, copy=False)
    if path is not None:
        _save_npz(path, meta, {"x": x, "y": y})
    return x, y


def make_fibsem_splits(n_train: int, n_val: int, n_test: int, **kw: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train / validation / test sets of FIB-SEM-like slices from independent structures.

    As `make_splits`, with `make_fibsem_dataset` (the same per-split seeds).

    Args:
        n_train: Slices per class in ``"train"`` (>= 1).
        n_val: Slices per class in ``"val"`` (>= 1).
        n_test: Slices per class in ``"test"`` (>= 1).
        **kw: Any other argument of `make_fibsem_dataset`.

    Returns:
        ``{"train": (x, y), "val": (x, y), "test": (x, y)}``.
    """
    return _make_splits(_filler().make_fibsem_dataset, "make_fibsem_splits", n_train, n_val, n_test, kw)


# The one place the FIB-SEM data set's defaults live: `make_fibsem_dataset`'s signature.
_DEFAULTS = {name: p.default for name, p in inspect.signature(make_fibsem_dataset).parameters.items()}
_Positive = Range(0.0, open_low=True)
_NonNegative = Range(0.0)


@register("filler_fibsem", task="classification")
def filler_fibsem(
    n_train: Annotated[int, Range(1)] = 300,
    n_val: Annotated[int, Range(1)] = 100,
    n_test: Annotated[int, Range(1)] = 300,
    fov_nm: Annotated[float, _Positive] = _DEFAULTS["fov_nm"],
    image_size: Annotated[int, Range(8)] = _DEFAULTS["image_size"],
    voxel_nm: Annotated[float, _Positive] = _DEFAULTS["voxel_nm"],
    radius_nm: Annotated[float, _Positive] = _DEFAULTS["radius_nm"],
    volume_fraction: Annotated[float, Range(0.0, 0.5, open_low=True)] = _DEFAULTS["volume_fraction"],
    box_nm: Annotated[float, _Positive] | None = _DEFAULTS["box_nm"],
    filler_level: float = _DEFAULTS["filler_level"],
    matrix_level: float = _DEFAULTS["matrix_level"],
    slice_blur_nm: Annotated[float, _NonNegative] = _DEFAULTS["slice_blur_nm"],
    curtain_std: Annotated[float, _NonNegative] = _DEFAULTS["curtain_std"],
    curtain_width_nm: Annotated[float, _Positive] = _DEFAULTS["curtain_width_nm"],
    curtain_length_nm: Annotated[float, _Positive] = _DEFAULTS["curtain_length_nm"],
    drift_std: Annotated[float, _NonNegative] = _DEFAULTS["drift_std"],
    charging_std: Annotated[float, _NonNegative] = _DEFAULTS["charging_std"],
    drift_length_nm: Annotated[float, _Positive] = _DEFAULTS["drift_length_nm"],
    shot_dose: Annotated[float, _Positive] | None = _DEFAULTS["shot_dose"],
    noise_std: Annotated[float, _NonNegative] = _DEFAULTS["noise_std"],
    seed: Annotated[int, Range(0)] = 0,
    slices_per_structure: Annotated[int, Range(1)] = _DEFAULTS["slices_per_structure"],
    max_memory_gib: Annotated[float, _Positive] = _DEFAULTS["max_memory_gib"],
) -> Dataset:
    """FIB-SEM-like slices of the three filler classes (stacks at voxel_nm with blur, curtaining, drift, noise)."""
    settings = dict(locals())
    counts = [settings.pop(k) for k in ("n_train", "n_val", "n_test")]
    splits = make_fibsem_splits(*counts, **settings)
    return Dataset(splits, class_names=CLASSES)
