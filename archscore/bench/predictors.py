"""Surrogate predictors x encodings on NB201 and NAS-Bench-Graph (White et al. 2021 protocol).

Protocol of White, Zela, Ru, Liu & Hutter, "How Powerful are Performance
Predictors in Neural Architecture Search?" (NeurIPS 2021), as also used by
NAS-Bench-Suite-Zero: for each random split, 1,000 test architectures are
drawn, then training sets of each size from the remaining architectures
(nested: the first ``n`` of one permutation, so sizes share a test set within
a split); each predictor is fitted on the training set and ranks the test set.
Reported: Spearman and Kendall (mean and std over splits) and fit + predict
time (a predictor that outputs a constant gets correlation 0 on that split,
flagged in the tables) per predictor x encoding x training size, plus a PNG plot of Kendall vs
training size.

Writes ``OUT/results.csv`` (one row per split), ``OUT/summary.csv``,
``OUT/results.md`` (the printed tables with the command line and settings)
and ``OUT/kendall.png``.

Tasks: ``nb201_200ep`` (NB201 CIFAR-10 ``valid_acc_200ep``, connected cells
only: the 341 disconnected cells are trivially last and would inflate
correlations), ``nb201_12ep`` (``valid_acc_12ep``, connected cells), and
``nbgraph_<dataset>`` (NAS-Bench-Graph ``valid_perf``; all its architectures
are connected). With ``--scores FILE`` (a CSV indexed by arch string/key, or a
NAS-Bench-Suite-Zero JSON for NB201) the pool is restricted to architectures
that have a complete, finite score record, which are passed as ``scores=`` to encodings such as
``graph_features+zc``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from archscore.base import ESTIMATORS, create_estimator
from archscore.bench.report import Report, Table, command_line, publish, render_markdown, settings_from_args
from archscore.bench.suite_zero import BENCH_SPACES, complete_rows, load_task, resolve_tasks, space_file
from archscore.benchmarks import load_nasbench_graph, load_nasbench_suite_zero, load_nb201
from archscore.encodings import lookup_scores
from archscore.metrics import kendall, spearman

logger = logging.getLogger(__name__)

DEFAULT_SIZES = (10, 20, 50, 100, 200, 1000)
#: ``predictor:encoding`` specs run by default (encoding "-" = the predictor's own default).
#: ``@N`` caps the training sizes of a spec: GP, MLP ensemble and GNN fits at 1,000 architectures take
#: 10-60 s each on one CPU core, too slow for the 15-minute budget of the default run.
DEFAULT_PREDICTORS = (
    "surrogate:-",
    "xgb:onehot",
    "xgb:path",
    "xgb:graph_features",
    "rf:graph_features",
    "gp:graph_features@200",
    "mlp_ensemble:path@200",
    "gnn:-@200",
)
#: Defaults on the NAS-Bench-Suite-Zero spaces (``--space`` other than nb201): with and without the recorded proxies
#: as features (also with the one-hot ops by position, which a chain-shaped macro architecture needs: its path
#: encoding is one path, i.e. the architecture's identity), and XGBoost on the proxies alone (Suite-Zero's predictor).
SPACE_PREDICTORS = (
    "surrogate:-",
    "surrogate:graph_features+path+zc",
    "surrogate:graph_features+path+onehot+zc",
    "xgb:onehot",
    "xgb:onehot+zc",
    "xgb:zc",
)
SPACE_SIZES = (10, 20, 50, 100)
#: The baseline of the zc comparison (Suite-Zero's XGBoost on the proxies alone) and the size it is made at.
ZC_BASELINE = ("xgb", "zc")
ZC_SIZE = 100
TASKS = ("nb201_200ep", "nb201_12ep", "nbgraph_cora", "nbgraph_citeseer", "nbgraph_pubmed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``archscore bench predictors``."""
    parser.add_argument("--data", type=Path, default=None, help="shared data folder (with nb201/) or the NB201 CSV (default: $ARCHSCORE_DATA)")
    parser.add_argument("--space", choices=BENCH_SPACES, default="nb201",
                        help="nb201 (default): the tasks below; nb101, nb301, tnb101_micro, tnb101_macro: the architectures of "
                             "NAS-Bench-Suite-Zero's development file (DATA/naslib/) with complete records, their val_accuracy, "
                             "and the recorded proxies as scores= for zc encodings")
    parser.add_argument("--tasks", default=None,
                        help=f"comma-separated tasks: nb201 from {', '.join(TASKS)} (default nb201_200ep); other spaces: "
                             "tasks of the file (default: all)")
    parser.add_argument("--zc-file", type=Path, default=None, help="--space other than nb201: the Suite-Zero JSON (default: DATA/naslib/...)")
    parser.add_argument("--predictors", default=None,
                        help="comma-separated predictor:encoding[@max_n] specs ('-' = the predictor's default encoding; "
                             f"@max_n skips larger training sizes); default nb201: {','.join(DEFAULT_PREDICTORS)}; "
                             f"other spaces: {','.join(SPACE_PREDICTORS)}")
    parser.add_argument("--sizes", default=None,
                        help=f"comma-separated training-set sizes (default nb201: {','.join(map(str, DEFAULT_SIZES))}; "
                             f"other spaces: {','.join(map(str, SPACE_SIZES))})")
    parser.add_argument("--splits", type=int, default=10, help="random splits (seeds SEED_OFFSET .. SEED_OFFSET+SPLITS-1)")
    parser.add_argument("--seed-offset", type=int, default=0, help="first split seed")
    parser.add_argument("--test-size", type=int, default=None,
                        help="test architectures per split (default nb201: 1000; other spaces: every architecture of the pool "
                             "outside the largest training set)")
    parser.add_argument("--scores", default=None, help="proxy scores for zc encodings: CSV indexed by arch string/key (archscore score), or Suite-Zero JSON; several files comma-separated")
    parser.add_argument("--scores-dataset", default="cifar10", help="dataset inside a Suite-Zero JSON")
    parser.add_argument("--out", type=Path, default=None, help="folder for results.csv, summary.csv, results.md and kendall.png (default: print only)")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads")
    parser.add_argument("--no-progress", action="store_true", help="disable progress bars")


