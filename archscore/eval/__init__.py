"""Evaluation: metrics against ground truth, benchmark loaders and plots."""

from archscore.eval import metrics
from archscore.eval.metrics import bootstrap_ci, kendall, mae, pearson, precision_at_k, regret, spearman

__all__ = ["metrics", "spearman", "kendall", "pearson", "precision_at_k", "regret", "mae", "bootstrap_ci"]
