"""The RSA layer profile: per layer and reference, the similarity, its bootstrap interval, p-value, noise ceiling; plots."""

from __future__ import annotations

import csv
import json

import keras
import numpy as np
import pytest
from keras import layers

from keras_geo import explain
from keras_geo.datasets.textures import texture_stimuli
from keras_geo.explain import _rsa_report
from tests import one_line

N_BOOTSTRAP, N_PERMUTATIONS = 40, 40


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(0)  # weights that leave no layer silent for a stimulus (correlation distance defined)
    inputs = keras.Input((48, 48, 1))
    x = layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(6, 3, activation="relu", name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(3, name="dense")(x)
    return keras.Model(inputs, outputs, name="tiny")


@pytest.fixture(scope="module")
def stimuli():
    images, labels, categories = texture_stimuli(2, 48, seed=0)  # 16 stimuli, 8 categories of 2
    return images, labels, categories


@pytest.fixture(scope="module")
def references(stimuli):
    """The category model (one RDM) and three noisy 'subjects' seeing the pixels (a noise ceiling)."""
    images, labels, _ = stimuli
    rng = np.random.default_rng(0)
    pixels = images.reshape(len(images), -1)
    subjects = [explain.rdm(pixels + rng.normal(scale=0.3, size=pixels.shape)) for _ in range(3)]
    return {"IT-like": explain.it_reference(labels), "pixels": subjects}


@pytest.fixture(scope="module")
def profile(tiny, stimuli, references):
    return explain.layer_profile(
        tiny, stimuli[0], references, n_bootstrap=N_BOOTSTRAP, n_permutations=N_PERMUTATIONS, seed=3
    )


def test_the_profile_has_a_row_per_default_layer_and_a_column_per_reference(profile, tiny):
    assert profile.layers == tuple(explain.default_layers(tiny)) == ("conv1", "pool1", "conv2", "gap", "dense")
    assert profile.references == ("IT-like", "pixels")
    for values in (profile.similarity, profile.low, profile.high, profile.p_value):
        assert values.shape == (5, 2) and np.all(np.isfinite(values))
    assert profile.n_stimuli == 16 and set(profile.rdms) == set(profile.layers)


def test_the_numbers_are_those_of_the_rsa_statistics_with_one_seed_for_every_layer(profile, tiny, stimuli, references):
    rdms = explain.layer_rdms(explain.layer_activations(tiny, stimuli[0]))
    for i, layer in enumerate(profile.layers):
        np.testing.assert_allclose(profile.rdms[layer].vector(), rdms[layer].vector(), atol=1e-12)
        for j, name in enumerate(profile.references):
            interval = explain.bootstrap(rdms[layer], references[name], n_bootstrap=N_BOOTSTRAP, seed=3)
            test = explain.permutation_test(rdms[layer], references[name], n_permutations=N_PERMUTATIONS, seed=3)
            assert profile.similarity[i, j] == pytest.approx(interval.estimate, abs=1e-12)
            assert (profile.low[i, j], profile.high[i, j]) == pytest.approx((interval.low, interval.high), abs=1e-12)
            assert profile.p_value[i, j] == pytest.approx(test.p_value, abs=1e-12)
    single = profile.references.index("IT-like")
    assert profile.similarity[0, single] == pytest.approx(explain.compare(rdms["conv1"], references["IT-like"]))


def test_the_intervals_contain_the_estimates(profile):
    assert np.all(profile.low <= profile.similarity) and np.all(profile.similarity <= profile.high)
    assert np.all(profile.low < profile.high)


def test_a_noise_ceiling_only_for_a_reference_of_several_rdms(profile, references):
    assert set(profile.noise_ceilings) == {"pixels"}
    expected = explain.noise_ceiling(references["pixels"])
    assert profile.noise_ceilings["pixels"].lower == pytest.approx(expected.lower)
    assert profile.noise_ceilings["pixels"].upper == pytest.approx(expected.upper)


def test_chosen_layers_in_the_order_asked_and_no_statistics_when_asked_for_none(tiny, stimuli, references):
    profile = explain.layer_profile(
        tiny, stimuli[0], references, layers=["gap", "conv1"], n_bootstrap=0, n_permutations=0, compare_method="tau_a"
    )
    assert profile.layers == ("gap", "conv1") and profile.compare_method == "tau_a"
    assert np.all(np.isfinite(profile.similarity))
    assert np.all(np.isnan(profile.low)) and np.all(np.isnan(profile.p_value))
    row = profile.to_rows()[0]
    assert row["ci_low"] is None and row["p_value"] is None and row["noise_ceiling_lower"] is None
    assert "similarity" in profile.to_text() and "[" not in profile.to_text().splitlines()[1]


def test_layers_are_read_in_groups_that_fit_the_memory_bound(tiny, stimuli, references, monkeypatch, profile):
    calls = []
    read = explain.layer_activations

    def spy(model, x, names, **kwargs):
        calls.append(list(names))
        return read(model, x, names, **kwargs)

    monkeypatch.setattr(_rsa_report.rsa, "layer_activations", spy)
    monkeypatch.setattr(_rsa_report, "_ACTIVATION_BYTES", 16 * 23 * 23 * 4 * 4)  # conv1's activations, no more
    again = explain.layer_profile(
        tiny, stimuli[0], references, n_bootstrap=N_BOOTSTRAP, n_permutations=N_PERMUTATIONS, seed=3
    )
    assert calls[0] == ["conv1"] and len(calls) > 1 and sum(calls, []) == list(profile.layers)
    np.testing.assert_array_equal(again.similarity, profile.similarity)
    np.testing.assert_array_equal(again.low, profile.low)


def test_rows_csv_and_json_hold_the_numbers(profile, tmp_path):
    rows = profile.to_rows()
    assert len(rows) == 10 and [r["layer"] for r in rows[:2]] == ["conv1", "conv1"]
    with profile.to_csv(tmp_path / "rsa.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == list(_rsa_report._COLUMNS)
    for row, written in zip(rows, table):
        assert written["layer"] == row["layer"] and written["reference"] == row["reference"]
        assert float(written["similarity"]) == pytest.approx(row["similarity"], abs=1e-12)
        assert float(written["ci_low"]) == pytest.approx(row["ci_low"], abs=1e-12)
        assert float(written["p_value"]) == pytest.approx(row["p_value"], abs=1e-12)
    assert {w["noise_ceiling_lower"] == "" for w in table if w["reference"] == "IT-like"} == {True}
    assert {w["noise_ceiling_lower"] != "" for w in table if w["reference"] == "pixels"} == {True}

    document = json.loads(profile.to_json(tmp_path / "rsa.json", model="tiny.keras").read_text())
    assert document["model"] == "tiny.keras" and document["n_stimuli"] == 16
    assert document["rdm_method"] == "correlation" and document["compare_method"] == "spearman"
    assert document["n_bootstrap"] == N_BOOTSTRAP and document["seed"] == 3
    assert document["rows"] == rows and document["layers"] == list(profile.layers)
    assert document["references"]["IT-like"] == {
        "n_rdms": 1,
        "noise_ceiling": None,
        "best_layer": profile.best_layer("IT-like"),
    }
    assert document["references"]["pixels"]["n_rdms"] == 3
    assert document["references"]["pixels"]["noise_ceiling"]["lower"] == pytest.approx(
        profile.noise_ceilings["pixels"].lower
    )


def test_the_progress_bar_counts_layers(tiny, stimuli, references, capsys):
    explain.layer_profile(tiny, stimuli[0], references, n_bootstrap=0, n_permutations=0, progress=True)
    assert "5/5" in capsys.readouterr().err


def test_plot_profile_draws_a_line_and_a_band_per_reference_and_the_ceiling(profile, tmp_path):
    figure = explain.plot_profile(profile, tmp_path / "profile.png")
    assert (tmp_path / "profile.png").stat().st_size > 5000
    (axis,) = figure.axes
    assert [tick.get_text() for tick in axis.get_xticklabels()] == list(profile.layers)
    assert all(tick.get_rotation() > 0 for tick in axis.get_xticklabels())
    labelled = {line.get_label(): line for line in axis.get_lines() if not line.get_label().startswith("_")}
    assert set(labelled) == {"IT-like", "pixels"}
    np.testing.assert_allclose(labelled["pixels"].get_ydata(), profile.similarity[:, 1])
    handles, names = axis.get_legend_handles_labels()
    assert names == ["noise ceiling (pixels)", "IT-like", "pixels"]
    band = handles[0].get_bbox()  # axhspan: x in axes coordinates, y in data
    assert (band.y0, band.y1) == pytest.approx(
        (profile.noise_ceilings["pixels"].lower, profile.noise_ceilings["pixels"].upper)
    )
    bands = [c for c in axis.collections if c.get_label().startswith("_")]  # the intervals, one per reference
    assert len(bands) == 2
    assert "Spearman" in axis.get_ylabel()


def test_plot_rdms_shares_one_colour_bar_and_draws_category_boundaries(profile, stimuli, tmp_path):
    _, labels, categories = stimuli
    rdms = {**profile.rdms, "IT-like": profile.reference_rdms["IT-like"][0]}
    names = [categories[label] for label in labels]
    figure = explain.plot_rdms(rdms, tmp_path / "rdms.png", labels=names, rank=True)
    assert (tmp_path / "rdms.png").stat().st_size > 5000
    panels = [axis for axis in figure.axes if axis.images]
    assert [axis.get_title() for axis in panels] == list(rdms)
    colour_bars = [axis for axis in figure.axes if not axis.images]
    assert len(colour_bars) == 1 and "percentile" in colour_bars[0].get_ylabel()
    assert all(axis.images[0].get_clim() == (0.0, 100.0) for axis in panels)
    assert all(len(axis.get_lines()) == 2 * 7 for axis in panels)  # 8 categories: 7 boundaries each way
    assert [t.get_text() for t in panels[0].get_yticklabels()] == list(categories)
    shown = panels[-1].images[0].get_array()
    assert shown.shape == (16, 16) and shown[0, 1] < shown[0, 2]  # same category: lower rank


def test_plot_rdms_without_ranks_uses_one_scale(profile):
    figure = explain.plot_rdms({"a": profile.rdms["conv1"], "b": profile.rdms["dense"]})
    high = max(r.vector().max() for r in (profile.rdms["conv1"], profile.rdms["dense"]))
    clims = {axis.images[0].get_clim() for axis in figure.axes if axis.images}
    (clim,) = clims  # one scale: the diagonal's zero to the largest dissimilarity of either
    assert clim == (0.0, pytest.approx(high))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"stimuli": "two"}, "RSA needs at least 3 stimuli. Received: 2"),
        ({"references": "mismatched"}, "reference 'short' describes 5 stimuli, but 16 stimuli were given"),
        ({"layers": ["conv1", "nope"]}, "no layer named 'nope' in model 'tiny'"),
        ({"layers": ["conv"]}, "Did you mean"),
        ({"references": {}}, "`references` must map at least one name"),
        ({"rdm_method": "crossnobis"}, "`rdm_method` must be one of 'correlation', 'euclidean', 'cosine'"),
        ({"compare_method": "kendall"}, "`method` must be one of"),
        ({"n_bootstrap": 1}, "`n_bootstrap` must be 0 (no intervals) or an integer >= 2"),
        ({"n_permutations": -1}, "`n_permutations` must be 0 (no tests) or an integer >= 2"),
        ({"confidence": 1.0}, "`confidence` must be in (0, 1)"),
    ],
)
def test_bad_input_raises_one_line(tiny, stimuli, references, change, message):
    arguments = {"stimuli": stimuli[0], "references": references, "n_bootstrap": 0, "n_permutations": 0}
    arguments.update(change)
    if change.get("stimuli") == "two":
        arguments["stimuli"] = stimuli[0][:2]
    if change.get("references") == "mismatched":
        arguments["references"] = {**references, "short": explain.rdm(np.random.default_rng(0).normal(size=(5, 4)))}
    with pytest.raises(ValueError) as error:
        explain.layer_profile(tiny, arguments.pop("stimuli"), arguments.pop("references"), **arguments)
    assert message in one_line(error)


