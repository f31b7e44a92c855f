"""The echo simulator: fish in a cylindrical cage seen by a downward-looking echo sounder, ping by ping.

Every sample is drawn from its own generator (``numpy.random.default_rng(seed)``) in a fixed order
(lengths, start positions, school direction, swimming steps, tilts, noise, surface, net floor), so an
echogram depends only on its fish count, its seed and the settings, whether made alone or in a batch;
the physics is then computed for many samples at once (fish of a chunk of samples concatenated).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ._checks import check_int, check_number, check_optional_db, check_pair, check_seed, derive_seed
from ._physics import _tilt_norm_db, equivalent_beam_angle, fish_volume_m3, piston_ka, two_way_beam_fast

__all__ = [
    "SV_FLOOR_DB",
    "Echogram",
    "EchogramBatch",
    "expected_sv_db",
    "render_echogram",
    "simulate_batch",
    "simulate_echogram",
    "sv_to_image",
]

SV_FLOOR_DB = -200.0
"""Sv written where nothing echoes (all of noise, surface and net floor switched off): a finite stand-in for -inf."""
_SV_FLOOR = 10.0 ** (SV_FLOOR_DB / 10.0)
_VERTICAL_STEP = 0.5  # vertical step sd as a fraction of the horizontal one: caged fish swim mostly level
_SURFACE_BAND_SD = 0.2  # relative ping-to-ping spread of the surface band's thickness (waves, bubbles)
_BOTTOM_JITTER_DB = 1.5  # ping-to-ping spread of the net-floor echo level (dB)
_CHUNK_ELEMENTS = 1_500_000  # fish x pings per vectorised chunk (memory ~ a few x 12 MB)


class Echogram(NamedTuple):
    """One simulated echogram and its fish.

    Attributes:
        sv_db: ``(n_pings, depth_bins)`` float32 Sv in dB re 1 m^-1 (``SV_FLOOR_DB`` where nothing echoes).
        range_m: ``(depth_bins,)`` range of each bin's centre below the transducer (m).
        positions_m: ``(n_pings, n_fish, 3)`` fish ``(x, y, depth)`` in m at each ping, the transducer at
            ``(0, 0, 0)`` over the cage's axis.
        lengths_cm: ``(n_fish,)`` fish lengths in cm.
        ts_db: ``(n_pings, n_fish)`` target strength of each fish at each ping (its tilt of that ping).
    """

    sv_db: np.ndarray
    range_m: np.ndarray
    positions_m: np.ndarray
    lengths_cm: np.ndarray
    ts_db: np.ndarray


class EchogramBatch(NamedTuple):
    """Simulated echograms.

    Attributes:
        sv_db: ``(n, n_pings, depth_bins)`` float32 Sv in dB.
        counts: ``(n,)`` int64 fish in the cage of each echogram.
        seeds: ``(n,)`` int64 seed of each echogram: ``simulate_echogram(counts[i], seed=seeds[i])`` is sample i.
        range_m: ``(depth_bins,)`` range of the bin centres (m).
    """

    sv_db: np.ndarray
    counts: np.ndarray
    seeds: np.ndarray
    range_m: np.ndarray


@dataclass(frozen=True)
class _Config:
    n_pings: int
    depth_bins: int
    range_m: float
    cage_radius_m: float
    net_depth_m: float
    net_band_m: float
    length_mean_cm: float
    length_sd_cm: float
    ts_b20_db: float
    tilt_mean_deg: float
    tilt_sd_deg: float
    tilt_halfwidth_deg: float
    beam_width_deg: float
    absorption_db_per_m: float
    sound_speed_m_s: float
    pulse_length_ms: float
    ping_interval_s: float
    swim_speed_m_s: float
    school_speed_m_s: float
    noise_db: float | None
    surface_sv_db: float | None
    surface_band_m: float
    bottom_sv_db: float | None
    net_sway_m: float

    @property
    def dr(self) -> float:
        return self.range_m / self.depth_bins

    @property
    def r(self) -> np.ndarray:
        return (np.arange(self.depth_bins) + 0.5) * self.dr

    @property
    def fish_radius(self) -> float:
        return self.cage_radius_m - self.net_band_m

    @property
    def fish_depths(self) -> tuple[float, float]:
        return self.net_band_m, self.net_depth_m - self.net_band_m

    @property
    def fish_volume(self) -> float:
        """The volume the fish swim in (m^3): :func:`~._physics.fish_volume_m3`."""
        return fish_volume_m3(self.cage_radius_m, self.net_depth_m, self.net_band_m)

    @property
    def pulse_bins(self) -> float:
        """The pulse's range extent c tau / 2 in bins."""
        return self.sound_speed_m_s * self.pulse_length_ms * 1e-3 / 2.0 / self.dr


