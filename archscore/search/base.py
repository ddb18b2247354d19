"""Building blocks of the search loop: proposals, evaluations, the strategy interface and its registry.

A strategy never trains anything itself. :func:`archscore.search.search` asks
it for a batch of :class:`Proposal` objects (``ask``), has an evaluator turn
each into an :class:`Evaluation` (a value to maximise, a reported metric, a
cost), and hands the results back (``tell``). Strategies are deterministic
functions of the seeded generator they are given and of the evaluations they
are told, which is what makes a killed run resumable by replaying its history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archscore.arch import Arch
from archscore.registry import Registry


@dataclass
class Proposal:
    """One architecture a strategy wants evaluated.

    Attributes
    ----------
    arch : Arch
    fidelity : int or None
        Training length asked for (``None``: the evaluator's full fidelity).
    info : dict
        What the strategy wants recorded in the history (e.g. its acquisition value).
    """

    arch: Arch
    fidelity: Any = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    """What evaluating one architecture returned.

    ``value`` is maximised by the search (NaN when the evaluation failed,
    with ``error`` saying why); ``report`` is a metric only recorded (e.g. test
    accuracy); ``cost`` is in the evaluator's cost units (epochs, seconds...);
    ``curve`` is the per-epoch learning curve when the evaluator gives one;
    ``extra`` holds further reported columns (``TabularEvaluator(extra=...)``),
    e.g. a measured latency for multi-objective search.
    """

    value: float
    report: float = math.nan
    cost: float = math.nan
    curve: list[float] | None = None
    epochs: float = math.nan
    error: str = ""
    stopped: bool = False  #: training was stopped early (``value`` is the last observed one)
    extra: dict[str, float] = field(default_factory=dict)  #: further metrics reported with the query (e.g. latency)

    @property
    def ok(self) -> bool:
        """True when the evaluation gave a finite value and was run to the end."""
        return not self.error and math.isfinite(self.value) and not self.stopped


class Strategy:
    """Base class of search strategies (``ask`` / ``tell``).

    Subclasses store their keyword parameters in ``__init__`` (no work), set
    up their state in :meth:`start` from the :class:`SearchContext` (which
    holds the seeded generator, the space and the warm-start pool), propose
    with :meth:`ask` and learn with :meth:`tell`.

    Attributes
    ----------
    name : str
        Registered name.
    budget_aware : bool
        True when decisions depend on the total budget (then a run with budget
        B is not a prefix of a run with a larger budget).
    needs_mutate : bool
        True for strategies that mutate architectures.
    """

    name: str = ""
    budget_aware: bool = False
    needs_mutate: bool = False

    def start(self, ctx: Any) -> None:  # ctx: archscore.search.context.SearchContext (which imports this module)
        """Set up the state from the search context (called once per run)."""
        self.ctx = ctx

    def ask(self) -> list[Proposal]:  # pragma: no cover - abstract
        """The next batch of proposals (never empty unless the strategy is done)."""
        raise NotImplementedError

    def tell(self, proposals: list[Proposal], results: list[Evaluation]) -> None:
        """Learn from the evaluations of the last batch (same order as ``proposals``)."""

    def stats(self) -> dict[str, Any]:
        """What the strategy reports after the run, beyond the history (``SearchResult.stats``); empty by default."""
        return {}

    def params(self) -> dict[str, Any]:
        """The strategy's parameters (recorded in the run's metadata; resuming checks them)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "ctx" and _jsonable(v)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def _jsonable(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str)) or (
        isinstance(v, (list, tuple)) and all(_jsonable(x) for x in v))


#: Every search strategy by name.
STRATEGIES = Registry("search strategy", plugins=("archscore.search.strategies", "archscore.search.multiobjective",
                                                  "archscore.oneshot.strategies"))


def register_strategy(name: str, cls: Any = None, **metadata: Any):
    """Register a :class:`Strategy` subclass under ``name`` (usable as a decorator)."""
    return STRATEGIES.register(name, cls, **metadata)


def list_strategies(pattern: str = "*") -> list[str]:
    """Names of the registered search strategies matching ``pattern``."""
    return STRATEGIES.list(pattern)


def get_strategy(strategy: Any, **params: Any) -> Strategy:
    """A strategy from a registered name (with ``params``) or a :class:`Strategy` instance."""
    if isinstance(strategy, Strategy):
        if params:
            raise TypeError("strategy parameters go to the strategy's constructor when passing a Strategy instance")
        return strategy
    if isinstance(strategy, str):
        return STRATEGIES.create(strategy, **params)
    raise TypeError(f"strategy must be a registered name or a Strategy instance, got {type(strategy).__name__}")


def check_budget(budget: Any) -> int:
    """A positive integer number of queries, or a ``ValueError`` naming the problem."""
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise ValueError(f"budget must be a positive integer number of queries, got {budget!r} ({type(budget).__name__})")
    if budget < 1:
        raise ValueError(f"budget must be a positive integer number of queries, got {budget}")
    return int(budget)
