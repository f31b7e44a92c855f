"""Search efficiency on cheap functions: our strategies beside Optuna's samplers and hyperopt's ``fmin``.

Every tool gets the same problem (``hpo.problems``: Branin, Hartmann-6 and a
mixed float/integer/log/categorical function), the same budget of trials, one
trial at a time (sequential), and the same seeds. The measure is the *regret*:
the best value found so far minus the known minimum.

* Ours: ``random``, ``grid`` (Branin only, where a 10 x 10 grid is exactly the
  budget), ``tpe``, ``ga``, ``bayes``, ``ga_tpe``, ``auto`` (which picks
  ``bayes`` on all three problems), default settings, driven ask(1)/tell.
* Optuna: ``TPESampler``, ``CmaEsSampler``, ``NSGAIISampler`` (its genetic
  algorithm) and ``RandomSampler``, default settings, in-memory studies.
* hyperopt: ``fmin`` with ``tpe.suggest`` and its defaults.

The *target* of a problem is the median, over the seeds, of the best value of
200 random trials; "trials to target" is the first trial whose best-so-far
reaches it (runs that never reach it within the budget count as beyond it).

    python benchmarks/bench_strategies.py           # 10 seeds, 100 trials (about 25 min on 2 cores)
    python benchmarks/bench_strategies.py --quick   # 3 seeds, 60 trials, lighter GP (about 2 min)
    python benchmarks/bench_strategies.py --tools auto bayes optuna_tpe --output strategies_auto

Results: ``benchmarks/results/strategies.json`` and ``strategies.png`` (regret
curves, median and quartiles); ``--quick`` writes ``strategies_quick.*``,
``--output NAME`` writes ``NAME.*``.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    RESULTS,
    bench_parser,
    describe_machine,
    hyperopt_fmin,
    load_results,
    optuna_params,
    pyplot,
    save_results,
)

from hpo import problems, strategies  # noqa: E402
from hpo.trial import Result  # noqa: E402

OURS = ("random", "grid", "tpe", "ga", "bayes", "ga_tpe", "auto")
OPTUNA = ("optuna_tpe", "optuna_cmaes", "optuna_nsga2", "optuna_random")
TOOLS = OURS + OPTUNA + ("hyperopt_tpe",)
LABELS = {
    "random": "ours random",
    "grid": "ours grid",
    "tpe": "ours TPE",
    "ga": "ours GA",
    "bayes": "ours GP-EI",
    "ga_tpe": "ours GA+TPE",
    "auto": "ours auto",
    "optuna_tpe": "Optuna TPE",
    "optuna_cmaes": "Optuna CMA-ES",
    "optuna_nsga2": "Optuna NSGA-II",
    "optuna_random": "Optuna random",
    "hyperopt_tpe": "hyperopt fmin TPE",
}
# One colour per tool in every panel; TPE-like tools share a hue, ours solid and peers dashed.
COLORS = {
    "random": "tab:grey",
    "grid": "tab:olive",
    "tpe": "tab:orange",
    "ga": "tab:blue",
    "bayes": "tab:purple",
    "ga_tpe": "tab:green",
    "auto": "gold",
    "optuna_tpe": "tab:red",
    "optuna_cmaes": "tab:cyan",
    "optuna_nsga2": "tab:pink",
    "optuna_random": "black",
    "hyperopt_tpe": "tab:brown",
}
# Grid search only where a full grid fits the budget exactly (10 x 10 on Branin).
GRID_SETTINGS = {"branin": {"n_per_float": 10}}
RANDOM_REFERENCE = 200


def run_ours(name: str, problem: problems.Problem, seed: int, budget: int, settings: dict) -> list[float]:
    """Values of the trials our strategy ``name`` proposes one at a time (ask(1) / tell)."""
    strategy = strategies.get(name, problem.space, seed=seed, **settings)
    values: list[float] = []
    while len(values) < budget:
        asked = strategy.ask(1)
        if not asked:  # a grid that is walked
            break
        value = problem.fn(asked[0])
        strategy.tell([Result(asked[0], value)])
        values.append(value)
    return values


def run_optuna(name: str, problem: problems.Problem, seed: int, budget: int) -> list[float]:
    """Values of the trials of an in-memory Optuna study with the sampler ``name``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = {
        "optuna_tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "optuna_cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False),
        "optuna_nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed),
        "optuna_random": lambda: optuna.samplers.RandomSampler(seed=seed),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-feature warnings
        study = optuna.create_study(sampler=samplers[name]())
        study.optimize(lambda trial: problem.fn(optuna_params(trial, problem.space)), n_trials=budget)
    return [t.value for t in study.trials]


