"""A vectorised TPE density-ratio scorer on the genome (``ga_tpe`` screens GA children with it).

hyperopt's TPE can only *propose* points (it samples candidates from its own
"good" density); it cannot score a point made elsewhere.  To let TPE judge GA
offspring, this module re-implements its model on the genome ``[0, 1]^d``:

* finished points are split like hyperopt: the ``ceil(gamma * sqrt(n))``
  best (at most 25) are "good", the rest (failures included, with loss
  +inf) "bad";
* bandwidths follow hyperopt's adaptive Parzen estimator: per gene, each
  point's Gaussian gets the larger gap to its sorted neighbours, clipped to
  ``[1 / min(100, n + 1), 1]``, next to a prior component N(0.5, 1) of
  weight ``prior_weight``; kernels are truncated to ``[0, 1]``;
* categorical genes use smoothed category frequencies (univariate, as
  hyperopt's ``ap_categorical``) or an Aitchison-Aitken kernel (multivariate);
* inactive genes are left out of the estimators and contribute nothing to a
  candidate's score;
* ``multivariate=False`` scores ``sum_genes log l_j(x_j) - log g_j(x_j)``
  (hyperopt's independent model); ``multivariate=True`` uses one *joint*
  kernel per point (product over genes, same bandwidths) plus a uniform prior
  component, like Optuna's multivariate TPE, which sees interactions between
  parameters.  Higher scores are more promising (monotone in TPE's expected
  improvement).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from ..space import Choice, Space
from ._tpe import n_good

__all__ = ["ParzenScorer"]

_SQRT2PI = math.sqrt(2.0 * math.pi)
_PRIOR_MU, _PRIOR_SIGMA = 0.5, 1.0


def _bandwidths(values: np.ndarray) -> np.ndarray:
    """hyperopt's adaptive Parzen bandwidth of each value (in input order), prior inserted at 0.5."""
    n = len(values)
    if n == 0:
        return np.zeros(0)
    order = np.argsort(values, kind="stable")
    srt = values[order]
    pos = int(np.searchsorted(srt, _PRIOR_MU))
    mus = np.insert(srt, pos, _PRIOR_MU)
    m = len(mus)
    if m == 2:
        sigma = np.full(2, _PRIOR_SIGMA * 0.5)
    else:
        sigma = np.empty(m)
        sigma[1:-1] = np.maximum(mus[1:-1] - mus[:-2], mus[2:] - mus[1:-1])
        sigma[0] = mus[1] - mus[0]
        sigma[-1] = mus[-1] - mus[-2]
    sigma = np.clip(sigma, _PRIOR_SIGMA / min(100.0, 1.0 + m), _PRIOR_SIGMA)
    out = np.empty(n)
    out[order] = np.delete(sigma, pos)
    return out


def _log_gmm(x: np.ndarray, mus: np.ndarray, sigmas: np.ndarray, prior_weight: float) -> np.ndarray:
    """log density at ``x`` of equal-weight kernels plus the prior, each truncated to [0, 1]."""
    mus = np.append(mus, _PRIOR_MU)
    sigmas = np.append(sigmas, _PRIOR_SIGMA)
    weights = np.ones(len(mus))
    weights[-1] = prior_weight
    weights /= weights.sum()
    mass = ndtr((1.0 - mus) / sigmas) - ndtr((0.0 - mus) / sigmas)
    z = (x[:, None] - mus[None, :]) / sigmas[None, :]
    logc = np.log(weights / (sigmas * _SQRT2PI * mass))[None, :] - 0.5 * z * z
    top = logc.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.exp(logc - top).sum(axis=1))


class _Group:
    """The finished points of one side of the split (good or bad)."""

    def __init__(self, genomes: np.ndarray, active: np.ndarray) -> None:
        self.genomes = genomes
        self.active = active
        self.sigmas = np.ones_like(genomes)
        for j in range(genomes.shape[1]):
            sel = active[:, j]
            self.sigmas[sel, j] = _bandwidths(genomes[sel, j])


