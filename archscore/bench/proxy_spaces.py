"""``archscore bench proxies --space X`` for the NAS-Bench-Suite-Zero spaces (nb101, nb301, tnb101_micro, tnb101_macro).

Two protocols, on the development share of Suite-Zero's files
(:mod:`archscore.bench.suite_zero`):

``recorded`` (always)
    Per task of the file (``--task``; default all), the Spearman and Kendall
    correlation (bootstrap 95% intervals) of every proxy NASLib recorded
    with ``val_accuracy``, over every architecture of the task, next to two
    label-free ``zc:ensemble`` rows: the fixed set
    (:data:`~archscore.bench.suite_zero.ENSEMBLE_PROXIES` that are recorded,
    less those whose Spearman with ``flops`` over the task's architectures is
    <= 0.2, as :func:`~archscore.predictors.zc_ensemble.anchored_proxies`
    does in ``zc:ensemble``; the one called ``zc:ensemble``) and the agreement-based set
    (``zc:ensemble-agree``, :func:`~archscore.bench.suite_zero.agreement_proxies`).
    The best single proxy is picked with the labels (an oracle choice the
    ensembles do not get). Check: ``zc:ensemble`` >= the best single proxy.
``compute`` (``--compute``, NB101 and NB301)
    ``--compute-n`` architectures drawn from the task's complete records
    (``numpy.random.default_rng(--seed).choice``) are built with the space's
    builder (``--space-options`` for a smaller network, e.g.
    ``stem_channels=16,cells_per_stack=1``; then it is not the network NASLib
    scored), after ``torch.manual_seed(--init-seed)``, and scored with
    archscore's implementation of each proxy of ``--compute-proxies``
    (default: the recorded ones) and of ``zc:ensemble``'s own set on one
    CIFAR-10 batch (:func:`archscore.data.load_batch`, ``--batch-size``
    images of ``--images``, seed ``--seed``; default :data:`SUITE_ZERO_BATCH`
    images, the batch the recorded scores were computed on). Reported per
    recorded proxy: our Spearman with ``val_accuracy``, the recorded proxy's
    Spearman on the same architectures, their difference with a
    paired-bootstrap 95% interval, and the per-architecture Spearman
    agreement of our scores with the recorded ones (check: the difference
    within 0.05); then ``zc:ensemble`` as ``create_estimator("zc:ensemble")``
    computes it on these networks (its default proxies, anchored on our
    ``flops``) next to every proxy computed (check: >= the best of them,
    picked with the labels). Scores are cached in ``OUT/scores.db`` (an
    interrupted run resumes).

Writes ``OUT/results.json`` and ``OUT/results.md``; exits with status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import archscore
from archscore.bench.proxy_protocols import Scorer, correlations
from archscore.bench.ranking import AZ_NAS, ORACLE, best_combination, directions, oriented, with_aggregates
from archscore.bench.report import Report, Table, add_checks, check, command_line, publish_results, settings_from_args
from archscore.bench.suite_zero import (COMPUTE_SPACES, agreement_proxies, complete_rows, ensemble_proxies, load_task,
                                        recorded_proxies, resolve_tasks, space_file)
from archscore.data import load_batch, resolve_data_file
from archscore.metrics import spearman
from archscore.predictors.zc_ensemble import DEFAULT_PROXIES, anchored_proxies, rank_aggregate
from archscore.proxies import list_proxies
from archscore.proxies.az_nas import AZ_NAS_PROXIES

logger = logging.getLogger(__name__)

ENSEMBLE = "zc:ensemble"
ENSEMBLE_AGREE = "zc:ensemble-agree"
#: The options of ``bench proxies`` that this mode reads (the NB201 protocols' others are left out of the report).
SETTINGS = ("space", "data", "zc_file", "tasks", "proxies", "seed", "n_boot", "compute", "compute_n", "compute_proxies", "images",
            "batch_size", "init_seed", "space_options", "device", "threads", "budget_minutes", "out")
#: Default minibatch of ``--compute``: NAS-Bench-Suite-Zero's. Inferred from the recorded ``jacov``, which is at most
#: ``-N`` for a batch of ``N`` (``-sum(log v + 1/v)`` over the ``N`` eigenvalues of a correlation matrix, whose mean is 1):
#: its largest values in the development files are -32.16 (NB101), -32.18 (NB301) and -32.01 (TransNAS-Bench-101).
SUITE_ZERO_BATCH = 32
#: ``compute``: our Spearman must lie within this distance of the recorded proxy's own.
COMPUTE_MARGIN = 0.05


def _ci(stat: dict[str, Any] | None, key: str = "spearman") -> str:
    if not stat or stat.get(key) is None:
        return "n/a"
    lo, hi = stat[f"{key}_ci"]
    return f"{stat[key]:+.3f} [{lo:+.2f}, {hi:+.2f}]"


def paired_difference(y: np.ndarray, a: np.ndarray, b: np.ndarray, *, n_boot: int, seed: int) -> tuple[float, float, float] | None:
    """Spearman(y, a) - Spearman(y, b) and its percentile-bootstrap 95% interval (same resampled rows for both).

    None when either correlation is undefined (a constant score) on the full rows.
    """
    y, a, b = (np.asarray(v, dtype=float) for v in (y, a, b))
    keep = ~(np.isnan(a) | np.isnan(b) | np.isnan(y))
    y, a, b = y[keep], a[keep], b[keep]
    try:
        point = spearman(y, a) - spearman(y, b)
    except ValueError:
        return None
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        idx = rng.integers(len(y), size=len(y))
        try:
            diffs.append(spearman(y[idx], a[idx]) - spearman(y[idx], b[idx]))
        except ValueError:
            continue  # a resample where a score is constant: skipped
    if not diffs:
        return point, float("nan"), float("nan")
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(point), float(lo), float(hi)


# ---------------------------------------------------------------- recorded
def run_recorded(table, task: str, proxies: list[str] | None, *, n_boot: int, seed: int) -> tuple[dict, list]:
    """Correlations of the recorded proxies and of the two label-free ensembles with ``val_accuracy`` on one task."""
    table = table[np.isfinite(table["val_accuracy"].to_numpy(dtype=float))]
    y = table["val_accuracy"].to_numpy(dtype=float)
    varying = recorded_proxies(table)
    names = [p for p in varying if proxies is None or p in proxies]
    constant = [c for c in table.columns if c not in varying and c != "val_accuracy"]
    entries: dict[str, Any] = {}
    for p in names:
        entries[p] = correlations(y, table[p].to_numpy(dtype=float), n_boot=n_boot, seed=seed)
    fixed = ensemble_proxies(varying)
    # as zc:ensemble: a proxy ranking the architectures against flops is left out (no labels read)
    fixed = anchored_proxies({p: table[p].to_numpy(dtype=float) for p in fixed})
    agree = agreement_proxies(table, varying)
    for label, chosen in ((ENSEMBLE, fixed), (ENSEMBLE_AGREE, agree)):
        if chosen:
            score = rank_aggregate({p: table[p].to_numpy(dtype=float) for p in chosen})
            entries[label] = correlations(y, score, n_boot=n_boot, seed=seed) | {"proxies": chosen}
    singles = {p: e["spearman"] for p, e in entries.items() if not p.startswith(ENSEMBLE) and e["spearman"] is not None}
    best = max(singles, key=lambda p: singles[p]) if singles else None
    res = {"task": task, "n": len(table), "proxies": entries, "constant": constant, "best_single": best,
           "ensemble_proxies": fixed, "agreement_proxies": agree}
    checks = []
    if best is not None and ENSEMBLE in entries:
        checks.append(check(f"{task}: {ENSEMBLE} Spearman >= best single proxy ({best})", entries[ENSEMBLE]["spearman"],
                            singles[best]))
    return res, checks


# ----------------------------------------------------------------- compute
def run_compute(args, space_name: str, data, table, task: str, proxies: list[str] | None, space_options: dict[str, int],
                progress: bool, compute_proxies: list[str] | None = None) -> tuple[dict, list]:
    """Our proxies on the space's networks vs the recorded ones, on the same architectures, and ``zc:ensemble`` on ours."""
    if space_name not in COMPUTE_SPACES:
        raise ValueError(f"--compute scores CIFAR-10 networks: spaces {', '.join(COMPUTE_SPACES)}, not {space_name!r}")
    space = archscore.get_space(space_name, **space_options)
    known = set(list_proxies())
    varying = recorded_proxies(table)
    if compute_proxies is None:
        names = [p for p in varying if p in known and (proxies is None or p in proxies)]
    else:
        names = list(dict.fromkeys(compute_proxies))
    names += [p for p in DEFAULT_PROXIES if p not in names]  # zc:ensemble's own set is always computed
    compared = [p for p in names if p in varying]
    ok = np.flatnonzero(complete_rows(table[varying + ["val_accuracy"]]))
    if args.compute_n > len(ok):
        raise ValueError(f"--compute-n {args.compute_n} exceeds the {len(ok)} complete records of task {task!r}")
    rows = ok[np.random.default_rng(args.seed).choice(len(ok), size=args.compute_n, replace=False)]
    images = resolve_data_file(args.images if args.images is not None else args.data, "cifar10/train5k.npz", "image data",
                               option="--images or --data")
    inputs, targets, batch_desc = load_batch(images, args.batch_size, args.seed)
    scorer = Scorer(space, inputs, targets, names, seed=args.seed, init_seed=args.init_seed, device=args.device,
                    cache_path=args.out / "scores.db", space_options={"space": space_name, **space_options})
    if args.budget_minutes is not None:
        scorer.deadline = time.monotonic() + 60 * args.budget_minutes
    archs = [data.archs[i] for i in rows]
    cols, ms = scorer.table(archs, progress, f"{space_name} {task}")
    k = len(ms)
    rows = rows[:k]
    y = table["val_accuracy"].to_numpy(dtype=float)[rows]
    entries: dict[str, Any] = {}
    checks = []
    for p in compared:
        ours, rec = cols[p], table[p].to_numpy(dtype=float)[rows]
        e = {"ours": correlations(y, ours, n_boot=args.n_boot, seed=args.seed),
             "recorded": correlations(y, rec, n_boot=args.n_boot, seed=args.seed)}
        diff = paired_difference(y, ours, rec, n_boot=args.n_boot, seed=args.seed)
        e["difference"] = None if diff is None else {"value": diff[0], "ci": [diff[1], diff[2]]}
        keep = ~(np.isnan(ours) | np.isnan(rec))
        try:
            e["agreement"] = spearman(rec[keep], ours[keep])
        except ValueError:
            e["agreement"] = None
        entries[p] = e
        checks.append(check(f"{task}: {p} computed - recorded Spearman", None if diff is None else diff[0], 0.0,
                            within=COMPUTE_MARGIN))
    chosen = ensemble_proxies(compared)
    chosen = anchored_proxies({p: cols[p] for p in chosen})  # on our scores, as zc:ensemble would
    if chosen:
        ours = rank_aggregate({p: cols[p] for p in chosen})
        rec = rank_aggregate({p: table[p].to_numpy(dtype=float)[rows] for p in chosen})
        entries[ENSEMBLE] = {"ours": correlations(y, ours, n_boot=args.n_boot, seed=args.seed),
                             "recorded": correlations(y, rec, n_boot=args.n_boot, seed=args.seed), "proxies": chosen}
        diff = paired_difference(y, ours, rec, n_boot=args.n_boot, seed=args.seed)
        entries[ENSEMBLE]["difference"] = None if diff is None else {"value": diff[0], "ci": [diff[1], diff[2]]}
        entries[ENSEMBLE]["agreement"] = spearman(rec, ours)
    ours_only, ens_checks = _ensemble_on_ours(cols, y, names, task, n_boot=args.n_boot, seed=args.seed)
    checks += ens_checks
    n_params = [sum(q.numel() for q in scorer.build(a).parameters()) for a in archs[: min(k, 5)]]
    res = {"task": task, "n": k, "n_planned": int(args.compute_n), "network": f"{type(space).__name__}({space_options})",
           "batch": batch_desc, "proxies": entries, "ours": ours_only, "ms_median": float(np.median(ms)) if k else None,
           "params_first": n_params}
    return res, checks


