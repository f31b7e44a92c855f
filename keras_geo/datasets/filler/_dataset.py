"""Labelled data sets: `make_dataset`, `make_splits` and `to_tf_dataset`.

Structures of the three classes are generated (cached by `_cache`), sliced,
passed through the imaging effects and shuffled into ``(x, y)`` arrays;
`make_splits` builds train / val / test sets from independent structures and
`to_tf_dataset` wraps arrays in a ``tf.data.Dataset`` (TensorFlow is
imported there, lazily).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np

from keras_geo._settings import Range
from keras_geo.datasets._registry import Dataset, register

from ._cache import _cache_key, _default_cache_dir, _filler, _load_npz, _save_npz
from ._render import _check_fov
from ._structures import CLASSES, Structure, _resolve_params
from ._validation import _check_float, _check_int, _check_seed, _derive_seed

if TYPE_CHECKING:  # pragma: no cover - typing only
    import tensorflow as tf


def _check_imaging_and_params(
    blur_sigma_px: float, noise_std: float, seed: int, structure_params: Mapping[str, Mapping[str, Any]] | None
) -> tuple[float, float, int, dict[str, dict[str, Any]]]:
    """The checked imaging settings, seed and per-class generator parameters (before any slow work)."""
    blur = _check_float("blur_sigma_px", blur_sigma_px, low=0.0, low_open=False)
    noise = _check_float("noise_std", noise_std, low=0.0, low_open=False)
    seed = _check_seed(seed)
    sp = {k: dict(v) for k, v in (structure_params or {}).items()}
    unknown = sorted(set(sp) - set(CLASSES))
    if unknown:
        raise ValueError(
            f"`structure_params` keys must be in {CLASSES}. Received: structure_params={structure_params!r}"
        )
    for kind in CLASSES:  # fail fast, before any slow work
        _resolve_params(kind, sp.get(kind, {}))
    return blur, noise, seed, sp


def _cache_file(
    prefix: str, payload: Mapping[str, Any], use_cache: bool, cache_dir: str | os.PathLike[str] | None
) -> tuple[Path | None, Path | None, str]:
    """``(cache folder, file, meta)`` of a data set keyed by ``payload``; None and None without a cache."""
    cache: Path | None = None
    if use_cache:
        cache = Path(cache_dir).expanduser() if cache_dir is not None else _default_cache_dir()
    key, meta = _cache_key(payload)
    return cache, (cache / f"{prefix}-{key[:32]}.npz" if cache is not None else None), meta


def _cached_arrays(
    prefix: str,
    payload: Mapping[str, Any],
    names: tuple[str, ...],
    use_cache: bool,
    cache_dir: str | os.PathLike[str] | None,
) -> tuple[Path | None, Path | None, str, dict[str, np.ndarray] | None]:
    """`_cache_file` and, when the file holds them, the arrays ``names`` stored under ``payload``
    (None on a miss or without a cache)."""
    cache, path, meta = _cache_file(prefix, payload, use_cache, cache_dir)
    return cache, path, meta, (_load_npz(path, meta, names) if path is not None else None)


def _imaged_slices(
    structure: Any, n: int, *, fov: float, size: int, blur: float, noise: float, slice_seed: int, imaging_seed: int
) -> np.ndarray:
    """``n`` random slices of a structure, blurred and noised as asked."""
    images = _filler().slice_structure(structure, n, fov_nm=fov, image_size=size, seed=slice_seed)
    if blur > 0 or noise > 0:
        images = _filler().apply_imaging(images, blur_sigma_px=blur, noise_std=noise, seed=imaging_seed % 2**63)
    return images


def _class_slices(
    n_per_class: int,
    per_structure: int,
    seed: int,
    structures: Mapping[str, Any],
    params: Mapping[str, Mapping[str, Any]],
    images: Callable[[Structure, int, int, int], np.ndarray],
    progress: bool,
    desc: str,
) -> tuple[np.ndarray, np.ndarray]:
    """The slices of `make_dataset` and `make_fibsem_dataset`, shuffled, and their labels.

    For each class ``ci`` and each of its ``ceil(n_per_class / per_structure)`` structures
    ``j`` (from the structure cache: ``structures`` are `_cached_structure`'s keywords,
    ``params[kind]`` the class's generator parameters, the seed ``_derive_seed(seed, ci, 0, j)``),
    ``images(structure, ci, j, n_here)`` gives that structure's ``n_here`` images; all are then
    shuffled with ``_derive_seed(seed, 3)``. A tqdm bar (``progress``) counts two steps a structure.
    """
    n_structures = -(-n_per_class // per_structure)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=2 * len(CLASSES) * n_structures, desc=desc, unit="step")
    xs, ys = [], []
    try:
        for ci, kind in enumerate(CLASSES):
            for j in range(n_structures):
                n_here = min(per_structure, n_per_class - j * per_structure)
                if bar is not None:
                    bar.set_postfix_str(f"{kind}: structure {j + 1}/{n_structures}")
                structure = _filler()._cached_structure(
                    kind, seed=_derive_seed(seed, ci, 0, j), params=params.get(kind, {}), **structures
                )
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(f"{kind}: slices")
                xs.append(images(structure, ci, j, n_here))
                ys.append(np.full(n_here, ci, dtype=np.int64))
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    order = np.random.default_rng(_derive_seed(seed, 3)).permutation(n_per_class * len(CLASSES))
    return np.concatenate(xs)[order], np.concatenate(ys)[order]


def make_dataset(
    n_per_class: int,
    *,
    fov_nm: float = 500.0,
    image_size: int = 64,
    radius_nm: float = 10.0,
    volume_fraction: float = 0.15,
    box_nm: float | None = None,
    blur_sigma_px: float = 0.0,
    noise_std: float = 0.0,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: bool = False,
    structure_params: Mapping[str, Mapping[str, Any]] | None = None,
    slices_per_structure: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """A labelled data set of random slices of the three filler classes.

    One structure per class is generated (seeded from `seed` and the class
    index) and sliced `n_per_class` times at random positions and
    orientations; imaging effects are applied; the examples are shuffled
    deterministically.

    Results are cached as ``.npz`` (compressed, loaded with
    ``allow_pickle=False``) under `cache_dir`, keyed by the SHA-256 of the
    JSON of all parameters and `GENERATOR_VERSION`; the generated structures
    (the slow part) are cached too, in ``cache_dir/structures``.

    Args:
        n_per_class: Slices per class (>= 1).
        fov_nm: Field of view in nm. Defaults to `500.0`.
        image_size: Image edge in pixels (>= 8). Defaults to `64`.
        radius_nm: Mean primary-particle radius. Defaults to `10.0`.
        volume_fraction: Filler volume fraction. Defaults to `0.15`.
        box_nm: Structure box edge in nm; `None` means
            ``max(1000, fov_nm)``. 1000 nm holds many n-SBR agglomerates, so
            slices at 250-500 nm are nearly independent, and its three
            structures generate in ~10 s on two cores (cached afterwards).
            At ``fov_nm == box_nm`` a slice spans a whole period of the box
            and oblique slices show periodic images: statistically valid,
            but pass e.g. ``box_nm=2 * fov_nm`` for more varied large-FOV
            slices (8x the particles and generation time).
        blur_sigma_px: Gaussian blur in pixels (see `apply_imaging`).
            Defaults to `0.0`.
        noise_std: Additive Gaussian noise (see `apply_imaging`).
            Defaults to `0.0`.
        seed: Non-negative integer seed. Defaults to `0`.
        cache_dir: Cache directory; `None` means ``$KERAS_GEO_CACHE/filler``
            if that variable is set, else ``~/.cache/keras-geo/filler``.
        use_cache: Read and write the cache. Defaults to `True`.
        progress: Show a tqdm progress bar. Defaults to `False`.
        structure_params: Optional per-class generator parameters, e.g.
            ``{"n-SBR": {"agglomerate_radius_nm": 150.0}}`` (see
            `generate_structure`). Defaults to `None`.
        slices_per_structure: Slices taken from one structure realisation;
            each class uses ``ceil(n_per_class / slices_per_structure)``
            independent structures. Many slices of one box share its
            aggregates, so without fresh structures more images add little
            new information and a model learns that box rather than the
            class. Defaults to `100`.

    Returns:
        ``(x, y)``: `x` is `(3 * n_per_class, image_size, image_size, 1)`
        float32 in ``[0, 1]``, `y` is `(3 * n_per_class,)` int64 indices
        into `CLASSES`.
    """
    n_per_class = _check_int("n_per_class", n_per_class, 1)
    size = _check_int("image_size", image_size, 8)
    fov = _check_float("fov_nm", fov_nm, low=0.0)
    radius = _check_float("radius_nm", radius_nm, low=0.0)
    phi = _check_float("volume_fraction", volume_fraction, low=0.0, high=0.5)
    box = max(1000.0, fov) if box_nm is None else _check_float("box_nm", box_nm, low=0.0)
    _check_fov(fov, box)
    per_structure = _check_int("slices_per_structure", slices_per_structure, 1)
    blur, noise, seed, sp = _check_imaging_and_params(blur_sigma_px, noise_std, seed, structure_params)
    payload = {
        "function": "make_dataset",
        "n_per_class": n_per_class,
        "fov_nm": fov,
        "image_size": size,
        "radius_nm": radius,
        "volume_fraction": phi,
        "box_nm": box,
        "blur_sigma_px": blur,
        "noise_std": noise,
        "seed": seed,
        "structure_params": {k: sp.get(k, {}) for k in CLASSES},
        "slices_per_structure": per_structure,
    }
    cache, path, meta, data = _cached_arrays("dataset", payload, ("x", "y"), use_cache, cache_dir)
    if data is not None:
        return data["x"], data["y"]

    def images(structure: Structure, ci: int, j: int, n_here: int) -> np.ndarray:
        return _imaged_slices(
            structure,
            n_here,
            fov=fov,
            size=size,
            blur=blur,
            noise=noise,
            slice_seed=_derive_seed(seed, ci, 1, j),
            imaging_seed=_derive_seed(seed, ci, 2, j),
        )

    structures = {"box_nm": box, "radius_nm": radius, "volume_fraction": phi, "cache_dir": cache}
    x, y = _class_slices(n_per_class, per_structure, seed, structures, sp, images, progress, "filler data set")
    x = x[..., None].astype(np.float32, copy=False)
    if path is not None:
        _save_npz(path, meta, {"x": x, "y": y})
    return x, y


def make_splits(n_train: int, n_val: int, n_test: int, **kw: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train / validation / test sets from independent structures.

    Following the study's protocol (training, test-during-training and
    evaluation sets), each split slices its own structure realisations
    (seeds derived from ``kw["seed"]`` and the split), so a model has to
    learn the statistics of a class, not memorise one structure.

    Args:
        n_train: Slices per class in ``"train"`` (>= 1).
        n_val: Slices per class in ``"val"`` (>= 1).
        n_test: Slices per class in ``"test"`` (>= 1).
        **kw: Any other argument of `make_dataset` (``fov_nm``, ``seed``, ...).

    Returns:
        ``{"train": (x, y), "val": (x, y), "test": (x, y)}``.
    """
    return _make_splits(_filler().make_dataset, "make_splits", n_train, n_val, n_test, kw)


def _make_splits(
    make: Callable[..., tuple[np.ndarray, np.ndarray]],
    name: str,
    n_train: int,
    n_val: int,
    n_test: int,
    kw: dict[str, Any],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The splits of `make_splits` and `make_fibsem_splits`: ``make(n, seed=..., **kw)`` per split,
    each with its own seed derived from ``kw["seed"]`` (so its own structures); ``name`` is the
    public function's, for the messages."""
    counts = {
        "train": _check_int("n_train", n_train, 1),
        "val": _check_int("n_val", n_val, 1),
        "test": _check_int("n_test", n_test, 1),
    }
    if "n_per_class" in kw:
        raise ValueError(f"{name} takes n_train, n_val, n_test instead of `n_per_class`.")
    seed = _check_seed(kw.pop("seed", 0))
    return {
        split: make(n, seed=_derive_seed(seed, 100 + i) % 2**63, **kw) for i, (split, n) in enumerate(counts.items())
    }


def to_tf_dataset(
    x: Any,
    y: Any,
    *,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = 0,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Wrap arrays in a batched, prefetched ``tf.data.Dataset``.

    TensorFlow is imported here, not at module import.

    Args:
        x: `(N, H, W)` or `(N, H, W, C)` images (a channel axis is added to
            3-D input).
        y: `(N,)` integer labels.
        batch_size: Batch size (>= 1). Defaults to `32`.
        shuffle: Shuffle with a full-size buffer, reshuffled every epoch.
            Defaults to `True`.
        seed: Shuffle seed. Defaults to `0`.
        repeat: Repeat indefinitely. Defaults to `False`.

    Returns:
        A dataset of ``(float32 images, int64 labels)`` batches.
    """
    import tensorflow as tf

    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y).astype(np.int64)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"`x` must have shape (N, H, W) or (N, H, W, C). Received: x.shape={x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"`y` must have shape ({x.shape[0]},). Received: y.shape={y.shape}")
    batch_size = _check_int("batch_size", batch_size, 1)
    seed = _check_seed(seed)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# The one place the filler data set's physical defaults live: `make_dataset`'s signature.
_DEFAULTS = {name: p.default for name, p in inspect.signature(make_dataset).parameters.items()}
_Positive = Range(0.0, open_low=True)


@register("filler", task="classification")
def filler_classes(
    n_train: Annotated[int, Range(1)] = 300,
    n_val: Annotated[int, Range(1)] = 100,
    n_test: Annotated[int, Range(1)] = 300,
    fov_nm: Annotated[float, _Positive] = _DEFAULTS["fov_nm"],
    image_size: Annotated[int, Range(8)] = _DEFAULTS["image_size"],
    radius_nm: Annotated[float, _Positive] = _DEFAULTS["radius_nm"],
    volume_fraction: Annotated[float, Range(0.0, 0.5, open_low=True)] = _DEFAULTS["volume_fraction"],
    box_nm: Annotated[float, _Positive] | None = _DEFAULTS["box_nm"],
    blur_sigma_px: Annotated[float, Range(0.0)] = _DEFAULTS["blur_sigma_px"],
    noise_std: Annotated[float, Range(0.0)] = _DEFAULTS["noise_std"],
    seed: Annotated[int, Range(0)] = 0,
    slices_per_structure: Annotated[int, Range(1)] = _DEFAULTS["slices_per_structure"],
) -> Dataset:
    """Slices of the three filler classes (M-SBR, n-SBR, Rnd), slices per class in each split (make_splits)."""
    splits = make_splits(
        n_train,
        n_val,
        n_test,
        fov_nm=fov_nm,
        image_size=image_size,
        radius_nm=radius_nm,
        volume_fraction=volume_fraction,
        box_nm=box_nm,
        blur_sigma_px=blur_sigma_px,
        noise_std=noise_std,
        seed=seed,
        slices_per_structure=slices_per_structure,
    )
    return Dataset(splits, class_names=CLASSES)