def _load_task(task: str, data: Path | None) -> tuple[list, np.ndarray]:
    if task.startswith("nb201_"):
        target = {"nb201_200ep": "valid_acc_200ep", "nb201_12ep": "valid_acc_12ep"}.get(task)
        if target is None:
            raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
        bench = load_nb201(data)  # data None: $ARCHSCORE_DATA
        keep = bench.table["connected"].to_numpy()
        return [a for a, k in zip(bench.archs, keep) if k], bench.table[target].to_numpy()[keep]
    if task.startswith("nbgraph_"):
        bench = load_nasbench_graph(task[len("nbgraph_"):])
        return bench.archs, bench.table["valid_perf"].to_numpy()
    raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def _load_scores(path: str, dataset: str) -> dict:
    """Proxy scores from one or more comma-separated files (later files win on a repeated architecture)."""
    scores: dict = {}
    for part in [q.strip() for q in str(path).split(",") if q.strip()]:
        p = Path(part)
        if p.suffix == ".json":
            scores.update(load_nasbench_suite_zero(p, dataset=dataset).scores)
            continue
        table = pd.read_csv(p)
        # index by the arch string column when there is one (archscore score / score_archs CSVs), else the first column
        table = table.set_index("arch" if "arch" in table.columns else table.columns[0])
        cols = [c for c in table.columns if c != "index" and pd.api.types.is_numeric_dtype(table[c])]
        scores.update({str(k): {c: float(row[c]) for c in cols if np.isfinite(row[c])} for k, row in table.iterrows()})
    return scores


def _parse_specs(text: str) -> list[tuple[str, str | None, int | None]]:
    specs = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        item, _, cap = item.partition("@")
        name, _, enc = item.partition(":")
        ESTIMATORS.entry(name)  # fail early with close matches
        try:
            max_n = int(cap) if cap else None
        except ValueError:
            raise ValueError(f"malformed size cap {cap!r} in predictor spec {item!r}; expected predictor:encoding@N") from None
        specs.append((name, None if enc in ("", "-") else enc, max_n))
    if not specs:
        raise ValueError("--predictors is empty")
    return specs


