"""Score many architectures with zero-cost proxies into a score store (``archscore score``).

Scores go to a score store (:mod:`archscore.store`, one SQLite file, ``--store
PATH``; created if absent): a row per (settings, architecture, proxy), where
the settings fix the space and its options, a fingerprint of the image batch,
the seeds, the batch size and the archscore version. Rerunning the same
command resumes: only what is missing is computed; a rerun with other settings
never sees (nor mixes in) the first run's scores. Each architecture's results
are written in one transaction, so a kill at any instant loses at most the
architectures being computed. Failures (an exception, a NaN score, a worker
that died twice, ``--timeout-per-arch``) are stored with their error, the run
goes on, and a summary at the end counts them; ``--retry-failed`` reruns them.

``--out FILE.csv`` (or ``.parquet``) also writes the requested architectures x
proxies (index column ``arch``, one column per proxy, NaN for failures) from
the store, atomically, every ``--chunk`` architectures and at the end;
``archscore store export`` writes any settings later. With ``--out`` alone
the store is ``FILE.csv.store.db`` beside it (this replaces the former
JSON-lines cache ``FILE.csv.cache.jsonl``, which is no longer read).

Architectures come from ``--archs FILE`` (one string per line; blank lines and
``#`` comments skipped; a duplicate or malformed line is reported with its line
number and stops the run, or is skipped with ``--bad-lines skip``) or
``--sample N``: ``N`` cells drawn without replacement,
``numpy.random.default_rng(seed).choice``, from the NAS-Bench-201 table's cells
in the benchmark's index order (``--connected-only``: only cells with an
input-output path). Networks are built after ``torch.manual_seed(--init-seed)``
and scored on one minibatch of real images (``--data``).

Workers compute; this process is the single writer. ``--workers N`` local
processes (default: the cores you have), or Dask: ``--dask-local N`` (a
``LocalCluster`` started here) or ``--dask-scheduler tcp://HOST:PORT`` (see
docs/scaling.md; extra ``archscore[distributed]``). Ctrl-C (or SIGTERM) stops
after the current write; rerun the same command to resume.
"""

from __future__ import annotations

import argparse
import collections
import logging
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

import archscore
from archscore.benchmarks import load_nb201
from archscore.data import load_batch, resolve_data_file, resolve_image_source
from archscore.executor import make_executor
from archscore.proxies import compute, list_proxies
from archscore.spaces import load_space
from archscore.store import ScoreStore, export, fingerprint

logger = logging.getLogger(__name__)

NB201_TABLE = "nb201/nb201_cifar10.csv"

#: Proxies scored by default: the ``zc:ensemble`` set without flops (on NB201 it ranks exactly like params) plus nwot.
DEFAULT_SCORE_PROXIES = ("meco", "jacov", "nwot", "synflow", "params")

EXIT_INTERRUPTED = 130


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", type=Path, default=None, help="score store (SQLite) to write and resume from (default: OUT.store.db)")
    p.add_argument("--out", type=Path, default=None, help="also write the requested scores to this .csv/.parquet (atomic)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--archs", type=Path, default=None, help="text file with one architecture string per line")
    src.add_argument("--sample", type=int, default=None, help="number of NB201 benchmark cells to draw (needs the NB201 table in --data)")
    p.add_argument("--bad-lines", choices=("stop", "skip"), default="stop",
                   help="a malformed or duplicate line in --archs: stop with its line number, or skip it with a warning")
    p.add_argument("--seed", type=int, default=0, help="sampling seed for --sample")
    p.add_argument("--connected-only", action="store_true", help="--sample draws only cells with an input-output path")
    p.add_argument("--space", default="nb201", help="search space: a registered name or a module path package.module:attribute (a declared space)")
    p.add_argument("--space-option", action="append", default=[], metavar="KEY=INT",
                   help="space constructor option, repeatable (e.g. C=4 N=1 for a tiny NB201 network)")
    p.add_argument("--data", type=Path, default=None, help="images (.npz, JPEG tarball) or data folder (default: $ARCHSCORE_DATA)")
    p.add_argument("--proxies", default=",".join(DEFAULT_SCORE_PROXIES), help="comma-separated proxy names")
    p.add_argument("--batch-size", type=int, default=64, help="images in the minibatch")
    p.add_argument("--batch-seed", type=int, default=0, help="which images: default_rng(seed).permutation(N)[:batch-size]")
    p.add_argument("--init-seed", type=int, default=42, help="torch.manual_seed before each build (42: the reference protocol)")
    p.add_argument("--proxy-seed", type=int, default=42, help="seed of the proxy computation")
    p.add_argument("--shard", default="0/1", help="K/M: score the K-th of M interleaved shards of the list")
    p.add_argument("--chunk", type=int, default=1000, help="architectures written between two rewrites of --out")
    ex = p.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=int, default=None, help="local worker processes (default: the CPU cores available)")
    ex.add_argument("--dask-local", type=int, default=None, metavar="N", help="start a Dask LocalCluster of N workers")
    ex.add_argument("--dask-scheduler", default=None, metavar="ADDRESS", help="use a running Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--timeout-per-arch", type=float, default=None, metavar="SECONDS",
                   help="record an architecture as failed when it takes longer (local workers: killed; Dask: checked after)")
    p.add_argument("--retry-failed", action="store_true", help="recompute architectures whose failure is recorded in the store")
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default: cpu)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per worker")
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


