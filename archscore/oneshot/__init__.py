"""One-shot estimation: weight-sharing supernets (SPOS, FairNAS) and differentiable search (DARTS, DrNAS).

Importing this package registers the ``oneshot:spos`` estimator and the
``darts`` search strategy. :func:`darts_search` runs first- or second-order
DARTS over a cell space with an optional fix for its collapse onto skip
connections (DARTS-, early stopping, DrNAS); ``search(space, "darts", evaluator)``
runs it inside the search loop (one query per discretised cell; see
:mod:`archscore.oneshot.strategies`).

ENAS-style search is a search loop scoring its samples with a fitted
supernet instead of training them (:func:`enas_search`)::

    est = create_estimator("oneshot:spos", data_path=..., time_budget=600).fit()
    enas_search(est, budget=1000)   # = search("nb201", "reinforce", EstimatorEvaluator(est), budget=1000)

A new cell space joins by registering a supernet builder with
:func:`register_supernet`; :func:`make_supernet` rejects the others with a
clear error.
"""

from archscore.oneshot.darts import DartsEpoch, DartsResult, DartsRun, darts_search
from archscore.oneshot.spos import SPOSEstimator
from archscore.oneshot.strategies import DartsStrategy, enas_search
from archscore.oneshot.supernet import CellSupernet, make_supernet, register_supernet, supernet_spaces

__all__ = ["SPOSEstimator", "DartsEpoch", "DartsResult", "DartsRun", "DartsStrategy", "darts_search", "enas_search", "CellSupernet",
           "make_supernet", "register_supernet", "supernet_spaces"]
