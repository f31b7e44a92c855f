"""Relation modules among RoIs: identity at start, equivariance, padding, temperature, arithmetic, serialisation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_geo.detection.relations import (
    RELATIONS,
    RoILambda,
    RoISelfAttention,
    RoISourceTargetAttention,
    geometry_embedding,
    relation_module,
    relative_geometry,
)

DIM = 8
KINDS = [kind for kind in RELATIONS if kind != "none"]
SMALL = {
    "self_attention": {"heads": 2},
    "source_target_attention": {"heads": 2},
    "lambda": {"key_dim": 4, "heads": 2, "intra_depth": 2},
}


def _rois(n: int = 5, batch: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(batch, n, DIM)).astype("float32")
    corner = rng.uniform(0, 100, size=(batch, n, 2))
    size = rng.uniform(4, 40, size=(batch, n, 2))
    return features, np.concatenate([corner, corner + size], axis=-1).astype("float32")


def _layer(kind: str, **settings) -> keras.layers.Layer:
    return relation_module(kind, **{**SMALL[kind], **settings})


def _randomise(layer: keras.layers.Layer, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(0.5 * rng.normal(size=weight.shape).astype("float32"))


def _built(kind: str, seed: int = 1, **settings) -> keras.layers.Layer:
    layer = _layer(kind, **settings)
    features, boxes = _rois()
    layer(features, boxes)
    _randomise(layer, seed)
    return layer


def _numpy_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _numpy_geometry(boxes: np.ndarray) -> np.ndarray:
    """Relation Networks' relative geometry and its 64-wide sinusoidal embedding, written out."""
    width = np.maximum(boxes[..., 2] - boxes[..., 0], 1.0)
    height = np.maximum(boxes[..., 3] - boxes[..., 1], 1.0)
    cx, cy = (boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2
    n = boxes.shape[-2]
    out = np.zeros(boxes.shape[:-2] + (n, n, 64))
    for i in range(n):
        for j in range(n):
            g = np.stack(
                [
                    np.log(np.maximum(np.abs(cx[..., j] - cx[..., i]) / width[..., i], 1e-3)),
                    np.log(np.maximum(np.abs(cy[..., j] - cy[..., i]) / height[..., i], 1e-3)),
                    np.log(width[..., j] / width[..., i]),
                    np.log(height[..., j] / height[..., i]),
                ],
                axis=-1,
            )
            phase = 100.0 * g[..., :, None] / 1000.0 ** (np.arange(8) / 8)
            phase = phase.reshape(phase.shape[:-2] + (32,))
            out[..., i, j, :] = np.concatenate([np.sin(phase), np.cos(phase)], axis=-1)
    return out


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ["float32", "mixed_float16"])
def test_the_output_has_the_features_shape_and_dtype(kind, dtype):
    features, boxes = _rois()
    layer = _layer(kind, dtype=dtype)
    out = layer(features, boxes)
    assert tuple(out.shape) == features.shape
    assert keras.backend.standardize_dtype(out.dtype) == layer.compute_dtype
    _randomise(layer)
    assert np.isfinite(np.asarray(layer(features, boxes), dtype="float32")).all()


@pytest.mark.parametrize("kind", KINDS)
def test_a_fresh_module_is_the_identity_and_its_projection_makes_it_relate(kind):
    features, boxes = _rois()
    layer = _layer(kind)
    np.testing.assert_array_equal(np.asarray(layer(features, boxes)), features)
    rng = np.random.default_rng(3)
    kernel = layer.output_projection.kernel
    kernel.assign(rng.normal(size=kernel.shape).astype("float32"))
    assert np.abs(np.asarray(layer(features, boxes)) - features).max() > 1e-3


@pytest.mark.parametrize("kind", KINDS)
def test_permuting_the_rois_permutes_the_outputs(kind):
    features, boxes = _rois(6)
    layer = _built(kind)
    order = np.array([3, 0, 5, 1, 4, 2])
    out = np.asarray(layer(features, boxes))
    permuted = np.asarray(layer(features[:, order], boxes[:, order]))
    np.testing.assert_allclose(permuted, out[:, order], atol=1e-5)


