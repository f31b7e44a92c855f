"""``tpe``: hyperopt's Tree-structured Parzen Estimator, driven ask/tell-style.

How it works
------------
The first ``n_startup`` points (asked or told, default 10) come from a
scrambled Latin hypercube over the genome, which covers the space more evenly
than hyperopt's random start-up.  After that, each proposal is one call of
``hyperopt.tpe.suggest`` on a private ``hyperopt.Trials`` that mirrors
everything this strategy asked and was told:

* finished results are documents with their loss;
* failed results are *penalised*: hyperopt sees them with an infinite loss,
  so they fall in the "bad" density and TPE avoids their neighbourhood;
* points asked but not told yet are pending documents, which hyperopt also
  reads as infinite loss (a "constant liar"): within a batch, and for
  workers that are still busy, TPE is pushed away from points already being
  evaluated instead of proposing the same optimum again.  Turn this off with
  ``constant_liar=False`` (pending points are then invisible to TPE).

The space is translated by :mod:`hpo.strategies._hyperopt_space` (the
hyperopt adapter; a :class:`~hpo.space.Space` itself knows no library).
Integer parameters get continuous densities over their bins, rounded back
(:func:`~hpo.strategies._hyperopt_space.to_hyperopt` with ``quantized=False``
and :func:`~hpo.strategies._hyperopt_space.from_raw`): hyperopt's quantized
densities loop in Python over every finished trial, 3.3x slower at 1,000
trials (``benchmarks/bench_overhead.py``).

Conditional parameters are flat in the hyperopt space (see
:func:`~hpo.strategies._hyperopt_space.to_hyperopt`); an inactive parameter is
recorded with no value in a document, which is exactly how hyperopt itself
handles a parameter absent from a trial.

Settings and why their defaults differ from hyperopt's
------------------------------------------------------
* ``n_startup`` = 10 (hyperopt: 20): with budgets of ~100 trials, 20 random
  trials waste a fifth of the budget; 10 LHS points suffice for the Parzen
  estimators to start.
* ``n_ei_candidates`` = 64 (hyperopt: 24): a better maximisation of the
  expected improvement at trivial cost.  Measured with gamma 1.0 (as below):
  Hartmann-6 median regret 0.39 vs 0.65 (24) and 0.59 (256); Branin within
  noise.
* ``gamma`` = 1.0 (hyperopt: 0.25): hyperopt puts ``ceil(gamma * sqrt(n))``
  trials in the "good" set -- only 2 of 60 at 0.25, which makes its good
  density a couple of spikes.  At 1.0 it is 10 of 100, Optuna's 10 %.
  Measured (sequential, 100 trials, median regret over 10 seeds, Branin /
  Hartmann-6): gamma 0.25 -> 0.30 / 0.76, 0.5 -> 0.14 / 0.44, 1.0 -> 0.05 /
  0.39, 1.5 -> 0.04 / 0.36.
* ``prior_weight`` = 1.0 as in hyperopt.

* ``max_history`` = 500: beyond that many finished results, each proposal
  shows hyperopt all the "good" ones (the best ``min(ceil(gamma * sqrt(n)),
  25)`` of all ``n``, hyperopt's own split) and a random sample of the others
  up to ``max_history`` (pending documents are always shown), so a proposal's
  cost stops growing with the search.  hyperopt's ``gamma`` is rescaled so its
  good set is exactly those points; the "bad" density is estimated from an
  unbiased sample of the rest.  The sample is drawn afresh for every proposal
  from a generator seeded by that proposal's seed.  Below the bound proposals
  are exactly as without it; ``max_history=None`` never bounds.  Why 500: a
  proposal on the demo's filler-CNN space (8 parameters) costs about 12 ms
  with 500 documents and 30 ms with 1,000 (hyperopt's own per-document Python
  loops); 500 keeps the whole engine under 20 ms per trial at 5,000 trials
  (``benchmarks/bench_overhead.py``).

Each proposal uses a seed drawn from the strategy's generator, so proposals are
reproducible and differ within a batch.  A proposal that was already seen is
retried with fresh seeds, then replaced by an unseen random point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..space import Space, params_hash
from ..trial import Result
from ._base import Strategy
from ._hyperopt_space import from_raw, to_hyperopt, to_raw

__all__ = ["TPEModel", "TPEStrategy", "DEFAULT_GAMMA", "DEFAULT_MAX_HISTORY", "history_subset", "n_good"]

#: Default ``gamma`` of the TPE strategies (see the module docstring).
DEFAULT_GAMMA = 1.0
#: Default ``max_history`` of the TPE strategies (see the module docstring).
DEFAULT_MAX_HISTORY = 500
#: hyperopt's cap on its "good" set (``DEFAULT_LF`` in ``hyperopt.tpe``).
GOOD_CAP = 25
_RETRIES = 8


def n_good(n: int, gamma: float) -> int:
    """Size of TPE's "good" set among ``n`` points, as hyperopt splits: ``min(ceil(gamma * sqrt(n)), 25)``."""
    return min(int(math.ceil(gamma * math.sqrt(n))), GOOD_CAP) if n else 0


