"""Detection through the task layer, the search and the command line: train, COCO scores, report, export, detect."""

from __future__ import annotations

import json

import cv2
import keras
import numpy as np
import pytest
import yaml

from keras_geo import datasets, tasks, training
from keras_geo.cli import main
from keras_geo.datasets.scenes import CLASSES, generate_scenes
from keras_geo.detection.annotations import read_coco
from keras_geo.detection.draw import draw_boxes
from keras_geo.detection.model import TwoStageDetector
from tests import ROOT, one_line

SMALL = {"backbone_width": 8, "fpn_channels": 16, "head_units": 32, "rois": 16, "anchor_scale": 0.75}
DATA = {"n_train": 16, "n_val": 8, "n_test": 8, "image_size": 64, "max_objects": 3}


@pytest.fixture(scope="module")
def trained():
    data = datasets.load("scenes", **DATA)
    return data, training.train("two_stage_detector", data, {"epochs": 2, "batch_size": 4, **SMALL}, seed=0)


def test_a_detector_trains_through_the_task_layer_with_coco_scores(trained):
    data, result = trained
    assert isinstance(result.task, tasks.Detection) and result.task.class_names == CLASSES
    for split in ("val", "test"):
        for key in ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AR100"):
            value = result.metrics[f"{split}_{key}"]
            assert 0.0 <= value <= 1.0, (split, key, value)
    assert np.isnan(result.metrics["val_AP_large"])  # 64-pixel scenes hold no large object: undefined, not 0
    assert {"train_loss", "val_loss", "train_rpn_objectness", "val_head_class"} <= set(result.metrics)
    assert isinstance(result.model, TwoStageDetector) and result.model.class_names == CLASSES
    report = result.reports["val"]
    assert report.to_dict()["scores"]["AP_large"] is None and "| square |" in report.table()


def test_one_seed_gives_the_same_training(trained):
    data, result = trained
    again = training.train("two_stage_detector", data, {"epochs": 2, "batch_size": 4, **SMALL}, seed=0)
    assert again.history["loss"] == result.history["loss"]
    assert again.metrics["val_AP"] == result.metrics["val_AP"]


def test_the_task_refuses_what_is_not_detection():
    task = tasks.get("detection")
    images = np.zeros((2, 32, 32, 3), "float32")
    with pytest.raises(ValueError) as error:
        task.check_split("train", (images, [{"boxes": np.zeros((1, 4))}] * 2))
    assert "must be a dict with 'boxes' and 'classes'" in one_line(error)
    with pytest.raises(ValueError) as error:
        task.check_split("train", (images, [{"boxes": np.zeros((1, 4)), "classes": [0]}]))
    assert "must hold one dict per image (2 images). Received: 1" in one_line(error)
    with pytest.raises(ValueError) as error:
        task.start(images, [{"boxes": np.zeros((0, 4), "float32"), "classes": np.zeros(0, "int64")}] * 2)
    assert "the training split has no objects" in one_line(error)
    with pytest.raises(ValueError) as error:
        task.compile(keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]), keras.optimizers.Adam(), {})
    assert "the detection task needs a detector" in one_line(error)


def test_boxes_are_drawn_in_their_class_colour_with_the_truth_in_white():
    image = np.zeros((40, 40, 3), "float32")
    found = {"boxes": np.array([[5, 5, 20, 20]], "float32"), "classes": np.array([1]), "scores": np.array([0.9])}
    truth = {"boxes": np.array([[25, 25, 35, 35]], "float32"), "classes": np.array([0])}
    drawn = draw_boxes(image, found, class_names=["a", "b"], truth=truth)
    assert drawn.shape == (40, 40, 3) and drawn.dtype == np.uint8
    assert tuple(drawn[12, 5]) == (60, 180, 75)  # the left edge of the class-1 box
    assert tuple(drawn[30, 25]) == (255, 255, 255)
    assert draw_boxes(image, found, min_score=0.95).max() == 0  # below the score: not drawn


