"""Constraints checked before a query is spent: ``"hw:latency<=5ms"``, ``"params<=1.5e6"``, ``"edgegpu_latency<=3"``.

A constraint is a *metric* of an architecture (known without training it),
a comparison and a bound. The metric is one of

* a registered estimator, e.g. ``hw:latency``, ``hw:params``, ``hw:macs``,
  ``hw:peak_memory``, ``hw:peak_sram`` (the short names ``latency``,
  ``params``, ``macs``, ``peak_memory``, ``peak_sram`` mean their ``hw:``
  estimator). Estimators with a ``build(arch)`` method (archscore's cost
  estimators) cost the network *the search's space* builds, so a space made
  with options (e.g. a narrow NB201) is costed as searched;
* a column of the evaluator's table (``TabularEvaluator``), looked up by architecture;
* a callable ``arch -> float`` or an estimator instance, in the tuple form
  ``(metric, op, bound)``.

Forms accepted by ``search(..., constraints=...)``: a string or a list of
strings / tuples / :class:`Constraint` objects / callables ``arch -> bool``;
a mapping ``{"max_params": 1.5e6, "max_latency": "5ms", "max_memory": "2MB",
"max_macs": "100M"}`` (each a ``<=`` constraint on its ``hw:`` estimator).

String syntax: ``NAME OP NUMBER[UNIT]`` with ``OP`` one of ``<=``, ``<``,
``>=``, ``>``. Units (case-sensitive):

* times, converted to milliseconds (the unit of ``hw:latency`` and of
  HW-NAS-Bench's latency columns): ``us``, ``ms``, ``s``;
* bytes: ``B``, ``KB``/``MB``/``GB`` (powers of 1000), ``KiB``/``MiB``/``GiB`` (powers of 1024);
* counts: ``k``/``K`` (1e3), ``M`` (1e6), ``G`` (1e9);
* no unit: the metric's own unit.

A time unit on an estimator whose unit is not ``ms``, or a byte unit on one
whose unit is not ``bytes``, is refused (the comparison would be wrong).
"""

from __future__ import annotations

import copy
import difflib
import math
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from archscore.arch import Arch
from archscore.base import Estimator, create_estimator, list_estimators
from archscore.registry import unknown_choice_error
from archscore.search.evaluators import check_one_at_a_time

OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
#: unit suffix -> (factor, kind); time units convert to milliseconds
UNITS: dict[str, tuple[float, str]] = {
    "us": (1e-3, "time"), "ms": (1.0, "time"), "s": (1e3, "time"),
    "B": (1.0, "bytes"), "KB": (1e3, "bytes"), "MB": (1e6, "bytes"), "GB": (1e9, "bytes"),
    "KiB": (1024.0, "bytes"), "MiB": (1024.0**2, "bytes"), "GiB": (1024.0**3, "bytes"),
    "k": (1e3, "count"), "K": (1e3, "count"), "M": (1e6, "count"), "G": (1e9, "count"),
}
#: the unit an estimator's ``tags.output.units`` must have for a unit kind
_KIND_UNITS = {"time": "ms", "bytes": "bytes"}
#: short names of the hardware cost estimators
ALIASES = {"params": "hw:params", "macs": "hw:macs", "latency": "hw:latency", "peak_memory": "hw:peak_memory",
           "peak_sram": "hw:peak_sram", "memory": "hw:peak_memory"}
#: ``constraints={...}`` mapping keys -> metric (all ``<=``)
MAPPING_KEYS = {"max_params": "hw:params", "max_latency": "hw:latency", "max_memory": "hw:peak_memory",
                "max_macs": "hw:macs", "max_sram": "hw:peak_sram"}
FORM = "NAME OP NUMBER[UNIT], e.g. 'hw:latency<=5ms', 'params<=1.5M' or 'edgegpu_latency<=3' (OP one of <=, <, >=, >)"
_RE = re.compile(r"^\s*(?P<name>[A-Za-z_][\w:.\-]*?)\s*(?P<op><=|>=|<|>)\s*(?P<num>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*(?P<unit>[A-Za-z]*)\s*$")


