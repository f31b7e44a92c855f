"""Generated detection scenes: classes, COCO size bins, boxes that fit their shapes, the context rule, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from keras_geo import datasets
from keras_geo.datasets.scenes import CLASSES, SIDES, draw_scene, generate_scenes
from tests import one_line

BUOY, ROCK, RING = CLASSES.index("buoy"), CLASSES.index("rock"), CLASSES.index("ring")


@pytest.fixture(scope="module")
def drawn():
    return generate_scenes(120, image_size=192, seed=3)


def areas(objects):
    boxes = np.concatenate([o["boxes"] for o in objects])
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def test_scenes_are_images_in_the_unit_range_with_boxes_inside(drawn):
    images, objects = drawn
    assert images.shape == (120, 192, 192, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert len(objects) == 120
    for found in objects:
        boxes, classes = found["boxes"], found["classes"]
        assert boxes.dtype == np.float32 and classes.dtype == np.int64 and boxes.shape == (len(classes), 4)
        assert 1 <= len(classes) <= 6
        assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] <= 192)
        assert np.all(boxes[:, 2:] - boxes[:, :2] >= 8)  # the smallest side is 10 px, less antialiased edges


def test_every_class_and_every_coco_size_bin_is_drawn(drawn):
    _, objects = drawn
    classes = np.concatenate([o["classes"] for o in objects])
    assert set(np.unique(classes)) == set(range(len(CLASSES)))
    area = areas(objects)
    small, large = np.mean(area < 32**2), np.mean(area >= 96**2)
    assert small > 0.25 and large > 0.08 and 1 - small - large > 0.25


def test_a_cross_is_a_buoy_beside_a_ring_and_a_rock_without_one(drawn):
    _, objects = drawn
    with_ring = [RING in o["classes"] for o in objects]
    assert 0.3 < np.mean(with_ring) < 0.7
    for ring, found in zip(with_ring, objects):
        assert ROCK not in found["classes"] if ring else BUOY not in found["classes"]


def test_no_shape_hides_another(drawn):
    _, objects = drawn
    for found in objects:
        boxes = found["boxes"]
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                x0, y0 = np.maximum(boxes[i, :2], boxes[j, :2])
                x1, y1 = np.minimum(boxes[i, 2:], boxes[j, 2:])
                inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
                smaller = min(np.prod(boxes[i, 2:] - boxes[i, :2]), np.prod(boxes[j, 2:] - boxes[j, :2]))
                assert inter / smaller < 0.3  # placed below 0.15 of the drawn square; shapes are within it


def test_a_box_is_the_extent_of_its_shape():
    image, boxes = draw_scene([("square", 20, 30, 40), ("disc", 60, 100, 20)], image_size=192, clutter=0, seed=0)
    np.testing.assert_array_equal(boxes[0], [30, 40, 50, 60])  # a square fills its square
    assert np.all(np.abs(boxes[1] - [100, 20, 160, 80]) <= 1)  # a disc touches its square's sides
    inside, outside = image[45:55, 35:45].mean(axis=(0, 1)), image[10:20, 10:20].mean(axis=(0, 1))
    assert np.abs(inside - outside).mean() > 0.15  # the shape stands out of the background


def test_the_same_seed_gives_the_same_scenes_and_another_seed_others():
    a, objects_a = generate_scenes(4, image_size=96, seed=7)
    b, objects_b = generate_scenes(4, image_size=96, seed=7)
    c, _ = generate_scenes(4, image_size=96, seed=8)
    np.testing.assert_array_equal(a, b)
    for x, y in zip(objects_a, objects_b):
        np.testing.assert_array_equal(x["boxes"], y["boxes"])
        np.testing.assert_array_equal(x["classes"], y["classes"])
    assert not np.array_equal(a, c)
    first, _ = generate_scenes(2, image_size=96, seed=7)
    np.testing.assert_array_equal(first, a[:2])  # one stream per scene: a longer set starts alike


def test_small_images_have_no_large_objects_and_grey_scenes_one_channel():
    images, objects = generate_scenes(30, image_size=96, channels=1, seed=0)
    assert images.shape == (30, 96, 96, 1)
    assert areas(objects).max() < 96**2 and areas(objects).max() <= SIDES["medium"][1] ** 2


def test_the_data_set_has_three_disjoint_splits_and_the_class_names():
    data = datasets.load("scenes", n_train=3, n_val=2, n_test=2, image_size=64, max_objects=2)
    assert (
        data.task == "detection" and data.class_names == CLASSES and data.sizes() == {"train": 3, "val": 2, "test": 2}
    )
    x_train, y_train = data["train"]
    x_val, _ = data["val"]
    assert len(y_train) == 3 and not np.array_equal(x_train[:2], x_val)
    assert "buoy" in data.info["context_rule"]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: generate_scenes(2, image_size=32), "`image_size` must be an integer >= 64. Received: image_size=32"),
        (lambda: generate_scenes(-1), "`n` must be an integer >= 0"),
        (lambda: generate_scenes(2, channels=2), "`channels` must be 1 or 3. Received: channels=2"),
        (lambda: generate_scenes(2, ring_fraction=1.5), "`ring_fraction` must be in [0, 1]"),
        (lambda: draw_scene([("star", 10, 0, 0)]), "`objects[0]`: unknown shape 'star'"),
        (lambda: draw_scene([("disc", 50, 180, 0)]), "a disc of side 50 at (180, 0) does not fit in 192 x 192"),
    ],
)
def test_bad_settings_get_one_line(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in one_line(error)
