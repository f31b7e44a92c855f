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


@pytest.mark.parametrize(("key", "value"), [("mlflow", {}), ("tensorboard", True)])
def test_a_missing_extra_is_one_line(monkeypatch, key, value):
    import sys

    monkeypatch.setitem(sys.modules, key, None)  # importing it raises ImportError
    with pytest.raises(ConfigError) as error:
        validate_config({**TINY, key: value})
    assert one_line(error).startswith(f"{key}: needs ")
    assert one_line(error).endswith(f"pip install 'keras-geo[{key}]'")


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


# --------------------------------------------------------------------------- #
# MLflow
# --------------------------------------------------------------------------- #
def _mlflow_config(tmp_path: Path, **changes):
    settings = {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "artifact_location": str(tmp_path / "art")}
    return _config(tmp_path, mlflow=settings, **changes)


def _runs(config):
    from mlflow import MlflowClient

    client = MlflowClient(config.search.mlflow["tracking_uri"])
    experiment = client.get_experiment_by_name(config.search.mlflow["experiment"])
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("keras_geo.role") == "search"]
    children = {int(r.data.tags["keras_geo.trial_id"]): r for r in runs if "mlflow.parentRunId" in r.data.tags}
    return client, parents, children


@pytest.fixture(scope="module")
def mlflow_search(tmp_path_factory):
    pytest.importorskip("mlflow")
    tmp_path = tmp_path_factory.mktemp("mlflow")
    config = _mlflow_config(tmp_path)
    return config, _search(config), tmp_path


