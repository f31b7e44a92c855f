"""``keras-geo-hpo report``: plots and a Markdown/HTML summary of a store, with the best model's Grad-CAM."""
from __future__ import annotations

import argparse
from pathlib import Path

from keras_geo.cli._common import _load_model, _store


def _grad_cam_section(store, out: Path) -> tuple[str, str] | None:
    """Grad-CAM overlays of the store's best model on validation images, as a report section."""
    artifact = store.get_meta("best_artifact")
    if not artifact or not Path(artifact).is_file():
        return None
    from keras_geo import explain
    from keras_geo.search import load_data

    trial = store.get_trial(int(store.get_meta("best_trial")))
    config = (store.get_search(trial.search_id) or store.get_search()).config  # the search that trained it
    try:
        data, class_names = load_data(config["dataset"])
        model = _load_model(artifact)
        x, y = data["val"]
        chosen = explain.pick_per_class(y, per_class=2)
        explained = explain.explain_to_files(
            model, x[chosen], out, class_names=class_names, true_labels=y[chosen], grid_name="gradcam_best.png",
            grid_rows=len(chosen), overlays=False, title=f"Grad-CAM of the best model (trial {trial.id})",
        )
    except Exception as error:  # the report stands without the images; say why
        return "Grad-CAM of the best model", f"Not drawn: {type(error).__name__}: {error}"
    correct = sum(int(p == t) for p, t in zip(explained.predicted, y[chosen]))
    text = (
        f"Two validation images per class through the best model (trial {trial.id}, "
        f"`{Path(artifact).name}`), {correct} of {len(chosen)} classified correctly. Each row: the image, "
        "the Grad-CAM heatmap of the predicted class (last convolutional layer, red = the regions that raise "
        "the class score most), and the two blended.\n\n"
        f"![Grad-CAM of the best model]({explained.grid.name})"
    )
    return "Grad-CAM of the best model", text


def _cmd_report(args: argparse.Namespace) -> int:
    from hpo import report

    store = _store(args.store)
    out = Path(args.out or Path(args.store).parent / "report")
    out.mkdir(parents=True, exist_ok=True)
    section = None if args.no_gradcam else _grad_cam_section(store, out)
    if section is None:
        (out / "gradcam_best.png").unlink(missing_ok=True)  # not from an earlier report
    files = report.write_report(store, out, extra_sections=[section] if section else ())
    drawn = [*files.plots.values(), *([out / "gradcam_best.png"] if (out / "gradcam_best.png").is_file() else [])]
    print(f"report: {files.markdown} and {files.html}; plots: {', '.join(str(p) for p in drawn)}")
    return 0


def add_parser(commands) -> None:
    """Registers ``report``."""
    report = commands.add_parser("report", help="plots and a Markdown/HTML summary of a store")
    report.add_argument("store")
    report.add_argument("--out", help="output folder (default: report/ beside the store)")
    report.add_argument("--no-gradcam", action="store_true", help="leave out the best model's Grad-CAM images")
    report.set_defaults(run=_cmd_report)
