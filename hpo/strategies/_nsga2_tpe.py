"""``nsga2_tpe``: NSGA-II whose children are screened by a multi-objective TPE density ratio.

The rule
--------
The ``nsga2`` strategy (:mod:`hpo.strategies._nsga2`: DEAP's ``selNSGA2``
survivors, crowded tournaments, the ``ga`` operators, modes, failure handling
and the multi-objective contract), where every child is the best of
``n_screen`` distinct candidate children by TPE's ``log l(x) - log g(x)``
(:class:`~hpo.strategies._parzen.ParzenScorer`, the scorer of ``ga_tpe``).

The "good" set is chosen in the spirit of Optuna's multi-objective TPE
(MOTPE): all successful results are sorted into non-dominated fronts
(:func:`hpo.pareto.non_dominated_sort`) and the good set is the
``min(ceil(gamma * sqrt(n)), 25)`` first of them in front order, the last
front cut by crowding distance (the same order as NSGA-II's survivors), and
never more than the successes; everything else, failures included, is "bad".
Until a first success there is no screen (the first candidate is taken).
With one objective that is TPE's usual split by value.

Settings: those of ``nsga2`` plus ``n_screen`` (candidates per child, default
4; 1 turns the screen off), ``gamma`` and ``prior_weight`` (the Parzen
estimator's, as ``tpe``), ``multivariate`` (one joint kernel per point) and
``max_history``.

The scorer is refitted once per batch of told results. Beyond ``max_history``
finished results (500) it sees the good set and a seeded random sample of
the rest (as ``ga_tpe``), so a child's cost stops growing with the search;
the front ranks are still those among all results (an ``O(n log n)`` sort for
two objectives).

Why it exists: on ZDT1/ZDT2 (``benchmarks/bench_multiobjective.py``) the
screen raised the hypervolume after 100 and 200 sequential trials over plain
``nsga2`` (BENCHMARKS.md has the figures). ``n_screen=4`` was the best of 4, 8
and 16 on 10 tuning seeds (0--9; the published benchmark uses other seeds): a
mild screen keeps the GA's diversity, a strong one converges early.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import pareto
from ..space import Space
from ._nsga2 import NSGA2Strategy
from ._parzen import ParzenScorer
from ._tpe import DEFAULT_GAMMA, DEFAULT_MAX_HISTORY, check_max_history, history_subset, n_good

__all__ = ["NSGA2TPEStrategy"]


class NSGA2TPEStrategy(NSGA2Strategy):
    """NSGA-II with MOTPE-screened children (see the module docstring)."""

    name = "nsga2_tpe"

    def __init__(
        self,
        space: Space | Mapping[str, Any],
        *,
        seed: int = 0,
        n_screen: int = 4,
        gamma: float = DEFAULT_GAMMA,
        prior_weight: float = 1.0,
        multivariate: bool = True,
        max_history: int | None = DEFAULT_MAX_HISTORY,
        **nsga2_settings: Any,
    ) -> None:
        """Screen settings as in the module docstring; ``nsga2_settings`` go to :class:`NSGA2Strategy`."""
        super().__init__(space, seed=seed, **nsga2_settings)
        if isinstance(n_screen, bool) or not isinstance(n_screen, (int, np.integer)) or n_screen < 1:
            raise ValueError(f"n_screen must be an integer >= 1; received {n_screen!r}")
        if not gamma > 0:
            raise ValueError(f"gamma must be > 0; received {gamma}")
        if not prior_weight > 0:
            raise ValueError(f"prior_weight must be > 0; received {prior_weight}")
        self.n_screen = int(n_screen)
        self.max_history = check_max_history(max_history)
        self.scorer = ParzenScorer(self.space, gamma=gamma, prior_weight=prior_weight, multivariate=multivariate)
        self._scorer_n = -1
        # Every finished result in told order: (genome, active mask, losses or None for a failure).
        self._history: list[tuple[list[float], list[bool], tuple[float, ...] | None]] = []

    def _on_told(self, result: Any, h: str) -> None:
        super()._on_told(result, h)
        active = [name in result.params for name in self.space.dims]
        losses = result.losses(self.n_objectives or 1) if result.ok else None
        self._history.append((self._genomes[h], active, losses))

    def _offspring(self, k: int) -> list[dict[str, Any]]:
        if self.n_screen <= 1:
            return self._breed(k)
        return self._breed(k, self.n_screen, self._score)

    def _score(self, genomes: list[list[float]], params: list[dict[str, Any]]) -> np.ndarray:
        if not self._candidates:  # no success yet: nothing to call good, no screen
            return np.zeros(len(genomes))
        self._fit_scorer()
        active = np.array([[name in p for name in self.space.dims] for p in params], dtype=bool)
        return self.scorer.score(np.asarray(genomes, dtype=float), active.reshape(len(params), -1))

    def _fit_scorer(self) -> None:
        n = len(self._history)
        if self._scorer_n == n:
            return
        d = len(self.space.dims)
        ok = [i for i, (_, _, losses) in enumerate(self._history) if losses is not None]
        n_below = min(n_good(n, self.scorer.gamma), len(ok))
        # A scalar whose order starts with the good set: the front rank, and within the front that
        # the good set cuts, larger crowding first (NSGA-II's order); failures +inf.
        order_key = np.full(n, np.inf)
        values = np.asarray([self._history[i][2] for i in ok], dtype=float)
        ranks = pareto.non_dominated_sort(values)
        key = ranks.astype(float)
        if n_below:
            cut = int(np.sort(ranks)[n_below - 1])
            members = np.flatnonzero(ranks == cut)
            key[members] += 0.5 / (1.0 + pareto.crowding_distance(values[members]))
        order_key[ok] = key
        keep = history_subset(order_key, self.max_history, n_below, self.rng)
        genomes = np.asarray([self._history[i][0] for i in keep], dtype=float).reshape(len(keep), d)
        active = np.asarray([self._history[i][1] for i in keep], dtype=bool).reshape(len(keep), d)
        self.scorer.fit(genomes, active, order_key[keep], n_below=n_below)
        self._scorer_n = n
