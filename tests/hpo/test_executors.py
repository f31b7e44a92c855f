"""Executors: serial and local pool run objectives, record failures, survive killed workers."""

from __future__ import annotations

import math
import os
import signal
import time

import pytest

from hpo import executors
from hpo.devices import plan_devices
from hpo.executors import FatalError, Task, evaluate


def square(params, *, seed, trial_id):
    if params.get("fail"):
        raise RuntimeError("boom")
    if params.get("nan"):
        return math.nan
    if params.get("sleep"):
        time.sleep(params["sleep"])
    return {"value": params["x"] ** 2, "metrics": {"pid": os.getpid(), "seed": seed}}


def hang_or_square(params, *, seed, trial_id):
    if params.get("hang"):
        time.sleep(60)
    return params["x"] ** 2


class WithSetup:
    def setup(self, device):
        self.env = dict(device.env)

    def __call__(self, params, *, seed, trial_id):
        return {"value": 0.0, "metrics": {"threads": os.environ.get("OMP_NUM_THREADS"), "setup": self.env}}


def test_evaluate_turns_errors_and_nan_into_failed_outcomes():
    ok = evaluate(square, Task(1, {"x": 3}, 0))
    assert (ok.status, ok.value, ok.metrics["seed"]) == ("done", 9.0, 0)
    failed = evaluate(square, Task(2, {"fail": True}, 0))
    assert failed.status == "failed" and "RuntimeError: boom" in failed.error
    nan = evaluate(square, Task(3, {"nan": True}, 0))
    assert nan.status == "failed" and "non-finite" in nan.error


def test_fatal_error_is_flagged():
    def fatal(params, *, seed, trial_id):
        raise FatalError("dataset path missing")

    outcome = evaluate(fatal, Task(1, {}, 0))
    assert outcome.fatal and "dataset path missing" in outcome.error


def test_serial_executor_runs_one_at_a_time():
    with executors.get("serial", n_workers=4) as pool:
        pool.start(square)
        assert pool.free_slots() == 1
        pool.submit(Task(1, {"x": 2}, 5))
        assert pool.free_slots() == 0
        [outcome] = pool.wait()
        assert outcome.value == 4.0 and outcome.metrics["pid"] == os.getpid()
        assert pool.wait() == []


def test_plan_devices_splits_cores_and_pins_gpus():
    cpu = plan_devices(2, gpus=[], cores=8)
    assert [d.env["OMP_NUM_THREADS"] for d in cpu] == ["4", "4"]
    assert all(d.env["CUDA_VISIBLE_DEVICES"] == "-1" for d in cpu)
    gpu = plan_devices(4, gpus=["0", "1"], workers_per_gpu=2, cores=16)
    assert [d.env["CUDA_VISIBLE_DEVICES"] for d in gpu] == ["0", "1", "0", "1"]
    assert all(d.env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" for d in gpu)
    with pytest.raises(ValueError, match="workers_per_gpu"):
        plan_devices(3, gpus=["0"])


def test_local_pool_runs_trials_concurrently_in_other_processes():
    with executors.get("local", n_workers=2, devices=plan_devices(2, gpus=[], cores=2)) as pool:
        pool.start(square)
        started = time.monotonic()
        for i in range(2):
            pool.submit(Task(i, {"x": i, "sleep": 1.5}, i))
        assert pool.free_slots() == 0
        outcomes = []
        while len(outcomes) < 2:
            outcomes += pool.wait(timeout=60)
        elapsed = time.monotonic() - started
        starts = sorted(o.started for o in outcomes)
        ends = sorted(o.ended for o in outcomes)
    assert {o.trial_id: o.value for o in outcomes} == {0: 0.0, 1: 1.0}
    assert len({o.metrics["pid"] for o in outcomes}) == 2
    assert os.getpid() not in {o.metrics["pid"] for o in outcomes}
    assert starts[1] < ends[0], "the two trials did not overlap"
    assert elapsed < 60


def test_local_pool_applies_device_env_before_setup():
    with executors.LocalExecutor(1, devices=plan_devices(1, gpus=[], cores=3)) as pool:
        pool.start(WithSetup())
        pool.submit(Task(1, {}, 0))
        [outcome] = pool.wait(timeout=60)
    assert outcome.metrics["threads"] == "3"
    assert outcome.metrics["setup"]["CUDA_VISIBLE_DEVICES"] == "-1"


def test_local_pool_records_failures_and_goes_on():
    with executors.LocalExecutor(1, devices=plan_devices(1, gpus=[])) as pool:
        pool.start(square)
        pool.submit(Task(1, {"fail": True}, 0))
        [failed] = pool.wait(timeout=60)
        pool.submit(Task(2, {"x": 3}, 0))
        [ok] = pool.wait(timeout=60)
    assert failed.status == "failed" and "boom" in failed.error
    assert ok.value == 9.0


def test_killed_worker_is_replaced_and_its_trial_failed():
    with executors.LocalExecutor(2, devices=plan_devices(2, gpus=[])) as pool:
        pool.start(hang_or_square)
        pool.submit(Task(1, {"hang": True, "x": 0}, 0))
        pool.submit(Task(2, {"x": 2}, 0))
        outcomes = pool.wait(timeout=60)
        assert [o.trial_id for o in outcomes] == [2]
        hung = next(w for w in pool._workers if w.task is not None and w.task.trial_id == 1)
        os.kill(hung.process.pid, signal.SIGKILL)
        [dead] = pool.wait(timeout=60)
        assert dead.trial_id == 1 and dead.status == "failed" and "died" in dead.error
        assert pool.replaced == 1 and pool.free_slots() == 2
        pool.submit(Task(3, {"x": 4}, 0))
        [after] = pool.wait(timeout=60)
        assert after.value == 16.0


def test_workers_are_recycled_after_max_trials():
    with executors.LocalExecutor(1, devices=plan_devices(1, gpus=[]), max_trials_per_worker=2) as pool:
        pool.start(square)
        pids = []
        for i in range(4):
            while pool.free_slots() == 0:
                pool.wait(timeout=1)
            pool.submit(Task(i, {"x": i}, 0))
            [outcome] = pool.wait(timeout=60)
            pids.append(outcome.metrics["pid"])
    assert pids[0] == pids[1] != pids[2] == pids[3]