def check_max_history(max_history: Any) -> int | None:
    """``max_history`` validated: None or an integer >= ``2 * GOOD_CAP``."""
    if max_history is None:
        return None
    if isinstance(max_history, bool) or not isinstance(max_history, (int, np.integer)) or max_history < 2 * GOOD_CAP:
        raise ValueError(f"max_history must be None or an integer >= {2 * GOOD_CAP}; received {max_history!r}")
    return int(max_history)


def history_subset(losses: np.ndarray, max_history: int | None, n_best: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (sorted) of the results a model sees: all, or the ``n_best`` best and a random sample of the rest.

    ``losses`` are the finished results' losses in order (+inf = failed); ties keep the earlier result.
    """
    n = len(losses)
    if max_history is None or n <= max_history:
        return np.arange(n)
    order = np.argsort(losses, kind="stable")
    best = order[:n_best]
    rest = rng.choice(order[n_best:], size=max_history - len(best), replace=False)
    return np.sort(np.concatenate([best, rest]))


class _TrialsView:
    """What ``hyperopt.tpe.suggest`` reads of a ``Trials``: its documents (and ``new_trial_docs``)."""

    __slots__ = ("trials", "new_trial_docs")

    def __init__(self, docs: list[dict[str, Any]], trials: Any) -> None:
        self.trials = docs
        self.new_trial_docs = trials.new_trial_docs


class TPEModel:
    """A hyperopt ``Trials`` + ``Domain`` pair with ask/tell helpers (shared by ``tpe`` and ``ga_tpe``)."""

    def __init__(
        self,
        space: Space,
        *,
        n_ei_candidates: int = 64,
        gamma: float = DEFAULT_GAMMA,
        prior_weight: float = 1.0,
        constant_liar: bool = True,
        max_history: int | None = DEFAULT_MAX_HISTORY,
    ) -> None:
        """Build an empty model of ``space``."""
        from hyperopt import Domain, Trials

        if n_ei_candidates < 1:
            raise ValueError(f"n_ei_candidates must be >= 1; received {n_ei_candidates}")
        if not gamma > 0:
            raise ValueError(f"gamma must be > 0; received {gamma}")
        self.max_history = check_max_history(max_history)
        self.space = space
        self.n_ei_candidates = int(n_ei_candidates)
        self.gamma = float(gamma)
        self.prior_weight = float(prior_weight)
        self.constant_liar = bool(constant_liar)
        # The objective is never called: we only use hyperopt's suggest().
        self.domain = Domain(lambda params: 0.0, to_hyperopt(space, quantized=False))
        # Only allocates trial ids and builds documents: the documents live in the lists below, and
        # each proposal hands hyperopt a view of them (no Trials.refresh() walking every document).
        self.trials = Trials()
        self.labels: list[str] = [n for n in space if n in self.domain.params]
        self._pending: dict[str, dict[str, Any]] = {}
        self._done: list[dict[str, Any]] = []  # finished documents, in order
        self._losses: list[float] = []  # their losses (+inf = failed)
        self.n_finished = 0
        #: Number of documents (finished + pending) hyperopt saw at the last proposal.
        self.last_seen = 0

    # -------------------------------------------------------------- docs --
    def _misc(self, tid: int, params: Mapping[str, Any]) -> dict[str, Any]:
        idxs: dict[str, list[int]] = {}
        vals: dict[str, list[Any]] = {}
        for label in self.labels:
            if label in params:
                idxs[label] = [tid]
                vals[label] = [to_raw(self.space, label, params[label])]
            else:  # inactive: no observation for this label
                idxs[label] = []
                vals[label] = []
        return {"tid": tid, "cmd": self.domain.cmd, "workdir": self.domain.workdir, "idxs": idxs, "vals": vals}

    def documents(self, seed: int) -> tuple[list[dict[str, Any]], float]:
        """The documents hyperopt sees for a proposal with ``seed``, and the ``gamma`` to give it."""
        pending = list(self._pending.values())
        n = len(self._done)
        if self.max_history is None or n <= self.max_history:
            return self._done + pending, self.gamma
        k = n_good(n + len(pending), self.gamma)
        rng = np.random.default_rng([int(seed), 0x7470])  # derived from the proposal's seed, not hyperopt's stream
        keep = history_subset(np.asarray(self._losses), self.max_history, k, rng)
        docs = [self._done[i] for i in keep] + pending
        # hyperopt's good set is ceil(gamma * sqrt(len(docs))) (capped at 25): make it exactly the k best.
        return docs, (k - 0.5) / math.sqrt(len(docs))

    def _new_doc(self, params: Mapping[str, Any]) -> dict[str, Any]:
        (tid,) = self.trials.new_trial_ids(1)
        (doc,) = self.trials.new_trial_docs([tid], [None], [{"status": "new"}], [self._misc(tid, params)])
        return doc

    # ---------------------------------------------------------------- API --
    def suggest(self, seed: int) -> dict[str, Any]:
        """One TPE proposal (canonical params); nothing is recorded."""
        from hyperopt import tpe

        docs, gamma = self.documents(seed)
        self.last_seen = len(docs)
        (doc,) = tpe.suggest(
            self.trials.new_trial_ids(1),  # the id is only consumed; no document is inserted
            self.domain,
            _TrialsView(docs, self.trials),
            int(seed),
            prior_weight=self.prior_weight,
            n_startup_jobs=0,  # start-up is handled by the strategies
            n_EI_candidates=self.n_ei_candidates,
            gamma=gamma,
            verbose=False,
        )
        vals = doc["misc"]["vals"]
        raw: dict[str, Any] = {}
        for name in self.space:
            if name in self.domain.params:
                if vals.get(name):
                    raw[name] = from_raw(self.space, name, vals[name][0])
            else:
                raw[name] = from_raw(self.space, name, None)
        return self.space.canonical(self.space.prune(raw))

    def add_pending(self, params: Mapping[str, Any]) -> None:
        """Record an asked point (seen by TPE as infinite loss if ``constant_liar``)."""
        if not self.constant_liar:
            return
        h = params_hash(params)
        if h in self._pending:
            return
        self._pending[h] = self._new_doc(params)

    def observe(self, results: list[Result]) -> None:
        """Record finished results (pending documents are completed in place)."""
        from hyperopt import JOB_STATE_DONE

        for r in results:
            h = params_hash(r.params)
            # Failed results keep no loss: hyperopt reads that as +inf.
            result = {"status": "ok", "loss": float(r.value)} if r.ok else {"status": "fail"}
            doc = self._pending.pop(h, None)
            if doc is None:
                doc = self._new_doc(r.params)
            doc["result"] = result
            doc["state"] = JOB_STATE_DONE
            self._done.append(doc)
            self._losses.append(result.get("loss", math.inf))
            self.n_finished += 1


class TPEStrategy(Strategy):
    """Tree-structured Parzen Estimator via hyperopt (see the module docstring)."""

    name = "tpe"

    def __init__(
        self,
        space: Space | Mapping[str, Any],
        *,
        seed: int = 0,
        n_startup: int = 10,
        n_ei_candidates: int = 64,
        gamma: float = DEFAULT_GAMMA,
        prior_weight: float = 1.0,
        constant_liar: bool = True,
        max_history: int | None = DEFAULT_MAX_HISTORY,
    ) -> None:
        """TPE with ``n_startup`` Latin-hypercube points first; other settings go to hyperopt."""
        super().__init__(space, seed=seed)
        if n_startup < 0:
            raise ValueError(f"n_startup must be >= 0; received {n_startup}")
        self.n_startup = int(n_startup)
        self.model = TPEModel(
            self.space,
            n_ei_candidates=n_ei_candidates,
            gamma=gamma,
            prior_weight=prior_weight,
            constant_liar=constant_liar,
            max_history=max_history,
        )
        self._startup: list[list[float]] = self._lhs(self.n_startup)

    def _ask(self, n: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while len(out) < n:
            p = self._propose_one()
            if p is None:
                p_list = self._fill(1)
                if not p_list:
                    break
                p = p_list[0]
            self.model.add_pending(p)
            out.append(p)
        return out

    def _propose_one(self) -> dict[str, Any] | None:
        # Start-up: LHS points until n_startup points are known (asked or told).
        while self._startup and len(self._seen) < self.n_startup:
            p = self._accept(self.space.decode(self._startup.pop(0)))
            if p is not None:
                return p
        for _ in range(_RETRIES):
            seed = int(self.rng.integers(2**31 - 1))
            p = self._accept(self.model.suggest(seed))
            if p is not None:
                return p
        return None

    def _tell(self, results: list[Result]) -> None:
        self.model.observe(results)
