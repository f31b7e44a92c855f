"""Report 001's RSA on keras-geo: the speed of activations, RDMs and comparisons beside rsatoolbox, and the
direction of the layer profile over training seeds.

Part 1, speed (issue 19's check: activations and RDMs of 64 stimuli x all layers of a random MobileNetV2 in
seconds on 2 cores, the RDM and comparison steps beside rsatoolbox's).

* Model: ``keras_geo.models.build_mobilenet_v2_classifier`` with random weights (nothing is downloaded), grey
  ``--size`` x ``--size`` input (96 by default) repeated to three channels inside the model, 8 classes.
* Stimuli: the 64 generated textures, 8 categories x 8 (``texture_stimuli(8, size, seed=1000)``).
* Two sets of layers: every convolution, pooling and dense layer (``explain.default_layers``) and every layer's
  output (batch normalisations, ReLUs, additions too) but the softmax: at random weights its 8 outputs are all
  1/8 to float precision, a constant pattern without a correlation distance.
* Timed, each the median of the first and ``--repeats`` more runs (all in one process, one tool right after the
  other; one result held at a time): ``explain.layer_activations`` of the whole set in one call (every call
  builds and traces its feature model; the first call's time is kept too); ``explain.layer_rdms(...,
  "correlation")`` against ``rsatoolbox.rdm.calc_rdm(Dataset(a), method="correlation")`` layer by layer, both
  given the float32 activations; each layer's RDM against the IT-like reference (the category model; ties) by
  Spearman, Kendall's tau-a, Pearson and cosine: ``explain.compare`` against ``rsatoolbox.rdm.compare``
  (``"spearman"``, ``"tau-a"``, ``"corr"``, ``"cosine"``) layer by layer, and rsatoolbox with all the layers'
  RDMs in one call (its batched use), both tools comparing the same RDMs (ours).
* Checked beside the times: the largest absolute difference between the two tools' RDMs (rsatoolbox computes in
  the activations' float32, ours in float64, so it is given again from float64 activations) and between their
  similarities; and the process's peak resident memory.

Part 2, the report's direction over seeds. Report 001 compares AlexNet's layers with macaque recordings (64
natural textures, 8 categories x 8): the early convolutions correlate 0.5-0.6 with V1, falling to about 0.4 from
conv3; V4 rises from about 0.25 (conv1) to about 0.5 (conv3), and the mid and high layers match V4 best. We have
no recordings: the references are models (``keras_geo.explain.references``), and the network is small and
trained from scratch.

* Network: ``filler_cnn`` (4 blocks, 8 filters, a dense layer of 32 units) trained by ``keras_geo.training.train``
  on the ``textures`` data set (40 / 10 / 10 images per class, 64 x 64, data seed 0), at most ``--epochs``
  epochs with the default early stopping, one training per seed 0..N-1.
* Stimuli: 64 textures drawn apart from the training set (``texture_stimuli(8, 64, seed=1000)``).
* Layers: every layer whose name holds act, pool, head, dense or logits (11).
* References: "V1-like", the Gabor-energy model (``v1_reference``: 8 orientations at 1/16, 1/8 and 1/4 cycles per
  pixel, energies pooled over 16 x 16 pixels); "V1-like, 1/4 c/px", the same at the finest frequency only (the
  scale a 3 x 3 first layer sees); "IT-like", the category model (``it_reference``).
* ``explain.layer_profile``: correlation-distance RDMs, Spearman, ``--bootstrap`` stimulus bootstrap samples and
  ``--permutations`` permutations (seeded by the training seed).

Written: the mean ± standard deviation over seeds of each layer's similarity, the best layer of each seed,
the similarity at block 1 and at the top beside the report's figures, the profile plot of seed 0.

    python benchmarks/bench_rsa.py           # 96 px, 5 repeats, 5 seeds (about 3 minutes on 2 cores)
    python benchmarks/bench_rsa.py --quick   # 64 px, 2 repeats, 2 seeds, 200 bootstrap samples and permutations (under a minute)
    python benchmarks/bench_rsa.py --replot benchmarks/results/rsa.json

Results: ``benchmarks/results/rsa.json``, ``rsa.csv`` (every seed's profile) and ``rsa_profile.png``
(``--quick``: ``rsa_quick.*``, ``rsa_profile_quick.png``) and the section in BENCHMARKS.md.
"""

from __future__ import annotations

import csv
import functools
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import RESULTS, bench_parser, describe_machine, load_results, save_results  # noqa: E402

