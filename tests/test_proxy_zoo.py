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
#: all-ones input); epe_nas groups samples by class (none for regression targets).
ZOO_UNDEFINED: dict[str, set[str]] = {
    "resnet_frelu": set(),
    "mlp": {"zen", "meco"},
    "mlp_dropout": {"zen", "meco"},
    "vit": {"zen"},
    "gn_gelu_cnn": {"zen"},
    "ln_silu_mlp": {"zen", "meco"},
    "float64": set(),
    "float16": set(),
    "text": {"zen", "synflow"},
    "regression": {"zen", "meco", "epe_nas"},
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
