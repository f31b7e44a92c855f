"""The two-stage detector of :mod:`keras_geo.detection.model`, registered as the builder ``two_stage_detector``.

The detector lives in :mod:`keras_geo.detection`, and is imported when the builder is
called: ``import keras_geo`` imports :mod:`keras_geo.detection.model` (its registered Keras
classes) the moment Keras loads, which may be while this package is being imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keras_geo.models._registry import register

__all__ = ["build_two_stage_detector"]


@register("two_stage_detector", tasks=("detection",))
def build_two_stage_detector(
    input_shape: Sequence[int] = (192, 192, 3),
    n_classes: int = 6,
    *,
    backbone: str = "small",
    backbone_width: int = 16,
    fpn_channels: int = 64,
    strides: Sequence[int] = (8, 16, 32),
    **settings: Any,
):
    """A two-stage detector: :func:`keras_geo.detection.model.build_two_stage_detector` (same arguments)."""
    from keras_geo.detection import model

    return model.build_two_stage_detector(
        input_shape,
        n_classes,
        backbone=backbone,
        backbone_width=backbone_width,
        fpn_channels=fpn_channels,
        strides=strides,
        **settings,
    )