def _config(**kw: Any) -> _Config:
    """The settings checked one by one (one-line ValueErrors naming the setting), then together."""
    c = _Config(
        n_pings=check_int("n_pings", kw["n_pings"], 8),
        depth_bins=check_int("depth_bins", kw["depth_bins"], 8),
        range_m=check_number("range_m", kw["range_m"], low=0.0, open_low=True),
        cage_radius_m=check_number("cage_radius_m", kw["cage_radius_m"], low=0.0, open_low=True),
        net_depth_m=check_number("net_depth_m", kw["net_depth_m"], low=0.0, open_low=True),
        net_band_m=check_number("net_band_m", kw["net_band_m"], low=0.0),
        length_mean_cm=check_number("length_mean_cm", kw["length_mean_cm"], low=0.0, open_low=True),
        length_sd_cm=check_number("length_sd_cm", kw["length_sd_cm"], low=0.0),
        ts_b20_db=check_number("ts_b20_db", kw["ts_b20_db"]),
        tilt_mean_deg=check_number("tilt_mean_deg", kw["tilt_mean_deg"]),
        tilt_sd_deg=check_number("tilt_sd_deg", kw["tilt_sd_deg"], low=0.0),
        tilt_halfwidth_deg=check_number("tilt_halfwidth_deg", kw["tilt_halfwidth_deg"], low=0.0, open_low=True),
        beam_width_deg=check_number("beam_width_deg", kw["beam_width_deg"], low=0.0, open_low=True, high=90.0),
        absorption_db_per_m=check_number("absorption_db_per_m", kw["absorption_db_per_m"], low=0.0),
        sound_speed_m_s=check_number("sound_speed_m_s", kw["sound_speed_m_s"], low=0.0, open_low=True),
        pulse_length_ms=check_number("pulse_length_ms", kw["pulse_length_ms"], low=0.0, open_low=True),
        ping_interval_s=check_number("ping_interval_s", kw["ping_interval_s"], low=0.0, open_low=True),
        swim_speed_m_s=check_number("swim_speed_m_s", kw["swim_speed_m_s"], low=0.0),
        school_speed_m_s=check_number("school_speed_m_s", kw["school_speed_m_s"], low=0.0),
        noise_db=check_optional_db("noise_db", kw["noise_db"]),
        surface_sv_db=check_optional_db("surface_sv_db", kw["surface_sv_db"]),
        surface_band_m=check_number("surface_band_m", kw["surface_band_m"], low=0.0),
        bottom_sv_db=check_optional_db("bottom_sv_db", kw["bottom_sv_db"]),
        net_sway_m=check_number("net_sway_m", kw["net_sway_m"], low=0.0),
    )
    if not (c.net_band_m < c.cage_radius_m and 2.0 * c.net_band_m < c.net_depth_m):
        raise ValueError(
            f"`net_band_m` must leave the fish room: < cage_radius_m ({c.cage_radius_m:g}) and < net_depth_m / 2 "
            f"({c.net_depth_m / 2:g}). Received: net_band_m={kw['net_band_m']!r}"
        )
    return c


