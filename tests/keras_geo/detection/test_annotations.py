"""COCO and YOLO labels read back from small fixtures, every bad input named, COCO written and read again."""

from __future__ import annotations

import json
import re
import warnings

import cv2
import numpy as np
import pytest

from keras_geo.detection import annotations
from keras_geo.detection.annotations import (
    AnnotationError,
    read_coco,
    read_voc,
    read_yolo,
    to_coco_dict,
    write_coco,
    write_voc,
    write_yolo,
)

HEIGHT, WIDTH = 30, 40


def write_image(path, height=HEIGHT, width=WIDTH, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), pixels)
    return path


# ---------------------------------------------------------------- COCO fixtures

# Category ids out of order: classes follow the ids, so "dog" (id 1) is class 0 and "cat" (id 3) class 1.
CATEGORIES = [{"id": 3, "name": "cat"}, {"id": 1, "name": "dog"}]
COCO_BOXES = {  # file -> [(bbox xywh, category id)]
    "a.png": [([2, 3, 10, 12], 1), ([20, 5, 15.5, 20], 3)],
    "b.png": [([0, 0, 40, 30], 3)],
    "c.png": [],
}


def coco_document(images=COCO_BOXES, sizes=None, extra=()):
    document = {"images": [], "annotations": [], "categories": CATEGORIES}
    for image_id, (name, found) in enumerate(images.items(), start=10):
        height, width = (sizes or {}).get(name, (HEIGHT, WIDTH))
        document["images"].append({"id": image_id, "file_name": name, "height": height, "width": width})
        for bbox, category in found:
            document["annotations"].append(
                {"id": len(document["annotations"]) + 100, "image_id": image_id, "category_id": category, "bbox": bbox}
            )
    document["annotations"].extend(extra)
    return document


def write_coco_fixture(folder, document=None, sizes=None, name="train.json"):
    document = document or coco_document(sizes=sizes)
    for image in document["images"]:
        write_image(folder / image["file_name"], image["height"], image["width"])
    path = folder / name
    path.write_text(json.dumps(document))
    return path


def test_read_coco_gives_boxes_classes_and_empty_images(tmp_path):
    document = coco_document(extra=[{"id": 999, "image_id": 10, "category_id": 1, "bbox": [0, 0, 5, 5], "iscrowd": 1}])
    data = read_coco(write_coco_fixture(tmp_path, document))
    assert data.class_names == ("dog", "cat") and data.category_ids == (1, 3)
    assert data.images.shape == (3, HEIGHT, WIDTH, 3) and data.images.dtype == np.float32
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0
    assert data.files == [str(tmp_path / name) for name in ("a.png", "b.png", "c.png")]
    assert data.original_sizes == [(HEIGHT, WIDTH)] * 3
    first, second, empty = data.objects
    np.testing.assert_array_equal(first["boxes"], [[2, 3, 12, 15], [20, 5, 35.5, 25]])  # the crowd box is skipped
    assert first["boxes"].dtype == np.float32 and first["classes"].dtype == np.int64
    assert first["classes"].tolist() == [0, 1] and second["classes"].tolist() == [1]
    np.testing.assert_array_equal(second["boxes"], [[0, 0, 40, 30]])  # the whole image is inside
    assert empty["boxes"].shape == (0, 4) and empty["classes"].shape == (0,)
    # The pixels are the file's, in RGB.
    bgr = cv2.imread(str(tmp_path / "a.png"))
    np.testing.assert_allclose(data.images[0], bgr[..., ::-1] / 255.0, atol=1e-6)


def test_read_coco_takes_images_from_another_folder_and_in_grey(tmp_path):
    json_path = write_coco_fixture(tmp_path / "images")
    moved = json_path.rename(tmp_path / "labels.json")
    data = read_coco(moved, tmp_path / "images", color_mode="grayscale")
    assert data.images.shape == (3, HEIGHT, WIDTH, 1)
    with pytest.raises(AnnotationError, match=r"a\.png: image not found \(listed in .*labels\.json\)"):
        read_coco(moved)


# ---------------------------------------------------------------- YOLO fixtures

# Per image stem: the label file's lines (class cx cy w h, normalised).
YOLO_LABELS = {
    "img_000": ["0 0.5 0.5 0.5 0.4", "1 0.125 0.25 0.25 0.5"],
    "img_001": ["1 0.5 0.5 1 1"],
    "img_002": [],  # an empty file
}


