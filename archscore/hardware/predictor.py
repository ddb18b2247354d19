"""Few-shot latency prediction on a target device: ``hw:latency-predictor``.

Latency on one device is close to additive in the ops of a cell (HW-NAS-Bench's
devices: a linear model on op-per-position features reaches Spearman 0.94-0.99
with thousands of samples), but a target device is measured only a handful of
times. The predictor therefore

1. describes an architecture by features any DAG has: per position (op nodes in
   canonical topological order) a one-hot op and the same one-hot restricted
   to *live* ops (on an input-to-output path that avoids zero ops; dead branches
   are often pruned by compilers), per-op counts and live counts, optionally
   analytic costs (``cost_features=("hw:macs", "hw:params")``);
2. learns from each source device (``sources={device: (archs, latencies)}``,
   e.g. other devices' benchmark tables) a ridge model over the same features;
   its standardised prediction is a feature that summarises how that device
   weighs every op at every position (HELP, Lee et al., NeurIPS 2021, encodes
   a device by its latencies on reference architectures; here the full source
   tables play that role through their fitted cost models);
3. fits the target with a ridge that penalises three groups differently: the
   source predictions lightly (the target is scaled onto the sources' cost
   structure), the shared per-op counts moderately, the per-position one-hots
   strongly (deviations from the shared structure need evidence). The three
   penalties come from the fit itself, so nothing is tuned to a particular
   device: every combination of a small grid is fitted, scored by its
   closed-form leave-one-out error, and the fits are averaged with weights
   ``MSE_loo ** (-n / 2)`` (the Gaussian pseudo-likelihood of the left-out
   points; ``averaging="best"`` keeps the single best combination instead).
   Averaging is steadier than picking one combination from 10 noisy points.

Without sources, step 3 uses the counts and one-hot groups only.
"""

from __future__ import annotations

import itertools
from typing import Any, Mapping, Sequence

import networkx as nx
import numpy as np

from archscore.arch import INPUT_OP, OUTPUT_OP, ZERO_OPS, Arch
from archscore.base import Estimator, Tags, check_targets, create_estimator, register_estimator
from archscore.registry import UnknownNameError
from archscore.spaces import get_space


def _op_nodes(arch: Arch) -> list:
    g = arch.graph
    return [n for n in arch.topological_order if g.nodes[n]["op"] not in (INPUT_OP, OUTPUT_OP)]


def live_nodes(arch: Arch) -> set:
    """Op nodes on some input-to-output path whose nodes are all non-zero ops."""
    g = arch.graph
    keep = [n for n in g if g.nodes[n]["op"] not in ZERO_OPS]
    sub = g.subgraph(keep)
    if arch.input_node not in sub or arch.output_node not in sub:
        return set()
    return (nx.descendants(sub, arch.input_node) & nx.ancestors(sub, arch.output_node))


class CellFeatures:
    """Per-position one-hot ops, live one-hot ops, op counts and live op counts of architectures.

    Parameters
    ----------
    ops : sequence of str
        The op vocabulary (fixed column order).
    n_positions : int
        Op-node positions; smaller cells are zero-padded, larger ones raise.
    """

    def __init__(self, ops: Sequence[str], n_positions: int) -> None:
        self.ops = tuple(ops)
        self.n_positions = int(n_positions)
        self._col = {op: i for i, op in enumerate(self.ops)}

    @property
    def groups(self) -> dict[str, slice]:
        """Column ranges of the ``counts`` group (counts + live counts) and the ``onehot`` group."""
        k, p = len(self.ops), self.n_positions
        return {"counts": slice(0, 2 * k), "onehot": slice(2 * k, 2 * k + 2 * k * p)}

    def transform(self, archs: Sequence[Arch]) -> np.ndarray:
        k, p = len(self.ops), self.n_positions
        out = np.zeros((len(archs), 2 * k + 2 * k * p))
        for r, a in enumerate(archs):
            nodes = _op_nodes(a)
            if len(nodes) > p:
                raise ValueError(f"architecture {a!r} has {len(nodes)} op nodes; the predictor was fitted on at most {p}")
            live = live_nodes(a)
            for pos, node in enumerate(nodes):
                op = a.graph.nodes[node]["op"]
                if op not in self._col:
                    raise ValueError(f"op {op!r} of {a!r} is not in the fitted vocabulary {self.ops}")
                c = self._col[op]
                out[r, c] += 1
                out[r, 2 * k + pos * k + c] = 1
                if node in live:
                    out[r, k + c] += 1
                    out[r, 2 * k + k * p + pos * k + c] = 1
        return out


def _vocabulary(archs: Sequence[Arch]) -> tuple[str, ...]:
    ops: list[str] = []
    for space in sorted({a.space for a in archs}):
        try:
            ops.extend(get_space(space).ops)
        except UnknownNameError:
            pass
    seen = {a.graph.nodes[n]["op"] for a in archs for n in _op_nodes(a)}
    return tuple(dict.fromkeys(ops + sorted(seen - set(ops))))


def _ridge(F: np.ndarray, y: np.ndarray, penalties: np.ndarray) -> np.ndarray:
    return np.linalg.solve(F.T @ F + np.diag(penalties), F.T @ y)


