"""Users' box labels: COCO JSON, YOLO text and Pascal VOC XML files read into arrays, and written back.

:func:`read_coco`, :func:`read_yolo` and :func:`read_voc` return a :class:`DetectionData`: the
images as one float32 array and, per image, ``{"boxes": float32 (k, 4), "classes": int64 (k,)}``
with boxes ``[x_min, y_min, x_max, y_max]`` in pixels of the returned images (see
:mod:`keras_geo.detection`). Images are read with :mod:`keras_geo.datasets.folders`.

Real label files hold mistakes: boxes of zero size, boxes partly or wholly outside their
image, classes nobody declared, NaN. By default (``on_bad_box="skip"``) bad boxes are dropped,
boxes partly outside are clipped to the image, and one warning counts them by kind and names
the first; ``on_bad_box="raise"`` raises :class:`AnnotationError` at the first instead.
Files that cannot be parsed at all, and missing or unreadable images, always raise.

:func:`write_coco` writes ground truth as a COCO annotation file, or detections as a COCO
results file; :func:`to_coco_dict` gives the same documents in memory (for pycocotools).
:func:`write_yolo` and :func:`write_voc` write ground truth as YOLO text and VOC XML files.

Each format's label files are parsed without reading any image (``_parse_coco``,
``_parse_yolo``, ``_parse_voc``: one ``_Entry`` per image, its file name, the size the file
states and its raw boxes), so :mod:`keras_geo.annotate.labels` reads the labels of video frames
with the same parsers.
"""

from __future__ import annotations

import json
import math
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
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
    "read_voc",
    "read_yolo",
    "to_coco_dict",
    "write_coco",
    "write_voc",
    "write_yolo",
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
            for :func:`read_coco`, ``0 .. n - 1`` for :func:`read_yolo` (the YOLO class numbers)
            and :func:`read_voc`.
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


# ---------------------------------------------------------------- label files parsed, no image read


@dataclass(frozen=True)
class _Box:
    """One box as its label file states it.

    Attributes:
        item: Names the box in its file, after the file's name in messages
            (``"annotation 3 (id 7, image 'a.png') bbox [1, 2, 3, 4]"``).
        xyxy: ``[x_min, y_min, x_max, y_max]`` in pixels, or in fractions of the image's
            width and height where the entry is ``normalised`` (YOLO).
        category: The file's class key: COCO category id, YOLO class number, VOC class name.
    """

    item: str
    xyxy: tuple[float, float, float, float]
    category: Any


@dataclass(frozen=True)
class _Entry:
    """One image of a label file, as the file states it (no image is read).

    Attributes:
        label: The label file.
        item: Names the image in its file (``"images[2] (id 12)"``); ``""`` where the file is
            the image's alone (YOLO, VOC).
        file_name: The image's file name as written (COCO ``file_name``, VOC ``<filename>``);
            `None` where the file does not say (YOLO, VOC without ``<filename>``).
        stem: The image's file name without folder and suffix (for YOLO and VOC without
            ``<filename>``, the label file's stem).
        size: ``(height, width)`` as the file states it, or `None` where it does not.
        boxes: The boxes, unchecked.
        normalised: Whether ``xyxy`` are fractions of the image's sides (YOLO).
    """

    label: Path
    item: str
    file_name: str | None
    stem: str
    size: tuple[Any, Any] | None
    boxes: tuple[_Box, ...]
    normalised: bool = False

    def pixels(self, box: _Box, height: int, width: int) -> list[float]:
        """The box in pixels of a ``height`` x ``width`` image."""
        if not self.normalised:
            return list(box.xyxy)
        x_min, y_min, x_max, y_max = box.xyxy
        return [x_min * width, y_min * height, x_max * width, y_max * height]


@dataclass(frozen=True)
class _CocoFile:
    """A COCO annotation file: its images, categories by id, and annotations of no listed image."""

    entries: list[_Entry]
    categories: dict[int, str]
    orphans: list[tuple[str, Any]]  # (item, image_id)


def _base_name(file_name: str) -> str:
    """The last part of a file name written with ``/`` or ``\\``."""
    return file_name.replace("\\", "/").rsplit("/", 1)[-1]


