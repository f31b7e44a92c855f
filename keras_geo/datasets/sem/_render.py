"""Clean SEM-like images: plane sections of filler structures in secondary-electron contrast.

`render_sem` cuts filler structures (:func:`keras_geo.datasets.filler.generate_structure`)
with random planes, computes every particle's section analytically and paints it with
the contrast of a high-quality secondary-electron (SE) image: a dim matrix, bright
particles and the edge effect. The sections come back as ground truth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import cv2
import numpy as np

from keras_geo.datasets import filler

from ._checks import check_int, check_number, check_seed, rng

__all__ = ["SemImages", "render_sem"]

# Cells of the coarse grid the matrix's low-frequency texture is interpolated from.
_MATRIX_GRID = 5
# Gaussian correlation length (pixels) of the fine texture: grain, not pixel noise.
_FINE_SIGMA_PX = 0.7
# Images rendered together: bounds the memory of the disc stencils.
_CHUNK = 32


class SemImages(NamedTuple):
    """Rendered SEM-like images and their ground truth.

    Attributes:
        images: `(n, H, W)` float32 in ``[0, 1]``.
        particles: One `(k, 3)` float32 array per image, rows ``(row, col, radius_px)``
            in pixel coordinates (pixel ``(i, j)`` is centred at ``(i, j)``): every
            particle section whose centre lies inside the image, however small.
        kinds: The filler class (one of `filler.CLASSES`) of each image's structure.
    """

    images: np.ndarray
    particles: tuple[np.ndarray, ...]
    kinds: tuple[str, ...]


def _haar_rotations(generator: np.random.Generator, n: int) -> np.ndarray:
    """`(n, 3, 3)` rotations uniform on SO(3) (unit quaternions from 4-D Gaussians); columns u, v, normal."""
    x, y, z, w = generator.normal(size=(n, 4)).T
    norm = np.sqrt(x * x + y * y + z * z + w * w)
    x, y, z, w = x / norm, y / norm, z / norm, w / norm
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], axis=-1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], axis=-1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=1,
    )


def _sections(
    structure: filler.Structure, center: np.ndarray, rotation: np.ndarray, fov_nm: float, size: int
) -> np.ndarray:
    """The discs one plane cuts from a structure that show in its image: `(m, 3)` rows ``(row, col, radius_px)``.

    A sphere of radius ``r`` whose centre lies ``d`` from the plane cuts a disc of radius
    ``sqrt(r^2 - d^2)``. The box is periodic: the minimum image of every centre relative
    to the plane centre is the one that can show, as the box is at least twice the reach
    of the field of view (checked by the caller).
    """
    delta = structure.centers - center
    delta -= structure.box_nm * np.round(delta / structure.box_nm)
    local = delta @ rotation  # (N, 3): along u (columns), v (rows), normal
    radii = structure.radii
    hit = np.abs(local[:, 2]) < radii
    local, radii = local[hit], radii[hit]
    rho = np.sqrt(np.maximum(radii * radii - local[:, 2] ** 2, 0.0))
    half = 0.5 * fov_nm
    show = (np.abs(local[:, 0]) < half + rho) & (np.abs(local[:, 1]) < half + rho)
    pixel = fov_nm / size
    rows = local[show, 1] / pixel + (size / 2.0 - 0.5)
    cols = local[show, 0] / pixel + (size / 2.0 - 0.5)
    return np.stack([rows, cols, rho[show] / pixel], axis=-1)


def _paint_discs(
    discs: Sequence[np.ndarray], levels: Sequence[np.ndarray], size: int, supersample: int, edge_gain: float
) -> tuple[np.ndarray, np.ndarray]:
    """Area coverage and coverage-weighted brightness of the discs of a few images, anti-aliased.

    Each disc is sampled on a grid ``supersample`` times finer than the image, inside a
    stencil around its centre; the sub-pixels are averaged into pixels. A disc's brightness
    at distance ``rho`` from its centre is ``level + edge_gain * (1 - sqrt(1 - (rho / R)^2))``.
    Sections of disjoint spheres are disjoint discs, so contributions add without overlap.

    Returns:
        ``(coverage, brightness)``, both `(B, size, size)` float32.
    """
    n_images, s = len(discs), supersample
    fine = size * s
    counts = [len(d) for d in discs]
    all_discs = np.concatenate([np.asarray(d, np.float64).reshape(-1, 3) for d in discs])
    if all_discs.size == 0:
        empty = np.zeros((n_images, size, size), np.float32)
        return empty, empty.copy()
    level = np.concatenate([np.asarray(v, np.float64).reshape(-1) for v in levels])
    image = np.repeat(np.arange(n_images), counts)
    row, col, radius = all_discs.T
    half = int(math.ceil(radius.max() * s)) + 1
    offsets = np.arange(-half, half + 1)
    # Fine-grid sub-pixel p is centred at image coordinate (p + 0.5) / s - 0.5.
    p0 = np.rint((row + 0.5) * s - 0.5).astype(np.int64)
    q0 = np.rint((col + 0.5) * s - 0.5).astype(np.int64)
    dy = ((p0[:, None] + offsets + 0.5) / s - 0.5) - row[:, None]  # (M, K)
    dx = ((q0[:, None] + offsets + 0.5) / s - 0.5) - col[:, None]
    t2 = (dy * dy)[:, :, None] + (dx * dx)[:, None, :]  # (M, K, K)
    r2 = (radius * radius)[:, None, None]
    inside = t2 < r2
    rim = 1.0 - np.sqrt(np.clip(1.0 - t2 / np.maximum(r2, 1e-12), 0.0, 1.0))
    value = np.where(inside, level[:, None, None] + edge_gain * rim, 0.0)
    # A canvas padded by 2 * half + 1 sub-pixels: the stencil of every disc that can touch the
    # image fits, and any other is clamped to a place where it still misses the image.
    pad = 2 * half + 1
    side = fine + 2 * pad
    p0 = np.clip(p0, -half - 1, fine + half) + pad
    q0 = np.clip(q0, -half - 1, fine + half) + pad
    rows = (image * side + p0)[:, None] + offsets
    flat = (rows * side)[:, :, None] + (q0[:, None] + offsets)[:, None, :]
    total = n_images * side * side
    cover = np.bincount(flat.ravel(), weights=inside.ravel().astype(np.float64), minlength=total)
    bright = np.bincount(flat.ravel(), weights=value.ravel(), minlength=total)

    def pixels(canvas: np.ndarray) -> np.ndarray:
        canvas = canvas.reshape(n_images, side, side)[:, pad : pad + fine, pad : pad + fine]
        return canvas.reshape(n_images, size, s, size, s).mean(axis=(2, 4)).astype(np.float32)

    return np.minimum(pixels(cover), 1.0), pixels(bright)


def _fine_texture(generator: np.random.Generator, size: int, std: float) -> np.ndarray:
    """Gaussian-correlated grain of standard deviation ``std``."""
    noise = generator.normal(size=(size, size)).astype(np.float32)
    if std == 0:
        return np.zeros((size, size), np.float32)
    kernel = cv2.getGaussianKernel(2 * int(math.ceil(3 * _FINE_SIGMA_PX)) + 1, _FINE_SIGMA_PX, cv2.CV_64F)
    gain = float(np.sum(kernel**2))  # std of white noise after the separable 2-D kernel
    smooth = cv2.sepFilter2D(noise, cv2.CV_32F, kernel, kernel, borderType=cv2.BORDER_REFLECT)
    return smooth * np.float32(std / gain)


def _matrix(generator: np.random.Generator, size: int, level: float, texture: float) -> np.ndarray:
    """The matrix's grey level with a faint low-frequency texture (a coarse random grid, bicubic)."""
    coarse = generator.normal(0.0, texture, size=(_MATRIX_GRID, _MATRIX_GRID)).astype(np.float32)
    return level + cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def _default_box(fov_nm: float, radius_nm: float) -> float:
    return max(2.5 * fov_nm, 40.0 * radius_nm)


