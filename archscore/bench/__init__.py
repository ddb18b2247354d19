"""Benchmarks against ground truth: ``archscore bench <name>`` (applications layer)."""
