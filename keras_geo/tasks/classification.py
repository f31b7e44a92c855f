"""Single-label classification: integer labels, cross-entropy, accuracy, and the per-class table.

Correct answers per class out of N is the form of the filler study's Table 1
(:class:`ClassReport`). The report's sample section is a Grad-CAM grid of the best
model on validation images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_geo.tasks._base import Report, Task, as_inputs, predict_batches, unpack

__all__ = ["ClassReport", "Classification", "evaluate_classes"]


@dataclass
class ClassReport(Report):
    """Correct answers per class, the form of the filler study's Table 1.

    Attributes:
        class_names: Name of each class, in label order.
        confusion: ``(n, n)`` counts; row = true class, column = predicted class.
    """

    class_names: tuple[str, ...]
    confusion: np.ndarray

    @property
    def correct(self) -> np.ndarray:
        """Correct answers per class (the confusion matrix's diagonal)."""
        return np.diag(self.confusion)

    @property
    def totals(self) -> np.ndarray:
        """Number of images per class."""
        return self.confusion.sum(axis=1)

    @property
    def accuracy(self) -> float:
        """Overall fraction of correct answers."""
        total = int(self.confusion.sum())
        return float(self.correct.sum() / total) if total else float("nan")

    def scalars(self, split: str) -> dict[str, float]:
        return {f"{split}_accuracy": self.accuracy}

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (for stores and reports)."""
        return {
            "class_names": list(self.class_names),
            "correct": [int(c) for c in self.correct],
            "totals": [int(t) for t in self.totals],
            "confusion": self.confusion.astype(int).tolist(),
            "accuracy": self.accuracy,
        }

    def table(self, title: str = "") -> str:
        """A Markdown table: correct answers per class out of N, and overall accuracy."""
        header = "| " + " | ".join(["", *self.class_names, "accuracy"]) + " |"
        rule = "|" + "---|" * (len(self.class_names) + 2)
        cells = [f"{c} / {t}" for c, t in zip(self.correct, self.totals)]
        row = "| " + " | ".join([title or "correct", *cells, f"{self.accuracy:.1%}"]) + " |"
        return "\n".join([header, rule, row])


def _labels(y: Any, n: int, name: str) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if len(y) != n:
        raise ValueError(
            f"data[{name!r}] needs as many labels as images, at least one. Received: {n} images, {len(y)} labels"
        )
    return y


def evaluate_classes(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str] | None = None,
    *,
    batch_size: int = 256,
) -> ClassReport:
    """Predicts ``x`` and counts correct answers per class.

    Args:
        model: A classifier with a softmax (or logits) output.
        x: Images, ``(N, H, W, C)`` (or ``(N, H, W)`` for grey images).
        y: Integer labels, ``(N,)``.
        class_names: Names in label order. Defaults to `"0"`, `"1"`, ...
        batch_size: Prediction batch size. Defaults to `256`.
    """
    x = as_inputs(x, "evaluation")
    y = _labels(y, len(x), "evaluation")
    n_classes = int(model.output_shape[-1])
    names = tuple(class_names) if class_names is not None else tuple(str(i) for i in range(n_classes))
    if len(names) != n_classes:
        raise ValueError(
            f"`class_names` has {len(names)} names for a model with {n_classes} outputs. Received: class_names={names}"
        )
    predicted = np.argmax(predict_batches(model, x, batch_size), axis=-1)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (y.astype(np.int64), predicted), 1)
    return ClassReport(names, confusion)


class Classification(Task):
    """Single-label classification: one integer label per image.

    The loss is sparse categorical cross-entropy; with a non-zero ``label_smoothing``
    training setting (Keras' sparse loss has none) the labels are one-hot encoded and
    the loss is ``CategoricalCrossentropy(label_smoothing=...)``. Both are built-in
    losses, so a saved model loads anywhere. The builder gets ``n_classes`` and a
    softmax output. Default objective: ``val_accuracy``, maximised.
    """

    name = "classification"
    objective = ("val_accuracy", "maximize")
    head_keys = ("n_classes",)

    def __init__(self) -> None:
        self.class_names: tuple[str, ...] | None = None
        self.n_classes = 0
        self._smoothing = 0.0

    def check_split(self, name: str, split: Any) -> tuple[np.ndarray, np.ndarray]:
        x, y = unpack(split, name, "(images, labels)")
        x = np.asarray(x)
        n = len(x) if x.ndim else 0
        y = _labels(y, n, name)
        if n == 0:
            raise ValueError(
                f"data[{name!r}] needs as many labels as images, at least one. Received: 0 images, {len(y)} labels"
            )
        return as_inputs(x, name), y

    def start(self, x: np.ndarray, y: np.ndarray, dataset: Any = None) -> None:
        names = getattr(dataset, "class_names", None)
        self.class_names = tuple(names) if names is not None else None
        self.n_classes = len(self.class_names) if self.class_names is not None else int(y.max()) + 1

    def head_arguments(self) -> dict[str, Any]:
        return {"n_classes": self.n_classes}

    def compile(self, model: keras.Model, optimizer: keras.optimizers.Optimizer, hparams: Mapping[str, Any]) -> None:
        self._smoothing = float(hparams.get("label_smoothing", 0.0) or 0.0)
        if self._smoothing:
            loss = keras.losses.CategoricalCrossentropy(label_smoothing=self._smoothing)
        else:
            loss = keras.losses.SparseCategoricalCrossentropy()
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])

    def fit_targets(self, y: np.ndarray) -> np.ndarray:
        return keras.utils.to_categorical(y, self.n_classes) if self._smoothing else y

    def evaluate(self, model: keras.Model, x: np.ndarray, y: np.ndarray) -> ClassReport:
        return evaluate_classes(model, x, y, self.class_names, batch_size=256)

    def sample_section(self, model: keras.Model, dataset: Any, out_dir: Path, *, trial: str) -> tuple[str, str] | None:
        """Grad-CAM overlays of two validation images per class (the last convolutional layer)."""
        from keras_geo import explain

        x, y = dataset["val"]
        names = getattr(dataset, "class_names", None)
        chosen = explain.pick_per_class(y, per_class=2)
        explained = explain.explain_to_files(
            model,
            x[chosen],
            out_dir,
            class_names=names,
            true_labels=y[chosen],
            grid_name="gradcam_best.png",
            grid_rows=len(chosen),
            overlays=False,
            title=f"Grad-CAM of the best model ({trial})",
        )
        correct = sum(int(p == t) for p, t in zip(explained.predicted, y[chosen]))
        text = (
            f"Two validation images per class through the best model ({trial}), {correct} of {len(chosen)} "
            "classified correctly. Each row: the image, the Grad-CAM heatmap of the predicted class (last "
            "convolutional layer, red = the regions that raise the class score most), and the two blended.\n\n"
            f"![Grad-CAM of the best model]({explained.grid.name})"
        )
        return "Grad-CAM of the best model", text
