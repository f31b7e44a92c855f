"""Transfer learning: a MobileNetV2 base (``keras.applications``) under a small classification head.

Seed 002 classified flower photographs with an ImageNet MobileNetV2 whose base was
frozen. keras-geo never downloads anything: ``weights`` is ``None`` (random
initialisation) or the path of a local weights file for the base without its top
(``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5`` from
Keras' releases, downloaded once by you, or a ``.weights.h5`` you saved).

The model takes images in [0, 1] (what keras-geo's loaders give) and rescales them
to MobileNetV2's [-1, 1] inside, so saved models need no separate preprocessing.
Grey images are repeated to three channels. A pretrained base runs in inference
mode (``training=False``) so that its batch-norm statistics are kept when it is
fine-tuned, as Keras' transfer-learning guide recommends; a random base
(``weights=None``) learns them.
"""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers

from keras_geo.models._registry import register
from keras_geo.models._top import check_top, top

__all__ = ["build_mobilenet_v2_classifier"]


@register("mobilenet_v2", tasks=("classification", "regression"))
def build_mobilenet_v2_classifier(
    input_shape: tuple[int, int, int] = (96, 96, 3),
    n_classes: int = 5,
    *,
    include_top: bool = True,
    pooling: str | None = "avg",
    classifier_activation: str | None = "softmax",
    weights: str | Path | None = None,
    alpha: float = 1.0,
    trainable_base: bool = False,
    fine_tune_layers: int = 0,
    dropout: float = 0.2,
    dense_units: int = 0,
    bn_momentum: float | None = None,
    name: str = "mobilenet_v2_classifier",
) -> keras.Model:
    """MobileNetV2 transfer classifier: a (frozen) MobileNetV2 base, global average pooling, dropout, softmax.

    Args:
        input_shape: ``(height, width, channels)``, each side at least 32, channels 1 or 3.
            Defaults to `(96, 96, 3)`.
        n_classes: Outputs (classes). Defaults to `5`.
        include_top: Whether to add the head (dropout, optional dense layer, output).
            Defaults to `True`.
        pooling: How the base's feature map becomes a vector: ``"avg"`` or ``"max"``;
            ``None`` keeps the 4-D feature map (only with ``include_top=False``), as in
            ``keras.applications``. Defaults to `"avg"`.
        classifier_activation: Activation of the output layer, as its own layer after
            ``{name}_logits``; ``None`` gives logits (or a linear regression output).
            Defaults to `"softmax"`.
        weights: ``None`` for random weights, or the path of a local weights file of the base
            without its top (never a download; ``"imagenet"`` is refused with the file to get).
        alpha: Width multiplier of MobileNetV2 (0.35, 0.5, 0.75, 1.0, 1.3, 1.4). Defaults to `1.0`.
        trainable_base: Train the whole base. Defaults to `False` (frozen: only the head learns).
        fine_tune_layers: Unfreeze the last this many layers of the base (0 = none);
            searchable, e.g. 0 to 60. Defaults to `0`.
        dropout: Dropout before the output layer. Defaults to `0.2`.
        dense_units: A hidden dense layer of this width before the output (0 = none, which
            keeps the model CAM-compatible). Defaults to `0`.
        bn_momentum: Momentum of the base's batch-norm statistics. Defaults to `0.9` for a
            random base (Keras' 0.999 leaves the inference statistics at their initial values
            after the few hundred steps a small set gives, and the model predicts one class)
            and to the file's value for pretrained weights.
        name: Model name; the base is ``{name}_base``.

    Returns:
        An uncompiled ``keras.Model`` taking images in [0, 1].

    Raises:
        ValueError: for impossible arguments, or ``weights="imagenet"``.
        FileNotFoundError: if the weights file does not exist.
    """
    height, width, channels = (int(v) for v in input_shape)
    if height < 32 or width < 32:
        raise ValueError(f"MobileNetV2 needs images of at least 32x32. Received: input_shape={tuple(input_shape)}")
    if channels not in (1, 3):
        raise ValueError(f"input channels must be 1 or 3. Received: input_shape={tuple(input_shape)}")
    check_top(include_top, n_classes, classifier_activation)
    if pooling not in ("avg", "max") and not (pooling is None and not include_top):
        raise ValueError(
            f"`pooling` must be 'avg' or 'max' (or None with include_top=False). Received: pooling={pooling!r}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1). Received: dropout={dropout}")
    if fine_tune_layers < 0:
        raise ValueError(f"fine_tune_layers must be >= 0. Received: fine_tune_layers={fine_tune_layers}")
    if weights is not None and str(weights) == "imagenet":
        raise ValueError(
            "keras-geo never downloads weights. Download MobileNetV2's no-top ImageNet file once "
            "(mobilenet_v2_weights_tf_dim_ordering_tf_kernels_<alpha>_<size>_no_top.h5 from "
            "https://github.com/keras-team/keras-applications/releases) and pass its path, or use weights=None"
        )
    if weights is not None and not Path(weights).is_file():
        raise FileNotFoundError(
            f"MobileNetV2 weights file not found: {weights}. Pass the path of a local weights file of the "
            "base without its top, or weights=None for random initialisation (keras-geo never downloads)."
        )

    inputs = keras.Input((height, width, channels), name=f"{name}_input")
    x = layers.Rescaling(2.0, offset=-1.0, name=f"{name}_rescale")(inputs)  # [0, 1] -> [-1, 1]
    if channels == 1:
        x = layers.Concatenate(name=f"{name}_rgb")([x, x, x])
    base = keras.applications.MobileNetV2(
        input_shape=(height, width, 3),
        include_top=False,
        weights=None if weights is None else str(weights),
        alpha=alpha,
        pooling=None,
    )
    base.name = f"{name}_base"
    momentum = bn_momentum if bn_momentum is not None else (0.9 if weights is None else None)
    if momentum is not None:
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = float(momentum)
    base.trainable = bool(trainable_base or fine_tune_layers)
    if fine_tune_layers and not trainable_base:
        for layer in base.layers[: max(0, len(base.layers) - fine_tune_layers)]:
            layer.trainable = False
    # A pretrained base keeps its batch-norm statistics (inference mode, also when fine-tuned);
    # a random one must learn them.
    x = base(x, training=False) if weights is not None else base(x)
    if pooling == "avg":
        x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name=f"{name}_pool")(x)
    if not include_top:
        return keras.Model(inputs, x, name=name)
    if dense_units:
        x = layers.Dense(int(dense_units), activation="relu", name=f"{name}_dense")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return keras.Model(inputs, top(x, n_classes, classifier_activation, name=name), name=name)
