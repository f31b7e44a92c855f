"""COCO evaluation (keras_geo.detection.evaluate): pycocotools' numbers, NaN where undefined, no crash on nothing."""

from __future__ import annotations

import contextlib
import io
import math
import sys

import numpy as np
import pycocotools  # noqa: F401  (the test extra installs it: no silent skip)
import pytest

from keras_geo.detection.evaluate import coco_evaluate
from tests import one_line

AP_KEYS = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large")
AR_KEYS = ("AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large")


def truth(boxes, classes=None):
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    classes = np.zeros(len(boxes), np.int64) if classes is None else np.asarray(classes, np.int64)
    return {"boxes": boxes, "classes": classes}


def found(boxes, scores, classes=None):
    image = truth(boxes, classes)
    image["scores"] = np.asarray(scores, dtype=np.float32)
    return image


def nothing():
    return found(np.zeros((0, 4)), [])


SMALL = [2, 2, 12, 12]  # 10 x 10
MEDIUM = [20, 20, 60, 60]  # 40 x 40
LARGE = [0, 100, 120, 220]  # 120 x 120


# ---- what each bin reports ------------------------------------------------------------------


def test_perfect_detections_score_one_where_there_are_objects_and_nan_elsewhere():
    objects = [truth([SMALL, MEDIUM], [0, 1]), truth([MEDIUM], [1])]
    detections = [found([SMALL, MEDIUM], [0.9, 0.8], [0, 1]), found([MEDIUM], [0.7], [1])]
    scores = coco_evaluate(objects, detections)
    for key in ("AP", "AP50", "AP75", "AP_small", "AP_medium", *AR_KEYS[:5]):
        assert scores[key] == pytest.approx(1.0), key
    assert math.isnan(scores["AP_large"]) and math.isnan(scores["AR_large"])  # no large object: undefined, not -1
    assert all(isinstance(scores[key], float) for key in AP_KEYS + AR_KEYS)


def test_boxes_shifted_to_iou_0_61_pass_at_0_5_and_fail_at_0_75():
    objects = [truth([[0, 0, 100, 100]])]
    detections = [found([[24, 0, 124, 100]], [0.9])]  # IoU 76 / 124 = 0.613
    scores = coco_evaluate(objects, detections)
    assert scores["AP50"] == pytest.approx(1.0)
    assert scores["AP75"] == 0.0
    assert scores["AP"] == pytest.approx(0.3)  # matched at 0.50, 0.55, 0.60 of the ten thresholds


def test_iou_is_computed_on_continuous_coordinates_and_a_match_needs_at_least_the_threshold():
    objects = [truth([[0, 0, 10, 10]])]
    # half the box: IoU 0.5 exactly, a match at 0.5 (">="); with a +1 on widths it would be 0.545 either way
    assert coco_evaluate(objects, [found([[0, 0, 10, 5]], [0.9])])["AP50"] == pytest.approx(1.0)
    # IoU 0.49: no match, though pycocotools 1.x's +1 convention would give (11 * 5.9) / 121 = 0.536
    assert coco_evaluate(objects, [found([[0, 0, 10, 4.9]], [0.9])])["AP50"] == 0.0


def test_zero_detections_give_zero_where_there_is_ground_truth_and_do_not_crash():
    objects = [truth([SMALL, LARGE], [0, 1]), truth([])]
    scores = coco_evaluate(objects, [nothing(), nothing()], per_class=True)
    for key in ("AP", "AP50", "AP75", "AP_small", "AP_large", "AR1", "AR10", "AR100", "AR_small", "AR_large"):
        assert scores[key] == 0.0, key
    assert math.isnan(scores["AP_medium"]) and math.isnan(scores["AR_medium"])
    assert scores["AP/0"] == 0.0 and scores["AP/1"] == 0.0
    assert scores["n_detections"] == 0


