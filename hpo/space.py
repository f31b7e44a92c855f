"""Search spaces: parameter types, conditions, sampling, encodings and hashing.

A :class:`Space` is an ordered mapping ``name -> parameter``.  Four parameter
types exist:

* :class:`Int` -- integers ``low, low + step, ..., <= high``, optionally log scaled;
* :class:`Float` -- reals in ``[low, high]``, optionally log scaled;
* :class:`Choice` -- one of a list of plain JSON scalars;
* :class:`Fixed` -- a constant (what a scalar means in :meth:`Space.from_dict`).

Any parameter may carry a declarative condition ``active_if`` such as
``{"dense_layers": {"gt": 1}}``: the parameter exists only when every listed
(earlier) parameter satisfies its test.  Inactive parameters are *absent* from a
params dict, never ``None``-filled, so two configurations that differ only in
a value that does not matter hash the same.

Params dicts hold plain JSON scalars only (``int``, ``float``, ``str``,
``bool``, ``None``) so that they go to the trial store, to logs and to other
processes without any conversion.  :meth:`Space.canonical` coerces a params
dict to that form (``Int`` values to ``int``, ``Float`` values to ``float``
rounded to 12 significant digits) and :func:`params_hash` gives the sha256 of
its canonical JSON, the key of the trial cache.

The genome encoding (:meth:`Space.encode` / :meth:`Space.decode`) maps every
non-fixed parameter to one gene in ``[0, 1]`` -- log parameters in log space,
integers and choices as equal-width bins -- so evolutionary and model-based
strategies work on a unit hypercube whatever the parameter types.  Decoding a
uniformly random genome is exactly the prior of :meth:`Space.sample`.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Param",
    "Int",
    "Float",
    "Choice",
    "Fixed",
    "Space",
    "ParamValue",
    "canonical_json",
    "params_hash",
]

#: The value types a params dict may hold (plain JSON scalars).
ParamValue = int | float | str | bool | None

# Float values are rounded to this many significant digits in canonical form:
# enough to keep every meaningful digit of a hyperparameter, few enough that
# 0.1 + 0.2 and 0.3 (or a value that went through a YAML file) hash the same.
_FLOAT_DIGITS = 12

# Condition operators: canonical name -> accepted aliases.
_OPERATORS: dict[str, tuple[str, ...]] = {
    "eq": ("eq", "==", "="),
    "ne": ("ne", "!="),
    "gt": ("gt", ">"),
    "ge": ("ge", ">="),
    "lt": ("lt", "<"),
    "le": ("le", "<="),
    "in": ("in",),
    "not_in": ("not_in", "not in"),
}
_OP_ALIASES = {alias: name for name, aliases in _OPERATORS.items() for alias in aliases}


# --------------------------------------------------------------------------- #
# canonical JSON and hashing
# --------------------------------------------------------------------------- #
def _is_json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, str, numbers.Integral, numbers.Real))


def _plain(value: Any) -> ParamValue:
    """Convert numpy scalars to Python ones; reject anything not a JSON scalar."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(
        f"params values must be plain JSON scalars (int, float, str, bool, None); "
        f"received {type(value).__name__}: {value!r}"
    )


def _round_float(x: float) -> float:
    if not math.isfinite(x):
        return x
    return float(format(x, f".{_FLOAT_DIGITS}g"))


def _canonical_scalar(value: Any) -> ParamValue:
    """Generic canonical form of one value, independent of any space.

    Integral floats become ints (so ``1`` and ``1.0`` hash the same) and other
    floats are rounded to 12 significant digits.
    """
    value = _plain(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"params values must be finite; received {value!r}")
        value = _round_float(value)
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value


