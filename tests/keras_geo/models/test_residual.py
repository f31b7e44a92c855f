"""ResNet, ResNeXt, ConvNeXt and their Skip- versions: parity with the reference, names, backbone, saving, errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_geo import models
from keras_geo.explain import cam, feature_layer, grad_cam
from keras_geo.layers import GateModule, gate_inbounds, gate_width
from tests import predict_in_fresh_process


def _trainable(model: keras.Model) -> int:
    """Trainable parameters: what PyTorch counts (batch norm's moving statistics are buffers there)."""
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# The reference's figures (takedarts/skipresnet README: ImageNet at 224 px and 1000 classes,
# CIFAR-100 at 32 px).
REFERENCE = {
    "resnet34": 21.80e6,
    "skip_resnet34": 22.72e6,
    "resnet50": 25.56e6,
    "skip_resnet50": 40.15e6,
    "resnext50_32x4d": 25.03e6,
    "skip_resnext50_32x4d": 39.63e6,
    "convnext_tiny": 28.59e6,
    "skip_convnext_tiny": 31.14e6,
    "resnet110": 1.737e6,
    "skip_resnet110": 2.189e6,
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_parameters_match_the_reference_within_one_percent(name):
    model = models.get(name)()  # the reference's input size and classes are the named builders' defaults
    expected_input = (32, 32, 3) if "110" in name else (224, 224, 3)
    assert model.input_shape == (None, *expected_input)
    assert model.output_shape == (None, 100 if "110" in name else 1000)
    assert _trainable(model) == pytest.approx(REFERENCE[name], rel=0.01)
    keras.backend.clear_session()


def _gate_parameters(channels: int, inbounds: int, reduction: float) -> int:
    width = gate_width(channels, reduction)
    return (1 + inbounds) * channels * width + 2 * width + width * (1 + inbounds) * channels + (1 + inbounds) * channels


def test_a_skip_network_differs_from_its_resnet_by_the_gates_alone():
    """ResNet-20 (3 stages of 3 blocks, widths 16/32/64) plus one gate per block, ratio 2, counted by hand."""
    plain = models.build_resnet((32, 32, 1), 5, depth=20)
    skip = models.build_resnet((32, 32, 1), 5, depth=20, gate=True)
    gates = sum(_gate_parameters(c, len(gate_inbounds(j)), 2) for c in (16, 32, 64) for j in range(3))
    assert _trainable(skip) - _trainable(plain) == gates
    assert len([layer for layer in skip.layers if isinstance(layer, GateModule)]) == 9
    assert not any(isinstance(layer, GateModule) for layer in plain.layers)
    assert skip.name == "skip_resnet20" and plain.name == "resnet20"


def test_layer_names_are_predictable():
    model = models.build_skip_resnet50((64, 64, 3), 10)
    for name in (
        "skip_resnet50_stem_conv",
        "skip_resnet50_stage1_block1_shortcut_conv",
        "skip_resnet50_stage1_block1_1_conv",
        "skip_resnet50_stage2_block1_2_conv",
        "skip_resnet50_stage4_block3_3_bn",
        "skip_resnet50_stage4_block3_gate",
        "skip_resnet50_stage4_block3_out",
        "skip_resnet50_C5",
        "skip_resnet50_logits",
        "skip_resnet50_predictions",
    ):
        assert model.get_layer(name) is not None
    plain = models.build_resnet18((64, 64, 3), 10)
    assert plain.get_layer("resnet18_stage2_block2_add") is not None
    convnext = models.build_convnext((32, 32, 3), 4, depths=(1, 1, 2, 1), widths=(8, 16, 24, 32), gate=True)
    for name in ("skip_convnext_stem_conv", "skip_convnext_stage2_downsample_conv", "skip_convnext_stage3_block2_gate"):
        assert convnext.get_layer(name) is not None
    assert convnext.get_layer("skip_convnext_stage3_block2_gate").normalization == "layer"


def test_resnext_uses_grouped_convolutions():
    model = models.build_resnext50_32x4d((64, 64, 3), 10)
    conv = model.get_layer("resnext50_32x4d_stage1_block1_2_conv")
    assert conv.groups == 32 and conv.filters == 128  # 32 groups of 4 channels at the first stage


@pytest.mark.parametrize(
    "build, levels, strides",
    [
        (lambda: models.build_skip_resnet18((64, 64, 3), 3), ["C2", "C3", "C4", "C5"], [4, 8, 16, 32]),
        (lambda: models.build_resnet((32, 32, 1), 3, depth=8, gate=True), ["C0", "C1", "C2"], [1, 2, 4]),
        (
            lambda: models.build_convnext((64, 64, 3), 3, depths=(1, 1, 1, 1), widths=(8, 16, 24, 32), gate=True),
            ["C2", "C3", "C4", "C5"],
            [4, 8, 16, 32],
        ),
    ],
)
def test_the_backbone_returns_the_stage_outputs_by_level(build, levels, strides):
    model = build()
    features = models.backbone(model)
    size = model.input_shape[1]
    assert list(features.output) == levels
    assert [features.output[level].shape[1] for level in levels] == [size // s for s in strides]
    x = np.random.default_rng(0).random((2, *model.input_shape[1:]), dtype=np.float32)
    out = features.predict(x, verbose=0)
    assert set(out) == set(levels) and all(np.isfinite(v).all() for v in out.values())
    assert list(models.backbone(model, levels=levels[-2:]).output) == levels[-2:]
    with pytest.raises(ValueError, match="levels"):
        models.backbone(model, levels=[9])


def test_the_backbone_refuses_a_model_without_stages():
    with pytest.raises(ValueError, match="no stage outputs"):
        models.backbone(models.build_filler_cnn((32, 32, 1), 3))


def test_without_top_the_network_is_a_feature_extractor():
    features = models.build_skip_resnet((32, 32, 3), depth=14, include_top=False, pooling=None)
    assert features.output_shape == (None, 8, 8, 64)
    pooled = models.build_convnext((32, 32, 3), depths=(1, 1, 1, 1), widths=(8, 8, 8, 8), include_top=False)
    assert pooled.output_shape == (None, 8)
    regression = models.build_resnet((32, 32, 1), 2, depth=8, classifier_activation=None)
    assert isinstance(regression.layers[-1], keras.layers.Dense) and regression.output_shape == (None, 2)


SMALL = {
    "resnet": lambda shape: models.build_resnet(shape, 3, depth=8, gate=True),
    "resnext": lambda shape: models.build_residual_network(  # a small SkipResNeXt: grouped bottlenecks, gates
        shape,
        3,
        block="bottleneck",
        depths=(1, 1, 2, 1),
        widths=(8, 8, 16, 16),
        stem="imagenet",
        stem_width=8,
        groups=4,
        width_per_group=16,
        gate=True,
        name="skip_resnext",
    ),
    "convnext": lambda shape: models.build_convnext(shape, 3, depths=(1, 1, 2, 1), widths=(8, 16, 16, 24), gate=True),
}


@pytest.mark.parametrize("family", sorted(SMALL))
def test_grad_cam_and_cam_find_the_last_stage_without_a_layer_name(family):
    model = SMALL[family]((32, 32, 1))
    x = np.random.default_rng(1).random((3, 32, 32, 1), dtype=np.float32)
    layer = feature_layer(model)
    assert layer.name.endswith(("_C2", "_C5", "_head_ln"))
    for heat in (grad_cam(model, x), cam(model, x)):
        assert heat.shape == (3, 32, 32) and np.isfinite(heat).all() and heat.min() >= 0 and heat.max() <= 1


@pytest.mark.parametrize("family", sorted(SMALL))
def test_mixed_precision_builds_and_trains_one_step_on_cpu(family):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = SMALL[family]((32, 32, 1))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(2).random((4, 32, 32, 1), dtype=np.float32)
        history = model.fit(x, np.array([0, 1, 2, 0]), epochs=1, batch_size=4, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        gates = [layer for layer in model.layers if isinstance(layer, GateModule)]
        assert gates and all(g.compute_dtype == "float16" for g in gates) and model.output.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()


def test_a_saved_skip_resnet_loads_in_a_fresh_process_with_identical_predictions(tmp_path):
    keras.utils.set_random_seed(0)
    model = models.build_resnet((32, 32, 1), 3, depth=14, gate=True)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((8, 32, 32, 1), dtype=np.float32)
    model.fit(x, np.arange(8) % 3, epochs=1, verbose=0)  # moves the batch-norm statistics off their start
    expected = model.predict(x, verbose=0)
    path = tmp_path / "skip.keras"
    model.save(path)
    np.testing.assert_array_equal(predict_in_fresh_process(path, x, tmp_path), expected)


def test_weights_come_from_a_local_file_of_the_same_architecture(tmp_path):
    keras.utils.set_random_seed(0)
    source = models.build_resnet((32, 32, 1), 3, depth=8, gate=True)
    path = tmp_path / "skip8.weights.h5"
    source.save_weights(path)
    x = np.random.default_rng(3).random((2, 32, 32, 1), dtype=np.float32)
    target = models.build_resnet((32, 32, 1), 3, depth=8, gate=True, weights=path)
    np.testing.assert_array_equal(target.predict(x, verbose=0), source.predict(x, verbose=0))
    with pytest.raises(ValueError, match=r"^`weights` file .* does not fit resnet14") as info:
        models.build_resnet((32, 32, 1), 3, depth=14, weights=path)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="^`weights` file .* does not fit"):
        models.build_convnext((32, 32, 1), 3, depths=(1, 1, 1, 1), widths=(8, 8, 8, 8), weights=path)
    with pytest.raises(ValueError, match="never downloads"):
        models.build_resnet18((32, 32, 3), weights="imagenet")
    with pytest.raises(FileNotFoundError, match="not found"):
        models.build_resnet18((32, 32, 3), weights=tmp_path / "missing.weights.h5")


@pytest.mark.parametrize(
    "build, word",
    [
        (lambda: models.build_resnet((32, 32, 1), depth=19), "depth"),
        (lambda: models.build_resnet((32, 32, 1), depth="50"), "depth"),
        (lambda: models.build_skip_resnet((32, 32, 1), depth=20, gate_reduction=0), "gate_reduction"),
        (lambda: models.build_skip_resnet18((32, 32, 1), gate_reduction=-1.0), "gate_reduction"),
        (lambda: models.build_resnet18((16, 16, 3)), "input_shape"),
        (lambda: models.build_resnet((3, 3, 1), depth=20), "input_shape"),
        (lambda: models.build_convnext_tiny((31, 64, 3)), "input_shape"),
        (lambda: models.build_resnet((32, 32, 1), depth=20, groups=32), "groups"),
        (lambda: models.build_resnet((32, 32, 1), depth=20, gate="yes"), "gate"),
        (lambda: models.build_resnet((32, 32, 1), depth=20, pooling="sum"), "pooling"),
        (lambda: models.build_resnet((32, 32, 1), 0, depth=20), "n_classes"),
        (lambda: models.build_convnext((32, 32, 1), depths=(1, 1), widths=(8,)), "depths"),
        (lambda: models.build_convnext((32, 32, 1), drop_path_rate=1.0), "drop_path_rate"),
    ],
)
def test_bad_arguments_get_one_line_naming_the_argument(build, word):
    with pytest.raises(ValueError) as info:
        build()
    message = str(info.value)
    assert f"`{word}`" in message and "Received" in message and "\n" not in message


def test_named_builders_are_registered_with_the_depth_fixed_and_the_gate_settings_open():
    for name in (
        "resnet",
        "skip_resnet",
        "convnext",
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet101",
        "skip_resnet18",
        "skip_resnet34",
        "skip_resnet50",
        "skip_resnet101",
        "resnext50_32x4d",
        "skip_resnext50_32x4d",
        "convnext_tiny",
        "skip_convnext_tiny",
        "resnet110",
        "skip_resnet110",
    ):
        assert models.tasks_of(name) == ("classification", "regression")
        assert models.describe(name)
        arguments = models.builder_arguments(name)
        assert {"input_shape", "n_classes", "include_top", "pooling", "weights", "gate", "gate_reduction"} <= set(
            arguments
        )
        assert not models.accepts_any_keyword(name)
    assert "depth" not in models.builder_arguments("skip_resnet50") and "depth" in models.builder_arguments(
        "skip_resnet"
    )
    assert models.builder_arguments("skip_resnet50")["gate"] is True
    assert models.builder_arguments("resnet50")["gate"] is False
    with pytest.raises(TypeError):
        models.build_resnet50(depth=18)
    assert models.build_skip_resnet110(gate=False).name == "skip_resnet110"  # a builder's gate can be turned off
    keras.backend.clear_session()


def test_the_argument_check_refuses_what_the_builder_would_refuse_without_building():
    models.check_arguments("skip_resnet", {"depth": 56, "gate_reduction": 4})
    models.check_arguments("filler_cnn", {"filters": -1})  # no check registered: nothing to say
    with pytest.raises(ValueError, match="`depth`"):
        models.check_arguments("resnet", {"depth": 21})
    with pytest.raises(ValueError, match="`gate_reduction`"):
        models.check_arguments("skip_resnet18", {"gate_reduction": 0})
    with pytest.raises(ValueError, match="`groups`"):
        models.check_arguments("resnet", {"depth": 34, "groups": 32})
    with pytest.raises(ValueError, match="`depths`"):
        models.check_arguments("convnext", {"depths": []})
    with pytest.raises(ValueError, match="never downloads"):
        models.check_arguments("skip_convnext_tiny", {"weights": "imagenet"})
    with pytest.raises(FileNotFoundError, match="`weights` file not found"):
        models.check_arguments("resnet110", {"weights": "no/such.weights.h5"})
