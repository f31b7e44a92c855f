"""SSIM and MS-SSIM in ``keras.ops``: the one implementation behind the losses and metrics.

:mod:`keras_geo.losses` (``SSIMLoss``, ``MSSSIMLoss``, ``MixedLoss``) and
:mod:`keras_geo.metrics` (``ssim``, ``ms_ssim``, ``SSIM``) all call
:func:`ssim` and :func:`ms_ssim` here, so a loss and the metric that reports
it can never disagree.

The definitions follow ``tf.image.ssim`` and ``tf.image.ssim_multiscale``
(Wang et al. 2004 and 2003): a Gaussian window applied with "valid" padding,
biased (co)variance estimates, SSIM and the contrast-structure term averaged
over the pixels of each channel, then over the channels; between MS-SSIM
scales the images are halved by 2x2 average pooling (an odd size keeps its
last row or column, as TF's symmetric padding does). Unlike the TF functions,
the gradients stay finite where a scale's contrast-structure term reaches 0
(tensorflow/tensorflow#50400, #57353), see :func:`_weighted_product`.

Images are batches in channels-last layout, ``(batch, height, width, channels)``,
with values in ``[0, max_val]``. Inputs that are not float32/float64 (float16,
bfloat16, integers) are computed in float32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

#: Weights of the five scales found by Wang et al. (2003), as in ``tf.image.ssim_multiscale``.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

# Below this value a scale's contrast-structure term passes no gradient (see _weighted_product);
# it bounds the derivative of cs**w by w * 1e-4**(w - 1): about 300 for the smallest default w.
GRADIENT_FLOOR = 1e-4


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_settings(
    max_val=1.0,
    filter_size=11,
    filter_sigma=1.5,
    k1=0.01,
    k2=0.03,
    power_factors: Sequence[float] | None = None,
) -> None:
    """Raises ``ValueError`` (echoing the value) for a setting SSIM cannot use."""
    if not (_is_number(max_val) and math.isfinite(max_val) and max_val > 0):
        raise ValueError(
            "`max_val` must be a positive number: the data range of the images, whose values "
            f"must lie in [0, max_val] (1.0 for [0, 1] images, 255 for 8-bit ones). "
            f"Received: max_val={max_val!r}"
        )
    if not (_is_number(filter_size) and int(filter_size) == filter_size and filter_size >= 1):
        raise ValueError(f"`filter_size` must be an integer >= 1. Received: filter_size={filter_size!r}")
    if not (_is_number(filter_sigma) and math.isfinite(filter_sigma) and filter_sigma > 0):
        raise ValueError(f"`filter_sigma` must be a positive number. Received: filter_sigma={filter_sigma!r}")
    for label, value in (("k1", k1), ("k2", k2)):
        if not (_is_number(value) and math.isfinite(value) and value > 0):
            raise ValueError(
                f"`{label}` must be a positive number (it keeps SSIM's divisions away from 0). "
                f"Received: {label}={value!r}"
            )
    if power_factors is not None:
        try:
            factors = [float(w) for w in power_factors]
        except (TypeError, ValueError):
            factors = []
        if not factors or not all(math.isfinite(w) and w >= 0 for w in factors):
            raise ValueError(
                "`power_factors` must be a non-empty sequence of numbers >= 0, one per scale. "
                f"Received: power_factors={power_factors!r}"
            )


class Settings:
    """The SSIM settings every SSIM-family loss and metric keeps: checked once, stored, and handed on.

    ``power_factors`` exists only on the multi-scale ones.
    """

    def _keep_ssim_settings(self, max_val, filter_size, filter_sigma, k1, k2, power_factors=None) -> None:
        check_settings(max_val, filter_size, filter_sigma, k1, k2, power_factors)
        self.max_val = float(max_val)
        self.filter_size = int(filter_size)
        self.filter_sigma = float(filter_sigma)
        self.k1 = float(k1)
        self.k2 = float(k2)
        if power_factors is not None:
            self.power_factors = tuple(float(w) for w in power_factors)

    def _ssim_settings(self, *, multiscale: bool = False) -> dict:
        """The stored settings as keyword arguments of :func:`ssim` (or :func:`ms_ssim`)."""
        settings = {
            "max_val": self.max_val,
            "filter_size": self.filter_size,
            "filter_sigma": self.filter_sigma,
            "k1": self.k1,
            "k2": self.k2,
        }
        if multiscale:
            settings["power_factors"] = self.power_factors
        return settings

    def _ssim_config(self) -> dict:
        """The stored settings as JSON for ``get_config`` (power factors as a list)."""
        config = self._ssim_settings(multiscale=hasattr(self, "power_factors"))
        if "power_factors" in config:
            config["power_factors"] = list(config["power_factors"])
        return config


def min_ms_ssim_size(filter_size: int, levels: int) -> int:
    """Smallest height and width MS-SSIM accepts: the coarsest scale must still hold the filter.

    Each scale halves the image, rounding up, so ``levels`` scales need
    ``ceil(size / 2**(levels - 1)) >= filter_size``, that is
    ``size >= (filter_size - 1) * 2**(levels - 1) + 1`` (161 for the defaults).
    """
    return (int(filter_size) - 1) * 2 ** (int(levels) - 1) + 1


def as_float(x):
    """``x`` as a float tensor: float32 and float64 are kept, anything else becomes float32."""
    x = ops.convert_to_tensor(x)
    if keras.backend.standardize_dtype(x.dtype) not in ("float32", "float64"):
        x = ops.cast(x, "float32")
    return x


def prepare(y_true, y_pred):
    """Both image batches as float tensors of one dtype, after checking their shapes."""
    y_true, y_pred = as_float(y_true), as_float(y_pred)
    if y_true.dtype != y_pred.dtype:
        y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
    shape_true, shape_pred = tuple(y_true.shape), tuple(y_pred.shape)
    if len(shape_true) != 4 or len(shape_pred) != 4:
        raise ValueError(
            "SSIM expects image batches of shape (batch, height, width, channels). "
            f"Received: y_true.shape={shape_true}, y_pred.shape={shape_pred}"
        )
    for a, b in zip(shape_true[1:], shape_pred[1:], strict=True):
        if a is not None and b is not None and a != b:
            raise ValueError(
                f"`y_true` and `y_pred` must have the same image shape. "
                f"Received: y_true.shape={shape_true}, y_pred.shape={shape_pred}"
            )
    if shape_true[-1] is None or shape_pred[-1] is None:
        raise ValueError(
            "SSIM needs the number of channels to be known when the computation is built. "
            f"Received: y_true.shape={shape_true}, y_pred.shape={shape_pred}"
        )
    return y_true, y_pred


def _spatial_size(x) -> tuple[int | None, int | None]:
    return tuple(x.shape)[1], tuple(x.shape)[2]


def _channels(x) -> int:
    return int(tuple(x.shape)[-1])


def gaussian_kernel_1d(size: int, sigma: float) -> np.ndarray:
    """The normalised 1-D Gaussian whose outer product is ``tf.image.ssim``'s 2-D window."""
    coords = np.arange(int(size), dtype=np.float64) - (int(size) - 1) / 2.0
    g = np.exp(-0.5 * coords**2 / float(sigma) ** 2)
    return g / g.sum()


