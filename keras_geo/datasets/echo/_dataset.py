"""The registered ``echo`` data set: fish-finder echograms labelled with the fish count (or the fish density)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np

from keras_geo._settings import Range
from keras_geo.datasets._registry import Dataset, register

from ._checks import _is_real, check_int, check_pair, check_seed, derive_seed
from ._physics import fish_volume_m3
from ._simulate import _SETTINGS, simulate_batch, sv_to_image

__all__ = ["TARGET_NAMES", "TARGET_UNITS", "echo", "draw_counts"]

TARGET_NAMES: tuple[str, str] = ("count", "density")
"""The targets the loader offers, one per data set (``target=``): the fish count, or fish per 1000 m^3."""
TARGET_UNITS: dict[str, str] = {"count": "fish", "density": "fish per 1000 m^3"}
_SPLITS = ("train", "val", "test")
# Split i is seeded derive_seed(seed, _NS_SPLITS + i); its counts come from derive_seed(split seed, _NS_COUNTS)
# and its sample j from derive_seed(split seed, j): no two samples of a data set share a stream. With
# cage_radii_m / lengths_cm, the cage radius and fish length of each sample come from derive_seed(split seed,
# _NS_CAGES, 0) and (..., 1): streams of their own, so the counts and the echograms' seeds do not move.
_NS_SPLITS = 100
_NS_COUNTS = 2**31
_NS_CAGES = 2**31 + 1
_Positive = Range(0.0, open_low=True)
_NonNegative = Range(0.0)


def draw_counts(n: int, count_range: tuple[int, int], distribution: str, seed: int) -> np.ndarray:
    """``n`` fish counts in ``count_range`` (inclusive), uniform or log-uniform, from one seeded stream.

    Prefix-stable: the first k counts of ``n`` are the k counts of ``k``.
    """
    lo, hi = check_pair("count_range", count_range, low=0, integer=True)
    rng = np.random.default_rng(seed)
    if distribution == "uniform":
        return rng.integers(lo, hi + 1, size=n).astype(np.int64)
    if distribution == "log_uniform":
        if lo < 1:
            raise ValueError(
                f"`count_range` must start at >= 1 for count_distribution='log_uniform'. Received: count_range={count_range!r}"
            )
        u = rng.random(n)
        # Equal probability per factor of counts: floor of a log-uniform real on [lo, hi + 1).
        return np.floor(np.exp(math.log(lo) + u * (math.log(hi + 1) - math.log(lo)))).astype(np.int64).clip(lo, hi)
    raise ValueError(
        f"`count_distribution` must be 'uniform' or 'log_uniform'. Received: count_distribution={distribution!r}"
    )


def _check_values(name: str, values: Any, *, above: float, what: str) -> list[float]:
    """A non-empty list of finite numbers > ``above`` (``what`` says the bound in the message)."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    ok = isinstance(values, (list, tuple)) and len(values) > 0
    ok = ok and all(_is_real(v) and math.isfinite(float(v)) and float(v) > above for v in values)
    if not ok:
        raise ValueError(f"`{name}` must be a non-empty list of finite numbers > {what}. Received: {name}={values!r}")
    return [float(v) for v in values]


def _draw_values(values: list[float], n: int, seed: int) -> np.ndarray:
    """``n`` draws, uniform over ``values`` (by position), from one seeded stream; prefix-stable."""
    return np.asarray(values, np.float64)[np.random.default_rng(seed).integers(0, len(values), size=n)]


