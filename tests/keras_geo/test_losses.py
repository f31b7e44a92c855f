"""SSIM-family losses: agreement with tf.image, finite gradients, validation, registry, saving."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_geo import _ssim
from keras_geo.losses import (
    MixedLoss,
    MSSSIMLoss,
    SSIMLoss,
    available,
    get,
    min_ms_ssim_size,
)

TOL = 1e-4  # agreement with tf.image (measured: about 1e-6)
SMALL_MS = {"filter_size": 7, "power_factors": (0.2, 0.3, 0.5)}  # 3 scales: fits 32x32 (needs 25)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _structured(rng, n, h, w, c):
    """Smooth blobs on a ramp, in [0, 1]: images with real structure at several scales."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((n, h, w, c), np.float32)
    for i in range(n):
        for k in range(c):
            img = 0.3 * (xx / w) + 0.2 * (yy / h)
            for _ in range(4):
                cy, cx = rng.uniform(0, h), rng.uniform(0, w)
                s = rng.uniform(2, max(3, h / 6))
                img = img + rng.uniform(0.2, 0.6) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
            out[i, ..., k] = img
    return np.clip(out, 0, 1)


def _pairs(rng, shape):
    """(name, reference, distorted) image pairs in [0, 1], from unrelated to identical."""
    n, h, w, c = shape
    x = rng.random(shape, dtype=np.float32)
    s = _structured(rng, n, h, w, c)
    noise = rng.normal(0, 0.1, shape).astype(np.float32)
    return [
        ("random_unrelated", x, rng.random(shape, dtype=np.float32)),
        ("random_noisy", x, np.clip(x + noise, 0, 1)),
        ("structured_noisy", s, np.clip(s + noise, 0, 1)),
        ("structured_dimmed", s, 0.7 * s + 0.1),
        ("anti_correlated", s, 1.0 - s),
        ("identical", s, s.copy()),
    ]


# -- agreement with tf.image -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 32, 32, 1), (2, 37, 45, 3)])
@pytest.mark.parametrize("max_val", [1.0, 255.0])
def test_ssim_matches_tf_image_ssim(shape, max_val):
    rng = np.random.default_rng(0)
    for label, unit_a, unit_b in _pairs(rng, shape):
        a, b = unit_a * max_val, unit_b * max_val
        ours = _np(_ssim.ssim(a, b, max_val=max_val))
        ref = tf.image.ssim(a, b, max_val=max_val).numpy()
        np.testing.assert_allclose(ours, ref, atol=TOL, rtol=0, err_msg=label)
        loss = _np(SSIMLoss(max_val=max_val, reduction="none")(a, b))
        np.testing.assert_allclose(loss, 1.0 - ref, atol=TOL, rtol=0, err_msg=label)


def test_ssim_matches_tf_with_other_filter_settings():
    rng = np.random.default_rng(1)
    a = _structured(rng, 2, 24, 24, 2)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
    settings = {"filter_size": 5, "filter_sigma": 0.8, "k1": 0.02, "k2": 0.05}
    ref = tf.image.ssim(a, b, max_val=1.0, **settings).numpy()
    np.testing.assert_allclose(_np(_ssim.ssim(a, b, max_val=1.0, **settings)), ref, atol=TOL, rtol=0)


@pytest.mark.parametrize(
    "shape, settings",
    [
        ((2, 161, 161, 1), {}),  # the smallest size the default 5 scales accept
        ((1, 181, 170, 3), {}),  # odd sizes at several scales (TF pads symmetrically)
        ((2, 32, 32, 1), SMALL_MS),
        ((2, 33, 47, 2), {"filter_size": 5, "power_factors": (0.0448, 0.2856, 0.3001, 0.2363)}),
    ],
)
def test_ms_ssim_matches_tf_image_ssim_multiscale(shape, settings):
    rng = np.random.default_rng(2)
    for label, a, b in _pairs(rng, shape):
        ours = _np(_ssim.ms_ssim(a, b, max_val=1.0, **settings))
        ref = tf.image.ssim_multiscale(a, b, max_val=1.0, **settings).numpy()
        np.testing.assert_allclose(ours, ref, atol=TOL, rtol=0, err_msg=label)
        loss = _np(MSSSIMLoss(reduction="none", **settings)(a, b))
        np.testing.assert_allclose(loss, 1.0 - ref, atol=TOL, rtol=0, err_msg=label)


