"""Bathymetry super-resolution on a region the model did not train on (report 000, Murakami et al.).

Models are trained on tiles of the ``source`` region (a trough) and tested on the
``target`` region (a seamount province) of :mod:`keras_geo.datasets.bathymetry`, at x4,
with the same number of training tiles and epochs each:

* bicubic: the input itself (the baseline every SR paper reports),
* SRCNN and EDSR trained on source tiles only,
* EDSR trained on stage-1 transformed source tiles (rotation/flip, depth scaling, slope stretch),
* EDSR trained on the report's two-stage augmentation (stage 1, then composed tiles
  selected to match the target's *low-resolution* slope and roughness histograms),
* EDSR trained on the target region itself: the bound (its fine tiles are what the
  report's setting lacks).

Per model and seed: the RMSE in metres on the target test tiles and its ratio to
bicubic; the spatial consistency (RMS in metres between the block average of the
output and the low-resolution input); and, for the two EDSRs, a larger target grid
super-resolved tile by tile (:func:`keras_geo.bathymetry.super_resolve`) without and
with overlap, with the RMSE on the pixels next to the tile seams against the rest.

    python benchmarks/bench_bathymetry_sr.py [--quick] [--seeds 0 1 2] [--epochs 30] [--models M... --merge]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_parser, describe_machine, load_results, pyplot, save_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SCALE, TILE = 4, 48
MODELS = {
    "srcnn": ("srcnn", {"filters": 32}, "none"),
    "edsr": ("edsr", {"blocks": 4, "filters": 32}, "none"),
    "edsr_stage1": ("edsr", {"blocks": 4, "filters": 32}, "stage1"),
    "edsr_two_stage": ("edsr", {"blocks": 4, "filters": 32}, "two_stage"),
    # The bound: trained on the target region itself (its high-resolution tiles, which the
    # report's setting does not have), same budget.
    "edsr_target": ("edsr", {"blocks": 4, "filters": 32}, "target"),
}
TRAINING = {"learning_rate": 1e-3, "batch_size": 16, "patience": 5}


def metres(data, split: str, normalised: np.ndarray) -> np.ndarray:
    """Tiles in metres from the data set's per-tile statistics."""
    from keras_geo.datasets.bathymetry import to_metres

    return to_metres(normalised[..., 0], data.info, split)


def scores(data, predicted: np.ndarray) -> dict:
    """Target-test RMSE (m), its ratio to bicubic, and the consistency with the low-resolution tiles (m)."""
    from keras_geo.datasets.bathymetry import block_average

    x, y = data["test"]
    truth, output, bicubic = metres(data, "test", y), metres(data, "test", predicted), metres(data, "test", x)
    lr = block_average(truth, SCALE)
    rmse = float(np.sqrt(np.mean((output - truth) ** 2)))
    base = float(np.sqrt(np.mean((bicubic - truth) ** 2)))
    return {
        "rmse_m": rmse,
        "bicubic_rmse_m": base,
        "ratio": rmse / base,
        "consistency_m": float(np.sqrt(np.mean((block_average(output, SCALE) - lr) ** 2))),
        "bicubic_consistency_m": float(np.sqrt(np.mean((block_average(bicubic, SCALE) - lr) ** 2))),
    }


def seams(model, seed: int) -> dict:
    """A 384 x 384 target grid super-resolved in 48-pixel tiles, overlap 0 and 16: RMSE at the seams and elsewhere."""
    from keras_geo import bathymetry
    from keras_geo.datasets.bathymetry import block_average, synthesize_terrain

    truth = synthesize_terrain(384, pixel_m=50.0, region="target", seed=10_000 + seed)
    lr = block_average(truth, SCALE)
    mask = bathymetry.seam_mask(truth.shape, TILE, width=2)
    out = {}
    for overlap in (0, 16):
        error = bathymetry.super_resolve(model, lr, scale=SCALE, tile=TILE, overlap=overlap) - truth
        out[f"overlap_{overlap}"] = {
            "seam_rmse_m": float(np.sqrt(np.mean(error[mask] ** 2))),
            "inner_rmse_m": float(np.sqrt(np.mean(error[~mask] ** 2))),
        }
    return out


def run(seeds: list[int], epochs: int, n_train: int, models: list[str]) -> list[dict]:
    from keras_geo import datasets, training

    rows = []
    loaded = {}
    for seed in seeds:
        for name in models:
            builder, params, augment = MODELS[name]
            key = (augment, seed)
            if key not in loaded:
                region = {"region": "target"} if augment == "target" else {"augment": augment}
                loaded[key] = datasets.load(
                    "bathymetry", n_train=n_train, n_val=100, n_test=200, tile=TILE, scale=SCALE, seed=seed, **region
                )
            data = loaded[key]
            started = time.perf_counter()
            result = training.train(builder, data, {**TRAINING, **params, "epochs": epochs}, seed=seed)
            x = data["test"][0]
            predicted = np.concatenate(
                [result.model(x[i : i + 64], training=False).numpy() for i in range(0, len(x), 64)]
            )
            row = {"model": name, "seed": seed, "epochs": result.metrics["epochs"], **scores(data, predicted)}
            row["train_s"] = time.perf_counter() - started
            if name.startswith("edsr"):
                row["seams"] = seams(result.model, seed)
            if augment not in ("none", "target"):
                row["histogram_distance"] = data.info["augment"].get("distance")
            rows.append(row)
            print(f"{name} seed {seed}: RMSE {row['rmse_m']:.2f} m, {row['ratio']:.3f} x bicubic", flush=True)
    return rows


