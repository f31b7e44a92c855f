"""Image-quality metrics: PSNR/SSIM functions against tf.image, the Keras metric classes, saving."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_geo import _ssim
from keras_geo.losses import MSSSIMLoss, SSIMLoss
from keras_geo.metrics import PSNR, PSNR_CAP_DB, SSIM, ms_ssim, psnr, sharpness, ssim


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _images(seed, shape=(3, 32, 32, 2)):
    rng = np.random.default_rng(seed)
    a = rng.random(shape, dtype=np.float32)
    b = np.clip(a + rng.normal(0, 0.1, shape), 0, 1).astype(np.float32)
    return a, b


@pytest.mark.parametrize("max_val", [1.0, 255.0])
def test_psnr_matches_tf_image_psnr(max_val):
    a, b = _images(0)
    a, b = a * max_val, b * max_val
    ours = _np(psnr(a, b, max_val=max_val))
    assert ours.shape == (3,)
    np.testing.assert_allclose(ours, tf.image.psnr(a, b, max_val=max_val).numpy(), rtol=1e-5)


def test_psnr_of_identical_images_is_capped():
    a, b = _images(1)
    values = _np(psnr(np.stack([a[0], a[1]]), np.stack([a[0], b[1]])))
    assert values[0] == pytest.approx(PSNR_CAP_DB) and np.isfinite(values).all()
    assert values[1] < 30
    assert PSNR_CAP_DB == 100.0


def test_ssim_and_ms_ssim_functions_match_tf_image_and_the_losses():
    a, b = _images(2)
    np.testing.assert_allclose(_np(ssim(a, b)), tf.image.ssim(a, b, 1.0).numpy(), atol=1e-4)
    np.testing.assert_allclose(_np(ssim(a, b)), 1 - _np(SSIMLoss(reduction="none")(a, b)), atol=1e-6)
    settings = {"filter_size": 7, "power_factors": (0.2, 0.3, 0.5)}
    ref = tf.image.ssim_multiscale(a, b, 1.0, **settings).numpy()
    np.testing.assert_allclose(_np(ms_ssim(a, b, **settings)), ref, atol=1e-4)
    np.testing.assert_allclose(
        _np(ms_ssim(a, b, **settings)), 1 - _np(MSSSIMLoss(reduction="none", **settings)(a, b)), atol=1e-6
    )


def test_metrics_share_the_loss_implementation():
    import keras_geo.losses
    import keras_geo.metrics

    assert keras_geo.metrics._ssim is keras_geo.losses._ssim is _ssim


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_functions_compute_low_precision_inputs_in_float32(dtype):
    a, b = _images(3)
    for fn in (psnr, ssim):
        value = fn(tf.cast(a, dtype), tf.cast(b, dtype))
        assert keras.backend.standardize_dtype(value.dtype) == "float32"
        np.testing.assert_allclose(_np(value), _np(fn(a, b)), rtol=2e-2)


@pytest.mark.parametrize("fn", [psnr, ssim, ms_ssim, PSNR, SSIM])
@pytest.mark.parametrize("max_val", [-1, 0, float("nan")])
def test_bad_max_val_is_refused_with_its_value(fn, max_val):
    a, b = _images(4)
    with pytest.raises(ValueError, match="max_val") as info:
        fn(max_val=max_val) if isinstance(fn, type) else fn(a, b, max_val=max_val)
    assert f"Received: max_val={max_val!r}" in str(info.value)


def test_metric_classes_average_the_per_image_values():
    a, b = _images(5)
    for metric, fn in ((PSNR(), psnr), (SSIM(), ssim)):
        metric.update_state(a[:2], b[:2])
        metric.update_state(a[2:], b[2:])
        np.testing.assert_allclose(float(_np(metric.result())), _np(fn(a, b)).mean(), rtol=1e-5)
        assert metric._direction == "up"
    assert PSNR().name == "psnr" and SSIM().name == "ssim"


@pytest.mark.parametrize(
    "metric",
    [PSNR(max_val=255.0, name="p"), SSIM(max_val=2.0, filter_size=7, filter_sigma=1.0, k1=0.02, k2=0.04, name="s")],
    ids=lambda m: type(m).__name__,
)
def test_metric_config_round_trip(metric):
    config = metric.get_config()
    json.dumps(config)
    clone = type(metric).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert type(restored) is type(metric) and restored.get_config() == config
    assert keras.saving.get_registered_name(type(metric)) == f"keras_geo>{type(metric).__name__}"


def test_compiled_model_logs_psnr_and_ssim_for_training_and_validation():
    a, b = _images(6, (8, 32, 32, 1))
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(inputs))
    model.compile(optimizer="adam", loss="mae", metrics=[PSNR(), SSIM()])
    history = model.fit(b, a, validation_data=(b, a), batch_size=4, epochs=1, verbose=0)
    assert {"psnr", "ssim", "val_psnr", "val_ssim"} <= set(history.history)
    assert all(np.isfinite(v[0]) for v in history.history.values())
    # The validation values are the per-image functions averaged over the validation set.
    pred = model.predict(b, verbose=0)
    np.testing.assert_allclose(history.history["val_psnr"][0], _np(psnr(a, pred)).mean(), rtol=1e-4)
    np.testing.assert_allclose(history.history["val_ssim"][0], _np(ssim(a, pred)).mean(), atol=1e-4)


# ----------------------------------------------------------------------------------- sharpness --
def _particle_images(n=3, size=48, seed=7):
    """Bright discs on a grey matrix: edges for the gradients to measure."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    images = np.full((n, size, size, 1), 0.25)
    for image in images:
        for row, col, radius in zip(*rng.uniform([6, 6, 2], [size - 6, size - 6, 5], (8, 3)).T):
            image[np.hypot(rows - row, cols - col) <= radius] = 0.7
    return images


