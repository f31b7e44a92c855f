"""SSIM-family losses for image restoration (denoising, deblurring, super-resolution).

    >>> from keras_geo import losses
    >>> losses.available()
    ['huber', 'mae', 'mixed', 'ms_ssim', 'mse', 'ssim', 'ssim_mae']
    >>> model.compile(optimizer="adam", loss=losses.get("mixed", alpha=0.84))

* :class:`SSIMLoss`: ``1 - SSIM`` (Wang et al. 2004).
* :class:`MSSSIMLoss`: ``1 - MS-SSIM`` (Wang et al. 2003).
* :class:`MixedLoss`: ``alpha * (1 - MS-SSIM) + (1 - alpha) * L1`` (Zhao et al. 2017);
  by name ``"mixed"``, and ``"ssim_mae"`` for the same mix on single-scale SSIM
  (``MixedLoss(ms=False)``), which suits patches too small for several scales.

All three compute SSIM exactly as ``tf.image.ssim`` / ``tf.image.ssim_multiscale``
do (agreement to about 1e-6), with ``keras.ops`` only, but with finite gradients
where the TF functions give NaN or Inf (tensorflow/tensorflow#50400, #57353).
Images are channels-last batches ``(batch, height, width, channels)`` with
values in ``[0, max_val]``: ``max_val`` must be the data range of the images
(1.0 for images scaled to [0, 1], 255 for 8-bit ones). A wrong ``max_val``
raises no error but makes SSIM's stabilising constants meaningless. Inputs in
float16 or bfloat16 (mixed precision) are computed in float32.

The classes are registered as Keras serialisable objects (``keras_geo>SSIMLoss``
...): a model compiled with them is saved with ``model.save("m.keras")`` and
loaded with ``keras.models.load_model("m.keras", safe_mode=True)`` in any
process that has imported :mod:`keras_geo.losses`.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import keras
from keras import ops

from keras_geo import _ssim
from keras_geo._ssim import MS_SSIM_WEIGHTS, min_ms_ssim_size

__all__ = [
    "MS_SSIM_WEIGHTS",
    "MSSSIMLoss",
    "MixedLoss",
    "SSIMLoss",
    "available",
    "get",
    "min_ms_ssim_size",
]


@keras.saving.register_keras_serializable(package="keras_geo")
class SSIMLoss(_ssim.Settings, keras.losses.Loss):
    """``1 - SSIM``: the structural dissimilarity of each image pair, averaged over channels.

    SSIM is computed as ``tf.image.ssim`` does (Wang et al. 2004): a Gaussian
    window of ``filter_size`` pixels and width ``filter_sigma`` applied without
    padding, so images need at least ``filter_size`` pixels each way. The loss
    of an image pair lies in ``[0, 2)``; it is 0 for identical images.

    Args:
        max_val: Data range of the images, whose values must lie in ``[0, max_val]``
            (``1.0`` for images in [0, 1], ``255`` for 8-bit images). Defaults to `1.0`.
        filter_size: Size of the Gaussian window. Defaults to `11`.
        filter_sigma: Standard deviation of the Gaussian window. Defaults to `1.5`.
        k1: Luminance stabiliser: ``c1 = (k1 * max_val)**2``. Defaults to `0.01`.
        k2: Contrast stabiliser: ``c2 = (k2 * max_val)**2``. Defaults to `0.03`.
        name: Name of the loss. Defaults to `"ssim_loss"`.
        reduction: How per-image losses are combined, as for any Keras loss.
            Defaults to `"sum_over_batch_size"`.
    """

    def __init__(
        self,
        max_val: float = 1.0,
        filter_size: int = 11,
        filter_sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        name: str = "ssim_loss",
        reduction: str = "sum_over_batch_size",
    ):
        self._keep_ssim_settings(max_val, filter_size, filter_sigma, k1, k2)
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true, y_pred):
        return 1.0 - _ssim.ssim(y_true, y_pred, **self._ssim_settings())

    def get_config(self):
        return {**super().get_config(), **self._ssim_config()}


@keras.saving.register_keras_serializable(package="keras_geo")
class MSSSIMLoss(_ssim.Settings, keras.losses.Loss):
    """``1 - MS-SSIM``: multi-scale structural dissimilarity, averaged over channels.

    MS-SSIM is computed as ``tf.image.ssim_multiscale`` does (Wang et al. 2003):
    ``len(power_factors)`` scales, each half the size of the previous one (2x2
    average pooling); the product over scales of the contrast-structure term
    (the full SSIM at the coarsest scale), each clamped at 0 and raised to its
    power factor. The loss lies in ``[0, 1]`` and is 0 for identical images.

    The clamp (a ReLU, as in TF and in pytorch-msssim) is needed because the
    contrast-structure term is negative for anti-correlated images and a
    fractional power of a negative number is NaN. The gradient of ``x**w`` is
    infinite at 0, which is where TF's implementation returns NaN/Inf gradients.
    Here the loss value is TF's, but the gradient comes from the terms clamped at
    ``1e-4`` instead of 0: it is finite, a term below ``1e-4`` passes no gradient
    of its own (as with a ReLU), and the other scales keep theirs, so a model whose
    output starts uncorrelated with its target at the finest scale still learns.
    Images that are anti-correlated at every scale (e.g. ``1 - y``) give a zero
    gradient; :class:`MixedLoss`'s L1 term still pulls them together.

    The coarsest scale must still hold the filter: images need at least
    ``(filter_size - 1) * 2**(len(power_factors) - 1) + 1`` pixels each way
    (161 for the defaults; see :func:`min_ms_ssim_size`). For small images use a
    smaller ``filter_size``, fewer ``power_factors`` (e.g. ``(0.0448, 0.2856,
    0.3001)`` or the renormalised ``(0.0711, 0.4530, 0.4760)``) or :class:`SSIMLoss`;
    smaller images raise a ``ValueError`` naming the minimum.

    Args:
        max_val: Data range of the images, whose values must lie in ``[0, max_val]``.
            Defaults to `1.0`.
        power_factors: Exponent of each scale, finest first; their number is the
            number of scales. Defaults to `(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)`
            (Wang et al. 2003).
        filter_size: Size of the Gaussian window. Defaults to `11`.
        filter_sigma: Standard deviation of the Gaussian window. Defaults to `1.5`.
        k1: Luminance stabiliser: ``c1 = (k1 * max_val)**2``. Defaults to `0.01`.
        k2: Contrast stabiliser: ``c2 = (k2 * max_val)**2``. Defaults to `0.03`.
        name: Name of the loss. Defaults to `"ms_ssim_loss"`.
        reduction: How per-image losses are combined, as for any Keras loss.
            Defaults to `"sum_over_batch_size"`.
    """

    def __init__(
        self,
        max_val: float = 1.0,
        power_factors: Sequence[float] = MS_SSIM_WEIGHTS,
        filter_size: int = 11,
        filter_sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        name: str = "ms_ssim_loss",
        reduction: str = "sum_over_batch_size",
    ):
        self._keep_ssim_settings(max_val, filter_size, filter_sigma, k1, k2, power_factors)
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true, y_pred):
        return 1.0 - _ssim.ms_ssim(y_true, y_pred, **self._ssim_settings(multiscale=True))

    def get_config(self):
        return {**super().get_config(), **self._ssim_config()}


@keras.saving.register_keras_serializable(package="keras_geo")
class MixedLoss(_ssim.Settings, keras.losses.Loss):
    """Zhao et al.'s mix: ``alpha * (1 - MS-SSIM) + (1 - alpha) * L1 / max_val``.

    H. Zhao, O. Gallo, I. Frosio and J. Kautz, "Loss Functions for Image
    Restoration with Neural Networks", IEEE TCI 2017, found this mix with
    ``alpha = 0.84`` to beat L1, L2 and MS-SSIM alone for denoising,
    demosaicking and JPEG-artefact removal: MS-SSIM preserves structure and
    contrast, L1 keeps colours and brightness from drifting.

    Differences from the paper: the paper multiplies the per-pixel L1 error by
    the Gaussian window of the coarsest MS-SSIM scale (its loss is defined for
    the centre pixel of a patch); here the L1 term is the plain mean absolute
    error over all pixels and channels, because the MS-SSIM term already
    averages over the whole image. The L1 term is divided by ``max_val`` so both
    terms lie in [0, 1] whatever the data range (for ``max_val=1`` this is the
    paper's L1). MS-SSIM is the standard Wang et al. one (average-pool down-sampling,
    one filter width), not the paper's five Gaussian widths on one resolution.
    With ``ms=False`` the single-scale SSIM replaces MS-SSIM, which suits images
    too small for several scales (``power_factors`` is then unused).

    Args:
        alpha: Weight of the (MS-)SSIM term, in [0, 1]; ``1 - alpha`` weighs L1.
            Defaults to `0.84`.
        max_val: Data range of the images, whose values must lie in ``[0, max_val]``.
            Defaults to `1.0`.
        power_factors: Exponent of each MS-SSIM scale, finest first (see
            :class:`MSSSIMLoss` for the minimum image size). Defaults to
            `(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)`.
        filter_size: Size of the Gaussian window. Defaults to `11`.
        filter_sigma: Standard deviation of the Gaussian window. Defaults to `1.5`.
        k1: Luminance stabiliser. Defaults to `0.01`.
        k2: Contrast stabiliser. Defaults to `0.03`.
        ms: Use MS-SSIM (``True``) or single-scale SSIM (``False``). Defaults to `True`.
        name: Name of the loss. Defaults to `"mixed_loss"`.
        reduction: How per-image losses are combined, as for any Keras loss.
            Defaults to `"sum_over_batch_size"`.
    """

    def __init__(
        self,
        alpha: float = 0.84,
        max_val: float = 1.0,
        power_factors: Sequence[float] = MS_SSIM_WEIGHTS,
        filter_size: int = 11,
        filter_sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        ms: bool = True,
        name: str = "mixed_loss",
        reduction: str = "sum_over_batch_size",
    ):
        if not (_ssim._is_number(alpha) and 0.0 <= alpha <= 1.0):
            raise ValueError(f"`alpha` must be a number in [0, 1]. Received: alpha={alpha!r}")
        if type(ms) is not bool:
            raise ValueError(f"`ms` must be True or False. Received: ms={ms!r}")
        self._keep_ssim_settings(max_val, filter_size, filter_sigma, k1, k2, power_factors)
        super().__init__(name=name, reduction=reduction)
        self.alpha = float(alpha)
        self.ms = ms

    def call(self, y_true, y_pred):
        x, y = _ssim.prepare(y_true, y_pred)
        if self.ms:
            similarity = _ssim.ms_ssim(x, y, **self._ssim_settings(multiscale=True))
        else:
            similarity = _ssim.ssim(x, y, **self._ssim_settings())
        l1 = ops.mean(ops.abs(x - y), axis=(1, 2, 3)) / self.max_val
        return self.alpha * (1.0 - similarity) + (1.0 - self.alpha) * l1

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, **self._ssim_config(), "ms": self.ms}


# name -> (class, the settings the name fixes): "ssim_mae" is MixedLoss on single-scale SSIM.
_LOSSES: dict[str, tuple[type[keras.losses.Loss], dict]] = {
    "huber": (keras.losses.Huber, {}),
    "mae": (keras.losses.MeanAbsoluteError, {}),
    "mixed": (MixedLoss, {}),
    "ms_ssim": (MSSSIMLoss, {}),
    "mse": (keras.losses.MeanSquaredError, {}),
    "ssim": (SSIMLoss, {}),
    "ssim_mae": (MixedLoss, {"ms": False, "name": "ssim_mae_loss"}),
}


def available() -> list[str]:
    """Names :func:`get` accepts, sorted."""
    return sorted(_LOSSES)


def get(name: str, **settings) -> keras.losses.Loss:
    """Returns a new loss by name, e.g. ``get("mixed", alpha=0.84, max_val=255)``.

    Args:
        name: One of :func:`available`: ``"mse"``, ``"mae"``, ``"huber"`` (the Keras
            built-ins), ``"ssim"``, ``"ms_ssim"``, ``"mixed"`` (MS-SSIM + L1) or
            ``"ssim_mae"`` (SSIM + L1). Case and ``-``/``_`` do not matter (``"MS-SSIM"`` works).
        **settings: Arguments of the loss's constructor (``max_val``, ``alpha``,
            ``delta`` for Huber, ...).

    Raises:
        ValueError: for an unknown name (the message lists the known ones) or a
            setting the loss does not take.
    """
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else None
    if key not in _LOSSES:
        raise ValueError(f"Unknown loss {name!r}. Available: {', '.join(available())}.")
    cls, fixed = _LOSSES[key]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", *fixed)]
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        raise ValueError(
            f"Loss {key!r} takes no setting {', '.join(map(repr, unknown))}; it takes "
            f"{', '.join(accepted)}. Received: {settings!r}"
        )
    return cls(**{**fixed, **settings})
