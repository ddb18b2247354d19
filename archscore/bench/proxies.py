"""Zero-cost proxies against NAS-Bench-201 ground truth: rank correlations, agreement with the reference code, cost.

With ``--space nb101|nb301|tnb101_micro|tnb101_macro`` the command instead
reports the proxies NAS-Bench-Suite-Zero recorded on that space, a label-free
``zc:ensemble`` of them, and (``--compute``) archscore's own proxies on the
space's networks: see :mod:`archscore.bench.proxy_spaces`. On NB201 (the
default) it runs the protocols below.

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
cached per cell in ``OUT/scores.db`` (:mod:`archscore.bench.cache`, keyed
by cell, batch, seeds, space options, proxy set and proxy code), so an
interrupted run resumes where it stopped. The
models are built after ``torch.manual_seed(--init-seed)`` (42, as the
reference code) and scored on the reference batch of ``archscore.data``
(``--batch-size`` rows of ``train5k.npz``). ``zc:ensemble`` is computed from
the cached scores with :func:`archscore.predictors.zc_ensemble.rank_aggregate`
over each protocol's cell list.

Writes ``OUT/results.json`` (everything), ``OUT/results.md`` (the printed
tables, with the command line and settings) and ``OUT/plots/``. Exits with
status 1 when a check fails. Published numbers and targets live in
:mod:`archscore.bench.proxy_targets`; the protocols in
:mod:`archscore.bench.proxy_protocols`.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

import archscore
from archscore.bench.plots import scatter_plots
from archscore.bench.proxy_spaces import run_space
from archscore.bench.proxy_protocols import CifarResNet18, Scorer, full_rows, run_cost, run_cost_model, run_design, run_full, run_hard
from archscore.bench.proxy_targets import CURVES_CSV, IMAGES_NPZ, NB201_CSV, REF_CSV
from archscore.bench.report import Report, Table, add_checks, command_line, publish_results, settings_from_args
from archscore.bench.suite_zero import BENCH_SPACES
from archscore.benchmarks import load_nb201
from archscore.data import reference_batch, resolve_data_file
from archscore.predictors.zc_ensemble import DEFAULT_PROXIES
from archscore.proxies import ReferenceNB201Space, list_proxies

PROTOCOLS = ("full", "hard", "cost", "design", "cost-resnet")
#: Default minibatch of the NB201 protocols.
NB201_BATCH = 64


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``archscore bench proxies``."""
    p.add_argument("--space", choices=BENCH_SPACES, default="nb201",
                   help="nb201 (default): the protocols below; nb101, nb301, tnb101_micro, tnb101_macro: the recorded "
                        "NAS-Bench-Suite-Zero proxies (and --compute) on the development file DATA/naslib/")
    p.add_argument("--data", type=Path, default=None, help="shared data folder with nb201/, naslib/ and cifar10/ (default: $ARCHSCORE_DATA)")
    p.add_argument("--task", default=None, help="--space other than nb201: comma-separated tasks of the file (default: all)")
    p.add_argument("--zc-file", type=Path, default=None, help="--space other than nb201: the Suite-Zero JSON (default: DATA/naslib/...)")
    p.add_argument("--compute", action="store_true",
                   help="--space nb101/nb301: also compute archscore's proxies on --compute-n of the file's architectures "
                        "and compare with the recorded ones")
    p.add_argument("--compute-n", type=int, default=60, help="architectures scored by --compute")
    p.add_argument("--compute-proxies", default=None,
                   help="--compute: comma-separated proxies to compute, recorded or not (default: the recorded ones --proxies "
                        "selects); zc:ensemble's are always computed")
    p.add_argument("--table", type=Path, default=None, help=f"NB201 CSV with the targets (default: DATA/{NB201_CSV})")
    p.add_argument("--ref", type=Path, default=None, help=f"reference-score CSV of the hard protocol (default: DATA/{REF_CSV})")
    p.add_argument("--images", type=Path, default=None, help=f"images: an .npz, the CIFAR-10 JPEG tarball or a data folder (default: DATA/{IMAGES_NPZ})")
    p.add_argument("--protocol", default="full,hard,cost", help=f"comma-separated protocols among {', '.join(PROTOCOLS)}")
    p.add_argument("--design-n", type=int, default=None, help="design protocol: only the first N eligible cells of the list (default: all)")
    p.add_argument("--curves", type=Path, default=None, help=f"cell list of the design protocol (default: DATA/{CURVES_CSV})")
    p.add_argument("--n", type=int, default=300, help="cells in the full-space sample")
    p.add_argument("--seed", type=int, default=0, help="sampling, bootstrap and proxy seed")
    p.add_argument("--init-seed", type=int, default=42, help="torch.manual_seed before building each model (42 as the reference code)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="images in the minibatch (default: 64; --space other than nb201: 32, the batch NAS-Bench-Suite-Zero's "
                        "proxies were computed on)")
    p.add_argument("--target", default="valid_acc_200ep", help="target column (the full protocol also reports test_acc_200ep)")
    p.add_argument("--proxies", default=None, help="comma-separated proxies (default: all registered); zc:ensemble's are always computed")
    p.add_argument("--cost-n", type=int, default=30, help="cells of the full-space sample timed in the cost protocol")
    p.add_argument("--cost-reps", type=int, default=5, help="cost-resnet protocol: side-by-side repetitions (suite call and forward+backward)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the 95%% intervals")
    p.add_argument("--out", type=Path, default=Path("bench_proxies_out"),
                   help="output folder: results.json, results.md, scores.db score store, plots/")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--device", default="cpu", help="torch device")
    p.add_argument("--hard-network", choices=("reference", "benchmark"), default="reference",
                   help="network of the hard protocol: 'reference' = the original zero-cost code's NB201 init "
                        "(same weights as the reference scores after the init seed), 'benchmark' = archscore's NB201 build "
                        "(full, cost and design always use the benchmark build)")
    p.add_argument("--space-options", default="",
                   help="space options as k=v,... e.g. C=4,N=1 (nb201) or stem_channels=16,cells_per_stack=1 (nb101 --compute); "
                        "then not the benchmark's network")
    p.add_argument("--budget-minutes", type=float, default=None,
                   help="stop scoring new cells after this many minutes and report on the cells scored (default: no limit)")
    p.add_argument("--no-plots", action="store_true", help="skip the scatter plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def parse_list(text: str | None, what: str, allowed: Sequence[str] | None = None) -> list[str] | None:
    """``"a,b"`` -> ``["a", "b"]`` (None stays None), checked against ``allowed``."""
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


def parse_space_options(text: str) -> dict[str, int]:
    """``"C=4,N=1"`` -> ``{"C": 4, "N": 1}``."""
    opts: dict[str, int] = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not value.strip().lstrip("-").isdigit():
            raise ValueError(f"--space-options item {item!r} is not of the form key=integer (e.g. C=4,N=1)")
        opts[key.strip()] = int(value)
    return opts


# ------------------------------------------------------------------ report
def _ci(stat: dict[str, Any] | None, key: str = "spearman") -> str:
    if not stat or stat.get(key) is None:
        return "n/a"
    lo, hi = stat[f"{key}_ci"]
    return f"{stat[key]:+.3f} [{lo:+.2f}, {hi:+.2f}]"


def _num(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def build_report(results: dict[str, Any]) -> Report:
    """The sections of the printed summary and of ``OUT/results.md`` (one source for both)."""
    report = Report("archscore bench proxies", results["command"], results["config"])
    prot = results["protocols"]
    ms = prot.get("cost", {}).get("per_proxy_ms_median", {})
    if "hard" in prot:
        r = prot["hard"]
        t = r["target"]
        table = Table(["proxy", f"Spearman {t}", f"Kendall {t}", "ref Spearman", "agreement", "ms/arch", "ref ms"])
        for name, e in r["proxies"].items():
            ref = e.get("reference", {})
            table.add(name, _ci(e[t]), _ci(e[t], "kendall"), _num(ref.get("spearman"), "+.3f"), _num(e.get("agreement"), ".3f"),
                      _num(ms.get(name), ".0f"), _num(ref.get("ms_median"), ".0f"))
        report.section(f"Hard case: {r['n']} of the {r['n_planned']} connected reference cells ({r['network']} network), against {t}",
                       table=table)
    if "full" in prot:
        r = prot["full"]
        t1, t2 = (r["targets"] + [None])[:2]
        cols = ["proxy", f"Spearman {t1}", f"Kendall {t1}"] + ([f"Spearman {t2}"] if t2 else []) + ["published", "ms/arch"]
        table = Table(cols)
        for name, e in r["proxies"].items():
            pub = e.get("published")
            pub_s = f"{pub['spearman']:.2f} ({pub['target'].split('_')[0]}; {pub['source']})" if pub else ""
            cells = [name, _ci(e[t1]), _ci(e[t1], "kendall")] + ([_ci(e.get(t2))] if t2 else []) + [pub_s, _num(ms.get(name), ".0f")]
            table.add(*cells)
        report.section(f"Full space: {r['n']} of {r['n_planned']} planned cells uniformly from the table ({r['n_connected']} connected), "
                       f"seed {r['seed']}", table=table)
    if "cost" in prot:
        c = prot["cost"]
        table = Table(["measure", "ms", "x fwd+bwd"])
        table.add("one forward+backward", f"{c['fwd_bwd_ms_median']:.0f}", "1.00")
        table.add("whole suite, one compute call", f"{c['suite_ms_median']:.0f}", f"{c['ratio_suite_over_fwd_bwd']:.2f}")
        table.add("sum of single-proxy calls", f"{c['individual_sum_ms_median']:.0f}", f"{c['ratio_individual_sum_over_fwd_bwd']:.2f}")
        for p, v in c["per_proxy_ms_median"].items():
            table.add(f"{p} alone", f"{v:.0f}", f"{c['per_proxy_ratio_over_fwd_bwd'][p]:.2f}")
        report.section(f"Cost: medians over {c['n']} cells of the full-space sample, {len(c['proxies_in_suite'])} proxies in the suite",
                       table=table)
    if "cost-resnet" in prot:
        c = prot["cost-resnet"]
        table = Table(["repetition", "forward+backward ms", "suite ms", "x fwd+bwd"])
        for i, (f, t, r) in enumerate(zip(c["fwd_bwd_ms"], c["suite_ms"], c["ratios"]), 1):
            table.add(str(i), f"{f:.0f}", f"{t:.0f}", f"{r:.2f}")
        report.section(f"Cost on an ordinary model: {c['model']} ({c['params'] / 1e6:.1f}M parameters, batch {'x'.join(map(str, c['batch']))}), "
                       f"{len(c['proxies_in_suite'])} proxies in one compute call; median {c['ratio_median']:.2f}x one forward+backward",
                       table=table)
    if "design" in prot:
        r = prot["design"]
        lines = ["single proxies: " + ", ".join(f"{p} {v:+.3f}" for p, v in sorted(r["single_spearman_connected"].items(), key=lambda kv: -kv[1]))]
        if r.get("default"):
            d = r["default"]
            lines.append(f"default zc:ensemble: {d['spearman_connected']:+.3f} (all cells {d['spearman_all']:+.3f}), "
                         f"rank {r['default_rank']} of {r['n_combinations']}")
        table = Table(["combination", "method", "Spearman connected", "Spearman all"], left=2)
        for c in r["top_combinations"][:10]:
            table.add("+".join(c["proxies"]), c["method"], f"{c['spearman_connected']:+.3f}", f"{c['spearman_all']:+.3f}")
        report.section(f"Design cells (zc:ensemble's choice): {r['n']} cells ({r['n_connected']} connected), "
                       f"Spearman on the connected ones against {r['target']}", *lines, table=table)
    add_checks(report, results["checks"])
    return report


# --------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> int:
    """Run the selected protocols, print the report, write ``OUT/results.json`` and ``OUT/results.md``; 1 if a check failed."""
    if args.space != "nb201":
        return run_space(args, parse_list(args.proxies, "proxies"), parse_space_options(args.space_options),
                         parse_list(args.compute_proxies, "compute proxies", list_proxies()))
    if args.batch_size is None:
        args.batch_size = NB201_BATCH
    protocols = parse_list(args.protocol, "protocol", PROTOCOLS)
    known = list_proxies()
    requested = parse_list(args.proxies, "proxies", known) or list(known)
    computed = requested + [p for p in DEFAULT_PROXIES if p not in requested]
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    space_options = parse_space_options(args.space_options)
    progress = not args.no_progress and sys.stderr.isatty()
    torch.set_num_threads(args.threads)

    def data_file(explicit: Path | None, relative: str, what: str, option: str) -> Path:
        return resolve_data_file(explicit if explicit is not None else args.data, relative, what, option=f"{option} or --data")

    table_path = data_file(args.table, NB201_CSV, "NB201 table", "--table")
    images = data_file(args.images, IMAGES_NPZ, "image data", "--images")
    bench = load_nb201(table_path)
    targets = list(dict.fromkeys([args.target, "test_acc_200ep"]))
    for t in targets:
        if t not in bench.table.columns:
            raise ValueError(f"target column {t!r} not in {table_path}; columns are {list(bench.table.columns)}")
    inputs, targets_batch = reference_batch(images, batch_size=args.batch_size)
    args.out.mkdir(parents=True, exist_ok=True)
    space = archscore.get_space("nb201", **space_options)
    cache_path = args.out / "scores.db"
    scorer = Scorer(space, inputs, targets_batch, computed, seed=args.seed, init_seed=args.init_seed, device=args.device,
                    cache_path=cache_path, space_options=space_options)

    results: dict[str, Any] = {
        "command": command_line(args, "archscore bench proxies"),
        "config": settings_from_args(args, protocol=protocols, proxies=requested, computed=computed, space_options=space_options,
                                     proxies_code=scorer.code, table=str(table_path), images=str(images)),
        "environment": {"python": platform.python_version(), "torch": torch.__version__, "archscore": archscore.__version__,
                        "machine": platform.machine(), "cpu_count": os.cpu_count()},
        "protocols": {},
        "checks": [],
    }
    t_start = time.perf_counter()
    if args.budget_minutes is not None:
        scorer.deadline = time.monotonic() + 60 * args.budget_minutes
    rows = full_rows(args.n, args.seed, len(bench.table)) if args.n <= len(bench.table) else None
    if "design" in protocols:
        ref_path = data_file(args.ref, REF_CSV, "reference-score CSV", "--ref")
        curves_path = data_file(args.curves, CURVES_CSV, "design cell list", "--curves")
        exclude = set(int(i) for i in pd.read_csv(ref_path, usecols=["index"])["index"])
        if rows is not None:
            exclude |= set(int(i) for i in bench.table.index[rows])
        results["protocols"]["design"] = run_design(args, scorer, bench, exclude, curves_path, progress)
    if "hard" in protocols:
        ref_path = data_file(args.ref, REF_CSV, "reference-score CSV", "--ref")
        hard_scorer = scorer
        if args.hard_network == "reference":
            hard_scorer = Scorer(ReferenceNB201Space(**space_options), inputs, targets_batch, computed, seed=args.seed,
                                 init_seed=args.init_seed, device=args.device, cache_path=cache_path, space_options=space_options)
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
            if rows is None:
                raise ValueError(f"--n {args.n} exceeds the {len(bench.table)} cells of the table")
            full_archs = [bench.archs[i] for i in rows]
        res, checks = run_cost(args, scorer, full_archs, requested, progress)
        results["protocols"]["cost"] = res
        results["checks"] += checks
    if "cost-resnet" in protocols:
        torch.manual_seed(args.init_seed)
        res, checks = run_cost_model(CifarResNet18(10), inputs,
                                     targets_batch, requested, reps=args.cost_reps, seed=args.seed, device=args.device,
                                     label="CIFAR ResNet-18", progress=progress)
        results["protocols"]["cost-resnet"] = res
        results["checks"] += checks
    for name, res in results["protocols"].items():
        plot = res.pop("_plot", None)
        if plot is not None and not args.no_plots:
            paths = scatter_plots(args.out / "plots", name, plot["y"], plot["cols"], xlabel=plot["target"],
                                  spearman={k: v[plot["target"]]["spearman"] for k, v in res["proxies"].items()})
            res["plots"] = {k: str(v) for k, v in paths.items()}
    results["seconds"] = time.perf_counter() - t_start
    return publish_results(results, build_report(results), args.out)
