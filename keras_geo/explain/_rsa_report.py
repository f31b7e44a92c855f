"""The layer profile of an RSA: each layer's similarity to each reference, with intervals, p-values and plots.

* :func:`layer_profile`: for every chosen layer of a model and every reference, the
  similarity of the layer's RDM to the reference, its bootstrap confidence interval
  (stimuli resampled), its permutation p-value (stimulus labels shuffled), and the
  noise ceiling of each reference given as several RDMs (subjects or repeats).
* :func:`plot_profile`: similarity against layer, one line per reference, intervals
  shaded, noise ceilings as grey bands.
* :func:`plot_rdms`: RDMs side by side with one colour bar, category boundaries drawn.

The statistics are those of :mod:`keras_geo.explain.rsa` (:func:`~keras_geo.explain.bootstrap`,
:func:`~keras_geo.explain.permutation_test`, :func:`~keras_geo.explain.noise_ceiling`),
each called with the same seed for every layer, so all layers are judged on the same
bootstrap samples and permutations. The p-values are per test, not corrected for the
number of layers and references.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from keras_geo.explain import rsa
from keras_geo.explain.rsa import RDM, NoiseCeiling

__all__ = ["PROFILE_RDM_METHODS", "LayerProfile", "layer_profile", "plot_profile", "plot_rdms"]

# Distances a profile computes from one response per stimulus ("crossnobis" needs repeats).
PROFILE_RDM_METHODS = ("correlation", "euclidean", "cosine")

# Activations held at once (all stimuli, a group of layers): layers are read this many bytes at a time.
_ACTIVATION_BYTES = 256 * 2**20

_SIMILARITY_NAMES = {
    "spearman": "Spearman's rho",
    "tau_a": "Kendall's tau-a",
    "pearson": "Pearson's r",
    "cosine": "cosine similarity",
}

_COLUMNS = (
    "layer",
    "reference",
    "similarity",
    "ci_low",
    "ci_high",
    "p_value",
    "noise_ceiling_lower",
    "noise_ceiling_upper",
)


@dataclass(eq=False)
class LayerProfile:
    """The similarity of each layer of a model to each reference (rows: layers, columns: references).

    Attributes:
        layers: The layer names, in the order profiled.
        references: The reference names, in the order given.
        similarity: ``(n_layers, n_references)``: the similarity on all stimuli (the mean
            over a reference's RDMs when it has several).
        low: Lower ends of the bootstrap confidence intervals (NaN without bootstrap).
        high: Upper ends of the bootstrap confidence intervals (NaN without bootstrap).
        p_value: One-sided permutation p-values (NaN without permutations).
        noise_ceilings: The :class:`~keras_geo.explain.NoiseCeiling` of each reference
            given as several RDMs; references with one RDM have none.
        rdms: The RDM of each layer.
        reference_rdms: The RDMs of each reference, as given.
        rdm_method: The distance of the layer RDMs.
        compare_method: The comparison of RDMs.
        n_bootstrap: Bootstrap samples per interval (0: none).
        n_permutations: Permutations per test (0: none).
        confidence: The intervals' coverage.
        seed: The seed of the bootstrap samples and permutations.
    """

    layers: tuple[str, ...]
    references: tuple[str, ...]
    similarity: np.ndarray
    low: np.ndarray
    high: np.ndarray
    p_value: np.ndarray
    noise_ceilings: dict[str, NoiseCeiling] = field(default_factory=dict)
    rdms: dict[str, RDM] = field(default_factory=dict)
    reference_rdms: dict[str, list[RDM]] = field(default_factory=dict)
    rdm_method: str = "correlation"
    compare_method: str = "spearman"
    n_bootstrap: int = 0
    n_permutations: int = 0
    confidence: float = 0.95
    seed: int = 0

    @property
    def n_stimuli(self) -> int:
        """The number of stimuli."""
        return next(iter(self.reference_rdms.values()))[0].n_stimuli

    def best_layer(self, reference: str) -> str:
        """The layer most similar to ``reference`` (the first of several equally similar)."""
        if reference not in self.references:
            raise ValueError(f"`reference` must be one of {list(self.references)}. Received: reference={reference!r}")
        return self.layers[int(np.argmax(self.similarity[:, self.references.index(reference)]))]

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per layer and reference (layer-major), keys as the CSV's columns; ``None`` where not computed."""
        rows = []
        for i, layer in enumerate(self.layers):
            for j, reference in enumerate(self.references):
                ceiling = self.noise_ceilings.get(reference)
                rows.append(
                    {
                        "layer": layer,
                        "reference": reference,
                        "similarity": _number(self.similarity[i, j]),
                        "ci_low": _number(self.low[i, j]),
                        "ci_high": _number(self.high[i, j]),
                        "p_value": _number(self.p_value[i, j]),
                        "noise_ceiling_lower": None if ceiling is None else ceiling.lower,
                        "noise_ceiling_upper": None if ceiling is None else ceiling.upper,
                    }
                )
        return rows

    def to_csv(self, path: str | Path) -> Path:
        """Writes :meth:`to_rows` as a CSV file (empty cells where not computed); returns the path."""
        path = Path(path)
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=_COLUMNS)
            writer.writeheader()
            for row in self.to_rows():
                writer.writerow({key: "" if value is None else value for key, value in row.items()})
        return path

    def to_dict(self, **metadata: Any) -> dict[str, Any]:
        """The settings, the references (number of RDMs, noise ceiling) and :meth:`to_rows`, plus ``metadata``."""
        return {
            **metadata,
            "n_stimuli": self.n_stimuli,
            "rdm_method": self.rdm_method,
            "compare_method": self.compare_method,
            "n_bootstrap": self.n_bootstrap,
            "n_permutations": self.n_permutations,
            "confidence": self.confidence,
            "seed": self.seed,
            "layers": list(self.layers),
            "references": {
                name: {
                    "n_rdms": len(self.reference_rdms[name]),
                    "noise_ceiling": (
                        None
                        if name not in self.noise_ceilings
                        else {"lower": self.noise_ceilings[name].lower, "upper": self.noise_ceilings[name].upper}
                    ),
                    "best_layer": self.best_layer(name),
                }
                for name in self.references
            },
            "rows": self.to_rows(),
        }

    def to_json(self, path: str | Path, **metadata: Any) -> Path:
        """Writes :meth:`to_dict` (with ``metadata``, e.g. the model's file) as JSON; returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(**metadata), indent=2) + "\n")
        return path

    def to_text(self) -> str:
        """A plain-text table: layer, reference, similarity [interval], p; then the noise ceilings."""
        width = max(len("layer"), *(len(name) for name in self.layers))
        ref_width = max(len("reference"), *(len(name) for name in self.references))
        interval = f"[{self.confidence:.0%} CI]" if self.n_bootstrap else ""
        lines = [f"{'layer':<{width}}  {'reference':<{ref_width}}  similarity {interval:<17}  p"]
        for row in self.to_rows():
            ci = "" if row["ci_low"] is None else f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
            p = "-" if row["p_value"] is None else f"{row['p_value']:.3g}"
            lines.append(
                f"{row['layer']:<{width}}  {row['reference']:<{ref_width}}  {row['similarity']:+.3f}     {ci:<17}  {p}"
            )
        for name, ceiling in self.noise_ceilings.items():
            lines.append(f"noise ceiling of {name}: {ceiling.lower:+.3f} to {ceiling.upper:+.3f}")
        return "\n".join(lines)


def _number(value: float) -> float | None:
    return None if not math.isfinite(float(value)) else float(value)


def _check_count(name: str, value: Any, allowed: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0 or value == 1:
        raise ValueError(f"`{name}` must be 0 ({allowed}) or an integer >= 2. Received: {name}={value!r}")
    return int(value)


def _groups(records: list[tuple[str, Any, Any]], names: list[str], n: int, fallback: int) -> list[list[str]]:
    """The layers in runs whose activations for ``n`` stimuli fit :data:`_ACTIVATION_BYTES` (a layer at least)."""
    outputs = {name: output for name, _, output in records}
    groups: list[list[str]] = [[]]
    held = 0
    for name in names:
        shape = getattr(outputs[name], "shape", None) or ()
        size = 4 * n * math.prod(fallback if d is None else int(d) for d in tuple(shape)[1:])
        if groups[-1] and held + size > _ACTIVATION_BYTES:
            groups.append([])
            held = 0
        groups[-1].append(name)
        held += size
    return groups


def layer_profile(
    model: Any,
    stimuli: Any,
    references: Mapping[str, Any],
    *,
    layers: Sequence[str] | None = None,
    rdm_method: str = "correlation",
    compare_method: str = "spearman",
    n_bootstrap: int = 1000,
    n_permutations: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    batch_size: int = 32,
    progress: bool = False,
) -> LayerProfile:
    """Each layer's similarity to each reference, with bootstrap intervals, permutation p-values and noise ceilings.

    The layers' responses to ``stimuli`` (:func:`~keras_geo.explain.layer_activations`)
    give one RDM per layer (``rdm_method``); each is compared with each reference
    (``compare_method``; with several RDMs, the mean similarity over them). Layers are
    read a group at a time, so the activations held stay under 256 MB.

    Args:
        model: A functional or Sequential ``keras.Model`` (nested models allowed).
        stimuli: ``(n_stimuli, ...)`` inputs of the model, at least 3.
        references: ``{name: RDM}``, or ``{name: [RDM, ...]}`` for a reference of several
            subjects or repeats (also square matrices or ``(k, n, n)`` stacks), each of the
            same stimuli in the same order.
        layers: Layer names, in the order wanted. Defaults to `None`
            (:func:`~keras_geo.explain.default_layers`).
        rdm_method: One of :data:`PROFILE_RDM_METHODS`. Defaults to `"correlation"`.
        compare_method: One of :data:`~keras_geo.explain.COMPARISONS`. Defaults to `"spearman"`.
        n_bootstrap: Bootstrap samples per interval; 0 for no intervals. Defaults to `1000`.
        n_permutations: Permutations per p-value; 0 for no tests. Defaults to `1000`.
        confidence: Coverage of the intervals, in (0, 1). Defaults to `0.95`.
        seed: Seed of the bootstrap samples and permutations (the same for every layer).
            Defaults to `0`.
        batch_size: Stimuli per forward pass. Defaults to `32`.
        progress: Show a tqdm progress bar over the layers. Defaults to `False`.

    Returns:
        A :class:`LayerProfile`.

    Raises:
        ValueError: one line, for no references, fewer than 3 stimuli, a reference of
            another number of stimuli, a layer the model does not have (the message lists
            those it has), a bad method or count, or a layer whose RDM or similarity is
            undefined (named with its reference).
    """
    if rdm_method not in PROFILE_RDM_METHODS:
        raise ValueError(
            f"`rdm_method` must be one of {', '.join(map(repr, PROFILE_RDM_METHODS))} (one response per stimulus). "
            f"Received: rdm_method={rdm_method!r}"
        )
    compare_method = rsa._comparison(compare_method)
    n_bootstrap = _check_count("n_bootstrap", n_bootstrap, "no intervals")
    n_permutations = _check_count("n_permutations", n_permutations, "no tests")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"`confidence` must be in (0, 1). Received: confidence={confidence}")
    if not isinstance(references, Mapping) or not references:
        raise ValueError("`references` must map at least one name to its RDM(s). Received: none")
    n = len(stimuli[0] if isinstance(stimuli, list | tuple) else stimuli)
    if n < 3:
        raise ValueError(f"RSA needs at least 3 stimuli. Received: {n}")
    given: dict[str, list[RDM]] = {}
    for name, value in references.items():
        rdms = rsa._as_rdms(value, f"references[{name!r}]")
        counts = sorted({r.n_stimuli for r in rdms})
        if counts != [n]:
            raise ValueError(
                f"reference {name!r} describes {rsa._few(counts)} stimuli, but {n} stimuli were given: "
                "a reference must describe the same stimuli in the same order"
            )
        given[str(name)] = rdms
    ceilings = {name: rsa.noise_ceiling(rdms, compare_method) for name, rdms in given.items() if len(rdms) > 1}

    _, records = rsa._trace(model)
    names = rsa._chosen_layers(model, records, layers)
    first = np.asarray(stimuli[0] if isinstance(stimuli, list | tuple) else stimuli)
    fallback = max(first.shape[1:3], default=1)

    from tqdm.auto import tqdm

    shape = (len(names), len(given))
    similarity, low, high, p_value = (np.full(shape, np.nan) for _ in range(4))
    layer_rdms: dict[str, RDM] = {}
    row = 0
    with tqdm(total=len(names), desc="RSA", unit="layer", disable=not progress) as bar:
        for group in _groups(records, names, n, int(fallback)):
            activations = rsa.layer_activations(model, stimuli, group, batch_size=batch_size)
            for name in group:
                layer_rdms[name] = rsa.layer_rdms({name: activations.pop(name)}, rdm_method)[name]
                for j, (reference, rdms) in enumerate(given.items()):
                    try:
                        similarity[row, j] = rsa._mean_similarity(
                            layer_rdms[name].dissimilarities, [r.dissimilarities for r in rdms], compare_method
                        )
                        if n_bootstrap:
                            interval = rsa.bootstrap(
                                layer_rdms[name],
                                rdms,
                                compare_method,
                                n_bootstrap=n_bootstrap,
                                confidence=confidence,
                                seed=seed,
                            )
                            low[row, j], high[row, j] = interval.low, interval.high
                        if n_permutations:
                            test = rsa.permutation_test(
                                layer_rdms[name], rdms, compare_method, n_permutations=n_permutations, seed=seed
                            )
                            p_value[row, j] = test.p_value
                    except ValueError as error:
                        raise ValueError(f"layer {name!r} against reference {reference!r}: {error}") from None
                row += 1
                bar.update(1)
    return LayerProfile(
        layers=tuple(names),
        references=tuple(given),
        similarity=similarity,
        low=low,
        high=high,
        p_value=p_value,
        noise_ceilings=ceilings,
        rdms=layer_rdms,
        reference_rdms=given,
        rdm_method=rdm_method,
        compare_method=compare_method,
        n_bootstrap=n_bootstrap,
        n_permutations=n_permutations,
        confidence=float(confidence),
        seed=int(seed),
    )


def _save(figure: Any, path: str | Path | None) -> None:
    if path is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(figure)
        figure.savefig(path, dpi=100, bbox_inches="tight")


def plot_profile(profile: LayerProfile, path: str | Path | None = None, *, title: str | None = None) -> Any:
    """Similarity against layer: one line per reference, its confidence interval shaded, noise ceilings in grey.

    Layer names label the x axis (rotated); a reference given as several RDMs has its
    noise ceiling drawn as a grey band from the lower to the upper bound. Filled markers:
    p < 0.05 in the permutation test (hollow otherwise; all filled without tests).

    Args:
        profile: A :class:`LayerProfile`.
        path: Where to write the figure (PNG, PDF, SVG by suffix). Defaults to `None` (not written).
        title: The figure's title. Defaults to `None` (the methods and number of stimuli).

    Returns:
        The matplotlib ``Figure``.
    """
    from matplotlib.figure import Figure

    if not isinstance(profile, LayerProfile):
        raise ValueError(f"`profile` must be a LayerProfile. Received: {type(profile).__name__}")
    n_layers = len(profile.layers)
    figure = Figure(figsize=(max(6.0, 2.0 + 0.4 * n_layers), 4.5), layout="constrained")
    axis = figure.add_subplot()
    x = np.arange(n_layers)
    for name, ceiling in profile.noise_ceilings.items():
        axis.axhspan(ceiling.lower, ceiling.upper, color="0.6", alpha=0.3, lw=0, label=f"noise ceiling ({name})")
    for j, name in enumerate(profile.references):
        (line,) = axis.plot(x, profile.similarity[:, j], marker="o", markersize=5, label=name)
        if profile.n_bootstrap:
            axis.fill_between(x, profile.low[:, j], profile.high[:, j], color=line.get_color(), alpha=0.2, lw=0)
        if profile.n_permutations:
            hollow = profile.p_value[:, j] >= 0.05
            axis.plot(
                x[hollow],
                profile.similarity[hollow, j],
                "o",
                markersize=5,
                color=line.get_color(),
                mfc="white",
                mew=1.2,
            )
    axis.axhline(0.0, color="0.3", lw=0.8)
    axis.set_xticks(x, profile.layers, rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
    axis.set_xlim(-0.5, n_layers - 0.5)
    axis.set_xlabel("layer")
    axis.set_ylabel(f"similarity ({_SIMILARITY_NAMES[profile.compare_method]})")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=8, loc="best")
    shaded = f", {profile.confidence:.0%} bootstrap CI" if profile.n_bootstrap else ""
    axis.set_title(
        title or f"{profile.rdm_method} RDMs of {profile.n_stimuli} stimuli{shaded}",
        fontsize=10,
    )
    _save(figure, path)
    return figure


def _percentiles(matrix: np.ndarray) -> np.ndarray:
    """An RDM's off-diagonal entries as percentiles of their ranks (0 to 100), the diagonal 0."""
    rows, cols = np.triu_indices(len(matrix), k=1)
    ranks = stats.rankdata(matrix[rows, cols])
    out = np.zeros_like(matrix, dtype=np.float64)
    out[rows, cols] = 100.0 * (ranks - 1.0) / max(ranks.size - 1, 1)
    return out + out.T


