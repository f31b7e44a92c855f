"""Fish counts from fish-finder echograms: echo integration, held-out cages and count errors.

Echo integration is the classical way to count fish with an echo sounder (Simmonds & MacLennan 2005,
Fisheries Acoustics, ch. 7; in net cages, e.g. Sthapit et al. 2020, Applied Sciences 10:3720): the mean
volume backscattering coefficient ``s_v`` (m^-1) of the water the fish swim in is the fish density times
the mean backscattering cross-section ``<sigma_bs>`` (m^2) of one fish, so

    ``N = s_v V / <sigma_bs>``,

with ``V`` the volume the fish use. It is the baseline beside a count CNN trained on the ``echo`` data set
(:mod:`keras_geo.datasets.echo`, after Nishikawa et al. 2024, Aquacultural Engineering 109:102505).

    >>> from keras_geo import datasets, echo
    >>> data = datasets.load("echo", n_train=500, n_val=100, n_test=200, **echo.COUNTING_SETTINGS)
    >>> x, y = data["test"]
    >>> counts = echo.echo_integration(x, sv_range_db=(-90, -20), **echo.COUNTING_SETTINGS)  # the theory
    >>> calibrated = echo.EchoIntegrator(sv_range_db=(-90, -20), **echo.COUNTING_SETTINGS)
    >>> calibrated.fit(*data["train"]).predict(x)                    # one scale factor fitted on known counts
    >>> echo.count_errors(y, counts)                                 # MAE, median |relative error| %, bias %
    >>> cages = echo.held_out_cages()                                # cages of another radius, fish of another length

A count model for any cage (the way Nishikawa et al. build a virtual cage per real cage, but one model):
an echogram shows the fish density, not the cage's size, so train on the density across cages and fish,
then multiply by the volume of the cage to count, which a farm knows:

    >>> across = datasets.load("echo", cage_radii_m=[8.0, 12.5, 18.0], lengths_cm=[45.0, 60.0, 75.0],
    ...                        target="density", **echo.COUNTING_SETTINGS)   # fish per 1000 m^3
    >>> # ... train a regression model on `across`, then for echograms of a 10 m cage:
    >>> counts = echo.counts_from_density(model.predict(x_cage), cage_radius_m=10.0)

Public names:

* :data:`COUNTING_SETTINGS`: the sounder settings under which counting is feasible (a wide beam, a long record).
* :func:`mean_backscatter`, :func:`cage_volume`: ``<sigma_bs>`` and ``V`` of a simulator setting.
* :func:`mean_sv`, :func:`echo_integration`: the mean ``s_v`` of echograms and the count from it;
  :func:`layer_response`: what the sounder reads from a uniform layer (the law echo integration inverts).
* :class:`EchoIntegrator`: echo integration with one scale factor fitted on echograms of known counts.
* :func:`rescale_counts`: counts of one cage and fish as counts of another (same echo level).
* :func:`counts_from_density`: a density model's fish per 1000 m^3 as the count of a cage of known geometry.
* :data:`HELD_OUT_CAGES`, :func:`held_out_cages`, :class:`CageEchograms`: simulated cages a model did not train on.
* :func:`count_errors`: MAE, median absolute and median signed relative error in %.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from keras_geo.datasets.echo import SV_FLOOR_DB, beam_pattern_db, render_echogram, simulate_batch, sv_to_image
from keras_geo.datasets.echo._checks import check_int, check_pair, check_seed, derive_seed
from keras_geo.datasets.echo._dataset import draw_counts

# The simulator's checked settings (one-line ValueErrors naming the setting; TypeError on an unknown one):
# one source of truth for what a valid cage, fish and sounder are.
from keras_geo.datasets.echo._simulate import _Config, _settings

__all__ = [
    "COUNTING_SETTINGS",
    "HELD_OUT_CAGES",
    "CageEchograms",
    "EchoIntegrator",
    "cage_volume",
    "count_errors",
    "counts_from_density",
    "echo_integration",
    "held_out_cages",
    "layer_response",
    "mean_backscatter",
    "mean_sv",
    "rescale_counts",
]

COUNTING_SETTINGS: Mapping[str, Any] = MappingProxyType({"beam_width_deg": 45.0, "ping_interval_s": 4.0})
"""Settings of :func:`~keras_geo.datasets.echo.simulate_echogram` under which an echogram holds enough fish to count.

