"""FIB-SEM-like voxel volumes of a structure, and slicing a user's own stack.

A FIB-SEM (focused ion beam -- scanning electron microscope) stack is made by
milling the block face away slice after slice and imaging each new face with
the SEM. The volume is indexed ``volume[z, y, x]`` as every volume of this
package: ``z`` is the **milling axis** (one block-face image per ``z``), ``y``
the image rows (the ion beam runs down the face along ``y``) and ``x`` the
image columns.

`fibsem_volume` voxelises a `Structure` (filler 1, rubber 0), maps it to the
grey levels of the two phases and applies `apply_fibsem`, which adds, each
settable on its own and switched off by 0 (or `None`):

* slice-thickness blur along ``z`` (``slice_blur_nm``): the mill step and the
  depth the electrons probe below the face average the signal along ``z``;
* curtaining (``curtain_std``, ``curtain_width_nm``, ``curtain_length_nm``):
  vertical streaks along ``y`` (the ion-beam direction), a different offset
  for every column ``x``, persisting over many slices;
* brightness drift across slices (``drift_std``) and charging within a slice
  (``charging_std``): slow, smooth offsets of whole slices, and of the rows of
  a slice, over ``drift_length_nm``;
* shot noise (``shot_dose``) and detector noise (``noise_std``),
  independent per voxel.

The synthetic volume covers one periodic structure box, and every effect is
periodic too (its smooth fields are filtered in Fourier space, the blur
wraps), so `slice_volume` can slice it with ``periodic=True`` at any position
and orientation without a seam. All randomness comes from one seed (one numpy
Generator per effect); the volume is built in float32, in place where it can,
and its memory is estimated (`estimate_fibsem_gib`) and checked against
``max_memory_gib`` before anything large is allocated.

`load_stack` reads a user's stack (``.npy`` or multi-page TIFF) and
`slice_stack` slices it like the synthetic ones.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._render import _check_structure
from ._structures import Structure
from ._validation import _check_float, _check_int, _check_seed, _derive_seed
from ._volumes import slice_volume

# Bytes per voxel at the peak of `fibsem_volume`: the boolean occupancy (1), the
# float32 volume (4) and the float32 output of the z blur (4).
_BYTES_PER_VOXEL = 9
# Fixed working memory on top: voxelisation chunks, noise chunks, smooth fields.
_OVERHEAD_BYTES = 256 * 2**20
# Slices of the volume that get their noise at once (bounded memory; part of the
# random stream, so changing it changes the volumes).
_NOISE_CHUNK = 16


def estimate_fibsem_gib(box_nm: float, voxel_nm: float) -> float:
    """Estimated peak memory of `fibsem_volume` for a cubic box, in GiB.

    Args:
        box_nm: Box edge in nm.
        voxel_nm: Voxel edge in nm.

    Returns:
        ``(9 bytes * (box_nm / voxel_nm)^3 + 256 MiB) / 2^30``.
    """
    box = _check_float("box_nm", box_nm, low=0.0)
    voxel = _check_float("voxel_nm", voxel_nm, low=0.0)
    m = round(box / voxel)
    return (_BYTES_PER_VOXEL * float(m) ** 3 + _OVERHEAD_BYTES) / 2**30


def _available_gib() -> float | None:
    """Memory this machine can still give, in GiB (``MemAvailable`` on Linux, else the physical
    memory; None when unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 / 2**30
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (AttributeError, OSError, ValueError):
        return None


def _check_memory(n_voxels: int, max_memory_gib: float, what: str, value: Any, shape: str) -> None:
    """Refuses, in one line naming `what`, a volume whose estimated peak is over ``max_memory_gib``
    or over the memory the machine has available."""
    need = (_BYTES_PER_VOXEL * float(n_voxels) + _OVERHEAD_BYTES) / 2**30
    if need > max_memory_gib:
        raise ValueError(
            f"`{what}` gives a {shape} FIB-SEM volume needing about {need:.1f} GiB, over "
            f"max_memory_gib={max_memory_gib:g}; use a coarser voxel, a smaller box or a larger limit. "
            f"Received: {what}={value!r}"
        )
    available = _available_gib()
    if available is not None and need > available:
        raise ValueError(
            f"`{what}` gives a {shape} FIB-SEM volume needing about {need:.1f} GiB, over the "
            f"{available:.1f} GiB this machine has available; use a coarser voxel or a smaller box. "
            f"Received: {what}={value!r}"
        )


def _occupancy(structure: Structure, voxel: float, m: int) -> np.ndarray:
    """Binary occupancy ``[z, y, x]`` (1 where a voxel centre lies in a sphere), as `voxelize` with
    ``supersample=1`` but one byte per voxel and no full-size temporary."""
    occ = np.zeros(m**3, np.bool_)
    if structure.n_particles == 0:
        return occ.reshape(m, m, m)
    x, r = structure.centers, structure.radii
    hw = int(math.ceil(float(r.max()) / voxel)) + 1
    o = np.arange(-hw, hw + 1)
    k = len(o)
    chunk = max(1, 2_000_000 // k**3)
    for s0 in range(0, len(r), chunk):
        xc, rc = x[s0 : s0 + chunk] / voxel, r[s0 : s0 + chunk] / voxel
        base = np.floor(xc).astype(np.int64)
        p = base[:, None, :] + o[None, :, None]  # (c, k, 3) voxel indices near each sphere
        d2 = (p + 0.5 - xc[:, None, :]) ** 2
        inside = (d2[:, :, None, None, 2] + d2[:, None, :, None, 1] + d2[:, None, None, :, 0]) < (rc**2)[
            :, None, None, None
        ]
        i = np.mod(p, m)
        flat = (i[:, :, None, None, 2] * m + i[:, None, :, None, 1]) * m + i[:, None, None, :, 0]
        occ[flat[inside]] = True
    return occ.reshape(m, m, m)


def _smooth_periodic(rng: np.random.Generator, shape: tuple[int, ...], sigma: tuple[float, ...]) -> np.ndarray:
    """A periodic Gaussian random field of zero mean and unit standard deviation.

    White noise low-passed by a Gaussian of ``sigma`` samples per axis,
    applied in Fourier space (so the field wraps around, whatever ``sigma``).
    The filter is scaled so that the lowest non-constant mode keeps weight 1:
    when ``sigma`` is much longer than the volume the field tends to the
    smoothest periodic one (one period over the volume) instead of vanishing.
    A volume of one sample gives 0.
    """
    white = rng.standard_normal(shape)
    spectrum = np.fft.rfftn(white, axes=tuple(range(len(shape))))
    freqs = [np.fft.fftfreq(n) for n in shape[:-1]] + [np.fft.rfftfreq(shape[-1])]
    log_w = np.zeros(spectrum.shape)
    for axis, (f, s_ax) in enumerate(zip(freqs, sigma)):
        view = [1] * len(shape)
        view[axis] = len(f)
        log_w = log_w - 2.0 * (np.pi * s_ax * f.reshape(view)) ** 2
    log_w.flat[0] = -np.inf  # no constant term
    if log_w.size > 1 and np.isfinite(log_w).any():
        log_w -= log_w[np.isfinite(log_w)].max()
    field = np.fft.irfftn(spectrum * np.exp(log_w), s=shape, axes=tuple(range(len(shape))))
    std = field.std()
    return (field / std if std > 0 else np.zeros(shape)).astype(np.float32)


# The names of the imaging-effect settings that `apply_fibsem`, `fibsem_volume` and
# `make_fibsem_dataset` all take (and check with `_check_effects`).
_EFFECTS = (
    "slice_blur_nm",
    "curtain_std",
    "curtain_width_nm",
    "curtain_length_nm",
    "drift_std",
    "charging_std",
    "drift_length_nm",
    "shot_dose",
    "noise_std",
)


def _check_effects(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The checked effect settings (0 or None switches an effect off), taken from ``settings``
    (a caller's ``locals()``: only the names in `_EFFECTS` are read)."""

    def non_negative(name: str) -> float:
        return _check_float(name, settings[name], low=0.0, low_open=False)

    def positive(name: str) -> float:
        return _check_float(name, settings[name], low=0.0)

    dose = settings["shot_dose"]
    return {
        "slice_blur_nm": non_negative("slice_blur_nm"),
        "curtain_std": non_negative("curtain_std"),
        "curtain_width_nm": positive("curtain_width_nm"),
        "curtain_length_nm": positive("curtain_length_nm"),
        "drift_std": non_negative("drift_std"),
        "charging_std": non_negative("charging_std"),
        "drift_length_nm": positive("drift_length_nm"),
        "shot_dose": None if dose is None else positive("shot_dose"),
        "noise_std": non_negative("noise_std"),
    }


def _check_seed_and_clip(seed: Any, clip: Any) -> tuple[int, bool]:
    """The checked ``seed`` and ``clip`` of `apply_fibsem` and `fibsem_volume`."""
    seed = _check_seed(seed)
    if not isinstance(clip, (bool, np.bool_)):
        raise ValueError(f"`clip` must be True or False. Received: clip={clip!r}")
    return seed, bool(clip)


def _voxels_per_edge(box: float, voxel: float, voxel_nm: Any, max_memory_gib: float) -> int:
    """Voxels along the edge of a ``box``-nm cube at ``voxel`` nm, refused (before any slow work)
    when ``voxel`` does not divide the box or the volume would not fit `_check_memory`."""
    m = int(round(box / voxel))
    if m < 1 or abs(m * voxel - box) > 1e-6 * box:
        raise ValueError(
            f"`voxel_nm` must divide box_nm={box:g} into a whole number of voxels. Received: voxel_nm={voxel_nm!r}"
        )
    _check_memory(m**3, max_memory_gib, "voxel_nm", voxel_nm, f"{m}^3-voxel ({box:g} nm box)")
    return m


def _check_stack(volume: Any, name: str = "volume") -> np.ndarray:
    """A finite, real, 3-D float32 volume (a copy only when the dtype changes)."""
    vol = np.asarray(volume)
    if vol.ndim != 3 or min(vol.shape) < 1:
        raise ValueError(f"`{name}` must be a 3-D array indexed [z, y, x]. Received: {name}.shape={vol.shape}")
    if vol.dtype != np.bool_ and (not np.issubdtype(vol.dtype, np.number) or vol.dtype.kind == "c"):
        raise ValueError(f"`{name}` must hold real numbers. Received: {name}.dtype={vol.dtype}")
    vol = vol.astype(np.float32, copy=False)
    bad = int(np.count_nonzero(~np.isfinite(vol)))
    if bad:
        raise ValueError(
            f"`{name}` must hold finite values; it has {bad:,} NaN or infinite voxels of {vol.size:,}. "
            f"Received: {name}.shape={vol.shape}"
        )
    return vol


def apply_fibsem(
    volume: Any,
    *,
    voxel_nm: float,
    slice_blur_nm: float = 3.0,
    curtain_std: float = 0.05,
    curtain_width_nm: float = 8.0,
    curtain_length_nm: float = 200.0,
    drift_std: float = 0.03,
    charging_std: float = 0.03,
    drift_length_nm: float = 250.0,
    shot_dose: float | None = 40.0,
    noise_std: float = 0.02,
    seed: int = 0,
    clip: bool = True,
) -> np.ndarray:
    """FIB-SEM imaging effects on a grey-level volume ``[z, y, x]`` (z is the milling axis).

    Effects are applied in this order; each is off at 0 (``shot_dose`` at
    `None`), and with all off the volume is returned as float32 (clipped to
    ``[0, 1]`` if `clip`). Every random field is periodic over the volume.

    1. Slice-thickness blur: a Gaussian along ``z`` only, standard deviation
       ``slice_blur_nm``, wrapped borders (the mean is kept; the ``z``
       gradients shrink, ``x`` and ``y`` detail stays sharp within a slice).
    2. Curtaining: an offset ``c(z, x)``, the same down every column (along
       ``y``), of standard deviation ``curtain_std`` over the volume; it is
       correlated over ``curtain_width_nm`` across columns and over
       ``curtain_length_nm`` across slices (Gaussian correlation lengths).
    3. Drift across slices: an offset ``d(z)`` of standard deviation
       ``drift_std``, smooth over ``drift_length_nm``.
    4. Charging within a slice: an offset ``h(z, y)`` of standard deviation
       ``charging_std``, smooth over ``drift_length_nm`` along the rows ``y``
       and across slices.
    5. Noise, independent per voxel: Gaussian of variance
       ``max(v, 0) / shot_dose + noise_std^2`` added to each voxel ``v``.
       The first term is shot noise, ``shot_dose`` electrons at grey level
       1, in the normal approximation of ``Poisson(dose * v) / dose``
       (close to it from about 10 electrons a voxel, and 6x faster to
       draw); the second is the detector's noise.

    Args:
        volume: 3-D array ``[z, y, x]`` of grey levels (finite).
        voxel_nm: Voxel edge in nm (the nm settings are converted with it).
        slice_blur_nm: Standard deviation of the z blur in nm (>= 0).
            Defaults to `3.0` (a 2-5 nm mill step plus the probed depth).
        curtain_std: Curtaining amplitude, grey levels (>= 0).
            Defaults to `0.05`.
        curtain_width_nm: Correlation length of the curtains across columns
            in nm (> 0). Defaults to `8.0`.
        curtain_length_nm: Correlation length of the curtains across slices
            in nm (> 0). Defaults to `200.0`.
        drift_std: Slice-to-slice brightness drift, grey levels (>= 0).
            Defaults to `0.03`.
        charging_std: Within-slice charging offset, grey levels (>= 0).
            Defaults to `0.03`.
        drift_length_nm: Correlation length of drift and charging in nm
            (> 0). Defaults to `250.0`.
        shot_dose: Electrons per voxel at grey level 1 (> 0), or `None` for
            no shot noise. Defaults to `40.0` (noise std 0.08 at level 0.25,
            0.14 at 0.75, per voxel).
        noise_std: Gaussian detector noise, grey levels (>= 0).
            Defaults to `0.02`.
        seed: Non-negative integer seed. Defaults to `0`.
        clip: Clip the result to ``[0, 1]``. Defaults to `True`.

    Returns:
        float32 array of the volume's shape (a new array).
    """
    vol = _check_stack(volume)
    voxel = _check_float("voxel_nm", voxel_nm, low=0.0)
    fx = _check_effects(locals())
    seed, clip = _check_seed_and_clip(seed, clip)
    return _apply_effects(np.array(vol, dtype=np.float32, copy=True), voxel, fx, seed, clip)


def _blur_z(vol: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur along axis 0 with wrapped borders (as ``scipy.ndimage.gaussian_filter1d`` with
    ``mode="wrap"`` and ``truncate=4``), slice by slice: a new float32 array, no other full-size temporary."""
    radius = max(1, int(4.0 * sigma + 0.5))
    weights = np.exp(-0.5 * (np.arange(radius + 1) / sigma) ** 2)
    weights = (weights / (2.0 * weights.sum() - weights[0])).astype(np.float32)
    nz = len(vol)
    out = np.empty_like(vol)
    pair = np.empty_like(vol[0])
    for z in range(nz):
        np.multiply(vol[z], weights[0], out=out[z])
        for t in range(1, radius + 1):  # symmetric taps: one product per pair of slices
            np.add(vol[(z + t) % nz], vol[(z - t) % nz], out=pair)
            pair *= weights[t]
            out[z] += pair
    return out


def _apply_effects(vol: np.ndarray, voxel: float, fx: dict[str, Any], seed: int, clip: bool) -> np.ndarray:
    """`apply_fibsem` on a float32 volume it may overwrite (checked settings)."""
    nz, ny, nx = vol.shape

    def rng(i: int) -> np.random.Generator:  # one independent stream per effect
        return np.random.default_rng(_derive_seed(seed, i))

    if fx["slice_blur_nm"] > 0:
        vol = _blur_z(vol, fx["slice_blur_nm"] / voxel)
    if fx["curtain_std"] > 0:
        sigma = (fx["curtain_length_nm"] / voxel, fx["curtain_width_nm"] / voxel)
        vol += fx["curtain_std"] * _smooth_periodic(rng(1), (nz, nx), sigma)[:, None, :]
    if fx["drift_std"] > 0:
        vol += fx["drift_std"] * _smooth_periodic(rng(2), (nz,), (fx["drift_length_nm"] / voxel,))[:, None, None]
    if fx["charging_std"] > 0:
        length = fx["drift_length_nm"] / voxel
        vol += fx["charging_std"] * _smooth_periodic(rng(3), (nz, ny), (length, length))[:, :, None]
    dose, std = fx["shot_dose"], fx["noise_std"]
    if dose is not None or std > 0:
        r = rng(4)
        for z0 in range(0, nz, _NOISE_CHUNK):
            part = vol[z0 : z0 + _NOISE_CHUNK]
            if dose is None:
                scale = np.float32(std)
            else:  # shot noise (variance v / dose) and detector noise add their variances
                scale = np.sqrt(np.maximum(part, 0.0) * np.float32(1.0 / dose) + np.float32(std**2))
            part += scale * r.standard_normal(part.shape, dtype=np.float32)
    if clip:
        np.clip(vol, 0.0, 1.0, out=vol)
    return vol


def fibsem_volume(
    structure: Structure,
    *,
    voxel_nm: float = 2.0,
    filler_level: float = 0.75,
    matrix_level: float = 0.25,
    slice_blur_nm: float = 3.0,
    curtain_std: float = 0.05,
    curtain_width_nm: float = 8.0,
    curtain_length_nm: float = 200.0,
    drift_std: float = 0.03,
    charging_std: float = 0.03,
    drift_length_nm: float = 250.0,
    shot_dose: float | None = 40.0,
    noise_std: float = 0.02,
    seed: int = 0,
    clip: bool = True,
    max_memory_gib: float = 4.0,
) -> np.ndarray:
    """A FIB-SEM-like stack of a structure: voxelised, grey levels, imaging effects.

    The structure is voxelised over its whole periodic box (a voxel is filler
    when its centre lies in a particle, as `voxelize` with ``supersample=1``),
    filler voxels get ``filler_level`` and rubber voxels ``matrix_level``
    (silica is brighter than rubber in the SEM), then `apply_fibsem` adds the
    effects (see there for each). With every effect off the result is exactly
    ``matrix_level + (filler_level - matrix_level) * voxelize(structure,
    voxel_nm)``. The peak memory is estimated first (`estimate_fibsem_gib`)
    and a volume over ``max_memory_gib``, or over the memory the machine has
    available, is refused before allocating.

    Args:
        structure: A `Structure`.
        voxel_nm: Voxel edge in nm; must divide ``structure.box_nm``.
            Defaults to `2.0`, the study's FIB-SEM resolution. A 1000 nm box
            is then 500^3 voxels: 1.07 GiB peak (estimate 1.30 GiB) and
            about 4 s a stack on two shared cores, 16 s for the first stack
            of a process (fresh memory is mapped); 4 nm takes 0.23 GiB and
            under 1 s (`benchmarks/bench_fibsem_volume.py`, BENCHMARKS.md).
        filler_level: Grey level of the filler. Defaults to `0.75`.
        matrix_level: Grey level of the rubber. Defaults to `0.25`.
        slice_blur_nm: See `apply_fibsem`. Defaults to `3.0`.
        curtain_std: See `apply_fibsem`. Defaults to `0.05`.
        curtain_width_nm: See `apply_fibsem`. Defaults to `8.0`.
        curtain_length_nm: See `apply_fibsem`. Defaults to `200.0`.
        drift_std: See `apply_fibsem`. Defaults to `0.03`.
        charging_std: See `apply_fibsem`. Defaults to `0.03`.
        drift_length_nm: See `apply_fibsem`. Defaults to `250.0`.
        shot_dose: See `apply_fibsem`. Defaults to `40.0`.
        noise_std: See `apply_fibsem`. Defaults to `0.02`.
        seed: Non-negative integer seed of the effects. Defaults to `0`.
        clip: Clip to ``[0, 1]``. Defaults to `True`.
        max_memory_gib: Largest estimated peak memory allowed, in GiB (> 0);
            the memory available on the machine is a limit too. Defaults to
            `4.0`.

    Returns:
        `(M, M, M)` float32 array ``[z, y, x]`` with ``M = box_nm / voxel_nm``.
    """
    structure = _check_structure(structure)
    voxel = _check_float("voxel_nm", voxel_nm, low=0.0)
    filler = _check_float("filler_level", filler_level, low=None)
    matrix = _check_float("matrix_level", matrix_level, low=None)
    fx = _check_effects(locals())
    seed, clip = _check_seed_and_clip(seed, clip)
    limit = _check_float("max_memory_gib", max_memory_gib, low=0.0)
    m = _voxels_per_edge(structure.box_nm, voxel, voxel_nm, limit)
    occ = _occupancy(structure, voxel, m)
    vol = occ.astype(np.float32)
    del occ
    vol *= np.float32(filler - matrix)
    vol += np.float32(matrix)
    return _apply_effects(vol, voxel, fx, seed, clip)


def load_stack(source: Any, *, normalize: bool = True) -> np.ndarray:
    """A user's FIB-SEM stack as a float32 volume ``[z, y, x]`` (one image per slice).

    Reads a ``.npy`` file (``allow_pickle=False``) or a multi-page TIFF
    (``.tif``/``.tiff``, one page per slice: with tifffile, which
    scikit-image installs, else OpenCV's ``imreadmulti``), or takes an array.
    Colour pages are refused (convert them to grey first).

    Args:
        source: Path to a ``.npy`` / ``.tif`` / ``.tiff`` file, or a 3-D array.
        normalize: Rescale the grey levels linearly to ``[0, 1]`` (minimum to
            0, maximum to 1; a constant stack becomes 0), as the synthetic
            stacks. Defaults to `True`.

    Returns:
        float32 array ``[z, y, x]`` with finite values.

    Raises:
        ValueError: a missing or unreadable file, an unknown suffix, a volume
            that is not 3-D or holds NaN or inf.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise ValueError(
                f"`source` must be an existing .npy or multi-page TIFF file. Received: source={str(source)!r}"
            )
        suffix = path.suffix.lower()
        try:
            if suffix == ".npy":
                data = np.load(path, allow_pickle=False)
            elif suffix in (".tif", ".tiff"):
                data = _read_tiff(path)
            else:
                raise ValueError(
                    f"`source` must end in .npy, .tif or .tiff. Received: source={str(source)!r}"
                ) from None
        except ValueError as err:
            if "`source`" in str(err):
                raise
            raise ValueError(f"`source` could not be read ({err}). Received: source={str(source)!r}") from None
        except OSError as err:
            raise ValueError(f"`source` could not be read ({err}). Received: source={str(source)!r}") from None
    else:
        data = source
    vol = _check_stack(data, "volume")
    if not isinstance(normalize, (bool, np.bool_)):
        raise ValueError(f"`normalize` must be True or False. Received: normalize={normalize!r}")
    if normalize:
        lo, hi = float(vol.min()), float(vol.max())
        vol = (vol - lo) / (hi - lo) if hi > lo else np.zeros_like(vol)
        vol = vol.astype(np.float32, copy=False)
    return vol


def _read_tiff(path: Path) -> np.ndarray:
    try:
        import tifffile
    except ImportError:  # scikit-image installs tifffile; OpenCV reads the usual TIFFs too
        tifffile = None
    if tifffile is not None:
        try:
            return np.asarray(tifffile.imread(path))
        except Exception as err:  # tifffile raises many kinds on a corrupt file
            raise OSError(str(err) or type(err).__name__) from None
    import cv2

    ok, pages = cv2.imreadmulti(str(path), flags=cv2.IMREAD_ANYDEPTH)
    if not ok or not pages:
        raise OSError("not a readable TIFF")
    return np.stack(pages)


def slice_stack(
    stack: Any,
    n: int,
    *,
    voxel_nm: float,
    fov_nm: float,
    image_size: int = 64,
    seed: int = 0,
    order: int = 1,
    periodic: bool = False,
    normalize: bool = True,
) -> np.ndarray:
    """Random slices of a user's FIB-SEM stack, as the synthetic stacks are sliced.

    The stack is read with `load_stack` and sliced with `slice_volume` at
    random positions and orientations (a real stack is not periodic, so by
    default centres stay ``fov_nm / sqrt(2)`` inside the faces where the
    stack is large enough and edge values pad the rest).

    Args:
        stack: Path to a ``.npy`` or multi-page TIFF file, or a 3-D array
            ``[z, y, x]`` (z the milling axis).
        n: Number of slices (>= 1).
        voxel_nm: Voxel edge in nm (isotropic; resample anisotropic stacks
            first).
        fov_nm: Square field of view in nm; at most the smallest extent of
            the stack.
        image_size: Image edge in pixels (>= 8). Defaults to `64`.
        seed: Non-negative integer seed. Defaults to `0`.
        order: Spline order 0-5 of the interpolation. Defaults to `1`.
        periodic: Treat the stack as periodic. Defaults to `False`.
        normalize: See `load_stack`. Defaults to `True`.

    Returns:
        `(n, image_size, image_size)` float32 array (in ``[0, 1]`` when
        normalised).
    """
    n = _check_int("n", n, 1)
    voxel = _check_float("voxel_nm", voxel_nm, low=0.0)
    fov = _check_float("fov_nm", fov_nm, low=0.0)
    vol = load_stack(stack, normalize=normalize)
    _check_fov_in(vol.shape, voxel, fov, fov_nm)
    return slice_volume(
        vol, n, voxel_nm=voxel, fov_nm=fov, image_size=image_size, seed=seed, order=order, periodic=bool(periodic)
    )


def _check_fov_in(shape: tuple[int, ...], voxel: float, fov: float, fov_nm: Any) -> None:
    extent = np.array(shape, dtype=np.float64) * voxel
    if fov > extent.min() * (1.0 + 1e-12):
        dims = " x ".join(f"{e:g}" for e in extent)
        raise ValueError(
            f"`fov_nm` must not exceed the smallest extent of the volume ({dims} nm along z, y, x: "
            f"shape {tuple(shape)} at voxel_nm={voxel:g}). Received: fov_nm={fov_nm!r}"
        )
