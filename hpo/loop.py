"""The search loop: ask -> evaluate (executor) -> record (store) -> tell, until the budget is spent.

Two modes:

* **asynchronous** (default): whenever a worker frees, the strategy is asked
  for one more params set at once, so no worker waits for a slow sibling
  (speculative parallel search). The trials proposed depend on the order in
  which trials finish, so two runs with the same seed can differ when more
  than one worker runs; with the serial executor they are identical.
* **synchronous**: the strategy is asked for a batch of ``batch_size`` params
  sets, all are evaluated, and the results are told in proposal order before
  the next batch. Workers idle at the end of each batch, but the same seed
  gives the same trials in the same order with any executor and any number of
  workers: the batch size, not the worker count, fixes the sequence.

Durability and reuse: a trial is written to the store before it runs and its
result is committed before the strategy hears of it. A params set already
``done`` in the store (this search, another search of the store, or a
warm-start store) is never trained again: it is recorded as a cache hit and
its value told at once. Resuming a search replays it: in synchronous mode the
loop asks the same batches again and takes each finished trial from the store
(no new row, no training), re-running only those that had not finished; in
asynchronous mode the finished trials are told first and the unfinished ones
are run first.

The loop maximises or minimises ``value`` (``direction``); strategies always
minimise, so a maximised value is told negated.

Several objectives: with ``objectives=[(metric, direction), ...]`` (two or more), each
trial's values are read from its metrics (the first objective may be its value) and
told together (``Result.values``, each minimised) to a strategy that handles several
(``multi_objective = True``, e.g. ``nsga2``). The trial's stored value stays the first
objective's; the models of the trials on the Pareto front are kept (not only the best's),
so that any of them can be exported.

Pruning (:mod:`hpo.pruners`): with a ``pruner``, each task carries a reference
built from the search's finished trials' reported values (in synchronous mode,
once per batch, so the same seed prunes the same trials with any executor). A
pruned trial is finished: it counts against the trial budget, is stored with what
it reported, is told with its last reported value, and is re-run neither by a
resume nor as a cache hit.

What the engine knows of a run -- the objective's name and direction, the strategy and
its settings, the space, the executor, the mode, the budget -- is recorded in the
search's row of the store as the run starts (:func:`engine_record`), so that reports
read it from there and never from the application's configuration.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .executors import Executor, Outcome, Task
from .pruners import Pruner, PruningContext, peers_of
from .space import params_hash
from .store import DIRECTIONS, TrialStore, jsonable
from .strategies import Strategy, settings_of
from .trial import DONE, FAILED, FINISHED_STATUSES, INTERRUPTED, PRUNED, QUEUED, RUNNING, Result, Trial

__all__ = [
    "Budget",
    "ObjectiveError",
    "SearchAborted",
    "SearchSummary",
    "engine_record",
    "run_search",
    "trial_seed",
]


class SearchAborted(RuntimeError):
    """The search stopped before its budget: a fatal trial error, or every trial failing."""


class ObjectiveError(SearchAborted):
    """An objective names a metric the trials do not report; the message is one line naming the objective."""


@dataclass(frozen=True)
class Budget:
    """When a search stops; the first limit reached wins.

    Attributes:
        trials: Finished trials (done, failed, pruned or cache hits) in this search.
        wall_time_s: Seconds since this run of the loop started.
        target: Stop once the best value reaches it (in the search's direction).
    """

    trials: int | None = None
    wall_time_s: float | None = None
    target: float | None = None

    def __post_init__(self) -> None:
        if self.trials is not None and self.trials < 1:
            raise ValueError(f"budget.trials must be >= 1. Received: trials={self.trials}")
        if self.wall_time_s is not None and not self.wall_time_s > 0:
            raise ValueError(f"budget.wall_time_s must be > 0. Received: wall_time_s={self.wall_time_s}")
        if self.trials is None and self.wall_time_s is None and self.target is None:
            raise ValueError("a budget needs at least one of trials, wall_time_s or target")


@dataclass
class SearchSummary:
    """What :func:`run_search` did."""

    done: int = 0
    failed: int = 0
    pruned: int = 0
    cache_hits: int = 0
    replayed: int = 0
    best: Trial | None = None
    stopped: str = ""
    elapsed_s: float = 0.0
    trial_ids: list[int] = field(default_factory=list)


def _strategy_settings(strategy: Strategy) -> dict[str, Any]:
    """The settings a strategy holds (:func:`hpo.strategies.settings_of` kept as attributes).

    Read from the object, so they are the values in effect (defaults included); a
    setting the strategy passes on without keeping (e.g. to hyperopt) is left out.
    """
    settings: dict[str, Any] = {}
    for name in settings_of(type(strategy)):
        value = getattr(strategy, name, None)
        if not hasattr(strategy, name) or callable(value):
            continue
        try:
            settings[name] = jsonable(value)
        except TypeError:
            continue
    return dict(sorted(settings.items()))


def engine_record(
    strategy: Strategy,
    executor: Executor,
    budget: Budget,
    *,
    seed: int,
    synchronous: bool,
    batch_size: int | None,
    pruner: Pruner | None = None,
    objectives: Sequence[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """What the engine knows of a run, as :func:`run_search` records it in the store (``SearchInfo.engine``).

    Keys: ``strategy`` (its registry name), ``strategy_settings`` (see above), ``space``
    (``Space.to_dict()``), ``executor`` (its name) and ``workers`` (how many), ``synchronous``,
    ``batch_size`` (the proposals per batch in synchronous mode, else None), ``budget`` (the
    limits set), ``seed``; when the search prunes, ``pruner`` (``{"name", "settings"}``), and
    with several objectives, ``objectives`` (``[{"metric", "direction"}, ...]``).
    Reports read these, never the application's configuration.
    """
    record = {
        "strategy": strategy.name or type(strategy).__name__,
        "strategy_settings": _strategy_settings(strategy),
        "space": strategy.space.to_dict(),
        "executor": executor.name or type(executor).__name__,
        "workers": int(executor.n_workers),
        "synchronous": bool(synchronous),
        "batch_size": batch_size if synchronous else None,
        "budget": {k: v for k, v in dataclasses.asdict(budget).items() if v is not None},
        "seed": int(seed),
    }
    if pruner is not None:
        record["pruner"] = {"name": pruner.name, "settings": jsonable(pruner.settings())}
    if objectives:
        record["objectives"] = [{"metric": m, "direction": d} for m, d in objectives]
    return record


def trial_seed(search_seed: int, params: Mapping[str, Any]) -> int:
    """A trial's seed, derived from the search seed and its params (same params, same seed)."""
    digest = hashlib.sha256(f"{int(search_seed)}:{params_hash(params)}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


class _Progress:
    """A tqdm bar (trials done / budget, best so far, failures, cache hits), or nothing."""

    def __init__(self, enabled: bool, total: int | None, initial: int) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc="search", unit="trial", dynamic_ncols=True)

    def update(self, n: int, best: float | None, failed: int, cache_hits: int, pruned: int = 0) -> None:
        if self.bar is None:
            return
        postfix = {"best": f"{best:.4g}" if best is not None else "-", "failed": failed, "cached": cache_hits}
        if pruned:
            postfix["pruned"] = pruned
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Loop:
    def __init__(
        self,
        objective,
        strategy,
        store,
        executor,
        budget,
        seed,
        direction,
        progress,
        warm_start,
        keep_artifacts,
        search_id,
        on_trial,
        pruner=None,
        objectives=None,
    ):
        if direction is not None and direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}. Received: direction={direction!r}")
        self.objectives: list[tuple[str, str]] = _check_objectives(objectives, strategy)
        self.objective, self.strategy, self.store, self.executor = objective, strategy, store, executor
        self.budget, self.seed = budget, seed
        self.warm_start, self.keep_artifacts, self.on_trial = warm_start, keep_artifacts, on_trial
        info = store.get_search(search_id)
        if info is None:
            raise ValueError(f"{store.path} holds no search; call store.create_search(config, seed) first")
        self.search_id = info.id
        self.direction = info.direction if direction is None else direction
        self.summary = SearchSummary()
        self.started = time.monotonic()
        self.running: dict[int, Task] = {}
        self.pruner: Pruner | None = pruner
        self._context: PruningContext | None = None  # the pruning reference, until the next trial finishes
        counts = store.counts(search_id=self.search_id)
        self.finished = sum(counts[s] for s in FINISHED_STATUSES)
        self.pruned_total = counts[PRUNED]
        self.show_progress = progress
        self.progress = _Progress(False, None, 0)
        best = store.best(self.direction, search_id=self.search_id)
        self.best_value = None if best is None else best.value
        self.failed_total, self.cached_total = counts[FAILED], counts["cache_hits"]

    # -- values as the strategy sees them --------------------------------------------------
    def _result(
        self, params: Mapping[str, Any], status: str, value: float | None, metrics: Mapping[str, Any] | None = None
    ) -> Result:
        if status not in (DONE, PRUNED) or value is None:
            return Result(params, None, FAILED)
        if self.objectives:
            values = self.objective_values(value, metrics or {}, strict=status == DONE)
            if values is None:  # a pruned trial that stopped before reporting them all
                return Result(params, None, FAILED)
            return Result(params, status=status, values=values)  # type: ignore[arg-type]
        return Result(params, -value if self.direction == "maximize" else value, status)  # type: ignore[arg-type]

    def objective_values(
        self, value: float, metrics: Mapping[str, Any], *, strict: bool = True
    ) -> tuple[float, ...] | None:
        """A trial's minimised objective values (several objectives): from its metrics, the first from its value.

        A metric the trial did not report stops the search (:class:`ObjectiveError`) when ``strict``,
        else gives None.
        """
        out = []
        for i, (metric, direction) in enumerate(self.objectives):
            raw = value if i == 0 else metrics.get(metric)
            try:
                number = float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                if not strict:
                    return None
                reported = ", ".join(sorted(k for k, v in metrics.items() if isinstance(v, (int, float)))) or "none"
                raise ObjectiveError(
                    f"objective[{i}].metric: {metric!r} is not a metric the trials report; they report: {reported}"
                ) from None
            out.append(-number if direction == "maximize" else number)
        return tuple(out)

    # -- pruning ----------------------------------------------------------------------------
    def _pruning_context(self) -> PruningContext | None:
        """The pruner and its reference from the finished trials' reported values (kept until one finishes)."""
        if self.pruner is None:
            return None
        if self._context is None:
            maximize = self.direction == "maximize"
            peers = peers_of(self.store.reported(search_id=self.search_id), maximize)
            self._context = PruningContext(self.pruner, self.pruner.reference(peers), maximize)
        return self._context

    def _better(self, value: float, than: float | None = None, *, search_best: bool = True) -> bool:
        reference = self.best_value if search_best else than
        if reference is None:
            return True
        return value > reference if self.direction == "maximize" else value < reference

    # -- bookkeeping after a trial finished -------------------------------------------------
    def _record(
        self, trial_id: int, status: str, value: float | None, *, cached: bool = False, replayed: bool = False
    ) -> None:
        self.finished += 1
        self._context = None  # one more peer for the pruner
        self.summary.trial_ids.append(trial_id)
        if replayed:
            self.summary.replayed += 1
        elif cached:
            self.summary.cache_hits += 1
            self.cached_total += 1
        if status == DONE:
            self.summary.done += 1
            if value is not None and self._better(value):
                self.best_value = value
            if value is not None:
                self._offer_artifact(trial_id, value)
                if self.objectives and not cached:
                    self._keep_front_artifacts()
        elif status == PRUNED:
            self.summary.pruned += 1
            if not replayed:
                self.pruned_total += 1
        else:
            self.summary.failed += 1
            if not replayed:
                self.failed_total += 1
        self.progress.update(1, self.best_value, self.failed_total, self.cached_total, self.pruned_total)
        if self.on_trial is not None:
            self.on_trial(self.store.get_trial(trial_id))

    def _offer_artifact(self, trial_id: int, value: float) -> None:
        """Keeps the store's best saved model: the best trial of *any* search whose file exists.

        Export reads it (``best_artifact``, ``best_trial``, ``best_value`` in the store's meta),
        so a later search that only re-finds older trials (cache hits) still exports a model.
        """
        if not self._better(value, self.store.get_meta("best_value"), search_best=False):
            return
        artifact = self.store.get_trial(trial_id).metrics.get("artifact")
        if not artifact or not Path(artifact).is_file():
            return  # e.g. a cache hit of a trial whose model was not kept
        previous, previous_id = self.store.get_meta("best_artifact"), self.store.get_meta("best_trial")
        # One transaction: a kill between the three writes must not pair one model with another's value.
        self.store.update_meta({"best_artifact": artifact, "best_trial": trial_id, "best_value": value})
        # Only the best model is needed for export; the rest would fill the disk. A cache
        # hit's artifact belongs to the trial it copies (maybe in another store): never
        # delete it from here.
        owned = previous_id is not None and not self.store.get_trial(int(previous_id)).cache_hit
        # With several objectives the old best may still be on the Pareto front: _keep_front_artifacts decides.
        if self.keep_artifacts and previous and previous != artifact and owned and not self.objectives:
            Path(previous).unlink(missing_ok=True)

    def _discard_artifact(self, outcome: Outcome) -> None:
        if self.objectives and outcome.status == DONE:
            return  # several objectives: the Pareto front's models are kept (_keep_front_artifacts)
        artifact = outcome.metrics.get("artifact")
        best = self.store.get_meta("best_artifact")
        if artifact and artifact != best and self.keep_artifacts:
            Path(artifact).unlink(missing_ok=True)

    def _keep_front_artifacts(self) -> None:
        """Several objectives: deletes the models of this search's trials that left the Pareto front.

        The best trial of the first objective (what ``export`` takes by default) keeps its model too;
        cache hits never delete what belongs to the trial they copy.
        """
        if not self.keep_artifacts:
            return
        from .pareto import pareto_front

        trials = [t for t in self.store.trials(DONE, search_id=self.search_id) if t.value is not None]
        points, owned = [], []
        for t in trials:
            values = self.objective_values(float(t.value), t.metrics, strict=False)  # type: ignore[arg-type]
            if values is not None:
                points.append(values)
                owned.append(t)
        front = {owned[i].id for i in pareto_front(points)} if points else set()
        keep = {self.store.get_meta("best_artifact")}
        for t in trials:
            artifact = t.metrics.get("artifact")
            if artifact and t.id not in front and artifact not in keep and not t.cache_hit:
                Path(artifact).unlink(missing_ok=True)

    def _complete(self, outcome: Outcome) -> Result:
        """Stores an outcome (durably), then returns the Result to tell."""
        task = self.running.pop(outcome.trial_id)
        ran = {
            "worker": outcome.worker or None,
            "device": outcome.device or None,
            "started": outcome.started or None,
            "ended": outcome.ended or None,
        }
        reported = outcome.intermediate
        if outcome.status == DONE:
            self.store.finish(
                outcome.trial_id, outcome.value, outcome.metrics, outcome.history, ran=ran, intermediate=reported
            )
        elif outcome.status == PRUNED:
            self.store.prune(
                outcome.trial_id, outcome.value, outcome.metrics, outcome.history, ran=ran, intermediate=reported
            )
        else:
            self.store.fail(
                outcome.trial_id,
                outcome.error or "failed",
                outcome.metrics,
                outcome.history,
                ran=ran,
                intermediate=reported,
            )
        if outcome.fatal:
            raise SearchAborted(f"trial {outcome.trial_id} hit a fatal error:\n{outcome.error}")
        status = self.store.get_trial(outcome.trial_id).status
        result = self._result(task.params, status, outcome.value, outcome.metrics)  # a missing objective stops here
        self._record(outcome.trial_id, status, outcome.value)
        self._discard_artifact(outcome)
        return result

    # -- starting trials ----------------------------------------------------------------
    def _cache_source(self, digest: str) -> Trial | None:
        source = self.store.find_done(digest, any_search=True)
        if source is None and self.warm_start is not None:
            source = self.warm_start.find_done(digest, any_search=True)
        return source

    def _launch(
        self, params: dict[str, Any], existing: Trial | None = None, context: PruningContext | None = None
    ) -> tuple[int, Result | None]:
        """Starts one proposal: its trial id, and its Result at once when no training is needed.

        ``context`` is the pruning context to send (synchronous mode: the batch's); by default
        the current one.
        """
        digest = params_hash(params)
        seed = trial_seed(self.seed, params)
        if existing is not None and existing.status in FINISHED_STATUSES:
            self._record(existing.id, existing.status, existing.value, replayed=True)
            return existing.id, self._result(params, existing.status, existing.value, existing.metrics)
        if existing is None:
            source = self._cache_source(digest)
            if source is not None:
                trial_id = self.store.add_cached(params, source, seed, params_hash=digest, search_id=self.search_id)
                self._record(trial_id, DONE, source.value, cached=True)
                return trial_id, self._result(params, DONE, source.value, source.metrics)
            trial_id = self.store.add_trial(params, seed, QUEUED, params_hash=digest, search_id=self.search_id)
        else:
            trial_id = existing.id
            self.store.requeue(trial_id)
        task = Task(trial_id, params, seed, context if context is not None else self._pruning_context())
        self.store.start(trial_id, worker=None, device=None)
        self.running[trial_id] = task
        self.executor.submit(task)
        return trial_id, None

    # -- stopping -------------------------------------------------------------------------
    def _stop_reason(self) -> str:
        b = self.budget
        if b.trials is not None and self.finished >= b.trials:
            return f"trial budget of {b.trials} reached"
        if b.wall_time_s is not None and time.monotonic() - self.started >= b.wall_time_s:
            return f"wall-time budget of {b.wall_time_s:g} s reached"
        if b.target is not None and self.best_value is not None and self._reached(b.target):
            return f"target {b.target:g} reached"
        return ""

    def _reached(self, target: float) -> bool:
        assert self.best_value is not None
        return self.best_value >= target if self.direction == "maximize" else self.best_value <= target

    def _room(self) -> int:
        """How many more trials the trial budget allows to start now."""
        if self.budget.trials is None:
            return self.executor.n_workers
        return max(0, self.budget.trials - self.finished - len(self.running))

    def _check_all_failed(self) -> None:
        if (
            self.summary.done == 0
            and self.summary.failed >= max(3, self.executor.n_workers)
            and self.summary.failed == self.finished - self.summary.replayed
        ):
            last = self.store.trials(FAILED, search_id=self.search_id)[-1]
            last_line = (last.error or "unknown error").strip().splitlines()[-1]
            hint = ""
            if any(word in last_line for word in ("ResourceExhausted", "out of memory", "OOM", "MemoryError")):
                hint = " Out of memory: lower the batch size or the image size, or run fewer trials per GPU."
            raise SearchAborted(
                f"the first {self.summary.failed} trials all failed; stopping. Last error: {last_line} "
                f"(full tracebacks are in the store).{hint}"
            )

    # -- the two modes -----------------------------------------------------------------------
    def _start_progress(self) -> None:
        initial = min(self.finished, self.budget.trials or self.finished)
        self.progress = _Progress(self.show_progress, self.budget.trials, initial)

    def run_async(self) -> None:
        self._start_progress()
        for trial in self.store.finished(search_id=self.search_id):
            self.strategy.tell([self._result(trial.params, trial.status, trial.value, trial.metrics)])
        for trial in self.store.trials((RUNNING, QUEUED, INTERRUPTED), search_id=self.search_id):
            if self.executor.free_slots() == 0:
                break
            self._launch(trial.params, existing=trial)
        while not (reason := self._stop_reason()):
            asked = False
            while self.executor.free_slots() > 0 and self._room() > 0 and not self._stop_reason():
                n = min(self.executor.free_slots(), self._room())
                proposals = self.strategy.ask(n)
                if not proposals:
                    break
                asked = True
                immediate = [r for p in proposals if (r := self._launch(p)[1]) is not None]
                if immediate:
                    self.strategy.tell(immediate)
            if not self.running:
                if not asked:
                    reason = "the strategy has nothing left to propose"
                    break
                continue
            results = [result for result, _ in self._collect()]
            if results:
                self.strategy.tell(results)
                self._check_all_failed()
        self.summary.stopped = reason

    def run_sync(self, batch_size: int) -> None:
        existing = {t.params_hash: t for t in self.store.trials(search_id=self.search_id)}
        # Finished trials are counted again as the replay reaches them.
        self.finished = 0
        self._start_progress()
        while not (reason := self._stop_reason()):
            n = batch_size if self.budget.trials is None else min(batch_size, self.budget.trials - self.finished)
            proposals = self.strategy.ask(n)
            if not proposals:
                reason = "the strategy has nothing left to propose"
                break
            results: dict[int, Result] = {}
            waiting: list[tuple[int, dict[str, Any]]] = list(enumerate(proposals))
            ids: dict[int, int] = {}
            context = self._pruning_context()  # one reference for the whole batch: reproducible
            while waiting or self.running:
                while waiting and self.executor.free_slots() > 0:
                    index, params = waiting.pop(0)
                    trial_id, immediate = self._launch(params, existing.get(params_hash(params)), context)
                    if immediate is not None:
                        results[index] = immediate
                    else:
                        ids[trial_id] = index
                for outcome_result, trial_id in self._collect():
                    results[ids.pop(trial_id)] = outcome_result
            self.strategy.tell([results[i] for i in range(len(proposals))])
            self._check_all_failed()
        self.summary.stopped = reason

    def _collect(self) -> list[tuple[Result, int]]:
        """Waits up to a second for finished trials; stores them; returns (Result, trial id) pairs."""
        pairs = []
        for outcome in self.executor.wait(timeout=1.0):
            pairs.append((self._complete(outcome), outcome.trial_id))
        return pairs

    def batch_size(self, batch_size: int | None) -> int:
        """Proposals per batch in synchronous mode: ``batch_size``, else the strategy's population size, else 4."""
        return batch_size or int(getattr(self.strategy, "population_size", 0) or 4)

    def record(self, metric: str | None, synchronous: bool, batch_size: int | None) -> None:
        """Writes what the engine knows of this run into the search's row (:func:`engine_record`)."""
        record = engine_record(
            self.strategy,
            self.executor,
            self.budget,
            seed=self.seed,
            synchronous=synchronous,
            batch_size=self.batch_size(batch_size) if synchronous else None,
            pruner=self.pruner,
            objectives=self.objectives or None,
        )
        self.store.set_search_engine(record, metric=metric, direction=self.direction, search_id=self.search_id)

    def drive(self, objective: Callable[..., Any], synchronous: bool, batch_size: int | None) -> SearchSummary:
        """Starts the executor, runs the search in its mode, and always closes the executor."""
        self.executor.start(objective)
        try:
            if synchronous:
                self.run_sync(self.batch_size(batch_size))
            else:
                self.run_async()
        except KeyboardInterrupt:
            self.interrupt_running("interrupted: the search stopped while this trial ran")
            self.executor.abort()
            raise
        except SearchAborted:
            self.interrupt_running("interrupted: the search stopped while this trial ran")
            raise
        finally:
            self.executor.close()
            self.progress.close()
            self.summary.elapsed_s = time.monotonic() - self.started
            self.summary.best = self.store.best(self.direction, search_id=self.search_id)
        return self.summary

    def interrupt_running(self, reason: str) -> None:
        """Marks every unfinished trial of the search ``interrupted``.

        Taken from the store, not from ``self.running``: a Ctrl-C can land after a trial was
        written ``queued`` or ``running`` and before the loop recorded it. This driver holds
        the store's writer lock, so every such trial is its own.
        """
        for trial in self.store.trials((RUNNING, QUEUED), search_id=self.search_id):
            self.store.interrupt(trial.id, reason)
        self.running.clear()


