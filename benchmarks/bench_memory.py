"""Worker memory over a search of small Keras trials: ours beside Keras Tuner and Optuna.

Protocol. Every tool runs the same search of small filler-CNN trials (the demo
configuration's space, ``keras_geo/configs/filler_ga_tpe.yaml``, with its fixed model
arguments ``pooling: max, head: avg``; 1 epoch, batch 32, filler data at 500 nm,
32 px, 60/30/30 images per class, about 1-2 s a trial on 2 cores) and we read the
resident set size (RSS, ``psutil``) of the process that trains, after every trial:

* ``ours_serial`` -- ours in one process, never recycled: ``hpo.loop.run_search``
  with the serial executor, the durable SQLite store and the GA+TPE strategy,
  running :class:`keras_geo.search.KerasObjective` (what our workers run: it also
  saves each trial's model as a ``.keras`` artifact; the loop keeps the best one).
  RSS of this very process after each trial (the ``on_trial`` callback).
* ``ours_local`` -- the same search on the local pool (``hpo.executors.LocalExecutor``)
  with 1 worker recycled every 20 trials (its default ``max_trials_per_worker``).
  The worker's own RSS is read in the worker at the end of each trial (the driver
  could not: after a worker's last trial it is already replaced by a fresh one);
  the driver's RSS is read too.
* ``keras_tuner`` -- a ``keras_tuner.Tuner`` with ``RandomSearchOracle`` (seed 0,
  trial state on disk in a temporary folder) whose ``run_trial`` trains.
* ``optuna`` -- an in-memory study with ``TPESampler(seed=0)``; the objective trains
  and then calls ``keras.backend.clear_session()``, as Optuna's Keras examples do.

The training function is shared: every tool calls :func:`keras_geo.training.train`,
which starts each trial with ``training.reset_state``: it drops the entries that
finished models left in TensorFlow's gradient registry (each traced train step
registers a ``CustomGradient-N`` function whose closure holds the graph, so without
this neither of the next two can free a model), then
``keras.backend.clear_session(free_memory=True)`` and ``gc.collect()``. So every peer
gets that clean-up per trial, whatever its default (Keras Tuner clears the session itself only in its own
build path, ``Tuner._try_build``, which a ``run_trial`` override bypasses): what differs
between the tools is their own machinery (stores, trial records, artifacts, oracles).

Reference runs, not in the default list, show where memory goes:

* ``train_only`` -- no search tool at all: a loop that calls ``train`` on points
  sampled from the space (the floor any tool can reach with this training function).
* ``train_only_noclear`` -- the same with ``reset_state``'s clean-up (registry,
  ``clear_session``, ``gc.collect``) taken out, seeding kept: what the clean-up buys.
* ``ours_serial_noartifact`` -- ``ours_serial`` with an objective that trains but
  saves no model (what the ``.keras`` artifacts cost).

Each tool runs in its own fresh interpreter, one after the other, so one tool's
memory never counts for another. Per tool we report RSS after trial 1, 10 and N,
its maximum, the growth from trial 10 (after the warm-up: TensorFlow's first
graphs, kernels and thread pools) to N and from 1 to N, and the slope of a least-
squares line through trials 10..N in MB per 100 trials. Goal: worker memory
growth at most 50 MB over 100 trials.

    python benchmarks/bench_memory.py             # 100 trials per tool (about 20 min on 2 cores)
    python benchmarks/bench_memory.py --quick     # 30 trials per tool (about 3 min)
    python benchmarks/bench_memory.py --tools ours_serial train_only train_only_noclear

Results: ``benchmarks/results/memory.json`` and ``memory.png`` (``--quick``:
``memory_quick.*``).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import (  # noqa: E402
    RESULTS,
    bench_parser,
    describe_machine,
    keras_tuner_params,
    load_results,
    optuna_params,
    pyplot,
    run_worker,
    save_results,
)

TOOLS = ("ours_serial", "ours_local", "keras_tuner", "optuna")
REFERENCES = ("train_only", "train_only_noclear", "ours_serial_noartifact")
LABELS = {
    "ours_serial": "ours, one process, no recycling",
    "ours_local": "ours, local worker (recycled every 20)",
    "keras_tuner": "Keras Tuner (random)",
    "optuna": "Optuna TPE + clear_session",
    "train_only": "train() alone, no search tool",
    "train_only_noclear": "train() alone, no reset_state clean-up",
    "ours_serial_noartifact": "ours, one process, no artifacts",
}
GOAL_MB = 50.0
WARMUP = 10  # trials before the growth is measured (TensorFlow's first graphs and pools)
RECYCLE = 20  # the local executor's default max_trials_per_worker
SPACE_CONFIG = HERE.parent / "keras_geo" / "configs" / "filler_ga_tpe.yaml"  # the demo
DATASET = {"name": "filler", "fov_nm": 500, "image_size": 32, "n_train": 60, "n_val": 30, "n_test": 30, "seed": 0}
TRAINING = {"epochs": 1, "batch_size": 32}
MB = 2**20


# --------------------------------------------------------------------------- #
# measuring
# --------------------------------------------------------------------------- #
def rss_mb() -> float:
    """This process's resident set size, MB."""
    import psutil

    return psutil.Process().memory_info().rss / MB