def write_yolo_fixture(folder, labels=YOLO_LABELS, *, layout="split", no_label=("img_003",), sizes=None):
    image_dir, label_dir = (folder / "images", folder / "labels") if layout == "split" else (folder, folder)
    for seed, stem in enumerate([*labels, *no_label]):
        height, width = (sizes or {}).get(stem, (HEIGHT, WIDTH))
        write_image(image_dir / f"{stem}.png", height, width, seed=seed)
    label_dir.mkdir(parents=True, exist_ok=True)
    for stem, lines in labels.items():
        (label_dir / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))
    return folder


def test_read_yolo_converts_normalised_boxes_to_pixels(tmp_path):
    folder = write_yolo_fixture(tmp_path / "ds")
    (folder / "classes.txt").write_text("rock\nsand\n\n")
    data = read_yolo(folder)
    assert data.class_names == ("rock", "sand") and data.category_ids == (0, 1)
    assert data.images.shape == (4, HEIGHT, WIDTH, 3)
    assert [f.rsplit("/", 1)[-1] for f in data.files] == ["img_000.png", "img_001.png", "img_002.png", "img_003.png"]
    first, whole, empty, unlabelled = data.objects
    # cx 0.5 cy 0.5 w 0.5 h 0.4 of a 40 x 30 image: x 10-30, y 9-21.
    np.testing.assert_allclose(first["boxes"], [[10, 9, 30, 21], [0, 0, 10, 15]], rtol=1e-6)
    assert first["classes"].tolist() == [0, 1] and first["classes"].dtype == np.int64
    np.testing.assert_allclose(whole["boxes"], [[0, 0, 40, 30]])
    for nothing in (empty, unlabelled):
        assert nothing["boxes"].shape == (0, 4) and nothing["boxes"].dtype == np.float32
        assert nothing["classes"].shape == (0,)


def test_read_yolo_side_by_side_with_data_yaml_names_as_a_dict(tmp_path):
    folder = write_yolo_fixture(tmp_path / "flat", layout="flat")
    (folder / "data.yaml").write_text("nc: 2\nnames:\n  0: rock\n  1: sand\n")
    data = read_yolo(folder)
    assert data.class_names == ("rock", "sand")
    assert len(data.files) == 4  # the .txt files are not images
    np.testing.assert_allclose(data.objects[0]["boxes"][0], [10, 9, 30, 21], rtol=1e-6)


def test_read_yolo_follows_ultralytics_split_folders(tmp_path):
    root = tmp_path / "ds"
    for stem, lines in YOLO_LABELS.items():
        write_image(root / "images" / "train" / f"{stem}.png")
        (root / "labels" / "train").mkdir(parents=True, exist_ok=True)
        (root / "labels" / "train" / f"{stem}.txt").write_text("\n".join(lines))
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nnames: [rock, sand]\n")
    data = read_yolo(root / "images" / "train")
    assert data.class_names == ("rock", "sand")
    assert [len(found["classes"]) for found in data.objects] == [2, 1, 0]


def test_read_yolo_needs_class_names_when_no_file_gives_them(tmp_path):
    folder = write_yolo_fixture(tmp_path / "ds")
    with pytest.raises(
        AnnotationError, match=r"ds: no data\.yaml or classes\.txt names the classes; pass class_names="
    ):
        read_yolo(folder)
    assert read_yolo(folder, ["a", "b"]).class_names == ("a", "b")
    (folder / "classes.txt").write_text("rock\nsand\n")
    assert read_yolo(folder, ["a", "b"]).class_names == ("a", "b")  # given names win over the file's


# ---------------------------------------------------------------- bad boxes

# kind -> (YOLO line on a 40 x 30 image, COCO bbox, the problem the message states, the warning's kind)
BAD_BOXES = {
    "zero-area": ("0 0.5 0.5 0 0.2", [5, 5, 0, 4], "zero or negative width or height", "1 zero-area"),
    "negative": ("0 0.5 0.5 0.2 -0.2", [5, 5, 4, -4], "zero or negative width or height", "1 zero-area"),
    "outside": ("0 1.5 0.5 0.2 0.2", [50, 5, 10, 10], "wholly outside the 40x30 (width x height) image", "1 outside"),
    "unknown class": ("7 0.5 0.5 0.2 0.2", [5, 5, 10, 10], "unknown class 7", "1 unknown class 7"),
    "nan": ("0 nan 0.5 0.2 0.2", [5, float("nan"), 10, 10], "NaN or infinite coordinate", "1 NaN"),
}


def yolo_bad(tmp_path, line):
    labels = {"img_000": ["0 0.5 0.5 0.5 0.4", line], "img_001": ["1 0.5 0.5 1 1"]}
    return write_yolo_fixture(tmp_path / "ds", labels, no_label=())