# The stimuli of both parts: a draw of the textures that no training split holds (they use data seeds 0, 1, 2).
STIMULUS_SEED = 1000
N_PER_CLASS = 8
# Our comparison names and rsatoolbox's.
COMPARISONS = {"spearman": "spearman", "tau_a": "tau-a", "pearson": "corr", "cosine": "cosine"}
# Part 2: the network, its data and the layers profiled.
PARAMS = {"filters": 8, "units": 32}
DATA = {"n_train": 40, "n_val": 10, "n_test": 10, "image_size": 64, "seed": 0}
PROFILED = ("act", "pool", "head", "dense", "logits")
# Where the report's direction is read: the first block's layers and the top.
BLOCK1 = ("block1_act1", "block1_pool")
TOP = "logits"
REFERENCES = ("V1-like", "V1-like, 1/4 c/px", "IT-like")
REPORT = {
    "V1-like": "V1: conv1-conv2 0.5-0.6, about 0.4 from conv3",
    "V1-like, 1/4 c/px": "V1: conv1-conv2 0.5-0.6, about 0.4 from conv3",
    "IT-like": "V4: about 0.25 at conv1, about 0.5 at conv3; mid/high layers best",
}


def timed(fn: Callable[[], Any], repeats: int) -> tuple[Any, float, float]:
    """``(result of the last call, seconds of the first call, median seconds of the first and ``repeats`` more)``.

    One result is held at a time: the previous one is dropped before each call.
    """
    times = []
    for _ in range(repeats + 1):
        result = None
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return result, times[0], statistics.median(times)


def rsatoolbox_rdms(activations: dict[str, np.ndarray], dtype: Any = None) -> dict[str, Any]:
    """rsatoolbox's correlation-distance RDM of each layer (in the activations' own dtype unless ``dtype``)."""
    import rsatoolbox

    return {
        name: rsatoolbox.rdm.calc_rdm(
            rsatoolbox.data.Dataset(values.astype(dtype or values.dtype)), method="correlation"
        )
        for name, values in activations.items()
    }


def compare_each(rdms: list[Any], reference: Any, method: str) -> list[float]:
    """Ours: each RDM against the reference, one call per layer."""
    from keras_geo import explain

    return [explain.compare(r, reference, method) for r in rdms]


def rsatoolbox_compare_each(rdms: list[Any], reference: Any, method: str) -> list[float]:
    """rsatoolbox's: each RDMs object against the reference, one call per layer."""
    import rsatoolbox

    return [float(rsatoolbox.rdm.compare(r, reference, method)[0, 0]) for r in rdms]


def rsatoolbox_compare_all(rdms: Any, reference: Any, method: str) -> np.ndarray:
    """rsatoolbox's batched use: all layers' RDMs (one RDMs object) against the reference in one call."""
    import rsatoolbox

    return rsatoolbox.rdm.compare(rdms, reference, method)[:, 0]


