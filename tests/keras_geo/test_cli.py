"""keras-geo-hpo end to end: search, status, report, export, load in a fresh process; errors exit 2."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from keras_geo.cli import main
from tests import ROOT, predict_in_fresh_process
from tests.keras_geo.test_config import BAD, MINIMAL

TINY = {
    "name": "tiny",
    "seed": 1,
    "dataset": {
        "name": "filler",
        "fov_nm": 250,
        "box_nm": 300,
        "image_size": 16,
        "n_train": 20,
        "n_val": 10,
        "n_test": 10,
    },
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


def test_search_takes_a_shipped_name_unless_a_file_has_it(tmp_path, monkeypatch, capsys):
    from keras_geo.cli._common import config_path
    from keras_geo.config import shipped_config

    monkeypatch.chdir(tmp_path)
    assert config_path("filler_tpe") == config_path("filler_tpe.yaml") == shipped_config("filler_tpe")
    (tmp_path / "filler_tpe.yaml").write_text("name: mine\n")
    assert config_path("filler_tpe.yaml") == Path("filler_tpe.yaml")  # a path that exists wins
    assert config_path("no/such/filler_tpe.yaml") == Path("no/such/filler_tpe.yaml")  # load_config: no such file
    assert main(["search", "filler_nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert "filler_nope" in err and "shipped: bathymetry_sr," in err and len(err.splitlines()) == 1


def test_configs_and_samples_list_what_ships_and_print_paths(capsys):
    from keras_geo import samples
    from keras_geo.config import shipped_configs

    assert main(["configs"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in shipped_configs()) and "The default demo" in out
    assert main(["configs", "filler_ga_tpe"]) == 0
    assert capsys.readouterr().out.strip() == str(shipped_configs()["filler_ga_tpe"])
    assert main(["samples"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in samples.available())
    assert main(["samples", "filler"]) == 0
    assert capsys.readouterr().out.strip() == str(samples.path("filler"))
    for command in ("configs", "samples"):
        assert main([command, "nope"]) == 2
        assert "shipped:" in capsys.readouterr().err


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


# --------------------------------------------------------------------------- #
# faults and bad input at the command line: one line, exit 2 (or 1, 130), no traceback
# --------------------------------------------------------------------------- #
def one_line(err: str) -> str:
    """The one error line of stderr (a progress bar may precede it); no traceback anywhere."""
    assert "Traceback" not in err, err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("keras-geo-hpo")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("patch, message", BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_every_malformed_config_exits_2_with_one_line_naming_the_key(tmp_path, capsys, patch, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "store": str(tmp_path / "s.db"), **patch}))
    assert main(["search", str(path)]) == 2
    err = one_line(capsys.readouterr().err)
    assert re.search(message, err), err
    assert not (tmp_path / "s.db").exists()  # refused before anything was written


def _register_oom_builder():
    from keras_geo import models

    if "oom_cnn" not in models.available():

        @models.register("oom_cnn")
        def oom_cnn(input_shape, n_classes, filters: int = 8):
            """A builder that runs out of GPU memory, as a too large model does."""
            import tensorflow as tf

            raise tf.errors.ResourceExhaustedError(
                None, None, f"OOM when allocating tensor with shape[{filters},4096,4096]"
            )


def test_out_of_memory_trials_fail_with_the_error_and_the_search_stops_with_a_hint(tmp_path, capsys):
    from hpo.store import TrialStore

    _register_oom_builder()
    config = write(
        tmp_path,
        model={"builder": "oom_cnn"},
        space={"filters": {"type": "int", "low": 2, "high": 8}},
        budget={"trials": 6},
    )
    assert main(["search", str(config)]) == 1
    err = one_line(capsys.readouterr().err)
    assert "the first 3 trials all failed" in err and "ResourceExhaustedError: OOM when allocating" in err
    assert "Out of memory: lower the batch size" in err
    store = TrialStore(tmp_path / "run" / "store.db")
    failed = store.trials("failed")
    assert len(failed) == 3 and all("ResourceExhaustedError" in t.error for t in failed)
    assert store.counts()["running"] == 0


def test_a_second_driver_on_a_busy_store_exits_2_naming_the_holder(searched, tmp_path, capsys):
    from hpo.store import TrialStore
    from tests.faults.faults import lock_held_elsewhere

    _, store_path = searched
    reader = TrialStore(store_path)
    before = len(reader.searches())
    with lock_held_elsewhere(store_path) as holder:
        assert main(["resume", str(store_path)]) == 2
        assert f"in use by pid {holder.pid}" in one_line(capsys.readouterr().err)
        config = tmp_path / "again.yaml"
        config.write_text(yaml.safe_dump({**TINY, "store": str(store_path)}))
        assert main(["search", str(config)]) == 2
        assert "one writer at a time" in one_line(capsys.readouterr().err)
    assert len(reader.searches()) == before  # the refused search added nothing


def test_a_damaged_store_exits_2(tmp_path, capsys):
    whole = tmp_path / "whole.db"
    from hpo.store import TrialStore

    with TrialStore(whole) as store:
        store.create_search({}, seed=0)
    cut = tmp_path / "cut.db"
    cut.write_bytes(whole.read_bytes()[:100])
    for command in (["status", str(cut)], ["resume", str(cut)], ["report", str(cut), "--out", str(tmp_path / "r")]):
        assert main(command) == 2
        assert "damaged" in one_line(capsys.readouterr().err)
    cut.write_bytes(b"")  # truncated to nothing
    assert main(["resume", str(cut)]) == 2
    assert "holds no search yet" in one_line(capsys.readouterr().err)


def test_models_with_code_inside_are_refused_by_safe_mode(tmp_path, capsys):
    import keras

    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(2, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(keras.layers.Lambda(lambda x: x * 2)(inputs))
    )
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    image = tmp_path / "img.png"
    import cv2

    cv2.imwrite(str(image), np.zeros((8, 8), np.uint8))
    assert main(["explain", str(tmp_path / "lambda.keras"), str(image), "--out", str(tmp_path / "x")]) == 2
    assert "refusing to load" in one_line(capsys.readouterr().err)
    (tmp_path / "junk.keras").write_bytes(b"PK\x03\x04" + b"junk" * 50)
    assert main(["explain", str(tmp_path / "junk.keras"), str(image), "--out", str(tmp_path / "x")]) == 2
    assert "cannot load" in one_line(capsys.readouterr().err)


def _calls(path: Path):
    """(dotted name, keyword constants) of every call in a source file, e.g. ("np.load", {"allow_pickle": False})."""
    import ast

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            parts, func = [], node.func
            while isinstance(func, ast.Attribute):
                parts.append(func.attr)
                func = func.value
            if isinstance(func, ast.Name):
                parts.append(func.id)
            keywords = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
            yield ".".join(reversed(parts)), keywords


def test_no_store_config_or_cache_file_is_ever_unpickled():
    """Files are read as JSON, YAML (safe_load), SQLite, .npz without pickles and .keras in safe mode;
    pickle only hands the objective to the worker processes a search started itself."""
    root = ROOT
    offenders = []
    for path in [*(root / "hpo").rglob("*.py"), *(root / "keras_geo").rglob("*.py")]:
        where = path.relative_to(root)
        for name, keywords in _calls(path):
            last = name.rsplit(".", 1)[-1]
            if name in (
                "pickle.load",
                "yaml.load",
                "yaml.unsafe_load",
                "marshal.load",
                "marshal.loads",
                "shelve.open",
                "joblib.load",
                "dill.load",
                "dill.loads",
            ):
                offenders.append(f"{where}: {name}")
            elif name == "pickle.loads" and where.parts[:2] != ("hpo", "executors"):
                offenders.append(f"{where}: pickle.loads outside the executors")
            elif name in ("np.load", "numpy.load") and keywords.get("allow_pickle") is not False:
                offenders.append(f"{where}: {name} without allow_pickle=False")
            elif last == "load_model" and "." in name and keywords.get("safe_mode") is not True:
                offenders.append(f"{where}: {name} without safe_mode=True")
    assert not offenders, offenders


CTRL_C_CLI = {
    "executor": {"name": "local", "workers": 2},
    "budget": {"trials": 40},
    "training": {"epochs": 3, "batch_size": 8},
}


@pytest.mark.slow
def test_ctrl_c_at_the_command_line_says_how_to_resume(tmp_path):
    from hpo.store import TrialStore
    from tests.faults.faults import interruptible

    config = write(tmp_path, **CTRL_C_CLI)
    store_path = tmp_path / "run" / "store.db"
    # Output to files, not pipes that nobody reads while the search runs; faulthandler dumps
    # every thread's stack on SIGABRT if the interrupted search ever fails to end.
    out_file, err_file = open(tmp_path / "out.txt", "w+"), open(tmp_path / "err.txt", "w+")
    process = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "keras_geo.cli", "search", str(config)],
        start_new_session=True,
        preexec_fn=interruptible,
        stdout=out_file,
        stderr=err_file,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if store_path.exists():
            with TrialStore(store_path) as store:
                if store.get_search() is not None and store.counts()["done"] >= 1 and store.counts()["running"]:
                    break
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        process.wait()
    err = (tmp_path / "err.txt").read_text()
    assert process.returncode == 130, err[-4000:]
    assert f"Resume with: keras-geo-hpo resume {store_path}" in err
    assert "Traceback" not in err, err[-3000:]
    with TrialStore(store_path) as store:
        counts = store.counts()
    assert counts["running"] == 0 and counts["queued"] == 0 and counts["interrupted"] >= 1 and counts["done"] >= 1


def test_an_image_folder_of_junk_stops_the_search_with_one_line(tmp_path, capsys):
    for name, content in (("a/notes.png", b"not an image"), ("b/empty.jpg", b"")):
        (tmp_path / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "images" / name).write_bytes(content)
    config = write(tmp_path, dataset={"name": "folder", "path": str(tmp_path / "images"), "image_size": 16})
    assert main(["search", str(config)]) == 2
    err = capsys.readouterr().err
    assert "keras-geo-hpo search: error: dataset: cannot load the data set: " in err and "no readable image" in err
    assert "Traceback" not in err


def test_junk_in_an_image_folder_is_skipped_with_a_warning_naming_it(tmp_path, capsys):
    from keras_geo.datasets import shapes

    root = shapes.write_image_folder(tmp_path / "images", 6, 16, seed=0)
    (root / "disc" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (root / "ring" / "README.txt").write_text("class ring")
    config = write(tmp_path, dataset={"name": "folder", "path": str(root), "image_size": 16}, budget={"trials": 1})
    with pytest.warns(UserWarning, match="skipped 2 file") as caught:
        assert main(["search", str(config)]) == 0
    message = str(caught[0].message)
    assert "broken.png" in message and "README.txt" in message


def test_data_with_nan_stops_the_search_before_its_first_trial(tmp_path, capsys):
    from hpo.store import TrialStore

    rng = np.random.default_rng(0)
    x_val = rng.random((6, 16, 16, 1)).astype("float32")
    x_val[2, 5, 5, 0] = np.nan
    np.savez(
        tmp_path / "mine.npz", x_train=rng.random((8, 16, 16, 1)), y_train=[0, 1] * 4, x_val=x_val, y_val=[0, 1] * 3
    )
    config = write(tmp_path, dataset={"name": "npz", "path": str(tmp_path / "mine.npz")})
    assert main(["search", str(config)]) == 2
    err = one_line(capsys.readouterr().err)
    assert err == (
        "keras-geo-hpo search: error: dataset: the 'val' split has 1 non-finite values (NaN or inf) "
        "in its inputs, in 1 of 6 samples; clean or drop them before training"
    ), err
    assert TrialStore(tmp_path / "run" / "store.db").trials() == []


def test_status_after_the_driver_died_says_unfinished_not_running(tmp_path, capsys):
    from hpo.store import TrialStore

    with TrialStore(tmp_path / "store.db") as store:  # what a driver killed mid-trial leaves
        store.create_search({"name": "x"}, seed=0)
        store.start(store.add_trial({"k": 1}), worker="worker0.1")
    assert main(["status", str(tmp_path / "store.db")]) == 0
    out = capsys.readouterr().out
    assert "1 unfinished (no driver holds the store: `resume` re-runs them)" in out and " running" not in out


@pytest.mark.parametrize("kind", ["random-bytes", "utf-16-without-bom", "folder"])
def test_a_config_that_is_not_yaml_text_exits_2_with_one_line_naming_it(tmp_path, capsys, kind):
    path = tmp_path / "bad.yaml"
    if kind == "folder":
        path.mkdir()
    else:
        data = np.random.default_rng(0).bytes(300) if kind == "random-bytes" else "name: x\n".encode("utf-16-le")
        path.write_bytes(data)
    assert main(["search", str(path)]) == 2
    err = one_line(capsys.readouterr().err)
    assert err.startswith(f"keras-geo-hpo search: error: config: {path} ") and "Traceback" not in err, err


# --------------------------------------------------------------------------- #
# tasks beyond classification, end to end: search, report with the task's section, export
# --------------------------------------------------------------------------- #
def _small_config(tmp_path, shipped, **changes):
    """A configuration file based on a shipped one (``base:``), storing under ``tmp_path/run``, with ``changes``."""
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump({"base": str(shipped), "store": str(tmp_path / "run" / "store.db"), **changes}))
    return config


def test_the_shipped_regression_search_runs_reports_residuals_and_exports(tmp_path, capsys):
    """keras_geo/configs/filler_fraction.yaml, made small through a file based on it."""
    shipped = ROOT / "keras_geo" / "configs" / "filler_fraction.yaml"
    config = _small_config(
        tmp_path,
        shipped,
        dataset={"n_train": 60, "n_val": 30, "n_test": 30, "fov_nm": 250, "image_size": 16},
        training={"epochs": 2},
        executor={"name": "serial"},
        budget={"trials": 2},
        space={"filters": {"type": "int", "low": 4, "high": 8}, "loss": ["mse", "huber"]},
    )
    assert main(["search", str(config)]) == 0
    out = capsys.readouterr().out
    assert "regression of filler_fraction with filler_cnn, objective maximize val_r2" in out
    store = tmp_path / "run" / "store.db"
    assert main(["report", str(store)]) == 0
    report = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "## Residuals of the best model" in report and "| volume_fraction |" in report
    assert (tmp_path / "run" / "report" / "residuals_best.png").stat().st_size > 1000
    assert not (tmp_path / "run" / "report" / "gradcam_best.png").exists()
    assert main(["export", str(store), "--out", str(tmp_path / "best.keras")]) == 0
    import keras

    from keras_geo import datasets

    model = keras.models.load_model(tmp_path / "best.keras", safe_mode=True)
    x = datasets.load("filler_fraction", n_train=60, n_val=30, n_test=30, fov_nm=250, image_size=16)["test"][0][:4]
    predicted = model.predict(x, verbose=0)
    assert predicted.shape == (4, 2) and (0.0 < predicted[:, 0]).all() and (predicted[:, 1] > 2.0).all()  # units


def test_an_image_to_image_search_from_npz_pairs_reports_its_strips(tmp_path, capsys):
    rng = np.random.default_rng(0)
    clean = rng.random((24, 16, 16, 1)).astype("float32")
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype("float32")
    np.savez(tmp_path / "pairs.npz", x_train=noisy[:16], y_train=clean[:16], x_val=noisy[16:], y_val=clean[16:])
    config = write(
        tmp_path,
        dataset={"name": "npz", "path": str(tmp_path / "pairs.npz")},
        model={"builder": "unet", "fixed": {"depth": 1}},
        task={"name": "image_to_image"},
        space={"filters": [4, 8], "loss": ["mse", "ssim"]},
        strategy={"name": "grid"},
        budget={"trials": 2},
    )
    assert main(["search", str(config)]) == 0
    assert "objective maximize val_ssim" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "run" / "store.db")]) == 0
    report = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "## Outputs of the best model" in report and "PSNR" in report
    assert (tmp_path / "run" / "report" / "samples_best.png").is_file()


def test_a_task_that_cannot_use_the_data_stops_the_search_before_its_first_trial(tmp_path, capsys):
    from hpo.store import TrialStore

    x = np.random.default_rng(0).random((6, 16, 16, 1)).astype("float32")
    np.savez(tmp_path / "classes.npz", x_train=x, y_train=[0, 1] * 3, x_val=x, y_val=[0, 1] * 3)
    config = write(
        tmp_path,
        dataset={"name": "npz", "path": str(tmp_path / "classes.npz")},
        model={"builder": "unet"},
        task={"name": "image_to_image"},
        space={"filters": [4, 8]},
    )
    assert main(["search", str(config)]) == 2
    err = one_line(capsys.readouterr().err)
    assert "task: image_to_image cannot use the data set 'npz': data['train'] needs one target image" in err, err
    assert TrialStore(tmp_path / "run" / "store.db").trials() == []


def test_a_store_written_by_the_previous_release_reports_and_resumes(tmp_path, capsys):
    """tests/data/keras_geo_v1: a classification search of the release before the task layer (schema 1)."""
    import shutil

    from hpo.store import TrialStore

    store = tmp_path / "store.db"
    shutil.copyfile(ROOT / "tests" / "data" / "keras_geo_v1" / "store.db", store)
    assert main(["status", str(store)]) == 0
    assert "2 trials: 2 done" in capsys.readouterr().out
    assert main(["report", str(store), "--no-samples"]) == 0  # its model files are not part of the fixture
    assert "maximize" in (tmp_path / "report" / "report.md").read_text()
    assert main(["resume", str(store)]) == 0  # finished already: nothing to run, nothing lost
    assert "best of this search: trial 1, val_accuracy = 0.3333" in capsys.readouterr().out
    config = ROOT / "tests" / "data" / "keras_geo_v1" / "config.yaml"  # the same search again: all cache hits
    assert main(["search", str(config), "--store", str(store)]) == 0
    assert "(2 cache hits" in capsys.readouterr().out
    info = TrialStore(store).get_search()
    assert (info.metric, info.direction) == ("val_accuracy", "maximize")
    from keras_geo.search import stored_config

    config = stored_config(TrialStore(store))
    assert config.task.name == "classification" and config.search.executor["threads"] is None


def test_explain_refuses_a_model_that_outputs_images(tmp_path, capsys):
    from keras_geo.models import build_unet

    build_unet((16, 16, 1), depth=1, filters=2).save(tmp_path / "unet.keras")
    (tmp_path / "images").mkdir()
    assert main(["explain", str(tmp_path / "unet.keras"), str(tmp_path / "images"), "--out", str(tmp_path / "o")]) == 2
    assert "Grad-CAM explains models from images to one score per class" in one_line(capsys.readouterr().err)


def test_the_shipped_restoration_search_reports_fabrications_exports_and_restores_a_16_bit_scan(tmp_path, capsys):
    """keras_geo/configs/sem_restoration.yaml made small; the exported U-Net restores a scan larger than its patches."""
    import cv2

    shipped = ROOT / "keras_geo" / "configs" / "sem_restoration.yaml"
    config = _small_config(
        tmp_path,
        shipped,
        dataset={"n_train": 24, "n_val": 8, "n_test": 8, "image_size": 32},
        training={"epochs": 1, "batch_size": 8},
        executor={"name": "serial"},
        budget={"trials": 2},
        space={"depth": [2], "filters": [4], "loss": ["ssim", "ssim_mae"]},
        strategy={"name": "grid"},
    )
    assert main(["search", str(config)]) == 0
    assert "image_to_image of sem with unet, objective maximize val_ssim" in capsys.readouterr().out
    store = tmp_path / "run" / "store.db"
    assert main(["report", str(store)]) == 0
    report = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "## Outputs of the best model" in report and "fabricated" in report
    assert main(["export", str(store), "--out", str(tmp_path / "restorer.keras")]) == 0
    scans = tmp_path / "scans"
    scans.mkdir()
    from keras_geo.datasets import sem

    scan = sem.degrade(sem.render_sem(1, image_size=90, seed=5).images[0], seed=5)
    cv2.imwrite(str(scans / "scan.tif"), np.round(scan * 65535).astype(np.uint16))
    assert main(["restore", str(tmp_path / "restorer.keras"), str(scans), "--out", str(tmp_path / "out")]) == 0
    restored = cv2.imread(str(tmp_path / "out" / "scan.tif"), cv2.IMREAD_UNCHANGED)
    assert restored.dtype == np.uint16 and restored.shape == (90, 90) and restored.std() > 0


def test_the_shipped_skipresnet_search_runs_reports_and_exports_a_skip_resnet_that_loads_elsewhere(tmp_path, capsys):
    """keras_geo/configs/filler_skipresnet.yaml made small: the exported SkipResNet loads in a fresh process (safe mode)."""
    shipped = ROOT / "keras_geo" / "configs" / "filler_skipresnet.yaml"
    config = _small_config(
        tmp_path,
        shipped,
        dataset={"n_train": 10, "n_val": 5, "n_test": 5, "image_size": 16, "box_nm": 300},
        training={"epochs": 1, "batch_size": 16},
        executor={"name": "serial"},
        budget={"trials": 2},
        space={"depth": [8], "gate": [True], "gate_reduction": [2, 4]},
        strategy={"name": "grid"},
    )
    assert main(["search", str(config)]) == 0
    assert "classification of filler with resnet, objective maximize val_accuracy" in capsys.readouterr().out
    store = tmp_path / "run" / "store.db"
    assert main(["report", str(store)]) == 0
    assert "gate_reduction" in (tmp_path / "run" / "report" / "report.md").read_text()
    out = tmp_path / "skip.keras"
    assert main(["export", str(store), "--out", str(out)]) == 0
    import keras

    model = keras.saving.load_model(out, safe_mode=True)
    assert model.name == "skip_resnet8" and model.get_layer("skip_resnet8_stage3_block1_gate") is not None
    x = np.random.default_rng(0).random((3, 16, 16, 1), dtype=np.float32)
    np.testing.assert_array_equal(predict_in_fresh_process(out, x, tmp_path), model.predict(x, verbose=0))


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"space": {"depth": [19, 20]}}, "space.depth: 19 is refused by resnet: `depth` must be"),
        (
            {"dataset": {"image_size": 16}, "space": {"depth": [18, 20]}},
            "space.depth: 18 is refused by resnet: `input_shape` must be at least 32x32",
        ),
        ({"space": {"depth": [20], "gate_reduction": [0, 2]}}, "space.gate_reduction: 0 is refused by resnet"),
        (
            {"model": {"builder": "resnet", "fixed": {"weights": "/no/such/skip.weights.h5"}}},
            "model.fixed: `weights` file not found: /no/such/skip.weights.h5",
        ),
        (
            {"model": {"builder": "skip_resnet", "fixed": {"depth": 21}}, "space": {"learning_rate": [0.01]}},
            "model.fixed: `depth` must be",
        ),
    ],
)
def test_a_residual_search_with_an_impossible_value_exits_2_before_training(tmp_path, capsys, changes, key):
    config = tmp_path / "bad.yaml"
    shipped = ROOT / "keras_geo" / "configs" / "filler_skipresnet.yaml"
    config.write_text(yaml.safe_dump({"base": str(shipped), "store": str(tmp_path / "s.db"), **changes}))
    assert main(["search", str(config)]) == 2
    assert key in one_line(capsys.readouterr().err)
    assert not (tmp_path / "s.db").exists()


# --------------------------------------------------------------------------- #
# super-resolve: bathymetry grids in metres, any of read_grid's formats
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """A tiny untrained EDSR (.keras, any size), a 20 x 20 .npy grid and a 16 x 24 .xyz grid with no-data nodes."""
    from keras_geo.datasets.bathymetry import block_average, synthesize_terrain
    from keras_geo.models import build_edsr

    folder = tmp_path_factory.mktemp("survey")
    build_edsr(input_shape=(None, None, 1), blocks=1, filters=4).save(folder / "edsr.keras")
    np.save(folder / "trough.npy", block_average(synthesize_terrain(80, region="source", seed=1), 4))
    coarse = block_average(synthesize_terrain(96, region="target", seed=2), 4)[:16]  # 16 x 24 cells, 200 m
    lines = ["# x y z (UTM metres, elevation)"]
    for i in range(16):
        for j in range(24):
            if (i, j) == (3, 5):  # a node without a line: no data
                continue
            z = "nan" if (i, j) in ((10, 20), (11, 20)) else f"{coarse[i, j]:.2f}"
            lines.append(f"{500000 + 200 * j} {3900000 - 200 * i} {z}")
    (folder / "seamounts.xyz").write_text("\n".join(lines) + "\n")
    return folder


def test_super_resolve_writes_metres_keeps_no_data_and_plots(survey, tmp_path, capsys):
    model, out = survey / "edsr.keras", tmp_path / "out"
    argv = [str(survey / "trough.npy"), str(survey / "seamounts.xyz"), "--scale", "4", "--out", str(out)]
    assert main(["super-resolve", str(model), *argv, "--tile", "16", "--overlap", "4", "--plot", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and "2 grids super-resolved x4" in lines[-1]
    assert "(20x20 -> 80x80, consistency" in lines[0] and lines[0].rstrip().endswith(" m)")
    assert "(16x24 -> 64x96, consistency" in lines[1] and "3 no-data cells" in lines[1]

    trough = np.load(out / "trough_x4.npy")
    assert trough.dtype == np.float32 and trough.shape == (80, 80) and np.isfinite(trough).all()
    assert -6000 < trough.mean() < -3000  # metres, not normalised units
    seamounts = np.load(out / "seamounts_x4.npy")
    assert seamounts.dtype == np.float32 and seamounts.shape == (64, 96)
    missing = np.zeros((16, 24), dtype=bool)
    missing[3, 5] = missing[10, 20] = missing[11, 20] = True
    np.testing.assert_array_equal(np.isnan(seamounts), np.kron(missing, np.ones((4, 4), dtype=bool)))
    # An untrained EDSR returns its bicubic input: averaged back, close to the coarse grid.
    from keras_geo import bathymetry
    from keras_geo.datasets.bathymetry import read_grid

    coarse = read_grid(survey / "seamounts.xyz").depth
    assert bathymetry.consistency(seamounts, coarse, 4) < 0.1 * np.nanstd(coarse)
    assert (out / "trough_x4.png").stat().st_size > 0 and (out / "seamounts_x4.png").stat().st_size > 0


def test_super_resolve_with_the_model_s_own_tile_and_the_default_overlap(survey, tmp_path, capsys):
    from keras_geo.models import build_edsr

    build_edsr(input_shape=(32, 32, 1), blocks=1, filters=4).save(tmp_path / "fixed.keras")
    grid = str(survey / "trough.npy")
    assert main(["super-resolve", str(tmp_path / "fixed.keras"), grid, "--scale", "4", "--out", str(tmp_path)]) == 0
    assert "(20x20 -> 80x80" in capsys.readouterr().out
    assert np.load(tmp_path / "trough_x4.npy").shape == (80, 80)


def test_super_resolve_reads_depths_positive_down_and_a_nodata_value(survey, tmp_path, capsys):
    depths = -np.load(survey / "trough.npy")  # positive down, as many surveys store them
    depths[2, 3] = -9999.0  # the survey's no-data value
    np.save(tmp_path / "depths.npy", depths)
    argv = ["super-resolve", str(survey / "edsr.keras"), str(tmp_path / "depths.npy"), "--scale", "4"]
    assert main([*argv, "--out", str(tmp_path / "o"), "--positive", "down", "--nodata", "-9999", "--quiet"]) == 0
    assert "1 no-data cells" in capsys.readouterr().out
    fine = np.load(tmp_path / "o" / "depths_x4.npy")
    assert np.isnan(fine[8:12, 12:16]).all() and np.isfinite(fine).sum() == 80 * 80 - 16
    assert np.nanmax(fine) < 0  # elevations: negative below sea level


def _classifier(path):
    import keras

    inputs = keras.Input((16, 16, 1))
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(inputs))
    keras.Model(inputs, outputs).save(path)


@pytest.mark.parametrize(
    "case, message",
    [
        ("no-model", "no such model file"),
        ("no-grid", "no such grid file: "),
        ("junk-grid", "junk.xyz: an .xyz grid must be lines of three numbers"),
        ("junk-npy", "cannot read "),
        ("unknown-suffix", "unknown grid format '.png'"),
        ("all-nan", "every cell is no data"),
        ("same-stem", "would both be written to trough_x4.npy"),
        ("tile-below-scale", "--tile 2 is smaller than --scale 4"),
        ("tile-not-multiple", "the tile (18, --tile) must be a multiple of --scale 4"),
        ("bad-overlap", "--overlap 6 must be a multiple of --scale 4, >= 0 and smaller than the tile (16)"),
        ("negative-overlap", "--overlap -4 must be a multiple of --scale 4"),
        ("grid-below-tile", "smaller than one tile at x4"),
        ("classifier", "super-resolution needs a model from one-channel grids"),
        ("three-channels", "super-resolution needs a model from one-channel grids"),
        ("not-a-model", "cannot load"),
    ],
)
def test_super_resolve_refuses_what_a_user_can_fix_with_one_line(survey, tmp_path, capsys, case, message):
    from keras_geo.models import build_edsr

    model, grids, extra = survey / "edsr.keras", [survey / "trough.npy"], ["--tile", "16"]
    if case == "no-model":
        model = tmp_path / "missing.keras"
    elif case == "no-grid":
        grids = [tmp_path / "missing.tif"]
    elif case == "junk-grid":
        grids = [tmp_path / "junk.xyz"]
        grids[0].write_text("this is not\na grid\n")
    elif case == "junk-npy":
        grids = [tmp_path / "junk.npy"]
        grids[0].write_bytes(b"not an array")
    elif case == "unknown-suffix":
        grids = [tmp_path / "map.png"]
        grids[0].write_bytes(b"\x89PNG")
    elif case == "all-nan":
        grids = [tmp_path / "empty.npy"]
        np.save(grids[0], np.full((8, 8), np.nan))
    elif case == "same-stem":
        grids = [survey / "trough.npy", tmp_path / "trough.npy"]
        np.save(grids[1], np.zeros((8, 8)))
    elif case == "tile-below-scale":
        extra = ["--tile", "2"]
    elif case == "tile-not-multiple":
        extra = ["--tile", "18"]
    elif case == "bad-overlap":
        extra = ["--tile", "16", "--overlap", "6"]
    elif case == "negative-overlap":
        extra = ["--tile", "16", "--overlap", "-4"]
    elif case == "grid-below-tile":
        extra = ["--tile", "128"]
    elif case == "classifier":
        model = tmp_path / "classifier.keras"
        _classifier(model)
    elif case == "three-channels":
        model = tmp_path / "rgb.keras"
        build_edsr(input_shape=(None, None, 3), output_channels=3, blocks=1, filters=4).save(model)
    elif case == "not-a-model":
        model = tmp_path / "junk.keras"
        model.write_bytes(b"not a zip")
    out = tmp_path / "out"
    argv = ["super-resolve", str(model), *map(str, grids), "--scale", "4", "--out", str(out), "--quiet", *extra]
    assert main(argv) == 2
    assert message in one_line(capsys.readouterr().err)
    assert not list(out.glob("*.npy")) if out.exists() else True  # refused before any grid was written


# --------------------------------------------------------------------------- #
# the shipped searches of report 000: fish counts from echograms, bathymetry super-resolution
# --------------------------------------------------------------------------- #
def test_the_shipped_fish_count_search_runs_reports_residuals_and_exports(tmp_path, capsys):
    """keras_geo/configs/fish_count.yaml made small: both count heads (bins null and 16), exported model counts fish."""
    import keras

    from hpo.store import TrialStore
    from keras_geo import echo
    from keras_geo.datasets.echo import simulate_batch, sv_to_image

    shipped = ROOT / "keras_geo" / "configs" / "fish_count.yaml"
    config = _small_config(
        tmp_path,
        shipped,
        dataset={"n_train": 48, "n_val": 16, "n_test": 16},
        training={"epochs": 1, "batch_size": 16},
        executor={"name": "serial"},
        budget={"trials": 2},
        space={"conv_layers": [3], "filters": [4], "bins": [None, 16]},
        strategy={"name": "grid"},
    )
    assert main(["search", str(config)]) == 0
    assert "regression of echo with filler_cnn, objective minimize val_mae" in capsys.readouterr().out
    store = tmp_path / "run" / "store.db"
    trials = TrialStore(store).trials()
    assert sorted(str(t.params["bins"]) for t in trials) == ["16", "None"]  # the linear and the binned head
    assert all(t.status == "done" for t in trials)
    assert main(["report", str(store)]) == 0
    report = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "## Residuals of the best model" in report and "| count |" in report and "minimize" in report
    assert (tmp_path / "run" / "report" / "residuals_best.png").stat().st_size > 1000
    out = tmp_path / "fish_count.keras"
    assert main(["export", str(store), "--out", str(out)]) == 0
    model = keras.saving.load_model(out, safe_mode=True)
    assert model.layers[-1].name in ("filler_cnn_expectation", "filler_cnn_unscale")  # counts in fish either way
    batch = simulate_batch([20, 400], seed=7, **echo.COUNTING_SETTINGS)
    counts = model.predict(sv_to_image(batch.sv_db)[..., None], verbose=0)
    assert counts.shape == (2, 1) and np.isfinite(counts).all()
    if model.layers[-1].name == "filler_cnn_expectation":  # the expected bin centre: within the training counts
        assert (counts >= 9.99).all() and (counts <= 500.01).all()


def test_the_shipped_bathymetry_search_runs_reports_error_maps_exports_and_super_resolves(tmp_path, capsys):
    """keras_geo/configs/bathymetry_sr.yaml made small (two-stage tiles kept): the exported EDSR super-resolves a grid."""
    import keras

    from keras_geo import bathymetry
    from keras_geo.datasets.bathymetry import block_average, synthesize_terrain

    shipped = ROOT / "keras_geo" / "configs" / "bathymetry_sr.yaml"
    config = _small_config(
        tmp_path,
        shipped,
        dataset={"tile": 32, "n_train": 12, "n_val": 4, "n_test": 4, "augment_target_grids": 12},
        training={"epochs": 1, "batch_size": 8},
        executor={"name": "serial"},
        budget={"trials": 2},
        space={"blocks": [1], "filters": [4], "loss": ["mse", "mae"]},
        strategy={"name": "grid"},
    )
    assert main(["search", str(config)]) == 0
    assert "image_to_image of bathymetry with edsr, objective minimize val_rmse" in capsys.readouterr().out
    store = tmp_path / "run" / "store.db"
    assert main(["report", str(store)]) == 0
    report = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "## Outputs of the best model" in report and "val_rmse" in report
    out = tmp_path / "edsr_x4.keras"
    assert main(["export", str(store), "--out", str(out)]) == 0
    model = keras.saving.load_model(out, safe_mode=True)
    coarse = block_average(synthesize_terrain(80, region="target", seed=3), 4)  # 20 x 20 cells of 200 m
    fine = bathymetry.super_resolve(model, coarse, scale=4, overlap=8)
    assert fine.shape == (80, 80) and np.isfinite(fine).all()
    assert bathymetry.consistency(fine, coarse, 4) < 0.5 * float(np.std(coarse))  # metres, near the coarse grid


# --------------------------------------------------------------------------- #
# rsa: each layer's similarity to references, on the built-in textures or an image folder
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def rsa_inputs(tmp_path_factory):
    """A tiny CNN of 16 x 16 grey images, responses of 3 'subjects' to the 64 textures, an image folder of 2 classes."""
    import cv2
    import keras
    from keras import layers

    folder = tmp_path_factory.mktemp("rsa")
    keras.utils.set_random_seed(0)  # some initial weights leave conv2 silent for some textures: no correlation distance
    inputs = keras.Input((16, 16, 1))
    x = layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(6, 3, activation="relu", name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    keras.Model(inputs, layers.Dense(3, name="dense")(x), name="tiny").save(folder / "tiny.keras")
    rng = np.random.default_rng(0)
    np.save(folder / "subjects.npy", rng.normal(size=(3, 64, 20)))
    for category in ("cats", "dogs"):
        (folder / "images" / category).mkdir(parents=True)
        for k in range(3):
            cv2.imwrite(str(folder / "images" / category / f"{k}.png"), rng.integers(0, 256, (20, 20), dtype=np.uint8))
    return folder


def test_rsa_on_the_textures_writes_the_profile_rdms_and_the_numbers(rsa_inputs, tmp_path, capsys):
    out = tmp_path / "rsa"
    argv = ["rsa", str(rsa_inputs / "tiny.keras"), "--stimuli", "textures", "--v1", "--it"]
    argv += ["--reference", f"subjects={rsa_inputs / 'subjects.npy'}", "--bootstrap", "20", "--permutations", "20"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split()[:4] == ["layer", "reference", "similarity", "[95%"]
    assert re.search(r"^conv1 +V1-like +[+-]\d\.\d{3} +\[[+-]\d\.\d{3}, [+-]\d\.\d{3}\] +[\d.]+$", printed, re.M)
    assert "noise ceiling of subjects:" in printed and "most similar to IT-like:" in printed
    assert all((out / name).stat().st_size > 1000 for name in ("profile.png", "rdms.png", "rsa.csv", "rsa.json"))
    document = json.loads((out / "rsa.json").read_text())
    assert document["n_stimuli"] == 64 and document["stimuli"] == "textures"
    assert document["layers"] == ["conv1", "pool1", "conv2", "gap", "dense"]
    assert list(document["references"]) == ["subjects", "V1-like", "IT-like"]
    assert document["references"]["subjects"]["n_rdms"] == 3 and document["references"]["subjects"]["noise_ceiling"]
    assert len((out / "rsa.csv").read_text().splitlines()) == 1 + 5 * 3
    assert all(r["ci_low"] <= r["similarity"] <= r["ci_high"] for r in document["rows"])


def test_rsa_on_an_image_folder_takes_its_categories(rsa_inputs, tmp_path, capsys):
    out = tmp_path / "rsa"
    argv = ["rsa", str(rsa_inputs / "tiny.keras"), "--stimuli", str(rsa_inputs / "images"), "--it"]
    argv += ["--layers", "gap", "conv1", "--rdm", "euclidean", "--compare", "tau_a", "--bootstrap", "0"]
    assert main([*argv, "--permutations", "0", "--out", str(out), "--quiet"]) == 0
    document = json.loads((out / "rsa.json").read_text())
    assert document["layers"] == ["gap", "conv1"] and document["compare_method"] == "tau_a"
    assert document["stimulus_names"] == [f"{c}/{k}" for c in ("cats", "dogs") for k in range(3)]
    assert document["rows"][0]["ci_low"] is None and document["rows"][0]["p_value"] is None
    assert "gap    IT-like" in capsys.readouterr().out


def test_rsa_v1_frequencies_set_the_v1_like_model(rsa_inputs, tmp_path):
    import keras

    from keras_geo import explain
    from keras_geo.cli import _rsa

    out = tmp_path / "rsa"
    argv = ["rsa", str(rsa_inputs / "tiny.keras"), "--stimuli", "textures", "--v1", "--v1-frequencies", "0.25"]
    assert (
        main([*argv, "--layers", "gap", "--bootstrap", "0", "--permutations", "0", "--out", str(out), "--quiet"]) == 0
    )
    similarity = json.loads((out / "rsa.json").read_text())["rows"][0]["similarity"]
    images, _, _ = _rsa._textures(16, 16, 1)  # the built-in textures at the model's size
    model = keras.saving.load_model(rsa_inputs / "tiny.keras")
    fine = explain.v1_reference(images, frequencies=(0.25,), pool_size=16)
    expected = explain.layer_profile(model, images, {"V1": fine}, layers=["gap"], n_bootstrap=0, n_permutations=0)
    assert similarity == pytest.approx(float(expected.similarity[0, 0]), abs=1e-9)
    default = explain.layer_profile(
        model,
        images,
        {"V1": explain.v1_reference(images, pool_size=16)},
        layers=["gap"],
        n_bootstrap=0,
        n_permutations=0,
    )
    assert abs(similarity - float(default.similarity[0, 0])) > 1e-3  # the setting reached the model


def test_rsa_choices_are_the_library_s():
    from keras_geo import explain
    from keras_geo.cli import _rsa

    assert _rsa._RDM_METHODS == explain.PROFILE_RDM_METHODS and _rsa._COMPARISONS == explain.COMPARISONS


@pytest.mark.parametrize(
    "case, message",
    [
        ("no-model", "no such model file"),
        ("no-reference", "no reference: give --reference NAME=PATH"),
        ("bad-spec", "--reference 'v4.npy': give NAME=PATH"),
        ("same-name", "the name 'a' is taken"),
        ("no-reference-file", "no such reference file: "),
        ("no-folder", "no such stimulus folder: "),
        ("two-images", "RSA needs at least 3 stimuli; "),
        ("two-in-categories", "RSA needs at least 3 stimuli; "),
        ("it-without-categories", "--it needs the stimuli's categories"),
        ("mismatched", "describes 5 stimuli, but --stimuli textures holds 64"),
        ("asymmetric", "must be a symmetric RDM"),
        ("not-square", "must be a square RDM (n, n). Received: shape=(64, 10)"),
        (
            "unknown-layer",
            "no layer named 'nope' in model 'tiny' (nested models included). Layers: conv1, pool1, conv2, gap, dense",
        ),
        ("not-a-model", "cannot load"),
        ("silent-layer", "layer 'silent': stimuli 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... (64 in all) each have a constant"),
        ("silent-layer", "drop them or use --rdm euclidean"),
        ("frequencies-without-v1", "--v1-frequencies sets the V1-like reference: add --v1"),
        ("frequency-too-high", "--v1: "),
    ],
    ids=lambda value: value if " " not in value else "",
)
def test_rsa_refuses_what_a_user_can_fix_with_one_line(rsa_inputs, tmp_path, capsys, case, message):
    import cv2

    model, stimuli, extra = rsa_inputs / "tiny.keras", "textures", ["--it"]
    rng = np.random.default_rng(1)
    if case == "no-model":
        model = tmp_path / "missing.keras"
    elif case == "no-reference":
        extra = []
    elif case == "bad-spec":
        extra = ["--reference", "v4.npy"]
    elif case == "same-name":
        np.save(tmp_path / "a.npy", rng.normal(size=(64, 5)))
        extra = ["--reference", f"a={tmp_path / 'a.npy'}", "--reference", f"a={tmp_path / 'a.npy'}"]
    elif case == "no-reference-file":
        extra = ["--reference", f"v4={tmp_path / 'v4.npy'}"]
    elif case == "no-folder":
        stimuli = str(tmp_path / "nowhere")
    elif case in ("two-images", "two-in-categories", "it-without-categories"):
        stimuli = str(tmp_path / "flat")
        files = [tmp_path / "flat" / f"{k}.png" for k in range(4 if case == "it-without-categories" else 2)]
        if case == "two-images":
            extra = ["--v1"]
        elif case == "two-in-categories":
            files = [tmp_path / "flat" / category / "0.png" for category in ("a", "b")]
        for file in files:
            file.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(file), rng.integers(0, 256, (16, 16), dtype=np.uint8))
    elif case == "mismatched":
        np.save(tmp_path / "small.npy", 1.0 - np.eye(5))
        extra = ["--reference", f"small={tmp_path / 'small.npy'}"]
    elif case == "asymmetric":
        matrix = 1.0 - np.eye(64)
        matrix[2, 7] = 3.0
        np.save(tmp_path / "skew.npy", matrix)
        extra = ["--reference", f"skew={tmp_path / 'skew.npy'}"]
    elif case == "not-square":
        np.save(tmp_path / "wide.npy", rng.normal(size=(64, 10)))
        extra = ["--reference", f"wide={tmp_path / 'wide.npy'}", "--reference-kind", "rdm"]
    elif case == "unknown-layer":
        extra = ["--it", "--layers", "conv1", "nope"]
    elif case == "not-a-model":
        model = tmp_path / "junk.keras"
        model.write_bytes(b"not a zip")
    elif case == "frequencies-without-v1":
        extra = ["--it", "--v1-frequencies", "0.25"]
    elif case == "frequency-too-high":
        extra = ["--v1", "--v1-frequencies", "0.25", "0.7"]
    elif case == "silent-layer":  # a ReLU that never fires: every stimulus gives zeros
        import keras

        inputs = keras.Input((16, 16, 1))
        bias = keras.initializers.Constant(-100.0)
        outputs = keras.layers.Conv2D(2, 3, activation="relu", bias_initializer=bias, name="silent")(inputs)
        model = tmp_path / "silent.keras"
        keras.Model(inputs, outputs).save(model)
    out = tmp_path / "out"
    assert main(["rsa", str(model), "--stimuli", stimuli, *extra, "--out", str(out), "--quiet"]) == 2
    assert message in one_line(capsys.readouterr().err)
    assert not out.exists()  # refused before anything was written


def test_a_pruned_keras_search_stops_bad_trials_after_an_epoch_and_keeps_no_model_of_them(tmp_path, capsys):
    from hpo.store import TrialStore

    config = write(
        tmp_path,
        training={"epochs": 3, "batch_size": 16},
        objective={"metric": "val_loss", "direction": "minimize"},
        pruner={"name": "successive_halving", "min_epochs": 1, "settings": {"reduction_factor": 2}},
        budget={"trials": 6},
    )
    assert main(["search", str(config)]) == 0
    store = TrialStore(tmp_path / "run" / "store.db")
    trials = store.trials()
    pruned = [t for t in trials if t.status == "pruned"]
    assert len(trials) == 6 and pruned and all(t.status in ("done", "pruned") for t in trials)
    assert store.get_search().engine["pruner"]["name"] == "successive_halving"
    for t in trials:  # every epoch's val_loss reached the pruner, in order
        assert [step for step, _ in t.intermediate] == list(range(1, len(t.intermediate) + 1))
        assert [v for _, v in t.intermediate] == pytest.approx(t.history["val_loss"])
    for t in pruned:  # stopped at a rung (1 or 2 of 3 epochs), told with the val_loss it had there
        assert len(t.intermediate) < 3 and t.value == pytest.approx(t.intermediate[-1][1])
        assert "artifact" not in t.metrics
    assert store.best("minimize").status == "done"
    capsys.readouterr()
    assert main(["status", str(tmp_path / "run" / "store.db")]) == 0
    assert f"{len(pruned)} pruned" in capsys.readouterr().out


def test_the_pruning_callback_stops_the_search_when_the_metric_is_not_logged_per_epoch():
    from hpo import pruners
    from hpo.executors import FatalError
    from keras_geo.training import ReportToPruner

    callback = ReportToPruner("val_f1")
    callback.on_epoch_end(0, {"loss": 1.0})  # outside a search: nothing to report to
    context = pruners.PruningContext(pruners.MedianPruner(), None)
    with pruners.reporting(pruners.Reporter(context=None)) as reporter:
        callback.on_epoch_end(0, {"loss": 1.0})  # no pruner: nothing is needed
        assert reporter.values == []
    with pruners.reporting(pruners.Reporter(context=context)):
        with pytest.raises(FatalError, match="pruner: the objective metric 'val_f1' is not logged after each epoch"):
            callback.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0})
    assert ReportToPruner("train_loss").key == "loss" and ReportToPruner("val_accuracy").key == "val_accuracy"


def test_a_two_objective_keras_search_reports_its_front_and_exports_any_trial_of_it(tmp_path, capsys):
    from hpo.store import TrialStore

    config = write(
        tmp_path,
        training={"epochs": 1, "batch_size": 16},
        objective=[
            {"metric": "val_accuracy", "direction": "maximize"},
            {"metric": "n_params"},  # the direction read from the name: minimize
            {"metric": "latency_ms"},
        ],
        strategy={"name": "nsga2", "settings": {"population_size": 4}},
        budget={"trials": 5},
    )
    assert main(["search", str(config)]) == 0
    store_path = tmp_path / "run" / "store.db"
    store = TrialStore(store_path)
    assert [o["direction"] for o in store.get_search().engine["objectives"]] == ["maximize", "minimize", "minimize"]
    trials = store.trials()
    assert len(trials) == 5 and all(t.metrics["latency_ms"] > 0 for t in trials)
    assert main(["report", str(store_path), "--out", str(tmp_path / "report"), "--no-gradcam"]) == 0
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Pareto front (" in markdown and (tmp_path / "report" / "pareto.png").stat().st_size > 1000
    listed = markdown.split("## Pareto front")[1].split("\n## ")[0]
    front = [int(line.split("|")[1]) for line in listed.splitlines() if line.startswith("| ") and "trial" not in line]
    assert front
    capsys.readouterr()
    for trial_id in front:  # every model of the front was kept and exports
        out = tmp_path / f"t{trial_id}.keras"
        assert main(["export", str(store_path), "--out", str(out), "--trial", str(trial_id)]) == 0
        assert out.stat().st_size > 1000 and f"exported trial {trial_id} " in capsys.readouterr().out
    # A pruned or failed trial has no model: one line naming the option, exit 2.
    store.create_search({}, seed=0)
    for status in ("pruned", "failed"):
        trial = store.add_trial({"filters": 3, "learning_rate": 0.005})
        store.start(trial)
        store.prune(trial, 0.3) if status == "pruned" else store.fail(trial, "boom")
        assert main(["export", str(store_path), "--out", str(tmp_path / "x.keras"), "--trial", str(trial)]) == 2
        line = one_line(capsys.readouterr().err)
        assert f"--trial: trial {trial} is {status}" in line and "only a done trial has a model" in line
    assert main(["export", str(store_path), "--out", str(tmp_path / "x.keras"), "--trial", "999"]) == 2
    assert "--trial: " in one_line(capsys.readouterr().err) and not (tmp_path / "x.keras").exists()


def test_an_objective_the_training_does_not_report_exits_2_naming_it(tmp_path, capsys):
    config = write(
        tmp_path,
        training={"epochs": 1, "batch_size": 16},
        objective=[{"metric": "val_accuracy", "direction": "maximize"}, {"metric": "n_parms", "direction": "minimize"}],
        strategy={"name": "nsga2", "settings": {"population_size": 4}},
        budget={"trials": 2},
    )
    assert main(["search", str(config)]) == 2
    line = one_line(capsys.readouterr().err)
    assert (
        "objective[2].metric" not in line and "objective[1].metric: 'n_parms' is not a metric the trials report" in line
    )
    assert "n_params" in line  # what they do report
