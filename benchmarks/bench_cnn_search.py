"""Search efficiency on a real CNN search: our strategies beside Optuna and Keras Tuner.

The search is the demo's (``keras_geo/configs/filler_ga_tpe.yaml``): the filler CNN
with its conditional space (``units`` and ``dropout`` exist only when
``dense_layers > 0``), at reduced size so that one trial takes a few seconds on
a CPU: 32 x 32 images, 100 training, 50 validation and 100 test images per
class, 4 epochs of batches of 8 (the config's 32 would give too few steps to
learn anything in 4 epochs). A trial takes a few seconds on 2 cores, half of
it building and tracing the model (so a trial of 1 epoch is not 4 times cheaper
than one of 4). Only the search algorithm differs between tools:

* every tool samples the same :class:`hpo.space.Space` (``benchmarks/common.py``
  translates it into Optuna's and Keras Tuner's ways of sampling);
* every trial is the same function: :func:`keras_geo.training.train` with the
  config's fixed model and training arguments, seeded by
  :func:`hpo.loop.trial_seed` of the run's seed and the params, so a params set
  trains to the same accuracy whichever tool proposed it;
* one trial at a time in this process; the score is the validation accuracy
  (maximised), and the test accuracy of the best trial is reported beside it;
* each seed runs every tool in turn (starting one tool further on each seed),
  so a change in the machine's load slows all tools alike.

The tools, at their defaults unless said:

* ours (``hpo.loop.run_search``, serial executor, a throw-away store):
  ``random``, ``tpe``, ``ga``, ``ga_tpe`` (``population_size: 6`` as in the
  demo). The last three start from the same 10 Latin-hypercube points for a
  given seed, so they coincide for 10 trials. A params set proposed twice is
  not trained again: the loop takes the stored value (a cache hit, counted as a
  trial and as a duplicate).
* Optuna ``TPESampler`` (in-memory study).
* Keras Tuner ``RandomSearch``, ``BayesianOptimization`` and ``Hyperband``
  oracles behind one ``Tuner`` whose ``run_trial`` calls the shared trainer.
  Bayesian optimisation starts with 10 random trials, as the TPEs do (its default,
  3 per dimension, would be 24: the whole budget); after them each of its
  proposals costs seconds to tens of seconds on 2 cores (L-BFGS-B restarts on its
  Gaussian process's UCB), which the wall-time axis shows. Hyperband trains each trial for
  its ``tuner/epochs`` (max = the epochs above, factor 3), from scratch rather than
  from the previous round's checkpoint, and runs until it has trained as many
  epochs as the others (trials x epochs): its trials are more and shorter, so
  compare it on the wall-time axis, not the trial axis.

Measures: best validation accuracy so far against the trial number and against
wall time since the search began (the tools' own overheads included), median
over seeds.

    python benchmarks/bench_cnn_search.py            # 3 seeds, 20 trials, 8 tools (about 45 min on 2 idle cores)
    python benchmarks/bench_cnn_search.py --quick    # 1 seed, 5 trials (about 4 min): a smoke test
    python benchmarks/bench_cnn_search.py --tools ga_tpe optuna_tpe --seeds 2 --trials 12

``--quick`` has fewer trials than the 10 start-up trials of the model-based
tools, so they all search without a model yet: it checks that every tool runs,
not which one searches best.

Results: ``benchmarks/results/cnn_search.json`` and ``cnn_search.png``;
``--quick`` writes ``cnn_search_quick.*``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    RESULTS,
    bench_parser,
    describe_machine,
    keras_tuner_params,
    load_results,
    optuna_params,
    pyplot,
    save_results,
)

from hpo.loop import trial_seed
from hpo.space import Space, params_hash

CONFIG = Path(__file__).resolve().parents[1] / "keras_geo" / "configs" / "filler_ga_tpe.yaml"
OURS = ("random", "tpe", "ga", "ga_tpe")
PEERS = ("optuna_tpe", "kt_random", "kt_bayes", "kt_hyperband")
TOOLS = OURS + PEERS
LABELS = {
    "random": "ours random",
    "tpe": "ours TPE",
    "ga": "ours GA",
    "ga_tpe": "ours GA+TPE",
    "optuna_tpe": "Optuna TPE",
    "kt_random": "KT RandomSearch",
    "kt_bayes": "KT BayesianOpt",
    "kt_hyperband": "KT Hyperband",
}
OUR_SETTINGS = {"ga_tpe": {"population_size": 6}}
STARTUP_TRIALS = 10  # start-up trials before a model guides the search (ours, Optuna TPE and KT BO alike)
HYPERBAND_FACTOR = 3
DATA = {"n_train": 100, "n_val": 50, "n_test": 100}  # images per class
TRAINING = {"epochs": 4, "batch_size": 8}  # overrides the config's training settings
RUNS = {"full": {"seeds": 3, "trials": 20}, "quick": {"seeds": 1, "trials": 5}}


# --------------------------------------------------------------------------- #
# the one trial function, and what a run records
# --------------------------------------------------------------------------- #
class Trainer:
    """Trains the filler CNN for a params set: the trial of every tool.

    Args:
        config: The validated demo configuration (fixed model args, training settings).
        data: ``{"train": (x, y), "val": ..., "test": ...}``.
        class_names: The class names, in label order.
    """

    def __init__(self, config: Mapping[str, Any], data: Mapping[str, Any], class_names: tuple[str, ...]) -> None:
        self.builder = config.model.builder
        self.fixed = {**config.model.fixed, **config.training}
        self.data, self.class_names = data, class_names

    def __call__(self, params: Mapping[str, Any], seed: int, epochs: int | None = None) -> dict[str, Any]:
        """Validation and test accuracy, epochs trained, parameter count and seconds; ``value`` None (and no
        ``n_params``) if training diverged."""
        from keras_geo import training

        merged = {**self.fixed, **params}
        if epochs is not None:
            merged["epochs"] = int(epochs)
        started = time.perf_counter()
        try:
            result = training.train(self.builder, self.data, merged, seed=seed, class_names=self.class_names)
        except training.TrainingDiverged:
            return {
                "value": None,
                "test_accuracy": None,
                "epochs": int(merged["epochs"]),
                "seconds": time.perf_counter() - started,
            }
        return {
            "value": float(result.metrics["val_accuracy"]),
            "test_accuracy": float(result.metrics["test_accuracy"]),
            "epochs": int(result.metrics["epochs"]),
            "n_params": int(result.metrics["n_params"]),
            "seconds": time.perf_counter() - started,
        }


class Recorder:
    """Collects one run's trials in order: value, test accuracy, epochs, end time since start, duplicate."""

    def __init__(self) -> None:
        self.trials: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.started = time.perf_counter()

    def add(self, params: Mapping[str, Any], outcome: Mapping[str, Any], *, key: str | None = None) -> None:
        """Records a finished trial; ``key`` identifies a repeat (default: the params' hash)."""
        key = key or params_hash(params)
        self.trials.append(
            {
                "value": outcome.get("value"),
                "test_accuracy": outcome.get("test_accuracy"),
                "epochs": outcome.get("epochs"),
                "t": time.perf_counter() - self.started,
                "duplicate": key in self.seen,
                "params": dict(params),
            }
        )
        self.seen.add(key)


