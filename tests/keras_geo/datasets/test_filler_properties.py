"""Tests for the filler regression data sets (make_property_dataset / _splits)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from keras_geo.datasets import filler
from keras_geo.datasets.filler import (
    CLASSES,
    TARGET_NAMES,
    PropertyDataset,
    Structure,
    generate_structure,
    make_property_dataset,
    make_property_splits,
    voxelize,
)
from keras_geo.datasets.filler._properties import _real_volume_fraction

SMALL_NSBR = {"n-SBR": {"aggregate_size": (20, 60), "agglomerate_radius_nm": 40.0}}
# Tiny and fast: ~0.1 s a data set of 8 structures (box = 10 * 16 nm = 160 nm).
TINY = {"fov_nm": 150.0, "image_size": 16, "structure_params": SMALL_NSBR, "use_cache": False}
FIELDS = ("x", "y", "kind", "structure_id", "nominal")


def _same(a: PropertyDataset, b: PropertyDataset) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in FIELDS) and a.target_names == b.target_names


@pytest.fixture(scope="module")
def moderate() -> PropertyDataset:
    """60 structures x 5 slices, FOV = box = 250 nm, default class parameters (~4 s)."""
    return make_property_dataset(300, slices_per_structure=5, fov_nm=250.0, image_size=32, seed=2, use_cache=False)


# ---------------------------------------------------------------------------
# Shapes, labels, targets
# ---------------------------------------------------------------------------


def test_shapes_dtypes_and_one_label_per_structure():
    ds = make_property_dataset(23, slices_per_structure=3, seed=1, **TINY)
    assert isinstance(ds, PropertyDataset) and ds.target_names == TARGET_NAMES
    assert ds.target_names == ("volume_fraction", "mean_radius_nm")
    x, y, kind, sid, nominal, _ = ds  # a NamedTuple unpacks
    assert x.shape == (23, 16, 16, 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert y.shape == (23, 2) and y.dtype == np.float32
    assert nominal.shape == (23, 2) and nominal.dtype == np.float32
    assert kind.shape == sid.shape == (23,) and kind.dtype == sid.dtype == np.int64
    # ceil(23 / 3) = 8 structures, 3 slices each except the last (2).
    assert np.bincount(sid).tolist() == [3] * 7 + [2]
    assert not np.array_equal(sid, np.sort(sid))  # shuffled
    for j in range(8):  # every slice of a structure carries its labels
        m = sid == j
        assert len(np.unique(y[m], axis=0)) == 1 and len(np.unique(nominal[m], axis=0)) == 1
        # Classes cycle over the structures: balanced.
        assert set(kind[m].tolist()) == {j % 3}
    lo, hi = (0.05, 0.20), (8.0, 16.0)
    assert np.all((nominal[:, 0] >= lo[0]) & (nominal[:, 0] <= lo[1]))
    assert np.all((nominal[:, 1] >= hi[0]) & (nominal[:, 1] <= hi[1]))


def test_targets_are_the_real_structure_values(monkeypatch):
    seen = {}
    real = filler._cached_structure

    def spy(kind, **kw):
        s = real(kind, **kw)
        seen[len(seen)] = (s, kw["volume_fraction"], kw["radius_nm"])
        return s

    monkeypatch.setattr(filler, "_cached_structure", spy)
    ds = make_property_dataset(12, slices_per_structure=2, seed=4, **TINY)
    assert len(seen) == 6
    for j, (s, phi, radius) in seen.items():
        row = np.flatnonzero(ds.structure_id == j)[0]
        assert CLASSES[ds.kind[row]] == s.kind == CLASSES[j % 3]
        # Generated spheres never overlap: the real fraction is the sphere sum.
        assert ds.y[row, 0] == np.float32(s.volume_fraction)
        assert ds.y[row, 1] == np.float32(s.radii.mean())
        assert ds.nominal[row].tolist() == [np.float32(phi), np.float32(radius)]


def test_real_fractions_and_radii_are_near_nominal(moderate):
    y, nominal = moderate.y.astype(np.float64), moderate.nominal.astype(np.float64)
    box = 250.0
    # The generator stops within about half a particle of the target volume:
    # allow one particle of 1.5x the nominal radius (lognormal, sigma 0.1).
    one_particle = 4.0 / 3.0 * math.pi * (1.5 * nominal[:, 1]) ** 3 / box**3
    err = np.abs(y[:, 0] - nominal[:, 0])
    assert np.all(err <= one_particle)
    assert err.max() < 2e-3  # measured 5e-4 at box 250 nm (1e-4 at 500 nm)
    # Mean radii: lognormal sample mean, RSA and packing effects (~1-3%).
    rel = np.abs(y[:, 1] / nominal[:, 1] - 1.0)
    assert rel.max() < 0.06
    assert np.all((y[:, 1] > 8.0 * 0.94) & (y[:, 1] < 16.0 * 1.06))
    assert np.all((y[:, 0] > 0.05 - 2e-3) & (y[:, 0] < 0.20 + 2e-3))
    # The draws span the ranges.
    assert nominal[:, 0].min() < 0.08 and nominal[:, 0].max() > 0.17
    assert nominal[:, 1].min() < 9.5 and nominal[:, 1].max() > 14.5
    assert np.bincount(moderate.kind).tolist() == [100, 100, 100]


def test_delesse_area_fraction_tracks_volume_fraction(moderate):
    # Delesse: the area fraction of a random section estimates the volume
    # fraction. Images are area-exact, so the mean grey level is the slice's
    # area fraction.
    area = moderate.x.mean(axis=(1, 2, 3)).astype(np.float64)
    phi = moderate.y[:, 0].astype(np.float64)
    assert spearmanr(area, phi).statistic > 0.75  # measured 0.855
    for c in range(3):  # within each class too (n-SBR is the noisiest)
        m = moderate.kind == c
        assert spearmanr(area[m], phi[m]).statistic > 0.6
    # Unbiased: averaged over a structure's slices, area fraction ~ phi.
    sid = moderate.structure_id
    per_structure = np.bincount(sid, weights=area) / np.bincount(sid)
    phi_s = np.bincount(sid, weights=phi) / np.bincount(sid)
    assert abs(np.mean(per_structure - phi_s)) < 0.01
    assert np.median(np.abs(per_structure - phi_s)) < 0.02


# ---------------------------------------------------------------------------
# Real volume fraction (overlap-corrected)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CLASSES)
def test_real_volume_fraction_matches_voxelization(kind):
    extra = SMALL_NSBR["n-SBR"] if kind == "n-SBR" else {}
    s = generate_structure(kind, box_nm=200.0, radius_nm=10.0, volume_fraction=0.15, seed=4, **extra)
    phi = _real_volume_fraction(s)
    assert phi == pytest.approx(s.volume_fraction, abs=1e-12)  # no overlaps to correct
    assert float(voxelize(s, 4.0, supersample=3).mean()) == pytest.approx(phi, abs=2e-4)


def test_real_volume_fraction_subtracts_overlaps():
    # Spheres 0 and 1 overlap in a lens; sphere 2 lies inside sphere 0.
    s = Structure(
        centers=np.array([[50.0, 50.0, 50.0], [62.0, 50.0, 50.0], [50.0, 50.0, 50.5]]),
        radii=np.array([10.0, 8.0, 3.0]),
        box_nm=100.0,
        kind="Rnd",
    )
    d, r0, r1 = 12.0, 10.0, 8.0
    lens = math.pi * (r0 + r1 - d) ** 2 * (d * d + 2 * d * (r0 + r1) - 3 * (r0 - r1) ** 2) / (12 * d)
    expected = (4 / 3 * math.pi * (r0**3 + r1**3) - lens) / 100.0**3
    assert _real_volume_fraction(s) == pytest.approx(expected, rel=1e-12)
    assert s.volume_fraction > expected * 1.05
    assert float(voxelize(s, 0.5, supersample=2).mean()) == pytest.approx(expected, rel=2e-3)
    # Across the periodic boundary too.
    shifted = Structure(centers=s.centers + [45.0, 0.0, 0.0], radii=s.radii, box_nm=100.0, kind="Rnd")
    assert _real_volume_fraction(shifted) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------
# Determinism, cache, splits
# ---------------------------------------------------------------------------


def test_deterministic_and_seeded(tmp_path):
    kw = dict(TINY, use_cache=True, cache_dir=tmp_path)
    a = make_property_dataset(12, slices_per_structure=4, seed=3, **kw)
    b = make_property_dataset(12, slices_per_structure=4, seed=3, **TINY)  # fresh, no cache
    c = make_property_dataset(12, slices_per_structure=4, seed=3, **kw)  # from the cache
    assert _same(a, b) and _same(a, c)
    assert isinstance(c, PropertyDataset) and c.target_names == TARGET_NAMES
    d = make_property_dataset(12, slices_per_structure=4, seed=4, **TINY)
    assert not np.array_equal(a.x, d.x) and not np.array_equal(a.y, d.y)


def test_structures_do_not_depend_on_the_data_set_size():
    small = make_property_dataset(6, slices_per_structure=2, seed=5, **TINY)
    large = make_property_dataset(12, slices_per_structure=2, seed=5, **TINY)
    for j in range(3):
        a, b = small.structure_id == j, large.structure_id == j
        np.testing.assert_array_equal(small.y[a][0], large.y[b][0])
        # Same slices (in the shuffled order of each data set).
        sa = sorted(map(bytes, small.x[a]))
        sb = sorted(map(bytes, large.x[b]))
        assert sa == sb


def test_cache_reuses_data_sets_and_structures(tmp_path, monkeypatch):
    kw = dict(TINY, use_cache=True, cache_dir=tmp_path, slices_per_structure=2, seed=0)
    a = make_property_dataset(6, blur_sigma_px=0.5, noise_std=0.05, **kw)
    assert len(list(tmp_path.glob("property-*.npz"))) == 1
    assert len(list(tmp_path.glob("structures/structure-*.npz"))) == 3
    for f in tmp_path.rglob("*.npz"):
        with np.load(f, allow_pickle=False) as data:
            assert all(data[k].dtype != object for k in data.files)

    def boom(*args, **kwargs):
        raise AssertionError("regenerated instead of loading the cache")

    monkeypatch.setattr(filler, "generate_structure", boom)
    monkeypatch.setattr(filler, "slice_structure", boom)
    assert _same(a, make_property_dataset(6, blur_sigma_px=0.5, noise_std=0.05, **kw))
    monkeypatch.undo()
    # Other imaging: a new data set from the cached structures.
    monkeypatch.setattr(filler, "generate_structure", boom)
    b = make_property_dataset(6, **kw)
    monkeypatch.undo()
    np.testing.assert_array_equal(a.y, b.y)
    assert len(list(tmp_path.glob("property-*.npz"))) == 2


def test_splits_use_disjoint_structures(monkeypatch):
    seeds = []
    real = filler._cached_structure

    def spy(kind, **kw):
        seeds.append(kw["seed"])
        return real(kind, **kw)

    monkeypatch.setattr(filler, "_cached_structure", spy)
    splits = make_property_splits(10, 4, 6, slices_per_structure=2, seed=0, **TINY)
    assert list(splits) == ["train", "val", "test"]
    assert [len(splits[k].y) for k in splits] == [10, 4, 6]
    assert [int(splits[k].structure_id.max()) + 1 for k in splits] == [5, 2, 3]
    assert len(seeds) == 10 and len(set(seeds)) == 10
    slices = {k: {bytes(im) for im in splits[k].x} for k in splits}
    assert not slices["train"] & slices["val"]
    assert not slices["train"] & slices["test"]
    assert not slices["val"] & slices["test"]
    again = make_property_splits(10, 4, 6, slices_per_structure=2, seed=0, **TINY)
    assert all(_same(splits[k], again[k]) for k in splits)
    other = make_property_splits(10, 4, 6, slices_per_structure=2, seed=1, **TINY)
    assert not np.array_equal(other["train"].y, splits["train"].y)


def test_kinds_subset_and_progress_bar(capsys):
    ds = make_property_dataset(4, slices_per_structure=2, kinds=["Rnd"], seed=0, progress=True, **TINY)
    assert ds.kind.tolist() == [CLASSES.index("Rnd")] * 4
    ds2 = make_property_dataset(
        6, slices_per_structure=2, kinds=("n-SBR", "M-SBR"), radius_nm_range=(10.0, 10.0), seed=0, **TINY
    )
    assert sorted(set(ds2.kind.tolist())) == [0, 1]
    assert np.all(ds2.nominal[:, 1] == 10.0)
    assert "filler property data set" in capsys.readouterr().err


def test_generation_failure_names_the_structure(monkeypatch):
    def too_dense(*args, **kwargs):
        raise RuntimeError("Could not reach the target volume fraction")

    monkeypatch.setattr(filler, "generate_structure", too_dense)
    with pytest.raises(RuntimeError, match=r"Structure 0 \(M-SBR, volume_fraction=.*volume_fraction_range"):
        make_property_dataset(2, seed=0, **TINY)


# ---------------------------------------------------------------------------
# Bad arguments
# ---------------------------------------------------------------------------

BAD_CALLS = [
    ("n_samples", lambda: make_property_dataset(0, **TINY), "n_samples=0"),
    ("n_samples", lambda: make_property_dataset(2.0, **TINY), "n_samples=2.0"),
    ("slices_per_structure", lambda: make_property_dataset(2, slices_per_structure=0, **TINY), "=0"),
    ("kinds", lambda: make_property_dataset(2, kinds=("SBR",), **TINY), "kinds=('SBR',)"),
    ("kinds", lambda: make_property_dataset(2, kinds="Rnd", **TINY), "kinds='Rnd'"),
    ("kinds", lambda: make_property_dataset(2, kinds=(), **TINY), "kinds=()"),
    ("kinds", lambda: make_property_dataset(2, kinds=("Rnd", "Rnd"), **TINY), "kinds=('Rnd', 'Rnd')"),
    ("volume_fraction_range", lambda: make_property_dataset(2, volume_fraction_range=(0.2, 0.1), **TINY), "(0.2, 0.1)"),
    ("volume_fraction_range", lambda: make_property_dataset(2, volume_fraction_range=(0.1, 0.6), **TINY), "(0.1, 0.6)"),
    ("volume_fraction_range", lambda: make_property_dataset(2, volume_fraction_range=(0.0, 0.1), **TINY), "(0.0, 0.1)"),
    ("volume_fraction_range", lambda: make_property_dataset(2, volume_fraction_range=0.1, **TINY), "=0.1"),
    ("radius_nm_range", lambda: make_property_dataset(2, radius_nm_range=(-1.0, 5.0), **TINY), "(-1.0, 5.0)"),
    ("radius_nm_range", lambda: make_property_dataset(2, radius_nm_range=(5.0, float("nan")), **TINY), "nan"),
    ("radius_nm_range", lambda: make_property_dataset(2, radius_nm_range=(5, 6, 7), **TINY), "(5, 6, 7)"),
    ("box_nm", lambda: make_property_dataset(2, box_nm=100.0, **dict(TINY, fov_nm=50.0)), "box_nm=100.0"),
    ("fov_nm", lambda: make_property_dataset(2, box_nm=200.0, **dict(TINY, fov_nm=250.0)), "fov_nm=250.0"),
    ("fov_nm", lambda: make_property_dataset(2, **dict(TINY, fov_nm=-5.0)), "fov_nm=-5.0"),
    ("image_size", lambda: make_property_dataset(2, **dict(TINY, image_size=4)), "image_size=4"),
    ("blur_sigma_px", lambda: make_property_dataset(2, blur_sigma_px=-1.0, **TINY), "-1.0"),
    ("noise_std", lambda: make_property_dataset(2, noise_std=float("inf"), **TINY), "inf"),
    ("seed", lambda: make_property_dataset(2, seed=-1, **TINY), "seed=-1"),
    ("structure_params", lambda: make_property_dataset(2, **dict(TINY, structure_params={"SBR": {}})), "SBR"),
    ("Unknown parameter", lambda: make_property_dataset(2, **dict(TINY, structure_params={"Rnd": {"x": 1}})), "'x'"),
    ("n_val", lambda: make_property_splits(2, 0, 2, **TINY), "n_val=0"),
    ("n_samples", lambda: make_property_splits(2, 2, 2, n_samples=3, **TINY), "n_samples"),
]


@pytest.mark.parametrize("name, call, echo", BAD_CALLS, ids=[f"{i}-{n}" for i, (n, _, _) in enumerate(BAD_CALLS)])
def test_bad_arguments_raise_naming_and_echoing_the_value(name, call, echo, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("validation must come before any generation")

    monkeypatch.setattr(filler, "generate_structure", boom)
    with pytest.raises(ValueError, match=name) as info:
        call()
    assert echo in str(info.value)


# ---------------------------------------------------------------------------
# Demo-size physics (slow)
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_fov_real_vs_nominal_and_delesse():
    # The demo geometry (FOV = box = 500 nm, 32 px), 60 structures (~25 s cold).
    ds = make_property_dataset(300, slices_per_structure=5, fov_nm=500.0, image_size=32, seed=7, use_cache=False)
    assert np.abs(ds.y[:, 0] - ds.nominal[:, 0]).max() < 3e-4  # measured ~1e-4
    assert np.abs(ds.y[:, 1] / ds.nominal[:, 1] - 1.0).max() < 0.04  # measured ~2%
    area = ds.x.mean(axis=(1, 2, 3))
    assert spearmanr(area, ds.y[:, 0]).statistic > 0.85  # measured ~0.93 on 2,000 slices
