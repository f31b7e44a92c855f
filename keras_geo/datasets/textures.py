"""A generated grey texture set of 8 categories, the stimuli of a representational similarity analysis.

Report 001 compared network layers with macaque V1, V4 and IT through the responses
to 64 natural textures, 8 categories of 8. Those photographs cannot be shipped or
downloaded at run time, so keras-geo generates a texture set of the same design:
grey ``64 x 64`` images in [0, 1], reproducible from a seed. The categories (in label
order, sorted by name like an image folder read back):

* ``"checkerboard"``: square checks of 6-12 cycles per image, rotated and shifted at random.
* ``"filler"``: sections of the nano-particle filler structures of
  :mod:`keras_geo.datasets.filler` (the three classes in turn, 250 nm fields of view);
  filler is bright, rubber dark.
* ``"grating_coarse"``: sinusoidal gratings of 3-5 cycles per image.
* ``"grating_fine"``: sinusoidal gratings of 12-16 cycles per image.
* ``"noise_brown"``: isotropic noise of amplitude spectrum ``1 / f**2`` (smooth clouds).
* ``"noise_oriented"``: white noise band-passed around 8 cycles per image (one octave) and
  one orientation (about 10 degrees wide): streaks.
* ``"noise_pink"``: isotropic noise of amplitude spectrum ``1 / f`` (the spectrum of natural images).
* ``"plaid"``: the sum of two gratings of 6-10 cycles per image, 60-120 degrees apart.

Gratings, plaids, checkerboards and oriented noise take a random orientation and
phase per image, and a contrast between 0.5 and 1 (noise: a standard deviation of
0.15 about mid-grey 0.5, clipped to [0, 1]).

* :func:`texture_stimuli`: ``n_per_class`` images per category, in category order, for RSA
  (8 x 8 by default, as the report).
* :func:`grating_stimuli`: gratings of given orientations and random phases, for
  checking a model against the orientation-difference RDM
  (:func:`keras_geo.explain.orientation_rdm`).
* The data set ``textures`` (:func:`textures`): three independent draws as training,
  validation and test splits.

Any other stimuli (photographs of textures) come from an image folder, one sub-folder
per category, read by :func:`keras_geo.datasets.folders.load_image_folder` with
``color_mode="grayscale"`` (or the data set ``folder``).

Orientations are in degrees, counter-clockwise from horizontal stripes (0: horizontal,
90: vertical), the image's y axis pointing up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import numpy as np

from keras_geo._settings import Range
from keras_geo.datasets._registry import Dataset, register

__all__ = ["CATEGORIES", "grating_stimuli", "texture_stimuli", "textures"]

# Sorted, so that the labels match an image folder of them read back (sub-folders in name order).
CATEGORIES = (
    "checkerboard",
    "filler",
    "grating_coarse",
    "grating_fine",
    "noise_brown",
    "noise_oriented",
    "noise_pink",
    "plaid",
)

_NOISE_STD = 0.15
# Filler sections: small boxes keep the structures quick to generate (well under a second).
_FILLER_BOX_NM = 300.0
_FILLER_FOV_NM = 250.0


def _coordinates(size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of every pixel about the image centre, x to the right and y up, in pixels."""
    centre = (size - 1) / 2.0
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    return cols - centre, centre - rows


def _across(size: int, angle_deg: float) -> np.ndarray:
    """The coordinate across stripes of orientation ``angle_deg``: it changes along the stripes' normal."""
    x, y = _coordinates(size)
    theta = np.deg2rad(angle_deg)
    return -x * np.sin(theta) + y * np.cos(theta)


def _grating(size: int, angle_deg: float, frequency: float, phase: float, contrast: float) -> np.ndarray:
    """A sinusoidal grating of ``frequency`` cycles per pixel about mid-grey, amplitude ``contrast / 2``."""
    return 0.5 + 0.5 * contrast * np.cos(2.0 * np.pi * frequency * _across(size, angle_deg) + phase)


