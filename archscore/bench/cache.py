"""The score cache of the applications: proxy scores per (cell, settings), resumable.

One append-only JSON-lines file; each line is
``{"key": ..., "arch": cell, "scores": {proxy: value}, ...extra}``, where the
key hashes the cell together with every setting the scores depend on (batch,
seeds, network, space options, proxy set, code version). A run that is
interrupted loses at most the line being written, and a rerun with the same
settings finds every finished cell; other settings never see them.

Used by ``archscore bench proxies`` (``OUT/scores.jsonl``) and ``archscore
score`` (``OUT.cache.jsonl`` beside its CSV). The interface is deliberately
small (:meth:`ScoreCache.get`, :meth:`~ScoreCache.put`,
:meth:`~ScoreCache.resume`, :meth:`~ScoreCache.records`) so that a database
can replace the file later.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

logger = logging.getLogger(__name__)


class ScoreCache:
    """Scores of cells under one fixed set of settings, stored in a JSON-lines file.

    Parameters
    ----------
    path : Path
        The file (created on the first :meth:`put`; its folder too).
    settings : mapping
        JSON-serialisable settings the scores depend on; part of every key.
    """

    def __init__(self, path: Path, settings: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.settings = dict(settings)
        self._tag = json.dumps(self.settings, sort_keys=True)
        self._records: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            with self.path.open() as fh:
                for lineno, line in enumerate(fh, 1):
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        rec = json.loads(line)
                        self._records[rec["key"]] = rec
                    except (json.JSONDecodeError, KeyError, TypeError):  # a line cut by an interrupted run
                        logger.warning("skipping unreadable line %d of %s", lineno, self.path)
        elif self.path.exists():
            raise ValueError(f"score cache {self.path} exists but is not a file")

    def key(self, cell: str) -> str:
        """The record key of ``cell`` under this cache's settings."""
        return hashlib.sha1(f"{cell}|{self._tag}".encode()).hexdigest()

    def get(self, cell: str) -> dict[str, Any] | None:
        """The stored record of ``cell`` (``{"arch", "scores", ...}``), or None."""
        return self._records.get(self.key(cell))

    def put(self, cell: str, scores: Mapping[str, float], **extra: Any) -> dict[str, Any]:
        """Store (append) the scores of ``cell``; ``extra`` fields are kept in the record."""
        rec = {"key": self.key(cell), "arch": cell, **extra, "scores": {p: float(v) for p, v in scores.items()}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")  # NaN and inf round-trip through Python's json
        self._records[rec["key"]] = rec
        return rec

    def resume(self, cells: Iterable[str]) -> list[str]:
        """The cells of ``cells`` (order kept) that have no record yet."""
        return [c for c in cells if self.key(c) not in self._records]

    def records(self) -> list[dict[str, Any]]:
        """Every record under this cache's settings, in the order first stored."""
        mine = {self.key(r["arch"]) for r in self._records.values() if "arch" in r}
        return [r for k, r in self._records.items() if k in mine]


def fingerprint(*arrays: Any) -> str:
    """Short hash of arrays or tensors (e.g. the scoring batch), for cache settings."""
    h = hashlib.sha1()
    for a in arrays:
        if hasattr(a, "detach"):  # a torch tensor
            a = a.detach().cpu().numpy()
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]