def _local_means(stacked, size: int, sigma: float):
    """Gaussian-weighted local means of every channel ("valid" padding), as two 1-D passes."""
    channels = _channels(stacked)
    g = gaussian_kernel_1d(size, sigma)
    rows = np.tile(g.reshape(size, 1, 1, 1), (1, 1, channels, 1))
    cols = np.tile(g.reshape(1, size, 1, 1), (1, 1, channels, 1))
    out = ops.depthwise_conv(stacked, ops.cast(rows, stacked.dtype), 1, "valid", data_format="channels_last")
    return ops.depthwise_conv(out, ops.cast(cols, stacked.dtype), 1, "valid", data_format="channels_last")


def ssim_per_channel(x, y, *, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03):
    """SSIM and the mean contrast-structure term of every channel, each of shape ``(batch, channels)``.

    ``x`` and ``y`` are float tensors of one dtype (see :func:`prepare`).
    """
    height, width = _spatial_size(x)
    for size in (height, width):
        if size is not None and size < filter_size:
            raise ValueError(
                f"SSIM with filter_size={filter_size} needs images of at least "
                f"{filter_size}x{filter_size} pixels. Received: images of {height}x{width} pixels; "
                "use a smaller `filter_size`."
            )
    channels = _channels(x)
    c1 = (k1 * max_val) ** 2
    c2 = (k2 * max_val) ** 2
    # One pair of depthwise convolutions filters all four maps at once, as TF's reducer does:
    # E[x], E[y], E[xy] and E[x^2 + y^2].
    stacked = ops.concatenate([x, y, x * y, ops.square(x) + ops.square(y)], axis=-1)
    means = _local_means(stacked, filter_size, filter_sigma)
    mu_x = means[..., :channels]
    mu_y = means[..., channels : 2 * channels]
    e_xy = means[..., 2 * channels : 3 * channels]
    e_sq = means[..., 3 * channels :]
    num0 = 2.0 * mu_x * mu_y
    den0 = ops.square(mu_x) + ops.square(mu_y)
    luminance = (num0 + c1) / (den0 + c1)
    # sigma_x^2 + sigma_y^2 >= 0; rounding in E[x^2] - mu^2 may make it slightly negative.
    variances = ops.maximum(e_sq - den0, 0.0)
    cs = (2.0 * e_xy - num0 + c2) / (variances + c2)
    ssim_value = ops.mean(luminance * cs, axis=(1, 2))
    return ssim_value, ops.mean(cs, axis=(1, 2))


