"""Evaluators: what a search spends its budget on (a table look-up, the user's training function...).

* :class:`TabularEvaluator` -- any table of architecture -> metric; the search
  is confined to the table's architectures.
* :class:`FunctionEvaluator` -- the user's own train-and-validate callable.
* :class:`EstimatorEvaluator` -- an estimator's prediction as the value (for
  estimators whose scores compare across calls; ranking-within-a-list
  estimators such as ``zc:ensemble`` are refused: use a :class:`~archscore.search.Pool`).

Failures are recorded, not raised: an evaluator that raises or returns NaN
for an architecture gives an :class:`~archscore.search.base.Evaluation` with
``value=nan`` and ``error`` set; the search goes on (the failed query counts
toward the budget, as the training it stands for was spent).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone

from archscore.arch import Arch
from archscore.base import Estimator, create_estimator
from archscore.registry import Registry
from archscore.search.base import Evaluation
from archscore.spaces import SearchSpace, get_space, list_spaces


def resolve_space(space: Any) -> SearchSpace:
    """A :class:`SearchSpace` from a registered name or an instance."""
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, str):
        return get_space(space)
    raise TypeError(f"space must be a registered space name ({', '.join(list_spaces())}) or a SearchSpace, got {type(space).__name__}")


class Evaluator:
    """Base class: turns an architecture into an :class:`Evaluation`.

    Attributes
    ----------
    space : SearchSpace or None
        The space of the architectures (None: taken from the search).
    fidelities : tuple of int
        Training lengths the evaluator can run, ascending (empty: one fidelity).
    cost_unit : str
        Unit of :attr:`Evaluation.cost`.
    """

    space: SearchSpace | None = None
    fidelities: tuple = ()
    cost_unit: str = "queries"

    def evaluate(self, arch: Arch, fidelity: Any = None) -> Evaluation:  # pragma: no cover - abstract
        raise NotImplementedError

    def candidates(self) -> list[str] | None:
        """The architecture strings the search is confined to (None: the whole space)."""
        return None

    def has_curves(self) -> bool:
        """True when evaluations carry per-epoch learning curves."""
        return False

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this evaluator's setting in a run's metadata (resuming checks it)."""
        return {"evaluator": type(self).__name__}

    def safe_evaluate(self, arch: Arch, fidelity: Any = None) -> Evaluation:
        """:meth:`evaluate`, with an exception or a NaN value turned into a recorded failure."""
        try:
            ev = self.evaluate(arch, fidelity)
        except Exception as exc:  # noqa: BLE001 - the user's training may fail in any way; record it and go on
            return Evaluation(math.nan, error=f"{type(exc).__name__}: {exc}")
        if not isinstance(ev, Evaluation):
            return Evaluation(math.nan, error=f"{type(self).__name__}.evaluate returned {type(ev).__name__}, not an Evaluation")
        if not ev.error and not math.isfinite(ev.value):
            ev.error = f"evaluator returned a non-finite value ({ev.value})"
            ev.value = math.nan
        return ev


def _missing_column(what: str, name: str, columns: Sequence[str]) -> ValueError:
    close = difflib.get_close_matches(str(name), [str(c) for c in columns], n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"the table has no {what} column {name!r}{hint} Columns: {', '.join(map(str, columns))}")


