"""AZ-NAS's trainability (Lee & Ham, CVPR 2024): how close to 1 the stage-to-stage gradient gain is."""

from __future__ import annotations

import numpy as np

from archscore.proxies.az_nas import CITATION, AZStages
from archscore.proxies.base import register_proxy


@register_proxy(
    "az_trainability", higher_is_better=True, needs_labels=False, needs_data=False, removes_bn=False, uses=(AZStages,),
    continuous_inputs=True,
    description="AZ-NAS trainability: mean over stage pairs of -s - 1/s + 2, s the top singular value of the pulled-back gradient",
    citation=CITATION,
)
def az_trainability(session) -> float:
    """AZ-NAS's trainability (Lee & Ham 2024): the mean over consecutive stages of ``-s - 1/s + 2``.

    ``s`` is the largest singular value of the position-averaged product of a
    random ±1 gradient at a stage's output and its pull-back to the previous
    stage (:func:`~archscore.proxies.az_nas.stage_trainability`, same pass as
    ``az_expressivity``): 0 when gradients keep their scale across the stage,
    negative when they shrink or grow. Deviation: a stage through which the
    gradient passes unchanged scores
    :data:`~archscore.proxies.az_nas.IDENTITY_STAGE_SCORE` (the reference:
    ``-inf`` for the network).
    """
    terms = session.shared(AZStages)["trainability"]
    if not terms:
        session.undefined("AZ-NAS trainability: no stage's features depend differentiably on the previous stage's")
    return float(np.mean(terms))
