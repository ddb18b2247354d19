"""NAS-Bench-Graph's GNN in plain torch: each op on hand-computed tiny graphs, against PyTorch Geometric when installed,
and the built networks' sizes against the benchmark's recorded ``para``."""

import numpy as np
import pytest
import torch

from archscore import get_space
from archscore.spaces.nbgraph import NBGRAPH_OPS
from archscore.spaces.nbgraph_model import ARMA, FC, GAT, GCN, GIN, GNN_OPS, KGNN, SAGE, Cheb, Skip, check_edge_index, graph_op

#: 0 <-> 1, and 2 -> 0 (one directed edge): in-neighbours of 0 are {1, 2}, of 1 {0}, of 2 none.
EDGES = torch.tensor([[0, 1, 2], [1, 0, 0]])
X = torch.tensor([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0]])


def _identity(op, *names):
    with torch.no_grad():
        for p in op.parameters():
            p.zero_()
        for name in names:
            w = dict(op.named_parameters())[name]
            w.copy_(torch.eye(2).reshape(w.shape))
    return op


def test_ops_match_the_registry_vocabulary():
    assert GNN_OPS == NBGRAPH_OPS
    assert isinstance(graph_op("skip", 3, 8), Skip) and isinstance(graph_op("fc", 3, 8), FC)
    with pytest.raises(ValueError, match="unknown NAS-Bench-Graph op 'mlp'"):
        graph_op("mlp", 3, 8)


def test_gcn_by_hand():
    # self loops added: in-degrees (targets) 0: 3, 1: 2, 2: 1; out_0 = x0/3 + x1/sqrt(3*2) + x2/sqrt(3*1)
    out = _identity(GCN(2, 2), "weight")(X, EDGES)
    d = torch.tensor([3.0, 2.0, 1.0])
    expect0 = X[0] / 3 + X[1] / (d[0] * d[1]).sqrt() + X[2] / (d[0] * d[2]).sqrt()
    expect1 = X[1] / 2 + X[0] / (d[1] * d[0]).sqrt()
    torch.testing.assert_close(out, torch.stack([expect0, expect1, X[2]]))


def test_gat_with_zero_attention_averages_the_neighbourhood():
    op = _identity(GAT(2, 4, heads=2), )
    with torch.no_grad():
        op.weight.copy_(torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]))  # both heads see x
    out = op(X, EDGES)
    mean0 = (X[0] + X[1] + X[2]) / 3
    torch.testing.assert_close(out, torch.stack([torch.cat([mean0, mean0]), torch.cat([(X[0] + X[1]) / 2] * 2), torch.cat([X[2]] * 2)]))


def test_sum_and_mean_aggregators_by_hand():
    gin = _identity(GIN(2, 2), "lin.weight")
    torch.testing.assert_close(gin(X, EDGES), torch.stack([X[0] + X[1] + X[2], X[1] + X[0], X[2]]))
    sage = _identity(SAGE(2, 2), "lin_l.weight")
    torch.testing.assert_close(sage(X, EDGES), torch.stack([(X[1] + X[2]) / 2, X[0], torch.zeros(2)]))
    kgnn = _identity(KGNN(2, 2), "lin_rel.weight", "lin_root.weight")
    torch.testing.assert_close(kgnn(X, EDGES), torch.stack([X[0] + X[1] + X[2], X[1] + X[0], X[2]]))


def test_cheb_and_arma_by_hand():
    # Cheb: degrees at the sources 0: 1, 1: 1, 2: 1; T1 x_0 = -(x1 + x2), T1 x_1 = -x0
    cheb = _identity(Cheb(2, 2), "lins.1.weight")
    torch.testing.assert_close(cheb(X, EDGES), torch.stack([-(X[1] + X[2]), -X[0], torch.zeros(2)]))
    # ARMA: in-degrees 0: 2, 1: 1, 2: 0; edge weights deg(src)^-1/2 deg(dst)^-1/2, where deg 0 gives weight 0 (as PyG):
    # out_0 = relu(x1 / sqrt(1 * 2) + 0 * x2), out_1 = relu(x0 / sqrt(2 * 1)), out_2 = relu(0)
    arma = _identity(ARMA(2, 2), "init_weight")
    out = arma(-X, EDGES)
    torch.testing.assert_close(out, torch.relu(torch.stack([-X[1] / 2 ** 0.5, -X[0] / 2 ** 0.5, torch.zeros(2)])))
    assert arma.weight.grad is None and sum(p.numel() for p in arma.parameters()) == 2 * 2 + 2 * 2 + 2 * 2 + 2


