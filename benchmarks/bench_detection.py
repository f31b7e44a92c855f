"""Report 001's detector on keras-geo: plain Faster R-CNN against self-attention, source-target attention and a Lambda
layer between the regions, at the same budget, over seeds; and the detector's speed.

Report 001 (Ikeda & Hidaka, IW-FCV 2022) adds a relation module to the RoI feature vectors of a Faster R-CNN and finds,
on BDD100K: mAP 0.158 (plain) -> 0.162-0.170, the Lambda variant best (0.170), gains on medium and large objects
(AP_M 0.195 -> 0.203, AP_L 0.355 -> 0.397) and none on small ones (AP_S 0.032 -> 0.028-0.032).

Here, on the generated ``scenes`` (keras_geo.datasets.scenes: 6 classes in COCO's three size bins, clutter, and a
context rule only relations can use: a cross is a ``buoy`` in a scene with a ring and a ``rock`` without one):

* the same ``two_stage_detector`` (small CNN backbone, FPN P3-P5, ``--rois`` regions, head of 128 units) with
  ``relation`` none, self_attention, source_target_attention and lambda (their defaults: 4 heads), trained by
  ``keras_geo.training.train`` for ``--epochs`` epochs (Adam, learning rate 1e-3, batches of 8, no early stopping:
  the same budget for all), one training per seed;
* scored on the test scenes by pycocotools: AP, AP50, AP_S/M/L and the AP of the two look-alike classes;
* speed: training images per second (the epochs' wall time) and inference latency per image (batches of 1, after
  a warm-up), on this machine's CPU threads.

    python benchmarks/bench_detection.py           # 128 px, 200 / 60 / 100 scenes, 10 epochs, 3 seeds
    python benchmarks/bench_detection.py --quick   # 64 px, 32 / 16 / 16 scenes, 2 epochs, 1 seed (about 3 minutes)
    python benchmarks/bench_detection.py --replot benchmarks/results/detection.json

Results: ``benchmarks/results/detection.json`` (``--quick``: ``detection_quick.json``) and the section in BENCHMARKS.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import bench_parser, describe_machine, load_results, save_results  # noqa: E402

RELATIONS = ("none", "self_attention", "source_target_attention", "lambda")
KEYS = ("AP", "AP50", "AP_small", "AP_medium", "AP_large", "AP/buoy", "AP/rock")
REPORT = {
    "none": {"AP": 0.158, "AP_small": 0.032, "AP_medium": 0.195, "AP_large": 0.355},
    "self_attention": {"AP": 0.162, "AP_small": 0.028, "AP_medium": 0.196, "AP_large": 0.380},
    "source_target_attention": {"AP": 0.165, "AP_small": 0.029, "AP_medium": 0.201, "AP_large": 0.392},
    "lambda": {"AP": 0.170, "AP_small": 0.032, "AP_medium": 0.203, "AP_large": 0.397},
}
"""Report 001's BDD100K figures (SA and STA with t = 32)."""


def run(relation: str, seed: int, data, settings: dict) -> dict:
    """One training and its test scores and speeds."""
    from keras_geo import training
    from keras_geo.tasks.detection import predict_detections

    params = {
        "relation": relation,
        "epochs": settings["epochs"],
        "batch_size": 8,
        "learning_rate": 1e-3,
        "early_stopping": False,
        "backbone_width": 16,
        "fpn_channels": 64,
        "head_units": 128,
        "rois": settings["rois"],
    }
    result = training.train("two_stage_detector", data, params, seed=seed)
    images = data["test"][0]
    predict_detections(result.model, images[:2], batch_size=1)  # warm-up
    started = time.perf_counter()
    count = min(20, len(images))
    predict_detections(result.model, images[:count], batch_size=1)
    latency = (time.perf_counter() - started) / count
    scores = result.reports["test"].scores
    return {
        "relation": relation,
        "seed": seed,
        "scores": {key: float(scores.get(key, float("nan"))) for key in KEYS},
        "train_images_per_s": len(data["train"][0]) * settings["epochs"] / result.metrics["train_time_s"],
        "latency_ms": 1e3 * latency,
        "n_params": int(result.metrics["n_params"]),
        "final_loss": result.history["loss"][-1],
    }


