"""Multi-objective helpers: Pareto fronts, non-dominated sorting, exact hypervolume.

Each objective is minimised or maximised (``maximize`` flags, one per column).
A point *dominates* another when it is no worse in every objective and
strictly better in at least one; identical points do not dominate each other.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

_DIRECTIONS = {"min": False, "minimize": False, "max": True, "maximize": True}


def _as_minimisation(points: Any, maximize: bool | Sequence[bool] | None) -> np.ndarray:
    P = np.asarray(points, dtype=float)
    if P.ndim == 1:
        P = P.reshape(-1, 1) if P.size else P.reshape(0, 1)
    if P.ndim != 2:
        raise ValueError(f"points must be a 2-D array (n_points, n_objectives), got shape {P.shape}")
    if not np.all(np.isfinite(P)):
        raise ValueError("points contain NaN or infinite values")
    flags = np.zeros(P.shape[1], bool) if maximize is None else np.broadcast_to(np.asarray(maximize, bool), (P.shape[1],))
    return np.where(flags, -P, P)


def _dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


def non_dominated_sort(points: Any, maximize: bool | Sequence[bool] | None = None) -> list[np.ndarray]:
    """Fronts of a non-dominated sorting (NSGA-II, Deb et al. 2002).

    Returns a list of index arrays: front 0 is the Pareto front, front 1 the
    front of the remaining points, and so on. Each index array is sorted.
    """
    P = _as_minimisation(points, maximize)
    n = len(P)
    dominated_by = [[] for _ in range(n)]  # points that i dominates
    count = np.zeros(n, int)  # how many points dominate i
    for i in range(n):
        le = np.all(P[i] <= P, axis=1) & np.any(P[i] < P, axis=1)
        dominated_by[i] = list(np.flatnonzero(le))
        count[le] += 1
    fronts = []
    current = np.flatnonzero(count == 0)
    while current.size:
        fronts.append(np.sort(current))
        nxt = []
        for i in current:
            for j in dominated_by[i]:
                count[j] -= 1
                if count[j] == 0:
                    nxt.append(j)
        current = np.array(nxt, int)
    return fronts


def pareto_mask(points: Any, maximize: bool | Sequence[bool] | None = None) -> np.ndarray:
    """Boolean mask of the non-dominated points."""
    P = _as_minimisation(points, maximize)
    mask = np.zeros(len(P), bool)
    if len(P):
        mask[non_dominated_sort(P)[0]] = True
    return mask


def pareto_front(df, objectives: Mapping[str, str]):
    """The rows of ``df`` on the Pareto front of ``objectives``.

    Parameters
    ----------
    df : pandas.DataFrame
    objectives : mapping
        Column name to ``"min"`` or ``"max"``, e.g. ``{"test_acc": "max", "edgegpu_latency": "min"}``.

    Returns
    -------
    pandas.DataFrame
        The non-dominated rows (index kept), sorted by the first objective.
    """
    if not isinstance(objectives, Mapping) or not objectives:
        raise ValueError("objectives must be a non-empty mapping {column: 'min' or 'max'}")
    missing = [c for c in objectives if c not in df.columns]
    if missing:
        raise KeyError(f"objective column(s) {missing} not in the frame; columns: {list(df.columns)}")
    bad = {c: d for c, d in objectives.items() if d not in _DIRECTIONS}
    if bad:
        raise ValueError(f"objective directions must be 'min' or 'max', got {bad}")
    cols = list(objectives)
    front = df[pareto_mask(df[cols].to_numpy(float), [_DIRECTIONS[objectives[c]] for c in cols])]
    first = cols[0]
    return front.sort_values(first, ascending=not _DIRECTIONS[objectives[first]], kind="stable")


def hypervolume(points: Any, ref: Sequence[float], maximize: bool | Sequence[bool] | None = None) -> float:
    """Exact hypervolume dominated by ``points`` and bounded by the reference point ``ref``.

    Points that do not strictly improve on ``ref`` in every objective add
    nothing. Exact by slicing along the last objective (HSO, While et al.
    2006): fine for the fronts of NAS runs (tens to hundreds of points, few
    objectives).
    """
    P = _as_minimisation(points, maximize)
    r = _as_minimisation(np.asarray(ref, float).reshape(1, -1), maximize)[0]
    if r.shape[0] != P.shape[1] and len(P):
        raise ValueError(f"ref has {r.shape[0]} objectives but points have {P.shape[1]}")
    P = P[np.all(P < r, axis=1)] if len(P) else P
    return float(_hso(P, r)) if len(P) else 0.0


def _hso(P: np.ndarray, r: np.ndarray) -> float:
    P = P[pareto_mask(P)]
    if P.shape[1] == 1:
        return float(r[0] - P[:, 0].min())
    P = P[np.argsort(P[:, -1], kind="stable")]
    total = 0.0
    for i in range(len(P)):
        upper = P[i + 1, -1] if i + 1 < len(P) else r[-1]
        if upper > P[i, -1]:
            total += _hso(P[: i + 1, :-1], r[:-1]) * (upper - P[i, -1])
    return total
