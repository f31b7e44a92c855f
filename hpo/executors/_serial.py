"""The serial executor: one trial at a time, in the calling process."""

from __future__ import annotations

from ..devices import WorkerDevice
from ._base import Executor, Objective, Outcome, Task, evaluate, setup_objective

__all__ = ["SerialExecutor"]


class SerialExecutor(Executor):
    """Runs each task in this process when :meth:`wait` is called.

    Deterministic and simple: the reference every other executor is compared with.
    """

    n_workers = 1
    name = "serial"

    def __init__(self, device: WorkerDevice | None = None) -> None:
        self.device = device or WorkerDevice(0, "local")
        self._objective: Objective | None = None
        self._task: Task | None = None

    def start(self, objective: Objective) -> None:
        self._objective = objective
        setup_objective(objective, self.device)

    def submit(self, task: Task) -> None:
        if self._task is not None:
            raise RuntimeError("the serial executor runs one task at a time")
        self._task = task

    def free_slots(self) -> int:
        return 0 if self._task is not None else 1

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        if self._task is None:
            return []
        if self._objective is None:
            raise RuntimeError("call start(objective) before wait()")
        task, self._task = self._task, None
        return [evaluate(self._objective, task, worker="serial", device=self.device.label)]