def _draws(n: int, seed: int, c: _Config) -> dict[str, Any]:
    """Every random number of one sample, from its own generator, in a fixed order (switches do not shift it)."""
    rng = np.random.default_rng(seed)
    p, d = c.n_pings, c.depth_bins
    lengths = np.maximum(rng.normal(c.length_mean_cm, c.length_sd_cm, n), 0.1 * c.length_mean_cm)
    u = rng.random((3, n))
    z_lo, z_hi = c.fish_depths
    rho = c.fish_radius * np.sqrt(u[0])  # uniform over the disc's area
    phi = 2.0 * math.pi * u[1]
    start = np.stack([rho * np.cos(phi), rho * np.sin(phi), z_lo + (z_hi - z_lo) * u[2]], axis=-1)
    return {
        "lengths": lengths,
        "start": start,
        "sign": 1.0 if rng.random() < 0.5 else -1.0,
        "steps": rng.standard_normal((p - 1, n, 3), dtype=np.float32),
        "tilt": c.tilt_mean_deg + c.tilt_sd_deg * rng.standard_normal((p, n), dtype=np.float32),
        "noise": rng.standard_exponential((p, d), dtype=np.float32),
        "surface": rng.standard_exponential((p, d), dtype=np.float32),
        "surface_band": rng.standard_normal(p),
        "sway": rng.standard_normal(p),
        "bottom_level": rng.standard_normal(p),
    }


def _swim(start: np.ndarray, steps: np.ndarray, omega: np.ndarray, c: _Config) -> np.ndarray:
    """Positions ``(n_pings, n, 3)``: the school's rotation about the cage axis plus each fish's random walk,
    reflected at the net band (a reflecting walk keeps the uniform density of the start)."""
    p = c.n_pings
    dt = c.ping_interval_s
    step_h = c.swim_speed_m_s * dt / math.sqrt(2.0)  # rms horizontal step = swim speed x ping interval
    step_z = _VERTICAL_STEP * c.swim_speed_m_s * dt / math.sqrt(2.0)
    cos, sin = np.cos(omega * dt), np.sin(omega * dt)
    r_max = c.fish_radius
    z_lo, z_hi = c.fish_depths
    out = np.empty((p, *start.shape))
    x, y, z = (start[:, k].copy() for k in range(3))
    out[0] = start
    for i in range(1, p):
        x, y = cos * x - sin * y, sin * x + cos * y
        x = x + step_h * steps[i - 1, :, 0]
        y = y + step_h * steps[i - 1, :, 1]
        z = z + step_z * steps[i - 1, :, 2]
        rho = np.hypot(x, y)
        over = rho > r_max
        if over.any():
            scale = np.clip(2.0 * r_max - rho[over], 0.0, r_max) / rho[over]
            x[over] *= scale
            y[over] *= scale
        z = np.where(z < z_lo, 2.0 * z_lo - z, z)
        z = np.clip(np.where(z > z_hi, 2.0 * z_hi - z, z), z_lo, z_hi)
        out[i, :, 0], out[i, :, 1], out[i, :, 2] = x, y, z
    return out


def _deposit(values: np.ndarray, rng_m: np.ndarray, cell: np.ndarray, n_cells: int, c: _Config) -> np.ndarray:
    """``(n_cells, depth_bins)`` sums of ``values`` at ranges ``rng_m`` (linear interpolation between bin
    centres), ``cell`` the (sample, ping) row of each value; ranges beyond the window are dropped."""
    d = c.depth_bins
    inside = (rng_m >= 0.0) & (rng_m < c.range_m)
    values, rng_m, cell = values[inside], rng_m[inside], cell[inside]
    u = np.clip(rng_m / c.dr - 0.5, 0.0, d - 1.0)
    j0 = np.minimum(np.floor(u).astype(np.int64), d - 2)
    w = u - j0
    flat = cell * d + j0
    out = np.bincount(flat, values * (1.0 - w), minlength=n_cells * d)
    out += np.bincount(flat + 1, values * w, minlength=n_cells * d)
    return out.reshape(n_cells, d)


