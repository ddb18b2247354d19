"""Loader for NASLib's NAS-Bench-Suite-Zero zero-cost files (NB101, NB301, TransNAS-Bench-101 micro/macro).

NAS-Bench-Suite-Zero (Krishnakumar, White, Zela, Tu, Safari & Hutter, NeurIPS
2022 Datasets and Benchmarks) released, per search space, a JSON file of
zero-cost proxy scores that NASLib computed on the space's network, with the
benchmark's validation metric:

* ``zc_nasbench101.json``: ``{"nasbench101": {"cifar10": {key: record}}}``,
  each proxy a plain number;
* ``zc_nasbench301.json``: ``{"cifar10": {key: record}}``;
* ``zc_transbench101_micro.json`` / ``..._macro.json``: ``{task: {key: record}}``.

Outside NB101 a proxy is ``{"score": value, "time": seconds}``. The space is
recognised from the file's layout and keys (or given with ``space=``); keys
are NASLib's compact encodings, parsed by each space's ``from_string``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from archscore.arch import Arch
from archscore.registry import unknown_choice_error
from archscore.spaces.base import SearchSpace
from archscore.spaces.darts import NB301Space
from archscore.spaces.nb101 import NB101Space
from archscore.spaces.tnb101 import TNB101MacroSpace, TNB101MicroSpace

#: Space name -> class, for the spaces whose Suite-Zero files this module reads.
NASLIB_SPACES: dict[str, type[SearchSpace]] = {
    "nb101": NB101Space,
    "nb301": NB301Space,
    "tnb101_micro": TNB101MicroSpace,
    "tnb101_macro": TNB101MacroSpace,
}
#: Record fields that are not proxy scores.
_NOT_PROXIES = frozenset({"val_accuracy", "idx", "arch"})


class NaslibZC(NamedTuple):
    """``(archs, scores, values)`` from a Suite-Zero file, plus the space and a table.

    Unpacks as a 3-tuple: ``archs, scores, values = load_naslib_zc(path)``.
    """

    archs: list[Arch]
    #: ``{space string: {proxy: score}}``, usable as ``scores=`` (see :mod:`archscore.encodings.zc`).
    scores: dict[str, dict[str, float]]
    #: ``val_accuracy`` per architecture (the task's validation metric), NaN when absent.
    values: np.ndarray

    @property
    def space(self) -> str:
        return self.archs[0].space if self.archs else ""


def _detect(raw: dict, path: Path) -> tuple[str, dict[str, dict]]:
    """(space name, {task: {key: record}}) from the file's layout."""
    if "nasbench101" in raw and isinstance(raw["nasbench101"], dict):
        return "nb101", raw["nasbench101"]
    tasks = {t: recs for t, recs in raw.items() if isinstance(recs, dict)}
    if not tasks:
        raise ValueError(f"{path} does not look like a NAS-Bench-Suite-Zero file: top-level keys {list(raw)[:10]}")
    key = next(iter(next(iter(tasks.values()))), "")
    if key.lstrip().startswith(("[[", "((")):
        return "nb301", tasks
    for kind in ("macro", "micro"):
        if kind in path.name.lower():
            return f"tnb101_{kind}", tasks
    # no hint in the name: macro keys are 4-6 module codes (1..4) padded with zeros; micro keys rarely all parse so
    macro = TNB101MacroSpace()
    try:
        for recs in tasks.values():
            for k in recs:
                macro.from_string(k)
    except ValueError:
        return "tnb101_micro", tasks
    return "tnb101_macro", tasks


def load_naslib_zc(path: str | os.PathLike, task: str | None = None, space: str | None = None) -> NaslibZC:
    """Load a NAS-Bench-Suite-Zero zero-cost file.

    Parameters
    ----------
    path : path-like
        The JSON file (any of the four spaces; the ``_dev`` shares load too).
    task : str, optional
        The dataset/task inside the file. Required when the file holds
        several (TransNAS-Bench-101: ``class_scene``, ``class_object``,
        ``jigsaw``, ``room_layout``, ``segmentsemantic``, ``normal``,
        ``autoencoder``); optional for single-dataset files (NB101, NB301:
        ``cifar10``).
    space : str, optional
        ``"nb101"``, ``"nb301"``, ``"tnb101_micro"`` or ``"tnb101_macro"``;
        recognised from the file when omitted.

    Returns
    -------
    NaslibZC
        ``archs`` in file order (spaces ``nb101``, ``nb301``,
        ``tnb101_micro``, ``tnb101_macro``), ``scores`` ``{space string:
        {proxy: score}}`` (pass as ``scores=``; NASLib's per-proxy ``time``
        is dropped) and ``values`` (``val_accuracy``).

    Raises
    ------
    ValueError
        A file of another shape, a task that is not in the file (the message
        lists the file's tasks), a missing ``task`` for a multi-task file, or
        a malformed key (the message names the key and the expected form).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"NAS-Bench-Suite-Zero file not found: {p}")
    with open(p) as fh:
        raw = json.load(fh)
    if not isinstance(raw, dict):
        raise ValueError(f"{p} holds a {type(raw).__name__}; a NAS-Bench-Suite-Zero file is a JSON object")
    detected, tasks = _detect(raw, p)
    if space is None:
        space = detected
    elif space not in NASLIB_SPACES:
        raise unknown_choice_error("NAS-Bench-Suite-Zero space", space, tuple(NASLIB_SPACES))
    if task is None:
        if len(tasks) != 1:
            raise ValueError(f"{p.name} holds {len(tasks)} tasks; pass task= one of: {', '.join(tasks)}")
        task = next(iter(tasks))
    elif task not in tasks:
        raise ValueError(f"task {task!r} is not in {p.name}; its tasks are: {', '.join(tasks)}")
    sp = NASLIB_SPACES[space]()
    archs: list[Arch] = []
    scores: dict[str, dict[str, float]] = {}
    values: list[float] = []
    for key, rec in tasks[task].items():
        if not isinstance(rec, dict):
            raise ValueError(f"entry {key!r} of {p.name} is a {type(rec).__name__}, expected {{proxy: score, ..., 'val_accuracy': a}}")
        try:
            arch = sp.from_string(key)
        except ValueError as exc:
            raise ValueError(f"bad {space} key in {p.name} (task {task!r}): {exc}") from exc
        name = sp.to_string(arch)
        if name in scores:
            raise ValueError(f"{p.name} (task {task!r}) lists the architecture {name!r} twice (second time as key {key!r})")
        row = {}
        for proxy, val in rec.items():
            if proxy in _NOT_PROXIES:
                continue
            if isinstance(val, dict):
                val = val.get("score")
            if isinstance(val, (int, float)) and not isinstance(val, bool):
                row[proxy] = float(val)
        archs.append(arch)
        scores[name] = row
        acc = rec.get("val_accuracy")
        values.append(float(acc) if isinstance(acc, (int, float)) and not isinstance(acc, bool) else float("nan"))
    return NaslibZC(archs, scores, np.asarray(values, dtype=float))


def naslib_table(data: NaslibZC) -> pd.DataFrame:
    """The scores and values as a DataFrame indexed by the space string (also usable as ``scores=``)."""
    table = pd.DataFrame.from_dict(data.scores, orient="index")
    table.index.name = "arch"
    table["val_accuracy"] = data.values
    return table


__all__ = ["NASLIB_SPACES", "NaslibZC", "load_naslib_zc", "naslib_table"]
