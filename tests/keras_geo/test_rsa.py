"""Representational similarity analysis: RDMs and comparisons equal to rsatoolbox's, statistics, references, activations."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
import rsatoolbox
from keras import layers
from scipy.spatial.distance import pdist

from keras_geo import explain
from keras_geo.explain import rsa
from keras_geo.models import build_filler_cnn, build_mobilenet_v2_classifier
from tests import one_line

# Our comparison names and rsatoolbox's.
COMPARISONS = {"spearman": "spearman", "tau_a": "tau-a", "pearson": "corr", "cosine": "cosine"}


@pytest.fixture(scope="module")
def patterns():
    rng = np.random.default_rng(0)
    return rng.normal(size=(24, 50))


@pytest.fixture(scope="module")
def related(patterns):
    """Two RDMs of the same 24 stimuli that share structure, and one that does not."""
    rng = np.random.default_rng(1)
    a = explain.rdm(patterns)
    b = explain.rdm(patterns + rng.normal(size=patterns.shape))
    unrelated = explain.rdm(rng.normal(size=patterns.shape))
    return a, b, unrelated


# ---- RDMs and comparisons, against rsatoolbox ----------------------------------------------


@pytest.mark.parametrize("method", ["correlation", "euclidean"])
def test_rdm_equals_rsatoolbox(patterns, method):
    ours = explain.rdm(patterns, method)
    theirs = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(patterns), method=method)
    np.testing.assert_allclose(ours.vector(), theirs.get_vectors()[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.square(), theirs.get_matrices()[0], rtol=0, atol=1e-6)
    assert ours.n_stimuli == 24 and ours.method == method


@pytest.mark.parametrize("method", ["correlation", "euclidean", "cosine"])
def test_wide_patterns_taken_a_block_of_units_at_a_time_give_the_same_rdm(patterns, method, monkeypatch):
    whole = explain.rdm(patterns.astype(np.float32), method).vector()
    monkeypatch.setattr(rsa, "_CHUNK_VALUES", 24 * 7)  # blocks of 7 units
    np.testing.assert_allclose(explain.rdm(patterns.astype(np.float32), method).vector(), whole, atol=1e-12)


def repeats_dataset(responses):
    n_repeats, n_stimuli, units = responses.shape
    return rsatoolbox.data.Dataset(
        responses.reshape(-1, units),
        obs_descriptors={
            # zero-padded, so that rsatoolbox's alphabetical sort keeps our stimulus order
            "stimulus": np.tile([f"s{i:03d}" for i in range(n_stimuli)], n_repeats),
            "repeat": np.repeat(np.arange(n_repeats), n_stimuli),
        },
    )


@pytest.mark.parametrize("with_noise", [False, True])
def test_crossnobis_equals_rsatoolbox(with_noise):
    rng = np.random.default_rng(2)
    responses = rng.normal(size=(4, 12, 20)) + rng.normal(size=(1, 12, 20))
    noise = np.linalg.inv(np.cov(rng.normal(size=(200, 20)).T)) if with_noise else None
    ours = explain.rdm(responses, "crossnobis", noise=noise)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rsatoolbox casts its string descriptors
        theirs = rsatoolbox.rdm.calc_rdm(
            repeats_dataset(responses), method="crossnobis", descriptor="stimulus", cv_descriptor="repeat", noise=noise
        )
    np.testing.assert_allclose(ours.vector(), theirs.get_vectors()[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", ["correlation", "euclidean"])
def test_repeats_are_averaged_as_rsatoolbox_averages_by_descriptor(method):
    responses = np.random.default_rng(3).normal(size=(3, 10, 15))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rsatoolbox casts its string descriptors
        theirs = rsatoolbox.rdm.calc_rdm(repeats_dataset(responses), method=method, descriptor="stimulus")
    np.testing.assert_allclose(explain.rdm(responses, method).vector(), theirs.get_vectors()[0], atol=1e-6)


def test_cosine_rdm_equals_scipy(patterns):
    # rsatoolbox has no cosine-distance RDM
    np.testing.assert_allclose(explain.rdm(patterns, "cosine").vector(), pdist(patterns, "cosine"), atol=1e-6)


@pytest.mark.parametrize("method", list(COMPARISONS))
@pytest.mark.parametrize("ties", [False, True])
def test_comparison_equals_rsatoolbox(related, method, ties):
    a, b, _ = related
    va, vb = a.vector(), b.vector()
    if ties:  # coarse RDMs, as categorical models give: Spearman's average ranks, tau-a's zero for ties
        va, vb = np.round(va * 4), np.round(vb * 4)
    ours = explain.compare(va, vb, method)
    theirs = rsatoolbox.rdm.compare(va, vb, method=COMPARISONS[method])[0, 0]
    assert ours == pytest.approx(theirs, abs=1e-6)
    # An RDM object, its square matrix and its upper triangle are the same input.
    assert explain.compare(a, b, method) == pytest.approx(explain.compare(a.square(), b.vector(), method), abs=1e-12)


@pytest.mark.parametrize("method", list(COMPARISONS))
def test_an_rdm_compared_with_itself_gives_one(related, method):
    a, _, _ = related
    assert explain.compare(a, a, method) == 1.0
    assert explain.compare(a, a.vector() * 3.0, method) == pytest.approx(1.0, abs=1e-12)


def test_tau_a_of_a_tied_rdm_with_itself_counts_the_ties():
    tied = np.array([1.0, 1.0, 2.0, 3.0, 3.0, 3.0])  # 4 stimuli; 1 + 3 tied pairs of 15
    assert explain.compare(tied, tied, "tau_a") == pytest.approx(1 - 4 / 15)
    assert explain.compare(tied, tied, "tau-a") == pytest.approx(rsatoolbox.rdm.compare(tied, tied, "tau-a")[0, 0])


@pytest.mark.parametrize("method", list(COMPARISONS))
def test_noise_ceiling_equals_rsatoolbox(patterns, method):
    rng = np.random.default_rng(4)
    subjects = np.stack([explain.rdm(patterns + 2.0 * rng.normal(size=patterns.shape)).vector() for _ in range(5)])
    ceiling = explain.noise_ceiling([rsa.RDM(v, 24) for v in subjects], method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rsatoolbox: "Noise ceiling for tau based on averaged ranks"
        lower, upper = rsatoolbox.inference.boot_noise_ceiling(
            rsatoolbox.rdm.RDMs(subjects), method=COMPARISONS[method]
        )
    assert ceiling.lower == pytest.approx(lower, abs=1e-6) and ceiling.upper == pytest.approx(upper, abs=1e-6)
    assert ceiling.lower <= ceiling.upper


def test_noise_ceiling_falls_with_noisier_subjects(patterns):
    rng = np.random.default_rng(5)

    def subjects(noise):
        return [explain.rdm(patterns + noise * rng.normal(size=patterns.shape)) for _ in range(6)]

    quiet, noisy = explain.noise_ceiling(subjects(0.5)), explain.noise_ceiling(subjects(1.5))
    assert 0 < noisy.lower < noisy.upper < quiet.lower < quiet.upper <= 1.0
    # The true structure, unseen by the subjects, lies within the quiet ceiling's reach.
    truth = explain.rdm(patterns)
    assert np.mean([explain.compare(truth, s) for s in subjects(0.5)]) > quiet.lower - 0.05


# ---- bootstrap and permutation test -----------------------------------------------------------


def test_bootstrap_samples_equal_rsatoolbox_subsampled_patterns(related):
    a, b, _ = related
    result = explain.bootstrap(a, b, "spearman", n_bootstrap=50, seed=3)
    theirs_a, theirs_b = rsatoolbox.rdm.RDMs(a.vector()), rsatoolbox.rdm.RDMs(b.vector())
    for k in range(5):
        drawn = result.indices[k]
        expected = rsatoolbox.rdm.compare(
            theirs_a.subsample_pattern("index", drawn), theirs_b.subsample_pattern("index", drawn), "spearman"
        )[0, 0]
        assert result.samples[k] == pytest.approx(expected, abs=1e-6)


def test_bootstrap_interval_contains_the_estimate_and_is_seeded(related):
    a, b, _ = related
    result = explain.bootstrap(a, b, "pearson", n_bootstrap=300, seed=7)
    assert result.low < result.estimate < result.high
    assert result.estimate == pytest.approx(explain.compare(a, b, "pearson"))
    assert result.samples.shape == (300,) and result.n_undefined == 0 and 0 < result.std < 0.2
    again = explain.bootstrap(a, b, "pearson", n_bootstrap=300, seed=7)
    np.testing.assert_array_equal(again.samples, result.samples)
    other = explain.bootstrap(a, b, "pearson", n_bootstrap=300, seed=8)
    assert not np.array_equal(other.samples, result.samples)
    # One seed draws the same stimuli for every RDM compared (paired intervals across layers).
    np.testing.assert_array_equal(explain.bootstrap(b, a, "tau_a", n_bootstrap=300, seed=7).indices, result.indices)
    wider = explain.bootstrap(a, b, "pearson", n_bootstrap=300, seed=7, confidence=0.99)
    assert wider.low <= result.low and wider.high >= result.high


def test_bootstrap_drops_samples_where_a_categorical_rdm_is_constant():
    # Two categories of 4: a draw from one category only leaves the model RDM constant (undefined Spearman).
    category = np.repeat([0, 1], 4)
    model = (category[:, None] != category[None, :]).astype(float)
    data = model + np.random.default_rng(13).normal(scale=0.3, size=(8, 8))
    data = np.abs(data + data.T) * (1 - np.eye(8))
    result = explain.bootstrap(model, data, "spearman", n_bootstrap=1000, seed=0)
    assert 0 < result.n_undefined < 50 and result.samples.size == 1000 - result.n_undefined
    assert np.all(np.isfinite(result.samples))
    assert explain.bootstrap(model, data, "tau_a", n_bootstrap=1000, seed=0).n_undefined == 0


def test_bootstrap_against_several_reference_rdms_averages_them(related):
    a, b, unrelated = related
    result = explain.bootstrap(a, [b, unrelated], "spearman", n_bootstrap=20)
    expected = (explain.compare(a, b) + explain.compare(a, unrelated)) / 2
    assert result.estimate == pytest.approx(expected)
    as_vectors = explain.bootstrap(a.vector(), [b.vector(), unrelated.vector()], "spearman", n_bootstrap=20)
    as_matrices = explain.bootstrap(a.square(), np.stack([b.square(), unrelated.square()]), n_bootstrap=20)
    np.testing.assert_array_equal(as_vectors.samples, result.samples)
    np.testing.assert_array_equal(as_matrices.samples, result.samples)


def test_permutation_test_separates_related_from_unrelated_rdms(related):
    a, b, unrelated = related
    significant = explain.permutation_test(a, b, n_permutations=200, seed=0)
    assert significant.p_value == pytest.approx(1 / 201) and not significant.exact
    assert significant.null.shape == (200,) and abs(significant.null.mean()) < 0.05
    # Under the null hypothesis p is uniform: unrelated RDMs give all sorts of p, rarely small ones.
    rng = np.random.default_rng(9)
    p_values = [
        explain.permutation_test(
            explain.rdm(rng.normal(size=(12, 8))), explain.rdm(rng.normal(size=(12, 8))), n_permutations=99, seed=k
        ).p_value
        for k in range(30)
    ]
    assert 0.3 < np.mean(p_values) < 0.7 and np.mean(np.array(p_values) < 0.05) < 0.2
    assert explain.permutation_test(a, unrelated, n_permutations=99).p_value > 0.05
    again = explain.permutation_test(a, b, n_permutations=200, seed=0)
    np.testing.assert_array_equal(again.null, significant.null)


def test_permutation_test_is_exact_for_few_stimuli():
    five = explain.rdm(np.random.default_rng(10).normal(size=(5, 6)))
    result = explain.permutation_test(five, five, "pearson", n_permutations=1000)
    assert result.exact and result.null.shape == (120,)
    assert result.p_value * 120 == pytest.approx(round(result.p_value * 120)) and result.p_value <= 2 / 120


# ---- errors: one line, naming what is wrong ----------------------------------------------------


def test_constant_patterns_raise_naming_the_stimuli_never_nan(patterns):
    flat = patterns[:6].copy()
    flat[[1, 4]] = 3.0
    with pytest.raises(ValueError, match=r"stimuli 1, 4 each have a constant pattern") as error:
        explain.rdm(flat, "correlation")
    one_line(error)
    with pytest.raises(ValueError, match=r"stimulus 2 \('cat'\) has a constant"):
        explain.rdm(flat[[0, 2, 4]], labels=["dog", "bird", "cat"])
    zero = patterns[:5].copy()
    zero[2] = 0.0
    with pytest.raises(ValueError, match="stimulus 2 has an all-zero pattern"):
        explain.rdm(zero, "cosine")
    assert np.all(np.isfinite(explain.rdm(flat, "euclidean").vector()))  # defined for constant patterns
    nan = patterns[:5].copy()
    nan[3, 7] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity for stimuli 3"):
        explain.rdm(nan)


def test_a_constant_rdm_cannot_be_correlated(related):
    a, _, _ = related
    for method in ("spearman", "pearson"):
        with pytest.raises(ValueError, match="`rdm_b` has the same dissimilarity for all 276 stimulus pairs") as error:
            explain.compare(a, np.ones(276), method)
        one_line(error)
    assert explain.compare(a, np.ones(276), "tau_a") == 0.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: explain.rdm(np.ones((2, 5)), "euclidean"), "at least 3 stimuli. Received: 2"),
        (lambda a: explain.compare(np.zeros((2, 2)), np.zeros((2, 2))), "at least 3 stimuli"),
        (lambda a: explain.compare(a, explain.rdm(np.eye(20))), "same stimuli. Received: 24 and 20 stimuli"),
        (lambda a: explain.bootstrap(a, [a, explain.rdm(np.eye(5))]), "same stimuli. Received: 24 and 5, 24"),
        (lambda a: explain.compare(a, a, "kendall"), "`method` must be one of"),
        (lambda a: explain.rdm(np.eye(4), "mahalanobis"), "`method` must be one of"),
        (lambda a: explain.rdm(np.eye(4), "crossnobis"), "n_repeats >= 2"),
        (lambda a: explain.rdm(np.eye(4), "euclidean", noise=np.eye(4)), "`noise` is used by method='crossnobis' only"),
        (lambda a: explain.compare(a, np.full(276, 0.1), "pearson"), "has the same dissimilarity for all 276"),
        (lambda a: explain.compare(np.ones(7), a), "n\\*\\(n-1\\)/2 entries. Received: a vector of 7"),
        (lambda a: explain.compare(np.arange(9.0).reshape(3, 3), a), "must be a symmetric RDM"),
        (lambda a: explain.noise_ceiling([a]), "at least 2 reference RDMs"),
        (lambda a: explain.noise_ceiling([a, np.ones(276)], "pearson"), "reference_rdms\\[1\\]` has the same"),
        (lambda a: explain.bootstrap(a, a, confidence=95), "`confidence` must be in \\(0, 1\\)"),
    ],
)
def test_bad_inputs_raise_one_line(related, call, message):
    with pytest.raises(ValueError, match=message) as error:
        call(related[0])
    one_line(error)


# ---- reference data from files ------------------------------------------------------------------


def test_load_reference_reads_matrices_and_responses(tmp_path, patterns):
    matrix = explain.rdm(patterns).square()
    np.save(tmp_path / "rdm.npy", matrix)
    (loaded,) = explain.load_reference(tmp_path / "rdm.npy")
    np.testing.assert_allclose(loaded.square(), matrix)
    # Responses (stimuli x units) give their RDM, by the method asked.
    np.save(tmp_path / "responses.npy", patterns)
    (loaded,) = explain.load_reference(tmp_path / "responses.npy", method="euclidean")
    np.testing.assert_allclose(loaded.vector(), explain.rdm(patterns, "euclidean").vector())
    # Several subjects: one RDM each, ready for a noise ceiling; crossnobis with repeats.
    subjects = np.stack([patterns, patterns * 2.0 + 1.0, patterns[:, ::-1]])
    np.savez(tmp_path / "subjects.npz", it=subjects, extra=np.zeros(3))
    loaded = explain.load_reference(tmp_path / "subjects.npz", key="it")
    assert len(loaded) == 3 and explain.noise_ceiling(loaded).upper == pytest.approx(1.0)
    (cv,) = explain.load_reference(tmp_path / "subjects.npz", key="it", method="crossnobis")
    np.testing.assert_allclose(cv.vector(), explain.rdm(subjects, "crossnobis").vector())
    # CSV with stimulus names.
    names = [f"tex{i}" for i in range(24)]
    lines = ["," + ",".join(names)] + [
        f"{name}," + ",".join(f"{v:.17g}" for v in row) for name, row in zip(names, matrix)
    ]
    (tmp_path / "rdm.csv").write_text("\n".join(lines) + "\n")
    (loaded,) = explain.load_reference(tmp_path / "rdm.csv")
    assert loaded.labels == tuple(names)
    np.testing.assert_allclose(loaded.square(), matrix, atol=1e-12)
    np.savetxt(tmp_path / "responses.csv", patterns[:, :24], delimiter=",")
    (loaded,) = explain.load_reference(tmp_path / "responses.csv", kind="responses")
    np.testing.assert_allclose(loaded.vector(), explain.rdm(patterns[:, :24]).vector(), atol=1e-12)


def test_load_reference_refuses_bad_files_in_one_line(tmp_path, patterns):
    asymmetric = explain.rdm(patterns).square()
    asymmetric[0, 5] += 1.0
    nan = explain.rdm(patterns).square()
    nan[2, 3] = nan[3, 2] = np.nan
    diagonal = explain.rdm(patterns).square() + np.eye(24)
    cases = {
        "asymmetric.npy": (asymmetric, "must be a symmetric RDM. Received: entry \\(0, 5\\)"),
        "nan.npy": (nan, "must be finite"),
        "diagonal.npy": (diagonal, "zero diagonal"),
        "two.npy": (np.array([[0.0, 1.0], [1.0, 0.0]]), "at least 3 stimuli"),
        "vector.npy": (np.arange(6.0), "must hold an \\(n, n\\) RDM"),
    }
    for name, (array, message) in cases.items():
        np.save(tmp_path / name, array)
        with pytest.raises(ValueError, match=message) as error:
            explain.load_reference(tmp_path / name)
        one_line(error)
    np.save(tmp_path / "wide.npy", patterns)
    with pytest.raises(ValueError, match="must be a square RDM \\(n, n\\). Received: shape=\\(24, 50\\)"):
        explain.load_reference(tmp_path / "wide.npy", kind="rdm")
    np.savez(tmp_path / "two.npz", a=patterns, b=patterns)
    with pytest.raises(ValueError, match="choose one with `key`"):
        explain.load_reference(tmp_path / "two.npz")
    with pytest.raises(FileNotFoundError):
        explain.load_reference(tmp_path / "missing.npy")


# ---- activations of Keras models --------------------------------------------------------------


@pytest.fixture(scope="module")
def stimuli():
    return np.random.default_rng(11).random((10, 32, 32, 3)).astype("float32")


def test_layer_activations_of_a_small_cnn_equal_its_sub_models(stimuli):
    keras.utils.set_random_seed(0)
    model = build_filler_cnn(input_shape=(32, 32, 3), n_classes=4, conv_layers=2, filters=4, dense_layers=1)
    names = explain.default_layers(model)
    kinds = {type(model.get_layer(name)).__name__ for name in names}
    assert kinds <= {"Conv2D", "MaxPooling2D", "GlobalAveragePooling2D", "Dense"} and "Conv2D" in kinds
    acts = explain.layer_activations(model, stimuli, batch_size=4)
    assert list(acts) == names
    for name, values in acts.items():
        direct = keras.Model(model.inputs, model.get_layer(name).output).predict(stimuli, verbose=0)
        assert values.shape == (10, int(np.prod(direct.shape[1:]))) and values.dtype == np.float32
        np.testing.assert_allclose(values, direct.reshape(10, -1), rtol=1e-5, atol=1e-6)
    # Any layer by name, in the order asked; batch size does not matter.
    chosen = [model.layers[-1].name, names[0]]
    again = explain.layer_activations(model, stimuli, chosen, batch_size=10)
    assert list(again) == chosen
    np.testing.assert_allclose(again[names[0]], acts[names[0]], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(again[chosen[0]], model.predict(stimuli, verbose=0), rtol=1e-5, atol=1e-6)


def nested_classifier():
    """A classifier around a functional base (called with training=False) that holds a Sequential block."""
    block = keras.Sequential(
        [keras.Input((16, 16, 6)), layers.Conv2D(5, 3, name="blk_conv"), layers.MaxPooling2D(name="blk_pool")],
        name="block",
    )
    base_in = keras.Input((32, 32, 3))
    x = layers.Conv2D(6, 3, strides=2, padding="same", name="base_conv")(base_in)
    x = layers.BatchNormalization(name="base_bn")(x)
    x = layers.Dropout(0.5, name="base_drop")(x)
    base = keras.Model(base_in, block(x), name="base")
    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(2.0, offset=-1.0, name="rescale")(inputs)
    x = layers.GlobalAveragePooling2D(name="pool")(base(x, training=False))
    return keras.Model(inputs, layers.Dense(3, name="logits")(x), name="classifier"), base, block


def test_layer_activations_reach_inside_nested_models(stimuli):
    keras.utils.set_random_seed(1)
    model, base, block = nested_classifier()
    config = model.get_config()
    assert explain.default_layers(model) == ["base_conv", "blk_conv", "blk_pool", "pool", "logits"]
    acts = explain.layer_activations(model, stimuli, batch_size=3)
    rescaled = model.get_layer("rescale")(stimuli)
    direct = {"base_conv": keras.Model(base.inputs, base.get_layer("base_conv").output).predict(rescaled, verbose=0)}
    dropped = keras.Model(base.inputs, base.get_layer("base_drop").output).predict(rescaled, verbose=0)
    for name in ("blk_conv", "blk_pool"):
        direct[name] = keras.Model(block.inputs, block.get_layer(name).output).predict(dropped, verbose=0)
    for name, values in direct.items():
        np.testing.assert_allclose(acts[name], values.reshape(10, -1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["logits"], model.predict(stimuli, verbose=0), rtol=1e-5, atol=1e-6)
    # The nested model's own output and the layers between are there by name too; the model is unchanged.
    inner = explain.layer_activations(model, stimuli[:3], ["base", "base_bn", "blk_pool"])
    assert inner["base"].shape == (3, 7 * 7 * 5) and inner["base_bn"].shape == (3, 16 * 16 * 6)
    np.testing.assert_array_equal(inner["base"], inner["blk_pool"])  # the base ends with the block's pooling
    assert model.get_config() == config
    with pytest.raises(ValueError, match="no layer named 'blk_con' .*Did you mean 'blk_conv'.* Layers: rescale, ") as e:
        explain.layer_activations(model, stimuli, ["blk_con"])
    assert "logits" in one_line(e)
    with pytest.raises(ValueError, match=r"`stimuli` must be \(n_stimuli, 32, 32, 3\) .*shape=\(10, 32, 32\)") as e:
        explain.layer_activations(model, stimuli[..., 0])
    one_line(e)


def test_layer_activations_of_a_mobilenet_v2_classifier(stimuli):
    keras.utils.set_random_seed(2)
    model = build_mobilenet_v2_classifier(input_shape=(32, 32, 3), n_classes=3, alpha=0.35)
    names = explain.default_layers(model)
    assert len(names) == 54 and names[:2] == ["Conv1", "expanded_conv_depthwise"]
    assert names[-2:] == ["mobilenet_v2_classifier_pool", "mobilenet_v2_classifier_logits"]
    acts = explain.layer_activations(model, stimuli[:4], ["block_6_project", "mobilenet_v2_classifier_predictions"])
    base = model.get_layer("mobilenet_v2_classifier_base")
    rescaled = model.get_layer("mobilenet_v2_classifier_rescale")(stimuli[:4])
    direct = keras.Model(base.inputs, base.get_layer("block_6_project").output).predict(rescaled, verbose=0)
    np.testing.assert_allclose(acts["block_6_project"], direct.reshape(4, -1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        acts["mobilenet_v2_classifier_predictions"], model.predict(stimuli[:4], verbose=0), rtol=1e-5, atol=1e-6
    )


def test_layer_rdms_name_the_layer_whose_patterns_fail():
    activations = {"conv": np.random.default_rng(12).normal(size=(5, 8)), "dead_relu": np.zeros((5, 8))}
    rdms = explain.layer_rdms(activations, "euclidean")
    assert list(rdms) == ["conv", "dead_relu"] and rdms["dead_relu"].method == "euclidean"
    with pytest.raises(ValueError, match=r"^layer 'dead_relu': stimuli 0, 1, 2, 3, 4 each have a constant") as error:
        explain.layer_rdms(activations)
    one_line(error)


def test_layer_activations_refuse_subclassed_models(stimuli):
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__(name="tiny")
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Tiny()
    model(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="need a functional or Sequential model") as error:
        explain.layer_activations(model, np.zeros((4, 3)))
    one_line(error)