def canonical_json(params: Mapping[str, Any]) -> str:
    """Canonical JSON text of a params dict: sorted keys, compact, ints as ints.

    Integral floats are written as ints and other floats rounded to 12
    significant digits, so the text does not depend on key order, on ``1`` vs
    ``1.0`` or on the last bits of a float.
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping; received {type(params).__name__}")
    items = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise TypeError(f"params keys must be str; received {key!r}")
        items[key] = _canonical_scalar(value)
    return json.dumps(items, sort_keys=True, separators=(",", ":"), allow_nan=False)


def params_hash(params: Mapping[str, Any]) -> str:
    """The sha256 hex digest of :func:`canonical_json` -- the trial cache key."""
    return hashlib.sha256(canonical_json(params).encode("utf-8")).hexdigest()


def _token(value: Any) -> str:
    """JSON token used to compare scalars by JSON identity (``True`` != ``1``)."""
    return json.dumps(_canonical_scalar(value))


# --------------------------------------------------------------------------- #
# conditions
# --------------------------------------------------------------------------- #
def _parse_condition(active_if: Mapping[str, Any] | None) -> tuple[tuple[str, str, Any], ...]:
    """Normalise ``active_if`` into ``((parent, op, operand), ...)``.

    Accepted forms per parent: ``{"gt": 1}`` (one or more operators, ANDed),
    a list (shorthand for ``in``) or a scalar (shorthand for ``eq``).
    """
    if active_if is None:
        return ()
    if not isinstance(active_if, Mapping):
        raise ValueError(f"active_if must be a mapping like {{'dense_layers': {{'gt': 1}}}}; received {active_if!r}")
    out: list[tuple[str, str, Any]] = []
    for parent, test in active_if.items():
        if not isinstance(parent, str):
            raise ValueError(f"active_if keys must be parameter names; received {parent!r}")
        if isinstance(test, Mapping):
            if not test:
                raise ValueError(f"active_if[{parent!r}] is empty")
            for op, operand in test.items():
                name = _OP_ALIASES.get(op)
                if name is None:
                    raise ValueError(f"active_if[{parent!r}]: unknown operator {op!r}; allowed: {sorted(_OPERATORS)}")
                if name in ("in", "not_in"):
                    if not isinstance(operand, (list, tuple)):
                        raise ValueError(f"active_if[{parent!r}]: {op!r} needs a list; received {operand!r}")
                    operand = tuple(_plain(v) for v in operand)
                else:
                    operand = _plain(operand)
                out.append((parent, name, operand))
        elif isinstance(test, (list, tuple)):
            out.append((parent, "in", tuple(_plain(v) for v in test)))
        else:
            out.append((parent, "eq", _plain(test)))
    return tuple(out)


def _test(value: Any, op: str, operand: Any) -> bool:
    if op == "eq":
        return _token(value) == _token(operand)
    if op == "ne":
        return _token(value) != _token(operand)
    if op == "in":
        return _token(value) in {_token(v) for v in operand}
    if op == "not_in":
        return _token(value) not in {_token(v) for v in operand}
    try:
        if op == "gt":
            return value > operand
        if op == "ge":
            return value >= operand
        if op == "lt":
            return value < operand
        if op == "le":
            return value <= operand
    except TypeError:
        # Ordering a str against a number: the condition simply does not hold.
        return False
    raise AssertionError(op)


# --------------------------------------------------------------------------- #
# parameter types
# --------------------------------------------------------------------------- #
#: Integer parameters stay within what a float64 (and an int64) holds exactly.
_INT_LIMIT = 2**53


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be an integer; received {value!r}")
    if not isinstance(value, numbers.Integral) and not (math.isfinite(value) and float(value).is_integer()):
        raise ValueError(f"{what} must be an integer; received {value!r}")
    if abs(int(value)) > _INT_LIMIT:
        raise ValueError(f"{what} must be within +-2**53; received {value!r}")
    return int(value)


def _as_float(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a number; received {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite; received {value!r}")
    return value


class Param:
    """Base class of the parameter types (:class:`Int`, :class:`Float`, :class:`Choice`, :class:`Fixed`).

    Subclasses are frozen dataclasses; ``active_if`` is the optional condition
    (see the module docstring).  Constructors raise :class:`ValueError` on bad
    arguments; :meth:`Space.from_dict` prefixes the message with the name.
    """

    #: Number of genes in the genome encoding (0 for :class:`Fixed`).
    n_genes: int = 1
    active_if: Any

    @property
    def conditions(self) -> tuple[tuple[str, str, Any], ...]:
        """The normalised condition triples ``(parent, op, operand)``."""
        return _parse_condition(self.active_if)

    # The methods below are implemented by every subclass.
    def coerce(self, value: Any) -> ParamValue:
        """Return the canonical value for ``value`` or raise ValueError (no name)."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short human description of the allowed values, for error messages."""
        raise NotImplementedError

    def decode_gene(self, gene: float) -> ParamValue:
        """Map a gene in ``[0, 1]`` to a value."""
        raise NotImplementedError

    def encode_value(self, value: Any) -> float:
        """Map a valid value to a gene in ``[0, 1]`` (inverse of :meth:`decode_gene`)."""
        raise NotImplementedError

    def grid_values(self, n_per_float: int, max_per_int: int | None) -> list[ParamValue]:
        """Values used by :meth:`Space.grid`."""
        raise NotImplementedError

    def cardinality(self) -> int | None:
        """Number of distinct values, or None when continuous."""
        raise NotImplementedError

    def to_spec(self) -> dict[str, Any]:
        """The :meth:`Space.from_dict` form of this parameter."""
        raise NotImplementedError

    def _spec_extra(self, spec: dict[str, Any]) -> dict[str, Any]:
        if self.active_if is not None:
            spec["active_if"] = json.loads(json.dumps(self.active_if))
        return spec


