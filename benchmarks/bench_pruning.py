"""Pruning on the filler-CNN search: the same wall-clock budget with and without a pruner.

The search is the demo's (``keras_geo/configs/filler_ga_tpe.yaml``: the filler CNN, its
conditional space, GA+TPE), run by keras-geo itself (``keras_geo.search.run``) with
one serial worker, so that the arms differ only in the pruner:

* ``none``: every trial trains its 6 epochs (early stopping with patience 2, as configured);
* ``median``: :class:`hpo.pruners.MedianPruner` (5 start-up trials, checks from epoch 1);
* ``successive_halving``: ASHA, reduction factor 3, rungs at epochs 1 and 3;
* ``hyperband``: brackets {rungs 1, 3} and {no rung}, reduction factor 3.

Each arm gets the same wall-clock budget per seed (``--budget`` seconds, trials
unlimited); each seed runs the arms in turn, starting one arm further on each
seed, so a change in the machine's load slows every arm alike. Recorded per
run: the best validation accuracy and that trial's test accuracy, trials
finished and pruned, and the epochs trained (the compute the budget bought).
Optuna's pruning benchmarks show what to expect: more trials in the same time,
and a best value at least as good once the search has enough trials to rank.

    python benchmarks/bench_pruning.py            # 3 seeds x 4 arms x 240 s (about 50 min on 2 idle cores)
    python benchmarks/bench_pruning.py --quick    # 1 seed x 4 arms x 60 s: a smoke test

Results: ``benchmarks/results/pruning.json`` and ``pruning.png``; ``--quick`` writes
``pruning_quick.*``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, bench_parser, describe_machine, load_results, pyplot, save_results

CONFIG = Path(__file__).resolve().parents[1] / "keras_geo" / "configs" / "filler_ga_tpe.yaml"
ARMS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "median": {"name": "median", "min_epochs": 1, "settings": {"n_startup_trials": 5}},
    "successive_halving": {"name": "successive_halving", "min_epochs": 1, "settings": {"reduction_factor": 3}},
    "hyperband": {"name": "hyperband", "min_epochs": 1, "settings": {"reduction_factor": 3}},
}
RUNS = {"full": {"seeds": 3, "budget": 240.0}, "quick": {"seeds": 1, "budget": 60.0}}


def run_arm(arm: str, seed: int, budget_s: float, workdir: Path) -> dict[str, Any]:
    """One search of the demo config under ``arm``'s pruner; what it reached in ``budget_s`` seconds."""
    from hpo.store import TrialStore
    from keras_geo.config import load_config
    from keras_geo.search import open_store, run

    overrides: dict[str, Any] = {
        "seed": seed,
        "store": str(workdir / f"{arm}_{seed}" / "store.db"),
        "executor": {"name": "serial"},
        "budget": {"trials": None, "wall_time_s": budget_s},
    }
    if ARMS[arm] is not None:
        overrides["pruner"] = ARMS[arm]
    config = load_config(CONFIG, changes=overrides)
    store = open_store(config)
    started = time.perf_counter()
    try:
        summary = run(store, progress=False, config=config)
    finally:
        store.close()
    elapsed = time.perf_counter() - started
    with TrialStore(config.search.store) as reader:
        trials = reader.trials()
        best = reader.best("maximize")
        curve = [
            (
                t.ended - trials[0].started,
                max(x.value for x in trials[: i + 1] if x.status == "done" and x.value is not None),
            )
            for i, t in enumerate(trials)
            if t.ended is not None and any(x.status == "done" for x in trials[: i + 1])
        ]
    return {
        "arm": arm,
        "seed": seed,
        "elapsed_s": elapsed,
        "trials": len(trials),
        "done": summary.done,
        "pruned": summary.pruned,
        "failed": summary.failed,
        "epochs_trained": sum(len(t.intermediate) for t in trials),
        "best_val_accuracy": None if best is None else best.value,
        "best_test_accuracy": None if best is None else best.metrics.get("test_accuracy"),
        "best_so_far": curve,
    }


def table(results: dict[str, Any]) -> str:
    """The Markdown table: median [min, max] over seeds per arm."""
    rows = [
        "| arm | best val. accuracy | its test accuracy | trials (pruned) | epochs trained |",
        "|---|---|---|---|---|",
    ]

    def spread(values: list[float], fmt: str) -> str:
        if not values:
            return "-"
        return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}, {max(values):{fmt}}]"

    for arm in ARMS:
        runs = [r for r in results["runs"] if r["arm"] == arm]
        if not runs:
            continue
        val = [r["best_val_accuracy"] for r in runs if r["best_val_accuracy"] is not None]
        test = [r["best_test_accuracy"] for r in runs if r["best_test_accuracy"] is not None]
        trials = statistics.median(r["trials"] for r in runs)
        pruned = statistics.median(r["pruned"] for r in runs)
        epochs = statistics.median(r["epochs_trained"] for r in runs)
        rows.append(f"| {arm} | {spread(val, '.3f')} | {spread(test, '.3f')} | {trials:g} ({pruned:g}) | {epochs:g} |")
    return "\n".join(rows)


def plot(results: dict[str, Any], path: Path) -> None:
    """Best validation accuracy so far against wall time, one line per run, one colour per arm."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    colours = dict(zip(ARMS, ("#7f7f7f", "#1f77b4", "#2ca02c", "#d62728")))
    labelled = set()
    for run in results["runs"]:
        if not run["best_so_far"]:
            continue
        xs, ys = zip(*run["best_so_far"])
        label = run["arm"] if run["arm"] not in labelled else None
        labelled.add(run["arm"])
        ax.step(xs, ys, where="post", color=colours[run["arm"]], alpha=0.8, label=label)
    ax.set_xlabel("wall time since the search began (s)")
    ax.set_ylabel("best validation accuracy so far")
    ax.set_title(f"Filler-CNN search, {results['budget_s']:g} s per run, with and without pruning")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> int:
    parser = bench_parser(
        __doc__, quick="1 seed x 60 s per arm (a smoke test)", choices=tuple(ARMS), choice_flag="--arms"
    )
    parser.add_argument("--seeds", type=int, help="seeds per arm")
    parser.add_argument("--budget", type=float, help="wall-clock seconds per run")
    args = parser.parse_args()
    name = "pruning_quick" if args.quick else "pruning"
    if args.replot:
        results = load_results(args.replot)
    else:
        run = RUNS["quick" if args.quick else "full"]
        seeds, budget = args.seeds or run["seeds"], args.budget or run["budget"]
        results = {"budget_s": budget, "seeds": seeds, "arms": list(args.arms), "runs": []}
        with tempfile.TemporaryDirectory(prefix="bench_pruning_") as tmp:
            for seed in range(seeds):
                order = list(args.arms)
                order = order[seed % len(order) :] + order[: seed % len(order)]
                for arm in order:
                    result = run_arm(arm, seed, budget, Path(tmp))
                    results["runs"].append(result)
                    print(
                        f"seed {seed} {arm:>18}: best val {result['best_val_accuracy']}, "
                        f"{result['trials']} trials ({result['pruned']} pruned), {result['epochs_trained']} epochs",
                        flush=True,
                    )
                    save_results(name, results)  # partial results survive an interrupted run
    path = save_results(name, results)
    plot(results, RESULTS / f"{name}.png")
    print(describe_machine(results.get("machine")))
    print(table(results))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
