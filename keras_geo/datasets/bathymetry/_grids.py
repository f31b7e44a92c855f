"""Reading your own survey grids: ``.npy``, ``.xyz`` text, GeoTIFF (rasterio) and NetCDF (xarray).

GeoTIFF and NetCDF need the ``geo`` extra (``pip install 'keras-geo[geo]'``): rasterio,
whose wheels bundle GDAL, the library every GIS writes GeoTIFF with; xarray with
h5netcdf (netCDF-4/HDF5 files, through h5py's wheels) or scipy (netCDF-3 classic files),
so that no netCDF C library has to be installed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = ["GRID_SUFFIXES", "Grid", "read_grid"]

#: The file suffixes :func:`read_grid` reads, by format.
GRID_SUFFIXES = {
    "npy": (".npy",),
    "xyz": (".xyz", ".txt", ".csv"),
    "geotiff": (".tif", ".tiff"),
    "netcdf": (".nc", ".nc4", ".cdf", ".grd"),
}
# Names tried, in order, for the elevation variable of a NetCDF file with several.
_NETCDF_NAMES = ("elevation", "z", "depth", "bathymetry", "topo", "Band1", "height")
# A coordinate is on the lattice within this fraction of the spacing (text rounding).
_LATTICE_TOL = 1e-3


class Grid(NamedTuple):
    """A survey grid: ``depth, mask, pixel_size, units = read_grid(path)``.

    Attributes:
        depth: float32 ``(rows, cols)``, elevation in metres (negative below sea level),
            row 0 the north (largest y) edge; NaN at no-data cells.
        mask: bool ``(rows, cols)``, True at no-data cells.
        pixel_size: ``(row, col)`` spacing in the grid's coordinate units, or None when the
            file does not say (``.npy``).
        units: The coordinates' units when the file says (``"metre"``, ``"degree"``, ...),
            else None.
    """

    depth: np.ndarray
    mask: np.ndarray
    pixel_size: tuple[float, float] | None
    units: str | None


def _finish(path: Path, values: Any, nodata: float | None, positive: str, pixel, units) -> Grid:
    values = np.array(values, dtype=np.float64)
    if values.ndim != 2 or min(values.shape) < 1:
        raise ValueError(f"{path}: a grid must be 2-D (rows, cols). Received: an array of shape {values.shape}")
    mask = ~np.isfinite(values)
    if nodata is not None and math.isfinite(nodata):
        mask |= np.isclose(values, nodata, rtol=0.0, atol=1e-6 * max(1.0, abs(nodata)))
    if mask.all():
        raise ValueError(f"{path}: every cell is no data (nodata={nodata!r} or NaN); nothing to read")
    values[mask] = np.nan
    if positive == "down":
        values = -values
    return Grid(values.astype(np.float32), mask, pixel, units)


def _lattice(path: Path, name: str, values: np.ndarray) -> tuple[np.ndarray, float]:
    """Indices of ``values`` on a regular lattice, and its spacing; a ValueError naming the file otherwise."""
    distinct = np.unique(values)
    if len(distinct) < 2:
        raise ValueError(f"{path}: not a regular grid: {len(distinct)} distinct {name} value(s), need at least 2")
    step = float(np.min(np.diff(distinct)))
    index = np.rint((values - distinct[0]) / step)
    if np.max(np.abs(values - (distinct[0] + index * step))) > _LATTICE_TOL * step:
        raise ValueError(
            f"{path}: not a regular grid: the {name} coordinates are not multiples of one spacing ({step:g})"
        )
    return index.astype(np.int64), step


def _read_xyz(path: Path, nodata: float | None, positive: str) -> Grid:
    text = path.read_text().replace(",", " ")
    rows = [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    try:
        points = np.array(rows, dtype=np.float64)
    except ValueError:
        raise ValueError(f"{path}: an .xyz grid must be lines of three numbers 'x y z'") from None
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"{path}: an .xyz grid must be lines of three numbers 'x y z'")
    col, dx = _lattice(path, "x", points[:, 0])
    row_up, dy = _lattice(path, "y", points[:, 1])
    row = row_up.max() - row_up  # north up
    shape = (int(row.max()) + 1, int(col.max()) + 1)
    flat = row * shape[1] + col
    if len(np.unique(flat)) != len(flat):
        raise ValueError(f"{path}: not a regular grid: {len(flat) - len(np.unique(flat))} duplicate (x, y) points")
    grid = np.full(shape, np.nan)
    grid.ravel()[flat] = points[:, 2]  # grid nodes with no line stay NaN (no data)
    return _finish(path, grid, nodata, positive, (dy, dx), None)


def _read_geotiff(path: Path, nodata: float | None, positive: str) -> Grid:
    try:
        import rasterio
    except ImportError:
        raise ImportError(f"{path}: reading GeoTIFF needs rasterio: pip install 'keras-geo[geo]'") from None
    with rasterio.open(path) as src:
        values = src.read(1).astype(np.float64)
        fill = src.nodata if nodata is None else nodata
        pixel = (abs(float(src.transform.e)), abs(float(src.transform.a)))
        units = None
        if src.crs is not None:
            units = "degree" if src.crs.is_geographic else (src.crs.linear_units or None)
        north_up = src.transform.e < 0
    if not north_up:
        values = values[::-1]
    return _finish(path, values, fill, positive, pixel, units)


def _read_netcdf(path: Path, nodata: float | None, positive: str, variable: str | None) -> Grid:
    try:
        import xarray
    except ImportError:
        raise ImportError(f"{path}: reading NetCDF needs xarray and h5netcdf: pip install 'keras-geo[geo]'") from None
    with open(path, "rb") as f:
        classic = f.read(3) == b"CDF"  # netCDF-3; netCDF-4 files are HDF5
    with xarray.open_dataset(path, engine="scipy" if classic else "h5netcdf", mask_and_scale=True) as ds:
        if variable is None:
            grids = [name for name, v in ds.data_vars.items() if v.ndim == 2]
            named = [n for n in _NETCDF_NAMES if n in grids]
            if not grids:
                raise ValueError(f"{path}: no 2-D variable to read as a grid")
            if len(grids) > 1 and not named:
                raise ValueError(f"{path}: several 2-D variables ({', '.join(grids)}); pass variable=")
            variable = named[0] if named else grids[0]
        elif variable not in ds.data_vars:
            raise ValueError(f"{path}: no variable {variable!r}. Received: variable={variable!r}")
        da = ds[variable]
        if da.ndim != 2:
            raise ValueError(f"{path}: variable {variable!r} is not 2-D. Received: dimensions {da.dims}")
        values = da.values.astype(np.float64)
        ydim, xdim = da.dims
        pixel, units, ascending = None, None, True
        if ydim in ds.coords and xdim in ds.coords and da.shape[0] > 1 and da.shape[1] > 1:
            y, x = ds[ydim].values.astype(np.float64), ds[xdim].values.astype(np.float64)
            pixel = (float(abs(np.median(np.diff(y)))), float(abs(np.median(np.diff(x)))))
            units = ds[xdim].attrs.get("units") or None
            ascending = bool(y[-1] > y[0])
        fill = nodata if nodata is not None else da.encoding.get("missing_value")
    if ascending:  # NetCDF grids (GMT, GEBCO) usually run south to north: row 0 is made the north edge
        values = values[::-1]
    return _finish(path, values, None if fill is None else float(fill), positive, pixel, units)


def read_grid(
    path: str | Path, *, nodata: float | None = None, positive: str = "up", variable: str | None = None
) -> Grid:
    """Reads a bathymetry grid from a file: ``depth, mask, pixel_size, units = read_grid(path)``.

    Formats, by suffix (:data:`GRID_SUFFIXES`):

    * ``.npy``: a 2-D array (no pixel size).
    * ``.xyz`` / ``.txt`` / ``.csv``: lines ``x y z`` (spaces or commas; ``#`` comments)
      on a regular lattice, in any order; lattice nodes without a line are no data. The
      spacing is the smallest step between distinct coordinates, and every coordinate
      must be a multiple of it (within 0.1 %) and every node given once.
    * GeoTIFF (``.tif``, ``.tiff``; rasterio): band 1; its nodata value is masked.
    * NetCDF (``.nc``, ``.nc4``, ``.cdf``, ``.grd``; xarray): the variable ``variable``, or
      the only 2-D one, or the first of ``elevation, z, depth, bathymetry, topo, Band1,
      height``; ``_FillValue`` and ``missing_value`` are masked, ``scale_factor`` applied.
      A grid whose y coordinate ascends is flipped so that row 0 is the north edge.

    NaN cells and cells equal to ``nodata`` (or the file's own nodata value) are masked.

    Args:
        path: The grid file.
        nodata: A no-data value to mask, besides NaN; overrides the file's. Defaults to
            `None` (the file's, if any).
        positive: `"up"` when the values are elevations (negative below sea level, as
            GEBCO), `"down"` when they are depths (positive down; negated on reading).
            Defaults to `"up"`.
        variable: The NetCDF variable to read. Defaults to `None` (see above).

    Returns:
        A :class:`Grid`: elevation float32 in metres (NaN where masked), the no-data mask,
        the pixel size ``(row, col)`` if known and the coordinates' units if known.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unknown suffix, a grid that is not 2-D or not regular, or a grid
            with no data at all, naming the file.
        ImportError: GeoTIFF or NetCDF without the ``geo`` extra.
    """
    path = Path(path).expanduser()
    if positive not in ("up", "down"):
        raise ValueError(f"`positive` must be 'up' or 'down'. Received: positive={positive!r}")
    if nodata is not None and not isinstance(nodata, (int, float, np.integer, np.floating)):
        raise ValueError(f"`nodata` must be a number or None. Received: nodata={nodata!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such grid file")
    suffix = path.suffix.lower()
    if suffix in GRID_SUFFIXES["npy"]:
        return _finish(path, np.load(path, allow_pickle=False), nodata, positive, None, None)
    if suffix in GRID_SUFFIXES["xyz"]:
        return _read_xyz(path, nodata, positive)
    if suffix in GRID_SUFFIXES["geotiff"]:
        return _read_geotiff(path, nodata, positive)
    if suffix in GRID_SUFFIXES["netcdf"]:
        return _read_netcdf(path, nodata, positive, variable)
    known = ", ".join(s for group in GRID_SUFFIXES.values() for s in group)
    raise ValueError(f"{path}: unknown grid format {suffix or '(no suffix)'!r}; known: {known}")
