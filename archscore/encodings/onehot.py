"""Adjacency matrix + one-hot ops: the standard baseline encoding of cell DAGs.

Used as the "adjacency one-hot" encoding in the predictor studies of White et
al. ("How powerful are performance predictors in neural architecture
search?", NeurIPS 2021) and in BANANAS (White et al., AAAI 2021).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from archscore.arch import Arch
from archscore.encodings.base import Encoding
from archscore.encodings.registry import register_encoding


@register_encoding("onehot", description="upper-triangular adjacency + one-hot op per node (the standard baseline)")
class OneHotEncoding(Encoding):
    """Adjacency matrix and one-hot node ops over a canonical node order.

    Nodes are put in the architecture's canonical order
    (:attr:`Arch.topological_order`: topological, ties broken by node label),
    so the input node comes first and the output node last. The features are

    1. the strictly upper-triangular part of the adjacency matrix in that
       order, row by row (``adj[i,j]`` for ``i < j``; a topological order has
       no edge below the diagonal), then
    2. for every position ``i``, a one-hot vector over ``["input", "output",
       *ops_]``.

    Graphs are padded to the largest node count seen in ``fit``
    (``max_nodes_``): padding positions are all zeros. An architecture with
    more nodes than that raises a ``ValueError`` at ``transform``.

    Parameters
    ----------
    ops : "auto", "fit" or sequence of str, default="auto"
        Op vocabulary (see :class:`~archscore.encodings.base.Encoding`).
    """

    def __init__(self, ops: Any = "auto") -> None:
        self.ops = ops

    def _fit(self, archs: list[Arch], **context: Any) -> None:
        self.max_nodes_ = max(a.graph.number_of_nodes() for a in archs)
        self.labels_ = ("input", "output", *self.ops_)
        n = self.max_nodes_
        names = [f"adj[{i},{j}]" for i in range(n) for j in range(i + 1, n)]
        names += [f"op[{i}]={lab}" for i in range(n) for lab in self.labels_]
        self.feature_names_ = names

    def _transform(self, archs: list[Arch], **context: Any) -> np.ndarray:
        n, L = self.max_nodes_, len(self.labels_)
        col = {lab: k for k, lab in enumerate(self.labels_)}
        iu = np.triu_indices(n, k=1)
        out = np.zeros((len(archs), len(iu[0]) + n * L))
        for r, a in enumerate(archs):
            order = a.topological_order
            if len(order) > n:
                raise ValueError(f"archs[{r}] has {len(order)} nodes, more than the {n} seen in fit; refit the encoding")
            pos = {node: i for i, node in enumerate(order)}
            adj = np.zeros((n, n))
            for u, v in a.graph.edges:
                adj[pos[u], pos[v]] = 1.0
            out[r, : len(iu[0])] = adj[iu]
            base = len(iu[0])
            for i, node in enumerate(order):
                out[r, base + i * L + col[a.graph.nodes[node]["op"]]] = 1.0
        return out
