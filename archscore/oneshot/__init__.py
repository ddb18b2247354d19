"""One-shot estimation: weight-sharing supernets (SPOS, FairNAS) and differentiable search (DARTS).

Importing this package registers the ``oneshot:spos`` estimator.
:func:`darts_search` runs first- or second-order DARTS over a cell space with
an optional fix for its collapse onto skip connections.
"""

from archscore.oneshot.darts import DartsResult, darts_search
from archscore.oneshot.spos import SPOSEstimator
from archscore.oneshot.supernet import CellSupernet, make_supernet, register_supernet, supernet_spaces

__all__ = ["SPOSEstimator", "DartsResult", "darts_search", "CellSupernet", "make_supernet", "register_supernet", "supernet_spaces"]
