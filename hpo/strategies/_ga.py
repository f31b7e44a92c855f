"""``ga``: a genetic algorithm (DEAP operators) over the genome encoding.

Representation
--------------
Individuals are genomes in ``[0, 1]^d`` (:meth:`Space.encode`): one gene per
non-fixed parameter, log parameters in log space.  Genes of :class:`Float`
and :class:`Int` parameters are *continuous* (an integer gene keeps its exact
position inside its bin, so small steps accumulate across generations);
genes of :class:`Choice` parameters are *categorical*.  Genes of inactive
conditional parameters are kept and inherited (neutral drift), so a child
that re-activates a parameter gets a sensible value.

Variation (DEAP operators)
--------------------------
* selection: ``tools.selTournament`` (size ``tournament_size``) among the
  population;
* crossover with probability ``crossover_prob``: simulated binary crossover
  (``tools.cxSimulatedBinaryBounded``, ``eta_crossover``) on continuous
  genes, uniform swap (``tools.cxUniform``) on categorical genes;
* mutation: polynomial bounded mutation (``tools.mutPolynomialBounded``,
  ``eta_mutation``) on continuous genes, uniform resampling of categorical
  genes, each gene with probability ``mutation_prob`` (default ``1/d``).
  A child that decodes to a params set already seen is mutated again (up to
  a few times), then replaced by an unseen random point.

Population and elitism
----------------------
The population is the best ``population_size`` of *all* finished results
(asked or told -- warm-start results take part), ranked by value; that is a
(mu + lambda) scheme, so the elite is never lost.  Failed results get the
worst possible fitness (+inf): they stay in the ranking only while there is
nothing better, and are never chosen by a tournament against a success.

The first ``n_startup`` points (default 10) are a scrambled Latin hypercube.

Modes
-----
* ``steady_state`` (default): every ``ask(k)`` immediately breeds ``k``
  children from the current population, so a worker that frees up gets work
  at once.  It also did better than generational at budgets of ~100 trials.
* ``generational``: ``ask`` hands out one generation of
  ``population_size`` children; the next generation is bred only once every
  member of the current one has been told.  Until then ``ask`` returns fewer
  items (possibly none) -- the loop waits for a running trial.  Proposals do
  not depend on the order in which results arrive within a generation.

Defaults (``population_size=6``, ``tournament_size=2``, ``eta_crossover=10``,
``eta_mutation=20``, ``mutation_prob=1/d``) favour exploitation, which is
what pays at HPO budgets of tens to hundreds of trials.

DEAP's operators draw from Python's global ``random`` module; the strategy
swaps its own seeded ``random.Random`` state in around each call and restores
the global state afterwards, so it is reproducible and does not disturb (nor
get disturbed by) other users of ``random``.  Not thread-safe.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Mapping
from typing import Any

from ..space import Choice, Space, params_hash
from ..trial import Result
from ._base import Strategy

__all__ = ["GAStrategy"]

_MUTATION_RETRIES = 12


# DEAP classes, built on first use (``deap.creator`` would register them globally).
_FITNESS: type | None = None
_INDIVIDUAL: type | None = None


def _deap_classes() -> tuple[type, type]:
    """A minimising Fitness and a list Individual, built once without ``creator``'s globals."""
    global _FITNESS, _INDIVIDUAL
    if _FITNESS is None:
        from deap import base

        class FitnessMin(base.Fitness):
            weights = (-1.0,)

        class Individual(list):
            def __init__(self, genes: Any = ()) -> None:
                super().__init__(genes)
                self.fitness = FitnessMin()

        _FITNESS, _INDIVIDUAL = FitnessMin, Individual
    return _FITNESS, _INDIVIDUAL  # type: ignore[return-value]


