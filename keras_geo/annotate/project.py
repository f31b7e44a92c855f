"""An annotation project: one video, its hand labels, and the rounds of propagate, review, retrain.

A project is a folder::

    PROJECT/
      project.json          the video, the class names, the frame count and size
      hand.json             the hand labels (COCO, frame names as file names)
      round-0/detector.keras    a detector trained on the hand labels alone (optional)
      round-1/labels.jsonl  the round's labels, a line per frame (written as it goes)
              review.html   the review page
              rejections.json   the labels a person rejected (saved from the page)
              detector.keras    the detector retrained on hand + accepted labels
              summary.json  the round in numbers

Round ``k`` propagates with the newest detector of an earlier round (``round-j/detector.keras``,
``j < k``), or with one given, or with none (tracker and frame difference alone). Its
labels are reviewed; :meth:`AnnotationProject.retrain` trains a detector on the hand labels
and the round's accepted labels, which round ``k + 1`` propagates with.
"""

from __future__ import annotations

import datetime
import json
import shutil
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from keras_geo.annotate import SOURCES
from keras_geo.annotate.propagate import PropagationResult, PropagationSettings, model_detector, propagate
from keras_geo.annotate.store import LabelStore

__all__ = ["RETRAIN_DEFAULTS", "RETRAIN_STEPS", "AnnotationProject", "ProjectError"]

_FORMAT = "keras-geo-annotate"

RETRAIN_DEFAULTS: dict[str, Any] = {
    "backbone_width": 16,
    "fpn_channels": 32,
    "head_units": 64,
    "rois": 32,
    "anchor_scale": 0.75,
    "batch_size": 4,
    "learning_rate": 1e-3,
    "early_stopping": False,
}
"""The detector a retraining builds and how it trains (``two_stage_detector``), small enough for a CPU.

There is no validation split to stop on (every label is for training), and the training
loss of a few dozen frames is too noisy to stop on, so the training runs its epochs; their
number defaults to about :data:`RETRAIN_STEPS` batches (at least 5 and at most 40 epochs):
24 hand frames train 40 epochs, 600 frames 5.
"""

RETRAIN_STEPS = 300
"""The number of batches a retraining aims at when no ``epochs`` are given."""


class ProjectError(ValueError):
    """A project folder or request that cannot be used; the one-line message says why."""


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _write_json(path: Path, value: Any) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(value, indent=2) + "\n")
    temporary.replace(path)


