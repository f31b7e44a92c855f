"""Settings checked from a signature: types, ranges, choices, paths, required and unknown keys."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest

from keras_geo._settings import Exists, Range, SettingError, defaults, validate


def loader(
    path: Annotated[str, Exists("file")],
    size: Annotated[int, Range(8, 512)] = 64,
    rate: Annotated[float, Range(0.0, 1.0, open_low=True, open_high=True)] = 0.5,
    mode: Literal["rgb", "grayscale"] = "rgb",
    box: Annotated[float, Range(0.0, open_low=True)] | None = None,
    span: Annotated[tuple[float, float], Range(0.0)] = (1.0, 2.0),
    flag: bool = False,
    name: str = "x",
):
    """A loader with one setting of every kind."""


@pytest.fixture
def here(tmp_path):
    (tmp_path / "data.npz").write_bytes(b"")
    return tmp_path


def test_defaults_are_filled_paths_resolved_and_pairs_become_lists(here):
    out = validate(loader, {"path": "data.npz", "rate": 1 / 3}, key="dataset", base_dir=here)
    assert out == {
        "path": str((here / "data.npz").resolve()),
        "size": 64,
        "rate": 1 / 3,
        "mode": "rgb",
        "box": None,
        "span": [1.0, 2.0],
        "flag": False,
        "name": "x",
    }
    assert defaults(loader)["size"] == 64
    assert validate(loader, {"path": "data.npz"}, key="d", base_dir=here, fill=False) == {
        "path": str((here / "data.npz").resolve())
    }


@pytest.mark.parametrize(
    "settings, message",
    [
        ({}, "dataset.path: required; received nothing"),
        ({"path": "nope.npz"}, "dataset.path: no such file: .*nope.npz"),
        ({"path": "data.npz", "colour": 1}, "dataset.colour: unknown setting; allowed: path, size, rate"),
        ({"path": "data.npz", "size": 4}, "dataset.size: must be >= 8; received 4"),
        ({"path": "data.npz", "size": 1024}, "dataset.size: must be <= 512; received 1024"),
        ({"path": "data.npz", "size": 8.5}, "dataset.size: must be an integer; received 8.5"),
        ({"path": "data.npz", "size": True}, "dataset.size: must be an integer; received True"),
        ({"path": "data.npz", "rate": 1.0}, "dataset.rate: must be < 1; received 1.0"),
        ({"path": "data.npz", "rate": 0}, "dataset.rate: must be > 0"),
        ({"path": "data.npz", "rate": float("nan")}, "dataset.rate: must be finite"),
        ({"path": "data.npz", "mode": "cmyk"}, "dataset.mode: must be one of rgb, grayscale; received 'cmyk'"),
        ({"path": "data.npz", "box": -1}, "dataset.box: must be > 0"),
        ({"path": "data.npz", "box": "big"}, "dataset.box: must be a number; received 'big'"),
        ({"path": "data.npz", "span": [1.0]}, r"dataset.span: must be a list of 2 values; received \[1.0\]"),
        ({"path": "data.npz", "span": [1.0, -2]}, r"dataset.span\[1\]: must be >= 0"),
        ({"path": "data.npz", "flag": "yes"}, "dataset.flag: must be true or false; received 'yes'"),
        ({"path": "data.npz", "name": ""}, "dataset.name: must be a non-empty string"),
        ({"path": "data.npz", 3: 1}, "dataset.3: unknown setting"),
        ([1, 2], "dataset: must be a mapping"),
    ],
)
def test_each_bad_setting_is_named_with_what_is_allowed(here, settings, message):
    with pytest.raises(SettingError, match=message):
        validate(loader, settings, key="dataset", base_dir=here)
