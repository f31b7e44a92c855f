"""Bright particles in images: detection, matching, and the particles a restoration fabricates or misses.

A restoration model can look sharp and still be wrong: a GAN draws particles out of
noise, a blurry one loses the small ones. PSNR and SSIM hide both; counting them does
not. This module finds the bright, roughly round particles of an image (SEM images of
filler particles on a darker matrix), matches those of a restored image to those of
the reference one-to-one, and counts the unmatched ones on each side:

    >>> from keras_geo.particles import count_particles
    >>> counts = count_particles(restored, clean)           # (N, H, W[, 1]) batches in [0, 1]
    >>> counts.fabricated_per_100, counts.missed_per_100    # per 100 particles of the references

* :func:`detect_particles`: Laplacian-of-Gaussian blobs (``skimage.feature.blob_log``)
  of one image, ``(row, col, radius_px)`` each, kept only where the blob is brighter
  than the ring around it.
* :func:`match_particles`: the one-to-one matching of found to reference particles with
  the smallest total centre distance (Hungarian), within a distance: its pairs, the
  fabricated (found, unmatched) and the missed (reference, unmatched) particles.
* :func:`count_particles`: both over a batch, as :class:`ParticleCounts`.
* :func:`mark_particles`: circles the particles on a matplotlib axis (for reports).

The detector is NumPy/SciPy/scikit-image only and deterministic (computed in float64).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Match", "ParticleCounts", "count_particles", "detect_particles", "mark_particles", "match_particles"]

#: Spacing of the radii the detector tries, in pixels.
RADIUS_STEP_PX = 0.5

#: A smaller blob centred within a larger blob's radius plus this (pixels) is the same particle.
RIM_PX = 1.0

#: Without ``max_distance_px``, a found particle matches a reference one within
#: ``max(reference radius, MIN_MATCH_DISTANCE_PX)`` of its centre.
MIN_MATCH_DISTANCE_PX = 2.0


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"`{name}` must be a positive number. Received: {name}={value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"`{name}` must be a positive number. Received: {name}={value!r}")
    return float(value)


def _single_image(image: Any, name: str = "image") -> np.ndarray:
    """One grey image ``(H, W)`` in float64, from ``(H, W)`` or ``(H, W, 1)``."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 2 or min(array.shape) < 1:
        raise ValueError(
            f"`{name}` must be one grey image, (height, width) or (height, width, 1). Received shape: {np.shape(image)}"
        )
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` has values that are not finite (NaN or infinity).")
    return array


def _responses(image: np.ndarray, blobs: np.ndarray) -> np.ndarray:
    """The scale-normalised LoG response ``-sigma**2 * LoG_sigma(image)`` at each ``(row, col, sigma)``.

    Computed on a crop around each blob as large as the Gaussian's reach (scipy truncates it
    at 4 sigma), which gives the value of the whole image's filter at a fraction of the cost.
    """
    from scipy.ndimage import gaussian_laplace

    values = np.empty(len(blobs))
    for i, (row, col, sigma) in enumerate(blobs):
        row, col, reach = int(row), int(col), int(4 * sigma + 0.5) + 1
        r0, c0 = max(0, row - reach), max(0, col - reach)
        crop = image[r0 : row + reach + 1, c0 : col + reach + 1]
        values[i] = -gaussian_laplace(crop, sigma)[row - r0, col - c0] * sigma**2
    return values


def _one_per_particle(blobs: np.ndarray, response: np.ndarray) -> np.ndarray:
    """Indices of the blobs kept, one per particle: the strongest of those that are the same particle.

    Two blobs are the same particle when the centre of the smaller lies within the larger's
    radius plus ``RIM_PX`` (its radius is estimated in 0.5 px steps, and a little short on a
    noisy particle): a bump on a particle's rim, a particle seen at two scales, or a cluster of
    touching particles seen as one large blob. The strongest response wins, not the largest
    blob (``blob_log``'s own pruning keeps the largest, and so merges clusters). A real
    particle touching a larger one has its centre at least its own radius, 1.5 px or more,
    beyond the larger one's rim and is kept.
    """
    order = np.lexsort((blobs[:, 1], blobs[:, 0], -blobs[:, 2], -response))
    kept: list[int] = []
    for i in order:
        if kept:
            others = blobs[kept]
            distance = np.hypot(others[:, 0] - blobs[i, 0], others[:, 1] - blobs[i, 1])
            if np.any(distance < np.maximum(others[:, 2], blobs[i, 2]) + RIM_PX):
                continue
        kept.append(int(i))
    return np.sort(np.asarray(kept, dtype=np.int64))


def _brighter_than_ring(image: np.ndarray, blobs: np.ndarray, min_contrast: float) -> np.ndarray:
    """Which blobs have a mean over their disc at least ``min_contrast`` above the median of their ring.

    The disc is the pixels within ``max(radius, 1)`` of the centre; the ring those between
    ``radius + 1`` and ``2 * radius + 2`` (one pixel of gap for the particle's blurred rim).
    The ring's median, not its mean, is the background: a neighbouring particle that
    covers part of the ring does not raise it. A blob whose ring lies outside the image is kept.
    """
    keep = np.ones(len(blobs), dtype=bool)
    height, width = image.shape
    for i, (row, col, radius) in enumerate(blobs):
        reach = int(math.ceil(2 * radius + 2))
        r0, r1 = max(0, int(row) - reach), min(height, int(row) + reach + 1)
        c0, c1 = max(0, int(col) - reach), min(width, int(col) + reach + 1)
        rows, cols = np.ogrid[r0:r1, c0:c1]
        distance = np.hypot(rows - row, cols - col)
        window = image[r0:r1, c0:c1]
        disc = window[distance <= max(radius, 1.0)]
        ring = window[(distance >= radius + 1) & (distance <= 2 * radius + 2)]
        if ring.size:
            keep[i] = disc.mean() - np.median(ring) >= min_contrast
    return keep


def detect_particles(
    image: Any,
    *,
    min_radius_px: float = 1.5,
    max_radius_px: float = 10.0,
    threshold: float = 0.1,
    max_val: float = 1.0,
    min_contrast: float = 0.1,
) -> np.ndarray:
    """The bright round particles of one image: ``(row, col, radius_px)`` per particle.

    Laplacian-of-Gaussian blob detection (``skimage.feature.blob_log``) on
    ``image / max_val``: for radii from ``min_radius_px`` to ``max_radius_px`` in steps
    of 0.5 px, the image is filtered by the scale-normalised LoG ``-sigma**2 * LoG_sigma``
    with ``sigma = radius / sqrt(2)`` (the scale at which a disc of that radius responds
    most), and local maxima over position and scale above ``threshold`` are candidates.
    A candidate must be brighter than its surroundings: the mean of its disc at least
    ``min_contrast`` above the median of the ring around it (``radius + 1`` to
    ``2 * radius + 2`` px from the centre). Of candidates that are the same particle (the
    centre of the smaller within the larger's radius plus 1 px) the strongest response
    is kept.

    Why these choices:

    * The image is divided by ``max_val``, the fixed data range, never by its own
      maximum: a noise-only image stays a faint one and gains no blobs by rescaling, and
      the same particle gets the same response in every image.
    * ``threshold`` is absolute, in units of the data range. A sharp disc of contrast
      ``c`` responds with about ``0.7 * c`` at its own scale (about ``0.3 * c`` for a disc
      of 1.5 px blurred by a Gaussian of 1 px), white Gaussian noise of standard
      deviation ``s`` with a standard deviation of about ``0.38 * s`` at the smallest
      scale (``0.27 * s`` at sigma 1.5). The default 0.1 takes sharp particles of
      contrast 0.15 and more (0.35 for a blurred 1.5 px one) and lies 9 noise standard
      deviations above noise of ``s = 0.03``.
    * ``min_radius_px`` of 1.5 (sigma 1.06) smooths over single pixels, and the ring test
      rejects what still passes for a particle but is a speck: a lone bright pixel (shot
      noise, a scan-line glitch) gives a LoG response like a small particle, yet spread
      over the 9 pixels of the smallest disc its mean is a ninth of its excess, while a
      real particle is bright over its whole disc. The ring's median, not its mean, is
      the background, so neighbouring particles in the ring do not hide a particle.
    * One blob per particle, the strongest: noise on a particle's rim makes small
      maxima there, and a cluster of touching particles also responds as one large blob;
      ``blob_log``'s own pruning (the larger blob wins) would merge such a cluster.
    * The image is padded with its median (the matrix) before filtering, instead of the
      filter's reflection at the borders, which would merge a particle near a corner
      with its mirror images into one large blob.

    Limits: particles overlapping by more than about a pixel can be found as one;
    particles outside the radius range are found with the nearest radius of the range
    (a small bright one still responds at a larger scale) or, larger ones, as several
    or none.

    Args:
        image: One image, ``(height, width)`` or ``(height, width, 1)``, with values in
            ``[0, max_val]`` (values a little outside, as restored images have, are fine).
        min_radius_px: Smallest particle radius sought, in pixels. Defaults to `1.5`.
        max_radius_px: Largest particle radius sought, in pixels. Defaults to `10.0`.
        threshold: Least scale-normalised LoG response of a particle, in units of the
            data range. Defaults to `0.1`.
        max_val: Data range of the image, whose values lie in ``[0, max_val]``.
            Defaults to `1.0`.
        min_contrast: Least excess of a particle's mean brightness over the median of the
            ring around it, in units of the data range; ``0`` keeps every blob brighter
            than its ring, a negative value turns the test off. Defaults to `0.1`.

    Returns:
        A float64 array of shape ``(k, 3)``: ``row, col`` of each particle's centre (pixel
        indices) and its radius in pixels (``sqrt(2) * sigma``); ``(0, 3)`` if none.
    """
    from skimage.feature import blob_log

    min_radius_px = _positive("min_radius_px", min_radius_px)
    max_radius_px = _positive("max_radius_px", max_radius_px)
    if max_radius_px < min_radius_px:
        raise ValueError(
            "`max_radius_px` must be at least `min_radius_px`. "
            f"Received: min_radius_px={min_radius_px!r}, max_radius_px={max_radius_px!r}"
        )
    threshold = _positive("threshold", threshold)
    max_val = _positive("max_val", max_val)
    if isinstance(min_contrast, bool) or not (
        isinstance(min_contrast, (int, float, np.integer, np.floating)) and math.isfinite(min_contrast)
    ):
        raise ValueError(f"`min_contrast` must be a number. Received: min_contrast={min_contrast!r}")
    scaled = _single_image(image) / max_val
    # blob_log filters with reflecting borders: a particle near a corner and its mirror
    # images would merge into one large blob there. Padding with the median (the matrix)
    # leaves a particle at the edge a particle cut by the edge.
    pad = int(math.ceil(2 * max_radius_px / math.sqrt(2)))
    padded = np.pad(scaled, pad, mode="constant", constant_values=np.median(scaled))
    radii = int(math.ceil((max_radius_px - min_radius_px) / RADIUS_STEP_PX - 1e-9)) + 1
    candidates = blob_log(
        padded,
        min_sigma=min_radius_px / math.sqrt(2),
        max_sigma=max_radius_px / math.sqrt(2),
        num_sigma=radii,
        threshold=threshold,
        overlap=1.0,  # no pruning here: _one_per_particle keeps the strongest, not the largest
        exclude_border=False,
    )
    candidates = np.asarray(candidates, dtype=np.float64).reshape(-1, 3)
    response = _responses(padded, candidates)
    blobs = np.column_stack([candidates[:, :2] - pad, candidates[:, 2] * math.sqrt(2)])
    height, width = scaled.shape
    inside = (blobs[:, 0] >= 0) & (blobs[:, 0] < height) & (blobs[:, 1] >= 0) & (blobs[:, 1] < width)
    blobs, response = blobs[inside], response[inside]
    if len(blobs) and min_contrast >= 0:
        bright = _brighter_than_ring(scaled, blobs, float(min_contrast))
        blobs, response = blobs[bright], response[bright]
    blobs = blobs[_one_per_particle(blobs, response)]
    # Rows, then columns: a stable, readable order.
    return blobs[np.lexsort((blobs[:, 1], blobs[:, 0]))]


class Match(NamedTuple):
    """A one-to-one matching of found to reference particles.

    Attributes:
        pairs: ``(m, 2)`` int array of ``(found index, reference index)``, by found index.
        fabricated: Indices into the found particles that match no reference particle.
        missed: Indices into the reference particles that no found particle matches.
    """

    pairs: np.ndarray
    fabricated: np.ndarray
    missed: np.ndarray


def _particles(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, 3))
    if array.ndim != 2 or array.shape[1] not in (2, 3):
        raise ValueError(
            f"`{name}` must be a (k, 3) array of (row, col, radius_px) rows. Received shape: {np.shape(value)}"
        )
    return array


def match_particles(found: Any, reference: Any, *, max_distance_px: float | None = None) -> Match:
    """Matches found particles to reference particles one-to-one, each pair within a distance.

    Of all matchings whose pairs lie within the allowed distance, the one with the most
    pairs and, among those, the smallest total centre distance
    (``scipy.optimize.linear_sum_assignment``, the Hungarian method): a greedy
    nearest-first matching can take a shared neighbour and leave two particles unmatched.

    Args:
        found: ``(k, 3)`` array of ``(row, col, radius_px)``, e.g. the particles of a restored
            image (``(k, 2)`` without radii is fine when ``max_distance_px`` is given).
        reference: ``(n, 3)`` array of the particles that are really there.
        max_distance_px: Largest centre distance of a pair, in pixels; ``None`` allows
            each reference particle ``max(its radius, 2 px)``: a found particle must lie
            on it. Defaults to `None`.

    Returns:
        A :class:`Match`: its pairs, the fabricated (found, unmatched) and the missed
        (reference, unmatched) particles as index arrays.
    """
    from scipy.optimize import linear_sum_assignment

    found = _particles(found, "found")
    reference = _particles(reference, "reference")
    if max_distance_px is None:
        if reference.shape[1] < 3:
            raise ValueError(
                "`reference` needs radii (a (n, 3) array) when `max_distance_px` is None. "
                f"Received shape: {reference.shape}"
            )
        allowed = np.maximum(reference[:, 2], MIN_MATCH_DISTANCE_PX)[None, :]
    else:
        allowed = np.full((1, len(reference)), _positive("max_distance_px", max_distance_px))
    distance = np.hypot(
        found[:, None, 0] - reference[None, :, 0],
        found[:, None, 1] - reference[None, :, 1],
    )
    within = distance <= allowed
    pairs = np.zeros((0, 2), dtype=np.int64)
    if within.any():
        # A forbidden pair costs more than all allowed pairs together, so the assignment
        # first maximises the number of allowed pairs, then minimises their distance.
        forbidden = float(distance[within].sum()) + 1.0
        rows, cols = linear_sum_assignment(np.where(within, distance, forbidden))
        kept = within[rows, cols]
        pairs = np.stack([rows[kept], cols[kept]], axis=1).astype(np.int64)
    return Match(
        pairs=pairs,
        fabricated=np.setdiff1d(np.arange(len(found)), pairs[:, 0]).astype(np.int64),
        missed=np.setdiff1d(np.arange(len(reference)), pairs[:, 1]).astype(np.int64),
    )


def _per_100(count: int, reference: int) -> float:
    return 100.0 * count / max(reference, 1)


@dataclass
class ParticleCounts:
    """Fabricated, missed and true (matched) particles of a batch of restored images.

    Per image ``i``: ``true[i] + fabricated[i]`` particles were found in the restored
    image, ``true[i] + missed[i]`` are in the reference.

    The rates are per 100 reference particles of the whole batch. A batch without any
    reference particle divides by 1 instead of 0: nothing can be missed (0), and each
    fabricated particle counts 100 (any is as bad as a whole particle fabricated per
    particle there). ``precision`` (the share of the found particles that are real) is 1
    when nothing was found, ``recall`` (the share of the reference particles found) 1
    when there was nothing to find; so every figure is finite.

    Attributes:
        fabricated: Per image, the found particles that match no reference particle.
        missed: Per image, the reference particles that no found particle matches.
        true: Per image, the matched pairs.
        found_particles: Per image, the ``(k, 3)`` particles of the restored image.
        reference_particles: Per image, the ``(n, 3)`` reference particles.
        matches: Per image, the :class:`Match`.
    """

    fabricated: np.ndarray
    missed: np.ndarray
    true: np.ndarray
    found_particles: list[np.ndarray] = field(default_factory=list, repr=False)
    reference_particles: list[np.ndarray] = field(default_factory=list, repr=False)
    matches: list[Match] = field(default_factory=list, repr=False)

    @property
    def total_fabricated(self) -> int:
        return int(np.sum(self.fabricated))

    @property
    def total_missed(self) -> int:
        return int(np.sum(self.missed))

    @property
    def total_true(self) -> int:
        return int(np.sum(self.true))

    @property
    def total_found(self) -> int:
        return self.total_true + self.total_fabricated

    @property
    def total_reference(self) -> int:
        return self.total_true + self.total_missed

    @property
    def fabricated_per_100(self) -> float:
        """Fabricated particles per 100 reference particles (the denominator at least 1)."""
        return _per_100(self.total_fabricated, self.total_reference)

    @property
    def missed_per_100(self) -> float:
        """Missed particles per 100 reference particles (0 when there are none)."""
        return _per_100(self.total_missed, self.total_reference)

    @property
    def precision(self) -> float:
        """Share of the found particles that are real; 1 when nothing was found."""
        return self.total_true / self.total_found if self.total_found else 1.0

    @property
    def recall(self) -> float:
        """Share of the reference particles found; 1 when there were none."""
        return self.total_true / self.total_reference if self.total_reference else 1.0

    def errors(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Image ``i``'s fabricated particles (found, unmatched) and missed ones (reference, unmatched), ``(k, 3)`` each."""
        match = self.matches[i]
        return self.found_particles[i][match.fabricated], self.reference_particles[i][match.missed]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: the totals, the rates, and the per-image counts as lists of ints."""
        return {
            "n_images": len(self.true),
            "found": self.total_found,
            "reference": self.total_reference,
            "true": self.total_true,
            "fabricated": self.total_fabricated,
            "missed": self.total_missed,
            "fabricated_per_100": self.fabricated_per_100,
            "missed_per_100": self.missed_per_100,
            "precision": self.precision,
            "recall": self.recall,
            "per_image": {
                "fabricated": [int(v) for v in self.fabricated],
                "missed": [int(v) for v in self.missed],
                "true": [int(v) for v in self.true],
            },
        }


def _batch(images: Any, name: str) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        raise ValueError(
            f"`{name}` must be a batch of grey images, (N, height, width) or (N, height, width, 1). "
            f"Received shape: {np.shape(images)}"
        )
    return array


def count_particles(
    restored: Any,
    reference_images: Any = None,
    *,
    reference: Sequence[Any] | None = None,
    max_val: float = 1.0,
    max_distance_px: float | None = None,
    **detector: Any,
) -> ParticleCounts:
    """Counts the particles restored images fabricate and miss, against reference particles.

    The particles of each restored image (:func:`detect_particles`) are matched
    (:func:`match_particles`) to the reference particles of the same image: either
    given (``reference``, e.g. the ground truth of a synthetic data set) or detected by
    the same detector, with the same settings, on the clean ``reference_images``. The
    second way measures what the restoration changed, not what the detector gets wrong:
    a particle the detector misses (too faint, too small, merged with a neighbour) in
    the clean image and equally in a faithful restoration counts as neither missed nor
    fabricated, so the detector's own bias cancels. Given ground truth instead, the
    counts include the detector's errors (a perfect restoration need not score 0).

    Args:
        restored: Restored images, ``(N, height, width)`` or ``(N, height, width, 1)``,
            values in ``[0, max_val]``.
        reference_images: Clean images of the same shape, whose detected particles are
            the reference. Give it or ``reference``, not both. Defaults to `None`.
        reference: Per image, a ``(n, 3)`` array of the true ``(row, col, radius_px)``.
            Defaults to `None`.
        max_val: Data range of the images. Defaults to `1.0`.
        max_distance_px: Largest centre distance of a match, see :func:`match_particles`.
            Defaults to `None` (the reference particle's radius, at least 2 px).
        **detector: Settings of :func:`detect_particles` (``min_radius_px``,
            ``max_radius_px``, ``threshold``, ``min_contrast``).

    Returns:
        A :class:`ParticleCounts` with per-image and total counts.
    """
    if (reference_images is None) == (reference is None):
        raise ValueError(
            "Give the reference particles either as `reference_images` (clean images to detect them in) "
            "or as `reference` (a (n, 3) array per image), exactly one of the two. Received: "
            f"reference_images={'None' if reference_images is None else 'an array'}, "
            f"reference={'None' if reference is None else 'a list'}"
        )
    restored = _batch(restored, "restored")
    if reference_images is not None:
        reference_images = _batch(reference_images, "reference_images")
        if reference_images.shape != restored.shape:
            raise ValueError(
                "`reference_images` must have the shape of `restored`. "
                f"Received: restored {restored.shape}, reference_images {reference_images.shape}"
            )
        reference = [detect_particles(image, max_val=max_val, **detector) for image in reference_images]
    else:
        reference = [_particles(particles, f"reference[{i}]") for i, particles in enumerate(reference)]
        if len(reference) != len(restored):
            raise ValueError(
                "`reference` needs one array of particles per restored image. "
                f"Received: {len(reference)} arrays for {len(restored)} images"
            )
    found = [detect_particles(image, max_val=max_val, **detector) for image in restored]
    matches = [match_particles(f, r, max_distance_px=max_distance_px) for f, r in zip(found, reference)]
    return ParticleCounts(
        fabricated=np.array([len(m.fabricated) for m in matches], dtype=np.int64),
        missed=np.array([len(m.missed) for m in matches], dtype=np.int64),
        true=np.array([len(m.pairs) for m in matches], dtype=np.int64),
        found_particles=found,
        reference_particles=reference,
        matches=matches,
    )


def mark_particles(axis: Any, particles: Any, *, color: str, label: str | None = None) -> list[Any]:
    """Circles particles on a matplotlib axis showing their image (e.g. fabricated in red, missed in yellow).

    Args:
        axis: A matplotlib ``Axes`` with the image drawn by ``imshow`` (pixel coordinates).
        particles: ``(k, 3)`` array of ``(row, col, radius_px)``.
        color: Colour of the circles.
        label: Legend label, given to the first circle only (one legend entry). Defaults to `None`.

    Returns:
        The circles added (matplotlib patches).
    """
    from matplotlib.patches import Circle

    particles = _particles(particles, "particles")
    if particles.shape[1] != 3:
        raise ValueError(
            f"`particles` must be a (k, 3) array of (row, col, radius_px) rows. Received shape: {particles.shape}"
        )
    circles = []
    for i, (row, col, radius) in enumerate(particles):
        circle = Circle(
            (col, row), radius + 1.0, fill=False, edgecolor=color, linewidth=1.0, label=label if i == 0 else None
        )
        circles.append(axis.add_patch(circle))
    return circles