def peak_mb() -> float:
    """This process's peak resident set size so far, MB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sample() -> dict[str, float]:
    """One reading after a trial: RSS, peak RSS so far, and the clock."""
    return {"rss_mb": rss_mb(), "peak_mb": peak_mb(), "t": time.perf_counter()}


class RssReporting:
    """Wraps an objective so that each trial reports its worker's RSS in its metrics.

    Read in the worker after the wrapped objective returned (the trial's model is out
    of scope then), because the driver cannot read a worker that retired after its
    last trial. Picklable when the wrapped objective is.
    """

    def __init__(self, objective: Any) -> None:
        self.objective = objective

    def setup(self, device: Any) -> None:
        """Passes the per-worker set-up on."""
        setup = getattr(self.objective, "setup", None)
        if callable(setup):
            setup(device)

    def __call__(self, params: dict[str, Any], *, seed: int, trial_id: int) -> dict[str, Any]:
        out = self.objective(params, seed=seed, trial_id=trial_id)
        out["metrics"].update({"worker_rss_mb": rss_mb(), "worker_peak_mb": peak_mb(), "worker_pid": os.getpid()})
        return out


# --------------------------------------------------------------------------- #
# the tools (each in its own process: ``--worker TOOL``)
# --------------------------------------------------------------------------- #
def demo_space():
    """The demo configuration's search space."""
    from hpo.space import Space

    return Space.from_dict(demo_config(1, ".").search.space)


def demo_config(trials: int, workdir: str, executor: str = "serial"):
    """A validated configuration for our search: the demo's space and strategy, the small data set."""
    from keras_geo.config import load_config

    return load_config(
        SPACE_CONFIG,
        changes={
            "name": "bench-memory",
            "seed": 0,
            "store": str(Path(workdir) / "store.db"),
            "dataset": DATASET,
            "training": TRAINING,
            "objective": {"metric": "val_accuracy", "direction": "maximize"},
            "executor": {"name": executor, "workers": 1, "max_trials_per_worker": RECYCLE},
            "budget": {"trials": trials},
        },
    )


class PlainObjective:
    """Trains like :class:`keras_geo.search.KerasObjective` but saves no model (``ours_serial_noartifact``)."""

    def __init__(self, config: Any) -> None:
        from keras_geo.search import load_data

        self.config = config
        self.data = load_data(config)

    def __call__(self, params: dict[str, Any], *, seed: int, trial_id: int) -> dict[str, Any]:
        from keras_geo import training

        merged = {**self.config.model.fixed, **self.config.training, **params}
        result = training.train(self.config.model.builder, self.data, merged, seed=seed)
        return {"value": result.metrics["val_accuracy"], "metrics": dict(result.metrics)}


def shared_train(config: Any):
    """The peers' training function: ``params -> val_accuracy``, exactly the training of our objective."""
    from hpo.loop import trial_seed
    from keras_geo import training
    from keras_geo.search import load_data

    data = load_data(config)
    fixed = {**config.model.fixed, **config.training}

    def train(params: Mapping[str, Any]) -> float:
        result = training.train(config.model.builder, data, {**fixed, **params}, seed=trial_seed(0, params))
        return float(result.metrics["val_accuracy"])

    return train


