"""Zero-cost proxies: hand-computed values, invariants, error paths, estimators."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import archscore
from archscore import proxies as P
from archscore.proxies import engine
from archscore.proxies.epe_nas import epe_score
from archscore.proxies.jacobian import EPS
from archscore.proxies.jacov import jacov_score
from archscore.proxies.zico import zico_from_grads

ALL = [
    "params", "flops", "grad_norm", "snip", "grasp", "fisher", "jacov", "nwot",
    "synflow", "l2_norm", "plain", "epe_nas", "zen", "zico", "meco",
]



# ------------------------------------------------------------------ registry
def test_every_required_proxy_is_registered_with_metadata_and_estimator():
    assert set(ALL) <= set(P.list_proxies())
    assert P.list_proxies("grad*") == ["grad_norm"]
    for name in ALL:
        info = P.proxy_info(name)
        for key in ("higher_is_better", "needs_labels", "needs_data", "removes_bn", "description", "citation"):
            assert key in info, (name, key)
        assert info["docstring"], name
        assert f"zc:{name}" in archscore.list_estimators("zc:*")
    assert P.proxy_info("synflow")["removes_bn"] and not P.proxy_info("synflow")["needs_labels"]
    assert P.proxy_info("snip")["needs_labels"] and not P.proxy_info("params")["needs_data"]


def test_unknown_proxy_name_suggests_close_matches():
    with pytest.raises(ValueError, match="did you mean 'grad_norm'"):
        P.compute(nn.Linear(4, 3), torch.randn(4, 4), torch.zeros(4, dtype=torch.long), ["grad_nrom"])
    with pytest.raises(ValueError, match="synflow"):
        P.proxy_info("synflw")


# ------------------------------------------------------- hand-computed cases
def _linear_batch(n=6, d=4, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g)


def test_params_flops_l2_on_one_layer():
    lin = nn.Linear(4, 3)
    x, _ = _linear_batch()
    r = P.compute(lin, x, None, ["params", "flops", "l2_norm"])
    assert r["params"] == 4 * 3 + 3
    assert r["flops"] == 2 * 4 * 3  # one sample, 2 FLOPs per multiply-accumulate, bias not counted
    assert r["l2_norm"] == pytest.approx(float(lin.weight.detach().norm()), rel=1e-6)
    conv = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Flatten(), nn.Linear(3 * 8 * 8, 5))
    r = P.compute(conv, torch.randn(2, 2, 8, 8), None, ["flops", "params"])
    assert r["flops"] == 2 * (3 * 2 * 9 * 64 + 3 * 64 * 5)
    assert r["params"] == (3 * 2 * 9 + 3) + (192 * 5 + 5)


def test_flops_count_equals_torch_flop_counter_without_importing_dynamo():
    from torch.utils.flop_counter import FlopCounterMode

    from archscore.proxies.flops import count_flops

    torch.manual_seed(0)
    models = [
        (ResNetish(), torch.zeros(1, 3, 8, 8)),
        (TinyViT(), torch.zeros(1, 3, 8, 8)),  # attention, LayerNorm, linear layers on tokens
        (nn.Sequential(nn.Linear(5, 6), nn.GELU(), nn.Linear(6, 2)), torch.zeros(1, 4, 5)),
        (nn.Sequential(nn.ConvTranspose2d(3, 4, 3), nn.Conv2d(4, 2, 3, groups=2)), torch.zeros(1, 3, 5, 5)),
    ]
    for model, x in models:
        full = FlopCounterMode(display=False)
        with torch.no_grad(), full:
            model(x)
        with torch.no_grad():
            assert count_flops(model, x) == full.get_total_flops() > 0
    # the lean counter does not pay FlopCounterMode's one-off import of torch._dynamo (seconds per process)
    import subprocess
    import sys

    code = ("import sys, torch; from archscore import proxies as P; "
            "r = P.compute(torch.nn.Linear(4, 3), torch.randn(2, 4), None, ['flops']); "
            "assert r['flops'] == 24, r; print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"


def test_gradient_proxies_on_a_linear_model_match_closed_forms():
    torch.manual_seed(0)
    lin = nn.Linear(4, 3)
    x, y = _linear_batch()
    r = P.compute(lin, x, y, ["grad_norm", "snip", "plain", "fisher", "grasp"])
    W, b = lin.weight.detach(), lin.bias.detach()
    z = x @ W.T + b
    p = torch.softmax(z, 1)
    dz = (p - F.one_hot(y, 3).float()) / len(x)  # d mean-CE / d logits
    G = dz.T @ x
    assert r["grad_norm"] == pytest.approx(float(G.norm()), rel=1e-5)
    assert r["snip"] == pytest.approx(float((W * G).abs().sum()), rel=1e-5)
    assert r["plain"] == pytest.approx(float((W * G).sum()), rel=1e-4, abs=1e-7)
    fisher = float((0.5 * (z * dz).pow(2).mean(0)).sum()) * 4  # broadcast over the fan-in, as the reference
    assert r["fisher"] == pytest.approx(fisher, rel=1e-5)

    def loss(w):
        return F.cross_entropy(x @ w.T + b, y)

    H = torch.autograd.functional.hessian(loss, W).reshape(12, 12)
    hg = (H @ G.reshape(-1)).reshape(3, 4)
    assert r["grasp"] == pytest.approx(float((-W * hg).sum()), rel=1e-4, abs=1e-8)


def test_synflow_of_two_layer_linear_net_is_twice_the_path_sum():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Linear(4, 2, bias=False))
    w1, w2 = net[0].weight.detach().abs().double(), net[1].weight.detach().abs().double()
    paths = float(torch.ones(2).double() @ w2 @ w1 @ torch.ones(3).double())
    # each layer's sum |W * dR/dW| equals R = sum of all input-output path products
    r = P.compute(net, torch.randn(5, 3), None, ["synflow"])
    assert r["synflow"] == pytest.approx(2 * paths, rel=1e-12)


def test_nwot_on_known_codes():
    # the ReLU sees the raw inputs: codes [1,0], [1,1], [0,0]; agreements K = [[2,1,1],[1,2,0],[1,0,2]], det 4
    net = nn.Sequential(nn.ReLU(), nn.Linear(2, 2))
    x = torch.tensor([[1.0, -1.0], [2.0, 0.5], [-1.0, -3.0]])
    assert P.compute(net, x, None, ["nwot"])["nwot"] == pytest.approx(math.log(4.0), rel=1e-12)


def test_jacobian_proxies_on_a_linear_model():
    # d(sum logits)/dx = W^T 1 for every sample: all rows equal, correlation 1 everywhere
    torch.manual_seed(2)
    n = 6
    x, y = _linear_batch(n=n)
    r = P.compute(nn.Linear(4, 3), x, y, ["jacov", "epe_nas"])
    lam = np.array([n] + [0] * (n - 1), dtype=float)
    assert r["jacov"] == pytest.approx(-np.sum(np.log(lam + EPS) + 1 / (lam + EPS)), rel=1e-9)
    counts = np.bincount(y.numpy())
    assert r["epe_nas"] == pytest.approx(float(np.sum(counts[counts > 0] ** 2) * np.log(1 + EPS)), rel=1e-6)


def test_jacov_and_epe_helpers():
    # orthogonal, centred rows: correlation = identity, every eigenvalue 1
    j = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]])
    assert jacov_score(j) == pytest.approx(-3 * (np.log(1 + EPS) + 1 / (1 + EPS)))
    s0 = 2 * np.log(1 + EPS) + 2 * np.log(EPS)  # class 0: rows 0, 1, correlation identity
    s1 = np.log(1 + EPS)  # class 1: a single row
    assert epe_score(j, np.array([0, 0, 1]), 10) == pytest.approx(abs(s0) + abs(s1))
    # a constant (zero-variance) row counts as perfectly correlated: the lowest score
    assert jacov_score(np.zeros((3, 4))) == pytest.approx(jacov_score(np.ones((3, 1)) * np.arange(4.0)))


def test_zico_formula():
    # per weight: mean|g| = 2, std = 1 -> log(2 + 2); a layer without gradient variation is skipped
    assert zico_from_grads([[np.array([1.0, 3.0]), np.zeros(3)], [np.array([3.0, 1.0]), np.zeros(3)]]) == pytest.approx(math.log(4.0))


def test_meco_on_known_features():
    net = nn.Sequential(nn.Identity(), nn.Flatten(), nn.Linear(6, 3))
    x = torch.randn(4, 2, 3)
    x[0] = torch.tensor([[1.0, 0.0, -1.0], [1.0, -2.0, 1.0]])  # uncorrelated channels: eigenvalues 1, 1
    assert P.compute(net, x, None, ["meco"])["meco"] == pytest.approx(1.0, abs=1e-9)
    x[0] = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])  # correlation -1: eigenvalues 0, 2
    assert P.compute(net, x, None, ["meco"])["meco"] == pytest.approx(0.0, abs=1e-9)


def test_meco_term_of_a_singular_correlation_is_exactly_zero_without_a_solve(monkeypatch):
    from archscore.proxies import meco as meco_mod

    g = torch.Generator().manual_seed(0)
    wide = torch.randn(2, 6, 2, 3, generator=g)  # 6 channels, 6 positions: rank <= 5, singular
    corr = torch.nan_to_num(torch.corrcoef(wide[0].reshape(6, -1).double()))
    assert abs(float(torch.linalg.eigvalsh(corr).min())) < 1e-12  # the solver's answer: rounding noise around 0
    calls = []
    real = torch.linalg.eigvalsh
    monkeypatch.setattr(torch.linalg, "eigvalsh", lambda a: calls.append(a.shape) or real(a))
    assert meco_mod.min_correlation_eigenvalue(wide) == 0.0 and calls == []
    tall = torch.randn(2, 6, 7, 1, generator=g)  # 7 positions: full rank, solved
    v = meco_mod.min_correlation_eigenvalue(tall)
    assert calls == [(6, 6)] and v > 1e-6
    bad = wide.clone()
    bad[0, 0, 0, 0] = float("inf")  # non-finite features keep the solver's path (NaN entries zeroed)
    meco_mod.min_correlation_eigenvalue(bad)
    assert len(calls) == 2


def test_meco_term_of_a_single_channel_is_its_self_correlation():
    """One channel: corrcoef gives a scalar; its 1x1 matrix has eigenvalue 1 (0 for a constant channel), no error."""
    from archscore.proxies import meco as meco_mod

    x = torch.randn(2, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    assert meco_mod.min_correlation_eigenvalue(x) == pytest.approx(1.0, abs=1e-12)
    assert meco_mod.min_correlation_eigenvalue(torch.ones(2, 1, 3, 3)) == 0.0  # constant: NaN correlation zeroed
    net = nn.Sequential(nn.Conv2d(3, 1, 3, padding=1), nn.ReLU(), nn.Conv2d(1, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    assert np.isfinite(P.compute(net, torch.randn(4, 3, 6, 6), None, ["meco"])["meco"])


class _SharedOutputs(nn.Module):
    """Module outputs that are the same tensor object: an in-place ReLU, a Sequential, an empty shortcut."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)  # returns conv's output object, changed in place (new version)
        self.seq = nn.Sequential(nn.Conv2d(4, 5, 3, padding=1))  # returns its child's output object
        self.shortcut = nn.Sequential()  # returns its input object
        self.head = nn.Conv2d(5, 2, 1)

    def forward(self, x):
        h = self.shortcut(self.seq(self.relu(self.conv(x))))
        return self.head(h).mean((2, 3))


