"""Surrogate predictors and learning-curve extrapolators."""

from archscore.predictors import zc_ensemble  # noqa: F401,E402  (registers "zc:ensemble")
