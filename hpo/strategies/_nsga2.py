"""``nsga2``: NSGA-II (DEAP's ``tools.selNSGA2``) for one or several objectives.

The rule
--------
The ``ga`` strategy's genome, variation operators and modes (see
:mod:`hpo.strategies._ga`: SBX / uniform crossover, polynomial / resampling
mutation, a Latin-hypercube start-up, ``steady_state`` or ``generational``),
with NSGA-II's selection in place of the single-objective ranking:

* **Population.** The ``population_size`` survivors of *all* finished results
  (asked or told; warm starts take part) chosen by ``deap.tools.selNSGA2``:
  whole non-dominated fronts in order, the last one cut by DEAP's crowding
  distance -- a (mu + lambda) scheme, so the Pareto front found so far is
  never lost while it fits the population.
* **Parents.** Binary (``tournament_size``) tournaments under NSGA-II's
  crowded comparison: lower front rank wins, then the larger crowding
  distance. (The rank and crowding of each survivor become one number,
  ``rank + 0.5 / (1 + crowding)``, so the ``ga`` strategy's DEAP tournament
  applies unchanged.)
* **Steady state** (default): each ``ask(k)`` breeds ``k`` children from the
  current survivors at once, so the strategy answers any ``n``, at any time,
  with results told in any order. ``mode="generational"`` hands out
  ``population_size`` children and waits for them, as the ``ga`` does.

Objectives
----------
Told results carry ``Result.values``: one *minimised* value per objective
(the loop negates the maximised ones). The number of objectives is
``n_objectives`` when set, else the length of the first result that has
``values`` or is a success; a later result with another number of values is
refused with a ValueError (before anything is recorded). A result without
``values`` is one objective (``value``), so the strategy also runs a plain
single-objective search: NSGA-II with one objective is an elitist GA ranked by
value. ``best()`` is still the lowest *first* objective; :meth:`NSGA2Strategy.pareto_front`
gives the non-dominated results.

Failures and pruned trials
--------------------------
Failed results (status ``"failed"`` or a non-finite value) rank below every
success: they join the population only while there are fewer successes than
``population_size`` (earliest first). Pruned results are ranked with the
values they were told with (``Result.losses``), as successes.

Multi-objective contract for the loop
-------------------------------------
``NSGA2Strategy.multi_objective`` is True (and for ``nsga2_tpe``, its
subclass in :mod:`hpo.strategies._nsga2_tpe`); strategies without it (all the
single-objective ones, :attr:`Strategy.multi_objective` False) refuse a result
with two or more values. A loop checks ``strategies.is_multi_objective(name)``
before it starts a search with several objectives and refuses the config
otherwise.

Defaults and why
----------------
``population_size=12``, ``n_startup=12``, ``mutation_prob=0.3`` (``None``
means ``1/d``), ``eta_crossover=5``, ``eta_mutation=2`` (wide steps):
the best of a small sweep (populations 8--30, ``eta`` 2--20, ``mutation_prob``
``1/d`` to 0.4; 5--10 seeds) on ZDT1 and ZDT2 (6 variables) at 100 and 200
sequential trials -- the budgets of a CNN search (``benchmarks/bench_multiobjective.py``,
BENCHMARKS.md). The ``ga`` defaults (6, ``eta`` 10/20, ``1/d``) and larger
populations reached about half the hypervolume at 200 trials; Optuna's
``NSGAIISampler`` uses a population of 50, which suits longer searches.

The population is chosen from the points that can still be chosen: a point
whose front rank reaches ``population_size`` can never be chosen again
(``population_size`` points always precede it), so it is dropped, which keeps
the cost of a proposal small in long searches. Candidates are ordered by their
values (then params hash) before selection, so the survivors do not depend on
the order in which results were told.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from .. import pareto
from ..space import Space
from ..trial import Result
from ._ga import GAStrategy, _deap_classes

__all__ = ["NSGA2Strategy"]

# DEAP fitness classes with ``n`` minimised objectives, built on first use (no ``creator`` globals).
_FITNESS_CLASSES: dict[int, type] = {}


def _fitness_class(n: int) -> type:
    cls = _FITNESS_CLASSES.get(n)
    if cls is None:
        from deap import base

        cls = type(f"FitnessMin{n}", (base.Fitness,), {"weights": (-1.0,) * n})
        _FITNESS_CLASSES[n] = cls
    return cls


class _Member:
    """A finished point as DEAP sees it: a fitness and where it came from."""

    __slots__ = ("fitness", "index")

    def __init__(self, fitness: Any, index: int) -> None:
        self.fitness = fitness
        self.index = index


class NSGA2Strategy(GAStrategy):
    """NSGA-II over the genome, for one or several minimised objectives (see the module docstring)."""

    name = "nsga2"
    multi_objective: ClassVar[bool] = True

    def __init__(
        self,
        space: Space | Mapping[str, Any],
        *,
        seed: int = 0,
        mode: str = "steady_state",
        population_size: int = 12,
        n_startup: int = 12,
        tournament_size: int = 2,
        crossover_prob: float = 0.9,
        eta_crossover: float = 5.0,
        eta_mutation: float = 2.0,
        mutation_prob: float | None = 0.3,
        n_objectives: int | None = None,
    ) -> None:
        """NSGA-II settings as in the module docstring (the ``ga`` ones plus ``n_objectives``).

        ``mode``: ``"steady_state"`` or ``"generational"``; ``population_size`` >= 2;
        ``n_startup`` >= 0 Latin-hypercube points; ``tournament_size`` >= 1;
        ``crossover_prob`` and ``mutation_prob`` in [0, 1] (``mutation_prob=None``: ``1/d``);
        ``eta_crossover`` / ``eta_mutation``: SBX / polynomial distribution indices;
        ``n_objectives``: None (inferred) or an integer >= 1.
        """
        if n_objectives is not None and (
            isinstance(n_objectives, bool) or not isinstance(n_objectives, (int, np.integer)) or n_objectives < 1
        ):
            raise ValueError(f"n_objectives must be an integer >= 1 or None; received {n_objectives!r}")
        super().__init__(
            space,
            seed=seed,
            mode=mode,
            population_size=population_size,
            n_startup=n_startup,
            tournament_size=tournament_size,
            crossover_prob=crossover_prob,
            eta_crossover=eta_crossover,
            eta_mutation=eta_mutation,
            mutation_prob=mutation_prob,
        )
        #: Number of objectives (set, or inferred from the first result that tells it).
        self.n_objectives: int | None = int(n_objectives) if n_objectives is not None else None
        # Successes that may still be chosen: (losses, params hash, genome).
        self._candidates: list[tuple[tuple[float, ...], str, list[float]]] = []
        # The earliest failures (at most population_size), used only while successes are too few.
        self._failures: list[list[float]] = []

    # ------------------------------------------------------------ ask/tell --
    def tell(self, results: Sequence[Result] | Result) -> None:
        """Report finished results; ValueError if one has a different number of objectives."""
        batch = [results] if isinstance(results, Result) else list(results)
        n = self.n_objectives
        for r in batch:
            k = _count(r) if isinstance(r, Result) else None
            if k is None:
                continue
            if n is None:
                n = k
            elif k != n:
                raise ValueError(
                    f"nsga2: a result has {k} objective value(s) but this search has {n} "
                    f"(params {dict(r.params)!r}, values {r.values if r.values is not None else r.value!r})"
                )
        self.n_objectives = n
        super().tell(batch)

    def _on_told(self, result: Result, h: str) -> None:
        genome = self._genomes[h]
        if result.ok:
            self._candidates.append((result.losses(self.n_objectives or 1), h, genome))
        elif len(self._failures) < self.population_size:
            self._failures.append(genome)

    def pareto_front(self) -> list[Result]:
        """The successful results told so far that no other one dominates (told order)."""
        ok = [r for r in self.results if r.ok]
        if not ok:
            return []
        n = self.n_objectives or 1
        front = pareto.pareto_front(np.array([r.losses(n) for r in ok]))
        return [ok[i] for i in front]

    # ------------------------------------------------------------ selection --
    def _survivors(self) -> list[tuple[tuple[float, ...], str, list[float], int, float]]:
        """``selNSGA2`` over the successes: (losses, hash, genome, front rank, crowding distance)."""
        from deap import tools

        if not self._candidates:
            return []
        k = self.population_size
        self._candidates.sort(key=lambda c: (c[0], c[1]))
        ranks = pareto.non_dominated_sort(np.array([c[0] for c in self._candidates]))
        # A point of rank >= k never survives again: k points always precede it.
        keep = ranks < k
        self._candidates = [c for c, kept in zip(self._candidates, keep) if kept]
        ranks = ranks[keep]
        # Whole fronts up to the one that reaches k points: what selNSGA2 would look at anyway.
        sizes = np.bincount(ranks)
        last = int(np.searchsorted(np.cumsum(sizes), min(k, len(ranks))))
        pool = [i for i in range(len(ranks)) if ranks[i] <= last]
        n_objectives = len(self._candidates[0][0])
        fitness_cls = _fitness_class(n_objectives)
        members = []
        for i in pool:
            fit = fitness_cls()
            fit.values = self._candidates[i][0]
            members.append(_Member(fit, i))
        # DEAP's O(n log^(m-1) n) sort (its "log" variant fails on one objective, where fronts are tiny anyway).
        chosen = tools.selNSGA2(members, min(k, len(members)), nd="log" if n_objectives > 1 else "standard")
        out = []
        for m in chosen:
            losses, h, genome = self._candidates[m.index]
            out.append((losses, h, genome, int(ranks[m.index]), float(m.fitness.crowding_dist)))
        return out

    def _population(self) -> list[Any]:
        """The survivors as one-value DEAP individuals keyed for the crowded tournament."""
        _, individual_cls = _deap_classes()
        pop = []
        survivors = self._survivors()
        for _, _, genome, rank, crowding in survivors:
            ind = individual_cls(genome)
            ind.fitness.values = (rank + 0.5 / (1.0 + crowding),)  # crowding inf -> rank exactly
            pop.append(ind)
        worst = (survivors[-1][3] + 1) if survivors else 0
        for genome in self._failures[: self.population_size - len(pop)]:
            ind = individual_cls(genome)
            ind.fitness.values = (worst + 1.0,)
            pop.append(ind)
        return pop


def _count(r: Result) -> int | None:
    """How many objective values a result tells (None for a failure without ``values``)."""
    if r.values is not None:
        return len(r.values)
    return 1 if r.ok else None