def test_no_ground_truth_at_all_leaves_every_value_undefined():
    scores = coco_evaluate([truth([]), truth([])], [found([SMALL], [0.9]), nothing()], class_names=["a", "b"])
    assert all(math.isnan(scores[key]) for key in AP_KEYS + AR_KEYS)
    assert (scores["n_images"], scores["n_objects"], scores["n_detections"]) == (2, 0, 1)
    assert math.isnan(coco_evaluate([], [])["AP"])


def test_a_false_positive_on_an_image_without_objects_lowers_precision_when_it_ranks_first():
    objects = [truth([MEDIUM]), truth([])]
    # ranked: false positive (0.9), then the hit (0.5): precision 0, 1/2 at recall 0, 1 -> 1/2 at every level
    outranked = coco_evaluate(objects, [found([MEDIUM], [0.5]), found([MEDIUM], [0.9])])
    assert outranked["AP"] == pytest.approx(0.5)
    assert outranked["AR100"] == pytest.approx(1.0)  # recall does not see false positives
    # ranked below the hit, it comes after full recall and costs nothing
    behind = coco_evaluate(objects, [found([MEDIUM], [0.9]), found([MEDIUM], [0.5])])
    assert behind["AP"] == pytest.approx(1.0)


def test_ap_is_the_mean_of_interpolated_precision_at_101_recall_levels():
    objects = [truth([[0, 0, 20, 20], [50, 50, 70, 70]])]
    # hit (0.9), miss (0.8), hit (0.7): precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1;
    # made non-increasing from the right: 1, 2/3, 2/3. Recall levels 0.00 .. 0.50 (51 of them) read 1,
    # levels 0.51 .. 1.00 (50) read 2/3.
    detections = [found([[0, 0, 20, 20], [100, 100, 120, 120], [50, 50, 70, 70]], [0.9, 0.8, 0.7])]
    expected = (51 * 1.0 + 50 * (2 / 3)) / 101  # 0.83498
    scores = coco_evaluate(objects, detections)
    for key in ("AP", "AP50", "AP75", "AP_small"):
        assert scores[key] == pytest.approx(expected, abs=1e-12), key
    assert scores["AR1"] == pytest.approx(0.5) and scores["AR10"] == pytest.approx(1.0)


def test_per_class_ap_and_the_classes_without_ground_truth():
    objects = [truth([SMALL, MEDIUM], [0, 1])]
    # class 0 found, class 1 missed, class 2 has detections but no ground truth anywhere
    detections = [found([SMALL, LARGE], [0.9, 0.95], [0, 2])]
    scores = coco_evaluate(objects, detections, class_names=["grain", "pore", "crack"], per_class=True)
    assert scores["AP/grain"] == pytest.approx(1.0)
    assert scores["AP/pore"] == 0.0
    assert math.isnan(scores["AP/crack"])
    assert scores["AP"] == pytest.approx(0.5)  # the mean over the classes with ground truth; crack's miss costs nothing
    assert not any(key.startswith("AP/") for key in coco_evaluate(objects, detections))  # only on request


def test_without_class_names_the_classes_are_0_to_the_largest_seen_and_named_by_index():
    objects = [truth([SMALL], [1])]
    scores = coco_evaluate(objects, [found([SMALL], [0.9], [3])], per_class=True)
    assert [key for key in scores if key.startswith("AP/")] == ["AP/0", "AP/1", "AP/2", "AP/3"]
    assert scores["AP/1"] == 0.0 and math.isnan(scores["AP/3"])


def test_counts_and_the_closed_size_bins():
    border = [0, 0, 32, 32]  # area exactly 32^2: pycocotools' bins are closed, so it is small and medium
    objects = [truth([SMALL, MEDIUM, LARGE, border]), truth([]), truth([SMALL])]
    detections = [found([SMALL], [0.9]), nothing(), found([SMALL, MEDIUM], [0.4, 0.3])]
    scores = coco_evaluate(objects, detections)
    assert scores["n_images"] == 3
    assert scores["n_objects"] == 5
    assert scores["n_detections"] == 3
    assert (scores["n_objects_small"], scores["n_objects_medium"], scores["n_objects_large"]) == (3, 2, 1)
    assert all(isinstance(scores[key], int) for key in scores if key.startswith("n_"))
    only_border = coco_evaluate([truth([border])], [found([border], [0.9])])
    assert only_border["AP_small"] == pytest.approx(1.0) and only_border["AP_medium"] == pytest.approx(1.0)
    assert math.isnan(only_border["AP_large"])


