"""Data sets: a registry of loaders (generated filler slices, SEM pairs, shapes and textures, your image folders and arrays).

    >>> from keras_geo import datasets
    >>> datasets.available()
    ['bathymetry', 'echo', 'filler', 'filler_fibsem', 'filler_fraction', 'folder', 'npz', 'scenes', 'sem', 'shapes', 'textures']
    >>> data = datasets.load("filler", n_train=150, n_val=50, n_test=200, fov_nm=500, image_size=32)
    >>> data["train"][0].shape, data.class_names, data.task

Every loaded data set is a :class:`Dataset`: a mapping of its splits plus the class or
target names and its default task. Adding a data set is one module with a function
decorated by :func:`register` (imported below so that it registers).
"""

from keras_geo.datasets import arrays, bathymetry, echo, filler, folders, scenes, sem, shapes, textures
from keras_geo.datasets._registry import (
    Dataset,
    available,
    describe,
    get,
    load,
    register,
    task_of,
    task_settings_of,
    validate_settings,
)
from keras_geo.datasets.checks import NonFiniteData, require_finite

__all__ = [
    "Dataset",
    "NonFiniteData",
    "arrays",
    "available",
    "bathymetry",
    "describe",
    "echo",
    "filler",
    "folders",
    "get",
    "load",
    "register",
    "require_finite",
    "scenes",
    "sem",
    "shapes",
    "task_of",
    "task_settings_of",
    "textures",
    "validate_settings",
]
