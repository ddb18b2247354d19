"""Surrogate predictors and learning-curve extrapolators."""

from archscore.predictors import gnn, mlp_ensemble, surrogate  # noqa: F401  (registers xgb, rf, gp, mlp_ensemble, gnn, surrogate)
