"""The :class:`Pix2Pix` model: a generator and a conditional discriminator with their own ``train_step``.

The builders are in :mod:`keras_geo.models.pix2pix`. The class lives apart from them and
imports nothing of :mod:`keras_geo.models` but its checks: ``import keras_geo`` registers
it with Keras the moment Keras loads, which may happen while :mod:`keras_geo.models` is
itself being imported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_geo.models._checks import _check

__all__ = ["Pix2Pix"]

_GAN_LOGS = ("g_loss", "gan_loss", "d_loss")


def _check_lambda(lambda_l1: Any) -> float:
    _check(
        isinstance(lambda_l1, (int, float)) and not isinstance(lambda_l1, bool) and math.isfinite(lambda_l1),
        f"`lambda_l1` must be a finite number >= 0. Received: lambda_l1={lambda_l1!r}",
    )
    _check(lambda_l1 >= 0, f"`lambda_l1` must be a finite number >= 0. Received: lambda_l1={lambda_l1!r}")
    return float(lambda_l1)


@keras.saving.register_keras_serializable(package="keras_geo")
class Pix2Pix(keras.Model):
    """A generator and a conditional discriminator trained adversarially; calling it runs the generator.

    ``model(x)``, ``predict``, ``evaluate`` and saving work as for the generator alone;
    ``fit`` makes, per batch, one update of the generator on
    ``gan_loss + lambda_l1 * loss`` and one of the discriminator on
    ``d_loss = 0.5 * (BCE(real patches, 1) + BCE(generated patches, 0))``, both from
    the same forward pass (as the TensorFlow pix2pix tutorial does), with
    ``gan_loss = BCE(generated patches, 1)`` (binary cross-entropy on the patch
    logits, averaged over the patches).

    Logs (``fit``): ``loss``, the reconstruction loss: the compiled loss of
    (target, generated image) *without* the ``lambda_l1`` weight, so it reads and early
    stops as the ``loss`` of a U-Net compiled with the same loss; ``g_loss``, the
    generator's total; ``gan_loss``; ``d_loss``; and the compiled metrics on (target,
    generated image). ``evaluate`` (and ``val_*`` in ``fit``) logs ``loss`` and the
    compiled metrics only. Sample weights weigh the reconstruction loss and the
    metrics, not the adversarial terms.

    Args:
        generator: The generator: one image input, one image output.
        discriminator: The discriminator, called on ``[inputs, targets]``, returning
            patch logits (e.g. :func:`build_patchgan`); its inputs' channels must be the
            generator's input and output channels.
        lambda_l1: Weight of the reconstruction loss in the generator's loss (100 in the
            paper); ``0`` trains on the adversarial loss alone. Defaults to `100.0`.
        **kwargs: ``keras.Model`` arguments (``name``, ``dtype``, ``trainable``).
    """

    def __init__(
        self, generator: keras.Model, discriminator: keras.Model, lambda_l1: float = 100.0, **kwargs: Any
    ) -> None:
        _check(
            isinstance(generator, keras.Model)
            and len(getattr(generator, "inputs", None) or ()) == 1
            and len(getattr(generator, "outputs", None) or ()) == 1,
            f"`generator` must be a built keras.Model of one input and one output. Received: generator={generator!r}",
        )
        _check(
            isinstance(discriminator, keras.Model) and len(getattr(discriminator, "inputs", None) or ()) == 2,
            "`discriminator` must be a built keras.Model of two inputs, [inputs, targets]. "
            f"Received: discriminator={discriminator!r}",
        )
        channels = (generator.inputs[0].shape[-1], generator.outputs[0].shape[-1])
        expected = tuple(tensor.shape[-1] for tensor in discriminator.inputs)
        _check(
            channels == expected,
            "The discriminator's inputs must have the generator's input and output channels. Received: "
            f"generator channels (input, output)={channels}, discriminator input channels={expected}",
        )
        lambda_l1 = _check_lambda(lambda_l1)
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.lambda_l1 = lambda_l1
        self.discriminator_optimizer = None
        # Metrics assigned as attributes join `self.metrics`, so `fit` resets them every epoch.
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.gan_loss_tracker = keras.metrics.Mean(name="gan_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.build(generator.inputs[0].shape)

    def build(self, input_shape: Sequence[int | None]) -> None:
        """Nothing to create: the generator and the discriminator come built."""

    def call(self, inputs, training: bool = False):
        """The generator's output for ``inputs``."""
        return self.generator(inputs, training=training)

    # ------------------------------------------------------------------ compile --
    def compile(
        self,
        optimizer: str | keras.optimizers.Optimizer = "adam",
        loss: str | keras.losses.Loss = "mae",
        metrics: Sequence[Any] | None = None,
        *,
        discriminator_optimizer: str | keras.optimizers.Optimizer | None = None,
        **kwargs: Any,
    ) -> None:
        """Configures the training: the two optimizers, the reconstruction loss and the metrics.

        The paper trains both networks with ``Adam(2e-4, beta_1=0.5)``; pass it as
        ``optimizer`` (``"adam"`` is Keras' ``Adam(1e-3)``).

        Args:
            optimizer: Optimizer of the generator (a name or an instance). Defaults to `"adam"`.
            loss: The reconstruction loss, of (target, generated image), weighted by
                ``lambda_l1`` in the generator's loss. ``"mae"`` is the paper's L1; any
                Keras loss works, e.g. :class:`keras_geo.losses.SSIMLoss`, which makes
                the term ``1 - SSIM`` instead of L1. Defaults to `"mae"`.
            metrics: Metrics of (target, generated image), e.g.
                ``[keras_geo.metrics.PSNR(), keras_geo.metrics.SSIM()]``. Defaults to `None`.
            discriminator_optimizer: Optimizer of the discriminator. Defaults to `None`:
                a new optimizer of the generator's optimizer's class and configuration,
                with its own state.
            **kwargs: Other ``keras.Model.compile`` arguments (``run_eagerly``,
                ``jit_compile``, ``steps_per_execution``, ...).
        """
        _check(
            loss is not None and not isinstance(loss, (list, tuple, dict)),
            f"`loss` must be one loss of (target, generated image). Received: loss={loss!r}",
        )
        optimizer = keras.optimizers.get(optimizer)
        if discriminator_optimizer is None:
            config = optimizer.get_config()
            config["name"] = f"discriminator_{config.get('name', 'optimizer')}"
            discriminator_optimizer = optimizer.__class__.from_config(config)
        else:
            discriminator_optimizer = keras.optimizers.get(discriminator_optimizer)
            _check(
                discriminator_optimizer is not optimizer,
                "`discriminator_optimizer` must be another optimizer than `optimizer` (each keeps the state of "
                f"its own network's weights). Received: discriminator_optimizer={discriminator_optimizer!r}",
            )
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer) and not isinstance(
            discriminator_optimizer, keras.optimizers.LossScaleOptimizer
        ):
            # Keras wrapped the generator's optimizer for mixed_float16: the discriminator needs the same.
            discriminator_optimizer = keras.optimizers.LossScaleOptimizer(
                discriminator_optimizer, name=f"{discriminator_optimizer.name}_loss_scale"
            )
        self.discriminator_optimizer = discriminator_optimizer
        # Each optimizer holds the state of its own network's weights only (Keras would build
        # the generator's on all the model's weights).
        if not self.optimizer.built:
            self.optimizer.build(self.generator.trainable_variables)
        if not self.discriminator_optimizer.built:
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    def get_compile_config(self) -> dict[str, Any]:
        config = super().get_compile_config()
        if config and self.discriminator_optimizer is not None:
            config["discriminator_optimizer"] = keras.saving.serialize_keras_object(self.discriminator_optimizer)
        return config

    def compile_from_config(self, config: dict[str, Any]) -> None:
        self.compile(**keras.saving.deserialize_keras_object(config))

    # ----------------------------------------------------------------- training --
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training: bool = True):
        """The reconstruction loss: the compiled loss of ``(y, y_pred)`` plus the generator's own losses.

        Not weighted by ``lambda_l1``: this is the ``loss`` of the logs.
        """
        if self._compile_loss is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        loss = self._compile_loss(y, y_pred, sample_weight)
        return loss + _extra_losses(self.generator.losses, loss.dtype)

    def train_step(self, data):
        """One generator and one discriminator update on a batch ``(inputs, targets[, sample_weight])``."""
        if keras.backend.backend() != "tensorflow":
            raise NotImplementedError(
                f"Pix2Pix trains with the TensorFlow backend only. Received: backend={keras.backend.backend()!r}"
            )
        import tensorflow as tf

        x, y, sample_weight = _unpack(data)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator(x, training=True)
            y = ops.cast(y, fake.dtype)
            real_logits = self.discriminator([x, y], training=True)
            fake_logits = self.discriminator([x, fake], training=True)
            reconstruction = self.compute_loss(x=x, y=y, y_pred=fake, sample_weight=sample_weight, training=True)
            gan_loss = _bce(fake_logits, 1.0)
            g_loss = gan_loss + self.lambda_l1 * reconstruction
            d_loss = 0.5 * (_bce(real_logits, 1.0) + _bce(fake_logits, 0.0))
            d_loss = d_loss + _extra_losses(self.discriminator.losses, d_loss.dtype)
            scaled_g_loss = self.optimizer.scale_loss(g_loss)
            scaled_d_loss = self.discriminator_optimizer.scale_loss(d_loss)
        g_weights = self.generator.trainable_variables
        d_weights = self.discriminator.trainable_variables
        self.optimizer.apply_gradients(zip(g_tape.gradient(scaled_g_loss, g_weights), g_weights))
        self.discriminator_optimizer.apply_gradients(zip(d_tape.gradient(scaled_d_loss, d_weights), d_weights))

        batch = ops.shape(fake)[0]
        self._loss_tracker.update_state(reconstruction, sample_weight=batch)
        self.g_loss_tracker.update_state(g_loss, sample_weight=batch)
        self.gan_loss_tracker.update_state(gan_loss, sample_weight=batch)
        self.d_loss_tracker.update_state(d_loss, sample_weight=batch)
        return self.compute_metrics(x, y, fake, sample_weight=sample_weight)

    def test_step(self, data):
        """``loss`` (the reconstruction loss) and the compiled metrics of the generator on a batch."""
        x, y, sample_weight = _unpack(data)
        fake = self(x, training=False)
        y = ops.cast(y, fake.dtype)
        loss = self.compute_loss(x=x, y=y, y_pred=fake, sample_weight=sample_weight, training=False)
        self._loss_tracker.update_state(loss, sample_weight=ops.shape(fake)[0])
        logs = self.compute_metrics(x, y, fake, sample_weight=sample_weight)
        # The adversarial trackers are not updated here: their (reset) values would read as zeros.
        return {key: value for key, value in logs.items() if key not in _GAN_LOGS}

    # ------------------------------------------------------------ serialisation --
    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "lambda_l1": self.lambda_l1,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Pix2Pix:
        config = dict(config)
        generator = keras.saving.deserialize_keras_object(config.pop("generator"), custom_objects=custom_objects)
        discriminator = keras.saving.deserialize_keras_object(
            config.pop("discriminator"), custom_objects=custom_objects
        )
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(generator, discriminator, **config)


def _extra_losses(losses, dtype):
    """The sum of a network's own losses (``add_loss``, weight regularisers), as ``compute_loss`` adds them."""
    total = ops.zeros((), dtype=dtype)
    for loss in losses:
        total = total + ops.sum(ops.cast(loss, dtype))
    return total


def _unpack(data):
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    if y is None:
        raise ValueError("Pix2Pix trains and evaluates on (inputs, targets) pairs. Received: inputs without targets")
    return x, y, sample_weight


def _bce(logits, label: float):
    """Binary cross-entropy of patch logits against one label for every patch, averaged over the patches."""
    return ops.mean(keras.losses.binary_crossentropy(ops.full_like(logits, label), logits, from_logits=True))
