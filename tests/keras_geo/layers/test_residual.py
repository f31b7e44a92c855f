"""Layer scale and stochastic depth."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_geo.layers import LayerScale, StochasticDepth


def test_layer_scale_multiplies_each_channel_by_its_learned_scale():
    layer = LayerScale(0.5)
    x = np.ones((2, 3, 3, 4), dtype="float32")
    np.testing.assert_allclose(np.asarray(layer(x)), 0.5 * x)
    layer.gamma.assign(np.arange(4, dtype="float32"))
    np.testing.assert_allclose(np.asarray(layer(x))[0, 0, 0], [0, 1, 2, 3])
    assert LayerScale.from_config(layer.get_config()).init_value == 0.5
    keras.backend.clear_session()


def test_stochastic_depth_drops_whole_samples_in_training_only():
    x = np.ones((4000, 2, 2, 3), dtype="float32")
    layer = StochasticDepth(0.25, seed=0)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)  # inference: identity
    out = np.asarray(layer(x, training=True))
    per_sample = out.reshape(len(x), -1)
    assert np.isclose(np.unique(per_sample), 0.0).sum() + np.isclose(np.unique(per_sample), 1.0 / 0.75).sum() == 2
    assert (per_sample.min(axis=1) == per_sample.max(axis=1)).all()  # a sample is dropped whole
    assert 0.22 < (per_sample[:, 0] == 0).mean() < 0.28
    assert abs(out.mean() - 1.0) < 0.05  # the scaling keeps the expectation
    assert StochasticDepth.from_config(layer.get_config()).rate == 0.25


@pytest.mark.parametrize("rate", [-0.1, 1.0, "0.2", True])
def test_a_drop_rate_outside_0_1_is_refused(rate):
    with pytest.raises(ValueError, match="`rate`"):
        StochasticDepth(rate)


def test_a_bad_init_value_is_refused():
    with pytest.raises(ValueError, match="`init_value`"):
        LayerScale(float("inf"))
