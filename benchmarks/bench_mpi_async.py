"""Lock-step MPI rounds against the asynchronous MPI pool, on trials of unequal length.

Each trial sleeps for a duration drawn from its own seed (log-normal, median 0.25 s,
clipped to 0.05-2 s), so the same params give the same duration on every backend,
and the random strategy proposes the same params in the same order whatever the
finish order: every run trains the same trials, and only the scheduling differs.
Sleep-based trials measure scheduling, not compute, which is what a 2-core machine
shared with other work can measure honestly.

Rows (asynchronous loop mode unless said):

* ``mpi``, N ranks: the collective executor, one trial per rank per round, rank 0 training too;
* ``mpi_async``, N ranks: the pool on the same ranks (rank 0 drives, N - 1 train);
* ``mpi_async``, N + 1 ranks: the pool with as many training ranks as the rounds;
* ``mpi_async``, N + 1 ranks, synchronous mode (batches of N): what waiting for a batch costs.

For each run: the search's wall time (first trial start to last trial end, and the
whole ``mpiexec`` command), and the idle fraction: the time ranks spend outside a
trial over the rank-time (ranks x wall time), over the ranks that train and over all
ranks (rank 0 of the pool counted idle: it only drives).

    python benchmarks/bench_mpi_async.py                        # about 2 minutes on 2 cores
    python benchmarks/bench_mpi_async.py --trials 40 --ranks 3 --repeats 3

Results go to ``benchmarks/results/mpi_async.{json,png}``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 0
SPACE = {
    "x": {"type": "float", "low": -5.0, "high": 5.0},
    "y": {"type": "float", "low": -5.0, "high": 5.0},
    "k": {"type": "int", "low": 0, "high": 9},
}


def duration(seed: int) -> float:
    """A trial's length in seconds, from its seed: log-normal, median 0.25 s, clipped to 0.05-2 s."""
    return min(2.0, max(0.05, 0.25 * math.exp(random.Random(seed).gauss(0.0, 0.7))))


def sleeper(params, *, seed, trial_id):
    """The objective: sleeps for :func:`duration` of its seed, returns x^2 + y^2 + k."""
    time.sleep(duration(seed))
    return params["x"] ** 2 + params["y"] ** 2 + params["k"]


# -- the job (runs on every rank inside mpiexec) -----------------------------------------------


def job(backend: str, store_path: str, trials: int, mode: str, batch: int) -> None:
    """One search on ``backend`` (``mpi`` or ``mpi_async``); rank 0 prints its trials as JSON."""
    sys.path.insert(0, str(ROOT))
    from hpo import strategies
    from hpo.executors import join
    from hpo.loop import Budget, run_search
    from hpo.space import Space
    from hpo.store import TrialStore

    executor = join(backend, gpus=[])
    if executor is None:  # not rank 0: served its share
        return
    store = TrialStore(store_path)
    store.create_search({"bench": "mpi_async"}, seed=SEED)
    summary = run_search(
        sleeper,
        strategies.get("random", Space.from_dict(SPACE), seed=SEED),
        store,
        executor,
        Budget(trials=trials),
        seed=SEED,
        synchronous=mode == "sync",
        batch_size=batch,
        progress=False,
        keep_artifacts=False,
    )
    rows = [(t.params_hash, t.worker, t.started, t.ended, t.seed) for t in store.trials()]
    print("JSON" + json.dumps({"workers": executor.n_workers, "done": summary.done, "trials": rows}))


# -- measuring ------------------------------------------------------------------------------


def idle(trials: list, ranks: int, training_ranks: list[str]) -> dict:
    """Wall time of the search and the ranks' idle fractions, from the trials' start and end times."""
    start = min(t[2] for t in trials)
    end = max(t[3] for t in trials)
    span = end - start
    busy = {name: 0.0 for name in training_ranks}
    for _, worker, started, ended, _ in trials:
        busy[worker] += ended - started
    in_trials = sum(busy.values())
    return {
        "search_s": span,
        "idle_training_ranks": 1 - in_trials / (len(training_ranks) * span),
        "idle_all_ranks": 1 - in_trials / (ranks * span),
        "trials_per_rank": {name: sum(t[1] == name for t in trials) for name in training_ranks},
        "work_s": in_trials,
    }


def run(workdir: Path, backend: str, ranks: int, trials: int, mode: str, batch: int, repeat: int) -> dict:
    """One ``mpiexec`` run; its figures."""
    from hpo.distributed import without_launcher

    store = workdir / f"{backend}-{ranks}-{mode}-{repeat}.db"
    flags = ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    command = [
        str(Path(sys.executable).parent / "mpiexec"),
        *flags,
        "-n",
        str(ranks),
        sys.executable,
        __file__,
        "--job",
        backend,
        str(store),
        str(trials),
        mode,
        str(batch),
    ]
    env = without_launcher()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    command_s = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{backend} on {ranks} ranks failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    figures = json.loads(next(line.split("JSON", 1)[1] for line in done.stdout.splitlines() if "JSON" in line))
    training = [f"rank{r}" for r in (range(ranks) if backend == "mpi" else range(1, ranks))]
    result = idle(figures["trials"], ranks, training)
    result.update(command_s=command_s, trials=len(figures["trials"]), timeline=figures["trials"])
    return result


