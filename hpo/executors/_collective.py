"""The collective executor: trials spread over the ranks of an MPI or Horovod job (see :mod:`hpo.distributed`).

Rank 0 runs the search loop with a :class:`CollectiveExecutor`; every other rank
runs :func:`serve`. Three messages travel, all by broadcast from rank 0:

* ``("start", objective, env)``: the pickled objective and extra environment
  variables; each rank sets them, unpickles the objective and calls its ``setup``;
* ``("round", tasks)``: one task (or ``None``) per rank; every rank runs its own
  and the outcomes come back to all by an all-gather;
* ``("stop",)``: the workers return;
* ``("pool",)``: the workers serve the asynchronous pool instead
  (:mod:`hpo.executors._mpi_pool`), for a job that :func:`join` started in rounds
  before rank 0 read a configuration naming ``mpi_async``.

A trial that raises becomes a failed outcome on its rank, as everywhere, and the
search goes on. A rank whose ``setup`` fails (data it cannot load) answers each
task with a fatal outcome carrying the error, which stops the search cleanly.
"""

from __future__ import annotations

import os
import pickle
import socket
import traceback
from collections.abc import Mapping

from ..devices import WorkerDevice
from ..distributed import Collective, connect, pool_rank_device, rank_device
from ._base import Executor, Objective, Outcome, Task, evaluate, setup_objective

__all__ = ["CollectiveExecutor", "join", "serve"]


class _Rank:
    """What every rank does with the messages: set up the objective, run its task of a round."""

    def __init__(self, collective: Collective, device: WorkerDevice) -> None:
        self.collective, self.device = collective, device
        self.name = f"rank{collective.rank}"
        self.objective: Objective | None = None
        self.setup_error: str | None = None

    def start(self, payload: bytes, env: Mapping[str, str]) -> None:
        os.environ.update(env)
        try:
            self.objective = pickle.loads(payload)
            setup_objective(self.objective, self.device)
            self.setup_error = None
        except Exception as error:  # reported with each task, so rank 0 stops the search
            self.setup_error = f"{self.name} could not set up the objective:\n" + "".join(
                traceback.format_exception(type(error), error, error.__traceback__)
            )

    def run(self, task: Task) -> Outcome:
        """Runs one task here; a fatal outcome carrying the error if the set-up failed."""
        if self.setup_error is not None or self.objective is None:
            return Outcome(
                task.trial_id,
                "failed",
                error=self.setup_error or "no objective",
                fatal=True,
                worker=self.name,
                device=self.device.label,
            )
        return evaluate(self.objective, task, worker=self.name, device=self.device.label)

    def run_round(self, tasks: list[Task | None]) -> list[Outcome | None]:
        task = tasks[self.collective.rank]
        return self.collective.allgather(None if task is None else self.run(task))


