"""The task interface: what a model learns from a data set, and how it is scored.

:func:`keras_geo.training.train` knows no task: it runs

    reset -> task.start(train split) -> build(**task.head_arguments()) -> task.compile
          -> task.fit -> task.finalize -> task.evaluate (each split)

and a task fills each step. A task owns how targets are checked and prepared, the
loss and metrics (chosen by name in its settings), the arguments it gives a builder
for the model's head, the evaluation into a JSON-able report, its default objective
metric, and the report's sample section (Grad-CAM for classifiers, residuals for
regression, restored strips for image-to-image).

A task's settings are the keyword arguments of its ``__init__``, with their defaults
(the one place they live); a configuration's ``task:`` section sets them and a
search space may search them like training settings. A task instance carries what it
learned from the training split (class count, target scaling), so every training
uses a fresh one (:meth:`Task.fresh`).

Detection will fill the same interface: its targets are per-image lists of boxes
(:meth:`Task.check_split` accepts them), its model brings its own ``train_step``
(:meth:`Task.compile` sets only the optimizer), :meth:`Task.fit` feeds a ``tf.data``
pipeline of variable-length targets instead of arrays, and :meth:`Task.evaluate`
computes COCO mAP.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np

__all__ = ["Report", "Task", "as_inputs", "predict_batches", "unpack"]


def unpack(split: Any, name: str, what: str) -> tuple[Any, Any]:
    """``(inputs, targets)`` of a split; a ValueError naming the split and ``what`` it must be otherwise."""
    try:
        x, y = split
    except (TypeError, ValueError):
        raise ValueError(f"data[{name!r}] must be a pair {what} of arrays. Received: {type(split).__name__}") from None
    return x, y


def as_inputs(x: Any, name: str) -> np.ndarray:
    """Inputs as an array, at least one sample; a stack of grey images ``(N, H, W)`` gets its channel axis."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim < 1 or len(x) == 0:
        raise ValueError(f"data[{name!r}] needs at least one input. Received shape: {x.shape}")
    return x


def predict_batches(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for ``x``, by eager calls in batches.

    Not ``model.predict``: predict traces a new tf.function for every model, and a search
    evaluates hundreds of models (TensorFlow warns of retracing and keeps the graphs).
    """
    return np.concatenate(
        [keras.ops.convert_to_numpy(model(x[i : i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    )


class Report(ABC):
    """What a task's evaluation of one split gives: scalar metrics and a JSON form."""

    @abstractmethod
    def scalars(self, split: str) -> dict[str, float]:
        """The metrics named for ``split`` (``{"val_accuracy": 0.93}``), for the trial's metrics."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (stored with the trial)."""


class Task(ABC):
    """What is learned: one subclass per kind of target. See the module docstring for the steps."""

    name: ClassVar[str]
    objective: ClassVar[tuple[str, str]]
    """The default objective: ``(metric, direction)``, e.g. ``("val_accuracy", "maximize")``."""
    head_keys: ClassVar[tuple[str, ...]]
    """The builder arguments :meth:`head_arguments` sets (a configuration may not set them)."""

    # ------------------------------------------------------------------ settings --
    @property
    def settings(self) -> dict[str, Any]:
        """The task's settings (its ``__init__`` keywords) as given or defaulted."""
        names = [p.name for p in inspect.signature(type(self).__init__).parameters.values() if p.kind == p.KEYWORD_ONLY]
        return {name: getattr(self, name) for name in names}

    def fresh(self, **overrides: Any) -> Task:
        """A new instance with the same settings (some overridden), before any training."""
        return type(self)(**{**self.settings, **overrides})

    # ------------------------------------------------------------------- targets --
    @abstractmethod
    def check_split(self, name: str, split: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs, targets)`` of one split as arrays, checked (a ValueError names the split)."""

    @abstractmethod
    def start(self, x: np.ndarray, y: np.ndarray, dataset: Any = None) -> None:
        """Learns what the task needs from the training split (class count, target scaling).

        Args:
            x: Training inputs.
            y: Training targets (checked).
            dataset: The :class:`~keras_geo.datasets.Dataset` (or mapping) they came from,
                for its class or target names.
        """

    def fit_targets(self, y: np.ndarray) -> np.ndarray:
        """The targets as the loss sees them (one-hot, standardised, ...). Defaults to as is."""
        return y

    # --------------------------------------------------------------------- model --
    @abstractmethod
    def head_arguments(self) -> dict[str, Any]:
        """Builder keyword arguments for the model's output (after :meth:`start`)."""

    @abstractmethod
    def compile(self, model: keras.Model, optimizer: keras.optimizers.Optimizer, hparams: Mapping[str, Any]) -> None:
        """Compiles ``model`` with the task's loss and metrics."""

    def fit(
        self,
        model: keras.Model,
        train: tuple[np.ndarray, np.ndarray],
        val: tuple[np.ndarray, np.ndarray] | None,
        *,
        batch_size: int,
        epochs: int,
        callbacks: Sequence[keras.callbacks.Callback],
        verbose: int | str,
    ) -> dict[str, list[float]]:
        """Fits the model on arrays (targets through :meth:`fit_targets`); the per-epoch history."""
        x, y = train
        fitted = model.fit(
            x,
            self.fit_targets(y),
            batch_size=batch_size,
            epochs=epochs,
            validation_data=None if val is None else (val[0], self.fit_targets(val[1])),
            shuffle=True,
            callbacks=list(callbacks),
            verbose=verbose,
        )
        return {key: [float(v) for v in values] for key, values in fitted.history.items()}

    def finalize(self, model: keras.Model) -> keras.Model:
        """The trained model as users get it (e.g. back in the targets' units). Defaults to as is."""
        return model

    # ---------------------------------------------------------------- evaluation --
    @abstractmethod
    def evaluate(self, model: keras.Model, x: np.ndarray, y: np.ndarray) -> Report:
        """Scores a finalised model on one split."""

    def sample_section(self, model: keras.Model, dataset: Any, out_dir: Path, *, trial: str) -> tuple[str, str] | None:
        """A report section showing the model at work on validation samples: ``(title, markdown)``.

        Images it draws go into ``out_dir``, named ``*_best.png`` (the report replaces an
        earlier report's by that pattern), and are linked by file name. Defaults to none.
        """
        return None

    def describe(self) -> str:
        """One line for listings: the task and its settings."""
        settings = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"{self.name}({settings})"
