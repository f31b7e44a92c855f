"""Class activation maps: Grad-CAM, Grad-CAM++ and CAM, batched, on any Keras model keras-geo builds.

Where the network looks when it decides: a heatmap over the input, hot where the
feature map that feeds the decision supports the target class.

* :func:`grad_cam` (Selvaraju et al., 2017): the feature maps ``A_k`` of a
  convolutional layer, weighted by the spatial mean of the gradient of the class
  score with respect to them, summed, ReLU.
* :func:`grad_cam_plus_plus` (Chattopadhay et al., 2018): pixel-wise weights from
  the second and third powers of the gradient (the closed form for an
  exponentiated score), which spreads the map over several instances of a class.
* :func:`cam` (Zhou et al., 2016): for networks ending in global average pooling
  and a dense layer, the dense layer's weights of the class applied to the last
  feature maps. On such networks Grad-CAM of the pre-softmax score gives the
  same map up to a positive factor (tested).

All three take a whole batch at once: one forward and one gradient pass for all
images, since the score of image ``i`` depends only on image ``i`` (inference
mode). The class score is the pre-softmax logit (``score="logit"``, the papers'
choice; a softmax output saturates and its gradient mixes the other classes).

The layer defaults to the last layer with a 4-D output (batch, height, width,
channels), found also inside nested models, such as a MobileNetV2 base wrapped in a
classifier, where building ``keras.Model(inputs, inner_layer.output)`` fails with
"Graph disconnected". Instead of rebuilding any graph, the feature map is taken as
the layer computes it during the ordinary forward pass (the layer's ``call`` is
wrapped for the duration of the pass and restored after), so every kind of model
works: Sequential, functional, nested or subclassed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import keras
import numpy as np

__all__ = ["cam", "feature_layer", "grad_cam", "grad_cam_plus_plus"]

_EPS = 1e-7


def _walk(model: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    """Every layer of ``model`` in order, descending into nested models (depth first)."""
    for layer in getattr(model, "layers", []):
        yield layer
        if getattr(layer, "layers", None):
            yield from _walk(layer)


def _output_rank(layer: keras.layers.Layer) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):  # a layer never called symbolically, or used several times
        return None


def feature_layer(model: keras.Model, layer: str | keras.layers.Layer | None = None) -> keras.layers.Layer:
    """The layer whose feature maps a CAM weighs: ``layer`` by name or object, else the last 4-D one.

    Names are looked up in nested models too. Pooling layers are passed over when
    choosing automatically: their maps are coarser copies of the layer before.

    Raises:
        ValueError: if the name is unknown or no layer has a 4-D output.
    """
    layers = list(_walk(model))
    if isinstance(layer, keras.layers.Layer):
        return layer
    if isinstance(layer, str):
        for candidate in layers:
            if candidate.name == layer:
                return candidate
        raise ValueError(f"no layer named {layer!r} in model {model.name!r} (nested models included)")
    for candidate in reversed(layers):
        if getattr(candidate, "layers", None) or isinstance(candidate, keras.layers.InputLayer):
            continue
        if "pool" in type(candidate).__name__.lower():
            continue
        if _output_rank(candidate) == 4:
            return candidate
    raise ValueError(f"model {model.name!r} has no layer with a 4-D (batch, height, width, channels) output to explain")


def _leaves(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's layers that hold no layers themselves, in order (nested models opened)."""
    return [layer for layer in _walk(model) if not getattr(layer, "layers", None)]


def _output_layers(model: keras.Model) -> tuple[keras.layers.Layer, keras.layers.Layer | None]:
    """``(dense, activation)``: the model's output dense layer and the ``Activation`` layer after it, if any.

    keras-geo builders end in ``Dense`` + ``Activation`` (``{name}_logits``, ``{name}_predictions``);
    models saved by earlier versions, and many others, end in ``Dense(activation=...)``.
    """
    leaves = _leaves(model)
    last = leaves[-1]
    if isinstance(last, keras.layers.Activation) and len(leaves) > 1:
        return leaves[-2], last
    return last, None


@contextlib.contextmanager
def _capture(target: keras.layers.Layer, tape: Any, into: list) -> Iterator[None]:
    """Wraps ``target.call`` so that its output is watched by ``tape`` and kept in ``into``."""
    original = target.call

    def call(*args: Any, **kwargs: Any) -> Any:
        output = original(*args, **kwargs)
        tape.watch(output)
        into.append(output)
        return output

    target.call = call
    try:
        yield
    finally:
        del target.call  # back to the class's method