def _stated_size(entry: _Entry, original: tuple[int, int], path: Path) -> None:
    """Raises if the image's ``(height, width)`` is not what its label file states."""
    if entry.size is not None and tuple(entry.size) != original:
        raise AnnotationError(
            f"{path}: size {original} (height, width) differs from the {entry.size} that {entry.label.name} states"
        )


def _known(category: Any, class_of: dict) -> bool:
    try:
        return category in class_of
    except TypeError:  # a JSON list or object as category id
        return False


def _entry_objects(
    entry: _Entry,
    class_of: dict[Any, int],
    unknown: Callable[[Any], str],
    height: int,
    width: int,
    checker: BoxChecker,
    prefix: str,
) -> tuple[list[np.ndarray], list[int]]:
    """The entry's good boxes (pixels of a ``height`` x ``width`` image, clipped) and their classes.

    Args:
        entry: The image's entry.
        class_of: The class of each category key the file may use.
        unknown: Names a category key that is not in ``class_of`` (``"category 7"``).
        height: The image's height.
        width: The image's width.
        checker: Checks the boxes (drops, clips, counts or raises).
        prefix: Before each box's item in messages (the label file's name and ``", "``).
    """
    kept, classes = [], []
    for box in entry.boxes:
        known = _known(box.category, class_of)
        where = f"{prefix}{box.item}"
        found = checker.check(entry.pixels(box, height, width), known, unknown(box.category), height, width, where)
        if found is not None:
            kept.append(found)
            classes.append(class_of[box.category])
    return kept, classes


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


def _parse_coco(path: Path) -> _CocoFile:
    """A COCO annotation file's images (in the file's order) with their boxes, categories and orphans.

    Crowd annotations (``iscrowd=1``) are left out; boxes are pixels ``xyxy`` from the ``bbox``
    ``[x, y, width, height]``, their category the ``category_id`` as written.

    Raises:
        AnnotationError: if the file is missing or not a COCO annotation file, a category or
            image has no id (or repeats one), or an annotation's bbox is not 4 numbers.
    """
    document = _load_coco(path)
    categories: dict[int, str] = {}
    for i, category in enumerate(document["categories"]):
        if not isinstance(category, dict) or not isinstance(category.get("id"), int) or "name" not in category:
            raise AnnotationError(f"{path}: categories[{i}] has no integer id and name: {category!r}")
        if category["id"] in categories:
            raise AnnotationError(f"{path}: categories[{i}] repeats id {category['id']}")
        categories[category["id"]] = str(category["name"])

    listed: dict[Any, tuple[int, dict]] = {}
    for i, image in enumerate(document["images"]):
        if not isinstance(image, dict) or "id" not in image or not isinstance(image.get("file_name"), str):
            raise AnnotationError(f"{path}: images[{i}] has no id and file_name: {image!r}")
        try:
            repeated = image["id"] in listed
        except TypeError:  # a JSON list or object
            raise AnnotationError(f"{path}: images[{i}] has an id that is no number or string: {image!r}") from None
        if repeated:
            raise AnnotationError(f"{path}: images[{i}] repeats id {image['id']}")
        listed[image["id"]] = (i, image)

    boxes: dict[Any, list[_Box]] = {image_id: [] for image_id in listed}
    orphans = []
    for i, annotation in enumerate(document["annotations"]):
        if not isinstance(annotation, dict) or "bbox" not in annotation:
            raise AnnotationError(f"{path}: annotations[{i}] has no bbox")
        if annotation.get("iscrowd", 0):
            continue
        image_id = annotation.get("image_id")
        bbox = annotation["bbox"]
        if not _known(image_id, boxes):
            orphans.append((f"annotation {i} (id {annotation.get('id')}) bbox {json.dumps(bbox)}", image_id))
            continue
        values = [_number(v) for v in bbox] if isinstance(bbox, list) else []
        if len(values) != 4 or None in values:
            raise AnnotationError(
                f"{path}: annotations[{i}] (id {annotation.get('id')}) bbox is not 4 numbers: {bbox!r}"
            )
        file_name = listed[image_id][1]["file_name"]
        item = f"annotation {i} (id {annotation.get('id')}, image {file_name!r}) bbox {json.dumps(bbox)}"
        xyxy = (values[0], values[1], values[0] + values[2], values[1] + values[3])
        boxes[image_id].append(_Box(item, xyxy, annotation.get("category_id")))

    entries = []
    for image_id, (i, image) in listed.items():
        stated = (image.get("height"), image.get("width"))
        entries.append(
            _Entry(
                label=path,
                item=f"images[{i}] (id {image_id})",
                file_name=image["file_name"],
                stem=Path(_base_name(image["file_name"])).stem,
                size=None if None in stated else stated,
                boxes=tuple(boxes[image_id]),
            )
        )
    return _CocoFile(entries, categories, orphans)


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
    parsed = _parse_coco(json_path)
    images_dir = json_path.parent if images_dir is None else Path(images_dir)
    category_ids = sorted(parsed.categories)
    class_of = {category_id: c for c, category_id in enumerate(category_ids)}

    checker = BoxChecker(json_path, on_bad_box)
    for item, image_id in parsed.orphans:
        checker.total += 1
        checker.bad("unknown image", f"{json_path.name}, {item}", f"unknown image_id {image_id!r}")

    reader = _ImageReader(size, color_mode)
    images, objects, files, originals = [], [], [], []
    for entry in parsed.entries:
        path = images_dir / entry.file_name
        pixels, original = reader.read(path, json_path)
        _stated_size(entry, original, path)
        kept, classes = _entry_objects(
            entry, class_of, lambda c: f"category {c}", *original, checker, f"{json_path.name}, "
        )
        images.append(pixels)
        objects.append(_objects(kept, classes, original, pixels.shape[:2]))
        files.append(path)
        originals.append(original)
    checker.warn()
    class_names = [parsed.categories[c] for c in category_ids]
    return _data(images, objects, class_names, files, category_ids, originals, json_path)


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
    """The class names and the file that gives them: the first ``data.yaml`` (or ``.yml``), else
    ``classes.txt``, else ``obj.names`` in ``places`` (in their order); `None` if none does."""
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
    for file_name in ("classes.txt", "obj.names"):  # obj.names: Darknet's and CVAT's YOLO 1.1 export
        for place in places:
            path = place / file_name
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


