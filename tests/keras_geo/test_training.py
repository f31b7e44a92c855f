"""Training from a hyperparameter dict: splitting, optimizers, determinism, failure, reports."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_geo import training
from keras_geo.datasets.checks import NonFiniteData
from keras_geo.training import ClassReport, TrainingDiverged


def bright_side_data(n: int, seed: int, size: int = 16):
    """Two classes: a bright square on the left (0) or the right (1) half, plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.1, (n, size, size, 1)).astype("float32")
    y = rng.integers(0, 2, n)
    for image, label in zip(x, y):
        row = rng.integers(0, size - 4)
        col = rng.integers(0, size // 2 - 4) + (size // 2 if label else 0)
        image[row : row + 4, col : col + 4] += 1.0
    return x, y


TINY = {"conv_layers": 2, "filters": 4, "units": 8, "epochs": 3, "batch_size": 16}


@pytest.fixture(scope="module")
def data():
    return {"train": bright_side_data(96, 0), "val": bright_side_data(32, 1), "test": bright_side_data(40, 2)}


def test_split_params_fills_training_defaults_and_keeps_builder_keys():
    builder, hparams = training.split_params({"filters": 8, "learning_rate": 0.01})
    assert builder == {"filters": 8}
    assert hparams["learning_rate"] == 0.01
    assert hparams["optimizer"] == training.TRAINING_DEFAULTS["optimizer"]


@pytest.mark.parametrize("name", sorted(training.OPTIMIZERS))
def test_every_optimizer_gets_its_learning_rate(name):
    optimizer = training.make_optimizer({"optimizer": name, "learning_rate": 0.005})
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0.005)


def test_bad_optimizer_and_learning_rate_are_named():
    with pytest.raises(ValueError, match="optimizer='lbfgs'"):
        training.make_optimizer({"optimizer": "lbfgs"})
    with pytest.raises(ValueError, match="learning_rate"):
        training.make_optimizer({"learning_rate": 0})


def test_class_report_counts_and_table():
    report = ClassReport(("a", "b"), np.array([[8, 2], [1, 9]]))
    assert report.correct.tolist() == [8, 9]
    assert report.totals.tolist() == [10, 10]
    assert report.accuracy == pytest.approx(0.85)
    assert "| x | 8 / 10 | 9 / 10 | 85.0% |" in report.table("x")
    assert report.to_dict()["confusion"] == [[8, 2], [1, 9]]


def test_evaluate_classes_counts_per_class():
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Softmax()(inputs))
    x = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], "float32")  # predicts 0, 1, 0, 1
    report = training.evaluate_classes(model, x, np.array([0, 1, 1, 1]))
    assert report.confusion.tolist() == [[1, 0], [1, 2]]


def test_train_returns_metrics_history_and_reports(data):
    result = training.train("filler_cnn", data, TINY, seed=3, class_names=("left", "right"))
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_accuracy", "n_params"):
        assert np.isfinite(result.metrics[key]), key
    assert len(result.history["loss"]) == result.metrics["epochs"] <= 3
    assert result.reports["test"].totals.sum() == 40
    assert result.reports["val"].class_names == ("left", "right")
    assert result.params["filters"] == 4 and result.params["optimizer"] == "adam"


def test_same_seed_same_training_other_seed_other_training(data):
    first = training.train("filler_cnn", data, TINY, seed=7)
    second = training.train("filler_cnn", data, TINY, seed=7)
    other = training.train("filler_cnn", data, TINY, seed=8)
    assert first.history == second.history
    for a, b in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert first.history != other.history


def test_early_stopping_never_restores_a_warm_up_epoch(data):
    params = {**TINY, "epochs": 8, "patience": 1, "warmup_epochs": 3}
    result = training.train("filler_cnn", data, params, seed=1)
    assert result.metrics["best_epoch"] > 3
    held = int(result.metrics["best_epoch"]) - 1
    assert result.metrics["val_loss"] == min(result.history["val_loss"][3:]) == result.history["val_loss"][held]