def every_layer(model: Any) -> list[str]:
    """Every layer of ``model`` in order, nested models opened, input layers left out."""
    import keras

    names = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            names += every_layer(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            names.append(layer.name)
    return names


def _difference(a: Any, b: Any) -> float:
    return float(np.abs(np.subtract(a, b)).max())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def speed(size: int, repeats: int) -> dict:
    """Part 1: activations, RDMs and comparisons of a random MobileNetV2, ours beside rsatoolbox's."""
    import keras
    import rsatoolbox
    from tqdm import tqdm

    from keras_geo import explain
    from keras_geo.datasets.textures import texture_stimuli
    from keras_geo.models import build_mobilenet_v2_classifier

    keras.utils.set_random_seed(0)
    model = build_mobilenet_v2_classifier((size, size, 1), 8, weights=None)
    x, labels, _ = texture_stimuli(N_PER_CLASS, size, seed=STIMULUS_SEED)
    reference = explain.it_reference(labels)
    their_reference = rsatoolbox.rdm.RDMs(reference.vector()[None])
    sets = {
        "conv, pooling, dense (default_layers)": explain.default_layers(model),
        "every layer but the softmax": every_layer(model)[:-1],
    }
    rows = []
    load_before = os.getloadavg()[0]
    for label, names in sets.items():
        bar = tqdm(total=2 + len(COMPARISONS), desc=f"speed: {label}", unit="step")
        activations, first_s, activations_s = timed(
            functools.partial(explain.layer_activations, model, x, names), repeats
        )
        bar.update()
        ours, _, ours_s = timed(functools.partial(explain.layer_rdms, activations, "correlation"), repeats)
        theirs, _, theirs_s = timed(functools.partial(rsatoolbox_rdms, activations), repeats)
        bar.update()
        # rsatoolbox computes in the activations' float32; ours in float64: the same data in float64 tells them apart.
        theirs_64 = rsatoolbox_rdms(activations, np.float64)
        row = {
            "layers": label,
            "n_layers": len(names),
            "n_stimuli": len(x),
            "size": size,
            "features": int(sum(a.shape[1] for a in activations.values())),
            "activations_mb": sum(a.nbytes for a in activations.values()) / 2**20,
            "activations_first_s": first_s,
            "activations_s": activations_s,
            "rdms_ours_s": ours_s,
            "rdms_rsatoolbox_s": theirs_s,
            "rdms_max_abs_difference": max(_difference(ours[n].vector(), theirs[n].get_vectors()[0]) for n in names),
            "rdms_max_abs_difference_float64": max(
                _difference(ours[n].vector(), theirs_64[n].get_vectors()[0]) for n in names
            ),
            "compare": {},
        }
        del activations, theirs_64
        # Both tools compare the same RDMs (ours, as rsatoolbox RDMs objects), so the difference is the comparisons'.
        ours_list = list(ours.values())
        theirs_list = [rsatoolbox.rdm.RDMs(r.vector()[None]) for r in ours_list]
        stacked = rsatoolbox.rdm.concat(theirs_list)
        for method, their_method in COMPARISONS.items():
            ours_values, _, ours_s = timed(functools.partial(compare_each, ours_list, reference, method), repeats)
            theirs_values, _, theirs_s = timed(
                functools.partial(rsatoolbox_compare_each, theirs_list, their_reference, their_method), repeats
            )
            batched, _, batched_s = timed(
                functools.partial(rsatoolbox_compare_all, stacked, their_reference, their_method), repeats
            )
            row["compare"][method] = {
                "rsatoolbox_method": their_method,
                "ours_s": ours_s,
                "rsatoolbox_s": theirs_s,
                "rsatoolbox_one_call_s": batched_s,
                "max_abs_difference": max(_difference(ours_values, theirs_values), _difference(ours_values, batched)),
            }
            bar.update()
        bar.close()
        row["peak_rss_mb"] = peak_rss_mb()
        rows.append(row)
        print(
            f"{label}: {len(names)} layers, activations {row['activations_s']:.2f} s "
            f"(first call {first_s:.2f} s, {row['activations_mb']:.0f} MB), RDMs ours {row['rdms_ours_s']:.2f} s, "
            f"rsatoolbox {row['rdms_rsatoolbox_s']:.2f} s, max |difference| {row['rdms_max_abs_difference']:.1e} "
            f"({row['rdms_max_abs_difference_float64']:.1e} from float64 activations)",
            flush=True,
        )
    return {
        "model": f"MobileNetV2 (random weights), {size} x {size} x 1",
        "reference": "IT-like",
        "load_average": [load_before, os.getloadavg()[0]],
        "rows": rows,
    }


def direction(seeds: int, epochs: int, n_bootstrap: int, n_permutations: int, plot: Path, table: Path) -> dict:
    """Part 2: the layer profile of ``seeds`` trainings of the filler CNN against the V1-like and IT-like references."""
    from tqdm import tqdm

    from keras_geo import datasets, explain, training
    from keras_geo.datasets.textures import texture_stimuli

    data = datasets.load("textures", **DATA)
    x, labels, _ = texture_stimuli(N_PER_CLASS, DATA["image_size"], seed=STIMULUS_SEED)
    references = dict(
        zip(
            REFERENCES,
            (explain.v1_reference(x), explain.v1_reference(x, frequencies=(1 / 4,)), explain.it_reference(labels)),
        )
    )
    # The most an RDM can reach against the category RDM (Spearman; its 0/1 entries are tied): that of an RDM
    # whose every within-category pair is below every between-category pair.
    it = references["IT-like"].vector()
    separating = it + np.arange(it.size) / it.size
    runs = []
    with table.open("w", newline="") as handle:
        writer = None
        for seed in tqdm(range(seeds), desc="seeds", unit="seed"):
            result = training.train("filler_cnn", data, {**PARAMS, "epochs": epochs}, seed=seed)
            model = result.model
            layers = [layer.name for layer in model.layers if any(key in layer.name for key in PROFILED)]
            profile = explain.layer_profile(
                model,
                x,
                references,
                layers=layers,
                n_bootstrap=n_bootstrap,
                n_permutations=n_permutations,
                seed=seed,
            )
            if seed == 0:
                explain.plot_profile(
                    profile,
                    plot,
                    title=f"filler CNN (seed 0) on {len(x)} textures: Spearman, 95 % bootstrap CI, hollow: p >= 0.05",
                )
            for row in profile.to_rows():
                row = {"seed": seed, **row}
                if writer is None:
                    writer = csv.DictWriter(handle, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow({key: "" if value is None else value for key, value in row.items()})
            prefix = f"{model.name}_"
            runs.append(
                {
                    "seed": seed,
                    "test_accuracy": result.metrics["test_accuracy"],
                    "epochs": result.metrics["epochs"],
                    "best_epoch": result.metrics["best_epoch"],
                    "train_s": result.metrics["train_time_s"],
                    "layers": [name.removeprefix(prefix) for name in profile.layers],
                    "similarity": {ref: profile.similarity[:, j].tolist() for j, ref in enumerate(REFERENCES)},
                    "ci_low": {ref: profile.low[:, j].tolist() for j, ref in enumerate(REFERENCES)},
                    "ci_high": {ref: profile.high[:, j].tolist() for j, ref in enumerate(REFERENCES)},
                    "p_value": {ref: profile.p_value[:, j].tolist() for j, ref in enumerate(REFERENCES)},
                    "best_layer": {ref: profile.best_layer(ref).removeprefix(prefix) for ref in REFERENCES},
                }
            )
            best = ", ".join(f"{ref} {runs[-1]['best_layer'][ref]}" for ref in REFERENCES)
            tqdm.write(f"seed {seed}: test accuracy {result.metrics['test_accuracy']:.3f}; best layers: {best}")
    return {
        "network": f"filler_cnn {PARAMS}, at most {epochs} epochs (early stopping)",
        "data": DATA,
        "stimuli": f"texture_stimuli({N_PER_CLASS}, {DATA['image_size']}, seed={STIMULUS_SEED})",
        "n_bootstrap": n_bootstrap,
        "n_permutations": n_permutations,
        "it_like_ceiling": explain.compare(separating, it, "spearman"),
        "between_references": {
            f"{a} / {b}": explain.compare(references[a], references[b], "spearman")
            for k, a in enumerate(REFERENCES)
            for b in REFERENCES[k + 1 :]
        },
        "runs": runs,
    }


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):+.2f} ± {sd:.2f}"


