"""Representational similarity analysis (RSA): which layer of a network represents stimuli as a brain area does.

A representational dissimilarity matrix (RDM) holds, for every pair of stimuli, how
differently a system responds to them. Two systems with different units (a layer's
channels, a monkey's neurons) are compared through their RDMs (Kriegeskorte et al.,
2008): the more alike the RDMs, the more alike the representational geometries.

* :func:`layer_activations`: the responses of chosen layers of a Keras model to a
  batch of stimuli, from one multi-output model that shares the model's layers,
  nested models included.
* :func:`rdm`: an :class:`RDM` from response patterns (stimuli x units): correlation
  distance, squared Euclidean per unit, cosine distance, or the cross-validated
  Euclidean/Mahalanobis ("crossnobis") distance when there are repeats.
* :func:`compare`: the similarity of two RDMs over their upper triangles: Spearman,
  Kendall's tau-a, Pearson or cosine.
* :func:`bootstrap` (resampling stimuli), :func:`permutation_test` (permuting stimulus
  labels) and :func:`noise_ceiling` (Nili et al., 2014): the statistics a reviewer asks for.
* :func:`load_reference`: reference RDMs from .npy, .npz or .csv files, given as
  matrices or as raw responses.

The numerics use numpy and scipy only and follow ``rsatoolbox`` (the field's
reference implementation) exactly where the methods coincide, which the tests check
to 1e-6: ``rdm(..., "correlation" | "euclidean" | "crossnobis")`` equals
``rsatoolbox.rdm.calc_rdm(..., method=...)`` (including its definition of
``"euclidean"``: the *squared* Euclidean distance divided by the number of units);
``compare(..., "spearman" | "tau_a" | "pearson" | "cosine")`` equals
``rsatoolbox.rdm.compare(..., method="spearman" | "tau-a" | "corr" | "cosine")``;
one :func:`bootstrap` sample equals ``compare`` of ``RDMs.subsample_pattern`` with
the same stimuli; :func:`noise_ceiling` equals ``rsatoolbox.inference.boot_noise_ceiling``.
rsatoolbox has no cosine-distance RDM; ours is scipy's ``pdist(metric="cosine")``.

Where rsatoolbox returns NaN (a constant pattern under correlation distance, a
zero pattern under cosine distance, a constant RDM under Pearson or Spearman), these
functions raise a ``ValueError`` that names the stimuli or the RDM instead.
"""

from __future__ import annotations

import csv
import difflib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial.distance import squareform

__all__ = [
    "COMPARISONS",
    "RDM",
    "RDM_METHODS",
    "BootstrapResult",
    "NoiseCeiling",
    "PermutationResult",
    "bootstrap",
    "compare",
    "default_layers",
    "layer_activations",
    "layer_rdms",
    "load_reference",
    "noise_ceiling",
    "permutation_test",
    "rdm",
]

RDM_METHODS = ("correlation", "euclidean", "cosine", "crossnobis")
COMPARISONS = ("spearman", "tau_a", "pearson", "cosine")

# Layers whose outputs are compared by default: convolutions, poolings, dense layers.
_DEFAULT_KINDS = (
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "AdaptiveMaxPooling1D",
    "AdaptiveMaxPooling2D",
    "AdaptiveMaxPooling3D",
    "AdaptiveAveragePooling1D",
    "AdaptiveAveragePooling2D",
    "AdaptiveAveragePooling3D",
    "Dense",
    "EinsumDense",
)


# ---------------------------------------------------------------------------------------------
# The RDM
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class RDM:
    """A representational dissimilarity matrix, stored as its upper triangle.

    Attributes:
        dissimilarities: The ``n * (n - 1) / 2`` entries above the diagonal, row by row
            (the order of ``np.triu_indices(n, k=1)``, scipy's ``squareform`` and rsatoolbox).
        n_stimuli: The number of stimuli ``n`` (rows of the matrix).
        method: How the dissimilarities were computed (one of :data:`RDM_METHODS`, or
            ``"reference"`` for a matrix read from a file).
        labels: Optional names of the stimuli, in order; used in error messages.
    """

    dissimilarities: np.ndarray
    n_stimuli: int
    method: str = "reference"
    labels: tuple[str, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        self.dissimilarities = np.asarray(self.dissimilarities, dtype=np.float64).reshape(-1)
        self.n_stimuli = int(self.n_stimuli)
        if self.dissimilarities.size != self.n_stimuli * (self.n_stimuli - 1) // 2:
            raise ValueError(
                f"an RDM of {self.n_stimuli} stimuli has {self.n_stimuli * (self.n_stimuli - 1) // 2} "
                f"dissimilarities. Received: {self.dissimilarities.size}"
            )
        if self.n_stimuli < 3:
            raise ValueError(f"RSA needs at least 3 stimuli. Received: n_stimuli={self.n_stimuli}")
        if not np.all(np.isfinite(self.dissimilarities)):
            raise ValueError("an RDM's dissimilarities must be finite. Received: NaN or infinity")
        if self.labels is not None:
            self.labels = tuple(str(label) for label in self.labels)
            if len(self.labels) != self.n_stimuli:
                raise ValueError(
                    f"`labels` must name each of the {self.n_stimuli} stimuli. Received: {len(self.labels)} labels"
                )

    @classmethod
    def from_matrix(cls, matrix: Any, *, method: str = "reference", labels: Sequence[str] | None = None) -> RDM:
        """An RDM from a square, symmetric matrix with a zero diagonal.

        Raises:
            ValueError: if the matrix is not square, not symmetric (to 1e-6 relative),
                has a non-zero diagonal or non-finite entries, or has fewer than 3 rows.
        """
        matrix = np.asarray(matrix, dtype=np.float64)
        _check_rdm_matrix(matrix, "matrix")
        return cls(matrix[np.triu_indices(len(matrix), k=1)], len(matrix), method, labels)

    def vector(self) -> np.ndarray:
        """The upper triangle (a copy), row by row."""
        return self.dissimilarities.copy()

    def square(self) -> np.ndarray:
        """The full ``(n, n)`` symmetric matrix with a zero diagonal."""
        return squareform(self.dissimilarities, checks=False)

    def __repr__(self) -> str:
        return f"RDM(n_stimuli={self.n_stimuli}, method={self.method!r})"


def _check_rdm_matrix(matrix: np.ndarray, name: str) -> None:
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"`{name}` must be a square RDM (n, n). Received: shape={matrix.shape}")
    if len(matrix) < 3:
        raise ValueError(f"RSA needs at least 3 stimuli. Received: {len(matrix)} in `{name}`")
    if not np.all(np.isfinite(matrix)):
        rows = sorted({int(i) for i in np.argwhere(~np.isfinite(matrix))[:, 0]})
        raise ValueError(f"`{name}` must be finite. Received: NaN or infinity in rows {_few(rows)}")
    scale = max(float(np.abs(matrix).max()), np.finfo(np.float64).tiny)
    asymmetry = float(np.abs(matrix - matrix.T).max())
    if asymmetry > 1e-6 * scale:
        i, j = np.unravel_index(int(np.argmax(np.abs(matrix - matrix.T))), matrix.shape)
        raise ValueError(
            f"`{name}` must be a symmetric RDM. Received: entry ({i}, {j}) = {matrix[i, j]:.6g} "
            f"but ({j}, {i}) = {matrix[j, i]:.6g}"
        )
    diagonal = float(np.abs(np.diag(matrix)).max())
    if diagonal > 1e-6 * scale:
        raise ValueError(
            f"`{name}` must have a zero diagonal (a dissimilarity matrix; for a similarity matrix S pass 1 - S). "
            f"Received: largest diagonal entry {diagonal:.6g}"
        )


