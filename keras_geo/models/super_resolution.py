"""Super-resolution networks for same-size maps: SRCNN and an EDSR-style residual network.

Both take the low-resolution grid already brought to the high-resolution size by bicubic
interpolation (as the ``bathymetry`` data set's inputs are, and as in SRCNN), so a model
is a same-size image-to-image map and the bicubic baseline is its input. Both predict the
correction of that input: a global skip adds the input to the network's output (``output =
input + net(input)``), and the last convolution starts at zero, so an untrained model is
the bicubic baseline (followed by ``output_activation``).

* :func:`build_srcnn` (Dong et al. 2014): patch extraction, non-linear mapping and
  reconstruction, three convolutions of 9, 5 and 5 pixels with 64 and 32 filters.
* :func:`build_edsr` (Lim et al. 2017), without its up-sampling layers: a head
  convolution, ``blocks`` residual blocks (convolution, ReLU, convolution, no batch
  normalisation, the branch scaled by ``res_scale``), a convolution, a long skip from the
  head and a tail convolution.

The models use Keras built-in layers only (residual scaling is a ``Rescaling`` layer), so
a saved ``.keras`` model loads with ``safe_mode=True`` without any custom object.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from keras_geo.models._checks import _check, _image_shape, _is_int
from keras_geo.models._registry import register
from keras_geo.models._top import check_activation

__all__ = ["build_edsr", "build_srcnn"]


def _check_head(input_shape, output_channels, output_activation) -> tuple[int | None, ...]:
    """Checks the shared arguments; returns ``input_shape`` as a tuple."""
    shape = _image_shape(input_shape)
    _check(
        _is_int(output_channels) and output_channels >= 1,
        f"`output_channels` must be an integer >= 1. Received: output_channels={output_channels!r}",
    )
    _check(
        output_channels == shape[2],
        "The global skip adds the input to the output, so `output_channels` must equal the input channels. "
        f"Received: output_channels={output_channels}, input_shape={shape}",
    )
    check_activation("output_activation", output_activation, allow_none=True)
    return shape


def _positive_int(name: str, value) -> None:
    _check(_is_int(value) and value >= 1, f"`{name}` must be an integer >= 1. Received: {name}={value!r}")


def _int_triple(name: str, value) -> tuple[int, int, int]:
    """Three integers >= 1 (a list or tuple, or a string ``"9-5-5"``); a one-line ValueError otherwise."""
    original = value
    if isinstance(value, str):
        try:
            value = tuple(int(v) for v in value.split("-"))
        except ValueError:
            value = None
    ok = isinstance(value, (list, tuple)) and len(value) == 3 and all(_is_int(v) and v >= 1 for v in value)
    _check(ok, f"`{name}` must be three integers >= 1 (or a string such as '9-5-5'). Received: {name}={original!r}")
    return tuple(int(v) for v in value)  # type: ignore[return-value]


def _check_srcnn(
    input_shape=(64, 64, 1), output_channels=1, filters=64, kernel_sizes=(9, 5, 5), output_activation=None, **_
) -> tuple[tuple[int | None, ...], tuple[int, int, int]]:
    """The arguments :func:`build_srcnn` refuses (also the search's configuration check); the checked shapes."""
    shape = _check_head(input_shape, output_channels, output_activation)
    _positive_int("filters", filters)
    return shape, _int_triple("kernel_sizes", kernel_sizes)


def _check_edsr(
    input_shape=(64, 64, 1),
    output_channels=1,
    blocks=8,
    filters=64,
    kernel_size=3,
    res_scale=0.1,
    output_activation=None,
    **_,
) -> tuple[int | None, ...]:
    """The arguments :func:`build_edsr` refuses (also the search's configuration check); the checked shape."""
    shape = _check_head(input_shape, output_channels, output_activation)
    _positive_int("blocks", blocks)
    _positive_int("filters", filters)
    _positive_int("kernel_size", kernel_size)
    _check(
        isinstance(res_scale, (int, float)) and not isinstance(res_scale, bool) and res_scale > 0,
        f"`res_scale` must be a number > 0. Received: res_scale={res_scale!r}",
    )
    return shape


def _global_skip(inputs, residual, output_activation, name):
    """``output_activation(inputs + residual)``, in float32: ``{name}_skip`` and ``{name}_output``."""
    x = layers.Add(dtype="float32", name=f"{name}_skip")([inputs, residual])
    return layers.Activation(output_activation or "linear", dtype="float32", name=f"{name}_output")(x)


@register("srcnn", tasks=("image_to_image",), check=_check_srcnn)
def build_srcnn(
    input_shape: Sequence[int | None] = (64, 64, 1),
    output_channels: int = 1,
    *,
    filters: int = 64,
    kernel_sizes: Sequence[int] | str = (9, 5, 5),
    output_activation: str | None = None,
    name: str = "srcnn",
) -> keras.Model:
    """SRCNN (Dong et al. 2014) predicting the correction of its bicubic input: ``output = input + net(input)``.

    Three ``"same"``-padded convolutions: patch extraction (``kernel_sizes[0]``,
    ``filters``, ReLU), non-linear mapping (``kernel_sizes[1]``, ``filters // 2``, ReLU)
    and reconstruction (``kernel_sizes[2]``, ``output_channels``, linear, zero-initialised,
    so the untrained model returns its input). Layer names: ``{name}_input``,
    ``{name}_conv1``, ``{name}_conv2``, ``{name}_conv3``, ``{name}_skip`` (the global
    skip) and ``{name}_output`` (``output_activation``, float32).

    Args:
        input_shape: ``(height, width, channels)`` of the (bicubic-upsampled) inputs;
            height and width may be ``None`` for a model of any size. Defaults to `(64, 64, 1)`.
        output_channels: Channels of the output; must equal the input channels (the
            global skip). Defaults to `1`.
        filters: Filters of the first convolution (the width, searchable); the second has
            half as many (at least 1), as SRCNN's 64 and 32. Defaults to `64`.
        kernel_sizes: Kernel sizes of the three convolutions: three integers, or a string
            such as ``"9-5-5"`` (a categorical search value; SRCNN's 9-1-5 and 9-5-5).
            Defaults to `(9, 5, 5)`.
        output_activation: Activation after the global skip, a Keras activation name or
            ``None`` (linear: the bathymetry targets are normalised elevations, not in [0, 1]).
            Defaults to `None`.
        name: Model name and prefix of every layer name. Defaults to `"srcnn"`.

    Returns:
        An uncompiled ``keras.Model``.
    """
    input_shape, kernel_sizes = _check_srcnn(input_shape, output_channels, filters, kernel_sizes, output_activation)

    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = layers.Conv2D(filters, kernel_sizes[0], padding="same", activation="relu", name=f"{name}_conv1")(inputs)
    x = layers.Conv2D(max(1, filters // 2), kernel_sizes[1], padding="same", activation="relu", name=f"{name}_conv2")(x)
    x = layers.Conv2D(
        output_channels, kernel_sizes[2], padding="same", kernel_initializer="zeros", name=f"{name}_conv3"
    )(x)
    return keras.Model(inputs, _global_skip(inputs, x, output_activation, name), name=name)


@register("edsr", tasks=("image_to_image",), check=_check_edsr)
def build_edsr(
    input_shape: Sequence[int | None] = (64, 64, 1),
    output_channels: int = 1,
    *,
    blocks: int = 8,
    filters: int = 64,
    kernel_size: int = 3,
    res_scale: float = 0.1,
    output_activation: str | None = None,
    name: str = "edsr",
) -> keras.Model:
    """EDSR-style residual network (Lim et al. 2017) on the bicubic input, without up-sampling layers.

    ``head`` convolution (``filters``), ``blocks`` residual blocks ``x + res_scale *
    conv(relu(conv(x)))`` (no batch normalisation), a convolution, the long skip from the
    head, a tail convolution to ``output_channels`` (zero-initialised) and the global skip
    over the input, so the untrained model returns its input. All convolutions are
    ``kernel_size`` wide and ``"same"``-padded. Layer names: ``{name}_input``,
    ``{name}_head``; per block ``b = 1 ... blocks``: ``{name}_block{b}_conv1``,
    ``{name}_block{b}_relu``, ``{name}_block{b}_conv2``, ``{name}_block{b}_scale``
    (``Rescaling(res_scale)``), ``{name}_block{b}_add``; then ``{name}_body_conv``,
    ``{name}_long_skip``, ``{name}_tail``, ``{name}_skip`` and ``{name}_output``
    (``output_activation``, float32).

    Args:
        input_shape: ``(height, width, channels)`` of the (bicubic-upsampled) inputs;
            height and width may be ``None``. Defaults to `(64, 64, 1)`.
        output_channels: Channels of the output; must equal the input channels (the
            global skip). Defaults to `1`.
        blocks: Residual blocks (the depth; 16 in the EDSR baseline). Defaults to `8`.
        filters: Filters of every convolution but the tail (the width). Defaults to `64`.
        kernel_size: Size of the convolution kernels. Defaults to `3`.
        res_scale: Scaling of each block's residual branch (0.1 in EDSR), > 0. Defaults to `0.1`.
        output_activation: Activation after the global skip, a Keras activation name or
            ``None`` (linear). Defaults to `None`.
        name: Model name and prefix of every layer name. Defaults to `"edsr"`.

    Returns:
        An uncompiled ``keras.Model``.
    """
    input_shape = _check_edsr(input_shape, output_channels, blocks, filters, kernel_size, res_scale, output_activation)

    def conv(units, layer_name, **kwargs):
        return layers.Conv2D(units, kernel_size, padding="same", name=layer_name, **kwargs)

    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    head = conv(filters, f"{name}_head")(inputs)
    x = head
    for b in range(1, blocks + 1):
        prefix = f"{name}_block{b}"
        y = conv(filters, f"{prefix}_conv1")(x)
        y = layers.ReLU(name=f"{prefix}_relu")(y)
        y = conv(filters, f"{prefix}_conv2")(y)
        y = layers.Rescaling(float(res_scale), name=f"{prefix}_scale")(y)
        x = layers.Add(name=f"{prefix}_add")([x, y])
    x = conv(filters, f"{name}_body_conv")(x)
    x = layers.Add(name=f"{name}_long_skip")([head, x])
    x = conv(output_channels, f"{name}_tail", kernel_initializer="zeros")(x)
    return keras.Model(inputs, _global_skip(inputs, x, output_activation, name), name=name)
