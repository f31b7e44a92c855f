"""Box formats, area, clipping, scaling and COCO's size bins."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from keras_geo.detection import boxes


def random_boxes(rng, k, size=100.0):
    corner = rng.uniform(0, size, (k, 2))
    extent = rng.uniform(1, size / 2, (k, 2))
    return np.concatenate([corner, corner + extent], axis=1).astype(np.float32)


BOX = np.array([[10, 20, 40, 80]], np.float32)  # x 10-40, y 20-80: 30 wide, 60 high


def test_conversions_give_each_format_and_round_trip():
    np.testing.assert_array_equal(boxes.xyxy_to_xywh(BOX), [[10, 20, 30, 60]])
    np.testing.assert_array_equal(boxes.xyxy_to_cxcywh(BOX), [[25, 50, 30, 60]])
    np.testing.assert_array_equal(boxes.xywh_to_xyxy([[10, 20, 30, 60]]), BOX)
    np.testing.assert_array_equal(boxes.cxcywh_to_xyxy([[25, 50, 30, 60]]), BOX)
    many = random_boxes(np.random.default_rng(0), 50)
    np.testing.assert_allclose(boxes.xywh_to_xyxy(boxes.xyxy_to_xywh(many)), many, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(boxes.cxcywh_to_xyxy(boxes.xyxy_to_cxcywh(many)), many, rtol=1e-6, atol=1e-5)
    assert boxes.xyxy_to_xywh(many).dtype == np.float32
    assert boxes.xyxy_to_xywh(np.array([10, 20, 40, 80])).shape == (4,)  # one box, any leading shape


def test_every_function_takes_no_boxes():
    empty = np.zeros((0, 4), np.float32)
    for convert in (boxes.xyxy_to_xywh, boxes.xywh_to_xyxy, boxes.xyxy_to_cxcywh, boxes.cxcywh_to_xyxy):
        assert convert(empty).shape == (0, 4) and convert(empty).dtype == np.float32
    assert boxes.area(empty).shape == (0,)
    assert boxes.clip(empty, 10, 10).shape == (0, 4)
    assert boxes.scale(empty, 2, 3).shape == (0, 4)
    assert boxes.size_bin(empty).shape == (0,)


def test_bad_shapes_are_refused_with_the_shape():
    with pytest.raises(ValueError, match=r"`boxes` must have shape \(\.\.\., 4\)\. Received: boxes.shape=\(3, 5\)"):
        boxes.area(np.zeros((3, 5)))


def test_area_is_zero_for_inverted_boxes():
    np.testing.assert_array_equal(boxes.area([[0, 0, 10, 5], [5, 5, 5, 9], [9, 0, 1, 4]]), [50, 0, 0])


def test_clip_and_scale():
    np.testing.assert_array_equal(boxes.clip([[-5, 2, 50, 40]], height=30, width=40), [[0, 2, 40, 30]])
    np.testing.assert_array_equal(boxes.scale(BOX, sy=0.5, sx=2), [[20, 10, 80, 40]])


def square(side):
    return [0.0, 0.0, side, side]


def test_size_bins_follow_coco_at_the_boundaries():
    # Half-open bins [0, 32**2), [32**2, 96**2), [96**2, inf): pycocotools' COCOeval checks
    # `area < lo or area > hi`, closed intervals, so there the two boundary boxes count in both
    # neighbouring bins; one label per box needs half-open bins (see boxes.AREA_BINS).
    sides = [1, 31.99, 32, 32.01, 95.99, 96, 96.01, 500]
    expected = ["small", "small", "medium", "medium", "medium", "large", "large", "large"]
    assert boxes.size_bin([square(s) for s in sides]).tolist() == expected
    assert boxes.size_bin([[0, 0, 16, 64]]).tolist() == ["medium"]  # area, not side: 16 x 64 = 32**2
    assert boxes.AREA_BINS == {"small": (0, 32**2), "medium": (32**2, 96**2), "large": (96**2, math.inf)}


def test_the_numpy_pairwise_iou_agrees_with_the_training_ops():
    from keras_geo.detection.targets import pairwise_iou as ops_iou

    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 50, (7, 2))
    a = np.concatenate([corners, corners + rng.uniform(1, 30, (7, 2))], axis=1).astype(np.float32)
    b = np.concatenate([a[:3] + 2.0, [[0, 0, 0, 0]]]).astype(np.float32)  # overlapping boxes and an empty one
    found = boxes.pairwise_iou(a, b)
    assert found.shape == (7, 4) and found.dtype == np.float64
    np.testing.assert_allclose(found, keras.ops.convert_to_numpy(ops_iou(a, b)), atol=1e-6)
    assert (found[:, 3] == 0).all() and boxes.pairwise_iou(a[:0], b).shape == (0, 4)
