"""Synthetic 2-D slices of nano-particle filler in rubber.

This package generates the data set of the filler-morphology study that
keras-geo reproduces: 2-D cross-section images of the nano-particle filler
(e.g. silica) dispersed in a rubber matrix, to be classified into three
classes:

* ``"M-SBR"`` -- end-modified SBR: the filler is **well dispersed**; small
  aggregates of a few primary particles, spread more evenly than at random.
* ``"n-SBR"`` -- unmodified SBR: the filler is **aggregated**; large
  fractal-like aggregates grouped into agglomerates, with voids between them.
* ``"Rnd"`` -- primary particles placed **at random** (no aggregation).

Each training image is a slice of a 3-D structure at a random position and a
random orientation, seen through a square field of view (FOV). The classes
differ mainly at the scale of the aggregates (tens to hundreds of nm), so a
small FOV (250 nm, a few dozen particle sections) is hard to classify and a
large FOV (1000 nm) is easy -- the trend reported by the study.

Pipeline::

    structure = generate_structure("n-SBR", box_nm=1000.0, seed=1)
    images = slice_structure(structure, 100, fov_nm=500.0, image_size=64)
    x, y = make_dataset(1000, fov_nm=500.0)          # cached on disk
    splits = make_splits(1000, 200, 200, fov_nm=500.0)

Conventions used throughout:

* Lengths are in nanometres; a structure lives in a periodic cube
  ``[0, box_nm)^3`` and positions are ``(x, y, z)``.
* A slicing plane is given by a centre (3,) and a 3x3 rotation matrix whose
  **columns** are the image axes: column 0 is ``u`` (image columns, "x"),
  column 1 is ``v`` (image rows, "y") and column 2 is the plane normal.
  Pixel ``(row i, column j)`` of an ``S x S`` image with FOV ``f`` samples
  the point ``center + a_j * u + b_i * v`` with
  ``a_j = (j + 0.5 - S / 2) * f / S`` and ``b_i = (i + 0.5 - S / 2) * f / S``;
  the plane centre sits at the image centre.
* Voxel volumes are indexed ``volume[z, y, x]`` and voxel ``(k, j, i)``
  covers ``[i, i + 1) * voxel_nm`` along x (and so on), i.e. its centre is
  at ``((i + 0.5), (j + 0.5), (k + 0.5)) * voxel_nm``. :func:`voxelize`
  produces and :func:`sample_volume_plane` reads volumes in this convention,
  so a voxelised structure slices like the structure itself.
* Images are ``float32`` in ``[0, 1]``: 1 is filler, 0 is rubber.

Modules (all private; import the names from this package):

* ``_structures``: `CLASSES`, `DEFAULT_PARAMS`, `Structure` and
  :func:`generate_structure` (parameter checks, choice of the model).
* ``_packing``: the physics of the packings -- random sequential addition
  of spheres (Rnd), aggregates grown in place, compact (M-SBR) or fractal
  (n-SBR), and the periodic k-d-tree neighbour search.
* ``_geometry``: periodic wrapping, minimum image, random unit vectors and
  rotations.
* ``_render``: slicing a structure -- :func:`render_plane`,
  :func:`slice_structure` and the shared plane sampling.
* ``_volumes``: :func:`voxelize`, :func:`sample_volume_plane`,
  :func:`slice_volume`.
* ``_imaging``: :func:`apply_imaging` (blur and noise).
* ``_fibsem``: FIB-SEM-like stacks -- :func:`fibsem_volume`,
  :func:`apply_fibsem` (slice-thickness blur, curtaining, drift and
  charging, noise), :func:`estimate_fibsem_gib`, and a user's own stack:
  :func:`load_stack`, :func:`slice_stack`.
* ``_fibsem_dataset``: :func:`make_fibsem_dataset`,
  :func:`make_fibsem_splits` and the data set ``filler_fibsem``.
* ``_statistics``: :func:`class_statistics`.
* ``_cache``: `GENERATOR_VERSION` (bump it whenever a change alters the
  arrays produced), cache keys and files, cached structures.
* ``_dataset``: :func:`make_dataset`, :func:`make_splits`,
  :func:`to_tf_dataset`.
* ``_validation``: argument checks and seed derivation.

Only numpy, scipy and OpenCV are imported at module level; TensorFlow (for
:func:`to_tf_dataset`) and tqdm (for progress bars) are imported lazily.
"""

from __future__ import annotations

# The private helpers imported ``as`` themselves are used as ``filler._name`` by
# tests and benchmarks. The data-set pipeline calls `_cached_structure` and the
# public steps through this package, so patching ``filler.<name>`` reaches it,
# as it did when filler was one module.
from ._cache import GENERATOR_VERSION
from ._cache import _cached_structure as _cached_structure
from ._dataset import make_dataset, make_splits, to_tf_dataset
from ._fibsem import apply_fibsem, estimate_fibsem_gib, fibsem_volume, load_stack, slice_stack
from ._fibsem_dataset import FIBSEM_VERSION, make_fibsem_dataset, make_fibsem_splits
from ._imaging import apply_imaging
from ._packing import _neighbours as _neighbours
from ._properties import (
    TARGET_NAMES,
    PropertyDataset,
    make_property_dataset,
    make_property_splits,
)
from ._render import _sample_planes as _sample_planes
from ._render import render_plane, slice_structure
from ._statistics import class_statistics
from ._structures import CLASSES, DEFAULT_PARAMS, Structure, generate_structure
from ._volumes import sample_volume_plane, slice_volume, voxelize

__all__ = [
    "CLASSES",
    "DEFAULT_PARAMS",
    "FIBSEM_VERSION",
    "GENERATOR_VERSION",
    "TARGET_NAMES",
    "PropertyDataset",
    "Structure",
    "apply_fibsem",
    "apply_imaging",
    "class_statistics",
    "estimate_fibsem_gib",
    "fibsem_volume",
    "generate_structure",
    "load_stack",
    "make_dataset",
    "make_fibsem_dataset",
    "make_fibsem_splits",
    "make_property_dataset",
    "make_property_splits",
    "make_splits",
    "render_plane",
    "sample_volume_plane",
    "slice_stack",
    "slice_structure",
    "slice_volume",
    "to_tf_dataset",
    "voxelize",
]
