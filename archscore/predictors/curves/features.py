"""Small features for learned curve models: curve-prefix features and path features of an :class:`Arch`.

:func:`prefix_features` gives the features of Baker et al. (2017): the observed
values, their first and second differences. :class:`PathFeatures` is a small
architecture encoding used when no other encoding is passed: counts of each
op and of each input-to-output path type (the sequence of ops along the
path, zero ops cutting the path), in the spirit of the path encoding of White
et al. (BANANAS, AAAI 2021). It works on any space; its vocabulary is learned
in ``fit``. :func:`summary_features` is a compact prefix summary.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import networkx as nx
import numpy as np

from archscore.arch import INPUT_OP, OUTPUT_OP, ZERO_OPS, Arch


def prefix_features(values: np.ndarray, length: int) -> np.ndarray:
    """Values, first and second differences of the first ``length`` entries (NaN filled forward).

    Parameters
    ----------
    values : ndarray
        One curve (any scale), at least ``length`` entries.
    length : int
        Prefix length used.
    """
    v = np.asarray(values[:length], dtype=float).copy()
    # forward-fill missing epochs (then back-fill a leading gap) so the features stay finite
    for i in range(1, v.size):
        if not np.isfinite(v[i]):
            v[i] = v[i - 1]
    if not np.isfinite(v[0]):
        v[0] = v[np.isfinite(v)][0]
        for i in range(1, v.size):
            if not np.isfinite(v[i]):
                v[i] = v[i - 1]
    d1 = np.diff(v)
    d2 = np.diff(v, n=2)
    return np.concatenate([v, d1, d2])


def summary_features(values: np.ndarray, length: int) -> np.ndarray:
    """Eight summary statistics of the first ``length`` entries (NaN filled forward).

    Last value, mean of the last 5, maximum, mean, least-squares slope over the
    last 10, and the values at epochs 1, 5 and 10 (the last one when shorter).
    A compact alternative to :func:`prefix_features` that leaves room for
    architecture features in small training sets.
    """
    v = prefix_features(values, length)[:length]
    tail = v[-min(10, length):]
    slope = float(np.polyfit(np.arange(tail.size), tail, 1)[0]) if tail.size >= 2 else 0.0
    return np.array([v[-1], v[-min(5, length):].mean(), v.max(), v.mean(), slope, v[0], v[min(4, length - 1)], v[min(9, length - 1)]])


def _path_types(arch: Arch) -> Counter:
    g = arch.graph
    src = next(n for n, d in g.nodes(data=True) if d["op"] == INPUT_OP)
    dst = next(n for n, d in g.nodes(data=True) if d["op"] == OUTPUT_OP)
    counts: Counter = Counter()
    for path in nx.all_simple_paths(g, src, dst):
        ops = [g.nodes[n]["op"] for n in path[1:-1]]
        if any(op in ZERO_OPS for op in ops):
            continue
        counts["path:" + ">".join(ops)] += 1
    return counts


def arch_counts(arch: Arch) -> Counter:
    """Op counts (``op:<name>``), path-type counts (``path:a>b``) and ``n_paths`` for one architecture."""
    counts = Counter("op:" + op for _, op in arch.graph.nodes(data="op") if op not in (INPUT_OP, OUTPUT_OP))
    paths = _path_types(arch)
    counts.update(paths)
    counts["n_paths"] = sum(paths.values())
    return counts


class PathFeatures:
    """Op-count and path-type-count features; vocabulary learned in :meth:`fit`.

    Follows the ``fit(archs)`` / ``transform(archs)`` protocol that
    ``encoding=`` parameters of the curve models accept.
    """

    def fit(self, archs: Sequence[Arch]) -> "PathFeatures":
        vocab: set[str] = set()
        for a in archs:
            vocab.update(arch_counts(a))
        self.vocabulary_ = sorted(vocab)
        return self

    def transform(self, archs: Sequence[Arch]) -> np.ndarray:
        if not hasattr(self, "vocabulary_"):
            raise ValueError("PathFeatures is not fitted yet; call fit(archs) first")
        out = np.zeros((len(archs), len(self.vocabulary_)))
        index = {k: i for i, k in enumerate(self.vocabulary_)}
        for r, a in enumerate(archs):
            for k, v in arch_counts(a).items():
                if k in index:
                    out[r, index[k]] = v
        return out

    def fit_transform(self, archs: Sequence[Arch]) -> np.ndarray:
        return self.fit(archs).transform(archs)
