"""Report 003 on small data: SkipResNet against ResNet of the same depth, same data, epochs, optimiser and seeds.

Report 003 (Takeda's SkipResNet) replaces each residual block's addition with a Gate
Module that mixes the block's output with earlier blocks' outputs, weighted per input
image by an attention gate, and says the gate helps most on small data sets. Its
figures are CIFAR ones (ResNet-110 against Skip-ResNet-110, 50,000 training images).
Here the claim is measured where this project lives: small generated image sets that
train on 2 CPU cores in minutes.

* Data (one draw each, data seed 0, the same for every training seed and both models):
  filler slices at a 250 nm field of view (``keras_geo.datasets.filler``, 3 classes,
  the hardest field of view of the study) and the generated shapes
  (``keras_geo.datasets.shapes``, 5 classes), 32 x 32 pixels, ``--train`` training
  and ``--test`` test images per set, shared equally among the classes. No augmentation.
* Models: ``build_resnet(depth=D, gate=False)`` (ResNet-D) and ``gate=True``
  (SkipResNet-D, gate reduction 2 as the reference's CIFAR networks), CIFAR-style
  (3 stages of widths 16/32/64), softmax output.
* Training (:func:`keras_geo.training.train`): ``--epochs`` epochs of batches of 32,
  Adam at ``--learning-rate`` with a cosine decay to zero over the epochs (one step
  per epoch), no early stopping, no validation split: the model after the last
  epoch is scored on the test images.
* Seeds: each seed trains both models, one right after the other, the plain one first
  on even seeds and the gated one first on odd seeds, so that a change in the machine's
  load hits both alike. A seed seeds both trainings alike (``keras.utils.set_random_seed``
  before building); the gated model's extra weights draw from the same generators, so
  the two need not see the batches in the same order.

Measured: test accuracy (mean, sample standard deviation, min..max over seeds), the
per-seed paired difference SkipResNet - ResNet (mean, standard deviation, a 95 %
t-interval, and on how many seeds the gate won), trainable parameters, and seconds per
epoch after the first: the median over every later epoch of every seed, and the fastest
such epoch (the figure least touched by other processes on a shared machine); the first
epoch, which includes tracing the training graph, is reported apart (median over seeds).

    python benchmarks/bench_skipresnet.py              # depth 20, 5 seeds, 30 epochs (23 minutes on 2 shared cores)
    python benchmarks/bench_skipresnet.py --quick      # depth 14, 2 seeds, 2 epochs, tiny sets (skipresnet_quick.*)
    python benchmarks/bench_skipresnet.py --depth 32 --seeds 8 --epochs 40
    python benchmarks/bench_skipresnet.py --replot benchmarks/results/skipresnet.json

Results: ``benchmarks/results/skipresnet.json`` and ``skipresnet.md`` (``--quick``:
``skipresnet_quick.*``) and the section in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import RESULTS, describe_machine, save_results  # noqa: E402

# label -> (registry name, classes, settings); sizes are per class, from --train and --test.
DATASETS = {
    "filler 250 nm": ("filler", 3, {"fov_nm": 250.0, "image_size": 32}),
    "shapes": ("shapes", 5, {"image_size": 32}),
}
MODELS = {"plain": False, "skip": True}  # the gate argument of build_resnet
# Report 003's figures: ResNet-110 and Skip-ResNet-110 on CIFAR (top-1 test accuracy, trainable parameters).
REPORT = {
    "CIFAR-100": {"plain": 0.7798, "skip": 0.7988},
    "CIFAR-10": {"plain": 0.9623, "skip": 0.9660},
    "params": {"plain": 1.737e6, "skip": 2.189e6},
}
# t quantiles (0.975) for the paired interval by degrees of freedom, where scipy is missing.
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def t975(dof: int) -> float:
    """The 0.975 quantile of Student's t with ``dof`` degrees of freedom."""
    try:
        from scipy import stats

        return float(stats.t.ppf(0.975, dof))
    except ImportError:
        return _T975.get(dof, 2.21 if dof < 20 else 2.1)  # rounded up beyond the table: a wider interval


def model_name(gate: bool, depth: int) -> str:
    return f"SkipResNet-{depth}" if gate else f"ResNet-{depth}"


