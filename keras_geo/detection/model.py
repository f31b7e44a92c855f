"""A two-stage detector (Faster R-CNN with a feature pyramid) that keras-geo owns, with relations between its regions.

    image -> backbone -> FPN levels P3.. -> RPN (objectness, deltas per anchor) -> proposals (decode, NMS)
          -> RoIAlign -> two dense layers -> relation module (none, self-attention, source-target
          attention, Lambda) -> class logits and class-specific box deltas -> per-class NMS

:func:`pyramid_features` builds the backbone and FPN as one functional model (a small
CNN for CPUs, or a residual network of :mod:`keras_geo.models`); :class:`TwoStageDetector`
adds the rest (the builder ``two_stage_detector``, :func:`keras_geo.models.build_two_stage_detector`, does both) and trains with its own ``train_step`` on batches of images and padded
objects (:func:`keras_geo.detection.data.detection_dataset`). The batch size is the
data's and the image size the backbone input's: neither is fixed in the model.

Calling the model (``predict``) returns padded detections per image: ``boxes (batch,
max_detections, 4)`` in pixels, ``scores``, ``classes`` (int32, ``-1`` for padding) and
``count``. The saved ``.keras`` file holds built-in layers and this package's registered
ones only, so it loads with ``safe_mode=True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from keras_geo.detection import targets
from keras_geo.detection.anchors import anchors as make_anchors
from keras_geo.detection.relations import RELATIONS, relation_module
from keras_geo.detection.roi_align import RoIAlign

__all__ = ["TwoStageDetector", "pyramid_features"]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _small_backbone(inputs, width: int, levels: Sequence[int]) -> dict[str, Any]:
    """Conv-BN-ReLU stages halving the size from stride 2 to ``2**max(levels)``: ``{"C3": ..., ...}``."""
    x = inputs
    found = {}
    for level in range(1, max(levels) + 1):
        filters = width * 2 ** max(0, min(level - 2, 3))
        for i, stride in enumerate((2, 1)):
            x = layers.Conv2D(
                filters, 3, strides=stride, padding="same", use_bias=False, name=f"small_c{level}_conv{i}"
            )(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"small_c{level}_bn{i}")(x)
            x = layers.ReLU(name=f"small_c{level}_relu{i}")(x)
        if level in levels:
            found[f"C{level}"] = x
    return found


def pyramid_features(
    input_shape: Sequence[int] = (192, 192, 3),
    *,
    backbone: str = "small",
    backbone_width: int = 16,
    fpn_channels: int = 64,
    strides: Sequence[int] = (8, 16, 32),
) -> keras.Model:
    """The backbone and its feature pyramid (Lin et al., 2017) as one functional model: image -> [P_l, ...].

    Args:
        input_shape: ``(height, width, channels)`` of the images.
        backbone: ``"small"`` (Conv-BN-ReLU stages, ``backbone_width`` filters at the
            first, doubling to 8x; fast on CPUs) or the name of a residual network of
            :mod:`keras_geo.models` (``"resnet18"``, ``"skip_resnet18"``, ...), built without
            its top. Defaults to `"small"`.
        backbone_width: Filters of the small backbone's first stages. Defaults to `16`.
        fpn_channels: Channels of every pyramid level. Defaults to `64`.
        strides: The levels' strides (powers of 2, consecutive): P3, P4, P5 by default.
            Defaults to `(8, 16, 32)`.

    Returns:
        A ``keras.Model`` from images to the list of pyramid maps, finest first, named
        ``fpn_p{level}``.

    Raises:
        ValueError: one line, for bad strides, widths, or an unknown backbone.
    """
    strides = tuple(int(s) for s in strides)
    levels = [s.bit_length() - 1 for s in strides]
    _check(
        bool(strides)
        and all(s >= 2 and s & (s - 1) == 0 for s in strides)
        and levels == list(range(levels[0], levels[0] + len(levels))),
        f"`strides` must be consecutive powers of 2 from 2 up, finest first. Received: strides={strides}",
    )
    for name, value in (("backbone_width", backbone_width), ("fpn_channels", fpn_channels)):
        _check(
            isinstance(value, int) and not isinstance(value, bool) and value >= 1,
            f"`{name}` must be an integer >= 1. Received: {name}={value!r}",
        )
    inputs = keras.Input(tuple(input_shape), name="image")
    if backbone == "small":
        found = _small_backbone(inputs, int(backbone_width), levels)
    else:
        from keras_geo import models
        from keras_geo.models import residual

        try:
            build = models.get(backbone)
        except KeyError as error:
            raise ValueError(
                f"`backbone` must be 'small' or a residual network of keras_geo.models: {error.args[0]}"
            ) from None
        try:
            network = build(input_shape=tuple(input_shape), include_top=False, pooling=None)
            found = residual.backbone(network, levels)(inputs)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"`backbone` {backbone!r} cannot give levels {levels}: {str(error).splitlines()[0]}"
            ) from None
    # Top-down pathway: 1x1 laterals, nearest upsampling, 3x3 smoothing.
    laterals = [layers.Conv2D(fpn_channels, 1, name=f"fpn_lateral{level}")(found[f"C{level}"]) for level in levels]
    merged = [laterals[-1]]
    for level, lateral in zip(reversed(levels[:-1]), reversed(laterals[:-1])):
        up = layers.UpSampling2D(2, interpolation="nearest", name=f"fpn_up{level}")(merged[0])
        merged.insert(0, layers.Add(name=f"fpn_add{level}")([lateral, _fit(up, lateral, f"fpn_fit{level}")]))
    outputs = [
        layers.Conv2D(fpn_channels, 3, padding="same", name=f"fpn_p{level}")(m) for level, m in zip(levels, merged)
    ]
    return keras.Model(inputs, outputs, name="pyramid_features")


def _fit(up, like, name: str):
    """``up`` cropped to ``like``'s rows and columns (an odd-sized level upsampled is one larger)."""
    rows, cols = like.shape[1], like.shape[2]
    extra_rows, extra_cols = up.shape[1] - rows, up.shape[2] - cols
    if not extra_rows and not extra_cols:
        return up
    return layers.Cropping2D(((0, extra_rows), (0, extra_cols)), name=name)(up)


