"""Pruning: the three pruners' decisions, and pruned trials through the loop, the store and the report."""

from __future__ import annotations

import math
import sqlite3

import pytest

from hpo import pruners, strategies
from hpo.executors import LocalExecutor, SerialExecutor, Task
from hpo.executors._base import evaluate
from hpo.loop import Budget, run_search
from hpo.pruners import HyperbandPruner, MedianPruner, Peer, PruningContext, SuccessiveHalvingPruner
from hpo.report import format_status, summary, write_report
from hpo.space import Space
from hpo.store import TrialStore
from hpo.trial import Result

SPACE = Space.from_dict({"x": {"type": "float", "low": -4.0, "high": 4.0}, "k": {"type": "int", "low": 0, "high": 3}})
EPOCHS = 8


def curve(params, step: int) -> float:
    """A learning curve: falls from final + 2 towards final = (x - 1)^2 + k (minimised)."""
    final = (params["x"] - 1.0) ** 2 + params["k"]
    return final + 2.0 / step


def objective(params, *, seed, trial_id):
    """Trains EPOCHS steps, reporting each; stops when the pruner says so (returning what it has)."""
    steps = 0
    for step in range(1, EPOCHS + 1):
        steps = step
        if pruners.report(step, curve(params, step)):
            break
    return {"value": curve(params, steps), "metrics": {"steps": steps}}


def raising_objective(params, *, seed, trial_id):
    """The other way to stop: raise TrialPruned."""
    for step in range(1, EPOCHS + 1):
        if pruners.report(step, curve(params, step)):
            raise pruners.TrialPruned()
    return curve(params, EPOCHS)


def search(path, pruner, *, trials=24, executor=None, synchronous=True, fn=objective, seed=5, direction="minimize"):
    store = TrialStore(path)
    if store.get_search() is None:
        store.create_search({"toy": True}, seed=seed, metric="loss", direction=direction)
    summary_ = run_search(
        fn,
        strategies.get("random", SPACE, seed=seed),
        store,
        executor or SerialExecutor(),
        Budget(trials=trials),
        seed=seed,
        synchronous=synchronous,
        batch_size=4,
        progress=False,
        pruner=pruner,
    )
    return store, summary_


def peers(*curves: dict[int, float], seeds=None) -> list[Peer]:
    return [Peer(seed, dict(c)) for seed, c in zip(seeds or range(len(curves)), curves)]


# -- the decisions ------------------------------------------------------------------------------


def test_median_prunes_a_trial_worse_than_the_median_of_its_peers_best_so_far():
    pruner = MedianPruner(n_startup_trials=3, min_epochs=2)
    three = peers({1: 5.0, 2: 4.0, 3: 3.0}, {1: 1.0, 2: 2.0, 3: 0.5}, {1: 3.0, 2: 3.0, 3: 2.5})
    ref = pruner.reference(three)
    # Best so far per peer at step 2: 4, 1, 3 -> median 3; at step 3: 3, 0.5, 2.5 -> 2.5.
    assert ref == {1: 3.0, 2: 3.0, 3: 2.5}
    assert pruner.reference(three[:2]) is None  # fewer than n_startup_trials peers: never prune
    assert not pruner.should_prune({1: 9.0}, 1, ref, 0)  # before min_epochs
    assert pruner.should_prune({1: 9.0, 2: 3.5}, 2, ref, 0)
    assert not pruner.should_prune({1: 9.0, 2: 2.9}, 2, ref, 0)
    assert not pruner.should_prune({1: 2.0, 2: 3.5}, 2, ref, 0)  # its best so far (2.0) is what counts
    assert not pruner.should_prune({1: 9.0, 7: 9.0}, 7, ref, 0)  # a step no peer reached