class CollectiveExecutor(Executor):
    """Rank 0's executor: each :meth:`wait` runs one round, one task per rank, rank 0 included.

    Args:
        collective: The job's :class:`~hpo.distributed.Collective`; this process must be rank 0.
        device: Rank 0's device (see :func:`~hpo.distributed.rank_device`).
        worker_env: Environment variables every rank sets before unpickling the objective
            (e.g. a GPU memory cap from the configuration).
    """

    def __init__(
        self,
        collective: Collective,
        device: WorkerDevice | None = None,
        *,
        worker_env: Mapping[str, str] | None = None,
    ) -> None:
        if collective.rank != 0:
            raise ValueError(f"the collective executor runs on rank 0; rank {collective.rank} runs serve()")
        self.collective = collective
        self.n_workers = collective.size
        self.name = collective.backend or "collective"
        self.device = device or WorkerDevice(0, "local")
        self.worker_env = dict(worker_env or {})
        self._rank = _Rank(collective, self.device)
        self._pending: list[Task] = []
        self._stopped = False

    def start(self, objective: Objective) -> None:
        if self._stopped:
            raise RuntimeError("this collective executor has already stopped its workers")
        payload = pickle.dumps(objective)
        self.collective.broadcast(("start", payload, self.worker_env))
        self._rank.start(payload, self.worker_env)

    def free_slots(self) -> int:
        return self.n_workers - len(self._pending)

    def submit(self, task: Task) -> None:
        if not self.free_slots():
            raise RuntimeError("every rank has a task this round: check free_slots() before submit()")
        self._pending.append(task)

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Runs the pending tasks as one round (rank 0 trains its own); returns all their outcomes."""
        if not self._pending:
            return []
        tasks: list[Task | None] = [*self._pending, *[None] * (self.n_workers - len(self._pending))]
        self._pending = []
        self.collective.broadcast(("round", tasks))
        return [outcome for outcome in self._rank.run_round(tasks) if outcome is not None]

    def close(self) -> None:
        """Tells the other ranks to return from :func:`serve` (once)."""
        if not self._stopped:
            self._stopped = True
            self.collective.broadcast(("stop",))

    def abort(self) -> None:
        """Gives up without a message: the other ranks may be gone (Ctrl-C reaches every rank)."""
        self._stopped = True
        self._pending = []


def serve(collective: Collective, device: WorkerDevice) -> int:
    """Runs on every rank but 0 until rank 0 stops the job; returns how many trials this rank ran.

    Call it after applying ``device`` (:meth:`~hpo.devices.WorkerDevice.apply`) and before
    importing a framework: the objective is unpickled here, after the environment is set.
    """
    if collective.rank == 0:
        raise ValueError("rank 0 drives the search with a CollectiveExecutor; serve() is for the other ranks")
    rank = _Rank(collective, device)
    trials = 0
    while True:
        message = collective.broadcast(None)
        kind = message[0]
        if kind == "stop":
            return trials
        if kind == "start":
            rank.start(message[1], message[2])
        elif kind == "round":
            trials += rank.run_round(message[1])[collective.rank] is not None
        elif kind == "pool":  # rank 0 switched the job to the asynchronous pool (hpo.executors._mpi_pool)
            from ._mpi_pool import serve_pool

            return trials + serve_pool(collective, device)
        else:
            raise RuntimeError(f"unknown message {kind!r} from rank 0")


def join(collective: Collective | str, *, gpus: list[str] | None = None, asynchronous: bool = False) -> Executor | None:
    """Joins this process to a distributed job: rank 0's executor, or ``None`` after serving on the others.

    Pins the rank to its device (applied before any framework is imported); rank 0 gets
    the executor to drive the search with, every other rank serves trials until rank 0
    stops the job, then returns ``None``. Every rank of the job must call it alike.

    Args:
        collective: The job's :class:`~hpo.distributed.Collective`, or a backend name
            (``"mpi"``, ``"horovod"``, or ``"mpi_async"`` for MPI with ``asynchronous=True``).
        gpus: GPU ids of this node. Defaults to the visible GPUs.
        asynchronous: The asynchronous pool (:class:`~hpo.executors.MPIPoolExecutor`, MPI
            only): rank 0 drives without training and stays off the GPUs, the other ranks
            share their node's devices (:func:`~hpo.distributed.pool_rank_device`) and run
            :func:`~hpo.executors.serve_pool`. Defaults to `False`: lock-step rounds of one
            trial per rank, rank 0 included (:class:`CollectiveExecutor`, :func:`serve`).
    """
    if isinstance(collective, str):
        asynchronous = asynchronous or collective == "mpi_async"
        collective = connect("mpi" if collective == "mpi_async" else collective)
    if not asynchronous:
        device = rank_device(collective, gpus=gpus)
        device.apply()
        if collective.rank != 0:
            serve(collective, device)
            return None
        return CollectiveExecutor(collective, device)
    from ._mpi_pool import MPIPoolExecutor, _comm_of, serve_pool

    _comm_of(collective)  # Horovod has no point-to-point: the same one-line refusal on every rank
    host = socket.gethostname()
    device = pool_rank_device(collective, gpus=gpus, beside_driver=collective.broadcast(host) == host)
    device.apply()
    if collective.rank != 0:
        serve_pool(collective, device)
        return None
    return MPIPoolExecutor(collective, device)
