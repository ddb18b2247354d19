"""flops: FLOPs of one forward pass, counted by torch, a baseline of NAS-Bench-Suite-Zero (Krishnakumar et al. 2022)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from archscore.proxies.base import register_proxy


@register_proxy(
    "flops", higher_is_better=True, needs_labels=False, needs_data=False, removes_bn=False,
    description="floating-point operations of one forward pass per input sample, counted by torch's FlopCounterMode",
    citation="Krishnakumar et al., NAS-Bench-Suite-Zero: Accelerating Research on Zero Cost Proxies, NeurIPS 2022 Datasets and Benchmarks",
)
def flops(session) -> float:
    """FLOPs of a forward pass for ONE sample of the input's shape (NAS-Bench-Suite-Zero's ``flops`` baseline).

    Counted, not estimated: :class:`torch.utils.flop_counter.FlopCounterMode`
    records every matrix multiplication, convolution and attention kernel
    that the forward pass dispatches (2 FLOPs per multiply-accumulate; norm
    layers, activations, pooling and additions are not counted, as in the
    usual MAC counts). Runs in eval mode without gradients on a zero input of
    shape ``(1, *inputs.shape[1:])`` in the inputs' dtype (token id 0 for
    token-id inputs). Divide by 2 for multiply-accumulates.
    """
    model = session.model
    was = model.training
    model.eval()
    x = torch.zeros((1,) + tuple(session.inputs.shape[1:]), dtype=session.inputs.dtype, device=session.device)
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(x)
    finally:
        model.train(was)
    return float(counter.get_total_flops())