def test_meco_solves_each_distinct_output_once_with_the_same_sum(monkeypatch):
    from archscore.proxies import meco as meco_mod

    torch.manual_seed(0)
    net, x = _SharedOutputs(), torch.randn(4, 3, 6, 6)
    # the definition, term by term: every module's output read when its forward returns, in call order
    terms: list[float] = []
    hooks = [m.register_forward_hook(lambda m_, i, o: terms.append(meco_mod.min_correlation_eigenvalue(o))) for m in net.modules()]
    with torch.no_grad():
        net.train()(x)
    for h in hooks:
        h.remove()
    want = float(sum(v for v in terms if v is not None))
    assert len(terms) == 7  # model, conv, relu, seq, seq[0], shortcut, head
    solved = []
    real = meco_mod.min_correlation_eigenvalue
    monkeypatch.setattr(meco_mod, "min_correlation_eigenvalue", lambda t: solved.append(1) or real(t))
    assert P.compute(net, x, None, ["meco"])["meco"] == want  # bit-identical
    # conv, relu (same object, written in place: solved again), seq[0], head and the model's (2-D) mean;
    # seq and shortcut return an already solved, unchanged object: no second solve
    assert len(solved) == 5


# ---------------------------------------------------------- model families
class ResNetish(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                   nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8))
        self.act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        h = self.stem(x)
        h = self.act(h + self.block(h))
        return self.fc(self.pool(h).flatten(1))