def _smear(a: np.ndarray, c: _Config) -> np.ndarray:
    """Each echo spread over the pulse's range extent c tau / 2 below its range (a box, energy kept)."""
    length = c.pulse_bins
    if length <= 1.0:
        return a
    k = int(math.ceil(length))
    weights = np.clip(length - np.arange(k), 0.0, 1.0) / length
    out = weights[0] * a
    for shift in range(1, min(k, a.shape[-1])):
        out[..., shift:] += weights[shift] * a[..., :-shift]
    return out


def _fish_power(positions: np.ndarray, ts_db: np.ndarray, c: _Config) -> tuple[np.ndarray, np.ndarray]:
    """Range (m) and received echo power (TVG-free, re 1 m^2 at 1 m) of every fish at every ping."""
    rho2 = positions[..., 0] ** 2 + positions[..., 1] ** 2
    r = np.sqrt(rho2 + positions[..., 2] ** 2)
    r_safe = np.maximum(r, 1e-6)
    beam = two_way_beam_fast(np.sqrt(rho2) / r_safe, piston_ka(c.beam_width_deg))
    # sigma_bs b^2 10^(-2 alpha r / 10) / r^4: two-way spreading 40 log10 r and absorption 2 alpha r.
    power = np.exp((math.log(10.0) / 10.0) * (ts_db - 2.0 * c.absorption_db_per_m * r)) * beam / (r_safe**2) ** 2
    return r, power


def _tvg(c: _Config) -> np.ndarray:
    """Sv TVG of each bin: 20 log10 r + 2 alpha r - 10 log10(psi dr) (linear), so a uniform layer reads its Sv."""
    r = c.r
    return r**2 * 10.0 ** (c.absorption_db_per_m * r / 5.0) / (equivalent_beam_angle(c.beam_width_deg) * c.dr)


def _ts(lengths: np.ndarray, tilt: np.ndarray, c: _Config) -> np.ndarray:
    norm = _tilt_norm_db(c.tilt_mean_deg, c.tilt_sd_deg, c.tilt_halfwidth_deg)
    return 20.0 * np.log10(lengths) + c.ts_b20_db - 3.0 * (tilt / c.tilt_halfwidth_deg) ** 2 + norm


def _chunk(counts: Sequence[int], seeds: Sequence[int], c: _Config, details: bool = False):
    """Linear s_v ``(len(counts), n_pings, depth_bins)`` of a chunk of samples (and the fish of the first)."""
    b, p, d = len(counts), c.n_pings, c.depth_bins
    draws = [_draws(int(n), int(s), c) for n, s in zip(counts, seeds)]
    counts_a = np.asarray(counts, dtype=np.int64)
    sample = np.repeat(np.arange(b), counts_a)
    start = np.concatenate([x["start"] for x in draws]) if b else np.zeros((0, 3))
    steps = np.concatenate([x["steps"] for x in draws], axis=1)
    omega = np.repeat([x["sign"] for x in draws], counts_a) * (c.school_speed_m_s / c.fish_radius)
    positions = _swim(start, steps, omega, c)  # (p, F, 3)
    lengths = np.concatenate([x["lengths"] for x in draws])
    tilt = np.concatenate([x["tilt"] for x in draws], axis=1)
    ts_db = _ts(lengths[None, :], tilt, c)
    r, power = _fish_power(positions, ts_db, c)
    cell = sample[None, :] * p + np.arange(p)[:, None]
    fish = _deposit(power.ravel(), r.ravel(), cell.ravel(), b * p, c).reshape(b, p, d)
    sv = _smear(fish, c) * _tvg(c)

    r_bins = c.r
    if c.bottom_sv_db is not None:
        depth = c.net_depth_m + c.net_sway_m * np.stack([x["sway"] for x in draws])  # (b, p)
        level = 10.0 ** ((c.bottom_sv_db + _BOTTOM_JITTER_DB * np.stack([x["bottom_level"] for x in draws])) / 10.0)
        level = level * max(c.pulse_bins, 1.0)  # Sv over the pulse's extent below the net floor
        bottom = _deposit(level.ravel(), depth.ravel(), np.arange(b * p), b * p, c).reshape(b, p, d)
        sv += _smear(bottom, c)
    if c.surface_sv_db is not None and c.surface_band_m > 0:
        thick = c.surface_band_m * np.maximum(1.0 + _SURFACE_BAND_SD * np.stack([x["surface_band"] for x in draws]), 0)
        cover = np.clip((thick[..., None] - (r_bins - c.dr / 2.0)) / c.dr, 0.0, 1.0)  # (b, p, d)
        sv += 10.0 ** (c.surface_sv_db / 10.0) * cover * np.stack([x["surface"] for x in draws])
    if c.noise_db is not None:
        # Constant received noise power, raised with range by the TVG (De Robertis & Higginbottom 2007).
        profile = 10.0 ** ((c.noise_db + 20.0 * np.log10(r_bins) + 2.0 * c.absorption_db_per_m * r_bins) / 10.0)
        sv += profile * np.stack([x["noise"] for x in draws])
    if not details:
        return sv
    first = slice(0, int(counts_a[0]))
    return sv, positions[:, first], lengths[first], ts_db[:, first]


