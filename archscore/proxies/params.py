"""params: number of parameters, a baseline of NAS-Bench-Suite-Zero (Krishnakumar et al. 2022)."""

from __future__ import annotations

from archscore.proxies.base import register_proxy


@register_proxy(
    "params", higher_is_better=True, needs_labels=False, needs_data=False, removes_bn=False,
    description="number of parameters (elements of model.parameters(), shared ones once)",
    citation="Krishnakumar et al., NAS-Bench-Suite-Zero: Accelerating Research on Zero Cost Proxies, NeurIPS 2022 Datasets and Benchmarks",
)
def params(session) -> float:
    """Number of parameter elements, each shared parameter counted once (NAS-Bench-Suite-Zero's ``params`` baseline)."""
    return float(sum(p.numel() for p in session.model.parameters()))
