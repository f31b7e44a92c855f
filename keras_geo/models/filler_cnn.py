"""The filler CNN family: ``n`` convolution blocks followed by ``m`` dense layers.

The rubber-filler study names its classifiers "CnFm" (``C4F2`` ... ``C4F9``:
four convolution layers, two to nine fully connected layers) and found the
accuracy to change with ``m``: the architecture is a hyperparameter worth
searching. :func:`build_filler_cnn` exposes every architectural choice as a
keyword argument so that the search engine can vary it;
:func:`build_cnfm` is the thin named form of the paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from keras_geo.models._registry import register
from keras_geo.models._top import check_activation, check_top, top

POOLINGS = ("max", "avg", "stride", "none")
HEADS = ("flatten", "avg", "max")


def _as_list(value: int | float | Sequence, length: int, argument: str) -> list:
    """Broadcasts a scalar to ``length`` items, or checks a sequence has that length."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value] * length
    values = list(value)
    if len(values) != length:
        raise ValueError(
            f"`{argument}` must be a number or a sequence of {length} numbers. Received: {argument}={value!r}"
        )
    return values


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def conv_block(
    x,
    filters: int,
    *,
    kernel_size: int,
    convs: int,
    pooling: str,
    batch_norm: bool,
    activation: str,
    l2: float,
    name: str,
    bn_momentum: float = 0.9,
):
    """``convs`` convolutions (each: conv, optional batch norm, activation), then pooling.

    With ``pooling="stride"`` the block's last convolution has stride 2 instead of a
    pooling layer; with ``"none"`` the resolution is kept.
    """
    regularizer = keras.regularizers.L2(l2) if l2 else None
    for i in range(1, convs + 1):
        strided = pooling == "stride" and i == convs
        x = layers.Conv2D(
            filters,
            kernel_size,
            strides=2 if strided else 1,
            padding="same",
            use_bias=not batch_norm,
            kernel_regularizer=regularizer,
            name=f"{name}_conv{i}",
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn{i}")(x)
        x = layers.Activation(activation, name=f"{name}_act{i}")(x)
    if pooling == "max":
        x = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    elif pooling == "avg":
        x = layers.AveragePooling2D(2, name=f"{name}_pool")(x)
    return x


@register("filler_cnn", tasks=("classification", "regression"))
def build_filler_cnn(
    input_shape: Sequence[int] = (64, 64, 1),
    n_classes: int = 3,
    *,
    include_top: bool = True,
    classifier_activation: str | None = "softmax",
    conv_layers: int = 4,
    filters: int | Sequence[int] = 16,
    filter_growth: float = 2.0,
    max_filters: int = 256,
    kernel_size: int = 3,
    convs_per_block: int = 1,
    pooling: str = "max",
    batch_norm: bool = True,
    bn_momentum: float = 0.9,
    dense_layers: int = 1,
    units: int | Sequence[int] = 64,
    dropout: float | Sequence[float] = 0.3,
    activation: str = "relu",
    head: str = "avg",
    l2: float = 0.0,
    name: str = "filler_cnn",
) -> keras.Model:
    """Filler CNN: ``conv_layers`` convolution blocks, then ``dense_layers`` dense layers and a softmax.

    Layer names are predictable, so Grad-CAM users can pick layers by name:
    ``{name}_block{b}_conv{i}``, ``..._bn{i}``, ``..._act{i}``, ``{name}_block{b}_pool``,
    ``{name}_head``, ``{name}_dense{k}``, ``{name}_dropout{k}``, ``{name}_logits`` and
    ``{name}_predictions`` (the output).

    It follows the Keras applications contract: ``include_top=False`` gives a backbone
    ending at the head (``head=None``: the last 4-D feature map; its ``pooling`` argument
    names the blocks' down-sampling, so ``head`` plays the role of Keras' ``pooling``), and
    ``classifier_activation=None`` gives logits. A regression task uses it with
    ``n_classes`` outputs and no activation.

    Args:
        input_shape: ``(height, width, channels)`` of the images. Defaults to `(64, 64, 1)`.
        n_classes: Number of outputs (classes of the softmax). Defaults to `3`
            (M-SBR, n-SBR, Rnd).
        include_top: Whether to add the dense layers and the output layer. Defaults to `True`.
        classifier_activation: Activation of the output, as its own layer after
            ``{name}_logits``; ``None`` returns logits (or a linear regression output).
            Defaults to `"softmax"`.
        conv_layers: Number of convolution blocks (the ``n`` of "CnFm"). Defaults to `4`.
        filters: Filters of the first block, or one value per block. Defaults to `16`.
        filter_growth: When ``filters`` is a number, block ``b`` has
            ``filters * filter_growth**b`` filters, capped at ``max_filters``. Defaults to `2.0`.
        max_filters: Cap on the filters of any block. Defaults to `256`.
        kernel_size: Convolution kernel size. Defaults to `3`.
        convs_per_block: Convolutions per block (VGG-style stacks when > 1). Defaults to `1`.
        pooling: Down-sampling at the end of each block: ``"max"``, ``"avg"``,
            ``"stride"`` (strided last convolution) or ``"none"``. Defaults to `"max"`.
        batch_norm: Batch normalisation after each convolution. Defaults to `True`.
        bn_momentum: Momentum of the batch-norm moving statistics. Keras' default of
            0.99 needs hundreds of steps before inference-mode statistics are usable;
            small data sets and short searches train for far fewer, and the model then
            predicts one class at validation. Defaults to `0.9`.
        dense_layers: Hidden dense layers before the softmax. The paper's "Fm" counts
            the softmax layer too, so ``CnFm`` is ``dense_layers = m - 1``. Defaults to `1`.
        units: Units of every hidden dense layer, or one value per layer. Defaults to `64`.
        dropout: Dropout rate after each hidden dense layer (one value or one per layer);
            ``0`` adds no dropout layer. Defaults to `0.3`.
        activation: Activation of convolutions and hidden dense layers. Defaults to `"relu"`.
        head: How the last feature map becomes a vector: ``"flatten"`` (the classic CNN),
            ``"avg"`` or ``"max"`` global pooling (size independent, fewer parameters,
            and CAM-compatible with ``dense_layers=0``); ``None`` keeps the feature map
            (only with ``include_top=False``). Defaults to `"avg"`.
        l2: L2 weight-decay factor on convolution and dense kernels; ``0`` disables it.
            Defaults to `0.0`.
        name: Model name and prefix of every layer name. Defaults to `"filler_cnn"`.

    Returns:
        An uncompiled ``keras.Model`` mapping images to class probabilities (or logits,
        regression outputs, or features without the top).
    """
    input_shape = tuple(int(d) for d in input_shape)
    _check(
        len(input_shape) == 3 and all(d > 0 for d in input_shape),
        f"`input_shape` must be (height, width, channels) of positive sizes. Received: input_shape={input_shape}",
    )
    check_top(include_top, n_classes, classifier_activation)
    _check(conv_layers >= 0, f"`conv_layers` must be >= 0. Received: conv_layers={conv_layers}")
    _check(dense_layers >= 0, f"`dense_layers` must be >= 0. Received: dense_layers={dense_layers}")
    _check(kernel_size >= 1, f"`kernel_size` must be >= 1. Received: kernel_size={kernel_size}")
    _check(
        convs_per_block >= 1,
        f"`convs_per_block` must be >= 1. Received: convs_per_block={convs_per_block}",
    )
    _check(pooling in POOLINGS, f"`pooling` must be one of {POOLINGS}. Received: pooling={pooling!r}")
    _check(
        head in HEADS or (head is None and not include_top),
        f"`head` must be one of {HEADS} (or None with include_top=False). Received: head={head!r}",
    )
    _check(l2 >= 0, f"`l2` must be >= 0. Received: l2={l2}")
    _check(0 <= bn_momentum < 1, f"`bn_momentum` must be in [0, 1). Received: bn_momentum={bn_momentum}")
    check_activation("activation", activation)

    if isinstance(filters, (int, float)):
        block_filters = [min(int(max_filters), int(round(filters * filter_growth**b))) for b in range(conv_layers)]
    else:
        block_filters = [int(f) for f in _as_list(filters, conv_layers, "filters")]
    _check(all(f >= 1 for f in block_filters), f"`filters` must be >= 1. Received: filters={filters!r}")
    dense_units = [int(u) for u in _as_list(units, dense_layers, "units")]
    _check(all(u >= 1 for u in dense_units), f"`units` must be >= 1. Received: units={units!r}")
    dense_dropout = [float(d) for d in _as_list(dropout, dense_layers, "dropout")]
    _check(
        all(0.0 <= d < 1.0 for d in dense_dropout),
        f"`dropout` must be in [0, 1). Received: dropout={dropout!r}",
    )
    # Every down-sampling halves the image; refuse architectures that run out of pixels
    # instead of failing later with an opaque shape error inside Keras.
    if pooling != "none":
        smallest = min(input_shape[:2]) // 2**conv_layers
        _check(
            smallest >= 1,
            f"{conv_layers} down-sampling blocks need images of at least {2**conv_layers} pixels. "
            f"Received: input_shape={input_shape}, conv_layers={conv_layers}",
        )

    regularizer = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = inputs
    for b, block_filter in enumerate(block_filters, start=1):
        x = conv_block(
            x,
            block_filter,
            kernel_size=kernel_size,
            convs=convs_per_block,
            pooling=pooling,
            batch_norm=batch_norm,
            activation=activation,
            l2=l2,
            name=f"{name}_block{b}",
            bn_momentum=bn_momentum,
        )
    if head == "flatten":
        x = layers.Flatten(name=f"{name}_head")(x)
    elif head == "avg":
        x = layers.GlobalAveragePooling2D(name=f"{name}_head")(x)
    elif head == "max":
        x = layers.GlobalMaxPooling2D(name=f"{name}_head")(x)
    if not include_top:
        return keras.Model(inputs, x, name=name)
    for k, (n_units, rate) in enumerate(zip(dense_units, dense_dropout), start=1):
        x = layers.Dense(n_units, activation=activation, kernel_regularizer=regularizer, name=f"{name}_dense{k}")(x)
        if rate > 0:
            x = layers.Dropout(rate, name=f"{name}_dropout{k}")(x)
    outputs = top(x, n_classes, classifier_activation, name=name, kernel_regularizer=regularizer)
    return keras.Model(inputs, outputs, name=name)


@register("cnfm", tasks=("classification", "regression"))
def build_cnfm(
    n: int = 4,
    m: int = 2,
    input_shape: Sequence[int] = (64, 64, 1),
    n_classes: int = 3,
    **kwargs,
) -> keras.Model:
    """The paper's "CnFm" classifier: ``n`` convolution layers and ``m`` fully connected layers.

    ``m`` counts the softmax layer, as in the study's table of C4F2 ... C4F9, so this is
    :func:`build_filler_cnn` with ``conv_layers=n`` and ``dense_layers=m - 1`` and the
    classic flattening head. Other keyword arguments are passed on.

    Args:
        n: Convolution layers. Defaults to `4`.
        m: Fully connected layers including the output layer; at least 1. Defaults to `2`.
        input_shape: Image shape. Defaults to `(64, 64, 1)`.
        n_classes: Number of classes. Defaults to `3`.
        **kwargs: Any other argument of :func:`build_filler_cnn`.
    """
    _check(m >= 1, f"`m` counts the output layer and must be >= 1. Received: m={m}")
    kwargs.setdefault("head", "flatten")
    kwargs.setdefault("name", f"C{n}F{m}")
    return build_filler_cnn(input_shape, n_classes, conv_layers=n, dense_layers=m - 1, **kwargs)
