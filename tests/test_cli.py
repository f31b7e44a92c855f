"""keras-geo-hpo end to end: search, status, report, export, load in a fresh process; errors exit 2."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from keras_geo.cli import main

TINY = {
    "name": "tiny",
    "seed": 1,
    "dataset": {"name": "filler", "fov_nm": 250, "box_nm": 300, "image_size": 16, "n_train": 20, "n_val": 10, "n_test": 10},
    "model": {"builder": "filler_cnn", "fixed": {"conv_layers": 2}},
    "training": {"epochs": 2, "batch_size": 16},
    "space": {
        "filters": {"type": "int", "low": 2, "high": 8},
        "learning_rate": {"type": "float", "low": 1.0e-3, "high": 1.0e-2, "log": True},
    },
    "strategy": {"name": "random"},
    "executor": {"name": "serial"},
    "budget": {"trials": 3},
}


def write(tmp_path, **changes):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**TINY, "store": str(tmp_path / "run" / "store.db"), **changes}))
    return path


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("cli")
    assert main(["search", str(write(tmp_path))]) == 0
    return tmp_path, tmp_path / "run" / "store.db"


def test_search_fills_the_store(searched):
    from hpo.store import TrialStore

    _, store_path = searched
    store = TrialStore(store_path)
    trials = store.trials()
    assert len(trials) == 3 and all(t.status == "done" for t in trials)
    assert all(0.0 <= t.value <= 1.0 and "val_accuracy" in t.metrics for t in trials)
    assert store.get_search().config["strategy"]["name"] == "random"
    # Only the best trial's model is kept on disk.
    assert [p.name for p in (store_path.parent / "models").iterdir()] == [f"trial_{store.best('maximize').id}.keras"]


def test_status_json_and_text(searched, capsys):
    _, store_path = searched
    assert main(["status", str(store_path), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["counts"]["done"] == 3
    assert main(["status", str(store_path)]) == 0
    assert "done" in capsys.readouterr().out


def test_report_writes_plots_and_summary(searched):
    tmp_path, store_path = searched
    assert main(["report", str(store_path), "--out", str(tmp_path / "report")]) == 0
    pngs = sorted((tmp_path / "report").glob("*.png"))
    assert pngs and all(p.stat().st_size > 1000 for p in pngs)
    text = (tmp_path / "report" / "report.md").read_text()
    assert "val_accuracy" in text or "value" in text
    # Grad-CAM of the best model on two validation images per class.
    assert (tmp_path / "report" / "gradcam_best.png").stat().st_size > 5000
    assert "## Grad-CAM of the best model" in text and "![Grad-CAM of the best model](gradcam_best.png)" in text
    assert "of 6 classified correctly" in text
    assert '<img src="gradcam_best.png"' in (tmp_path / "report" / "report.html").read_text()


def test_report_without_gradcam(searched):
    tmp_path, store_path = searched
    assert main(["report", str(store_path), "--out", str(tmp_path / "plain"), "--no-gradcam"]) == 0
    assert not (tmp_path / "plain" / "gradcam_best.png").exists()
    assert "Grad-CAM" not in (tmp_path / "plain" / "report.md").read_text()


def test_export_loads_in_a_fresh_process_and_predicts(searched):
    tmp_path, store_path = searched
    out = tmp_path / "best.keras"
    assert main(["export", str(store_path), "--out", str(out)]) == 0
    script = (
        "import numpy as np, keras, keras_geo\n"
        f"m = keras.models.load_model({str(out)!r})\n"
        "p = m.predict(np.zeros((2, 16, 16, 1), 'float32'), verbose=0)\n"
        "assert p.shape == (2, 3) and np.allclose(p.sum(axis=1), 1, atol=1e-5)\n"
        "print('ok')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("ok")


def test_a_second_search_in_the_store_reuses_every_trial(searched, capsys):
    from hpo.store import TrialStore

    tmp_path, store_path = searched
    assert main(["search", str(write(tmp_path))]) == 0
    store = TrialStore(store_path)
    assert store.counts()["cache_hits"] == 3
    assert "3 cache hits" in capsys.readouterr().out


def test_warm_start_from_an_earlier_store_reuses_its_trials(searched, tmp_path, capsys):
    from hpo.store import TrialStore

    _, old_store = searched
    fresh = tmp_path / "fresh" / "store.db"
    assert main(["search", str(write(tmp_path)), "--store", str(fresh), "--warm-start", str(old_store)]) == 0
    trials = TrialStore(fresh).trials()
    assert len(trials) == 3 and all(t.cache_hit for t in trials)
    assert not (fresh.parent / "models").exists() or not any((fresh.parent / "models").iterdir())


def test_resume_of_a_finished_search_trains_nothing(searched, capsys):
    _, store_path = searched
    assert main(["resume", str(store_path)]) == 0
    out = capsys.readouterr().out
    assert "trial budget of 3 reached" in out and "0 done" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["status", "no/such/store.db"], "no such store"),
        (["export", "no/such/store.db", "--out", "x.keras"], "no such store"),
        (["search", "no/such/config.yaml"], "config: no such file"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bad_config_key_exits_2_with_the_key(tmp_path, capsys):
    assert main(["search", str(write(tmp_path, budget={"trials": -1}))]) == 2
    assert "budget.trials: must be >= 1" in capsys.readouterr().err


def test_a_file_that_is_not_a_store_exits_2(tmp_path, capsys):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert main(["status", str(junk)]) == 2
    assert "junk.db" in capsys.readouterr().err


def test_models_lists_the_builders(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "filler_cnn" in out and "cnfm" in out


def test_cli_overrides_beat_the_yaml(tmp_path):
    from hpo.store import TrialStore

    assert main(["search", str(write(tmp_path)), "--strategy", "ga", "--trials", "2", "--seed", "5"]) == 0
    config = TrialStore(tmp_path / "run" / "store.db").get_search().config
    assert (config["strategy"]["name"], config["budget"]["trials"], config["seed"]) == ("ga", 2, 5)


@pytest.mark.slow
def test_two_local_workers_share_the_search(tmp_path):
    from hpo.store import TrialStore

    config = write(tmp_path, executor={"name": "local", "workers": 2}, budget={"trials": 4})
    assert main(["search", str(config)]) == 0
    trials = TrialStore(tmp_path / "run" / "store.db").trials()
    assert len(trials) == 4 and all(t.status == "done" for t in trials)
    assert len({t.worker for t in trials}) == 2
    assert all(t.device.startswith("cpu:1t") for t in trials)
    assert np.isfinite([t.value for t in trials]).all()


def test_worker_setup_applies_the_thread_plan(tmp_path):
    """In a fresh process, as a local worker: the planned thread counts reach TensorFlow."""
    script = (
        "import os\n"
        "os.environ.update(TF_NUM_INTRAOP_THREADS='1', TF_NUM_INTEROP_THREADS='1')\n"
        "from hpo.devices import WorkerDevice\n"
        "from keras_geo.search import _configure_framework\n"
        "import tensorflow as tf\n"
        "_configure_framework(WorkerDevice(0, 'cpu:1t'))\n"
        "print(tf.config.threading.get_intra_op_parallelism_threads(), tf.config.threading.get_inter_op_parallelism_threads())\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-2:] == ["1", "1"]
