"""Sample a pool of NAS-Bench-201 candidates and show the space and metrics at work.

With the NAS-Bench-201 table at hand (``--data`` or ``$ARCHSCORE_DATA``), the
sampled cells are looked up in it and a baseline ranking is evaluated against
the true accuracies.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from archscore.eval.benchmarks import default_data_dir


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=20, help="number of candidate cells (default 20)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--data", type=Path, default=None, help="shared data folder (default: $ARCHSCORE_DATA)")


def run(args: argparse.Namespace) -> int:
    import archscore
    from archscore.eval import metrics
    from archscore.eval.benchmarks import load_nb201

    t0 = time.perf_counter()
    space = archscore.get_space("nb201")
    pool = space.sample(args.n, seed=args.seed)
    est = archscore.create_estimator("random", seed=args.seed)
    scores = est.predict(pool)
    print(f"Sampled {len(pool)} NB201 cells (seed {args.seed}).")
    print(f"{'rank':>4}  {'score':>6}  {'params (M)':>10}  {'conn':>4}  cell")
    order = scores.argsort()[::-1]
    for rank, i in enumerate(order, start=1):
        n_params = sum(p.numel() for p in space.build(pool[i]).parameters()) / 1e6
        print(f"{rank:>4}  {scores[i]:6.3f}  {n_params:10.3f}  {'yes' if pool[i].is_connected() else 'no':>4}  {space.to_string(pool[i])}")
    data_dir = args.data or default_data_dir()
    if data_dir is not None:
        bench = load_nb201(data_dir)
        acc = bench.table.set_index("arch")["valid_acc_200ep"]
        y = acc.loc[[space.to_string(a) for a in pool]].to_numpy()
        print(f"\nAgainst valid_acc_200ep: Spearman {metrics.spearman(y, scores):+.3f}, "
              f"Kendall {metrics.kendall(y, scores):+.3f}, regret@1 {metrics.regret(y, scores):.2f} points (random baseline)")
    else:
        print("\nNo NAS-Bench-201 table found (--data or $ARCHSCORE_DATA): ground-truth metrics skipped.")
    print(f"Done in {time.perf_counter() - t0:.1f} s.")
    return 0