def without_clear_session() -> None:
    """Takes the clean-up out of :func:`keras_geo.training.reset_state` (seeding stays).

    No ``clear_session``, no ``gc.collect`` and no dropping of the gradient-registry
    entries of finished models: what the clean-up between trials buys.
    """
    import keras

    from keras_geo import training

    def reset_state(seed: int, *, deterministic: bool = True) -> None:
        keras.utils.set_random_seed(int(seed))
        if deterministic and keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()

    training.reset_state = reset_state


def worker(tool: str, trials: int, workdir: str) -> dict[str, Any]:
    """Runs one tool's search in this process; the readings after every trial."""
    config = demo_config(trials, workdir, "local" if tool.startswith("ours_local") else "serial")
    readings: list[dict[str, Any]] = []
    started = time.perf_counter()
    baseline = sample()  # before TensorFlow is imported

    if tool.startswith("ours"):
        from hpo import executors, strategies
        from hpo.loop import Budget, run_search
        from hpo.space import Space
        from keras_geo.search import KerasObjective, open_store

        store = open_store(config)
        strategy = strategies.get(
            config.search.strategy["name"],
            Space.from_dict(config.search.space),
            seed=0,
            **config.search.strategy["settings"],
        )
        models = Path(workdir) / "models"
        local = tool.startswith("ours_local")
        if local:
            objective: Any = RssReporting(KerasObjective(config, models))
            executor: Any = executors.LocalExecutor(1, max_trials_per_worker=RECYCLE)
        else:
            objective = PlainObjective(config) if tool == "ours_serial_noartifact" else KerasObjective(config, models)
            executor = executors.SerialExecutor()

        def on_trial(trial) -> None:
            reading = sample()
            if local:
                # The series is the worker's; the driver's own RSS rides along.
                reading = {
                    "driver_rss_mb": reading["rss_mb"],
                    "t": reading["t"],
                    "rss_mb": trial.metrics.get("worker_rss_mb"),
                    "peak_mb": trial.metrics.get("worker_peak_mb"),
                    "pid": trial.metrics.get("worker_pid"),
                }
            readings.append({**reading, "status": trial.status})

        run_search(
            objective,
            strategy,
            store,
            executor,
            Budget(trials=trials),
            seed=0,
            direction="maximize",
            progress=False,
            on_trial=on_trial,
        )
        store.close()
    elif tool == "keras_tuner":
        import keras_tuner

        space, train = demo_space(), shared_train(config)

        class SpaceModel(keras_tuner.HyperModel):
            """Declares the space to the oracle (every conditional branch); builds no model."""

            def build(self, hp):
                keras_tuner_params(hp, space)

        class SharedTrainTuner(keras_tuner.Tuner):
            """Runs the shared training; reads the RSS when Keras Tuner has recorded the trial."""

            def run_trial(self, trial, *args, **kwargs):
                return {"val_accuracy": train(keras_tuner_params(trial.hyperparameters, space))}

            def on_trial_end(self, trial):
                super().on_trial_end(trial)
                readings.append({**sample(), "status": str(trial.status)})

        oracle = keras_tuner.oracles.RandomSearchOracle(
            objective=keras_tuner.Objective("val_accuracy", "max"), max_trials=trials, seed=0
        )
        tuner = SharedTrainTuner(oracle, hypermodel=SpaceModel(), directory=workdir, project_name="kt", overwrite=True)
        tuner.search(verbose=0)
    elif tool == "optuna":
        import keras
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        space, train = demo_space(), shared_train(config)

        def objective(trial) -> float:
            value = train(optuna_params(trial, space))
            keras.backend.clear_session()
            return value

        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
        study.optimize(
            objective,
            n_trials=trials,
            callbacks=[lambda study, trial: readings.append({**sample(), "status": trial.state.name})],
        )
    elif tool.startswith("train_only"):
        if tool == "train_only_noclear":
            without_clear_session()
        space, train = demo_space(), shared_train(config)
        rng = np.random.default_rng(0)
        for _ in range(trials):
            train(space.sample(rng))
            readings.append({**sample(), "status": "done"})
    else:
        raise ValueError(f"unknown tool {tool!r}; allowed: {', '.join(TOOLS + REFERENCES)}")
    for reading in readings:
        reading["t"] -= started
    return {"tool": tool, "trials": trials, "baseline_rss_mb": baseline["rss_mb"], "readings": readings}


