"""Batched Grad-CAM against the common per-image recipe: same maps, images per second side by side.

The common recipe (Keras' Grad-CAM example and most tutorials) builds
``keras.Model(model.inputs, [conv_layer.output, model.output])`` and opens one
``GradientTape`` per image. ``keras_geo.explain.grad_cam`` takes the whole batch in
one forward and one gradient pass. Both maps go through the same ReLU, resize and
scaling, and their largest absolute difference is reported.

    python benchmarks/bench_gradcam.py             # about 2 minutes on 2 cores
    python benchmarks/bench_gradcam.py --images 256

Results: benchmarks/results/gradcam.json (and the table in BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def per_image_recipe(model, images, layer_name):
    """The tutorial recipe: a two-output model and one tape per image; raw maps at feature resolution."""
    import keras
    import numpy as np
    import tensorflow as tf

    grad_model = keras.Model(model.input, [model.get_layer(layer_name).output, model.output])
    maps = []
    for image in images:
        with tf.GradientTape() as tape:
            features, predictions = grad_model(image[None], training=False)
            top = tf.argmax(predictions[0])
            score = predictions[:, top]
        grads = tape.gradient(score, features)
        weights = tf.reduce_mean(grads, axis=(0, 1, 2))
        maps.append((features[0] @ weights[..., None])[..., 0].numpy())
    return np.stack(maps)


def models(size):
    """(label, model with a linear output, its last conv layer, input shape)."""
    import keras

    from keras_geo.models import build_filler_cnn

    keras.utils.set_random_seed(0)
    filler = build_filler_cnn(
        input_shape=(64, 64, 1), n_classes=3, conv_layers=4, filters=16, dense_layers=0, head="avg"
    )
    filler.layers[-1].activation = keras.activations.linear  # as the recipe does: scores before softmax
    mobilenet = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), weights=None, classes=5, alpha=1.0, classifier_activation=None
    )
    return [
        ("filler CNN (64x64x1, 4 blocks)", filler, "filler_cnn_block4_act1", (64, 64, 1)),
        (f"MobileNetV2 ({size}x{size}x3)", mobilenet, "out_relu", (size, size, 3)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64, help="images per model (default 64)")
    parser.add_argument("--batch", type=int, default=32, help="batch size of the batched version (default 32)")
    parser.add_argument("--size", type=int, default=128, help="MobileNetV2 input side (default 128)")
    parser.add_argument("--out", default="benchmarks/results/gradcam.json")
    args = parser.parse_args()

    import numpy as np

    from keras_geo import explain
    from keras_geo.explain._cam import _finish, _forward

    rng = np.random.default_rng(0)
    rows = []
    for label, model, layer, shape in models(args.size):
        images = rng.uniform(0, 1, size=(args.images, *shape)).astype("float32")
        explain.grad_cam(model, images[:2], layer=layer, score="output")  # warm-up (tracing, allocation)
        per_image_recipe(model, images[:2], layer)
        started = time.perf_counter()
        batched = np.concatenate(
            [
                explain.grad_cam(model, images[i : i + args.batch], layer=layer, score="output")
                for i in range(0, len(images), args.batch)
            ]
        )
        batched_s = time.perf_counter() - started
        started = time.perf_counter()
        raw = per_image_recipe(model, images, layer)
        single_s = time.perf_counter() - started
        single = _finish(raw, shape[:2])  # the same ReLU, resize and scaling
        # Random weights can make a map all zero after its ReLU, which would agree trivially; so the
        # weighted sums before the ReLU are compared too, relative to their largest magnitude.
        features, gradients, *_ = _forward(model, images, None, layer, "output")
        ours_raw = (gradients.mean(axis=(1, 2), keepdims=True) * features).sum(axis=-1)
        row = {
            "model": label,
            "images": len(images),
            "batch": args.batch,
            "batched_images_per_s": len(images) / batched_s,
            "per_image_images_per_s": len(images) / single_s,
            "speed_up": single_s / batched_s,
            "max_abs_difference": float(np.abs(batched - single).max()),
            "non_zero_maps": int((batched.reshape(len(images), -1).max(axis=1) > 0).sum()),
            "max_relative_difference_before_relu": float(np.abs(ours_raw - raw).max() / np.abs(raw).max()),
        }
        rows.append(row)
        print(
            f"{label:<32} batched {row['batched_images_per_s']:7.1f} img/s, per image "
            f"{row['per_image_images_per_s']:6.1f} img/s, x{row['speed_up']:.1f}, "
            f"max |difference| {row['max_abs_difference']:.1e} ({row['non_zero_maps']} maps non-zero), "
            f"before ReLU {row['max_relative_difference_before_relu']:.1e} relative",
            flush=True,
        )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    results = {
        "machine": f"{platform.machine()}, {cores} cores, {platform.python_version()}",
        "date": datetime.date.today().isoformat(),
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
