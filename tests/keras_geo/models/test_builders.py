"""Model builders: shapes, parameter counts, names, registry, validation, save/load."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_geo import models
from keras_geo.models import build_cnfm, build_filler_cnn
from tests import predict_in_fresh_process


def test_registry_lists_and_returns_builders():
    assert {"filler_cnn", "cnfm"} <= set(models.available())
    assert models.get("filler_cnn") is build_filler_cnn
    assert models.describe("filler_cnn").startswith("Filler CNN")
    assert models.builder_arguments("filler_cnn")["conv_layers"] == 4


def test_registry_unknown_name_lists_known_ones():
    with pytest.raises(KeyError, match="filler_cnn"):
        models.get("no_such_model")


def test_registry_refuses_a_second_builder_under_the_same_name():
    with pytest.raises(ValueError, match="already registered"):
        models.register("filler_cnn")(lambda **kw: None)


@pytest.mark.parametrize("shape", [(64, 64, 1), (32, 48, 3)])
@pytest.mark.parametrize("head", ["flatten", "avg", "max"])
def test_output_shape_is_batch_by_classes(shape, head):
    model = build_filler_cnn(shape, 5, conv_layers=3, head=head)
    out = keras.ops.convert_to_numpy(model(np.zeros((2, *shape), "float32")))
    assert tuple(out.shape) == (2, 5)
    np.testing.assert_allclose(np.sum(out, axis=-1), 1.0, rtol=1e-5)


def test_parameter_count_matches_hand_count():
    # 2 blocks of 3x3 convs without bias (batch norm follows): 1->4, 4->8 filters;
    # BN has 4 weights per channel; flatten 16x16 -> 4x4x8 = 128 -> dense 10 -> 3.
    model = build_filler_cnn((16, 16, 1), 3, conv_layers=2, filters=4, dense_layers=1, units=10, head="flatten")
    conv = 3 * 3 * 1 * 4 + 3 * 3 * 4 * 8
    bn = 4 * (4 + 8)
    dense = (128 * 10 + 10) + (10 * 3 + 3)
    assert model.count_params() == conv + bn + dense


def test_every_choice_is_a_keyword_and_changes_the_model():
    base = build_filler_cnn((32, 32, 1), 3, conv_layers=2, filters=4)
    variants = {
        "conv_layers": 3,
        "filters": 8,
        "kernel_size": 5,
        "convs_per_block": 2,
        "pooling": "stride",
        "batch_norm": False,
        "bn_momentum": 0.5,
        "dense_layers": 2,
        "units": 32,
        "head": "flatten",
    }
    for key, value in variants.items():
        kwargs = {"conv_layers": 2, "filters": 4, key: value}
        assert build_filler_cnn((32, 32, 1), 3, **kwargs).to_json() != base.to_json(), key


def test_per_block_filters_and_growth():
    model = build_filler_cnn((32, 32, 1), 3, conv_layers=3, filters=8, filter_growth=2, max_filters=16)
    assert [model.get_layer(f"filler_cnn_block{b}_conv1").filters for b in (1, 2, 3)] == [8, 16, 16]
    model = build_filler_cnn((32, 32, 1), 3, conv_layers=2, filters=[5, 7])
    assert model.get_layer("filler_cnn_block2_conv1").filters == 7


def test_layer_names_are_predictable():
    model = build_filler_cnn((32, 32, 1), 3, conv_layers=2, dense_layers=2, dropout=0.5)
    names = {layer.name for layer in model.layers}
    assert {
        "filler_cnn_block1_conv1",
        "filler_cnn_block1_bn1",
        "filler_cnn_block2_act1",
        "filler_cnn_block2_pool",
        "filler_cnn_head",
        "filler_cnn_dense2",
        "filler_cnn_dropout2",
        "filler_cnn_predictions",
    } <= names


def test_dropout_zero_adds_no_dropout_layer():
    model = build_filler_cnn((32, 32, 1), 3, conv_layers=1, dense_layers=2, dropout=0.0)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)


@pytest.mark.parametrize("m", range(2, 10))
def test_cnfm_counts_the_output_layer(m):
    model = build_cnfm(4, m, input_shape=(32, 32, 1))
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert (len(convs), len(dense)) == (4, m)
    assert model.name == f"C4F{m}"


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"pooling": "median"}, "pooling"),
        ({"head": "gap"}, "head"),
        ({"conv_layers": 6}, "at least 64 pixels"),
        ({"units": [8, 8], "dense_layers": 1}, "units"),
        ({"dropout": 1.5}, "dropout"),
        ({"activation": "nope"}, "activation"),
        ({"n_classes": 0}, "n_classes"),
        ({"classifier_activation": "nope"}, "classifier_activation"),
        ({"head": None}, "head"),
        ({"input_shape": (32, 32)}, "input_shape"),
    ],
)
def test_bad_arguments_name_the_argument_and_echo_the_value(kwargs, word):
    kwargs = {"input_shape": (32, 32, 1), **kwargs}
    with pytest.raises(ValueError, match=word) as info:
        build_filler_cnn(**kwargs)
    assert "Received" in str(info.value)


def test_saved_model_loads_in_a_fresh_process(tmp_path):
    model = build_filler_cnn((32, 32, 1), 3, conv_layers=2, filters=4)
    x = np.random.default_rng(0).random((4, 32, 32, 1), dtype=np.float32)
    expected = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    np.testing.assert_allclose(predict_in_fresh_process(path, x, tmp_path), expected, rtol=1e-5, atol=1e-6)


# -- MobileNetV2 transfer classifier ---------------------------------------------------------


def test_mobilenet_v2_classifier_is_registered_frozen_and_takes_unit_images():
    from keras_geo.models import build_mobilenet_v2_classifier

    assert models.get("mobilenet_v2") is build_mobilenet_v2_classifier
    model = build_mobilenet_v2_classifier((48, 48, 3), 4, alpha=0.35, dropout=0.1)
    base = model.get_layer("mobilenet_v2_classifier_base")
    assert not base.trainable and model.output_shape == (None, 4)
    trainable = {w.path for w in model.trainable_weights}
    assert all("logits" in p for p in trainable)  # only the head learns
    grey = build_mobilenet_v2_classifier((32, 32, 1), 3, alpha=0.35)
    assert grey.predict(np.zeros((2, 32, 32, 1)), verbose=0).shape == (2, 3)


def test_mobilenet_v2_fine_tunes_only_the_last_layers():
    from keras_geo.models import build_mobilenet_v2_classifier

    model = build_mobilenet_v2_classifier((32, 32, 3), 3, alpha=0.35, fine_tune_layers=5)
    base = model.get_layer("mobilenet_v2_classifier_base")
    flags = [layer.trainable for layer in base.layers]
    assert flags[-5:] == [True] * 5 and not any(flags[:-5])


def test_mobilenet_v2_weights_come_from_a_local_file_only(tmp_path):
    from keras_geo.models import build_mobilenet_v2_classifier

    with pytest.raises(FileNotFoundError, match="never downloads"):
        build_mobilenet_v2_classifier((32, 32, 3), 3, weights=tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="never downloads weights"):
        build_mobilenet_v2_classifier((32, 32, 3), 3, weights="imagenet")
    # A base saved by one model (e.g. pretrained on another task) loads into a new classifier.
    keras.utils.set_random_seed(0)
    source = build_mobilenet_v2_classifier((32, 32, 3), 3, alpha=0.35)
    path = tmp_path / "base.weights.h5"
    source.get_layer("mobilenet_v2_classifier_base").save_weights(path)
    target = build_mobilenet_v2_classifier((32, 32, 3), 5, alpha=0.35, weights=path)
    for a, b in zip(
        source.get_layer("mobilenet_v2_classifier_base").weights,
        target.get_layer("mobilenet_v2_classifier_base").weights,
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="at least 32x32"):
        build_mobilenet_v2_classifier((16, 16, 3), 3)


@pytest.mark.parametrize("name", ["filler_cnn", "mobilenet_v2", "skip_resnet", "resnet110", "convnext"])
def test_builders_follow_the_keras_applications_contract(name):
    """include_top=False gives a backbone, classifier_activation=None logits, n_classes=1 a scalar head."""
    build = models.get(name)
    shape = (32, 32, 1)
    classifier = build(input_shape=shape, n_classes=3)
    assert classifier.layers[-1].name.endswith("_predictions") and classifier.output_shape == (None, 3)
    assert classifier.get_layer(classifier.layers[-1].name.replace("predictions", "logits")) is not None
    logits = build(input_shape=shape, n_classes=3, classifier_activation=None)
    assert (
        isinstance(logits.layers[-1], keras.layers.Dense) and logits.layers[-1].activation is keras.activations.linear
    )
    scalar = build(input_shape=shape, n_classes=1, classifier_activation=None)
    assert scalar.output_shape == (None, 1)
    backbone = build(input_shape=shape, include_top=False)
    assert len(backbone.output_shape) == 2 and not any("predictions" in layer.name for layer in backbone.layers)
    pooling = "head" if name == "filler_cnn" else "pooling"
    features = build(input_shape=shape, include_top=False, **{pooling: None})
    assert len(features.output_shape) == 4


def test_softmax_as_its_own_layer_computes_what_a_softmax_dense_layer_does():
    """The classifier keeps its numbers bit for bit: Dense + Activation(softmax) is Dense(softmax)."""
    model = build_filler_cnn((16, 16, 1), 3, conv_layers=2, filters=4)
    dense = model.get_layer("filler_cnn_logits")
    fused = keras.layers.Dense(3, activation="softmax")
    fused.build(dense.input.shape)
    fused.set_weights(dense.get_weights())
    features = np.random.default_rng(0).normal(size=(5, dense.input.shape[-1])).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(fused(features)), keras.ops.convert_to_numpy(model.layers[-1](dense(features)))
    )
