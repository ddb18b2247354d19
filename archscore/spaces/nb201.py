"""NAS-Bench-201 cell search space (Dong & Yang, ICLR 2020).

A cell has 4 tensor nodes and 6 edges; each edge carries one of five ops. The
benchmark writes a cell as ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: node ``j``'s
incoming edges, ``op~source``, grouped by node. archscore puts ops on nodes, so
each edge becomes an op node (ids 1..6 in the string's edge order), node 0 is
the ``input`` and node 7 the ``output``; an op node reads the sum of the op
nodes that feed its source tensor node.

The network :meth:`NB201Space.build` returns is the benchmark's: a 3x3 conv stem
(C channels) + BN, three stages of N cells with C, 2C, 4C channels joined by
residual reduction blocks, BN-ReLU, global average pooling and a linear
classifier. Defaults C=16, N=5 give the benchmark's exact parameter counts.
"""

from __future__ import annotations

import itertools
import re
from typing import Iterator

import networkx as nx
import numpy as np
import torch
from torch import nn

from archscore.arch import INPUT_OP, OUTPUT_OP, Arch
from archscore.registry import unknown_choice_error
from archscore.spaces.base import SearchSpace

NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (source, target) tensor-node pairs in the order edges appear in the benchmark string.
NB201_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
_OUTPUT_ID = len(NB201_EDGES) + 1
_STRING_FORM = "'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with op in " + ", ".join(NB201_OPS)
#: ``op~source`` with ASCII letters/digits only and a source without leading zeros (``~01`` and
#: full-width digits such as ``~１`` are rejected: the benchmark never writes them).
_TOKEN = re.compile(r"^([A-Za-z0-9_]+)~(0|[1-9][0-9]*)$", re.ASCII)


def _edge_graph() -> nx.DiGraph:
    """The fixed NB201 DAG with ops on nodes (ops filled in per cell)."""
    g = nx.DiGraph()
    g.add_node(0, op=INPUT_OP)
    g.add_node(_OUTPUT_ID, op=OUTPUT_OP)
    op_node = {edge: i + 1 for i, edge in enumerate(NB201_EDGES)}
    for (src, dst), node in op_node.items():
        g.add_node(node, edge=(src, dst))
        feeders = [0] if src == 0 else [op_node[e] for e in NB201_EDGES if e[1] == src]
        for f in feeders:
            g.add_edge(f, node)
    for edge, node in op_node.items():
        if edge[1] == 3:
            g.add_edge(node, _OUTPUT_ID)
    return g


_TEMPLATE = _edge_graph()
_TEMPLATE_EDGES = frozenset(_TEMPLATE.edges)


