"""Engine overhead per trial, up to thousands of trials: every strategy of ours beside Optuna.

The objective costs nothing (it hashes the params into a value), so the time
per trial is the engine's alone: the strategy's proposal, the durable store's
transactions (a trial row before it runs, its result after), and telling the
strategy. Ours runs the real loop (``hpo.loop.run_search``, serial executor,
SQLite store with its WAL journal and one commit per state change); Optuna runs
``study.optimize`` with its default TPE sampler on in-memory storage and on
SQLite (``RDBStorage``). The space is the demo's filler-CNN space (8
parameters, two of them conditional).

The per-trial time is measured over windows of trials, so the plot shows how
it grows with the number of trials already in the search.

    python benchmarks/bench_overhead.py              # 5,000 trials, at most 3 min per tool (about 15 min)
    python benchmarks/bench_overhead.py --quick      # 500 trials (about 1 min)
    python benchmarks/bench_overhead.py --tools tpe tpe_unbounded --trials 2000 --time-cap 900 --name overhead_tpe

``tpe_unbounded`` and ``ga_tpe_unbounded`` (not run by default) are the TPE
strategies with ``max_history=None``: TPE sees every result, as before the bound.
``--max-history N`` sets the bound of ``tpe`` and ``ga_tpe`` (default theirs, 500).

A tool stops at 5,000 trials or after 3 minutes, whichever comes first (the
Gaussian process at 1,000 trials). Each tool runs in its own process, one after the other (timings are not shared
with anything else). Results: ``benchmarks/results/overhead.json`` and
``overhead.png`` (``--quick``: ``overhead_quick.*``).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import (  # noqa: E402
    RESULTS,
    bench_parser,
    describe_machine,
    load_results,
    optuna_params,
    pyplot,
    run_worker,
    save_results,
)

OURS = ("random", "grid", "ga", "tpe", "ga_tpe", "bayes", "tpe_unbounded", "ga_tpe_unbounded")
DEFAULT_TOOLS = ("random", "grid", "ga", "tpe", "ga_tpe", "bayes", "optuna_memory", "optuna_sqlite")
# tool -> (strategy, settings)
STRATEGY = {tool: (tool, {}) for tool in OURS}
STRATEGY["grid"] = ("grid", {"shuffle": True, "n_per_float": 10})
STRATEGY["tpe_unbounded"] = ("tpe", {"max_history": None})
STRATEGY["ga_tpe_unbounded"] = ("ga_tpe", {"max_history": None})
PEERS = ("optuna_memory", "optuna_sqlite")
LABELS = {
    "random": "ours random",
    "grid": "ours grid (shuffled)",
    "ga": "ours GA",
    "tpe": "ours TPE",
    "ga_tpe": "ours GA+TPE",
    "tpe_unbounded": "ours TPE, unbounded history",
    "ga_tpe_unbounded": "ours GA+TPE, unbounded history",
    "bayes": "ours GP-EI",
    "optuna_memory": "Optuna TPE, in memory",
    "optuna_sqlite": "Optuna TPE, SQLite",
}
# A Gaussian process refits on every point at every proposal (cubic in the trials): beyond
# this many it is not a tool for long searches, and the benchmark stops it there.
BAYES_CAP = 1000
# No tool runs longer than this (seconds): its curve then ends where it got to.
TIME_CAP_S = 180.0
SMALL_TRIAL_S = 5.0  # a small CNN trial on this machine (BENCHMARKS.md, backends: 4.8 s)
SPACE_CONFIG = HERE.parent / "keras_geo" / "configs" / "filler_base.yaml"  # the demo's space


def space():
    """The demo configuration's search space."""
    import yaml

    from hpo.space import Space

    return Space.from_dict(yaml.safe_load(SPACE_CONFIG.read_text())["space"])


def zero_cost(params, *, seed=0, trial_id=0) -> float:
    """A value that depends on the params only (so the strategies have something to rank), at no cost."""
    from hpo.space import params_hash

    return int(params_hash(params)[:8], 16) / 0xFFFFFFFF


def worker(
    tool: str, trials: int, workdir: str, time_cap_s: float = TIME_CAP_S, max_history: int | None = None
) -> dict:
    """Runs one tool's zero-cost search; returns the clock after every finished trial."""
    stamps: list[float] = []
    if tool in OURS:
        from hpo import strategies
        from hpo.executors import SerialExecutor
        from hpo.loop import Budget, run_search
        from hpo.store import TrialStore

        name, settings = STRATEGY[tool]
        if max_history is not None and tool in ("tpe", "ga_tpe"):
            settings = {**settings, "max_history": max_history}
        store = TrialStore(Path(workdir) / f"{tool}.db")
        store.create_search({"bench": "overhead", "strategy": tool}, seed=0)
        started = time.perf_counter()
        run_search(
            zero_cost,
            strategies.get(name, space(), seed=0, **settings),
            store,
            SerialExecutor(),
            Budget(trials=trials, wall_time_s=time_cap_s),
            seed=0,
            progress=False,
            keep_artifacts=False,
            on_trial=lambda trial: stamps.append(time.perf_counter() - started),
        )
        store.close()
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = f"sqlite:///{Path(workdir) / 'optuna.db'}" if tool == "optuna_sqlite" else None
        study = optuna.create_study(storage=storage, sampler=optuna.samplers.TPESampler(seed=0))
        sp = space()
        started = time.perf_counter()
        study.optimize(
            lambda trial: zero_cost(optuna_params(trial, sp)),
            n_trials=trials,
            timeout=time_cap_s,
            callbacks=[lambda study, trial: stamps.append(time.perf_counter() - started)],
        )
    return {"tool": tool, "stamps": stamps}


