"""The search loop: :func:`search` runs a strategy against an evaluator under a query budget.

Budget and repeats
------------------
The budget counts queries: architectures the evaluator was asked to train
(full-training equivalents for multi-fidelity strategies: a query at
fidelity ``f`` counts ``f / f_max``). An architecture proposed again is served
from the history and not counted; a proposal that breaks a constraint
(``max_params``...) is refused before any query is spent and not counted
either. A failed query (the evaluator raised or returned NaN) is recorded
with its error and **does count**, since the training it stands for was
spent; the run goes on.

Reproducibility and resuming
----------------------------
All randomness comes from one ``numpy.random.Generator`` seeded with
``seed``, so the same seed gives the same history. With ``out=``, every query
is appended to ``out/history.csv`` (flushed and fsynced) and the run's
setting is written to ``out/run.json``. Rerunning the same call resumes: the
strategy is replayed from the seed with the recorded evaluations in place of
the evaluator (no query is spent twice), which restores its state and the
generator's state exactly, so the later decisions are those an uninterrupted
run makes. Each row stores a digest of the generator state, checked during
the replay; a history from another setting raises an error naming what
differs, and nothing recorded is lost.

With ``store=`` the history is kept in a score store instead
(:class:`archscore.store.ScoreStore`, one SQLite transaction per query): the
run is one settings entry of the store (its setting without the budget,
unless the strategy depends on it), so rerunning the same call resumes from
it in the same way, a run with another setting is another entry, and the
pool's live scores are kept (and reused by later runs) in the same file.

Parallel evaluation
-------------------
Strategies propose batches (``batch_size``). With ``workers=N`` or
``executor=`` (:mod:`archscore.executor`: local processes or a Dask
cluster) the new queries of a batch are evaluated concurrently; the
results are recorded and told to the strategy in proposal order, so the
history is exactly the serial run's (same seed, any number of workers), and
a failure (an exception, NaN, a worker that died, a time limit) is recorded
as in the serial loop. A kill mid-batch loses at most the batch's
unrecorded evaluations; the rerun resumes as above.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

import archscore
from archscore.arch import Arch
from archscore.executor import LocalExecutor
from archscore.fileio import atomic_path
from archscore.hardware.pareto import pareto_front
from archscore.search.base import Evaluation, Proposal, check_budget, get_strategy
from archscore.search.constraints import ConstraintSet, MetricResolver
from archscore.search.context import SearchContext
from archscore.search.evaluators import get_evaluator, resolve_space
from archscore.search.pool import Pool
from archscore.store import ScoreStore

logger = logging.getLogger(__name__)

#: Version of the history format (``run.json``); a newer one is refused.
HISTORY_FORMAT = 1
#: Columns of ``history.csv`` (strategy fields go, as JSON, in ``info``).
COLUMNS = ("query", "arch", "value", "report", "cost", "fidelity", "epochs", "stopped", "error", "rng", "info", "extra")
#: Columns of histories written before ``extra`` (reported metrics such as latency) was recorded; still read and continued.
OLD_COLUMNS = COLUMNS[:-1]
#: Consecutive proposals that spend nothing (repeats, refused) before the run stops as exhausted.
MAX_IDLE_PROPOSALS = 2000
_DIRECTIONS = {"min": "min", "minimize": "min", "max": "max", "maximize": "max"}


@dataclass
class BestQuery:
    """The query with the highest value."""

    query: int
    arch: str
    value: float
    report: float

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


@dataclass
class SearchResult:
    """What :func:`search` returns.

    Attributes
    ----------
    history : DataFrame
        One row per query in order: ``query, arch, value, report, cost,
        fidelity, epochs, stopped, error`` plus the strategy's fields.
    best : BestQuery
        The full-fidelity, successful query with the highest value.
    stats : dict
        Counters of the run (``surrogate_fits``; with a pool, ``pool_beyond``:
        architectures outside the pool that the strategy had ranked by the
        pool's estimator, and ``pool_beyond_seconds``: the time spent computing
        their scores; ``pool_beyond_at``: ``[queries done, pool_beyond so far]``
        at each ranking call) and what the strategy reports (:meth:`Strategy.stats`,
        e.g. DARTS's per-epoch cells in ``darts_epochs``).
    """

    history: pd.DataFrame
    best: BestQuery | None
    space: Any
    strategy: str
    seed: int
    budget: int
    spent: float
    n_repeats: int = 0
    n_refused: int = 0
    pool_seconds: float = 0.0
    surrogate_seconds: float = 0.0
    stats: dict = field(default_factory=dict)
    refused: pd.DataFrame | None = None
    objectives: dict = field(default_factory=dict)

    @property
    def front(self) -> pd.DataFrame:
        """The Pareto front of the successful full-fidelity queries over ``objectives`` (one row per architecture).

        Columns: ``query``, ``arch`` and one per objective (named as given to
        :func:`search`), sorted by the first objective
        (:func:`archscore.hardware.pareto.pareto_front`). Without
        ``objectives`` the front is the single best query by value.
        """
        objectives = self.objectives or {"value": "max"}
        h = self.history
        ok = _full_mask(h) & np.isfinite(h["value"].to_numpy(dtype=float)) if len(h) else np.zeros(0, bool)
        cols = {name: _objective_column(name, h) for name in objectives}
        frame = pd.DataFrame({"query": h["query"][ok].to_numpy(), "arch": h["arch"][ok].to_numpy(),
                              **{name: h[c][ok].to_numpy(dtype=float) for name, c in cols.items()}})
        frame = frame[np.all(np.isfinite(frame[list(objectives)].to_numpy(float)), axis=1)] if len(frame) else frame
        if frame.empty:
            return frame
        return pareto_front(frame, dict(objectives)).reset_index(drop=True)

    @property
    def archs(self) -> list[Arch]:
        return [self.space.from_string(s) for s in self.history["arch"]]

    def best_so_far(self, column: str = "report") -> np.ndarray:
        """``column`` of the best-by-value query after each query (NaN before the first success)."""
        h = self.history
        full = _full_mask(h)
        out, best_v, best_i = [], -math.inf, None
        for i in range(len(h)):
            v = h["value"].iat[i]
            if full[i] and np.isfinite(v) and v > best_v:
                best_v, best_i = v, i
            out.append(h[column].iat[best_i] if best_i is not None else math.nan)
        return np.asarray(out, dtype=float)


def _objective_column(name: str, h: pd.DataFrame) -> str:
    return name if name in h.columns else h.attrs.get("objective_columns", {}).get(name, name)


def _full_mask(h: pd.DataFrame) -> np.ndarray:
    fid = h["fidelity"] if "fidelity" in h else pd.Series([None] * len(h))
    stopped = h["stopped"].astype(bool) if "stopped" in h else pd.Series([False] * len(h))
    errors = h["error"].fillna("").astype(str) if "error" in h else pd.Series([""] * len(h))
    return (fid.isna().to_numpy() & ~stopped.to_numpy() & (errors == "").to_numpy())


def _rng_digest(rng: np.random.Generator) -> str:
    return hashlib.sha1(json.dumps(rng.bit_generator.state, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


# ------------------------------------------------------------------ history files
class _History:
    """Append-only CSV of queries plus ``run.json``; reads back what a killed run left."""

    def __init__(self, out: str | os.PathLike, meta: dict[str, Any], resume: bool) -> None:
        meta = json.loads(json.dumps(meta, default=str))  # compare as stored (tuples become lists, keys strings)
        self.dir = Path(out)
        self.csv = self.dir / "history.csv"
        self.name = str(self.csv)
        self.meta_path = self.dir / "run.json"
        self.rows: list[dict[str, Any]] = []
        self.columns = COLUMNS
        if self.dir.exists() and not self.dir.is_dir():
            raise ValueError(f"out={str(out)!r} is a file; search writes a folder (history.csv, run.json)")
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.csv.exists() and self.csv.stat().st_size > 0:
            if not resume:
                raise ValueError(f"{self.csv} already holds a history; pass resume=True to continue it or choose another out=")
            self._check_meta(meta)
            self.rows = self._read()
        self._write_meta(meta)
        self._fh = open(self.csv, "a", newline="", encoding="utf-8")
        if self._fh.tell() == 0:
            self.columns = COLUMNS
            self._fh.write(",".join(COLUMNS) + "\n")
            self._sync()

    def _check_meta(self, meta: dict[str, Any]) -> None:
        if not self.meta_path.exists():
            raise ValueError(f"{self.csv} has no run.json beside it: cannot tell which run it belongs to; move it away or choose another out=")
        try:
            old = json.loads(self.meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{self.meta_path} is not valid JSON ({exc}); cannot resume from it") from None
        if old.get("format") != "archscore-search":
            raise ValueError(f"{self.meta_path} is not an archscore search history")
        if int(old.get("version", 0)) > HISTORY_FORMAT:
            raise ValueError(f"{self.csv} was written by a newer history format (version {old.get('version')}, this archscore reads "
                             f"{HISTORY_FORMAT}); upgrade archscore to resume it")
        for key in ("space", "strategy", "strategy_params", "evaluator", "seed", "pool", "constraints", "objectives", "early_stopping"):
            if old.get(key) != meta.get(key):
                raise ValueError(f"{self.csv} is the history of another run: {key} differs (recorded {old.get(key)!r}, now "
                                 f"{meta.get(key)!r}); use another out= or the same settings to resume")
        if old.get("budget_aware") and old.get("budget") != meta.get("budget"):
            raise ValueError(f"{self.csv} is the history of another run: budget differs (recorded {old.get('budget')}, now "
                             f"{meta.get('budget')}) and this strategy's decisions depend on the budget")

    def _write_meta(self, meta: dict[str, Any]) -> None:
        with atomic_path(self.meta_path) as tmp:
            tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))

    def _read(self) -> list[dict[str, Any]]:
        raw = self.csv.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]  # a write cut by a kill leaves a partial last line: drop it
        if len(complete) != len(raw):
            logger.warning("%s: dropping a partial last line left by an interrupted write", self.csv)
            with open(self.csv, "r+b") as f:
                f.truncate(len(complete))
        reader = csv.DictReader(io.StringIO(complete.decode("utf-8")))
        if tuple(reader.fieldnames or ()) not in (COLUMNS, OLD_COLUMNS):
            raise ValueError(f"{self.csv} has columns {reader.fieldnames}, expected {list(COLUMNS)}: not a history this archscore wrote")
        self.columns = tuple(reader.fieldnames)  # continue an older file in its own columns
        rows = list(reader)
        for i, r in enumerate(rows):
            if int(r["query"]) != i:
                raise ValueError(f"{self.csv}: row {i} has query number {r['query']}; the file was edited or mixes runs")
        return rows

    def append(self, row: dict[str, Any]) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([_fmt(row[c]) for c in self.columns])
        self._fh.write(buf.getvalue())
        self._sync()

    def _sync(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def _parse_float(s: str) -> float:
    return float(s) if s != "" else math.nan


def _row_evaluation(row: dict[str, Any]) -> Evaluation:
    extra = {k: float(v) for k, v in json.loads(row["extra"]).items()} if row.get("extra") else {}
    return Evaluation(_parse_float(row["value"]), report=_parse_float(row["report"]), cost=_parse_float(row["cost"]),
                      epochs=_parse_float(row["epochs"]), error=row["error"], stopped=row["stopped"] == "1", extra=extra)


class _ValueLog:
    """Append-only ``constraint_values.csv``: metric values computed for constraints and objectives.

    A resumed run reloads them, so a noisy metric (measured latency) gives the
    same accept/refuse decisions as the killed run made.
    """

    def __init__(self, folder: Path, cache: dict[tuple[str, str], float]) -> None:
        self.path = Path(folder) / "constraint_values.csv"
        self.cache = cache
        self._known: set[tuple[str, str]] = set()
        if self.path.exists():
            with open(self.path, newline="", encoding="utf-8") as f:
                for r in csv.reader(f):
                    if len(r) == 3 and r[0] != "metric":
                        self.cache[(r[0], r[1])] = float(r[2])
                        self._known.add((r[0], r[1]))
        self._fh = open(self.path, "a", newline="", encoding="utf-8")
        if self._fh.tell() == 0:
            self._fh.write("metric,arch,value\n")

    def flush_new(self) -> None:
        new = [k for k in self.cache if k not in self._known]
        if not new:
            return
        w = csv.writer(self._fh, lineterminator="\n")
        for k in new:
            w.writerow([k[0], k[1], repr(self.cache[k])])
            self._known.add(k)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


class _StoreHistory:
    """A run's history in a score store (:meth:`archscore.store.ScoreStore.append_history`), one transaction per query.

    The run is a settings entry of the store: its metadata (``run.json``'s
    content) without the archscore version, and without the budget unless
    the strategy is budget-aware, so a run with a larger budget continues the
    same entry. Constraint and objective values computed before queries are
    kept in the same entry as scores named ``metric:<name>``.
    """

    METRIC = "metric:"

    def __init__(self, store: Any, meta: dict[str, Any], resume: bool) -> None:
        meta = json.loads(json.dumps(meta, default=str))
        self._own = not isinstance(store, ScoreStore)
        self.store = ScoreStore(store) if self._own else store
        try:
            key = {k: v for k, v in meta.items() if k != "archscore" and (k != "budget" or meta.get("budget_aware"))}
            self.sid = self.store.settings_id({**key, "kind": "search-history"})
            self.name = f"score store {self.store.path} (search settings {self.sid})"
            self.rows = self.store.history(self.sid)
        except BaseException:
            self.close()
            raise
        if self.rows and not resume:
            self.close()
            raise ValueError(f"{self.name} already holds a history of this run; pass resume=True to continue it")

    def append(self, row: dict[str, Any]) -> None:
        self.store.append_history(self.sid, int(row["query"]), str(row["arch"]), {c: _fmt(row[c]) for c in COLUMNS})

    def close(self) -> None:
        if self._own:
            self.store.close()


class _StoreValueLog:
    """Metric values computed for constraints and objectives, kept beside a store-held history (see :class:`_ValueLog`)."""

    def __init__(self, hist: _StoreHistory, cache: dict[tuple[str, str], float]) -> None:
        self.hist, self.cache = hist, cache
        self._known: set[tuple[str, str]] = set()
        n = len(_StoreHistory.METRIC)
        for _, arch, proxy, _, value, status, *_ in hist.store.rows(hist.sid):
            if proxy.startswith(_StoreHistory.METRIC):
                k = (proxy[n:], arch)
                self.cache[k] = float(value) if status == "ok" and value is not None else math.nan
                self._known.add(k)

    def flush_new(self) -> None:
        for k in [k for k in self.cache if k not in self._known]:
            self.hist.store.put(self.hist.sid, k[1], {_StoreHistory.METRIC + k[0]: float(self.cache[k])})
            self._known.add(k)

    def close(self) -> None:
        pass


# ------------------------------------------------------------------ objectives
def _objectives(objectives: Any, evaluator: Any, resolver: MetricResolver) -> tuple[dict[str, str], list[tuple[str, str, Any]]]:
    """Validate ``objectives`` and say where each comes from: ("value"|"report"|"extra"|"metric", name, fn)."""
    if objectives is None:
        return {}, []
    if not isinstance(objectives, Mapping) or not objectives:
        raise ValueError("objectives must be a non-empty mapping {name: 'min' or 'max'}, e.g. "
                         "{'valid_acc_200ep': 'max', 'edgegpu_latency': 'min'}")
    out, sources = {}, []
    target = getattr(evaluator, "target", None)
    report = getattr(evaluator, "report", None)
    extra = list(getattr(evaluator, "extra", []) or [])
    for name, d in objectives.items():
        if d not in _DIRECTIONS:
            raise ValueError(f"objective {name!r}: direction must be 'min' or 'max', got {d!r}")
        out[str(name)] = _DIRECTIONS[d]
        if name in ("value", target):
            sources.append(("value", name, None))
        elif name in ("report",) or (report is not None and name == report):
            sources.append(("report", name, None))
        elif name in extra:
            sources.append(("extra", name, None))
        else:  # a cost known before the query: a table column or an estimator, as for constraints
            try:
                _, fn = resolver.function(name, tag=f"objective:{name}")
            except ValueError as exc:
                reported = ", ".join(c for c in ("value", target, report, *extra) if c)
                raise ValueError(f"objective {name!r} is neither reported by the evaluator ({reported}) nor a known metric: {exc}") from None
            sources.append(("metric", name, fn))
    if len(out) < 2:
        logger.info("one objective given: the front is the best query")
    return out, sources


# ------------------------------------------------------------------ early stopping
def _early_stop(ev: Evaluation, rule: Any, best: float | None, check_every: int) -> Evaluation:
    """Replay ``ev.curve`` epoch by epoch; stop where ``rule.should_stop`` says so."""
    curve = ev.curve
    if rule is None or curve is None or best is None or len(curve) < 2:
        return ev
    total = len(curve)
    for e in range(max(int(getattr(rule, "min_epochs", 3)), 1), total, check_every):
        if rule.should_stop(curve[:e], best):
            frac = e / total
            return Evaluation(float(curve[e - 1]), report=math.nan, cost=ev.cost * frac if math.isfinite(ev.cost) else ev.cost,
                              curve=list(curve[:e]), epochs=float(e), stopped=True)
    return ev


def _make_rule(early_stopping: Any, total: int):
    if early_stopping is None or early_stopping is False:
        return None
    from archscore.predictors.curves import EarlyStopping

    if isinstance(early_stopping, EarlyStopping):
        return early_stopping
    if isinstance(early_stopping, (int, float)) and not isinstance(early_stopping, bool):
        return EarlyStopping(total_epochs=total, threshold=float(early_stopping))
    raise TypeError(f"early_stopping must be None, a probability threshold or an EarlyStopping, got {early_stopping!r}")


# ------------------------------------------------------------------ evaluating a batch
@dataclass
class _Slot:
    """What becomes of one proposal of a batch: a repeat, a refusal, or a query (replayed or to evaluate)."""

    kind: str  # "repeat" | "refused" | "query"
    proposal: Proposal
    key: str
    full: bool
    fid: Any
    result: Evaluation | None = None
    query: int = -1
    digest: str = ""
    replayed: bool = False
    spent: float = 0.0


class EvaluateTask:
    """A picklable executor task: one ``evaluator.safe_evaluate(arch, fidelity)`` call.

    An exception or a NaN inside the worker becomes a recorded failure
    exactly as in the serial loop (:meth:`Evaluator.safe_evaluate`).
    """

    def __init__(self, evaluator: Any) -> None:
        self.evaluator = evaluator

    def __call__(self, payload: tuple[Arch, Any]) -> Evaluation:
        arch, fidelity = payload
        return self.evaluator.safe_evaluate(arch, fidelity)


def _resolve_executor(executor: Any, workers: Any) -> Any:
    """The executor asked for by ``executor=`` / ``workers=`` (None: evaluate in this process)."""
    if executor is not None and workers is not None:
        raise ValueError("give workers= or executor=, not both (workers=N is executor=LocalExecutor(N))")
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
            raise ValueError(f"workers must be a positive integer number of processes, got {workers!r}")
        return LocalExecutor(int(workers)) if workers > 1 else None
    if executor is not None and not callable(getattr(executor, "run", None)):
        raise TypeError(f"executor must be an archscore.executor.LocalExecutor or DaskExecutor (an object with "
                        f"run(task, items)), got {type(executor).__name__}")
    return executor


class _Runner:
    """Evaluates the new queries of a batch, in this process or through an executor; yields the slots in order."""

    def __init__(self, evaluator: Any, executor: Any) -> None:
        self.evaluator, self.executor = evaluator, executor
        self.task = EvaluateTask(evaluator)
        n = getattr(executor, "workers", None) or getattr(executor, "local_workers", None) if executor is not None else 1
        self.workers = int(n or 1)
        self._opened = False
        if executor is not None and callable(getattr(executor, "open", None)):
            executor.open()  # a Dask cluster is started once per search, not once per batch
            self._opened = True

    def evaluated(self, slots: list[_Slot]) -> Iterator[_Slot]:
        if self.executor is None:
            for s in slots:
                if s.kind == "query" and s.result is None:
                    s.result = self.evaluator.safe_evaluate(s.proposal.arch, s.fid)
                yield s
            return
        todo = [(j, (s.proposal.arch, s.fid)) for j, s in enumerate(slots) if s.kind == "query" and s.result is None]
        nxt = 0
        if todo:
            for out in self.executor.run(self.task, todo):
                s = slots[out.key]
                s.result = out.result if out.error is None else Evaluation(math.nan, error=out.error)
                while nxt < len(slots) and (slots[nxt].kind != "query" or slots[nxt].result is not None):
                    yield slots[nxt]  # in proposal order: the history is the serial run's
                    nxt += 1
        left = sum(s.kind == "query" and s.result is None for s in slots)
        if left:
            raise RuntimeError(f"the executor stopped before returning {left} evaluation(s) of the batch; the queries "
                               "recorded so far are kept: rerun the same search (with out= or store=) to resume")
        yield from slots[nxt:]

    def close(self) -> None:
        if self._opened:
            self.executor.close()


# ------------------------------------------------------------------ the loop
def search(
    space: Any,
    strategy: Any,
    evaluator: Any,
    budget: int = 50,
    seed: int = 0,
    pool: Pool | None = None,
    data: Any = None,
    scores: Any = None,
    out: str | os.PathLike | None = None,
    *,
    constraints: Any = None,
    objectives: Mapping[str, str] | None = None,
    early_stopping: Any = None,
    check_every: int = 10,
    progress: bool | None = None,
    resume: bool = True,
    strategy_params: Mapping[str, Any] | None = None,
    callback: Callable[[dict], None] | None = None,
    workers: int | None = None,
    executor: Any = None,
    store: Any = None,
) -> SearchResult:
    """Run ``strategy`` against ``evaluator`` for ``budget`` queries.

    Parameters
    ----------
    space : str or SearchSpace
    strategy : str or Strategy
        A registered name (:func:`list_strategies`) or an instance.
    evaluator : Evaluator, str or callable
        What a query runs (:class:`TabularEvaluator`, :class:`FunctionEvaluator`...); a
        plain callable becomes a :class:`FunctionEvaluator`.
    budget : int
        Queries (see the module docstring for what counts).
    seed : int
    pool : Pool, optional
        Warm start: ranked once, in one estimator call, before the first query.
    data : (inputs, targets), optional
        Minibatch for the pool's estimator.
    scores : DataFrame, path or mapping, optional
        Precomputed proxy scores for the pool (``archscore score`` output).
    out : path, optional
        Folder for ``history.csv`` and ``run.json``; an existing history of
        the same setting is resumed.
    constraints : str, mapping, tuple, callable or list of these, optional
        Checked before a query is spent (a refused architecture costs no
        query; ``result.refused`` lists the refusals): strings such as
        ``"hw:latency<=5ms"``, ``"params<=1.5M"`` or ``"edgegpu_latency<=3"``
        (a column of the evaluator's table), ``(metric, op, bound)`` tuples
        with a callable ``arch -> float`` or an estimator as the metric,
        ``{"max_params": n, "max_latency": "5ms", "max_memory": "2MB"}``, and
        callables ``arch -> bool``. See :mod:`archscore.search.constraints`
        for the syntax and units.
    objectives : mapping, optional
        ``{name: "min" | "max"}`` for multi-objective search (e.g. strategy
        ``"nsga2"``): the evaluator's target (the value) or report column,
        one of its ``extra`` columns, or a metric known before the query (a
        table column or an estimator such as ``hw:params``, as for
        constraints). ``result.front`` is the Pareto front of the queries.
    early_stopping : float or EarlyStopping, optional
        When evaluations carry learning curves: stop a run whose probability
        of beating the best so far (:func:`archscore.predictors.curves.probability_of_improvement`)
        falls below this threshold, checked every ``check_every`` epochs.
        Stopped queries record the epochs spent and never become the best.
    progress : bool, optional
        tqdm bar (None: only on a terminal).
    resume : bool, default=True
    strategy_params : mapping, optional
        Parameters of a strategy given by name.
    callback : callable, optional
        Called with each new history row (a dict).
    workers : int, optional
        Evaluate each batch of proposals on this many local worker processes
        (:class:`archscore.executor.LocalExecutor`); 1 or None: in this process.
    executor : LocalExecutor or DaskExecutor, optional
        Evaluate each batch through this executor instead (e.g.
        ``DaskExecutor(local_workers=4)`` or ``DaskExecutor("tcp://host:8786")``).
        The results are recorded in proposal order, so the history is the
        serial run's whatever the number of workers; a strategy proposes
        ``batch_size`` architectures at a time, so give it ``batch_size`` of at
        least the number of workers. The evaluator must be picklable for Dask
        (a module-level function for :class:`FunctionEvaluator`).
    store : str, Path or ScoreStore, optional
        Keep the history in this score store instead of ``out=`` (one
        transaction per query; rerunning the same call resumes from it, as
        with ``out=``), and let the pool keep and reuse its scores there
        (:class:`Pool` ``store=``). A store holds any number of runs: each
        setting is its own entry (``archscore store info``).

    Returns
    -------
    SearchResult
    """
    budget = check_budget(budget)
    seed = _check_seed(seed)
    executor = _resolve_executor(executor, workers)
    evaluator = get_evaluator(evaluator)
    space = resolve_space(space if space is not None else evaluator.space)
    if evaluator.space is not None and evaluator.space.name != space.name:
        raise ValueError(f"the evaluator's architectures are in space {evaluator.space.name!r}, not {space.name!r}")
    strat = get_strategy(strategy, **dict(strategy_params or {}))
    if strat.needs_mutate and not callable(getattr(space, "mutate", None)):
        raise ValueError(f"strategy {strat.name!r} mutates architectures but space {space.name!r} has no mutate(arch, rng)")
    if pool is not None and not isinstance(pool, Pool):
        raise TypeError(f"pool must be an archscore.search.Pool, got {type(pool).__name__}")
    if isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 1:
        raise ValueError(f"check_every must be a positive integer, got {check_every!r}")
    columns = list(getattr(evaluator, "columns", []) or [])
    resolver = MetricResolver(space, columns, getattr(evaluator, "column_value", None) if columns else None)
    cons = ConstraintSet(constraints, resolver)
    objectives, sources = _objectives(objectives, evaluator, resolver)

    rng = np.random.default_rng(seed)
    allowed = evaluator.candidates()
    ctx = SearchContext(space, rng, allowed, [], evaluator.fidelities, budget)
    ctx.objectives = dict(objectives)

    def objective_values(key: str, ev: Evaluation) -> np.ndarray | None:
        vals = []
        for kind, name, fn in sources:
            if kind == "value":
                v = ev.value
            elif kind == "report":
                v = ev.report
            elif kind == "extra":
                v = ev.extra.get(name, math.nan)
            else:
                v = fn(ctx.arch(key), key)
            vals.append(float(v))
        arr = np.asarray(vals, dtype=float)
        return arr if arr.size and np.all(np.isfinite(arr)) else None

    ctx.objective_values = objective_values
    meta = {
        "format": "archscore-search", "version": HISTORY_FORMAT, "archscore": archscore.__version__,
        "space": space.name, "strategy": strat.name or type(strat).__name__, "strategy_params": strat.params(),
        "evaluator": evaluator.fingerprint(), "seed": seed, "budget": budget, "budget_aware": strat.budget_aware,
        "pool": pool.describe() if pool is not None else None, "constraints": cons.describe(),
        "objectives": objectives or None,
        "early_stopping": None if early_stopping is None else repr(early_stopping),
    }
    if out is not None and store is not None:
        raise ValueError("give out= (a folder with history.csv) or store= (a score store) for the history, not both")
    if out is not None:
        hist: Any = _History(out, meta, resume)
        values_log: Any = _ValueLog(hist.dir, resolver.cache)
    elif store is not None:
        hist = _StoreHistory(store, meta, resume)
        values_log = _StoreValueLog(hist, resolver.cache)
    else:
        hist = values_log = None
    replay = hist.rows if hist is not None else []
    if replay:
        logger.info("resuming %s: replaying %d recorded queries", hist.name, len(replay))

    pool_seconds = 0.0
    if pool is not None:
        pool_store = hist.store if isinstance(hist, _StoreHistory) else None
        ctx.warm = pool.rank(ctx, data=data, scores=scores, store=pool_store)
        pool_seconds = float(getattr(pool, "seconds_", 0.0))
        beyond_at: list[list[int]] = []  # [queries done, architectures ranked beyond the pool so far] at each ranking call

        def score_candidates(archs: list[Arch]) -> np.ndarray:
            values = pool.score(ctx, list(archs), data=data, store=pool_store)
            beyond_at.append([len(ctx.results), len(pool.beyond_)])
            return values

        ctx.score_candidates = score_candidates
    strat.start(ctx)

    fmax = max(evaluator.fidelities) if evaluator.fidelities else None
    rule = None
    rows: list[dict[str, Any]] = []
    low: dict[tuple[str, Any], Evaluation] = {}
    spent, n_repeats, n_refused, idle = 0.0, 0, 0, 0
    refused: dict[str, dict[str, Any]] = {}
    best_value: float | None = None
    show = sys.stderr.isatty() if progress is None else bool(progress)
    bar = tqdm(total=budget, desc=f"search {strat.name}", unit="query", disable=not show)
    runner = _Runner(evaluator, executor)
    warned_batch = False
    try:
        while spent < budget - 1e-9:
            props = strat.ask()
            if not props:
                logger.info("strategy %s has nothing more to propose", strat.name)
                break
            if runner.workers > 1 and len(props) < runner.workers and not warned_batch:
                warned_batch = True
                logger.info("strategy %s proposes batches of %d: at most %d of the %d workers are busy (raise its "
                            "batch_size to use them all)", strat.name, len(props), len(props), runner.workers)
            # 1. plan the batch in proposal order (repeats, refusals, replayed and new queries), evaluating nothing yet
            slots: list[_Slot] = []
            planned: set[tuple[str, Any]] = set()
            for p in props:
                if spent >= budget - 1e-9:
                    break
                key = ctx.key(p.arch)
                full = p.fidelity is None or p.fidelity == fmax
                fid = None if full else p.fidelity
                if (key, fid) in planned or (ctx.results.get(key) if full else low.get((key, fid))) is not None:
                    n_repeats += 1
                    idle += 1
                    slots.append(_Slot("repeat", p, key, full, fid))
                    continue
                values: dict[str, float] = {}
                if key in refused:
                    reason = refused[key]["reason"]
                elif not ctx.is_allowed(p.arch):
                    reason = "not among the evaluator's architectures"
                else:
                    reason, values = cons.violation(p.arch, key)
                    if values_log is not None:
                        values_log.flush_new()
                if reason:
                    n_refused += 1
                    idle += 1
                    ctx.refused.add(key)
                    if key not in refused:
                        refused[key] = {"arch": key, "reason": reason, "after_query": len(rows) + len(planned), **values}
                        logger.info("refused %s (no query spent): %s", key, reason)
                    slots.append(_Slot("refused", p, key, full, fid, result=Evaluation(math.nan, error=f"refused: {reason}")))
                    continue
                i = len(rows) + len(planned)
                digest = _rng_digest(rng)
                slot = _Slot("query", p, key, full, fid, query=i, digest=digest)
                if i < len(replay):
                    rec = replay[i]
                    if rec["arch"] != key or (rec["fidelity"] or None) != (None if fid is None else str(fid)):
                        raise ValueError(f"{hist.name} does not match this run at query {i}: recorded {rec['arch']!r} "
                                         f"(fidelity {rec['fidelity'] or 'full'}), the strategy now proposes {key!r} "
                                         f"(fidelity {fid or 'full'}); it is the history of another run or another archscore version")
                    if rec["rng"] != digest:
                        raise ValueError(f"{hist.name} does not match this run at query {i}: the random generator state differs "
                                         "(history of another run or another archscore version)")
                    slot.result, slot.replayed = _row_evaluation(rec), True
                planned.add((key, fid))
                spent += 1.0 if full else float(fid) / float(fmax)
                slot.spent = spent
                idle = 0
                slots.append(slot)
            # 2. evaluate the new queries (concurrently with an executor) and 3. record them in proposal order
            told: list[Proposal] = []
            results: list[Evaluation] = []
            with contextlib.closing(runner.evaluated(slots)) as done:
                for slot in done:
                    p, key, full, fid = slot.proposal, slot.key, slot.full, slot.fid
                    if slot.kind == "repeat":
                        told.append(p)
                        results.append(ctx.results[key] if full else low[(key, fid)])
                        continue
                    if slot.kind == "refused":
                        told.append(p)
                        results.append(slot.result)
                        continue
                    ev, i = slot.result, slot.query
                    if not slot.replayed:
                        if full and early_stopping is not None and ev.curve is not None:
                            if rule is None:
                                rule = _make_rule(early_stopping, len(ev.curve))
                            ev = _early_stop(ev, rule, best_value, check_every)
                        if ev.error:
                            logger.warning("query %d (%s) failed: %s", i, key, ev.error)
                    if full:
                        ctx.results[key] = ev
                        if ev.ok and (best_value is None or ev.value > best_value):
                            best_value = ev.value
                    else:
                        low[(key, fid)] = ev
                    row = {"query": i, "arch": key, "value": float(ev.value), "report": float(ev.report), "cost": float(ev.cost),
                           "fidelity": fid, "epochs": float(ev.epochs), "stopped": bool(ev.stopped), "error": ev.error,
                           "rng": slot.digest, "info": json.dumps(p.info, sort_keys=True) if p.info else "",
                           "extra": json.dumps(ev.extra, sort_keys=True) if ev.extra else ""}
                    rows.append(row)
                    if hist is not None and not slot.replayed:
                        hist.append(row)
                    if callback is not None and not slot.replayed:
                        callback(row)
                    bar.update(min(slot.spent, budget) - bar.n)
                    if best_value is not None:
                        bar.set_postfix(best=f"{best_value:.4g}", refresh=False)
                    told.append(p)
                    results.append(ev)
            if told:
                strat.tell(told, results)
            if idle > MAX_IDLE_PROPOSALS:
                logger.warning("search stopped after %d proposals in a row that spent nothing (all repeats or refused): "
                               "the strategy has exhausted the architectures it can reach", idle)
                break
    finally:
        runner.close()
        bar.close()
        if values_log is not None:
            values_log.flush_new()
            values_log.close()
        if hist is not None:
            hist.close()
    if len(rows) < len(replay):
        raise ValueError(f"{hist.name} holds {len(replay)} queries but this run stopped after {len(rows)}: it is the history "
                         "of a run with a larger budget; pass that budget to continue it")
    history = _history_frame(rows)
    for kind, name, fn in sources:  # every objective gets a history column under its own name
        if name in history.columns:
            continue
        if kind == "metric":  # known before the query (a table column, an estimator)
            history[name] = [fn(ctx.arch(a), a) if ok else math.nan for a, ok in zip(history["arch"], _full_mask(history))]
        elif kind in ("value", "report"):
            history[name] = history[kind]
    history.attrs["objective_columns"] = {name: ("value" if kind == "value" else "report" if kind == "report" else name)
                                          for kind, name, _ in sources}
    best = _best(history)
    if best is not None:
        logger.info("search %s: %d queries, best %s value %.6g report %.6g", strat.name, len(rows), best.arch, best.value, best.report)
    # candidates the strategy had ranked by the pool's estimator beyond the pool itself (their proxy cost)
    pool_stats = {"pool_beyond": len(pool.beyond_), "pool_beyond_seconds": pool.beyond_seconds_,
                  "pool_beyond_at": beyond_at} if pool is not None else {}
    refused_frame = pd.DataFrame(list(refused.values()))
    if refused_frame.empty:
        refused_frame = pd.DataFrame(columns=["arch", "reason", "after_query"])
    return SearchResult(history, best, space, strat.name, seed, budget, spent, n_repeats, n_refused, pool_seconds,
                        float(getattr(strat, "_fit_seconds", 0.0)), {"surrogate_fits": int(getattr(strat, "_n_fits", 0)), **pool_stats, **strat.stats()},
                        refused=refused_frame, objectives=dict(objectives))


def _history_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    base = pd.DataFrame(rows, columns=list(COLUMNS))
    base["stopped"] = base["stopped"].astype(bool)
    base["fidelity"] = base["fidelity"].astype(object)
    reported = pd.DataFrame([json.loads(s) if isinstance(s, str) and s else {} for s in base["extra"]], index=base.index)
    reported = reported[[c for c in reported.columns if c not in base.columns]]
    info = [json.loads(s) if s else {} for s in base["info"]]
    extra = pd.DataFrame(info, index=base.index)
    extra = extra[[c for c in extra.columns if c not in base.columns and c not in reported.columns]]
    return pd.concat([base.drop(columns=["info", "rng", "extra"]), reported, extra], axis=1)


def _best(history: pd.DataFrame) -> BestQuery | None:
    if history.empty:
        return None
    ok = _full_mask(history) & np.isfinite(history["value"].to_numpy(dtype=float))
    if not ok.any():
        return None
    vals = np.where(ok, history["value"].to_numpy(dtype=float), -np.inf)
    i = int(np.argmax(vals))
    r = history.iloc[i]
    return BestQuery(int(r["query"]), str(r["arch"]), float(r["value"]), float(r["report"]))
