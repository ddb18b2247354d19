"""Search spaces: op vocabulary, string format, sampler and model builder.

``get_space("nb201")`` returns the NAS-Bench-201 space; ``list_spaces()`` names
all registered spaces. Register a new one with :func:`register_space`.
"""

from __future__ import annotations

from typing import Any

from archscore.registry import Registry
from archscore.spaces.base import SearchSpace
from archscore.spaces.nb201 import NB201_OPS, NB201Space
from archscore.spaces.darts import DARTS_OPS, DartsSpace, NB301Space
from archscore.spaces.nb101 import NB101_OPS, NB101Space
from archscore.spaces.nbgraph import NBGRAPH_OPS, NBGraphSpace
from archscore.spaces.tnb101 import TNB101MacroSpace, TNB101MicroSpace

SPACES = Registry("search space")
SPACES.register("nb201", NB201Space, description="NAS-Bench-201 cells (5 ops x 6 edges, 15,625 cells)")
SPACES.register("nbgraph", NBGraphSpace, description="NAS-Bench-Graph GNN architectures (tabular only)")
SPACES.register("nb101", NB101Space, description="NAS-Bench-101 cells (<=7 vertices, <=9 edges, 3 ops)")
SPACES.register("darts", DartsSpace, description="DARTS normal+reduction cells, 8 ops; build = DARTS evaluation net (C=36, 20 cells)")
SPACES.register("nb301", NB301Space, description="NAS-Bench-301 (DARTS space); build = NASLib's NB301 proxy net (C=32, 8 cells)")
SPACES.register("tnb101_micro", TNB101MicroSpace, description="TransNAS-Bench-101 cell space (4 ops x 6 edges)")
SPACES.register("tnb101_macro", TNB101MacroSpace, description="TransNAS-Bench-101 macro space (3,256 networks)")


def register_space(name: str, cls: Any = None, **metadata: Any):
    """Register a :class:`SearchSpace` subclass (usable as a decorator)."""
    return SPACES.register(name, cls, **metadata)


def get_space(name: str, **kwargs: Any) -> SearchSpace:
    """A new instance of the space registered as ``name`` (keyword options go to its constructor)."""
    return SPACES.get(name)(**kwargs)


def list_spaces(pattern: str = "*") -> list[str]:
    """Names of registered spaces matching ``pattern``."""
    return SPACES.list(pattern)


__all__ = ["SearchSpace", "NB201Space", "NBGraphSpace", "NB101Space", "DartsSpace", "NB301Space", "TNB101MicroSpace",
           "TNB101MacroSpace", "NB201_OPS", "NBGRAPH_OPS", "NB101_OPS", "DARTS_OPS", "get_space", "list_spaces", "register_space"]
