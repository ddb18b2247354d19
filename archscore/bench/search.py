"""Search strategies on a tabular benchmark: test accuracy of the best-by-validation architecture vs queries.

``--space nb201`` (default): NAS-Bench-201 CIFAR-10 from the data folder;
``--space nbgraph:DATASET``: NAS-Bench-Graph (``valid_perf`` guides, ``perf``
is reported, both in percent) through the ``nas-bench-graph`` package.

Each strategy runs once per seed with the largest budget (strategies whose
decisions do not depend on the budget: a run's first B queries are the run
with budget B); budget-aware ones (``sh``, ``hyperband``) run once per budget.
``valid_acc_200ep`` guides the search, ``test_acc_200ep`` of the chosen cell is
reported. Per budget: mean ± std of that test accuracy, the fraction of runs
whose choice is the table's best test cell (94.37 on NB201 CIFAR-10), the
architectures trained (queries), and the estimator cost (surrogate fits;
proxy seconds for pool variants).

Pool variants (``NAME+pool``) warm-start ``NAME`` from a pool ranked by
``zc:ensemble``'s log-rank rule over precomputed proxy scores (``--scores``,
``archscore score`` CSVs: proxies are never recomputed per seed); each seed
samples ``--pool-size`` of the scored cells (all of them by default). With
``--live-scores``, cells outside the score files that a strategy ranks by the
pool's estimator (local search orders its neighbours so) are scored live on
``archscore score``'s reference batch and kept in that store; the page counts
them per run (``beyond pool``) in the proxy cost.

Runs are appended to ``OUT/runs.jsonl`` and skipped when rerun, so an
interrupted benchmark resumes. Writes ``OUT/results.md`` (the shared report
renderer: command line, settings, tables), ``OUT/results.csv`` and
``OUT/search.png`` (mean with a ±1 std band per strategy, linked from the page).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from archscore.bench.report import Report, Table, command_line, publish, settings_from_args

logger = logging.getLogger(__name__)

DEFAULT_STRATEGIES = "random,rea,local,reinforce,bananas"
DEFAULT_BUDGETS = "10,25,50,100,200"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=None, help="data folder or NB201 table CSV (default $ARCHSCORE_DATA)")
    p.add_argument("--space", default="nb201",
                   help="nb201 (the table in --data) or nbgraph:DATASET (NAS-Bench-Graph through the nas-bench-graph package, "
                        "e.g. nbgraph:cora) (default nb201)")
    p.add_argument("--target", default=None, help="column guiding the search (default valid_acc_200ep; nbgraph: valid_perf)")
    p.add_argument("--report", default=None, help="column reported for the chosen cell (default test_acc_200ep; nbgraph: perf)")
    p.add_argument("--strategies", default=DEFAULT_STRATEGIES, help=f"comma-separated; NAME+pool warm-starts NAME from --scores (default {DEFAULT_STRATEGIES})")
    p.add_argument("--budgets", default=DEFAULT_BUDGETS, help=f"comma-separated query budgets (default {DEFAULT_BUDGETS})")
    p.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 per strategy (default 20)")
    p.add_argument("--cap", default="", help="per-strategy largest budget, e.g. bananas=100,bananas+pool=100 (slow strategies)")
    p.add_argument("--seeds-cap", default="", help="per-strategy number of seeds, e.g. bananas=10")
    p.add_argument("--scores", default=None, help="proxy score CSVs (archscore score output) for NAME+pool variants, comma separated")
    p.add_argument("--pool-size", type=int, default=None, help="pool cells sampled per seed from the scored cells (default all)")
    p.add_argument("--pool-proxies", default=None, help="score columns aggregated for the pool (default: zc:ensemble's proxies present in the file)")
    p.add_argument("--proxy-seconds", type=float, default=None, help="measured proxy seconds per pool cell, for the cost column")
    p.add_argument("--pool-without-best", action="store_true",
                   help="leave the table's best-by-target architecture out of --scores, so no pool holds it (does a +pool "
                        "strategy find it beyond its pool?)")
    p.add_argument("--cost-cells", type=int, default=0,
                   help="NAME+pool runs: time the pool's proxies and one training step (batch 256, SGD) side by side on this many "
                        "pool cells, to state the proxy cost in units of one 200-epoch training run; needs the images in --data (default 0: skip)")
    p.add_argument("--live-scores", type=Path, default=None,
                   help="score store (SQLite) for cells outside --scores that a NAME+pool strategy has ranked (local search's "
                        "neighbours): their proxies are computed as `archscore score` does by default (64 CIFAR-10 training "
                        "images from --data, batch seed 0, init and proxy seed 42) and kept there for every seed; without it "
                        "such cells rank last")
    p.add_argument("--fidelities", default=None,
                   help="EPOCHS=COLUMN list for multi-fidelity strategies (sh, hyperband); a query at E epochs counts E/max of a query "
                        "(default for nb201: 12=valid_acc_12ep,200=valid_acc_200ep; none for nbgraph)")
    p.add_argument("--curves", type=Path, default=None,
                   help="learning-curve table (nb201_cifar10_curves_200archs.csv): also measure early stopping on it")
    p.add_argument("--es-threshold", type=float, default=0.05, help="stop when P(improvement) falls below this (default 0.05)")
    p.add_argument("--es-seeds", type=int, default=3, help="random orders of the curve table (default 3)")
    p.add_argument("--es-every", type=int, default=20, help="epochs between early-stopping checks (default 20)")
    p.add_argument("--plot", default="search.png",
                   help="file name of the plot in --out, linked from results.md (default search.png; name it after the docs page it goes beside)")
    p.add_argument("--out", type=Path, required=True, help="output folder")


def _benchmark(args: argparse.Namespace):
    """(space name, table, fidelities) for ``--space``; fills in the default target/report columns."""
    from archscore.benchmarks import load_nasbench_graph
    from archscore.cli.search import load_table

    name, _, dataset = args.space.partition(":")
    if name == "nb201" and not dataset:
        args.target = args.target or "valid_acc_200ep"
        args.report = args.report or "test_acc_200ep"
        if args.fidelities is None:
            args.fidelities = "12=valid_acc_12ep,200=valid_acc_200ep"
        fid = {int(k): v for k, v in _parse_map(args.fidelities, str).items()}
        return "nb201", load_table(args.data), fid, "NAS-Bench-201 CIFAR-10"
    if name == "nbgraph" and dataset:
        args.target = args.target or "valid_perf"
        args.report = args.report or "perf"
        if args.fidelities:
            raise ValueError("--fidelities: NAS-Bench-Graph has one fidelity (its tables hold the final performance only)")
        table = load_nasbench_graph(dataset).table.reset_index(drop=True)
        for col in ("perf", "valid_perf"):  # the package stores fractions; report percent like NB201
            table[col] = 100.0 * table[col]
        return "nbgraph", table, {}, f"NAS-Bench-Graph {dataset}"
    raise ValueError(f"--space must be nb201 or nbgraph:DATASET (e.g. nbgraph:cora), got {args.space!r}")


def _parse_map(text: str, cast=int) -> dict[str, Any]:
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        if "=" not in item:
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = cast(v)
    return out


def _pool_estimator(scores, proxies_arg):
    """The score table, a ``zc:ensemble`` over its proxies (seeded like ``archscore score``'s defaults), the proxies."""
    import archscore
    from archscore.search import load_scores

    table = load_scores(scores)
    default = ("meco", "jacov", "synflow", "flops")
    proxies = [p for p in (proxies_arg.split(",") if proxies_arg else default) if p in table.columns]
    if not proxies:
        raise ValueError(f"the score files hold none of the proxies {proxies_arg or default}; columns: {list(table.columns)}")
    return table, archscore.create_estimator("zc:ensemble", proxies=tuple(proxies), seed=42, init_seed=42), proxies


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from archscore.cli.search import load_table
    from archscore.search import STRATEGIES, Pool, TabularEvaluator, search

    budgets = sorted({int(b) for b in args.budgets.split(",") if b.strip()})
    if not budgets or budgets[0] < 1:
        raise ValueError(f"--budgets must be positive integers, got {args.budgets!r}")
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    caps = _parse_map(args.cap)
    seed_caps = _parse_map(args.seeds_cap)
    for s in strategies:
        STRATEGIES.entry(s.removesuffix("+pool"))  # unknown names fail here, with close matches
    space, table, fid, title = _benchmark(args)
    ev = TabularEvaluator(table, target=args.target, report=args.report, space=space)
    ev_fid = TabularEvaluator(table, target=args.target, report=args.report, space=space, fidelities=fid) if fid else ev
    optimum = float(table[args.report].max())
    best_row = table.loc[table[args.target].idxmax()]
    best_by_target = float(best_row[args.report])
    pool_scores = pool_est = pool_note = live_data = None
    if any(s.endswith("+pool") for s in strategies):
        if args.scores is None:
            raise ValueError("NAME+pool strategies need --scores (archscore score CSVs of the pool)")
        pool_scores, pool_est, proxies = _pool_estimator(args.scores, args.pool_proxies)
        if args.pool_without_best:
            pool_scores = pool_scores.drop(index=str(best_row["arch"]), errors="ignore")
        logger.info("pool: %d scored cells, proxies %s", len(pool_scores), proxies)
        if args.live_scores is not None:
            from archscore.data import load_batch, resolve_image_source

            live_data = load_batch(resolve_image_source(args.data), 64, 0)[:2]
        pool_note = (f"Pools: each seed ranks {args.pool_size or len(pool_scores)} architectures drawn from the {len(pool_scores)} "
                     f"scored in `--scores` (proxies {', '.join(proxies)}). Every seed's pool is a uniform sample of the space, but "
                     "pools drawn from one scored set overlap, so the seeds' results are not independent; the scored set "
                     f"{'holds' if str(best_row['arch']) in pool_scores.index else 'does not hold'} the best-by-`{args.target}` "
                     "architecture of the table" + (" (left out by `--pool-without-best`)." if args.pool_without_best else "."))

    args.out.mkdir(parents=True, exist_ok=True)
    runs_path = args.out / "runs.jsonl"
    done = {}
    if runs_path.exists():
        for line in runs_path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done[(r["strategy"], r["seed"], r["budget"])] = r
    with open(runs_path, "a") as fh:
        for name in strategies:
            base = name.removesuffix("+pool")
            aware = STRATEGIES.get(base).budget_aware
            top = min(budgets[-1], caps.get(name, budgets[-1]))
            run_budgets = [b for b in budgets if b <= top] if aware else [top]
            for seed in range(seed_caps.get(name, args.seeds)):
                for b in run_budgets:
                    if (name, seed, b) in done:
                        continue
                    pool = Pool(size=args.pool_size, estimator=pool_est, store=args.live_scores) if name.endswith("+pool") else None
                    t0 = time.perf_counter()
                    res = search(space, base, ev_fid if aware else ev, budget=b, seed=seed, pool=pool, scores=pool_scores,
                                 data=live_data, progress=False)
                    rec = {"strategy": name, "seed": seed, "budget": b, "seconds": time.perf_counter() - t0,
                           "surrogate_seconds": res.surrogate_seconds, "surrogate_fits": res.stats.get("surrogate_fits", 0),
                           "pool_cells": len(getattr(pool, "ranked_", [])) if pool is not None else 0,
                           "pool_beyond_at": res.stats.get("pool_beyond_at", []),
                           "best_report": res.best_so_far("report").tolist(), "spent": res.spent,
                           "n_rows": len(res.history)}
                    fh.write(json.dumps(rec) + "\n")
                    fh.flush()
                    done[(name, seed, b)] = rec
                    logger.info("%s seed %d budget %d: test %.2f (%.1f s)", name, seed, b, rec["best_report"][-1], rec["seconds"])
    es = _early_stopping(args, table) if args.curves is not None else None
    # NB201's training run is the unit; other benchmarks' networks are not built here
    cost = _proxy_vs_training(args, pool_scores, proxies) if (pool_scores is not None and args.cost_cells > 0 and space == "nb201") else None
    rows = _summarise(done, strategies, budgets, optimum, args.proxy_seconds)
    frame = pd.DataFrame(rows)
    frame.to_csv(args.out / "results.csv", index=False)
    ylim = (float(np.percentile(table[args.report].dropna(), 90)), optimum + 0.1)
    plotted = False
    try:
        _plot(done, strategies, budgets, args.out / args.plot, ylim, args.report)
        plotted = True
    except ImportError:
        logger.warning("matplotlib is not installed: no plot")
    publish(_report(frame, args, title, optimum, best_by_target, es, plotted, pool_note, cost), args.out)
    return 0


#: NB201's CIFAR-10 training run: 200 epochs over the 25,000-image train split in batches of 256.
NB201_EPOCHS, NB201_STEPS = 200, -(-25_000 // 256)


def _proxy_vs_training(args: argparse.Namespace, scores, proxies: list[str]) -> tuple[list[str], Table]:
    """Seconds of the pool's proxies and of one training step on the same cells, side by side, on this machine.

    The cells are the first ``--cost-cells`` connected cells of the score file.
    Each cell: the proxies once on the reference batch (64 images, seed 42, as
    ``archscore score``), then two SGD steps at batch 256 (the second is timed;
    the first warms up). One training run = ``NB201_EPOCHS * NB201_STEPS`` steps.
    """
    import torch

    import archscore
    from archscore.data import load_batch, resolve_image_source
    from archscore.proxies import compute

    space = archscore.get_space(args.space)
    x, y, _ = load_batch(resolve_image_source(args.data), 256, 0)
    cells = [a for a in (space.from_string(s) for s in scores.index) if a.is_connected()][: args.cost_cells]
    tab = Table(["cell", "proxy s", "train step s", "proxy / step", "proxy / 200-epoch run"])
    ratios = []
    for arch in cells:
        torch.manual_seed(42)
        model = space.build(arch)
        t0 = time.process_time()
        compute(model, x[:64], y[:64], proxies, seed=42, nan_policy="warn")
        proxy_s = time.process_time() - t0
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()
        for _ in range(2):  # the first step warms up; the second is timed
            t0 = time.process_time()
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
            step_s = time.process_time() - t0
        run_s = step_s * NB201_EPOCHS * NB201_STEPS
        ratios.append(proxy_s / run_s)
        tab.add(space.to_string(arch), f"{proxy_s:.2f}", f"{step_s:.2f}", f"{proxy_s / step_s:.2f}", f"{proxy_s / run_s:.1e}")
    lines = [f"CPU seconds of this process (`time.process_time`, {torch.get_num_threads()} threads), measured side by side on "
             f"{len(cells)} pool cells: `{', '.join(proxies)}` once on the 64-image reference batch, and one SGD step of the "
             f"full network at batch 256 (after one warm-up step). A 200-epoch NB201 training run is {NB201_EPOCHS} x "
             f"{NB201_STEPS} such steps.",
             f"Mean: one cell's proxies cost {np.mean(ratios):.1e} of its training run, so a pool of "
             f"{args.pool_size or len(scores)} cells costs {np.mean(ratios) * (args.pool_size or len(scores)):.2f} training runs."]
    return lines, tab


def _early_stopping(args: argparse.Namespace, table) -> tuple[list[str], Table]:
    """Random search over every curve of the table, with and without learning-curve early stopping."""
    import json as _json

    import pandas as pd

    from archscore.search import TabularEvaluator, search

    curves = pd.read_csv(args.curves)
    curves["final"] = [float(_json.loads(c)[-1]) for c in curves["valid_acc_per_epoch"]]
    test = dict(zip(table["arch"], table[args.report])) if args.report in table.columns else {}
    curves["test"] = [test.get(a, np.nan) for a in curves["arch"]]
    ev = TabularEvaluator(curves[["arch", "final", "test", "valid_acc_per_epoch"]], target="final", report="test", space="nb201",
                          curve="valid_acc_per_epoch")
    n = len(curves)
    total = n * len(_json.loads(curves["valid_acc_per_epoch"].iat[0]))
    best_valid, best_test = curves["final"].max(), curves.loc[curves["final"].idxmax(), "test"]
    lines = [f"Random search over all {n} cells of `{args.curves.name}` (full curves), {args.es_seeds} random orders; a run stops "
             f"a cell when `probability_of_improvement` (combo) of beating the best final validation accuracy so far is below "
             f"{args.es_threshold}, checked every {args.es_every} epochs.",
             f"Full training of every cell: {total} epochs; best final validation {best_valid:.2f} (test {best_test:.2f})."]
    tab = Table(["order seed", "epochs spent", "saved", "best valid found", "regret (valid)", "test of choice", "seconds"])
    for seed in range(args.es_seeds):
        t0 = time.perf_counter()
        res = search("nb201", "random", ev, budget=n, seed=seed, early_stopping=args.es_threshold, check_every=args.es_every,
                     progress=False)
        spent = float(res.history["epochs"].sum())
        tab.add(seed, f"{spent:.0f}", f"{1 - spent / total:.0%}", f"{res.best.value:.2f}", f"{best_valid - res.best.value:.2f}",
                f"{res.best.report:.2f}", f"{time.perf_counter() - t0:.0f}")
        logger.info("early stopping seed %d: %.0f of %d epochs, best %.2f", seed, spent, total, res.best.value)
    return lines, tab


def _at_budget(rec: dict, b: int) -> tuple[float, float] | None:
    """(test acc of the best-by-validation, queries) after budget ``b`` of a run, None if the run is shorter."""
    curve = rec["best_report"]
    if rec["budget"] == b:
        return curve[-1], rec["n_rows"]
    if rec["budget"] < b or len(curve) < b:
        return None
    return curve[b - 1], b


def _beyond_at(rec: dict, b: int) -> int:
    """Cells outside the pool a run had ranked by the pool's estimator before its query number ``b``."""
    return max((n for done_q, n in rec.get("pool_beyond_at", []) if done_q < b), default=0)


def _summarise(done: dict, strategies: list[str], budgets: list[int], optimum: float, proxy_seconds: float | None) -> list[dict]:
    rows = []
    for name in strategies:
        recs = [r for (s, _, _), r in done.items() if s == name]
        for b in budgets:
            vals, fits, secs, beyond = [], [], [], []
            for seed in sorted({r["seed"] for r in recs}):
                cand = [r for r in recs if r["seed"] == seed and (r["budget"] == b or r["budget"] >= b)]
                cand.sort(key=lambda r: (r["budget"] != b, r["budget"]))
                got = _at_budget(cand[0], b) if cand else None
                if got is None or not np.isfinite(got[0]):
                    continue
                vals.append(got[0])
                frac = min(1.0, b / cand[0]["budget"])
                fits.append(cand[0]["surrogate_seconds"] * frac)
                secs.append(cand[0]["pool_cells"])
                beyond.append(_beyond_at(cand[0], b))
            if not vals:
                continue
            v = np.asarray(vals)
            pool_cells = int(np.mean(secs)) if secs else 0
            extra = float(np.mean(beyond)) if pool_cells else 0.0
            rows.append({"strategy": name, "budget": b, "runs": len(v), "mean_test": v.mean(), "std_test": v.std(ddof=1) if len(v) > 1 else 0.0,
                         "frac_optimum": float(np.mean(v >= optimum - 1e-9)), "archs_trained": b,
                         "surrogate_s": float(np.mean(fits)) if fits else 0.0, "pool_cells": pool_cells, "beyond_pool": extra,
                         "proxy_s": (pool_cells + extra) * proxy_seconds if (pool_cells and proxy_seconds) else (np.nan if pool_cells else 0.0)})
    return rows


def _report(frame, args, title: str, optimum: float, best_by_target: float, es, plotted: bool, pool_note: str | None,
            cost=None) -> Report:
    report = Report(f"Search on {title}: {args.report} of the best by {args.target} vs queries",
                    command_line(args, "archscore bench search"), settings_from_args(args))
    tab = Table(["strategy", "budget", "runs", args.report, "optimum", "archs trained", "surrogate s", "pool", "beyond pool", "proxy s"])
    for r in frame.itertuples():
        proxy = "" if not r.pool_cells else ("n/a" if not np.isfinite(r.proxy_s) else f"{r.proxy_s:.0f}")
        tab.add(r.strategy, r.budget, r.runs, f"{r.mean_test:.2f} ± {r.std_test:.2f}", f"{r.frac_optimum:.2f}", r.archs_trained,
                f"{r.surrogate_s:.1f}", r.pool_cells or "", f"{r.beyond_pool:.0f}" if r.pool_cells else "", proxy)
    report.section(
        "Best found vs queries",
        f"`{args.target}` guides the search; `{args.report}` of the best-by-`{args.target}` architecture queried so far is reported "
        f"(table optimum {optimum:.2f}; the best-by-`{args.target}` architecture of the whole table: {best_by_target:.2f}).",
        f"`{args.report}`: mean ± std over the runs (seeds 0..runs-1); `optimum`: fraction of runs whose choice is the table's best "
        f"`{args.report}`; `archs trained`: queries; `surrogate s`: mean surrogate fit+predict seconds per run up to that budget.",
        *(["`pool`: proxy-scored architectures a `+pool` run ranks (zc:ensemble over the score files) before its first query; "
           "`beyond pool`: mean cells outside its pool a run had ranked by the same estimator up to that budget (local search's "
           "neighbours, scored live with `--live-scores`); `proxy s`: the scoring seconds of both at `--proxy-seconds` per "
           "architecture, as one run alone would spend them (the benchmark computes each cell once, for every seed).",
           pool_note] if pool_note else []),
        table=tab)
    if plotted:
        report.section("Plot", f"![test accuracy vs queries]({args.plot})",
                       f"`{args.plot}`: mean over seeds with a ±1 std band, one line per strategy (copy it beside this page).")
    if cost is not None:
        report.section("Proxy cost in training runs", *cost[0], table=cost[1])
    if es is not None:
        report.section("Learning-curve early stopping", *es[0], table=es[1])
    return report


def _plot(done: dict, strategies: list[str], budgets: list[int], path: Path, ylim: tuple[float, float], report: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in strategies:
        curves = [r["best_report"] for (s, _, _), r in done.items() if s == name and r["budget"] == max(x["budget"] for (s2, _, _), x in done.items() if s2 == name)]
        if not curves:
            continue
        n = min(len(c) for c in curves)
        arr = np.asarray([c[:n] for c in curves], dtype=float)
        x = np.arange(1, n + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # queries before any success are NaN in every run
            m, sd = np.nanmean(arr, axis=0), np.nanstd(arr, axis=0)
        ax.plot(x, m, label=f"{name} ({len(curves)} runs)")
        ax.fill_between(x, m - sd, m + sd, alpha=0.15)
    ax.set_xscale("log")
    ax.set_xticks(budgets)
    ax.set_xticklabels([str(b) for b in budgets])
    ax.set_ylim(*ylim)
    ax.set_xlabel("queries (architectures trained)")
    ax.set_ylabel(f"{report} of the best by the search's target")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
