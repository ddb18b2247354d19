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
    "oneshot": ("archscore.bench.oneshot", "one-shot supernet (SPOS) ranking vs training minutes and DARTS cells on NB201"),
    "hardware": ("archscore.bench.hardware", "hardware costs: few-shot latency prediction across devices, CPU latency of NB201 cells"),
    "transfer": ("archscore.bench.transfer", "transfer predictor, leave-one-task-out on TransNAS-Bench-101 and NAS-Bench-Graph"),
    "search": ("archscore.bench.search", "search strategies on NB201: test accuracy of the best by validation vs queries, with and without proxy pools"),
    "scale": ("archscore.bench.scale", "scoring at scale: 1/2 local workers and Dask throughput, store overhead, resume, RSS"),
    "multiobjective": ("archscore.bench.multiobjective", "multi-objective search on NB201 x HW-NAS-Bench: hypervolume of fronts found (nsga2, rea-mo, random) vs the true front"),
    "curves": ("archscore.bench.curves", "learning-curve extrapolation on NB201 curves: MAE, Spearman, 90% coverage, cost"),
}
