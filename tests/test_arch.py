import networkx as nx
import pickle
import pytest

from archscore import Arch


def chain(*ops):
    """input -> ops... -> output as a linear chain."""
    names = ["input", *ops, "output"]
    return Arch.from_ops_and_edges(names, [(i, i + 1) for i in range(len(names) - 1)], space="toy")


def test_arch_is_frozen_and_copies_graph():
    g = nx.DiGraph()
    g.add_node("a", op="input")
    g.add_node("b", op="conv")
    g.add_node("c", op="output")
    g.add_edges_from([("a", "b"), ("b", "c")])
    arch = Arch(g, "toy")
    g.nodes["b"]["op"] = "pool"  # caller's graph changes afterwards
    assert arch.graph.nodes["b"]["op"] == "conv"
    with pytest.raises(nx.NetworkXError):
        arch.graph.add_node("d", op="conv")


@pytest.mark.parametrize(
    "ops, edges, msg",
    [
        (["input", "conv"], [(0, 1)], "exactly one node with op 'output'"),
        (["input", "input", "output"], [(0, 2), (1, 2)], "exactly one node with op 'input'"),
        (["input", "conv", "output"], [(0, 1), (1, 2), (2, 1)], "acyclic"),
        (["input", "", "output"], [(0, 1), (1, 2)], "string 'op'"),
    ],
)
def test_invalid_graphs_raise_clear_errors(ops, edges, msg):
    with pytest.raises(ValueError, match=msg):
        Arch.from_ops_and_edges(ops, edges, space="toy")


def test_key_identifies_isomorphic_cells_and_zero_branches():
    # Two parallel branches in either order compute the same function.
    a = Arch.from_ops_and_edges(["input", "conv", "pool", "output"], [(0, 1), (0, 2), (1, 3), (2, 3)], "toy")
    b = Arch.from_ops_and_edges(["input", "pool", "conv", "output"], [(0, 1), (0, 2), (1, 3), (2, 3)], "toy")
    assert a != b and a.key == b.key == "conv(x)+pool(x)"
    # A zero branch adds nothing; identity passes its input through.
    c = Arch.from_ops_and_edges(["input", "conv", "none", "output"], [(0, 1), (0, 2), (1, 3), (2, 3)], "toy")
    assert c.key == chain("conv").key == "conv(x)"
    assert chain("skip_connect", "conv").key == "conv(x)"
    assert chain("conv", "conv").key == "conv(conv(x))"


def test_disconnected_cell_has_zero_key():
    arch = chain("conv", "none", "conv")
    assert arch.key == "0"
    assert not arch.is_connected()
    assert chain("conv").is_connected()


def test_equality_hash_and_pickle():
    a, b = chain("conv", "pool"), chain("conv", "pool")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != chain("pool", "conv")
    assert pickle.loads(pickle.dumps(a)) == a
