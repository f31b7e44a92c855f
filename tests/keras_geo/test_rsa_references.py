"""RSA reference models (Gabor energy "V1-like", category "IT-like", orientation) and the generated texture stimuli."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_geo import datasets, explain
from keras_geo.datasets.textures import CATEGORIES, grating_stimuli, texture_stimuli
from keras_geo.explain.references import gabor_kernels
from tests import one_line, predict_in_fresh_process


@pytest.fixture(scope="module")
def model():
    return explain.gabor_energy_model()


@pytest.fixture(scope="module")
def textures():
    return texture_stimuli(8, 64, seed=0)


# ---- the Gabor-energy model -----------------------------------------------------------------


def test_gabor_energy_model_has_computed_fixed_weights_and_named_layers(model):
    assert model.trainable_weights == [] and not any(layer.trainable for layer in model.layers)
    assert model.output_shape == (None, 4 * 4 * 8 * 3)  # a 4 x 4 map of 8 orientations x 3 frequencies
    even, odd = gabor_kernels(8, 1 / 8, 1.5)
    np.testing.assert_array_equal(model.get_layer("gabor_energy_f1_even").get_weights()[0][:, :, 0], even)
    np.testing.assert_array_equal(model.get_layer("gabor_energy_f1_odd").get_weights()[0][:, :, 0], odd)
    convolutions = [f"gabor_energy_f{k}_{part}" for k in range(3) for part in ("even", "odd")]
    assert sorted(explain.default_layers(model)) == sorted([*convolutions, "gabor_energy_pool"])


def test_a_unit_responds_to_its_grating_with_squared_amplitude_whatever_the_phase():
    model = explain.gabor_energy_model(pooling=None, orientations=8, frequencies=(1 / 8,))
    # 8 cycles per 64 pixels is 1/8 cycle per pixel; orientation 3 of 8 is 67.5 degrees.
    images, _ = grating_stimuli([67.5, 67.5, 67.5], cycles=8.0, contrast=0.6, seed=1)
    energy = np.asarray(model.predict_on_batch(images)).reshape(3, 64, 64, 8)[:, 24:40, 24:40]  # away from the border
    np.testing.assert_allclose(energy[..., 3], 0.3**2, rtol=1e-3)
    assert np.all(energy[..., 3].mean(axis=(1, 2))[:, None] > 2 * energy[..., [0, 1, 5, 6, 7]].mean(axis=(1, 2)))


def test_gabor_energy_model_round_trips_through_a_keras_file_with_safe_mode(model, tmp_path, textures):
    images = textures[0][::4]
    expected = model.predict(images, verbose=0)
    model.save(tmp_path / "v1.keras")
    loaded = keras.saving.load_model(tmp_path / "v1.keras", safe_mode=True)
    np.testing.assert_array_equal(loaded.predict(images, verbose=0), expected)
    assert loaded.trainable_weights == []
    np.testing.assert_array_equal(predict_in_fresh_process(tmp_path / "v1.keras", images, tmp_path), expected)


def test_rgb_stimuli_are_seen_as_their_luminance(textures):
    grey = textures[0][:4]
    rgb = explain.gabor_energy_model((64, 64, 3), pooling="global")
    assert rgb.get_layer("gabor_energy_luminance").trainable is False
    np.testing.assert_allclose(
        rgb.predict_on_batch(np.repeat(grey, 3, axis=-1)),
        explain.gabor_energy_model(pooling="global").predict_on_batch(grey),
        rtol=1e-4,
        atol=1e-7,
    )


# ---- the reference RDMs ---------------------------------------------------------------------


def test_gabor_energy_rdm_of_gratings_matches_the_orientation_difference_model():
    images, angles = grating_stimuli(16, seed=0)  # 16 orientations 11.25 degrees apart, random phases
    reference = explain.orientation_rdm(angles)
    tau_a = explain.compare(explain.v1_reference(images), reference, "tau_a")
    # The orientation model ties many pairs (equal differences), which caps tau-a below 1.
    counts = np.unique(reference.vector(), return_counts=True)[1]
    pairs = reference.vector().size * (reference.vector().size - 1) // 2
    ceiling = 1.0 - (counts * (counts - 1) // 2).sum() / pairs
    print(f"tau-a(Gabor energy, orientation difference) = {tau_a:.4f} (at most {ceiling:.4f} with its ties)")
    assert tau_a >= 0.8


def test_orientation_rdm_is_the_circular_difference_modulo_180_degrees():
    square = explain.orientation_rdm([10.0, 170.0, 100.0, 55.0]).square()
    assert square[0, 1] == pytest.approx(20.0) and square[0, 2] == pytest.approx(90.0)
    assert square[1, 2] == pytest.approx(70.0) and square[0, 3] == pytest.approx(45.0)


def test_it_reference_is_zero_within_and_one_between_categories(textures):
    _, labels, _ = textures
    square = explain.it_reference(labels).square()
    np.testing.assert_array_equal(square, (labels[:, None] != labels[None, :]).astype(float))
    assert explain.it_reference(["cat", "dog", "cat"]).vector().tolist() == [1.0, 0.0, 1.0]


def test_v1_and_it_references_of_the_textures_are_distinct_models(textures):
    images, labels, _ = textures
    v1 = explain.v1_reference(images)
    assert v1.n_stimuli == 64 and v1.method == "correlation"
    assert -0.5 < explain.compare(v1, explain.it_reference(labels)) < 0.9


# ---- the texture stimuli --------------------------------------------------------------------


def test_texture_stimuli_are_8_categories_of_n_grey_images_in_the_unit_range(textures):
    images, labels, names = textures
    assert images.shape == (64, 64, 64, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert names == CATEGORIES and len(names) == 8 and list(names) == sorted(names)
    np.testing.assert_array_equal(labels, np.repeat(np.arange(8), 8))
    assert all(images[labels == c].std() > 0.05 for c in range(8))


def test_texture_stimuli_are_reproducible_from_their_seed(textures):
    images, labels, _ = texture_stimuli(8, 64, seed=0)
    np.testing.assert_array_equal(images, textures[0])
    np.testing.assert_array_equal(labels, textures[1])
    other = texture_stimuli(2, 64, seed=1)[0]
    assert not np.array_equal(other, texture_stimuli(2, 64, seed=0)[0])


def test_texture_categories_are_told_apart_by_orientation_free_texture_statistics(textures):
    """Leave-one-out nearest centroid on energy per frequency, its orientation peak and the grey-level histogram."""
    images, labels, names = textures
    frequencies = (1 / 32, 1 / 16, 1 / 8, 1 / 4)
    model = explain.gabor_energy_model(frequencies=frequencies, pooling="global")
    energy = np.asarray(model.predict_on_batch(images)).reshape(len(images), len(frequencies), 8)
    histogram = np.stack([np.histogram(image, bins=4, range=(0, 1))[0] / image.size for image in images])
    mean = energy.mean(axis=2)
    features = np.concatenate([np.log(mean + 1e-6), energy.max(axis=2) / (mean + 1e-9), histogram], axis=1)
    features = (features - features.mean(axis=0)) / features.std(axis=0)
    correct = 0
    for i in range(len(images)):
        others = np.arange(len(images)) != i
        centroids = np.stack([features[others & (labels == c)].mean(axis=0) for c in range(len(names))])
        correct += int(np.argmin(((centroids - features[i]) ** 2).sum(axis=1)) == labels[i])
    assert correct / len(images) >= 0.9


def test_textures_is_a_registered_classification_data_set():
    data = datasets.load("textures", n_train=2, n_val=1, n_test=1)
    assert data.task == "classification" and data.class_names == CATEGORIES
    assert data.sizes() == {"train": 16, "val": 8, "test": 8}
    x, y = data["train"]
    assert x.shape == (16, 64, 64, 1) and sorted(set(y.tolist())) == list(range(8))
    assert not np.array_equal(data["val"][0], data["test"][0])


def test_grating_stimuli_have_the_asked_orientations():
    images, angles = grating_stimuli(4, image_size=32, cycles=4.0, contrast=0.5)
    np.testing.assert_array_equal(angles, [0.0, 45.0, 90.0, 135.0])
    assert images.shape == (4, 32, 32, 1) and 0.25 <= images.min() and images.max() <= 0.75
    # 0 degrees: horizontal stripes, constant along each row; 90 degrees: vertical stripes.
    assert np.ptp(images[0, 5, :, 0]) < 1e-6 and np.ptp(images[2, :, 5, 0]) < 1e-6


# ---- bad inputs: one line each --------------------------------------------------------------


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: explain.gabor_energy_model((64, 64, 2)), "input_shape"),
        (lambda: explain.gabor_energy_model(orientations=1), "orientations"),
        (lambda: explain.gabor_energy_model(frequencies=(0.1, 0.6)), "frequencies"),
        (lambda: explain.gabor_energy_model(frequencies=()), "frequencies"),
        (lambda: explain.gabor_energy_model(bandwidth=0.0), "bandwidth"),
        (lambda: explain.gabor_energy_model(pooling="max"), "pooling"),
        (lambda: explain.gabor_energy_model(pool_size=65), "pool_size"),
        (lambda: explain.v1_reference(np.zeros((4, 64, 64, 2))), "stimuli"),
        (lambda: explain.v1_reference(np.full((4, 32, 32), 0.5)), "constant pattern"),
        (lambda: explain.v1_reference(np.zeros((4, 32, 32)), method="crossnobis"), "method"),
        (lambda: explain.it_reference([1, 1, 1]), "2 categories"),
        (lambda: explain.it_reference([0, 1]), "at least 3"),
        (lambda: explain.orientation_rdm([0.0, np.nan, 30.0]), "finite"),
        (lambda: texture_stimuli(0), "n_per_class"),
        (lambda: texture_stimuli(2, image_size=32), "image_size"),
        (lambda: grating_stimuli(4, cycles=40.0), "cycles"),
        (lambda: grating_stimuli(4, contrast=1.5), "contrast"),
    ],
)
def test_bad_inputs_are_refused_in_one_line(call, match):
    with pytest.raises(ValueError, match=match) as error:
        call()
    one_line(error)