def test_an_unknown_layer_is_refused_naming_every_layer_before_any_forward_pass(tiny, stimuli, references, monkeypatch):
    monkeypatch.setattr(_rsa_report.rsa, "layer_activations", lambda *a, **k: pytest.fail("ran the model"))
    with pytest.raises(ValueError) as error:
        explain.layer_profile(tiny, stimuli[0], references, layers=["conv1", "nope"])
    assert "Layers: " in one_line(error) and all(name in str(error.value) for name in ("conv1", "pool1", "gap"))


def test_a_layer_without_a_similarity_is_named_with_its_reference(stimuli, references):
    inputs = keras.Input((48, 48, 1))
    x = layers.GlobalAveragePooling2D(name="gap")(inputs)
    model = keras.Model(inputs, layers.Dense(2, name="dense")(x), name="flat")
    # One unit per stimulus in "gap": no correlation distance (a constant pattern); Euclidean works.
    with pytest.raises(ValueError) as error:
        explain.layer_profile(model, stimuli[0], references, n_bootstrap=0, n_permutations=0)
    assert "layer 'gap'" in one_line(error)
    explain.layer_profile(model, stimuli[0], references, rdm_method="euclidean", n_bootstrap=0, n_permutations=0)


def test_plot_rdms_refuses_mismatched_rdms_and_labels(profile, references):
    with pytest.raises(ValueError, match="same stimuli"):
        explain.plot_rdms({"a": profile.rdms["conv1"], "b": explain.rdm(np.eye(4) + 1)})
    with pytest.raises(ValueError, match="`labels` must name each of the 16 stimuli"):
        explain.plot_rdms(profile.rdms, labels=["x"] * 3)
    with pytest.raises(ValueError, match="at least one"):
        explain.plot_rdms({})
