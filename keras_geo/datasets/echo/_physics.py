"""Echo physics of a vertical echo sounder: beam pattern, equivalent beam angle and fish target strength.

Conventions: angles in degrees at the public interface, ranges in metres, fish lengths in
cm, target strength TS = 10 log10(sigma_bs) in dB re 1 m^2, volume backscattering strength
Sv = 10 log10(s_v) in dB re 1 m^-1.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import j1

from ._checks import check_number

# x where the one-way circular-piston power pattern (2 J1(x)/x)^2 falls to one half (-3 dB).
HALF_POWER_X = float(brentq(lambda x: (2.0 * j1(x) / x) ** 2 - 0.5, 0.5, 3.0))  # 1.6163


def _check_beam(beam_width_deg: float) -> float:
    return check_number("beam_width_deg", beam_width_deg, low=0.0, open_low=True, high=90.0)


def piston_ka(beam_width_deg: float) -> float:
    """``k a`` of the circular piston whose one-way half-power (-3 dB) full beam width is ``beam_width_deg``.

    The half-power half-angle ``theta_h = beam_width_deg / 2`` solves ``k a sin(theta_h) = 1.6163``
    (Simmonds & MacLennan 2005, Fisheries Acoustics, ch. 3: the piston's -3 dB point).
    """
    width = _check_beam(beam_width_deg)
    return HALF_POWER_X / math.sin(math.radians(width / 2.0))


def _two_way_beam(sin_theta: np.ndarray, ka: float) -> np.ndarray:
    """Linear two-way power pattern ``[2 J1(x)/x]^4`` with ``x = k a sin(theta)`` (1 on the axis)."""
    x = ka * np.asarray(sin_theta, dtype=np.float64)
    safe = np.where(x < 1e-8, 1.0, x)
    d = np.where(x < 1e-8, 1.0, 2.0 * j1(safe) / safe)
    return d**4


def beam_pattern_db(angle_deg: float | np.ndarray, beam_width_deg: float = 10.0) -> np.ndarray:
    """Two-way beam pattern of a circular piston transducer in dB (0 on the axis, <= 0 elsewhere).

    ``b(theta)^2 = [2 J1(k a sin theta) / (k a sin theta)]^4``, i.e. ``40 log10 |2 J1(x)/x|``
    (Furusawa & Amakasu, OCEANS'08; Simmonds & MacLennan 2005, ch. 3), ``k a`` from the beam width.

    Args:
        angle_deg: Angle(s) off the acoustic axis in degrees.
        beam_width_deg: One-way half-power (-3 dB) full beam width in degrees, in (0, 90); the two-way
            pattern is -6 dB at half this angle. Defaults to `10.0` (a typical 38 kHz split-beam/fish-finder
            transducer, e.g. Simrad ES38-10; Nishikawa et al. 2024 use a vertical fish finder over the cage).

    Returns:
        ``40 log10 |2 J1(x)/x|`` in dB, floored at -300 dB (the nulls).
    """
    ka = piston_ka(beam_width_deg)
    sin_theta = np.abs(np.sin(np.radians(np.asarray(angle_deg, dtype=np.float64))))
    return 10.0 * np.log10(np.maximum(_two_way_beam(sin_theta, ka), 1e-30))


@functools.lru_cache(maxsize=16)
def _beam_table(ka: float) -> np.ndarray:
    """The two-way pattern tabulated on ``sin(theta)`` in [0, 1] (8193 points and one spare; linear
    interpolation is exact to ~1e-6 of the axis value): the simulator's fast stand-in for :func:`_two_way_beam`."""
    table = _two_way_beam(np.linspace(0.0, 1.0, _TABLE_SIZE), ka)
    return np.append(table, table[-1])


_TABLE_SIZE = 8193


def two_way_beam_fast(sin_theta: np.ndarray, ka: float) -> np.ndarray:
    """:func:`_two_way_beam` by linear interpolation in a table (several times faster than scipy's J1)."""
    table = _beam_table(round(ka, 12))
    u = np.clip(sin_theta, 0.0, 1.0) * (_TABLE_SIZE - 1)
    i = u.astype(np.int64)
    frac = u - i
    return table[i] * (1.0 - frac) + table[i + 1] * frac


@functools.lru_cache(maxsize=64)
def _psi(ka: float) -> float:
    theta = np.linspace(0.0, math.pi / 2.0, 200_001)
    f = _two_way_beam(np.sin(theta), ka) * np.sin(theta)
    return float(2.0 * math.pi * np.sum((f[1:] + f[:-1]) * 0.5) * (theta[1] - theta[0]))


def equivalent_beam_angle(beam_width_deg: float = 10.0) -> float:
    """Equivalent beam angle psi (sr): the two-way pattern integrated over the lower half-space.

    ``psi = 2 pi integral_0^(pi/2) b^2(theta) sin(theta) d theta`` (Simmonds & MacLennan 2005, ch. 3;
    close to ``5.78 / (k a)^2`` for a circular piston). Sv = 10 log10(s_v) uses it to turn the echo of a
    range cell into backscatter per unit volume.

    Args:
        beam_width_deg: One-way -3 dB full beam width in degrees, in (0, 90). Defaults to `10.0`.
    """
    return _psi(round(piston_ka(beam_width_deg), 12))


def _tilt_norm_db(tilt_mean_deg: float, tilt_sd_deg: float, tilt_halfwidth_deg: float) -> float:
    """``-10 log10 E[10^(-0.3 (chi/chi_h)^2)]`` for ``chi ~ N(mean, sd^2)``: the dB that keep mean sigma_bs at b20."""
    a = 0.3 * math.log(10.0) / tilt_halfwidth_deg**2
    denom = 1.0 + 2.0 * a * tilt_sd_deg**2
    mean_linear = math.exp(-a * tilt_mean_deg**2 / denom) / math.sqrt(denom)
    return -10.0 * math.log10(mean_linear)


def target_strength_db(
    length_cm: float | np.ndarray,
    tilt_deg: float | np.ndarray = 0.0,
    *,
    ts_b20_db: float = -67.5,
    tilt_mean_deg: float = 0.0,
    tilt_sd_deg: float = 10.0,
    tilt_halfwidth_deg: float = 8.0,
) -> np.ndarray:
    """Dorsal-aspect target strength (dB re 1 m^2) of a fish of length ``length_cm`` at tilt ``tilt_deg``.

    ``TS = 20 log10(L / cm) + b20 - 3 (chi / chi_h)^2 + C``: the length-TS relation of echo-integration surveys
    (Foote 1987, J. Acoust. Soc. Am. 82:981-987) with a tilt loss that is a Gaussian lobe in tilt (-3 dB at
    ``chi = tilt_halfwidth_deg``; a stylised swimbladder directivity, cf. Simmonds & MacLennan 2005, ch. 6).
    ``b20`` is, as measured in situ, the value averaged over the fish's natural tilts, so ``C`` is chosen so
    that the mean linear backscatter ``<sigma_bs>`` over the tilt distribution ``N(tilt_mean_deg,
    tilt_sd_deg^2)`` equals ``10^((20 log10 L + b20)/10)``: a tilted fish echoes less than one at
    ``chi = 0`` (which echoes ``C`` dB more than the mean).

    Args:
        length_cm: Fish total length(s) in cm.
        tilt_deg: Tilt angle(s) in degrees (0 = horizontal).
        ts_b20_db: Intercept b20 in dB. Defaults to `-67.5`: Foote's (1987) physoclist (gadoid) value at
            38 kHz, a stand-in for the physoclist yellowtail (no yellowtail b20 is built in; other
            physoclists measured at 38 kHz lie close, e.g. chub mackerel swimming in a net cage in a tank,
            b20 = -67.7 dB, Lee et al.). Set the value of your species and frequency.
        tilt_mean_deg: Mean tilt of the swimming fish in degrees. Defaults to `0.0`.
        tilt_sd_deg: Standard deviation of the tilt in degrees (>= 0). Defaults to `10.0` (in-situ tilt spreads
            of swimming fish are ~5-20 degrees; Simmonds & MacLennan 2005, ch. 6).
        tilt_halfwidth_deg: Tilt at which TS falls 3 dB below its peak, in degrees (> 0). Defaults to `8.0`
            (a dorsal swimbladder lobe of a ~60 cm fish at 38 kHz, wavelength 3.9 cm, is a few degrees to ~10
            degrees wide).

    Returns:
        TS in dB, broadcast over ``length_cm`` and ``tilt_deg``.
    """
    b20 = check_number("ts_b20_db", ts_b20_db)
    mean = check_number("tilt_mean_deg", tilt_mean_deg)
    sd = check_number("tilt_sd_deg", tilt_sd_deg, low=0.0)
    half = check_number("tilt_halfwidth_deg", tilt_halfwidth_deg, low=0.0, open_low=True)
    length = np.asarray(length_cm, dtype=np.float64)
    if np.any(~np.isfinite(length)) or np.any(length <= 0):
        raise ValueError(f"`length_cm` must be > 0. Received: length_cm={length_cm!r}")
    tilt = np.asarray(tilt_deg, dtype=np.float64)
    return 20.0 * np.log10(length) + b20 - 3.0 * (tilt / half) ** 2 + _tilt_norm_db(mean, sd, half)


def fish_volume_m3(cage_radius_m, net_depth_m, net_band_m):
    """Volume (m^3) of water the fish of a cylindrical cage swim in: ``pi (R - b)^2 (D - 2 b)``.

    The fish keep ``net_band_m`` (b) off the net wall, the net floor and the surface, so they fill a cylinder
    of radius ``cage_radius_m - net_band_m`` (R - b) from ``b`` down to ``net_depth_m - b`` (D - b). The one
    formula of the package (the simulator's echo-integration law, the ``echo`` data set's density target and
    :func:`keras_geo.echo.cage_volume` all use it); the settings are checked by their callers.

    Args:
        cage_radius_m, net_depth_m, net_band_m: As in :func:`~keras_geo.datasets.echo.simulate_echogram`;
            numbers or arrays (broadcast).

    Returns:
        The volume, a float (an array for array arguments).
    """
    volume = (
        math.pi
        * (np.asarray(cage_radius_m, np.float64) - net_band_m) ** 2
        * (np.asarray(net_depth_m, np.float64) - 2.0 * np.asarray(net_band_m, np.float64))
    )
    return float(volume) if volume.ndim == 0 else volume