def _mean_sd(values: list[float]) -> str:
    values = [v for v in values if not np.isnan(v)]
    if not values:
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):.3f} ± {sd:.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def tables(results: dict) -> str:
    runs = results["runs"]
    lines = [
        f"{results['settings']}",
        "",
        "| relation | " + " | ".join(KEYS) + " | train images/s | latency ms/image | parameters |",
        "|---|" + "---|" * (len(KEYS) + 3),
    ]
    for relation in RELATIONS:
        mine = [r for r in runs if r["relation"] == relation]
        if not mine:
            continue
        cells = [_mean_sd([r["scores"][key] for r in mine]) for key in KEYS]
        speed = [
            f"{statistics.mean(r['train_images_per_s'] for r in mine):.1f}",
            f"{statistics.mean(r['latency_ms'] for r in mine):.0f}",
            f"{mine[0]['n_params']:,}",
        ]
        lines.append(f"| {relation} | " + " | ".join(cells) + " | " + " | ".join(speed) + " |")
    lines += [
        "",
        "Report 001 (BDD100K, mAP and AP by size):",
        "",
        "| relation | AP | AP_small | AP_medium | AP_large |",
    ]
    lines.append("|---|---|---|---|---|")
    for relation, figures in REPORT.items():
        lines.append(
            f"| {relation} | "
            + " | ".join(f"{figures[k]:.3f}" for k in ("AP", "AP_small", "AP_medium", "AP_large"))
            + " |"
        )
    lines += ["", "Per seed (AP; AP_small / AP_medium / AP_large):", ""]
    for run_ in runs:
        s = run_["scores"]
        lines.append(
            f"- {run_['relation']}, seed {run_['seed']}: AP {s['AP']:.3f}; "
            f"{s['AP_small']:.3f} / {s['AP_medium']:.3f} / {s['AP_large']:.3f}; buoy {s['AP/buoy']:.3f}, rock {s['AP/rock']:.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = bench_parser(__doc__, quick="64 px, 32 / 16 / 16 scenes, 2 epochs, 1 seed")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds 0..N-1 (default 3)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per training (default 10)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--rois", type=int, default=64, help="regions per image (default 64)")
    parser.add_argument("--train", type=int, default=200, help="training scenes (default 200)")
    parser.add_argument("--relations", nargs="+", default=list(RELATIONS), choices=RELATIONS)
    args = parser.parse_args()
    if args.replot:
        results = load_results(args.replot)
    else:
        from tqdm import tqdm

        from keras_geo import datasets

        counts = (32, 16, 16) if args.quick else (args.train, 60, 100)
        if args.quick:
            args.size, args.epochs, args.seeds = 64, 2, 1
        settings = {
            "image_size": args.size,
            "scenes": dict(zip(("train", "val", "test"), counts)),
            "epochs": args.epochs,
            "rois": args.rois,
            "seeds": args.seeds,
        }
        print(describe_machine(), flush=True)
        data = datasets.load(
            "scenes", n_train=counts[0], n_val=counts[1], n_test=counts[2], image_size=args.size, seed=0
        )
        runs = []
        jobs = [(relation, seed) for seed in range(args.seeds) for relation in args.relations]  # seed-major
        started = time.perf_counter()
        name = "detection_quick" if args.quick else "detection"
        for relation, seed in tqdm(jobs, desc="trainings", unit="training"):
            runs.append(run(relation, seed, data, settings))
            tqdm.write(f"{relation}, seed {seed}: AP {runs[-1]['scores']['AP']:.3f}")
            # Saved after every training: a run stopped early keeps the seeds it finished.
            results = {"settings": settings, "runs": runs, "total_s": time.perf_counter() - started}
            path = save_results(name, results)
        results = load_results(path)
        print(f"results: {path} ({results['total_s'] / 60:.1f} min)")
    print(describe_machine(results["machine"]))
    print(tables(results))


if __name__ == "__main__":
    main()