With the simulator's default 10 degree beam (a 38 kHz scientific transducer) the beam sees ~7 m^3 of the
~4,200 m^3 the fish use, fewer than one fish a ping at 10-100 fish, and 64 pings 0.5 s apart see the same
few fish again: one echogram's mean ``s_v`` then scatters far more than 10 % about the truth, whatever the
method. Fish finders used over cages are usually dual-frequency with a wide low-frequency beam (50 kHz:
about a 45 degree cone, 200 kHz: about 11 degrees; e.g. the Navman 8120 manual), so here the beam is 45
degrees (psi 0.34 sr, ~150 m^3 of the fish layer) and the 64 pings of an echogram are 4 s apart (a
4-minute record kept one ping in eight, so the fish move between pings and new fish enter the beam).
``benchmarks/bench_fish_count.py`` measures that scatter per beam width and ping interval (BENCHMARKS.md).
"""

HELD_OUT_CAGES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "radius 10 m": MappingProxyType({"cage_radius_m": 10.0}),
        "radius 15 m": MappingProxyType({"cage_radius_m": 15.0}),
        "length 50 cm": MappingProxyType({"length_mean_cm": 50.0}),
        "length 70 cm": MappingProxyType({"length_mean_cm": 70.0}),
    }
)
"""Cages a count model trained on the simulator's defaults (a 12.5 m radius cage of 60 cm fish) has not seen:
a smaller and a larger cage (20 and 30 m across, within the ~10-30 m of yellowtail cages) and smaller and
larger fish (50 and 70 cm, the ends of the farmed yellowtail's range); everything else as in training."""

_NS_HELD_OUT = 10_000  # seed namespace of the held-out cages, apart from the data set's splits (100 + i)


# ---------------------------------------------------------------------------
# The physics of echo integration
# ---------------------------------------------------------------------------


def mean_backscatter(**settings: Any) -> float:
    """Mean backscattering cross-section ``<sigma_bs>`` (m^2) of one fish of the simulated cage.

    ``<sigma_bs> = 10^(b20 / 10) (length_mean_cm^2 + length_sd_cm^2)``: the TS-length relation
    ``TS = 20 log10(L / cm) + b20`` (Foote 1987) averaged over the length distribution ``N(mean, sd^2)``
    (``E[L^2] = mean^2 + sd^2``); the tilt term of :func:`~keras_geo.datasets.echo.target_strength_db` is
    normalised so that the mean over the tilt distribution is b20's value, so tilt adds no factor. (The
    simulator clips lengths at a tenth of the mean, which changes ``E[L^2]`` by less than 1e-6 at sd/mean <= 0.2.)

    Args:
        **settings: Keywords of :func:`~keras_geo.datasets.echo.simulate_echogram` (its defaults otherwise);
            ``length_mean_cm``, ``length_sd_cm`` and ``ts_b20_db`` are used.
    """
    return _sigma(_settings(settings))


def cage_volume(**settings: Any) -> float:
    """Volume (m^3) the fish of the simulated cage swim in: ``pi (cage_radius_m - net_band_m)^2 (net_depth_m - 2 net_band_m)``.

    The formula is the ``echo`` data set's (``keras_geo.datasets.echo._physics.fish_volume_m3``): its
    ``target="density"`` is fish per 1000 m^3 of this volume.

    Args:
        **settings: Keywords of :func:`~keras_geo.datasets.echo.simulate_echogram` (its defaults otherwise);
            ``cage_radius_m``, ``net_depth_m`` and ``net_band_m`` are used.
    """
    return _volume(_settings(settings))


def _sigma(c: _Config) -> float:
    return 10.0 ** (c.ts_b20_db / 10.0) * (c.length_mean_cm**2 + c.length_sd_cm**2)


def _volume(c: _Config) -> float:
    return c.fish_volume


def _window(c: _Config, window_m: Sequence[float] | None) -> np.ndarray:
    """The range bins integrated: a boolean mask over the bin centres."""
    z_lo, z_hi = c.fish_depths
    if window_m is None:
        lo = max(z_lo, 2.0 * c.surface_band_m)
        hi = c.net_depth_m - max(c.net_band_m, 0.5)
    else:
        lo, hi = check_pair("window_m", window_m, low=0.0)
    mask = (c.r >= lo) & (c.r <= hi)
    if not mask.any() or lo >= hi:
        raise ValueError(
            f"`window_m` must hold at least one range bin's centre, lo < hi. Received: window_m={window_m!r} "
            f"(bins of {c.dr:g} m, window ({lo:g}, {hi:g}) m)"
        )
    return mask


def _as_sv_db(sv: Any, sv_range_db: Sequence[float] | None, depth_bins: int) -> np.ndarray:
    """Sv in dB, ``(..., pings, bins)``, from Sv in dB or from the data set's images (with their ``sv_range_db``)."""
    array = np.asarray(sv, dtype=np.float64)
    if array.ndim >= 3 and array.shape[-1] == 1 and array.shape[-2] == depth_bins:
        array = array[..., 0]  # the data set's (n, pings, bins, 1) images
    if array.ndim < 2 or array.shape[-1] != depth_bins or array.shape[0] == 0:
        raise ValueError(
            f"`sv` must be echograms (..., pings, {depth_bins}) with depth_bins={depth_bins} range bins "
            f"(or images (n, pings, {depth_bins}, 1)). Received shape: {np.shape(sv)}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("`sv` must be finite. Received: NaN or infinite values")
    if sv_range_db is None:
        return array
    lo, hi = check_pair("sv_range_db", sv_range_db)
    if not lo < hi:
        raise ValueError(f"`sv_range_db` must be a pair (lo, hi) with lo < hi. Received: sv_range_db={sv_range_db!r}")
    if array.min() < 0.0 or array.max() > 1.0:
        raise ValueError(
            f"`sv` must be images in [0, 1] when sv_range_db is given. Received: values in "
            f"[{array.min():g}, {array.max():g}]"
        )
    return lo + array * (hi - lo)


def layer_response(**settings: Any) -> np.ndarray:
    """What each range bin reads from fish spread evenly through the cage: ``s_v`` per unit ``density x <sigma_bs>``.

    Textbook echo integration takes this to be 1 at every range inside the fish layer. Through the
    simulator's sounder it is not quite: the echo of a fish at ``r'`` is spread over the pulse's extent
    below it while the 20 log r TVG is applied at each bin's own range (a few % high, most near the
    transducer: the excess that echo integrators' half-pulse range correction removes), the bins at the
    layer's edges are partly empty, and a wide beam reaches past the fish layer. This computes the exact
    expected reading: for each slant range ``r'`` the beam's two-way pattern integrated over the directions
    that lie in the fish cylinder, ``B(r') = 2 pi int b^2(theta) sin(theta) d theta`` (so a shell of unit
    density echoes ``B(r') dr' / r'^2``), rendered through
    :func:`~keras_geo.datasets.echo.render_echogram` (pulse, bins, absorption and TVG) on a 1 cm grid of ``r'``.

    Args:
        **settings: Keywords of :func:`~keras_geo.datasets.echo.simulate_echogram` (its defaults otherwise).

    Returns:
        ``(depth_bins,)`` float64, about 1 inside the fish layer and 0 far outside it.
    """
    return _response(_settings(settings)).copy()


@functools.lru_cache(maxsize=32)
def _response(c: _Config) -> np.ndarray:
    theta = np.linspace(0.0, math.pi / 2.0, 200_001)
    integrand = 10.0 ** (beam_pattern_db(np.degrees(theta), c.beam_width_deg) / 10.0) * np.sin(theta)
    cumulative = np.concatenate([[0.0], np.cumsum((integrand[1:] + integrand[:-1]) * 0.5 * (theta[1] - theta[0]))])
    z_lo, z_hi = c.fish_depths
    far = min(c.range_m, math.hypot(c.fish_radius, z_hi))
    step = 0.01
    r = np.arange(z_lo + step / 2.0, far, step)
    # Directions from the transducer that lie in the fish cylinder at slant range r: z_lo <= r cos <= z_hi, r sin <= R.
    low = np.arccos(np.minimum(1.0, z_hi / r))
    high = np.minimum(np.arcsin(np.minimum(1.0, c.fish_radius / r)), np.arccos(np.minimum(1.0, z_lo / r)))
    filled = 2.0 * math.pi * np.clip(np.interp(high, theta, cumulative) - np.interp(low, theta, cumulative), 0.0, None)
    keep = filled > 0
    positions = np.zeros((1, int(keep.sum()), 3))
    positions[0, :, 2] = r[keep]
    # An on-axis "fish" at r' of TS 10 log10(B r'^2 dr') echoes B dr' / r'^2: the shell's echo.
    ts = 10.0 * np.log10(filled[keep] * r[keep] ** 2 * step)
    kw = {k: getattr(c, k) for k in ("depth_bins", "range_m", "beam_width_deg", "absorption_db_per_m")}
    kw.update(sound_speed_m_s=c.sound_speed_m_s, pulse_length_ms=c.pulse_length_ms)
    sv_db = render_echogram(positions, ts[None, :], **kw)[0].astype(np.float64)
    return np.where(sv_db > SV_FLOOR_DB, 10.0 ** (sv_db / 10.0), 0.0)


def mean_sv(
    sv: Any,
    *,
    sv_range_db: Sequence[float] | None = None,
    window_m: Sequence[float] | None = None,
    **settings: Any,
) -> np.ndarray:
    """Mean volume backscattering coefficient ``s_v`` (m^-1) of each echogram over the fish layer.

    Linear ``s_v = 10^(Sv / 10)`` is averaged over the pings and over the range bins of ``window_m``, each
    bin weighted by the water it samples (``r^2``: a conical beam's slice of thickness ``dr`` at range
    ``r`` is ``psi r^2 dr``): where the fish are spread evenly, the fish density times ``<sigma_bs>``.

    Args:
        sv: Echograms ``(..., n_pings, depth_bins)`` of Sv in dB, or, with ``sv_range_db``, the ``echo`` data
            set's images in ``[0, 1]`` (``(n, n_pings, depth_bins, 1)`` too).
        sv_range_db: ``(lo, hi)`` of the images' mapping (:func:`~keras_geo.datasets.echo.sv_to_image`):
            ``Sv = lo + x (hi - lo)``. Defaults to `None` (``sv`` is in dB). Sv clipped at ``hi`` in the
            images is lost (rare with a wide beam, where one fish reads below -20 dB).
        window_m: ``(top, bottom)`` range in m of the bins integrated (their centres). Defaults to `None`:
            ``(max(net_band_m, 2 surface_band_m), net_depth_m - max(net_band_m, 0.5))``, the fish layer less
            the surface band and the net floor's echo (2 to 11 m with the defaults; the fish are at 1-11 m).
        **settings: Keywords of :func:`~keras_geo.datasets.echo.simulate_echogram` the echograms were made
            with (its defaults otherwise): the bins' ranges and the window follow from them.

    Returns:
        ``s_v`` in m^-1, of shape ``sv.shape[:-2]`` (float64).
    """
    c = _settings(settings)
    sv_db = _as_sv_db(sv, sv_range_db, c.depth_bins)
    mask = _window(c, window_m)
    weights = c.r[mask] ** 2
    return (10.0 ** (sv_db[..., mask] / 10.0) * weights).sum(axis=-1).mean(axis=-1) / weights.sum()


def echo_integration(
    sv: Any,
    *,
    sv_range_db: Sequence[float] | None = None,
    window_m: Sequence[float] | None = None,
    response: bool = True,
    **settings: Any,
) -> np.ndarray:
    """The echo-integration count of each echogram from the physics alone: ``N = s_v V / (<sigma_bs> g)``.

    ``s_v`` is :func:`mean_sv`, ``V`` :func:`cage_volume`, ``<sigma_bs>`` :func:`mean_backscatter` of the
    settings (the fish's length distribution, their TS-length relation and the cage the echograms are of),
    and ``g`` the sounder's reading of a uniform layer over the same bins and weights (:func:`layer_response`;
    ``g = 1`` with ``response=False``, the textbook formula, a few % high here). It needs no training, but
    it is only as right as ``b20``, the lengths, the cage volume and the sounder's calibration: a 1 dB error
    in any of them is a 26 % error in the count. The noise, surface and net echoes are not removed, only
    kept out of the window (the noise floor adds ~1e-9 m^-1, a small fraction of one fish's share).

    Args:
        sv, sv_range_db, window_m: As in :func:`mean_sv`.
        response: Divide by the modelled layer response ``g``. Defaults to `True`.
        **settings: Keywords of :func:`~keras_geo.datasets.echo.simulate_echogram` (its defaults otherwise).

    Returns:
        Counts (fish) of shape ``sv.shape[:-2]`` (float64; not rounded).
    """
    c = _settings(settings)
    s_v = mean_sv(sv, sv_range_db=sv_range_db, window_m=window_m, **settings)
    g = 1.0
    if response:
        mask = _window(c, window_m)
        weights = c.r[mask] ** 2
        g = float((_response(c)[mask] * weights).sum() / weights.sum())
    return s_v * _volume(c) / (_sigma(c) * g)


def rescale_counts(counts: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> np.ndarray:
    """Counts estimated for the ``source`` cage and fish, as counts in the ``target`` cage of ``target`` fish.

    One echo level means one ``density x <sigma_bs>``, so a count read as if from ``source`` is
    ``N_target = N_source (V_target / V_source) (<sigma_bs>_source / <sigma_bs>_target)``. This is what a
    count model trained on one cage needs to serve another: the echogram of a cage shows the fish density
    (and echo strength), not the cage's size, so no model can tell a cage's volume from its echograms.

    Args:
        counts: Counts as estimated for ``source`` (any shape).
        source: Settings of :func:`~keras_geo.datasets.echo.simulate_echogram` the estimate is for.
        target: Settings of the cage and fish to count.
    """
    a, b = _settings(dict(source)), _settings(dict(target))
    factor = (_volume(b) / _volume(a)) * (_sigma(a) / _sigma(b))
    return np.asarray(counts, dtype=np.float64) * factor


def counts_from_density(density: Any, **settings: Any) -> np.ndarray:
    """Fish counts of a cage of known geometry from densities in fish per 1000 m^3: ``density x V / 1000``.

    The other half of a count model trained across cages on the ``echo`` data set's ``target="density"``
    (:mod:`keras_geo.datasets.echo`): the model reads the fish density from the echograms (what they
    show, whatever the cage's size), and the farm's known cage gives the volume ``V`` the fish swim in
    (:func:`cage_volume`: its radius, net depth and the band the fish keep off the net).

    Args:
        density: Densities in fish per 1000 m^3 (any shape, finite; e.g. ``model.predict(x)``).
        **settings: Keywords of :func:`~keras_geo.datasets.echo.simulate_echogram` for the cage (its defaults
            otherwise); ``cage_radius_m``, ``net_depth_m`` and ``net_band_m`` are used.

    Returns:
        Counts (fish) of the shape of ``density`` (float64; not rounded).
    """
    volume = _volume(_settings(settings))
    values = np.asarray(density, dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)):
        received = "no densities" if values.size == 0 else f"density={float(values[~np.isfinite(values)][0])!r}"
        raise ValueError(f"`density` must be finite fish per 1000 m^3. Received: {received}")
    return values * volume / 1000.0


def _check_counts(name: str, counts: Any, n: int | None = None) -> np.ndarray:
    values = np.asarray(counts, dtype=np.float64).reshape(-1)
    bad = values[~(np.isfinite(values) & (values >= 0))]
    if values.size == 0 or bad.size:
        received = f"{name}={bad[0]:g}" if bad.size else "no counts"
        raise ValueError(f"`{name}` must be finite fish counts >= 0. Received: {received}")
    if n is not None and values.size != n:
        raise ValueError(f"`{name}` must hold one count per echogram ({n}). Received: {values.size} counts")
    return values


class EchoIntegrator:
    """Echo integration with one scale factor fitted on echograms of known counts.

    The absolute calibration of echo integration (b20, the sounder's gain, the equivalent beam angle) is
    rarely known to better than 1-2 dB (26-58 % in the count), so a fisheries scientist fits the one factor
    ``k`` in ``N = k s_v V / <sigma_bs>`` on cages whose counts are known and keeps the physics for the rest:
    the volume and the fish's backscatter of another cage enter through the settings given to
    :meth:`predict`. ``k`` is the ratio estimator ``sum(counts) / sum(theory counts)``, the best linear
    unbiased one when a count's variance grows in proportion to the count (as a Poisson count's).

    Args:
        sv_range_db, window_m, response: As in :func:`echo_integration`.
        **settings: Keywords of :func:`~keras_geo.datasets.echo.simulate_echogram` of the training echograms.

    Attributes:
        scale_: The fitted ``k`` (1 is the theory), after :meth:`fit`.

    Example:
        >>> integrator = EchoIntegrator(sv_range_db=(-90, -20)).fit(x_train, y_train)
        >>> integrator.predict(x_test, cage_radius_m=10.0)   # echograms of a 10 m cage
    """

    def __init__(
        self,
        *,
        sv_range_db: Sequence[float] | None = None,
        window_m: Sequence[float] | None = None,
        response: bool = True,
        **settings: Any,
    ) -> None:
        _settings(settings)  # bad or unknown settings fail here, not at fit
        self.sv_range_db = sv_range_db
        self.window_m = window_m
        self.response = bool(response)
        self.settings = dict(settings)
        self.scale_: float | None = None

    def __repr__(self) -> str:
        return f"EchoIntegrator(scale_={self.scale_}, settings={self.settings})"

    def theory(self, sv: Any, **settings: Any) -> np.ndarray:
        """:func:`echo_integration` of ``sv`` with this integrator's settings updated by ``settings``."""
        return echo_integration(
            sv,
            sv_range_db=self.sv_range_db,
            window_m=self.window_m,
            response=self.response,
            **{**self.settings, **settings},
        )

    def fit(self, sv: Any, counts: Any) -> EchoIntegrator:
        """Fits ``k`` on echograms of known counts (made with this integrator's settings); returns ``self``."""
        theory = self.theory(sv).reshape(-1)
        truth = _check_counts("counts", counts, theory.size)
        if truth.sum() <= 0 or theory.sum() <= 0:
            raise ValueError("`counts` and the echograms' echo must not all be 0: nothing to fit a scale to")
        self.scale_ = float(truth.sum() / theory.sum())
        return self

    def predict(self, sv: Any, **settings: Any) -> np.ndarray:
        """Counts of echograms, of this integrator's cage or of the one ``settings`` describe (e.g. another radius)."""
        if self.scale_ is None:
            raise ValueError("this EchoIntegrator is not fitted: call fit(sv, counts) first")
        return self.scale_ * self.theory(sv, **settings)


# ---------------------------------------------------------------------------
# Held-out cages
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CageEchograms:
    """Echograms of simulated cages of one setting: ``windows`` records of each of ``n_cages`` cages.

    Attributes:
        name: The held-out setting's name (a key of :data:`HELD_OUT_CAGES`).
        settings: Every keyword of :func:`~keras_geo.datasets.echo.simulate_echogram` they were made with
            that differs from its defaults.
        sv_db: ``(n, n_pings, depth_bins)`` Sv in dB, ``n = n_cages * windows``.
        counts: ``(n,)`` fish in the cage of each echogram.
        cages: ``(n,)`` the cage of each echogram (0 .. n_cages - 1): a cage's echograms are records of the
            same number of fish at different times (fish and lengths drawn anew).
        seeds: ``(n,)`` per-echogram seeds: ``simulate_batch(counts, seeds=seeds, **settings)`` makes them again.
    """

    name: str
    settings: dict[str, Any]
    sv_db: np.ndarray
    counts: np.ndarray
    cages: np.ndarray
    seeds: np.ndarray

    def images(self, sv_range_db: Sequence[float] = (-90.0, -20.0)) -> np.ndarray:
        """The network's input ``(n, n_pings, depth_bins, 1)`` in ``[0, 1]``, as the ``echo`` data set's."""
        return sv_to_image(self.sv_db, sv_range_db)[..., None]


def held_out_cages(
    n_cages: int = 16,
    windows: int = 4,
    *,
    count_range: Sequence[int] = (10, 500),
    cages: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    **settings: Any,
) -> dict[str, CageEchograms]:
    """Echograms of simulated cages whose settings a count model did not train on (fixed seeds).

    For each entry of ``cages`` (default :data:`HELD_OUT_CAGES`: radius 10 and 15 m, fish of 50 and 70 cm),
    ``n_cages`` cages get counts drawn uniformly from ``count_range`` and ``windows`` echograms each. The
    settings are :data:`COUNTING_SETTINGS` updated by ``settings`` (those of training) and then by the
    entry. The seeds come from ``seed`` and the entry's position in a namespace of their own, so they never
    repeat an ``echo`` data set's echograms.

    Args:
        n_cages: Cages per held-out setting (>= 1). Defaults to `16`.
        windows: Echograms (records at different times) per cage (>= 1). Defaults to `4`.
        count_range: ``(min, max)`` fish in a cage, integers, 0 <= min <= max. Defaults to `(10, 500)` (the
            ``echo`` data set's default range).
        cages: ``name -> settings`` of the held-out cages. Defaults to `None` (:data:`HELD_OUT_CAGES`).
        seed: Seed (>= 0). Defaults to `0`.
        **settings: Keywords of :func:`~keras_geo.datasets.echo.simulate_echogram` shared by all (those of
            the training data, e.g. ``n_pings``).

    Returns:
        ``name -> CageEchograms``, in the order of ``cages``.
    """
    n_cages = check_int("n_cages", n_cages, 1)
    windows = check_int("windows", windows, 1)
    count_lo_hi = check_pair("count_range", count_range, low=0, integer=True)
    seed = check_seed(seed)
    base = {**COUNTING_SETTINGS, **settings}
    out: dict[str, CageEchograms] = {}
    for i, (name, overrides) in enumerate((HELD_OUT_CAGES if cages is None else cages).items()):
        full = {**base, **dict(overrides)}
        _settings(full)
        stream = derive_seed(seed, _NS_HELD_OUT + i)
        per_cage = draw_counts(n_cages, count_lo_hi, "uniform", derive_seed(stream, 2**31))
        counts = np.repeat(per_cage, windows)
        which = np.repeat(np.arange(n_cages), windows)
        seeds = [derive_seed(stream, int(k), w) for k in range(n_cages) for w in range(windows)]
        batch = simulate_batch(counts, seeds=seeds, **full)
        out[name] = CageEchograms(name, full, batch.sv_db, batch.counts, which, batch.seeds)
    return out


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def count_errors(true: Any, predicted: Any) -> dict[str, float]:
    """How far counts are from the truth: ``mae`` (fish), ``median_abs_rel_pct``, ``median_rel_pct`` (%) and ``n``.

    The relative error of a count is ``(predicted - true) / true x 100``; counts whose truth is 0 are left
    out of the relative errors (NaN if every truth is 0). ``median_rel_pct`` is the signed median (a bias:
    > 0 counts too many), ``median_abs_rel_pct`` the median of its absolute value, the figure reports on
    cage counts quote (Nishikawa et al. 2024: -0.86 to 6.89 % on six cages).

    Args:
        true: True counts (>= 0), any shape.
        predicted: Estimated counts, the same number of them (finite).
    """
    truth = _check_counts("true", true)
    guess = np.asarray(predicted, dtype=np.float64).reshape(-1)
    if guess.size != truth.size or not np.all(np.isfinite(guess)):
        raise ValueError(
            f"`predicted` must hold one finite count per true count ({truth.size}). Received: {guess.size} "
            f"values{'' if np.all(np.isfinite(guess)) else ', not all finite'}"
        )
    error = guess - truth
    nonzero = truth > 0
    relative = 100.0 * error[nonzero] / truth[nonzero]
    nan = float("nan")
    return {
        "mae": float(np.abs(error).mean()),
        "median_abs_rel_pct": float(np.median(np.abs(relative))) if relative.size else nan,
        "median_rel_pct": float(np.median(relative)) if relative.size else nan,
        "n": int(truth.size),
    }
