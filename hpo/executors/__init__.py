"""Executors run trials: ``serial`` in this process, ``local`` on a pool of worker processes,
``mpi`` and ``horovod`` on the ranks of a distributed job in lock-step rounds, ``mpi_async``
on MPI ranks as an asynchronous pool (:mod:`hpo.distributed`).
"""

from __future__ import annotations

from typing import Any

from ._base import Executor, FatalError, Outcome, Task, evaluate
from ._collective import CollectiveExecutor, join, serve
from ._local import LocalExecutor
from ._mpi_pool import MPIPoolExecutor, serve_pool
from ._serial import SerialExecutor

__all__ = [
    "CollectiveExecutor",
    "Executor",
    "FatalError",
    "LocalExecutor",
    "MPIPoolExecutor",
    "Outcome",
    "SerialExecutor",
    "Task",
    "available",
    "evaluate",
    "get",
    "join",
    "serve",
    "serve_pool",
]


def _collective(backend: str):
    def build(collective=None, **settings: Any) -> CollectiveExecutor:
        from ..distributed import connect

        settings.pop("n_workers", None)  # the launcher decides how many ranks run
        return CollectiveExecutor(collective or connect(backend), **settings)

    return build


def _mpi_pool(collective=None, **settings: Any) -> MPIPoolExecutor:
    from ..distributed import connect

    settings.pop("n_workers", None)  # the launcher decides: size - 1 ranks train
    return MPIPoolExecutor(collective or connect("mpi"), **settings)


_EXECUTORS = {
    "serial": SerialExecutor,
    "local": LocalExecutor,
    "mpi": _collective("mpi"),
    "horovod": _collective("horovod"),
    "mpi_async": _mpi_pool,
}


def available() -> list[str]:
    """Names of the executors."""
    return sorted(_EXECUTORS)


def get(name: str, **settings: Any) -> Executor:
    """Builds the executor called ``name`` with its settings (e.g. ``n_workers=4``).

    ``mpi`` and ``horovod`` connect to the job's ranks (or take ``collective=``); call them
    on rank 0 only, while the other ranks run :func:`serve`. ``mpi_async`` likewise, while
    the other ranks run :func:`serve_pool` (or use :func:`join` on every rank).
    """
    if name not in _EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; allowed: {', '.join(available())}")
    if name == "serial":
        settings.pop("n_workers", None)
    return _EXECUTORS[name](**settings)
