"""``keras-geo-hpo``: the command line.

    keras-geo-hpo search CONFIG.yaml [--store PATH] [--strategy S] [--workers N] [--trials N] [--seed S]
                                     [--warm-start OLD_STORE] [--backend serial|local|mpi|mpi_async|horovod]
    keras-geo-hpo resume STORE [--backend B] [--workers N]
    mpiexec -n 4 keras-geo-hpo search CONFIG.yaml --backend mpi          # one rank per GPU, any nodes
    mpiexec -n 5 keras-geo-hpo search CONFIG.yaml --backend mpi_async    # rank 0 drives, 4 ranks train
    horovodrun -np 4 keras-geo-hpo search CONFIG.yaml --backend horovod
    keras-geo-hpo status STORE [--json]
    keras-geo-hpo report STORE [--out DIR]
    keras-geo-hpo dashboard STORE... [--port 8050] [--host 127.0.0.1] [--refresh S] [--no-samples]   # live, read-only
    keras-geo-hpo export STORE --out BEST.keras
    keras-geo-hpo models
    keras-geo-hpo configs [NAME]                      # the shipped search configurations (search takes a name)
    keras-geo-hpo samples [NAME]                      # the shipped sample images and grids
    keras-geo-hpo explain MODEL.keras IMAGES_OR_FOLDER... --out DIR [--method gradcam|gradcam++|cam] [--class C]
    keras-geo-hpo restore MODEL.keras IMAGES_OR_FOLDER... --out DIR [--tile N] [--overlap N]
    keras-geo-hpo super-resolve MODEL.keras GRID... --scale N --out DIR [--tile N] [--overlap N] [--plot]
    keras-geo-hpo rsa MODEL.keras --stimuli DIR|textures [--reference NAME=PATH ...] [--v1 [--v1-frequencies F ...]]
                      [--it] [--layers L ...] [--rdm M] [--compare M] [--bootstrap N] [--permutations N] --out DIR
    keras-geo-hpo detect DETECTOR.keras IMAGES_OR_FOLDER... --out DIR [--score S]
    keras-geo-hpo annotate init|propagate|review|retrain|status|export PROJECT ...   # label a video in rounds
    keras-geo-hpo train [--fov NM] [--train N] ...     # one filler CNN, per-class table

Errors a user can fix (a bad config key, a missing file, a store that is not a
store) print one line and exit with status 2, never a traceback. A search that
stops on a fatal trial error exits 1; Ctrl-C exits 130 and says how to resume.

Under a launcher every rank runs the same command: rank 0 drives the search and
prints, the other ranks train their share of each round and exit quietly
(:mod:`hpo.distributed`). Each rank is pinned to its device before TensorFlow is
imported, which is why the backend is settled before the configuration is read.

Each command is a module of this package (``_search`` holds search and resume,
``_status``, ``_report``, ``_dashboard``, ``_explain``, ``_restore``, ``_super_resolve``, ``_rsa``, ``_detect``, ``_annotate``, ``_export``,
``_models``, ``_shipped`` (configs and samples), ``_train``) that imports what it needs only when it runs; what several
share is in ``_common``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from keras_geo import _console
from keras_geo.cli import (
    _annotate,
    _dashboard,
    _detect,
    _explain,
    _export,
    _models,
    _report,
    _restore,
    _rsa,
    _search,
    _shipped,
    _status,
    _super_resolve,
    _train,
)
from keras_geo.cli._common import LaunchError, UsageError

__all__ = ["LaunchError", "UsageError", "build_parser", "main"]

# The sub-commands in the order ``--help`` lists them; each module registers its own
# (``add_parser``) and imports what it needs only when it runs.
_COMMANDS = (
    _search,
    _status,
    _report,
    _dashboard,
    _explain,
    _restore,
    _super_resolve,
    _rsa,
    _detect,
    _annotate,
    _export,
    _models,
    _shipped,
    _train,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``keras-geo-hpo`` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="keras-geo-hpo",
        description="keras-geo: scientific image recognition with parallel hyperparameter search.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help=f"show the libraries' own logging (TensorFlow's start-up lines, warnings with their source); "
        f"{_console.LOG_VARIABLE}=verbose does the same",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``keras-geo-hpo`` console script."""
    args = build_parser().parse_args(argv)
    # Before anything imports TensorFlow: its C++ start-up chatter (CUDA probing, oneDNN, CPU
    # features) says nothing a user can act on, here and in every worker. --verbose shows it.
    _console.configure(verbose_output=True if args.verbose else None, program="keras-geo-hpo")
    from hpo.store import StoreError
    from keras_geo.config import ConfigError

    try:
        return args.run(args)
    except (UsageError, ConfigError, StoreError) as error:
        from hpo.distributed import launcher_world

        if launcher_world()[1] == 0:  # under a launcher, rank 0 speaks for all
            print(f"keras-geo-hpo {args.command}: error: {error}", file=sys.stderr)
        elif isinstance(error, LaunchError):
            return 0
        return 2
