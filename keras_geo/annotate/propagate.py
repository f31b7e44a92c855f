"""Report 002's propagation loop: labels carried from hand-labelled frames to the rest of a video.

Each object is a *track*. On every frame, in order:

1. **Hand labels** are the truth: on a hand-labelled frame the tracks take the hand boxes
   (matched by overlap), tracks without a hand box stop, and hand boxes without a track
   start one.
2. **Detector in a search window**: the detector runs once on the frame; a track takes
   the detection whose centre lies in its search window (the track's box grown
   ``window`` times about its centre) and that overlaps it best (an optimal assignment, so
   two tracks never share a detection). Detections far from every track and at least
   ``new_track_score`` confident start new tracks. (The report ran its detector on a crop
   of each search window; here one call on the whole frame serves every track, and the
   windows gate the detections.)
3. **Tracker**: each track's tracker follows the object from frame to frame and says where
   the detector should look; a track the detector missed takes the tracker's box. The
   default is :class:`TemplateTracker` (normalised cross-correlation: deterministic, on
   every OpenCV build, and on the generated videos more accurate than OpenCV's MIL, see
   BENCHMARKS.md); OpenCV's MIL (every build, but seeded by the clock: not repeatable),
   CSRT and KCF (the contrib wheel) can be chosen. Where the tracker and the detection
   agree, the label is their mean box.
4. **Frame difference**: where there is no tracker, or it fails or jumps out of the
   window, the difference of this frame and the previous one is binarised around the box
   and the box moves toward the side with more changed pixels (it stays when the sides
   are equal): see :func:`frame_difference_step`.

A label from the tracker or the frame difference carries the confidence of the track's
last detection (1 for a hand label) times ``decay`` per frame since; a track that the
detector has not confirmed for ``max_coast`` frames stops, as does one that leaves the
frame. Two tracks that come to cover one object (IoU above ``merge_iou``): the less
confident stops. Every label keeps its provenance (``source``) and confidence (``score``)
for the review.

Each frame's labels are written before the next frame is read (:class:`~.store.LabelStore`),
with what the loop needs to resume; an unreadable frame is skipped with a warning and the
tracks carry on from the last good frame.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from keras_geo.annotate import SOURCES
from keras_geo.annotate.store import LabelStore
from keras_geo.detection.boxes import pairwise_iou

__all__ = [
    "PropagationResult",
    "PropagationSettings",
    "TemplateTracker",
    "available_trackers",
    "frame_difference_step",
    "model_detector",
    "propagate",
]

Detector = Callable[[np.ndarray], Any]
"""``frame (h, w, 3) uint8 RGB -> (boxes (k, 4), scores (k,))`` or ``(boxes, scores, classes)``, or a dict of them."""

_SHORT = {"hand": "hand", "detector": "det", "tracker": "trk", "frame_difference": "diff"}  # the progress bar's

_TRACKERS = {
    "csrt": ("TrackerCSRT_create", "TrackerCSRT"),
    "kcf": ("TrackerKCF_create", "TrackerKCF"),
    "mil": ("TrackerMIL_create", "TrackerMIL"),
}


class TemplateTracker:
    """A tracker by normalised cross-correlation of the object's last appearance, in OpenCV's tracker API.

    Deterministic (OpenCV's MIL tracker seeds its sampling from the clock, so two runs of
    it differ) and on every OpenCV build. Each frame it looks for the template (the grey
    pixels of the object's box) in the box grown by ``search`` about its centre
    (``cv2.matchTemplate``, ``TM_CCOEFF_NORMED``, which ignores changes of brightness and
    contrast); it fails where the best correlation is below ``min_correlation``. Where it
    succeeds, the template moves ``adapt`` of the way toward the new appearance, so a
    turning object is followed.

    Args:
        search: The searched region's side in units of the box's side. Defaults to `2.0`.
        min_correlation: The lowest correlation taken for the object. Defaults to `0.5`.
        adapt: How much of the template is renewed each frame, in [0, 1]. Defaults to `0.3`.
    """

    def __init__(self, search: float = 2.0, min_correlation: float = 0.5, adapt: float = 0.3) -> None:
        self.search, self.min_correlation, self.adapt = float(search), float(min_correlation), float(adapt)
        self.template: np.ndarray | None = None
        self.rect = (0, 0, 0, 0)

    @staticmethod
    def _grey(frame: np.ndarray) -> np.ndarray:
        return (cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame).astype(np.float32)

    def init(self, frame: np.ndarray, rect: tuple[int, int, int, int]) -> None:
        x, y, w, h = (int(v) for v in rect)
        grey = self._grey(frame)
        x0, y0 = min(max(x, 0), grey.shape[1]), min(max(y, 0), grey.shape[0])  # the part inside the frame
        self.template = grey[y0 : max(y0, y + h), x0 : max(x0, x + w)].copy()
        self.rect = (x0, y0, self.template.shape[1], self.template.shape[0])

    def update(self, frame: np.ndarray) -> tuple[bool, tuple[int, int, int, int]]:
        if self.template is None or min(self.template.shape) < 2:
            return False, self.rect
        grey = self._grey(frame)
        x, y, w, h = self.rect
        margin_x, margin_y = int(round(w * (self.search - 1) / 2)), int(round(h * (self.search - 1) / 2))
        x0, y0 = max(0, x - margin_x), max(0, y - margin_y)
        x1, y1 = min(grey.shape[1], x + w + margin_x), min(grey.shape[0], y + h + margin_y)
        region = grey[y0:y1, x0:x1]
        if region.shape[0] < h or region.shape[1] < w or float(self.template.std()) < 1e-3:
            return False, self.rect
        scores = cv2.matchTemplate(region, self.template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(scores)
        if not np.isfinite(best) or best < self.min_correlation:
            return False, self.rect
        self.rect = (x0 + bx, y0 + by, w, h)
        patch = grey[self.rect[1] : self.rect[1] + h, self.rect[0] : self.rect[0] + w]
        self.template = (1 - self.adapt) * self.template + self.adapt * patch
        return True, self.rect


def _tracker_factory(name: str) -> Callable[[], Any] | None:
    if name == "template":
        return TemplateTracker
    create, cls = _TRACKERS[name]
    for place in (cv2, getattr(cv2, "legacy", None)):
        if place is None:
            continue
        if hasattr(place, create):
            return getattr(place, create)
        if hasattr(getattr(place, cls, None), "create"):
            return getattr(place, cls).create
    return None


def available_trackers() -> tuple[str, ...]:
    """The trackers this OpenCV build has: ``template`` (ours, deterministic) first, then OpenCV's.

    CSRT and KCF need ``opencv-contrib-python-headless``; MIL is on every build but seeds
    its sampling from the clock, so its labels differ from run to run.
    """
    return ("template", *(name for name in _TRACKERS if _tracker_factory(name) is not None))


@dataclass(frozen=True)
class PropagationSettings:
    """How labels are propagated (see :mod:`keras_geo.annotate.propagate`).

    Attributes:
        min_score: Detections below this score are ignored. Defaults to `0.5`.
        window: The search window's side in units of the track's box side. Defaults to `1.5`.
        new_track_score: A detection far from every track starts a track from this score
            (`None`: only hand labels start tracks). Defaults to `0.8`.
        tracker: ``"auto"`` (``"template"``), ``"template"`` (:class:`TemplateTracker`),
            OpenCV's ``"csrt"``, ``"kcf"`` (both need ``opencv-contrib-python-headless``) or
            ``"mil"`` (not repeatable: it seeds itself from the clock), or ``"none"`` (the
            frame difference alone). Defaults to `"auto"`.
        max_coast: Frames a track goes on without a detection before it stops. Defaults to `8`.
        decay: A tracker or frame-difference label's confidence is the last detection's
            times ``decay`` per frame since. Defaults to `0.95`.
        merge_iou: Two tracks overlapping more than this: the less confident stops. Defaults to `0.6`.
        diff_threshold: Grey levels (0-255) above which a pixel has changed between two
            frames; `None` picks it per box (Otsu, at least 3 x the frame's median change). Defaults to `None`.
        max_step: The frame difference moves a box at most this fraction of its side per
            frame. Defaults to `0.5`.
        fuse: Where the tracker and a detection both see a track's object, the label is
            their mean box; a detection that overlaps the tracker's box less than 0.3 is
            taken for another object. `False`: the detection's box alone. Defaults to `True`.
    """

    min_score: float = 0.5
    window: float = 1.5
    new_track_score: float | None = 0.8
    tracker: str = "auto"
    max_coast: int = 8
    decay: float = 0.95
    merge_iou: float = 0.6
    diff_threshold: float | None = None
    max_step: float = 0.5
    fuse: bool = True

    def __post_init__(self) -> None:
        def unit(name: str, low_open: bool = False) -> None:
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (0 < value <= 1 if low_open else 0 <= value <= 1)
            ):
                raise ValueError(
                    f"`{name}` must be a number in {'(0' if low_open else '[0'}, 1]. Received: {name}={value!r}"
                )

        for name in ("min_score", "merge_iou"):
            unit(name)
        for name in ("decay", "max_step"):
            unit(name, low_open=True)
        if self.new_track_score is not None:
            unit("new_track_score")
        if isinstance(self.window, bool) or not isinstance(self.window, int | float) or not self.window >= 1:
            raise ValueError(f"`window` must be a number >= 1. Received: window={self.window!r}")
        if isinstance(self.max_coast, bool) or not isinstance(self.max_coast, int) or self.max_coast < 0:
            raise ValueError(f"`max_coast` must be an integer >= 0. Received: max_coast={self.max_coast!r}")
        if self.tracker not in ("auto", "none", "template", *_TRACKERS):
            raise ValueError(
                f"`tracker` must be one of auto, none, template, {', '.join(_TRACKERS)}. Received: tracker={self.tracker!r}"
            )
        if self.tracker not in ("auto", "none") and _tracker_factory(self.tracker) is None:
            raise ValueError(
                f"this OpenCV ({cv2.__version__}) has no {self.tracker.upper()} tracker (available: "
                f"{', '.join(available_trackers()) or 'none'}); CSRT and KCF come with opencv-contrib-python-headless, "
                "which replaces opencv-python-headless"
            )
        if self.diff_threshold is not None and not 0 < self.diff_threshold < 255:
            raise ValueError(
                f"`diff_threshold` must be in (0, 255) or None. Received: diff_threshold={self.diff_threshold!r}"
            )

    @property
    def tracker_name(self) -> str | None:
        """The tracker used: the one asked for, ``"template"`` for ``"auto"``, `None` for none."""
        if self.tracker == "none":
            return None
        if self.tracker == "auto":
            return "template"
        return self.tracker


@dataclass
class PropagationResult:
    """What one propagation run did.

    Attributes:
        frames: Frames written in this run (resumed runs count only the new ones).
        labels: Labels written in this run, per source.
        skipped: The frames that could not be read.
        resumed_from: The first frame of this run, when it resumed a stopped one.
        seconds: Wall time.
        tracker: The tracker used (``"template"``, or OpenCV's ``"mil"``, ...), or `None`.
    """

    frames: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)
    resumed_from: int | None = None
    seconds: float = 0.0
    tracker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- boxes -----------------------------------------------------------------------------------


def _grow(box: np.ndarray, factor: float) -> np.ndarray:
    centre = (box[:2] + box[2:]) / 2
    half = (box[2:] - box[:2]) * factor / 2
    return np.concatenate([centre - half, centre + half])


def _inside_fraction(box: np.ndarray, height: int, width: int) -> float:
    clipped = np.clip(box, 0, [width, height, width, height])
    area = float(np.prod(box[2:] - box[:2]))
    return float(np.prod(np.clip(clipped[2:] - clipped[:2], 0, None))) / area if area > 0 else 0.0


def _clip(box: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.clip(box, 0, [width, height, width, height]).astype(np.float64)


# -- the frame difference ------------------------------------------------------------------


def _grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 and frame.shape[2] == 3 else frame.squeeze()


def frame_difference_step(
    previous: np.ndarray,
    current: np.ndarray,
    box: np.ndarray,
    *,
    threshold: float | None = None,
    max_step: float = 0.5,
) -> np.ndarray:
    """Report 002's fallback: the box moved toward the side where more pixels changed.

    The absolute difference of the two frames (grey) is binarised in the strips around
    the box, each as wide as half the box's side: left and right of it, above and below.
    An object that moved right has changed the pixels of the right strip (where it now
    is) more than those of the left one (background before and after), so the box moves
    right by the difference of the two strips' changed fractions times the strip's width:
    about the object's displacement. It stays where the two sides are equal, and moves at
    most ``max_step`` of its side. Strips cut by the frame's edge count by their fraction,
    so the edge does not pull.

    Args:
        previous: The frame the box belongs to, RGB or grey.
        current: The next frame, same shape.
        box: ``[x_min, y_min, x_max, y_max]`` in ``previous``.
        threshold: Grey levels above which a pixel has changed; `None`: Otsu's threshold of
            the strips, at least 3 x the frame's median change (sensor noise). Defaults to `None`.
        max_step: The largest move, as a fraction of the box's side. Defaults to `0.5`.

    Returns:
        The moved box (float64), the same size.
    """
    box = np.asarray(box, dtype=np.float64)
    difference = cv2.absdiff(_grey(previous), _grey(current))
    height, width = difference.shape
    side = box[2:] - box[:2]
    margin = np.maximum(np.ceil(side / 2), 2).astype(int)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, x1 = int(np.clip(x0, 0, width)), int(np.clip(x1, 0, width))
    y0, y1 = int(np.clip(y0, 0, height)), int(np.clip(y1, 0, height))
    if x1 <= x0 or y1 <= y0:
        return box
    strips = {
        "left": difference[y0:y1, max(0, x0 - margin[0]) : x0],
        "right": difference[y0:y1, x1 : min(width, x1 + margin[0])],
        "top": difference[max(0, y0 - margin[1]) : y0, x0:x1],
        "bottom": difference[y1 : min(height, y1 + margin[1]), x0:x1],
    }
    if threshold is None:
        values = np.concatenate([strip.ravel() for strip in strips.values()])
        floor = 3.0 * max(float(np.median(difference)), 1.0)
        otsu = (
            cv2.threshold(values.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0] if values.size else 0
        )
        threshold = max(float(otsu), floor)
    changed = {name: float((strip > threshold).mean()) if strip.size else 0.0 for name, strip in strips.items()}
    shift = np.array(
        [(changed["right"] - changed["left"]) * margin[0], (changed["bottom"] - changed["top"]) * margin[1]]
    )
    shift = np.clip(shift, -max_step * side, max_step * side)
    return box + np.concatenate([shift, shift])


# -- detectors ------------------------------------------------------------------------------


def _detections(
    detector: Detector, frame: np.ndarray, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    out = detector(frame)
    if isinstance(out, Mapping):
        out = (out["boxes"], out["scores"], out.get("classes"))
    if not isinstance(out, tuple | list) or len(out) not in (2, 3):
        raise TypeError(
            "a detector must return (boxes, scores), (boxes, scores, classes) or a dict of them. "
            f"Received: {type(out).__name__}"
        )
    boxes = np.asarray(out[0], dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(out[1], dtype=np.float64).reshape(-1)
    classes = None if len(out) == 2 or out[2] is None else np.asarray(out[2]).astype(np.int64).reshape(-1)
    if len(scores) != len(boxes) or (classes is not None and len(classes) != len(boxes)):
        raise ValueError(
            f"the detector returned {len(boxes)} boxes but {len(scores)} scores"
            + ("" if classes is None else f" and {len(classes)} classes")
        )
    keep = np.isfinite(boxes).all(axis=1) & np.isfinite(scores) & (scores >= min_score)
    keep &= (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return boxes[keep], scores[keep], None if classes is None else classes[keep]


def model_detector(model: Any, class_names: tuple[str, ...] | list[str] | None = None) -> Detector:
    """A keras_geo detector (:class:`~keras_geo.detection.model.TwoStageDetector`) as a frame detector.

    Each frame is resized to the model's input size and its detections scaled back to the
    frame's pixels. With ``class_names`` (the project's), the model's classes are mapped to
    them by name; a class the project does not have is dropped.
    """
    from keras_geo.tasks.detection import predict_detections

    height, width = model.image_size
    channels = int(model.features.inputs[0].shape[-1])
    own = list(model.class_names or [str(k) for k in range(model.n_classes)])
    mapping = None
    if class_names is not None:
        where = {name: k for k, name in enumerate(class_names)}
        mapping = np.array([where.get(name, -1) for name in own], dtype=np.int64)

    def detect(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows, cols = frame.shape[:2]
        image = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        if channels == 1:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None]
        found = predict_detections(model, image[None])[0]
        boxes = found["boxes"] * np.array([cols / width, rows / height, cols / width, rows / height], np.float32)
        classes = found["classes"].astype(np.int64)
        if mapping is not None:
            classes = mapping[classes]
            keep = classes >= 0
            return boxes[keep], found["scores"][keep], classes[keep]
        return boxes, found["scores"], classes

    return detect


# -- tracks ---------------------------------------------------------------------------------


@dataclass
class _Track:
    track: int
    box: np.ndarray
    cls: int
    score: float  # the last detection's (1 for a hand label)
    source: str = "hand"
    coast: int = 0  # frames since the last hand label or detection
    tracker: Any = None
    _decayed: float = 1.0  # the score times decay ** coast

    @property
    def confidence(self) -> float:
        return self.score if self.source in ("hand", "detector") else self._decayed

    def label(self, frame: int) -> dict[str, Any]:
        return {
            "id": f"{frame}:{self.track}",
            "box": [round(float(v), 2) for v in self.box],
            "class": int(self.cls),
            "score": round(float(self.confidence), 4),
            "source": self.source,
            "track": int(self.track),
        }

    def state(self) -> dict[str, Any]:
        # Full precision (the labels are rounded): a resumed run goes on exactly as it would have.
        return {
            **self.label(0),
            "box": [float(v) for v in self.box],
            "score": float(self.confidence),
            "coast": self.coast,
            "last": self.score,
        }


class _Loop:
    def __init__(self, settings: PropagationSettings, detector: Detector | None) -> None:
        self.settings = settings
        self.detector = detector
        self.factory = None if settings.tracker_name is None else _tracker_factory(settings.tracker_name)
        self.tracks: list[_Track] = []
        self.next_track = 0
        self.previous: np.ndarray | None = None  # the last good frame

    # state for resuming
    def state(self, previous_frame: int | None) -> dict[str, Any]:
        return {
            "next_track": self.next_track,
            "previous": previous_frame,
            "tracks": [track.state() for track in self.tracks],
        }

    def restore(self, state: Mapping[str, Any], previous: np.ndarray | None) -> None:
        self.next_track = int(state["next_track"])
        self.previous = previous
        self.tracks = []
        for saved in state["tracks"]:
            track = _Track(
                int(saved["track"]),
                np.asarray(saved["box"], np.float64),
                int(saved["class"]),
                float(saved["last"]),
                saved["source"],
                int(saved["coast"]),
            )
            track._decayed = float(saved["score"])
            self._start_tracker(track, previous)
            self.tracks.append(track)

    def _start_tracker(self, track: _Track, frame: np.ndarray | None) -> None:
        track.tracker = None
        if self.factory is None or frame is None:
            return
        x0, y0, x1, y1 = (int(round(v)) for v in track.box)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        tracker = self.factory()
        try:
            tracker.init(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), (x0, y0, x1 - x0, y1 - y0))
        except cv2.error:
            return
        track.tracker = tracker

    def _new(self, box: np.ndarray, cls: int, score: float, source: str, frame: np.ndarray) -> _Track:
        track = _Track(self.next_track, np.asarray(box, np.float64), int(cls), float(score), source)
        self.next_track += 1
        self._start_tracker(track, frame)
        return track

    def _confirm(self, track: _Track, box: np.ndarray, score: float, source: str, frame: np.ndarray) -> None:
        track.box, track.score, track.source, track.coast = np.asarray(box, np.float64), float(score), source, 0
        track._decayed = float(score)
        self._start_tracker(track, frame)

    def hand(self, frame: np.ndarray, objects: Mapping[str, np.ndarray]) -> None:
        boxes = np.asarray(objects["boxes"], np.float64).reshape(-1, 4)
        classes = np.asarray(objects["classes"]).astype(np.int64).reshape(-1)
        old = np.array([t.box for t in self.tracks]).reshape(-1, 4)
        iou = pairwise_iou(old, boxes)
        kept: list[_Track] = []
        used: set[int] = set()
        if iou.size:
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols, strict=True):
                if iou[r, c] >= 0.3:
                    track = self.tracks[r]
                    track.cls = int(classes[c])
                    self._confirm(track, boxes[c], 1.0, "hand", frame)
                    kept.append(track)
                    used.add(int(c))
        kept += [self._new(boxes[c], classes[c], 1.0, "hand", frame) for c in range(len(boxes)) if c not in used]
        self.tracks = sorted(kept, key=lambda t: t.track)

    def _predict(self, track: _Track, bgr: np.ndarray) -> np.ndarray | None:
        """The track's tracker on the new frame, or `None` where it has none, fails or jumps."""
        if track.tracker is None:
            return None
        try:
            ok, (x, y, w, h) = track.tracker.update(bgr)
        except cv2.error:
            ok = False
        if ok and w > 1 and h > 1:
            candidate = np.array([x, y, x + w, y + h], np.float64)
            window = _grow(track.box, self.settings.window)
            centre = (candidate[:2] + candidate[2:]) / 2
            ratio = (w * h) / max(float(np.prod(track.box[2:] - track.box[:2])), 1e-9)
            # A tracker that jumps out of the search window or changes the box's area more
            # than 2 x has lost the object.
            if (window[:2] <= centre).all() and (centre <= window[2:]).all() and 0.5 <= ratio <= 2.0:
                return candidate
        track.tracker = None
        return None

    def step(self, frame: np.ndarray) -> None:
        s = self.settings
        height, width = frame.shape[:2]
        boxes = np.zeros((0, 4))
        scores = np.zeros(0)
        classes = None
        if self.detector is not None:
            boxes, scores, classes = _detections(self.detector, frame, s.min_score)
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) if self.factory is not None else frame
        predicted = [self._predict(track, bgr) for track in self.tracks]
        confirmed: set[int] = set()  # tracks the detector confirmed on this frame
        taken: set[int] = set()  # detections given to a track
        if len(boxes) and self.tracks:
            # Each track looks for its object where its tracker says it went, else where it was.
            expected = np.array([p if p is not None else t.box for t, p in zip(self.tracks, predicted, strict=True)])
            iou = pairwise_iou(expected, boxes)
            windows = np.array([_grow(box, s.window) for box in expected])
            centres = (boxes[:, :2] + boxes[:, 2:]) / 2
            inside = (
                (centres[None, :, 0] >= windows[:, None, 0])
                & (centres[None, :, 0] <= windows[:, None, 2])
                & (centres[None, :, 1] >= windows[:, None, 1])
                & (centres[None, :, 1] <= windows[:, None, 3])
            )
            # One detection per track, one track per detection: the best overlap, then the
            # nearest centre, among the detections in the track's window.
            side = np.mean(expected[:, 2:] - expected[:, :2], axis=1)
            distance = np.linalg.norm(centres[None] - ((expected[:, :2] + expected[:, 2:]) / 2)[:, None], axis=2)
            cost = np.where(inside, (1.0 - iou) + 0.5 * distance / (s.window * side[:, None]), 1e6)
            for r, c in zip(*linear_sum_assignment(cost), strict=True):
                if not inside[r, c]:
                    continue
                box = boxes[c]
                if predicted[r] is not None and s.fuse:
                    if iou[r, c] < 0.3:
                        continue  # the tracker and the detector disagree: the detection may be another object's
                    # Both see the object: their mean box (their errors are independent).
                    box = (boxes[c] + predicted[r]) / 2
                self._confirm(self.tracks[r], box, scores[c], "detector", frame)
                confirmed.add(self.tracks[r].track)
                taken.add(int(c))
        for track, box in zip(self.tracks, predicted, strict=True):
            if track.track not in confirmed:
                self._coast(track, frame, box)
        self.tracks = [t for t in self.tracks if t.coast <= s.max_coast]
        # Confident detections far from every track start tracks.
        if s.new_track_score is not None and len(boxes):
            for c in np.argsort(-scores, kind="stable"):
                if int(c) in taken or scores[c] < s.new_track_score:
                    continue
                current = np.array([t.box for t in self.tracks]).reshape(-1, 4)
                if len(current) and pairwise_iou(boxes[c : c + 1], current).max() > 0.3:
                    continue
                cls = 0 if classes is None else int(classes[c])
                self.tracks.append(self._new(boxes[c], cls, scores[c], "detector", frame))
        self._merge()
        self.tracks = [t for t in self.tracks if _inside_fraction(t.box, height, width) >= 0.5]
        for track in self.tracks:
            track.box = _clip(track.box, height, width)
        self.tracks.sort(key=lambda t: t.track)
        self.previous = frame

    def _coast(self, track: _Track, frame: np.ndarray, predicted: np.ndarray | None) -> None:
        """A track the detector missed: its tracker's box, else the frame difference."""
        s = self.settings
        track.coast += 1
        if predicted is not None:
            moved, source = predicted, "tracker"
        elif self.previous is not None:
            moved = frame_difference_step(
                self.previous, frame, track.box, threshold=s.diff_threshold, max_step=s.max_step
            )
            source = "frame_difference"
        else:  # no previous frame: the box stays
            moved, source = track.box, "frame_difference"
        track.box, track.source = moved, source
        track._decayed = track.score * s.decay**track.coast

    def _merge(self) -> None:
        """Of two tracks on one object, the less confident (then the younger) stops."""
        order = sorted(self.tracks, key=lambda t: (-t.confidence, t.track))
        kept: list[_Track] = []
        for track in order:
            if kept and pairwise_iou(track.box[None], np.array([t.box for t in kept])).max() > self.settings.merge_iou:
                continue
            kept.append(track)
        self.tracks = kept

    def labels(self, frame: int) -> list[dict[str, Any]]:
        return [track.label(frame) for track in self.tracks]


def propagate(
    frames: Any,
    hand: Mapping[int, Mapping[str, np.ndarray]],
    store: LabelStore | str,
    *,
    detector: Detector | None = None,
    settings: PropagationSettings | None = None,
    progress: bool = True,
) -> PropagationResult:
    """Propagates hand labels through a video, one frame after the other (see the module's text).

    A store that already holds frames is resumed after its last frame, with the tracks as
    they were; a finished store is left as it is.

    Args:
        frames: The video (:func:`keras_geo.annotate.video.open_video`): ``len``, ``name(i)``,
            ``read(i)`` and ``iter(start)`` yielding ``(i, frame or None)``.
        hand: ``{frame: {"boxes": (k, 4), "classes": (k,)}}``, the hand labels.
        store: Where the labels go (a :class:`~keras_geo.annotate.store.LabelStore` or its path).
        detector: ``frame -> (boxes, scores[, classes])`` (e.g. :func:`model_detector`), or
            `None` for the tracker and frame difference alone. Defaults to `None`.
        settings: Defaults to :class:`PropagationSettings` ``()``.
        progress: Shows a progress bar. Defaults to `True`.

    Returns:
        A :class:`PropagationResult`.
    """
    from tqdm.auto import tqdm

    settings = settings or PropagationSettings()
    store = store if isinstance(store, LabelStore) else LabelStore(store)
    if not hand:
        raise ValueError("no hand labels: label some frames by hand first (20-30 is the report's advice)")
    n = len(frames)
    bad = sorted(int(f) for f in hand if not 0 <= int(f) < n)
    if bad:
        raise ValueError(f"hand labels on frame {bad[0]}, but the video has {n} frames (0-{n - 1})")
    loop = _Loop(settings, detector)
    result = PropagationResult(tracker=settings.tracker_name)
    start = 0
    last = store.last_frame
    if last is not None:
        state = store.lines[last].get("state")
        if state is None:
            raise ValueError(f"{store.path}: its frame {last} has no propagation state; propagate into a new file")
        previous = None
        if state.get("previous") is not None:
            try:
                previous = frames.read(int(state["previous"]))
            except ValueError:
                previous = None
        loop.restore(state, previous)
        start = last + 1
        result.resumed_from = start if start < n else None
    begun = time.perf_counter()
    counts: Counter[str] = Counter()
    previous_frame = None if last is None else store.lines[last]["state"].get("previous")
    bar = tqdm(total=n - start, desc="propagate", unit="frame", disable=not progress or start >= n)
    for index, frame in frames.iter(start):
        if frame is None:
            result.skipped.append(index)
            store.append(index, frames.name(index), [], skipped="unreadable", state=loop.state(previous_frame))
        else:
            if loop.previous is not None and loop.previous.shape != frame.shape:
                warnings.warn(
                    f"frame {index} ({frames.name(index)}) has another size than the last; skipped", stacklevel=2
                )
                result.skipped.append(index)
                store.append(index, frames.name(index), [], skipped="size", state=loop.state(previous_frame))
                bar.update(1)
                continue
            if index in hand:
                loop.hand(frame, hand[index])
                loop.previous = frame
            else:
                loop.step(frame)
            previous_frame = index
            labels = loop.labels(index)
            counts.update(label["source"] for label in labels)
            store.append(index, frames.name(index), labels, state=loop.state(previous_frame))
        result.frames += 1
        bar.update(1)
        bar.set_postfix({_SHORT[key]: counts[key] for key in SOURCES if counts[key]}, refresh=False)
    bar.close()
    result.labels = {key: counts[key] for key in SOURCES if counts[key]}
    result.seconds = time.perf_counter() - begun
    return result
