"""The local executor: a pool of long-lived worker processes on this machine.

Each worker is a ``spawn``-ed process (a fresh interpreter: no framework state
inherited from the driver, safe with CUDA). It applies its device environment
(:mod:`hpo.devices`) *before* it unpickles the objective, so the objective's
framework imports see only the worker's GPU and thread count. Workers live
across trials (start-up and data loading are paid once) and are recycled after
``max_trials_per_worker`` trials, because frameworks leak memory across trials
even after clearing their sessions. A worker that dies mid-trial is replaced and
its trial is reported ``failed`` with the exit code; the search goes on.

Workers ignore Ctrl-C (SIGINT reaches the whole process group): the driver
decides, marks the running trials ``interrupted`` and terminates them. A worker
whose driver is gone (killed with SIGKILL, or its node's job ended) notices
within a second and exits, mid-trial or idle, so no orphan keeps a GPU busy.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import signal
import threading
import time
from dataclasses import dataclass

from ..devices import WorkerDevice, plan_devices
from ._base import Executor, Objective, Outcome, Task, evaluate, setup_objective

__all__ = ["LocalExecutor"]

_POLL_S = 0.05
_WATCH_S = 1.0  # how often a worker checks that its driver is still there


def _exit_with_driver(driver_pid: int) -> None:
    """Ends this worker process as soon as its driver is gone (checked every second)."""
    while True:
        time.sleep(_WATCH_S)
        if os.getppid() != driver_pid:  # re-parented: the driver died without closing us
            os._exit(3)


def _worker_main(
    device: WorkerDevice,
    objective_bytes: bytes,
    tasks: mp.Queue,
    results: mp.Queue,
    max_trials: int | None,
    name: str,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    threading.Thread(target=_exit_with_driver, args=(os.getppid(),), name="driver-watch", daemon=True).start()
    # Order matters: environment first, then unpickling (which imports the
    # objective's module and its framework).
    device.apply()
    objective = pickle.loads(objective_bytes)
    setup_objective(objective, device)
    done = 0
    while True:
        task = tasks.get()
        if task is None:
            return
        outcome = evaluate(objective, task, worker=name, device=device.label)
        done += 1
        # Retirement travels with the last outcome, so the driver never hands
        # a task to a worker that is on its way out.
        retiring = max_trials is not None and done >= max_trials
        results.put((name, outcome, retiring))
        if retiring:
            return


@dataclass
class _Worker:
    device: WorkerDevice
    process: mp.Process
    tasks: mp.Queue
    name: str
    task: Task | None = None


class LocalExecutor(Executor):
    """A pool of ``n_workers`` spawned processes, each pinned to its device.

    Args:
        n_workers: Worker processes. Defaults to `2`.
        devices: One :class:`~hpo.devices.WorkerDevice` per worker. Defaults to
            :func:`~hpo.devices.plan_devices` (GPUs round robin, or the CPU cores split).
        max_trials_per_worker: Recycle a worker after this many trials to bound memory
            growth; ``None`` never recycles. Defaults to `20`.
    """

    name = "local"

    def __init__(
        self,
        n_workers: int = 2,
        *,
        devices: list[WorkerDevice] | None = None,
        max_trials_per_worker: int | None = 20,
    ) -> None:
        if n_workers < 1:
            raise ValueError(f"n_workers must be >= 1. Received: n_workers={n_workers}")
        self.n_workers = n_workers
        self.devices = devices or plan_devices(n_workers)
        if len(self.devices) != n_workers:
            raise ValueError(f"{n_workers} workers need {n_workers} devices, got {len(self.devices)}")
        self.max_trials_per_worker = max_trials_per_worker
        self._ctx = mp.get_context("spawn")
        self._results: mp.Queue | None = None
        self._objective_bytes = b""
        self._workers: list[_Worker] = []
        self._spawned = 0
        self.replaced = 0

    def _spawn(self, device: WorkerDevice) -> _Worker:
        self._spawned += 1
        name = f"worker{device.index}.{self._spawned}"
        tasks = self._ctx.Queue()
        process = self._ctx.Process(
            target=_worker_main,
            args=(device, self._objective_bytes, tasks, self._results, self.max_trials_per_worker, name),
            name=f"hpo-{name}",
            daemon=True,
        )
        process.start()
        return _Worker(device, process, tasks, name)

    def start(self, objective: Objective) -> None:
        # Pickled here, unpickled in the worker after its environment is set.
        self._objective_bytes = pickle.dumps(objective)
        self._results = self._ctx.Queue()
        self._workers = [self._spawn(device) for device in self.devices]

    def free_slots(self) -> int:
        return sum(1 for w in self._workers if w.task is None)

    def submit(self, task: Task) -> None:
        for worker in self._workers:
            if worker.task is None:
                worker.task = task
                worker.tasks.put(task)
                return
        raise RuntimeError("no free worker: check free_slots() before submit()")

    def _by_name(self, name: str) -> _Worker | None:
        return next((w for w in self._workers if w.name == name), None)

    def _replace(self, worker: _Worker) -> None:
        worker.process.join(timeout=5)
        worker.tasks.close()
        index = self._workers.index(worker)
        self._workers[index] = self._spawn(worker.device)

    def _drain(self, timeout: float) -> list[Outcome]:
        outcomes = []
        assert self._results is not None
        try:
            message = self._results.get(timeout=timeout)
            while True:
                name, outcome, retiring = message
                outcomes.append(outcome)
                worker = self._by_name(name)
                if worker is not None:
                    worker.task = None
                    if retiring:
                        self._replace(worker)
                message = self._results.get_nowait()
        except queue.Empty:
            pass
        return outcomes

    def _reap_dead(self) -> list[Outcome]:
        outcomes = []
        for worker in list(self._workers):
            if worker.process.is_alive():
                continue
            # A worker that exited flushed its queue first: collect what it sent.
            outcomes += self._drain(0.0)
            if worker not in self._workers:  # it retired and was replaced meanwhile
                continue
            if worker.task is not None:
                now = time.time()
                outcomes.append(
                    Outcome(
                        worker.task.trial_id,
                        "failed",
                        error=f"worker {worker.name} died (exit code {worker.process.exitcode}) during the trial",
                        worker=worker.name,
                        device=worker.device.label,
                        started=now,
                        ended=now,
                    )
                )
            self.replaced += 1
            self._replace(worker)
        return outcomes

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            outcomes = self._drain(_POLL_S) + self._reap_dead()
            if outcomes or not any(w.task is not None for w in self._workers):
                return outcomes
            if deadline is not None and time.monotonic() >= deadline:
                return []

    def pids(self) -> list[int]:
        """Process ids of the current workers (for tests and monitoring)."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def abort(self) -> None:
        """Terminates the workers at once (after Ctrl-C; their trials are marked interrupted)."""
        for worker in self._workers:
            if worker.process.is_alive():
                worker.process.terminate()
        for worker in self._workers:
            worker.process.join(timeout=5)
        self._workers = []

    def close(self) -> None:
        for worker in self._workers:
            if worker.process.is_alive():
                worker.tasks.put(None)
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)
        self._workers = []
