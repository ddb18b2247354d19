"""One-shot benchmark on NAS-Bench-201 CIFAR-10: SPOS ranking vs training minutes, and DARTS with/without a collapse fix.

SPOS: for each wall-clock budget, train ``oneshot:spos`` once on the CIFAR-10
images and score the 200 hard-case connected cells of
``nb201/nb201_cifar10_ref_zc_200connected.csv`` with inherited weights; report
Kendall and Spearman against ``valid_acc_200ep`` beside ``zc:params`` and the
reference proxy columns, and rank-average combinations of SPOS with them;
plot rank correlation against training minutes. DARTS: run first-order DARTS
with and without the fix over several seeds and look the found cells up in
the NB201 table (``test_acc_200ep``).

Writes ``OUT/results.md``, ``OUT/results.json`` and ``OUT/rank_vs_minutes.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

REF_CSV = "nb201_cifar10_ref_zc_200connected.csv"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``archscore bench oneshot``."""
    p.add_argument("--data", type=Path, default=None, help="shared data folder with nb201/ and cifar10/ (default: $ARCHSCORE_DATA)")
    p.add_argument("--out", type=Path, default=Path("bench_oneshot_out"), help="output folder (default ./bench_oneshot_out)")
    p.add_argument("--minutes", type=float, nargs="+", default=[10.0, 30.0, 60.0], help="SPOS training budgets in minutes (default 10 30 60)")
    p.add_argument("--C", type=int, default=16, help="supernet channels (default 16, the benchmark's)")
    p.add_argument("--N", type=int, default=5, help="cells per stage (default 5, the benchmark's)")
    p.add_argument("--resolution", type=int, default=None, help="resize images (default 32, unchanged)")
    p.add_argument("--limit", type=int, default=None, help="use this many of the 5,000 images (default all)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--sampling", choices=("uniform", "fair"), default="uniform")
    p.add_argument("--bn-batches", type=int, default=4)
    p.add_argument("--eval-size", type=int, default=None, help="score on at most this many validation images (default all 1,000)")
    p.add_argument("--n-cells", type=int, default=None, help="score only the first N of the 200 cells (smoke tests)")
    p.add_argument("--checkpoint-dir", type=Path, default=None, help="save/reload supernets here (default: no checkpoints)")
    p.add_argument("--darts-seeds", type=int, nargs="*", default=[0, 1, 2], help="DARTS seeds (default 0 1 2; none: skip DARTS)")
    p.add_argument("--darts-epochs", type=int, default=50)
    p.add_argument("--darts-steps-per-epoch", type=int, default=None)
    p.add_argument("--darts-C", type=int, default=None, help="DARTS supernet channels (default --C)")
    p.add_argument("--darts-N", type=int, default=None, help="DARTS cells per stage (default --N)")
    p.add_argument("--darts-fix", default="darts-", choices=("darts-", "early_stop"), help="the fix compared with plain DARTS")
    p.add_argument("--darts-order", type=int, default=1, choices=(1, 2))
    p.add_argument("--skip-spos", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--device", default="auto", help="torch device (default auto: CUDA when available)")
    p.add_argument("--seed", type=int, default=0, help="seed of sampling, initialisation and data order (default 0)")


def _combine(*scores: np.ndarray) -> np.ndarray:
    """Log-rank average (AZ-NAS style) of higher-is-better scores, through the one shared ranking function."""
    from archscore.predictors.zc_ensemble import rank_aggregate

    return rank_aggregate({str(i): s for i, s in enumerate(scores)}, method="log_rank")


def _corr(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from archscore.metrics import kendall, spearman

    return {"kendall": kendall(truth, pred), "spearman": spearman(truth, pred)}


def run_spos(args, data_dir: Path, images: Path) -> dict:
    from archscore.base import create_estimator
    from archscore.benchmarks import load_nb201
    from archscore.data import reference_batch

    ref = load_nb201(data_dir / "nb201" / REF_CSV)
    table = load_nb201(data_dir / "nb201").table
    truth_by_arch = dict(zip(table["arch"], table["valid_acc_200ep"]))
    archs = ref.archs[: args.n_cells] if args.n_cells else ref.archs
    strings = list(ref.table["arch"])[: len(archs)]
    truth = np.array([truth_by_arch[s] for s in strings])
    baselines: dict[str, np.ndarray] = {}
    baselines["params"] = create_estimator("zc:params").predict(archs, data=reference_batch(images, 8))
    for col in ("ref_synflow", "ref_jacob_cov", "ref_snip"):
        if col in ref.table.columns:
            baselines[col] = ref.table[col].to_numpy(dtype=float)[: len(archs)]
    rows = [{"method": name, "minutes": None, **_corr(truth, v)} for name, v in baselines.items()]
    proxy_combo = _combine(*baselines.values())
    rows.append({"method": "params+ref proxies (log-rank avg)", "minutes": None, **_corr(truth, proxy_combo)})
    runs = []
    for minutes in args.minutes:
        ckpt = None
        if args.checkpoint_dir is not None:
            ckpt = str(args.checkpoint_dir / f"spos_{minutes:g}min_C{args.C}_N{args.N}_s{args.seed}.pt")
        est = create_estimator(
            "oneshot:spos", space="nb201", space_options={"C": args.C, "N": args.N}, data_path=str(images), limit=args.limit,
            resolution=args.resolution, epochs=None, time_budget=60.0 * minutes, sampling=args.sampling, lr=args.lr,
            batch_size=args.batch_size, bn_batches=args.bn_batches, eval_size=args.eval_size, checkpoint=ckpt,
            on_mismatch="retrain", device=args.device, num_threads=args.threads, seed=args.seed,
        )
        t0 = time.perf_counter()
        est.fit()
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ev = est.evaluate(archs)
        eval_s = time.perf_counter() - t0
        hist = est.history_
        run = {"minutes": minutes, "fit_seconds": fit_s, "train_seconds": hist["seconds"], "steps": hist["steps"],
               "epochs": hist["epochs"], "final_loss": float(np.mean(hist["losses"][-20:])),
               "eval_seconds": eval_s, "ms_per_candidate": 1000 * eval_s / len(archs),
               "mean_supernet_acc": float(ev["accuracy"].mean())}
        runs.append(run)
        spos_acc, spos_nl = ev["accuracy"], -ev["loss"]
        for name, v in (("spos (accuracy)", spos_acc), ("spos (-loss)", spos_nl),
                        ("spos(-loss)+params", _combine(spos_nl, baselines["params"])),
                        ("spos(-loss)+params+ref proxies", _combine(spos_nl, *baselines.values()))):
            rows.append({"method": name, "minutes": minutes, **_corr(truth, v)})
        logger.info("SPOS %g min: %s", minutes, run)
    return {"n_cells": len(archs), "rows": rows, "runs": runs}


def run_darts(args, data_dir: Path, images: Path) -> dict:
    from archscore.benchmarks import load_nb201
    from archscore.oneshot import darts_search
    from archscore.spaces import get_space

    table = load_nb201(data_dir / "nb201").table
    test_by_arch = dict(zip(table["arch"], table["test_acc_200ep"]))
    space = get_space("nb201")
    C = args.darts_C or args.C
    N = args.darts_N or args.N
    out = []
    for seed in args.darts_seeds:
        for fix in (None, args.darts_fix):
            r = darts_search("nb201", data_path=str(images), space_options={"C": C, "N": N}, limit=args.limit,
                             resolution=args.resolution, epochs=args.darts_epochs, steps_per_epoch=args.darts_steps_per_epoch,
                             order=args.darts_order, fix=fix, batch_size=args.batch_size, device=args.device,
                             num_threads=args.threads, seed=seed)
            s = space.to_string(r.arch)
            out.append({"seed": seed, "fix": fix or "none", "cell": s, "test_acc_200ep": float(test_by_arch[s]),
                        "skip_counts": r.skip_counts, "stopped_epoch": r.stopped_epoch, "seconds": r.seconds,
                        "test_acc_per_epoch": [float(test_by_arch[space.to_string(g)]) for g in r.genotypes]})
            logger.info("DARTS seed %d fix %s: %s", seed, fix, out[-1])
    return {"C": C, "N": N, "epochs": args.darts_epochs, "steps_per_epoch": args.darts_steps_per_epoch, "order": args.darts_order,
            "runs": out}


def _plot(spos: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    by_method: dict[str, list] = {}
    for r in spos["rows"]:
        if r["minutes"] is not None:
            by_method.setdefault(r["method"], []).append((r["minutes"], r["spearman"]))
    for name, pts in by_method.items():
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    for r in spos["rows"]:
        if r["minutes"] is None and r["method"] in ("params", "params+ref proxies (log-rank avg)"):
            ax.axhline(r["spearman"], ls="--", lw=1, color="grey")
            ax.text(0.01, r["spearman"], r["method"], transform=ax.get_yaxis_transform(), fontsize=7, va="bottom")
    ax.set_xlabel("supernet training (minutes, wall clock)")
    ax.set_ylabel(f"Spearman vs valid_acc_200ep ({spos['n_cells']} cells)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _markdown(args, spos: dict | None, darts: dict | None) -> str:
    lines = ["# One-shot benchmark (NB201 CIFAR-10)", "",
             f"Settings: C={args.C}, N={args.N}, resolution={args.resolution or 32}, images={args.limit or 'all'}, "
             f"batch {args.batch_size}, lr {args.lr}, sampling {args.sampling}, threads {args.threads}, device {args.device}, seed {args.seed}.", ""]
    if spos:
        lines += [f"## SPOS ranking on {spos['n_cells']} hard-case connected cells (target valid_acc_200ep)", "",
                  "| method | minutes | Kendall | Spearman |", "|---|---|---|---|"]
        for r in spos["rows"]:
            m = "-" if r["minutes"] is None else f"{r['minutes']:g}"
            lines.append(f"| {r['method']} | {m} | {r['kendall']:.3f} | {r['spearman']:.3f} |")
        lines += ["", "| minutes | steps | epochs | train s | final loss | mean supernet acc % | eval s | ms / candidate |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in spos["runs"]:
            lines.append(f"| {r['minutes']:g} | {r['steps']} | {r['epochs']:.1f} | {r['train_seconds']:.0f} | {r['final_loss']:.3f} | "
                         f"{r['mean_supernet_acc']:.1f} | {r['eval_seconds']:.1f} | {r['ms_per_candidate']:.0f} |")
        lines += ["", "![rank correlation vs minutes](rank_vs_minutes.png)", ""]
    if darts:
        lines += [f"## DARTS (order {darts['order']}, C={darts['C']}, N={darts['N']}, {darts['epochs']} epochs"
                  f"{'' if darts['steps_per_epoch'] is None else ', ' + str(darts['steps_per_epoch']) + ' steps/epoch'})", "",
                  "| seed | fix | found cell | test_acc_200ep | skips per epoch | stopped | seconds |", "|---|---|---|---|---|---|---|"]
        for r in darts["runs"]:
            lines.append(f"| {r['seed']} | {r['fix']} | `{r['cell']}` | {r['test_acc_200ep']:.2f} | {r['skip_counts']} | "
                         f"{r['stopped_epoch'] or '-'} | {r['seconds']:.0f} |")
        lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; returns the exit status."""
    import torch

    from archscore.data import default_data_dir

    data_dir = args.data or default_data_dir()
    if data_dir is None:
        logger.error("no data: pass --data or set $ARCHSCORE_DATA to the shared data folder")
        return 2
    data_dir = Path(data_dir)
    images = data_dir / "cifar10" / "train5k.npz"
    torch.set_num_threads(int(args.threads))
    os.makedirs(args.out, exist_ok=True)
    spos = None if args.skip_spos or not args.minutes else run_spos(args, data_dir, images)
    darts = run_darts(args, data_dir, images) if args.darts_seeds else None
    if spos:
        _plot(spos, args.out / "rank_vs_minutes.png")
    (args.out / "results.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items() if k != "func"},
                                                        "spos": spos, "darts": darts}, indent=1, default=str))
    md = _markdown(args, spos, darts)
    (args.out / "results.md").write_text(md)
    print(md)
    return 0
