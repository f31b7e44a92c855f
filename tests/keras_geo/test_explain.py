"""Grad-CAM, Grad-CAM++ and CAM: identities, localisation, nested models, overlays, the explain CLI."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest

from keras_geo import explain, training
from keras_geo.cli import main
from keras_geo.datasets import shapes
from keras_geo.models import build_filler_cnn, build_mobilenet_v2_classifier


@pytest.fixture(scope="module")
def images():
    return shapes.make_shapes(4, 32, seed=0)


def gap_cnn(**kwargs):
    return build_filler_cnn(
        input_shape=(32, 32, 3), n_classes=5, conv_layers=3, filters=8, dense_layers=0, head="avg", **kwargs
    )


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_grad_cam_equals_cam_on_global_average_pooling_and_dense(images, dropout):
    # For GAP + dense, d(logit_c)/dA_k(i, j) = w_kc / (H W): Grad-CAM's weights are CAM's up to a
    # positive factor, and both maps are scaled to [0, 1]; so they agree to float precision, for any weights.
    keras.utils.set_random_seed(1)
    model = gap_cnn(dropout=dropout)
    grad, plain = explain.grad_cam(model, images.x), explain.cam(model, images.x)
    assert grad.shape == plain.shape == (20, 32, 32) and grad.dtype == np.float32
    assert np.abs(grad - plain).max() < 1e-5
    assert grad.min() >= 0.0 and np.isclose(grad.reshape(20, -1).max(axis=1), 1.0).sum() >= 15
    # A fixed class for every image gives that class's maps.
    np.testing.assert_allclose(
        explain.grad_cam(model, images.x, class_index=2), explain.cam(model, images.x, class_index=2), atol=1e-5
    )


def test_batched_maps_equal_one_image_at_a_time(images):
    keras.utils.set_random_seed(2)
    model = gap_cnn()
    for method in (explain.grad_cam, explain.grad_cam_plus_plus):
        batched = method(model, images.x[:6])
        single = np.stack([method(model, image)[0] for image in images.x[:6]])
        np.testing.assert_allclose(batched, single, atol=1e-5)


def test_feature_layer_skips_pooling_and_names_can_be_given(images):
    model = gap_cnn()
    assert explain.feature_layer(model).name == "filler_cnn_block3_act1"
    heat = explain.grad_cam(model, images.x[:2], layer="filler_cnn_block2_act1")
    assert heat.shape == (2, 32, 32)
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        explain.grad_cam(model, images.x[:2], layer="nope")
    with pytest.raises(ValueError, match="outside 0..4"):
        explain.grad_cam(model, images.x[:2], class_index=7)
    flat = build_filler_cnn(input_shape=(32, 32, 3), n_classes=5, conv_layers=2, head="flatten")
    with pytest.raises(ValueError, match="GlobalAveragePooling2D"):
        explain.cam(flat, images.x[:2])
    dense_only = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no layer with a 4-D"):
        explain.feature_layer(dense_only)


def test_heatmap_peak_falls_on_the_object():
    """A classifier whose class is decided by one object (square or cross) at a random place.

    The peak of each heatmap must fall on the object (its mask dilated by 2 px, the upsampling
    blur of the 16x16 feature map) in at least 75 % of the correctly classified test images. By
    chance, a peak lands there with the probability of the dilated mask's area, about 24 % here,
    so 75 % is three times chance; measured: 91 % (Grad-CAM), 95 % (Grad-CAM++).
    """
    kind = {"classes": ("square", "cross"), "object_size": (0.15, 0.25)}
    train, val, test = (shapes.make_shapes(n, 32, seed=s, **kind) for n, s in ((200, 1), (30, 2), (40, 3)))
    result = training.train(
        "filler_cnn",
        {"train": (train.x, train.y), "val": (val.x, val.y)},
        {
            "conv_layers": 2,
            "filters": 16,
            "dense_layers": 0,
            "head": "avg",
            "epochs": 20,
            "batch_size": 32,
            "learning_rate": 3e-3,
            "patience": 10,
        },
        seed=0,
    )
    model = result.model
    correct = np.asarray(model(test.x, training=False)).argmax(-1) == test.y
    assert correct.mean() >= 0.6  # the classifier learned something; the maps are about its evidence
    kernel = np.ones((5, 5), np.uint8)
    regions = np.stack([cv2.dilate(m.astype(np.uint8), kernel).astype(bool) for m in test.masks])[correct]
    chance = regions.mean()
    assert chance < 0.3
    for method in (explain.grad_cam, explain.grad_cam_plus_plus):
        heat = method(model, test.x[correct])
        peaks = [np.unravel_index(np.argmax(h), h.shape) for h in heat]
        on_object = np.mean([region[peak] for region, peak in zip(regions, peaks)])
        assert on_object >= 0.75, (method.__name__, on_object, chance)


def test_grad_cam_finds_the_layer_inside_a_nested_mobilenet(images):
    keras.utils.set_random_seed(3)
    x = cv2.resize(images.x[0], (64, 64))[None].repeat(3, axis=0)
    model = build_mobilenet_v2_classifier((64, 64, 3), 5, alpha=0.35)
    layer = explain.feature_layer(model)
    assert layer.name == "out_relu" and layer in model.get_layer("mobilenet_v2_classifier_base").layers
    # What naive code does, and why it fails: the inner layer's output is not in the outer graph.
    with pytest.raises(ValueError):
        keras.Model(model.inputs, [layer.output, model.output])
    heat = explain.grad_cam(model, x)
    assert heat.shape == (3, 64, 64) and 0.0 <= heat.min() and heat.max() <= 1.0
    # The base's top (GAP + dense) makes CAM apply to the nested model too, and agree.
    np.testing.assert_allclose(heat, explain.cam(model, x), atol=1e-5)
    assert explain.grad_cam_plus_plus(model, x).shape == (3, 64, 64)
    # The model is left as it was: its softmax is back, its layer's call restored.
    probabilities = np.asarray(model(x))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert "call" not in vars(layer)


def test_overlay_turns_the_hottest_region_red():
    image = np.full((40, 40), 0.5, dtype="float32")  # grey
    heat = np.zeros((10, 10), dtype="float32")
    heat[2:4, 6:8] = 1.0  # small map: resized to the image
    out = explain.overlay(image, heat, alpha=0.5)
    assert out.shape == (40, 40, 3) and out.dtype == np.uint8
    hot, cold = out[12, 28], out[35, 5]
    # JET's top is dark red (128, 0, 0): blended half over grey, red leads by half the grey.
    assert hot[0] > hot[1] + 50 and hot[0] > hot[2] + 50  # red where attended
    assert cold[2] > cold[0] + 40 and cold[2] > cold[1] + 40  # JET's bottom, blue, where not
    grey = explain.to_uint8_rgb(image)
    assert (grey == 128).all()
    with pytest.raises(ValueError, match="alpha"):
        explain.overlay(image, heat, alpha=1.5)


def test_save_grid_and_explain_to_files(tmp_path, images):
    model = gap_cnn()
    done = explain.explain_to_files(
        model, images.x[:3], tmp_path, method="gradcam++", class_names=shapes.CLASSES, true_labels=images.y[:3]
    )
    assert done.grid.is_file() and done.grid.stat().st_size > 5000
    assert len(done.overlays) == 3 and all(p.is_file() for p in done.overlays)
    assert cv2.imread(str(done.overlays[0])).shape == (32, 32, 3)
    assert len(done.predicted) == 3 and all(0 <= c <= 1 for c in done.confidence)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain")
    keras.utils.set_random_seed(4)
    path = folder / "gap.keras"
    gap_cnn().save(path)
    shapes.write_image_folder(folder / "images", 2, 40, seed=5)  # 40 px: the CLI resizes to 32
    return path, folder / "images"


def test_explain_cli_on_a_class_folder(saved_model, tmp_path, capsys):
    model, folder = saved_model
    out = tmp_path / "out"
    assert main(["explain", str(model), str(folder), "--out", str(out), "--method", "cam"]) == 0
    printed = capsys.readouterr().out
    assert "10 overlays" in printed and "disc_0000" in printed
    assert (out / "grid.png").is_file() and len(list(out.glob("*_cam.png"))) == 10


def test_explain_cli_on_single_files_with_a_named_class(saved_model, tmp_path, capsys):
    model, folder = saved_model
    files = [str(p) for p in sorted((folder / "ring").glob("*.png"))]
    names = ",".join(shapes.CLASSES)
    assert main(["explain", str(model), *files, "--out", str(tmp_path), "--class", "ring", "--class-names", names]) == 0
    assert len(list(tmp_path.glob("*_gradcam.png"))) == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--class", "tulip"], "class index 0..4 or a class name"),
        (["--class", "9"], "the model has classes 0..4"),
        (["--class-names", "a,b"], "2 class names for a model with 5 outputs"),
        (["--layer", "nope"], "no layer named 'nope'"),
    ],
)
def test_explain_cli_errors_exit_2(saved_model, tmp_path, capsys, extra, message):
    model, folder = saved_model
    assert main(["explain", str(model), str(folder / "disc"), "--out", str(tmp_path), *extra]) == 2
    assert message in capsys.readouterr().err


def test_explain_cli_missing_inputs_exit_2(saved_model, tmp_path, capsys):
    model, _ = saved_model
    assert main(["explain", str(tmp_path / "no.keras"), str(tmp_path), "--out", str(tmp_path)]) == 2
    assert main(["explain", str(model), str(tmp_path / "nothing"), "--out", str(tmp_path)]) == 2
    assert "no such image or folder" in capsys.readouterr().err


@pytest.mark.slow
def test_mobilenet_v2_is_searchable_from_a_config(tmp_path):
    import yaml

    from hpo.store import TrialStore

    config = tmp_path / "mobilenet.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "mobilenet-tiny",
                "dataset": {"name": "shapes", "image_size": 32, "n_train": 6, "n_val": 4, "n_test": 2},
                "model": {"builder": "mobilenet_v2", "fixed": {"alpha": 0.35}},
                "training": {"epochs": 1, "batch_size": 16},
                "space": {
                    "fine_tune_layers": {"type": "int", "low": 0, "high": 60, "step": 30},
                    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
                },
                "strategy": {"name": "random"},
                "executor": {"name": "serial"},
                "budget": {"trials": 2},
                "store": str(tmp_path / "store.db"),
            }
        )
    )
    assert main(["search", str(config)]) == 0
    trials = TrialStore(tmp_path / "store.db").trials()
    assert [t.status for t in trials] == ["done", "done"]
    assert all({"fine_tune_layers", "dropout"} == set(t.params) for t in trials)
