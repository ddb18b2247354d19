"""Loaders for tabular NAS benchmarks: architectures plus a table of targets.

Loaders take a file or a data folder, or None for ``$ARCHSCORE_DATA``
(resolved by :func:`archscore.data.resolve_data_file`); nothing is downloaded
and nothing is read from the current directory.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from archscore.arch import Arch
from archscore.data import resolve_data_file
from archscore.registry import unknown_choice_error
from archscore.spaces import get_space
from archscore.spaces.nb201 import NB201_EDGES

NB201_CSV = "nb201_cifar10.csv"
NB201_TARGETS = ("valid_acc_200ep", "test_acc_200ep", "train_acc_200ep", "valid_acc_12ep", "test_acc_12ep")
NBGRAPH_DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")


class BenchmarkData(NamedTuple):
    """Architectures and their targets, row ``i`` of ``table`` describing ``archs[i]``."""

    archs: list[Arch]
    table: pd.DataFrame


def load_nb201(path: str | os.PathLike | None = None) -> BenchmarkData:
    """Load the NAS-Bench-201 CIFAR-10 table.

    Parameters
    ----------
    path : path-like, optional
        The CSV file (columns ``index, arch`` and target columns such as
        ``valid_acc_200ep``), or a folder holding ``nb201_cifar10.csv``
        directly or under ``nb201/``; None: the data folder ``$ARCHSCORE_DATA``. Other CSVs of the same shape (the
        learning-curve and reference-score files) load too.

    Returns
    -------
    BenchmarkData
        ``archs`` in the file's row order and ``table``, the file's columns
        indexed by the benchmark's ``index``, plus ``connected`` (bool) and
        ``key`` (the isomorphism key of :class:`~archscore.arch.Arch`).
    """
    csv = resolve_data_file(path, f"nb201/{NB201_CSV}", "NB201 table", option="path")
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




# ----------------------------------------------------- NAS-Bench-Suite-Zero
#: NAS-Bench-Suite-Zero's op numbering for NB201 keys (NASLib's order).
SUITE_ZERO_NB201_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
#: NASLib's NB201 edge order of the key's six entries (tensor node pairs); differs from the string's order.
SUITE_ZERO_NB201_EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


class SuiteZeroData(NamedTuple):
    """Architectures, their proxy scores (usable as ``scores=``) and accuracies from a Suite-Zero file."""

    archs: list[Arch]
    scores: dict[str, dict[str, float]]
    accuracies: np.ndarray
    table: pd.DataFrame


def _decode_suite_zero_nb201(key: str) -> Arch:
    digits = [int(t) for t in re.findall(r"-?\d+", str(key))]
    if len(digits) != 6 or any(not 0 <= d < len(SUITE_ZERO_NB201_OPS) for d in digits):
        raise ValueError(f"malformed NAS-Bench-Suite-Zero NB201 key {key!r}; expected a tuple of six op ids in 0..4 like '(4, 0, 3, 1, 4, 3)'")
    by_edge = dict(zip(SUITE_ZERO_NB201_EDGES, (SUITE_ZERO_NB201_OPS[d] for d in digits)))
    return get_space("nb201").from_ops([by_edge[e] for e in NB201_EDGES])


#: Space name -> decoder of Suite-Zero's architecture keys for that space.
SUITE_ZERO_DECODERS = {"nb201": _decode_suite_zero_nb201}


def load_nasbench_suite_zero(path: str | os.PathLike, dataset: str = "cifar10", space: str = "nb201") -> SuiteZeroData:
    """Load a NAS-Bench-Suite-Zero zero-cost score file.

    NAS-Bench-Suite-Zero (Krishnakumar et al., NeurIPS 2022 Datasets and
    Benchmarks) publishes JSON files
    ``{dataset: {arch key: {proxy: {"score": s, "time": t}, ..., "val_accuracy": a}}}``.
    For NB201 the key is the tuple string of six op ids, e.g.
    ``"(4, 0, 3, 1, 4, 3)"``, with ops numbered 0 ``skip_connect``, 1 ``none``,
    2 ``nor_conv_3x3``, 3 ``nor_conv_1x1``, 4 ``avg_pool_3x3`` and edges in the
    order 0->1, 0->2, 0->3, 1->2, 1->3, 2->3 (not the benchmark string's
    order 0->1, 0->2, 1->2, 0->3, 1->3, 2->3). That example is
    ``|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_1x1~2|``.

    Parameters
    ----------
    path : path-like
        The JSON file.
    dataset : str, default="cifar10"
        Top-level key of the file.
    space : str, default="nb201"
        Search space of the keys (one of :data:`SUITE_ZERO_DECODERS`).

    Returns
    -------
    SuiteZeroData
        ``archs`` in file order; ``scores`` ``{space string: {proxy: score}}``
        (pass as ``scores=``); ``accuracies`` (``val_accuracy``, NaN when
        absent); ``table`` indexed by the space string with one column per
        proxy, ``val_accuracy`` and ``suite_zero_key``.
    """
    if space not in SUITE_ZERO_DECODERS:
        raise unknown_choice_error("NAS-Bench-Suite-Zero space", space, tuple(SUITE_ZERO_DECODERS))
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"NAS-Bench-Suite-Zero file not found: {p}")
    with open(p) as fh:
        raw = json.load(fh)
    if not isinstance(raw, dict) or dataset not in raw:
        found = list(raw) if isinstance(raw, dict) else type(raw).__name__
        raise ValueError(f"{p} has no dataset {dataset!r}; top-level keys: {found}")
    decode = SUITE_ZERO_DECODERS[space]
    sp = get_space(space)
    archs, scores, accs, keys = [], {}, [], []
    for key, rec in raw[dataset].items():
        if not isinstance(rec, dict):
            raise ValueError(f"entry {key!r} of {p} is a {type(rec).__name__}, expected {{proxy: {{'score': s, 'time': t}}, 'val_accuracy': a}}")
        arch = decode(key)
        row = {}
        for name, val in rec.items():
            if name == "val_accuracy":
                continue
            if isinstance(val, dict) and "score" in val:
                val = val["score"]
            if isinstance(val, (int, float)) and not isinstance(val, bool):
                row[name] = float(val)
        archs.append(arch)
        keys.append(key)
        scores[sp.to_string(arch)] = row
        accs.append(float(rec.get("val_accuracy", float("nan"))))
    names = [sp.to_string(a) for a in archs]
    table = pd.DataFrame.from_records([scores[n] for n in names], index=pd.Index(names, name="arch"))
    table["val_accuracy"] = accs
    table["suite_zero_key"] = keys
    return SuiteZeroData(archs, scores, np.asarray(accs, dtype=float), table)


__all__ = ["BenchmarkData", "SuiteZeroData", "load_nb201", "load_nasbench_graph", "load_nasbench_suite_zero",
           "NB201_TARGETS", "NBGRAPH_DATASETS"]