def run_tool(tool: str, trials: int, workdir: str) -> dict[str, Any]:
    """One tool in a fresh interpreter (no memory shared between tools)."""
    folder = Path(workdir) / tool
    folder.mkdir()
    return run_worker(
        __file__, folder / "readings.json", "--worker", tool, "--trials", str(trials), "--workdir", str(folder)
    )


# --------------------------------------------------------------------------- #
# summary, table, plot
# --------------------------------------------------------------------------- #
def summarise(run: Mapping[str, Any]) -> dict[str, Any]:
    """RSS after trials 1, 10 and N, its maximum, the growth over the search, the slope after the warm-up."""
    rss = np.asarray([r["rss_mb"] for r in run["readings"]], dtype=float)
    n = len(rss)
    first_fit = min(WARMUP, n) - 1
    x = np.arange(1, n + 1)
    slope = float(np.polyfit(x[first_fit:], rss[first_fit:], 1)[0]) if n - first_fit >= 2 else float("nan")
    out = {
        "trials": n,
        "done": sum(1 for r in run["readings"] if str(r["status"]).lower() in ("done", "complete", "completed")),
        "seconds": run["readings"][-1]["t"] if n else 0.0,
        "baseline_mb": run["baseline_rss_mb"],
        "rss_1_mb": float(rss[0]),
        "rss_10_mb": float(rss[first_fit]),
        "rss_n_mb": float(rss[-1]),
        "max_mb": float(rss.max()),
        "peak_mb": float(max(r.get("peak_mb") or 0.0 for r in run["readings"])),
        "growth_10_n_mb": float(rss[-1] - rss[first_fit]),
        "growth_1_n_mb": float(rss[-1] - rss[0]),
        # Less noisy (RSS moves by tens of MB from one trial to the next): the mean of the
        # last 10 readings minus the mean of readings 10..19.
        "growth_means_mb": float(rss[-WARMUP:].mean() - rss[first_fit : first_fit + WARMUP].mean()),
        "mb_per_100_trials": 100 * slope,
        "rss_mb": rss.round(2).tolist(),
    }
    if run["tool"].startswith("ours_local"):
        pids = [r["pid"] for r in run["readings"]]
        lives = [[i for i, p in enumerate(pids) if p == pid] for pid in dict.fromkeys(pids)]
        # Growth within each worker's life, first to last trial of it: what recycling bounds.
        out["workers"] = len(lives)
        out["growth_per_life_mb"] = [float(rss[life[-1]] - rss[life[0]]) for life in lives]
        driver = np.asarray([r["driver_rss_mb"] for r in run["readings"]], dtype=float)
        out["driver_rss_mb"] = driver.round(2).tolist()
        out["driver_growth_10_n_mb"] = float(driver[-1] - driver[first_fit])
    return out