def _parse_yolo(label: Path) -> _Entry:
    """A YOLO label file's boxes (``class cx cy w h`` lines) as fractions of the image's sides.

    Raises:
        AnnotationError: if the file is not UTF-8 text or a line is not 5 numbers.
    """
    try:
        text = label.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AnnotationError(f"{label}: not a YOLO label file (not UTF-8 text)") from None
    boxes = []
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1)]
    for index, (lineno, tokens) in enumerate((n, t) for n, t in lines if t):
        class_id, (cx, cy, w, h) = _yolo_line(tokens, label, lineno)
        item = f"box {index} (line {lineno}) [{' '.join(tokens)}]"
        boxes.append(_Box(item, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), class_id))
    return _Entry(label, "", None, label.stem, None, tuple(boxes), normalised=True)


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
            ``classes.txt``, else of an ``obj.names`` (Darknet's), looked for in ``folder``, the
            labels' folder and the dataset's root.
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
    class_of = {c: c for c in range(len(class_names))}
    images, objects, originals = [], [], []
    for path in paths:
        pixels, original = reader.read(path, folder)
        label = next((p for p in (label_dir / f"{path.stem}.txt", image_dir / f"{path.stem}.txt") if p.is_file()), None)
        kept, classes = [], []
        if label is not None:
            shown = label.relative_to(folder) if label.is_relative_to(folder) else label
            entry = _parse_yolo(label)
            kept, classes = _entry_objects(entry, class_of, lambda c: f"class {c}", *original, checker, f"{shown}, ")
        images.append(pixels)
        objects.append(_objects(kept, classes, original, pixels.shape[:2]))
        originals.append(original)
    checker.warn()
    return _data(images, objects, class_names, paths, range(len(class_names)), originals, folder)


# ---------------------------------------------------------------- Pascal VOC


def _voc_text(element: ET.Element, tag: str) -> str | None:
    """The stripped text of ``element``'s first ``tag`` child; `None` if there is none or it is empty."""
    child = element.find(tag)
    text = None if child is None or child.text is None else child.text.strip()
    return text or None


def _parse_voc(path: Path) -> _Entry:
    """A Pascal VOC XML file's image: ``<filename>``, ``<size>`` and each ``<object>``'s box and class name.

    VOC's pixel coordinates are 1-based and inclusive (``xmin = 1, xmax = width`` is the whole
    image): the box is ``[xmin - 1, ymin - 1, xmax, ymax]`` in continuous pixels. ``difficult``,
    ``truncated`` and ``pose`` are ignored (a difficult object is an object). A ``<size>`` of
    zeros (written by tools that did not know it) states no size.

    Raises:
        AnnotationError: if the file is missing, not XML, not an ``<annotation>``, or an object
            has no name or no ``<bndbox>`` of 4 numbers.
    """
    if not path.is_file():
        raise AnnotationError(f"{path}: no such file")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise AnnotationError(f"{path}: not a VOC XML file (not XML: {error})") from None
    if root.tag != "annotation":
        raise AnnotationError(f"{path}: not a VOC annotation file (root element <{root.tag}>, expected <annotation>)")
    file_name = _voc_text(root, "filename")
    size = None
    element = root.find("size")
    if element is not None:
        sides = []
        for tag in ("height", "width"):
            text = _voc_text(element, tag)
            try:
                sides.append(int(float(text)) if text is not None else 0)
            except ValueError:
                raise AnnotationError(f"{path}: <size><{tag}> is not a number: {text!r}") from None
        if min(sides) > 0:
            size = (sides[0], sides[1])
    boxes = []
    for i, found in enumerate(root.findall("object")):
        name = _voc_text(found, "name")
        if name is None:
            raise AnnotationError(f"{path}: object {i} has no <name>")
        bndbox = found.find("bndbox")
        if bndbox is None:
            raise AnnotationError(f"{path}: object {i} ({name!r}) has no <bndbox>")
        texts, values = [], []
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            text = _voc_text(bndbox, tag)
            if text is None:
                raise AnnotationError(f"{path}: object {i} ({name!r}) has no <bndbox><{tag}>")
            try:
                values.append(float(text))
            except ValueError:
                raise AnnotationError(f"{path}: object {i} ({name!r}) <{tag}> is not a number: {text!r}") from None
            texts.append(text)
        item = f"object {i} ({name!r}) bndbox [{' '.join(texts)}]"
        boxes.append(_Box(item, (values[0] - 1, values[1] - 1, values[2], values[3]), name))
    stem = Path(_base_name(file_name)).stem if file_name else path.stem
    return _Entry(path, "", file_name, stem, size, tuple(boxes))


def _voc_files(folder_or_files: str | Path | Iterable[str | Path]) -> tuple[list[Path], Path, Path | None]:
    """The XML files (in name order for a folder), what they are called in messages, and the images'
    folder of VOC's own layout (``Annotations`` beside ``JPEGImages``), else `None`."""
    if isinstance(folder_or_files, str | Path):
        path = Path(folder_or_files)
        if path.is_dir():
            images = None
            if (path / "Annotations").is_dir():
                path, images = path / "Annotations", path / "JPEGImages"
            files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".xml" and not p.name.startswith("."))
            if not files:
                raise AnnotationError(f"{path}: no .xml files")
            return files, path, images
        files = [path]
    else:
        files = [Path(p) for p in folder_or_files]
        if not files:
            raise AnnotationError("no VOC .xml files given")
    for file in files:
        if not file.is_file():
            raise AnnotationError(f"{file}: no such file")
    return files, files[0] if len(files) == 1 else files[0].parent, None


