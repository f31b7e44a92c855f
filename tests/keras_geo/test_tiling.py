"""Tiled inference: exact for short receptive fields, identity for any size, smooth seams, checked arguments."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_geo.models import build_unet
from keras_geo.tiling import predict_tiled


def _identity(batch):
    return batch


def _conv_stack(convs=4, channels=2, seed=0):
    """A fully convolutional model of any input size: ``convs`` 3x3 convolutions (receptive radius ``convs``)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, channels))
    x = inputs
    for _ in range(convs):
        x = keras.layers.Conv2D(5, 3, padding="same", activation="tanh")(x)
    return keras.Model(inputs, x)


def _whole(model, image):
    return keras.ops.convert_to_numpy(model(image[None], training=False))[0]


def test_tiles_give_the_whole_image_result_when_the_receptive_field_fits_in_the_overlap():
    model = _conv_stack(convs=4)
    image = np.random.default_rng(0).random((100, 77, 2)).astype(np.float32)
    whole = _whole(model, image)
    # Receptive radius 4 <= overlap // 4: every pixel's weight comes from tiles that saw all it needs.
    tiled = predict_tiled(model, image, tile=32, overlap=16, batch_size=5)
    assert tiled.shape == whole.shape == (100, 77, 5) and tiled.dtype == np.float32
    np.testing.assert_allclose(tiled, whole, atol=1e-5, rtol=0)
    # With too small an overlap the tile edges show (the test can tell).
    assert np.abs(predict_tiled(model, image, tile=32, overlap=4) - whole).max() > 1e-4


@pytest.mark.parametrize(
    ("shape", "settings"),
    [
        ((100, 77), {"tile": 32}),  # odd size, grey
        ((100, 77, 3), {"tile": 32}),
        ((100, 77, 3), {"tile": 16, "overlap": 15}),  # largest overlap
        ((100, 77), {"tile": 16, "overlap": 0}),  # no overlap
        ((100, 77), {"tile": (16, 24), "overlap": (1, 2)}),  # rectangular tiles
        ((20, 13), {"tile": 32}),  # smaller than a tile
        ((5, 300, 2), {"tile": 8, "multiple": 8}),  # smaller one way, larger the other
        ((1, 1), {"tile": 4}),
        ((300, 270, 1), {}),  # default tile 256, overlap 64
    ],
)
def test_an_identity_model_gives_back_the_image_exactly(shape, settings):
    image = np.random.default_rng(1).random(shape).astype(np.float32)
    tiled = predict_tiled(_identity, image, **settings)
    expected = image if image.ndim == 3 else image[..., None]
    assert tiled.shape == expected.shape and tiled.dtype == np.float32
    np.testing.assert_array_equal(tiled, expected)


def test_tiles_have_the_model_size_and_small_images_are_reflect_padded():
    seen = []

    def spy(batch):
        seen.append(batch.shape)
        return batch[..., :1] * 2.0

    image = np.random.default_rng(2).random((50, 40, 3)).astype(np.float32)
    tiled = predict_tiled(spy, image, tile=32, batch_size=3)
    assert {shape[1:] for shape in seen} == {(32, 32, 3)} and sum(s[0] for s in seen) == 4
    np.testing.assert_allclose(tiled, 2.0 * image[..., :1], rtol=1e-6)
    # A model of any size gets the default tile, 256 rounded down to the multiple, small images padded to it.
    seen.clear()
    np.testing.assert_allclose(predict_tiled(spy, image[:10, :13], multiple=96), 2.0 * image[:10, :13, :1], rtol=1e-6)
    assert seen == [(1, 192, 192, 3)]


def test_a_fixed_size_model_sets_the_tile_and_runs_in_inference_mode():
    inputs = keras.Input((32, 32, 1))
    model = keras.Model(inputs, keras.layers.Dropout(0.9)(inputs))  # training=True would drop pixels
    image = np.random.default_rng(3).random((45, 70)).astype(np.float32)
    np.testing.assert_array_equal(predict_tiled(model, image), image[..., None])
    np.testing.assert_array_equal(predict_tiled(model, image[:20, :9]), image[:20, :9, None])
    with pytest.raises(ValueError, match=r"tiles of 32x32 pixels only.*Received: tile=48"):
        predict_tiled(model, image, tile=48)
    with pytest.raises(ValueError, match=r"takes images of 1 channels.*\(45, 70, 3\)"):
        predict_tiled(model, np.zeros((45, 70, 3)))