def split_indices(n_pool: int, test_size: int, max_train: int, seed: int, groups: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(train_pool, test)`` row indices of one split; training sets are prefixes of ``train_pool``.

    Without ``groups``: one permutation, its first ``test_size`` rows test, the next ``max_train`` the
    training pool. With ``groups`` (one label per row, e.g. the isomorphism key
    :attr:`~archscore.arch.Arch.key`): the groups in random order fill the training pool until it
    holds ``max_train`` rows (the last group whole), and only the remaining groups are tested, at
    most ``test_size`` rows; so no network is both trained on and tested.
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        perm = rng.permutation(n_pool)
        return perm[test_size: test_size + max_train], perm[:test_size]
    codes = pd.factorize(pd.Series(list(groups), dtype=object))[0]
    if len(codes) != n_pool:
        raise ValueError(f"groups has {len(codes)} labels for {n_pool} architectures")
    rank = np.empty(codes.max() + 1, dtype=int)
    rank[rng.permutation(len(rank))] = np.arange(len(rank))
    rows = np.argsort(rank[codes], kind="stable")  # the groups in random order, each group's rows in file order
    ends = np.cumsum(np.bincount(rank[codes]))  # rows taken up to the end of each group, in that order
    k = int(np.searchsorted(ends, max_train))  # the first group whose end reaches max_train
    cut = int(ends[k]) if k < len(ends) else len(rows)
    test = rows[cut:][:test_size]
    if len(test) == 0:
        raise ValueError(f"no architecture left to test after a training pool of {max_train} (groups of duplicates are kept whole)")
    return rows[:cut], test


def run_protocol(archs: list, y: np.ndarray, specs: list[tuple], sizes: list[int], splits: int,
                 seed_offset: int = 0, test_size: int = 1000, scores: Any = None, progress: bool = True, task: str = "",
                 groups: Any = None) -> pd.DataFrame:
    """Run the split protocol; one row per (split, size, predictor, encoding).

    ``specs`` holds ``(predictor, encoding or None)`` or ``(predictor, encoding, max_n)`` tuples;
    ``groups`` keeps rows with one label on one side of every split (:func:`split_indices`).
    """
    n_pool = len(archs)
    if n_pool < test_size + max(sizes):
        raise ValueError(f"task {task!r} has {n_pool} architectures, fewer than test size {test_size} + largest training size {max(sizes)}")
    ctx = {} if scores is None else {"scores": scores}
    rows = []
    specs = [tuple(sp) + (None,) * (3 - len(sp)) for sp in specs]
    bar = tqdm(total=splits * sum(1 for n in sizes for sp in specs if sp[2] is None or n <= sp[2]), desc=task or "bench", disable=not progress)
    for s in range(seed_offset, seed_offset + splits):
        train_pool, test = split_indices(n_pool, test_size, max(sizes), s, groups)
        test_archs, y_test = [archs[i] for i in test], y[test]
        for n in sizes:
            train = train_pool[:n]
            train_archs, y_train = [archs[i] for i in train], y[train]
            for name, enc, max_n in specs:
                if max_n is not None and n > max_n:
                    continue
                params = {"seed": s}
                if enc is not None:
                    params["encoding"] = enc
                est = create_estimator(name, **params)
                t0 = time.perf_counter()
                est.fit(train_archs, y_train, **ctx)
                t1 = time.perf_counter()
                pred = est.predict(test_archs, **ctx)
                t2 = time.perf_counter()
                constant = bool(np.all(pred == pred[0]))
                if constant:
                    # e.g. an MLP ensemble whose ReLUs all died: no ranking at all, scored as tau = 0
                    logger.warning("%s (%s) predicted a constant on split %d, n=%d: correlations set to 0", name, enc, s, n)
                rows.append({"task": task, "predictor": name, "encoding": enc or str(est.get_params().get("encoding") or "graph"),
                             "n_train": n, "split": s, "kendall": 0.0 if constant else kendall(y_test, pred),
                             "spearman": 0.0 if constant else spearman(y_test, pred), "constant": constant,
                             "fit_s": t1 - t0, "predict_s": t2 - t1})
                bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over splits per task x predictor x encoding x training size."""
    g = results.groupby(["task", "predictor", "encoding", "n_train"], sort=False)
    out = g.agg(kendall_mean=("kendall", "mean"), kendall_std=("kendall", "std"), spearman_mean=("spearman", "mean"),
                spearman_std=("spearman", "std"), fit_s=("fit_s", "mean"), predict_s=("predict_s", "mean"), splits=("split", "nunique"),
                n_constant=("constant", "sum"))
    return out.reset_index()


def build_report(summary: pd.DataFrame, command: str, settings: dict[str, Any], *, title: str = "archscore bench predictors",
                 zc_size: int | None = None) -> Report:
    """One Kendall and one Spearman table per task (rows predictor x encoding, columns training size).

    With ``zc_size``, first a table of every zc-encoding spec against XGBoost on the proxies alone at that training size.
    """
    report = Report(title, command, settings)
    compare = zc_comparison(summary, zc_size) if zc_size is not None else None
    if compare is not None:
        report.section(f"Recorded proxies as features, {zc_size} training architectures: Kendall vs "
                       f"{ZC_BASELINE[0]} on the proxies alone ({ZC_BASELINE[0]}:{ZC_BASELINE[1]}, NAS-Bench-Suite-Zero's predictor), "
                       "mean over splits", table=compare)
    for task, sub in summary.groupby("task", sort=False):
        sizes = sorted(sub["n_train"].unique())
        for metric in ("kendall", "spearman"):
            table = Table(["predictor", "encoding"] + [f"n={n}" for n in sizes] + ["fit+predict s (largest n)"], left=2)
            for (pred, enc), rows in sub.groupby(["predictor", "encoding"], sort=False):
                r = rows.set_index("n_train")
                cells = [f"{r.loc[n, metric + '_mean']:.3f} ± {r.loc[n, metric + '_std']:.3f}" if n in r.index else "" for n in sizes]
                big = r.loc[max(r.index)]
                note = f" ({int(rows['n_constant'].sum())} constant)" if rows["n_constant"].sum() else ""
                table.add(f"{pred}{note}", enc, *cells, f"{big['fit_s'] + big['predict_s']:.2f}")
            report.section(f"{task}: {metric.capitalize()} (mean ± std over {int(sub['splits'].max())} splits)", table=table)
    return report


def to_markdown(summary: pd.DataFrame) -> str:
    """The tables of :func:`build_report` as Markdown, without the command and settings header."""
    return render_markdown(build_report(summary, "", {}), header=False)


def plot(summary: pd.DataFrame, path: Path) -> None:
    """Kendall vs training size (log x), one panel per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(summary["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.5), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        sub = summary[summary["task"] == task]
        for (pred, enc), rows in sub.groupby(["predictor", "encoding"], sort=False):
            rows = rows.sort_values("n_train")
            ax.errorbar(rows["n_train"], rows["kendall_mean"], yerr=rows["kendall_std"], marker="o", capsize=2, label=f"{pred} ({enc})")
        ax.set_xscale("log")
        ax.set_xlabel("training architectures")
        ax.set_ylabel("Kendall tau (test)")
        ax.set_title(task)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _suite_zero_tasks(args: argparse.Namespace):
    """``(task, archs, y, scores)`` per task of a Suite-Zero space: the complete, finite records of the file."""
    path = space_file(args.space, args.data, args.zc_file)
    for task in resolve_tasks(args.tasks, path):
        data, table = load_task(args.space, path, task)
        keep = complete_rows(table)
        logger.info("task %s: %d of %d architectures have a finite value and every proxy", task, int(keep.sum()), len(keep))
        archs = [a for a, k in zip(data.archs, keep) if k]
        names = table.index[keep]
        scores = {name: data.scores[name] for name in names}
        yield task, archs, data.values[keep], scores


def _nb201_tasks(args: argparse.Namespace):
    """``(task, archs, y, scores)`` per NB201 / NAS-Bench-Graph task (``--scores`` restricts the pool)."""
    scores = _load_scores(args.scores, args.scores_dataset) if args.scores else None
    for task in filter(None, (t.strip() for t in (args.tasks or "nb201_200ep").split(","))):
        archs, y = _load_task(task, args.data)
        if scores is not None:
            # complete records only: every proxy of the file finite (e.g. NASWOT is -inf on a singular kernel)
            names = set().union(*(r.keys() for r in scores.values()))
            keep = [i for i, a in enumerate(archs) if set(lookup_scores(a, scores) or ()) >= names]
            logger.info("task %s: %d of %d architectures have proxy scores", task, len(keep), len(archs))
            archs, y = [archs[i] for i in keep], y[keep]
        yield task, archs, y, scores


def zc_comparison(summary: pd.DataFrame, size: int = ZC_SIZE) -> Table | None:
    """At ``size`` training architectures: Kendall of each spec using the proxies with another encoding vs XGBoost on the proxies alone."""
    sub = summary[summary["n_train"] == size]
    base = sub[(sub["predictor"] == ZC_BASELINE[0]) & (sub["encoding"] == ZC_BASELINE[1])].set_index("task")["kendall_mean"]
    others = sub[sub["encoding"].str.contains("zc") & ~((sub["predictor"] == ZC_BASELINE[0]) & (sub["encoding"] == ZC_BASELINE[1]))]
    if base.empty or others.empty:
        return None
    table = Table(["task", "predictor", "encoding", "Kendall", f"{ZC_BASELINE[0]}:{ZC_BASELINE[1]}", "margin"], left=3)
    for _, r in others.iterrows():
        if r["task"] in base.index:
            b = base[r["task"]]
            table.add(r["task"], r["predictor"], r["encoding"], f"{r['kendall_mean']:.3f}", f"{b:.3f}", f"{r['kendall_mean'] - b:+.3f}")
    return table


def run(args: argparse.Namespace) -> int:
    """Entry point of ``archscore bench predictors``."""
    torch.set_num_threads(max(1, args.threads))
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    nb201 = args.space == "nb201"
    if args.sizes is None:
        args.sizes = ",".join(map(str, DEFAULT_SIZES if nb201 else SPACE_SIZES))
    if args.predictors is None:
        args.predictors = ",".join(DEFAULT_PREDICTORS if nb201 else SPACE_PREDICTORS)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not sizes or min(sizes) < 2:
        raise ValueError(f"--sizes must list training sizes >= 2, got {args.sizes!r}")
    if args.splits < 1:
        raise ValueError(f"--splits must be >= 1, got {args.splits}")
    if args.test_size is not None and args.test_size < 1:
        raise ValueError(f"--test-size must be >= 1, got {args.test_size}")
    if not nb201 and args.scores:
        raise ValueError(f"--scores is for nb201; --space {args.space} uses the proxies recorded in its Suite-Zero file")
    specs = _parse_specs(args.predictors)
    progress = not args.no_progress and sys.stderr.isatty()
    out = args.out
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    frames = []
    pools = {}
    grouped = {}
    t_start = time.perf_counter()
    for task, archs, y, scores in (_nb201_tasks(args) if nb201 else _suite_zero_tasks(args)):
        t0 = time.perf_counter()
        pools[task] = len(archs)
        test_size = args.test_size if args.test_size is not None else (1000 if nb201 else len(archs) - max(sizes))
        if test_size < 1:
            raise ValueError(f"task {task!r} has {len(archs)} architectures: none left to test after {max(sizes)} training ones")
        keys = [a.key for a in archs]
        n_networks = len(set(keys))
        groups = keys if n_networks < len(keys) else None  # isomorphic duplicates stay on one side of each split
        if groups is not None:
            grouped[task] = n_networks
            logger.info("%s: %d records are %d distinct networks; splits keep each network's records together",
                        task, len(keys), n_networks)
        res = run_protocol(archs, y, specs, sizes, args.splits, args.seed_offset, test_size, scores, progress, task, groups)
        frames.append(res)
        logger.info("%s: %d architectures in the pool, %.0f s", task, len(archs), time.perf_counter() - t0)
        if out is not None:
            pd.concat(frames).to_csv(out / "results.csv", index=False)
    results = pd.concat(frames, ignore_index=True)
    summary = summarize(results)
    settings = settings_from_args(args, pool_sizes=pools, **({"split_by_network": grouped} if grouped else {}), wall_s=round(time.perf_counter() - t_start))
    title = "archscore bench predictors" + ("" if nb201 else f" --space {args.space}")
    md = publish(build_report(summary, command_line(args, "archscore bench predictors"), settings, title=title,
                              zc_size=None if nb201 else ZC_SIZE), out)
    if out is not None:
        results.to_csv(out / "results.csv", index=False)
        summary.to_csv(out / "summary.csv", index=False)
        try:
            plot(summary, out / "kendall.png")
        except ImportError:
            logger.warning("matplotlib is not installed: no plot (pip install 'archscore[plot]')")
        print(f"\nwrote {md}, {out / 'results.csv'}, summary.csv, kendall.png")
    return 0
