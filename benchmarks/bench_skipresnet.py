"""Report 003 on small data: SkipResNet against ResNet of the same depth and against a ResNet of the same size.

Report 003 (Takeda's SkipResNet) replaces each residual block's addition with a Gate
Module that mixes the block's output with earlier blocks' outputs, weighted per input
image by an attention gate, and says the gate helps most on small data sets. Its
figures are CIFAR ones (ResNet-110 against Skip-ResNet-110, 50,000 training images).
Here the claim is measured where this project lives: small generated image sets that
train on 2 CPU cores in minutes.

* Data (one draw each, data seed 0, the same for every training seed and every model):
  filler slices at a 250 nm field of view (``keras_geo.datasets.filler``, 3 classes,
  the hardest field of view of the study) and the generated shapes
  (``keras_geo.datasets.shapes``, 5 classes), 32 x 32 pixels, ``--train`` training
  and ``--test`` test images per set, shared equally among the classes. No augmentation.
* Models (``--models``, all three by default): ``plain``, ``build_resnet(depth=D, gate=False)``
  (ResNet-D, CIFAR-style: 3 stages of widths 16/32/64); ``skip``, the same with ``gate=True``
  (SkipResNet-D, gate reduction 2 as the reference's CIFAR networks); ``wide``, the size
  control: ResNet-D without gates, its widths scaled by about sqrt(SkipResNet-D's
  parameters / ResNet-D's) (``build_residual_network(block="basic", stem="cifar",
  gate=False)``; of the scaled widths' neighbours, the ones whose trainable parameter count
  comes closest to SkipResNet-D's on each data set, or ``--wide-widths``; 17/35/69 at
  depth 20, +0.4 %). Softmax output.
* Training (:func:`keras_geo.training.train`): ``--epochs`` epochs of batches of 32,
  Adam at ``--learning-rate`` with a cosine decay to zero over the epochs (one step
  per epoch), no early stopping, no validation split: the model after the last
  epoch is scored on the test images.
* Seeds: each seed trains every model named, one right after the other, the order turned
  by one model a seed (plain, wide, skip on seed 0; wide, skip, plain on seed 1; ...; with
  two models the one first on even seeds is second on odd ones), so that a change in the
  machine's load hits all alike. A seed seeds every training alike
  (``keras.utils.set_random_seed`` before building); the models' different weights draw
  from the same generators, so they need not see the batches in the same order.
* Merging: with only some models (``--models wide``) and an existing results file of the
  same settings, the new runs replace those models' runs in it and the others' are kept
  (the summaries and tables rebuilt), so one model can be added without training the others.

Measured: test accuracy (mean, sample standard deviation, min..max over seeds), the
per-seed paired differences SkipResNet - ResNet and SkipResNet - ResNet wide (mean,
standard deviation, a 95 % t-interval, and on how many seeds the gate won), trainable
parameters, and seconds per epoch after the first: the median over every later epoch of
every seed, and the fastest such epoch (the figure least touched by other processes on a
shared machine); the first epoch, which includes tracing the training graph, is reported
apart (median over seeds). Times are side by side only among models trained in one run.

    python benchmarks/bench_skipresnet.py                  # depth 20, 5 seeds, 30 epochs, 3 models (about 35 minutes on 2 shared cores)
    python benchmarks/bench_skipresnet.py --models wide    # only the wide control, merged into skipresnet.json
    python benchmarks/bench_skipresnet.py --quick          # depth 14, 2 seeds, 2 epochs, tiny sets (skipresnet_quick.*)
    python benchmarks/bench_skipresnet.py --depth 32 --seeds 8 --epochs 40
    python benchmarks/bench_skipresnet.py --replot benchmarks/results/skipresnet.json

Results: ``benchmarks/results/skipresnet.json`` and ``skipresnet.md`` (``--quick``:
``skipresnet_quick.*``) and the section in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import RESULTS, describe_machine, machine, save_results  # noqa: E402

# label -> (registry name, classes, settings); sizes are per class, from --train and --test.
DATASETS = {
    "filler 250 nm": ("filler", 3, {"fov_nm": 250.0, "image_size": 32}),
    "shapes": ("shapes", 5, {"image_size": 32}),
}
# The models in the order of the tables; a run's "model" is one of these keys.
MODELS = ("plain", "wide", "skip")
# The paired differences over seeds: name -> (minuend, subtrahend).
PAIRS = {"paired": ("skip", "plain"), "paired_wide": ("skip", "wide"), "wide_minus_plain": ("wide", "plain")}
CONTROL_PAIR = {"plain": "paired", "wide": "paired_wide"}  # the gate against each control
# Report 003's figures: ResNet-110 and Skip-ResNet-110 on CIFAR (top-1 test accuracy, trainable parameters).
REPORT = {
    "CIFAR-100": {"plain": 0.7798, "skip": 0.7988},
    "CIFAR-10": {"plain": 0.9623, "skip": 0.9660},
    "params": {"plain": 1.737e6, "skip": 2.189e6},
}
# The settings a merge must share with the results file it merges into.
SHARED = ("quick", "depth", "seeds", "epochs", "train", "test", "learning_rate")
# t quantiles (0.975) for the paired interval by degrees of freedom, where scipy is missing.
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def t975(dof: int) -> float:
    """The 0.975 quantile of Student's t with ``dof`` degrees of freedom."""
    try:
        from scipy import stats

        return float(stats.t.ppf(0.975, dof))
    except ImportError:
        return _T975.get(dof, 2.21 if dof < 20 else 2.1)  # rounded up beyond the table: a wider interval


