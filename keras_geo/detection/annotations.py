"""Users' box labels: COCO JSON and YOLO text files read into arrays, and COCO JSON written back.

:func:`read_coco` and :func:`read_yolo` return a :class:`DetectionData`: the images as one
float32 array and, per image, ``{"boxes": float32 (k, 4), "classes": int64 (k,)}`` with
boxes ``[x_min, y_min, x_max, y_max]`` in pixels of the returned images (see
:mod:`keras_geo.detection`). Images are read with :mod:`keras_geo.datasets.folders`.

Real label files hold mistakes: boxes of zero size, boxes partly or wholly outside their
image, classes nobody declared, NaN. By default (``on_bad_box="skip"``) bad boxes are dropped,
boxes partly outside are clipped to the image, and one warning counts them by kind and names
the first; ``on_bad_box="raise"`` raises :class:`AnnotationError` at the first instead.
Files that cannot be parsed at all, and missing or unreadable images, always raise.

:func:`write_coco` writes ground truth as a COCO annotation file, or detections as a COCO
results file; :func:`to_coco_dict` gives the same documents in memory (for pycocotools).
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from keras_geo.datasets.folders import IMAGE_SUFFIXES, ImageFolderError, convert_pixels, read_raw
from keras_geo.detection import boxes as box_ops

__all__ = [
    "AnnotationError",
    "DetectionData",
    "read_coco",
    "read_yolo",
    "to_coco_dict",
    "write_coco",
]

# Boxes that overshoot the image by at most this many pixels are clipped without a word:
# label files round their numbers (YOLO's 6 decimals are 0.002 pixels of a 4000-pixel side).
_EDGE_TOLERANCE = 0.01


class AnnotationError(ValueError):
    """A label file or image that cannot be used; the one-line message names the file (and box)."""


@dataclass(frozen=True, eq=False)
class DetectionData:
    """Images and their objects, read from a label format.

    Attributes:
        images: float32 ``(n, height, width, channels)`` in [0, 1].
        objects: ``n`` dicts ``{"boxes": float32 (k, 4), "classes": int64 (k,)}``, boxes in
            pixels of ``images``.
        class_names: The class names; class ``c`` is ``class_names[c]``.
        files: The ``n`` image paths read.
        category_ids: The label file's id of each class, in class order: COCO category ids
            for :func:`read_coco`, YOLO class numbers (``0 .. n - 1``) for :func:`read_yolo`.
        original_sizes: ``(height, width)`` of each file before resizing (``image_size``), to
            map boxes back to the files' pixels (:func:`~keras_geo.detection.boxes.scale`).
    """

    images: np.ndarray
    objects: list[dict[str, np.ndarray]]
    class_names: tuple[str, ...]
    files: list[str]
    category_ids: tuple[int, ...]
    original_sizes: list[tuple[int, int]]


def _check_options(image_size: Any, color_mode: str, on_bad_box: str) -> tuple[int, int] | None:
    if on_bad_box not in ("skip", "raise"):
        raise ValueError(f"`on_bad_box` must be 'skip' or 'raise'. Received: on_bad_box={on_bad_box!r}")
    if color_mode not in ("rgb", "grayscale"):
        raise ValueError(f"`color_mode` must be 'rgb' or 'grayscale'. Received: color_mode={color_mode!r}")
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, int | np.integer) and s > 0 for s in size):
        raise ValueError(
            f"`image_size` must be (height, width) or one side, positive integers. Received: image_size={image_size!r}"
        )
    return int(size[0]), int(size[1])


class BoxChecker:
    """Validates boxes, clips or drops the bad ones, and counts them for one warning (or raises at the first).

    Args:
        source: What the boxes come from, first in the warning (a file, a split).
        on_bad_box: ``"skip"`` (drop or clip, then one warning) or ``"raise"`` (an
            :class:`AnnotationError` at the first).
        hint: The warning's last words. Defaults to how to raise instead.
    """

    def __init__(self, source: Path | str, on_bad_box: str, hint: str = "on_bad_box='raise' stops at the first"):
        self.source = source
        self.hint = hint
        self.raise_first = on_bad_box == "raise"
        self.total = 0
        self.skipped = 0
        self.clipped = 0
        self.kinds: Counter[str] = Counter()
        self.first: str | None = None

    def bad(self, kind: str, where: str, problem: str, *, clipped: bool = False) -> None:
        """Counts (or raises on) one bad box; ``kind`` labels it in the warning."""
        message = f"{where}: {problem}"
        if self.raise_first:
            raise AnnotationError(message)
        self.kinds[kind] += 1
        if clipped:
            self.clipped += 1
        else:
            self.skipped += 1
        if self.first is None:
            self.first = message

    def check(
        self, xyxy: Sequence[float], known: bool, unknown: str, height: int, width: int, where: str
    ) -> np.ndarray | None:
        """The box (float64 ``(4,)`` pixels), clipped if it overshoots the image; ``None`` to drop it.

        ``known`` says whether its class is declared; ``unknown`` names the class otherwise
        (``"class 7"``, ``"category 7"``).
        """
        self.total += 1
        box = np.asarray(xyxy, dtype=np.float64)
        image = f"the {width}x{height} (width x height) image"
        if not np.all(np.isfinite(box)):
            self.bad("NaN", where, "NaN or infinite coordinate")
            return None
        if not known:
            self.bad(f"unknown {unknown}", where, f"unknown {unknown}")
            return None
        if not (box[2] > box[0] and box[3] > box[1]):
            self.bad("zero-area", where, "zero or negative width or height")
            return None
        inside = box_ops.clip(box, height, width).astype(np.float64)
        if not (inside[2] > inside[0] and inside[3] > inside[1]):
            self.bad("outside", where, f"wholly outside {image}")
            return None
        if max(-box[0], -box[1], box[2] - width, box[3] - height) > _EDGE_TOLERANCE:
            self.bad("partly outside (clipped)", where, f"partly outside {image}", clipped=True)
        return inside

    def warn(self, stacklevel: int = 3) -> None:
        if not self.kinds:
            return
        bad = "bad box" if self.skipped == 1 else "bad boxes"
        if self.skipped and self.clipped:
            head = f"skipped {self.skipped} {bad} and clipped {self.clipped} of {self.total}"
        elif self.skipped:
            head = f"skipped {self.skipped} {bad} of {self.total}"
        else:
            head = f"clipped {self.clipped} {'box' if self.clipped == 1 else 'boxes'} of {self.total}"
        kinds = ", ".join(f"{n} {kind}" for kind, n in self.kinds.items())
        warnings.warn(
            f"{self.source}: {head} ({kinds}): first in {self.first}; {self.hint}",
            stacklevel=stacklevel,
        )


class _ImageReader:
    """Reads images one by one, resized to one size or checked to share the first one's."""

    def __init__(self, image_size: tuple[int, int] | None, color_mode: str):
        self.image_size = image_size
        self.color_mode = color_mode
        self.first: tuple[Path, tuple[int, int]] | None = None

    def read(self, path: Path, listed_in: Path) -> tuple[np.ndarray, tuple[int, int]]:
        """The image as float32 ``(h, w, c)`` and the file's ``(height, width)``."""
        import cv2

        if not path.is_file():
            raise AnnotationError(f"{path}: image not found (listed in {listed_in})")
        try:
            raw = read_raw(path)
        except ImageFolderError as error:
            raise AnnotationError(f"{error} (listed in {listed_in})") from None
        original = (int(raw.shape[0]), int(raw.shape[1]))
        if self.image_size is None:
            if self.first is None:
                self.first = (path, original)
            elif original != self.first[1]:
                raise AnnotationError(
                    f"{path}: size {original} (height, width) differs from the first image's "
                    f"{self.first[1]} ({self.first[0]}); pass image_size=(height, width) to resize every image"
                )
        try:
            image = convert_pixels(raw, self.image_size, self.color_mode)
        except cv2.error as error:
            reason = " ".join(str(error).split())
            raise AnnotationError(f"{path}: cannot convert its {raw.dtype} {raw.shape} pixels: {reason}") from None
        return image, original