def parse_space_options(items: Sequence[str]) -> dict[str, int]:
    """``["C=4", "N=1"]`` -> ``{"C": 4, "N": 1}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key:
                raise ValueError
            out[key.strip()] = int(value)
        except ValueError:
            raise ValueError(f"--space-option must look like KEY=INT (e.g. C=4), got {item!r}") from None
    return out


def sample_benchmark_cells(table_archs: Sequence[Any], n: int, seed: int, connected_only: bool) -> list[Any]:
    """``n`` cells of the benchmark table (index order), drawn with ``default_rng(seed).choice(..., replace=False)``."""
    pool = [a for a in table_archs if a.is_connected()] if connected_only else list(table_archs)
    if not 1 <= n <= len(pool):
        raise ValueError(f"--sample must be in [1, {len(pool)}] for this pool, got {n}")
    rows = np.random.default_rng(seed).choice(len(pool), size=n, replace=False)
    return [pool[i] for i in rows]


def read_archs_file(path: Path, space: Any, bad_lines: str = "stop") -> list[Any]:
    """Architectures from a text file: one string per line; blank lines and ``#`` comments are skipped.

    A malformed line, or a line naming an architecture already listed, raises
    ``ValueError`` naming ``path:line`` (``bad_lines="stop"``) or is skipped
    with one warning listing the line numbers (``"skip"``).
    """
    if not path.is_file():
        raise FileNotFoundError(f"--archs file not found: {path}")
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"--archs file {path} is not text: {exc}") from None
    archs, first_line, skipped = [], {}, []
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            arch = space.from_string(text)
            cell = space.to_string(arch)
            if cell in first_line:
                raise ValueError(f"duplicate of line {first_line[cell]}")
        except ValueError as exc:
            if bad_lines == "stop":
                raise ValueError(f"{path}:{lineno}: {exc} (--bad-lines skip skips such lines)") from None
            skipped.append(f"{lineno} ({exc})")
            continue
        first_line[cell] = lineno
        archs.append(arch)
    if skipped:
        logger.warning("%s: skipped %d line(s): %s", path, len(skipped), "; ".join(skipped[:20]) + (" ..." if len(skipped) > 20 else ""))
    if not archs:
        raise ValueError(f"--archs file {path} holds no architecture strings")
    return archs


class ScoreTask:
    """Builds one architecture and computes proxies on the batch; picklable, runs in any worker.

    Called with ``(cell, proxies)``; returns ``{"scores": {proxy: value}, "errors": {proxy: message}}``
    (a proxy that is undefined on the model is an error; any exception fails the whole call).
    """

    def __init__(self, space: str, space_options: dict[str, int], inputs: Any, targets: Any, *, proxy_seed: int,
                 init_seed: int, device: str | None, threads: int) -> None:
        self.space, self.space_options = space, dict(space_options)
        self.inputs, self.targets = inputs, targets
        self.proxy_seed, self.init_seed, self.device, self.threads = proxy_seed, init_seed, device, threads
        self.num_classes = max(10, int(targets.max()) + 1) if targets is not None and len(targets) else 10
        self._space = None

    def setup(self) -> None:
        import torch

        torch.set_num_threads(self.threads)
        self._space = load_space(self.space, **self.space_options)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_space": None}

    def __call__(self, payload: tuple[str, list[str]]) -> dict[str, dict[str, Any]]:
        import torch

        if self._space is None:
            self.setup()
        cell, proxies = payload
        arch = self._space.from_string(cell)
        with torch.random.fork_rng():
            torch.manual_seed(self.init_seed)
            model = self._space.build(arch, num_classes=self.num_classes)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values = compute(model, self.inputs, self.targets, proxies, seed=self.proxy_seed, device=self.device, nan_policy="warn")
        reasons = {}
        for w in caught:
            text = str(w.message)
            for p in proxies:
                if text.startswith(f"proxy {p!r} is undefined"):
                    reasons[p] = text
        scores = {p: v for p, v in values.items() if not np.isnan(v)}
        errors = {p: reasons.get(p, "evaluated to NaN") for p, v in values.items() if np.isnan(v)}
        return {"scores": scores, "errors": errors}


def _install_stop_handlers(on_stop) -> dict[int, Any]:
    """SIGINT/SIGTERM ask the loop to stop after its current write; returns the previous handlers."""
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, on_stop)
        except ValueError:  # not the main thread (e.g. called from a test thread): keep the defaults
            pass
    return previous


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    proxies = list(dict.fromkeys(p.strip() for p in args.proxies.split(",") if p.strip()))
    unknown = [p for p in proxies if p not in list_proxies()]
    if not proxies or unknown:
        raise ValueError(f"unknown proxies {unknown or args.proxies!r}; choose from {', '.join(list_proxies())}")
    k, m = parse_shard(args.shard)
    for name, value, low in (("--chunk", args.chunk, 1), ("--threads", args.threads, 1), ("--workers", args.workers, 1),
                             ("--batch-size", args.batch_size, 1)):
        if value is not None and value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    if args.timeout_per_arch is not None and not args.timeout_per_arch > 0:
        raise ValueError(f"--timeout-per-arch must be > 0 seconds, got {args.timeout_per_arch}")
    if args.store is None and args.out is None:
        raise ValueError("give --store PATH (the score store) and/or --out FILE.csv")
    if args.out is not None and args.out.is_dir():
        raise ValueError(f"--out {args.out} is a folder; give a .csv or .parquet file path")
    if args.out is not None and args.out.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"--out must end in .csv or .parquet, got {args.out.name}")
    store_path = args.store if args.store is not None else args.out.with_name(args.out.name + ".store.db")
    if args.store is None and args.out.exists() and args.out.stat().st_size and not store_path.exists():
        raise ValueError(f"{args.out} exists without its score store {store_path}; use another --out (or --store)")
    space_options = parse_space_options(args.space_option)
    space = load_space(args.space, **space_options)

    if args.archs is not None:
        archs = read_archs_file(args.archs, space, args.bad_lines)
    else:
        if args.data is not None and args.data.is_file():
            raise ValueError(f"--sample needs --data to be a data folder holding {NB201_TABLE}, got the file {args.data}")
        table = resolve_data_file(args.data, NB201_TABLE, "NB201 table (for --sample)")
        archs = sample_benchmark_cells(load_nb201(table).archs, args.sample, args.seed, args.connected_only)
    cells = [space.to_string(a) for a in archs[k::m]]
    image_source = resolve_image_source(args.data)
    inputs, targets, desc = load_batch(image_source, args.batch_size, args.batch_seed)
    settings = {"space": args.space, "space_options": space_options, "batch": fingerprint(inputs, targets),
                "batch_size": args.batch_size, "batch_seed": args.batch_seed, "init_seed": args.init_seed,
                "proxy_seed": args.proxy_seed, "device": args.device or "cpu", "archscore": archscore.__version__}
    executor = make_executor(workers=args.workers, dask_local=args.dask_local, dask_scheduler=args.dask_scheduler,
                             timeout=args.timeout_per_arch)
    with ScoreStore(store_path) as store:
        sid = store.settings_id(settings)
        todo = store.missing(sid, cells, proxies, retry_failed=args.retry_failed)
        print(f"{len(cells)} architectures in shard {k}/{m}; {len(cells) - len(todo)} already in {store_path} "
              f"(settings {sid}); scoring {len(todo)} with {', '.join(proxies)} on {desc} using {executor.description}",
              flush=True)
        if todo:  # a space that cannot build networks fails every architecture: say so once, before any work
            space.build(space.from_string(next(iter(todo))))
        status = _score_loop(store, sid, executor, todo, args, inputs, targets, space_options, cells, proxies) if todo else 0
        if args.out is not None:
            n = export(store, sid, args.out, proxies=proxies, cells=cells)
            logger.info("wrote %d rows to %s", n, args.out)
        if status:
            return status
        failed = store.missing(sid, cells, proxies, retry_failed=True)
        print(f"done: {len(cells) - len(failed)} of {len(cells)} architectures fully scored in {store_path}; "
              f"{len(failed)} with failures ({time.perf_counter() - t0:.1f} s)")
        if failed:
            _failure_summary(store, sid, set(failed))
    return 0


class LoopStats(NamedTuple):
    """What :func:`score_loop` did: architectures written, failed, seconds in store writes and in total."""

    written: int
    failed: int
    write_seconds: float
    wall_seconds: float
    signal: int | None


def score_loop(store: ScoreStore, sid: int, executor: Any, task: Any, todo: dict[str, list[str]], *, progress: bool = False,
               after_write: Any = None) -> LoopStats:
    """Compute ``todo`` (``{cell: [proxies]}``) through ``executor`` and write each outcome (one transaction each).

    SIGINT/SIGTERM stop the loop after the current write (``LoopStats.signal`` says which); running items are abandoned.
    """
    from tqdm.auto import tqdm

    stop: dict[str, int] = {}

    def on_stop(signum, frame) -> None:
        stop.setdefault("signal", signum)
        executor.stop()

    previous = _install_stop_handlers(on_stop)
    written = failed = 0
    write_s = 0.0
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), desc="scoring", unit="arch", disable=not progress, smoothing=0.05)
    try:
        for out in executor.run(task, [(c, (c, ps)) for c, ps in todo.items()]):
            wanted = todo[out.key]
            w0 = time.perf_counter()
            if out.error is not None:
                store.put(sid, out.key, errors={p: out.error for p in wanted}, seconds=out.seconds)
            else:
                store.put(sid, out.key, out.result["scores"], errors=out.result["errors"], seconds=out.seconds)
            write_s += time.perf_counter() - w0
            failed += out.error is not None or bool(out.result["errors"])
            written += 1
            bar.update(1)
            if after_write is not None:
                after_write(written)
            if stop:
                break
    finally:
        bar.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return LoopStats(written, failed, write_s, time.perf_counter() - t0, stop.get("signal"))


def _score_loop(store: ScoreStore, sid: int, executor: Any, todo: dict[str, list[str]], args: argparse.Namespace,
                inputs: Any, targets: Any, space_options: dict[str, int], cells: list[str], proxies: list[str]) -> int:
    """The command's loop: :func:`score_loop` plus ``--out`` rewrites; returns an exit status."""
    task = ScoreTask(args.space, space_options, inputs, targets, proxy_seed=args.proxy_seed, init_seed=args.init_seed,
                     device=args.device, threads=args.threads)

    def after_write(written: int) -> None:
        if args.out is not None and written % args.chunk == 0:
            export(store, sid, args.out, proxies=proxies, cells=cells)

    stats = score_loop(store, sid, executor, task, todo, progress=not args.no_progress, after_write=after_write)
    if stats.signal is not None:
        name = signal.Signals(stats.signal).name
        print(f"archscore: stopped by {name} after writing {stats.written} of {len(todo)} architectures to {store.path}; "
              f"rerun the same command to resume", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED if stats.signal == signal.SIGINT else 128 + stats.signal
    return 0


def _failure_summary(store: ScoreStore, sid: int, cells: set[str]) -> None:
    reasons = collections.Counter()
    for arch, proxy, error in store.failures(sid):
        if arch in cells:
            reasons[(error or "")[:120]] += 1
    lines = [f"  {n} x {why}" for why, n in reasons.most_common(8)]
    logger.warning("%d architectures have failures (rerun with --retry-failed to recompute them):\n%s",
                   len(cells), "\n".join(lines))
