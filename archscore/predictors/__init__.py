"""Surrogate predictors, learning-curve extrapolators and cheap-training estimators."""

from archscore.predictors import gnn, mlp_ensemble, surrogate  # noqa: F401  (registers xgb, rf, gp, mlp_ensemble, gnn, surrogate)
from archscore.predictors import zc_ensemble  # noqa: F401  (registers "zc:ensemble")
from archscore.predictors.curves import EarlyStopping, extrapolate, probability_of_improvement  # noqa: F401  (registers lc:*, train:*)
from archscore.predictors import transfer  # noqa: F401  (registers "transfer")