# --------------------------------------------------------------------------- #
# the tools
# --------------------------------------------------------------------------- #
def run_ours(
    name: str,
    space: Space,
    train: Trainer,
    seed: int,
    trials: int,
    settings: Mapping[str, Any] | None = None,
) -> Recorder:
    """Our strategy ``name`` through the search loop (serial executor, store in a temporary folder);
    ``settings`` are the strategy's (default: :data:`OUR_SETTINGS`)."""
    from hpo import strategies
    from hpo.executors import SerialExecutor
    from hpo.loop import Budget, run_search
    from hpo.store import TrialStore

    outcomes: dict[int, dict[str, Any]] = {}  # trial id -> what the trainer returned

    def objective(params: dict[str, Any], *, seed: int, trial_id: int) -> dict[str, Any]:
        outcome = train(params, seed)
        outcomes[trial_id] = outcome
        if outcome["value"] is None:
            raise RuntimeError("the training diverged")
        return {"value": outcome["value"], "metrics": {k: outcome[k] for k in ("test_accuracy", "epochs")}}

    recorder = Recorder()
    with tempfile.TemporaryDirectory() as folder:
        store = TrialStore(Path(folder) / "trials.db")
        store.create_search({"tool": name, "space": space.to_dict()}, seed=seed, name=name)
        settings = OUR_SETTINGS.get(name, {}) if settings is None else settings
        strategy = strategies.get(name, space, seed=seed, **settings)

        def on_trial(trial) -> None:
            # A cache hit trains nothing (no epochs); its test accuracy is the stored trial's.
            outcome = {**trial.metrics, "epochs": 0} if trial.cache_hit else outcomes.get(trial.id, {})
            recorder.add(trial.params, {**outcome, "value": trial.value})

        run_search(
            objective,
            strategy,
            store,
            SerialExecutor(),
            Budget(trials=trials),
            seed=seed,
            direction="maximize",
            progress=False,
            on_trial=on_trial,
        )
        store.close()
    return recorder


