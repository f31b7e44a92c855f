"""Labels of video frames: COCO, YOLO and VOC written and read back, frames found by name, every bad label named."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from keras_geo.annotate.labels import FORMATS, read_labels, write_labels
from keras_geo.detection.annotations import AnnotationError

HEIGHT, WIDTH = 48, 64
SIZE = (HEIGHT, WIDTH)
NAMES = [f"frame_{i:06d}.png" for i in range(10)]
CLASSES = ("rock", "sand")


def some_labels():
    """Frames 0 and 7 with boxes (one touching the right and bottom edges), frame 3 labelled empty."""
    return {
        0: {"boxes": np.array([[2.5, 3, 12, 15.25], [40, 20, 64, 48]], np.float32), "classes": np.array([0, 1])},
        3: {"boxes": np.zeros((0, 4), np.float32), "classes": np.zeros((0,), np.int64)},
        7: {"boxes": np.array([[0, 0, 10.125, 7.75]], np.float32), "classes": np.array([1])},
    }


def assert_same(read, written, atol):
    assert list(read) == sorted(written)
    for frame, found in written.items():
        assert read[frame]["boxes"].dtype == np.float32 and read[frame]["classes"].dtype == np.int64
        assert read[frame]["boxes"].shape == (len(found["classes"]), 4)
        np.testing.assert_allclose(read[frame]["boxes"], found["boxes"], atol=atol, rtol=0)
        np.testing.assert_array_equal(read[frame]["classes"], found["classes"])


def one_line(raised):
    message = str(raised.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- hand-written label files


def coco_file(path, images, categories=({"id": 1, "name": "rock"}, {"id": 2, "name": "sand"}), size=SIZE):
    """``images``: file name -> [(bbox xywh, category id)]."""
    document = {"images": [], "annotations": [], "categories": list(categories)}
    for image_id, (name, boxes) in enumerate(images.items(), start=1):
        document["images"].append({"id": image_id, "file_name": name, "height": size[0], "width": size[1]})
        for bbox, category in boxes:
            document["annotations"].append(
                {"id": len(document["annotations"]) + 1, "image_id": image_id, "category_id": category, "bbox": bbox}
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def voc_file(path, objects, filename=None, size=SIZE):
    """``objects``: [(name, xmin, ymin, xmax, ymax)] in VOC's 1-based pixels."""
    filename = f"<filename>{filename}</filename>" if filename else ""
    body = "".join(
        f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
        f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for name, x0, y0, x1, y1 in objects
    )
    xml = (
        f"<annotation>{filename}<size><width>{size[1]}</width><height>{size[0]}</height><depth>3</depth></size>"
        f"{body}</annotation>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(xml)
    return path


def yolo_folder(folder, files, classes="rock\nsand\n"):
    """``files``: label stem -> lines ``class cx cy w h``."""
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    for stem, lines in files.items():
        (folder / "labels" / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))
    if classes is not None:
        (folder / "classes.txt").write_text(classes)
    return folder


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_labels_then_read_labels_gives_the_same_frames_classes_and_boxes(tmp_path, fmt):
    labels = some_labels()
    target = tmp_path / ("labels.json" if fmt == "coco" else fmt)
    assert write_labels(target, fmt, labels, NAMES, SIZE, CLASSES) == target
    for given in (None, CLASSES):
        read, class_names = read_labels(target, NAMES, SIZE, class_names=given)
        assert class_names == CLASSES
        assert_same(read, labels, atol=1e-3 if fmt == "yolo" else 1e-4)


def test_each_format_writes_its_own_layout_with_empty_frames(tmp_path):
    labels = some_labels()
    write_labels(tmp_path / "out" / "labels.json", "coco", labels, NAMES, SIZE, CLASSES)
    document = json.loads((tmp_path / "out" / "labels.json").read_text())
    assert [image["file_name"] for image in document["images"]] == [NAMES[0], NAMES[3], NAMES[7]]
    assert {a["image_id"] for a in document["annotations"]} == {1, 3}  # frame 3 is listed without boxes
    write_labels(tmp_path / "yolo", "yolo", labels, NAMES, SIZE, CLASSES)
    assert (tmp_path / "yolo" / "classes.txt").read_text() == "rock\nsand\n"
    assert (tmp_path / "yolo" / "labels" / "frame_000003.txt").read_text() == ""
    assert sorted(p.name for p in (tmp_path / "yolo" / "labels").iterdir()) == [
        "frame_000000.txt",
        "frame_000003.txt",
        "frame_000007.txt",
    ]
    write_labels(tmp_path / "voc", "voc", labels, NAMES, SIZE, CLASSES)
    empty = (tmp_path / "voc" / "frame_000003.xml").read_text()
    assert "<filename>frame_000003.png</filename>" in empty and "<object>" not in empty
    assert "<xmin>41</xmin>" in (tmp_path / "voc" / "frame_000000.xml").read_text()  # 1-based