def model_name(key: str, depth: int) -> str:
    names = {"plain": f"ResNet-{depth}", "skip": f"SkipResNet-{depth}", "wide": f"ResNet-{depth} wide (params matched)"}
    return names[key]


def run_model(run: dict) -> str:
    """A run's model key (results written before the wide control hold only ``gate``)."""
    return run.get("model") or ("skip" if run["gate"] else "plain")


def trainable_params(model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def reference_params() -> dict[str, int]:
    """Our builders' ResNet-110 and SkipResNet-110 for 32x32x3 images and 100 classes (the report's networks)."""
    from keras_geo import models

    return {
        key: trainable_params(models.build_resnet((32, 32, 3), 100, depth=110, gate=key == "skip"))
        for key in ("plain", "skip")
    }


def wide_builder(depth: int):
    """The builder of the wide control: a plain CIFAR-style ResNet-``depth`` of the widths it is given."""
    from keras_geo import models

    n = (depth - 2) // 6
    return functools.partial(
        models.build_residual_network,
        block="basic",
        depths=(n, n, n),
        stem="cifar",
        gate=False,
        name=f"resnet{depth}_wide",
    )


def matched_widths(input_shape, n_classes: int, depth: int) -> dict:
    """The wide control's stage widths: of 16/32/64 scaled by sqrt(skip / plain parameters) and their
    neighbours (the last two stages +-1), those whose trainable parameters come closest to SkipResNet's."""
    from keras_geo import models

    plain = trainable_params(models.build_resnet(input_shape, n_classes, depth=depth, gate=False))
    target = trainable_params(models.build_resnet(input_shape, n_classes, depth=depth, gate=True))
    scale = math.sqrt(target / plain)
    build = wide_builder(depth)
    best: dict = {}
    for w2 in (round(32 * scale) + d for d in (-1, 0, 1)):
        for w3 in (round(64 * scale) + d for d in (-1, 0, 1)):
            widths = (round(16 * scale), w2, w3)
            count = trainable_params(build(input_shape, n_classes, widths=widths, stem_width=widths[0]))
            if not best or abs(count - target) < abs(best["params"] - target):
                best = {"widths": list(widths), "params": count}
    return {**best, "skip_params": target, "plain_params": plain, "scale": scale}


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


def run_one(
    data, *, model: str, depth: int, widths: list[int] | None, epochs: int, learning_rate: float, seed: int
) -> dict:
    from keras_geo import training

    timer, schedule = callbacks(epochs, learning_rate)
    if model == "wide":
        builder, arch = wide_builder(depth), {"widths": tuple(widths), "stem_width": widths[0]}
    else:
        builder, arch = "resnet", {"depth": depth, "gate": model == "skip"}
    params = {
        **arch,
        "epochs": epochs,
        "batch_size": 32,
        "optimizer": "adam",
        "learning_rate": learning_rate,
        "early_stopping": False,
    }
    started = time.perf_counter()
    result = training.train(builder, data, params, task="classification", seed=seed, callbacks=[timer, schedule])
    later = timer.seconds[1:]
    return {
        "seed": seed,
        "model": model,
        "gate": model == "skip",
        **({"widths": list(widths)} if model == "wide" else {}),
        "test_accuracy": float(result.metrics["test_accuracy"]),
        "train_accuracy": float(result.metrics.get("train_accuracy", float("nan"))),
        "trainable_params": trainable_params(result.model),
        "params": int(result.metrics["n_params"]),
        "epoch_s": [float(s) for s in timer.seconds],
        "first_epoch_s": float(timer.seconds[0]),
        "s_per_epoch": float(np.median(later)) if later else float("nan"),
        "total_s": time.perf_counter() - started,
    }


def paired(runs: list[dict], a: str, b: str) -> dict:
    """The per-seed difference a - b of test accuracy over the seeds that trained both."""
    by_seed = {(r["seed"], run_model(r)): r["test_accuracy"] for r in runs}
    seeds = sorted(s for s in {r["seed"] for r in runs} if (s, a) in by_seed and (s, b) in by_seed)
    diff = np.array([by_seed[(s, a)] - by_seed[(s, b)] for s in seeds])
    n = len(diff)
    std = float(diff.std(ddof=1)) if n > 1 else float("nan")
    half = t975(n - 1) * std / math.sqrt(n) if n > 1 else float("nan")
    return {
        "of": [a, b],
        "seeds": seeds,
        "diff": [float(d) for d in diff],
        "mean": float(diff.mean()),
        "std": std,
        "ci95": [float(diff.mean() - half), float(diff.mean() + half)],
        "wins": int((diff > 0).sum()),
        "ties": int((diff == 0).sum()),
        "losses": int((diff < 0).sum()),
    }


def summarise(runs: list[dict]) -> dict:
    """Per model: accuracy statistics, params and times; the paired differences of :data:`PAIRS` over seeds."""
    out: dict = {}
    for key in MODELS:
        rows = [r for r in runs if run_model(r) == key]
        if not rows:
            continue
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
            **({"widths": rows[0]["widths"]} if "widths" in rows[0] else {}),
        }
    for name, (a, b) in PAIRS.items():
        if a in out and b in out:
            out[name] = paired(runs, a, b)
    return out