def _to_db(sv: np.ndarray) -> np.ndarray:
    return (10.0 * np.log10(np.maximum(sv, _SV_FLOOR))).astype(np.float32)


def simulate_echogram(
    n_fish: int,
    *,
    n_pings: int = 64,
    depth_bins: int = 64,
    range_m: float = 16.0,
    cage_radius_m: float = 12.5,
    net_depth_m: float = 12.0,
    net_band_m: float = 1.0,
    length_mean_cm: float = 60.0,
    length_sd_cm: float = 5.0,
    ts_b20_db: float = -67.5,
    tilt_mean_deg: float = 0.0,
    tilt_sd_deg: float = 10.0,
    tilt_halfwidth_deg: float = 8.0,
    beam_width_deg: float = 10.0,
    absorption_db_per_m: float = 0.0098,
    sound_speed_m_s: float = 1500.0,
    pulse_length_ms: float = 0.512,
    ping_interval_s: float = 0.5,
    swim_speed_m_s: float = 0.5,
    school_speed_m_s: float = 0.5,
    noise_db: float | None = -110.0,
    surface_sv_db: float | None = -45.0,
    surface_band_m: float = 1.0,
    bottom_sv_db: float | None = -30.0,
    net_sway_m: float = 0.1,
    seed: int = 0,
) -> Echogram:
    """A fish-finder echogram (Sv, ping x range) of ``n_fish`` fish swimming in a cylindrical net cage.

    A downward-looking sounder at the surface over the cage's axis pings ``n_pings`` times. Each fish echoes
    ``sigma_bs b^2(theta) 10^(-2 alpha r / 10) / r^4`` (target strength, two-way circular-piston beam pattern,
    two-way spreading and absorption; Furusawa & Amakasu, OCEANS'08; Simmonds & MacLennan 2005, Fisheries
    Acoustics, ch. 3 and 6); the echoes of a ping are summed in range bins (incoherently), spread over the
    pulse's range extent ``c tau / 2`` and converted to Sv with the 20 log r TVG
    ``Sv = 10 log10(P r^2 10^(2 alpha r / 10) / (psi dr))`` (psi the equivalent beam angle): a uniform fish
    layer of density n reads ``Sv = 10 log10(n <sigma_bs>)`` at every range, so the mean s_v over the fish
    layer grows linearly with ``n_fish`` (:func:`expected_sv_db`). Then the surface band, the net floor echo
    and the background noise are added. The setting follows Nishikawa et al. (2024, Aquacultural Engineering
    109:102505: a CNN counting yellowtail in cages from simulated fish-finder echograms).

    Fish start uniformly in the cage volume the net band leaves them (radius ``cage_radius_m - net_band_m``,
    depths ``net_band_m .. net_depth_m - net_band_m``), then between pings the school turns about the cage's
    axis (angular speed ``school_speed_m_s / (cage_radius_m - net_band_m)``, direction random per echogram;
    the circular swimming of caged fish) and each fish makes a random step, reflected at the net band. Each
    fish has a length ``N(length_mean_cm, length_sd_cm^2)`` (clipped at a tenth of the mean) and at each ping
    a tilt ``N(tilt_mean_deg, tilt_sd_deg^2)`` (:func:`~keras_geo.datasets.echo.target_strength_db`).

    Args:
        n_fish: Fish in the cage (>= 0).
        n_pings: Pings, the rows of the returned array (>= 8). Defaults to `64`.
        depth_bins: Range bins from the transducer to ``range_m`` (>= 8). Defaults to `64` (0.25 m bins).
        range_m: Range of the echogram window in m (> 0). Defaults to `16.0`: the cage plus 4 m below
            the net floor.
        cage_radius_m: Cage radius in m (> 0). Defaults to `12.5` (a 25 m circular cage; yellowtail cages in
            Japan are ~10-30 m across).
        net_depth_m: Depth of the net floor in m (> 0). Defaults to `12.0` (yellowtail cage nets are ~10-15 m
            deep).
        net_band_m: Band along the net wall and floor (and below the surface) that the fish avoid, in m
            (>= 0, < cage_radius_m and < net_depth_m / 2). Defaults to `1.0`.
        length_mean_cm: Mean fish length in cm (> 0). Defaults to `60.0` (farmed yellowtail at 50-70 cm).
        length_sd_cm: Standard deviation of the length in cm (>= 0). Defaults to `5.0` (95 % in 50-70 cm).
        ts_b20_db: b20 of ``TS = 20 log10(L / cm) + b20`` in dB. Defaults to `-67.5` (Foote 1987, physoclists
            at 38 kHz; see :func:`~keras_geo.datasets.echo.target_strength_db`).
        tilt_mean_deg: Mean fish tilt in degrees. Defaults to `0.0`.
        tilt_sd_deg: Tilt standard deviation in degrees (>= 0). Defaults to `10.0` (Simmonds & MacLennan 2005,
            ch. 6: 5-20 degrees for swimming fish).
        tilt_halfwidth_deg: Tilt at which a fish's TS is 3 dB below its peak, in degrees (> 0). Defaults to `8.0`.
        beam_width_deg: One-way -3 dB full beam width in degrees, in (0, 90); ``k a`` of the piston follows.
            Defaults to `10.0` (a common 38 kHz fish-finder/split-beam transducer, e.g. Simrad ES38-10).
        absorption_db_per_m: Absorption coefficient alpha in dB/m (>= 0). Defaults to `0.0098` (38 kHz in
            seawater at ~15 degC, 35 PSU; Francois & Garrison 1982).
        sound_speed_m_s: Sound speed in m/s (> 0). Defaults to `1500.0` (coastal seawater).
        pulse_length_ms: Transmitted pulse length tau in ms (> 0). Defaults to `0.512` (a short-range setting
            of 38 kHz sounders, e.g. Simrad EK60/EK80: 0.256-4.096 ms); ``c tau / 2`` = 0.38 m.
        ping_interval_s: Time between pings in s (> 0). Defaults to `0.5` (2 pings/s, a fish finder at
            short range).
        swim_speed_m_s: Root-mean-square speed of each fish's random swimming in m/s (>= 0); the rms
            horizontal step between pings is ``swim_speed_m_s * ping_interval_s`` (vertical: half that).
            Defaults to `0.5` (about one body length per second, a cruising speed).
        school_speed_m_s: Speed of the school's rotation at the net band in m/s (>= 0; 0: no schooling).
            Defaults to `0.5`.
        noise_db: Sv of the background noise at 1 m in dB (None: no noise). The noise power is constant in
            the receiver, so the TVG raises it as ``20 log10 r + 2 alpha r``; each (ping, bin) is
            exponentially distributed about it (Rayleigh amplitude). Defaults to `-110.0` (about -88 dB at
            the 12 m net floor: a fish finder noisier than a scientific sounder).
        surface_sv_db: Sv of the near-surface band (bubbles, transducer ringing) in dB (None: none); each
            (ping, bin) exponentially distributed about it. Defaults to `-45.0`.
        surface_band_m: Mean thickness of that band in m (>= 0; 0: none), varying 20 % from ping to ping.
            Defaults to `1.0`.
        bottom_sv_db: Sv of the net floor's echo over the pulse extent below it, in dB (None: none); its
            level varies 1.5 dB from ping to ping. Defaults to `-30.0` (a net is a strong scatterer).
        net_sway_m: Standard deviation of the net floor's depth from ping to ping in m (>= 0). Defaults
            to `0.1`.
        seed: Seed of this echogram (>= 0). Defaults to `0`.

    Returns:
        An :class:`Echogram`: Sv ``(n_pings, depth_bins)`` in dB, the bin ranges and the fish (positions per
        ping, lengths, TS per ping).

    Raises:
        ValueError: A bad setting; one line naming it (``cage_radius_m must be > 0``).
    """
    n = check_int("n_fish", n_fish, 0)
    c = _config(**{k: v for k, v in locals().items() if k in _SETTINGS})
    sv, positions, lengths, ts_db = _chunk([n], [check_seed(seed)], c, details=True)
    return Echogram(
        sv_db=_to_db(sv[0]),
        range_m=c.r,
        positions_m=positions.astype(np.float32),
        lengths_cm=lengths.astype(np.float32),
        ts_db=ts_db.astype(np.float32),
    )


