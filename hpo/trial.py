"""Small value types shared by strategies, the store and the loop.

* :class:`Result` -- what a strategy is told about one evaluated params set.
* :class:`Trial` -- one row of the trial store.
* :data:`TRIAL_STATUSES` -- the life cycle of a stored trial.

Strategies always *minimise* ``Result.value``; a loop that maximises a metric
tells ``-metric``.
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
]

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
INTERRUPTED = "interrupted"
#: Every status a stored trial may have, in life-cycle order.
TRIAL_STATUSES: tuple[str, ...] = (QUEUED, RUNNING, DONE, FAILED, INTERRUPTED)


@dataclass(frozen=True)
class Result:
    """The outcome of evaluating one params set, as told to a strategy.

    ``value`` is minimised.  A result counts as failed (:attr:`ok` is False)
    when ``status == "failed"`` or the value is None, NaN or infinite; each
    strategy documents how it treats failures.
    """

    params: dict[str, Any]
    value: float | None = None
    status: Literal["done", "failed"] = "done"

    def __post_init__(self) -> None:
        if self.status not in (DONE, FAILED):
            raise ValueError(f"Result.status must be 'done' or 'failed'; received {self.status!r}")
        if self.value is not None:
            try:
                object.__setattr__(self, "value", float(self.value))
            except (TypeError, ValueError):
                raise ValueError(f"Result.value must be a number or None; received {self.value!r}") from None
        object.__setattr__(self, "params", dict(self.params))

    @property
    def ok(self) -> bool:
        """True for a successful result with a finite value."""
        return self.status == DONE and self.value is not None and math.isfinite(self.value)

    @property
    def loss(self) -> float:
        """The value to minimise: ``value`` when :attr:`ok`, otherwise ``+inf``."""
        return float(self.value) if self.ok else math.inf  # type: ignore[arg-type]

    __hash__ = None  # type: ignore[assignment]  # params is a dict


@dataclass(frozen=True)
class Trial:
    """One trial as stored by :class:`hpo.store.TrialStore` (times are Unix seconds)."""

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

    __hash__ = None  # type: ignore[assignment]

    @property
    def finished(self) -> bool:
        """True when the trial is done or failed (a strategy may be told of it)."""
        return self.status in (DONE, FAILED)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, when both are known."""
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    def to_result(self) -> Result:
        """The :class:`Result` to replay through ``Strategy.tell`` (finished trials only)."""
        if not self.finished:
            raise ValueError(f"trial {self.id} is {self.status!r}; only done/failed trials make a Result")
        return Result(self.params, self.value if self.status == DONE else None, self.status)  # type: ignore[arg-type]
