"""Several objectives through the loop, the store and the report (the strategy itself: test_nsga2.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo import strategies
from hpo.executors import SerialExecutor
from hpo.loop import Budget, ObjectiveError, run_search
from hpo.report import write_report
from hpo.space import Space
from hpo.store import TrialStore

SPACE = Space.from_dict(
    {"x": {"type": "float", "low": 0.0, "high": 1.0}, "y": {"type": "float", "low": 0.0, "high": 1.0}}
)
# Minimise error = x^2 + y / 4 and maximise speed = x + y / 4: a trade-off along x.
OBJECTIVES = [("error", "minimize"), ("speed", "maximize")]


class Objective:
    """Writes a small 'model' file per trial, so that the loop's artifact keeping can be checked."""

    def __init__(self, folder: Path, report_speed: bool = True) -> None:
        self.folder, self.report_speed = folder, report_speed

    def __call__(self, params, *, seed, trial_id):
        error = params["x"] ** 2 + params["y"] / 4
        speed = params["x"] + params["y"] / 4
        artifact = self.folder / f"trial_{trial_id}.model"
        artifact.write_text(f"{error} {speed}")
        metrics = {"artifact": str(artifact), "n_params": 10.0}
        if self.report_speed:
            metrics["speed"] = speed
        return {"value": error, "metrics": metrics}


def search(path: Path, *, trials=30, strategy="nsga2", objectives=OBJECTIVES, report_speed=True, **kwargs):
    store = TrialStore(path)
    if store.get_search() is None:
        store.create_search({"toy": "two objectives"}, seed=3)
    folder = path.parent / "models"
    folder.mkdir(exist_ok=True)
    result = run_search(
        Objective(folder, report_speed),
        strategies.get(strategy, SPACE, seed=3),
        store,
        SerialExecutor(),
        Budget(trials=trials),
        seed=3,
        progress=False,
        objectives=objectives,
        **kwargs,
    )
    return store, result


def brute_front(store: TrialStore) -> set[int]:
    rows = [(t.id, t.value, t.metrics["speed"]) for t in store.trials("done")]
    return {i for i, e, s in rows if not any((e2 <= e and s2 >= s) and (e2 < e or s2 > s) for _, e2, s2 in rows)}


def test_a_two_objective_search_keeps_the_front_models_and_reports_the_front(tmp_path):
    store, result = search(tmp_path / "s.db")
    assert result.done == 30
    info = store.get_search()
    assert (info.metric, info.direction) == ("error", "minimize")  # the first objective is the trial's value
    assert info.engine["objectives"] == [{"metric": m, "direction": d} for m, d in OBJECTIVES]
    front = brute_front(store)
    assert len(front) >= 3
    # Only the models of the front (and the first objective's best) are kept on disk.
    kept = {int(p.stem.split("_")[1]) for p in (tmp_path / "models").iterdir()}
    assert kept == front | {store.best("minimize").id}
    files = write_report(store, tmp_path / "report")
    markdown = files.markdown.read_text()
    assert f"## Pareto front ({len(front)} trials)" in markdown
    assert "| trial | # | error ↓ | speed ↑ | params |" in markdown
    listed = markdown.split("## Pareto front")[1].split("\n## ")[0]
    assert {
        int(line.split("|")[1]) for line in listed.splitlines() if line.startswith("| ") and "trial" not in line
    } == front
    assert files.plots["pareto"].read_bytes().startswith(b"\x89PNG")


def test_a_resumed_two_objective_search_replays_both_values(tmp_path):
    path = tmp_path / "s.db"
    sync = {"synchronous": True, "batch_size": 6}
    search(path, trials=12, **sync)[0].close()
    store, result = search(path, trials=24, **sync)
    assert result.replayed == 12 and len(store.trials()) == 24
    fresh_store, _ = search(tmp_path / "fresh.db", trials=24, **sync)
    assert [t.params for t in store.trials()] == [t.params for t in fresh_store.trials()]


def test_a_missing_objective_metric_stops_the_search_naming_the_objective(tmp_path):
    with pytest.raises(
        ObjectiveError,
        match=r"^objective\[1\]\.metric: 'speed' is not a metric the trials report; "
        r"they report: n_params$",
    ):
        search(tmp_path / "s.db", report_speed=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "ga_tpe"}, "strategy 'ga_tpe' optimises one objective; 2 objectives need"),
        ({"objectives": [("error", "minimize"), ("error", "maximize")]}, "objectives name a metric twice"),
        ({"objectives": [("error", "minimize"), ("speed", "up")]}, r"objectives\[1\]: direction must be one of"),
        ({"objectives": [("error", "minimize"), "speed"]}, r"objectives\[1\] must be a \(metric, direction\) pair"),
    ],
)
def test_bad_objectives_are_refused_before_any_trial(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        search(tmp_path / "s.db", **kwargs)
    assert TrialStore(tmp_path / "s.db").trials() == []
