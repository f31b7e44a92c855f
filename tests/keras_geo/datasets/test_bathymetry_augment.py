"""The two-stage augmentation of bathymetry tiles: stage-1 transforms, statistics, stage-2 composition, the loader."""

from __future__ import annotations

import numpy as np
import pytest

from keras_geo import datasets
from keras_geo.datasets import bathymetry as bathy

SCALE, LR_PIXEL = 4, 200.0  # 50 m tiles, block-averaged by 4


def _terrain(region: str, seeds) -> np.ndarray:
    return np.stack([bathy.synthesize_terrain(32, region=region, seed=s) for s in seeds])


@pytest.fixture(scope="module")
def source() -> np.ndarray:
    return _terrain("source", range(160))


@pytest.fixture(scope="module")
def target_lr() -> np.ndarray:
    """What the target region's coarse survey holds: block averages only."""
    return bathy.block_average(_terrain("target", range(1000, 1080)), SCALE)


# --- stage 1 -----------------------------------------------------------------------------------------------------


def test_transforms_are_seeded(source):
    tiles = bathy.transform_tiles(source[:20], seed=3)
    assert tiles.shape == (20, 32, 32) and tiles.dtype == np.float32
    np.testing.assert_array_equal(tiles, bathy.transform_tiles(source[:20], seed=3))
    assert not np.array_equal(tiles, bathy.transform_tiles(source[:20], seed=4))


def test_dihedral_transforms_keep_the_elevations_and_the_statistics(source):
    tiles = bathy.transform_tiles(source[:24], seed=0, depth_scale=(1, 1), slope_stretch=(1, 1))
    np.testing.assert_allclose(np.sort(tiles.reshape(24, -1)), np.sort(source[:24].reshape(24, -1)), rtol=1e-6)
    moved = [not np.array_equal(a, b) for a, b in zip(tiles, source[:24])]
    assert sum(moved) >= 18  # 7 of the 8 symmetries move a tile
    for before, after in zip(
        bathy.slope_roughness(bathy.block_average(source[:24], SCALE), LR_PIXEL, per_tile=True),
        bathy.slope_roughness(bathy.block_average(tiles, SCALE), LR_PIXEL, per_tile=True),
    ):
        np.testing.assert_allclose(after, before, rtol=1e-4)
    same = bathy.transform_tiles(source[:4], rotate=False, flip=False, depth_scale=(1, 1), slope_stretch=(1, 1))
    np.testing.assert_allclose(same, source[:4], rtol=1e-6)


