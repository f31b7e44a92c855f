"""The task layer: classification, regression and image-to-image through one train(), and their reports."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_geo import datasets, tasks, training
from keras_geo.tasks.regression import regression_metrics
from tests import ROOT


def test_the_registry_lists_every_task_with_its_objective_and_head():
    assert tasks.available() == ["classification", "detection", "image_to_image", "regression"]
    assert tasks.TASKS["classification"].objective == ("val_accuracy", "maximize")
    assert tasks.TASKS["regression"].objective == ("val_r2", "maximize")
    assert tasks.TASKS["image_to_image"].objective == ("val_ssim", "maximize")
    assert tasks.settings_of("regression") == {"loss": "mse", "standardize": True, "bins": None}
    assert tasks.TASKS["detection"].objective == ("val_AP", "maximize")
    with pytest.raises(KeyError, match="Unknown task 'segmentation'. Available: classification, detection"):
        tasks.get("segmentation")
    with pytest.raises(ValueError, match="task.loss: must be one of mse, mae, huber, log_cosh; received 'l1'"):
        tasks.validate_settings("regression", {"loss": "l1"})


def test_fresh_copies_settings_and_forgets_what_a_training_learned():
    task = tasks.get("regression", loss="huber")
    task.start(np.zeros((4, 8, 8, 1)), np.arange(8.0).reshape(4, 2))
    fresh = task.fresh(standardize=False)
    assert fresh.settings == {"loss": "huber", "standardize": False, "bins": None} and fresh.target_names == ()


# --------------------------------------------------------------------------- #
# regression
# --------------------------------------------------------------------------- #
def test_regression_metrics_against_hand_computed_values():
    truth = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 0.0]])
    guess = truth + np.array([[0.5, -1.0], [-0.5, 1.0], [0.5, -1.0], [-0.5, 1.0]])
    m = regression_metrics(truth, guess)
    np.testing.assert_allclose(m["mae"], [0.5, 1.0])
    np.testing.assert_allclose(m["rmse"], [0.5, 1.0])
    np.testing.assert_allclose(m["bias"], [0.0, 0.0])
    np.testing.assert_allclose(m["r2"], [1 - 1.0 / 5.0, 1 - 4.0 / 500.0])
    np.testing.assert_allclose(m["rel_error"], [np.mean([0.5, 0.25, 0.5 / 3, 0.125]), np.mean([0.1, 0.05, 1 / 30])])
    flat = regression_metrics(np.ones((3, 1)), np.ones((3, 1)))
    assert np.isnan(flat["r2"][0]) and flat["mae"][0] == 0.0  # no variance: R^2 undefined, not a crash


def _linear_images(n: int, seed: int):
    """Images whose mean brightness and the brightness of their left half carry two targets (units 10 and 0.01)."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.2, 0.8, n), rng.uniform(0.2, 0.8, n)
    x = np.empty((n, 8, 8, 1), "float32")
    x[:, :, :4, 0] = a[:, None, None]
    x[:, :, 4:, 0] = b[:, None, None]
    x += rng.normal(0, 0.01, x.shape).astype("float32")
    return x, np.stack([10.0 * (a + b), 0.01 * a], axis=1).astype("float32")


@pytest.fixture(scope="module")
def linear():
    return datasets.Dataset(
        {"train": _linear_images(256, 0), "val": _linear_images(64, 1), "test": _linear_images(64, 2)},
        task="regression",
        target_names=("sum", "left"),
    )


def test_regression_learns_two_targets_of_different_units_and_predicts_in_their_units(linear, tmp_path):
    result = training.train(
        "filler_cnn",
        linear,
        {
            "conv_layers": 1,
            "filters": 4,
            "dense_layers": 0,
            "batch_norm": False,
            "epochs": 30,
            "batch_size": 32,
            "learning_rate": 1e-2,
            "head": "flatten",
        },
        seed=0,
    )
    assert result.task.name == "regression" and result.task.target_names == ("sum", "left")
    for target in ("sum", "left"):  # both learned, although their scales differ by 1,000x
        assert result.metrics[f"test_r2_{target}"] > 0.9, result.reports["test"].table()
    assert result.metrics["test_mae_sum"] < 0.5 and result.metrics["test_mae_left"] < 5e-4
    assert "val_r2" in result.metrics and "val_mae" not in result.metrics  # no average of errors in two units
    prediction = result.model.predict(linear["test"][0][:8], verbose=0)
    np.testing.assert_allclose(prediction, linear["test"][1][:8], rtol=0.1, atol=0.01)  # the targets' own units
    path = tmp_path / "regression.keras"
    result.model.save(path)
    again = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(again.predict(linear["test"][0][:8], verbose=0), prediction, rtol=1e-5, atol=1e-6)