class NB201Space(SearchSpace):
    """NAS-Bench-201: 5 ops on 6 edges, 15,625 cells.

    Parameters
    ----------
    C : int, default=16
        Channels of the first stage (the benchmark uses 16).
    N : int, default=5
        Cells per stage (the benchmark uses 5). Smaller values build tiny
        networks for tests; they are no longer the benchmark's networks.
    """

    name = "nb201"
    ops = NB201_OPS

    def __init__(self, C: int = 16, N: int = 5) -> None:
        for label, v in (("C", C), ("N", N)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"NB201 option {label} must be a positive integer, got {v!r}")
        self.C = int(C)
        self.N = int(N)

    def __len__(self) -> int:
        return len(self.ops) ** len(NB201_EDGES)

    # --------------------------------------------------------------- strings
    def from_string(self, s: str) -> Arch:
        """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        return self.from_ops(self._parse(s))

    def _parse(self, s: str) -> list[str]:
        if not isinstance(s, str):
            raise TypeError(f"NB201 cell string must be a str, got {type(s).__name__}")
        groups = s.strip().split("+")
        if len(groups) != 3:
            raise ValueError(f"NB201 cell string {s!r} has {len(groups)} node group(s) separated by '+', expected 3: {_STRING_FORM}")
        ops: dict[tuple[int, int], str] = {}
        for node, group in enumerate(groups, start=1):
            if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
                raise ValueError(f"node group {group!r} in {s!r} must start and end with '|': {_STRING_FORM}")
            tokens = group[1:-1].split("|")
            if len(tokens) != node:
                raise ValueError(f"node {node} in {s!r} has {len(tokens)} incoming edge(s), expected {node}: {_STRING_FORM}")
            for expected_src, token in enumerate(tokens):
                m = _TOKEN.match(token)
                if not m:
                    raise ValueError(f"malformed edge {token!r} in {s!r}; expected 'op~source' with the source an ASCII "
                                     f"integer without leading zeros: {_STRING_FORM}")
                op, src = m.group(1), int(m.group(2))
                if op not in self.ops:
                    raise unknown_choice_error("NB201 op", op, self.ops)
                if src != expected_src:
                    raise ValueError(f"edge {token!r} of node {node} in {s!r} has source {src}, expected {expected_src}")
                ops[(src, node)] = op
        return [ops[e] for e in NB201_EDGES]

    def from_ops(self, ops: list[str] | tuple[str, ...]) -> Arch:
        """Build a cell from its six ops, in the string's edge order."""
        ops = list(ops)
        if len(ops) != len(NB201_EDGES):
            raise ValueError(f"an NB201 cell has {len(NB201_EDGES)} edge ops, got {len(ops)}")
        for op in ops:
            if op not in self.ops:
                raise unknown_choice_error("NB201 op", op, self.ops)
        g = _TEMPLATE.copy()
        for i, op in enumerate(ops, start=1):
            g.nodes[i]["op"] = op
        return Arch(g, self.name)

    def cell_ops(self, arch: Arch) -> list[str]:
        """The six edge ops of ``arch`` in the string's edge order."""
        self.check_arch(arch)
        g = arch.graph
        if set(g.nodes) != set(_TEMPLATE.nodes) or set(g.edges) != _TEMPLATE_EDGES:
            raise ValueError("architecture is labelled nb201 but its graph is not the NB201 cell template")
        ops = [g.nodes[i]["op"] for i in range(1, len(NB201_EDGES) + 1)]
        for op in ops:
            if op not in self.ops:
                raise unknown_choice_error("NB201 op", op, self.ops)
        return ops

    def to_string(self, arch: Arch) -> str:
        ops = dict(zip(NB201_EDGES, self.cell_ops(arch)))
        groups = ["|" + "|".join(f"{ops[(src, node)]}~{src}" for src in range(node)) + "|" for node in (1, 2, 3)]
        return "+".join(groups)

    def benchmark_unique_str(self, arch: Arch) -> str:
        """The benchmark's own isomorphism string (``to_unique_str(consider_zero=True)``).

        NAS-Bench-201's code marks a zero branch as ``#`` but keeps it in the
        sum and joins each node's terms as strings without flattening nested
        sums, so some functionally identical cells get different strings: it
        yields the paper's 6,466 "unique topologies", while :attr:`Arch.key`,
        which drops zero terms and flattens sums, finds 4,930 distinct
        functions among the 15,625 cells.
        """
        ops = dict(zip(NB201_EDGES, self.cell_ops(arch)))
        nodes = {0: "0"}
        for node in (1, 2, 3):
            terms = []
            for src in range(node):
                op, x = ops[(src, node)], nodes[src]
                if op == "none" or x == "#":
                    terms.append("#")
                elif op == "skip_connect":
                    terms.append(x)
                else:
                    terms.append(f"({x})@{op}")
            nodes[node] = "+".join(sorted(terms))
        return nodes[3]

    # ------------------------------------------------------------ sampling
    def enumerate(self) -> Iterator[Arch]:
        """All 15,625 cells, in lexicographic order of the six edge ops.

        Edges are in the string's order and ops in :data:`NB201_OPS` order, so
        cell ``i`` has op ``NB201_OPS[d]`` on edge ``e`` where ``d`` is the
        ``e``-th base-5 digit of ``i`` (most significant first). This is not
        the benchmark's own index order; that comes from its table
        (:func:`archscore.benchmarks.load_nb201`).
        """
        for ops in itertools.product(self.ops, repeat=len(NB201_EDGES)):
            yield self.from_ops(ops)

    def from_index(self, i: int) -> Arch:
        """The ``i``-th cell of :meth:`enumerate` (not the benchmark's index)."""
        if not 0 <= int(i) < len(self):
            raise ValueError(f"NB201 enumeration index must be in [0, {len(self)}), got {i!r}")
        digits = np.base_repr(int(i), base=len(self.ops)).zfill(len(NB201_EDGES))
        return self.from_ops([self.ops[int(d)] for d in digits])

    def sample(self, n: int, seed: int | None = 0) -> list[Arch]:
        """``n`` distinct cells drawn uniformly without replacement."""
        n = self._check_sample_size(n, len(self))
        rng = np.random.default_rng(seed)
        return [self.from_index(i) for i in rng.choice(len(self), size=n, replace=False)]

    # --------------------------------------------------------------- model
    def build(self, arch: Arch, num_classes: int = 10) -> nn.Module:
        """The benchmark's untrained network for ``arch`` (PyTorch default init)."""
        num_classes = self._check_num_classes(num_classes)
        return NB201Network(self.cell_ops(arch), C=self.C, N=self.N, num_classes=num_classes)


# ----------------------------------------------------------------- modules
class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv (no bias) -> BatchNorm, the benchmark's convolution op."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The ``none`` op: multiplies by zero (kept as a module, as in the benchmark)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def _make_op(op: str, c: int) -> nn.Module:
    if op == "none":
        return Zero()
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1, 1, 0)
    if op == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, 1, 1)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise unknown_choice_error("NB201 op", op, NB201_OPS)


class NB201Cell(nn.Module):
    """One NB201 cell: node j sums op(edge i->j)(node i) over i < j."""

    def __init__(self, ops: list[str], c: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(_make_op(op, c) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in (1, 2, 3):
            nodes.append(sum(self.edges[k](nodes[src]) for k, (src, dst) in enumerate(NB201_EDGES) if dst == node))
        return nodes[3]


class ResidualReduction(nn.Module):
    """The benchmark's reduction block: two ReLU-Conv-BN (stride 2, then 1) plus an avg-pool + 1x1 conv shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """NAS-Bench-201 macro skeleton around one cell type.

    Subclasses may swap the cell and reduction-block classes (see
    :mod:`archscore.proxies.reference`); the skeleton stays in one place.
    """

    cell_type: type[nn.Module] = NB201Cell
    reduction_type: type[nn.Module] = ResidualReduction
    inplace_last_relu: bool = False

    def __init__(self, ops: list[str], C: int = 16, N: int = 5, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        c = C
        for stage in range(3):
            if stage > 0:
                layers.append(self.reduction_type(c, 2 * c))
                c *= 2
            layers.extend(self.cell_type(ops, c) for _ in range(N))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=self.inplace_last_relu))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def feature_stages(self) -> list[nn.Module]:
        """The stem and every cell and reduction block: the stages AZ-NAS's proxies read (as in the authors' NB201 code)."""
        return [self.stem, *self.cells]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(self.global_pooling(x), 1))