def test_mixed_loss_is_the_documented_mix():
    rng = np.random.default_rng(3)
    a = _structured(rng, 2, 32, 32, 1)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    l1 = np.mean(np.abs(a - b), axis=(1, 2, 3))
    ms = tf.image.ssim_multiscale(a, b, max_val=1.0, **SMALL_MS).numpy()
    ss = tf.image.ssim(a, b, max_val=1.0).numpy()
    mixed = _np(MixedLoss(alpha=0.84, reduction="none", **SMALL_MS)(a, b))
    np.testing.assert_allclose(mixed, 0.84 * (1 - ms) + 0.16 * l1, atol=TOL, rtol=0)
    single = _np(MixedLoss(alpha=0.5, ms=False, reduction="none")(a, b))
    np.testing.assert_allclose(single, 0.5 * (1 - ss) + 0.5 * l1, atol=TOL, rtol=0)
    # The L1 term is scaled by max_val: the same images in [0, 255] give the same loss.
    scaled = _np(MixedLoss(max_val=255.0, reduction="none", **SMALL_MS)(255 * a, 255 * b))
    np.testing.assert_allclose(scaled, mixed, atol=TOL, rtol=0)


def test_losses_reduce_to_the_batch_mean_and_take_sample_weights():
    rng = np.random.default_rng(4)
    a = _structured(rng, 3, 32, 32, 1)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    per_image = _np(SSIMLoss(reduction="none")(a, b))
    assert per_image.shape == (3,)
    np.testing.assert_allclose(_np(SSIMLoss()(a, b)), per_image.mean(), rtol=1e-5)
    weighted = _np(SSIMLoss()(a, b, sample_weight=np.array([1.0, 0.0, 0.0], np.float32)))
    np.testing.assert_allclose(weighted, per_image[0] / 3, rtol=1e-5)


# -- zeros, gradients, precision ---------------------------------------------------------------

LOSSES = {
    "ssim": SSIMLoss,
    "ms_ssim": lambda: MSSSIMLoss(**SMALL_MS),
    "mixed": lambda: MixedLoss(**SMALL_MS),
    "mixed_single_scale": lambda: MixedLoss(ms=False),
}


def _edge_cases():
    rng = np.random.default_rng(5)
    x = rng.random((2, 32, 32, 1), dtype=np.float32)
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    checker = (np.indices((32, 32)).sum(axis=0) % 2).astype(np.float32)[None, ..., None].repeat(2, 0)
    return {
        "identical": (x, x.copy()),
        "constant": (np.full_like(x, 0.5), np.full_like(x, 0.5)),
        "constant_prediction": (x, np.full_like(x, 0.5)),
        "all_zero": (zeros, zeros.copy()),
        "all_one": (ones, ones.copy()),
        "zero_vs_one": (zeros, ones),
        "one_vs_zero": (ones, zeros),
        "checkerboard_identical": (checker, checker.copy()),
        "checkerboard_inverted": (checker, 1.0 - checker),  # anti-correlated: cs < 0 at scale 1
        "anti_correlated": (x, 1.0 - x),
    }


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_loss_is_zero_for_identical_images(loss_name):
    loss = LOSSES[loss_name]()
    rng = np.random.default_rng(6)
    for images in (rng.random((2, 32, 32, 3), dtype=np.float32), _structured(rng, 2, 32, 32, 1)):
        assert abs(float(_np(loss(images, images)))) < 1e-6


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_gradients_are_finite_at_the_edge_cases(loss_name):
    loss = LOSSES[loss_name]()
    for case, (y_true, y_pred) in _edge_cases().items():
        pred = tf.Variable(y_pred)
        with tf.GradientTape() as tape:
            value = loss(y_true, pred)
        grad = tape.gradient(value, pred).numpy()
        assert np.isfinite(float(value)), (case, float(value))
        assert np.all(np.isfinite(grad)), case


