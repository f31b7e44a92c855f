"""``auto``: GP-EI (``bayes``) on small unconditional spaces, GA+TPE (``ga_tpe``) otherwise.

The rule
--------
:func:`choose` looks at the space once, when the strategy is built:

* any conditional parameter (``active_if``, a searched one: a conditional
  fixed value changes nothing for the model) -> ``ga_tpe``: its GA genome and
  TPE densities treat an inactive parameter as absent, where the GP can only
  give it a constant feature;
* more than ``max_gp_features`` (10) GP input features -> ``ga_tpe``.  The
  features are the GP's inputs: one per float or integer parameter, one per
  option of a category (one-hot), nothing for a fixed value.  A GP with one
  length scale per feature needs more points than budgets of ~100 trials give
  once the features go past about ten, and its proposals get slower;
* otherwise -> ``bayes``.

Why: on the cheap benchmark problems (``benchmarks/bench_strategies.py``:
Branin, 2 features; Hartmann-6, 6; the mixed float/int/log/category function,
7; 10 seeds, 100 trials, sequential) GP-EI reached the best of 200 random
points in a median of 18.5 / 20 / 22 trials (GA+TPE 33 / 36 / 36, Optuna TPE
24.5 / 23 / 47.5) and a median regret at 100 trials of 8e-6 / 0.12 / 2e-7
(GA+TPE 0.018 / 0.19 / 0.003, Optuna TPE 0.019 / 0.12 / 0.004; on 40 seeds
of Hartmann-6 0.005 against Optuna TPE's 0.10).  GA+TPE refines slowly in
several continuous dimensions (its elite of 6 breeds by crossover and
mutation, see BENCHMARKS.md section 1).
GA+TPE stays the choice where a GP is a poor model (conditional or wide
spaces) and where a proposal must stay cheap.

Other parts:

* The chosen strategy is built with the same seed and receives every ``ask``
  and ``tell`` unchanged, so ``auto`` gives exactly the trials of the strategy
  it chose (same seed, same space, same settings).
* ``use`` forces the choice (``"bayes"`` or ``"ga_tpe"``); after construction
  the attribute holds the strategy in use, so the settings recorded with a
  search (``hpo.loop``'s engine record) say which one ran, and rebuilding with
  the recorded settings gives the same strategy.  :attr:`AutoStrategy.reason`
  says why, in words.
* ``bayes_settings`` / ``ga_tpe_settings`` are passed to that strategy when it
  is used (unknown keys raise TypeError at construction, for both).
* Hand-off (``handoff_after``, default None = never): a GP proposal costs
  0.1-0.2 s up to ~1,000 results (``bayes`` caps its points at
  ``max_points``); a long search of cheap trials can hand over to GA+TPE once
  that many results are told.  GA+TPE is then told every result so far, and
  the points still pending are registered with it (it never proposes them
  again and its TPE treats them as pending).  ``use`` then reads
  ``"ga_tpe"`` and :attr:`AutoStrategy.handed_off_at` the number of results.
* Failed results, warm starts and dedup: as the chosen strategy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..space import Choice, Space, params_hash
from ..trial import Result
from ._base import Strategy

__all__ = ["AutoStrategy", "choose", "gp_features"]

_CHOICES = ("bayes", "ga_tpe")


def gp_features(space: Space) -> int:
    """How many input features the ``bayes`` GP has for ``space`` (one-hot categories, no fixed values)."""
    return sum(len(p.options) if isinstance(p, Choice) else 1 for p in (space[name] for name in space.dims))


def choose(space: Space | Mapping[str, Any], max_gp_features: int = 10) -> tuple[str, str]:
    """The strategy ``auto`` uses on ``space`` and why: ``("bayes" | "ga_tpe", reason)`` (see the module docstring)."""
    if not isinstance(space, Space):
        space = Space.from_dict(space)
    conditional = [name for name in space.dims if space[name].active_if is not None]
    if conditional:
        return "ga_tpe", f"conditional parameters ({', '.join(conditional)})"
    n = gp_features(space)
    if n > max_gp_features:
        return "ga_tpe", f"{n} GP features > max_gp_features={max_gp_features}"
    return "bayes", f"no conditional parameters and {n} GP features <= max_gp_features={max_gp_features}"


def _settings(what: str, value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a mapping of settings or None; received {value!r}")
    return dict(value)


class AutoStrategy(Strategy):
    """Chooses ``bayes`` or ``ga_tpe`` from the space and delegates to it (see the module docstring)."""

    name = "auto"

    def __init__(
        self,
        space: Space | Mapping[str, Any],
        *,
        seed: int = 0,
        use: str | None = None,
        max_gp_features: int = 10,
        handoff_after: int | None = None,
        bayes_settings: Mapping[str, Any] | None = None,
        ga_tpe_settings: Mapping[str, Any] | None = None,
    ) -> None:
        """Pick the strategy by :func:`choose` (or ``use``) and build it with ``seed``; settings as in the module docstring."""
        super().__init__(space, seed=seed)
        from . import settings_of, strategy_class

        if use is not None and use not in _CHOICES:
            raise ValueError(f"use must be None, 'bayes' or 'ga_tpe'; received {use!r}")
        if isinstance(max_gp_features, bool) or not isinstance(max_gp_features, int) or max_gp_features < 0:
            raise ValueError(f"max_gp_features must be an integer >= 0; received {max_gp_features!r}")
        if handoff_after is not None and (
            isinstance(handoff_after, bool) or not isinstance(handoff_after, int) or handoff_after < 1
        ):
            raise ValueError(f"handoff_after must be None or an integer >= 1; received {handoff_after!r}")
        self.max_gp_features = max_gp_features
        self.handoff_after = handoff_after
        self.bayes_settings = _settings("bayes_settings", bayes_settings)
        self.ga_tpe_settings = _settings("ga_tpe_settings", ga_tpe_settings)
        for name in _CHOICES:
            unknown = sorted(set(self._settings_for(name)) - set(settings_of(strategy_class(name))))
            if unknown:
                raise TypeError(f"{name}_settings has unknown setting(s) {unknown}")
        if use is None:
            use, self.reason = choose(self.space, max_gp_features)
        else:
            self.reason = f"use={use!r} was given"
        #: The strategy in use ("bayes" or "ga_tpe"); a setting, so the engine record shows it.
        self.use: str = use
        #: How many results had been told when the search handed over to GA+TPE (None: it did not).
        self.handed_off_at: int | None = None
        self._inner: Strategy = self._build(use)

    def _settings_for(self, name: str) -> dict[str, Any]:
        return dict((self.bayes_settings if name == "bayes" else self.ga_tpe_settings) or {})

    def _build(self, name: str) -> Strategy:
        from . import get

        return get(name, self.space, seed=self.seed, **self._settings_for(name))

    @property
    def strategy(self) -> Strategy:
        """The strategy ``auto`` delegates to (read-only use: ask and tell go through ``auto``)."""
        return self._inner

    @property
    def exhausted(self) -> bool:
        """True once the strategy in use has nothing left to propose."""
        return self._inner.exhausted

    def __repr__(self) -> str:
        return f"AutoStrategy(use={self.use!r}, seed={self.seed}, asked={self.n_asked}, told={len(self.results)})"

    # ------------------------------------------------------------- ask/tell --
    def _ask(self, n: int) -> list[dict[str, Any]]:
        out = []
        for p in self._inner.ask(n):
            accepted = self._accept(p)
            if accepted is not None:  # always, unless a result was told to this object alone
                out.append(accepted)
        self._exhausted = self._inner.exhausted
        return out

    def _tell(self, results: list[Result]) -> None:
        self._inner.tell(results)
        if self.handoff_after is not None and self.use == "bayes" and len(self.results) >= self.handoff_after:
            self._hand_off()

    def _hand_off(self) -> None:
        """Replace the GP by GA+TPE, told every result so far and aware of the pending points."""
        inner = self._build("ga_tpe")
        inner.tell(self.results)
        model = getattr(inner, "model", None)
        for p in self._pending.values():
            h = params_hash(p)
            inner._seen.add(h)
            inner._pending[h] = p
            if model is not None:
                model.add_pending(p)
        self._inner = inner
        self.use = "ga_tpe"
        self.handed_off_at = len(self.results)
        self.reason += f"; handed over to ga_tpe after {self.handed_off_at} results"
