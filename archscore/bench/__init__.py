"""Benchmarks against ground truth: ``archscore bench NAME`` (applications layer).

Each benchmark module exposes ``add_arguments(parser)`` and ``run(args) -> int``
and writes ``OUT/results.md`` (the command line, the settings and the result
tables) through :mod:`archscore.bench.report`; adding one is one line in
:data:`COMMANDS`. A benchmark whose checks fail exits with status 1.
"""

#: ``archscore bench <name>`` -> (implementing module, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "proxies": ("archscore.bench.proxies", "zero-cost proxies against NAS-Bench-201: rank correlations, reference agreement, cost"),
    "predictors": ("archscore.bench.predictors", "surrogate predictors x encodings on NB201 and NAS-Bench-Graph (White et al. 2021)"),
    "curves": ("archscore.bench.curves", "learning-curve extrapolation on NB201 curves: MAE, Spearman, 90% coverage, cost"),
}
