"""The Gate Module: which blocks feed which, its width, its arithmetic, serialisation, mixed precision."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from keras_geo.layers import GateModule, gate_inbounds, gate_width


def test_block_j_takes_its_input_and_those_of_the_blocks_1_3_7_before_it():
    assert gate_inbounds(0) == [0]
    assert gate_inbounds(1) == [1, 0]
    assert gate_inbounds(2) == [2, 1]
    assert gate_inbounds(3) == [3, 2, 0]
    assert gate_inbounds(6) == [6, 5, 3]
    assert gate_inbounds(7) == [7, 6, 4, 0]
    for j in range(200):
        inbounds = gate_inbounds(j)
        assert inbounds == [j + 1 - 2**k for k in range(int(math.floor(math.log2(j + 1))) + 1)]
        assert len(inbounds) == int(math.floor(math.log2(j + 1))) + 1 and min(inbounds) >= 0


@pytest.mark.parametrize("index", [-1, 1.5, True, "3"])
def test_a_bad_block_index_is_refused(index):
    with pytest.raises(ValueError, match="index"):
        gate_inbounds(index)


@pytest.mark.parametrize(
    "channels, reduction, width",
    [(64, 8, 8), (256, 8, 32), (2048, 8, 256), (16, 2, 8), (64, 2, 32), (3, 8, 8), (96, 8, 16), (100, 8, 16)],
)
def test_the_hidden_width_is_rounded_up_to_a_multiple_of_8(channels, reduction, width):
    assert gate_width(channels, reduction) == width


def _numpy_gate(layer: GateModule, y: np.ndarray, xs: list[np.ndarray]) -> np.ndarray:
    """The reference's forward pass written out (batch norm in inference mode)."""
    pooled = np.concatenate([t.mean(axis=(1, 2)) for t in [y, *xs]], axis=-1)
    hidden = pooled @ np.asarray(layer.squeeze.kernel)
    gamma, beta, mean, var = (np.asarray(w) for w in layer.norm.weights)
    hidden = gamma * (hidden - mean) / np.sqrt(var + layer.epsilon) + beta
    hidden = np.maximum(hidden, 0.0)
    logits = hidden @ np.asarray(layer.excite.kernel) + np.asarray(layer.excite.bias)
    logits = logits.reshape(len(y), 1 + len(xs), -1)
    keep = 1.0 / (1.0 + np.exp(-logits[:, 0]))
    shares = np.exp(logits[:, 1:] - logits[:, 1:].max(axis=1, keepdims=True))
    shares /= shares.sum(axis=1, keepdims=True)
    out = y * keep[:, None, None, :]
    for i, x in enumerate(xs):
        out = out + x * shares[:, i][:, None, None, :]
    return out


@pytest.mark.parametrize("n_inputs", [1, 2, 4])
def test_the_gate_computes_sigmoid_times_y_plus_the_softmax_mix_of_the_earlier_tensors(n_inputs):
    rng = np.random.default_rng(n_inputs)
    y = rng.normal(size=(3, 5, 4, 16)).astype("float32")
    xs = [rng.normal(size=(3, 5, 4, 16)).astype("float32") for _ in range(n_inputs)]
    layer = GateModule(reduction=2)
    layer([y, *xs])
    for weight in layer.weights:  # non-trivial weights, statistics included
        weight.assign(
            rng.uniform(0.5, 1.5, size=weight.shape).astype("float32") * rng.choice([-1, 1], weight.shape)
            if "variance" not in weight.path
            else rng.uniform(0.5, 1.5, size=weight.shape).astype("float32")
        )
    got = np.asarray(layer([y, *xs], training=False))
    np.testing.assert_allclose(got, _numpy_gate(layer, y, xs), rtol=1e-4, atol=1e-4)
    assert layer.squeeze.kernel.shape == ((1 + n_inputs) * 16, 8) and layer.excite.kernel.shape == (
        8,
        (1 + n_inputs) * 16,
    )


def test_the_shares_of_the_earlier_tensors_sum_to_one():
    """With y = 0 and every earlier tensor the same, the gate returns that tensor whatever its weights."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 3, 8)).astype("float32")
    layer = GateModule(reduction=1, normalization="layer", activation="gelu")
    layer([np.zeros_like(x), x, x, x])
    for weight in layer.weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    np.testing.assert_allclose(np.asarray(layer([np.zeros_like(x), x, x, x])), x, rtol=1e-5, atol=1e-5)


def test_the_gate_round_trips_through_its_config_and_a_saved_model(tmp_path):
    layer = GateModule(reduction=4, normalization="layer", activation="gelu", name="g")
    clone = GateModule.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config() and clone.epsilon == 1e-6
    inputs = [keras.Input((4, 4, 8)) for _ in range(3)]
    model = keras.Model(inputs, layer(inputs))
    data = [np.random.default_rng(i).normal(size=(2, 4, 4, 8)).astype("float32") for i in range(3)]
    model.save(tmp_path / "gate.keras")
    loaded = keras.saving.load_model(tmp_path / "gate.keras", safe_mode=True)
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))


def test_under_mixed_precision_the_gate_computes_in_float16_and_its_weights_stay_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = GateModule()
        inputs = [keras.ops.ones((2, 4, 4, 16), dtype="float16") for _ in range(3)]
        out = layer(inputs, training=True)
        assert out.dtype == "float16" and all(w.dtype == "float32" for w in layer.weights)
        assert np.isfinite(np.asarray(out, dtype="float32")).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"reduction": 0}, "reduction"),
        ({"reduction": -2}, "reduction"),
        ({"reduction": float("nan")}, "reduction"),
        ({"divisor": 0}, "divisor"),
        ({"normalization": "group"}, "normalization"),
        ({"activation": "nope"}, "activation"),
    ],
)
def test_bad_settings_name_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=f"`{word}`.*Received"):
        GateModule(**kwargs)


def test_the_gate_needs_two_tensors_of_one_width():
    with pytest.raises(ValueError, match="at least two 4-D tensors"):
        GateModule()([keras.ops.ones((1, 2, 2, 4))])
    with pytest.raises(ValueError, match="one known number of channels"):
        GateModule()([keras.ops.ones((1, 2, 2, 4)), keras.ops.ones((1, 2, 2, 8))])
