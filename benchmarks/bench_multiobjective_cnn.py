"""Several objectives on the CNN search: hypervolume after N trials, ours beside Optuna's NSGA-II and TPE.

The two-objective version of ``benchmarks/bench_cnn_search.py``: the filler CNN
at the same reduced size and the same space (``filler_base.yaml``, the one
``keras_geo/configs/filler_pareto.yaml`` searches), two objectives:

* the validation accuracy, maximised;
* the parameter count, minimised, taken as ``log10(n_params)`` (the space's
  models span about two decades; on a linear scale the hypervolume would only
  see the largest ones).

The tools are driven as in ``benchmarks/bench_multiobjective.py`` (its
``run_ours`` and ``run_optuna``: one trial at a time, sequential ask/tell, over
the one :class:`hpo.space.Space`), with the trial function of
``bench_cnn_search`` (its ``Trainer``, seeded by :func:`hpo.loop.trial_seed` of
the run's seed and the params, so a params set trains to the same values
whichever tool proposed it):

* ours ``nsga2`` and ``nsga2_tpe`` at the shipped config's settings
  (``population_size: 6, n_startup: 6``, as ``filler_pareto.yaml``); ``random``
  as the floor;
* Optuna ``NSGAIISampler(population_size=6)`` (its default population of 50 would
  be random search for the whole budget) and the multi-objective
  ``TPESampler(n_startup_trials=6)``: every tool starts to model after 6 trials.

A trial cache: within one seed, a params set trained once (by any tool) is not
trained again; its stored outcome is returned (the trainer would give the same
values, it is seeded by the params). It saves the start-up points that ``nsga2``
and ``nsga2_tpe`` share and any repeat. A training that diverges is a failed
trial (NaN values; Optuna records a failed trial, ours a failure) and adds no
hypervolume.

Hypervolume in minimised form ``(-val_accuracy, log10 n_params)`` up to the
fixed reference point ``(0, log10 N_max + 0.1)``, where ``N_max`` is the parameter
count of the space's largest model (every integer at its top, the largest
choice); it is divided by the hypervolume of all the trials of all tools and
seeds together (the best front found, 1.0). A second reference at chance
accuracy, ``(-1/3, ...)``, counts only models better than chance.

    python benchmarks/bench_multiobjective_cnn.py           # 3 seeds, 24 trials, 5 tools (about 25 min on 2 busy cores)
    python benchmarks/bench_multiobjective_cnn.py --seeds 5 # BENCHMARKS.md section 7b (about 35 min)
    python benchmarks/bench_multiobjective_cnn.py --quick   # 1 seed, 8 trials (about 3 min): a smoke test

Results: ``benchmarks/results/multiobjective_cnn.json`` and ``multiobjective_cnn.png``
(hypervolume against trials, and the fronts found); ``--quick`` writes
``multiobjective_cnn_quick.*``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_multiobjective as mo  # noqa: E402
from bench_cnn_search import Trainer, load_problem  # noqa: E402
from common import RESULTS, bench_parser, describe_machine, load_results, pyplot, save_results  # noqa: E402

from hpo import pareto  # noqa: E402
from hpo.loop import trial_seed  # noqa: E402
from hpo.space import Choice, Fixed, Float, Int, Space, params_hash  # noqa: E402

TOOLS = mo.TOOLS
SETTINGS = {
    "nsga2": {"population_size": 6, "n_startup": 6},
    "nsga2_tpe": {"population_size": 6, "n_startup": 6},
    "optuna_nsga2": {"population_size": 6},
    "optuna_tpe": {"n_startup_trials": 6},
}
RUNS = {"full": {"seeds": 3, "trials": 24}, "quick": {"seeds": 1, "trials": 8}}
CHANCE = 1 / 3  # three filler classes
LOG_MARGIN = 0.1


class CnnProblem:
    """The CNN trial as a two-objective problem for ``bench_multiobjective``'s drivers.

    ``fn(params)`` returns ``(-val_accuracy, log10 n_params)`` (NaN, NaN if the training
    diverged) and records the trial; ``cache`` (params hash -> outcome) is shared by the
    tools of one seed.
    """

    n_objectives = 2

    def __init__(self, space: Space, train: Trainer, seed: int, cache: dict[str, dict[str, Any]]) -> None:
        self.space, self.train, self.seed, self.cache = space, train, seed, cache
        self.trials: list[dict[str, Any]] = []

    def fn(self, params: dict[str, Any]) -> tuple[float, float]:
        key = params_hash(params)
        cached = key in self.cache
        if not cached:
            self.cache[key] = self.train(params, trial_seed(self.seed, params))
        outcome = self.cache[key]
        self.trials.append(
            {
                "params": dict(params),
                "val_accuracy": outcome["value"],
                "n_params": outcome.get("n_params"),
                "test_accuracy": outcome["test_accuracy"],
                "seconds": 0.0 if cached else outcome["seconds"],
                "cached": cached,
            }
        )
        if outcome["value"] is None:
            return (math.nan, math.nan)
        return (-outcome["value"], math.log10(outcome["n_params"]))


def largest_params(space: Space) -> dict[str, Any]:
    """The space's largest model: every integer at its top, every numeric choice at its largest.

    A float takes the middle of its range (the geometric middle on a log scale), any other
    choice its first option; a conditional parameter is set when the others make it active.
    """
    params: dict[str, Any] = {}
    for name in space:
        p = space[name]
        if not space.is_active(name, params):
            continue
        if isinstance(p, Int):
            params[name] = p.high
        elif isinstance(p, Float):
            params[name] = math.sqrt(p.low * p.high) if p.log else (p.low + p.high) / 2
        elif isinstance(p, Choice):
            numeric = all(isinstance(o, (int, float)) and not isinstance(o, bool) for o in p.options)
            params[name] = max(p.options) if numeric else p.options[0]
        elif isinstance(p, Fixed):
            params[name] = p.value
    return space.canonical(params)


def values_of(trials: list[dict[str, Any]]) -> np.ndarray:
    """Minimised objective values of the trials, NaN rows for the failed ones."""
    return np.array(
        [
            (math.nan, math.nan) if t["val_accuracy"] is None else (-t["val_accuracy"], math.log10(t["n_params"]))
            for t in trials
        ],
        dtype=float,
    ).reshape(-1, 2)


def summarise(runs: list[dict[str, Any]], trials: int, reference: list[float]) -> dict[str, Any]:
    """Per tool: normalised hypervolume at the checkpoints (median, min, max), curves, fronts, counts."""
    chance_ref = [-CHANCE, reference[1]]
    everything = np.concatenate([values_of(r["trials"]) for r in runs])
    best = {"zero": pareto.hypervolume(everything, reference), "chance": pareto.hypervolume(everything, chance_ref)}
    checkpoints = sorted({trials // 2, trials})
    out: dict[str, Any] = {"best_hypervolume": best, "tools": {}}
    for tool in TOOLS:
        mine = [r for r in runs if r["tool"] == tool]
        if not mine:
            continue
        curves, chance_final, fronts = [], [], []
        for r in mine:
            v = values_of(r["trials"])
            curves.append([pareto.hypervolume(v[:t], reference) / best["zero"] for t in range(1, len(v) + 1)])
            chance_final.append(pareto.hypervolume(v, chance_ref) / best["chance"])
            front = pareto.pareto_front(v)
            fronts.append(sorted({(float(-v[i, 0]), round(10 ** v[i, 1])) for i in front}))  # repeats once
        curves_arr = np.array(curves)
        out["tools"][tool] = {
            "hypervolume": {
                str(c): [
                    float(np.median(curves_arr[:, c - 1])),
                    float(curves_arr[:, c - 1].min()),
                    float(curves_arr[:, c - 1].max()),
                ]
                for c in checkpoints
            },
            "hypervolume_chance": [float(np.median(chance_final)), float(min(chance_final)), float(max(chance_final))],
            "best_val_accuracy": float(np.median([max((t["val_accuracy"] or 0.0) for t in r["trials"]) for r in mine])),
            "front_sizes": [len(f) for f in fronts],
            "fronts": fronts,
            "trainings": int(sum(not t["cached"] for r in mine for t in r["trials"])),
            "cached": int(sum(t["cached"] for r in mine for t in r["trials"])),
            "repeats": int(sum(len(r["trials"]) - len({params_hash(t["params"]) for t in r["trials"]}) for r in mine)),
            "failed": int(sum(t["val_accuracy"] is None for r in mine for t in r["trials"])),
            "curves": curves_arr.tolist(),
        }
    return out


def print_table(summary: dict[str, Any], trials: int, seeds: int, reference: list[float]) -> None:
    tools = summary["tools"]
    checkpoints = list(next(iter(tools.values()))["hypervolume"])
    print(
        f"\nHypervolume of (-val_accuracy, log10 n_params) up to {tuple(round(x, 3) for x in reference)}, "
        f"divided by all tools' trials together; median [min, max] over {seeds} seed(s)\n"
    )
    head = " | ".join(f"hypervolume @{c}" for c in checkpoints)
    print(
        f"| tool | {head} | @{trials}, reference at chance | best val acc | front size | trainings / cached / repeats | failed |"
    )
    print("|---|" + "---|" * (len(checkpoints) + 5))
    for tool, s in tools.items():
        cells = " | ".join(f"{q[0]:.3f} [{q[1]:.3f}, {q[2]:.3f}]" for q in s["hypervolume"].values())
        c = s["hypervolume_chance"]
        print(
            f"| {mo.LABELS[tool]} | {cells} | {c[0]:.3f} [{c[1]:.3f}, {c[2]:.3f}] | {s['best_val_accuracy']:.3f} | "
            f"{'/'.join(map(str, s['front_sizes']))} | {s['trainings']} / {s['cached']} / {s['repeats']} | {s['failed']} |"
        )


def plot(summary: dict[str, Any], runs: list[dict[str, Any]], path: Path) -> None:
    """Left: median normalised hypervolume against trials (band: min to max); right: each tool's front (first seed)."""
    plt = pyplot()
    fig, (by_trial, fronts) = plt.subplots(1, 2, figsize=(11, 4.2))
    first_seed = min(r["seed"] for r in runs)
    for tool, s in summary["tools"].items():
        ours = tool in mo.OURS
        style = {"color": mo.COLORS[tool], "linewidth": 2 if ours else 1.2, "linestyle": "-" if ours else "--"}
        curves = np.asarray(s["curves"])
        x = np.arange(1, curves.shape[1] + 1)
        by_trial.plot(x, np.median(curves, axis=0), label=mo.LABELS[tool], **style)
        by_trial.fill_between(x, curves.min(axis=0), curves.max(axis=0), color=mo.COLORS[tool], alpha=0.1)
        run = next(r for r in runs if r["tool"] == tool and r["seed"] == first_seed)
        done = [t for t in run["trials"] if t["val_accuracy"] is not None]
        fronts.scatter(
            [t["n_params"] for t in done], [t["val_accuracy"] for t in done], s=10, alpha=0.35, color=mo.COLORS[tool]
        )
        front = s["fronts"][[r["seed"] for r in runs if r["tool"] == tool].index(first_seed)]
        acc, n = zip(*sorted(front, key=lambda p: p[1])) if front else ((), ())
        fronts.step(n, acc, where="post", label=mo.LABELS[tool], **style)
    by_trial.set_xlabel("trials")
    by_trial.set_ylabel("hypervolume / all tools' together")
    by_trial.set_ylim(0, 1.02)
    by_trial.grid(alpha=0.3)
    by_trial.legend(fontsize=7, loc="lower right")
    by_trial.set_title("median over seeds, band: min to max", fontsize=9)
    fronts.set_xscale("log")
    fronts.set_xlabel("parameters")
    fronts.set_ylabel("validation accuracy")
    fronts.axhline(CHANCE, color="k", linewidth=0.5)
    fronts.grid(alpha=0.3)
    fronts.set_title(f"trials and Pareto fronts, seed {first_seed}", fontsize=9)
    fig.suptitle("Filler CNN: validation accuracy against parameter count")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = bench_parser(
        __doc__, quick="1 seed, 8 trials", trials="trials per run (default 24, quick 8)", choices=TOOLS
    )
    parser.add_argument("--seeds", type=int, help="seeds (default 3, quick 1)")
    parser.add_argument("--first-seed", type=int, default=100, help="the first seed (default 100)")
    args = parser.parse_args()
    if args.replot:
        saved = load_results(args.replot)
        saved["summary"] = summarise(saved["runs"], saved["trials"], saved["reference"])
        Path(args.replot).write_text(json.dumps(saved, indent=1))  # the summary recomputed from the runs
        print_table(saved["summary"], saved["trials"], saved["seeds"], saved["reference"])
        plot(saved["summary"], saved["runs"], Path(args.replot).with_suffix(".png"))
        return
    name = "multiobjective_cnn_quick" if args.quick else "multiobjective_cnn"
    mode = "quick" if args.quick else "full"
    seeds = args.seeds or RUNS[mode]["seeds"]
    trials = args.trials or RUNS[mode]["trials"]
    seed_list = list(range(args.first_seed, args.first_seed + seeds))

    config, space, train = load_problem()
    largest = largest_params(space)
    outcome = train(largest, seed=0)  # also the warm-up: TensorFlow's first model is slow
    if outcome["value"] is None:
        raise RuntimeError(f"the largest model diverged: {largest}")
    n_max = outcome["n_params"]
    reference = [0.0, math.log10(n_max) + LOG_MARGIN]
    print(f"largest model: {n_max:,} parameters ({largest}); reference point {reference}", flush=True)

    started = time.perf_counter()
    runs = []
    for i, seed in enumerate(seed_list):
        cache: dict[str, dict[str, Any]] = {}  # params hash -> outcome, shared by this seed's tools
        shift = i % len(args.tools)  # each seed starts one tool further on: the load hits all alike
        for tool in args.tools[shift:] + args.tools[:shift]:
            problem = CnnProblem(space, train, seed, cache)
            t0 = time.perf_counter()
            driver = mo.run_ours if tool in mo.OURS else mo.run_optuna
            driver(tool, problem, seed, trials, SETTINGS.get(tool))
            seconds = time.perf_counter() - t0
            runs.append({"tool": tool, "seed": seed, "trials": problem.trials, "seconds": seconds})
            fresh = sum(not t["cached"] for t in problem.trials)
            best = max((t["val_accuracy"] or 0.0) for t in problem.trials)
            print(
                f"seed {seed} {mo.LABELS[tool]:30s} {len(problem.trials)} trials ({fresh} trained) in {seconds:6.1f} s, "
                f"best val {best:.3f}",
                flush=True,
            )
        # The runs so far, for `--replot` should a long run be stopped (removed at the end).
        partial = save_results(
            f"{name}_partial", {"trials": trials, "seeds": i + 1, "reference": reference, "runs": runs}
        )
    elapsed = time.perf_counter() - started

    summary = summarise(runs, trials, reference)
    print(f"\nMachine: {describe_machine()}; {len(runs)} runs in {elapsed:.0f} s")
    print_table(summary, trials, seeds, reference)
    path = save_results(
        name,
        {
            "trials": trials,
            "seeds": seeds,
            "seed_list": seed_list,
            "tools": args.tools,
            "settings": SETTINGS,
            "reference": reference,
            "largest_model": {"params": largest, "n_params": n_max},
            "protocol": {
                "config": "keras_geo/configs/filler_ga_tpe.yaml (space of filler_base.yaml, as filler_pareto.yaml)",
                "dataset": config.to_dict()["dataset"],
                "training": config.training,
                "objectives": "val_accuracy (maximised), log10 n_params (minimised)",
                "normalisation": "hypervolume of all tools' and seeds' trials together",
                "cache": "per seed, shared by the tools, keyed by params hash",
            },
            "elapsed_s": elapsed,
            "summary": summary,
            "runs": runs,
        },
    )
    plot(summary, runs, RESULTS / f"{name}.png")
    partial.unlink()
    print(f"\nresults: {path}, plot: {RESULTS / f'{name}.png'}")


if __name__ == "__main__":
    main()
