"""``keras-geo-hpo export``: write the best trial's model of a store as a ``.keras`` file."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from keras_geo.cli._common import UsageError, _load_model, _store


def _cmd_export(args: argparse.Namespace) -> int:
    store = _store(args.store)
    artifact = store.get_meta("best_artifact")
    if not artifact or not Path(artifact).is_file():
        raise UsageError(f"{args.store} has no saved best model (no trial finished, or its file was removed)")
    # safe_mode refuses any code (lambdas) inside the file; the model is checked before it is handed out.
    model = _load_model(artifact)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(artifact, out)
    trial = store.get_trial(int(store.get_meta("best_trial")))
    print(
        f"exported trial {trial.id} ({model.name}, {model.count_params():,} parameters, value {trial.value:.4f}) to {out}"
    )
    return 0


def add_parser(commands) -> None:
    """Registers ``export``."""
    export = commands.add_parser("export", help="write the best trial's model as a .keras file")
    export.add_argument("store")
    export.add_argument("--out", required=True, help="destination .keras file")
    export.set_defaults(run=_cmd_export)
