"""Protocols of ``archscore bench proxies``: scoring cells reproducibly, correlations, checks, and the
``full``, ``hard``, ``cost`` and ``design`` protocols (see :mod:`archscore.bench.proxies` for what each measures).

Each protocol returns a result dict (JSON-ready except its ``_plot`` entry,
the data of the scatter plots) and a list of checks (see :func:`check`); the
command renders them with :mod:`archscore.bench.report`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

import archscore.proxies
from archscore.bench.cache import ScoreCache, fingerprint
from archscore.bench.proxy_targets import (AGREEMENT_TARGETS, COST_TARGET, ENSEMBLE_TARGET, PUBLISHED, PUBLISHED_MARGIN,
                                           RESNET_COST_TARGET,
                                           REF_COLUMNS, REF_MARGIN)
from archscore.bench.ranking import ENSEMBLE, directions, oriented, rank_scores, with_aggregates
from archscore.bench.report import check
from archscore.metrics import bootstrap_ci, kendall, spearman
from archscore.predictors.zc_ensemble import DEFAULT_PROXIES, rank_aggregate

logger = logging.getLogger(__name__)


def proxies_code_version() -> str:
    """Hash of the proxy implementations' source: cached scores of other code versions are not reused."""
    h = hashlib.sha1()
    for f in sorted(Path(archscore.proxies.__file__).parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def fwd_bwd_ms(model: Any, x: Any, y: Any, device: str, reps: int = 3) -> float:
    """Median wall time (ms) of ``reps`` plain forward + cross-entropy backward passes, after one warm-up."""
    times = []
    for i in range(reps + 1):
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        F.cross_entropy(model(x), y).backward()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i:
            times.append(1000 * (time.perf_counter() - t0))
    model.zero_grad(set_to_none=True)
    return float(np.median(times))


# --------------------------------------------------------------- scoring
class Scorer:
    """Builds NB201 models reproducibly and scores / times them on one batch.

    Scores are cached in ``cache_path`` (a :class:`~archscore.bench.cache.ScoreCache`)
    under settings that fix the batch, seeds, network, space options, proxy set and
    proxy code version.
    """

    def __init__(self, space: Any, inputs: Any, targets: Any, proxies: list[str], *, seed: int, init_seed: int,
                 device: str, cache_path: Path, space_options: dict[str, int]) -> None:
        self.space, self.inputs, self.targets = space, inputs, targets
        self.proxies, self.seed, self.init_seed, self.device = proxies, seed, init_seed, device
        self.deadline: float | None = None
        self.code = proxies_code_version()
        self.network = type(space).__name__
        self.cache = ScoreCache(cache_path, {"batch": fingerprint(inputs, targets), "seed": seed, "init_seed": init_seed,
                                             "network": self.network, "space": space_options, "proxies": sorted(proxies),
                                             "code": self.code})

    def build(self, arch: Any) -> Any:
        torch.manual_seed(self.init_seed)
        return self.space.build(arch)

    def scores(self, arch: Any) -> dict[str, Any]:
        """Cached ``{"scores": {...}, "suite_ms": ...}`` of one cell, computed once."""
        cell = self.space.to_string(arch)
        rec = self.cache.get(cell)
        if rec is None:
            model = self.build(arch)
            t0 = time.perf_counter()
            values = archscore.proxies.compute(model, self.inputs, self.targets, self.proxies, seed=self.seed, device=self.device)
            ms = 1000 * (time.perf_counter() - t0)
            rec = self.cache.put(cell, {p: values[p] for p in self.proxies}, network=self.network, suite_ms=ms)
        return rec

    def table(self, archs: Sequence[Any], progress: bool, desc: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Scores of ``archs`` (cached or computed), in order; stops computing new ones after the deadline.

        Returns columns for the scored prefix only: a prefix of a uniformly
        shuffled sample is itself a uniform sample, so a cut run stays valid.
        """
        recs = []
        for a in tqdm(archs, desc=desc, disable=not progress, unit="cell"):
            if self.deadline is not None and time.monotonic() > self.deadline and self.cache.get(self.space.to_string(a)) is None:
                logger.warning("%s: time budget spent after %d of %d cells; reporting on those", desc, len(recs), len(archs))
                break
            recs.append(self.scores(a))
        cols = {p: np.array([r["scores"][p] for r in recs], dtype=float) for p in self.proxies}
        return cols, np.array([r["suite_ms"] for r in recs], dtype=float)

    def fwd_bwd_ms(self, model: Any, reps: int = 3) -> float:
        """Median time of one plain forward + cross-entropy backward on the batch (after one warm-up)."""
        model = model.to(self.device)
        return fwd_bwd_ms(model, self.inputs.to(self.device), self.targets.to(self.device), self.device, reps)

    def timed_call(self, model: Any, proxies: list[str]) -> float:
        t0 = time.perf_counter()
        archscore.proxies.compute(model, self.inputs, self.targets, proxies, seed=self.seed, device=self.device)
        return 1000 * (time.perf_counter() - t0)


def correlations(y: np.ndarray, s: np.ndarray, *, n_boot: int, seed: int) -> dict[str, Any]:
    """Spearman and Kendall of scores ``s`` against targets ``y`` with bootstrap 95% intervals.

    Cells where the score is NaN are left out (``n`` says how many were used);
    +-inf scores are kept through their ranks. A constant score gives ``None``.
    """
    y, s = np.asarray(y, dtype=float), np.asarray(s, dtype=float)
    keep = ~np.isnan(s)
    out: dict[str, Any] = {"n": int(keep.sum()), "n_nan": int((~keep).sum())}
    y, s = y[keep], rank_scores(s[keep])
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
    keep = ~(np.isnan(ours) | np.isnan(ref))
    try:
        return spearman(rank_scores(ref[keep]), rank_scores(ours[keep]))
    except ValueError:
        return None


def run_full(args, scorer: Scorer, bench, requested: list[str], targets: list[str], progress: bool) -> tuple[dict, list, list]:
    table = bench.table
    if args.n > len(table):
        raise ValueError(f"--n {args.n} exceeds the {len(table)} cells of the table")
    rows = full_rows(args.n, args.seed, len(table))
    archs = [bench.archs[i] for i in rows]
    cols, suite_ms = scorer.table(archs, progress, "full space")
    rows, archs = rows[: len(suite_ms)], archs[: len(suite_ms)]
    cols = with_aggregates(cols, requested, [a.is_connected() for a in archs])
    res: dict[str, Any] = {"n": len(archs), "n_planned": args.n, "n_connected": int(sum(a.is_connected() for a in archs)), "seed": args.seed,
                           "indices": [int(i) for i in table.index[rows]], "targets": targets, "suite_ms_median": float(np.median(suite_ms)),
                           "proxies": {}}
    checks = []
    for name, s in cols.items():
        entry: dict[str, Any] = {}
        for t in targets:
            entry[t] = correlations(table[t].to_numpy()[rows], oriented(name, s), n_boot=args.n_boot, seed=args.seed)
        if name in PUBLISHED:
            value, t, source = PUBLISHED[name]
            entry["published"] = {"spearman": value, "target": t, "source": source}
            if t in targets and entry[t]["spearman"] is not None:
                diff = entry[t]["spearman"] - value
                entry["published"]["difference"] = diff
                checks.append(check(f"full: {name} Spearman within {PUBLISHED_MARGIN} of published ({t})", entry[t]["spearman"], value,
                                     within=PUBLISHED_MARGIN, note=f"{source}, difference {diff:+.3f}"))
        res["proxies"][name] = entry
    res["_plot"] = {"target": targets[0], "y": table[targets[0]].to_numpy()[rows], "cols": cols}  # not saved
    return res, archs, checks


def run_hard(args, scorer: Scorer, bench, requested: list[str], target: str, ref_path: Path, progress: bool) -> tuple[dict, list]:
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
    cols = with_aggregates(cols, requested, [a.is_connected() for a in archs])
    res: dict[str, Any] = {"n": len(archs), "n_planned": len(pos_list), "target": target, "reference_file": str(ref_path),
                           "network": args.hard_network,
                           "suite_ms_median": float(np.median(suite_ms)), "proxies": {}}
    checks = []
    for name, s in cols.items():
        entry = {target: correlations(y, oriented(name, s), n_boot=args.n_boot, seed=args.seed)}
        rho = entry[target]["spearman"]
        refcol = REF_COLUMNS.get(name)
        if refcol is not None and refcol in ref.columns:
            r = ref[refcol].to_numpy(dtype=float)
            ref_rho = correlations(y, r, n_boot=args.n_boot, seed=args.seed)
            entry["reference"] = {"column": refcol, "spearman": ref_rho["spearman"], "spearman_ci": ref_rho["spearman_ci"]}
            entry["agreement"] = _agreement(s, r)
            if name in AGREEMENT_TARGETS:
                if rho is not None and ref_rho["spearman"] is not None:
                    checks.append(check(f"hard: {name} Spearman >= reference - {REF_MARGIN}", rho, ref_rho["spearman"] - REF_MARGIN,
                                         note=f"reference {ref_rho['spearman']:.3f}"))
                checks.append(check(f"hard: {name} agreement with {refcol}", entry["agreement"], AGREEMENT_TARGETS[name]))
            ms_col = f"ref_ms_{refcol[4:]}"
            if ms_col in ref.columns:
                entry["reference"]["ms_median"] = float(ref[ms_col].median())
        res["proxies"][name] = entry
    if rho_e := res["proxies"][ENSEMBLE][target]["spearman"]:
        checks.append(check(f"hard: {ENSEMBLE} Spearman", rho_e, ENSEMBLE_TARGET))
    res["_plot"] = {"target": target, "y": y, "cols": cols}  # not saved
    return res, checks


def run_cost(args, scorer: Scorer, archs: Sequence[Any], requested: list[str], progress: bool) -> tuple[dict, list]:
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
        check(f"cost: suite <= {COST_TARGET}x fwd+bwd", res["ratio_suite_over_fwd_bwd"], COST_TARGET, higher=False),
        check("cost: suite < sum of single-proxy calls", res["ratio_suite_over_fwd_bwd"],
               res["ratio_individual_sum_over_fwd_bwd"], higher=False, strict=True),
    ]
    return res, checks


class _BasicBlock(nn.Module):
    """ResNet basic block whose ReLUs are functional calls (``F.relu``), as in most user code."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet18(nn.Module):
    """ResNet-18 for 32x32 inputs (He et al. 2016; 3x3 stem, no max-pool, widths 64-512; 11.2M parameters)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        blocks, c_in = [], 64
        for c_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [_BasicBlock(c_in, c_out, stride), _BasicBlock(c_out, c_out, 1)]
            c_in = c_out
        self.layers = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def run_cost_model(model: nn.Module, inputs: Any, targets: Any, proxies: list[str], *, reps: int, seed: int, device: str,
                   label: str, target: float = RESNET_COST_TARGET, progress: bool = False) -> tuple[dict, list]:
    """The whole suite on one ordinary model against a plain forward+backward, ``reps`` times side by side.

    Each repetition times one forward + cross-entropy backward (median of 3
    after a warm-up) and then one :func:`archscore.proxies.compute` call with
    ``proxies``, so both see the same machine load; the ratio is taken per
    repetition and the median over repetitions is checked against
    ``target``. The first repetition also pays the process's one-time costs
    for this model; its ratio is kept apart as ``first_ratio``.
    """
    if reps < 1:
        raise ValueError(f"the cost-resnet protocol needs at least one repetition (--cost-reps >= 1), got {reps}")
    model = model.to(device)
    x, y = inputs.to(device), targets.to(device)
    fb, suite = [], []
    for _ in tqdm(range(reps), desc=f"cost {label}", disable=not progress, unit="rep"):
        fb.append(fwd_bwd_ms(model, x, y, device))
        t0 = time.perf_counter()
        archscore.proxies.compute(model, x, y, proxies, seed=seed, device=device, nan_policy="warn")
        suite.append(1000 * (time.perf_counter() - t0))
    ratios = np.array(suite) / np.array(fb)
    res = {
        "model": label, "params": int(sum(p.numel() for p in model.parameters())), "batch": list(x.shape), "reps": reps,
        "proxies_in_suite": list(proxies), "fwd_bwd_ms": fb, "suite_ms": suite, "ratios": [float(r) for r in ratios],
        "ratio_median": float(np.median(ratios)), "first_ratio": float(ratios[0]),
    }
    checks = [check(f"cost ({label}): median suite <= {target:g}x fwd+bwd", res["ratio_median"], target, higher=False)]
    return res, checks


def full_rows(n: int, seed: int, size: int) -> np.ndarray:
    """Rows of the full-space sample: ``default_rng(seed).choice(size, n, replace=False)``."""
    return np.random.default_rng(seed).choice(size, size=n, replace=False)


def run_design(args, scorer: Scorer, bench, exclude: set[int], curves_path: Path, progress: bool) -> dict:
    """Score the design cells and rank every 2-4 proxy log-rank combination by Spearman on their connected cells."""
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
    direction = directions(list(cols))
    defined = [p for p in cols if np.isfinite(cols[p][conn]).any() and np.nanstd(cols[p][conn]) > 0]

    def rho(s: np.ndarray, mask: np.ndarray) -> float:
        return spearman(y[mask], rank_scores(np.nan_to_num(s[mask], nan=-np.inf)))

    single = {p: rho(oriented(p, cols[p]), conn) for p in defined}
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


