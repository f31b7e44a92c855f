"""Trials per hour and engine overhead of each backend: serial, local pool, MPI, Horovod.

Two measurements, each backend run side by side in one invocation:

1. **A real search**: the same small filler-CNN search (GA+TPE, synchronous mode,
   same seed) through ``keras-geo-hpo search`` on each backend; trials per hour by
   the command's wall time (start-up included) and by the search loop's own time,
   and whether the store holds the serial run's trials.
2. **Engine overhead**: a zero-cost objective (no training) and many trials, so the
   time per trial is everything but training: strategy, store writes, messages.

    python benchmarks/bench_backends.py                 # about 8 minutes on 2 cores
    python benchmarks/bench_backends.py --trials 8 --overhead-trials 200   # quicker

Horovod runs from ``.venv-horovod`` (TensorFlow 2.17.1, see `make install-horovod`);
a serial run on that environment is included so its figures have a same-TensorFlow
reference. Results go to ``benchmarks/results/backends.{json,png}``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
HOROVOD_PY = ROOT / ".venv-horovod" / "bin" / "python"
SEED = 0

CONFIG = {
    "name": "bench-backends",
    "seed": SEED,
    "mode": "sync",
    "batch_size": 4,
    "dataset": {"name": "filler", "fov_nm": 500, "image_size": 32, "n_train": 100, "n_val": 50, "n_test": 50},
    "model": {"builder": "filler_cnn", "fixed": {"conv_layers": 2}},
    "training": {"epochs": 4, "batch_size": 32, "patience": 4},
    "space": {
        "filters": {"type": "int", "low": 8, "high": 32, "step": 8},
        "units": {"type": "int", "low": 16, "high": 64, "step": 16},
        "learning_rate": {"type": "float", "low": 3.0e-4, "high": 3.0e-3, "log": True},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5},
    },
    "strategy": {"name": "ga_tpe", "settings": {"population_size": 4}},
    "executor": {"name": "serial"},
    "budget": {"trials": 8},
}


# -- the zero-cost job (runs inside mpiexec / horovodrun / plain python) ---------------------


def _zero_cost(params, *, seed, trial_id):
    return sum(float(v) for v in params.values() if isinstance(v, (int, float)))


def job(backend: str, store_path: str, trials: int) -> None:
    """One zero-cost search on ``backend``; rank 0 prints its timings as JSON."""
    sys.path.insert(0, str(ROOT))
    from hpo import strategies
    from hpo.devices import plan_devices
    from hpo.executors import LocalExecutor, SerialExecutor, join
    from hpo.loop import Budget, run_search
    from hpo.space import Space

    if backend in ("mpi", "horovod"):
        executor = join(backend, gpus=[])
        if executor is None:  # not rank 0: served its share
            return
    elif backend in ("local", "local-no-recycling"):
        recycle = 20 if backend == "local" else None  # the default, and never
        executor = LocalExecutor(2, devices=plan_devices(2, gpus=[]), max_trials_per_worker=recycle)
    else:
        executor = SerialExecutor()
    from hpo.store import TrialStore

    space = Space.from_dict(CONFIG["space"])
    store = TrialStore(store_path)
    store.create_search({"bench": "zero-cost"}, seed=SEED)
    started = time.perf_counter()
    summary = run_search(
        _zero_cost,
        strategies.get("ga_tpe", space, seed=SEED, population_size=4),
        store,
        executor,
        Budget(trials=trials),
        seed=SEED,
        synchronous=True,
        batch_size=4,
        progress=False,
        keep_artifacts=False,
    )
    elapsed = time.perf_counter() - started
    print(
        "JSON"
        + json.dumps({"trials": summary.done + summary.failed, "elapsed_s": elapsed, "workers": executor.n_workers})
    )


# -- launching ------------------------------------------------------------------------------


def _launcher(kind: str, python: Path, n: int) -> list[str]:
    if kind == "mpi":
        flags = ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
        return [str(Path(sys.executable).parent / "mpiexec"), *flags, "-n", str(n)]
    if kind == "horovod":
        return [str(python.parent / "horovodrun"), "--gloo", "-np", str(n), "-H", f"localhost:{n}"]
    return []


def _env() -> dict[str, str]:
    from hpo.distributed import without_launcher

    env = without_launcher()
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


# (label, launcher, python, backend flag, workers)
BACKENDS = [
    ("serial", "", Path(sys.executable), "serial", 1),
    ("local, 2 workers", "", Path(sys.executable), "local", 2),
    ("local, 2 workers, never recycled", "", Path(sys.executable), "local-no-recycling", 2),
    ("MPI, 2 ranks", "mpi", Path(sys.executable), "mpi", 2),
    ("serial (TF 2.17.1)", "", HOROVOD_PY, "serial", 1),
    ("Horovod, 2 ranks (TF 2.17.1)", "horovod", HOROVOD_PY, "horovod", 2),
]


def run_overhead(workdir: Path, trials: int, backends) -> list[dict]:
    rows = []
    for label, launcher, python, backend, workers in backends:
        store = workdir / f"zero-{backend}-{workers}-{python.parent.parent.name}.db"
        command = [
            *_launcher(launcher, python, workers),
            str(python),
            __file__,
            "--job",
            backend,
            str(store),
            str(trials),
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=_env(), cwd=ROOT)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{label} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
        # horovodrun prefixes each line with the rank, e.g. "[0]<stdout>:".
        figures = json.loads(next(line.split("JSON", 1)[1] for line in done.stdout.splitlines() if "JSON" in line))
        rows.append(
            {
                "backend": label,
                "trials": figures["trials"],
                "loop_s": figures["elapsed_s"],
                "wall_s": wall,
                "ms_per_trial": 1000 * figures["elapsed_s"] / figures["trials"],
                "startup_s": wall - figures["elapsed_s"],
            }
        )
        print(
            f"  overhead {label:<30} {rows[-1]['ms_per_trial']:7.2f} ms/trial, start-up and exit "
            f"{rows[-1]['startup_s']:.1f} s",
            flush=True,
        )
    return rows


def _trials(store_path: Path) -> list[tuple]:
    sys.path.insert(0, str(ROOT))
    from hpo.store import TrialStore

    return [(t.params, t.seed, t.status, t.value) for t in TrialStore(store_path).trials()]


def run_search(workdir: Path, trials: int, backends) -> list[dict]:
    import yaml

    sys.path.insert(0, str(ROOT))
    from hpo.store import TrialStore

    config = {**CONFIG, "budget": {"trials": trials}}
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    # The data set is generated once, before any timing (every backend reads the same cache).
    from keras_geo.config import validate_config
    from keras_geo.search import load_data

    load_data(validate_config(config))
    rows, reference = [], None
    for label, launcher, python, backend, workers in backends:
        if backend not in ("serial", "local", "mpi", "horovod"):
            continue  # a variant of the engine measurement only
        cli = python.parent / "keras-geo-hpo"
        store = workdir / f"search-{backend}-{workers}-{python.parent.parent.name}" / "store.db"
        command = [
            *_launcher(launcher, python, workers),
            str(cli),
            "search",
            str(config_path),
            "--store",
            str(store),
            "--backend",
            backend,
        ]
        if backend == "local":
            command += ["--workers", str(workers)]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=_env(), cwd=ROOT)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{label} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
        stored = TrialStore(store).trials()
        # From the first trial's start to the last one's end: the search without start-up.
        loop_s = max(t.ended for t in stored) - min(t.started for t in stored)
        busy = sum(t.ended - t.started for t in stored if t.ended and t.started)
        same = None
        if backend == "serial" and reference is None:
            reference = _trials(store)
        elif reference is not None:
            same = _trials(store) == reference
        rows.append(
            {
                "backend": label,
                "trials": len(stored),
                "wall_s": wall,
                "loop_s": loop_s,
                "trials_per_hour": 3600 * len(stored) / wall,
                "trials_per_hour_in_loop": 3600 * len(stored) / loop_s,
                "mean_trial_s": busy / len(stored),
                "same_trials_as_serial": same,
                "best": max(t.value for t in stored if t.value is not None),
            }
        )
        print(
            f"  search   {label:<30} {rows[-1]['trials_per_hour']:6.0f} trials/h (wall {wall:.0f} s), "
            f"{rows[-1]['trials_per_hour_in_loop']:6.0f} in the loop, mean trial {rows[-1]['mean_trial_s']:.1f} s, "
            f"same trials as serial: {same}",
            flush=True,
        )
    return rows


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2))
    search = results["search"]
    labels = [r["backend"] for r in search]
    y = range(len(labels))
    left.barh([i + 0.2 for i in y], [r["trials_per_hour_in_loop"] for r in search], height=0.4, label="search loop")
    left.barh(
        [i - 0.2 for i in y],
        [r["trials_per_hour"] for r in search],
        height=0.4,
        label="whole command (start-up included)",
    )
    left.set_yticks(list(y), labels)
    left.invert_yaxis()
    left.set_xlabel("filler-CNN trials per hour (higher is better)")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=8)
    overhead = results["overhead"]
    right.barh([r["backend"] for r in overhead], [r["ms_per_trial"] for r in overhead], color="tab:gray")
    right.invert_yaxis()
    right.set_xlabel("engine time per trial, zero-cost objective (ms)")
    fig.suptitle(f"Backends on {results['machine']} ({results['date']})", fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", nargs=3, metavar=("BACKEND", "STORE", "TRIALS"), help=argparse.SUPPRESS)
    parser.add_argument("--trials", type=int, default=16, help="filler-CNN trials per backend (default 16)")
    parser.add_argument("--overhead-trials", type=int, default=500, help="zero-cost trials (default 500)")
    parser.add_argument("--skip-horovod", action="store_true", help="leave out the .venv-horovod rows")
    parser.add_argument("--out", default="benchmarks/results/backends")
    parser.add_argument("--replot", metavar="JSON", help="only redraw the plot from a results JSON file")
    args = parser.parse_args()
    if args.replot:
        plot(json.loads(Path(args.replot).read_text()), str(Path(args.replot).with_suffix(".png")))
        return
    if args.job:
        job(args.job[0], args.job[1], int(args.job[2]))
        return
    backends = [b for b in BACKENDS if not (args.skip_horovod and b[2] == HOROVOD_PY)]
    if not args.skip_horovod and not HOROVOD_PY.exists():
        raise SystemExit("no .venv-horovod: run `make install-horovod` first, or pass --skip-horovod")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    results = {
        "machine": f"{platform.machine()}, {cores} cores, {platform.python_version()}",
        "date": datetime.date.today().isoformat(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        print(f"Engine overhead: zero-cost objective, {args.overhead_trials} trials, GA+TPE, synchronous")
        results["overhead"] = run_overhead(workdir, args.overhead_trials, backends)
        print(f"Filler-CNN search: {args.trials} trials, GA+TPE, synchronous, seed {SEED}")
        results["search"] = run_search(workdir, args.trials, backends)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(results, indent=2))
    plot(results, args.out + ".png")


if __name__ == "__main__":
    main()