def coco_bad(tmp_path, bbox, category=1):
    return write_coco_fixture(tmp_path, coco_document({"a.png": [([2, 3, 10, 12], 1), (bbox, category)], "b.png": []}))


@pytest.mark.parametrize("kind", sorted(BAD_BOXES))
def test_a_bad_yolo_box_raises_naming_the_file_and_the_box(tmp_path, kind):
    line, _, problem, _ = BAD_BOXES[kind]
    folder = yolo_bad(tmp_path, line)
    expected = f"labels/img_000.txt, box 1 (line 2) [{line}]: {problem}"
    with pytest.raises(AnnotationError, match=re.escape(expected)) as raised:
        read_yolo(folder, ["rock", "sand"], on_bad_box="raise")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("kind", sorted(BAD_BOXES))
def test_a_bad_yolo_box_is_skipped_with_one_warning(tmp_path, kind):
    line, _, problem, counted = BAD_BOXES[kind]
    folder = yolo_bad(tmp_path, line)
    with pytest.warns(UserWarning) as caught:
        data = read_yolo(folder, ["rock", "sand"])
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message == (
        f"{folder}: skipped 1 bad box of 3 ({counted}): first in labels/img_000.txt, box 1 (line 2) [{line}]: "
        f"{problem}; on_bad_box='raise' stops at the first"
    )
    assert [len(found["classes"]) for found in data.objects] == [1, 1]


@pytest.mark.parametrize("kind", ["zero-area", "outside", "nan"])
def test_a_bad_coco_box_raises_naming_the_file_the_annotation_and_the_box(tmp_path, kind):
    _, bbox, problem, _ = BAD_BOXES[kind]
    json_path = coco_bad(tmp_path, bbox)
    expected = f"train.json, annotation 1 (id 101, image 'a.png') bbox {json.dumps(bbox)}: {problem}"
    with pytest.raises(AnnotationError, match=re.escape(expected)):
        read_coco(json_path, on_bad_box="raise")
    with pytest.warns(
        UserWarning, match=re.escape(f"skipped 1 bad box of 2 ({BAD_BOXES[kind][3]}): first in {expected}")
    ):
        data = read_coco(json_path)
    assert len(data.objects[0]["classes"]) == 1


def test_a_coco_box_of_an_unknown_category_names_the_category(tmp_path):
    json_path = coco_bad(tmp_path, [5, 5, 10, 10], category=7)
    expected = "train.json, annotation 1 (id 101, image 'a.png') bbox [5, 5, 10, 10]: unknown category 7"
    with pytest.raises(AnnotationError, match=re.escape(expected)):
        read_coco(json_path, on_bad_box="raise")
    with pytest.warns(UserWarning, match=re.escape("skipped 1 bad box of 2 (1 unknown category 7)")):
        read_coco(json_path)


def test_an_annotation_of_an_unknown_image_is_a_bad_box(tmp_path):
    orphan = {"id": 5, "image_id": 77, "category_id": 1, "bbox": [1, 1, 4, 4]}
    json_path = write_coco_fixture(tmp_path, coco_document(extra=[orphan]))
    with pytest.raises(AnnotationError, match=re.escape("annotation 3 (id 5) bbox [1, 1, 4, 4]: unknown image_id 77")):
        read_coco(json_path, on_bad_box="raise")


def test_a_box_partly_outside_is_clipped_and_counted(tmp_path):
    # x from 30 to 50 on a 40-wide image: 30-40 is left.
    folder = yolo_bad(tmp_path, "1 1.0 0.5 0.5 0.2")
    with pytest.warns(UserWarning) as caught:
        data = read_yolo(folder, ["rock", "sand"])
    assert str(caught[0].message).startswith(
        f"{folder}: clipped 1 box of 3 (1 partly outside (clipped)): first in labels/img_000.txt, box 1 (line 2) "
        "[1 1.0 0.5 0.5 0.2]: partly outside the 40x30 (width x height) image"
    )
    np.testing.assert_allclose(data.objects[0]["boxes"][1], [30, 12, 40, 18], rtol=1e-6)
    assert data.objects[0]["classes"].tolist() == [0, 1]
    with pytest.raises(AnnotationError, match=r"box 1 \(line 2\) \[1 1.0 0.5 0.5 0.2\]: partly outside"):
        read_yolo(folder, ["rock", "sand"], on_bad_box="raise")
    # COCO alike: x 35-45 becomes 35-40.
    json_path = coco_bad(tmp_path / "coco", [35, 5, 10, 10])
    with pytest.warns(UserWarning, match=r"clipped 1 box of 2 \(1 partly outside \(clipped\)\)"):
        data = read_coco(json_path)
    np.testing.assert_array_equal(data.objects[0]["boxes"][1], [35, 5, 40, 15])


