"""AZ-NAS's expressivity (Lee & Ham, CVPR 2024): summed spectral entropy of the stage features."""

from __future__ import annotations

from archscore.proxies.az_nas import CITATION, AZStages
from archscore.proxies.base import register_proxy


@register_proxy(
    "az_expressivity", higher_is_better=True, needs_labels=False, needs_data=False, removes_bn=False, uses=(AZStages,),
    continuous_inputs=True,
    description="AZ-NAS expressivity: summed spectral entropy of the stage features' channel covariance (Kaiming init)",
    citation=CITATION,
)
def az_expressivity(session) -> float:
    """AZ-NAS's expressivity (Lee & Ham 2024): ``sum_l E_l`` over the stages.

    ``E_l`` is the entropy of the normalised eigenvalues of the channel
    covariance of stage ``l``'s features
    (:func:`~archscore.proxies.az_nas.spectral_entropy`), after AZ-NAS's
    Kaiming re-initialisation, in train mode, on a Gaussian batch of the
    inputs' shape (provider
    :class:`~archscore.proxies.az_nas.AZStages`, which also says which
    modules are stages).
    """
    return float(session.shared(AZStages)["entropies"].sum())
