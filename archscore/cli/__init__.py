"""The ``archscore`` command line: ``info``, ``demo``, ``score`` and the ``bench`` group.

Benchmarks live in ``archscore/eval/bench_<name>.py``; each such module exposes
``add_arguments(parser)`` and ``run(args) -> int`` and is listed in
:data:`BENCHMARKS`, so ``archscore bench <name>`` needs no change here.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

#: ``archscore bench <name>`` -> module implementing it.
BENCHMARKS: dict[str, str] = {
    "proxies": "archscore.bench.proxies",
    "predictors": "archscore.bench.predictors",
    "curves": "archscore.bench.curves",
}

logger = logging.getLogger("archscore")


def _available_benchmarks() -> dict[str, object]:
    found = {}
    for name, module in BENCHMARKS.items():
        try:
            found[name] = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real missing dependency inside the module: surface it
                raise
    return found


def _cmd_info(args: argparse.Namespace) -> int:
    import archscore
    from archscore.base import ESTIMATORS
    from archscore.spaces import SPACES

    print(f"archscore {archscore.__version__}")
    print("\nSearch spaces:")
    for name in SPACES:
        print(f"  {name:<12} {SPACES.metadata(name).get('description', '')}")
    try:
        from archscore.proxies import list_proxies
    except ImportError:
        list_proxies = None
    if list_proxies is not None:
        names = list_proxies()
        print(f"\nZero-cost proxies ({len(names)}): {', '.join(names) or '(none yet)'}")
    print(f"\nEstimators ({len(ESTIMATORS)}):")
    for name in ESTIMATORS:
        print(f"  {name:<22} {ESTIMATORS.metadata(name).get('description', '')}")
    print(f"\nBenchmarks: {', '.join(_available_benchmarks()) or '(none yet)'}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from archscore.cli import demo

    return demo.run(args)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for tests and docs)."""
    import archscore

    parser = argparse.ArgumentParser(prog="archscore", description="Estimate neural architecture quality without full training.")
    parser.add_argument("--version", action="version", version=f"archscore {archscore.__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p_info = sub.add_parser("info", help="list spaces, proxies, estimators and benchmarks")
    p_info.set_defaults(func=_cmd_info)

    from archscore.cli import demo

    p_demo = sub.add_parser("demo", help="score and rank a pool of NB201 candidates", description=demo.__doc__)
    demo.add_arguments(p_demo)
    p_demo.set_defaults(func=_cmd_demo)

    from archscore.cli import score

    p_score = sub.add_parser("score", help="score many architectures with zero-cost proxies into a resumable CSV",
                             description=score.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    score.add_arguments(p_score)
    p_score.set_defaults(func=score.run)

    p_bench = sub.add_parser("bench", help="run a benchmark against ground truth")
    bench_sub = p_bench.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    for name, module in _available_benchmarks().items():
        p = bench_sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0], description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    p_bench.set_defaults(func=lambda a: (p_bench.print_help(), 2)[1])
    return parser


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (it may be swapped, e.g. by pytest's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _configure_logging(verbose: int) -> None:
    """One handler on the ``archscore`` logger; repeated ``main()`` calls do not stack handlers."""
    for h in [h for h in logger.handlers if isinstance(h, _CurrentStderrHandler)]:
        logger.removeHandler(h)
    handler = _CurrentStderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(max(logging.WARNING - 10 * min(verbose, 2), logging.DEBUG))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``archscore`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        # User errors: one clear line, no traceback (use -vv for it).
        logger.debug("command failed", exc_info=True)
        print(f"archscore: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
