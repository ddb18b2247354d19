"""The encoding registry: names -> encoding classes, and :func:`get_encoding`, which also builds concatenations.

It sits above both the interface (:mod:`.base`) and :class:`~.concat.ConcatEncoding`,
so neither imports the other's user: ``base`` <- ``concat`` <- ``registry`` <- the
encodings that register themselves.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import clone

from archscore.encodings.base import Encoding
from archscore.encodings.concat import ConcatEncoding
from archscore.registry import Registry

ENCODINGS = Registry("encoding")

#: Joins encoding names in a concatenation, e.g. ``"graph_features+zc"``.
CONCAT_SEP = "+"


def register_encoding(name: str, cls: Any = None, **metadata: Any):
    """Register an :class:`Encoding` class or factory under ``name`` (usable as a decorator).

    Names must not contain ``"+"``, which joins encodings (``"path+zc"``).
    """
    if CONCAT_SEP in name:
        raise ValueError(f"encoding name {name!r} must not contain {CONCAT_SEP!r} (it joins encodings)")
    return ENCODINGS.register(name, cls, **metadata)


def encoding_parts(name: str) -> list[str]:
    """The registered names joined in ``name`` (``"graph_features+zc"`` -> ``["graph_features", "zc"]``)."""
    parts = [p.strip() for p in name.split(CONCAT_SEP)]
    if any(not p for p in parts):
        raise ValueError(f"malformed encoding name {name!r}; expected names joined by '+', e.g. 'graph_features+zc'")
    return parts


def get_encoding(name: "str | Encoding", **params: Any) -> Encoding:
    """A new, unfitted encoding.

    Parameters
    ----------
    name : str or Encoding
        A registered name (``"onehot"``, ``"path"``, ``"graph_features"``,
        ``"zc"``), names joined by ``"+"`` for a :class:`ConcatEncoding`
        (``"graph_features+zc"``), or an :class:`Encoding` instance, which is
        cloned (so a predictor never mutates the caller's object).
    **params
        Keyword parameters of a single encoding; for a concatenation use
        ``<part>__<param>``, e.g. ``get_encoding("path+zc", zc__impute="median")``.
    """
    if isinstance(name, Encoding):
        enc = clone(name)
        return enc.set_params(**params) if params else enc
    if not isinstance(name, str):
        raise TypeError(f"encoding must be a registered name or an Encoding instance, got {type(name).__name__}")
    if CONCAT_SEP in name:
        enc = ConcatEncoding([(p, ENCODINGS.get(p)()) for p in encoding_parts(name)])
        return enc.set_params(**params) if params else enc
    return ENCODINGS.get(name)(**params)


def list_encodings(pattern: str = "*") -> list[str]:
    """Names of registered encodings matching the shell-style ``pattern``."""
    return ENCODINGS.list(pattern)