_SETTINGS = {
    name: p.default
    for name, p in inspect.signature(simulate_echogram).parameters.items()
    if name not in ("n_fish", "seed")
}


def _settings(kw: dict[str, Any]) -> _Config:
    unknown = sorted(set(kw) - set(_SETTINGS))
    if unknown:
        raise TypeError(f"unknown echo setting {unknown[0]!r}; allowed: {', '.join(_SETTINGS)}")
    return _config(**{**_SETTINGS, **kw})


def simulate_batch(
    counts: Sequence[int] | np.ndarray,
    *,
    seed: int = 0,
    seeds: Sequence[int] | np.ndarray | None = None,
    **settings: Any,
) -> EchogramBatch:
    """Echograms of ``counts[i]`` fish each, sample i from its own seed: the same alone or in a batch.

    Args:
        counts: Fish in the cage of each echogram (integers >= 0).
        seed: Seed of the batch (>= 0): sample i is seeded ``derive_seed(seed, i)``, so the first k samples
            of a longer batch are the k samples of a shorter one. Defaults to `0`.
        seeds: Per-sample seeds instead (one per count, >= 0). Defaults to `None`.
        **settings: Any keyword of :func:`simulate_echogram` (its defaults otherwise).

    Returns:
        An :class:`EchogramBatch` with ``simulate_echogram(counts[i], seed=seeds[i], **settings).sv_db ==
        sv_db[i]``.
    """
    c = _settings(settings)
    counts_l = [check_int("counts", int(n) if isinstance(n, np.integer) else n, 0) for n in np.ravel(counts)]
    if seeds is None:
        seed = check_seed(seed)
        seeds_l = [derive_seed(seed, i) for i in range(len(counts_l))]
    else:
        seeds_l = [check_int("seeds", int(s) if isinstance(s, np.integer) else s, 0) for s in np.ravel(seeds)]
        if len(seeds_l) != len(counts_l):
            raise ValueError(f"`seeds` must hold one seed per count ({len(counts_l)}). Received: {len(seeds_l)} seeds")
    out = np.empty((len(counts_l), c.n_pings, c.depth_bins), np.float32)
    start = 0
    while start < len(counts_l):
        stop, fish = start, 0
        while stop < len(counts_l) and (stop == start or (fish + counts_l[stop]) * c.n_pings < _CHUNK_ELEMENTS):
            fish += counts_l[stop]
            stop += 1
        out[start:stop] = _to_db(_chunk(counts_l[start:stop], seeds_l[start:stop], c))
        start = stop
    return EchogramBatch(out, np.asarray(counts_l, np.int64), np.asarray(seeds_l, np.int64), c.r)


