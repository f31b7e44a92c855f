"""Which devices and how many threads each worker gets, decided before it imports anything heavy.

A worker process sees only its own GPU(s) through ``CUDA_VISIBLE_DEVICES``, which
must be set before the deep-learning framework is imported; on CPU, workers split
the cores so that W workers never oversubscribe the machine. This module only
computes environment variables; it imports no framework.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["WorkerDevice", "plan_devices", "visible_gpus"]


@dataclass(frozen=True)
class WorkerDevice:
    """The device assignment of one worker.

    Attributes:
        index: Worker index, ``0 .. n_workers - 1``.
        label: Human-readable device, e.g. ``"gpu:1"`` or ``"cpu:2t"`` (two threads).
        env: Environment variables to set in the worker before importing a framework.
    """

    index: int
    label: str
    env: Mapping[str, str] = field(default_factory=dict)

    def apply(self) -> None:
        """Sets :attr:`env` in this process (call before importing TensorFlow)."""
        os.environ.update(self.env)


def visible_gpus(environ: Mapping[str, str] | None = None) -> list[str]:
    """GPU ids this process may hand out: ``CUDA_VISIBLE_DEVICES`` if set, else ``nvidia-smi -L``.

    Returns an empty list on a machine without NVIDIA GPUs. No framework is imported.
    """
    environ = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in environ:
        ids = [d.strip() for d in environ["CUDA_VISIBLE_DEVICES"].split(",")]
        return [d for d in ids if d and d != "-1"]
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(listing.splitlines()) if line.startswith("GPU ")]


def plan_devices(
    n_workers: int,
    *,
    gpus: Sequence[str] | None = None,
    workers_per_gpu: int = 1,
    cores: int | None = None,
    gpu_memory_mb: int | None = None,
    threads: int | None = None,
) -> list[WorkerDevice]:
    """Assigns each of ``n_workers`` workers a GPU (round robin) or a share of the CPU cores.

    Args:
        n_workers: Number of worker processes (or ranks on this node).
        gpus: GPU ids to use. Defaults to :func:`visible_gpus`; an empty list means CPU only.
        workers_per_gpu: How many workers share one GPU; with more than one, GPU memory
            grows on demand (``TF_FORCE_GPU_ALLOW_GROWTH``) unless ``gpu_memory_mb`` caps
            each worker. Defaults to `1`.
        cores: CPU cores to split among the workers. Defaults to `os.cpu_count()`.
        gpu_memory_mb: Per-worker GPU memory limit, passed on as ``KERAS_GEO_GPU_MEMORY_MB``
            for the worker's framework set-up to apply. Defaults to no limit.
        threads: Intra-op threads of every worker, whatever the number of workers. A
            framework's CPU results depend on it (reductions are split per thread), so a
            search that must give the same values with any number of workers fixes it.
            Defaults to the cores split evenly among the workers (at least one each).

    Returns:
        One :class:`WorkerDevice` per worker.

    Raises:
        ValueError: if there are more workers than GPU slots (``len(gpus) * workers_per_gpu``).
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1. Received: n_workers={n_workers}")
    if workers_per_gpu < 1:
        raise ValueError(f"workers_per_gpu must be >= 1. Received: workers_per_gpu={workers_per_gpu}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1. Received: threads={threads}")
    gpus = visible_gpus() if gpus is None else [str(g) for g in gpus]
    cores = cores or os.cpu_count() or 1
    if threads is None:  # the cores split evenly, at least one each
        threads = max(1, cores // n_workers)
    thread_env = {
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(max(1, min(2, threads))),
        "OMP_NUM_THREADS": str(threads),
    }
    plan = []
    if not gpus:
        for i in range(n_workers):
            env = {"CUDA_VISIBLE_DEVICES": "-1", **thread_env}
            plan.append(WorkerDevice(i, f"cpu:{threads}t", env))
        return plan
    slots = len(gpus) * workers_per_gpu
    if n_workers > slots:
        raise ValueError(
            f"{n_workers} workers need {n_workers} GPU slots but {len(gpus)} GPU(s) x "
            f"workers_per_gpu={workers_per_gpu} give {slots}; raise workers_per_gpu or lower the workers"
        )
    for i in range(n_workers):
        gpu = gpus[i % len(gpus)]
        env = {"CUDA_VISIBLE_DEVICES": gpu, **thread_env}
        if workers_per_gpu > 1 and gpu_memory_mb is None:
            env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
        if gpu_memory_mb is not None:
            env["KERAS_GEO_GPU_MEMORY_MB"] = str(int(gpu_memory_mb))
        plan.append(WorkerDevice(i, f"gpu:{gpu}", env))
    return plan