@register_estimator(
    "hw:latency-predictor",
    description="few-shot latency predictor: grouped ridge over cell features, transferring per-op costs from source devices (units: those of the fitted latencies)",
    test_params={},
)
class LatencyPredictor(Estimator):
    """Predicts a target device's latency from a few measured architectures, optionally using other devices' tables.

    ``fit(archs, latencies, sources={device: (archs, latencies)})``; ``predict(archs)``
    returns latencies in the units of the fitted ones.

    Parameters
    ----------
    source_penalties, count_penalties, onehot_penalties : sequence of float
        Ridge penalty grids of the three feature groups (on standardised
        features and targets); every combination is tried and the one with the
        lowest closed-form leave-one-out error is kept.
    source_alpha : float, default=1.0
        Ridge penalty of each source device's own cost model.
    cost_features : sequence of str, default=()
        Names of cost estimators (e.g. ``"hw:macs"``) whose values join the
        counts group; they build every network, so they are slow on large tables.
    cost_params : dict, optional
        Keyword parameters for those cost estimators (e.g. ``space_options``).
    averaging : {"loo-weighted", "best"}, default="loo-weighted"
        Average the grid's fits with leave-one-out pseudo-likelihood weights, or keep the best one.
    """

    def __init__(self, source_penalties: Sequence[float] = (0.01, 0.1, 1.0), count_penalties: Sequence[float] = (0.1, 1.0, 10.0),
                 onehot_penalties: Sequence[float] = (1.0, 10.0, 100.0), source_alpha: float = 1.0,
                 cost_features: Sequence[str] = (), cost_params: dict[str, Any] | None = None,
                 averaging: str = "loo-weighted") -> None:
        self.source_penalties = source_penalties
        self.count_penalties = count_penalties
        self.onehot_penalties = onehot_penalties
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
    def _features(self, archs: Sequence[Arch]) -> np.ndarray:
        F = self.features_.transform(archs)
        if self.cost_features:
            costs = [create_estimator(name, **(self.cost_params or {})).predict(list(archs)) for name in self.cost_features]
            F = np.hstack([np.stack(costs, 1), F])
        return F

    def _source_predictions(self, F: np.ndarray) -> np.ndarray:
        return np.stack([(F - mu) @ w for w, mu in self.source_models_.values()], 1) if self.source_models_ else np.zeros((len(F), 0))

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

    def _fit(self, archs, y, **context):
        if self.averaging not in ("loo-weighted", "best"):
            raise ValueError(f"averaging must be 'loo-weighted' or 'best', got {self.averaging!r}")
        if len(archs) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 measured architectures, got {len(archs)}")
        sources = self._pending_sources
        every = list(archs) + [a for s_archs, _ in sources.values() for a in s_archs]
        self.features_ = CellFeatures(_vocabulary(every), max(len(_op_nodes(a)) for a in every))
        self.source_models_ = {}
        for device, (s_archs, s_y) in sources.items():
            Fs = self._features(s_archs)
            mu = Fs.mean(0)
            sd = s_y.std() or 1.0
            self.source_models_[device] = (_ridge(Fs - mu, (s_y - s_y.mean()) / sd, np.full(Fs.shape[1], float(self.source_alpha))), mu)
        F = self._design(self._features(archs))
        self.x_mean_ = F.mean(0)
        self.y_mean_ = float(np.mean(y))
        self.y_scale_ = float(np.std(y)) or 1.0
        Fc, yc = F - self.x_mean_, (y - self.y_mean_) / self.y_scale_
        grid = list(itertools.product(self.source_penalties if self.source_models_ else [0.0], self.count_penalties, self.onehot_penalties))
        coefs, loos = [], []
        for pens in grid:
            A = np.linalg.solve(Fc.T @ Fc + np.diag(self._penalty_vector(pens)), Fc.T)
            H = Fc @ A
            # leave-one-out residuals of a ridge with an intercept (centring adds 1/n to the leverage)
            resid = (yc - H @ yc) / np.clip(1.0 - np.diag(H) - 1.0 / len(yc), 1e-6, None)
            loos.append(max(float(np.mean(resid ** 2)), 1e-12))
            coefs.append(A @ yc)
        loos_arr = np.array(loos)
        best = int(np.argmin(loos_arr))
        if self.averaging == "best":
            weights = np.eye(len(grid))[best]
        else:
            logw = -0.5 * len(yc) * (np.log(loos_arr) - np.log(loos_arr[best]))
            weights = np.exp(logw) / np.exp(logw).sum()
        self.penalties_ = grid[best]
        self.loo_mse_ = loos_arr[best]
        self.weights_ = weights
        self.coef_ = np.tensordot(weights, np.array(coefs), axes=1)

    def _design(self, F: np.ndarray) -> np.ndarray:
        return np.hstack([self._source_predictions(F), F])

    def _penalty_vector(self, pens: tuple[float, float, float]) -> np.ndarray:
        n_src = len(self.source_models_)
        n_costs = len(self.cost_features)
        g = self.features_.groups
        sizes = [(n_src, pens[0]), (n_costs + g["counts"].stop, pens[1]), (g["onehot"].stop - g["onehot"].start, pens[2])]
        return np.concatenate([np.full(n, float(p)) for n, p in sizes])

    def _predict(self, archs, **context):
        F = self._design(self._features(archs)) - self.x_mean_
        return self.y_mean_ + self.y_scale_ * (F @ self.coef_)