def test_yolo_round_trip_holds_on_a_large_frame(tmp_path):
    size, names = (1080, 1920), ["a.png", "b.png"]
    rng = np.random.default_rng(0)
    corner = rng.uniform(0, 1000, (20, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(1, 80, (20, 2))], axis=1).astype(np.float32)
    labels = {1: {"boxes": boxes, "classes": rng.integers(0, 2, 20)}}
    read, _ = read_labels(write_labels(tmp_path / "y", "yolo", labels, names, size, CLASSES), names, size)
    assert_same(read, labels, atol=2e-3)


def test_write_labels_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"`fmt` must be one of \('coco', 'yolo', 'voc'\)\. Received: fmt='csv'"):
        write_labels(tmp_path / "x", "csv", some_labels(), NAMES, SIZE, CLASSES)
    with pytest.raises(ValueError, match=r"`labels` must be keyed by frame indices 0\.\.9\. Received: frame 10"):
        write_labels(tmp_path / "x", "voc", {10: some_labels()[0]}, NAMES, SIZE, CLASSES)
    with pytest.raises(ValueError, match=r"`objects\[0\]\['classes'\]` must be in 0\.\.0"):
        write_labels(tmp_path / "x.json", "coco", some_labels(), NAMES, SIZE, ["rock"])
    with pytest.raises(ValueError, match=r"`size` must be the frames' \(height, width\)"):
        read_labels(tmp_path, NAMES, (0, 5))


# ---------------------------------------------------------------- frames by name, classes


def test_frames_are_found_by_exact_name_else_by_stem_case_aside(tmp_path):
    path = coco_file(
        tmp_path / "labels.json",
        {"images/FRAME_000002.JPG": [([1, 1, 4, 4], 1)], "frame_000005.png": [], "C:\\x\\frame_000009.png": []},
    )
    labels, _ = read_labels(path, NAMES, SIZE)
    assert list(labels) == [2, 5, 9]
    # Two frames share a stem: the exact name decides; the stem alone is ambiguous unless its case tells.
    names = ["a.png", "a.jpg", "b.png", "B.jpg"]
    coco_file(tmp_path / "two.json", {"a.jpg": [([1, 1, 4, 4], 1)], "b.bmp": []})
    assert list(read_labels(tmp_path / "two.json", names, SIZE)[0]) == [1, 2]
    coco_file(tmp_path / "amb.json", {"A.bmp": [([1, 1, 4, 4], 1)]})
    with pytest.raises(AnnotationError) as raised:
        read_labels(tmp_path / "amb.json", names, SIZE)
    assert one_line(raised) == (
        f"{tmp_path / 'amb.json'}: images[0] (id 1) refers to 'A.bmp', which matches frames 'a.png', 'a.jpg' by stem; "
        "name the frame's file exactly"
    )
    # YOLO files are named by stem.
    folder = yolo_folder(tmp_path / "yolo", {"Frame_000004": ["1 0.5 0.5 0.25 0.25"]})
    labels, _ = read_labels(folder, NAMES, SIZE)
    assert list(labels) == [4] and labels[4]["classes"].tolist() == [1]
    np.testing.assert_allclose(labels[4]["boxes"], [[24, 18, 40, 30]])


