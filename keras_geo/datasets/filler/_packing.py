"""Physics of the filler packings: placing non-overlapping spheres.

Random sequential addition of single spheres (Rnd) and aggregates grown in
place, compact (M-SBR) or fractal by tunable-dimension particle-cluster
aggregation (n-SBR), with the periodic k-d-tree neighbour search they use.
`generate_structure` (in `_structures`) picks the model and its parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.spatial import cKDTree

from ._geometry import _minimum_image, _random_unit_vectors, _wrap

# Relative tolerance on contact distances: touching spheres inside an
# aggregate are placed at exactly r_i + r_j, which floating point reproduces
# only to ~1e-15; anything closer than (r_i + r_j) * (1 - _OVERLAP_TOL) counts
# as an overlap.
_OVERLAP_TOL = 1e-6


def _draw_radii(rng: np.random.Generator, shape: int | tuple[int, ...], radius: float, sigma: float) -> np.ndarray:
    """Lognormal radii with mean ``radius`` and log-standard deviation ``sigma``."""
    if sigma == 0.0:
        return np.full(shape, radius)
    return radius * np.exp(rng.normal(-0.5 * sigma**2, sigma, size=shape))


def _fractal_candidates(
    p: np.ndarray,
    contact: np.ndarray,
    radius: float,
    fractal_dimension: float,
    prefactor: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions for particle ``k + 1`` of aggregates of ``k >= 2`` particles.

    Tunable-dimension particle-cluster aggregation (Filippov, Zurita &
    Rosner, J. Colloid Interface Sci. 229, 261, 2000): the new particle is
    placed so that the radius of gyration of the particle centres follows
    ``N = k_f (R_g / a)^{D_f}`` at every size. It must then lie at the
    distance ``Gamma`` from the current centre of mass, with

        Gamma^2 = ((N+1)^2 R_g(N+1)^2 - N (N+1) R_g(N)^2) / N,

    and touch some member ``i``: it goes to a random point of the circle
    where the sphere of radius Gamma about the centre of mass meets the
    sphere of radius ``r_i + r_new`` about member ``i`` (a random member for
    which the circle exists). Using the actual ``R_g(N)`` keeps the growth
    self-correcting.

    Args:
        p: `(A, k, 3)` member positions.
        contact: `(A, k)` contact distances ``r_member + r_new``.

    Returns:
        `(A, 3)` candidates and `(A,)` whether one exists (else garbage).
    """
    n_agg, k = p.shape[0], p.shape[1]
    com = p.mean(axis=1)
    rel = p - com[:, None]
    d2 = np.einsum("ijk,ijk->ij", rel, rel)
    rg2 = d2.mean(axis=1)
    rg_target2 = (radius * ((k + 1) / prefactor) ** (1.0 / fractal_dimension)) ** 2
    gamma = np.sqrt(np.maximum(((k + 1) ** 2 * rg_target2 - k * (k + 1) * rg2) / k, 0.0))
    d = np.sqrt(d2)
    g = gamma[:, None]
    # The two spheres meet in a circle iff |d - s| <= Gamma <= d + s.
    feasible = (np.abs(d - contact) <= g) & (g <= d + contact) & (d > 0)
    keys = rng.random(feasible.shape)
    keys[~feasible] = -1.0
    i = keys.argmax(axis=1)
    rows = np.arange(n_agg)
    has = feasible[rows, i]
    dd = np.where(has, d[rows, i], 1.0)
    ss = contact[rows, i]
    e = rel[rows, i] / dd[:, None]
    h = (gamma**2 - ss**2 + dd**2) / (2.0 * dd)
    rc = np.sqrt(np.maximum(gamma**2 - h**2, 0.0))
    helper = np.where(np.abs(e[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = np.cross(e, helper)
    e1 /= np.maximum(np.linalg.norm(e1, axis=1, keepdims=True), 1e-300)
    e2 = np.cross(e, e1)
    theta = rng.random(n_agg) * (2.0 * np.pi)
    x = com + h[:, None] * e + rc[:, None] * (np.cos(theta)[:, None] * e1 + np.sin(theta)[:, None] * e2)
    return x, has


def _neighbours(
    tree: cKDTree, x: np.ndarray, reach: float, box: float, k: int = 16
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (query i, tree point j, distance) pairs closer than `reach`.

    A k-nearest query with an upper bound is several times faster than
    ``sparse_distance_matrix`` for periodic trees and returns arrays; rows
    whose k-th neighbour is still within reach are redone exactly with
    ``query_ball_point`` (rare at filler densities).
    """
    k = min(k, tree.n)
    d, j = tree.query(x, k=k, distance_upper_bound=reach)
    d, j = d.reshape(len(x), k), j.reshape(len(x), k)
    full = np.isfinite(d[:, -1])
    rows, cols = np.nonzero(np.isfinite(d) & ~full[:, None])
    out_i, out_j, out_d = [rows], [j[rows, cols]], [d[rows, cols]]
    if full.any():
        idx = np.flatnonzero(full)
        lists = tree.query_ball_point(x[idx], reach, return_sorted=False)
        lens = np.fromiter(map(len, lists), np.int64, len(lists))
        jj = np.fromiter((j for v in lists for j in v), np.int64, int(lens.sum()))
        ii = np.repeat(idx, lens)
        dd = np.linalg.norm(_minimum_image(tree.data[jj] - x[ii], box), axis=1)
        keep = dd < reach
        out_i.append(ii[keep])
        out_j.append(jj[keep])
        out_d.append(dd[keep])
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d)


def _place_spheres(
    rng: np.random.Generator,
    box: float,
    target_volume: float,
    *,
    radius: float,
    sigma: float,
    tol_volume: float,
    max_rounds: int = 400,
) -> tuple[np.ndarray, np.ndarray]:
    """Random sequential addition (RSA) of non-overlapping spheres (Rnd).

    Rounds of uniform proposals are checked against everything placed so
    far with a periodic k-d tree (``cKDTree(boxsize=box)``) and against each
    other (of two colliding proposals the later one is dropped).
    """
    mean_vol = 4.0 / 3.0 * np.pi * radius**3 * math.exp(4.5 * sigma**2)
    placed_x = np.empty((0, 3))
    placed_r = np.empty(0)
    volume, acceptance = 0.0, 1.0
    tree: cKDTree | None = None
    for _ in range(max_rounds):
        need = target_volume - volume
        if need <= tol_volume:
            break
        # A batch must stay dilute (its own volume fraction <= ~3%), or its
        # proposals mostly collide with each other and are all dropped.
        propose = min(max(need / acceptance * 1.15, 0.02 * target_volume), 0.03 * box**3)
        n = max(1, int(math.ceil(propose / mean_vol)))
        x = _wrap(rng.random((n, 3)) * box, box)
        r = _draw_radii(rng, n, radius, sigma)
        reach = 2.0 * max(float(r.max()), float(placed_r.max()) if len(placed_r) else 0.0)
        bad = np.zeros(n, dtype=bool)
        new_tree = cKDTree(x, boxsize=box)
        if tree is not None:
            i, j, dist = _neighbours(tree, x, reach, box)
            bad[i[dist < r[i] + placed_r[j]]] = True
        pairs = new_tree.query_pairs(reach, output_type="ndarray")
        if len(pairs):
            i, j = pairs[:, 0], pairs[:, 1]
            dist = np.linalg.norm(_minimum_image(x[i] - x[j], box), axis=1)
            bad[j[dist < r[i] + r[j]]] = True  # query_pairs gives i < j
        keep = ~bad
        placed_x = np.concatenate([placed_x, x[keep]])
        placed_r = np.concatenate([placed_r, r[keep]])
        volume += float(np.sum(4.0 / 3.0 * np.pi * r[keep] ** 3))
        acceptance = max(keep.mean(), 0.02)
        tree = cKDTree(placed_x, boxsize=box)
    else:
        raise RuntimeError(
            f"Could not reach the target volume fraction after {max_rounds} rounds "
            f"(reached {volume / box**3:.4f} of {target_volume / box**3:.4f}): too dense "
            "for random sequential addition. Lower `volume_fraction`."
        )
    n = _trim_count(placed_r, target_volume)
    return placed_x[:n], placed_r[:n]


def _trim_count(radii: np.ndarray, target_volume: float) -> int:
    """Length of the prefix of `radii` whose volume is closest to the target."""
    cum = np.cumsum(4.0 / 3.0 * np.pi * radii**3)
    n = int(np.searchsorted(cum, target_volume))
    if n < len(cum) and (n == 0 or abs(cum[n] - target_volume) < abs(cum[n - 1] - target_volume)):
        n += 1
    return n


class _Particles:
    """Growable particle arrays with a periodic k-d tree for neighbour checks.

    The big tree is rebuilt only when many particles were added since; the
    recent ones get a small tree per query. Checking a batch of candidates
    then costs ~milliseconds instead of a full rebuild per attempt.
    """

    def __init__(self, box: float, capacity: int) -> None:
        self.box = box
        self.x = np.empty((max(capacity, 16), 3))
        self.r = np.empty(max(capacity, 16))
        self.body = np.empty(max(capacity, 16), dtype=np.int64)
        self.n = 0
        self.n_tree = 0
        self.tree: cKDTree | None = None
        self.r_max = 0.0

    def append(self, x: np.ndarray, r: np.ndarray, body: np.ndarray) -> None:
        m = len(r)
        if self.n + m > len(self.r):
            cap = max(2 * len(self.r), self.n + m)
            self.x = np.concatenate([self.x[: self.n], np.empty((cap - self.n, 3))])
            self.r = np.concatenate([self.r[: self.n], np.empty(cap - self.n)])
            self.body = np.concatenate([self.body[: self.n], np.empty(cap - self.n, np.int64)])
        self.x[self.n : self.n + m] = x
        self.r[self.n : self.n + m] = r
        self.body[self.n : self.n + m] = body
        self.n += m
        if m:
            self.r_max = max(self.r_max, float(r.max()))

    def refresh(self) -> None:
        if self.n - self.n_tree > max(2048, self.n_tree // 16):
            self.tree = cKDTree(self.x[: self.n], boxsize=self.box)
            self.n_tree = self.n

    def conflicts(self, x: np.ndarray, r: np.ndarray, body: np.ndarray, gap: float) -> np.ndarray:
        """Candidates closer than contact (+ `gap` between bodies) to a
        placed particle or to an earlier candidate (of another body)."""
        box = self.box
        bad = np.zeros(len(r), dtype=bool)
        if len(r) == 0:
            return bad
        reach = 2.0 * max(self.r_max, float(r.max())) + gap
        cand = cKDTree(x, boxsize=box)
        recent = cKDTree(self.x[self.n_tree : self.n], boxsize=box) if self.n > self.n_tree else None
        for other, offset in ((self.tree, 0), (recent, self.n_tree)):
            if other is None:
                continue
            i, j, dist = _neighbours(other, x, reach, box)
            j = j + offset
            contact = r[i] + self.r[j]
            # Within a body only true overlaps count (also through a
            # periodic image); between bodies the gap must be kept.
            limit = np.where(body[i] == self.body[j], contact * (1.0 - _OVERLAP_TOL), contact + gap)
            bad[i[dist < limit]] = True
        pairs = cand.query_pairs(reach, output_type="ndarray")
        if len(pairs):
            i, j = pairs[:, 0], pairs[:, 1]
            dist = np.linalg.norm(_minimum_image(x[i] - x[j], box), axis=1)
            contact = r[i] + r[j]
            limit = np.where(body[i] == body[j], contact * (1.0 - _OVERLAP_TOL), contact + gap)
            bad[j[dist < limit]] = True
        return bad


def _grow_in_place(
    rng: np.random.Generator,
    box: float,
    target_volume: float,
    *,
    radius: float,
    sigma: float,
    draw_sizes: Callable[[int], np.ndarray],
    draw_seeds: Callable[[int], np.ndarray],
    mean_size: float,
    gap: float,
    fractal: tuple[float, float] | None,
    tol_volume: float,
    fractal_tries: int = 2,
    contact_tries: int = 2,
    per_try: int = 4,
    max_rounds: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """Aggregates grown in place among the particles already there.

    Each round seeds new aggregates (single particles at `draw_seeds`
    positions that collide with nothing) and grows them all in lockstep,
    one particle per aggregate and step, up to their `draw_sizes` size. A
    new particle touches its own aggregate, overlaps nothing, and keeps the
    surface `gap` from particles of other aggregates. With `fractal` =
    ``(D_f, k_f)`` it is first placed by tunable particle-cluster
    aggregation (`_fractal_candidates`); after `fractal_tries` rounds of
    `per_try` failed candidates (a crowded neighbourhood), or without
    `fractal`, it sticks to a random member in a random direction. An
    aggregate that finds no room stops growing. Rounds repeat until the
    target volume is met (the last particles are trimmed to land on it).

    Growing in place lets fractal aggregates interpenetrate in dense
    agglomerates and small aggregates fill space at 15 vol.%, where rigid
    aggregates placed by random sequential addition jam.
    """
    mean_vol = 4.0 / 3.0 * np.pi * radius**3 * math.exp(4.5 * sigma**2)
    parts = _Particles(box, int(target_volume / mean_vol * 1.2) + 64)
    volume = 0.0
    n_bodies = 0
    seed_acceptance, realised_size = 1.0, mean_size
    for _ in range(max_rounds):
        need = target_volume - volume
        if need <= tol_volume:
            break
        # As many seeds as the missing volume needs at the rates seen so
        # far, in a dilute batch (<= 3% volume) so seeds rarely collide.
        n_seed = need / (mean_vol * realised_size) / seed_acceptance
        n_seed = max(1, int(math.ceil(min(n_seed, 0.03 * box**3 / mean_vol))))
        sx = _wrap(draw_seeds(n_seed), box)
        sr = _draw_radii(rng, n_seed, radius, sigma)
        parts.refresh()
        ok = ~parts.conflicts(sx, sr, n_bodies + np.arange(n_seed), gap)
        n_new = int(ok.sum())
        seed_acceptance = max(n_new / n_seed, 0.01)
        if n_new == 0:
            continue
        origin, sr = sx[ok], sr[ok]
        ids = n_bodies + np.arange(n_new)
        n_bodies += n_new
        parts.append(origin, sr, ids)
        want = draw_sizes(n_new)
        rel = np.zeros((n_new, int(want.max()), 3))  # unwrapped, relative to the seed
        rad = np.zeros((n_new, int(want.max())))
        rad[:, 0] = sr
        count = np.ones(n_new, dtype=np.int64)
        growing = want > 1
        for k in range(1, int(want.max())):
            todo = np.flatnonzero(growing)
            if len(todo) == 0:
                break
            parts.refresh()
            r_new = _draw_radii(rng, len(todo), radius, sigma)
            p = rel[todo, :k]
            contact = rad[todo, :k] + r_new[:, None]
            for attempt in range(fractal_tries + contact_tries):
                # `per_try` candidates per aggregate at once: one neighbour
                # query for all of them; the first valid one is taken.
                m = len(todo)
                pr = np.repeat(p, per_try, axis=0)
                cr = np.repeat(contact, per_try, axis=0)
                if fractal is not None and k >= 2 and attempt < fractal_tries:
                    cand, has = _fractal_candidates(pr, cr, radius, fractal[0], fractal[1], rng)
                else:
                    pick = rng.integers(0, k, size=m * per_try)
                    rows = np.arange(m * per_try)
                    cand = pr[rows, pick] + _random_unit_vectors(rng, m * per_try) * cr[rows, pick][:, None]
                    has = np.ones(m * per_try, dtype=bool)
                dx = pr - cand[:, None]
                has &= (np.einsum("ijk,ijk->ij", dx, dx) >= (cr * (1.0 - _OVERLAP_TOL)) ** 2).all(axis=1)
                owner = np.repeat(np.arange(m), per_try)
                idx = np.flatnonzero(has)
                if len(idx):
                    x = _wrap(origin[todo[owner[idx]]] + cand[idx], box)
                    bad = parts.conflicts(x, np.repeat(r_new, per_try)[idx], ids[todo[owner[idx]]], gap)
                    idx = idx[~bad]
                    # First valid candidate of each aggregate.
                    first = np.unique(owner[idx], return_index=True)[1]
                    idx = idx[first]
                    sel = owner[idx]
                    agg = todo[sel]
                    parts.append(_wrap(origin[agg] + cand[idx], box), r_new[sel], ids[agg])
                    rel[agg, k] = cand[idx]
                    rad[agg, k] = r_new[sel]
                    count[agg] += 1
                    left = np.ones(m, dtype=bool)
                    left[sel] = False
                    todo, p, contact, r_new = todo[left], p[left], contact[left], r_new[left]
                if len(todo) == 0:
                    break
            growing &= (count > k) & (count < want)  # stuck ones stop here
        realised_size = max(float(count.mean()), 1.0)
        volume = float(np.sum(4.0 / 3.0 * np.pi * parts.r[: parts.n] ** 3))
    else:
        raise RuntimeError(
            f"Could not reach the target volume fraction after {max_rounds} rounds "
            f"(reached {volume / box**3:.4f} of {target_volume / box**3:.4f}). "
            "Lower `volume_fraction` (or `gap_nm`)."
        )
    n = _trim_count(parts.r[: parts.n], target_volume)
    return parts.x[:n].copy(), parts.r[:n].copy()
