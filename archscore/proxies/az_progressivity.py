"""AZ-NAS's progressivity (Lee & Ham, CVPR 2024): the smallest stage-to-stage gain in expressivity."""

from __future__ import annotations

import numpy as np

from archscore.proxies.az_nas import CITATION, AZStages
from archscore.proxies.base import register_proxy


@register_proxy(
    "az_progressivity", higher_is_better=True, needs_labels=False, needs_data=False, removes_bn=False, uses=(AZStages,),
    continuous_inputs=True,
    description="AZ-NAS progressivity: smallest stage-to-stage increase of the features' spectral entropy",
    citation=CITATION,
)
def az_progressivity(session) -> float:
    """AZ-NAS's progressivity (Lee & Ham 2024): ``min_l (E_l - E_{l-1})`` over consecutive stages.

    ``E_l`` as in ``az_expressivity`` (same pass): a network whose features
    lose expressivity at some stage scores low.
    """
    return float(np.min(np.diff(session.shared(AZStages)["entropies"])))
