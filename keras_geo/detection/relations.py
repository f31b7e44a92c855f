"""Relation modules of a two-stage detector (report 001): each region of interest sees the others.

In Faster R-CNN every region of interest (RoI) is classified from its own pooled
features. A relation module sits between the box head's RoI vectors and its
classifier/regressor and lets each RoI take in the appearance of the other RoIs of
its image, as Ikeda & Hidaka (IW-FCV 2022) do with self-attention (SA-FRCNN),
source-target attention (STA-FRCNN) and a lambda layer (Lambda-FRCNN; Bello,
LambdaNetworks, ICLR 2021), and as Hu et al. (Relation Networks for Object
Detection, CVPR 2018) do with attention plus a geometric weight from the boxes'
relative positions.

All three layers share one call::

    layer(features, boxes, mask=None, training=None) -> features + relation(features)

* ``features``: ``(batch, n_rois, dim)``, the RoI vectors; ``n_rois`` may be known only
  at call time.
* ``boxes``: ``(batch, n_rois, 4)``, the RoIs' ``[x_min, y_min, x_max, y_max]`` in pixels
  (see :mod:`keras_geo.detection`). Boxes narrower or lower than a pixel count as one
  pixel wide or high.
* ``mask``: ``(batch, n_rois)``, bool or 0/1; ``False`` marks a padded RoI, which neither
  attends nor is attended to. Its output is finite but otherwise meaningless, also when
  every RoI of an image is padded. The mask is passed on to the output (as Keras's
  ``MultiHeadAttention`` does), so masking-aware layers downstream skip the padding.

The relation branch ends in a projection whose kernel and bias start at zero, so a
freshly built module is the identity: a detector with a relation module starts from
the same function as the plain detector and learns how much relation to add. For
that reason there is no layer normalisation after the residual (a post-norm would
change the features from the first step and undo the identity start, and Hu et al.
use none); the scale of the logits is left to the temperature.

Softmaxes run in float32 under a mixed-precision policy; padded entries are set to a
large negative logit and then multiplied by the mask, so a query with nothing valid
to attend to gets a zero relation rather than a NaN.

:func:`relation_module` builds one by name (``RELATIONS``).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import keras
from keras import ops

__all__ = [
    "RELATIONS",
    "RoILambda",
    "RoISelfAttention",
    "RoISourceTargetAttention",
    "geometry_embedding",
    "relation_module",
    "relative_geometry",
]

RELATIONS = ("none", "self_attention", "source_target_attention", "lambda")

# Hu et al.'s geometric embedding: each of the 4 relative-geometry features at 8
# wavelengths 1000**(i / 8), scaled by 100, through sin and cos: 4 x 8 x 2 = 64.
_GEOMETRY_FREQUENCIES = 8
_GEOMETRY_DIM = 4 * 2 * _GEOMETRY_FREQUENCIES
_WAVE_LENGTH = 1000.0
_GEOMETRY_SCALE = 100.0
_OFFSET_EPSILON = 1e-3  # floor of |dx| / w before the log (a box and itself: log(1e-3))
_WEIGHT_EPSILON = 1e-6  # floor of the geometric weight before the log (Hu et al.'s reference)
_MIN_SIZE = 1.0  # boxes narrower than a pixel count as a pixel wide
_NEGATIVE = -1e9  # masked logit; the softmaxes run in float32


def _positive(name: str, value: Any, *, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0 or not math.isfinite(value):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"`{name}` must be {kind} > 0. Received: {name}={value!r}")


def _rate(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")


def _valid(features: Any, mask: Any) -> Any:
    """The RoIs' validity as a bool ``(batch, n_rois)``; all valid without a mask."""
    if mask is None:
        return ops.ones_like(features[..., 0], dtype="bool")
    return ops.cast(mask, "bool")


