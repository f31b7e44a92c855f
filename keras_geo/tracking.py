"""Experiment tracking of a search: TensorBoard event files and MLflow runs.

**TensorBoard** (``tensorboard: true`` in a configuration) lays out a search as Keras Tuner does,
beside the store, so that ``tensorboard --logdir runs/NAME/tb`` shows its scalars and its HParams
table::

    runs/NAME/tb/                         the HParams experiment: each space parameter's domain, the metrics
    runs/NAME/tb/trial_<id>/              the trial's HParams session: its params, start, end and status
    runs/NAME/tb/trial_<id>/train/        per-epoch training scalars (epoch_loss, epoch_accuracy, ...)
    runs/NAME/tb/trial_<id>/validation/   per-epoch validation scalars

A trial's folder is named by its id, as its saved model (``models/trial_<id>.keras``). The driver
writes the experiment once (:func:`write_tensorboard_experiment`), with TensorBoard's own event
writer (no TensorFlow in the driver); each trial's worker writes its scalars with
:class:`keras.callbacks.TensorBoard` (no histograms, graphs, images nor profiling) and its session
with :class:`keras_geo.training.HParamsSession` (:func:`trial_callbacks`), so it works with every
executor. A pruned trial ends its session (status ``STATUS_FAILURE``: it did not train all its
epochs), a failed one too.

**MLflow** (``mlflow: {tracking_uri, experiment, artifact_location}``): :class:`MlflowTracker`, in
the driver, logs the search as a parent run and each finished trial as a child run (tag
``mlflow.parentRunId``) with its params, its final metrics (numbers only), its per-epoch history as
the steps of ``history/<metric>``, its status (done: ``FINISHED``, failed: ``FAILED``, pruned:
``KILLED``) and tags (``keras_geo.trial_id``, ``.trial_number``, ``.status``, ``.seed``, ``.worker``);
at the end, the store's best model goes to the best trial's run as the artifact
``model/trial_<id>.keras``. It talks to MLflow through :class:`mlflow.MlflowClient` only (no active
run). A resume logs nothing twice: the parent run is found by a tag naming the store and the search,
and a trial whose child run exists is skipped (trials MLflow missed are logged then). An MLflow
failure never stops the search: it warns once and logs nothing more (a resume logs what was missed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hpo.space import Choice, Float, Int, Param, Space

__all__ = [
    "TENSORBOARD_DIR",
    "MlflowTracker",
    "hparams_metrics",
    "session_hparams",
    "tensorboard_dir",
    "trial_callbacks",
    "write_events",
    "write_tensorboard_experiment",
]

TENSORBOARD_DIR = "tb"
"""The folder, beside the store, that holds a search's TensorBoard logs."""


# --------------------------------------------------------------------------- #
# TensorBoard
# --------------------------------------------------------------------------- #
def tensorboard_dir(store_path: str | Path) -> Path:
    """The TensorBoard log folder of the store at ``store_path`` (``<its folder>/tb``, absolute)."""
    return Path(store_path).resolve().parent / TENSORBOARD_DIR


def _typed(param: Param) -> type | None:
    """The one Python type of a choice's options that HParams can show (bool, float or str), or None."""
    options = param.options if isinstance(param, Choice) else (param.value,)  # type: ignore[attr-defined]
    if all(isinstance(o, bool) for o in options):
        return bool
    if all(isinstance(o, (int, float)) and not isinstance(o, bool) for o in options):
        return float
    if all(isinstance(o, str) for o in options):
        return str
    return None  # mixed types or None: shown as strings


def _hparam_value(param: Param | None, value: Any) -> bool | float | str:
    """A params value as HParams shows it (the type of its domain)."""
    if param is None or isinstance(param, (Int, Float)):
        if isinstance(value, bool) or isinstance(value, str):
            return value
        return float(value) if isinstance(value, (int, float)) else str(value)
    kind = _typed(param)
    if kind is None:
        return json.dumps(value)
    return kind(value)


def _hparams(space: Mapping[str, Any]) -> list[Any]:
    """The HParams ``HParam`` of each space parameter, with its domain."""
    from tensorboard.plugins.hparams import summary_v2 as hp

    out = []
    for name, param in Space.from_dict(dict(space)).items():
        if isinstance(param, Int):
            domain = hp.IntInterval(int(param.low), int(param.high))
        elif isinstance(param, Float):
            domain = hp.RealInterval(float(param.low), float(param.high))
        else:
            options = param.options if isinstance(param, Choice) else (param.value,)  # type: ignore[attr-defined]
            domain = hp.Discrete(sorted({_hparam_value(param, o) for o in options}, key=str))
        out.append(hp.HParam(name, domain, description=param.describe()))
    return out


