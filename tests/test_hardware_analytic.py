"""Analytic hardware costs against hand-computed tiny cases."""

import numpy as np
import pytest
import torch
from torch import nn

import archscore.hardware as hw
from archscore import create_estimator
from archscore.spaces import get_space


def two_conv():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, padding=1))


def test_params_and_macs_of_two_convs():
    m = two_conv()
    assert hw.count_params(m) == (3 * 4 * 9 + 4) + (4 * 8 * 9 + 8)  # 408
    # conv1: 4x8x8 outputs x (3x3x3) MACs; conv2: 8x8x8 outputs x (4x3x3)
    assert hw.count_macs(m, (1, 3, 8, 8)) == 256 * 27 + 512 * 36 == 25344
    assert hw.count_macs(m, (2, 3, 8, 8)) == 2 * 25344
    # linear, grouped conv and transposed conv rules
    assert hw.count_macs(nn.Linear(5, 7), (3, 5)) == 3 * 7 * 5
    assert hw.count_macs(nn.Conv2d(4, 8, 3, padding=1, groups=2), (1, 4, 5, 5)) == 8 * 25 * 2 * 9
    assert hw.count_macs(nn.ConvTranspose2d(2, 3, 2, stride=2), (1, 2, 4, 4)) == 2 * 16 * 3 * 4


def test_peak_memory_two_convs_exact_bytes():
    m = two_conv()
    x, a, r, y = 3 * 64 * 4, 4 * 64 * 4, 4 * 64 * 4, 8 * 64 * 4  # input, conv1, relu, conv2 outputs (float32)
    # inference: Sequential drops conv1's output after the ReLU, so conv2 runs with input + relu + out alive
    assert hw.peak_memory(m, (1, 3, 8, 8)) == max(x + a + r, x + r + y) == 3840
    # training: forward keeps the input, the ReLU result (saved twice, stored once) and the output; loss (4 B);
    # backward: ones grad (4 B), conv2 grads (input 1024, weight 4*8*9*4, bias 8*4), then relu grad (1024)
    conv2_grads = r + 4 * 8 * 9 * 4 + 8 * 4
    assert hw.peak_memory(m, (1, 3, 8, 8), mode="training") == x + r + y + 4 + 4 + conv2_grads + r == 7080
    assert hw.peak_memory(m, (1, 3, 8, 8), dtype=torch.float16) == 3840 // 2
    # MCUNet SRAM: conv2 holds its input (4x8x8) and output (8x8x8), int8
    assert hw.peak_sram(m, (1, 3, 8, 8)) == 4 * 64 + 8 * 64 == 768
    assert hw.peak_sram(m, (1, 3, 8, 8), bytes_per_element=4) == 3072


def test_in_place_and_identity_are_not_double_counted():
    m = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU(inplace=True), nn.Identity())
    # input 1x4x4 + conv out 2x4x4, float32; the in-place ReLU and identity add nothing
    assert hw.peak_memory(m, (1, 1, 4, 4)) == (16 + 32) * 4
    assert hw.peak_sram(m, (1, 1, 4, 4)) == 16 + 32


def test_caller_model_untouched_and_bad_input():
    m = two_conv()
    before = [p.detach().clone() for p in m.parameters()]
    hw.peak_memory(m, (1, 3, 8, 8), mode="training")
    assert all(p.device.type == "cpu" and p.grad is None and torch.equal(p, b) for p, b in zip(m.parameters(), before))
    with pytest.raises(ValueError, match="batch dimension first"):
        hw.count_macs(m, (1, 3, -8, 8))
    with pytest.raises(ValueError, match="mode must be one of inference, training"):
        hw.peak_memory(m, (1, 3, 8, 8), mode="train")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        hw.count_params("net")


def test_nb201_estimators():
    space = get_space("nb201")
    skip = space.from_ops(["skip_connect"] * 6)
    conv3 = space.from_ops(["nor_conv_3x3"] * 6)
    macs = create_estimator("hw:macs")
    # all-skip cell: only stem, two reduction blocks and the classifier have MACs (C=16, 32x32 input)
    stem = 16 * 1024 * 27
    red = 32 * 256 * (16 * 9 + 32 * 9 + 16)  # also = 64*64*(32*9 + 64*9 + 32)
    assert macs.predict([skip])[0] == stem + 2 * red + 64 * 10 == 7783040
    small = {"space_options": {"C": 4, "N": 1}}
    net = get_space("nb201", C=4, N=1).build(conv3)
    counter = torch.utils.flop_counter.FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net.eval()(torch.zeros(1, 3, 32, 32))
    assert macs.set_params(**small).predict([conv3])[0] == counter.get_total_flops() / 2
    tags = macs.get_tags()
    assert (tags.family, tags.output.units, tags.output.higher_is_better) == ("hardware", "MACs", False)
    params = create_estimator("hw:params", **small).predict([skip, conv3])
    assert params[1] - params[0] == 6 * (4 * 4 * 9 + 2 * 4) + 6 * (8 * 8 * 9 + 2 * 8) + 6 * (16 * 16 * 9 + 2 * 16)
    mem = create_estimator("hw:peak_memory", **small)
    inf, train = mem.predict([conv3]), mem.set_params(mode="training").predict([conv3])
    assert train[0] > inf[0] > 0
    assert create_estimator("hw:peak_memory").get_tags().output.units == "bytes"
    # MCU SRAM of any NB201 net: the largest layers hold Cx32x32 in + Cx32x32 out (int8): the stem's BN,
    # the first stage's ReLUs/BNs (the all-skip cell's identities add no buffer)
    assert create_estimator("hw:peak_sram", **small).predict([skip, conv3]).tolist() == [2 * 4 * 1024] * 2
