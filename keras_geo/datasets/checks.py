"""Checks every data set passes before any training: no NaN or infinite value reaches a model.

Some CPU kernels of TensorFlow turn NaN into a number and others propagate it, so a
model trained on NaN data may report a finite loss on one machine and NaN on another.
Data with NaN or inf is therefore refused before training, on every machine alike,
with one line naming the split and how many values are affected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["NonFiniteData", "count_non_finite", "require_finite"]


class NonFiniteData(ValueError):
    """A split holds NaN or infinite values (the message names the split and the counts)."""


def count_non_finite(array: Any) -> tuple[int, int]:
    """``(values, samples)``: how many values of ``array`` are NaN or infinite, and in how many samples.

    Integer and boolean arrays hold no such values: ``(0, 0)`` without looking.
    """
    array = np.asarray(array)
    if array.size == 0 or not np.issubdtype(array.dtype, np.inexact):
        return 0, 0
    bad = ~np.isfinite(array)
    values = int(np.count_nonzero(bad))
    if not values:
        return 0, 0
    samples = int(np.count_nonzero(bad.reshape(len(array), -1).any(axis=1))) if array.ndim else 1
    return values, samples


def require_finite(splits: Mapping[str, Any]) -> None:
    """Refuses a data set whose inputs or targets hold NaN or infinite values.

    Args:
        splits: ``{"train": (x, y), "val": (x, y), ...}``; a split may be None (absent).

    Raises:
        NonFiniteData: naming the first bad split, its part (inputs or targets), the number of
            non-finite values and of samples holding them.
    """
    for name, split in splits.items():
        if split is None:
            continue
        for part, array in zip(("inputs", "targets"), split):
            values, samples = count_non_finite(array)
            if values:
                raise NonFiniteData(
                    f"the {name!r} split has {values:,} non-finite values (NaN or inf) in its {part}, in "
                    f"{samples:,} of {len(np.asarray(array)):,} samples; clean or drop them before training"
                )
