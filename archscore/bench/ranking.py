"""Proxy scores -> rankings, for the applications: every rank goes through
:func:`archscore.predictors.zc_ensemble.rank_aggregate` (the library's one
ranking rule), with each proxy's direction taken from its registry entry."""

from __future__ import annotations

from itertools import combinations
from typing import Mapping, Sequence

import numpy as np

from archscore.metrics import spearman
from archscore.predictors.zc_ensemble import DEFAULT_PROXIES, ensemble_score, rank_aggregate
from archscore.proxies import proxy_info
from archscore.proxies.az_nas import AZ_NAS_PROXIES

#: Name of the ensemble column in tables and plots.
ENSEMBLE = "zc:ensemble"
#: Name of AZ-NAS's own score (the log-rank aggregate of its four proxies, no anchor) in tables.
AZ_NAS = "az_nas"
#: Name of the best log-rank combination picked with the labels (an upper bound for any label-free choice) in tables.
ORACLE = "oracle combination"
#: Rows that are aggregates of proxies, already oriented so that higher is better.
AGGREGATES = (ENSEMBLE, AZ_NAS, ORACLE)


def directions(names: Sequence[str]) -> dict[str, bool]:
    """``{proxy: higher_is_better}`` from the proxies' registry entries."""
    return {p: bool(proxy_info(p)["higher_is_better"]) for p in names}


def ensemble_scores(cols: Mapping[str, np.ndarray], valid: Sequence[bool] | None = None,
                    proxies: Sequence[str] = DEFAULT_PROXIES) -> np.ndarray:
    """``zc:ensemble``'s score of each candidate: the flops-anchored log-rank aggregation of ``proxies`` (invalid cells last; default all valid)."""
    return ensemble_score({p: cols[p] for p in proxies}, directions(proxies), valid=valid)


def with_aggregates(cols: Mapping[str, np.ndarray], names: Sequence[str], valid: Sequence[bool] | None = None) -> dict[str, np.ndarray]:
    """``names``' columns plus ``zc:ensemble`` and, when its four proxies were computed, AZ-NAS's score (:data:`AZ_NAS`).

    AZ-NAS's score is the log-rank aggregate of :data:`AZ_NAS_PROXIES`
    without the complexity anchor (Lee & Ham 2024 aggregate all four).
    """
    out = {p: cols[p] for p in names} | {ENSEMBLE: ensemble_scores(cols, valid)}
    if all(p in cols for p in AZ_NAS_PROXIES):
        out[AZ_NAS] = ensemble_score({p: cols[p] for p in AZ_NAS_PROXIES}, directions(AZ_NAS_PROXIES), valid=valid, anchor=None)
    return out


def best_combination(cols: Mapping[str, np.ndarray], y: np.ndarray, names: Sequence[str],
                     sizes: Sequence[int] = (2, 3, 4)) -> tuple[tuple[str, ...], np.ndarray] | None:
    """The log-rank combination of ``names`` with the highest Spearman against ``y``, and its scores.

    An *oracle*: the subset is picked with the labels, so it bounds what any
    label-free choice of a subset of these proxies (each with its registered
    direction) can reach with the log-rank rule. Subsets of every size in
    ``sizes``; the first of equal Spearman in ``combinations`` order wins.
    None when fewer than two proxies are given.
    """
    y = np.asarray(y, dtype=float)
    best, best_rho = None, -np.inf
    for k in sizes:
        for combo in combinations(names, k):
            scores = rank_aggregate({p: cols[p] for p in combo}, directions(combo))
            rho = spearman(y, scores)
            if rho > best_rho:
                best, best_rho = (combo, scores), rho
    return best


def oriented(name: str, values: np.ndarray) -> np.ndarray:
    """Scores turned so that higher is better (the aggregates' already are)."""
    values = np.asarray(values, dtype=float)
    if name in AGGREGATES or proxy_info(name)["higher_is_better"]:
        return values
    return -values


def rank_scores(values: np.ndarray) -> np.ndarray:
    """Average ranks of ``values`` divided by their count: finite even where ``values`` hold +-inf.

    Rank statistics (Spearman, Kendall) of these equal those of ``values``;
    NaN entries go below every other (drop them first to leave them out).
    """
    return rank_aggregate({"values": values}, method="mean_rank")