def _few(items: Sequence[Any], limit: int = 10) -> str:
    shown = ", ".join(str(item) for item in items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def _stimuli(indices: Sequence[int], labels: tuple[str, ...] | None) -> str:
    if labels is None:
        return _few([int(i) for i in indices])
    return _few([f"{int(i)} ({labels[int(i)]!r})" for i in indices])


def _as_rdm(value: Any, name: str) -> RDM:
    """An :class:`RDM`, or a square matrix, or an upper-triangle vector, as an :class:`RDM`."""
    if isinstance(value, RDM):
        return value
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 2:
        _check_rdm_matrix(array, name)
        return RDM(array[np.triu_indices(len(array), k=1)], len(array))
    if array.ndim == 1:
        n = int(round((1 + math.sqrt(1 + 8 * array.size)) / 2))
        if n * (n - 1) // 2 != array.size:
            raise ValueError(
                f"`{name}` must be an RDM, a square matrix or an upper triangle of n*(n-1)/2 entries. "
                f"Received: a vector of {array.size} entries"
            )
        if n < 3:
            raise ValueError(f"RSA needs at least 3 stimuli. Received: {n} in `{name}`")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"`{name}` must be finite. Received: NaN or infinity")
        return RDM(array, n)
    raise ValueError(
        f"`{name}` must be an RDM, a square matrix or an upper-triangle vector. Received: shape={array.shape}"
    )


def _as_rdms(value: Any, name: str) -> list[RDM]:
    """One RDM or several (subjects, repeats): a list of :class:`RDM`."""
    if isinstance(value, RDM):
        return [value]
    if isinstance(value, np.ndarray) and value.ndim == 3:
        return [_as_rdm(matrix, f"{name}[{k}]") for k, matrix in enumerate(value)]
    if isinstance(value, Sequence) and not isinstance(value, str | bytes) and value:
        first = value[0]
        if isinstance(first, RDM) or np.ndim(first) in (1, 2):
            return [_as_rdm(item, f"{name}[{k}]") for k, item in enumerate(value)]
    return [_as_rdm(value, name)]


def _same_size(rdms_a: Sequence[RDM], rdms_b: Sequence[RDM], names: tuple[str, str]) -> int:
    sizes = {r.n_stimuli for r in rdms_a} | {r.n_stimuli for r in rdms_b}
    if len(sizes) != 1:
        a = sorted({r.n_stimuli for r in rdms_a})
        b = sorted({r.n_stimuli for r in rdms_b})
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must describe the same stimuli. Received: {_few(a)} and {_few(b)} stimuli"
        )
    return sizes.pop()


# ---------------------------------------------------------------------------------------------
# RDMs from patterns
# ---------------------------------------------------------------------------------------------