def parse_bound(text: Any) -> tuple[float, str | None]:
    """A number with an optional unit suffix (``"5ms"``, ``"1.5M"``, ``2e6``) -> (value in base units, unit kind)."""
    if isinstance(text, (int, float, np.integer, np.floating)) and not isinstance(text, bool):
        return float(text), None
    m = re.match(r"^\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$", str(text))
    if m is None:
        raise ValueError(f"bad constraint bound {text!r}: expected a number with an optional unit ({', '.join(UNITS)})")
    unit = m.group(4)
    if unit and unit not in UNITS:
        close = difflib.get_close_matches(unit, list(UNITS), n=3, cutoff=0.3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown unit {unit!r} in {text!r}{hint} Units: {', '.join(UNITS)}")
    factor, kind = UNITS[unit] if unit else (1.0, None)
    return float(m.group(1)) * factor, kind


@dataclass
class Constraint:
    """``metric(arch) OP bound``, checked before a query is spent.

    Parameters
    ----------
    metric : str, callable or Estimator
        A registered estimator name (``hw:latency``...), a short name
        (``params``...), a table column, a callable ``arch -> float`` or an estimator.
    op : {"<=", "<", ">=", ">"}
    bound : float or str
        A number or a number with a unit (``"5ms"``); see the module docstring.
    """

    metric: Any
    op: str = "<="
    bound: Any = math.inf
    unit_kind: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"constraint operator must be one of {', '.join(OPS)}, got {self.op!r}")
        b, kind = parse_bound(self.bound)
        self.bound = b
        self.unit_kind = self.unit_kind or kind
        if not math.isfinite(self.bound):
            raise ValueError(f"constraint bound must be finite, got {self.bound!r}")

    @property
    def name(self) -> str:
        m = self.metric
        if isinstance(m, str):
            return ALIASES.get(m, m)
        if isinstance(m, Estimator):
            return type(m).__name__
        return getattr(m, "__qualname__", repr(m))

    def describe(self) -> str:
        return f"{self.name}{self.op}{self.bound:g}"


def parse_constraint(text: str) -> Constraint:
    """A :class:`Constraint` from ``"NAME OP NUMBER[UNIT]"``, or a ``ValueError`` naming the expected form."""
    if not isinstance(text, str):
        raise TypeError(f"a constraint string must be a str, got {type(text).__name__}")
    m = _RE.match(text)
    if m is None:
        raise ValueError(f"malformed constraint {text!r}: expected {FORM}")
    bound = m.group("num") + m.group("unit")
    return Constraint(m.group("name"), m.group("op"), bound)


def as_constraints(constraints: Any) -> tuple[list[Constraint], list[Callable[[Arch], bool]]]:
    """Normalise every accepted form to (constraints, boolean checks)."""
    if constraints is None:
        return [], []
    if isinstance(constraints, (str, Constraint)) or (isinstance(constraints, tuple) and len(constraints) == 3
                                                       and isinstance(constraints[1], str) and constraints[1] in OPS):
        constraints = [constraints]
    if isinstance(constraints, Mapping):
        out = []
        for k, v in constraints.items():
            if k not in MAPPING_KEYS:
                raise unknown_choice_error("constraint", k, tuple(MAPPING_KEYS))
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating, str)):
                raise ValueError(f"constraint {k} must be a positive number (or a number with a unit), got {v!r}")
            c = Constraint(MAPPING_KEYS[k], "<=", v)
            if not c.bound > 0:
                raise ValueError(f"constraint {k} must be a positive number, got {v!r}")
            out.append(c)
        return out, []
    if callable(constraints) and not isinstance(constraints, Estimator):
        return [], [constraints]
    if not isinstance(constraints, Sequence):
        raise TypeError("constraints must be a string such as 'hw:latency<=5ms', a mapping such as {'max_params': 1e6}, "
                        "a (metric, op, bound) tuple, a callable arch -> bool, or a list of these")
    cons, checks = [], []
    for c in constraints:
        if isinstance(c, Constraint):
            cons.append(c)
        elif isinstance(c, str):
            cons.append(parse_constraint(c))
        elif isinstance(c, tuple):
            if len(c) != 3:
                raise ValueError(f"a constraint tuple must be (metric, op, bound), got {c!r}")
            cons.append(Constraint(*c))
        elif callable(c) and not isinstance(c, Estimator):
            checks.append(c)
        else:
            raise TypeError(f"cannot use {c!r} as a constraint: give a string ({FORM}), a (metric, op, bound) tuple, "
                            "a Constraint or a callable arch -> bool")
    return cons, checks


