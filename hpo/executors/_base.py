"""The executor interface: run ``objective(params, seed=..., trial_id=...)`` on workers.

An executor knows nothing of strategies or stores: the loop hands it
:class:`Task` objects while it has free slots and collects :class:`Outcome`
objects as trials finish, in whatever order they finish.

The objective is any picklable callable (a top-level function, or an instance of a
top-level class) called as ``objective(params, seed=seed, trial_id=trial_id)``. It
returns either a number (the value) or a mapping with ``"value"`` and optionally
``"metrics"`` and ``"history"`` (JSON-serialisable). If it has a ``setup(device)``
method, each worker calls it once before its first trial (load data, configure the
framework). A trial that raises, or whose value is NaN or infinite, becomes a
``failed`` outcome carrying the error text; :class:`FatalError` instead stops the
search (the error is in the configuration, not in one trial).

While it runs, a trial may report a value per step (:func:`hpo.pruners.report`):
the values are kept with its outcome, and when the task carries a
:class:`~hpo.pruners.PruningContext` the pruner may say stop. A trial that then
returns, or raises :class:`~hpo.pruners.TrialPruned`, becomes a ``pruned`` outcome
whose value is the last value it reported.
"""

from __future__ import annotations

import math
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..devices import WorkerDevice
from ..pruners import PruningContext, Reporter, TrialPruned, reporting

__all__ = ["Executor", "FatalError", "Outcome", "Task", "evaluate"]

Objective = Callable[..., Any]


class FatalError(Exception):
    """Raised by an objective when no trial can succeed (bad configuration): the search stops."""


@dataclass(frozen=True)
class Task:
    """One trial to run: its store id, params and seed, and the pruning context when the search prunes."""

    trial_id: int
    params: dict[str, Any]
    seed: int
    pruning: PruningContext | None = None


@dataclass
class Outcome:
    """What running one :class:`Task` gave (times are Unix seconds)."""

    trial_id: int
    status: str  # "done", "failed" or "pruned"
    value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)
    intermediate: list[tuple[int, float]] = field(default_factory=list)
    error: str | None = None
    fatal: bool = False
    worker: str = ""
    device: str = ""
    started: float = 0.0
    ended: float = 0.0


def _error_text(error: BaseException, limit: int = 4000) -> str:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    # The end of a traceback says most; keep the store rows bounded.
    return text if len(text) <= limit else "...\n" + text[-limit:]


def evaluate(objective: Objective, task: Task, *, worker: str = "", device: str = "") -> Outcome:
    """Runs one task in this process and turns whatever happens into an :class:`Outcome`."""
    started = time.time()
    outcome = Outcome(task.trial_id, "failed", worker=worker, device=device, started=started)
    reporter = Reporter(seed=task.seed, context=task.pruning)
    try:
        with reporting(reporter):
            returned = objective(dict(task.params), seed=task.seed, trial_id=task.trial_id)
        if isinstance(returned, Mapping):
            value = returned.get("value")
            outcome.metrics = dict(returned.get("metrics") or {})
            outcome.history = dict(returned.get("history") or {})
        else:
            value = returned
        value = None if value is None else float(value)
        if reporter.pruned:
            outcome.status, outcome.value = "pruned", reporter.last
        elif value is None or not math.isfinite(value):
            outcome.error = f"the objective returned a non-finite value: {value!r}"
        else:
            outcome.status, outcome.value = "done", value
    except TrialPruned:
        outcome.status, outcome.value = "pruned", reporter.last
    except FatalError as error:
        outcome.error, outcome.fatal = _error_text(error), True
    except Exception as error:  # a failed trial must never stop the search
        outcome.error = _error_text(error)
    outcome.intermediate = list(reporter.values)
    outcome.ended = time.time()
    return outcome


def setup_objective(objective: Objective, device: WorkerDevice) -> None:
    """Calls the objective's optional per-worker ``setup(device)`` hook."""
    setup = getattr(objective, "setup", None)
    if callable(setup):
        setup(device)


class Executor(ABC):
    """Runs tasks on ``n_workers`` workers; use as a context manager or call :meth:`close`."""

    n_workers: int = 1
    #: The executor's name (as :func:`hpo.executors.get` knows it), recorded with a search's run.
    name: str = ""

    @abstractmethod
    def start(self, objective: Objective) -> None:
        """Prepares the workers to run ``objective``."""

    @abstractmethod
    def submit(self, task: Task) -> None:
        """Starts ``task`` on a free worker (call only while :meth:`free_slots` > 0)."""

    @abstractmethod
    def free_slots(self) -> int:
        """Number of tasks that can be submitted now."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Returns finished outcomes: at least one, unless ``timeout`` passes or nothing runs."""

    def running(self) -> int:
        """Number of submitted tasks not yet returned by :meth:`wait`."""
        return self.n_workers - self.free_slots()

    def close(self) -> None:
        """Stops the workers (idempotent)."""

    def abort(self) -> None:
        """Stops at once after an interrupt, without waiting for running trials. Defaults to :meth:`close`."""
        self.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
