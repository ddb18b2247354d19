"""Score many architectures with zero-cost proxies into a resumable CSV (``archscore score``).

The CSV (index column ``arch``: the space's string for each architecture, one
column per proxy, raw scores) is what ``scores=`` contexts, the ``zc``
encoding and ``archscore bench predictors --scores`` read. Architectures come
from ``--archs FILE`` (one string per line) or ``--sample N``: ``N`` cells
drawn without replacement, ``numpy.random.default_rng(seed).choice``, from
the NAS-Bench-201 table's cells in the benchmark's index order
(``--connected-only``: only cells with an input-output path), so a sample
names benchmark cells whatever the local enumeration order.

Networks are built after ``torch.manual_seed(--init-seed)`` and scored on
one minibatch of real images (``--data``: an ``.npz``, the CIFAR-10 JPEG
tarball or a data folder; the default batch is the shared data's reference
batch). Rows are appended every ``--chunk`` architectures, and architectures
already in ``--out`` are skipped, so an interrupted run resumes where it
stopped; ``--shard K/M`` scores every M-th architecture starting at K, for
M processes side by side (each with its own ``--out``; ``bench predictors
--scores a.csv,b.csv`` reads several files).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

logger = logging.getLogger(__name__)

#: Proxies scored by default: the ``zc:ensemble`` set without flops (on NB201 it ranks exactly like params) plus nwot.
DEFAULT_SCORE_PROXIES = ("meco", "jacov", "nwot", "synflow", "params")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="CSV to write (appended to and resumed from if it exists)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--archs", type=Path, default=None, help="text file with one architecture string per line")
    src.add_argument("--sample", type=int, default=None, help="number of NB201 benchmark cells to draw (needs the NB201 table in --data)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed for --sample (default 0)")
    p.add_argument("--connected-only", action="store_true", help="--sample draws only cells with an input-output path")
    p.add_argument("--space", default="nb201", help="search space of the architectures (default nb201)")
    p.add_argument("--data", type=Path, default=None, help="images (.npz, JPEG tarball) or data folder (default: $ARCHSCORE_DATA)")
    p.add_argument("--proxies", default=",".join(DEFAULT_SCORE_PROXIES),
                   help=f"comma-separated proxy names (default {','.join(DEFAULT_SCORE_PROXIES)})")
    p.add_argument("--batch-size", type=int, default=64, help="images in the minibatch (default 64)")
    p.add_argument("--batch-seed", type=int, default=0, help="which images: default_rng(seed).permutation(N)[:batch-size] (default 0)")
    p.add_argument("--init-seed", type=int, default=42, help="torch.manual_seed before each build (default 42, the reference protocol)")
    p.add_argument("--proxy-seed", type=int, default=42, help="seed of the proxy computation (default 42)")
    p.add_argument("--shard", default="0/1", help="K/M: score the K-th of M interleaved shards of the list (default 0/1)")
    p.add_argument("--chunk", type=int, default=50, help="architectures per appended block of rows (default 50)")
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default: cpu)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/M"`` -> ``(K, M)`` with ``0 <= K < M``."""
    try:
        k, m = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like K/M (e.g. 0/2), got {text!r}") from None
    if not (m >= 1 and 0 <= k < m):
        raise ValueError(f"--shard K/M needs M >= 1 and 0 <= K < M, got {text!r}")
    return k, m


def sample_benchmark_cells(table_archs: Sequence[Any], n: int, seed: int, connected_only: bool) -> list[Any]:
    """``n`` cells of the benchmark table (index order), drawn with ``default_rng(seed).choice(..., replace=False)``."""
    pool = [a for a in table_archs if a.is_connected()] if connected_only else list(table_archs)
    if not 1 <= n <= len(pool):
        raise ValueError(f"--sample must be in [1, {len(pool)}] for this pool, got {n}")
    rows = np.random.default_rng(seed).choice(len(pool), size=n, replace=False)
    return [pool[i] for i in rows]


def read_archs_file(path: Path, space: Any) -> list[Any]:
    """Architectures from a text file: one string per line; blank lines and ``#`` comments are skipped."""
    if not path.is_file():
        raise FileNotFoundError(f"--archs file not found: {path}")
    archs = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            archs.append(space.from_string(text))
        except ValueError as exc:
            raise ValueError(f"{path}:{lineno}: {exc}") from None
    if not archs:
        raise ValueError(f"--archs file {path} holds no architecture strings")
    return archs


def _already_scored(out: Path, proxies: Sequence[str]) -> set[str]:
    import pandas as pd

    if not out.exists():
        return set()
    done = pd.read_csv(out)
    if "arch" not in done.columns:
        raise ValueError(f"{out} exists but has no 'arch' column: not an archscore score file")
    missing = [p for p in proxies if p not in done.columns]
    if missing:
        raise ValueError(f"{out} exists with other columns (missing {', '.join(missing)}); "
                         "use another --out or the same --proxies")
    return set(done["arch"].astype(str))


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from archscore.data import load_batch
    from archscore.benchmarks import default_data_dir, load_nb201
    from archscore.proxies import list_proxies, score_archs
    from archscore.spaces import get_space

    t0 = time.perf_counter()
    proxies = [p.strip() for p in args.proxies.split(",") if p.strip()]
    unknown = [p for p in proxies if p not in list_proxies()]
    if not proxies or unknown:
        raise ValueError(f"unknown proxies {unknown or args.proxies!r}; choose from {', '.join(list_proxies())}")
    k, m = parse_shard(args.shard)
    if args.chunk < 1:
        raise ValueError(f"--chunk must be >= 1, got {args.chunk}")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    space = get_space(args.space)
    data_dir = args.data if args.data is not None else default_data_dir()
    if data_dir is None:
        raise ValueError("no images: pass --data (npz, JPEG tarball or data folder) or set $ARCHSCORE_DATA")

    if args.archs is not None:
        archs = read_archs_file(args.archs, space)
    else:
        if not Path(data_dir).is_dir():
            raise ValueError(f"--sample needs --data to be a data folder holding nb201/nb201_cifar10.csv, got the file {data_dir}")
        archs = sample_benchmark_cells(load_nb201(data_dir).archs, args.sample, args.seed, args.connected_only)
    archs = archs[k::m]
    done = _already_scored(args.out, proxies)
    todo = [a for a in archs if space.to_string(a) not in done]
    print(f"{len(archs)} architectures in shard {k}/{m}; {len(archs) - len(todo)} already in {args.out}; scoring {len(todo)} "
          f"with {', '.join(proxies)}")
    if not todo:
        return 0

    inputs, targets, desc = load_batch(data_dir, args.batch_size, args.batch_seed)
    print(f"batch: {desc}")
    torch.set_num_threads(args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(todo), desc="scoring", unit="arch", disable=args.no_progress)
    for start in range(0, len(todo), args.chunk):
        block = todo[start:start + args.chunk]
        df = score_archs(block, inputs, targets, proxies, space=space, seed=args.proxy_seed, init_seed=args.init_seed,
                         device=args.device, nan_policy="warn", progress=False)
        # Append block by block: an interrupted run loses at most one block.
        df.to_csv(args.out, mode="a", header=not args.out.exists() or args.out.stat().st_size == 0)
        bar.update(len(block))
    bar.close()
    print(f"wrote {len(todo)} rows to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0