@dataclass(frozen=True)
class Int(Param):
    """Integers ``low, low + step, ..., <= high`` (bounds inclusive).

    ``log=True`` samples uniformly in log space (needs ``low > 0`` and
    ``step == 1``), the usual choice for sizes such as filters or units.
    """

    low: int
    high: int
    step: int = 1
    log: bool = False
    active_if: Mapping[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        low = _as_int(self.low, "low")
        high = _as_int(self.high, "high")
        step = _as_int(self.step, "step")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "log", bool(self.log))
        if low > high:
            raise ValueError(f"low must be <= high; received low={low}, high={high}")
        if step < 1:
            raise ValueError(f"step must be >= 1; received step={step}")
        if self.log and low <= 0:
            raise ValueError(f"log scale needs low > 0; received low={low}")
        if self.log and step != 1:
            raise ValueError(f"log scale needs step=1; received step={step}")
        _parse_condition(self.active_if)

    @property
    def size(self) -> int:
        """Number of values."""
        return (self.high - self.low) // self.step + 1

    @property
    def top(self) -> int:
        """The largest value (``high`` rounded down onto the step grid)."""
        return self.low + (self.size - 1) * self.step

    # log ints use bins [v - 0.5, v + 0.5] in log space; the bounds below are
    # the outer edges so that low and high get their fair share of mass.
    def _log_edges(self) -> tuple[float, float]:
        return math.log(self.low - 0.5), math.log(self.high + 0.5)

    def coerce(self, value: Any) -> int:
        v = _as_int(value, "value")
        if v < self.low or v > self.high or (v - self.low) % self.step:
            raise ValueError(f"value must be {self.describe()}; received {value!r}")
        return v

    def describe(self) -> str:
        step = f" step {self.step}" if self.step != 1 else ""
        log = " (log)" if self.log else ""
        return f"an integer in [{self.low}, {self.high}]{step}{log}"

    def decode_gene(self, gene: float) -> int:
        g = min(max(float(gene), 0.0), 1.0)
        if self.log:
            lo, hi = self._log_edges()
            v = int(round(math.exp(lo + g * (hi - lo))))
            return min(max(v, self.low), self.high)
        k = min(int(g * self.size), self.size - 1)
        return self.low + k * self.step

    def encode_value(self, value: Any) -> float:
        v = self.coerce(value)
        if self.log:
            lo, hi = self._log_edges()
            return (math.log(v) - lo) / (hi - lo)
        return ((v - self.low) // self.step + 0.5) / self.size

    def grid_values(self, n_per_float: int, max_per_int: int | None) -> list[ParamValue]:
        values = list(range(self.low, self.top + 1, self.step))
        if max_per_int is None or len(values) <= max_per_int:
            return values
        # Too many integers: evenly spaced picks (geometric when log) snapped
        # onto the step grid, duplicates removed.
        if self.log:
            raw = np.geomspace(self.low, self.top, max_per_int)
        else:
            raw = np.linspace(self.low, self.top, max_per_int)
        picks = sorted({self.low + int(round((x - self.low) / self.step)) * self.step for x in raw})
        return [min(max(v, self.low), self.top) for v in picks]

    def cardinality(self) -> int:
        return self.size

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": "int", "low": self.low, "high": self.high}
        if self.step != 1:
            spec["step"] = self.step
        if self.log:
            spec["log"] = True
        return self._spec_extra(spec)


@dataclass(frozen=True)
class Float(Param):
    """Reals in ``[low, high]``; ``log=True`` samples uniformly in log space (needs ``low > 0``)."""

    low: float
    high: float
    log: bool = False
    active_if: Mapping[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        low = _as_float(self.low, "low")
        high = _as_float(self.high, "high")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "log", bool(self.log))
        if not low < high:
            raise ValueError(f"low must be < high; received low={low!r}, high={high!r}")
        if self.log and low <= 0:
            raise ValueError(f"log scale needs low > 0; received low={low!r}")
        _parse_condition(self.active_if)

    def coerce(self, value: Any) -> float:
        v = _round_float(_as_float(value, "value"))
        # Rounding to 12 digits may step just outside a bound; clamp it back.
        if self.low <= v <= self.high:
            return v
        tol = 1e-9 * max(abs(self.low), abs(self.high), 1e-300)
        if self.low - tol <= v <= self.high + tol:
            return min(max(v, self.low), self.high)
        raise ValueError(f"value must be {self.describe()}; received {value!r}")

    def describe(self) -> str:
        return f"a float in [{self.low!r}, {self.high!r}]" + (" (log)" if self.log else "")

    def decode_gene(self, gene: float) -> float:
        g = min(max(float(gene), 0.0), 1.0)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            v = math.exp(lo + g * (hi - lo))
        else:
            v = self.low + g * (self.high - self.low)
        return min(max(_round_float(v), self.low), self.high)

    def encode_value(self, value: Any) -> float:
        v = self.coerce(value)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            g = (math.log(v) - lo) / (hi - lo)
        else:
            g = (v - self.low) / (self.high - self.low)
        return min(max(g, 0.0), 1.0)

    def grid_values(self, n_per_float: int, max_per_int: int | None) -> list[ParamValue]:
        if n_per_float < 1:
            raise ValueError(f"n_per_float must be >= 1; received {n_per_float}")
        if n_per_float == 1:
            mid = math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2
            return [_round_float(mid)]
        pts = (
            np.geomspace(self.low, self.high, n_per_float)
            if self.log
            else np.linspace(self.low, self.high, n_per_float)
        )
        return [self.coerce(float(x)) for x in pts]

    def cardinality(self) -> None:
        return None

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.log:
            spec["log"] = True
        return self._spec_extra(spec)


@dataclass(frozen=True)
class Choice(Param):
    """One of ``options``, a non-empty sequence of distinct JSON scalars."""

    options: tuple[ParamValue, ...]
    active_if: Mapping[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        opts = self.options
        if isinstance(opts, (str, bytes)) or not isinstance(opts, Sequence):
            raise ValueError(f"options must be a list of values; received {opts!r}")
        if len(opts) == 0:
            raise ValueError("options must not be empty")
        clean: list[ParamValue] = []
        for o in opts:
            try:
                o = _plain(o)
            except TypeError:
                raise ValueError(
                    f"options must be plain JSON scalars (int, float, str, bool, None); received {o!r}"
                ) from None
            if isinstance(o, float) and not math.isfinite(o):
                raise ValueError(f"options must be finite; received {o!r}")
            clean.append(o)
        tokens = [_token(o) for o in clean]
        if len(set(tokens)) != len(tokens):
            raise ValueError(f"options must be distinct; received {list(clean)!r}")
        object.__setattr__(self, "options", tuple(clean))
        object.__setattr__(self, "_tokens", {t: i for i, t in enumerate(tokens)})
        _parse_condition(self.active_if)

    def index(self, value: Any) -> int:
        """Position of ``value`` in ``options`` (JSON identity: ``True`` is not ``1``)."""
        try:
            i = self._tokens.get(_token(value))  # type: ignore[attr-defined]
        except (TypeError, ValueError):
            i = None
        if i is None:
            raise ValueError(f"value must be {self.describe()}; received {value!r}")
        return i

    def coerce(self, value: Any) -> ParamValue:
        return self.options[self.index(value)]

    def describe(self) -> str:
        return f"one of {list(self.options)!r}"

    def decode_gene(self, gene: float) -> ParamValue:
        g = min(max(float(gene), 0.0), 1.0)
        return self.options[min(int(g * len(self.options)), len(self.options) - 1)]

    def encode_value(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.options)

    def grid_values(self, n_per_float: int, max_per_int: int | None) -> list[ParamValue]:
        return list(self.options)

    def cardinality(self) -> int:
        return len(self.options)

    def to_spec(self) -> dict[str, Any]:
        return self._spec_extra({"type": "choice", "options": list(self.options)})


@dataclass(frozen=True)
class Fixed(Param):
    """A constant value (always in the params dict when active; no gene)."""

    value: ParamValue
    active_if: Mapping[str, Any] | None = field(default=None, compare=False)
    n_genes = 0

    def __post_init__(self) -> None:
        try:
            v = _plain(self.value)
        except TypeError:
            raise ValueError(
                f"value must be a plain JSON scalar (int, float, str, bool, None); received {self.value!r}"
            ) from None
        if isinstance(v, float):
            if not math.isfinite(v):
                raise ValueError(f"value must be finite; received {v!r}")
            v = _round_float(v)
        object.__setattr__(self, "value", v)
        _parse_condition(self.active_if)

    def coerce(self, value: Any) -> ParamValue:
        try:
            same = _token(value) == _token(self.value)
        except (TypeError, ValueError):
            same = False
        if not same:
            raise ValueError(f"value must be {self.describe()}; received {value!r}")
        return self.value

    def describe(self) -> str:
        return f"the fixed value {self.value!r}"

    def decode_gene(self, gene: float) -> ParamValue:
        return self.value

    def encode_value(self, value: Any) -> float:
        return 0.5

    def grid_values(self, n_per_float: int, max_per_int: int | None) -> list[ParamValue]:
        return [self.value]

    def cardinality(self) -> int:
        return 1

    def to_spec(self) -> dict[str, Any]:
        if self.active_if is None:
            return {"type": "fixed", "value": self.value}
        return self._spec_extra({"type": "fixed", "value": self.value})


_TYPE_KEYS: dict[str, tuple[type[Param], tuple[str, ...]]] = {
    "int": (Int, ("low", "high", "step", "log")),
    "float": (Float, ("low", "high", "log")),
    "choice": (Choice, ("options",)),
    "fixed": (Fixed, ("value",)),
}
_TYPE_ALIASES = {
    "int": "int",
    "integer": "int",
    "float": "float",
    "real": "float",
    "choice": "choice",
    "categorical": "choice",
    "fixed": "fixed",
    "const": "fixed",
}


def _param_from_spec(name: str, spec: Any) -> Param:
    """Build one parameter from its YAML-like spec; errors name the parameter."""
    try:
        if isinstance(spec, Param):
            return spec
        if isinstance(spec, (list, tuple)):
            return Choice(tuple(spec))
        if _is_json_scalar(spec) and not isinstance(spec, Mapping):
            return Fixed(spec)
        if not isinstance(spec, Mapping):
            raise ValueError(
                f"spec must be a mapping with a 'type', a list (choice) or a scalar (fixed); received {spec!r}"
            )
        if "type" not in spec:
            raise ValueError(f"spec needs a 'type', one of {sorted(_TYPE_KEYS)}; received keys {sorted(spec)}")
        kind = _TYPE_ALIASES.get(str(spec["type"]).lower())
        if kind is None:
            raise ValueError(f"unknown type {spec['type']!r}; allowed: {sorted(_TYPE_KEYS)}")
        cls, keys = _TYPE_KEYS[kind]
        args = dict(spec)
        args.pop("type")
        if kind == "choice":
            for alias in ("values", "choices"):
                if alias in args and "options" not in args:
                    args["options"] = args.pop(alias)
        unknown = sorted(set(args) - set(keys) - {"active_if"})
        if unknown:
            raise ValueError(f"unknown keys {unknown} for type {kind!r}; allowed: {sorted(keys) + ['active_if']}")
        if kind == "choice" and "options" in args:
            if not isinstance(args["options"], (list, tuple)):
                raise ValueError(f"options must be a list; received {args['options']!r}")
            args["options"] = tuple(args["options"])
        required = {"int": ("low", "high"), "float": ("low", "high"), "choice": ("options",), "fixed": ("value",)}[kind]
        missing = [k for k in required if k not in args]
        if missing:
            raise ValueError(f"type {kind!r} needs {', '.join(missing)}")
        return cls(**args)
    except ValueError as exc:
        raise ValueError(f"parameter {name!r}: {exc}") from None


# --------------------------------------------------------------------------- #
# the space
# --------------------------------------------------------------------------- #
class Space(Mapping[str, Param]):
    """An ordered mapping ``name -> Param`` with conditions, sampling and encodings.

    Conditions (``active_if``) may only refer to parameters declared earlier,
    so a single pass in declaration order decides what is active.
    """

    def __init__(self, params: Mapping[str, Param | Any] | None = None) -> None:
        """Build a space from ``name -> Param`` (specs as in :meth:`from_dict` are accepted too)."""
        self._params: dict[str, Param] = {}
        for name, spec in (params or {}).items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"parameter names must be non-empty strings; received {name!r}")
            param = _param_from_spec(name, spec)
            for parent, _op, _operand in param.conditions:
                if parent not in self._params:
                    raise ValueError(
                        f"parameter {name!r}: active_if refers to {parent!r}, which must be declared "
                        f"before it; declared so far: {list(self._params)}"
                    )
            self._params[name] = param
        self.dims: tuple[str, ...] = tuple(n for n, p in self._params.items() if p.n_genes)
        """Names of the parameters that have a gene, in genome order."""

    # -- Mapping protocol ---------------------------------------------------- #
    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        return f"Space({self._params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # -- construction -------------------------------------------------------- #
    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Space:
        """Parse a YAML-like spec.

        Each entry is a mapping with ``type`` (``int``, ``float``, ``choice``,
        ``fixed``) and its keys, a list (shorthand for a choice) or a scalar
        (shorthand for a fixed value), e.g.::

            {"filters": {"type": "int", "low": 8, "high": 64, "log": True},
             "activation": ["relu", "elu"],
             "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
             "dropout": {"type": "float", "low": 0.0, "high": 0.5,
                         "active_if": {"dense_layers": {"gt": 0}}},
             "epochs": 20}

        Raises ValueError naming the parameter and the allowed values.
        """
        if not isinstance(spec, Mapping):
            raise ValueError(f"a space spec must be a mapping name -> spec; received {type(spec).__name__}")
        return cls(dict(spec))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able spec that :meth:`from_dict` reads back into an equal space."""
        return {name: p.to_spec() for name, p in self._params.items()}

    # -- activity and validation --------------------------------------------- #
    def is_active(self, name: str, params: Mapping[str, Any]) -> bool:
        """Whether ``name`` is active given (earlier) values in ``params``."""
        for parent, op, operand in self._params[name].conditions:
            if parent not in params or not self.is_active(parent, params):
                return False
            if not _test(params[parent], op, operand):
                return False
        return True

    def prune(self, params: Mapping[str, Any]) -> dict[str, ParamValue]:
        """Drop inactive and unknown keys (e.g. from a flat sample that draws every parameter); no validation."""
        out: dict[str, Any] = {}
        for name in self._params:
            if name in params and self.is_active(name, out):
                out[name] = _plain(params[name])
        return out

    def canonical(self, params: Mapping[str, Any]) -> dict[str, ParamValue]:
        """Validate and coerce to canonical values, in declaration order.

        Raises ValueError naming the parameter (missing, unknown, inactive but
        present, or a value outside the allowed ones).
        """
        if not isinstance(params, Mapping):
            raise ValueError(f"params must be a mapping; received {type(params).__name__}")
        unknown = [k for k in params if k not in self._params]
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown}; the space has {list(self._params)}")
        out: dict[str, ParamValue] = {}
        for name, param in self._params.items():
            active = self.is_active(name, out)
            if not active:
                if name in params:
                    raise ValueError(
                        f"parameter {name!r} is inactive (active_if={param.active_if!r}) and must be absent"
                    )
                continue
            if name not in params:
                raise ValueError(f"parameter {name!r} is missing; it must be {param.describe()}")
            try:
                out[name] = param.coerce(params[name])
            except (ValueError, TypeError) as exc:
                raise ValueError(f"parameter {name!r}: {exc}") from None
        return out

    def validate(self, params: Mapping[str, Any]) -> None:
        """Raise ValueError (naming the parameter) unless ``params`` is a point of the space."""
        self.canonical(params)

    def contains(self, params: Mapping[str, Any]) -> bool:
        """Whether ``params`` is a valid point of the space."""
        try:
            self.canonical(params)
        except (ValueError, TypeError):
            return False
        return True

    def params_hash(self, params: Mapping[str, Any]) -> str:
        """:func:`params_hash` of the canonical form (validates first)."""
        return params_hash(self.canonical(params))

    def cardinality(self) -> int | None:
        """Upper bound on the number of distinct points (ignores conditions); None if continuous."""
        total = 1
        for p in self._params.values():
            c = p.cardinality()
            if c is None:
                return None
            total *= c
        return total

    # -- genome encoding ----------------------------------------------------- #
    def encode(self, params: Mapping[str, Any], fill: float | Sequence[float] = 0.5) -> list[float]:
        """Map a params dict to a genome in ``[0, 1]^d`` (``d = len(self.dims)``).

        Genes of inactive parameters carry no information; they get ``fill``
        (a scalar, or a full genome whose genes are copied, e.g. a parent's).
        """
        params = self.canonical(params)
        genome: list[float] = []
        for i, name in enumerate(self.dims):
            if name in params:
                genome.append(float(self._params[name].encode_value(params[name])))
            else:
                genome.append(float(fill if isinstance(fill, numbers.Real) else fill[i]))
        return genome

    def decode(self, genome: Sequence[float]) -> dict[str, ParamValue]:
        """Map a genome (values clipped to ``[0, 1]``) to a canonical params dict."""
        if len(genome) != len(self.dims):
            raise ValueError(f"genome has {len(genome)} genes; the space needs {len(self.dims)} ({list(self.dims)})")
        genes = dict(zip(self.dims, genome))
        out: dict[str, ParamValue] = {}
        for name, param in self._params.items():
            if not self.is_active(name, out):
                continue
            out[name] = param.decode_gene(genes[name]) if param.n_genes else param.decode_gene(0.5)
        return out

    # -- sampling ------------------------------------------------------------ #
    def sample(self, rng: np.random.Generator | int | None = None) -> dict[str, ParamValue]:
        """One random point from the prior (uniform, log-uniform where ``log``)."""
        rng = np.random.default_rng(rng)
        return self.decode(rng.random(len(self.dims)).tolist())

    def grid_values(self, n_per_float: int = 5, max_per_int: int | None = 10) -> dict[str, list[ParamValue]]:
        """The per-parameter value lists of :meth:`grid` (a scikit-learn ``param_grid``)."""
        return {name: p.grid_values(n_per_float, max_per_int) for name, p in self._params.items()}

    def grid(self, n_per_float: int = 5, max_per_int: int | None = 10) -> Iterator[dict[str, ParamValue]]:
        """Iterate over a grid of points, deterministic order, conditions applied.

        Uses scikit-learn's ``ParameterGrid`` over :meth:`grid_values`
        (``n_per_float`` points per float, all integers or ``max_per_int``
        evenly spaced ones).  Points that become equal once inactive
        parameters are dropped are yielded once.  Lazy: a big grid is never
        materialised.
        """
        from sklearn.model_selection import ParameterGrid

        grid = ParameterGrid(self.grid_values(n_per_float, max_per_int))
        seen: set[str] = set()
        for point in grid:
            p = self.canonical(self.prune(point))
            h = params_hash(p)
            if h not in seen:
                seen.add(h)
                yield p

    def sampler(self, n: int, seed: int | None = 0) -> list[dict[str, ParamValue]]:
        """``n`` random points drawn with scikit-learn's ``ParameterSampler``.

        Floats use ``scipy.stats.uniform`` / ``loguniform``, integers
        ``randint`` (log integers a rounded ``loguniform``), choices their
        option lists.  Equivalent in distribution to :meth:`sample`.
        """
        from scipy import stats
        from sklearn.model_selection import ParameterSampler

        dists: dict[str, Any] = {}
        for name, p in self._params.items():
            if isinstance(p, Float):
                dists[name] = stats.loguniform(p.low, p.high) if p.log else stats.uniform(p.low, p.high - p.low)
            elif isinstance(p, Int):
                if p.log:
                    lo, hi = p._log_edges()
                    dists[name] = stats.loguniform(math.exp(lo), math.exp(hi))
                else:
                    dists[name] = stats.randint(0, p.size)  # index onto the step grid
            elif isinstance(p, Choice):
                dists[name] = list(range(len(p.options)))  # indices: options may be None/bools
            else:
                dists[name] = [0]
        out = []
        for raw in ParameterSampler(dists, n_iter=n, random_state=seed):
            point: dict[str, Any] = {}
            for name, p in self._params.items():
                r = raw[name]
                if isinstance(p, Float):
                    point[name] = p.coerce(min(max(float(r), p.low), p.high))
                elif isinstance(p, Int):
                    v = int(round(float(r))) if p.log else p.low + int(r) * p.step
                    point[name] = min(max(v, p.low), p.high)
                elif isinstance(p, Choice):
                    point[name] = p.options[int(r)]
                else:
                    point[name] = p.decode_gene(0.5)
            out.append(self.canonical(self.prune(point)))
        return out
