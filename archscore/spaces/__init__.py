"""Search spaces: op vocabulary, string format, sampler and model builder.

``get_space("nb201")`` returns the NAS-Bench-201 space; ``list_spaces()`` names
all registered spaces. Register a new one with :func:`register_space`.
Declare your own in a few lines with :class:`ChoiceSpace` (a product of named
choices and your ``build(config)``) or :class:`CellSpace` (NB201-like cells on
your ops), and load one by module path with :func:`load_space`.
"""

from __future__ import annotations

import importlib
from typing import Any

from archscore.registry import Registry
from archscore.spaces.base import SearchSpace
from archscore.spaces.cell import CellSpace
from archscore.spaces.choice import ChoiceSpace, UserSpace
from archscore.spaces.nb201 import NB201_OPS, NB201Space
from archscore.spaces.darts import DARTS_OPS, DartsSpace, NB301Space
from archscore.spaces.nb101 import NB101_OPS, NB101Space
from archscore.spaces.nbgraph import NBGRAPH_OPS, NBGraphSpace
from archscore.spaces.tnb101 import TNB101MacroSpace, TNB101MicroSpace

SPACES = Registry("search space")
# Metadata read by archscore.testing's space checks: ``test_params`` (options for small test networks) and
# ``builds=False`` for a space without a model builder.
SPACES.register("nb201", NB201Space, description="NAS-Bench-201 cells (5 ops x 6 edges, 15,625 cells)", test_params={"C": 4, "N": 1})
SPACES.register("nbgraph", NBGraphSpace, description="NAS-Bench-Graph GNN architectures; build = its GNN in plain torch on a graph you pass",
                test_params={"edge_index": [[0, 1, 1, 2, 2, 3, 3, 0, 4, 0], [1, 0, 2, 1, 3, 2, 0, 3, 0, 4]], "num_features": 5,
                             "hidden": 8})
SPACES.register("nb101", NB101Space, description="NAS-Bench-101 cells (<=7 vertices, <=9 edges, 3 ops)",
                test_params={"stem_channels": 8, "num_stacks": 2, "cells_per_stack": 1})
SPACES.register("darts", DartsSpace, description="DARTS normal+reduction cells, 8 ops; build = DARTS evaluation net (C=36, 20 cells)",
                test_params={"C": 4, "layers": 3})
SPACES.register("nb301", NB301Space, description="NAS-Bench-301 (DARTS space); build = NASLib's NB301 proxy net (C=32, 8 cells)",
                test_params={"C": 4, "layers": 3})
SPACES.register("tnb101_micro", TNB101MicroSpace, description="TransNAS-Bench-101 cell space (4 ops x 6 edges)",
                test_params={"base_channels": 8})
SPACES.register("tnb101_macro", TNB101MacroSpace, description="TransNAS-Bench-101 macro space (3,256 networks)",
                test_params={"base_channels": 8})


def register_space(name: Any, cls: Any = None, *, overwrite: bool = False, **metadata: Any):
    """Register a :class:`SearchSpace` subclass (usable as a decorator) or a declared space instance.

    ``register_space(space)`` files a :class:`ChoiceSpace` / :class:`CellSpace`
    instance under ``space.name``; ``get_space(space.name)`` then returns that
    same object, which is what estimators that rebuild models from an
    architecture's space name (``train:``, ``zc:*``) look up.
    """
    if isinstance(name, UserSpace):
        if cls is not None:
            raise TypeError("register_space(space) takes the space instance alone")
        space = name
        metadata.setdefault("description", f"user-declared {type(space).__name__} ({len(space):,} architectures)")
        return SPACES.register(space.name, space, overwrite=overwrite, **metadata)
    if isinstance(name, SearchSpace) or isinstance(cls, SearchSpace) and not isinstance(cls, UserSpace):
        raise TypeError("register a SearchSpace subclass, or a ChoiceSpace/CellSpace instance; other instances cannot stand for their class")
    return SPACES.register(name, cls, overwrite=overwrite, **metadata)


def load_space(spec: str, **kwargs: Any) -> SearchSpace:
    """A space from a registered name or a module path ``"package.module:attribute"``.

    The attribute may be a space instance (e.g. a :class:`ChoiceSpace`), a
    :class:`SearchSpace` subclass (created with ``kwargs``) or a function
    returning a space (called with ``kwargs``). A loaded instance is
    registered under its name (unless that name is taken by another object)
    so that ``get_space(arch.space)`` finds it.

    Raises
    ------
    ValueError
        For a module that cannot be imported, a missing attribute or an object that is not a space.
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"space must be a registered name or 'module:attribute', got {spec!r}")
    if ":" not in spec:
        return get_space(spec, **kwargs)
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"space path must look like 'package.module:attribute', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r} of space {spec!r}: {exc}") from exc
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"module {module_name!r} has no attribute {attr!r} (space {spec!r})")
        obj = getattr(obj, part)
    if isinstance(obj, type) and issubclass(obj, SearchSpace):
        space = obj(**kwargs)
    elif isinstance(obj, SearchSpace):
        if kwargs:
            raise TypeError(f"{spec!r} is a space instance; it takes no options (got {sorted(kwargs)})")
        space = obj
    elif callable(obj):
        space = obj(**kwargs)
    else:
        space = obj
    if not isinstance(space, SearchSpace):
        raise ValueError(f"{spec!r} is a {type(space).__name__}, not a search space (SearchSpace, ChoiceSpace or CellSpace)")
    if isinstance(space, UserSpace) and space.name not in SPACES:
        register_space(space)
    return space


def get_space(name: str, **kwargs: Any) -> SearchSpace:
    """A new instance of the space registered as ``name`` (keyword options go to its constructor)."""
    return SPACES.get(name)(**kwargs)


def list_spaces(pattern: str = "*") -> list[str]:
    """Names of registered spaces matching ``pattern``."""
    return SPACES.list(pattern)


__all__ = ["ChoiceSpace", "CellSpace", "UserSpace", "load_space", "SearchSpace", "NB201Space", "NBGraphSpace", "NB101Space", "DartsSpace",
           "NB301Space", "TNB101MicroSpace", "TNB101MacroSpace", "NB201_OPS", "NBGRAPH_OPS", "NB101_OPS", "DARTS_OPS", "get_space",
           "list_spaces", "register_space"]
