"""``keras-geo-hpo configs`` and ``keras-geo-hpo samples``: what ships inside the package, by name.

keras-geo-hpo configs                  # the shipped search configurations, one line each
keras-geo-hpo configs filler_ga_tpe    # the path of one (``search`` takes the name as it is)
keras-geo-hpo samples                  # the sample images and grids
keras-geo-hpo samples filler           # the path of one, for the commands that read files
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from keras_geo.cli._common import UsageError


def _summary(path: Path, width: int = 90) -> str:
    """The first sentence of a configuration's leading comment, cut at ``width`` characters."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(lines)
    sentence = re.split(r"(?<=\w\w\w[.])\s+(?=[A-Z])", text, maxsplit=1)[0].rstrip(".")  # not at "et al."
    return sentence if len(sentence) <= width else sentence[: width - 3].rstrip() + "..."


def _cmd_configs(args: argparse.Namespace) -> int:
    from keras_geo.config import ConfigError, shipped_config, shipped_configs

    if args.name is not None:
        try:
            print(shipped_config(args.name))
        except ConfigError as error:
            raise UsageError(str(error).removeprefix("config: ")) from None
        return 0
    shipped = shipped_configs()
    width = max(len(name) for name in shipped)
    for name, path in shipped.items():
        print(f"{name:<{width}}  {_summary(path)}")
    folder = next(iter(shipped.values())).parent
    print(f"\n{len(shipped)} configurations in {folder}; run one by name: keras-geo-hpo search filler_ga_tpe")
    return 0


def _cmd_samples(args: argparse.Namespace) -> int:
    from keras_geo import samples

    if args.name is not None:
        if args.name not in samples.SAMPLES:
            raise UsageError(f"no sample {args.name!r}; shipped: {', '.join(samples.available())}")
        print(samples.path(args.name))
        return 0
    width = max(len(name) for name in samples.available())
    for name in samples.available():
        print(f"{name:<{width}}  {samples.describe(name)}\n{'':<{width}}  {samples.path(name)}")
    return 0


def add_parser(commands) -> None:
    """Registers ``configs`` and ``samples``."""
    configs = commands.add_parser("configs", help="list the shipped search configurations, or print one's path")
    configs.add_argument("name", nargs="?", help="a shipped configuration: print its path")
    configs.set_defaults(run=_cmd_configs)
    samples = commands.add_parser("samples", help="list the shipped sample images and grids, or print one's path")
    samples.add_argument("name", nargs="?", help="a sample: print its path")
    samples.set_defaults(run=_cmd_samples)
