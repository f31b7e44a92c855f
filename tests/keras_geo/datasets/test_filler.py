"""Tests for keras_geo.datasets.filler (synthetic filler-in-rubber slices)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from keras_geo.datasets import filler
from keras_geo.datasets.filler import (
    CLASSES,
    Structure,
    apply_imaging,
    class_statistics,
    generate_structure,
    make_dataset,
    make_splits,
    render_plane,
    sample_volume_plane,
    slice_structure,
    slice_volume,
    to_tf_dataset,
    voxelize,
)

# Small n-SBR aggregates so that tiny test boxes stay fast and meaningful.
SMALL_NSBR = {"aggregate_size": (20, 60), "agglomerate_radius_nm": 40.0}
SMALL_PARAMS = {"n-SBR": SMALL_NSBR}
# make_dataset arguments that keep data-set tests fast.
FAST = dict(fov_nm=150.0, image_size=32, box_nm=300.0, structure_params=SMALL_PARAMS)


def _pairs(structure: Structure, extra: float = 0.0):
    """Close pairs (i, j) and their surface gaps, minimum image."""
    box = structure.box_nm
    tree = cKDTree(structure.centers, boxsize=box)
    pairs = tree.query_pairs(2 * structure.radii.max() * (1 + 1e-6) + extra, output_type="ndarray")
    d = structure.centers[pairs[:, 0]] - structure.centers[pairs[:, 1]]
    d -= box * np.round(d / box)
    dist = np.linalg.norm(d, axis=1)
    contact = structure.radii[pairs[:, 0]] + structure.radii[pairs[:, 1]]
    return pairs, dist, contact


def _cluster_labels(structure: Structure) -> np.ndarray:
    """Label of the cluster of touching spheres (3-D aggregate) of each sphere."""
    pairs, dist, contact = _pairs(structure)
    touch = pairs[dist < contact * (1 + 1e-6)]
    n = structure.n_particles
    graph = coo_matrix((np.ones(len(touch)), (touch[:, 0], touch[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _clusters(structure: Structure) -> np.ndarray:
    """Sizes of the clusters of touching spheres."""
    return np.bincount(_cluster_labels(structure))


@pytest.fixture(scope="module")
def structures() -> dict[str, Structure]:
    """One default-parameter structure per class in a 600 nm box."""
    return {k: generate_structure(k, box_nm=600.0, seed=11 + i) for i, k in enumerate(CLASSES)}


# ---------------------------------------------------------------------------
# Structures
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CLASSES)
def test_structure_volume_fraction_box_and_no_overlap(kind):
    box, phi, r = 300.0, 0.15, 10.0
    extra = SMALL_NSBR if kind == "n-SBR" else {}
    s = generate_structure(kind, box_nm=box, volume_fraction=phi, seed=3, **extra)
    assert s.kind == kind and s.box_nm == box
    assert s.centers.dtype == np.float64 and s.centers.shape == (s.n_particles, 3)
    assert s.radii.dtype == np.float64 and s.radii.shape == (s.n_particles,)
    # Within one particle volume of the target.
    one = 4 / 3 * math.pi * s.radii.max() ** 3 / box**3
    assert abs(s.volume_fraction - phi) <= one
    assert np.all(s.centers >= 0) and np.all(s.centers < box)
    # Polydisperse radii with the requested mean (lognormal, sigma 0.1).
    assert abs(s.radii.mean() - r) < 0.5 and s.radii.std() > 0.05 * r
    _, dist, contact = _pairs(s)
    assert np.all(dist >= contact * (1 - 1e-6))


def test_structure_is_deterministic():
    a = generate_structure("n-SBR", box_nm=300.0, seed=5, **SMALL_NSBR)
    b = generate_structure("n-SBR", box_nm=300.0, seed=5, **SMALL_NSBR)
    c = generate_structure("n-SBR", box_nm=300.0, seed=6, **SMALL_NSBR)
    np.testing.assert_array_equal(a.centers, b.centers)
    np.testing.assert_array_equal(a.radii, b.radii)
    assert a.n_particles != c.n_particles or not np.array_equal(a.centers, c.centers)


def test_monodisperse_option():
    s = generate_structure("Rnd", box_nm=200.0, radius_nm=8.0, radius_sigma=0.0, seed=1)
    np.testing.assert_array_equal(s.radii, 8.0)


def test_msbr_aggregates_are_small_and_separated_by_the_gap():
    gap = 3.0
    s = generate_structure("M-SBR", box_nm=300.0, seed=2, gap_nm=gap)
    labels = _cluster_labels(s)
    sizes = np.bincount(labels)
    assert sizes.max() <= 10  # aggregate_size=(3, 10): aggregates never merge
    assert 3.0 <= sizes.mean() <= 10.0
    # Particles of different aggregates keep at least the gap.
    pairs, dist, contact = _pairs(s, extra=gap)
    other = labels[pairs[:, 0]] != labels[pairs[:, 1]]
    assert other.any()
    assert np.all(dist[other] - contact[other] >= gap - 1e-9)
    # Without the gap the same model lets aggregates come closer.
    s0 = generate_structure("M-SBR", box_nm=300.0, seed=2, gap_nm=0.0)
    labels0 = _cluster_labels(s0)
    pairs0, dist0, contact0 = _pairs(s0, extra=gap)
    other0 = labels0[pairs0[:, 0]] != labels0[pairs0[:, 1]]
    assert np.min(dist0[other0] - contact0[other0]) < gap


def test_cluster_sizes_order_rnd_msbr_nsbr(structures):
    mean = {k: _clusters(s).mean() for k, s in structures.items()}
    assert mean["Rnd"] < 1.1  # RSA spheres practically never touch
    assert 3.0 <= mean["M-SBR"] <= 10.0
    assert mean["n-SBR"] > 3 * mean["M-SBR"]  # large fractal aggregates


@pytest.mark.parametrize("df", [1.9, 2.4])
def test_nsbr_aggregates_follow_the_prescribed_fractal_dimension(df):
    # Dilute and without agglomerates, aggregates hardly touch each other:
    # each touching cluster is one aggregate; fit N = k_f (R_g / a)^D_f.
    s = generate_structure(
        "n-SBR",
        box_nm=700.0,
        volume_fraction=0.01,
        radius_sigma=0.0,
        seed=1,
        aggregate_size=(20, 150),
        fractal_dimension=df,
        prefactor=1.3,
        aggregates_per_agglomerate=1.0,
    )
    labels = _cluster_labels(s)
    sizes, rg = [], []
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        if len(idx) < 20:
            continue
        p = s.centers[idx]
        p = p[0] + (p - p[0]) - s.box_nm * np.round((p - p[0]) / s.box_nm)  # unwrap (aggregates << box)
        sizes.append(len(idx))
        rg.append(np.sqrt(((p - p.mean(0)) ** 2).sum(1).mean()))
    assert len(sizes) >= 8
    slope = np.polyfit(np.log(np.asarray(rg) / 10.0), np.log(sizes), 1)[0]
    assert slope == pytest.approx(df, abs=0.05)


@pytest.mark.parametrize("k", [2, 16])
def test_periodic_neighbour_search_is_exact(k):
    # The k-nearest fast path and the query_ball_point fallback (rows whose
    # k-th neighbour is still in reach) must both return every close pair.
    rng = np.random.default_rng(0)
    box = 100.0
    pts = rng.random((400, 3)) * box
    q = rng.random((50, 3)) * box
    i, j, d = filler._neighbours(cKDTree(pts, boxsize=box), q, 15.0, box, k=k)
    diff = q[:, None] - pts[None]
    diff -= box * np.round(diff / box)
    dist = np.linalg.norm(diff, axis=-1)
    ii, jj = np.nonzero(dist < 15.0)
    assert sorted(zip(i.tolist(), j.tolist())) == sorted(zip(ii.tolist(), jj.tolist()))
    np.testing.assert_allclose(d, dist[i, j], rtol=1e-12)


# ---------------------------------------------------------------------------
# Rendering a plane
# ---------------------------------------------------------------------------


def _one_sphere(center, r=20.0, box=200.0):
    return Structure(centers=np.array([center], float), radii=np.array([r]), box_nm=box, kind="Rnd")


def _disc_stats(img, px):
    area = img.sum() * px**2
    rows, cols = np.indices(img.shape)
    cy, cx = (img * rows).sum() / img.sum(), (img * cols).sum() / img.sum()
    return area, cy, cx


def test_render_plane_sphere_through_centre():
    fov, size = 100.0, 64
    px = fov / size
    img = render_plane(_one_sphere((100, 100, 100)), (100, 100, 100), np.eye(3), fov_nm=fov, image_size=size)
    assert img.shape == (size, size) and img.dtype == np.float32
    assert img.min() >= 0 and img.max() == 1.0
    area, cy, cx = _disc_stats(img, px)
    assert area == pytest.approx(math.pi * 20**2, rel=1e-3)  # area-exact anti-aliasing
    assert (cy, cx) == pytest.approx((31.5, 31.5), abs=0.02)
    # Thresholded disc: radius 12.8 px within the anti-aliasing tolerance.
    assert (img > 0.5).sum() == pytest.approx(math.pi * (20 / px) ** 2, rel=0.03)
    edge = img[32, :]  # values between 0 and 1 only in a thin rim
    assert 0 < ((edge > 0.01) & (edge < 0.99)).sum() <= 4


def test_render_plane_offset_plane_gives_smaller_disc():
    fov, size = 100.0, 64
    px = fov / size
    img = render_plane(_one_sphere((100, 100, 100)), (100, 100, 112), np.eye(3), fov_nm=fov, image_size=size)
    area, _, _ = _disc_stats(img, px)
    assert area == pytest.approx(math.pi * (20**2 - 12**2), rel=1e-3)  # radius sqrt(r^2 - d^2) = 16
    miss = render_plane(_one_sphere((100, 100, 100)), (100, 100, 121), np.eye(3), fov_nm=fov, image_size=size)
    assert miss.max() == 0.0


def test_render_plane_axis_conventions_and_rotation():
    fov, size = 100.0, 64
    px = fov / size
    # Plane centre offset by (+10, -5) nm: the disc is at a = -10 (columns), b = +5 (rows).
    img = render_plane(_one_sphere((100, 100, 100)), (110, 95, 100), np.eye(3), fov_nm=fov, image_size=size)
    _, cy, cx = _disc_stats(img, px)
    assert (cy, cx) == pytest.approx((31.5 + 5 / px, 31.5 - 10 / px), abs=0.02)
    # Columns of the rotation are u (columns), v (rows), normal: u = y, v = z, n = x.
    rot = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], float)
    img = render_plane(_one_sphere((100, 110, 93)), (100, 100, 100), rot, fov_nm=fov, image_size=size)
    _, cy, cx = _disc_stats(img, px)
    assert (cy, cx) == pytest.approx((31.5 - 7 / px, 31.5 + 10 / px), abs=0.02)
    # A scipy Rotation works too and gives the same image.
    img2 = render_plane(
        _one_sphere((100, 110, 93)), (100, 100, 100), Rotation.from_matrix(rot), fov_nm=fov, image_size=size
    )
    np.testing.assert_array_equal(img, img2)


def test_render_plane_is_periodic():
    fov, size = 100.0, 64
    px = fov / size
    # Sphere near x = 0, plane centre near x = box: minimum image is +10 nm.
    img = render_plane(_one_sphere((5, 100, 100)), (195, 100, 100), np.eye(3), fov_nm=fov, image_size=size)
    area, cy, cx = _disc_stats(img, px)
    assert area == pytest.approx(math.pi * 400, rel=1e-3)
    assert cx == pytest.approx(31.5 + 10 / px, abs=0.02)
    # FOV as large as the box: the sphere's two periodic images show as
    # half-discs at the left and right edges.
    s = _one_sphere((50, 50, 50), r=10.0, box=100.0)
    img = render_plane(s, (0, 50, 50), np.eye(3), fov_nm=100.0, image_size=64)
    assert img.sum() * (100 / 64) ** 2 == pytest.approx(math.pi * 100, rel=2e-3)
    assert img[:, 0].max() > 0.5 and img[:, -1].max() > 0.5 and img[:, 32].max() == 0


def test_subpixel_discs_keep_their_area():
    # At fov 400 nm and 32 px (12.5 nm px) discs are ~1 px across: the
    # renormalised anti-aliasing keeps the area fraction equal to the volume
    # fraction (stereology: A_A = V_V).
    s = generate_structure("Rnd", box_nm=400.0, seed=4)
    imgs = slice_structure(s, 200, fov_nm=400.0, image_size=32, seed=1)
    assert imgs.mean() == pytest.approx(s.volume_fraction, rel=0.05)


# ---------------------------------------------------------------------------
# Random slices
# ---------------------------------------------------------------------------


def test_slice_structure_shapes_range_and_stereology():
    s = generate_structure("Rnd", box_nm=400.0, seed=1)
    imgs = slice_structure(s, 300, fov_nm=200.0, image_size=48, seed=0)
    assert imgs.shape == (300, 48, 48) and imgs.dtype == np.float32
    assert imgs.min() >= 0.0 and imgs.max() <= 1.0
    assert imgs.mean() == pytest.approx(s.volume_fraction, rel=0.05)
    # Random orientations: not all the same image statistics.
    assert np.std(imgs.mean(axis=(1, 2))) > 0.005


def test_slice_structure_is_deterministic_and_seeded():
    s = generate_structure("M-SBR", box_nm=300.0, seed=1)
    a = slice_structure(s, 20, fov_nm=150.0, image_size=32, seed=7)
    b = slice_structure(s, 20, fov_nm=150.0, image_size=32, seed=7)
    c = slice_structure(s, 20, fov_nm=150.0, image_size=32, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_slice_structure_uses_render_plane_planes():
    s = generate_structure("Rnd", box_nm=300.0, seed=1)
    n = 300  # more than one batch, so batching/threads are exercised too
    imgs = slice_structure(s, n, fov_nm=120.0, image_size=32, seed=3)
    centers, rotations = filler._sample_planes(n, np.full(3, s.box_nm), 3)
    for k in (0, 1, 150, n - 1):
        np.testing.assert_array_equal(imgs[k], render_plane(s, centers[k], rotations[k], fov_nm=120.0, image_size=32))
    # Orientations are uniform on the sphere: normals have no preferred axis.
    normals = rotations[:, :, 2]
    assert np.abs(normals.mean(axis=0)).max() < 0.1
    assert np.allclose(np.einsum("nij,nik->njk", rotations, rotations), np.eye(3), atol=1e-12)


def test_class_statistics_separate_the_classes(structures):
    stats = {
        k: class_statistics(slice_structure(s, 120, fov_nm=400.0, image_size=64, seed=1)) for k, s in structures.items()
    }
    het = {k: float(np.nanmean(v["heterogeneity"])) for k, v in stats.items()}
    biggest = {k: float(np.mean(v["max_component_area"])) for k, v in stats.items()}
    # n-SBR: dense agglomerates and voids -> strongly heterogeneous slices.
    assert het["n-SBR"] > 1.5 * het["Rnd"]
    assert het["Rnd"] < het["M-SBR"] < het["n-SBR"]
    # Section clusters: isolated discs < small aggregates < large aggregates.
    assert biggest["Rnd"] < biggest["M-SBR"] < biggest["n-SBR"]
    for v in stats.values():
        assert np.mean(v["area_fraction"]) == pytest.approx(0.15, abs=0.02)


def test_class_statistics_on_known_images():
    img = np.zeros((2, 32, 32), np.float32)
    img[0, 2:6, 2:6] = 1.0
    img[0, 20:30, 20:30] = 1.0
    st = class_statistics(img)
    assert st["n_components"].tolist() == [2.0, 0.0]
    assert st["mean_component_area"][0] == pytest.approx((16 + 100) / 2)
    assert st["max_component_area"][0] == 100
    assert st["area_fraction"][0] == pytest.approx(116 / 1024)
    assert st["heterogeneity"][0] > 1.0 and np.isnan(st["heterogeneity"][1])
    uniform = class_statistics(np.full((1, 32, 32, 1), 0.3))
    assert uniform["heterogeneity"][0] == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------------------
# Voxel volumes
# ---------------------------------------------------------------------------


def test_sample_volume_plane_linear_ramp_axis_aligned():
    voxel, n = 2.0, 40
    vol = np.broadcast_to(np.arange(n, dtype=np.float32)[None, None, :], (n, n, n))  # value = x index
    c = np.array([40.0, 41.0, 39.0])
    img = sample_volume_plane(vol, c, np.eye(3), voxel_nm=voxel, fov_nm=32.0, image_size=16, periodic=False)
    a = (np.arange(16) + 0.5 - 8) * 2.0
    expected = (c[0] + a) / voxel - 0.5  # voxel i is centred at (i + 0.5) * voxel
    np.testing.assert_allclose(img, np.broadcast_to(expected, (16, 16)), atol=1e-5)


def test_sample_volume_plane_rotated_90_degrees():
    voxel, n = 2.0, 40
    # value = 10 * z index
    vol = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None] * 10, (n, n, n))
    rot = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], float)  # u = z, v = x, n = y (right-handed)
    assert np.isclose(np.linalg.det(rot), 1)
    c = np.array([40.0, 40.0, 40.0])
    img = sample_volume_plane(vol, c, rot, voxel_nm=voxel, fov_nm=32.0, image_size=16, order=1)
    a = (np.arange(16) + 0.5 - 8) * 2.0
    expected = 10 * ((c[2] + a) / voxel - 0.5)  # varies along columns only
    np.testing.assert_allclose(img, np.broadcast_to(expected, (16, 16)), atol=1e-4)
    # Nearest-neighbour sampling returns voxel values exactly.
    img0 = sample_volume_plane(vol.astype(np.int16), c, rot, voxel_nm=voxel, fov_nm=32.0, image_size=16, order=0)
    assert set(np.unique(img0)).issubset(set(np.arange(n) * 10.0))


def test_sample_volume_plane_periodic_wrap():
    n, voxel = 10, 1.0
    vol = np.zeros((n, n, n), np.float32)
    vol[:, :, 0] = 1.0  # the x = 0 layer
    # A plane normal to x at x = 0.5 - 1 (i.e. 9.5 wrapped) samples the layer at x index -1 == 9 -> 0.
    # At x = 0.5 it samples layer 0 -> 1; at x = 10.5 (wrapped) also 1.
    rot = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], float)  # u = y, v = z, n = x
    for x, value in ((0.5, 1.0), (10.5, 1.0), (9.5, 0.0)):
        img = sample_volume_plane(vol, (x, 5, 5), rot, voxel_nm=voxel, fov_nm=8.0, image_size=8)
        np.testing.assert_allclose(img, value, atol=1e-6)


def test_voxelize_matches_structure():
    s = generate_structure("Rnd", box_nm=200.0, seed=2)
    vol = voxelize(s, 2.0, supersample=2)
    assert vol.shape == (100, 100, 100) and vol.dtype == np.float32
    assert vol.min() >= 0 and vol.max() <= 1
    assert vol.mean() == pytest.approx(s.volume_fraction, rel=0.02)
    # Axis convention: a single sphere lands at volume[z, y, x].
    one = _one_sphere((30, 110, 150), r=10.0, box=200.0)
    v1 = voxelize(one, 2.0)
    assert v1[75, 55, 15] == 1.0 and v1[15, 55, 75] == 0.0


def test_voxelized_slices_agree_with_rendered_slices():
    s = generate_structure("M-SBR", box_nm=200.0, seed=2)
    vol = voxelize(s, 2.0)
    c, rot = np.array([37.0, 120.0, 81.0]), Rotation.from_euler("xyz", [20, 35, 50], degrees=True).as_matrix()
    a = render_plane(s, c, rot, fov_nm=150.0, image_size=64) > 0.5
    b = sample_volume_plane(vol, c, rot, voxel_nm=2.0, fov_nm=150.0, image_size=64) > 0.5
    assert (a & b).sum() / (a | b).sum() > 0.8
    # slice_volume draws the same planes as slice_structure for the same seed.
    x = slice_structure(s, 8, fov_nm=150.0, image_size=64, seed=5) > 0.5
    y = slice_volume(vol, 8, voxel_nm=2.0, fov_nm=150.0, image_size=64, seed=5)
    assert y.shape == (8, 64, 64) and y.dtype == np.float32
    iou = [(xi & yi).sum() / max((xi | yi).sum(), 1) for xi, yi in zip(x, y > 0.5)]
    assert min(iou) > 0.8


def test_slice_volume_options():
    rng = np.random.default_rng(0)
    vol = rng.random((20, 30, 40)).astype(np.float64)
    a = slice_volume(vol, 5, voxel_nm=5.0, fov_nm=60.0, image_size=16, seed=1)
    b = slice_volume(vol, 5, voxel_nm=5.0, fov_nm=60.0, image_size=16, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (5, 16, 16)
    c = slice_volume(vol, 5, voxel_nm=5.0, fov_nm=60.0, image_size=16, seed=1, order=3, periodic=False)
    assert np.isfinite(c).all() and not np.array_equal(a, c)
    # order > 1 with one prefilter equals the per-plane path.
    centers, rotations = filler._sample_planes(5, np.array([200.0, 150.0, 100.0]), 1)
    d = sample_volume_plane(vol, centers[2], rotations[2], voxel_nm=5.0, fov_nm=60.0, image_size=16, order=3)
    e = slice_volume(vol, 5, voxel_nm=5.0, fov_nm=60.0, image_size=16, seed=1, order=3)
    np.testing.assert_allclose(e[2], d, atol=1e-5)


# ---------------------------------------------------------------------------
# Imaging effects
# ---------------------------------------------------------------------------


def test_apply_imaging_blur_and_noise():
    s = generate_structure("Rnd", box_nm=300.0, seed=1)
    imgs = slice_structure(s, 6, fov_nm=100.0, image_size=48, seed=2)
    blurred = apply_imaging(imgs, blur_sigma_px=1.5)
    grad = lambda x: np.abs(np.diff(x, axis=-1)).max()  # noqa: E731
    assert grad(blurred) < 0.7 * grad(imgs)
    assert blurred.mean() == pytest.approx(imgs.mean(), rel=0.02)  # blur keeps the mean
    noisy = apply_imaging(imgs, noise_std=0.1, seed=3, clip=False)
    assert np.std(noisy - imgs) == pytest.approx(0.1, rel=0.05)
    np.testing.assert_array_equal(noisy, apply_imaging(imgs, noise_std=0.1, seed=3, clip=False))
    assert not np.array_equal(noisy, apply_imaging(imgs, noise_std=0.1, seed=4, clip=False))
    clipped = apply_imaging(imgs[..., None], noise_std=0.3, blur_sigma_px=1.0, seed=3)
    assert clipped.shape == imgs.shape + (1,) and clipped.dtype == np.float32
    assert clipped.min() >= 0 and clipped.max() <= 1
    np.testing.assert_array_equal(apply_imaging(imgs), imgs)


# ---------------------------------------------------------------------------
# Data sets, cache, splits, tf.data
# ---------------------------------------------------------------------------


def test_make_dataset_shapes_labels_and_determinism(tmp_path):
    x, y = make_dataset(6, seed=1, cache_dir=tmp_path, **FAST)
    assert x.shape == (18, 32, 32, 1) and x.dtype == np.float32
    assert y.shape == (18,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [6, 6, 6]
    assert x.min() >= 0 and x.max() <= 1
    assert not np.array_equal(y, np.repeat([0, 1, 2], 6))  # shuffled
    x2, y2 = make_dataset(6, seed=1, use_cache=False, **FAST)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = make_dataset(6, seed=2, use_cache=False, **FAST)
    assert not np.array_equal(x, x3)


def test_make_dataset_cache(tmp_path, monkeypatch):
    x, y = make_dataset(4, seed=0, cache_dir=tmp_path, blur_sigma_px=0.5, noise_std=0.05, **FAST)
    files = sorted(tmp_path.rglob("*.npz"))
    assert len([f for f in files if f.name.startswith("dataset-")]) == 1
    assert len([f for f in files if f.name.startswith("structure-")]) == 3
    for f in files:  # plain arrays, no pickled objects
        with np.load(f, allow_pickle=False) as data:
            for key in data.files:
                assert data[key].dtype != object
            json.loads(str(data["meta"]))

    def boom(*args, **kwargs):
        raise AssertionError("regenerated instead of loading the cache")

    monkeypatch.setattr(filler, "generate_structure", boom)
    monkeypatch.setattr(filler, "slice_structure", boom)
    x2, y2 = make_dataset(4, seed=0, cache_dir=tmp_path, blur_sigma_px=0.5, noise_std=0.05, **FAST)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    monkeypatch.undo()

    # Different parameters: new data-set file, structures reused from cache.
    monkeypatch.setattr(filler, "generate_structure", boom)
    make_dataset(4, seed=0, cache_dir=tmp_path, blur_sigma_px=0.0, **FAST)
    monkeypatch.undo()
    assert len(list(tmp_path.glob("dataset-*.npz"))) == 2

    # A corrupt cache file is regenerated, not fatal.
    for f in tmp_path.glob("dataset-*.npz"):
        f.write_bytes(b"not a zip file")
    x3, _ = make_dataset(4, seed=0, cache_dir=tmp_path, blur_sigma_px=0.5, noise_std=0.05, **FAST)
    np.testing.assert_array_equal(x, x3)


def test_make_dataset_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_GEO_CACHE", str(tmp_path))
    make_dataset(2, seed=0, **FAST)
    assert list((tmp_path / "filler").glob("dataset-*.npz"))
    before = sorted(tmp_path.rglob("*"))
    make_dataset(2, seed=9, use_cache=False, **FAST)
    assert sorted(tmp_path.rglob("*")) == before


def test_make_splits_use_independent_structures(monkeypatch, tmp_path):
    seeds = []
    real = filler.generate_structure

    def spy(kind, **kw):
        seeds.append((kind, kw["seed"]))
        return real(kind, **kw)

    monkeypatch.setattr(filler, "generate_structure", spy)
    splits = make_splits(4, 2, 3, seed=0, cache_dir=tmp_path, **FAST)
    assert list(splits) == ["train", "val", "test"]
    assert [len(splits[k][1]) for k in splits] == [12, 6, 9]
    assert splits["val"][0].shape[1:] == (32, 32, 1)
    assert len(seeds) == 9 and len({s for _, s in seeds}) == 9


def test_to_tf_dataset_batches():
    x = np.random.default_rng(0).random((10, 16, 16)).astype(np.float32)
    y = np.arange(10) % 3
    ds = to_tf_dataset(x, y, batch_size=4, shuffle=True, seed=1)
    batches = list(ds.as_numpy_iterator())
    assert [b[0].shape for b in batches] == [(4, 16, 16, 1), (4, 16, 16, 1), (2, 16, 16, 1)]
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    assert sorted(np.concatenate([b[1] for b in batches]).tolist()) == sorted(y.tolist())
    rep = to_tf_dataset(x[..., None], y, batch_size=4, shuffle=False, repeat=True)
    assert len(list(rep.take(7).as_numpy_iterator())) == 7


def test_module_does_not_import_tensorflow():
    code = "import sys, keras_geo.datasets.filler; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------


_S = _one_sphere((100, 100, 100))

BAD_CALLS = [
    ("kind", lambda: generate_structure("SBR")),
    ("volume_fraction", lambda: generate_structure("Rnd", volume_fraction=0.0)),
    ("volume_fraction", lambda: generate_structure("Rnd", volume_fraction=0.6)),
    ("radius_nm", lambda: generate_structure("Rnd", radius_nm=-1.0)),
    ("box_nm", lambda: generate_structure("Rnd", box_nm=50.0)),
    ("seed", lambda: generate_structure("Rnd", seed=-1)),
    ("Unknown parameter", lambda: generate_structure("Rnd", gap_nm=1.0)),
    ("aggregate_size", lambda: generate_structure("M-SBR", aggregate_size=(5, 2))),
    ("fractal_dimension", lambda: generate_structure("n-SBR", fractal_dimension=3.5)),
    ("gap_nm", lambda: generate_structure("M-SBR", gap_nm=-1.0)),
    ("n", lambda: slice_structure(_S, 0)),
    ("image_size", lambda: slice_structure(_S, 1, fov_nm=100.0, image_size=4)),
    ("fov_nm", lambda: slice_structure(_S, 1, fov_nm=300.0)),
    ("rotation", lambda: render_plane(_S, (0, 0, 0), np.ones((3, 3)), fov_nm=50.0, image_size=16)),
    ("center", lambda: render_plane(_S, (0, 0), np.eye(3), fov_nm=50.0, image_size=16)),
    ("structure", lambda: slice_structure(np.zeros((3, 3)), 1)),
    ("voxel_nm", lambda: voxelize(_S, 3.0)),
    ("volume", lambda: slice_volume(np.zeros((4, 4)), 1, voxel_nm=1.0, fov_nm=2.0)),
    ("fov_nm", lambda: slice_volume(np.zeros((4, 4, 4)), 1, voxel_nm=1.0, fov_nm=8.0)),
    ("order", lambda: slice_volume(np.zeros((8, 8, 8)), 1, voxel_nm=1.0, fov_nm=4.0, image_size=8, order=7)),
    ("blur_sigma_px", lambda: apply_imaging(np.zeros((8, 8)), blur_sigma_px=-1.0)),
    ("noise_std", lambda: apply_imaging(np.zeros((8, 8)), noise_std=float("nan"))),
    ("images", lambda: apply_imaging(np.zeros((2, 8, 8, 3)))),
    ("n_per_class", lambda: make_dataset(0, use_cache=False)),
    ("fov_nm", lambda: make_dataset(1, fov_nm=500.0, box_nm=300.0, use_cache=False)),
    ("structure_params", lambda: make_dataset(1, structure_params={"SBR": {}}, use_cache=False)),
    ("Unknown parameter", lambda: make_dataset(1, structure_params={"Rnd": {"x": 1}}, use_cache=False)),
    ("n_val", lambda: make_splits(1, 0, 1)),
    ("batch_size", lambda: to_tf_dataset(np.zeros((2, 8, 8)), np.zeros(2), batch_size=0)),
    ("centers", lambda: Structure(centers=np.zeros((2, 2)), radii=np.ones(2), box_nm=10.0, kind="Rnd")),
    ("kind", lambda: Structure(centers=np.zeros((1, 3)), radii=np.ones(1), box_nm=10.0, kind="x")),
]


@pytest.mark.parametrize("name, call", BAD_CALLS, ids=[f"{i}-{n}" for i, (n, _) in enumerate(BAD_CALLS)])
def test_bad_inputs_raise_value_error_naming_the_parameter(name, call):
    with pytest.raises(ValueError, match=name) as info:
        call()
    msg = str(info.value)
    if name not in ("volume", "structure_params", "images", "n_val") and "Unknown" not in name:
        assert "Received" in msg


def test_unknown_kind_echoes_the_value():
    with pytest.raises(ValueError, match=r"Received: kind='SBR'"):
        generate_structure("SBR")


def test_structure_repr_and_immutability():
    s = generate_structure("Rnd", box_nm=200.0, seed=0)
    assert "Rnd" in repr(s) and f"{s.volume_fraction:.4f}" in repr(s)
    with pytest.raises(ValueError):
        s.centers[0, 0] = 1.0  # read-only arrays
    assert hash(s) == hash(s)


def test_cache_is_not_pickle(tmp_path):
    # Guard against regressions to np.save of objects: every cached file
    # must load with allow_pickle=False.
    make_dataset(2, seed=3, cache_dir=tmp_path, **FAST)
    for f in Path(tmp_path).rglob("*.npz"):
        np.load(f, allow_pickle=False).close()


def test_more_slices_than_slices_per_structure_use_fresh_structures(tmp_path, monkeypatch):
    seeds = []
    real = filler._cached_structure

    def counting(kind, **kwargs):
        seeds.append((kind, kwargs["seed"]))
        return real(kind, **kwargs)

    monkeypatch.setattr(filler, "_cached_structure", counting)
    x, y = filler.make_dataset(
        5, fov_nm=100.0, box_nm=200.0, image_size=16, seed=3, cache_dir=tmp_path, slices_per_structure=2
    )
    assert x.shape == (15, 16, 16, 1) and np.bincount(y).tolist() == [5, 5, 5]
    # ceil(5 / 2) = 3 independent structures per class, each with its own seed.
    assert [kind for kind, _ in seeds] == [k for k in filler.CLASSES for _ in range(3)]
    assert len({seed for _, seed in seeds}) == 9
    with pytest.raises(ValueError, match="slices_per_structure"):
        filler.make_dataset(5, fov_nm=100.0, box_nm=200.0, image_size=16, cache_dir=tmp_path, slices_per_structure=0)
