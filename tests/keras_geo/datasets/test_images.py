"""Synthetic shapes and image folders: junk files skipped by name, every pixel format converted."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from keras_geo.datasets import folders, shapes


def test_shapes_are_seeded_and_carry_their_masks():
    first, again = shapes.make_shapes(6, 32, seed=3), shapes.make_shapes(6, 32, seed=3)
    np.testing.assert_array_equal(first.x, again.x)
    assert first.x.shape == (30, 32, 32, 3) and first.x.dtype == np.float32
    assert 0.0 <= first.x.min() and first.x.max() <= 1.0
    assert sorted(np.bincount(first.y).tolist()) == [6] * 5
    assert all(mask.sum() > 10 for mask in first.masks)
    # The object is painted where its mask is: pixels inside differ from the texture outside.
    inside = np.array([x[m].std(axis=0).mean() for x, m in zip(first.x, first.masks)])
    assert inside.mean() < 0.06  # one colour plus noise
    assert not np.array_equal(first.x, shapes.make_shapes(6, 32, seed=4).x)
    with pytest.raises(ValueError, match="unknown shape"):
        shapes.make_shapes(2, 32, classes=("disc", "tulip"))


@pytest.fixture
def junk_folder(tmp_path):
    """A class folder tree holding what real folders hold."""
    root = shapes.write_image_folder(tmp_path / "flowers", 2, 24, seed=0)
    daisy = root / "disc"
    cv2.imwrite(str(daisy / "grey.png"), np.full((30, 20), 200, np.uint8))
    cv2.imwrite(
        str(daisy / "alpha.png"), np.dstack([np.zeros((16, 16, 3), np.uint8), np.full((16, 16), 255, np.uint8)])
    )
    cv2.imwrite(str(daisy / "deep.png"), np.full((24, 24, 3), 65535, np.uint16))
    cv2.imwrite(str(daisy / "large.jpg"), np.full((200, 300, 3), 90, np.uint8))
    (daisy / "empty.jpg").write_bytes(b"")
    (daisy / "truncated.png").write_bytes((root / "ring" / "0000.png").read_bytes()[:40])
    (daisy / "notes.txt").write_text("not an image")
    (daisy / "fake.png").write_text("hello")
    (root / ".hidden").mkdir()
    return root


def test_image_folder_reads_every_format_and_names_what_it_skips(junk_folder):
    with pytest.warns(UserWarning) as caught:
        found = folders.load_image_folder(junk_folder, 24)
    message = str(caught[0].message)
    for name in ("empty.jpg", "truncated.png", "notes.txt", "fake.png"):
        assert name in message
    assert "skipped 4 file(s)" in message
    assert found.class_names == shapes.CLASSES  # sorted sub-folders; hidden ones ignored
    assert found.x.shape == (14, 24, 24, 3) and found.x.dtype == np.float32
    by_name = {path.rsplit("/", 1)[-1]: image for path, image in zip(found.paths, found.x)}
    np.testing.assert_allclose(by_name["grey.png"], 200 / 255, atol=1e-6)  # grey -> 3 equal channels
    np.testing.assert_allclose(by_name["deep.png"], 1.0)  # 16-bit scaled by 65535
    np.testing.assert_allclose(by_name["alpha.png"], 0.0)  # alpha dropped
    np.testing.assert_allclose(by_name["large.jpg"], 90 / 255, atol=2 / 255)  # resized from 200x300
    assert {path.rsplit("/", 1)[-1] for path, _ in found.skipped} == {
        "empty.jpg",
        "truncated.png",
        "notes.txt",
        "fake.png",
    }


def test_strict_mode_fails_at_the_first_bad_file(junk_folder):
    with pytest.raises(folders.ImageFolderError, match="empty.jpg: empty file"):
        folders.load_image_folder(junk_folder, 24, strict=True)


def test_grayscale_mode_and_chosen_classes(junk_folder):
    with pytest.warns(UserWarning):
        found = folders.load_image_folder(junk_folder, (20, 28), color_mode="grayscale", class_names=["ring", "disc"])
    assert found.x.shape[1:] == (20, 28, 1) and found.class_names == ("ring", "disc")
    assert (found.y == 0).sum() == 2  # ring first
    with pytest.raises(folders.ImageFolderError, match="tulip"):
        folders.load_image_folder(junk_folder, 24, class_names=["tulip"])


def test_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(folders.ImageFolderError, match="no such folder"):
        folders.load_image_folder(tmp_path / "missing")
    with pytest.raises(folders.ImageFolderError, match="no class sub-folders"):
        folders.load_image_folder(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    with pytest.warns(UserWarning), pytest.raises(folders.ImageFolderError, match="no readable image"):
        folders.load_image_folder(tmp_path)


def test_split_is_stratified_and_datasets_batch_with_augmentation():
    data = shapes.make_shapes(10, 32, seed=1)
    parts = folders.split(data.x, data.y, 0.2, seed=0)
    assert len(parts["val"][0]) == 10 and sorted(np.bincount(parts["val"][1]).tolist()) == [2] * 5
    batches = list(folders.to_dataset(*parts["train"], batch_size=16, augment=True, n_classes=5))
    images, labels = batches[0]
    assert images.shape == (16, 32, 32, 3) and labels.shape == (16, 5)
    assert sum(int(b[0].shape[0]) for b in batches) == 40
