"""Super-resolving a bathymetry grid with a model: tiling, normalisation, no-data cells, consistency."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_geo import bathymetry
from keras_geo.datasets.bathymetry import block_average, synthesize_terrain, upsample
from keras_geo.models import build_edsr


def _lr(size=96, scale=4, seed=0):
    """A synthetic low-resolution grid in metres, ``size // scale`` cells a side."""
    return block_average(synthesize_terrain(size, pixel_m=50.0, region="target", seed=seed), scale)


def _blur(input_shape=(None, None, 1)):
    """A linear 3x3 blur whose weights sum to 1: it commutes with a change of units, f(a x + b) = a f(x) + b."""
    inputs = keras.Input(shape=input_shape)
    conv = keras.layers.Conv2D(1, 3, padding="same", use_bias=False)
    model = keras.Model(inputs, conv(inputs))
    kernel = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype="float32") / 16
    conv.kernel.assign(kernel.reshape(3, 3, 1, 1))
    return model


def test_untrained_edsr_returns_the_bicubic_baseline():
    lr = _lr(96)  # 24 x 24 cells -> 96 x 96 pixels: several 32-pixel tiles
    model = build_edsr(input_shape=(32, 32, 1), blocks=1, filters=4)
    sr = bathymetry.super_resolve(model, lr, scale=4)  # tile: the model's size
    assert sr.shape == (96, 96) and sr.dtype == np.float32
    np.testing.assert_allclose(sr, upsample(lr, 4), atol=1e-3)


def test_tiled_result_equals_one_pass_for_a_fully_convolutional_model():
    lr = _lr(128, seed=1)[:, :28]  # 32 x 28 cells: a non-square grid, tiles overlapping unevenly at the edge
    up = upsample(lr, 4)
    one_pass = keras.ops.convert_to_numpy(_blur()(up[None, ..., None]))[0, ..., 0]
    sr = bathymetry.super_resolve(_blur(), lr, scale=4, tile=32, overlap=16)
    assert sr.shape == (128, 112)
    # Inside the grid's one-pixel border (where the one pass zero-pads metres, the tiles normalised units),
    # equal to float precision on elevations of thousands of metres: no seams.
    np.testing.assert_allclose(sr[1:-1, 1:-1], one_pass[1:-1, 1:-1], atol=2e-3)
    # The tiles are normalised as in training: by the mean and std of the low-resolution cells under them.
    seen = []

    def spy(batch):
        seen.append(np.asarray(batch))
        return batch

    bathymetry.super_resolve(spy, lr, scale=4, tile=32, overlap=16)
    first = seen[0][0, ..., 0]
    cells = lr[:8, :8]
    expected = (up[:32, :32] - cells.mean()) / max(cells.std(), 1.0)
    np.testing.assert_allclose(first, expected, atol=1e-4)


def test_no_data_cells_come_back_as_nan():
    lr = _lr(96)
    lr[3, 5] = np.nan
    lr[10:12, 0:3] = np.nan
    model = build_edsr(input_shape=(None, None, 1), blocks=1, filters=4)
    sr = bathymetry.super_resolve(model, lr, scale=4, tile=32, overlap=8)
    missing = np.kron(np.isnan(lr), np.ones((4, 4), dtype=bool))
    np.testing.assert_array_equal(np.isnan(sr), missing)
    masked = np.ma.masked_invalid(lr)
    np.testing.assert_array_equal(
        np.isnan(bathymetry.super_resolve(model, masked, scale=4, tile=32, overlap=8)), missing
    )
    # A masked array's masked cells count as no data even where they hold a number.
    cells = np.ma.masked_array(np.nan_to_num(lr, nan=-4000.0), mask=np.isnan(lr))
    np.testing.assert_array_equal(np.isnan(bathymetry.super_resolve(model, cells, scale=4, tile=32)), missing)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tile": 2}, "`tile` must be at least `scale` (4). Received: tile=2"),
        ({"tile": 30}, "`tile` must be a multiple of `scale` (4). Received: tile=30"),
        ({"tile": 128}, "smaller than a tile (128 pixels)"),
        ({"tile": 32, "overlap": 6}, "`overlap` must be a multiple of `scale` (4)"),
        ({"tile": 32, "overlap": 32}, "smaller than `tile` (32)"),
        ({"scale": 0}, "`scale` must be an integer >= 1. Received: scale=0"),
        ({"min_std_m": 0}, "`min_std_m` must be a number > 0"),
    ],
)
def test_bad_settings_raise_one_line_errors(kwargs, message):
    settings = {"scale": 4, **kwargs}
    with pytest.raises(ValueError) as error:
        bathymetry.super_resolve(_blur(), _lr(96), **settings)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_fixed_size_model_takes_its_own_tile_size_only():
    model = build_edsr(input_shape=(32, 32, 1), blocks=1, filters=4)
    with pytest.raises(ValueError, match=r"`tile` must be the model's input size 32x32. Received: tile=64"):
        bathymetry.super_resolve(model, _lr(96), scale=4, tile=64)
    with pytest.raises(ValueError, match="no valid cell"):
        bathymetry.super_resolve(model, np.full((8, 8), np.nan), scale=4)