class TinyViT(nn.Module):
    """Patch embedding + one pre-norm transformer block (LayerNorm, attention, GELU MLP) + mean pool."""

    def __init__(self, d=16):
        super().__init__()
        self.embed = nn.Conv2d(3, d, 4, stride=4)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, 2, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)
        h = self.ln1(t)
        t = t + self.attn(h, h, h, need_weights=False)[0]
        t = t + self.mlp(self.ln2(t))
        return self.head(t.mean(1))


def make_model(kind: str) -> nn.Module:
    torch.manual_seed(0)
    if kind == "resnet":
        return ResNetish()
    if kind == "nobn":
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    if kind == "vit":
        return TinyViT()
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))
    raise ValueError(kind)


AZ_UNDEFINED = {"az_expressivity", "az_progressivity", "az_trainability"}  # no two (N, C, H, W) stages
UNDEFINED = {"resnet": set(), "nobn": {"zen"}, "vit": {"zen", *AZ_UNDEFINED}, "mlp": {"zen", "meco", *AZ_UNDEFINED}}  # vit: nwot reads its GELU


def _batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 16, 16, generator=g), torch.randint(0, 10, (n,), generator=g)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _hook_count(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


@pytest.mark.parametrize("kind", ["resnet", "nobn", "vit", "mlp"])
def test_all_proxies_on_model_kinds_without_side_effects(kind):
    model = make_model(kind)
    model.eval()
    frozen = next(model.parameters())
    frozen.requires_grad_(False)
    before, flags = _state(model), [p.requires_grad for p in model.parameters()]
    x, y = _batch()
    x_before = x.clone()
    rng = torch.get_rng_state()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = P.compute(model, x, y, nan_policy="warn")
    assert list(r) == P.list_proxies()
    for name, v in r.items():
        if name in UNDEFINED[kind]:
            assert math.isnan(v), (kind, name, v)
        else:
            assert math.isfinite(v), (kind, name, v)
    undefined_warnings = [str(w.message) for w in caught if "undefined" in str(w.message)]
    assert len(undefined_warnings) == (1 if UNDEFINED[kind] else 0)  # ONE warning listing every undefined proxy
    assert set(re.findall(r"'(\w+)': ", "".join(undefined_warnings))) == UNDEFINED[kind]
    # nothing of the caller's changed
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert [p.requires_grad for p in model.parameters()] == flags and not model.training
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(x, x_before) and x.grad is None and not x.requires_grad
    assert _hook_count(model) == 0
    assert torch.equal(torch.get_rng_state(), rng)
    # deterministic
    again = P.compute(model, x, y, nan_policy="ignore")
    np.testing.assert_array_equal(np.array(list(again.values())), np.array(list(r.values())))


def test_nan_policy_raise_names_the_reason():
    with pytest.raises(ValueError, match="zen.*BatchNorm"):
        P.compute(make_model("nobn"), *_batch(), ["zen"])
    with pytest.raises(ValueError, match="nwot.*ReLU-family activations"):
        P.compute(nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 10), nn.Tanh()), *_batch(), ["nwot"])
    with pytest.raises(ValueError, match="nan_policy"):
        P.compute(make_model("mlp"), *_batch(), ["params"], nan_policy="skip")


