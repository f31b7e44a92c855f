"""Tests for the FIB-SEM-like stacks of keras_geo.datasets.filler (fibsem_volume, apply_fibsem, the
``filler_fibsem`` data set, and a user's own stack). Volumes are 64^3 or smaller: a few seconds in all."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy import ndimage

from keras_geo import datasets
from keras_geo._settings import SettingError
from keras_geo.datasets.filler import (
    CLASSES,
    Structure,
    apply_fibsem,
    estimate_fibsem_gib,
    fibsem_volume,
    generate_structure,
    load_stack,
    make_fibsem_dataset,
    make_fibsem_splits,
    slice_stack,
    slice_volume,
    voxelize,
)

# Every effect off: apply_fibsem is then the identity (and fibsem_volume the grey-level map).
OFF = dict(slice_blur_nm=0.0, curtain_std=0.0, drift_std=0.0, charging_std=0.0, shot_dose=None, noise_std=0.0)
# make_fibsem_dataset arguments that keep data-set tests fast (32^3 stacks).
FAST = dict(fov_nm=100.0, box_nm=128.0, voxel_nm=4.0, image_size=16, slices_per_structure=4)


@pytest.fixture(scope="module")
def structure() -> Structure:
    return generate_structure("Rnd", box_nm=128.0, seed=3)


@pytest.fixture(scope="module")
def stack(structure) -> np.ndarray:
    return fibsem_volume(structure, voxel_nm=2.0, seed=5)


def _flat(value: float = 0.5, shape: tuple[int, int, int] = (64, 64, 64)) -> np.ndarray:
    return np.full(shape, value, np.float32)


def _one_line(err: pytest.ExceptionInfo, name: str) -> None:
    message = str(err.value)
    assert "\n" not in message and f"`{name}`" in message, message


# ---------------------------------------------------------------------------- the volume


def test_volume_is_float32_in_unit_range_and_deterministic(structure, stack):
    assert stack.shape == (64, 64, 64) and stack.dtype == np.float32
    assert stack.min() >= 0.0 and stack.max() <= 1.0
    again = fibsem_volume(structure, voxel_nm=2.0, seed=5)
    assert again.tobytes() == stack.tobytes()
    other = fibsem_volume(structure, voxel_nm=2.0, seed=6)
    assert not np.array_equal(other, stack)


def test_effects_off_is_the_voxel_occupancy_mapped_to_the_two_grey_levels(structure):
    occupancy = voxelize(structure, 2.0)
    vol = fibsem_volume(structure, voxel_nm=2.0, filler_level=0.9, matrix_level=0.2, **OFF)
    np.testing.assert_array_equal(vol, np.float32(0.2) + np.float32(0.7) * occupancy)
    plain = fibsem_volume(structure, voxel_nm=4.0, filler_level=1.0, matrix_level=0.0, **OFF)
    np.testing.assert_array_equal(plain, voxelize(structure, 4.0))
    assert apply_fibsem(occupancy, voxel_nm=2.0, **OFF).tobytes() == occupancy.tobytes()


def test_filler_is_brighter_than_rubber_with_all_effects_on(structure, stack):
    filler = voxelize(structure, 2.0) > 0.5
    assert stack[filler].mean() > stack[~filler].mean() + 0.3


def test_slice_blur_averages_along_the_milling_axis_only(structure):
    sharp = fibsem_volume(structure, voxel_nm=2.0, **OFF)
    blurred = fibsem_volume(structure, voxel_nm=2.0, **{**OFF, "slice_blur_nm": 4.0})
    # A Gaussian of 4 nm (2 voxels) along z with wrapped borders: the mean stays, z gradients shrink.
    np.testing.assert_allclose(blurred, ndimage.gaussian_filter1d(sharp, 2.0, axis=0, mode="wrap"), atol=1e-6, rtol=0)
    assert abs(float(blurred.mean()) - float(sharp.mean())) < 1e-5

    def energy(v, axis):
        return float(np.mean(np.diff(v, axis=axis) ** 2))

    assert energy(blurred, 0) < 0.35 * energy(sharp, 0)
    assert energy(blurred, 0) < 0.5 * energy(blurred, 2)  # within a slice the detail stays sharper


def test_curtaining_is_streaks_down_the_columns_varying_along_x():
    vol = apply_fibsem(_flat(), voxel_nm=2.0, **{**OFF, "curtain_std": 0.05}, clip=False)
    offset = vol - 0.5
    assert float(np.abs(np.diff(offset, axis=1)).max()) < 1e-6  # the same all the way down y
    assert float(offset.std()) == pytest.approx(0.05, rel=1e-3)
    column_means = offset.mean(axis=1)  # (z, x): varies across columns, persists over slices
    assert float(np.var(column_means, axis=1).mean()) > 0.3 * 0.05**2
    corr_z = np.corrcoef(column_means[:-1].ravel(), column_means[1:].ravel())[0, 1]
    corr_x = np.corrcoef(column_means[:, :-1].ravel(), column_means[:, 1:].ravel())[0, 1]
    assert corr_z > 0.95 and corr_z > corr_x  # curtain_length_nm (200) >> curtain_width_nm (8)


def test_curtaining_raises_the_variance_of_column_means_of_a_structure(structure):
    plain = fibsem_volume(structure, voxel_nm=2.0, **OFF)
    curtained = fibsem_volume(structure, voxel_nm=2.0, **{**OFF, "curtain_std": 0.1})
    assert np.var(curtained.mean(axis=1), axis=1).mean() > 3 * np.var(plain.mean(axis=1), axis=1).mean()


def test_drift_shifts_whole_slices_smoothly():
    vol = apply_fibsem(_flat(), voxel_nm=2.0, **{**OFF, "drift_std": 0.04}, clip=False)
    offset = vol - 0.5
    slice_means = offset.mean(axis=(1, 2))
    assert float(np.abs(offset - slice_means[:, None, None]).max()) < 1e-6  # each slice uniform
    assert float(slice_means.std()) == pytest.approx(0.04, rel=1e-3)
    assert float(np.abs(np.diff(slice_means)).max()) < 0.2 * 0.04 * 4  # slow: smooth over 250 nm
    steps = np.abs(np.diff(np.r_[slice_means, slice_means[0]]))  # periodic: no step at the wrap
    assert steps[-1] <= steps.max()


def test_charging_varies_along_the_rows_of_a_slice():
    vol = apply_fibsem(_flat(), voxel_nm=2.0, **{**OFF, "charging_std": 0.04}, clip=False)
    offset = vol - 0.5
    assert float(np.abs(np.diff(offset, axis=2)).max()) < 1e-6  # the same along x
    assert float(offset.std()) == pytest.approx(0.04, rel=1e-3)
    assert float(offset[10].std()) > 0.0  # within one slice, rows differ


@pytest.mark.parametrize(
    "settings, expected",
    [
        (dict(noise_std=0.05), 0.05),
        (dict(shot_dose=50.0), (0.5 / 50.0) ** 0.5),
        (dict(shot_dose=50.0, noise_std=0.05), (0.5 / 50.0 + 0.05**2) ** 0.5),
    ],
)
def test_noise_has_the_documented_standard_deviation(settings, expected):
    vol = apply_fibsem(_flat(), voxel_nm=2.0, **{**OFF, **settings}, clip=False)
    assert float(vol.mean()) == pytest.approx(0.5, abs=1e-3)
    assert float(vol.std()) == pytest.approx(expected, rel=0.01)
    neighbours = np.corrcoef(vol[:, :, :-1].ravel(), vol[:, :, 1:].ravel())[0, 1]
    assert abs(neighbours) < 0.01  # independent per voxel


def test_shot_noise_grows_with_the_grey_level():
    dark = apply_fibsem(_flat(0.2), voxel_nm=2.0, **{**OFF, "shot_dose": 40.0}, clip=False)
    bright = apply_fibsem(_flat(0.8), voxel_nm=2.0, **{**OFF, "shot_dose": 40.0}, clip=False)
    assert float(bright.std()) / float(dark.std()) == pytest.approx(2.0, rel=0.02)


def test_effects_use_independent_streams(structure):
    """Switching one effect on does not change another's random field."""
    a = apply_fibsem(_flat(), voxel_nm=2.0, **{**OFF, "drift_std": 0.03}, clip=False)
    b = apply_fibsem(_flat(), voxel_nm=2.0, **{**OFF, "drift_std": 0.03, "curtain_std": 0.03}, clip=False)
    c = apply_fibsem(_flat(), voxel_nm=2.0, **{**OFF, "curtain_std": 0.03}, clip=False)
    np.testing.assert_allclose(b - 0.5, (a - 0.5) + (c - 0.5), atol=1e-6)


