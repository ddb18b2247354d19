"""Warm start from a scored pool: sample many architectures, rank them cheaply, search from the top.

A :class:`Pool` is scored once per run, in **one** estimator call over the
whole pool (or from precomputed proxy scores), so estimators whose scores are
ranks within one list (``zc:ensemble``, tag ``comparable_across_calls=False``)
are used the only way that is meaningful. Strategies then start from its top:
the initial population of evolution, the initial design and candidate set of
BANANAS, the order of random search.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

import archscore
from archscore.arch import Arch
from archscore.base import Estimator, create_estimator
from archscore.predictors.zc_ensemble import ANCHOR_MIN_CORR, ensemble_score
from archscore.proxies import list_proxies, proxy_info
from archscore.store import ScoreStore, fingerprint

logger = logging.getLogger(__name__)


def load_scores(scores: Any) -> pd.DataFrame:
    """Precomputed proxy scores as a DataFrame indexed by architecture string (one column per proxy).

    Accepts what ``archscore score`` writes (a CSV path, or several separated
    by commas, index column ``arch``), a DataFrame indexed by architecture
    string (or with an ``arch`` column), or ``{arch string: {proxy: value}}``.
    """
    if isinstance(scores, pd.DataFrame):
        df = scores.set_index("arch") if "arch" in scores.columns else scores
    elif isinstance(scores, (str, os.PathLike)):
        parts = [Path(p) for p in str(scores).split(",")] if isinstance(scores, str) else [Path(scores)]
        frames = []
        for p in parts:
            if not p.is_file():
                raise FileNotFoundError(f"score file not found: {p}")
            f = pd.read_csv(p)
            if "arch" not in f.columns:
                raise ValueError(f"score file {p} has no 'arch' column (write it with `archscore score`); columns: {list(f.columns)}")
            frames.append(f.set_index("arch"))
        df = pd.concat(frames)
    elif isinstance(scores, Mapping):
        df = pd.DataFrame.from_dict(dict(scores), orient="index")
    else:
        raise TypeError(f"scores must be a DataFrame, a CSV path or a mapping, got {type(scores).__name__}")
    df = df[~df.index.duplicated(keep="first")]
    df.index = df.index.astype(str)
    return df


class Pool:
    """A pool of architectures ranked by an estimator or by precomputed scores.

    Parameters
    ----------
    size : int, optional
        Architectures in the pool, sampled with the run's seeded generator from
        the evaluator's architectures (or the space). With ``scores``, sampled
        from the scored architectures; None takes all of them.
    estimator : str or Estimator, optional
        Ranks the pool in one ``predict`` call (context ``data=`` / ``scores=``
        from :func:`~archscore.search.search`). With precomputed ``scores``, a
        ``zc:ensemble``-like estimator (parameter ``proxies``) or ``zc:<proxy>``
        reads its proxies' columns instead of running them. Default with
        scores: log-rank aggregate of every score column (AZ-NAS rule, as ``zc:ensemble``).
    keep : int, optional
        How many of the top architectures strategies may warm-start from (default all).
    scores : DataFrame, path or mapping, optional
        Precomputed proxy scores (:func:`load_scores`); overrides ``search(scores=...)``.
    store : str, Path or ScoreStore, optional
        Keep the live scores in this score store (:class:`archscore.store.ScoreStore`)
        and reuse them: an architecture already scored with the same settings
        (estimator and its parameters, space, a fingerprint of ``data``,
        archscore version) is never scored again, whatever the run's seed.
        For ``zc:ensemble`` the raw per-proxy scores are stored (one column
        per proxy) and the pool is ranked from them, which gives the ranking
        live scoring gives; other estimators must compare across calls
        (their per-architecture prediction is stored). ``search(store=...)``
        passes its store on when this is None.

    Attributes (after :meth:`rank`)
    -------------------------------
    ranked_ : list of str
        Pool architectures, best first (top ``keep``).
    scores_ : ndarray
        Their pool scores, in the same order.
    seconds_ : float
        Wall time spent scoring the pool (0 for precomputed scores).
    computed_ : int
        Architectures scored by the estimator in this call (with a store: those it did not hold yet).
    beyond_ : set of str
        Architectures outside the sampled pool that :meth:`score` ranked since (e.g. local search's neighbours).
    beyond_seconds_ : float
        Wall time :meth:`score` spent computing scores (a live pool's, or those the precomputed scores lacked).
    """

    def __init__(self, size: int | None = None, estimator: Any = None, keep: int | None = None, scores: Any = None,
                 store: Any = None) -> None:
        self.size = size
        self.estimator = estimator
        self.keep = keep
        self.scores = scores
        self.store = store

    def describe(self) -> dict[str, Any]:
        est = self.estimator if isinstance(self.estimator, (str, type(None))) else repr(self.estimator)
        return {"size": self.size, "estimator": est, "keep": self.keep, "scores": isinstance(self.scores, (str, os.PathLike)) and str(self.scores) or (self.scores is not None)}

    def _estimator(self) -> Estimator | None:
        if self.estimator is None or isinstance(self.estimator, Estimator):
            return self.estimator
        if isinstance(self.estimator, str):
            return create_estimator(self.estimator)
        raise TypeError(f"Pool estimator must be a registered name or an Estimator, got {type(self.estimator).__name__}")

    def rank(self, ctx: Any, data: Any = None, scores: Any = None, store: Any = None) -> list[Arch]:
        """Sample, score (one call) and rank the pool; returns the top ``keep`` architectures best first.

        ``store`` (used when the pool has none) keeps and reuses live scores, see the class docstring.
        """
        for label, v in (("size", self.size), ("keep", self.keep)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
                raise ValueError(f"Pool {label} must be a positive integer, got {v!r}")
        table = load_scores(self.scores if self.scores is not None else scores) if (self.scores is not None or scores is not None) else None
        est = self._estimator()
        if table is None and est is None:
            raise ValueError("a Pool needs an estimator or precomputed scores= to rank its architectures")
        if table is not None:
            names = [s for s in table.index if ctx.allowed is None or s in ctx._allowed_set]
            if not names:
                raise ValueError("none of the scored architectures is among the evaluator's architectures (check the space and the score file)")
            if self.size is not None and self.size > len(names):
                raise ValueError(f"Pool size {self.size} is larger than the {len(names)} scored architectures available")
            if self.size is not None:
                names = [names[i] for i in sorted(ctx.rng.choice(len(names), size=self.size, replace=False))]
            archs = [ctx.arch(s) for s in names]
        else:
            if self.size is None:
                raise ValueError("Pool needs size= (how many architectures to sample and score)")
            avail = ctx.n_allowed()
            if avail is not None and self.size > avail:
                raise ValueError(f"Pool size {self.size} is larger than the {avail} architectures of the "
                                 f"{'table' if ctx.allowed is not None else 'space'}")
            archs = ctx.sample(self.size, exclude_seen=False)
            names = [ctx.key(a) for a in archs]
        t0 = time.perf_counter()
        store = self.store if self.store is not None else store
        self.computed_ = 0 if table is not None else len(archs)
        if table is None and store is not None:
            values = self._score_with_store(est, archs, names, data, store, ctx.space)
        else:
            values = self._score(est, archs, names, table, data)
        self.seconds_ = time.perf_counter() - t0 if table is None else 0.0
        self._table, self._sampled = table, set(names)
        self.beyond_: set[str] = set()
        self.beyond_seconds_ = 0.0
        order = np.argsort(-values, kind="stable")
        keep = len(order) if self.keep is None else min(self.keep, len(order))
        self.ranked_ = [names[i] for i in order[:keep]]
        self.scores_ = values[order[:keep]]
        logger.info("pool: %d architectures ranked (%s), keeping the top %d", len(names),
                    "precomputed scores" if table is not None else type(est).__name__, keep)
        return [archs[i] for i in order[:keep]]

    def _estimator_name(self, est: Estimator) -> str:
        return self.estimator if isinstance(self.estimator, str) else f"{type(est).__module__}.{type(est).__qualname__}"

    def _score_with_store(self, est: Estimator, archs: list[Arch], names: list[str], data: Any, store: Any,
                          space: Any) -> np.ndarray:
        """Live scores through a score store: compute only what it lacks for these settings, rank from what it holds."""
        tags = est.get_tags()
        if tags.input.needs_data and data is None:
            raise ValueError(f"the pool estimator {type(est).__name__} needs data=(inputs, targets) (or pass precomputed scores=)")
        params = json.loads(json.dumps(est.get_params(), sort_keys=True, default=repr))
        per_proxy = self._per_proxy(est)
        if not per_proxy and not tags.output.comparable_across_calls:
            raise ValueError(f"{type(est).__name__} ranks within one predict call, so its pool scores cannot be kept in a "
                             "store and reused; drop store= (or use zc:ensemble, whose raw proxy scores are stored)")
        columns = list(params["proxies"]) if per_proxy else ["score"]
        stored, self.computed_ = self._stored(est, archs, names, data, store, space, columns)
        if per_proxy:
            return np.asarray(est.predict(archs, scores=stored), dtype=float)
        return stored["score"].reindex(names).to_numpy(dtype=float)

    @staticmethod
    def _per_proxy(est: Estimator | None) -> bool:
        """An ensemble of named proxies that can compute its raw per-proxy scores (``zc:ensemble``)."""
        return est is not None and callable(getattr(est, "proxy_scores", None)) and "proxies" in est.get_params()

    def _stored(self, est: Estimator, archs: list[Arch], names: list[str], data: Any, store: Any, space: Any,
                columns: list[str]) -> tuple[pd.DataFrame, int]:
        """``columns`` (raw proxy scores, or ``["score"]``) of ``names`` from the store, computing what it lacks first.

        Returns the frame and how many architectures had to be computed.
        """
        params = json.loads(json.dumps(est.get_params(), sort_keys=True, default=repr))
        per_proxy = columns != ["score"]
        name = self._estimator_name(est)
        settings = {"kind": "search-pool", "space": space.name, "estimator": name,
                    "params": {k: v for k, v in params.items() if not (per_proxy and k in ("proxies", "method", "progress"))},
                    "batch": fingerprint(*data) if data is not None else None, "archscore": archscore.__version__}
        own = not isinstance(store, ScoreStore)
        db = ScoreStore(store) if own else store
        try:
            sid = db.settings_id(settings)
            todo = db.missing(sid, names, columns)
            by_name = dict(zip(names, archs))
            if todo:
                logger.info("pool: %d of %d architectures not yet in %s; scoring them", len(todo), len(names), db.path)
                need = [by_name[n] for n in todo]
                if per_proxy:
                    wanted = [c for c in columns if any(c in left for left in todo.values())]
                    frame = est.proxy_scores(need, data, proxies=wanted)
                    for n, (_, row) in zip(todo, frame.iterrows()):
                        db.put(sid, n, {c: float(row[c]) for c in todo[n]})
                else:
                    context = {"data": data} if est.get_tags().input.needs_data else {}
                    for n, v in zip(todo, np.asarray(est.predict(need, **context), dtype=float)):
                        db.put(sid, n, {"score": float(v)})
            return db.frame(sid, columns, names), len(todo)
        finally:
            if own:
                db.close()

    def score(self, ctx: Any, archs: list[Arch], data: Any = None, store: Any = None) -> np.ndarray:
        """Rank further architectures (a strategy's candidates) the way the pool was ranked, in one call.

        Call after :meth:`rank`. Higher is better; the values compare only
        within one call (a log-rank aggregate over ``archs`` for
        ``zc:ensemble``). Architectures in the precomputed scores are read
        from them; the others are computed by the pool's estimator on
        ``data`` (kept in and reused from ``store`` when given). Those it
        cannot compute (precomputed scores without an estimator that has
        ``proxy_scores``, or no ``data``) come back NaN, which strategies rank last.
        """
        if not hasattr(self, "_sampled"):
            raise RuntimeError("Pool.score needs the pool ranked first (Pool.rank)")
        if not archs:
            return np.zeros(0)
        names = [ctx.key(a) for a in archs]
        self.beyond_.update(n for n in names if n not in self._sampled)
        est = self._estimator()
        store = self.store if self.store is not None else store
        table = self._table
        if table is None:  # a live pool: its estimator scores the candidates (through the store when given)
            t0 = time.perf_counter()
            if store is not None:
                values = self._score_with_store(est, archs, names, data, store, ctx.space)
            else:
                values = self._score(est, archs, names, None, data)
            self.beyond_seconds_ += time.perf_counter() - t0
            return values
        lacking = sorted({n for n in names if n not in table.index})
        if lacking:
            if not (self._per_proxy(est) and data is not None):
                logger.info("pool: %d candidates have no precomputed scores and the pool cannot compute them "
                            "(needs an estimator with proxy_scores and data=); they rank last", len(lacking))
                out = np.full(len(archs), np.nan)
                known = [i for i, n in enumerate(names) if n in table.index]
                if known:
                    out[known] = self._score(est, [archs[i] for i in known], [names[i] for i in known], table, data)
                return out
            cols = list(est.get_params()["proxies"])
            by_name = dict(zip(names, archs))
            need = [by_name[n] for n in lacking]
            t0 = time.perf_counter()
            if store is not None:
                new = self._stored(est, need, lacking, data, store, ctx.space, cols)[0]
            else:
                new = est.proxy_scores(need, data, proxies=cols)
                new.index = lacking
            self.beyond_seconds_ += time.perf_counter() - t0
            # kept for the rest of the run: a candidate is computed once however often it is ranked
            self._table = table = pd.concat([table, new.reindex(columns=table.columns)])
        return self._score(est, archs, names, table, data)

    @staticmethod
    def _score(est: Estimator | None, archs: list[Arch], names: list[str], table: pd.DataFrame | None, data: Any) -> np.ndarray:
        if table is None:
            context = {"data": data} if est.get_tags().input.needs_data else {}
            if est.get_tags().input.needs_data and data is None:
                raise ValueError(f"the pool estimator {type(est).__name__} needs data=(inputs, targets) (or pass precomputed scores=)")
            # the whole pool in ONE call: ranking-within-a-list estimators (zc:ensemble) are only meaningful so
            return np.asarray(est.predict(archs, **context), dtype=float)
        params = est.get_params() if est is not None else {}
        if est is None or "proxies" in params:
            cols = list(params.get("proxies") or table.columns)
            method = params.get("method", "log_rank")
        elif "proxy" in params:
            cols, method = [params["proxy"]], "mean_rank"
        else:
            return np.asarray(est.predict(archs, scores=table), dtype=float)
        missing = [c for c in cols if c not in table.columns]
        if missing:
            raise ValueError(f"the score file has no column for {missing}; columns: {list(table.columns)}")
        known = set(list_proxies())
        sub = table.loc[names, cols]
        direction = {c: bool(proxy_info(c)["higher_is_better"]) for c in cols if c in known}
        valid = [a.is_connected() for a in archs]
        return ensemble_score({c: sub[c].to_numpy(dtype=float) for c in cols}, direction, valid=valid, method=method,
                              anchor=params.get("anchor"), anchor_min_corr=float(params.get("anchor_min_corr", ANCHOR_MIN_CORR)))
