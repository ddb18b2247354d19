"""Few-shot latency prediction on a target device: ``hw:latency-predictor``.

A cell's latency on one device is close to a sum of per-op costs (nn-Meter,
Zhang et al., MobiSys 2021, predicts a model's latency as the sum of its
kernels' latencies; on HW-NAS-Bench, Li et al., ICLR 2021, a linear model on
op counts ranks NB201 cells with Spearman 0.93-0.996 given the whole table),
but a target device is measured only a handful of times, so the model must
have few free parameters and a prior from devices measured before. The
predictor:

1. counts, per op type, the non-zero op nodes that are *present* in the cell
   and those that are *used* (whose output reaches the cell output through
   non-zero ops). Devices differ in whether they run dead branches: an
   interpreter runs every op, a graph compiler removes ops whose result is
   never used (dead-code elimination). Three cost structures are tried:
   ``"all"`` (every present op costs), ``"used"`` (only used ops cost) and
   ``"both"`` (a cost for being present plus one for being used);
2. learns each source device's latency (``sources={device: (archs, latencies)}``,
   e.g. other devices' benchmark tables) with a ridge over the present and
   used counts plus a one-hot op per position (op nodes in topological
   order), since where an op sits matters on some devices and a source table
   has the samples to learn it; the source's predicted latency of a cell is
   one more column (HELP, Lee et al., NeurIPS 2021, describes a device by its
   latencies on reference architectures; BRP-NAS, Dudziak et al., NeurIPS
   2020, transfers a latency predictor between devices. Here the source
   tables are summarised by their fitted models);
3. fits the target's few latencies with every op cost and every source weight
   **non-negative** (an op cannot make a network faster; a source enters
   as a device that ranks cells alike, never inversely), a non-negative
   intercept (the fixed cost outside the cells; free when some fitted latency
   is not positive), and ridge penalties on the op costs and the source
   weights. Each (structure, op penalty, source penalty) of a small grid is scored by its leave-one-out error (20
   interleaved folds beyond 20 measurements) and the fits are averaged with
   weights ``MSE_cv ** (-n / 2)``, the Gaussian pseudo-likelihood of the
   left-out points (``averaging="best"`` keeps the single best candidate).
   Nothing is tuned to a device: the structure and penalties come from the
   target's own measurements.

Without sources, step 3 uses the op counts only. The non-negative ridge is
solved as a non-negative least-squares problem on the data stacked with
``sqrt(penalty) * I`` (Lawson & Hanson, *Solving Least Squares Problems*, 1974).
"""

from __future__ import annotations

import itertools
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.optimize import nnls

from archscore.arch import INPUT_OP, OUTPUT_OP, ZERO_OPS, Arch
from archscore.base import Estimator, Tags, check_targets, create_estimator, register_estimator
from archscore.registry import UnknownNameError
from archscore.spaces import get_space

STRUCTURES = ("all", "used", "both")


def used_nodes(arch: Arch) -> set:
    """Non-zero op nodes from which the output is reached through non-zero op nodes only.

    These are the ops a graph compiler keeps after dead-code elimination; an op
    whose only consumers are zero ops (``none``) computes nothing the cell returns.
    """
    g = arch.graph
    op = dict(g.nodes(data="op"))
    used: set = set()
    stack = [arch.output_node]
    while stack:  # walk back from the output, stopping at zero ops and the input
        for u in g.predecessors(stack.pop()):
            if u not in used and op[u] not in ZERO_OPS and op[u] != INPUT_OP:
                used.add(u)
                stack.append(u)
    return used


