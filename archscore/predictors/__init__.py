"""Surrogate predictors and learning-curve extrapolators."""

from archscore.predictors.curves import EarlyStopping, extrapolate, probability_of_improvement  # noqa: F401  (registers lc:*, train:*)
