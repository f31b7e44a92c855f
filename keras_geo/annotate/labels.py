"""Labels of video frames in COCO, YOLO and Pascal VOC files, read and written.

A person labels a few frames in a tool (CVAT, Label Studio, LabelImg...) and exports them;
:func:`read_labels` turns that export into ``{frame_index: {"boxes", "classes"}}`` for the
video's frames, matched by file name (see :mod:`keras_geo.annotate` for frame names), and
:func:`write_labels` writes such labels back in any of the three formats. The files are parsed
by :mod:`keras_geo.detection.annotations`' parsers, without reading any image.

Hand labels are few and each one counts, so nothing is skipped quietly: a label of a frame
the video does not have, of an unknown class, outside its frame, of zero size or NaN raises
:class:`~keras_geo.detection.annotations.AnnotationError` with one line that names the label
file and the item. Boxes that overshoot their frame by a file's rounding (0.01 pixel) are
clipped.

A frame that the file lists with no box (a COCO image without annotations, an empty YOLO
``.txt`` file, a VOC file without ``<object>``) is a *labelled-empty* frame: it is in the
result with ``k = 0``. Tools that list every frame of a task in their export (CVAT's COCO
export does) thus mark every frame they list as looked at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_geo.detection.annotations import (
    AnnotationError,
    BoxChecker,
    _base_name,
    _class_names,
    _Entry,
    _entry_objects,
    _known,
    _parse_coco,
    _parse_voc,
    _parse_yolo,
    _yolo_class_names,
    to_coco_dict,
    write_voc,
    write_yolo,
)

__all__ = ["FORMATS", "read_labels", "write_labels"]

FORMATS = ("coco", "yolo", "voc")
"""The label formats :func:`read_labels` reads and :func:`write_labels` writes."""

# ``.txt`` files that sit beside YOLO labels without being labels (class lists, split lists).
_NOT_LABELS = frozenset({"classes.txt", "train.txt", "val.txt", "valid.txt", "test.txt"})


def _check_size(size: Any) -> tuple[int, int]:
    try:
        height, width = (int(s) for s in size)
        ok = (height, width) == tuple(size) and height > 0 and width > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"`size` must be the frames' (height, width), positive integers. Received: size={size!r}")
    return height, width


class _Frames:
    """Finds a frame by the file name a label gives: exact name, else case-insensitive stem."""

    def __init__(self, names: Sequence[str]):
        self.names = [str(name) for name in names]
        if not self.names:
            raise ValueError("`names` must name the video's frames. Received: no names")
        self.exact = {name: i for i, name in enumerate(self.names)}
        self.stems: dict[str, list[int]] = {}
        for i, name in enumerate(self.names):
            self.stems.setdefault(Path(name).stem.lower(), []).append(i)

    def find(self, entry: _Entry) -> int:
        """The frame index of the entry's image; raises if the video has no such frame (or two)."""
        where = f"{entry.label}: {entry.item + ' ' if entry.item else ''}"
        if entry.file_name is not None and _base_name(entry.file_name) in self.exact:
            return self.exact[_base_name(entry.file_name)]
        shown = entry.file_name if entry.file_name is not None else entry.stem
        found = self.stems.get(entry.stem.lower(), [])
        if len(found) > 1:
            same_case = [i for i in found if Path(self.names[i]).stem == entry.stem]
            if len(same_case) == 1:
                return same_case[0]
            raise AnnotationError(
                f"{where}refers to {shown!r}, which matches frames {', '.join(repr(self.names[i]) for i in found)} "
                "by stem; name the frame's file exactly"
            )
        if not found:
            n = len(self.names)
            raise AnnotationError(
                f"{where}refers to {shown!r}, which is not a frame of the video "
                f"({n} frame{'s' if n != 1 else ''}, {self.names[0]!r} .. {self.names[-1]!r})"
            )
        return found[0]


