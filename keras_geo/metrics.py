"""Image-quality metrics: PSNR and SSIM, as functions and as Keras metrics.

    >>> from keras_geo.metrics import PSNR, SSIM
    >>> model.compile(optimizer="adam", loss="mae", metrics=[PSNR(), SSIM()])
    >>> history = model.fit(x, y, validation_data=(xv, yv))   # logs psnr, ssim, val_psnr, val_ssim

The functions return one value per image (shape ``(batch,)``); the metric
classes average them over all images seen, like any Keras metric. Images are
channels-last batches ``(batch, height, width, channels)`` with values in
``[0, max_val]``; float16 and bfloat16 inputs are computed in float32. SSIM and
MS-SSIM are the implementation the losses of :mod:`keras_geo.losses` use
(equal to ``tf.image.ssim`` / ``tf.image.ssim_multiscale`` to about 1e-6).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from keras_geo import _ssim
from keras_geo._ssim import MS_SSIM_WEIGHTS

__all__ = ["PSNR", "PSNR_CAP_DB", "SSIM", "ms_ssim", "psnr", "ssim"]

#: PSNR of identical images (mean squared error 0) is infinite; it is reported as this many dB.
PSNR_CAP_DB = 100.0


def psnr(y_true, y_pred, max_val: float = 1.0):
    """Peak signal-to-noise ratio of each image pair, in dB: ``10 * log10(max_val**2 / MSE)``.

    The mean squared error is taken over height, width and channels, as
    ``tf.image.psnr`` does. Identical images (or any with ``MSE <= max_val**2 *
    1e-10``) give ``PSNR_CAP_DB`` (100 dB) instead of infinity, so batch means stay finite.

    Args:
        y_true: Reference images, ``(batch, height, width, channels)``.
        y_pred: Images to assess, same shape.
        max_val: Data range of the images, whose values must lie in ``[0, max_val]``.
            Defaults to `1.0`.

    Returns:
        A float tensor of shape ``(batch,)``.
    """
    _ssim.check_settings(max_val)
    x, y = _ssim.prepare(y_true, y_pred)
    mse = ops.mean(ops.square(x - y), axis=(1, 2, 3))
    floor = float(max_val) ** 2 * 10.0 ** (-PSNR_CAP_DB / 10.0)
    return 10.0 * ops.log10(float(max_val) ** 2 / ops.maximum(mse, floor))


def ssim(
    y_true,
    y_pred,
    max_val: float = 1.0,
    filter_size: int = 11,
    filter_sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
):
    """SSIM of each image pair, averaged over channels, as ``tf.image.ssim`` computes it.

    Args:
        y_true: Reference images, ``(batch, height, width, channels)``, at least
            ``filter_size`` pixels each way.
        y_pred: Images to assess, same shape.
        max_val: Data range of the images, whose values must lie in ``[0, max_val]``.
            Defaults to `1.0`.
        filter_size: Size of the Gaussian window. Defaults to `11`.
        filter_sigma: Standard deviation of the Gaussian window. Defaults to `1.5`.
        k1: Luminance stabiliser. Defaults to `0.01`.
        k2: Contrast stabiliser. Defaults to `0.03`.

    Returns:
        A float tensor of shape ``(batch,)`` with values in (-1, 1].
    """
    _ssim.check_settings(max_val, filter_size, filter_sigma, k1, k2)
    return _ssim.ssim(
        y_true,
        y_pred,
        max_val=max_val,
        filter_size=filter_size,
        filter_sigma=filter_sigma,
        k1=k1,
        k2=k2,
    )


def ms_ssim(
    y_true,
    y_pred,
    max_val: float = 1.0,
    power_factors: Sequence[float] = MS_SSIM_WEIGHTS,
    filter_size: int = 11,
    filter_sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
):
    """MS-SSIM of each image pair, averaged over channels, as ``tf.image.ssim_multiscale`` computes it.

    Images need at least ``(filter_size - 1) * 2**(len(power_factors) - 1) + 1``
    pixels each way (161 for the defaults); smaller ones raise a ``ValueError``.

    Args:
        y_true: Reference images, ``(batch, height, width, channels)``.
        y_pred: Images to assess, same shape.
        max_val: Data range of the images, whose values must lie in ``[0, max_val]``.
            Defaults to `1.0`.
        power_factors: Exponent of each scale, finest first. Defaults to
            `(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)`.
        filter_size: Size of the Gaussian window. Defaults to `11`.
        filter_sigma: Standard deviation of the Gaussian window. Defaults to `1.5`.
        k1: Luminance stabiliser. Defaults to `0.01`.
        k2: Contrast stabiliser. Defaults to `0.03`.

    Returns:
        A float tensor of shape ``(batch,)`` with values in [0, 1].
    """
    _ssim.check_settings(max_val, filter_size, filter_sigma, k1, k2, power_factors)
    return _ssim.ms_ssim(
        y_true,
        y_pred,
        max_val=max_val,
        power_factors=power_factors,
        filter_size=filter_size,
        filter_sigma=filter_sigma,
        k1=k1,
        k2=k2,
    )


@keras.saving.register_keras_serializable(package="keras_geo")
class PSNR(keras.metrics.MeanMetricWrapper):
    """Mean peak signal-to-noise ratio in dB (higher is better); see :func:`psnr`.

    Identical images count as 100 dB (``PSNR_CAP_DB``), not infinity.

    Args:
        max_val: Data range of the images, whose values must lie in ``[0, max_val]``.
            Defaults to `1.0`.
        name: Name of the metric, the key of its value in the training logs.
            Defaults to `"psnr"`.
        dtype: Data type of the metric's result. Defaults to `None` (float32).
    """

    def __init__(self, max_val: float = 1.0, name: str = "psnr", dtype=None):
        _ssim.check_settings(max_val)
        super().__init__(fn=psnr, name=name, dtype=dtype, max_val=float(max_val))
        self.max_val = float(max_val)
        self._direction = "up"

    def get_config(self):
        return {"max_val": self.max_val, "name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="keras_geo")
class SSIM(_ssim.Settings, keras.metrics.MeanMetricWrapper):
    """Mean SSIM (higher is better, 1 for identical images); see :func:`ssim`.

    Args:
        max_val: Data range of the images, whose values must lie in ``[0, max_val]``.
            Defaults to `1.0`.
        filter_size: Size of the Gaussian window. Defaults to `11`.
        filter_sigma: Standard deviation of the Gaussian window. Defaults to `1.5`.
        k1: Luminance stabiliser. Defaults to `0.01`.
        k2: Contrast stabiliser. Defaults to `0.03`.
        name: Name of the metric, the key of its value in the training logs.
            Defaults to `"ssim"`.
        dtype: Data type of the metric's result. Defaults to `None` (float32).
    """

    def __init__(
        self,
        max_val: float = 1.0,
        filter_size: int = 11,
        filter_sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        name: str = "ssim",
        dtype=None,
    ):
        self._keep_ssim_settings(max_val, filter_size, filter_sigma, k1, k2)
        super().__init__(fn=ssim, name=name, dtype=dtype, **self._ssim_settings())
        self._direction = "up"

    def get_config(self):
        return {**self._ssim_config(), "name": self.name, "dtype": self.dtype}
