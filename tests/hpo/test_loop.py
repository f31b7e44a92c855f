"""The search loop: budgets, modes, cache, failures, artifacts (kills and resume: test_faults.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hpo import strategies
from hpo.devices import plan_devices
from hpo.executors import FatalError, LocalExecutor, SerialExecutor
from hpo.loop import Budget, SearchAborted, run_search, trial_seed
from hpo.space import Space
from hpo.store import TrialStore

SPACE = Space.from_dict(
    {"x": {"type": "float", "low": -5.0, "high": 5.0}, "k": {"type": "int", "low": 0, "high": 4}, "c": ["a", "b"]}
)
CALLS: list[dict] = []


def quadratic(params, *, seed, trial_id):
    CALLS.append(dict(params))
    value = (params["x"] - 1.0) ** 2 + params["k"] + (0.5 if params["c"] == "b" else 0.0)
    return {"value": value, "metrics": {"seed": seed}, "history": {"loss": [value + 1, value]}}


def slow_quadratic(params, *, seed, trial_id):
    time.sleep(0.05)
    return quadratic(params, seed=seed, trial_id=trial_id)


def fails_when_k_is_odd(params, *, seed, trial_id):
    if params["k"] % 2:
        raise RuntimeError(f"odd k={params['k']}")
    return quadratic(params, seed=seed, trial_id=trial_id)


def always_fails(params, *, seed, trial_id):
    raise MemoryError("out of memory")


def fatal(params, *, seed, trial_id):
    raise FatalError("dataset path does not exist")


class WritesArtifact:
    def __init__(self, folder):
        self.folder = folder

    def __call__(self, params, *, seed, trial_id):
        path = Path(self.folder) / f"trial{trial_id}.txt"
        path.write_text(str(params))
        return {"value": quadratic(params, seed=seed, trial_id=trial_id)["value"], "metrics": {"artifact": str(path)}}


class WritesBetterArtifacts(WritesArtifact):
    def __call__(self, params, *, seed, trial_id):
        path = Path(self.folder) / f"new{trial_id}.txt"
        path.write_text(str(params))
        return {"value": -1000.0 * trial_id, "metrics": {"artifact": str(path)}}


def search(path, objective=quadratic, *, strategy="random", trials=12, seed=3, executor=None, **kwargs):
    store = TrialStore(path)
    if store.get_search() is None:
        store.create_search({"strategy": strategy}, seed=seed)
    summary = run_search(
        objective,
        strategies.get(strategy, SPACE, seed=seed),
        store,
        executor or SerialExecutor(),
        Budget(trials=trials),
        seed=seed,
        progress=False,
        **kwargs,
    )
    return store, summary


def sequence(store):
    return [(t.params, t.value, t.status) for t in store.trials()]


def test_serial_search_spends_the_budget_and_finds_the_best(tmp_path):
    store, summary = search(tmp_path / "s.db", trials=15)
    trials = store.trials()
    assert len(trials) == 15 and all(t.status == "done" for t in trials)
    assert summary.best.value == min(t.value for t in trials)
    assert summary.stopped == "trial budget of 15 reached"
    # Each trial's seed is derived from the search seed and its params.
    assert all(t.metrics["seed"] == t.seed == trial_seed(3, t.params) for t in trials)
    assert trials[0].history == {"loss": [trials[0].value + 1, trials[0].value]}


def test_same_seed_same_trials_and_other_seed_other_trials(tmp_path):
    first, _ = search(tmp_path / "a.db", strategy="ga", seed=5)
    second, _ = search(tmp_path / "b.db", strategy="ga", seed=5)
    other, _ = search(tmp_path / "c.db", strategy="ga", seed=6)
    assert sequence(first) == sequence(second) != sequence(other)


def test_maximize_tells_the_strategy_the_negated_value(tmp_path):
    store, summary = search(tmp_path / "m.db", strategy="tpe", trials=30, direction="maximize")
    assert summary.best.value == max(t.value for t in store.trials())
    # Maximising pushes x away from 1: the second half is worse for minimisation on average.
    values = [t.value for t in store.trials()]
    assert sum(values[15:]) > sum(values[:15])


@pytest.mark.parametrize("strategy", ["ga", "ga_tpe", "random"])
def test_synchronous_mode_gives_the_serial_trials_with_two_workers(tmp_path, strategy):
    serial, _ = search(tmp_path / "serial.db", strategy=strategy, trials=10, synchronous=True, batch_size=4)
    pool = LocalExecutor(2, devices=plan_devices(2, gpus=[], cores=2))
    parallel, _ = search(
        tmp_path / "pool.db",
        slow_quadratic,
        strategy=strategy,
        trials=10,
        executor=pool,
        synchronous=True,
        batch_size=4,
    )
    assert sequence(serial) == sequence(parallel)
    assert len({t.worker for t in parallel.trials()}) == 2


def test_asynchronous_pool_keeps_both_workers_busy(tmp_path):
    pool = LocalExecutor(2, devices=plan_devices(2, gpus=[], cores=2))
    store, summary = search(tmp_path / "a.db", slow_quadratic, trials=10, executor=pool)
    trials = store.trials()
    assert summary.done == 10 and len({t.worker for t in trials}) == 2
    overlaps = sum(1 for a, b in zip(trials, trials[1:]) if b.started < a.ended)
    assert overlaps >= 3


def test_params_done_before_are_cache_hits_not_retrained(tmp_path):
    path = tmp_path / "c.db"
    search(path, trials=8)
    CALLS.clear()
    store = TrialStore(path)
    store.create_search({"strategy": "random", "again": True}, seed=3)
    summary = run_search(
        quadratic,
        strategies.get("random", SPACE, seed=3),
        store,
        SerialExecutor(),
        Budget(trials=8),
        seed=3,
        progress=False,
    )
    assert CALLS == []
    assert summary.cache_hits == 8 and store.counts()["cache_hits"] == 8
    assert all(t.cache_hit and t.cached_from is not None for t in store.trials())


def test_warm_start_store_serves_as_cache(tmp_path):
    old, _ = search(tmp_path / "old.db", trials=6)
    CALLS.clear()
    _, summary = search(tmp_path / "new.db", trials=10, warm_start=old)
    assert summary.cache_hits == 6 and len(CALLS) == 4


def test_failed_trials_are_recorded_and_the_search_goes_on(tmp_path):
    store, summary = search(tmp_path / "f.db", fails_when_k_is_odd, trials=20)
    failed = store.trials("failed")
    assert failed and summary.failed == len(failed) and summary.done == 20 - len(failed)
    assert all("odd k=" in t.error and t.params["k"] % 2 for t in failed)
    assert summary.best.params["k"] % 2 == 0


def test_a_search_where_every_trial_fails_stops_with_the_error(tmp_path):
    with pytest.raises(SearchAborted, match="all failed.*MemoryError: out of memory"):
        search(tmp_path / "x.db", always_fails, trials=20)


def test_fatal_error_stops_the_search(tmp_path):
    with pytest.raises(SearchAborted, match="dataset path does not exist"):
        search(tmp_path / "x.db", fatal, trials=20)
    assert TrialStore(tmp_path / "x.db").counts()["failed"] == 1


def test_target_budget_stops_early(tmp_path):
    store = TrialStore(tmp_path / "t.db")
    store.create_search({}, seed=0)
    summary = run_search(
        quadratic,
        strategies.get("ga", SPACE, seed=0),
        store,
        SerialExecutor(),
        Budget(trials=200, target=1.0),
        progress=False,
    )
    assert summary.best.value <= 1.0 and summary.stopped == "target 1 reached"
    assert len(store.trials()) < 200


def test_exhausted_strategy_ends_the_search(tmp_path):
    small = Space.from_dict({"k": {"type": "int", "low": 0, "high": 2}, "c": ["a", "b"]})
    store = TrialStore(tmp_path / "g.db")
    store.create_search({}, seed=0)
    summary = run_search(
        lambda p, **_: p["k"], strategies.get("grid", small), store, SerialExecutor(), Budget(trials=50), progress=False
    )
    assert summary.done == 6 and summary.stopped == "the strategy has nothing left to propose"


def test_only_the_best_trials_artifact_is_kept(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    store, summary = search(tmp_path / "a.db", WritesArtifact(str(folder)), trials=12)
    kept = list(folder.iterdir())
    assert [p.name for p in kept] == [f"trial{summary.best.id}.txt"]
    assert store.get_meta("best_artifact") == str(kept[0])


def test_cache_hits_never_delete_the_artifacts_they_copy(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    old, _ = search(tmp_path / "old.db", WritesArtifact(str(folder)), trials=12)
    [old_best] = folder.iterdir()
    # The new search copies the 12 old trials, then trains better ones: its best moves on,
    # and the old store's best model must survive that.
    _, again = search(tmp_path / "new.db", WritesBetterArtifacts(str(folder)), trials=16, warm_start=old)
    assert again.cache_hits == 12 and again.best.value < -100
    assert old_best.exists()
    assert [p.name for p in folder.iterdir() if p != old_best] == [f"new{again.best.id}.txt"]


def test_the_store_keeps_its_best_model_across_searches(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    store, first = search(tmp_path / "s.db", WritesArtifact(str(folder)), trials=12, seed=5)
    best_id = first.best.id
    assert best_id not in first.trial_ids[:3], "pick a seed whose best trial comes later"
    # A second, shorter search in the same store only re-finds the first three trials (cache
    # hits whose models were not kept): the store's best model must stay the first search's.
    store.create_search({"strategy": "random"}, seed=5)
    run_search(
        WritesArtifact(str(folder)),
        strategies.get("random", SPACE, seed=5),
        store,
        SerialExecutor(),
        Budget(trials=3),
        seed=5,
        progress=False,
    )
    assert store.get_meta("best_trial") == best_id and store.get_meta("best_value") == first.best.value
    assert Path(store.get_meta("best_artifact")).is_file()


def test_budget_validation_names_the_field():
    with pytest.raises(ValueError, match="trials"):
        Budget(trials=0)
    with pytest.raises(ValueError, match="at least one"):
        Budget()
