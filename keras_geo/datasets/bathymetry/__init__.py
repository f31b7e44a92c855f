"""Synthetic seafloor terrain, its low-resolution version and the ``bathymetry`` super-resolution data set.

A bathymetry super-resolution model learns to turn a coarse sounding grid into a fine
one. This package makes the training pairs and reads your own grids:

* :func:`synthesize_terrain` makes seafloor elevation grids in metres: a fractal
  (1/f^beta) surface plus seamounts, ridges, faults and trough walls, for two named
  regions (:data:`REGIONS`: a ``"source"`` trough and a ``"target"`` seamount province)
  whose difference is the domain shift a model trained on one meets on the other;
  :func:`terrain_statistics` measures it (slopes, roughness, spectral slope).
* :func:`block_average` makes the low-resolution grid (x4, x8), :func:`upsample` the
  bicubic baseline, :func:`make_pairs` the normalised (input, target) tiles and
  :func:`to_metres` turns normalised tiles back into metres.
* The ``bathymetry`` data set (:func:`bathymetry`, registered for ``image_to_image``),
  its training split optionally augmented (``augment="stage1"`` or ``"two_stage"``).
* :func:`two_stage_augment`, the report's two-stage augmentation: stage 1
  (:func:`transform_tiles`) rotates, mirrors, depth-scales and slope-stretches source
  tiles; stage 2 (:func:`compose_tiles`) composes them and draws training tiles whose
  slope and roughness histograms (:func:`slope_roughness`, :func:`histograms`) follow
  those of the target region's *low-resolution* grids.
* :func:`read_grid` reads a survey grid (``.npy``, ``.xyz``, GeoTIFF, NetCDF) with its
  no-data mask.

    >>> from keras_geo import datasets
    >>> from keras_geo.datasets import bathymetry
    >>> z = bathymetry.synthesize_terrain(256, pixel_m=50.0, region="target", seed=0)
    >>> lr = bathymetry.block_average(z, 4)                    # (64, 64), 200 m pixels
    >>> data = datasets.load("bathymetry", n_train=200, n_val=50, n_test=50, scale=4)
    >>> metres = bathymetry.to_metres(data["test"][1], data.info, "test")

Conventions: grids are elevations in metres, negative below sea level, float32; row 0 is
the north edge; pixels are square, ``pixel_m`` metres (50 m by default).

Modules (all private; import the names from this package):

* ``_terrain``: :data:`REGIONS`, :func:`synthesize_terrain`, :func:`fractal_surface`,
  :func:`radial_power_spectrum`, :func:`spectral_slope`, :func:`terrain_statistics`.
* ``_dataset``: :func:`block_average`, :func:`upsample`, :func:`make_pairs`,
  :func:`to_metres` and the registered loader :func:`bathymetry`.
* ``_augment``: :data:`SLOPE_EDGES_DEG`, :data:`ROUGHNESS_EDGES_M`,
  :func:`transform_tiles`, :func:`slope_roughness`, :func:`histograms`,
  :func:`histogram_distance`, :func:`histogram_distances`, :func:`compose_tiles`,
  :func:`two_stage_augment`.
* ``_grids``: :class:`Grid`, :func:`read_grid`.
"""

from __future__ import annotations

from ._augment import (
    ROUGHNESS_EDGES_M,
    SLOPE_EDGES_DEG,
    compose_tiles,
    histogram_distance,
    histogram_distances,
    histograms,
    slope_roughness,
    transform_tiles,
    two_stage_augment,
)
from ._dataset import bathymetry, block_average, make_pairs, to_metres, upsample
from ._grids import GRID_SUFFIXES, Grid, read_grid
from ._terrain import (
    REGIONS,
    fractal_surface,
    radial_power_spectrum,
    spectral_slope,
    synthesize_terrain,
    terrain_statistics,
)

__all__ = [
    "GRID_SUFFIXES",
    "REGIONS",
    "ROUGHNESS_EDGES_M",
    "SLOPE_EDGES_DEG",
    "Grid",
    "bathymetry",
    "block_average",
    "compose_tiles",
    "fractal_surface",
    "histogram_distance",
    "histogram_distances",
    "histograms",
    "make_pairs",
    "radial_power_spectrum",
    "read_grid",
    "slope_roughness",
    "spectral_slope",
    "synthesize_terrain",
    "terrain_statistics",
    "to_metres",
    "transform_tiles",
    "two_stage_augment",
    "upsample",
]
