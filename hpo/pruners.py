"""Pruning: stopping a bad trial early, from the values it reports while it trains.

A trial reports one value per step (an epoch) with :func:`report`; the search's
pruner compares it with what its peers reported at the same step and says whether
to stop. Three pruners, chosen by name (:func:`get`):

* ``median``: stop when the trial's best value so far is worse than the median of
  its peers' best values at the same step (Optuna's ``MedianPruner``).
* ``successive_halving``: asynchronous successive halving (ASHA). Rungs sit at
  ``min_epochs * reduction_factor ** k`` steps; at each rung a trial goes on only
  if its value is in the best ``1 / reduction_factor`` of the values recorded at
  that rung (the first few trials, too few to rank, go on while they are the best).
* ``hyperband``: several successive-halving brackets, from aggressive (rungs from
  ``min_epochs``) to none (full training); each trial falls into one bracket, drawn
  from its seed with the weights of Hyperband, and competes only within it.

**Who decides, and from what.** The driver alone holds the store, so each trial is
sent a :class:`PruningContext` with its task: the pruner and a compact reference
built from the peers that had *finished* (done or pruned) when the trial started.
The trial's worker decides alone from that reference -- no message back to the
driver per epoch, so pruning works the same on every executor (local processes,
MPI, Horovod). Peers still running are not seen; Optuna's pruners see them
through a shared database, ours trade that for determinism: in synchronous mode
the reference is taken once per batch, so one seed gives the same pruned trials
with any executor and any number of workers. (A resumed batch re-runs its
unfinished trials against the peers finished by then, which may include trials
of that batch that finished before the interruption.)

Values are compared *minimised*: the driver negates a maximised metric before it
builds the reference, and the :class:`Reporter` negates what the trial reports.

A trial is told it should stop; how it stops is its own business. A Keras
callback sets ``model.stop_training`` and the objective returns what it has; a
plain function may raise :class:`TrialPruned`. Either way the trial is stored
``pruned`` with the values it reported, and is told to the strategy with its last
reported value (see :mod:`hpo.trial`).

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import bisect
import contextlib
import contextvars
import inspect
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PRUNERS",
    "HyperbandPruner",
    "MedianPruner",
    "Peer",
    "Pruner",
    "PruningContext",
    "Reporter",
    "SuccessiveHalvingPruner",
    "TrialPruned",
    "current",
    "get",
    "report",
]


class TrialPruned(Exception):
    """Raised by an objective to stop its trial because the pruner said so (stored ``pruned``)."""


@dataclass(frozen=True)
class Peer:
    """What a pruner knows of one finished trial: its seed and its reported values by step (minimised)."""

    seed: int
    values: Mapping[int, float]


def _check_int(key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"pruner.{key} must be an integer >= {low}; received {value!r}")
    return int(value)


class Pruner:
    """The base of the pruners: the settings they share and the two halves of a decision.

    Args:
        min_epochs: No trial is stopped before it has reported this many steps. Defaults to `1`.
        max_epochs: The steps of a full training (needed by ``hyperband``; the others use it
            only to check ``min_epochs``). Defaults to `None`.

    Subclasses implement :meth:`reference` (on the driver: peers -> a small picklable summary)
    and :meth:`should_prune` (in the worker: the trial's values so far against that summary).
    """

    name = ""

    def __init__(self, *, min_epochs: int = 1, max_epochs: int | None = None) -> None:
        self.min_epochs = _check_int("min_epochs", min_epochs, 1)
        self.max_epochs = None if max_epochs is None else _check_int("max_epochs", max_epochs, 1)
        if self.max_epochs is not None and self.min_epochs > self.max_epochs:
            raise ValueError(
                f"pruner.min_epochs ({self.min_epochs}) must be <= pruner.max_epochs ({self.max_epochs}): "
                "no trial could reach the first check"
            )

    def settings(self) -> dict[str, Any]:
        """The pruner's settings, as the engine records them."""
        return {"min_epochs": self.min_epochs, "max_epochs": self.max_epochs}

    def reference(self, peers: Sequence[Peer]) -> Any:
        """A compact, picklable summary of the finished peers, built on the driver."""
        raise NotImplementedError

    def should_prune(self, values: Mapping[int, float], step: int, reference: Any, seed: int) -> bool:
        """True when a trial whose minimised ``values`` so far end at ``step`` should stop."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"


class MedianPruner(Pruner):
    """Stops a trial whose best value so far is worse than the median of its peers' at the same step.

    Args:
        n_startup_trials: No pruning until this many peers have finished. Defaults to `5`.
        min_epochs, max_epochs: See :class:`Pruner`.
    """

    name = "median"

    def __init__(self, *, n_startup_trials: int = 5, min_epochs: int = 1, max_epochs: int | None = None) -> None:
        super().__init__(min_epochs=min_epochs, max_epochs=max_epochs)
        self.n_startup_trials = _check_int("n_startup_trials", n_startup_trials, 0)

    def settings(self) -> dict[str, Any]:
        return {"n_startup_trials": self.n_startup_trials, **super().settings()}

    def reference(self, peers: Sequence[Peer]) -> dict[int, float] | None:
        """``{step: median of the peers' best value up to that step}``, or None while too few peers finished."""
        if len(peers) < max(1, self.n_startup_trials):
            return None
        by_step: dict[int, list[float]] = {}
        for peer in peers:
            best = math.inf
            for step in sorted(peer.values):
                best = min(best, peer.values[step])
                by_step.setdefault(step, []).append(best)
        return {step: _median(values) for step, values in sorted(by_step.items())}

    def should_prune(self, values: Mapping[int, float], step: int, reference: Any, seed: int) -> bool:
        if reference is None or step < self.min_epochs or step not in reference:
            return False
        return min(values.values()) > reference[step]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])


