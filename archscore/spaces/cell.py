"""NB201-style cells on your own op vocabulary.

::

    from archscore.spaces import CellSpace

    def build_op(op, channels):
        return {"conv3": lambda: nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU()),
                "skip": nn.Identity, "none": Zero}[op]()

    space = CellSpace("my-cells", ops=["none", "skip", "conv3"], n_nodes=4, build_op=build_op)

A cell has ``n_nodes`` tensor nodes; node ``j`` sums ``op_ij(node_i)`` over
``i < j`` (``n_nodes * (n_nodes - 1) / 2`` edges, each carrying one op of the
vocabulary); node 0 is the cell input and the last node its output. As in
:mod:`archscore.spaces.nb201`, the :class:`~archscore.arch.Arch` puts ops on
nodes: one op node per edge, in the string's edge order. The string format
is NB201's, ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` for 4 nodes. Ops named
``none``/``zero`` and ``skip``/``skip_connect``/``identity`` get the zero and
identity meaning of :attr:`Arch.key` (so isomorphic and dead-branch cells
share a key); any other name is opaque.

The network (:meth:`CellSpace.build`) is a small stem/stages skeleton: a 3x3
conv stem (``C`` channels) + BatchNorm, ``stages`` stages of ``N`` cells with
``C, 2C, 4C, ...`` channels joined by NB201's residual reduction block,
BatchNorm-ReLU, global average pooling and a linear classifier. ``build_op(op,
channels)`` must return a module that keeps its input's shape.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Callable, Iterator, Sequence

import networkx as nx
import numpy as np
from torch import nn

from archscore.arch import INPUT_OP, OUTPUT_OP, Arch
from archscore.registry import unknown_choice_error
from archscore.spaces.choice import UserSpace, _check_name, _check_seed, _rng
from archscore.spaces.nb201 import ResidualReduction

_TOKEN = re.compile(r"^(.+)~(0|[1-9][0-9]*)$", re.ASCII)


def cell_edges(n_nodes: int) -> tuple[tuple[int, int], ...]:
    """``(source, target)`` pairs of a fully connected ``n_nodes`` cell, grouped by target (NB201 order)."""
    return tuple((i, j) for j in range(1, n_nodes) for i in range(j))


class CellSpace(UserSpace):
    """Cells of ``n_nodes`` tensor nodes whose edges carry ops of a user vocabulary.

    Parameters
    ----------
    name : str
        Name of the space.
    ops : sequence of str
        The op vocabulary (2+ distinct names without ``|``, ``~`` or ``+``).
    n_nodes : int, default=4
        Tensor nodes per cell (4: NB201's 6 edges).
    build_op : callable, optional
        ``build_op(op, channels) -> nn.Module`` keeping the input's shape.
    C : int, default=16
        Channels of the first stage.
    N : int, default=1
        Cells per stage.
    stages : int, default=3
        Stages; each after the first halves the resolution and doubles the channels.
    in_channels : int, default=3
        Channels of the input images.
    """

    def __init__(self, name: str, ops: Sequence[str], n_nodes: int = 4, build_op: Callable[[str, int], Any] | None = None,
                 C: int = 16, N: int = 1, stages: int = 3, in_channels: int = 3) -> None:
        self.name = _check_name(name)
        if isinstance(ops, str) or not isinstance(ops, Sequence) or len(ops) < 1:
            raise ValueError(f"ops must be a non-empty list of op names, got {ops!r}")
        bad = [o for o in ops if not isinstance(o, str) or not o or any(c in o for c in "|~+") or o in (INPUT_OP, OUTPUT_OP)]
        if bad or len(set(ops)) != len(ops):
            raise ValueError(f"ops must be distinct non-empty strings without '|', '~' or '+' (and not input/output), got {list(ops)}")
        for label, v, low in (("n_nodes", n_nodes, 2), ("C", C, 1), ("N", N, 1), ("stages", stages, 1), ("in_channels", in_channels, 1)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"{label} must be an integer >= {low}, got {v!r}")
        if build_op is not None and not callable(build_op):
            raise TypeError(f"build_op must be a callable build_op(op, channels) -> nn.Module, got {type(build_op).__name__}")
        self.ops = tuple(ops)
        self.n_nodes = int(n_nodes)
        self.edges = cell_edges(self.n_nodes)
        self.build_op = build_op
        self.C, self.N, self.stages, self.in_channels = int(C), int(N), int(stages), int(in_channels)
        self._template = self._edge_graph()

    def _edge_graph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_node(0, op=INPUT_OP)
        out = len(self.edges) + 1
        g.add_node(out, op=OUTPUT_OP)
        node_of = {e: i + 1 for i, e in enumerate(self.edges)}
        for (src, dst), node in node_of.items():
            g.add_node(node)
            for f in ([0] if src == 0 else [node_of[e] for e in self.edges if e[1] == src]):
                g.add_edge(f, node)
            if dst == self.n_nodes - 1:
                g.add_edge(node, out)
        return g

    @property
    def size(self) -> int:
        """Number of cells: ``len(ops) ** n_edges``."""
        return len(self.ops) ** len(self.edges)

    def __len__(self) -> int:
        return self.size

    # ------------------------------------------------------------- strings
    def from_ops(self, ops: Sequence[str]) -> Arch:
        """The cell with ``ops`` on its edges, in the string's edge order."""
        ops = list(ops)
        if len(ops) != len(self.edges):
            raise ValueError(f"a cell of space {self.name!r} has {len(self.edges)} edge ops, got {len(ops)}")
        for op in ops:
            if op not in self.ops:
                raise unknown_choice_error(f"op of space {self.name!r}", op, self.ops)
        g = self._template.copy()
        for i, op in enumerate(ops, start=1):
            g.nodes[i]["op"] = op
        return Arch(g, self.name)

    def cell_ops(self, arch: Arch) -> list[str]:
        """The edge ops of ``arch`` in the string's edge order."""
        self.check_arch(arch)
        g = arch.graph
        if set(g.nodes) != set(self._template.nodes) or set(g.edges) != set(self._template.edges):
            raise ValueError(f"architecture is labelled {self.name!r} but its graph is not this space's cell template")
        ops = [g.nodes[i]["op"] for i in range(1, len(self.edges) + 1)]
        for op in ops:
            if op not in self.ops:
                raise unknown_choice_error(f"op of space {self.name!r}", op, self.ops)
        return ops

    def from_string(self, s: str) -> Arch:
        """Parse ``|op~0|+|op~0|op~1|+...`` (one group per node after the input)."""
        if not isinstance(s, str):
            raise TypeError(f"cell string must be a str, got {type(s).__name__}")
        groups = s.strip().split("+")
        if len(groups) != self.n_nodes - 1:
            raise ValueError(f"cell string {s!r} has {len(groups)} node group(s), expected {self.n_nodes - 1}")
        found: dict[tuple[int, int], str] = {}
        for node, group in enumerate(groups, start=1):
            if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
                raise ValueError(f"node group {group!r} in {s!r} must start and end with '|'")
            tokens = group[1:-1].split("|")
            if len(tokens) != node:
                raise ValueError(f"node {node} in {s!r} has {len(tokens)} incoming edge(s), expected {node}")
            for expected, token in enumerate(tokens):
                m = _TOKEN.match(token)
                if not m or int(m.group(2)) != expected:
                    raise ValueError(f"malformed edge {token!r} of node {node} in {s!r}; expected 'op~{expected}'")
                found[(expected, node)] = m.group(1)
        return self.from_ops([found[e] for e in self.edges])

    def to_string(self, arch: Arch) -> str:
        ops = dict(zip(self.edges, self.cell_ops(arch)))
        return "+".join("|" + "|".join(f"{ops[(i, j)]}~{i}" for i in range(j)) + "|" for j in range(1, self.n_nodes))

    # ------------------------------------------------------------ sampling
    def enumerate(self) -> Iterator[Arch]:
        """Every cell, in lexicographic order of the edge ops (ops in vocabulary order)."""
        for ops in itertools.product(self.ops, repeat=len(self.edges)):
            yield self.from_ops(ops)

    def from_index(self, i: int) -> Arch:
        """The ``i``-th cell of :meth:`enumerate`."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < self.size:
            raise ValueError(f"index must be an integer in [0, {self.size}), got {i!r}")
        i, digits = int(i), []
        for _ in self.edges:
            i, r = divmod(i, len(self.ops))
            digits.append(r)
        return self.from_ops([self.ops[d] for d in reversed(digits)])

    def sample(self, n: int, seed: int | None = 0) -> list[Arch]:
        """``n`` distinct cells drawn uniformly without replacement."""
        n = self._check_sample_size(n, self.size)
        rng = np.random.default_rng(_check_seed(seed))
        if self.size <= 10**7:
            return [self.from_index(int(i)) for i in rng.choice(self.size, size=n, replace=False)]
        seen: dict[int, None] = {}
        while len(seen) < n:
            seen.setdefault(int(rng.integers(self.size)), None)
        return [self.from_index(i) for i in seen]

    def mutate(self, arch: Arch, rng: np.random.Generator | int | None = None) -> Arch:
        """``arch`` with one edge op changed to another op of the vocabulary, uniformly."""
        return super().mutate(arch, _rng(rng))

    def neighbours(self, arch: Arch) -> list[Arch]:
        """Every cell that differs from ``arch`` in exactly one edge op."""
        ops = self.cell_ops(arch)
        return [self.from_ops(ops[:k] + [o] + ops[k + 1:]) for k in range(len(ops)) for o in self.ops if o != ops[k]]

    # --------------------------------------------------------------- model
    def build(self, arch: Arch, num_classes: int = 10) -> nn.Module:
        """The stem/stages network around ``arch``'s cell, ops made by ``build_op``."""
        if self.build_op is None:
            raise NotImplementedError(f"space {self.name!r} was declared without build_op=")
        return CellNetwork(self.cell_ops(arch), self.edges, self.n_nodes, self.build_op, C=self.C, N=self.N, stages=self.stages,
                           in_channels=self.in_channels, num_classes=self._check_num_classes(num_classes))

    def __repr__(self) -> str:
        return f"CellSpace(name={self.name!r}, ops={list(self.ops)}, n_nodes={self.n_nodes}, size={self.size})"


class Cell(nn.Module):
    """One cell: node j sums op_ij(node i) over i < j; returns the last node."""

    def __init__(self, ops: list[str], edges: Sequence[tuple[int, int]], n_nodes: int, build_op: Callable, channels: int) -> None:
        super().__init__()
        self.edge_list = tuple(edges)
        self.n_nodes = n_nodes
        mods = []
        for op in ops:
            m = build_op(op, channels)
            if not isinstance(m, nn.Module):
                raise TypeError(f"build_op({op!r}, {channels}) returned a {type(m).__name__}, expected an nn.Module")
            mods.append(m)
        self.ops = nn.ModuleList(mods)

    def forward(self, x):
        nodes = [x]
        for j in range(1, self.n_nodes):
            nodes.append(sum(self.ops[k](nodes[i]) for k, (i, t) in enumerate(self.edge_list) if t == j))
        return nodes[-1]


class CellNetwork(nn.Module):
    """Stem, ``stages`` x ``N`` cells with residual reductions between stages, BN-ReLU, pooling, classifier."""

    def __init__(self, ops: list[str], edges: Sequence[tuple[int, int]], n_nodes: int, build_op: Callable, *, C: int, N: int,
                 stages: int, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        c = C
        for stage in range(stages):
            if stage > 0:
                layers.append(ResidualReduction(c, 2 * c))
                c *= 2
            layers.extend(Cell(ops, edges, n_nodes, build_op, c) for _ in range(N))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def feature_stages(self) -> list[nn.Module]:
        """The stem and every cell and reduction block (the stages AZ-NAS's proxies read)."""
        return [self.stem, *self.cells]

    def forward(self, x):
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.global_pooling(x).flatten(1))


__all__ = ["CellSpace", "CellNetwork", "cell_edges"]
