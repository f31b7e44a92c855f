"""The same training timed on each device: the echo count model on CPU (1 and 2 threads) and on a GPU if there is one.

Report 000 compares one job across devices (a vector engine against an A100, 1.6x to
3x). This benchmark does the same for keras-geo's own job: one training of the fish
count model (the ``echo`` data set with the counting sounder, ``filler_cnn`` with a regression head, a fixed
number of epochs, no early stopping, the same seed), each device in its own fresh
process:

* CPU, 1 intra-op and 1 inter-op thread (``CUDA_VISIBLE_DEVICES=-1``),
* CPU, 2 threads (or ``--threads``),
* the GPU, where TensorFlow sees one (the row says when none was found).

It reports the training time, the time per epoch after the first (the first traces
the graphs and warms the caches) and the images per second, with the ratio to one CPU
thread, and the test MAE of each (the devices' numerics differ, so the models do too:
the MAE shows they learned alike).

    python benchmarks/bench_devices.py [--quick] [--threads 1 2 4] [--epochs 4]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_parser, describe_machine, load_results, save_results  # noqa: E402

PARAMS = {"filters": 16, "conv_layers": 4, "batch_size": 32, "learning_rate": 1e-3, "early_stopping": False}


def child(device: str, threads: int, epochs: int, n_train: int, out: Path) -> None:
    """Runs in the fresh process: one training on ``device`` (``cpu`` or ``gpu``), its timings to ``out``."""
    import tensorflow as tf

    if device == "cpu":
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        out.write_text(json.dumps({"device": "gpu", "available": False}))
        return
    import keras

    from keras_geo import datasets, training
    from keras_geo.echo import COUNTING_SETTINGS

    data = datasets.load("echo", n_train=n_train, n_val=max(64, n_train // 8), n_test=256, seed=0, **COUNTING_SETTINGS)
    stamps: list[float] = []

    class Stamp(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            stamps.append(time.perf_counter())

    started = time.perf_counter()
    result = training.train("filler_cnn", data, {**PARAMS, "epochs": epochs}, seed=0, callbacks=[Stamp()])
    total = time.perf_counter() - started
    later = [b - a for a, b in zip(stamps, stamps[1:])]
    name = (
        "GPU " + tf.config.experimental.get_device_details(gpus[0]).get("device_name", "") if device == "gpu" else "CPU"
    )
    out.write_text(
        json.dumps(
            {
                "device": device,
                "available": True,
                "label": name.strip() if device == "gpu" else f"CPU, {threads} thread{'s' * (threads > 1)}",
                "threads": threads if device == "cpu" else None,
                "train_s": result.metrics["train_time_s"],
                "total_s": total,
                "epoch_s": sum(later) / len(later) if later else result.metrics["train_time_s"],
                "images_per_s": n_train / (sum(later) / len(later)) if later else float("nan"),
                "test_mae": result.metrics["test_mae"],
                "epochs": epochs,
                "n_train": n_train,
            }
        )
    )


def run(device: str, threads: int, epochs: int, n_train: int, folder: Path) -> dict:
    """One device's training in a fresh interpreter (CPU rows hide the GPUs)."""
    out = folder / f"{device}_{threads}.json"
    env = dict(os.environ)
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = "-1"
    command = [sys.executable, __file__, "--child", device, str(threads), str(epochs), str(n_train), str(out)]
    subprocess.run(command, check=True, env=env, capture_output=True, text=True)
    return json.loads(out.read_text())


def table(rows: list[dict]) -> str:
    """The Markdown table, ratios to the first CPU row."""
    base = next(r for r in rows if r["available"])
    lines = [
        "| device | training (s) | per epoch after the first (s) | images/s | speed vs CPU 1 thread | test MAE (fish) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not r["available"]:
            lines.append("| GPU | no GPU on this machine | | | | |")
            continue
        lines.append(
            f"| {r['label']} | {r['train_s']:.1f} | {r['epoch_s']:.2f} | {r['images_per_s']:.0f} | "
            f"{base['epoch_s'] / r['epoch_s']:.2f}x | {r['test_mae']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        device, threads, epochs, n_train, out = sys.argv[2:7]
        child(device, int(threads), int(epochs), int(n_train), Path(out))
        return
    parser = bench_parser(__doc__, quick="2 epochs on 256 echograms")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="CPU thread counts (default 1 2)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of the training (default 4)")
    parser.add_argument("--n-train", type=int, default=1024, help="training echograms (default 1024)")
    args = parser.parse_args()
    if args.replot:
        rows = load_results(args.replot)["rows"]
    else:
        epochs, n_train = (2, 256) if args.quick else (args.epochs, args.n_train)
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for threads in args.threads:
                rows.append(run("cpu", threads, epochs, n_train, Path(tmp)))
                print(rows[-1]["label"], f"{rows[-1]['train_s']:.1f} s", flush=True)
            rows.append(run("gpu", 0, epochs, n_train, Path(tmp)))
            print(rows[-1].get("label", "no GPU"), flush=True)
        save_results("devices_quick" if args.quick else "devices", {"rows": rows})
    print(describe_machine())
    print(table(rows))


if __name__ == "__main__":
    main()
