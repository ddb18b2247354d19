"""Scoring at scale: executors' throughput, store overhead, resume after a kill, memory (``archscore bench scale``).

On ``--n`` NB201 benchmark cells (``default_rng(--seed).choice`` of the
table, as ``archscore score --sample``) with the classic proxy suite:

1. **Throughput** of the same scoring through 1 and 2 local worker processes
   and a Dask ``LocalCluster`` of 2 workers, side by side, each into a fresh
   score store: architectures per second over the scoring loop (executor
   start-up reported separately), speed-up over one worker.
2. **Store overhead**: seconds the single writer spends in store writes (one
   SQLite transaction per architecture) as a share of the loop's wall time.
3. **Resume after a kill**: an ``archscore score`` process is killed with
   SIGKILL once half the cells are stored; the same command is rerun and timed
   (to the first new computation, and in total), and its store compared with
   an uninterrupted one.
4. **Memory**: RSS of one process scoring ``--rss-models`` models one after the
   other (after 10 warm-up models); growth in MB and per model.

The per-cell cost then projects the full NB201 space (15,625 cells) on N
machines and the point where the single writer (its measured seconds per
write) becomes the bottleneck. Targets (2-core machine): 2 workers >= 1.7x one
worker, Dask on 2 workers >= 1.5x, store overhead < 2 %, RSS growth < 100 MB
over 1,000 models. On a machine shared with other jobs the speed-ups measure
the share of CPU this run got; the report prints the load average.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import archscore
from archscore.bench.report import Report, Table, check, check_lines, command_line, publish, settings_from_args
from archscore.benchmarks import load_nb201
from archscore.cli.score import NB201_TABLE, ScoreTask, parse_space_options, sample_benchmark_cells, score_loop
from archscore.data import load_batch, resolve_data_file, resolve_image_source
from archscore.executor import DaskExecutor, LocalExecutor
from archscore.spaces import get_space
from archscore.store import ScoreStore, fingerprint

#: The classic zero-cost suite (Abdelfattah et al. 2021) plus params.
CLASSIC = ("grad_norm", "snip", "grasp", "fisher", "jacov", "synflow", "params")
FULL_NB201 = 15_625
#: The benchmark's parts, in the order they run.
PARTS = ("throughput", "resume", "memory")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=None, help="data folder with the NB201 table and CIFAR-10 images (default: $ARCHSCORE_DATA)")
    p.add_argument("--n", type=int, default=500, help="NB201 cells scored by each executor")
    p.add_argument("--seed", type=int, default=0, help="sampling seed of the cells")
    p.add_argument("--proxies", default=",".join(CLASSIC), help="comma-separated proxies")
    p.add_argument("--batch-size", type=int, default=64, help="images in the minibatch")
    p.add_argument("--space-option", action="append", default=[], metavar="KEY=INT", help="NB201 option, e.g. C=4 N=1 (reduced size)")
    p.add_argument("--rss-models", type=int, default=1000, help="models scored in one process for the memory measurement")
    p.add_argument("--no-dask", action="store_true", help="leave out the Dask executor")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                   help="parts to run (default all; resume compares against the 1-worker store, so it needs throughput)")
    p.add_argument("--out", type=Path, default=None, help="folder for results.md")


def _rss_mb() -> float:
    """Current resident set size of this process in MB (Linux /proc; the peak from getrusage elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _settings(args: argparse.Namespace, inputs: Any, targets: Any, options: dict[str, int]) -> dict[str, Any]:
    return {"space": "nb201", "space_options": options, "batch": fingerprint(inputs, targets), "batch_size": args.batch_size,
            "batch_seed": 0, "init_seed": 42, "proxy_seed": 42, "device": "cpu", "archscore": archscore.__version__}


def _throughput(name: str, executor: Any, task: Any, cells: list[str], proxies: list[str], settings: dict, folder: Path):
    store = ScoreStore(folder / f"{name.replace(' ', '_')}.db")
    sid = store.settings_id(settings)
    todo = store.missing(sid, cells, proxies)
    first: dict[str, float] = {}
    t0 = time.perf_counter()
    stats = score_loop(store, sid, executor, task, todo, after_write=lambda n: first.setdefault("t", time.perf_counter()))
    total = time.perf_counter() - t0
    frame = store.frame(sid, proxies, cells)
    store.close()
    # executor start-up ~ time to the first write minus one item's compute; rate measured after the first write
    after_first = total - (first.get("t", t0) - t0)
    rate = (stats.written - 1) / after_first if stats.written > 1 and after_first > 0 else float("nan")
    return {"name": name, "written": stats.written, "failed": stats.failed, "total_s": total, "rate": rate,
            "first_s": first.get("t", t0) - t0, "write_s": stats.write_seconds, "frame": frame}


def _kill_and_resume(args: argparse.Namespace, cells: list[str], proxies: list[str], folder: Path, reference) -> dict[str, Any]:
    archs = folder / "archs.txt"
    archs.write_text("\n".join(cells) + "\n")
    store = folder / "killed.db"
    argv = [sys.executable, "-m", "archscore", "score", "--data", str(args.data) if args.data else os.environ.get("ARCHSCORE_DATA", ""),
            "--archs", str(archs), "--proxies", ",".join(proxies), "--batch-size", str(args.batch_size), "--workers", "1",
            "--no-progress", "--store", str(store)]
    for opt in args.space_option:
        argv += ["--space-option", opt]
    root = Path(archscore.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    half = len(cells) * len(proxies) // 2
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    rows = 0
    while proc.poll() is None:
        if store.exists():
            try:
                with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as c:
                    rows = c.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
            except sqlite3.Error:
                pass
        if rows >= half:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    with ScoreStore(store, readonly=True) as s:
        kept = len({r[1] for r in s.rows()})
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    rerun_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ScoreStore(store) as s:  # what a resume costs before computing: open, find the settings, list what is missing
        sid = s.settings_id(s.settings()[0]["settings"])
        s.missing(sid, cells, proxies)
        find_s = time.perf_counter() - t0
        frame = s.frame(sid, proxies, cells)
    same = frame.equals(reference)
    return {"kept": kept, "rerun_s": rerun_s, "rc": done.returncode, "find_s": find_s, "same": same}


def _memory(task: Any, cells: list[str], proxies: list[str], n: int) -> dict[str, Any]:
    """RSS of this process while it scores ``n`` models one after the other (after 10 warm-up models).

    The trace (RSS every ``n / 10`` models) separates a warm-up rise of the
    allocator's caches from a steady leak: ``late_per_model`` is the slope over
    the second half.
    """
    task.setup()
    warm = 10
    for c in cells[:warm]:
        task((c, proxies))
    gc.collect()
    before = _rss_mb()
    every = max(1, n // 10)
    trace = [(0, before)]
    t0 = time.perf_counter()
    for i in range(n):
        task((cells[i % len(cells)], proxies))
        if (i + 1) % every == 0 or i + 1 == n:
            gc.collect()
            trace.append((i + 1, _rss_mb()))
    after = trace[-1][1]
    mid = min(trace, key=lambda t: abs(t[0] - n / 2))
    late = (after - mid[1]) / (n - mid[0]) if n > mid[0] else float("nan")
    return {"n": n, "before": before, "after": after, "growth": after - before, "per_model": (after - before) / n,
            "late_per_model": late, "trace": trace, "seconds": time.perf_counter() - t0}


def run(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)
    proxies = [p.strip() for p in args.proxies.split(",") if p.strip()]
    options = parse_space_options(args.space_option)
    if args.n < 4 or args.rss_models < 1:
        raise ValueError("--n must be >= 4 and --rss-models >= 1")
    parts = set(args.parts)
    if "resume" in parts and "throughput" not in parts:
        raise ValueError("--parts resume compares the resumed store with the 1-worker throughput run: add throughput")
    table = resolve_data_file(args.data, NB201_TABLE, "NB201 table")
    space = get_space("nb201", **options)
    cells = [space.to_string(a) for a in sample_benchmark_cells(load_nb201(table).archs, args.n, args.seed, False)]
    inputs, targets, desc = load_batch(resolve_image_source(args.data), args.batch_size, 0)
    task = ScoreTask("nb201", options, inputs, targets, proxy_seed=42, init_seed=42, device=None, threads=1)
    settings = _settings(args, inputs, targets, options)
    report = Report("archscore bench scale: executors, score store, resume, memory", command_line(args, "archscore bench scale"),
                    settings_from_args(args, proxies=proxies, batch=desc))
    checks: list[dict[str, Any]] = []
    agree, resume = True, None
    if "throughput" in parts:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        results = []
        with tempfile.TemporaryDirectory(prefix="archscore-scale-") as tmp:
            folder = Path(tmp)
            configs = [("local 1 worker", LocalExecutor(1)), ("local 2 workers", LocalExecutor(2))]
            if not args.no_dask:
                configs.append(("Dask 2 workers", DaskExecutor(local_workers=2)))
            for name, ex in configs:
                results.append(_throughput(name, ex, task, cells, proxies, settings, folder))
            reference = results[0]["frame"]
            agree = all(r["frame"].equals(reference) for r in results)
            if "resume" in parts:
                resume = _kill_and_resume(args, cells, proxies, folder, reference)
        load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        _throughput_sections(report, results, load, load_after, agree)
        base = results[0]["rate"]
        checks.append(check("2 local workers / 1", results[1]["rate"] / base, 1.7))
        if not args.no_dask:
            checks.append(check("Dask 2 workers / 1", results[2]["rate"] / base, 1.5))
        checks.append(check("store overhead (1 worker)", results[0]["write_s"] / results[0]["total_s"], 0.02, higher=False))
    if resume is not None:
        report.section("Resume after SIGKILL at 50 %",
                       f"{resume['kept']} of {len(cells)} architectures survived the kill; rerun of the same command: "
                       f"{resume['rerun_s']:.1f} s (rc {resume['rc']}), of which opening the store and finding the "
                       f"{len(cells) - resume['kept']} missing took {1000 * resume['find_s']:.1f} ms",
                       f"resumed store equals the uninterrupted run: {resume['same']}")
    if "memory" in parts:
        mem = _memory(task, cells, proxies, args.rss_models)
        trace = Table(["models scored", "RSS MB"])
        for k, v in mem["trace"]:
            trace.add(k, f"{v:.1f}")
        report.section(f"Memory: RSS over {mem['n']} models in one process",
                       f"RSS {mem['before']:.1f} MB -> {mem['after']:.1f} MB: growth {mem['growth']:+.1f} MB, "
                       f"{1000 * mem['per_model']:+.1f} kB per model ({mem['seconds']:.0f} s); over the second half "
                       f"{1000 * mem['late_per_model']:+.1f} kB per model", table=trace)
        checks.append(check("RSS growth per 1,000 models (MB)", mem["per_model"] * 1000, 100.0, higher=False))
    report.section("Checks", table=check_lines(checks))
    publish(report, args.out)
    return 0 if all(c["passed"] for c in checks) and agree and (resume is None or resume["same"]) else 1


def _throughput_sections(report: Report, results: list[dict], load: float, load_after: float, agree: bool) -> None:
    """The throughput table and the projection to the full NB201 space from the 1-worker rate."""
    base = results[0]["rate"]
    t = Table(["executor", "archs", "failed", "start-up s", "archs/s", "speed-up", "store writes s", "store overhead %"])
    for r in results:
        t.add(r["name"], r["written"], r["failed"], f"{r['first_s']:.1f}", f"{r['rate']:.2f}", f"{r['rate'] / base:.2f}x",
              f"{r['write_s']:.3f}", f"{100 * r['write_s'] / r['total_s']:.2f}")
    report.section("Throughput (same cells, each executor into a fresh store)",
                   f"load average (1 min) before {load:.1f}, after {load_after:.1f} on {os.cpu_count()} CPUs: "
                   f"speed-ups measure the CPU share this run got",
                   f"archs/s counted from the first stored architecture to the last (start-up: time to the first write)",
                   f"every executor stored identical scores: {agree}", table=t)
    per_write = results[0]["write_s"] / max(results[0]["written"], 1)
    per_cell = 1 / base if base == base and base > 0 else float("nan")
    proj = Table(["machines (x2 cores)", "hours for 15,625 cells", "writer busy %"])
    for m in (1, 2, 4, 8, 32):
        rate = 2 * m * per_cell ** -1 if per_cell == per_cell else float("nan")
        proj.add(m, f"{FULL_NB201 / rate / 3600:.2f}", f"{100 * rate * per_write:.2f}")
    report.section("Projection to the full NB201 space",
                   f"measured: {per_cell:.3f} s per cell per worker, {1000 * per_write:.2f} ms per store write",
                   f"the single writer saturates at ~{1 / per_write:.0f} archs/s, i.e. about "
                   f"{1 / per_write * per_cell:.0f} workers of this per-cell cost" if per_write > 0 else "no writes measured",
                   table=proj)