def one_run(job: tuple[str, str, int, int, bool]) -> dict:
    """One (tool, problem, seed) run: the trial values and the seconds it took."""
    tool, problem_name, seed, budget, quick = job
    problem = problems.get(problem_name)
    started = time.perf_counter()
    if tool in OURS:
        settings = GRID_SETTINGS.get(problem_name, {}) if tool == "grid" else {}
        if tool == "bayes" and quick:
            settings = {"n_candidates": 300, "n_restarts": 0}
        if tool == "auto" and quick:
            settings = {"bayes_settings": {"n_candidates": 300, "n_restarts": 0}}
        values = run_ours(tool, problem, seed, budget, settings)
    elif tool in OPTUNA:
        values = run_optuna(tool, problem, seed, budget)
    else:
        values = [v for _, v in hyperopt_fmin(problem.space, problem.fn, budget, seed)]
    return {
        "tool": tool,
        "problem": problem_name,
        "seed": seed,
        "values": values,
        "seconds": time.perf_counter() - started,
    }


def random_target(problem: problems.Problem, seeds: int) -> float:
    """The median over ``seeds`` of the best of 200 random points (independent of the runs' seeds)."""
    bests = []
    for seed in range(seeds):
        rng = np.random.default_rng(10_000 + seed)
        bests.append(min(problem.fn(problem.space.sample(rng)) for _ in range(RANDOM_REFERENCE)))
    return float(np.median(bests))


def regret_curve(values: list[float], minimum: float, budget: int) -> np.ndarray:
    """Best-so-far regret after each trial (the last value carried on if the run ended early)."""
    best = np.minimum.accumulate(np.asarray(values, dtype=float)) - minimum
    if len(best) < budget:
        best = np.concatenate([best, np.full(budget - len(best), best[-1])])
    return best


def summarise(runs: list[dict], targets: dict[str, float], budget: int) -> dict:
    """Per problem and tool: regret quartiles at 25/50/100 % of the budget checkpoints, trials to target."""
    checkpoints = sorted({c for c in (25, 50, 100, budget) if c <= budget})
    out: dict = {}
    for problem_name in sorted({r["problem"] for r in runs}):
        problem = problems.get(problem_name)
        target = targets[problem_name]
        for tool in TOOLS:
            mine = [r for r in runs if r["problem"] == problem_name and r["tool"] == tool]
            if not mine:
                continue
            curves = np.array([regret_curve(r["values"], problem.minimum, budget) for r in mine])
            reach = []
            for r in mine:
                hit = np.flatnonzero(np.minimum.accumulate(np.asarray(r["values"])) <= target)
                reach.append(int(hit[0]) + 1 if hit.size else math.inf)
            out.setdefault(problem_name, {})[tool] = {
                "regret": {
                    str(c): [float(q) for q in np.percentile(curves[:, c - 1], [25, 50, 75])] for c in checkpoints
                },
                "trials_to_target": [x if x != math.inf else None for x in reach],
                "median_trials_to_target": _median_reach(reach),
                "reached": sum(x != math.inf for x in reach),
                "ms_per_trial": 1000 * float(np.mean([r["seconds"] / len(r["values"]) for r in mine])),
                "curve_quartiles": np.percentile(curves, [25, 50, 75], axis=0).tolist(),
            }
    return out


def _median_reach(reach: list[float]) -> float | None:
    m = float(np.median(reach))
    return None if math.isinf(m) else m


