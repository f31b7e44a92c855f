"""Voxel volumes: voxelising a structure and slicing real voxel volumes.

`voxelize` turns a `Structure` into an occupancy volume; `sample_volume_plane`
and `slice_volume` sample planes of any volume ``[z, y, x]`` (e.g. a FIB-SEM
stack) with the plane conventions and plane sampling of `_render`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

from ._render import (
    _check_center,
    _check_rotation,
    _check_structure,
    _plane_pixel_offsets,
    _sample_planes,
)
from ._structures import Structure
from ._validation import _check_float, _check_int, _check_seed


def voxelize(structure: Structure, voxel_nm: float, *, supersample: int = 1) -> np.ndarray:
    """Voxel occupancy of a structure, ``volume[z, y, x]``.

    Voxel ``(k, j, i)`` is centred at ``((i, j, k) + 0.5) * voxel_nm``.

    Args:
        structure: A `Structure`.
        voxel_nm: Voxel edge in nm; `structure.box_nm` must be an integer
            multiple of it (the volume stays periodic).
        supersample: Sub-samples per voxel and axis; with 1 a voxel is 1 if
            its centre lies in a sphere, else 0; with ``s > 1`` the value is
            the fraction of ``s^3`` sub-points inside. Defaults to `1`.

    Returns:
        `(M, M, M)` float32 array with ``M = box_nm / voxel_nm``.
    """
    structure = _check_structure(structure)
    voxel = _check_float("voxel_nm", voxel_nm, low=0.0)
    ss = _check_int("supersample", supersample, 1)
    box = structure.box_nm
    m = int(round(box / voxel))
    if m < 1 or abs(m * voxel - box) > 1e-6 * box:
        raise ValueError(
            f"`voxel_nm` must divide box_nm={box:g} into a whole number of voxels. Received: voxel_nm={voxel_nm!r}"
        )
    if m**3 > 2**31:
        raise ValueError(f"`voxel_nm` gives too many voxels ({m}^3). Received: voxel_nm={voxel_nm!r}")
    counts = np.zeros(m**3, np.float64)
    if structure.n_particles == 0:
        return counts.reshape(m, m, m).astype(np.float32)
    x, r = structure.centers, structure.radii
    hw = int(math.ceil(float(r.max()) / voxel)) + 1
    o = np.arange(-hw, hw + 1)
    k = len(o)
    chunk = max(1, 2_000_000 // k**3)
    sub = (np.arange(ss) + 0.5) / ss  # sub-point offsets within a voxel, in voxels
    for s0 in range(0, len(r), chunk):
        xc, rc = x[s0 : s0 + chunk] / voxel, r[s0 : s0 + chunk] / voxel
        base = np.floor(xc).astype(np.int64)
        for sz in sub:
            for sy in sub:
                for sx in sub:
                    # Sub-point coordinates (in voxels) near each sphere.
                    px = base[:, 0:1] + o + sx  # (c, k)
                    py = base[:, 1:2] + o + sy
                    pz = base[:, 2:3] + o + sz
                    dx2 = (px - xc[:, 0:1]) ** 2
                    dy2 = (py - xc[:, 1:2]) ** 2
                    dz2 = (pz - xc[:, 2:3]) ** 2
                    inside = (dz2[:, :, None, None] + dy2[:, None, :, None] + dx2[:, None, None, :]) < (rc**2)[
                        :, None, None, None
                    ]
                    ix = np.mod(base[:, 0:1] + o, m)
                    iy = np.mod(base[:, 1:2] + o, m)
                    iz = np.mod(base[:, 2:3] + o, m)
                    flat = (iz[:, :, None, None] * m + iy[:, None, :, None]) * m + ix[:, None, None, :]
                    counts += np.bincount(flat[inside], minlength=m**3)
    occ = np.minimum(counts / ss**3, 1.0)
    return occ.reshape(m, m, m).astype(np.float32)


def _check_volume(volume: Any) -> np.ndarray:
    vol = np.asarray(volume)
    if vol.ndim != 3 or min(vol.shape) < 1:
        raise ValueError(f"`volume` must be a 3-D array indexed [z, y, x]. Received: volume.shape={vol.shape}")
    if vol.dtype == np.bool_ or not np.issubdtype(vol.dtype, np.floating):
        vol = vol.astype(np.float32)
    return vol


def _check_order(order: Any) -> int:
    order = _check_int("order", order, 0)
    if order > 5:
        raise ValueError(f"`order` must be in [0, 5]. Received: order={order!r}")
    return order


def _sample_volume_batch(
    volume: np.ndarray,
    centers: np.ndarray,
    rotations: np.ndarray,
    voxel: float,
    fov: float,
    size: int,
    order: int,
    periodic: bool,
    prefilter: bool = True,
) -> np.ndarray:
    """Sample `(B, S, S)` planes of a volume (see sample_volume_plane)."""
    t = _plane_pixel_offsets(fov, size)
    # Points (B, S, S, 3) in nm: center + a_j u + b_i v.
    pts = (
        centers[:, None, None, :]
        + t[None, None, :, None] * rotations[:, None, None, :, 0]
        + t[None, :, None, None] * rotations[:, None, None, :, 1]
    )
    idx = pts / voxel - 0.5  # voxel i is centred at (i + 0.5) * voxel
    coords = np.stack([idx[..., 2], idx[..., 1], idx[..., 0]])  # (z, y, x) order
    out = ndimage.map_coordinates(
        volume,
        coords.reshape(3, -1),
        order=order,
        mode="grid-wrap" if periodic else "nearest",
        prefilter=prefilter and order > 1,
    )
    return out.reshape(len(centers), size, size).astype(np.float32)


def sample_volume_plane(
    volume: Any,
    center: Any,
    rotation: Any,
    *,
    voxel_nm: float,
    fov_nm: float,
    image_size: int,
    order: int = 1,
    periodic: bool = True,
) -> np.ndarray:
    """Sample one plane of a voxel volume by interpolation.

    Uses the plane and pixel conventions of `render_plane`; the volume is
    ``volume[z, y, x]`` with voxel ``(k, j, i)`` centred at
    ``((i, j, k) + 0.5) * voxel_nm`` nm. Values are interpolated with
    ``scipy.ndimage.map_coordinates`` (spline of degree `order`).

    Args:
        volume: 3-D array ``[z, y, x]`` of any numeric dtype.
        center: `(3,)` plane centre ``(x, y, z)`` in nm.
        rotation: 3x3 matrix with columns ``u``, ``v``, normal (or a scipy
            ``Rotation``).
        voxel_nm: Voxel edge in nm (isotropic voxels).
        fov_nm: Square field of view in nm.
        image_size: Image edge in pixels (>= 8).
        order: Spline order 0-5 (0 nearest, 1 trilinear). Defaults to `1`.
        periodic: Wrap around the volume (``mode="grid-wrap"``), as for a
            periodic simulation box; otherwise extend the edge values
            (``mode="nearest"``). Defaults to `True`.

    Returns:
        `(image_size, image_size)` float32 array (values are not clipped:
        they keep the volume's units).
    """
    vol = _check_volume(volume)
    voxel = _check_float("voxel_nm", voxel_nm, low=0.0)
    fov = _check_float("fov_nm", fov_nm, low=0.0)
    size = _check_int("image_size", image_size, 8)
    order = _check_order(order)
    c = _check_center(center)[None]
    rot = _check_rotation(rotation)[None]
    return _sample_volume_batch(vol, c, rot, voxel, fov, size, order, bool(periodic))[0]


def slice_volume(
    volume: Any,
    n: int,
    *,
    voxel_nm: float,
    fov_nm: float,
    image_size: int = 64,
    seed: int = 0,
    order: int = 1,
    periodic: bool = True,
) -> np.ndarray:
    """Random slices of a real voxel volume (e.g. a FIB-SEM stack).

    Positions and orientations are drawn exactly as in `slice_structure`
    (so a voxelised structure and the structure give the same planes for
    the same seed and a cubic volume). With ``periodic=False`` centres are
    drawn at least ``fov_nm / sqrt(2)`` inside every face when the volume is
    large enough (then no slice leaves the volume, whatever its orientation);
    along axes shorter than that they are drawn at mid-depth-ish and edge
    values pad what lies outside.

    Args:
        volume: 3-D array ``[z, y, x]`` of any numeric dtype.
        n: Number of slices (>= 1).
        voxel_nm: Voxel edge in nm.
        fov_nm: Square field of view in nm; with ``periodic=True`` at most
            the smallest extent of the volume.
        image_size: Image edge in pixels (>= 8). Defaults to `64`.
        seed: Non-negative integer seed. Defaults to `0`.
        order: Spline order 0-5. Defaults to `1`.
        periodic: Treat the volume as periodic. Defaults to `True`.

    Returns:
        `(n, image_size, image_size)` float32 array.
    """
    vol = _check_volume(volume)
    n = _check_int("n", n, 1)
    voxel = _check_float("voxel_nm", voxel_nm, low=0.0)
    size = _check_int("image_size", image_size, 8)
    order = _check_order(order)
    seed = _check_seed(seed)
    extent = np.array(vol.shape[::-1], dtype=np.float64) * voxel  # (x, y, z) in nm
    fov = _check_float("fov_nm", fov_nm, low=0.0)
    if periodic and fov > extent.min() * (1.0 + 1e-12):
        raise ValueError(
            f"`fov_nm` must not exceed the smallest volume extent {extent.min():g} nm "
            f"when periodic=True. Received: fov_nm={fov_nm!r}"
        )
    inset = None if periodic else np.minimum(fov / math.sqrt(2.0), 0.5 * extent)
    centers, rotations = _sample_planes(n, extent, seed, inset=inset)
    if order > 1:
        # Prefilter once for the whole volume instead of once per batch.
        vol = ndimage.spline_filter(vol.astype(np.float64), order=order, mode="grid-wrap" if periodic else "nearest")
    out = np.empty((n, size, size), np.float32)
    chunk = max(1, 1_000_000 // (size * size))  # bounded memory for the coordinates
    for s0 in range(0, n, chunk):
        out[s0 : s0 + chunk] = _sample_volume_batch(
            vol,
            centers[s0 : s0 + chunk],
            rotations[s0 : s0 + chunk],
            voxel,
            fov,
            size,
            order,
            bool(periodic),
            prefilter=False,
        )
    return out
