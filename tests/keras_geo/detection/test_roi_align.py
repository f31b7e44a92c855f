"""RoIAlign over pyramid levels, and the anchors: exact on linear maps, the FPN level rule, gradients, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_geo.detection.anchors import anchor_grid, anchors, feature_sizes
from keras_geo.detection.roi_align import RoIAlign, assign_levels


def ramp(rows, cols, channels=2, batch=1):
    """f(y, x) = 2 x + 3 y + 1 (channel 0) and its negative (channel 1): bilinear reading is exact."""
    y, x = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    value = 2.0 * x + 3.0 * y + 1.0
    maps = np.stack([value, -value][:channels], axis=-1).astype("float32")
    return np.repeat(maps[None], batch, axis=0)


def expected(box, stride, size):
    x0, y0, x1, y1 = np.asarray(box, float) / stride - 0.5
    centres_x = x0 + (np.arange(size) + 0.5) * (x1 - x0) / size
    centres_y = y0 + (np.arange(size) + 0.5) * (y1 - y0) / size
    return 2.0 * centres_x[None, :] + 3.0 * centres_y[:, None] + 1.0


def test_a_bin_of_a_linear_map_reads_its_centre():
    layer = RoIAlign(strides=(8,), output_size=4, sampling_ratio=2)
    boxes = np.array([[[16.0, 24.0, 80.0, 72.0], [40.5, 8.25, 60.0, 30.0]]], "float32")
    out = np.asarray(layer([ramp(16, 16)], boxes))
    assert out.shape == (1, 2, 4, 4, 2)
    for k in range(2):
        np.testing.assert_allclose(out[0, k, :, :, 0], expected(boxes[0, k], 8, 4), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(out[0, k, :, :, 1], -expected(boxes[0, k], 8, 4), rtol=1e-5, atol=1e-4)


def test_each_image_of_the_batch_reads_its_own_map():
    maps = ramp(8, 8, channels=1, batch=2)
    maps[1] += 100.0
    boxes = np.array([[[8.0, 8.0, 40.0, 40.0]], [[8.0, 8.0, 40.0, 40.0]]], "float32")
    out = np.asarray(RoIAlign(strides=(8,), output_size=2)([maps], boxes))
    np.testing.assert_allclose(out[1] - out[0], 100.0, atol=1e-4)


def test_points_outside_the_map_take_the_edge_value():
    out = np.asarray(
        RoIAlign(strides=(8,), output_size=1, sampling_ratio=1)(
            [ramp(4, 4, 1)], np.array([[[-80.0, -80.0, -72.0, -72.0]]], "float32")
        )
    )
    assert out[0, 0, 0, 0, 0] == pytest.approx(1.0)  # f at (0, 0)


def test_boxes_are_read_from_the_level_their_size_calls_for():
    strides = (8, 16, 32)
    boxes = np.array([[4, 4, 20, 20], [0, 0, 112, 112], [0, 0, 224, 224], [0, 0, 2000, 2000]], "float32")
    levels = np.asarray(assign_levels(boxes, strides, canonical_size=224, canonical_level=4))
    np.testing.assert_array_equal(levels, [0, 0, 1, 2])  # 16 px -> level 3 (clipped), 112 -> 3, 224 -> 4, big -> 5
    layer = RoIAlign(strides=strides, output_size=2, canonical_size=224, canonical_level=4)
    maps = [np.full((1, 64 // s, 64 // s, 1), float(s), "float32") for s in strides]  # each level holds its stride
    out = np.asarray(layer(maps, boxes[None]))
    np.testing.assert_allclose(out[0, :, 0, 0, 0], [8, 8, 16, 32])


def test_gradients_reach_the_features_and_the_layer_saves(tmp_path):
    features = keras.Input((16, 16, 3))
    boxes = keras.Input((2, 4))
    mapped = keras.layers.Conv2D(4, 3, padding="same", strides=2)(features)  # stride 2 of the image
    pooled = RoIAlign(strides=(2,), output_size=3, name="roi_align")([mapped], boxes)
    model = keras.Model([features, boxes], keras.layers.Dense(1)(keras.layers.Reshape((2, 36))(pooled)))
    rng = np.random.default_rng(0)
    x = rng.random((4, 16, 16, 3)).astype("float32")
    b = np.tile(np.array([[[1.0, 2.0, 9.0, 12.0], [4.0, 4.0, 15.0, 15.0]]], "float32"), (4, 1, 1))
    before = [w.copy() for w in model.layers[1].get_weights()]
    model.compile("sgd", "mse")
    model.fit([x, b], rng.random((4, 2, 1)).astype("float32"), epochs=1, verbose=0)
    assert not np.allclose(before[0], model.layers[1].get_weights()[0])
    path = tmp_path / "roi.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict([x, b], verbose=0), model.predict([x, b], verbose=0), rtol=1e-6)
    assert loaded.get_layer("roi_align").get_config()["output_size"] == 3


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"strides": (8, 12)}, "`strides` must be powers of 2, finest first"),
        ({"strides": (16, 8)}, "`strides` must be powers of 2, finest first"),
        ({"output_size": 0}, "`output_size` must be an integer >= 1"),
        ({"canonical_size": 0}, "`canonical_size` must be positive"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        RoIAlign(**settings)


def test_anchors_tile_each_level_centred_on_its_cells():
    grid = anchor_grid(2, 3, 8, 16, (0.5, 1.0, 2.0))
    assert grid.shape == (2 * 3 * 3, 4)
    np.testing.assert_allclose(grid[1], [4 - 8, 4 - 8, 4 + 8, 4 + 8])  # cell (0, 0), ratio 1: a 16 px square
    wide = grid[0]  # ratio 0.5: half as tall as wide, the same area
    assert (wide[2] - wide[0]) == pytest.approx(2 * (wide[3] - wide[1])) and np.prod(
        wide[2:] - wide[:2]
    ) == pytest.approx(256)
    np.testing.assert_allclose(grid[3 * 5 + 1, :2], [20 - 8, 12 - 8])  # cell (1, 2): centre (20, 12)
    boxes, counts = anchors((100, 64), strides=(8, 16), sizes=(16, 32), ratios=(1.0,))
    assert feature_sizes((100, 64), (8, 16)) == [(13, 8), (7, 4)]
    assert counts == [13 * 8, 7 * 4] and boxes.shape == (sum(counts), 4) and boxes.dtype == np.float32
    with pytest.raises(ValueError, match="one anchor size per level"):
        anchors((64, 64), strides=(8, 16), sizes=(16,))