def print_table(summary: Mapping[str, Any], trials: int) -> None:
    """A markdown table: RSS in MB after trials 1, 10 and N, maximum, growth and slope."""
    print(
        f"\n| tool | trials | s | RSS after 1 | after {WARMUP} | after {trials} | max (peak) | "
        f"growth {WARMUP}->{trials} | growth 1->{trials} | growth, 10-trial means | "
        f"MB / 100 trials (fit {WARMUP}..{trials}) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for tool, s in summary.items():
        print(
            f"| {LABELS[tool]} | {s['trials']} | {s['seconds']:.0f} | {s['rss_1_mb']:.0f} | {s['rss_10_mb']:.0f} | "
            f"{s['rss_n_mb']:.0f} | {s['max_mb']:.0f} ({s['peak_mb']:.0f}) | {s['growth_10_n_mb']:+.1f} | "
            f"{s['growth_1_n_mb']:+.1f} | {s['growth_means_mb']:+.1f} | {s['mb_per_100_trials']:+.1f} |"
        )
    for tool, s in summary.items():
        if "growth_per_life_mb" in s:
            lives = ", ".join(f"{g:+.0f}" for g in s["growth_per_life_mb"])
            print(
                f"\n{LABELS[tool]}: {s['workers']} worker lives, growth within each (MB): {lives}; "
                f"driver {s['driver_rss_mb'][0]:.0f} -> {s['driver_rss_mb'][-1]:.0f} MB "
                f"({s['driver_growth_10_n_mb']:+.1f} MB from trial {WARMUP})"
            )
    print(
        f"\nGoal: worker memory growth at most {GOAL_MB:.0f} MB over 100 trials "
        f"(max is RSS after a trial; peak is ru_maxrss, the high-water mark during training)."
    )


def plot(summary: Mapping[str, Any], path: Path) -> None:
    """RSS after each trial (left) and its growth since trial 10 (right), every tool."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for tool, s in summary.items():
        rss = np.asarray(s["rss_mb"])
        x = np.arange(1, len(rss) + 1)
        style = ":" if tool.startswith("train_only") else "-" if tool.startswith("ours") else "--"
        (line,) = left.plot(x, rss, style, label=LABELS[tool], linewidth=1.2)
        base = rss[min(WARMUP, len(rss)) - 1]
        right.plot(x, rss - base, style, color=line.get_color(), label=LABELS[tool], linewidth=1.2)
    right.axhline(GOAL_MB, color="k", linewidth=0.8, linestyle=":")
    right.text(1, GOAL_MB + 2, f" goal: at most {GOAL_MB:.0f} MB over 100 trials", fontsize=7, va="bottom")
    left.set_ylabel("worker RSS after the trial (MB)")
    right.set_ylabel(f"RSS - RSS after trial {WARMUP} (MB)")
    for ax in (left, right):
        ax.set_xlabel("trial")
        ax.grid(alpha=0.3)
    left.legend(fontsize=7)
    fig.suptitle("Worker memory over a search of small Keras trials (same training function for all)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = bench_parser(
        __doc__,
        quick="30 trials per tool",
        trials="trials per tool (default 100, quick 30)",
        choices=TOOLS + REFERENCES,
        default=TOOLS,
        hidden=("worker", "workdir", "out"),
    )
    parser.add_argument("--name", help="results file name (default memory, quick memory_quick)")
    args = parser.parse_args()
    if args.worker:
        Path(args.out).write_text(json.dumps(worker(args.worker, args.trials, args.workdir)))
        return
    if args.replot:
        saved = load_results(args.replot)
        print_table(saved["summary"], saved["trials"])
        plot(saved["summary"], Path(args.replot).with_suffix(".png"))
        return
    name = args.name or ("memory_quick" if args.quick else "memory")
    trials = args.trials or (30 if args.quick else 100)
    from keras_geo.search import load_data

    load_data(demo_config(1, "."))  # generated and cached once, before any measured process
    summary, began = {}, time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        for tool in args.tools:
            t0 = time.perf_counter()
            summary[tool] = summarise(run_tool(tool, trials, workdir))
            s = summary[tool]
            print(
                f"{LABELS[tool]}: {trials} trials in {time.perf_counter() - t0:.0f} s, RSS {s['rss_1_mb']:.0f} -> "
                f"{s['rss_n_mb']:.0f} MB (max {s['max_mb']:.0f})",
                flush=True,
            )
    total = time.perf_counter() - began
    print(f"\nMachine: {describe_machine()}; {total:.0f} s in all")
    print_table(summary, trials)
    path = save_results(
        name,
        {
            "trials": trials,
            "warmup": WARMUP,
            "recycle": RECYCLE,
            "goal_mb": GOAL_MB,
            "dataset": DATASET,
            "training": TRAINING,
            "seconds": total,
            "summary": summary,
        },
    )
    plot(summary, RESULTS / f"{name}.png")
    print(f"\nresults: {path}, plot: {RESULTS / f'{name}.png'}")


if __name__ == "__main__":
    main()