def test_rounding_past_the_edge_is_clipped_silently(tmp_path):
    folder = yolo_bad(tmp_path, "1 0.875001 0.5 0.25 0.2")  # x_max 40.00004 pixels: the file's rounding
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = read_yolo(folder, ["rock", "sand"])
    assert data.objects[0]["boxes"][1, 2] == 40.0


def test_the_warning_counts_every_kind_and_names_the_first(tmp_path):
    labels = {
        "img_000": ["0 0.5 0.5 0.5 0.4", "0 0.5 0.5 0 0.2", "7 0.5 0.5 0.2 0.2"],
        "img_001": ["1 0.5 0.5 0.2 0", "9 0.5 0.5 0.2 0.2", "1 1.0 0.5 0.5 0.2", "7 0.1 0.1 0.1 0.1"],
    }
    folder = write_yolo_fixture(tmp_path / "ds", labels, no_label=())
    with pytest.warns(UserWarning) as caught:
        data = read_yolo(folder, ["rock", "sand"])
    assert len(caught) == 1
    assert str(caught[0].message) == (
        f"{folder}: skipped 5 bad boxes and clipped 1 of 7 (2 zero-area, 2 unknown class 7, 1 unknown class 9, "
        "1 partly outside (clipped)): first in labels/img_000.txt, box 1 (line 2) [0 0.5 0.5 0 0.2]: "
        "zero or negative width or height; on_bad_box='raise' stops at the first"
    )
    assert [len(found["classes"]) for found in data.objects] == [1, 1]


# ---------------------------------------------------------------- files that cannot be used


def test_a_file_that_is_not_json_is_named(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text("images: []\n")
    with pytest.raises(AnnotationError, match=r"labels\.json: not a COCO JSON file \(not JSON: "):
        read_coco(path)


def test_json_without_the_coco_keys_is_named(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"images": [], "labels": []}))
    with pytest.raises(
        AnnotationError, match=r"labels\.json: not a COCO annotation file \(no annotations, categories\)"
    ):
        read_coco(path)
    path.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.9}]))
    with pytest.raises(
        AnnotationError, match=r"labels\.json: not a COCO annotation file \(a JSON list, as COCO results"
    ):
        read_coco(path)


def test_a_malformed_coco_bbox_is_named(tmp_path):
    json_path = coco_bad(tmp_path, [5, 5, 10])
    with pytest.raises(
        AnnotationError, match=r"train\.json: annotations\[1\] \(id 101\) bbox is not 4 numbers: \[5, 5, 10\]"
    ):
        read_coco(json_path)


@pytest.mark.parametrize(
    "line, problem",
    [
        ("0 0.5 0.5 0.2", "expected 5 numbers `class cx cy w h`, found 4: 0 0.5 0.5 0.2"),
        ("0 0.1 0.1 0.2 0.1 0.2 0.2", "expected 5 numbers `class cx cy w h`, found 7 (a segmentation polygon?)"),
        ("0 0.5 0.5 0.2 big", "expected 5 numbers `class cx cy w h`: 0 0.5 0.5 0.2 big"),
        ("1.5 0.5 0.5 0.2 0.2", "the class must be an integer: 1.5 0.5 0.5 0.2 0.2"),
    ],
)
def test_a_yolo_line_that_is_not_5_numbers_is_named(tmp_path, line, problem):
    folder = yolo_bad(tmp_path, line)
    with pytest.raises(AnnotationError, match=re.escape(f"img_000.txt line 2: {problem}")):
        read_yolo(folder, ["rock", "sand"])


def test_a_missing_image_is_named(tmp_path):
    json_path = write_coco_fixture(tmp_path)
    (tmp_path / "b.png").unlink()
    with pytest.raises(AnnotationError, match=r"b\.png: image not found \(listed in .*train\.json\)"):
        read_coco(json_path)


def test_an_unreadable_image_is_named(tmp_path):
    json_path = write_coco_fixture(tmp_path)
    (tmp_path / "b.png").write_bytes(b"not a png")
    with pytest.raises(AnnotationError, match=r"b\.png: not an image OpenCV can read .*\(listed in .*train\.json\)"):
        read_coco(json_path)
    folder = write_yolo_fixture(tmp_path / "ds")
    (folder / "images" / "img_001.png").write_bytes(b"")
    with pytest.raises(AnnotationError, match=r"img_001\.png: empty file \(listed in .*ds\)"):
        read_yolo(folder, ["rock", "sand"])


