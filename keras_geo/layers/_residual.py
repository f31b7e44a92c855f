"""Small layers of modern residual networks: per-channel layer scale and stochastic depth."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

__all__ = ["LayerScale", "StochasticDepth"]


@keras.saving.register_keras_serializable(package="keras_geo")
class LayerScale(keras.layers.Layer):
    """Multiplies each channel by a learned scale, initialised small (ConvNeXt, CaiT).

    A residual branch that starts near zero leaves a deep network close to the
    identity at initialisation; the scales grow as the branch learns.

    Args:
        init_value: The scales' initial value. Defaults to `1e-6` (ConvNeXt).
        **kwargs: ``keras.layers.Layer`` arguments.
    """

    def __init__(self, init_value: float = 1e-6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(init_value, bool) or not isinstance(init_value, (int, float)) or not math.isfinite(init_value):
            raise ValueError(f"`init_value` must be a finite number. Received: init_value={init_value!r}")
        self.init_value = float(init_value)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.gamma = self.add_weight(
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.init_value),
            name="gamma",
        )

    def call(self, inputs: Any) -> Any:
        return inputs * ops.cast(self.gamma, inputs.dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "init_value": self.init_value}


@keras.saving.register_keras_serializable(package="keras_geo")
class StochasticDepth(keras.layers.Layer):
    """Drops a residual branch for whole samples while training (Huang et al., 2016; "drop path").

    In training each sample's branch is zeroed with probability ``rate`` and the
    others are scaled by ``1 / (1 - rate)``; in inference the layer is the identity.

    Args:
        rate: The drop probability, in [0, 1). Defaults to `0.0`.
        seed: Seed of the layer's random stream. Defaults to `None`.
        **kwargs: ``keras.layers.Layer`` arguments.
    """

    def __init__(self, rate: float = 0.0, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"`rate` must be a number in [0, 1). Received: rate={rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        mask = ops.floor(keep + keras.random.uniform(shape, seed=self.seed_generator, dtype=inputs.dtype))
        return inputs * mask / ops.cast(keep, inputs.dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
