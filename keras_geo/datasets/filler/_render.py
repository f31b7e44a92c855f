"""Slicing a structure: analytic, anti-aliased discs.

`render_plane` renders one plane section of a `Structure`; `slice_structure`
renders many random ones (batched and threaded). The plane sampling
(`_sample_planes`) and the plane checks are shared with `_volumes`.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ._geometry import _random_rotations, _wrap
from ._structures import Structure
from ._validation import _check_float, _check_int, _check_seed

_CELL_DIVISOR = 8.0


class _CellIndex:
    """Particles in a periodic grid of cubic cells, padded with ghost cells.

    The box is cut into ``n_cells^3`` cells; the grid is then extended by
    `pad` cells on every side, each ghost cell holding the particles of the
    cell it is a periodic image of, already shifted by the right multiple of
    the box. A plane's neighbourhood is then a fixed template of cell
    offsets around the plane centre's cell: no wrapping, no image shifts in
    the hot loop, and a FOV as large as the box sees periodic images
    naturally. Coordinates are separate float32 arrays because the hot
    loops are gathers and element-wise arithmetic on 1-D arrays.
    """

    def __init__(self, structure: Structure, cell_nm: float, pad: int) -> None:
        box = structure.box_nm
        self.box = box
        self.n_cells = n = max(1, int(box // cell_nm))
        self.cell = box / n
        self.pad = pad
        self.side = g = n + 2 * pad
        self.r_max = float(structure.radii.max()) if structure.n_particles else 0.0
        ijk = np.minimum((structure.centers // self.cell).astype(np.int64), n - 1)
        cid = (ijk[:, 0] * n + ijk[:, 1]) * n + ijk[:, 2]
        order = np.argsort(cid, kind="stable")
        counts = np.bincount(cid, minlength=n**3)
        starts = np.cumsum(counts) - counts
        # Padded cell (i, j, k), i in [-pad, n + pad): source cell and shift.
        q = np.arange(-pad, n + pad)
        src1, sh1 = np.mod(q, n), np.floor_divide(q, n)
        src = ((src1[:, None, None] * n + src1[None, :, None]) * n + src1[None, None, :]).reshape(-1)
        self.counts = counts[src]
        self.starts = np.cumsum(self.counts) - self.counts
        total = int(self.counts.sum())
        rep = np.repeat(np.arange(g**3), self.counts)
        within = np.arange(total) - self.starts[rep]
        part = order[starts[src][rep] + within]  # original particle of each ghost
        shift = box * sh1.astype(np.float64)
        ci, cj, ck = np.unravel_index(rep, (g, g, g))
        c = structure.centers
        self.x = (c[part, 0] + shift[ci]).astype(np.float32)
        self.y = (c[part, 1] + shift[cj]).astype(np.float32)
        self.z = (c[part, 2] + shift[ck]).astype(np.float32)
        self.radii = structure.radii[part].astype(np.float32)

    def base_cell(self, centers: np.ndarray) -> np.ndarray:
        """Linear padded-grid index of the cell holding each centre (in the box)."""
        n, g, p = self.n_cells, self.side, self.pad
        ijk = np.minimum(np.floor(centers / self.cell).astype(np.int64), n - 1) + p
        return (ijk[:, 0] * g + ijk[:, 1]) * g + ijk[:, 2]


def _plane_pixel_offsets(fov_nm: float, image_size: int) -> np.ndarray:
    """In-plane coordinates (nm) of the pixel centres along one image axis."""
    return (np.arange(image_size) + 0.5 - image_size / 2.0) * (fov_nm / image_size)


def _render_batch(
    index: _CellIndex,
    centers: np.ndarray,
    rotations: np.ndarray,
    fov_nm: float,
    image_size: int,
    template: np.ndarray,
) -> np.ndarray:
    """Render `(B, S, S)` slices of the indexed structure (see render_plane).

    The result for one plane does not depend on the other planes of the
    batch (every per-plane operation runs in the same order), so batching
    and threading never change the images.
    """
    n_planes = len(centers)
    size = image_size
    empty = np.zeros((n_planes, size, size), np.float32)
    if index.radii.size == 0 or n_planes == 0:
        return empty
    cell, r_max = index.cell, index.r_max
    half = 0.5 * fov_nm
    px = fov_nm / size

    # 1) Cells whose cube can reach the oriented box |n.x| <= r_max,
    #    |u.x|, |v.x| <= half + r_max around the plane centre. A cube of edge
    #    c centred at x0 can reach it iff |e.x0| <= bound + (c/2)|e|_1 for
    #    each of the three axes e. All projections of the template for all
    #    planes are one BLAS matrix product: W[:, k*B + b] = axis k of plane b.
    cc = np.minimum(np.floor(centers / cell), index.n_cells - 1)
    delta = centers - (cc + 0.5) * cell  # plane centre relative to its cell centre
    w = rotations.transpose(1, 2, 0).reshape(3, 3 * n_planes)
    proj = (template * cell).astype(np.float32) @ w.astype(np.float32)  # (T, 3B)
    shift0 = np.einsum("bi,bik->kb", delta, rotations).reshape(-1)
    l1 = 0.5 * cell * np.abs(rotations).sum(axis=1)  # (B, 3): (c/2)|e_k|_1
    bound = (np.array([half + r_max, half + r_max, r_max])[:, None] + l1.T).reshape(-1)
    proj -= shift0.astype(np.float32)
    np.abs(proj, out=proj)
    ok = proj <= bound.astype(np.float32)
    inside = ok[:, :n_planes] & ok[:, n_planes : 2 * n_planes] & ok[:, 2 * n_planes :]
    kt, kb = np.nonzero(inside)  # ordered by template cell, then plane

    # 2) Expand the cells into their particles (CSR gather over the padded
    #    grid, whose ghost cells carry the periodic images).
    g = index.side
    lin = (template[:, 0] * g + template[:, 1]) * g + template[:, 2]
    cid = index.base_cell(centers)[kb] + lin[kt]
    cnt = index.counts[cid]
    nz = np.flatnonzero(cnt)
    kb, cid, cnt = kb[nz], cid[nz], cnt[nz]
    total = int(cnt.sum())
    if total == 0:
        return empty
    rep = np.repeat(np.arange(len(cid)), cnt)
    first = np.cumsum(cnt) - cnt
    pidx = (index.starts[cid] - first)[rep] + np.arange(total)
    b = kb[rep]
    c32 = centers.astype(np.float32)
    x = index.x[pidx] - c32[b, 0]
    y = index.y[pidx] - c32[b, 1]
    z = index.z[pidx] - c32[b, 2]
    rot = rotations.astype(np.float32)
    d = x * rot[b, 0, 2] + y * rot[b, 1, 2] + z * rot[b, 2, 2]
    r = index.radii[pidx]
    hit = np.flatnonzero(np.abs(d) < r)
    x, y, z, b, r, d = x[hit], y[hit], z[hit], b[hit], r[hit], d[hit]
    rho = np.sqrt(np.maximum(r * r - d * d, 0.0))
    a_nm = x * rot[b, 0, 0] + y * rot[b, 1, 0] + z * rot[b, 2, 0]
    b_nm = x * rot[b, 0, 1] + y * rot[b, 1, 1] + z * rot[b, 2, 1]
    vis = np.flatnonzero((np.abs(a_nm) < half + rho) & (np.abs(b_nm) < half + rho))
    if vis.size == 0:
        return empty
    rho, a_nm, b_nm, b = rho[vis], a_nm[vis], b_nm[vis], b[vis]

    # 3) Rasterise the discs over a (K, K) stencil around each centre. The
    #    coverage of a pixel by a disc of radius rho (pixels) whose centre is
    #    t pixels away is ~ clip(rho - t + 0.5, 0, 1); the partially covered
    #    (rim) pixels of each disc are then rescaled so that the disc's total
    #    coverage is exactly pi rho^2 -- interior pixels stay exactly 1, and
    #    sub-pixel discs (large FOVs) keep their area. Sections of disjoint
    #    spheres are disjoint discs, so coverages add.
    inv_px = np.float32(1.0 / px)
    xc = a_nm * inv_px + np.float32(size / 2.0 - 0.5)
    yc = b_nm * inv_px + np.float32(size / 2.0 - 0.5)
    rp = rho * inv_px
    r_eff = np.maximum(rp, np.float32(0.5))  # so every disc covers its centre pixel
    # Pixels with |offset| < r_eff + 1 (the centre pixel is within 0.5). The
    # stencil size comes from the structure's largest radius, not this
    # batch's, so that a plane renders identically in any batch.
    hw = max(int(math.ceil(max(r_max / px, 0.5) + 1.0)) - 1, 0)
    o = np.arange(-hw, hw + 1, dtype=np.float32)
    x0 = np.rint(xc)
    y0 = np.rint(yc)
    dx = (x0 - xc)[:, None] + o  # (M, K) pixel-centre minus disc-centre
    dy = (y0 - yc)[:, None] + o
    t = np.sqrt((dy * dy)[:, :, None] + (dx * dx)[:, None, :])  # (M, K, K)
    cov = np.subtract((r_eff + np.float32(0.5))[:, None, None], t, out=t)
    np.clip(cov, 0.0, 1.0, out=cov)
    k = len(o)
    flat_cov = cov.reshape(-1, k * k)
    n_full = np.count_nonzero(flat_cov >= 1.0, axis=1).astype(np.float32)
    rim = flat_cov.sum(axis=1) - n_full
    scale = (np.float32(np.pi) * rp * rp - n_full) / np.maximum(rim, np.float32(1e-12))
    scale = np.maximum(scale, np.float32(0.0))
    cov = np.where(cov < 1.0, np.minimum(cov * scale[:, None, None], np.float32(1.0)), cov)
    # Accumulate on a canvas padded by P >= 2 * hw + 1 pixels: every stencil
    # of a disc whose centre pixel is within hw + 1 of the image fits, and
    # farther (invisible) discs are clamped to a place where they still miss
    # the image -- no per-pixel bounds checks.
    pad = 2 * hw + 1
    side = size + 2 * pad
    ox = o.astype(np.int64)
    x0i = np.clip(x0.astype(np.int64), -hw - 1, size + hw) + pad
    y0i = np.clip(y0.astype(np.int64), -hw - 1, size + hw) + pad
    rows = (b * side + y0i)[:, None] + ox  # (M, K) canvas rows
    flat = (rows * side)[:, :, None] + (x0i[:, None] + ox)[:, None, :]
    img = np.bincount(flat.reshape(-1), weights=cov.reshape(-1), minlength=n_planes * side * side)
    img = img.reshape(n_planes, side, side)[:, pad : pad + size, pad : pad + size]
    return np.minimum(img, 1.0).astype(np.float32)


def _slice_setup(structure: Structure, fov_nm: float) -> tuple[_CellIndex, np.ndarray]:
    """Cell index and candidate-cell template for one structure and FOV."""
    r_max = float(structure.radii.max()) if structure.n_particles else 0.0
    half = 0.5 * fov_nm
    # Largest distance from the plane centre to the centre of a sphere that
    # can show in the FOV: a corner of the FOV square, plus a radius
    # in-plane and a radius off-plane.
    reach = math.sqrt(2.0 * (half + r_max) ** 2 + r_max**2)
    # Cells of ~reach/8 balance the two costs: the template (~(2*8+3)^3 * 0.52
    # cells tested per plane) against the particles gathered from cells that
    # reach the slab but whose particles miss it. Never below a particle
    # diameter: smaller cells are mostly empty.
    cell_nm = min(max(2.0 * r_max, reach / _CELL_DIVISOR, 1e-9), structure.box_nm)
    cell = structure.box_nm / max(1, int(structure.box_nm // cell_nm))
    m = int(math.ceil(reach / cell + 0.5 * math.sqrt(3.0))) + 1
    index = _CellIndex(structure, cell, m)
    q = np.arange(-m, m + 1)
    template = np.stack(np.meshgrid(q, q, q, indexing="ij"), axis=-1).reshape(-1, 3)
    # Drop cells too far from the centre to matter in any orientation.
    keep = np.linalg.norm(template, axis=1) * cell <= reach + cell * math.sqrt(3.0)
    return index, template[keep]


def _check_rotation(rotation: Any) -> np.ndarray:
    if hasattr(rotation, "as_matrix"):  # scipy Rotation
        rotation = rotation.as_matrix()
    rot = np.asarray(rotation, dtype=np.float64)
    if rot.shape != (3, 3) or not np.allclose(rot.T @ rot, np.eye(3), atol=1e-6):
        raise ValueError(
            f"`rotation` must be a 3x3 orthonormal matrix (columns u, v, normal). Received: rotation={rotation!r}"
        )
    return rot


def _check_center(center: Any) -> np.ndarray:
    c = np.asarray(center, dtype=np.float64)
    if c.shape != (3,) or not np.all(np.isfinite(c)):
        raise ValueError(f"`center` must be 3 finite numbers (x, y, z) in nm. Received: center={center!r}")
    return c


def _check_fov(fov_nm: Any, box_nm: float) -> float:
    fov = _check_float("fov_nm", fov_nm, low=0.0)
    if fov > box_nm * (1.0 + 1e-12):
        raise ValueError(f"`fov_nm` must not exceed the box edge box_nm={box_nm:g}. Received: fov_nm={fov_nm!r}")
    return fov


def _check_structure(structure: Any) -> Structure:
    if not isinstance(structure, Structure):
        raise ValueError(f"`structure` must be a Structure. Received: structure={type(structure)!r}")
    return structure


def render_plane(
    structure: Structure,
    center: Any,
    rotation: Any,
    *,
    fov_nm: float,
    image_size: int,
) -> np.ndarray:
    """Render the section of a structure by one plane.

    A plane at distance ``d < r`` from a sphere's centre cuts it in a disc of
    radius ``sqrt(r^2 - d^2)``; discs are drawn analytically with
    anti-aliased edges (area-exact), filler = 1, matrix = 0. The structure is
    periodic, so a FOV as large as the box sees periodic images.

    Args:
        structure: A `Structure`.
        center: `(3,)` plane centre ``(x, y, z)`` in nm (any value; wrapped
            into the box). It is the centre of the image.
        rotation: 3x3 rotation matrix (or a scipy ``Rotation``) whose columns
            are the image's ``u`` axis (columns, x), ``v`` axis (rows, y) and
            the plane normal.
        fov_nm: Edge of the square field of view in nm (<= `box_nm`).
        image_size: Image edge in pixels (>= 8).

    Returns:
        `(image_size, image_size)` float32 array in ``[0, 1]``; pixel
        ``[i, j]`` is centred at ``center + a_j u + b_i v`` with
        ``a_j = (j + 0.5 - image_size / 2) * fov_nm / image_size`` (same for
        ``b_i``).
    """
    structure = _check_structure(structure)
    size = _check_int("image_size", image_size, 8)
    fov = _check_fov(fov_nm, structure.box_nm)
    c = _wrap(_check_center(center)[None], structure.box_nm)
    rot = _check_rotation(rotation)[None]
    index, template = _slice_setup(structure, fov)
    return _render_batch(index, c, rot, fov, size, template)[0]


def _sample_planes(
    n: int, extent: np.ndarray, seed: int, *, inset: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform plane centres in ``[inset, extent - inset)`` and Haar rotations.

    Shared by `slice_structure` and `slice_volume` so that the same seed
    gives the same planes for a structure and its voxelisation.
    """
    rng = np.random.default_rng(seed)
    u = rng.random((n, 3))
    rotations = _random_rotations(rng, n)
    lo = np.zeros(3) if inset is None else inset
    centers = lo + u * (extent - 2.0 * lo)
    return centers, rotations


