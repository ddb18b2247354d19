"""Hardware costs: few-shot latency prediction across HW-NAS-Bench devices and measured CPU latency of NB201 cells.

Part 1 (``--fewshot``): leave-one-device-out over the latency columns of
``hwnasbench/hwnasbench_nb201_cifar10_dev.csv``. For each target device and
seed, ``hw:latency-predictor`` is fitted on n random cells of the target
(with the other devices' latencies on ``--source-size`` random cells as
sources, and without sources) and scored by Spearman on ``--test-size`` other
cells.

Part 2 (``--cpu``): measured latency (``measure_latency``, batch 1, one
thread) of ``--cells`` random NB201 networks on this machine, twice, giving
the repeat-to-repeat spread; Spearman of the latency with MACs and with the
predictor fitted on 20 of the cells (scored on the others).

Writes ``OUT/results.md`` and ``OUT/results.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np

from archscore.bench.report import command_line, json_safe

logger = logging.getLogger(__name__)

HWNAS_CSV = "hwnasbench_nb201_cifar10_dev.csv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None, help=f"the HW-NAS-Bench CSV, or a data folder holding hwnasbench/{HWNAS_CSV} (default: $ARCHSCORE_DATA)")
    parser.add_argument("--out", default="bench_hardware", help="output folder for results.md and results.json (default: bench_hardware)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="seeds of the few-shot splits (default: 0 1 2 3 4)")
    parser.add_argument("--ns", type=int, nargs="+", default=[10, 20], help="measured target cells (default: 10 20)")
    parser.add_argument("--test-size", type=int, default=2000, help="cells scored per split (default: 2000)")
    parser.add_argument("--source-size", type=int, default=3000, help="cells of each source device's table used (default: 3000)")
    parser.add_argument("--cells", type=int, default=200, help="NB201 cells timed on this machine (default: 200)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per cell and pass (default: 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per cell and pass (default: 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads while timing (default: 1)")
    parser.add_argument("--width", type=int, default=16, help="NB201 channels C of the timed networks (default: 16, the benchmark's)")
    parser.add_argument("--stage-cells", type=int, default=5, help="NB201 cells per stage N of the timed networks (default: 5)")
    parser.add_argument("--fit-cells", type=int, default=20, help="timed cells the CPU predictor is fitted on (default: 20)")
    parser.add_argument("--skip-fewshot", action="store_true", help="skip part 1")
    parser.add_argument("--skip-cpu", action="store_true", help="skip part 2")


def _resolve_csv(arg: str | None) -> Path:
    from archscore.data import resolve_data_file

    return resolve_data_file(arg, f"hwnasbench/{HWNAS_CSV}", "HW-NAS-Bench table")


def _spearman(a, b) -> float:
    from archscore.metrics import spearman

    return spearman(a, b)


def fewshot(df, archs, args) -> dict:
    """Leave-one-device-out few-shot Spearman per device, n and seed (with and without sources)."""
    from archscore.hardware import LatencyPredictor

    devices = [c for c in df.columns if c.endswith("_latency")]
    n_all = len(archs)
    out: dict = {}
    for target in devices:
        y = df[target].to_numpy(float)
        for n in args.ns:
            for seed in args.seeds:
                rng = np.random.default_rng(seed)
                perm = rng.permutation(n_all)
                tr, te = perm[:n], perm[n:n + args.test_size]
                src_idx = np.random.default_rng(10_000 + seed).choice(n_all, min(args.source_size, n_all), replace=False)
                sources = {d: ([archs[i] for i in src_idx], df[d].to_numpy(float)[src_idx]) for d in devices if d != target}
                train, test = [archs[i] for i in tr], [archs[i] for i in te]
                for label, src in (("sources", sources), ("no sources", None)):
                    t0 = time.perf_counter()
                    pred = LatencyPredictor().fit(train, y[tr], sources=src).predict(test)
                    rho = _spearman(pred, y[te])
                    out.setdefault(label, {}).setdefault(target, {}).setdefault(str(n), []).append(rho)
                    logger.info("%s n=%d seed=%d %s: %.3f (%.1fs)", target, n, seed, label, rho, time.perf_counter() - t0)
    return {"devices": devices, "results": out}


def cpu_latency(df, archs_by_string, args) -> dict:
    """Time NB201 cells on this machine twice; Spearman with MACs and with the few-shot predictor."""
    import torch

    from archscore.hardware import LatencyPredictor, count_macs, measure_latency
    from archscore.spaces import get_space

    space = get_space("nb201", C=args.width, N=args.stage_cells)
    cells = space.sample(args.cells, seed=0)
    shape = (1, 3, 32, 32)
    med = np.zeros((2, len(cells)))
    iqr = np.zeros((2, len(cells)))
    macs = np.zeros(len(cells))
    t0 = time.perf_counter()
    for i, arch in enumerate(cells):
        torch.manual_seed(0)
        net = space.build(arch)
        macs[i] = count_macs(net, shape)
        for rep in range(2):
            r = measure_latency(net, shape, warmup=args.warmup, repeats=args.repeats, threads=args.threads)
            med[rep, i], iqr[rep, i] = r.median_ms, r.iqr_ms
        if (i + 1) % 20 == 0:
            logger.info("timed %d/%d cells (%.0fs)", i + 1, len(cells), time.perf_counter() - t0)
    lat = med.mean(0)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(cells))
    tr, te = perm[:args.fit_cells], perm[args.fit_cells:]
    devices = [c for c in df.columns if c.endswith("_latency")]
    sources = None
    if devices:
        src_idx = np.random.default_rng(1).choice(len(df), min(args.source_size, len(df)), replace=False)
        src_archs = [archs_by_string[s] for s in df["arch"].to_numpy()[src_idx]]
        sources = {d: (src_archs, df[d].to_numpy(float)[src_idx]) for d in devices}
    rows = {}
    for label, src in (("sources", sources), ("no sources", None)):
        pred = LatencyPredictor().fit([cells[i] for i in tr], lat[tr], sources=src).predict([cells[i] for i in te])
        rows[label] = _spearman(pred, lat[te])
    return {
        "cells": len(cells),
        "spearman_macs_all": _spearman(macs, lat),
        "spearman_macs_test": _spearman(macs[te], lat[te]),
        "spearman_predictor_test": rows,
        "spearman_repeat1_vs_repeat2": _spearman(med[0], med[1]),
        "median_abs_rel_diff_repeats": float(np.median(np.abs(med[0] - med[1]) / lat)),
        "median_rel_iqr": float(np.median(iqr / med)),
        "latency_ms_min_median_max": [float(lat.min()), float(np.median(lat)), float(lat.max())],
        "seconds": time.perf_counter() - t0,
    }


def _markdown(res: dict, args) -> str:
    command = command_line(args, "archscore bench hardware")
    lines = ["# archscore bench hardware", "", "Produced by:", "", "```", command, "```", "", f"Machine: {platform.platform()}, {platform.processor() or platform.machine()}; "
             f"torch threads while timing: {args.threads}. The machine is shared with other jobs: timings are noisy.", ""]
    if "fewshot" in res:
        fs = res["fewshot"]
        lines += ["## Few-shot latency prediction (leave one device out)", "",
                  f"`hw:latency-predictor` fitted on n cells of the target device; sources: the other devices' latencies on "
                  f"{args.source_size} random cells (seed 10000+seed); Spearman on {args.test_size} other cells; seeds {args.seeds}; "
                  "mean (min-max) over seeds.", "",
                  "| predictor | " + " | ".join(f"{d} n={n}" for d in fs["devices"] for n in args.ns) + " | " + " | ".join(f"mean n={n}" for n in args.ns) + " |",
                  "|---" * (1 + len(fs["devices"]) * len(args.ns) + len(args.ns)) + "|"]
        for label, per_dev in fs["results"].items():
            cells, means = [], {n: [] for n in args.ns}
            for d in fs["devices"]:
                for n in args.ns:
                    v = per_dev[d][str(n)]
                    means[n].append(np.mean(v))
                    cells.append(f"{np.mean(v):.3f} ({min(v):.2f}-{max(v):.2f})")
            lines.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(f"{np.mean(means[n]):.3f}" for n in args.ns) + " |")
        lines += ["", "Targets: mean >= 0.93 at n=10 and >= 0.95 at n=20, every device >= 0.85 at n=20. "
                  "References (random forest on one-hot + FLOPs + params, no sources): edgegpu 0.61/0.69, raspi4 0.93/0.94, eyeriss 0.56/0.65.", ""]
    if "cpu" in res:
        c = res["cpu"]
        lo, mid, hi = c["latency_ms_min_median_max"]
        lines += ["## Measured CPU latency of NB201 cells on this machine", "",
                  f"{c['cells']} cells (`get_space('nb201', C={args.width}, N={args.stage_cells}).sample({c['cells']}, seed=0)`), batch 1, CIFAR-10 input, "
                  f"{args.warmup} warm-up + {args.repeats} timed calls, measured in two passes; latency = mean of the two medians "
                  f"({lo:.2f} / {mid:.2f} / {hi:.2f} ms min / median / max); {c['seconds']:.0f} s in all.", "",
                  "| quantity | value |", "|---|---|",
                  f"| Spearman(latency, MACs), all cells | {c['spearman_macs_all']:.3f} |",
                  f"| Spearman(latency, MACs), the {c['cells'] - args.fit_cells} held-out cells | {c['spearman_macs_test']:.3f} |"]
        for label, v in c["spearman_predictor_test"].items():
            lines.append(f"| Spearman(latency, predictor fitted on {args.fit_cells} cells, {label}), held-out cells | {v:.3f} |")
        lines += [f"| Spearman(pass 1 medians, pass 2 medians) | {c['spearman_repeat1_vs_repeat2']:.3f} |",
                  f"| median abs. relative difference between the passes' medians | {c['median_abs_rel_diff_repeats']:.3f} |",
                  f"| median IQR / median within a pass | {c['median_rel_iqr']:.3f} |", ""]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from archscore.spaces import get_space

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df = pd.read_csv(_resolve_csv(args.data))
    space = get_space("nb201")
    parsed = {s: space.from_string(s) for s in df["arch"]}
    archs = [parsed[s] for s in df["arch"]]
    res: dict = {"args": {k: v for k, v in vars(args).items() if k != "func"}}
    if not args.skip_fewshot:
        res["fewshot"] = fewshot(df, archs, args)
    if not args.skip_cpu:
        res["cpu"] = cpu_latency(df, parsed, args)
    (out / "results.json").write_text(json.dumps(json_safe(res), indent=1, default=str))  # NaN -> null: valid JSON
    text = _markdown(res, args)
    (out / "results.md").write_text(text)
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
