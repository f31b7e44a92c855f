"""Built-in reference RDMs for RSA: models of brain areas, not recordings.

Report 001 compared network layers with recordings from macaque V1, V4 and IT. Without
recordings, two standard models stand in for the two ends of the ventral stream, and
an orientation model checks the first:

* :func:`gabor_energy_model` / :func:`v1_reference` ("V1-like"): the energy model of V1
  complex cells (Adelson & Bergen, 1985). Each unit squares and sums the responses of a
  quadrature pair of Gabor filters (even and odd: a cosine and a sine under the same
  Gaussian envelope) of one orientation and spatial frequency, which makes it selective
  for orientation and frequency but not for the grating's phase or exact position; the
  energies are then averaged over space. The weights are computed, never trained.
* :func:`it_reference` ("IT-like"): the category model, dissimilarity 0 between stimuli
  of one category and 1 between categories: the idealised categorical geometry of
  inferior temporal cortex (Kriegeskorte et al., 2008).
* :func:`orientation_rdm`: the orientation-difference model of gratings, the expected
  geometry of orientation-tuned cells.

They are hypotheses about the areas, good for asking "is this layer more V1-like or more
IT-like?"; a claim about a brain needs that brain's recordings
(:func:`keras_geo.explain.load_reference`). Stimuli: :func:`keras_geo.datasets.textures.texture_stimuli`
and :func:`keras_geo.datasets.textures.grating_stimuli`.

Orientations are in degrees, counter-clockwise from horizontal stripes (0: horizontal,
90: vertical), the image's y axis pointing up, as in :mod:`keras_geo.datasets.textures`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_geo.explain.rsa import RDM, RDM_METHODS, rdm

__all__ = [
    "GABOR_POOLINGS",
    "LUMINANCE_WEIGHTS",
    "gabor_energy_model",
    "gabor_kernels",
    "it_reference",
    "orientation_rdm",
    "v1_reference",
]

GABOR_POOLINGS = ("average", "global", None)
# Rec. 601 luma, the weights of OpenCV's RGB-to-grey conversion (and so of
# ``load_image_folder(..., color_mode="grayscale")``).
LUMINANCE_WEIGHTS = (0.299, 0.587, 0.114)
# Half the kernel side in envelope standard deviations: the envelope falls to exp(-4.5) = 1 %.
_TRUNCATE = 3.0


def _envelope_sigma(frequency: float, bandwidth: float) -> float:
    """The Gaussian envelope's standard deviation (pixels) of a Gabor of ``bandwidth`` octaves at ``frequency``."""
    octaves = 2.0**bandwidth
    return math.sqrt(math.log(2.0) / 2.0) / (math.pi * frequency) * (octaves + 1.0) / (octaves - 1.0)