def render_echogram(positions_m: np.ndarray, ts_db: np.ndarray, **settings: Any) -> np.ndarray:
    """The fish part of an echogram for given fish: Sv ``(n_pings, depth_bins)`` in dB, no noise, surface or net.

    Args:
        positions_m: ``(n_pings, n_fish, 3)`` fish ``(x, y, depth)`` in m, the transducer at the origin.
        ts_db: ``(n_pings, n_fish)`` (or broadcastable) target strengths in dB.
        **settings: ``depth_bins``, ``range_m``, ``beam_width_deg``, ``absorption_db_per_m``,
            ``sound_speed_m_s``, ``pulse_length_ms`` (others are ignored), as in :func:`simulate_echogram`.
    """
    positions = np.asarray(positions_m, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[-1] != 3 or not np.all(np.isfinite(positions)):
        raise ValueError(f"`positions_m` must be finite (n_pings, n_fish, 3). Received shape: {positions.shape}")
    c = _settings({"n_pings": max(positions.shape[0], 8), **settings})
    ts = np.broadcast_to(np.asarray(ts_db, dtype=np.float64), positions.shape[:2])
    p = positions.shape[0]
    r, power = _fish_power(positions, ts, c)
    cell = np.broadcast_to(np.arange(p)[:, None], r.shape)
    sv = _smear(_deposit(power.ravel(), r.ravel(), cell.ravel(), p, c), c) * _tvg(c)
    return _to_db(sv)


def expected_sv_db(n_fish: float, **settings: Any) -> float:
    """Mean Sv (dB) of ``n_fish`` fish spread uniformly over the cage volume they use: echo integration's law.

    ``Sv = 10 log10(n_fish <sigma_bs> / V)``, ``V = pi (cage_radius_m - net_band_m)^2 (net_depth_m - 2
    net_band_m)`` and ``<sigma_bs> = 10^(b20/10) (length_mean_cm^2 + length_sd_cm^2)`` (the tilt term keeps
    the mean at b20). Inverted, it is the echo-integration count: ``n = V 10^(Sv/10) / <sigma_bs>``.

    Args:
        n_fish: Fish in the cage (> 0).
        **settings: Keywords of :func:`simulate_echogram` (its defaults otherwise).
    """
    n = check_number("n_fish", n_fish, low=0.0, open_low=True)
    c = _settings(settings)
    volume = c.fish_volume
    sigma = 10.0 ** (c.ts_b20_db / 10.0) * (c.length_mean_cm**2 + c.length_sd_cm**2)
    return 10.0 * math.log10(n * sigma / volume)


def sv_to_image(sv_db: np.ndarray, sv_range_db: Sequence[float] = (-90.0, -20.0)) -> np.ndarray:
    """The network's input: Sv clipped to ``sv_range_db`` and scaled linearly to ``[0, 1]`` (float32).

    ``x = clip((Sv - lo) / (hi - lo), 0, 1)``. The default ``(-90, -20)`` dB keeps the noise below ~-90 dB
    dark and the single fish (Sv of one fish in a 0.25 m bin at 5-11 m: about -40 to -20 dB) unsaturated.

    Args:
        sv_db: Sv in dB, any shape.
        sv_range_db: ``(lo, hi)`` in dB, lo < hi. Defaults to `(-90.0, -20.0)`.
    """
    lo, hi = check_pair("sv_range_db", sv_range_db)
    if not lo < hi:
        raise ValueError(f"`sv_range_db` must be a pair (lo, hi) with lo < hi. Received: sv_range_db={sv_range_db!r}")
    return np.clip((np.asarray(sv_db, dtype=np.float32) - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
