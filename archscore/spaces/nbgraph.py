"""NAS-Bench-Graph search space (Qin et al., NeurIPS 2022 Datasets and Benchmarks).

A GNN architecture is a 4-node DAG: ``link[i]`` names the input of computing
node ``i + 1`` (0 is the graph input, ``k`` the output of computing node ``k``)
and ``ops[i]`` its GNN layer. Nodes whose output no other node reads are summed
into the ``output`` node (the benchmark combines these leaf nodes). Strings are
written ``"0,0,1,2:gcn,gat,sage,skip"`` (link, then ops).

:meth:`NBGraphSpace.build` gives the benchmark's GNN in plain PyTorch (no
``torch_geometric``) on a graph you supply, ``NBGraphSpace(edge_index=...,
num_features=...)``: see :mod:`archscore.spaces.nbgraph_model` for the ops
and the network. Without a graph the space is tabular only (encodings,
surrogate predictors) and ``build`` raises.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import torch

from archscore.arch import INPUT_OP, OUTPUT_OP, Arch
from archscore.registry import unknown_choice_error
from archscore.spaces.base import SearchSpace
from archscore.spaces.nbgraph_model import GNN_OPS, NBGraphNetwork, check_edge_index

NBGRAPH_OPS: tuple[str, ...] = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
#: The nine canonical link patterns of the benchmark (others are isomorphic relabellings).
NBGRAPH_LINKS: tuple[tuple[int, int, int, int], ...] = (
    (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 1), (0, 0, 1, 2), (0, 0, 1, 3),
    (0, 1, 1, 1), (0, 1, 1, 2), (0, 1, 2, 2), (0, 1, 2, 3),
)
_FORM = "'l0,l1,l2,l3:op0,op1,op2,op3' with link l_i < i + 1 and ops in " + ", ".join(NBGRAPH_OPS)


class NBGraphSpace(SearchSpace):
    """NAS-Bench-Graph: 9 link patterns x 9^4 op choices (26,206 distinct after deduplication).

    Parameters
    ----------
    edge_index : array-like of shape (2, E), optional
        The graph :meth:`build` runs on (sources, targets; give both
        directions for an undirected graph). None: the space cannot build.
    num_features : int, optional
        Node feature width of the inputs (Cora: 1433). Required with ``edge_index``.
    num_nodes : int, optional
        Number of nodes (default: the largest id in ``edge_index`` + 1).
    hidden : int, default=256
        Hidden width (the benchmark's: 256).
    dropout : float, default=0.5
        Dropout on the features and before each op (active in training mode only).
    """

    name = "nbgraph"
    ops = NBGRAPH_OPS

    def __init__(self, edge_index=None, num_features: int | None = None, num_nodes: int | None = None, hidden: int = 256,
                 dropout: float = 0.5) -> None:
        for label, v in (("num_features", num_features), ("num_nodes", num_nodes), ("hidden", hidden)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
                raise ValueError(f"nbgraph option {label} must be a positive integer, got {v!r}")
        if hidden % 4:
            raise ValueError(f"nbgraph option hidden must be a multiple of 4 (GAT splits it over 4 heads), got {hidden!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"nbgraph option dropout must be in [0, 1), got {dropout!r}")
        if (edge_index is None) != (num_features is None):
            raise ValueError("nbgraph: pass edge_index and num_features together (the graph and its feature width)")
        self.edge_index = edge_index
        self.num_features = num_features
        self.num_nodes = num_nodes
        self.hidden = int(hidden)
        self.dropout = float(dropout)

    def build(self, arch: Arch, num_classes: int = 10):
        """NAS-Bench-Graph's GNN for ``arch`` on the space's graph (``forward(x)``: node features -> logits per node)."""
        num_classes = self._check_num_classes(num_classes)
        if self.edge_index is None:
            # this instance is tabular only (the base contract: a space that cannot build raises NotImplementedError)
            raise NotImplementedError("nbgraph builds a GNN on a graph you supply: get_space('nbgraph', edge_index=..., num_features=...)")
        link, ops = self.link_ops(arch)
        return NBGraphNetwork(link, ops, self.edge_index, self.num_features, num_classes, hidden=self.hidden,
                              dropout=self.dropout, num_nodes=self.num_nodes)

    def example_input(self, batch: int = 2, generator=None):
        """Random node features for the space's graph, ``(num_nodes, num_features)`` (``batch`` is ignored: one graph)."""
        if self.edge_index is None:
            raise NotImplementedError("nbgraph has no graph: get_space('nbgraph', edge_index=..., num_features=...)")
        ei = check_edge_index(self.edge_index, self.num_nodes)
        n = self.num_nodes if self.num_nodes is not None else (int(ei.max()) + 1 if ei.numel() else 1)
        return torch.randn(n, self.num_features, generator=generator)

    def from_link_ops(self, link, ops) -> Arch:
        """An :class:`Arch` from the benchmark's ``link`` and ``ops`` lists."""
        link = [int(v) for v in link]
        ops = list(ops)
        if len(link) != 4 or len(ops) != 4:
            raise ValueError(f"NAS-Bench-Graph needs 4 links and 4 ops, got {len(link)} and {len(ops)}: {_FORM}")
        for i, src in enumerate(link):
            if not 0 <= src <= i:
                raise ValueError(f"link[{i}] = {src} must be in [0, {i}]: {_FORM}")
        for op in ops:
            if op not in self.ops:
                raise unknown_choice_error("NAS-Bench-Graph op", op, self.ops)
        g = nx.DiGraph()
        g.add_node(0, op=INPUT_OP)
        for i, (src, op) in enumerate(zip(link, ops), start=1):
            g.add_node(i, op=op)
            g.add_edge(src, i)
        g.add_node(5, op=OUTPUT_OP)
        for i in range(1, 5):
            if g.out_degree(i) == 0:
                g.add_edge(i, 5)
        return Arch(g, self.name)

    def link_ops(self, arch: Arch) -> tuple[list[int], list[str]]:
        """The benchmark's ``(link, ops)`` for ``arch``."""
        self.check_arch(arch)
        g = arch.graph
        if set(g.nodes) != set(range(6)):
            raise ValueError("architecture is labelled nbgraph but does not have nodes 0..5")
        link = []
        for i in range(1, 5):
            preds = list(g.predecessors(i))
            if len(preds) != 1:
                raise ValueError(f"nbgraph node {i} must have exactly one input, has {len(preds)}")
            link.append(int(preds[0]))
        return link, [g.nodes[i]["op"] for i in range(1, 5)]

    def from_string(self, s: str) -> Arch:
        if not isinstance(s, str) or s.count(":") != 1:
            raise ValueError(f"malformed NAS-Bench-Graph string {s!r}; expected {_FORM}")
        left, right = s.split(":")
        try:
            link = [int(v) for v in left.split(",")]
        except ValueError:
            raise ValueError(f"malformed links {left!r} in {s!r}; expected {_FORM}") from None
        return self.from_link_ops(link, [o.strip() for o in right.split(",")])

    def to_string(self, arch: Arch) -> str:
        link, ops = self.link_ops(arch)
        return ",".join(map(str, link)) + ":" + ",".join(ops)

    def sample(self, n: int, seed: int | None = 0) -> list[Arch]:
        """``n`` architectures: a canonical link pattern and four ops, uniformly (with replacement)."""
        n = self._check_sample_size(n)
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(n):
            link = NBGRAPH_LINKS[rng.integers(len(NBGRAPH_LINKS))]
            out.append(self.from_link_ops(link, [self.ops[k] for k in rng.integers(len(self.ops), size=4)]))
        return out

    def decode_hash(self, h: int) -> Arch:
        """The architecture behind a key of the benchmark's tables (``Arch.hash_arch``)."""
        base = len(self.ops) + 1
        h = int(h)
        digits = []
        for _ in range(4):
            h, d = divmod(h, base)
            digits.append(d)
        if not 0 <= h < len(NBGRAPH_LINKS) or any(d >= len(self.ops) for d in digits):
            raise ValueError(f"{h!r} is not a NAS-Bench-Graph architecture hash")
        return self.from_link_ops(NBGRAPH_LINKS[h], [self.ops[d] for d in reversed(digits)])