def run_optuna(space: Space, train: Trainer, seed: int, trials: int) -> Recorder:
    """An in-memory Optuna study with ``TPESampler(seed=seed)``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    recorder = Recorder()

    def objective(trial) -> float:
        params = optuna_params(trial, space)
        outcome = train(params, trial_seed(seed, params))
        recorder.add(params, outcome)
        return float("nan") if outcome["value"] is None else outcome["value"]  # NaN: a failed trial

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    return recorder


def run_keras_tuner(name: str, space: Space, train: Trainer, seed: int, trials: int) -> Recorder:
    """A Keras Tuner oracle (``kt_random``, ``kt_bayes``, ``kt_hyperband``) behind a Tuner that runs ``train``."""
    import keras_tuner

    objective = keras_tuner.Objective("val_accuracy", "max")
    max_epochs = int(train.fixed["epochs"])
    kt_seed = seed + 1  # Keras Tuner reads seed 0 as "no seed" and draws a random one
    if name == "kt_random":
        oracle = keras_tuner.oracles.RandomSearchOracle(objective=objective, max_trials=trials, seed=kt_seed)
    elif name == "kt_bayes":
        oracle = keras_tuner.oracles.BayesianOptimizationOracle(
            objective=objective, max_trials=trials, num_initial_points=STARTUP_TRIALS, seed=kt_seed
        )
    else:
        # As many iterations as it takes; run_trial stops it at the others' epoch budget.
        oracle = keras_tuner.oracles.HyperbandOracle(
            objective=objective, max_epochs=max_epochs, factor=HYPERBAND_FACTOR, hyperband_iterations=None, seed=kt_seed
        )
    epoch_budget = trials * max_epochs
    recorder = Recorder()

    class SpaceModel(keras_tuner.HyperModel):
        """Declares the space to the oracle (all conditional branches); builds no model."""

        def build(self, hp):
            keras_tuner_params(hp, space)

    class SharedTrainerTuner(keras_tuner.Tuner):
        def run_trial(self, trial, *args, **kwargs):
            hp = trial.hyperparameters
            params = keras_tuner_params(hp, space)
            epochs = hp.values.get("tuner/epochs")
            outcome = train(params, trial_seed(seed, params), epochs=epochs)
            recorder.add(params, outcome, key=f"{params_hash(params)}@{epochs}")
            if name == "kt_hyperband" and sum(t["epochs"] for t in recorder.trials) >= epoch_budget:
                self.oracle.max_trials = len(self.oracle.trials)  # the next trial is refused: stop
            if outcome["value"] is None:
                raise keras_tuner.errors.FailedTrialError("the training diverged")
            return {"val_accuracy": outcome["value"]}

    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tuner = SharedTrainerTuner(oracle, hypermodel=SpaceModel(), directory=folder, project_name=name, overwrite=True)
        tuner.search(verbose=0)
    return recorder


def one_run(tool: str, space: Space, train: Trainer, seed: int, trials: int) -> dict[str, Any]:
    """Runs ``tool`` once; its trials in order and the seconds the search took."""
    started = time.perf_counter()
    if tool in OURS:
        recorder = run_ours(tool, space, train, seed, trials)
    elif tool == "optuna_tpe":
        recorder = run_optuna(space, train, seed, trials)
    else:
        recorder = run_keras_tuner(tool, space, train, seed, trials)
    return {"tool": tool, "seed": seed, "trials": recorder.trials, "seconds": time.perf_counter() - started}


# --------------------------------------------------------------------------- #
# summaries, table, plot
# --------------------------------------------------------------------------- #
def best_so_far(values: list[float | None]) -> np.ndarray:
    """Running maximum of the values (a failed trial, None, counts as nothing found)."""
    return np.maximum.accumulate(np.array([-np.inf if v is None else v for v in values], dtype=float))


def best_at_times(run: Mapping[str, Any], grid: np.ndarray) -> np.ndarray:
    """A run's best value at each time of ``grid`` (NaN before its first trial ended; held after its end)."""
    ends = np.array([t["t"] for t in run["trials"]])
    best = best_so_far([t["value"] for t in run["trials"]])
    index = np.searchsorted(ends, grid, side="right") - 1
    return np.where(index >= 0, best[np.maximum(index, 0)], np.nan)