def _paths(path: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(path, str | Path):
        return [Path(path)]
    paths = [Path(p) for p in path]
    if not paths:
        raise ValueError("`path` must be a label file, a folder or a list of label files. Received: an empty list")
    return paths


def _label_files(path: str | Path | Sequence[str | Path]) -> tuple[str, list[Path], Path]:
    """The format, the label files and what to call them (the folder or file given)."""
    paths = _paths(path)
    shown = paths[0] if len(paths) == 1 else paths[0].parent
    if len(paths) == 1 and paths[0].is_dir():
        folder = paths[0]

        def listed(where: Path, suffix: str) -> list[Path]:
            if not where.is_dir():
                return []
            return sorted(
                p
                for p in where.iterdir()
                if p.is_file()
                and p.suffix.lower() == suffix
                and not p.name.startswith(".")
                and p.name not in _NOT_LABELS
            )

        for where in (folder / "Annotations", folder):
            if found := listed(where, ".xml"):
                return "voc", found, folder
        for where in (folder / "labels", folder / "obj_train_data", folder):
            if found := listed(where, ".txt"):
                return "yolo", found, folder
        for where in (folder / "annotations", folder):
            found = listed(where, ".json")
            if len(found) == 1:
                return "coco", found, folder
            if len(found) > 1:
                raise AnnotationError(f"{where}: {len(found)} .json files; name the COCO file to read")
        raise AnnotationError(f"{folder}: no label files (.xml, .txt, .json)")
    kinds = {".json": "coco", ".xml": "voc", ".txt": "yolo"}
    for file in paths:
        if not file.exists():
            raise AnnotationError(f"{file}: no such file or folder")
        if file.is_dir() or file.suffix.lower() not in kinds:
            raise AnnotationError(f"{file}: not a label file (.json COCO, .xml VOC or .txt YOLO, or a folder of them)")
    fmts = {kinds[file.suffix.lower()] for file in paths}
    if len(fmts) > 1:
        raise AnnotationError(f"{shown}: label files of several formats ({', '.join(sorted(fmts))}); pass one")
    fmt = fmts.pop()
    if fmt == "coco" and len(paths) > 1:
        raise AnnotationError(f"{shown}: {len(paths)} COCO files; pass one")
    return fmt, paths, shown


def read_labels(
    path: str | Path | Sequence[str | Path],
    names: Sequence[str],
    size: tuple[int, int],
    *,
    class_names: Sequence[str] | None = None,
) -> tuple[dict[int, dict[str, np.ndarray]], tuple[str, ...]]:
    """Reads the labels of a video's frames from a COCO, Pascal VOC or YOLO export.

    The format follows from ``path``:

    * COCO: a ``.json`` annotation file (or a folder holding one, or ``annotations/`` with
      one). Classes are the categories sorted by id; crowd annotations are skipped.
    * VOC: an ``.xml`` file, a list of them, or a folder of them (or with ``Annotations/``).
      Classes are the sorted names of all objects. Coordinates are 1-based inclusive.
    * YOLO: a ``.txt`` file, a list of them, or a folder of them (or with ``labels/`` or
      CVAT's ``obj_train_data/``); ``classes.txt``, ``train.txt`` and the like are not labels.
      Classes come from a ``data.yaml``, ``classes.txt`` or ``obj.names`` in the given folder,
      the labels' folder or its parent. Coordinates are fractions of ``size``.

    A label's image is the frame of the same file name (the name's last part), else of the
    same stem, case aside (``images/FRAME_000012.jpg`` is frame ``frame_000012.png``; a YOLO
    file ``frame_000012.txt`` too).

    Args:
        path: The label file, files or folder (see above).
        names: The video's frame names, frame ``i`` first at ``i``.
        size: The frames' ``(height, width)``.
        class_names: The class names, class ``c`` first at ``c``: a label of another class
            (or YOLO class number ``>= len(class_names)``) is an error. Defaults to the
            file's classes (see above).

    Returns:
        ``(labels, class_names)``: per labelled frame, in frame order, ``{"boxes": float32
        (k, 4) [x_min, y_min, x_max, y_max] pixels, "classes": int64 (k,)}``, and the class
        names.

    Raises:
        AnnotationError: (one line naming the label file and the item) if a file cannot be
            parsed or has no label, a label refers to a frame the video does not have (or the
            frame is labelled twice), a class is unknown, a box is NaN, of zero size or
            outside its frame, or a file states another frame size than ``size``.
        ValueError: if ``names``, ``size`` or ``class_names`` is invalid.
    """
    height, width = _check_size(size)
    frames = _Frames(names)
    given = None if class_names is None else _class_names(class_names)
    fmt, files, shown = _label_files(path)

    # Per entry its class map and how an unknown class key is named.
    if fmt == "coco":
        (label,) = files
        parsed = _parse_coco(label)
        if parsed.orphans:
            item, image_id = parsed.orphans[0]
            raise AnnotationError(f"{label}: {item}: unknown image_id {image_id!r}")
        entries = parsed.entries
        category_ids = sorted(parsed.categories)
        if given is None:
            names_out = tuple(parsed.categories[c] for c in category_ids)
            class_of = {c: i for i, c in enumerate(category_ids)}
        else:
            names_out = given
            index = {name: i for i, name in enumerate(given)}
            class_of = {c: index[name] for c, name in parsed.categories.items() if name in index}

        def unknown(category: Any) -> str:
            if _known(category, parsed.categories):
                return f"class {parsed.categories[category]!r} (category {category}), not in class_names"
            return f"category {category}"

    elif fmt == "voc":
        entries = [_parse_voc(file) for file in files]
        names_out = given or tuple(sorted({box.category for entry in entries for box in entry.boxes}))
        class_of = {name: i for i, name in enumerate(names_out)}

        def unknown(category: Any) -> str:
            return f"class {category!r}, not in class_names"

    else:
        entries = [_parse_yolo(file) for file in files]
        if given is None:
            folders = [shown] if shown.is_dir() else []
            places = list(dict.fromkeys([*folders, files[0].parent, files[0].parent.parent]))
            found = _yolo_class_names(places)
            if found is None:
                raise AnnotationError(
                    f"{shown}: no data.yaml, classes.txt or obj.names names the classes; pass class_names=[...] in class order"
                )
            names_out, source = found
        else:
            names_out, source = given, "class_names"
        class_of = {c: c for c in range(len(names_out))}

        def unknown(category: Any) -> str:
            return f"class {category} (classes 0..{len(names_out) - 1} in {source})"

    labels: dict[int, dict[str, np.ndarray]] = {}
    labelled_by: dict[int, _Entry] = {}
    checker = BoxChecker(shown, "raise")
    for entry in entries:
        frame = frames.find(entry)
        where = f"{entry.label}: {entry.item + ' ' if entry.item else ''}"
        if frame in labelled_by:
            first = labelled_by[frame]
            raise AnnotationError(
                f"{where}labels frame {frames.names[frame]!r} again "
                f"(first in {first.label.name}{' ' + first.item if first.item else ''})"
            )
        labelled_by[frame] = entry
        if entry.size is not None and tuple(entry.size) != (height, width):
            raise AnnotationError(
                f"{where}states the size {tuple(entry.size)} (height, width), but the video's frames are "
                f"{(height, width)}"
            )
        kept, classes = _entry_objects(entry, class_of, unknown, height, width, checker, f"{entry.label}, ")
        labels[frame] = {
            "boxes": np.asarray(kept, dtype=np.float32).reshape(-1, 4),
            "classes": np.asarray(classes, dtype=np.int64),
        }
    if not any(len(found["classes"]) for found in labels.values()):
        what = f"{len(labels)} frame{'s' if len(labels) != 1 else ''} listed, none with a box" if labels else "no frame"
        raise AnnotationError(f"no labels in {shown} ({what})")
    return dict(sorted(labels.items())), tuple(names_out)


def write_labels(
    path: str | Path,
    fmt: str,
    labels: Mapping[int, Mapping[str, Any]],
    names: Sequence[str],
    size: tuple[int, int],
    class_names: Sequence[str],
) -> Path:
    """Writes the labels of a video's frames as a COCO file, a YOLO folder or a VOC folder.

    Every frame in ``labels`` is written, a frame with no box as a labelled-empty frame (a
    COCO image without annotations, an empty YOLO ``.txt``, a VOC file without ``<object>``),
    under the frame's name (``names[i]``) with the frames' ``size``. :func:`read_labels` reads
    the result back: the same frames, classes and boxes (YOLO to its 6 decimals: 1e-3 pixels
    of a 2000-pixel side).

    * ``"coco"``: one JSON file, ``path``; category ids ``1 .. n`` in class order.
    * ``"yolo"``: ``path/labels/<stem>.txt`` and ``path/classes.txt``
      (:func:`~keras_geo.detection.annotations.write_yolo`).
    * ``"voc"``: ``path/<stem>.xml`` (:func:`~keras_geo.detection.annotations.write_voc`).

    Args:
        path: The COCO file, or the YOLO or VOC folder; created with its folders.
        fmt: One of :data:`FORMATS`.
        labels: Per frame index ``{"boxes": (k, 4) [x_min, y_min, x_max, y_max] pixels,
            "classes": (k,)}`` (as :func:`read_labels` returns).
        names: The video's frame names, frame ``i`` first at ``i``.
        size: The frames' ``(height, width)``.
        class_names: The class names, in class order.

    Returns:
        ``path``.

    Raises:
        ValueError: if ``fmt`` is not a format, a frame index is out of range, or the
            labels do not fit ``class_names`` (as the writers say).
    """
    if fmt not in FORMATS:
        raise ValueError(f"`fmt` must be one of {FORMATS}. Received: fmt={fmt!r}")
    height, width = _check_size(size)
    names = [str(name) for name in names]
    for frame in labels:
        if isinstance(frame, bool) or not isinstance(frame, int | np.integer) or not 0 <= frame < len(names):
            raise ValueError(f"`labels` must be keyed by frame indices 0..{len(names) - 1}. Received: frame {frame!r}")
    frames = sorted(labels)
    objects = [labels[frame] for frame in frames]
    files = [names[frame] for frame in frames]
    path = Path(path)
    if fmt == "coco":
        document = to_coco_dict(objects, _class_names(class_names), files, (height, width))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document), encoding="utf-8")
    elif fmt == "yolo":
        write_yolo(path, objects, class_names, files, (height, width))
    else:
        write_voc(path, objects, class_names, files, (height, width))
    return path
