"""Pareto tools for searches with several objectives (pure numpy; no TensorFlow).

Every function here *minimises*: a point ``a`` dominates ``b`` when ``a <= b``
in every objective and ``a < b`` in at least one. Turn stored metrics into
minimised vectors with :func:`to_minimised` (a maximised metric is negated).

* :func:`non_dominated_sort` -- the front rank of every point (0 = Pareto front);
* :func:`pareto_front` -- the indices of the non-dominated points;
* :func:`crowding_distance` -- NSGA-II's spread measure within one front;
* :func:`hypervolume` -- the volume dominated by a set up to a reference point
  (exact: a sweep in 2-D; from 3-D on, ``moocore`` -- the implementation DEAP
  1.4's ``tools.hypervolume`` uses -- or an exact slicing fallback without it);
* :func:`to_minimised` / :func:`parse_objectives` -- metric dicts and the
  ``objective: [{metric, direction}, ...]`` list of a config to minimised rows.

Points are given as an ``(n, m)`` array-like (``n`` points, ``m`` objectives);
a 1-D input is one objective per point (``(n,)`` is read as ``(n, 1)``).

Non-finite rows
---------------
A row holding a NaN or an infinity (a failed trial, a metric that was never
recorded) is *excluded*: it gets rank ``-1``, is never on the front, gets a
NaN crowding distance, adds nothing to a hypervolume and does not affect the
other points. Callers that want failures ranked last (a strategy) give them
their own treatment.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "non_dominated_sort",
    "pareto_front",
    "crowding_distance",
    "hypervolume",
    "to_minimised",
    "parse_objectives",
    "DIRECTIONS",
]

#: The accepted objective directions.
DIRECTIONS: tuple[str, ...] = ("minimize", "maximize")


def _points(points: Any, what: str = "points") -> np.ndarray:
    """``points`` as a float ``(n, m)`` array; ValueError for ragged or higher-dimensional input."""
    try:
        arr = np.asarray(points, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an (n, m) array of numbers (one row per point); could not read it") from None
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be an (n, m) array of numbers (one row per point); received shape {arr.shape}")
    if arr.shape[0] and arr.shape[1] == 0:
        raise ValueError(f"{what} need at least one objective; received shape {arr.shape}")
    return arr


def _finite_rows(arr: np.ndarray) -> np.ndarray:
    return np.isfinite(arr).all(axis=1) if arr.size else np.zeros(arr.shape[0], dtype=bool)


def non_dominated_sort(points: Any) -> np.ndarray:
    """The front rank of every point (minimisation): 0 for the Pareto front, 1 for the next, ...

    Equal points share a rank (neither dominates the other). Rows with a NaN
    or an infinity get ``-1`` and take no part in the sort. Returns an int
    array of length ``n`` (empty for no points). Two objectives: an
    ``O(n log n)`` sweep; otherwise a dominance matrix (``O(n^2 m)``).
    """
    arr = _points(points)
    n = arr.shape[0]
    ranks = np.full(n, -1, dtype=int)
    idx = np.flatnonzero(_finite_rows(arr))
    if idx.size == 0:
        return ranks
    f = arr[idx]
    ranks[idx] = _ranks2(f) if f.shape[1] == 2 else _ranks_matrix(f)
    return ranks


def _ranks_matrix(f: np.ndarray) -> np.ndarray:
    """Front ranks by peeling a dominance matrix: O(n^2 m) time and memory, any m."""
    out = np.empty(len(f), dtype=int)
    # dominated_by[i, j]: j dominates i.
    le = (f[None, :, :] <= f[:, None, :]).all(axis=2)
    lt = (f[None, :, :] < f[:, None, :]).any(axis=2)
    dominated_by = le & lt
    count = dominated_by.sum(axis=1)
    remaining = np.ones(len(f), dtype=bool)
    rank = 0
    while remaining.any():
        front = remaining & (count == 0)
        out[front] = rank
        remaining &= ~front
        count = count - dominated_by[:, front].sum(axis=1)
        rank += 1
    return out


def _ranks2(f: np.ndarray) -> np.ndarray:
    """Front ranks of two objectives in O(n log n) (Jensen's sweep).

    Points are visited by increasing ``(f1, f2)``; within a front ``f2`` then only
    decreases, so each front is summed up by its last point, and the fronts' last
    ``f2`` increase with the rank. A point joins the first front whose last point
    does not dominate it (a binary search), or its own duplicate's front.
    """
    out = np.empty(len(f), dtype=int)
    last_f2: list[float] = []
    last: list[tuple[float, float]] = []
    for i in np.lexsort((f[:, 1], f[:, 0])):
        x, y = float(f[i, 0]), float(f[i, 1])
        k = bisect.bisect_right(last_f2, y)
        if k > 0 and last[k - 1] == (x, y):
            k -= 1  # an equal point: same front
        elif k == len(last_f2):
            last_f2.append(y)
            last.append((x, y))
        else:
            last_f2[k] = y
            last[k] = (x, y)
        out[i] = k
    return out


def pareto_front(points: Any) -> np.ndarray:
    """Indices (ascending) of the non-dominated points among the finite rows (rank 0)."""
    return np.flatnonzero(non_dominated_sort(points) == 0)


def crowding_distance(points: Any) -> np.ndarray:
    """NSGA-II's crowding distance of each point within the given set (usually one front).

    As DEAP's ``tools.assignCrowdingDist``: per objective, the points are
    sorted (stable), the two extremes get ``inf`` and each other point adds the
    gap between its neighbours divided by ``m`` times the objective's range
    (an objective with zero range adds nothing). Larger means less crowded.
    Rows with a NaN or an infinity get NaN and are left out of the others'.
    """
    arr = _points(points)
    n, m = arr.shape
    out = np.full(n, np.nan)
    idx = np.flatnonzero(_finite_rows(arr))
    if idx.size == 0:
        return out
    f = arr[idx]
    dist = np.zeros(idx.size)
    for j in range(m):
        order = np.argsort(f[:, j], kind="stable")
        col = f[order, j]
        dist[order[0]] = math.inf
        dist[order[-1]] = math.inf
        span = col[-1] - col[0]
        if span == 0 or idx.size < 3:
            continue
        dist[order[1:-1]] += (col[2:] - col[:-2]) / (m * span)
    out[idx] = dist
    return out


def hypervolume(points: Any, reference: Sequence[float]) -> float:
    """The hypervolume dominated by ``points`` and bounded by ``reference`` (minimisation).

    Only the points strictly better than ``reference`` in every objective count;
    non-finite rows are excluded; no points (or none inside) give 0.0. Exact:
    a sort-and-sweep in 1-D/2-D; from 3 objectives on ``moocore.hypervolume``
    (what DEAP 1.4's hypervolume indicator calls; DEAP depends on it), or, if
    ``moocore`` cannot be imported, an exact recursive slicing over the last
    objective (fine for the few dozen points of a front).

    ValueError when ``reference`` is not finite or its length differs from the
    points' number of objectives.
    """
    ref = np.asarray(reference, dtype=float).reshape(-1)
    if ref.size == 0 or not np.isfinite(ref).all():
        raise ValueError(f"the hypervolume reference point must be finite numbers; received {reference!r}")
    arr = _points(points)
    if arr.shape[0] == 0:
        return 0.0
    if arr.shape[1] != ref.size:
        raise ValueError(
            f"the points have {arr.shape[1]} objectives but the reference point has {ref.size} ({list(ref)})"
        )
    arr = arr[_finite_rows(arr)]
    arr = arr[(arr < ref).all(axis=1)]
    if arr.shape[0] == 0:
        return 0.0
    m = ref.size
    if m == 1:
        return float(ref[0] - arr[:, 0].min())
    if m == 2:
        return _hv2(arr, ref)
    arr = arr[pareto_front(arr)]
    try:
        import moocore
    except ImportError:  # pragma: no cover - moocore comes with DEAP 1.4
        return _hv_slicing(arr, ref)
    return float(moocore.hypervolume(arr, ref=ref))


def _hv2(arr: np.ndarray, ref: np.ndarray) -> float:
    """Exact 2-D hypervolume of points all strictly inside ``ref``: sort by f1, sweep f2."""
    order = np.lexsort((arr[:, 1], arr[:, 0]))
    volume = 0.0
    best_y = ref[1]
    for x, y in arr[order]:
        if y < best_y:
            volume += (ref[0] - x) * (best_y - y)
            best_y = y
    return float(volume)


def _hv_slicing(arr: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume by slicing along the last objective (points all strictly inside ``ref``)."""
    if arr.shape[1] == 2:
        return _hv2(arr, ref)
    order = np.argsort(arr[:, -1], kind="stable")
    arr = arr[order]
    volume = 0.0
    for i in range(arr.shape[0]):
        top = arr[i + 1, -1] if i + 1 < arr.shape[0] else ref[-1]
        depth = top - arr[i, -1]
        if depth > 0:
            volume += depth * _hv_slicing(arr[: i + 1, :-1], ref[:-1])
    return float(volume)


def parse_objectives(objectives: Any) -> list[tuple[str, str]]:
    """``[(metric, direction), ...]`` from a config's objective list (ValueError naming what is wrong).

    Accepts ``[{"metric": m, "direction": d}, ...]`` (the YAML form),
    ``[(m, d), ...]``, a mapping ``{m: d}`` or one metric name (minimised);
    ``direction`` is ``"minimize"`` (the default in the dict form) or ``"maximize"``.
    """
    if isinstance(objectives, str):
        objectives = [(objectives, "minimize")]
    elif isinstance(objectives, Mapping):
        if "metric" in objectives:
            objectives = [objectives]
        else:
            objectives = list(objectives.items())
    if not isinstance(objectives, Sequence) or not objectives:
        raise ValueError(f"objectives must be a non-empty list of {{metric, direction}}; received {objectives!r}")
    out: list[tuple[str, str]] = []
    for item in objectives:
        if isinstance(item, Mapping):
            unknown = sorted(set(item) - {"metric", "direction"})
            if unknown or "metric" not in item:
                raise ValueError(f"an objective is {{metric, direction}}; received {dict(item)!r}")
            metric, direction = item["metric"], item.get("direction", "minimize")
        elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
            metric, direction = item
        else:
            raise ValueError(f"an objective is {{metric, direction}} or (metric, direction); received {item!r}")
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"an objective's metric must be a non-empty string; received {metric!r}")
        if direction not in DIRECTIONS:
            raise ValueError(
                f"objective {metric!r}: direction must be 'minimize' or 'maximize'; received {direction!r}"
            )
        if any(metric == seen for seen, _ in out):
            raise ValueError(f"objective {metric!r} is listed twice")
        out.append((metric, direction))
    return out


def to_minimised(rows: Sequence[Mapping[str, Any] | None], objectives: Any) -> np.ndarray:
    """Stored metric dicts as an ``(n, m)`` float array of minimised values, one column per objective.

    ``objectives`` is anything :func:`parse_objectives` reads. A maximised
    metric is negated. A metric that is missing, None, not a number (or a
    bool), or a row that is None gives NaN -- so that row is excluded by the
    functions above.
    """
    objs = parse_objectives(objectives)
    out = np.full((len(rows), len(objs)), np.nan)
    for i, row in enumerate(rows):
        if row is None:
            continue
        for j, (metric, direction) in enumerate(objs):
            value = row.get(metric)
            if isinstance(value, bool) or value is None:
                continue
            try:
                v = float(value)
            except (TypeError, ValueError):
                continue
            out[i, j] = -v if direction == "maximize" else v
    return out
