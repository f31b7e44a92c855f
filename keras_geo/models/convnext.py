"""ConvNeXt (Liu et al., 2022) and SkipConvNeXt (report 003): ``build_convnext`` and the Tiny networks.

A 4x4/4 patch stem, four stages of ConvNeXt blocks (7x7 depthwise convolution,
layer norm, an MLP of 4x the width with GELU, layer scale) with a layer norm and a
2x2/2 convolution between stages. ``gate=True`` puts a Gate Module (layer norm and
GELU inside, as in the reference) where the block adds its input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from keras_geo.models._registry import register, register_variant
from keras_geo.models.residual import build_residual_network, check_residual_network, check_weights

__all__ = ["build_convnext", "build_convnext_tiny", "build_skip_convnext_tiny"]

_TASKS = ("classification", "regression")


def _check_convnext(
    input_shape=(None, None, 3),
    depths=(3, 3, 9, 3),
    widths=(96, 192, 384, 768),
    gate=False,
    gate_reduction=8,
    weights=None,
    **_: Any,
) -> None:
    """The search's configuration check (no building)."""
    stem_width = widths[0] if isinstance(widths, Sequence) and widths and not isinstance(widths, str) else 1
    check_residual_network(
        input_shape,
        block="convnext",
        depths=depths,
        widths=widths,
        stem="patch",
        stem_width=stem_width,
        gate=gate,
        gate_reduction=gate_reduction,
    )
    check_weights(weights)


@register("convnext", tasks=_TASKS, check=_check_convnext)
def build_convnext(
    input_shape: Sequence[int | None] = (224, 224, 3),
    n_classes: int = 1000,
    *,
    depths: Sequence[int] = (3, 3, 9, 3),
    widths: Sequence[int] = (96, 192, 384, 768),
    gate: bool = False,
    gate_reduction: float = 8,
    include_top: bool = True,
    pooling: str | None = "avg",
    classifier_activation: str | None = "softmax",
    weights: str | Path | None = None,
    dropout: float = 0.0,
    drop_path_rate: float = 0.0,
    layer_scale: float = 1e-6,
    seed: int | None = None,
    name: str | None = None,
) -> keras.Model:
    """ConvNeXt of any stage depths and widths (Tiny by default), SkipConvNeXt with ``gate=True``.

    Args:
        input_shape: ``(height, width, channels)``, at least 32x32. Defaults to `(224, 224, 3)`.
        n_classes: Outputs. Defaults to `1000`.
        depths: Blocks per stage. Defaults to `(3, 3, 9, 3)` (Tiny).
        widths: Channels per stage; the stem has the first. Defaults to `(96, 192, 384, 768)`.
        gate: Gate Modules instead of additions (SkipConvNeXt). Defaults to `False`.
        gate_reduction: The gates' reduction ratio. Defaults to `8`.
        include_top: Add the head (layer norm, pooling, output). Defaults to `True`.
        pooling: ``"avg"``, ``"max"``, or ``None`` (with ``include_top=False``). Defaults to `"avg"`.
        classifier_activation: The output's activation; ``None`` for logits. Defaults to `"softmax"`.
        weights: ``None`` or a local weights file of the same architecture.
        dropout: Dropout before the output layer. Defaults to `0.0`.
        drop_path_rate: Stochastic depth at the last block (0.1 for Tiny on ImageNet). Defaults to `0.0`.
        layer_scale: Initial layer scale of each block (0 = none). Defaults to `1e-6`.
        seed: Seed of stochastic depth. Defaults to `None`.
        name: Model name. Defaults to `"convnext"` or `"skip_convnext"`.

    Returns:
        An uncompiled ``keras.Model``.
    """
    _check_convnext(input_shape, depths, widths, gate, gate_reduction)
    return build_residual_network(
        input_shape,
        n_classes,
        block="convnext",
        depths=depths,
        widths=widths,
        stem="patch",
        stem_width=widths[0],
        gate=gate,
        gate_reduction=gate_reduction,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
        weights=weights,
        dropout=dropout,
        drop_path_rate=drop_path_rate,
        layer_scale=layer_scale,
        seed=seed,
        name=name or ("skip_convnext" if gate else "convnext"),
    )


_TINY = {"depths": (3, 3, 9, 3), "widths": (96, 192, 384, 768)}
build_convnext_tiny = register_variant(
    build_convnext,
    "convnext_tiny",
    "ConvNeXt-T (stages 3-3-9-3 of widths 96..768).",
    fixed=_TINY,
    defaults={"gate": False, "name": "convnext_tiny"},
    tasks=_TASKS,
    check=_check_convnext,
)
build_skip_convnext_tiny = register_variant(
    build_convnext,
    "skip_convnext_tiny",
    "SkipConvNeXt-T: ConvNeXt-T with Gate Modules.",
    fixed=_TINY,
    defaults={"gate": True, "name": "skip_convnext_tiny"},
    tasks=_TASKS,
    check=_check_convnext,
)