def test_a_yolo_folder_without_images_is_named(tmp_path):
    (tmp_path / "ds" / "images").mkdir(parents=True)
    with pytest.raises(AnnotationError, match=r"ds/images: no images"):
        read_yolo(tmp_path / "ds", ["rock"])


def test_an_image_of_another_size_than_its_json_says_is_named(tmp_path):
    document = coco_document()
    json_path = write_coco_fixture(tmp_path, document)
    document["images"][1]["width"] = 80
    json_path.write_text(json.dumps(document))
    with pytest.raises(AnnotationError, match=r"b\.png: size \(30, 40\) \(height, width\) differs from the \(30, 80\)"):
        read_coco(json_path)


# ---------------------------------------------------------------- sizes


def test_mixed_sizes_are_refused_and_image_size_is_suggested(tmp_path):
    folder = write_yolo_fixture(tmp_path / "ds", sizes={"img_001": (60, 40)})
    with pytest.raises(AnnotationError) as raised:
        read_yolo(folder, ["rock", "sand"])
    message = str(raised.value)
    assert "\n" not in message
    assert re.search(
        r"img_001\.png: size \(60, 40\) \(height, width\) differs from the first image's \(30, 40\)", message
    )
    assert "img_000.png" in message and message.endswith("pass image_size=(height, width) to resize every image")
    json_path = write_coco_fixture(tmp_path / "coco", sizes={"c.png": (30, 20)})
    with pytest.raises(AnnotationError, match=r"c\.png: size \(30, 20\) .*image_size="):
        read_coco(json_path)


def test_image_size_resizes_images_and_scales_their_boxes(tmp_path):
    folder = write_yolo_fixture(tmp_path / "ds", sizes={"img_001": (60, 80)})
    data = read_yolo(folder, ["rock", "sand"], image_size=(15, 80))
    assert data.images.shape == (4, 15, 80, 3)
    assert data.original_sizes[:2] == [(HEIGHT, WIDTH), (60, 80)]
    # Normalised boxes land at the same fractions of the new size.
    np.testing.assert_allclose(data.objects[0]["boxes"][0], [20, 4.5, 60, 10.5], rtol=1e-6)
    np.testing.assert_allclose(data.objects[1]["boxes"][0], [0, 0, 80, 15], rtol=1e-6)
    # COCO's pixel boxes scale by new / old on each axis; grey gives one channel; one side makes squares.
    data = read_coco(write_coco_fixture(tmp_path / "coco"), image_size=20, color_mode="grayscale")
    assert data.images.shape == (3, 20, 20, 1)
    np.testing.assert_allclose(data.objects[0]["boxes"][0], [2 * 0.5, 3 * 2 / 3, 12 * 0.5, 15 * 2 / 3], rtol=1e-6)


def test_options_are_checked_up_front(tmp_path):
    folder = write_yolo_fixture(tmp_path / "ds")
    with pytest.raises(ValueError, match=r"`on_bad_box` must be 'skip' or 'raise'\. Received: on_bad_box='drop'"):
        read_yolo(folder, ["rock", "sand"], on_bad_box="drop")
    with pytest.raises(ValueError, match=r"`color_mode` must be 'rgb' or 'grayscale'\. Received: color_mode='bgr'"):
        read_coco(tmp_path / "none.json", color_mode="bgr")
    with pytest.raises(
        ValueError, match=r"`image_size` must be \(height, width\) or one side.*Received: image_size=\(0, 5\)"
    ):
        read_yolo(folder, ["rock", "sand"], image_size=(0, 5))
    with pytest.raises(AnnotationError, match=r"none\.json: no such file"):
        read_coco(tmp_path / "none.json")


# ---------------------------------------------------------------- writing


