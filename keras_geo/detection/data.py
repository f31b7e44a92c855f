"""Batches for a detector: images with their objects padded to the batch's largest count (``tf.data``).

A split's objects are a list of per-image dicts (see :mod:`keras_geo.detection`), each
with its own number of boxes. :func:`detection_dataset` turns ``(images, objects)`` into
a ``tf.data.Dataset`` of ``(images, {"boxes": (batch, k_max, 4), "classes": (batch,
k_max)})``, ``k_max`` the most objects of an image of that batch, with class ``-1`` and
zero boxes as padding: the batches :class:`~keras_geo.detection.model.TwoStageDetector`
trains on. :func:`pad_objects` does the same for a whole split, as arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["check_objects", "clean_objects", "detection_dataset", "pad_objects"]


def check_objects(objects: Sequence[Mapping[str, Any]], n_images: int, *, name: str = "objects") -> list[dict]:
    """The objects of ``n_images`` images as float32 boxes and int64 classes; a one-line ValueError otherwise.

    Args:
        objects: One ``{"boxes": (k, 4), "classes": (k,)}`` per image.
        n_images: The number of images they belong to.
        name: What to call them in messages (e.g. ``"the 'train' split's objects"``).

    Returns:
        A list of dicts with float32 ``(k, 4)`` boxes and int64 ``(k,)`` classes.
    """
    if isinstance(objects, np.ndarray) and objects.dtype != object:
        raise ValueError(f"{name} must be a list of {{'boxes', 'classes'}} dicts, one per image. Received: an array")
    if not isinstance(objects, Sequence | np.ndarray) or len(objects) != n_images:
        count = len(objects) if hasattr(objects, "__len__") else type(objects).__name__
        raise ValueError(f"{name} must hold one dict per image ({n_images} images). Received: {count}")
    checked = []
    for i, found in enumerate(objects):
        if not isinstance(found, Mapping) or "boxes" not in found or "classes" not in found:
            raise ValueError(f"{name}[{i}] must be a dict with 'boxes' and 'classes'. Received: {found!r:.80}")
        boxes = np.asarray(found["boxes"], dtype=np.float32)
        classes = np.asarray(found["classes"])
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4 or classes.shape != (len(boxes),):
            raise ValueError(
                f"{name}[{i}] must have boxes (k, 4) and classes (k,). Received: boxes {boxes.shape}, classes {classes.shape}"
            )
        if classes.size and not np.issubdtype(classes.dtype, np.integer):
            raise ValueError(f"{name}[{i}]['classes'] must be integers. Received: dtype {classes.dtype}")
        checked.append({"boxes": boxes, "classes": classes.astype(np.int64)})
    return checked


def clean_objects(objects: Sequence[Mapping[str, Any]], height: int, width: int, *, source: str) -> list[dict]:
    """The objects with their bad boxes dropped (NaN, negative class, zero area, wholly outside) or clipped (partly
    outside the ``height`` x ``width`` image), and one warning that counts them and names the first.

    Args:
        objects: Checked objects (:func:`check_objects`).
        height: The images' height in pixels.
        width: The images' width in pixels.
        source: What they are, first in the warning (e.g. ``"data['train']"``).

    Returns:
        A list of dicts with float32 ``(k, 4)`` boxes and int64 ``(k,)`` classes.
    """
    from keras_geo.detection.annotations import BoxChecker

    checker = BoxChecker(source, "skip", hint="the training goes on without them")
    cleaned = []
    for i, found in enumerate(objects):
        kept_boxes, kept_classes = [], []
        for j, (box, label) in enumerate(zip(found["boxes"], found["classes"])):
            where = f"image {i}, box {j} {np.round(box, 2).tolist()} class {int(label)}"
            inside = checker.check(box, int(label) >= 0, f"class {int(label)}", height, width, where)
            if inside is not None:
                kept_boxes.append(inside)
                kept_classes.append(int(label))
        cleaned.append(
            {
                "boxes": np.asarray(kept_boxes, dtype=np.float32).reshape(-1, 4),
                "classes": np.asarray(kept_classes, dtype=np.int64),
            }
        )
    checker.warn(stacklevel=4)
    return cleaned


def pad_objects(objects: Sequence[Mapping[str, Any]], max_objects: int | None = None) -> dict[str, np.ndarray]:
    """A split's objects as arrays: ``boxes (n, max_objects, 4)`` (zeros) and ``classes (n, max_objects)`` (``-1``).

    Args:
        objects: One ``{"boxes", "classes"}`` dict per image.
        max_objects: The padded count; defaults to the largest count of an image (at least 1).

    Raises:
        ValueError: if an image holds more than ``max_objects`` objects.
    """
    checked = check_objects(objects, len(objects))
    most = max([len(o["classes"]) for o in checked], default=0)
    width = max(1, most) if max_objects is None else int(max_objects)
    if most > width:
        raise ValueError(f"an image holds {most} objects, more than `max_objects`={width}")
    boxes = np.zeros((len(checked), width, 4), dtype=np.float32)
    classes = np.full((len(checked), width), -1, dtype=np.int32)
    for i, found in enumerate(checked):
        k = len(found["classes"])
        boxes[i, :k] = found["boxes"]
        classes[i, :k] = found["classes"]
    return {"boxes": boxes, "classes": classes}


def detection_dataset(
    images: np.ndarray,
    objects: Sequence[Mapping[str, Any]],
    *,
    batch_size: int = 8,
    shuffle: bool = False,
    seed: int = 0,
    drop_remainder: bool = False,
):
    """``(images, objects)`` as a ``tf.data.Dataset`` of batches, objects padded per batch.

    Args:
        images: float32 ``(n, height, width, channels)``.
        objects: One ``{"boxes", "classes"}`` dict per image.
        batch_size: Images per batch. Defaults to `8`.
        shuffle: Shuffle the images every epoch (seeded). Defaults to `False`.
        seed: The shuffling's seed. Defaults to `0`.
        drop_remainder: Drop a last, smaller batch. Defaults to `False`.

    Returns:
        A ``tf.data.Dataset`` of ``(images, {"boxes", "classes"})``.
    """
    import tensorflow as tf

    images = np.asarray(images, dtype=np.float32)
    checked = check_objects(objects, len(images))
    counts = np.array([len(o["classes"]) for o in checked], dtype=np.int64)
    boxes = np.concatenate([o["boxes"] for o in checked]) if checked else np.zeros((0, 4), np.float32)
    classes = np.concatenate([o["classes"] for o in checked]).astype(np.int32) if checked else np.zeros(0, np.int32)
    ragged = {
        "boxes": tf.RaggedTensor.from_row_lengths(boxes, counts),
        "classes": tf.RaggedTensor.from_row_lengths(classes, counts),
    }
    data = tf.data.Dataset.from_tensor_slices((images, ragged))

    def dense(image, found):  # a row of a ragged tensor arrives as a RaggedTensor of ragged rank 0
        return image, {
            k: v.to_tensor() if isinstance(v, tf.RaggedTensor) else tf.convert_to_tensor(v) for k, v in found.items()
        }

    data = data.map(dense)
    if shuffle:
        data = data.shuffle(len(images), seed=int(seed), reshuffle_each_iteration=True)
    data = data.padded_batch(
        int(batch_size),
        padded_shapes=(images.shape[1:], {"boxes": (None, 4), "classes": (None,)}),
        padding_values=(0.0, {"boxes": 0.0, "classes": -1}),
        drop_remainder=drop_remainder,
    )
    return data.prefetch(tf.data.AUTOTUNE)
