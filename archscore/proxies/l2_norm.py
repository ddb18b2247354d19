"""l2_norm: sum of conv/linear weight norms, a baseline of NAS-Bench-Suite-Zero (Krishnakumar et al. 2022)."""

from __future__ import annotations

from archscore.proxies.base import register_proxy


@register_proxy(
    "l2_norm", higher_is_better=True, needs_labels=False, needs_data=False, removes_bn=False,
    description="sum over conv/linear layers of the L2 norm of the weight",
    citation="Krishnakumar et al., NAS-Bench-Suite-Zero: Accelerating Research on Zero Cost Proxies, NeurIPS 2022 Datasets and Benchmarks",
)
def l2_norm(session) -> float:
    """Sum over conv/linear layers of ``||W||_2`` (Frobenius), as NAS-Bench-Suite-Zero's ``l2_norm``."""
    return float(sum(float(m.weight.detach().norm()) for m in session.layers))
