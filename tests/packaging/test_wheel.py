"""The wheel, built offline and installed into a fresh virtual environment outside the source tree.

What another project gets from ``pip install keras_geo-*.whl``: the package with its shipped
configurations, samples, templates and ``py.typed``, no tests; the ``keras-geo-hpo`` script; a
search run from a shipped configuration; and a ``.keras`` model holding keras-geo's custom layers
and loss that loads with ``safe_mode=True`` and predicts what the source model predicts.

Nothing is downloaded: the wheel is built with ``--no-isolation`` (this environment's setuptools
and wheel), and the fresh environment sees this one's dependencies (TensorFlow and the rest)
through a ``.pth`` file naming this environment's ``site-packages``. A path in a ``.pth`` file is
only appended to ``sys.path``: the ``.pth`` files inside it, among them the editable install's
finder of ``keras_geo`` (``pip install -e``), are not processed, so the only ``keras_geo`` the
fresh environment can import is the wheel's (checked before and after installing it).
``pip install --no-index`` then checks that every ``install_requires`` is satisfied.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests import ROOT

pytestmark = pytest.mark.slow

# What the wheel is built from: the packaging files and the two packages (their __pycache__ left out).
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "keras_geo", "hpo")


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without PYTHONPATH (nothing may reach the source tree)."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, **extra}


def _run(argv: list, cwd: Path, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess:
    run = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=_clean_env(**extra), capture_output=True, text=True, timeout=timeout
    )
    assert run.returncode == 0, f"{argv} exited {run.returncode}\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
    return run


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built offline from a copy of the sources (a build writes build/ and *.egg-info next to them)."""
    pytest.importorskip("build", reason="the `build` package (test extra) builds the wheel")
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp / "dist", source], cwd=tmp)
    (found,) = (tmp / "dist").glob("keras_geo-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment, outside the source tree, with the wheel installed: its folder."""
    tmp = tmp_path_factory.mktemp("venv")
    assert ROOT not in tmp.parents
    env = tmp / "env"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    site = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip()
    )
    (site / "_keras_geo_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # The editable install in this environment's site-packages must not reach the fresh one.
    probe = "import importlib.util; print(importlib.util.find_spec('keras_geo'))"
    assert _run([python, "-c", probe], cwd=tmp).stdout.strip() == "None"
    _run([python, "-m", "pip", "install", "--no-index", "--disable-pip-version-check", "--no-input", wheel], cwd=tmp)
    return env


def test_the_wheel_carries_data_and_no_tests(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n]
    assert {f"keras_geo/configs/{p.name}" for p in (ROOT / "keras_geo" / "configs").glob("*.yaml")} <= set(names)
    samples = {
        str(p.relative_to(ROOT)) for p in (ROOT / "keras_geo" / "samples").rglob("*") if p.suffix in (".png", ".npy")
    }
    assert samples and samples <= set(names)
    assert {"keras_geo/py.typed", "keras_geo/annotate/review.html.j2", "hpo/report/page.html.j2"} <= set(names)
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "keras-geo-hpo = keras_geo.cli:main" in entry_points


def test_the_installed_package_runs_outside_the_source_tree(installed, tmp_path):
    python, script = installed / "bin" / "python", installed / "bin" / "keras-geo-hpo"
    where = _run(
        [
            python,
            "-c",
            "import keras_geo, keras_geo.config as c, keras_geo.samples as s; "
            "print(keras_geo.__file__); print(c.shipped_config('filler_ga_tpe')); print(s.path('filler'))",
        ],
        cwd=tmp_path,
    ).stdout.split()
    assert all(Path(p).is_relative_to(installed) for p in where), where
    assert Path(where[2], "M-SBR").is_dir()

    listed = _run([script, "models"], cwd=tmp_path).stdout
    assert "filler_cnn" in listed and "skip_resnet" in listed
    assert "filler_ga_tpe" in _run([script, "configs"], cwd=tmp_path).stdout
    base = Path(_run([script, "configs", "filler_base"], cwd=tmp_path).stdout.strip())
    assert base.is_relative_to(installed) and base.is_file()
    unknown = subprocess.run(
        [script, "search", "no_such_search"], cwd=tmp_path, env=_clean_env(), capture_output=True, text=True
    )
    assert (
        unknown.returncode == 2 and "filler_ga_tpe" in unknown.stderr and len(unknown.stderr.strip().splitlines()) == 1
    )

    # A search from a shipped configuration (by name, through `base:`), made small, in a folder of its own.
    (tmp_path / "tiny.yaml").write_text(
        "base: filler_base\nname: tiny\nstore: run/store.db\n"
        "dataset: {fov_nm: 250, box_nm: 300, image_size: 16, n_train: 10, n_val: 6, n_test: 6}\n"
        "training: {epochs: 1, batch_size: 16}\nstrategy: {name: random}\n"
        "executor: {name: serial}\nbudget: {trials: 1}\n"
    )
    searched = _run([script, "search", "tiny.yaml"], cwd=tmp_path, KERAS_GEO_CACHE=str(tmp_path / "cache")).stdout
    assert "1 done" in searched and (tmp_path / "run" / "store.db").is_file()


def test_a_model_with_custom_layers_and_loss_loads_in_safe_mode(installed, tmp_path):
    from keras_geo import losses, models

    # A SkipResNet (GateModule, StochasticDepth) and an EDSR compiled with keras-geo's MixedLoss.
    classifier = models.get("skip_resnet")(input_shape=(16, 16, 1), n_classes=3, depth=8, drop_path_rate=0.1, seed=0)
    restorer = models.get("edsr")(input_shape=(16, 16, 1), blocks=1, filters=8)
    restorer.compile(optimizer="adam", loss=losses.MixedLoss(alpha=0.8, max_val=1.0))
    custom = {type(layer).__module__.split(".")[0] for layer in classifier._flatten_layers()}
    assert "keras_geo" in custom
    x = np.random.default_rng(0).random((4, 16, 16, 1), dtype=np.float32)
    script = [
        "import sys, numpy as np, keras",
        "import keras_geo  # registers the custom objects",
        "x = np.load(sys.argv[1])",
    ]
    for name, model in (("classifier", classifier), ("restorer", restorer)):
        model.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}_expected.npy", model.predict(x, verbose=0))
        script.append(
            f"m = keras.saving.load_model({name!r} + '.keras', safe_mode=True)\n"
            f"np.save({name!r} + '_fresh.npy', m.predict(x, verbose=0))"
        )
    script.append("print(type(m.loss).__module__, type(m.loss).__name__)")  # the restorer's
    script.append("print(keras_geo.__file__)")
    np.save(tmp_path / "x.npy", x)
    python = installed / "bin" / "python"
    out = _run([python, "-c", "\n".join(script), tmp_path / "x.npy"], cwd=tmp_path).stdout.strip()
    assert Path(out.splitlines()[-1]).is_relative_to(installed)
    assert out.splitlines()[-2] == "keras_geo.losses MixedLoss"
    for name in ("classifier", "restorer"):
        np.testing.assert_allclose(
            np.load(tmp_path / f"{name}_fresh.npy"), np.load(tmp_path / f"{name}_expected.npy"), rtol=1e-5, atol=1e-6
        )
