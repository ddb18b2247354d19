"""NAS-Bench-Graph's GNN model in plain PyTorch (no ``torch_geometric``), on a user-supplied graph.

The nine ops are message-passing layers over a fixed ``edge_index`` (shape
``(2, E)``, messages flow from ``edge_index[0]`` to ``edge_index[1]``, as in
PyTorch Geometric). Each follows the formula and the default options of the
PyTorch Geometric layer NAS-Bench-Graph used, with the same parameters (so the
same parameter count):

* ``gcn`` - GCNConv: ``D^-1/2 (A + I) D^-1/2 X W + b`` (self loops added where missing);
* ``gat`` - GATConv with 4 heads of ``out / 4`` channels, concatenated: per
  head, attention ``softmax_j LeakyReLU_0.2(a_src . W x_j + a_dst . W x_i)``
  over ``i``'s in-neighbours and itself, then ``sum_j alpha_ij W x_j``, plus a bias;
* ``gin`` - GINConv around one linear layer, ``eps = 0``: ``Linear(x_i + sum_j x_j)``;
* ``cheb`` - ChebConv, ``K = 2``, symmetric normalisation with
  ``lambda_max = 2``: ``X W_0 + L X W_1 + b`` with ``L = -D^-1/2 A D^-1/2``
  (self loops removed);
* ``sage`` - SAGEConv, mean aggregation: ``W_l mean_j x_j + b + W_r x_i``;
* ``arma`` - ARMAConv, one stack and one layer:
  ``ReLU(D^-1/2 A D^-1/2 X W + X V + b)`` (no self loops added). PyTorch Geometric allocates a
  ``(out, out)`` recurrent weight even for one layer, where it is unused;
  it is kept (untouched by the forward pass, so its gradient stays None)
  so that parameter counts equal the benchmark's ``para``;
* ``graph`` - GraphConv, the k-GNN layer of Morris et al. (k = 1), sum
  aggregation: ``W_1 sum_j x_j + b + W_2 x_i``;
* ``fc`` - a linear layer (no message passing);
* ``skip`` - identity.

Approximations: none in the formulas above; what is not reproduced is PyTorch
Geometric's initialisation of each layer (Glorot for GCN/GAT/ARMA weights;
here every weight gets the same Glorot-uniform init and biases zero, while
the linear layers of GIN, SAGE, GraphConv and fc keep PyTorch's default
``nn.Linear`` init), and the sparse-tensor path NAS-Bench-Graph used for
ogbn-proteins. Edge weights are not supported (the benchmark's datasets have none).

The network (:class:`NBGraphNetwork`), as NAS-Bench-Graph trains it with one
cell, no pre-processing layer and one post-processing layer: dropout on the
input features; computing node ``i`` reads node ``link[i]`` and, unless
that input is the raw features (the graph input, or a chain of ``skip`` from
it), applies BatchNorm, ReLU and dropout before its op; ops reading raw
features map ``in_features -> hidden``, the others ``hidden -> hidden``; the
nodes no other node reads are concatenated, passed through ReLU and a
linear layer to ``hidden``, then a linear layer to the classes. With
``hidden=256`` this gives exactly the parameter counts NAS-Bench-Graph records
(checked on Cora, ``tests/test_nbgraph.py``).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from archscore.registry import unknown_choice_error

#: NAS-Bench-Graph's ops (same order as the benchmark's ``gnn_list``).
GNN_OPS: tuple[str, ...] = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")


def check_edge_index(edge_index, num_nodes: int | None = None) -> torch.Tensor:
    """``edge_index`` as a ``(2, E)`` int64 tensor of node ids in ``[0, num_nodes)``; a ``ValueError`` naming the problem otherwise."""
    ei = torch.as_tensor(edge_index)
    if ei.dim() != 2 or ei.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, E) (sources, targets), got {tuple(ei.shape)}")
    if ei.is_floating_point() or ei.dtype == torch.bool:
        raise ValueError(f"edge_index must hold integer node ids, got dtype {ei.dtype}")
    ei = ei.to(torch.long)
    if ei.numel() and int(ei.min()) < 0:
        raise ValueError(f"edge_index holds a negative node id {int(ei.min())}")
    if num_nodes is not None and ei.numel() and int(ei.max()) >= num_nodes:
        raise ValueError(f"edge_index refers to node {int(ei.max())} but the graph has {num_nodes} nodes")
    return ei


def _glorot(t: torch.Tensor) -> torch.Tensor:
    bound = math.sqrt(6.0 / (t.shape[-2] + t.shape[-1]))
    return nn.init.uniform_(t, -bound, bound)


def _sum_at(values: torch.Tensor, index: torch.Tensor, n: int) -> torch.Tensor:
    """``out[i] = sum of values[e] over edges e with index[e] == i``."""
    out = values.new_zeros((n,) + tuple(values.shape[1:]))
    return out.index_add_(0, index, values)


def _without_self_loops(ei: torch.Tensor) -> torch.Tensor:
    return ei[:, ei[0] != ei[1]]


def _with_self_loops(ei: torch.Tensor, n: int, *, only_missing: bool) -> torch.Tensor:
    loops = torch.arange(n, device=ei.device)
    if only_missing:
        has = torch.zeros(n, dtype=torch.bool, device=ei.device)
        has[ei[0][ei[0] == ei[1]]] = True
        loops = loops[~has]
    else:
        ei = _without_self_loops(ei)
    return torch.cat([ei, loops.expand(2, -1)], dim=1)


def _sym_norm(ei: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    """Edge weights ``deg^-1/2[src] * deg^-1/2[dst]``, degrees counted at the targets (0 where a degree is 0)."""
    deg = _sum_at(torch.ones(ei.shape[1], dtype=dtype, device=ei.device), ei[1], n)
    inv = deg.pow(-0.5)
    inv[torch.isinf(inv)] = 0.0
    return inv[ei[0]] * inv[ei[1]]


class GraphOp(nn.Module):
    """Base of the ops: ``forward(x, edge_index)`` with ``x`` of shape ``(N, in_features)``."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}"


