"""Training targets in keras.ops: IoU, deltas (round trip, clamp), matching rules, seeded sampling."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from keras_geo.detection import targets


def random_boxes(rng, k, size=100.0):
    corner = rng.uniform(0, size, (k, 2))
    extent = rng.uniform(1, size / 2, (k, 2))
    return np.concatenate([corner, corner + extent], axis=1).astype(np.float32)


def iou(a, b):
    return np.asarray(targets.pairwise_iou(np.asarray(a, "float32"), np.asarray(b, "float32")))


def test_iou_matches_hand_computed_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 2, 2]], np.float32)
    b = np.array([[5, 5, 15, 15], [0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 5]], np.float32)
    expected = [
        [25 / 175, 1.0, 0.0, 0.5],  # a quarter overlap (25 of 100 + 100 - 25), itself, disjoint, its half
        [0.0, 4 / 100, 0.0, 4 / 50],  # disjoint, inside (4 of 100), disjoint, inside (4 of 50)
    ]
    np.testing.assert_allclose(iou(a, b), expected, rtol=1e-6)
    assert iou([[0, 0, 10, 10]], [[10, 0, 20, 10]])[0, 0] == 0.0  # a shared edge has no area
    assert iou(np.zeros((0, 4)), b).shape == (0, 4) and iou(a, np.zeros((0, 4))).shape == (2, 0)


def test_iou_is_symmetric_one_on_itself_zero_for_empty_unions_and_batched():
    many = random_boxes(np.random.default_rng(1), 20)
    matrix = iou(many, many)
    np.testing.assert_allclose(matrix, matrix.T, rtol=1e-6)
    np.testing.assert_allclose(np.diag(matrix), 1.0, rtol=1e-6)
    assert np.all((0 <= matrix) & (matrix <= 1))
    assert iou([[3, 3, 3, 3]], [[3, 3, 3, 3]])[0, 0] == 0.0  # no NaN
    batched = iou(np.stack([many, many[::-1]]), np.stack([many[:5], many[:5]]))
    np.testing.assert_allclose(batched[1], matrix[::-1, :5], rtol=1e-6)


def test_encode_gives_the_faster_rcnn_deltas():
    anchor = np.array([[0, 0, 10, 20]], np.float32)  # centre (5, 10), size 10 x 20
    box = np.array([[2, 4, 22, 24]], np.float32)  # centre (12, 14), size 20 x 20
    expected = [10 * 7 / 10, 10 * 4 / 20, 5 * math.log(2), 5 * math.log(1)]
    np.testing.assert_allclose(targets.encode(box, anchor), [expected], rtol=1e-6)
    np.testing.assert_allclose(targets.encode(box, anchor, (1, 1, 1, 1)), [[0.7, 0.2, math.log(2), 0]], rtol=1e-6)


@pytest.mark.parametrize("weights", [targets.HEAD_WEIGHTS, targets.RPN_WEIGHTS])
def test_decode_inverts_encode(weights):
    rng = np.random.default_rng(2)
    truth, anchors = random_boxes(rng, 200), random_boxes(rng, 200)
    back = targets.decode(targets.encode(truth, anchors, weights), anchors, weights)
    np.testing.assert_allclose(back, truth, rtol=1e-5, atol=1e-3)
    one = anchors[:1]  # one anchor broadcast against many boxes
    np.testing.assert_allclose(targets.decode(targets.encode(truth, one), one), truth, rtol=1e-5, atol=2e-3)


def test_decode_clamps_the_size_change():
    anchor = np.array([[0, 0, 16, 16]], np.float32)
    wild = np.asarray(targets.decode(np.array([[0, 0, 5 * 50.0, 5 * 50.0]], "float32"), anchor))
    np.testing.assert_allclose(wild[0, 2] - wild[0, 0], 1000.0, rtol=1e-5)  # 16 * exp(log(1000 / 16))
    assert np.all(np.isfinite(targets.decode(np.array([[0, 0, 1e4, -1e4]], "float32"), anchor)))
    assert targets.CLAMP == pytest.approx(math.log(1000 / 16))


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
