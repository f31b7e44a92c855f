"""A tiny synchronous search on a cheap objective, run by the distributed tests on every rank.

    mpiexec -n 3 python tests/hpo/spmd_search.py mpi STORE [--die-at TRIAL] [--prune]
    mpiexec -n 3 python tests/hpo/spmd_search.py mpi_async STORE [--mode async] [--rank-sleep 1=0.02,2=0.2]
    horovodrun --gloo -np 2 python tests/hpo/spmd_search.py horovod STORE
    python tests/hpo/spmd_search.py serial STORE            # the reference (also resumes a store)

Trials whose ``k`` is 3 raise, to check that a failed trial on any rank is recorded
and the search goes on. ``--die-at N`` kills the whole job (SIGKILL of the rank
that runs trial N) to check that a store left by a dead job resumes. ``--prune``
reports a learning curve of four steps per trial to a median pruner, which stops
the trials worse than their peers on whichever rank they run.
``--rank-sleep`` makes each trial last as long as its rank says (unequal trial
lengths), ``--fail-setup-on R`` makes rank R's set-up raise.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hpo import pruners, strategies  # noqa: E402
from hpo.executors import SerialExecutor, join  # noqa: E402
from hpo.loop import Budget, SearchAborted, run_search  # noqa: E402
from hpo.space import Space  # noqa: E402
from hpo.store import TrialStore  # noqa: E402

SPACE = Space.from_dict(
    {"x": {"type": "float", "low": -5.0, "high": 5.0}, "k": {"type": "int", "low": 0, "high": 4}, "c": ["a", "b"]}
)
TRIALS, BATCH, SEED, STEPS = 12, 4, 7, 4


class Objective:
    """(x - 1)^2 + k (+0.5 for c == "b"); k == 3 raises; optionally kills its process at one trial."""

    def __init__(
        self, die_at: int | None = None, rank_sleep: dict[int, float] | None = None, fail_setup_on: int | None = None
    ) -> None:
        self.die_at = die_at
        self.rank_sleep = rank_sleep or {}
        self.fail_setup_on = fail_setup_on
        self.ranks_set_up: list[str] = []
        self.rank = 0

    def setup(self, device) -> None:
        self.ranks_set_up.append(device.label)
        self.rank = device.index
        if device.index == self.fail_setup_on:
            raise RuntimeError(f"no data on rank {device.index}")

    def __call__(self, params, *, seed, trial_id):
        if trial_id == self.die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if params["k"] == 3:
            raise RuntimeError("k = 3 is refused")
        time.sleep(self.rank_sleep.get(self.rank, 0.02))
        value = (params["x"] - 1.0) ** 2 + params["k"] + (0.5 if params["c"] == "b" else 0.0)
        for step in range(1, STEPS + 1):  # a learning curve towards the value, for the pruner
            if pruners.report(step, value + 1.0 / step):
                value += 1.0 / step
                break
        return {"value": value, "metrics": {"pid": os.getpid()}}


def search_in_process(store_path, executor) -> TrialStore:
    """The reference synchronous search run in this process on ``executor`` (a one-rank test)."""
    store = TrialStore(store_path)
    store.create_search({}, seed=SEED)
    run_search(
        Objective(),
        strategies.get("ga_tpe", SPACE, seed=SEED, population_size=BATCH),
        store,
        executor,
        Budget(trials=TRIALS),
        seed=SEED,
        synchronous=True,
        batch_size=BATCH,
        progress=False,
    )
    return store


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("backend", choices=("serial", "mpi", "mpi_async", "horovod"))
    parser.add_argument("store")
    parser.add_argument("--die-at", type=int)
    parser.add_argument("--prune", action="store_true")
    parser.add_argument("--mode", choices=("sync", "async"), default="sync")
    parser.add_argument("--trials", type=int, default=TRIALS)
    parser.add_argument("--rank-sleep", default="", help="seconds per trial by rank, e.g. 1=0.02,2=0.2")
    parser.add_argument("--fail-setup-on", type=int)
    args = parser.parse_args()
    rank_sleep = {int(r): float(s) for r, s in (item.split("=") for item in args.rank_sleep.split(",") if item)}
    executor = SerialExecutor()
    if args.backend != "serial":
        executor = join(args.backend, gpus=[])
        if executor is None:  # not rank 0: it served its share of the trials
            return 0
    store = TrialStore(args.store)
    if store.get_search() is None:
        store.create_search({"strategy": "ga_tpe", "objective": "quadratic"}, seed=SEED)
    try:
        summary = run_search(
            Objective(args.die_at, rank_sleep, args.fail_setup_on),
            strategies.get("ga_tpe", SPACE, seed=SEED, population_size=BATCH),
            store,
            executor,
            Budget(trials=args.trials),
            seed=SEED,
            synchronous=args.mode == "sync",
            batch_size=BATCH,
            progress=False,
            pruner=pruners.MedianPruner(n_startup_trials=2) if args.prune else None,
        )
    except SearchAborted as error:
        print(f"search stopped: {error}", file=sys.stderr)
        return 1
    finally:
        executor.close()
    print(
        f"done={summary.done} failed={summary.failed} pruned={summary.pruned} replayed={summary.replayed} "
        f"workers={executor.n_workers}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
