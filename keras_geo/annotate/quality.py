"""How good propagated labels are, where some ground truth is known: recall and precision at an IoU.

Label a stretch of the video fully by hand (or use a generated video,
:func:`keras_geo.datasets.video.synthetic_video`) and compare: :func:`label_quality` matches
each frame's labels to its true boxes one to one (highest IoU first, same class) and
counts the matches at IoU >= ``iou`` as true positives, overall and per source.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from keras_geo.annotate import SOURCES
from keras_geo.detection.boxes import pairwise_iou

__all__ = ["label_quality", "match_boxes"]


def match_boxes(truth: np.ndarray, found: np.ndarray, iou: float = 0.5) -> list[tuple[int, int]]:
    """Pairs ``(truth index, found index)`` matched one to one, best IoU first, each at least ``iou``."""
    truth = np.asarray(truth, np.float64).reshape(-1, 4)
    found = np.asarray(found, np.float64).reshape(-1, 4)
    overlaps = pairwise_iou(truth, found)
    pairs: list[tuple[int, int]] = []
    if not overlaps.size:
        return pairs
    order = np.argsort(-overlaps, axis=None, kind="stable")
    used_t: set[int] = set()
    used_f: set[int] = set()
    for flat in order:
        t, f = divmod(int(flat), overlaps.shape[1])
        if overlaps[t, f] < iou:
            break
        if t in used_t or f in used_f:
            continue
        used_t.add(t)
        used_f.add(f)
        pairs.append((t, f))
    return pairs


def label_quality(
    labels: Mapping[int, Iterable[Mapping[str, Any]]],
    truth: Mapping[int, Mapping[str, np.ndarray]],
    *,
    iou: float = 0.5,
    frames: Iterable[int] | None = None,
    classes: bool = True,
) -> dict[str, Any]:
    """Recall and precision of labels against the true boxes.

    Args:
        labels: ``{frame: [label, ...]}`` (labels as :mod:`keras_geo.annotate` defines them),
            or ``{frame: {"boxes", "classes"[, "scores"]}}``.
        truth: ``{frame: {"boxes", "classes"}}``.
        iou: The overlap that counts as found. Defaults to `0.5`.
        frames: The frames to score; defaults to those of ``truth``.
        classes: Count a match only between the same class. Defaults to `True`.

    Returns:
        ``{"recall", "precision", "true_positives", "false_positives", "false_negatives",
        "labels", "objects", "by_source": {source: {"labels", "true_positives", "precision"}}}``;
        a ratio with nothing to count is NaN.
    """
    chosen = sorted(truth if frames is None else frames)
    tp = fp = fn = 0
    per_source: dict[str, Counter] = {}
    for frame in chosen:
        true = truth.get(frame, {"boxes": np.zeros((0, 4)), "classes": np.zeros(0, np.int64)})
        found = labels.get(frame, [])
        if isinstance(found, Mapping):
            boxes = np.asarray(found["boxes"], np.float64).reshape(-1, 4)
            found_classes = np.asarray(found["classes"]).reshape(-1)
            sources = ["detector"] * len(boxes)
        else:
            found = list(found)
            boxes = np.array([label["box"] for label in found], np.float64).reshape(-1, 4)
            found_classes = np.array([label["class"] for label in found]).reshape(-1)
            sources = [label["source"] for label in found]
        true_boxes = np.asarray(true["boxes"], np.float64).reshape(-1, 4)
        true_classes = np.asarray(true["classes"]).reshape(-1)
        pairs: list[tuple[int, int]] = []
        if classes:
            for cls in np.union1d(true_classes, found_classes):
                t_idx, f_idx = np.flatnonzero(true_classes == cls), np.flatnonzero(found_classes == cls)
                pairs += [(int(t_idx[t]), int(f_idx[f])) for t, f in match_boxes(true_boxes[t_idx], boxes[f_idx], iou)]
        else:
            pairs = match_boxes(true_boxes, boxes, iou)
        hit = {f for _, f in pairs}
        tp += len(pairs)
        fp += len(boxes) - len(pairs)
        fn += len(true_boxes) - len(pairs)
        for f, source in enumerate(sources):
            counter = per_source.setdefault(source, Counter())
            counter["labels"] += 1
            counter["true_positives"] += int(f in hit)

    def ratio(a: int, b: int) -> float:
        return a / b if b else float("nan")

    order = [s for s in SOURCES if s in per_source] + sorted(set(per_source) - set(SOURCES))
    return {
        "recall": ratio(tp, tp + fn),
        "precision": ratio(tp, tp + fp),
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "labels": tp + fp,
        "objects": tp + fn,
        "by_source": {
            s: {
                "labels": per_source[s]["labels"],
                "true_positives": per_source[s]["true_positives"],
                "precision": ratio(per_source[s]["true_positives"], per_source[s]["labels"]),
            }
            for s in order
        },
    }
