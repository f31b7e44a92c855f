"""``keras-geo-hpo status``: counts, best trial and failures of a store (never imports TensorFlow)."""

from __future__ import annotations

import argparse
import json

from keras_geo.cli._common import _store


def _cmd_status(args: argparse.Namespace) -> int:
    from hpo import report

    figures = report.summary(_store(args.store))
    print(json.dumps(figures, indent=2) if args.json else report.format_status(figures))
    return 0


def add_parser(commands) -> None:
    """Registers ``status``."""
    status = commands.add_parser("status", help="counts, best trial and failures of a store")
    status.add_argument("store")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=_cmd_status)
