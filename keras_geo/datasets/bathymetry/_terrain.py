"""Synthetic seafloor: a fractal surface plus seamounts, ridges, faults and trough walls, in metres.

Conventions: a grid is an elevation in metres, negative below sea level (so depth 4000 m
is ``-4000.0``), as GEBCO and most survey grids store it. Row 0 is the north edge, pixel
``(i, j)`` is a square of ``pixel_m`` metres, and a grid of ``size`` pixels spans
``size * pixel_m`` metres.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..sem._checks import check_int, check_number, check_seed, rng

__all__ = [
    "REGIONS",
    "fractal_surface",
    "radial_power_spectrum",
    "spectral_slope",
    "synthesize_terrain",
    "terrain_statistics",
]

#: The two named regions: the terrain settings each one sets (any keyword of
#: :func:`synthesize_terrain` given explicitly overrides them). Densities are per km^2.
REGIONS: dict[str, dict[str, float]] = {
    # A trench-side trough: smooth large-scale fractal (steep spectrum), cut by trough walls
    # and normal faults; seamounts are rare.
    "source": {
        "mean_depth_m": -4500.0,
        "beta": 3.6,
        "roughness_m": 10.0,
        "seamount_density": 0.01,
        "seamount_height_m": 300.0,
        "seamount_radius_m": 800.0,
        "ridge_density": 0.0,
        "ridge_height_m": 100.0,
        "ridge_width_m": 250.0,
        "fault_density": 0.15,
        "fault_throw_m": 40.0,
        "fault_width_m": 100.0,
        "wall_probability": 0.6,
        "wall_height_m": 600.0,
        "wall_width_m": 1200.0,
    },
    # A seamount province: rougher small-scale fractal (flatter spectrum), many seamounts
    # and abyssal-hill ridges, no trough walls and few faults.
    "target": {
        "mean_depth_m": -3000.0,
        "beta": 3.0,
        "roughness_m": 8.0,
        "seamount_density": 0.25,
        "seamount_height_m": 200.0,
        "seamount_radius_m": 800.0,
        "ridge_density": 0.08,
        "ridge_height_m": 80.0,
        "ridge_width_m": 200.0,
        "fault_density": 0.02,
        "fault_throw_m": 30.0,
        "fault_width_m": 100.0,
        "wall_probability": 0.0,
        "wall_height_m": 600.0,
        "wall_width_m": 1200.0,
    },
}

# Independent streams per component: switching one off leaves the others' draws unchanged.
_FRACTAL, _SEAMOUNTS, _RIDGES, _FAULTS, _WALL = range(5)


def _wavenumbers(size: int, pixel_m: float) -> np.ndarray:
    """Radial wavenumber (cycles per metre) of every FFT coefficient of a ``size`` x ``size`` grid."""
    k = np.fft.fftfreq(size, d=pixel_m)
    return np.hypot(k[:, None], k[None, :])


def fractal_surface(size: int, *, beta: float = 2.0, rms_m: float = 30.0, pixel_m: float = 50.0, seed: int = 0):
    """A zero-mean fractal (1/f^beta) surface by spectral synthesis with numpy's FFT.

    White Gaussian noise is transformed, each coefficient multiplied by ``|k|^(-beta/2)``
    (so the power spectrum falls as ``|k|^-beta``; the mean, ``k = 0``, is removed) and
    transformed back. The result is scaled so that its *expected* standard deviation is
    ``rms_m`` (one realisation varies around it, most for a steep spectrum, whose
    variance sits in the few longest waves). The surface is periodic over the grid.

    Args:
        size: Grid edge in pixels (>= 2).
        beta: Spectral exponent of the power spectrum (>= 0): 0 is white noise, 2 a
            Brownian surface, larger is smoother. Defaults to `2.0`.
        rms_m: Expected standard deviation in metres (>= 0). Defaults to `30.0`.
        pixel_m: Pixel size in metres (> 0). Defaults to `50.0`.
        seed: Non-negative integer seed. Defaults to `0`.

    Returns:
        float64 array ``(size, size)`` in metres, mean 0.
    """
    size = check_int("size", size, 2)
    beta = check_number("beta", beta)
    rms = check_number("rms_m", rms_m)
    pixel = check_number("pixel_m", pixel_m, positive=True)
    generator = rng(check_seed(seed), _FRACTAL)
    k = _wavenumbers(size, pixel)
    filt = np.zeros_like(k)
    nonzero = k > 0
    filt[nonzero] = k[nonzero] ** (-beta / 2.0)
    # Var(ifft2(fft2(white) * filt)) = sum(filt^2) / N for unit white noise of N cells.
    filt *= rms / math.sqrt(np.sum(filt**2) / k.size)
    noise = generator.standard_normal((size, size))
    return np.real(np.fft.ifft2(np.fft.fft2(noise) * filt))


def radial_power_spectrum(grid: np.ndarray, pixel_m: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The radially averaged power spectrum of a square grid: ``(wavenumber per metre, power)``.

    Annuli one frequency step wide, from the first nonzero wavenumber to the Nyquist
    wavenumber; the grid's mean is removed first (no window: meant for periodic surfaces
    such as :func:`fractal_surface`).
    """
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 2 or grid.shape[0] != grid.shape[1]:
        raise ValueError(f"`grid` must be a square 2-D array. Received: grid of shape {grid.shape}")
    size = grid.shape[0]
    power = np.abs(np.fft.fft2(grid - grid.mean())) ** 2
    step = 1.0 / (size * pixel_m)
    bins = np.rint(_wavenumbers(size, pixel_m) / step).astype(np.int64).ravel()
    sums = np.bincount(bins, weights=power.ravel())
    counts = np.bincount(bins)
    shells = np.arange(1, size // 2 + 1)
    return shells * step, sums[shells] / counts[shells]


def spectral_slope(grid: np.ndarray, pixel_m: float = 1.0, *, band: tuple[float, float] = (0.05, 0.8)) -> float:
    """The exponent ``beta`` of a least-squares fit ``power ~ k^-beta`` to the radial power spectrum.

    Args:
        grid: Square 2-D grid.
        pixel_m: Pixel size in metres (the slope does not depend on it). Defaults to `1.0`.
        band: The fitted wavenumbers as fractions of the Nyquist wavenumber. Defaults to
            `(0.05, 0.8)` (the longest waves are few per annulus, the shortest are aliased).
    """
    grid = np.asarray(grid, dtype=np.float64)
    k, power = radial_power_spectrum(grid, pixel_m)
    nyquist = 0.5 / pixel_m
    keep = (k >= band[0] * nyquist) & (k <= band[1] * nyquist)
    if keep.sum() < 3:
        raise ValueError(f"`band` must hold at least 3 wavenumbers of the grid. Received: band={band!r}")
    keep &= power > 1e-12 * power.max(initial=0.0)
    if keep.sum() < 3:
        raise ValueError(f"`grid` has no relief to fit a spectrum to. Received: a flat grid of {grid.shape}")
    slope = np.polyfit(np.log(k[keep]), np.log(power[keep]), 1)[0]
    return float(-slope)


def _coordinates(size: int, pixel_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in metres from the grid's centre: ``x`` east (1, size), ``y`` north (size, 1)."""
    c = (np.arange(size) - 0.5 * (size - 1)) * pixel_m
    return c[None, :], -c[:, None]


def _count(generator: np.random.Generator, density: float, area_km2: float) -> int:
    return int(generator.poisson(density * area_km2)) if density > 0 else 0


def _lines(generator: np.random.Generator, n: int, half: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed distances ``(n, size, size)`` in metres to ``n`` random straight lines crossing the grid."""
    angle = generator.uniform(0.0, math.pi, size=n)[:, None, None]
    offset = generator.uniform(-half, half, size=n)[:, None, None]
    return x[None] * np.cos(angle) + y[None] * np.sin(angle) - offset


def _seamounts(generator, n, half, x, y, height_m, radius_m) -> np.ndarray:
    """Sum of ``n`` seamounts: half cones ``h (1 - r/R)+``, half Gaussians ``h exp(-r^2 / (2 (R/2)^2))``."""
    if n == 0:
        return np.zeros(np.broadcast_shapes(x.shape, y.shape))
    margin = half + radius_m
    cx, cy = generator.uniform(-margin, margin, size=(2, n))[:, :, None, None]
    heights = height_m * generator.lognormal(0.0, 0.4, size=n)[:, None, None]
    radii = radius_m * generator.lognormal(0.0, 0.3, size=n)[:, None, None]
    cone = generator.random(n)[:, None, None] < 0.5
    r = np.hypot(x[None] - cx, y[None] - cy)
    shape = np.where(cone, np.clip(1.0 - r / radii, 0.0, None), np.exp(-2.0 * (r / radii) ** 2))
    return np.sum(heights * shape, axis=0)


def synthesize_terrain(
    size: int,
    *,
    pixel_m: float = 50.0,
    region: str = "source",
    seed: int = 0,
    mean_depth_m: float | None = None,
    beta: float | None = None,
    roughness_m: float | None = None,
    seamount_density: float | None = None,
    seamount_height_m: float | None = None,
    seamount_radius_m: float | None = None,
    ridge_density: float | None = None,
    ridge_height_m: float | None = None,
    ridge_width_m: float | None = None,
    fault_density: float | None = None,
    fault_throw_m: float | None = None,
    fault_width_m: float | None = None,
    wall_probability: float | None = None,
    wall_height_m: float | None = None,
    wall_width_m: float | None = None,
) -> np.ndarray:
    """A synthetic seafloor elevation grid in metres (negative below sea level) of a named region.

    The terrain is the sum of

    * the mean elevation ``mean_depth_m`` (negative: below sea level);
    * a fractal surface (:func:`fractal_surface`): power spectrum ``~ |k|^-beta``,
      expected standard deviation ``roughness_m``;
    * seamounts: a Poisson number (``seamount_density`` per km^2 of the grid and a margin
      of one radius, so that some sit across the edge), each a cone or a Gaussian bump
      (even odds) of height ``seamount_height_m`` and base radius ``seamount_radius_m``
      (each times a log-normal factor, sigma 0.4 and 0.3);
    * ridges: a Poisson number (``ridge_density`` per km^2) of straight Gaussian ridges
      crossing the grid, height ``ridge_height_m`` times U(0.5, 1.5), half-width
      ``ridge_width_m``;
    * faults: a Poisson number (``fault_density`` per km^2) of straight steps crossing the
      grid, throw N(0, ``fault_throw_m``) smoothed over ``fault_width_m`` (tanh);
    * a trough wall with probability ``wall_probability``: a large step of height
      ``wall_height_m`` times U(0.5, 1.5), down towards a random side, over a width
      ``wall_width_m`` (tanh; its steepest slope is ``height / (2 width)``), its foot
      somewhere within the grid.

    The regions (:data:`REGIONS`) set every one of these settings, and any of them given
    here overrides the region's value. They are the domain shift that the two-stage
    augmentation has to bridge (a model trained on the source and applied to the target):

    * ``"source"``, a trench-side trough at -4500 m: smooth large-scale relief
      (``beta`` 3.6, 10 m), trough walls in 60 % of the tiles (600 m over 1.2 km, up to
      about 14 degrees) and normal faults (0.15 per km^2, 40 m throw), seamounts rare
      (0.01 per km^2). Its slopes are mostly gentle with a tail of wall and fault slopes.
    * ``"target"``, a seamount province at -3000 m: rougher small-scale relief (``beta``
      3.0, 8 m: more energy at short wavelengths), many seamounts (0.25 per km^2, about
      200 m high and 800 m in radius) and abyssal-hill ridges (0.08 per km^2), no walls and
      few faults. Its slope histogram is broader (seamount flanks everywhere) and it is
      rougher at the scale of a few pixels.

    The spectral exponents are those of real seafloor: a 2-D isotropic power spectrum
    falls as ``|k|^-(2 + 2H)`` with a Hurst exponent H of about 0.5-0.9 for abyssal hills
    (Goff & Jordan 1988, JGR 93(B11); Bell 1975's 1-D profile spectra ``k^-2..-3``), so
    ``beta`` 3 to 4. (A first version used 1.6 and 2.8, rougher than any seafloor: its
    relief below the 200 m cells was nearly white noise, which no method can restore.)

    Measured (:func:`terrain_statistics`, 300 tiles of 64 x 50 m pixels, mean +- std),
    source vs target: mean slope 6.9 +- 3.8 vs 9.4 +- 2.8 degrees, 90th-percentile
    slope 11.9 +- 6.1 vs 19.6 +- 5.7 degrees, roughness 0.9 +- 0.2 vs 1.7 +- 0.2 m;
    the fitted spectral slope of the fractal part alone is 3.54 vs 2.95 (of the whole
    terrain 2.98 vs 3.26: the seamounts add long-wave power).

    Args:
        size: Grid edge in pixels (>= 2).
        pixel_m: Pixel size in metres (> 0). Defaults to `50.0` (a multibeam grid).
        region: `"source"` or `"target"`. Defaults to `"source"`.
        seed: Non-negative integer seed; every component draws from its own stream.
            Defaults to `0`.
        mean_depth_m: Mean elevation in metres (negative below sea level). Region default.
        beta: Spectral exponent of the fractal part (>= 0). Region default.
        roughness_m: Expected standard deviation of the fractal part in metres (>= 0).
        seamount_density: Expected seamounts per km^2 (>= 0).
        seamount_height_m: Typical seamount height in metres (>= 0).
        seamount_radius_m: Typical seamount base radius in metres (> 0).
        ridge_density: Expected ridges per km^2 (>= 0).
        ridge_height_m: Typical ridge height in metres (>= 0).
        ridge_width_m: Ridge half-width (Gaussian sigma) in metres (> 0).
        fault_density: Expected faults per km^2 (>= 0).
        fault_throw_m: Standard deviation of a fault's throw in metres (>= 0).
        fault_width_m: Width over which a fault's step is smoothed, in metres (> 0).
        wall_probability: Probability of a trough wall in the grid (0 to 1).
        wall_height_m: Typical trough-wall height in metres (>= 0).
        wall_width_m: Width of the trough wall's step in metres (> 0).

    Returns:
        float32 array ``(size, size)``: elevation in metres, negative below sea level.

    Raises:
        ValueError: an unknown region or a setting out of range, naming it.
    """
    size = check_int("size", size, 2)
    pixel = check_number("pixel_m", pixel_m, positive=True)
    seed = check_seed(seed)
    if region not in REGIONS:
        raise ValueError(f"`region` must be one of {', '.join(REGIONS)}. Received: region={region!r}")
    given = {
        "mean_depth_m": mean_depth_m,
        "beta": beta,
        "roughness_m": roughness_m,
        "seamount_density": seamount_density,
        "seamount_height_m": seamount_height_m,
        "seamount_radius_m": seamount_radius_m,
        "ridge_density": ridge_density,
        "ridge_height_m": ridge_height_m,
        "ridge_width_m": ridge_width_m,
        "fault_density": fault_density,
        "fault_throw_m": fault_throw_m,
        "fault_width_m": fault_width_m,
        "wall_probability": wall_probability,
        "wall_height_m": wall_height_m,
        "wall_width_m": wall_width_m,
    }
    s: dict[str, Any] = {k: (REGIONS[region][k] if v is None else v) for k, v in given.items()}
    for key, value in s.items():
        if key == "mean_depth_m":
            if not (isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value)):
                raise ValueError(f"`mean_depth_m` must be a finite number. Received: mean_depth_m={value!r}")
        else:
            s[key] = check_number(key, value, positive=key.endswith(("radius_m", "width_m")))
    if s["wall_probability"] > 1:
        raise ValueError(f"`wall_probability` must be <= 1. Received: wall_probability={s['wall_probability']!r}")

    x, y = _coordinates(size, pixel)
    half = 0.5 * size * pixel
    area_km2 = (size * pixel / 1000.0) ** 2
    z = float(s["mean_depth_m"]) + fractal_surface(
        size, beta=s["beta"], rms_m=s["roughness_m"], pixel_m=pixel, seed=seed
    )

    g = rng(seed, _SEAMOUNTS)
    n = _count(g, s["seamount_density"], (2 * half + 2 * s["seamount_radius_m"]) ** 2 / 1e6)
    z += _seamounts(g, n, half, x, y, s["seamount_height_m"], s["seamount_radius_m"])

    g = rng(seed, _RIDGES)
    n = _count(g, s["ridge_density"], area_km2)
    if n:
        d = _lines(g, n, half, x, y)
        heights = s["ridge_height_m"] * g.uniform(0.5, 1.5, size=n)[:, None, None]
        z += np.sum(heights * np.exp(-0.5 * (d / s["ridge_width_m"]) ** 2), axis=0)

    g = rng(seed, _FAULTS)
    n = _count(g, s["fault_density"], area_km2)
    if n:
        d = _lines(g, n, half, x, y)
        throws = s["fault_throw_m"] * g.standard_normal(n)[:, None, None]
        z += np.sum(0.5 * throws * np.tanh(d / s["fault_width_m"]), axis=0)

    g = rng(seed, _WALL)
    if g.random() < s["wall_probability"]:
        d = _lines(g, 1, 0.8 * half, x, y)[0]
        height = s["wall_height_m"] * g.uniform(0.5, 1.5) * (1.0 if g.random() < 0.5 else -1.0)
        z += 0.5 * height * np.tanh(d / s["wall_width_m"])
    return z.astype(np.float32)


def terrain_statistics(grid: np.ndarray, pixel_m: float = 50.0) -> dict[str, float]:
    """Summary statistics of an elevation grid: what tells the regions apart.

    Returns:
        ``mean_m``; ``std_m``; ``slope_mean_deg``, ``slope_p90_deg`` (slope angle from
        central differences, degrees: mean and 90th percentile); ``roughness_m`` (standard
        deviation of the grid minus its 3 x 3 moving average: relief at the scale of a few
        pixels); ``beta`` (:func:`spectral_slope`, square grids only, else NaN).
    """
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 2 or min(grid.shape) < 3:
        raise ValueError(f"`grid` must be a 2-D array of at least 3 x 3. Received: grid of shape {grid.shape}")
    gy, gx = np.gradient(grid, pixel_m)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    padded = np.pad(grid, 1, mode="edge")
    h, w = grid.shape
    smooth = sum(padded[i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0
    try:
        beta = spectral_slope(grid, pixel_m) if h == w and h >= 16 else math.nan
    except ValueError:  # flat
        beta = math.nan
    return {
        "mean_m": float(grid.mean()),
        "std_m": float(grid.std()),
        "slope_mean_deg": float(slope.mean()),
        "slope_p90_deg": float(np.percentile(slope, 90)),
        "roughness_m": float((grid - smooth)[1:-1, 1:-1].std()),
        "beta": beta,
    }
