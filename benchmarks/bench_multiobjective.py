"""Several objectives: hypervolume after N trials, our ``nsga2`` beside Optuna's NSGA-II and multi-objective TPE.

Every tool gets the same two-objective problems (``hpo.problems``: ZDT1 and
ZDT2, 6 floats in ``[0, 1]``), the same budget, one trial at a time
(sequential ask/tell) and the same seeds. The measure is the *hypervolume* of
all the trials so far up to the reference point ``(1.1, 1.1)``, divided by
the true front's (1.0 = the whole front; 0 until a point comes near the
front, since every point inside the reference box needs ``g < 1.1``).

* Ours: ``nsga2`` (DEAP's ``selNSGA2``) and ``nsga2_tpe`` (its children
  screened by a multi-objective TPE density ratio), default settings, told
  ``Result(params, values=(f1, f2))``; ``random`` as the floor.
* Optuna: ``NSGAIISampler`` and ``TPESampler`` (multi-objective TPE) with
  default settings, in-memory studies with ``directions=["minimize"] * 2``.

    python benchmarks/bench_multiobjective.py           # 10 seeds, 200 trials (about 2 min on 2 cores)
    python benchmarks/bench_multiobjective.py --quick   # 3 seeds, 100 trials (under a minute)

Seeds start at 100 (``--first-seed``): our defaults were chosen on seeds 0--9,
so the published figures are on seeds the tuning never saw.

Results: ``benchmarks/results/multiobjective.json`` and ``multiobjective.png``
(hypervolume against trials: median and quartiles); ``--quick`` writes
``multiobjective_quick.*`` and another ``--budget N`` ``multiobjective_N.*``. The same comparison on the CNN search (accuracy
against parameter count) is ``benchmarks/bench_multiobjective_cnn.py``, which drives the tools with
:func:`run_ours` and :func:`run_optuna`.
"""

from __future__ import annotations

import json
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
    load_results,
    optuna_params,
    pyplot,
    save_results,
)

from hpo import pareto, problems, strategies  # noqa: E402
from hpo.trial import Result  # noqa: E402

OURS = ("nsga2", "nsga2_tpe", "random")
OPTUNA = ("optuna_nsga2", "optuna_tpe")
TOOLS = OURS + OPTUNA
LABELS = {
    "nsga2": "ours NSGA-II",
    "nsga2_tpe": "ours NSGA-II + TPE screen",
    "random": "ours random",
    "optuna_nsga2": "Optuna NSGA-II",
    "optuna_tpe": "Optuna TPE (multi-objective)",
}
# A second, looser reference point: it also credits points far from the front, so it tells the
# tools apart at budgets where few points are inside (1.1, 1.1) yet.
WIDE_REFERENCE = (11.0, 11.0)
COLORS = {
    "nsga2": "tab:blue",
    "nsga2_tpe": "tab:green",
    "random": "tab:grey",
    "optuna_nsga2": "tab:pink",
    "optuna_tpe": "tab:red",
}


def run_ours(
    name: str, problem: problems.MultiProblem, seed: int, budget: int, settings: dict | None = None
) -> list[list[float]]:
    """Objective values of the trials our strategy ``name`` proposes one at a time (ask(1) / tell).

    ``problem`` needs only ``space`` and ``fn`` (params -> minimised values); ``settings`` go to the strategy.
    """
    strategy = strategies.get(name, problem.space, seed=seed, **(settings or {}))
    values: list[list[float]] = []
    while len(values) < budget:
        params = strategy.ask(1)[0]
        v = problem.fn(params)
        # random ignores values; single-objective strategies refuse several, so it is told the first
        strategy.tell([Result(params, values=v) if strategy.multi_objective else Result(params, v[0])])
        values.append(list(v))
    return values


