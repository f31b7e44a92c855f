"""Sample data shipped inside the package: a few small files to run the commands on right after ``pip install``.

Each sample is made by this project's own generators (:mod:`keras_geo.datasets`) and can be
remade, byte for byte the same arrays, with ``python -m keras_geo.samples._make`` (see that
module). They are small (about 100 KB together) and meant for trying the commands, not for
training:

=============  ==============================================================================
name           what
=============  ==============================================================================
``filler``     a folder of filler micrographs (500 nm field of view, 64 x 64, 8-bit PNG), two
               per class in class sub-folders ``M-SBR``, ``n-SBR``, ``Rnd``: ``explain``
               (true classes known), or a ``folder`` data set
``sem``        a low-cost-SEM-like image (160 x 160, 8-bit PNG: beam blur, half resolution,
               scan-line jitter, charging drift, shot and read noise): ``restore``
``sem_clean``  the clean image ``sem`` was degraded from, to compare a restoration with
``bathymetry`` a coarse seafloor grid (64 x 64 float32 ``.npy``, elevations in metres, 200 m
               cells: a seamount province block-averaged x4): ``super-resolve --scale 4``
=============  ==============================================================================

    >>> from keras_geo import samples
    >>> samples.available()
    ['bathymetry', 'filler', 'sem', 'sem_clean']
    >>> folder = samples.path("filler")      # a pathlib.Path inside the installed package

From the shell, ``keras-geo-hpo samples`` lists them and ``keras-geo-hpo samples NAME``
prints one's path::

    keras-geo-hpo explain best.keras "$(keras-geo-hpo samples filler)" --out cams
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["SAMPLES", "available", "describe", "path"]

# name -> (path relative to this package, what it is and which command takes it)
SAMPLES: dict[str, tuple[str, str]] = {
    "bathymetry": (
        "bathymetry/seamounts_200m.npy",
        "coarse seafloor grid, 64x64 float32 metres, 200 m cells (super-resolve --scale 4)",
    ),
    "filler": ("filler", "filler micrographs, 2 per class in sub-folders M-SBR, n-SBR, Rnd; 500 nm, 64x64 (explain)"),
    "sem": ("sem/low_cost.png", "low-cost-SEM-like image: blur, jitter, drift, noise; 160x160 (restore)"),
    "sem_clean": ("sem/clean.png", "the clean image that `sem` was degraded from"),
}


def available() -> list[str]:
    """The names of the shipped samples, sorted."""
    return sorted(SAMPLES)


def describe(name: str) -> str:
    """One line on the sample ``name``: what it is and which command takes it."""
    return SAMPLES[_check(name)][1]


def path(name: str) -> Path:
    """The path of the sample ``name`` inside the installed package (a file, or the ``filler`` folder).

    Raises:
        ValueError: for an unknown name; the message lists the shipped ones.
    """
    root = resources.files(__name__)
    if not isinstance(root, Path):  # a zipped install has no real files to hand to the readers
        raise FileNotFoundError(f"the samples are inside an archive ({root}); install keras-geo unzipped")
    return root / SAMPLES[_check(name)][0]


def _check(name: str) -> str:
    if name not in SAMPLES:
        raise ValueError(f"no sample {name!r}; shipped: {', '.join(available())}")
    return name