def _ensemble_on_ours(cols: dict[str, np.ndarray], y: np.ndarray, names: list[str], task: str, *, n_boot: int,
                      seed: int) -> tuple[dict[str, Any], list]:
    """``zc:ensemble`` as a user gets it (its default proxies, anchored, on our scores) against every proxy we computed.

    Each proxy is oriented by its registered ``higher_is_better``; the best
    single proxy is picked with the labels (an oracle choice), and so is the
    best log-rank combination of 2-4 of them (:func:`best_combination`, row
    ``oracle combination``: the ceiling of any label-free subset rule).
    Check: the ensemble >= the best single proxy. Returns
    ``({"proxies": {name: correlations}, "best_single": name or None}, checks)``.
    """
    out = {p: correlations(y, oriented(p, cols[p]), n_boot=n_boot, seed=seed) for p in names}
    kept = anchored_proxies({p: cols[p] for p in DEFAULT_PROXIES}, directions(DEFAULT_PROXIES))
    aggregates = with_aggregates(cols, [])  # zc:ensemble, and AZ-NAS's score when its proxies were computed
    out[ENSEMBLE] = correlations(y, aggregates[ENSEMBLE], n_boot=n_boot, seed=seed) | {"proxies": kept}
    if AZ_NAS in aggregates:
        out[AZ_NAS] = correlations(y, aggregates[AZ_NAS], n_boot=n_boot, seed=seed) | {"proxies": list(AZ_NAS_PROXIES)}
    singles = {p: out[p]["spearman"] for p in names if out[p]["spearman"] is not None}
    best = max(singles, key=lambda p: singles[p]) if singles else None
    oracle = best_combination(cols, y, list(singles))
    if oracle is not None:
        out[ORACLE] = correlations(y, oracle[1], n_boot=n_boot, seed=seed) | {"proxies": list(oracle[0])}
    checks = []
    if best is not None:
        checks.append(check(f"{task}: {ENSEMBLE} on our scores >= best computed proxy ({best})", out[ENSEMBLE]["spearman"],
                            singles[best]))
    return {"proxies": out, "best_single": best}, checks


