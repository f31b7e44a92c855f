"""Image-to-image: a model maps an image to an image (restoration, super-resolution, denoising).

Pairs ``(input, target)`` of the same height and width; targets in ``[0, max_val]``
(SSIM and PSNR are defined against that data range, and a wrong ``max_val`` silently
changes both: see tensorflow#50400). Fields that are not intensities (elevations,
anomalies, normalised depths: signed, with no fixed range) set ``max_val=None``: the
targets may then be any finite numbers, the losses are the pointwise ones (``mse``,
``mae``, ``huber``), RMSE and MAE are logged every epoch and evaluation reports MAE,
MSE and RMSE in the targets' units (no PSNR or SSIM, which need a data range); the
default objective is then ``val_rmse``, minimised.

Whenever input and target have the same shape, evaluation also reports the RMSE of
the input itself taken as the output (``input_rmse``: the noisy image for denoising,
the bicubic upsampling for super-resolution) and ``rmse_ratio``, the model's RMSE over
it: below 1 the model improves on its input. The loss is chosen by name
(:mod:`keras_geo.losses`: ``mse``, ``mae``, ``huber``, ``ssim``, ``ms_ssim``, and the
SSIM + L1 mixes ``ssim_mae`` and ``mixed`` weighted by ``alpha``), PSNR and SSIM are
logged every epoch, and evaluation reports per split PSNR, SSIM, MS-SSIM (with the
scales the images hold), sharpness relative to the target
(:func:`keras_geo.metrics.sharpness`), MAE and MSE; with ``particles=True`` also the
particles the model fabricates and misses (:mod:`keras_geo.particles`), per 100 particles
of the target. The report's sample section shows input, output and target side by side,
with the fabricated and missed particles marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import keras
import numpy as np

from keras_geo._settings import Range
from keras_geo.tasks._base import Report, Task, as_inputs, predict_batches, unpack

__all__ = ["ImageReport", "ImageToImage", "image_metrics"]

_RANGED_LOSSES = ("ssim", "ssim_mae", "ms_ssim", "mixed")
"""Losses that compare images against a data range (SSIM terms)."""
_POINTWISE_LOSSES = ("mse", "mae", "huber")


def image_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    max_val: float | None = 1.0,
    *,
    filter_size: int = 11,
    power_factors: Sequence[float] | None = None,
    batch_size: int = 64,
) -> dict[str, float]:
    """Mean ``psnr`` (dB), ``ssim``, ``ms_ssim``, ``sharpness``, ``mae``, ``mse`` and ``rmse`` over image pairs.

    ``ms_ssim`` is computed only with ``power_factors`` of two scales or more (one scale is
    ``ssim``). ``sharpness`` averages :func:`keras_geo.metrics.sharpness` over the pairs whose
    target is not constant (sharpness is undefined for those); it is left out if all are.
    With ``max_val=None`` (signed fields with no data range) only ``mae``, ``mse`` and
    ``rmse`` are computed.
    """
    from keras_geo import metrics

    error = y_pred.astype("float64") - y_true.astype("float64")
    pointwise = {
        "mae": float(np.abs(error).mean()),
        "mse": float((error**2).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
    }
    if max_val is None:
        return pointwise
    psnr, ssim, ms_ssim = [], [], []
    multiscale = power_factors is not None and len(power_factors) > 1
    for i in range(0, len(y_true), batch_size):
        t, p = y_true[i : i + batch_size], y_pred[i : i + batch_size]
        psnr.append(keras.ops.convert_to_numpy(metrics.psnr(t, p, max_val=max_val)))
        ssim.append(keras.ops.convert_to_numpy(metrics.ssim(t, p, max_val=max_val, filter_size=filter_size)))
        if multiscale:
            ms_ssim.append(
                keras.ops.convert_to_numpy(
                    metrics.ms_ssim(t, p, max_val=max_val, filter_size=filter_size, power_factors=power_factors)
                )
            )
    result = {"psnr": float(np.concatenate(psnr).mean()), "ssim": float(np.concatenate(ssim).mean())}
    if multiscale:
        result["ms_ssim"] = float(np.concatenate(ms_ssim).mean())
    textured = np.ptp(y_true.reshape(len(y_true), -1), axis=1) > 0
    if textured.any():
        result["sharpness"] = float(np.mean(metrics.sharpness(y_true[textured], y_pred[textured])))
    return {**result, **pointwise}


@dataclass
class ImageReport(Report):
    """Image quality of a model's outputs on one split: the means of :func:`image_metrics` (and particles)."""

    metrics: dict[str, float]
    n: int

    def scalars(self, split: str) -> dict[str, float]:
        return {f"{split}_{name}": value for name, value in self.metrics.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, **self.metrics}


