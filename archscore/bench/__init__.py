"""Benchmarks against ground truth (``archscore bench NAME``).

Each benchmark prints its report and, with ``--out``, writes ``OUT/results.md``:
the exact command line, the settings and the same tables as printed. A
benchmark whose checks fail exits with status 1.
"""

# Each module listed here exposes add_arguments(parser) and run(args) -> int and renders through
# archscore.bench.report; adding a benchmark is one line in this table (the CLI imports only the one run).

#: ``archscore bench <name>`` -> (implementing module, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "proxies": ("archscore.bench.proxies", "zero-cost proxies against NAS-Bench-201: rank correlations, reference agreement, cost"),
    "predictors": ("archscore.bench.predictors", "surrogate predictors x encodings on NB201 and NAS-Bench-Graph (White et al. 2021)"),
    "scale": ("archscore.bench.scale", "scoring at scale: 1/2 local workers and Dask throughput, store overhead, resume, RSS"),
    "curves": ("archscore.bench.curves", "learning-curve extrapolation on NB201 curves: MAE, Spearman, 90% coverage, cost"),
}