class OpCountFeatures:
    """Per-op counts of the present and of the used non-zero op nodes of architectures.

    Parameters
    ----------
    ops : sequence of str
        The op vocabulary (fixed column order); zero ops are dropped.
    """

    def __init__(self, ops: Sequence[str]) -> None:
        self.ops = tuple(op for op in ops if op not in ZERO_OPS)
        self._col = {op: i for i, op in enumerate(self.ops)}

    def transform(self, archs: Sequence[Arch]) -> tuple[np.ndarray, np.ndarray]:
        """``(present, used)``, two arrays of shape ``(len(archs), len(ops))``."""
        k = len(self.ops)
        present, used = np.zeros((len(archs), k)), np.zeros((len(archs), k))
        for r, a in enumerate(archs):
            keep = used_nodes(a)
            for node, op in a.graph.nodes(data="op"):
                if op in ZERO_OPS or op in (INPUT_OP, OUTPUT_OP):
                    continue
                if op not in self._col:
                    raise ValueError(f"op {op!r} of {a!r} is not in the fitted vocabulary {self.ops}")
                present[r, self._col[op]] += 1
                used[r, self._col[op]] += node in keep
        return present, used

    def positions(self, archs: Sequence[Arch], n_positions: int) -> np.ndarray:
        """Per position (op nodes in topological order) a one-hot op and the same one-hot for used ops only.

        Zero ops get no column; smaller cells are zero-padded, larger ones raise.
        """
        k = len(self.ops)
        out = np.zeros((len(archs), 2 * k * n_positions))
        for r, a in enumerate(archs):
            keep = used_nodes(a)
            nodes = [v for v in a.topological_order if a.graph.nodes[v]["op"] not in (INPUT_OP, OUTPUT_OP)]
            if len(nodes) > n_positions:
                raise ValueError(f"architecture {a!r} has {len(nodes)} op nodes; the predictor was fitted on at most {n_positions}")
            for pos, v in enumerate(nodes):
                op = a.graph.nodes[v]["op"]
                if op in ZERO_OPS:
                    continue
                if op not in self._col:
                    raise ValueError(f"op {op!r} of {a!r} is not in the fitted vocabulary {self.ops}")
                out[r, pos * k + self._col[op]] = 1
                if v in keep:
                    out[r, (n_positions + pos) * k + self._col[op]] = 1
        return out

    def design(self, archs: Sequence[Arch], structure: str) -> np.ndarray:
        """The cost columns of one structure: present counts, used counts, or both side by side."""
        present, used = self.transform(archs)
        return {"all": present, "used": used, "both": np.hstack([present, used])}[structure]


def _vocabulary(archs: Sequence[Arch]) -> tuple[str, ...]:
    ops: list[str] = []
    for space in sorted({a.space for a in archs}):
        try:
            ops.extend(get_space(space).ops)
        except UnknownNameError:
            pass
    seen = {op for a in archs for _, op in a.graph.nodes(data="op")} - {INPUT_OP, OUTPUT_OP}
    return tuple(dict.fromkeys(ops + sorted(seen - set(ops))))


def nonnegative_ridge(X: np.ndarray, y: np.ndarray, penalties: np.ndarray) -> np.ndarray:
    """``argmin_{w >= 0} |X w - y|^2 + sum_j penalties[j] w_j^2``, by NNLS on an augmented system."""
    Xa = np.vstack([X, np.diag(np.sqrt(np.asarray(penalties, float)))])
    ya = np.concatenate([y, np.zeros(X.shape[1])])
    return nnls(Xa, ya, maxiter=50 * X.shape[1])[0]