class TabularEvaluator(Evaluator):
    """Look architectures up in a table (NAS-Bench-201, NAS-Bench-Graph, a user's CSV).

    The search is confined to the table's architectures: pools are sampled
    from them and a mutation that leaves the table is redrawn, so a partial
    table works.

    Parameters
    ----------
    table : DataFrame or path-like
        One row per architecture, an ``arch`` column (or index) of the space's
        architecture strings; a CSV path is read with pandas.
    target : str
        Column the search maximises (e.g. ``"valid_acc_200ep"``).
    report : str, optional
        Column recorded for the chosen architectures (e.g. ``"test_acc_200ep"``).
    space : str or SearchSpace, optional
        The space of the strings; None tries every registered space on the first string.
    cost : str, optional
        Column holding each query's cost (e.g. training seconds). Without it a
        query costs its fidelity in epochs when ``fidelities`` are given, else 1.
    fidelities : mapping of int to str, optional
        Training length (epochs) -> column of the target at that length, e.g.
        ``{12: "valid_acc_12ep", 200: "valid_acc_200ep"}``; the largest is the full fidelity.
    curve : str, optional
        Column of per-epoch learning curves (JSON lists) for early stopping,
        e.g. ``"valid_acc_per_epoch"``.
    extra : sequence of str, optional
        Further columns reported with each full-fidelity query (recorded in
        the history under their names; objectives of multi-objective search),
        e.g. ``["edgegpu_latency"]``.
    """

    def __init__(self, table: Any, target: str, report: str | None = None, space: Any = None, cost: str | None = None,
                 fidelities: Mapping[int, str] | None = None, curve: str | None = None,
                 extra: Sequence[str] | None = None) -> None:
        if isinstance(table, (str, os.PathLike)):
            table = pd.read_csv(Path(table))
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"table must be a pandas DataFrame or a CSV path, got {type(table).__name__}")
        if "arch" in table.columns:
            strings = table["arch"].astype(str).tolist()
        elif table.index.name == "arch":
            strings = table.index.astype(str).tolist()
        else:
            raise ValueError(f"the table needs an 'arch' column (or index) of architecture strings; columns: {', '.join(map(str, table.columns))}")
        if not strings:
            raise ValueError("the table has no rows")
        if isinstance(extra, str):
            extra = [extra]
        extra = list(extra or [])
        for what, col in (("target", target), ("report", report), ("cost", cost), ("curve", curve),
                          *(("extra", c) for c in extra)):
            if col is not None and col not in table.columns:
                raise _missing_column(what, col, list(table.columns))
        reserved = {"query", "arch", "value", "report", "cost", "fidelity", "epochs", "stopped", "error"}
        clash = [c for c in extra if c in reserved]
        if clash:
            raise ValueError(f"extra column(s) {clash} clash with the history's own columns; rename them in the table")
        fid = {}
        for f, col in dict(fidelities or {}).items():
            if isinstance(f, bool) or not isinstance(f, (int, np.integer)) or f < 1:
                raise ValueError(f"fidelities must map positive integer epochs to columns, got key {f!r}")
            if col not in table.columns:
                raise _missing_column(f"fidelity {f}", col, list(table.columns))
            fid[int(f)] = col
        self.target, self.report, self.cost, self.curve = target, report, cost, curve
        self.extra = extra
        self.fidelity_columns = dict(sorted(fid.items()))
        self.fidelities = tuple(self.fidelity_columns)
        self.cost_unit = "cost" if cost else ("epochs" if fid else "queries")
        self.space = resolve_space(space) if space is not None else _infer_space(strings[0])
        self._table = table.reset_index(drop=table.index.name != "arch" and "arch" in table.columns)
        self._row = {s: i for i, s in enumerate(strings)}
        if len(self._row) != len(strings):
            raise ValueError(f"the table lists {len(strings) - len(self._row)} architecture string(s) more than once")
        self._strings = strings

    def _lookup(self, arch: Arch) -> int | None:
        s = self.space.to_string(arch)
        return self._row.get(s)

    def candidates(self) -> list[str]:
        return list(self._strings)

    @property
    def columns(self) -> list[str]:
        """The table's columns (``arch`` left out)."""
        return [str(c) for c in self._table.columns if c != "arch"]

    def column_value(self, arch: str, column: str) -> float:
        """The table's ``column`` for the architecture string ``arch`` (a cost known without a query, e.g. a latency)."""
        i = self._row.get(arch)
        if i is None:
            raise KeyError(f"architecture {arch!r} is not in the table")
        return float(self._table[column].iat[i])

    def has_curves(self) -> bool:
        return self.curve is not None

    def evaluate(self, arch: Arch, fidelity: Any = None) -> Evaluation:
        i = self._lookup(arch)
        if i is None:
            raise KeyError(f"architecture {self.space.to_string(arch)!r} is not in the table")
        row = self._table.iloc[i]
        full = fidelity is None or (self.fidelities and fidelity == self.fidelities[-1])
        if fidelity is not None and fidelity not in self.fidelity_columns:
            raise ValueError(f"fidelity {fidelity!r} is not one of the table's fidelities {list(self.fidelities)}")
        col = self.target if full else self.fidelity_columns[fidelity]
        value = float(row[col])
        report = float(row[self.report]) if (self.report and full) else math.nan
        if self.cost:
            cost = float(row[self.cost])
        elif self.fidelities:
            cost = float(self.fidelities[-1] if full else fidelity)
        else:
            cost = 1.0
        curve = None
        if self.curve is not None and full:
            raw = row[self.curve]
            curve = [float(v) for v in (json.loads(raw) if isinstance(raw, str) else raw)]
        epochs = float(len(curve)) if curve is not None else (float(self.fidelities[-1] if full else fidelity) if self.fidelities else math.nan)
        extra = {c: float(row[c]) for c in self.extra} if full else {}
        return Evaluation(value, report=report, cost=cost, curve=curve, epochs=epochs, extra=extra)

    def fingerprint(self) -> dict[str, Any]:
        return {"evaluator": "TabularEvaluator", "target": self.target, "report": self.report, "cost": self.cost,
                **({"extra": list(self.extra)} if self.extra else {}),
                "fidelities": {str(k): v for k, v in self.fidelity_columns.items()}, "curve": self.curve,
                "space": self.space.name, "n_rows": len(self._strings)}