def speed_tables(part: dict) -> str:
    lines = [
        f"{part['model']}, {part['rows'][0]['n_stimuli']} stimuli; median seconds:",
        "",
        "| layers | activations (first call) | activations (MB) | RDMs, ours | RDMs, rsatoolbox | rsatoolbox / ours | max abs difference (float64 input) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in part["rows"]:
        lines.append(
            f"| {r['layers']}: {r['n_layers']} | {r['activations_s']:.2f} ({r['activations_first_s']:.2f}) | "
            f"{r['activations_mb']:.0f} | {r['rdms_ours_s']:.3f} | {r['rdms_rsatoolbox_s']:.3f} | "
            f"{r['rdms_rsatoolbox_s'] / r['rdms_ours_s']:.1f}x | {r['rdms_max_abs_difference']:.1e} "
            f"({r['rdms_max_abs_difference_float64']:.1e}) |"
        )
    lines += [
        "",
        f"Comparisons of each layer's RDM with the {part['reference']} reference; median milliseconds for all layers:",
        "",
        "| layers | comparison (rsatoolbox's name) | ours | rsatoolbox, layer by layer | rsatoolbox / ours "
        "| rsatoolbox, one call | rsatoolbox one call / ours | max abs difference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in part["rows"]:
        for method, c in r["compare"].items():
            lines.append(
                f"| {r['n_layers']} | {method} ({c['rsatoolbox_method']}) | {1e3 * c['ours_s']:.1f} | "
                f"{1e3 * c['rsatoolbox_s']:.1f} | {c['rsatoolbox_s'] / c['ours_s']:.1f}x | "
                f"{1e3 * c['rsatoolbox_one_call_s']:.1f} | {c['rsatoolbox_one_call_s'] / c['ours_s']:.1f}x | "
                f"{c['max_abs_difference']:.1e} |"
            )
    peak = max(r["peak_rss_mb"] for r in part["rows"])
    before, after = part["load_average"]
    lines += [
        "",
        f"Peak resident memory of the process: {peak:.0f} MB. Load average (1 min) before and after: "
        f"{before:.2f}, {after:.2f} (the benchmark itself adds up to 2).",
    ]
    return "\n".join(lines)


def direction_tables(part: dict) -> str:
    runs = part["runs"]
    layers = runs[0]["layers"]
    lines = [
        f"{part['network']}, {len(runs)} seeds; stimuli {part['stimuli']}.",
        "",
        "| seed | test accuracy | epochs (best) | " + " | ".join(f"best layer: {ref}" for ref in REFERENCES) + " |",
        "|---|---|---|" + "---|" * len(REFERENCES),
    ]
    for run in runs:
        lines.append(
            f"| {run['seed']} | {run['test_accuracy']:.2f} | {run['epochs']:.0f} ({run['best_epoch']:.0f}) | "
            + " | ".join(
                f"{run['best_layer'][ref]} ({run['similarity'][ref][layers.index(run['best_layer'][ref])]:+.2f})"
                for ref in REFERENCES
            )
            + " |"
        )

    def at(ref: str, layer: str) -> str:
        return _mean_sd([run["similarity"][ref][layers.index(layer)] for run in runs])

    def significant(ref: str, layer: str) -> str:
        return str(sum(run["p_value"][ref][layers.index(layer)] < 0.05 for run in runs))

    lines += [
        "",
        "Spearman's rho, mean ± sd over seeds, beside report 001 (AlexNet against macaque recordings):",
        "",
        "| reference | "
        + " | ".join(BLOCK1)
        + f" | {TOP} | peak layer (seeds) | seeds with p < 0.05 at {' / '.join((*BLOCK1, TOP))} | report 001 |",
        "|---|" + "---|" * (len(BLOCK1) + 4),
    ]
    for ref in REFERENCES:
        peaks: dict[str, int] = {}
        for run in runs:
            peaks[run["best_layer"][ref]] = peaks.get(run["best_layer"][ref], 0) + 1
        where = ", ".join(f"{name} ({count})" for name, count in sorted(peaks.items(), key=lambda kv: -kv[1]))
        lines.append(
            f"| {ref} | "
            + " | ".join(at(ref, layer) for layer in BLOCK1)
            + f" | {at(ref, TOP)} | {where} | {' / '.join(significant(ref, layer) for layer in (*BLOCK1, TOP))} "
            f"| {REPORT[ref]} |"
        )
    lines += [
        "",
        f"Permutation tests: {part['n_permutations']} permutations, one-sided, uncorrected. The most any RDM can "
        f"reach against the IT-like (category) reference: {part['it_like_ceiling']:.3f} (all within-category pairs "
        "below all between-category pairs; the reference's ties cap Spearman's rho). The references against each "
        "other: " + ", ".join(f"{pair} {value:+.2f}" for pair, value in part["between_references"].items()) + ".",
    ]
    lines += ["", "Every layer, mean ± sd over seeds:", "", "| layer | " + " | ".join(REFERENCES) + " |"]
    lines.append("|---|" + "---|" * len(REFERENCES))
    for layer in layers:
        lines.append(f"| {layer} | " + " | ".join(at(ref, layer) for ref in REFERENCES) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = bench_parser(
        __doc__, quick="64 px, 2 repeats, 2 seeds, 200 bootstrap samples and permutations", replot=False
    )
    parser.add_argument("--replot", metavar="JSON", help="only print the tables of a results file")
    parser.add_argument("--size", type=int, default=96, help="MobileNetV2's input side in part 1 (default 96)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats after the first call (default 5)")
    parser.add_argument("--seeds", type=int, default=5, help="training seeds 0..N-1 in part 2 (default 5)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs at most in part 2 (default 10)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap samples per interval (default 1000)")
    parser.add_argument("--permutations", type=int, default=1000, help="permutations per p-value (default 1000)")
    args = parser.parse_args()
    if args.replot:
        results = load_results(args.replot)
    else:
        if args.quick:
            args.size, args.repeats, args.seeds, args.bootstrap, args.permutations = 64, 2, 2, 200, 200
        name = "rsa_quick" if args.quick else "rsa"
        print(describe_machine(), flush=True)
        started = time.perf_counter()
        results = {
            "command": " ".join(["python benchmarks/bench_rsa.py", *sys.argv[1:]]),
            "settings": vars(args),
            "report": REPORT,
            "speed": speed(args.size, args.repeats),
        }
        results["direction"] = direction(
            args.seeds,
            args.epochs,
            args.bootstrap,
            args.permutations,
            RESULTS / f"rsa_profile{'_quick' if args.quick else ''}.png",
            RESULTS / f"{name}.csv",
        )
        results["total_s"] = time.perf_counter() - started
        path = save_results(name, results)
        results = load_results(path)
        print(f"results: {path}, {path.with_suffix('.csv')} ({results['total_s'] / 60:.1f} min)")
    print(describe_machine(results["machine"]))
    print(speed_tables(results["speed"]))
    print()
    print(direction_tables(results["direction"]))


if __name__ == "__main__":
    main()
