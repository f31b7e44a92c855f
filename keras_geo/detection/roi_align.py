"""RoIAlign over the levels of a feature pyramid (He et al., Mask R-CNN, 2017), in ``keras.ops``.

Each region of interest is read from one level of the pyramid, chosen by its size as in
the FPN paper (Lin et al., 2017, eq. 1): ``level = floor(canonical_level + log2(sqrt(w h)
/ canonical_size))``, clipped to the levels there are. The box is cut into
``output_size`` x ``output_size`` bins; each bin averages ``sampling_ratio``² points
read by bilinear interpolation, with Detectron2's half-pixel alignment (pixel ``i`` of a
level of stride ``s`` covers ``[i s, (i + 1) s)`` of the image). Points outside the
feature map take the value of its nearest edge.

The reading is a gather (``keras.ops.take``), so its gradient is a scatter-add with a
deterministic implementation on GPUs too (TensorFlow's ``crop_and_resize`` has none for
its image gradient, and refuses to run under op determinism).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import ops

__all__ = ["RoIAlign", "assign_levels"]


def assign_levels(boxes, strides: Sequence[int], canonical_size: float, canonical_level: int):
    """The index (0-based, into ``strides``) of the pyramid level each box is read from.

    Args:
        boxes: ``(..., 4)`` boxes in pixels.
        strides: The levels' strides, finest first (powers of 2: level ``log2(stride)``).
        canonical_size: The box side read from ``canonical_level``.
        canonical_level: The level (``log2`` of its stride) of a box of ``canonical_size``.

    Returns:
        int32 ``(...)`` indices into ``strides``.
    """
    levels = [round(math.log2(int(s))) for s in strides]
    widths = ops.maximum(boxes[..., 2] - boxes[..., 0], 1e-6)
    heights = ops.maximum(boxes[..., 3] - boxes[..., 1], 1e-6)
    side = ops.sqrt(widths * heights)
    level = ops.floor(canonical_level + ops.log(side / canonical_size) / math.log(2.0))
    level = ops.clip(level, levels[0], levels[-1])
    return ops.cast(level - levels[0], "int32")


@keras.saving.register_keras_serializable(package="keras_geo")
class RoIAlign(keras.layers.Layer):
    """Fixed-size features of boxes, read from the feature-pyramid level their size calls for.

    Call it on ``(features, boxes)``: ``features`` a list of ``(batch, rows_l, columns_l,
    channels)`` maps, finest first, one per stride of ``strides``; ``boxes`` ``(batch,
    n_boxes, 4)`` in pixels of the image. It returns ``(batch, n_boxes, output_size,
    output_size, channels)``.

    Args:
        strides: The levels' strides in pixels, finest first, powers of 2 and consecutive
            levels doubling. Defaults to `(8, 16, 32)`.
        output_size: Bins per side. Defaults to `7`.
        sampling_ratio: Points per bin side. Defaults to `2`.
        canonical_size: The box side read from ``canonical_level``. Defaults to `224` (the
            FPN paper's ImageNet size); smaller images may want their own.
        canonical_level: ``log2`` of the stride a box of ``canonical_size`` is read from.
            Defaults to `4`.
    """

    def __init__(
        self,
        strides: Sequence[int] = (8, 16, 32),
        output_size: int = 7,
        sampling_ratio: int = 2,
        canonical_size: float = 224.0,
        canonical_level: int = 4,
        **kwargs,
    ):
        super().__init__(**kwargs)
        strides = tuple(int(s) for s in strides)
        if (
            not strides
            or any(s < 1 or s & (s - 1) for s in strides)
            or any(b != 2 * a for a, b in zip(strides, strides[1:]))
        ):
            raise ValueError(
                f"`strides` must be powers of 2, finest first, each level twice the last. Received: strides={strides}"
            )
        for name, value in (("output_size", output_size), ("sampling_ratio", sampling_ratio)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1. Received: {name}={value!r}")
        if not float(canonical_size) > 0:
            raise ValueError(f"`canonical_size` must be positive. Received: canonical_size={canonical_size!r}")
        self.strides = strides
        self.output_size = int(output_size)
        self.sampling_ratio = int(sampling_ratio)
        self.canonical_size = float(canonical_size)
        self.canonical_level = int(canonical_level)

    def _read(self, feature, boxes, stride: int):
        """Bilinear RoIAlign of ``boxes`` (batch, n, 4) from one level (batch, rows, cols, channels)."""
        shape = ops.shape(feature)
        batch, rows, cols, channels = shape[0], shape[1], shape[2], shape[3]
        n = ops.shape(boxes)[1]
        points = self.output_size * self.sampling_ratio
        # Box corners in the level's continuous coordinates, half-pixel aligned.
        scaled = boxes / float(stride) - 0.5
        x0, y0, x1, y1 = (scaled[..., i : i + 1] for i in range(4))  # (batch, n, 1)
        steps = (ops.arange(points, dtype=boxes.dtype) + 0.5) / points  # (points,)
        ys = y0 + (y1 - y0) * steps  # (batch, n, points)
        xs = x0 + (x1 - x0) * steps
        rows_f, cols_f = ops.cast(rows, boxes.dtype), ops.cast(cols, boxes.dtype)
        ys = ops.clip(ys, 0.0, rows_f - 1.0)
        xs = ops.clip(xs, 0.0, cols_f - 1.0)
        y_low, x_low = ops.floor(ys), ops.floor(xs)
        wy, wx = ys - y_low, xs - x_low  # weights of the upper neighbours
        y_low, x_low = ops.cast(y_low, "int32"), ops.cast(x_low, "int32")
        y_high = ops.minimum(y_low + 1, rows - 1)
        x_high = ops.minimum(x_low + 1, cols - 1)
        flat = ops.reshape(feature, (-1, channels))
        offset = ops.reshape(ops.arange(batch, dtype="int32") * rows * cols, (-1, 1, 1, 1))

        def gather(y, x):
            index = offset + y[:, :, :, None] * cols + x[:, :, None, :]  # (batch, n, points, points)
            return ops.reshape(ops.take(flat, ops.reshape(index, (-1,)), axis=0), (batch, n, points, points, channels))

        wy, wx = wy[:, :, :, None, None], wx[:, :, None, :, None]
        value = (
            gather(y_low, x_low) * (1.0 - wy) * (1.0 - wx)
            + gather(y_low, x_high) * (1.0 - wy) * wx
            + gather(y_high, x_low) * wy * (1.0 - wx)
            + gather(y_high, x_high) * wy * wx
        )
        ratio = self.sampling_ratio
        value = ops.reshape(value, (batch, n, self.output_size, ratio, self.output_size, ratio, channels))
        return ops.mean(value, axis=(3, 5))

    def call(self, features, boxes):
        if not isinstance(features, list | tuple) or len(features) != len(self.strides):
            raise ValueError(
                f"RoIAlign of {len(self.strides)} levels needs {len(self.strides)} feature maps. "
                f"Received: {len(features) if isinstance(features, list | tuple) else 'one tensor'}"
            )
        boxes = ops.cast(boxes, features[0].dtype)
        if len(features) == 1:
            return self._read(features[0], boxes, self.strides[0])
        level = assign_levels(boxes, self.strides, self.canonical_size, self.canonical_level)
        out = 0.0
        for index, (feature, stride) in enumerate(zip(features, self.strides)):
            chosen = ops.cast(ops.equal(level, index), feature.dtype)[:, :, None, None, None]
            out = out + chosen * self._read(feature, boxes, stride)
        return out

    def compute_output_shape(self, features_shape, boxes_shape):
        first = features_shape[0]
        return (first[0], boxes_shape[1], self.output_size, self.output_size, first[-1])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "strides": list(self.strides),
            "output_size": self.output_size,
            "sampling_ratio": self.sampling_ratio,
            "canonical_size": self.canonical_size,
            "canonical_level": self.canonical_level,
        }
