
import pytest
import torch

from archscore import get_space, list_spaces
from archscore.spaces.nb201 import NB201_EDGES
from archscore.testing import TEST_SPACE

ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


def hand_param_count(ops, C=16, N=5, num_classes=10):
    """Parameters of the NB201 network, derived by hand from its layer list."""
    per_op = {"nor_conv_3x3": lambda c: 9 * c * c + 2 * c, "nor_conv_1x1": lambda c: c * c + 2 * c}
    cell = lambda c: sum(per_op.get(op, lambda c: 0)(c) for op in ops)  # noqa: E731
    # reduction block c -> 2c: 3x3 conv stride 2 + BN, 3x3 conv + BN, 1x1 shortcut conv (no BN)
    reduction = lambda c: 9 * c * 2 * c + 2 * 2 * c + 9 * (2 * c) ** 2 + 2 * 2 * c + c * 2 * c  # noqa: E731
    stem = 3 * C * 9 + 2 * C
    body = N * (cell(C) + cell(2 * C) + cell(4 * C)) + reduction(C) + reduction(2 * C)
    head = 2 * 4 * C + 4 * C * num_classes + num_classes
    return stem + body + head


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_all_conv3x3_matches_benchmark(space):
    model = space.build(space.from_string(ALL_CONV3))
    assert n_params(model) == hand_param_count(["nor_conv_3x3"] * 6) == 1_531_546  # the benchmark's 1.53 M


@pytest.mark.parametrize(
    "ops",
    [
        ["none"] * 6,
        ["skip_connect", "nor_conv_1x1", "avg_pool_3x3", "none", "nor_conv_3x3", "skip_connect"],
        ["nor_conv_1x1"] * 6,
        ["avg_pool_3x3", "nor_conv_3x3", "none", "nor_conv_1x1", "nor_conv_1x1", "none"],
    ],
)
def test_param_counts_by_hand(space, ops):
    assert n_params(space.build(space.from_ops(ops))) == hand_param_count(ops)
    assert n_params(space.build(space.from_ops(ops), num_classes=100)) == hand_param_count(ops, num_classes=100)


def test_narrow_space_and_forward_shape():
    small = TEST_SPACE
    ops = ["nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "none", "nor_conv_3x3"]
    model = small.build(small.from_ops(ops), num_classes=7)
    assert (small.C, small.N) == (4, 1)
    assert n_params(model) == hand_param_count(ops, C=4, N=1, num_classes=7)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)


def test_enumerate_covers_space_once_and_round_trips(space):
    strings = [space.to_string(a) for a in space.enumerate()]
    assert len(strings) == len(set(strings)) == 5**6 == len(space)
    # string -> Arch -> string for every cell, and index order documented
    assert all(space.to_string(space.from_string(s)) == s for s in strings)
    assert space.from_index(7) == list(space.enumerate())[7]
    assert space.cell_ops(space.from_index(1)) == ["none"] * 5 + ["skip_connect"]


def test_unique_topology_counts(space):
    archs = list(space.enumerate())
    assert len({space.benchmark_unique_str(a) for a in archs}) == 6466  # the paper's count, its rule
    assert len({a.key for a in archs}) == 4930  # functional equivalence (zero terms dropped, sums flattened)
    assert sum(not a.is_connected() for a in archs) == 341


def test_graph_has_ops_on_nodes(space):
    arch = space.from_string(ALL_CONV3)
    g = arch.graph
    assert g.number_of_nodes() == 8 and arch.space == "nb201"
    assert g.nodes[0]["op"] == "input" and g.nodes[7]["op"] == "output"
    # edge 1->2 (op node 3) reads node 1, the output of edge 0->1 (op node 1)
    assert list(g.predecessors(3)) == [1]
    assert sorted(g.predecessors(7)) == [4, 5, 6]
    assert [g.nodes[i]["edge"] for i in range(1, 7)] == list(NB201_EDGES)


def test_sample_is_seeded_and_distinct(space):
    a = space.sample(50, seed=3)
    assert a == space.sample(50, seed=3)
    assert a != space.sample(50, seed=4)
    assert len(set(a)) == 50
    with pytest.raises(ValueError, match="cannot sample"):
        space.sample(20000)


@pytest.mark.parametrize(
    "bad, msg",
    [
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|", "expected 3"),
        ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown NB201 op 'conv_5x5'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "source 1, expected 0"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "expected 2"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "malformed edge"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "must start and end"),
        # a leading zero and a full-width digit: int() would read both as 1
        ("|none~0|+|none~0|none~01|+|none~0|none~1|none~2|", "malformed edge 'none~01'.*without leading zeros"),
        ("|none~0|+|none~0|none~\uff11|+|none~0|none~1|none~2|", "malformed edge.*ASCII integer"),
    ],
)
def test_malformed_strings(space, bad, msg):
    with pytest.raises(ValueError, match=msg):
        space.from_string(bad)


def test_close_match_suggestion(space):
    with pytest.raises(ValueError, match="did you mean 'nor_conv_3x3'"):
        space.from_ops(["nor_conv_3x33"] + ["none"] * 5)


def test_bad_build_and_space_names(space):
    arch = space.from_string(ALL_CONV3)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="num_classes"):
            space.build(arch, num_classes=bad)
    with pytest.raises(KeyError, match="did you mean 'nb201'"):
        get_space("nb210")
    with pytest.raises(ValueError, match="positive integer"):
        get_space("nb201", C=0)
    assert {"nb201", "nbgraph"} <= set(list_spaces())


def test_arch_from_other_space_rejected(space):
    other = get_space("nbgraph").from_string("0,0,1,2:gcn,gat,sage,skip")
    with pytest.raises(ValueError, match="space 'nbgraph', not 'nb201'"):
        space.to_string(other)


def test_is_connected(space):
    assert not space.is_connected(space.from_ops(["nor_conv_3x3"] * 3 + ["none"] * 3))
    assert space.is_connected(space.from_ops(["none"] * 3 + ["skip_connect"] + ["none"] * 2))  # edge 0->3