def _objects(boxes: list[np.ndarray], classes: list[int], original: tuple[int, int], size: tuple[int, int]) -> dict:
    array = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if size != original:
        array = box_ops.scale(array, size[0] / original[0], size[1] / original[1])
    return {"boxes": array.astype(np.float32), "classes": np.asarray(classes, dtype=np.int64)}


def _data(images, objects, class_names, files, category_ids, originals, source: Path) -> DetectionData:
    if not images:
        raise AnnotationError(f"{source}: no images")
    return DetectionData(
        np.stack(images), objects, tuple(class_names), [str(f) for f in files], tuple(category_ids), originals
    )


# ---------------------------------------------------------------- COCO


def _load_coco(path: Path) -> dict:
    if not path.is_file():
        raise AnnotationError(f"{path}: no such file")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise AnnotationError(f"{path}: not a COCO JSON file (not JSON: {error})") from None
    if isinstance(document, list):
        raise AnnotationError(
            f"{path}: not a COCO annotation file (a JSON list, as COCO results are; expected an object "
            "with images, annotations and categories)"
        )
    missing = [
        k for k in ("images", "annotations", "categories") if not isinstance(document, dict) or k not in document
    ]
    if missing:
        raise AnnotationError(f"{path}: not a COCO annotation file (no {', '.join(missing)})")
    for key in ("images", "annotations", "categories"):
        if not isinstance(document[key], list):
            raise AnnotationError(f"{path}: not a COCO annotation file ({key} is not a list)")
    return document