def hparams_metrics(objectives: Sequence[Mapping[str, str]]) -> list[tuple[str, str]]:
    """The ``(tag, group)`` of each scalar the HParams table shows: the objectives' and the loss, per split.

    Keras's TensorBoard callback writes ``val_accuracy`` as ``epoch_accuracy`` in the run's
    ``validation`` folder, ``accuracy`` (``train_accuracy``) in ``train``. An objective that is not
    logged per epoch (``latency_ms``, a test metric) has no scalar and is left out.
    """
    out: list[tuple[str, str]] = []
    for objective in objectives:
        metric = objective["metric"]  # its key in Keras's logs, as keras_geo.training.epoch_log_key has it
        key = metric[len("train_") :] if metric.startswith("train_") else metric
        if key.startswith("test_") or key in ("latency_ms", "n_params"):
            continue
        base = key[len("val_") :] if key.startswith("val_") else key
        out += [(f"epoch_{base}", "validation"), (f"epoch_{base}", "train")]
    out += [("epoch_loss", "validation"), ("epoch_loss", "train")]
    return list(dict.fromkeys(out))


def write_events(logdir: str | Path, *summaries: Any) -> Path:
    """Writes summary protos (step 0) into a new event file of ``logdir``, without TensorFlow.

    TensorBoard's record writer over a plain file (its ``EventFileWriter`` imports TensorFlow when
    installed): the driver stays free of it.

    Returns:
        The event file.
    """
    import socket

    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    global _written
    _written += 1
    folder = Path(logdir)
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    path = folder / f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}.{os.getpid()}.{_written}"
    with open(path, "wb") as file:
        writer = RecordWriter(file)
        writer.write(event_pb2.Event(wall_time=now, file_version="brain.Event:2").SerializeToString())
        for summary in summaries:
            writer.write(event_pb2.Event(wall_time=time.time(), step=0, summary=summary).SerializeToString())
    return path


_written = 0  # event files written by this process (their names' last part)


def write_tensorboard_experiment(
    logdir: str | Path, space: Mapping[str, Any], objectives: Sequence[Mapping[str, str]]
) -> bool:
    """Writes the HParams experiment (the space's domains, the objectives' metrics) at the root of ``logdir``.

    Written once: a folder that holds one already (a resumed search) is left as it is.

    Returns:
        True when it was written now.
    """
    from tensorboard.plugins.hparams import summary_v2 as hp

    logdir = Path(logdir)
    if any(logdir.glob("events.out.tfevents.*")):
        return False
    metrics = [
        hp.Metric(tag, group=group, display_name=f"{tag[len('epoch_') :]} ({group})")
        for tag, group in hparams_metrics(objectives)
    ]
    write_events(logdir, hp.hparams_config_pb(_hparams(space), metrics))
    return True


def session_hparams(space: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, bool | float | str]:
    """A trial's params as its HParams session records them (each in its domain's type)."""
    parsed = Space.from_dict(dict(space))
    return {name: _hparam_value(parsed.get(name), value) for name, value in params.items()}


def trial_callbacks(logdir: str | Path, trial_id: int, params: Mapping[str, Any], space: Mapping[str, Any]) -> list:
    """A trial's TensorBoard callbacks: Keras's per-epoch scalars, and its HParams session.

    The trial's folder (``<logdir>/trial_<id>``) is emptied first: a trial run again (after an
    interruption) starts its curves afresh. (This imports Keras: call it where the trial trains.)
    """
    import keras

    from keras_geo.training import HParamsSession

    folder = Path(logdir) / f"trial_{trial_id}"
    shutil.rmtree(folder, ignore_errors=True)
    scalars = keras.callbacks.TensorBoard(
        log_dir=str(folder),
        histogram_freq=0,
        write_graph=False,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
    )
    return [scalars, HParamsSession(folder, session_hparams(space, params), trial_id=f"trial_{trial_id}")]


# --------------------------------------------------------------------------- #
# MLflow
# --------------------------------------------------------------------------- #
_STATUS = {"done": "FINISHED", "failed": "FAILED", "pruned": "KILLED"}
_MAX_BATCH = {"metrics": 1000, "params": 100, "tags": 100}  # MLflow's limits on one log_batch call
_MAX_VALUE = 6000  # characters of a param or tag value
_KEY = re.compile(r"[^\w\-. /]")
_TAG = "keras_geo."


