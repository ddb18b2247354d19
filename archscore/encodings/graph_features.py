"""Hand-crafted graph features in the spirit of GRAF.

GRAF (Kadlecová, Lukasik, Pilát, Vidnerová, Safari, Neruda & Hutter, "Surprisingly
Strong Performance Prediction with Neural Graph Features", ICML 2024) describes
a cell by interpretable graph statistics -- op counts, input->output path
lengths and counts in the graph restricted to subsets of op types, node degrees
-- and shows that a random forest or XGBoost on them predicts accuracy better
than most learned encodings. This module computes features of that kind on any
:class:`~archscore.arch.Arch` DAG from the node op labels only. It is not a
reimplementation of GRAF's code: the feature list below is archscore's own and
adds path-level counts of each op (e.g. convolutions per path) and an
"effective depth" that ignores identity ops.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import networkx as nx
import numpy as np

from archscore.arch import IDENTITY_OPS, ZERO_OPS, Arch
from archscore.encodings.base import Encoding, io_paths
from archscore.encodings.registry import register_encoding


@register_encoding("graph_features", description="GRAF-style graph features: op counts, path counts/lengths by op subset, degrees")
class GraphFeaturesEncoding(Encoding):
    """Interpretable graph features of any architecture DAG.

    Terms: ``V`` is the fitted op vocabulary (``ops_``); a *path* is an
    input->output path, its *length* the number of op nodes on it (input and
    output excluded); a *live* path avoids every zero op
    (:data:`archscore.arch.ZERO_OPS`, e.g. ``none``), the others carry no
    signal; a node is live when it lies on a live path. The features, in order
    (names from :meth:`get_feature_names_out`):

    ``count[o]`` (each ``o`` in ``V``)
        Number of nodes with op ``o``.
    ``live_count[o]``
        Number of live nodes with op ``o`` (ops that influence the output).
    ``n_paths``, ``n_live_paths``, ``connected``
        Number of paths, of live paths, and 1 when there is a live path.
    ``min_len``, ``max_len``, ``mean_len``
        Shortest, longest and mean length of the live paths (0 without one).
    ``min_depth``, ``max_depth``
        Effective depth: fewest / most non-identity ops
        (not in :data:`archscore.arch.IDENTITY_OPS`) on a live path; a
        ``min_depth`` of 0 means a pure identity shortcut from input to output.
    ``paths_through[o]``
        Number of live paths containing at least one ``o`` node.
    ``min_on_path[o]``, ``max_on_path[o]``
        Fewest / most ``o`` nodes on a live path (e.g. convolutions per path).
    ``in_degree[o]``, ``out_degree[o]``
        Sum of the in- and out-degrees of the live ``o`` nodes, counting
        edges between live nodes only.
    ``input_out_degree``, ``output_in_degree``
        Live out-degree of the input node and live in-degree of the output node.
    ``{S}:n_paths``, ``{S}:min_len``, ``{S}:max_len`` (GRAF's op-subset features)
        For each subset ``S`` of ``V``: the number of paths whose ops all lie
        in ``S`` (paths of the graph restricted to ``S``-nodes), and the
        shortest and longest such path (-1 when there is none). With
        ``S = {skip_connect, avg_pool_3x3}``, say, ``{S}:n_paths > 0`` means a
        parameter-free path exists. Subsets are all non-empty subsets when
        ``|V| <= 6``, else those of size at most 2 (``max_subset_size``
        overrides this); subset features count every path, zero ops included,
        as GRAF does.

    Parameters
    ----------
    max_subset_size : int or None, default=None
        Largest op subset for the subset features (0 disables them);
        ``None``: all subsets for up to 6 ops, else 2.
    ops : "auto", "fit" or sequence of str, default="auto"
        Op vocabulary (see :class:`~archscore.encodings.base.Encoding`).
    """

    def __init__(self, max_subset_size: int | None = None, ops: Any = "auto") -> None:
        self.max_subset_size = max_subset_size
        self.ops = ops

    def _fit(self, archs: list[Arch], **context: Any) -> None:
        V = self.ops_
        k = self.max_subset_size
        if k is None:
            k = len(V) if len(V) <= 6 else 2
        if int(k) < 0:
            raise ValueError(f"max_subset_size must be >= 0 or None, got {self.max_subset_size!r}")
        self.subsets_ = tuple(s for r in range(1, min(int(k), len(V)) + 1) for s in itertools.combinations(V, r))
        names = [f"count[{o}]" for o in V] + [f"live_count[{o}]" for o in V]
        names += ["n_paths", "n_live_paths", "connected", "min_len", "max_len", "mean_len", "min_depth", "max_depth"]
        for stat in ("paths_through", "min_on_path", "max_on_path", "in_degree", "out_degree"):
            names += [f"{stat}[{o}]" for o in V]
        names += ["input_out_degree", "output_in_degree"]
        for s in self.subsets_:
            tag = "{" + ",".join(s) + "}"
            names += [f"{tag}:n_paths", f"{tag}:min_len", f"{tag}:max_len"]
        self.feature_names_ = names

    def _transform(self, archs: list[Arch], **context: Any) -> np.ndarray:
        return np.array([_graph_features(a, self.ops_, self.subsets_) for a in archs]).reshape(len(archs), -1)


@functools.lru_cache(maxsize=65536)
def _graph_features(arch: Arch, V: tuple[str, ...], subsets: tuple[tuple[str, ...], ...]) -> tuple[float, ...]:
    g = arch.graph
    ops = dict(g.nodes(data="op"))
    paths = io_paths(arch)
    live = [p for p in paths if not any(op in ZERO_OPS for op in p)]

    # live nodes: reachable from input and reaching output without zero ops
    sub = g.subgraph([n for n, op in ops.items() if op not in ZERO_OPS])
    if arch.input_node in sub and arch.output_node in sub:
        live_nodes = (nx.descendants(sub, arch.input_node) | {arch.input_node}) & (nx.ancestors(sub, arch.output_node) | {arch.output_node})
    else:
        live_nodes = set()
    live_sub = g.subgraph(live_nodes)

    f: list[float] = []
    f += [sum(op == o for op in ops.values()) for o in V]
    f += [sum(ops[n] == o for n in live_nodes) for o in V]
    lens = [len(p) for p in live]
    depths = [sum(op not in IDENTITY_OPS for op in p) for p in live]
    f += [len(paths), len(live), float(bool(live))]
    f += [min(lens, default=0), max(lens, default=0), float(np.mean(lens)) if lens else 0.0]
    f += [min(depths, default=0), max(depths, default=0)]
    per_path = [[p.count(o) for p in live] for o in V]
    f += [sum(c > 0 for c in cs) for cs in per_path]
    f += [min(cs, default=0) for cs in per_path]
    f += [max(cs, default=0) for cs in per_path]
    f += [sum(live_sub.in_degree(n) for n in live_nodes if ops[n] == o) for o in V]
    f += [sum(live_sub.out_degree(n) for n in live_nodes if ops[n] == o) for o in V]
    f += [live_sub.out_degree(arch.input_node) if live_nodes else 0, live_sub.in_degree(arch.output_node) if live_nodes else 0]
    sets = [frozenset(p) for p in paths]
    for s in subsets:
        s = frozenset(s)
        ls = [len(p) for p, ps in zip(paths, sets) if ps <= s]
        f += [len(ls), min(ls, default=-1), max(ls, default=-1)]
    return tuple(float(v) for v in f)