def _number(value: Any) -> float | None:
    """A JSON number as float (``null`` as NaN), or ``None`` if it is no number."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def read_coco(
    json_path: str | Path,
    images_dir: str | Path | None = None,
    *,
    image_size: tuple[int, int] | int | None = None,
    color_mode: str = "rgb",
    on_bad_box: str = "skip",
) -> DetectionData:
    """Reads a COCO annotation file (object detection: ``bbox`` annotations) and its images.

    Classes are the file's categories sorted by id (class ``c`` is the ``c``-th smallest id);
    images keep the file's order, and images without annotations are kept with ``k = 0``.
    Annotations with ``iscrowd=1`` (a region over a crowd, which COCO's evaluation ignores)
    are skipped silently; segmentations and other fields are ignored.

    Args:
        json_path: The annotation file.
        images_dir: The folder that images' ``file_name`` are relative to. Defaults to the
            JSON file's folder.
        image_size: ``(height, width)`` or one side: every image is resized to it (by area
            when shrinking, linearly when enlarging) and its boxes scaled alike. Defaults to
            `None`: images keep their size, which must then be the same for all.
        color_mode: ``"rgb"`` (3 channels) or ``"grayscale"`` (1). Defaults to `"rgb"`.
        on_bad_box: ``"skip"``: drop bad boxes (clip those partly outside their image) with
            one warning; ``"raise"``: raise at the first. Defaults to `"skip"`.

    Returns:
        :class:`DetectionData`, with the COCO category ids in ``category_ids``.

    Raises:
        AnnotationError: if the file is not COCO JSON, an image is missing, unreadable, of
            another size than the file says, or (without ``image_size``) of another size than
            the first; with ``on_bad_box="raise"``, at the first bad box.
        ValueError: if an option is invalid.
    """
    size = _check_options(image_size, color_mode, on_bad_box)
    json_path = Path(json_path)
    document = _load_coco(json_path)
    images_dir = json_path.parent if images_dir is None else Path(images_dir)

    categories = {}
    for i, category in enumerate(document["categories"]):
        if not isinstance(category, dict) or not isinstance(category.get("id"), int) or "name" not in category:
            raise AnnotationError(f"{json_path}: categories[{i}] has no integer id and name: {category!r}")
        if category["id"] in categories:
            raise AnnotationError(f"{json_path}: categories[{i}] repeats id {category['id']}")
        categories[category["id"]] = str(category["name"])
    category_ids = sorted(categories)
    class_of = {category_id: c for c, category_id in enumerate(category_ids)}

    listed = {}
    for i, image in enumerate(document["images"]):
        if not isinstance(image, dict) or "id" not in image or not isinstance(image.get("file_name"), str):
            raise AnnotationError(f"{json_path}: images[{i}] has no id and file_name: {image!r}")
        if image["id"] in listed:
            raise AnnotationError(f"{json_path}: images[{i}] repeats id {image['id']}")
        listed[image["id"]] = image

    annotations: dict[Any, list[tuple[int, dict]]] = {image_id: [] for image_id in listed}
    orphans = []
    for i, annotation in enumerate(document["annotations"]):
        if not isinstance(annotation, dict) or "bbox" not in annotation:
            raise AnnotationError(f"{json_path}: annotations[{i}] has no bbox")
        if annotation.get("iscrowd", 0):
            continue
        if annotation.get("image_id") in annotations:
            annotations[annotation["image_id"]].append((i, annotation))
        else:
            orphans.append((i, annotation))

    checker = BoxChecker(json_path, on_bad_box)
    for i, annotation in orphans:
        checker.total += 1
        checker.bad(
            "unknown image",
            f"{json_path.name}, annotation {i} (id {annotation.get('id')}) bbox {json.dumps(annotation['bbox'])}",
            f"unknown image_id {annotation.get('image_id')!r}",
        )

    reader = _ImageReader(size, color_mode)
    images, objects, files, originals = [], [], [], []
    for image_id, image in listed.items():
        path = images_dir / image["file_name"]
        pixels, original = reader.read(path, json_path)
        stated = (image.get("height"), image.get("width"))
        if None not in stated and tuple(stated) != original:
            raise AnnotationError(
                f"{path}: size {original} (height, width) differs from the {stated} that {json_path.name} states"
            )
        kept, classes = [], []
        for i, annotation in annotations[image_id]:
            bbox = annotation["bbox"]
            values = [_number(v) for v in bbox] if isinstance(bbox, list) else []
            if len(values) != 4 or None in values:
                raise AnnotationError(
                    f"{json_path}: annotations[{i}] (id {annotation.get('id')}) bbox is not 4 numbers: {bbox!r}"
                )
            where = (
                f"{json_path.name}, annotation {i} (id {annotation.get('id')}, image {image['file_name']!r}) "
                f"bbox {json.dumps(bbox)}"
            )
            xyxy = [values[0], values[1], values[0] + values[2], values[1] + values[3]]
            category = annotation.get("category_id")
            box = checker.check(xyxy, category in class_of, f"category {category}", *original, where)
            if box is not None:
                kept.append(box)
                classes.append(class_of[annotation["category_id"]])
        images.append(pixels)
        objects.append(_objects(kept, classes, original, pixels.shape[:2]))
        files.append(path)
        originals.append(original)
    checker.warn()
    return _data(images, objects, [categories[c] for c in category_ids], files, category_ids, originals, json_path)


# ---------------------------------------------------------------- YOLO


def _yolo_layout(folder: Path) -> tuple[Path, Path, Path]:
    """The images' folder, the labels' folder and the dataset's root (where data.yaml usually is)."""
    if (folder / "images").is_dir():
        return folder / "images", folder / "labels", folder
    parts = folder.parts
    if "images" in parts:
        # Ultralytics' layout: ds/images/train holds the images, ds/labels/train their labels.
        at = len(parts) - 1 - parts[::-1].index("images")
        return folder, Path(*parts[:at], "labels", *parts[at + 1 :]), Path(*parts[:at])
    return folder, folder, folder


def _yolo_class_names(places: Sequence[Path]) -> tuple[tuple[str, ...], Path] | None:
    import yaml

    for place in places:
        for name in ("data.yaml", "data.yml"):
            path = place / name
            if not path.is_file():
                continue
            try:
                document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as error:
                raise AnnotationError(f"{path}: not YAML: {' '.join(str(error).split())}") from None
            names = document.get("names") if isinstance(document, dict) else None
            if isinstance(names, dict):
                try:
                    by_id = {int(k): str(v) for k, v in names.items()}
                except (TypeError, ValueError):
                    by_id = {}
                if sorted(by_id) != list(range(len(by_id))):
                    raise AnnotationError(f"{path}: names must map 0..n-1 to names. Received: names={names!r}")
                names = [by_id[i] for i in range(len(by_id))]
            if not isinstance(names, list) or not names:
                raise AnnotationError(f"{path}: no `names:` list or dict of the classes")
            return tuple(str(n) for n in names), path
    for place in places:
        path = place / "classes.txt"
        if path.is_file():
            names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            if not names:
                raise AnnotationError(f"{path}: no class names (one name per line)")
            return tuple(names), path
    return None


def _yolo_line(tokens: list[str], label: Path, lineno: int) -> tuple[int, list[float]]:
    """The class and ``(cx, cy, w, h)`` of a label line; raises if it is not 5 numbers."""
    if len(tokens) != 5:
        hint = " (a segmentation polygon?)" if len(tokens) > 5 and len(tokens) % 2 == 1 else ""
        raise AnnotationError(
            f"{label} line {lineno}: expected 5 numbers `class cx cy w h`, found {len(tokens)}{hint}: {' '.join(tokens)}"
        )
    try:
        numbers = [float(t) for t in tokens]
    except ValueError:
        raise AnnotationError(
            f"{label} line {lineno}: expected 5 numbers `class cx cy w h`: {' '.join(tokens)}"
        ) from None
    if not math.isfinite(numbers[0]) or numbers[0] != int(numbers[0]):
        raise AnnotationError(f"{label} line {lineno}: the class must be an integer: {' '.join(tokens)}")
    return int(numbers[0]), numbers[1:]


def read_yolo(
    folder: str | Path,
    class_names: Sequence[str] | None = None,
    *,
    image_size: tuple[int, int] | int | None = None,
    color_mode: str = "rgb",
    on_bad_box: str = "skip",
) -> DetectionData:
    """Reads a YOLO-format folder: images and one ``<stem>.txt`` of ``class cx cy w h`` lines per image.

    Layouts: ``folder/images/*`` with ``folder/labels/<stem>.txt``; Ultralytics'
    ``ds/images/<split>`` (pass that folder) with ``ds/labels/<split>/<stem>.txt``; or images
    and ``.txt`` files side by side in ``folder``. Coordinates are normalised to [0, 1] by the
    image's width and height; an image without a ``.txt`` file has no objects. Images are
    read in name order, not recursively.

    Args:
        folder: The folder (see the layouts above).
        class_names: The class names, class ``c`` first at ``c``. Defaults to the ``names:``
            of a ``data.yaml`` (list, or dict of ``0..n-1``), else the lines of a
            ``classes.txt``, looked for in ``folder``, the labels' folder and the dataset's root.
        image_size: ``(height, width)`` or one side: every image is resized to it and its
            boxes scaled alike. Defaults to `None`: images keep their size, which must then be
            the same for all.
        color_mode: ``"rgb"`` (3 channels) or ``"grayscale"`` (1). Defaults to `"rgb"`.
        on_bad_box: ``"skip"``: drop bad boxes (clip those partly outside their image) with
            one warning; ``"raise"``: raise at the first. Defaults to `"skip"`.

    Returns:
        :class:`DetectionData`, with ``category_ids`` ``(0, .., n - 1)``.

    Raises:
        AnnotationError: if the folder holds no image, no file names the classes and
            ``class_names`` is not given, a line is not 5 numbers, an image is unreadable or
            (without ``image_size``) of another size than the first; with
            ``on_bad_box="raise"``, at the first bad box.
        ValueError: if an option is invalid.
    """
    size = _check_options(image_size, color_mode, on_bad_box)
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError(f"{folder}: no such folder")
    image_dir, label_dir, root = _yolo_layout(folder)
    if class_names is None:
        found = _yolo_class_names(list(dict.fromkeys([folder, label_dir, root])))
        if found is None:
            raise AnnotationError(
                f"{folder}: no data.yaml or classes.txt names the classes; pass class_names=[...] in class order"
            )
        class_names = found[0]
    elif isinstance(class_names, str) or not len(class_names):
        raise ValueError(f"`class_names` must be a non-empty list of names. Received: class_names={class_names!r}")
    class_names = tuple(str(n) for n in class_names)

    paths = sorted(
        p
        for p in image_dir.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    if not paths:
        raise AnnotationError(f"{image_dir}: no images ({', '.join(IMAGE_SUFFIXES)})")

    checker = BoxChecker(folder, on_bad_box)
    reader = _ImageReader(size, color_mode)
    images, objects, originals = [], [], []
    for path in paths:
        pixels, original = reader.read(path, folder)
        height, width = original
        label = next((p for p in (label_dir / f"{path.stem}.txt", image_dir / f"{path.stem}.txt") if p.is_file()), None)
        kept, classes = [], []
        if label is not None:
            shown = label.relative_to(folder) if label.is_relative_to(folder) else label
            lines = [(n, line.split()) for n, line in enumerate(label.read_text(encoding="utf-8").splitlines(), 1)]
            for index, (lineno, tokens) in enumerate((n, t) for n, t in lines if t):
                class_id, (cx, cy, w, h) = _yolo_line(tokens, label, lineno)
                where = f"{shown}, box {index} (line {lineno}) [{' '.join(tokens)}]"
                xyxy = [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
                known = 0 <= class_id < len(class_names)
                box = checker.check(xyxy, known, f"class {class_id}", height, width, where)
                if box is not None:
                    kept.append(box)
                    classes.append(class_id)
        images.append(pixels)
        objects.append(_objects(kept, classes, original, pixels.shape[:2]))
        originals.append(original)
    checker.warn()
    return _data(images, objects, class_names, paths, range(len(class_names)), originals, folder)


# ---------------------------------------------------------------- writing


def _float32(value: Any) -> float:
    """The shortest decimal that reads back as the same float32 (``10.3``, not ``10.300000190734863``)."""
    return float(str(np.float32(value)))


def to_coco_dict(
    objects: Sequence[dict[str, Any]],
    class_names: Sequence[str],
    files: Sequence[str | Path],
    image_sizes: Sequence[tuple[int, int]] | tuple[int, int],
    *,
    detections: bool = False,
    category_ids: Sequence[int] | None = None,
) -> dict[str, Any] | list[dict[str, Any]]:
    """The COCO document of ground truth or detections, as Python objects (what :func:`write_coco` writes).

    Image ``i`` (its position in ``objects``) gets id ``i + 1``, class ``c`` the category id
    ``category_ids[c]``, so a ground-truth dict and a detections list made from the same
    ``files`` match each other. With pycocotools::

        ground_truth = COCO()  # pycocotools.coco.COCO
        ground_truth.dataset = to_coco_dict(truth, class_names, files, sizes)
        ground_truth.createIndex()
        found = ground_truth.loadRes(to_coco_dict(predicted, class_names, files, sizes, detections=True))

    (``loadRes`` fails on an empty list: skip it when nothing was detected.)

    Args:
        objects: Per image ``{"boxes": (k, 4) [x_min, y_min, x_max, y_max] pixels,
            "classes": (k,)}``, plus ``"scores": (k,)`` with ``detections=True``.
        class_names: The class names, in class order.
        files: Per image its ``file_name``, written as given.
        image_sizes: Per image ``(height, width)`` in the pixels of its boxes, or one
            ``(height, width)`` for all.
        detections: Write COCO's results format instead of ground truth. Defaults to `False`.
        category_ids: The category id of each class. Defaults to `1 .. len(class_names)`.

    Returns:
        Ground truth: ``{"info", "images", "annotations", "categories"}``, annotations with
        ``id`` from 1, ``bbox`` ``[x, y, width, height]``, ``area = width * height`` and
        ``iscrowd`` 0 (``info`` is there because pycocotools 2.0.9-2.0.10's ``loadRes`` needs
        it). Detections: a list of ``{"image_id", "category_id", "bbox", "score"}``.

    Raises:
        ValueError: if the lengths disagree, a class is out of range, boxes are not
            ``(k, 4)``, or detections have no scores.
    """
    n = len(objects)
    if len(files) != n:
        raise ValueError(f"`files` must have one entry per image ({n}). Received: len(files)={len(files)}")
    sizes = np.asarray(image_sizes, dtype=np.int64)
    if sizes.shape == (2,):
        sizes = np.tile(sizes, (n, 1))
    if sizes.shape != (n, 2):
        raise ValueError(
            f"`image_sizes` must be one (height, width) or one per image ({n}). Received: image_sizes of shape {sizes.shape}"
        )
    category_ids = list(range(1, len(class_names) + 1)) if category_ids is None else [int(c) for c in category_ids]
    if len(category_ids) != len(class_names):
        raise ValueError(
            f"`category_ids` must have one id per class ({len(class_names)}). Received: category_ids={category_ids}"
        )

    images, annotations, results = [], [], []
    for i, (found, file, (height, width)) in enumerate(zip(objects, files, sizes.tolist())):
        boxes = np.asarray(found["boxes"], dtype=np.float32)
        classes = np.asarray(found["classes"]).astype(np.int64)
        if boxes.ndim != 2 or boxes.shape[1] != 4 or classes.shape != (len(boxes),):
            raise ValueError(
                f"`objects[{i}]` must hold boxes (k, 4) and classes (k,). "
                f"Received: boxes.shape={boxes.shape}, classes.shape={classes.shape}"
            )
        if len(classes) and not (0 <= classes.min() and classes.max() < len(class_names)):
            raise ValueError(
                f"`objects[{i}]['classes']` must be in 0..{len(class_names) - 1}. Received: {classes.tolist()}"
            )
        if detections:
            if "scores" not in found:
                raise ValueError(
                    f"`objects[{i}]` must have 'scores' with detections=True. Received: keys {list(found)}"
                )
            scores = np.asarray(found["scores"], dtype=np.float32).reshape(-1)
            if scores.shape != (len(boxes),):
                raise ValueError(f"`objects[{i}]['scores']` must be ({len(boxes)},). Received: shape {scores.shape}")
        images.append({"id": i + 1, "file_name": str(file), "height": int(height), "width": int(width)})
        for j, (box, c) in enumerate(zip(box_ops.xyxy_to_xywh(boxes).tolist(), classes.tolist())):
            bbox = [_float32(v) for v in box]
            if detections:
                results.append(
                    {"image_id": i + 1, "category_id": category_ids[c], "bbox": bbox, "score": _float32(scores[j])}
                )
            else:
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": i + 1,
                        "category_id": category_ids[c],
                        "bbox": bbox,
                        "area": bbox[2] * bbox[3],
                        "iscrowd": 0,
                    }
                )
    if detections:
        return results
    return {
        "info": {"description": "written by keras_geo.detection"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c, "name": str(name)} for c, name in zip(category_ids, class_names)],
    }