def test_class_names_given_map_the_files_classes_by_name(tmp_path):
    # Categories out of id order: inferred classes follow the ids.
    categories = [{"id": 7, "name": "sand"}, {"id": 3, "name": "rock"}]
    path = coco_file(tmp_path / "c.json", {NAMES[0]: [([1, 1, 4, 4], 7), ([5, 5, 4, 4], 3)]}, categories)
    labels, names = read_labels(path, NAMES, SIZE)
    assert names == ("rock", "sand") and labels[0]["classes"].tolist() == [1, 0]
    labels, names = read_labels(path, NAMES, SIZE, class_names=["sand", "mud", "rock"])
    assert names == ("sand", "mud", "rock") and labels[0]["classes"].tolist() == [0, 2]
    # VOC: the sorted names found, or the given ones.
    voc_file(tmp_path / "voc" / "a.xml", [("sand", 2, 2, 5, 5)], NAMES[1])
    voc_file(tmp_path / "voc" / "b.xml", [("rock", 2, 2, 5, 5), ("mud", 2, 2, 5, 5)], NAMES[2])
    labels, names = read_labels(tmp_path / "voc", NAMES, SIZE)
    assert names == ("mud", "rock", "sand") and labels[2]["classes"].tolist() == [1, 0]
    labels, names = read_labels(tmp_path / "voc", NAMES, SIZE, class_names=["sand", "rock", "mud"])
    assert labels[1]["classes"].tolist() == [0] and labels[2]["classes"].tolist() == [1, 2]
    # YOLO: given names win over classes.txt.
    folder = yolo_folder(tmp_path / "yolo", {"frame_000000": ["1 0.5 0.5 0.25 0.25"]})
    assert read_labels(folder, NAMES, SIZE)[1] == ("rock", "sand")
    assert read_labels(folder, NAMES, SIZE, class_names=["a", "b", "c"])[1] == ("a", "b", "c")
    with pytest.raises(ValueError, match=r"`class_names` must be distinct"):
        read_labels(folder, NAMES, SIZE, class_names=["a", "a"])