def _spectral_noise(rng: np.random.Generator, size: int, gain: Callable[[np.ndarray, np.ndarray], np.ndarray]):
    """White noise shaped by an amplitude ``gain(radial frequency, angle of the wave vector)``, at mid-grey."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    radius = np.hypot(fx, fy)
    # The wave vector's angle in the y-up frame (rows run down, so -fy).
    angle = np.arctan2(-fy, fx)
    weights = np.zeros_like(radius)
    nonzero = radius > 0
    weights[nonzero] = gain(radius[nonzero], angle[nonzero])
    field = np.real(np.fft.ifft2(np.fft.fft2(rng.normal(size=(size, size))) * weights))
    field = (field - field.mean()) / max(float(field.std()), np.finfo(np.float64).tiny)
    return 0.5 + _NOISE_STD * field


def _power_law(slope: float):
    return lambda radius, angle: radius**-slope


def _oriented(angle_deg: float, size: int):
    # Stripes of orientation theta vary along the normal theta + 90 degrees.
    normal = np.deg2rad(angle_deg + 90.0)
    centre = 8.0 / size

    def gain(radius: np.ndarray, angle: np.ndarray) -> np.ndarray:
        # cos(2 * difference): the same weight for a wave vector and its opposite (a real field).
        angular = np.exp(16.0 * (np.cos(2.0 * (angle - normal)) - 1.0))
        radial = np.exp(-(np.log2(radius / centre) ** 2) / (2.0 * 0.5**2))
        return angular * radial

    return gain


def _draw(category: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """One image of ``category`` (not filler), float64, before clipping."""
    angle = rng.uniform(0.0, 180.0)
    phase = rng.uniform(0.0, 2.0 * np.pi)
    contrast = rng.uniform(0.5, 1.0)
    if category == "grating_coarse":
        return _grating(size, angle, rng.uniform(3.0, 5.0) / size, phase, contrast)
    if category == "grating_fine":
        return _grating(size, angle, rng.uniform(12.0, 16.0) / size, phase, contrast)
    if category == "plaid":
        frequency = rng.uniform(6.0, 10.0) / size
        second = angle + rng.uniform(60.0, 120.0)
        return (
            _grating(size, angle, frequency, phase, contrast / 2.0)
            + _grating(size, second, frequency, rng.uniform(0.0, 2.0 * np.pi), contrast / 2.0)
            - 0.5
        )
    if category == "checkerboard":
        frequency = rng.uniform(6.0, 12.0) / size / 2.0  # a cycle is two checks
        u = np.cos(2.0 * np.pi * frequency * _across(size, angle) + phase)
        v = np.cos(2.0 * np.pi * frequency * _across(size, angle + 90.0) + rng.uniform(0.0, 2.0 * np.pi))
        return 0.5 + 0.5 * contrast * np.sign(u * v)
    if category == "noise_pink":
        return _spectral_noise(rng, size, _power_law(1.0))
    if category == "noise_brown":
        return _spectral_noise(rng, size, _power_law(2.0))
    if category == "noise_oriented":
        return _spectral_noise(rng, size, _oriented(angle, size))
    raise AssertionError(category)


def _filler_sections(n: int, size: int, seed: int) -> np.ndarray:
    """``n`` sections of filler structures, the three classes in turn (one structure per class)."""
    from keras_geo.datasets import filler

    out = np.empty((n, size, size), dtype=np.float32)
    for k, kind in enumerate(filler.CLASSES):
        count = len(range(k, n, len(filler.CLASSES)))
        if count == 0:
            continue
        structure = filler.generate_structure(kind, box_nm=_FILLER_BOX_NM, seed=seed + k)
        out[k :: len(filler.CLASSES)] = filler.slice_structure(
            structure, count, fov_nm=_FILLER_FOV_NM, image_size=size, seed=seed + k
        )
    return out


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"`{name}` must be an integer >= {low}. Received: {name}={value!r}")
    return int(value)


def texture_stimuli(
    n_per_class: int = 8, image_size: int = 64, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``n_per_class`` generated textures of each of the 8 categories, in category order.

    The same arguments give the same images. The default, 8 x 8 = 64 images of
    64 x 64 pixels, is the design of report 001.

    Args:
        n_per_class: Images per category. Defaults to `8`.
        image_size: Pixels per side (at least 48: the fine gratings' 16 cycles per image
            stay below the Nyquist limit). Defaults to `64`.
        seed: Random seed (an integer >= 0). Defaults to `0`.

    Returns:
        ``(images, labels, category_names)``: float32 ``(8 * n_per_class, image_size,
        image_size, 1)`` in [0, 1]; int64 labels ``(8 * n_per_class,)``, the first
        ``n_per_class`` images of category 0 and so on; :data:`CATEGORIES`.

    Raises:
        ValueError: for ``n_per_class < 1``, ``image_size < 48`` or a negative seed.
    """
    n_per_class = _check_int("n_per_class", n_per_class, 1)
    image_size = _check_int("image_size", image_size, 48)
    seed = _check_int("seed", seed, 0)
    images = np.empty((len(CATEGORIES) * n_per_class, image_size, image_size), dtype=np.float32)
    # One generator per category: a category's images do not change when another changes.
    streams = np.random.SeedSequence(seed).spawn(len(CATEGORIES))
    for label, (category, stream) in enumerate(zip(CATEGORIES, streams)):
        block = slice(label * n_per_class, (label + 1) * n_per_class)
        if category == "filler":
            images[block] = _filler_sections(n_per_class, image_size, int(stream.generate_state(1)[0] % 2**31))
        else:
            rng = np.random.default_rng(stream)
            images[block] = [_draw(category, rng, image_size) for _ in range(n_per_class)]
    labels = np.repeat(np.arange(len(CATEGORIES), dtype=np.int64), n_per_class)
    return np.clip(images, 0.0, 1.0)[..., None], labels, CATEGORIES