def verdict(label: str, s: dict, depth: int) -> list[str]:
    """Plain sentences per data set on whether the gate helped, against each control trained."""
    sentences = []
    for control, name in CONTROL_PAIR.items():
        if name not in s:
            continue
        p = s[name]
        low, high = p["ci95"]
        record = f"won on {p['wins']} of {len(p['seeds'])} seeds" + (f", tied on {p['ties']}" if p["ties"] else "")
        mean = f"skip - {control} {p['mean']:+.3f} ± {p['std']:.3f}"
        head = f"{label}, against {model_name(control, depth)}"
        if not (math.isfinite(low) and math.isfinite(high)):
            sentences.append(f"{head}: {mean} on one seed ({record}): too few seeds to tell.")
        elif low > 0:
            sentences.append(f"{head}: the gate helped: {mean} (95 % interval {low:+.3f}..{high:+.3f}), {record}.")
        elif high < 0:
            sentences.append(f"{head}: the gate hurt: {mean} (95 % interval {low:+.3f}..{high:+.3f}), {record}.")
        else:
            sentences.append(
                f"{head}: no measurable help from the gate: {mean} (95 % interval {low:+.3f}..{high:+.3f} "
                f"includes 0), {record}; the difference is within the seed spread."
            )
    if "paired" in s and "paired_wide" in s and s["paired"]["mean"] > 0:
        gain, left, width = s["paired"]["mean"], s["paired_wide"]["mean"], s["wide_minus_plain"]["mean"]
        sentences.append(
            f"{label}: of the gate's {gain:+.3f} over {model_name('plain', depth)}, {left:+.3f} "
            f"({left / gain:.0%}) is left against the parameter-matched ResNet; the width alone gives "
            f"wide - plain {width:+.3f}."
        )
    return sentences


def _merged(results: dict) -> set[str]:
    """The models trained in a later run than the rest (their times are not side by side)."""
    return {key for merge in results.get("merges", []) for key in merge["models"]}


