"""pix2pix: a U-Net generator trained against a PatchGAN discriminator (Isola et al. 2017).

P. Isola, J.-Y. Zhu, T. Zhou and A. A. Efros, "Image-to-Image Translation with
Conditional Adversarial Networks", CVPR 2017. The generator maps an input image to an
output image; the discriminator sees the input image beside a target, real or
generated, and scores each patch of it as real or fake (a map of logits, not one
score). The generator learns from ``gan_loss + lambda_l1 * reconstruction``: the
adversarial term makes outputs sharp, the L1 term keeps them on the target. The
sharpness is partly invented: where the input does not determine the output, the
generator draws plausible detail rather than the blurred average an L1- or L2-trained
U-Net gives.

    >>> from keras_geo.models import build_pix2pix
    >>> model = build_pix2pix((64, 64, 1), depth=3, filters=16)
    >>> model.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), loss="mae")
    >>> model.fit(noisy, clean, epochs=50)   # logs loss (the L1 term), g_loss, gan_loss, d_loss
    >>> restored = model.predict(noisy_test)  # the generator alone

:class:`Pix2Pix` is a ``keras.Model`` whose ``call`` is the generator, so prediction,
evaluation and the image-to-image task treat it as they treat a U-Net; only
``fit`` differs. Its ``train_step`` uses ``tf.GradientTape``: training needs the
TensorFlow backend (inference does not).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from keras_geo.models._adversarial import Pix2Pix, _check_lambda
from keras_geo.models._checks import _check, _image_shape, _is_int
from keras_geo.models._registry import register
from keras_geo.models.unet import build_unet, check_normalization, normalization_layer

__all__ = ["Pix2Pix", "build_patchgan", "build_pix2pix", "patchgan_receptive_field"]


def patchgan_receptive_field(layers: int) -> int:
    """Side in pixels of the input patch that one logit of :func:`build_patchgan` sees.

    The discriminator stacks ``layers`` 4x4 convolutions of stride 2 and two of stride 1.
    A convolution of kernel ``k`` after convolutions of total stride ``s`` widens the
    field by ``(k - 1) * s``, so the field is
    ``1 + 3 * (1 + 2 + ... + 2**(layers - 1)) + 2 * 3 * 2**layers = 9 * 2**layers - 2``:
    16, 34, 70 and 142 pixels for 1 to 4 layers (70 is the paper's "70x70 PatchGAN").

    Args:
        layers: The discriminator's stride-2 blocks, an integer >= 1.

    Returns:
        The receptive field, ``9 * 2**layers - 2``.
    """
    _check(_is_int(layers) and layers >= 1, f"`layers` must be an integer >= 1. Received: layers={layers!r}")
    return 9 * 2**layers - 2


def build_patchgan(
    input_shape: Sequence[int | None],
    target_channels: int = 1,
    *,
    filters: int = 32,
    layers: int = 2,
    normalization: str = "batch",
    bn_momentum: float = 0.9,
    name: str = "patchgan",
) -> keras.Model:
    """PatchGAN discriminator: a map of real/fake logits, one per overlapping patch of an image pair.

    The input image and a target image (real or generated) are concatenated on the
    channels; ``layers`` blocks of a 4x4 convolution of stride 2, normalisation (none on
    the first block) and LeakyReLU(0.2) follow, then one such block of stride 1, then a
    4x4 convolution of stride 1 to one channel of logits. Block ``b`` has
    ``filters * 2**min(b - 1, 3)`` filters (the paper's cap at 8x). Each logit sees a
    patch of ``9 * 2**layers - 2`` pixels (:func:`patchgan_receptive_field`): 34 at the
    default ``layers=2``, about half of a 64x64 image, so the discriminator judges
    texture and local structure, not the layout of the whole image. Convolutions pad
    ("same"), so the map has ``ceil(height / 2**layers) x ceil(width / 2**layers)``
    logits (16x16 for 64x64 images).

    Layer names: ``{name}_input`` (the input image), ``{name}_target`` (the real or
    generated target), ``{name}_concat``; ``{name}_block{b}_conv``, ``..._bn`` (batch) or
    ``..._in`` (instance), ``..._act`` for ``b = 1 ... layers + 1`` (the last has stride
    1; block 1 has no normalisation); and ``{name}_logits``, which computes in float32.
    Call it on a list: ``discriminator([inputs, targets])``.

    Args:
        input_shape: ``(height, width, channels)`` of the input images; height and width
            may be ``None``.
        target_channels: Channels of the target images. Defaults to `1`.
        filters: Filters of the first block. Defaults to `32`.
        layers: Number of stride-2 blocks; sets the receptive field (above). Defaults to `2`.
        normalization: ``"batch"``, ``"instance"`` (per-sample, per-channel:
            ``GroupNormalization(groups=-1)``) or ``"none"``, as in
            :func:`~keras_geo.models.build_unet`. Defaults to `"batch"`.
        bn_momentum: Momentum of the batch-norm moving statistics. Defaults to `0.9`.
        name: Model name and prefix of every layer name. Defaults to `"patchgan"`.

    Returns:
        An uncompiled ``keras.Model`` with inputs ``[image, target]`` and output
        ``(batch, ceil(height / 2**layers), ceil(width / 2**layers), 1)`` logits.
    """
    input_shape = _image_shape(input_shape)
    _check(
        _is_int(target_channels) and target_channels >= 1,
        f"`target_channels` must be an integer >= 1. Received: target_channels={target_channels!r}",
    )
    _check(_is_int(filters) and filters >= 1, f"`filters` must be an integer >= 1. Received: filters={filters!r}")
    _check(_is_int(layers) and layers >= 1, f"`layers` must be an integer >= 1. Received: layers={layers!r}")
    check_normalization(normalization)
    _check(0 <= bn_momentum < 1, f"`bn_momentum` must be in [0, 1). Received: bn_momentum={bn_momentum}")

    image = keras.Input(shape=input_shape, name=f"{name}_input")
    target = keras.Input(shape=(*input_shape[:2], target_channels), name=f"{name}_target")
    x = keras.layers.Concatenate(name=f"{name}_concat")([image, target])
    for b in range(1, layers + 2):
        block = f"{name}_block{b}"
        norm = None if b == 1 else normalization_layer(normalization, bn_momentum=bn_momentum, name=block)
        x = keras.layers.Conv2D(
            filters * 2 ** min(b - 1, 3),
            4,
            strides=2 if b <= layers else 1,
            padding="same",
            use_bias=norm is None,
            name=f"{block}_conv",
        )(x)
        if norm is not None:
            x = norm(x)
        x = keras.layers.LeakyReLU(0.2, name=f"{block}_act")(x)
    logits = keras.layers.Conv2D(1, 4, padding="same", dtype="float32", name=f"{name}_logits")(x)
    return keras.Model([image, target], logits, name=name)


@register("pix2pix", tasks=("image_to_image",))
def build_pix2pix(
    input_shape: Sequence[int | None] = (64, 64, 1),
    output_channels: int = 1,
    *,
    depth: int = 3,
    filters: int = 16,
    normalization: str = "batch",
    upsampling: str = "transpose",
    dropout: float = 0.0,
    output_activation: str | None = "sigmoid",
    lambda_l1: float = 100.0,
    disc_filters: int = 32,
    disc_layers: int = 2,
    name: str = "pix2pix",
) -> Pix2Pix:
    """pix2pix: a U-Net generator trained against a PatchGAN discriminator, for sharp image-to-image maps.

    The generator is :func:`~keras_geo.models.build_unet` named ``{name}_generator``
    (so its layers are ``{name}_generator_down1_conv1``, ...), the discriminator
    :func:`build_patchgan` named ``{name}_discriminator``, seeing the input image and a
    target of ``output_channels`` channels. Differences from the paper: the U-Net is
    keras-geo's (max pooling and ReLU, dropout after the bottleneck only, not LeakyReLU
    strided convolutions with dropout as noise in the decoder), and the
    weights start from Keras' default initialisers, not N(0, 0.02).

    Args:
        input_shape: ``(height, width, channels)`` of the input images; height and
            width divisible by ``2**depth`` (or ``None``). Defaults to `(64, 64, 1)`.
        output_channels: Channels of the output images. Defaults to `1`.
        depth: The generator's down-sampling blocks. Defaults to `3`.
        filters: Filters of the generator's first block. Defaults to `16`.
        normalization: Normalisation of the generator and the discriminator:
            ``"batch"``, ``"instance"`` or ``"none"`` (see
            :func:`~keras_geo.models.build_unet`: instance normalisation removes each
            image's brightness and contrast, which a restoration must keep). Defaults
            to `"batch"`.
        upsampling: The generator's up-sampling, ``"transpose"`` or ``"bilinear"``.
            Defaults to `"transpose"`.
        dropout: Rate of the dropout after the generator's bottleneck. Defaults to `0.0`.
        output_activation: Activation of the generator's output, or ``None`` for a
            linear output. Defaults to `"sigmoid"`.
        lambda_l1: Weight of the reconstruction loss in the generator's loss, >= 0 (100
            in the paper; 0 trains on the adversarial loss alone). Defaults to `100.0`.
        disc_filters: Filters of the discriminator's first block. Defaults to `32`.
        disc_layers: The discriminator's stride-2 blocks; each logit sees a patch of
            ``9 * 2**disc_layers - 2`` pixels (34 at the default, for 64x64 images; 3
            gives the paper's 70 for 256x256 images). Defaults to `2`.
        name: Model name and prefix of the sub-models' names. Defaults to `"pix2pix"`.

    Returns:
        An uncompiled :class:`Pix2Pix`; compile it as a U-Net (``loss`` is the
        reconstruction term) and fit it on (input, target) pairs.
    """
    lambda_l1 = _check_lambda(lambda_l1)
    _check(
        _is_int(disc_filters) and disc_filters >= 1,
        f"`disc_filters` must be an integer >= 1. Received: disc_filters={disc_filters!r}",
    )
    _check(
        _is_int(disc_layers) and disc_layers >= 1,
        f"`disc_layers` must be an integer >= 1. Received: disc_layers={disc_layers!r}",
    )
    _check(isinstance(name, str) and name != "", f"`name` must be a non-empty string. Received: name={name!r}")
    generator = build_unet(
        input_shape,
        output_channels,
        depth=depth,
        filters=filters,
        normalization=normalization,
        upsampling=upsampling,
        dropout=dropout,
        output_activation=output_activation,
        name=f"{name}_generator",
    )
    discriminator = build_patchgan(
        generator.input_shape[1:],
        output_channels,
        filters=disc_filters,
        layers=disc_layers,
        normalization=normalization,
        name=f"{name}_discriminator",
    )
    return Pix2Pix(generator, discriminator, lambda_l1=lambda_l1, name=name)