def _infer_space(s: str) -> SearchSpace:
    for name in list_spaces():
        sp = get_space(name)
        try:
            sp.from_string(s)
        except (ValueError, TypeError, NotImplementedError):
            continue
        return sp
    raise ValueError(f"no registered space ({', '.join(list_spaces())}) parses the table's first architecture {s!r}; pass space=")


class FunctionEvaluator(Evaluator):
    """The user's own train-and-validate callable.

    Parameters
    ----------
    fn : callable
        ``fn(arch)`` (or ``fn(arch, fidelity)`` when ``fidelities`` are given)
        returning a value, a ``(value, cost)`` pair, a learning curve (a list
        of per-epoch values: the value is the last one), or a dict with keys
        among ``value``, ``report``, ``cost``, ``curve``.
    space : str or SearchSpace, optional
    fidelities : sequence of int, optional
    cost_unit : str, default="seconds"
        Without a returned cost, the cost is the call's wall time in seconds.
    """

    def __init__(self, fn: Callable[..., Any], space: Any = None, fidelities: Sequence[int] | None = None, cost_unit: str = "seconds") -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.space = resolve_space(space) if space is not None else None
        self.fidelities = tuple(sorted(int(f) for f in (fidelities or ())))
        self.cost_unit = cost_unit

    def has_curves(self) -> bool:
        return True  # a function may return curves; evaluations without one are simply not stopped early

    def evaluate(self, arch: Arch, fidelity: Any = None) -> Evaluation:
        t0 = time.perf_counter()
        out = self.fn(arch, fidelity) if self.fidelities else self.fn(arch)
        seconds = time.perf_counter() - t0
        value, report, cost, curve = math.nan, math.nan, seconds, None
        if isinstance(out, Mapping):
            unknown = set(out) - {"value", "report", "cost", "curve"}
            if unknown:
                raise ValueError(f"evaluator function returned unknown keys {sorted(unknown)}; use value, report, cost, curve")
            curve = [float(v) for v in out["curve"]] if out.get("curve") is not None else None
            value = float(out["value"]) if "value" in out else (curve[-1] if curve else math.nan)
            report = float(out.get("report", math.nan))
            cost = float(out.get("cost", seconds))
        elif isinstance(out, tuple) and len(out) == 2:
            value, cost = float(out[0]), float(out[1])
        elif isinstance(out, (list, np.ndarray)):
            curve = [float(v) for v in out]
            if not curve:
                raise ValueError("evaluator function returned an empty learning curve")
            value = curve[-1]
        else:
            value = float(out)
        epochs = float(len(curve)) if curve is not None else (float(fidelity) if fidelity is not None else math.nan)
        return Evaluation(value, report=report, cost=cost, curve=curve, epochs=epochs)

    def fingerprint(self) -> dict[str, Any]:
        return {"evaluator": "FunctionEvaluator", "fn": getattr(self.fn, "__qualname__", repr(self.fn)), "fidelities": list(self.fidelities)}