def render_sem(
    n: int,
    image_size: int = 64,
    *,
    fov_nm: float = 160.0,
    radius_nm: float = 10.0,
    volume_fraction: float = 0.15,
    box_nm: float | None = None,
    slices_per_structure: int = 50,
    classes: Sequence[str] = filler.CLASSES,
    matrix_level: float = 0.25,
    matrix_texture: float = 0.03,
    particle_level: float = 0.7,
    particle_spread: float = 0.05,
    edge_gain: float = 0.25,
    texture_std: float = 0.01,
    supersample: int = 4,
    seed: int = 0,
) -> SemImages:
    """Clean, high-quality SEM-like images of filler particles in a matrix, with their sections.

    Structures of the filler classes (:func:`keras_geo.datasets.filler.generate_structure`,
    the classes taken in turn) are each cut by ``slices_per_structure`` planes of uniformly
    random position and orientation; each particle's section is computed analytically
    (a sphere of radius ``r`` at distance ``d`` from the plane gives a disc of radius
    ``sqrt(r^2 - d^2)``; the box is periodic, so a particle near a face shows on the
    opposite one). The pixel size is ``fov_nm / image_size`` (2.5 nm by default: a 10 nm
    particle's section is up to 4 px in radius, ~3 px on average).

    Secondary-electron contrast, from dark to bright:

    * the matrix: grey level ``matrix_level`` plus a low-frequency texture (a random
      5x5 grid, bicubic) of standard deviation ``matrix_texture``;
    * the particles: brightness ``particle_level`` plus a per-section deviation of
      standard deviation ``particle_spread``;
    * the edge effect: the SE yield rises where the surface tilts, so a disc brightens
      towards its rim, by ``edge_gain * (1 - sqrt(1 - (rho / R)^2))`` at distance ``rho``
      from the centre of a disc of radius ``R``;
    * a fine grain everywhere (correlated over ~0.7 px) of standard deviation ``texture_std``.

    Disc edges are anti-aliased by sampling ``supersample`` x ``supersample`` points per
    pixel. The result is clipped to ``[0, 1]``.

    Args:
        n: Number of images (>= 1).
        image_size: Image edge in pixels (>= 8). Defaults to `64`.
        fov_nm: Edge of the square field of view in nm. Defaults to `160.0`.
        radius_nm: Mean primary-particle radius in nm. Defaults to `10.0`.
        volume_fraction: Filler volume fraction, in ``(0, 0.5]`` (the area fraction of
            a section, on average). Defaults to `0.15`.
        box_nm: Edge of the periodic structure box in nm; at least twice the reach of
            the field of view (about ``1.42 * fov_nm + 4.3 * radius_nm``). `None` means
            ``max(2.5 * fov_nm, 40 * radius_nm)``. Defaults to `None`.
        slices_per_structure: Images cut from one structure; ``ceil(n / slices_per_structure)``
            structures are generated. Defaults to `50`.
        classes: The filler classes, used in turn (structure ``k`` is of class
            ``classes[k % len(classes)]``). Defaults to all of `filler.CLASSES`.
        matrix_level: Mean grey level of the matrix. Defaults to `0.25`.
        matrix_texture: Standard deviation of the matrix's low-frequency texture.
            Defaults to `0.03`.
        particle_level: Mean brightness of a particle section (without the edge effect).
            Defaults to `0.7`.
        particle_spread: Standard deviation of a section's brightness around
            `particle_level`. Defaults to `0.05`.
        edge_gain: Extra brightness at a disc's rim (the edge effect). Defaults to `0.25`.
        texture_std: Standard deviation of the fine grain. Defaults to `0.01`.
        supersample: Sub-samples per pixel along each axis for anti-aliasing (>= 1).
            Defaults to `4`.
        seed: Non-negative integer seed; the images are a deterministic function of all
            arguments. Defaults to `0`.

    Returns:
        :class:`SemImages`, images in a seeded random order (the classes mixed).

    Raises:
        ValueError: for a value out of range, naming the argument and echoing the value.
    """
    n = check_int("n", n, 1)
    size = check_int("image_size", image_size, 8)
    fov = check_number("fov_nm", fov_nm, positive=True)
    radius = check_number("radius_nm", radius_nm, positive=True)
    per_structure = check_int("slices_per_structure", slices_per_structure, 1)
    levels = {
        name: check_number(name, value)
        for name, value in (
            ("matrix_level", matrix_level),
            ("matrix_texture", matrix_texture),
            ("particle_level", particle_level),
            ("particle_spread", particle_spread),
            ("edge_gain", edge_gain),
            ("texture_std", texture_std),
        )
    }
    s = check_int("supersample", supersample, 1)
    seed = check_seed(seed)
    classes = tuple(classes)
    if not classes or any(kind not in filler.CLASSES for kind in classes):
        raise ValueError(f"`classes` must be a non-empty subset of {filler.CLASSES}. Received: classes={classes!r}")
    box = _default_box(fov, radius) if box_nm is None else check_number("box_nm", box_nm, positive=True)

    n_structures = -(-n // per_structure)
    discs: list[np.ndarray] = []
    kinds: list[str] = []
    generators: list[np.random.Generator] = []
    for k in range(n_structures):
        stream = rng(seed, 0, k)
        kind = classes[k % len(classes)]
        structure = filler.generate_structure(
            kind,
            box_nm=box,
            radius_nm=radius,
            volume_fraction=volume_fraction,
            seed=int(stream.integers(2**63)),
        )
        _check_box(structure, fov, box_nm)
        count = min(per_structure, n - k * per_structure)
        centers = stream.random((count, 3)) * box
        rotations = _haar_rotations(stream, count)
        for j in range(count):
            discs.append(_sections(structure, centers[j], rotations[j], fov, size))
            kinds.append(kind)
            generators.append(rng(seed, 1, k, j))

    images = np.empty((n, size, size), np.float32)
    particles: list[np.ndarray] = []
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        brightness = [
            levels["particle_level"] + g.normal(0.0, 1.0, size=len(d)) * levels["particle_spread"]
            for g, d in zip(generators[start:stop], discs[start:stop])
        ]
        cover, bright = _paint_discs(discs[start:stop], brightness, size, s, levels["edge_gain"])
        for i in range(start, stop):
            g = generators[i]
            matrix = _matrix(g, size, levels["matrix_level"], levels["matrix_texture"])
            grain = _fine_texture(g, size, levels["texture_std"])
            images[i] = (1.0 - cover[i - start]) * matrix + bright[i - start] + grain
            d = discs[i]
            inside = (d[:, 0] >= -0.5) & (d[:, 0] < size - 0.5) & (d[:, 1] >= -0.5) & (d[:, 1] < size - 0.5)
            particles.append(d[inside].astype(np.float32))
    np.clip(images, 0.0, 1.0, out=images)
    order = rng(seed, 2).permutation(n)
    return SemImages(images[order], tuple(particles[i] for i in order), tuple(kinds[i] for i in order))


def _check_box(structure: filler.Structure, fov_nm: float, box_nm: Any) -> None:
    """The minimum image is the only image that can show: the box spans twice the FOV's reach."""
    r_max = float(structure.radii.max()) if structure.n_particles else 0.0
    reach = math.sqrt(2.0 * (0.5 * fov_nm + r_max) ** 2 + r_max**2)
    if structure.box_nm < 2.0 * reach:
        raise ValueError(
            f"`box_nm` must be at least twice the reach of the field of view ({2.0 * reach:.4g} nm for "
            f"fov_nm={fov_nm:g} and particles up to {r_max:.3g} nm). Received: box_nm={box_nm!r}"
        )