@contextlib.contextmanager
def _logits(model: keras.Model, score: str) -> Iterator[list]:
    """For ``score="logit"``: a list that holds the model's logits after the forward pass (empty: use the output).

    Nothing in the model is changed. The logits are the input of a final ``Activation``
    layer (the keras-geo builders' ``{name}_predictions``), or, for a model ending in
    ``Dense(activation="softmax")``, that dense layer's input times its kernel plus bias,
    computed inside the gradient tape.
    """
    if score not in ("logit", "output"):
        raise ValueError(f"score must be 'logit' or 'output'. Received: score={score!r}")
    found: list = []
    if score == "output":
        yield found
        return
    dense, activation = _output_layers(model)
    if activation is not None and activation.activation is not keras.activations.linear:
        watched, take = activation, lambda inputs: inputs
    elif isinstance(dense, keras.layers.Dense) and dense.activation is not keras.activations.linear:

        def take(inputs):
            logits = keras.ops.matmul(inputs, dense.kernel)
            return logits if dense.bias is None else logits + dense.bias

        watched = dense
    else:
        yield found
        return
    original = watched.call

    def call(inputs: Any, *args: Any, **kwargs: Any) -> Any:
        found.append(take(inputs))
        return original(inputs, *args, **kwargs)

    watched.call = call
    try:
        yield found
    finally:
        del watched.call  # back to the class's method


def _as_batch(model: keras.Model, images: Any) -> np.ndarray:
    """A float32 batch for ``model``: a batch as is, one image gets a batch axis, grey images a channel axis."""
    batch = np.asarray(images, dtype="float32")
    shape = tuple(model.inputs[0].shape)  # (None, height, width, channels)
    if batch.ndim == len(shape) - 2 and shape[-1] == 1:
        batch = batch[None, ..., None]  # one grey image without a channel axis
    elif batch.ndim == len(shape) - 1:
        # (n, h, w) grey images for a one-channel model, else one (h, w, c) image.
        batch = batch[..., None] if shape[-1] == 1 and batch.shape[-1] != 1 else batch[None]
    if batch.ndim != len(shape) or batch.shape[-1] != shape[-1]:
        raise ValueError(
            f"images must have shape {shape} (batch first) or be one such image; received {np.shape(images)}"
        )
    return batch


def _classes(class_index: int | Sequence[int] | None, predictions: np.ndarray) -> np.ndarray:
    n = predictions.shape[0]
    if class_index is None:
        return predictions.argmax(axis=-1)
    classes = np.broadcast_to(np.asarray(class_index, dtype=int), (n,)).copy()
    bad = classes[(classes < 0) | (classes >= predictions.shape[-1])]
    if bad.size:
        raise ValueError(f"class_index {int(bad[0])} is outside 0..{predictions.shape[-1] - 1}")
    return classes


def _forward(model, images, class_index, layer, score):
    """One forward and gradient pass: (feature maps, gradients, logits-or-outputs, classes)."""
    import tensorflow as tf

    target = feature_layer(model, layer)
    batch = _as_batch(model, images)
    captured: list = []
    with tf.GradientTape() as tape, _capture(target, tape, captured), _logits(model, score) as logits:
        outputs = model(batch, training=False)
        if isinstance(outputs, (list, tuple)):
            outputs = outputs[0]
        if logits:
            outputs = logits[-1]
        outputs_np = keras.ops.convert_to_numpy(outputs)
        classes = _classes(class_index, outputs_np)
        picked = tf.gather(outputs, classes, axis=-1, batch_dims=1)
        total = tf.reduce_sum(picked)
    if not captured:
        raise ValueError(f"layer {target.name!r} did not run in the forward pass of {model.name!r}")
    features = captured[-1]
    gradients = tape.gradient(total, features)
    if gradients is None:
        raise ValueError(f"the class score does not depend on layer {target.name!r}; choose another layer")
    return (
        keras.ops.convert_to_numpy(features),
        keras.ops.convert_to_numpy(gradients),
        outputs_np,
        classes,
        batch.shape[1:3],
    )


