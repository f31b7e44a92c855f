"""The asynchronous MPI pool: rank 0 hands each trial to whichever rank is free (point-to-point).

The collective executor (:mod:`hpo.executors._collective`) runs lock-step rounds: a
broadcast of one task per rank, then an all-gather, so every rank waits for the
slowest trial of its round. Here rank 0 sends each task to one idle rank
(``isend``) and collects outcomes as they arrive (``Iprobe`` then ``recv``), so a
rank that finishes early gets its next trial at once. In asynchronous mode
(:func:`hpo.loop.run_search`'s default) no rank waits for another; the trials the
strategy proposes then depend on the order in which trials finish, so two runs
with the same seed may differ. In synchronous mode the batch still fixes the
sequence: the same seed gives the serial executor's trials.

Roles. Rank 0 drives only: it runs the strategy and alone writes the store, as with
the collective executor, and trains nothing, so ``n_workers`` is ``size - 1`` (launch
one rank more than the GPUs you want busy; :func:`join` keeps rank 0 off the GPUs
and splits its node's GPUs or cores among the other ranks there). A job of one rank
has no one to send to: rank 0 then runs each task itself in :meth:`~MPIPoolExecutor.wait`
(one worker, like the serial executor), so a configuration naming the pool also
runs without a launcher. Horovod has collectives only (no point-to-point
messages), so it stays with the lock-step :class:`~hpo.executors.CollectiveExecutor`.

Messages, all from or to rank 0, on two tags of ``MPI.COMM_WORLD``:

* to a worker (``_TO_WORKER``, in order): ``("start", objective, env)`` once, then
  ``("task", task)`` for each trial (the :class:`~hpo.executors.Task` pickled whole,
  whatever fields it has), then ``("stop",)``;
* to rank 0 (``_TO_DRIVER``): the :class:`~hpo.executors.Outcome` of each task, its
  status (done, failed, pruned, ...) passed on untouched.

A trial that raises is a failed outcome, as everywhere. A rank whose ``setup``
fails answers each task with a fatal outcome carrying the error, which stops the
search cleanly. :meth:`~MPIPoolExecutor.close` sends ``stop`` to every worker and
waits for the trials still running (a wall-time budget can leave some) to end, so
every rank returns from :func:`serve_pool`; :meth:`~MPIPoolExecutor.abort` sends
``stop`` without waiting for anything. Idle ranks sleep between probes instead of
blocking in a receive: Open MPI's blocking receive spins, and would take a core
from the trial of a rank on the same node.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Mapping
from typing import Any

from ..devices import WorkerDevice
from ..distributed import Collective
from ._base import Executor, Objective, Outcome, Task
from ._collective import _Rank

__all__ = ["MPIPoolExecutor", "serve_pool"]

# Tags of the pool's messages ("HP" + n), apart from anything else the job sends.
_TO_WORKER = 0x4850 + 1
_TO_DRIVER = 0x4850 + 2
_POLL_MAX_S = 0.01  # the longest sleep between two probes of an idle rank


def _comm_of(collective: Collective) -> Any:
    comm = getattr(collective, "comm", None)
    if collective.size > 1 and comm is None:
        raise ValueError(
            f"the mpi_async pool sends point-to-point messages, which the {collective.backend or 'given'} backend "
            f"lacks (Horovod has collectives only); use its lock-step executor, e.g. --backend {collective.backend}"
        )
    return comm


def _any_source() -> tuple[Any, Any]:
    from mpi4py import MPI

    return MPI.ANY_SOURCE, MPI.Status()


class _Backoff:
    """Sleeps between probes: 0.1 ms at first, doubling up to ``cap`` seconds."""

    def __init__(self, cap: float = _POLL_MAX_S) -> None:
        self.cap, self.delay = cap, 1e-4

    def sleep(self, deadline: float | None = None) -> None:
        delay = self.delay if deadline is None else max(0.0, min(self.delay, deadline - time.monotonic()))
        time.sleep(delay)
        self.delay = min(self.cap, self.delay * 2)


class MPIPoolExecutor(Executor):
    """Rank 0's executor of the asynchronous pool: each task goes to an idle rank, outcomes as they come.

    Args:
        collective: The job's MPI :class:`~hpo.distributed.Collective` (a
            :class:`~hpo.distributed.MPICollective`, or :class:`~hpo.distributed.SingleProcess`
            for a job of one rank); this process must be rank 0.
        device: Rank 0's device; with one rank it trains there. Defaults to a bare CPU device.
        worker_env: Environment variables every rank sets before unpickling the objective.
        poll_s: The longest sleep of :meth:`wait` between two probes for outcomes. Defaults to `0.01`.

    ``n_workers`` is ``size - 1`` (rank 0 drives only), or 1 in a job of one rank.
    """

    name = "mpi_async"

    def __init__(
        self,
        collective: Collective,
        device: WorkerDevice | None = None,
        *,
        worker_env: Mapping[str, str] | None = None,
        poll_s: float = _POLL_MAX_S,
    ) -> None:
        if collective.rank != 0:
            raise ValueError(f"the mpi_async pool is driven from rank 0; rank {collective.rank} runs serve_pool()")
        if not (isinstance(poll_s, (int, float)) and poll_s > 0):
            raise ValueError(f"poll_s must be a number > 0. Received: poll_s={poll_s!r}")
        self.comm = _comm_of(collective)
        self.collective = collective
        self.device = device or WorkerDevice(0, "local")
        self.worker_env = dict(worker_env or {})
        self.poll_s = float(poll_s)
        self.workers = list(range(1, collective.size))  # the ranks that train
        self.n_workers = max(1, len(self.workers))
        self._tasks: dict[int, Task] = {}  # rank -> its running task
        self._sends: dict[int, Any] = {}  # rank -> its last isend request
        self._inline = _Rank(collective, self.device) if not self.workers else None
        self._queued: list[Task] = []  # the one-rank job's task, run in wait()
        self._started = self._stopped = False

    @classmethod
    def take_over(cls, executor: Executor) -> MPIPoolExecutor:
        """Switches a job that :func:`~hpo.executors.join` started in rounds to the pool, on rank 0.

        For a configuration read after the ranks joined (``mpiexec ... keras-geo-hpo search
        CONFIG`` whose executor is ``mpi_async``): the ranks serving rounds are told to serve
        the pool instead. Call it before ``start``; ``executor`` is finished with. Rank 0 keeps
        the device it was pinned to as a rank of the rounds.
        """
        from ._collective import CollectiveExecutor

        if not isinstance(executor, CollectiveExecutor) or executor._stopped:
            raise ValueError(f"only a fresh MPI CollectiveExecutor can become a pool. Received: {executor!r}")
        pool = cls(executor.collective, executor.device, worker_env=executor.worker_env)
        executor.collective.broadcast(("pool",))
        executor._stopped = True  # its close() must not broadcast to ranks that now serve the pool
        return pool

    # -- sending ------------------------------------------------------------------------
    def _send(self, rank: int, message: tuple) -> None:
        previous = self._sends.get(rank)
        if previous is not None:
            previous.wait()  # done long ago: the rank answered what it carried
        self._sends[rank] = self.comm.isend(message, dest=rank, tag=_TO_WORKER)

    def start(self, objective: Objective) -> None:
        if self._stopped:
            raise RuntimeError("this mpi_async pool has already stopped its workers")
        payload = pickle.dumps(objective)
        if self._inline is not None:
            self._inline.start(payload, self.worker_env)
        for rank in self.workers:
            self._send(rank, ("start", payload, self.worker_env))
        self._started = True

    def free_slots(self) -> int:
        if self._inline is not None:
            return 1 - len(self._queued)
        return len(self.workers) - len(self._tasks)

    def submit(self, task: Task) -> None:
        """Sends ``task`` to the lowest idle rank (it starts at once)."""
        if not self._started or self._stopped:
            raise RuntimeError("start() the mpi_async pool before submit(), and not after close()")
        if self._inline is not None:
            if self._queued:
                raise RuntimeError("the one rank is busy: check free_slots() before submit()")
            self._queued.append(task)
            return
        rank = next((r for r in self.workers if r not in self._tasks), None)
        if rank is None:
            raise RuntimeError("every rank runs a trial: check free_slots() before submit()")
        self._tasks[rank] = task
        self._send(rank, ("task", task))

    # -- receiving ----------------------------------------------------------------------
    def _receive_ready(self) -> list[Outcome]:
        """The outcomes that have arrived, without blocking."""
        source, status = _any_source()
        outcomes = []
        while self.comm.Iprobe(source=source, tag=_TO_DRIVER, status=status):
            rank = status.Get_source()
            outcomes.append(self.comm.recv(source=rank, tag=_TO_DRIVER))
            self._tasks.pop(rank, None)
        return outcomes

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Outcomes as they arrive: at least one, unless ``timeout`` seconds pass or nothing runs."""
        if self._inline is not None:
            tasks, self._queued = self._queued, []
            return [self._inline.run(task) for task in tasks]
        deadline = None if timeout is None else time.monotonic() + timeout
        backoff = _Backoff(self.poll_s)
        while self._tasks:
            outcomes = self._receive_ready()
            if outcomes:
                return outcomes
            if deadline is not None and time.monotonic() >= deadline:
                break
            backoff.sleep(deadline)
        return []

    def ranks_busy(self) -> dict[int, int]:
        """Which trial each busy rank runs (rank -> trial id), for monitoring and tests."""
        return {rank: task.trial_id for rank, task in self._tasks.items()}

    # -- stopping -------------------------------------------------------------------------
    def close(self) -> None:
        """Stops every rank (once): ``stop`` to all, then waits for the trials still running to end.

        Their outcomes are dropped (the loop stopped wanting them; the store keeps them as
        the loop left them, and a resume re-runs them).
        """
        if self._stopped:
            return
        self._stopped = True
        for rank in self.workers:
            self._send(rank, ("stop",))
        backoff = _Backoff(self.poll_s)
        while self._tasks:
            if not self._receive_ready():
                backoff.sleep()
        for request in self._sends.values():
            request.wait()
        self._sends = {}

    def abort(self) -> None:
        """Gives up at once: ``stop`` to every rank, without waiting for a send or a trial."""
        if self._stopped:
            return
        self._stopped = True
        self._tasks, self._queued = {}, []
        for rank in self.workers:
            try:  # never waited for: the rank may be gone, and then the launcher ends the job
                self._sends[rank] = self.comm.isend(("stop",), dest=rank, tag=_TO_WORKER)
            except Exception:  # noqa: BLE001
                pass


def serve_pool(collective: Collective, device: WorkerDevice) -> int:
    """Runs on every rank but 0 until rank 0 stops the pool; returns how many trials this rank ran.

    Call it after applying ``device`` and before importing a framework: the objective is
    unpickled here, after the environment rank 0 sends is set.
    """
    if collective.rank == 0:
        raise ValueError("rank 0 drives the search with an MPIPoolExecutor; serve_pool() is for the other ranks")
    comm = _comm_of(collective)
    rank = _Rank(collective, device)
    trials = 0
    while True:
        backoff = _Backoff()
        while not comm.Iprobe(source=0, tag=_TO_WORKER):
            backoff.sleep()
        message = comm.recv(source=0, tag=_TO_WORKER)
        kind = message[0]
        if kind == "stop":
            return trials
        if kind == "start":
            rank.start(message[1], message[2])
        elif kind == "task":
            outcome = rank.run(message[1])
            comm.send(outcome, dest=0, tag=_TO_DRIVER)
            trials += 1
        else:
            raise RuntimeError(f"unknown message {kind!r} from rank 0")