def test_a_batch_is_done_image_by_image_with_a_progress_bar():
    model = _conv_stack(convs=2, channels=1)
    images = np.random.default_rng(4).random((3, 40, 50, 1)).astype(np.float32)
    tiled = predict_tiled(model, images, tile=16, progress=True)
    assert tiled.shape == (3, 40, 50, 5)
    for image, result in zip(images, tiled):
        np.testing.assert_allclose(result, predict_tiled(model, image, tile=16), atol=1e-6)


def _jumps(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean absolute difference between neighbouring rows (``[k]``: rows k and k+1), and columns."""
    return np.abs(np.diff(values, axis=0)).mean(axis=1), np.abs(np.diff(values, axis=1)).mean(axis=0)


def _seam_ratio(error: np.ndarray, rows: list[int], cols: list[int]) -> float:
    """Mean jump of ``error`` across the given tile boundaries over the median jump elsewhere."""
    row_jumps, col_jumps = _jumps(error)
    rows_, cols_ = np.array(rows) - 1, np.array(cols) - 1
    at_seams = np.concatenate([row_jumps[rows_], col_jumps[cols_]])
    elsewhere = np.concatenate([np.delete(row_jumps, rows_), np.delete(col_jumps, cols_)])
    return float(at_seams.mean() / np.median(elsewhere))


def test_unet_tiles_blend_without_seams():
    keras.utils.set_random_seed(5)
    model = build_unet((32, 32, 1), depth=2, filters=4, output_activation=None)
    any_size = build_unet((None, None, 1), depth=2, filters=4, output_activation=None)
    any_size.set_weights(model.get_weights())
    image = np.random.default_rng(5).random((90, 70)).astype(np.float32)
    # The reference: the whole image at once (padded to a multiple of 4, only its bottom and right move).
    padded = np.pad(image, ((0, 6), (0, 26)), mode="reflect")[..., None]
    whole = _whole(any_size, padded)[:90, :70, 0]
    blended = predict_tiled(model, image)[..., 0]  # 32 px tiles overlapping by 8
    # No blending: abutting tiles, each pixel from the one tile that holds it.
    naive = np.block(
        [[_whole(model, padded[r : r + 32, c : c + 32])[..., 0] for c in (0, 32, 64)] for r in (0, 32, 64)]
    )[:90, :70]
    # Tiling errors (the difference from the whole-image result) jump where naive tiles meet
    # and change no faster than elsewhere across the blended tiles' edges (the content cancels).
    assert _seam_ratio(naive - whole, [32, 64], [32, 64]) > 3.0
    blended_edges = ([24, 32, 48, 56, 58], [24, 32, 38])  # tile starts 0, 24, 48, 58 and 0, 24, 38, size 32
    assert _seam_ratio(blended - whole, *blended_edges) < 1.5
    assert np.abs(blended - whole).mean() < 0.7 * np.abs(naive - whole).mean()


@pytest.mark.parametrize(
    ("image", "settings", "message"),
    [
        (np.zeros(10), {}, "Received shape: (10,)"),
        (np.zeros((1, 2, 8, 8, 1)), {}, "Received shape: (1, 2, 8, 8, 1)"),
        (np.zeros((0, 8)), {}, "Received shape: (0, 8)"),
        (np.zeros((40, 40)), {"tile": 30, "multiple": 8}, "Received: tile=30, multiple=8"),
        (np.zeros((40, 40)), {"tile": 0}, "Received: tile=0"),
        (np.zeros((40, 40)), {"tile": "big"}, "Received: tile='big'"),
        (np.zeros((40, 40)), {"tile": (16, 16, 16)}, "Received: tile=(16, 16, 16)"),
        (np.zeros((40, 40)), {"tile": 16, "overlap": 16}, "Received: overlap=16, tile=16"),
        (np.zeros((40, 40)), {"tile": 16, "overlap": -1}, "Received: overlap=-1"),
        (np.zeros((40, 40)), {"multiple": 0}, "Received: multiple=0"),
        (np.zeros((40, 40)), {"batch_size": 0}, "Received: batch_size=0"),
    ],
)
def test_bad_arguments_are_refused_with_their_values(image, settings, message):
    with pytest.raises(ValueError) as info:
        predict_tiled(_identity, image, **settings)
    assert message in str(info.value)


def test_a_model_output_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"Received output shape: \(1, 8, 8\)"):
        predict_tiled(lambda batch: batch[..., 0, None][:, ::2, ::2, 0], np.zeros((16, 16)), tile=16)