def test_write_coco_then_read_coco_gives_the_same_boxes_and_classes(tmp_path):
    rng = np.random.default_rng(3)
    for i in range(3):
        write_image(tmp_path / "imgs" / f"{i}.png", seed=i)
    objects = []
    for k in (3, 0, 5):
        corner = rng.uniform(0, 20, (k, 2))
        found = np.concatenate([corner, corner + rng.uniform(0.5, 10, (k, 2))], axis=1).astype(np.float32)
        objects.append({"boxes": found, "classes": rng.integers(0, 2, k)})
    files = [tmp_path / "imgs" / f"{i}.png" for i in range(3)]
    path = write_coco(tmp_path / "gt.json", objects, ("rock", "sand"), files, (HEIGHT, WIDTH))
    document = json.loads(path.read_text())
    assert [image["file_name"] for image in document["images"]] == ["imgs/0.png", "imgs/1.png", "imgs/2.png"]
    data = read_coco(path)
    assert data.class_names == ("rock", "sand") and data.category_ids == (1, 2)
    for written, read in zip(objects, data.objects):
        np.testing.assert_allclose(read["boxes"], written["boxes"], rtol=1e-6, atol=1e-5)
        np.testing.assert_array_equal(read["classes"], written["classes"])
    # And again from what was read, keeping the category ids.
    sizes = data.original_sizes
    again = write_coco(tmp_path / "again.json", data.objects, data.class_names, data.files, sizes, category_ids=(4, 9))
    assert read_coco(again).category_ids == (4, 9)


def test_to_coco_dict_gives_ground_truth_in_coco_form():
    objects = [
        {"boxes": np.array([[2, 3, 12, 15.3]], np.float32), "classes": np.array([1])},
        {"boxes": np.zeros((0, 4), np.float32), "classes": np.zeros((0,), np.int64)},
    ]
    document = to_coco_dict(objects, ["rock", "sand"], ["a.png", "b.png"], [(30, 40), (60, 80)])
    assert document["categories"] == [{"id": 1, "name": "rock"}, {"id": 2, "name": "sand"}]
    assert document["images"] == [
        {"id": 1, "file_name": "a.png", "height": 30, "width": 40},
        {"id": 2, "file_name": "b.png", "height": 60, "width": 80},
    ]
    (annotation,) = document["annotations"]
    assert annotation == {
        "id": 1,
        "image_id": 1,
        "category_id": 2,
        "bbox": [2.0, 3.0, 10.0, 12.3],  # float32 written as its shortest decimal
        "area": pytest.approx(10 * 12.3),
        "iscrowd": 0,
    }
    assert "info" in document  # pycocotools 2.0.9-2.0.10's loadRes copies it
    json.dumps(document)


def test_detections_are_written_in_the_coco_results_format(tmp_path):
    objects = [
        {"boxes": np.array([[2, 3, 12, 15]], np.float32), "classes": np.array([0]), "scores": np.array([0.75])},
        {"boxes": np.array([[0, 0, 4, 4], [1, 1, 5, 9]]), "classes": np.array([1, 0]), "scores": [0.5, 0.25]},
    ]
    files, names = ["a.png", "b.png"], ["rock", "sand"]
    path = write_coco(tmp_path / "found.json", objects, names, files, (30, 40), detections=True, category_ids=[3, 1])
    assert json.loads(path.read_text()) == [
        {"image_id": 1, "category_id": 3, "bbox": [2.0, 3.0, 10.0, 12.0], "score": 0.75},
        {"image_id": 2, "category_id": 1, "bbox": [0.0, 0.0, 4.0, 4.0], "score": 0.5},
        {"image_id": 2, "category_id": 3, "bbox": [1.0, 1.0, 4.0, 8.0], "score": 0.25},
    ]
    with pytest.raises(ValueError, match=r"`objects\[0\]` must have 'scores' with detections=True"):
        to_coco_dict([{"boxes": np.zeros((0, 4)), "classes": []}], ["rock"], ["a.png"], (30, 40), detections=True)


def test_to_coco_dict_refuses_inconsistent_input():
    found = [{"boxes": np.zeros((1, 4)), "classes": np.array([2])}]
    with pytest.raises(ValueError, match=r"`files` must have one entry per image \(1\)\. Received: len\(files\)=2"):
        to_coco_dict(found, ["rock"], ["a.png", "b.png"], (30, 40))
    with pytest.raises(ValueError, match=r"`objects\[0\]\['classes'\]` must be in 0\.\.1\. Received: \[2\]"):
        to_coco_dict(found, ["rock", "sand"], ["a.png"], (30, 40))
    with pytest.raises(ValueError, match=r"`image_sizes` must be one \(height, width\) or one per image \(1\)"):
        to_coco_dict(found, ["rock", "sand", "mud"], ["a.png"], [(30, 40), (30, 40)])


def test_the_public_surface():
    assert set(annotations.__all__) == {
        "AnnotationError",
        "DetectionData",
        "read_coco",
        "read_voc",
        "read_yolo",
        "to_coco_dict",
        "write_coco",
        "write_voc",
        "write_yolo",
    }
    assert issubclass(AnnotationError, ValueError)


# ---------------------------------------------------------------- Pascal VOC and YOLO written