def print_tables(summary: dict, targets: dict[str, float], budget: int, seeds: int) -> None:
    """Markdown tables: median [quartiles] regret at the checkpoints, trials to the random-200 target."""
    for problem_name, tools in summary.items():
        checkpoints = list(next(iter(tools.values()))["regret"])
        print(
            f"\n### {problem_name} (target = median best of {RANDOM_REFERENCE} random trials: "
            f"regret {targets[problem_name] - problems.get(problem_name).minimum:.4g}; {seeds} seeds)\n"
        )
        head = " | ".join(f"regret @{c}" for c in checkpoints)
        print(f"| tool | {head} | trials to target (median) | reached | ms/trial |")
        print("|---|" + "---|" * (len(checkpoints) + 3))
        for tool, s in tools.items():
            cells = " | ".join(f"{q[1]:.3g} [{q[0]:.3g}, {q[2]:.3g}]" for q in s["regret"].values())
            reach = s["median_trials_to_target"]
            reach_text = f"{reach:.0f}" if reach is not None else f"> {budget}"
            print(f"| {LABELS[tool]} | {cells} | {reach_text} | {s['reached']}/{seeds} | {s['ms_per_trial']:.1f} |")


def plot(summary: dict, budget: int, path: Path) -> None:
    """Median regret curves (log scale) with the quartile band, one panel per problem."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(summary), figsize=(5 * len(summary), 4), squeeze=False)
    for ax, (problem_name, tools) in zip(axes[0], summary.items()):
        x = np.arange(1, budget + 1)
        for tool, s in tools.items():
            lo, med, hi = (np.maximum(np.asarray(q), 1e-6) for q in s["curve_quartiles"])
            ours = tool in OURS
            ax.plot(
                x,
                med,
                color=COLORS[tool],
                linewidth=2 if ours else 1.2,
                linestyle="-" if ours else "--",
                label=LABELS[tool],
            )
            if tool in ("ga_tpe", "optuna_tpe"):
                ax.fill_between(x, lo, hi, color=COLORS[tool], alpha=0.15)
        ax.set_yscale("log")
        ax.set_xlabel("trials")
        ax.set_ylabel("regret (best so far - minimum)")
        ax.set_title(problem_name)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8)
    fig.suptitle("Median regret over seeds (bands: quartiles of ours GA+TPE and Optuna TPE; floor 1e-6)")
    fig.tight_layout(rect=(0, 0, 0.87, 1))
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = bench_parser(__doc__, quick="3 seeds, 60 trials, a lighter GP", choices=TOOLS)
    parser.add_argument("--seeds", type=int, help="seeds per tool and problem (default 10, quick 3)")
    parser.add_argument("--budget", type=int, help="trials per run (default 100, quick 60)")
    parser.add_argument("--problems", nargs="+", default=sorted(problems.PROBLEMS), choices=sorted(problems.PROBLEMS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="runs in parallel (default: all cores)")
    parser.add_argument("--output", help="results name (default strategies, quick strategies_quick)")
    args = parser.parse_args()
    name = args.output or ("strategies_quick" if args.quick else "strategies")
    if args.replot:
        saved = load_results(args.replot)
        print_tables(saved["summary"], saved["targets"], saved["budget"], saved["seeds"])
        plot(saved["summary"], saved["budget"], Path(args.replot).with_suffix(".png"))
        return
    seeds = args.seeds or (3 if args.quick else 10)
    budget = args.budget or (60 if args.quick else 100)

    targets = {p: random_target(problems.get(p), seeds) for p in args.problems}
    jobs = [
        (tool, p, seed, budget, args.quick)
        for p in args.problems
        for tool in args.tools
        if tool != "grid" or p in GRID_SETTINGS
        for seed in range(seeds)
    ]
    # Slow runs first, so the pool does not end on one long straggler.
    jobs.sort(key=lambda job: job[0] not in ("bayes", "auto"))
    started = time.perf_counter()
    runs = []
    from tqdm import tqdm

    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for run in tqdm(pool.map(one_run, jobs), total=len(jobs), desc="runs", unit="run"):
            runs.append(run)
    elapsed = time.perf_counter() - started

    summary = summarise(runs, targets, budget)
    print(f"\nMachine: {describe_machine()}; {len(jobs)} runs in {elapsed:.0f} s")
    print_tables(summary, targets, budget, seeds)
    path = save_results(
        name,
        {"budget": budget, "seeds": seeds, "targets": targets, "elapsed_s": elapsed, "summary": summary, "runs": runs},
    )
    plot(summary, budget, RESULTS / f"{name}.png")
    print(f"\nresults: {path}, plot: {RESULTS / f'{name}.png'}")


if __name__ == "__main__":
    main()