def test_sharpness_of_identical_images_is_1():
    import keras_geo.metrics

    images = _particle_images()
    values = sharpness(images, images.copy())
    assert isinstance(values, np.ndarray) and values.shape == (3,)
    np.testing.assert_allclose(values, 1.0, rtol=1e-12)
    assert "sharpness" in keras_geo.metrics.__all__


def test_blurring_lowers_sharpness_below_1_and_noise_raises_it_above():
    from scipy.ndimage import gaussian_filter

    images = _particle_images()
    slightly, strongly = (gaussian_filter(images, (0, s, s, 0)) for s in (0.7, 2.0))
    assert np.all(sharpness(images, strongly) < sharpness(images, slightly))
    assert np.all(sharpness(images, slightly) < 0.95)
    noisy = images + np.random.default_rng(8).normal(0, 0.05, images.shape)
    assert np.all(sharpness(images, noisy) > 1.05)


def test_sharpness_is_the_ratio_of_rms_gradients_and_ignores_the_data_range():
    images = _particle_images(n=2)
    halved = 0.25 + 0.5 * (images - 0.25)  # half the contrast: half the gradients
    np.testing.assert_allclose(sharpness(images, halved), 0.5, rtol=1e-12)
    np.testing.assert_allclose(sharpness(255 * images, 255 * halved), 0.5, rtol=1e-12)
    np.testing.assert_allclose(sharpness(images[..., 0], halved[..., 0]), 0.5, rtol=1e-12)  # (batch, H, W)
    np.testing.assert_allclose(sharpness(tf.constant(images), tf.constant(halved)), 0.5, rtol=1e-6)


def test_sharpness_against_a_constant_truth_is_refused_naming_the_image():
    images = _particle_images(n=3)
    truth = images.copy()
    truth[1] = 0.25
    with pytest.raises(ValueError, match=r"constant reference image.*y_true\[1\]"):
        sharpness(truth, images)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        (np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 2)), "same shape"),
        (np.zeros((2, 8)), np.zeros((2, 8)), "Received shape: (2, 8)"),
        (np.zeros((2, 1, 8, 1)), np.zeros((2, 1, 8, 1)), "at least 2 pixels"),
        (np.full((1, 8, 8, 1), np.nan), np.zeros((1, 8, 8, 1)), "`y_true` has values that are not finite"),
    ],
)
def test_sharpness_refuses_what_is_not_a_pair_of_image_batches(y_true, y_pred, message):
    with pytest.raises(ValueError) as info:
        sharpness(y_true, y_pred)
    assert message in str(info.value)
