"""Image-quality metrics: PSNR and SSIM, as functions and as Keras metrics; sharpness.

    >>> from keras_geo.metrics import PSNR, SSIM
    >>> model.compile(optimizer="adam", loss="mae", metrics=[PSNR(), SSIM()])
    >>> history = model.fit(x, y, validation_data=(xv, yv))   # logs psnr, ssim, val_psnr, val_ssim

The functions return one value per image (shape ``(batch,)``); the metric
classes average them over all images seen, like any Keras metric. Images are
channels-last batches ``(batch, height, width, channels)`` with values in
``[0, max_val]``; float16 and bfloat16 inputs are computed in float32. SSIM and
MS-SSIM are the implementation the losses of :mod:`keras_geo.losses` use
(equal to ``tf.image.ssim`` / ``tf.image.ssim_multiscale`` to about 1e-6).

:func:`sharpness` (NumPy in, NumPy out) tells a blurry restoration from a sharp one,
which PSNR and SSIM rank alike: the prediction's gradient energy relative to the
truth's, 1 when as sharp, below 1 when blurrier, above 1 when sharper or noisier.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from keras_geo import _ssim
from keras_geo._ssim import MS_SSIM_WEIGHTS

__all__ = ["PSNR", "PSNR_CAP_DB", "SSIM", "ms_ssim", "psnr", "sharpness", "ssim"]

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


def _gradient_energy(images: np.ndarray) -> np.ndarray:
    """Mean squared gradient magnitude of each image, central differences over height and width."""
    d_row, d_col = np.gradient(images, axis=(1, 2))
    return np.mean(d_row**2 + d_col**2, axis=(1, 2, 3))


def sharpness(y_true, y_pred) -> np.ndarray:
    """Sharpness of each predicted image relative to its reference: the ratio of gradient energies.

    ``sqrt(mean |grad y_pred|**2) / sqrt(mean |grad y_true|**2)``, the means over height,
    width and channels, the gradients by central differences (one-sided at the borders,
    ``np.gradient``). 1: as sharp as the truth; below 1: blurrier (a model trained on the
    mean squared error averages what it cannot tell apart); above 1: sharper than the
    truth or noisier (noise and fabricated detail add gradient energy too, so a value near
    1 is necessary, not sufficient). The ratio does not depend on the data range.

    Args:
        y_true: Reference images, ``(batch, height, width, channels)`` (or
            ``(batch, height, width)``), at least 2 pixels each way; NumPy arrays or tensors.
        y_pred: Images to assess, same shape.

    Returns:
        A float64 NumPy array of shape ``(batch,)``.

    Raises:
        ValueError: If the shapes differ or are not images, or a reference image is
            constant (its gradient is 0 and the ratio undefined); the message names the image.
    """
    truth = np.asarray(ops.convert_to_numpy(y_true), dtype=np.float64)
    prediction = np.asarray(ops.convert_to_numpy(y_pred), dtype=np.float64)
    if truth.shape != prediction.shape:
        raise ValueError(
            f"`y_true` and `y_pred` must have the same shape. Received: y_true.shape={truth.shape}, "
            f"y_pred.shape={prediction.shape}"
        )
    if truth.ndim == 3:
        truth, prediction = truth[..., None], prediction[..., None]
    if truth.ndim != 4 or min(truth.shape[1:3]) < 2 or truth.shape[3] < 1:
        raise ValueError(
            "`y_true` and `y_pred` must be batches of images, (batch, height, width, channels), at least "
            f"2 pixels high and wide. Received shape: {np.shape(y_true)}"
        )
    for name, array in (("y_true", truth), ("y_pred", prediction)):
        if not np.isfinite(array).all():
            raise ValueError(f"`{name}` has values that are not finite (NaN or infinity).")
    reference = _gradient_energy(truth)
    flat = np.flatnonzero(~(reference > 0))
    if flat.size:
        raise ValueError(
            f"Sharpness is undefined for a constant reference image (its gradient is 0). "
            f"Received: y_true[{int(flat[0])}] constant" + (f" ({flat.size} constant images)" if flat.size > 1 else "")
        )
    return np.sqrt(_gradient_energy(prediction) / reference)


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
