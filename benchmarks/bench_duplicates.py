"""Wasted trainings: how often each tool trains a configuration it has already trained, in a discrete space.

A CNN search space is often discrete (layers, filter counts from a list,
kernel sizes, optimisers, a few learning rates). Model-based samplers then
propose the same configuration again as they converge, and each repeat is a
full training thrown away (with a fixed seed it gives the same result). The
space here has 144 configurations; each tool gets 60 trials, 5 seeds, and a
cheap objective with a single optimum. We count *trainings*: calls of the
objective, and how many of them repeat a configuration that tool already
trained.

* Ours: the whole loop (``hpo.loop.run_search`` with a SQLite store): strategies
  never propose a params set twice, and the store serves any repeat from its
  cache without training.
* Optuna (TPE, CMA-ES, NSGA-II, random), in-memory studies; hyperopt ``fmin``
  TPE; Keras Tuner (RandomSearch, BayesianOptimization, Hyperband) with a
  ``run_trial`` that calls the objective.

    python benchmarks/bench_duplicates.py            # 5 seeds (about 10 min, 9 of them Keras Tuner's GP)
    python benchmarks/bench_duplicates.py --quick    # 2 seeds, without Keras Tuner Bayesian (under 1 min)

Results: ``benchmarks/results/duplicates.json`` and ``duplicates.png``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import (  # noqa: E402
    RESULTS,
    bench_parser,
    describe_machine,
    hyperopt_fmin,
    keras_tuner_params,
    optuna_params,
    pyplot,
    save_results,
)

from hpo.space import Space, params_hash  # noqa: E402

SPACE = Space.from_dict(
    {
        "conv_layers": {"type": "int", "low": 1, "high": 4},
        "filters": [8, 16, 32],
        "kernel_size": [3, 5],
        "optimizer": ["adam", "rmsprop"],
        "learning_rate": [1e-3, 3e-3, 1e-2],
    }
)
CONTINUED = "__continued__"
OURS = ("random", "tpe", "ga", "ga_tpe", "bayes")
PEERS = (
    "optuna_tpe",
    "optuna_cmaes",
    "optuna_nsga2",
    "optuna_random",
    "hyperopt_tpe",
    "kt_random",
    "kt_bayesian",
    "kt_hyperband",
)
LABELS = {
    "random": "ours random",
    "tpe": "ours TPE",
    "ga": "ours GA",
    "ga_tpe": "ours GA+TPE",
    "bayes": "ours GP-EI",
    "optuna_tpe": "Optuna TPE",
    "optuna_cmaes": "Optuna CMA-ES",
    "optuna_nsga2": "Optuna NSGA-II",
    "optuna_random": "Optuna random",
    "hyperopt_tpe": "hyperopt fmin TPE",
    "kt_random": "Keras Tuner random",
    "kt_bayesian": "Keras Tuner Bayesian",
    "kt_hyperband": "Keras Tuner Hyperband",
}


def objective(p: dict) -> float:
    """A cheap stand-in for a validation loss, with a single best configuration."""
    return (
        (p["conv_layers"] - 3) ** 2 / 4
        + {8: 0.5, 16: 0.1, 32: 0.0}[p["filters"]]
        + (0.2 if p["kernel_size"] == 5 else 0.0)
        + (0.1 if p["optimizer"] == "rmsprop" else 0.0)
        + {1e-3: 0.3, 3e-3: 0.0, 1e-2: 0.4}[p["learning_rate"]]
    )


def trainings(tool: str, seed: int, budget: int) -> list[dict]:
    """The configurations ``tool`` trained, in order (one entry per call of the objective)."""
    calls: list[dict] = []

    def train(params: dict) -> float:
        calls.append(params)
        return objective(params)

    if tool in OURS:
        from hpo import strategies
        from hpo.executors import SerialExecutor
        from hpo.loop import Budget, run_search
        from hpo.store import TrialStore

        with tempfile.TemporaryDirectory() as tmp:
            store = TrialStore(Path(tmp) / "store.db")
            store.create_search({"bench": "duplicates"}, seed=seed)
            run_search(
                lambda params, **_: train(params),
                strategies.get(tool, SPACE, seed=seed),
                store,
                SerialExecutor(),
                Budget(trials=budget),
                seed=seed,
                progress=False,
            )
            store.close()
    elif tool.startswith("optuna"):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = {
            "optuna_tpe": optuna.samplers.TPESampler,
            "optuna_random": optuna.samplers.RandomSampler,
            "optuna_nsga2": optuna.samplers.NSGAIISampler,
            "optuna_cmaes": lambda seed: optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False),
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study = optuna.create_study(sampler=sampler[tool](seed=seed))
            study.optimize(lambda trial: train(optuna_params(trial, SPACE)), n_trials=budget)
    elif tool == "hyperopt_tpe":
        hyperopt_fmin(SPACE, train, budget, seed)
    else:
        keras_tuner_search(tool, seed, budget, train)
    return calls


def keras_tuner_search(tool: str, seed: int, budget: int, train) -> None:
    """A Keras Tuner search whose trials call ``train`` (no model is built)."""
    import keras_tuner as kt

    logging.getLogger("keras_tuner").setLevel(logging.ERROR)

    class Tuner(kt.Tuner):
        def run_trial(self, trial, *args, **kwargs):
            params = keras_tuner_params(trial.hyperparameters, SPACE)
            if trial.hyperparameters.values.get("tuner/trial_id"):
                # Hyperband continues a promising trial with more epochs (from its checkpoint):
                # a planned continuation, not a repeat.
                params = {**params, CONTINUED: True}
            return {"loss": train(params)}

    objective = kt.Objective("loss", "min")
    # Hyperband draws its first brackets before any trial runs, so the space is declared up front.
    declared = kt.HyperParameters()
    keras_tuner_params(declared, SPACE)
    oracle = {
        "kt_random": lambda: kt.oracles.RandomSearchOracle(objective, max_trials=budget, seed=seed),
        "kt_bayesian": lambda: kt.oracles.BayesianOptimizationOracle(objective, max_trials=budget, seed=seed),
        # Hyperband's trial count follows from its epochs; 9 epochs and factor 3 give about 60 trainings.
        "kt_hyperband": lambda: kt.oracles.HyperbandOracle(
            objective, max_epochs=9, factor=3, hyperband_iterations=3, seed=seed, hyperparameters=declared
        ),
    }[tool]()
    with tempfile.TemporaryDirectory() as tmp:
        tuner = Tuner(oracle=oracle, directory=tmp, project_name="dup", overwrite=True)
        with contextlib.redirect_stdout(io.StringIO()):
            tuner.search()


def count(calls: list[dict]) -> dict:
    """Trainings, distinct configurations, repeats, and Hyperband's continuations (not counted as repeats)."""
    fresh = [c for c in calls if CONTINUED not in c]
    seen = {params_hash(SPACE.canonical(c)) for c in fresh}
    return {
        "trainings": len(calls),
        "distinct": len(seen),
        "repeats": len(fresh) - len(seen),
        "continued": len(calls) - len(fresh),
    }


