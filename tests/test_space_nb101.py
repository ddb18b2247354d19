"""NAS-Bench-101 space: specs, NASLib keys, pruning, hash, channel rules and the network."""

import numpy as np
import pytest
import torch

from archscore.spaces.nb101 import NB101Space, nb101_hash, vertex_channels

# input -> 1 (conv3x3) -> output, input -> 2 (maxpool) -> output, input -> output
M3 = [[0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
OPS3 = ["input", "conv3x3-bn-relu", "maxpool3x3", "output"]


def naslib_key(matrix, codes):
    return str(tuple(int(v) for v in [*np.ravel(matrix), *codes]))


def test_vertex_channels_split_and_backpropagate():
    # three vertices feed the output: 128 = 43 + 43 + 42; vertex 1 only feeds vertex 2 and takes its width
    m = np.zeros((6, 6), dtype=int)
    m[0, 1] = m[1, 2] = m[2, 5] = m[0, 3] = m[3, 5] = m[0, 4] = m[4, 5] = 1
    assert vertex_channels(64, 128, m) == [64, 43, 43, 43, 42, 128]
    assert vertex_channels(16, 32, np.array([[0, 1], [0, 0]])) == [16, 32]


def test_tiny_network_parameter_count_by_hand():
    space = NB101Space(stem_channels=4, num_stacks=1, cells_per_stack=1)
    arch = space.from_spec([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv3x3-bn-relu", "output"])
    net = space.build(arch)
    # stem 3*9*4 + BN 8; projection 1x1 4*4 + 8; conv3x3 4*4*9 + 8; linear 4*10 + 10
    assert sum(p.numel() for p in net.parameters()) == 116 + 24 + 152 + 50
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 10)


def test_naslib_init_draws_and_torch_init_differs():
    arch = NB101Space().from_spec([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv3x3-bn-relu", "output"])
    torch.manual_seed(0)
    net = NB101Space(stem_channels=64, num_stacks=1, cells_per_stack=1).build(arch)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    # stem 3x3 (3 -> 64), vertex conv3x3 and projection 1x1 (64 -> 64): std sqrt(2 / (k*k*C_out))
    assert [c.kernel_size[0] for c in convs] == [3, 3, 1]
    for conv in convs:
        k = conv.kernel_size[0]
        assert conv.weight.std().item() == pytest.approx((2 / (k * k * 64)) ** 0.5, rel=0.1)
        assert conv.weight.mean().abs().item() < 0.2 * (2 / (k * k * 64)) ** 0.5
    assert net.classifier.weight.std().item() == pytest.approx(0.01, rel=0.15)
    assert torch.count_nonzero(net.classifier.bias).item() == 0
    # same seed, same weights; PyTorch's default differs (uniform, bias != 0) and draws nothing extra
    torch.manual_seed(0)
    again = NB101Space(stem_channels=64, num_stacks=1, cells_per_stack=1).build(arch)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    torch.manual_seed(0)
    plain = NB101Space(stem_channels=64, num_stacks=1, cells_per_stack=1, init="torch").build(arch)
    assert torch.count_nonzero(plain.classifier.bias).item() > 0
    assert plain.layers[0][0].weight.abs().max().item() <= (1 / 27) ** 0.5  # kaiming-uniform(a=sqrt 5) bound 1/sqrt(fan_in)
    with pytest.raises(ValueError, match="init"):
        NB101Space(init="xavier")


def test_projection_truncation_and_downsampling_forward():
    space = NB101Space(stem_channels=6, num_stacks=2, cells_per_stack=1)
    # vertex 1 (width 3) feeds vertex 2 (width 3) and the output; input feeds output directly (projection added)
    m = [[0, 1, 0, 1], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    net = space.build(space.from_spec(m, ["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "output"]), num_classes=3)
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 3)
    assert net.classifier.in_features == 12  # 6 channels doubled once


def test_naslib_key_and_own_string_round_trip():
    space = NB101Space()
    key = naslib_key(M3, [0, 4, 2, 1])
    arch = space.from_string(key)
    assert space.to_naslib(arch) == key
    assert space.from_string(space.to_string(arch)) == arch
    assert space.to_string(arch) == "0111,0001,0001,0000|input,conv3x3-bn-relu,maxpool3x3,output"


def test_dead_vertex_is_kept_but_pruned_for_hash_and_build():
    space = NB101Space()
    m = np.zeros((5, 5), dtype=int)
    m[0, 1] = m[1, 4] = m[0, 2] = m[2, 3] = 1  # vertices 2 -> 3 never reach the output
    arch = space.from_string(naslib_key(m, [0, 4, 3, 3, 1]))
    assert arch.graph.number_of_nodes() == 5
    pruned = space.prune(arch)
    assert space.to_string(pruned) == "010,001,000|input,conv3x3-bn-relu,output"
    assert space.hash(arch) == space.hash(pruned)


def test_hash_is_isomorphism_invariant():
    m_a = [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    a = nb101_hash(np.array(m_a), ["input", "conv3x3-bn-relu", "conv1x1-bn-relu", "output"])
    b = nb101_hash(np.array(m_a), ["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "output"])  # vertices swapped
    c = nb101_hash(np.array(m_a), ["input", "conv1x1-bn-relu", "conv1x1-bn-relu", "output"])
    assert a == b != c
    assert len(a) == 32


def test_sample_and_mutate_stay_valid():
    space = NB101Space()
    archs = space.sample(5, seed=1)
    assert len({space.hash(a) for a in archs}) == 5
    child = space.mutate(archs[0], rng=0)
    assert space.hash(child) != space.hash(archs[0])
    assert space.sample(3, seed=7) == space.sample(3, seed=7)


@pytest.mark.parametrize("key, msg", [
    (naslib_key(np.triu(np.ones((8, 8), dtype=int), 1), [0] + [4] * 6 + [1]), "at most 7"),
    (naslib_key(np.triu(np.ones((6, 6), dtype=int), 1), [0, 4, 4, 4, 4, 1]), "15 edges after pruning"),
    (naslib_key([[0, 1, 0], [0, 0, 1], [1, 0, 0]], [0, 4, 1]), "strictly upper-triangular.*2->0"),
    (naslib_key([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [0, 5, 1]), "op code 5 out of range"),
    (naslib_key([[0, 1, 0], [0, 0, 0], [0, 0, 0]], [0, 4, 1]), "no path from the input"),
    ("(0, 1, 0, 0, 4)", "has 5 numbers"),
    ("(0, 1, x)", "malformed NB101 key"),
    ("01,0|input,output", "2 rows that are not all 2 bits"),
    ("01,00|input,conv5x5,output", "2x2 matrix but 3 ops"),
    ("011,001,000|input,conv5x5,output", "unknown NB101 op"),
])
def test_bad_keys_name_value_and_form(key, msg):
    with pytest.raises(ValueError, match=msg):
        NB101Space().from_string(key)