# ------------------------------------------------------------------ report
def build_report(results: dict[str, Any]) -> Report:
    space = results["config"]["space"]
    report = Report(f"archscore bench proxies --space {space}", results["command"], results["config"])
    summary = Table(["task", "n", "best single proxy", "its Spearman", ENSEMBLE, "ensemble - best", ENSEMBLE_AGREE])
    for res in results["recorded"]:
        e = res["proxies"]
        best = res["best_single"]
        ens, agr = e.get(ENSEMBLE, {}), e.get(ENSEMBLE_AGREE, {})
        margin = (ens["spearman"] - e[best]["spearman"]) if best and ens.get("spearman") is not None else None
        summary.add(res["task"], res["n"], best or "", _ci(e.get(best)), _ci(ens), "" if margin is None else f"{margin:+.3f}", _ci(agr))
    report.section(f"Recorded NAS-Bench-Suite-Zero proxies vs the label-free {ENSEMBLE} (Spearman with val_accuracy, 95% bootstrap)",
                   f"{ENSEMBLE}: log-rank aggregation of a fixed set, nwot/jacov/synflow/flops where recorded, less those with Spearman <= 0.2 with flops over the task (no labels read)",
                   f"{ENSEMBLE_AGREE}: log-rank aggregation of the proxies whose mean Spearman with the other proxies is > 0 (no labels read)",
                   "best single proxy: chosen with the labels, per task (an oracle the ensembles do not get)",
                   table=summary)
    for res in results["recorded"]:
        table = Table(["proxy", "Spearman", "Kendall", "n"])
        for name, e in res["proxies"].items():
            label = f"{name} ({'+'.join(e['proxies'])})" if "proxies" in e else name
            table.add(label, _ci(e), _ci(e, "kendall"), e["n"])
        lines = [f"constant over the task (left out): {', '.join(res['constant'])}"] if res["constant"] else []
        report.section(f"{res['task']}: {res['n']} architectures", *lines, table=table)
    for res in results.get("compute", []):
        table = Table(["proxy", "ours Spearman", "recorded Spearman", "ours - recorded", "agreement"])
        for name, e in res["proxies"].items():
            d = e["difference"]
            d_s = "n/a" if d is None else f"{d['value']:+.3f} [{d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}]"
            label = f"{name} ({'+'.join(e['proxies'])})" if "proxies" in e else name
            table.add(label, _ci(e["ours"]), _ci(e["recorded"]), d_s, "n/a" if e["agreement"] is None else f"{e['agreement']:+.3f}")
        report.section(f"Computed vs recorded, {res['task']}: {res['n']} of {res['n_planned']} architectures, network {res['network']}",
                       f"batch: {res['batch']}; median {res['ms_median']:.0f} ms per architecture for the whole suite"
                       if res["ms_median"] is not None else f"batch: {res['batch']}",
                       f"parameters of the first built networks: {', '.join(f'{p:,}' for p in res['params_first'])}",
                       "agreement: per-architecture Spearman of our scores with the recorded ones",
                       table=table)
        ours = res.get("ours")
        if ours:
            table = Table(["proxy", "Spearman", "Kendall"])
            for name, e in ours["proxies"].items():
                label = f"{name} ({'+'.join(e['proxies'])})" if "proxies" in e else name
                table.add(label, _ci(e), _ci(e, "kendall"))
            report.section(f"{ENSEMBLE} on our scores, {res['task']}: {res['n']} architectures",
                           f"{ENSEMBLE}: its default proxies ({', '.join(DEFAULT_PROXIES)}) computed on the network, less those "
                           "with Spearman <= 0.2 with flops over these architectures, log-rank aggregated (what "
                           "create_estimator('zc:ensemble') computes; no labels read)",
                           f"best single proxy: {ours['best_single'] or 'n/a'}, chosen with the labels among the proxies computed here",
                           *([f"{AZ_NAS}: AZ-NAS's own score, the log-rank aggregate of its four proxies without the anchor "
                              "(Lee & Ham 2024)"] if AZ_NAS in ours["proxies"] else []),
                           *([f"{ORACLE}: the log-rank combination of 2-4 of the proxies above with the highest Spearman, "
                              "picked with the labels: what the best label-free choice of a subset could reach at most"]
                             if ORACLE in ours["proxies"] else []),
                           table=table)
    add_checks(report, results["checks"])
    return report