def _class_names(class_names: Any) -> tuple[str, ...]:
    """Given class names checked: a non-empty list of distinct names."""
    if isinstance(class_names, str) or not len(class_names):
        raise ValueError(f"`class_names` must be a non-empty list of names. Received: class_names={class_names!r}")
    names = tuple(str(n) for n in class_names)
    if len(set(names)) != len(names):
        raise ValueError(f"`class_names` must be distinct. Received: class_names={class_names!r}")
    return names


def read_voc(
    folder_or_files: str | Path | Sequence[str | Path],
    images: str | Path | None = None,
    *,
    class_names: Sequence[str] | None = None,
    image_size: tuple[int, int] | int | None = None,
    color_mode: str = "rgb",
    on_bad_box: str = "skip",
) -> DetectionData:
    """Reads Pascal VOC XML files (one ``<annotation>`` per image) and their images.

    Each file names its image (``<filename>``), states its ``<size>`` and lists its objects
    (``<name>`` and ``<bndbox>`` ``xmin ymin xmax ymax``). VOC's coordinates are 1-based and
    inclusive, so a box becomes ``[xmin - 1, ymin - 1, xmax, ymax]`` (the whole image is
    ``xmin = 1 .. xmax = width``, i.e. ``[0, 0, width, height]``). Difficult objects are read as
    any other; ``pose``, ``truncated`` and parts are ignored. Images keep the files' order
    (name order for a folder).

    Args:
        folder_or_files: A folder of ``.xml`` files (or VOC's own ``VOC2007/`` with
            ``Annotations/`` and ``JPEGImages/``), one ``.xml`` file, or a list of them.
        images: The folder that the ``<filename>`` are relative to. Defaults to
            ``JPEGImages/`` in VOC's layout, else each XML file's folder. A file without
            ``<filename>`` names the image of its own stem there (any image suffix).
        class_names: The class names, class ``c`` first at ``c``; objects of other names are
            bad boxes. Defaults to the sorted names of all objects.
        image_size: ``(height, width)`` or one side: every image is resized to it and its
            boxes scaled alike. Defaults to `None`: images keep their size, which must then be
            the same for all.
        color_mode: ``"rgb"`` (3 channels) or ``"grayscale"`` (1). Defaults to `"rgb"`.
        on_bad_box: ``"skip"``: drop bad boxes (clip those partly outside their image) with
            one warning; ``"raise"``: raise at the first. Defaults to `"skip"`.

    Returns:
        :class:`DetectionData`, with ``category_ids`` ``(0, .., n - 1)``.

    Raises:
        AnnotationError: if a file is not VOC XML, no object names a class and
            ``class_names`` is not given, an image is missing, unreadable, of another size than
            its file states, or (without ``image_size``) of another size than the first; with
            ``on_bad_box="raise"``, at the first bad box.
        ValueError: if an option is invalid.
    """
    size = _check_options(image_size, color_mode, on_bad_box)
    files, source, default_images = _voc_files(folder_or_files)
    entries = [_parse_voc(file) for file in files]
    if class_names is None:
        class_names = tuple(sorted({box.category for entry in entries for box in entry.boxes}))
        if not class_names:
            raise AnnotationError(f"{source}: no <object> names a class; pass class_names=[...] in class order")
    else:
        class_names = _class_names(class_names)
    class_of = {name: c for c, name in enumerate(class_names)}

    checker = BoxChecker(source, on_bad_box)
    reader = _ImageReader(size, color_mode)
    images_out, objects, paths, originals = [], [], [], []
    for entry in entries:
        folder = entry.label.parent if images is None and default_images is None else Path(images or default_images)
        if entry.file_name is not None:
            path = folder / entry.file_name
        else:
            found = [folder / f"{entry.stem}{suffix}" for suffix in IMAGE_SUFFIXES]
            path = next((p for p in found if p.is_file()), found[0])
        pixels, original = reader.read(path, entry.label)
        _stated_size(entry, original, path)
        kept, classes = _entry_objects(
            entry, class_of, lambda c: f"class {c!r}", *original, checker, f"{entry.label.name}, "
        )
        images_out.append(pixels)
        objects.append(_objects(kept, classes, original, pixels.shape[:2]))
        paths.append(path)
        originals.append(original)
    checker.warn()
    return _data(images_out, objects, class_names, paths, range(len(class_names)), originals, source)


