"""The asynchronous MPI pool (``mpi_async``): real ``mpiexec -n 3`` searches, and its messages in-process.

Rank 0 drives and trains nothing, so 3 ranks give 2 training ranks. In synchronous mode
the pool must store the serial executor's trials; in asynchronous mode, with trials of
unequal length, a fast rank must run more trials than a slow one (lock-step rounds would
give them as many).
"""

from __future__ import annotations

import collections
import pickle
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from hpo import executors
from hpo.devices import WorkerDevice
from hpo.distributed import SingleProcess, pool_rank_device, without_launcher
from hpo.executors import MPIPoolExecutor, Task, serve_pool
from hpo.store import TrialStore
from tests import ROOT
from tests.hpo import test_distributed
from tests.hpo.test_distributed import BIN, HELPER, TINY, cli_search_under, mpiexec, trials_of

# test_distributed's fixtures: the serial reference stores.
serial_reference = test_distributed.serial_reference
keras_reference = test_distributed.keras_reference

FINISHED = ("done", "failed")


def quadratic(params) -> float:
    """spmd_search's objective, recomputed here."""
    return (params["x"] - 1.0) ** 2 + params["k"] + (0.5 if params["c"] == "b" else 0.0)


def pool_search(store: Path, *extra: str, n: int = 3):
    return mpiexec(n, sys.executable, str(HELPER), "mpi_async", str(store), *extra, timeout=120)


# -- MPI, for real -----------------------------------------------------------------------------


def test_pool_of_three_ranks_gives_the_serial_trials_in_sync_mode(tmp_path, serial_reference):
    store = tmp_path / "pool.db"
    done = pool_search(store)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "workers=2" in done.stdout  # rank 0 drives, ranks 1 and 2 train
    assert trials_of(store) == trials_of(serial_reference)
    trials = TrialStore(store).trials()
    assert {t.worker for t in trials} == {"rank1", "rank2"}
    assert any("k = 3 is refused" in (t.error or "") for t in trials)  # a failed trial, and the search went on


def test_pool_keeps_every_rank_busy_with_trials_of_unequal_length(tmp_path):
    store = tmp_path / "async.db"
    done = pool_search(store, "--mode", "async", "--trials", "24", "--rank-sleep", "1=0.02,2=0.25")
    assert done.returncode == 0, done.stdout + done.stderr
    trials = TrialStore(store).trials()
    # Every trial stored once, finished, with the objective's value.
    assert len(trials) == 24 and len({t.id for t in trials}) == 24 and len({t.params_hash for t in trials}) == 24
    assert all(t.status in FINISHED for t in trials)
    for t in trials:
        if t.status == "done":
            assert t.value == pytest.approx(quadratic(t.params))
        else:
            assert "k = 3 is refused" in t.error
    by_rank = collections.defaultdict(list)
    for t in trials:
        by_rank[t.worker].append(t)
    assert set(by_rank) == {"rank1", "rank2"}
    fast, slow = by_rank["rank1"], by_rank["rank2"]
    # Lock-step rounds would give both ranks 12 trials; the pool lets the fast rank go on.
    assert len(fast) >= 3 * len(slow) >= 3, (len(fast), len(slow))
    # A rank runs one trial at a time, and the fast rank started trials while the slow one ran.
    for ran in by_rank.values():
        ran.sort(key=lambda t: t.started)
        assert all(a.ended <= b.started for a, b in zip(ran, ran[1:]))
    first_slow = min(slow, key=lambda t: t.started)
    assert sum(first_slow.started < t.started and t.ended < first_slow.ended for t in fast) >= 2
    # So trials finish out of order: a later trial ends before an earlier one.
    assert any(a.id < b.id and a.ended > b.ended for a in slow for b in fast)


def test_a_rank_whose_setup_fails_stops_the_pool_cleanly(tmp_path):
    store = tmp_path / "setup.db"
    done = pool_search(store, "--mode", "async", "--fail-setup-on", "2")
    assert done.returncode == 1, done.stdout + done.stderr  # rank 0's exit status; every rank returned
    assert "rank2 could not set up the objective" in done.stderr and "no data on rank 2" in done.stderr
    statuses = [t.status for t in TrialStore(store).trials()]
    assert "failed" in statuses and not {"running", "queued"} & set(statuses)


# -- in-process: one rank, refusals, and the messages over a stand-in communicator ---------------


def test_a_pool_of_one_rank_runs_the_trials_itself(tmp_path, serial_reference):
    from tests.hpo import spmd_search

    executor = MPIPoolExecutor(SingleProcess(), WorkerDevice(0, "cpu:1t"))
    assert executor.n_workers == 1 and executor.name == "mpi_async"
    spmd_search.search_in_process(tmp_path / "one.db", executor)
    assert trials_of(tmp_path / "one.db") == trials_of(serial_reference)
    assert {t.worker for t in TrialStore(tmp_path / "one.db").trials()} == {"rank0"}