def summarise(runs: list[dict[str, Any]], trials: int) -> dict[str, Any]:
    """Per tool: medians over seeds at the checkpoints, times, epochs, duplicates, and the curves to plot."""
    checkpoints = sorted({c for c in (5, 10, trials) if c <= trials})
    out: dict[str, Any] = {}
    for tool in TOOLS:
        mine = [r for r in runs if r["tool"] == tool]
        if not mine:
            continue
        curves = [best_so_far([t["value"] for t in r["trials"]]) for r in mine]
        length = min(len(c) for c in curves)
        at = {str(c): float(np.median([curve[min(c, len(curve)) - 1] for curve in curves])) for c in checkpoints}
        tests = []
        for r in mine:  # test accuracy of the trial with the best validation accuracy
            done = [t for t in r["trials"] if t["value"] is not None]
            if done:
                tests.append(max(done, key=lambda t: t["value"])["test_accuracy"])
        end = float(np.median([r["trials"][-1]["t"] for r in mine]))
        grid = np.linspace(0.0, max(r["trials"][-1]["t"] for r in mine), 200)
        timed = np.array([best_at_times(r, grid) for r in mine])
        # A plain median: NaN until every seed has finished a trial, so the curve never steps
        # down when a late seed's first value joins the others.
        time_curve = np.median(timed, axis=0)
        out[tool] = {
            "best_at": at,
            "best_final": float(np.median([c[-1] for c in curves])),
            "test_of_best": float(np.median(tests)) if tests else None,
            "seconds": float(np.median([r["seconds"] for r in mine])),
            "seconds_per_trial": float(np.mean([r["seconds"] / len(r["trials"]) for r in mine])),
            "trials": float(np.median([len(r["trials"]) for r in mine])),
            "epochs": float(np.median([sum(t["epochs"] or 0 for t in r["trials"]) for r in mine])),
            "duplicates": int(sum(t["duplicate"] for r in mine for t in r["trials"])),
            "failed": int(sum(t["value"] is None for r in mine for t in r["trials"])),
            "end_s": end,
            "trial_curve": np.median([c[:length] for c in curves], axis=0).tolist(),
            "time_grid": grid.tolist(),
            "time_curve": [None if np.isnan(v) else float(v) for v in time_curve],
        }
    return out


def print_table(summary: Mapping[str, Any], trials: int, seeds: int) -> None:
    """Markdown table: median best validation accuracy at the checkpoints and at the end of the run (they
    differ for Hyperband only), test accuracy of the best trial, times, epochs, duplicates, failures."""
    checkpoints = list(next(iter(summary.values()))["best_at"])
    head = " | ".join(f"best val @{c}" for c in checkpoints)
    print(f"\nMedians over {seeds} seed(s), {trials} trials (Hyperband: the same epochs, its own trial count)\n")
    print(
        f"| tool | {head} | best val, end | test acc. of best | wall time (s) | s/trial | trials | epochs "
        "| duplicates | failed |"
    )
    print("|---|" + "---|" * (len(checkpoints) + 9))
    for tool, s in summary.items():
        cells = " | ".join(f"{s['best_at'][c]:.3f}" for c in checkpoints)
        test = f"{s['test_of_best']:.3f}" if s["test_of_best"] is not None else "-"
        print(
            f"| {LABELS[tool]} | {cells} | {s['best_final']:.3f} | {test} | {s['seconds']:.0f} | "
            f"{s['seconds_per_trial']:.2f} | "
            f"{s['trials']:.0f} | {s['epochs']:.0f} | {s['duplicates']} | {s['failed']} |"
        )


