"""U-Net for image-to-image tasks: denoising, restoration, segmentation-like maps.

Ronneberger, Fischer and Brox (2015): an encoder of ``depth`` convolution
blocks, each followed by 2x2 max pooling, a bottleneck, and a decoder of as
many blocks, each up-sampling by 2 and concatenating the encoder block of the
same resolution (the skip connection) before its convolutions. A 1x1
convolution maps the last decoder block to ``output_channels``.

The model uses Keras built-in layers only, so a saved ``.keras`` U-Net loads
with ``safe_mode=True`` without any custom object (a model *compiled* with
:mod:`keras_geo.losses` needs that module imported to restore its loss).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from keras_geo.models._checks import _check, _image_shape, _is_int
from keras_geo.models._registry import register
from keras_geo.models._top import check_activation

UPSAMPLINGS = ("transpose", "bilinear")
NORMALIZATIONS = ("batch", "instance", "none")


def normalization_layer(normalization: str, *, bn_momentum: float, name: str, suffix: str = "") -> layers.Layer | None:
    """The layer of one normalisation choice: ``{name}_bn{suffix}``, ``{name}_in{suffix}`` or None.

    ``"batch"`` is batch normalisation; ``"instance"`` is instance normalisation
    (Ulyanov et al. 2016): group normalisation with one group per channel, so each
    sample's channels are standardised over their own height and width, then scaled
    and shifted by learned per-channel weights, the same in training and inference;
    ``"none"`` gives None.
    """
    if normalization == "batch":
        return layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn{suffix}")
    if normalization == "instance":
        return layers.GroupNormalization(groups=-1, name=f"{name}_in{suffix}")
    return None


def check_normalization(normalization: str) -> None:
    """Raises a ValueError listing the choices unless ``normalization`` is one of :data:`NORMALIZATIONS`."""
    _check(
        isinstance(normalization, str) and normalization in NORMALIZATIONS,
        f"`normalization` must be one of {NORMALIZATIONS}. Received: normalization={normalization!r}",
    )


def _conv_stack(x, filters, *, kernel_size, convs, normalization, bn_momentum, activation, name):
    """``convs`` x (convolution, optional normalisation, activation), keeping the resolution."""
    for i in range(1, convs + 1):
        # The normalisation's learned shift makes a bias of the convolution redundant.
        x = layers.Conv2D(
            filters, kernel_size, padding="same", use_bias=normalization == "none", name=f"{name}_conv{i}"
        )(x)
        norm = normalization_layer(normalization, bn_momentum=bn_momentum, name=name, suffix=str(i))
        if norm is not None:
            x = norm(x)
        x = layers.Activation(activation, name=f"{name}_act{i}")(x)
    return x


@register("unet", tasks=("image_to_image",))
def build_unet(
    input_shape: Sequence[int | None] = (64, 64, 1),
    output_channels: int = 1,
    *,
    depth: int = 3,
    filters: int = 16,
    filter_growth: float = 2.0,
    max_filters: int = 256,
    kernel_size: int = 3,
    convs_per_block: int = 2,
    normalization: str = "batch",
    bn_momentum: float = 0.9,
    dropout: float = 0.0,
    activation: str = "relu",
    upsampling: str = "transpose",
    output_activation: str | None = "sigmoid",
    residual: bool = False,
    name: str = "unet",
) -> keras.Model:
    """U-Net: ``depth`` down-sampling blocks, a bottleneck and ``depth`` up-sampling blocks with skips.

    Maps ``(height, width, channels)`` images to ``(height, width, output_channels)``
    images. Layer names are predictable: ``{name}_input``;
    ``{name}_down{b}_conv{i}``, ``..._bn{i}`` (``..._in{i}`` with instance
    normalisation, none without normalisation), ``..._act{i}`` and ``{name}_down{b}_pool``
    for the encoder blocks ``b = 1 ... depth`` (1 is the full resolution);
    ``{name}_bottleneck_conv{i}``, ``..._bn{i}``, ``..._act{i}`` and
    ``{name}_bottleneck_dropout``; ``{name}_up{b}_upsample``, ``{name}_up{b}_concat``,
    ``{name}_up{b}_conv{i}``, ``..._bn{i}``, ``..._act{i}`` for the decoder block
    joined to ``{name}_down{b}`` (built from ``b = depth`` down to 1); and the final
    layer ``{name}_output`` (preceded by ``{name}_output_conv`` and
    ``{name}_residual`` when ``residual=True``). The final layer computes in
    float32, so the model also suits mixed-precision training.

    Args:
        input_shape: ``(height, width, channels)`` of the images. Height and width
            must be divisible by ``2**depth``; either may be ``None`` for a model
            that takes any size (each size must then be divisible at run time).
            Defaults to `(64, 64, 1)`.
        output_channels: Channels of the output images. Defaults to `1`.
        depth: Number of down-sampling (and of up-sampling) blocks. Defaults to `3`.
        filters: Filters of the first block; block ``b`` has
            ``filters * filter_growth**(b - 1)`` and the bottleneck
            ``filters * filter_growth**depth``, capped at ``max_filters``. Defaults to `16`.
        filter_growth: Growth of the filters from one resolution to the next.
            Defaults to `2.0`.
        max_filters: Cap on the filters of any block. Defaults to `256`.
        kernel_size: Size of the convolution kernels. Defaults to `3`.
        convs_per_block: Convolutions per block (2 in the original U-Net). Defaults to `2`.
        normalization: Normalisation after each convolution, before its activation:
            ``"batch"`` (batch normalisation, layers ``..._bn{i}``), ``"instance"``
            (per-sample, per-channel normalisation over height and width,
            ``keras.layers.GroupNormalization(groups=-1)``, layers ``..._in{i}``: the
            same in training and inference, independent of the batch size) or
            ``"none"``. With a normalisation the convolutions have no bias (its shift
            replaces it). Instance normalisation removes each image's brightness and
            contrast at every layer, so the network must infer output levels from
            structure alone: for restoration, where outputs keep the input's levels, use
            it with ``residual=True``. It makes a 1x1 map constant, so keep the
            bottleneck at least 2x2 (images of at least ``2**(depth + 1)`` pixels).
            Defaults to `"batch"`.
        bn_momentum: Momentum of the batch-norm moving statistics, used by ``"batch"`` only (see
            :func:`~keras_geo.models.build_filler_cnn`: Keras' 0.99 needs far more
            steps than short trainings take). Defaults to `0.9`.
        dropout: Rate of a dropout layer after the bottleneck (as in the original
            U-Net); ``0`` adds none. Defaults to `0.0`.
        activation: Activation of the convolutions. Defaults to `"relu"`.
        upsampling: ``"transpose"`` (a learned 2x2 transposed convolution with the
            block's filters) or ``"bilinear"`` (fixed bilinear interpolation, no
            weights, no checkerboard artefacts). Defaults to `"transpose"`.
        output_activation: Activation of the output: a Keras activation name, or
            ``None`` for a linear output. ``"sigmoid"`` suits targets in [0, 1] such
            as images for :class:`~keras_geo.losses.MixedLoss` with ``max_val=1``.
            Defaults to `"sigmoid"`.
        residual: Add the input image to the output of the last 1x1 convolution,
            before ``output_activation``, so that the network learns the correction
            of its input (the usual trick for denoising and restoration). The 1x1
            convolution then starts with zero weights, so the untrained model is the
            identity (followed by the activation): use it with
            ``output_activation=None`` (or ``"relu"``), since with ``"sigmoid"`` the
            network must first learn to undo the squashing. Needs ``output_channels``
            equal to the input channels. Defaults to `False`.
        name: Model name and prefix of every layer name. Defaults to `"unet"`.

    Returns:
        An uncompiled ``keras.Model``.
    """
    input_shape = _image_shape(input_shape)
    _check(
        _is_int(output_channels) and output_channels >= 1,
        f"`output_channels` must be an integer >= 1. Received: output_channels={output_channels!r}",
    )
    _check(_is_int(depth) and depth >= 1, f"`depth` must be an integer >= 1. Received: depth={depth!r}")
    _check(_is_int(filters) and filters >= 1, f"`filters` must be an integer >= 1. Received: filters={filters!r}")
    _check(
        isinstance(filter_growth, (int, float)) and filter_growth > 0,
        f"`filter_growth` must be > 0. Received: filter_growth={filter_growth!r}",
    )
    _check(
        _is_int(max_filters) and max_filters >= 1,
        f"`max_filters` must be an integer >= 1. Received: max_filters={max_filters!r}",
    )
    _check(
        _is_int(kernel_size) and kernel_size >= 1,
        f"`kernel_size` must be an integer >= 1. Received: kernel_size={kernel_size!r}",
    )
    _check(
        _is_int(convs_per_block) and convs_per_block >= 1,
        f"`convs_per_block` must be an integer >= 1. Received: convs_per_block={convs_per_block!r}",
    )
    check_normalization(normalization)
    _check(0 <= bn_momentum < 1, f"`bn_momentum` must be in [0, 1). Received: bn_momentum={bn_momentum}")
    _check(0 <= dropout < 1, f"`dropout` must be in [0, 1). Received: dropout={dropout}")
    _check(
        upsampling in UPSAMPLINGS,
        f"`upsampling` must be one of {UPSAMPLINGS}. Received: upsampling={upsampling!r}",
    )
    check_activation("activation", activation)
    check_activation("output_activation", output_activation, allow_none=True)
    _check(isinstance(residual, bool), f"`residual` must be True or False. Received: residual={residual!r}")
    if residual:
        _check(
            output_channels == input_shape[2],
            "`residual=True` adds the input to the output, so `output_channels` must equal the "
            f"input channels. Received: output_channels={output_channels}, input_shape={input_shape}",
        )
    divisor = 2**depth
    for size in input_shape[:2]:
        _check(
            size is None or size % divisor == 0,
            f"The height and width of `input_shape` must be divisible by 2**depth = {divisor} "
            "(each of the depth blocks halves them, and the decoder doubles them back). "
            f"Received: input_shape={input_shape}, depth={depth}; use a size divisible by "
            f"{divisor} (pad or crop the images) or a smaller depth.",
        )

    def filters_at(level: int) -> int:
        return max(1, min(int(max_filters), round(filters * filter_growth**level)))

    conv_settings = {
        "kernel_size": kernel_size,
        "convs": convs_per_block,
        "normalization": normalization,
        "bn_momentum": bn_momentum,
        "activation": activation,
    }
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = inputs
    skips = []
    for b in range(1, depth + 1):
        x = _conv_stack(x, filters_at(b - 1), name=f"{name}_down{b}", **conv_settings)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"{name}_down{b}_pool")(x)
    x = _conv_stack(x, filters_at(depth), name=f"{name}_bottleneck", **conv_settings)
    if dropout > 0:
        x = layers.Dropout(dropout, name=f"{name}_bottleneck_dropout")(x)
    for b in range(depth, 0, -1):
        if upsampling == "transpose":
            x = layers.Conv2DTranspose(filters_at(b - 1), 2, strides=2, padding="same", name=f"{name}_up{b}_upsample")(
                x
            )
        else:
            x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up{b}_upsample")(x)
        x = layers.Concatenate(name=f"{name}_up{b}_concat")([x, skips[b - 1]])
        x = _conv_stack(x, filters_at(b - 1), name=f"{name}_up{b}", **conv_settings)

    if residual:
        x = layers.Conv2D(output_channels, 1, kernel_initializer="zeros", dtype="float32", name=f"{name}_output_conv")(
            x
        )
        x = layers.Add(dtype="float32", name=f"{name}_residual")([inputs, x])
        outputs = layers.Activation(output_activation or "linear", dtype="float32", name=f"{name}_output")(x)
    else:
        outputs = layers.Conv2D(
            output_channels, 1, activation=output_activation, dtype="float32", name=f"{name}_output"
        )(x)
    return keras.Model(inputs, outputs, name=name)
