"""Search spaces: op vocabulary, string format, sampler and model builder.

``get_space("nb201")`` returns the NAS-Bench-201 space; ``list_spaces()`` names
all registered spaces. Register a new one with :func:`register_space`.
"""

from __future__ import annotations

from typing import Any

from archscore.registry import Registry
from archscore.spaces.base import SearchSpace
from archscore.spaces.nb201 import NB201_OPS, NB201Space
from archscore.spaces.nbgraph import NBGRAPH_OPS, NBGraphSpace

SPACES = Registry("search space")
SPACES.register("nb201", NB201Space, description="NAS-Bench-201 cells (5 ops x 6 edges, 15,625 cells)")
SPACES.register("nbgraph", NBGraphSpace, description="NAS-Bench-Graph GNN architectures (tabular only)")


def register_space(name: str, cls: Any = None, **metadata: Any):
    """Register a :class:`SearchSpace` subclass (usable as a decorator)."""
    return SPACES.register(name, cls, **metadata)


def get_space(name: str, **kwargs: Any) -> SearchSpace:
    """A new instance of the space registered as ``name`` (keyword options go to its constructor)."""
    return SPACES.get(name)(**kwargs)


def list_spaces(pattern: str = "*") -> list[str]:
    """Names of registered spaces matching ``pattern``."""
    return SPACES.list(pattern)


__all__ = ["SearchSpace", "NB201Space", "NBGraphSpace", "NB201_OPS", "NBGRAPH_OPS", "get_space", "list_spaces", "register_space"]
