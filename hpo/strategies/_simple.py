"""Baseline strategies: ``grid`` and ``random``.

* ``grid`` walks scikit-learn's ``ParameterGrid`` over :meth:`Space.grid`
  (``n_per_float`` values per float, at most ``max_per_int`` per integer) in a
  deterministic order, or in a seeded random order with ``shuffle=True``.  It
  never pads with random points: when the grid is walked, ``ask`` returns
  fewer items and :attr:`exhausted` becomes True.  Results are ignored.
* ``random`` draws independent points from the prior (:meth:`Space.sample`,
  log-uniform where ``log``) with its seeded generator; results are ignored.
  In a finite space it enumerates the last unseen points, then is exhausted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..space import Space
from ._base import Strategy

__all__ = ["GridStrategy", "RandomStrategy"]

# Shuffling draws a permutation of all grid indices; refuse beyond this many points.
_SHUFFLE_LIMIT = 50_000_000


class GridStrategy(Strategy):
    """Exhaustive grid search (see the module docstring)."""

    name = "grid"

    def __init__(
        self,
        space: Space | Mapping[str, Any],
        *,
        seed: int = 0,
        n_per_float: int = 5,
        max_per_int: int | None = 10,
        shuffle: bool = False,
    ) -> None:
        """``n_per_float``/``max_per_int`` size the grid; ``shuffle`` randomises the order by ``seed``."""
        super().__init__(space, seed=seed)
        self.n_per_float = int(n_per_float)
        self.max_per_int = max_per_int
        self.shuffle = bool(shuffle)
        self._points: Iterator[dict[str, Any]] | None = None

    def _iter_points(self) -> Iterator[dict[str, Any]]:
        if not self.shuffle:
            return self.space.grid(self.n_per_float, self.max_per_int)
        from sklearn.model_selection import ParameterGrid

        # Shuffle indices, not points: ParameterGrid is indexable, so the grid
        # itself is never materialised (duplicates from inactive parameters
        # are skipped later by the strategy's dedup).
        grid = ParameterGrid(self.space.grid_values(self.n_per_float, self.max_per_int))
        if len(grid) > _SHUFFLE_LIMIT:
            raise ValueError(f"grid has {len(grid)} points, more than {_SHUFFLE_LIMIT}; use shuffle=False")
        order = self.rng.permutation(len(grid))
        return (self.space.canonical(self.space.prune(grid[int(i)])) for i in order)

    def _ask(self, n: int) -> list[dict[str, Any]]:
        if self._points is None:
            self._points = self._iter_points()
        out: list[dict[str, Any]] = []
        while len(out) < n:
            point = next(self._points, None)
            if point is None:
                self._exhausted = True
                break
            accepted = self._accept(point)
            if accepted is not None:  # skip points already told (warm start)
                out.append(accepted)
        return out


class RandomStrategy(Strategy):
    """Independent draws from the prior (see the module docstring)."""

    name = "random"

    def __init__(self, space: Space | Mapping[str, Any], *, seed: int = 0) -> None:
        """Random search with its own generator seeded by ``seed``."""
        super().__init__(space, seed=seed)

    def _ask(self, n: int) -> list[dict[str, Any]]:
        return self._fill(n)