def test_ms_ssim_gradient_is_finite_where_tf_image_gives_nan():
    # tensorflow/tensorflow#50400: MS-SSIM of an image and its negative (the default 5 scales).
    rng = np.random.default_rng(7)
    x = rng.random((2, 161, 161, 1), dtype=np.float32)
    pred = tf.Variable(1.0 - x)
    with tf.GradientTape() as tape:
        value = MSSSIMLoss()(x, pred)
    grad = tape.gradient(value, pred).numpy()
    assert abs(float(value) - 1.0) < 1e-6  # MS-SSIM clamped to 0, as tf.image gives
    assert np.all(np.isfinite(grad))


def test_ms_ssim_keeps_the_other_scales_gradient_when_one_scale_is_clamped():
    # A texture inverted at the finest scale only: that scale's contrast-structure term is
    # negative (clamped to 0, so MS-SSIM is 0), while 2x2 pooling removes the texture and the
    # coarser scales nearly agree. The loss must still pull the image towards the reference.
    rng = np.random.default_rng(8)
    smooth = 0.2 + 0.6 * _structured(rng, 1, 32, 32, 1)
    texture = 0.15 * (2.0 * (np.indices((32, 32)).sum(axis=0) % 2) - 1.0)[None, ..., None]
    x = (smooth + texture).astype(np.float32)
    y = (0.8 * smooth + 0.1 - texture).astype(np.float32)  # coarse scales: close, not equal
    _, fine_cs = _ssim.ssim_per_channel(x, y, filter_size=7)
    assert float(_np(fine_cs)[0, 0]) < 0
    pred = tf.Variable(y)
    with tf.GradientTape() as tape:
        value = MSSSIMLoss(**SMALL_MS)(x, pred)
    grad = tape.gradient(value, pred).numpy()
    assert abs(float(value) - 1.0) < 1e-6
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_inputs_are_computed_in_float32(dtype):
    rng = np.random.default_rng(9)
    a = _structured(rng, 2, 32, 32, 1)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    a_low, b_low = tf.cast(a, dtype), tf.cast(b, dtype)
    for loss in (SSIMLoss(), MSSSIMLoss(**SMALL_MS), MixedLoss(**SMALL_MS)):
        value = loss(a_low, b_low)
        assert keras.backend.standardize_dtype(value.dtype) == "float32"
        exact = loss(tf.cast(a_low, "float32"), tf.cast(b_low, "float32"))
        np.testing.assert_allclose(_np(value), _np(exact), atol=1e-6)
    direct = _ssim.ssim(a_low, b_low)  # the functional path casts too
    assert keras.backend.standardize_dtype(direct.dtype) == "float32"
    np.testing.assert_allclose(_np(direct), tf.image.ssim(a, b, 1.0).numpy(), atol=2e-2)


def _tiny_model(seed, anti_correlated=False):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 1))
    if anti_correlated:
        # Starts at output = 1 - input: every MS-SSIM term is clamped, where tf.image gives NaN.
        kernel = np.zeros((3, 3, 1, 1), np.float32)
        kernel[1, 1] = -1.0
        conv = keras.layers.Conv2D(
            1,
            3,
            padding="same",
            kernel_initializer=keras.initializers.Constant(kernel),
            bias_initializer=keras.initializers.Constant(1.0),
        )
        outputs = conv(inputs)
    else:
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
        outputs = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("anti_correlated", [False, True])
