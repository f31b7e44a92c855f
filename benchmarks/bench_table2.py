"""Report 004's Table 2 on FIB-SEM-like slices: does the dense depth n of "C4Fn" matter, and what does a search save?

The report trained "C4Fn" classifiers (4 convolution layers, n fully connected layers
counting the softmax, n = 2..9) on (1000 nm)^2 slices of FIB-SEM volumes at 2 nm and
counted correct answers per class out of 880 evaluation images: n-SBR went from 542
(C4F9) to 833 (C4F8), so the architecture looked like a hyperparameter worth searching.
The report gives no image size, epochs or optimizer for this table. We repeat it on the
FIB-SEM-like stacks of our generated structures (data set ``filler_fibsem``), with the
search configuration ``keras_geo/configs/filler_fibsem.yaml`` at the sizes below:

1. **The grid.** ``cnfm`` with ``n=4`` and ``m`` = the report's n, every other setting
   at the builder's and training's defaults (16 filters doubling per block, 3 x 3
   kernels, batch norm, flatten head, 64 units and dropout 0.3 per dense layer; Adam
   at 1e-3, batch 32, early stopping on the validation loss), for every n and several
   seeds. A seed sets the structures, stacks and slices of all three splits (each split
   from its own structures) and the initial weights and batch order, so the spread over
   seeds is everything but n. Results in the report's form: correct per class out of the
   evaluation images, per seed and pooled, beside the report's counts.
2. **Does n matter?** One-way ANOVA and Kruskal-Wallis (scipy) of the per-seed test
   accuracies grouped by n; the share of their variance that n explains (eta squared;
   the rest is seed noise) and the between-n range of the means against the spread
   within an n.
3. **What a search saves.** GA+TPE and random search (``hpo.loop.run_search`` through
   ``bench_cnn_search.run_ours``: serial executor, the config's strategy settings) over
   m = 2..9 together with filters, kernel size, units, dropout, learning rate and
   optimizer (the config's space), each for several seeds on that seed's data. GA+TPE
   starts from 6 Latin-hypercube points (the config's ``n_startup``), then breeds and models. The
   target is the grid's best: the highest median-over-seeds validation accuracy of any
   n (the search's own objective). Recorded: after how many trainings (trials that
   trained, a repeated params set not counted) each search first matches it; the median
   over seeds, against the grid's n-count trainings per seed.

    python benchmarks/bench_table2.py --quick   # n = 2, 5, 9; 2 seeds; small sets, 4 nm stacks (a few minutes)
    python benchmarks/bench_table2.py           # n = 2..9; 3 seeds; 300/100/880 per class, 2 nm stacks (48 min on 2 cores)

Results: ``benchmarks/results/table2.json`` and ``table2.png``; ``--quick`` writes
``table2_quick.*`` (ignored by git).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cnn_search import Trainer, run_ours
from common import RESULTS, bench_parser, describe_machine, load_results, pyplot, save_results

CONFIG = Path(__file__).resolve().parents[1] / "keras_geo" / "configs" / "filler_fibsem.yaml"
CLASSES = ("M-SBR", "n-SBR", "Rnd")

# Report 004, Table 2: correct answers out of 880 evaluation images per class (M-SBR, n-SBR, Rnd).
REPORT_TABLE2 = {
    2: (753, 767, 880),
    3: (744, 717, 880),
    4: (863, 812, 880),
    5: (880, 766, 880),
    6: (878, 823, 880),
    7: (878, 741, 880),
    8: (878, 833, 880),
    9: (880, 542, 880),
}
REPORT_N = 880

# Sizes per mode; "full" is the report's scaled to about an hour on 2 cores (the report: 880
# evaluation images per class, 2 nm voxels, 1000 nm fields of view; training sizes unstated).
RUNS: dict[str, dict[str, Any]] = {
    "quick": {
        "ms": [2, 5, 9],
        "seeds": 2,
        "n_train": 100,
        "n_val": 30,
        "n_test": 100,
        "voxel_nm": 4.0,
        "epochs": 10,
        "search_seeds": 2,
        "trials": 6,
    },
    "full": {
        "ms": list(range(2, 10)),
        "seeds": 3,
        "n_train": 300,
        "n_val": 100,
        "n_test": 880,
        "voxel_nm": 2.0,
        "epochs": 12,
        "search_seeds": 3,
        "trials": 12,
    },
}
STRATEGIES = ("ga_tpe", "random")
LABELS = {"ga_tpe": "GA+TPE", "random": "random"}


# --------------------------------------------------------------------------- #
# the problem: config, data per seed
# --------------------------------------------------------------------------- #
def load_problem(size: Mapping[str, Any], seed: int) -> tuple[Any, Any]:
    """The FIB-SEM configuration at ``size`` with data seed ``seed``, and its data (generated once, then cached)."""
    from keras_geo.config import load_config
    from keras_geo.search import load_data

    changes = {
        "dataset": {k: size[k] for k in ("n_train", "n_val", "n_test", "voxel_nm")} | {"seed": seed},
        "training": {"epochs": size["epochs"]},
    }
    config = load_config(CONFIG, changes=changes)
    return config, load_data(config)


# --------------------------------------------------------------------------- #
# 1. the grid over n
# --------------------------------------------------------------------------- #
def grid_cell(config: Any, data: Any, m: int, seed: int) -> dict[str, Any]:
    """One C4Fm training at the config's fixed settings: per-class test counts, accuracies, epochs, seconds."""
    from keras_geo import training

    params = {**config.model.fixed, **config.training, "m": int(m)}
    started = time.perf_counter()
    try:
        result = training.train(config.model.builder, data, params, seed=seed, class_names=data.class_names)
    except training.TrainingDiverged:
        n = len(data["test"][1]) // len(CLASSES)
        return {"m": m, "seed": seed, "correct": [0, 0, 0], "totals": [n] * 3, "val_accuracy": 0.0, "diverged": True}
    report = result.reports["test"]
    return {
        "m": int(m),
        "seed": int(seed),
        "correct": [int(c) for c in report.correct],
        "totals": [int(t) for t in report.totals],
        "test_accuracy": float(report.accuracy),
        "val_accuracy": float(result.metrics["val_accuracy"]),
        "epochs": int(result.metrics["epochs"]),
        "seconds": time.perf_counter() - started,
    }


