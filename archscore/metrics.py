"""Ranking and regression metrics for estimators, with strict input checks.

Every metric takes ``(y_true, y_pred)`` and refuses input that would make the
answer meaningless (mismatched lengths, NaN, infinite or constant vectors)
with a ``ValueError``, instead of returning a silent NaN. No metric takes an
absolute value: a negative correlation is reported as negative.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import stats


def _check_pair(y_true: Sequence[float], y_pred: Sequence[float], *, min_len: int = 2, allow_constant: bool = False):
    a = np.asarray(y_true, dtype=float)
    b = np.asarray(y_pred, dtype=float)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"y_true and y_pred must be one-dimensional, got shapes {a.shape} and {b.shape}")
    if a.shape != b.shape:
        raise ValueError(f"y_true and y_pred have different lengths: {a.shape[0]} and {b.shape[0]}")
    if a.shape[0] < min_len:
        raise ValueError(f"need at least {min_len} values, got {a.shape[0]}")
    for label, v in (("y_true", a), ("y_pred", b)):
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            raise ValueError(f"{label} contains {bad.size} non-finite value(s) (NaN/inf), first at index {bad[0]}")
        if not allow_constant and np.all(v == v[0]):
            raise ValueError(f"{label} is constant ({v[0]!r}): correlation is undefined")
    return a, b


def spearman(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    a, b = _check_pair(y_true, y_pred)
    return float(stats.spearmanr(a, b).statistic)


def kendall(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Kendall's tau-b (accounts for ties in either vector)."""
    a, b = _check_pair(y_true, y_pred)
    return float(stats.kendalltau(a, b, variant="b").statistic)


def pearson(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Pearson's linear correlation."""
    a, b = _check_pair(y_true, y_pred)
    return float(stats.pearsonr(a, b).statistic)


def _check_k(k: int, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer in [1, {n}], got {k!r}")
    return int(k)


def _top_k(values: np.ndarray, k: int) -> np.ndarray:
    # Stable sort on the negated values: ties keep index order, so results are deterministic.
    return np.argsort(-values, kind="stable")[:k]


def precision_at_k(y_true: Sequence[float], y_pred: Sequence[float], k: int) -> float:
    """Fraction of the true top-``k`` architectures found in the predicted top-``k``.

    Higher values of both vectors are better. Ties are broken by position.
    """
    a, b = _check_pair(y_true, y_pred, min_len=1, allow_constant=True)
    k = _check_k(k, a.shape[0])
    return len(set(_top_k(a, k)) & set(_top_k(b, k))) / k


def regret(y_true: Sequence[float], y_pred: Sequence[float], k: int = 1) -> float:
    """Accuracy lost by picking the best of the predicted top-``k`` instead of the true best.

    ``max(y_true) - max(y_true[predicted top k])``; 0 means the search found the best.
    """
    a, b = _check_pair(y_true, y_pred, min_len=1, allow_constant=True)
    k = _check_k(k, a.shape[0])
    return float(a.max() - a[_top_k(b, k)].max())


def mae(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Mean absolute error."""
    a, b = _check_pair(y_true, y_pred, min_len=1, allow_constant=True)
    return float(np.mean(np.abs(a - b)))


def bootstrap_ci(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y_true: Sequence[float],
    y_pred: Sequence[float],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | None = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap interval of ``metric`` over resampled pairs.

    Returns ``(value, low, high)``: the metric on the full sample and the
    ``level`` percentile interval over ``n_boot`` resamples with replacement.
    Resamples on which the metric is undefined (a constant resample) are skipped.
    """
    a, b = _check_pair(y_true, y_pred, allow_constant=True)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    value = metric(a, b)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(int(n_boot)):
        idx = rng.integers(0, a.shape[0], size=a.shape[0])
        try:
            draws.append(metric(a[idx], b[idx]))
        except ValueError:
            continue
    if not draws:
        raise ValueError("every bootstrap resample was degenerate; the sample is too small")
    lo, hi = np.quantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(value), float(lo), float(hi)


__all__ = ["spearman", "kendall", "pearson", "precision_at_k", "regret", "mae", "bootstrap_ci"]