def _feature_dim(shape: Any, name: str) -> int:
    shape = tuple(shape)
    if len(shape) != 3 or shape[-1] is None:
        raise ValueError(f"`{name}` must have shape (batch, n, dim) with a known dim. Received: {name}.shape={shape}")
    return int(shape[-1])


def relative_geometry(boxes: Any, mask: Any = None) -> Any:
    """Hu et al.'s relative geometry of every pair of boxes of an image.

    For a box ``n`` (centre ``x_n, y_n``, size ``w_n, h_n``) and a box ``m``, the four
    features are

        ``log(max(|x_m - x_n| / w_n, 1e-3)), log(max(|y_m - y_n| / h_n, 1e-3)),
        log(w_m / w_n), log(h_m / h_n)``,

    invariant to translating and scaling the image. Sizes below a pixel count as a
    pixel; padded boxes (``mask`` False) are replaced by a unit box, so the result is
    finite whatever they hold.

    Args:
        boxes: ``(batch, n, 4)`` boxes ``[x_min, y_min, x_max, y_max]`` in pixels.
        mask: ``(batch, n)`` validity, or `None` (all valid). Defaults to `None`.

    Returns:
        float32 ``(batch, n, n, 4)``, indexed ``[batch, n, m]``.
    """
    boxes = ops.cast(boxes, "float32")
    if mask is not None:
        unit = ops.convert_to_tensor([0.0, 0.0, 1.0, 1.0], dtype="float32")
        boxes = ops.where(ops.cast(mask, "bool")[..., None], boxes, unit)
    width = ops.maximum(boxes[..., 2] - boxes[..., 0], _MIN_SIZE)
    height = ops.maximum(boxes[..., 3] - boxes[..., 1], _MIN_SIZE)
    cx = 0.5 * (boxes[..., 0] + boxes[..., 2])
    cy = 0.5 * (boxes[..., 1] + boxes[..., 3])
    dx = ops.abs(cx[:, None, :] - cx[:, :, None]) / width[:, :, None]
    dy = ops.abs(cy[:, None, :] - cy[:, :, None]) / height[:, :, None]
    features = [
        ops.log(ops.maximum(dx, _OFFSET_EPSILON)),
        ops.log(ops.maximum(dy, _OFFSET_EPSILON)),
        ops.log(width[:, None, :] / width[:, :, None]),
        ops.log(height[:, None, :] / height[:, :, None]),
    ]
    return ops.stack(features, axis=-1)


