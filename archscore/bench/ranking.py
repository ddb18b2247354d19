"""Proxy scores -> rankings, for the applications: every rank goes through
:func:`archscore.predictors.zc_ensemble.rank_aggregate` (the library's one
ranking rule), with each proxy's direction taken from its registry entry."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from archscore.predictors.zc_ensemble import DEFAULT_PROXIES, ensemble_score, rank_aggregate
from archscore.proxies import proxy_info
from archscore.proxies.az_nas import AZ_NAS_PROXIES

#: Name of the ensemble column in tables and plots.
ENSEMBLE = "zc:ensemble"
#: Name of AZ-NAS's own score (the log-rank aggregate of its four proxies, no anchor) in tables.
AZ_NAS = "az_nas"


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


def oriented(name: str, values: np.ndarray) -> np.ndarray:
    """Scores turned so that higher is better (the aggregates' already are)."""
    values = np.asarray(values, dtype=float)
    if name in (ENSEMBLE, AZ_NAS) or proxy_info(name)["higher_is_better"]:
        return values
    return -values


def rank_scores(values: np.ndarray) -> np.ndarray:
    """Average ranks of ``values`` divided by their count: finite even where ``values`` hold +-inf.

    Rank statistics (Spearman, Kendall) of these equal those of ``values``;
    NaN entries go below every other (drop them first to leave them out).
    """
    return rank_aggregate({"values": values}, method="mean_rank")
