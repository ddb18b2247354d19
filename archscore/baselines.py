"""Reference estimators that every evaluation should beat."""

from __future__ import annotations

import zlib

import numpy as np

from archscore.base import Estimator, Tags, register_estimator


@register_estimator("random", description="uniform random scores (a baseline); deterministic per seed and architecture")
class RandomEstimator(Estimator):
    """Scores each architecture with a pseudo-random number.

    The score depends only on ``seed`` and the architecture's exact graph, so
    an architecture gets the same score whatever else is in the batch.

    Parameters
    ----------
    seed : int, default=0
        Seed of the scores.
    """

    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.family = "baseline"
        return tags

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _predict(self, archs, **context):
        return np.array(
            [np.random.default_rng([int(self.seed), zlib.crc32(a.spec.encode())]).random() for a in archs]
        )