def summary(rows: list[dict]) -> str:
    """The Markdown tables: per model mean and spread over seeds, the two-stage gain, the seams."""
    lines = [
        "| model (trained on source; edsr_target on the target) | target RMSE (m) | x bicubic | consistency (m) | seeds |",
        "|---|---|---|---|---|",
    ]
    first = rows[0]
    lines.append(f"| bicubic | {first['bicubic_rmse_m']:.2f} | 1.000 | {first['bicubic_consistency_m']:.2f} | |")
    names = list(dict.fromkeys(r["model"] for r in rows))
    for name in names:
        chosen = [r for r in rows if r["model"] == name]
        ratios = [r["ratio"] for r in chosen]
        spread = f" +- {statistics.stdev(ratios):.3f}" if len(ratios) > 1 else ""
        lines.append(
            f"| {name} | {statistics.mean(r['rmse_m'] for r in chosen):.2f} | {statistics.mean(ratios):.3f}{spread} | "
            f"{statistics.mean(r['consistency_m'] for r in chosen):.2f} | {len(chosen)} |"
        )
    if {"edsr", "edsr_two_stage"} <= set(names):
        gains = [
            100 * (1 - a["rmse_m"] / b["rmse_m"])
            for a in rows
            if a["model"] == "edsr_two_stage"
            for b in rows
            if b["model"] == "edsr" and b["seed"] == a["seed"]
        ]
        wins = sum(g > 0 for g in gains)
        spread = f" +- {statistics.stdev(gains):.1f}" if len(gains) > 1 else ""
        lines.append("")
        lines.append(
            f"Two-stage augmentation against source only (EDSR, same seed): RMSE {statistics.mean(gains):.1f}{spread} % "
            f"lower, better in {wins} of {len(gains)} seeds (the report: up to 14.3 %)."
        )
    seam_rows = [r for r in rows if "seams" in r]
    if seam_rows:
        lines += [
            "",
            "| model | overlap (px) | RMSE at seams (m) | RMSE elsewhere (m) | seams / elsewhere |",
            "|---|---|---|---|---|",
        ]
        for name in dict.fromkeys(r["model"] for r in seam_rows):
            for overlap in (0, 16):
                chosen = [r["seams"][f"overlap_{overlap}"] for r in seam_rows if r["model"] == name]
                seam = statistics.mean(c["seam_rmse_m"] for c in chosen)
                inner = statistics.mean(c["inner_rmse_m"] for c in chosen)
                lines.append(f"| {name} | {overlap} | {seam:.2f} | {inner:.2f} | {seam / inner:.3f} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """Ratio to bicubic per model, one dot per seed."""
    plt = pyplot()
    names = list(dict.fromkeys(r["model"] for r in rows))
    figure, axis = plt.subplots(figsize=(6.5, 3.6))
    for i, name in enumerate(names):
        values = [r["ratio"] for r in rows if r["model"] == name]
        axis.scatter([i] * len(values), values, color="tab:blue", alpha=0.7)
        axis.hlines(statistics.mean(values), i - 0.25, i + 0.25, color="black")
    axis.axhline(1.0, color="grey", linestyle="--", label="bicubic")
    axis.axhline(0.9, color="tab:red", linestyle=":", label="0.9 x bicubic")
    axis.set_xticks(range(len(names)), names)
    axis.set_ylabel("target RMSE / bicubic RMSE")
    axis.set_title(f"x{SCALE} super-resolution of the target region, trained on the source")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = bench_parser(__doc__, quick="one seed, 8 epochs, 200 tiles, EDSR source-only and two-stage")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--merge", action="store_true", help="replace only these models' rows in the earlier results")
    args = parser.parse_args()
    name = "bathymetry_sr_quick" if args.quick else "bathymetry_sr"
    if args.replot:
        rows = load_results(args.replot)["rows"]
    else:
        if args.quick:
            rows = run(args.seeds[:1], 8, 200, ["edsr", "edsr_two_stage"])
        else:
            rows = run(args.seeds, args.epochs, args.n_train, args.models)
            earlier = RESULTS / f"{name}.json"
            if args.merge and earlier.exists():  # keep the other models' rows of the earlier run
                rows = [r for r in load_results(earlier)["rows"] if r["model"] not in args.models] + rows
        save_results(name, {"rows": rows, "scale": SCALE, "tile": TILE})
    plot(rows, RESULTS / f"{name}.png")
    print(describe_machine())
    print(summary(rows))
    print(json.dumps({"results": str(RESULTS / f"{name}.json")}))


if __name__ == "__main__":
    main()
