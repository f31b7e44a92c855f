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
    """A :class:`~keras_geo.detection.model.TwoStageDetector` on :func:`~keras_geo.detection.model.pyramid_features`.

    Args:
        input_shape: ``(height, width, channels)`` of the images. Defaults to `(192, 192, 3)`.
        n_classes: Object classes. Defaults to `6` (the ``scenes`` data set).
        backbone: ``"small"`` or a residual network of :mod:`keras_geo.models` (see
            :func:`~keras_geo.detection.model.pyramid_features`). Defaults to `"small"`.
        backbone_width: Filters of the small backbone's first stages. Defaults to `16`.
        fpn_channels: Channels of every pyramid level. Defaults to `64`.
        strides: The pyramid levels' strides. Defaults to `(8, 16, 32)`.
        **settings: The other :class:`~keras_geo.detection.model.TwoStageDetector` arguments
            (``relation``, ``rois``, ``anchor_scale``, ...).
    """
    from keras_geo.detection.model import TwoStageDetector, pyramid_features

    features = pyramid_features(
        input_shape, backbone=backbone, backbone_width=backbone_width, fpn_channels=fpn_channels, strides=strides
    )
    return TwoStageDetector(features, n_classes, strides=strides, **settings)
