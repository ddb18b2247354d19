"""Leave-one-task-out transfer: the ``transfer`` predictor vs a target-only surrogate and source-task rankings.

For each benchmark family (TransNAS-Bench-101 micro or macro from the
NAS-Bench-Suite-Zero files; NAS-Bench-Graph's 9 datasets through the
``nas-bench-graph`` package) every task is held out in turn; the other tasks
are the sources (all their architectures and values). For each split seed and
number ``n`` of target labels, ``n`` target architectures are drawn at random
as the labelled set and the rest of the pool is the test set. Methods:

* ``transfer``: ``create_estimator("transfer")`` fitted on the ``n`` labels with ``sources=``;
* ``surrogate``: ``create_estimator("surrogate")`` on the ``n`` labels alone (baseline a);
* ``best_source_by_labels``: rank by the one source task whose values agree best (Kendall) with the ``n`` labels (baseline b);
* ``best_source_oracle``: the source whose ranking is best on the test set itself (baseline b in hindsight; not a method).

Reported: Kendall's tau on the test set, mean over seeds, per held-out task and ``n``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from archscore.base import create_estimator
from archscore.bench.report import Report, Table, command_line, publish, settings_from_args
from archscore.data import resolve_data_file
from archscore.metrics import kendall
from archscore.naslib import load_naslib_zc

logger = logging.getLogger(__name__)

TNB101_TASKS = ("class_scene", "class_object", "jigsaw", "room_layout", "segmentsemantic", "normal", "autoencoder")
NBGRAPH_DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")
FAMILIES = ("tnb101_micro", "tnb101_macro", "nbgraph")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None, help="shared data folder (with naslib/); default $ARCHSCORE_DATA")
    parser.add_argument("--families", default="tnb101_micro,tnb101_macro", help=f"comma-separated from {', '.join(FAMILIES)} (default tnb101_micro,tnb101_macro)")
    parser.add_argument("--sizes", default="10,20,50", help="target labels per held-out task (default 10,20,50)")
    parser.add_argument("--seeds", type=int, default=5, help="label draws per task and size, seeds 0..N-1 (default 5)")
    parser.add_argument("--pool", type=int, default=1000,
                        help="NAS-Bench-Graph: pool size, drawn (seed 0) from the architectures all 9 datasets measured")
    parser.add_argument("--out", type=Path, default=None, help="folder for results.md and results.csv (per-split rows); default: print only")


def load_family(family: str, data: Path | None, pool: int = 1000) -> dict[str, tuple[list, np.ndarray]]:
    """``{task: (archs, values)}`` of one benchmark family."""
    if family.startswith("tnb101"):
        kind = family.split("_")[1]
        path = resolve_data_file(data, f"naslib/zc_transbench101_{kind}_dev.json", f"TransNAS-Bench-101 {kind} file")
        out = {}
        for t in TNB101_TASKS:
            archs, _, values = load_naslib_zc(path, task=t)
            out[t] = (archs, values)
        return out
    if family == "nbgraph":
        from nas_bench_graph import light_read

        from archscore.spaces import get_space

        benches = {ds: light_read(ds) for ds in NBGRAPH_DATASETS}
        # proteins holds 2,021 of the 26,206 architectures: the pool is drawn from those every dataset has
        common = sorted(set.intersection(*(set(b) for b in benches.values())))
        rng = np.random.default_rng(0)
        pool_hashes = [common[i] for i in np.sort(rng.choice(len(common), size=min(pool, len(common)), replace=False))]
        space = get_space("nbgraph")
        archs = [space.decode_hash(h) for h in pool_hashes]
        return {ds: (archs, np.array([float(b[h]["valid_perf"]) for h in pool_hashes])) for ds, b in benches.items()}
    raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")


def run_family(tasks: dict[str, tuple[list, np.ndarray]], sizes: list[int], seeds: int, family: str) -> pd.DataFrame:
    rows = []
    for target, (t_archs, t_vals) in tasks.items():
        sources = {s: v for s, v in tasks.items() if s != target}
        lookup = {s: {a.spec: float(x) for a, x in zip(sa, sv)} for s, (sa, sv) in sources.items()}
        for n in sizes:
            for seed in range(seeds):
                rng = np.random.default_rng(1000 * seed + n)
                perm = rng.permutation(len(t_archs))
                tr, te = perm[:n], perm[n:]
                tr_a, te_a = [t_archs[i] for i in tr], [t_archs[i] for i in te]
                y_tr, y_te = t_vals[tr], t_vals[te]
                src_tr = {s: np.array([lookup[s].get(a.spec, np.nan) for a in tr_a]) for s in sources}
                src_te = {s: np.array([lookup[s].get(a.spec, np.nan) for a in te_a]) for s in sources}
                t0 = time.perf_counter()
                tf = create_estimator("transfer", seed=seed).fit(tr_a, y_tr, sources=sources)
                res = {"transfer": kendall(y_te, tf.predict(te_a))}
                t_transfer = time.perf_counter() - t0
                res["surrogate"] = kendall(y_te, create_estimator("surrogate", seed=seed).fit(tr_a, y_tr).predict(te_a))
                ok = {s: np.isfinite(src_te[s]).all() and np.isfinite(src_tr[s]).all() for s in sources}
                by_labels = {s: kendall(y_tr, src_tr[s]) for s in sources if ok[s]}
                on_test = {s: kendall(y_te, src_te[s]) for s in sources if ok[s]}
                if by_labels:
                    best = max(by_labels, key=lambda s: by_labels[s])
                    res["best_source_by_labels"] = on_test[best]
                    res["best_source_oracle"] = max(on_test.values())
                for method, tau in res.items():
                    rows.append({"family": family, "target": target, "n": n, "seed": seed, "method": method, "kendall": tau,
                                 "transfer_s": t_transfer})
        logger.info("%s: held out %s done", family, target)
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    table = results.pivot_table(index=["family", "target", "n"], columns="method", values="kendall", aggfunc="mean")
    table["margin_vs_both"] = table["transfer"] - table[["surrogate", "best_source_by_labels"]].max(axis=1)
    return table.round(3)


def win_lines(table: pd.DataFrame, margin: float = 0.03) -> list[str]:
    """Per family and number of labels: the held-out tasks where ``transfer`` beats both baselines by ``margin``."""
    lines = []
    for (family, n), part in table.groupby(level=["family", "n"], sort=True):
        win = (part["margin_vs_both"] >= margin).to_numpy()
        lost = ", ".join(str(t) for t in part.index.get_level_values("target")[~win]) or "none"
        lines.append(f"{family}, {n} labels: transfer beats both baselines by >= {margin:g} Kendall on {int(win.sum())}/{len(part)} "
                     f"held-out tasks (not on: {lost})")
    return lines


def run(args: argparse.Namespace) -> int:
    sizes = [int(s) for s in str(args.sizes).split(",")]
    frames = []
    for family in [f.strip() for f in args.families.split(",") if f.strip()]:
        tasks = load_family(family, Path(args.data) if args.data else None, pool=args.pool)
        frames.append(run_family(tasks, sizes, args.seeds, family))
    results = pd.concat(frames, ignore_index=True)
    table = summarize(results)
    report = Report("archscore bench transfer", command_line(args, "archscore bench transfer"), settings_from_args(args))
    methods = list(table.columns)
    rows = Table(["family", "target", "labels"] + methods, left=2)
    for (family, target, n), r in table.iterrows():
        rows.add(family, target, n, *(f"{r[m]:+.3f}" if m == "margin_vs_both" else f"{r[m]:.3f}" for m in methods))
    lines = win_lines(table)
    report.section(f"Kendall on the unlabelled target architectures (mean over {args.seeds} seeds)", *lines, table=rows)
    publish(report, args.out)
    if args.out is not None:
        results.to_csv(Path(args.out) / "results.csv", index=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
