"""SynFlow (Tanaka et al. 2020) as a zero-cost proxy (Abdelfattah et al. 2021)."""

from __future__ import annotations

import torch

from archscore.proxies.base import register_proxy
from archscore.proxies.engine import bypass_batchnorm


@register_proxy(
    "synflow", higher_is_better=True, needs_labels=False, needs_data=False, removes_bn=True, modifies_weights=True, continuous_inputs=True,
    description="SynFlow: sum |W * dR/dW| for R = sum of outputs of the |W| network on an all-ones input (float64, BN removed)",
    citation="Tanaka et al., Pruning neural networks without any data by iteratively conserving synaptic flow, NeurIPS 2020; "
             "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021",
)
def synflow(session) -> float:
    """Synaptic flow ``sum_W |W ⊙ dR/dW|`` with ``R = sum(f_|θ|(1))``.

    As in the reference code: BatchNorm layers are bypassed (identity), every
    parameter and buffer is replaced by its absolute value, the network runs in
    float64 on ONE all-ones input of the batch's sample shape, ``R`` is the sum
    of its outputs, and the score sums ``|W ⊙ dR/dW|`` over conv/linear
    weights. The working copy's weights, dtypes and BatchNorm forwards are
    restored afterwards.

    Returned value: the raw float64 score (not its log). float64 keeps every
    NAS-Bench-201 cell finite (the largest are around 1e40, far below float64's
    1e308, whereas float32 overflows at 3e38); the ranking is exactly that of
    the reference. A network whose output does not depend on its weights along
    any path (e.g. a disconnected cell) scores 0, the bottom. Undefined for
    integer token-id inputs (no all-ones input) and for models without
    conv/linear layers. The model's own dtype does not matter: SynFlow always
    runs in float64.
    """
    session.require_layers("synflow")
    model = session.model
    with bypass_batchnorm(model), torch.no_grad():
        model.double()
        for t in list(model.parameters()) + list(model.buffers()):
            if torch.is_floating_point(t):
                t.abs_()
    x = torch.ones((1,) + tuple(session.inputs.shape[1:]), dtype=torch.float64, device=session.device)
    weights = [m.weight for m in session.layers]
    with bypass_batchnorm(model):
        out = model(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        grads = torch.autograd.grad(out.sum(), weights, allow_unused=True)
    total = torch.zeros((), dtype=torch.float64, device=session.device)
    for w, g in zip(weights, grads):
        if g is not None:
            total += (w.detach() * g).abs().sum()
    return float(total)