def test_regression_refuses_targets_that_do_not_fit():
    x = np.zeros((4, 8, 8, 1), "float32")
    task = tasks.get("regression")
    with pytest.raises(ValueError, match=r"data\['train'\] needs one target row per image. Received: 4 images, 3"):
        task.check_split("train", (x, np.zeros(3)))
    with pytest.raises(ValueError, match="regression targets must be numbers"):
        task.check_split("train", (x, np.array(["a"] * 4)))
    with pytest.raises(ValueError, match="names 3 targets but its targets have 2 columns"):
        task.start(
            x,
            np.zeros((4, 2), "float32"),
            datasets.Dataset({"train": (x, np.zeros((4, 2)))}, target_names=("a", "b", "c")),
        )


@pytest.mark.slow
def test_filler_fraction_beats_predicting_the_mean_on_held_out_structures():
    """The task layer's first user: volume fraction and mean radius from one slice, scored on other structures."""
    data = datasets.load("filler_fraction", n_train=600, n_val=200, n_test=200, fov_nm=500, image_size=32)
    result = training.train(
        "filler_cnn",
        data,
        {
            "conv_layers": 3,
            "filters": 16,
            "dense_layers": 1,
            "units": 32,
            "dropout": 0.0,
            "epochs": 20,
            "patience": 4,
            "batch_size": 32,
            "learning_rate": 3e-3,
        },
        seed=0,
    )
    truth = data["test"][1]
    mean_model = np.abs(truth - data["train"][1].mean(axis=0)).mean(axis=0)  # the training mean as prediction
    report = result.reports["test"].table()
    for j, name in enumerate(("volume_fraction", "mean_radius_nm")):
        assert result.metrics[f"test_mae_{name}"] < 0.6 * mean_model[j], report
        assert result.metrics[f"test_r2_{name}"] > 0.3, report
    assert result.metrics["test_r2"] > 0.5, report


# --------------------------------------------------------------------------- #
# image-to-image
# --------------------------------------------------------------------------- #
def _noisy_blobs(n: int, seed: int, size: int = 32):
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    clean = np.zeros((n, size, size, 1), "float32")
    for image in clean:
        for _ in range(4):
            cy, cx, r = *rng.uniform(4, size - 4, 2), rng.uniform(2, 5)
            image[..., 0] += np.exp(-((rows - cy) ** 2 + (cols - cx) ** 2) / (2 * r * r))
    clean = np.clip(clean, 0, 1)
    return np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype("float32"), clean


@pytest.fixture(scope="module")
def denoising():
    return {"train": _noisy_blobs(64, 0), "val": _noisy_blobs(16, 1), "test": _noisy_blobs(16, 2)}


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["mse", "ssim", "ms_ssim", "mixed"])
def test_image_to_image_denoises_with_every_loss_and_logs_psnr_and_ssim(denoising, loss):
    """MS-SSIM needs 161 pixels for its five scales: on 32-pixel images the task keeps the scales that fit."""
    result = training.train(
        "unet",
        denoising,
        {"depth": 2, "filters": 8, "epochs": 20, "batch_size": 16, "learning_rate": 3e-3, "loss": loss},
        task="image_to_image",
        seed=0,
    )
    noisy, clean = denoising["test"]
    from keras_geo.tasks.image_to_image import image_metrics

    before = image_metrics(clean, noisy, filter_size=11)
    assert result.params["loss"] == loss and result.task.loss == loss
    assert {"val_psnr", "val_ssim", "test_psnr", "test_ssim", "test_mae", "test_mse"} <= set(result.metrics)
    assert result.metrics["test_ssim"] > before["ssim"] + 0.05, (result.metrics, before)
    assert len(result.history["val_ssim"]) == result.metrics["epochs"]


