"""Loading a search for a report: its trials, counts, best trial, what the engine recorded, and timings."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..space import Space
from ..store import DIRECTIONS, SearchInfo, StoreError, TrialStore
from ..trial import DONE, FAILED, FINISHED_STATUSES, PRUNED, RUNNING, TRIAL_STATUSES, Trial


def finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (None, NaN, inf, non-numbers)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def better(a: float, b: float, direction: str) -> bool:
    """Whether value ``a`` beats ``b`` in ``direction``."""
    return a > b if direction == "maximize" else a < b


def union_length(intervals: Sequence[tuple[float, float]]) -> float:
    """Total length covered by the ``(start, end)`` intervals."""
    total, cur_start, cur_end = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_end is None or s > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start  # type: ignore[operator]
            cur_start, cur_end = s, e
        else:
            cur_end = max(cur_end, e)
    if cur_end is not None:
        total += cur_end - cur_start  # type: ignore[operator]
    return total


@dataclass
class SearchView:
    """One search of a store, with the figures every section of a report needs.

    What the engine knows (``metric``, ``direction``, ``engine``) comes from the store's
    search row; ``config`` is the application's configuration, only ever shown.
    """

    path: str
    info: SearchInfo | None
    config: dict[str, Any]
    engine: dict[str, Any]
    direction: str
    metric: str
    trials: list[Trial]
    counts: dict[str, int]
    best: Trial | None
    now: float
    writer: str | None = None  # the process holding the writer lock (None: no driver runs)

    @property
    def seed(self) -> int | None:
        """The search seed: the store's, else the one the engine ran with."""
        if self.info is not None and self.info.seed is not None:
            return self.info.seed
        return self.engine.get("seed")

    @property
    def objectives(self) -> list[tuple[str, str]]:
        """``[(metric, direction), ...]`` of a multi-objective search (as the engine recorded them), else ``[]``."""
        out = []
        for o in self.engine.get("objectives") or []:
            if isinstance(o, Mapping) and isinstance(o.get("metric"), str) and o.get("direction") in DIRECTIONS:
                out.append((o["metric"], o["direction"]))
        return out if len(out) > 1 else []

    def objective_values(self) -> list[tuple[Trial, tuple[float, ...]]]:
        """Done trials with every objective finite, and those values in the metrics' own directions."""
        out = []
        for t in self.trials:
            if t.status != DONE:
                continue
            raw = [t.value, *(t.metrics.get(m) for m, _ in self.objectives[1:])]
            values = tuple(finite(v) for v in raw)
            if values and all(v is not None for v in values):
                out.append((t, values))  # type: ignore[arg-type]
        return out

    def pareto(self) -> list[tuple[Trial, tuple[float, ...]]]:
        """The trials of the Pareto front (several objectives), ordered by the first objective, best first."""
        from ..pareto import pareto_front

        rows = self.objective_values()
        if not self.objectives or not rows:
            return []
        signs = [-1.0 if d == "maximize" else 1.0 for _, d in self.objectives]
        points = [[s * v for s, v in zip(signs, values)] for _, values in rows]
        front = [rows[int(i)] for i in pareto_front(points)]
        return sorted(front, key=lambda row: (signs[0] * row[1][0], row[0].number))

    def space(self) -> Space | None:
        """The search space the engine recorded, or None (none recorded, or malformed)."""
        spec = self.engine.get("space")
        if not isinstance(spec, Mapping):
            return None
        try:
            return Space.from_dict(spec)
        except Exception:  # noqa: BLE001 -- a malformed space only costs the report its hints
            return None

    @property
    def scored(self) -> list[Trial]:
        """Done trials with a finite value, in number order."""
        return [t for t in self.trials if t.status == DONE and finite(t.value) is not None]

    @property
    def failed(self) -> list[Trial]:
        return [t for t in self.trials if t.status == FAILED]

    @property
    def pruned(self) -> list[Trial]:
        """Trials a pruner stopped early, in number order."""
        return [t for t in self.trials if t.status == PRUNED]

    def ranked(self) -> list[Trial]:
        """Scored trials, best first (ties: lower trial number first)."""
        sign = -1.0 if self.direction == "maximize" else 1.0
        return sorted(self.scored, key=lambda t: (sign * float(t.value), t.number))  # type: ignore[arg-type]

    def intervals(self) -> list[tuple[Trial, float, float]]:
        """(trial, start, end) of every trial that ran on a worker (running ones end now)."""
        out = []
        for t in self.trials:
            if t.cache_hit or t.started is None:
                continue
            end = t.ended if t.ended is not None else (self.now if t.status == RUNNING else None)
            if end is None:
                continue
            out.append((t, float(t.started), max(float(end), float(t.started))))
        return out

    def span(self) -> tuple[float, float] | None:
        """(first start, last end -- or now while trials run), or None without times."""
        starts = [float(t.started) for t in self.trials if t.started is not None]
        if not starts:
            return None
        t0 = min(starts)
        ends = [float(t.ended) for t in self.trials if t.ended is not None]
        if any(t.status == RUNNING and t.started is not None for t in self.trials):
            ends.append(self.now)
        return t0, max([t0, *ends])

    def timing(self) -> dict[str, float | None]:
        """Elapsed seconds, trials per hour, mean trial seconds and the engine overhead fraction."""
        span = self.span()
        elapsed = None if span is None else span[1] - span[0]
        finished = sum(self.counts.get(k, 0) for k in FINISHED_STATUSES)
        per_hour = finished / (elapsed / 3600.0) if elapsed and elapsed > 0 else None
        durations = [
            d
            for t in self.trials
            if t.status in FINISHED_STATUSES and not t.cache_hit and (d := t.duration) is not None and d >= 0
        ]
        mean = statistics.fmean(durations) if durations else None
        overhead = None
        spans = [(s, e) for _, s, e in self.intervals()]
        if span is not None and spans and elapsed and elapsed > 0:
            busy = union_length(spans)
            overhead = min(max(1.0 - busy / elapsed, 0.0), 1.0)
        return {"elapsed_s": elapsed, "trials_per_hour": per_hour, "mean_trial_s": mean, "overhead": overhead}


def load(store: TrialStore, direction: str | None, search_id: int | None) -> SearchView:
    """The search ``search_id`` (default: the latest) of ``store``; ``direction`` overrides the recorded one.

    Raises:
        StoreError: when ``search_id`` names no search of the store.
        ValueError: on an unknown ``direction``.
    """
    info = store.get_search(search_id)
    if info is None and search_id is not None:
        raise StoreError(f"{store.path!r} holds no search with id {search_id}")
    if direction is None:
        direction = "minimize" if info is None else info.direction
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'minimize' or 'maximize'; received {direction!r}")
    if info is None:
        trials: list[Trial] = []
        counts = {**{k: 0 for k in TRIAL_STATUSES}, "cache_hits": 0}
        best = None
        config, engine, metric = {}, {}, "value"
    else:
        trials = store.trials(search_id=info.id)
        counts = store.counts(search_id=info.id)
        best = store.best(direction, search_id=info.id)
        config = dict(info.config) if isinstance(info.config, Mapping) else {}
        engine, metric = dict(info.engine), info.metric
    return SearchView(
        store.path, info, config, engine, direction, metric, trials, counts, best, time.time(), store.writer()
    )