def run_space(args: argparse.Namespace, proxies: list[str] | None, space_options: dict[str, int],
              compute_proxies: list[str] | None = None) -> int:
    """``archscore bench proxies --space X`` for a Suite-Zero space; 1 if a check failed.

    ``proxies`` (None: all recorded), ``space_options`` and ``compute_proxies`` (None: the recorded ones selected)
    are the parsed ``--proxies``, ``--space-options`` and ``--compute-proxies``.
    """
    if args.batch_size is None:
        args.batch_size = SUITE_ZERO_BATCH
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.compute_n < 2:
        raise ValueError(f"--compute-n must be >= 2, got {args.compute_n}")
    if args.compute and args.space not in COMPUTE_SPACES:
        raise ValueError(f"--compute scores CIFAR-10 networks: spaces {', '.join(COMPUTE_SPACES)}, not {args.space!r}")
    torch.set_num_threads(max(1, args.threads))
    path = space_file(args.space, args.data, args.zc_file)
    tasks = resolve_tasks(args.task, path)
    progress = not args.no_progress and sys.stderr.isatty()
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results: dict[str, Any] = {"command": command_line(args, "archscore bench proxies"),
                               "config": {k: v for k, v in settings_from_args(args, zc_file=str(path), tasks=tasks).items()
                                          if k in SETTINGS},
                               "recorded": [], "checks": []}
    for task in tasks:
        data, table = load_task(args.space, path, task)
        res, checks = run_recorded(table, task, proxies, n_boot=args.n_boot, seed=args.seed)
        results["recorded"].append(res)
        results["checks"] += checks
        if args.compute:
            res, checks = run_compute(args, args.space, data, table, task, proxies, space_options, progress, compute_proxies)
            results.setdefault("compute", []).append(res)
            results["checks"] += checks
    results["seconds"] = time.perf_counter() - t0
    return publish_results(results, build_report(results), args.out)