def trainable_params(model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def reference_params() -> dict[str, int]:
    """Our builders' ResNet-110 and SkipResNet-110 for 32x32x3 images and 100 classes (the report's networks)."""
    from keras_geo import models

    return {
        key: trainable_params(models.build_resnet((32, 32, 3), 100, depth=110, gate=gate))
        for key, gate in MODELS.items()
    }


def callbacks(epochs: int, learning_rate: float):
    """The epoch timer and the cosine learning-rate decay (a fresh pair for each training)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None) -> None:
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None) -> None:
            self.seconds.append(time.perf_counter() - self._started)

    def cosine(epoch: int, _lr: float) -> float:
        return float(learning_rate * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs)))

    return EpochTimer(), keras.callbacks.LearningRateScheduler(cosine)


def run_one(data, *, gate: bool, depth: int, epochs: int, learning_rate: float, seed: int) -> dict:
    from keras_geo import training

    timer, schedule = callbacks(epochs, learning_rate)
    params = {
        "depth": depth,
        "gate": gate,
        "epochs": epochs,
        "batch_size": 32,
        "optimizer": "adam",
        "learning_rate": learning_rate,
        "early_stopping": False,
    }
    started = time.perf_counter()
    result = training.train("resnet", data, params, task="classification", seed=seed, callbacks=[timer, schedule])
    later = timer.seconds[1:]
    return {
        "seed": seed,
        "gate": gate,
        "test_accuracy": float(result.metrics["test_accuracy"]),
        "train_accuracy": float(result.metrics.get("train_accuracy", float("nan"))),
        "trainable_params": trainable_params(result.model),
        "params": int(result.metrics["n_params"]),
        "epoch_s": [float(s) for s in timer.seconds],
        "first_epoch_s": float(timer.seconds[0]),
        "s_per_epoch": float(np.median(later)) if later else float("nan"),
        "total_s": time.perf_counter() - started,
    }


def summarise(runs: list[dict]) -> dict:
    """Per model: accuracy statistics, params and times; the paired difference skip - plain over seeds."""
    out: dict = {}
    for key, gate in MODELS.items():
        rows = [r for r in runs if r["gate"] == gate]
        acc = np.array([r["test_accuracy"] for r in rows])
        out[key] = {
            "mean": float(acc.mean()),
            "std": float(acc.std(ddof=1)) if len(acc) > 1 else float("nan"),
            "min": float(acc.min()),
            "max": float(acc.max()),
            "trainable_params": rows[0]["trainable_params"],
            "s_per_epoch": float(np.median([r["s_per_epoch"] for r in rows])),
            "fastest_epoch_s": float(min(min(r["epoch_s"][1:], default=float("nan")) for r in rows)),
            "first_epoch_s": float(np.median([r["first_epoch_s"] for r in rows])),
            "train_accuracy": float(np.mean([r["train_accuracy"] for r in rows])),
        }
    by_seed = {(r["seed"], r["gate"]): r["test_accuracy"] for r in runs}
    seeds = sorted({r["seed"] for r in runs})
    diff = np.array([by_seed[(s, True)] - by_seed[(s, False)] for s in seeds])
    n = len(diff)
    std = float(diff.std(ddof=1)) if n > 1 else float("nan")
    half = t975(n - 1) * std / math.sqrt(n) if n > 1 else float("nan")
    out["paired"] = {
        "seeds": seeds,
        "diff": [float(d) for d in diff],
        "mean": float(diff.mean()),
        "std": std,
        "ci95": [float(diff.mean() - half), float(diff.mean() + half)],
        "wins": int((diff > 0).sum()),
        "ties": int((diff == 0).sum()),
        "losses": int((diff < 0).sum()),
    }
    return out


def verdict(label: str, s: dict) -> str:
    """One plain sentence per data set on whether the gate helped."""
    p = s["paired"]
    low, high = p["ci95"]
    record = f"won on {p['wins']} of {len(p['seeds'])} seeds" + (f", tied on {p['ties']}" if p["ties"] else "")
    mean = f"{p['mean']:+.3f} ± {p['std']:.3f}"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{label}: skip - plain {mean} on one seed ({record}): too few seeds to tell."
    if low > 0:
        return f"{label}: the gate helped: skip - plain {mean} (95 % interval {low:+.3f}..{high:+.3f}), {record}."
    if high < 0:
        return f"{label}: the gate hurt: skip - plain {mean} (95 % interval {low:+.3f}..{high:+.3f}), {record}."
    return (
        f"{label}: no measurable help from the gate: skip - plain {mean} (95 % interval {low:+.3f}..{high:+.3f} "
        f"includes 0), {record}; the difference is within the seed spread."
    )


def tables(results: dict) -> str:
    """The Markdown of the results: the main table, the report's figures, the per-seed table, the verdicts."""
    settings = results["settings"]
    depth = settings["depth"]
    lines = [
        "| data set | model | test accuracy, mean ± std | min..max | trainable params "
        "| s/epoch after the first: median / fastest | first epoch s (median) | skip - plain, per seed: mean ± std [95 % CI] | gate won |",
        "|---|---|---|---|---:|---:|---:|---|---|",
    ]
    for label, entry in results["datasets"].items():
        s = entry["summary"]
        plain, skip, p = s["plain"], s["skip"], s["paired"]
        for key, gate in MODELS.items():
            m = s[key]
            params = f"{m['trainable_params']:,}"
            speed = f"{m['s_per_epoch']:.2f} / {m['fastest_epoch_s']:.2f}"
            paired = won = ""
            if gate:
                params += f" (+{skip['trainable_params'] / plain['trainable_params'] - 1:.0%})"
                ratios = (skip[k] / plain[k] for k in ("s_per_epoch", "fastest_epoch_s"))
                speed += " (x{:.2f} / x{:.2f})".format(*ratios)
                low, high = p["ci95"]
                paired = f"{p['mean']:+.3f} ± {p['std']:.3f} [{low:+.3f}, {high:+.3f}]"
                won = f"{p['wins']} of {len(p['seeds'])}" + (f" ({p['ties']} tied)" if p["ties"] else "")
            lines.append(
                f"| {label} | {model_name(gate, depth)} | {m['mean']:.3f} ± {m['std']:.3f} | "
                f"{m['min']:.3f}..{m['max']:.3f} | {params} | {speed} | {m['first_epoch_s']:.1f} | {paired} | {won} |"
            )
    ours = results.get("reference_params_ours", {})
    report = results["report"]
    for bench in ("CIFAR-100", "CIFAR-10"):
        for key, gate in MODELS.items():
            params = f"{report['params'][key] / 1e6:.3f}M"
            if ours:
                params += f" (ours {ours[key]:,})"
            paired = f"{report[bench]['skip'] - report[bench]['plain']:+.4f}" if gate else ""
            name = "Skip-ResNet-110" if gate else "ResNet-110"
            lines.append(f"| {bench} (report 003) | {name} | {report[bench][key]:.4f} | | {params} | | | {paired} | |")
    lines += ["", "Per seed (test accuracy):", ""]
    labels = list(results["datasets"])
    lines.append("| seed | " + " | ".join(f"{lab}: ResNet / Skip / diff" for lab in labels) + " |")
    lines.append("|---" * (len(labels) + 1) + "|")
    seeds = results["datasets"][labels[0]]["summary"]["paired"]["seeds"]
    for seed in seeds:
        cells = []
        for lab in labels:
            acc = {r["gate"]: r["test_accuracy"] for r in results["datasets"][lab]["runs"] if r["seed"] == seed}
            cells.append(f"{acc[False]:.3f} / {acc[True]:.3f} / {acc[True] - acc[False]:+.3f}")
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    lines += [""] + [f"- {verdict(lab, entry['summary'])}" for lab, entry in results["datasets"].items()]
    return "\n".join(lines)


def report_markdown(results: dict) -> str:
    s = results["settings"]
    machine = results["machine"]
    load = results.get("load_average", {})
    sizes = "; ".join(f"{label}: {entry['sizes']}" for label, entry in results["datasets"].items())
    head = [
        f"# SkipResNet against ResNet on small data (report 003){' (quick)' if s['quick'] else ''}",
        "",
        f"- command: `{results['command']}`",
        f"- machine: {describe_machine(machine)}",
        f"- load average (1 min) at start and end: {load.get('start', 'n/a')} / {load.get('end', 'n/a')}",
        f"- total time: {results['total_s'] / 60:.1f} min",
        f"- depth {s['depth']}, {s['seeds']} seeds, {s['epochs']} epochs of batches of 32, Adam {s['learning_rate']:g} "
        "with cosine decay, no early stopping, no augmentation, the last epoch's model scored",
        f"- images (32 x 32, data seed 0): {sizes}",
        "",
    ]
    return "\n".join(head) + "\n" + tables(results) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="depth 14, 2 seeds, 2 epochs, 60 training and 60 test images per set"
    )
    parser.add_argument("--depth", type=int, help="a CIFAR-style depth 6n+2 (default 20; 14 with --quick)")
    parser.add_argument("--seeds", type=int, default=5, help="training seeds 0..N-1 (default 5)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs (default 30)")
    parser.add_argument("--train", type=int, default=300, help="training images per data set (default 300)")
    parser.add_argument("--test", type=int, default=600, help="test images per data set (default 600)")
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="Adam's initial learning rate (default 2e-3)")
    parser.add_argument("--out", help="results file (default benchmarks/results/skipresnet[_quick].json)")
    parser.add_argument(
        "--replot", metavar="JSON", help="only recompute the summaries and tables of a results file (.json and .md)"
    )
    args = parser.parse_args()
    if args.replot:
        path = Path(args.replot)
        results = json.loads(path.read_text())
        for entry in results["datasets"].values():  # the summaries again from the runs, as this version makes them
            entry["summary"] = summarise(entry["runs"])
        path.write_text(json.dumps(results, indent=1))
        path.with_suffix(".md").write_text(report_markdown(results))
        print(tables(results))
        return
    if args.quick:
        args.seeds, args.epochs, args.train, args.test = 2, 2, 60, 60
        args.depth = args.depth or 14  # 2 blocks a stage: the second one's gate mixes two earlier tensors
    args.depth = args.depth or 20
    args.out = args.out or str(RESULTS / f"skipresnet{'_quick' if args.quick else ''}.json")
    command = "python benchmarks/bench_skipresnet.py " + " ".join(sys.argv[1:])
    started = time.perf_counter()
    load_start = round(os.getloadavg()[0], 2)

    from keras_geo import datasets

    print(describe_machine(), flush=True)
    ours = reference_params()
    print(f"our ResNet-110 / SkipResNet-110 (32x32x3, 100 classes): {ours['plain']:,} / {ours['skip']:,} trainable")
    results: dict = {"datasets": {}}
    for label, (name, classes, settings) in DATASETS.items():
        data = datasets.load(
            name, n_train=args.train // classes, n_val=1, n_test=args.test // classes, seed=0, **settings
        )
        splits = {"train": data["train"], "test": data["test"]}  # no validation split: fixed epochs
        sizes = {k: len(x) for k, (x, _) in splits.items()}
        print(f"{label}: {sizes} images of {data['train'][0].shape[1:]}, classes {data.class_names}", flush=True)
        runs = []
        for seed in range(args.seeds):
            order = list(MODELS.values()) if seed % 2 == 0 else list(MODELS.values())[::-1]
            for gate in order:
                run = run_one(
                    splits, gate=gate, depth=args.depth, epochs=args.epochs, learning_rate=args.learning_rate, seed=seed
                )
                runs.append(run)
                print(
                    f"  seed {seed} {model_name(gate, args.depth)}: test accuracy {run['test_accuracy']:.3f} "
                    f"(train {run['train_accuracy']:.3f}), {run['s_per_epoch']:.2f} s/epoch, "
                    f"first epoch {run['first_epoch_s']:.1f} s, {run['total_s']:.0f} s in all",
                    flush=True,
                )
        results["datasets"][label] = {
            "name": name,
            "settings": settings,
            "sizes": sizes,
            "class_names": list(data.class_names or ()),
            "runs": runs,
            "summary": summarise(runs),
        }
    results.update(
        settings=vars(args),
        command=command.strip(),
        report=REPORT,
        reference_params_ours=ours,
        total_s=time.perf_counter() - started,
        load_average={"start": load_start, "end": round(os.getloadavg()[0], 2)},
    )
    path = save_results(Path(args.out).stem, results, results_dir=Path(args.out).parent)
    saved = json.loads(path.read_text())
    path.with_suffix(".md").write_text(report_markdown(saved))
    print(tables(saved))
    print(f"results: {path}, {path.with_suffix('.md')} ({saved['total_s'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
