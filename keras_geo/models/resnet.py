"""ResNet, ResNeXt and SkipResNet (report 003): ``build_resnet(depth=..., gate=...)`` and the named builders.

Depths 18, 34, 50, 101 and 152 are the ImageNet networks (He et al., 2016; a
7x7/2 stem, four stages of widths 64..512, basic blocks up to 34 and
bottlenecks from 50); ``groups`` and ``width_per_group`` make a ResNeXt (Xie et al.,
2017). Depths ``6n + 2`` (20, 32, 44, 56, 110, ...) are the CIFAR networks: a 3x3
stem and three stages of ``n`` basic blocks of widths 16, 32, 64, for small images.
``gate=True`` replaces each block's addition with a Gate Module (Takeda; reference
code ``takedarts/skipresnet``), the reference's reduction ratio 8 (ImageNet) or 2
(CIFAR) unless ``gate_reduction`` says otherwise.

The named builders (``resnet50``, ``skip_resnet50``, ``resnext50_32x4d``,
``resnet110``, ...) are :func:`build_resnet` with the depth fixed; they take every
other argument, ``gate`` and ``gate_reduction`` included.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from keras_geo.models._checks import _check, _is_int
from keras_geo.models._registry import register, register_variant
from keras_geo.models.residual import build_residual_network, check_residual_network, check_weights

__all__ = [
    "IMAGENET_DEPTHS",
    "build_resnet",
    "build_resnet18",
    "build_resnet34",
    "build_resnet50",
    "build_resnet101",
    "build_resnet110",
    "build_resnext50_32x4d",
    "build_skip_resnet",
    "build_skip_resnet18",
    "build_skip_resnet34",
    "build_skip_resnet50",
    "build_skip_resnet101",
    "build_skip_resnet110",
    "build_skip_resnext50_32x4d",
    "resnet_layout",
]

#: The ImageNet ResNets: depth -> (block, blocks per stage).
IMAGENET_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
_TASKS = ("classification", "regression")


def resnet_layout(depth: int) -> dict[str, Any]:
    """The stem, blocks and widths of a ResNet of ``depth`` layers, and its default gate ratio.

    Raises:
        ValueError: for a depth that is neither an ImageNet depth nor ``6n + 2``.
    """
    _check(
        _is_int(depth) and (depth in IMAGENET_DEPTHS or (depth >= 8 and (depth - 2) % 6 == 0)),
        "`depth` must be 18, 34, 50, 101 or 152 (ImageNet-style) or 6n+2 (CIFAR-style: 8, 14, 20, 32, 44, 56, "
        f"110, ...). Received: depth={depth!r}",
    )
    if depth in IMAGENET_DEPTHS:
        block, depths = IMAGENET_DEPTHS[depth]
        return {
            "block": block,
            "depths": depths,
            "widths": (64, 128, 256, 512),
            "stem": "imagenet",
            "stem_width": 64,
            "gate_reduction": 8,
        }
    n = (depth - 2) // 6
    return {
        "block": "basic",
        "depths": (n, n, n),
        "widths": (16, 32, 64),
        "stem": "cifar",
        "stem_width": 16,
        "gate_reduction": 2,
    }


def _layout(depth: int, groups: int, width_per_group: int, gate_reduction: float | None) -> dict[str, Any]:
    layout = resnet_layout(depth)
    if groups != 1 or width_per_group != 64:
        _check(
            layout["block"] == "bottleneck",
            f"`groups` and `width_per_group` (ResNeXt) need a bottleneck depth (50, 101, 152). "
            f"Received: depth={depth}, groups={groups!r}, width_per_group={width_per_group!r}",
        )
    if gate_reduction is not None:
        layout["gate_reduction"] = gate_reduction
    return {**layout, "groups": groups, "width_per_group": width_per_group}


def _default_name(depth: int, gate: bool, groups: int, width_per_group: int) -> str:
    family = f"resnext{depth}_{groups}x{width_per_group}d" if groups != 1 or width_per_group != 64 else f"resnet{depth}"
    return f"skip_{family}" if gate else family


def _check_resnet(
    input_shape=(None, None, 3),
    depth=50,
    gate=False,
    gate_reduction=None,
    groups=1,
    width_per_group=64,
    weights=None,
    **_,
):
    """The search's configuration check: the arguments that decide the architecture, without building."""
    check_residual_network(input_shape, gate=gate, **_layout(depth, groups, width_per_group, gate_reduction))
    check_weights(weights)


