"""Learning-curve extrapolation (``lc:*``) and cheap-training (``train:*``) estimators.

* :func:`extrapolate` -- mean and predictive interval at any future epoch of one curve.
* :func:`probability_of_improvement`, :class:`EarlyStopping` -- the early-termination rule.
* ``create_estimator("lc:last" | "lc:best" | "lc:pow3" | ... | "lc:combo" | "lc:combo-evidence" | "lc:svr" | "lc:rf" | "lc:sotl" | "lc:sotl-e")``.
* ``create_estimator("train:nb201" | "train:short")`` -- train briefly, return the curve and an estimate.
"""

from archscore.predictors.curves.extrapolate import (
    METHODS,
    EarlyStopping,
    Extrapolation,
    extrapolate,
    probability_of_improvement,
)
from archscore.predictors.curves.parametric import FAMILIES, FAMILY_NAMES, combine, fit_family, schedule_time
from archscore.predictors.curves.features import PathFeatures, prefix_features
from archscore.predictors.curves.estimators import (
    BestValue,
    LastValue,
    LcRegressor,
    ParametricExtrapolator,
    SumOfTrainingLosses,
)
from archscore.predictors.curves.cheap_training import CheapTraining

__all__ = [
    "METHODS", "EarlyStopping", "Extrapolation", "extrapolate", "probability_of_improvement",
    "FAMILIES", "FAMILY_NAMES", "combine", "fit_family", "schedule_time", "PathFeatures", "prefix_features",
    "BestValue", "LastValue", "LcRegressor", "ParametricExtrapolator", "SumOfTrainingLosses", "CheapTraining",
]
