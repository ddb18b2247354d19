"""Learning-curve extrapolation on real NAS-Bench-201 curves (MAE, Spearman, 90% coverage, ms per curve).

Observes the first k epochs of the 200 full 200-epoch curves of
``nb201/nb201_cifar10_curves_200archs.csv`` (cifar10-valid, seed mean) and
predicts the final validation accuracy. Per-curve methods need no training;
learned methods are scored by K-fold cross-validation over architectures.
The training-accuracy prefix enters the learned models as a loss-like
channel (``losses = 100 - train accuracy``, the training error; the CSV has
no training losses), and SoTL / SoTL-E are computed on that training error.
Optionally plots a few curves with their predictive bands and runs the
cheap-training estimator end to end on a few cells. With ``--out`` writes
``OUT/results.csv`` and ``OUT/results.md`` (the printed table with the
command line and settings).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import KFold
from tqdm.auto import tqdm

import archscore
from archscore.bench.report import Report, Section, Table, command_line, publish, settings_from_args
from archscore.benchmarks import load_nb201
from archscore.data import resolve_data_file
from archscore.metrics import mae, spearman
from archscore.predictors.curves import FAMILY_NAMES, extrapolate

logger = logging.getLogger(__name__)

CURVES_CSV = "nb201/nb201_cifar10_curves_200archs.csv"
IMAGES_NPZ = "cifar10/train5k.npz"
Z90 = 1.6448536269514722

#: label -> (estimator name, params, uses training-error channel, uses architectures)
def method_specs(total_epochs: int, encoding: Any) -> dict[str, tuple[str, dict, bool, bool]]:
    """The benchmark's methods (name, params, uses the training channel, uses archs)."""
    T = total_epochs
    return {
        "last": ("lc:last", {}, False, False),
        "best": ("lc:best", {}, False, False),
        "pow3": ("lc:pow3", {"total_epochs": T}, False, False),
        "pow3 env": ("lc:pow3", {"total_epochs": T, "envelope": True}, False, False),
        "pow3 cosine-time": ("lc:pow3", {"total_epochs": T, "time": "cosine"}, False, False),
        "pow3 cos+env": ("lc:pow3", {"total_epochs": T, "time": "cosine", "envelope": True}, False, False),
        "pow3 cos-schedule": ("lc:pow3", {"total_epochs": T, "schedule": "cosine"}, False, False),
        # lc:combo: equal family weights, best-so-far curve, temperature "auto"; NB201's runs are cosine-annealed,
        # so "combo" names the cosine-schedule model explicitly (lc:combo's default assumes no schedule)
        "combo": ("lc:combo", {"total_epochs": T, "schedule": "cosine"}, False, False),
        "combo gain0": ("lc:combo", {"total_epochs": T, "schedule": "cosine", "noise_gain": 0.0}, False, False),
        "combo gain0.8": ("lc:combo", {"total_epochs": T, "schedule": "cosine", "noise_gain": 0.8}, False, False),
        "combo no-schedule": ("lc:combo", {"total_epochs": T, "schedule": None}, False, False),
        "combo no-schedule raw": ("lc:combo", {"total_epochs": T, "schedule": None, "envelope": False}, False, False),
        "combo cosine-time": ("lc:combo", {"total_epochs": T, "time": "cosine"}, False, False),
        "combo both-times": ("lc:combo", {"total_epochs": T, "time": "both"}, False, False),
        # the Bayesian model average with posterior family weights (raw curve, temperature 1)
        "combo-evidence": ("lc:combo-evidence", {"total_epochs": T}, False, False),
        "combo-evidence cos-schedule": ("lc:combo-evidence", {"total_epochs": T, "schedule": "cosine"}, False, False),
        "sotl (train err)": ("lc:sotl", {}, True, False),
        "sotl-e E=1 (train err)": ("lc:sotl-e", {}, True, False),
        "svr valid": ("lc:svr", {}, False, False),
        "svr valid+train": ("lc:svr", {}, True, False),
        "svr valid+train+arch": ("lc:svr", {"encoding": encoding}, True, True),
        "rf valid+train+arch": ("lc:rf", {"encoding": encoding}, True, True),
        "et valid+train+arch": ("lc:et", {"encoding": encoding}, True, True),
        "gbm valid+train+arch": ("lc:gbm", {"encoding": encoding}, True, True),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None, help=f"the curves CSV, or a data folder holding {CURVES_CSV} (default: $ARCHSCORE_DATA)")
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 20, 50, 100], help="observed prefix lengths")
    parser.add_argument("--total-epochs", type=int, default=200, help="epoch to predict (200: the curves' length)")
    parser.add_argument("--methods", nargs="+", default=None, help="subset of method labels (default: all; see --list)")
    parser.add_argument("--list", action="store_true", help="list the method labels and exit")
    parser.add_argument("--families", action="store_true", help="also score each of the 11 families alone (epoch abscissa)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds for learned methods")
    parser.add_argument("--seed", type=int, default=0, help="seed of the folds and the learned models")
    parser.add_argument("--encoding", default="op_path_counts", help="architecture features for learned methods: 'op_path_counts' (op and path-type counts) or an archscore.encodings name when available")
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG of a few curves with predictive bands here (default: no plot)")
    parser.add_argument("--out", type=Path, default=None, help="folder for results.csv and results.md (default: print only)")
    parser.add_argument("--cheap-train", type=int, default=0, metavar="N", help="also train N NB201 cells briefly (train:nb201) and extrapolate")
    parser.add_argument("--images", type=Path, default=None,
                        help=f"CIFAR-10 images for --cheap-train (default: {IMAGES_NPZ} in the --data folder or $ARCHSCORE_DATA)")
    parser.add_argument("--train-epochs", type=int, default=3, help="epochs for --cheap-train")
    parser.add_argument("--train-images", type=int, default=1000, help="CIFAR-10 images for --cheap-train, 20%% held out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def load_curves(path: Path):
    """Archs, valid curves (N, E) and train curves (N, E) in percent."""
    data = load_nb201(path)
    for col in ("valid_acc_per_epoch", "train_acc_per_epoch"):
        if col not in data.table.columns:
            raise ValueError(f"{path} has no {col!r} column; is it the learning-curve CSV?")
    V = np.array([json.loads(s) for s in data.table["valid_acc_per_epoch"]], dtype=float)
    Tr = np.array([json.loads(s) for s in data.table["train_acc_per_epoch"]], dtype=float)
    return data.archs, V, Tr


def evaluate(label, spec, archs, V, Tr, k, folds, seed):
    """Predictions (mean, std or None) and timing for one method at prefix length k."""
    name, params, use_train, use_arch = spec
    n = len(V)
    est0 = archscore.create_estimator(name, **params)
    tags = est0.get_tags()

    def ctx(idx):
        c = {}
        if tags.input.needs_curves or not tags.input.needs_losses:
            c["curves"] = [V[i, :k] for i in idx]
        if use_train:
            c["losses"] = [100.0 - Tr[i, :k] for i in idx]
        return c

    def arch_list(idx):
        return [archs[i] for i in idx] if use_arch else None

    mean = np.empty(n)
    std = np.full(n, np.nan)
    fit_s, pred_s = 0.0, 0.0
    if tags.requires_fit:
        splits = KFold(n_splits=folds, shuffle=True, random_state=seed).split(np.arange(n))
        if "seed" in est0.get_params():
            params = {**params, "seed": seed}
    else:
        splits = [(np.arange(0), np.arange(n))]
    for tr, te in splits:
        est = archscore.create_estimator(name, **params)
        t0 = time.perf_counter()
        if tags.requires_fit:
            est.fit(arch_list(tr), V[tr, -1], **ctx(tr))
        fit_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        if tags.output.supports_std:
            mean[te], std[te] = est.predict(arch_list(te), return_std=True, **ctx(te))
        else:
            mean[te] = est.predict(arch_list(te), **ctx(te))
        pred_s += time.perf_counter() - t0
    return mean, std, fit_s, 1000.0 * pred_s / n


def _row(label, k, y, mean, std, fit_s, ms, is_score):
    cov = float(np.mean(np.abs(mean - y) <= Z90 * std)) if np.all(np.isfinite(std)) else float("nan")
    return {
        "k": k, "method": label,
        "MAE": float("nan") if is_score else mae(y, mean),
        "bias": float("nan") if is_score else float(np.mean(mean - y)),
        "Spearman": spearman(y, mean),
        "cov90": cov,
        "mean_std": float(np.mean(std)) if np.all(np.isfinite(std)) else float("nan"),
        "ms_per_curve": ms, "fit_s": fit_s,
    }


def _fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


def results_table(rows) -> Table:
    """The benchmark's table: one row per prefix length x method."""
    table = Table(["k", "method", "MAE", "bias", "Spearman", "cov90", "ms/curve", "fit s"], left=2)
    for r in rows:
        table.add(r["k"], r["method"], _fmt(r["MAE"], ".2f"), _fmt(r["bias"], ".2f"), _fmt(r["Spearman"], ".3f"), _fmt(r["cov90"], ".2f"),
                  _fmt(r["ms_per_curve"], ".2f"), _fmt(r["fit_s"], ".1f"))
    return table


def plot_bands(path, archs, V, Tr, k, T, seed, encoding, folds):
    """Four curves: observed prefix, truth, lc:combo bands (with and without the cosine-schedule model) and the best learned model's interval at T."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = V[:, -1]
    order = np.argsort(y)
    picks = [order[int(q * (len(y) - 1))] for q in (0.2, 0.5, 0.8, 0.98)]
    spec = method_specs(T, encoding)["gbm valid+train+arch"]
    gbm_mean, gbm_std, _, _ = evaluate("gbm", spec, archs, V, Tr, k, folds, seed)
    fig, axes = plt.subplots(1, len(picks), figsize=(4 * len(picks), 3.4), sharey=False)
    epochs = np.arange(1, T + 1)
    grid = np.unique(np.r_[np.linspace(k + 1, T, 20).astype(int), T])
    for ax, i in zip(axes, picks):
        ax.plot(epochs, V[i], color="0.7", lw=1, label="true curve")
        ax.plot(epochs[:k], V[i, :k], color="k", lw=1.5, label=f"observed (k={k})")
        for (label, kw), color in ((("combo", {"method": "combo", "schedule": "cosine"}), "tab:blue"),
                                   (("combo no-schedule", {"method": "combo", "schedule": None}), "tab:green")):
            res = [extrapolate(V[i, :k], int(e), total_epochs=T, **kw) for e in grid]
            ax.plot(grid, [r.mean for r in res], color=color, label=f"{label}, 90% band")
            ax.fill_between(grid, [r.low for r in res], [r.high for r in res], color=color, alpha=0.15)
        ax.errorbar([T + 3], [gbm_mean[i]], yerr=[[Z90 * gbm_std[i]], [Z90 * gbm_std[i]]], fmt="o", color="tab:red", ms=4, capsize=3,
                    label="gbm (learned), 90%")
        ax.set_title(f"cell {i}: final {y[i]:.1f}%", fontsize=9)
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("validation accuracy (%)")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cheap_train(args, archs, V) -> Section:
    """Train ``--cheap-train`` NB201 cells briefly on CIFAR-10 images: the report section of cost and estimates."""
    folder = args.data if args.data is not None and args.data.is_dir() else None
    src = resolve_data_file(args.images if args.images is not None else folder, IMAGES_NPZ, "CIFAR-10 images for --cheap-train",
                            option="--images or a --data folder")
    torch.set_num_threads(1)  # the benchmark machine is shared
    y = V[:, -1]
    order = np.argsort(y)
    picks = [int(order[int(q * (len(y) - 1))]) for q in np.linspace(0.1, 1.0, args.cheap_train)]
    cells = [archs[i] for i in picks]
    est = archscore.create_estimator("train:nb201", epochs=args.train_epochs, schedule_epochs=args.total_epochs, data_path=str(src),
                                     limit=args.train_images, seed=args.seed, extrapolator="combo", total_epochs=args.total_epochs,
                                     progress=not args.no_progress)
    t0 = time.perf_counter()
    pred = est.fit(cells).predict(cells)
    wall = time.perf_counter() - t0
    table = Table(["cell", "true final", "observed curve (%)", "combo est.", "s"])
    for i, a, p in zip(picks, cells, pred):
        table.add(i, f"{y[i]:.2f}", " ".join(f"{v:.1f}" for v in est.curves_[a.spec]), f"{p:.2f}", f"{est.seconds_[a.spec]:.1f}")
    return Section(f"Cheap training: train:nb201, {args.train_epochs} epochs of a {args.total_epochs}-epoch cosine schedule",
                   [f"{args.train_images} images of {src} (20% held out), batch 256, seed {args.seed}, CPU 1 thread",
                    f"total {wall:.1f} s for {len(cells)} cells ({wall / len(cells):.1f} s per cell)"], table)


def run(args: argparse.Namespace) -> int:
    T = int(args.total_epochs)
    if args.list:
        for label in method_specs(T, args.encoding):
            print(label)
        return 0
    encoding = args.encoding
    specs = method_specs(T, encoding)
    if args.families:
        specs.update({f"family {f}": (f"lc:{f}", {"total_epochs": T}, False, False) for f in FAMILY_NAMES})
    if args.methods:
        unknown = [m for m in args.methods if m not in specs]
        if unknown:
            raise ValueError(f"unknown method label(s) {unknown}; known: {', '.join(specs)}")
        specs = {m: specs[m] for m in args.methods}
    csv = resolve_data_file(args.data, CURVES_CSV, "learning-curve CSV")
    archs, V, Tr = load_curves(csv)
    if V.shape[1] < T:
        raise ValueError(f"curves have {V.shape[1]} epochs, fewer than --total-epochs {T}")
    y = V[:, T - 1]
    V, Tr = V[:, :T], Tr[:, :T]
    for k in args.ks:
        if not 3 <= k < T:
            raise ValueError(f"prefix length k must be in [3, {T}), got {k}")
    logging.getLogger("archscore.predictors").setLevel(logging.ERROR)  # clipping warnings are counted, not printed per curve
    rows = []
    show = sys.stderr.isatty() and not args.no_progress
    with tqdm(total=len(args.ks) * len(specs), desc="bench curves", disable=not show) as bar:
        for k in args.ks:
            for label, spec in specs.items():
                mean, std, fit_s, ms = evaluate(label, spec, archs, V, Tr, k, args.folds, args.seed)
                rows.append(_row(label, k, y, mean, std, fit_s, ms, is_score=spec[0].startswith("lc:sotl")))
                bar.update(1)
    report = Report("archscore bench curves", command_line(args, "archscore bench curves"), settings_from_args(args, curves=str(csv)))
    report.section(f"NB201 cifar10-valid curves: {len(y)} cells, predict the validation accuracy at epoch {T}",
                   f"learned methods: {args.folds}-fold cross-validation over cells, seed {args.seed}; arch features: {args.encoding}",
                   table=results_table(rows))
    if args.cheap_train:
        report.sections.append(cheap_train(args, archs, V))
    md = publish(report, args.out)
    if args.out is not None:
        pd.DataFrame(rows).to_csv(args.out / "results.csv", index=False)
        print(f"\nwrote {md} and {args.out / 'results.csv'}")
    if args.plot:
        k_plot = 20 if 20 in args.ks else args.ks[0]
        plot_bands(args.plot, archs, V, Tr, k_plot, T, args.seed, encoding, args.folds)
        print(f"plot: {args.plot}")
    return 0