# ---------------------------------------------------------------- writing


def _float32(value: Any) -> float:
    """The shortest decimal that reads back as the same float32 (``10.3``, not ``10.300000190734863``)."""
    return float(str(np.float32(value)))


def _checked_objects(
    objects: Sequence[dict[str, Any]],
    class_names: Sequence[str],
    files: Sequence[str | Path],
    image_sizes: Sequence[tuple[int, int]] | tuple[int, int],
    sizes_name: str = "image_sizes",
) -> list[tuple[np.ndarray, np.ndarray, tuple[int, int]]]:
    """Per image its float32 ``(k, 4)`` boxes, int64 ``(k,)`` classes and ``(height, width)``, checked.

    Raises:
        ValueError: if the lengths disagree, a class is out of range or boxes are not ``(k, 4)``.
    """
    n = len(objects)
    if len(files) != n:
        raise ValueError(f"`files` must have one entry per image ({n}). Received: len(files)={len(files)}")
    sizes = np.asarray(image_sizes, dtype=np.int64)
    if sizes.shape == (2,):
        sizes = np.tile(sizes, (n, 1))
    if sizes.shape != (n, 2):
        raise ValueError(
            f"`{sizes_name}` must be one (height, width) or one per image ({n}). Received: {sizes_name} of shape {sizes.shape}"
        )
    checked = []
    for i, (found, (height, width)) in enumerate(zip(objects, sizes.tolist())):
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
        checked.append((boxes, classes, (int(height), int(width))))
    return checked