class SuccessiveHalvingPruner(Pruner):
    """Asynchronous successive halving (ASHA): only the best ``1 / reduction_factor`` go past each rung.

    Args:
        reduction_factor: Rungs sit at ``min_epochs * reduction_factor ** (k + min_early_stopping_rate)``
            steps, and a rung keeps one trial in ``reduction_factor``. Defaults to `3`.
        min_early_stopping_rate: Skips the first rungs (Hyperband's bracket index). Defaults to `0`.
        min_epochs, max_epochs: See :class:`Pruner` (``min_epochs`` is the first rung).
    """

    name = "successive_halving"

    def __init__(
        self,
        *,
        reduction_factor: int = 3,
        min_early_stopping_rate: int = 0,
        min_epochs: int = 1,
        max_epochs: int | None = None,
    ) -> None:
        super().__init__(min_epochs=min_epochs, max_epochs=max_epochs)
        self.reduction_factor = _check_int("reduction_factor", reduction_factor, 2)
        self.min_early_stopping_rate = _check_int("min_early_stopping_rate", min_early_stopping_rate, 0)

    def settings(self) -> dict[str, Any]:
        return {
            "reduction_factor": self.reduction_factor,
            "min_early_stopping_rate": self.min_early_stopping_rate,
            **super().settings(),
        }

    def rungs(self, rate: int | None = None) -> list[int]:
        """The steps at which trials are ranked (below ``max_epochs`` when it is known)."""
        rate = self.min_early_stopping_rate if rate is None else rate
        limit = self.max_epochs if self.max_epochs is not None else 10**6
        out, step = [], self.min_epochs * self.reduction_factor**rate
        while step < limit:
            out.append(step)
            step *= self.reduction_factor
        return out

    def _rung_values(self, peers: Iterable[Peer], rungs: list[int]) -> dict[int, list[float]]:
        return {rung: sorted(p.values[rung] for p in peers if rung in p.values) for rung in rungs}

    def reference(self, peers: Sequence[Peer]) -> dict[int, list[float]]:
        """``{rung step: the sorted values the finished peers reported there}``."""
        return self._rung_values(peers, self.rungs())

    def _promotable(self, value: float, competing: list[float]) -> bool:
        # ``competing`` holds the peers' values at the rung; the trial itself joins them.
        ranked = sorted([*competing, value])
        k = len(ranked) // self.reduction_factor
        # With fewer than reduction_factor values nothing can be ranked yet: go on while the best.
        return value <= ranked[max(k, 1) - 1]

    def should_prune(self, values: Mapping[int, float], step: int, reference: Any, seed: int) -> bool:
        if step not in reference or step < self.min_epochs:
            return False
        return not self._promotable(values[step], reference[step])


class HyperbandPruner(SuccessiveHalvingPruner):
    """Hyperband: successive-halving brackets from aggressive to none; a trial competes within its bracket.

    Bracket ``s`` (``0 .. n_brackets - 1``) starts its rungs at ``min_epochs * reduction_factor ** s``;
    the last bracket has no rung below ``max_epochs`` (full training). A trial's bracket is drawn from
    its seed with Hyperband's weights (more trials in the aggressive brackets), so it is the same on
    every worker and after a resume.

    Args:
        reduction_factor: As in :class:`SuccessiveHalvingPruner`. Defaults to `3`.
        min_epochs: The first rung of the most aggressive bracket. Defaults to `1`.
        max_epochs: The steps of a full training (required).
    """

    name = "hyperband"

    def __init__(self, *, reduction_factor: int = 3, min_epochs: int = 1, max_epochs: int | None = None) -> None:
        if max_epochs is None:
            raise ValueError("pruner.max_epochs is required by hyperband (the epochs of a full training)")
        super().__init__(reduction_factor=reduction_factor, min_epochs=min_epochs, max_epochs=max_epochs)
        assert self.max_epochs is not None
        self.n_brackets = int(math.floor(math.log(self.max_epochs / self.min_epochs, self.reduction_factor) + 1e-9)) + 1
        s_max = self.n_brackets - 1
        # Hyperband's trial count per bracket: ceil((s_max + 1) / (s_max - s + 1) * eta ** (s_max - s)),
        # for bracket s ordered from the most aggressive (many trials, early rungs) to full training.
        self.weights = [
            math.ceil((s_max + 1) / (s_max - s + 1) * self.reduction_factor ** (s_max - s)) for s in range(s_max + 1)
        ]
        self._cumulative = [sum(self.weights[: i + 1]) for i in range(len(self.weights))]

    def settings(self) -> dict[str, Any]:
        return {"reduction_factor": self.reduction_factor, **Pruner.settings(self)}

    def bracket(self, seed: int) -> int:
        """The bracket of a trial with this seed (``0`` is the most aggressive)."""
        return bisect.bisect_right(self._cumulative, int(seed) % self._cumulative[-1])

    def reference(self, peers: Sequence[Peer]) -> dict[int, dict[int, list[float]]]:
        """``{bracket: {rung step: sorted peer values}}``, each bracket from its own peers only."""
        groups: dict[int, list[Peer]] = {s: [] for s in range(self.n_brackets)}
        for peer in peers:
            groups[self.bracket(peer.seed)].append(peer)
        return {s: self._rung_values(groups[s], self.rungs(s)) for s in range(self.n_brackets)}

    def should_prune(self, values: Mapping[int, float], step: int, reference: Any, seed: int) -> bool:
        return super().should_prune(values, step, reference[self.bracket(seed)], seed)


