"""Executors run trials: ``serial`` in this process, ``local`` on a pool of worker processes.

MPI and Horovod backends come as SPMD drivers on the same interface (issue 5).
"""
from __future__ import annotations

from typing import Any

from ._base import Executor, FatalError, Outcome, Task, evaluate
from ._local import LocalExecutor
from ._serial import SerialExecutor

__all__ = [
    "Executor",
    "FatalError",
    "LocalExecutor",
    "Outcome",
    "SerialExecutor",
    "Task",
    "available",
    "evaluate",
    "get",
]

_EXECUTORS = {"serial": SerialExecutor, "local": LocalExecutor}


def available() -> list[str]:
    """Names of the executors."""
    return sorted(_EXECUTORS)


def get(name: str, **settings: Any) -> Executor:
    """Builds the executor called ``name`` with its settings (e.g. ``n_workers=4``)."""
    if name not in _EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; allowed: {', '.join(available())}")
    if name == "serial":
        settings.pop("n_workers", None)
    return _EXECUTORS[name](**settings)
