"""Your own arrays: an ``.npz`` file with the splits, read without pickle.

The file holds ``x_train``, ``y_train``, ``x_val``, ``y_val`` and optionally
``x_test``, ``y_test``, ``class_names`` (classification) or ``target_names``
(regression). What the targets are decides the data set's default task: images
(``y`` of rank 3 or more) are image-to-image pairs, non-integer numbers are
regression targets, integer labels are classes. A configuration's ``task:``
section may name the task explicitly.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from keras_geo._settings import Exists
from keras_geo.datasets._registry import Dataset, register

__all__ = ["npz", "target_kind"]

_REQUIRED = ("x_train", "y_train", "x_val", "y_val")


def target_kind(y: np.ndarray) -> str:
    """The task targets ``y`` suggest: ``"image_to_image"``, ``"regression"`` or ``"classification"``."""
    y = np.asarray(y)
    if y.ndim >= 3:
        return "image_to_image"
    if np.issubdtype(y.dtype, np.inexact) and (y.ndim == 2 and y.shape[1] > 1 or not np.all(np.mod(y, 1) == 0)):
        return "regression"
    return "classification"


@register("npz", task="classification")
def npz(path: Annotated[str, Exists("file")]) -> Dataset:
    """Your own arrays: an .npz file with x_train, y_train, x_val, y_val (x_test, y_test optional)."""
    with np.load(path, allow_pickle=False) as arrays:
        missing = [k for k in _REQUIRED if k not in arrays]
        if missing:
            raise ValueError(f"{path} lacks the arrays {missing}")
        splits = {"train": (arrays["x_train"], arrays["y_train"]), "val": (arrays["x_val"], arrays["y_val"])}
        if "x_test" in arrays and "y_test" in arrays:
            splits["test"] = (arrays["x_test"], arrays["y_test"])
        kind = target_kind(arrays["y_train"])
        class_names = target_names = None
        if kind == "classification":
            n_classes = int(max(int(np.max(y)) for _, y in splits.values())) + 1
            class_names = (
                tuple(str(n) for n in arrays["class_names"])
                if "class_names" in arrays
                else tuple(str(i) for i in range(n_classes))
            )
        elif kind == "regression" and "target_names" in arrays:
            target_names = tuple(str(n) for n in arrays["target_names"])
    return Dataset(splits, task=kind, class_names=class_names, target_names=target_names)