def rdm(
    patterns: Any,
    method: str = "correlation",
    *,
    labels: Sequence[str] | None = None,
    noise: Any = None,
) -> RDM:
    """The RDM of response patterns: one row per stimulus, one column per unit.

    Methods (``d(i, j)`` between the patterns ``x_i`` and ``x_j`` of ``p`` units):

    * ``"correlation"``: ``1 - r(x_i, x_j)``, Pearson's r over units (rsatoolbox's
      ``"correlation"``). A constant pattern has no correlation: ``ValueError``.
    * ``"euclidean"``: ``||x_i - x_j||^2 / p``, the *squared* Euclidean distance per
      unit, exactly rsatoolbox's ``"euclidean"`` (which it labels "squared euclidean").
      It is the quantity ``"crossnobis"`` estimates without bias; rank comparisons
      (Spearman, tau-a) are the same as for the plain Euclidean distance.
    * ``"cosine"``: ``1 - cos(x_i, x_j)``, as ``scipy.spatial.distance.pdist(metric="cosine")``
      (rsatoolbox has none). A zero pattern has no direction: ``ValueError``.
    * ``"crossnobis"``: needs repeats, ``patterns`` of shape ``(n_repeats, n_stimuli, p)``.
      Leave-one-repeat-out cross-validated squared distance ``(a_i - a_j)^T N (b_i - b_j) / p``,
      ``b`` one repeat, ``a`` the mean of the others, averaged over the repeats; ``N``
      is the noise precision ``noise`` (identity by default: the cross-validated
      Euclidean distance). Unbiased, so it can be negative. Equal to rsatoolbox's
      ``"crossnobis"`` with one fold per repeat.

    Patterns of shape ``(n_repeats, n_stimuli, p)`` given to the other methods are
    averaged over repeats first (as rsatoolbox averages by descriptor). Other trailing
    dimensions (height, width, channels) are flattened into units.

    Args:
        patterns: ``(n_stimuli, ...)`` responses, or ``(n_repeats, n_stimuli, ...)`` with repeats.
        method: One of :data:`RDM_METHODS`. Defaults to `"correlation"`.
        labels: Names of the stimuli, for messages. Defaults to `None`.
        noise: ``"crossnobis"`` only: a ``(p, p)`` noise precision matrix. Defaults to `None` (identity).

    Returns:
        An :class:`RDM`; its values are computed in float64.

    Raises:
        ValueError: for an unknown method, fewer than 3 stimuli, non-finite responses,
            constant (correlation) or zero (cosine) patterns, named by stimulus, or
            ``"crossnobis"`` without repeats.
    """
    if method not in RDM_METHODS:
        raise ValueError(f"`method` must be one of {', '.join(map(repr, RDM_METHODS))}. Received: method={method!r}")
    if noise is not None and method != "crossnobis":
        raise ValueError(f"`noise` is used by method='crossnobis' only. Received: method={method!r}")
    array = np.asarray(patterns)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"`patterns` must be real numbers. Received: dtype={array.dtype}")
    if method == "crossnobis":
        if array.ndim < 3 or array.shape[0] < 2:
            raise ValueError(
                f"`patterns` for 'crossnobis' must be (n_repeats >= 2, n_stimuli, units). Received: shape={array.shape}"
            )
        array = array.reshape(array.shape[0], array.shape[1], -1)
        n = array.shape[1]
    else:
        if array.ndim < 2:
            raise ValueError(f"`patterns` must be (n_stimuli, units). Received: shape={array.shape}")
        if array.ndim == 3:
            array = array.mean(axis=0, dtype=np.float64)
        array = array.reshape(array.shape[0], -1)
        n = array.shape[0]
    if n < 3:
        raise ValueError(f"RSA needs at least 3 stimuli. Received: {n}")
    if labels is not None:
        labels = tuple(str(label) for label in labels)
        if len(labels) != n:
            raise ValueError(f"`labels` must name each of the {n} stimuli. Received: {len(labels)} labels")
    if array.shape[-1] == 0:
        raise ValueError(f"`patterns` must have at least one unit. Received: shape={np.shape(patterns)}")

    if method == "crossnobis":
        _check_finite(array.transpose(1, 0, 2).reshape(n, -1), labels)
        matrix = _crossnobis(array.astype(np.float64), noise)
    else:
        _check_finite(array, labels)
        gram, constant, zero = _gram(array, method)
        squares = np.diag(gram)
        if method == "euclidean":
            matrix = np.maximum(squares[:, None] + squares[None, :] - 2.0 * gram, 0.0) / array.shape[1]
        else:
            if method == "correlation":
                bad = np.flatnonzero(constant)
                what = "a constant pattern (zero variance over units): its correlation distance is undefined"
            else:
                bad = np.flatnonzero(zero)
                what = "an all-zero pattern: its cosine distance is undefined"
            if bad.size:
                who = (
                    f"stimuli {_stimuli(bad, labels)} each have"
                    if bad.size > 1
                    else f"stimulus {_stimuli(bad, labels)} has"
                )
                raise ValueError(f"{who} {what}; drop them or use method='euclidean'")
            norms = np.sqrt(squares)
            matrix = 1.0 - gram / norms[:, None] / norms[None, :]
    return RDM(matrix[np.triu_indices(n, k=1)], n, method, labels)


_CHUNK_VALUES = 1 << 22  # pattern values converted to float64 at a time (32 MB)


def _check_finite(array: np.ndarray, labels: tuple[str, ...] | None) -> None:
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(f"`patterns` must be finite. Received: NaN or infinity for stimuli {_stimuli(bad, labels)}")


