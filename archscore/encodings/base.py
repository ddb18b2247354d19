"""The encoding interface (the registry is :mod:`archscore.encodings.registry`).

An encoding is a scikit-learn style transformer over architectures:
``fit(archs, **context)`` learns what it needs (the op vocabulary, sizes,
feature names) and ``transform(archs, **context) -> ndarray (n, d)`` turns
architectures into a fixed-length float matrix. Encodings work on any
:class:`~archscore.arch.Arch` DAG: they read only the graph and the node op
labels, never the search space's own structure.

Context keywords are the estimators' ones (``scores=``, ...); encodings that
need none ignore them, so a predictor can pass its whole context through.

Fitted encodings remember the spaces and the op vocabulary they were fitted
on and raise a ``ValueError`` naming the offending architecture for an
architecture from another space or with an op outside that vocabulary.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar, Sequence

import networkx as nx
import numpy as np
from sklearn.base import BaseEstimator

from archscore.arch import INPUT_OP, OUTPUT_OP, ZERO_OPS, Arch
from archscore.base import CONTEXT_KEYWORDS

class Encoding(BaseEstimator):
    """Base class of encodings (scikit-learn transformer over architectures).

    Subclasses implement ``_fit(archs, **context)`` (learning state ending in
    ``_``) and ``_transform(archs, **context) -> ndarray``, and set
    ``feature_names_`` in ``_fit``.

    Parameters common to graph encodings
    ------------------------------------
    ops : "auto", "fit" or sequence of str
        The op vocabulary. ``"fit"``: the ops seen in ``fit``. ``"auto"``
        (default): those plus the vocabulary of the architectures' registered
        search space (looked up by name through the space registry), so a
        small training set that happens to miss an op still encodes every
        architecture of its space. A sequence: exactly these ops.
    """

    #: Whether ``fit``/``transform`` need the ``scores=`` context.
    needs_scores: ClassVar[bool] = False
    #: Whether the encoding reads the graph (and so checks the op vocabulary).
    uses_graph: ClassVar[bool] = True

    # ----------------------------------------------------------- interface
    def fit(self, archs: Sequence[Arch], y: Any = None, **context: Any) -> "Encoding":
        """Learn the vocabulary and sizes from ``archs``; returns ``self``."""
        archs = _check_archs(archs, type(self).__name__)
        if not archs:
            raise ValueError(f"{type(self).__name__}.fit needs at least one architecture, got 0")
        self._check_context(context)
        self.spaces_ = tuple(sorted({a.space for a in archs}))
        if self.uses_graph:
            self.ops_ = _resolve_vocabulary(getattr(self, "ops", "auto"), archs)
        self._fit(archs, **context)
        self.n_features_out_ = len(self.feature_names_)
        return self

    def transform(self, archs: Sequence[Arch], **context: Any) -> np.ndarray:
        """Encode ``archs`` as a float matrix of shape ``(n, n_features_out_)``."""
        if not hasattr(self, "n_features_out_"):
            raise ValueError(f"{type(self).__name__} is not fitted yet; call fit(archs) before transform")
        archs = _check_archs(archs, type(self).__name__)
        self._check_context(context)
        self._check_compatible(archs)
        if not archs:
            return np.zeros((0, self.n_features_out_))
        X = np.asarray(self._transform(archs, **context), dtype=float)
        if X.shape != (len(archs), self.n_features_out_):  # pragma: no cover - internal consistency
            raise RuntimeError(f"{type(self).__name__} produced shape {X.shape}, expected {(len(archs), self.n_features_out_)}")
        return X

    def fit_transform(self, archs: Sequence[Arch], y: Any = None, **context: Any) -> np.ndarray:
        """``fit`` then ``transform`` on the same architectures."""
        return self.fit(archs, y, **context).transform(archs, **context)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output features (after ``fit``)."""
        if not hasattr(self, "feature_names_"):
            raise ValueError(f"{type(self).__name__} is not fitted yet; call fit(archs) first")
        return np.asarray(self.feature_names_, dtype=object)

    # ------------------------------------------------------------ override
    def _fit(self, archs: list[Arch], **context: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _transform(self, archs: list[Arch], **context: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---------------------------------------------------------- validation
    def _check_context(self, context: dict[str, Any]) -> None:
        unknown = [k for k in context if k not in CONTEXT_KEYWORDS]
        if unknown:
            raise TypeError(f"unknown context keyword {unknown[0]!r} for {type(self).__name__}; known: {', '.join(CONTEXT_KEYWORDS)}")
        if self.needs_scores and context.get("scores") is None:
            raise ValueError(f"{type(self).__name__} needs the context keyword {CONTEXT_KEYWORDS['scores']}")

    def _check_compatible(self, archs: list[Arch]) -> None:
        for i, a in enumerate(archs):
            if a.space not in self.spaces_:
                raise ValueError(
                    f"archs[{i}] is from space {a.space!r} but {type(self).__name__} was fitted on "
                    f"space(s) {list(self.spaces_)}; fit the encoding on architectures of that space"
                )
        if self.uses_graph:
            known = set(self.ops_)
            for i, a in enumerate(archs):
                bad = sorted({op for op in a.ops if op not in known and op not in (INPUT_OP, OUTPUT_OP)})
                if bad:
                    raise ValueError(
                        f"archs[{i}] ({a.key}) has op(s) {bad} unknown to the fitted {type(self).__name__}; "
                        f"known ops: {list(self.ops_)} (pass ops=[...] to fix the vocabulary)"
                    )


# ------------------------------------------------------------------ helpers
def _check_archs(archs: Sequence[Arch], who: str) -> list[Arch]:
    if isinstance(archs, Arch):
        raise TypeError("archs must be a sequence of Arch; wrap a single Arch in a list")
    archs = list(archs)
    for i, a in enumerate(archs):
        if not isinstance(a, Arch):
            raise TypeError(f"{who}: archs[{i}] is a {type(a).__name__}, expected archscore.Arch")
    return archs


def _resolve_vocabulary(ops: Any, archs: list[Arch]) -> tuple[str, ...]:
    seen = {op for a in archs for op in a.ops if op not in (INPUT_OP, OUTPUT_OP)}
    if isinstance(ops, str):
        if ops == "fit":
            return tuple(sorted(seen))
        if ops == "auto":
            from archscore.spaces import SPACES

            for name in {a.space for a in archs}:
                if name in SPACES:
                    seen |= set(SPACES.get(name).ops)
            return tuple(sorted(seen))
        raise ValueError(f"ops must be 'auto', 'fit' or a sequence of op names, got {ops!r}")
    vocab = tuple(dict.fromkeys(str(o) for o in ops))
    missing = sorted(seen - set(vocab))
    if missing:
        raise ValueError(f"the training architectures use op(s) {missing} that are not in ops={list(vocab)}")
    return vocab


@functools.lru_cache(maxsize=65536)
def io_paths(arch: Arch) -> tuple[tuple[str, ...], ...]:
    """Op sequences of every input->output path (input/output excluded), sorted.

    Cached per architecture: path enumeration is the costly part of the
    path-based encodings and benchmarks encode the same cells many times.
    """
    g = arch.graph
    paths = nx.all_simple_paths(g, arch.input_node, arch.output_node)
    return tuple(sorted(tuple(g.nodes[n]["op"] for n in p[1:-1]) for p in paths))


def live_paths(arch: Arch) -> tuple[tuple[str, ...], ...]:
    """The input->output paths that avoid every zero op (:data:`archscore.arch.ZERO_OPS`)."""
    return tuple(p for p in io_paths(arch) if not any(op in ZERO_OPS for op in p))
