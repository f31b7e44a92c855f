"""Stores of schema version 1 (written by the previous release) open, read and upgrade in place.

``data/store_v1.db`` was written by the previous release's code (see ``data/make_store_v1.py``),
and ``data/store_v1.json`` holds what that code's ``hpo.report.summary`` said of it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hpo import _migrations, strategies
from hpo.executors import SerialExecutor
from hpo.loop import Budget, run_search
from hpo.report import summary, write_report
from hpo.space import Space
from hpo.store import SCHEMA_VERSION, TrialStore

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = DATA.parents[1]
EXPECTED = json.loads((DATA / "store_v1.json").read_text())
V1_ENGINE = {
    "strategy": "ga_tpe",
    "strategy_settings": {"population_size": 6},
    "executor": "local",
    "workers": 2,
    "synchronous": True,
    "budget": {"trials": 6},
    "seed": 7,
}


@pytest.fixture()
def v1(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    shutil.copyfile(DATA / "store_v1.db", path)
    return path


def version(path: Path) -> int:
    raw = sqlite3.connect(path)
    try:
        return raw.execute("PRAGMA user_version").fetchone()[0]
    finally:
        raw.close()


def search_columns(path: Path) -> list[tuple]:
    raw = sqlite3.connect(path)
    try:
        return [tuple(r) for r in raw.execute("PRAGMA table_info(search)")]
    finally:
        raw.close()


def schema(path: Path) -> dict[str, str]:
    """Every table and index of the file, its SQL with the spacing normalised."""
    raw = sqlite3.connect(path)
    try:
        rows = raw.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    finally:
        raw.close()
    return {name: re.sub(r"\s*([(),])\s*", r"\1", " ".join(sql.split())) for name, sql in rows}


def check_v1_search(store: TrialStore) -> None:
    """The fixture's search, as today's code must see it whether or not the file was upgraded."""
    info = store.get_search(1)
    assert (info.id, info.name, info.seed) == (1, "v1-fixture", 7)
    assert (info.metric, info.direction) == ("val_accuracy", "maximize")
    space = info.engine.pop("space")
    assert info.engine == V1_ENGINE
    assert Space.from_dict(space).to_dict() == Space.from_dict(info.config["space"]).to_dict()
    assert info.config["objective"] == {"metric": "val_accuracy", "direction": "maximize"}  # the config is kept
    trials = store.trials(search_id=1)
    assert [t.status for t in trials] == ["done", "done", "failed", "done", "running"]
    assert trials[3].cache_hit and trials[3].cached_from == 2 and trials[3].value == 0.83
    best = store.best(info.direction, search_id=1)
    assert (best.id, best.number, best.value, best.params) == (
        EXPECTED["best_trial_id"],
        EXPECTED["best_number"],
        EXPECTED["best_value"],
        EXPECTED["best_params"],
    )
    expected_counts = {k: v for k, v in EXPECTED["counts"].items() if k not in ("total", "finished")}
    expected_counts["pruned"] = 0  # a status since version 3
    assert store.counts(search_id=1) == expected_counts


def test_a_version_1_store_is_read_as_the_old_code_read_it_and_reading_writes_nothing(v1: Path, tmp_path: Path):
    before = hashlib.sha256(v1.read_bytes()).hexdigest()
    with TrialStore(v1) as store:
        check_v1_search(store)
        figures = summary(store)
        # What the old code's report said; the status 'pruned' is counted since version 3.
        assert figures["counts"].pop("pruned") == 0
        assert {k: figures[k] for k in EXPECTED} == EXPECTED
        files = write_report(store, tmp_path / "report")
        markdown = files.markdown.read_text()
        assert "Best val_accuracy: 0.83** — trial 2" in markdown
        assert "1 unfinished (no driver holds the store" in markdown
        assert "| strategy_settings | population_size=6 |" in markdown
        assert "| objective.direction | maximize |" in markdown  # the config, shown as it is
        assert "generations.png" in {p.name for p in files.plots.values()}
    assert version(v1) == 1 and "engine" not in {c[1] for c in search_columns(v1)}
    assert hashlib.sha256(v1.read_bytes()).hexdigest() == before


def test_the_writer_upgrades_a_version_1_store_in_place_to_the_schema_of_a_new_store(v1: Path, tmp_path: Path):
    with TrialStore(v1) as store:
        store.acquire_lock()  # a driver takes the store: it upgrades it at once
        assert version(v1) == SCHEMA_VERSION
        check_v1_search(store)
    fresh = tmp_path / "fresh.db"
    TrialStore(fresh).close()
    assert search_columns(v1) == search_columns(fresh)
    assert schema(v1) == schema(fresh)
    raw = sqlite3.connect(v1)
    assert raw.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    metric, direction = raw.execute("SELECT metric, direction FROM search").fetchone()
    raw.close()
    assert (metric, direction) == ("val_accuracy", "maximize")

    # The upgraded store takes new searches, and runs them.
    with TrialStore(v1) as store:
        check_v1_search(store)
        sid = store.create_search({"anything": True}, seed=0, metric="loss")
        space = Space.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
        run_search(
            lambda p, **_: (p["x"] - 0.3) ** 2,
            strategies.get("random", space, seed=0),
            store,
            SerialExecutor(),
            Budget(trials=4),
            progress=False,
        )
        assert [s.id for s in store.searches()] == [1, sid]
        info = store.get_search(sid)
        assert (info.metric, info.direction, info.engine["strategy"], info.engine["budget"]) == (
            "loss",
            "minimize",
            "random",
            {"trials": 4},
        )
        assert store.counts(search_id=sid)["done"] == 4
        check_v1_search(store)  # the old search is untouched


def test_any_first_write_upgrades_and_a_connection_opened_before_still_reads_and_writes(v1: Path):
    reader = TrialStore(v1)  # opened while the file is version 1
    writer = TrialStore(v1)
    try:
        sid = writer.create_search({}, seed=0, direction="maximize")  # no lock taken: the write upgrades
        assert version(v1) == SCHEMA_VERSION
        assert reader.get_search().direction == "maximize" and reader.get_search(1).metric == "val_accuracy"
        reader.set_search_engine({"strategy": "grid"}, search_id=sid)  # its own upgrade finds nothing left to do
        assert writer.get_search(sid).engine == {"strategy": "grid"}
        with TrialStore(v1) as third:
            check_v1_search(third)
    finally:
        reader.close()
        writer.close()


def test_a_failed_upgrade_leaves_the_version_1_store_as_it_was(v1: Path, monkeypatch):
    before = hashlib.sha256(v1.read_bytes()).hexdigest()
    upgrade_v1 = _migrations._STEPS[1]

    def fails_at_the_end(c):
        upgrade_v1(c)  # every statement ran; the commit has not
        raise OSError("disk full")

    monkeypatch.setitem(_migrations._STEPS, 1, fails_at_the_end)
    with TrialStore(v1) as store:
        with pytest.raises(OSError, match="disk full"):
            store.create_search({}, seed=0)
        check_v1_search(store)
    assert version(v1) == 1 and len(search_columns(v1)) == 5
    assert hashlib.sha256(v1.read_bytes()).hexdigest() == before
    monkeypatch.setitem(_migrations._STEPS, 1, upgrade_v1)
    with TrialStore(v1) as store:  # the next write upgrades it
        store.create_search({}, seed=0)
        assert version(v1) == SCHEMA_VERSION and len(store.searches()) == 2


KILLED_UPGRADE = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, sys.argv[2])
    from hpo import _migrations
    from hpo.store import TrialStore

    upgrade_v1 = _migrations._STEPS[1]

    def killed(c):
        upgrade_v1(c)
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9 after the statements, before the COMMIT

    _migrations._STEPS[1] = killed
    TrialStore(sys.argv[1]).acquire_lock()
    """
)


