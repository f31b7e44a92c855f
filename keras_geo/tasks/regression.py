"""Regression: one or several numbers per image (a count, a volume fraction, a radius).

Targets are standardised for the loss (each column to zero mean and unit variance on
the training split), so that targets of different units weigh alike and the
optimiser's step sizes suit every data set; the finished model undoes the scaling
in a built-in ``Normalization(invert=True)`` layer, so it predicts in the targets'
own units and loads anywhere.

With ``bins=n`` the model is instead a classifier into ``n`` equal bins of
the training targets' range (one target only), trained with cross-entropy, as counts
are often estimated (report 000: fish counts from echograms); the finished model ends
in a fixed ``{name}_expectation`` layer that turns the bin probabilities into the
expected value (the bin centres weighted by their probabilities), so it too predicts in
the target's units and is scored like a linear head.

Evaluation per target: MAE, RMSE, R^2, bias (mean signed error) and relative error
(mean of |error| / |target| over targets that are not 0), in the targets' units.
The report's sample section plots predictions against targets and the residuals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import keras
import numpy as np

from keras_geo._settings import Range
from keras_geo.tasks._base import Report, Task, as_inputs, predict_batches, unpack

__all__ = ["LOSSES", "Regression", "RegressionReport", "regression_metrics"]

LOSSES = {
    "mse": keras.losses.MeanSquaredError,
    "mae": keras.losses.MeanAbsoluteError,
    "huber": keras.losses.Huber,
    "log_cosh": keras.losses.LogCosh,
}
"""Losses by name; they act on the standardised targets."""


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, np.ndarray]:
    """Per-column ``mae``, ``rmse``, ``r2``, ``bias`` and ``rel_error`` of ``(N, k)`` arrays.

    R^2 is ``1 - SS_res / SS_tot``; a column with no variance has R^2 NaN. The relative
    error leaves out samples whose target is 0 (NaN if all are).
    """
    y_true = np.asarray(y_true, dtype="float64").reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype="float64").reshape(len(y_pred), -1)
    error = y_pred - y_true
    total = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1.0 - (error**2).sum(axis=0) / np.where(total > 0, total, 1.0), np.nan)
        relative = np.abs(error) / np.abs(y_true)
    nonzero = y_true != 0
    rel = np.array(
        [relative[nonzero[:, j], j].mean() if nonzero[:, j].any() else np.nan for j in range(y_true.shape[1])]
    )
    return {
        "mae": np.abs(error).mean(axis=0),
        "rmse": np.sqrt((error**2).mean(axis=0)),
        "r2": r2,
        "bias": error.mean(axis=0),
        "rel_error": rel,
    }


@dataclass
class RegressionReport(Report):
    """The errors of a regression model on one split, per target.

    Attributes:
        target_names: One name per target column.
        metrics: ``metric -> per-target values`` (:func:`regression_metrics`).
        n: Number of samples.
    """

    target_names: tuple[str, ...]
    metrics: dict[str, np.ndarray]
    n: int

    def scalars(self, split: str) -> dict[str, float]:
        """``{split}_r2`` (mean over targets), and per metric ``{split}_{metric}`` for one target,
        ``{split}_{metric}_{target}`` for several (errors in different units are not averaged)."""
        out = {
            f"{split}_r2": float(np.nanmean(self.metrics["r2"]))
            if np.isfinite(self.metrics["r2"]).any()
            else float("nan")
        }
        for metric, values in self.metrics.items():
            if len(self.target_names) == 1:
                out[f"{split}_{metric}"] = float(values[0])
            else:
                for name, value in zip(self.target_names, values):
                    out[f"{split}_{metric}_{name}"] = float(value)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "targets": {
                name: {metric: float(values[j]) for metric, values in self.metrics.items()}
                for j, name in enumerate(self.target_names)
            },
        }

    def table(self) -> str:
        """A Markdown table: one row per target, one column per metric."""
        metrics = list(self.metrics)
        lines = ["| target | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
        for j, name in enumerate(self.target_names):
            lines.append(f"| {name} | " + " | ".join(f"{self.metrics[m][j]:.4g}" for m in metrics) + " |")
        return "\n".join(lines)


class Regression(Task):
    """Regression of one or several numbers per image.

    The builder gets ``n_classes`` = the number of targets and no output activation
    (a linear head). Default objective: ``val_r2`` (the mean R^2 over the targets,
    which has no units), maximised; with one target, ``val_mae`` or ``val_rmse``
    (in its units) are also metrics of every trial.

    Args:
        loss: ``"mse"``, ``"mae"``, ``"huber"`` or ``"log_cosh"``, on the standardised
            targets. Defaults to `"mse"`.
        standardize: Scale each target to zero mean and unit variance (on the
            training split) for the loss. Defaults to `True`.
        bins: ``None`` for a linear head (one output per target, trained with
            ``loss``), or a number of bins (>= 2) for a softmax head over that many
            equal bins of the target's training range, centred from its smallest to its
            largest value, trained with cross-entropy and finalised to the expected value
            (one target only; ``loss`` and ``standardize`` do not apply). Defaults to `None`.
    """

    name = "regression"
    objective = ("val_r2", "maximize")
    head_keys = ("n_classes", "classifier_activation")

    def __init__(
        self,
        *,
        loss: Literal["mse", "mae", "huber", "log_cosh"] = "mse",
        standardize: bool = True,
        bins: Annotated[int, Range(2)] | None = None,
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"`loss` must be one of {', '.join(LOSSES)}. Received: loss={loss!r}")
        if bins is not None and (isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2):
            raise ValueError(f"`bins` must be None or an integer >= 2. Received: bins={bins!r}")
        self.loss = loss
        self.standardize = bool(standardize)
        self.bins = None if bins is None else int(bins)
        self.edges = np.zeros(0, "float32")
        self.target_names: tuple[str, ...] = ()
        self.mean = np.zeros(1, "float32")
        self.std = np.ones(1, "float32")

    def check_split(self, name: str, split: Any) -> tuple[np.ndarray, np.ndarray]:
        x, y = unpack(split, name, "(images, targets)")
        x = as_inputs(x, name)
        y = np.asarray(y)
        if not np.issubdtype(y.dtype, np.number) or y.dtype == bool:
            raise ValueError(f"data[{name!r}] regression targets must be numbers. Received dtype: {y.dtype}")
        y = y.astype("float32").reshape(len(y), -1) if y.ndim else y.astype("float32").reshape(1, 1)
        if len(y) != len(x):
            raise ValueError(
                f"data[{name!r}] needs one target row per image. Received: {len(x)} images, {len(y)} target rows"
            )
        if y.ndim != 2:
            raise ValueError(f"data[{name!r}] regression targets must be (N,) or (N, k). Received shape: {y.shape}")
        return x, y

    def start(self, x: np.ndarray, y: np.ndarray, dataset: Any = None) -> None:
        k = y.shape[1]
        names = getattr(dataset, "target_names", None)
        if names is not None and len(names) != k:
            raise ValueError(
                f"the data set names {len(names)} targets but its targets have {k} columns. "
                f"Received: target_names={tuple(names)}"
            )
        self.target_names = (
            tuple(names) if names is not None else (("target",) if k == 1 else tuple(f"target_{j}" for j in range(k)))
        )
        if self.bins is not None:
            if k != 1:
                raise ValueError(f"`bins` takes one target. Received: {k} target columns {self.target_names}")
            low, high = float(y.min()), float(y.max())
            if not high > low:
                raise ValueError(f"`bins` needs training targets that vary. Received: every target is {low:g}")
            # Centres from the smallest to the largest target, so the expectation can reach both.
            width = (high - low) / (self.bins - 1)
            self.edges = (low - width / 2 + width * np.arange(self.bins + 1)).astype("float32")
        if self.standardize:
            self.mean = y.mean(axis=0).astype("float32")
            std = y.std(axis=0)
            self.std = np.where(std > 0, std, 1.0).astype("float32")  # a constant target is left unscaled
        else:
            self.mean, self.std = np.zeros(k, "float32"), np.ones(k, "float32")

    @property
    def centres(self) -> np.ndarray:
        """The bin centres of a ``bins`` head (after :meth:`start`), in the target's units."""
        return ((self.edges[:-1] + self.edges[1:]) / 2).astype("float32")

    def bin_of(self, y: np.ndarray) -> np.ndarray:
        """The bin index of each target of a ``bins`` head (targets outside the training range in the end bins)."""
        return np.clip(np.searchsorted(self.edges, np.asarray(y)[:, 0], side="right") - 1, 0, self.bins - 1)

    def fit_targets(self, y: np.ndarray) -> np.ndarray:
        if self.bins is not None:
            return self.bin_of(y).astype("int32")
        return ((y - self.mean) / self.std).astype("float32")

    def head_arguments(self) -> dict[str, Any]:
        if self.bins is not None:
            return {"n_classes": self.bins, "classifier_activation": "softmax"}
        return {"n_classes": len(self.target_names), "classifier_activation": None}

    def compile(self, model: keras.Model, optimizer: keras.optimizers.Optimizer, hparams: Mapping[str, Any]) -> None:
        if self.bins is not None:
            model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy())
        else:
            model.compile(optimizer=optimizer, loss=LOSSES[self.loss]())

    def finalize(self, model: keras.Model) -> keras.Model:
        """The model in the targets' own units: a ``{name}_unscale`` layer after a linear head, a
        ``{name}_expectation`` layer (the expected bin centre) after a bins head."""
        if self.bins is not None:
            expectation = keras.layers.Dense(
                1, use_bias=False, trainable=False, dtype="float32", name=f"{model.name}_expectation"
            )
            output = expectation(model.output)
            expectation.set_weights([self.centres[:, None]])
            return keras.Model(model.input, output, name=model.name)
        if not self.standardize:
            return model
        unscale = keras.layers.Normalization(
            mean=self.mean, variance=self.std**2, invert=True, name=f"{model.name}_unscale"
        )
        return keras.Model(model.input, unscale(model.output), name=model.name)

    def evaluate(self, model: keras.Model, x: np.ndarray, y: np.ndarray) -> RegressionReport:
        predicted = predict_batches(model, x).reshape(len(x), -1)
        return RegressionReport(self.target_names, regression_metrics(y, predicted), len(x))

    def sample_section(self, model: keras.Model, dataset: Any, out_dir: Path, *, trial: str) -> tuple[str, str] | None:
        """Predicted against true values and the residuals on the validation split, per target."""
        x, y = self.check_split("val", dataset["val"])
        names = (
            getattr(dataset, "target_names", None)
            or self.target_names
            or tuple(f"target_{j}" for j in range(y.shape[1]))
        )
        predicted = predict_batches(model, x).reshape(len(x), -1)
        path = Path(out_dir) / "residuals_best.png"
        plot_residuals(y, predicted, names, path, title=f"Residuals of the best model ({trial})")
        report = RegressionReport(tuple(names), regression_metrics(y, predicted), len(x))
        text = (
            f"The best model ({trial}) on the {len(x)} validation images. Left: predicted against true value "
            "(the diagonal is a perfect model); right: the residual (predicted - true) against the true value, "
            "where a trend shows a bias that depends on the value.\n\n"
            f"{report.table()}\n\n![Residuals of the best model]({path.name})"
        )
        return "Residuals of the best model", text


def plot_residuals(
    y_true: np.ndarray, y_pred: np.ndarray, names: tuple[str, ...], path: Path, *, title: str = ""
) -> Path:
    """Writes a PNG: per target, predicted against true (with the diagonal) and residual against true."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = y_true.shape[1]
    figure = Figure(figsize=(9, 3.6 * k))
    FigureCanvasAgg(figure)
    for j in range(k):
        truth, guess = y_true[:, j], y_pred[:, j]
        left = figure.add_subplot(k, 2, 2 * j + 1)
        left.scatter(truth, guess, s=8, alpha=0.5)
        low, high = float(min(truth.min(), guess.min())), float(max(truth.max(), guess.max()))
        left.plot([low, high], [low, high], color="black", linewidth=1)
        left.set(xlabel=f"true {names[j]}", ylabel=f"predicted {names[j]}")
        right = figure.add_subplot(k, 2, 2 * j + 2)
        right.scatter(truth, guess - truth, s=8, alpha=0.5, color="tab:orange")
        right.axhline(0.0, color="black", linewidth=1)
        right.set(xlabel=f"true {names[j]}", ylabel="residual (predicted - true)")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    return path
