"""Writes ``store_v1.db`` and ``store_v1.json``: a trial store of schema version 1, for the migration test.

The store must be written by the code of the last release with schema version 1, not
by today's ``hpo``: it was made with ``hpo/`` of commit cbbd815 ("status: trials a dead
driver left are 'unfinished ...'"), the last commit before schema version 2::

    git archive cbbd815 hpo | tar -x -C /tmp/old
    python tests/data/make_store_v1.py /tmp/old tests/data

It holds one search with a keras-geo-style nested configuration (``objective``,
``strategy: {name, settings}``, ``executor: {name, workers}``, ``mode``, ``budget``,
``space``) and five trials: three done (one of them a cache hit), one failed and one
left ``running`` by a driver that is gone. ``store_v1.json`` keeps what that code's
report said of it (best trial and value, direction, metric, counts), so that the test
can check today's code reads the same.

To stay a few KB, the file uses SQLite's smallest page size (512 bytes), set on the
empty file before the old code created its schema; nothing else differs from a store
that code writes.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

CONFIG = {
    "name": "v1-fixture",
    "seed": 7,
    "store": "runs/v1/store.db",
    "mode": "sync",
    "batch_size": None,
    "dataset": {"name": "filler", "n_train": 20, "n_val": 10, "n_test": 10},
    "model": {"builder": "filler_cnn", "fixed": {"conv_layers": 2}},
    "training": {"epochs": 2},
    "space": {
        "filters": {"type": "int", "low": 2, "high": 8},
        "learning_rate": {"type": "float", "low": 1.0e-3, "high": 1.0e-2, "log": True},
        "activation": ["relu", "elu"],
    },
    "objective": {"metric": "val_accuracy", "direction": "maximize"},
    "strategy": {"name": "ga_tpe", "settings": {"population_size": 6}},
    "executor": {"name": "local", "workers": 2},
    "budget": {"trials": 6},
}


def main(old_code: str, out_dir: str) -> None:
    sys.path.insert(0, old_code)
    import hpo.report
    from hpo.store import SCHEMA_VERSION, TrialStore

    assert SCHEMA_VERSION == 1, f"{old_code} holds hpo with store schema {SCHEMA_VERSION}, not 1"
    out = Path(out_dir)
    path = out / "store_v1.db"
    path.unlink(missing_ok=True)
    empty = sqlite3.connect(path)
    empty.execute("PRAGMA page_size=512")
    empty.execute("VACUUM")
    empty.close()

    with TrialStore(path) as store:
        store.create_search(CONFIG, seed=CONFIG["seed"], name=CONFIG["name"])
        t0 = 1_700_000_000.0
        rows = [  # params, outcome, (worker, start, end)
            ({"filters": 4, "learning_rate": 0.002, "activation": "relu"}, 0.61, ("worker0.0", 0, 40)),
            ({"filters": 8, "learning_rate": 0.005, "activation": "elu"}, 0.83, ("worker1.0", 1, 52)),
            (
                {"filters": 2, "learning_rate": 0.009, "activation": "relu"},
                "ResourceExhaustedError: OOM",
                ("worker0.0", 41, 45),
            ),
        ]
        ids = []
        for params, outcome, (worker, start, end) in rows:
            trial = store.add_trial(params, seed=len(ids))
            store.start(trial, worker=worker, device="GPU:0")
            ran = {"worker": worker, "started": t0 + start, "ended": t0 + end}
            if isinstance(outcome, str):
                store.fail(trial, f"Traceback (most recent call last):\n  ...\n{outcome}", ran=ran)
            else:
                store.finish(
                    trial,
                    outcome,
                    {"val_accuracy": outcome, "val_loss": 1 - outcome},
                    {"val_accuracy": [outcome / 2, outcome]},
                    ran=ran,
                )
            ids.append(trial)
        store.add_cached(rows[1][0], store.get_trial(ids[1]), seed=3)  # a cache hit of the best trial
        running = store.add_trial({"filters": 6, "learning_rate": 0.004, "activation": "elu"}, seed=4)
        store.start(running, worker="worker1.0", device="GPU:0")  # its driver "died": left running
        figures = hpo.report.summary(store)
    keep = (
        "search_id",
        "name",
        "strategy",
        "direction",
        "metric",
        "seed",
        "budget",
        "counts",
        "best_trial_id",
        "best_number",
        "best_value",
        "best_params",
    )
    expected = {k: figures[k] for k in keep}
    (out / "store_v1.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes): {expected}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python tests/data/make_store_v1.py OLD_CODE_DIR OUT_DIR")
    main(sys.argv[1], sys.argv[2])