class GCN(GraphOp):
    """GCNConv (Kipf & Welling 2017)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.weight = nn.Parameter(_glorot(torch.empty(in_features, out_features)))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        ei = _with_self_loops(edge_index, n, only_missing=True)
        h = x @ self.weight
        return _sum_at(_sym_norm(ei, n, h.dtype)[:, None] * h[ei[0]], ei[1], n) + self.bias


class GAT(GraphOp):
    """GATConv (Velickovic et al. 2018), ``heads`` heads of ``out_features // heads`` channels, concatenated."""

    def __init__(self, in_features: int, out_features: int, heads: int = 4) -> None:
        super().__init__(in_features, out_features)
        if out_features % heads:
            raise ValueError(f"gat: {out_features} output features do not split over {heads} heads")
        self.heads, self.channels = heads, out_features // heads
        self.weight = nn.Parameter(_glorot(torch.empty(in_features, out_features)))
        self.att_src = nn.Parameter(_glorot(torch.empty(1, heads, self.channels)))
        self.att_dst = nn.Parameter(_glorot(torch.empty(1, heads, self.channels)))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        ei = _with_self_loops(edge_index, n, only_missing=False)
        h = (x @ self.weight).view(n, self.heads, self.channels)
        a_src, a_dst = (h * self.att_src).sum(-1), (h * self.att_dst).sum(-1)  # (N, heads)
        e = nn.functional.leaky_relu(a_src[ei[0]] + a_dst[ei[1]], 0.2)  # (E, heads)
        # softmax over each target's incoming edges (shifted by the target's max for stability)
        top = torch.full((n, self.heads), -math.inf, dtype=e.dtype, device=e.device)
        top = top.scatter_reduce(0, ei[1][:, None].expand_as(e), e, reduce="amax", include_self=True)
        w = torch.exp(e - top[ei[1]])
        alpha = w / _sum_at(w, ei[1], n)[ei[1]]
        out = _sum_at(alpha[..., None] * h[ei[0]], ei[1], n)
        return out.reshape(n, -1) + self.bias


class GIN(GraphOp):
    """GINConv (Xu et al. 2019) around one linear layer, ``eps = 0``."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.lin = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.lin(x + _sum_at(x[edge_index[0]], edge_index[1], x.shape[0]))


class Cheb(GraphOp):
    """ChebConv (Defferrard et al. 2016), ``K = 2``, symmetric normalisation, ``lambda_max = 2``."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.lins = nn.ModuleList([nn.Linear(in_features, out_features, bias=False) for _ in range(2)])
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        ei = _without_self_loops(edge_index)
        # degrees at the sources, as PyG's get_laplacian; equal to the targets' on undirected graphs
        deg = _sum_at(torch.ones(ei.shape[1], dtype=x.dtype, device=x.device), ei[0], n)
        inv = deg.pow(-0.5)
        inv[torch.isinf(inv)] = 0.0
        w = -inv[ei[0]] * inv[ei[1]]
        tx1 = _sum_at(w[:, None] * x[ei[0]], ei[1], n)
        return self.lins[0](x) + self.lins[1](tx1) + self.bias


