"""The registered ``echo`` data set: fish-finder echograms labelled with the fish count."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np

from keras_geo._settings import Range
from keras_geo.datasets._registry import Dataset, register

from ._checks import check_int, check_pair, check_seed, derive_seed
from ._simulate import _SETTINGS, simulate_batch, sv_to_image

__all__ = ["TARGET_NAMES", "TARGET_UNITS", "echo", "draw_counts"]

TARGET_NAMES: tuple[str] = ("count",)
TARGET_UNITS: dict[str, str] = {"count": "fish"}
_SPLITS = ("train", "val", "test")
# Split i is seeded derive_seed(seed, _NS_SPLITS + i); its counts come from derive_seed(split seed, _NS_COUNTS)
# and its sample j from derive_seed(split seed, j): no two samples of a data set share a stream.
_NS_SPLITS = 100
_NS_COUNTS = 2**31
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
    seed: Annotated[int, Range(0)] = 0,
) -> Dataset:
    """Fish-finder echograms of a yellowtail net cage (Sv, pings x range) labelled with the fish count.

    Each split draws its own counts and echograms from its own seeded streams (derived from ``seed`` and the
    split), so no echogram is shared between splits. Inputs are ``(n, n_pings, depth_bins, 1)`` float32
    images ``clip((Sv - lo) / (hi - lo), 0, 1)`` with ``(lo, hi) = sv_range_db`` (:func:`sv_to_image`;
    the raw Sv comes from :func:`simulate_batch` with the same counts and seeds); targets are ``(n, 1)``
    float32 counts (target ``count``, unit fish). ``info`` holds the units, the image mapping, the settings
    and each split's per-sample seeds.

    The counts are drawn **uniformly** by default: every count of the range equally often, which matches
    the regression loss (absolute errors, one scale over the range) and the linear growth of Sv with the
    count; ``count_distribution="log_uniform"`` draws equally often per factor of counts instead (as many
    echograms at 10-20 fish as at 250-500), for training on relative errors.

    Args:
        n_train: Training echograms. Defaults to `2000`.
        n_val: Validation echograms. Defaults to `500`.
        n_test: Test echograms. Defaults to `500`.
        count_range: ``(min, max)`` fish in a cage, integers, 0 <= min <= max. Defaults to `(10, 500)`.
        count_distribution: ``"uniform"`` or ``"log_uniform"`` (needs min >= 1). Defaults to `"uniform"`.
        sv_range_db: ``(lo, hi)`` Sv in dB mapped to ``[0, 1]``. Defaults to `(-90.0, -20.0)`.
        seed: Seed of the whole data set (>= 0). Defaults to `0`.

    The physical settings (``n_pings`` ... ``net_sway_m``) are those of :func:`simulate_echogram`, with its
    defaults and sources: a 25 m x 12 m deep yellowtail cage with a 1 m net band, fish of 60 +- 5 cm with
    ``TS = 20 log10 L - 67.5`` and tilts N(0, 10 deg), a 38 kHz sounder with a 10 degree beam, 0.512 ms pulses
    at 2 pings/s, absorption 0.0098 dB/m, c = 1500 m/s, 64 pings x 64 bins over 16 m, noise -110 dB at 1 m,
    a -45 dB surface band of 1 m and a -30 dB net floor. Set a level to None (or ``surface_band_m`` to 0)
    to switch that echo off.
    """
    physics = {name: value for name, value in locals().items() if name in _SETTINGS}
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
    for i, (name, n) in enumerate(counts_n.items()):
        split_seed = derive_seed(seed, _NS_SPLITS + i)
        counts = draw_counts(n, count_lo_hi, count_distribution, derive_seed(split_seed, _NS_COUNTS))
        batch = simulate_batch(counts, seed=split_seed, **physics)
        x = sv_to_image(batch.sv_db, lo_hi)[..., None]
        splits[name] = (x, counts.astype(np.float32)[:, None])
        seeds[name] = batch.seeds.tolist()
    info: dict[str, Any] = {
        "target_units": dict(TARGET_UNITS),
        "image": f"x = clip((Sv - ({lo_hi[0]:g})) / ({lo_hi[1] - lo_hi[0]:g}), 0, 1), Sv in dB re 1 m^-1",
        "sv_range_db": list(lo_hi),
        "axes": ["ping", "range_bin"],
        "range_bin_m": physics["range_m"] / physics["depth_bins"],
        "count_range": list(count_lo_hi),
        "count_distribution": count_distribution,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in physics.items()},
        "seeds": seeds,
    }
    return Dataset(splits, target_names=TARGET_NAMES, info=info)
