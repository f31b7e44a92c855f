"""``keras-geo-hpo report``: plots and a Markdown/HTML summary of a store, with the best model at work."""

from __future__ import annotations

import argparse
from pathlib import Path

from keras_geo.cli._common import _store

# The images the tasks' sample sections draw are named *_best.png (keras_geo.tasks.Task.sample_section).
SAMPLE_IMAGES = "*_best.png"


def _cmd_report(args: argparse.Namespace) -> int:
    from hpo import report

    store = _store(args.store)
    out = Path(args.out or Path(args.store).parent / "report")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(SAMPLE_IMAGES):  # an earlier report's must not linger
        stale.unlink()
    section = None
    if not args.no_samples:
        from keras_geo.search import sample_section

        section = sample_section(store, out)
    files = report.write_report(store, out, extra_sections=[section] if section else ())
    drawn = [*files.plots.values(), *sorted(out.glob(SAMPLE_IMAGES))]
    print(f"report: {files.markdown} and {files.html}; plots: {', '.join(str(p) for p in drawn)}")
    return 0


def add_parser(commands) -> None:
    """Registers ``report``."""
    report = commands.add_parser("report", help="plots and a Markdown/HTML summary of a store")
    report.add_argument("store")
    report.add_argument("--out", help="output folder (default: report/ beside the store)")
    report.add_argument(
        "--no-samples",
        "--no-gradcam",
        dest="no_samples",
        action="store_true",
        help="leave out the best model's sample section (Grad-CAM, residuals or restored images)",
    )
    report.set_defaults(run=_cmd_report)