class AnnotationProject:
    """An annotation project folder (see the module's text). Open one with ``AnnotationProject(folder)``.

    Raises:
        ProjectError: if ``folder`` holds no project (create one with :meth:`create`).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        meta = self.folder / "project.json"
        if not meta.is_file():
            raise ProjectError(f"{self.folder} is not an annotation project (no project.json); create it with `init`")
        try:
            self.meta = json.loads(meta.read_text())
            if self.meta.get("format") != _FORMAT:
                raise ValueError
            self.class_names = tuple(self.meta["class_names"])
            self.size = tuple(int(v) for v in self.meta["size"])
        except (ValueError, KeyError, TypeError):
            raise ProjectError(f"{meta} is not a keras-geo annotation project file") from None
        self._frames = None
        self._hand: dict[int, dict[str, np.ndarray]] | None = None

    # -- creation and parts --------------------------------------------------------------

    @classmethod
    def create(
        cls,
        folder: str | Path,
        video: str | Path,
        labels: str | Path,
        *,
        class_names: tuple[str, ...] | list[str] | None = None,
        keep_empty_frames: bool = False,
    ) -> AnnotationProject:
        """Starts a project on a video and its hand labels (COCO JSON, YOLO txt or Pascal VOC XML).

        The labels are checked against the video (frames and classes that exist, boxes in
        the frame) and copied into the project as COCO (``hand.json``). A hand-labelled
        frame is the truth for propagation: its tracks end where it has no box. Frames the
        file lists without any box are therefore left out unless ``keep_empty_frames``:
        tools list every frame of a task in their exports (CVAT's COCO export does), most
        never looked at; keep them only where an empty frame means "checked, nothing here".

        Raises:
            ProjectError: ``folder`` already holds a project.
            keras_geo.annotate.video.VideoError: the video cannot be opened.
            keras_geo.detection.annotations.AnnotationError: a bad label file.
        """
        from keras_geo.annotate.labels import read_labels, write_labels
        from keras_geo.annotate.video import open_video

        folder = Path(folder)
        if (folder / "project.json").exists():
            raise ProjectError(f"{folder} already holds a project; open it, or choose another folder")
        frames = open_video(video)
        hand, names = read_labels(labels, frames.names, frames.size, class_names=class_names)
        empty = [frame for frame, objects in hand.items() if not len(objects["classes"])]
        if not keep_empty_frames:
            hand = {frame: objects for frame, objects in hand.items() if len(objects["classes"])}
        folder.mkdir(parents=True, exist_ok=True)
        write_labels(folder / "hand.json", "coco", hand, frames.names, frames.size, names)
        _write_json(
            folder / "project.json",
            {
                "format": _FORMAT,
                "version": 1,
                "video": str(Path(video).resolve()),
                "labels": str(Path(labels).resolve()),
                "class_names": list(names),
                "empty_frames_left_out": 0 if keep_empty_frames else len(empty),
                "frames": len(frames),
                "size": list(frames.size),
                "created": _now(),
            },
        )
        return cls(folder)

    @property
    def frames(self):
        """The video (:class:`keras_geo.annotate.video.Frames`), opened on first use."""
        if self._frames is None:
            from keras_geo.annotate.video import open_video

            self._frames = open_video(self.meta["video"])
            if len(self._frames) != self.meta["frames"] or tuple(self._frames.size) != self.size:
                raise ProjectError(
                    f"the video {self.meta['video']} has changed since the project began "
                    f"({len(self._frames)} frames of {self._frames.size}, was {self.meta['frames']} of {self.size})"
                )
        return self._frames

    @property
    def hand(self) -> dict[int, dict[str, np.ndarray]]:
        """The hand labels, ``{frame: {"boxes", "classes"}}``."""
        if self._hand is None:
            from keras_geo.annotate.labels import read_labels

            self._hand, _ = read_labels(
                self.folder / "hand.json", self.frames.names, self.size, class_names=self.class_names
            )
        return self._hand

    @property
    def video_name(self) -> str:
        return Path(self.meta["video"]).name

    def round_folder(self, k: int) -> Path:
        return self.folder / f"round-{int(k)}"

    @property
    def rounds(self) -> list[int]:
        """The rounds that have labels, in order."""
        found = []
        for path in self.folder.glob("round-*/labels.jsonl"):
            suffix = path.parent.name.removeprefix("round-")
            if suffix.isdigit():
                found.append(int(suffix))
        return sorted(found)

    def store(self, k: int) -> LabelStore:
        return LabelStore(self.round_folder(k) / "labels.jsonl")

    def _round(self, k: int | None) -> int:
        rounds = self.rounds
        if not rounds:
            raise ProjectError(f"{self.folder} has no round yet: run `propagate` first")
        if k is None:
            return rounds[-1]
        if k not in rounds:
            raise ProjectError(f"{self.folder} has no round {k} (rounds: {', '.join(map(str, rounds))})")
        return k

    def is_complete(self, k: int) -> bool:
        last = self.store(k).last_frame
        return last is not None and last >= len(self.frames) - 1

    def detector_for(self, k: int) -> Path | None:
        """The newest detector retrained before round ``k``, or `None`."""
        for j in range(k - 1, -1, -1):
            path = self.round_folder(j) / "detector.keras"
            if path.is_file():
                return path
        return None

    # -- the loop ------------------------------------------------------------------------

    def propagate(
        self,
        detector: str | Path | Callable | None = "auto",
        *,
        settings: PropagationSettings | None = None,
        progress: bool = True,
    ) -> tuple[int, PropagationResult]:
        """Runs (or resumes) a round of propagation.

        An unfinished last round is resumed where it stopped; otherwise a new round begins.

        Args:
            detector: ``"auto"`` (the newest retrained detector of an earlier round, else
                none), a ``.keras`` detector file, a callable ``frame -> (boxes, scores[,
                classes])``, or `None` (tracker and frame difference alone). Defaults to `"auto"`.
            settings: :class:`~keras_geo.annotate.propagate.PropagationSettings`.
            progress: Shows a progress bar. Defaults to `True`.

        Returns:
            The round and its :class:`~keras_geo.annotate.propagate.PropagationResult`.
        """
        rounds = self.rounds
        k = rounds[-1] if rounds and not self.is_complete(rounds[-1]) else (rounds[-1] + 1 if rounds else 1)
        used: str | None = None
        if isinstance(detector, str) and detector == "auto":
            path = self.detector_for(k)
            detector, used = (None, None) if path is None else (self._load_detector(path), str(path))
        elif isinstance(detector, str | Path):
            used = str(detector)
            detector = self._load_detector(Path(detector))
        elif detector is not None:
            used = getattr(detector, "__name__", type(detector).__name__)
        result = propagate(
            self.frames, self.hand, self.store(k), detector=detector, settings=settings, progress=progress
        )
        summary = self.round_summary(k)
        summary.setdefault("runs", []).append({"detector": used, "at": _now(), **result.to_dict()})
        summary["detector"] = used
        _write_json(self.round_folder(k) / "summary.json", summary)
        return k, result

    def _load_detector(self, path: Path) -> Callable:
        from keras_geo.detection.model import TwoStageDetector

        if not path.is_file():
            raise ProjectError(f"no such detector file: {path}")
        import keras

        import keras_geo  # noqa: F401  (registers the detector's layers)

        try:
            model = keras.saving.load_model(path, safe_mode=True)
        except Exception as error:  # noqa: BLE001 - Keras raises many kinds on a bad file
            raise ProjectError(f"{path} could not be loaded as a Keras model: {str(error).splitlines()[0]}") from None
        if not isinstance(model, TwoStageDetector):
            raise ProjectError(f"{path} is not a detector (a keras_geo TwoStageDetector)")
        if model.class_names and not set(model.class_names) & set(self.class_names):
            raise ProjectError(
                f"{path} detects {', '.join(model.class_names)}, none of the project's classes "
                f"({', '.join(self.class_names)})"
            )
        return model_detector(model, self.class_names)

    def round_summary(self, k: int) -> dict[str, Any]:
        """Round ``k``'s ``summary.json``: its propagation runs (``"runs"``), detector, and training (``"training"``)."""
        path = self.round_folder(k) / "summary.json"
        return json.loads(path.read_text()) if path.is_file() else {"round": k}

    def review(self, k: int | None = None, *, thumb_side: int = 256) -> Path:
        """Writes the round's review page (``round-k/review.html``), earlier rejections marked."""
        from keras_geo.annotate.review import write_review

        k = self._round(k)
        store = self.store(k)
        lines = [line for line in store if line["labels"]]
        path = self.round_folder(k) / "review.html"
        write_review(
            path,
            self.frames.iter(),
            lines,
            self.class_names,
            video=self.video_name,
            round=k,
            rejected=self.rejected(k),
            thumb_side=thumb_side,
        )
        return path

    def label_ids(self, k: int) -> set[str]:
        """The ids of round ``k``'s labels that a person may reject (hand labels are not among them)."""
        from keras_geo.annotate.review import rejectable_ids

        return rejectable_ids(self.store(k))

    def rejected(self, k: int | None = None) -> set[str]:
        """The ids rejected in round ``k`` (``round-k/rejections.json``; none if there is no file)."""
        from keras_geo.annotate.review import read_rejections

        k = self._round(k)
        path = self.round_folder(k) / "rejections.json"
        if not path.is_file():
            return set()
        return read_rejections(path, video=self.video_name, round=k, known_ids=self.label_ids(k))

    def add_rejections(self, path: str | Path, k: int | None = None) -> set[str]:
        """Checks a rejections file saved from the review page and keeps it in the round's folder."""
        from keras_geo.annotate.review import read_rejections

        k = self._round(k)
        rejected = read_rejections(path, video=self.video_name, round=k, known_ids=self.label_ids(k))
        target = self.round_folder(k) / "rejections.json"
        if Path(path).resolve() != target.resolve():
            shutil.copyfile(path, target)
        return rejected

    def accepted(self, k: int | None = None, *, keep_rejected_frames: bool = False) -> dict[int, dict[str, np.ndarray]]:
        """The labels to train on after round ``k``: the hand labels, and the round's unrejected labels.

        Hand-labelled frames keep their hand labels. A frame with a rejected label is left
        out unless ``keep_rejected_frames``: a rejected box often marks an object whose right
        box is missing, which training would learn as background. So is a propagated frame
        without any label: the review page cannot show what is missing there, and training
        would take the frame for background on no one's word.
        """
        k = self._round(k)
        rejected = self.rejected(k)
        out: dict[int, dict[str, np.ndarray]] = {}
        for frame, line in self.store(k).lines.items():
            if line.get("skipped") or frame in self.hand:
                continue
            labels = line["labels"]
            if not labels:
                continue
            if not keep_rejected_frames and any(label["id"] in rejected for label in labels):
                continue
            kept = [label for label in labels if label["id"] not in rejected]
            out[frame] = _objects(kept)
        out.update(self.hand)
        return dict(sorted(out.items()))

    def retrain(
        self,
        k: int | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        seed: int = 0,
        image_size: tuple[int, int] | None = None,
        keep_rejected_frames: bool = False,
        max_frames: int = 1000,
        verbose: int | str = 0,
    ) -> Path:
        """Trains a detector on the hand labels and round ``k``'s accepted labels (``round-k/detector.keras``).

        Before any round (``k`` = 0, or no round yet), on the hand labels alone: the weak
        detector of the report's first step.

        Args:
            k: The round; defaults to the newest (0 if there is none).
            params: ``two_stage_detector`` and training settings over :data:`RETRAIN_DEFAULTS`.
            seed: The training's seed. Defaults to `0`.
            image_size: ``(height, width)`` the frames are resized to; defaults to the frame
                size in multiples of 32, the longer side at most 256.
            keep_rejected_frames: See :meth:`accepted`. Defaults to `False`.
            max_frames: At most this many frames are trained on (they are held in memory):
                every hand-labelled frame, and accepted frames evenly spaced through the
                video. Defaults to `1000`.
            verbose: Keras ``fit`` verbosity. Defaults to `0`.

        Returns:
            The saved detector's path.
        """
        import cv2

        from keras_geo import training
        from keras_geo.detection import boxes as box_ops

        if k is None:
            k = self.rounds[-1] if self.rounds else 0
        if k == 0:
            chosen = dict(self.hand)
        else:
            k = self._round(k)
            if not self.is_complete(k):
                raise ProjectError(f"round {k} is not finished: run `propagate` again to complete it first")
            chosen = self.accepted(k, keep_rejected_frames=keep_rejected_frames)
        if not sum(len(o["classes"]) for o in chosen.values()):
            raise ProjectError("no labels to train on")
        if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
            raise ValueError(f"`max_frames` must be an integer >= 1. Received: max_frames={max_frames!r}")
        if len(chosen) > max_frames:
            others = [frame for frame in chosen if frame not in self.hand]
            room = max(0, max_frames - len(self.hand))
            spaced = {others[int(i)] for i in np.linspace(0, len(others) - 1, room)} if room else set()
            chosen = {frame: objects for frame, objects in chosen.items() if frame in self.hand or frame in spaced}
        size = image_size or _training_size(self.size)
        images, objects = [], []
        for index, frame in self.frames.iter():
            if index not in chosen or frame is None:
                continue
            images.append(cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255)
            objects.append(
                {
                    "boxes": box_ops.scale(chosen[index]["boxes"], size[0] / self.size[0], size[1] / self.size[1]),
                    "classes": chosen[index]["classes"].astype(np.int64),
                }
            )
        settings = {**RETRAIN_DEFAULTS, **dict(params or {})}
        if "epochs" not in settings:
            batches = -(-len(images) // int(settings["batch_size"]))
            settings["epochs"] = int(np.clip(-(-RETRAIN_STEPS // batches), 5, 40))
        result = training.train(
            "two_stage_detector",
            {"train": (np.stack(images), objects)},
            settings,
            task="detection",
            seed=seed,
            class_names=self.class_names,
            verbose=verbose,
        )
        folder = self.round_folder(k)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "detector.keras"
        result.model.save(path)
        summary = self.round_summary(k)
        summary["training"] = {
            "frames": len(images),
            "labels": int(sum(len(o["classes"]) for o in objects)),
            "hand_frames": sum(1 for f in chosen if f in self.hand),
            "image_size": list(size),
            "params": {key: value for key, value in result.params.items() if _plain(value)},
            "train_loss": result.metrics.get("train_loss"),
            "epochs": result.metrics.get("epochs"),
            "seconds": result.metrics.get("train_time_s"),
            "at": _now(),
        }
        _write_json(folder / "summary.json", summary)
        return path

    # -- results -------------------------------------------------------------------------

    def export(self, out: str | Path, fmt: str, k: int | None = None) -> Path:
        """Writes the hand and accepted labels of round ``k`` (the hand labels alone before any round) as COCO, YOLO or VOC."""
        from keras_geo.annotate.labels import write_labels

        labels = self.accepted(k, keep_rejected_frames=True) if self.rounds else dict(self.hand)
        return write_labels(out, fmt, labels, self.frames.names, self.size, self.class_names)

    def summary(self) -> list[dict[str, Any]]:
        """Per round: the hand labels it began from, the labels made by source, the rejected and accepted ones.

        ``accepted`` counts every label not rejected; ``for_training`` the propagated labels a
        retraining uses, which leaves out whole frames that hold a rejected label (see
        :meth:`accepted`).
        """
        hand_labels = int(sum(len(o["classes"]) for o in self.hand.values()))
        rows = []
        for k in self.rounds:
            store = self.store(k)
            counts = Counter(label["source"] for _, label in store.labels())
            try:
                rejected = self.rejected(k)
            except ValueError as error:
                warnings.warn(str(error), stacklevel=2)
                rejected = set()
            made = sum(n for source, n in counts.items() if source != "hand")
            saved = self.round_summary(k)
            try:
                chosen = self.accepted(k) if self.is_complete(k) else {}
            except ValueError:
                chosen = {}
            trained = sum(len(o["classes"]) for frame, o in chosen.items() if frame not in self.hand)
            rows.append(
                {
                    "round": k,
                    "detector": saved.get("detector"),
                    "frames": len(store),
                    "complete": self.is_complete(k),
                    "hand_frames": len(self.hand),
                    "hand_labels": hand_labels,
                    "labels": {source: counts[source] for source in SOURCES if counts[source]},
                    "made": made,
                    "rejected": len(rejected),
                    "accepted": made - len(rejected),
                    "per_hand_label": round((made - len(rejected)) / hand_labels, 2) if hand_labels else None,
                    "for_training": trained,
                    "for_training_per_hand_label": round(trained / hand_labels, 2) if hand_labels else None,
                    "reviewed": (self.round_folder(k) / "rejections.json").is_file(),
                    "retrained": (self.round_folder(k) / "detector.keras").is_file(),
                }
            )
        return rows

    def summary_table(self) -> str:
        """:meth:`summary` as a Markdown table."""
        head = (
            "| round | frames | hand labels | labels made (detector / tracker / frame difference) | rejected "
            "| accepted | accepted per hand label | for training (per hand label) | retrained |"
        )
        lines = [head, "|" + "---|" * 9]
        for row in self.summary():
            made = " / ".join(str(row["labels"].get(s, 0)) for s in SOURCES[1:])
            lines.append(
                f"| {row['round']} | {row['frames']}{'' if row['complete'] else ' (unfinished)'} | {row['hand_labels']} "
                f"| {row['made']} ({made}) | {row['rejected'] if row['reviewed'] else 'not reviewed'} | {row['accepted']} "
                f"| {row['per_hand_label']} | {row['for_training']} ({row['for_training_per_hand_label']}) "
                f"| {'yes' if row['retrained'] else 'no'} |"
            )
        return "\n".join(lines)


def _objects(labels: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    return {
        "boxes": np.array([label["box"] for label in labels], dtype=np.float32).reshape(-1, 4),
        "classes": np.array([label["class"] for label in labels], dtype=np.int64),
    }


def _training_size(size: tuple[int, int], longest: int = 256) -> tuple[int, int]:
    scale = min(1.0, longest / max(size))
    return tuple(max(64, int(round(side * scale / 32)) * 32) for side in size)  # type: ignore[return-value]


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)
