"""The architecture representation shared by every part of archscore.

An :class:`Arch` is a plain, immutable ``networkx.DiGraph`` with one operation
per node (node attribute ``op``), exactly one ``input`` node and one ``output``
node, plus the name of the search space it comes from. It holds no torch
objects: spaces build models from it, encodings turn it into features.

Semantics used for :attr:`Arch.key`: every node sums the outputs of its
predecessors and applies its op; the ``output`` node only sums. Ops named in
:data:`ZERO_OPS` output zeros, ops in :data:`IDENTITY_OPS` pass their input
through. Two architectures that compute the same expression under these rules
(for example, cells that differ only in a dead branch or in the order of the
terms of a sum) share the same ``key``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Hashable, Iterable

import networkx as nx

INPUT_OP = "input"
OUTPUT_OP = "output"
#: Ops that output zeros (their branch contributes nothing).
ZERO_OPS = frozenset({"none", "zero", "zeroize"})
#: Ops that pass their input through unchanged.
IDENTITY_OPS = frozenset({"skip_connect", "identity", "skip"})


class Arch:
    """An immutable architecture DAG with operations on nodes.

    Parameters
    ----------
    graph : networkx.DiGraph
        Directed acyclic graph; every node carries a string ``op`` attribute.
        Exactly one node has ``op == "input"`` and one has ``op == "output"``.
        The graph is copied and frozen, so later changes to the argument do
        not leak into the ``Arch``.
    space : str
        Name of the search space the architecture belongs to.

    Notes
    -----
    Equality and hashing use the exact labelled graph (:attr:`spec`), so two
    isomorphic but differently wired cells are different ``Arch`` objects that
    share the same :attr:`key`.
    """

    __slots__ = ("_graph", "_space", "__dict__")

    def __init__(self, graph: nx.DiGraph, space: str) -> None:
        if not isinstance(graph, nx.DiGraph):
            raise TypeError(f"graph must be a networkx.DiGraph, got {type(graph).__name__}")
        if not isinstance(space, str) or not space:
            raise ValueError(f"space must be a non-empty string, got {space!r}")
        g = nx.DiGraph(graph)  # copy: the caller keeps ownership of its graph
        _validate_graph(g)
        self._graph = nx.freeze(g)
        self._space = space

    @property
    def graph(self) -> nx.DiGraph:
        """The frozen DAG (read-only)."""
        return self._graph

    @property
    def space(self) -> str:
        """Name of the search space."""
        return self._space

    @cached_property
    def input_node(self) -> Hashable:
        """The node whose op is ``"input"``."""
        return next(n for n, op in self._graph.nodes(data="op") if op == INPUT_OP)

    @cached_property
    def output_node(self) -> Hashable:
        """The node whose op is ``"output"``."""
        return next(n for n, op in self._graph.nodes(data="op") if op == OUTPUT_OP)

    @cached_property
    def ops(self) -> tuple[str, ...]:
        """Ops of all nodes in topological order (ties broken by node label)."""
        return tuple(self._graph.nodes[n]["op"] for n in self.topological_order)

    @cached_property
    def topological_order(self) -> tuple[Hashable, ...]:
        """Nodes in a deterministic topological order."""
        return tuple(nx.lexicographical_topological_sort(self._graph, key=str))

    @cached_property
    def spec(self) -> str:
        """Exact serialisation of the labelled graph (used for ``==`` and ``hash``)."""
        nodes = ",".join(f"{n}:{self._graph.nodes[n]['op']}" for n in sorted(self._graph, key=str))
        edges = ",".join(f"{u}>{v}" for u, v in sorted(self._graph.edges, key=lambda e: (str(e[0]), str(e[1]))))
        return f"{self._space}[{nodes}][{edges}]"

    @cached_property
    def key(self) -> str:
        """Canonical string, equal for cells that compute the same function.

        Built bottom-up as a sorted multiset of terms per node (see the module
        docstring). A cell with no path from input to output that avoids zero
        ops has key ``"0"``.
        """
        terms = _expression_terms(self._graph, self.topological_order)
        return "+".join(terms[self.output_node]) or "0"

    def is_connected(self) -> bool:
        """True when some input->output path avoids every zero op."""
        return _has_nonzero_path(self._graph, self.input_node, self.output_node)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Arch) and self.spec == other.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def __repr__(self) -> str:
        return f"Arch(space={self._space!r}, nodes={self._graph.number_of_nodes()}, key={self.key!r})"

    def __reduce__(self):
        # Pickle through a plain graph so archs travel to worker processes.
        return (Arch, (nx.DiGraph(self._graph), self._space))

    @classmethod
    def from_ops_and_edges(
        cls, ops: dict[Hashable, str] | Iterable[str], edges: Iterable[tuple[Hashable, Hashable]], space: str
    ) -> "Arch":
        """Build an ``Arch`` from node ops (a mapping, or a list indexed 0..n-1) and edges."""
        g = nx.DiGraph()
        items = ops.items() if isinstance(ops, dict) else enumerate(ops)
        for node, op in items:
            g.add_node(node, op=op)
        for u, v in edges:
            if u not in g or v not in g:
                raise ValueError(f"edge ({u!r}, {v!r}) names a node that has no op")
            g.add_edge(u, v)
        return cls(g, space)


def _validate_graph(g: nx.DiGraph) -> None:
    if g.number_of_nodes() < 2:
        raise ValueError(f"an architecture needs at least an input and an output node, got {g.number_of_nodes()} node(s)")
    missing = [n for n, op in g.nodes(data="op") if not isinstance(op, str) or not op]
    if missing:
        raise ValueError(f"every node needs a string 'op' attribute; nodes without one: {missing[:10]}")
    if not nx.is_directed_acyclic_graph(g):
        raise ValueError(f"architecture graph must be acyclic; found cycle {nx.find_cycle(g)}")
    for role in (INPUT_OP, OUTPUT_OP):
        found = [n for n, op in g.nodes(data="op") if op == role]
        if len(found) != 1:
            raise ValueError(f"expected exactly one node with op {role!r}, found {len(found)}: {found[:10]}")
    inp = next(n for n, op in g.nodes(data="op") if op == INPUT_OP)
    out = next(n for n, op in g.nodes(data="op") if op == OUTPUT_OP)
    if g.in_degree(inp) != 0:
        raise ValueError(f"the input node {inp!r} must have no incoming edges")
    if g.out_degree(out) != 0:
        raise ValueError(f"the output node {out!r} must have no outgoing edges")


def _expression_terms(g: nx.DiGraph, order: Iterable[Hashable]) -> dict[Hashable, tuple[str, ...]]:
    """Sorted multiset of additive terms that each node outputs."""
    terms: dict[Hashable, tuple[str, ...]] = {}
    for node in order:
        op = g.nodes[node]["op"]
        if op == INPUT_OP:
            terms[node] = ("x",)
            continue
        summed = tuple(sorted(t for p in g.predecessors(node) for t in terms[p]))
        if op == OUTPUT_OP or op in IDENTITY_OPS:
            terms[node] = summed
        elif op in ZERO_OPS or not summed:
            terms[node] = ()  # zero in -> zero out for every op we model (conv, pool, BN of zeros)
        else:
            terms[node] = (f"{op}({'+'.join(summed)})",)
    return terms


def _has_nonzero_path(g: nx.DiGraph, source: Hashable, target: Hashable) -> bool:
    keep = [n for n, op in g.nodes(data="op") if op not in ZERO_OPS]
    sub = g.subgraph(keep)
    return source in sub and target in sub and nx.has_path(sub, source, target)
