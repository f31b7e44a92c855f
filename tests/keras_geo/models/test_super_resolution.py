"""SRCNN and EDSR builders: shapes, global skip, names, validation, registry, save/load, training."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_geo import models
from keras_geo.models import _registry
from keras_geo.models.super_resolution import build_edsr, build_srcnn

BUILDERS = {"srcnn": build_srcnn, "edsr": build_edsr}
SMALL = {"srcnn": {"filters": 8, "kernel_sizes": (3, 3, 3)}, "edsr": {"blocks": 2, "filters": 8}}


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("name", ["srcnn", "edsr"])
def test_registered_for_image_to_image(name):
    assert _registry.get(name) is BUILDERS[name]
    assert getattr(models, f"build_{name}") is BUILDERS[name]
    assert _registry.tasks_of(name) == ("image_to_image",)
    assert name in _registry.serving("image_to_image")
    assert not _registry.accepts_any_keyword(name)
    arguments = _registry.builder_arguments(name)
    assert arguments["output_channels"] == 1 and arguments["output_activation"] is None


def test_defaults_follow_the_papers():
    srcnn = build_srcnn()
    assert [srcnn.get_layer(f"srcnn_conv{i}").kernel_size for i in (1, 2, 3)] == [(9, 9), (5, 5), (5, 5)]
    assert [srcnn.get_layer(f"srcnn_conv{i}").filters for i in (1, 2, 3)] == [64, 32, 1]
    edsr = build_edsr()
    assert edsr.get_layer("edsr_block8_scale").scale == pytest.approx(0.1)
    assert edsr.get_layer("edsr_head").filters == 64
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in edsr.layers)


@pytest.mark.parametrize("name", ["srcnn", "edsr"])
@pytest.mark.parametrize("shape", [(16, 16, 1), (12, 20, 2), (None, None, 1)])
def test_same_size_output_and_untrained_model_is_the_identity(name, shape):
    model = BUILDERS[name](input_shape=shape, output_channels=shape[2], **SMALL[name])
    x = np.random.default_rng(0).normal(size=(2, 16, 24, shape[2]) if shape[0] is None else (2, *shape))
    x = x.astype("float32")
    y = _np(model(x, training=False))
    assert y.shape == x.shape
    # The last convolution starts at zero: output = input + 0.
    np.testing.assert_allclose(y, x, atol=1e-6)
    assert model.get_layer(f"{name}_output").dtype_policy.compute_dtype == "float32"


@pytest.mark.parametrize("name, last", [("srcnn", "srcnn_conv3"), ("edsr", "edsr_tail")])
def test_output_is_input_plus_the_residual(name, last):
    model = BUILDERS[name](input_shape=(16, 16, 1), **SMALL[name])
    layer = model.get_layer(last)
    layer.kernel.assign(np.random.default_rng(1).normal(size=layer.kernel.shape).astype("float32") * 0.1)
    x = np.random.default_rng(2).normal(size=(2, 16, 16, 1)).astype("float32")
    residual = keras.Model(model.inputs[0], layer.output)
    y = _np(model(x))
    assert np.abs(y - x).max() > 1e-3
    np.testing.assert_allclose(y, x + _np(residual(x)), atol=1e-5)


def test_edsr_layer_names():
    model = build_edsr(input_shape=(8, 8, 1), blocks=3, filters=4, name="sr")
    names = [layer.name for layer in model.layers]
    expected = ["sr_input", "sr_head"]
    for b in (1, 2, 3):
        expected += [f"sr_block{b}_{s}" for s in ("conv1", "relu", "conv2", "scale", "add")]
    expected += ["sr_body_conv", "sr_long_skip", "sr_tail", "sr_skip", "sr_output"]
    assert names == expected
    assert len(model.get_layer("sr_long_skip").input) == 2


def test_output_activation_applies_after_the_skip():
    model = build_edsr(input_shape=(8, 8, 1), blocks=1, filters=4, output_activation="relu")
    x = np.linspace(-1, 1, 64, dtype="float32").reshape(1, 8, 8, 1)
    np.testing.assert_allclose(_np(model(x)), np.maximum(x, 0), atol=1e-6)


def test_srcnn_kernel_sizes_as_a_string():
    model = build_srcnn(input_shape=(16, 16, 1), filters=4, kernel_sizes="9-1-5")
    assert [model.get_layer(f"srcnn_conv{i}").kernel_size[0] for i in (1, 2, 3)] == [9, 1, 5]
    assert model.get_layer("srcnn_conv2").filters == 2


@pytest.mark.parametrize(
    "builder, kwargs, message",
    [
        (build_edsr, {"blocks": 0}, "`blocks` must be an integer >= 1. Received: blocks=0"),
        (build_edsr, {"blocks": 2.0}, "`blocks` must be an integer >= 1. Received: blocks=2.0"),
        (build_edsr, {"filters": -1}, "`filters` must be an integer >= 1. Received: filters=-1"),
        (build_edsr, {"kernel_size": 0}, "`kernel_size` must be an integer >= 1. Received: kernel_size=0"),
        (build_edsr, {"res_scale": 0}, "`res_scale` must be a number > 0. Received: res_scale=0"),
        (build_edsr, {"output_channels": 2}, "`output_channels` must equal the input channels"),
        (build_edsr, {"output_activation": "wobble"}, "`output_activation` must be a Keras activation name"),
        (build_edsr, {"input_shape": (16, 16)}, "`input_shape` must be (height, width, channels)"),
        (build_srcnn, {"filters": 0}, "`filters` must be an integer >= 1. Received: filters=0"),
        (build_srcnn, {"kernel_sizes": (9, 5)}, "`kernel_sizes` must be three integers >= 1"),
        (build_srcnn, {"kernel_sizes": "9-x-5"}, "Received: kernel_sizes='9-x-5'"),
        (build_srcnn, {"output_channels": 0}, "`output_channels` must be an integer >= 1"),
    ],
)
def test_bad_arguments_raise_one_line_errors(builder, kwargs, message):
    with pytest.raises(ValueError) as error:
        builder(**kwargs)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
    # The registry's check (a search configuration is refused when read) says the same without building.
    name = builder.__name__.removeprefix("build_")
    with pytest.raises(ValueError) as checked:
        models.check_arguments(name, kwargs)
    assert str(checked.value) == str(error.value)


@pytest.mark.parametrize("name", ["srcnn", "edsr"])
def test_keras_round_trip_with_safe_mode(name, tmp_path):
    model = BUILDERS[name](input_shape=(None, None, 1), **SMALL[name])
    for layer in model.layers:  # non-trivial weights everywhere, the zero-initialised tail included
        for weight in layer.weights:
            weight.assign(np.random.default_rng(3).normal(size=weight.shape).astype("float32") * 0.1)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    x = np.random.default_rng(4).normal(size=(1, 12, 20, 1)).astype("float32")
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), atol=1e-5)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in loaded.layers)


def _unit_range(data):
    """The data set mapped into [0, 1] by one affine map over all splits (the task's target check)."""
    values = np.concatenate([np.ravel(data[s][i]) for s in ("train", "val", "test") for i in (0, 1)])
    low, high = float(values.min()), float(values.max())
    return {s: tuple((data[s][i] - low) / (high - low) for i in (0, 1)) for s in ("train", "val", "test")}


def test_trains_one_epoch_on_the_bathymetry_data_set():
    from keras_geo import datasets, tasks, training

    data = datasets.load("bathymetry", n_train=16, n_val=4, n_test=4, tile=32, scale=4, seed=0)
    # The image_to_image task wants targets in [0, max_val]; the data set's are normalised elevations.
    task = tasks.get("image_to_image", output_activation=None)
    params = {"epochs": 1, "batch_size": 8, "blocks": 1, "filters": 8, "warmup_epochs": 0}
    result = training.train("edsr", _unit_range(data), params, task=task, seed=0)
    assert result.model.name == "edsr"
    assert result.model.output_shape == (None, 32, 32, 1)
    assert np.isfinite(result.metrics["val_loss"]) and np.isfinite(result.metrics["test_psnr"])