def test_max_detections_counts_per_image_and_class_and_names_the_last_recall():
    objects = [truth([MEDIUM])]
    decoys = [[200 + 10 * i, 0, 205 + 10 * i, 5] for i in range(4)]
    detections = [found([*decoys, MEDIUM], [0.9, 0.8, 0.7, 0.6, 0.5])]  # the hit ranks fifth
    assert coco_evaluate(objects, detections)["AR100"] == pytest.approx(1.0)
    capped = coco_evaluate(objects, detections, max_detections=4)
    assert capped["AP"] == 0.0 and capped["AR4"] == 0.0
    assert [key for key in capped if key.startswith("AR") and key[2:].isdigit()] == ["AR1", "AR4"]
    # the cap is per class: a fifth detection of another class does not push the hit out
    other = [found([*decoys[:3], [300, 300, 310, 310], MEDIUM], [0.9, 0.8, 0.7, 0.65, 0.6], [0, 0, 0, 1, 0])]
    assert coco_evaluate(objects, other, max_detections=4)["AR4"] == pytest.approx(1.0)


def test_image_sizes_are_checked_and_do_not_change_the_numbers():
    objects = [truth([SMALL]), truth([MEDIUM])]
    detections = [found([SMALL], [0.9]), found([[22, 20, 62, 60]], [0.8])]
    plain = coco_evaluate(objects, detections)
    assert coco_evaluate(objects, detections, image_sizes=(64, 64)) == plain
    assert coco_evaluate(objects, detections, image_sizes=[(64, 64), (128, 96)]) == plain
    with pytest.raises(ValueError, match=r"`image_sizes` must be .* one per image \(2\)") as error:
        coco_evaluate(objects, detections, image_sizes=[(64, 64)] * 3)
    one_line(error)