def test_image_to_image_refuses_targets_outside_the_range_and_pairs_that_do_not_match():
    task = tasks.get("image_to_image")
    x = np.zeros((2, 16, 16, 1), "float32")
    with pytest.raises(ValueError, match=r"targets must lie in \[0, max_val=1\].*Received values in \[255, 255\]"):
        task.check_split("train", (x, np.full((2, 16, 16, 1), 255.0)))
    with pytest.raises(ValueError, match="one target image of the input's height and width"):
        task.check_split("train", (x, np.zeros((2, 8, 8, 1))))
    assert tasks.get("image_to_image", max_val=255.0).check_split("train", (x, np.full((2, 16, 16), 255.0)))[
        1
    ].shape == (2, 16, 16, 1)


def test_every_task_draws_its_sample_section(tmp_path, linear, denoising):
    """Grad-CAM for classifiers, residuals for regression, input/output/target strips for image-to-image."""
    from keras_geo.datasets import shapes

    cases = [
        (
            "filler_cnn",
            datasets.load("shapes", n_train=8, n_val=4, n_test=2, image_size=32),
            {"conv_layers": 2, "filters": 4},
            "gradcam_best.png",
        ),
        ("filler_cnn", linear, {"conv_layers": 1, "filters": 4}, "residuals_best.png"),
        ("unet", datasets.Dataset(denoising, task="image_to_image"), {"depth": 1, "filters": 4}, "samples_best.png"),
    ]
    for builder, data, params, picture in cases:
        result = training.train(builder, data, {**params, "epochs": 1, "batch_size": 16}, seed=0)
        title, text = result.task.fresh().sample_section(result.model, data, tmp_path, trial="trial 7")
        assert (tmp_path / picture).stat().st_size > 1000, picture
        assert f"]({picture})" in text and "trial 7" in text
    assert shapes.CLASSES


def test_a_builder_without_the_task_head_is_refused_by_the_configuration():
    from keras_geo import models

    assert "unet" in models.serving("image_to_image") and "unet" not in models.serving("classification")
    assert set(models.serving("regression")) >= {"filler_cnn", "mobilenet_v2"}


