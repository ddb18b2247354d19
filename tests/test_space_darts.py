"""DARTS / NAS-Bench-301 space: genotype strings, NASLib compact keys, networks."""

import pytest
import torch

from archscore.spaces.darts import DartsSpace, NB301Space

DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
            "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
            "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")
KEY = "[[(0, 5), (1, 0), (2, 1), (0, 2), (3, 2), (0, 3), (1, 0), (3, 5)], [(1, 1), (0, 2), (0, 5), (1, 0), (0, 6), (2, 2), (4, 6), (0, 0)]]"


def test_darts_v2_evaluation_network_has_the_published_parameter_count():
    # DARTS's train.py logs "param size = 3.349342MB" for DARTS_V2 (C=36, 20 cells, no auxiliary head)
    space = DartsSpace()
    net = space.build(space.from_string(DARTS_V2))
    assert sum(p.numel() for p in net.parameters()) == 3_349_342


def test_genotype_and_compact_round_trip():
    space = NB301Space()
    arch = space.from_string(KEY)
    assert space.to_compact(arch) == KEY
    assert space.genotype(arch)["normal"][:3] == [("dil_conv_3x3", 0), ("max_pool_3x3", 1), ("avg_pool_3x3", 2)]
    assert space.from_string(space.to_string(arch)) == arch
    assert DartsSpace().to_string(DartsSpace().from_string(DARTS_V2)) == DARTS_V2


def test_graph_wiring_of_intermediate_states():
    arch = NB301Space().from_string(KEY)
    g = arch.graph
    assert sorted(g.predecessors("n2")) == ["n0", "n1"]  # pair 2 reads state 2 = ops 0 + 1
    assert list(g.predecessors("n0")) == ["n_in0"]
    assert sorted(g.predecessors("output")) == ["n_out", "r_out"]


def test_tiny_network_forward_and_nb301_defaults():
    space = DartsSpace(C=4, layers=3)
    net = space.build(space.sample(1, seed=0)[0], num_classes=5)
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 5)
    nb301 = NB301Space()
    assert (nb301.C, nb301.layers, nb301.affine, nb301.pool_bn) == (32, 8, False, True)
    net = NB301Space(C=4, layers=3).build(NB301Space().from_string(KEY))
    pool = net.cells[0].edges[1]  # normal pair 1 is max_pool_3x3: followed by a non-affine BN, as in NASLib
    assert isinstance(pool[0], torch.nn.MaxPool2d) and isinstance(pool[1], torch.nn.BatchNorm2d) and not pool[1].affine
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_sample_and_mutate():
    space = DartsSpace()
    a, b = space.sample(2, seed=3)
    assert a != b and space.sample(2, seed=3) == [a, b]
    child = space.mutate(a, rng=1)
    diff = sum(x != y for c in ("normal", "reduce") for x, y in zip(space.genotype(a)[c], space.genotype(child)[c]))
    assert diff == 1


@pytest.mark.parametrize("bad, msg", [
    (KEY.replace("(3, 2), (0, 3)", "(4, 2), (0, 3)"), "input must be in 0..3.*got 4"),
    (KEY.replace("(1, 0), (3, 5)]", "(1, 7), (3, 5)]"), "op code 7 .* out of range 0..6"),
    (KEY.replace("(1, 0), (3, 5)]", "(3, 5)]"), "has 7 pairs"),
    ("[[(0, 1)]]", "does not hold two cells"),
    ("hello", "malformed DARTS key"),
    (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3]"), "must be \\[2, 3, 4, 5\\]"),
    (DARTS_V2.replace("'sep_conv_3x3', 0", "'conv_7x7', 0", 1), "unknown DARTS op 'conv_7x7'"),
])
def test_bad_keys(bad, msg):
    with pytest.raises(ValueError, match=msg):
        NB301Space().from_string(bad)
