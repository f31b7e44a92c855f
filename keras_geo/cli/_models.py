"""``keras-geo-hpo models``: list the registered model builders."""

from __future__ import annotations

import argparse


def _cmd_models(args: argparse.Namespace) -> int:
    from keras_geo import models

    width = max(len(name) for name in models.available())
    for name in models.available():
        print(f"{name:<{width}}  {models.describe(name)}")
    return 0


def add_parser(commands) -> None:
    """Registers ``models``."""
    listing = commands.add_parser("models", help="list the registered model builders")
    listing.set_defaults(run=_cmd_models)