def test_single_proxy_equals_suite_value():
    model, (x, y) = make_model("resnet"), _batch()
    suite = P.compute(model, x, y)
    for name in ("grad_norm", "fisher", "grasp", "jacov", "nwot", "meco", "zico", "synflow", "zen"):
        assert P.compute(model, x, y, [name])[name] == pytest.approx(suite[name], rel=1e-5, abs=1e-9), name


# -------------------------------------------------------------- error paths
def test_bad_batches_raise_clear_errors():
    model = make_model("mlp")
    x, y = _batch()
    with pytest.raises(ValueError, match=r"targets must have shape \(8,\)"):
        P.compute(model, x, y[:5], ["snip"])
    with pytest.raises(ValueError, match="target 12 is out of range.*10 outputs"):
        P.compute(model, x, torch.full((8,), 12), ["snip"])
    with pytest.raises(ValueError, match="integer class labels"):
        P.compute(model, x, y.float(), ["snip"])
    with pytest.raises(ValueError, match="need targets"):
        P.compute(model, x, None, ["snip"])
    with pytest.raises(ValueError, match="at least 2 samples"):
        P.compute(model, x[:1], y[:1], ["snip"])
    with pytest.raises(ValueError, match="integer inputs .* token ids and need a model with an nn.Embedding"):
        P.compute(model, (x * 10).long(), y, ["snip"])
    with pytest.raises(ValueError, match=r"logits of shape \(N, C\)"):
        P.compute(nn.Conv2d(3, 4, 3), x, y, ["grad_norm"])
    with pytest.raises(ValueError, match=r"failed on a probe batch .*inputs of shape \(8, 3, 8, 8\).*mat1 and mat2"):
        P.compute(model, torch.randn(8, 3, 8, 8), y, ["flops"])
    with pytest.raises(TypeError, match="nn.Module"):
        P.compute(lambda t: t, x, y, ["params"])


