"""What a live dashboard costs: its state against the report, for stores of growing size.

The dashboard (:mod:`hpo.dashboard`) recomputes a store's whole state (progress, the trial
table, the data of every plot) when the store's files change, and answers a poll of an
unchanged store from its cache. This benchmark builds synthetic finished stores (no
training: a GA-like search of 8 parameters, each trial with 10 reported steps and a worker),
then times, side by side on the same store:

* ``state``: one full recomputation of the dashboard's state (what every change costs the
  polling page, at most once per refresh);
* ``idle poll``: a poll of the unchanged store (two ``stat`` calls and a lock probe);
* ``report``: ``keras-geo-hpo report``'s :func:`hpo.report.write_report` (every PNG plot and
  the page), the after-the-fact view the dashboard replaces while a search runs;

and the size of the state's JSON. Ratios are ``report / state``. Pure ``hpo``: no TensorFlow.

    python benchmarks/bench_dashboard.py             # 100, 1,000 and 5,000 trials, 3 repeats (about 2 min)
    python benchmarks/bench_dashboard.py --quick     # 100 and 1,000 trials, 1 repeat

Results: ``benchmarks/results/dashboard.json`` (``--quick``: ``dashboard_quick.json``).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import bench_parser, describe_machine, save_results  # noqa: E402

from hpo import dashboard  # noqa: E402
from hpo.report import write_report  # noqa: E402
from hpo.store import TrialStore  # noqa: E402


def make_store(path: Path, n: int) -> None:
    """A finished synthetic search of ``n`` trials: 8 parameters, 10 reported steps each, 4 workers."""
    with TrialStore(path) as store:
        store.create_search(
            {"note": "synthetic"}, seed=0, name=f"synthetic-{n}", metric="val_accuracy", direction="maximize"
        )
        store.set_search_engine(
            {"strategy": "ga_tpe", "strategy_settings": {"population_size": 10}, "budget": {"trials": n}}
        )
        for i in range(n):
            params = {
                "filters": 4 + i % 29,
                "conv_layers": 2 + i % 3,
                "dense_layers": 1 + i % 4,
                "units": 8 * (1 + i % 8),
                "dropout": (i % 11) / 20.0,
                "learning_rate": 10.0 ** (-4 + (i % 13) / 6.0),
                "optimizer": ("adam", "rmsprop", "sgd")[i % 3],
                "pooling": ("max", "avg")[i % 2],
            }
            value = 0.5 + 0.45 * ((i * 7919) % 101) / 100.0
            tid = store.add_trial(params)
            store.start(tid, worker=f"worker{i % 4}")
            store.finish(
                tid,
                value,
                {"val_loss": 1.0 - value, "accuracy": value},
                history={"val_accuracy": [value * (s + 1) / 10 for s in range(10)]},
                intermediate=[(s, value * (s + 1) / 10) for s in range(10)],
            )


def measure(path: Path, out: Path) -> dict[str, float]:
    """Seconds for the dashboard's state, an idle poll and the report, and the state's JSON size."""
    watch = dashboard.StoreWatch(0, path)
    try:
        start = time.perf_counter()
        _, state = watch.state()
        state_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(100):
            watch.state()
        idle_s = (time.perf_counter() - start) / 100
    finally:
        watch.close()
    size = len(json.dumps(state, separators=(",", ":")))
    with TrialStore(path, read_only=True) as store:
        start = time.perf_counter()
        write_report(store, out)
        report_s = time.perf_counter() - start
    return {"state_s": state_s, "idle_poll_s": idle_s, "report_s": report_s, "json_bytes": size}


def main() -> None:
    parser = bench_parser(__doc__, quick="100 and 1,000 trials, 1 repeat", replot=False)
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="store sizes (trials)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per size (the median is kept)")
    args = parser.parse_args()
    sizes = args.sizes or ([100, 1000] if args.quick else [100, 1000, 5000])
    repeats = args.repeats or (1 if args.quick else 3)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"store_{n}.db"
            make_store(path, n)
            runs = [measure(path, Path(tmp) / f"report_{n}_{r}") for r in range(repeats)]
            row = {"trials": n, **{k: statistics.median(r[k] for r in runs) for k in runs[0]}}
            rows.append(row)
            print(
                f"{n:>6} trials: state {row['state_s'] * 1000:8.1f} ms | idle poll {row['idle_poll_s'] * 1e6:7.1f} us | "
                f"report {row['report_s']:6.2f} s | report/state {row['report_s'] / row['state_s']:6.0f}x | "
                f"JSON {row['json_bytes'] / 1024:8.0f} KB",
                flush=True,
            )
    print(describe_machine())
    path = save_results("dashboard_quick" if args.quick else "dashboard", {"repeats": repeats, "rows": rows})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
