"""One residual-network builder for ResNet, ResNeXt, ConvNeXt and their Gate Module (Skip-) versions.

In the style of ``keras.applications.resnet``: a network is a stem, stages of
blocks and a head; each block is a small function and :func:`build_residual_network`
composes them. The named families (:mod:`keras_geo.models.resnet`,
:mod:`keras_geo.models.convnext`) are thin builders over it.

A stage keeps the list of its tensors, ``xs[0]`` its (downsampled) input and
``xs[k]`` the output of block ``k - 1``. A ResNet block ends in
``relu(y + xs[j])``; with ``gate=True`` (SkipResNet, report 003) it ends in
``relu(GateModule([y] + [xs[i] for i in gate_inbounds(j)]))`` instead, and a ConvNeXt
block the same without the ReLU. Everything else is unchanged, so a network and its
Skip- version differ only by the gates' parameters.

Layer names are predictable, ``{name}_stem_conv``,
``{name}_stage{s}_block{b}_{1,2,3}_{conv,bn,relu}``, ``_shortcut_conv``, ``_add`` or
``_gate``, ``_out``, and each stage's output is an ``Identity`` layer
``{name}_C{level}`` (``level = log2(stride)``, C2..C5 for ImageNet-style networks,
C0..C2 for CIFAR-style ones): :func:`backbone` returns those as a feature model, and
Grad-CAM finds the last stage without a layer name (in a ConvNeXt, the head's layer
norm after it: the last stage normalised pixel by pixel, which keeps CAM exact).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
from keras import layers

from keras_geo.layers import GateModule, LayerScale, StochasticDepth, gate_inbounds
from keras_geo.models._checks import _check, _image_shape, _is_int
from keras_geo.models._top import check_top, top

__all__ = ["BLOCKS", "STEMS", "backbone", "build_residual_network", "check_residual_network", "check_weights"]

#: Block kinds: ResNet's two-convolution block, the bottleneck (ResNet-50 and up, ResNeXt), ConvNeXt's block.
BLOCKS = ("basic", "bottleneck", "convnext")
#: Stems and the stride they take: ImageNet's 7x7/2 convolution and 3x3/2 max pool, CIFAR's 3x3
#: convolution, ConvNeXt's 4x4/4 patch convolution.
STEMS = {"imagenet": 4, "cifar": 1, "patch": 4}
_POOLINGS = ("avg", "max")
_BN = {"epsilon": 1e-5, "momentum": 0.9}  # PyTorch's batch norm, as the reference trained with
_LN_EPSILON = 1e-6


@dataclass(frozen=True)
class _Plan:
    """The checked arguments of a network."""

    input_shape: tuple[int | None, ...]
    block: str
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    stem: str
    stem_width: int
    groups: int
    width_per_group: int
    gate: bool
    gate_reduction: float

    @property
    def strides(self) -> tuple[int, ...]:
        """Each stage's stride: the first keeps the stem's resolution, the others halve it."""
        return (1,) + (2,) * (len(self.depths) - 1)

    @property
    def total_stride(self) -> int:
        return STEMS[self.stem] * 2 ** (len(self.depths) - 1)


def _positive_ints(name: str, values: Any) -> tuple[int, ...]:
    _check(
        isinstance(values, Sequence) and not isinstance(values, str) and len(values) > 0,
        f"`{name}` must be a non-empty list of integers >= 1. Received: {name}={values!r}",
    )
    _check(
        all(_is_int(v) and v >= 1 for v in values),
        f"`{name}` must be a non-empty list of integers >= 1. Received: {name}={values!r}",
    )
    return tuple(int(v) for v in values)


def check_residual_network(
    input_shape: Sequence[int | None],
    *,
    block: str,
    depths: Sequence[int],
    widths: Sequence[int],
    stem: str,
    stem_width: int,
    groups: int = 1,
    width_per_group: int = 64,
    gate: bool = False,
    gate_reduction: float = 8,
) -> _Plan:
    """Checks a network's arguments without building it (the search's configuration check uses it).

    Raises:
        ValueError: one line naming the argument, what it got and what is allowed.
    """
    _check(block in BLOCKS, f"`block` must be one of {', '.join(BLOCKS)}. Received: block={block!r}")
    _check(stem in STEMS, f"`stem` must be one of {', '.join(STEMS)}. Received: stem={stem!r}")
    depths = _positive_ints("depths", depths)
    widths = _positive_ints("widths", widths)
    _check(
        len(depths) == len(widths),
        f"`depths` and `widths` must have one entry per stage. Received: depths={depths}, widths={widths}",
    )
    _check(
        _is_int(stem_width) and stem_width >= 1,
        f"`stem_width` must be an integer >= 1. Received: stem_width={stem_width!r}",
    )
    _check(_is_int(groups) and groups >= 1, f"`groups` must be an integer >= 1. Received: groups={groups!r}")
    _check(
        _is_int(width_per_group) and width_per_group >= 1,
        f"`width_per_group` must be an integer >= 1. Received: width_per_group={width_per_group!r}",
    )
    _check(
        groups == 1 or block == "bottleneck",
        f"`groups` > 1 needs bottleneck blocks (ResNeXt). Received: groups={groups}, block={block!r}",
    )
    _check(isinstance(gate, bool), f"`gate` must be true or false. Received: gate={gate!r}")
    _check(
        not isinstance(gate_reduction, bool)
        and isinstance(gate_reduction, (int, float))
        and math.isfinite(gate_reduction)
        and gate_reduction > 0,
        f"`gate_reduction` must be a number > 0 (the gate's hidden layer has channels / gate_reduction units). "
        f"Received: gate_reduction={gate_reduction!r}",
    )
    shape = _image_shape(input_shape)
    plan = _Plan(
        shape, block, depths, widths, stem, int(stem_width), int(groups), int(width_per_group), gate, gate_reduction
    )
    for side in shape[:2]:
        _check(
            side is None or side >= plan.total_stride,
            f"`input_shape` must be at least {plan.total_stride}x{plan.total_stride}, this network's total stride "
            f"({len(depths)} stages after a {stem!r} stem). Received: input_shape={tuple(input_shape)}",
        )
    return plan


def _bn(x, name: str, *, zero: bool = False):
    return layers.BatchNormalization(axis=-1, gamma_initializer="zeros" if zero else "ones", name=name, **_BN)(x)


def _conv(x, filters: int, kernel: int, stride: int, name: str, *, groups: int = 1):
    if kernel > 1 and stride > 1:
        # PyTorch's symmetric padding (Keras' "same" pads a strided convolution on one side only)
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
        padding = "valid"
    else:
        padding = "same"
    return layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding=padding,
        groups=groups,
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )(x)


def _basic_block(x, plan: _Plan, width: int, stride: int, name: str):
    """Two 3x3 convolutions; the stride is in the first. Returns the residual branch ``y``."""
    y = _conv(x, width, 3, stride, f"{name}_1_conv")
    y = layers.Activation("relu", name=f"{name}_1_relu")(_bn(y, f"{name}_1_bn"))
    y = _conv(y, width, 3, 1, f"{name}_2_conv")
    return _bn(y, f"{name}_2_bn", zero=True)


def _bottleneck_block(x, plan: _Plan, width: int, stride: int, name: str):
    """1x1 reduce, 3x3 (grouped for ResNeXt, strided), 1x1 expand to ``4 * width``."""
    inner = int(math.floor(width * plan.width_per_group / 64)) * plan.groups
    y = _conv(x, inner, 1, 1, f"{name}_1_conv")
    y = layers.Activation("relu", name=f"{name}_1_relu")(_bn(y, f"{name}_1_bn"))
    y = _conv(y, inner, 3, stride, f"{name}_2_conv", groups=plan.groups)
    y = layers.Activation("relu", name=f"{name}_2_relu")(_bn(y, f"{name}_2_bn"))
    y = _conv(y, 4 * width, 1, 1, f"{name}_3_conv")
    return _bn(y, f"{name}_3_bn", zero=True)


def _convnext_block(x, width: int, name: str, *, layer_scale: float):
    """7x7 depthwise convolution, layer norm, an MLP of 4x width with GELU, layer scale."""
    y = layers.DepthwiseConv2D(7, padding="same", name=f"{name}_dwconv")(x)
    y = layers.LayerNormalization(epsilon=_LN_EPSILON, name=f"{name}_ln")(y)
    y = layers.Dense(4 * width, name=f"{name}_pwconv1")(y)
    y = layers.Activation("gelu", name=f"{name}_gelu")(y)
    y = layers.Dense(width, name=f"{name}_pwconv2")(y)
    if layer_scale > 0:
        y = LayerScale(layer_scale, name=f"{name}_scale")(y)
    return y


_RESNET_BLOCKS = {"basic": _basic_block, "bottleneck": _bottleneck_block}


def _out_channels(plan: _Plan, width: int) -> int:
    return 4 * width if plan.block == "bottleneck" else width


def _stage(x, plan: _Plan, index: int, stride: int, drop_rates: list[float], name: str, *, layer_scale: float, seed):
    """One stage: its downsampling or projection shortcut, then its blocks joined by addition or gates."""
    width = plan.widths[index]
    channels = _out_channels(plan, width)
    prefix = f"{name}_stage{index + 1}"
    if plan.block == "convnext":
        if stride > 1 or x.shape[-1] != channels:  # ConvNeXt downsamples before the stage
            x = layers.LayerNormalization(epsilon=_LN_EPSILON, name=f"{prefix}_downsample_ln")(x)
            x = layers.Conv2D(channels, stride, strides=stride, name=f"{prefix}_downsample_conv")(x)
        stride = 1
        shortcut = x
    elif stride > 1 or x.shape[-1] != channels:
        shortcut = _bn(_conv(x, channels, 1, stride, f"{prefix}_block1_shortcut_conv"), f"{prefix}_block1_shortcut_bn")
    else:
        shortcut = x
    xs = [shortcut]
    for j in range(plan.depths[index]):
        block_name = f"{prefix}_block{j + 1}"
        source = x if j == 0 else xs[-1]
        if plan.block == "convnext":
            y = _convnext_block(source, width, block_name, layer_scale=layer_scale)
        else:
            y = _RESNET_BLOCKS[plan.block](source, plan, width, stride if j == 0 else 1, block_name)
        rate = drop_rates.pop(0)
        if rate > 0:
            y = StochasticDepth(rate, seed=seed, name=f"{block_name}_drop")(y)
        if plan.gate:
            gate = GateModule(
                plan.gate_reduction,
                normalization="layer" if plan.block == "convnext" else "batch",
                activation="gelu" if plan.block == "convnext" else "relu",
                name=f"{block_name}_gate",
            )
            out = gate([y] + [xs[i] for i in gate_inbounds(j)])
        else:
            out = layers.Add(name=f"{block_name}_add")([y, xs[j]])
        if plan.block != "convnext":
            out = layers.Activation("relu", name=f"{block_name}_out")(out)
        xs.append(out)
    return xs[-1]


def _stem(x, plan: _Plan, name: str):
    if plan.stem == "imagenet":
        x = _conv(x, plan.stem_width, 7, 2, f"{name}_stem_conv")
        x = layers.Activation("relu", name=f"{name}_stem_relu")(_bn(x, f"{name}_stem_bn"))
        x = layers.ZeroPadding2D(1, name=f"{name}_stem_pool_pad")(x)  # after a ReLU: zeros never win the max
        return layers.MaxPooling2D(3, strides=2, name=f"{name}_stem_pool")(x)
    if plan.stem == "cifar":
        x = _conv(x, plan.stem_width, 3, 1, f"{name}_stem_conv")
        return layers.Activation("relu", name=f"{name}_stem_relu")(_bn(x, f"{name}_stem_bn"))
    x = layers.Conv2D(plan.stem_width, 4, strides=4, name=f"{name}_stem_conv")(x)
    return layers.LayerNormalization(epsilon=_LN_EPSILON, name=f"{name}_stem_ln")(x)


def check_weights(weights: str | Path | None) -> None:
    """Checks a ``weights`` argument before anything is built: ``None`` or an existing local file.

    Raises:
        ValueError: for ``"imagenet"`` (keras-geo never downloads).
        FileNotFoundError: if the file does not exist.
    """
    if weights is None:
        return
    if str(weights) == "imagenet":
        raise ValueError(
            "keras-geo never downloads weights: pass the path of a local .weights.h5 (or .keras) file saved from "
            f"the same builder with the same arguments, or weights=None. Received: weights={weights!r}"
        )
    if not Path(weights).is_file():
        raise FileNotFoundError(f"`weights` file not found: {weights}. Pass a local file, or weights=None.")


def _load_weights(model: keras.Model, weights: str | Path) -> None:
    check_weights(weights)
    path = Path(weights)
    try:
        model.load_weights(str(path))
    except Exception as error:  # Keras raises ValueError, KeyError or h5py errors on a mismatch
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"`weights` file {path} does not fit {model.name} (another architecture or other arguments: {first}). "
            f"Received: weights={str(weights)!r}"
        ) from None


def build_residual_network(
    input_shape: Sequence[int | None],
    n_classes: int = 1000,
    *,
    block: str,
    depths: Sequence[int],
    widths: Sequence[int],
    stem: str,
    stem_width: int,
    groups: int = 1,
    width_per_group: int = 64,
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
    name: str = "resnet",
) -> keras.Model:
    """A residual network (ResNet, ResNeXt, ConvNeXt), with SkipResNet's Gate Modules if ``gate``.

    Args:
        input_shape: ``(height, width, channels)``; height and width at least the total
            stride (32 for ImageNet-style networks, 4 for CIFAR-style ones) or None.
        n_classes: Outputs of the head. Defaults to `1000`.
        block: ``"basic"``, ``"bottleneck"`` or ``"convnext"``.
        depths: Blocks per stage, e.g. ``(3, 4, 6, 3)`` for ResNet-50.
        widths: Each stage's width (a bottleneck stage outputs 4x this), e.g. ``(64, 128, 256, 512)``.
        stem: ``"imagenet"`` (7x7/2 convolution and 3x3/2 max pool), ``"cifar"`` (3x3
            convolution) or ``"patch"`` (ConvNeXt's 4x4/4 convolution and layer norm).
        stem_width: Channels of the stem.
        groups: Groups of the bottleneck's 3x3 convolution (ResNeXt's cardinality). Defaults to `1`.
        width_per_group: The bottleneck's inner width is ``floor(width * width_per_group / 64) * groups``
            (ResNeXt-50-32x4d: 32 groups of 4). Defaults to `64`.
        gate: Gate Modules instead of additions (SkipResNet, SkipResNeXt, SkipConvNeXt). Defaults to `False`.
        gate_reduction: The gates' reduction ratio (:class:`keras_geo.layers.GateModule`). Defaults to `8`.
        include_top: Add pooling and the output layer. Defaults to `True`.
        pooling: ``"avg"`` or ``"max"``; ``None`` keeps the 4-D feature map (only with
            ``include_top=False``). Defaults to `"avg"`.
        classifier_activation: The output's activation, as its own layer after ``{name}_logits``;
            ``None`` gives logits (or a linear regression output). Defaults to `"softmax"`.
        weights: ``None`` (random) or a local weights file saved from the same builder and arguments.
        dropout: Dropout before the output layer. Defaults to `0.0`.
        drop_path_rate: Stochastic depth, rising linearly from 0 at the first block to this at
            the last. Defaults to `0.0`.
        layer_scale: Initial layer scale of ConvNeXt blocks (0 = none). Defaults to `1e-6`.
        seed: Seed of the stochastic-depth layers. Defaults to `None`.
        name: Model name and the prefix of every layer name. Defaults to `"resnet"`.

    Returns:
        An uncompiled ``keras.Model`` taking images as the data set gives them (in [0, 1]).

    Raises:
        ValueError: one line naming a bad argument (an input smaller than the total stride,
            a ratio <= 0, a weights file of another architecture, ...).
    """
    plan = check_residual_network(
        input_shape,
        block=block,
        depths=depths,
        widths=widths,
        stem=stem,
        stem_width=stem_width,
        groups=groups,
        width_per_group=width_per_group,
        gate=gate,
        gate_reduction=gate_reduction,
    )
    check_top(include_top, n_classes, classifier_activation)
    _check(
        pooling in _POOLINGS or (pooling is None and not include_top),
        f"`pooling` must be 'avg' or 'max' (or None with include_top=False). Received: pooling={pooling!r}",
    )
    for key, value, high in (("dropout", dropout, 1.0), ("drop_path_rate", drop_path_rate, 1.0)):
        _check(
            not isinstance(value, bool) and isinstance(value, (int, float)) and 0.0 <= value < high,
            f"`{key}` must be a number in [0, 1). Received: {key}={value!r}",
        )
    _check(
        not isinstance(layer_scale, bool) and isinstance(layer_scale, (int, float)) and layer_scale >= 0,
        f"`layer_scale` must be a number >= 0. Received: layer_scale={layer_scale!r}",
    )
    inputs = keras.Input(plan.input_shape, name=f"{name}_input")
    x = _stem(inputs, plan, name)
    total = sum(plan.depths)
    drop_rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
    stride = STEMS[plan.stem]
    for index, stage_stride in enumerate(plan.strides):
        stride *= stage_stride
        x = _stage(x, plan, index, stage_stride, drop_rates, name, layer_scale=float(layer_scale), seed=seed)
        x = layers.Identity(name=f"{name}_C{int(math.log2(stride))}")(x)
    if plan.block == "convnext" and (include_top or pooling is not None):
        # The head's layer norm before the pooling (timm's head_norm_first): the same
        # parameters as ConvNeXt's pool-then-norm, and the model stays CAM-compatible.
        x = layers.LayerNormalization(epsilon=_LN_EPSILON, name=f"{name}_head_ln")(x)
    if pooling == "avg":
        x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name=f"{name}_pool")(x)
    if include_top:
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
        x = top(x, n_classes, classifier_activation, name=name)
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        _load_weights(model, weights)
    return model


_LEVEL = re.compile(r"_C(\d+)$")


def _level(level: int | str) -> int | str:
    """``4`` or ``"C4"`` as 4 (anything else as it is, for the error message)."""
    if isinstance(level, str) and re.fullmatch(r"[Cc]\d+", level):
        return int(level[1:])
    return level


def backbone(model: keras.Model, levels: Sequence[int] | None = None) -> keras.Model:
    """A residual network's stage outputs as a feature model: ``{"C2": ..., "C5": ...}`` by level.

    ``C{level}`` has stride ``2**level`` (C2..C5 for ImageNet-style networks, C0..C2 for
    CIFAR-style ones). Works on a model from any builder of this module, also one loaded
    from a ``.keras`` file; the feature model shares its layers and weights.

    Args:
        model: A model built by :func:`build_residual_network` or a family builder.
        levels: The levels to return, as numbers (``[4, 5]``) or names (``["C4", "C5"]``).
            Defaults to all stages.

    Raises:
        ValueError: if the model has no ``*_C{level}`` layers, or a level is missing.
    """
    found = {int(m.group(1)): layer for layer in model.layers if (m := _LEVEL.search(layer.name))}
    _check(
        bool(found),
        f"model {model.name!r} has no stage outputs (layers named *_C<level>); build it with a keras_geo residual builder",
    )
    chosen = sorted(found) if levels is None else [_level(level) for level in levels]
    missing = [level for level in chosen if level not in found]
    _check(
        not missing,
        f"`levels` {missing} not in model {model.name!r}; it has {sorted(found)}. Received: levels={levels!r}",
    )
    outputs = {f"C{level}": found[level].output for level in chosen}
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # a list input makes Keras warn on arrays
    return keras.Model(inputs, outputs, name=f"{model.name}_backbone")
