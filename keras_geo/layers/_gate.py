"""The Gate Module of SkipResNet (report 003): a residual block's learned, per-input mix of earlier outputs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

__all__ = ["GateModule", "gate_inbounds", "gate_width"]

_NORMALIZATIONS = ("batch", "layer")


def gate_inbounds(index: int) -> list[int]:
    """Which tensors of its stage feed block ``index`` (0-based) through its gate.

    A stage keeps the list ``xs``: ``xs[0]`` is the stage's input (after its
    downsampling, i.e. the first block's shortcut) and ``xs[k]`` the output of block
    ``k - 1``. Block ``j`` receives

        ``xs[j + 1 - 2**k]`` for ``k = 0, 1, ..., floor(log2(j + 1))``,

    nearest first: its own input (``k = 0``, ResNet's shortcut) and the inputs of the
    blocks 1, 3, 7, ... before it, ``floor(log2(j + 1)) + 1`` tensors in all. Block 0
    gets its shortcut only; block 6 gets ``xs[6], xs[5], xs[3]``; block 7 ``xs[7], xs[6], xs[4], xs[0]``.
    This is the rule of the reference implementation (``takedarts/skipresnet``,
    ``SkipJunction``), where earlier blocks never reach across a stage boundary.

    Raises:
        ValueError: if ``index`` is not an integer >= 0.
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"`index` must be an integer >= 0. Received: index={index!r}")
    return [index + 1 - 2**k for k in range((index + 1).bit_length())]