def main() -> None:
    parser = bench_parser(__doc__, quick="2 seeds, no Keras Tuner Bayesian", choices=OURS + PEERS, replot=False)
    parser.add_argument("--seeds", type=int, help="seeds per tool (default 5, quick 2)")
    parser.add_argument("--budget", type=int, default=60, help="trials per search (default 60)")
    args = parser.parse_args()
    seeds = args.seeds or (2 if args.quick else 5)
    tools = [t for t in args.tools if not (args.quick and t == "kt_bayesian")]  # its GP: ~3 s per trial
    name = "duplicates_quick" if args.quick else "duplicates"
    rows = []
    for tool in tools:
        runs = [count(trainings(tool, seed, args.budget)) for seed in range(seeds)]
        row = {
            "tool": tool,
            "runs": runs,
            **{k: sum(r[k] for r in runs) for k in ("trainings", "distinct", "repeats", "continued")},
        }
        rows.append(row)
        print(f"{LABELS[tool]}: {row['repeats']} of {row['trainings']} trainings repeated", flush=True)
    print(
        f"\nMachine: {describe_machine()}; space of {SPACE.cardinality()} configurations, "
        f"{args.budget} trials per search, {seeds} seeds (totals over seeds)\n"
    )
    print("| tool | trainings | distinct configurations | repeated trainings (wasted) | share wasted |")
    print("|---|---|---|---|---|")
    for r in rows:
        note = f" (+ {r['continued']} continued by Hyperband)" if r["continued"] else ""
        print(
            f"| {LABELS[r['tool']]} | {r['trainings']}{note} | {r['distinct']} | {r['repeats']} | "
            f"{r['repeats'] / max(r['trainings'], 1):.0%} |"
        )
    path = save_results(name, {"budget": args.budget, "seeds": seeds, "space_size": SPACE.cardinality(), "rows": rows})
    plot(rows, RESULTS / f"{name}.png")
    print(f"\nresults: {path}, plot: {RESULTS / f'{name}.png'}")


def plot(rows: list[dict], path: Path) -> None:
    """Horizontal bars: the share of trainings that repeated a configuration."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(rows) + 1.2))
    shares = [100 * r["repeats"] / max(r["trainings"], 1) for r in rows]
    colors = ["tab:green" if r["tool"] in OURS else "tab:grey" for r in rows]
    ax.barh([LABELS[r["tool"]] for r in rows], shares, color=colors)
    for y, (share, r) in enumerate(zip(shares, rows)):
        ax.text(share + 0.5, y, f"{r['repeats']}/{r['trainings']}", va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("trainings that repeated an already trained configuration (%)")
    ax.set_title("Wasted trainings in a discrete space (144 configurations)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
