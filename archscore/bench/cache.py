"""The applications' score cache: a thin view of a :class:`archscore.store.ScoreStore` under fixed settings.

``ScoreCache(path, settings)`` gives ``get``/``put``/``resume``/``records`` by
architecture string for one settings object (batch fingerprint, seeds,
network, space options, proxy set, code version, ...): a rerun with the same
settings finds every finished cell, other settings never see them, and each
``put`` is one SQLite transaction (see :mod:`archscore.store` for the fault
guarantees). Used by ``archscore bench proxies`` (``OUT/scores.db``); the
``archscore score`` command uses the store directly.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Iterable, Mapping

from archscore.store import ScoreStore, fingerprint

__all__ = ["ScoreCache", "fingerprint"]

logger = logging.getLogger(__name__)


class ScoreCache:
    """Scores of cells under one fixed set of settings, kept in a score store.

    Parameters
    ----------
    path : str or Path
        The store file (created with its folder when absent).
    settings : mapping
        JSON-serialisable settings the scores depend on; part of every key.
    """

    def __init__(self, path: str | os.PathLike, settings: Mapping[str, Any]) -> None:
        self.store = ScoreStore(path)
        self.path = self.store.path
        self.settings = dict(settings)
        self._sid = self.store.settings_id(self.settings)

    def get(self, cell: str) -> dict[str, Any] | None:
        """The stored record of ``cell`` (``{"arch", "scores", ...extra}``; NaN for a failed proxy), or None."""
        rows = self.store.get(self._sid, cell)
        if not rows:
            return None
        extra = next(iter(rows.values()))["extra"]
        return {"arch": cell, **extra, "scores": {p: r["value"] for p, r in rows.items()}}

    def put(self, cell: str, scores: Mapping[str, float], **extra: Any) -> dict[str, Any]:
        """Store the scores of ``cell`` (one transaction); ``extra`` JSON fields are kept with them."""
        self.store.put(self._sid, cell, {p: float(v) for p, v in scores.items()}, extra=extra or None)
        return self.get(cell)

    def resume(self, cells: Iterable[str]) -> list[str]:
        """The cells of ``cells`` (order kept) that have no record yet."""
        cells = list(cells)
        done = {r[1] for r in self.store.rows(self._sid)}
        return [c for c in cells if c not in done]

    def records(self) -> list[dict[str, Any]]:
        """Every record under this cache's settings, in the order first stored."""
        cells = list(dict.fromkeys(r[1] for r in self.store.rows(self._sid)))
        return [self.get(c) for c in cells]

    def close(self) -> None:
        self.store.close()