def test_mlflow_logs_one_child_run_per_trial_with_its_params_metrics_and_history(mlflow_search):
    config, store, _ = mlflow_search
    client, [parent], children = _runs(config)
    assert parent.data.tags["keras_geo.search_id"] == str(store.get_search().id)
    assert parent.data.params["strategy.name"] == "random" and parent.info.status == "FINISHED"
    trials = store.trials()
    assert sorted(children) == sorted(t.id for t in trials)
    for t in trials:
        run = children[t.id]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.run_name == f"trial_{t.id}" and run.info.status == "FINISHED"
        assert run.data.tags["keras_geo.trial_number"] == str(t.number)
        assert run.data.tags["keras_geo.status"] == "done" and run.data.tags["keras_geo.seed"] == str(t.seed)
        assert run.data.params == {k: str(v) for k, v in t.params.items()}
        numbers = {k: v for k, v in t.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        final = {k: v for k, v in run.data.metrics.items() if not k.startswith("history/")}
        assert final == pytest.approx({**numbers, "value": t.value})  # and the trial's value
        for name, values in t.history.items():  # the per-epoch history, one step per epoch
            steps = client.get_metric_history(run.info.run_id, f"history/{name}")
            assert [m.step for m in sorted(steps, key=lambda m: m.step)] == list(range(len(values)))
            assert [m.value for m in sorted(steps, key=lambda m: m.step)] == pytest.approx(values)


def test_mlflow_keeps_the_best_model_as_an_artifact_of_the_best_trials_run(mlflow_search, tmp_path):
    import keras

    import keras_geo  # noqa: F401  (custom objects)

    config, store, _ = mlflow_search
    client, [parent], children = _runs(config)
    best = int(store.get_meta("best_trial"))
    assert parent.data.tags["keras_geo.best_trial"] == str(best)
    assert parent.data.tags["keras_geo.best_run_id"] == children[best].info.run_id
    assert parent.data.metrics["best_value"] == pytest.approx(store.get_meta("best_value"))
    for trial_id, run in children.items():
        listed = [a.path for a in client.list_artifacts(run.info.run_id, "model")]
        assert listed == ([f"model/trial_{best}.keras"] if trial_id == best else [])
    path = client.download_artifacts(children[best].info.run_id, f"model/trial_{best}.keras", str(tmp_path))
    model = keras.saving.load_model(path, safe_mode=True)
    assert model.count_params() == store.get_trial(best).metrics["n_params"]


def test_a_resume_logs_nothing_twice_and_the_trials_mlflow_missed(mlflow_search, tmp_path):
    """A resume with a larger budget logs the new trials only; a trial whose run was lost is logged again."""
    from hpo.store import TrialStore
    from keras_geo import search

    config, store, _ = mlflow_search
    client, [parent], children = _runs(config)
    lost = min(children)
    client.delete_run(children[lost].info.run_id)  # as if MLflow had been down when it finished
    store.close()
    store = TrialStore(config.search.store)
    store.acquire_lock()
    try:
        more = config.replace(budget={**config.search.budget, "trials": 4})
        search.run(store, progress=False, config=more)
    finally:
        store.close()
    store = TrialStore(config.search.store)
    _, parents, after = _runs(config)
    assert [p.info.run_id for p in parents] == [parent.info.run_id]  # the same parent run
    assert sorted(after) == sorted(t.id for t in store.trials()) and len(after) == 4
    for trial_id, run in children.items():  # logged before: the same runs
        if trial_id != lost:
            assert after[trial_id].info.run_id == run.info.run_id
    assert after[lost].info.run_id != children[lost].info.run_id


def test_mlflow_failures_warn_once_and_the_search_goes_on(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    config = _config(tmp_path, mlflow={"tracking_uri": "http://127.0.0.1:9"}, budget={"trials": 2})  # nothing listens
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = _search(config)
    assert [t.status for t in store.trials()] == ["done", "done"]
    ours = [w for w in caught if "mlflow:" in str(w.message)]
    assert len(ours) == 1 and issubclass(ours[0].category, RuntimeWarning)
    assert "the search goes on" in str(ours[0].message)


def test_pruned_and_failed_trials_end_their_runs_killed_and_failed(tmp_path):
    pytest.importorskip("mlflow")
    from hpo.store import TrialStore
    from keras_geo import tracking

    store = TrialStore(tmp_path / "store.db")
    search_id = store.create_search({"name": "s"}, seed=0, name="s")
    for status, number in (("pruned", 0), ("failed", 1)):
        trial_id = store.add_trial({"x": number}, 0, "queued", search_id=search_id)
        store.start(trial_id, worker="w0", device="cpu")
        if status == "pruned":
            store.prune(trial_id, 0.5, {"val_loss": 0.5}, {"val_loss": [0.7, 0.5]})
        else:
            store.fail(trial_id, "Traceback ...\nValueError: boom", {}, {})
    settings = {
        "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "experiment": "s",
        "artifact_location": str(tmp_path),
    }
    tracker = tracking.MlflowTracker(settings, store)
    tracker.start()  # logs the finished trials it finds
    tracker.finish()
    assert tracker.failed is None
    client = tracker.client
    runs = {r.data.tags.get("keras_geo.status"): r for r in client.search_runs([tracker.experiment_id])}
    assert runs["pruned"].info.status == "KILLED" and runs["failed"].info.status == "FAILED"
    assert runs["failed"].data.tags["keras_geo.error"].endswith("ValueError: boom")
    assert runs["pruned"].data.tags["keras_geo.worker"] == "w0"


def test_tensorboards_own_hparams_plugin_shows_the_search(tensorboard_search):
    """What ``tensorboard --logdir runs/NAME/tb`` shows in its HParams table, read by the plugin's own backend."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

    _, store, tb = tensorboard_search
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tb))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(tb))
    backend = backend_context.Context(
        base_plugin.TBContext(logdir=str(tb), multiplexer=multiplexer, data_provider=provider)
    )
    request = api_pb2.ListSessionGroupsRequest(start_index=0, slice_size=100, allowed_statuses=[0, 1, 2, 3])
    groups = list_session_groups.Handler(context.RequestContext(), backend, "", request).run().session_groups
    trials = {f"trial_{t.id}": t for t in store.trials()}
    assert sorted(g.name for g in groups) == sorted(trials)
    for group in groups:
        t = trials[group.name]
        assert {k: v.number_value for k, v in group.hparams.items()} == pytest.approx(t.params)
        shown = {(m.name.group, m.name.tag): m.value for m in group.metric_values}
        assert shown[("validation", "epoch_loss")] == pytest.approx(t.history["val_loss"][-1], rel=1e-6)
        assert shown[("train", "epoch_loss")] == pytest.approx(t.history["loss"][-1], rel=1e-6)
        [session] = group.sessions
        assert session.status == (api_pb2.STATUS_SUCCESS if t.status == "done" else api_pb2.STATUS_FAILURE)


def test_the_cli_search_says_where_to_look(tmp_path, capsys):
    pytest.importorskip("mlflow")
    from keras_geo.cli import main

    path = tmp_path / "config.yaml"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = {"tracking_uri": uri, "experiment": "cli", "artifact_location": str(tmp_path / "art")}
    changes = {"store": str(tmp_path / "run" / "store.db"), "budget": {"trials": 1}, "tensorboard": True}
    path.write_text(yaml.safe_dump({**TINY, **changes, "mlflow": settings}))
    assert main(["search", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"tensorboard --logdir {tmp_path / 'run' / 'tb'}\n" in out
    assert f"mlflow: experiment 'cli' at {uri}\n" in out
    assert (tmp_path / "run" / "tb" / "trial_1" / "validation").is_dir()
    config = load_config(path)
    _, [parent], children = _runs(config)
    assert sorted(children) == [1] and parent.data.tags["keras_geo.best_trial"] == "1"