# ----------------------------------------------------- device and OOM retry
def test_cuda_request_without_gpu_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model, (x, y) = make_model("mlp"), _batch()
    with pytest.warns(RuntimeWarning, match="CUDA is not available"):
        r = P.compute(model, x, y, ["grad_norm"], device="cuda")
    assert r == P.compute(model, x, y, ["grad_norm"], device="cpu")


def test_out_of_memory_retries_with_split_batch(monkeypatch, caplog):
    model, (x, y) = make_model("nobn"), _batch()
    real, splits = engine._run, []

    def flaky(*args, split, **kwargs):
        splits.append(split)
        if split < 4:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(*args, split=split, **kwargs)

    monkeypatch.setattr(engine, "_run", flaky)
    names = ["grad_norm", "snip", "fisher", "grasp", "jacov", "nwot", "zico"]
    with caplog.at_level("WARNING", logger="archscore.proxies.engine"):
        r = P.compute(model, x, y, names)
    assert splits == [1, 2, 4] and "split into 4 chunks" in caplog.text
    monkeypatch.setattr(engine, "_run", real)
    # without batch-coupled layers, chunked gradients equal the full-batch ones
    full = P.compute(model, x, y, names)
    for n in names:
        assert r[n] == pytest.approx(full[n], rel=1e-4), n


def test_out_of_memory_gives_up_with_a_clear_error(monkeypatch):
    def always(*args, **kwargs):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(engine, "_run", always)
    with pytest.raises(RuntimeError, match="out of memory even with the batch split into 8"):
        P.compute(make_model("mlp"), *_batch(), ["grad_norm"])