def _finish(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """ReLU, resize to the input size, and scale each map to [0, 1] (an all-zero map stays zero)."""
    import cv2

    maps = np.maximum(maps, 0.0)
    out = np.empty((maps.shape[0], *size), dtype="float32")
    for i, heat in enumerate(maps):
        resized = cv2.resize(heat.astype("float32"), (int(size[1]), int(size[0])), interpolation=cv2.INTER_LINEAR)
        resized = np.maximum(resized, 0.0)
        peak = float(resized.max())
        out[i] = resized / peak if peak > _EPS else 0.0
    return out


def grad_cam(
    model: keras.Model,
    images: Any,
    class_index: int | Sequence[int] | None = None,
    layer: str | keras.layers.Layer | None = None,
    *,
    score: str = "logit",
) -> np.ndarray:
    """Grad-CAM heatmaps for a batch of images, in one gradient pass.

    Args:
        model: A Keras model (nested models are fine).
        images: A batch ``(n, height, width, channels)`` or one image, scaled as the model expects.
        class_index: The class to explain: one for all images, one per image, or
            ``None`` for each image's predicted class. Defaults to `None`.
        layer: The convolutional layer (name or object), also inside a nested model.
            Defaults to the last layer with a 4-D output (:func:`feature_layer`).
        score: ``"logit"`` differentiates the output layer's pre-activation (the logits
            before the softmax or sigmoid); ``"output"`` the output as it is.
            Defaults to `"logit"`.

    Returns:
        ``(n, height, width)`` float32 heatmaps in [0, 1] at the input size.
    """
    features, gradients, _, _, size = _forward(model, images, class_index, layer, score)
    weights = gradients.mean(axis=(1, 2), keepdims=True)
    return _finish((weights * features).sum(axis=-1), size)


def grad_cam_plus_plus(
    model: keras.Model,
    images: Any,
    class_index: int | Sequence[int] | None = None,
    layer: str | keras.layers.Layer | None = None,
    *,
    score: str = "logit",
) -> np.ndarray:
    """Grad-CAM++ heatmaps for a batch of images (same arguments and result as :func:`grad_cam`).

    The weights are ``sum_ij alpha_ij * relu(dY/dA_ij)`` with
    ``alpha = g^2 / (2 g^2 + sum_ab A_ab g^3)``, the closed form for an exponentiated
    class score ``Y = exp(S)``.
    """
    features, gradients, _, _, size = _forward(model, images, class_index, layer, score)
    g2, g3 = gradients**2, gradients**3
    denominator = 2.0 * g2 + features.sum(axis=(1, 2), keepdims=True) * g3
    alpha = g2 / np.where(np.abs(denominator) > _EPS, denominator, 1.0)
    weights = (alpha * np.maximum(gradients, 0.0)).sum(axis=(1, 2), keepdims=True)
    return _finish((weights * features).sum(axis=-1), size)


def cam(
    model: keras.Model,
    images: Any,
    class_index: int | Sequence[int] | None = None,
    layer: str | keras.layers.Layer | None = None,
) -> np.ndarray:
    """Class activation maps (Zhou et al.) for models ending in global average pooling and a dense layer.

    The dense layer's kernel column of the class weighs the feature maps of ``layer``
    (default: the last 4-D layer, which must feed the pooling). No gradient is needed.

    Raises:
        ValueError: if the model does not end in global average pooling + dense (with
            at most dropout between), or the feature maps do not match the kernel.
    """
    import tensorflow as tf

    flat = _leaves(model)
    dense, _ = _output_layers(model)
    before = flat[: flat.index(dense)] if dense in flat else flat[:-1]
    between = [type(lay).__name__ for lay in before][::-1]
    passes = ("Dropout", "SpatialDropout2D", "Activation")
    pool_index = next((i for i, name in enumerate(between) if name not in passes), None)
    if (
        not isinstance(dense, keras.layers.Dense)
        or pool_index is None
        or between[pool_index] != "GlobalAveragePooling2D"
    ):
        raise ValueError(
            f"cam() needs a model ending in GlobalAveragePooling2D + Dense; use grad_cam() for {model.name!r}"
        )
    target = feature_layer(model, layer)
    batch = _as_batch(model, images)
    captured: list = []
    with tf.GradientTape() as tape, _capture(target, tape, captured):
        outputs = keras.ops.convert_to_numpy(model(batch, training=False))
    features = keras.ops.convert_to_numpy(captured[-1])
    kernel = keras.ops.convert_to_numpy(dense.kernel)
    if features.shape[-1] != kernel.shape[0]:
        raise ValueError(
            f"layer {target.name!r} has {features.shape[-1]} channels but the dense layer takes {kernel.shape[0]}"
        )
    classes = _classes(class_index, outputs)
    weights = kernel[:, classes].T[:, None, None, :]  # (n, 1, 1, channels)
    return _finish((weights * features).sum(axis=-1), batch.shape[1:3])
