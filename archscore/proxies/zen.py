"""Zen-score (Lin et al., ICCV 2021) as a zero-cost proxy.

Zen-NAS needs its own Gaussian re-initialisation and Gaussian inputs, so it
runs separately (two forward passes without gradients) on the working copy,
which the engine restores afterwards.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from archscore.proxies.base import register_proxy


def _gaussian_init(model: nn.Module) -> None:
    """Zen-NAS's re-initialisation: N(0, 1) conv/linear weights, zero biases, unit norm affine."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
                nn.init.normal_(m.weight)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
                if m.weight is not None:
                    nn.init.ones_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)


def _feature_module(model: nn.Module) -> nn.Module:
    """The module whose INPUT is the pre-GAP feature map: the last adaptive average pool, else the last linear layer."""
    pools = [m for m in model.modules() if isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d))]
    if pools:
        return pools[-1]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if linears:
        return linears[-1]
    raise ValueError("zen needs the pre-pooling features: the model has no adaptive average pool and no linear layer")


@register_proxy(
    "zen", higher_is_better=True, needs_labels=False, needs_data=False, removes_bn=False, modifies_weights=True, continuous_inputs=True,
    description="Zen-score: log of the pre-GAP feature change under a small input perturbation + sum of log BN scales (Gaussian init and inputs)",
    citation="Lin et al., Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition, ICCV 2021",
)
def zen(session, mixup_gamma: float = 1e-2) -> float:
    """Zen-score (Lin et al. 2021), as in the authors' code and NAS-Bench-Suite-Zero (one repeat).

    The working copy is re-initialised (conv/linear weights N(0,1), biases 0,
    BN/GroupNorm affine 1/0) and its BN running statistics reset; two Gaussian
    batches ``x, e`` of the inputs' shape are drawn (seeded) and, in train
    mode without gradients, ``Δ = mean_n sum |f(x) - f(x + 0.01 e)|`` over the
    pre-GAP features ``f`` (the input of the last adaptive average pool, or of
    the last linear layer when there is none). The score is
    ``log Δ + sum_BN log sqrt(mean(running_var))`` with the running variances
    left by those two forward passes, as in the reference. Undefined
    (``nan_policy``) without BatchNorm and for integer token-id inputs (the
    Gaussian inputs are continuous). The Gaussian inputs are drawn in the
    model's dtype. Deviation: ``Δ`` is floored at the
    smallest positive float32 so a network that ignores its input (a
    disconnected cell) scores finitely and at the bottom instead of ``-inf``.
    """
    model = session.model
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        session.undefined("zen needs BatchNorm layers (its score sums their log scales); the model has none")
    gamma = float(session.option("zen", "mixup_gamma", mixup_gamma))
    _gaussian_init(model)
    batch_var: dict[int, torch.Tensor] = {}
    hooks = []
    for m in bns:
        if m.track_running_stats:
            m.reset_running_stats()  # a pretrained model's statistics would leak into the score
        if m.running_var is None:
            hooks.append(m.register_forward_hook(_batch_var_hook(batch_var)))
    feats: list[torch.Tensor] = []
    hooks.append(_feature_module(model).register_forward_pre_hook(lambda mod, inp: feats.append(inp[0].detach())))
    try:
        shape = tuple(session.inputs.shape)
        x = torch.randn(shape, device=session.device, dtype=session.dtype)
        e = torch.randn(shape, device=session.device, dtype=session.dtype)
        with torch.no_grad():
            model(x)
            model(x + gamma * e)
    finally:
        for h in hooks:
            h.remove()
    f1, f2 = feats[0], feats[-1]
    delta = float((f1 - f2).abs().reshape(f1.shape[0], -1).sum(1).mean())
    log_bn = 0.0
    for m in bns:
        var = m.running_var if m.running_var is not None else batch_var.get(id(m))
        if var is None:
            continue
        log_bn += math.log(math.sqrt(max(float(var.float().mean()), np.finfo(np.float32).tiny)))
    return math.log(max(delta, float(np.finfo(np.float32).tiny))) + log_bn


def _batch_var_hook(store: dict[int, torch.Tensor]):
    def hook(mod, inp, out):
        x = inp[0]
        dims = [d for d in range(x.dim()) if d != 1]
        store[id(mod)] = x.detach().var(dim=dims, unbiased=False)
    return hook
