"""SEM-like images of filler particles and their degradation to low-cost-SEM quality.

A restoration model learns to map what a low-cost (bench-top) scanning electron
microscope shows to what a high-quality one would: blurred, coarsely sampled, jittery,
drifting and noisy images back to clean ones. This package makes the training pairs:

* :func:`render_sem` renders clean secondary-electron images of filler particles in a
  matrix -- plane sections of the 3-D filler structures of
  :mod:`keras_geo.datasets.filler` (all classes mixed), each particle's section computed
  analytically -- with the true sections ``(row, col, radius_px)`` as ground truth.
* :func:`degrade` degrades images the way a low-cost SEM does (beam spot, lower
  resolution, scan-line jitter, charging drift, shot and read noise), seeded per image.
* The ``sem`` data set (:func:`sem`, registered for ``image_to_image``) gives
  ``(degraded, clean)`` splits, generated or read from your folders: clean images alone
  (degraded on the fly) or real pairs matched by file name, cut into patches
  (:func:`cut_patches`) and split by source image (:func:`split_images`).

    >>> from keras_geo import datasets
    >>> from keras_geo.datasets import sem
    >>> clean = sem.render_sem(8, seed=0)
    >>> noisy = sem.degrade(clean.images, seed=0)
    >>> data = datasets.load("sem", n_train=200, n_val=50, n_test=50)

Conventions: images are float32 in ``[0, 1]``; pixel ``(i, j)`` is centred at
``(row, col) = (i, j)``; the pixel size is ``fov_nm / image_size`` (2.5 nm by default).

Modules (all private; import the names from this package):

* ``_render``: :class:`SemImages`, :func:`render_sem` (sections and SE contrast).
* ``_degrade``: :func:`degrade`.
* ``_pairs``: folders of images, patches and the split by source image.
* ``_dataset``: the registered loader :func:`sem`.
* ``_checks``: argument checks and seeded generators.
"""

from __future__ import annotations

from ._dataset import sem
from ._degrade import degrade
from ._pairs import cut_patches, patch_starts, read_folders, split_images
from ._render import SemImages, render_sem

__all__ = [
    "SemImages",
    "cut_patches",
    "degrade",
    "patch_starts",
    "read_folders",
    "render_sem",
    "sem",
    "split_images",
]
