"""Detection: boxes and classes of the objects in each image, scored by COCO AP (pycocotools).

Targets are one dict per image, ``{"boxes": (k, 4), "classes": (k,)}`` in pixels (see
:mod:`keras_geo.detection`), any ``k`` including 0. The model brings its own
``train_step`` (:class:`keras_geo.detection.model.TwoStageDetector`): :meth:`Detection.compile`
gives it the optimizer only, and :meth:`Detection.fit` feeds ``tf.data`` batches whose
objects are padded per batch. The evaluation is COCO's (``keras_geo.detection.evaluate``,
the ``detection`` extra): ``AP`` (IoU 0.50:0.95), ``AP50``, ``AP75``, ``AP_small``,
``AP_medium``, ``AP_large`` and the recalls, ``NaN`` where a size bin has no object. The
report's sample section draws the best model's detections on validation images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_geo.tasks._base import Report, Task, as_inputs, unpack

__all__ = ["Detection", "DetectionReport", "predict_detections"]

_SCALARS = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large", "AR100")


def predict_detections(model: keras.Model, x: np.ndarray, batch_size: int = 16) -> list[dict[str, np.ndarray]]:
    """A detector's detections of ``x``, one dict per image, by eager calls in batches (no retracing)."""
    from keras_geo.detection.draw import detections_of

    found: list[dict[str, np.ndarray]] = []
    for start in range(0, len(x), batch_size):
        out = model(x[start : start + batch_size], training=False)
        found += detections_of({key: keras.ops.convert_to_numpy(value) for key, value in out.items()})
    return found


@dataclass
class DetectionReport(Report):
    """COCO scores of a detector on one split.

    Attributes:
        class_names: The classes, in label order.
        scores: :func:`keras_geo.detection.evaluate.coco_evaluate`'s result.
        n: Number of images.
    """

    class_names: tuple[str, ...]
    scores: dict[str, float]
    n: int

    def scalars(self, split: str) -> dict[str, float]:
        """``{split}_AP``, ``{split}_AP50``, ``{split}_AP75``, the size bins' AP and ``{split}_AR100``."""
        return {f"{split}_{key}": float(self.scores[key]) for key in _SCALARS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "class_names": list(self.class_names),
            "scores": {key: (None if isinstance(v, float) and np.isnan(v) else v) for key, v in self.scores.items()},
        }

    def table(self) -> str:
        """A Markdown table of the AP scores, and per class where computed."""
        lines = ["| " + " | ".join(_SCALARS) + " |", "|" + "---|" * len(_SCALARS)]
        lines.append("| " + " | ".join(f"{self.scores[key]:.3f}" for key in _SCALARS) + " |")
        per_class = [(name, self.scores.get(f"AP/{name}")) for name in self.class_names]
        if any(value is not None for _, value in per_class):
            lines += ["", "| class | AP |", "|---|---|"]
            lines += [f"| {name} | {value:.3f} |" for name, value in per_class if value is not None]
        return "\n".join(lines)