def test_the_rois_permute_the_outputs_whatever_the_order_of_the_source():
    features, boxes = _rois(6)
    source = np.random.default_rng(4).normal(size=(2, 9, 3)).astype("float32")
    layer = RoISourceTargetAttention(heads=2)
    layer(features, boxes, source=source)
    _randomise(layer)
    order = np.array([3, 0, 5, 1, 4, 2])
    out = np.asarray(layer(features, boxes, source=source))
    np.testing.assert_allclose(
        np.asarray(layer(features[:, order], boxes[:, order], source=source)), out[:, order], atol=1e-5
    )
    shuffled = source[:, ::-1]  # the source is a set too
    np.testing.assert_allclose(np.asarray(layer(features, boxes, source=shuffled)), out, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_padded_rois_do_not_influence_the_valid_ones(kind):
    features, boxes = _rois(6)
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 0, 1, 1, 0]], dtype=bool)
    layer = _built(kind)
    out = np.asarray(layer(features, boxes, mask=mask))
    changed_features, changed_boxes = features.copy(), boxes.copy()
    changed_features[~mask] = 1e3 * np.random.default_rng(5).normal(size=(int((~mask).sum()), DIM))
    changed_boxes[~mask] = [[7.0, 7.0, 7.0, 7.0], [0, 0, 0, 0], [-5, 3, 1e6, 2], [np.nan, 0, 0, 0]]
    again = np.asarray(layer(changed_features, changed_boxes, mask=mask.astype("float32")))
    np.testing.assert_allclose(again[mask], out[mask], atol=1e-5)
    assert np.isfinite(again).all()
    # the same RoIs without the padding give the same outputs
    np.testing.assert_allclose(np.asarray(layer(features[:1, :4], boxes[:1, :4])), out[:1, :4], atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_an_image_without_valid_rois_gives_finite_outputs(kind):
    features, boxes = _rois(4)
    boxes[0] = 0.0
    mask = np.array([[0, 0, 0, 0], [1, 0, 0, 0]], dtype=bool)
    layer = _built(kind)
    out = np.asarray(layer(features, boxes, mask=mask))
    assert np.isfinite(out).all()
    if kind == "source_target_attention":  # a RoI without another valid RoI takes nothing
        np.testing.assert_allclose(out[1, 0], features[1, 0] + np.asarray(layer.output_projection.bias), atol=1e-6)


def _model(layer: keras.layers.Layer) -> keras.Model:
    features, boxes, mask = keras.Input((None, DIM)), keras.Input((None, 4)), keras.Input((None,))
    return keras.Model([features, boxes, mask], layer(features, boxes, mask=mask))


@pytest.mark.parametrize("kind", KINDS)
def test_the_number_of_rois_is_known_only_at_call_time(kind, tmp_path):
    layer = _layer(kind)
    model = _model(layer)
    _randomise(layer)
    outputs = {}
    for n in (5, 7):
        features, boxes = _rois(n)
        mask = np.ones((2, n), dtype="float32")
        outputs[n] = model.predict([features, boxes, mask], verbose=0)
        assert outputs[n].shape == (2, n, DIM)
        np.testing.assert_allclose(outputs[n], np.asarray(layer(features, boxes)), atol=1e-5)

    # saved and loaded in safe mode, it computes the same function
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    features, boxes = _rois(7)
    mask = np.array([[1, 1, 1, 1, 1, 0, 0]] * 2, dtype="float32")
    np.testing.assert_allclose(
        loaded.predict([features, boxes, mask], verbose=0), model.predict([features, boxes, mask], verbose=0), atol=1e-6
    )


@pytest.mark.parametrize("kind", KINDS)
def test_the_config_round_trips(kind):
    settings = {
        "self_attention": {"heads": 3, "key_dim": 5, "temperature": 0.32, "geometry": False, "dropout": 0.1},
        "source_target_attention": {"heads": 3, "key_dim": 5, "temperature": 32.0, "dropout": 0.2},
        "lambda": {"key_dim": 8, "heads": 2, "intra_depth": 3, "temperature": 2.0, "position": False},
    }[kind]
    layer = relation_module(kind, name="relation", **settings)
    again = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(again) is type(layer)
    assert again.get_config() == layer.get_config()
    assert {key: again.get_config()[key] for key in settings} == settings


def test_self_attention_is_relation_networks_attention_written_out():
    features, boxes = _rois(5, batch=1)
    layer = _built("self_attention", temperature=2.0)
    w = {v.path.split("/", 1)[1]: np.asarray(v, dtype="float64") for v in layer.weights}
    x = features[0].astype("float64")
    q = np.einsum("nd,dhk->nhk", x, w["query/kernel"]) + w["query/bias"]
    k = np.einsum("nd,dhk->nhk", x, w["key/kernel"]) + w["key/bias"]
    v = np.einsum("nd,dhk->nhk", x, w["value/kernel"]) + w["value/bias"]
    logits = np.einsum("nhk,mhk->hnm", q, k) / (np.sqrt(q.shape[-1]) * 2.0)
    geometric = _numpy_geometry(boxes[0].astype("float64")) @ w["geometry_weight/kernel"] + w["geometry_weight/bias"]
    logits = logits + np.log(np.maximum(np.maximum(geometric, 0.0), 1e-6)).transpose(2, 0, 1)
    attention = _numpy_softmax(logits)
    np.testing.assert_allclose(np.asarray(layer.attention_weights(features, boxes))[0], attention, atol=1e-4)
    heads = np.einsum("hnm,mhk->nhk", attention, v)
    expected = x + np.einsum("nhk,hkd->nd", heads, w["output_projection/kernel"]) + w["output_projection/bias"]
    # float32 sines of phases up to a few hundred radians: the outputs agree to about 1e-3
    np.testing.assert_allclose(np.asarray(layer(features, boxes))[0], expected, rtol=1e-3, atol=2e-3)


def test_the_relative_geometry_of_two_boxes():
    boxes = np.array([[[0, 0, 10, 20], [20, 0, 40, 10]]], dtype="float32")  # centres (5, 10), (30, 5)
    g = np.asarray(relative_geometry(boxes))[0]
    np.testing.assert_allclose(g[0, 1], np.log([25 / 10, 5 / 20, 20 / 10, 10 / 20]), rtol=1e-6)
    np.testing.assert_allclose(g[1, 0], np.log([25 / 20, 5 / 10, 10 / 20, 20 / 10]), rtol=1e-6)
    np.testing.assert_allclose(g[0, 0], np.log([1e-3, 1e-3, 1, 1]), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(geometry_embedding(g)), _numpy_geometry(boxes[0]), atol=1e-4)
    degenerate = np.asarray(relative_geometry(np.zeros((1, 2, 4), "float32")))
    np.testing.assert_allclose(degenerate, np.log(1e-3) * np.array([1, 1, 0, 0]) * np.ones((1, 2, 2, 4)), rtol=1e-6)


@pytest.mark.parametrize("kind", ["self_attention", "source_target_attention"])
def test_the_temperature_softens_or_sharpens_the_attention(kind):
    features, boxes = _rois(5)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    settings = {"geometry": False} if kind == "self_attention" else {}
    weights = {}
    for t in (1e7, 1.0, 1e-4):
        layer = _built(kind, temperature=t, **settings)  # one seed: the same weights each time
        weights[t] = np.asarray(layer.attention_weights(features, boxes, mask))
    allowed = np.broadcast_to(mask[:, None, None, :], weights[1.0].shape).copy()
    if kind == "source_target_attention":  # without a source, a RoI attends to the others only
        allowed &= ~np.eye(5, dtype=bool)
    rows = np.broadcast_to(mask[:, None, :, None], allowed.shape[:-1] + (1,))[..., 0]
    np.testing.assert_allclose(weights[1.0].sum(-1)[rows], 1.0, atol=1e-5)
    assert (weights[1.0][~allowed] == 0).all()
    # a very large temperature: uniform over what a RoI may attend to
    uniform = allowed / allowed.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights[1e7][rows], uniform[rows], atol=1e-5)
    # a very small one: all on one RoI; t = 1 lies between
    assert (weights[1e-4][rows].max(-1) > 0.999).all()
    entropy = {t: -(w[rows] * np.log(np.maximum(w[rows], 1e-12))).sum(-1).mean() for t, w in weights.items()}
    assert entropy[1e7] > entropy[1.0] > entropy[1e-4]


