"""``bayes``: Gaussian-process Bayesian optimisation (scikit-learn) with expected improvement.

* Features: the genome (:meth:`Space.encode`) with integer genes snapped to
  their bin and each :class:`Choice` one-hot encoded (an ordinal gene would
  invent distances between categories); inactive parameters get a constant.
* Model: ``GaussianProcessRegressor`` with ``Constant * Matern(nu=2.5, ARD) +
  White`` noise and ``normalize_y``; hyperparameters are refitted whenever
  ``refit_growth`` (10 %) of the results are new since the last fit (at every
  ``ask`` below 20 results), warm-started from the previous fit
  plus ``n_restarts`` random restarts; in between, the GP is conditioned on the
  new results with the last kernel (one Cholesky factorisation). The
  hyperparameter fit was 97 % of a proposal's time at 300 results.
* Long searches: beyond ``max_points`` results (500) the GP sees the best
  half of that many and a seeded random sample of the rest, so a proposal's
  cost stops growing (a GP is cubic in its points).
* Values are modelled as they are (``output_transform="none"``, default);
  ``"rank"`` rank-Gaussianises them first, which protects against
  a few huge values (diverged runs) but measured far worse on smooth
  objectives.
* Acquisition: expected improvement (exploration margin ``xi``, in units of the
  (transformed) values) maximised over ``n_candidates`` uniform random genomes
  plus as many Gaussian perturbations of the best points (the optimum of EI
  is usually close to the incumbent, where uniform candidates are sparse).
* Batches and busy workers: points asked but not told are added as "kriging
  believer" fantasies (the GP's own mean, with the fitted kernel fixed), so
  EI drops around them and a batch spreads out.
* Failed results are *penalised*: they enter the model with the worst value
  seen so far, steering EI away from regions that fail.  Before ``n_startup``
  points (Latin hypercube) or while fewer than two results succeeded, points
  are random.
* Start-up: ``n_startup`` defaults to ``d + 1`` Latin-hypercube points for a
  genome of ``d`` genes, at most 10 (3 on Branin, 5 on the 4-parameter mixed
  function, 7 on Hartmann-6).  The GP models from a handful of points, and
  each start-up point past that is a trial not spent on EI: over 40 seeds of
  Hartmann-6 the best of 200 random points was reached in a median of 22.5
  trials with 4 to 7 start-up points, 25 with 10 (the earlier default);
  Branin 18.5 against 20.5 (20 seeds).  The price: more Hartmann-6 runs
  stay in its local minimum for 100 trials (17 of 40 against 12 of 40; the
  median regret at 100 trials is still 0.005, see BENCHMARKS.md section 1).
  An explicit ``n_startup`` is kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..space import Choice, Int, Space, _test
from ..trial import Result
from ._base import Strategy

__all__ = ["BayesStrategy"]


class BayesStrategy(Strategy):
    """GP + expected improvement (see the module docstring)."""

    name = "bayes"

    def __init__(
        self,
        space: Space | Mapping[str, Any],
        *,
        seed: int = 0,
        n_startup: int | None = None,
        n_candidates: int = 1000,
        xi: float = 0.01,
        n_restarts: int = 1,
        output_transform: str = "none",
        refit_growth: float = 0.1,
        max_points: int = 500,
    ) -> None:
        """GP settings as in the module docstring."""
        super().__init__(space, seed=seed)
        if n_startup is None:
            n_startup = min(10, len(self.space.dims) + 1)
        if isinstance(n_startup, bool) or not isinstance(n_startup, (int, np.integer)) or n_startup < 0:
            raise ValueError(f"n_startup must be an integer >= 0 or None; received {n_startup!r}")
        if n_candidates < 1:
            raise ValueError(f"n_candidates must be >= 1; received {n_candidates}")
        if output_transform not in ("rank", "none"):
            raise ValueError(f"output_transform must be 'rank' or 'none'; received {output_transform!r}")
        self.n_startup = int(n_startup)
        self.n_candidates = int(n_candidates)
        self.xi = float(xi)
        self.n_restarts = int(n_restarts)
        if refit_growth < 0:
            raise ValueError(f"refit_growth must be >= 0; received {refit_growth}")
        if max_points < 10:
            raise ValueError(f"max_points must be >= 10; received {max_points}")
        self.output_transform = output_transform
        self.refit_growth = float(refit_growth)
        self.max_points = int(max_points)
        self._fitted_n = 0  # results seen by the last hyperparameter fit
        self._startup = self._lhs(self.n_startup)
        self._conditional = any(p.active_if is not None for p in self.space.values())
        self._X: list[np.ndarray] = []
        self._y: list[float] = []  # +inf for failures
        self._genomes: list[np.ndarray] = []  # genomes of the told points, for local candidates
        self._kernel: Any = None  # last fitted kernel (warm start)

    # ------------------------------------------------------------ features --
    def _active_mask(self, genomes: np.ndarray) -> np.ndarray:
        """Which genes are active in each genome row (conditions evaluated per row, parents only)."""
        n = len(genomes)
        mask = np.ones((n, len(self.space.dims)), dtype=bool)
        if not self._conditional:
            return mask
        col = {name: j for j, name in enumerate(self.space.dims)}
        active: dict[str, np.ndarray] = {}
        values: dict[str, list[Any]] = {}
        for name, p in self.space.items():
            a = np.ones(n, dtype=bool)
            for parent, op, operand in p.conditions:
                if parent not in values:
                    j = col.get(parent)
                    par = self.space[parent]
                    values[parent] = (
                        [par.decode_gene(g) for g in genomes[:, j]] if j is not None else [par.decode_gene(0.5)] * n
                    )
                a &= active[parent] & np.fromiter((_test(v, op, operand) for v in values[parent]), bool, n)
            active[name] = a
            if name in col:
                mask[:, col[name]] = a
        return mask

    def _features(self, genomes: np.ndarray) -> np.ndarray:
        """Feature matrix of genome rows (see the module docstring)."""
        genomes = np.clip(np.asarray(genomes, dtype=float), 0.0, 1.0)
        mask = self._active_mask(genomes)
        cols = []
        for j, name in enumerate(self.space.dims):
            p = self.space[name]
            g = genomes[:, j]
            if isinstance(p, Choice):
                k = len(p.options)
                block = np.eye(k)[np.minimum((g * k).astype(int), k - 1)]
                inactive = 0.0
            elif isinstance(p, Int):
                if p.log:
                    lo, hi = p._log_edges()
                    v = np.clip(np.round(np.exp(lo + g * (hi - lo))), p.low, p.high)
                    block = ((np.log(v) - lo) / (hi - lo))[:, None]
                else:
                    idx = np.minimum((g * p.size).astype(int), p.size - 1)
                    block = ((idx + 0.5) / p.size)[:, None]
                inactive = 0.5
            else:
                block = g[:, None]
                inactive = 0.5
            cols.append(np.where(mask[:, j][:, None], block, inactive))
        return np.hstack(cols) if cols else np.zeros((len(genomes), 0))

    # ------------------------------------------------------------- fitting --
    def _targets(self) -> np.ndarray:
        y = np.asarray(self._y, dtype=float)
        finite = np.isfinite(y)
        y = np.where(finite, y, y[finite].max())  # failures: worst value seen
        if self.output_transform == "rank":
            from scipy.stats import norm, rankdata

            y = norm.ppf((rankdata(y) - 0.5) / len(y))
        return y

    def _fit(self, X: np.ndarray, y: np.ndarray, kernel: Any = None) -> Any:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        fixed = kernel is not None
        if not fixed:
            # Warm start from the previous fit: the optimiser starts where the
            # last one ended, which is both faster and more stable.
            kernel = self._kernel
        if kernel is None:
            dim = X.shape[1]
            kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
                length_scale=np.full(dim, 0.3), length_scale_bounds=(1e-2, 1e2), nu=2.5
            ) + WhiteKernel(1e-4, (1e-8, 1e-1))
        if not fixed:
            gp = GaussianProcessRegressor(
                kernel=kernel,
                normalize_y=True,
                n_restarts_optimizer=self.n_restarts,
                random_state=int(self.rng.integers(2**31 - 1)),
            )
        else:
            gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True, optimizer=None)
        import warnings

        with warnings.catch_warnings():
            # Bounds warnings of the hyperparameter optimiser are expected on tiny data.
            warnings.simplefilter("ignore")
            gp.fit(X, y)
        if not fixed:
            self._kernel = gp.kernel_
        return gp

    def _subset(self, n: int, y: np.ndarray) -> np.ndarray:
        """Indices of the results the GP sees: all, or beyond ``max_points`` the best half and a random rest."""
        if n <= self.max_points:
            return np.arange(n)
        order = np.argsort(y, kind="stable")
        best = order[: self.max_points // 2]
        rest = self.rng.choice(order[self.max_points // 2 :], size=self.max_points - len(best), replace=False)
        return np.sort(np.concatenate([best, rest]))

    def _candidates(self, best_genomes: np.ndarray) -> np.ndarray:
        d = len(self.space.dims)
        uniform = self.rng.random((self.n_candidates, d))
        if len(best_genomes) == 0:
            return uniform
        centers = best_genomes[self.rng.integers(len(best_genomes), size=self.n_candidates)]
        scales = self.rng.choice([0.01, 0.03, 0.1, 0.2], size=(self.n_candidates, 1))
        local = np.clip(centers + self.rng.normal(size=(self.n_candidates, d)) * scales, 0.0, 1.0)
        return np.vstack([uniform, local])

    # ------------------------------------------------------------- ask/tell --
    def _ask(self, n: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while self._startup and len(out) < n and len(self._seen) < self.n_startup:
            p = self._accept(self.space.decode(self._startup.pop(0)))
            if p is not None:
                out.append(p)
        if len(out) >= n:
            return out
        if len(self.space.dims) == 0 or sum(math.isfinite(v) for v in self._y) < 2:
            return out + self._fill(n - len(out))
        out.extend(self._ask_ei(n - len(out), out))
        return out

    def _ask_ei(self, k: int, already: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from threadpoolctl import threadpool_limits

        # The matrices are tiny: BLAS threads only add overhead (2x slower measured).
        with threadpool_limits(limits=1):
            return self._ask_ei_inner(k, already)

    def _ask_ei_inner(self, k: int, already: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from scipy.stats import norm

        X = np.vstack(self._X)
        y = self._targets()
        keep = self._subset(len(y), y)
        X, y = X[keep], y[keep]
        n = len(self._y)
        if self._kernel is None or n - self._fitted_n >= max(1, int(self.refit_growth * n)):
            gp = self._fit(X, y)
            self._fitted_n = n
        else:
            gp = self._fit(X, y, kernel=self._kernel)
        best_y = float(y.min())
        order = keep[np.argsort(y)[: max(5, len(y) // 10)]]
        best_genomes = np.vstack([self._genomes[i] for i in order])
        # Busy points: handed out earlier, or accepted earlier in this ask.
        pend = [self.space.encode(p) for p in [*self._pending.values(), *already]]
        out: list[dict[str, Any]] = []
        Xf, yf = X, y
        for _ in range(k):
            if pend:
                # Kriging believer: pending points take the model's own mean.
                Xp = self._features(np.asarray(pend, dtype=float))
                Xf = np.vstack([X, Xp])
                yf = np.concatenate([y, gp.predict(Xp)])
                model = self._fit(Xf, yf, kernel=gp.kernel_)
            else:
                model = gp
            cand = self._candidates(best_genomes)
            F = self._features(cand)
            mu, sd = model.predict(F, return_std=True)
            sd = np.maximum(sd, 1e-12)
            z = (best_y - mu - self.xi) / sd
            ei = (best_y - mu - self.xi) * norm.cdf(z) + sd * norm.pdf(z)
            chosen = None
            for i in np.argsort(-ei, kind="stable")[:64]:
                chosen = self._accept(self.space.decode(cand[i].tolist()))
                if chosen is not None:
                    pend.append(cand[i].tolist())
                    break
            if chosen is None:
                filled = self._fill(1)
                if not filled:
                    break
                chosen = filled[0]
                pend.append(self.space.encode(chosen))
            out.append(chosen)
        return out

    def _tell(self, results: list[Result]) -> None:
        for r in results:
            g = np.asarray(self.space.encode(r.params), dtype=float)
            self._genomes.append(g)
            self._X.append(self._features(g[None, :])[0])
            self._y.append(r.loss)