def test_a_driver_killed_during_the_upgrade_leaves_a_version_1_store_that_upgrades_later(v1: Path):
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_UPGRADE, str(v1), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr
    with TrialStore(v1) as store:  # opens (quick_check passes), still version 1, reads as before
        check_v1_search(store)
        assert version(v1) == 1
        store.acquire_lock()
        assert version(v1) == SCHEMA_VERSION
        check_v1_search(store)


def test_the_version_1_reading_of_both_config_layouts():
    nested = {
        "objective": {"metric": "val_accuracy", "direction": "maximize"},
        "strategy": {"name": "ga", "settings": {"population_size": 4}},
        "executor": {"name": "local", "workers": 3},
        "mode": "sync",
        "batch_size": None,
        "dataset": {"name": "filler"},
    }
    metric, direction, engine = _migrations.v1_search_fields(nested)
    assert (metric, direction) == ("val_accuracy", "maximize")
    assert engine == {
        "strategy": "ga",
        "strategy_settings": {"population_size": 4},
        "executor": "local",
        "workers": 3,
        "synchronous": True,
    }
    flat = {"strategy": "tpe", "direction": "maximize", "metric": "loss", "workers": 2, "budget": 9, "space": {}}
    assert _migrations.v1_search_fields(flat) == (
        "loss",
        "maximize",
        {"strategy": "tpe", "workers": 2, "budget": 9, "space": {}},
    )
    assert _migrations.v1_search_fields({"executor": {"name": "serial", "workers": 4}})[2]["workers"] == 1
    assert _migrations.v1_search_fields({"direction": "sideways"})[:2] == ("value", "minimize")
    assert _migrations.v1_search_fields(["not", "a", "mapping"]) == ("value", "minimize", {})
