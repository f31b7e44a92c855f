"""Report 001's restoration comparison: MSE U-Net, SSIM U-Net and pix2pix at the same budget, with classical baselines.

The report degrades high-quality SEM images to low-cost-SEM quality and learns the
inverse: pix2pix is sharp but fabricates particles out of noise, an MSE U-Net is
blurry, and a U-Net trained with an SSIM loss is sharper than the MSE U-Net and
fabricates fewer particles than pix2pix. Here the three networks train on
``keras_geo.datasets.sem`` (generated SEM-like images and their seeded degradation)
with the same generator, epochs, batch size and optimizer, over several seeds, and
are scored on held-out images (their own structures): PSNR, SSIM, MS-SSIM,
sharpness relative to the clean image, and the particles fabricated and missed per
100 particles found in the clean image. The classical filters a microscopist would
try first (Gaussian blur, non-local means; each tuned on the validation images)
and the degraded input itself are scored the same way, so the networks' gain is honest.

    python benchmarks/bench_restoration.py              # 3 seeds, about 17 minutes on 2 cores
    python benchmarks/bench_restoration.py --quick      # 1 seed, fewer images and epochs (restoration_quick.*)
    python benchmarks/bench_restoration.py --replot benchmarks/results/restoration.json

Results: benchmarks/results/restoration.json, restoration.png (the same crop from
every method beside the clean image, fabricated particles circled in red and missed
ones in yellow) and the table in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import RESULTS, describe_machine, save_results  # noqa: E402

# What the report says (no figures: it states the direction only).
REPORT = {
    "U-Net (MSE)": "blurry",
    "U-Net (SSIM)": "sharper than the MSE U-Net; fewer fabricated particles than pix2pix",
    "pix2pix": "sharp, but fabricates false particles from noise",
    "pix2pix (lambda 10)": "",
}
METRICS = ("psnr", "ssim", "ms_ssim", "sharpness", "fabricated_per_100", "missed_per_100")
GENERATOR = {"depth": 3, "filters": 16, "normalization": "batch", "upsampling": "transpose"}
NETWORKS = {
    "U-Net (MSE)": ("unet", {"loss": "mse"}),
    "U-Net (SSIM)": ("unet", {"loss": "ssim"}),
    "pix2pix": ("pix2pix", {"loss": "mae", "lambda_l1": 100.0}),
    # The paper's weight keeps the adversarial term small; a tenth of it shows what that term adds.
    "pix2pix (lambda 10)": ("pix2pix", {"loss": "mae", "lambda_l1": 10.0}),
}


def score(restored: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    """The image-to-image task's evaluation (with particles) of restored images against the clean ones."""
    from keras_geo import tasks

    task = tasks.get("image_to_image", particles=True)
    task.start(restored, clean)
    return task.score(clean, restored)


