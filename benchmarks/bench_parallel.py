"""Parallel speed-up: trials per hour with one and two workers, ours beside Optuna's two ways of going parallel.

Every setting trains the *same* list of filler-CNN params sets (drawn once by
our ``random`` strategy with seed 0; Optuna gets them through
``study.enqueue_trial``), with the same objective (``keras_geo.search.KerasObjective``:
train, evaluate, save the model), so only the way trials are run differs:

* ours, ``local`` executor with 1 and 2 worker processes (``keras-geo-hpo
  search`` with ``executor: {name: local, workers: N}``): each worker is pinned
  to its share of the cores;
* Optuna ``study.optimize(n_jobs=1)`` and ``n_jobs=2`` (two threads in one
  process, Optuna's built-in parallelism);
* Optuna with 2 processes on one SQLite storage (``optuna.load_study`` in each,
  the way Optuna documents multi-process optimisation), TensorFlow's default
  threads in each.

Each setting runs in a fresh process. "Whole job" counts everything from the
process start (interpreter, TensorFlow import, data loading, worker start-up);
"trials" counts from the first trial's start to the last trial's end.

    python benchmarks/bench_parallel.py            # 16 trials per setting (about 10 min on 2 cores)
    python benchmarks/bench_parallel.py --quick    # 6 trials per setting (about 4 min)

Results: ``benchmarks/results/parallel.json`` and ``parallel.png``
(``--quick``: ``parallel_quick.*``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import RESULTS, bench_parser, describe_machine, load_results, pyplot, run_worker, save_results  # noqa: E402

SETTINGS = ("ours_1", "ours_2", "optuna_1", "optuna_threads_2", "optuna_processes_2")
LABELS = {
    "ours_1": "ours, 1 worker",
    "ours_2": "ours, 2 workers",
    "optuna_1": "Optuna, n_jobs=1",
    "optuna_threads_2": "Optuna, n_jobs=2 (threads)",
    "optuna_processes_2": "Optuna, 2 processes, SQLite",
}
BASELINE = {"ours_2": "ours_1", "optuna_threads_2": "optuna_1", "optuna_processes_2": "optuna_1"}


def config(trials: int, workers: int):
    """The demo's filler-CNN configuration at reduced size, random strategy, ``workers`` local workers."""
    from keras_geo.config import load_config

    return load_config(
        HERE.parent / "keras_geo" / "configs" / "filler_ga_tpe.yaml",
        changes={
            "dataset": {"image_size": 32, "n_train": 100, "n_val": 50, "n_test": 50},
            "training": {"epochs": 4},
            "strategy": {"name": "random"},
            "executor": {"name": "local" if workers > 1 else "serial", "workers": workers},
            "budget": {"trials": trials},
        },
    )


def params_list(cfg, trials: int) -> list[dict]:
    """The params sets our random strategy proposes first, with the search's seed."""
    from hpo import strategies
    from hpo.space import Space

    return strategies.get("random", Space.from_dict(cfg.search.space), seed=cfg.search.seed).ask(trials)


def run_ours(workers: int, trials: int, workdir: Path) -> dict:
    """A search through ``keras_geo.search.run``; the trials' start and end times from the store."""
    from hpo.store import TrialStore
    from keras_geo import search

    cfg = config(trials, workers)
    store = TrialStore(workdir / "store.db")
    store.create_search(cfg.to_dict(), seed=cfg.search.seed, metric=cfg.search.metric, direction=cfg.search.direction)
    if workers > 1:
        search.run(store, progress=False, executor=search.make_executor(cfg))
    else:
        search.run(store, progress=False)
    done = [t for t in store.trials() if t.status == "done"]
    return {
        "params": [t.params for t in sorted(done, key=lambda t: t.number)],
        "spans": [(t.started, t.ended) for t in done],
        "failed": len(store.trials()) - len(done),
    }


def run_optuna(mode: str, trials: int, workdir: Path) -> dict:
    """Optuna on the same params sets (enqueued), threads or processes."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = config(trials, 1)
    storage = f"sqlite:///{workdir / 'optuna.db'}"
    study = optuna.create_study(study_name="bench", storage=storage, direction="maximize")
    for params in params_list(cfg, trials):
        study.enqueue_trial(params)
    if mode == "processes_2":
        # Two processes on one storage, each taking half of the queued trials.
        children = [
            subprocess.Popen([sys.executable, __file__, "--optuna-process", storage, str(workdir), str(share)])
            for share in (trials - trials // 2, trials // 2)
        ]
        for child in children:
            child.wait()
    else:
        study.optimize(_optuna_objective(cfg, workdir), n_trials=trials, n_jobs=2 if mode == "threads_2" else 1)
    done = [t for t in optuna.load_study(study_name="bench", storage=storage).trials if t.state.name == "COMPLETE"]
    return {
        "params": [t.params for t in sorted(done, key=lambda t: t.number)],
        "spans": [(t.datetime_start.timestamp(), t.datetime_complete.timestamp()) for t in done],
        "failed": trials - len(done),
    }


def _optuna_objective(cfg, workdir: Path):
    from hpo.space import Space
    from keras_geo.search import KerasObjective

    objective = KerasObjective(cfg, workdir / "models")
    space = Space.from_dict(cfg.search.space)

    def optuna_objective(trial) -> float:
        from common import optuna_params

        params = optuna_params(trial, space)
        from hpo.loop import trial_seed

        return objective(params, seed=trial_seed(cfg.search.seed, params), trial_id=trial.number)["value"]

    return optuna_objective


def optuna_process(storage: str, workdir: str, trials: int) -> None:
    """One of the two Optuna processes: ``trials`` trials of the shared study (taken from its queue)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="bench", storage=storage)
    study.optimize(_optuna_objective(config(trials, 1), Path(workdir)), n_trials=trials)


