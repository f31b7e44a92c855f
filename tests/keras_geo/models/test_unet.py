"""U-Net builder: shapes, names, validation, registry, denoising training, save/load."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_geo.models import _registry
from keras_geo.models.unet import build_unet


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_registered_as_unet():
    assert _registry.get("unet") is build_unet
    assert _registry.describe("unet").startswith("U-Net")
    arguments = _registry.builder_arguments("unet")
    assert arguments["depth"] == 3 and arguments["upsampling"] == "transpose"
    assert not _registry.accepts_any_keyword("unet")
    assert _registry.tasks_of("unet") == ("image_to_image",)
    assert "unet" in _registry.serving("image_to_image")


@pytest.mark.parametrize(
    "shape, out, kwargs",
    [
        ((32, 32, 1), 1, {}),
        ((32, 48, 3), 2, {"depth": 2, "upsampling": "bilinear"}),
        ((16, 64, 2), 2, {"depth": 4, "filters": 4, "normalization": "none", "dropout": 0.2}),
        ((24, 24, 3), 3, {"depth": 1, "residual": True, "output_activation": None, "convs_per_block": 1}),
        ((32, 32, 2), 1, {"depth": 2, "filters": 4, "normalization": "instance"}),
    ],
)
def test_output_has_the_input_size_and_output_channels(shape, out, kwargs):
    model = build_unet(shape, out, **kwargs)
    assert model.output_shape == (None, *shape[:2], out)
    y = _np(model(np.random.default_rng(0).random((2, *shape), dtype=np.float32)))
    assert y.shape == (2, *shape[:2], out) and np.isfinite(y).all()


def test_any_size_input_with_none_height_and_width():
    model = build_unet((None, None, 1), depth=2, filters=4)
    for h, w in ((32, 32), (16, 40)):
        assert _np(model(np.zeros((1, h, w, 1), np.float32))).shape == (1, h, w, 1)


def test_output_activation():
    x = np.random.default_rng(1).normal(0, 3, (2, 16, 16, 1)).astype(np.float32)
    sigmoid = _np(build_unet((16, 16, 1), depth=2, filters=4)(x))
    assert sigmoid.min() >= 0 and sigmoid.max() <= 1
    assert (
        build_unet((16, 16, 1), depth=2, filters=4, output_activation=None)
        .get_layer("unet_output")
        .get_config()["activation"]
        == "linear"
    )


def test_residual_model_starts_as_the_identity():
    x = np.random.default_rng(2).random((2, 16, 16, 2), dtype=np.float32)
    model = build_unet((16, 16, 2), 2, depth=2, filters=4, residual=True, output_activation=None)
    np.testing.assert_allclose(_np(model(x)), x, atol=1e-6)
    assert model.get_layer("unet_residual") is not None


def test_output_is_float32_under_mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        for residual in (False, True):
            model = build_unet((16, 16, 1), depth=2, filters=4, residual=residual, output_activation=None)
            assert model.get_layer("unet_down1_conv1").compute_dtype == "bfloat16"
            y = model(np.zeros((1, 16, 16, 1), np.float32))
            assert keras.backend.standardize_dtype(y.dtype) == "float32"
    finally:
        keras.config.set_dtype_policy(previous)


def test_layer_names_are_predictable():
    model = build_unet((32, 32, 1), depth=2, filters=4, dropout=0.1, name="net")
    names = [layer.name for layer in model.layers]
    for expected in [
        "net_input",
        "net_down1_conv1",
        "net_down1_bn1",
        "net_down1_act1",
        "net_down1_conv2",
        "net_down1_pool",
        "net_down2_conv2",
        "net_down2_pool",
        "net_bottleneck_conv1",
        "net_bottleneck_bn2",
        "net_bottleneck_act2",
        "net_bottleneck_dropout",
        "net_up2_upsample",
        "net_up2_concat",
        "net_up2_conv1",
        "net_up2_act2",
        "net_up1_upsample",
        "net_up1_concat",
        "net_up1_conv2",
        "net_output",
    ]:
        assert expected in names, expected
    assert names[-1] == "net_output"
    assert names.index("net_up2_upsample") < names.index("net_up1_upsample")  # decoder: coarse to fine
    # Filters: 4, 8 in the encoder, 16 in the bottleneck, mirrored in the decoder.
    assert model.get_layer("net_down1_conv1").filters == 4
    assert model.get_layer("net_down2_conv1").filters == 8
    assert model.get_layer("net_bottleneck_conv1").filters == 16
    assert model.get_layer("net_up2_conv1").filters == 8
    assert model.get_layer("net_up1_conv1").filters == 4
    # The skip of block b joins the decoder block of the same resolution.
    assert model.get_layer("net_up1_concat").output.shape[1:3] == (32, 32)
    assert model.get_layer("net_bottleneck_conv1").output.shape[1:3] == (8, 8)


def test_filter_cap_and_options_change_the_model():
    base = build_unet((32, 32, 1), depth=3, filters=8, max_filters=16)
    assert base.get_layer("unet_bottleneck_conv1").filters == 16
    no_norm = build_unet((32, 32, 1), depth=3, filters=8, normalization="none")
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization | keras.layers.GroupNormalization) for layer in no_norm.layers
    )
    assert no_norm.get_layer("unet_down1_conv1").use_bias
    bilinear = build_unet((32, 32, 1), depth=3, filters=8, upsampling="bilinear")
    assert isinstance(bilinear.get_layer("unet_up1_upsample"), keras.layers.UpSampling2D)
    transpose = build_unet((32, 32, 1), depth=3, filters=8)
    assert isinstance(transpose.get_layer("unet_up1_upsample"), keras.layers.Conv2DTranspose)
    assert not bilinear.get_layer("unet_up1_upsample").weights  # fixed interpolation


@pytest.mark.parametrize(
    "normalization, layer_type, suffix",
    [("batch", keras.layers.BatchNormalization, "bn"), ("instance", keras.layers.GroupNormalization, "in")],
)
def test_normalisation_layers_follow_each_convolution_with_predictable_names(normalization, layer_type, suffix):
    model = build_unet((32, 32, 1), depth=2, filters=4, normalization=normalization, name="net")
    norms = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization | keras.layers.GroupNormalization)
    ]
    # 2 encoder blocks, the bottleneck and 2 decoder blocks, 2 convolutions each.
    assert len(norms) == 10 and all(type(layer) is layer_type for layer in norms)
    for block in ("down1", "down2", "bottleneck", "up2", "up1"):
        for i in (1, 2):
            assert isinstance(model.get_layer(f"net_{block}_{suffix}{i}"), layer_type)
            assert not model.get_layer(f"net_{block}_conv{i}").use_bias  # the normalisation's shift replaces it
    if normalization == "instance":
        assert model.get_layer("net_down1_in1").groups == 4  # one group per channel
    names = [layer.name for layer in model.layers]
    assert names.index("net_down1_conv1") < names.index(f"net_down1_{suffix}1") < names.index("net_down1_act1")


def test_instance_normalisation_is_per_sample_in_training_too():
    """Batch norm in training mixes the samples of a batch; instance norm does not."""
    x = np.random.default_rng(3).random((4, 16, 16, 1), dtype=np.float32)
    for normalization, independent in (("instance", True), ("batch", False)):
        keras.utils.set_random_seed(0)
        model = build_unet((16, 16, 1), depth=2, filters=4, normalization=normalization)
        alone, in_batch = _np(model(x[:1], training=True)), _np(model(x, training=True))[:1]
        assert np.allclose(alone, in_batch, atol=1e-5) == independent, normalization


@pytest.mark.parametrize(
    "normalization, kwargs, ratio",
    [
        # Instance norm removes each image's levels: with a sigmoid output the loss stalls near 0.16, above
        # the noise (0.07); added to the input (residual) it learns the correction. Measured ratios of the
        # last to the first epoch's loss for seeds 0-2: 0.51-0.54 (instance, residual), 0.24-0.31 (none).
        ("instance", {"residual": True, "output_activation": None}, 0.75),
        ("none", {}, 0.5),
    ],
)
def test_unet_trains_with_instance_and_without_normalisation(normalization, kwargs, ratio):
    rng = np.random.default_rng(0)
    clean = _blobs(rng, 32, size=16)
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = build_unet((16, 16, 1), depth=2, filters=8, normalization=normalization, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mae")
    history = model.fit(noisy, clean, batch_size=8, epochs=8, verbose=0).history["loss"]
    assert np.isfinite(history).all()
    assert history[-1] < ratio * history[0], history


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"input_shape": (30, 32, 1)}, "divisible by 2\\*\\*depth = 8"),
        ({"input_shape": (32, 32, 1), "depth": 6}, "divisible"),
        ({"input_shape": (32, 32)}, "input_shape"),
        ({"input_shape": (32, 32, None)}, "input_shape"),
        ({"input_shape": (0, 32, 1)}, "input_shape"),
        ({"output_channels": 0}, "output_channels"),
        ({"depth": 0}, "depth"),
        ({"filters": 0}, "filters"),
        ({"filter_growth": 0}, "filter_growth"),
        ({"max_filters": 0}, "max_filters"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"convs_per_block": 0}, "convs_per_block"),
        ({"bn_momentum": 1.0}, "bn_momentum"),
        ({"dropout": 1.0}, "dropout"),
        ({"upsampling": "nearest"}, "upsampling"),
        ({"activation": "no_such_activation"}, "activation"),
        ({"output_activation": "no_such_activation"}, "output_activation"),
        ({"residual": True, "output_channels": 3}, "output_channels"),
        ({"residual": "yes"}, "residual"),
        ({"normalization": "group"}, "normalization.*'batch', 'instance', 'none'.*normalization='group'"),
        ({"normalization": True}, "normalization=True"),
    ],
)
def test_bad_arguments_name_the_argument_and_echo_the_value(kwargs, word):
    kwargs = {"input_shape": (32, 32, 1), **kwargs}
    with pytest.raises(ValueError, match=word) as info:
        build_unet(**kwargs)
    assert "Received" in str(info.value)


def _blobs(rng, n, size=32):
    """Smooth Gaussian blobs in [0, 1]: clean targets of a denoising problem."""
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.zeros((n, size, size, 1), np.float32)
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(4, size - 4, 2)
            s, a = rng.uniform(2, 6), rng.uniform(0.4, 0.9)
            out[i, ..., 0] += a * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    return np.clip(out, 0, 1)


@pytest.mark.slow
def test_denoising_unet_beats_the_noisy_input_and_reloads_in_a_fresh_process(tmp_path):
    from keras_geo.losses import MixedLoss
    from keras_geo.metrics import PSNR, SSIM, psnr

    rng = np.random.default_rng(0)
    clean = _blobs(rng, 80)
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    x_train, y_train, x_test, y_test = noisy[:64], clean[:64], noisy[64:], clean[64:]

    keras.utils.set_random_seed(0)
    model = build_unet((32, 32, 1), depth=2, filters=8, normalization="none", residual=True, output_activation=None)
    # 32x32 images are too small for 5-scale MS-SSIM (161 px): 3 scales, 7-pixel window (25 px).
    loss = MixedLoss(alpha=0.84, filter_size=7, power_factors=(0.3, 0.3, 0.4))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss, metrics=[PSNR(), SSIM(filter_size=7)])
    history = model.fit(x_train, y_train, batch_size=16, epochs=20, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]

    predicted = model.predict(x_test, verbose=0)
    noisy_db = float(np.mean(_np(psnr(y_test, x_test))))
    denoised_db = float(np.mean(_np(psnr(y_test, predicted))))
    # Measured: about +8 to +10 dB over the noisy input (21.8 dB) for seeds 0-2; the residual
    # model starts as the identity (+0 dB), so +3 dB is learning, with room for any numerics.
    assert denoised_db > noisy_db + 3.0, (noisy_db, denoised_db)

    path = tmp_path / "unet.keras"
    model.save(path)
    np.save(tmp_path / "x.npy", x_test)
    script = (
        "import numpy as np, keras, keras_geo, keras_geo.losses, keras_geo.metrics, keras_geo.models.unet\n"
        f"m = keras.models.load_model({str(path)!r}, safe_mode=True)\n"
        "assert type(m.loss).__name__ == 'MixedLoss', m.loss\n"
        "assert m.loss.get_config()['power_factors'] == [0.3, 0.3, 0.4]\n"
        f"np.save({str(tmp_path / 'y.npy')!r}, m.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), predicted, rtol=1e-5, atol=1e-5)