class SAGE(GraphOp):
    """SAGEConv (Hamilton et al. 2017), mean aggregation."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.lin_l = nn.Linear(in_features, out_features)
        self.lin_r = nn.Linear(in_features, out_features, bias=False)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        total = _sum_at(x[edge_index[0]], edge_index[1], n)
        count = _sum_at(torch.ones(edge_index.shape[1], dtype=x.dtype, device=x.device), edge_index[1], n).clamp(min=1)
        return self.lin_l(total / count[:, None]) + self.lin_r(x)


class ARMA(GraphOp):
    """ARMAConv (Bianchi et al. 2021), one stack, one layer, ReLU."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.init_weight = nn.Parameter(_glorot(torch.empty(1, in_features, out_features)))
        # allocated by PyG for num_layers - 1 = 0 recurrent steps (at least one); unused, kept for the parameter count
        self.weight = nn.Parameter(_glorot(torch.empty(1, 1, out_features, out_features)))
        self.root_weight = nn.Parameter(_glorot(torch.empty(1, 1, in_features, out_features)))
        self.bias = nn.Parameter(torch.zeros(1, 1, 1, out_features))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        n, ei = x.shape[0], edge_index  # normalised without adding self loops (existing ones kept), as PyG
        h = x @ self.init_weight[0]
        out = _sum_at(_sym_norm(ei, n, h.dtype)[:, None] * h[ei[0]], ei[1], n)
        return torch.relu(out + x @ self.root_weight[0, 0] + self.bias[0, 0])


class KGNN(GraphOp):
    """GraphConv, the k-GNN layer (Morris et al. 2019) with k = 1, sum aggregation."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.lin_rel = nn.Linear(in_features, out_features)
        self.lin_root = nn.Linear(in_features, out_features, bias=False)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.lin_rel(_sum_at(x[edge_index[0]], edge_index[1], x.shape[0])) + self.lin_root(x)


class FC(GraphOp):
    """A linear layer; ignores the graph."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.lin = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.lin(x)


class Skip(GraphOp):
    """Identity (its output keeps its input's width)."""

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return x


OP_CLASSES: dict[str, type[GraphOp]] = {"gat": GAT, "gcn": GCN, "gin": GIN, "cheb": Cheb, "sage": SAGE, "arma": ARMA,
                                        "graph": KGNN, "fc": FC, "skip": Skip}


def graph_op(name: str, in_features: int, out_features: int) -> GraphOp:
    """The op ``name`` mapping ``in_features`` to ``out_features`` (``skip`` keeps ``in_features``)."""
    if name not in OP_CLASSES:
        raise unknown_choice_error("NAS-Bench-Graph op", name, GNN_OPS)
    return OP_CLASSES[name](in_features, out_features)


class NBGraphNetwork(nn.Module):
    """NAS-Bench-Graph's node classifier for one ``(link, ops)`` on a fixed graph (see the module docstring).

    ``forward(x)`` takes the node features ``(N, in_features)`` of the graph
    given by ``edge_index`` and returns ``(N, num_classes)`` logits.
    """

    def __init__(self, link: Sequence[int], ops: Sequence[str], edge_index, in_features: int, num_classes: int,
                 hidden: int = 256, dropout: float = 0.5, num_nodes: int | None = None) -> None:
        super().__init__()
        self.link, self.op_names = [int(v) for v in link], list(ops)
        self.register_buffer("edge_index", check_edge_index(edge_index, num_nodes), persistent=False)
        self.num_nodes = num_nodes
        self.dropout = float(dropout)
        raw = [True]  # does node k carry the raw input features (the input, or skips of it)?
        width = [int(in_features)]
        self.ops = nn.ModuleList()
        self.bns = nn.ModuleList()
        for src, name in zip(self.link, self.op_names):
            c_in = width[src]
            op = graph_op(name, c_in, hidden)
            self.ops.append(op)
            self.bns.append(nn.BatchNorm1d(hidden))  # one per node, as the benchmark (unused on raw inputs)
            raw.append(raw[src] and name == "skip")
            width.append(c_in if name == "skip" else hidden)
        self.raw = raw
        self.leaves = [k for k in range(len(width)) if k not in self.link]
        self.fc = nn.Linear(sum(width[k] for k in self.leaves), hidden)
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            raise ValueError(f"node features must have shape (num_nodes, in_features), got {tuple(x.shape)}")
        if self.num_nodes is not None and x.shape[0] != self.num_nodes:
            raise ValueError(f"the graph has {self.num_nodes} nodes but the features have {x.shape[0]} rows")
        ei = self.edge_index
        if ei.numel() and int(ei.max()) >= x.shape[0]:
            raise ValueError(f"edge_index refers to node {int(ei.max())} but the features have {x.shape[0]} rows")
        drop = nn.functional.dropout
        states = [drop(x, self.dropout, self.training)]
        for k, (src, op, bn) in enumerate(zip(self.link, self.ops, self.bns)):
            h = states[src]
            if not self.raw[src]:
                h = drop(torch.relu(bn(h)), self.dropout, self.training)
            states.append(op(h, ei))
        out = torch.relu(torch.cat([states[k] for k in self.leaves], dim=1))
        return self.classifier(self.fc(out))


__all__ = ["GNN_OPS", "OP_CLASSES", "GraphOp", "GCN", "GAT", "GIN", "Cheb", "SAGE", "ARMA", "KGNN", "FC", "Skip", "graph_op",
           "NBGraphNetwork", "check_edge_index"]