def test_saved_models_with_keras_geo_losses_load_in_a_process_that_imported_keras_geo_first(tmp_path, denoising):
    """`import keras_geo` imports no framework, yet its losses register when Keras loads, whichever comes first."""
    result = training.train(
        "unet", denoising, {"depth": 1, "filters": 4, "epochs": 1, "loss": "mixed"}, task="image_to_image", seed=0
    )
    path = tmp_path / "restorer.keras"
    result.model.save(path)
    script = (
        f"import sys\nimport keras_geo\nassert 'keras' not in sys.modules and 'tensorflow' not in sys.modules\n"
        f"import keras\nm = keras.models.load_model({str(path)!r}, safe_mode=True)\n"
        f"print(type(m.loss).__name__)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-1] == "MixedLoss"


# --------------------------------------------------------------------------- #
# image-to-image on SEM particles: sharpness, MS-SSIM and the particles a model invents
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def sem_pairs():
    return datasets.load("sem", n_train=24, n_val=8, n_test=8, seed=0)


def test_the_score_of_the_clean_images_is_perfect_and_of_the_degraded_ones_counts_what_they_lose(sem_pairs):
    degraded, clean = sem_pairs["val"]
    task = tasks.get("image_to_image", particles=True)
    task.start(degraded, clean)
    perfect = task.score(clean, clean)
    assert perfect["ssim"] == pytest.approx(1.0, abs=1e-5) and perfect["ms_ssim"] == pytest.approx(1.0, abs=1e-5)
    assert perfect["sharpness"] == pytest.approx(1.0) and perfect["psnr"] == 100.0
    assert perfect["fabricated_per_100"] == 0.0 and perfect["missed_per_100"] == 0.0
    before = task.score(clean, degraded)
    assert before["ssim"] < 0.7 and before["missed_per_100"] > 5.0, before
    invented = clean.copy()  # one bright disc painted on the matrix of every image: one fabrication each
    rows, cols = np.mgrid[:64, :64]
    for image, particles in zip(invented, sem_pairs.info["particles"]["val"]):
        free = min(
            ((r, c) for r in range(6, 58, 4) for c in range(6, 58, 4)),
            key=lambda rc: -min([np.hypot(rc[0] - p[0], rc[1] - p[1]) - p[2] for p in particles] or [99.0]),
        )
        image[(rows - free[0]) ** 2 + (cols - free[1]) ** 2 <= 9, 0] = 0.75
    n_reference = sum(len(task_particles) for task_particles in _detected(clean))
    fabricated = task.score(clean, invented)["fabricated_per_100"]
    assert fabricated == pytest.approx(100.0 * len(invented) / n_reference, rel=0.3), fabricated


def _detected(images):
    from keras_geo.particles import detect_particles

    return [detect_particles(image) for image in images]


def test_the_ssim_mae_mix_is_weighed_by_the_task_alpha_and_the_sample_section_circles_particles(sem_pairs, tmp_path):
    result = training.train(
        "unet",
        sem_pairs,
        {"depth": 2, "filters": 4, "epochs": 1, "batch_size": 8, "loss": "ssim_mae", "alpha": 0.3, "particles": True},
        seed=0,
    )
    loss = result.model.loss
    assert type(loss).__name__ == "MixedLoss" and (loss.alpha, loss.ms) == (0.3, False)
    assert {"test_ms_ssim", "test_sharpness", "test_fabricated_per_100", "test_missed_per_100"} <= set(result.metrics)
    assert all(np.isfinite(v) for v in result.metrics.values())
    title, text = result.task.fresh().sample_section(result.model, sem_pairs, tmp_path, trial="trial 3")
    assert "fabricated" in text and "missed per 100" in text and (tmp_path / "samples_best.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="task.alpha: must be <= 1; received 1.5"):
        tasks.validate_settings("image_to_image", {"alpha": 1.5})


# ------------------------------------------------------------------ count bins --
def _brightness_counts(n: int, seed: int):
    """Images whose mean brightness is a count in 0..40 (plus noise)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 41, n)
    x = (counts[:, None, None, None] / 40.0 + rng.normal(0, 0.02, (n, 8, 8, 1))).astype("float32")
    return x, counts.astype("float32")


def test_a_bins_head_learns_counts_as_classes_and_predicts_the_expected_count(tmp_path):
    data = datasets.Dataset(
        {"train": _brightness_counts(512, 0), "val": _brightness_counts(64, 1), "test": _brightness_counts(128, 2)},
        task="regression",
        target_names=("count",),
    )
    params = {"filters": 4, "conv_layers": 2, "epochs": 30, "learning_rate": 3e-3, "bins": 9}
    result = training.train("filler_cnn", data, params, seed=0)
    task = result.task
    assert task.bins == 9
    np.testing.assert_allclose(task.centres, np.linspace(0, 40, 9), atol=1e-5)  # centres span the range
    np.testing.assert_array_equal(task.bin_of(np.array([[0.0], [2.4], [2.6], [40.0], [99.0]])), [0, 0, 1, 8, 8])
    # The exported model ends in the expectation over the bin centres: counts, scored as a regression.
    assert result.model.layers[-1].name.endswith("_expectation")
    predicted = result.model(data["test"][0], training=False).numpy()[:, 0]
    assert predicted.min() >= -1e-3 and predicted.max() <= 40 + 1e-3
    assert result.metrics["test_r2"] > 0.8
    assert result.metrics["test_mae"] < 5.0
    path = tmp_path / "bins.keras"
    result.model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(data["test"][0][:8], training=False).numpy()[:, 0], predicted[:8], rtol=1e-5)


def test_a_bins_head_refuses_what_it_cannot_bin():
    with pytest.raises(ValueError, match="`bins` must be None or an integer >= 2. Received: bins=1"):
        tasks.get("regression", bins=1)
    with pytest.raises(ValueError, match="`bins` must be None"):
        tasks.get("regression", bins=True)
    task = tasks.get("regression", bins=4)
    x = np.zeros((4, 8, 8, 1), "float32")
    with pytest.raises(ValueError, match="`bins` takes one target. Received: 2 target columns"):
        task.start(x, np.ones((4, 2), "float32"))
    with pytest.raises(ValueError, match="needs training targets that vary. Received: every target is 3"):
        task.start(x, np.full((4, 1), 3.0, "float32"))
    task.start(x, np.arange(4.0, dtype="float32")[:, None])
    assert task.head_arguments() == {"n_classes": 4, "classifier_activation": "softmax"}


# --------------------------------------------------------------- signed fields --
def _smooth_fields(n: int, seed: int, size: int = 16):
    """Signed fields (a tilted plane plus a bump, values around -2..2) and a blurred copy as input."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size] / size
    target = np.empty((n, size, size, 1), "float32")
    for image in target:
        a, b, cy, cx = rng.uniform(-1, 1, 4)
        image[..., 0] = a * rows + b * cols + np.exp(-((rows - 0.5 - cy / 3) ** 2 + (cols - 0.5 - cx / 3) ** 2) * 30)
        image[..., 0] -= image.mean()
    blurred = (
        target + np.roll(target, 1, 1) + np.roll(target, -1, 1) + np.roll(target, 1, 2) + np.roll(target, -1, 2)
    ) / 5
    return blurred.astype("float32"), target


def test_image_to_image_takes_signed_fields_with_max_val_none(tmp_path):
    data = {"train": _smooth_fields(64, 0), "val": _smooth_fields(16, 1), "test": _smooth_fields(16, 2)}
    assert data["train"][1].min() < 0  # signed: refused with a data range
    with pytest.raises(ValueError, match=r"targets must lie in \[0, max_val=1\]"):
        training.train("unet", data, {"epochs": 1}, task="image_to_image")
    task = tasks.get("image_to_image", max_val=None, output_activation=None)
    assert task.objective == ("val_rmse", "minimize")
    assert tasks.TASKS["image_to_image"].objective == ("val_ssim", "maximize")  # the class keeps its default
    result = training.train("edsr", data, {"epochs": 8, "learning_rate": 3e-3, "blocks": 2, "filters": 8}, task=task)
    report = result.reports["test"].to_dict()
    assert set(report) == {"n", "mae", "mse", "rmse", "input_rmse", "rmse_ratio"}
    assert "val_rmse" in result.history and "val_mae" in result.history  # logged every epoch
    x, y = data["test"]
    expected = np.sqrt(np.mean((result.model(x, training=False).numpy() - y) ** 2))
    np.testing.assert_allclose(report["rmse"], expected, rtol=1e-4)
    np.testing.assert_allclose(report["input_rmse"], np.sqrt(np.mean((x - y) ** 2)), rtol=1e-5)
    assert report["rmse_ratio"] == pytest.approx(report["rmse"] / report["input_rmse"])
    assert report["rmse_ratio"] < 0.9  # the network sharpens the blurred input
    title, text = result.task.sample_section(result.model, data, tmp_path, trial="t1")
    assert "RMSE" in text and "against" in text and (tmp_path / "samples_best.png").stat().st_size > 10_000


def test_signed_fields_refuse_settings_that_need_a_data_range():
    with pytest.raises(
        ValueError, match="loss='ssim' needs a data range: with max_val=None use one of mse, mae, huber"
    ):
        tasks.get("image_to_image", max_val=None, loss="ssim", output_activation=None)
    with pytest.raises(ValueError, match="particles=True needs a data range"):
        tasks.get("image_to_image", max_val=None, particles=True, output_activation=None)
    with pytest.raises(ValueError, match="output_activation='sigmoid' keeps outputs in"):
        tasks.get("image_to_image", max_val=None)
    with pytest.raises(ValueError, match="`max_val` must be > 0 or None"):
        tasks.get("image_to_image", max_val=0.0)


def test_a_data_set_brings_the_task_settings_its_targets_need():
    data = datasets.load("bathymetry", n_train=4, n_val=2, n_test=2, tile=16)
    assert data.task == "image_to_image"
    assert data.task_settings == {"max_val": None, "output_activation": None}
    assert datasets.task_settings_of("bathymetry") == data.task_settings
    assert datasets.task_settings_of("filler") == {}
    task = training.resolve_task(None, data)
    assert (task.max_val, task.output_activation) == (None, None)
    # Named as the data set's own task: the same settings; another task: none of them.
    assert training.resolve_task("image_to_image", data).max_val is None
    assert training.resolve_task("regression", datasets.Dataset(data.splits, task="image_to_image")).bins is None