def tables(results: dict) -> str:
    """The Markdown of the results: the main table, the report's figures, the per-seed table, the verdicts."""
    depth = results["settings"]["depth"]
    apart = _merged(results)
    lines = [
        "| data set | model | test accuracy, mean ± std | min..max | trainable params "
        "| s/epoch after the first: median / fastest | first epoch s (median) "
        "| SkipResNet - this model, per seed: mean ± std [95 % CI] | gate won |",
        "|---|---|---|---|---:|---:|---:|---|---|",
    ]
    for label, entry in results["datasets"].items():
        s = entry["summary"]
        for key in MODELS:
            if key not in s:
                continue
            m = s[key]
            params = f"{m['trainable_params']:,}"
            speed = f"{m['s_per_epoch']:.2f} / {m['fastest_epoch_s']:.2f}"
            if key != "plain" and "plain" in s:
                plain = s["plain"]
                params += f" ({m['trainable_params'] / plain['trainable_params'] - 1:+.0%}"
                if key == "wide" and "skip" in s:
                    params += f"; {m['trainable_params'] / s['skip']['trainable_params'] - 1:+.1%} against skip"
                params += ")"
                ratios = (m[k] / plain[k] for k in ("s_per_epoch", "fastest_epoch_s"))
                speed += " (x{:.2f} / x{:.2f})".format(*ratios)
            if key in apart:
                speed += " †"
            diff = won = ""
            p = s.get(CONTROL_PAIR.get(key, ""))
            if p:
                low, high = p["ci95"]
                diff = f"{p['mean']:+.3f} ± {p['std']:.3f} [{low:+.3f}, {high:+.3f}]"
                won = f"{p['wins']} of {len(p['seeds'])}" + (f" ({p['ties']} tied)" if p["ties"] else "")
            name = model_name(key, depth) + (f", {'/'.join(map(str, m['widths']))}" if "widths" in m else "")
            lines.append(
                f"| {label} | {name} | {m['mean']:.3f} ± {m['std']:.3f} | "
                f"{m['min']:.3f}..{m['max']:.3f} | {params} | {speed} | {m['first_epoch_s']:.1f} | {diff} | {won} |"
            )
    ours = results.get("reference_params_ours", {})
    report = results["report"]
    for bench in ("CIFAR-100", "CIFAR-10"):
        for key, name in (("plain", "ResNet-110"), ("skip", "Skip-ResNet-110")):
            params = f"{report['params'][key] / 1e6:.3f}M"
            if ours:
                params += f" (ours {ours[key]:,})"
            diff = f"{report[bench]['skip'] - report[bench]['plain']:+.4f}" if key == "plain" else ""
            lines.append(f"| {bench} (report 003) | {name} | {report[bench][key]:.4f} | | {params} | | | {diff} | |")
    if apart:
        lines += ["", "† trained in a later run than the others, so its times are not side by side with theirs."]
    lines += ["", "Per seed (test accuracy):", ""]
    labels = list(results["datasets"])
    short = {"plain": "ResNet", "wide": "wide", "skip": "Skip"}
    columns = {}
    for lab in labels:
        s = results["datasets"][lab]["summary"]
        keys = [k for k in MODELS if k in s]
        diffs = [n for n in ("paired", "paired_wide") if n in s]
        columns[lab] = (keys, diffs)
    heads = [
        f"{lab}: " + " / ".join([short[k] for k in keys] + [" - ".join(PAIRS[n][:2]) for n in diffs])
        for lab, (keys, diffs) in columns.items()
    ]
    lines.append("| seed | " + " | ".join(heads) + " |")
    lines.append("|---" * (len(labels) + 1) + "|")
    seeds = sorted({r["seed"] for entry in results["datasets"].values() for r in entry["runs"]})
    for seed in seeds:
        cells = []
        for lab in labels:
            acc = {run_model(r): r["test_accuracy"] for r in results["datasets"][lab]["runs"] if r["seed"] == seed}
            keys, diffs = columns[lab]
            parts = [f"{acc[k]:.3f}" if k in acc else "-" for k in keys]
            for n in diffs:
                a, b = PAIRS[n]
                parts.append(f"{acc[a] - acc[b]:+.3f}" if a in acc and b in acc else "-")
            cells.append(" / ".join(parts))
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    lines += [""] + [
        f"- {sentence}"
        for lab, entry in results["datasets"].items()
        for sentence in verdict(lab, entry["summary"], depth)
    ]
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
    ]
    for merge in results.get("merges", []):
        mload = merge.get("load_average", {})
        head.append(
            f"- later run, {', '.join(model_name(k, s['depth']) for k in merge['models'])} merged in: "
            f"`{merge['command']}`, {merge['machine']['date']}, load average {mload.get('start', 'n/a')} / "
            f"{mload.get('end', 'n/a')}, {merge['total_s'] / 60:.1f} min"
        )
    head += [
        f"- depth {s['depth']}, {s['seeds']} seeds, {s['epochs']} epochs of batches of 32, Adam {s['learning_rate']:g} "
        "with cosine decay, no early stopping, no augmentation, the last epoch's model scored",
        f"- images (32 x 32, data seed 0): {sizes}",
        "",
    ]
    return "\n".join(head) + "\n" + tables(results) + "\n"