def write_coco(
    path: str | Path,
    objects: Sequence[dict[str, Any]],
    class_names: Sequence[str],
    files: Sequence[str | Path],
    image_sizes: Sequence[tuple[int, int]] | tuple[int, int],
    *,
    detections: bool = False,
    category_ids: Sequence[int] | None = None,
) -> Path:
    """Writes ground truth as a COCO annotation file, or detections as a COCO results file.

    The document is :func:`to_coco_dict`'s. Files that lie inside the JSON's folder (relative
    paths taken from the working directory) are written relative to it, so :func:`read_coco`
    finds them and the folder can move; other paths are written as given. ``read_coco(write_coco(...))`` gives the same boxes (to float32
    precision) and classes.

    Args:
        path: The JSON file to write; its folder is created.
        objects: Per image ``{"boxes", "classes"}`` (and ``"scores"`` with ``detections=True``).
        class_names: The class names, in class order.
        files: Per image its path or ``file_name``.
        image_sizes: Per image ``(height, width)`` in the pixels of its boxes, or one for all.
        detections: Write COCO's results format. Defaults to `False`.
        category_ids: The category id of each class. Defaults to `1 .. len(class_names)`.

    Returns:
        The path written.

    Raises:
        ValueError: as :func:`to_coco_dict`.
    """
    path = Path(path)
    folder = path.parent.resolve()
    names = []
    for file in files:
        resolved = Path(file).resolve()
        names.append(resolved.relative_to(folder).as_posix() if resolved.is_relative_to(folder) else str(file))
    document = to_coco_dict(objects, class_names, names, image_sizes, detections=detections, category_ids=category_ids)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path