def test_source_target_attention_takes_a_source_of_another_length_and_width():
    features, boxes = _rois(5)
    source = np.random.default_rng(6).normal(size=(2, 11, 3)).astype("float32")
    source_mask = np.ones((2, 11), dtype=bool)
    source_mask[0, 7:] = False
    layer = RoISourceTargetAttention(heads=2)
    assert tuple(layer(features, boxes, source=source).shape) == (2, 5, DIM)
    _randomise(layer)
    weights = np.asarray(layer.attention_weights(features, boxes, source=source, source_mask=source_mask))
    assert weights.shape == (2, 2, 5, 11)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert (weights[0, ..., 7:] == 0).all()
    out = np.asarray(layer(features, boxes, source=source, source_mask=source_mask))
    changed = source.copy()
    changed[0, 7:] = 1e3
    np.testing.assert_allclose(
        np.asarray(layer(features, boxes, source=changed, source_mask=source_mask)), out, atol=1e-5
    )
    # the source changes the outputs; it is attended to, not the other RoIs
    assert np.abs(np.asarray(layer(features, boxes, source=source[:, ::2])) - out).max() > 1e-3
    np.testing.assert_allclose(
        np.asarray(layer(features[:, ::-1], boxes, source=source, source_mask=source_mask))[:, ::-1], out, atol=1e-5
    )


