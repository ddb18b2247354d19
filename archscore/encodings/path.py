"""The path encoding of BANANAS (White, Neiswanger & Savani, AAAI 2021).

An architecture is described by the set of its input->output paths, each path
written as the sequence of ops on its nodes. The feature vector has one entry
per possible op sequence. White et al. show this encoding scales better than
the adjacency matrix for predictors and note that for large spaces the vector
can be truncated to the most likely paths (shortest first under uniform
sampling), losing little information ("A Study on Encodings for Neural
Architecture Search", NeurIPS 2020, and the BANANAS paper).
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import numpy as np

from archscore.arch import Arch
from archscore.encodings.base import Encoding, io_paths
from archscore.encodings.registry import register_encoding


@register_encoding("path", description="BANANAS path encoding: one feature per op sequence of an input->output path")
class PathEncoding(Encoding):
    """BANANAS path encoding over any DAG.

    Feature ``p`` is 1 when the architecture has an input->output path whose
    ops (input and output nodes excluded) form the sequence ``p`` (with
    ``counts=True``, the number of such paths). All paths are used, also those
    through zero ops (``none``): the op labels carry that information.

    The candidate sequences are every sequence over the fitted op vocabulary of
    length 0 (a direct input->output edge) to ``max_length``. When there are
    more than ``max_features`` of them the vector is truncated:

    * ``truncation="length"`` (default, BANANAS): keep sequences in order of
      length, then lexicographically, up to ``max_features`` -- the most likely
      paths under uniform sampling come first;
    * ``truncation="frequency"``: keep the ``max_features`` sequences seen most
      often among the ``fit`` architectures (ties by length, then name).

    Paths that are not kept are ignored at transform time (the documented
    information loss of truncation).

    Parameters
    ----------
    max_length : int or None, default=None
        Longest path (in op nodes) to encode; ``None``: the longest seen in ``fit``.
    max_features : int, default=2000
        Size limit of the vector.
    truncation : {"length", "frequency"}, default="length"
        Rule used when the candidate sequences exceed ``max_features``.
    counts : bool, default=False
        Count paths instead of marking presence.
    ops : "auto", "fit" or sequence of str, default="auto"
        Op vocabulary (see :class:`~archscore.encodings.base.Encoding`).
    """

    def __init__(self, max_length: int | None = None, max_features: int = 2000, truncation: str = "length", counts: bool = False, ops: Any = "auto") -> None:
        self.max_length = max_length
        self.max_features = max_features
        self.truncation = truncation
        self.counts = counts
        self.ops = ops

    def _fit(self, archs: list[Arch], **context: Any) -> None:
        if self.truncation not in ("length", "frequency"):
            raise ValueError(f"truncation must be 'length' or 'frequency', got {self.truncation!r}")
        if int(self.max_features) < 1:
            raise ValueError(f"max_features must be >= 1, got {self.max_features!r}")
        seen = Counter(p for a in archs for p in io_paths(a))
        longest = max((len(p) for p in seen), default=0)
        L = longest if self.max_length is None else int(self.max_length)
        if L < 0:
            raise ValueError(f"max_length must be >= 0 or None, got {self.max_length!r}")
        n_candidates = sum(len(self.ops_) ** k for k in range(L + 1))
        if n_candidates <= self.max_features:
            paths = [p for k in range(L + 1) for p in itertools.product(self.ops_, repeat=k)]
        elif self.truncation == "length":
            paths = list(itertools.islice((p for k in range(L + 1) for p in itertools.product(self.ops_, repeat=k)), int(self.max_features)))
        else:
            ranked = sorted((p for p in seen if len(p) <= L), key=lambda p: (-seen[p], len(p), p))
            paths = ranked[: int(self.max_features)]
        self.paths_ = tuple(paths)
        self.truncated_ = len(paths) < n_candidates
        self.feature_names_ = ["path:" + ("->".join(p) if p else "<direct>") for p in paths]

    def _transform(self, archs: list[Arch], **context: Any) -> np.ndarray:
        col = {p: i for i, p in enumerate(self.paths_)}
        out = np.zeros((len(archs), len(col)))
        for r, a in enumerate(archs):
            for p in io_paths(a):
                j = col.get(p)
                if j is not None:
                    out[r, j] = out[r, j] + 1 if self.counts else 1.0
        return out