def ssim(y_true, y_pred, *, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03):
    """SSIM of each image pair, averaged over channels: shape ``(batch,)``, values in (-1, 1]."""
    x, y = prepare(y_true, y_pred)
    value, _ = ssim_per_channel(x, y, max_val=max_val, filter_size=filter_size, filter_sigma=filter_sigma, k1=k1, k2=k2)
    return ops.mean(value, axis=-1)


def _weighted_product(terms, weights):
    """``prod(relu(term) ** weight)`` over the scales, with finite, bounded gradients.

    The forward value is exactly TF's product of ``relu(term) ** weight``. Its
    gradient is not usable as is: the derivative of ``x**w`` (``w < 1``) is infinite
    at 0, and ReLU's zero times it is NaN (tensorflow/tensorflow#50400); and a
    single clamped scale zeroes the product and with it every other scale's
    gradient, so a network whose output starts uncorrelated with the target
    would never leave MS-SSIM = 0. The gradient is therefore taken from the
    surrogate ``prod(max(term, GRADIENT_FLOOR) ** weight)``: identical above the
    floor, flat for a term below it (as a ReLU is), and never 0, so the other
    scales keep pulling the images together.
    """
    exact = None
    surrogate = None
    for term, weight in zip(terms, weights, strict=True):
        # No gradient is taken through `exact`, so relu(0) ** weight is harmless here.
        e = ops.power(ops.relu(term), weight)
        s = ops.power(ops.maximum(term, GRADIENT_FLOOR), weight)
        exact = e if exact is None else exact * e
        surrogate = s if surrogate is None else surrogate * s
    return surrogate + ops.stop_gradient(exact - surrogate)


def ms_ssim(
    y_true,
    y_pred,
    *,
    max_val=1.0,
    power_factors: Sequence[float] = MS_SSIM_WEIGHTS,
    filter_size=11,
    filter_sigma=1.5,
    k1=0.01,
    k2=0.03,
):
    """MS-SSIM of each image pair, averaged over channels: shape ``(batch,)``, values in [0, 1].

    Raises:
        ValueError: if the images are too small for ``len(power_factors)`` scales
            (see :func:`min_ms_ssim_size`).
    """
    x, y = prepare(y_true, y_pred)
    weights = [float(w) for w in power_factors]
    levels = len(weights)
    minimum = min_ms_ssim_size(filter_size, levels)
    height, width = _spatial_size(x)
    if any(size is not None and size < minimum for size in (height, width)):
        raise ValueError(
            f"MS-SSIM with {levels} scales and filter_size={filter_size} needs images of at least "
            f"{minimum}x{minimum} pixels (each scale halves the image and the coarsest must still "
            f"hold the {filter_size}x{filter_size} filter). Received: images of {height}x{width} "
            "pixels. Use a smaller `filter_size`, fewer `power_factors` (scales), or the "
            "single-scale SSIM (`SSIMLoss`, or `MixedLoss(ms=False)`)."
        )
    channels = _channels(x)
    pair = ops.concatenate([x, y], axis=-1)  # pool both images with one op
    terms = []
    for level in range(levels):
        if level > 0:
            # "same" average pooling of an odd size averages the last row/column with itself,
            # which is what TF's symmetric padding followed by "valid" pooling computes.
            pair = ops.average_pool(pair, 2, 2, "same", data_format="channels_last")
        ssim_value, cs = ssim_per_channel(
            pair[..., :channels],
            pair[..., channels:],
            max_val=max_val,
            filter_size=filter_size,
            filter_sigma=filter_sigma,
            k1=k1,
            k2=k2,
        )
        # The finer scales contribute their contrast-structure term, the coarsest its full SSIM.
        terms.append(cs if level < levels - 1 else ssim_value)
    product = _weighted_product(terms, weights)
    return ops.mean(product, axis=-1)
