"""Particles: detection on drawn discs and noise, Hungarian matching, fabricated/missed counts, drawing."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from keras_geo.particles import (
    Match,
    ParticleCounts,
    count_particles,
    detect_particles,
    mark_particles,
    match_particles,
)

BACKGROUND, PARTICLE = 0.25, 0.7


def _draw(discs, size=64, *, noise=0.02, seed=0, value=PARTICLE):
    """A grey matrix with bright discs ``(row, col, radius)`` and light Gaussian noise, clipped to [0, 1]."""
    rows, cols = np.mgrid[:size, :size]
    image = np.full((size, size), BACKGROUND)
    for row, col, radius in discs:
        image[np.hypot(rows - row, cols - col) <= radius] = value
    image += np.random.default_rng(seed).normal(0.0, noise, image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def _random_discs(rng, n=6, size=64, gap=2.0):
    """``n`` discs of radius 2-6 px, inside the image, at least ``gap`` px apart."""
    discs = []
    while len(discs) < n:
        radius = rng.uniform(2.0, 6.0)
        row, col = rng.uniform(radius, size - 1 - radius, 2)
        if all(math.hypot(row - r, col - c) > radius + q + gap for r, c, q in discs):
            discs.append((row, col, radius))
    return np.array(discs)


# ----------------------------------------------------------------------------------- detection --
def test_finds_at_least_90_percent_of_discs_within_1_5_px_and_little_else():
    rng = np.random.default_rng(0)
    true = found = real = 0
    for seed in range(20):
        discs = _random_discs(rng)
        particles = detect_particles(_draw(discs, seed=seed))
        match = match_particles(particles, discs, max_distance_px=1.5)
        true += len(match.pairs)
        real += len(discs)
        found += len(particles)
        radius_error = particles[match.pairs[:, 0], 2] - discs[match.pairs[:, 1], 2]
        assert np.all(np.abs(radius_error) <= 1.5)
    assert true / real >= 0.9  # recall
    assert true / found >= 0.9  # precision


@pytest.mark.parametrize("seed", range(5))
def test_a_flat_noisy_image_has_no_particles(seed):
    assert detect_particles(_draw([], noise=0.03, seed=seed)).shape == (0, 3)


def test_a_faint_noise_image_gains_no_blobs_because_it_is_not_rescaled_to_its_own_maximum():
    faint = np.clip(np.random.default_rng(1).normal(0.02, 0.01, (64, 64)), 0, 1)
    assert len(detect_particles(faint)) == 0
    # What a detector that normalises each image by its maximum would see instead:
    assert len(detect_particles(faint / faint.max())) > 0


def test_lone_bright_pixels_are_specks_not_particles():
    image = _draw([], noise=0.01, seed=2)
    image[[10, 20, 30, 40, 50], [12, 44, 25, 50, 8]] += 0.6
    assert len(detect_particles(image, min_contrast=-1)) == 5  # the LoG alone takes them
    assert len(detect_particles(image)) == 0  # the ring test does not


def test_particles_at_the_edge_and_touching_particles_are_each_found_once():
    discs = np.array([[2.0, 2.0, 3.0], [30.0, 61.5, 3.0], [30.0, 20.0, 4.0], [30.0, 28.0, 4.0], [50.0, 40.0, 2.0]])
    particles = detect_particles(_draw(discs, seed=3))
    match = match_particles(particles, discs)
    assert len(match.pairs) == len(discs) == len(particles)


def test_data_range_and_channel_axis_do_not_change_the_particles():
    image = _draw(_random_discs(np.random.default_rng(4)), seed=4)
    particles = detect_particles(image)
    assert len(particles) > 0
    np.testing.assert_allclose(detect_particles(image[..., None]), particles)
    np.testing.assert_allclose(detect_particles(image.astype(np.float64) * 255.0, max_val=255.0), particles)
    np.testing.assert_array_equal(detect_particles(image), particles)  # deterministic


def test_radius_range_and_threshold_restrict_what_is_found():
    discs = np.array([[16.0, 16.0, 2.0], [44.0, 44.0, 6.0]])
    image = _draw(discs, seed=5)
    assert len(detect_particles(image)) == 2
    for low, high in ((1.5, 3.0), (4.0, 8.0)):
        radii = detect_particles(image, min_radius_px=low, max_radius_px=high)[:, 2]
        assert len(radii) and np.all((radii >= low - 1e-9) & (radii <= high + 1e-9))
    assert len(detect_particles(image, threshold=10.0)) == 0


@pytest.mark.parametrize(
    ("image", "settings", "message"),
    [
        (np.zeros((8, 8, 3)), {}, "Received shape: (8, 8, 3)"),
        (np.zeros(8), {}, "Received shape: (8,)"),
        (np.full((8, 8), np.nan), {}, "not finite"),
        (np.zeros((8, 8)), {"max_val": 0}, "Received: max_val=0"),
        (np.zeros((8, 8)), {"threshold": -0.1}, "Received: threshold=-0.1"),
        (np.zeros((8, 8)), {"min_radius_px": 5, "max_radius_px": 2}, "max_radius_px=2"),
        (np.zeros((8, 8)), {"min_contrast": "high"}, "Received: min_contrast='high'"),
    ],
)
def test_bad_images_and_settings_are_refused_with_their_values(image, settings, message):
    with pytest.raises(ValueError) as info:
        detect_particles(image, **settings)
    assert message in str(info.value)


# ------------------------------------------------------------------------------------ matching --
def _sorted_pairs(match: Match) -> list[tuple[int, int]]:
    return sorted(map(tuple, match.pairs.tolist()))


def test_matching_empty_inputs():
    three = np.array([[5.0, 5.0, 2.0], [20.0, 20.0, 3.0], [40.0, 9.0, 2.0]])
    none = np.zeros((0, 3))
    both_empty = match_particles(none, none)
    assert both_empty.pairs.shape == (0, 2) and both_empty.fabricated.size == both_empty.missed.size == 0
    all_missed = match_particles(none, three)
    assert all_missed.pairs.shape == (0, 2) and all_missed.missed.tolist() == [0, 1, 2]
    all_fabricated = match_particles(three, [])
    assert all_fabricated.fabricated.tolist() == [0, 1, 2] and all_fabricated.missed.size == 0
    indexable = three[all_fabricated.fabricated]  # index arrays are ints, even when empty
    assert indexable.shape == (3, 3) and three[both_empty.missed].shape == (0, 3)


def test_matching_pairs_every_particle_in_any_order():
    reference = np.array([[5.0, 5.0, 2.0], [20.0, 20.0, 3.0], [40.0, 9.0, 2.0]])
    found = reference[[2, 0, 1]] + [[0.5, -0.5, 0.0]]
    match = match_particles(found, reference)
    assert _sorted_pairs(match) == [(0, 2), (1, 0), (2, 1)]
    assert match.fabricated.size == match.missed.size == 0


def test_one_fabricated_and_one_missed_particle():
    reference = np.array([[5.0, 5.0, 2.0], [20.0, 20.0, 3.0], [40.0, 9.0, 2.0]])
    found = np.array([[5.5, 5.0, 2.0], [20.0, 21.0, 3.0], [50.0, 50.0, 2.0]])  # (40, 9) missed, (50, 50) made up
    match = match_particles(found, reference)
    assert _sorted_pairs(match) == [(0, 0), (1, 1)]
    assert match.fabricated.tolist() == [2] and match.missed.tolist() == [2]


def test_hungarian_matching_pairs_what_a_greedy_nearest_first_matching_would_not():
    # Found 0 is nearest to reference 1, found 1 can only reach reference 1. Greedy pairs (0, 1)
    # first and strands both others; the best matching pairs (0, 0) and (1, 1).
    reference = np.array([[0.0, 0.0, 2.0], [0.0, 2.0, 2.0]])
    found = np.array([[0.0, 1.1, 2.0], [0.0, 3.5, 2.0]])
    match = match_particles(found, reference)
    assert _sorted_pairs(match) == [(0, 0), (1, 1)]
    assert match.fabricated.size == match.missed.size == 0


def test_a_pair_must_lie_within_the_reference_radius_at_least_2_px_or_the_given_distance():
    found = np.array([[0.0, 2.5, 1.5]])
    assert match_particles(found, [[0.0, 0.0, 2.0]]).pairs.shape == (0, 2)  # 2.5 > max(2, 2)
    assert match_particles(found, [[0.0, 0.0, 3.0]]).pairs.tolist() == [[0, 0]]  # 2.5 <= 3
    assert match_particles(found, [[0.0, 0.0, 1.0]]).pairs.shape == (0, 2)  # 2.5 > max(1, 2)
    assert match_particles(found, [[0.0, 0.0, 1.0]], max_distance_px=3.0).pairs.tolist() == [[0, 0]]
    assert match_particles(found[:, :2], [[0.0, 0.0]], max_distance_px=3.0).pairs.tolist() == [[0, 0]]


@pytest.mark.parametrize(
    ("found", "reference", "settings", "message"),
    [
        (np.zeros((2, 4)), np.zeros((1, 3)), {}, "`found` must be a (k, 3) array"),
        (np.zeros((2, 3)), np.zeros((1, 2)), {}, "`reference` needs radii"),
        (np.zeros((2, 3)), np.zeros((1, 3)), {"max_distance_px": -1}, "Received: max_distance_px=-1"),
    ],
)
def test_matching_refuses_bad_inputs(found, reference, settings, message):
    with pytest.raises(ValueError) as info:
        match_particles(found, reference, **settings)
    assert message in str(info.value)


# ------------------------------------------------------------------------------------ counting --
def _batch():
    """Clean references (two images), the restored images with one extra and one removed disc in image 0."""
    first = np.array([[12.0, 12.0, 3.0], [12.0, 45.0, 4.0], [40.0, 20.0, 2.5], [48.0, 50.0, 5.0]])
    second = np.array([[20.0, 20.0, 4.0], [44.0, 40.0, 3.0]])
    clean = np.stack([_draw(first, seed=10), _draw(second, seed=11)])
    restored_first = np.concatenate([first[[0, 1, 3]], [[30.0, 34.0, 3.0]]])  # (40, 20) gone, (30, 34) new
    restored = np.stack([_draw(restored_first, seed=12), _draw(second, seed=13)])
    return clean, restored, [first, second]


def test_count_particles_finds_the_one_fabricated_and_the_one_missed_particle():
    clean, restored, truth = _batch()
    for counts in (count_particles(restored, clean), count_particles(restored[..., None], reference=truth)):
        assert isinstance(counts, ParticleCounts)
        assert counts.fabricated.tolist() == [1, 0] and counts.missed.tolist() == [1, 0]
        assert counts.true.tolist() == [3, 2]
        assert (counts.total_fabricated, counts.total_missed, counts.total_reference) == (1, 1, 6)
        assert counts.fabricated_per_100 == pytest.approx(100 / 6)
        assert counts.missed_per_100 == pytest.approx(100 / 6)
        assert counts.precision == pytest.approx(5 / 6) and counts.recall == pytest.approx(5 / 6)
        fabricated = counts.found_particles[0][counts.matches[0].fabricated]
        assert np.hypot(*(fabricated[0, :2] - [30.0, 34.0])) <= 1.5
    # A faithful restoration scores 0 against its own clean image.
    same = count_particles(clean, clean)
    assert same.total_fabricated == same.total_missed == 0 and same.total_true == 6


def test_detected_references_cancel_the_detectors_bias_given_ones_do_not():
    # A particle too faint for the detector: in the truth, but found neither in the clean
    # image nor in a perfect restoration of it.
    truth = np.array([[16.0, 16.0, 4.0], [44.0, 44.0, 4.0]])
    clean = _draw(truth[:1], seed=14)
    rows, cols = np.mgrid[:64, :64]
    clean[np.hypot(rows - 44, cols - 44) <= 4] += 0.05
    against_truth = count_particles(clean[None], reference=[truth])
    assert against_truth.missed.tolist() == [1] and against_truth.missed_per_100 == pytest.approx(50.0)
    against_clean = count_particles(clean[None], clean[None])
    assert against_clean.total_missed == against_clean.total_fabricated == 0


def test_counts_without_any_reference_particle_are_finite():
    empty = np.stack([_draw([], seed=15), _draw([], seed=16)])
    nothing = count_particles(empty, empty)
    assert (nothing.fabricated_per_100, nothing.missed_per_100, nothing.precision, nothing.recall) == (0, 0, 1, 1)
    made_up = count_particles(np.stack([_draw([[30.0, 30.0, 4.0]], seed=17), empty[1]]), empty)
    assert made_up.total_fabricated == 1 and made_up.fabricated_per_100 == 100.0
    assert made_up.missed_per_100 == 0.0 and made_up.precision == 0.0 and made_up.recall == 1.0
    for counts in (nothing, made_up):
        assert all(math.isfinite(v) for v in (counts.fabricated_per_100, counts.missed_per_100))


def test_to_dict_is_plain_json():
    clean, restored, _ = _batch()
    data = count_particles(restored, clean).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["fabricated"] == 1 and data["missed"] == 1 and data["n_images"] == 2
    assert data["per_image"] == {"fabricated": [1, 0], "missed": [1, 0], "true": [3, 2]}


def test_detector_settings_pass_through():
    clean, restored, truth = _batch()
    blind = count_particles(restored, reference=truth, threshold=10.0)
    assert blind.total_true == 0 and blind.total_missed == 6
    assert count_particles(restored, clean, threshold=10.0).total_reference == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "exactly one of the two"),
        ({"reference_images": np.zeros((2, 64, 64)), "reference": [np.zeros((0, 3))] * 2}, "exactly one"),
        ({"reference_images": np.zeros((2, 32, 32))}, "must have the shape of `restored`"),
        ({"reference": [np.zeros((0, 3))]}, "1 arrays for 2 images"),
    ],
)
def test_count_particles_refuses_bad_references(arguments, message):
    with pytest.raises(ValueError) as info:
        count_particles(np.zeros((2, 64, 64)), **arguments)
    assert message in str(info.value)


def test_count_particles_refuses_colour_images():
    with pytest.raises(ValueError, match=r"Received shape: \(2, 8, 8, 3\)"):
        count_particles(np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8, 3)))


# ------------------------------------------------------------------------------------- drawing --
def test_mark_particles_circles_each_particle_with_one_legend_entry():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure()
    FigureCanvasAgg(figure)
    axis = figure.add_subplot()
    axis.imshow(np.zeros((64, 64)), cmap="gray")
    circles = mark_particles(axis, [[10.0, 20.0, 3.0], [40.0, 50.0, 5.0]], color="red", label="fabricated")
    assert len(circles) == 2 and len(axis.patches) == 2
    assert circles[0].center == (20.0, 10.0)  # (x, y) = (col, row)
    assert circles[0].get_edgecolor()[:3] == (1.0, 0.0, 0.0) and not circles[0].get_fill()
    assert [c.get_label() for c in circles][0] == "fabricated"
    assert [h.get_label() for h in axis.get_legend_handles_labels()[0]] == ["fabricated"]
    assert mark_particles(axis, np.zeros((0, 3)), color="yellow") == []
    figure.canvas.draw()
