"""The two-stage detector: pyramid, training on padded batches, detections, relation modules, saving, bad settings."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_geo.datasets.scenes import generate_scenes
from keras_geo.detection.data import detection_dataset, pad_objects
from keras_geo.detection.evaluate import coco_evaluate
from keras_geo.detection.model import TwoStageDetector, pyramid_features
from keras_geo.detection.relations import RELATIONS
from keras_geo.models import build_two_stage_detector
from tests import one_line, predict_in_fresh_process

SIZE = 64
SMALL = {"backbone_width": 8, "fpn_channels": 16, "head_units": 32, "rois": 16, "rpn_pre_nms": 100}


@pytest.fixture(scope="module")
def scenes():
    return generate_scenes(8, image_size=SIZE, max_objects=3, seed=0)


def detections(out):
    return [
        {
            "boxes": out["boxes"][i][: out["count"][i]],
            "scores": out["scores"][i][: out["count"][i]],
            "classes": out["classes"][i][: out["count"][i]].astype(np.int64),
        }
        for i in range(len(out["count"]))
    ]


def test_the_pyramid_has_a_map_per_stride_of_one_width():
    model = pyramid_features((64, 48, 3), backbone_width=8, fpn_channels=16, strides=(8, 16, 32))
    shapes = [tuple(t.shape[1:]) for t in model.outputs]
    assert shapes == [(8, 6, 16), (4, 3, 16), (2, 2, 16)]  # 'same' padding: ceil(side / stride)
    assert [t.name.split("/")[0] for t in model.outputs] == ["fpn_p3", "fpn_p4", "fpn_p5"] or len(model.outputs) == 3


@pytest.mark.parametrize("backbone", ["resnet18", "skip_resnet18"])
def test_a_residual_backbone_gives_the_same_levels(backbone):
    model = pyramid_features((64, 64, 3), backbone=backbone, fpn_channels=16, strides=(8, 16, 32))
    assert [tuple(t.shape[1:]) for t in model.outputs] == [(8, 8, 16), (4, 4, 16), (2, 2, 16)]


def test_detections_are_padded_per_image_with_their_count(scenes):
    images, _ = scenes
    model = build_two_stage_detector((SIZE, SIZE, 3), 6, max_detections=10, score_threshold=0.0, **SMALL)
    out = model.predict(images[:3], verbose=0)
    assert out["boxes"].shape == (3, 10, 4) and out["scores"].shape == (3, 10) and out["classes"].shape == (3, 10)
    assert out["classes"].dtype == np.int32 and out["count"].shape == (3,)
    for i, count in enumerate(out["count"]):
        assert np.all(out["classes"][i, count:] == -1) and np.all(
            (out["classes"][i, :count] >= 0) & (out["classes"][i, :count] < 6)
        )
    assert np.all(out["boxes"] >= 0) and np.all(out["boxes"] <= SIZE)


def test_training_lowers_the_loss_and_learns_to_find_the_objects(scenes):
    images, objects = scenes
    keras.utils.set_random_seed(0)
    model = build_two_stage_detector((SIZE, SIZE, 3), 6, anchor_sizes=(12, 24, 48), score_threshold=0.0, **SMALL)
    model.compile(keras.optimizers.Adam(3e-3))
    history = model.fit(
        detection_dataset(images, objects, batch_size=4, shuffle=True, seed=0), epochs=25, shuffle=False, verbose=0
    )
    losses = history.history["loss"]
    assert all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]
    assert set(history.history) == {"loss", "rpn_objectness", "rpn_box", "head_class", "head_box"}
    scores = coco_evaluate(objects, detections(model.predict(images, verbose=0)))
    assert scores["AP50"] > 0.3  # it has learned where and what the 8 training scenes' objects are


@pytest.mark.parametrize("relation", [r for r in RELATIONS if r != "none"])
def test_each_relation_module_trains_and_the_saved_detector_loads_in_safe_mode(scenes, relation, tmp_path):
    images, objects = scenes
    keras.utils.set_random_seed(0)
    model = build_two_stage_detector((SIZE, SIZE, 3), 6, relation=relation, relation_settings={"heads": 2}, **SMALL)
    assert model.relation_layer is not None
    model.compile(keras.optimizers.Adam(1e-3))
    history = model.fit(images, pad_objects(objects), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    path = tmp_path / f"{relation}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, TwoStageDetector) and loaded.relation == relation
    for before, after in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
    ours, theirs = model.predict(images, verbose=0), loaded.predict(images, verbose=0)
    np.testing.assert_array_equal(ours["count"], theirs["count"])
    np.testing.assert_allclose(np.sort(ours["scores"], axis=1), np.sort(theirs["scores"], axis=1), atol=1e-5)
    if relation == "lambda":  # and in a process that imports keras_geo and nothing else
        fresh = predict_in_fresh_process(path, images, tmp_path)
        np.testing.assert_array_equal(fresh["count"], ours["count"])
        np.testing.assert_allclose(np.sort(fresh["scores"], axis=1), np.sort(ours["scores"], axis=1), atol=1e-5)


def test_a_batch_of_images_without_objects_trains(scenes):
    images, _ = scenes
    empty = [{"boxes": np.zeros((0, 4), "float32"), "classes": np.zeros(0, "int64")}] * 4
    model = build_two_stage_detector((SIZE, SIZE, 3), 6, **SMALL)
    model.compile("adam")
    history = model.fit(detection_dataset(images[:4], empty, batch_size=2), epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and history.history["rpn_box"][0] == 0.0


def test_evaluate_reports_the_training_losses(scenes):
    images, objects = scenes
    model = build_two_stage_detector((SIZE, SIZE, 3), 6, **SMALL)
    model.compile("adam")
    logs = model.evaluate(detection_dataset(images, objects, batch_size=4), verbose=0, return_dict=True)
    assert set(logs) == {"loss", "rpn_objectness", "rpn_box", "head_class", "head_box"}
    assert logs["loss"] == pytest.approx(sum(logs[k] for k in logs if k != "loss"), rel=1e-4)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"relation": "graph"}, "`relation` must be one of 'none', 'self_attention'"),
        ({"relation": "lambda", "relation_settings": {"colour": 1}}, "`relation_settings` of 'lambda': "),
        ({"rois": 0}, "`rois` must be an integer >= 1. Received: rois=0"),
        ({"nms_iou": 1.5}, "`nms_iou` must be in (0, 1]. Received: nms_iou=1.5"),
        ({"strides": (8, 16)}, "gives 3 maps but `strides` names 2 levels"),
    ],
)
def test_bad_settings_get_one_line(settings, message):
    features = pyramid_features((SIZE, SIZE, 3), backbone_width=4, fpn_channels=8)
    with pytest.raises(ValueError) as error:
        TwoStageDetector(features, 6, **settings)
    assert message in one_line(error)


def test_bad_pyramids_get_one_line():
    with pytest.raises(ValueError) as error:
        pyramid_features((SIZE, SIZE, 3), strides=(8, 32))
    assert "consecutive powers of 2" in one_line(error)
    with pytest.raises(ValueError) as error:
        pyramid_features((SIZE, SIZE, 3), backbone="alexnet")
    assert "`backbone` must be 'small' or a residual network" in one_line(error)