@register("resnet", tasks=_TASKS, check=_check_resnet)
def build_resnet(
    input_shape: Sequence[int | None] = (224, 224, 3),
    n_classes: int = 1000,
    *,
    depth: int = 50,
    gate: bool = False,
    gate_reduction: float | None = None,
    groups: int = 1,
    width_per_group: int = 64,
    include_top: bool = True,
    pooling: str | None = "avg",
    classifier_activation: str | None = "softmax",
    weights: str | Path | None = None,
    dropout: float = 0.0,
    drop_path_rate: float = 0.0,
    seed: int | None = None,
    name: str | None = None,
) -> keras.Model:
    """ResNet or ResNeXt of any depth (18..152 ImageNet-style, 6n+2 CIFAR-style), SkipResNet with ``gate=True``.

    Args:
        input_shape: ``(height, width, channels)``, at least 32x32 for ImageNet depths and
            4x4 for CIFAR depths. Defaults to `(224, 224, 3)`.
        n_classes: Outputs. Defaults to `1000`.
        depth: 18, 34, 50, 101, 152, or ``6n + 2`` (20, 32, 44, 56, 110, ...). Defaults to `50`.
        gate: Gate Modules instead of additions (SkipResNet). Defaults to `False`.
        gate_reduction: The gates' reduction ratio. Defaults to `8` for ImageNet depths and
            `2` for CIFAR depths (the reference's).
        groups: Cardinality of a ResNeXt (bottleneck depths only). Defaults to `1`.
        width_per_group: Channels per group of a ResNeXt's 3x3 convolution. Defaults to `64`.
        include_top: Add pooling and the output layer. Defaults to `True`.
        pooling: ``"avg"``, ``"max"``, or ``None`` (4-D features, with ``include_top=False``).
            Defaults to `"avg"`.
        classifier_activation: The output's activation; ``None`` for logits. Defaults to `"softmax"`.
        weights: ``None`` or a local weights file of the same architecture.
        dropout: Dropout before the output layer. Defaults to `0.0`.
        drop_path_rate: Stochastic depth at the last block. Defaults to `0.0`.
        seed: Seed of stochastic depth. Defaults to `None`.
        name: Model name. Defaults to e.g. `"resnet50"`, `"skip_resnet110"`, `"resnext50_32x4d"`.

    Returns:
        An uncompiled ``keras.Model``.
    """
    layout = _layout(depth, groups, width_per_group, gate_reduction)
    return build_residual_network(
        input_shape,
        n_classes,
        gate=gate,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
        weights=weights,
        dropout=dropout,
        drop_path_rate=drop_path_rate,
        seed=seed,
        name=name or _default_name(depth, gate, groups, width_per_group),
        **layout,
    )


def _named_resnet(name: str, summary: str, *, gate: bool = False, cifar: bool = False, **fixed: Any):
    defaults: dict[str, Any] = {"gate": gate, "name": name} if "depth" in fixed else {"gate": gate}
    if cifar:  # the reference's CIFAR-100 networks
        defaults.update(input_shape=(32, 32, 3), n_classes=100)
    return register_variant(
        build_resnet, name, summary, fixed=fixed, defaults=defaults, tasks=_TASKS, check=_check_resnet
    )


build_skip_resnet = _named_resnet(
    "skip_resnet", "SkipResNet of any depth: ResNet with Gate Modules (report 003).", gate=True
)
build_resnet18 = _named_resnet("resnet18", "ResNet-18 (ImageNet-style, basic blocks 2-2-2-2).", depth=18)
build_resnet34 = _named_resnet("resnet34", "ResNet-34 (ImageNet-style, basic blocks 3-4-6-3).", depth=34)
build_resnet50 = _named_resnet("resnet50", "ResNet-50 (ImageNet-style, bottlenecks 3-4-6-3).", depth=50)
build_resnet101 = _named_resnet("resnet101", "ResNet-101 (ImageNet-style, bottlenecks 3-4-23-3).", depth=101)
build_skip_resnet18 = _named_resnet("skip_resnet18", "SkipResNet-18: ResNet-18 with Gate Modules.", depth=18, gate=True)
build_skip_resnet34 = _named_resnet("skip_resnet34", "SkipResNet-34: ResNet-34 with Gate Modules.", depth=34, gate=True)
build_skip_resnet50 = _named_resnet("skip_resnet50", "SkipResNet-50: ResNet-50 with Gate Modules.", depth=50, gate=True)
build_skip_resnet101 = _named_resnet(
    "skip_resnet101", "SkipResNet-101: ResNet-101 with Gate Modules.", depth=101, gate=True
)
build_resnext50_32x4d = _named_resnet(
    "resnext50_32x4d",
    "ResNeXt-50-32x4d (bottlenecks 3-4-6-3, 32 groups of 4 channels).",
    depth=50,
    groups=32,
    width_per_group=4,
)
build_skip_resnext50_32x4d = _named_resnet(
    "skip_resnext50_32x4d",
    "SkipResNeXt-50-32x4d: ResNeXt-50-32x4d with Gate Modules.",
    depth=50,
    groups=32,
    width_per_group=4,
    gate=True,
)
build_resnet110 = _named_resnet(
    "resnet110", "ResNet-110 for 32x32 images (CIFAR-style, 3 stages of 18 basic blocks).", depth=110, cifar=True
)
build_skip_resnet110 = _named_resnet(
    "skip_resnet110",
    "SkipResNet-110: the CIFAR ResNet-110 with Gate Modules (ratio 2).",
    depth=110,
    gate=True,
    cifar=True,
)
