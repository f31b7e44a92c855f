"""The shipped samples (keras_geo.samples): where they are, that the project's readers load them, and that
``python -m keras_geo.samples._make`` remakes the same pixels."""

from __future__ import annotations

import numpy as np
import pytest

from keras_geo import samples
from tests import ROOT

FOLDER = ROOT / "keras_geo" / "samples"


def test_every_sample_is_a_file_or_folder_of_the_package():
    assert samples.available() == sorted(samples.SAMPLES)
    for name in samples.available():
        path = samples.path(name)
        assert path.exists() and path.is_relative_to(FOLDER), name
        assert samples.describe(name)


def test_the_samples_are_small():
    files = [p for p in FOLDER.rglob("*") if p.suffix in (".png", ".npy")]
    assert files and sum(p.stat().st_size for p in files) < 300_000


def test_an_unknown_sample_names_the_shipped_ones():
    with pytest.raises(ValueError, match="shipped: bathymetry, filler, sem, sem_clean") as error:
        samples.path("nope")
    assert "\n" not in str(error.value)


def test_the_filler_sample_is_an_image_folder_of_the_three_classes():
    from keras_geo.datasets import filler, folders

    found = folders.load_image_folder(samples.path("filler"), 32, color_mode="grayscale", strict=True)
    assert sorted(found.class_names) == sorted(filler.CLASSES)
    assert found.x.shape == (6, 32, 32, 1) and np.bincount(found.y).tolist() == [2, 2, 2]
    assert 0.02 < found.x.mean() < 0.6  # particle sections on rubber, neither empty nor full


def test_the_sem_sample_is_a_degraded_version_of_the_clean_one():
    from keras_geo import restoration
    from keras_geo.datasets import folders

    noisy, clean = samples.path("sem"), samples.path("sem_clean")
    assert restoration.image_files([noisy]) == [noisy]
    a = folders.read_image(noisy, color_mode="grayscale")
    b = folders.read_image(clean, color_mode="grayscale")
    assert a.shape == b.shape == (160, 160, 1)
    psnr = 10 * np.log10(1.0 / np.mean((a - b) ** 2))
    assert 12 < psnr < 30  # visibly degraded, still the same scene


def test_the_bathymetry_sample_is_a_coarse_grid_in_metres():
    from keras_geo.datasets.bathymetry import read_grid

    grid = read_grid(samples.path("bathymetry"))
    assert grid.depth.shape == (64, 64) and grid.depth.dtype == np.float32
    assert not grid.mask.any() and np.all(grid.depth < 0)  # seafloor, below sea level


@pytest.mark.slow
def test_the_generator_remakes_the_shipped_pixels():
    from keras_geo.datasets import folders
    from keras_geo.samples import _make

    made = _make.arrays()
    shipped = {str(p.relative_to(FOLDER)) for p in FOLDER.rglob("*") if p.suffix in (".png", ".npy")}
    assert set(made) == shipped
    for relative, array in made.items():
        path = FOLDER / relative
        if path.suffix == ".npy":
            np.testing.assert_array_equal(np.load(path, allow_pickle=False), array)
        else:
            found = folders.read_image(path, color_mode="grayscale")[..., 0]
            np.testing.assert_array_equal(np.round(found * 255).astype(np.uint8), array, err_msg=relative)