def plot(summary: Mapping[str, Any], seeds: int, path: Path) -> None:
    """Two panels: median best validation accuracy against trials, and against wall time."""
    plt = pyplot()
    fig, (by_trial, by_time) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.get_cmap("tab10").colors
    for i, (tool, s) in enumerate(summary.items()):
        ours = tool in OURS
        # Our model-based strategies share their random start-up trials, so their curves
        # coincide at first: each is drawn thinner than the one before, to stay visible.
        style = {
            "color": colors[i % len(colors)],
            "linewidth": 3.5 - 0.6 * i if ours else 1.3,
            "linestyle": "-" if ours else ":" if tool == "kt_hyperband" else "--",
        }
        curve = np.asarray(s["trial_curve"])
        by_trial.step(np.arange(1, len(curve) + 1), curve, where="post", label=LABELS[tool], **style)
        grid = np.asarray(s["time_grid"])
        values = np.array([np.nan if v is None else v for v in s["time_curve"]])
        keep = grid <= s["end_s"]  # up to the median end of the tool's runs
        by_time.plot(grid[keep], values[keep], drawstyle="steps-post", label=LABELS[tool], **style)
    by_trial.set_xlabel("trial")
    by_trial.set_title("against trials (Hyperband's trials are shorter)", fontsize=9)
    by_time.set_xlabel("wall time since the search began (s)")
    by_time.set_title("against wall time", fontsize=9)
    for ax in (by_trial, by_time):
        ax.set_ylabel("best validation accuracy so far")
        ax.axhline(1 / 3, color="k", linewidth=0.5)
        ax.grid(alpha=0.3)
    by_trial.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Filler CNN search, median over {seeds} seed(s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# --------------------------------------------------------------------------- #
def load_problem() -> tuple[dict[str, Any], Space, Trainer]:
    """The demo configuration at reduced size, its space, and the shared trainer (data loaded)."""
    from keras_geo.config import load_config
    from keras_geo.search import load_data

    config = load_config(CONFIG, changes={"dataset": DATA, "training": TRAINING})
    data = load_data(config)  # generated once, then read from the disk cache
    return config, Space.from_dict(config.search.space), Trainer(config, data, data.class_names)


def warm_up(tools: list[str], space: Space, train: Trainer) -> None:
    """Imports every tool's library and trains one throw-away model, so that no timed run pays for that."""
    from hpo import strategies

    for tool in tools:
        if tool in OURS:
            strategies.get(tool, space, seed=0, **OUR_SETTINGS.get(tool, {})).ask(1)
    if "optuna_tpe" in tools:
        import optuna  # noqa: F401
    if any(tool.startswith("kt_") for tool in tools):
        import keras_tuner  # noqa: F401
    train(space.sample(0), seed=0)


def main() -> None:
    parser = bench_parser(
        __doc__, quick="1 seed, 5 trials", trials="trials per run (default 20, quick 5)", choices=TOOLS
    )
    parser.add_argument("--seeds", type=int, help="seeds per tool (default 3, quick 1)")
    args = parser.parse_args()
    if args.replot:
        saved = load_results(args.replot)
        print_table(saved["summary"], saved["trials"], saved["seeds"])
        plot(saved["summary"], saved["seeds"], Path(args.replot).with_suffix(".png"))
        return
    name = "cnn_search_quick" if args.quick else "cnn_search"
    seeds = args.seeds or RUNS["quick" if args.quick else "full"]["seeds"]
    trials = args.trials or RUNS["quick" if args.quick else "full"]["trials"]

    config, space, train = load_problem()
    warm_up(args.tools, space, train)
    started = time.perf_counter()
    runs = []
    for seed in range(seeds):
        # Every tool in turn within a seed, starting one further on each seed: a change in
        # the machine's load hits all tools alike.
        shift = seed % len(args.tools)
        for tool in args.tools[shift:] + args.tools[:shift]:
            run = one_run(tool, space, train, seed, trials)
            runs.append(run)
            best = max((t["value"] for t in run["trials"] if t["value"] is not None), default=float("nan"))
            print(
                f"seed {seed} {LABELS[tool]:16s} {len(run['trials']):3d} trials in {run['seconds']:6.1f} s, "
                f"best val {best:.3f}",
                flush=True,
            )
    elapsed = time.perf_counter() - started

    summary = summarise(runs, trials)
    print(f"\nMachine: {describe_machine()}; {len(runs)} runs in {elapsed:.0f} s")
    print(
        f"Data: filler, FOV {config.dataset.settings['fov_nm']:g} nm, {config.dataset.settings['image_size']} px, "
        f"{DATA['n_train']}/{DATA['n_val']}/{DATA['n_test']} images per class (train/val/test); "
        f"{TRAINING['epochs']} epochs, batch {TRAINING['batch_size']}"
    )
    print_table(summary, trials, seeds)
    protocol = {
        "config": str(CONFIG.relative_to(CONFIG.parents[2])),
        "dataset": config.to_dict()["dataset"],
        "training": config.training,
        "model": config.to_dict()["model"],
        "space": config.search.space,
        "our_settings": OUR_SETTINGS,
        "startup_trials": STARTUP_TRIALS,
        "hyperband": {
            "max_epochs": TRAINING["epochs"],
            "factor": HYPERBAND_FACTOR,
            "epoch_budget": trials * TRAINING["epochs"],
        },
    }
    path = save_results(
        name,
        {
            "trials": trials,
            "seeds": seeds,
            "tools": args.tools,
            "protocol": protocol,
            "elapsed_s": elapsed,
            "summary": summary,
            "runs": runs,
        },
    )
    plot(summary, seeds, RESULTS / f"{name}.png")
    print(f"\nresults: {path}, plot: {RESULTS / f'{name}.png'}")


if __name__ == "__main__":
    main()