def test_label_smoothing_trains_and_the_model_loads_in_a_fresh_process(data, tmp_path):
    import subprocess
    import sys

    result = training.train("filler_cnn", data, {**TINY, "epochs": 1, "label_smoothing": 0.2}, seed=0)
    assert np.isfinite(result.metrics["train_loss"])
    path = tmp_path / "smoothed.keras"
    result.model.save(path)
    script = (
        "import keras, keras_geo\n"
        f"m = keras.models.load_model({str(path)!r})\n"
        "print(type(m.loss).__name__, m.loss.fn.__name__ if hasattr(m.loss, 'fn') else '', m.loss._fn_kwargs['label_smoothing'])\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-3:] == ["CategoricalCrossentropy", "categorical_crossentropy", "0.2"]


def test_reset_state_clears_keras_global_state():
    keras.backend.get_uid("probe")
    assert keras.backend.get_uid("probe") >= 2
    training.reset_state(0)
    assert keras.backend.get_uid("probe") == 1


def test_trainings_do_not_pile_up_traced_graphs_in_the_gradient_registry(data):
    # Each traced train step registers a CustomGradient-N entry holding its graph; reset_state
    # drops the entries of earlier trainings, so a long search does not keep every model's graphs.
    import gc
    import weakref

    registry = training._custom_gradient_registry()
    assert registry is not None, "TensorFlow's gradient registry moved: update training._custom_gradient_registry"

    def custom():
        return {k for k in registry if k.startswith("CustomGradient-")}

    refs, counts = [], []
    for seed in range(3):
        result = training.train("filler_cnn", data, {**TINY, "epochs": 1}, seed=seed)
        refs.append(weakref.ref(result.model))
        counts.append(len(custom() - training._REGISTRY_AT_IMPORT))
        del result
    assert counts[0] > 0  # the probe sees what it is meant to see
    assert counts[-1] <= counts[0]  # not one more set of entries per training
    training.reset_state(0)
    gc.collect()
    assert refs[0]() is None and refs[1]() is None  # earlier models are freed


@pytest.mark.parametrize("split", ["train", "val", "test"])
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_data_is_refused_before_training_naming_the_split(data, split, bad_value):
    """Some CPU kernels turn NaN into a number, others propagate it: refused on every machine alike."""
    x, y = data[split]
    x = x.copy()
    x[3, 0, :2] = bad_value  # two values of one image
    with pytest.raises(
        NonFiniteData,
        match=rf"the '{split}' split has 2 non-finite values \(NaN or inf\) "
        rf"in its inputs, in 1 of {len(x)} samples",
    ):
        training.train("filler_cnn", {**data, split: (x, y)}, TINY, seed=0)


@keras.saving.register_keras_serializable(package="keras_geo_tests")
class OverflowingLoss(keras.layers.Layer):
    """Adds exp(100 + mean(x)) to the loss: inf in float32 on every CPU (IEEE overflow), whatever the kernels."""

    def call(self, inputs):
        self.add_loss(keras.ops.exp(100.0 + keras.ops.mean(inputs)))
        return inputs


def test_a_loss_that_overflows_raises_training_diverged(data):
    from keras_geo.models import build_filler_cnn

    def overflowing_cnn(input_shape, n_classes, **kwargs):
        inputs = keras.Input(input_shape)
        return keras.Model(inputs, build_filler_cnn(input_shape, n_classes, **kwargs)(OverflowingLoss()(inputs)))

    with pytest.raises(TrainingDiverged, match="The training loss became inf at epoch 1"):
        training.train(overflowing_cnn, data, TINY, seed=0)


def test_bad_data_is_named():
    with pytest.raises(ValueError, match="'train'"):
        training.train("filler_cnn", {"val": bright_side_data(8, 0)}, TINY)
    x, y = bright_side_data(8, 0)
    with pytest.raises(ValueError, match="as many labels"):
        training.train("filler_cnn", {"train": (x, y[:3])}, TINY)
    with pytest.raises(ValueError, match="epochs"):
        training.train("filler_cnn", {"train": (x, y)}, {**TINY, "epochs": 0})


@pytest.mark.slow
def test_small_filler_training_clearly_beats_chance():
    from keras_geo.datasets import filler

    data = filler.make_splits(150, 50, 100, fov_nm=1000.0, image_size=48, seed=0)
    result = training.train(
        "filler_cnn",
        data,
        {"conv_layers": 3, "filters": 8, "units": 32, "epochs": 12, "batch_size": 32},
        seed=0,
        class_names=filler.CLASSES,
    )
    # Chance is 1/3; a model that learned the class statistics is far above it.
    assert result.metrics["test_accuracy"] > 0.6, result.reports["test"].table()