def test_against_pytorch_geometric():
    pyg = pytest.importorskip("torch_geometric.nn")
    torch.manual_seed(0)
    ei = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 0, 6, 2], [1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 6, 5, 6, 0, 2]])  # one self loop
    x = torch.randn(7, 5)
    pairs = {
        "gcn": (GCN(5, 8), pyg.GCNConv(5, 8), {"lin.weight": "weight.T", "bias": "bias"}),
        "gat": (GAT(5, 8), pyg.GATConv(5, 2, 4), {"lin.weight": "weight.T", "att_src": "att_src", "att_dst": "att_dst", "bias": "bias"}),
        "gin": (GIN(5, 8), pyg.GINConv(torch.nn.Linear(5, 8)), {"nn.weight": "lin.weight", "nn.bias": "lin.bias"}),
        "cheb": (Cheb(5, 8), pyg.ChebConv(5, 8, K=2), {"lins.0.weight": "lins.0.weight", "lins.1.weight": "lins.1.weight", "bias": "bias"}),
        "sage": (SAGE(5, 8), pyg.SAGEConv(5, 8), {"lin_l.weight": "lin_l.weight", "lin_l.bias": "lin_l.bias", "lin_r.weight": "lin_r.weight"}),
        "arma": (ARMA(5, 8), pyg.ARMAConv(5, 8), {"init_weight": "init_weight", "root_weight": "root_weight", "bias": "bias"}),
        "graph": (KGNN(5, 8), pyg.GraphConv(5, 8),
                  {"lin_rel.weight": "lin_rel.weight", "lin_rel.bias": "lin_rel.bias", "lin_root.weight": "lin_root.weight"}),
    }
    for name, (ours, ref, mapping) in pairs.items():
        with torch.no_grad():
            for p in ours.parameters():
                p.normal_()
            theirs = dict(ref.named_parameters())
            mine = dict(ours.named_parameters())
            for dst, src in mapping.items():
                value = mine[src[:-2]].T if src.endswith(".T") else mine[src]
                theirs[dst].copy_(value.reshape(theirs[dst].shape))
        torch.testing.assert_close(ours(x, ei), ref(x, ei), msg=name)
        assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters()), name


def test_built_networks_match_recorded_params_on_cora():
    nbg = pytest.importorskip("nas_bench_graph")
    bench = nbg.light_read("cora")
    space = get_space("nbgraph", edge_index=[[0, 1], [1, 0]], num_features=1433)  # sizes do not depend on the graph
    hashes = list(bench)
    rng = np.random.default_rng(0)
    for i in rng.choice(len(hashes), 100, replace=False):
        arch = space.decode_hash(hashes[i])
        count = sum(p.numel() for p in space.build(arch, num_classes=7).parameters())
        assert count == round(bench[hashes[i]]["para"] * 1e6), space.to_string(arch)


def test_network_forward_and_skip_of_raw_features():
    space = get_space("nbgraph", edge_index=EDGES, num_features=2, hidden=8)
    # node 1 = skip of the input: node 2's fc reads the raw 2 features, no BatchNorm on them
    model = space.build(space.from_string("0,1,0,0:skip,fc,gcn,gat"), num_classes=3)
    assert model.raw == [True, True, False, False, False] and model.ops[1].in_features == 2
    assert model.leaves == [2, 3, 4] and model.fc.in_features == 3 * 8
    model.eval()
    assert model(X).shape == (3, 3)
    with pytest.raises(ValueError, match="node features must have shape"):
        model(X[None])


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"edge_index must have shape \(2, E\)"):
        check_edge_index([[0, 1, 2]])
    with pytest.raises(ValueError, match="refers to node 5 but the graph has 3 nodes"):
        check_edge_index([[0, 5], [1, 0]], num_nodes=3)
    with pytest.raises(ValueError, match="integer node ids"):
        check_edge_index(torch.zeros(2, 3))
    space = get_space("nbgraph")
    with pytest.raises(NotImplementedError, match="get_space\\('nbgraph', edge_index=..., num_features=...\\)"):
        space.build(space.sample(1)[0])
    with pytest.raises(ValueError, match="pass edge_index and num_features together"):
        get_space("nbgraph", edge_index=EDGES)
    with pytest.raises(ValueError, match="multiple of 4"):
        get_space("nbgraph", edge_index=EDGES, num_features=2, hidden=6)
    model = get_space("nbgraph", edge_index=EDGES, num_features=2, hidden=8).build(space.sample(1)[0])
    with pytest.raises(ValueError, match="refers to node 2 but the features have 2 rows"):
        model(X[:2])