def test_memory_estimate_matches_the_documented_figures():
    assert estimate_fibsem_gib(1000.0, 2.0) == pytest.approx(1.30, abs=0.01)
    assert estimate_fibsem_gib(1000.0, 4.0) == pytest.approx(0.38, abs=0.01)


# ---------------------------------------------------------------------------- the data set


def test_data_set_layout_labels_balance_and_determinism():
    x, y = make_fibsem_dataset(6, use_cache=False, seed=1, **FAST)
    assert x.shape == (18, 16, 16, 1) and x.dtype == np.float32
    assert y.dtype == np.int64 and np.bincount(y, minlength=3).tolist() == [6, 6, 6]
    assert x.min() >= 0.0 and x.max() <= 1.0 and np.isfinite(x).all()
    x2, y2 = make_fibsem_dataset(6, use_cache=False, seed=1, **FAST)
    assert x2.tobytes() == x.tobytes() and np.array_equal(y, y2)
    x3, _ = make_fibsem_dataset(6, use_cache=False, seed=2, **FAST)
    assert not np.array_equal(x3, x)


def test_data_set_is_cached_and_registered(tmp_path):
    x, y = make_fibsem_dataset(2, cache_dir=tmp_path, **FAST)
    files = sorted(p.name for p in tmp_path.glob("dataset-fibsem-*.npz"))
    assert len(files) == 1 and (tmp_path / "structures").is_dir()
    x2, y2 = make_fibsem_dataset(2, cache_dir=tmp_path, **FAST)
    assert x2.tobytes() == x.tobytes() and np.array_equal(y, y2)

    loaded = datasets.load("filler_fibsem", n_train=2, n_val=1, n_test=1, **FAST)
    direct = make_fibsem_splits(2, 1, 1, **FAST)
    assert loaded.class_names == CLASSES and loaded.task == "classification"
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(loaded[split][0], direct[split][0])
        np.testing.assert_array_equal(loaded[split][1], direct[split][1])
    defaults = datasets.validate_settings("filler_fibsem", {})
    assert defaults["voxel_nm"] == 2.0 and defaults["fov_nm"] == 1000.0 and defaults["shot_dose"] == 40.0