def test_consistency_on_known_cases():
    lr = np.array([[0.0, 10.0], [20.0, 30.0]])
    sr = np.kron(lr, np.ones((2, 2)))
    assert bathymetry.consistency(sr, lr, 2) == 0.0
    # A 3 m offset on one of four cells: RMS over the cells sqrt(9 / 4) = 1.5 m.
    shifted = sr.copy()
    shifted[:2, :2] += 3.0
    assert bathymetry.consistency(shifted, lr, 2) == pytest.approx(1.5)
    # NaN cells (on either side) are left out.
    shifted[2, 2] = np.nan
    assert bathymetry.consistency(shifted, lr, 2) == pytest.approx(np.sqrt(9 / 3))
    with pytest.raises(ValueError, match="`sr_grid` must be `lr_grid`'s shape times `scale`"):
        bathymetry.consistency(sr, lr, 3)


def test_consistency_of_the_bicubic_baseline_is_small():
    lr = _lr(96)
    assert bathymetry.consistency(upsample(lr, 4), lr, 4) < 0.1 * lr.std()


def test_the_seam_mask_marks_the_pixels_next_to_inner_tile_edges():
    mask = bathymetry.seam_mask((8, 12), 4, width=1)
    assert mask[:, 3:5].all() and mask[:, 7:9].all() and mask[3:5, :].all()  # inner edges at 4 and 8
    assert not mask[0, 0] and not mask[0, 11] and not mask[7, 1]  # the grid's own border is no seam
    assert mask.sum() == 8 * 4 + 12 * 2 - 2 * 4  # two columns x 2, one row pair, overlaps counted once
    with pytest.raises(ValueError, match="`tile` and `width` must be integers >= 1"):
        bathymetry.seam_mask((8, 8), 0)


def test_the_maps_show_elevations_and_errors_in_metres(tmp_path):
    lr = _lr(64)
    hr = synthesize_terrain(64, pixel_m=50.0, region="target", seed=0)
    sr = upsample(lr, 4) + 1.0
    figure = bathymetry.plot_super_resolution(lr, sr, scale=4, hr=hr, path=tmp_path / "maps.png", pixel_m=50.0)
    titles = [axis.get_title() for axis in figure.axes]
    assert titles[:4] == ["low resolution", "bicubic", "super-resolved", "truth"]
    bicubic_rmse = np.sqrt(np.mean((upsample(lr, 4) - hr) ** 2))
    assert f"bicubic - truth, RMSE {bicubic_rmse:.2f} m" in titles
    labels = {axis.get_ylabel() for axis in figure.axes} | {axis.get_xlabel() for axis in figure.axes}
    assert labels >= {"elevation (m)", "error (m)", "km"}  # the two colour bars, the axes in km
    assert (tmp_path / "maps.png").stat().st_size > 20_000
    without_truth = bathymetry.plot_super_resolution(lr, sr, scale=4)
    assert len([a for a in without_truth.axes if a.get_title()]) == 3
    with pytest.raises(ValueError, match="`sr_grid` must be `lr_grid`'s shape times `scale`"):
        bathymetry.plot_super_resolution(lr, sr[:-4], scale=4)
