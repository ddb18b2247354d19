"""archscore: estimate how good a neural architecture is without training it fully.

Zero-cost proxies, learning-curve extrapolators, surrogate predictors and
cheap-training estimators share one interface, :class:`Estimator`, and one
architecture type, :class:`Arch`. Create any estimator by name::

    import archscore
    est = archscore.create_estimator("random", seed=0)
    archscore.list_estimators("zc:*")

``import archscore`` is cheap: the names below are imported on first use, so
``archscore --version`` never loads torch or scikit-learn.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Public name -> module that defines it (imported on first attribute access).
_LAZY: dict[str, str] = {
    "Arch": "archscore.arch",
    "Estimator": "archscore.base",
    "Tags": "archscore.base",
    "create_estimator": "archscore.base",
    "list_estimators": "archscore.base",
    "register_estimator": "archscore.base",
    "UnknownNameError": "archscore.registry",
    "get_space": "archscore.spaces",
    "list_spaces": "archscore.spaces",
    "rank": "archscore.rank",
    "register_space": "archscore.spaces",
    "load_naslib_zc": "archscore.naslib",
}

#: Subpackages reachable as attributes (``archscore.proxies``) without an explicit import.
_SUBMODULES = ("arch", "base", "benchmarks", "data", "encodings", "metrics", "naslib", "predictors", "proxies", "registry", "search",
               "spaces", "store", "testing")

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"archscore.{name}")
    raise AttributeError(f"module 'archscore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))
