"""Regression data sets: slices labelled with their structure's properties.

`make_property_dataset` draws many structures -- class, nominal volume
fraction and nominal mean radius per structure -- slices each a few times and
labels every slice with the structure's *real* volume fraction and mean
particle radius; `make_property_splits` builds train / val / test sets from
disjoint sets of structures. The structures, slices and imaging effects are
those of `make_dataset` (same generator, cache and seeds discipline).
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from keras_geo._settings import Range
from keras_geo.datasets._registry import Dataset, register

from ._cache import _filler, _save_npz
from ._dataset import _cached_arrays, _check_imaging_and_params, _imaged_slices
from ._geometry import _minimum_image
from ._render import _check_fov
from ._structures import CLASSES, Structure
from ._validation import _check_float, _check_int, _check_seed, _derive_seed

TARGET_NAMES: tuple[str, str] = ("volume_fraction", "mean_radius_nm")

# Namespaces of the derived seeds (make_dataset uses 0-3 after the seed,
# make_splits 100-102): structure j of a property data set seeded `s` draws
# its parameters from (s, 10, j, 0), is generated from (s, 10, j, 1), sliced
# from (s, 10, j, 2) and imaged from (s, 10, j, 3); the shuffle uses (s, 11)
# and the splits of make_property_splits are seeded (s, 110 + split).
_NS_STRUCTURE = 10
_NS_SHUFFLE = 11
_NS_SPLITS = 110


class PropertyDataset(NamedTuple):
    """Slices labelled with the real properties of their structures.

    A ``NamedTuple``: fields by name (``ds.x``, ``ds.y``) or unpacked.

    Attributes:
        x: `(N, H, W, 1)` float32 images in ``[0, 1]``.
        y: `(N, 2)` float32 targets, columns `target_names`: the real volume
            fraction of the source structure and the mean radius (nm) of its
            particles.
        kind: `(N,)` int64 class of the source structure, an index into
            `CLASSES` (not into the `kinds` argument).
        structure_id: `(N,)` int64 index of the source structure within this
            data set (``0 .. n_structures - 1``): slices of one structure
            share it (e.g. for grouped cross-validation).
        nominal: `(N, 2)` float32 nominal (requested) volume fraction and
            mean radius of the source structure, for reference.
        target_names: ``("volume_fraction", "mean_radius_nm")``.
    """

    x: np.ndarray
    y: np.ndarray
    kind: np.ndarray
    structure_id: np.ndarray
    nominal: np.ndarray
    target_names: tuple[str, str] = TARGET_NAMES


def _check_range(name: str, value: Any, *, low: float, high: float | None = None) -> tuple[float, float]:
    """A pair ``(lo, hi)`` of finite numbers with ``low < lo <= hi (<= high)``."""
    try:
        lo_v, hi_v = value
    except (TypeError, ValueError):
        lo_v = hi_v = None
    if isinstance(value, (str, bytes)) or lo_v is None:
        raise ValueError(f"`{name}` must be a pair (min, max) of numbers. Received: {name}={value!r}")
    try:
        lo = _check_float(name, lo_v, low=low, high=high)
        hi = _check_float(name, hi_v, low=low, high=high)
    except ValueError:
        lo = hi = float("nan")
    if not lo <= hi:  # also catches the NaN of a failed check
        upper = "" if high is None else f" <= {high:g}"
        raise ValueError(
            f"`{name}` must be a pair (min, max) of finite numbers with {low:g} < min <= max{upper}. "
            f"Received: {name}={value!r}"
        )
    return lo, hi


def _check_kinds(kinds: Any) -> tuple[str, ...]:
    ok = not isinstance(kinds, (str, bytes))
    try:
        out = tuple(kinds) if ok else ()
    except TypeError:
        out = ()
    ok = ok and len(out) > 0 and all(isinstance(k, str) and k in CLASSES for k in out)
    if not ok or len(set(out)) != len(out):
        raise ValueError(
            f"`kinds` must be a non-empty sequence of distinct names from {CLASSES}. Received: kinds={kinds!r}"
        )
    return out


def _real_volume_fraction(structure: Structure) -> float:
    """Filler volume fraction of a structure, overlaps counted once.

    The sum of the sphere volumes minus the volume of every pairwise lens
    (intersection of two spheres, minimum image). Exact when no point lies
    in three spheres, which holds for the generator's packings: their
    spheres never overlap except touching spheres of one aggregate, by at
    most a relative ``1e-6`` of the contact distance (lens volumes ~1e-12 of
    a particle's), so the correction is a guard, not a change.
    """
    r = structure.radii
    box = structure.box_nm
    total = 4.0 / 3.0 * math.pi * float(np.sum(r**3))
    if structure.n_particles > 1:
        tree = cKDTree(structure.centers, boxsize=box)
        pairs = tree.query_pairs(2.0 * float(r.max()), output_type="ndarray")
        if len(pairs):
            i, j = pairs[:, 0], pairs[:, 1]
            d = np.linalg.norm(_minimum_image(structure.centers[i] - structure.centers[j], box), axis=1)
            ri, rj = r[i], r[j]
            hit = d < ri + rj
            d, ri, rj = d[hit], ri[hit], rj[hit]
            # One sphere inside the other: the lens is the smaller sphere.
            inside = d <= np.abs(ri - rj)
            small = np.minimum(ri, rj)
            dd = np.where(inside, 1.0, d)
            lens = math.pi * (ri + rj - dd) ** 2 * (dd**2 + 2 * dd * (ri + rj) - 3 * (ri - rj) ** 2) / (12 * dd)
            lens = np.where(inside, 4.0 / 3.0 * math.pi * small**3, lens)
            total -= float(np.sum(lens))
    return total / box**3


def make_property_dataset(
    n_samples: int,
    *,
    slices_per_structure: int = 10,
    kinds: Sequence[str] = CLASSES,
    volume_fraction_range: tuple[float, float] = (0.05, 0.20),
    radius_nm_range: tuple[float, float] = (8.0, 16.0),
    fov_nm: float = 500.0,
    image_size: int = 64,
    box_nm: float | None = None,
    blur_sigma_px: float = 0.0,
    noise_std: float = 0.0,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: bool = False,
    structure_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> PropertyDataset:
    """Slices labelled with the volume fraction and mean radius of their structure.

    ``ceil(n_samples / slices_per_structure)`` structures are generated;
    structure ``j`` is of class ``kinds[j % len(kinds)]`` (cycling, so the
    classes are balanced) with a nominal volume fraction and nominal mean
    radius drawn uniformly and independently (of each other and of the
    class) from the two ranges. Each gives `slices_per_structure` random
    slices (the last one fewer if needed), imaged as in `make_dataset`;
    the examples are shuffled deterministically.

    The targets are the structure's **real** values, not the nominal ones:
    the volume fraction actually reached (the generator stops within one
    particle volume of the target; computed analytically from the spheres,
    pairwise overlaps subtracted -- see `_real_volume_fraction`; generated
    packings do not overlap, so this is the plain sum of sphere volumes over
    the box volume) and the mean radius of the structure's particles
    (lognormal radii with the nominal mean; the sample mean and the packing
    differ from it by ~1%).

    Structure ``j`` depends only on `seed`, ``j`` and the other parameters,
    so a larger data set with the same seed starts with the same
    structures, and structures are cached one by one (``cache_dir /
    structures``, shared with `make_dataset`); the whole data set is cached
    too (``property-*.npz``).

    Supported ranges (measured, box 500 nm, default class parameters): Rnd
    (random sequential addition) fails at 0.30 and M-SBR, whose aggregates
    keep a 3 nm gap, jams at ~0.205 for 6 nm radii, ~0.228 for 8 nm, ~0.245
    for 10 nm and ~0.27 for 16 nm (the gap is a larger share of small
    particles); n-SBR reaches 0.30 (fails at 0.35). Hence the defaults
    0.05-0.20 and 8-16 nm: every class generates every combination, at most
    ~0.7 s a structure (near M-SBR's limit); at 6 nm and 0.20 M-SBR still
    succeeds but takes ~3 s, 0.005 below jamming. A structure that cannot be
    generated raises a `RuntimeError` naming it and its parameters.

    Args:
        n_samples: Number of slices (>= 1).
        slices_per_structure: Slices per structure (>= 1). Defaults to
            `10`: few enough that a data set spans many structures (the
            targets vary per structure, so its count, not the slice count,
            is the effective sample size), enough to amortise generation.
        kinds: Classes to draw from, distinct names from `CLASSES`.
            Defaults to all three.
        volume_fraction_range: ``(min, max)`` of the nominal volume
            fraction, within ``(0, 0.5]``. Defaults to `(0.05, 0.20)`.
        radius_nm_range: ``(min, max)`` of the nominal mean particle radius
            in nm. Defaults to `(8.0, 16.0)`.
        fov_nm: Field of view in nm. Defaults to `500.0`. At 32 px (15.6 nm
            a pixel) an 8-16 nm particle section spans 1-2 pixels, so the
            radius shows mostly through the anti-aliased grey levels; 64 px
            resolves it better.
        image_size: Image edge in pixels (>= 8). Defaults to `64`.
        box_nm: Structure box edge in nm; `None` means
            ``max(fov_nm, 10 * max radius)``: the smallest box the slicing
            (``fov_nm <= box_nm``) and the generator (``box_nm >= 10 *
            radius_nm``) allow. Generation time scales with the box volume,
            and a slice covering (a period of) the whole box sees the
            structure whose properties it is labelled with; at
            ``fov_nm == box_nm`` oblique slices show periodic images
            (statistically valid). n-SBR agglomerates (~300-500 nm) fill
            boxes below ~500 nm; pass a larger box (8x the time per doubling)
            for a more faithful n-SBR morphology at small FOVs.
        blur_sigma_px: Gaussian blur in pixels (see `apply_imaging`).
            Defaults to `0.0`.
        noise_std: Additive Gaussian noise (see `apply_imaging`). Defaults
            to `0.0`.
        seed: Non-negative integer seed. Defaults to `0`.
        cache_dir: Cache directory; `None` means ``$KERAS_GEO_CACHE/filler``
            if that variable is set, else ``~/.cache/keras-geo/filler``.
        use_cache: Read and write the cache. Defaults to `True`.
        progress: Show a tqdm progress bar. Defaults to `False`.
        structure_params: Optional per-class generator parameters, as in
            `make_dataset`. Defaults to `None`.

    Returns:
        A `PropertyDataset` ``(x, y, kind, structure_id, nominal,
        target_names)`` with ``N = n_samples``.

    Raises:
        ValueError: For an argument out of range (the message names it and
            echoes the value).
        RuntimeError: If a structure is too dense to be generated.
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    per_structure = _check_int("slices_per_structure", slices_per_structure, 1)
    kinds_t = _check_kinds(kinds)
    phi_lo, phi_hi = _check_range("volume_fraction_range", volume_fraction_range, low=0.0, high=0.5)
    r_lo, r_hi = _check_range("radius_nm_range", radius_nm_range, low=0.0)
    size = _check_int("image_size", image_size, 8)
    fov = _check_float("fov_nm", fov_nm, low=0.0)
    if box_nm is None:
        box = max(fov, 10.0 * r_hi)
    else:
        box = _check_float("box_nm", box_nm, low=0.0)
        if box < 10.0 * r_hi:
            raise ValueError(
                f"`box_nm` must be at least 10 * max radius = {10.0 * r_hi:g} "
                f"(radius_nm_range={radius_nm_range!r}). Received: box_nm={box_nm!r}"
            )
    _check_fov(fov, box)
    blur, noise, seed, sp = _check_imaging_and_params(blur_sigma_px, noise_std, seed, structure_params)
    payload = {
        "function": "make_property_dataset",
        "n_samples": n_samples,
        "slices_per_structure": per_structure,
        "kinds": list(kinds_t),
        "volume_fraction_range": [phi_lo, phi_hi],
        "radius_nm_range": [r_lo, r_hi],
        "fov_nm": fov,
        "image_size": size,
        "box_nm": box,
        "blur_sigma_px": blur,
        "noise_std": noise,
        "seed": seed,
        "structure_params": {k: sp.get(k, {}) for k in CLASSES},
    }
    names = ("x", "y", "kind", "structure_id", "nominal")
    cache, path, meta, data = _cached_arrays("property", payload, names, use_cache, cache_dir)
    if data is not None:
        return PropertyDataset(*(data[k] for k in names))

    n_structures = -(-n_samples // per_structure)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=2 * n_structures, desc="filler property data set", unit="step")
    xs: list[np.ndarray] = []
    rows: list[tuple[int, int, float, float, float, float]] = []  # per structure
    counts: list[int] = []
    try:
        for j in range(n_structures):
            kind = kinds_t[j % len(kinds_t)]
            n_here = min(per_structure, n_samples - j * per_structure)
            rng = np.random.default_rng(_derive_seed(seed, _NS_STRUCTURE, j, 0))
            phi = float(rng.uniform(phi_lo, phi_hi))
            radius = float(rng.uniform(r_lo, r_hi))
            if bar is not None:
                bar.set_postfix_str(f"structure {j + 1}/{n_structures} ({kind})")
            try:
                structure = _filler()._cached_structure(
                    kind,
                    box_nm=box,
                    radius_nm=radius,
                    volume_fraction=phi,
                    seed=_derive_seed(seed, _NS_STRUCTURE, j, 1),
                    params=sp.get(kind, {}),
                    cache_dir=cache,
                )
            except RuntimeError as err:
                raise RuntimeError(
                    f"Structure {j} ({kind}, volume_fraction={phi:.4f}, radius_nm={radius:.3f}, "
                    f"box_nm={box:g}) could not be generated; narrow `volume_fraction_range` "
                    f"(Received: {volume_fraction_range!r}) or `radius_nm_range` "
                    f"(Received: {radius_nm_range!r}). {err}"
                ) from err
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"structure {j + 1}/{n_structures}: slices")
            xs.append(
                _imaged_slices(
                    structure,
                    n_here,
                    fov=fov,
                    size=size,
                    blur=blur,
                    noise=noise,
                    slice_seed=_derive_seed(seed, _NS_STRUCTURE, j, 2),
                    imaging_seed=_derive_seed(seed, _NS_STRUCTURE, j, 3),
                )
            )
            counts.append(n_here)
            rows.append(
                (
                    CLASSES.index(kind),
                    j,
                    _real_volume_fraction(structure),
                    float(structure.radii.mean()) if structure.n_particles else 0.0,
                    phi,
                    radius,
                )
            )
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    table = np.array(rows, dtype=np.float64)  # (n_structures, 6)
    per_sample = np.repeat(table, counts, axis=0)
    order = np.random.default_rng(_derive_seed(seed, _NS_SHUFFLE)).permutation(n_samples)
    per_sample = per_sample[order]
    result = PropertyDataset(
        x=np.concatenate(xs)[order][..., None].astype(np.float32, copy=False),
        y=per_sample[:, 2:4].astype(np.float32),
        kind=per_sample[:, 0].astype(np.int64),
        structure_id=per_sample[:, 1].astype(np.int64),
        nominal=per_sample[:, 4:6].astype(np.float32),
    )
    if path is not None:
        _save_npz(path, meta, {k: getattr(result, k) for k in names})
    return result


def make_property_splits(n_train: int, n_val: int, n_test: int, **kw: Any) -> dict[str, PropertyDataset]:
    """Train / validation / test regression sets from disjoint structures.

    Each split is a `make_property_dataset` with its own seed (derived from
    ``kw["seed"]`` and the split), so its structures are generated from
    seeds no other split uses: a model is evaluated on held-out structures,
    never on other slices of a training structure.

    Args:
        n_train: Slices in ``"train"`` (>= 1).
        n_val: Slices in ``"val"`` (>= 1).
        n_test: Slices in ``"test"`` (>= 1).
        **kw: Any other argument of `make_property_dataset`
            (``slices_per_structure``, ``fov_nm``, ``seed``, ...).

    Returns:
        ``{"train": PropertyDataset, "val": ..., "test": ...}``.
    """
    counts = {
        "train": _check_int("n_train", n_train, 1),
        "val": _check_int("n_val", n_val, 1),
        "test": _check_int("n_test", n_test, 1),
    }
    if "n_samples" in kw:
        raise ValueError("make_property_splits takes n_train, n_val, n_test instead of `n_samples`.")
    seed = _check_seed(kw.pop("seed", 0))
    return {
        name: _filler().make_property_dataset(n, seed=_derive_seed(seed, _NS_SPLITS + i) % 2**63, **kw)
        for i, (name, n) in enumerate(counts.items())
    }


_PROPERTY_DEFAULTS = {name: p.default for name, p in inspect.signature(make_property_dataset).parameters.items()}
_Positive = Range(0.0, open_low=True)


@register("filler_fraction", task="regression")
def filler_fraction(
    n_train: Annotated[int, Range(1)] = 2000,
    n_val: Annotated[int, Range(1)] = 600,
    n_test: Annotated[int, Range(1)] = 600,
    slices_per_structure: Annotated[int, Range(1)] = _PROPERTY_DEFAULTS["slices_per_structure"],
    volume_fraction_range: Annotated[tuple[float, float], Range(0.0, 0.5)] = _PROPERTY_DEFAULTS[
        "volume_fraction_range"
    ],
    radius_nm_range: Annotated[tuple[float, float], _Positive] = _PROPERTY_DEFAULTS["radius_nm_range"],
    fov_nm: Annotated[float, _Positive] = _PROPERTY_DEFAULTS["fov_nm"],
    image_size: Annotated[int, Range(8)] = _PROPERTY_DEFAULTS["image_size"],
    box_nm: Annotated[float, _Positive] | None = _PROPERTY_DEFAULTS["box_nm"],
    blur_sigma_px: Annotated[float, Range(0.0)] = _PROPERTY_DEFAULTS["blur_sigma_px"],
    noise_std: Annotated[float, Range(0.0)] = _PROPERTY_DEFAULTS["noise_std"],
    seed: Annotated[int, Range(0)] = 0,
) -> Dataset:
    """Slices labelled with their structure's volume fraction and mean particle radius (nm), all three classes."""
    splits = make_property_splits(
        n_train,
        n_val,
        n_test,
        slices_per_structure=slices_per_structure,
        volume_fraction_range=tuple(volume_fraction_range),
        radius_nm_range=tuple(radius_nm_range),
        fov_nm=fov_nm,
        image_size=image_size,
        box_nm=box_nm,
        blur_sigma_px=blur_sigma_px,
        noise_std=noise_std,
        seed=seed,
    )
    return Dataset(
        {name: (part.x, part.y) for name, part in splits.items()},
        target_names=TARGET_NAMES,
        info={"kind": {name: part.kind.tolist() for name, part in splits.items()}},
    )
