"""SEM-like images, their low-cost-SEM degradation and the ``sem`` data set (generated and from folders)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from keras_geo import datasets
from keras_geo.datasets import filler, sem
from keras_geo.datasets.folders import ImageFolderError
from keras_geo.datasets.sem._render import _haar_rotations, _paint_discs, _sections

# Small, fast settings: 32 px images of 5 nm pixels, a few slices per structure.
FAST = dict(image_size=32, slices_per_structure=8)
# Every degradation step off.
OFF = dict(blur_sigma_px=0.0, downsample=0, jitter_px=0.0, drift=0.0, poisson_peak=None, gaussian_std=0.0)


@pytest.fixture(scope="module")
def rendered() -> sem.SemImages:
    return sem.render_sem(16, 64, seed=3, slices_per_structure=8)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=(-2, -1))
    return float(np.mean(10.0 * np.log10(1.0 / mse)))


# --- rendering -----------------------------------------------------------------------------------------------


def test_rendering_is_seeded_and_returns_images_with_their_sections(rendered):
    again = sem.render_sem(16, 64, seed=3, slices_per_structure=8)
    np.testing.assert_array_equal(rendered.images, again.images)
    assert all(np.array_equal(a, b) for a, b in zip(rendered.particles, again.particles))
    assert not np.array_equal(rendered.images, sem.render_sem(16, 64, seed=4, slices_per_structure=8).images)
    assert rendered.images.shape == (16, 64, 64) and rendered.images.dtype == np.float32
    assert 0.0 <= rendered.images.min() and rendered.images.max() <= 1.0
    assert len(rendered.particles) == 16 and set(rendered.kinds) == {"M-SBR", "n-SBR"}  # 2 structures, in turn
    for p in rendered.particles:
        assert p.dtype == np.float32 and p.ndim == 2 and p.shape[1] == 3
        assert np.all((p[:, :2] >= -0.5) & (p[:, :2] < 63.5)) and np.all(p[:, 2] > 0)
    # 10 nm particles at 2.5 nm pixels: sections up to ~4 px (a little more for the largest spheres).
    radii = np.concatenate(rendered.particles)[:, 2]
    assert len(radii) > 16 * 5 and 2.0 < np.median(radii) < 4.5 and radii.max() < 7.0


def test_the_particles_are_where_the_image_is_bright(rendered):
    matrix_level, checked = 0.25, 0
    for image, particles in zip(rendered.images, rendered.particles):
        far = np.ones(image.shape, bool)
        rows, cols = np.mgrid[: image.shape[0], : image.shape[1]]
        for row, col, radius in particles:
            far &= (rows - row) ** 2 + (cols - col) ** 2 > (radius + 2.0) ** 2
            if radius >= 2.0:
                assert image[int(round(row)), int(round(col))] > matrix_level + 0.25
                checked += 1
        # Sections centred outside the image are not listed, so look well inside only.
        inner = far[8:-8, 8:-8]
        assert np.abs(image[8:-8, 8:-8][inner] - matrix_level).max() < 0.2
    assert checked > 50


def test_the_edge_effect_brightens_a_disc_towards_its_rim():
    def rim_minus_centre(edge_gain: float) -> float:
        # 1 nm pixels: sections of up to ~10 px radius.
        out = sem.render_sem(6, 64, fov_nm=64.0, edge_gain=edge_gain, particle_spread=0.0, seed=0)
        differences = []
        for image, particles in zip(out.images, out.particles):
            rows, cols = np.mgrid[:64, :64]
            for row, col, radius in particles:
                if radius < 6.0 or min(row, col) < radius + 1 or max(row, col) > 62 - radius:
                    continue
                rho = np.hypot(rows - row, cols - col) / radius
                differences.append(image[(rho > 0.65) & (rho < 0.85)].mean() - image[rho < 0.3].mean())
        assert len(differences) >= 3
        return float(np.mean(differences))

    assert rim_minus_centre(0.3) > 0.05
    assert abs(rim_minus_centre(0.0)) < 0.02


def test_sections_match_the_filler_renderer_across_the_periodic_box():
    structure = filler.generate_structure("Rnd", box_nm=300.0, seed=1)
    rotations = _haar_rotations(np.random.default_rng(0), 3)
    # Plane centres near a face and a corner: particles across the face show through periodicity.
    centers = np.array([[2.0, 150.0, 150.0], [299.0, 1.0, 298.0], [150.0, 150.0, 150.0]])
    for center, rotation in zip(centers, rotations):
        expected = filler.render_plane(structure, center, rotation, fov_nm=100.0, image_size=32)
        discs = _sections(structure, center, rotation, 100.0, 32)
        coverage, _ = _paint_discs([discs], [np.ones(len(discs))], 32, 8, 0.0)
        assert expected.sum() > 20.0
        assert np.abs(coverage[0] - expected).mean() < 0.02


def test_a_particle_across_a_face_shows_on_the_other_side():
    structure = filler.Structure(np.array([[1.0, 50.0, 50.0]]), np.array([10.0]), 300.0, "Rnd")
    # A plane x = 295 (normal along x; u = y, v = z) centred on the particle's row and column.
    rotation = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    discs = _sections(structure, np.array([295.0, 50.0, 50.0]), rotation, 64.0, 64)
    np.testing.assert_allclose(discs, [[31.5, 31.5, 8.0]], atol=1e-9)  # d = 6 nm: radius sqrt(100 - 36)


def test_rendering_rejects_bad_arguments():
    with pytest.raises(ValueError, match="fov_nm=-1"):
        sem.render_sem(2, fov_nm=-1.0)
    with pytest.raises(ValueError, match="supersample=0"):
        sem.render_sem(2, supersample=0)
    with pytest.raises(ValueError, match="box_nm=200"):
        sem.render_sem(2, box_nm=200.0)  # smaller than twice the reach of a 160 nm field
    with pytest.raises(ValueError, match="classes="):
        sem.render_sem(2, classes=("rubber",))


# --- degradation ---------------------------------------------------------------------------------------------


def test_every_step_off_is_the_identity(rendered):
    np.testing.assert_array_equal(sem.degrade(rendered.images, **OFF), rendered.images)
    np.testing.assert_array_equal(sem.degrade(rendered.images, **{**OFF, "downsample": 1}), rendered.images)


def test_degradation_is_seeded_per_image_and_keeps_the_shape(rendered):
    x = rendered.images[:5]
    out = sem.degrade(x, seed=7)
    np.testing.assert_array_equal(out, sem.degrade(x, seed=7))
    assert not np.array_equal(out, sem.degrade(x, seed=8))
    for i in range(5):
        np.testing.assert_array_equal(sem.degrade(x[i], seed=7, first_index=i), out[i])
    np.testing.assert_array_equal(sem.degrade(x[2:], seed=7, first_index=2), out[2:])
    assert out.shape == x.shape and out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0
    assert sem.degrade(x[..., None]).shape == (5, 64, 64, 1)
    assert sem.degrade(x[0].astype(np.float64)).dtype == np.float32


def test_the_defaults_degrade_clearly_but_leave_the_image_informative(rendered):
    degraded = sem.degrade(rendered.images, seed=0)
    assert 17.0 < _psnr(degraded, rendered.images) < 24.0
    # Still informative: the degraded image correlates with the clean one.
    assert np.corrcoef(degraded.ravel(), rendered.images.ravel())[0, 1] > 0.7


def test_the_beam_spot_blur_lowers_gradient_energy(rendered):
    x = rendered.images

    def energy(images: np.ndarray) -> float:
        return float((np.diff(images, axis=-1) ** 2).sum() + (np.diff(images, axis=-2) ** 2).sum())

    blurred = sem.degrade(x, **{**OFF, "blur_sigma_px": 1.0})
    assert energy(blurred) < 0.5 * energy(x)
    np.testing.assert_allclose(blurred.mean(), x.mean(), atol=0.01)  # blur keeps the brightness


def test_lower_resolution_removes_the_highest_frequencies():
    checkerboard = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.float32)
    out = sem.degrade(checkerboard, **{**OFF, "downsample": 2})
    assert out.std() < 0.01 and abs(out.mean() - 0.5) < 0.01
    # Slow detail survives, on any image size (padded to a multiple of the factor, then cropped).
    slow = (0.5 + 0.3 * np.sin(2 * np.pi * np.arange(61) / 32.0))[None, :] * np.ones((45, 1), np.float32)
    out = sem.degrade(slow, **{**OFF, "downsample": 3})
    assert out.shape == (45, 61) and np.corrcoef(out.ravel(), slow.ravel())[0, 1] > 0.99


def test_scan_line_jitter_shifts_each_row_sideways():
    ramp = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (256, 1))
    out = sem.degrade(ramp, **{**OFF, "jitter_px": 1.0}, seed=2)
    # On a ramp of slope 1/63 per pixel, a row shifted right by s reads 1/63 * s lower inside.
    shifts = -(out[:, 8:-8] - ramp[:, 8:-8]).mean(axis=1) * 63.0
    inside = out[:, 8:-8] - ramp[:, 8:-8]
    np.testing.assert_allclose(inside, np.broadcast_to(-shifts[:, None] / 63.0, inside.shape), atol=1e-4)  # whole rows
    assert 0.8 < shifts.std() < 1.2 and abs(shifts.mean()) < 0.2
    np.testing.assert_allclose(sem.degrade(ramp.T, **{**OFF, "jitter_px": 1.0}, seed=2), ramp.T, atol=1e-6)


def test_charging_drift_is_a_slow_brightness_change():
    flat = np.full((64, 64), 0.5, np.float32)
    for seed in range(6):
        change = sem.degrade(flat, **{**OFF, "drift": 0.1}, seed=seed) - 0.5
        assert 0.025 < change.max() - change.min() <= 0.2 + 1e-6
        # At most 0.75 cycles across the image: neighbouring pixels differ by <= 0.1 * 2 pi * 0.75 / 63.
        steepest = max(np.abs(np.diff(change, axis=0)).max(), np.abs(np.diff(change, axis=1)).max())
        assert steepest < 0.1 * 2 * np.pi * 0.75 / 63 + 1e-5


def test_measured_noise_matches_its_setting():
    flat = np.full((4, 128, 128), 0.5, np.float32)
    read = sem.degrade(flat, **{**OFF, "gaussian_std": 0.05})
    np.testing.assert_allclose(read.std(), 0.05, rtol=0.05)
    np.testing.assert_allclose(read.mean(), 0.5, atol=0.005)
    shot = sem.degrade(flat, **{**OFF, "poisson_peak": 50.0})
    np.testing.assert_allclose(shot.std(), np.sqrt(0.5 / 50.0), rtol=0.05)  # Poisson: var = mean / peak
    np.testing.assert_allclose(shot.mean(), 0.5, atol=0.005)
    assert np.allclose(shot * 50.0, np.round(shot * 50.0), atol=1e-4)  # whole electrons


@pytest.mark.parametrize(
    "setting, value",
    [
        ("blur_sigma_px", -1.0),
        ("downsample", 1.5),
        ("downsample", -2),
        ("jitter_px", float("nan")),
        ("drift", float("inf")),
        ("poisson_peak", 0.0),
        ("gaussian_std", -0.1),
        ("seed", -1),
    ],
)
def test_degradation_names_a_bad_setting(setting, value):
    with pytest.raises(ValueError, match=f"`{setting}`.*Received: {setting}="):
        sem.degrade(np.zeros((8, 8), np.float32), **{setting: value})


def test_degradation_refuses_bad_images():
    with pytest.raises(ValueError, match="images.shape=\\(2, 8, 8, 3\\)"):
        sem.degrade(np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="finite"):
        sem.degrade(np.full((8, 8), np.nan))


# --- the registered data set ---------------------------------------------------------------------------------


def test_the_sem_data_set_gives_disjoint_image_to_image_splits():
    data = datasets.load("sem", n_train=8, n_val=4, n_test=4, seed=1, **FAST)
    assert data.task == "image_to_image" and datasets.task_of("sem") == "image_to_image"
    assert data.sizes() == {"train": 8, "val": 4, "test": 4}
    for x, y in data.values():
        assert x.shape == y.shape == (len(x), 32, 32, 1) and x.dtype == y.dtype == np.float32
        assert 0.0 <= x.min() and x.max() <= 1.0 and 0.0 <= y.min() and y.max() <= 1.0
        assert 14.0 < _psnr(x[..., 0], y[..., 0]) < 26.0
    # Each split slices its own structures: no clean image or particle list repeats across splits.
    clean = {name: {y[i].tobytes() for i in range(len(y))} for name, (_, y) in data.items()}
    assert not (clean["train"] & clean["val"]) and not (clean["train"] & clean["test"])
    assert not (clean["val"] & clean["test"])
    info = json.loads(json.dumps(data.info))  # plain JSON
    assert info["source"] == "generated" and info["degrade"]["downsample"] == 2
    assert info["render"]["pixel_nm"] == 5.0
    particles = info["particles"]
    assert {name: len(p) for name, p in particles.items()} == data.sizes()
    big = [
        (y[int(round(row)), int(round(col)), 0], radius)
        for y, image_particles in zip(data["train"][1], particles["train"])
        for row, col, radius in image_particles
        if radius >= 1.5
    ]
    assert len(big) > 8 and all(value > 0.4 for value, _ in big)
    again = datasets.load("sem", n_train=8, n_val=4, n_test=4, seed=1, **FAST)
    np.testing.assert_array_equal(again["test"][0], data["test"][0])


def test_the_sem_settings_are_checked():
    with pytest.raises(ValueError, match="dataset.downsample"):
        datasets.load("sem", downsample=-1)
    with pytest.raises(ValueError, match="dataset.poisson_peak"):
        datasets.load("sem", poisson_peak=0)
    assert datasets.validate_settings("sem", {"poisson_peak": None})["poisson_peak"] is None


# --- your own images ------------------------------------------------------------------------------------------


def _scene(seed: int, shape: tuple[int, int] = (40, 50)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), 2.0) * 0.8 + 0.1


def _write(path, image: np.ndarray, bits: int = 8) -> None:
    top = 255 if bits == 8 else 65535
    assert cv2.imwrite(str(path), np.rint(image * top).astype(np.uint8 if bits == 8 else np.uint16))


@pytest.fixture
def pairs(tmp_path):
    """Three scenes of 40x50 px: clean 8-bit PNG (one 16-bit), degraded = half as bright, as TIFF or PNG."""
    clean, degraded = tmp_path / "clean", tmp_path / "degraded"
    clean.mkdir()
    degraded.mkdir()
    for k, stem in enumerate(("a", "b", "c")):
        scene = _scene(k)
        _write(clean / f"{stem}.png", scene, bits=16 if stem == "b" else 8)
        _write(degraded / f"{stem}.{'tif' if stem == 'a' else 'png'}", scene / 2.0, bits=16)
    (clean / "a.txt").write_text("SEM metadata sidecar: ignored")
    return clean, degraded


def test_patches_cover_the_image_the_last_ones_flush_with_its_edges():
    assert sem.patch_starts(40, 16) == [0, 16, 24] and sem.patch_starts(32, 16) == [0, 16]
    image = np.arange(40 * 50, dtype=np.float32).reshape(40, 50)
    patches = sem.cut_patches(image, 16)
    assert patches.shape == (3 * 4, 16, 16)
    np.testing.assert_array_equal(patches[-1], image[-16:, -16:])
    assert set(np.unique(patches)) == set(image.ravel())  # no pixel lost


def test_pairs_are_matched_by_name_cut_alike_and_split_by_source_image(pairs):
    clean, degraded = pairs
    data = datasets.load("sem", clean_dir=str(clean), degraded_dir=str(degraded), image_size=16, seed=0)
    assert data.task == "image_to_image" and data.sizes() == {"train": 12, "val": 12, "test": 12}
    images = data.info["images"]
    assert sorted(sum(images.values(), [])) == ["a", "b", "c"] and data.info["degrade"] is None
    for name, (x, y) in data.items():
        assert x.shape == y.shape == (12, 16, 16, 1) and x.dtype == np.float32
        np.testing.assert_allclose(x, y / 2.0, atol=1.5 / 255)  # the same place in both
        (stem,) = images[name]
        scene = _scene("abc".index(stem))
        np.testing.assert_allclose(y[-1, ..., 0], scene[-16:, -16:], atol=0.5 / 255 + 1e-6)
    other = datasets.load("sem", clean_dir=str(clean), degraded_dir=str(degraded), image_size=16, seed=5)
    assert sorted(sum(other.info["images"].values(), [])) == ["a", "b", "c"]


def test_the_16_bit_image_keeps_its_depth(pairs):
    clean, _ = pairs
    image = sem.read_folders(clean, image_size=16)[1][1]
    np.testing.assert_allclose(image, np.rint(_scene(1) * 65535) / 65535, atol=1e-6)


def test_clean_images_alone_are_degraded_on_the_fly(pairs):
    clean, _ = pairs
    settings = dict(clean_dir=str(clean), image_size=16, seed=3, val_fraction=0.0, test_fraction=0.0)
    data = datasets.load("sem", **settings)
    assert list(data) == ["train"] and data.sizes() == {"train": 36}
    x, y = data["train"]
    assert not np.allclose(x, y) and 12.0 < _psnr(x[..., 0], y[..., 0]) < 30.0
    whole = sem.read_folders(clean, image_size=16)[2][1]  # "c", the third image: first_index 2
    expected = sem.cut_patches(sem.degrade(whole, seed=3, first_index=2), 16)
    np.testing.assert_array_equal(x[24:, ..., 0], expected)
    np.testing.assert_array_equal(datasets.load("sem", **settings)["train"][0], x)
    assert data.info["degrade"]["poisson_peak"] == 100.0


@pytest.mark.parametrize(
    "n, expected", [(1, {"train": 1}), (2, {"train": 1, "val": 1}), (3, {"train": 1, "val": 1, "test": 1})]
)
def test_fewer_than_three_images_drop_the_test_then_the_val_split(tmp_path, n, expected):
    for k in range(n):
        _write(tmp_path / f"{k}.png", _scene(k, (16, 16)))
    data = datasets.load("sem", clean_dir=str(tmp_path), image_size=16)
    assert data.sizes() == expected


def test_split_by_image_follows_the_fractions():
    parts = sem.split_images(20, 0.15, 0.25, seed=0)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [12, 3, 5]
    assert sorted(sum(parts.values(), [])) == list(range(20))
    assert parts != sem.split_images(20, 0.15, 0.25, seed=1)
    with pytest.raises(ValueError, match="val_fraction"):
        sem.split_images(5, 0.6, 0.4, seed=0)


def _bad_pairs(tmp_path, problem: str):
    clean, degraded = tmp_path / "clean", tmp_path / "degraded"
    clean.mkdir()
    degraded.mkdir()
    for stem in ("a", "b"):
        _write(clean / f"{stem}.png", _scene(0))
        _write(degraded / f"{stem}.png", _scene(0) / 2)
    if problem == "only_degraded":
        _write(degraded / "lonely.png", _scene(1))
        return clean, degraded, ["lonely.png", "clean_dir"]
    if problem == "only_clean":
        _write(clean / "lonely.png", _scene(1))
        return clean, degraded, ["lonely.png", "degraded_dir"]
    if problem == "sizes":
        _write(degraded / "b.png", _scene(0, (40, 48)))
        return clean, degraded, ["degraded/b.png (48x40)", "clean/b.png (50x40)"]
    if problem == "small":
        _write(clean / "b.png", _scene(0, (12, 50)))
        _write(degraded / "b.png", _scene(0, (12, 50)))
        return clean, degraded, ["clean/b.png", "50x12", "image_size=16"]
    if problem == "constant":
        _write(clean / "b.png", np.full((40, 50), 0.5, np.float32))
        return clean, degraded, ["clean/b.png", "constant"]
    if problem == "unreadable":
        (degraded / "b.png").write_bytes(b"\x89PNG not really")
        return clean, degraded, ["degraded/b.png"]
    if problem == "empty_file":
        (clean / "b.png").write_bytes(b"")
        return clean, degraded, ["clean/b.png", "empty"]
    if problem == "twice":
        _write(clean / "b.tif", _scene(0))
        return clean, degraded, ["clean/b.png", "clean/b.tif"]
    if problem == "empty_folder":
        for path in degraded.iterdir():
            path.unlink()
        (degraded / "notes.txt").write_text("no images here")
        return clean, degraded, ["degraded", "no image file"]
    raise AssertionError(problem)


@pytest.mark.parametrize(
    "problem",
    ["only_degraded", "only_clean", "sizes", "small", "constant", "unreadable", "empty_file", "twice", "empty_folder"],
)
def test_bad_folders_raise_one_line_naming_the_file(tmp_path, problem):
    clean, degraded, expected = _bad_pairs(tmp_path, problem)
    with pytest.raises(ImageFolderError) as caught:
        datasets.load("sem", clean_dir=str(clean), degraded_dir=str(degraded), image_size=16)
    message = str(caught.value)
    assert "\n" not in message
    for part in expected:
        assert part in message


def test_degraded_images_need_their_clean_folder(tmp_path):
    with pytest.raises(ValueError, match="degraded_dir needs clean_dir") as caught:
        datasets.load("sem", degraded_dir=str(tmp_path))
    assert str(tmp_path.resolve()) in str(caught.value)