# (label, backend, ranks offset from --ranks, mode)
ROWS = [
    ("lock-step rounds (mpi), N ranks", "mpi", 0, "async"),
    ("async pool (mpi_async), N ranks", "mpi_async", 0, "async"),
    ("async pool (mpi_async), N+1 ranks", "mpi_async", 1, "async"),
    ("async pool (mpi_async), N+1 ranks, sync mode", "mpi_async", 1, "sync"),
]


def measure(trials: int, ranks: int, repeats: int) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, backend, extra, mode in ROWS:
            n = ranks + extra
            runs = [run(Path(tmp), backend, n, trials, mode, ranks, r) for r in range(repeats)]
            median = sorted(runs, key=lambda r: r["search_s"])[len(runs) // 2]
            row = {
                "label": label.replace("N+1", str(ranks + 1)).replace("N ranks", f"{ranks} ranks"),
                "backend": backend,
                "ranks": n,
                "training_ranks": n if backend == "mpi" else n - 1,
                "mode": mode,
                "search_s": [r["search_s"] for r in runs],
                "command_s": [r["command_s"] for r in runs],
                "idle_training_ranks": [r["idle_training_ranks"] for r in runs],
                "idle_all_ranks": [r["idle_all_ranks"] for r in runs],
                "median_run": {k: v for k, v in median.items()},
                "trial_set": sorted((t[0], t[4]) for t in median["timeline"]),
            }
            rows.append(row)
            print(
                f"  {row['label']:<46} search {statistics.median(row['search_s']):5.2f} s "
                f"(command {statistics.median(row['command_s']):5.2f} s), idle "
                f"{100 * statistics.median(row['idle_training_ranks']):4.1f} % of the training ranks' time, "
                f"{100 * statistics.median(row['idle_all_ranks']):4.1f} % of all ranks'; "
                f"trials per rank {median['trials_per_rank']}",
                flush=True,
            )
    reference = rows[0]["trial_set"]
    for row in rows:
        row["same_trials_as_lock_step"] = row.pop("trial_set") == reference
    return {"rows": rows, "work_s": rows[0]["median_run"]["work_s"]}


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"][:2]
    fig, axes = plt.subplots(len(rows), 1, figsize=(11, 1.2 + 1.3 * len(rows)), sharex=True)
    for ax, row in zip(axes, rows):
        timeline = row["median_run"]["timeline"]
        start = min(t[2] for t in timeline)
        names = sorted({t[1] for t in timeline}, key=lambda n: int(n[4:]))
        for i, name in enumerate(names):
            spans = [(t[2] - start, t[3] - t[2]) for t in timeline if t[1] == name]
            ax.broken_barh(spans, (i - 0.4, 0.8), facecolors="tab:blue", edgecolors="white", linewidth=0.5)
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        median = row["median_run"]
        ax.set_title(
            f"{row['label']}: search {median['search_s']:.1f} s, "
            f"{100 * median['idle_training_ranks']:.0f} % idle (training ranks)",
            fontsize=9,
            loc="left",
        )
    axes[-1].set_xlabel("seconds since the first trial (a bar is a trial)")
    fig.suptitle(
        f"{results['trials']} sleep trials of unequal length, {results['machine']} ({results['date']})", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--job", nargs=5, metavar=("BACKEND", "STORE", "TRIALS", "MODE", "BATCH"), help=argparse.SUPPRESS
    )
    parser.add_argument("--trials", type=int, default=40, help="trials per run (default 40)")
    parser.add_argument("--ranks", type=int, default=4, help="N, the ranks of the lock-step run (default 4)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per row; the median is reported (default 3)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "mpi_async"))
    args = parser.parse_args()
    if args.job:
        backend, store, trials, mode, batch = args.job
        job(backend, store, int(trials), mode, int(batch))
        return
    sys.path.insert(0, str(ROOT))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{args.trials} sleep trials of unequal length, random strategy, seed {SEED}; N = {args.ranks} ranks")
    results = {
        "machine": f"{platform.machine()}, {cores} cores, no GPU, Python {platform.python_version()}",
        "date": datetime.date.today().isoformat(),
        "trials": args.trials,
        "ranks": args.ranks,
        "repeats": args.repeats,
        **measure(args.trials, args.ranks, args.repeats),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    print(f"results: {out.with_suffix('.json')}")
    plot(results, out.with_suffix(".png"))


if __name__ == "__main__":
    main()