def _smooth_l1(x, beta: float):
    absolute = ops.abs(x)
    return ops.where(absolute < beta, 0.5 * x * x / beta, absolute - 0.5 * beta)


def _positive_int(name: str, value: Any, low: int = 1) -> int:
    _check(
        isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low,
        f"`{name}` must be an integer >= {low}. Received: {name}={value!r}",
    )
    return int(value)


def _fraction(name: str, value: Any, *, open_low: bool = True) -> float:
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (0 < value <= 1 if open_low else 0 <= value <= 1)
    )
    _check(ok, f"`{name}` must be in {'(0, 1]' if open_low else '[0, 1]'}. Received: {name}={value!r}")
    return float(value)


@keras.saving.register_keras_serializable(package="keras_geo")
class TwoStageDetector(keras.Model):
    """Faster R-CNN on a feature pyramid, with an optional relation module between its regions of interest.

    ``fit`` takes batches ``(images, {"boxes": (batch, max_objects, 4), "classes": (batch,
    max_objects)})`` with class ``-1`` for padding (:func:`keras_geo.detection.data.detection_dataset`
    makes them from lists of objects) and logs ``loss`` = ``rpn_objectness + rpn_box +
    head_class + head_box``. ``evaluate`` logs the same on held-out batches (the training
    sampling, seeded). Calling the model returns detections (see the module docstring).

    Training follows Faster R-CNN (Ren et al., 2015) with Detectron2's choices:

    * RPN: anchors with IoU >= 0.7 to an object (and each object's best anchors) are
      positive, < 0.3 negative; ``rpn_batch`` anchors per image, at most half positive,
      are scored by binary cross-entropy and (positives) smooth L1 on the deltas.
    * Proposals: the ``rpn_pre_nms`` best anchors per image, decoded, clipped, boxes under
      1 pixel dropped, NMS at ``rpn_nms_iou``, the best ``rois`` kept. In training the
      objects' own boxes join them (Detectron2 does the same).
    * Head: every proposal is read (RoIAlign), passes two dense layers and the relation
      module *together* (the module sees the whole set, padding masked), and gets class
      logits (background first) and class-specific deltas. ``roi_batch`` of them per
      image, at most ``roi_positive_fraction`` with an object at IoU >= 0.5, are scored by
      cross-entropy and (positives) smooth L1.

    Args:
        features: The backbone and pyramid: a model from images to the list of pyramid
            maps (:func:`pyramid_features`), one per stride of ``strides``.
        n_classes: Object classes (background not counted).
        strides: The pyramid levels' strides. Defaults to `(8, 16, 32)`.
        anchor_sizes: Anchor side per level, pixels. Defaults to `(16, 48, 128)`.
        anchor_ratios: Anchor aspect ratios (height over width). Defaults to `(0.5, 1.0, 2.0)`.
        anchor_scale: Multiplies every anchor size: one number a search can tune. Defaults to `1.0`.
        rpn_pre_nms: Proposals per image before NMS. Defaults to `600`.
        rpn_nms_iou: NMS IoU of the proposals. Defaults to `0.7`.
        rois: Proposals per image after NMS: the set the head and the relation module see.
            Defaults to `64`.
        rpn_batch: Anchors per image in the RPN loss. Defaults to `256`.
        roi_batch: Regions per image in the head's loss. Defaults to `64`.
        roi_positive_fraction: Largest share of object regions in ``roi_batch``. Defaults to `0.25`.
        roi_size: RoIAlign bins per side. Defaults to `7`.
        canonical_size: The box side read from level 4 (stride 16); `None`: 224 x the
            image's shorter side / 800 (the FPN paper's 224 on its 800-pixel images).
            Defaults to `None`.
        head_units: Units of the head's two dense layers. Defaults to `256`.
        relation: One of :data:`keras_geo.detection.relations.RELATIONS`. Defaults to `"none"`.
        relation_settings: Keyword arguments of the relation module. Defaults to none.
        max_detections: Detections per image at most. Defaults to `50`.
        score_threshold: Lowest class score kept. Defaults to `0.05`.
        nms_iou: NMS IoU per class of the detections. Defaults to `0.5`.
        seed: Seed of the training's sampling. Defaults to `0`.
        class_names: The classes' names, kept with the saved model for those who use it
            (``keras-geo-hpo detect`` labels boxes with them). Defaults to `None` (numbers).
        **kwargs: ``keras.Model`` arguments (``name``, ``dtype``).
    """

    def __init__(
        self,
        features: keras.Model,
        n_classes: int,
        *,
        strides: Sequence[int] = (8, 16, 32),
        anchor_sizes: Sequence[float] = (16, 48, 128),
        anchor_ratios: Sequence[float] = (0.5, 1.0, 2.0),
        anchor_scale: float = 1.0,
        rpn_pre_nms: int = 600,
        rpn_nms_iou: float = 0.7,
        rois: int = 64,
        rpn_batch: int = 256,
        roi_batch: int = 64,
        roi_positive_fraction: float = 0.25,
        roi_size: int = 7,
        canonical_size: float | None = None,
        head_units: int = 256,
        relation: str = "none",
        relation_settings: Mapping[str, Any] | None = None,
        max_detections: int = 50,
        score_threshold: float = 0.05,
        nms_iou: float = 0.5,
        seed: int = 0,
        class_names: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        _check(
            isinstance(features, keras.Model) and len(features.inputs) == 1,
            f"`features` must be a keras.Model of one image input (pyramid_features). Received: {features!r}",
        )
        shape = tuple(features.inputs[0].shape[1:])
        _check(
            len(shape) == 3 and shape[0] is not None and shape[1] is not None,
            f"`features` must take images of a fixed (height, width, channels). Received: input shape {shape}",
        )
        strides = tuple(int(s) for s in strides)
        _check(
            len(features.outputs) == len(strides),
            f"`features` gives {len(features.outputs)} maps but `strides` names {len(strides)} levels: give one stride per map",
        )
        super().__init__(**kwargs)
        self.features = features
        self.image_size = (int(shape[0]), int(shape[1]))
        self.n_classes = _positive_int("n_classes", n_classes)
        self.strides = strides
        self.anchor_sizes = tuple(float(v) for v in anchor_sizes)
        self.anchor_ratios = tuple(float(v) for v in anchor_ratios)
        _check(
            isinstance(anchor_scale, int | float) and not isinstance(anchor_scale, bool) and anchor_scale > 0,
            f"`anchor_scale` must be a positive number. Received: anchor_scale={anchor_scale!r}",
        )
        self.anchor_scale = float(anchor_scale)
        self.rpn_pre_nms = _positive_int("rpn_pre_nms", rpn_pre_nms)
        self.rpn_nms_iou = _fraction("rpn_nms_iou", rpn_nms_iou)
        self.rois = _positive_int("rois", rois)
        self.rpn_batch = _positive_int("rpn_batch", rpn_batch)
        self.roi_batch = _positive_int("roi_batch", roi_batch)
        self.roi_positive_fraction = _fraction("roi_positive_fraction", roi_positive_fraction)
        self.roi_size = _positive_int("roi_size", roi_size)
        self.canonical_size = None if canonical_size is None else float(canonical_size)
        self.head_units = _positive_int("head_units", head_units)
        _check(
            relation in RELATIONS,
            f"`relation` must be one of {', '.join(map(repr, RELATIONS))}. Received: relation={relation!r}",
        )
        self.relation = relation
        self.relation_settings = dict(relation_settings or {})
        self.max_detections = _positive_int("max_detections", max_detections)
        self.score_threshold = _fraction("score_threshold", score_threshold, open_low=False)
        self.nms_iou = _fraction("nms_iou", nms_iou)
        self.seed = _positive_int("seed", seed, 0)
        self.class_names = None if class_names is None else tuple(str(name) for name in class_names)
        _check(
            self.class_names is None or len(self.class_names) == self.n_classes,
            f"`class_names` must name the {self.n_classes} classes. Received: {class_names!r}",
        )

        sizes = [size * self.anchor_scale for size in self.anchor_sizes]
        boxes, _ = make_anchors(self.image_size, self.strides, sizes, self.anchor_ratios)
        self._anchors = boxes  # numpy (n_anchors, 4): a constant, rebuilt from the settings
        per_cell = len(self.anchor_ratios)
        channels = features.outputs[0].shape[-1]
        self.rpn_conv = layers.Conv2D(channels, 3, padding="same", activation="relu", name="rpn_conv")
        self.rpn_objectness = layers.Conv2D(per_cell, 1, name="rpn_objectness")
        self.rpn_deltas = layers.Conv2D(
            4 * per_cell, 1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001), name="rpn_deltas"
        )
        canonical = self.canonical_size or 224.0 * min(self.image_size) / 800.0
        self.roi_align = RoIAlign(self.strides, self.roi_size, 2, canonical, 4, name="roi_align")
        self.head_flatten = layers.Reshape((-1, self.roi_size * self.roi_size * channels), name="head_flatten")
        self.head_dense1 = layers.Dense(self.head_units, activation="relu", name="head_dense1")
        self.head_dense2 = layers.Dense(self.head_units, activation="relu", name="head_dense2")
        try:
            self.relation_layer = relation_module(relation, **self.relation_settings)
        except (TypeError, ValueError) as error:
            raise ValueError(f"`relation_settings` of {relation!r}: {str(error).splitlines()[0]}") from None
        self.head_class = layers.Dense(self.n_classes + 1, name="head_class")
        self.head_box = layers.Dense(
            4 * self.n_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001), name="head_box"
        )
        self._sampling = keras.random.SeedGenerator(self.seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("rpn_objectness", "rpn_box", "head_class", "head_box")
        }
        self.build((None, *shape))

    # ------------------------------------------------------------------ build --
    def build(self, input_shape) -> None:
        maps = [tuple(t.shape) for t in self.features.outputs]
        self.rpn_conv.build(maps[0])
        self.rpn_objectness.build(maps[0][:-1] + (self.rpn_conv.filters,))
        self.rpn_deltas.build(maps[0][:-1] + (self.rpn_conv.filters,))
        flat = self.roi_size * self.roi_size * maps[0][-1]
        self.head_dense1.build((None, None, flat))
        self.head_dense2.build((None, None, self.head_units))
        if self.relation == "source_target_attention":  # its source: the cells of the top level
            self.relation_layer.build((None, None, self.head_units), (None, None, 4), (None, None, maps[-1][-1]))
        elif self.relation_layer is not None:
            self.relation_layer.build((None, None, self.head_units), (None, None, 4))
        self.head_class.build((None, None, self.head_units))
        self.head_box.build((None, None, self.head_units))
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, *self.trackers.values()]

    # ---------------------------------------------------------------- pieces --
    def _rpn(self, pyramid):
        """Objectness logits ``(batch, n_anchors)`` and deltas ``(batch, n_anchors, 4)``, level-major."""
        logits, deltas = [], []
        for level in pyramid:
            hidden = self.rpn_conv(level)
            logits.append(ops.reshape(self.rpn_objectness(hidden), (ops.shape(level)[0], -1)))
            deltas.append(ops.reshape(self.rpn_deltas(hidden), (ops.shape(level)[0], -1, 4)))
        return ops.concatenate(logits, axis=1), ops.concatenate(deltas, axis=1)

    def _clip(self, boxes):
        height, width = (float(v) for v in self.image_size)
        return ops.stack(
            [
                ops.clip(boxes[..., 0], 0.0, width),
                ops.clip(boxes[..., 1], 0.0, height),
                ops.clip(boxes[..., 2], 0.0, width),
                ops.clip(boxes[..., 3], 0.0, height),
            ],
            axis=-1,
        )

    def _proposals(self, logits, deltas):
        """The ``rois`` best proposals per image after NMS: boxes ``(batch, rois, 4)`` and a validity mask."""
        import tensorflow as tf

        anchors = ops.convert_to_tensor(self._anchors, dtype=deltas.dtype)
        count = min(self.rpn_pre_nms, int(self._anchors.shape[0]))
        scores, index = ops.top_k(logits, count)
        chosen = ops.take_along_axis(deltas, index[..., None], axis=1)
        boxes = self._clip(targets.decode(chosen, ops.take(anchors, index, axis=0), targets.RPN_WEIGHTS))
        big = ops.logical_and(boxes[..., 2] - boxes[..., 0] >= 1.0, boxes[..., 3] - boxes[..., 1] >= 1.0)
        probability = ops.where(big, ops.sigmoid(scores), -1.0)
        # Per-image NMS of one class; IoU is symmetric in x and y, so the boxes go in as they are.
        kept, _, _, valid = tf.image.combined_non_max_suppression(
            boxes[:, :, None, :],
            probability[:, :, None],
            max_output_size_per_class=self.rois,
            max_total_size=self.rois,
            iou_threshold=self.rpn_nms_iou,
            score_threshold=0.0,
            pad_per_class=False,
            clip_boxes=False,
        )
        mask = ops.arange(self.rois)[None, :] < ops.cast(valid, "int32")[:, None]
        return ops.stop_gradient(kept), mask

    def _head(self, pyramid, boxes, mask, training: bool):
        """Class logits ``(batch, n, n_classes + 1)`` and deltas ``(batch, n, n_classes, 4)`` of the regions."""
        pooled = self.roi_align(pyramid, boxes)
        hidden = self.head_dense2(self.head_dense1(self.head_flatten(pooled)))
        if self.relation_layer is not None:
            if self.relation == "source_target_attention":
                top = pyramid[-1]
                source = ops.reshape(top, (ops.shape(top)[0], -1, ops.shape(top)[-1]))
                hidden = self.relation_layer(hidden, boxes, mask=mask, source=source, training=training)
            else:
                hidden = self.relation_layer(hidden, boxes, mask=mask, training=training)
        logits = self.head_class(hidden)
        deltas = ops.reshape(self.head_box(hidden), (ops.shape(hidden)[0], -1, self.n_classes, 4))
        return logits, deltas

    # ------------------------------------------------------------- inference --
    def call(self, images, training: bool = False):
        """Detections of ``images``: a dict of ``boxes``, ``scores``, ``classes`` (``-1`` padding) and ``count``."""
        import tensorflow as tf

        pyramid = self.features(images, training=training)
        pyramid = list(pyramid) if isinstance(pyramid, list | tuple) else [pyramid]
        logits, deltas = self._rpn(pyramid)
        proposals, mask = self._proposals(logits, deltas)
        class_logits, box_deltas = self._head(pyramid, proposals, mask, training=False)
        scores = ops.softmax(class_logits, axis=-1)[..., 1:] * ops.cast(mask, class_logits.dtype)[..., None]
        references = ops.repeat(proposals[:, :, None, :], self.n_classes, axis=2)
        boxes = self._clip(targets.decode(box_deltas, references, targets.HEAD_WEIGHTS))
        kept, kept_scores, kept_classes, count = tf.image.combined_non_max_suppression(
            boxes,
            scores,
            max_output_size_per_class=self.max_detections,
            max_total_size=self.max_detections,
            iou_threshold=self.nms_iou,
            score_threshold=self.score_threshold,
            pad_per_class=False,
            clip_boxes=False,
        )
        valid = ops.arange(self.max_detections)[None, :] < ops.cast(count, "int32")[:, None]
        return {
            "boxes": kept,
            "scores": kept_scores,
            "classes": ops.where(valid, ops.cast(kept_classes, "int32"), -1),
            "count": ops.cast(count, "int32"),
        }

    # -------------------------------------------------------------- training --
    def _detection_losses(self, images, objects, training: bool):
        # One padding slot more: a batch of images without objects gives (batch, 0) arrays, which argmax refuses.
        batch = ops.shape(images)[0]
        gt_boxes = ops.concatenate([ops.cast(objects["boxes"], "float32"), ops.zeros((batch, 1, 4))], axis=1)
        gt_classes = ops.concatenate([ops.cast(objects["classes"], "int32"), -ops.ones((batch, 1), "int32")], axis=1)
        valid = gt_classes >= 0
        pyramid = self.features(images, training=training)
        pyramid = list(pyramid) if isinstance(pyramid, list | tuple) else [pyramid]
        logits, deltas = self._rpn(pyramid)
        anchors = ops.convert_to_tensor(self._anchors, dtype=deltas.dtype)[None]

        # Region proposal network.
        index, label = targets.match(targets.pairwise_iou(anchors, gt_boxes), valid, high=0.7, low=0.3, keep_best=True)
        chosen = targets.sample(label, self.rpn_batch, 0.5, self._sampling)
        positive = ops.cast(ops.equal(label, 1), "float32") * chosen
        normaliser = ops.maximum(ops.sum(chosen), 1.0)
        bce = ops.binary_crossentropy(ops.cast(ops.equal(label, 1), "float32"), logits, from_logits=True)
        rpn_objectness = ops.sum(bce * chosen) / normaliser
        matched = ops.take_along_axis(gt_boxes, index[..., None], axis=1)
        wanted = targets.encode(matched, ops.broadcast_to(anchors, ops.shape(matched)), targets.RPN_WEIGHTS)
        rpn_box = ops.sum(ops.sum(_smooth_l1(deltas - wanted, 1.0 / 9.0), axis=-1) * positive) / normaliser

        # Head on the proposals and the objects' own boxes.
        proposals, mask = self._proposals(ops.stop_gradient(logits), ops.stop_gradient(deltas))
        boxes = ops.concatenate([proposals, gt_boxes], axis=1)
        mask = ops.concatenate([mask, valid], axis=1)
        index, label = targets.match(targets.pairwise_iou(boxes, gt_boxes), valid, high=0.5, low=0.5, keep_best=False)
        label = ops.where(mask, label, -1)
        chosen = targets.sample(label, self.roi_batch, self.roi_positive_fraction, self._sampling)
        classes = ops.where(ops.equal(label, 1), ops.take_along_axis(gt_classes, index, axis=1) + 1, 0)
        class_logits, box_deltas = self._head(pyramid, boxes, mask, training=training)
        normaliser = ops.maximum(ops.sum(chosen), 1.0)
        ce = ops.sparse_categorical_crossentropy(classes, class_logits, from_logits=True)
        head_class = ops.sum(ce * chosen) / normaliser
        positive = ops.cast(ops.equal(label, 1), "float32") * chosen
        own = ops.take_along_axis(box_deltas, ops.maximum(classes - 1, 0)[:, :, None, None], axis=2)[:, :, 0, :]
        matched = ops.take_along_axis(gt_boxes, index[..., None], axis=1)
        wanted = targets.encode(matched, boxes, targets.HEAD_WEIGHTS)
        head_box = ops.sum(ops.sum(_smooth_l1(own - wanted, 1.0), axis=-1) * positive) / normaliser
        return {"rpn_objectness": rpn_objectness, "rpn_box": rpn_box, "head_class": head_class, "head_box": head_box}

    def _log(self, losses, total, batch):
        self.loss_tracker.update_state(total, sample_weight=batch)
        for name, value in losses.items():
            self.trackers[name].update_state(value, sample_weight=batch)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        """One update on a batch ``(images, {"boxes", "classes"})``."""
        if keras.backend.backend() != "tensorflow":
            raise NotImplementedError(
                f"TwoStageDetector trains with the TensorFlow backend only. Received: backend={keras.backend.backend()!r}"
            )
        import tensorflow as tf

        images, objects = data[0], data[1]
        with tf.GradientTape() as tape:
            losses = self._detection_losses(images, objects, training=True)
            total = sum(losses.values())
            extra = sum(self.losses) if self.losses else 0.0
            scaled = self.optimizer.scale_loss(total + extra)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return self._log(losses, total, ops.shape(images)[0])

    def test_step(self, data):
        """The training losses on a held-out batch (inference-mode layers)."""
        images, objects = data[0], data[1]
        losses = self._detection_losses(images, objects, training=False)
        return self._log(losses, sum(losses.values()), ops.shape(images)[0])

    # --------------------------------------------------------- serialisation --
    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "features": keras.saving.serialize_keras_object(self.features),
            "n_classes": self.n_classes,
            "strides": list(self.strides),
            "anchor_sizes": list(self.anchor_sizes),
            "anchor_ratios": list(self.anchor_ratios),
            "anchor_scale": self.anchor_scale,
            "rpn_pre_nms": self.rpn_pre_nms,
            "rpn_nms_iou": self.rpn_nms_iou,
            "rois": self.rois,
            "rpn_batch": self.rpn_batch,
            "roi_batch": self.roi_batch,
            "roi_positive_fraction": self.roi_positive_fraction,
            "roi_size": self.roi_size,
            "canonical_size": self.canonical_size,
            "head_units": self.head_units,
            "relation": self.relation,
            "relation_settings": dict(self.relation_settings),
            "max_detections": self.max_detections,
            "score_threshold": self.score_threshold,
            "nms_iou": self.nms_iou,
            "seed": self.seed,
            "class_names": None if self.class_names is None else list(self.class_names),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> TwoStageDetector:
        config = dict(config)
        features = keras.saving.deserialize_keras_object(config.pop("features"), custom_objects=custom_objects)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(features, **config)
