"""hpo: a hyperparameter search engine that knows nothing of Keras.

Public surface (implementation modules are private; import from here or from
the listed modules):

* search spaces -- :mod:`hpo.space`: :class:`Space`, :class:`Int`,
  :class:`Float`, :class:`Choice`, :class:`Fixed`, :func:`params_hash`;
* strategies -- :mod:`hpo.strategies`: :class:`Strategy` and the registry
  (:func:`hpo.strategies.get`, :func:`hpo.strategies.available`) with
  ``grid``, ``random``, ``tpe``, ``ga``, ``bayes``, ``ga_tpe``, ``auto``, and
  ``nsga2``, ``nsga2_tpe`` for several objectives;
* results and trials -- :class:`Result`, :class:`Trial`;
* the durable trial store -- :mod:`hpo.store`: :class:`TrialStore`,
  :class:`StoreError`;
* executors -- :mod:`hpo.executors` (serial, local process pool, MPI and
  Horovod rounds, the asynchronous MPI pool) and device pinning in
  :mod:`hpo.devices`;
* pruning -- :mod:`hpo.pruners`: ``median``, ``successive_halving``,
  ``hyperband``, and :func:`hpo.pruners.report` for a trial's per-step values;
* several objectives -- :mod:`hpo.pareto` (non-dominated sorting, the Pareto
  front, hypervolume) and the ``nsga2`` strategies;
* the loop -- :mod:`hpo.loop`: :func:`run_search`, :class:`Budget`;
* reports -- :mod:`hpo.report`: :func:`hpo.report.write_report`,
  :func:`hpo.report.summary`.

Heavy dependencies (scikit-learn, scipy, hyperopt, DEAP) are imported only
when a feature needs them; TensorFlow and Keras never are.
"""

from __future__ import annotations

from . import pruners, strategies
from .loop import Budget, SearchAborted, run_search
from .space import Choice, Fixed, Float, Int, Param, Space, canonical_json, params_hash
from .store import StoreError, TrialStore
from .strategies import Strategy
from .trial import Result, Trial

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Budget",
    "SearchAborted",
    "run_search",
    "Space",
    "Param",
    "Int",
    "Float",
    "Choice",
    "Fixed",
    "params_hash",
    "canonical_json",
    "Result",
    "Trial",
    "Strategy",
    "strategies",
    "pruners",
    "TrialStore",
    "StoreError",
]
