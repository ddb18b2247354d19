"""plain: signed first-order saliency ``sum W * dL/dW``, a baseline of Abdelfattah et al. 2021."""

from __future__ import annotations

from archscore.proxies.base import register_proxy
from archscore.proxies.weight_grads import WeightGrads, weights


@register_proxy(
    "plain", higher_is_better=True, needs_labels=True, needs_data=True, removes_bn=False, uses=(WeightGrads,),
    description="signed first-order saliency W * dL/dW summed over weights",
    citation="Mozer & Smolensky 1989 (as the 'plain' baseline of Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021)",
)
def plain(session) -> float:
    """``sum W ⊙ dL/dW`` (signed), the "plain" baseline of Abdelfattah et al. 2021.

    Declared higher-is-better as in the papers' tables, although it correlates
    negatively with accuracy on NAS-Bench-201 (about -0.4 on connected cells).
    """
    return float(sum(float((w.detach() * g).sum()) for w, g in zip(weights(session), session.shared(WeightGrads))))
