"""TransNAS-Bench-101 micro and macro spaces."""

import pytest
import torch

from archscore.spaces.tnb101 import TNB101MacroSpace, TNB101MicroSpace


def n_params(net):
    return sum(p.numel() for p in net.parameters())


def test_micro_key_and_string_round_trip():
    space = TNB101MicroSpace()
    arch = space.from_string("(1, 0, 0, 2, 1, 3)")
    assert space.to_string(arch) == "64-41414-1_00_213"
    assert space.to_naslib(arch) == "(1, 0, 0, 2, 1, 3)"
    assert space.from_string("64-41414-1_00_213") == arch
    assert arch.ops[1:-1] == ("skip_connect", "none", "none", "nor_conv_1x1", "skip_connect", "nor_conv_3x3")


def test_macro_key_and_string_round_trip():
    space = TNB101MacroSpace()
    arch = space.from_string("(1, 2, 4, 2, 0, 0)")
    assert space.to_string(arch) == "64-1242-basic"
    assert space.to_naslib(arch) == "(1, 2, 4, 2, 0, 0)"
    assert len(space._all_codes()) == 3256  # the benchmark's macro space size


def test_micro_network_parameters_by_hand():
    # width 4, skeleton 41414 ('4' = stride 2 + double channels), every edge a 1x1 ReLU-conv-BN (code 2).
    # A cell c_in -> c_out: 3 edges from the cell input (c_in*c_out + 2 c_out), 3 inner edges (c_out^2 + 2 c_out).
    def cell(c_in, c_out):
        return 3 * (c_in * c_out + 2 * c_out) + 3 * (c_out * c_out + 2 * c_out)

    layers = (cell(4, 8) + cell(8, 8)) + 2 * cell(8, 8) + (cell(8, 16) + cell(16, 16)) + 2 * cell(16, 16) \
        + (cell(16, 32) + cell(32, 32))
    stem = 3 * 9 * 2 + 4 + 2 * 9 * 4 + 8  # conv 3->2 stride 2 + BN, ReLU-conv 2->4 stride 2 + BN
    space = TNB101MicroSpace(base_channels=4)
    net = space.build(space.from_string("(2, 2, 2, 2, 2, 2)"), num_classes=3)
    assert layers == 19872
    assert n_params(net) == stem + layers + 32 * 3 + 3


@pytest.mark.parametrize("task, shape, n_out", [("class_scene", (2, 3, 32, 32), 63), ("room_layout", (2, 3, 32, 32), 9),
                                                ("jigsaw", (2, 9, 3, 16, 16), 1000)])
def test_heads_forward(task, shape, n_out):
    space = TNB101MacroSpace(base_channels=4)
    net = space.build(space.from_string("64-1234-basic"), task=task)
    assert net(torch.randn(*shape)).shape == (2, n_out)


def test_micro_forward_with_zero_and_downsampling_edges():
    space = TNB101MicroSpace(base_channels=4, task="class_object")
    net = space.build(space.from_string("(0, 1, 3, 0, 2, 1)"))
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 100)


def test_unsupported_task_and_sampling():
    space = TNB101MacroSpace()
    with pytest.raises(ValueError, match="dense-prediction decoder"):
        space.build(space.sample(1)[0], task="segmentsemantic")
    with pytest.raises(ValueError, match="unknown TransNAS-Bench-101 task 'cifar'"):
        space.build(space.sample(1)[0], task="cifar")
    child = space.mutate(space.from_string("64-1234-basic"), rng=0)
    assert space.to_string(child) != "64-1234-basic"
    assert len(set(TNB101MicroSpace().sample(10, seed=0))) == 10


@pytest.mark.parametrize("space, bad, msg", [
    (TNB101MicroSpace(), "(1, 0, 4, 2, 1, 0)", "op code 4 is out of range 0..3"),
    (TNB101MicroSpace(), "(1, 0, 2, 1, 0)", "has 6 op codes, got 5"),
    (TNB101MicroSpace(), "64-4141-1_00_213", "skeleton '4141'"),
    (TNB101MacroSpace(), "(1, 0, 2, 4, 2, 0)", "0 \\(no module\\) before a module"),
    (TNB101MacroSpace(), "(1, 1, 1, 1, 0, 0)", "0 downsampling and 0 widening"),
    (TNB101MacroSpace(), "(1, 2, 5, 2, 0, 0)", "module code 5 is out of range"),
    (TNB101MacroSpace(), "(1, 2, 4)", "has 3 codes"),
])
def test_bad_keys(space, bad, msg):
    with pytest.raises(ValueError, match=msg):
        space.from_string(bad)