def _key(name: str) -> str:
    """A metric or param name MLflow accepts (letters, digits, ``_-. /``)."""
    return _KEY.sub("_", str(name))[:250]


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_MAX_VALUE]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _flat(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping as dotted keys (the search's configuration as its run's params)."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        elif value is not None:
            out[f"{prefix}{key}"] = value
    return out


class MlflowTracker:
    """Logs a search to MLflow from the driver: one parent run, one child run per finished trial.

    Call :meth:`start` before the search, :meth:`on_trial` with each finished trial (the loop's
    ``on_trial``), and :meth:`finish` at the end. No MLflow error escapes: the first one is
    warned about (:class:`RuntimeWarning`) and the tracker logs nothing more.

    Args:
        settings: The configuration's ``mlflow`` section (``tracking_uri``, ``experiment``,
            ``artifact_location``).
        store: The search's :class:`~hpo.store.TrialStore`.
        search_id: Which search of the store. Defaults to the latest.
    """

    def __init__(self, settings: Mapping[str, Any], store: Any, search_id: int | None = None) -> None:
        self.settings = dict(settings)
        self.store = store
        info = store.get_search(search_id)
        if info is None:
            raise ValueError(f"{store.path} holds no search")
        self.search = info
        self.search_key = hashlib.sha256(f"{Path(store.path).resolve()}#{info.id}".encode()).hexdigest()[:20]
        self.client: Any = None
        self.experiment_id: str | None = None
        self.parent_id: str | None = None
        self.runs: dict[int, str] = {}  # trial id -> child run id
        self.failed: str | None = None  # the error that stopped the logging
        self.seconds = 0.0  # spent logging, for the curious

    # -- safety ------------------------------------------------------------------------------
    def _safely(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        if self.failed is not None:
            return None
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        except Exception as error:  # an unreachable server, a refused value: the search goes on
            self.failed = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
            warnings.warn(
                f"mlflow: {what} failed ({self.failed}); nothing more is logged to MLflow in this run, "
                f"the search goes on (resume it to log what was missed)",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
        finally:
            self.seconds += time.perf_counter() - started

    # -- the search --------------------------------------------------------------------------
    def start(self) -> None:
        """Finds or creates the experiment and the search's parent run; logs finished trials MLflow lacks."""
        self._safely("connecting", self._start)
        for trial in self.store.finished(search_id=self.search.id):
            self.on_trial(trial)

    def _start(self) -> None:
        from mlflow import MlflowClient

        from keras_geo import _console

        if os.environ.get(_console.LOG_VARIABLE) == "quiet":  # the CLI's console: MLflow's INFO lines are not ours
            for name in ("mlflow", "alembic"):
                logging.getLogger(name).setLevel(logging.WARNING)
        # An unreachable server is retried for minutes by default; a search should not wait that long.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        self.client = MlflowClient(tracking_uri=self.settings.get("tracking_uri"))
        name = self.settings["experiment"]
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            self.experiment_id = self.client.create_experiment(
                name, artifact_location=self.settings.get("artifact_location")
            )
        else:
            if experiment.lifecycle_stage == "deleted":
                self.client.restore_experiment(experiment.experiment_id)
            self.experiment_id = experiment.experiment_id
        parents = self._search_runs(f"tags.`{_TAG}search_key` = '{self.search_key}'")
        if parents:
            self.parent_id = parents[0].info.run_id
            self.client.update_run(self.parent_id, status="RUNNING")
            for run in self._search_runs(f"tags.`mlflow.parentRunId` = '{self.parent_id}'"):
                trial_id = run.data.tags.get(f"{_TAG}trial_id")
                if trial_id is None:
                    continue
                if run.info.status == "RUNNING":  # logging stopped half-way: logged again from the start
                    self.client.delete_run(run.info.run_id)
                else:
                    self.runs[int(trial_id)] = run.info.run_id
            return
        config = self.search.config or {}
        run = self.client.create_run(
            self.experiment_id,
            run_name=str(config.get("name") or self.search.name or f"search_{self.search.id}"),
            tags={
                f"{_TAG}search_key": self.search_key,
                f"{_TAG}store": str(Path(self.store.path).resolve()),
                f"{_TAG}search_id": str(self.search.id),
                f"{_TAG}role": "search",
            },
        )
        self.parent_id = run.info.run_id
        params = {k: v for k, v in _flat({k: v for k, v in config.items() if k != "space"}).items()}
        params["space"] = config.get("space")
        self._log_batch(self.parent_id, params=params)
        self.client.log_dict(self.parent_id, config, "config.json")

    def _search_runs(self, filter_string: str) -> list[Any]:
        runs, token = [], None
        while True:
            page = self.client.search_runs([self.experiment_id], filter_string, max_results=1000, page_token=token)
            runs += list(page)
            token = page.token
            if not token:
                return runs

    def _log_batch(
        self,
        run_id: str,
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Sequence[tuple[str, float, int, int]] = (),
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        items = {
            "params": [Param(_key(k), _text(v)) for k, v in (params or {}).items()],
            "metrics": [Metric(_key(k), v, ts, step) for k, v, ts, step in metrics],
            "tags": [RunTag(k, _text(v)) for k, v in (tags or {}).items()],
        }
        for kind, entries in items.items():
            for i in range(0, len(entries), _MAX_BATCH[kind]):
                self.client.log_batch(run_id, **{kind: entries[i : i + _MAX_BATCH[kind]]})

    # -- a trial ------------------------------------------------------------------------------
    def on_trial(self, trial: Any) -> None:
        """Logs a finished trial as a child run, unless its run exists already (a resume)."""
        if self.parent_id is None or trial.id in self.runs or trial.status not in _STATUS:
            return
        self._safely(f"logging trial {trial.id}", self._log_trial, trial)

    def _log_trial(self, trial: Any) -> None:
        started = int((trial.started or trial.created or time.time()) * 1000)
        ended = int((trial.ended or time.time()) * 1000)
        run = self.client.create_run(
            self.experiment_id,
            start_time=started,
            run_name=f"trial_{trial.id}",
            tags={
                "mlflow.parentRunId": self.parent_id,
                f"{_TAG}trial_id": str(trial.id),
                f"{_TAG}trial_number": str(trial.number),
                f"{_TAG}status": trial.status,
                f"{_TAG}seed": str(trial.seed),
                f"{_TAG}worker": str(trial.worker or ""),
                f"{_TAG}device": str(trial.device or ""),
                f"{_TAG}cache_hit": str(bool(trial.cache_hit)).lower(),
            },
        )
        run_id = run.info.run_id
        self.runs[trial.id] = run_id
        metrics: list[tuple[str, float, int, int]] = []
        for name, value in (trial.metrics or {}).items():
            number = _number(value)
            if number is not None:
                metrics.append((name, number, ended, 0))
        if trial.value is not None and "value" not in (trial.metrics or {}):
            metrics.append(("value", float(trial.value), ended, 0))
        history = trial.history if isinstance(trial.history, Mapping) else {}
        for name, values in history.items():
            if not isinstance(values, Sequence) or isinstance(values, str):
                continue
            for step, value in enumerate(values):
                number = _number(value)
                if number is not None:
                    metrics.append((f"history/{name}", number, ended, step))
        tags = {f"{_TAG}error": trial.error} if trial.error else None
        self._log_batch(run_id, params=trial.params, metrics=metrics, tags=tags)
        self.client.set_terminated(run_id, _STATUS[trial.status], end_time=ended)

    def finish(self, status: str = "FINISHED") -> None:
        """Logs the store's best model to its trial's run, tags the parent with the best trial, ends the parent.

        Args:
            status: The parent run's end: ``FINISHED``, ``FAILED`` (the search stopped on an error) or
                ``KILLED`` (interrupted). Defaults to `"FINISHED"`.
        """
        if self.parent_id is None:
            return
        self._safely("logging the best model", self._finish, status)

    def _finish(self, status: str) -> None:
        best_trial, artifact = self.store.get_meta("best_trial"), self.store.get_meta("best_artifact")
        run_id = self.runs.get(int(best_trial)) if best_trial is not None else None
        if run_id is not None:
            if artifact and Path(artifact).is_file():
                self.client.log_artifact(run_id, artifact, artifact_path="model")
            value = self.store.get_meta("best_value")
            self._log_batch(
                self.parent_id,  # type: ignore[arg-type]
                metrics=[("best_value", float(value), int(time.time() * 1000), 0)]
                if _number(value) is not None and math.isfinite(float(value))
                else [],
                tags={f"{_TAG}best_trial": str(best_trial), f"{_TAG}best_run_id": run_id},
            )
        self.client.set_terminated(self.parent_id, status)