def geometry_embedding(geometry: Any) -> Any:
    """Hu et al.'s sinusoidal embedding of :func:`relative_geometry`: ``(..., 4)`` to ``(..., 64)``.

    Each feature ``g`` gives ``sin(100 g / 1000**(i / 8))`` and ``cos(...)`` for
    ``i = 0..7``; the 64 values are ordered [sin of the 32 (feature, i) pairs, cos of them].
    """
    frequencies = [_GEOMETRY_SCALE / _WAVE_LENGTH ** (i / _GEOMETRY_FREQUENCIES) for i in range(_GEOMETRY_FREQUENCIES)]
    # (4, 32): feature f at frequency i goes to column 8 f + i, so one matmul spreads all four.
    columns = 4 * _GEOMETRY_FREQUENCIES
    spread = [
        [frequencies[j % _GEOMETRY_FREQUENCIES] if j // _GEOMETRY_FREQUENCIES == f else 0.0 for j in range(columns)]
        for f in range(4)
    ]
    phases = ops.matmul(ops.cast(geometry, "float32"), ops.convert_to_tensor(spread, dtype="float32"))
    return ops.concatenate([ops.sin(phases), ops.cos(phases)], axis=-1)


def _masked_softmax(logits: Any, valid: Any, axis: int = -1) -> Any:
    """Softmax over ``axis`` among the valid entries only; all-invalid slices give zeros."""
    logits = ops.where(valid, ops.cast(logits, "float32"), _NEGATIVE)
    return ops.softmax(logits, axis=axis) * ops.cast(valid, "float32")


class _RelationBase(keras.layers.Layer):
    """What the relation layers share: the mask's propagation and the zero-initialised output projection."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def _output_projection(self, heads: int, width: int, dim: int) -> keras.layers.EinsumDense:
        projection = keras.layers.EinsumDense(
            "bnhk,hkd->bnd",
            output_shape=(None, dim),
            bias_axes="d",
            kernel_initializer="zeros",
            bias_initializer="zeros",
            dtype=self.dtype_policy,
            name="output_projection",
        )
        projection.build((None, None, heads, width))
        return projection

    def _einsum_dense(self, equation: str, output_shape: tuple, input_shape: tuple, name: str, **kwargs: Any):
        layer = keras.layers.EinsumDense(
            equation, output_shape=output_shape, dtype=self.dtype_policy, name=name, **kwargs
        )
        layer.build(input_shape)
        return layer

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        return None if previous_mask is None else ops.cast(previous_mask, "bool")


class _Attention(_RelationBase):
    """What the two attention layers share: their settings, query/key/value projections and their config."""

    def __init__(
        self,
        heads: int = 4,
        key_dim: int | None = None,
        temperature: float = 1.0,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _positive("heads", heads, integer=True)
        if key_dim is not None:
            _positive("key_dim", key_dim, integer=True)
        _positive("temperature", temperature)
        _rate("dropout", dropout)
        self.heads = int(heads)
        self.key_dim = None if key_dim is None else int(key_dim)
        self.temperature = float(temperature)
        self.dropout = float(dropout)

    def _build_attention(self, dim: int, source_dim: int, source_equation: str) -> None:
        """Query (of the RoIs), key and value (of the source, by ``source_equation``), dropout, output projection."""
        self.dim = dim
        self.width = self.key_dim or max(1, dim // self.heads)
        heads_shape = (None, self.heads, self.width)
        self.query = self._einsum_dense("bnd,dhk->bnhk", heads_shape, (None, None, dim), "query", bias_axes="hk")
        source_shape = (None, None, source_dim)
        self.key = self._einsum_dense(source_equation, heads_shape, source_shape, "key", bias_axes="hk")
        self.value = self._einsum_dense(source_equation, heads_shape, source_shape, "value", bias_axes="hk")
        self.attention_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name="attention_dropout")
        self.output_projection = self._output_projection(self.heads, self.width, dim)

    def _attend(self, features: Any, weights: Any, values: Any, training: bool | None) -> Any:
        """``features`` plus the projected attention of ``weights`` ``(b, heads, n, s)`` over ``values`` ``(b, s, heads, k)``."""
        weights = self.attention_dropout(ops.cast(weights, values.dtype), training=training)
        heads = ops.einsum("bhns,bshk->bnhk", weights, values)
        return features + ops.cast(self.output_projection(heads), features.dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "heads": self.heads,
            "key_dim": self.key_dim,
            "temperature": self.temperature,
            "dropout": self.dropout,
        }


@keras.saving.register_keras_serializable(package="keras_geo")
class RoISelfAttention(_Attention):
    """Multi-head self-attention among the RoIs of an image, with Hu et al.'s geometric weight (SA-FRCNN).

    Queries, keys and values are projections of the RoI vectors (``heads`` heads of
    ``key_dim``). Head ``h``'s weight of RoI ``m`` for RoI ``n`` is the softmax over the
    valid ``m`` of

        ``q_n . k_m / (sqrt(key_dim) * temperature) + log(max(1e-6, relu(w_h . E_nm + b_h)))``

    where the second term (``geometry=True``) is Relation Networks' geometric weight:
    ``E_nm`` is :func:`geometry_embedding` of :func:`relative_geometry` and ``w_h, b_h``
    a dense layer with one output per head. Relation Networks multiply the softmax's
    numerator by the geometric weight; adding its log to the logits is the same. The
    temperature divides the appearance term only, so a very large temperature leaves
    the weights to the geometry (without geometry: uniform over the valid RoIs) and a
    small one picks the best-matching RoI.

    The report's ``t``: Ikeda & Hidaka give SA-FRCNN and STA-FRCNN with ``t = 32`` and
    ``t = 0.32``. 32 is ``sqrt(1024)``, the usual scaling for the 1024-wide RoI vectors
    of Faster R-CNN's box head, so we read their ``t`` as the whole divisor of ``q . k``
    (``t = 32`` the standard softmax, ``t = 0.32`` a 100 times sharper one); here that is
    ``temperature = t / sqrt(key_dim)``: with ``key_dim = 1024``, ``temperature = 1``
    and ``0.01``.

    The heads' outputs (each ``key_dim`` wide, the attention-weighted values) are
    concatenated and projected back to ``dim`` by a zero-initialised dense layer, and
    added to ``features``.

    Args:
        heads: Number of attention heads. Defaults to `4`.
        key_dim: Width of each head's queries, keys and values. Defaults to `None`:
            ``max(1, dim // heads)``.
        temperature: Divides the appearance logits after the ``1 / sqrt(key_dim)``
            scaling; above 1 softer, below 1 sharper. Defaults to `1.0`.
        geometry: Whether to add Relation Networks' geometric term. Defaults to `True`.
        dropout: Dropout rate on the attention weights while training. Defaults to `0.0`.
        **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Call arguments:
        features: ``(batch, n_rois, dim)``.
        boxes: ``(batch, n_rois, 4)`` in pixels.
        mask: ``(batch, n_rois)`` bool or 0/1, False for padding. Defaults to `None`.
        training: Whether the dropout is on. Defaults to `None` (Keras's context).
    """

    def __init__(
        self,
        heads: int = 4,
        key_dim: int | None = None,
        temperature: float = 1.0,
        geometry: bool = True,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(heads, key_dim, temperature, dropout, **kwargs)
        _flag("geometry", geometry)
        self.geometry = geometry

    def build(self, features_shape: Any, boxes_shape: Any = None) -> None:
        dim = _feature_dim(features_shape, "features")
        self._build_attention(dim, dim, "bnd,dhk->bnhk")
        if self.geometry:
            self.geometry_weight = keras.layers.Dense(self.heads, dtype=self.dtype_policy, name="geometry_weight")
            self.geometry_weight.build((None, None, None, _GEOMETRY_DIM))

    def attention_weights(self, features: Any, boxes: Any, mask: Any = None) -> Any:
        """The attention weights, float32 ``(batch, heads, n_rois, n_rois)`` indexed ``[b, h, query, key]``.

        Each valid query's row sums to 1 over the valid keys; padded keys get 0 and a
        padded query's row is meaningless. The layer must be built (called once).
        """
        valid = _valid(features, mask)
        q = self.query(features)
        k = self.key(features)
        logits = ops.einsum("bnhk,bmhk->bhnm", ops.cast(q, "float32"), ops.cast(k, "float32"))
        logits = logits / (math.sqrt(self.width) * self.temperature)
        if self.geometry:
            embedding = geometry_embedding(relative_geometry(boxes, valid))
            weight = ops.cast(self.geometry_weight(embedding), "float32")  # (b, n, m, heads)
            weight = ops.log(ops.maximum(ops.relu(weight), _WEIGHT_EPSILON))
            logits = logits + ops.transpose(weight, (0, 3, 1, 2))
        return _masked_softmax(logits, valid[:, None, None, :])

    def call(self, features: Any, boxes: Any, mask: Any = None, training: bool | None = None) -> Any:
        return self._attend(features, self.attention_weights(features, boxes, mask), self.value(features), training)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "geometry": self.geometry}


@keras.saving.register_keras_serializable(package="keras_geo")
class RoISourceTargetAttention(_Attention):
    """Source-target attention: the RoI vectors (targets) query a source (STA-FRCNN).

    The queries are projections of the RoI vectors; keys and values are projections of
    the source, ``heads`` heads of ``key_dim``; the logits are
    ``q_n . k_s / (sqrt(key_dim) * temperature)`` (see :class:`RoISelfAttention` for
    the temperature and the report's ``t``). There is no geometric term: a source
    element need not have a box.

    Two sources:

    * ``source`` given, ``(batch, n_source, source_dim)``: e.g. the cells of the image's
      top feature map, flattened, so each RoI gathers context from the whole image;
      ``n_source`` is free, ``source_mask`` ``(batch, n_source)`` marks padding.
    * ``source=None``: the source is the image's RoI set itself, through the key and
      value projections, but each RoI's own entry is masked (the diagonal), so a RoI
      takes only from the others. This is what distinguishes it from
      :class:`RoISelfAttention`, where a RoI also attends to itself; a RoI without
      another valid RoI in its image gets a zero relation.

    The width of the key and value projections' input is fixed by the first call
    (``source_dim``, or ``dim`` without a source); call the layer consistently.

    Args:
        heads: Number of attention heads. Defaults to `4`.
        key_dim: Width of each head's queries, keys and values. Defaults to `None`:
            ``max(1, dim // heads)``.
        temperature: Divides the logits after the ``1 / sqrt(key_dim)`` scaling.
            Defaults to `1.0`.
        dropout: Dropout rate on the attention weights while training. Defaults to `0.0`.
        **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Call arguments:
        features: ``(batch, n_rois, dim)``.
        boxes: ``(batch, n_rois, 4)`` in pixels (unused; kept for the common call).
        mask: ``(batch, n_rois)`` bool or 0/1, False for padding. Defaults to `None`.
        source: ``(batch, n_source, source_dim)`` or `None`. Defaults to `None`.
        source_mask: ``(batch, n_source)`` validity of the source. Defaults to `None`.
        training: Whether the dropout is on. Defaults to `None` (Keras's context).
    """

    def build(self, features_shape: Any, boxes_shape: Any = None, source_shape: Any = None) -> None:
        dim = _feature_dim(features_shape, "features")
        source_dim = dim if source_shape is None else _feature_dim(source_shape, "source")
        self._build_attention(dim, source_dim, "bsd,dhk->bshk")

    def _source(self, features: Any, mask: Any, source: Any, source_mask: Any) -> tuple[Any, Any]:
        """The source and which (query, source) pairs are allowed, ``(batch, 1, n_rois or 1, n_source)``."""
        valid = _valid(features, mask)
        if source is None:
            # The diagonal: ranks 1..n along the RoIs, equal only for a RoI and itself
            # (no `ops.shape`, so it traces with n_rois unknown).
            rank = ops.cumsum(ops.ones_like(valid, dtype="int32"), axis=1)
            others = ops.not_equal(rank[:, :, None], rank[:, None, :])
            return features, ops.logical_and(others, valid[:, None, :])[:, None]
        source_valid = _valid(source, source_mask)
        return source, source_valid[:, None, None, :]

    def attention_weights(
        self, features: Any, boxes: Any = None, mask: Any = None, source: Any = None, source_mask: Any = None
    ) -> Any:
        """The attention weights, float32 ``(batch, heads, n_rois, n_source)`` (``n_rois`` without a source)."""
        source, allowed = self._source(features, mask, source, source_mask)
        q = self.query(features)
        k = self.key(source)
        logits = ops.einsum("bnhk,bshk->bhns", ops.cast(q, "float32"), ops.cast(k, "float32"))
        logits = logits / (math.sqrt(self.width) * self.temperature)
        return _masked_softmax(logits, allowed)

    def call(
        self,
        features: Any,
        boxes: Any = None,
        mask: Any = None,
        source: Any = None,
        source_mask: Any = None,
        training: bool | None = None,
    ) -> Any:
        weights = self.attention_weights(features, boxes, mask, source, source_mask)
        return self._attend(features, weights, self.value(features if source is None else source), training)


@keras.saving.register_keras_serializable(package="keras_geo")
class RoILambda(_RelationBase):
    """Bello's lambda layer over the set of RoIs of an image (Lambda-FRCNN).

    The context is the image's valid RoIs. From the RoI vectors ``x`` (``dim`` wide):

    * queries ``q_n = W_Q x_n``: ``heads x key_dim``;
    * keys ``K_m = W_K x_m``: ``key_dim x intra_depth``, softmax-normalised over the
      context (over ``m``, per key component) after dividing by ``temperature``;
    * values ``V_m = W_V x_m``: ``value_dim x intra_depth``, ``value_dim = max(1, dim // heads)``;
    * the content lambda ``λc = sum_m,u softmax(K)_mku V_mvu``: ``key_dim x value_dim``,
      one for all RoIs of the image;
    * with ``position=True``, a position lambda per RoI,
      ``λp_n = (1 / n_valid) sum_m,u E_nmku V_mvu``, where the relative position
      embedding ``E_nm`` (``key_dim x intra_depth``) is a linear map (no bias) of
      :func:`geometry_embedding` of :func:`relative_geometry` of boxes ``n`` and ``m``;
    * ``y_n = q_n (λc + λp_n)`` per head, the heads concatenated (``heads x value_dim``),
      then the zero-initialised projection to ``dim`` and the residual.

    The keys, values and lambdas are shared by the heads (Bello's multi-query form).
    Two departures from the paper, both for a set of RoIs rather than an image grid:
    there is no batch normalisation of the queries and values (padded RoIs would enter
    its statistics, and a few hundred RoIs per image are a small, varying batch; the
    zero-initialised projection already makes the start stable), and the position
    lambda is averaged over the valid RoIs instead of summed, so its scale does not
    follow the number of RoIs, which differs between training (sampled RoIs) and
    inference (proposals). The content lambda needs no such care: its keys are a
    softmax over the context.

    Args:
        key_dim: ``k``, the query and key depth. Defaults to `16`.
        heads: Number of query heads. Defaults to `4`.
        intra_depth: ``u``, Bello's intra-depth. Defaults to `1`.
        temperature: Divides the keys before their softmax over the context.
            Defaults to `1.0`.
        position: Whether to add the position lambdas from the boxes. Defaults to `True`.
        **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Call arguments:
        features: ``(batch, n_rois, dim)``.
        boxes: ``(batch, n_rois, 4)`` in pixels.
        mask: ``(batch, n_rois)`` bool or 0/1, False for padding. Defaults to `None`.
        training: Unused (no dropout or batch normalisation). Defaults to `None`.
    """

    def __init__(
        self,
        key_dim: int = 16,
        heads: int = 4,
        intra_depth: int = 1,
        temperature: float = 1.0,
        position: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _positive("key_dim", key_dim, integer=True)
        _positive("heads", heads, integer=True)
        _positive("intra_depth", intra_depth, integer=True)
        _positive("temperature", temperature)
        _flag("position", position)
        self.key_dim = int(key_dim)
        self.heads = int(heads)
        self.intra_depth = int(intra_depth)
        self.temperature = float(temperature)
        self.position = position

    def build(self, features_shape: Any, boxes_shape: Any = None) -> None:
        dim = _feature_dim(features_shape, "features")
        self.dim = dim
        self.value_dim = max(1, dim // self.heads)
        k, u, v = self.key_dim, self.intra_depth, self.value_dim
        rois = (None, None, dim)
        self.query = self._einsum_dense("bnd,dhk->bnhk", (None, self.heads, k), rois, "query")
        self.key = self._einsum_dense("bmd,dku->bmku", (None, k, u), rois, "key")
        self.value = self._einsum_dense("bmd,dvu->bmvu", (None, v, u), rois, "value")
        if self.position:
            self.position_embedding = self._einsum_dense(
                "bnmg,gku->bnmku", (None, None, k, u), (None, None, None, _GEOMETRY_DIM), "position_embedding"
            )
        self.output_projection = self._output_projection(self.heads, v, dim)

    def lambdas(self, features: Any, boxes: Any = None, mask: Any = None) -> tuple[Any, Any]:
        """The content lambda, float32 ``(batch, key_dim, value_dim)``, and the position lambdas.

        The position lambdas are float32 ``(batch, n_rois, key_dim, value_dim)``, or `None`
        with ``position=False``. The layer must be built (called once).
        """
        valid = _valid(features, mask)
        keys = ops.cast(self.key(features), "float32") / self.temperature  # (b, m, k, u)
        keys = _masked_softmax(keys, valid[:, :, None, None], axis=1)
        values = ops.cast(self.value(features), "float32") * ops.cast(valid, "float32")[:, :, None, None]
        content = ops.einsum("bmku,bmvu->bkv", keys, values)
        if not self.position:
            return content, None
        embedding = self.position_embedding(geometry_embedding(relative_geometry(boxes, valid)))
        count = ops.maximum(ops.sum(ops.cast(valid, "float32"), axis=1), 1.0)
        position = ops.einsum("bnmku,bmvu->bnkv", ops.cast(embedding, "float32"), values)
        return content, position / count[:, None, None, None]

    def call(self, features: Any, boxes: Any, mask: Any = None, training: bool | None = None) -> Any:
        content, position = self.lambdas(features, boxes, mask)
        q = ops.cast(self.query(features), "float32")  # (b, n, h, k)
        y = ops.einsum("bnhk,bkv->bnhv", q, content)
        if position is not None:
            y = y + ops.einsum("bnhk,bnkv->bnhv", q, position)
        y = self.output_projection(ops.cast(y, self.compute_dtype))
        return features + ops.cast(y, features.dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "key_dim": self.key_dim,
            "heads": self.heads,
            "intra_depth": self.intra_depth,
            "temperature": self.temperature,
            "position": self.position,
        }


_LAYERS = {
    "self_attention": RoISelfAttention,
    "source_target_attention": RoISourceTargetAttention,
    "lambda": RoILambda,
}
_LAYER_ARGUMENTS = ("name", "dtype")


def relation_module(kind: str, **settings: Any) -> keras.layers.Layer | None:
    """A relation module by name: one of ``RELATIONS``.

    >>> relation_module("lambda", key_dim=8).key_dim
    8
    >>> relation_module("none") is None
    True

    Args:
        kind: ``"none"`` (no module: the plain detector), ``"self_attention"``
            (:class:`RoISelfAttention`), ``"source_target_attention"``
            (:class:`RoISourceTargetAttention`) or ``"lambda"`` (:class:`RoILambda`).
        **settings: The layer's arguments, plus ``name`` and ``dtype``.

    Returns:
        The layer, or `None` for ``"none"``.

    Raises:
        ValueError: for an unknown kind, or a setting the layer does not take (any
            setting with ``"none"``).
    """
    if kind not in RELATIONS:
        raise ValueError(f"`kind` must be one of {', '.join(RELATIONS)}. Received: kind={kind!r}")
    if kind == "none":
        if settings:
            raise ValueError(f"Relation 'none' takes no settings. Received: {', '.join(sorted(settings))}")
        return None
    cls = _LAYERS[kind]
    allowed = [name for name in inspect.signature(cls.__init__).parameters if name not in ("self", "kwargs")]
    allowed += list(_LAYER_ARGUMENTS)
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ValueError(f"Relation {kind!r} takes the settings {', '.join(allowed)}. Received: {', '.join(unknown)}")
    return cls(**settings)
