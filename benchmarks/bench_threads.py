"""What fixing a trial's thread count costs: the demo's search in sync mode on 1 and 2 intra-op threads.

TensorFlow's CPU results depend on the intra-op thread count, so a ``mode: sync``
search runs every trial on ``executor.threads`` threads (1 unless set) and gives the
same values with any number of workers. With one worker on a multi-core machine,
that leaves cores idle. This benchmark runs the demo configuration
(``keras_geo/configs/filler_ga_tpe.yaml``) as a sync search with ``--trials`` trials per
seed, each setting in its own fresh process, side by side:

* 1 worker x 1 thread (the sync default),
* 1 worker x all cores (``executor.threads`` = cores: what a 1-worker search ran on before),
* W workers x 1 thread (W = cores: the sync default that uses the whole machine),

and reports the mean trial time and the search's wall time, as ratios to the first.

    python benchmarks/bench_threads.py [--quick] [--trials N] [--seeds 0 1]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_parser, describe_machine, save_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "keras_geo" / "configs" / "filler_ga_tpe.yaml"


def run_search(workers: int, threads: int, seed: int, trials: int, folder: Path) -> dict:
    """One sync search in a fresh process; its mean trial time (train_time_s) and wall time."""
    from hpo.store import TrialStore

    config = {
        "base": str(CONFIG),
        "mode": "sync",
        "batch_size": max(2, workers),
        "seed": seed,
        "budget": {"trials": trials},
        "executor": {"name": "local", "workers": workers, "threads": threads},
    }
    path = folder / f"w{workers}_t{threads}_s{seed}.yaml"
    path.write_text(yaml.safe_dump(config))
    store = folder / f"w{workers}_t{threads}_s{seed}.db"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "keras_geo.cli", "search", str(path), "--store", str(store)],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    done = [t for t in TrialStore(store).trials() if t.status == "done"]
    return {
        "workers": workers,
        "threads": threads,
        "seed": seed,
        "wall_s": wall,
        "mean_trial_s": statistics.mean(t.metrics["train_time_s"] for t in done),
        "values": [t.value for t in done],
    }


def main() -> None:
    parser = bench_parser(__doc__, quick="4 trials, one seed", trials="trials per search (default 12)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    if args.replot:
        rows = json.loads(Path(args.replot).read_text())["rows"]
    else:
        trials = 4 if args.quick else (args.trials or 12)
        seeds = args.seeds[:1] if args.quick else args.seeds
        cores = os.cpu_count() or 1
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for seed in seeds:
                for workers, threads in ((1, 1), (1, cores), (cores, 1)):
                    rows.append(run_search(workers, threads, seed, trials, Path(tmp)))
                    print(
                        rows[-1]["workers"],
                        "x",
                        rows[-1]["threads"],
                        f"seed {seed}:",
                        f"{rows[-1]['mean_trial_s']:.2f} s/trial, {rows[-1]['wall_s']:.0f} s",
                        flush=True,
                    )
        save_results("threads_quick" if args.quick else "threads", {"rows": rows})
    print(describe_machine())
    base = {r["seed"]: r for r in rows if r["workers"] == 1 and r["threads"] == 1}
    print("| workers x threads | mean trial (s) | ratio | search wall time (s) | ratio |")
    print("|---|---|---|---|---|")
    for key in sorted({(r["workers"], r["threads"]) for r in rows}):
        chosen = [r for r in rows if (r["workers"], r["threads"]) == key]
        trial = statistics.mean(r["mean_trial_s"] for r in chosen)
        wall = statistics.mean(r["wall_s"] for r in chosen)
        trial_ratio = statistics.mean(r["mean_trial_s"] / base[r["seed"]]["mean_trial_s"] for r in chosen)
        wall_ratio = statistics.mean(r["wall_s"] / base[r["seed"]]["wall_s"] for r in chosen)
        print(f"| {key[0]} x {key[1]} | {trial:.2f} | {trial_ratio:.2f} | {wall:.0f} | {wall_ratio:.2f} |")


if __name__ == "__main__":
    main()