class MetricResolver:
    """Turns metric names into functions ``(arch, key) -> float`` for a search (estimators, table columns, callables).

    Values are cached per architecture string, and may be preloaded (a resumed
    run reuses the measured values, so noisy metrics such as latency replay exactly).
    """

    def __init__(self, space: Any, table_columns: Sequence[str] = (), lookup: Callable[[str, str], float] | None = None) -> None:
        self.space = space
        self.columns = list(table_columns)
        self.lookup = lookup
        self.cache: dict[tuple[str, str], float] = {}
        self._fns: dict[str, Callable[[Arch], float]] = {}

    def names(self) -> list[str]:
        return self.columns + list_estimators("hw:*") + list(ALIASES)

    def resolve(self, metric: Any, unit_kind: str | None = None) -> tuple[str, Callable[[Arch], float]]:
        """(display name, ``arch -> float``) of a metric; unknown names raise with close matches."""
        if isinstance(metric, str):
            name = metric
            if name in self.columns:
                if self.lookup is None:  # pragma: no cover - columns only come with a lookup
                    raise ValueError(f"no table to look up column {name!r}")
                lookup = self.lookup
                return name, lambda arch, _n=name: lookup(self.space.to_string(arch), _n)
            est_name = ALIASES.get(name, name)
            try:
                est = create_estimator(est_name)
            except (KeyError, ValueError):
                close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
                hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                cols = f" table columns: {', '.join(self.columns)};" if self.columns else ""
                raise ValueError(f"unknown constraint metric {name!r}{hint} Use a registered estimator "
                                 f"({', '.join(list_estimators('hw:*'))}), a short name ({', '.join(ALIASES)}) or a"
                                 f" column of the evaluator's table;{cols} form: {FORM}") from None
            return est_name, self._estimator_fn(est, unit_kind, est_name)
        if isinstance(metric, Estimator):
            return type(metric).__name__, self._estimator_fn(metric, unit_kind, type(metric).__name__)
        if callable(metric):
            return getattr(metric, "__qualname__", repr(metric)), lambda arch: float(metric(arch))
        raise TypeError(f"a constraint metric must be a name, a callable arch -> float or an Estimator, got {type(metric).__name__}")

    def _estimator_fn(self, est: Estimator, unit_kind: str | None, name: str) -> Callable[[Arch], float]:
        check_one_at_a_time(est)  # one architecture per call: a within-list ranking is meaningless here
        tags = est.get_tags()
        if tags.requires_fit and not _is_fitted(est):
            raise ValueError(f"estimator {name!r} must be fitted before it can be used in a constraint")
        units = tags.output.units
        if unit_kind in _KIND_UNITS and units != _KIND_UNITS[unit_kind]:
            raise ValueError(f"a {unit_kind} unit was given for {name!r}, whose values are in {units!r}; "
                             f"give the bound in {units!r} without a {unit_kind} unit")
        est = copy.copy(est)  # never change the caller's estimator
        if callable(getattr(est, "build", None)):
            space = self.space
            n_cls = getattr(est, "num_classes", 10)
            # the search's own space builds the costed network (a space with options is costed as searched)
            est.build = lambda arch: space.build(arch, num_classes=n_cls)  # type: ignore[method-assign]
        return lambda arch: float(np.asarray(est.predict([arch])).reshape(-1)[0])

    def function(self, metric: Any, unit_kind: str | None = None, tag: str | None = None) -> tuple[str, Callable[[Arch, str], float]]:
        """Like :meth:`resolve`, returning a ``(arch, key) -> float`` cached under ``tag`` (default: the name)."""
        name, fn = self.resolve(metric, unit_kind)
        tag = tag or name

        def cached(arch: Arch, key: str) -> float:
            k = (tag, key)
            if k not in self.cache:
                self.cache[k] = float(fn(arch))
            return self.cache[k]

        cached.cache_tag = tag  # type: ignore[attr-defined]
        return name, cached


def _is_fitted(est: Estimator) -> bool:
    return any(k.endswith("_") and not k.startswith("_") for k in vars(est))


class ConstraintSet:
    """The constraints of one search, resolved against its space and evaluator."""

    def __init__(self, constraints: Any, resolver: MetricResolver) -> None:
        self.constraints, self.checks = as_constraints(constraints)
        self.resolver = resolver
        # one cache tag per constraint position (two callables may share a __qualname__ such as "<lambda>")
        self._fns = [resolver.function(c.metric, c.unit_kind, tag=f"c{i}:{c.name}") for i, c in enumerate(self.constraints)]

    def __bool__(self) -> bool:
        return bool(self.constraints or self.checks)

    def describe(self) -> Any:
        out = [c.describe() for c in self.constraints]
        out += [f"check:{getattr(c, '__qualname__', repr(c))}" for c in self.checks]
        return out or None

    def violation(self, arch: Arch, key: str) -> tuple[str, dict[str, float]]:
        """The first broken constraint's reason ("" when all hold) and the metric values computed."""
        values: dict[str, float] = {}
        for c, (name, fn) in zip(self.constraints, self._fns):
            v = fn(arch, key)
            values[name] = v
            if not math.isfinite(v) or not OPS[c.op](v, c.bound):
                return f"{name} = {v:.6g}, not {c.op} {c.bound:g}", values
        for c in self.checks:
            if not c(arch):
                return f"constraint {getattr(c, '__qualname__', repr(c))} is false", values
        return "", values
