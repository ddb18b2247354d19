"""Loaders for tabular NAS benchmarks: architectures plus a table of targets.

Loaders take explicit paths; nothing is downloaded and nothing is read from
the current directory. :func:`default_data_dir` finds the shared data folder
through ``$ARCHSCORE_DATA`` for callers (CLI, tests) that want a default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from archscore.arch import Arch
from archscore.spaces import get_space

NB201_CSV = "nb201_cifar10.csv"
NB201_TARGETS = ("valid_acc_200ep", "test_acc_200ep", "train_acc_200ep", "valid_acc_12ep", "test_acc_12ep")
NBGRAPH_DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")


class BenchmarkData(NamedTuple):
    """Architectures and their targets, row ``i`` of ``table`` describing ``archs[i]``."""

    archs: list[Arch]
    table: pd.DataFrame


def default_data_dir() -> Path | None:
    """``$ARCHSCORE_DATA`` if set and existing, else ``None``."""
    env = os.environ.get("ARCHSCORE_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    return None


def _resolve_file(path: str | os.PathLike, default_name: str, subdir: str) -> Path:
    p = Path(path).expanduser()
    if p.is_dir():
        for candidate in (p / default_name, p / subdir / default_name):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"no {default_name} in {p} or {p / subdir}")
    if not p.is_file():
        raise FileNotFoundError(f"benchmark file not found: {p}")
    return p


def load_nb201(path: str | os.PathLike) -> BenchmarkData:
    """Load the NAS-Bench-201 CIFAR-10 table.

    Parameters
    ----------
    path : path-like
        The CSV file (columns ``index, arch`` and target columns such as
        ``valid_acc_200ep``), or a folder holding ``nb201_cifar10.csv``
        directly or under ``nb201/``. Other CSVs of the same shape (the
        learning-curve and reference-score files) load too.

    Returns
    -------
    BenchmarkData
        ``archs`` in the file's row order and ``table``, the file's columns
        indexed by the benchmark's ``index``, plus ``connected`` (bool) and
        ``key`` (the isomorphism key of :class:`~archscore.arch.Arch`).
    """
    csv = _resolve_file(path, NB201_CSV, "nb201")
    table = pd.read_csv(csv)
    for col in ("index", "arch"):
        if col not in table.columns:
            raise ValueError(f"{csv} has no {col!r} column; columns are {list(table.columns)}")
    space = get_space("nb201")
    archs = [space.from_string(s) for s in table["arch"]]
    table = table.set_index("index", drop=True)
    table["connected"] = [a.is_connected() for a in archs]
    table["key"] = [a.key for a in archs]
    return BenchmarkData(archs, table)


def load_nasbench_graph(dataset: str) -> BenchmarkData:
    """Load NAS-Bench-Graph "light" for one dataset through the ``nas-bench-graph`` package.

    Parameters
    ----------
    dataset : str
        One of :data:`NBGRAPH_DATASETS` (``"cora"``, ``"citeseer"``, ``"pubmed"``...).

    Returns
    -------
    BenchmarkData
        Archs in space ``"nbgraph"``; table columns ``valid_perf``, ``perf``
        (test), ``latency``, ``para`` (parameters, millions), indexed by the
        benchmark's architecture hash.
    """
    from archscore.registry import unknown_choice_error

    if dataset not in NBGRAPH_DATASETS:
        raise unknown_choice_error("NAS-Bench-Graph dataset", dataset, NBGRAPH_DATASETS)
    try:
        from nas_bench_graph import light_read
    except ImportError as exc:  # optional dependency
        raise ImportError("load_nasbench_graph needs the nas-bench-graph package: pip install 'archscore[bench]'") from exc
    bench = light_read(dataset)
    space = get_space("nbgraph")
    hashes = sorted(bench)
    archs = [space.decode_hash(h) for h in hashes]
    table = pd.DataFrame.from_records([{k: float(v) for k, v in bench[h].items()} for h in hashes], index=pd.Index(hashes, name="hash"))
    table["arch"] = [space.to_string(a) for a in archs]
    return BenchmarkData(archs, table)


__all__ = ["BenchmarkData", "load_nb201", "load_nasbench_graph", "default_data_dir", "NB201_TARGETS", "NBGRAPH_DATASETS"]