@register("echo", task="regression")
def echo(
    n_train: Annotated[int, Range(1)] = 2000,
    n_val: Annotated[int, Range(1)] = 500,
    n_test: Annotated[int, Range(1)] = 500,
    count_range: Annotated[tuple[int, int], _NonNegative] = (10, 500),
    count_distribution: Literal["uniform", "log_uniform"] = "uniform",
    sv_range_db: tuple[float, float] = (-90.0, -20.0),
    n_pings: Annotated[int, Range(8)] = _SETTINGS["n_pings"],
    depth_bins: Annotated[int, Range(8)] = _SETTINGS["depth_bins"],
    range_m: Annotated[float, _Positive] = _SETTINGS["range_m"],
    cage_radius_m: Annotated[float, _Positive] = _SETTINGS["cage_radius_m"],
    net_depth_m: Annotated[float, _Positive] = _SETTINGS["net_depth_m"],
    net_band_m: Annotated[float, _NonNegative] = _SETTINGS["net_band_m"],
    length_mean_cm: Annotated[float, _Positive] = _SETTINGS["length_mean_cm"],
    length_sd_cm: Annotated[float, _NonNegative] = _SETTINGS["length_sd_cm"],
    ts_b20_db: float = _SETTINGS["ts_b20_db"],
    tilt_mean_deg: float = _SETTINGS["tilt_mean_deg"],
    tilt_sd_deg: Annotated[float, _NonNegative] = _SETTINGS["tilt_sd_deg"],
    tilt_halfwidth_deg: Annotated[float, _Positive] = _SETTINGS["tilt_halfwidth_deg"],
    beam_width_deg: Annotated[float, Range(0.0, 90.0, open_low=True, open_high=True)] = _SETTINGS["beam_width_deg"],
    absorption_db_per_m: Annotated[float, _NonNegative] = _SETTINGS["absorption_db_per_m"],
    sound_speed_m_s: Annotated[float, _Positive] = _SETTINGS["sound_speed_m_s"],
    pulse_length_ms: Annotated[float, _Positive] = _SETTINGS["pulse_length_ms"],
    ping_interval_s: Annotated[float, _Positive] = _SETTINGS["ping_interval_s"],
    swim_speed_m_s: Annotated[float, _NonNegative] = _SETTINGS["swim_speed_m_s"],
    school_speed_m_s: Annotated[float, _NonNegative] = _SETTINGS["school_speed_m_s"],
    noise_db: float | None = _SETTINGS["noise_db"],
    surface_sv_db: float | None = _SETTINGS["surface_sv_db"],
    surface_band_m: Annotated[float, _NonNegative] = _SETTINGS["surface_band_m"],
    bottom_sv_db: float | None = _SETTINGS["bottom_sv_db"],
    net_sway_m: Annotated[float, _NonNegative] = _SETTINGS["net_sway_m"],
    cage_radii_m: list[float] | None = None,
    lengths_cm: list[float] | None = None,
    target: Literal["count", "density"] = "count",
    seed: Annotated[int, Range(0)] = 0,
) -> Dataset:
    """Fish-finder echograms of a yellowtail net cage (Sv, pings x range) labelled with the fish count.

    Each split draws its own counts and echograms from its own seeded streams (derived from ``seed`` and the
    split), so no echogram is shared between splits. Inputs are ``(n, n_pings, depth_bins, 1)`` float32
    images ``clip((Sv - lo) / (hi - lo), 0, 1)`` with ``(lo, hi) = sv_range_db`` (:func:`sv_to_image`;
    the raw Sv comes from :func:`simulate_batch` with the same counts and seeds); targets are ``(n, 1)``
    float32 counts (target ``count``, unit fish; ``target="density"``: fish per 1000 m^3, see below).
    ``info`` holds the target and its unit, the image mapping, the settings, each split's per-sample seeds
    and each sample's cage (``info["cages"]``).

    The counts are drawn **uniformly** by default: every count of the range equally often, which matches
    the regression loss (absolute errors, one scale over the range) and the linear growth of Sv with the
    count; ``count_distribution="log_uniform"`` draws equally often per factor of counts instead (as many
    echograms at 10-20 fish as at 250-500), for training on relative errors.

    **Across cages.** An echogram shows the fish *density* (and their echo strength), not the cage's size:
    a model trained on the counts of one cage is off by the ratio of the volumes in another. With
    ``cage_radii_m`` and/or ``lengths_cm`` each echogram is of a cage whose radius and mean fish length are
    drawn uniformly from those lists (from streams of their own, independent of the counts; the echograms
    are simulated group by group with :func:`simulate_batch`, the other settings shared), and with
    ``target="density"`` the target is fish per 1000 m^3 of the volume the fish swim in (``pi (R - b)^2
    (D - 2 b)``, R the echogram's cage radius, D ``net_depth_m``, b ``net_band_m``; the volume of
    :func:`keras_geo.echo.cage_volume`). A density model trained across cages then counts the fish of any
    cage of known geometry: ``count = density x volume / 1000`` (:func:`keras_geo.echo.counts_from_density`).
    ``info["cages"][split]`` records each sample's ``cage_radius_m``, ``length_mean_cm`` and
    ``fish_volume_m3``, so its count is ``y * fish_volume_m3 / 1000`` with the density target.

    Args:
        n_train: Training echograms. Defaults to `2000`.
        n_val: Validation echograms. Defaults to `500`.
        n_test: Test echograms. Defaults to `500`.
        count_range: ``(min, max)`` fish in a cage, integers, 0 <= min <= max. Defaults to `(10, 500)`.
        count_distribution: ``"uniform"`` or ``"log_uniform"`` (needs min >= 1). Defaults to `"uniform"`.
        sv_range_db: ``(lo, hi)`` Sv in dB mapped to ``[0, 1]``. Defaults to `(-90.0, -20.0)`.
        cage_radii_m: Cage radii (m, each > ``net_band_m``) each echogram draws its own from, uniformly;
            ``cage_radius_m`` is then unused. Defaults to `None` (every echogram of ``cage_radius_m``).
        lengths_cm: Mean fish lengths (cm, each > 0) each echogram draws its own from, uniformly (the spread
            stays ``length_sd_cm``); ``length_mean_cm`` is then unused. Defaults to `None` (``length_mean_cm``).
        target: ``"count"`` (fish in the cage) or ``"density"`` (fish per 1000 m^3 of the fish's volume).
            Defaults to `"count"`.
        seed: Seed of the whole data set (>= 0). Defaults to `0`.

    The physical settings (``n_pings`` ... ``net_sway_m``) are those of :func:`simulate_echogram`, with its
    defaults and sources: a 25 m x 12 m deep yellowtail cage with a 1 m net band, fish of 60 +- 5 cm with
    ``TS = 20 log10 L - 67.5`` and tilts N(0, 10 deg), a 38 kHz sounder with a 10 degree beam, 0.512 ms pulses
    at 2 pings/s, absorption 0.0098 dB/m, c = 1500 m/s, 64 pings x 64 bins over 16 m, noise -110 dB at 1 m,
    a -45 dB surface band of 1 m and a -30 dB net floor. Set a level to None (or ``surface_band_m`` to 0)
    to switch that echo off.
    """
    physics = {name: value for name, value in locals().items() if name in _SETTINGS}
    if target not in TARGET_NAMES:
        raise ValueError(f"`target` must be 'count' or 'density'. Received: target={target!r}")
    if cage_radii_m is not None:
        band = physics["net_band_m"]
        cage_radii_m = _check_values("cage_radii_m", cage_radii_m, above=band, what=f"net_band_m ({band:g})")
    if lengths_cm is not None:
        lengths_cm = _check_values("lengths_cm", lengths_cm, above=0.0, what="0")
    counts_n = {
        "train": check_int("n_train", n_train, 1),
        "val": check_int("n_val", n_val, 1),
        "test": check_int("n_test", n_test, 1),
    }
    count_lo_hi = check_pair("count_range", count_range, low=0, integer=True)
    lo_hi = check_pair("sv_range_db", sv_range_db)
    if not lo_hi[0] < lo_hi[1]:
        raise ValueError(f"`sv_range_db` must be a pair (lo, hi) with lo < hi. Received: sv_range_db={sv_range_db!r}")
    seed = check_seed(seed)
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    seeds: dict[str, list[int]] = {}
    cages: dict[str, dict[str, list[float]]] = {}
    for i, (name, n) in enumerate(counts_n.items()):
        split_seed = derive_seed(seed, _NS_SPLITS + i)
        counts = draw_counts(n, count_lo_hi, count_distribution, derive_seed(split_seed, _NS_COUNTS))
        radii = _draw_values(cage_radii_m or [physics["cage_radius_m"]], n, derive_seed(split_seed, _NS_CAGES, 0))
        lengths = _draw_values(lengths_cm or [physics["length_mean_cm"]], n, derive_seed(split_seed, _NS_CAGES, 1))
        sample_seeds = np.asarray([derive_seed(split_seed, j) for j in range(n)], np.int64)
        sv_db = np.empty((n, physics["n_pings"], physics["depth_bins"]), np.float32)
        groups = sorted(set(zip(radii.tolist(), lengths.tolist())))
        for radius, length in groups:  # one cage and fish per group: the simulator's settings are per batch
            rows = np.flatnonzero((radii == radius) & (lengths == length))
            group = {**physics, "cage_radius_m": radius, "length_mean_cm": length}
            sv_db[rows] = simulate_batch(counts[rows], seeds=sample_seeds[rows], **group).sv_db
        volumes = np.asarray(fish_volume_m3(radii, physics["net_depth_m"], physics["net_band_m"]), np.float64)
        y = counts if target == "count" else counts / volumes * 1000.0
        splits[name] = (sv_to_image(sv_db, lo_hi)[..., None], y.astype(np.float32)[:, None])
        seeds[name] = sample_seeds.tolist()
        cages[name] = {
            "cage_radius_m": radii.tolist(),
            "length_mean_cm": lengths.tolist(),
            "fish_volume_m3": volumes.tolist(),
        }
    info: dict[str, Any] = {
        "target": target,
        "target_units": {target: TARGET_UNITS[target]},
        "image": f"x = clip((Sv - ({lo_hi[0]:g})) / ({lo_hi[1] - lo_hi[0]:g}), 0, 1), Sv in dB re 1 m^-1",
        "sv_range_db": list(lo_hi),
        "axes": ["ping", "range_bin"],
        "range_bin_m": physics["range_m"] / physics["depth_bins"],
        "count_range": list(count_lo_hi),
        "count_distribution": count_distribution,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in physics.items()},
        "cage_radii_m": cage_radii_m,
        "lengths_cm": lengths_cm,
        "seeds": seeds,
        "cages": cages,
    }
    return Dataset(splits, target_names=(target,), info=info)