def _distinct_stems(files: Sequence[str | Path]) -> list[str]:
    """The files' stems (one label file each), which must differ."""
    stems = [Path(_base_name(str(file))).stem for file in files]
    seen: dict[str, str | Path] = {}
    for file, stem in zip(files, stems):
        if stem in seen:
            raise ValueError(
                f"`files` must have distinct stems (one label file each). Received: {str(seen[stem])!r} and {str(file)!r}"
            )
        seen[stem] = file
    return stems


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
    checked = _checked_objects(objects, class_names, files, image_sizes)
    category_ids = list(range(1, len(class_names) + 1)) if category_ids is None else [int(c) for c in category_ids]
    if len(category_ids) != len(class_names):
        raise ValueError(
            f"`category_ids` must have one id per class ({len(class_names)}). Received: category_ids={category_ids}"
        )

    images, annotations, results = [], [], []
    for i, (found, file, (boxes, classes, (height, width))) in enumerate(zip(objects, files, checked)):
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


def _line_names(class_names: Sequence[str]) -> tuple[str, ...]:
    """The class names, checked to survive a line-based or XML file (distinct, non-empty, one line, no outer spaces)."""
    names = tuple(class_names) if not isinstance(class_names, str) else ()
    if not names:
        raise ValueError(f"`class_names` must be a non-empty list of names. Received: class_names={class_names!r}")
    for name in names:
        if not isinstance(name, str) or not name.strip() or name != name.strip() or "\n" in name or "\r" in name:
            raise ValueError(
                f"`class_names` must be non-empty one-line strings without outer spaces. Received: {name!r}"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"`class_names` must be distinct. Received: class_names={class_names!r}")
    return names