def test_training_with_ms_ssim_never_produces_nan(anti_correlated):
    rng = np.random.default_rng(10)
    clean = _structured(rng, 16, 32, 32, 1)
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    model = _tiny_model(10, anti_correlated)
    model.compile(keras.optimizers.Adam(1e-2), MSSSIMLoss(**SMALL_MS))
    history = model.fit(noisy, clean, batch_size=8, epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert all(np.all(np.isfinite(_np(w))) for w in model.weights)
    if not anti_correlated:
        assert history.history["loss"][-1] < history.history["loss"][0]


# -- validation --------------------------------------------------------------------------------


def test_too_small_for_ms_ssim_names_the_minimum_and_the_remedies():
    assert min_ms_ssim_size(11, 5) == 161 and min_ms_ssim_size(7, 3) == 25
    images = np.zeros((1, 64, 64, 1), np.float32)
    for loss in (MSSSIMLoss(), MixedLoss()):
        with pytest.raises(ValueError, match="161x161") as info:
            loss(images, images)
        message = str(info.value)
        assert "64x64" in message and "filter_size" in message and "power_factors" in message
        assert "SSIMLoss" in message
    MSSSIMLoss(filter_size=5, power_factors=(0.3, 0.3, 0.4))(images, images)  # needs 17: fine
    MixedLoss(ms=False)(images, images)


def test_too_small_for_the_ssim_filter():
    images = np.zeros((1, 8, 16, 1), np.float32)
    with pytest.raises(ValueError, match="11x11"):
        SSIMLoss()(images, images)


@pytest.mark.parametrize("max_val", [-1, 0, float("nan"), float("inf"), "1", None, True])
@pytest.mark.parametrize("cls", [SSIMLoss, MSSSIMLoss, MixedLoss])
def test_bad_max_val_is_refused_with_its_value(cls, max_val):
    with pytest.raises(ValueError, match="max_val") as info:
        cls(max_val=max_val)
    assert f"Received: max_val={max_val!r}" in str(info.value)


@pytest.mark.parametrize(
    "cls, kwargs, word",
    [
        (SSIMLoss, {"filter_size": 0}, "filter_size"),
        (SSIMLoss, {"filter_size": 2.5}, "filter_size"),
        (SSIMLoss, {"filter_sigma": 0}, "filter_sigma"),
        (SSIMLoss, {"k1": 0}, "k1"),
        (SSIMLoss, {"k2": -0.03}, "k2"),
        (MSSSIMLoss, {"power_factors": ()}, "power_factors"),
        (MSSSIMLoss, {"power_factors": (0.5, -0.5)}, "power_factors"),
        (MSSSIMLoss, {"power_factors": "abc"}, "power_factors"),
        (MixedLoss, {"alpha": 1.5}, "alpha"),
        (MixedLoss, {"ms": "yes"}, "ms"),
    ],
)
def test_bad_settings_are_refused_with_their_value(cls, kwargs, word):
    with pytest.raises(ValueError, match=word) as info:
        cls(**kwargs)
    assert "Received" in str(info.value)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="same image shape"):
        SSIMLoss()(np.zeros((1, 32, 32, 1), np.float32), np.zeros((1, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="batch, height, width, channels"):
        SSIMLoss()(np.zeros((32, 32, 1), np.float32), np.zeros((32, 32, 1), np.float32))


# -- registry, configuration, saving ------------------------------------------------------------


def test_get_returns_each_loss_by_name():
    assert available() == ["huber", "mae", "mixed", "ms_ssim", "mse", "ssim", "ssim_mae"]
    expected = {
        "mse": keras.losses.MeanSquaredError,
        "mae": keras.losses.MeanAbsoluteError,
        "huber": keras.losses.Huber,
        "ssim": SSIMLoss,
        "ms_ssim": MSSSIMLoss,
        "mixed": MixedLoss,
    }
    for name, cls in expected.items():
        assert type(get(name)) is cls
    assert type(get("MS-SSIM")) is MSSSIMLoss
    loss = get("mixed", alpha=0.5, max_val=255, ms=False)
    assert (loss.alpha, loss.max_val, loss.ms) == (0.5, 255.0, False)
    ssim_mae = get("ssim_mae", alpha=0.7)
    assert type(ssim_mae) is MixedLoss and (ssim_mae.alpha, ssim_mae.ms, ssim_mae.name) == (0.7, False, "ssim_mae_loss")
    huber = get("huber", delta=2.0)  # Keras' Huber.get_config() omits delta: check the call
    np.testing.assert_allclose(float(_np(huber(np.zeros((1, 1)), np.full((1, 1), 3.0)))), 4.0, rtol=1e-6)


def test_get_refuses_unknown_names_and_settings():
    with pytest.raises(ValueError, match="Unknown loss 'dssim'") as info:
        get("dssim")
    assert "huber, mae, mixed, ms_ssim, mse, ssim, ssim_mae" in str(info.value)
    with pytest.raises(ValueError, match="Unknown loss"):
        get(None)
    with pytest.raises(ValueError, match="'alpha'"):
        get("ssim", alpha=0.5)
    with pytest.raises(ValueError, match="'ms'"):  # the name fixes it
        get("ssim_mae", ms=True)


CONFIGURED = [
    SSIMLoss(max_val=255.0, filter_size=7, filter_sigma=1.0, k1=0.02, k2=0.04, name="s", reduction="sum"),
    MSSSIMLoss(
        max_val=2.0,
        power_factors=(0.2, 0.3, 0.5),
        filter_size=5,
        filter_sigma=1.2,
        k1=0.02,
        k2=0.05,
        name="m",
        reduction="none",
    ),
    MixedLoss(
        alpha=0.6,
        max_val=255.0,
        power_factors=(0.5, 0.5),
        filter_size=9,
        filter_sigma=1.1,
        k1=0.015,
        k2=0.035,
        ms=False,
        name="x",
        reduction="mean",
    ),
]


@pytest.mark.parametrize("loss", CONFIGURED, ids=lambda loss: type(loss).__name__)
def test_config_round_trip(loss):
    config = loss.get_config()
    arguments = set(inspect.signature(type(loss).__init__).parameters) - {"self"}
    assert set(config) == arguments  # every argument, nothing else
    json.dumps(config)
    clone = type(loss).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is type(loss) and restored.get_config() == config
    assert keras.saving.get_registered_name(type(loss)) == f"keras_geo>{type(loss).__name__}"


@pytest.mark.slow
def test_models_compiled_with_each_loss_load_in_a_fresh_process(tmp_path):
    rng = np.random.default_rng(11)
    x = _structured(rng, 4, 32, 32, 1)
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    settings = {"ms_ssim": SMALL_MS, "mixed": {**SMALL_MS, "alpha": 0.7}}
    expected = {}
    for name in available():
        keras.utils.set_random_seed(0)
        inputs = keras.Input((32, 32, 1))
        model = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(inputs))
        loss = get(name, **settings.get(name, {}))
        model.compile(optimizer="adam", loss=loss)
        model.save(tmp_path / f"{name}.keras")
        expected[name] = (type(loss).__name__, float(_np(loss(x, model.predict(y, verbose=0)))))
    script = (
        "import json, sys, numpy as np, keras, keras_geo, keras_geo.losses\n"
        f"x, y = np.load({str(tmp_path / 'x.npy')!r}), np.load({str(tmp_path / 'y.npy')!r})\n"
        "out = {}\n"
        f"for name in {sorted(expected)!r}:\n"
        f"    m = keras.models.load_model({str(tmp_path)!r} + f'/{{name}}.keras', safe_mode=True)\n"
        "    value = m.loss(x, m.predict(y, verbose=0))\n"
        "    out[name] = (type(m.loss).__name__, float(keras.ops.convert_to_numpy(value)))\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(loaded) == set(expected)
    for name, (cls_name, value) in expected.items():
        assert loaded[name][0] == cls_name
        np.testing.assert_allclose(loaded[name][1], value, rtol=1e-5, atol=1e-6, err_msg=name)
