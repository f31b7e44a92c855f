"""Training targets in keras.ops: IoU, deltas (round trip, clamp), matching rules, seeded sampling."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_geo.detection import targets


def test_iou_of_known_pairs():
    a = np.array([[[0, 0, 10, 10], [0, 0, 0, 0]]], "float32")
    b = np.array([[[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]]], "float32")
    iou = np.asarray(targets.pairwise_iou(a, b))
    np.testing.assert_allclose(iou[0, 0], [50 / 150, 1.0, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(iou[0, 1], [0.0, 0.0, 0.0])  # an empty box overlaps nothing, no NaN


def test_deltas_round_trip_and_decoding_clamps_sizes():
    rng = np.random.default_rng(0)
    refs = np.concatenate([rng.uniform(0, 100, (50, 2)), rng.uniform(0, 100, (50, 2)) + 110], axis=1)
    refs[:, 2:] = refs[:, :2] + rng.uniform(4, 80, (50, 2))
    boxes = refs + rng.normal(scale=5.0, size=refs.shape)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    for weights in (targets.RPN_WEIGHTS, targets.HEAD_WEIGHTS):
        deltas = targets.encode(boxes.astype("float32"), refs.astype("float32"), weights)
        back = np.asarray(targets.decode(deltas, refs.astype("float32"), weights))
        np.testing.assert_allclose(back, boxes, rtol=1e-4, atol=1e-3)
    huge = np.asarray(
        targets.decode(np.array([[0, 0, 50.0, 50.0]], "float32"), np.array([[0, 0, 16, 16]], "float32"), (1, 1, 1, 1))
    )
    assert np.all(np.isfinite(huge)) and huge[0, 2] - huge[0, 0] == pytest.approx(1000.0, rel=1e-4)


def test_matching_marks_positives_negatives_and_the_ignored():
    iou = np.array([[[0.8, 0.1], [0.5, 0.2], [0.1, 0.05], [0.2, 0.35]]], "float32")
    valid = np.array([[True, True]])
    index, label = (np.asarray(v) for v in targets.match(iou, valid, high=0.7, low=0.3, keep_best=False))
    np.testing.assert_array_equal(label[0], [1, -1, 0, -1])
    np.testing.assert_array_equal(index[0, [0, 3]], [0, 1])
    _, label = (np.asarray(v) for v in targets.match(iou, valid, high=0.7, low=0.3, keep_best=True))
    np.testing.assert_array_equal(label[0], [1, -1, 0, 1])  # box 3 is object 1's best: positive


def test_padded_objects_are_never_matched_and_an_empty_image_is_all_background():
    iou = np.array([[[0.9, 0.1]], [[0.9, 0.95]]], "float32")
    valid = np.array([[False, True], [False, False]])
    index, label = (np.asarray(v) for v in targets.match(iou, valid, high=0.7, low=0.3, keep_best=True))
    assert index[0, 0] == 1 and label[0, 0] == 1  # object 1 (its only valid one): keep_best makes it positive
    assert label[1, 0] == 0


def test_sampling_takes_at_most_the_positive_share_and_never_the_ignored():
    label = np.array([[1] * 10 + [0] * 100 + [-1] * 20, [1] * 2 + [0] * 5 + [-1] * 123], "int32")
    seed = keras.random.SeedGenerator(0)
    chosen = np.asarray(targets.sample(label, 16, 0.25, seed))
    assert chosen[0, :10].sum() == 4 and chosen[0, 10:110].sum() == 12 and chosen[0, 110:].sum() == 0
    assert chosen[1, :2].sum() == 2 and chosen[1, 2:7].sum() == 5 and chosen[1, 7:].sum() == 0
    again = np.asarray(targets.sample(label, 16, 0.25, keras.random.SeedGenerator(0)))
    np.testing.assert_array_equal(chosen, again)  # one seed, one choice
    other = np.asarray(targets.sample(label, 16, 0.25, keras.random.SeedGenerator(1)))
    assert not np.array_equal(chosen, other)
