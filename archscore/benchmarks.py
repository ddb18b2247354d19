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


class CurveTable(NamedTuple):
    """Per-epoch learning curves: ``curves[i, e - 1]`` is run ``names[i]``'s value after epoch ``e`` (NaN: not recorded)."""

    names: list[str]
    curves: np.ndarray

    def as_lists(self) -> list[np.ndarray]:
        """One array per run, trailing unrecorded epochs dropped (what the ``curves=`` context takes)."""
        out = []
        for row in self.curves:
            finite = np.flatnonzero(np.isfinite(row))
            out.append(row[: finite[-1] + 1].copy() if finite.size else row[:0].copy())
        return out


CURVE_FORMATS = ("auto", "long", "wide", "list")
_EPOCH_COLUMN = re.compile(r"^(?:epoch|ep|e)?[_ -]?([0-9]+)$", re.IGNORECASE | re.ASCII)


def load_curves(path: str | os.PathLike, *, format: str = "auto", id_col: str | None = None, epoch_col: str = "epoch",
                value_col: str | None = None, column: str | None = None) -> CurveTable:
    """Load per-epoch learning curves from a CSV file, for ``lc:*`` estimators and :func:`~archscore.predictors.extrapolate`.

    Three layouts are read (``format="auto"`` picks the first that fits):

    * ``"long"``: one row per (run, epoch), with an ``epoch_col`` column
      (1-based integers), a run-id column ``id_col`` and a value column
      ``value_col``. Without ``id_col``/``value_col``, the table must have
      exactly one other column each way: the first non-epoch column is the
      id, the remaining numeric column the value.
    * ``"list"``: one row per run with a column ``column`` holding the whole
      curve as a list ``"[30.7, 34.4, ...]"`` (NAS-Bench-201's curves file);
      without ``column``, the one column whose values look like lists.
    * ``"wide"``: one row per run, one column per epoch named ``1, 2, ...``
      (or ``epoch_1``, ``ep1``, ``e1`` ...); the id is ``id_col`` or the
      first non-epoch column, else the row number.

    Epochs not recorded are NaN (the curve estimators skip them). Values
    are taken as they are (percent or fractions; the estimators' ``scale``
    decides).

    Returns
    -------
    CurveTable
        ``names`` (run ids as strings, in file order) and ``curves``, a
        float array of shape ``(n_runs, last_epoch)``.

    Raises
    ------
    ValueError
        For an unknown ``format``, missing columns, epochs that are not
        positive integers, a (run, epoch) pair given twice, or values that
        are not numbers.
    """
    if format not in CURVE_FORMATS:
        raise unknown_choice_error("curve table format", format, CURVE_FORMATS)
    src = Path(path)
    if not src.is_file():
        raise FileNotFoundError(f"curve table not found: {src}")
    table = pd.read_csv(src)
    if table.empty:
        raise ValueError(f"{src} holds no rows")
    cols = [str(c) for c in table.columns]
    table.columns = cols
    if format == "auto":
        if epoch_col in cols:
            format = "long"
        elif column is not None or any(_looks_like_lists(table[c]) for c in cols):
            format = "list"
        else:
            format = "wide"
    if format == "long":
        return _long_curves(table, src, id_col, epoch_col, value_col)
    if format == "list":
        return _list_curves(table, src, id_col, column)
    return _wide_curves(table, src, id_col)


