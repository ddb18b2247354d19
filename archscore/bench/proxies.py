"""Zero-cost proxies against NAS-Bench-201 ground truth: rank correlations, agreement with the reference code, cost.

Three protocols (``--protocol``, default all):

``full``
    ``--n`` cells (default 300) drawn uniformly from the whole table
    (disconnected cells included, ``numpy.random.default_rng(seed).choice``),
    reported against ``--target`` and ``test_acc_200ep``, next to the
    published full-space Spearman of each proxy.
``hard``
    Exactly the connected cells of the reference file
    ``nb201_cifar10_ref_zc_200connected.csv``, scored on the reference batch,
    against ``--target``: each proxy's Spearman next to the reference code's,
    and the per-cell Spearman agreement between our scores and the reference
    scores (``ref_<proxy>`` columns).
``design`` (opt-in)
    The cells of ``nb201_cifar10_curves_200archs.csv`` (indices 0-199) that
    are neither in the hard set nor in the full-space sample: the data on
    which ``zc:ensemble``'s proxy set was chosen, reporting the Spearman of
    every 2-4 proxy log-rank combination on them (never on the evaluation
    cells).
``cost``
    On ``--cost-n`` cells of the full-space sample: the time of one
    ``archscore.proxies.compute`` call with the whole suite, of one plain
    forward+backward pass on the same model and batch, and of each proxy
    computed alone; the medians over cells of suite / fwd+bwd and of
    (sum of single-proxy calls) / fwd+bwd.

Every correlation carries a percentile-bootstrap 95% interval. Scores are
cached per cell in ``OUT/scores.jsonl`` (keyed by cell, batch, seeds, space
options and proxy set), so an interrupted run resumes where it stopped. The
models are built after ``torch.manual_seed(--model-seed)`` (42, as the
reference code) and scored on the reference batch of ``archscore.data``
(``--batch-size`` rows of ``train5k.npz``). ``zc:ensemble`` is computed from
the cached scores with :func:`archscore.predictors.zc_ensemble.rank_aggregate`
over each protocol's cell list.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

logger = logging.getLogger(__name__)

PROTOCOLS = ("full", "hard", "cost", "design")
CURVES_CSV = "nb201_cifar10_curves_200archs.csv"

#: Published full-space Spearman on NAS-Bench-201 CIFAR-10: (value, target, source).
PUBLISHED: dict[str, tuple[float, str, str]] = {
    "grad_norm": (0.59, "test_acc_200ep", "Abdelfattah et al. 2021"),
    "snip": (0.60, "test_acc_200ep", "Abdelfattah et al. 2021"),
    "grasp": (0.51, "test_acc_200ep", "Abdelfattah et al. 2021"),
    "fisher": (0.36, "test_acc_200ep", "Abdelfattah et al. 2021"),
    "jacov": (0.73, "test_acc_200ep", "Abdelfattah et al. 2021"),
    "synflow": (0.74, "test_acc_200ep", "Abdelfattah et al. 2021"),
    "nwot": (0.77, "valid_acc_200ep", "NAS-Bench-Suite-Zero 2022"),
    "epe_nas": (0.70, "valid_acc_200ep", "NAS-Bench-Suite-Zero 2022"),
    "zen": (0.35, "valid_acc_200ep", "NAS-Bench-Suite-Zero 2022"),
    "params": (0.72, "valid_acc_200ep", "NAS-Bench-Suite-Zero 2022"),
    "flops": (0.69, "valid_acc_200ep", "NAS-Bench-Suite-Zero 2022"),
    "l2_norm": (0.68, "valid_acc_200ep", "NAS-Bench-Suite-Zero 2022"),
    "zico": (0.78, "test_acc_200ep", "Li et al. 2023 (ZiCo)"),
    "meco": (0.89, "test_acc_200ep", "Jiang et al. 2023 (MeCo)"),
    "zc:ensemble": (0.91, "test_acc_200ep", "AZ-NAS (Lee & Ham 2024), its own combination"),
}

#: Reference-code column of each proxy in the reference CSVs.
REF_COLUMNS: dict[str, str] = {
    "grad_norm": "ref_grad_norm",
    "snip": "ref_snip",
    "grasp": "ref_grasp",
    "fisher": "ref_fisher",
    "jacov": "ref_jacob_cov",
    "plain": "ref_plain",
    "synflow": "ref_synflow",
}

#: Targets of the hard protocol (issue 3): minimum per-cell agreement with the reference scores.
AGREEMENT_TARGETS: dict[str, float] = {
    "grad_norm": 0.95,
    "snip": 0.95,
    "jacov": 0.95,
    "synflow": 0.95,
    "fisher": 0.85,
    "grasp": 0.80,
}
#: Proxies that must reach the reference code's Spearman minus this margin in the hard protocol.
REF_MARGIN = 0.03
PUBLISHED_MARGIN = 0.05
ENSEMBLE_TARGET = 0.88
COST_TARGET = 8.0
ENSEMBLE = "zc:ensemble"

REF_CSV = "nb201_cifar10_ref_zc_200connected.csv"


# ---------------------------------------------------------------- arguments
def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``archscore bench proxies``."""
    p.add_argument("--data", type=Path, default=None, help="shared data folder with nb201/ and cifar10/ (default: $ARCHSCORE_DATA)")
    p.add_argument("--table", type=Path, default=None, help="NB201 CSV with the targets (default: DATA/nb201/nb201_cifar10.csv)")
    p.add_argument("--ref", type=Path, default=None, help=f"reference-score CSV of the hard protocol (default: DATA/nb201/{REF_CSV})")
    p.add_argument("--images", type=Path, default=None, help="images: train5k.npz, the CIFAR-10 JPEG tarball or a data folder (default: DATA/cifar10/train5k.npz)")
    p.add_argument("--protocol", default="full,hard,cost", help="comma-separated protocols among full, hard, cost, design (default: full,hard,cost)")
    p.add_argument("--design-n", type=int, default=None, help="design protocol: only the first N eligible cells of the list (default all)")
    p.add_argument("--curves", type=Path, default=None, help=f"cell list of the design protocol (default: DATA/nb201/{CURVES_CSV})")
    p.add_argument("--n", type=int, default=300, help="cells in the full-space sample (default 300)")
    p.add_argument("--seed", type=int, default=0, help="sampling, bootstrap and proxy seed (default 0)")
    p.add_argument("--model-seed", type=int, default=42, help="torch.manual_seed before building each model (default 42, as the reference)")
    p.add_argument("--batch-size", type=int, default=64, help="images in the minibatch (default 64)")
    p.add_argument("--target", default="valid_acc_200ep", help="target column (default valid_acc_200ep; full also reports test_acc_200ep)")
    p.add_argument("--proxies", default=None, help="comma-separated proxies (default: all registered); zc:ensemble's are always computed")
    p.add_argument("--cost-n", type=int, default=30, help="cells of the full-space sample timed in the cost protocol (default 30)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the 95%% intervals (default 1000)")
    p.add_argument("--out", type=Path, default=Path("bench_proxies_out"), help="output folder: results.json, scores.jsonl cache, plots/ (default ./bench_proxies_out)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--hard-network", choices=("reference", "benchmark"), default="reference",
                   help="network of the hard protocol: 'reference' = the original zero-cost code's NB201 init "
                        "(ReferenceNB201Space, same weights as the reference scores after the model seed), "
                        "'benchmark' = archscore's NB201 build (default reference; full, cost and design always use the benchmark build)")
    p.add_argument("--space-options", default="", help="NB201 space options as k=v,... e.g. C=4,N=1 for a smoke test (results then not comparable)")
    p.add_argument("--budget-minutes", type=float, default=None,
                   help="stop scoring new cells after this many minutes and report on the cells scored (cached cells are always used)")
    p.add_argument("--no-plots", action="store_true", help="skip the scatter plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _parse_list(text: str | None, what: str, allowed: Sequence[str] | None = None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ValueError(f"{what} is empty; expected a comma-separated list")
    if allowed is not None:
        bad = [t for t in items if t not in allowed]
        if bad:
            raise ValueError(f"unknown {what} {bad}; expected some of {list(allowed)}")
    return items


def _parse_space_options(text: str) -> dict[str, int]:
    opts: dict[str, int] = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not value.strip().lstrip("-").isdigit():
            raise ValueError(f"--space-options item {item!r} is not of the form key=integer (e.g. C=4,N=1)")
        opts[key.strip()] = int(value)
    return opts


def _resolve(path: Path | None, data: Path | None, *parts: str, what: str) -> Path:
    if path is not None:
        if not path.exists():
            raise FileNotFoundError(f"{what} not found: {path}")
        return path
    if data is None:
        raise FileNotFoundError(f"no {what} given: pass --data (or set $ARCHSCORE_DATA) or the file itself")
    candidate = data.joinpath(*parts)
    if not candidate.exists():
        raise FileNotFoundError(f"{what} not found at {candidate}")
    return candidate


# ------------------------------------------------------------------- cache
class ScoreCache:
    """Per-cell proxy scores in an append-only JSON-lines file (resumable runs).

    Each line is ``{"key": ..., "arch": ..., "network": ..., "scores": {proxy: value}, "suite_ms": ms}``;
    the key fixes everything the scores depend on (cell, batch fingerprint,
    seeds, space options and the proxy set).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path.is_file():
            with path.open() as fh:
                for line in fh:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:  # a line cut by an interrupted run
                        logger.warning("skipping a truncated line of %s", path)
                        continue
                    self.entries[rec["key"]] = rec

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, rec: dict[str, Any]) -> None:
        self.entries[rec["key"]] = rec
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")  # NaN/inf round-trip through Python's json


def _fingerprint(*tensors: Any) -> str:
    h = hashlib.sha1()
    for t in tensors:
        h.update(np.ascontiguousarray(t.detach().cpu().numpy()).tobytes())
    return h.hexdigest()[:16]


def proxies_code_version() -> str:
    """Hash of the proxy implementations' source: cached scores of other code versions are not reused."""
    import archscore.proxies as pkg

    h = hashlib.sha1()
    for f in sorted(Path(pkg.__file__).parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


# --------------------------------------------------------------- scoring
class Scorer:
    """Builds NB201 models reproducibly and scores / times them on one batch."""

    def __init__(self, space: Any, inputs: Any, targets: Any, proxies: list[str], *, seed: int, model_seed: int,
                 device: str, cache: ScoreCache, space_options: dict[str, int]) -> None:
        self.space, self.inputs, self.targets = space, inputs, targets
        self.proxies, self.seed, self.model_seed, self.device = proxies, seed, model_seed, device
        self.cache = cache
        self.deadline: float | None = None
        self.code = proxies_code_version()
        self.tag = json.dumps(
            {"batch": _fingerprint(inputs, targets), "seed": seed, "model_seed": model_seed, "network": type(space).__name__,
             "space": space_options, "proxies": sorted(proxies), "code": self.code}, sort_keys=True)

    def key(self, arch: Any) -> str:
        return hashlib.sha1(f"{self.space.to_string(arch)}|{self.tag}".encode()).hexdigest()

    def build(self, arch: Any) -> Any:
        import torch

        torch.manual_seed(self.model_seed)
        return self.space.build(arch)

    def scores(self, arch: Any) -> dict[str, Any]:
        """Cached ``{"scores": {...}, "suite_ms": ...}`` of one cell, computed once."""
        from archscore.proxies import compute

        cell = self.space.to_string(arch)
        key = self.key(arch)
        rec = self.cache.get(key)
        if rec is None:
            model = self.build(arch)
            t0 = time.perf_counter()
            values = compute(model, self.inputs, self.targets, self.proxies, seed=self.seed, device=self.device)
            ms = 1000 * (time.perf_counter() - t0)
            rec = {"key": key, "arch": cell, "network": type(self.space).__name__, "scores": {p: float(values[p]) for p in self.proxies}, "suite_ms": ms}
            self.cache.put(rec)
        return rec

    def table(self, archs: Sequence[Any], progress: bool, desc: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Scores of ``archs`` (cached or computed), in order; stops computing new ones after the deadline.

        Returns columns for the scored prefix only: a prefix of a uniformly
        shuffled sample is itself a uniform sample, so a cut run stays valid.
        """
        from tqdm.auto import tqdm

        recs = []
        for a in tqdm(archs, desc=desc, disable=not progress, unit="cell"):
            if self.deadline is not None and time.monotonic() > self.deadline and self.cache.get(self.key(a)) is None:
                logger.warning("%s: time budget spent after %d of %d cells; reporting on those", desc, len(recs), len(archs))
                break
            recs.append(self.scores(a))
        cols = {p: np.array([r["scores"][p] for r in recs], dtype=float) for p in self.proxies}
        return cols, np.array([r["suite_ms"] for r in recs], dtype=float)

    def fwd_bwd_ms(self, model: Any, reps: int = 3) -> float:
        """Median time of one plain forward + cross-entropy backward on the batch (after one warm-up)."""
        import torch
        import torch.nn.functional as F

        model = model.to(self.device)
        x, y = self.inputs.to(self.device), self.targets.to(self.device)
        times = []
        for i in range(reps + 1):
            model.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            F.cross_entropy(model(x), y).backward()
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
            if i:
                times.append(1000 * (time.perf_counter() - t0))
        model.zero_grad(set_to_none=True)
        return float(np.median(times))

    def timed_call(self, model: Any, proxies: list[str]) -> float:
        from archscore.proxies import compute

        t0 = time.perf_counter()
        compute(model, self.inputs, self.targets, proxies, seed=self.seed, device=self.device)
        return 1000 * (time.perf_counter() - t0)


# ----------------------------------------------------------------- metrics
def _finite_ranks(v: np.ndarray) -> np.ndarray:
    """Average ranks of a vector that may hold +-inf (Spearman/Kendall are rank statistics)."""
    from scipy.stats import rankdata

    return rankdata(v, method="average")


def correlations(y: np.ndarray, s: np.ndarray, *, n_boot: int, seed: int) -> dict[str, Any]:
    """Spearman and Kendall of scores ``s`` against targets ``y`` with bootstrap 95% intervals.

    Cells where the score is NaN are left out (``n`` says how many were used);
    +-inf scores are kept through their ranks. A constant score gives ``None``.
    """
    from archscore.metrics import bootstrap_ci, kendall, spearman

    y, s = np.asarray(y, dtype=float), np.asarray(s, dtype=float)
    keep = ~np.isnan(s)
    out: dict[str, Any] = {"n": int(keep.sum()), "n_nan": int((~keep).sum())}
    y, s = y[keep], _finite_ranks(s[keep])
    for name, metric in (("spearman", spearman), ("kendall", kendall)):
        try:
            value, lo, hi = bootstrap_ci(metric, y, s, n_boot=n_boot, seed=seed)
        except ValueError as exc:
            logger.warning("%s undefined: %s", name, exc)
            out[name], out[f"{name}_ci"] = None, None
        else:
            out[name], out[f"{name}_ci"] = value, [lo, hi]
    return out


def _agreement(ours: np.ndarray, ref: np.ndarray) -> float | None:
    from archscore.metrics import spearman

    keep = ~(np.isnan(ours) | np.isnan(ref))
    try:
        return spearman(_finite_ranks(ref[keep]), _finite_ranks(ours[keep]))
    except ValueError:
        return None


def _ensemble_scores(cols: dict[str, np.ndarray], archs: Sequence[Any]) -> np.ndarray:
    from archscore.predictors.zc_ensemble import DEFAULT_PROXIES, rank_aggregate
    from archscore.proxies import proxy_info

    sub = {p: cols[p] for p in DEFAULT_PROXIES}
    direction = {p: bool(proxy_info(p)["higher_is_better"]) for p in DEFAULT_PROXIES}
    return rank_aggregate(sub, direction, valid=[a.is_connected() for a in archs])


def _oriented(name: str, v: np.ndarray) -> np.ndarray:
    """Scores turned so that higher is better (what the correlations are computed on)."""
    if name == ENSEMBLE:
        return v
    from archscore.proxies import proxy_info

    return v if proxy_info(name)["higher_is_better"] else -v


# ------------------------------------------------------------------- plots
def scatter_plots(folder: Path, protocol: str, target: str, y: np.ndarray, cols: dict[str, np.ndarray],
                  stats: dict[str, dict[str, Any]]) -> dict[str, str]:
    """One PNG per proxy: score (y axis) against the target accuracy (x axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, s in cols.items():
        fig, ax = plt.subplots(figsize=(4.2, 3.4), dpi=100)
        ok = np.isfinite(s)
        ax.scatter(y[ok], s[ok], s=8, alpha=0.6)
        if (~ok).any():
            ax.scatter(y[~ok], np.full((~ok).sum(), np.nanmin(s[ok]) if ok.any() else 0.0), s=8, marker="x", color="red",
                       label=f"{(~ok).sum()} non-finite (drawn at min)")
            ax.legend(fontsize=7)
        finite = s[ok]
        if finite.size and np.nanmax(np.abs(finite)) > 1e4 * max(np.nanmedian(np.abs(finite)), 1e-300):
            ax.set_yscale("symlog")
        rho = stats.get(name, {}).get("spearman")
        ax.set_title(f"{name} ({protocol}): Spearman {rho:+.3f}" if rho is not None else f"{name} ({protocol})", fontsize=9)
        ax.set_xlabel(target)
        ax.set_ylabel(name)
        fig.tight_layout()
        path = folder / f"{protocol}_{name.replace(':', '_')}.png"
        fig.savefig(path)
        plt.close(fig)
        paths[name] = str(path)
    return paths


# --------------------------------------------------------------- protocols
def run_full(args, scorer: Scorer, bench, requested: list[str], targets: list[str], progress: bool) -> tuple[dict, list, list]:
    table = bench.table
    if args.n > len(table):
        raise ValueError(f"--n {args.n} exceeds the {len(table)} cells of the table")
    rows = _full_rows(args.n, args.seed, len(table))
    archs = [bench.archs[i] for i in rows]
    cols, suite_ms = scorer.table(archs, progress, "full space")
    rows, archs = rows[: len(suite_ms)], archs[: len(suite_ms)]
    cols = {p: cols[p] for p in requested} | {ENSEMBLE: _ensemble_scores(cols, archs)}
    res: dict[str, Any] = {"n": len(archs), "n_planned": args.n, "n_connected": int(sum(a.is_connected() for a in archs)), "seed": args.seed,
                           "indices": [int(i) for i in table.index[rows]], "targets": targets, "suite_ms_median": float(np.median(suite_ms)),
                           "proxies": {}}
    checks = []
    for name, s in cols.items():
        entry: dict[str, Any] = {}
        for t in targets:
            entry[t] = correlations(table[t].to_numpy()[rows], _oriented(name, s), n_boot=args.n_boot, seed=args.seed)
        if name in PUBLISHED:
            value, t, source = PUBLISHED[name]
            entry["published"] = {"spearman": value, "target": t, "source": source}
            if t in targets and entry[t]["spearman"] is not None:
                diff = entry[t]["spearman"] - value
                entry["published"]["difference"] = diff
                checks.append(_check(f"full: {name} Spearman within {PUBLISHED_MARGIN} of published ({t})", entry[t]["spearman"], value,
                                     within=PUBLISHED_MARGIN, note=f"{source}, difference {diff:+.3f}"))
        res["proxies"][name] = entry
    if not args.no_plots:
        res["plots"] = scatter_plots(args.out / "plots", "full", targets[0], table[targets[0]].to_numpy()[rows], cols,
                                     {k: v[targets[0]] for k, v in res["proxies"].items()})
    return res, archs, checks


def run_hard(args, scorer: Scorer, bench, requested: list[str], target: str, ref_path: Path, progress: bool) -> tuple[dict, list]:
    import pandas as pd

    ref = pd.read_csv(ref_path)
    for col in ("index", "arch"):
        if col not in ref.columns:
            raise ValueError(f"{ref_path} has no {col!r} column; columns are {list(ref.columns)}")
    table = bench.table
    missing = [int(i) for i in ref["index"] if i not in table.index]
    if missing:
        raise ValueError(f"{ref_path} lists cells missing from the NB201 table, e.g. index {missing[0]}")
    mismatch = [int(i) for i, s in zip(ref["index"], ref["arch"]) if table.at[i, "arch"] != s]
    if mismatch:
        raise ValueError(f"{ref_path}: cell strings disagree with the NB201 table at index {mismatch[0]}")
    pos = {idx: k for k, idx in enumerate(table.index)}
    pos_list = [pos[int(i)] for i in ref["index"]]
    archs = [bench.archs[k] for k in pos_list]
    y = table.loc[ref["index"], target].to_numpy(dtype=float)
    cols, suite_ms = scorer.table(archs, progress, "hard (connected)")
    archs, y, ref = archs[: len(suite_ms)], y[: len(suite_ms)], ref.iloc[: len(suite_ms)]
    cols = {p: cols[p] for p in requested} | {ENSEMBLE: _ensemble_scores(cols, archs)}
    res: dict[str, Any] = {"n": len(archs), "n_planned": len(pos_list), "target": target, "reference_file": str(ref_path),
                           "network": args.hard_network,
                           "suite_ms_median": float(np.median(suite_ms)), "proxies": {}}
    checks = []
    for name, s in cols.items():
        entry = {target: correlations(y, _oriented(name, s), n_boot=args.n_boot, seed=args.seed)}
        rho = entry[target]["spearman"]
        refcol = REF_COLUMNS.get(name)
        if refcol is not None and refcol in ref.columns:
            r = ref[refcol].to_numpy(dtype=float)
            ref_rho = correlations(y, r, n_boot=args.n_boot, seed=args.seed)
            entry["reference"] = {"column": refcol, "spearman": ref_rho["spearman"], "spearman_ci": ref_rho["spearman_ci"]}
            entry["agreement"] = _agreement(s, r)
            if name in AGREEMENT_TARGETS:
                if rho is not None and ref_rho["spearman"] is not None:
                    checks.append(_check(f"hard: {name} Spearman >= reference - {REF_MARGIN}", rho, ref_rho["spearman"] - REF_MARGIN,
                                         note=f"reference {ref_rho['spearman']:.3f}"))
                checks.append(_check(f"hard: {name} agreement with {refcol}", entry["agreement"], AGREEMENT_TARGETS[name]))
            ms_col = f"ref_ms_{refcol[4:]}"
            if ms_col in ref.columns:
                entry["reference"]["ms_median"] = float(ref[ms_col].median())
        res["proxies"][name] = entry
    if rho_e := res["proxies"][ENSEMBLE][target]["spearman"]:
        checks.append(_check(f"hard: {ENSEMBLE} Spearman", rho_e, ENSEMBLE_TARGET))
    if not args.no_plots:
        res["plots"] = scatter_plots(args.out / "plots", "hard", target, y, cols, {k: v[target] for k, v in res["proxies"].items()})
    return res, checks


def run_cost(args, scorer: Scorer, archs: Sequence[Any], requested: list[str], progress: bool) -> tuple[dict, list]:
    from tqdm.auto import tqdm

    from archscore.predictors.zc_ensemble import DEFAULT_PROXIES

    archs = list(archs)[: args.cost_n]
    if not archs:
        raise ValueError("the cost protocol needs at least one cell (--cost-n >= 1)")
    fb, suite, alone_sum, ens = [], [], [], []
    single: dict[str, list[float]] = {p: [] for p in scorer.proxies}
    for arch in tqdm(archs, desc="cost", disable=not progress, unit="cell"):
        model = scorer.build(arch)
        fb.append(scorer.fwd_bwd_ms(model))
        suite.append(scorer.timed_call(model, scorer.proxies))
        for p in scorer.proxies:
            single[p].append(scorer.timed_call(model, [p]))
        alone_sum.append(sum(single[p][-1] for p in scorer.proxies))
        ens.append(scorer.timed_call(model, list(DEFAULT_PROXIES)))
    fb_a, suite_a, alone_a = np.array(fb), np.array(suite), np.array(alone_sum)
    res = {
        "n": len(archs),
        "proxies_in_suite": list(scorer.proxies),
        "fwd_bwd_ms_median": float(np.median(fb_a)),
        "suite_ms_median": float(np.median(suite_a)),
        "individual_sum_ms_median": float(np.median(alone_a)),
        "ratio_suite_over_fwd_bwd": float(np.median(suite_a / fb_a)),
        "ratio_individual_sum_over_fwd_bwd": float(np.median(alone_a / fb_a)),
        "ratio_suite_over_individual_sum": float(np.median(suite_a / alone_a)),
        "per_proxy_ms_median": {p: float(np.median(v)) for p, v in single.items()} | {ENSEMBLE: float(np.median(ens))},
        "per_proxy_ratio_over_fwd_bwd": {p: float(np.median(np.array(v) / fb_a)) for p, v in single.items()}
        | {ENSEMBLE: float(np.median(np.array(ens) / fb_a))},
    }
    checks = [
        _check(f"cost: suite <= {COST_TARGET}x fwd+bwd", res["ratio_suite_over_fwd_bwd"], COST_TARGET, higher=False),
        _check("cost: suite < sum of single-proxy calls", res["ratio_suite_over_fwd_bwd"],
               res["ratio_individual_sum_over_fwd_bwd"], higher=False, strict=True),
    ]
    return res, checks


def _full_rows(n: int, seed: int, size: int) -> np.ndarray:
    """Rows of the full-space sample: ``default_rng(seed).choice(size, n, replace=False)``."""
    return np.random.default_rng(seed).choice(size, size=n, replace=False)


def run_design(args, scorer: Scorer, bench, exclude: set[int], curves_path: Path, progress: bool) -> dict:
    """Score the design cells and rank every 2-4 proxy log-rank combination by Spearman on their connected cells."""
    import itertools

    import pandas as pd

    from archscore.metrics import spearman
    from archscore.predictors.zc_ensemble import DEFAULT_PROXIES, rank_aggregate
    from archscore.proxies import proxy_info

    cells = pd.read_csv(curves_path, usecols=["index", "arch"])
    table = bench.table
    pos = {idx: k for k, idx in enumerate(table.index)}
    keep = [int(i) for i in cells["index"] if int(i) not in exclude and int(i) in pos][: args.design_n]
    archs = [bench.archs[pos[i]] for i in keep]
    y = table.loc[keep, args.target].to_numpy(dtype=float)
    cols, _ = scorer.table(archs, progress, "design cells")
    n_done = len(next(iter(cols.values())))
    archs, keep, y = archs[:n_done], keep[:n_done], y[:n_done]
    conn = np.array([a.is_connected() for a in archs])
    direction = {p: bool(proxy_info(p)["higher_is_better"]) for p in cols}
    defined = [p for p in cols if np.isfinite(cols[p][conn]).any() and np.nanstd(cols[p][conn]) > 0]

    def rho(s: np.ndarray, mask: np.ndarray) -> float:
        return spearman(y[mask], _finite_ranks(np.nan_to_num(s[mask], nan=-np.inf)))

    single = {p: rho(_oriented(p, cols[p]), conn) for p in defined}
    combos = []
    for k in (2, 3, 4):
        for subset in itertools.combinations(defined, k):
            for method in ("log_rank", "mean_rank"):
                agg = rank_aggregate({p: cols[p] for p in subset}, {p: direction[p] for p in subset}, valid=conn, method=method)
                combos.append({"proxies": list(subset), "method": method, "spearman_connected": rho(agg, conn),
                               "spearman_all": rho(agg, np.ones_like(conn))})
    combos.sort(key=lambda c: -c["spearman_connected"])
    default = next(c for c in combos if c["method"] == "log_rank" and set(c["proxies"]) == set(DEFAULT_PROXIES)) \
        if set(DEFAULT_PROXIES) <= set(defined) and 2 <= len(DEFAULT_PROXIES) <= 4 else None
    return {"n": len(archs), "n_connected": int(conn.sum()), "target": args.target, "indices": keep,
            "excluded": sorted(exclude), "single_spearman_connected": single, "top_combinations": combos[:25],
            "default": default, "default_rank": combos.index(default) + 1 if default else None, "n_combinations": len(combos)}


def _check(name: str, value: float | None, threshold: float, *, higher: bool = True, strict: bool = False,
           within: float | None = None, note: str = "") -> dict:
    """One pass/fail line: ``value >= threshold`` (or ``<=``, or ``|value - threshold| <= within``)."""
    if value is None:
        passed = False
    elif within is not None:
        passed = abs(value - threshold) <= within
    elif higher:
        passed = value > threshold if strict else value >= threshold
    else:
        passed = value < threshold if strict else value <= threshold
    direction = f"within {within} of" if within is not None else ((">" if strict else ">=") if higher else ("<" if strict else "<="))
    return {"check": name, "value": value, "threshold": threshold, "direction": direction, "passed": bool(passed), "note": note}


# ------------------------------------------------------------------ output
def _fmt_ci(stat: dict[str, Any] | None, key: str) -> str:
    if not stat or stat.get(key) is None:
        return f"{'n/a':>22}"
    lo, hi = stat[f"{key}_ci"]
    return f"{stat[key]:+.3f} [{lo:+.2f},{hi:+.2f}]".rjust(22)


def format_tables(results: dict[str, Any]) -> str:
    """The human-readable summary printed by the command."""
    lines = []
    prot = results["protocols"]
    cost = prot.get("cost", {})
    ms = cost.get("per_proxy_ms_median", {})
    if "design" in prot:
        r = prot["design"]
        lines.append(f"\nDesign cells (zc:ensemble's choice): {r['n']} cells ({r['n_connected']} connected), Spearman on the connected ones vs {r['target']}")
        lines.append("  single: " + ", ".join(f"{p} {v:+.3f}" for p, v in sorted(r["single_spearman_connected"].items(), key=lambda kv: -kv[1])))
        for c in r["top_combinations"][:10]:
            lines.append(f"  {c['spearman_connected']:+.3f} (all cells {c['spearman_all']:+.3f})  {c['method']:<9} {'+'.join(c['proxies'])}")
        if r.get("default"):
            d = r["default"]
            lines.append(f"  default zc:ensemble: {d['spearman_connected']:+.3f} (all {d['spearman_all']:+.3f}), rank {r['default_rank']} of {r['n_combinations']}")
    if "full" in prot:
        r = prot["full"]
        t1, t2 = (r["targets"] + [None])[:2]
        lines.append(f"\nFull space: {r['n']} of {r['n_planned']} planned cells uniformly from the table ({r['n_connected']} connected), seed {r['seed']}")
        head = f"{'proxy':<12} {'Spearman ' + t1:>22} {'Kendall ' + t1:>22}"
        head += f" {'Spearman ' + t2:>22}" if t2 else ""
        lines.append(head + f" {'published':>18} {'ms/arch':>8}")
        for name, e in r["proxies"].items():
            pub = e.get("published")
            pub_s = f"{pub['spearman']:.2f} ({'test' if pub['target'].startswith('test') else 'valid'})" if pub else ""
            row = f"{name:<12} {_fmt_ci(e[t1], 'spearman')} {_fmt_ci(e[t1], 'kendall')}"
            row += f" {_fmt_ci(e[t2], 'spearman')}" if t2 else ""
            lines.append(row + f" {pub_s:>18} {ms[name]:8.0f}" if name in ms else row + f" {pub_s:>18} {'':>8}")
    if "hard" in prot:
        r = prot["hard"]
        t = r["target"]
        lines.append(f"\nHard case: {r['n']} of the {r['n_planned']} connected reference cells ({r['network']} network), against {t}")
        lines.append(f"{'proxy':<12} {'Spearman':>22} {'Kendall':>22} {'ref Spearman':>12} {'agreement':>9} {'ms/arch':>8} {'ref ms':>7}")
        for name, e in r["proxies"].items():
            ref = e.get("reference", {})
            ref_s = f"{ref['spearman']:+.3f}" if ref.get("spearman") is not None else ""
            agr = f"{e['agreement']:.3f}" if e.get("agreement") is not None else ""
            ms_s = f"{ms[name]:.0f}" if name in ms else ""
            ref_ms = f"{ref['ms_median']:.0f}" if "ms_median" in ref else ""
            lines.append(f"{name:<12} {_fmt_ci(e[t], 'spearman')} {_fmt_ci(e[t], 'kendall')} {ref_s:>12} {agr:>9} {ms_s:>8} {ref_ms:>7}")
    if cost:
        lines.append(f"\nCost: {cost['n']} cells, medians over cells ({len(cost['proxies_in_suite'])} proxies in the suite)")
        lines.append(f"  one forward+backward        {cost['fwd_bwd_ms_median']:9.0f} ms")
        lines.append(f"  whole suite, one call       {cost['suite_ms_median']:9.0f} ms   = {cost['ratio_suite_over_fwd_bwd']:.2f}x fwd+bwd")
        lines.append(f"  sum of single-proxy calls   {cost['individual_sum_ms_median']:9.0f} ms   = {cost['ratio_individual_sum_over_fwd_bwd']:.2f}x fwd+bwd")
    if results.get("checks"):
        lines.append("\nChecks:")
        for c in results["checks"]:
            v = "n/a" if c["value"] is None else f"{c['value']:.3f}"
            lines.append(f"  [{'pass' if c['passed'] else 'FAIL'}] {c['check']}: {v} {c['direction']} {c['threshold']:.3f} {c['note']}")
    return "\n".join(lines)


def _md_ci(stat: dict[str, Any] | None, key: str = "spearman") -> str:
    if not stat or stat.get(key) is None:
        return "n/a"
    lo, hi = stat[f"{key}_ci"]
    return f"{stat[key]:.3f} [{lo:.2f}, {hi:.2f}]"


def format_markdown(results: dict[str, Any]) -> str:
    """The same tables as :func:`format_tables`, as Markdown (written to ``OUT/results.md``)."""
    prot = results["protocols"]
    ms = prot.get("cost", {}).get("per_proxy_ms_median", {})
    out = []
    if "hard" in prot:
        r = prot["hard"]
        t = r["target"]
        out.append(f"Hard case: {r['n']} of the {r['n_planned']} connected reference cells ({r['network']} network), vs `{t}`\n")
        out.append("| proxy | Spearman [95% CI] | Kendall [95% CI] | reference code | agreement with reference |")
        out.append("| --- | --- | --- | --- | --- |")
        for name, e in r["proxies"].items():
            ref = e.get("reference", {})
            ref_s = f"{ref['spearman']:.3f}" if ref.get("spearman") is not None else ""
            agr = f"{e['agreement']:.3f}" if e.get("agreement") is not None else ""
            out.append(f"| {name} | {_md_ci(e[t])} | {_md_ci(e[t], 'kendall')} | {ref_s} | {agr} |")
        out.append("")
    if "full" in prot:
        r = prot["full"]
        t1, t2 = (r["targets"] + [None])[:2]
        out.append(f"Full space: {r['n']} of {r['n_planned']} planned cells drawn uniformly ({r['n_connected']} connected), seed {r['seed']}\n")
        out.append(f"| proxy | Spearman `{t1}` | Kendall `{t1}` | Spearman `{t2}` | published | ms/arch alone |")
        out.append("| --- | --- | --- | --- | --- | --- |")
        for name, e in r["proxies"].items():
            pub = e.get("published")
            pub_s = f"{pub['spearman']:.2f} ({pub['target'].split('_')[0]}; {pub['source']})" if pub else ""
            ms_s = f"{ms[name]:.0f}" if name in ms else ""
            out.append(f"| {name} | {_md_ci(e[t1])} | {_md_ci(e[t1], 'kendall')} | {_md_ci(e.get(t2))} | {pub_s} | {ms_s} |")
        out.append("")
    if "cost" in prot:
        c = prot["cost"]
        out.append(f"Cost: medians over {c['n']} cells of the full-space sample, {len(c['proxies_in_suite'])} proxies\n")
        out.append("| measure | ms | x one fwd+bwd |")
        out.append("| --- | --- | --- |")
        out.append(f"| one forward+backward | {c['fwd_bwd_ms_median']:.0f} | 1 |")
        out.append(f"| whole suite, one `compute` call | {c['suite_ms_median']:.0f} | {c['ratio_suite_over_fwd_bwd']:.2f} |")
        out.append(f"| sum of single-proxy calls | {c['individual_sum_ms_median']:.0f} | {c['ratio_individual_sum_over_fwd_bwd']:.2f} |")
        for p, v in c["per_proxy_ms_median"].items():
            out.append(f"| {p} alone | {v:.0f} | {c['per_proxy_ratio_over_fwd_bwd'][p]:.2f} |")
        out.append("")
    if results.get("checks"):
        out.append("| check | value | target | |")
        out.append("| --- | --- | --- | --- |")
        for c in results["checks"]:
            v = "n/a" if c["value"] is None else f"{c['value']:.3f}"
            out.append(f"| {c['check']} | {v} | {c['direction']} {c['threshold']:.3f} | {'pass' if c['passed'] else 'FAIL'} |")
    return "\n".join(out) + "\n"


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


# --------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> int:
    """Run the selected protocols, print the tables and write ``OUT/results.json``."""
    import torch

    import archscore
    from archscore.data import reference_batch
    from archscore.benchmarks import default_data_dir, load_nb201
    from archscore.predictors.zc_ensemble import DEFAULT_PROXIES
    from archscore.proxies import list_proxies

    protocols = _parse_list(args.protocol, "protocol", PROTOCOLS)
    known = list_proxies()
    requested = _parse_list(args.proxies, "proxies", known) or list(known)
    computed = requested + [p for p in DEFAULT_PROXIES if p not in requested]
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    space_options = _parse_space_options(args.space_options)
    progress = not args.no_progress and sys.stderr.isatty()
    torch.set_num_threads(args.threads)

    data = args.data or default_data_dir()
    table_path = _resolve(args.table, data, "nb201", "nb201_cifar10.csv", what="NB201 table")
    images = _resolve(args.images, data, "cifar10", "train5k.npz", what="image data")
    bench = load_nb201(table_path)
    targets = list(dict.fromkeys([args.target, "test_acc_200ep"]))
    for t in targets:
        if t not in bench.table.columns:
            raise ValueError(f"target column {t!r} not in {table_path}; columns are {list(bench.table.columns)}")
    inputs, targets_batch = reference_batch(images, batch_size=args.batch_size)
    args.out.mkdir(parents=True, exist_ok=True)
    space = archscore.get_space("nb201", **space_options)
    scorer = Scorer(space, inputs, targets_batch, computed, seed=args.seed, model_seed=args.model_seed, device=args.device,
                    cache=ScoreCache(args.out / "scores.jsonl"), space_options=space_options)

    results: dict[str, Any] = {
        "command": "archscore bench proxies " + " ".join(sys.argv[3:]) if sys.argv[1:3] == ["bench", "proxies"] else " ".join(sys.argv),
        "config": {"protocols": protocols, "n": args.n, "seed": args.seed, "model_seed": args.model_seed, "batch_size": args.batch_size,
                   "target": args.target, "proxies": requested, "computed": computed, "cost_n": args.cost_n, "n_boot": args.n_boot,
                   "threads": args.threads, "device": args.device, "space_options": space_options, "hard_network": args.hard_network,
                   "proxies_code": scorer.code, "table": str(table_path),
                   "images": str(images)},
        "environment": {"python": platform.python_version(), "torch": torch.__version__, "archscore": archscore.__version__,
                        "machine": platform.machine(), "cpu_count": os.cpu_count()},
        "protocols": {},
        "checks": [],
    }
    t_start = time.perf_counter()
    if args.budget_minutes is not None:
        scorer.deadline = time.monotonic() + 60 * args.budget_minutes
    full_rows = _full_rows(args.n, args.seed, len(bench.table)) if args.n <= len(bench.table) else None
    if "design" in protocols:
        ref_path = _resolve(args.ref, data, "nb201", REF_CSV, what="reference-score CSV")
        curves_path = _resolve(args.curves, data, "nb201", CURVES_CSV, what="design cell list")
        import pandas as pd

        exclude = set(int(i) for i in pd.read_csv(ref_path, usecols=["index"])["index"])
        if full_rows is not None:
            exclude |= set(int(i) for i in bench.table.index[full_rows])
        results["protocols"]["design"] = run_design(args, scorer, bench, exclude, curves_path, progress)
    if "hard" in protocols:
        ref_path = _resolve(args.ref, data, "nb201", REF_CSV, what="reference-score CSV")
        hard_scorer = scorer
        if args.hard_network == "reference":
            from archscore.proxies import ReferenceNB201Space

            hard_scorer = Scorer(ReferenceNB201Space(**space_options), inputs, targets_batch, computed, seed=args.seed,
                                 model_seed=args.model_seed, device=args.device, cache=scorer.cache, space_options=space_options)
            hard_scorer.deadline = scorer.deadline
        res, checks = run_hard(args, hard_scorer, bench, requested, args.target, ref_path, progress)
        results["protocols"]["hard"] = res
        results["checks"] += checks
    full_archs = None
    if "full" in protocols:
        res, full_archs, checks = run_full(args, scorer, bench, requested, targets, progress)
        results["protocols"]["full"] = res
        results["checks"] += checks
    if "cost" in protocols:
        if full_archs is None:
            if full_rows is None:
                raise ValueError(f"--n {args.n} exceeds the {len(bench.table)} cells of the table")
            full_archs = [bench.archs[i] for i in full_rows]
        res, checks = run_cost(args, scorer, full_archs, requested, progress)
        results["protocols"]["cost"] = res
        results["checks"] += checks
    results["seconds"] = time.perf_counter() - t_start
    out_json = args.out / "results.json"
    out_json.write_text(json.dumps(_json_safe(results), indent=2))
    (args.out / "results.md").write_text(format_markdown(results))
    print(format_tables(results))
    print(f"\nWrote {out_json} ({results['seconds']:.0f} s)")
    return 0


__all__ = ["add_arguments", "run", "correlations", "format_tables", "ScoreCache", "Scorer", "PUBLISHED", "REF_COLUMNS"]