# ---------------------------------------------------------------------------- a user's stack


def test_npy_and_multipage_tiff_stacks_round_trip(tmp_path, stack):
    tifffile = pytest.importorskip("tifffile")
    raw = np.round(stack * 60000).astype(np.uint16)  # as a 16-bit detector would store it
    np.save(tmp_path / "stack.npy", raw)
    tifffile.imwrite(tmp_path / "stack.tif", raw)  # one page per slice
    assert len(tifffile.TiffFile(tmp_path / "stack.tif").pages) == 64
    expected = (raw - float(raw.min())) / float(raw.max() - raw.min())
    for name in ("stack.npy", "stack.tif"):
        vol = load_stack(tmp_path / name)
        assert vol.shape == (64, 64, 64) and vol.dtype == np.float32
        np.testing.assert_allclose(vol, expected, atol=1e-6)
        np.testing.assert_array_equal(load_stack(str(tmp_path / name), normalize=False), raw.astype(np.float32))
    images = slice_stack(tmp_path / "stack.tif", 5, voxel_nm=2.0, fov_nm=64.0, image_size=16, seed=4)
    direct = slice_volume(
        expected.astype(np.float32), 5, voxel_nm=2.0, fov_nm=64.0, image_size=16, seed=4, periodic=False
    )
    np.testing.assert_allclose(images, direct, atol=1e-6)
    assert images.shape == (5, 16, 16)


def test_without_tifffile_opencv_reads_the_pages(tmp_path, monkeypatch, stack):
    tifffile = pytest.importorskip("tifffile")
    raw = np.round(stack[:8] * 60000).astype(np.uint16)
    tifffile.imwrite(tmp_path / "stack.tiff", raw)
    monkeypatch.setitem(sys.modules, "tifffile", None)  # import tifffile now raises ImportError
    np.testing.assert_array_equal(load_stack(tmp_path / "stack.tiff", normalize=False), raw.astype(np.float32))
    (tmp_path / "broken.tif").write_bytes(b"II*\x00 but nothing else")
    with pytest.raises(ValueError) as err:
        load_stack(tmp_path / "broken.tif")
    _one_line(err, "source")


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "volume, name",
    [
        (np.zeros((64, 64), np.float32), "volume"),
        (np.zeros((4, 64, 64, 3), np.float32), "volume"),
        (np.where(np.arange(8**3).reshape(8, 8, 8) == 7, np.nan, 0.5), "volume"),
        (np.where(np.arange(8**3).reshape(8, 8, 8) == 7, np.inf, 0.5), "volume"),
        (np.full((8, 8, 8), "a"), "volume"),
    ],
)
def test_bad_volumes_are_refused_in_one_line(volume, name):
    for call in (
        lambda: load_stack(volume),
        lambda: slice_stack(volume, 2, voxel_nm=2.0, fov_nm=10.0),
        lambda: apply_fibsem(volume, voxel_nm=2.0),
    ):
        with pytest.raises(ValueError) as err:
            call()
        _one_line(err, name)


