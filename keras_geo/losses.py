"""Custom losses, registered serialisable so that saved models load after ``import keras_geo``."""
from __future__ import annotations

import keras
from keras import ops

__all__ = ["SparseSmoothedCrossentropy"]


@keras.saving.register_keras_serializable(package="keras_geo")
class SparseSmoothedCrossentropy(keras.losses.Loss):
    """Categorical cross-entropy with label smoothing on integer labels.

    Keras' ``SparseCategoricalCrossentropy`` has no label smoothing; this one-hot
    encodes the integer labels inside the loss, so the data stay integer labels.

    Args:
        n_classes: Number of classes (the model's output width).
        label_smoothing: Weight moved from the true class to all classes, in [0, 1).
            Defaults to `0.1`.
    """

    def __init__(self, n_classes: int, label_smoothing: float = 0.1, name: str = "sparse_smoothed_crossentropy",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"`label_smoothing` must be in [0, 1). Received: label_smoothing={label_smoothing}")
        self.n_classes = int(n_classes)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        return keras.losses.categorical_crossentropy(
            ops.one_hot(labels, self.n_classes), y_pred, label_smoothing=self.label_smoothing
        )

    def get_config(self) -> dict:
        return {**super().get_config(), "n_classes": self.n_classes, "label_smoothing": self.label_smoothing}