def windows(stamps: list[float], width: int) -> list[tuple[int, float]]:
    """(last trial of the window, mean ms per trial in it) for consecutive windows of ``width`` trials."""
    out, t = [], np.asarray([0.0, *stamps])
    for end in range(width, len(stamps) + 1, width):
        out.append((end, 1000 * (t[end] - t[end - width]) / width))
    return out


def run_tool(
    tool: str, trials: int, workdir: str, time_cap_s: float = TIME_CAP_S, max_history: int | None = None
) -> dict:
    """One tool in a fresh interpreter (no state shared between tools)."""
    return run_worker(
        __file__,
        Path(workdir) / f"{tool}.json",
        "--worker",
        tool,
        "--trials",
        str(trials),
        "--workdir",
        workdir,
        "--time-cap",
        str(time_cap_s),
        *(("--max-history", str(max_history)) if max_history is not None else ()),
    )


def summarise(runs: list[dict], trials: int) -> dict:
    """Per tool: mean ms per trial overall, in the first and last windows, and at each checkpoint."""
    width = max(10, trials // 20)
    out = {}
    for run in runs:
        stamps = run["stamps"]
        w = windows(stamps, width)
        out[run["tool"]] = {
            "trials": len(stamps),
            "total_s": stamps[-1],
            "mean_ms": 1000 * stamps[-1] / len(stamps),
            "first_window_ms": w[0][1],
            "last_window_ms": w[-1][1],
            "windows": w,
        }
    return out


def print_table(summary: dict, trials: int) -> None:
    """A markdown table of the per-trial engine time and its share of a small CNN trial."""
    print(
        f"\n| tool | trials | mean ms/trial | ms/trial, first window | ms/trial, last window | "
        f"last window vs a {SMALL_TRIAL_S:.0f} s trial |"
    )
    print("|---|---|---|---|---|---|")
    for tool, s in summary.items():
        share = s["last_window_ms"] / (10 * SMALL_TRIAL_S)
        print(
            f"| {LABELS[tool]} | {s['trials']} | {s['mean_ms']:.1f} | {s['first_window_ms']:.1f} | "
            f"{s['last_window_ms']:.1f} | {share:.2f} % |"
        )


def plot(summary: dict, path: Path) -> None:
    """Engine ms per trial against the number of trials in the search (log y)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for tool, s in summary.items():
        x, y = zip(*s["windows"])
        ax.plot(x, y, marker=".", linestyle="-" if tool in OURS else "--", label=LABELS[tool])
    ax.axhline(20, color="k", linewidth=0.8, linestyle=":")
    ax.text(ax.get_xlim()[0], 21, " goal: 20 ms/trial", fontsize=7, va="bottom")
    ax.set_yscale("log")
    ax.set_xlabel("trials in the search")
    ax.set_ylabel("engine time per trial (ms), zero-cost objective")
    ax.set_title("Engine overhead per trial as the search grows")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = bench_parser(
        __doc__,
        quick="500 trials",
        trials="trials per tool (default 5000, quick 500)",
        choices=OURS + PEERS,
        default=DEFAULT_TOOLS,
        hidden=("worker", "workdir", "out"),
    )
    parser.add_argument(
        "--time-cap", type=float, default=TIME_CAP_S, help=f"seconds per tool (default {TIME_CAP_S:.0f})"
    )
    parser.add_argument("--max-history", type=int, help="max_history of tpe and ga_tpe (default theirs)")
    parser.add_argument("--name", help="results file name (default overhead, or overhead_quick)")
    args = parser.parse_args()
    if args.worker:
        Path(args.out).write_text(
            json.dumps(worker(args.worker, args.trials, args.workdir, args.time_cap, args.max_history))
        )
        return
    name = args.name or ("overhead_quick" if args.quick else "overhead")
    if args.replot:
        saved = load_results(args.replot)
        print_table(saved["summary"], saved["trials"])
        plot(saved["summary"], Path(args.replot).with_suffix(".png"))
        return
    trials = args.trials or (500 if args.quick else 5000)
    runs = []
    with tempfile.TemporaryDirectory() as workdir:
        for tool in args.tools:
            n = min(trials, BAYES_CAP) if tool == "bayes" else trials
            t0 = time.perf_counter()
            runs.append(run_tool(tool, n, workdir, args.time_cap, args.max_history))
            print(f"{LABELS[tool]}: {len(runs[-1]['stamps'])} trials in {time.perf_counter() - t0:.1f} s", flush=True)
    summary = summarise(runs, trials)
    print(f"\nMachine: {describe_machine()}")
    print_table(summary, trials)
    stamps = {run["tool"]: run["stamps"] for run in runs}
    data = {
        "trials": trials,
        "bayes_cap": BAYES_CAP,
        "max_history": args.max_history,
        "summary": summary,
        "stamps": stamps,
    }
    path = save_results(name, data)
    plot(summary, RESULTS / f"{name}.png")
    print(f"\nresults: {path}, plot: {RESULTS / f'{name}.png'}")


if __name__ == "__main__":
    main()