def run_optuna(
    name: str, problem: problems.MultiProblem, seed: int, budget: int, settings: dict | None = None
) -> list[list[float]]:
    """Objective values of the trials of an in-memory multi-objective Optuna study.

    ``problem`` needs ``space``, ``fn`` and ``n_objectives``; ``settings`` go to the sampler. A trial
    whose values are NaN fails in Optuna and is recorded with them.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings = settings or {}
    samplers = {
        "optuna_nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed, **settings),
        "optuna_tpe": lambda: optuna.samplers.TPESampler(seed=seed, **settings),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-feature warnings
        study = optuna.create_study(directions=["minimize"] * problem.n_objectives, sampler=samplers[name]())
        study.optimize(lambda trial: problem.fn(optuna_params(trial, problem.space)), n_trials=budget)
    return [list(t.values) if t.values is not None else [float("nan")] * problem.n_objectives for t in study.trials]


def one_run(job: tuple[str, str, int, int]) -> dict:
    """One (tool, problem, seed) run: the trial values and the seconds it took."""
    tool, problem_name, seed, budget = job
    problem = problems.get_multi(problem_name)
    started = time.perf_counter()
    values = run_ours(tool, problem, seed, budget) if tool in OURS else run_optuna(tool, problem, seed, budget)
    return {
        "tool": tool,
        "problem": problem_name,
        "seed": seed,
        "values": values,
        "seconds": time.perf_counter() - started,
    }


def hypervolume_curve(problem: problems.MultiProblem, values: list[list[float]]) -> np.ndarray:
    """Normalised hypervolume of the first ``t`` trials, for ``t = 1 .. len(values)``."""
    return np.array([problem.normalised_hypervolume(values[:t]) for t in range(1, len(values) + 1)])


def wide_hypervolume(problem: problems.MultiProblem, values: list[list[float]]) -> float:
    """Hypervolume up to :data:`WIDE_REFERENCE`, divided by the true front's (from 4,001 points of it)."""
    f1 = np.linspace(0.0, 1.0, 4001)
    front = pareto.hypervolume(np.c_[f1, problem.front(f1)], WIDE_REFERENCE)
    return pareto.hypervolume(values, WIDE_REFERENCE) / front


