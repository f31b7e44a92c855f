"""The hyperopt adapter: a :class:`~hpo.space.Space` as a hyperopt search space.

Used by the ``tpe`` strategy (:mod:`hpo.strategies._tpe`, and through it
``ga_tpe``) and by the benchmarks, which drive hyperopt's own ``fmin`` as a
peer on the same space.  A :class:`~hpo.space.Space` knows nothing of
hyperopt; everything hyperopt-specific is here, as plain functions of a space:

* :func:`to_hyperopt` -- the flat hyperopt space (dict of ``hp.*`` expressions);
* :func:`to_raw` / :func:`from_raw` -- one parameter's value to and from the
  raw value hyperopt records for its label (what ``Trials`` documents hold).

hyperopt is imported inside the functions that need it, so importing this
module (or ``hpo``) does not import hyperopt.
"""

from __future__ import annotations

import math
from typing import Any

from ..space import Choice, Float, Int, Param, ParamValue, Space

__all__ = ["from_raw", "to_hyperopt", "to_raw"]


def to_hyperopt(space: Space, *, quantized: bool = True) -> dict[str, Any]:
    """A flat hyperopt space (dict of ``hp.*`` expressions) for ``space``.

    Integers are ``scope.int`` of ``hp.quniform`` (an index onto the step
    grid) or ``hp.qloguniform``; log floats ``hp.loguniform``; choices
    ``hp.choice`` (samples are the option values, not indices); fixed
    values are literals.  Conditions are not expressed in hyperopt's
    nested form: every parameter is sampled and :meth:`Space.prune
    <hpo.space.Space.prune>` removes the inactive ones (which is also how TPE
    treats a parameter absent from a trial).

    ``quantized=False`` models integers as continuous (``hp.uniform`` over
    the index, ``hp.loguniform`` over the value, each bin ``+-0.5``), for
    the TPE strategies, which round a raw value themselves
    (:func:`from_raw`): hyperopt evaluates a quantized
    density with one Python loop per mixture component, one component per
    finished trial, which made a proposal cost 0.2 s at 1,000 trials; the
    continuous densities are vectorised. The values of such a space's
    expressions are raw, not the integers.
    """
    from hyperopt import hp
    from hyperopt.pyll import scope

    out: dict[str, Any] = {}
    for name, p in space.items():
        expr = _label(name, p, quantized)
        if isinstance(p, Int) and not quantized:
            out[name] = expr
        elif isinstance(p, Int):
            if p.log:
                out[name] = scope.int(expr)
            else:
                out[name] = scope.int(p.low + p.step * expr)
        elif isinstance(p, Choice):
            out[name] = hp.choice(name, list(p.options))
        else:
            out[name] = expr
    return out


# Conversions between hyperopt's per-label raw values and param values;
# used by the TPE strategy to read proposals and to tell foreign results.
def to_raw(space: Space, name: str, value: Any) -> float | int:
    """The raw value hyperopt records for parameter ``name`` at ``value`` (KeyError for a fixed one)."""
    p = space[name]
    if isinstance(p, Int):
        v = p.coerce(value)
        return float(v) if p.log else float((v - p.low) // p.step)
    if isinstance(p, Choice):
        return p.index(value)
    if isinstance(p, Float):
        return p.coerce(value)
    raise KeyError(name)


def from_raw(space: Space, name: str, raw: Any) -> ParamValue:
    """The value of parameter ``name`` for hyperopt's raw value ``raw`` (rounded and clipped into the space)."""
    p = space[name]
    if isinstance(p, Int):
        if p.log:
            v = int(round(float(raw)))
        else:
            v = p.low + min(max(int(round(float(raw))), 0), p.size - 1) * p.step
        return min(max(v, p.low), p.high)
    if isinstance(p, Choice):
        return p.options[min(max(int(raw), 0), len(p.options) - 1)]
    if isinstance(p, Float):
        return p.coerce(min(max(float(raw), p.low), p.high))
    return p.decode_gene(0.5)


def _label(name: str, p: Param, quantized: bool = True) -> Any:
    """The stochastic hyperopt node of one parameter (raw values, before mapping)."""
    from hyperopt import hp

    if isinstance(p, Int):
        if p.log:
            lo, hi = p._log_edges()
            return hp.qloguniform(name, lo, hi, 1) if quantized else hp.loguniform(name, lo, hi)
        return hp.quniform(name, -0.5, p.size - 0.5, 1) if quantized else hp.uniform(name, -0.5, p.size - 0.5)
    if isinstance(p, Float):
        if p.log:
            return hp.loguniform(name, math.log(p.low), math.log(p.high))
        return hp.uniform(name, p.low, p.high)
    if isinstance(p, Choice):
        return hp.choice(name, list(range(len(p.options))))
    return p.value  # Fixed: a literal
