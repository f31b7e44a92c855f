"""The fish-finder echo simulator and the ``echo`` data set: physics, determinism, splits and settings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from keras_geo import datasets
from keras_geo._settings import SettingError
from keras_geo.datasets import echo
from keras_geo.datasets.echo import (
    SV_FLOOR_DB,
    beam_pattern_db,
    equivalent_beam_angle,
    expected_sv_db,
    render_echogram,
    simulate_batch,
    simulate_echogram,
    sv_to_image,
    target_strength_db,
)

SMALL = {"n_pings": 16, "depth_bins": 32}
QUIET = {"noise_db": None, "surface_sv_db": None, "bottom_sv_db": None}


def _linear(sv_db: np.ndarray) -> np.ndarray:
    return 10.0 ** (np.asarray(sv_db, dtype=np.float64) / 10.0)


# ---------------------------------------------------------------------------
# Physics
# ---------------------------------------------------------------------------


def test_beam_pattern_is_the_two_way_circular_piston():
    assert beam_pattern_db(0.0) == pytest.approx(0.0)
    # Two-way: -6 dB at the one-way half-power half-angle (beam width / 2), for any width.
    for width in (7.0, 10.0, 30.0):
        assert beam_pattern_db(width / 2, width) == pytest.approx(-6.0206, abs=1e-3)
    # psi of a circular piston ~ 5.78 / (k a)^2 (Simmonds & MacLennan).
    assert equivalent_beam_angle(10.0) == pytest.approx(5.78 / echo.piston_ka(10.0) ** 2, rel=0.01)
    assert float(beam_pattern_db(15.0, 10.0)) < -20.0


def test_a_fish_at_three_times_the_half_power_angle_is_below_minus_20_db_of_one_on_the_axis():
    r, angle = 8.0, math.radians(3 * 5.0)  # 10 degree beam: half-power half-angle 5 degrees
    on_axis = np.array([[[0.0, 0.0, r]]])
    off_axis = np.array([[[r * math.sin(angle), 0.0, r * math.cos(angle)]]])  # same range, 15 degrees off
    on = _linear(render_echogram(on_axis, -32.0)).sum()
    off = _linear(render_echogram(off_axis, -32.0)).sum()
    relative_db = 10 * math.log10(off / on)
    assert relative_db < -20.0, relative_db  # about -36 dB


def test_one_fish_on_the_axis_gives_back_its_target_strength():
    """Integrated over range, the TVG-compensated echo of one fish is sigma_bs / (psi r^2)."""
    r, ts = 8.0, -32.0
    sv = _linear(render_echogram(np.array([[[0.0, 0.0, r]]]), ts))[0]
    dr = 16.0 / 64
    recovered = 10 * math.log10(sv.sum() * dr * equivalent_beam_angle(10.0) * r**2)
    assert recovered == pytest.approx(ts, abs=0.5)
    # The pulse smears it over c tau / 2 = 0.384 m below the fish, no further.
    lit = np.flatnonzero(sv > 1e-6 * sv.max())
    assert 7.5 <= lit.min() * dr and (lit.max() + 1) * dr <= r + 0.384 + 2 * dr


def test_target_strength_follows_20_log_l_and_the_tilt_averages_to_b20():
    assert target_strength_db(60.0, tilt_sd_deg=0.0) == pytest.approx(20 * math.log10(60.0) - 67.5)
    tilts = np.random.default_rng(0).normal(0.0, 10.0, 200_000)
    mean_sigma = np.mean(10 ** (target_strength_db(60.0, tilts) / 10))
    assert 10 * math.log10(mean_sigma) == pytest.approx(20 * math.log10(60.0) - 67.5, abs=0.05)
    assert target_strength_db(60.0, 20.0) < target_strength_db(60.0, 0.0) - 15


def test_mean_sv_grows_linearly_with_the_count():
    # 40 cages per count: a 10 degree beam samples ~6 m^3 of the ~4200 m^3 the fish use, so one echogram's
    # mean is noisy (R^2 over seeds 0-7 of this batch: 0.96-0.998; this one, seed 0: 0.978).
    counts = np.repeat([10, 50, 100, 200, 300, 400, 500], 40)
    batch = simulate_batch(counts, seed=0)
    layer = (batch.range_m > 1.5) & (batch.range_m < 10.5)  # inside the fish layer (1-11 m)
    sv = _linear(batch.sv_db[:, :, layer]).mean(axis=(1, 2))
    levels = np.unique(counts)
    means = np.array([sv[counts == n].mean() for n in levels])
    slope, intercept = np.polyfit(levels, means, 1)
    r2 = 1 - np.sum((means - (slope * levels + intercept)) ** 2) / np.sum((means - means.mean()) ** 2)
    assert r2 >= 0.95, r2
    # The slope is echo integration's law: <sigma_bs> / V per fish (within the sampling error).
    assert slope == pytest.approx(10 ** (expected_sv_db(1) / 10), rel=0.25)


# ---------------------------------------------------------------------------
# Determinism and switches
# ---------------------------------------------------------------------------


def test_one_seed_one_echogram_alone_or_in_a_batch():
    a = simulate_echogram(120, seed=5, **SMALL)
    b = simulate_echogram(120, seed=5, **SMALL)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a.sv_db, simulate_echogram(120, seed=6, **SMALL).sv_db)
    assert a.sv_db.shape == (16, 32) and a.sv_db.dtype == np.float32
    assert a.positions_m.shape == (16, 120, 3) and a.lengths_cm.shape == (120,) and a.ts_db.shape == (16, 120)
    r = np.hypot(a.positions_m[..., 0], a.positions_m[..., 1])
    assert r.max() <= 12.5 - 1.0 + 1e-4 and a.positions_m[..., 2].min() >= 1.0 - 1e-4
    assert a.positions_m[..., 2].max() <= 11.0 + 1e-4

    batch = simulate_batch([0, 300, 40, 7], seed=2, **SMALL)
    for i, n in enumerate([0, 300, 40, 7]):
        alone = simulate_echogram(n, seed=int(batch.seeds[i]), **SMALL)
        np.testing.assert_array_equal(batch.sv_db[i], alone.sv_db)
    shorter = simulate_batch([0, 300], seed=2, **SMALL)
    np.testing.assert_array_equal(shorter.sv_db, batch.sv_db[:2])


def test_noise_surface_and_net_echo_switch_off_and_a_fish_free_cage_is_at_the_floor():
    empty = simulate_echogram(0, seed=1, **SMALL, **QUIET)
    assert np.all(empty.sv_db == SV_FLOOR_DB)
    assert np.all(
        simulate_echogram(0, seed=1, **SMALL, **{**QUIET, "surface_sv_db": -45.0}, surface_band_m=0).sv_db
        == SV_FLOOR_DB
    )
    # Noise alone: the TVG-raised noise floor, exponentially distributed about it.
    noisy = simulate_batch([0] * 8, seed=3, **SMALL, **{**QUIET, "noise_db": -110.0})
    r = noisy.range_m
    floor = _linear(-110.0 + 20 * np.log10(r) + 2 * 0.0098 * r)
    assert _linear(noisy.sv_db).mean(axis=(0, 1)) / floor == pytest.approx(
        np.ones_like(r), rel=0.35
    )  # 128 draws a bin: sd 9 %
    assert np.mean(_linear(noisy.sv_db) / floor) == pytest.approx(1.0, rel=0.05)
    # Each switch adds its echo to the same fish (the random streams do not shift).
    fish = _linear(simulate_echogram(200, seed=4, **SMALL, **QUIET).sv_db)
    full = _linear(simulate_echogram(200, seed=4, **SMALL).sv_db)
    assert np.all(full >= fish * (1 - 1e-5))
    depth = (np.arange(32) + 0.5) * 0.5
    bottom = simulate_echogram(0, seed=4, **SMALL, **{**QUIET, "bottom_sv_db": -30.0}).sv_db
    assert bottom[:, np.abs(depth - 12.25) < 0.6].max() > -36 and np.all(bottom[:, depth < 11] == SV_FLOOR_DB)
    surface = simulate_echogram(0, seed=4, **SMALL, **{**QUIET, "surface_sv_db": -45.0}).sv_db
    assert np.all(surface[:, depth > 2.0] == SV_FLOOR_DB) and np.median(surface[:, 0]) > -50


def test_sv_to_image_maps_the_sv_range_onto_zero_one():
    image = sv_to_image(np.array([-120.0, -90.0, -55.0, -20.0, 0.0]))
    np.testing.assert_allclose(image, [0.0, 0.0, 0.5, 1.0, 1.0])
    assert image.dtype == np.float32
    np.testing.assert_allclose(sv_to_image(np.array([-40.0]), (-60.0, -40.0)), [1.0])


# ---------------------------------------------------------------------------
# The registered data set
# ---------------------------------------------------------------------------


def test_the_echo_data_set_through_load():
    data = datasets.load("echo", n_train=12, n_val=5, n_test=6, count_range=[10, 60], seed=3, **SMALL)
    assert data.task == "regression" and data.name == "echo" and data.target_names == ("count",)
    assert data.info["target_units"] == {"count": "fish"} and data.sizes() == {"train": 12, "val": 5, "test": 6}
    for split, (x, y) in data.items():
        assert x.shape == (len(y), 16, 32, 1) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
        assert y.shape == (len(x), 1) and y.dtype == np.float32
        assert np.all((y >= 10) & (y <= 60)) and np.all(y == np.round(y))
        # The raw Sv of every sample comes back from its seed.
        raw = simulate_batch(y[:, 0].astype(int), seeds=data.info["seeds"][split], **SMALL)
        np.testing.assert_array_equal(sv_to_image(raw.sv_db)[..., None], x)
    # Splits are disjoint: their own streams, no shared echogram.
    seeds = [s for split in data for s in data.info["seeds"][split]]
    assert len(set(seeds)) == len(seeds)
    flat = {split: {x.tobytes() for x in data[split][0]} for split in data}
    assert not (flat["train"] & flat["val"] or flat["train"] & flat["test"] or flat["val"] & flat["test"])
    again = datasets.load("echo", n_train=12, n_val=5, n_test=6, count_range=[10, 60], seed=3, **SMALL)
    assert all(np.array_equal(data[s][0], again[s][0]) for s in data)
    log = datasets.load(
        "echo",
        n_train=400,
        n_val=1,
        n_test=1,
        count_range=[1, 512],
        count_distribution="log_uniform",
        n_pings=8,
        depth_bins=8,
    )
    y = log["train"][1][:, 0]
    assert np.mean(y < 23) == pytest.approx(0.5, abs=0.1)  # half the draws below sqrt(512) ~ 22.6


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"n_fish": -1}, "`n_fish` must be an integer >= 0. Received: n_fish=-1"),
        ({"cage_radius_m": -1}, "`cage_radius_m` must be a finite number > 0. Received: cage_radius_m=-1"),
        ({"net_depth_m": 0}, "`net_depth_m` must be a finite number > 0. Received: net_depth_m=0"),
        ({"beam_width_deg": 90}, "`beam_width_deg` must be a finite number > 0 and < 90. Received: beam_width_deg=90"),
        ({"beam_width_deg": 0}, "`beam_width_deg` must be"),
        ({"n_pings": 4}, "`n_pings` must be an integer >= 8. Received: n_pings=4"),
        ({"depth_bins": 2}, "`depth_bins` must be an integer >= 8. Received: depth_bins=2"),
        ({"net_band_m": 6.0}, "`net_band_m` must leave the fish room"),
        ({"length_mean_cm": float("nan")}, "`length_mean_cm` must be a finite number > 0"),
        ({"absorption_db_per_m": -0.01}, "`absorption_db_per_m` must be a finite number >= 0"),
        ({"seed": -3}, "`seed` must be an integer >= 0. Received: seed=-3"),
    ],
)
def test_bad_settings_get_one_line_naming_them(settings, message):
    kw = {"n_fish": 10, **settings}
    with pytest.raises(ValueError) as info:
        simulate_echogram(kw.pop("n_fish"), **kw)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_the_loader_refuses_bad_counts_and_settings_in_one_line():
    with pytest.raises(ValueError, match=r"`count_range` must be a pair \(min, max\) of integers with 0 <= min <= max"):
        echo.echo(n_train=1, n_val=1, n_test=1, count_range=(50, 10))
    with pytest.raises(ValueError, match="`count_range` must start at >= 1 for count_distribution='log_uniform'"):
        echo.echo(n_train=1, n_val=1, n_test=1, count_range=(0, 10), count_distribution="log_uniform")
    with pytest.raises(SettingError, match=r"dataset.count_range\[0\]: must be >= 0; received -5"):
        datasets.load("echo", count_range=[-5, 10])
    with pytest.raises(SettingError, match="dataset.cage_radius_m: must be > 0; received 0"):
        datasets.load("echo", cage_radius_m=0)
    with pytest.raises(SettingError, match="dataset.beam_width_deg: must be < 90; received 120"):
        datasets.load("echo", beam_width_deg=120)
    with pytest.raises(ValueError, match="`sv_range_db` must be a pair"):
        sv_to_image(np.zeros(3), (-20.0, -90.0))
    with pytest.raises(ValueError, match="`counts` must be an integer >= 0. Received: counts=-2"):
        simulate_batch([3, -2])


# ---------------------------------------------------------------------------
# Across cages: per-sample cage radius and fish length, the density target
# ---------------------------------------------------------------------------

ACROSS = {"cage_radii_m": [8.0, 18.0], "lengths_cm": [45.0, 75.0]}
TINY = {"n_train": 10, "n_val": 3, "n_test": 3, "count_range": [5, 40], "seed": 2, **SMALL}


def _fish_volume(radius: float) -> float:
    return math.pi * (radius - 1.0) ** 2 * (12.0 - 2.0)  # default net depth 12 m, net band 1 m


def test_each_echogram_draws_its_cage_and_fish_from_the_lists_and_records_them():
    data = datasets.load("echo", **TINY, **ACROSS)
    again = datasets.load("echo", **TINY, **ACROSS)
    plain = datasets.load("echo", **TINY)
    assert data.info["cage_radii_m"] == [8.0, 18.0] and data.info["lengths_cm"] == [45.0, 75.0]
    assert plain.info["cage_radii_m"] is None and plain.info["lengths_cm"] is None
    for split, (x, y) in data.items():
        cages = data.info["cages"][split]
        radii, lengths = np.array(cages["cage_radius_m"]), np.array(cages["length_mean_cm"])
        assert len(radii) == len(lengths) == len(y)
        assert set(radii) <= {8.0, 18.0} and set(lengths) <= {45.0, 75.0}
        np.testing.assert_allclose(cages["fish_volume_m3"], [_fish_volume(r) for r in radii])
        # Deterministic, and the counts and echograms' seeds do not move: only the cage and fish do.
        assert np.array_equal(x, again[split][0]) and again.info["cages"][split] == cages
        np.testing.assert_array_equal(y, plain[split][1])
        assert data.info["seeds"][split] == plain.info["seeds"][split]
        # Every sample is the simulator's echogram of its own cage and fish, from its seed.
        for i in (0, len(y) - 1):
            one = simulate_batch(
                [int(y[i, 0])],
                seeds=[data.info["seeds"][split][i]],
                cage_radius_m=radii[i],
                length_mean_cm=lengths[i],
                **SMALL,
            )
            np.testing.assert_array_equal(sv_to_image(one.sv_db)[0, ..., None], x[i])
    # Without lists every sample is of the fixed cage and fish.
    assert set(plain.info["cages"]["train"]["cage_radius_m"]) == {12.5}
    assert set(plain.info["cages"]["train"]["length_mean_cm"]) == {60.0}
    # Over many samples both values of each list come up, radius and length independently.
    many = echo.echo(n_train=200, n_val=1, n_test=1, count_range=(0, 0), n_pings=8, depth_bins=8, **ACROSS)
    pairs = set(zip(many.info["cages"]["train"]["cage_radius_m"], many.info["cages"]["train"]["length_mean_cm"]))
    assert len(pairs) == 4


def test_the_density_target_is_the_count_per_1000_cubic_metres_of_each_samples_cage():
    counts = datasets.load("echo", **TINY, **ACROSS)
    density = datasets.load("echo", **TINY, **ACROSS, target="density")
    assert density.target_names == ("density",) and density.info["target"] == "density"
    assert density.info["target_units"] == {"density": "fish per 1000 m^3"}
    assert counts.target_names == ("count",) and counts.info["target_units"] == {"count": "fish"}
    for split, (x, y) in density.items():
        np.testing.assert_array_equal(x, counts[split][0])
        volumes = np.array([_fish_volume(r) for r in density.info["cages"][split]["cage_radius_m"]])
        np.testing.assert_allclose(y[:, 0], counts[split][1][:, 0] / volumes * 1000.0, rtol=1e-6)
        np.testing.assert_array_equal(np.round(y[:, 0] * volumes / 1000.0), counts[split][1][:, 0])
        assert y.dtype == np.float32 and y.shape == (len(x), 1)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"cage_radii_m": []}, "`cage_radii_m` must be a non-empty list of finite numbers > net_band_m (1)"),
        ({"cage_radii_m": [10.0, 0.5]}, "`cage_radii_m` must be a non-empty list of finite numbers > net_band_m (1)"),
        ({"cage_radii_m": [10.0, float("nan")]}, "`cage_radii_m` must be a non-empty list"),
        ({"cage_radii_m": 10.0}, "`cage_radii_m` must be a non-empty list"),
        (
            {"lengths_cm": [60.0, -5.0]},
            "`lengths_cm` must be a non-empty list of finite numbers > 0. Received: lengths_cm=",
        ),
        ({"lengths_cm": ["60"]}, "`lengths_cm` must be a non-empty list"),
        ({"target": "mass"}, "`target` must be 'count' or 'density'. Received: target='mass'"),
    ],
)
def test_bad_cage_lists_and_targets_get_one_line_naming_them(settings, message):
    with pytest.raises(ValueError) as info:
        echo.echo(n_train=1, n_val=1, n_test=1, **settings)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_the_loader_checks_the_target_through_load():
    with pytest.raises(SettingError, match="dataset.target: must be one of count, density; received 'mass'"):
        datasets.load("echo", target="mass")
