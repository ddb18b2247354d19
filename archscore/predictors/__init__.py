"""Surrogate predictors and learning-curve extrapolators."""