class Ranks(SingleProcess):
    """A rank of a job of ``size`` ranks, with an optional communicator."""

    def __init__(self, rank: int, size: int, comm=None, backend: str = "mpi", local=(0, 1)):
        self.rank, self.size, self.comm, self.backend = rank, size, comm, backend
        self.local_rank, self.local_size = local


def test_bad_pool_settings_and_roles_are_refused_with_one_line():
    with pytest.raises(ValueError, match="point-to-point.*--backend horovod"):
        MPIPoolExecutor(Ranks(0, 2, backend="horovod"))
    with pytest.raises(ValueError, match="rank 1 runs serve_pool"):
        MPIPoolExecutor(Ranks(1, 2, comm=object()))
    with pytest.raises(ValueError, match=r"poll_s must be a number > 0. Received: poll_s=0"):
        MPIPoolExecutor(SingleProcess(), poll_s=0)
    with pytest.raises(ValueError, match="serve_pool"):
        serve_pool(SingleProcess(), WorkerDevice(0, "cpu"))
    with pytest.raises(ValueError, match=r"unknown executor 'mpi-async'; allowed: .*mpi_async"):
        executors.get("mpi-async")
    with pytest.raises(RuntimeError, match="start"):
        MPIPoolExecutor(SingleProcess()).submit(Task(1, {}, 0))


def test_rank_0_of_the_pool_stays_off_the_gpus_and_its_node_shares_them_without_it():
    driver = pool_rank_device(Ranks(0, 5, local=(0, 5)), beside_driver=True, gpus=["0", "1", "2", "3"], cores=16)
    assert driver.env["CUDA_VISIBLE_DEVICES"] == "-1"
    beside = [
        pool_rank_device(Ranks(r, 5, local=(r, 5)), beside_driver=True, gpus=["0", "1", "2", "3"], cores=16)
        for r in range(1, 5)
    ]
    assert [d.env["CUDA_VISIBLE_DEVICES"] for d in beside] == ["0", "1", "2", "3"]  # one GPU each, none shared
    assert [d.index for d in beside] == [1, 2, 3, 4]
    elsewhere = pool_rank_device(Ranks(5, 9, local=(0, 4)), beside_driver=False, gpus=["0", "1", "2", "3"])
    assert elsewhere.env["CUDA_VISIBLE_DEVICES"] == "0"
    alone = pool_rank_device(Ranks(0, 1), beside_driver=True, gpus=[], cores=2)
    assert alone.env["TF_NUM_INTRAOP_THREADS"] == "2"  # a job of one rank trains on rank 0


