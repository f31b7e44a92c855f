"""Small value types shared by strategies, the store and the loop.

* :class:`Result` -- what a strategy is told about one evaluated params set.
* :class:`Trial` -- one row of the trial store.
* :data:`TRIAL_STATUSES` -- the life cycle of a stored trial.

Strategies always *minimise* ``Result.value``; a loop that maximises a metric
tells ``-metric``. With several objectives, ``Result.values`` holds one
minimised value per objective (a maximised one negated) and ``Result.value``
the first of them.

A *pruned* trial (stopped early by a pruner, :mod:`hpo.pruners`) is told with
the last value it reported: the pruner stopped it because that value was worse
than its peers' at the same step, so strategies rank it among the bad results
without a special case. It is never a cache hit and never the best trial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Result",
    "Trial",
    "TRIAL_STATUSES",
    "QUEUED",
    "RUNNING",
    "DONE",
    "FAILED",
    "INTERRUPTED",
    "PRUNED",
    "FINISHED_STATUSES",
]

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
INTERRUPTED = "interrupted"
PRUNED = "pruned"
#: Every status a stored trial may have, in life-cycle order.
TRIAL_STATUSES: tuple[str, ...] = (QUEUED, RUNNING, DONE, FAILED, INTERRUPTED, PRUNED)
#: The statuses of a trial that ended (a strategy is told of it; resume does not re-run it).
FINISHED_STATUSES: tuple[str, ...] = (DONE, FAILED, PRUNED)


@dataclass(frozen=True)
class Result:
    """The outcome of evaluating one params set, as told to a strategy.

    ``value`` is minimised.  A result counts as failed (:attr:`ok` is False)
    when ``status == "failed"`` or the value is None, NaN or infinite; each
    strategy documents how it treats failures. ``status == "pruned"`` is a trial
    a pruner stopped early, told with its last reported value (see the module).

    ``values`` holds one minimised value per objective when the search has
    several (``value`` is then the first of them unless given); a result with
    ``values`` is :attr:`ok` only when every one of them is finite.
    """

    params: dict[str, Any]
    value: float | None = None
    status: Literal["done", "failed", "pruned"] = "done"
    values: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.status not in (DONE, FAILED, PRUNED):
            raise ValueError(f"Result.status must be 'done', 'failed' or 'pruned'; received {self.status!r}")
        if self.values is not None:
            try:
                values = tuple(float(v) for v in self.values)
            except (TypeError, ValueError):
                raise ValueError(f"Result.values must be a sequence of numbers; received {self.values!r}") from None
            if not values:
                raise ValueError("Result.values must hold at least one value")
            object.__setattr__(self, "values", values)
            if self.value is None:
                object.__setattr__(self, "value", values[0])
        if self.value is not None:
            try:
                object.__setattr__(self, "value", float(self.value))
            except (TypeError, ValueError):
                raise ValueError(f"Result.value must be a number or None; received {self.value!r}") from None
        object.__setattr__(self, "params", dict(self.params))

    @property
    def ok(self) -> bool:
        """True for a done (or pruned) result whose value (and every one of ``values``) is finite."""
        if self.status == FAILED or self.value is None or not math.isfinite(self.value):
            return False
        return self.values is None or all(math.isfinite(v) for v in self.values)

    @property
    def pruned(self) -> bool:
        """True for a trial a pruner stopped early."""
        return self.status == PRUNED

    @property
    def loss(self) -> float:
        """The value to minimise: ``value`` when :attr:`ok`, otherwise ``+inf``."""
        return float(self.value) if self.ok else math.inf  # type: ignore[arg-type]

    def losses(self, n: int) -> tuple[float, ...]:
        """The ``n`` values to minimise: ``values`` (or ``(value,)``) when :attr:`ok`, else ``n`` times ``+inf``."""
        if not self.ok:
            return (math.inf,) * n
        values = self.values if self.values is not None else (float(self.value),)  # type: ignore[arg-type]
        if len(values) != n:
            raise ValueError(f"the result has {len(values)} objective values; the strategy expects {n}")
        return values

    __hash__ = None  # type: ignore[assignment]  # params is a dict


@dataclass(frozen=True)
class Trial:
    """One trial as stored by :class:`hpo.store.TrialStore` (times are Unix seconds).

    ``intermediate`` holds what the trial reported while it trained (:func:`hpo.pruners.report`):
    ``[[step, value], ...]`` in the metric's own direction.
    """

    id: int
    search_id: int
    number: int
    params: dict[str, Any]
    params_hash: str
    status: str
    value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] | list[Any] = field(default_factory=dict)
    seed: int | None = None
    worker: str | None = None
    device: str | None = None
    created: float | None = None
    started: float | None = None
    ended: float | None = None
    error: str | None = None
    cache_hit: bool = False
    cached_from: int | None = None
    intermediate: list[list[float]] = field(default_factory=list)

    __hash__ = None  # type: ignore[assignment]

    @property
    def finished(self) -> bool:
        """True when the trial is done, failed or pruned (a strategy may be told of it)."""
        return self.status in FINISHED_STATUSES

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, when both are known."""
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    def to_result(self) -> Result:
        """The :class:`Result` to replay through ``Strategy.tell`` (finished trials only)."""
        if not self.finished:
            raise ValueError(f"trial {self.id} is {self.status!r}; only finished trials make a Result")
        return Result(self.params, None if self.status == FAILED else self.value, self.status)  # type: ignore[arg-type]