def worker(setting: str, trials: int) -> dict:
    """Runs one setting in this (fresh) process and returns its times."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if setting.startswith("ours"):
            result = run_ours(int(setting[-1]), trials, workdir)
        else:
            result = run_optuna(setting.removeprefix("optuna_"), trials, workdir)
    return result


def measure(setting: str, trials: int) -> dict:
    """Starts a fresh interpreter for ``setting``; whole-job and trial-span throughput."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        started = time.time()
        result = run_worker(__file__, out.name, "--worker", setting, "--trials", str(trials))
        whole = time.time() - started
    spans = result["spans"]
    span = max(e for _, e in spans) - min(s for s, _ in spans)
    n = len(spans)
    return {
        "setting": setting,
        "trials": n,
        "failed": result["failed"],
        "whole_s": whole,
        "span_s": span,
        "per_hour_whole": 3600 * n / whole,
        "per_hour_trials": 3600 * n / span,
        "mean_trial_s": sum(e - s for s, e in spans) / n,
        "params": result["params"],
    }


def print_table(rows: list[dict]) -> None:
    """Markdown: throughput per setting and the speed-up over the same tool with one worker."""
    by = {r["setting"]: r for r in rows}
    print(
        "\n| setting | trials/hour, whole job | trials/hour, trials only | speed-up (trials only) | "
        "mean trial | whole job | failed |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        base = by.get(BASELINE.get(r["setting"], r["setting"]))
        speedup = f"{r['per_hour_trials'] / base['per_hour_trials']:.2f}x" if base else "-"
        print(
            f"| {LABELS[r['setting']]} | {r['per_hour_whole']:,.0f} | {r['per_hour_trials']:,.0f} | {speedup} | "
            f"{r['mean_trial_s']:.1f} s | {r['whole_s']:.0f} s | {r['failed']} |"
        )


def plot(rows: list[dict], path: Path) -> None:
    """Bars: trials per hour (whole job and trials only) per setting."""
    import numpy as np

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["per_hour_trials"] for r in rows], 0.4, label="trials only")
    ax.bar(x + 0.2, [r["per_hour_whole"] for r in rows], 0.4, label="whole job (start-up included)")
    ax.set_xticks(x, [LABELS[r["setting"]].replace(", ", "\n", 1) for r in rows], fontsize=7)
    ax.set_ylabel("trials per hour")
    ax.set_title("Filler-CNN trials per hour on this machine, same trials everywhere")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = bench_parser(
        __doc__,
        quick="6 trials per setting",
        trials="trials per setting (default 16, quick 6)",
        choices=SETTINGS,
        choice_flag="--settings",
        hidden=("worker", "out"),
    )
    parser.add_argument("--optuna-process", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.optuna_process:
        optuna_process(args.optuna_process[0], args.optuna_process[1], int(args.optuna_process[2]))
        return
    if args.worker:
        Path(args.out).write_text(json.dumps(worker(args.worker, args.trials)))
        return
    name = "parallel_quick" if args.quick else "parallel"
    if args.replot:
        saved = load_results(args.replot)
        print_table(saved["rows"])
        plot(saved["rows"], Path(args.replot).with_suffix(".png"))
        return
    trials = args.trials or (6 if args.quick else 16)
    # The data set is generated once (and cached on disk) before any timing.
    from keras_geo.search import load_data

    load_data(config(trials, 1))
    rows = []
    for setting in args.settings:
        rows.append(measure(setting, trials))
        r = rows[-1]
        print(
            f"{LABELS[setting]}: {r['trials']} trials, {r['per_hour_trials']:,.0f}/h (trials), "
            f"{r['whole_s']:.0f} s whole",
            flush=True,
        )
    same = len({json.dumps(sorted(r["params"], key=json.dumps), sort_keys=True) for r in rows}) == 1
    print(f"\nMachine: {describe_machine()}; every setting trained the same params sets: {same}")
    print_table(rows)
    path = save_results(name, {"trials": trials, "same_params": same, "rows": rows})
    plot(rows, RESULTS / f"{name}.png")
    print(f"\nresults: {path}, plot: {RESULTS / f'{name}.png'}")


if __name__ == "__main__":
    main()