def _check_objectives(objectives: Sequence[tuple[str, str]] | None, strategy: Strategy) -> list[tuple[str, str]]:
    """The objectives as ``[(metric, direction), ...]`` (empty for one objective), checked."""
    if objectives is None:
        return []
    out = []
    for i, objective in enumerate(objectives):
        try:
            metric, direction = objective
        except (TypeError, ValueError):
            raise ValueError(f"objectives[{i}] must be a (metric, direction) pair; received {objective!r}") from None
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"objectives[{i}]: the metric must be a non-empty string; received {metric!r}")
        if direction not in DIRECTIONS:
            raise ValueError(f"objectives[{i}]: direction must be one of {DIRECTIONS}; received {direction!r}")
        out.append((metric, direction))
    if len(out) == 1:
        return []  # one objective: the plain search
    if len({m for m, _ in out}) < len(out):
        raise ValueError(f"objectives name a metric twice: {[m for m, _ in out]}")
    if not getattr(strategy, "multi_objective", False):
        raise ValueError(
            f"strategy {strategy.name or type(strategy).__name__!r} optimises one objective; "
            f"{len(out)} objectives need a multi-objective strategy such as 'nsga2'"
        )
    return out


def run_search(
    objective: Callable[..., Any],
    strategy: Strategy,
    store: TrialStore,
    executor: Executor,
    budget: Budget,
    *,
    seed: int = 0,
    direction: str | None = None,
    metric: str | None = None,
    synchronous: bool = False,
    batch_size: int | None = None,
    progress: bool = True,
    warm_start: TrialStore | None = None,
    keep_artifacts: bool = True,
    search_id: int | None = None,
    on_trial: Callable[[Trial], None] | None = None,
    pruner: Pruner | None = None,
    objectives: Sequence[tuple[str, str]] | None = None,
) -> SearchSummary:
    """Runs (or resumes) a search until its budget is spent.

    Args:
        objective: Called in the workers as ``objective(params, seed=..., trial_id=...)``;
            see :mod:`hpo.executors`. A ``metrics["artifact"]`` path (e.g. a saved model)
            is kept for the best trial only (``store.get_meta("best_artifact")``).
        strategy: A fresh strategy built with the search's seed and settings.
        store: The trial store, holding the search (``store.create_search`` first). The search
            takes its writer lock (:meth:`~hpo.store.TrialStore.acquire_lock`) unless it is held
            already, and gives it back at the end if it took it.
        executor: Serial, local pool, ...; started here and closed at the end.
        budget: When to stop.
        seed: The search seed; each trial's seed is :func:`trial_seed` of it. Defaults to `0`.
        direction: ``"minimize"`` or ``"maximize"`` the value. Defaults to the search's
            (``store.create_search(..., direction=)``, itself `"minimize"` by default); given,
            it is recorded as the search's.
        metric: The objective's name, for reports. Defaults to the search's
            (``store.create_search(..., metric=)``, itself `"value"` by default); given, it is
            recorded as the search's.
        synchronous: Batch by batch, reproducible with any executor. Defaults to `False`.
        batch_size: Proposals per batch in synchronous mode. Defaults to the strategy's
            ``population_size`` if it has one, else `4`.
        progress: Show a tqdm progress bar. Defaults to `True`.
        warm_start: Another store whose done trials serve as a cache.
        keep_artifacts: Delete the artifacts of trials that are not the best. Defaults to `True`.
        search_id: Which search of the store. Defaults to the latest.
        on_trial: Called with each finished :class:`~hpo.trial.Trial` (after it is stored).
        pruner: Stops bad trials early from the values they report (:mod:`hpo.pruners`);
            recorded in the engine record. Defaults to `None` (no pruning; reported values
            are still stored).
        objectives: Two or more ``(metric, direction)`` pairs for a multi-objective search
            (see the module); the first is the trial's value, and ``metric``/``direction``
            default to it. The strategy must handle several (``multi_objective = True``).
            Defaults to `None` (one objective).

    Returns:
        A :class:`SearchSummary`.

    Raises:
        SearchAborted: on a fatal trial error, or when the first trials all fail;
            :class:`ObjectiveError` when a trial lacks a metric an objective names.
        ValueError: on bad ``objectives``, or a strategy that optimises one objective given several.
        StoreLocked: another search or resume is writing to the store.
        KeyboardInterrupt: after marking running trials ``interrupted`` (resume re-runs them).

    Before the first trial, the run's :func:`engine_record` (with ``metric`` and ``direction``)
    is written into the search's row of the store, replacing an earlier run's.
    """
    objectives = _check_objectives(objectives, strategy) or None
    if objectives:
        metric = objectives[0][0] if metric is None else metric
        direction = objectives[0][1] if direction is None else direction
    took_lock = store.acquire_lock()
    try:
        loop = _Loop(
            objective,
            strategy,
            store,
            executor,
            budget,
            seed,
            direction,
            progress,
            warm_start,
            keep_artifacts,
            search_id,
            on_trial,
            pruner,
            objectives,
        )
        loop.record(metric, synchronous, batch_size)
        return loop.drive(objective, synchronous, batch_size)
    finally:
        if took_lock:
            store.release_lock()