class Wire:
    """Point-to-point messages between threads that stand for ranks (what the pool uses of mpi4py)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queues: dict[tuple[int, int], collections.deque] = collections.defaultdict(collections.deque)

    def comm(self, rank: int) -> Comm:
        return Comm(self, rank)


class Sent:
    def wait(self) -> None:
        pass


class Comm:
    def __init__(self, wire: Wire, rank: int) -> None:
        self.wire, self.rank = wire, rank

    def isend(self, obj, dest: int, tag: int) -> Sent:
        with self.wire.lock:
            self.wire.queues[dest, tag].append((self.rank, pickle.dumps(obj)))
        return Sent()

    send = isend

    def _first(self, source: int, tag: int):
        from mpi4py import MPI

        queue = self.wire.queues[self.rank, tag]
        return next((m for m in queue if source in (MPI.ANY_SOURCE, m[0])), None)

    def Iprobe(self, source: int, tag: int, status=None) -> bool:  # noqa: N802  (mpi4py's name)
        with self.wire.lock:
            message = self._first(source, tag)
        if message is not None and status is not None:
            status.Set_source(message[0])
        return message is not None

    def recv(self, source: int, tag: int):
        with self.wire.lock:
            message = self._first(source, tag)
            self.wire.queues[self.rank, tag].remove(message)
        return pickle.loads(message[1])


@dataclass(frozen=True)
class PrunableTask(Task):
    """A Task with a field the pool does not know of (as the pruning context will be)."""

    prune_after: int = 0


class Prunes:
    """A cheap objective: the trial id as value, the params in the metrics."""

    def __call__(self, params, *, seed, trial_id):
        return {"value": float(trial_id), "metrics": {"params": params}}


def test_the_pool_sends_tasks_whole_and_passes_outcomes_on_untouched(monkeypatch):
    from hpo.executors._mpi_pool import _Rank  # what every rank runs a task with

    wire = Wire()
    seen: list[Task] = []
    original = _Rank.run

    def run(self, task):  # the worker's side: record what arrived, answer "pruned" for some
        seen.append(task)
        outcome = original(self, task)
        if task.params.get("prune"):
            outcome.status = "pruned"
        return outcome

    monkeypatch.setattr(_Rank, "run", run)
    workers = [
        threading.Thread(target=serve_pool, args=(Ranks(r, 3, wire.comm(r)), WorkerDevice(r, "cpu")), daemon=True)
        for r in (1, 2)
    ]
    for worker in workers:
        worker.start()
    pool = MPIPoolExecutor(Ranks(0, 3, wire.comm(0)), poll_s=0.001)
    assert pool.n_workers == 2
    pool.start(Prunes())
    pool.submit(PrunableTask(1, {"prune": True}, 11, prune_after=3))
    pool.submit(PrunableTask(2, {}, 12, prune_after=5))
    assert pool.free_slots() == 0 and set(pool.ranks_busy()) == {1, 2}
    outcomes = []
    while len(outcomes) < 2:
        outcomes += pool.wait(timeout=5)
    assert sorted((o.trial_id, o.status, o.worker) for o in outcomes) == [(1, "pruned", "rank1"), (2, "done", "rank2")]
    assert sorted(seen, key=lambda t: t.trial_id) == [
        PrunableTask(1, {"prune": True}, 11, prune_after=3),
        PrunableTask(2, {}, 12, prune_after=5),
    ]
    assert pool.wait(timeout=0.01) == []  # nothing runs: returns at once
    pool.submit(Task(3, {}, 13))
    pool.close()  # waits for trial 3, then every rank returns
    for worker in workers:
        worker.join(timeout=5)
        assert not worker.is_alive()
    pool.close()  # idempotent


def test_abort_returns_at_once_and_releases_idle_ranks():
    wire = Wire()
    worker = threading.Thread(target=serve_pool, args=(Ranks(1, 2, wire.comm(1)), WorkerDevice(1, "cpu")), daemon=True)
    worker.start()
    pool = MPIPoolExecutor(Ranks(0, 2, wire.comm(0)))
    pool.start(Prunes())
    pool.abort()
    worker.join(timeout=5)
    assert not worker.is_alive() and pool.free_slots() == 1


# -- the command line -----------------------------------------------------------------------------


def test_a_bad_executor_name_exits_2_with_one_line_naming_the_key(tmp_path, capsys):
    from keras_geo.cli import main

    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({**TINY, "executor": {"name": "mpi-pool"}, "store": str(tmp_path / "s.db")}))
    assert main(["search", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "executor.name" in err and "mpi_async" in err, err
    assert not (tmp_path / "s.db").exists()


@pytest.mark.slow
def test_mpi_async_cli_search_gives_the_serial_store_and_a_config_naming_it_gets_the_pool(keras_reference, tmp_path):
    config, reference = keras_reference
    store = tmp_path / "flag" / "store.db"
    done = cli_search_under(mpiexec, 3, config, store, "mpi_async")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "2 mpi_async training rank(s)" in done.stdout and done.stdout.count("best of this search") == 1
    assert trials_of(store) == trials_of(reference)  # sync mode: the same trials as serial
    assert {t.worker for t in TrialStore(store).trials()} == {"rank1", "rank2"}
    # Named by the YAML only, under mpiexec without --backend: the ranks are switched to the pool.
    named = tmp_path / "named.yaml"
    named.write_text(yaml.safe_dump({**TINY, "executor": {"name": "mpi_async"}, "store": str(tmp_path / "n.db")}))
    cli = shutil.which("keras-geo-hpo", path=str(BIN))
    done = mpiexec(3, cli, "search", str(named))
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "mpi_async training rank(s)" in done.stdout
    assert {t.worker for t in TrialStore(tmp_path / "n.db").trials()} == {"rank1", "rank2"}
    assert TrialStore(tmp_path / "n.db").get_search().engine["executor"] == "mpi_async"


def test_hpo_and_a_pool_of_one_rank_need_no_mpi4py(tmp_path):
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'mpi4py':\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from hpo.distributed import SingleProcess\n"
        "from hpo.executors import MPIPoolExecutor, Task, get\n"
        "pool = MPIPoolExecutor(SingleProcess())\n"
        "pool.start(abs)\n"
        "pool.submit(Task(1, {}, 0))\n"
        "print(pool.wait()[0].status, 'mpi4py' in sys.modules)\n"
    )
    env = {**without_launcher(), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["failed", "False"]  # abs() takes no seed: a failed trial, not a crash
