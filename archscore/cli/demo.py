"""Sample a pool of NAS-Bench-201 candidates, score them with zero-cost proxies on real images and rank them.

Every candidate network is built untrained and scored on one minibatch with
the proxies of ``zc:ensemble`` (plus ``params``) in a single
``archscore.proxies.compute`` call per network; the ensemble (a label-free
log-rank aggregation) ranks the pool. Images come from ``--data`` (an
``.npz``, the CIFAR-10 JPEG tarball or a data folder) or ``$ARCHSCORE_DATA``;
without either, scikit-learn's bundled handwritten digits (upsampled to
32x32x3) stand in, and the output says so. When the NAS-Bench-201 table is at
hand (in the data folder), the ranking is checked against the true accuracies
and scatter plots are written to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import archscore
from archscore import metrics
from archscore.bench.plots import scatter_plots
from archscore.bench.ranking import ENSEMBLE, ensemble_scores, oriented, rank_scores
from archscore.data import default_data_dir, load_batch, resolve_data_file
from archscore.predictors.zc_ensemble import DEFAULT_PROXIES
from archscore.proxies import score_archs

NB201_TABLE = "nb201/nb201_cifar10.csv"

#: Proxies shown next to the ensemble score (the ensemble's own plus model size).
SHOWN_PROXIES = ("meco", "jacov", "synflow", "flops", "params")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=20, help="number of candidate cells")
    p.add_argument("--seed", type=int, default=0, help="sampling and proxy seed")
    p.add_argument("--data", type=Path, default=None,
                   help="images (.npz, CIFAR-10 JPEG tarball) or data folder with cifar10/ and nb201/ "
                        "(default: $ARCHSCORE_DATA, else scikit-learn's digits)")
    p.add_argument("--batch-size", type=int, default=64, help="images in the scoring minibatch")
    p.add_argument("--out", type=Path, default=Path("archscore_demo"),
                   help="folder for the scatter plots, written only with ground truth")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1: small-batch convolutions gain little from more, and it stays predictable on a shared machine)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _nb201_table(folder: Path | None) -> Path | None:
    """The NB201 CSV of the data folder, if there is one (the demo runs without it)."""
    if folder is None or not folder.is_dir():
        return None
    try:
        return resolve_data_file(folder, NB201_TABLE, "NB201 table")
    except FileNotFoundError:
        return None


def run(args: argparse.Namespace) -> int:
    if args.n < 2:
        raise ValueError(f"--n must be at least 2 to rank a pool, got {args.n}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    t0 = time.perf_counter()
    source = args.data if args.data is not None else default_data_dir()
    inputs, targets, desc = load_batch(source, args.batch_size, args.seed)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    table_path = _nb201_table(source)

    space = archscore.get_space("nb201")
    pool = space.sample(args.n, seed=args.seed)
    proxies = list(dict.fromkeys(list(DEFAULT_PROXIES) + list(SHOWN_PROXIES)))
    print(f"Sampled {len(pool)} NB201 cells (seed {args.seed}); scoring them untrained on {desc}.")
    print(f"Proxies: {', '.join(proxies)}; ranking: zc:ensemble = log-rank aggregation of {', '.join(DEFAULT_PROXIES)}.")
    t_score = time.perf_counter()
    frame = score_archs(pool, inputs, targets, proxies=proxies, space=space, seed=args.seed,
                        progress=not args.no_progress and sys.stderr.isatty())
    t_score = time.perf_counter() - t_score
    cols = {p: frame[p].to_numpy(dtype=float) for p in proxies}
    ens = ensemble_scores(cols, [a.is_connected() for a in pool])

    acc = None
    if table_path is not None:
        # Only one column is needed: read it directly (load_nb201 also parses all 15,625 cells).
        table = pd.read_csv(table_path, usecols=["arch", "valid_acc_200ep"])
        lookup = table.set_index("arch")["valid_acc_200ep"]
        strings = [space.to_string(a) for a in pool]
        missing = [s for s in strings if s not in lookup.index]
        if missing:
            raise ValueError(f"{table_path} lacks sampled cell {missing[0]!r}; is it the NB201 CIFAR-10 table?")
        acc = lookup.loc[strings].to_numpy(dtype=float)

    order = np.argsort(-ens, kind="stable")
    shown = [p for p in SHOWN_PROXIES if p != "params"]
    head = f"{'rank':>4}  {'ensemble':>8}  " + "  ".join(f"{p:>10}" for p in shown) + f"  {'params(M)':>9}  {'conn':>4}"
    head += f"  {'acc':>6}" if acc is not None else ""
    print("\n" + head + "  cell")
    for rank, i in enumerate(order, start=1):
        vals = "  ".join(f"{cols[p][i]:10.4g}" for p in shown)
        row = f"{rank:>4}  {ens[i]:8.3f}  {vals}  {cols['params'][i] / 1e6:9.3f}  {'yes' if pool[i].is_connected() else 'no':>4}"
        row += f"  {acc[i]:6.2f}" if acc is not None else ""
        print(row + f"  {space.to_string(pool[i])}")

    if acc is not None:
        print(f"\nAgainst NAS-Bench-201 valid_acc_200ep ({table_path}):")
        print(f"{'score':<12} {'Spearman':>9} {'Kendall':>8}")
        stats = {}
        for name, s in [(ENSEMBLE, ens)] + [(p, oriented(p, cols[p])) for p in SHOWN_PROXIES]:
            ok = ~np.isnan(s)
            try:
                rho, tau = metrics.spearman(acc[ok], rank_scores(s[ok])), metrics.kendall(acc[ok], rank_scores(s[ok]))
            except ValueError:  # constant scores on a tiny pool
                rho = tau = float("nan")
            stats[name] = rho
            print(f"{name:<12} {rho:+9.3f} {tau:+8.3f}")
        best = order[0]
        print(f"Top-ranked cell: {acc[best]:.2f}% (best in pool {acc.max():.2f}%, pool median {np.median(acc):.2f}%, "
              f"regret {metrics.regret(acc, ens):.2f} points).")
        paths = scatter_plots(args.out, "demo", acc, {ENSEMBLE: ens} | {p: cols[p] for p in SHOWN_PROXIES},
                              xlabel="valid_acc_200ep (%)", spearman=stats)
        print(f"Scatter plots: {', '.join(str(p) for p in paths.values())}")
    else:
        print("\nNo NAS-Bench-201 table found (data folder via --data or $ARCHSCORE_DATA): ground-truth check and plots skipped.")
    print(f"\nScored {len(pool)} cells in {t_score:.1f} s ({1000 * t_score / len(pool):.0f} ms per cell); total {time.perf_counter() - t0:.1f} s.")
    return 0
