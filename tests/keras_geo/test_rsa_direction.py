"""Report 001's direction on a CNN trained on the texture set: the V1-like reference peaks early, the IT-like late.

Each seed trains the filler CNN on the generated textures (a few seconds) and profiles its block outputs
(activations, poolings, head, dense, logits) on 64 textures it never saw. The V1-like reference is the
Gabor-energy model at the scale of the first layer (period 4 pixels: the 3 x 3 convolutions see no coarser
scale); BENCHMARKS.md ("RSA") has the default three-scale reference too, which peaks late on this network.
"""

from __future__ import annotations

import numpy as np
import pytest

from keras_geo import datasets, explain, training
from keras_geo.datasets.textures import texture_stimuli

SEEDS = (0, 1, 2)
PARAMS = {"epochs": 10, "filters": 8, "units": 32}
BLOCK_OUTPUTS = ("_act", "_pool", "_head", "_dense", "_logits")


@pytest.fixture(scope="module")
def profiles():
    data = datasets.load("textures", n_train=40, n_val=5, n_test=10, image_size=64, seed=0)
    images, labels, _ = texture_stimuli(8, 64, seed=1000)  # 64 textures outside the three splits
    references = {
        "V1-like": explain.v1_reference(images, frequencies=(1 / 4,)),
        "IT-like": explain.it_reference(labels),
    }
    found = {}
    for seed in SEEDS:
        result = training.train("filler_cnn", data, PARAMS, seed=seed)
        names = [layer.name for layer in result.model.layers if any(part in layer.name for part in BLOCK_OUTPUTS)]
        profile = explain.layer_profile(result.model, images, references, layers=names, n_bootstrap=0, n_permutations=0)
        found[seed] = (result.metrics["test_accuracy"], profile)
    return found


@pytest.mark.parametrize("seed", SEEDS)
def test_the_v1_like_reference_peaks_before_the_it_like_one(profiles, seed):
    accuracy, profile = profiles[seed]
    assert accuracy >= 0.9  # a network that learned the categories, or the profile says nothing
    assert profile.layers[0] == "filler_cnn_block1_act1" and profile.layers[-1] == "filler_cnn_logits"
    v1, it = (profile.layers.index(profile.best_layer(name)) for name in ("V1-like", "IT-like"))
    assert v1 < it, profile.to_text()
    half = len(profile.layers) // 2
    assert v1 < half <= it, profile.to_text()  # V1-like in the first blocks, IT-like in the last layers
    similarity = {name: profile.similarity[:, j] for j, name in enumerate(profile.references)}
    assert similarity["V1-like"][:2].max() > similarity["V1-like"][-1] + 0.03  # falls from block 1 to the top
    assert similarity["IT-like"][-1] > similarity["IT-like"][0] + 0.15  # rises from block 1 to the top
    assert np.all(np.isfinite(profile.similarity))