def test_the_lambda_is_bellos_content_lambda_written_out():
    features, boxes = _rois(4, batch=1)
    mask = np.array([[1, 1, 1, 0]], dtype=bool)
    layer = RoILambda(key_dim=3, heads=2, intra_depth=2, temperature=0.5, position=False)
    layer(features, boxes)
    rng = np.random.default_rng(7)
    wq, wk, wv = rng.normal(size=(DIM, 2, 3)), rng.normal(size=(DIM, 3, 2)), rng.normal(size=(DIM, 4, 2))
    wo, bo = rng.normal(size=(2, 4, DIM)), rng.normal(size=(DIM,))
    for weight, value in zip(layer.weights, [wq, wk, wv, wo, bo]):
        weight.assign(value.astype("float32"))
    x = features[0, :3].astype("float64")  # the valid RoIs
    q = np.einsum("nd,dhk->nhk", x, wq)
    keys = _numpy_softmax(np.einsum("md,dku->mku", x, wk) / 0.5, axis=0)
    values = np.einsum("md,dvu->mvu", x, wv)
    content = np.einsum("mku,mvu->kv", keys, values)
    np.testing.assert_allclose(np.asarray(layer.lambdas(features, boxes, mask)[0])[0], content, rtol=1e-5, atol=1e-5)
    y = np.einsum("nhk,kv->nhv", q, content)
    expected = x + np.einsum("nhv,hvd->nd", y, wo) + bo
    np.testing.assert_allclose(np.asarray(layer(features, boxes, mask=mask))[0, :3], expected, rtol=1e-4, atol=1e-4)


def test_the_lambdas_position_term_is_the_mean_over_the_rois_of_embedding_times_value():
    features, boxes = _rois(4, batch=1)
    layer = _built("lambda", position=True)
    w = {v.path.split("/", 1)[1]: np.asarray(v, dtype="float64") for v in layer.weights}
    embedding = np.einsum("nmg,gku->nmku", _numpy_geometry(boxes[0].astype("float64")), w["position_embedding/kernel"])
    values = np.einsum("md,dvu->mvu", features[0].astype("float64"), w["value/kernel"])
    expected = np.einsum("nmku,mvu->nkv", embedding, values) / 4
    np.testing.assert_allclose(np.asarray(layer.lambdas(features, boxes)[1])[0], expected, rtol=1e-4, atol=1e-4)


def test_training_moves_every_weight_of_the_relation():
    keras.utils.set_random_seed(0)
    layer = _layer("self_attention")
    model = _model(layer)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=False)
    features, boxes = _rois(5, batch=4)
    mask = np.ones((4, 5), dtype="float32")
    before = [np.asarray(v).copy() for v in layer.trainable_weights]
    target = np.random.default_rng(8).normal(size=features.shape).astype("float32")
    model.fit([features, boxes, mask], target, batch_size=2, epochs=1, verbose=0)  # two steps
    for weight, old in zip(layer.trainable_weights, before):
        assert np.abs(np.asarray(weight) - old).max() > 0, weight.path


def test_relation_module_builds_each_kind_and_refuses_what_it_does_not_know():
    assert relation_module("none") is None
    assert isinstance(relation_module("self_attention", temperature=32), RoISelfAttention)
    assert isinstance(relation_module("source_target_attention"), RoISourceTargetAttention)
    assert relation_module("lambda", key_dim=8).key_dim == 8
    with pytest.raises(ValueError, match="`kind` must be one of none, self_attention") as error:
        relation_module("graph")
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="takes the settings key_dim, heads, intra_depth.*Received: geometry"):
        relation_module("lambda", geometry=True)
    with pytest.raises(ValueError, match="takes no settings"):
        relation_module("none", temperature=32)


@pytest.mark.parametrize(
    "kind, settings",
    [
        ("self_attention", {"heads": 0}),
        ("self_attention", {"temperature": 0}),
        ("self_attention", {"geometry": 1}),
        ("source_target_attention", {"dropout": 1.0}),
        ("source_target_attention", {"key_dim": 2.5}),
        ("lambda", {"intra_depth": -1}),
        ("lambda", {"temperature": float("inf")}),
    ],
)
def test_bad_settings_are_refused_with_their_value(kind, settings):
    name, value = next(iter(settings.items()))
    with pytest.raises(ValueError, match=f"`{name}`.*Received: {name}="):
        relation_module(kind, **settings)
