"""The durable trial store: durability, cache, resume, file checks, JSON only."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from hpo import strategies
from hpo.space import Space, params_hash
from hpo.store import APPLICATION_ID, SCHEMA_VERSION, StoreError, TrialStore

SPACE = Space.from_dict(
    {
        "units": {"type": "int", "low": 8, "high": 64},
        "act": ["relu", "elu"],
        "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    }
)
P1 = {"units": 32, "act": "relu", "lr": 0.001}
P2 = {"units": 16, "act": "elu", "lr": 0.01}


@pytest.fixture()
def path(tmp_path: Path) -> Path:
    return tmp_path / "runs" / "search.sqlite"


@pytest.fixture()
def store(path: Path):
    with TrialStore(path) as st:
        st.create_search({"space": SPACE.to_dict(), "strategy": "ga_tpe"}, seed=42, name="demo")
        yield st


def test_create_and_reopen_durable(path: Path) -> None:
    with TrialStore(path) as st:
        sid = st.create_search({"strategy": "tpe", "budget": 10}, seed=7, name="s")
        t = st.add_trial(P1, seed=101)
        st.start(t, worker="w0", device="GPU:0")
        st.finish(t, 0.25, metrics={"val_acc": 0.9}, history={"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
        st.set_meta("best_model", "runs/best.keras")
    assert st.closed
    with TrialStore(path) as st:  # a new connection
        search = st.get_search()
        assert (search.id, search.name, search.config, search.seed) == (sid, "s", {"strategy": "tpe", "budget": 10}, 7)
        (trial,) = st.trials()
        assert trial.params == P1 and trial.status == "done" and trial.value == 0.25
        assert trial.metrics == {"val_acc": 0.9} and trial.history["val_loss"] == [1.1, 0.7]
        assert (trial.seed, trial.worker, trial.device, trial.number) == (101, "w0", "GPU:0", 0)
        assert trial.started <= trial.ended and trial.duration >= 0
        assert st.get_meta("best_model") == "runs/best.keras" and st.get_meta("missing", 5) == 5
    # ... and with plain sqlite3: JSON text columns, WAL journal, schema version
    raw = sqlite3.connect(path)
    params, metrics = raw.execute("SELECT params, metrics FROM trials").fetchone()
    assert json.loads(params) == P1 and json.loads(metrics) == {"val_acc": 0.9}
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    raw.close()


def test_every_write_is_committed_before_returning(store: TrialStore, path: Path) -> None:
    t = store.add_trial(P1, seed=1)
    store.start(t, "w0", None)
    # A second connection (as after a crash of this process) already sees it.
    with TrialStore(path) as other:
        assert [x.status for x in other.trials()] == ["running"]
    store.finish(t, 0.5)
    with TrialStore(path) as other:
        assert other.get_trial(t).status == "done"


def test_cache_lookup_by_hash(store: TrialStore) -> None:
    t = store.add_trial(P1, seed=1, params_hash=SPACE.params_hash(P1))
    assert store.find_done(SPACE.params_hash(P1)) is None  # not done yet
    store.start(t, "w0", "cpu")
    store.finish(t, 0.3, {"acc": 0.8}, {"loss": [0.4, 0.3]})
    # same params in another key order / int as float -> same key
    hit = store.find_done(SPACE.params_hash({"lr": 0.001, "act": "relu", "units": 32.0}))
    assert hit is not None and hit.id == t and hit.value == 0.3
    assert store.find_done(params_hash(P2)) is None
    c = store.add_cached(P1, hit, seed=2)
    cached = store.get_trial(c)
    assert cached.cache_hit and cached.cached_from == t and cached.status == "done"
    assert cached.value == 0.3 and cached.metrics == {"acc": 0.8} and cached.number == 1
    counts = store.counts()
    assert counts["done"] == 2 and counts["cache_hits"] == 1
    # the default hash of add_trial equals the space's hash for valid params
    assert store.get_trial(t).params_hash == params_hash(P1)


def test_cache_across_searches(path: Path) -> None:
    with TrialStore(path) as st:
        st.create_search({"n": 1}, seed=0)
        t = st.add_trial(P1)
        st.start(t)
        st.finish(t, 1.0)
        second = st.create_search({"n": 2}, seed=0)
        assert st.get_search().id == second
        assert st.find_done(params_hash(P1)) is None  # current search only
        assert st.find_done(params_hash(P1), any_search=True).id == t
        assert [s.config for s in st.searches()] == [{"n": 1}, {"n": 2}]


def test_running_trials_visible_for_resume(path: Path) -> None:
    with TrialStore(path) as st:
        st.create_search({}, seed=0)
        a, b, c = (st.add_trial(p) for p in (P1, P2, {"units": 8, "act": "elu", "lr": 0.1}))
        st.start(a, "w0", "GPU:0")
        st.start(b, "w1", "GPU:1")
        st.finish(a, 0.1)
        # the process "crashes" here: b is running, c queued
    with TrialStore(path) as st:
        running = st.running()
        assert [t.id for t in running] == [b] and running[0].worker == "w1"
        st.requeue(b)
        assert [t.id for t in st.trials("queued")] == [b, c]
        assert st.get_trial(b).worker is None and st.running() == []
        st.start(b, "w0", "GPU:0")
        st.interrupt(b, "KeyboardInterrupt")
        assert st.get_trial(b).status == "interrupted"
        st.requeue(b)
        assert st.counts() == {
            "queued": 2,
            "running": 0,
            "done": 1,
            "failed": 0,
            "interrupted": 0,
            "pruned": 0,
            "cache_hits": 0,
        }


def test_replay_finished_trials_into_a_strategy(store: TrialStore) -> None:
    rng = np.random.default_rng(0)
    for i in range(6):
        p = SPACE.sample(rng)
        t = store.add_trial(p, params_hash=SPACE.params_hash(p))
        store.start(t)
        if i == 2:
            store.fail(t, "Traceback ...: OOM")
        else:
            store.finish(t, float(i))
    finished = store.finished()
    assert [t.status for t in finished].count("failed") == 1
    s = strategies.get("ga_tpe", SPACE, seed=0)
    s.tell([t.to_result() for t in finished])
    assert s.best().value == 0.0 and len(s.results) == 6
    told = {t.params_hash for t in finished}
    assert all(SPACE.params_hash(p) not in told for p in s.ask(4))
    running = store.add_trial(P1)
    store.start(running)
    with pytest.raises(ValueError, match="only finished trials"):
        store.get_trial(running).to_result()


def test_failures_best_and_transitions(store: TrialStore) -> None:
    ids = [
        store.add_trial(p)
        for p in (P1, P2, {"units": 9, "act": "relu", "lr": 0.1}, {"units": 10, "act": "relu", "lr": 0.1})
    ]
    for t in ids:
        store.start(t, "w", None)
    store.finish(ids[0], 0.7)
    store.finish(ids[1], np.float32(0.2), metrics={"acc": np.float64(0.95), "per_class": np.array([0.5, math.nan])})
    store.fail(ids[2], "ValueError: boom")
    store.finish(ids[3], math.nan)  # a NaN objective cannot rank: failed
    assert store.best().id == ids[1] and store.best("maximize").id == ids[0]
    t1 = store.get_trial(ids[1])
    assert t1.metrics == {"acc": 0.95, "per_class": [0.5, None]}  # numpy converted, NaN -> null
    assert store.get_trial(ids[2]).error == "ValueError: boom"
    t3 = store.get_trial(ids[3])
    assert t3.status == "failed" and "non-finite" in t3.error and t3.value is None
    with pytest.raises(StoreError, match="is 'done'"):
        store.finish(ids[0], 0.1)
    with pytest.raises(StoreError, match="no trial"):
        store.start(999)
    with pytest.raises(ValueError):
        store.best("up")
    with pytest.raises(ValueError):
        store.trials("finished")
    assert [t.id for t in store.trials(["done", "failed"])] == ids


def test_store_without_search_and_closed(path: Path) -> None:
    st = TrialStore(path)
    assert st.get_search() is None
    with pytest.raises(StoreError, match="create_search"):
        st.add_trial(P1)
    st.close()
    st.close()
    with pytest.raises(StoreError, match="closed"):
        st.get_meta("x")


def test_not_a_store(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("this is not a database\n" * 50)
    with pytest.raises(StoreError, match="not a keras-geo trial store"):
        TrialStore(text)
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE users (name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a keras-geo trial store"):
        TrialStore(other)
    with pytest.raises(StoreError, match="directory"):
        TrialStore(tmp_path)
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    # An empty file is a store being created by another process at this moment (or one truncated to
    # nothing, which holds nothing to lose): it becomes a store; the CLI then says it holds no search.
    with TrialStore(empty) as st:
        assert st.get_search() is None


def test_newer_schema_is_refused(path: Path) -> None:
    TrialStore(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(StoreError, match="schema version"):
        TrialStore(path)


def test_json_only_no_object_serialisation(store: TrialStore) -> None:
    with pytest.raises(TypeError, match="as JSON"):
        store.set_meta("obj", object())
    # The engine's data path (spaces, hashing, strategies, the store) never
    # serialises Python objects.  (Executors may pickle an objective for
    # inter-process transport; that is not persistence and is not checked here.)
    root = Path(__file__).resolve().parents[2] / "hpo"
    files = [
        root / "__init__.py",
        root / "space.py",
        root / "trial.py",
        root / "store.py",
        *sorted((root / "strategies").glob("*.py")),
    ]
    offenders = []
    for f in files:
        text = f.read_text()
        for bad in (
            "import pickle",
            "from pickle",
            "cloudpickle",
            "pickle.dump",
            "pickle.load",
            "import shelve",
            "marshal.",
        ):
            if bad in text:
                offenders.append(f"{f.name}: {bad}")
    assert offenders == []


def test_the_search_row_keeps_the_objective_and_the_engine_record_apart_from_the_config(path: Path) -> None:
    config = {"objective": {"metric": "val_accuracy", "direction": "maximize"}, "strategy": {"name": "tpe"}}
    with TrialStore(path) as st:
        plain = st.create_search(config, seed=1)
        info = st.get_search(plain)
        # The application's config is kept as it is and never read: defaults, not its nested keys.
        assert (info.config, info.metric, info.direction, info.engine) == (config, "value", "minimize", {})
        named = st.create_search({}, seed=2, metric="val_accuracy", direction="maximize")
        st.set_search_engine({"strategy": "tpe", "workers": 2}, search_id=named)
        assert (st.get_search().metric, st.get_search().direction) == ("val_accuracy", "maximize")
        assert st.get_search().engine == {"strategy": "tpe", "workers": 2}
        st.set_search_engine({"strategy": "ga"}, direction="minimize")  # a record replaces the previous one
    with TrialStore(path) as st:  # durable
        info = st.get_search(named)
        assert (info.metric, info.direction, info.engine) == ("val_accuracy", "minimize", {"strategy": "ga"})
        assert st.get_search(plain).engine == {}
        assert [s.direction for s in st.searches()] == ["minimize", "minimize"]
        with pytest.raises(ValueError, match="direction"):
            st.create_search({}, direction="up")
        with pytest.raises(ValueError, match="metric"):
            st.create_search({}, metric="")
        with pytest.raises(ValueError, match="direction"):
            st.set_search_engine({}, direction="max")
        with pytest.raises(StoreError, match="no search with id 9"):
            st.set_search_engine({}, search_id=9)
        assert len(st.searches()) == 2  # nothing written by the refused calls
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):  # the schema itself refuses another direction
        raw.execute("UPDATE search SET direction = 'sideways'")
    raw.close()
