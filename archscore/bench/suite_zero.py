"""NAS-Bench-Suite-Zero ground truth for the benchmarks' ``--space`` option.

``archscore bench proxies --space X`` and ``archscore bench predictors --space X``
read, for the spaces other than NAS-Bench-201, the development share of
NAS-Bench-Suite-Zero's zero-cost files (``DATA/naslib/``, see the shared data's
README) through :func:`archscore.load_naslib_zc`: per architecture the task's
``val_accuracy`` and the proxies NASLib recorded on that space's network.

The label-free ensemble
-----------------------
``zc:ensemble`` on a Suite-Zero space is the log-rank aggregation of
:func:`archscore.predictors.zc_ensemble.rank_aggregate` over a proxy set
fixed before any label is read: :data:`ENSEMBLE_PROXIES`, the default
``zc:ensemble`` set (meco, jacov, synflow, flops) with NASWOT (``nwot``)
standing in for MeCo, which Suite-Zero did not record (both measure
expressivity from the minibatch's activations), intersected with the proxies
recorded in the file (NB101 has no ``nwot``, TransNAS-Bench-101 no
``synflow``), less the proxies that rank the task's architectures against
``flops`` (Spearman <= 0.2, :func:`archscore.predictors.zc_ensemble.anchored_proxies`,
as ``zc:ensemble`` does). The recorded scores are taken as they are (higher is better),
as Suite-Zero reports their correlations. For comparison the benchmark also
reports an agreement-based set (:func:`agreement_proxies`), also label-free:
the proxies whose mean Spearman with the other recorded proxies, over the
same architectures, is positive.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from archscore.data import resolve_data_file
from archscore.naslib import NaslibZC, load_naslib_zc, naslib_table

#: Space -> its Suite-Zero development file, relative to the shared data folder.
SPACE_FILES: dict[str, str] = {
    "nb101": "naslib/zc_nasbench101_dev.json",
    "nb301": "naslib/zc_nasbench301_dev.json",
    "tnb101_micro": "naslib/zc_transbench101_micro_dev.json",
    "tnb101_macro": "naslib/zc_transbench101_macro_dev.json",
}
SUITE_ZERO_SPACES: tuple[str, ...] = tuple(SPACE_FILES)
#: Spaces the ``--space`` option of the proxy and predictor benchmarks accepts.
BENCH_SPACES: tuple[str, ...] = ("nb201",) + SUITE_ZERO_SPACES
#: The label-free ensemble's proxy set on Suite-Zero spaces (intersected with the recorded ones).
ENSEMBLE_PROXIES: tuple[str, ...] = ("nwot", "jacov", "synflow", "flops")
#: Spaces whose networks ``bench proxies --compute`` scores (CIFAR-10 image classifiers).
COMPUTE_SPACES: tuple[str, ...] = ("nb101", "nb301")


def space_file(space: str, data: str | Path | None, explicit: str | Path | None = None) -> Path:
    """The Suite-Zero file of ``space`` (``explicit`` when given, else ``DATA/naslib/...``)."""
    if space not in SPACE_FILES:
        raise ValueError(f"space {space!r} has no NAS-Bench-Suite-Zero file; expected one of {', '.join(SPACE_FILES)}")
    return resolve_data_file(explicit if explicit is not None else data, SPACE_FILES[space], f"NAS-Bench-Suite-Zero {space} file", option="--zc-file or --data")


def file_tasks(path: Path) -> list[str]:
    """The tasks (datasets) held by a Suite-Zero file, in file order."""
    with open(path) as fh:
        raw = json.load(fh)
    if isinstance(raw, dict) and isinstance(raw.get("nasbench101"), dict):
        raw = raw["nasbench101"]
    if not isinstance(raw, dict):
        raise ValueError(f"{path} does not look like a NAS-Bench-Suite-Zero file")
    return [t for t, recs in raw.items() if isinstance(recs, dict)]


def resolve_tasks(text: str | None, path: Path) -> list[str]:
    """``--task`` (comma-separated; None or ``all`` = every task of the file), checked against the file."""
    available = file_tasks(path)
    if text is None or text.strip() == "all":
        return available
    tasks = [t.strip() for t in text.split(",") if t.strip()]
    if not tasks:
        raise ValueError("--task is empty; expected task names or 'all'")
    bad = [t for t in tasks if t not in available]
    if bad:
        raise ValueError(f"task {bad[0]!r} is not in {path.name}; its tasks are: {', '.join(available)}")
    return tasks


def load_task(space: str, path: Path, task: str) -> tuple[NaslibZC, pd.DataFrame]:
    """The file's records of one task: the loader's tuple and its table (proxies + ``val_accuracy``)."""
    data = load_naslib_zc(path, task=task, space=space)
    return data, naslib_table(data)


def complete_rows(table: pd.DataFrame) -> np.ndarray:
    """Rows whose ``val_accuracy`` and every proxy column are finite (a mask)."""
    return np.isfinite(table.to_numpy(dtype=float)).all(axis=1)


def recorded_proxies(table: pd.DataFrame) -> list[str]:
    """The proxy columns of a table, in file order, that vary over its rows (a constant proxy ranks nothing)."""
    return [c for c in table.columns if c != "val_accuracy" and table[c].nunique(dropna=True) > 1]


def ensemble_proxies(available: Sequence[str]) -> list[str]:
    """:data:`ENSEMBLE_PROXIES` that are recorded (the fixed, label-free set)."""
    return [p for p in ENSEMBLE_PROXIES if p in available]


def agreement_proxies(table: pd.DataFrame, proxies: Sequence[str]) -> list[str]:
    """The proxies whose mean Spearman with the other ``proxies`` (over the table's rows) is positive.

    Label-free: ``val_accuracy`` is not read. Each pair's correlation uses the
    rows where both are defined.
    """
    proxies = list(proxies)
    if len(proxies) < 2:
        return proxies
    corr = table[proxies].rank().corr(method="pearson").to_numpy(copy=True)
    np.fill_diagonal(corr, np.nan)
    mean = np.nanmean(corr, axis=1)
    return [p for p, m in zip(proxies, mean) if m > 0]


__all__ = ["SPACE_FILES", "SUITE_ZERO_SPACES", "BENCH_SPACES", "ENSEMBLE_PROXIES", "COMPUTE_SPACES", "space_file", "file_tasks",
           "resolve_tasks", "load_task", "complete_rows", "recorded_proxies", "ensemble_proxies", "agreement_proxies"]
