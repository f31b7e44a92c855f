"""The console: TensorFlow's start-up chatter filtered out of the CLI and its workers, one-line warnings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from keras_geo import _console
from tests import ROOT

# What TensorFlow 2.21 printed at import on a CPU-only machine, plus lines that must get through.
CHATTER = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796152501.915415    2628 port.cc:153] oneDNN custom operations are on. You may see ...",
    "I0000 00:00:1796152501.915734    2628 cudart_stub.cc:31] Could not find cuda drivers on your machine",
    "W0000 00:00:1758131045.228 3722035 computation_placer.cc:177] computation placer already registered",
    "E0000 00:00:1758131045.203198 3722035 cuda_dnn.cc:8579] Unable to register cuDNN factory: Attempting ...",
]
KEPT = [
    "E0000 00:00:1796152504.854533    2628 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error",
    "Traceback (most recent call last):",
    "keras-geo-hpo: warning: skipped 1 file(s)",
]


@pytest.mark.parametrize("line", CHATTER)
def test_start_up_chatter_is_recognised(line):
    assert _console.is_chatter(line) and _console.is_chatter(line + "\n")


@pytest.mark.parametrize("line", KEPT)
def test_errors_and_our_own_lines_are_not_chatter(line):
    assert not _console.is_chatter(line)


def _import_noisy_package(tmp_path: Path, log: str | None) -> str:
    """Standard error of a fresh process that configures the console, then imports a package writing
    the chatter (and one real error) straight to file descriptor 2 at import, as TensorFlow's C++ does."""
    package = tmp_path / "noisy_pkg"
    package.mkdir(exist_ok=True)
    lines = "".join(f"{line}\n" for line in [*CHATTER, KEPT[0]])
    (package / "__init__.py").write_text(f"import os\nos.write(2, {lines.encode()!r})\nVALUE = 42\n")
    script = (
        "import sys\nfrom keras_geo import _console\n_console.QUIET_PACKAGES = ('noisy_pkg',)\n"
        "_console.configure()\nimport noisy_pkg\nassert noisy_pkg.VALUE == 42\n"
        "import importlib.resources, noisy_pkg as again\nassert again.__loader__.__class__.__name__ != "
        "'_Loader'\nprint('imported', file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != _console.LOG_VARIABLE}
    if log is not None:
        env[_console.LOG_VARIABLE] = log
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stderr


def test_quiet_import_drops_the_chatter_and_keeps_errors(tmp_path):
    err = _import_noisy_package(tmp_path, None)
    assert err.splitlines() == [KEPT[0], "imported"], err


def test_keras_geo_log_verbose_leaves_every_line(tmp_path):
    err = _import_noisy_package(tmp_path, "verbose")
    assert err.splitlines() == [*CHATTER, KEPT[0], "imported"], err


def test_warnings_print_as_one_line_without_source(monkeypatch):
    import warnings

    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)
    monkeypatch.setenv(_console.LOG_VARIABLE, "quiet")
    _console.configure(program="keras-geo-hpo")
    text = warnings.formatwarning(
        "skipped 2 file(s):\n  a.png: broken\n  b.txt: not an image",
        UserWarning,
        "/x/search.py",
        55,
        "found = folders.load_image_folder(...)",
    )
    assert text == "keras-geo-hpo: warning: skipped 2 file(s): a.png: broken b.txt: not an image\n"


@pytest.mark.slow
def test_a_search_on_two_workers_prints_no_library_chatter_and_each_warning_once(tmp_path):
    """The command line as a user runs it, in a fresh process: the driver and both workers import TensorFlow."""
    from keras_geo.datasets import shapes

    root = shapes.write_image_folder(tmp_path / "images", 6, 16, seed=0)
    (root / "disc" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "quiet",
                "store": str(tmp_path / "store.db"),
                "dataset": {"name": "folder", "path": str(root), "image_size": 16},
                "model": {"builder": "filler_cnn", "fixed": {"conv_layers": 1, "filters": 2}},
                "training": {"epochs": 1, "batch_size": 16},
                "space": {"units": [4, 8]},
                "strategy": {"name": "grid"},
                "executor": {"name": "local", "workers": 2},
                "budget": {"trials": 2},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if k not in (_console.LOG_VARIABLE, "TF_CPP_MIN_LOG_LEVEL")}
    run = subprocess.run(
        [sys.executable, "-m", "keras_geo.cli", "search", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.replace("\r", "\n").splitlines() if line.strip()]
    assert not [line for line in lines if _console.is_chatter(line)], run.stderr
    for noise in ("absl", "oneDNN", "cuda", "cuInit", "grfmt_png", "UserWarning", "found = "):
        assert noise not in run.stderr, run.stderr
    warned = [line for line in lines if line.startswith("keras-geo-hpo: warning: skipped 1 file(s)")]
    assert len(warned) == 1, run.stderr  # the driver's; the workers load the same folder silently
    assert all(line.startswith(("keras-geo-hpo: warning:", "search:")) for line in lines), run.stderr