_SLICE_CHUNK = 128  # planes per vectorised batch for 64x64 images


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def slice_structure(
    structure: Structure,
    n: int,
    *,
    fov_nm: float = 500.0,
    image_size: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """Random sections of a structure, as images.

    Each slice is centred at a uniformly random point of the periodic box
    and oriented uniformly at random in 3-D (Haar measure on SO(3)), then
    rendered exactly like `render_plane` (same code path, batched and run on
    a few threads).

    Args:
        structure: A `Structure`.
        n: Number of slices (>= 1).
        fov_nm: Field of view (square edge) in nm; at most `structure.box_nm`.
            Defaults to `500.0`.
        image_size: Image edge in pixels (>= 8). Defaults to `64`.
        seed: Non-negative integer seed of the positions and orientations.
            Defaults to `0`.

    Returns:
        `(n, image_size, image_size)` float32 array in ``[0, 1]``.
    """
    structure = _check_structure(structure)
    n = _check_int("n", n, 1)
    size = _check_int("image_size", image_size, 8)
    fov = _check_fov(fov_nm, structure.box_nm)
    seed = _check_seed(seed)
    centers, rotations = _sample_planes(n, np.full(3, structure.box_nm), seed)
    centers = _wrap(centers, structure.box_nm)
    index, template = _slice_setup(structure, fov)
    out = np.empty((n, size, size), np.float32)

    # Work memory per plane grows with the pixel count (stencils scale with
    # r / pixel), so batches shrink for large images.
    chunk = max(1, min(_SLICE_CHUNK, (_SLICE_CHUNK * 64 * 64) // (size * size)))

    def work(start: int) -> None:
        stop = min(start + chunk, n)
        out[start:stop] = _render_batch(index, centers[start:stop], rotations[start:stop], fov, size, template)

    starts = range(0, n, chunk)
    workers = min(_default_workers(), len(starts))
    if workers > 1:
        # numpy releases the GIL in its kernels, so threads overlap well.
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, starts))
    else:
        for s in starts:
            work(s)
    return out