def classical(data, *, quick: bool) -> dict[str, tuple[dict[str, float], dict[str, float], np.ndarray]]:
    """Degraded input, Gaussian blur and non-local means: ``label -> (test scores, chosen setting, test outputs)``.

    Each filter's setting is the one with the best validation SSIM.
    """
    import cv2
    from skimage.restoration import denoise_nl_means

    def gaussian(images, sigma):
        return np.stack(
            [cv2.GaussianBlur(im, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)[..., None] for im in images]
        )

    def nl_means(images, h):
        out = [denoise_nl_means(im[..., 0], h=h, patch_size=5, patch_distance=6) for im in images]
        return np.clip(np.stack(out)[..., None], 0, 1).astype("float32")

    (xv, yv), (xt, yt) = data["val"], data["test"]
    results = {"degraded input": (score(xt, yt), {}, xt)}
    candidates = {
        "Gaussian blur": (gaussian, "sigma_px", (0.5, 1.0, 1.5, 2.0)),
        "non-local means": (nl_means, "h", (0.04, 0.06, 0.09, 0.13) if not quick else (0.06, 0.09)),
    }
    for label, (method, name, values) in candidates.items():
        best = max(values, key=lambda v: score(method(xv, v), yv)["ssim"])
        outputs = method(xt, best)
        results[label] = (score(outputs, yt), {name: best}, outputs)
        print(f"  {label}: {name}={best}  SSIM {results[label][0]['ssim']:.3f}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 seed, 200 training images, 6 epochs")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--train", type=int, default=400, help="training images (default 400)")
    parser.add_argument("--test", type=int, default=200, help="held-out images (default 200)")
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--out", help="results file (default benchmarks/results/restoration[_quick].json)")
    parser.add_argument("--replot", metavar="JSON", help="only redraw the figure and table from a results file")
    args = parser.parse_args()
    if args.replot:
        print_table(json.loads(Path(args.replot).read_text()))
        return
    if args.quick:
        args.seeds, args.epochs, args.train, args.test = 1, 6, 200, 100
    args.out = args.out or str(RESULTS / f"restoration{'_quick' if args.quick else ''}.json")

    from keras_geo import datasets, training
    from keras_geo.tasks import predict_batches

    data = datasets.load("sem", n_train=args.train, n_val=100, n_test=args.test, seed=0)
    print(f"sem: {data.sizes()} images of {data['train'][0].shape[1:]}; {describe_machine()}", flush=True)
    baselines = classical(data, quick=args.quick)
    outputs = {label: out for label, (_, _, out) in baselines.items()}
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in NETWORKS}
    for seed in range(args.seeds):
        for label, (builder, settings) in NETWORKS.items():
            params = {
                **GENERATOR,
                **settings,
                "epochs": args.epochs,
                "batch_size": 16,
                "learning_rate": args.learning_rate,
                "patience": 4,
            }
            started = time.perf_counter()
            result = training.train(builder, data, params, task="image_to_image", seed=seed)
            restored = np.clip(predict_batches(result.model, data["test"][0]), 0, 1)
            scores = {**score(restored, data["test"][1]), "train_time_s": time.perf_counter() - started}
            runs[label].append(scores)
            if seed == 0:
                outputs[label] = restored
            print(
                f"  seed {seed} {label}: SSIM {scores['ssim']:.3f}, sharpness {scores['sharpness']:.2f}, "
                f"fabricated {scores['fabricated_per_100']:.1f}/100 ({scores['train_time_s']:.0f} s)",
                flush=True,
            )
    results = {
        "settings": {**vars(args), "generator": GENERATOR, "networks": NETWORKS, "sizes": data.sizes()},
        "classical": {label: {"scores": s, "setting": c} for label, (s, c, _) in baselines.items()},
        "networks": {
            label: {
                "runs": scores,
                "mean": {k: float(np.mean([r[k] for r in scores])) for k in (*METRICS, "train_time_s")},
                "std": {k: float(np.std([r[k] for r in scores])) for k in (*METRICS, "train_time_s")},
            }
            for label, scores in runs.items()
        },
        "report": REPORT,
    }
    path = save_results(Path(args.out).stem, results, results_dir=Path(args.out).parent)
    figure(data["test"], outputs, Path(args.out).with_suffix(".png"))
    print_table(json.loads(path.read_text()))
    print(f"results: {path}")


def figure(test, outputs: dict[str, np.ndarray], path: Path, *, index: int | None = None) -> Path:
    """The same crop from every method beside the clean image; fabricated particles red, missed yellow."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from keras_geo.particles import count_particles, mark_particles

    x, y = test
    if index is None:  # the image where the methods' fabrications differ most: the comparison worth looking at
        fabricated = np.array([count_particles(out, y).fabricated for out in outputs.values()])
        index = int(np.argmax(fabricated.max(axis=0) - fabricated.min(axis=0)))
    columns = [*outputs.items(), ("clean", y)]
    fig = Figure(figsize=(2.2 * len(columns), 2.6))
    FigureCanvasAgg(fig)
    for i, (label, images) in enumerate(columns):
        axis = fig.add_subplot(1, len(columns), i + 1)
        axis.imshow(images[index, ..., 0], cmap="gray", vmin=0, vmax=1)
        axis.set_axis_off()
        axis.set_title(label, fontsize=9)
        if label != "clean":
            fabricated, missed = count_particles(images[index : index + 1], y[index : index + 1]).errors(0)
            mark_particles(axis, fabricated, color="red")
            mark_particles(axis, missed, color="yellow")
    fig.suptitle(f"Held-out image {index}: red = fabricated, yellow = missed (against the clean image)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def print_table(results: dict) -> None:
    """The markdown table of BENCHMARKS.md: every method, mean ± spread over seeds for the networks."""
    names = ("PSNR dB", "SSIM", "MS-SSIM", "sharpness", "fabricated /100", "missed /100")
    print("| method | " + " | ".join(names) + " | report 001 |")
    print("|---" * (len(names) + 2) + "|")
    for label, entry in results["classical"].items():
        s = entry["scores"]
        setting = ", ".join(f"{k} {v}" for k, v in entry["setting"].items())
        cells = [f"{s[k]:.2f}" if k in ("psnr", "sharpness") else f"{s[k]:.3f}" for k in METRICS[:4]]
        cells += [f"{s[k]:.1f}" for k in METRICS[4:]]
        print(f"| {label}{f' ({setting})' if setting else ''} | " + " | ".join(cells) + " | |")
    for label, entry in results["networks"].items():
        mean, std = entry["mean"], entry["std"]
        cells = []
        for k in METRICS:
            digits = 1 if k.endswith("_100") else 2 if k in ("psnr", "sharpness") else 3
            cells.append(f"{mean[k]:.{digits}f} ± {std[k]:.{digits}f}")
        print(f"| {label} | " + " | ".join(cells) + f" | {results['report'].get(label, '')} |")


if __name__ == "__main__":
    main()
