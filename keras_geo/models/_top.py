"""The Keras-applications contract every keras-geo builder follows: ``include_top``, ``n_classes``, ``classifier_activation``.

A task gives a builder its head arguments (:meth:`keras_geo.tasks.Task.head_arguments`):
a classifier gets ``n_classes`` and a softmax, a regression model ``n_classes`` outputs and
no activation. :func:`top` builds that output the same way for every family.
"""

from __future__ import annotations

import keras
from keras import layers

__all__ = ["check_activation", "check_top", "top"]


def top(x, n_outputs: int, activation: str | None, *, name: str, kernel_regularizer=None):
    """The output layers of a keras-geo model: ``Dense(n_outputs)``, then ``activation`` as its own layer.

    Keeping the activation (softmax for classifiers) in a separate ``Activation`` layer named
    ``{name}_predictions`` leaves the logits readable as the output of ``{name}_logits``, which
    Grad-CAM differentiates, and computes exactly what ``Dense(activation=...)`` does. With
    ``activation=None`` (logits, or a regression head) the dense layer itself is ``{name}_predictions``.
    Under a ``mixed_*`` dtype policy that last layer computes in float32.
    """
    # Under a mixed-precision policy the output is computed in float32 (Keras' advice: a float16
    # softmax or regression output loses precision and overflows).
    output_dtype = "float32" if keras.mixed_precision.global_policy().name.startswith("mixed") else None
    if activation is None or activation == "linear":
        return layers.Dense(
            n_outputs, kernel_regularizer=kernel_regularizer, dtype=output_dtype, name=f"{name}_predictions"
        )(x)
    x = layers.Dense(n_outputs, kernel_regularizer=kernel_regularizer, name=f"{name}_logits")(x)
    return layers.Activation(activation, dtype=output_dtype, name=f"{name}_predictions")(x)


def check_top(include_top: bool, n_classes: int, classifier_activation: str | None) -> None:
    """Checks the Keras-applications arguments every keras-geo builder takes."""
    if not isinstance(include_top, bool):
        raise ValueError(f"`include_top` must be true or false. Received: include_top={include_top!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise ValueError(f"`n_classes` must be an integer >= 1. Received: n_classes={n_classes!r}")
    check_activation("classifier_activation", classifier_activation, allow_none=True, none_means="logits")


def check_activation(name: str, value, *, allow_none: bool = False, none_means: str = "") -> None:
    """Checks that ``value`` is a Keras activation (or None, where ``allow_none``): one line naming ``name``."""
    if value is None and allow_none:
        return
    try:
        keras.activations.get(value)
    except (ValueError, TypeError):
        alternative = (f" or None ({none_means})" if none_means else " or None") if allow_none else ""
        raise ValueError(f"`{name}` must be a Keras activation name{alternative}. Received: {name}={value!r}") from None
