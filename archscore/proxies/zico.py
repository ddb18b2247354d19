"""ZiCo (Li et al., ICLR 2023): inverse coefficient of variation of gradients."""

from __future__ import annotations

import math

import numpy as np
import torch

from archscore.proxies.base import register_proxy


def zico_from_grads(per_split: list[list[np.ndarray]]) -> float:
    """ZiCo from per-split gradients: ``per_split[s][l]`` is layer ``l``'s flattened gradient on split ``s``.

    For each layer, with mean and (population) standard deviation across the
    splits per weight: ``log(sum_{std>0} mean|g| / std)``; layers whose sum is
    0 are skipped; the score is the sum over layers.
    """
    total = 0.0
    for layer in zip(*per_split):
        g = np.stack(layer, 0).astype(np.float64)
        std = g.std(axis=0)
        nz = std > 0
        s = float(np.sum(np.abs(g).mean(axis=0)[nz] / std[nz]))
        if s > 0:
            total += math.log(s)
    return total


@register_proxy(
    "zico", higher_is_better=True, needs_labels=True, needs_data=True, removes_bn=False,
    description="ZiCo: sum over layers of log(sum over weights of mean|grad| / std(grad)) across minibatch splits",
    citation="Li et al., ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on Gradients, ICLR 2023",
)
def zico(session, n_splits: int = 2) -> float:
    """ZiCo (Li et al., ICLR 2023), as in NAS-Bench-Suite-Zero's single-batch version.

    The batch is split into ``n_splits`` (default 2, option ``n_splits``)
    equal parts; each part gets its own train-mode forward and mean
    cross-entropy backward. For each conv/linear layer, per weight, the mean of
    ``|g|`` and the standard deviation of ``g`` across the parts give
    ``log(sum_{std>0} mean|g| / std)``; layers whose sum is 0 are skipped (so a
    network whose weights get no gradient scores 0) and the score is the sum
    over layers. This needs its own passes: the shared full-batch pass has
    different BatchNorm statistics than the parts.
    """
    session.require_layers("zico")
    n_splits = int(session.option("zico", "n_splits", n_splits))
    n = session.n
    if n_splits < 2 or n_splits > n:
        raise ValueError(f"zico needs between 2 and {n} minibatch splits, got n_splits={n_splits}")
    weights = [m.weight for m in session.layers]
    per_split: list[list[np.ndarray]] = []
    for s in range(n_splits):
        st, en = s * n // n_splits, (s + 1) * n // n_splits
        acc = [torch.zeros_like(w) for w in weights]
        # sub-chunks only when CUDA ran out of memory (session.split > 1)
        sub = max(1, min(session.split, en - st))
        for c in range(sub):
            a, b = st + c * (en - st) // sub, st + (c + 1) * (en - st) // sub
            x = session.inputs[a:b].detach().clone()
            y = session.targets[a:b]
            loss = session.loss_fn(session.forward(x, y), y) * ((b - a) / (en - st))
            for i, g in enumerate(torch.autograd.grad(loss, weights, allow_unused=True)):
                if g is not None:
                    acc[i] += g.detach()
        per_split.append([g.reshape(-1).cpu().numpy() for g in acc])
    return zico_from_grads(per_split)
