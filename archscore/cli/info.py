"""List the registered search spaces, zero-cost proxies, estimators (with the module defining each) and benchmarks."""

from __future__ import annotations

import argparse

import archscore
from archscore.base import ESTIMATORS, list_estimators
from archscore.bench import COMMANDS as BENCHMARKS
from archscore.proxies import list_proxies
from archscore.spaces import SPACES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--family", default=None,
                   help="list only the estimators of this family (e.g. proxy, surrogate, curve); default: all families")


def run(args: argparse.Namespace) -> int:
    names = list_estimators(family=args.family) if args.family else list(ESTIMATORS)
    if args.family and not names:
        families = sorted({ESTIMATORS.create(n).get_tags().family for n in ESTIMATORS} - {None, ""})
        raise ValueError(f"no estimator of family {args.family!r}; families: {', '.join(families)}")
    print(f"archscore {archscore.__version__}")
    if not args.family:
        print("\nSearch spaces:")
        for name in SPACES:
            print(f"  {name:<12} {SPACES.metadata(name).get('description', '')}")
        proxies = list_proxies()
        print(f"\nZero-cost proxies ({len(proxies)}): {', '.join(proxies)}")
    title = f"Estimators of family {args.family!r}" if args.family else "Estimators"
    print(f"\n{title} ({len(names)}):")
    width = max((len(n) for n in names), default=0)
    for name in names:
        entry = ESTIMATORS.entry(name)
        print(f"  {name:<{width}}  {entry.module:<40} {ESTIMATORS.metadata(name).get('description', '')}")
    if not args.family:
        print(f"\nBenchmarks (archscore bench NAME): {', '.join(BENCHMARKS)}")
    return 0
