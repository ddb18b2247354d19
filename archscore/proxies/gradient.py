"""Gradient-based pruning-at-initialisation scores, summed over layers.

All five read ONE cross-entropy forward + backward of the shared pass (GraSP
adds one double-backward through the same graph). As in the original
zero-cost code (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS",
ICLR 2021; SamsungLabs/zero-cost-nas), the model is in train mode (BatchNorm
uses batch statistics), the loss is the mean cross-entropy over the batch and
only conv and linear weights are scored; each score is the sum over those
layers of a per-layer sum.
"""

from __future__ import annotations

import torch

from archscore.proxies.base import register_proxy

_ZC = "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021"


@register_proxy(
    "grad_norm", higher_is_better=True, needs_labels=True, needs_data=True, removes_bn=False, uses=("weight_grads",),
    description="sum over conv/linear layers of the L2 norm of the loss gradient",
    citation=_ZC,
)
def grad_norm(session) -> float:
    """Sum over layers of ``||dL/dW||_2`` (Abdelfattah et al. 2021, "grad_norm").

    Same as the reference: Frobenius norm per conv/linear weight, summed.
    """
    return float(sum(float(g.norm()) for g in session.shared("weight_grads")))


@register_proxy(
    "snip", higher_is_better=True, needs_labels=True, needs_data=True, removes_bn=False, uses=("weight_grads",),
    description="SNIP connection sensitivity |W * dL/dW| summed over weights",
    citation="Lee et al., SNIP: Single-shot Network Pruning based on Connection Sensitivity, ICLR 2019; " + _ZC,
)
def snip(session) -> float:
    """SNIP saliency ``sum |W ⊙ dL/dW|`` (Lee et al. 2019, as summed by Abdelfattah et al. 2021).

    The reference differentiates a multiplicative all-ones mask; its gradient
    is exactly ``W ⊙ dL/dW``, which is what is computed here from the shared
    backward.
    """
    return float(sum(float((w.detach() * g).abs().sum()) for w, g in zip(_weights(session), session.shared("weight_grads"))))


@register_proxy(
    "plain", higher_is_better=True, needs_labels=True, needs_data=True, removes_bn=False, uses=("weight_grads",),
    description="signed first-order saliency W * dL/dW summed over weights",
    citation="Mozer & Smolensky 1989 (as the 'plain' baseline of " + _ZC + ")",
)
def plain(session) -> float:
    """``sum W ⊙ dL/dW`` (signed), the "plain" baseline of Abdelfattah et al. 2021.

    Declared higher-is-better as in the papers' tables, although it correlates
    negatively with accuracy on NAS-Bench-201 (about -0.4 on connected cells).
    """
    return float(sum(float((w.detach() * g).sum()) for w, g in zip(_weights(session), session.shared("weight_grads"))))


@register_proxy(
    "grasp", higher_is_better=True, needs_labels=True, needs_data=True, removes_bn=False, uses=("weight_grads", "hvp"),
    description="GraSP gradient-signal preservation -W * (H g) summed over weights",
    citation="Wang et al., Picking Winning Tickets Before Training by Preserving Gradient Flow, ICLR 2020; " + _ZC,
)
def grasp(session) -> float:
    """GraSP score ``sum -W ⊙ (H g)`` with temperature T=1 and one iteration (the reference's defaults).

    ``g`` is the loss gradient and ``H g`` the Hessian-gradient product of the
    same loss, obtained by differentiating ``sum(stop_grad(g) * g)``. The
    reference runs two separate forward passes for ``g`` and ``H g``; here
    both come from one forward graph (identical values: train-mode forward
    passes are deterministic). The sign follows the reference (which negates
    the GraSP paper's pruning criterion so that higher is better).
    """
    return float(sum(float((-w.detach() * h).sum()) for w, h in zip(_weights(session), session.shared("hvp"))))


@register_proxy(
    "fisher", higher_is_better=True, needs_labels=True, needs_data=True, removes_bn=False, uses=("fisher",),
    description="Fisher channel saliency 0.5*mean_n(sum_hw act*grad)^2, broadcast over each channel's weights",
    citation="Theis et al., Faster gaze prediction with dense networks and Fisher pruning, 2018; Turner et al., BlockSwap, ICLR 2020; " + _ZC,
)
def fisher(session) -> float:
    """Fisher pruning saliency (Theis et al. 2018; Turner et al. 2020), as in Abdelfattah et al. 2021.

    For each conv/linear output channel ``k``: ``g_nk = sum_spatial(a * dL/da)``
    over the layer's output activation ``a`` of sample ``n``, and
    ``Δ_k = 0.5 * mean_n g_nk^2``. Like the reference, each channel's value is
    broadcast over that channel's weights before summing, i.e. multiplied by
    the fan-in ``weight[k].numel()``. Deviation: for linear layers applied to
    token sequences (N, T, D) the channel axis is the last one (the reference
    would sum over features instead).
    """
    total = 0.0
    for m, f in zip(session.layers, session.shared("fisher")):
        fan_in = m.weight[0].numel()
        total += float(f.abs().sum()) * fan_in
    return total


def _weights(session) -> list[torch.Tensor]:
    return [m.weight for m in session.layers]
