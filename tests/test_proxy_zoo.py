"""A zoo of ordinary hand-written models through ``proxies.compute``: defined values, documented NaNs, no side effects.

Every model is tiny (CPU, a batch of 8) so the whole file runs in seconds.
For each model, ``ZOO_UNDEFINED`` lists the proxies that are undefined for it
and why (they come back NaN, listed in ONE warning); every other proxy must be
finite, the call must not raise, and the caller's model, inputs and RNG
states (torch, numpy, Python) must be unchanged.
"""

from __future__ import annotations

import math
import random
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from archscore import proxies as P


# ----------------------------------------------------------------- models
class Block(nn.Module):
    """A basic residual block applying ``F.relu`` functionally (as torchvision's ResNets)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.b1(self.c1(x)))
        return F.relu(x + self.b2(self.c2(h)))


class FReluResNet(nn.Module):
    def __init__(self, depth: int = 2, c: int = 8, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.blocks = nn.Sequential(*[Block(c) for _ in range(depth)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.blocks(self.stem(x))).flatten(1))


class TinyViT(nn.Module):
    """Patch embedding + one pre-norm transformer block (LayerNorm, attention, GELU MLP) + mean pool."""

    def __init__(self, d: int = 16) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, d, 4, stride=4)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, 2, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.head = nn.Linear(d, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.embed(x).flatten(2).transpose(1, 2)
        h = self.ln1(t)
        t = t + self.attn(h, h, h, need_weights=False)[0]
        t = t + self.mlp(self.ln2(t))
        return self.head(t.mean(1))


class TextClassifier(nn.Module):
    """Token ids (N, T) -> embedding (+ learned positions) -> ReLU MLP on the mean token."""

    def __init__(self, vocab: int = 50, d: int = 16, t: int = 12) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(t, d)
        self.mlp = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 4))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.tok(ids) + self.pos(torch.arange(ids.shape[1], device=ids.device))
        return self.mlp(h.mean(1))


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                                  nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _mlp(*extra: nn.Module, act=nn.ReLU, norm=None) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten(), nn.Linear(3 * 8 * 8, 32)]
    if norm is not None:
        layers.append(norm(32))
    layers += [act(), *extra, nn.Linear(32, 32), act(), nn.Linear(32, 10)]
    return nn.Sequential(*layers)


def _images(n: int = 8, size: int = 8, classes: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, classes, (n,), generator=g)


def make(kind: str):
    """``(model, inputs, targets, compute kwargs)`` of a zoo member."""
    torch.manual_seed(0)
    x, y = _images()
    if kind == "resnet_frelu":
        return FReluResNet(2), x, y, {}
    if kind == "mlp":
        return _mlp(), x, y, {}
    if kind == "mlp_dropout":
        return _mlp(nn.Dropout(0.5)), x, y, {}
    if kind == "vit":
        x16, y16 = _images(size=16)
        return TinyViT(), x16, y16, {}
    if kind == "gn_gelu_cnn":
        net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.GELU(), nn.Conv2d(8, 8, 3, padding=1),
                            nn.GroupNorm(2, 8), nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
        return net, x, y, {}
    if kind == "ln_silu_mlp":
        return _mlp(act=nn.SiLU, norm=nn.LayerNorm), x, y, {}
    if kind == "float64":
        return SmallCNN().double(), x.double(), y, {}
    if kind == "float16":
        # CPU float16: convolutions, BatchNorm and matmuls run in half on recent torch (2.1+); float32 inputs are cast to half
        return SmallCNN().half(), x, y, {}
    if kind == "text":
        g = torch.Generator().manual_seed(0)
        return TextClassifier(), torch.randint(0, 50, (8, 12), generator=g), torch.randint(0, 4, (8,), generator=g), {}
    if kind == "regression":
        g = torch.Generator().manual_seed(0)
        net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 1))
        return net, torch.randn(8, 6, generator=g), torch.randn(8, 1, generator=g), {"loss_fn": F.mse_loss}
    raise ValueError(kind)


#: Proxies undefined per zoo member (NaN with the reason in ONE warning). Why:
#: zen needs BatchNorm (GroupNorm/LayerNorm are not BatchNorm) and continuous inputs; meco needs
#: outputs with >= 2 positions per channel (MLPs have none); synflow needs continuous inputs (its
#: all-ones input); epe_nas groups samples by class (none for regression targets); the AZ-NAS proxies need
#: at least two stages with (N, C, H, W) feature maps (MLPs, the token model and the ViT's tokens have none).
ZOO_UNDEFINED: dict[str, set[str]] = {
    "resnet_frelu": set(),
    "mlp": {"az_expressivity", "az_progressivity", "az_trainability", "zen", "meco"},
    "mlp_dropout": {"az_expressivity", "az_progressivity", "az_trainability", "zen", "meco"},
    "vit": {"az_expressivity", "az_progressivity", "az_trainability", "zen"},
    "gn_gelu_cnn": {"zen"},
    "ln_silu_mlp": {"az_expressivity", "az_progressivity", "az_trainability", "zen", "meco"},
    "float64": set(),
    "float16": set(),
    "text": {"az_expressivity", "az_progressivity", "az_trainability", "zen", "synflow"},
    "regression": {"az_expressivity", "az_progressivity", "az_trainability", "zen", "meco", "epe_nas"},
}


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("kind", sorted(ZOO_UNDEFINED))
def test_zoo_every_proxy_finite_or_documented_nan_and_caller_state_unchanged(kind):
    model, x, y, kw = make(kind)
    before, x_before = _state(model), x.clone()
    torch.manual_seed(123)
    np.random.seed(7)
    random.seed(5)
    t_rng, n_rng, p_rng = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = P.compute(model, x, y, **kw)  # all proxies, default policy: nothing raises
    assert list(r) == P.list_proxies()
    nan = {n for n, v in r.items() if math.isnan(v)}
    assert nan == ZOO_UNDEFINED[kind], (kind, r)
    assert all(math.isfinite(v) for n, v in r.items() if n not in nan), (kind, r)
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning) and "undefined" in str(w.message)]
    assert len(msgs) == (1 if nan else 0), msgs
    assert set(re.findall(r"'(\w+)': ", "".join(msgs))) == nan
    # the caller's model, batch and RNG states are untouched
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) and before[k].dtype == after[k].dtype for k in before)
    assert torch.equal(x, x_before) and x.dtype == x_before.dtype and x.grad is None
    assert torch.equal(torch.get_rng_state(), t_rng)
    assert np.array_equal(np.random.get_state()[1], n_rng) and random.getstate() == p_rng
    # a proxy asked for by name still raises where it is undefined
    if nan:
        name = sorted(nan)[0]
        with pytest.raises(ValueError, match=f"proxy '{name}' is undefined here"):
            P.compute(model, x, y, [name], **kw)


# ------------------------------------------------------- activations (nwot)
def test_nwot_sees_the_depth_of_a_resnet_with_functional_relus():
    x, _ = _images(n=16, size=16)
    scores = []
    for depth in range(1, 6):
        torch.manual_seed(0)
        scores.append(P.compute(FReluResNet(depth), x, None, ["nwot"])["nwot"])
    assert all(a < b for a, b in zip(scores, scores[1:])), scores  # 2 more ReLU layers per block: more agreements


class _Functional(nn.Module):
    def __init__(self, how: str) -> None:
        super().__init__()
        self.how, self.lin = how, nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        h = {"F.relu": lambda: F.relu(x), "torch.relu": lambda: torch.relu(x), "method": lambda: x.relu(),
             "inplace": lambda: F.relu(x, inplace=True), "gelu": lambda: F.gelu(x), "silu": lambda: F.silu(x),
             "module": lambda: nn.ReLU()(x), "gelu_module": lambda: nn.GELU()(x)}[self.how]()
        return self.lin(h)


@pytest.mark.parametrize("how", ["F.relu", "torch.relu", "method", "inplace", "gelu", "silu", "module", "gelu_module"])
def test_nwot_codes_of_functional_and_module_activations_counted_once(how):
    # codes x > 0 of the raw inputs: [1,0], [1,1], [0,0]; agreements K = [[2,1,1],[1,2,0],[1,0,2]], det 4 (once, not twice: det 32)
    x = torch.tensor([[1.0, -1.0], [2.0, 0.5], [-1.0, -3.0]])
    assert P.compute(_Functional(how), x, None, ["nwot"])["nwot"] == pytest.approx(math.log(4.0), rel=1e-12)


def test_nwot_without_relu_family_activation_is_undefined():
    net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="nwot needs ReLU-family activations"):
        P.compute(net, torch.randn(4, 2), None, ["nwot"])


# ----------------------------------------------------------------- meco
def test_meco_on_an_mlp_is_nan_with_the_reason():
    model, x, y, _ = make("mlp")
    with pytest.warns(RuntimeWarning, match="'meco': meco needs module outputs with at least two positions per channel"):
        r = P.compute(model, x, y, ["meco", "snip"], nan_policy="warn")
    assert math.isnan(r["meco"]) and math.isfinite(r["snip"])


# ------------------------------------------------- dtypes, tokens, regression
def test_float64_model_is_scored_in_float64_and_agrees_with_float32():
    m32, x, y, _ = make("float64")
    m32 = m32.float()
    names = ["grad_norm", "snip", "jacov", "nwot", "synflow", "zen"]
    r64 = P.compute(m32.double(), x.double(), y, names)
    r32 = P.compute(m32, x, y, names)
    for n in names:
        assert r64[n] == pytest.approx(r32[n], rel=1e-3), n
    # float32 inputs are cast to the model's dtype, not the other way round
    assert P.compute(m32.double(), x, y, names) == r64


def test_token_ids_differentiate_through_the_embedding_output():
    model, ids, y, _ = make("text")
    r = P.compute(model, ids, y, ["jacov", "epe_nas", "grad_norm"])
    # by hand: gradient of the summed logits w.r.t. the first embedding call's output
    work = model
    emb = work.tok(ids).detach().requires_grad_(True)
    out = work.mlp((emb + work.pos(torch.arange(ids.shape[1]))).mean(1))
    (j,) = torch.autograd.grad(out.sum(), emb)
    from archscore.proxies.jacov import jacov_score

    assert r["jacov"] == pytest.approx(jacov_score(j.reshape(len(ids), -1).numpy()), rel=1e-6)
    with pytest.raises(ValueError, match="'zen' is undefined here: zen feeds synthetic continuous inputs"):
        P.compute(model, ids, y, ["zen"])
    with pytest.raises(ValueError, match="need a model with an nn.Embedding"):
        P.compute(make("mlp")[0], ids, y, ["snip"])


def test_regression_targets_through_loss_fn():
    torch.manual_seed(0)
    lin = nn.Linear(6, 1)
    g = torch.Generator().manual_seed(1)
    x, t = torch.randn(8, 6, generator=g), torch.randn(8, 1, generator=g)
    with pytest.warns(RuntimeWarning, match="'epe_nas': epe_nas groups samples by class"):
        r = P.compute(lin, x, t, ["grad_norm", "epe_nas"], loss_fn=F.mse_loss, nan_policy="warn")
    resid = x @ lin.weight.detach().T + lin.bias.detach() - t
    assert r["grad_norm"] == pytest.approx(float((2 * resid.T @ x / len(x)).norm()), rel=1e-5)
    assert math.isnan(r["epe_nas"])
    with pytest.raises(ValueError, match="'epe_nas' is undefined here: epe_nas groups samples by class"):
        P.compute(lin, x, t, ["epe_nas"], loss_fn=F.mse_loss)
    with pytest.raises(ValueError, match="integer class labels for the default cross-entropy.*pass a loss_fn"):
        P.compute(lin, x, t, ["grad_norm"])


# ------------------------------------------------------------ nan policy
def test_default_policy_warns_once_for_all_and_raises_for_named_proxies():
    model, x, y, _ = make("mlp")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = P.compute(model, x, y)
    assert math.isnan(r["zen"]) and math.isnan(r["meco"])
    assert len([w for w in caught if "undefined" in str(w.message)]) == 1
    with pytest.raises(ValueError, match="proxy 'zen' is undefined here: zen needs BatchNorm"):
        P.compute(model, x, y, ["zen", "snip"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(P.compute(model, x, y, ["zen"], nan_policy="ignore")["zen"])


def test_infinite_value_is_caught_like_nan():
    m = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    with torch.no_grad():
        m[0].weight.fill_(1e37)  # finite weights whose norm overflows float32
    x, y = _images()
    with pytest.raises(ValueError, match="'l2_norm' is undefined here: it evaluated to inf"):
        P.compute(m, x, y, ["l2_norm"])
    assert math.isnan(P.compute(m, x, y, ["l2_norm"], nan_policy="ignore")["l2_norm"])


# ---------------------------------------------------------------- safety
class Noisy(nn.Module):
    """Draws from torch's and numpy's global RNGs in forward (noise active in eval mode too)."""

    def __init__(self) -> None:
        super().__init__()
        self.c, self.fc = nn.Conv2d(3, 8, 3), nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.c(x)) * (1 + 0.01 * torch.rand(1).item() + float(np.random.rand()))
        return self.fc(h.mean((2, 3)))


def test_model_drawing_random_numbers_leaves_the_caller_rng_alone_and_is_deterministic():
    torch.manual_seed(0)
    m, (x, y) = Noisy(), _images()
    t0, n0 = torch.get_rng_state(), np.random.get_state()[1].copy()
    r1 = P.compute(m, x, y, ["snip", "jacov"])
    assert torch.equal(t0, torch.get_rng_state()) and np.array_equal(n0, np.random.get_state()[1])
    np.random.rand()
    torch.rand(3)
    assert P.compute(m, x, y, ["snip", "jacov"]) == r1  # seeded inside: the caller's RNG position does not matter


def test_bad_arguments_give_clear_errors():
    x, y = _images()
    cnn = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    for bad in ("abc", 1.5, True):
        with pytest.raises(TypeError, match="seed must be an integer"):
            P.compute(cnn, x, y, ["snip"], seed=bad)
    with pytest.raises(TypeError, match="seed must be an integer"):
        P.score_archs([], x, y, ["snip"], seed=1.5)
    with pytest.raises(ValueError, match="loss_fn must return a scalar loss.*got \\(8,\\)"):
        P.compute(cnn, x, y, ["snip"], loss_fn=lambda o, t: F.cross_entropy(o, t, reduction="none"))

    class NoParams(nn.Module):
        def forward(self, x):
            return torch.relu(x).mean((2, 3))

    y3 = y % 3
    with pytest.raises(ValueError, match="'snip' is undefined here: .*no conv/linear layer"):
        P.compute(NoParams(), x, y3, ["snip"])
    with pytest.warns(RuntimeWarning, match="12 proxies are undefined"):
        r = P.compute(NoParams(), x, y3)  # all proxies: the weight-based and AZ-NAS ones are NaN, the others defined
    assert r["params"] == 0 and math.isfinite(r["nwot"]) and math.isnan(r["synflow"]) and math.isnan(r["grasp"])

    class Uncopyable(nn.Linear):
        def __deepcopy__(self, memo):
            raise RuntimeError("Only Tensors created explicitly by the user support the deepcopy protocol")

    with pytest.raises(ValueError, match="copy.deepcopy fails on this Uncopyable.*parametrizations.weight_norm"):
        P.compute(Uncopyable(4, 3), torch.randn(4, 4), None, ["params"])


class _Clamp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(-1, 1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1).to(g.dtype)


class _Act(nn.Module):
    def __init__(self, custom: bool) -> None:
        super().__init__()
        self.custom = custom

    def forward(self, x):
        return _Clamp.apply(x) if self.custom else x.clamp(-1, 1)


def test_grasp_through_a_once_differentiable_function_is_detected():
    def net(custom):
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                             _Act(custom), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))

    x, y = _images()
    plain = P.compute(net(False), x, y, ["grasp", "snip"])
    assert math.isfinite(plain["grasp"])
    with pytest.raises(ValueError, match="'grasp' is undefined here: .*@once_differentiable"):
        P.compute(net(True), x, y, ["grasp"])
    # with a split batch (the OOM path) too
    with pytest.raises(ValueError, match="@once_differentiable"):
        P.compute(net(True), x, y, ["grasp"], batch_split=2)
    r = P.compute(net(True), x, y, ["grasp", "snip"], nan_policy="ignore")
    assert math.isnan(r["grasp"]) and r["snip"] == plain["snip"]