def gabor_kernels(orientations: int, frequency: float, bandwidth: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The even (cosine) and odd (sine) Gabor kernels of one frequency, one per orientation.

    The envelope is an isotropic Gaussian whose width gives a spatial-frequency
    bandwidth of ``bandwidth`` octaves (full width at half height); the kernel side is
    ``2 * ceil(3 * sigma) + 1``. The even kernels have their mean removed (no response
    to uniform light), and both are scaled so that a grating of the kernel's
    orientation and frequency and amplitude ``a`` gives energy ``a**2``
    (``even**2 + odd**2``) at any phase, up to the truncated tails.

    Args:
        orientations: Number of orientations, evenly spaced over [0, 180) degrees.
        frequency: Cycles per pixel, in (0, 0.5).
        bandwidth: Octaves. Defaults to `1.0`.

    Returns:
        ``(even, odd)``, float32 arrays of shape ``(side, side, orientations)``.
    """
    sigma = _envelope_sigma(frequency, bandwidth)
    half = int(math.ceil(_TRUNCATE * sigma))
    steps = np.arange(-half, half + 1, dtype=np.float64)
    x, y = steps[None, :], -steps[:, None]  # x to the right, y up
    envelope = np.exp(-(x**2 + y**2) / (2.0 * sigma**2))
    even, odd = [], []
    for k in range(orientations):
        theta = math.pi * k / orientations
        # Stripes of orientation theta vary along their normal (-sin, cos).
        across = 2.0 * math.pi * frequency * (-x * math.sin(theta) + y * math.cos(theta))
        cosine = envelope * np.cos(across)
        cosine -= envelope * (cosine.sum() / envelope.sum())
        sine = envelope * np.sin(across)
        # A matching grating a*cos(across + phase) gives a*cos(phase)*sum(cos^2 envelope) on the even kernel.
        even.append(cosine / float((cosine * np.cos(across)).sum()))
        odd.append(sine / float((sine * np.sin(across)).sum()))
    return np.stack(even, axis=-1).astype(np.float32), np.stack(odd, axis=-1).astype(np.float32)


def _check_settings(
    input_shape: Any, orientations: Any, frequencies: Any, bandwidth: Any, pooling: Any, pool_size: Any
) -> tuple[tuple[int, int, int], tuple[float, ...]]:
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else None
    if (
        shape is None
        or len(shape) != 3
        or not all(isinstance(d, int | np.integer) and not isinstance(d, bool) for d in shape)
        or shape[0] < 1
        or shape[1] < 1
        or shape[2] not in (1, 3)
    ):
        raise ValueError(
            "`input_shape` must be (height, width, 1) for grey or (height, width, 3) for RGB images. "
            f"Received: input_shape={input_shape!r}"
        )
    if isinstance(orientations, bool) or not isinstance(orientations, int | np.integer) or orientations < 2:
        raise ValueError(f"`orientations` must be an integer >= 2. Received: orientations={orientations!r}")
    values = (frequencies,) if isinstance(frequencies, int | float) else frequencies
    try:
        values = tuple(float(f) for f in values)
    except (TypeError, ValueError):
        values = ()
    if not values or not all(0.0 < f < 0.5 for f in values) or len(set(values)) != len(values):
        raise ValueError(
            "`frequencies` must be distinct spatial frequencies in (0, 0.5) cycles per pixel. "
            f"Received: frequencies={frequencies!r}"
        )
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, int | float) or not 0.1 <= bandwidth <= 4.0:
        raise ValueError(f"`bandwidth` must be a number of octaves in [0.1, 4]. Received: bandwidth={bandwidth!r}")
    if pooling not in GABOR_POOLINGS:
        raise ValueError(
            f"`pooling` must be one of {', '.join(map(repr, GABOR_POOLINGS))}. Received: pooling={pooling!r}"
        )
    if pooling == "average" and (
        isinstance(pool_size, bool)
        or not isinstance(pool_size, int | np.integer)
        or not 1 <= pool_size <= min(shape[:2])
    ):
        raise ValueError(
            f"`pool_size` must be an integer in [1, {min(shape[:2])}] for {shape[0]} x {shape[1]} images. "
            f"Received: pool_size={pool_size!r}"
        )
    return (int(shape[0]), int(shape[1]), int(shape[2])), values


def gabor_energy_model(
    input_shape: Sequence[int] = (64, 64, 1),
    orientations: int = 8,
    frequencies: Sequence[float] = (1 / 16, 1 / 8, 1 / 4),
    *,
    bandwidth: float = 1.5,
    pooling: str | None = "average",
    pool_size: int = 16,
    name: str = "gabor_energy",
) -> Any:
    """A fixed-weight Keras model of V1 complex cells: Gabor energy (Adelson & Bergen, 1985), pooled over space.

    A model of V1, not a recording of it. Layers (names for :func:`keras_geo.explain.layer_activations`):

    1. ``{name}_luminance`` (RGB input only): a 1 x 1 convolution by :data:`LUMINANCE_WEIGHTS`
       (Rec. 601 luma, as OpenCV's grey conversion).
    2. ``{name}_centre``: subtracts mid-grey 0.5, so stimuli in [0, 1] are centred and the
       convolutions' zero padding is a mid-grey surround.
    3. Per frequency ``k`` (``frequencies[k]``): ``{name}_f{k}_even`` and ``{name}_f{k}_odd``,
       ``orientations`` cosine and sine Gabor filters each (:func:`gabor_kernels`, same
       padding), and ``{name}_f{k}_energy`` = even**2 + odd**2 per orientation.
    4. ``{name}_energy``: the energies concatenated, frequency-major (channel
       ``k * orientations + j`` is frequency ``k``, orientation ``j * 180 / orientations`` degrees).
    5. Pooling: ``"average"``: ``{name}_pool`` averages ``pool_size`` x ``pool_size``
       windows (a coarse retinotopic map; rows and columns left over are dropped) and
       ``{name}_features`` flattens it; ``"global"``: ``{name}_pool`` averages over the
       whole image; ``None``: ``{name}_features`` flattens the energy maps.

    Every weight is computed with numpy and the layers are not trainable. The model uses
    built-in Keras layers only, so its ``.keras`` file loads with ``safe_mode=True``.

    Args:
        input_shape: ``(height, width, 1)`` grey or ``(height, width, 3)`` RGB images in [0, 1].
            Defaults to `(64, 64, 1)`.
        orientations: Orientations per frequency, evenly spaced over [0, 180) degrees (4-8
            are typical). Defaults to `8`.
        frequencies: Spatial frequencies in cycles per pixel, each in (0, 0.5). Defaults to
            `(1 / 16, 1 / 8, 1 / 4)` (periods of 16, 8 and 4 pixels, an octave apart).
        bandwidth: Spatial-frequency bandwidth of the filters, in octaves (macaque V1 cells:
            a median of about 1.4, De Valois et al., 1982). It sets the orientation tuning
            too (the envelope is round): 1.5 octaves give an energy tuning of about 20 degrees
            half-width at half height, broad enough that the responses to two gratings keep
            growing apart up to 90 degrees of orientation difference (1 octave leaves them
            apart alike beyond about 45 degrees). Defaults to `1.5`.
        pooling: ``"average"``, ``"global"`` or ``None``. Defaults to `"average"`.
        pool_size: The average-pooling window in pixels. Defaults to `16` (a 4 x 4 map of 64 x 64 images).
        name: The model's name and the prefix of its layers' names. Defaults to `"gabor_energy"`.

    Returns:
        A ``keras.Model`` from images to ``(n, features)`` energies.

    Raises:
        ValueError: one line, for an input shape that is not grey or RGB, fewer than 2
            orientations, frequencies outside (0, 0.5), a bandwidth outside [0.1, 4] octaves,
            an unknown pooling or a pooling window larger than the image.
    """
    import keras
    from keras import layers

    shape, frequencies = _check_settings(input_shape, orientations, frequencies, bandwidth, pooling, pool_size)
    orientations = int(orientations)
    inputs = keras.Input(shape, name=f"{name}_input")
    x = inputs
    weights: list[tuple[Any, np.ndarray]] = []
    if shape[2] == 3:
        luminance = layers.Conv2D(1, 1, use_bias=False, trainable=False, name=f"{name}_luminance")
        x = luminance(x)
        weights.append((luminance, np.asarray(LUMINANCE_WEIGHTS, dtype=np.float32).reshape(1, 1, 3, 1)))
    x = layers.Rescaling(1.0, offset=-0.5, name=f"{name}_centre")(x)
    energies = []
    for k, frequency in enumerate(frequencies):
        even_kernels, odd_kernels = gabor_kernels(orientations, frequency, float(bandwidth))
        side = even_kernels.shape[0]
        pair = []
        for part, kernels in (("even", even_kernels), ("odd", odd_kernels)):
            conv = layers.Conv2D(
                orientations, side, padding="same", use_bias=False, trainable=False, name=f"{name}_f{k}_{part}"
            )
            response = conv(x)
            weights.append((conv, kernels[:, :, None, :]))
            pair.append(layers.Multiply(name=f"{name}_f{k}_{part}_squared")([response, response]))
        energies.append(layers.Add(name=f"{name}_f{k}_energy")(pair))
    x = energies[0] if len(energies) == 1 else layers.Concatenate(name=f"{name}_energy")(energies)
    if pooling == "average":
        x = layers.AveragePooling2D(int(pool_size), name=f"{name}_pool")(x)
        x = layers.Flatten(name=f"{name}_features")(x)
    elif pooling == "global":
        x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    else:
        x = layers.Flatten(name=f"{name}_features")(x)
    model = keras.Model(inputs, x, name=name)
    for layer, kernel in weights:
        layer.set_weights([kernel])
    model.trainable = False
    return model


def _images(stimuli: Any) -> np.ndarray:
    array = np.asarray(stimuli)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"`stimuli` must be images of real numbers. Received: dtype={array.dtype}")
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise ValueError(
            "`stimuli` must be grey (n, height, width) or (n, height, width, 1), or RGB (n, height, width, 3) "
            f"images. Received: shape={np.shape(stimuli)}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("`stimuli` must be finite. Received: NaN or infinity")
    return array.astype(np.float32)


def v1_reference(
    stimuli: Any,
    *,
    method: str = "correlation",
    labels: Sequence[str] | None = None,
    batch_size: int = 32,
    **gabor_settings: Any,
) -> RDM:
    """The "V1-like" reference: the RDM of the Gabor-energy model's responses to the stimuli.

    A model of V1 complex cells (:func:`gabor_energy_model`), not recordings.

    Args:
        stimuli: Grey ``(n, height, width)`` / ``(n, height, width, 1)`` or RGB
            ``(n, height, width, 3)`` images in [0, 1] (RGB is converted to luminance).
        method: The RDM's distance, one of :data:`keras_geo.explain.RDM_METHODS` but
            ``"crossnobis"``. Defaults to `"correlation"`.
        labels: Names of the stimuli, for messages. Defaults to `None`.
        batch_size: Stimuli per forward pass. Defaults to `32`.
        **gabor_settings: Arguments of :func:`gabor_energy_model` (not ``input_shape``,
            which the stimuli give).

    Returns:
        An :class:`~keras_geo.explain.RDM`.

    Raises:
        ValueError: one line, for stimuli that are not images, a bad setting of the model,
            or stimuli without a defined distance (e.g. a uniform image has zero energy
            everywhere: no correlation distance).
    """
    if method not in RDM_METHODS or method == "crossnobis":
        allowed = ", ".join(repr(m) for m in RDM_METHODS if m != "crossnobis")
        raise ValueError(f"`method` must be one of {allowed}. Received: method={method!r}")
    if "input_shape" in gabor_settings:
        raise ValueError("`input_shape` comes from the stimuli; do not pass it to v1_reference")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be an integer >= 1. Received: batch_size={batch_size!r}")
    images = _images(stimuli)
    model = gabor_energy_model(images.shape[1:], **gabor_settings)
    # Called eagerly: predict() would trace a new function for each new model, and warn after five.
    features = np.concatenate(
        [np.asarray(model(images[i : i + batch_size], training=False)) for i in range(0, len(images), batch_size)]
    )
    return rdm(features, method, labels=labels)


def it_reference(labels: Any, *, names: Sequence[str] | None = None) -> RDM:
    """The "IT-like" reference: the category model RDM, 0 within a category and 1 between categories.

    A model of the categorical geometry of inferior temporal cortex, not recordings.

    Args:
        labels: The category of each stimulus (``(n,)`` integers or strings).
        names: Names of the stimuli, for messages. Defaults to `None` (the labels as text).

    Returns:
        An :class:`~keras_geo.explain.RDM` of method ``"category"``.

    Raises:
        ValueError: for labels that are not one-dimensional, fewer than 3 stimuli, or one
            category only (no dissimilarity to rank).
    """
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"`labels` must be one category per stimulus, (n,). Received: shape={array.shape}")
    if array.size < 3:
        raise ValueError(f"RSA needs at least 3 stimuli. Received: {array.size} labels")
    if np.unique(array).size < 2:
        raise ValueError(f"`labels` must hold at least 2 categories. Received: only {array[0]!r}")
    rows, cols = np.triu_indices(array.size, k=1)
    different = (array[rows] != array[cols]).astype(np.float64)
    return RDM(different, array.size, "category", names if names is not None else [str(v) for v in array])


def orientation_rdm(angles: Any) -> RDM:
    """The orientation-difference model RDM of gratings: the angle between orientations, in degrees.

    Orientation is periodic over 180 degrees, so the dissimilarity of orientations
    ``a`` and ``b`` is ``min(|a - b| mod 180, 180 - |a - b| mod 180)``, in [0, 90].

    Args:
        angles: The orientation of each grating, in degrees, ``(n,)``.

    Returns:
        An :class:`~keras_geo.explain.RDM` of method ``"orientation"``.

    Raises:
        ValueError: for angles that are not one-dimensional, not finite, or fewer than 3.
    """
    array = np.asarray(angles, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"`angles` must be one orientation per grating, (n,). Received: shape={array.shape}")
    if array.size < 3:
        raise ValueError(f"RSA needs at least 3 stimuli. Received: {array.size} angles")
    if not np.all(np.isfinite(array)):
        raise ValueError("`angles` must be finite degrees. Received: NaN or infinity")
    rows, cols = np.triu_indices(array.size, k=1)
    difference = np.abs(array[rows] - array[cols]) % 180.0
    return RDM(np.minimum(difference, 180.0 - difference), array.size, "orientation")