def test_slope_stretch_multiplies_slopes_and_depth_scale_the_mean_depth(source):
    plain = dict(rotate=False, flip=False)
    stretched = bathy.transform_tiles(source[:8], depth_scale=(1, 1), slope_stretch=(2, 2), **plain)
    slope, rough = bathy.slope_roughness(source[:8], 50.0)
    slope2, rough2 = bathy.slope_roughness(stretched, 50.0)
    np.testing.assert_allclose(np.tan(np.radians(slope2)), 2 * np.tan(np.radians(slope)), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(rough2, 2 * rough, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(stretched.mean(axis=(1, 2)), source[:8].mean(axis=(1, 2)), rtol=1e-5)
    shallower = bathy.transform_tiles(source[:8], depth_scale=(0.5, 0.5), slope_stretch=(1, 1), **plain)
    mean = source[:8].mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(shallower, 0.5 * mean + (source[:8] - mean), atol=0.01)


# --- statistics --------------------------------------------------------------------------------------------------


def test_a_plane_has_its_slope_and_no_roughness_to_the_edge():
    rows, cols = np.mgrid[0:6, 0:7]
    plane = 100.0 * rows + 0.0 * cols  # 100 m per 100 m pixel: 45 degrees
    slope, rough = bathy.slope_roughness(plane, 100.0)
    np.testing.assert_allclose(slope, 45.0)
    np.testing.assert_allclose(rough, 0.0, atol=1e-9)
    bump = np.zeros((5, 5))
    bump[2, 2] = 9.0
    _, rough = bathy.slope_roughness(bump, 1.0)
    assert rough[2, 2] == pytest.approx(8.0)  # 9 minus the 3 x 3 mean 1


def test_histograms_are_normalised_and_the_distance_is_jensen_shannon(target_lr):
    h = bathy.histograms(target_lr, LR_PIXEL)
    assert h["joint"].shape == (len(bathy.SLOPE_EDGES_DEG) - 1, len(bathy.ROUGHNESS_EDGES_M) - 1)
    for value in h.values():
        assert value.sum() == pytest.approx(1.0)
    assert bathy.histogram_distance(h["slope"], h["slope"]) == 0.0
    assert bathy.histogram_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    assert bathy.histogram_distance([3, 1], [1, 1]) == pytest.approx(bathy.histogram_distance([1, 1], [3, 1]))


# --- stage 2 -----------------------------------------------------------------------------------------------------


def test_two_stage_tiles_resemble_a_held_out_target_better_than_the_source(source, target_lr):
    tiles, info = bathy.two_stage_augment(source, target_lr, scale=SCALE, n_out=40, seed=0)
    assert tiles.shape == (40, 32, 32) and tiles.dtype == np.float32 and np.isfinite(tiles).all()
    np.testing.assert_array_equal(tiles, bathy.two_stage_augment(source, target_lr, scale=SCALE, n_out=40, seed=0)[0])
    # Measured against target grids the augmentation never saw, at the low resolution.
    held_out = bathy.block_average(_terrain("target", range(2000, 2080)), SCALE)

    def distance(hr):
        return bathy.histogram_distances(bathy.block_average(hr, SCALE), held_out, LR_PIXEL)

    before, stage1, after = distance(source[:40]), distance(bathy.transform_tiles(source[:40])), distance(tiles)
    assert after["roughness"] < 0.2 * before["roughness"] and after["roughness"] < 0.2 * stage1["roughness"]
    assert after["joint"] < 0.5 * before["joint"] and after["joint"] < 0.5 * stage1["joint"]
    assert after["slope"] < before["slope"]
    d = info["distance"]
    assert d["selected"]["joint"] < d["pool"]["joint"] < d["source"]["joint"]
    assert info["n_pool"] == 320 and info["n_composed"] == 160 and info["n_target_grids"] == 80
    assert 0 < info["coverage"] <= 1 and info["slope_stretch"] == [0.5, 2.0]


def test_a_bin_short_of_tiles_repeats_them_under_other_symmetries(source, target_lr):
    tiles, info = bathy.compose_tiles(source[:1], target_lr, scale=SCALE, n_out=9, compose_ratio=0)
    assert info["repeats"] == 8 and info["n_pool"] == 1
    assert len({t.tobytes() for t in tiles}) == 8  # the 8 symmetries of the square, then it recurs
    assert all(np.array_equal(np.sort(t.ravel()), np.sort(source[0].ravel())) for t in tiles)
    tiles, info = bathy.compose_tiles(source[:10], target_lr, scale=SCALE, n_out=30, compose_ratio=0, seed=1)
    assert info["repeats"] >= 20 and len({t.tobytes() for t in tiles}) > 20


def test_one_survey_grid_is_cut_into_windows_without_no_data(source, target_lr):
    survey = np.block([[target_lr[0], target_lr[1], target_lr[2]], [target_lr[3], target_lr[4], target_lr[5]]])
    survey = np.pad(survey, ((0, 3), (0, 5)))[:, :]  # a ragged edge: dropped
    survey[9, 20] = np.nan  # no data in the last window of the second row
    _, info = bathy.compose_tiles(source[:20], survey, scale=SCALE, n_out=5)
    assert info["n_target_grids"] == 5 and info["n_target_grids_dropped"] == 1


# --- the loader --------------------------------------------------------------------------------------------------

SMALL = dict(n_train=8, n_val=3, n_test=4, tile=32, seed=2, augment_target_grids=20)


@pytest.mark.parametrize("augment", ["stage1", "two_stage"])
def test_the_loader_augments_the_training_split_only(augment):
    plain = datasets.load("bathymetry", **SMALL)
    data = datasets.load("bathymetry", **SMALL, augment=augment)
    assert data.sizes() == plain.sizes() == {"train": 8, "val": 3, "test": 4}
    assert not np.array_equal(data["train"][1], plain["train"][1])
    for split in ("val", "test"):
        np.testing.assert_array_equal(data[split][1], plain[split][1])
    info = data.info["augment"]
    assert info["mode"] == augment and info["target_region"] == "target" and info["n_target_grids"] == 20
    assert set(info["distance"]) >= {"source", "stage1"}
    assert plain.info["augment"] == {"mode": "none"}
    np.testing.assert_array_equal(datasets.load("bathymetry", **SMALL, augment=augment)["train"][1], data["train"][1])
    if augment == "two_stage":
        assert info["augment_pool"] == 4 and info["n_source"] == 32
        assert info["distance"]["selected"]["joint"] < info["distance"]["source"]["joint"]


# --- bad input ---------------------------------------------------------------------------------------------------

_TILES = np.zeros((3, 16, 16), np.float32)
_LR = np.zeros((2, 4, 4), np.float32)


def _nan_tiles():
    tiles = _TILES.copy()
    tiles[1, 2, 3] = np.nan
    return tiles


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: bathy.transform_tiles(_TILES, depth_scale=(2, 1)), r"`depth_scale` must be a pair \(lo, hi\) with"),
        (lambda: bathy.transform_tiles(_TILES, slope_stretch=(0, 1)), r"Received: slope_stretch=\(0, 1\)"),
        (lambda: bathy.transform_tiles(_TILES, slope_stretch=3), r"`slope_stretch` must be a pair"),
        (lambda: bathy.transform_tiles(_nan_tiles()), r"`tiles` must be finite. Received: 1 of 3 tiles"),
        (lambda: bathy.transform_tiles(np.zeros((0, 8, 8))), r"`tiles` must hold at least one tile"),
        (lambda: bathy.transform_tiles(np.zeros((2, 8, 12))), r"`tiles` must be square tiles to rotate"),
        (lambda: bathy.compose_tiles(_TILES, _LR, scale=32, n_out=1), r"`scale` must not exceed the tile's size"),
        (lambda: bathy.compose_tiles(_TILES, _LR, scale=3, n_out=1), r"`scale` must divide the tile's size"),
        (lambda: bathy.compose_tiles(_TILES, _LR, scale=8, n_out=1), r"`scale` must leave low-resolution grids of"),
        (lambda: bathy.compose_tiles(_TILES, _LR, scale=4, n_out=0), r"Received: n_out=0"),
        (lambda: bathy.compose_tiles(_TILES[:1], _LR, scale=4, n_out=1), r"`candidates` must hold at least 2 tiles"),
        (lambda: bathy.compose_tiles(_TILES, np.zeros((0, 4, 4)), scale=4, n_out=1), r"`target_lr_grids` must be"),
        (lambda: bathy.compose_tiles(_TILES, np.full((4, 4), np.nan), scale=4, n_out=1), r"without no-data cells"),
        (lambda: bathy.compose_tiles(_TILES, _LR, scale=4, n_out=1, within="best"), r"Received: within='best'"),
        (lambda: bathy.compose_tiles(_TILES, _LR, scale=4, n_out=1, slope_edges=[0, 5, 5]), r"`slope_edges` must"),
        (lambda: bathy.two_stage_augment(_nan_tiles(), _LR, scale=4, n_out=1), r"`source_tiles` must be finite"),
        (lambda: bathy.two_stage_augment(np.zeros((0, 16, 16)), _LR, scale=4, n_out=1), r"`source_tiles` must hold"),
        (lambda: bathy.slope_roughness(np.zeros((2, 2)), 1.0), r"`grids` must be \(H, W\) or \(N, H, W\)"),
        (lambda: datasets.load("bathymetry", tile=8, augment="stage1"), r"`tile` must be at least 3 \* `scale`"),
    ],
)
def test_bad_input_gives_a_one_line_error_naming_the_setting(call, message):
    with pytest.raises(ValueError, match=message) as error:
        call()
    assert "\n" not in str(error.value)