class ParzenScorer:
    """TPE's ``log l(x) - log g(x)`` on genomes (see the module docstring)."""

    def __init__(
        self, space: Space, *, gamma: float = 1.0, prior_weight: float = 1.0, multivariate: bool = True
    ) -> None:
        """An unfitted scorer for ``space``."""
        self.space = space
        self.gamma = float(gamma)
        self.prior_weight = float(prior_weight)
        self.multivariate = bool(multivariate)
        self._cat = [isinstance(space[name], Choice) for name in space.dims]
        self._k = [len(space[name].options) if c else 0 for name, c in zip(space.dims, self._cat)]  # type: ignore[attr-defined]
        self._groups: tuple[_Group, _Group] | None = None

    def _index(self, x: np.ndarray, j: int) -> np.ndarray:
        k = self._k[j]
        return np.minimum((x * k).astype(int), k - 1)

    def fit(
        self, genomes: np.ndarray, active: np.ndarray, losses: np.ndarray, n_below: int | None = None
    ) -> ParzenScorer:
        """Fit on ``genomes`` (n x d), their activity mask (n x d, bool) and losses (+inf = failed).

        ``n_below``: size of the "good" set (default hyperopt's split of these ``n`` points); a
        caller fitting on a sample of its results passes the split of all of them.
        """
        genomes = np.clip(np.asarray(genomes, dtype=float), 0.0, 1.0)
        losses = np.asarray(losses, dtype=float)
        n = len(losses)
        if n_below is None:
            n_below = n_good(n, self.gamma)
        good = np.zeros(n, dtype=bool)
        good[np.argsort(losses, kind="stable")[:n_below]] = True
        self._groups = (_Group(genomes[good], active[good]), _Group(genomes[~good], active[~good]))
        return self

    def score(self, genomes: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Score candidate genomes (higher is better); ``active`` masks their inactive genes."""
        if self._groups is None:
            raise RuntimeError("ParzenScorer.score() before fit()")
        X = np.clip(np.asarray(genomes, dtype=float), 0.0, 1.0)
        if X.ndim != 2 or X.shape[1] != len(self.space.dims):
            raise ValueError(f"genomes must be (n, {len(self.space.dims)}); received shape {X.shape}")
        if active is None:
            active = np.ones(X.shape, dtype=bool)
        good, bad = self._groups
        if self.multivariate:
            return self._joint(X, active, good) - self._joint(X, active, bad)
        total = np.zeros(len(X))
        for j in range(X.shape[1]):
            s = self._marginal(X[:, j], j, good) - self._marginal(X[:, j], j, bad)
            total += np.where(active[:, j], s, 0.0)
        return total

    def _marginal(self, x: np.ndarray, j: int, group: _Group) -> np.ndarray:
        sel = group.active[:, j]
        if self._cat[j]:
            k = self._k[j]
            counts = np.bincount(self._index(group.genomes[sel, j], j), minlength=k) + self.prior_weight / k
            return np.log(counts / counts.sum())[self._index(x, j)]
        return _log_gmm(x, group.genomes[sel, j], group.sigmas[sel, j], self.prior_weight)

    def _joint(self, X: np.ndarray, active: np.ndarray, group: _Group) -> np.ndarray:
        G, S, A = group.genomes, group.sigmas, group.active
        n = len(G)
        logs = np.zeros((len(X), n))
        for j in range(X.shape[1]):
            if self._cat[j]:
                k = self._k[j]
                eps = 1.0 / (n + 1)  # Aitchison-Aitken: mostly the point's own category
                same = self._index(X[:, j], j)[:, None] == self._index(G[:, j], j)[None, :]
                lp = np.where(same, math.log(1.0 - eps), math.log(eps / (k - 1)) if k > 1 else 0.0)
            else:
                mass = ndtr((1.0 - G[:, j]) / S[:, j]) - ndtr(-G[:, j] / S[:, j])
                z = (X[:, j][:, None] - G[:, j][None, :]) / S[:, j][None, :]
                lp = -0.5 * z * z - np.log(S[:, j] * _SQRT2PI * mass)[None, :]
            logs += np.where(active[:, j][:, None] & A[:, j][None, :], lp, 0.0)
        # Mixture of the n joint kernels and a uniform prior (log density 0).
        logw = np.full(n + 1, -math.log(n + self.prior_weight))
        logw[-1] = math.log(self.prior_weight) - math.log(n + self.prior_weight)
        full = np.hstack([logs, np.zeros((len(X), 1))]) + logw[None, :]
        top = full.max(axis=1, keepdims=True)
        return top[:, 0] + np.log(np.exp(full - top).sum(axis=1))