def test_successive_halving_keeps_the_best_third_at_each_rung():
    pruner = SuccessiveHalvingPruner(reduction_factor=3, min_epochs=1, max_epochs=27)
    assert pruner.rungs() == [1, 3, 9]
    assert SuccessiveHalvingPruner(reduction_factor=2, min_epochs=2, min_early_stopping_rate=1).rungs()[:3] == [
        4,
        8,
        16,
    ]
    ref = pruner.reference(peers(*({1: float(v)} for v in range(8))))  # values 0..7 at rung 1
    assert ref == {1: [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 3: [], 9: []}
    # With 9 values (8 peers and itself), the top 3 go on: a value below the third best (2.0).
    assert not pruner.should_prune({1: 1.5}, 1, ref, 0)
    assert pruner.should_prune({1: 2.5}, 1, ref, 0)
    assert not pruner.should_prune({1: 9.0, 2: 9.0}, 2, ref, 0)  # not a rung
    # Too few values to rank: it goes on only while it is the best of them.
    assert not pruner.should_prune({3: 1.0}, 3, ref, 0)
    short = pruner.reference(peers({1: 1.0}))
    assert pruner.should_prune({1: 2.0}, 1, short, 0) and not pruner.should_prune({1: 0.5}, 1, short, 0)


def test_hyperband_brackets_are_drawn_from_the_seed_with_hyperbands_weights():
    pruner = HyperbandPruner(reduction_factor=3, min_epochs=1, max_epochs=27)
    assert pruner.n_brackets == 4 and pruner.weights == [27, 12, 6, 4]
    assert [pruner.rungs(s) for s in range(4)] == [[1, 3, 9], [3, 9], [9], []]
    counts = [0] * 4
    for seed in range(4900):
        counts[pruner.bracket(seed)] += 1
    assert counts == [2700, 1200, 600, 400]
    # A trial competes only with the peers of its bracket.
    seed_0 = next(s for s in range(100) if pruner.bracket(s) == 0)
    seed_3 = next(s for s in range(100) if pruner.bracket(s) == 3)
    ref = pruner.reference(peers({1: 0.0}, {1: 0.1}, {1: 0.2}, seeds=[seed_3, seed_3, seed_3]))
    assert ref[0] == {1: [], 3: [], 9: []} and ref[3] == {}
    assert not pruner.should_prune({1: 5.0}, 1, ref, seed_0)  # no peer in bracket 0
    ref = pruner.reference(peers({1: 0.0}, {1: 0.1}, {1: 0.2}, seeds=[seed_0] * 3))
    assert pruner.should_prune({1: 5.0}, 1, ref, seed_0)
    assert not pruner.should_prune({27: 5.0}, 27, ref, seed_3)  # the last bracket trains in full


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MedianPruner(min_epochs=5, max_epochs=3), r"pruner\.min_epochs \(5\) must be <= pruner\.max_epochs"),
        (lambda: MedianPruner(min_epochs=0), r"pruner\.min_epochs must be an integer >= 1"),
        (lambda: MedianPruner(n_startup_trials=-1), r"pruner\.n_startup_trials"),
        (lambda: SuccessiveHalvingPruner(reduction_factor=1), r"pruner\.reduction_factor must be an integer >= 2"),
        (lambda: SuccessiveHalvingPruner(reduction_factor=2.5), r"pruner\.reduction_factor"),
        (lambda: HyperbandPruner(min_epochs=2), r"pruner\.max_epochs is required by hyperband"),
        (lambda: pruners.get("asha"), r"pruner\.name must be one of \['hyperband', 'median', 'successive_halving'\]"),
        (lambda: pruners.get("median", eta=3), r"pruner\.eta is not a setting of the median pruner"),
    ],
)
def test_impossible_pruner_settings_are_refused_naming_the_key(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_the_reporter_negates_a_maximised_metric_and_stops_on_a_non_finite_value():
    pruner = MedianPruner(n_startup_trials=1)
    ref = pruner.reference(pruners.peers_of([(0, [[1, 0.8]])], maximize=True))  # accuracy 0.8 -> -0.8
    assert ref == {1: -0.8}
    worse = pruners.Reporter(context=PruningContext(pruner, ref, maximize=True))
    assert worse.report(1, 0.7) and worse.pruned  # accuracy 0.7 < 0.8
    better = pruners.Reporter(context=PruningContext(pruner, ref, maximize=True))
    assert not better.report(1, 0.9)
    assert better.report(2, float("nan")) and better.values == [(1, 0.9), (2, pytest.approx(math.nan, nan_ok=True))]
    with pytest.raises(ValueError, match="a reported step must be an integer >= 1"):
        better.report(0, 1.0)
    assert not pruners.report(1, 1.0)  # outside a trial: nothing to say


def test_a_task_without_a_pruner_records_what_it_reports_and_is_never_pruned():
    outcome = evaluate(objective, Task(1, {"x": 3.0, "k": 3}, 0))
    assert outcome.status == "done" and outcome.metrics["steps"] == EPOCHS
    assert outcome.intermediate == [(s, curve({"x": 3.0, "k": 3}, s)) for s in range(1, EPOCHS + 1)]


# -- through the loop and the store -------------------------------------------------------------


@pytest.mark.parametrize("pruner", [MedianPruner(n_startup_trials=4), SuccessiveHalvingPruner(max_epochs=EPOCHS)])
def test_a_pruned_search_trains_fewer_steps_and_keeps_the_best_trial(tmp_path, pruner):
    plain, plain_summary = search(tmp_path / "plain.db", None)
    pruned, pruned_summary = search(tmp_path / "pruned.db", pruner)
    # Same seed, same strategy: the same 24 params sets are proposed (random search ignores values).
    assert [t.params for t in plain.trials()] == [t.params for t in pruned.trials()]
    statuses = [t.status for t in pruned.trials()]
    assert plain_summary.pruned == 0 and pruned_summary.pruned == statuses.count("pruned") >= 6
    assert pruned_summary.done + pruned_summary.pruned == 24  # pruned trials count against the budget
    steps = sum(t.metrics["steps"] for t in pruned.trials())
    assert steps < 0.75 * sum(t.metrics["steps"] for t in plain.trials())
    # The pruner never stopped the best trial, and a pruned trial is never the best.
    assert pruned.best().params == plain.best().params and pruned.best().status == "done"
    for t in pruned.trials("pruned"):
        assert t.metrics["steps"] < EPOCHS and len(t.intermediate) == t.metrics["steps"]
        assert t.value == pytest.approx(t.intermediate[-1][1])  # told with its last reported value
        assert t.to_result().pruned and t.to_result().ok
    assert all(len(t.intermediate) == EPOCHS for t in pruned.trials("done"))
    info = pruned.get_search()
    assert info.engine["pruner"] == {"name": pruner.name, "settings": pruner.settings()}
    assert "pruner" not in plain.get_search().engine


def test_pruned_trials_are_counted_listed_and_drawn_in_the_report(tmp_path):
    store, _ = search(tmp_path / "s.db", MedianPruner(n_startup_trials=4))
    n = store.counts()["pruned"]
    assert n > 0
    figures = summary(store)
    assert figures["counts"]["pruned"] == n and figures["counts"]["finished"] == 24 == figures["counts"]["total"]
    assert f"{n} pruned" in format_status(figures)
    files = write_report(store, tmp_path / "report")
    markdown = files.markdown.read_text()
    assert f"## Pruned trials ({n})" in markdown
    assert "| pruner | median (n_startup_trials=4, min_epochs=1) |" in markdown
    assert "curves" in files.plots and files.plots["curves"].read_bytes().startswith(b"\x89PNG")


def test_a_trial_may_raise_trial_pruned(tmp_path):
    store, result = search(tmp_path / "s.db", MedianPruner(n_startup_trials=4), fn=raising_objective)
    pruned = store.trials("pruned")
    assert pruned and result.pruned == len(pruned)
    assert all(t.value == pytest.approx(t.intermediate[-1][1]) for t in pruned)


def test_a_maximised_metric_is_pruned_the_right_way_round(tmp_path):
    def accuracy(params, *, seed, trial_id):  # higher is better: 1 / (1 + loss)
        steps = 0
        for step in range(1, EPOCHS + 1):
            steps = step
            if pruners.report(step, 1.0 / (1.0 + curve(params, step))):
                break
        return 1.0 / (1.0 + curve(params, steps))

    store, _ = search(tmp_path / "max.db", MedianPruner(n_startup_trials=4), fn=accuracy, direction="maximize")
    done, pruned = store.trials("done"), store.trials("pruned")
    assert pruned and store.best("maximize").status == "done"
    # Pruned trials were the worse ones: the median pruned accuracy is below the median kept accuracy.
    median = lambda values: sorted(values)[len(values) // 2]  # noqa: E731
    assert median([t.value for t in pruned]) < median([t.value for t in done])


def test_sync_pruning_is_the_same_with_one_or_two_workers(tmp_path):
    serial, _ = search(tmp_path / "serial.db", MedianPruner(n_startup_trials=4), trials=16)
    with LocalExecutor(2) as pool:
        pooled, _ = search(tmp_path / "pool.db", MedianPruner(n_startup_trials=4), trials=16, executor=pool)

    def key(store):
        return [(t.params, t.status, t.value, t.intermediate) for t in store.trials()]

    assert key(serial) == key(pooled) and "pruned" in {t.status for t in serial.trials()}


def test_resume_never_reruns_a_pruned_trial_and_replays_it(tmp_path):
    path = tmp_path / "s.db"
    store, first = search(path, MedianPruner(n_startup_trials=4), trials=12)
    pruned_ids = {t.id for t in store.trials("pruned")}
    assert pruned_ids
    store.close()
    store, second = search(path, MedianPruner(n_startup_trials=4), trials=20)
    assert second.replayed == 12 and len(store.trials()) == 20
    assert {t.id for t in store.trials("pruned")} >= pruned_ids
    assert second.pruned - sum(1 for t in store.trials("pruned") if t.id in pruned_ids) == len(
        store.trials("pruned")
    ) - len(pruned_ids)


def test_a_pruned_trial_is_never_a_cache_hit(tmp_path):
    store = TrialStore(tmp_path / "s.db")
    store.create_search({}, seed=0)
    params = {"x": 0.5, "k": 1}
    trial = store.add_trial(params)
    store.start(trial)
    store.prune(trial, 3.0, {"steps": 2}, intermediate=[(1, 4.0), (2, 3.0)])
    assert store.find_done(SPACE.params_hash(params), any_search=True) is None
    # A later search that proposes the same params trains them (a full training), no cache hit.
    store.create_search({}, seed=0)
    result = run_search(
        objective,
        _FixedStrategy(SPACE, [params]),
        store,
        SerialExecutor(),
        Budget(trials=1),
        progress=False,
    )
    assert result.cache_hits == 0 and result.done == 1
    assert store.trials()[0].metrics["steps"] == EPOCHS and store.get_trial(trial).status == "pruned"


class _FixedStrategy(strategies.Strategy):
    """Proposes the given params sets in order."""

    def __init__(self, space, proposals):
        super().__init__(space, seed=0)
        self._queue = list(proposals)

    def _ask(self, n):
        out, self._queue = self._queue[:n], self._queue[n:]
        return out

    def _tell(self, results: list[Result]) -> None:
        pass


def test_a_version_2_store_upgrades_to_take_pruned_trials(tmp_path):
    # A store of schema version 2: today's schema without 'pruned' in the CHECK and without the column.
    path = tmp_path / "v2.db"
    with TrialStore(path) as store:
        store.create_search({}, seed=0)
        done = store.add_trial({"x": 1.0, "k": 0})
        store.start(done)
        store.finish(done, 1.0)
        store.add_cached({"x": 1.0, "k": 0}, store.get_trial(done))
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA foreign_keys=OFF")
    raw.execute("ALTER TABLE trials DROP COLUMN intermediate")
    table = raw.execute("SELECT sql FROM sqlite_master WHERE name='trials'").fetchone()[0]
    raw.execute("PRAGMA writable_schema=ON")
    raw.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'trials'", (table.replace(",'pruned')", ")"),))
    raw.execute("PRAGMA writable_schema=OFF")
    raw.execute("PRAGMA user_version=2")
    raw.commit()
    raw.close()
    with TrialStore(path) as store:
        assert [t.intermediate for t in store.trials()] == [[], []]  # read as it is, nothing written
        assert store.reported() == []
        trial = store.add_trial({"x": 2.0, "k": 1})  # the first write upgrades it
        store.start(trial)
        store.prune(trial, 2.5, intermediate=[(1, 2.5)])
        assert store.get_trial(trial).status == "pruned" and store.get_trial(trial).intermediate == [[1, 2.5]]
        cached = store.trials()[1]
        assert cached.cache_hit and cached.cached_from == done
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 3
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    raw.close()