class EstimatorEvaluator(Evaluator):
    """An estimator's prediction used as the value of each query (no training).

    Only for estimators whose scores compare across calls: one architecture
    is scored per query, so a ranking-within-one-list estimator (tag
    ``output.comparable_across_calls`` False, e.g. ``zc:ensemble``) would give
    every architecture the same score; it is refused here. Use such an
    estimator through :class:`~archscore.search.Pool`, which scores the whole
    pool in one call.
    """

    def __init__(self, estimator: Any, space: Any = None, **context: Any) -> None:
        est = create_estimator(estimator) if isinstance(estimator, str) else estimator
        if not isinstance(est, Estimator):
            raise TypeError(f"estimator must be a registered name or an archscore Estimator, got {type(estimator).__name__}")
        check_one_at_a_time(est)
        self.estimator = est
        self.space = resolve_space(space) if space is not None else None
        self.context = context
        self.cost_unit = "predictions"

    def evaluate(self, arch: Arch, fidelity: Any = None) -> Evaluation:
        check_one_at_a_time(self.estimator)
        return Evaluation(float(self.estimator.predict([arch], **self.context)[0]), cost=1.0)

    def fingerprint(self) -> dict[str, Any]:
        return {"evaluator": "EstimatorEvaluator", "estimator": repr(self.estimator)}


class TrainingEvaluator(Evaluator):
    """Really train each architecture with a cheap-training estimator (``train:short``, ``train:nb201``).

    The value is the estimator's prediction (the last validation accuracy
    observed, or its extrapolation), the learning curve comes with it (for
    early stopping) and the cost is the training wall time in seconds. Runs
    are seeded and use the GPU when present (the estimator's ``device``).

    Parameters
    ----------
    estimator : str or Estimator, default="train:short"
    space : str or SearchSpace, optional
    **params
        Parameters of a named estimator (``epochs=``, ``data_path=``, ``limit=``...).
    """

    def __init__(self, estimator: Any = "train:short", space: Any = None, **params: Any) -> None:
        est = create_estimator(estimator, **params) if isinstance(estimator, str) else estimator
        if not isinstance(est, Estimator):
            raise TypeError(f"estimator must be a registered name or an archscore Estimator, got {type(estimator).__name__}")
        check_one_at_a_time(est)
        self.estimator = est
        self.space = resolve_space(space) if space is not None else None
        self.cost_unit = "seconds"

    def has_curves(self) -> bool:
        return True

    def evaluate(self, arch: Arch, fidelity: Any = None) -> Evaluation:
        t0 = time.perf_counter()
        trained = clone(self.estimator).fit([arch])  # fit trains the network and keeps its curve (predict stores nothing)
        value = float(trained.predict([arch])[0])
        seconds = time.perf_counter() - t0
        curve = getattr(trained, "curves_", {}).get(arch.spec)
        curve = [float(v) for v in curve] if curve is not None else None
        return Evaluation(value, cost=seconds, curve=curve, epochs=float(len(curve)) if curve else math.nan)

    def fingerprint(self) -> dict[str, Any]:
        return {"evaluator": "TrainingEvaluator", "estimator": repr(self.estimator)}


def check_one_at_a_time(estimator: Estimator) -> None:
    """Raise when ``estimator`` ranks only within one call, so scoring one architecture at a time is meaningless."""
    if not estimator.get_tags().output.comparable_across_calls:
        raise ValueError(
            f"{type(estimator).__name__} ranks architectures within one predict call (tag comparable_across_calls=False): "
            "scored one at a time every architecture gets the same score. Score a whole pool or candidate batch in one "
            "call instead, e.g. search(..., pool=Pool(size, estimator=...)).")


#: Evaluators by name, for the command line and configuration files.
EVALUATORS = Registry("evaluator")
EVALUATORS.register("table", TabularEvaluator, description="look up a table of architecture -> metric")
EVALUATORS.register("function", FunctionEvaluator, description="the user's train-and-validate callable")
EVALUATORS.register("train", TrainingEvaluator, description="really train each architecture briefly (train:short by default)")
EVALUATORS.register("estimator", EstimatorEvaluator, description="an estimator's prediction (comparable across calls only)")


def get_evaluator(evaluator: Any, **params: Any) -> Evaluator:
    """An evaluator from a registered name (``"table"``, ``"function"``, ``"estimator"``) or an instance."""
    if isinstance(evaluator, Evaluator):
        return evaluator
    if isinstance(evaluator, str):
        return EVALUATORS.create(evaluator, **params)
    if callable(evaluator):
        return FunctionEvaluator(evaluator, **params)
    raise TypeError(f"evaluator must be an Evaluator, a registered name or a callable, got {type(evaluator).__name__}")