def _looks_like_lists(col: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(col) and col.notna().any() and col.dropna().astype(str).str.strip().str.startswith("[").all()


def _ids(table: pd.DataFrame, src: Path, id_col: str | None, exclude: set[str]) -> list[str]:
    if id_col is not None:
        if id_col not in table.columns:
            raise ValueError(f"{src} has no id column {id_col!r}; columns are {list(table.columns)}")
        return [str(v) for v in table[id_col]]
    others = [c for c in table.columns if c not in exclude]
    return [str(v) for v in table[others[0]]] if others else [str(i) for i in range(len(table))]


def _as_float(values, src: Path, what: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{src}: {what} must be numbers: {exc}") from None


def _long_curves(table: pd.DataFrame, src: Path, id_col, epoch_col, value_col) -> CurveTable:
    if epoch_col not in table.columns:
        raise ValueError(f"{src} has no epoch column {epoch_col!r}; columns are {list(table.columns)}")
    rest = [c for c in table.columns if c != epoch_col]
    if id_col is None:
        id_col = rest[0] if rest else None
    if value_col is None:
        others = [c for c in rest if c != id_col]
        numeric = others if len(others) == 1 else [c for c in others if pd.api.types.is_numeric_dtype(table[c])]
        if len(numeric) != 1:
            raise ValueError(f"{src}: name the value column (value_col=); numeric candidates are {numeric}")
        value_col = numeric[0]
    for c in (id_col, value_col):
        if c is None or c not in table.columns:
            raise ValueError(f"{src} has no column {c!r}; columns are {list(table.columns)}")
    epochs = _as_float(table[epoch_col], src, f"epochs ({epoch_col!r})")
    if not np.all(np.isfinite(epochs)) or np.any(epochs < 1) or np.any(epochs != np.round(epochs)):
        raise ValueError(f"{src}: epochs in {epoch_col!r} must be integers >= 1 (1 = after the first epoch)")
    ids = [str(v) for v in table[id_col]]
    pairs = pd.Series(list(zip(ids, epochs.astype(int))))
    if pairs.duplicated().any():
        run, ep = pairs[pairs.duplicated()].iloc[0]
        raise ValueError(f"{src}: run {run!r} has epoch {ep} more than once")
    values = _as_float(table[value_col], src, f"values ({value_col!r})")
    names = list(dict.fromkeys(ids))
    row = {n: i for i, n in enumerate(names)}
    out = np.full((len(names), int(epochs.max())), np.nan)
    out[[row[i] for i in ids], epochs.astype(int) - 1] = values
    return CurveTable(names, out)


def _list_curves(table: pd.DataFrame, src: Path, id_col, column) -> CurveTable:
    if column is None:
        found = [c for c in table.columns if _looks_like_lists(table[c])]
        if len(found) != 1:
            raise ValueError(f"{src}: name the curve column (column=); list-like columns are {found}")
        column = found[0]
    if column not in table.columns:
        raise ValueError(f"{src} has no curve column {column!r}; columns are {list(table.columns)}")
    curves = []
    for i, text in enumerate(table[column]):
        try:
            values = json.loads(str(text).replace("nan", "NaN"))
        except json.JSONDecodeError:
            raise ValueError(f"{src}: row {i} of {column!r} is not a list of numbers: {str(text)[:60]!r}") from None
        curves.append(_as_float(values, src, f"row {i} of {column!r}").reshape(-1))
    width = max((c.size for c in curves), default=0)
    out = np.full((len(curves), width), np.nan)
    for i, c in enumerate(curves):
        out[i, : c.size] = c
    exclude = {c for c in table.columns if _looks_like_lists(table[c])} | {column}
    return CurveTable(_ids(table, src, id_col, exclude), out)


def _wide_curves(table: pd.DataFrame, src: Path, id_col) -> CurveTable:
    epoch_of = {}
    for c in table.columns:
        m = _EPOCH_COLUMN.match(c)
        if m and c != id_col:
            epoch_of[c] = int(m.group(1))
    if not epoch_of:
        raise ValueError(f"{src}: no per-epoch columns (named 1, 2, ... or epoch_1, ...), no 'epoch' column and no list column; "
                         f"columns are {list(table.columns)}")
    if min(epoch_of.values()) < 1 or len(set(epoch_of.values())) != len(epoch_of):
        raise ValueError(f"{src}: epoch columns must name distinct epochs >= 1, got {list(epoch_of)}")
    out = np.full((len(table), max(epoch_of.values())), np.nan)
    for c, e in epoch_of.items():
        out[:, e - 1] = _as_float(table[c], src, f"values of column {c!r}")
    return CurveTable(_ids(table, src, id_col, set(epoch_of)), out)


__all__ = ["CurveTable", "load_curves", "BenchmarkData", "SuiteZeroData", "load_nb201", "load_nasbench_graph", "load_nasbench_suite_zero",
           "NB201_TARGETS", "NBGRAPH_DATASETS"]