class Detection(Task):
    """Object detection: boxes and classes per image.

    The builder gets ``n_classes``. Default objective: ``val_AP`` (COCO's AP over IoU
    0.50:0.95), maximised.

    Args:
        per_class: Also score each class (``AP/<class>`` in the report). Defaults to `True`.
        max_detections: Detections per image that count (COCO: 100). Defaults to `100`.
    """

    name = "detection"
    objective = ("val_AP", "maximize")
    head_keys = ("n_classes",)

    def __init__(self, *, per_class: bool = True, max_detections: int = 100) -> None:
        if isinstance(max_detections, bool) or not isinstance(max_detections, int | np.integer) or max_detections < 1:
            raise ValueError(f"`max_detections` must be an integer >= 1. Received: max_detections={max_detections!r}")
        self.per_class = bool(per_class)
        self.max_detections = int(max_detections)
        self.class_names: tuple[str, ...] = ()

    def check_split(self, name: str, split: Any) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
        from keras_geo.detection.data import check_objects, clean_objects

        x, y = unpack(split, name, "(images, objects)")
        x = as_inputs(x, name)
        if x.ndim != 4:
            raise ValueError(f"data[{name!r}] images must be (n, height, width, channels). Received shape: {x.shape}")
        objects = check_objects(y, len(x), name=f"data[{name!r}] objects")
        return x, clean_objects(objects, x.shape[1], x.shape[2], source=f"data[{name!r}]")

    def start(self, x: np.ndarray, y: Sequence[Mapping[str, np.ndarray]], dataset: Any = None) -> None:
        most = max((int(o["classes"].max()) + 1 for o in y if len(o["classes"])), default=0)
        names = getattr(dataset, "class_names", None)
        if names is not None:
            if most > len(names):
                raise ValueError(
                    f"the objects have classes up to {most - 1} but the data set names {len(names)} classes: {tuple(names)}"
                )
            self.class_names = tuple(str(n) for n in names)
        else:
            if most == 0:
                raise ValueError("the training split has no objects: nothing to learn (give images with boxes)")
            self.class_names = tuple(str(k) for k in range(most))

    def head_arguments(self) -> dict[str, Any]:
        return {"n_classes": len(self.class_names)}

    def compile(self, model: keras.Model, optimizer: keras.optimizers.Optimizer, hparams: Mapping[str, Any]) -> None:
        if not _is_detector(model):
            raise ValueError(
                f"the detection task needs a detector (e.g. the builder 'two_stage_detector'). Received: {model.name!r}"
            )
        model.compile(optimizer=optimizer)

    def fit(
        self,
        model: keras.Model,
        train: tuple[np.ndarray, list],
        val: tuple[np.ndarray, list] | None,
        *,
        batch_size: int,
        epochs: int,
        callbacks: Sequence[keras.callbacks.Callback],
        verbose: int | str,
    ) -> dict[str, list[float]]:
        """Fits on ``tf.data`` batches, objects padded per batch, reshuffled each epoch (seeded by the training)."""
        from keras_geo.detection.data import detection_dataset

        seed = int(np.random.randint(2**31 - 1))  # from numpy's state, which the training seeded
        data = detection_dataset(*train, batch_size=batch_size, shuffle=True, seed=seed)
        validation = None if val is None else detection_dataset(*val, batch_size=batch_size)
        fitted = model.fit(
            data, epochs=epochs, validation_data=validation, shuffle=False, callbacks=list(callbacks), verbose=verbose
        )
        return {key: [float(v) for v in values] for key, values in fitted.history.items()}

    def finalize(self, model: keras.Model) -> keras.Model:
        """The detector with the class names kept in its configuration (saved with it)."""
        if self.class_names and _is_detector(model):
            model.class_names = tuple(self.class_names)
        return model

    def evaluate(self, model: keras.Model, x: np.ndarray, y: list) -> DetectionReport:
        from keras_geo.detection.evaluate import coco_evaluate

        found = predict_detections(model, x)
        scores = coco_evaluate(
            y,
            found,
            class_names=self.class_names or None,
            image_sizes=x.shape[1:3],
            max_detections=self.max_detections,
            per_class=self.per_class,
        )
        return DetectionReport(self.class_names, scores, len(x))

    def sample_section(self, model: keras.Model, dataset: Any, out_dir: Path, *, trial: str) -> tuple[str, str] | None:
        """Detections of the best model on up to 8 validation images (ground truth in white), and its scores."""
        import cv2

        from keras_geo.detection.draw import draw_boxes

        x, y = self.check_split("val", dataset["val"])
        shown = min(8, len(x))
        found = predict_detections(model, x[:shown])
        scale = max(1, 256 // max(x.shape[1:3]))
        tiles = [
            draw_boxes(x[i], found[i], class_names=self.class_names, truth=y[i], min_score=0.3, scale=scale)
            for i in range(shown)
        ]
        columns = min(4, shown)
        blank = np.zeros_like(tiles[0])
        rows = [np.concatenate((tiles + [blank] * columns)[r : r + columns], axis=1) for r in range(0, shown, columns)]
        path = Path(out_dir) / "detections_best.png"
        cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
        report = self.evaluate(model, x, y)
        text = (
            f"The best model ({trial}) on {shown} validation images: its detections with a score of at least 0.3 "
            "(class and score), the ground truth in white. COCO scores on all "
            f"{len(x)} validation images:\n\n{report.table()}\n\n![Detections of the best model]({path.name})"
        )
        return "Detections of the best model", text


def _is_detector(model: keras.Model) -> bool:
    from keras_geo.detection.model import TwoStageDetector

    return isinstance(model, TwoStageDetector)