def gate_width(channels: int, reduction: float, divisor: int = 8) -> int:
    """Width of the gate's hidden layer: ``divisor * ceil(max(floor(channels / reduction), 1) / divisor)``.

    ``channels // reduction`` rounded up to a multiple of ``divisor`` (8 in the
    reference), at least ``divisor``: 64 channels at ratio 8 give 8, 2048 give 256.
    """
    return int(divisor * math.ceil(max(int(channels // reduction), 1) / divisor))


def _positive(name: str, value: Any, *, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0 or not math.isfinite(value):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"`{name}` must be {kind} > 0. Received: {name}={value!r}")


@keras.saving.register_keras_serializable(package="keras_geo")
class GateModule(keras.layers.Layer):
    """SkipResNet's Gate Module: merges a block's residual ``y`` with earlier tensors ``x_1..x_n`` of its stage.

    Where ResNet adds ``y + x_1`` (``x_1`` the shortcut), the gate computes, per input
    image and channel ``c``,

        ``out = sigmoid(a_0) * y + sum_i softmax_i(a_1..a_n) * x_i``

    with the logits ``a`` from a squeeze-and-excitation-like branch on all inputs:
    ``a = W_2 act(norm(W_1 mean_hw(concat(y, x_1..x_n)))) + b_2``, ``W_1`` of
    ``(1 + n) C -> F`` (no bias), ``W_2`` of ``F -> (1 + n) C``, and
    ``F = gate_width(C, reduction, divisor)``. So the block decides how much of its own
    output to keep (the sigmoid) and how to share the shortcut among the earlier
    tensors (the softmax over ``i``, which sums to 1 per channel). With one earlier
    tensor (``n = 1``, the first block of a stage) the softmax is 1: ``sigmoid * y + x_1``.
    Which tensors feed which block is :func:`gate_inbounds`.

    Per family (the reference's choice): ResNet and ResNeXt use batch normalisation
    (epsilon 1e-5) and ReLU; ConvNeXt layer normalisation (epsilon 1e-6) and GELU.
    The sigmoid and the softmax run in float32 under a mixed-precision policy.

    Call it on a list ``[y, x_1, ..., x_n]`` of tensors of one shape
    ``(batch, height, width, C)``; it returns that shape.

    Args:
        reduction: The ratio ``C / F`` of the hidden layer (8 for ImageNet-size
            networks, 2 for the CIFAR ResNet-110 in the reference). Defaults to `8`.
        divisor: ``F`` is rounded up to a multiple of this. Defaults to `8`.
        normalization: ``"batch"`` or ``"layer"``. Defaults to `"batch"`.
        activation: The hidden layer's activation (a Keras name). Defaults to `"relu"`.
        epsilon: The normalisation's epsilon. Defaults to `1e-5` for batch
            normalisation and `1e-6` for layer normalisation.
        momentum: Momentum of batch normalisation's moving statistics. Defaults to `0.9`.
        **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).
    """

    def __init__(
        self,
        reduction: float = 8,
        divisor: int = 8,
        normalization: str = "batch",
        activation: str = "relu",
        epsilon: float | None = None,
        momentum: float = 0.9,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _positive("reduction", reduction)
        _positive("divisor", divisor, integer=True)
        if normalization not in _NORMALIZATIONS:
            raise ValueError(
                f"`normalization` must be one of {', '.join(_NORMALIZATIONS)}. Received: normalization={normalization!r}"
            )
        try:
            keras.activations.get(activation)
        except (ValueError, TypeError):
            raise ValueError(
                f"`activation` must be a Keras activation name. Received: activation={activation!r}"
            ) from None
        if epsilon is None:
            epsilon = 1e-5 if normalization == "batch" else 1e-6
        _positive("epsilon", epsilon)
        self.reduction = reduction
        self.divisor = int(divisor)
        self.normalization = normalization
        self.activation = activation
        self.epsilon = float(epsilon)
        self.momentum = float(momentum)
        self.supports_masking = False

    def build(self, input_shape: Sequence[Sequence[int | None]]) -> None:
        shapes = [tuple(shape) for shape in input_shape] if isinstance(input_shape, (list, tuple)) else []
        if len(shapes) < 2 or not all(len(shape) == 4 for shape in shapes):
            raise ValueError(
                "GateModule takes a list [y, x_1, ..., x_n] of at least two 4-D tensors "
                f"(batch, height, width, channels). Received shapes: {input_shape}"
            )
        channels = {shape[-1] for shape in shapes}
        if len(channels) != 1 or None in channels:
            raise ValueError(f"GateModule's inputs must have one known number of channels. Received shapes: {shapes}")
        self.channels = int(shapes[0][-1])
        self.inbounds = len(shapes) - 1
        width = gate_width(self.channels, self.reduction, self.divisor)
        policy = self.dtype_policy
        self.squeeze = keras.layers.Dense(width, use_bias=False, dtype=policy, name="squeeze")
        if self.normalization == "batch":
            self.norm = keras.layers.BatchNormalization(
                epsilon=self.epsilon, momentum=self.momentum, dtype=policy, name="norm"
            )
        else:
            self.norm = keras.layers.LayerNormalization(epsilon=self.epsilon, dtype=policy, name="norm")
        self.excite = keras.layers.Dense((1 + self.inbounds) * self.channels, dtype=policy, name="excite")
        total = (1 + self.inbounds) * self.channels
        self.squeeze.build((None, total))
        self.norm.build((None, width))
        self.excite.build((None, width))

    def call(self, inputs: Sequence[Any], training: bool | None = None) -> Any:
        y, xs = inputs[0], list(inputs[1:])
        pooled = ops.concatenate([ops.mean(t, axis=(1, 2)) for t in inputs], axis=-1)
        hidden = self.squeeze(pooled)
        hidden = self.norm(hidden, training=training)
        hidden = keras.activations.get(self.activation)(hidden)
        logits = ops.reshape(self.excite(hidden), (-1, 1 + self.inbounds, self.channels))
        logits = ops.cast(logits, "float32")  # the sigmoid and softmax in float32 under mixed precision
        keep = ops.cast(ops.sigmoid(logits[:, 0, :]), y.dtype)
        out = y * keep[:, None, None, :]
        if len(xs) == 1:  # a softmax over one tensor is 1
            return out + xs[0]
        share = ops.cast(ops.softmax(logits[:, 1:, :], axis=1), y.dtype)
        for i, x in enumerate(xs):
            out = out + x * share[:, i, None, None, :]
        return out

    def compute_output_shape(self, input_shape: Sequence[Sequence[int | None]]) -> tuple[int | None, ...]:
        return tuple(input_shape[0])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "reduction": self.reduction,
                "divisor": self.divisor,
                "normalization": self.normalization,
                "activation": self.activation,
                "epsilon": self.epsilon,
                "momentum": self.momentum,
            }
        )
        return config