class ImageToImage(Task):
    """Image-to-image models: the builder gets ``output_channels`` and ``output_activation``.

    Default objective: ``val_ssim``, maximised (``val_rmse``, minimised, with ``max_val=None``).

    Args:
        loss: A loss of :mod:`keras_geo.losses` by name. Defaults to `"mse"`.
        alpha: Weight of the (MS-)SSIM term of the mixes ``ssim_mae`` and ``mixed``
            (``1 - alpha`` weighs L1); other losses ignore it. Defaults to `0.84`
            (Zhao et al. 2017).
        max_val: The data range of the targets, ``[0, max_val]``; also what SSIM, PSNR
            and the SSIM losses use. ``None`` for signed fields with no range (see the
            module docstring; use it with ``output_activation=None``). Defaults to `1.0`.
        output_activation: Activation of the model's output; ``"sigmoid"`` keeps
            outputs in ``[0, 1]``, ``None`` is linear. Defaults to `"sigmoid"`.
        particles: Also count the bright particles the model fabricates and misses
            (:func:`keras_geo.particles.count_particles`, against the particles found in
            the target by the same detector): ``fabricated_per_100`` and ``missed_per_100``
            per split, for microscopy of particles such as SEM images of filler.
            Defaults to `False`.
    """

    name = "image_to_image"
    objective = ("val_ssim", "maximize")
    head_keys = ("output_channels", "output_activation")

    def __init__(
        self,
        *,
        loss: str = "mse",
        alpha: Annotated[float, Range(0.0, 1.0)] = 0.84,
        max_val: Annotated[float, Range(0.0, open_low=True)] | None = 1.0,
        output_activation: str | None = "sigmoid",
        particles: bool = False,
    ) -> None:
        from keras_geo import losses

        if loss not in losses.available():
            raise ValueError(f"`loss` must be one of {', '.join(losses.available())}. Received: loss={loss!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"`alpha` must be in [0, 1]. Received: alpha={alpha!r}")
        if max_val is not None and not max_val > 0:
            raise ValueError(f"`max_val` must be > 0 or None. Received: max_val={max_val!r}")
        if max_val is None and loss in _RANGED_LOSSES:
            raise ValueError(
                f"loss={loss!r} needs a data range: with max_val=None use one of {', '.join(_POINTWISE_LOSSES)}"
            )
        if max_val is None and particles:
            raise ValueError("particles=True needs a data range (max_val): particles are bright spots in [0, max_val]")
        if max_val is None and output_activation == "sigmoid":
            raise ValueError(
                "output_activation='sigmoid' keeps outputs in [0, 1], which signed targets (max_val=None) leave; "
                "use output_activation=None"
            )
        self.loss = loss
        self.alpha = float(alpha)
        self.max_val = None if max_val is None else float(max_val)
        if self.max_val is None:
            self.objective = ("val_rmse", "minimize")
        self.output_activation = output_activation
        self.particles = bool(particles)
        self.output_channels = 0
        self._side = 0

    def check_split(self, name: str, split: Any) -> tuple[np.ndarray, np.ndarray]:
        x, y = unpack(split, name, "(input images, target images)")
        x, y = as_inputs(x, name), np.asarray(y)
        if y.ndim == 3:
            y = y[..., None]
        if x.ndim != 4 or y.ndim != 4 or y.shape[:3] != x.shape[:3]:
            raise ValueError(
                f"data[{name!r}] needs one target image of the input's height and width per input. "
                f"Received: inputs {x.shape}, targets {y.shape}"
            )
        low, high = float(y.min()), float(y.max())
        if self.max_val is not None and (low < 0.0 or high > self.max_val * (1 + 1e-6)):
            raise ValueError(
                f"data[{name!r}] targets must lie in [0, max_val={self.max_val:g}] (SSIM and PSNR are defined "
                f"against that range). Received values in [{low:g}, {high:g}]; scale them, or set task.max_val"
            )
        return x, y.astype("float32")

    def start(self, x: np.ndarray, y: np.ndarray, dataset: Any = None) -> None:
        self.output_channels = int(y.shape[-1])
        self._side = int(min(y.shape[1:3]))

    def _window(self, multiscale: bool) -> dict[str, Any]:
        """SSIM settings that fit the images: the Gaussian window at most their size, and MS-SSIM
        with as many of its five scales as hold that window (all five from 161 pixels up; the
        weights of the scales kept, renormalised to sum to 1)."""
        from keras_geo._ssim import MS_SSIM_WEIGHTS

        size = min(11, self._side if self._side % 2 else self._side - 1)
        if size < 3:
            raise ValueError(f"images of {self._side} pixels are too small for SSIM (at least 3 are needed)")
        settings: dict[str, Any] = {"filter_size": size}
        if multiscale:
            levels = 1
            while levels < len(MS_SSIM_WEIGHTS) and (size - 1) * 2**levels + 1 <= self._side:
                levels += 1
            weights = MS_SSIM_WEIGHTS[:levels]
            settings["power_factors"] = [w / sum(weights) for w in weights]
        return settings

    def head_arguments(self) -> dict[str, Any]:
        return {"output_channels": self.output_channels, "output_activation": self.output_activation}

    def compile(self, model: keras.Model, optimizer: keras.optimizers.Optimizer, hparams: Mapping[str, Any]) -> None:
        from keras_geo import losses, metrics

        if self.max_val is None:
            model.compile(
                optimizer=optimizer,
                loss=losses.get(self.loss),
                metrics=[keras.metrics.RootMeanSquaredError(name="rmse"), keras.metrics.MeanAbsoluteError(name="mae")],
            )
            return
        settings: dict[str, Any] = {}
        if self.loss in _RANGED_LOSSES:
            settings = {"max_val": self.max_val, **self._window(multiscale=self.loss in ("ms_ssim", "mixed"))}
        if self.loss in ("ssim_mae", "mixed"):
            settings["alpha"] = self.alpha
        model.compile(
            optimizer=optimizer,
            loss=losses.get(self.loss, **settings),
            metrics=[
                metrics.PSNR(max_val=self.max_val),
                metrics.SSIM(max_val=self.max_val, **self._window(multiscale=False)),
            ],
        )

    def score(self, y: np.ndarray, predicted: np.ndarray, inputs: np.ndarray | None = None) -> dict[str, float]:
        """The evaluation's metrics of outputs already computed (by a model, a filter, ...) against targets ``y``.

        :func:`image_metrics` with the SSIM windows that fit the images (after :meth:`start`),
        and ``fabricated_per_100`` and ``missed_per_100`` when the task counts particles.
        With ``inputs`` of the targets' shape, also ``input_rmse`` (the inputs scored as
        outputs) and ``rmse_ratio`` (the outputs' RMSE over it; NaN if the inputs are exact).
        """
        window = {} if self.max_val is None else self._window(multiscale=True)
        quality = image_metrics(y, predicted, self.max_val, **window)
        if inputs is not None and np.shape(inputs) == np.shape(y):
            baseline = float(np.sqrt(np.mean((np.asarray(inputs, "float64") - y.astype("float64")) ** 2)))
            quality["input_rmse"] = baseline
            quality["rmse_ratio"] = quality["rmse"] / baseline if baseline > 0 else float("nan")
        if self.particles:
            from keras_geo.particles import count_particles

            counts = count_particles(predicted, y, max_val=self.max_val)
            quality["fabricated_per_100"] = counts.fabricated_per_100
            quality["missed_per_100"] = counts.missed_per_100
        return quality

    def evaluate(self, model: keras.Model, x: np.ndarray, y: np.ndarray) -> ImageReport:
        return ImageReport(self.score(y, predict_batches(model, x, batch_size=64), inputs=x), len(x))

    def sample_section(self, model: keras.Model, dataset: Any, out_dir: Path, *, trial: str) -> tuple[str, str] | None:
        """Input, output and target of four validation images, one row each (particles marked if counted)."""
        x, y = self.check_split("val", dataset["val"])
        self.start(x, y, dataset)
        chosen = np.linspace(0, len(x) - 1, num=min(4, len(x))).round().astype(int)
        predicted = predict_batches(model, x[chosen])
        path = Path(out_dir) / "samples_best.png"
        quality = self.score(y[chosen], predicted, inputs=x[chosen])
        if self.max_val is None:
            _field_strips(x[chosen], predicted, y[chosen], path, title=f"The best model ({trial})")
            text = (
                f"Four validation fields through the best model ({trial}): input, output, target (one colour scale "
                f"per row) and the error output - target. On these four: RMSE {quality['rmse']:.4g}"
            )
            if "input_rmse" in quality:
                text += f" against {quality['input_rmse']:.4g} for the input itself"
            return "Outputs of the best model", text + f".\n\n![Input, output, target and error]({path.name})"
        marks = _particle_marks(predicted, y[chosen], self.max_val) if self.particles else None
        _strips(x[chosen], predicted, y[chosen], path, self.max_val, title=f"The best model ({trial})", marks=marks)
        text = (
            f"Four validation images through the best model ({trial}): input, output, target. On these "
            f"four: PSNR {quality['psnr']:.2f} dB, SSIM {quality['ssim']:.3f}"
        )
        if self.particles:
            text += (
                f"; {quality['fabricated_per_100']:.1f} particles fabricated and {quality['missed_per_100']:.1f} "
                "missed per 100 in the targets (circled on the output: red fabricated, yellow missed)"
            )
        text += f".\n\n![Input, output and target]({path.name})"
        return "Outputs of the best model", text


def _field_strips(inputs: np.ndarray, outputs: np.ndarray, targets: np.ndarray, path: Path, *, title: str = "") -> Path:
    """A PNG grid of signed one-channel fields: per row input / output / target on the target's colour
    scale (a shared colour bar) and the error output - target on a diverging scale (its own colour bar)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = len(inputs)
    figure = Figure(figsize=(11, 2.6 * rows))
    FigureCanvasAgg(figure)
    for i in range(rows):
        low, high = float(np.min(targets[i])), float(np.max(targets[i]))
        error = outputs[i][..., 0].astype("float64") - targets[i][..., 0]
        limit = float(np.max(np.abs(error))) or 1.0
        for j, (image, label) in enumerate(((inputs[i], "input"), (outputs[i], "output"), (targets[i], "target"))):
            axis = figure.add_subplot(rows, 4, 4 * i + j + 1)
            shown = axis.imshow(image[..., 0], cmap="viridis", vmin=low, vmax=high)
            axis.set_axis_off()
            if i == 0:
                axis.set_title(label)
        figure.colorbar(shown, ax=figure.axes[-3:], fraction=0.03, pad=0.01)
        axis = figure.add_subplot(rows, 4, 4 * i + 4)
        shown = axis.imshow(error, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axis.set_axis_off()
        if i == 0:
            axis.set_title("output - target")
        figure.colorbar(shown, ax=axis, fraction=0.046, pad=0.02)
    if title:
        figure.suptitle(title)
    figure.savefig(path, dpi=90)
    return path


def _particle_marks(outputs: np.ndarray, targets: np.ndarray, max_val: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per image: the particles found in the output but not in the target, and those of the target not found."""
    from keras_geo.particles import count_particles

    counts = count_particles(outputs, targets, max_val=max_val)
    return [counts.errors(i) for i in range(len(outputs))]


def _strips(
    inputs: np.ndarray,
    outputs: np.ndarray,
    targets: np.ndarray,
    path: Path,
    max_val: float,
    *,
    title: str = "",
    marks: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> Path:
    """A PNG grid: one row per sample, columns input / output / target (grey or RGB).

    ``marks`` gives per row the fabricated and the missed particles (``(k, 3)`` rows of
    ``row, col, radius``), circled on the output in red and yellow.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = len(inputs)
    figure = Figure(figsize=(7.5, 2.5 * rows))
    FigureCanvasAgg(figure)
    for i in range(rows):
        for j, (image, label) in enumerate(((inputs[i], "input"), (outputs[i], "output"), (targets[i], "target"))):
            axis = figure.add_subplot(rows, 3, 3 * i + j + 1)
            picture = np.clip(image / max_val, 0.0, 1.0)
            if picture.shape[-1] == 1:
                axis.imshow(picture[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
            else:
                axis.imshow(picture[..., :3])
            axis.set_axis_off()
            if marks is not None and label == "output":
                from keras_geo.particles import mark_particles

                mark_particles(axis, marks[i][0], color="red")
                mark_particles(axis, marks[i][1], color="yellow")
            if i == 0:
                axis.set_title(label)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    return path
