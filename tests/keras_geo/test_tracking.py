"""Experiment tracking: ``tensorboard: true`` writes scalars and HParams as Keras Tuner does; ``mlflow`` logs runs."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from keras_geo.config import ConfigError, load_config, validate_config
from tests import one_line
from tests.keras_geo.test_cli import TINY

TINY_TRACKED = {**TINY, "budget": {"trials": 3}}


def _config(tmp_path: Path, **changes):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**TINY_TRACKED, "store": str(tmp_path / "run" / "store.db"), **changes}))
    return load_config(path)


def _search(config):
    from keras_geo import search

    store = search.open_store(config)
    try:
        search.run(store, progress=False, config=config)
    finally:
        store.close()
    from hpo.store import TrialStore

    return TrialStore(config.search.store)


# --------------------------------------------------------------------------- #
# configuration
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tensorboard": "yes"}, "tensorboard: must be true or false; received 'yes'"),
        ({"mlflow": True}, "mlflow: must be a mapping; received bool True"),
        ({"mlflow": {"uri": "x"}}, "mlflow.uri: unknown key; allowed: artifact_location, experiment, tracking_uri"),
        ({"mlflow": {"tracking_uri": 3}}, "mlflow.tracking_uri: must be a non-empty string; received 3"),
        ({"mlflow": {"experiment": " "}}, "mlflow.experiment: must be a non-empty string; received ' '"),
    ],
)
def test_bad_tracking_keys_are_refused_by_name(changes, message):
    with pytest.raises(ConfigError) as error:
        validate_config({**TINY, **changes})
    assert one_line(error) == message


def test_tracking_defaults_and_old_stores():
    from keras_geo.config import Config

    config = validate_config({**TINY, "tensorboard": True, "mlflow": {"tracking_uri": "sqlite:///x.db"}})
    assert config.search.tensorboard is True
    assert config.search.mlflow == {"tracking_uri": "sqlite:///x.db", "experiment": "tiny", "artifact_location": None}
    assert Config.from_dict(config.to_dict()) == config
    old = {k: v for k, v in config.to_dict().items() if k not in ("tensorboard", "mlflow")}
    assert Config.from_dict(old).search.tensorboard is False and Config.from_dict(old).search.mlflow is None
    plain = validate_config(TINY)
    assert plain.search.tensorboard is False and plain.search.mlflow is None


def test_mlflow_not_installed_is_one_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    with pytest.raises(ConfigError) as error:
        validate_config({**TINY, "mlflow": {}})
    assert "pip install 'keras-geo[mlflow]'" in one_line(error)
    assert one_line(error).startswith("mlflow: ")


# --------------------------------------------------------------------------- #
# TensorBoard
# --------------------------------------------------------------------------- #
def _events(folder: Path):
    """Every (tag, step, value or plugin data) of the event files directly in ``folder``."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    out = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                out.append((event.step, value))
    return out


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    import numpy as np
    from tensorboard.util import tensor_util

    out: dict[str, list[tuple[int, float]]] = {}
    for step, value in _events(folder):
        if value.metadata.plugin_data.plugin_name == "scalars" or value.HasField("simple_value"):
            number = value.simple_value if value.HasField("simple_value") else tensor_util.make_ndarray(value.tensor)
            out.setdefault(value.tag, []).append((step, float(np.asarray(number))))
    return out


def _hparams_data(folder: Path):
    from tensorboard.plugins.hparams import plugin_data_pb2

    out = []
    for _, value in _events(folder):
        if value.metadata.plugin_data.plugin_name == "hparams":
            data = plugin_data_pb2.HParamsPluginData()
            data.ParseFromString(value.metadata.plugin_data.content)
            out.append(data)
    return out


@pytest.fixture(scope="module")
def tensorboard_search(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("tb")
    config = _config(
        tmp_path,
        tensorboard=True,
        training={"epochs": 2, "batch_size": 16},
        objective={"metric": "val_loss", "direction": "minimize"},
        pruner={"name": "successive_halving", "min_epochs": 1, "settings": {"reduction_factor": 2}},
        budget={"trials": 4},
    )
    return config, _search(config), tmp_path / "run" / "tb"


def test_tensorboard_writes_each_trials_per_epoch_scalars_as_its_history(tensorboard_search):
    _, store, tb = tensorboard_search
    trials = store.trials()
    assert len(trials) == 4
    assert sorted(p.name for p in tb.iterdir() if p.is_dir()) == sorted(f"trial_{t.id}" for t in trials)
    for t in trials:
        for split, prefix in (("train", ""), ("validation", "val_")):
            scalars = _scalars(tb / f"trial_{t.id}" / split)
            for name in ("loss", "accuracy"):
                history = t.history[prefix + name]
                assert [step for step, _ in scalars[f"epoch_{name}"]] == list(range(len(history)))
                assert [v for _, v in scalars[f"epoch_{name}"]] == pytest.approx(history, rel=1e-6)


def test_tensorboard_holds_the_hparams_experiment_and_each_trials_session(tensorboard_search):
    from tensorboard.plugins.hparams import api_pb2

    config, store, tb = tensorboard_search
    [root] = _hparams_data(tb)
    experiment = root.experiment
    domains = {h.name: h for h in experiment.hparam_infos}
    assert set(domains) == set(config.search.space) == {"filters", "learning_rate"}
    assert (domains["filters"].domain_interval.min_value, domains["filters"].domain_interval.max_value) == (2, 8)
    assert domains["learning_rate"].domain_interval.min_value == pytest.approx(1e-3)
    metrics = {(m.name.tag, m.name.group) for m in experiment.metric_infos}
    assert ("epoch_loss", "validation") in metrics and ("epoch_loss", "train") in metrics
    trials = store.trials()
    assert any(t.status == "pruned" for t in trials) and any(t.status == "done" for t in trials)
    for t in trials:
        start, end = _hparams_data(tb / f"trial_{t.id}")
        assert start.session_start_info.group_name == f"trial_{t.id}"
        session = {k: (v.number_value) for k, v in start.session_start_info.hparams.items()}
        assert session == pytest.approx({k: float(v) for k, v in t.params.items()})
        # A pruned trial closes its session too: it did not train every epoch.
        expected = api_pb2.STATUS_SUCCESS if t.status == "done" else api_pb2.STATUS_FAILURE
        assert end.session_end_info.status == expected
