"""archscore: estimate how good a neural architecture is without training it fully.

Zero-cost proxies, learning-curve extrapolators, surrogate predictors and
cheap-training estimators share one interface, :class:`Estimator`, and one
architecture type, :class:`Arch`. Create any estimator by name::

    import archscore
    est = archscore.create_estimator("random", seed=0)
    archscore.list_estimators("zc:*")
"""

from __future__ import annotations

import logging

from archscore.arch import Arch
from archscore.base import Estimator, create_estimator, list_estimators, register_estimator
from archscore.spaces import get_space, list_spaces

# Importing the estimator families registers them.
from archscore import baselines  # noqa: F401  (registers "random")
from archscore import encodings, eval, predictors, proxies, search  # noqa: F401

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Arch",
    "Estimator",
    "create_estimator",
    "list_estimators",
    "register_estimator",
    "get_space",
    "list_spaces",
    "__version__",
]
