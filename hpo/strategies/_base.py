"""The strategy interface: ask for params sets, tell their results.

Concepts
--------
A *strategy* proposes points of a :class:`~hpo.space.Space` and learns from
their results.  It is a pure, in-memory, deterministic object:

* ``ask(n)`` returns up to ``n`` new params dicts (canonical, see
  :meth:`Space.canonical`).  It may return *fewer* than ``n``:

  - while it waits for results it needs (the generational GA hands out a
    generation, then waits until that generation has been told), and
  - when it has nothing left to propose (a finite space or grid is
    exhausted; :attr:`Strategy.exhausted` is then True).

  A loop therefore asks again after each finished trial, and stops when
  ``ask`` returns nothing while no trial is running.
* ``tell(results)`` reports finished :class:`~hpo.trial.Result` objects.
  Results may be for params the strategy never asked (warm start from an old
  store, a cache hit, a resumed search): every strategy accepts them.
* There is no saved strategy state.  To resume, a loop builds the strategy
  with the same seed and settings and replays the finished results, in their
  original order, through ``tell`` (interleaved with the same ``ask`` calls
  when exact replay of proposals matters).
* Same space, seed, settings and the same sequence of ask/tell calls give
  the same proposals, in any process: strategies only use their own seeded
  random generators, never global state or hash ordering.
* Strategies *minimise* ``Result.value``.  Only a strategy whose
  :attr:`Strategy.multi_objective` is True (``nsga2``, ``nsga2_tpe``) takes results with
  several ``Result.values``; the others raise ValueError on one.  Failed results (status
  ``"failed"``, or a None/NaN/inf value) are handled per strategy and
  documented there; none of them crashes on failures.
* A strategy never proposes a params set it has already asked or been told
  (compared by :func:`~hpo.space.params_hash`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from ..space import Space, params_hash
from ..trial import Result

__all__ = ["Strategy", "Result"]

# Above this many points a finite space is not enumerated to find the last
# unseen ones; random draws are used instead.
_ENUMERATE_LIMIT = 200_000


class Strategy(ABC):
    """Base class of search strategies (ask/tell, minimising).

    Subclasses implement :meth:`_ask` (and usually :meth:`_tell`) and use the
    helpers :meth:`_accept` (dedup + bookkeeping of one proposal) and
    :meth:`_fill` (unseen random points).  Settings are keyword-only
    constructor arguments; unknown ones raise TypeError.
    """

    #: Registry name of the strategy.
    name: ClassVar[str] = ""
    #: Whether the strategy takes results with several ``values`` (several objectives).
    multi_objective: ClassVar[bool] = False

    def __init__(self, space: Space | Mapping[str, Any], *, seed: int = 0, **settings: Any) -> None:
        """Bind the strategy to ``space``; ``seed`` fixes all its randomness."""
        if settings:
            raise TypeError(f"{type(self).__name__} got unknown setting(s) {sorted(settings)}")
        if not isinstance(space, Space):
            space = Space.from_dict(space)
        if len(space) == 0:
            raise ValueError("the search space is empty")
        self.space: Space = space
        self.seed: int = int(seed)
        # One generator per strategy; subclasses draw every random number from it.
        self.rng: np.random.Generator = np.random.default_rng(self.seed)
        self._seen: set[str] = set()
        self._pending: dict[str, dict[str, Any]] = {}
        self._exhausted = False
        self._enumerated: list[dict[str, Any]] | None = None
        #: Every result told so far, in order (params canonical).
        self.results: list[Result] = []
        #: Number of params sets handed out by ask so far.
        self.n_asked: int = 0

    # ------------------------------------------------------------------ API --
    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        """Propose up to ``n`` new params sets (see the module docstring for "fewer")."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"ask(n) needs an integer n >= 0; received {n!r}")
        if n == 0 or self._exhausted:
            return []
        out = self._ask(int(n))[:n]
        # Pending = handed out and not told yet (a generational GA may hold
        # accepted points back until a later ask).
        for p in out:
            self._pending[params_hash(p)] = p
        self.n_asked += len(out)
        return [dict(p) for p in out]

    def tell(self, results: Sequence[Result] | Result) -> None:
        """Report finished results (any params of the space, asked or not)."""
        if isinstance(results, Result):
            results = [results]
        batch: list[Result] = []
        for r in results:
            if not isinstance(r, Result):
                raise TypeError(f"tell() expects Result objects; received {type(r).__name__}")
            if not self.multi_objective and r.values is not None and len(r.values) > 1:
                raise ValueError(
                    f"{type(self).__name__} optimises one objective; a result has {len(r.values)} values "
                    "(use a multi-objective strategy such as 'nsga2')"
                )
            params = self.space.canonical(r.params)
            batch.append(Result(params, r.value, r.status, r.values))
        for r in batch:
            h = params_hash(r.params)
            self._seen.add(h)
            self._pending.pop(h, None)
        self.results.extend(batch)
        if batch:
            self._tell(batch)

    @property
    def exhausted(self) -> bool:
        """True once the strategy knows it has nothing left to propose."""
        return self._exhausted

    @property
    def pending(self) -> list[dict[str, Any]]:
        """Params asked but not told yet, in ask order."""
        return [dict(p) for p in self._pending.values()]

    def best(self) -> Result | None:
        """The successful result with the lowest value told so far (first one on ties)."""
        ok = [r for r in self.results if r.ok]
        return min(ok, key=lambda r: r.loss) if ok else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed}, asked={self.n_asked}, told={len(self.results)})"

    # ------------------------------------------------------- for subclasses --
    @abstractmethod
    def _ask(self, n: int) -> list[dict[str, Any]]:
        """Return up to ``n`` proposals, each already accepted with :meth:`_accept`."""

    def _tell(self, results: list[Result]) -> None:
        """Learn from ``results`` (canonical params, already marked seen)."""

    def is_new(self, params: Mapping[str, Any]) -> bool:
        """Whether ``params`` was never asked nor told."""
        return params_hash(self.space.canonical(params)) not in self._seen

    def _accept(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """Register a proposal as seen: its canonical copy, or None when it was already seen.

        Every accepted point must eventually be returned by :meth:`ask`
        (strategies never drop a proposal silently).
        """
        p = self.space.canonical(params)
        h = params_hash(p)
        if h in self._seen:
            return None
        self._seen.add(h)
        return p

    def _fill(self, k: int, max_draws: int | None = None) -> list[dict[str, Any]]:
        """Up to ``k`` accepted, unseen random points (the fallback of every strategy).

        Random draws first; when they keep colliding in a finite space, the
        remaining points are enumerated (in a seeded random order).  Sets
        :attr:`exhausted` when a finite space has no unseen point left.
        """
        out: list[dict[str, Any]] = []
        draws = max_draws if max_draws is not None else max(64, 16 * k)
        for _ in range(draws):
            if len(out) >= k:
                return out
            p = self._accept(self.space.sample(self.rng))
            if p is not None:
                out.append(p)
        if len(out) < k:
            out.extend(self._enumerate_unseen(k - len(out)))
        return out

    def _enumerate_unseen(self, k: int) -> list[dict[str, Any]]:
        card = self.space.cardinality()
        if card is None or card > _ENUMERATE_LIMIT:
            return []
        if self._enumerated is None:
            pts = list(self.space.grid(max_per_int=None))
            order = self.rng.permutation(len(pts))
            self._enumerated = [pts[i] for i in order]
        out: list[dict[str, Any]] = []
        rest: list[dict[str, Any]] = []
        for p in self._enumerated:
            if len(out) < k:
                a = self._accept(p)
                if a is not None:
                    out.append(a)
            elif params_hash(p) not in self._seen:
                rest.append(p)
        self._enumerated = rest
        if not rest:
            self._exhausted = True
        return out

    def _lhs(self, n: int) -> list[list[float]]:
        """``n`` genomes of a scrambled Latin hypercube (even start-up coverage), seeded by :attr:`rng`."""
        from scipy.stats import qmc

        d = len(self.space.dims)
        if d == 0 or n <= 0:
            return [[] for _ in range(max(n, 0))]
        sampler = qmc.LatinHypercube(d=d, seed=self.rng)
        return sampler.random(n).tolist()
