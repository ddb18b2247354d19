"""SNIP connection sensitivity (Lee et al. 2019) as a zero-cost proxy (Abdelfattah et al. 2021)."""

from __future__ import annotations

from archscore.proxies.base import register_proxy
from archscore.proxies.weight_grads import WeightGrads, weights


@register_proxy(
    "snip", higher_is_better=True, needs_labels=True, needs_data=True, removes_bn=False, uses=(WeightGrads,),
    description="SNIP connection sensitivity |W * dL/dW| summed over weights",
    citation="Lee et al., SNIP: Single-shot Network Pruning based on Connection Sensitivity, ICLR 2019; "
             "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021",
)
def snip(session) -> float:
    """SNIP saliency ``sum |W ⊙ dL/dW|`` (Lee et al. 2019, as summed by Abdelfattah et al. 2021).

    The reference differentiates a multiplicative all-ones mask; its gradient
    is exactly ``W ⊙ dL/dW``, which is what is computed here from the shared
    backward.
    """
    return float(sum(float((w.detach() * g).abs().sum()) for w, g in zip(weights(session), session.shared(WeightGrads))))
