"""Tasks: what a model learns from a data set (classification, regression, image-to-image, detection).

    >>> from keras_geo import tasks
    >>> tasks.available()
    ['classification', 'detection', 'image_to_image', 'regression']
    >>> task = tasks.get("regression", loss="huber")
    >>> task.objective
    ('val_r2', 'maximize')

A task owns target preparation, loss and metrics by name, the head arguments it
gives a builder, evaluation into a JSON report, its default objective, and the
report's sample section (:class:`Task`). Adding one is a module with a
:class:`Task` subclass plus its line in :data:`TASKS`.
"""

from __future__ import annotations

from typing import Any

from keras_geo import _settings
from keras_geo.tasks._base import Report, Task, as_inputs, predict_batches
from keras_geo.tasks.classification import Classification, ClassReport, evaluate_classes
from keras_geo.tasks.detection import Detection, DetectionReport
from keras_geo.tasks.image_to_image import ImageReport, ImageToImage
from keras_geo.tasks.regression import Regression, RegressionReport

__all__ = [
    "TASKS",
    "ClassReport",
    "Classification",
    "Detection",
    "DetectionReport",
    "ImageReport",
    "ImageToImage",
    "Regression",
    "RegressionReport",
    "Report",
    "Task",
    "as_inputs",
    "available",
    "evaluate_classes",
    "get",
    "predict_batches",
    "settings_of",
    "validate_settings",
]

TASKS: dict[str, type[Task]] = {
    Classification.name: Classification,
    Regression.name: Regression,
    ImageToImage.name: ImageToImage,
    Detection.name: Detection,
}
"""Task classes by name."""


def available() -> list[str]:
    """Names of the tasks, sorted."""
    return sorted(TASKS)


def _class(name: str) -> type[Task]:
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise KeyError(f"Unknown task {name!r}. Available: {', '.join(available())}.") from None


def settings_of(name: str) -> dict[str, Any]:
    """The settings of task ``name`` with their defaults."""
    return _settings.defaults(_class(name))


def validate_settings(name: str, settings: Any, *, key: str = "task") -> dict[str, Any]:
    """The settings of task ``name`` checked against its signature, defaults filled in.

    Raises:
        keras_geo._settings.SettingError: naming the first bad setting (``task.loss: ...``).
    """
    return _settings.validate(_class(name), settings, key=key)


def get(name: str, **settings: Any) -> Task:
    """A new task called ``name`` with ``settings`` (e.g. ``get("image_to_image", loss="ssim")``)."""
    return _class(name)(**settings)
