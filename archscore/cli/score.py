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
batch). Scores go to a score cache (:mod:`archscore.bench.cache`,
``OUT.cache.jsonl``, keyed by cell, batch, seeds, space and proxy set) and
``--out`` is rewritten from it every ``--chunk`` architectures, so an
interrupted run resumes where it stopped and a rerun with other settings
never mixes its scores in; ``--shard K/M`` scores every M-th architecture starting at K, for
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
import pandas as pd
import torch
from tqdm.auto import tqdm

from archscore.bench.cache import ScoreCache, fingerprint
from archscore.benchmarks import load_nb201
from archscore.data import load_batch, resolve_data_file, resolve_image_source
from archscore.proxies import list_proxies, score_archs
from archscore.spaces import get_space

logger = logging.getLogger(__name__)

NB201_TABLE = "nb201/nb201_cifar10.csv"

#: Proxies scored by default: the ``zc:ensemble`` set without flops (on NB201 it ranks exactly like params) plus nwot.
DEFAULT_SCORE_PROXIES = ("meco", "jacov", "nwot", "synflow", "params")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="CSV to write (rewritten from the score cache after every chunk)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--archs", type=Path, default=None, help="text file with one architecture string per line")
    src.add_argument("--sample", type=int, default=None, help="number of NB201 benchmark cells to draw (needs the NB201 table in --data)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed for --sample")
    p.add_argument("--connected-only", action="store_true", help="--sample draws only cells with an input-output path")
    p.add_argument("--space", default="nb201", help="search space of the architectures")
    p.add_argument("--data", type=Path, default=None, help="images (.npz, JPEG tarball) or data folder (default: $ARCHSCORE_DATA)")
    p.add_argument("--proxies", default=",".join(DEFAULT_SCORE_PROXIES), help="comma-separated proxy names")
    p.add_argument("--batch-size", type=int, default=64, help="images in the minibatch")
    p.add_argument("--batch-seed", type=int, default=0, help="which images: default_rng(seed).permutation(N)[:batch-size]")
    p.add_argument("--init-seed", type=int, default=42, help="torch.manual_seed before each build (42: the reference protocol)")
    p.add_argument("--proxy-seed", type=int, default=42, help="seed of the proxy computation")
    p.add_argument("--shard", default="0/1", help="K/M: score the K-th of M interleaved shards of the list")
    p.add_argument("--chunk", type=int, default=50, help="architectures scored between two rewrites of --out")
    p.add_argument("--cache", type=Path, default=None, help="score cache to resume from (default: OUT.cache.jsonl beside --out)")
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default: cpu)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
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


def cache_path(out: Path, cache: Path | None) -> Path:
    """The score cache of ``--out``: ``--cache`` or ``OUT.cache.jsonl``."""
    return cache if cache is not None else out.with_name(out.name + ".cache.jsonl")


def write_csv(cache: ScoreCache, proxies: Sequence[str], out: Path) -> int:
    """Rewrite ``out`` (index ``arch``, one column per proxy) from every record of ``cache``; returns the row count."""
    records = cache.records()
    frame = pd.DataFrame([[r["scores"][p] for p in proxies] for r in records], columns=list(proxies),
                         index=pd.Index([r["arch"] for r in records], name="arch"))
    tmp = out.with_name(out.name + ".tmp")
    frame.to_csv(tmp)
    tmp.replace(out)  # atomic: an interrupted run never leaves a half-written CSV
    return len(frame)


def run(args: argparse.Namespace) -> int:
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
    cache_file = cache_path(args.out, args.cache)
    if args.out.exists() and not cache_file.exists():
        raise ValueError(f"{args.out} exists without its score cache {cache_file}; use another --out (or --cache)")

    if args.archs is not None:
        archs = read_archs_file(args.archs, space)
    else:
        if args.data is not None and args.data.is_file():
            raise ValueError(f"--sample needs --data to be a data folder holding {NB201_TABLE}, got the file {args.data}")
        table = resolve_data_file(args.data, NB201_TABLE, "NB201 table (for --sample)")
        archs = sample_benchmark_cells(load_nb201(table).archs, args.sample, args.seed, args.connected_only)
    archs = archs[k::m]
    image_source = resolve_image_source(args.data)
    inputs, targets, desc = load_batch(image_source, args.batch_size, args.batch_seed)
    cache = ScoreCache(cache_file, {"batch": fingerprint(inputs, targets), "init_seed": args.init_seed, "proxy_seed": args.proxy_seed,
                                    "space": args.space, "proxies": list(proxies)})
    cells = [space.to_string(a) for a in archs]
    todo_cells = set(cache.resume(cells))
    todo = [a for a, c in zip(archs, cells) if c in todo_cells]
    print(f"{len(archs)} architectures in shard {k}/{m}; {len(archs) - len(todo)} already in {cache_file}; scoring {len(todo)} "
          f"with {', '.join(proxies)} on {desc}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not todo:
        write_csv(cache, proxies, args.out)
        return 0
    torch.set_num_threads(args.threads)
    bar = tqdm(total=len(todo), desc="scoring", unit="arch", disable=args.no_progress)
    for start in range(0, len(todo), args.chunk):
        block = todo[start:start + args.chunk]
        df = score_archs(block, inputs, targets, proxies, space=space, seed=args.proxy_seed, init_seed=args.init_seed,
                         device=args.device, nan_policy="warn", progress=False)
        for cell, row in df.iterrows():
            cache.put(str(cell), {p: row[p] for p in proxies})
        write_csv(cache, proxies, args.out)
        bar.update(len(block))
    bar.close()
    print(f"scored {len(todo)} architectures; {args.out} holds {len(cache.records())} rows ({time.perf_counter() - t0:.1f} s)")
    return 0