def test_cvat_exports_are_read(tmp_path):
    # CVAT's YOLO 1.1: obj.names, obj.data, train.txt and obj_train_data/*.txt.
    folder = tmp_path / "yolo"
    (folder / "obj_train_data").mkdir(parents=True)
    (folder / "obj.names").write_text("rock\nsand\n")
    (folder / "train.txt").write_text("data/obj_train_data/frame_000001.png\n")
    (folder / "obj_train_data" / "frame_000001.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    labels, names = read_labels(folder, NAMES, SIZE)
    assert names == ("rock", "sand") and list(labels) == [1]
    # One .txt file, its classes beside it.
    assert list(read_labels(folder / "obj_train_data" / "frame_000001.txt", NAMES, SIZE)[0]) == [1]
    # Pascal VOC 1.1: Annotations/*.xml; COCO 1.0: annotations/instances_default.json.
    voc_file(tmp_path / "voc" / "Annotations" / "frame_000002.xml", [("rock", 1, 1, 64, 48)], "frame_000002.png")
    labels, _ = read_labels(tmp_path / "voc", NAMES, SIZE)
    np.testing.assert_array_equal(labels[2]["boxes"], [[0, 0, 64, 48]])
    coco_file(tmp_path / "coco" / "annotations" / "instances_default.json", {NAMES[3]: [([1, 1, 4, 4], 2)]})
    assert list(read_labels(tmp_path / "coco", NAMES, SIZE)[0]) == [3]
    # A list of VOC files.
    files = [voc_file(tmp_path / f"{i}.xml", [("rock", 1, 1, 5, 5)], NAMES[i]) for i in (4, 6)]
    assert list(read_labels(files, NAMES, SIZE)[0]) == [4, 6]


def test_rounding_past_the_edge_is_clipped(tmp_path):
    path = coco_file(tmp_path / "c.json", {NAMES[0]: [([-0.004, 40, 64.008, 8.005], 1)]})
    labels, _ = read_labels(path, NAMES, SIZE)
    np.testing.assert_allclose(labels[0]["boxes"], [[0, 40, 64, 48]])


# ---------------------------------------------------------------- errors: one line, the file and the item


def test_a_label_of_a_frame_the_video_does_not_have(tmp_path):
    path = coco_file(tmp_path / "labels.json", {NAMES[0]: [([1, 1, 4, 4], 1)], "frame_000010.png": []})
    with pytest.raises(AnnotationError) as raised:
        read_labels(path, NAMES, SIZE)
    assert one_line(raised) == (
        f"{path}: images[1] (id 2) refers to 'frame_000010.png', which is not a frame of the video "
        "(10 frames, 'frame_000000.png' .. 'frame_000009.png')"
    )
    folder = yolo_folder(tmp_path / "yolo", {"frame_000000": ["0 0.5 0.5 0.1 0.1"], "other": []})
    with pytest.raises(AnnotationError, match=re.escape("other.txt: refers to 'other', which is not a frame")):
        read_labels(folder, NAMES, SIZE)
    voc = voc_file(tmp_path / "v.xml", [("rock", 1, 1, 5, 5)], "x.jpg")
    with pytest.raises(AnnotationError, match=re.escape(f"{voc}: refers to 'x.jpg', which is not a frame")):
        read_labels(voc, NAMES, SIZE)


def test_a_frame_labelled_twice(tmp_path):
    path = coco_file(tmp_path / "labels.json", {NAMES[1]: [([1, 1, 4, 4], 1)], "FRAME_000001.jpg": []})
    with pytest.raises(AnnotationError) as raised:
        read_labels(path, NAMES, SIZE)
    assert one_line(raised) == (
        f"{path}: images[1] (id 2) labels frame 'frame_000001.png' again (first in labels.json images[0] (id 1))"
    )


@pytest.mark.parametrize(
    "fmt, label, expected",
    [
        (
            "coco",
            [[1, 1, 4, 4], 5],
            "annotation 0 (id 1, image 'frame_000000.png') bbox [1, 1, 4, 4]: unknown category 5",
        ),
        ("coco-given", [[1, 1, 4, 4], 2], "bbox [1, 1, 4, 4]: unknown class 'sand' (category 2), not in class_names"),
        ("yolo", "2 0.5 0.5 0.1 0.1", "box 0 (line 1) [2 0.5 0.5 0.1 0.1]: unknown class 2 (classes 0..1 in "),
        ("yolo-given", "1 0.5 0.5 0.1 0.1", "[1 0.5 0.5 0.1 0.1]: unknown class 1 (classes 0..0 in class_names)"),
        (
            "voc-given",
            ("mud", 2, 2, 5, 5),
            "object 0 ('mud') bndbox [2 2 5 5]: unknown class 'mud', not in class_names",
        ),
    ],
)
def test_a_class_that_does_not_exist(tmp_path, fmt, label, expected):
    given = ["rock"] if fmt.endswith("given") else None
    if fmt.startswith("coco"):
        path = coco_file(tmp_path / "labels.json", {NAMES[0]: [tuple(label)]})
    elif fmt.startswith("yolo"):
        path = yolo_folder(tmp_path / "yolo", {"frame_000000": [label]})
    else:
        path = voc_file(tmp_path / "frame_000000.xml", [label], NAMES[0])
    with pytest.raises(AnnotationError) as raised:
        read_labels(path, NAMES, SIZE, class_names=given)
    message = one_line(raised)
    assert expected in message
    assert message.startswith(str(path if fmt.startswith(("coco", "voc")) else path / "labels" / "frame_000000.txt"))


@pytest.mark.parametrize(
    "bbox, problem",
    [
        ([60, 10, 10, 10], "partly outside the 64x48 (width x height) image"),
        ([70, 10, 10, 10], "wholly outside the 64x48 (width x height) image"),
        ([-1, 10, 10, 10], "partly outside the 64x48 (width x height) image"),
        ([5, 10, 0, 10], "zero or negative width or height"),
        ([5, 10, 10, -3], "zero or negative width or height"),
        ([5, None, 10, 10], "NaN or infinite coordinate"),
    ],
)
def test_a_bad_box_raises_naming_the_file_and_the_box(tmp_path, bbox, problem):
    path = coco_file(tmp_path / "labels.json", {NAMES[0]: [([1, 1, 4, 4], 1)], NAMES[4]: [(bbox, 2)]})
    with pytest.raises(AnnotationError) as raised:
        read_labels(path, NAMES, SIZE)
    assert one_line(raised) == (
        f"{path}, annotation 1 (id 2, image 'frame_000004.png') bbox {json.dumps(bbox)}: {problem}"
    )


def test_bad_boxes_in_yolo_and_voc(tmp_path):
    folder = yolo_folder(tmp_path / "yolo", {"frame_000000": ["0 0.5 0.5 0.1 0.1", "0 0.95 0.5 0.2 0.1"]})
    with pytest.raises(AnnotationError) as raised:
        read_labels(folder, NAMES, SIZE)
    label = folder / "labels" / "frame_000000.txt"
    assert (
        one_line(raised)
        == f"{label}, box 1 (line 2) [0 0.95 0.5 0.2 0.1]: partly outside the 64x48 (width x height) image"
    )
    voc = voc_file(tmp_path / "a.xml", [("rock", 5, 5, 5, 9)], NAMES[0])  # 1-based inclusive: one pixel wide
    assert read_labels(voc, NAMES, SIZE)[0][0]["boxes"].tolist() == [[4, 4, 5, 9]]
    voc_file(voc, [("rock", 6, 5, 5, 9)], NAMES[0])
    with pytest.raises(AnnotationError) as raised:
        read_labels(voc, NAMES, SIZE)
    assert one_line(raised) == f"{voc}, object 0 ('rock') bndbox [6 5 5 9]: zero or negative width or height"
    voc_file(voc, [("rock", "nan", 5, 6, 9)], NAMES[0])
    with pytest.raises(AnnotationError, match=re.escape(f"{voc}, object 0 ('rock') bndbox [nan 5 6 9]: NaN")):
        read_labels(voc, NAMES, SIZE)


def test_a_frame_size_that_disagrees_with_the_video(tmp_path):
    path = coco_file(tmp_path / "labels.json", {NAMES[0]: [([1, 1, 4, 4], 1)]}, size=(480, 640))
    with pytest.raises(AnnotationError) as raised:
        read_labels(path, NAMES, SIZE)
    assert one_line(raised) == (
        f"{path}: images[0] (id 1) states the size (480, 640) (height, width), but the video's frames are (48, 64)"
    )
    voc = voc_file(tmp_path / "a.xml", [("rock", 1, 1, 5, 5)], NAMES[0], size=(48, 65))
    with pytest.raises(AnnotationError) as raised:
        read_labels(voc, NAMES, SIZE)
    assert one_line(raised) == f"{voc}: states the size (48, 65) (height, width), but the video's frames are (48, 64)"


def test_unparseable_files(tmp_path):
    bad_json = tmp_path / "labels.json"
    bad_json.write_text("{not json")
    with pytest.raises(AnnotationError) as raised:
        read_labels(bad_json, NAMES, SIZE)
    assert one_line(raised).startswith(f"{bad_json}: not a COCO JSON file (not JSON: ")
    bad_xml = tmp_path / "a.xml"
    bad_xml.write_text("<annotation><object>")
    with pytest.raises(AnnotationError) as raised:
        read_labels(bad_xml, NAMES, SIZE)
    assert one_line(raised).startswith(f"{bad_xml}: not a VOC XML file (not XML: ")
    bad_xml.write_text("<annotation><object><name>rock</name><bndbox><xmin>1</xmin></bndbox></object></annotation>")
    with pytest.raises(AnnotationError, match=re.escape(f"{bad_xml}: object 0 ('rock') has no <bndbox><ymin>")):
        read_labels(bad_xml, NAMES, SIZE)
    bad_xml.write_text("<doc/>")
    with pytest.raises(AnnotationError, match=re.escape(f"{bad_xml}: not a VOC annotation file (root element <doc>")):
        read_labels(bad_xml, NAMES, SIZE)
    folder = yolo_folder(tmp_path / "yolo", {"frame_000000": ["0 0.5 0.5 0.1"]})
    with pytest.raises(AnnotationError) as raised:
        read_labels(folder, NAMES, SIZE)
    assert one_line(raised) == (
        f"{folder / 'labels' / 'frame_000000.txt'} line 1: expected 5 numbers `class cx cy w h`, found 4: 0 0.5 0.5 0.1"
    )
    with pytest.raises(AnnotationError, match=re.escape(f"{tmp_path / 'x.csv'}: no such file or folder")):
        read_labels(tmp_path / "x.csv", NAMES, SIZE)
    (tmp_path / "x.csv").write_text("")
    with pytest.raises(AnnotationError, match=re.escape(f"{tmp_path / 'x.csv'}: not a label file")):
        read_labels(tmp_path / "x.csv", NAMES, SIZE)


def test_yolo_without_class_names(tmp_path):
    folder = yolo_folder(tmp_path / "yolo", {"frame_000000": ["0 0.5 0.5 0.1 0.1"]}, classes=None)
    with pytest.raises(AnnotationError) as raised:
        read_labels(folder, NAMES, SIZE)
    assert one_line(raised) == (
        f"{folder}: no data.yaml, classes.txt or obj.names names the classes; pass class_names=[...] in class order"
    )
    assert read_labels(folder, NAMES, SIZE, class_names=["rock"])[1] == ("rock",)


def test_a_label_file_with_no_labels(tmp_path):
    path = coco_file(tmp_path / "labels.json", {})
    with pytest.raises(AnnotationError) as raised:
        read_labels(path, NAMES, SIZE)
    assert one_line(raised) == f"no labels in {path} (no frame)"
    coco_file(path, {NAMES[0]: [], NAMES[1]: []})
    with pytest.raises(AnnotationError, match=re.escape(f"no labels in {path} (2 frames listed, none with a box)")):
        read_labels(path, NAMES, SIZE)
    folder = yolo_folder(tmp_path / "yolo", {"frame_000000": []})
    with pytest.raises(AnnotationError, match=re.escape(f"no labels in {folder} (1 frame listed, none with a box)")):
        read_labels(folder, NAMES, SIZE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnnotationError, match=re.escape(f"{tmp_path / 'empty'}: no label files (.xml, .txt, .json)")):
        read_labels(tmp_path / "empty", NAMES, SIZE)