def summarise(runs: list[dict], budget: int) -> dict:
    """Per problem and tool: hypervolume quartiles at the checkpoints, the curves' quartiles, ms per trial."""
    checkpoints = sorted({budget // 2, budget})
    out: dict = {}
    for problem_name in sorted({r["problem"] for r in runs}):
        problem = problems.get_multi(problem_name)
        for tool in TOOLS:
            mine = [r for r in runs if r["problem"] == problem_name and r["tool"] == tool]
            if not mine:
                continue
            curves = np.array([hypervolume_curve(problem, r["values"]) for r in mine])
            wide = [wide_hypervolume(problem, r["values"][:budget]) for r in mine]
            out.setdefault(problem_name, {})[tool] = {
                "hypervolume": {
                    str(c): [float(q) for q in np.percentile(curves[:, c - 1], [25, 50, 75])] for c in checkpoints
                },
                "hypervolume_wide": [float(q) for q in np.percentile(wide, [25, 50, 75])],
                "final": [float(x) for x in curves[:, -1]],
                "ms_per_trial": 1000 * float(np.mean([r["seconds"] / len(r["values"]) for r in mine])),
                "curve_quartiles": np.percentile(curves, [25, 50, 75], axis=0).tolist(),
            }
    return out


def print_tables(summary: dict, seeds: int) -> None:
    """Markdown tables: median [quartiles] normalised hypervolume at the checkpoints."""
    for problem_name, tools in summary.items():
        problem = problems.get_multi(problem_name)
        checkpoints = list(next(iter(tools.values()))["hypervolume"])
        print(
            f"\n### {problem_name} (hypervolume up to {problem.reference} / the true front's "
            f"{problem.front_hypervolume:.4f}; {seeds} seeds)\n"
        )
        head = " | ".join(f"hypervolume @{c}" for c in checkpoints)
        print(f"| tool | {head} | @{checkpoints[-1]}, reference {WIDE_REFERENCE} | ms/trial |")
        print("|---|" + "---|" * (len(checkpoints) + 2))
        for tool, s in tools.items():
            cells = " | ".join(f"{q[1]:.3f} [{q[0]:.3f}, {q[2]:.3f}]" for q in s["hypervolume"].values())
            w = s["hypervolume_wide"]
            print(f"| {LABELS[tool]} | {cells} | {w[1]:.4f} [{w[0]:.4f}, {w[2]:.4f}] | {s['ms_per_trial']:.1f} |")


def plot(summary: dict, budget: int, path: Path) -> None:
    """Median normalised hypervolume against trials with the quartile band, one panel per problem."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(summary), figsize=(5 * len(summary), 4), squeeze=False)
    for ax, (problem_name, tools) in zip(axes[0], summary.items()):
        x = np.arange(1, budget + 1)
        for tool, s in tools.items():
            lo, med, hi = (np.asarray(q) for q in s["curve_quartiles"])
            ours = tool in OURS
            ax.plot(
                x,
                med,
                color=COLORS[tool],
                linewidth=2 if ours else 1.2,
                linestyle="-" if ours else "--",
                label=LABELS[tool],
            )
            ax.fill_between(x, lo, hi, color=COLORS[tool], alpha=0.12)
        ax.set_xlabel("trials")
        ax.set_ylabel("hypervolume / true front's")
        ax.set_ylim(0, 1)
        ax.set_title(f"{problem_name} (reference point (1.1, 1.1))")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    axes[0][-1].legend(handles, labels, loc="upper left", fontsize=8)
    fig.suptitle("Hypervolume of all trials so far: median over seeds, bands: quartiles")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = bench_parser(__doc__, quick="3 seeds, 100 trials", choices=TOOLS)
    parser.add_argument("--seeds", type=int, help="seeds per tool and problem (default 10, quick 3)")
    parser.add_argument("--first-seed", type=int, default=100, help="the first seed (default 100, see above)")
    parser.add_argument("--budget", type=int, help="trials per run (default 200, quick 100)")
    names = sorted(problems.MULTI_PROBLEMS)
    parser.add_argument("--problems", nargs="+", default=names, choices=names)
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="runs in parallel (default: all cores)")
    args = parser.parse_args()
    name = "multiobjective_quick" if args.quick else "multiobjective"
    if args.replot:  # the summary is recomputed from the saved runs and written back
        saved = load_results(args.replot)
        saved["summary"] = summarise(saved["runs"], saved["budget"])
        Path(args.replot).write_text(json.dumps(saved, indent=1))
        print_tables(saved["summary"], saved["seeds"])
        plot(saved["summary"], saved["budget"], Path(args.replot).with_suffix(".png"))
        return
    seeds = args.seeds or (3 if args.quick else 10)
    default_budget = 100 if args.quick else 200
    budget = args.budget or default_budget
    if budget != default_budget:  # a longer (or shorter) run keeps the default one's files
        name += f"_{budget}"
    seed_list = list(range(args.first_seed, args.first_seed + seeds))
    jobs = [(tool, p, seed, budget) for p in args.problems for tool in args.tools for seed in seed_list]
    jobs.sort(key=lambda job: job[0] != "optuna_tpe")  # the slow runs first
    started = time.perf_counter()
    runs = []
    from tqdm import tqdm

    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for run in tqdm(pool.map(one_run, jobs), total=len(jobs), desc="runs", unit="run"):
            runs.append(run)
    elapsed = time.perf_counter() - started

    summary = summarise(runs, budget)
    print(f"\nMachine: {describe_machine()}; {len(jobs)} runs in {elapsed:.0f} s")
    print_tables(summary, seeds)
    path = save_results(
        name,
        {
            "budget": budget,
            "seeds": seeds,
            "seed_list": seed_list,
            "elapsed_s": elapsed,
            "summary": summary,
            "runs": runs,
        },
    )
    plot(summary, budget, RESULTS / f"{name}.png")
    print(f"\nresults: {path}, plot: {RESULTS / f'{name}.png'}")


if __name__ == "__main__":
    main()
