"""End to end: BANANAS over NB201 cells that are really trained, warm-started from a zero-cost proxy pool.

1. A pool of ``--pool`` random NB201 cells is ranked by ``zc:ensemble`` in ONE
   call (its scores are ranks within the list) on one CIFAR-10 minibatch.
2. BANANAS starts from the pool's top and spends ``--budget`` queries; each
   query trains the cell for a few epochs on a small CIFAR-10 subset
   (``train:short``, NB201 recipe at 16x16: by default 4 epochs of batches of
   64 on 2,400 of 3,000 CIFAR-10 training images, validated on the other 600)
   and returns its validation accuracy.
3. The history is written to ``--out`` (rerun to resume a killed run).

Run from the project root (needs the shared data: ``$ARCHSCORE_DATA`` or ``--data``)::

    python examples/bananas_nb201_train.py --data ../shared/data --budget 12 --pool 100 --out runs/example

Timing on 2 CPU cores is printed at the end.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import torch

from archscore.data import default_data_dir
from archscore.data import load_batch
from archscore.search import Pool, TrainingEvaluator, search


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=default_data_dir(), help="shared data folder (CIFAR-10)")
    p.add_argument("--budget", type=int, default=12)
    p.add_argument("--pool", type=int, default=100)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--limit", type=int, default=3000, help="CIFAR-10 training images used (80%% train, 20%% validation)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/example"))
    args = p.parse_args()
    if args.data is None:
        raise SystemExit("set $ARCHSCORE_DATA or pass --data (the folder with cifar10/)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    x, y, desc = load_batch(args.data, 64, 0)
    print(f"proxy batch: {desc}")
    evaluator = TrainingEvaluator("train:short", epochs=args.epochs, limit=args.limit, batch_size=args.batch_size,
                                  data_path=str(args.data), seed=args.seed, progress=False)
    res = search("nb201", "bananas", evaluator, budget=args.budget, seed=args.seed,
                 pool=Pool(size=args.pool, estimator="zc:ensemble", keep=50), data=(x, y), out=args.out, progress=True,
                 strategy_params={"n_init": 3})
    h = res.history
    print(h[["query", "arch", "value", "cost", "epochs", "phase"]].to_string(index=False))
    print(f"\nbest: {res.best.arch}  validation accuracy {res.best.value:.2f}% after {args.epochs} epochs on {args.limit} images")
    print(f"pool scoring {res.pool_seconds:.0f} s ({res.pool_seconds / args.pool:.2f} s per cell), training {h['cost'].sum():.0f} s, "
          f"surrogate {res.surrogate_seconds:.0f} s, total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