def test_detect_draws_the_boxes_and_writes_coco_that_reads_back(trained, tmp_path, capsys):
    _, result = trained
    path = tmp_path / "detector.keras"
    result.model.save(path)
    images, _ = generate_scenes(2, image_size=96, seed=9)  # another size than the model's: scaled back
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"scene{i}.png"), cv2.cvtColor((image * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    (folder / "notes.png").write_text("not an image")
    out = tmp_path / "out"
    assert main(["detect", str(path), str(folder), "--out", str(out), "--score", "0", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "skipped" in captured.err and "notes.png" in captured.err
    assert sorted(p.name for p in out.iterdir()) == [
        "annotations.json",
        "detections.json",
        "scene0_detections.png",
        "scene1_detections.png",
    ]
    results = json.loads((out / "detections.json").read_text())
    assert results and {"image_id", "category_id", "bbox", "score"} <= set(results[0])
    back = read_coco(out / "annotations.json", images_dir="/")
    assert back.class_names == CLASSES and back.images.shape == (2, 96, 96, 3)
    assert sum(len(o["classes"]) for o in back.objects) == len(results)
    boxes = np.concatenate([o["boxes"] for o in back.objects])
    assert boxes.max() <= 96 and boxes.min() >= 0


@pytest.mark.parametrize(
    "case, message",
    [
        ("no-model", "no such model file"),
        ("not-a-detector", "is not a detector"),
        ("no-images", "no image among the inputs"),
        ("missing", "no such image or folder"),
        ("bad-score", "--score must be in [0, 1]"),
    ],
)
def test_detect_refuses_with_one_line(tmp_path, capsys, case, message):
    model = tmp_path / "m.keras"
    keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]).save(model)
    folder = tmp_path / "empty"
    folder.mkdir()
    argv = ["detect", str(model), str(folder), "--out", str(tmp_path / "out"), "--quiet"]
    if case == "no-model":
        argv[1] = str(tmp_path / "none.keras")
    elif case == "not-a-detector":
        cv2.imwrite(str(folder / "a.png"), np.zeros((8, 8, 3), np.uint8))
    elif case == "missing":
        argv[2] = str(tmp_path / "nowhere")
    elif case == "bad-score":
        argv += ["--score", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_shipped_detection_search_runs_reports_and_exports(tmp_path, capsys):
    config = tmp_path / "small.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "base": str(ROOT / "keras_geo" / "configs" / "detect_scenes.yaml"),
                "store": str(tmp_path / "run" / "store.db"),
                "dataset": DATA,
                "model": {
                    "builder": "two_stage_detector",
                    "fixed": {k: v for k, v in SMALL.items() if k not in ("rois", "anchor_scale")},
                },
                "training": {"epochs": 1, "batch_size": 4},
                "executor": {"name": "serial"},
                "budget": {"trials": 2},
                "space": {"relation": ["none", "lambda"], "rois": [16], "anchor_scale": [0.75]},
            }
        )
    )
    assert main(["search", str(config)]) == 0
    assert "detection of scenes with two_stage_detector, objective maximize val_AP" in capsys.readouterr().out
    store = tmp_path / "run" / "store.db"
    assert main(["report", str(store)]) == 0
    report = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "## Detections of the best model" in report and "| AP | AP50 |" in report
    assert (tmp_path / "run" / "report" / "detections_best.png").stat().st_size > 1000
    assert main(["export", str(store), "--out", str(tmp_path / "best.keras")]) == 0
    loaded = keras.saving.load_model(tmp_path / "best.keras", safe_mode=True)
    assert isinstance(loaded, TwoStageDetector) and loaded.class_names == CLASSES


def test_bad_boxes_in_a_split_are_dropped_or_clipped_with_one_warning_that_counts_them():
    images = np.zeros((2, 32, 32, 3), "float32")
    objects = [
        {
            "boxes": np.array([[2, 2, 10, 10], [5, 5, 5, 9], [40, 40, 50, 50], [20, 20, 40, 30]], "float32"),
            "classes": np.array([0, 1, 0, 1]),
        },
        {"boxes": np.array([[np.nan, 1, 4, 4], [1, 1, 8, 8]], "float32"), "classes": np.array([0, -2])},
    ]
    with pytest.warns(UserWarning) as caught:
        _, cleaned = tasks.get("detection").check_split("train", (images, objects))
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("data['train']: skipped 4 bad boxes and clipped 1 of 6 (")
    assert (
        "1 zero-area" in message and "1 outside" in message and "1 NaN" in message and "1 unknown class -2" in message
    )
    assert "first in image 0, box 1 [5.0, 5.0, 5.0, 9.0] class 1" in message
    np.testing.assert_array_equal(cleaned[0]["boxes"], [[2, 2, 10, 10], [20, 20, 32, 30]])  # the last one clipped
    np.testing.assert_array_equal(cleaned[0]["classes"], [0, 1])
    assert cleaned[1]["boxes"].shape == (0, 4) and cleaned[1]["classes"].dtype == np.int64
