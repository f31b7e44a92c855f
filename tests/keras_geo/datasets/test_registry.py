"""The data set registry: loaders by name, settings checked from their signatures, every split finite."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pytest

from keras_geo import datasets
from keras_geo._settings import Range, SettingError


def test_every_shipped_data_set_is_registered_with_its_task():
    assert datasets.available() == [
        "bathymetry",
        "echo",
        "filler",
        "filler_fibsem",
        "filler_fraction",
        "folder",
        "npz",
        "scenes",
        "sem",
        "shapes",
        "textures",
    ]
    assert {name: datasets.task_of(name) for name in datasets.available()} == {
        "bathymetry": "image_to_image",
        "echo": "regression",
        "filler": "classification",
        "filler_fibsem": "classification",
        "filler_fraction": "regression",
        "folder": "classification",
        "npz": "classification",
        "scenes": "detection",
        "sem": "image_to_image",
        "shapes": "classification",
        "textures": "classification",
    }
    assert all(datasets.describe(name) for name in datasets.available())


def test_a_loaded_data_set_is_a_mapping_of_its_splits_with_names_and_task():
    data = datasets.load("shapes", n_train=2, n_val=1, n_test=1, image_size=16)
    assert list(data) == ["train", "val", "test"] and data.sizes() == {"train": 10, "val": 5, "test": 5}
    assert data.name == "shapes" and data.task == "classification" and data.class_names[0] == "cross"
    x, y = data["train"]
    assert x.shape == (10, 16, 16, 3) and y.shape == (10,)


def test_adding_a_data_set_is_one_decorated_function(tmp_path):
    @datasets.register("tiny_test_set", task="regression")
    def tiny(n: Annotated[int, Range(2)] = 4, offset: float = 0.0) -> datasets.Dataset:
        """Tiny regression data for this test."""
        x = np.zeros((n, 4, 4, 1), "float32")
        return datasets.Dataset({"train": (x, np.arange(n) + offset)}, target_names=("index",))

    assert datasets.validate_settings("tiny_test_set", {"offset": 2}) == {"n": 4, "offset": 2.0}
    with pytest.raises(SettingError, match="dataset.n: must be >= 2; received 1"):
        datasets.load("tiny_test_set", n=1)
    loaded = datasets.load("tiny_test_set", n=3)
    assert loaded.task == "regression" and loaded.sizes() == {"train": 3}
    with pytest.raises(ValueError, match="already registered as 'tiny_test_set'"):
        datasets.register("tiny_test_set", task="regression")(lambda: None)


def test_load_refuses_a_data_set_with_nan_naming_the_split(tmp_path):
    x = np.random.default_rng(0).random((6, 8, 8, 1)).astype("float32")
    bad = x.copy()
    bad[1, 2, 3, 0] = np.inf
    np.savez(tmp_path / "d.npz", x_train=x, y_train=[0, 1] * 3, x_val=bad, y_val=[0, 1] * 3)
    with pytest.raises(datasets.NonFiniteData, match="the 'val' split has 1 non-finite values"):
        datasets.load("npz", path=str(tmp_path / "d.npz"))


@pytest.mark.parametrize(
    "y, kind",
    [
        ([0, 1, 2, 1], "classification"),
        ([0.0, 1.0, 2.0, 1.0], "classification"),
        ([0.5, 1.2, 0.1, 3.3], "regression"),
        ([[0.0, 1.0]] * 4, "regression"),
        (np.zeros((4, 8, 8, 1)), "image_to_image"),
    ],
)
def test_npz_arrays_say_what_task_they_are_for(tmp_path, y, kind):
    x = np.zeros((4, 8, 8, 1), "float32")
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.asarray(y), x_val=x, y_val=np.asarray(y))
    assert datasets.load("npz", path=str(tmp_path / "d.npz")).task == kind


def test_the_filler_data_set_equals_make_splits_and_shares_its_defaults():
    """One place for the filler defaults: make_dataset's signature (config.py and filler.py used to disagree)."""
    from keras_geo.datasets import filler

    settings = {"n_train": 2, "n_val": 2, "n_test": 2, "fov_nm": 250.0, "box_nm": 300.0, "image_size": 16}
    loaded = datasets.load("filler", **settings)
    direct = filler.make_splits(2, 2, 2, fov_nm=250.0, box_nm=300.0, image_size=16)
    for split in direct:
        np.testing.assert_array_equal(loaded[split][0], direct[split][0])
        np.testing.assert_array_equal(loaded[split][1], direct[split][1])
    defaults = datasets.validate_settings("filler", {})
    assert defaults["fov_nm"] == 500.0 and defaults["image_size"] == 64