def _blocks(labels: Sequence[Any]) -> list[tuple[int, int, Any]]:
    """``(start, stop, label)`` of each run of equal consecutive labels."""
    blocks, start = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            blocks.append((start, i, labels[start]))
            start = i
    return blocks


def plot_rdms(
    rdms: Mapping[str, Any],
    path: str | Path | None = None,
    *,
    labels: Sequence[Any] | None = None,
    rank: bool = False,
    columns: int | None = None,
    title: str | None = None,
) -> Any:
    """RDMs as images in a grid, with one colour bar for all of them.

    Args:
        rdms: ``{title: RDM}`` (or square matrices), all of the same stimuli.
        path: Where to write the figure. Defaults to `None` (not written).
        labels: The category of each stimulus: lines are drawn between runs of equal
            labels and, for up to 20 runs, the categories name the first column's rows.
            Defaults to `None`.
        rank: Show each RDM's dissimilarities as percentiles of their ranks (0 to 100),
            so that RDMs of different scales share the colour bar meaningfully (rank
            comparisons see nothing else). Defaults to `False` (the values, one scale).
        columns: Images per row. Defaults to `None` (about a square grid, at most 6).
        title: The figure's title. Defaults to `None`.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: for no RDMs, RDMs of different numbers of stimuli, or labels that do
            not name each stimulus.
    """
    from matplotlib.figure import Figure

    if not isinstance(rdms, Mapping) or not rdms:
        raise ValueError("`rdms` must map at least one title to an RDM. Received: none")
    given = {str(name): rsa._as_rdm(value, f"rdms[{name!r}]") for name, value in rdms.items()}
    sizes = sorted({r.n_stimuli for r in given.values()})
    if len(sizes) != 1:
        raise ValueError(f"`rdms` must all describe the same stimuli. Received: {rsa._few(sizes)} stimuli")
    n = sizes[0]
    if labels is not None:
        labels = list(labels)
        if len(labels) != n:
            raise ValueError(f"`labels` must name each of the {n} stimuli. Received: {len(labels)} labels")
    matrices = {name: _percentiles(r.square()) if rank else r.square() for name, r in given.items()}
    low = 0.0 if rank else min(float(m.min()) for m in matrices.values())
    high = 100.0 if rank else max(float(m.max()) for m in matrices.values())
    if high <= low:
        high = low + 1.0
    count = len(matrices)
    columns = int(columns) if columns else min(6, math.ceil(math.sqrt(count)))
    if columns < 1:
        raise ValueError(f"`columns` must be at least 1. Received: columns={columns}")
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(2.4 * columns + 1.2, 2.4 * rows + (0.4 if title else 0.1)), layout="constrained")
    axes = [figure.add_subplot(rows, columns, k + 1) for k in range(count)]
    blocks = _blocks(labels) if labels is not None else []
    image = None
    for k, (axis, (name, matrix)) in enumerate(zip(axes, matrices.items())):
        image = axis.imshow(matrix, cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
        axis.set_title(name, fontsize=8)
        axis.set_xticks([])
        axis.set_yticks([])
        for start, _, _ in blocks[1:]:
            axis.axhline(start - 0.5, color="white", lw=0.6)
            axis.axvline(start - 0.5, color="white", lw=0.6)
        if k % columns == 0 and 1 < len(blocks) <= 20:
            axis.set_yticks([(start + stop - 1) / 2 for start, stop, _ in blocks], [str(b[2]) for b in blocks])
            axis.tick_params(axis="y", labelsize=6, length=0)
    figure.colorbar(
        image, ax=axes, shrink=0.8, label="dissimilarity (percentile of ranks)" if rank else "dissimilarity"
    )
    if title:
        figure.suptitle(title)
    _save(figure, path)
    return figure
