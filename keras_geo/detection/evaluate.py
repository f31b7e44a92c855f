"""COCO evaluation of detections with pycocotools: AP, AP50, AP75, AP by object size, AR.

    >>> from keras_geo.detection.evaluate import coco_evaluate
    >>> scores = coco_evaluate(objects, detections, class_names=["grain", "pore"])
    >>> scores["AP"], scores["AP50"], scores["AP_small"]

:func:`coco_evaluate` hands the package's boxes to pycocotools (the ``detection`` extra:
``pip install 'keras-geo[detection]'``) and reads its numbers back, so they are the
COCO challenge's numbers. It needs no annotation file: the ground truth and the results
are built in memory, and pycocotools' printing is silenced.

The conventions are pycocotools' own (read from its ``cocoeval.py``, ``coco.py`` and
``common/maskApi.c``, version 2.0.x):

* **IoU** of two boxes is ``intersection / union`` of their continuous extents, the
  intersection's width being ``min(x_max) - max(x_min)`` with no ``+ 1`` (``bbIou`` in
  ``maskApi.c``, which ``mask.iou`` calls); this package's continuous coordinates fit as
  they are. A detection matches an object when their IoU is *at least* the threshold.
* **Matching**, per image and class, greedily in decreasing score order: each detection
  takes the unmatched object it overlaps best, each object is matched at most once
  (``COCOeval.evaluateImg``). Thresholds 0.50, 0.55, ..., 0.95; ``AP`` averages the ten,
  ``AP50`` and ``AP75`` are single thresholds.
* **Precision** is made non-increasing (each value the highest at any larger recall)
  and read at 101 recall levels 0, 0.01, ..., 1, 0 beyond the highest recall reached;
  AP is their mean (``COCOeval.accumulate``). Detections are pooled over all images.
* **Size bins** by ``area``, here the box's ``width * height`` in pixels (COCO uses
  the segmentation's area): small ``[0, 32²]``, medium ``[32², 96²]``, large
  ``[96², 1e5²]`` (``Params.areaRng``). pycocotools' test is
  ``area < lo or area > hi``, so the bins are closed: an object of exactly 32 x 32 or
  96 x 96 pixels counts in both bins it borders (and in both counts returned here). In a
  bin, objects outside it are ignored, as are detections matched to them and unmatched
  detections outside it.
* **Max detections**: the ``max_detections`` highest-scoring detections of each image
  *and class* are kept (both ``computeIoU`` and ``evaluateImg`` cut the list per image
  and category); AR is also given at 1 and 10. The COCO challenge caps results at 100
  per image over all classes; do that upstream if it matters.
* **Undefined values**: where a class has no ground truth in a bin, pycocotools stores
  -1 and averages over the classes that have some; a class without any ground truth
  does not count, so its detections lower nothing. Where no class has ground truth in a
  bin (or there is none at all), pycocotools reports -1; this function reports NaN.

Pitfalls handled here: ``COCO.loadRes`` indexes its first result and crashes on an
empty list, so the results are indexed directly (zero detections give AP 0 wherever
there is ground truth); ``COCOeval`` needs ``iscrowd`` (0 here: no crowd regions) and
``area`` on every object; annotation ids start at 1, as ``evaluateImg`` marks an
unmatched detection with id 0.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from keras_geo.detection.boxes import AREA_BINS  # pycocotools' limits; here both ends included

__all__ = ["coco_evaluate"]


_ALL = (0.0, math.inf)
_AP_KEYS = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large")


def coco_evaluate(
    objects: Sequence[Mapping[str, Any]],
    detections: Sequence[Mapping[str, Any]],
    *,
    class_names: Sequence[str] | None = None,
    image_sizes: Sequence[int] | Sequence[Sequence[int]] | None = None,
    max_detections: int = 100,
    per_class: bool = False,
) -> dict[str, float]:
    """COCO's box AP and AR of ``detections`` against the ground truth ``objects``, by pycocotools.

    Args:
        objects: The ground truth, one dict per image ``{"boxes": (k, 4), "classes": (k,)}``
            (boxes ``[x_min, y_min, x_max, y_max]`` in pixels); ``k`` may be 0.
        detections: One dict per image, in the order of ``objects``, with ``"boxes"``,
            ``"classes"`` and ``"scores"`` (in [0, 1]); ``k`` may be 0 anywhere.
        class_names: The name of each class, index ``c`` for class ``c``; every class
            must be below ``len(class_names)``. Defaults to `None`: classes
            ``0 .. max`` of those in ``objects`` and ``detections``, named by their index.
        image_sizes: ``(height, width)`` of every image, or one such pair for all.
            pycocotools' box evaluation does not use them; they only make a complete
            COCO image record. Defaults to `None`: the extent of each image's boxes.
        max_detections: How many detections of each image and class count, highest
            scores first (pycocotools' largest ``maxDets``). Defaults to `100`.
        per_class: Whether to add ``"AP/<class name>"`` for each class. Defaults to `False`.

    Returns:
        A dict of floats in [0, 1], NaN where undefined (no ground truth in that bin):
        ``"AP"`` (IoU 0.50:0.95), ``"AP50"``, ``"AP75"``, ``"AP_small"``, ``"AP_medium"``,
        ``"AP_large"``; ``"AR1"``, ``"AR10"`` and ``"AR<max_detections>"`` (``"AR100"`` by
        default; a level above ``max_detections`` is left out), ``"AR_small"``,
        ``"AR_medium"``, ``"AR_large"``. Then the counts, as ints: ``"n_images"``,
        ``"n_objects"``, ``"n_detections"``, ``"n_objects_small"``, ``"n_objects_medium"``,
        ``"n_objects_large"`` (an object on a bin's border counts in both bins). With
        ``per_class``, ``"AP/<class name>"`` for each class (NaN for a class without
        ground truth).

    Raises:
        ImportError: pycocotools is not installed.
        ValueError: The lists differ in length, a dict lacks a key, boxes are not
            ``(k, 4)`` with ``x_min <= x_max`` and ``y_min <= y_max``, classes or scores
            do not match the boxes, a score is outside [0, 1] or NaN, a class is not one
            of ``class_names``, or an argument is out of range.
    """
    try:
        import pycocotools  # noqa: F401  (checked first: a cached submodule would hide its absence)
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise ImportError(
            "coco_evaluate needs pycocotools: pip install 'keras-geo[detection]' (or pip install pycocotools)"
        ) from None

    if isinstance(objects, Mapping) or isinstance(detections, Mapping):
        raise ValueError(
            "`objects` and `detections` must be lists with one dict per image. "
            f"Received: {type(objects).__name__} and {type(detections).__name__}"
        )
    if len(objects) != len(detections):
        raise ValueError(
            "`objects` and `detections` must have the same length (one dict per image). "
            f"Received: len(objects)={len(objects)}, len(detections)={len(detections)}"
        )
    if isinstance(max_detections, bool) or not isinstance(max_detections, int | np.integer) or max_detections < 1:
        raise ValueError(f"`max_detections` must be an integer >= 1. Received: max_detections={max_detections!r}")
    names = _check_class_names(class_names)
    truth = [_image_objects(item, f"objects[{i}]", scored=False) for i, item in enumerate(objects)]
    found = [_image_objects(item, f"detections[{i}]", scored=True) for i, item in enumerate(detections)]
    if names is None:
        highest = max((int(part["classes"].max()) for part in truth + found if part["classes"].size), default=-1)
        names = [str(c) for c in range(highest + 1)]
    for label, parts in (("objects", truth), ("detections", found)):
        for i, part in enumerate(parts):
            bad = part["classes"][part["classes"] >= len(names)]
            if bad.size:
                raise ValueError(
                    f"`{label}[{i}]['classes']` must be indices of `class_names` (0 .. {len(names) - 1}). "
                    f"Received: class {int(bad[0])}"
                )
    sizes = _image_sizes(image_sizes, truth, found)

    areas = np.concatenate([_areas(part["boxes"]) for part in truth]) if truth else np.zeros(0)
    counts: dict[str, float] = {
        "n_images": len(truth),
        "n_objects": int(areas.size),
        "n_detections": sum(int(part["boxes"].shape[0]) for part in found),
    }
    for bin_name, (low, high) in AREA_BINS.items():
        counts[f"n_objects_{bin_name}"] = int(np.count_nonzero((areas >= low) & (areas <= high)))
    levels = sorted({level for level in (1, 10) if level < max_detections} | {int(max_detections)})

    if areas.size == 0:  # no ground truth: every AP and AR is undefined, and pycocotools has nothing to do
        nan = math.nan
        result = dict.fromkeys(_AP_KEYS, nan) | {f"AR{level}": nan for level in levels}
        result |= {f"AR_{bin_name}": nan for bin_name in AREA_BINS} | counts
        if per_class:
            result |= {f"AP/{name}": nan for name in names}
        return result

    images = [{"id": i + 1, "height": height, "width": width} for i, (height, width) in enumerate(sizes)]
    categories = [{"id": c + 1, "name": name} for c, name in enumerate(names)]
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        ground_truth = _coco(COCO, images, categories, _annotations(truth, scored=False))
        results = _coco(COCO, images, categories, _annotations(found, scored=True))
        evaluation = COCOeval(ground_truth, results, iouType="bbox")
        evaluation.params.maxDets = levels
        evaluation.params.areaRng = [list(_ALL), *(list(bounds) for bounds in AREA_BINS.values())]
        evaluation.params.areaRngLbl = ["all", *AREA_BINS]
        evaluation.evaluate()
        evaluation.accumulate()

    # precision: (IoU thresholds, recall levels, classes, area bins, max detections); recall: the same less recall levels
    precision, recall = evaluation.eval["precision"], evaluation.eval["recall"]
    thresholds = evaluation.params.iouThrs
    top = len(levels) - 1
    result = {
        "AP": _mean_defined(precision[:, :, :, 0, top]),
        "AP50": _mean_defined(precision[np.isclose(thresholds, 0.5)][:, :, :, 0, top]),
        "AP75": _mean_defined(precision[np.isclose(thresholds, 0.75)][:, :, :, 0, top]),
    }
    for a, bin_name in enumerate(AREA_BINS, start=1):
        result[f"AP_{bin_name}"] = _mean_defined(precision[:, :, :, a, top])
    for m, level in enumerate(levels):
        result[f"AR{level}"] = _mean_defined(recall[:, :, 0, m])
    for a, bin_name in enumerate(AREA_BINS, start=1):
        result[f"AR_{bin_name}"] = _mean_defined(recall[:, :, a, top])
    result |= counts
    if per_class:
        for c, name in enumerate(names):
            result[f"AP/{name}"] = _mean_defined(precision[:, :, c, 0, top])
    return result


def _mean_defined(values: np.ndarray) -> float:
    """The mean of the values pycocotools defined (it writes -1 where a class has no ground truth), else NaN."""
    defined = values[values > -1]
    return float(defined.mean()) if defined.size else math.nan


def _check_class_names(class_names: Sequence[str] | None) -> list[str] | None:
    """``class_names`` as a list, checked: a non-empty sequence of distinct strings."""
    if class_names is None:
        return None
    if isinstance(class_names, str | bytes) or not isinstance(class_names, Sequence):
        raise ValueError(f"`class_names` must be a sequence of strings. Received: class_names={class_names!r}")
    names = list(class_names)
    if not names or not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
        raise ValueError(
            f"`class_names` must be a non-empty sequence of distinct strings. Received: class_names={names!r}"
        )
    return names


def _image_objects(item: Any, label: str, *, scored: bool) -> dict[str, np.ndarray]:
    """One image's boxes, classes (and scores), checked, as float64 / int64 arrays."""
    keys = ("boxes", "classes", "scores") if scored else ("boxes", "classes")
    if not isinstance(item, Mapping) or any(key not in item for key in keys):
        received = sorted(map(str, item)) if isinstance(item, Mapping) else type(item).__name__
        raise ValueError(f"`{label}` must be a dict with the keys {', '.join(map(repr, keys))}. Received: {received}")
    try:
        boxes = np.asarray(item["boxes"], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{label}['boxes']` must be a (k, 4) array of numbers. Received: {item['boxes']!r:.80}"
        ) from None
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"`{label}['boxes']` must have shape (k, 4). Received: shape {boxes.shape}")
    bad = ~np.isfinite(boxes).all(axis=1) | (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"`{label}['boxes']` must be finite [x_min, y_min, x_max, y_max] with x_min <= x_max and y_min <= y_max. "
            f"Received: row {row} = {boxes[row].tolist()}"
        )
    k = boxes.shape[0]
    classes = np.asarray(item["classes"])
    if classes.size == 0:
        classes = classes.reshape(0)
    if classes.shape != (k,):
        raise ValueError(f"`{label}['classes']` must have shape ({k},), one per box. Received: shape {classes.shape}")
    if classes.dtype.kind not in "iu" and not (
        classes.dtype.kind in "fb" and np.all(np.isfinite(classes)) and np.all(classes == np.round(classes))
    ):
        raise ValueError(f"`{label}['classes']` must be integers. Received: {classes.tolist()[:5]}")
    classes = classes.astype(np.int64)
    if (classes < 0).any():
        raise ValueError(f"`{label}['classes']` must be >= 0. Received: class {int(classes[classes < 0][0])}")
    part = {"boxes": boxes, "classes": classes}
    if scored:
        try:
            scores = np.asarray(item["scores"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"`{label}['scores']` must be a ({k},) array of numbers. Received: {item['scores']!r:.80}"
            ) from None
        if scores.size == 0:
            scores = scores.reshape(0)
        if scores.shape != (k,):
            raise ValueError(f"`{label}['scores']` must have shape ({k},), one per box. Received: shape {scores.shape}")
        bad = ~((scores >= 0.0) & (scores <= 1.0))  # NaN fails both comparisons
        if bad.any():
            raise ValueError(f"`{label}['scores']` must lie in [0, 1]. Received: {float(scores[bad][0])}")
        part["scores"] = scores
    return part


def _image_sizes(
    image_sizes: Sequence[int] | Sequence[Sequence[int]] | None,
    truth: list[dict[str, np.ndarray]],
    found: list[dict[str, np.ndarray]],
) -> list[tuple[int, int]]:
    """``(height, width)`` of each image: as given, or the extent of its boxes (at least 1 x 1)."""
    n = len(truth)
    if image_sizes is None:
        sizes = []
        for ours, theirs in zip(truth, found):
            boxes = np.concatenate([ours["boxes"], theirs["boxes"]])
            height = math.ceil(boxes[:, 3].max()) if boxes.size else 1
            width = math.ceil(boxes[:, 2].max()) if boxes.size else 1
            sizes.append((max(int(height), 1), max(int(width), 1)))
        return sizes
    given = np.asarray(image_sizes)
    if given.shape == (2,):
        given = np.broadcast_to(given, (n, 2))
    if given.shape != (n, 2) or given.dtype.kind not in "iuf" or not (given > 0).all():
        raise ValueError(
            f"`image_sizes` must be one positive (height, width) pair, or one per image ({n}). "
            f"Received: shape {given.shape}"
        )
    return [(int(height), int(width)) for height, width in given.tolist()]


def _areas(boxes: np.ndarray) -> np.ndarray:
    """``width * height`` of each box: COCO's ``area``, which decides its size bin."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _annotations(parts: list[dict[str, np.ndarray]], *, scored: bool) -> list[dict[str, Any]]:
    """COCO annotations (``bbox`` as ``[x, y, w, h]``), ids from 1: pycocotools reads id 0 as "no match"."""
    annotations = []
    for i, part in enumerate(parts):
        widths = part["boxes"][:, 2] - part["boxes"][:, 0]
        heights = part["boxes"][:, 3] - part["boxes"][:, 1]
        for j, (box, width, height, c) in enumerate(zip(part["boxes"], widths, heights, part["classes"])):
            annotation = {
                "id": len(annotations) + 1,
                "image_id": i + 1,
                "category_id": int(c) + 1,
                "bbox": [float(box[0]), float(box[1]), float(width), float(height)],
                "area": float(width * height),
                "iscrowd": 0,
            }
            if scored:
                annotation["score"] = float(part["scores"][j])
            annotations.append(annotation)
    return annotations


def _coco(coco_class: type, images: list[dict], categories: list[dict], annotations: list[dict]) -> Any:
    """An in-memory ``pycocotools.coco.COCO`` (no file, and no ``loadRes``, which fails on no results)."""
    coco = coco_class()
    coco.dataset = {"images": images, "categories": categories, "annotations": annotations}
    coco.createIndex()
    return coco