def voc_xml(filename, objects, size=(HEIGHT, WIDTH)):
    """A VOC file's text; ``objects``: [(name, xmin, ymin, xmax, ymax, difficult)]."""
    body = "".join(
        f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated><difficult>{hard}</difficult>"
        f"<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for name, x0, y0, x1, y1, hard in objects
    )
    return (
        f"<annotation><folder>imgs</folder><filename>{filename}</filename><size><width>{size[1]}</width>"
        f"<height>{size[0]}</height><depth>3</depth></size><segmented>0</segmented>{body}</annotation>"
    )


def test_read_voc_turns_1_based_inclusive_pixels_into_continuous_boxes(tmp_path):
    write_image(tmp_path / "a.png")
    write_image(tmp_path / "b.png", seed=1)
    # The whole 40 x 30 image is xmin 1 .. xmax 40; a one-pixel box is xmin = xmax.
    objects = [("sand", 1, 1, 40, 30, 0), ("rock", 3, 4, 12, 15, 1), ("rock", 7, 7, 7, 7, 0)]
    (tmp_path / "a.xml").write_text(voc_xml("a.png", objects))
    (tmp_path / "b.xml").write_text(voc_xml("b.png", []))
    data = read_voc(tmp_path)
    assert data.class_names == ("rock", "sand") and data.category_ids == (0, 1)  # sorted names found
    assert data.images.shape == (2, HEIGHT, WIDTH, 3)
    assert data.files == [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    np.testing.assert_array_equal(data.objects[0]["boxes"], [[0, 0, 40, 30], [2, 3, 12, 15], [6, 6, 7, 7]])
    assert data.objects[0]["classes"].tolist() == [1, 0, 0]  # the difficult object is an object
    assert data.objects[1]["boxes"].shape == (0, 4)
    # Given class names: another order, and objects of other names are bad boxes.
    with pytest.warns(UserWarning, match=re.escape("a.xml: skipped 2 bad boxes of 3 (2 unknown class 'rock')")):
        data = read_voc(tmp_path / "a.xml", class_names=["sand", "mud"])
    assert data.objects[0]["classes"].tolist() == [0]
    with pytest.raises(AnnotationError) as raised:
        read_voc([tmp_path / "a.xml"], class_names=["sand"], on_bad_box="raise")
    assert str(raised.value) == "a.xml, object 1 ('rock') bndbox [3 4 12 15]: unknown class 'rock'"


def test_write_voc_then_read_voc_gives_the_same_boxes_and_classes(tmp_path):
    rng = np.random.default_rng(5)
    files = [write_image(tmp_path / "imgs" / f"{i}.png", seed=i) for i in range(3)]
    objects = []
    for k in (2, 0, 4):
        corner = rng.uniform(0, 20, (k, 2))
        found = np.concatenate([corner, corner + rng.uniform(0.5, 10, (k, 2))], axis=1).astype(np.float32)
        objects.append({"boxes": found, "classes": rng.integers(0, 2, k)})
    objects[0]["boxes"][0] = [2, 3, 12, 15]  # integer boxes stay integers
    written = write_voc(tmp_path / "voc", objects, ("sand", "rock"), files, (HEIGHT, WIDTH))
    assert written == [tmp_path / "voc" / f"{i}.xml" for i in range(3)]
    text = written[0].read_text()
    assert "<filename>0.png</filename>" in text and "<width>40</width>" in text and "<height>30</height>" in text
    assert "<xmin>3</xmin><ymin>4</ymin><xmax>12</xmax><ymax>15</ymax>" in "".join(text.split())
    assert "<object>" not in written[1].read_text()
    data = read_voc(tmp_path / "voc", tmp_path / "imgs", class_names=("sand", "rock"))
    assert data.class_names == ("sand", "rock") and data.files == [str(f) for f in files]
    for wrote, read in zip(objects, data.objects):
        np.testing.assert_allclose(read["boxes"], wrote["boxes"], rtol=1e-6, atol=1e-5)
        np.testing.assert_array_equal(read["classes"], wrote["classes"])
    with pytest.raises(ValueError, match=r"`files` must have distinct stems .* Received: 'a\.png' and 'x/a\.jpg'"):
        write_voc(tmp_path / "v2", objects[:2], ("sand", "rock"), ["a.png", "x/a.jpg"], (HEIGHT, WIDTH))
    with pytest.raises(ValueError, match=r"`class_names` must be non-empty one-line strings"):
        write_voc(tmp_path / "v2", objects, ("sand", "two\nlines"), files, (HEIGHT, WIDTH))


def test_read_voc_follows_vocs_own_layout_and_names_bad_input(tmp_path):
    root = tmp_path / "VOC2007"
    write_image(root / "JPEGImages" / "000001.jpg")
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "000001.xml").write_text(voc_xml("000001.jpg", [("rock", 2, 2, 41, 10, 0)]))
    with pytest.warns(UserWarning, match=r"clipped 1 box of 1 .*000001\.xml, object 0 \('rock'\) bndbox \[2 2 41 10\]"):
        data = read_voc(root)
    np.testing.assert_array_equal(data.objects[0]["boxes"], [[1, 1, 40, 10]])
    with pytest.raises(AnnotationError, match=r"000001\.xml, object 0 \('rock'\) bndbox \[2 2 41 10\]: partly outside"):
        read_voc(root, on_bad_box="raise")
    # The size the file states must be the image's.
    (root / "Annotations" / "000001.xml").write_text(voc_xml("000001.jpg", [], size=(30, 80)))
    with pytest.raises(
        AnnotationError,
        match=r"000001\.jpg: size \(30, 40\) \(height, width\) differs from the \(30, 80\) that 000001\.xml states",
    ):
        read_voc(root, class_names=["rock"])
    with pytest.raises(AnnotationError, match=r"Annotations: no <object> names a class; pass class_names="):
        read_voc(root)
    (root / "Annotations" / "000001.xml").write_text("<annotation><object><name>rock")
    with pytest.raises(AnnotationError, match=r"000001\.xml: not a VOC XML file \(not XML: "):
        read_voc(root)
    (root / "Annotations" / "000001.xml").write_text(voc_xml("000001.jpg", [("rock", "a", 2, 3, 4, 0)]))
    with pytest.raises(AnnotationError, match=r"000001\.xml: object 0 \('rock'\) <xmin> is not a number: 'a'"):
        read_voc(root)
    (root / "Annotations" / "000001.xml").write_text(voc_xml("000002.jpg", [("rock", 1, 2, 3, 4, 0)]))
    with pytest.raises(AnnotationError, match=r"000002\.jpg: image not found \(listed in .*000001\.xml\)"):
        read_voc(root)
    with pytest.raises(AnnotationError, match=r"empty: no \.xml files"):
        read_voc((tmp_path / "empty").mkdir() or tmp_path / "empty")