def grating_stimuli(
    orientations: int | Sequence[float] = 16,
    *,
    image_size: int = 64,
    cycles: float = 8.0,
    contrast: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Sinusoidal gratings of the given orientations, each with a random phase.

    Args:
        orientations: A number ``n`` of orientations evenly spaced over [0, 180)
            degrees, or the orientations in degrees. Defaults to `16`.
        image_size: Pixels per side. Defaults to `64`.
        cycles: Cycles per image (``cycles / image_size`` cycles per pixel, below the
            Nyquist limit of ``image_size / 2``). Defaults to `8.0`.
        contrast: Michelson contrast in (0, 1]: the grating spans ``0.5 +- contrast / 2``.
            Defaults to `1.0`.
        seed: Seed of the phases. Defaults to `0`.

    Returns:
        ``(images, angles)``: float32 ``(n, image_size, image_size, 1)`` in [0, 1] and
        the orientations in degrees, float64 ``(n,)``.

    Raises:
        ValueError: for fewer than 1 orientation, non-finite orientations, ``cycles``
            not in (0, image_size / 2), or ``contrast`` not in (0, 1].
    """
    if isinstance(orientations, int | np.integer) and not isinstance(orientations, bool):
        count = _check_int("orientations", orientations, 1)
        angles = np.arange(count) * 180.0 / count
    else:
        angles = np.asarray(orientations, dtype=np.float64).reshape(-1)
        if angles.size == 0 or not np.all(np.isfinite(angles)):
            raise ValueError(
                f"`orientations` must be a count or finite angles in degrees. Received: orientations={orientations!r}"
            )
    image_size = _check_int("image_size", image_size, 4)
    seed = _check_int("seed", seed, 0)
    if not 0.0 < float(cycles) < image_size / 2.0:
        raise ValueError(f"`cycles` must be in (0, {image_size / 2:g}) per image. Received: cycles={cycles!r}")
    if not 0.0 < float(contrast) <= 1.0:
        raise ValueError(f"`contrast` must be in (0, 1]. Received: contrast={contrast!r}")
    phases = np.random.default_rng(seed).uniform(0.0, 2.0 * np.pi, size=angles.size)
    frequency = float(cycles) / image_size
    images = np.stack([_grating(image_size, a, frequency, p, float(contrast)) for a, p in zip(angles, phases)])
    return np.clip(images, 0.0, 1.0).astype(np.float32)[..., None], angles


@register("textures", task="classification")
def textures(
    n_train: Annotated[int, Range(1)] = 40,
    n_val: Annotated[int, Range(1)] = 10,
    n_test: Annotated[int, Range(1)] = 10,
    image_size: Annotated[int, Range(48)] = 64,
    seed: Annotated[int, Range(0)] = 0,
) -> Dataset:
    """Generated grey textures of 8 categories (gratings, plaids, checks, noises, filler; images per class per split)."""
    # Draws seed, seed + 1, seed + 2: no image is in two splits.
    splits = {}
    for i, (split, count) in enumerate((("train", n_train), ("val", n_val), ("test", n_test))):
        x, y, _ = texture_stimuli(count, image_size, seed + i)
        splits[split] = (x, y)
    return Dataset(splits, class_names=CATEGORIES)