def write_yolo(
    folder: str | Path,
    objects: Sequence[dict[str, Any]],
    class_names: Sequence[str],
    files: Sequence[str | Path],
    sizes: Sequence[tuple[int, int]] | tuple[int, int],
) -> Path:
    """Writes ground truth as YOLO label files: ``folder/labels/<stem>.txt`` and ``folder/classes.txt``.

    Each image gets one ``.txt`` file (empty if it has no object) of ``class cx cy w h`` lines,
    normalised by the image's width and height to 6 decimals (2e-3 pixels of a 4000-pixel
    side), and ``classes.txt`` lists the class names, one a line. Images are not copied: with
    them in ``folder/images`` (same stems), :func:`read_yolo` reads ``folder`` back. Label files
    of other stems already in ``folder/labels`` are left alone.

    Args:
        folder: The dataset's folder; created if need be.
        objects: Per image ``{"boxes": (k, 4) [x_min, y_min, x_max, y_max] pixels, "classes": (k,)}``.
        class_names: The class names, in class order.
        files: Per image its path or file name; its stem names the label file.
        sizes: Per image ``(height, width)`` in the pixels of its boxes, or one for all.

    Returns:
        ``folder``.

    Raises:
        ValueError: if the lengths disagree, a class is out of range, boxes are not
            ``(k, 4)``, two files share a stem, or a class name cannot be one line.
    """
    names = _line_names(class_names)
    checked = _checked_objects(objects, names, files, sizes, "sizes")
    stems = _distinct_stems(files)
    folder = Path(folder)
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    for stem, (boxes, classes, (height, width)) in zip(stems, checked):
        lines = []
        for (x_min, y_min, x_max, y_max), c in zip(boxes.astype(np.float64).tolist(), classes.tolist()):
            cx, cy = (x_min + x_max) / 2 / width, (y_min + y_max) / 2 / height
            w, h = (x_max - x_min) / width, (y_max - y_min) / height
            lines.append(f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
        (folder / "labels" / f"{stem}.txt").write_text("".join(lines), encoding="utf-8")
    (folder / "classes.txt").write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    return folder


def _voc_number(value: float) -> str:
    """The shortest decimal that reads back as the same float32, without ``.0`` (``12``, ``12.5``)."""
    text = str(np.float32(value))
    return text[:-2] if text.endswith(".0") else text


def write_voc(
    folder: str | Path,
    objects: Sequence[dict[str, Any]],
    class_names: Sequence[str],
    files: Sequence[str | Path],
    sizes: Sequence[tuple[int, int]] | tuple[int, int],
) -> list[Path]:
    """Writes ground truth as Pascal VOC XML files, ``folder/<stem>.xml`` per image.

    Each file has the image's ``<filename>`` (its name, without folder), ``<size>`` (depth 3)
    and per object ``<name>``, ``<pose>Unspecified``, ``<truncated>0``, ``<difficult>0`` and
    ``<bndbox>`` in VOC's 1-based inclusive pixels: ``xmin = x_min + 1``, ``xmax = x_max``
    (the inverse of :func:`read_voc`), written as the shortest decimal of the float32, so
    integer boxes stay integers. ``read_voc(folder, images_folder)`` reads them back.

    Args:
        folder: The folder to write in; created if need be.
        objects: Per image ``{"boxes": (k, 4) [x_min, y_min, x_max, y_max] pixels, "classes": (k,)}``.
        class_names: The class names, in class order.
        files: Per image its path or file name; its stem names the XML file.
        sizes: Per image ``(height, width)`` in the pixels of its boxes, or one for all.

    Returns:
        The XML files written, in image order.

    Raises:
        ValueError: if the lengths disagree, a class is out of range, boxes are not
            ``(k, 4)``, two files share a stem, or a class name cannot be one line.
    """
    names = _line_names(class_names)
    checked = _checked_objects(objects, names, files, sizes, "sizes")
    stems = _distinct_stems(files)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file, stem, (boxes, classes, (height, width)) in zip(files, stems, checked):
        root = ET.Element("annotation")
        parent = Path(str(file).replace("\\", "/")).parent.name
        if parent:
            ET.SubElement(root, "folder").text = parent
        ET.SubElement(root, "filename").text = _base_name(str(file))
        size = ET.SubElement(root, "size")
        for tag, value in (("width", width), ("height", height), ("depth", 3)):
            ET.SubElement(size, tag).text = str(value)
        ET.SubElement(root, "segmented").text = "0"
        for (x_min, y_min, x_max, y_max), c in zip(boxes.astype(np.float64).tolist(), classes.tolist()):
            found = ET.SubElement(root, "object")
            for tag, text in (("name", names[c]), ("pose", "Unspecified"), ("truncated", "0"), ("difficult", "0")):
                ET.SubElement(found, tag).text = text
            bndbox = ET.SubElement(found, "bndbox")
            for tag, value in (("xmin", x_min + 1), ("ymin", y_min + 1), ("xmax", x_max), ("ymax", y_max)):
                ET.SubElement(bndbox, tag).text = _voc_number(value)
        ET.indent(root)
        path = folder / f"{stem}.xml"
        ET.ElementTree(root).write(path, encoding="utf-8")
        written.append(path)
    return written
