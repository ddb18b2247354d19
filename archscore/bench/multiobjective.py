"""Multi-objective search on NB201: accuracy vs measured device latency (HW-NAS-Bench), hypervolume of the fronts found.

The NB201 CIFAR-10 table (``nb201/nb201_cifar10.csv``) is joined on ``arch``
with HW-NAS-Bench's device costs (``hwnasbench/hwnasbench_nb201_cifar10_dev.csv``).
For each device latency column and seed, each strategy searches with 100
queries (``--budget``) over the objectives ``{--guide: max, device: min}``
(validation accuracy guides the search; the latency is reported with each
query through ``TabularEvaluator(extra=[device])``). The front found is the
Pareto front of the queried cells by (validation accuracy, latency); its
hypervolume is computed on those cells' **test** accuracy and latency, so the
test split never guides a choice. The true front is the Pareto front of the
whole table on (test accuracy, latency).

Reference point (per device), documented and fixed: the worst test
accuracy and the largest latency over the whole table (the table's nadir), so
every cell adds a non-negative area and the numbers compare across
strategies; the table also reports the found hypervolume as a fraction of
the true front's (``HV / HV*``).

Writes ``OUT/results.md`` (shared report renderer), ``OUT/runs.csv`` (one row
per device, strategy and seed) and ``OUT/fronts.png`` (seed 0's fronts vs the
true front, one panel per device).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from archscore.bench.report import Report, Table, check, check_lines, command_line, publish, settings_from_args

logger = logging.getLogger(__name__)

NB201_CSV = "nb201/nb201_cifar10.csv"
HWNAS_CSV = "hwnasbench/hwnasbench_nb201_cifar10_dev.csv"
DEVICES = ("edgegpu_latency", "raspi4_latency", "eyeriss_latency")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, help="data folder holding nb201/ and hwnasbench/ (default: $ARCHSCORE_DATA)")
    p.add_argument("--hwnas", default=None, help=f"the HW-NAS-Bench CSV (default: DATA/{HWNAS_CSV})")
    p.add_argument("--devices", default=",".join(DEVICES), help=f"latency columns, comma separated (default: {','.join(DEVICES)})")
    p.add_argument("--strategies", default="nsga2,rea-mo,random", help="strategies, comma separated (default: nsga2,rea-mo,random)")
    p.add_argument("--budget", type=int, default=100, help="queries per run (default: 100)")
    p.add_argument("--seeds", type=int, default=30, help="seeds 0..N-1 per device and strategy (default: 30)")
    p.add_argument("--guide", default="valid_acc_200ep", help="accuracy column the search maximises (default: valid_acc_200ep)")
    p.add_argument("--test", default="test_acc_200ep", help="accuracy column of the hypervolume (default: test_acc_200ep)")
    p.add_argument("--out", type=Path, default=None, help="folder for results.md, runs.csv and fronts.png")


def load_joined(args: argparse.Namespace):
    """The NB201 table joined with the HW-NAS-Bench device costs on ``arch`` (inner join)."""
    import pandas as pd

    from archscore.data import resolve_data_file

    nb = pd.read_csv(resolve_data_file(args.data, NB201_CSV, "NB201 table"))
    hw = pd.read_csv(resolve_data_file(args.hwnas if args.hwnas is not None else args.data, HWNAS_CSV, "HW-NAS-Bench table",
                                       option="--hwnas" if args.hwnas is not None else "--data"))
    keep = [c for c in nb.columns if c != "index"]
    df = nb[keep].merge(hw, on="arch", how="inner")
    if df.empty:
        raise ValueError("the NB201 and HW-NAS-Bench tables share no architecture string")
    return df


def front_hypervolume(df, archs: list[str], acc: str, device: str, ref: tuple[float, float]) -> float:
    """Hypervolume of the cells ``archs`` on (``acc`` max, ``device`` min) with reference ``ref``."""
    from archscore.hardware import hypervolume

    sub = df.set_index("arch").loc[archs, [acc, device]].to_numpy(float)
    return hypervolume(sub, ref=list(ref), maximize=[True, False]) if len(sub) else 0.0


def _front_candidates(df, acc: str, lat: str):
    """Rows that can be on the (``acc`` max, ``lat`` min) front: a 2-D sweep by latency (exact superset, so
    :func:`pareto_front` on it gives the whole table's front without the quadratic sort of 15,625 rows)."""
    sub = df[["arch", acc, lat]].sort_values([lat, acc], ascending=[True, False], kind="stable")
    best_before = np.maximum.accumulate(np.r_[-np.inf, sub[acc].to_numpy(float)[:-1]])
    return sub[sub[acc].to_numpy(float) >= best_before]


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from archscore.hardware import hypervolume, pareto_front
    from archscore.search import TabularEvaluator, search

    devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    df = load_joined(args)
    missing = [c for c in [args.guide, args.test, *devices] if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} not in the joined table; columns: {', '.join(df.columns)}")

    rows: list[dict[str, Any]] = []
    truth: dict[str, dict[str, Any]] = {}
    seed0: dict[tuple[str, str], Any] = {}
    t_all = time.perf_counter()
    for dev in devices:
        ref = (float(df[args.test].min()), float(df[dev].max()))
        true_front = pareto_front(_front_candidates(df, args.test, dev), {args.test: "max", dev: "min"})
        hv_true = hypervolume(true_front[[args.test, dev]].to_numpy(float), ref=list(ref), maximize=[True, False])
        truth[dev] = {"ref": ref, "hv": hv_true, "front": true_front}
        ev = TabularEvaluator(df, target=args.guide, report=args.test, space="nb201", extra=[dev])
        objectives = {args.guide: "max", dev: "min"}
        for strat in strategies:
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                res = search("nb201", strat, ev, budget=args.budget, seed=seed, objectives=objectives, progress=False)
                secs = time.perf_counter() - t0
                front = res.front
                hv = front_hypervolume(df, list(front["arch"]), args.test, dev, ref)
                found_true = len(set(front["arch"]) & set(true_front["arch"]))
                rows.append({"device": dev, "strategy": strat, "seed": seed, "queries": len(res.history), "front_size": len(front),
                             "hv": hv, "hv_ratio": hv / hv_true, "true_front_cells_found": found_true, "seconds": secs})
                if seed == 0:
                    seed0[(dev, strat)] = df.set_index("arch").loc[list(front["arch"]), [args.test, dev]]
            logger.info("%s %s: mean HV ratio %.4f", dev, strat, np.mean([r["hv_ratio"] for r in rows if r["device"] == dev and r["strategy"] == strat]))
    runs = pd.DataFrame(rows)

    report = Report("Multi-objective search on NB201: accuracy vs device latency (hypervolume)",
                    command_line(args, "archscore bench multiobjective"),
                    settings_from_args(args, table_rows=len(df), total_seconds=round(time.perf_counter() - t_all, 1)))
    report.section(
        "Protocol",
        f"NB201 CIFAR-10 joined with HW-NAS-Bench on `arch` ({len(df)} cells). Each run: {args.budget} queries, objectives "
        f"{{{args.guide}: max, <device>: min}}; {args.seeds} seeds (0..{args.seeds - 1}) per device and strategy.",
        f"Front found: Pareto front of the queried cells by ({args.guide}, latency); its hypervolume (HV) is computed on "
        f"({args.test}, latency), so the test split never guides a choice. True front: the whole table on ({args.test}, latency).",
        f"Reference point per device: ({args.test} minimum over the table, latency maximum over the table) -- the table's nadir. "
        "HV / HV* is the found hypervolume as a fraction of the true front's.",
    )
    t = Table(["device", "strategy", "runs", "HV mean", "HV std", "HV / HV* mean", "HV / HV* std", "seeds > random (same seed)",
               "front size", "true-front cells found", "s / run"], left=2)
    for dev in devices:
        rnd = runs[(runs.device == dev) & (runs.strategy == "random")].set_index("seed").hv
        for strat in strategies:
            r = runs[(runs.device == dev) & (runs.strategy == strat)]
            wins = "" if strat == "random" or rnd.empty else f"{int((r.set_index('seed').hv > rnd).sum())}/{len(r)}"
            t.add(dev, strat, len(r), f"{r.hv.mean():.2f}", f"{r.hv.std(ddof=1) if len(r) > 1 else 0:.2f}", f"{r.hv_ratio.mean():.4f}",
                  f"{r.hv_ratio.std(ddof=1) if len(r) > 1 else 0:.4f}", wins, f"{r.front_size.mean():.1f}",
                  f"{r.true_front_cells_found.mean():.2f}", f"{r.seconds.mean():.2f}")
    report.section(f"Hypervolume of the front found with {args.budget} queries (mean ± std over seeds)", table=t)
    tt = Table(["device", "reference point (test acc, latency)", "true front cells", "HV* (true front)"], left=2)
    for dev in devices:
        ref = truth[dev]["ref"]
        tt.add(dev, f"({ref[0]:.2f}, {ref[1]:.3f})", len(truth[dev]["front"]), f"{truth[dev]['hv']:.2f}")
    report.section("True fronts (whole table)", table=tt)
    checks = []
    if "random" in strategies:
        for dev in devices:
            base = runs[(runs.device == dev) & (runs.strategy == "random")].hv_ratio.mean()
            for strat in strategies:
                if strat == "random":
                    continue
                v = runs[(runs.device == dev) & (runs.strategy == strat)].hv_ratio.mean()
                checks.append(check(f"{strat} HV/HV* > random's ({dev})", float(v), float(base), strict=True))
    if checks:
        report.section("Checks: multi-objective strategies beat random search (mean HV / HV*)", table=check_lines(checks))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        runs.to_csv(args.out / "runs.csv", index=False)
        try:
            _plot(truth, seed0, devices, strategies, args, args.out / "fronts.png")
            report.section("Plot", "fronts.png: seed 0's fronts (test accuracy of the cells found) vs the true front, one panel per device.")
        except ImportError:
            logger.warning("matplotlib is not installed: no plot")
    publish(report, args.out)
    return 0 if all(c["passed"] for c in checks) else 1


def _plot(truth, seed0, devices, strategies, args, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(devices), figsize=(5 * len(devices), 4), squeeze=False)
    for ax, dev in zip(axes[0], devices):
        tf = truth[dev]["front"].sort_values(dev)
        ax.step(tf[dev], tf[args.test], where="post", color="black", lw=1.5, label="true front (whole table)")
        for strat, marker in zip(strategies, "os^vDx"):
            f = seed0.get((dev, strat))
            if f is not None and len(f):
                f = f.sort_values(dev)
                ax.plot(f[dev], f[args.test], marker=marker, ls="--", ms=4, label=f"{strat} (seed 0, {args.budget} queries)")
        ax.set_xlabel(f"{dev} (ms)")
        ax.set_ylabel(f"{args.test} (%)")
        lo = float(truth[dev]["front"][args.test].quantile(0.2))
        ax.set_ylim(max(lo - 2, 0), 95)
        ax.set_title(dev)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
