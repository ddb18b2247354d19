"""One-shot benchmark on NAS-Bench-201 CIFAR-10: SPOS ranking vs training minutes, DARTS with/without collapse fixes, ENAS-style search.

SPOS: for each wall-clock budget, train ``oneshot:spos`` once on the CIFAR-10
images (``--train-images``: the 50,000 training images of the data folder's
JPEG tarball when present) and score the 200 hard-case connected cells of
``nb201/nb201_cifar10_ref_zc_200connected.csv`` with inherited weights; report
Kendall and Spearman against ``valid_acc_200ep`` beside ``zc:params`` and the
reference proxy columns, and rank-average combinations of SPOS with them;
plot rank correlation against training minutes. DARTS: run the ``darts``
search strategy (plain and with each fix) over several seeds against the NB201
table (one query per distinct cell of each epoch) and report the cell DARTS
returns with its ``test_acc_200ep`` and the skip count per epoch. ENAS-style:
``enas_search`` (REINFORCE scored by the largest budget's supernet) beside
random search with the same supernet and queries.

Writes ``OUT/results.md`` (through :mod:`archscore.bench.report`),
``OUT/results.json`` and ``OUT/oneshot-rank-vs-minutes.png`` (the plot the
page shows). Exits with status 1 when a check fails (at the largest budget:
SPOS above ``params``, and SPOS combined with ``zc:ensemble``'s proxies above
``zc:ensemble``; no cell of a fix made only of skip connections).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from archscore.bench.report import Report, Table, check, check_lines, command_line, json_safe, publish, settings_from_args
from archscore.fileio import atomic_path

logger = logging.getLogger(__name__)

REF_CSV = "nb201_cifar10_ref_zc_200connected.csv"
#: The plot of rank correlation vs training minutes, next to results.md (copy both to docs/results/).
PLOT = "oneshot-rank-vs-minutes.png"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``archscore bench oneshot``."""
    p.add_argument("--data", type=Path, default=None, help="shared data folder with nb201/ and cifar10/ (default: $ARCHSCORE_DATA)")
    p.add_argument("--out", type=Path, default=Path("bench_oneshot_out"), help="output folder (default ./bench_oneshot_out)")
    p.add_argument("--minutes", type=float, nargs="+", default=[10.0, 30.0, 60.0], help="SPOS training budgets in minutes (default 10 30 60)")
    p.add_argument("--C", type=int, default=16, help="supernet channels (default 16, the benchmark's)")
    p.add_argument("--N", type=int, default=5, help="cells per stage (default 5, the benchmark's)")
    p.add_argument("--resolution", type=int, default=None, help="resize images (default 32, unchanged)")
    p.add_argument("--limit", type=int, default=None, help="use this many of the images (default all)")
    p.add_argument("--train-images", type=Path, default=None,
                   help="images the SPOS and DARTS supernets train and validate on: an npz or the CIFAR-10 JPEG tarball "
                        "(its 50,000 training images); default the data folder's cifar10/cifar10-jpg.tar.gz when present, "
                        "else cifar10/train5k.npz (5,000 images: supernets overfit them); the proxies always use "
                        "train5k.npz's 64-image reference batch")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--sampling", choices=("uniform", "fair"), default="uniform")
    p.add_argument("--bn-batches", type=int, default=16,
                   help="training batches that recalibrate BatchNorm for each cell (default 16 = 1,024 images)")
    p.add_argument("--eval-size", type=int, default=0,
                   help="score on at most this many held-out images, a seeded sample of every class (default 0: all, "
                        "20%% of each class, 10,000 on the tarball: the middle half of the 200 cells spans 3.9 points of "
                        "validation accuracy, and an accuracy over 2,000 images has a standard error of about 1 point)")
    p.add_argument("--n-cells", type=int, default=None, help="score only the first N of the 200 cells (smoke tests)")
    p.add_argument("--checkpoint-dir", type=Path, default=None, help="save/reload supernets here (default: no checkpoints)")
    p.add_argument("--darts-seeds", type=int, nargs="*", default=[0, 1, 2], help="DARTS seeds (default 0 1 2; none: skip DARTS)")
    p.add_argument("--darts-epochs", type=int, default=50)
    p.add_argument("--darts-steps-per-epoch", type=int, default=None)
    p.add_argument("--darts-C", type=int, default=None, help="DARTS supernet channels (default --C)")
    p.add_argument("--darts-N", type=int, default=None, help="DARTS cells per stage (default --N)")
    p.add_argument("--darts-fixes", nargs="*", default=["darts-", "drnas"], choices=("darts-", "early_stop", "drnas"),
                   help="fixes compared with plain DARTS (default darts- drnas)")
    p.add_argument("--darts-order", type=int, default=1, choices=(1, 2))
    p.add_argument("--enas-budget", type=int, default=100,
                   help="queries (supernet evaluations) of the ENAS-style search and of random search on the largest budget's supernet (0: skip)")
    p.add_argument("--skip-spos", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per process (default 1)")
    p.add_argument("--jobs", type=int, default=1,
                   help="worker processes that train the budgets' supernets, compute the proxies and run DARTS side by side, "
                        "longest first (default 1: all in this process); supernets come back through --checkpoint-dir "
                        "(default OUT/supernets)")
    p.add_argument("--device", default="auto", help="torch device (default auto: CUDA when available)")
    p.add_argument("--seed", type=int, default=0, help="seed of sampling, initialisation and data order (default 0)")


def _combine(*scores: np.ndarray) -> np.ndarray:
    """Log-rank average (AZ-NAS style) of higher-is-better scores, through the one shared ranking function."""
    from archscore.predictors.zc_ensemble import rank_aggregate

    return rank_aggregate({str(i): s for i, s in enumerate(scores)}, method="log_rank")


def _corr(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from archscore.metrics import kendall, spearman

    return {"kendall": kendall(truth, pred), "spearman": spearman(truth, pred)}


def _spos_estimator(args, images: Path, minutes: float):
    """The ``oneshot:spos`` estimator of one budget (its checkpoint in ``args.checkpoint_dir`` when set)."""
    from archscore.base import create_estimator

    images = _train_images(args, images)
    ckpt = None
    if args.checkpoint_dir is not None:
        ckpt = str(args.checkpoint_dir / f"spos_{minutes:g}min_C{args.C}_N{args.N}_s{args.seed}.pt")
    return create_estimator(
        "oneshot:spos", space="nb201", space_options={"C": args.C, "N": args.N}, data_path=str(images), limit=args.limit,
        resolution=args.resolution, epochs=None, time_budget=60.0 * minutes, sampling=args.sampling, lr=args.lr,
        batch_size=args.batch_size, bn_batches=args.bn_batches, eval_size=args.eval_size, checkpoint=ckpt,
        on_mismatch="retrain", device=args.device, num_threads=args.threads, seed=args.seed,
    )


def _resolve_images(args, data_dir: Path) -> Path:
    """The proxies' images (``train5k.npz``); fills in ``--train-images`` (the tarball when present) and ``--eval-size 0``."""
    if args.train_images is None and (data_dir / "cifar10" / "cifar10-jpg.tar.gz").is_file():
        args.train_images = data_dir / "cifar10" / "cifar10-jpg.tar.gz"
    if args.eval_size is not None and args.eval_size <= 0:
        args.eval_size = None  # 0: every held-out image
    return data_dir / "cifar10" / "train5k.npz"


def _train_images(args, images: Path) -> Path:
    """The supernets' images: ``--train-images`` when given, else the benchmark's ``images``."""
    return images if args.train_images is None else Path(args.train_images)


def _train_spos_job(args, images: Path, minutes: float) -> float:
    """Train (or find) the supernet of one budget and save it to its checkpoint; runs in a worker process."""
    import torch

    torch.set_num_threads(int(args.threads))
    t0 = time.perf_counter()
    _spos_estimator(args, images, minutes).fit()
    return time.perf_counter() - t0


def _zc_scores(archs, images: Path) -> dict[str, np.ndarray]:
    """``zc:ensemble``'s four proxies (meco, jacov, synflow, flops) on the shared reference batch of 64 images."""
    import torch

    from archscore.base import create_estimator
    from archscore.data import reference_batch

    torch.set_num_threads(1)
    frame = create_estimator("zc:ensemble", space="nb201").proxy_scores(archs, data=reference_batch(images, 64))
    return {c: frame[c].to_numpy(dtype=float) for c in frame.columns}


def _baselines(args, data_dir: Path, images: Path, zc: dict[str, np.ndarray] | None = None) -> dict:
    """The 200 cells, their targets and the label-free baselines SPOS is compared with."""
    from archscore.base import create_estimator
    from archscore.data import reference_batch
    from archscore.predictors.zc_ensemble import ensemble_score
    from archscore.proxies import proxy_info

    ref, archs = _ref_cells(args, data_dir)
    table = _nb201_table(data_dir)
    truth_by_arch = dict(zip(table["arch"], table["valid_acc_200ep"]))
    strings = list(ref.table["arch"])[: len(archs)]
    truth = np.array([truth_by_arch[s] for s in strings])
    baselines: dict[str, np.ndarray] = {}
    baselines["params"] = create_estimator("zc:params").predict(archs, data=reference_batch(images, 8))
    for col in ("ref_synflow", "ref_jacob_cov", "ref_snip"):
        if col in ref.table.columns:
            baselines[col] = ref.table[col].to_numpy(dtype=float)[: len(archs)]
    zc = _zc_scores(archs, images) if zc is None else zc
    # Proxies where lower is better enter the aggregations negated (all four are higher-is-better today).
    zc = {p: v if proxy_info(p)["higher_is_better"] else -v for p, v in zc.items()}
    rows = [{"method": name, "minutes": None, **_corr(truth, v)} for name, v in baselines.items()]
    rows.append({"method": "params+ref proxies (log-rank avg)", "minutes": None, **_corr(truth, _combine(*baselines.values()))})
    rows.append({"method": "zc:ensemble (" + ", ".join(zc) + ")", "minutes": None, **_corr(truth, ensemble_score(zc))})
    return {"archs": archs, "truth": truth, "baselines": baselines, "zc": zc, "rows": rows}


def run_spos(args, data_dir: Path, images: Path, base: dict) -> dict:
    """Score the cells with each budget's supernet (trained here, or loaded from the checkpoint a worker saved)."""
    archs, truth, baselines, zc = base["archs"], base["truth"], base["baselines"], base["zc"]
    rows = list(base["rows"])
    runs = []
    est = None
    for minutes in sorted(args.minutes):
        est = _spos_estimator(args, images, minutes)
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
                        ("spos(-loss)+params+ref proxies", _combine(spos_nl, *baselines.values())),
                        ("spos(-loss)+zc:ensemble proxies", _combine(spos_nl, *zc.values())),
                        ("spos(accuracy)+zc:ensemble proxies", _combine(spos_acc, *zc.values()))):
            rows.append({"method": name, "minutes": minutes, **_corr(truth, v)})
        logger.info("SPOS %g min: %s", minutes, run)
    return {"n_cells": len(archs), "rows": rows, "runs": runs, "estimator": est}


def _nb201_table(data_dir: Path):
    from archscore.benchmarks import load_nb201

    return load_nb201(data_dir / "nb201").table


def _darts_settings(args, images: Path, seed: int, fix: str | None) -> tuple[dict, Path]:
    """The ``darts`` strategy's parameters for one run, and the file its finished result is kept in.

    A finished run is kept in ``OUT/darts/`` under a digest of its settings, so
    a rerun (e.g. with one more fix) does not repeat it.
    """
    params = dict(data_path=str(_train_images(args, images)), space_options=_darts_space(args), limit=args.limit,
                  resolution=args.resolution, epochs=args.darts_epochs, steps_per_epoch=args.darts_steps_per_epoch,
                  order=args.darts_order, fix=fix, batch_size=args.batch_size, device=args.device, num_threads=args.threads)
    key = hashlib.sha1(json.dumps({"seed": seed, **params}, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return params, Path(args.out) / "darts" / f"seed{seed}_{fix or 'none'}_{key}.json"


def _darts_job(args, data_dir: Path, images: Path, seed: int, fix: str | None) -> dict:
    """One DARTS search (one seed, one fix) against the NB201 table; runs in a worker process with ``--jobs``."""
    import torch

    from archscore.search import TabularEvaluator, search
    from archscore.spaces import get_space

    params, saved = _darts_settings(args, images, seed, fix)
    if saved.is_file():
        logger.info("DARTS seed %d fix %s: reusing %s", seed, fix, saved)
        return json.loads(saved.read_text())
    torch.set_num_threads(int(args.threads))
    table = _nb201_table(data_dir)
    test_by_arch = dict(zip(table["arch"], table["test_acc_200ep"]))
    ev = TabularEvaluator(table, target="valid_acc_200ep", report="test_acc_200ep", space="nb201")
    space = get_space("nb201")
    res = search("nb201", "darts", ev, budget=args.darts_epochs, seed=seed, strategy_params=params, progress=False)
    st = res.stats
    cell = st["darts_arch"]
    trace = st["darts_epochs"]
    ops = space.cell_ops(space.from_string(cell))
    out = {"seed": seed, "fix": fix or "none", "cell": cell, "test_acc_200ep": float(test_by_arch[cell]),
           "skips": ops.count("skip_connect"), "skip_counts": [t["skips"] for t in trace],
           "queries": int(res.spent), "epochs_run": len(trace), "stopped_epoch": st["darts_stopped_epoch"],
           "seconds": st["darts_seconds"], "oracle_test_acc": float(res.best.report) if res.best else float("nan"),
           "test_acc_per_epoch": [float(test_by_arch[t["arch"]]) for t in trace]}
    logger.info("DARTS seed %d fix %s: %s", seed, fix, out)
    with atomic_path(saved) as tmp:  # a killed run leaves no half-written result
        tmp.write_text(json.dumps(out, default=str))
    return out


def _darts_runs(args) -> list[tuple[int, str | None]]:
    return [(seed, fix) for seed in args.darts_seeds for fix in (None, *args.darts_fixes)]


def _darts_space(args) -> dict:
    """The DARTS supernet's width and depth: ``--darts-C`` / ``--darts-N``, else the SPOS ``--C`` / ``--N``."""
    return {"C": args.darts_C or args.C, "N": args.darts_N or args.N}


def _darts_summary(args, runs: list[dict]) -> dict:
    return {**_darts_space(args), "epochs": args.darts_epochs,
            "steps_per_epoch": args.darts_steps_per_epoch, "order": args.darts_order, "runs": runs}


def run_enas(args, data_dir: Path, est, minutes: float) -> dict:
    from archscore.oneshot import enas_search
    from archscore.search import EstimatorEvaluator, search

    table = _nb201_table(data_dir)
    test_by_arch = dict(zip(table["arch"], table["test_acc_200ep"]))
    rows = []
    for name in ("enas (reinforce + supernet)", "random + supernet"):
        t0 = time.perf_counter()
        if name.startswith("enas"):
            res = enas_search(est, budget=args.enas_budget, seed=args.seed, progress=False)
        else:
            res = search("nb201", "random", EstimatorEvaluator(est), budget=args.enas_budget, seed=args.seed, progress=False)
        secs = time.perf_counter() - t0
        tests = np.array([test_by_arch[a] for a in res.history["arch"]])
        rows.append({"method": name, "queries": int(res.spent), "cell": res.best.arch, "supernet_acc": res.best.value,
                     "test_acc_200ep": float(test_by_arch[res.best.arch]), "mean_test_acc_queried": float(tests.mean()),
                     "seconds": secs, "ms_per_query": 1000 * secs / max(1, len(res.history))})
        logger.info("%s: %s", name, rows[-1])
    return {"minutes": minutes, "budget": args.enas_budget, "rows": rows, "table_best_test": float(table["test_acc_200ep"].max())}


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
        if r["minutes"] is None and (r["method"] in ("params", "params+ref proxies (log-rank avg)") or r["method"].startswith("zc:ensemble")):
            ax.axhline(r["spearman"], ls="--", lw=1, color="grey")
            ax.text(0.01, r["spearman"], r["method"], transform=ax.get_yaxis_transform(), fontsize=7, va="bottom")
    ax.set_xlabel("supernet training (minutes, wall clock)")
    ax.set_ylabel(f"Spearman vs valid_acc_200ep ({spos['n_cells']} cells)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _checks(spos: dict | None, darts: dict | None) -> list[dict]:
    checks = []
    if spos and spos["runs"]:
        top = max(r["minutes"] for r in spos["runs"])
        sp = {(r["method"], r["minutes"]): r["spearman"] for r in spos["rows"]}
        # The estimator's default output (metric="accuracy") is what is checked; -loss is reported beside it.
        checks.append(check(f"SPOS (accuracy) Spearman > params' ({top:g} min)", sp[("spos (accuracy)", top)], sp[("params", None)],
                            strict=True))
        zc = next(m for (m, minutes) in sp if minutes is None and m.startswith("zc:ensemble"))
        combo, base = sp[("spos(accuracy)+zc:ensemble proxies", top)], sp[(zc, None)]
        checks.append(check(f"SPOS+zc:ensemble proxies Spearman > zc:ensemble's ({top:g} min)", combo, base, strict=True))
    if darts:
        for fix in dict.fromkeys(r["fix"] for r in darts["runs"] if r["fix"] != "none"):
            worst = max(r["skips"] for r in darts["runs"] if r["fix"] == fix)
            checks.append(check(f"DARTS with {fix}: no found cell made only of skip connections (max skips over seeds)",
                                float(worst), 6.0, higher=False, strict=True))
    return checks


def _report(args, spos: dict | None, darts: dict | None, enas: dict | None, checks: list[dict]) -> Report:
    report = Report("One-shot benchmark (NB201 CIFAR-10): SPOS, DARTS, ENAS-style search",
                    command_line(args, "archscore bench oneshot"), settings_from_args(args))
    report.section(
        "Protocol",
        f"Images: CIFAR-10 {'train5k.npz' if args.train_images is None else args.train_images.name + ' (SPOS, DARTS; the proxies: train5k.npz)'} "
        f"({args.limit or 'all'} images, resolution {args.resolution or 32}); "
        f"supernet C={args.C}, N={args.N}; {args.threads} torch thread(s), device {args.device}. Wall-clock budgets depend on the "
        "machine and its load.",
        f"SPOS: one supernet per budget, {args.sampling} single-path training, BatchNorm recalibrated per cell on "
        f"{args.bn_batches} batches, scored on the held-out images ({args.eval_size or 'all'}); rank correlation with "
        f"valid_acc_200ep on the {spos['n_cells'] if spos else 200} hard-case connected cells.",
        "DARTS: search(..., 'darts') against the NB201 table, one query per distinct discretised cell; the cell DARTS returns is "
        "the last epoch's (early_stop: the last under the skip limit). 'oracle' is the best test accuracy among the epochs' cells "
        "picked by valid_acc_200ep, a choice DARTS does not make.",
        "ENAS-style: REINFORCE (factorised policy) whose queries are supernet evaluations of the largest budget's supernet, "
        "beside random search with the same evaluator and budget; the cell found is the best by supernet accuracy.",
    )
    if spos:
        t = Table(["method", "minutes", "Kendall", "Spearman"])
        for r in spos["rows"]:
            t.add(r["method"], "-" if r["minutes"] is None else f"{r['minutes']:g}", f"{r['kendall']:.3f}", f"{r['spearman']:.3f}")
        report.section(f"SPOS ranking on {spos['n_cells']} hard-case connected cells (target valid_acc_200ep)", table=t)
        t = Table(["minutes", "steps", "epochs", "train s", "final loss", "mean supernet acc %", "eval s", "ms / candidate"])
        for r in spos["runs"]:
            t.add(f"{r['minutes']:g}", r["steps"], f"{r['epochs']:.1f}", f"{r['train_seconds']:.0f}", f"{r['final_loss']:.3f}",
                  f"{r['mean_supernet_acc']:.1f}", f"{r['eval_seconds']:.1f}", f"{r['ms_per_candidate']:.0f}")
        report.section("SPOS training", f"![Spearman against training minutes]({PLOT})", table=t)
    if darts:
        t = Table(["seed", "fix", "found cell", "test_acc_200ep", "skips per epoch", "queries", "stopped", "oracle test acc", "seconds"], left=3)
        for r in darts["runs"]:
            t.add(r["seed"], r["fix"], f"`{r['cell']}`", f"{r['test_acc_200ep']:.2f}", " ".join(map(str, r["skip_counts"])), r["queries"],
                  r["stopped_epoch"] or "-", f"{r['oracle_test_acc']:.2f}", f"{r['seconds']:.0f}")
        lines = []
        for fix in dict.fromkeys(r["fix"] for r in darts["runs"]):
            acc = [r["test_acc_200ep"] for r in darts["runs"] if r["fix"] == fix]
            lines.append(f"{fix}: test_acc_200ep of the found cell {np.mean(acc):.2f} ± {np.std(acc):.2f} over {len(acc)} seed(s)")
        steps = "" if darts["steps_per_epoch"] is None else f", {darts['steps_per_epoch']} steps/epoch"
        report.section(f"DARTS (order {darts['order']}, C={darts['C']}, N={darts['N']}, {darts['epochs']} epochs{steps})", *lines, table=t)
    if enas:
        t = Table(["method", "queries", "cell found", "supernet acc %", "test_acc_200ep", "mean test acc of queried", "ms / query"], left=3)
        for r in enas["rows"]:
            t.add(r["method"], r["queries"], f"`{r['cell']}`", f"{r['supernet_acc']:.1f}", f"{r['test_acc_200ep']:.2f}",
                  f"{r['mean_test_acc_queried']:.2f}", f"{r['ms_per_query']:.0f}")
        report.section(f"ENAS-style search with the {enas['minutes']:g}-minute supernet ({enas['budget']} queries, seed {args.seed})",
                       f"Best test_acc_200ep in the NB201 table: {enas['table_best_test']:.2f}.", table=t)
    if checks:
        report.section("Checks", table=check_lines(checks))
    return report


class _Job:
    """One piece of the benchmark for a worker process: ``("spos", minutes)``, ``("zc",)`` or ``("darts", seed, fix)``."""

    def __init__(self, args, data_dir: Path, images: Path) -> None:
        self.args, self.data_dir, self.images = args, data_dir, images

    def __call__(self, payload: tuple) -> Any:
        kind = payload[0]
        if kind == "spos":
            return _train_spos_job(self.args, self.images, payload[1])
        if kind == "zc":
            return _zc_scores(_ref_cells(self.args, self.data_dir)[1], self.images)
        return _darts_job(self.args, self.data_dir, self.images, payload[1], payload[2])


def _ref_cells(args, data_dir: Path):
    """The reference table of the hard-case cells and the cells scored (``--n-cells`` of them)."""
    from archscore.benchmarks import load_nb201

    ref = load_nb201(data_dir / "nb201" / REF_CSV)
    return ref, ref.archs[: args.n_cells] if args.n_cells else ref.archs


def _run_jobs(args, data_dir: Path, images: Path, spos_wanted: bool) -> tuple[dict | None, list[dict]]:
    """Train the supernets, compute the proxies and run DARTS on ``--jobs`` worker processes, longest first.

    Supernets come back through their checkpoints; the proxies and DARTS runs as results.
    """
    from archscore.executor import LocalExecutor

    items: list[tuple[Any, tuple]] = []
    if spos_wanted:
        items += [(("spos", m), ("spos", m)) for m in sorted(args.minutes, reverse=True)]
        items.append((("zc",), ("zc",)))
    items += [(("darts", seed, fix), ("darts", seed, fix)) for seed, fix in _darts_runs(args)]
    results: dict[Any, Any] = {}
    with LocalExecutor(workers=args.jobs, max_retries=0) as ex:
        for out in ex.run(_Job(args, data_dir, images), items):
            if out.error is not None:
                raise RuntimeError(f"benchmark job {out.key} failed: {out.error}")
            logger.info("job %s done in %.0f s", out.key, out.seconds)
            results[out.key] = out.result
    darts = [results[("darts", seed, fix)] for seed, fix in _darts_runs(args)]
    return results.get(("zc",)), darts


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; returns the exit status."""
    import torch

    from archscore.data import default_data_dir

    data_dir = args.data or default_data_dir()
    if data_dir is None:
        logger.error("no data: pass --data or set $ARCHSCORE_DATA to the shared data folder")
        return 2
    if args.jobs < 1:
        logger.error("--jobs must be >= 1, got %d", args.jobs)
        return 2
    data_dir = Path(data_dir)
    images = _resolve_images(args, data_dir)
    torch.set_num_threads(int(args.threads))
    os.makedirs(args.out, exist_ok=True)
    spos_wanted = not args.skip_spos and bool(args.minutes)
    zc, darts_runs = None, None
    if args.jobs > 1:
        if args.checkpoint_dir is None:  # the workers hand their supernets back through checkpoints
            args.checkpoint_dir = args.out / "supernets"
        zc, darts_runs = _run_jobs(args, data_dir, images, spos_wanted)
    spos = run_spos(args, data_dir, images, _baselines(args, data_dir, images, zc)) if spos_wanted else None
    est = spos.pop("estimator") if spos else None
    enas = run_enas(args, data_dir, est, max(r["minutes"] for r in spos["runs"])) if est is not None and args.enas_budget > 0 else None
    if darts_runs is None and args.darts_seeds:
        darts_runs = [_darts_job(args, data_dir, images, seed, fix) for seed, fix in _darts_runs(args)]
    darts = _darts_summary(args, darts_runs) if darts_runs else None
    if spos:
        _plot(spos, args.out / PLOT)
    checks = _checks(spos, darts)
    results = {"args": {k: str(v) for k, v in vars(args).items() if k != "func"}, "spos": spos, "darts": darts, "enas": enas,
               "checks": checks}
    (args.out / "results.json").write_text(json.dumps(json_safe(results), indent=1, default=str))  # NaN -> null: valid JSON
    publish(_report(args, spos, darts, enas, checks), args.out)
    return 0 if all(c["passed"] for c in checks) else 1