def test_other_errors_are_not_retried(monkeypatch):
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(engine, "_run", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        P.compute(make_model("mlp"), *_batch(), ["grad_norm"])
    assert calls == [1]


# ---------------------------------------------------------- NB201 behaviour
def test_disconnected_nb201_cell_scores_finitely_at_the_bottom():
    space = archscore.get_space("nb201", C=4, N=1)
    dead = space.from_ops(["nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "none", "none", "none"])
    live = space.from_ops(["nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "none", "none", "nor_conv_3x3"])
    assert not dead.is_connected() and live.is_connected()
    x, y = _batch(16)
    x = F.interpolate(x, size=32)
    names = ["grad_norm", "snip", "synflow", "jacov", "epe_nas", "zico", "zen"]
    df = P.score_archs([dead, live], x, y, names, space=space, seed=0)
    assert np.isfinite(df.to_numpy()).all()
    d, l_ = df.iloc[0], df.iloc[1]
    assert d["grad_norm"] == 0 and d["snip"] == 0 and d["synflow"] == 0 and d["zico"] == 0
    for n in names:
        assert d[n] < l_[n], n


def test_synflow_is_finite_for_the_largest_nb201_cell():
    space = archscore.get_space("nb201")
    biggest = space.from_ops(["nor_conv_3x3"] * 6)
    torch.manual_seed(42)
    v = P.compute(space.build(biggest), torch.randn(2, 3, 32, 32), None, ["synflow"])["synflow"]
    assert math.isfinite(v) and v > 1e30  # overflows float32, fine in float64


def test_reference_space_reproduces_the_original_code(data_dir):
    import pandas as pd

    from archscore.data import reference_batch

    path = data_dir / "nb201" / "nb201_cifar10_ref_zc_200connected.csv"
    npz = data_dir / "cifar10" / "train5k.npz"
    if not path.is_file() or not npz.is_file():
        pytest.skip("reference scores or train5k.npz not in the shared data")
    ref = pd.read_csv(path).iloc[:2]
    x, y = reference_batch(npz)  # the batch behind the reference scores
    space = P.ReferenceNB201Space()
    df = P.score_archs([space.from_string(s) for s in ref["arch"]], x, y, ["grad_norm", "jacov", "synflow"], space=space, seed=42)
    np.testing.assert_allclose(df["grad_norm"], ref["ref_grad_norm"], rtol=2e-3)
    np.testing.assert_allclose(df["jacov"], ref["ref_jacob_cov"], rtol=1e-3)
    np.testing.assert_allclose(df["synflow"], ref["ref_synflow"], rtol=1e-6)


# --------------------------------------------------------------- estimators
def test_zc_estimator_builds_same_model_per_arch_and_orients_scores():
    space = archscore.get_space("nb201", C=4, N=1)
    archs = [a for a in space.sample(6, seed=1) if a.is_connected()][:3]
    x, y = _batch(8)
    x = F.interpolate(x, size=32)
    est = archscore.create_estimator("zc:snip", space=space, seed=3)
    p1 = est.predict(archs, data=(x, y))
    p2 = est.predict(list(reversed(archs)), data=(x, y))
    np.testing.assert_array_equal(p1, p2[::-1])
    df = P.score_archs(archs, x, y, ["snip", "params"], space=space, seed=3)
    assert list(df.columns) == ["snip", "params"] and list(df.index) == [space.to_string(a) for a in archs]
    np.testing.assert_allclose(df["snip"].to_numpy(), p1)
    assert len(df.attrs["seconds"]) == 3
    # a proxy declared lower-is-better is negated by its estimator
    from archscore.base import ESTIMATORS

    name = "_test_neg_params"
    P.register_proxy(name, higher_is_better=False, needs_labels=False, needs_data=False, removes_bn=False,
                     description="test", citation="none")(lambda s: float(sum(p.numel() for p in s.model.parameters())))
    try:
        neg = archscore.create_estimator(f"zc:{name}", space=space).predict(archs, data=(x, y))
        np.testing.assert_allclose(neg, -df["params"].to_numpy())
    finally:
        del P.PROXIES._entries[name]


def test_estimator_accepts_space_by_name_and_numpy_batch():
    space = archscore.get_space("nb201", C=4, N=1)
    arch = space.from_ops(["nor_conv_1x1"] * 6)
    x, y = _batch(4)
    x = F.interpolate(x, size=32).numpy()
    v = archscore.create_estimator("zc:params").predict([arch], data=(x, y.numpy()))
    assert v[0] == sum(p.numel() for p in archscore.get_space("nb201").build(arch).parameters())
    with pytest.raises(TypeError, match="space must be"):
        archscore.create_estimator("zc:params", space=3).predict([arch], data=(x, y))


def test_nwot_is_finite_when_all_codes_are_equal():
    # every sample has the same code: K = 2 * ones (singular); the score falls back to log det(K + I) = log(1 + 2n)
    net = nn.Sequential(nn.ReLU(), nn.Linear(2, 2))
    x = torch.tensor([[1.0, 2.0], [3.0, 0.5], [0.1, 0.2]])
    assert P.compute(net, x, None, ["nwot"])["nwot"] == pytest.approx(math.log(1 + 2 * 3), rel=1e-12)