def test_write_yolo_then_read_yolo_gives_the_same_boxes_and_classes(tmp_path):
    rng = np.random.default_rng(7)
    files = [write_image(tmp_path / "ds" / "images" / f"img_{i}.png", seed=i) for i in range(3)]
    objects = []
    for k in (3, 0, 2):
        corner = rng.uniform(0, 20, (k, 2))
        found = np.concatenate([corner, corner + rng.uniform(0.5, 10, (k, 2))], axis=1).astype(np.float32)
        objects.append({"boxes": found, "classes": rng.integers(0, 3, k)})
    objects[2]["boxes"][0] = [20, 10, 40, 30]  # to the edges
    assert write_yolo(tmp_path / "ds", objects, ("rock", "sand", "mud"), files, (HEIGHT, WIDTH)) == tmp_path / "ds"
    assert (tmp_path / "ds" / "classes.txt").read_text() == "rock\nsand\nmud\n"
    assert (tmp_path / "ds" / "labels" / "img_1.txt").read_text() == ""
    assert (tmp_path / "ds" / "labels" / "img_2.txt").read_text().splitlines()[0].split()[1:] == [
        "0.750000",
        "0.666667",
        "0.500000",
        "0.666667",
    ]
    data = read_yolo(tmp_path / "ds")
    assert data.class_names == ("rock", "sand", "mud")
    for wrote, read in zip(objects, data.objects):
        np.testing.assert_allclose(read["boxes"], wrote["boxes"], atol=1e-4)
        np.testing.assert_array_equal(read["classes"], wrote["classes"])
    with pytest.raises(ValueError, match=r"`sizes` must be one \(height, width\) or one per image \(3\)"):
        write_yolo(tmp_path / "ds", objects, ("rock", "sand", "mud"), files, [(HEIGHT, WIDTH)] * 2)


def test_read_yolo_takes_class_names_from_obj_names(tmp_path):
    folder = write_yolo_fixture(tmp_path / "ds")
    (folder / "obj.names").write_text("rock\nsand\n")
    assert read_yolo(folder).class_names == ("rock", "sand")
    (folder / "classes.txt").write_text("a\nb\n")  # classes.txt first, as before
    assert read_yolo(folder).class_names == ("a", "b")
