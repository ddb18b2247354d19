"""One-shot estimation: weight-sharing supernets (SPOS, FairNAS) and differentiable search (DARTS).

Importing this package registers the ``oneshot:spos`` estimator.
:func:`darts_search` runs first- or second-order DARTS over a cell space with
an optional fix for its collapse onto skip connections.

ENAS-style search is a search loop scoring its samples with a fitted
supernet instead of training them::

    est = create_estimator("oneshot:spos", data_path=..., time_budget=600).fit()
    search("nb201", "reinforce", EstimatorEvaluator(est), budget=1000)   # or any strategy

A new cell space joins by registering a supernet builder with
:func:`register_supernet`; :func:`make_supernet` rejects the others with a
clear error.
"""

from archscore.oneshot.darts import DartsResult, darts_search
from archscore.oneshot.spos import SPOSEstimator
from archscore.oneshot.supernet import CellSupernet, make_supernet, register_supernet, supernet_spaces

__all__ = ["SPOSEstimator", "DartsResult", "darts_search", "CellSupernet", "make_supernet", "register_supernet", "supernet_spaces"]
