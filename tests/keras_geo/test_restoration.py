"""Restoring image files: any size through a patch-sized model, bit depth and range kept, bad input named."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest

from keras_geo import restoration
from keras_geo.cli import main
from keras_geo.datasets.folders import ImageFolderError
from tests.keras_geo.test_cli import one_line


def _identity(size: int = 32, channels: int = 1) -> keras.Model:
    inputs = keras.Input((size, size, channels))
    return keras.Model(inputs, keras.layers.Activation("linear")(inputs), name="identity")


def _inverter(size: int = 32) -> keras.Model:
    """A model that is easy to check: 1 - x."""
    inputs = keras.Input((size, size, 1))
    return keras.Model(inputs, keras.layers.Rescaling(-1.0, offset=1.0)(inputs), name="inverter")


@pytest.fixture()
def micrographs(tmp_path):
    """A 16-bit grey, an 8-bit BGR, a float TIFF and a JPEG, of sizes no model was built for."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "deep.png"), rng.integers(0, 65536, (100, 77), dtype=np.uint16))
    cv2.imwrite(str(folder / "colour.png"), rng.integers(0, 256, (45, 50, 3), dtype=np.uint8))
    cv2.imwrite(str(folder / "float.tif"), rng.uniform(-3.0, 5.0, (40, 41)).astype(np.float32))
    cv2.imwrite(str(folder / "photo.jpg"), rng.integers(0, 256, (33, 35), dtype=np.uint8))
    return folder


def test_a_16_bit_image_of_any_size_comes_back_16_bit_and_unchanged_through_an_identity(micrographs, tmp_path):
    written = restoration.restore_files(_identity(), [micrographs / "deep.png"], tmp_path / "out", progress=False)
    original = cv2.imread(str(micrographs / "deep.png"), cv2.IMREAD_UNCHANGED)
    restored = cv2.imread(str(written[0].out), cv2.IMREAD_UNCHANGED)
    assert restored.dtype == np.uint16 and restored.shape == (100, 77)
    np.testing.assert_array_equal(restored, original)
    assert written[0].dtype == "uint16" and written[0].shape == (100, 77, 1)


def test_every_file_of_a_folder_is_restored_in_its_own_type_and_range(micrographs, tmp_path):
    written = restoration.restore_files(_inverter(), [micrographs], tmp_path / "out", progress=False)
    names = sorted(item.out.name for item in written)
    assert names == ["colour.png", "deep.png", "float.tif", "photo.png"]  # JPEG is written losslessly as PNG
    float_in = cv2.imread(str(micrographs / "float.tif"), cv2.IMREAD_UNCHANGED)
    float_out = cv2.imread(str(tmp_path / "out" / "float.tif"), cv2.IMREAD_UNCHANGED)
    assert float_out.dtype == np.float32
    low, high = float_in.min(), float_in.max()  # 1 - x in the file's own range
    np.testing.assert_allclose(float_out, low + high - float_in, atol=1e-4 * (high - low))
    colour = cv2.imread(str(tmp_path / "out" / "colour.png"), cv2.IMREAD_UNCHANGED)
    grey = cv2.cvtColor(cv2.imread(str(micrographs / "colour.png")), cv2.COLOR_BGR2GRAY)
    assert colour.shape == (45, 50) and colour.dtype == np.uint8  # a grey model gives grey images
    assert np.abs(colour.astype(int) - (255 - grey.astype(int))).max() <= 1


def test_an_rgb_model_reads_grey_files_as_rgb():
    model = _identity(channels=3)
    assert restoration._model_channels(model) == (3, 3)


def test_models_and_files_that_cannot_be_restored_are_named(micrographs, tmp_path):
    inputs = keras.Input((8, 8, 1))
    classifier = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)), name="classifier")
    with pytest.raises(ValueError, match=r"classifier maps \(8, 8, 1\) to \(3,\): restoring needs a model from images"):
        restoration.restore_files(classifier, [micrographs], tmp_path / "out", progress=False)
    broken = micrographs / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageFolderError, match="broken.png: not an image OpenCV can read"):
        restoration.restore_files(_identity(), [broken], tmp_path / "out", progress=False)
    with pytest.raises(FileNotFoundError, match="no such image or folder: .*nothere.png"):
        restoration.image_files([tmp_path / "nothere.png"])
    with pytest.raises(ValueError, match="would overwrite its input"):
        restoration.restore_files(_identity(), [micrographs / "deep.png"], micrographs, progress=False)


def test_the_restore_command_restores_a_folder_and_names_bad_input_in_one_line(micrographs, tmp_path, capsys):
    model_path = tmp_path / "inverter.keras"
    _inverter().save(model_path)
    out = tmp_path / "restored"
    assert main(["restore", str(model_path), str(micrographs), "--out", str(out), "--quiet"]) == 0
    assert "4 images restored into" in capsys.readouterr().out
    deep = cv2.imread(str(out / "deep.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(deep, 65535 - cv2.imread(str(micrographs / "deep.png"), cv2.IMREAD_UNCHANGED))

    assert main(["restore", str(tmp_path / "none.keras"), str(micrographs), "--out", str(out)]) == 2
    assert "no such model file" in one_line(capsys.readouterr().err)
    assert main(["restore", str(model_path), str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "no such image or folder" in one_line(capsys.readouterr().err)
    (micrographs / "empty.png").write_bytes(b"")
    assert main(["restore", str(model_path), str(micrographs), "--out", str(out), "--quiet"]) == 2
    assert "empty.png: empty file" in one_line(capsys.readouterr().err)
