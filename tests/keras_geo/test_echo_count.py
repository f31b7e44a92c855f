"""Fish counts from echograms (keras_geo.echo): echo integration, its calibration, held-out cages, count errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from keras_geo import echo
from keras_geo.datasets.echo import expected_sv_db, simulate_batch, sv_to_image
from keras_geo.echo import (
    COUNTING_SETTINGS,
    HELD_OUT_CAGES,
    EchoIntegrator,
    cage_volume,
    count_errors,
    echo_integration,
    held_out_cages,
    layer_response,
    mean_backscatter,
    mean_sv,
    rescale_counts,
)

WIDE = dict(COUNTING_SETTINGS)


# ---------------------------------------------------------------------------
# The physics
# ---------------------------------------------------------------------------


def test_sigma_and_volume_are_the_simulators_echo_integration_law():
    assert mean_backscatter() == pytest.approx(10 ** (-67.5 / 10) * (60.0**2 + 5.0**2))
    assert cage_volume() == pytest.approx(math.pi * 11.5**2 * 10.0)
    for settings in ({}, {"cage_radius_m": 10.0, "length_mean_cm": 70.0, "ts_b20_db": -66.0}):
        per_fish = mean_backscatter(**settings) / cage_volume(**settings)
        assert 10 * math.log10(per_fish) == pytest.approx(expected_sv_db(1, **settings), abs=1e-9)


def test_a_uniform_layer_reads_one_inside_the_fish_layer_and_nothing_beyond_the_beams_reach():
    g = layer_response(**WIDE)
    r = (np.arange(64) + 0.5) * 0.25
    middle = (r > 4) & (r < 10.5)
    # The TVG at each bin's own range over-reads the pulse-smeared echo: a few % high, falling with range.
    assert np.all((g[middle] > 1.0) & (g[middle] < 1.06))
    assert np.all(np.diff(g[(r > 2) & (r < 10.5)]) < 0)
    narrow = layer_response(beam_width_deg=10.0)
    assert np.all(narrow[r > 12.5] < 1e-3) and narrow[0] == 0.0
    # A 45 degree beam reaches fish below the net floor's range (slant ranges up to sqrt(11.5^2 + 11^2) m).
    assert g[np.argmin(np.abs(r - 13.1))] > 0.02


def test_echo_integration_recovers_the_count_in_the_mean_at_large_n():
    batch = simulate_batch([400] * 24, seed=11, **WIDE)
    counts = echo_integration(batch.sv_db, **WIDE)
    assert counts.shape == (24,)
    # 24 echograms with a scatter of ~8 % each: the mean is within ~1.6 % (1 sd) of an unbiased estimate.
    assert counts.mean() == pytest.approx(400, rel=0.05)
    textbook = echo_integration(batch.sv_db, response=False, **WIDE)
    assert np.all(textbook / counts > 1.01) and np.all(textbook / counts < 1.05)  # the TVG excess, ~2.5 %
    # Through the data set's images: the same within the clipping at -90 dB (noise) and -20 dB.
    images = sv_to_image(batch.sv_db)[..., None]
    np.testing.assert_allclose(echo_integration(images, sv_range_db=(-90, -20), **WIDE), counts, rtol=0.01)
    one = echo_integration(batch.sv_db[0], **WIDE)
    assert one.shape == () and float(one) == pytest.approx(counts[0])


def test_a_wide_beam_and_a_long_record_make_counting_possible_where_the_default_beam_does_not():
    counts = [300] * 16
    wide = echo_integration(simulate_batch(counts, seed=4, **WIDE).sv_db, **WIDE)
    narrow = echo_integration(simulate_batch(counts, seed=4).sv_db)
    assert np.std(wide) / np.mean(wide) < 0.15  # ~0.09 measured
    assert np.std(narrow) / np.mean(narrow) > 0.3  # ~0.6 measured


def test_the_calibrated_integrator_fits_a_miscalibration_and_carries_to_another_cage():
    # The integrator believes b20 is 1 dB higher than the fish's: the theory counts 21 % too few.
    believed = {**WIDE, "ts_b20_db": -66.5}
    train = simulate_batch(np.linspace(100, 500, 24).astype(int), seed=21, **WIDE)
    integrator = EchoIntegrator(**believed).fit(train.sv_db, train.counts)
    assert integrator.scale_ == pytest.approx(10**0.1, rel=0.06)
    test = simulate_batch(np.linspace(120, 480, 20).astype(int), seed=22, **WIDE)
    errors = count_errors(test.counts, integrator.predict(test.sv_db))
    assert errors["median_abs_rel_pct"] < 10.0  # ~5 % measured
    theory = count_errors(test.counts, integrator.theory(test.sv_db))
    assert theory["median_rel_pct"] < -12.0  # the uncalibrated theory with the wrong b20
    # A cage of another radius: the same k, that cage's volume.
    small = simulate_batch(np.linspace(120, 480, 20).astype(int), seed=23, **{**WIDE, "cage_radius_m": 10.0})
    moved = count_errors(small.counts, integrator.predict(small.sv_db, cage_radius_m=10.0))
    assert abs(moved["median_rel_pct"]) < 8.0 and moved["median_abs_rel_pct"] < 10.0
    # From the data set's images, as the benchmark uses it.
    from_images = EchoIntegrator(sv_range_db=(-90, -20), **WIDE).fit(sv_to_image(train.sv_db), train.counts)
    assert from_images.scale_ == pytest.approx(1.0, abs=0.06)


def test_rescaled_counts_keep_the_echo_level():
    source, target = {"cage_radius_m": 12.5}, {"cage_radius_m": 10.0, "length_mean_cm": 70.0}
    factor = (9.0 / 11.5) ** 2 * (60.0**2 + 25.0) / (70.0**2 + 25.0)
    np.testing.assert_allclose(rescale_counts([100.0, 200.0], source, target), [100 * factor, 200 * factor])
    # One echo level, two cages: counts scale with the volume over the backscatter.
    n = 100.0
    level = expected_sv_db(n, **source)
    assert expected_sv_db(float(rescale_counts(n, source, target)), **target) == pytest.approx(level)


# ---------------------------------------------------------------------------
# Held-out cages
# ---------------------------------------------------------------------------


def test_held_out_cages_differ_from_training_in_one_setting_each_and_repeat_with_their_seed():
    small = {"n_pings": 16, "depth_bins": 32}
    sets = held_out_cages(3, 2, count_range=(20, 60), seed=5, **small)
    assert list(sets) == list(HELD_OUT_CAGES)
    for name, cage in sets.items():
        assert cage.name == name
        assert cage.settings == {**WIDE, **small, **HELD_OUT_CAGES[name]}
        assert cage.sv_db.shape == (6, 16, 32) and cage.counts.shape == (6,)
        np.testing.assert_array_equal(cage.cages, [0, 0, 1, 1, 2, 2])
        assert np.all(cage.counts[::2] == cage.counts[1::2]) and np.all((cage.counts >= 20) & (cage.counts <= 60))
        again = simulate_batch(cage.counts, seeds=cage.seeds, **cage.settings)
        np.testing.assert_array_equal(again.sv_db, cage.sv_db)
        assert cage.images().shape == (6, 16, 32, 1)
    assert (
        sets["radius 10 m"].settings["cage_radius_m"] == 10.0 and sets["length 70 cm"].settings["length_mean_cm"] == 70
    )
    seeds = np.concatenate([c.seeds for c in sets.values()])
    assert len(set(seeds.tolist())) == len(seeds)
    repeat = held_out_cages(3, 2, count_range=(20, 60), seed=5, **small)
    assert all(np.array_equal(repeat[k].sv_db, sets[k].sv_db) for k in sets)
    other = held_out_cages(1, 1, cages={"deep": {"net_depth_m": 14.0, "range_m": 18.0}}, **small)
    assert list(other) == ["deep"] and other["deep"].settings["net_depth_m"] == 14.0


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_count_errors_on_hand_made_numbers():
    errors = count_errors([100, 200, 50, 0], [110, 170, 55, 2])
    # Errors 10, -30, 5, 2 fish; relative 10 %, -15 %, 10 % (the empty cage left out).
    assert errors == {"mae": pytest.approx(11.75), "median_abs_rel_pct": 10.0, "median_rel_pct": 10.0, "n": 4}
    assert count_errors(np.array([[10.0], [20.0]]), [9.0, 24.0])["median_rel_pct"] == pytest.approx(5.0)
    empty = count_errors([0, 0], [1, 2])
    assert empty["mae"] == 1.5 and math.isnan(empty["median_abs_rel_pct"]) and math.isnan(empty["median_rel_pct"])


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: cage_volume(cage_radius_m=0.0),
            "`cage_radius_m` must be a finite number > 0. Received: cage_radius_m=0.0",
        ),
        (lambda: cage_volume(net_depth_m=-2), "`net_depth_m` must be a finite number > 0. Received: net_depth_m=-2"),
        (lambda: cage_volume(cage_radius_m=1.0), "`net_band_m` must leave the fish room"),
        (lambda: mean_backscatter(length_mean_cm=0), "`length_mean_cm` must be a finite number > 0"),
        (lambda: count_errors([10, -1], [10, 2]), "`true` must be finite fish counts >= 0. Received: true=-1"),
        (lambda: count_errors([10, 20], [10]), "`predicted` must hold one finite count per true count (2)"),
        (lambda: count_errors([10], [float("nan")]), "`predicted` must hold one finite count per true count"),
        (lambda: EchoIntegrator().fit(np.full((2, 8, 64), -60.0), [5, -3]), "`counts` must be finite fish counts >= 0"),
        (
            lambda: EchoIntegrator().fit(np.full((2, 8, 64), -60.0), [5]),
            "`counts` must hold one count per echogram (2)",
        ),
        (lambda: EchoIntegrator().predict(np.full((2, 8, 64), -60.0)), "this EchoIntegrator is not fitted"),
        (lambda: echo_integration(np.zeros((2, 8, 32))), "`sv` must be echograms (..., pings, 64) with depth_bins=64"),
        (lambda: echo_integration(np.full((1, 8, 64), np.nan)), "`sv` must be finite"),
        (lambda: echo_integration(np.full((1, 8, 64), -60.0), sv_range_db=(-90, -20)), "`sv` must be images in [0, 1]"),
        (lambda: echo_integration(np.zeros((1, 8, 64)), sv_range_db=(-20, -90)), "`sv_range_db` must be a pair"),
        (lambda: mean_sv(np.zeros((1, 8, 64)), window_m=(5.0, 5.1)), "`window_m` must hold at least one range bin"),
        (lambda: mean_sv(np.zeros((1, 8, 64)), window_m=(-1.0, 5.0)), "`window_m` must be a pair (min, max)"),
        (lambda: held_out_cages(0), "`n_cages` must be an integer >= 1. Received: n_cages=0"),
        (lambda: held_out_cages(1, 1, count_range=(-5, 10)), "`count_range` must be a pair (min, max) of integers"),
        (
            lambda: held_out_cages(1, 1, cages={"x": {"cage_radius_m": -3}}),
            "`cage_radius_m` must be a finite number > 0",
        ),
        (lambda: rescale_counts([10], {}, {"cage_radius_m": 0}), "`cage_radius_m` must be a finite number > 0"),
    ],
)
def test_bad_input_gets_one_line_naming_it(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_an_unknown_setting_is_a_type_error():
    with pytest.raises(TypeError, match="unknown echo setting 'cage_diameter_m'"):
        echo.echo_integration(np.zeros((1, 8, 64)), cage_diameter_m=25.0)


# ---------------------------------------------------------------------------
# Counts from a density model
# ---------------------------------------------------------------------------


def test_counts_from_density_are_density_times_the_cages_volume():
    from keras_geo.datasets.echo._physics import fish_volume_m3

    counts = np.array([[10.0], [250.0], [0.0]])
    for cage in ({}, {"cage_radius_m": 15.0}, {"cage_radius_m": 10.0, "net_depth_m": 14.0, "net_band_m": 0.5}):
        volume = cage_volume(**cage)
        # One formula: the data set's density target, the simulator's law and cage_volume share it.
        assert volume == pytest.approx(
            fish_volume_m3(**{"cage_radius_m": 12.5, "net_depth_m": 12.0, "net_band_m": 1.0, **cage})
        )
        back = echo.counts_from_density(counts / volume * 1000.0, **cage)
        assert back.shape == counts.shape
        np.testing.assert_allclose(back, counts, rtol=1e-12, atol=1e-12)
    assert echo.counts_from_density(1.0) == pytest.approx(cage_volume() / 1000.0)


def test_counts_from_density_give_back_the_data_sets_counts_in_every_cage():
    from keras_geo import datasets

    small = {"n_pings": 8, "depth_bins": 16, "count_range": [3, 30], "n_train": 8, "n_val": 1, "n_test": 1}
    lists = {"cage_radii_m": [8.0, 18.0], "lengths_cm": [50.0, 70.0]}
    density = datasets.load("echo", target="density", **lists, **small)
    counts = datasets.load("echo", **lists, **small)["train"][1][:, 0]
    radii = density.info["cages"]["train"]["cage_radius_m"]
    back = [echo.counts_from_density(d, cage_radius_m=r) for d, r in zip(density["train"][1][:, 0], radii)]
    np.testing.assert_allclose(back, counts, rtol=1e-5)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: echo.counts_from_density([1.0, float("nan")]),
            "`density` must be finite fish per 1000 m^3. Received: density=nan",
        ),
        (lambda: echo.counts_from_density([]), "`density` must be finite fish per 1000 m^3. Received: no densities"),
        (lambda: echo.counts_from_density([1.0], cage_radius_m=0), "`cage_radius_m` must be a finite number > 0"),
        (lambda: echo.counts_from_density([1.0], cage_radius_m=1.0), "`net_band_m` must leave the fish room"),
    ],
)
def test_counts_from_density_refuse_bad_input_in_one_line(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(TypeError, match="unknown echo setting 'cage_diameter_m'"):
        echo.counts_from_density([1.0], cage_diameter_m=25.0)