def test_the_numbers_are_pycocotools_own_summary():
    rng = np.random.default_rng(0)
    objects, detections = [], []
    for _ in range(6):
        k = int(rng.integers(0, 6))
        corners = rng.uniform(0, 150, (k, 2))
        boxes = np.concatenate([corners, corners + rng.uniform(4, 120, (k, 2))], axis=1)
        objects.append(truth(boxes, rng.integers(0, 3, k)))
        jitter = boxes + rng.normal(0, 4, boxes.shape)
        jitter[:, 2:] = np.maximum(jitter[:, 2:], jitter[:, :2] + 1)
        extra = rng.uniform(0, 150, (2, 2))
        extra = np.concatenate([extra, extra + 20], axis=1)
        detections.append(found(np.concatenate([jitter, extra]), rng.uniform(0, 1, k + 2), rng.integers(0, 3, k + 2)))
    ours = coco_evaluate(objects, detections, class_names=["a", "b", "c"])

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(box):
        return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]

    annotations = [
        {"image_id": i + 1, "category_id": int(c) + 1, "bbox": xywh(b), "iscrowd": 0}
        for i, image in enumerate(objects)
        for b, c in zip(image["boxes"], image["classes"])
    ]
    for n, annotation in enumerate(annotations, start=1):
        annotation["id"] = n  # from 1: pycocotools reads id 0 as "no match"
        annotation["area"] = annotation["bbox"][2] * annotation["bbox"][3]
    results = [
        {"image_id": i + 1, "category_id": int(c) + 1, "bbox": xywh(b), "score": float(s)}
        for i, image in enumerate(detections)
        for b, c, s in zip(image["boxes"], image["classes"], image["scores"])
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = COCO()
        ground_truth.dataset = {
            "images": [{"id": i + 1} for i in range(len(objects))],
            "categories": [{"id": c + 1} for c in range(3)],
            "annotations": annotations,
        }
        ground_truth.createIndex()
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(results), iouType="bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    theirs = [math.nan if value == -1 else value for value in evaluation.stats]
    np.testing.assert_allclose([ours[key] for key in AP_KEYS + AR_KEYS], theirs, rtol=1e-12)
    assert 0.0 < ours["AP"] < 1.0


# ---- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("objects", "detections", "options", "message"),
    [
        ([truth([SMALL])], [], {}, r"same length .* Received: len\(objects\)=1, len\(detections\)=0"),
        ([{"boxes": [SMALL]}], [nothing()], {}, r"`objects\[0\]` must be a dict with the keys 'boxes', 'classes'"),
        ([truth([SMALL])], [{"boxes": [SMALL], "classes": [0]}], {}, r"`detections\[0\]` .* 'scores'\. Received"),
        (
            [truth([])],
            [{"boxes": [[1, 2, 3]], "classes": [0], "scores": [0.5]}],
            {},
            r"`detections\[0\]\['boxes'\]` must have shape \(k, 4\)\. Received: shape \(1, 3\)",
        ),
        ([truth([[10, 0, 5, 5]])], [nothing()], {}, r"x_min <= x_max .* Received: row 0 = \[10\.0, 0\.0, 5\.0, 5\.0\]"),
        ([truth([[0, 0, np.nan, 5]])], [nothing()], {}, r"`objects\[0\]\['boxes'\]` must be finite"),
        ([{"boxes": [["a", 0, 1, 1]], "classes": [0]}], [nothing()], {}, r"must be a \(k, 4\) array of numbers"),
        (
            [truth([SMALL])],
            [found([SMALL], [1.5])],
            {},
            r"`detections\[0\]\['scores'\]` must lie in \[0, 1\]\. Received: 1\.5",
        ),
        ([truth([SMALL])], [found([SMALL], [np.nan])], {}, r"must lie in \[0, 1\]\. Received: nan"),
        ([truth([SMALL])], [found([SMALL], [0.5, 0.4])], {}, r"`detections\[0\]\['scores'\]` must have shape \(1,\)"),
        (
            [{"boxes": [SMALL], "classes": [0, 1]}],
            [nothing()],
            {},
            r"`objects\[0\]\['classes'\]` must have shape \(1,\)",
        ),
        ([{"boxes": [SMALL], "classes": [0.5]}], [nothing()], {}, r"`objects\[0\]\['classes'\]` must be integers"),
        ([truth([SMALL], [-1])], [nothing()], {}, r"must be >= 0\. Received: class -1"),
        (
            [truth([SMALL], [2])],
            [nothing()],
            {"class_names": ["a", "b"]},
            r"`objects\[0\]\['classes'\]` must be indices of `class_names` \(0 \.\. 1\)\. Received: class 2",
        ),
        (
            [truth([SMALL])],
            [found([SMALL], [0.5], [5])],
            {"class_names": ["a"]},
            r"`detections\[0\]\['classes'\]` must be indices",
        ),
        ([truth([SMALL])], [nothing()], {"class_names": "ab"}, r"`class_names` must be a sequence of strings"),
        (
            [truth([SMALL])],
            [nothing()],
            {"class_names": ["a", "a"]},
            r"distinct strings\. Received: class_names=\['a', 'a'\]",
        ),
        (
            [truth([SMALL])],
            [nothing()],
            {"max_detections": 0},
            r"`max_detections` must be an integer >= 1\. Received: max_detections=0",
        ),
        (truth([SMALL]), nothing(), {}, r"must be lists with one dict per image"),
    ],
)
def test_bad_input_is_refused_in_one_line(objects, detections, options, message):
    with pytest.raises(ValueError, match=message) as error:
        coco_evaluate(objects, detections, **options)
    one_line(error)


def test_without_pycocotools_the_error_says_which_extra_to_install(monkeypatch):
    for name in ("pycocotools", "pycocotools.coco", "pycocotools.cocoeval"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'keras-geo\[detection\]'") as error:
        coco_evaluate([truth([SMALL])], [found([SMALL], [0.9])])
    one_line(error)