#: The pruners by the name a configuration gives (``pruner: {name: ...}``).
PRUNERS: dict[str, type[Pruner]] = {
    MedianPruner.name: MedianPruner,
    SuccessiveHalvingPruner.name: SuccessiveHalvingPruner,
    HyperbandPruner.name: HyperbandPruner,
}


def get(name: str, **settings: Any) -> Pruner:
    """The pruner registered under ``name`` with ``settings`` (ValueError naming the key otherwise)."""
    if name not in PRUNERS:
        raise ValueError(f"pruner.name must be one of {sorted(PRUNERS)}; received {name!r}")
    cls = PRUNERS[name]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        raise ValueError(f"pruner.{unknown[0]} is not a setting of the {name} pruner; its settings: {accepted}")
    return cls(**settings)


@dataclass(frozen=True)
class PruningContext:
    """Sent with a task: the pruner, the reference built from the finished peers, and how to read values.

    Attributes:
        pruner: The search's :class:`Pruner`.
        reference: ``pruner.reference(peers)`` at the time the trial was started.
        maximize: True when the reported metric is maximised (the reporter negates it).
    """

    pruner: Pruner
    reference: Any
    maximize: bool = False


@dataclass
class Reporter:
    """Collects what one trial reports and answers whether it should stop (:func:`report`).

    Attributes:
        seed: The trial's seed (Hyperband's bracket).
        context: The pruning context, or None when the search prunes nothing (values are still recorded).
        values: What the trial reported: ``[(step, value), ...]`` in the metric's own direction.
        pruned: True once the pruner said stop.
    """

    seed: int = 0
    context: PruningContext | None = None
    values: list[tuple[int, float]] = field(default_factory=list)
    pruned: bool = False

    def report(self, step: int, value: float) -> bool:
        """Records ``value`` at ``step`` (steps count from 1); returns True when the trial should stop.

        A non-finite value is recorded as reported and stops the trial under a pruner (it cannot
        improve on anything); a step reported again replaces the earlier value.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise ValueError(f"a reported step must be an integer >= 1; received {step!r}")
        value = float(value)
        self.values = [(s, v) for s, v in self.values if s != step] + [(step, value)]
        if self.context is None:
            return False
        if not math.isfinite(value):
            self.pruned = True
            return True
        sign = -1.0 if self.context.maximize else 1.0
        minimised = {s: sign * v for s, v in self.values if math.isfinite(v)}
        if self.context.pruner.should_prune(minimised, step, self.context.reference, self.seed):
            self.pruned = True
        return self.pruned

    @property
    def last(self) -> float | None:
        """The last reported value (in the metric's direction), or None."""
        return self.values[-1][1] if self.values else None


_CURRENT: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar("hpo_pruning_reporter", default=None)


def current() -> Reporter | None:
    """The reporter of the trial running in this thread, or None outside a trial."""
    return _CURRENT.get()


def report(step: int, value: float) -> bool:
    """Reports a trial's value at ``step`` (an epoch, from 1); True when the pruner says stop.

    Outside a trial run by an :mod:`hpo.executors` executor it records nothing and returns False.
    """
    reporter = _CURRENT.get()
    return False if reporter is None else reporter.report(step, value)


@contextlib.contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """Makes ``reporter`` the current one while a trial runs (the executors call this)."""
    token = _CURRENT.set(reporter)
    try:
        yield reporter
    finally:
        _CURRENT.reset(token)


def peers_of(rows: Iterable[tuple[int | None, Sequence[Sequence[float]]]], maximize: bool) -> list[Peer]:
    """:class:`Peer` objects from stored ``(seed, [[step, value], ...])`` rows, values minimised."""
    sign = -1.0 if maximize else 1.0
    out = []
    for seed, pairs in rows:
        values = {int(s): sign * float(v) for s, v in pairs if v is not None and math.isfinite(float(v))}
        if values:
            out.append(Peer(int(seed or 0), values))
    return out