def _with_intercept_sign(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Add a ``-1`` column after the leading ``+1`` column (a free intercept) unless every latency is positive.

    Positive latencies get a non-negative intercept: the fixed cost of
    everything outside the cells cannot be negative.
    """
    return X if np.all(y > 0) else np.hstack([X[:, :1], -X[:, :1], X[:, 1:]])


def _fold_intercept(w: np.ndarray, n_int: int) -> np.ndarray:
    """Coefficients with the intercept first, from NNLS ones with ``n_int`` (1 or 2) intercept columns."""
    return np.concatenate([[w[0] - (w[1] if n_int == 2 else 0.0)], w[n_int:]])


def _cv_mse(X: np.ndarray, y: np.ndarray, penalties: np.ndarray, folds: np.ndarray) -> float:
    sq = 0.0
    for f in np.unique(folds):
        held = folds == f
        w = nonnegative_ridge(X[~held], y[~held], penalties)
        sq += float(np.sum((y[held] - X[held] @ w) ** 2))
    return max(sq / len(y), 1e-12)


@register_estimator(
    "hw:latency-predictor",
    description="few-shot latency predictor: non-negative per-op costs (all / used ops) and source-device weights, "
                "leave-one-out averaged (units: those of the fitted latencies)",
    test_params={},
)
class LatencyPredictor(Estimator):
    """Predicts a target device's latency from a few measured architectures, optionally using other devices' tables.

    ``fit(archs, latencies, sources={device: (archs, latencies)})``; ``predict(archs)``
    returns latencies in the units of the fitted ones. See the module docstring
    for the model.

    Parameters
    ----------
    structures : sequence of {"all", "used", "both"}, default=("all", "used", "both")
        Cost structures tried: every present op costs, only used ops cost, or both.
    penalties : sequence of float, default=(0.001, 0.01, 0.1, 1.0, 10.0)
        Ridge penalties of the op costs (latencies scaled to unit standard deviation).
    source_penalties : sequence of float, default=(0.001, 0.01, 0.1)
        Ridge penalties of the source-device weights.
    source_alpha : float, default=1.0
        Ridge penalty of each source device's own latency model.
    cost_features : sequence of str, default=()
        Names of cost estimators (e.g. ``"hw:macs"``) whose values (scaled by
        their largest fitted value) join the op costs as non-negative columns;
        they build every network, so they are slow on large tables.
    cost_params : dict, optional
        Keyword parameters for those cost estimators (e.g. ``space_options``).
    averaging : {"loo-weighted", "best"}, default="loo-weighted"
        Average the candidates' fits with leave-one-out pseudo-likelihood weights, or keep the best one.

    Attributes
    ----------
    features_ : OpCountFeatures
    source_coefs_ : dict
        Each source device's ridge ``(coefficients, feature means, scaled mean latency)`` over
        present and used counts, cost features and per-position one-hots.
    n_positions_ : int
        Op-node positions of the source models' one-hot features.
    candidates_ : list of tuple
        ``(structure, penalty, source_penalty)`` of every candidate fit.
    cv_mse_, weights_ : ndarray
        Leave-one-out MSE (scaled latencies) and averaging weight of each candidate.
    structure_, penalties_ : str, tuple
        The best candidate's structure and ``(penalty, source_penalty)``.
    coef_ : dict
        Per structure, the weight-averaged coefficients (intercept first).
    """

    def __init__(self, structures: Sequence[str] = STRUCTURES, penalties: Sequence[float] = (0.001, 0.01, 0.1, 1.0, 10.0),
                 source_penalties: Sequence[float] = (0.001, 0.01, 0.1), source_alpha: float = 1.0,
                 cost_features: Sequence[str] = (), cost_params: dict[str, Any] | None = None,
                 averaging: str = "loo-weighted") -> None:
        self.structures = structures
        self.penalties = penalties
        self.source_penalties = source_penalties
        self.source_alpha = source_alpha
        self.cost_features = cost_features
        self.cost_params = cost_params
        self.averaging = averaging

    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.family = "hardware"
        tags.requires_fit = True
        tags.output.higher_is_better = False
        tags.output.units = "target"  # latencies in whatever unit the fitted targets were
        return tags

    # ------------------------------------------------------------- features
    def _costs(self, archs: Sequence[Arch]) -> np.ndarray:
        if not self.cost_features:
            return np.zeros((len(archs), 0))
        costs = [create_estimator(name, **(self.cost_params or {})).predict(list(archs)) for name in self.cost_features]
        return np.stack(costs, 1) / self.cost_scale_

    def _columns(self, archs: Sequence[Arch]) -> dict[str, np.ndarray]:
        """Per structure, the op-cost columns followed by the scaled cost features and the source predictions."""
        present, used = self.features_.transform(archs)
        costs = self._costs(archs)
        both = np.hstack([present, used, costs])
        if self.source_coefs_:
            S = np.hstack([both, self.features_.positions(archs, self.n_positions_)])
            src = np.stack([(S - mu) @ w + m for (w, mu, m) in self.source_coefs_.values()], 1)
        else:
            src = np.zeros((len(archs), 0))
        ops = {"all": present, "used": used, "both": np.hstack([present, used])}
        return {s: np.hstack([ops[s], costs, src]) for s in self.structures}

    # ------------------------------------------------------------------ fit
    def fit(self, archs: Sequence[Arch], y: Sequence[float] | None = None, *,
            sources: Mapping[str, tuple[Sequence[Arch], Sequence[float]]] | None = None, **context: Any) -> "LatencyPredictor":
        """Fit on the target device's ``(archs, y)``; ``sources`` maps other devices to their ``(archs, latencies)``."""
        sources = dict(sources or {})
        checked = {}
        for device, pair in sources.items():
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"sources[{device!r}] must be a pair (archs, latencies)")
            s_archs = self._check_archs(pair[0], {}, self.get_tags())
            if len(s_archs) < 2:
                raise ValueError(f"sources[{device!r}] needs at least 2 architectures, got {len(s_archs)}")
            checked[device] = (s_archs, check_targets(pair[1], len(s_archs)))
        self._pending_sources = checked  # consumed by _fit (fit's keyword is not an estimator context)
        try:
            return super().fit(archs, y, **context)
        finally:
            del self._pending_sources

    def _check_params(self) -> None:
        if self.averaging not in ("loo-weighted", "best"):
            raise ValueError(f"averaging must be 'loo-weighted' or 'best', got {self.averaging!r}")
        bad = [s for s in self.structures if s not in STRUCTURES]
        if bad or not len(self.structures):
            raise ValueError(f"structures must be a non-empty subset of {STRUCTURES}, got {tuple(self.structures)!r}")
        for name in ("penalties", "source_penalties"):
            grid = list(getattr(self, name))
            if not grid or any(not np.isfinite(p) or p < 0 for p in grid):
                raise ValueError(f"{name} must be a non-empty sequence of finite non-negative floats, got {grid!r}")
        if not np.isfinite(self.source_alpha) or self.source_alpha < 0:
            raise ValueError(f"source_alpha must be a finite non-negative float, got {self.source_alpha!r}")

    def _fit(self, archs, y, **context):
        self._check_params()
        if len(archs) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 measured architectures, got {len(archs)}")
        sources = self._pending_sources
        every = list(archs) + [a for s_archs, _ in sources.values() for a in s_archs]
        self.features_ = OpCountFeatures(_vocabulary(every))
        self.cost_scale_ = np.ones(len(self.cost_features))
        if self.cost_features:
            raw = self._costs(archs)
            self.cost_scale_ = np.where(raw.max(0) > 0, raw.max(0), 1.0)
        self.source_coefs_ = {}
        self.n_positions_ = max(sum(op not in (INPUT_OP, OUTPUT_OP) for _, op in a.graph.nodes(data="op")) for a in every)
        cache: dict = {}  # sources measured on the same architectures share their features
        for device, (s_archs, s_y) in sources.items():
            key = tuple(map(id, s_archs))
            if key not in cache:
                present, used = self.features_.transform(s_archs)
                cache[key] = np.hstack([present, used, self._costs(s_archs), self.features_.positions(s_archs, self.n_positions_)])
            S = cache[key]
            mu, sd = S.mean(0), (s_y.std() or 1.0)
            A = (S - mu).T @ (S - mu) + float(self.source_alpha) * np.eye(S.shape[1])
            w = np.linalg.solve(A, (S - mu).T @ ((s_y - s_y.mean()) / sd))
            self.source_coefs_[device] = (w, mu, float(s_y.mean() / sd))

        n = len(y)
        self.y_scale_ = float(np.std(y)) or 1.0
        ys = y / self.y_scale_
        folds = np.arange(n) % min(n, 20)
        n_src = len(self.source_coefs_)
        src_grid = list(self.source_penalties) if n_src else [0.0]
        cols = self._columns(archs)
        candidates, mses, coefs = [], [], []
        for structure in self.structures:
            X = _with_intercept_sign(np.hstack([np.ones((n, 1)), cols[structure]]), y)
            n_int = X.shape[1] - cols[structure].shape[1]
            n_ops = cols[structure].shape[1] - n_src
            for lam, lam_src in itertools.product(self.penalties, src_grid):
                pen = np.concatenate([np.zeros(n_int), np.full(n_ops, float(lam)), np.full(n_src, float(lam_src))])
                candidates.append((structure, float(lam), float(lam_src)))
                mses.append(_cv_mse(X, ys, pen, folds))
                coefs.append(_fold_intercept(nonnegative_ridge(X, ys, pen), n_int))
        mse = np.array(mses)
        best = int(np.argmin(mse))
        if self.averaging == "best":
            weights = np.eye(len(mse))[best]
        else:
            logw = -0.5 * n * (np.log(mse) - np.log(mse[best]))
            weights = np.exp(logw) / np.exp(logw).sum()
        self.candidates_ = candidates
        self.cv_mse_ = mse
        self.weights_ = weights
        self.structure_ = candidates[best][0]
        self.penalties_ = candidates[best][1:]
        self.loo_mse_ = float(mse[best])
        self.coef_ = {}
        for (structure, _, _), wt, c in zip(candidates, weights, coefs):
            self.coef_[structure] = self.coef_.get(structure, 0.0) + wt * c

    def _predict(self, archs, **context):
        cols = self._columns(archs)
        out = np.zeros(len(archs))
        for structure, c in self.coef_.items():
            out += c[0] + cols[structure] @ c[1:]
        return self.y_scale_ * out