def write(path: Path, results: dict) -> None:
    path.write_text(json.dumps(results, indent=1))
    path.with_suffix(".md").write_text(report_markdown(results))


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
    parser.add_argument(
        "--models",
        default=",".join(MODELS),
        help="comma-separated, of plain, skip, wide (default all); fewer than all merge into an existing --out",
    )
    parser.add_argument(
        "--wide-widths", metavar="W1,W2,W3", help="the wide control's stage widths (default: matched to SkipResNet)"
    )
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
        write(path, results)
        print(tables(results))
        return
    selected = [key.strip() for key in args.models.split(",") if key.strip()]
    if not selected or set(selected) - set(MODELS):
        parser.error(f"--models takes some of {', '.join(MODELS)}. Received: {args.models!r}")
    selected = [key for key in MODELS if key in selected]
    wide_widths = [int(w) for w in args.wide_widths.split(",")] if args.wide_widths else None
    if wide_widths is not None and len(wide_widths) != 3:
        parser.error(f"--wide-widths takes three widths. Received: {args.wide_widths!r}")
    if args.quick:
        args.seeds, args.epochs, args.train, args.test = 2, 2, 60, 60
        args.depth = args.depth or 14  # 2 blocks a stage: the second one's gate mixes two earlier tensors
    args.depth = args.depth or 20
    args.out = args.out or str(RESULTS / f"skipresnet{'_quick' if args.quick else ''}.json")
    out = Path(args.out)
    old = None
    if len(selected) < len(MODELS) and out.exists():  # merge into the results file
        old = json.loads(out.read_text())
        differ = {k: (old["settings"].get(k), vars(args)[k]) for k in SHARED if old["settings"].get(k) != vars(args)[k]}
        if differ:
            parser.error(f"{out} holds other settings, so these runs cannot merge into it (file, here): {differ}")
        print(f"merging {', '.join(selected)} into {out}", flush=True)
    command = "python benchmarks/bench_skipresnet.py " + " ".join(sys.argv[1:])
    started = time.perf_counter()
    load_start = round(os.getloadavg()[0], 2)

    from keras_geo import datasets

    print(describe_machine(), flush=True)
    ours = None
    if old is None:
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
        if old is not None and old["datasets"][label]["sizes"] != sizes:
            raise SystemExit(f"{label}: {sizes} images here, {old['datasets'][label]['sizes']} in {out}: no merge")
        widths = wide_widths
        if "wide" in selected and widths is None:
            match = matched_widths(data["train"][0].shape[1:], classes, args.depth)
            widths = match["widths"]
            print(
                f"  wide widths {'/'.join(map(str, widths))} (scale {match['scale']:.4f}): {match['params']:,} "
                f"trainable against SkipResNet's {match['skip_params']:,} "
                f"({match['params'] / match['skip_params'] - 1:+.2%}) and ResNet's {match['plain_params']:,}",
                flush=True,
            )
        runs = []
        for seed in range(args.seeds):
            turn = seed % len(selected)
            for key in selected[turn:] + selected[:turn]:
                run = run_one(
                    splits,
                    model=key,
                    depth=args.depth,
                    widths=widths,
                    epochs=args.epochs,
                    learning_rate=args.learning_rate,
                    seed=seed,
                )
                runs.append(run)
                print(
                    f"  seed {seed} {model_name(key, args.depth)}: test accuracy {run['test_accuracy']:.3f} "
                    f"(train {run['train_accuracy']:.3f}), {run['trainable_params']:,} params, "
                    f"{run['s_per_epoch']:.2f} s/epoch, first epoch {run['first_epoch_s']:.1f} s, "
                    f"{run['total_s']:.0f} s in all",
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
    total_s = time.perf_counter() - started
    load = {"start": load_start, "end": round(os.getloadavg()[0], 2)}
    if old is not None:  # the new runs replace these models' runs; the others' are kept
        for label, entry in old["datasets"].items():
            kept = [{**r, "model": run_model(r)} for r in entry["runs"] if run_model(r) not in selected]
            entry["runs"] = kept + results["datasets"][label]["runs"]
            entry["summary"] = summarise(entry["runs"])
        trained = {run_model(r) for entry in old["datasets"].values() for r in entry["runs"]}
        old["settings"]["models"] = [k for k in MODELS if k in trained]
        old.setdefault("merges", []).append(
            {
                "models": selected,
                "command": command.strip(),
                "machine": machine(),
                "total_s": total_s,
                "load_average": load,
            }
        )
        write(out, old)
        saved = old
    else:
        results.update(
            settings={**vars(args), "models": selected},
            command=command.strip(),
            report=REPORT,
            reference_params_ours=ours,
            total_s=total_s,
            load_average=load,
        )
        path = save_results(out.stem, results, results_dir=out.parent)
        saved = json.loads(path.read_text())
        write(path, saved)
    print(tables(saved))
    print(f"results: {out}, {out.with_suffix('.md')} ({total_s / 60:.1f} min)")


if __name__ == "__main__":
    main()
