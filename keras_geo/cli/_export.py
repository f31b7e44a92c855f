"""``keras-geo-hpo export``: write the best trial's model of a store (or a chosen trial's) as a ``.keras`` file."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from keras_geo.cli._common import UsageError, _load_model, _store


def _chosen_artifact(store, trial_id: int) -> tuple[str, object]:
    """The model file of trial ``trial_id`` (``--trial``), or a one-line refusal naming the option."""
    from hpo.store import StoreError

    try:
        trial = store.get_trial(trial_id)
    except StoreError:
        raise UsageError(f"--trial: {store.path} holds no trial with id {trial_id}") from None
    if trial.status != "done":
        why = {"pruned": "the pruner stopped it early", "failed": "it failed"}.get(trial.status, "it has not finished")
        raise UsageError(f"--trial: trial {trial_id} is {trial.status} ({why}); only a done trial has a model")
    artifact = trial.metrics.get("artifact")
    if not artifact or not Path(artifact).is_file():
        raise UsageError(
            f"--trial: the model of trial {trial_id} was not kept (a search keeps the best trial's model and, "
            "with several objectives, those of the Pareto front: `keras-geo-hpo report` lists them)"
        )
    return artifact, trial


def _cmd_export(args: argparse.Namespace) -> int:
    store = _store(args.store)
    if args.trial is not None:
        artifact, trial = _chosen_artifact(store, args.trial)
    else:
        artifact = store.get_meta("best_artifact")
        if not artifact or not Path(artifact).is_file():
            raise UsageError(f"{args.store} has no saved best model (no trial finished, or its file was removed)")
        trial = store.get_trial(int(store.get_meta("best_trial")))
    # safe_mode refuses any code (lambdas) inside the file; the model is checked before it is handed out.
    model = _load_model(artifact)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(artifact, out)
    print(
        f"exported trial {trial.id} ({model.name}, {model.count_params():,} parameters, value {trial.value:.4f}) to {out}"
    )
    return 0


def add_parser(commands) -> None:
    """Registers ``export``."""
    export = commands.add_parser("export", help="write the best trial's model (or --trial N's) as a .keras file")
    export.add_argument("store")
    export.add_argument("--out", required=True, help="destination .keras file")
    export.add_argument(
        "--trial",
        type=int,
        metavar="ID",
        help="the trial to export (an id of the report, e.g. one of the Pareto front); default: the best trial",
    )
    export.set_defaults(run=_cmd_export)
