"""Search spaces: parsing, validation, grid/sampler, genome encoding, hashing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpo.space import Choice, Fixed, Float, Int, Space, canonical_json, params_hash

SPEC = {
    "filters": {"type": "int", "low": 8, "high": 64, "log": True},
    "units": {"type": "int", "low": 16, "high": 128, "step": 16},
    "dense_layers": {"type": "int", "low": 0, "high": 3},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5, "active_if": {"dense_layers": {"gt": 1}}},
    "activation": ["relu", "elu", None, True],
    "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "epochs": 20,
}


@pytest.fixture(scope="module")
def space() -> Space:
    return Space.from_dict(SPEC)


# --------------------------------------------------------------------------- parsing
def test_from_dict_types_and_shorthand(space: Space) -> None:
    assert list(space) == list(SPEC)
    assert space["filters"] == Int(8, 64, log=True)
    assert space["units"] == Int(16, 128, step=16)
    assert space["activation"] == Choice(("relu", "elu", None, True))
    assert space["lr"] == Float(1e-4, 1e-2, log=True)
    assert space["epochs"] == Fixed(20)
    assert space.dims == ("filters", "units", "dense_layers", "dropout", "activation", "lr")


def test_to_dict_round_trip(space: Space) -> None:
    again = Space.from_dict(space.to_dict())
    assert again == space
    assert again.to_dict() == space.to_dict()


def test_type_aliases_and_choice_keys() -> None:
    s = Space.from_dict({"a": {"type": "categorical", "values": [1, 2]}, "b": {"type": "integer", "low": 1, "high": 2}})
    assert s["a"] == Choice((1, 2)) and s["b"] == Int(1, 2)


@pytest.mark.parametrize(
    "spec, fragments",
    [
        (
            {"lr": {"type": "float", "low": 0.1, "high": 0.01}},
            ["parameter 'lr'", "low must be < high", "low=0.1, high=0.01"],
        ),
        (
            {"lr": {"type": "float", "low": 0.0, "high": 1.0, "log": True}},
            ["parameter 'lr'", "log scale needs low > 0"],
        ),
        ({"n": {"type": "int", "low": 0, "high": 10, "log": True}}, ["parameter 'n'", "log scale needs low > 0"]),
        ({"n": {"type": "int", "low": 5, "high": 1}}, ["parameter 'n'", "low must be <= high", "low=5, high=1"]),
        ({"n": {"type": "int", "low": 1.5, "high": 3}}, ["parameter 'n'", "low must be an integer"]),
        (
            {"x": {"type": "normal", "low": 0, "high": 1}},
            ["parameter 'x'", "unknown type 'normal'", "choice", "float", "int"],
        ),
        ({"x": {"type": "float", "low": 0, "high": 1, "lg": True}}, ["parameter 'x'", "unknown keys ['lg']", "log"]),
        ({"x": {"type": "float", "low": 0}}, ["parameter 'x'", "needs high"]),
        ({"x": {"low": 0, "high": 1}}, ["parameter 'x'", "needs a 'type'"]),
        ({"act": {"type": "choice", "options": []}}, ["parameter 'act'", "options must not be empty"]),
        ({"act": ["relu", "relu"]}, ["parameter 'act'", "distinct"]),
        ({"act": [[1, 2], 3]}, ["parameter 'act'", "plain JSON scalars"]),
        (
            {
                "d": {"type": "float", "low": 0, "high": 1, "active_if": {"n": {"gt": 1}}},
                "n": {"type": "int", "low": 0, "high": 3},
            },
            ["parameter 'd'", "'n'", "declared before"],
        ),
        (
            {
                "n": {"type": "int", "low": 0, "high": 3},
                "d": {"type": "float", "low": 0, "high": 1, "active_if": {"n": {"bigger": 1}}},
            },
            ["parameter 'd'", "unknown operator 'bigger'"],
        ),
    ],
)
def test_spec_errors_name_the_parameter(spec: dict, fragments: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        Space.from_dict(spec)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    "params, fragments",
    [
        ({"units": 16}, ["parameter 'filters' is missing"]),
        (
            dict(filters=65, units=16, dense_layers=0, activation="relu", lr=1e-3, epochs=20),
            ["parameter 'filters'", "[8, 64]", "65"],
        ),
        (
            dict(filters=8, units=20, dense_layers=0, activation="relu", lr=1e-3, epochs=20),
            ["parameter 'units'", "step 16"],
        ),
        (
            dict(filters=8, units=16, dense_layers=0, activation="tanh", lr=1e-3, epochs=20),
            ["parameter 'activation'", "one of", "'relu'"],
        ),
        (dict(filters=8, units=16, dense_layers=0, activation="relu", lr=1.0, epochs=20), ["parameter 'lr'", "0.01"]),
        (
            dict(filters=8, units=16, dense_layers=0, activation="relu", lr=1e-3, epochs=21),
            ["parameter 'epochs'", "20"],
        ),
        (
            dict(filters=8, units=16, dense_layers=0, dropout=0.1, activation="relu", lr=1e-3, epochs=20),
            ["parameter 'dropout'", "inactive"],
        ),
        (
            dict(filters=8, units=16, dense_layers=2, activation="relu", lr=1e-3, epochs=20),
            ["parameter 'dropout' is missing"],
        ),
        (
            dict(filters=8, units=16, dense_layers=0, activation="relu", lr=1e-3, epochs=20, bogus=1),
            ["unknown parameter", "bogus"],
        ),
    ],
)
def test_validate_errors_name_the_parameter(space: Space, params: dict, fragments: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        space.validate(params)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert not space.contains(params)


def test_canonical_coerces_types(space: Space) -> None:
    p = space.canonical(
        dict(
            filters=np.int64(16),
            units=32.0,
            dense_layers=2,
            dropout=np.float32(0.25),
            activation=True,
            lr=0.001,
            epochs=20.0,
        )
    )
    assert p == dict(filters=16, units=32, dense_layers=2, dropout=0.25, activation=True, lr=0.001, epochs=20)
    assert all(type(v) in (int, float, str, bool, type(None)) for v in p.values())
    assert type(p["filters"]) is int and type(p["units"]) is int and type(p["dropout"]) is float
    # True is a distinct option from 1 (JSON identity), so 1 is not accepted for it
    assert not Space({"a": Choice((True, "x"))}).contains({"a": 1})


# --------------------------------------------------------------------------- conditions
def test_conditional_param_absent_when_inactive(space: Space) -> None:
    rng = np.random.default_rng(0)
    seen_active = seen_inactive = False
    for _ in range(200):
        p = space.sample(rng)
        if p["dense_layers"] > 1:
            assert 0.0 <= p["dropout"] <= 0.5
            seen_active = True
        else:
            assert "dropout" not in p
            seen_inactive = True
        space.validate(p)
    assert seen_active and seen_inactive


def test_condition_forms() -> None:
    s = Space.from_dict(
        {
            "opt": ["sgd", "adam", "rmsprop"],
            "momentum": {"type": "float", "low": 0, "high": 0.99, "active_if": {"opt": "sgd"}},
            "beta": {"type": "float", "low": 0.8, "high": 0.999, "active_if": {"opt": ["adam", "rmsprop"]}},
            "nesterov": {"type": "choice", "options": [True, False], "active_if": {"momentum": {">=": 0.5}}},
        }
    )
    assert s.prune({"opt": "sgd", "momentum": 0.9, "beta": 0.9, "nesterov": True}) == {
        "opt": "sgd",
        "momentum": 0.9,
        "nesterov": True,
    }
    assert s.prune({"opt": "sgd", "momentum": 0.1, "beta": 0.9, "nesterov": True}) == {"opt": "sgd", "momentum": 0.1}
    # nested: nesterov depends on momentum, which is inactive for adam
    assert s.prune({"opt": "adam", "momentum": 0.9, "beta": 0.9, "nesterov": True}) == {"opt": "adam", "beta": 0.9}


# --------------------------------------------------------------------------- grid & sampler
def test_grid_is_deterministic_complete_and_conditional() -> None:
    s = Space.from_dict(
        {"n": {"type": "int", "low": 1, "high": 3}, "act": ["a", "b"], "x": {"type": "float", "low": 0, "high": 1}}
    )
    pts = list(s.grid(n_per_float=3))
    assert len(pts) == 3 * 2 * 3
    assert pts == list(s.grid(n_per_float=3))
    assert {p["x"] for p in pts} == {0.0, 0.5, 1.0}
    c = Space.from_dict(
        {
            "layers": {"type": "int", "low": 0, "high": 2},
            "drop": {"type": "float", "low": 0.0, "high": 0.4, "active_if": {"layers": {"gt": 0}}},
        }
    )
    pts = list(c.grid(n_per_float=3))
    # layers=0 gives one point (drop inactive), layers 1 and 2 three each; no duplicates
    assert len(pts) == 1 + 3 + 3
    assert len({params_hash(p) for p in pts}) == len(pts)


def test_grid_caps_integers_and_uses_log_spacing() -> None:
    s = Space({"f": Int(8, 512, log=True), "lr": Float(1e-4, 1e-1, log=True)})
    values = s.grid_values(n_per_float=4, max_per_int=5)
    assert values["f"][0] == 8 and values["f"][-1] == 512 and len(values["f"]) == 5
    assert values["f"] == sorted(values["f"]) and values["f"][2] == 64  # geometric middle
    assert values["lr"] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])


def test_sampler_valid_deterministic_and_log_uniform(space: Space) -> None:
    a = space.sampler(400, seed=3)
    assert a == space.sampler(400, seed=3)
    assert a != space.sampler(400, seed=4)
    for p in a:
        space.validate(p)
    lrs = np.array([p["lr"] for p in a])
    # log-uniform on [1e-4, 1e-2]: the median is near 1e-3 (uniform would give ~5e-3)
    assert 5e-4 < np.median(lrs) < 2e-3
    assert {p["activation"] for p in a} == {"relu", "elu", None, True}
    assert {p["units"] for p in a} <= set(range(16, 129, 16))


def test_sample_prior_covers_integer_bounds() -> None:
    s = Space({"n": Int(1, 4), "f": Int(1, 100, log=True)})
    rng = np.random.default_rng(1)
    draws = [s.sample(rng) for _ in range(2000)]
    counts = np.bincount([d["n"] for d in draws], minlength=5)[1:]
    assert counts.min() > 400  # uniform over the 4 values, bounds included
    f = np.array([d["f"] for d in draws])
    assert f.min() == 1 and f.max() == 100
    assert 6 < np.median(f) < 16  # log-uniform: median ~ 10


# --------------------------------------------------------------------------- genome
def test_encode_decode_round_trip(space: Space) -> None:
    rng = np.random.default_rng(2)
    for _ in range(300):
        p = space.sample(rng)
        g = space.encode(p)
        assert len(g) == len(space.dims)
        assert all(0.0 <= x <= 1.0 for x in g)
        assert space.decode(g) == p


def test_decode_any_genome_is_valid(space: Space) -> None:
    rng = np.random.default_rng(3)
    for _ in range(300):
        g = rng.uniform(-0.2, 1.2, size=len(space.dims))  # out-of-range genes are clipped
        space.validate(space.decode(g.tolist()))
    with pytest.raises(ValueError, match="genome has 2 genes"):
        space.decode([0.5, 0.5])


def test_log_scale_encoding() -> None:
    s = Space({"lr": Float(1e-4, 1e-2, log=True), "f": Int(8, 64, log=True)})
    assert s.encode({"lr": 1e-3, "f": 8})[0] == pytest.approx(0.5)
    assert s.decode([0.5, 0.0]) == {"lr": 0.001, "f": 8}
    assert s.decode([1.0, 1.0]) == {"lr": 0.01, "f": 64}


def test_inactive_genes_are_ignored(space: Space) -> None:
    base = dict(filters=8, units=16, dense_layers=0, activation="relu", lr=1e-3, epochs=20)
    g = space.encode(base, fill=0.123)
    assert g[space.dims.index("dropout")] == 0.123
    for v in (0.0, 0.7, 1.0):
        g[space.dims.index("dropout")] = v
        assert space.decode(g) == base


# --------------------------------------------------------------------------- hashing
def test_hash_ignores_key_order_and_int_float() -> None:
    a = {"units": 32, "lr": 0.001, "act": "relu"}
    b = {"act": "relu", "lr": 0.001, "units": 32.0}
    assert params_hash(a) == params_hash(b)
    assert canonical_json(a) == '{"act":"relu","lr":0.001,"units":32}'
    assert params_hash({"lr": 0.1 + 0.2}) == params_hash({"lr": 0.3})  # rounded to 12 digits
    assert params_hash({"lr": 0.001}) != params_hash({"lr": 0.0011})
    assert params_hash({"flag": True}) != params_hash({"flag": 1})
    assert params_hash({"x": None}) != params_hash({})
    assert len(params_hash(a)) == 64


def test_space_hash_is_stable_across_types(space: Space) -> None:
    p = dict(filters=16, units=32, dense_layers=2, dropout=0.25, activation="elu", lr=0.001, epochs=20)
    q = {k: (float(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in reversed(list(p.items()))}
    assert space.params_hash(p) == space.params_hash(q) == params_hash(p)
    # a known value pins the canonical form across versions/processes
    assert canonical_json(p) == (
        '{"activation":"elu","dense_layers":2,"dropout":0.25,"epochs":20,"filters":16,"lr":0.001,"units":32}'
    )


def test_params_must_be_plain_json() -> None:
    with pytest.raises(TypeError, match="plain JSON scalars"):
        params_hash({"a": [1, 2]})
    with pytest.raises(ValueError, match="finite"):
        params_hash({"a": math.nan})
    with pytest.raises(ValueError, match="plain JSON scalar"):
        Fixed({"a": 1})


def test_cardinality(space: Space) -> None:
    assert space.cardinality() is None
    assert Space({"a": Int(0, 3), "b": Choice(("x", "y")), "c": Fixed(1)}).cardinality() == 8
