"""AZ-NAS's expressivity, progressivity and trainability: hand-computed tiny cases, stage discovery, sharing, errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from archscore import proxies as P
from archscore.proxies.az_nas import (AZ_NAS_PROXIES, IDENTITY_STAGE_SCORE, feature_stages, kaiming_fan_in_init,
                                      spectral_entropy, stage_trainability)

AZ = ["az_expressivity", "az_progressivity", "az_trainability"]


def _two_channel_features() -> torch.Tensor:
    """(2, 2, 2, 2): channel 0 = [1, -1, 1, -1], channel 1 = [1, 1, -1, -1] on both samples: centred, orthogonal, equal variance."""
    one = torch.tensor([[[1.0, -1.0], [1.0, -1.0]], [[1.0, 1.0], [-1.0, -1.0]]])
    return torch.stack([one, one])


# ------------------------------------------------------------ the maths
def test_spectral_entropy_of_isotropic_rank_one_and_constant_features():
    f = _two_channel_features()
    assert spectral_entropy(f) == pytest.approx(math.log(2), abs=1e-7)  # covariance = I: p = (1/2, 1/2)
    rank_one = torch.cat([f[:, :1], 2 * f[:, :1]], dim=1)  # covariance eigenvalues (0, 5): p = (0, 1)
    assert spectral_entropy(rank_one) == pytest.approx(0.0, abs=1e-7)
    unequal = torch.cat([f[:, :1], 2 * f[:, 1:]], dim=1)  # eigenvalues (1, 4): p = (0.2, 0.8)
    assert spectral_entropy(unequal) == pytest.approx(-(0.2 * math.log(0.2) + 0.8 * math.log(0.8)), abs=1e-7)
    assert spectral_entropy(torch.ones(2, 3, 2, 2)) == 0.0  # no spectrum: 0, not NaN


def test_stage_trainability_scaling_identity_pooling_and_unrelated():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 4, 4, requires_grad=True)
    # f_out = 2 f_in, one channel: g_in = 2 g_out, so the 1x1 matrix is mean(2 g^2) = 2 and the term is -2 - 1/2 + 2
    assert stage_trainability(x, 2 * x) == pytest.approx(-0.5, abs=1e-5)
    assert stage_trainability(x, x.clone()) == IDENTITY_STAGE_SCORE  # the gradient passes unchanged
    # 2x2 average pooling: g_in = g_out / 4 on each 2x2 block; unshuffled, the 4x1 matrix is (1/4, 1/4, 1/4, 1/4): s = 1/2
    assert stage_trainability(x, F.avg_pool2d(x, 2)) == pytest.approx(-0.5 - 2.0 + 2.0, abs=1e-5)
    other = torch.randn(2, 1, 4, 4, requires_grad=True)
    assert stage_trainability(x, 3 * other) is None  # f_out does not depend on f_in


# ------------------------------------------------------------ the proxies on a model
class _Split(nn.Module):
    """Stage 1: channel 0 and twice channel 0 (rank one: entropy 0)."""

    def forward(self, x):
        return torch.cat([x[:, :1], 2 * x[:, :1]], dim=1)


class _Pattern(nn.Module):
    """Stage 0: the fixed two-channel features, whatever the input (AZ-NAS feeds Gaussian noise)."""

    def forward(self, x):
        return 0 * x + _two_channel_features()


class _Hand(nn.Module):
    """Parameter-free stages (the Kaiming re-initialisation cannot change them) and a linear head."""

    def __init__(self):
        super().__init__()
        self.first, self.second = _Pattern(), _Split()
        self.head = nn.Linear(8, 3)

    def feature_stages(self):
        return [self.first, self.second]

    def forward(self, x):
        return self.head(self.second(self.first(x)).flatten(1))


def test_expressivity_and_progressivity_hand_computed():
    r = P.compute(_Hand(), torch.zeros(2, 2, 2, 2), None, ["az_expressivity", "az_progressivity"])
    assert r["az_expressivity"] == pytest.approx(math.log(2) + 0.0, abs=1e-6)  # ln 2 (isotropic) + 0 (rank one)
    assert r["az_progressivity"] == pytest.approx(0.0 - math.log(2), abs=1e-6)  # min over the one step


class Block(nn.Module):
    def __init__(self, c, stride=1):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(c, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Net(nn.Module):
    def __init__(self, c=6):
        super().__init__()
        self.conv1, self.bn1, self.relu, self.pool = nn.Conv2d(3, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)
        self.layers = nn.Sequential(Block(c), nn.Sequential(Block(c, 2), Block(c)))
        self.avg, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(c, 10)

    def forward(self, x):
        x = self.layers(self.pool(self.relu(self.bn1(self.conv1(x)))))
        return self.fc(self.avg(x).flatten(1))


def test_automatic_stages_open_containers_and_end_plain_runs_at_activations():
    net = Net()
    blocks = [net.layers[0], net.layers[1][0], net.layers[1][1]]
    assert feature_stages(net) == [net.relu, net.pool, *blocks, net.fc]  # avg pool is not the end of the run, fc is
    seq = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.GELU(), nn.Flatten(), nn.Linear(4, 2))
    assert feature_stages(seq) == [seq[2], seq[4], seq[6]]
    assert feature_stages(net, ["layers.0", "fc"]) == [net.layers[0], net.fc]
    with pytest.raises(ValueError, match=r"az_nas stages \['nope'\] are not modules of the model"):
        feature_stages(net, ["nope"])


def test_three_proxies_share_one_pass_are_deterministic_and_leave_the_caller_alone():
    torch.manual_seed(0)
    net, x = Net(), torch.randn(8, 3, 16, 16)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    together = P.compute(net, x, None, AZ, seed=3)
    alone = {n: P.compute(net, x, None, [n], seed=3)[n] for n in AZ}
    assert together == pytest.approx(alone, rel=1e-9)
    assert all(math.isfinite(v) for v in together.values())
    assert P.compute(net, x, None, ["az_trainability"], seed=4)["az_trainability"] != together["az_trainability"]
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)
    # neither the caller's initialisation nor the images matter: AZ-NAS re-initialises (Kaiming fan-in), feeds noise
    assert P.compute(net, 5 * x, None, AZ, seed=3) == pytest.approx(together, rel=1e-9)
    other = Net()
    other.load_state_dict({k: v * 3 if v.is_floating_point() else v for k, v in net.state_dict().items()})
    assert P.compute(other, x, None, AZ, seed=3) == pytest.approx(together, rel=1e-6)


def test_named_stages_option_changes_what_is_read():
    torch.manual_seed(0)
    net, x = Net(), torch.randn(8, 3, 16, 16)
    auto = P.compute(net, x, None, ["az_expressivity"])["az_expressivity"]
    two = P.compute(net, x, None, ["az_expressivity"], options={"az_trainability": {"stages": ["layers.0", "layers.1.1"]}})
    assert two["az_expressivity"] < auto  # 2 stages of at most log(6) each vs 5 stages
    with pytest.raises(ValueError, match="need one stages list"):
        P.compute(net, x, None, ["az_expressivity"], options={"az_expressivity": {"stages": ["layers.0", "fc"]},
                                                              "az_progressivity": {"stages": ["fc"]}})


def test_kaiming_fan_in_init_scales():
    torch.manual_seed(0)
    conv, lin, bn = nn.Conv2d(16, 32, 3), nn.Linear(400, 10), nn.BatchNorm2d(4)
    nn.init.constant_(bn.weight, 5.0)
    kaiming_fan_in_init(nn.Sequential(conv, lin, bn))
    assert float(conv.weight.detach().std()) == pytest.approx(math.sqrt(2 / (16 * 9)), rel=0.05)
    assert float(lin.weight.detach().std()) == pytest.approx(math.sqrt(2 / 400), rel=0.05)
    assert not conv.bias.any() and not lin.bias.any()
    assert torch.equal(bn.weight, torch.ones(4)) and torch.equal(bn.bias, torch.zeros(4))


def test_undefined_without_feature_maps_names_the_fix():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(ValueError, match=r"AZ-NAS needs at least two stages with \(N, C, H, W\) feature maps.*feature_stages"):
        P.compute(mlp, torch.randn(4, 3, 2, 2), None, ["az_expressivity"])


def test_every_space_network_declares_its_stages():
    import archscore

    for name in ["nb201", "nb101", "darts", "tnb101_micro", "tnb101_macro"]:
        space = archscore.get_space(name, **({"C": 4, "layers": 5} if name == "darts" else {}))
        net = space.build(space.sample(1, seed=0)[0])
        stages = net.feature_stages()
        assert len(stages) >= 4 and all(isinstance(m, nn.Module) for m in stages), name
    assert AZ_NAS_PROXIES[-1] == "flops" and set(AZ) <= set(P.list_proxies())


class _Counted(Net):
    calls = 0

    def forward(self, x):
        type(self).calls += 1
        return super().forward(x)


def test_az_proxies_make_one_pass_and_no_shared_forward_is_run_for_them():
    torch.manual_seed(0)
    net, x = _Counted(), torch.randn(8, 3, 16, 16)
    _Counted.calls = 0
    P.compute(net, x, None, AZ)
    assert _Counted.calls == 2  # the engine's 2-sample probe + AZ-NAS's own pass on noise
    _Counted.calls = 0
    P.compute(net, x, None, ["az_expressivity", "nwot"])
    assert _Counted.calls == 3  # + nwot's forward-only pass
