"""grad_norm: sum over conv/linear layers of the L2 norm of the loss gradient (Abdelfattah et al. 2021)."""

from __future__ import annotations

from archscore.proxies.base import register_proxy
from archscore.proxies.weight_grads import WeightGrads


@register_proxy(
    "grad_norm", higher_is_better=True, needs_labels=True, needs_data=True, removes_bn=False, uses=(WeightGrads,),
    description="sum over conv/linear layers of the L2 norm of the loss gradient",
    citation="Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021",
)
def grad_norm(session) -> float:
    """Sum over layers of ``||dL/dW||_2`` (Abdelfattah et al. 2021, "grad_norm").

    Same as the reference: Frobenius norm per conv/linear weight, summed.
    """
    return float(sum(float(g.norm()) for g in session.shared(WeightGrads)))