def accuracy(cell: Mapping[str, Any]) -> float:
    """Test accuracy of a grid cell (correct over totals, all classes)."""
    return sum(cell["correct"]) / sum(cell["totals"])


# --------------------------------------------------------------------------- #
# 2. does n matter? (one-way tests, variance shares)
# --------------------------------------------------------------------------- #
def n_effect(cells: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One-way ANOVA and Kruskal-Wallis of per-seed test accuracies grouped by n, eta squared, and
    the between-n range of the means beside the mean within-n range over seeds."""
    from scipy import stats

    ms = sorted({c["m"] for c in cells})
    groups = [np.array([accuracy(c) for c in cells if c["m"] == m]) for m in ms]
    means = np.array([g.mean() for g in groups])
    values = np.concatenate(groups)
    total = float(((values - values.mean()) ** 2).sum())
    between = float(sum(len(g) * (g.mean() - values.mean()) ** 2 for g in groups))
    out: dict[str, Any] = {
        "ms": ms,
        "mean_accuracy": means.tolist(),
        "between_n_range": float(means.max() - means.min()),
        "within_n_range": float(np.mean([g.max() - g.min() for g in groups])),
        "within_n_sd": float(np.sqrt(np.mean([g.var(ddof=1) for g in groups]))) if min(map(len, groups)) > 1 else None,
        "eta_squared": between / total if total > 0 else 0.0,
        "anova_p": None,
        "kruskal_p": None,
    }
    if len(groups) > 1 and min(map(len, groups)) > 1 and total > 0:
        out["anova_p"] = float(stats.f_oneway(*groups).pvalue)
        try:
            out["kruskal_p"] = float(stats.kruskal(*groups).pvalue)
        except ValueError:  # all values identical
            pass
    return out


def report_effect() -> dict[str, float]:
    """The report's own between-n range of the accuracy (one run per n, no seed spread)."""
    acc = {m: sum(v) / (3 * REPORT_N) for m, v in REPORT_TABLE2.items()}
    return {"min": min(acc.values()), "max": max(acc.values()), "range": max(acc.values()) - min(acc.values())}


# --------------------------------------------------------------------------- #
# 3. searches: trainings to reach the grid's best
# --------------------------------------------------------------------------- #
def grid_target(cells: Sequence[Mapping[str, Any]]) -> tuple[int, float]:
    """The grid's best n and its median-over-seeds validation accuracy (the searches' target)."""
    medians = {m: float(np.median([c["val_accuracy"] for c in cells if c["m"] == m])) for m in {c["m"] for c in cells}}
    best = max(sorted(medians), key=lambda m: medians[m])
    return best, medians[best]


def trainings_to_target(trials: Sequence[Mapping[str, Any]], target: float) -> int | None:
    """Trainings (trials that trained: repeats of a params set not counted) until the first value >= target."""
    trained = 0
    for trial in trials:
        trained += not trial["duplicate"]
        if trial["value"] is not None and trial["value"] >= target - 1e-9:
            return trained
    return None


def median_trainings(counts: Sequence[int | None]) -> float:
    """Median of trainings-to-target over seeds; a search that never matched counts as infinite."""
    return float(np.median([np.inf if c is None else c for c in counts]))


# --------------------------------------------------------------------------- #
# printing and plotting
# --------------------------------------------------------------------------- #
def print_results(saved: Mapping[str, Any]) -> None:
    """The grid in the report's form beside the report's counts, the n test, and the searches."""
    cells, size = saved["grid"], saved["size"]
    seeds = sorted({c["seed"] for c in cells})
    n_test = size["n_test"]
    print(
        f"\n| C4Fn | ours M-SBR | ours n-SBR | ours Rnd | ours acc. (mean ± sd over {len(seeds)} seeds) "
        f"| per seed | report (of {REPORT_N}) | report acc. |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for m in saved["effect"]["ms"]:
        mine = [c for c in cells if c["m"] == m]
        correct = np.sum([c["correct"] for c in mine], axis=0)
        totals = np.sum([c["totals"] for c in mine], axis=0)
        acc = np.array([accuracy(c) for c in mine])
        sd = f" ± {acc.std(ddof=1):.1%}" if len(acc) > 1 else ""
        per_seed = ", ".join(f"{a:.1%}" for a in acc)
        rep = REPORT_TABLE2[m]
        print(
            f"| C4F{m} | {' | '.join(f'{c}/{t}' for c, t in zip(correct, totals))} | {acc.mean():.1%}{sd} "
            f"| {per_seed} | {' / '.join(map(str, rep))} | {sum(rep) / (3 * REPORT_N):.1%} |"
        )
    effect, rep = saved["effect"], report_effect()
    fmt = lambda p: "n/a" if p is None else f"{p:.3g}"  # noqa: E731
    sd = "n/a" if effect["within_n_sd"] is None else f"{effect['within_n_sd']:.1%}"
    print(
        f"\nCounts pooled over {len(seeds)} seeds (each seed: {n_test} evaluation images per class).\n"
        f"Does n matter? between-n range of the mean accuracy {effect['between_n_range']:.1%}; within an n, "
        f"range over seeds {effect['within_n_range']:.1%} on average (pooled sd {sd}); n explains "
        f"{effect['eta_squared']:.0%} of the variance (seed noise {1 - effect['eta_squared']:.0%}); "
        f"one-way ANOVA p = {fmt(effect['anova_p'])}, Kruskal-Wallis p = {fmt(effect['kruskal_p'])}.\n"
        f"Report: accuracy {rep['min']:.1%}..{rep['max']:.1%} over n (range {rep['range']:.1%}), one run per n."
    )
    search = saved["search"]
    print(
        f"\nSearch target: the grid's best, C4F{search['best_m']} at median validation accuracy "
        f"{search['target']:.3f}; the grid costs {len(effect['ms'])} trainings per seed "
        f"({len(effect['ms']) * len(seeds)} in all)."
    )
    print("| strategy | trainings to match, per seed | median | best val. acc. per seed | best n per seed |")
    print("|---|---|---|---|---|")
    for name in STRATEGIES:
        runs = [r for r in search["runs"] if r["strategy"] == name]
        if not runs:
            continue
        counts = [r["trainings_to_target"] for r in runs]
        med = median_trainings(counts)
        med_text = f"> {search['trials']}" if not np.isfinite(med) else f"{med:g}"
        best = [max((t["value"] for t in r["trials"] if t["value"] is not None), default=float("nan")) for r in runs]
        best_m = [r["best_params"].get("m") if r["best_params"] else None for r in runs]
        print(
            f"| {LABELS[name]} | {', '.join('-' if c is None else str(c) for c in counts)} | {med_text} "
            f"| {', '.join(f'{b:.3f}' for b in best)} | {', '.join(map(str, best_m))} |"
        )


def plot(saved: Mapping[str, Any], path: Path) -> None:
    """Left: test accuracy against n (ours per seed and mean, the report's); right: best validation
    accuracy so far against trainings for each search (median over seeds) and the grid's target."""
    plt = pyplot()
    cells, effect, search = saved["grid"], saved["effect"], saved["search"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for seed in sorted({c["seed"] for c in cells}):
        pts = sorted((c["m"], accuracy(c)) for c in cells if c["seed"] == seed)
        left.plot(*zip(*pts), "o", color="tab:blue", alpha=0.4, markersize=4)
    left.plot(effect["ms"], effect["mean_accuracy"], "-", color="tab:blue", label="ours, mean over seeds (dots: seeds)")
    rep = sorted((m, sum(v) / (3 * REPORT_N)) for m, v in REPORT_TABLE2.items())
    left.plot(*zip(*rep), "x--", color="grey", label="report 004, Table 2")
    left.set_xlabel("n of C4Fn (dense layers, softmax included)")
    left.set_ylabel("evaluation accuracy")
    left.set_ylim(0.3, 1.02)
    left.axhline(1 / 3, color="k", linewidth=0.5)
    left.legend(fontsize=7, loc="lower left")
    left.set_title("Accuracy against n")
    for name, color in zip(STRATEGIES, ("tab:red", "tab:green")):
        runs = [r for r in search["runs"] if r["strategy"] == name]
        if not runs:
            continue
        curves = [
            np.maximum.accumulate([-np.inf if t["value"] is None else t["value"] for t in r["trials"]]) for r in runs
        ]
        length = min(len(c) for c in curves)
        med = np.median([c[:length] for c in curves], axis=0)
        right.plot(np.arange(1, length + 1), med, marker=".", color=color, label=f"{LABELS[name]} (median)")
    right.axhline(search["target"], color="tab:blue", linestyle="--", label=f"grid's best (C4F{search['best_m']})")
    right.axvline(len(effect["ms"]), color="grey", linewidth=0.8, linestyle=":", label="grid: trainings per seed")
    right.set_xlabel("trials (a repeated params set is not trained again)")
    right.set_ylabel("best validation accuracy so far")
    right.legend(fontsize=7, loc="lower right")
    right.set_title("Search against the grid")
    fig.suptitle(f"Table 2 on FIB-SEM-like slices ({saved['mode']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# --------------------------------------------------------------------------- #
def main() -> None:
    parser = bench_parser(__doc__, quick="n = 2, 5, 9; 2 seeds; small sets and 4 nm stacks (a few minutes)")
    parser.add_argument("--ms", type=int, nargs="+", help="the n of C4Fn to train (default 2..9, quick 2 5 9)")
    parser.add_argument("--seeds", type=int, help="grid seeds (default 3, quick 2)")
    parser.add_argument("--search-seeds", type=int, help="seeds per search strategy (default 3, quick 2)")
    parser.add_argument("--trials", type=int, help="trials per search (default 12, quick 6)")
    args = parser.parse_args()
    if args.replot:
        saved = load_results(args.replot)
        print_results(saved)
        plot(saved, Path(args.replot).with_suffix(".png"))
        return
    mode = "quick" if args.quick else "full"
    size = dict(RUNS[mode])
    for key in ("ms", "seeds", "search_seeds", "trials"):
        if getattr(args, key) is not None:
            size[key] = getattr(args, key)
    name = "table2_quick" if args.quick else "table2"
    started = time.perf_counter()

    problems: dict[int, tuple[Any, Any]] = {}

    def problem(seed: int) -> tuple[Any, Any]:
        if seed not in problems:
            t0 = time.perf_counter()
            problems[seed] = load_problem(size, seed)
            print(f"data seed {seed}: FIB-SEM-like splits ready in {time.perf_counter() - t0:.0f} s", flush=True)
        return problems[seed]

    cells = []
    for seed in range(size["seeds"]):
        config, data = problem(seed)
        for m in size["ms"]:
            cell = grid_cell(config, data, m, seed)
            cells.append(cell)
            print(
                f"C4F{m} seed {seed}: test {accuracy(cell):.1%} "
                f"({', '.join(f'{c}/{t}' for c, t in zip(cell['correct'], cell['totals']))}), "
                f"val {cell['val_accuracy']:.3f}, {cell.get('epochs', 0)} epochs in {cell.get('seconds', 0):.0f} s",
                flush=True,
            )
    effect = n_effect(cells)
    best_m, target = grid_target(cells)

    runs = []
    for name_ in STRATEGIES:
        for seed in range(size["search_seeds"]):
            config, data = problem(seed)
            from hpo.space import Space

            space = Space.from_dict(config.search.space)
            settings = config.search.strategy.get("settings", {}) if name_ == config.search.strategy["name"] else {}
            t0 = time.perf_counter()
            recorder = run_ours(
                name_, space, Trainer(config, data, data.class_names), seed, size["trials"], settings=settings
            )
            done = [t for t in recorder.trials if t["value"] is not None]
            best = max(done, key=lambda t: t["value"]) if done else None
            run = {
                "strategy": name_,
                "seed": seed,
                "trials": recorder.trials,
                "trainings_to_target": trainings_to_target(recorder.trials, target),
                "best_params": best["params"] if best else None,
                "seconds": time.perf_counter() - t0,
            }
            runs.append(run)
            print(
                f"{LABELS[name_]} seed {seed}: best val {best['value'] if best else float('nan'):.3f} "
                f"(m={run['best_params'].get('m') if best else None}), target {target:.3f} matched after "
                f"{run['trainings_to_target'] or '-'} trainings, {run['seconds']:.0f} s",
                flush=True,
            )
    elapsed = time.perf_counter() - started

    config, _ = problem(0)
    saved = {
        "mode": mode,
        "size": size,
        "config": str(CONFIG.relative_to(CONFIG.parents[2])),
        "dataset": config.to_dict()["dataset"],
        "model": config.to_dict()["model"],
        "training": config.training,
        "space": config.search.space,
        "report_table2": {str(m): v for m, v in REPORT_TABLE2.items()},
        "grid": cells,
        "effect": effect,
        "search": {"best_m": best_m, "target": target, "trials": size["trials"], "runs": runs},
        "elapsed_s": elapsed,
    }
    print(f"\nMachine: {describe_machine()}; {elapsed:.0f} s in all ({mode})")
    print(
        f"Data: filler_fibsem, FOV 1000 nm, 64 px, voxel {size['voxel_nm']:g} nm, "
        f"{size['n_train']}/{size['n_val']}/{size['n_test']} slices per class (train/val/test); "
        f"up to {size['epochs']} epochs"
    )
    print_results(saved)
    path = save_results(name, saved)
    plot(saved, RESULTS / f"{name}.png")
    print(f"\nresults: {path}, plot: {RESULTS / f'{name}.png'}")


if __name__ == "__main__":
    main()