def _gram(array: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(gram, constant, zero)``: the float64 inner products of the centred patterns, and which are constant or zero.

    Patterns are centred per stimulus for correlation distance, per unit for the Euclidean
    distance (which leaves distances unchanged and keeps the Gram matrix well conditioned), not
    for cosine distance. Units are taken a block at a time, so a wide float32 layer is never
    copied whole to float64.
    """
    n, p = array.shape
    row_means = array.mean(axis=1, dtype=np.float64) if method == "correlation" else None
    gram = np.zeros((n, n))
    low, high = np.full(n, np.inf), np.full(n, -np.inf)
    step = max(1, _CHUNK_VALUES // n)
    for start in range(0, p, step):
        block = array[:, start : start + step].astype(np.float64)
        low, high = np.minimum(low, block.min(axis=1)), np.maximum(high, block.max(axis=1))
        if method == "correlation":
            block -= row_means[:, None]
        elif method == "euclidean":
            block -= block.mean(axis=0)
        gram += block @ block.T
    return gram, low == high, (low == 0.0) & (high == 0.0)


def _crossnobis(array: np.ndarray, noise: Any) -> np.ndarray:
    n_repeats, n, p = array.shape
    if noise is not None:
        noise = np.asarray(noise, dtype=np.float64)
        if noise.shape != (p, p):
            raise ValueError(f"`noise` must be a ({p}, {p}) precision matrix. Received: shape={noise.shape}")
    total = array.sum(axis=0)
    matrix = np.zeros((n, n))
    for r in range(n_repeats):
        test = array[r]
        train = (total - test) / (n_repeats - 1)
        kernel = train @ test.T if noise is None else train @ noise @ test.T
        diagonal = np.diag(kernel)
        matrix += diagonal[:, None] + diagonal[None, :] - kernel - kernel.T
    return matrix / (n_repeats * p)


# ---------------------------------------------------------------------------------------------
# Comparing RDMs
# ---------------------------------------------------------------------------------------------


def _comparison(method: str) -> str:
    normalised = method.replace("-", "_") if isinstance(method, str) else method
    if normalised not in COMPARISONS:
        raise ValueError(f"`method` must be one of {', '.join(map(repr, COMPARISONS))}. Received: method={method!r}")
    return normalised


def _centred(vector: np.ndarray, centre: bool, name: str, what: str) -> np.ndarray:
    # Tested before centring: the mean of equal values need not equal them to the last bit.
    if (centre and np.ptp(vector) == 0.0) or not np.any(vector):
        kind = "has the same dissimilarity for all" if centre else "is zero for all"
        raise ValueError(f"`{name}` {kind} {vector.size} stimulus pairs compared: its {what} is undefined")
    return vector - vector.mean() if centre else vector


def _tau_a(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-a, exactly: (concordant - discordant pairs) / all pairs; ties count zero.

    scipy's tau-b is ``(C - D) / sqrt((n0 - n1) (n0 - n2))`` with ``n1``, ``n2`` the pairs tied
    in ``a``, in ``b``; ``C - D`` is an integer, recovered exactly by rounding (O(m log m)).
    """
    m = a.size
    n0 = m * (m - 1) // 2

    def tied(x: np.ndarray) -> int:
        counts = np.unique(x, return_counts=True)[1].astype(np.int64)
        return int((counts * (counts - 1) // 2).sum())

    untied = (n0 - tied(a)) * (n0 - tied(b))
    if untied == 0:
        return 0.0
    tau_b = stats.kendalltau(a, b).statistic
    return float(np.clip(round(float(tau_b) * math.sqrt(untied)) / n0, -1.0, 1.0))


def _similarity(a: np.ndarray, b: np.ndarray, method: str, names: tuple[str, str] = ("rdm_a", "rdm_b")) -> float:
    """The comparison of two upper-triangle vectors of equal length."""
    if method == "tau_a":
        return _tau_a(a, b)
    if method == "spearman":
        a, b = stats.rankdata(a), stats.rankdata(b)
    centre = method != "cosine"
    what = {"spearman": "Spearman correlation", "pearson": "Pearson correlation", "cosine": "cosine similarity"}[method]
    a, b = _centred(a, centre, names[0], what), _centred(b, centre, names[1], what)
    # One square root of the product: exactly 1.0 for an RDM and itself.
    value = float(a @ b) / math.sqrt(float(a @ a) * float(b @ b))
    return float(np.clip(value, -1.0, 1.0))


def compare(rdm_a: Any, rdm_b: Any, method: str = "spearman") -> float:
    """The similarity of two RDMs over the dissimilarities above the diagonal.

    * ``"spearman"``: Pearson's r of the ranks (ties get their average rank), as
      rsatoolbox's ``"spearman"``, which rank-transforms before correlating.
    * ``"tau_a"``: Kendall's tau-a, ``(concordant - discordant) / pairs``, computed
      exactly; tied pairs count as neither, so an RDM with tied dissimilarities is
      less than 1 similar to itself (``1 - tied pairs / pairs``): tau-a, unlike
      tau-b, does not reward a model for predicting ties (Nili et al., 2014). As
      rsatoolbox's ``"tau-a"`` (also accepted here).
    * ``"pearson"``: Pearson's r, as rsatoolbox's ``"corr"``.
    * ``"cosine"``: the cosine of the two vectors (not centred), as rsatoolbox's ``"cosine"``.

    Results are clipped to [-1, 1]; an RDM compared with itself gives 1.0 (tau-a: with no ties).

    Args:
        rdm_a: An :class:`RDM`, a square matrix or an upper-triangle vector.
        rdm_b: Another, of the same stimuli in the same order.
        method: One of :data:`COMPARISONS`. Defaults to `"spearman"`.

    Returns:
        The similarity, a float.

    Raises:
        ValueError: for different numbers of stimuli, an unknown method, or an RDM
            whose dissimilarities are all equal (Spearman, Pearson) or all zero
            (cosine), where the similarity is undefined.
    """
    method = _comparison(method)
    a, b = _as_rdm(rdm_a, "rdm_a"), _as_rdm(rdm_b, "rdm_b")
    _same_size([a], [b], ("rdm_a", "rdm_b"))
    return _similarity(a.dissimilarities, b.dissimilarities, method)


def _mean_similarity(model: np.ndarray, references: Sequence[np.ndarray], method: str) -> float:
    return float(np.mean([_similarity(model, ref, method, ("rdm", "reference")) for ref in references]))


_CHUNK_ENTRIES = 2_000_000  # stimulus-pair entries per batch of resamples (16 MB per float64 array)


def _ranks(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Average ranks along rows among the valid entries (invalid ones, put last as +inf, do not move them)."""
    return stats.rankdata(np.where(valid, values, np.inf), axis=1)


def _batch_similarities(a: np.ndarray, b: np.ndarray, valid: np.ndarray, method: str) -> np.ndarray:
    """Row by row, the comparison of ``a`` and ``b`` over their ``valid`` entries; NaN where undefined."""
    if method == "tau_a":
        out = np.full(len(a), np.nan)
        for k, keep in enumerate(valid):
            x, y = a[k, keep], b[k, keep]
            out[k] = _tau_a(x, y)
        return out
    if method == "spearman":
        a, b = _ranks(a, valid), _ranks(b, valid)
    undefined = np.zeros(len(a), dtype=bool)
    if method != "cosine":
        count = valid.sum(axis=1, keepdims=True)
        for x in (a, b):
            low = np.where(valid, x, np.inf).min(axis=1)
            undefined |= low == np.where(valid, x, -np.inf).max(axis=1)
        a = a - np.where(valid, a, 0.0).sum(axis=1, keepdims=True) / count
        b = b - np.where(valid, b, 0.0).sum(axis=1, keepdims=True) / count
    a, b = np.where(valid, a, 0.0), np.where(valid, b, 0.0)
    numerator = np.einsum("ij,ij->i", a, b)
    denominator = np.sqrt(np.einsum("ij,ij->i", a, a) * np.einsum("ij,ij->i", b, b))
    undefined |= denominator == 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(undefined, np.nan, numerator / denominator)
    return np.clip(values, -1.0, 1.0)


def _resampled_similarities(
    model: np.ndarray, references: Sequence[np.ndarray], orders: np.ndarray, method: str, *, references_too: bool
) -> np.ndarray:
    """Mean similarity to the references of the (square) model RDM with its stimuli re-indexed by each row of ``orders``.

    ``references_too``: re-index the references the same way (a bootstrap draw), or keep them
    in their order (a permutation of the model's stimulus labels). Pairs of a stimulus with a
    copy of itself (a draw with repeats) are left out. Rows are processed in batches.
    """
    n = model.shape[0]
    rows, cols = np.triu_indices(n, k=1)
    out = np.empty(len(orders))
    step = max(1, _CHUNK_ENTRIES // rows.size)
    for start in range(0, len(orders), step):
        batch = orders[start : start + step]
        i, j = batch[:, rows], batch[:, cols]
        valid = i != j
        moved = model[i, j]
        seen = [ref[i, j] if references_too else np.broadcast_to(ref[rows, cols], i.shape) for ref in references]
        out[start : start + len(batch)] = np.mean([_batch_similarities(moved, r, valid, method) for r in seen], axis=0)
    return out


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class BootstrapResult:
    """Similarity of an RDM to a reference, with its bootstrap distribution over stimuli.

    Attributes:
        estimate: The similarity on all stimuli.
        low: Lower end of the percentile confidence interval.
        high: Upper end of the percentile confidence interval.
        confidence: The interval's coverage, e.g. 0.95.
        samples: The similarity in each usable bootstrap sample.
        indices: ``(n_bootstrap, n_stimuli)``: the stimuli drawn for each sample (sorted).
        n_undefined: Samples dropped because the similarity was undefined there
            (e.g. a categorical RDM that is constant over the stimuli drawn).
    """

    estimate: float
    low: float
    high: float
    confidence: float
    samples: np.ndarray
    indices: np.ndarray
    n_undefined: int = 0

    @property
    def std(self) -> float:
        """Bootstrap standard error of the similarity."""
        return float(np.std(self.samples, ddof=1))


@dataclass(eq=False)
class PermutationResult:
    """Permutation test of RDM relatedness (stimulus-label randomisation).

    Attributes:
        estimate: The similarity with the stimuli in their true order.
        p_value: One-sided: the chance of a similarity at least as large under the
            null hypothesis that the RDMs are unrelated.
        null: The similarities under the permutations.
        exact: Whether every permutation of the stimuli was used (few stimuli).
    """

    estimate: float
    p_value: float
    null: np.ndarray
    exact: bool


@dataclass(eq=False)
class NoiseCeiling:
    """The range the similarity of the true model to the reference data would fall in.

    Attributes:
        lower: Mean similarity of each reference RDM to the average of the others
            (leave one out; the true model can do at least this well).
        upper: Mean similarity of each reference RDM to the average of all (overfitted;
            no model can do better on average).
    """

    lower: float
    upper: float


def _check_statistic_arguments(rdm_: Any, reference: Any, method: str) -> tuple[RDM, list[RDM], str]:
    method = _comparison(method)
    model = _as_rdm(rdm_, "rdm")
    references = _as_rdms(reference, "reference")
    _same_size([model], references, ("rdm", "reference"))
    return model, references, method


def bootstrap(
    rdm: Any,
    reference: Any,
    method: str = "spearman",
    *,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Confidence interval of an RDM's similarity to a reference, by bootstrapping the stimuli.

    Each sample draws ``n`` stimuli with replacement and compares the two RDMs restricted
    to them; pairs of a stimulus with a copy of itself are left out (their zero
    dissimilarity would be trivially predicted), as rsatoolbox's ``bootstrap_sample_pattern``
    and ``RDMs.subsample_pattern`` do. Samples with fewer than 3 distinct stimuli are
    drawn again. The interval is the percentile interval of the samples. The stimuli
    drawn depend on ``seed`` and ``n`` only, so calls for several layers with one seed
    resample the same stimuli (their intervals are paired).

    Args:
        rdm: The RDM to evaluate (an :class:`RDM`, square matrix or upper triangle).
        reference: The reference RDM, or several (subjects, repeats: a list, or a
            ``(k, n, n)`` array); with several, the similarity is the mean over them.
        method: One of :data:`COMPARISONS`. Defaults to `"spearman"`.
        n_bootstrap: Samples drawn. Defaults to `1000`.
        confidence: Coverage of the interval, in (0, 1). Defaults to `0.95`.
        seed: Seed of the stimulus draws. Defaults to `0`.

    Returns:
        A :class:`BootstrapResult`.

    Raises:
        ValueError: for bad arguments, or if the similarity is undefined on all stimuli
            or in more than half of the samples.
    """
    model, references, method = _check_statistic_arguments(rdm, reference, method)
    if int(n_bootstrap) < 2:
        raise ValueError(f"`n_bootstrap` must be at least 2. Received: n_bootstrap={n_bootstrap}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"`confidence` must be in (0, 1). Received: confidence={confidence}")
    n = model.n_stimuli
    estimate = _mean_similarity(model.dissimilarities, [r.dissimilarities for r in references], method)
    rng = np.random.default_rng(seed)
    indices = np.empty((int(n_bootstrap), n), dtype=np.int64)
    for k in range(int(n_bootstrap)):
        draw = rng.integers(0, n, size=n)
        while np.unique(draw).size < 3:
            draw = rng.integers(0, n, size=n)
        indices[k] = np.sort(draw)
    squares = [r.square() for r in references]
    samples = _resampled_similarities(model.square(), squares, indices, method, references_too=True)
    defined = np.isfinite(samples)
    n_undefined = int((~defined).sum())
    if n_undefined > n_bootstrap / 2:
        raise ValueError(
            f"the {method} similarity is undefined in {n_undefined} of {n_bootstrap} bootstrap samples "
            "(an RDM constant over the stimuli drawn); use method='tau_a' or more stimuli"
        )
    samples = samples[defined]
    low, high = np.quantile(samples, [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    return BootstrapResult(estimate, float(low), float(high), float(confidence), samples, indices, n_undefined)


def permutation_test(
    rdm: Any,
    reference: Any,
    method: str = "spearman",
    *,
    n_permutations: int = 1000,
    seed: int = 0,
) -> PermutationResult:
    """Is an RDM related to a reference? Stimulus-label randomisation (Nili et al., 2014).

    The rows and columns of ``rdm`` are permuted together (the stimulus labels are
    shuffled) and compared with the reference each time. The one-sided p-value is
    ``(1 + #{null >= estimate}) / (1 + n_permutations)``; when ``n!`` permutations are
    no more than ``n_permutations`` (6 stimuli or fewer at the default), all of them
    are used and ``p = #{null >= estimate} / n!`` exactly.

    Args:
        rdm: The RDM to test (an :class:`RDM`, square matrix or upper triangle).
        reference: The reference RDM, or several (the mean similarity is tested).
        method: One of :data:`COMPARISONS`. Defaults to `"spearman"`.
        n_permutations: Random permutations. Defaults to `1000`.
        seed: Seed of the permutations. Defaults to `0`.

    Returns:
        A :class:`PermutationResult`.
    """
    model, references, method = _check_statistic_arguments(rdm, reference, method)
    if int(n_permutations) < 1:
        raise ValueError(f"`n_permutations` must be at least 1. Received: n_permutations={n_permutations}")
    n = model.n_stimuli
    estimate = _mean_similarity(model.dissimilarities, [r.dissimilarities for r in references], method)
    exact = math.factorial(n) <= int(n_permutations)
    if exact:
        orders = np.array(list(itertools.permutations(range(n))), dtype=np.int64)
    else:
        rng = np.random.default_rng(seed)
        orders = np.stack([rng.permutation(n) for _ in range(int(n_permutations))])
    squares = [r.square() for r in references]
    null = _resampled_similarities(model.square(), squares, orders, method, references_too=False)
    count = len(orders)
    at_least = int(np.sum(null >= estimate - 1e-12))
    p_value = at_least / count if exact else (1 + at_least) / (1 + count)
    return PermutationResult(estimate, float(p_value), null, exact)


def _pool(vectors: np.ndarray, method: str) -> np.ndarray:
    """The average RDM that fits a set of RDMs best under ``method`` (rsatoolbox's ``pool_rdm``)."""
    if method == "cosine":
        vectors = vectors / np.sqrt(np.mean(vectors**2, axis=1, keepdims=True))
    elif method == "pearson":
        vectors = vectors - vectors.mean(axis=1, keepdims=True)
        vectors = vectors / vectors.std(axis=1, keepdims=True)
    else:  # rank-based: average ranks (for tau-a, an approximation, as in rsatoolbox)
        vectors = np.apply_along_axis(stats.rankdata, 1, vectors)
    return vectors.mean(axis=0)


def noise_ceiling(reference_rdms: Any, method: str = "spearman") -> NoiseCeiling:
    """Noise ceiling of the similarity to a set of reference RDMs (subjects or repeats).

    Following Nili et al. (2014) and rsatoolbox's ``boot_noise_ceiling``: the upper
    bound is the mean similarity of each reference RDM to the pooled RDM of all of
    them; the lower bound, to the pooled RDM of the others (leave one out). Pooling
    averages the RDMs after the transform the comparison is blind to: z-scores for
    Pearson, division by the root mean square for cosine, ranks for Spearman and
    tau-a (for tau-a an approximation, as in rsatoolbox). A model whose similarity
    reaches the lower bound explains the reference as well as the data allow.

    Args:
        reference_rdms: At least 2 RDMs of the same stimuli (a list, or a ``(k, n, n)`` array).
        method: One of :data:`COMPARISONS`. Defaults to `"spearman"`.

    Returns:
        A :class:`NoiseCeiling` (``lower <= upper`` up to sampling noise).
    """
    method = _comparison(method)
    references = _as_rdms(reference_rdms, "reference_rdms")
    if len(references) < 2:
        raise ValueError(
            f"a noise ceiling needs at least 2 reference RDMs (subjects or repeats). Received: {len(references)}"
        )
    sizes = [r.n_stimuli for r in references]
    if len(set(sizes)) != 1:
        raise ValueError(f"`reference_rdms` must all describe the same stimuli. Received: {_few(sizes)} stimuli")
    vectors = np.stack([r.dissimilarities for r in references])
    for k, vector in enumerate(vectors):
        # Pooling z-scores (Pearson) or divides by the root mean square (cosine): refuse what would give NaN.
        if (method in ("pearson", "spearman") and np.ptp(vector) == 0.0) or (method == "cosine" and not vector.any()):
            what = "is zero" if method == "cosine" else "has the same dissimilarity"
            raise ValueError(f"`reference_rdms[{k}]` {what} for all stimulus pairs: its {method} ceiling is undefined")
    everyone = _pool(vectors, method)
    lower, upper = [], []
    for k in range(len(vectors)):
        others = _pool(np.delete(vectors, k, axis=0), method)
        names = ("pooled reference", f"reference_rdms[{k}]")
        lower.append(_similarity(others, vectors[k], method, names))
        upper.append(_similarity(everyone, vectors[k], method, names))
    return NoiseCeiling(float(np.mean(lower)), float(np.mean(upper)))


# ---------------------------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path) -> tuple[np.ndarray, list[str] | None, list[str] | None]:
    """A numeric table, with an optional header row and an optional first column of names."""
    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"{path} holds no rows")
    header = None
    if not all(_is_number(cell) for cell in rows[0] if cell.strip()):
        header, rows = [cell.strip() for cell in rows[0]], rows[1:]
    names = None
    if rows and not all(_is_number(row[0]) for row in rows):
        names, rows = [row[0].strip() for row in rows], [row[1:] for row in rows]
        if header is not None and len(header) == len(rows[0]) + 1:
            header = header[1:]
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise ValueError(f"{path} must be a rectangular table. Received: rows of {sorted(widths)} cells")
    try:
        table = np.array([[float(cell) if cell.strip() else np.nan for cell in row] for row in rows])
    except ValueError as error:
        raise ValueError(f"{path} must hold numbers only (besides a header row and a name column): {error}") from None
    return table, header, names


def _read_array(path: Path, key: str | None) -> tuple[np.ndarray, list[str] | None]:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False), None
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if key is None:
                if len(keys) != 1:
                    raise ValueError(f"{path} holds several arrays; choose one with `key`. Received: keys {keys}")
                key = keys[0]
            if key not in keys:
                raise ValueError(f"`key` must be one of {keys} in {path}. Received: key={key!r}")
            return archive[key], None
    if suffix == ".csv":
        table, header, names = _read_csv(path)
        square = table.shape[0] == table.shape[1]
        return table, names if names is not None else (header if square else None)
    raise ValueError(f"`path` must be a .npy, .npz or .csv file. Received: {path}")


def load_reference(
    path: str | Path,
    *,
    kind: str = "auto",
    method: str = "correlation",
    key: str | None = None,
) -> list[RDM]:
    """Reference RDMs from a file: a dissimilarity matrix, or the responses to compute one from.

    The file (``.npy``, ``.npz`` with ``key`` naming the array when it holds several,
    or ``.csv`` with an optional header row and first column of stimulus names) holds:

    * a square, symmetric ``(n, n)`` matrix with a zero diagonal: an RDM;
    * a ``(k, n, n)`` stack of them: one RDM per subject or repeat;
    * an ``(n_stimuli, units)`` response matrix: its RDM by ``method``;
    * ``(k, n_stimuli, units)`` responses of ``k`` subjects or repeats: one RDM each
      (for a noise ceiling), or with ``method="crossnobis"`` one cross-validated RDM.

    ``kind="auto"`` reads square matrices (and stacks of them) as RDMs and other
    shapes as responses; ``kind="responses"`` reads a square table as responses
    (as many units as stimuli), ``kind="rdm"`` insists on RDMs.

    Args:
        path: The file.
        kind: ``"auto"``, ``"rdm"`` or ``"responses"``. Defaults to `"auto"`.
        method: One of :data:`RDM_METHODS`, for responses. Defaults to `"correlation"`.
        key: The array of an ``.npz`` file. Defaults to `None` (its only array).

    Returns:
        A list of :class:`RDM` (one element for a single matrix), stimulus labels
        from a CSV's name column (or header, for a square matrix) when present.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: one line, for an unreadable or ill-shaped file, a matrix that is
            not symmetric or has a non-zero diagonal, NaN, or fewer than 3 stimuli.
    """
    path = Path(path)
    if kind not in ("auto", "rdm", "responses"):
        raise ValueError(f"`kind` must be 'auto', 'rdm' or 'responses'. Received: kind={kind!r}")
    if method not in RDM_METHODS:
        raise ValueError(f"`method` must be one of {', '.join(map(repr, RDM_METHODS))}. Received: method={method!r}")
    if not path.is_file():
        raise FileNotFoundError(f"reference file not found: {path}")
    array, labels = _read_array(path, key)
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{path} must hold real numbers. Received: dtype={array.dtype}")
    array = array.astype(np.float64)
    if array.ndim not in (2, 3):
        raise ValueError(
            f"{path} must hold an (n, n) RDM, (n_stimuli, units) responses or a stack of either. "
            f"Received: shape={array.shape}"
        )
    square = array.shape[-1] == array.shape[-2]
    as_rdm = kind == "rdm" or (kind == "auto" and square)
    if kind == "rdm" and not square:
        raise ValueError(f"`{path.name}` must be a square RDM (n, n). Received: shape={array.shape}")
    if not np.all(np.isfinite(array)):
        where = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(f"{path} must be finite. Received: NaN or infinity at index {tuple(int(i) for i in where)}")
    if as_rdm:
        matrices = array[None] if array.ndim == 2 else array
        hint = "" if kind == "rdm" else " (pass kind='responses' if its rows are response patterns)"
        out = []
        for k, matrix in enumerate(matrices):
            name = path.name if array.ndim == 2 else f"{path.name}[{k}]"
            try:
                _check_rdm_matrix(matrix, name)
            except ValueError as error:
                raise ValueError(f"{error}{hint}") from None
            out.append(RDM.from_matrix(matrix, labels=_labels_if_fit(labels, len(matrix))))
        return out
    if method == "crossnobis":
        if array.ndim != 3:
            raise ValueError(
                f"'crossnobis' needs responses with repeats (n_repeats, n_stimuli, units). Received: shape={array.shape}"
            )
        return [rdm(array, "crossnobis", labels=_labels_if_fit(labels, array.shape[1]))]
    blocks = array[None] if array.ndim == 2 else array
    return [rdm(block, method, labels=_labels_if_fit(labels, block.shape[0])) for block in blocks]


def _labels_if_fit(labels: list[str] | None, n: int) -> list[str] | None:
    return labels if labels is not None and len(labels) == n else None


# ---------------------------------------------------------------------------------------------
# Activations of a Keras model
# ---------------------------------------------------------------------------------------------


def _functional_graph(model: Any) -> Any:
    """The functional graph that runs ``model``: itself, or a Sequential model's inner one; else None."""
    import keras

    graph = getattr(model, "_functional", None)  # Sequential models run a Functional built inside
    if graph is not None:
        return graph
    if (
        isinstance(model, keras.Model)
        and hasattr(model, "_run_through_graph")
        and getattr(model, "_nodes_by_depth", None)
    ):
        return model
    return None


def _trace(model: Any) -> tuple[list, list[tuple[str, Any, Any]]]:
    """``(inputs, [(name, layer, symbolic output), ...])`` for every layer, nested models opened.

    The model's graph is run again on its own inputs, calling the same layer objects (so
    weights are shared); a nested functional or Sequential model is not called as one
    layer but its own graph is run in place, which makes its inner layers' outputs part
    of the outer graph. (Building ``keras.Model(outer_inputs, inner_layer.output)``
    fails with "Graph disconnected", since the inner layers were called on the nested
    model's own inputs.) A ``training`` argument the nested model was called with is
    passed to its layers, as Keras does. Subclassed models are single layers here.

    This runs the graph with ``Function._run_through_graph`` (as ``Functional.call`` does) and
    reads ``Sequential._functional``: Keras 3 internals, with no public equivalent; the tests
    pin them down.
    """
    import keras

    graph = _functional_graph(model)
    if graph is None:
        raise ValueError(
            "layer activations need a functional or Sequential model, built (with known inputs). "
            f"Received: {type(model).__name__} {getattr(model, 'name', '')!r}"
        )
    records: list[tuple[str, Any, Any]] = []
    seen: dict[str, int] = {}

    def run(fn: Any, inputs: Any, training: bool | None) -> Any:
        def operation_fn(operation: Any) -> Any:
            inner = _functional_graph(operation) if isinstance(operation, keras.Model) else None

            def call(*args: Any, **kwargs: Any) -> Any:
                if training is not None and "training" in getattr(operation, "_call_context_args", {}):
                    kwargs["training"] = training
                if inner is not None:
                    output = run(inner, args[0], kwargs.get("training"))
                else:
                    output = operation(*args, **kwargs)
                if isinstance(operation, keras.layers.Layer) and isinstance(output, keras.KerasTensor):
                    count = seen.get(operation.name, 0) + 1
                    seen[operation.name] = count
                    name = operation.name if count == 1 else f"{operation.name}#{count}"
                    records.append((name, operation, output))
                return output

            return call

        return fn._run_through_graph(inputs, operation_fn=operation_fn)

    run(graph, graph.inputs, None)
    return graph.inputs, records


def _is_default(layer: Any) -> bool:
    import keras

    kinds = tuple(getattr(keras.layers, kind) for kind in _DEFAULT_KINDS if hasattr(keras.layers, kind))
    return isinstance(layer, kinds) and not isinstance(layer, keras.Model)


def default_layers(model: Any) -> list[str]:
    """The layers :func:`layer_activations` reads by default: every convolution, pooling and dense layer.

    Nested functional and Sequential models are opened (e.g. the MobileNetV2 base in a
    classifier); names are in the order the layers run. Their outputs are taken as the
    layers return them: a convolution's output before the batch normalisation and
    activation that follow it as separate layers.
    """
    return [name for name, layer, _ in _trace(model)[1] if _is_default(layer)]


def _chosen_layers(model: Any, records: list[tuple[str, Any, Any]], layers: Sequence[str] | str | None) -> list[str]:
    """The names ``layers`` asks for (by default :func:`default_layers`), each checked against the traced ``records``."""
    if layers is None:
        names = [name for name, layer, _ in records if _is_default(layer)]
        if not names:
            raise ValueError(f"model {model.name!r} has no convolution, pooling or dense layer; pass `layers`")
        return names
    names = [layers] if isinstance(layers, str) else [str(name) for name in layers]
    known = [name for name, _, _ in records]
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"no layer named {name!r} in model {model.name!r} (nested models included).{hint} "
                f"Layers: {', '.join(known)}"
            )
    return names


def _batches(stimuli: Any, n: int, batch_size: int):
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        if isinstance(stimuli, list | tuple):
            yield stop - start, [np.asarray(part[start:stop]) for part in stimuli]
        else:
            yield stop - start, np.asarray(stimuli[start:stop])


def layer_activations(
    model: Any,
    stimuli: Any,
    layers: Sequence[str] | None = None,
    *,
    batch_size: int = 32,
) -> dict[str, np.ndarray]:
    """Responses of a model's layers to stimuli, one ``(n_stimuli, features)`` array per layer.

    One multi-output Keras model is built (see :func:`default_layers` for how nested
    models are reached); it shares the model's layers and weights, and runs in
    inference mode (dropout off, batch-norm moving statistics), ``batch_size``
    stimuli at a time. Each layer's output is flattened per stimulus.

    Args:
        model: A functional or Sequential ``keras.Model`` (nested models allowed; a
            subclassed model inside counts as one layer).
        stimuli: ``(n_stimuli, ...)`` inputs of the model (a list of arrays for several inputs).
        layers: Names of the layers to read, in the order wanted. A layer called
            twice (shared) has ``name#2`` for its second call. Defaults to `None`
            (:func:`default_layers`).
        batch_size: Stimuli per forward pass. Defaults to `32`.

    Returns:
        ``{name: float32 array (n_stimuli, features)}``, in the order of ``layers``
        (by default, the order the layers run).

    Raises:
        ValueError: for a layer name the model does not have (the message lists the
            names it has), no stimuli, or a model that is not functional or Sequential.
    """
    import keras

    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be at least 1. Received: batch_size={batch_size}")
    inputs, records = _trace(model)
    by_name = {name: output for name, _, output in records}
    names = _chosen_layers(model, records, layers)
    first = stimuli[0] if isinstance(stimuli, list | tuple) else stimuli
    n = len(first)
    if n == 0:
        raise ValueError("`stimuli` must hold at least one stimulus. Received: 0")
    if len(inputs) == 1 and not isinstance(stimuli, list | tuple):
        expected = tuple(inputs[0].shape[1:])
        got = tuple(np.shape(stimuli)[1:])
        if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected, got)):
            raise ValueError(
                f"`stimuli` must be (n_stimuli, {', '.join(str(e) for e in expected)}) for model {model.name!r}. "
                f"Received: shape={np.shape(stimuli)}"
            )
    single = len(inputs) == 1  # called with one array, as the model was built: no input-structure warning
    outputs = [by_name[name] for name in names]
    features = keras.Model(inputs[0] if single else inputs, outputs, name=f"{model.name}_rsa_features")
    out: dict[str, np.ndarray] = {}
    start = 0
    for size, batch in _batches(stimuli, n, int(batch_size)):
        # Called eagerly: predict_on_batch() would trace a function for each new feature model (one per call
        # here, one per group of layer_profile), and TensorFlow warns of retracing after five.
        results = features(batch[0] if single and isinstance(batch, list) else batch, training=False)
        if len(names) == 1 and not isinstance(results, list | tuple):
            results = [results]
        for name, result in zip(names, results):
            flat = np.asarray(result).reshape(size, -1)
            if name not in out:
                out[name] = np.empty((n, flat.shape[1]), dtype=np.float32)
            out[name][start : start + size] = flat
        start += size
    return out


def layer_rdms(activations: dict[str, np.ndarray], method: str = "correlation") -> dict[str, RDM]:
    """The RDM of each layer's activations (from :func:`layer_activations`), by ``method``.

    Raises:
        ValueError: as :func:`rdm`, with the layer named (e.g. a layer whose units are all
            zero for some stimuli, as dead ReLUs give, under correlation distance).
    """
    out = {}
    for name, values in activations.items():
        try:
            out[name] = rdm(values, method)
        except ValueError as error:
            raise ValueError(f"layer {name!r}: {error}") from None
    return out