def test_a_stack_smaller_than_the_field_of_view_is_refused():
    with pytest.raises(ValueError) as err:
        slice_stack(np.zeros((20, 64, 64), np.float32), 2, voxel_nm=2.0, fov_nm=64.0)
    _one_line(err, "fov_nm")
    assert "40 x 128 x 128 nm" in str(err.value)


def test_a_voxel_too_fine_for_the_memory_limit_is_refused_before_allocating():
    big = Structure(centers=np.array([[500.0, 500.0, 500.0]]), radii=np.array([10.0]), box_nm=1000.0, kind="Rnd")
    with pytest.raises(ValueError) as err:
        fibsem_volume(big, voxel_nm=0.5)  # 2000^3 voxels: ~67 GiB
    _one_line(err, "voxel_nm")
    assert "67.3 GiB" in str(err.value) and "max_memory_gib=4" in str(err.value)
    with pytest.raises(ValueError) as err:
        fibsem_volume(big, voxel_nm=2.0, max_memory_gib=1.0)  # the 1.3 GiB estimate is over the limit
    _one_line(err, "voxel_nm")
    with pytest.raises(ValueError) as err:  # the data set refuses it before generating any structure
        make_fibsem_dataset(1, fov_nm=1000.0, voxel_nm=0.5, use_cache=False)
    _one_line(err, "voxel_nm")
    with pytest.raises(ValueError) as err:
        fibsem_volume(big, voxel_nm=3.0)  # does not divide the box
    _one_line(err, "voxel_nm")


def test_a_stack_over_the_available_memory_is_refused_whatever_the_limit(structure, monkeypatch):
    from keras_geo.datasets.filler import _fibsem

    monkeypatch.setattr(_fibsem, "_available_gib", lambda: 0.2)
    with pytest.raises(ValueError) as err:
        fibsem_volume(structure, voxel_nm=4.0, max_memory_gib=100.0)  # estimate 0.25 GiB
    _one_line(err, "voxel_nm")
    assert "0.2 GiB this machine has available" in str(err.value)
    monkeypatch.undo()
    assert _fibsem._available_gib() > 0.5  # the machine's own figure is read


@pytest.mark.parametrize(
    "name, value",
    [
        ("slice_blur_nm", -1.0),
        ("curtain_std", -0.1),
        ("curtain_width_nm", 0.0),
        ("curtain_length_nm", "200"),
        ("drift_std", float("nan")),
        ("charging_std", True),
        ("drift_length_nm", -5.0),
        ("shot_dose", 0.0),
        ("noise_std", [0.1]),
        ("seed", -1),
        ("clip", "yes"),
        ("voxel_nm", 0.0),
    ],
)
def test_bad_effect_settings_are_refused_in_one_line(structure, name, value):
    with pytest.raises(ValueError) as err:
        apply_fibsem(_flat(0.5, (8, 8, 8)), **{"voxel_nm": 2.0, name: value})
    _one_line(err, name)
    with pytest.raises(ValueError) as err:
        fibsem_volume(structure, **{"voxel_nm": 4.0, name: value})
    _one_line(err, name)


@pytest.mark.parametrize("name, value", [("filler_level", "bright"), ("max_memory_gib", 0.0)])
def test_bad_volume_settings_are_refused_in_one_line(structure, name, value):
    with pytest.raises(ValueError) as err:
        fibsem_volume(structure, **{"voxel_nm": 4.0, name: value})
    _one_line(err, name)


def test_bad_data_set_settings_are_refused(tmp_path):
    with pytest.raises(ValueError) as err:
        make_fibsem_dataset(1, **{**FAST, "curtain_std": -1.0}, use_cache=False)
    _one_line(err, "curtain_std")
    with pytest.raises(ValueError) as err:
        make_fibsem_dataset(1, **{**FAST, "fov_nm": 200.0}, use_cache=False)
    _one_line(err, "fov_nm")
    with pytest.raises(SettingError, match=r"^dataset\.noise_std: must be >= 0"):
        datasets.validate_settings("filler_fibsem", {"noise_std": -0.1})


def test_missing_unreadable_and_unknown_files_are_refused(tmp_path):
    (tmp_path / "broken.tif").write_bytes(b"not a tiff at all")
    (tmp_path / "broken.npy").write_bytes(b"not an npy file")
    (tmp_path / "stack.png").write_bytes(b"")
    for path in ("missing.npy", "broken.tif", "broken.npy", "stack.png"):
        with pytest.raises(ValueError) as err:
            load_stack(tmp_path / path)
        _one_line(err, "source")
        assert path in str(err.value)
    with pytest.raises(ValueError) as err:
        slice_stack(tmp_path / "missing.tif", 1, voxel_nm=2.0, fov_nm=10.0)
    _one_line(err, "source")