class GAStrategy(Strategy):
    """Genetic algorithm over the genome (see the module docstring)."""

    name = "ga"

    def __init__(
        self,
        space: Space | Mapping[str, Any],
        *,
        seed: int = 0,
        mode: str = "steady_state",
        population_size: int = 6,
        n_startup: int = 10,
        tournament_size: int = 2,
        crossover_prob: float = 0.9,
        eta_crossover: float = 10.0,
        eta_mutation: float = 20.0,
        mutation_prob: float | None = None,
    ) -> None:
        """GA settings as in the module docstring."""
        super().__init__(space, seed=seed)
        if mode not in ("generational", "steady_state"):
            raise ValueError(f"mode must be 'generational' or 'steady_state'; received {mode!r}")
        if population_size < 2:
            raise ValueError(f"population_size must be >= 2; received {population_size}")
        if tournament_size < 1:
            raise ValueError(f"tournament_size must be >= 1; received {tournament_size}")
        if not 0.0 <= crossover_prob <= 1.0:
            raise ValueError(f"crossover_prob must be in [0, 1]; received {crossover_prob}")
        if mutation_prob is not None and not 0.0 <= mutation_prob <= 1.0:
            raise ValueError(f"mutation_prob must be in [0, 1]; received {mutation_prob}")
        self.mode = mode
        self.population_size = int(population_size)
        if n_startup < 0:
            raise ValueError(f"n_startup must be >= 0; received {n_startup}")
        self.n_startup = int(n_startup)
        self.tournament_size = int(tournament_size)
        self.crossover_prob = float(crossover_prob)
        self.eta_crossover = float(eta_crossover)
        self.eta_mutation = float(eta_mutation)
        d = len(self.space.dims)
        self.mutation_prob = float(mutation_prob) if mutation_prob is not None else 1.0 / max(d, 1)
        self._cat = [i for i, n in enumerate(self.space.dims) if isinstance(self.space[n], Choice)]
        self._cont = [i for i in range(d) if i not in set(self._cat)]
        # Genomes of the points we proposed (keeps inactive genes and in-bin positions).
        self._genomes: dict[str, list[float]] = {}
        # Finished points in told order: (loss, order, genome, params).
        self._finished: list[tuple[float, int, list[float], dict[str, Any]]] = []
        self._startup: list[list[float]] = self._lhs(self.n_startup)
        # Generational bookkeeping.
        self._queue: list[dict[str, Any]] = []
        self._outstanding: set[str] = set()
        self.generation = 0
        # DEAP draws from `random`: keep a private state, seeded from our generator.
        self._py_random = random.Random(int(self.rng.integers(2**63 - 1)))

    # ------------------------------------------------------------ plumbing --
    @contextlib.contextmanager
    def _deap_random(self) -> Iterator[None]:
        saved = random.getstate()
        random.setstate(self._py_random.getstate())
        try:
            yield
        finally:
            self._py_random.setstate(random.getstate())
            random.setstate(saved)

    def _accept_genome(self, genome: list[float]) -> dict[str, Any] | None:
        p = self._accept(self.space.decode(genome))
        if p is not None:
            self._genomes[params_hash(p)] = list(genome)
        return p

    def _population(self) -> list[Any]:
        """Best ``population_size`` finished points as DEAP individuals."""
        _, individual_cls = _deap_classes()
        best = sorted(self._finished, key=lambda t: (t[0], t[1]))[: self.population_size]
        pop = []
        for loss, _, genome, _ in best:
            ind = individual_cls(genome)
            ind.fitness.values = (loss,)
            pop.append(ind)
        return pop

    # ------------------------------------------------------------ variation --
    def _mutate(self, genes: list[float]) -> None:
        from deap import tools

        if self._cont:
            sub = [genes[i] for i in self._cont]
            tools.mutPolynomialBounded(sub, eta=self.eta_mutation, low=0.0, up=1.0, indpb=self.mutation_prob)
            for i, v in zip(self._cont, sub):
                genes[i] = min(max(float(v), 0.0), 1.0)
        for i in self._cat:
            if random.random() < self.mutation_prob:
                genes[i] = random.random()

    def _vary(self, pop: list[Any]) -> list[float]:
        """One child genome: tournament selection, crossover, mutation (inside ``_deap_random``)."""
        from deap import tools

        parents = tools.selTournament(pop, 2, self.tournament_size)
        c1, c2 = list(parents[0]), list(parents[1])
        if random.random() < self.crossover_prob:
            if self._cont:
                s1 = [c1[i] for i in self._cont]
                s2 = [c2[i] for i in self._cont]
                tools.cxSimulatedBinaryBounded(s1, s2, eta=self.eta_crossover, low=0.0, up=1.0)
                for i, a, b in zip(self._cont, s1, s2):
                    c1[i], c2[i] = min(max(float(a), 0.0), 1.0), min(max(float(b), 0.0), 1.0)
            if self._cat:
                s1 = [c1[i] for i in self._cat]
                s2 = [c2[i] for i in self._cat]
                tools.cxUniform(s1, s2, indpb=0.5)
                for i, a, b in zip(self._cat, s1, s2):
                    c1[i], c2[i] = a, b
        child = c1 if random.random() < 0.5 else c2
        self._mutate(child)
        return child

    def _new_child(self, pop: list[Any], taken: set[str]) -> tuple[list[float], dict[str, Any], str] | None:
        """A child whose params were never seen (nor in ``taken``); mutated again on collisions."""
        child = self._vary(pop)
        for _ in range(_MUTATION_RETRIES):
            p = self.space.decode(child)
            h = params_hash(p)
            if h not in self._seen and h not in taken:
                return child, p, h
            self._mutate(child)
        return None

    def _breed(self, k: int, n_candidates: int = 1, scorer: Any = None) -> list[dict[str, Any]]:
        """Up to ``k`` accepted children from the current population.

        With ``n_candidates > 1`` each child is the best of that many distinct
        candidate children according to ``scorer(genomes, params) -> scores``
        (higher is better); ``ga_tpe`` uses this to let TPE screen offspring.
        """
        pop = self._population()
        if len(pop) < 2:
            return []
        out: list[dict[str, Any]] = []
        with self._deap_random():
            while len(out) < k:
                cands: list[tuple[list[float], dict[str, Any], str]] = []
                taken: set[str] = set()
                for _ in range(max(1, n_candidates) * 2):
                    if len(cands) >= max(1, n_candidates):
                        break
                    c = self._new_child(pop, taken)
                    if c is not None:
                        cands.append(c)
                        taken.add(c[2])
                if not cands:
                    break  # space (nearly) exhausted around the population
                best = 0
                if scorer is not None and len(cands) > 1:
                    scores = scorer([c[0] for c in cands], [c[1] for c in cands])
                    best = int(max(range(len(cands)), key=lambda i: (scores[i], -i)))
                genome, params, _ = cands[best]
                accepted = self._accept_genome(genome)
                if accepted is not None:
                    out.append(accepted)
        return out

    def _startup_points(self, k: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while self._startup and len(out) < k and len(self._seen) < self.n_startup:
            p = self._accept_genome(self._startup.pop(0))
            if p is not None:
                out.append(p)
        return out

    def _children(self, k: int) -> list[dict[str, Any]]:
        """``k`` new points: start-up first, then offspring, then random fill."""
        out = self._startup_points(k)
        if len(out) < k and len(self._seen) >= self.n_startup:
            out.extend(self._offspring(k - len(out)))
        if len(out) < k:
            out.extend(self._fill(k - len(out)))
        return out

    def _offspring(self, k: int) -> list[dict[str, Any]]:
        """Offspring proposals (``ga_tpe`` overrides this to mix in TPE)."""
        return self._breed(k)

    # ------------------------------------------------------------- ask/tell --
    def _ask(self, n: int) -> list[dict[str, Any]]:
        if self.mode == "steady_state":
            return self._children(n)
        if not self._queue:
            if self._outstanding:
                return []  # wait until the current generation has been told
            generation = self._children(self.population_size)
            self._fill_genomes(generation)
            self._queue = generation
            self._outstanding = {params_hash(p) for p in generation}
            self.generation += 1
        out, self._queue = self._queue[:n], self._queue[n:]
        return out

    def _fill_genomes(self, points: list[dict[str, Any]]) -> None:
        for p in points:
            self._genomes.setdefault(params_hash(p), self.space.encode(p))

    def _tell(self, results: list[Result]) -> None:
        for r in results:
            h = params_hash(r.params)
            genome = self._genomes.get(h)
            if genome is None:
                genome = self.space.encode(r.params)
                self._genomes[h] = genome
            self._finished.append((r.loss, len(self._finished), genome, r.params))
            self._outstanding.discard(h)
            self._on_told(r, h)

    def _on_told(self, result: Result, h: str) -> None:
        """Hook for subclasses (``ga_tpe`` credits the source of the result)."""
