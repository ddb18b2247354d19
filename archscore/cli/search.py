"""Search a tabular benchmark (or your table) with a strategy that spends few queries (``archscore search``).

Example::

    archscore search --space nb201 --strategy bananas --budget 50 --data ../shared/data \\
        --target valid_acc_200ep --report test_acc_200ep --seed 0 --out run/
    archscore search ... --pool 1000 --pool-estimator zc:ensemble --scores pool.csv

``--data`` is a table with an ``arch`` column (CSV) or a data folder holding
the NAS-Bench-201 table. The history is written to ``OUT/history.csv`` as the
run goes (rerun the same command to resume a killed run), the best-so-far
curve to ``OUT/best_so_far.png``. A pool is scored in one call of
``--pool-estimator``, from ``--scores`` (``archscore score`` CSVs, comma
separated) when given, else live on a minibatch of ``--images``.

Constraints are checked before a query is spent (``--constraint``,
repeatable): ``NAME OP NUMBER[UNIT]`` with NAME a hardware estimator
(``hw:latency``, ``hw:params``, ``hw:macs``, ``hw:peak_memory``,
``hw:peak_sram``, or ``params``/``latency``/... for short) or a column of the
table, OP one of ``<= < >= >``, and UNIT ``us``/``ms``/``s`` (converted to
ms), ``B``/``KB``/``MB``/``KiB``/``MiB`` or ``k``/``M``/``G``::

    archscore search ... --constraint "hw:latency<=5ms" --constraint "params<=1.5M"

``--store PATH`` keeps the history in a score store (SQLite; rerunning the
same command resumes from it) together with the pool's live scores, which
later runs with the same settings reuse instead of recomputing.

Parallel evaluation: ``--workers N`` (local processes), ``--dask-local N`` or
``--dask-scheduler tcp://HOST:PORT`` evaluate each batch of proposals
concurrently; the history is the one the serial run writes. Strategies
propose ``batch_size`` architectures at a time (``--param batch_size=8``)::

    archscore search --strategy rea --param batch_size=8 --workers 8 --budget 200 --out run/

Multi-objective search (``--objective NAME=max|min``, repeatable; columns
other than the target and report are read with each query, ``--strategy
nsga2``) writes the Pareto front to ``OUT/front.csv``::

    archscore search --data table.csv --strategy nsga2 --target valid_acc_200ep \\
        --objective valid_acc_200ep=max --objective edgegpu_latency=min --budget 100 --out run/
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="nb201", help="search space (default nb201)")
    p.add_argument("--strategy", default="bananas", help="search strategy (default bananas; see `archscore info`)")
    p.add_argument("--budget", type=int, required=True, help="queries (architectures trained)")
    p.add_argument("--data", type=Path, default=None, help="table CSV with an 'arch' column, or a data folder with the NB201 table (default $ARCHSCORE_DATA)")
    p.add_argument("--target", default="valid_acc_200ep", help="column the search maximises (default valid_acc_200ep)")
    p.add_argument("--report", default=None, help="column recorded for the chosen architectures (e.g. test_acc_200ep)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--out", type=Path, default=None, help="folder for history.csv, run.json and best_so_far.png (resumed if it holds this run)")
    p.add_argument("--store", type=Path, default=None,
                   help="score store (SQLite) holding the history (resumed when it holds this run) and the pool's live "
                        "scores (reused by later runs); --out then gets the plot and a copy of the history")
    p.add_argument("--pool", type=int, default=None, help="warm start: sample and rank this many architectures first")
    p.add_argument("--pool-estimator", default="zc:ensemble", help="estimator ranking the pool in one call (default zc:ensemble)")
    p.add_argument("--pool-keep", type=int, default=None, help="how many of the pool's top the strategy may start from (default all)")
    p.add_argument("--scores", default=None, help="precomputed proxy scores for the pool (archscore score CSVs, comma separated)")
    p.add_argument("--images", type=Path, default=None, help="images for live pool scoring (.npz, CIFAR-10 tarball or data folder; default: --data)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="strategy parameter (JSON value), repeatable, e.g. --param acquisition=\"ucb\"")
    p.add_argument("--max-params", type=float, default=None, help="refuse architectures with more parameters (checked before a query)")
    p.add_argument("--constraint", action="append", default=[], metavar="EXPR",
                   help="constraint checked before a query, repeatable: NAME OP NUMBER[UNIT], e.g. 'hw:latency<=5ms', "
                        "'params<=1.5M', 'edgegpu_latency<=3' (a table column)")
    p.add_argument("--objective", action="append", default=[], metavar="NAME=max|min",
                   help="objective of a multi-objective search (e.g. --strategy nsga2), repeatable: the target, the report "
                        "or another table column, e.g. --objective edgegpu_latency=min")
    ex = p.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=int, default=None, metavar="N",
                    help="evaluate each batch of proposals on N local worker processes (default: in this process); "
                         "give the strategy a batch_size >= N, e.g. --param batch_size=4")
    ex.add_argument("--dask-local", type=int, default=None, metavar="N", help="evaluate batches on a Dask LocalCluster of N workers")
    ex.add_argument("--dask-scheduler", default=None, metavar="ADDRESS", help="evaluate batches on a running Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--timeout-per-query", type=float, default=None, metavar="SECONDS",
                   help="with workers: record a query as failed when it takes longer (local workers: killed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _strategy_params(items: list[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--param needs KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def _objectives(items: list[str]) -> dict[str, str] | None:
    out = {}
    for item in items:
        name, sep, d = item.rpartition("=")
        if not sep or not name.strip() or d.strip() not in ("min", "max"):
            raise ValueError(f"--objective needs NAME=max or NAME=min, got {item!r}")
        out[name.strip()] = d.strip()
    return out or None


def _executor(args: argparse.Namespace):
    """The executor of --workers / --dask-local / --dask-scheduler (None: evaluate in this process)."""
    from archscore.executor import make_executor

    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.timeout_per_query is not None and not args.timeout_per_query > 0:
        raise ValueError(f"--timeout-per-query must be > 0 seconds, got {args.timeout_per_query}")
    if args.dask_local is None and args.dask_scheduler is None and (args.workers is None or args.workers == 1):
        if args.timeout_per_query is not None:
            raise ValueError("--timeout-per-query needs --workers N (N >= 2), --dask-local or --dask-scheduler")
        return None
    return make_executor(workers=args.workers, dask_local=args.dask_local, dask_scheduler=args.dask_scheduler,
                         timeout=args.timeout_per_query)


def load_table(path: Path | None):
    """The table behind ``--data``: a CSV file, or the NB201 table of a data folder."""
    import pandas as pd

    from archscore.benchmarks import load_nb201

    if path is None or Path(path).is_dir():  # the NB201 table of the data folder (--data, else $ARCHSCORE_DATA)
        return load_nb201(path).table
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"table not found: {path}")
    return pd.read_csv(path)


def plot_best_so_far(curves: dict[str, Any], path: Path, ylabel: str) -> None:
    """Best-so-far value vs queries, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, y in curves.items():
        ax.plot(np.arange(1, len(y) + 1), y, label=label)
    ax.set_xlabel("queries")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from archscore.search import Pool, TabularEvaluator, search

    from archscore.search.constraints import as_constraints

    table = load_table(args.data)
    objectives = _objectives(args.objective)
    constraints: list = list(args.constraint)
    as_constraints(constraints)  # a malformed expression fails here, before the table is indexed
    # objectives that are table columns (other than target/report) come with each query
    extra = [c for c in (objectives or {}) if c not in (args.target, args.report, "value", "report") and c in table.columns]
    ev = TabularEvaluator(table, target=args.target, report=args.report, space=args.space, extra=extra)
    pool = None
    data = None
    if args.pool is not None or args.scores is not None:
        pool = Pool(size=args.pool, estimator=args.pool_estimator, keep=args.pool_keep)
        if args.scores is None:
            from archscore.data import default_data_dir, load_batch

            src = args.images or args.data or default_data_dir()
            x, y, desc = load_batch(Path(src) if src is not None else None, 64, 0)
            logger.info("pool scored live on %s", desc)
            data = (x, y)
    if args.max_params is not None:
        constraints.append(("hw:params", "<=", args.max_params))
    executor = _executor(args)
    if args.store is not None and args.out is not None:
        if args.out.exists() and not args.out.is_dir():
            raise ValueError(f"--out {args.out} is a file; it names a folder")
        args.out.mkdir(parents=True, exist_ok=True)
    res = search(args.space, args.strategy, ev, budget=args.budget, seed=args.seed, pool=pool, data=data, scores=args.scores,
                 out=args.out if args.store is None else None, store=args.store, constraints=constraints or None, objectives=objectives, progress=not args.no_progress,
                 strategy_params=_strategy_params(args.param), executor=executor)
    if res.best is None:
        print("no successful query")
        return 1
    b = res.best
    line = f"best after {len(res.history)} queries: {b.arch}  {args.target}={b.value:.4f}"
    if args.report:
        line += f"  {args.report}={b.report:.4f}"
    print(line)
    if res.n_refused:
        print(f"refused before any query (constraints): {len(res.refused)} architectures")
    if objectives:
        front = res.front
        print(f"Pareto front of {', '.join(f'{k} ({d})' for k, d in objectives.items())}: {len(front)} architectures")
        print(front.to_string(index=False))
        if args.out is not None:
            front.to_csv(Path(args.out) / "front.csv", index=False)
    if res.pool_seconds or res.surrogate_seconds:
        print(f"estimator cost: pool {res.pool_seconds:.1f} s, surrogate fits {res.surrogate_seconds:.1f} s")
    if args.out is not None:
        col = "report" if args.report else "value"
        curve = res.best_so_far(col)
        try:
            plot_best_so_far({f"{args.strategy} seed {args.seed}": curve}, Path(args.out) / "best_so_far.png",
                             f"{args.report or args.target} of the best by {args.target}")
        except ImportError:
            logger.warning("matplotlib is not installed: no plot (pip install 'archscore[plot]')")
        np.savetxt(Path(args.out) / "best_so_far.txt", curve, fmt="%.6g")
        if len(res.refused):
            res.refused.to_csv(Path(args.out) / "refused.csv", index=False)
        if args.store is not None:  # the store holds the resumable history; this is a copy to read
            res.history.to_csv(Path(args.out) / "history.csv", index=False)
        print(f"history: {Path(args.out) / 'history.csv'}")
    if args.store is not None:
        print(f"history kept in the score store {args.store} (rerun the same command to resume)")
    return 0
